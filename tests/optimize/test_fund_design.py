"""Fund design: margins and gradients, committee constraints, frontier end points."""

from __future__ import annotations

import dataclasses

import cvxpy as cp
import numpy as np
import pytest

from backtest.outcomes import (
    IncomePreferences,
    certainty_equivalent,
    income_utility,
    preference_certainty_equivalent,
)
from backtest.population import PopulationSpec, draw_members
from backtest.population_eval import evaluate_population, pair_members_paths, run_accounts
from backtest.scenarios import Scenarios
from optimize.fund_design import (
    PORTFOLIO_GROUP,
    DesignData,
    FundConstraints,
    FundDesigner,
    OptimizationError,
    ce_and_se,
    design_data,
    knot_jacobian,
    margins,
    objective_value,
    reference_income,
    retirement_income,
)
from optimize.scp import (
    bpoe_subproblem,
    buffered_failure_probability,
    linear_model,
    simplex_basis,
)

SPEC = PopulationSpec(end_age=100)
ASSETS = ("us_stocks", "tbonds_10y")


def _scenarios(n: int, seed: int) -> Scenarios:
    rng = np.random.default_rng(seed)
    n_t = SPEC.n_periods
    returns = np.stack(
        [rng.normal(0.08, 0.18, (n, n_t)), rng.normal(0.035, 0.07, (n, n_t))], axis=-1
    )
    return Scenarios(
        returns=returns,
        inflation=rng.normal(0.025, 0.01, (n, n_t)),
        assets=ASSETS,
        frequency="annual",
    )


@pytest.fixture(scope="module")
def data() -> DesignData:
    members = draw_members(SPEC, 400, 21)
    mi, pi = pair_members_paths(400, 100, "paired")
    return design_data(members, _scenarios(100, 3), ASSETS, mi, pi, expense_ratio=0.002, rng=5)


def _mix_weights(equity: np.ndarray) -> np.ndarray:
    e = np.asarray(equity, dtype=np.float64)
    return np.column_stack([e, 1 - e])


def test_margin_is_non_negative_exactly_when_the_money_outlives_the_member(
    data: DesignData,
) -> None:
    w = _mix_weights(np.linspace(0.9, 0.3, SPEC.n_periods))
    mg = margins(data, w)
    t = np.arange(SPEC.n_periods)[None, :]
    spending = np.where(t >= data.t_ret[:, None], data.need[:, None], 0.0)
    acc = run_accounts(
        np.einsum("mta,ta->mt", data.growth, w),
        data.contributions,
        spending,
        data.leakage_share,
        data.expense_ratio,
    )
    lasted = (acc.ruin_period < 0) | (acc.ruin_period >= data.death)
    np.testing.assert_array_equal(mg.x >= 0, lasted)
    np.testing.assert_allclose(mg.wealth_at_retirement, acc.wealth[np.arange(data.n), data.t_ret])
    assert 0.05 < lasted.mean() < 0.99  # the fixture is not degenerate


def _legacy_wealth_at_retirement(data: DesignData, weights: np.ndarray) -> np.ndarray:
    """The accumulation loop of ``margins`` at b19e5cf, before it ran on
    ``backtest.account.run_balances``: kept to check the rebuilt one against it."""
    m, n_t, _ = data.growth.shape
    gf = np.einsum("mta,ta->mt", data.growth, weights) * (1.0 - data.expense_ratio)
    pre = np.arange(n_t)[None, :] < data.t_ret[:, None]
    keep = 1.0 - data.leakage_share
    w = np.zeros((m, n_t + 1))
    for k in range(n_t):
        w[:, k + 1] = np.where(
            pre[:, k], w[:, k] * keep[:, k] * gf[:, k] + data.contributions[:, k], 0
        )
    return w[np.arange(m), data.t_ret]


def test_accumulation_is_the_loop_it_replaced(data: DesignData) -> None:
    w = _mix_weights(np.linspace(0.9, 0.3, SPEC.n_periods))
    assert (data.leakage_share > 0).any()  # the cash-outs are exercised
    got = margins(data, w).wealth_at_retirement
    # round-off only: W (1 - l) G F is now W - l W, times G, times F (measured 1.2e-15)
    np.testing.assert_allclose(got, _legacy_wealth_at_retirement(data, w), rtol=1e-13, atol=0)


