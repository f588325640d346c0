"""Tests of the optimizer's baselines, the i.i.d. quality bar and ``glidelab optimize``."""

from __future__ import annotations

import numpy as np
import pytest

from optimize.baselines import (
    constant_mix,
    constant_mix_grid,
    differential_evolution_search,
    evaluate_presets,
)
from optimize.glidepath import success_probability
from optimize.validation import iid_scenarios, lifecycle_plan, sanity_check


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
