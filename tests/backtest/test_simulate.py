"""Hand-checked cases for the simulator: rules, rebalancing, costs, ruin, success, chunks."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.errors import DataError, PlanError
from backtest.generators import iter_chunks, parametric
from backtest.plan import (
    ConstantReal,
    Contributions,
    FixedPercent,
    FundedRatio,
    GuytonKlinger,
    Plan,
    RequiredMinimum,
)
from backtest.scenarios import Scenarios
from backtest.simulate import simulate, simulate_chunked
from strategies.base import RebalanceRule
from tests.backtest.reference_sim import constant_mix, reference_simulate


def _annual(returns: list[list[float]], inflation: list[float] | None = None) -> Scenarios:
    r = np.asarray(returns, dtype=float)[None]
    i = np.zeros(r.shape[:2]) if inflation is None else np.asarray(inflation, dtype=float)[None]
    return Scenarios(r, i, tuple("ab"[: r.shape[2]]), "annual")


def test_constant_real_ruin_period_and_split_timing() -> None:
    sc = _annual([[0.0]] * 3)
    plan = Plan(65, 65, 68, 1.0, withdrawal=ConstantReal(rate=0.5, timing="start"))
    res = simulate(sc, plan, constant_mix(("a",), (1.0,)))
    np.testing.assert_allclose(res.wealth[0], [1.0, 0.5, 0.0, 0.0], atol=1e-15)
    assert res.ruin_period[0] == 2  # 0.5 + 0.5 paid; the third withdrawal finds nothing
    assert res.ruin_age[0] == 67
    assert not res.success[0]
    # Split: half at the start, half at the end of the year around a +10 % return.
    sc = _annual([[0.10]])
    plan = Plan(65, 65, 66, 100.0, withdrawal=ConstantReal(rate=0.04, timing="split"))
    res = simulate(sc, plan, constant_mix(("a",), (1.0,)))
    np.testing.assert_allclose(res.wealth[0, -1], (100 - 2) * 1.1 - 2, rtol=1e-14)


def test_constant_real_is_raised_with_inflation_and_nominal_variant_is_not() -> None:
    sc = _annual([[0.0], [0.0]], inflation=[0.10, 0.10])
    mix = constant_mix(("a",), (1.0,))
    real = simulate(sc, Plan(65, 65, 67, 100.0, withdrawal=ConstantReal(rate=0.04)), mix)
    np.testing.assert_allclose(real.withdrawals[0], [4.0, 4.0])  # real USD
    nominal = ConstantReal(rate=0.04, indexed=False)
    res = simulate(sc, Plan(65, 65, 67, 100.0, withdrawal=nominal), mix)
    np.testing.assert_allclose(res.withdrawals[0], [4.0, 4.0 / 1.1])  # eroded by CPI
    np.testing.assert_allclose(res.price_index[0], [1.0, 1.1, 1.21])


@pytest.mark.parametrize("engine", ["numpy", "numba", "reference"])
@pytest.mark.parametrize(
    ("timing", "paid_real"),
    [("start", 0.10), ("end", 0.10 / 1.1), ("split", 0.05 + 0.05 / 1.1)],
)
def test_nominal_withdrawal_is_the_same_dollars_whatever_the_timing(
    engine: str, timing: str, paid_real: float
) -> None:
    """Regression: one cash asset at 0 %, 10 % inflation, a nominal (not indexed) 10 %
    rule for one year. She receives 0.10 nominal dollars and holds 0.90, at the start,
    the end or half at each; an end payment was once inflated to 0.11 (split: 0.105).
    The SCP wealth model's twin of this test is in tests/optimize/test_forward_cashflows.py."""
    sc = _annual([[0.0]], inflation=[0.10])
    rule = ConstantReal(rate=0.10, indexed=False, timing=timing)  # type: ignore[arg-type]
    plan = Plan(65, 65, 66, 1.0, withdrawal=rule)
    mix = constant_mix(("a",), (1.0,))
    if engine == "reference":
        ref = reference_simulate([[0.0]], [0.10], [[1.0]], plan, mix.rebalance, 1)
        wealth_real, paid = ref.wealth[-1], sum(ref.withdrawals)
    else:
        res = simulate(sc, plan, mix, engine=engine)  # type: ignore[arg-type]
        wealth_real, paid = res.wealth[0, -1], res.withdrawals[0, 0]
        assert res.wealth_nominal[0, -1] == pytest.approx(0.90, rel=1e-14)
    # The real value of what she received: nominal dollars deflated to the start date.
    np.testing.assert_allclose(paid, paid_real, rtol=1e-14)
    # Holding 0.90 nominal at the end of the year: 0.90 / 1.1 real (1e-14: round-off).
    np.testing.assert_allclose(wealth_real * 1.1, 0.90, rtol=1e-14)


