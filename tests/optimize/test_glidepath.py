"""Tests of the SCP glide-path optimizer: wealth model, adjoint gradients, constraints."""

from __future__ import annotations

import dataclasses

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.plan import (
    ConstantReal,
    Contributions,
    FixedPercent,
    FundedRatio,
    GuytonKlinger,
    MoneyLasts,
    Plan,
)
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from optimize.glidepath import (
    DEFAULT_SOLVERS,
    GlidePathConstraints,
    OptimizationError,
    OptimizationWarning,
    TerminalWealth,
    buffered_failure_probability,
    forward_model,
    goal_success,
    interpolation_matrix,
    make_glide_path,
    margins_and_gradients,
    optimize_glide_path,
)

ASSETS = ("us_stocks", "tbonds_10y")


def _scenarios(n: int = 200, n_t: int = 70, seed: int = 0) -> Scenarios:
    rng = np.random.default_rng(seed)
    r = np.stack([rng.normal(0.08, 0.18, (n, n_t)), rng.normal(0.04, 0.07, (n, n_t))], -1)
    return Scenarios(r, rng.normal(0.03, 0.02, (n, n_t)), ASSETS, "annual")


def _plan(**kw: object) -> Plan:
    base = dict(
        start_age=25,
        retirement_age=65,
        end_age=95,
        initial_balance=1000.0,
        contributions=Contributions(50_000, 0.10, 0.01, 0.5, 0.06),
        withdrawal=ConstantReal(rate=0.045),
        expense_ratio=0.002,
    )
    base.update(kw)
    return Plan(**base)  # type: ignore[arg-type]


def _path(n_t: int = 70) -> np.ndarray:
    e = np.linspace(0.9, 0.3, n_t)
    return np.column_stack([e, 1 - e])


@pytest.mark.parametrize("timing", ["start", "end", "split"])
@pytest.mark.parametrize("indexed", [True, False])
@pytest.mark.parametrize("c_timing", ["start", "end"])
def test_forward_model_matches_engine(timing: str, indexed: bool, c_timing: str) -> None:
    sc = _scenarios()
    plan = _plan(
        withdrawal=ConstantReal(rate=0.045, timing=timing, indexed=indexed),  # type: ignore[arg-type]
        contributions=Contributions(50_000, 0.10, 0.01, 0.5, 0.06, timing=c_timing),  # type: ignore[arg-type]
    )
    w = _path()
    strat = make_glide_path("p", ASSETS, np.arange(25.0, 95.0), w, plan, 1)
    res = simulate(sc, plan, strat)
    fp = forward_model(sc, plan, w)
    # Same arithmetic in another order: round-off only, relative to the balance.
    np.testing.assert_allclose(fp.wealth, res.wealth, rtol=1e-9, atol=1e-9 * res.wealth.max())
    assert 0.05 < res.success_rate < 1.0  # the fixture must exercise ruin
    x, _ = margins_and_gradients(sc, plan, w)
    np.testing.assert_array_equal(x >= 0, res.success)


def _fd_check(sc: Scenarios, plan: Plan, goal: object, cells: list[tuple[int, int]]) -> None:
    w = _path(plan.n_periods(1))
    _, grad = margins_and_gradients(sc, plan, w, goal)  # type: ignore[arg-type]
    eps = 1e-6
    for t, a in cells:
        up, dn = w.copy(), w.copy()
        up[t, a] += eps
        dn[t, a] -= eps
        fd = (
            margins_and_gradients(sc, plan, up, goal)[0]  # type: ignore[arg-type]
            - margins_and_gradients(sc, plan, dn, goal)[0]  # type: ignore[arg-type]
        ) / (2 * eps)
        # central differences: truncation O(eps^2), round-off ~1e-16 / eps ~ 1e-10
        np.testing.assert_allclose(grad[:, t, a], fd, rtol=1e-5, atol=1e-7)


def test_adjoint_gradient_money_lasts_amount_rule() -> None:
    plan = _plan(withdrawal=ConstantReal(rate=None, amount=60_000, timing="split"))
    _fd_check(_scenarios(), plan, None, [(3, 0), (39, 1), (40, 0), (55, 1), (69, 0)])


