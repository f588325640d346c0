"""User CSV loader: every bad input named in the issue gives a clear DataError."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.data.csv import load_csv
from backtest.errors import DataError


def _write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text.strip() + "\n")
    return path


def test_monthly_prices_to_returns(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
date,FUND,BTC
2020-01-31,100,7000
2020-02-29,110,8500
2020-03-31,99,6400
""",
    )
    rets = load_csv(path, "prices", "monthly")
    assert list(rets.index) == [pd.Timestamp("2020-02-29"), pd.Timestamp("2020-03-31")]
    np.testing.assert_allclose(rets["FUND"], [0.10, -0.10], rtol=1e-12)  # exact ratios
    np.testing.assert_allclose(rets["BTC"], [8500 / 7000 - 1, 6400 / 8500 - 1], rtol=1e-12)
    assert rets.attrs["frequency"] == "monthly" and rets.attrs["kind"] == "prices"


def test_month_start_dates_are_relabelled(tmp_path: Path) -> None:
    path = _write(tmp_path, "Date,r\n2020-01-01,0.01\n2020-02-01,-0.02\n2020-03-01,0.03")
    rets = load_csv(path, "returns", "monthly")  # 'Date' matches date_column='date'
    assert list(rets.index) == list(pd.to_datetime(["2020-01-31", "2020-02-29", "2020-03-31"]))
    np.testing.assert_allclose(rets["r"], [0.01, -0.02, 0.03])


def test_annual_years(tmp_path: Path) -> None:
    path = _write(tmp_path, "year,stocks\n2007,0.05\n2008,-0.37\n2009,0.26")
    rets = load_csv(path, "returns", "annual", date_column="year")
    assert list(rets.index.year) == [2007, 2008, 2009]
    assert (rets.index.month == 12).all() and (rets.index.day == 31).all()


def test_daily_prices_and_file_object() -> None:
    text = "date,x\n2024-01-05,10\n2024-01-08,11\n2024-01-09,12.1\n"
    rets = load_csv(io.StringIO(text), "prices", "daily")
    np.testing.assert_allclose(rets["x"], [0.1, 0.1], rtol=1e-12)


