"""The population model: reproducible members, accounting, and reduction to one member."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.errors import PlanError
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.population import (
    Members,
    PopulationSpec,
    cgm_log_income,
    contribution_amounts,
    draw_members,
)
from backtest.population_eval import (
    cvar,
    evaluate_population,
    glide_weights,
    portfolio_growth,
    run_accounts,
)
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from strategies.presets import preset

SPEC = PopulationSpec(first_age=25, end_age=100, start_age_min=25, start_age_max=25)


def _scenarios(n: int, n_t: int, seed: int) -> Scenarios:
    rng = np.random.default_rng(seed)
    returns = np.stack(
        [rng.normal(0.07, 0.18, (n, n_t)), rng.normal(0.03, 0.07, (n, n_t))], axis=-1
    )
    return Scenarios(
        returns=returns,
        inflation=rng.normal(0.025, 0.015, (n, n_t)),
        assets=("us_stocks", "tbonds_10y"),
        frequency="annual",
    )


def test_draws_are_reproducible_and_seed_dependent() -> None:
    a = draw_members(PopulationSpec(), 300, 7)
    b = draw_members(PopulationSpec(), 300, 7)
    c = draw_members(PopulationSpec(), 300, 8)
    np.testing.assert_array_equal(a.contributions, b.contributions)
    np.testing.assert_array_equal(a.survival, b.survival)
    assert not np.array_equal(a.contributions, c.contributions)
    assert not a.contributions.flags.writeable


def test_drawn_members_respect_the_stated_rules() -> None:
    spec = PopulationSpec()
    m = draw_members(spec, 2000, 3)
    t_ret = m.retirement_period
    cols = np.arange(spec.n_periods)[None, :]
    # No contributions before the start age or from retirement on; no spending before it.
    assert (m.contributions[cols >= t_ret[:, None]] == 0).all()
    assert (m.contributions[cols < (m.start_age - spec.first_age)[:, None]] == 0).all()
    assert (m.spending[cols < t_ret[:, None]] == 0).all()
    assert set(np.unique(m.retirement_age)) <= set(range(62, 71))
    # Leakage only before retirement; the penalty only before 59.5 and only on leakage.
    assert (m.leakage_share[cols >= t_ret[:, None]] == 0).all()
    assert (m.penalty_rate[:, spec.ages >= 59.5] == 0).all()
    assert ((m.penalty_rate > 0) <= (m.leakage_share > 0)).all()
    # Survival: 1 to retirement, non-increasing after it.
    assert (m.survival[:, :-1][cols <= t_ret[:, None]] == 1.0).all()
    assert (np.diff(m.survival, axis=1) <= 0).all()
    # Employee deferral <= 402(g) limit + catch-up and the match <= half of it: the total
    # is at most 1.5 x 23,500 before 50, 1.5 x (23,500 + 7,500) from 50 and 1.5 x
    # (23,500 + 11,250) at 60-63 (the SECURE 2.0 super catch-up).
    assert (m.contributions[:, spec.ages < 50] <= 1.5 * 23_500.0 + 1e-9).all()
    super_ages = (spec.ages >= 60) & (spec.ages <= 63)
    assert (m.contributions[:, ~super_ages] <= 1.5 * 31_000.0 + 1e-9).all()
    assert (m.contributions <= 1.5 * 34_750.0 + 1e-9).all()
    assert m.contributions.max() > 23_500.0  # the cap binds for some high earners


def test_auto_escalation_from_6_to_10_percent() -> None:
    # No job changes, breaks or leakage: the rate climbs 6, 7, 8, 9, 10, 10 % of salary
    # ("heavy" leakage reads job_change_rate; the calibrated model's rates are BLS's).
    spec = dataclasses.replace(
        PopulationSpec(),
        leakage="heavy",
        job_change_rate=0.0,
        career_break_rate=0.0,
        hardship_rate=0.0,
        match_rate=0.0,
        annual_limit=1e7,
        salary_log_sd=0.0,
        college_share=0.0,
        wage_growth_real=0.0,
        income_shocks=False,
    )
    m = draw_members(spec, 5, 1)
    i = 0
    t0 = int(m.start_age[i] - spec.first_age)
    ages = spec.ages[t0 : t0 + 6]
    salary = spec.salary_median * np.exp(
        cgm_log_income(ages, "high_school") - cgm_log_income(ages[:1], "high_school")
    )
    rates = m.contributions[i, t0 : t0 + 6] / salary
    np.testing.assert_allclose(rates, [0.06, 0.07, 0.08, 0.09, 0.10, 0.10], rtol=1e-12)


def test_contribution_rule_agrees_with_plan_contributions() -> None:
    c = Contributions(
        salary=90_000.0,
        rate=0.30,
        salary_growth_real=0.02,
        match_rate=0.5,
        match_cap=0.06,
        annual_limit=23_500.0,
        catch_up=7_500.0,
        catch_up_age=50.0,
    )
    ages = np.arange(40.0, 65.0)
    want_e, want_r = c.annual_amounts(ages, 40.0)
    got_e, got_r = contribution_amounts(
        c.salary_at(ages - 40.0),
        np.full(ages.size, c.rate),
        ages,
        match_rate=0.5,
        match_cap=0.06,
        annual_limit=23_500.0,
        catch_up=7_500.0,
        catch_up_age=50.0,
    )
    np.testing.assert_array_equal(got_e, want_e)
    np.testing.assert_array_equal(got_r, want_r)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    fee=st.floats(0.0, 0.02),
    leak=st.floats(0.0, 1.0),
)
def test_accounting_identity_with_leakage_and_penalty(seed: int, fee: float, leak: float) -> None:
    rng = np.random.default_rng(seed)
    m, n_t = 64, 30
    growth = np.exp(rng.normal(0.03, 0.15, (m, n_t)))
    contrib = rng.uniform(0, 10_000, (m, n_t)) * (np.arange(n_t) < 18)
    spend = rng.uniform(0, 60_000, (m, n_t)) * (np.arange(n_t) >= 18)
    share = np.where(rng.random((m, n_t)) < 0.2, leak, 0.0) * (np.arange(n_t) < 18)
    acc = run_accounts(growth, contrib, spend, share, fee, initial_balance=5_000.0)
    w = acc.wealth
    rhs = w[:, :-1] + acc.contributions - acc.withdrawals - acc.leakage - acc.fees + acc.gains
    # Relative round-off of a few additions on balances of ~1e6.
    np.testing.assert_allclose(w[:, 1:], rhs, rtol=1e-12, atol=1e-6)
    assert (acc.withdrawals <= acc.wanted + 1e-9).all()
    assert (w >= -1e-9).all()
    # Leakage is the share of the start-of-year balance; the 10 % additional tax is paid
    # out of it by the member: net received + tax = gross leakage.
    np.testing.assert_allclose(acc.leakage, share * w[:, :-1], rtol=1e-15)
    tax = 0.10 * acc.leakage
    np.testing.assert_allclose((acc.leakage - tax) + tax, acc.leakage, rtol=1e-15)


def test_penalty_total_is_ten_percent_of_leakage_before_59_5() -> None:
    spec = PopulationSpec()
    m = draw_members(spec, 400, 11)
    sc = _scenarios(20, spec.n_periods, 4)
    s = preset("vanguard_target_retirement")
    g = portfolio_growth(sc, tuple(s.assets), glide_weights(s, spec, sc))
    out = evaluate_population(m, g, pairing="cross", chunk_size=997)
    assert (out.penalty <= 0.10 * out.leakage + 1e-9).all()
    # The additional tax falls on leakage before 59.5, except a cash-out at separation
    # from 55 (the rule of 55, tests/backtest/test_leakage.py).
    taxable = (m.leakage_share > 0) & (spec.ages < 59.5) & ~(m.cashed_out & (spec.ages >= 55))
    np.testing.assert_array_equal(m.penalty_rate > 0, taxable)
    assert out.leakage.sum() > 0


def _identical_members(plan: Plan, spec: PopulationSpec, n: int) -> Members:
    """n copies of the member ``plan`` describes, as per-period flows."""
    n_t = spec.n_periods
    ages = spec.ages
    assert plan.contributions is not None and isinstance(plan.withdrawal, ConstantReal)
    e, r = plan.contributions.annual_amounts(ages, plan.start_age)
    retired = ages >= plan.retirement_age
    contrib = np.where(retired, 0.0, e + r)
    spend = np.where(retired, float(plan.withdrawal.amount), 0.0)
    t_ret = int(plan.retirement_age - spec.first_age)
    ones = np.ones(n)
    return Members(
        spec=spec,
        contributions=np.tile(contrib, (n, 1)),
        spending=np.tile(spend, (n, 1)),
        leakage_share=np.zeros((n, n_t)),
        penalty_rate=np.zeros((n, n_t)),
        survival=np.ones((n, n_t + 1)),
        retirement_age=np.full(n, int(plan.retirement_age)),
        start_age=np.full(n, spec.first_age),
        starting_salary=ones * plan.contributions.salary,
        final_salary=ones * plan.contributions.salary_at(np.array([t_ret - 1.0]))[0],
        social_security=np.zeros(n),
        need=ones * float(plan.withdrawal.amount),
        annuity_factor=ones * 20.0,
        college=np.zeros(n, dtype=bool),
        female=np.zeros(n, dtype=bool),
        break_years=np.zeros(n, dtype=np.int64),
        cash_outs=np.zeros(n, dtype=np.int64),
        hardships=np.zeros(n, dtype=np.int64),
        ss_scheduled=np.zeros(n),
        ss_by_year=np.zeros((n, n_t)),
        base_salary=ones * plan.contributions.salary_at(np.array([t_ret - 1.0]))[0],
        death_age=np.full(n, np.nan),
        alive_at_retirement=np.ones(n, dtype=bool),
        separation=np.zeros((n, n_t), dtype=bool),
        cashed_out=np.zeros((n, n_t), dtype=bool),
        hardship=np.zeros((n, n_t), dtype=bool),
    )


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_identical_members_reduce_to_the_single_member_simulation(engine: str) -> None:
    spec = SPEC
    plan = Plan(
        start_age=25,
        retirement_age=65,
        end_age=100,
        contributions=Contributions(
            salary=50_000.0, rate=0.10, salary_growth_real=0.01, match_rate=0.5, match_cap=0.06
        ),
        withdrawal=ConstantReal(rate=None, amount=30_000.0, timing="start"),
        expense_ratio=0.004,
    )
    strategy = preset("vanguard_target_retirement")
    sc = _scenarios(60, spec.n_periods, 5)
    single = simulate(sc, plan, strategy, engine=engine)  # type: ignore[arg-type]
    members = _identical_members(plan, spec, 3)
    g = portfolio_growth(sc, tuple(strategy.assets), glide_weights(strategy, spec, sc))
    out = evaluate_population(members, g, expense_ratio=0.004, pairing="cross")
    acc = run_accounts(
        g[out.path],
        members.contributions[out.member],
        members.spending[out.member],
        members.leakage_share[out.member],
        0.004,
    )
    # Same events in the same order; the engine tracks holdings per asset, this a
    # balance, so they agree to float round-off (relative 1e-11 on ~1e6 balances).
    for k in range(3):
        rows = out.member == k
        np.testing.assert_allclose(acc.wealth[rows], single.wealth, rtol=1e-11, atol=1e-6)
        np.testing.assert_array_equal(acc.ruin_period[rows], single.ruin_period)
        np.testing.assert_allclose(
            out.success_fixed[rows], (single.ruin_period < 0) | (single.ruin_period >= 70), 0
        )
    # With survival 1 everywhere, survival-weighted success is "never ruined".
    np.testing.assert_array_equal(out.success[out.member == 0], single.ruin_period < 0)
    assert out.mean_success == pytest.approx(single.success_rate, abs=1e-15)


def test_survival_weighted_success_uses_the_survival_at_the_ruin_age() -> None:
    spec = SPEC
    n_t = spec.n_periods
    plan_ret = 40  # retire at 65
    surv = np.ones((1, n_t + 1))
    surv[0, plan_ret:] = np.linspace(1.0, 0.0, n_t + 1 - plan_ret)
    m = _identical_members(
        Plan(
            start_age=25,
            retirement_age=65,
            end_age=100,
            contributions=Contributions(salary=10_000.0, rate=0.0),
            withdrawal=ConstantReal(rate=None, amount=1_000.0),
        ),
        spec,
        1,
    )
    m = dataclasses.replace(
        m, survival=surv, contributions=np.where(np.arange(n_t) == 0, 10_000.0, 0.0)[None, :]
    )
    g = np.ones((1, n_t))  # zero real return: 10,000 lasts exactly 10 years of 1,000
    out = evaluate_population(m, g)
    ruin_t = plan_ret + 10
    assert out.success[0] == pytest.approx(1.0 - surv[0, ruin_t], abs=1e-12)
    # valued at retirement at the stated real annuity rate (backtest.outcomes.shortfall_years)
    k = np.arange(ruin_t, n_t) - plan_ret
    unpaid = (surv[0, ruin_t:-1] * (1.0 + spec.annuity_rate) ** -k).sum()
    assert out.unpaid_years[0] == pytest.approx(unpaid, rel=1e-12)
    assert out.success_fixed[0] == 0.0


def test_cvar_is_the_mean_of_the_worst_tail() -> None:
    x = np.arange(100.0)
    assert cvar(x, 0.95) == pytest.approx(np.mean(x[95:]))
    assert cvar(x, 0.0) == pytest.approx(x.mean())


def test_bad_spec_is_a_clear_error() -> None:
    with pytest.raises(PlanError, match="retirement_ages"):
        PopulationSpec(retirement_ages=((60, 1.0),))
    with pytest.raises(PlanError, match="target date"):
        PopulationSpec(target_year=2200)
    with pytest.raises(PlanError, match="adapts to returns"):
        glide_weights(preset("vol_target_10"), SPEC, _scenarios(2, SPEC.n_periods, 0))


def test_heterogeneous_members_match_the_engine_with_per_scenario_schedules() -> None:
    # The population's balance recursion against backtest.simulate fed the same members'
    # schedules (cash_flows=...), one retirement age at a time (the engine takes one
    # retirement period per call). The glide path is read against the target date, so
    # the engine's strategy is the preset shifted by (retirement age - target age).
    from backtest.cashflows import cash_flow_rules

    spec = PopulationSpec(end_age=100)
    members = draw_members(spec, 600, 12)
    sc = _scenarios(50, spec.n_periods, 9)
    strategy = preset("t_rowe_price_retirement")
    g = portfolio_growth(sc, tuple(strategy.assets), glide_weights(strategy, spec, sc))
    path = np.arange(members.n_members) % 50
    acc = run_accounts(
        g[path], members.contributions, members.spending, members.leakage_share, 0.002
    )
    checked = 0
    for age in np.unique(members.retirement_age):
        idx = np.nonzero(members.retirement_age == age)[0]
        plan = Plan(
            start_age=spec.first_age,
            retirement_age=float(age),
            end_age=spec.end_age,
            contributions=Contributions(salary=0.0, rate=0.0),
            withdrawal=ConstantReal(rate=None, amount=1.0),
            expense_ratio=0.002,
        )
        rules = cash_flow_rules(plan, 1).with_schedules(
            contributions=members.contributions[idx],
            spending=members.spending[idx],
            leakage=members.leakage_share[idx],
        )
        shift = float(age - spec.target_age)
        shifted = dataclasses.replace(
            strategy,
            knots_years_to_retirement=tuple(k + shift for k in strategy.knots_years_to_retirement),
        )
        sub = Scenarios(
            returns=sc.returns[path[idx]],
            inflation=sc.inflation[path[idx]],
            assets=sc.assets,
            frequency="annual",
        )
        res = simulate(sub, plan, shifted, cash_flows=rules)
        # Holdings per asset (engine) vs one balance (here): round-off only.
        np.testing.assert_allclose(acc.wealth[idx], res.wealth, rtol=1e-10, atol=1e-6)
        np.testing.assert_array_equal(acc.ruin_period[idx], res.ruin_period)
        checked += idx.size
    assert checked == members.n_members
    assert (acc.leakage > 0).any() and (acc.ruin_period >= 0).any()