def test_adjoint_gradient_money_lasts_rate_rule() -> None:
    _fd_check(_scenarios(), _plan(), None, [(3, 0), (40, 0), (55, 1), (68, 1)])


def test_adjoint_gradient_funded_ratio() -> None:
    plan = _plan(success=FundedRatio(replacement_rate=0.5))
    _fd_check(_scenarios(), plan, None, [(0, 0), (20, 1), (39, 0)])


def test_adjoint_gradient_terminal_wealth() -> None:
    plan = Plan(30, 60, 60, initial_balance=1.0, expense_ratio=0.003)
    _fd_check(_scenarios(n_t=30), plan, TerminalWealth(2.0), [(0, 0), (15, 1), (29, 0)])


def test_rate_rule_success_ignores_accumulation_weights() -> None:
    # With withdrawals a fixed share of the balance at retirement, success is scale-free:
    # the gradient before retirement is exactly zero (a property the report mentions).
    _, grad = margins_and_gradients(_scenarios(), _plan(), _path())
    assert np.abs(grad[:, :40]).max() < 1e-12
    assert np.abs(grad[:, 40:]).max() > 1e-3


def test_withdrawals_the_model_cannot_carry_are_left_out() -> None:
    # The wealth model runs backtest.account on ConstantReal withdrawals only: another
    # rule (and an RMD floor) leaves the balances as without withdrawals, not an error,
    # and a FundedRatio goal, which reads the balance at retirement, takes any rule.
    sc, w = _scenarios(60), _path()
    bare = forward_model(sc, _plan(withdrawal=None), w).wealth_untruncated
    for rule in (FixedPercent(), GuytonKlinger()):
        fp = forward_model(sc, _plan(withdrawal=rule), w)
        np.testing.assert_array_equal(fp.wealth_untruncated, bare)
    floor = forward_model(sc, _plan(rmd_floor=True), w).wealth_untruncated
    np.testing.assert_array_equal(floor, forward_model(sc, _plan(), w).wealth_untruncated)
    assert (floor[:, -1] < bare[:, -1]).all()  # the ConstantReal withdrawals are paid
    funded = FundedRatio(replacement_rate=0.5)
    x_gk, g_gk = margins_and_gradients(sc, _plan(withdrawal=GuytonKlinger(), success=funded), w)
    x, g = margins_and_gradients(sc, _plan(success=funded), w)
    np.testing.assert_array_equal(x_gk, x)
    np.testing.assert_array_equal(g_gk, g)


def test_bpoe_hand_example_and_bound() -> None:
    # worst three margins (-1, 0.5, 0.5) average to 0 -> bPOE = 3/4
    assert buffered_failure_probability(np.array([-1.0, 0.5, 0.5, 2.0])) == pytest.approx(0.75)
    assert buffered_failure_probability(np.array([1.0, 2.0])) == 0.0
    assert buffered_failure_probability(np.array([-1.0, -2.0])) == 1.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=40))
def test_bpoe_bounds_failure_probability(values: list[float]) -> None:
    x = np.array(values)
    assert buffered_failure_probability(x) >= np.mean(x < 0) - 1e-12


def test_interpolation_matches_glide_path() -> None:
    plan = _plan()
    knots = np.array([25.0, 45.0, 65.0, 94.0])
    kw = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.6, 0.4]])
    ages = np.arange(25.0, 95.0)
    strat = make_glide_path("p", ASSETS, knots, kw, plan, 1)
    expected = strat.weights_at_age(ages, plan.retirement_age)
    np.testing.assert_allclose(interpolation_matrix(ages, knots) @ kw, expected, atol=1e-12)


@pytest.mark.parametrize(
    ("constraints", "words"),
    [
        (GlidePathConstraints(lower={"us_stocks": 0.7, "tbonds_10y": 0.5}), "lower bounds sum"),
        (GlidePathConstraints(upper={"us_stocks": 0.3, "tbonds_10y": 0.5}), "upper bounds sum"),
        (GlidePathConstraints(vol_cap=0.001), "vol_cap"),
        (GlidePathConstraints(lower={"gold": 0.1}), "gold"),
    ],
)
def test_conflicting_constraints_are_named(constraints: GlidePathConstraints, words: str) -> None:
    with pytest.raises(OptimizationError, match=words):
        optimize_glide_path(_scenarios(50), _plan(), constraints=constraints, progress=False)