def test_guyton_klinger_skip_and_capital_preservation_by_hand() -> None:
    # Year 1: -20 % nominal, +10 % CPI. Balance (100 - 5) * 0.8 / 1.1 = 69.09 real.
    # Rate 5 / 69.09 = 7.2 % > 5 % after a losing year: the raise is skipped (real amount
    # 5 / 1.1 = 4.545); 4.545 / 69.09 = 6.6 % > 1.2 x 5 %: cut by 10 % -> 4.0909.
    sc = _annual([[-0.20], [0.0], [0.0]], inflation=[0.10, 0.0, 0.0])
    rule = GuytonKlinger(initial_rate=0.05, preservation_off_years=0)
    res = simulate(sc, Plan(65, 65, 68, 100.0, withdrawal=rule), constant_mix(("a",), (1.0,)))
    np.testing.assert_allclose(res.withdrawals[0, :2], [5.0, 5.0 / 1.1 * 0.9], rtol=1e-14)


def test_guyton_klinger_prosperity_rule() -> None:
    sc = _annual([[1.0], [0.0]])  # the balance doubles: rate falls below 0.8 x initial
    rule = GuytonKlinger(initial_rate=0.05)
    res = simulate(sc, Plan(65, 65, 67, 100.0, withdrawal=rule), constant_mix(("a",), (1.0,)))
    np.testing.assert_allclose(res.withdrawals[0], [5.0, 5.5], rtol=1e-14)


def test_required_minimum_uses_the_uniform_lifetime_table() -> None:
    sc = _annual([[0.0], [0.0]])
    res = simulate(
        sc, Plan(80, 80, 82, 100.0, withdrawal=RequiredMinimum()), constant_mix(("a",), (1.0,))
    )
    w1 = 100 / 20.2
    np.testing.assert_allclose(res.withdrawals[0], [w1, (100 - w1) / 19.4], rtol=1e-14)
    # RMD floor on top of a small fixed percentage.
    plan = Plan(80, 80, 81, 100.0, withdrawal=FixedPercent(0.01), rmd_floor=True)
    res = simulate(_annual([[0.0]]), plan, constant_mix(("a",), (1.0,)))
    np.testing.assert_allclose(res.withdrawals[0], [100 / 20.2], rtol=1e-14)


def test_contribution_limit_catch_up_and_match() -> None:
    c = Contributions(
        salary=300_000,
        rate=0.2,
        match_rate=0.5,
        match_cap=0.06,
        annual_limit=23_500,
        catch_up=7_500,
        timing="end",
    )
    sc = _annual([[0.0]] * 2)
    res = simulate(sc, Plan(49, 51, 51, contributions=c), constant_mix(("a",), (1.0,)))
    # age 49: employee capped at 23,500; age 50: 31,000; match 50 % of min(employee, 18,000)
    np.testing.assert_allclose(res.contributions[0], [23_500 + 9_000, 31_000 + 9_000])


def test_monthly_contributions_and_fees() -> None:
    c = Contributions(salary=120_000, rate=0.1, timing="start")
    sc = Scenarios(np.zeros((1, 12, 1)), np.zeros((1, 12)), ("a",), "monthly")
    plan = Plan(30, 31, 31, 0.0, contributions=c, expense_ratio=0.012)
    res = simulate(sc, plan, constant_mix(("a",), (1.0,)))
    np.testing.assert_allclose(res.contributions[0], 1000.0)
    expected = 0.0
    for _ in range(12):
        expected = (expected + 1000.0) * (1 - 0.001)
    np.testing.assert_allclose(res.terminal_wealth[0], expected, rtol=1e-14)


