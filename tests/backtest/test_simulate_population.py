"""Per-scenario cash-flow schedules (a member per scenario) and leakage, on both engines.

``simulate(..., cash_flows=...)`` takes ``backtest.cashflows.CashFlowRules`` whose
schedules are shared (T,) or per scenario (n, T); a population of identical members must
reduce exactly to one member, and a member who differs must match that member alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from backtest.cashflows import CashFlowRules, cash_flow_rules
from backtest.errors import PlanError
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.scenarios import Scenarios
from backtest.simulate import SimulationResult, simulate
from strategies.base import RebalanceRule
from tests.backtest.reference_sim import constant_mix

PATHS = (
    "wealth",
    "contributions",
    "withdrawals",
    "withdrawals_wanted",
    "fees",
    "costs",
    "gains",
    "leakage",
    "turnover",
    "portfolio_returns",
    "ruin_period",
)


def _case(ppy: int = 1, timing: str = "split", rate: float | None = 0.045):
    rng = np.random.default_rng(7 + ppy)
    plan = Plan(
        55.0,
        60.0,
        80.0,
        150_000.0,
        contributions=Contributions(60_000, 0.1, 0.01, 0.5, 0.06, timing="end"),
        withdrawal=ConstantReal(
            rate=rate, amount=None if rate is not None else 20_000.0, timing=timing
        ),  # type: ignore[arg-type]
        expense_ratio=0.004,
        transaction_cost_bps=5.0,
    )
    n_t = plan.n_periods(ppy)
    n = 70  # more than the kernel's block of 64 lanes, not a multiple of it
    sc = Scenarios(
        rng.normal(0.05 / ppy, 0.15 / np.sqrt(ppy), (n, n_t, 3)),
        rng.normal(0.025 / ppy, 0.01 / np.sqrt(ppy), (n, n_t)),
        ("a", "b", "c"),
        ("annual", "monthly")[ppy == 12],
    )
    mix = constant_mix(("a", "b", "c"), (0.5, 0.3, 0.2), RebalanceRule("band", band=0.05))
    return sc, plan, mix


def _assert_same(a: SimulationResult, b: SimulationResult, rows=slice(None)) -> None:
    for name in PATHS:
        np.testing.assert_array_equal(getattr(a, name)[rows], getattr(b, name), err_msg=name)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("ppy", [1, 12])
def test_a_population_of_identical_members_is_one_member_exactly(engine: str, ppy: int) -> None:
    sc, plan, mix = _case(ppy)
    one = simulate(sc, plan, mix, engine=engine)  # type: ignore[arg-type]
    rules = cash_flow_rules(plan, ppy)
    n = sc.n_scenarios
    many = rules.with_schedules(
        contributions=np.tile(rules.contributions, (n, 1)),
        spending=np.tile(rules.spending, (n, 1)),
        leakage=np.zeros((n, rules.n_periods)),
    )
    assert many.n_members == n
    pop = simulate(sc, plan, mix, cash_flows=many, engine=engine)  # type: ignore[arg-type]
    _assert_same(pop, one)  # the same operations on the same numbers: bit for bit


def _members(rules: CashFlowRules, n: int) -> CashFlowRules:
    """Members who differ: contributions scaled, spending scaled, a cash-out at 57."""
    rng = np.random.default_rng(3)
    t_ret = rules.retirement_period
    leak = np.zeros((n, rules.n_periods))
    leak[::3, max(t_ret - 3 * rules.periods_per_year, 0)] = 0.3  # one member in three
    return rules.with_schedules(
        contributions=rules.contributions * rng.uniform(0.0, 2.0, (n, 1)),
        spending=rules.spending * rng.uniform(0.5, 1.5, (n, 1)),
        leakage=leak,
    )


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize(("ppy", "rate"), [(1, 0.045), (12, None)])
def test_a_member_who_differs_matches_that_member_alone(
    engine: str, ppy: int, rate: float | None
) -> None:
    sc, plan, mix = _case(ppy, rate=rate)
    rules = _members(cash_flow_rules(plan, ppy), sc.n_scenarios)
    pop = simulate(sc, plan, mix, cash_flows=rules, engine=engine)  # type: ignore[arg-type]
    assert pop.leakage[::3].sum() > 0 and not pop.leakage[1::3].any()
    for k in (0, 1, 65):
        alone = rules.with_schedules(
            contributions=rules.contributions[k],
            spending=rules.spending[k],
            leakage=rules.leakage[k],
        )
        one = simulate(sc.take(slice(k, k + 1)), plan, mix, cash_flows=alone, engine=engine)  # type: ignore[arg-type]
        _assert_same(pop, one, rows=slice(k, k + 1))


@pytest.mark.parametrize("ppy", [1, 12])
def test_engines_agree_on_per_scenario_schedules(ppy: int) -> None:
    sc, plan, mix = _case(ppy, timing="end")
    rules = _members(cash_flow_rules(plan, ppy), sc.n_scenarios)
    ref = simulate(sc, plan, mix, cash_flows=rules, engine="numpy")
    fast = simulate(sc, plan, mix, cash_flows=rules, engine="numba")
    np.testing.assert_array_equal(fast.ruin_period, ref.ruin_period)
    # Same events in the same order: round-off only, relative to each path's scale.
    scale = np.maximum(1.0, np.abs(ref.wealth).max(axis=1, keepdims=True))
    for name in PATHS[:-3]:
        a, b = getattr(fast, name), getattr(ref, name)
        np.testing.assert_allclose(a / scale, b / scale, rtol=0, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_leakage_by_hand_and_the_accounting_identity(engine: str) -> None:
    # Zero returns and inflation, 100 USD, 1,000 a year contributed at the end of each
    # year: a quarter cashed out at the start of year 2 (age 41), so 1,100 * 0.25 = 275.
    sc = Scenarios(np.zeros((2, 3, 1)), np.zeros((2, 3)), ("a",), "annual")
    plan = Plan(40, 43, 43, 100.0, contributions=Contributions(10_000, 0.1))
    rules = cash_flow_rules(plan, 1).with_schedules(leakage=np.array([[0, 0.25, 0], [0, 0, 0]]))
    res = simulate(sc, plan, constant_mix(("a",), (1.0,)), cash_flows=rules, engine=engine)  # type: ignore[arg-type]
    np.testing.assert_allclose(res.leakage, [[0, 275, 0], [0, 0, 0]], rtol=1e-15)
    np.testing.assert_allclose(res.wealth[:, -1], [2_825, 3_100], rtol=1e-15)
    flows = res.contributions - res.withdrawals - res.leakage - res.fees - res.costs + res.gains
    np.testing.assert_allclose(np.diff(res.wealth, axis=1), flows, rtol=0, atol=1e-12)


def test_schedules_are_validated_with_a_clear_error() -> None:
    sc, plan, mix = _case(1)
    rules = cash_flow_rules(plan, 1)
    t_ret, n_t = rules.retirement_period, rules.n_periods
    with pytest.raises(PlanError, match="expected"):
        rules.with_schedules(contributions=np.zeros(n_t + 1))
    with pytest.raises(PlanError, match="leakage must be 0 from the retirement"):
        rules.with_schedules(leakage=np.full(n_t, 0.1))
    with pytest.raises(PlanError, match="spending must be 0 before"):
        rules.with_schedules(spending=np.ones(n_t))
    with pytest.raises(PlanError, match="NaN"):
        rules.with_schedules(contributions=np.full(n_t, np.nan))
    bad = np.zeros((5, n_t))
    bad[:, :t_ret] = 1.0
    with pytest.raises(PlanError, match="5 members but there are 70 scenarios"):
        simulate(sc, plan, mix, cash_flows=rules.with_schedules(contributions=bad))
    with pytest.raises(PlanError, match="periods a year"):
        simulate(sc, plan, mix, cash_flows=cash_flow_rules(plan, 12))


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_chunked_population_matches_one_big_run(engine: str) -> None:
    from backtest.simulate import simulate_chunked

    sc, plan, mix = _case(1)
    rules = _members(cash_flow_rules(plan, 1), sc.n_scenarios)
    full = simulate(sc, plan, mix, cash_flows=rules, engine=engine)  # type: ignore[arg-type]
    cuts = [slice(0, 30), slice(30, sc.n_scenarios)]
    per_chunk = [
        rules.with_schedules(
            contributions=rules.contributions[c],
            spending=rules.spending[c],
            leakage=rules.leakage[c],
        )
        for c in cuts
    ]
    chunks = [sc.take(c) for c in cuts]
    summary = simulate_chunked(chunks, plan, mix, cash_flows=per_chunk, engine=engine)  # type: ignore[arg-type]
    # the same simulation, scenario by scenario: bit for bit
    np.testing.assert_array_equal(summary.terminal_wealth, full.terminal_wealth)
    np.testing.assert_array_equal(summary.ruin_period, full.ruin_period)
    with pytest.raises(PlanError, match="ran out at chunk 2"):
        simulate_chunked(chunks, plan, mix, cash_flows=per_chunk[:1], engine=engine)  # type: ignore[arg-type]
