"""The SCP wealth model (``optimize.glidepath.forward_model``) reads the plan's cash flows
from ``backtest.cashflows`` like the engines do: the cases the engines are tested on."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.cashflows import cash_flow_rules
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from optimize.glidepath import forward_model, make_glide_path, margins_and_gradients


@pytest.mark.parametrize("timing", ["start", "end", "split"])
def test_nominal_withdrawal_is_the_same_dollars_whatever_the_timing(timing: str) -> None:
    """Regression: one cash asset at 0 %, 10 % inflation, a nominal 10 % rule for one
    year: she holds 0.90 nominal dollars at the end whatever the timing (0.89 once)."""
    sc = Scenarios(np.zeros((1, 1, 1)), np.full((1, 1), 0.10), ("cash",), "annual")
    rule = ConstantReal(rate=0.10, indexed=False, timing=timing)  # type: ignore[arg-type]
    fp = forward_model(sc, Plan(65, 65, 66, 1.0, withdrawal=rule), np.array([[1.0]]))
    # 0.90 nominal is 0.90 / 1.1 real; 1e-14: round-off of a few operations.
    np.testing.assert_allclose(fp.wealth[0, -1] * 1.1, 0.90, rtol=1e-14)
    np.testing.assert_allclose(fp.wealth_untruncated[0, -1] * 1.1, 0.90, rtol=1e-14)


ASSETS = ("us_stocks", "tbonds_10y")


def _population(n: int = 150, n_t: int = 70, seed: int = 0):
    """A member per scenario: contributions, spending and a cash-out that differ."""
    rng = np.random.default_rng(seed)
    r = np.stack([rng.normal(0.08, 0.18, (n, n_t)), rng.normal(0.04, 0.07, (n, n_t))], -1)
    sc = Scenarios(r, rng.normal(0.03, 0.02, (n, n_t)), ASSETS, "annual")
    plan = Plan(
        25,
        65,
        95,
        1000.0,
        contributions=Contributions(50_000, 0.10, 0.01, 0.5, 0.06),
        withdrawal=ConstantReal(rate=0.045, indexed=False, timing="split"),
        expense_ratio=0.002,
    )
    rules = cash_flow_rules(plan, 1)
    leak = np.zeros((n, n_t))
    leak[::4, 30] = 0.4  # a quarter of the members cash 40 % out at 55
    rules = rules.with_schedules(
        contributions=rules.contributions * rng.uniform(0.2, 1.8, (n, 1)),
        spending=rules.spending * rng.uniform(0.7, 1.3, (n, 1)),
        leakage=leak,
    )
    e = np.linspace(0.9, 0.3, n_t)
    return sc, plan, rules, np.column_stack([e, 1 - e])


def test_forward_model_matches_engine_with_per_scenario_schedules() -> None:
    sc, plan, rules, w = _population()
    strat = make_glide_path("p", ASSETS, np.arange(25.0, 95.0), w, plan, 1)
    res = simulate(sc, plan, strat, cash_flows=rules)
    fp = forward_model(sc, plan, w, rules)
    # Same arithmetic in another order: round-off only, relative to the balance.
    np.testing.assert_allclose(fp.wealth, res.wealth, rtol=1e-9, atol=1e-9 * res.wealth.max())
    assert 0.05 < res.success_rate < 1.0  # the fixture must exercise ruin
    assert res.leakage[::4, 30].min() > 0
    x, _ = margins_and_gradients(sc, plan, w, None, rules)
    np.testing.assert_array_equal(x >= 0, res.success)


def test_adjoint_gradient_with_per_scenario_schedules_and_leakage() -> None:
    sc, plan, rules, w = _population(n=40)
    _, grad = margins_and_gradients(sc, plan, w, None, rules)
    eps = 1e-6
    for t, a in [(3, 0), (30, 1), (39, 0), (40, 1), (55, 0)]:
        up, dn = w.copy(), w.copy()
        up[t, a] += eps
        dn[t, a] -= eps
        fd = (
            margins_and_gradients(sc, plan, up, None, rules)[0]
            - margins_and_gradients(sc, plan, dn, None, rules)[0]
        ) / (2 * eps)
        # central differences: truncation O(eps^2), round-off ~1e-16 / eps ~ 1e-10
        np.testing.assert_allclose(grad[:, t, a], fd, rtol=1e-5, atol=1e-7)
