"""International equity per JST country: the other countries' equity in the home currency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.data.jst import international_equity, load_jst, other_countries_equity
from backtest.errors import DataError

EMBEDDED = Path(__file__).resolve().parents[2] / "backtest" / "data" / "embedded"


def _panel() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three countries, 2000-2002: H (home), A and B; B has no equity return in 2002."""
    years = pd.Index([2000, 2001, 2002], name="year")
    equity = pd.DataFrame(
        {"H": [0.0, 0.05, 0.02], "A": [0.0, 0.10, -0.20], "B": [0.0, 0.30, np.nan]}, index=years
    )
    # local currency per US dollar
    xrusd = pd.DataFrame(
        {"H": [2.0, 2.2, 2.2], "A": [1.0, 1.25, 1.0], "B": [4.0, 4.0, 5.0]}, index=years
    )
    return equity, xrusd


def test_conversion_of_a_hand_made_panel_by_hand() -> None:
    equity, xrusd = _panel()
    out = other_countries_equity(equity, xrusd, "H")
    # 2001: A in USD 1.10 * 1.0/1.25 = 0.88; B in USD 1.30 * 4/4 = 1.30; mean 1.09;
    # into H (2.2 per USD after 2.0): 1.09 * 1.1 = 1.199.
    # 2002: only A (B's return is missing): 0.80 * 1.25/1.0 = 1.0 in USD; H flat: 1.0.
    expected = [np.nan, 0.199, 0.0]
    # A few float operations per value: round-off only.
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=0, atol=1e-12)
    assert out.index[1] == pd.Timestamp("2001-12-31")
    # 2000 has no year before (no exchange-rate change): NaN, never 0.
    assert np.isnan(out.iloc[0])
    # with two others required, 2002 (one other with data) is NaN, not A alone
    two = other_countries_equity(equity, xrusd, "H", min_countries=2)
    assert np.isnan(two.iloc[2]) and two.iloc[1] == pytest.approx(0.199, abs=1e-12)


def test_no_value_from_a_country_year_without_data() -> None:
    equity, xrusd = _panel()
    # A's 2001 exchange rate missing: A drops out of 2001 AND 2002 (both need it)
    xr = xrusd.copy()
    xr.loc[2001, "A"] = np.nan
    out = other_countries_equity(equity, xr, "H")
    # 2001: B alone, 1.30 in USD * 1.1 into H
    assert out.loc["2001-12-31"] == pytest.approx(1.3 * 1.1 - 1, abs=1e-12)  # round-off
    assert np.isnan(out.loc["2002-12-31"])  # A lacks 2001's rate, B its 2002 return
    # a missing calendar year is a gap: the year after it has no exchange-rate change
    gap = other_countries_equity(equity.drop(index=2001), xrusd.drop(index=2001), "H")
    assert gap.index.year.tolist() == [2000, 2001, 2002]
    assert gap.isna().all()
    # the home country's missing rate leaves the year NaN
    xh = xrusd.copy()
    xh.loc[2002, "H"] = np.nan
    assert np.isnan(other_countries_equity(equity, xh, "H").iloc[2])


def test_usa_series_is_the_mean_of_the_others_usd_returns() -> None:
    t = pd.read_csv(EMBEDDED / "jst_countries.csv")
    usa = international_equity("USA")
    for year in (1900, 1950, 2008):  # three eras, every other country present
        now = t[t["year"] == year].set_index("iso")
        before = t[t["year"] == year - 1].set_index("iso")
        usd = [
            (1 + now.loc[i, "equity_tr"]) * before.loc[i, "xrusd"] / now.loc[i, "xrusd"] - 1
            for i in now.index
            if i != "USA"
        ]
        assert len(usd) == 16
        # the same arithmetic in another order: round-off only
        assert usa.loc[f"{year}-12-31"] == pytest.approx(np.mean(usd), rel=1e-12)


def test_usa_series_agrees_with_the_embedded_world_ex_us_equal_weighted() -> None:
    usa = international_equity("USA")
    usa.index = usa.index.year
    ref = pd.read_csv(EMBEDDED / "intl_annual_jst.csv", index_col="year")
    # Years where that series (PROVENANCE section 5) also needs last year's GDP for its GDP
    # weights (NLD, NOR, DEU lack it in the wars), and 1871 (PRT's 1870 rate is not in
    # jst_countries.csv): a different set of countries, stated in PROVENANCE section 10.
    other_sets = [1871, *range(1915, 1922), *range(1941, 1947)]
    same = ref.index.difference(other_sets)
    diff = (usa.reindex(same) - ref.loc[same, "world_ex_us_equity_tr_usd_ew"]).abs()
    assert diff.max() < 6e-7  # the reference is written with 6 decimals
    assert (
        usa.reindex(other_sets) - ref.loc[other_sets, "world_ex_us_equity_tr_usd_ew"]
    ).abs().max() > 1e-4


def test_load_jst_holds_domestic_and_international_equity() -> None:
    names = {"equity_tr": "dom", "intl_equity": "intl", "bond_tr": "bonds", "inflation": "cpi"}
    df = load_jst("GBR", names)
    assert list(df.columns) == ["dom", "intl", "bonds", "cpi"]
    assert not df.isna().any().any()
    assert df.loc["2000-12-31", "intl"] == pytest.approx(
        international_equity("GBR").loc["2000-12-31"],
        abs=0,  # the same number, joined
    )
    assert "other countries" in df.attrs["sources"]["intl"]
    # the derived column does not change which calendar years a country has
    full = load_jst("DEU", names, complete=False)
    assert full.index.equals(load_jst("DEU", complete=False).index)


def test_bad_requests_are_clear_errors() -> None:
    with pytest.raises(DataError, match="only 'equal'"):
        international_equity("GBR", weights="gdp")
    with pytest.raises(DataError, match="GBR"):
        international_equity("XXX")
    equity, xrusd = _panel()
    with pytest.raises(DataError, match="not a column"):
        other_countries_equity(equity, xrusd, "Z")