def test_drift_calendar_rebalancing_costs_and_realised_weights() -> None:
    sc = _annual([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    plan = Plan(30, 33, 33, 2.0, transaction_cost_bps=10)
    mix = constant_mix(("a", "b"), (0.5, 0.5), RebalanceRule(kind="calendar", every_months=24))
    res = simulate(sc, plan, mix, record_weights=True)
    assert res.weights is not None
    np.testing.assert_allclose(res.weights[0, 1], [2 / 3, 1 / 3])  # drifted, not due yet
    # t = 2: trade 3 -> 1.5/1.5: value traded 1.0, cost 10 bps of it, one-way turnover 1/6.
    np.testing.assert_allclose(res.costs[0], [0, 0, 0.001], atol=1e-15)
    np.testing.assert_allclose(res.turnover[0], [0, 0, 1 / 6], atol=1e-15)
    np.testing.assert_allclose(res.weights[0, 2], [0.5, 0.5])
    np.testing.assert_allclose(res.terminal_wealth[0], 3 - 0.001)
    np.testing.assert_allclose(res.portfolio_returns[0], [0.5, 0.0, 0.0])


def test_band_rebalancing_triggers_only_outside_the_band() -> None:
    sc = _annual([[0.05, 0.0], [0.5, 0.0], [0.0, 0.0]])
    mix = constant_mix(("a", "b"), (0.5, 0.5), RebalanceRule(kind="band", band=0.05))
    res = simulate(sc, Plan(30, 33, 33, 1.0), mix, record_weights=True)
    assert res.weights is not None
    assert res.turnover[0, 1] == 0  # weight 0.512: inside the 5-point band
    assert res.turnover[0, 2] > 0  # after +50 %: 0.61, outside: rebalanced
    np.testing.assert_allclose(res.weights[0, 2], [0.5, 0.5])


def test_funded_ratio_replacement_and_db_formula() -> None:
    c = Contributions(salary=50_000, rate=0.1)
    sc = _annual([[0.0]] * 40)
    plan = Plan(
        25,
        65,
        65,
        contributions=c,
        success=FundedRatio(replacement_rate=0.7, payout_years=20, discount_rate_real=0.0),
    )
    res = simulate(sc, plan, constant_mix(("a",), (1.0,)))
    # 40 years x 5,000 saved = 200,000 against 0.7 x 50,000 x 20 = 700,000.
    np.testing.assert_allclose(res.funded_ratio, [200_000 / 700_000])
    assert not res.success[0] and res.success_rate == 0.0
    db = FundedRatio(accrual_rate=0.01, final_average_years=3, payout_years=10)
    c2 = Contributions(salary=100.0, rate=0.1, salary_growth_real=0.1)
    plan = Plan(60, 63, 63, contributions=c2, success=db)
    salaries = [100.0, 110.0, 121.0]
    income = np.mean(salaries) * 3 * 0.01
    annuity = sum(1.02**-k for k in range(10))
    assert plan.target_income() == pytest.approx(income, rel=1e-14)
    assert plan.annuity_factor() == pytest.approx(annuity, rel=1e-14)


def test_missing_data_held_is_refused_and_unheld_is_ignored() -> None:
    r = np.array([[[0.1, np.nan], [0.1, 0.2]]])
    sc = Scenarios(r, np.zeros((1, 2)), ("a", "b"), "annual")
    with pytest.raises(DataError, match="no return data"):
        simulate(sc, Plan(30, 32, 32, 1.0), constant_mix(("a", "b"), (0.5, 0.5)))
    res = simulate(sc, Plan(30, 32, 32, 1.0), constant_mix(("a", "b"), (1.0, 0.0)))
    np.testing.assert_allclose(res.terminal_wealth, [1.21])


def test_plan_period_mismatches_are_refused() -> None:
    sc = _annual([[0.0]] * 3)
    with pytest.raises(DataError, match="hold only 3"):
        simulate(sc, Plan(30, 34, 34), constant_mix(("a",), (1.0,)))
    monthly = Scenarios(np.zeros((1, 24, 1)), np.zeros((1, 24)), ("a",), "monthly")
    with pytest.raises(PlanError, match="retirement_age"):
        simulate(monthly, Plan(30, 30.04, 32), constant_mix(("a",), (1.0,)))


def test_simulate_chunked_matches_one_big_run() -> None:
    mean = {"a": 0.05, "cpi": 0.02}
    cov = np.array([[0.04, 0.0], [0.0, 0.0001]])
    plan = Plan(65, 65, 95, 1.0, withdrawal=ConstantReal(rate=0.05, timing="split"))
    mix = constant_mix(("a",), (1.0,))
    kwargs = dict(
        history=None,
        assets=["a"],
        n_periods=30,
        mean_log_annual=mean,
        cov_log_annual=cov,
    )
    chunks = list(iter_chunks(parametric, 250, 100, rng=7, **kwargs))
    summary = simulate_chunked(iter(chunks), plan, mix)
    whole = Scenarios(
        np.concatenate([c.returns for c in chunks]),
        np.concatenate([c.inflation for c in chunks]),
        ("a",),
        "annual",
    )
    res = simulate(whole, plan, mix)
    assert summary.n_scenarios == 250 and summary.n_chunks == 3
    assert summary.success_rate == pytest.approx(res.success_rate, abs=0)
    pct = summary.terminal_percentiles()
    np.testing.assert_allclose(
        list(pct.values()), np.percentile(res.terminal_wealth, [5, 25, 50, 75, 95]), rtol=1e-15
    )