@pytest.mark.parametrize(
    ("value", "gradient", "points"),
    [
        ("x", "dx_dw", [(3, 0), (20, 1), (42, 0), (60, 1)]),
        ("shortfall", "ds_dw", [(5, 0), (30, 0), (45, 1), (60, 1)]),
    ],
)
def test_gradients_match_finite_differences(
    data: DesignData, value: str, gradient: str, points: list[tuple[int, int]]
) -> None:
    """The margins' and the shortfalls' gradients against forward differences."""
    w = _mix_weights(np.linspace(0.95, 0.35, SPEC.n_periods))
    mg = margins(data, w, gradients=True)
    grad = getattr(mg, gradient)
    assert grad is not None
    if value == "shortfall":
        assert np.abs(grad).max() > 0
    h = 1e-6
    for t, a in points:
        w2 = w.copy()
        w2[t, a] += h
        fd = (getattr(margins(data, w2), value) - getattr(mg, value)) / h
        # Forward differences: error O(h x curvature); margins are O(1)-O(100).
        np.testing.assert_allclose(grad[:, t, a], fd, rtol=1e-4, atol=1e-4)


def test_committee_constraints_hold_on_the_design(data: DesignData) -> None:
    c = FundConstraints(
        equity_at_target=(0.40, 0.55),
        monotone_after_age=45,
        max_change_per_year=0.04,
        landing="through",
        landing_age=90,
    )
    d = FundDesigner(data, SPEC.target_age, c, knot_spacing_years=10)
    pt = d.optimise("success", max_iterations=6)
    ages, eq = d.knot_ages, pt.knots[:, 0]
    k_t = int(np.argmin(np.abs(ages - SPEC.target_age)))
    assert 0.40 - 1e-6 <= eq[k_t] <= 0.55 + 1e-6
    after = ages >= 45
    assert (np.diff(eq[after]) <= 1e-6).all()
    assert (np.abs(np.diff(pt.knots, axis=0)) <= 0.04 * np.diff(ages)[:, None] + 1e-6).all()
    land = ages >= 90
    np.testing.assert_allclose(
        pt.knots[land], np.broadcast_to(pt.knots[land][0], pt.knots[land].shape), atol=1e-6
    )


def test_conflicting_committee_constraints_are_named(data: DesignData) -> None:
    c = FundConstraints(equity_at_target=(0.9, 1.0), landing="to", upper={"us_stocks": 0.5})
    with pytest.raises(OptimizationError, match="conflict"):
        FundDesigner(data, SPEC.target_age, c, knot_spacing_years=10).constant_start()


def test_frontier_end_points_equal_the_single_objective_optima(data: DesignData) -> None:
    c = FundConstraints(equity_at_target=(0.3, 0.7), max_change_per_year=0.05)
    d = FundDesigner(data, SPEC.target_age, c, knot_spacing_years=10)
    fr = d.frontier(n_points=3, max_iterations=8)
    s, e = fr.max_success, fr.min_shortfall
    # Success end: the epsilon-constrained problem at the best bPOE cannot beat it.
    tight = d.optimise("shortfall", start=s.knots, success_floor_bpoe=s.bpoe, max_iterations=8)
    assert tight.bpoe >= s.bpoe - 2e-3  # 2e-3: SCP stops within its trust radius
    # Shortfall end: with the bPOE ceiling at 1 the constraint is slack, and the
    # epsilon-constrained problem reaches the single-objective shortfall optimum.
    loose = d.optimise("shortfall", start=s.knots, success_floor_bpoe=1.0, max_iterations=8)
    assert loose.shortfall_cvar == pytest.approx(e.shortfall_cvar, rel=0.02, abs=0.05)
    # The frontier runs between the two and trades one for the other.
    assert fr.points[0] is s and fr.points[-1] is e
    assert s.bpoe <= e.bpoe + 1e-9 and e.shortfall_cvar <= s.shortfall_cvar + 1e-9
    mid = fr.points[1]
    assert mid.bpoe <= np.linspace(s.bpoe, e.bpoe, 3)[1] + 5e-3


