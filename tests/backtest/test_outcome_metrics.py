"""The one definition of each outcome metric (backtest.outcomes), and its callers agree."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtest import metrics, outcomes
from backtest.crypto.surface import expected_shortfall
from backtest.data import load_history
from backtest.errors import DataError
from backtest.generators import block_bootstrap
from backtest.metrics import (
    WEALTH_PERCENTILES,
    percentile_columns,
    ruin_ages,
    success_rate,
    survival_weighted_success,
    survivors_at,
    unpaid_years,
    unpaid_years_from_ruin,
    wealth_percentiles,
)
from backtest.mortality import survival_curve
from backtest.plan import ConstantReal, Plan
from backtest.population_eval import cvar as loss_cvar
from backtest.simulate import simulate
from strategies import FixedMix
from tests.backtest.ssa_csv import ssa_rows


def _ssa_q(sex_file: str) -> dict[tuple[int, int], float]:
    """q(x) by (calendar year, age), read straight from the shipped SSA file
    (``tests.backtest.ssa_csv``, independent of backtest.mortality)."""
    return {key: float(row[2]) for key, row in ssa_rows(sex_file).items()}


@pytest.fixture(scope="module")
def female_1960() -> tuple[np.ndarray, list[float]]:
    """Survival curve from 65 of a woman born 1960 (cohort reading), and her q(65..69)."""
    q = _ssa_q("PerLifeTables_F_Alt2_TR2020.csv")
    q65_69 = [q[(1960 + x, x)] for x in range(65, 70)]
    return survival_curve("female", 1960, 65, 30), q65_69


def test_survival_weighted_success_by_hand_from_the_ssa_table(female_1960) -> None:
    curve, q = female_1960
    # The table's own numbers: q(65) in 2025 and q(66) in 2026 for women.
    assert q[:2] == [0.008979, 0.009648]
    alive_70 = math.prod(1 - x for x in q)  # S(70) / S(65)
    alive_67_25 = (1 - q[0]) * (1 - q[1]) * (1 - 0.25 * q[2])  # UDD: l(x + s) = l(x)(1 - s q)
    ruin = np.array([70.0, 67.25, 64.0, 65.0, np.nan])
    got = survival_weighted_success(ruin, 65.0, curve, 65)
    expected = [1 - alive_70, 1 - alive_67_25, 0.0, 0.0, 1.0]
    # The same products, summed in another order: equal to rounding.
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)


def test_fractional_retirement_age_conditions_on_being_alive_then(female_1960) -> None:
    curve, q = female_1960
    # Retiring at 65.5: S(70) / S(65.5), with S(65.5) = S(65)(1 - q(65) / 2).
    got = survival_weighted_success(np.array([70.0]), 65.5, curve, 65)
    want = 1 - math.prod(1 - x for x in q) / (1 - 0.5 * q[0])
    np.testing.assert_allclose(got, [want], rtol=1e-13)


def test_survivors_are_linear_between_whole_ages_and_flat_beyond_the_table() -> None:
    lx = np.array([1.0, 0.9, 0.6])
    np.testing.assert_allclose(
        survivors_at([60, 60.5, 61.25, 62, 90], lx, 60), [1, 0.95, 0.825, 0.6, 0.6]
    )
    per_scenario = np.array([[1.0, 0.5, 0.5], [1.0, 1.0, 0.0]])
    np.testing.assert_allclose(survivors_at(np.array([60.5, 61.5]), per_scenario, 60), [0.75, 0.5])
    with pytest.raises(DataError, match="non-increasing"):
        survivors_at(61.0, np.array([1.0, 1.1]), 60)
    with pytest.raises(DataError, match="start it at or before retirement"):
        survival_weighted_success(np.array([70.0]), 64.0, lx, 65)


def test_ruin_ages_are_the_start_of_the_ruin_period() -> None:
    got = ruin_ages(np.array([-1, 0, 186]), 55.0, 12)
    np.testing.assert_allclose(got, [np.nan, 55.0, 70.5])


def test_success_rate_standard_error_is_binomial_for_zero_one_outcomes() -> None:
    ok = np.array([True] * 30 + [False] * 10)
    sr = success_rate(ok)
    assert (sr.rate, sr.n, sr.n_effective) == (0.75, 40, 40.0)
    assert sr.se == pytest.approx(math.sqrt(0.75 * 0.25 / 40), rel=1e-15)
    # Overlapping historical cohorts: fewer independent scenarios, a larger error.
    assert success_rate(ok, 10).se == pytest.approx(math.sqrt(0.75 * 0.25 / 10), rel=1e-15)
    # Survival-weighted values: the standard deviation of the values over sqrt(n).
    w = np.array([1.0, 0.5, 0.0, 0.5])
    assert success_rate(w).se == pytest.approx(np.std(w) / 2, rel=1e-15)
    with pytest.raises(DataError, match=r"in \[0, 1\]"):
        success_rate(np.array([1.0, 2.0]))
    with pytest.raises(DataError, match="n_effective"):
        success_rate(ok, 41)


def test_unpaid_years_count_partial_periods_by_their_unpaid_share() -> None:
    wanted = np.array([[0.0, 10.0, 10.0, 10.0, 10.0], [0.0, 10.0, 10.0, 10.0, 10.0]])
    paid = np.array([[0.0, 10.0, 4.0, 0.0, 0.0], [0.0, 10.0, 10.0, 10.0, 10.0]])
    np.testing.assert_allclose(unpaid_years(wanted, paid, 1), [2.6, 0.0])
    np.testing.assert_allclose(unpaid_years(wanted, paid, 12), [2.6 / 12, 0.0])
    alive = np.array([1.0, 1.0, 0.9, 0.5, 0.25])
    np.testing.assert_allclose(unpaid_years(wanted, paid, 1, alive), [0.6 * 0.9 + 0.5 + 0.25, 0])
    # From the ruin period alone the ruin year counts whole: 3 years, not 2.6.
    np.testing.assert_allclose(unpaid_years_from_ruin(np.array([2, -1]), 5, 1), [3.0, 0.0])


def test_wealth_percentiles_are_over_scenarios() -> None:
    w = np.arange(101.0)
    np.testing.assert_allclose(wealth_percentiles(w), WEALTH_PERCENTILES)
    paths = np.stack([w, 2 * w], axis=1)
    np.testing.assert_allclose(wealth_percentiles(paths, (10, 90)), [[10, 20], [90, 180]])
    assert percentile_columns(w, "terminal_wealth", (5, 50)) == {
        "terminal_wealth_p5": 5.0,
        "terminal_wealth_p50": 50.0,
    }
    with pytest.raises(DataError, match="percent"):
        wealth_percentiles(w, (0.5, 101))


@pytest.fixture(scope="module")
def monthly_result():
    h = load_history(["us_stocks", "tbonds_10y", "cpi"], "monthly")
    plan = Plan(55, 65.5, 95, 500_000, withdrawal=ConstantReal(rate=None, amount=40_000))
    sc = block_bootstrap(h, ["us_stocks", "tbonds_10y"], 400, plan.n_periods(12), rng=7)
    mix = FixedMix("60/40", ("us_stocks", "tbonds_10y"), (0.6, 0.4))
    res = simulate(sc, plan, mix, engine="numpy")
    assert 0 < (res.ruin_period >= 0).sum() < 400  # some ruined, some not
    return plan, res


def test_every_caller_computes_the_same_survival_weighted_success(monthly_result) -> None:
    from backtest.crypto.surface import survival_weighted_success as surface_sw
    from glidelab.sweep import Mortality
    from glidelab.sweep import survival_weighted_success as sweep_sw
    from optimize.adaptive_eval import success_weights

    plan, res = monthly_result
    one = survival_weighted_success(
        res.ruin_age, plan.retirement_age, survival_curve("male", 1961, 65, 30), 65
    )
    crypto = surface_sw(res.ruin_period, plan, 12, survival_curve("male", 1961, 65, 30))
    ruin_age = np.where(res.ruin_period >= 0, res.ruin_age, plan.end_age)
    sweep = sweep_sw(plan, ruin_age, Mortality(sex="male", birth_year=1961))
    # The adaptive evaluation takes one-year survival from the plan's start age.
    s55 = survival_curve("male", 1961, 55, 40)
    adaptive = success_weights(res, s55[1:] / s55[:-1])
    np.testing.assert_allclose(crypto, one, rtol=1e-12)
    np.testing.assert_allclose(adaptive, one, rtol=1e-12)
    assert sweep == pytest.approx(one.mean(), rel=1e-12)
    # Dying first rescues ruined scenarios, never the reverse.
    assert one.mean() > (res.ruin_period < 0).mean()


def test_unpaid_years_from_ruin_bounds_the_exact_count(monthly_result) -> None:
    from optimize.adaptive_eval import unpaid_years as adaptive_unpaid

    plan, res = monthly_result
    exact = unpaid_years(res.withdrawals_wanted, res.withdrawals, 12)
    bound = unpaid_years_from_ruin(res.ruin_period, plan.n_periods(12), 12)
    np.testing.assert_array_equal(adaptive_unpaid(res), exact)
    assert np.all(exact <= bound + 1e-12) and np.all(bound <= exact + 1 / 12 + 1e-12)
    assert np.all(exact[res.ruin_period < 0] == 0) and np.all(exact[res.ruin_period >= 0] > 0)


def test_tail_mean_is_the_one_cvar_convention() -> None:
    """The tear sheet's return CVaR, the crypto study's wealth ES and the population's CVaR
    of unpaid years are one convention: the worst ceil(n (1 - level)) values."""
    rng = np.random.default_rng(7)
    x = rng.normal(0.05, 0.15, size=2000)  # decimal returns, all above -100 %
    worst_lower = np.sort(x)[:100].mean()
    worst_upper = np.sort(x)[-100:].mean()
    assert outcomes.tail_mean(x, 0.95, "lower") == pytest.approx(worst_lower, rel=1e-15)
    assert metrics.cvar(x, 0.95) == pytest.approx(worst_lower, rel=1e-15)
    assert expected_shortfall(x, 0.95) == pytest.approx(worst_lower, rel=1e-15)
    assert loss_cvar(x, 0.95) == pytest.approx(worst_upper, rel=1e-15)
    # Where n (1 - level) is whole, it is the Rockafellar-Uryasev minimum the optimisers use
    # (rounding only: the two sums add the same numbers in another order).
    c = np.quantile(x, 0.95, method="inverted_cdf")
    ru = c + np.maximum(x - c, 0.0).mean() / 0.05
    assert loss_cvar(x, 0.95) == pytest.approx(ru, rel=1e-12)
    # Where it is not whole, the k-th value counts whole: 98 values at 0.95 -> the worst 5.
    y = np.arange(98.0)
    assert outcomes.tail_mean(y, 0.95, "lower") == pytest.approx(2.0)
    assert outcomes.tail_mean(y, 0.95, "upper") == pytest.approx(95.0)
    with pytest.raises(DataError):
        outcomes.tail_mean(y, 1.0, "lower")


def test_overlapping_cohorts_count_their_non_overlapping_windows() -> None:
    """29 rolling 70-year cohorts of 98 years of data hold 98 / 70 = 1.4 independent
    windows; 69 rolling 30-year cohorts 98 / 30; one cohort is one."""
    from backtest.outcomes import cohort_effective_n

    assert cohort_effective_n(29, 70) == pytest.approx(1.4)
    assert cohort_effective_n(69, 30) == pytest.approx(98 / 30)
    assert cohort_effective_n(1, 30) == 1.0
    assert cohort_effective_n(5, 1) == 5.0  # one-period windows do not overlap
    ok = success_rate(np.r_[np.ones(60), np.zeros(9)].astype(bool), cohort_effective_n(69, 30))
    naive = success_rate(np.r_[np.ones(60), np.zeros(9)].astype(bool))
    assert ok.se == pytest.approx(naive.se * np.sqrt(69 / (98 / 30)))
    with pytest.raises(DataError, match="n_cohorts"):
        cohort_effective_n(0, 30)