def test_crypto_cap_below_crypto_floor_is_named() -> None:
    rng = np.random.default_rng(1)
    sc = Scenarios(
        rng.normal(0.05, 0.1, (50, 70, 3)),
        np.zeros((50, 70)),
        (*ASSETS, "btc"),
        "annual",
    )
    c = GlidePathConstraints(lower={"btc": 0.05}, crypto_cap=0.02)
    with pytest.raises(OptimizationError, match="crypto_cap"):
        optimize_glide_path(sc, _plan(), constraints=c, progress=False)


def test_plan_without_withdrawals_is_refused() -> None:
    with pytest.raises(OptimizationError, match="no withdrawals"):
        optimize_glide_path(_scenarios(50), _plan(withdrawal=None), progress=False)


def test_optimizer_improves_and_respects_constraints() -> None:
    sc = _scenarios(400, seed=3)
    plan = _plan(withdrawal=ConstantReal(rate=0.05))
    c = GlidePathConstraints(
        lower={"us_stocks": 0.1},
        upper={"us_stocks": 0.9},
        monotone_equity=True,
        max_change_per_year=0.03,
    )
    res = optimize_glide_path(
        sc, plan, constraints=c, holdout=_scenarios(300, seed=4), max_iterations=6, progress=False
    )
    assert res.success_in_sample >= res.initial_success
    assert res.success_out_of_sample is not None
    assert len(res.history) >= 1 and res.solver == "CLARABEL"
    w = res.knot_weights
    tol = 1e-6  # conic solver tolerance
    assert w[:, 0].min() >= 0.1 - tol and w[:, 0].max() <= 0.9 + tol
    pre = np.array(res.knot_ages) <= plan.retirement_age
    assert np.all(np.diff(w[pre, 0]) <= tol)
    step = np.abs(np.diff(w, axis=0)) / np.diff(res.knot_ages)[:, None]
    assert step.max() <= 0.03 + tol
    # the result's in-sample success is the engine's, on the returned strategy
    again = simulate(sc, plan, res.glide_path).success_rate
    assert again == pytest.approx(res.success_in_sample)


def test_solver_failure_falls_back_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    real_solve = cp.Problem.solve

    def flaky(self: cp.Problem, *args: object, **kwargs: object) -> object:
        if kwargs.get("solver") == "CLARABEL":
            raise cp.error.SolverError("simulated CLARABEL failure")
        return real_solve(self, *args, **kwargs)

    monkeypatch.setattr(cp.Problem, "solve", flaky)
    # the next solver of the list that is installed (cvxpy no longer ships ECOS)
    installed = set(cp.installed_solvers())
    expected = next(s for s in DEFAULT_SOLVERS[1:] if s in installed)
    with pytest.warns(OptimizationWarning, match=f"fell back to {expected}"):
        res = optimize_glide_path(_scenarios(100), _plan(), max_iterations=2, progress=False)
    assert res.solver == expected
    assert res.solver_fallbacks and "CLARABEL" in res.solver_fallbacks[0]


def test_goal_must_match_plan_or_be_terminal_wealth() -> None:
    plan = _plan()
    res = simulate(
        _scenarios(20), plan, make_glide_path("p", ASSETS, [25.0], [[0.6, 0.4]], plan, 1)
    )
    np.testing.assert_array_equal(goal_success(res, MoneyLasts()), res.success)
    with pytest.raises(OptimizationError, match="differs"):
        goal_success(res, FundedRatio(replacement_rate=0.5))
    assert dataclasses.is_dataclass(TerminalWealth(1.0))


def test_transaction_cost_warning_points_at_the_caller() -> None:
    # the warning is raised inside the search's set-up; its stack level must still name
    # the line that called optimize_glide_path, not the library
    with pytest.warns(OptimizationWarning, match="transaction costs") as caught:
        optimize_glide_path(
            _scenarios(40), _plan(transaction_cost_bps=5.0), max_iterations=1, progress=False
        )
    assert [w.filename for w in caught if w.category is OptimizationWarning] == [__file__]
