"""The fiduciary stresses of a Bitcoin sleeve (backtest.crypto.stresses)."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd
import pytest

from backtest.crypto.assumptions import BtcAssumption, CrnDraws, draw_crn
from backtest.crypto.stresses import (
    ETF_FEES,
    WINTERS,
    crypto_winter,
    drawdown_crossings,
    etf_fee,
    impairment_at,
    impairment_random,
    leveraged_equity,
    panic_sale,
    peak_correlation,
    peak_to_trough,
    premium_decay,
)
from backtest.data import load_history
from backtest.errors import DataError
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from backtest.stress import (
    IMPAIRED,
    CorrelationJump,
    PathShock,
    PlacedShock,
    period_at_age,
    replay,
    stress_table,
)
from strategies import CryptoSleeve, FixedMix

BASE = FixedMix("60/40", ("us_stocks", "tbonds_10y", "tbills"), (0.6, 0.4, 0.0))
CENTRAL = BtcAssumption(0.05, 0.60, 0.2)
N, T = 300, 40


def _plan() -> Plan:
    # Flows at the end of each period, so the balance a period starts with is the one
    # invested over it (the impairment test reads the sleeve's holding from it).
    return Plan(
        start_age=35,
        retirement_age=55,
        end_age=75,
        initial_balance=100_000,
        contributions=Contributions(salary=60_000, rate=0.10, timing="end"),
        withdrawal=ConstantReal(rate=None, amount=20_000, timing="end"),
        expense_ratio=0.002,
    )


@cache
def _draws() -> CrnDraws:
    g = np.random.default_rng(7)
    r = np.empty((N, T, 3))
    r[:, :, 0] = np.expm1(g.normal(0.07, 0.18, (N, T)))
    r[:, :, 1] = np.expm1(g.normal(0.02, 0.07, (N, T)))
    r[:, :, 2] = np.expm1(g.normal(0.01, 0.01, (N, T)))
    base = Scenarios(r, np.full((N, T), 0.02), BASE.assets, "annual")
    return draw_crn(base, "us_stocks", rng=np.random.default_rng(8))


def _scenarios() -> Scenarios:
    return _draws().scenarios(CENTRAL)


@cache
def _episodes() -> tuple:
    monthly = load_history(["btc"], "monthly")["btc"]
    return tuple(peak_to_trough(monthly, *w) for w in WINTERS)


@cache
def _shocks() -> dict[str, PlacedShock]:
    """Every kind of stress the crypto study runs, placed on the test plan."""
    plan = _plan()
    k = period_at_age(plan, plan.retirement_age, "annual")
    monthly = load_history(["btc"], "monthly")["btc"]
    rng = np.random.default_rng(3)
    return {
        "-80 %": PlacedShock(PathShock("btc", (-0.8,)), k),
        "2018 replay": PlacedShock(replay(monthly, "2018-01", "2018-12", "btc", "monthly"), k),
        "crash correlation": PlacedShock(CorrelationJump("btc", "us_stocks", 0.9), k),
        "impairment at retirement": impairment_at("btc", k, "at retirement"),
        "impairment at random": impairment_random("btc", N, 0, T, rng, "the plan"),
        "winter": crypto_winter("btc", CENTRAL, list(_episodes()), 3, k, "at retirement"),
        "premium decay": premium_decay("btc", CENTRAL, 0.03, "cash", 10.0, T),
        "leveraged equity": leveraged_equity(_draws(), CENTRAL, 0.64, "stated", k, "from 55"),
        "IBIT": etf_fee("btc", "IBIT", plan.expense_ratio),
        "GBTC": etf_fee("btc", "GBTC", plan.expense_ratio),
        "panic": panic_sale("btc", 0.5, []),
    }


def _sleeve(size: float) -> CryptoSleeve:
    return CryptoSleeve(BASE, size, crypto_asset="btc")


def _run(placed: PlacedShock, strategy: CryptoSleeve, **kw):
    sc = placed.shock.apply(_scenarios(), placed.start_period)
    return simulate(sc, _plan(), placed.shock.holding(strategy, placed.start_period), **kw)


@pytest.mark.parametrize(
    "name",
    [
        "-80 %",
        "2018 replay",
        "crash correlation",
        "impairment at retirement",
        "impairment at random",
        "winter",
        "premium decay",
        "leveraged equity",
        "IBIT",
        "GBTC",
        "panic",
    ],
)
def test_every_stress_leaves_a_zero_sleeve_bit_for_bit(name):
    placed = _shocks()[name]
    plain = simulate(_scenarios(), _plan(), _sleeve(0.0))
    hit = _run(placed, _sleeve(0.0))
    np.testing.assert_array_equal(hit.wealth, plain.wealth)
    np.testing.assert_array_equal(hit.withdrawals, plain.withdrawals)
    np.testing.assert_array_equal(hit.ruin_period, plain.ruin_period)
    # The same stress moves a real sleeve, so the test above can tell a stress from none.
    five = simulate(_scenarios(), _plan(), _sleeve(0.05))
    assert np.any(_run(placed, _sleeve(0.05)).wealth != five.wealth)


@pytest.mark.parametrize("name", ["impairment at retirement", "impairment at random"])
def test_impairment_removes_the_sleeves_value_and_nothing_else(name):
    placed = _shocks()[name]
    plan, sc, five = _plan(), _scenarios(), _sleeve(0.05)
    plain = simulate(sc, plan, five, record_weights=True)
    hit = _run(placed, five, record_weights=True)
    k = placed.shock.periods(N, placed.start_period)  # impairment period per scenario
    s = np.arange(N)
    # The sleeve's holding at the end of period k: invested at the period's start (no
    # flow there, no trading cost), grown by Bitcoin's real return, less the plan's fee.
    assert plain.weights is not None and hit.weights is not None
    growth = (1.0 + sc.returns[s, k, 3]) / (1.0 + sc.inflation[s, k])
    held = plain.wealth[s, k] * plain.weights[s, k, 3] * growth * (1.0 - plan.expense_ratio)
    paid = hit.ruin_period != k  # the loss did not leave the period's withdrawal unpaid
    assert paid.mean() > 0.9
    before = np.arange(T + 1)[None, :] <= k[:, None]
    np.testing.assert_array_equal(hit.wealth[before], plain.wealth[before])
    # The surviving 1.1e-16 of the sleeve and round-off: relative 1e-12 of the balance.
    np.testing.assert_allclose(
        hit.wealth[s, k + 1][paid],
        (plain.wealth[s, k + 1] - held)[paid],
        rtol=1e-12,
        atol=1e-6,
    )
    assert np.all(held[paid & (plain.wealth[s, k] > 0)] > 0)  # a sleeve was there to lose
    after = np.arange(T)[None, :] > k[:, None]
    assert np.all(hit.weights[:, :, 3][after] == 0.0)  # and none held afterwards
    assert np.all(hit.weights[:, :, 3][~after & (np.arange(T) < k[:, None])] > 0)


def test_impairment_places_minus_100_percent_per_scenario():
    placed = _shocks()["impairment at random"]
    k = placed.shock.periods(N, placed.start_period)
    hit = placed.shock.apply(_scenarios(), placed.start_period)
    assert len(set(k.tolist())) > 10 and k.min() >= 0 and k.max() < T  # spread over the plan
    np.testing.assert_array_equal(hit.returns[np.arange(N), k, 3], IMPAIRED)
    changed = hit.returns != _scenarios().returns
    assert changed.sum() == N and changed[:, :, :3].sum() == 0


def test_winter_moves_the_expected_return_and_keeps_the_draws():
    placed = _shocks()["winter"]
    sc = _scenarios()
    hit = placed.shock.apply(sc, placed.start_period)
    k = placed.start_period
    fall = math.expm1(np.mean([math.log1p(e.fall) for e in _episodes()]))
    a_w = (1.0 + fall) ** (1 / 3) - 1.0
    ratio = (1.0 + hit.returns[:, k : k + 3, 3]) / (1.0 + sc.returns[:, k : k + 3, 3])
    # Every draw scaled by the same factor (1 + A_w) / (1 + A0): round-off only.
    np.testing.assert_allclose(ratio, (1 + a_w) / (1 + CENTRAL.arithmetic_mean), rtol=1e-12)
    assert a_w < 0  # a negative arithmetic drift
    outside = np.ones(T, dtype=bool)
    outside[k : k + 3] = False
    np.testing.assert_array_equal(hit.returns[:, outside], sc.returns[:, outside])
    assert "-75%" in placed.note and "2017-12" in placed.note  # the measured 2018 episode


def test_premium_decay_halves_the_premium_over_cash_each_half_life():
    placed = _shocks()["premium decay"]
    shifts = np.asarray(placed.shock.annual_log_shifts)
    a0 = CENTRAL.arithmetic_mean
    expected = np.expm1(np.log1p(a0) + shifts)  # A(t), the expected return of year t
    assert expected[0] == pytest.approx(a0, abs=1e-15)  # round-off of log and exp
    assert expected[10] - 0.03 == pytest.approx((a0 - 0.03) / 2, rel=1e-12)
    assert expected[20] - 0.03 == pytest.approx((a0 - 0.03) / 4, rel=1e-12)
    assert np.all(np.diff(expected) < 0)


def test_leveraged_equity_regime_correlates_with_equities_from_its_start():
    placed = _shocks()["leveraged equity"]
    sc = _scenarios()
    hit = placed.shock.apply(sc, placed.start_period)
    k = placed.start_period
    np.testing.assert_array_equal(hit.returns[:, :k], sc.returns[:, :k])
    xb = np.log1p(hit.returns[:, k:, 3]).ravel()
    xe = np.log1p(sc.returns[:, k:, 0]).ravel()
    # 6,000 pairs: the sample correlation's standard error is about 0.01; 0.04 is 4 of them.
    assert np.corrcoef(xb, xe)[0, 1] == pytest.approx(0.64, abs=0.04)
    assert np.log1p(sc.returns[:, k:, 3]).std() == pytest.approx(xb.std(), rel=0.05)
    beta = 0.64 * 0.60 / (np.log1p(_draws().base.returns[:, :, 0]).std())
    assert f"{beta:.1f}x equity" in placed.label


def test_etf_fee_charges_the_fee_over_the_plans_on_bitcoin_alone():
    placed = _shocks()["GBTC"]
    sc = _scenarios()
    hit = placed.shock.apply(sc, 0)
    fee = ETF_FEES["GBTC"][0] - _plan().expense_ratio  # 1.50 % less the plan's 0.20 %
    np.testing.assert_allclose(
        1.0 + hit.returns[:, :, 3], (1.0 + sc.returns[:, :, 3]) * (1.0 - fee), rtol=1e-14
    )
    np.testing.assert_array_equal(hit.returns[:, :, :3], sc.returns[:, :, :3])
    with pytest.raises(DataError, match="known funds"):
        etf_fee("btc", "XYZ", 0.002)


def test_peak_to_trough_and_crossings_on_a_stated_series():
    idx = pd.date_range("2020-01-31", periods=8, freq="ME")
    r = pd.Series([0.0, 1.0, -0.5, -0.2, 0.1, 1.0, 0.2, -0.6], index=idx)
    # Levels 1, 2, 1, 0.8, 0.88, 1.76, 2.112, 0.8448: peak 2020-02 (2), trough 2020-04.
    e = peak_to_trough(r, "test", "2020-01", "2020-06")
    assert (e.peak, e.trough, e.months_down, e.months_under) == ("2020-02", "2020-04", 2, 5)
    assert e.fall == pytest.approx(-0.6, abs=1e-12)
    assert drawdown_crossings(r, 0.5) == ["2020-03", "2020-08"]
    assert drawdown_crossings(r, 0.9) == []


def test_the_embedded_winters_and_correlation_are_what_the_notes_say():
    monthly = load_history(["btc"], "monthly")["btc"]
    e2018, e2022 = _episodes()
    assert (e2018.peak, e2018.trough) == ("2017-12", "2019-01")
    assert (e2022.peak, e2022.trough) == ("2021-10", "2022-12")
    assert -0.8 < e2018.fall < -0.7 and -0.8 < e2022.fall < -0.7
    assert drawdown_crossings(monthly, 0.5)[:2] == ["2011-09", "2014-02"]
    both = load_history(["btc", "us_stocks"], "monthly")
    rho, first, last = peak_correlation(both, "btc", "us_stocks", 24)
    assert 0.5 < rho < 0.8 and first < last


def test_stress_table_reports_paired_errors_and_tails():
    plan = _plan()
    shocks = {n: _shocks()[n] for n in ("impairment at retirement", "panic")}
    df = stress_table(
        _scenarios(), plan, {"none": _sleeve(0.0), "5 %": _sleeve(0.05)}, shocks, age=75
    )
    assert set(df["n_scenarios"]) == {N}
    row = df[(df.strategy == "5 %") & (df.shock == "impairment at retirement")].iloc[0]
    a = simulate(_scenarios(), plan, _sleeve(0.05)).success.astype(float)
    b = _run(shocks["impairment at retirement"], _sleeve(0.05)).success.astype(float)
    assert row["se_d_success"] == pytest.approx(np.std(b - a, ddof=1) / np.sqrt(N), rel=1e-12)
    assert row["p10_wealth_shocked"] <= row["median_wealth_shocked"]
    assert row["note"].startswith("Permanent impairment")
    none = df[df.strategy == "none"]
    np.testing.assert_array_equal(none["d_success"], 0.0)
    np.testing.assert_array_equal(none["se_d_success"], 0.0)