def test_shortfall_of_a_member_with_nothing_does_not_depend_on_the_portfolio(
    data: DesignData,
) -> None:
    # Issue 23: discounted at the fund's returns, 16.7 -> 13.2 -> 11.9 years at 20/60/100 %
    # equity. Valued at the stated real annuity rate, it is the same whatever she holds.
    broke = dataclasses.replace(data, contributions=np.zeros_like(data.contributions))
    got = [
        margins(broke, _mix_weights(np.full(SPEC.n_periods, e))).shortfall for e in (0.2, 0.6, 1.0)
    ]
    np.testing.assert_allclose(got[1], got[0], rtol=1e-12)
    np.testing.assert_allclose(got[2], got[0], rtol=1e-12)
    t = np.arange(SPEC.n_periods)[None, :]
    v = (1.0 + SPEC.annuity_rate) ** -(t - data.t_ret[:, None])
    want = np.where((t >= data.t_ret[:, None]) & (data.need[:, None] > 0), data.alive * v, 0.0)
    np.testing.assert_allclose(got[0], want.sum(axis=1), rtol=1e-12)
    assert data.real_rate == SPEC.annuity_rate == 0.02
    # ... and the evaluation agrees: members with no contributions, two portfolios.
    members = draw_members(SPEC, 50, 21)
    members = dataclasses.replace(members, contributions=np.zeros_like(members.contributions))
    sc = _scenarios(10, 4)
    g = (1.0 + sc.returns) / (1.0 + sc.inflation[:, :, None])
    outs = [
        evaluate_population(
            members, np.einsum("pta,ta->pt", g, _mix_weights(np.full(SPEC.n_periods, e)))
        )
        for e in (0.2, 1.0)
    ]
    np.testing.assert_allclose(outs[0].unpaid_years, outs[1].unpaid_years, rtol=1e-12)


def test_design_shortfall_is_the_evaluations_on_the_same_member_paths() -> None:
    members = draw_members(SPEC, 120, 8)
    sc = _scenarios(40, 6)
    mi, pi = pair_members_paths(120, 40, "paired")
    d = design_data(members, sc, ASSETS, mi, pi, expense_ratio=0.002, rng=1)
    w = _mix_weights(np.linspace(0.9, 0.4, SPEC.n_periods))
    g = (1.0 + sc.returns) / (1.0 + sc.inflation[:, :, None])
    ev = evaluate_population(
        members, np.einsum("pta,ta->pt", g, w), expense_ratio=0.002, pairing="paired"
    )
    keep = members.alive_at_retirement[mi]  # both drop those who die before retirement
    np.testing.assert_array_equal(ev.member, mi[keep])
    np.testing.assert_array_equal(ev.path, d.path)
    s = margins(d, w).shortfall
    np.testing.assert_allclose(s, ev.unpaid_years, rtol=1e-12, atol=1e-12)
    assert (s > 0).any() and (s == 0).any()  # not degenerate


@pytest.mark.parametrize("objective", ["success", "shortfall"])
def test_constraint_costs_name_the_binding_constraints(data: DesignData, objective: str) -> None:
    c = FundConstraints(equity_at_target=(0.3, 0.5), max_change_per_year=0.05, crypto_cap=None)
    d = FundDesigner(data, SPEC.target_age, c, knot_spacing_years=10)
    pt = d.optimise(objective, max_iterations=6)
    k_t = int(np.argmin(np.abs(d.knot_ages - SPEC.target_age)))
    # the fixture's optimum sits on an edge of the equity band at the target age
    assert min(abs(pt.knots[k_t, 0] - 0.3), abs(pt.knots[k_t, 0] - 0.5)) < 1e-3
    costs = {r.group: r for r in d.constraint_costs(pt, objective, max_iterations=6)}
    assert PORTFOLIO_GROUP not in costs
    assert set(costs) == {"equity_at_target", "max_change_per_year"}
    band = costs["equity_at_target"]
    assert band.binding and band.slack < 1e-3
    assert band.value_with == pytest.approx(objective_value(pt, objective))
    for r in costs.values():
        assert r.cost >= 0.0
        if r.binding:  # the re-solve without it is at least as good
            better = r.value_without >= r.value_with
            assert better if objective == "success" else r.value_without <= r.value_with
    free = d.without("equity_at_target")
    assert "equity_at_target" not in free.constraint_groups(pt.knots, 1.0)
    assert "equity_at_target" in d.constraint_groups(pt.knots, 1.0)


