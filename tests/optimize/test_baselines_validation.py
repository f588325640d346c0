"""Tests of the optimizer's baselines, the i.i.d. quality bar and ``glidelab optimize``."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.plan import ConstantReal, Plan
from optimize.baselines import (
    constant_mix,
    constant_mix_grid,
    differential_evolution_search,
    evaluate_presets,
    four_knot_ages,
)
from optimize.glidepath import success_probability
from optimize.validation import iid_scenarios, lifecycle_plan, sanity_check
from strategies import preset


def test_constant_mix_grid_and_presets_score_with_the_engine() -> None:
    sc = iid_scenarios(300, 70, rng=5)
    plan = lifecycle_plan()
    grid = constant_mix_grid(sc, plan, "us_stocks", "tbonds_10y", step=0.25)
    np.testing.assert_allclose(grid.equity_shares, [0, 0.25, 0.5, 0.75, 1.0])
    best = constant_mix(grid.best_share, "us_stocks", "tbonds_10y", plan, 1)
    assert success_probability(sc, plan, best) == grid.best_success
    assert grid.best_success == grid.success.max()
    presets = evaluate_presets(sc, plan)
    # two-asset presets run; T-bill and Bitcoin presets are left out on these assets
    assert "vanguard_target_retirement" in presets and "fixed_60_40" in presets
    assert "vol_target_6" not in presets and "btc_sleeve_1" not in presets
    assert all(0.0 <= p <= 1.0 for p in presets.values())


def test_differential_evolution_reports_its_own_success() -> None:
    sc = iid_scenarios(150, 70, rng=6)
    plan = lifecycle_plan()
    res = differential_evolution_search(
        sc, plan, "us_stocks", "tbonds_10y", max_seconds=0.5, max_generations=2, popsize=2, rng=1
    )
    assert len(res.equity_at_knots) == 4 and res.evaluations >= 8
    assert success_probability(sc, plan, res.glide_path) == pytest.approx(res.success)


def test_sanity_bar_iid_no_cash_flows() -> None:
    # Quality bar 1 on a small scenario set: near-constant path, success no lower.
    report = sanity_check(n_scenarios=1500, seed=2)
    assert report.max_equity_gap_pp <= 2.0, report.max_equity_gap_pp
    assert report.optimised_success >= report.best_constant_success
    assert report.passed
    assert 0.2 < report.best_constant_share < 0.8  # an interior optimum, not a corner


def test_preset_baselines_leave_out_smoothing_overlays() -> None:
    """A smoothing reserve shrinks the balance a withdrawal rate applies to: not like for like."""
    import numpy as np

    from backtest.scenarios import Scenarios
    from optimize.baselines import preset_strategies

    sc = Scenarios(np.zeros((2, 3, 2)), np.zeros((2, 3)), ("us_stocks", "tbonds_10y"), "annual")
    presets = preset_strategies(sc)
    assert "fixed_60_40" in presets
    assert "smoothed_60_40" not in presets
    assert all(s.smoothing is None for s in presets.values())


def _retiree_plan() -> Plan:
    """Retires on day one: 65 -> 95, 1,000,000 USD, 45,000 USD a year real (4.5 %)."""
    return Plan(
        start_age=65,
        retirement_age=65,
        end_age=95,
        initial_balance=1_000_000,
        withdrawal=ConstantReal(rate=None, amount=45_000),
    )


@pytest.mark.parametrize(
    ("ages", "ppy", "expected"),
    [
        ((25, 65, 95), 1, [25, 45, 65, 94]),  # saves then spends: the published family
        ((65, 65, 95), 1, [65, 65 + 29 / 3, 65 + 58 / 3, 94]),  # retiree: no accumulation phase
        ((65, 65, 95), 12, np.linspace(65, 95 - 1 / 12, 4)),
        ((25, 65, 65), 1, [25, 38, 51, 64]),  # accumulation only: retires after the end
        ((64, 64, 65), 1, [64]),  # one period, one knot
    ],
)
def test_four_knot_ages_are_distinct_and_increasing(
    ages: tuple[float, float, float], ppy: int, expected: list[float]
) -> None:
    start, retire, end = ages
    knots = four_knot_ages(Plan(start_age=start, retirement_age=retire, end_age=end), ppy)
    np.testing.assert_allclose(knots, expected, atol=1e-12)  # exact arithmetic up to rounding
    assert np.all(np.diff(knots) > 0)


def test_a_retiree_plan_runs_through_every_baseline() -> None:
    sc = iid_scenarios(200, 30, rng=7)
    plan = _retiree_plan()
    grid = constant_mix_grid(sc, plan, "us_stocks", "tbonds_10y", step=0.25)
    assert grid.success.shape == (5,)
    # 4.5 % a year for 30 years: all-bond mixes fail more often than balanced ones
    assert grid.success.max() > grid.success[0]
    presets = evaluate_presets(sc, plan)
    assert {"vanguard_target_retirement", "fixed_60_40", "risk_parity"} <= set(presets)
    assert presets["fixed_60_40"] == success_probability(sc, plan, preset("fixed_60_40"))
    res = differential_evolution_search(
        sc, plan, "us_stocks", "tbonds_10y", max_seconds=2.0, max_generations=2, popsize=2, rng=1
    )
    np.testing.assert_allclose(res.knot_ages, [65, 65 + 29 / 3, 65 + 58 / 3, 94], atol=1e-12)
    assert len(res.equity_at_knots) == 4
    assert success_probability(sc, plan, res.glide_path) == pytest.approx(res.success)
