"""GlidingSleeve: a Bitcoin sleeve inside a glide path, shrinking toward the target date."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.crypto.assumptions import BtcAssumption, draw_crn
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from strategies import GlidingSleeve, Schedule, preset, validate_weights

# Weights are a few multiplications of round numbers: round-off only.
TOL = 1e-12
ASSETS = ("us_stocks", "tbonds_10y", "tbills")


def _scenarios(n: int = 200, t: int = 70, seed: int = 0) -> Scenarios:
    """Random annual stocks, bonds and bills, inflation 2 %, and a Bitcoin column."""
    g = np.random.default_rng(seed)
    r = np.empty((n, t, 3))
    r[:, :, 0] = np.expm1(g.normal(0.07, 0.18, (n, t)))
    r[:, :, 1] = np.expm1(g.normal(0.02, 0.08, (n, t)))
    r[:, :, 2] = np.abs(g.normal(0.02, 0.01, (n, t)))
    base = Scenarios(r, np.full((n, t), 0.02), ASSETS, "annual")
    return draw_crn(base, "us_stocks", rng=seed + 1).scenarios(BtcAssumption(0.05, 0.6, 0.2))


def _plan() -> Plan:
    return Plan(
        start_age=25,
        retirement_age=65,
        end_age=95,
        initial_balance=0,
        contributions=Contributions(salary=50_000, rate=0.10),
        withdrawal=ConstantReal(rate=None, amount=35_000),
        expense_ratio=0.002,
        transaction_cost_bps=10,
    )


def test_zero_sleeve_equals_the_plain_vintage_bit_for_bit():
    sc, plan = _scenarios(), _plan()
    base = preset("vanguard_target_retirement")
    plain = simulate(sc, plan, base)
    zero = simulate(sc, plan, GlidingSleeve(base, 0.0, 0.0))
    for field in ("wealth", "withdrawals", "success", "ruin_period", "turnover"):
        assert np.array_equal(getattr(plain, field), getattr(zero, field)), field
    # and a real sleeve does change the outcome (the test can fail)
    some = simulate(sc, plan, GlidingSleeve(base, 0.05, 0.0))
    assert not np.array_equal(plain.wealth, some.wealth)


def test_sleeve_glides_linearly_to_its_end_size():
    base = preset("vanguard_target_retirement")
    s = GlidingSleeve(base, 0.05, 0.01, shrink_from_years=25, shrink_to_years=0)
    ytr = np.array([40.0, 25.0, 12.5, 0.0, -10.0])
    np.testing.assert_allclose(s.sleeve_at(ytr), [0.05, 0.05, 0.03, 0.01, 0.01], atol=TOL)
    sched = Schedule.from_ages(25, 95, 65, 1)
    w = s.target_weights(sched, np.zeros((1, sched.n_periods, 4)))
    validate_weights(w, s.assets, s.name)
    assert s.assets == ("us_stocks", "tbonds_10y", "btc")
    # funded pro rata: the base's weights times 1 - sleeve
    b = base.target_weights(sched, np.zeros((1, sched.n_periods, 2)))
    sleeve = s.sleeve_at(sched.years_to_retirement)
    np.testing.assert_allclose(w[0, :, :2], b[0] * (1 - sleeve)[:, None], atol=TOL)
    np.testing.assert_allclose(w[0, :, 2], sleeve, atol=TOL)
    assert not s.depends_on_returns
    assert s.rebalance == base.rebalance
    assert s.name == "Vanguard-style target retirement + 5%->1% btc"


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"size_at_start": 1.2}, "size_at_start"),
        ({"size_at_target": -0.01}, "size_at_target"),
        ({"shrink_from_years": 0.0, "shrink_to_years": 5.0}, "shrink_from_years"),
        ({"asset": "us_stocks"}, "already holds"),
        ({"size_at_start": "5%"}, "must be a number"),
    ],
)
def test_validation(kw, match):
    args = {"base": preset("vanguard_target_retirement"), "size_at_start": 0.05}
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        GlidingSleeve(**args)
