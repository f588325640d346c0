"""summary_table figures and the ``glidelab data`` command (offline)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.data import list_series, load_history, summary_table


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return summary_table()


def test_one_row_per_series(table: pd.DataFrame) -> None:
    assert len(table) == len(list_series())
    assert {"name", "frequency", "first", "last", "arith_mean_ann", "geo_mean_ann"} <= set(table)
    assert {"vol_ann", "worst", "worst_period", "source"} <= set(table)
    assert "sqrt" in table.attrs["note"]


def test_annual_stocks_row(table: pd.DataFrame) -> None:
    row = table.set_index(["name", "frequency"]).loc[("us_stocks", "annual")]
    assert (row["first"], row["last"], row["periods"]) == ("1928", "2025", 98)
    assert row["worst_period"] == "1931"
    np.testing.assert_allclose(row["worst"], -0.4384, atol=5e-5)  # published to 2 decimals
    np.testing.assert_allclose(row["geo_mean_ann"], 0.100, atol=5e-4)  # PROVENANCE: 10.0 %


def test_monthly_annualisation(table: pd.DataFrame) -> None:
    row = table.set_index(["name", "frequency"]).loc[("us_stocks", "monthly")]
    r = load_history(["us_stocks"], "monthly")["us_stocks"].to_numpy()
    # same formulas computed independently; exact up to float summation order
    np.testing.assert_allclose(row["arith_mean_ann"], 12 * r.mean(), rtol=1e-12)
    np.testing.assert_allclose(row["vol_ann"], np.sqrt(12) * r.std(ddof=1), rtol=1e-12)
    growth = np.prod(1 + r) ** (12 / len(r)) - 1
    np.testing.assert_allclose(row["geo_mean_ann"], growth, rtol=1e-9)
    assert row["worst_period"] == "1931-09"
    # the compounded monthly CRSP growth is close to the annual S&P figure (~10 %)
    assert 0.09 < row["geo_mean_ann"] < 0.11


def test_frequency_filter_and_real() -> None:
    annual = summary_table("annual")
    assert set(annual["frequency"]) == {"annual"}
    real = summary_table("annual", real=True)
    assert "cpi" not in set(real["name"])
    stocks = real.set_index("name").loc["us_stocks"]
    # real geometric mean ~ (1.100 / 1.030) - 1 ~ 6.8 %
    np.testing.assert_allclose(stocks["geo_mean_ann"], 1.100177 / 1.030352 - 1, atol=5e-4)
