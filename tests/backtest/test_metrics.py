"""Metrics against independent hand computations on small series."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backtest import metrics as m
from backtest.errors import DataError

# Hand-checked tolerance: the formulas are closed-form; only float round-off differs.
TOL = 1e-12

R = np.array([0.10, -0.20, 0.05, 0.30, -0.10])  # five annual returns
RF = np.array([0.01, 0.02, 0.01, 0.00, 0.01])


def test_cagr_by_hand() -> None:
    growth = 1.10 * 0.80 * 1.05 * 1.30 * 0.90  # = 1.081080
    assert m.cagr(R, 1) == pytest.approx(growth ** (1 / 5) - 1, abs=TOL)
    # Monthly: 12 periods of 1 % compound to 1.01**12 a year.
    assert m.cagr(np.full(24, 0.01), 12) == pytest.approx(1.01**12 - 1, abs=TOL)


def test_volatility_by_hand() -> None:
    mean = sum(R) / 5
    var = sum((x - mean) ** 2 for x in R) / 4
    assert m.annualised_volatility(R, 1) == pytest.approx(math.sqrt(var), abs=TOL)
    assert m.annualised_volatility(R, 12) == pytest.approx(math.sqrt(var * 12), abs=TOL)


def test_sharpe_and_sortino_by_hand() -> None:
    x = [r - f for r, f in zip(R, RF, strict=True)]  # 0.09 -0.22 0.04 0.30 -0.11
    mean = sum(x) / 5
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / 4)
    assert m.sharpe_ratio(R, RF, 1) == pytest.approx(mean / sd, abs=TOL)
    assert m.sharpe_ratio(R, RF, 12) == pytest.approx(mean / sd * math.sqrt(12), abs=TOL)
    downside = math.sqrt((0.22**2 + 0.11**2) / 5)
    assert m.sortino_ratio(R, RF, 1) == pytest.approx(mean / downside, abs=TOL)
    # A scalar risk-free rate broadcasts.
    assert m.sharpe_ratio(R, 0.0, 1) == pytest.approx(np.mean(R) / np.std(R, ddof=1), abs=TOL)


def test_drawdown_by_hand() -> None:
    # wealth: 1.1, 0.88, 0.924, 1.2012, 1.08108; peak 1.1 until 1.2012
    dd = m.drawdowns(R)
    expected = [0.0, 0.88 / 1.1 - 1, 0.924 / 1.1 - 1, 0.0, 1.08108 / 1.2012 - 1]
    np.testing.assert_allclose(dd, expected, atol=TOL)
    assert m.max_drawdown(R) == pytest.approx(-0.2, abs=TOL)
    s = m.drawdown_stats(R)
    # wealth points: 0 start, 1 after period 0 (peak), 2 trough, 4 back above 1.1
    assert (s.peak, s.trough, s.recovery) == (1.0, 2.0, 4.0)
    assert s.recovery_periods == 2.0
    assert s.periods_to_trough == 1.0
    assert m.ulcer_index(R) == pytest.approx(math.sqrt(sum(d * d for d in expected) / 5), abs=TOL)
    assert m.calmar_ratio(R, 1) == pytest.approx(m.cagr(R, 1) / 0.2, abs=TOL)


def test_drawdown_first_period_loss_and_no_recovery() -> None:
    r = np.array([-0.5, 0.2, 0.1])  # 0.5, 0.6, 0.66: never back to 1
    s = m.drawdown_stats(r)
    assert s.depth == pytest.approx(-0.5, abs=TOL)
    assert (s.peak, s.trough, s.recovery) == (0.0, 1.0, -1.0)
    assert np.isnan(s.recovery_periods)


def test_no_drawdown() -> None:
    r = np.array([0.01, 0.02])
    assert m.max_drawdown(r) == 0.0
    assert np.isnan(m.calmar_ratio(r, 1))


def test_cvar_against_sort() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0.005, 0.04, size=(3, 200))
    # ceil(200 * 0.05) = 10 worst periods
    expected = np.sort(x, axis=1)[:, :10].mean(axis=1)
    np.testing.assert_allclose(m.cvar(x, 0.95), expected, atol=TOL)
    # 5 periods: ceil(0.25) = 1, the single worst
    assert m.cvar(R, 0.95) == pytest.approx(-0.20, abs=TOL)
    assert m.cvar(R, 0.60) == pytest.approx((-0.20 - 0.10) / 2, abs=TOL)


def test_vectorised_matches_rows() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0.01, 0.05, size=(4, 36))
    rf = np.full(36, 0.002)
    for fn, args in [
        (m.cagr, (12,)),
        (m.annualised_volatility, (12,)),
        (m.max_drawdown, ()),
        (m.ulcer_index, ()),
        (m.calmar_ratio, (12,)),
    ]:
        whole = fn(x, *args)
        np.testing.assert_allclose(whole, [fn(row, *args) for row in x], atol=TOL)
    np.testing.assert_allclose(
        m.sharpe_ratio(x, rf, 12), [m.sharpe_ratio(row, rf, 12) for row in x], atol=TOL
    )


def test_annual_and_calendar_year_returns() -> None:
    r = np.array([0.01] * 12 + [-0.01] * 12 + [0.5])
    np.testing.assert_allclose(m.annual_returns(r, 12), [1.01**12 - 1, 0.99**12 - 1], atol=TOL)
    idx = pd.date_range("2000-07-31", periods=28, freq="ME")  # to 2002-10
    s = pd.Series(0.01, index=idx)
    years = m.calendar_year_returns(s, 12)
    assert years.index.tolist() == [2001]  # 2000 and 2002 are partial
    assert years.iloc[0] == pytest.approx(1.01**12 - 1, abs=TOL)


def test_to_real() -> None:
    assert m.to_real(0.10, 0.03) == pytest.approx(1.10 / 1.03 - 1, abs=TOL)


def test_turnover_and_fees() -> None:
    assert m.turnover_annual(np.array([0.0, 0.1, 0.0, 0.1]), 12) == pytest.approx(0.6, abs=TOL)
    assert m.fees_annual(np.full(12, 0.0005), 12) == pytest.approx(0.006, abs=TOL)


def test_metrics_table_layout_and_values() -> None:
    idx = pd.date_range("2001-12-31", periods=5, freq="YE")
    rets = pd.DataFrame({"a": R, "b": R / 2}, index=idx)
    rf = pd.Series(RF, index=idx)
    infl = pd.Series(0.02, index=idx)
    t = m.metrics_table(rets, rf, infl, 1, turnover={"a": pd.Series(0.1, index=idx)})
    assert list(t.columns) == list(m.METRICS)
    assert t.index.tolist() == [("a", "nominal"), ("a", "real"), ("b", "nominal"), ("b", "real")]
    a = t.loc[("a", "nominal")]
    assert a["cagr"] == pytest.approx(m.cagr(R, 1), abs=TOL)
    assert a["best_year"] == pytest.approx(0.30, abs=TOL)
    assert a["worst_year"] == pytest.approx(-0.20, abs=TOL)
    assert a["max_drawdown_peak"] == pd.Timestamp("2001-12-31")
    assert a["max_drawdown_trough"] == pd.Timestamp("2002-12-31")
    assert a["max_drawdown_recovery"] == pd.Timestamp("2004-12-31")
    assert a["turnover"] == pytest.approx(0.1, abs=TOL)
    assert np.isnan(t.loc[("b", "nominal"), "turnover"])
    real = (1 + R) / 1.02 - 1
    assert t.loc[("a", "real"), "cagr"] == pytest.approx(m.cagr(real, 1), abs=TOL)
    real_rf = (1 + RF) / 1.02 - 1
    assert t.loc[("a", "real"), "sharpe"] == pytest.approx(
        m.sharpe_ratio(real, real_rf, 1), abs=TOL
    )


def test_metrics_table_peak_at_start_is_dated_before_first_period() -> None:
    idx = pd.date_range("2000-01-31", periods=3, freq="ME")
    rets = pd.DataFrame({"a": [-0.1, 0.05, 0.2]}, index=idx)
    t = m.metrics_table(rets, pd.Series(0.0, index=idx), None, 12)
    assert t.loc[("a", "nominal"), "max_drawdown_peak"] == pd.Timestamp("1999-12-31")
    assert t.loc[("a", "nominal"), "max_drawdown_recovery"] == pd.Timestamp("2000-03-31")


def test_errors_name_the_problem() -> None:
    with pytest.raises(DataError, match="NaN"):
        m.cagr(np.array([0.1, np.nan]), 1)
    with pytest.raises(DataError, match="-100"):
        m.cagr(np.array([-1.5]), 1)
    with pytest.raises(DataError, match="riskfree has 2 periods"):
        m.sharpe_ratio(R, np.zeros(2), 1)
    with pytest.raises(DataError, match="periods_per_year"):
        m.cagr(R, 0)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.integers(2, 40), elements=st.floats(-0.9, 2.0)))
def test_invariants(r: np.ndarray) -> None:
    mdd = m.max_drawdown(r)
    assert -1.0 <= mdd <= 0.0  # -1 exactly only by underflow of a long run of losses
    assert m.ulcer_index(r) <= -mdd + 1e-12  # RMS of drawdowns <= the largest one
    assert m.cvar(r, 0.95) <= r.mean() + 1e-12  # the tail mean is below the mean
    # CAGR is the geometric mean: between min and max return.
    assert r.min() - 1e-12 <= m.cagr(r, 1) <= r.max() + 1e-12
