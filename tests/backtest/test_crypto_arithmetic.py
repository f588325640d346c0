"""Bitcoin assumptions in arithmetic terms: the lognormal round trip, the draws' moments,
the central case from history, the surface's arithmetic index and the study keys."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.crypto.assumptions import (
    BtcAssumption,
    central_from_history,
    draw_crn,
    log_parameters,
)
from backtest.crypto.surface import assumption_grid, run_surface
from backtest.data import load_history
from backtest.errors import DataError, StudyError
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.scenarios import Scenarios
from glidelab.studyfile.crypto import CryptoConfig, parse_crypto
from strategies import CryptoSleeve, FixedMix

ASSETS = ("us_stocks", "tbonds_10y", "tbills")


def _scenarios(n: int, t: int, seed: int = 0) -> Scenarios:
    g = np.random.default_rng(seed)
    r = np.empty((n, t, 3))
    r[:, :, 0] = np.expm1(g.normal(0.07, 0.18, (n, t)))
    r[:, :, 1] = np.expm1(g.normal(0.02, 0.08, (n, t)))
    r[:, :, 2] = 0.02
    return Scenarios(r, np.full((n, t), 0.02), ASSETS, "annual")


@settings(max_examples=200, deadline=None)
@given(mu=st.floats(-1.5, 1.5), sigma=st.floats(0.0, 2.0))
def test_log_to_arithmetic_to_log_round_trips(mu, sigma):
    a = BtcAssumption(mu, sigma, 0.3, "student_t")
    b = BtcAssumption.from_arithmetic(a.arithmetic_mean, a.arithmetic_vol, 0.3, "student_t")
    # Two expm1/log1p/sqrt round trips in float64: about 1e-15 relative, 1e-9 is ample.
    assert b.mean_log == pytest.approx(mu, abs=1e-9)
    assert b.vol_log == pytest.approx(sigma, abs=1e-9)
    assert (b.corr_equity, b.shocks) == (0.3, "student_t")


@settings(max_examples=200, deadline=None)
@given(m=st.floats(-0.3, 2.0), v=st.floats(0.0, 2.0))  # log mean stays in [-2, 2]
def test_arithmetic_to_log_to_arithmetic_round_trips(m, v):
    a = BtcAssumption.from_arithmetic(m, v)
    # Same float64 round trip as above.
    assert a.arithmetic_mean == pytest.approx(m, abs=1e-9)
    assert a.arithmetic_vol == pytest.approx(v, abs=1e-9)


def test_the_issue_s_central_case_was_a_26_percent_expected_return():
    a = BtcAssumption(0.05, 0.60)
    assert a.arithmetic_mean == pytest.approx(math.expm1(0.05 + 0.18))  # 25.9 %
    assert a.arithmetic_mean == pytest.approx(0.259, abs=5e-4)
    assert a.arithmetic_vol == pytest.approx(1.259 * math.sqrt(math.expm1(0.36)), abs=1e-3)
    assert "mean 25.9%" in a.label() and "log mu 5%" in a.label()


def test_bad_arithmetic_inputs_name_the_problem():
    with pytest.raises(DataError, match="arithmetic mean"):
        BtcAssumption.from_arithmetic(-1.0, 0.5)
    with pytest.raises(DataError, match="arithmetic vol"):
        BtcAssumption.from_arithmetic(0.1, -0.2)
    with pytest.raises(DataError, match="arithmetic vol"):
        log_parameters(0.1, math.nan)
    # A volatility so large the log mean leaves the model's range: the message says which.
    with pytest.raises(DataError, match=r"arithmetic mean -0\.9 and vol 5"):
        BtcAssumption.from_arithmetic(-0.9, 5.0)


def test_draws_hit_the_stated_arithmetic_moments():
    draws = draw_crn(_scenarios(4000, 25), "us_stocks", rng=3)
    a = BtcAssumption.from_arithmetic(0.12, 0.85, 0.0)
    r = draws.crypto_returns(a).ravel()  # annual periods: annual simple returns
    se = 0.85 / math.sqrt(r.size)
    # Sample mean within 4 standard errors of the stated mean (false alarm ~6e-5).
    assert r.mean() == pytest.approx(0.12, abs=4 * se)
    # The lognormal's sd converges slowly (heavy right tail): 5 % relative at n = 100,000.
    assert r.std() == pytest.approx(0.85, rel=0.05)


def test_central_from_history_on_known_series():
    years = pd.date_range("2000-12-31", periods=10, freq="YE")
    eq_annual = pd.Series(np.linspace(0.0, 0.18, 10), index=years, name="eq")  # mean 9 %
    months = pd.date_range("2014-01-31", periods=48, freq="ME")
    x = np.where(np.arange(48) % 2 == 0, 0.2, -0.1)  # log returns +-, sd known
    btc = pd.Series(np.expm1(x), index=months, name="btc")
    eq_m = pd.Series(np.expm1(0.5 * x + 0.01), index=months, name="eq")  # correlation 1
    case = central_from_history(
        eq_annual, eq_m, btc, equity_window=("2000", "2009"), crypto_since="2015-01"
    )
    a = case.assumption
    used = x[12:]  # from January 2015
    sigma = used.std(ddof=1) * math.sqrt(12)
    assert a.arithmetic_mean == pytest.approx(0.09, abs=1e-12)
    assert a.vol_log == pytest.approx(sigma, abs=1e-12)
    assert a.arithmetic_vol == pytest.approx(1.09 * math.sqrt(math.expm1(sigma**2)), abs=1e-12)
    assert a.corr_equity == pytest.approx(1.0, abs=1e-12)
    assert "9.0% a year" in case.rationale and "2000-2009" in case.rationale
    assert "Jan 2015-Dec 2017 (36 months)" in case.rationale
    with pytest.raises(DataError, match="at least 24"):
        central_from_history(
            eq_annual, eq_m, btc, equity_window=("2000", "2009"), crypto_since="2017-01"
        )


def test_central_from_embedded_history_is_equities_mean_and_bitcoin_s_own_risk():
    eq = load_history(["us_stocks"], "annual")["us_stocks"]
    monthly = load_history(["us_stocks", "btc"], "monthly")
    case = central_from_history(
        eq, monthly["us_stocks"], monthly["btc"], equity_window=("1928", "2025")
    )
    a = case.assumption
    assert a.arithmetic_mean == pytest.approx(float(eq.loc["1928":"2025"].mean()), abs=1e-12)
    both = np.log1p(monthly.loc["2015-01":].dropna())
    assert a.vol_log == pytest.approx(both["btc"].std(ddof=1) * math.sqrt(12), abs=1e-12)
    assert a.corr_equity == pytest.approx(both.corr().iloc[0, 1], abs=1e-12)
    assert a.arithmetic_mean < 0.2 < a.arithmetic_vol  # equity-like mean, Bitcoin-like risk


def test_surface_is_indexed_by_arithmetic_mean_and_more_vol_costs_at_a_fixed_mean():
    draws = draw_crn(_scenarios(300, 40), "us_stocks", rng=5)
    plan = Plan(
        35,
        55,
        75,
        50_000,
        contributions=Contributions(salary=60_000, rate=0.10),
        withdrawal=ConstantReal(rate=None, amount=15_000),  # most paths end with money
    )
    base = FixedMix("60/40", ASSETS, (0.6, 0.4, 0.0))
    grid = assumption_grid([0.05, 0.15], [0.3, 1.2], [0.0])
    df = run_surface(draws, plan, base, lambda s: CryptoSleeve(base, s, cap=None), [0.1], grid)
    assert list(df["mean"]) == [0.05, 0.15, 0.05, 0.15]  # exact grid values, means fastest
    assert list(df["vol"]) == [0.3, 0.3, 1.2, 1.2]
    assert {"mean_log", "vol_log"} <= set(df.columns)
    assert (df["median_terminal"] > 0).all()
    wide = df.pivot(index="mean", columns="vol", values="d_median_terminal")
    # At a fixed expected return more volatility is more drag: the median falls, by more
    # than its batch-means standard errors (1.2 vs 0.3: sigma 0.96 vs 0.28 of the sleeve).
    se = df.pivot(index="mean", columns="vol", values="se_median_terminal")
    assert (wide[1.2] + 3 * se[1.2] < wide[0.3]).all()
    logs = df.pivot(index="mean", columns="vol", values="mean_log")
    assert (logs[1.2] < logs[0.3]).all()


# --------------------------------------------------------------------------- study keys


def test_study_keys_are_arithmetic_and_the_log_form_only_by_name():
    cfg = parse_crypto({"means": [0.05, 0.1], "vols": [0.6]}, ["m"])
    assert cfg.means == (0.05, 0.1) and cfg.central.terms == "history"
    assert CryptoConfig(plan="m").breakeven_corrs == (0.0, 0.2, 0.4, 0.6)
    stated = parse_crypto({"central": {"mean": 0.1, "vol": 0.8, "corr": 0.3}}, ["m"]).central
    assert (stated.terms, stated.mean, stated.vol, stated.corr) == ("arithmetic", 0.1, 0.8, 0.3)
    old = parse_crypto({"central": {"mean_log": 0.05, "vol_log": 0.6, "corr": 0.2}}, ["m"])
    assert (old.central.terms, old.central.mean) == ("log", 0.05)
    legacy = parse_crypto({"breakeven_corr": 0.2, "breakeven_vols": "central"}, ["m"])
    assert legacy.breakeven_corrs == (0.2,) and legacy.breakeven_vols == ()


@pytest.mark.parametrize(
    ("crypto", "match"),
    [
        ({"means_log": [0.05]}, r"means_log: the grid is stated in arithmetic terms.*mean 0\.259"),
        ({"vols_log": [0.6]}, r"vols_log: .*\(1 \+ mean\) \* sqrt"),
        ({"central": {"mean": 0.1, "vol_log": 0.6}}, "mixes arithmetic"),
        ({"central": "estimate"}, r'use "history" or a table'),
        ({"central": {"mean": 0.1}}, r"central\.vol is required"),
        ({"breakeven_corr": 0.0, "breakeven_corrs": [0.2]}, "keep breakeven_corrs"),
        ({"breakeven_corrs": []}, "breakeven_corrs is empty"),
        ({"means": [-1.0]}, r"\[crypto\]\.means"),
    ],
)
def test_bad_crypto_keys_say_how_to_fix_them(crypto, match):
    with pytest.raises(StudyError, match=match):
        parse_crypto(crypto, ["m"])
