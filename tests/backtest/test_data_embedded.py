"""Embedded history: catalog, spot checks against the sources, coverage errors, real returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.data import (
    CATALOG,
    get_series,
    list_series,
    load_btc_daily,
    load_history,
    to_real,
)
from backtest.data.embedded import _raw_series
from backtest.errors import CoverageError, DataError

# Spot checks quoted by the issue and PROVENANCE.md; the CSVs hold 6 decimals, the
# published figures 2, so compare to 5e-5 (half a basis point of rounding).
ROUNDING = 5e-5


@pytest.mark.parametrize(
    ("asset", "year", "expected"),
    [
        ("us_stocks", 2008, -0.3655),
        ("us_stocks", 1931, -0.4384),
        ("us_stocks", 1928, 0.4381),
        ("us_stocks", 2025, 0.1772),
        ("tbills", 1981, 0.1404),
        ("tbonds_10y", 2022, -0.1783),
    ],
)
def test_annual_spot_checks(asset: str, year: int, expected: float) -> None:
    frame = load_history([asset], "annual", start=year, end=year)
    assert list(frame.index) == [pd.Timestamp(f"{year}-12-31")]
    np.testing.assert_allclose(frame[asset].iloc[0], expected, atol=ROUNDING)


def test_annual_extremes_match_provenance() -> None:
    frame = load_history(["tbills", "tbonds_10y", "cpi"])
    assert frame["tbills"].idxmax() == pd.Timestamp("1981-12-31")
    assert frame["tbonds_10y"].idxmin() == pd.Timestamp("2022-12-31")
    assert frame["cpi"].idxmax() == pd.Timestamp("1946-12-31")
    assert frame["cpi"].idxmin() == pd.Timestamp("1932-12-31")


def test_geometric_means_match_provenance() -> None:
    # PROVENANCE.md quotes 1928-2025 geometric means to 0.1 pp.
    frame = load_history(["us_stocks", "us_small", "tbonds_10y", "corp_baa", "tbills", "cpi"])
    geo = np.exp(np.log1p(frame).mean()) - 1
    expected = {"us_stocks": 0.100, "us_small": 0.120, "tbonds_10y": 0.045}
    expected |= {"corp_baa": 0.066, "tbills": 0.034, "cpi": 0.030}
    for name, value in expected.items():
        np.testing.assert_allclose(geo[name], value, atol=0.0005, err_msg=name)


def test_btc_daily_close() -> None:
    s = load_btc_daily()
    np.testing.assert_allclose(s.loc["2017-12-31"], 13_850, rtol=1e-3)  # PROVENANCE: $13,850
    np.testing.assert_allclose(s.loc["2021-12-31"], 46_220, rtol=1e-3)
    assert s.index[0] == pd.Timestamp("2010-07-18")
    # every calendar day, no gap
    assert (s.index.to_series().diff().dropna() == pd.Timedelta(days=1)).all()
    assert s.notna().all() and (s > 0).all()


def test_annual_btc_is_december_to_december() -> None:
    daily = load_btc_daily()
    annual = load_history(["btc"], "annual")
    assert annual.index[0] == pd.Timestamp("2011-12-31")
    assert annual.index[-1] == pd.Timestamp("2025-12-31")
    # 2022: Dec-31-2021 close 46,220 -> Dec-31-2022 16,537 (month-end = last daily close)
    expected = daily.loc["2022-12-31"] / daily.loc["2021-12-31"] - 1
    np.testing.assert_allclose(annual.loc["2022-12-31", "btc"], expected, rtol=1e-9)
    # compounding the monthly returns of a year gives the same figure (to CSV rounding)
    monthly = load_history(["btc"], "monthly", start="2022-01", end="2022-12")
    np.testing.assert_allclose((1 + monthly["btc"]).prod() - 1, expected, rtol=1e-5)


def test_monthly_us_stocks_is_crsp_and_coverage() -> None:
    frame = load_history(["us_stocks", "tbills"], "monthly")
    assert frame.index[0] == pd.Timestamp("1926-07-31")
    assert frame.index[-1] == pd.Timestamp("2025-11-30")
    assert len(frame) == 1193
    assert "CRSP" in frame.attrs["sources"]["us_stocks"]
    assert "S&P 500" in get_series("us_stocks", "annual").description
    assert "CRSP" in get_series("us_stocks", "monthly").description
    # Oct 1987 from CRSP (PROVENANCE: -22.6 %) vs Shiller's smoothed -11.9 %
    oct87 = load_history(["us_stocks", "sp500_shiller"], "monthly", start="1987-10", end="1987-10")
    np.testing.assert_allclose(oct87.iloc[0].to_numpy(), [-0.226, -0.119], atol=0.001)


def test_catalog_coverage_matches_data() -> None:
    for info in list_series():
        s = _raw_series(info)
        assert s.index[0] == info.first_end, info
        assert s.index[-1] == info.last_end, info
        assert s.notna().all(), info
        assert (s > -1).all(), info
        if info.frequency == "monthly":
            assert (s.index == s.index + pd.offsets.MonthEnd(0)).all()
        else:
            assert ((s.index.month == 12) & (s.index.day == 31)).all()
        # contiguous periods, no hole in the middle
        step = 12 if info.frequency == "monthly" else 1
        ordinal = s.index.year * step + (s.index.month if step == 12 else 0)
        assert (np.diff(ordinal) == 1).all(), info
    assert len(CATALOG) == len(list_series())


def test_documented_names_exist() -> None:
    annual = {s.name for s in list_series("annual")}
    monthly = {s.name for s in list_series("monthly")}
    assert {"us_stocks", "us_small", "tbills", "tbonds_10y", "corp_aaa", "corp_baa"} <= annual
    assert {"real_estate", "gold", "cpi", "btc", "intl_ex_us"} <= annual
    assert {"us_stocks", "us_stocks_long", "tbills", "us_small", "tbonds_10y"} <= monthly
    assert {"gold", "cpi", "btc", "world"} <= monthly


def test_common_period_is_reported() -> None:
    frame = load_history(["us_stocks", "btc"], "annual")
    assert frame.index[0] == pd.Timestamp("2011-12-31")
    assert frame.index[-1] == pd.Timestamp("2025-12-31")
    assert list(frame.columns) == ["us_stocks", "btc"]
    note = frame.attrs["period_note"]
    assert "common period" in note and "2011..2025" in note and "btc 2011..2025" in note
    assert frame.attrs["frequency"] == "annual"
    assert frame.attrs["real"] is False
    assert set(frame.attrs["sources"]) == {"us_stocks", "btc"}
    assert frame.notna().all().all()


def test_unknown_asset_lists_valid_names() -> None:
    with pytest.raises(DataError, match="valid annual names: us_stocks"):
        load_history(["us_stock"])
    with pytest.raises(DataError, match=r"exists at frequency='monthly'"):
        load_history(["us_stocks_long"], "annual")


def test_unknown_frequency() -> None:
    with pytest.raises(DataError, match="frequency='weekly'"):
        load_history(["us_stocks"], "weekly")  # type: ignore[arg-type]


def test_period_outside_coverage_states_it() -> None:
    with pytest.raises(CoverageError, match=r"us_stocks covers 1928\.\.2025"):
        load_history(["us_stocks"], start=1900)
    with pytest.raises(CoverageError, match=r"btc covers 2010-08\.\.2026-07"):
        load_history(["btc"], "monthly", start="2009-01")
    with pytest.raises(CoverageError, match=r"us_stocks covers 1926-07\.\.2025-11"):
        load_history(["us_stocks", "btc"], "monthly", end="2026-03")


def test_disjoint_series_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # No embedded pair is disjoint today; a fake catalog entry exercises the check.
    import dataclasses

    from backtest.data import embedded

    fake = dataclasses.replace(get_series("btc", "annual"), name="old", first="1900", last="1910")
    monkeypatch.setitem(embedded.CATALOG, ("old", "annual"), fake)
    with pytest.raises(CoverageError, match=r"share no common period.*old 1900\.\.1910"):
        load_history(["old", "btc"], "annual")


def test_bad_inputs() -> None:
    with pytest.raises(DataError, match="empty"):
        load_history([])
    with pytest.raises(DataError, match="more than once"):
        load_history(["us_stocks", "us_stocks"])
    with pytest.raises(DataError, match="start="):
        load_history(["us_stocks"], start="not a year")
    with pytest.raises(DataError, match="start <= end"):
        load_history(["us_stocks"], start=2000, end=1990)


def test_start_end_forms() -> None:
    a = load_history(["us_stocks"], "monthly", start=2000, end=2000)
    b = load_history(["us_stocks"], "monthly", start="2000-01-15", end="2000-12")
    c = load_history(["us_stocks"], "monthly", start=pd.Timestamp("2000-01-01"), end="2000-12-31")
    pd.testing.assert_frame_equal(a, b, check_like=False)
    pd.testing.assert_frame_equal(a, c)
    assert len(a) == 12 and a.index[-1] == pd.Timestamp("2000-12-31")
    d = load_history("us_stocks", start=pd.Timestamp("1999-06-30"), end="2001")
    assert list(d.index.year) == [1999, 2000, 2001]


@pytest.mark.parametrize("frequency", ["annual", "monthly"])
def test_real_returns(frequency: str) -> None:
    nominal = load_history(["us_stocks", "tbills", "cpi"], frequency)  # type: ignore[arg-type]
    real = load_history(["us_stocks", "tbills"], frequency, real=True)  # type: ignore[arg-type]
    assert real.attrs["real"] is True
    idx = real.index
    expected = (1 + nominal.loc[idx, "us_stocks"]) / (1 + nominal.loc[idx, "cpi"]) - 1
    np.testing.assert_allclose(real["us_stocks"], expected, rtol=1e-12)  # same formula
    back = load_history(["us_stocks"], frequency, real=False).loc[idx]  # type: ignore[arg-type]
    assert (real["us_stocks"] < back["us_stocks"]).mean() > 0.5  # inflation mostly positive


def test_real_annual_1946() -> None:
    # 1946: S&P -8.43 %, CPI +18.1 % -> about -22 % real
    real = load_history(["us_stocks"], real=True, start=1946, end=1946)
    np.testing.assert_allclose(real.iloc[0, 0], (1 - 0.0843) / (1 + 0.181) - 1, atol=5e-4)


def test_real_rejects_cpi() -> None:
    with pytest.raises(DataError, match="cpi"):
        load_history(["cpi"], real=True)


def test_returned_frame_is_a_copy() -> None:
    a = load_history(["us_stocks"])
    a.iloc[0, 0] = 99.0
    b = load_history(["us_stocks"])
    assert b.iloc[0, 0] != 99.0


def test_to_real_alignment_error() -> None:
    r = load_history(["us_stocks"], start=2000, end=2010)
    cpi = load_history(["cpi"], start=2000, end=2005)["cpi"]
    with pytest.raises(DataError, match="no value for 5 period"):
        to_real(r, cpi)


def test_series_md_documents_every_series() -> None:
    import importlib.resources

    text = (
        importlib.resources.files("backtest.data")
        .joinpath("embedded", "SERIES.md")
        .read_text(encoding="utf-8")
    )
    for info in list_series():
        row = f"| `{info.name}` | `{info.csv}` | `{info.column}` | {info.coverage} |"
        assert row in text, f"SERIES.md lacks {info.name} ({info.frequency})"
    assert "monthly-average" in text and "CRSP" in text and "S&P 500" in text
