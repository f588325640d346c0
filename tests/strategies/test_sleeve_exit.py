"""Leaving a sleeve for good: ExitSleeve, SellAfterDrawdown and their helpers."""

from __future__ import annotations

import numpy as np
import pytest

from strategies import CryptoSleeve, FixedMix, Schedule
from strategies.errors import StrategyError
from strategies.rebalance import buy_and_hold
from strategies.sleeve_exit import ExitSleeve, SellAfterDrawdown, drawdown_exit, drop_asset

BASE = FixedMix("60/40", ("us_stocks", "tbonds_10y"), (0.6, 0.4))
SLEEVE = CryptoSleeve(BASE, 0.05, crypto_asset="btc")
SCHEDULE = Schedule.from_ages(60, 66, 65, 1)  # six annual periods


def _returns(n: int = 3, seed: int = 0) -> np.ndarray:
    g = np.random.default_rng(seed)
    return np.expm1(g.normal(0.03, 0.3, (n, SCHEDULE.n_periods, 3)))


def test_drop_asset_moves_the_weight_pro_rata_and_touches_nothing_else():
    w = np.array([[[0.57, 0.38, 0.05], [0.6, 0.4, 0.0]]])  # 1 x 2 periods x 3 assets
    out = np.array([[True, True], [False, True]])  # 2 scenarios
    got = drop_asset(w, 2, out)
    assert got.shape == (2, 2, 3)
    np.testing.assert_allclose(got[0, 0], [0.6, 0.4, 0.0], rtol=1e-15)  # 0.57/0.95, 0.38/0.95
    np.testing.assert_array_equal(got[1, 0], w[0, 0])  # not out: exactly the input
    np.testing.assert_array_equal(got[:, 1], w[0, [1, 1]])  # weight 0: exactly the input
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=1e-15)


def test_exit_sleeve_holds_the_base_until_each_scenarios_exit_then_none():
    r = _returns()
    exit_ = ExitSleeve(SLEEVE, "btc", (0, 2, 99))
    w = exit_.target_weights(SCHEDULE, r)
    base = np.broadcast_to(SLEEVE.target_weights(SCHEDULE, r), w.shape)
    assert exit_.assets == SLEEVE.assets and exit_.depends_on_returns
    assert exit_.sleeve_band == SLEEVE.sleeve_band and exit_.name.endswith("btc exited")
    np.testing.assert_array_equal(w[0, :, 2], 0.0)
    np.testing.assert_array_equal(w[1, :2], base[1, :2])
    np.testing.assert_array_equal(w[1, 2:, 2], 0.0)
    np.testing.assert_array_equal(w[2], base[2])  # exit past the plan: never
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-12)


def test_a_zero_sleeve_is_unchanged_bit_for_bit():
    zero = CryptoSleeve(BASE, 0.0, crypto_asset="btc")
    r = _returns()
    base = np.broadcast_to(zero.target_weights(SCHEDULE, r), (3, SCHEDULE.n_periods, 3))
    np.testing.assert_array_equal(ExitSleeve(zero, "btc", (0,)).target_weights(SCHEDULE, r), base)
    crash = np.full_like(r, -0.6)
    got = SellAfterDrawdown(zero, "btc").target_weights(SCHEDULE, crash)
    np.testing.assert_array_equal(got, base)


def test_drawdown_exit_uses_only_returns_already_seen():
    r = np.array([[0.5, -0.4, -0.2, 0.1, 3.0, 0.0]])
    # Index at each period's start: 1, 1.5, 0.9, 0.72 (48 % of the 1.5 peak): out from 3.
    np.testing.assert_array_equal(drawdown_exit(r, 0.5), [[False, False, False, True, True, True]])
    # Stays out after the price recovers (period 4's +300 %), and a later start resets
    # the peak: watched from period 2, the index never falls 50 %.
    np.testing.assert_array_equal(drawdown_exit(r, 0.5, start=2), np.zeros((1, 6), dtype=bool))
    g = np.random.default_rng(1)
    many = np.expm1(g.normal(0.0, 0.5, (200, 30)))
    out = drawdown_exit(many, 0.5)
    for t in (5, 17):
        future = many.copy()
        future[:, t:] = np.expm1(g.normal(0.0, 0.5, (200, 30 - t)))
        np.testing.assert_array_equal(drawdown_exit(future, 0.5)[:, : t + 1], out[:, : t + 1])


def test_sell_after_drawdown_drops_the_sleeve_once_it_has_fallen():
    r = np.zeros((2, SCHEDULE.n_periods, 3))
    r[0, 1, 2] = -0.55  # scenario 0: btc falls 55 % in period 1
    w = SellAfterDrawdown(SLEEVE, "btc", 0.5).target_weights(SCHEDULE, r)
    np.testing.assert_array_equal(w[0, :2, 2], 0.05)
    np.testing.assert_array_equal(w[0, 2:, 2], 0.0)
    np.testing.assert_allclose(w[0, 2:, :2], [[0.6, 0.4]] * 4, rtol=1e-15)
    np.testing.assert_array_equal(w[1, :, 2], 0.05)


def test_bad_wrappers_are_named():
    with pytest.raises(StrategyError, match="does not hold 'eth'"):
        ExitSleeve(SLEEVE, "eth", (1,))
    with pytest.raises(StrategyError, match="first_period_out"):
        ExitSleeve(SLEEVE, "btc", (-1,))
    with pytest.raises(StrategyError, match="2 entries for 3 scenarios"):
        ExitSleeve(SLEEVE, "btc", (1, 2)).target_weights(SCHEDULE, _returns())
    with pytest.raises(StrategyError, match="drawdown"):
        SellAfterDrawdown(SLEEVE, "btc", 1.5)
    held = CryptoSleeve(FixedMix("hold", BASE.assets, BASE.weights, rebalance=buy_and_hold()), 0.05)
    with pytest.raises(StrategyError, match="never rebalances"):
        SellAfterDrawdown(held, "btc")
