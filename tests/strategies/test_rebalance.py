"""Named rebalancing rules, and their effect in the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.plan import Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from strategies import FixedMix, RebalanceRule, band, buy_and_hold, calendar
from strategies.rebalance import describe

# Two assets and a few periods of round returns: round-off only.
TOL = 1e-12


def test_constructors():
    assert buy_and_hold() == RebalanceRule(kind="none")
    assert calendar("monthly").every_months == 1
    assert calendar("quarterly").every_months == 3
    assert calendar("annual") == RebalanceRule()
    assert calendar(24).every_months == 24
    assert band(0.05) == RebalanceRule(kind="band", band=0.05, band_kind="absolute")
    assert band(0.2, "relative").band_kind == "relative"
    with pytest.raises(ValueError, match="weekly"):
        calendar("weekly")  # type: ignore[arg-type]
    assert [describe(r) for r in (buy_and_hold(), calendar("quarterly"), band(0.05))] == [
        "buy and hold",
        "quarterly",
        "band 5pp",
    ]


def _run(rule: RebalanceRule, stock_returns: list[float]) -> np.ndarray:
    t = len(stock_returns)
    r = np.zeros((1, t, 2))
    r[0, :, 0] = stock_returns
    sc = Scenarios(r, np.zeros((1, t)), ("eq", "bd"), "monthly")
    plan = Plan(
        start_age=60.0, retirement_age=60 + t / 12, end_age=60 + t / 12, initial_balance=1.0
    )
    res = simulate(
        sc, plan, FixedMix("m", ("eq", "bd"), (0.5, 0.5), rebalance=rule), record_weights=True
    )
    return res.weights[0, :, 0]


def test_buy_and_hold_drifts_calendar_and_band_trade_back():
    rets = [0.2, 0.0, 0.0, 0.0]
    drift = 0.6 / 1.1  # 50 -> 60 of 110
    np.testing.assert_allclose(_run(buy_and_hold(), rets), [0.5, drift, drift, drift], atol=TOL)
    # quarterly: first trade at period 3
    np.testing.assert_allclose(
        _run(calendar("quarterly"), rets), [0.5, drift, drift, 0.5], atol=TOL
    )
    # 4.5 pp off: inside a 5 pp band, outside a 4 pp band
    np.testing.assert_allclose(_run(band(0.05), rets), [0.5, drift, drift, drift], atol=TOL)
    np.testing.assert_allclose(_run(band(0.04), rets), [0.5, 0.5, 0.5, 0.5], atol=TOL)
    # relative: 4.5 / 50 = 9 % off
    np.testing.assert_allclose(_run(band(0.08, "relative"), rets), [0.5, 0.5, 0.5, 0.5], atol=TOL)
