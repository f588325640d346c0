"""Tests of the glide-path search's certainty-equivalent (CE) income objective (issue 23).

Small generated markets (i.i.d. lognormal real returns of two assets, zero inflation) keep
every search to a few seconds; the valuation itself is ``backtest.outcomes``'.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from backtest.errors import PlanError
from backtest.outcomes import IncomePreferences, lifetime_weights, preference_certainty_equivalent
from backtest.plan import ConstantReal, Contributions, FundedRatio, Plan
from backtest.report.income import annual_income
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from optimize.glidepath import (
    OptimizationError,
    TerminalWealth,
    income_ce_and_gradient,
    income_valuation,
    make_glide_path,
    optimize_glide_path,
)

ASSETS = ("us_stocks", "tbonds_10y")


def _market(n: int, seed: int, n_t: int = 70) -> Scenarios:
    """i.i.d. lognormal annual returns: stocks ~5 % log mean, 17 % vol; bonds 1.5 %, 3 %."""
    rng = np.random.default_rng(seed)
    stocks = np.expm1(rng.normal(0.05, 0.17, (n, n_t)))
    bonds = np.expm1(rng.normal(0.015, 0.03, (n, n_t)))
    return Scenarios(np.stack([stocks, bonds], -1), np.zeros((n, n_t)), ASSETS, "annual")


def _plan(withdrawal: ConstantReal | None = None, end_age: int = 95, **kw: object) -> Plan:
    base: dict[str, object] = dict(
        start_age=25,
        retirement_age=65,
        end_age=end_age,
        initial_balance=1000.0,
        contributions=Contributions(50_000, 0.10, 0.01, 0.5, 0.06),
        withdrawal=withdrawal or ConstantReal(rate=None, amount=30_000),
        expense_ratio=0.002,
    )
    base.update(kw)
    return Plan(**base)  # type: ignore[arg-type]


FLOOR = 4_000.0  # real USD a year, given explicitly so the test can value income itself
RICH = IncomePreferences(
    gamma=4.0,
    loss_aversion=1.0,
    reference_replacement=0.8,
    bequest_weight=1.5,
    bequest_shifter=20_000.0,
    discount_rate=0.01,
)


def _forward_ce(scenarios: Scenarios, plan: Plan, path: object, prefs: IncomePreferences) -> float:
    """The CE written out from the issue's definition, by the engine: income = floor +
    withdrawals paid each retirement year, every year to the end weighted by the time
    preference, the loss reference 0.8 x the 30,000 USD planned withdrawal, the bequest
    the wealth left at the end (weight: the time preference at the end year)."""
    res = simulate(scenarios, plan, path)  # type: ignore[arg-type]
    incomes = FLOOR + annual_income(res)
    years = incomes.shape[1]
    w = lifetime_weights(np.ones(years + 1), prefs.discount_rate)
    bequest = prefs.bequest_weight > 0
    return preference_certainty_equivalent(
        incomes,
        prefs,
        np.broadcast_to(w[:-1], incomes.shape),
        reference=0.8 * 30_000 if prefs.loss_aversion else None,
        bequests=res.terminal_wealth if bequest else None,
        death_weights=np.full(res.n_scenarios, w[-1]) if bequest else None,
    )


@pytest.mark.parametrize("prefs", [IncomePreferences(), RICH], ids=["crra5", "loss+bequest"])
def test_scp_ce_equals_a_forward_simulation_in_and_out_of_sample(prefs: IncomePreferences) -> None:
    plan = _plan()
    sample, fresh = _market(150, seed=1), _market(3000, seed=2)
    res = optimize_glide_path(
        sample,
        plan,
        objective="ce",
        preferences=prefs,
        income_floor=FLOOR,
        holdout=fresh,
        knot_spacing_years=10,
        initial_grid_step=0.1,
        max_iterations=4,
        progress=False,
    )
    # in sample: the search's own figure is the engine's CE of its path (round-off only)
    expected = _forward_ce(sample, plan, res.glide_path, prefs)
    assert res.ce_in_sample == pytest.approx(expected, rel=1e-9)
    # the wealth model the steps are linearised on gives the same CE (no transaction costs)
    val = income_valuation(plan, simulate(sample, plan, res.glide_path), prefs, FLOOR)
    model = income_ce_and_gradient(sample, plan, res.weights_by_age, val)
    assert model.ce == pytest.approx(expected, rel=1e-9)
    # held out: the same figure on a fresh draw, within 3 standard errors of the two
    assert res.ce_out_of_sample is not None and res.ce_out_of_sample_se is not None
    assert res.ce_out_of_sample == pytest.approx(_forward_ce(fresh, plan, res.glide_path, prefs))
    gap = abs(res.ce_out_of_sample - res.ce_in_sample)
    assert gap <= 3.0 * np.hypot(res.ce_in_sample_se, res.ce_out_of_sample_se)
    assert res.objective == "ce" and res.preferences == prefs
    assert set(res.ce_by_gamma) == {2.0, 5.0, 10.0}


@pytest.mark.parametrize(
    "withdrawal",
    [
        ConstantReal(rate=None, amount=40_000),
        ConstantReal(rate=0.05),
        ConstantReal(rate=None, amount=40_000, timing="end"),
        ConstantReal(rate=None, amount=40_000, indexed=False),
    ],
    ids=["amount", "rate", "end", "nominal"],
)
def test_income_gradient_matches_finite_differences(withdrawal: ConstantReal) -> None:
    plan = _plan(withdrawal)
    rng = np.random.default_rng(3)
    n_t = plan.n_periods(1)
    sc = Scenarios(
        _market(120, seed=4).returns,
        rng.normal(0.03, 0.02, (120, n_t)),  # inflation, for the nominal amount
        ASSETS,
        "annual",
    )
    equity = np.clip(np.linspace(0.9, 0.3, n_t) + 0.05 * rng.standard_normal(n_t), 0, 1)
    w = np.stack([equity, 1 - equity], 1)
    path = make_glide_path("x", ASSETS, np.arange(25.0, 95.0), w, plan, 1)
    val = income_valuation(plan, simulate(sc, plan, path), RICH)
    model = income_ce_and_gradient(sc, plan, w, val)
    h = 1e-6
    for t in (10, 39, 40, 55):
        up, down = w.copy(), w.copy()
        up[t, 0] += h
        down[t, 0] -= h
        fd = (
            income_ce_and_gradient(sc, plan, up, val, scale=model.scale).value
            - income_ce_and_gradient(sc, plan, down, val, scale=model.scale).value
        ) / (2 * h)
        # 1e-4: central differences are exact to ~1e-7 here; the slack covers a step of h
        # that crosses a ruin or loss-reference kink of one scenario
        assert model.gradient[t, 0] == pytest.approx(fd, rel=1e-4)


def test_higher_risk_aversion_holds_less_equity() -> None:
    # a rate rule: income is 4 % of the balance at retirement, so its risk is the market's
    plan = _plan(ConstantReal(rate=0.04), end_age=75)
    sample = _market(300, seed=5)
    mean_equity = {}
    for gamma in (2.0, 10.0):
        res = optimize_glide_path(
            sample,
            plan,
            objective="ce",
            preferences=IncomePreferences(gamma=gamma),
            knot_spacing_years=10,
            initial_grid_step=0.1,
            max_iterations=6,
            progress=False,
        )
        mean_equity[gamma] = float(res.weights_by_age[:, 0].mean())
    assert mean_equity[10.0] <= mean_equity[2.0]
    # not a tie: the two risk aversions want clearly different paths (decimal equity)
    assert mean_equity[2.0] - mean_equity[10.0] > 0.1


def test_ce_search_never_ends_below_its_start() -> None:
    plan = _plan()
    sample = _market(150, seed=6)
    knots = (25.0, 45.0, 65.0, 80.0, 94.0)
    start = np.tile([0.2, 0.8], (len(knots), 1))  # a timid start, well below the best CE
    res = optimize_glide_path(
        sample,
        plan,
        objective="ce",
        income_floor=FLOOR,
        knot_ages=knots,
        initial=start,
        max_iterations=5,
        progress=False,
    )
    ages = np.array(res.knot_ages)
    start_ce = _forward_ce(
        sample, plan, make_glide_path("s", ASSETS, ages, start, plan, 1), IncomePreferences()
    )
    assert res.initial_ce == pytest.approx(start_ce, rel=1e-9)
    assert res.ce_in_sample >= start_ce
    assert res.ce_in_sample > start_ce * 1.01  # and the steps do climb (by more than 1 %)
    accepted = [h.ce for h in res.history if h.accepted]
    assert accepted == sorted(accepted) and all(c >= start_ce for c in accepted)


def test_success_objective_reports_ce_beside_success() -> None:
    plan = _plan(end_age=80)
    res = optimize_glide_path(
        _market(100, seed=7),
        plan,
        knot_spacing_years=10,
        initial_grid_step=0.1,
        max_iterations=2,
        progress=False,
    )
    assert res.objective == "success" and res.preferences == IncomePreferences()
    # the tear sheet's floor: 10 % of the 30,000 USD planned first-year withdrawal
    assert res.income_floor == pytest.approx(3_000.0)
    ce = {g: c for g, (c, _) in res.ce_by_gamma.items()}
    assert ce[2.0] >= ce[5.0] >= ce[10.0] > 0  # CE falls with risk aversion
    assert res.ce_in_sample == ce[5.0]


def test_bad_input_names_the_fix() -> None:
    sample = _market(50, seed=8)
    plan = _plan(end_age=80)
    with pytest.raises(PlanError, match="reference_replacement"):
        IncomePreferences(loss_aversion=1.0)
    common: dict[str, object] = dict(objective="ce", progress=False, max_iterations=1)
    with pytest.raises(OptimizationError, match="objective='success'"):
        optimize_glide_path(sample, plan, goal=TerminalWealth(1e6), **common)  # type: ignore[arg-type]
    funded = dataclasses.replace(plan, success=FundedRatio(replacement_rate=0.7))
    with pytest.raises(OptimizationError, match="accumulation-only"):
        optimize_glide_path(sample, funded, **common)  # type: ignore[arg-type]
    with pytest.raises(OptimizationError, match="income_floor"):
        optimize_glide_path(sample, plan, income_floor=0.0, **common)  # type: ignore[arg-type]
    with pytest.raises(OptimizationError, match="use one of"):
        optimize_glide_path(sample, plan, objective="utility", progress=False)  # type: ignore[arg-type]
    with pytest.raises(OptimizationError, match="no withdrawals"):
        no_income = dataclasses.replace(plan, withdrawal=None)
        optimize_glide_path(sample, no_income, **common)  # type: ignore[arg-type]
