"""The dynamic-programming solver: known answers, bounds, no look-ahead, model agreement."""

from __future__ import annotations

import numpy as np
import pytest

import strategies.base as strategies_base
from backtest.errors import PlanError
from backtest.plan import ConstantReal, Contributions, FixedPercent, FundedRatio, Plan
from optimize.dynamic import (
    Objective,
    ReturnModel,
    alive_at_start,
    forward_model,
    lognormal_model,
    max_success,
    min_shortfall,
    present_values,
    solve_adaptive,
    tradeoff,
    weight_candidates,
    year_flows,
)
from optimize.glidepath import OptimizationError


def two_point(up: float, down: float, p: float, riskless: float) -> ReturnModel:
    """One risky asset with two outcomes and a riskless one; real (zero inflation)."""
    return ReturnModel(
        assets=("risky", "safe"),
        nominal=np.array([[up, riskless], [down, riskless]]),
        inflation=np.zeros(2),
        prob=np.array([p, 1.0 - p]),
        description="two-point",
    )


def merton_fraction(up: float, down: float, p: float, rf: float, gamma: float) -> float:
    """Closed form of argmax_w E[(rf + w (R - rf))^(1 - gamma)] for two-point gross R."""
    k = (p * (up - rf) / ((1 - p) * (rf - down))) ** (1 / gamma)
    return rf * (k - 1) / ((up - rf) + k * (rf - down))


def test_recovers_the_merton_fraction_at_every_age_and_wealth() -> None:
    model = two_point(0.30, -0.10, 0.5, 0.02)
    w_star = merton_fraction(1.30, 0.90, 0.5, 1.02, 4.0)  # 0.5619
    plan = Plan(start_age=60, retirement_age=65, end_age=65, initial_balance=100.0)
    res = solve_adaptive(
        plan, model, Objective(crra_gamma=4.0), n_states=101, weight_step=0.01, state="wealth"
    )
    risky = res.policy.weights[:, :, 0]
    # the optimum is constant in age and wealth (CRRA, i.i.d.); the weight grid is 0.01
    assert np.max(np.abs(risky - w_star)) <= 0.005 + 1e-12


