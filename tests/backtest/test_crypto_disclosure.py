"""The committee disclosure table: Euler shares, drawdown and recovery, crash correlation,
the stress year, fee drag."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtest.crypto.disclosure import (
    ETF_FEE,
    LIQUIDITY_CELL,
    crash_correlation,
    disclosure_table,
    drawdown_and_recovery,
    euler_shares,
    fee_drag,
    scaled_year,
)
from backtest.crypto.result import CryptoResearch
from backtest.errors import DataError
from backtest.report.crypto import DISCLOSURE_TITLE, table_notes, vintage_chart
from strategies import CryptoSleeve, FixedMix, calendar


def test_euler_shares_of_all_assets_sum_to_one():
    g = np.random.default_rng(0)
    r = g.normal([0.005, 0.002, 0.03], [0.04, 0.02, 0.2], size=(2000, 3))
    w = np.array([0.57, 0.38, 0.05])
    assets = ("eq", "bd", "btc")
    shares = np.array([euler_shares(r, w, assets, a, 0.95) for a in assets])
    # Euler's theorem: the contributions add up exactly; only float round-off remains.
    np.testing.assert_allclose(shares.sum(axis=0), [1.0, 1.0], atol=1e-12)
    assert 0 < shares[2, 0] < 1  # the sleeve carries some, not all, of the volatility


@pytest.mark.parametrize(
    ("returns", "depth", "months"),
    [
        # wealth 1, 1.1, 0.55, 0.66, 1.32: peak 1.1, trough 0.55, back above 2 months later
        ([0.1, -0.5, 0.2, 1.0], -0.5, 2.0),
        # never back at the peak by the series' end
        ([0.1, -0.5, 0.2], -0.5, math.nan),
        # a loss in the first month is a drawdown from the starting value
        ([-0.2, 0.25], -0.2, 1.0),
        # no drawdown at all
        ([0.1, 0.1], 0.0, 0.0),
    ],
)
def test_drawdown_and_recovery_by_hand(returns, depth, months):
    d, m = drawdown_and_recovery(np.array(returns))
    assert d == pytest.approx(depth, abs=1e-12)  # a few multiplications: round-off only
    assert (math.isnan(m) and math.isnan(months)) or m == months


def test_crash_correlation_uses_only_crash_months():
    idx = pd.period_range("2020-01", periods=8, freq="M").to_timestamp("M")
    eq = pd.Series([-0.10, 0.02, -0.06, 0.03, -0.08, 0.01, -0.07, 0.04], index=idx)
    # Bitcoin = 2 x equities in crash months, unrelated otherwise
    btc = pd.Series([-0.20, -0.3, -0.12, 0.5, -0.16, -0.2, -0.14, 0.1], index=idx)
    rho, n = crash_correlation(btc, eq, -0.05)
    assert n == 4 and rho == pytest.approx(1.0, abs=1e-12)
    rho2, n2 = crash_correlation(btc, eq, -0.09)
    assert n2 == 1 and math.isnan(rho2)


def test_scaled_year_compounds_to_the_stated_loss():
    idx = pd.period_range("2022-01", periods=12, freq="M").to_timestamp("M")
    x = pd.Series([-0.1, 0.05, -0.2, 0.1, -0.3, -0.05, 0.15, -0.1, -0.02, 0.05, -0.15, 0.02], idx)
    s = scaled_year(x, -0.8)
    assert float(np.prod(1 + s.to_numpy()) - 1) == pytest.approx(-0.8, abs=1e-12)
    assert (np.sign(s) == np.sign(x)).all()  # the path's shape is kept
    with pytest.raises(DataError, match="above -100"):
        scaled_year(x, -1.0)
    with pytest.raises(DataError, match="flipping"):
        scaled_year(-x, -0.8)  # a year that rose cannot be scaled into a loss


def test_fee_drag():
    # 5 % sleeve, 0.25 % ETF fee instead of a 0.20 % fund: 0.05 x 0.0005 a year
    assert fee_drag(0.05, ETF_FEE, 0.002) == pytest.approx(2.5e-5, abs=1e-15)
    assert fee_drag(0.0, ETF_FEE, 0.002) == 0.0


def test_disclosure_table_on_a_small_history():
    g = np.random.default_rng(3)
    idx = pd.period_range("2019-01", periods=48, freq="M").to_timestamp("M")
    hist = pd.DataFrame(
        {
            "eq": g.normal(0.007, 0.045, 48),
            "bd": g.normal(0.002, 0.015, 48),
            "btc": np.expm1(g.normal(0.02, 0.2, 48)),
        },
        index=idx,
    )
    # a stated 2021 for Bitcoin that falls 49 % over the year, the stress year to scale
    hist.loc["2021", "btc"] = [
        -0.1,
        0.05,
        -0.2,
        0.1,
        -0.3,
        -0.05,
        0.15,
        -0.1,
        -0.02,
        0.05,
        -0.15,
        0.02,
    ]
    base = FixedMix("60/40", ("eq", "bd"), (0.6, 0.4), rebalance=calendar("annual"))
    sleeves = {s: CryptoSleeve(base, s, band=None, cap=None) for s in (0.0, 0.05)}
    year = hist.loc["2021"]
    assert year["btc"].add(1).prod() < 1  # the fixture's stress year is a loss
    stress = pd.concat({"replay": year, "-80%": year.assign(btc=scaled_year(year["btc"], -0.8))})
    r = g.normal([0.07, 0.02, 0.3], [0.18, 0.08, 0.9], size=(500, 3))
    weights = {0.0: np.array([0.6, 0.4, 0.0]), 0.05: np.array([0.57, 0.38, 0.05])}
    df = disclosure_table(
        sleeves, hist, stress, r, weights, ("eq", "bd", "btc"), equity="eq", base_fee=0.002
    )
    assert list(df["sleeve"]) == [0.0, 0.05]
    zero, five = df.iloc[0], df.iloc[1]
    assert zero["vol_share"] == 0.0 and zero["fee_drag"] == 0.0
    assert 0 < five["vol_share"] < 1 and five["fee_drag"] > 0
    assert five["liquidity"] == LIQUIDITY_CELL
    for col in ("history_drawdown", "drawdown replay", "drawdown -80%"):
        assert zero[col] <= 0 and five[col] <= 0
    # the -80 % year hurts the sleeve portfolio at least as much as its replay
    assert five["drawdown -80%"] <= five["drawdown replay"] + 1e-12  # round-off
    # without a sleeve the two stress paths are the same (only Bitcoin was scaled)
    assert zero["drawdown -80%"] == zero["drawdown replay"]
    assert df["crash_corr"].nunique(dropna=False) == 1  # a property of the history
    assert df["window"].iloc[0] == "2019-01..2022-12"


def test_report_notes_cite_the_order_the_fee_and_liquidity():
    empty = pd.DataFrame()
    d = pd.DataFrame({"sleeve": [0.0, 0.05], "etf_fee": ETF_FEE, "base_fee": 0.002})
    res = CryptoResearch(
        "t", "s", empty, empty, empty, empty, empty, empty, empty, empty, disclosure=d
    )
    note = table_notes(res)[DISCLOSURE_TITLE]
    assert "7 August 2025" in note and "0.25 %" in note and "11 January 2024" in note
    assert "vintage" not in res.tables() and "disclosure" in res.tables()
    assert vintage_chart(empty) is None