def test_a_slack_constraint_is_not_binding_and_costs_nothing(data: DesignData) -> None:
    c = FundConstraints(equity_at_target=(0.0, 1.0))
    d = FundDesigner(data, SPEC.target_age, c, knot_spacing_years=10)
    pt = d.evaluate(d.constant_start(0.6), "success")
    (row,) = d.constraint_costs(pt, "success")
    assert row.group == "equity_at_target" and not row.binding
    assert row.slack == pytest.approx(0.4, abs=1e-6) and row.cost == 0.0


CE_CONSTRAINTS = FundConstraints(equity_at_target=(0.3, 0.7), max_change_per_year=0.05)


def test_ce_objective_raises_the_certainty_equivalent_over_its_start(data: DesignData) -> None:
    d = FundDesigner(data, SPEC.target_age, CE_CONSTRAINTS, knot_spacing_years=10, gamma=5.0)
    z0 = d.constant_start(0.3)
    start = d.evaluate(z0, "ce")
    pt = d.optimise("ce", start=z0, max_iterations=6)
    assert pt.objective == "ce" and pt.iterations > 0
    assert pt.ce > start.ce + 100.0  # real USD a year, the start is far from the optimum
    assert objective_value(pt, "ce") == pt.ce
    # the CE is the certain income with the same expected CRRA utility: below the mean
    inc = retirement_income(data, margins(data, d.weights(pt.knots)).wealth_at_retirement)
    assert pt.ce == pytest.approx(certainty_equivalent(inc, 5.0), rel=1e-12)
    assert pt.ce < inc.mean()
    # a more risk-averse designer values the same knots lower
    averse = FundDesigner(data, SPEC.target_age, CE_CONSTRAINTS, knot_spacing_years=10, gamma=10)
    assert averse.evaluate(pt.knots).ce < pt.ce
    for row in d.constraint_costs(pt, "ce", max_iterations=4):
        assert row.cost >= 0.0 and row.objective == "ce"


