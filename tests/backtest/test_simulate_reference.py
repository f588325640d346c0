"""The vectorised simulator against the scalar reference, and its invariants (hypothesis)."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest.plan import (
    ConstantReal,
    Contributions,
    FixedPercent,
    GuytonKlinger,
    Plan,
    RequiredMinimum,
)
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from strategies.base import RebalanceRule, SleeveBand
from tests.backtest.reference_sim import TableMix, constant_mix, reference_simulate

ASSETS = ("a", "b", "c")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def plans(draw: st.DrawFn, ppy: int) -> Plan:
    start = float(draw(st.integers(20, 80)))
    work = draw(st.integers(0, 4 if ppy == 1 else 2))
    retire_years = draw(st.integers(1, 6 if ppy == 1 else 3))
    contributions = None
    if work and draw(st.booleans()):
        contributions = Contributions(
            salary=draw(st.floats(1e3, 2e5)),
            rate=draw(st.floats(0, 0.3)),
            salary_growth_real=draw(st.floats(-0.02, 0.05)),
            match_rate=draw(st.floats(0, 1)),
            match_cap=draw(st.floats(0, 0.1)),
            annual_limit=draw(st.one_of(st.none(), st.floats(1e3, 3e4))),
            catch_up=draw(st.floats(0, 8e3)),
            catch_up_age=float(draw(st.integers(20, 90))),
            timing=draw(st.sampled_from(["start", "end"])),
        )
    timing = draw(st.sampled_from(["start", "end", "split"]))
    kind = draw(st.sampled_from(["gk", "constant", "rmd", "amount", "fixed", "none"]))
    withdrawal = {
        "none": None,
        "constant": ConstantReal(
            rate=draw(st.floats(0, 0.5)), indexed=draw(st.booleans()), timing=timing
        ),
        "amount": ConstantReal(rate=None, amount=draw(st.floats(0, 5e4)), timing=timing),
        "fixed": FixedPercent(rate=draw(st.floats(0, 1)), timing=timing),
        "gk": GuytonKlinger(
            initial_rate=draw(st.floats(0.01, 0.2)),
            adjustment=draw(st.floats(0, 0.3)),
            preservation_off_years=float(draw(st.integers(0, 5))),
            timing=timing,
        ),
        "rmd": RequiredMinimum(pre_table_rate=draw(st.floats(0.01, 0.2)), timing=timing),
    }[kind]
    return Plan(
        start_age=start,
        retirement_age=start + work,
        end_age=start + work + retire_years,
        # No subnormal balances (< 2.2e-308 USD): they carry fewer than 53 significant
        # bits, so period returns computed from them differ between summation orders by
        # more than round-off (test_kernel covers one such case on purpose).
        initial_balance=draw(st.one_of(st.just(0.0), st.floats(1e-6, 1e6))),
        contributions=contributions,
        withdrawal=withdrawal,
        expense_ratio=draw(st.sampled_from([0.0, 0.001, 0.0075, 0.02])),
        transaction_cost_bps=draw(st.sampled_from([0.0, 5.0, 50.0])),
        rmd_floor=draw(st.booleans()),
    )


@st.composite
def cases(draw: st.DrawFn):
    ppy = draw(st.sampled_from([1, 12]))
    plan = draw(plans(ppy))
    n_t = plan.n_periods(ppy)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = 3
    vol = 0.2 / np.sqrt(ppy)
    returns = np.clip(rng.normal(0.06 / ppy, vol, (n, n_t, 3)), -0.95, None)
    inflation = rng.normal(0.03 / ppy, 0.02 / np.sqrt(ppy), (n, n_t))
    freq = "annual" if ppy == 1 else "monthly"
    sc = Scenarios(returns, inflation, ASSETS, freq)
    rk = draw(st.sampled_from(["none", "calendar", "band_abs", "band_rel"]))
    rule = {
        "none": RebalanceRule(kind="none"),
        "calendar": RebalanceRule(kind="calendar", every_months=draw(st.sampled_from([1, 3, 12]))),
        "band_abs": RebalanceRule(kind="band", band=0.05),
        "band_rel": RebalanceRule(kind="band", band=0.2, band_kind="relative"),
    }[rk]
    raw = rng.dirichlet(np.ones(3), size=n_t)
    if draw(st.booleans()):
        raw[:, 2] = 0.0  # an asset the target never holds
        raw /= raw.sum(axis=1, keepdims=True)
    table = tuple(tuple(float(x) for x in row) for row in raw)
    sleeve = SleeveBand("c", 0.5, 1.5) if draw(st.booleans()) else None
    strategy = TableMix("table", ASSETS, table, rule, sleeve)
    return sc, plan, strategy, ppy


def _gross(res, i: int) -> float:
    return float(
        res.wealth[i, 0]
        + res.contributions[i].sum()
        + res.withdrawals[i].sum()
        + res.fees[i].sum()
        + res.costs[i].sum()
        + np.abs(res.gains[i]).sum()
    )


@SETTINGS
@given(cases())
def test_matches_scalar_reference(case) -> None:
    sc, plan, strategy, ppy = case
    res = simulate(sc, plan, strategy)
    weights = [list(r) for r in strategy.table]
    for i in range(sc.n_scenarios):
        ref = reference_simulate(
            sc.returns[i].tolist(),
            sc.inflation[i].tolist(),
            weights,
            plan,
            strategy.rebalance,
            ppy,
            strategy.sleeve_band,
            2,
        )
        # Same operations in a different order of summation: round-off only, so the
        # tolerance is ~1e-12 of the gross money that moved through the account.
        scale = max(_gross(res, i), 1.0)
        for name, fast in [
            ("wealth", res.wealth),
            ("contributions", res.contributions),
            ("withdrawals", res.withdrawals),
            ("wanted", res.withdrawals_wanted),
            ("fees", res.fees),
            ("costs", res.costs),
            ("gains", res.gains),
        ]:
            np.testing.assert_allclose(
                fast[i], getattr(ref, name), rtol=1e-12, atol=1e-12 * scale, err_msg=name
            )
        np.testing.assert_allclose(res.turnover[i], ref.turnover, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.portfolio_returns[i], ref.port_ret, rtol=0, atol=1e-12)
        assert res.ruin_period[i] == ref.ruin_period


@SETTINGS
@given(cases())
def test_accounting_identity(case) -> None:
    sc, plan, strategy, _ = case
    res = simulate(sc, plan, strategy)
    flows = res.contributions - res.withdrawals - res.leakage - res.fees - res.costs + res.gains
    for i in range(sc.n_scenarios):
        # end = start + contributions - withdrawals - leakage - fees - costs + gains, per period and
        # in total, to 1e-9 of the gross flows (round-off on sums of holdings).
        tol = 1e-9 * max(_gross(res, i), 1e-300)
        np.testing.assert_allclose(np.diff(res.wealth[i]), flows[i], rtol=0, atol=tol)
        np.testing.assert_allclose(
            res.wealth[i, -1], res.wealth[i, 0] + flows[i].sum(), rtol=0, atol=tol
        )
    assert np.all(res.wealth >= 0)
    assert np.all(res.withdrawals <= res.withdrawals_wanted * (1 + 1e-12) + 1e-12)


def _scale_plan(plan: Plan, k: float) -> Plan:
    c = plan.contributions
    if c is not None:
        c = dataclasses.replace(
            c,
            salary=c.salary * k,
            annual_limit=None if c.annual_limit is None else c.annual_limit * k,
            catch_up=c.catch_up * k,
            super_catch_up=c.super_catch_up * k,
            total_limit=None if c.total_limit is None else c.total_limit * k,
        )
    w = plan.withdrawal
    if isinstance(w, ConstantReal) and w.amount is not None:
        w = dataclasses.replace(w, amount=w.amount * k)
    return dataclasses.replace(
        plan, initial_balance=plan.initial_balance * k, contributions=c, withdrawal=w
    )


@SETTINGS
@given(cases(), st.sampled_from([0.001, 3.0, 1234.5]))
def test_scaling_all_money_scales_wealth(case, k: float) -> None:
    sc, plan, strategy, _ = case
    base = simulate(sc, plan, strategy)
    scaled = simulate(sc, _scale_plan(plan, k), strategy)
    # Every rule is homogeneous of degree one in money; only round-off differs, and ruin
    # decisions are taken on relative shortfalls, so they must agree too.
    atol = 1e-10 * k * max(float(np.abs(base.wealth).max()), 1.0)
    np.testing.assert_allclose(scaled.wealth, k * base.wealth, rtol=1e-10, atol=atol)
    np.testing.assert_array_equal(scaled.ruin_period, base.ruin_period)


@SETTINGS
@given(
    st.integers(1, 40),
    st.sampled_from([1, 12]),
    st.floats(0, 0.1),
    st.integers(0, 2**32 - 1),
)
def test_all_cash_grows_at_the_cash_rate(years: int, ppy: int, rate: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_t = years * ppy
    cash = np.full((2, n_t, 1), rate / ppy)
    infl = rng.normal(0.02 / ppy, 0.01, (2, n_t))
    sc = Scenarios(cash, infl, ("cash",), "annual" if ppy == 1 else "monthly")
    plan = Plan(start_age=30, retirement_age=30 + years, end_age=30 + years, initial_balance=100)
    res = simulate(sc, plan, constant_mix(("cash",), (1.0,)))
    expected = 100 * np.cumprod((1 + rate / ppy) / (1 + infl), axis=1)
    # Compounded products: a few ulps a period.
    np.testing.assert_allclose(res.wealth[:, 1:], expected, rtol=1e-12)
    np.testing.assert_allclose(res.wealth_nominal[:, -1], 100 * (1 + rate / ppy) ** n_t, rtol=1e-12)


@SETTINGS
@given(cases())
def test_zero_returns_give_the_cumulative_sum_of_flows(case) -> None:
    sc, plan, strategy, _ = case
    plan = dataclasses.replace(plan, expense_ratio=0.0, transaction_cost_bps=0.0)
    zero = Scenarios(
        np.zeros_like(sc.returns), np.zeros_like(sc.inflation), sc.assets, sc.frequency
    )
    res = simulate(zero, plan, strategy)
    expected = plan.initial_balance + np.cumsum(res.contributions - res.withdrawals, axis=1)
    np.testing.assert_allclose(res.wealth[:, 1:], expected, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(res.gains, 0.0)
    # Contributions are deterministic and do not depend on returns.
    ref = simulate(sc, plan, strategy)
    np.testing.assert_allclose(res.contributions, ref.contributions, rtol=1e-15)


@SETTINGS
@given(cases(), st.floats(1e-4, 0.05))
def test_upward_shift_never_lowers_terminal_wealth(case, delta: float) -> None:
    sc, plan, strategy, _ = case
    # With calendar (or no) rebalancing and no trading costs every holding is larger
    # component by component after the shift, so the claim holds exactly; band rules can
    # change *when* one trades and are excluded on purpose.
    rule = RebalanceRule(kind="calendar", every_months=12)
    strategy = dataclasses.replace(strategy, rebalance=rule, sleeve_band=None)
    plan = dataclasses.replace(
        plan, transaction_cost_bps=0.0, withdrawal=ConstantReal(rate=0.05, timing="split")
    )
    up = Scenarios(sc.returns + delta, sc.inflation, sc.assets, sc.frequency)
    base = simulate(sc, plan, strategy)
    high = simulate(up, plan, strategy)
    assert np.all(high.terminal_wealth >= base.terminal_wealth * (1 - 1e-12) - 1e-9)
    later = np.where(high.ruin_period < 0, 10**9, high.ruin_period)
    earlier = np.where(base.ruin_period < 0, 10**9, base.ruin_period)
    assert np.all(later >= earlier)