def lognormal_one_risky(mu: float, sigma: float, rf: float, nodes: int) -> ReturnModel:
    """Risky ``log R ~ Normal(mu, sigma^2)`` on Gauss-Hermite nodes (as a weighted
    "history"), and a riskless asset paying ``rf``; real (zero inflation), annual."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    return ReturnModel(
        assets=("risky", "safe"),
        nominal=np.column_stack([np.expm1(mu + sigma * z), np.full(nodes, rf)]),
        inflation=np.zeros(nodes),
        prob=w / w.sum(),
        description=f"lognormal risky on {nodes} Gauss-Hermite nodes, riskless {rf}",
    )


def exact_lognormal_share(mu: float, sigma: float, rf: float, gamma: float) -> float:
    """argmax_w E[u((1 + rf) + w (R - 1 - rf))] for CRRA u and lognormal R, by adaptive
    quadrature over the normal density and a bounded 1-D search (no DP, no nodes)."""
    from scipy import integrate, optimize

    def minus_eu(w: float) -> float:
        def f(z: float) -> float:
            y = (1 + rf) + w * (np.exp(mu + sigma * z) - 1 - rf)
            return float(y ** (1 - gamma) / (1 - gamma) * np.exp(-z * z / 2))

        return -integrate.quad(f, -12, 12, epsabs=1e-13, epsrel=1e-12)[0]

    res = optimize.minimize_scalar(minus_eu, bounds=(0, 1), method="bounded")
    return float(res.x)


MU, SIGMA, RF = 0.05, 0.20, 0.01  # log mean, log volatility, riskless real return


@pytest.mark.parametrize("gamma", [2.0, 5.0, 10.0])
def test_recovers_the_merton_fraction_for_lognormal_returns_in_one_period(gamma: float) -> None:
    model = lognormal_one_risky(MU, SIGMA, RF, nodes=41)
    plan = Plan(start_age=64, retirement_age=65, end_age=65, initial_balance=100.0)
    step = 0.01
    res = solve_adaptive(
        plan, model, Objective(crra_gamma=gamma), n_states=21, weight_step=step, state="wealth"
    )
    assert res.n_years == 1
    exact = exact_lognormal_share(MU, SIGMA, RF, gamma)
    # continuous-time Merton share (mu - r + sigma^2 / 2) / (gamma sigma^2) with mu the log
    # mean: a one-year period moves it by under half a point at these parameters
    merton = (MU - np.log1p(RF) + SIGMA**2 / 2) / (gamma * SIGMA**2)
    assert abs(exact - merton) < 0.005
    # first-period risky share, the same at every wealth node (CRRA is scale-free): within
    # half the weight grid's step of the exact optimum, plus 0.001 for the 41-node quadrature
    first = res.policy.weights[0, :, 0]
    assert np.max(np.abs(first - exact)) <= step / 2 + 0.001


def test_higher_risk_aversion_holds_less_risk() -> None:
    model = lognormal_one_risky(MU, SIGMA, RF, nodes=41)
    plan = Plan(start_age=64, retirement_age=65, end_age=65, initial_balance=100.0)
    share = [
        solve_adaptive(
            plan, model, Objective(crra_gamma=g), n_states=21, weight_step=0.01, state="wealth"
        ).policy.weights_at(0, np.array([100.0]))[0, 0]
        for g in (2.0, 5.0, 10.0)
    ]
    assert share[0] > share[1] > share[2] > 0


def exact_success(w: float, t: int, flows, cand, gross, prob) -> float:
    """Optimal P(money lasts) by plain recursion on the exact wealth (no grid)."""
    b = w + flows.cs[t] - flows.ws[t]
    if b < 0:
        return 0.0
    best = 0.0
    for c in cand:
        v = 0.0
        for g, p in zip(gross, prob, strict=True):
            y = b * float(c @ g) * flows.fee_factor + flows.ce[t] - flows.we[t]
            if y >= 0:
                v += p * (
                    1.0
                    if t == flows.n_years - 1
                    else exact_success(y, t + 1, flows, cand, gross, prob)
                )
        best = max(best, v)
    return best


def test_recovers_the_exact_optimum_of_a_small_tree() -> None:
    """A retiree spending 1 a year for 4 years from 3.2, with a +60 % / -40 % coin flip."""
    model = two_point(0.60, -0.40, 0.5, 0.0)
    plan = Plan(
        start_age=90,
        retirement_age=90,
        end_age=94,
        initial_balance=3.2,
        withdrawal=ConstantReal(rate=None, amount=1.0, timing="split"),
    )
    flows = year_flows(plan)
    exact = exact_success(3.2, 0, flows, weight_candidates(2, 0.1), model.real_gross, model.prob)
    assert exact == pytest.approx(0.5625, abs=1e-12)  # 9 / 16, from the recursion above
    res = solve_adaptive(plan, model, n_states=2001, weight_step=0.1, state="wealth")
    # the grid resolves every reachable jump of the value at 2001 nodes (1e-9: round-off)
    assert res.value == pytest.approx(exact, abs=1e-9)


@pytest.fixture(scope="module")
def saver() -> Plan:
    return Plan(
        start_age=45,
        retirement_age=62,
        end_age=90,
        initial_balance=180_000,
        contributions=Contributions(
            salary=90_000,
            rate=0.10,
            match_rate=1.0,
            match_cap=0.03,
            annual_limit=23_500,
            catch_up=7_500,
            timing="start",
        ),
        withdrawal=ConstantReal(rate=None, amount=40_000, timing="split"),
        expense_ratio=0.006,
    )


def test_weights_in_bounds_sum_to_one_and_value_is_a_probability(
    iid_model: ReturnModel, saver: Plan
) -> None:
    res = solve_adaptive(saver, iid_model, n_states=81)
    w = res.policy.weights
    assert w.min() >= 0 and w.max() <= 1
    np.testing.assert_allclose(w.sum(axis=2), 1.0, atol=1e-12)  # a grid row: exact up to round-off
    v = res.policy.value
    assert v.min() >= 0 and v.max() <= 1 + 1e-12
    # more wealth never lowers the probability of success (interpolation keeps monotonicity)
    assert np.all(np.diff(v, axis=1) >= -1e-12)


def test_dp_value_agrees_with_its_forward_simulation(iid_model: ReturnModel, retiree: Plan) -> None:
    res = solve_adaptive(retiree, iid_model, n_states=201, n_paths=20_000, rng=3)
    se = np.sqrt(res.value * (1 - res.value) / 20_000)
    # the promise is kept on fresh i.i.d. paths of the same model (2 standard errors)
    assert abs(res.success_model - res.value) < 2 * se + 1e-3


def test_no_look_ahead_under_perturbed_future_returns(iid_model: ReturnModel, saver: Plan) -> None:
    res = solve_adaptive(saver, iid_model, n_states=81)
    flows = year_flows(saver)
    rng = np.random.default_rng(7)
    gross = iid_model.sample(200, flows.n_years, rng)
    g = (1 + gross.returns) / (1 + gross.inflation[:, :, None])
    _, _, held, _ = forward_model(res.policy, flows, g)
    cut = 20
    g2 = g.copy()
    g2[:, cut:] *= rng.uniform(0.5, 1.5, g2[:, cut:].shape)
    _, _, held2, _ = forward_model(res.policy, flows, g2)
    np.testing.assert_array_equal(held[:, : cut + 1], held2[:, : cut + 1])
    assert not np.array_equal(held[:, cut + 1 :], held2[:, cut + 1 :])


def test_adapting_beats_the_best_constant_mix_in_the_model(
    iid_model: ReturnModel, retiree: Plan
) -> None:
    res = solve_adaptive(retiree, iid_model, n_states=201)
    flows = year_flows(retiree)
    paths = iid_model.sample(20_000, flows.n_years, 11)
    g = (1 + paths.returns) / (1 + paths.inflation[:, :, None])
    _, ruin_dp, _, _ = forward_model(res.policy, flows, g)
    best = 0.0
    for e in np.linspace(0, 1, 21):
        const = res.policy.__class__(
            **{
                **res.policy.__dict__,
                "weights": np.broadcast_to([e, 1 - e], res.policy.weights.shape),
            }
        )
        _, ruin, _, _ = forward_model(const, flows, g)
        best = max(best, float(np.mean(ruin < 0)))
    # a constant mix is one of the policies the DP searches over: it cannot do worse on
    # its own model beyond sampling noise (paired paths; 0.5 pp is over 3 s.e. here)
    assert np.mean(ruin_dp < 0) >= best - 0.005


def test_shortfall_and_tradeoff_objectives(iid_model: ReturnModel, retiree: Plan) -> None:
    a = solve_adaptive(retiree, iid_model, max_success(), n_states=101)
    b = solve_adaptive(retiree, iid_model, min_shortfall(), n_states=401)
    c = solve_adaptive(retiree, iid_model, tradeoff(0.05, "shortfall"), n_states=101)
    flows = year_flows(retiree)
    paths = iid_model.sample(20_000, flows.n_years, 5)
    g = (1 + paths.returns) / (1 + paths.inflation[:, :, None])
    unpaid = {}
    success = {}
    for k, r in {"a": a, "b": b, "c": c}.items():
        _, ruin, _, _ = forward_model(r.policy, flows, g)
        unpaid[k] = float(np.where(ruin >= 0, flows.n_years - ruin, 0).mean())
        success[k] = float(np.mean(ruin < 0))
    # (b)'s value is minus the expected unpaid years, kept forward: 0.07 years is 3
    # standard errors of the 20,000-path mean (the DP's own grid bias is 0.02 at 401 nodes)
    assert -b.value == pytest.approx(unpaid["b"], abs=0.07)
    # each objective wins on its own measure (common paths; small slack for noise)
    assert unpaid["b"] <= unpaid["a"] + 0.02
    assert success["a"] >= success["b"] - 0.003
    assert unpaid["c"] <= unpaid["a"] + 0.02


def test_survival_weighting(iid_model: ReturnModel, retiree: Plan) -> None:
    n = 30
    plain = solve_adaptive(retiree, iid_model, n_states=101)
    ones = solve_adaptive(retiree, iid_model, n_states=101, survival=np.ones(n))
    assert ones.value == pytest.approx(plain.value, abs=1e-12)
    q = np.linspace(0.99, 0.80, n)  # falling one-year survival
    mortal = solve_adaptive(retiree, iid_model, n_states=101, survival=q)
    # dying with money left counts as success: the promise can only rise
    assert mortal.value > plain.value
    assert mortal.success_model == pytest.approx(mortal.value, abs=0.02)
    np.testing.assert_allclose(alive_at_start(q, n)[:3], [1.0, 0.99, 0.99 * q[1]])
    with pytest.raises(OptimizationError, match="survival"):
        solve_adaptive(retiree, iid_model, survival=np.ones(5))


def test_unsupported_plans_say_so(iid_model: ReturnModel, retiree: Plan) -> None:
    from dataclasses import replace

    with pytest.raises(PlanError, match="constant real withdrawal"):
        solve_adaptive(replace(retiree, withdrawal=FixedPercent(0.04)), iid_model)
    with pytest.raises(PlanError, match="constant real withdrawal"):
        solve_adaptive(replace(retiree, withdrawal=ConstantReal(rate=0.04)), iid_model)
    with pytest.raises(PlanError, match="RMD"):
        solve_adaptive(replace(retiree, rmd_floor=True), iid_model)
    funded = Plan(
        start_age=25,
        retirement_age=65,
        end_age=95,
        contributions=Contributions(salary=50_000, rate=0.1),
        success=FundedRatio(replacement_rate=0.5),
    )
    with pytest.raises(PlanError, match="funded-ratio"):
        solve_adaptive(funded, iid_model)
    with pytest.raises(OptimizationError, match="weight_step"):
        solve_adaptive(retiree, iid_model, weight_step=0.03)


def test_present_values_and_flows(saver: Plan) -> None:
    flows = year_flows(saver)
    assert flows.cs[0] == pytest.approx(9_000 + 2_700)  # 10 % of salary + 3 % match, at start
    assert flows.ws[-1] == flows.we[-1] == 20_000  # split: half at each end
    spend, contrib = present_values(flows, 0.0)
    assert spend[0] == pytest.approx(40_000 * (90 - 62))  # undiscounted: the sum
    assert contrib[-1] == 0.0
    spend_r, _ = present_values(flows, 0.03)
    # the last year: 20,000 now + 20,000 a year later at 3 %
    assert spend_r[-1] == pytest.approx(20_000 + 20_000 / 1.03)


def test_lognormal_nodes_match_the_moments() -> None:
    cov = np.array([[0.04, 0.006], [0.006, 0.01]])
    m = lognormal_model(("a", "b"), [0.05, 0.01], cov, nodes=5)
    logs = np.log1p(m.nominal)
    np.testing.assert_allclose(m.prob @ logs, [0.05, 0.01], atol=1e-14)  # Gauss-Hermite exact
    centred = logs - m.prob @ logs
    np.testing.assert_allclose(centred.T @ (centred * m.prob[:, None]), cov, atol=1e-14)


def test_three_assets_and_candidates() -> None:
    c = weight_candidates(3, 0.05)
    assert c.shape == (231, 3)
    np.testing.assert_allclose(c.sum(axis=1), 1.0, atol=1e-15)


# --------------------------------------------------------------------- through the engine

needs_hook = pytest.mark.skipif(
    not hasattr(strategies_base, "StateTable"),
    reason="the simulator's StateTable hook has not landed",
)


@needs_hook
def test_engine_keeps_the_promise_and_matches_the_solver_model(
    iid_model: ReturnModel, saver: Plan
) -> None:
    from backtest.simulate import simulate

    res = solve_adaptive(saver, iid_model, n_states=201)
    flows = year_flows(saver)
    sc = iid_model.sample(5_000, flows.n_years, 21)
    sim = simulate(sc, saver, res.policy, engine="numpy", record_weights=True)
    g = (1 + sc.returns) / (1 + sc.inflation[:, :, None])
    wealth, ruin, held, turnover = forward_model(res.policy, flows, g)
    # no trading costs in this plan: the engine and the solver's model are the same
    # recursion (round-off only; the engine rebalances holdings, the model the balance)
    np.testing.assert_allclose(sim.wealth, wealth, rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(sim.ruin_period, ruin)
    alive = sim.wealth[:, :-1] > 0
    np.testing.assert_allclose(sim.weights[alive], held[alive], atol=1e-9)
    np.testing.assert_allclose(sim.turnover, turnover, atol=1e-9)
    se = np.sqrt(res.value * (1 - res.value) / sc.n_scenarios)
    assert abs(sim.success_rate - res.value) < 2 * se + 2e-3  # 2 s.e. and the grid's bias


@needs_hook
def test_engines_agree_with_an_adaptive_policy(iid_model: ReturnModel, saver: Plan) -> None:
    from dataclasses import replace

    from backtest.simulate import simulate

    plan = replace(saver, transaction_cost_bps=10.0)
    res = solve_adaptive(plan, iid_model, n_states=101)
    sc = iid_model.sample(500, plan.n_periods(1), 4)
    a = simulate(sc, plan, res.policy, engine="numpy")
    b = simulate(sc, plan, res.policy, engine="numba")
    # the two engines run the same events in the same order (round-off only)
    np.testing.assert_allclose(a.wealth, b.wealth, rtol=1e-11, atol=1e-11 * 1e6)
    np.testing.assert_array_equal(a.ruin_period, b.ruin_period)
    np.testing.assert_allclose(a.turnover, b.turnover, rtol=1e-11, atol=1e-11)


@needs_hook
def test_engine_has_no_look_ahead(iid_model: ReturnModel, saver: Plan) -> None:
    from backtest.scenarios import Scenarios
    from backtest.simulate import simulate

    res = solve_adaptive(saver, iid_model, n_states=101)
    sc = iid_model.sample(300, saver.n_periods(1), 8)
    cut = 15
    r2 = np.array(sc.returns)
    r2[:, cut:] = np.random.default_rng(1).uniform(-0.5, 0.8, r2[:, cut:].shape)
    sc2 = Scenarios(r2, sc.inflation, sc.assets, "annual")
    a = simulate(sc, saver, res.policy, engine="numpy", record_weights=True)
    b = simulate(sc2, saver, res.policy, engine="numpy", record_weights=True)
    # weights up to and including period `cut` use only what is known at its start
    np.testing.assert_array_equal(a.weights[:, : cut + 1], b.weights[:, : cut + 1])
    assert not np.array_equal(a.weights[:, cut + 1 :], b.weights[:, cut + 1 :])


@pytest.mark.parametrize(
    "objective", [max_success(), min_shortfall(), tradeoff(0.03, "wealth")], ids=str
)
def test_compiled_expectations_match_numpy(
    iid_model: ReturnModel, saver: Plan, objective: Objective
) -> None:
    q = np.linspace(0.999, 0.85, saver.n_periods(1))
    a = solve_adaptive(saver, iid_model, objective, n_states=61, survival=q, n_paths=50)
    b = solve_adaptive(
        saver, iid_model, objective, n_states=61, survival=q, n_paths=50, engine="numpy"
    )
    # the same sums in another order: round-off only, and the same choices
    np.testing.assert_allclose(a.policy.value, b.policy.value, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(a.policy.weights, b.policy.weights)