def test_ce_estimate_agrees_with_a_forward_simulation_within_its_standard_error(
    data: DesignData,
) -> None:
    d = FundDesigner(data, SPEC.target_age, CE_CONSTRAINTS, knot_spacing_years=10, gamma=5.0)
    pt = d.optimise("ce", start=d.constant_start(0.5), max_iterations=4)
    w = d.weights(pt.knots)
    assert np.isfinite(pt.ce_se) and 0 < pt.ce_se < 0.1 * pt.ce

    def forward(
        members_seed: int, n: int, paths_seed: int, n_paths: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Incomes from the evaluation's own account recursion, member-paths paired."""
        members = draw_members(SPEC, n, members_seed)
        sc = _scenarios(n_paths, paths_seed)
        g = (1.0 + sc.returns) / (1.0 + sc.inflation[:, :, None])
        growth = np.einsum("pta,ta->pt", g, w)
        out = evaluate_population(members, growth, expense_ratio=0.002, pairing="paired")
        return out.income, out.path

    # the same member-paths (the fixture's): the same CE, the design's income is the
    # evaluation's
    same, _ = forward(21, 400, 3, 100)
    assert float(certainty_equivalent(same, 5.0)) == pytest.approx(pt.ce, rel=1e-9)
    # fresh members and fresh paths: within the two standard errors (batches by market path)
    inc, paths = forward(77, 4_000, 78, 2_000)
    fresh, se_fresh = ce_and_se(inc, 5.0, paths)
    assert abs(fresh - pt.ce) < 3.0 * np.hypot(pt.ce_se, se_fresh), (fresh, pt.ce, pt.ce_se)


def test_ce_designer_refuses_a_negative_risk_aversion(data: DesignData) -> None:
    with pytest.raises(OptimizationError, match="gamma"):
        FundDesigner(data, SPEC.target_age, gamma=-1.0)


# ------------------------------------------------------------- income preferences (issue 23)

LOSS = IncomePreferences(gamma=5.0, loss_aversion=2.0, reference_replacement=0.7)


def test_plain_crra_preferences_are_bit_identical_to_gamma(data: DesignData) -> None:
    """Preferences without loss aversion take the code path plain gamma took."""
    plain = FundDesigner(data, SPEC.target_age, CE_CONSTRAINTS, knot_spacing_years=10, gamma=5.0)
    prefs = FundDesigner(
        data,
        SPEC.target_age,
        CE_CONSTRAINTS,
        knot_spacing_years=10,
        preferences=IncomePreferences(gamma=5.0, reference_replacement=0.7),
    )
    z = plain.constant_start(0.5)
    a, b = plain.evaluate(z, "ce"), prefs.evaluate(z, "ce")
    assert (a.ce, a.ce_se) == (b.ce, b.ce_se)  # exact: the same floats
    w_ret = margins(data, plain.weights(z)).wealth_at_retirement
    va, ga = plain._income_model("ce", w_ret)
    vb, gb = prefs._income_model("ce", w_ret)
    assert va == vb and np.array_equal(ga, gb)


def test_loss_averse_ce_is_the_shared_valuation(data: DesignData) -> None:
    d = FundDesigner(data, SPEC.target_age, CE_CONSTRAINTS, knot_spacing_years=10, preferences=LOSS)
    z = d.constant_start(0.5)
    pt = d.evaluate(z, "ce")
    inc = retirement_income(data, margins(data, d.weights(z)).wealth_at_retirement)
    ref = reference_income(data, LOSS)
    assert ref is not None and np.allclose(ref, 0.7 * data.base_salary)
    assert pt.ce == preference_certainty_equivalent(inc, LOSS, reference=ref)
    assert np.isfinite(pt.ce_se) and 0 < pt.ce_se < 0.1 * pt.ce
    # some incomes fall below the reference: the mean utility is below CRRA's
    scale = float(np.median(inc))
    below = inc < ref
    assert below.any() and (~below).any()
    mean_v = float(income_utility(inc, LOSS, scale, ref).mean())
    assert mean_v < float(income_utility(inc, IncomePreferences(gamma=5.0), scale).mean())
    # a reference nobody falls below: the CE is CRRA's (1e-9: the two CEs are computed by
    # different formulas, logsumexp against inverse utility)
    low = dataclasses.replace(LOSS, reference_replacement=0.01)
    d_low = FundDesigner(
        data, SPEC.target_age, CE_CONSTRAINTS, knot_spacing_years=10, preferences=low
    )
    assert d_low.evaluate(z).ce == pytest.approx(float(certainty_equivalent(inc, 5.0)), rel=1e-9)


def test_loss_averse_gradient_matches_finite_differences(data: DesignData) -> None:
    """d mean v / dW_ret (the CE step's linearisation) against central differences of the
    mean utility, member-path by member-path away from the kink at the reference."""
    d = FundDesigner(data, SPEC.target_age, CE_CONSTRAINTS, knot_spacing_years=10, preferences=LOSS)
    w_ret = margins(data, d.weights(d.constant_start(0.5))).wealth_at_retirement
    value, per = d._income_model("ce", w_ret)
    inc = retirement_income(data, w_ret)
    ref = reference_income(data, LOSS)
    assert ref is not None
    scale = float(np.median(inc))
    h = 1.0  # real USD of balance; v is smooth on each side of the kink
    far = (np.abs(inc - ref) > 100.0) & (w_ret > h)
    v = lambda wr: income_utility(retirement_income(data, wr), LOSS, scale, ref)  # noqa: E731
    fd = (v(w_ret + h) - v(w_ret - h)) / (2 * h)
    # central differences: error O(h^2 v'''), far below 1e-6 of the derivative
    np.testing.assert_allclose(per[far], fd[far], rtol=1e-6)
    assert value == pytest.approx(float(v(w_ret).mean()), rel=1e-12)
    below = far & (inc < ref)
    assert below.any() and (~below & far).any()  # both sides of the kink are checked


def test_bequest_term_is_refused_with_the_reason(data: DesignData) -> None:
    with pytest.raises(OptimizationError, match=r"annuity.*nothing is left at death"):
        FundDesigner(data, SPEC.target_age, preferences=IncomePreferences(bequest_weight=1.0))


def test_member_paths_of_members_dead_before_retirement_are_dropped() -> None:
    members = draw_members(SPEC, 300, 8)
    mi, pi = pair_members_paths(300, 30, "cross")
    d = design_data(members, _scenarios(30, 2), ASSETS, mi, pi, rng=1)
    assert d.n == int(members.alive_at_retirement.sum()) * 30
    assert (d.social_security > 0).all()


def test_loss_averse_ce_objective_improves_its_own_score(data: DesignData) -> None:
    d = FundDesigner(data, SPEC.target_age, CE_CONSTRAINTS, knot_spacing_years=10, preferences=LOSS)
    z0 = d.constant_start(0.3)
    pt = d.optimise("ce", start=z0, max_iterations=4)
    assert pt.iterations > 0 and pt.ce > d.evaluate(z0).ce  # real USD a year
    assert d.gamma == LOSS.gamma and d.preferences is LOSS


def _full_step_value(
    d: FundDesigner, knots: np.ndarray, rho: float, p_level: float | None
) -> tuple[float, np.ndarray, np.ndarray]:
    """The unscreened shortfall step (every member-path a hinge, the LP as first written):
    its optimal value and the linear models (J_S, b_S) it was built from."""
    mg = margins(d.data, d.weights(knots), gradients=True)
    assert mg.dx_dg is not None and mg.ds_dg is not None
    jx = np.einsum("mt,mta,tk->mka", mg.dx_dg, d.growth, d.M)
    js = np.einsum("mt,mta,tk->mka", mg.ds_dg, d.growth, d.M)
    basis = simplex_basis(knots.shape[1])
    ax, bx = linear_model(mg.x, jx, knots, basis)
    a_s, b_s = linear_model(mg.shortfall, js, knots, basis)
    k, n_a = knots.shape
    u = cp.Variable((k, n_a - 1))
    uv = cp.vec(u, order="C")
    z = np.full((k, n_a), 1.0 / n_a) + u @ basis.T
    cons = [*d.constraints(z, 1.0), cp.abs(z - knots) <= rho]
    m = d.data.n
    if p_level is not None:
        c2 = cp.Variable()
        cons.append(c2 + cp.sum(cp.pos(-(bx + ax @ uv) - c2)) / (m * p_level) <= 0)
    c = cp.Variable()
    goal = c + cp.sum(cp.pos(cp.pos(b_s + a_s @ uv) - c)) / (m * (1 - d.beta))
    prob = cp.Problem(cp.Minimize(goal), cons)
    prob.solve(solver="CLARABEL")
    return float(prob.value), a_s, b_s


def _ru_cvar(s: np.ndarray, beta: float) -> float:
    """Rockafellar-Uryasev CVaR_beta of ``s``: min over c of c + E pos(s - c) / (1 - beta),
    attained at one of the values (the function is piecewise linear in c)."""
    top = np.sort(s)[-int(s.size * (1 - beta)) - 3 :]
    return min(c + np.maximum(s - c, 0.0).sum() / (s.size * (1 - beta)) for c in top)


@pytest.mark.parametrize("ceiling", [False, True])
def test_screened_step_solves_the_full_step_exactly(data: DesignData, ceiling: bool) -> None:
    """The screened subproblem (only member-paths near each threshold as hinges) reaches
    the optimum of the LP with every member-path a hinge."""
    c = FundConstraints(equity_at_target=(0.3, 0.7), max_change_per_year=0.05)
    d = FundDesigner(data, SPEC.target_age, c, knot_spacing_years=10)
    z0 = d.constant_start()
    start = d.evaluate(z0)
    p_level = start.bpoe * 0.99 if ceiling else None
    full, a_s, b_s = _full_step_value(d, z0, 0.1, p_level)
    sub = d._subproblem("shortfall", p_level)
    mg = margins(d.data, d.weights(z0), gradients=True)
    assert mg.dx_dg is not None and mg.ds_dg is not None
    sub.linearise(mg.x, knot_jacobian(mg.dx_dg, d.growth, d.M), z0, 0.1)
    sub.linearise_shortfall(mg.shortfall, knot_jacobian(mg.ds_dg, d.growth, d.M), z0)
    sub.solve(d.solvers, [], "test")
    z = sub.knots()
    assert z is not None
    u = (z[:, :-1] - 1.0 / z.shape[1]).ravel()  # simplex basis: z[:, :-1] = 1/A + U
    screened = _ru_cvar(np.maximum(b_s + a_s @ u, 0.0), d.beta)
    # 1e-6 years of need: interior-point round-off of two LPs with the same optimum (the
    # knots may differ: the LP's optimum need not be unique)
    assert screened == pytest.approx(full, abs=1e-6)
    u0 = (z0[:, :-1] - 1.0 / z0.shape[1]).ravel()
    # the centre is feasible without a ceiling: the model's optimum is no worse than it
    # (1e-9: round-off); with one it is not, and the screening still found the optimum
    if not ceiling:
        assert screened <= _ru_cvar(np.maximum(b_s + a_s @ u0, 0.0), d.beta) + 1e-9
    assert sum(sub.rounds) >= 1


def test_frontier_on_a_map_equals_the_serial_frontier(data: DesignData) -> None:
    """The frontier's searches are independent tasks: run through any map (here one that
    runs them in reverse order), the frontier is bit-identical."""
    c = FundConstraints(equity_at_target=(0.3, 0.7), max_change_per_year=0.05)
    d = FundDesigner(data, SPEC.target_age, c, knot_spacing_years=10)
    serial = d.frontier(n_points=4, max_iterations=4)

    def reverse_map(fn, tasks, shared):  # type: ignore[no-untyped-def]
        return [fn(t, shared) for t in tasks[::-1]][::-1]

    mapped = d.frontier(n_points=4, max_iterations=4, map_fn=reverse_map)
    for a, b in zip(serial.points, mapped.points, strict=True):
        np.testing.assert_array_equal(a.knots, b.knots)
        assert (a.success, a.bpoe, a.shortfall_cvar, a.ce) == (
            b.success,
            b.bpoe,
            b.shortfall_cvar,
            b.ce,
        )


def test_screened_success_step_solves_the_full_bpoe_step(data: DesignData) -> None:
    """The max-success step with screened hinges reaches the optimum of
    ``optimize.scp.bpoe_subproblem`` (every member-path a hinge)."""
    c = FundConstraints(equity_at_target=(0.3, 0.7), max_change_per_year=0.05)
    d = FundDesigner(data, SPEC.target_age, c, knot_spacing_years=10)
    z0 = d.constant_start()
    mg = margins(d.data, d.weights(z0), gradients=True)
    assert mg.dx_dg is not None
    jac = knot_jacobian(mg.dx_dg, d.growth, d.M)
    k, n_a = z0.shape
    full = bpoe_subproblem(d.data.n, k, n_a, d.constraints, reduced=True)
    full.linearise(mg.x, jac, z0, 0.1)
    full.solve(d.solvers, [], "test")
    sub = d._subproblem("success", None)
    sub.linearise(mg.x, jac, z0, 0.1)
    sub.solve(d.solvers, [], "test")
    z = sub.knots()
    assert z is not None
    # the full problem's objective at the screened knots: min over a of mean pos(1 - a x)
    x_lin = mg.x + jac.reshape(d.data.n, -1) @ (z - z0).ravel()
    # 1e-6: interior-point round-off of two LPs with the same optimum (bPOE of the model)
    assert buffered_failure_probability(x_lin) == pytest.approx(full.problem.value, abs=1e-6)
    assert sum(sub.rounds) >= 1