def test_percent_flag(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,r\n2020-01-31,1.5\n2020-02-29,-2.5\n2020-03-31,3")
    with pytest.raises(DataError, match=r"looks like percent.*pass unit='percent'"):
        load_csv(path, "returns", "monthly")
    rets = load_csv(path, "returns", "monthly", unit="percent")
    np.testing.assert_allclose(rets["r"], [0.015, -0.025, 0.03], rtol=1e-12)
    # The older spelling still works.
    old = load_csv(path, "returns", "monthly", percent=True)
    np.testing.assert_allclose(old["r"], rets["r"], rtol=0)


# Low-yield series written in percent: their median is small, so only the steadiness
# test sees them (as decimals: +40 % a month, +110 % a year, with little spread).
PERCENT_LOOKALIKES = {
    "monthly T-bills": ("monthly", [0.35, 0.41, 0.38, 0.45, 0.40, 0.37]),
    "annual bonds": ("annual", [0.5, 1.2, 1.8, 0.9, 1.4, 0.7]),
}


@pytest.mark.parametrize("case", sorted(PERCENT_LOOKALIKES))
def test_low_yields_in_percent_need_their_unit(tmp_path: Path, case: str) -> None:
    frequency, values = PERCENT_LOOKALIKES[case]
    dates = pd.date_range(
        "2000-01-31", periods=len(values), freq="ME" if frequency == "monthly" else "YE"
    )
    text = "date,r\n" + "".join(f"{d.date()},{v}\n" for d, v in zip(dates, values, strict=True))
    path = _write(tmp_path, text)
    with pytest.raises(
        DataError, match=r"column 'r' looks like percent.*unit='percent'.*unit='decimal'"
    ):
        load_csv(path, "returns", frequency)  # type: ignore[arg-type]
    pct = load_csv(path, "returns", frequency, unit="percent")  # type: ignore[arg-type]
    np.testing.assert_allclose(pct["r"], np.array(values) / 100, rtol=1e-12)
    # Stated as decimals, they load as given: the user has said what they are.
    dec = load_csv(path, "returns", frequency, unit="decimal")  # type: ignore[arg-type]
    np.testing.assert_allclose(dec["r"], values, rtol=0)


def test_unit_is_checked(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,r\n2020-01-31,0.01\n2020-02-29,0.02")
    with pytest.raises(DataError, match=r"unit='basis points' is unknown"):
        load_csv(path, "returns", "monthly", unit="basis points")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"applies to kind='returns' only"):
        load_csv(path, "prices", "monthly", unit="percent")


def test_columns_selection(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,a,b\n2020-01-31,0.01,0.02\n2020-02-29,0.03,0.04")
    assert list(load_csv(path, "returns", "monthly", columns=["b"]).columns) == ["b"]
    with pytest.raises(DataError, match=r"no column\(s\) \['c'\]"):
        load_csv(path, "returns", "monthly", columns=["c"])


BAD_CASES = {
    "unsorted": (
        "date,x\n2020-01-31,1\n2020-03-31,2\n2020-02-29,3",
        "prices",
        "monthly",
        r"not sorted: 2020-02-29 comes after 2020-03-31",
    ),
    "duplicate": (
        "date,x\n2020-01-31,1\n2020-01-31,2\n2020-02-29,3",
        "prices",
        "monthly",
        r"duplicate dates 2020-01-31",
    ),
    "two rows one month": (
        "date,x\n2020-01-15,1\n2020-01-31,2",
        "prices",
        "monthly",
        r"same month \(2020-01\)",
    ),
    "missing month": (
        "date,x\n2020-01-31,0.01\n2020-03-31,0.02",
        "returns",
        "monthly",
        r"missing for 2020-02",
    ),
    "nan": (
        "date,x\n2020-01-31,1\n2020-02-29,\n2020-03-31,3",
        "prices",
        "monthly",
        r"'x' has 1 missing value\(s\) \(NaN\) at 2020-02-29",
    ),
    "nan text": (
        "date,x\n2020-01-31,0.01\n2020-02-29,NaN",
        "returns",
        "monthly",
        r"missing value",
    ),
    "zero price": (
        "date,x\n2020-01-31,1\n2020-02-29,0\n2020-03-31,3",
        "prices",
        "monthly",
        r"non-positive prices at 2020-02-29",
    ),
    "negative price": (
        "date,x\n2020-01-31,1\n2020-02-29,-4",
        "prices",
        "monthly",
        r"non-positive prices",
    ),
    "minus 100 percent": (
        "date,x\n2020-01-31,0.01\n2020-02-29,-1.0\n2020-03-31,0.02",
        "returns",
        "monthly",
        r"returns <= -100 % at 2020-02-29",
    ),
    "below minus 100 percent": (
        "date,x\n2020-01-31,0.01\n2020-02-29,-1.2\n2020-03-31,0.02",
        "returns",
        "monthly",
        r"returns <= -100 %",
    ),
    "bad date": (
        "date,x\n2020-01-31,1\nsoon,2",
        "prices",
        "monthly",
        r"date 'soon' on data row 2 is not a date",
    ),
    "non numeric": (
        "date,x\n2020-01-31,1\n2020-02-29,abc",
        "prices",
        "monthly",
        r"non-numeric value 'abc' on 2020-02-29",
    ),
    "percent sign": (
        "date,x\n2020-01-31,1%\n2020-02-29,2%",
        "returns",
        "monthly",
        r"percent signs",
    ),
    "no date column": ("when,x\n2020-01-31,1", "prices", "monthly", r"no date column 'date'"),
    "one price": ("date,x\n2020-01-31,1", "prices", "monthly", r"at least two price rows"),
    "daily gap": (
        "date,x\n2024-01-01,1\n2024-01-02,2\n2024-01-06,3\n2024-01-07,4\n2024-01-08,5",
        "prices",
        "daily",
        r"daily rows missing \(7-day calendar\): 2024-01-03\.\.2024-01-05",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input(tmp_path: Path, case: str) -> None:
    text, kind, frequency, match = BAD_CASES[case]
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=match):
        load_csv(path, kind, frequency)  # type: ignore[arg-type]


def test_unknown_frequency_and_kind(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,x\n2020-01-31,1\n2020-02-29,2")
    with pytest.raises(DataError, match=r"frequency='weekly' is unknown"):
        load_csv(path, "prices", "weekly")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"frequency=None is unknown"):
        load_csv(path, "prices")
    with pytest.raises(DataError, match=r"kind='levels' is unknown"):
        load_csv(path, "levels", "monthly")  # type: ignore[arg-type]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_csv(tmp_path / "nope.csv", "prices", "monthly")


def test_btc_like_large_returns_are_not_percent(tmp_path: Path) -> None:
    # Bitcoin-sized monthly moves (+150 %, -40 %) are legitimate decimal returns
    path = _write(tmp_path, "date,btc\n2013-01-31,0.5\n2013-02-28,1.5\n2013-03-31,-0.4")
    rets = load_csv(path, "returns", "monthly")
    np.testing.assert_allclose(rets["btc"], [0.5, 1.5, -0.4])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.5, 2.0), min_size=2, max_size=24))
def test_prices_roundtrip(growth: list[float]) -> None:
    # Invariant: compounding the loaded returns rebuilds the price path.
    prices = 100.0 * np.cumprod([1.0, *growth])
    idx = pd.date_range("2000-01-31", periods=len(prices), freq="ME")
    text = "date,p\n" + "".join(
        f"{d.date()},{float(p)!r}\n" for d, p in zip(idx, prices, strict=True)
    )
    rets = load_csv(io.StringIO(text), "prices", "monthly")
    rebuilt = prices[0] * np.cumprod(1 + rets["p"].to_numpy())
    np.testing.assert_allclose(rebuilt, prices[1:], rtol=1e-10)  # float round-off only
