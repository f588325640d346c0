"""Per-country annual returns from the Jordà-Schularick-Taylor Macrohistory database.

``embedded/jst_countries.csv`` (derived by ``tools/build_jst.py``, a development script
kept out of the wheel, from ``JSTdatasetR6.xlsx``; provenance in
``embedded/PROVENANCE.md``) holds, for 17 developed countries from 1870 to 2020, equity
and government-bond total returns, the bill rate and CPI inflation, all **nominal, in
local currency**, decimal per year. Real returns follow
as ``(1 + r) / (1 + inflation) - 1``, which is what the simulator does with the
``cpi`` column: a member in each country is scored in real local currency.

International equity: :func:`international_equity` gives, per year, the equal-weighted
return of the **other** JST countries' equity converted into the home country's currency,
unhedged, through JST's ``xrusd`` exchange rates (local currency per US dollar); ask
:func:`load_jst` for it with the CSV name ``intl_equity`` in ``names``.

Caveat (from the provenance notes): JST's US equity series departs from the S&P 500 after
about 2015 (2018 +14.2 % vs -4.2 %, 2019 +8.2 % vs +31.2 %); use the embedded Damodaran
series for US history and JST for the other countries.
"""

from __future__ import annotations

import functools
import importlib.resources
import io
from collections.abc import Mapping, Sequence
from typing import cast

import numpy as np
import pandas as pd

from backtest.errors import DataError

#: The CSV's columns and the default glidelab names they are given.
DEFAULT_NAMES: dict[str, str] = {
    "equity_tr": "us_stocks",
    "bond_tr": "tbonds_10y",
    "bill_rate": "tbills",
    "inflation": "cpi",
}

#: The derived column :func:`load_jst` can add: the other countries' equity in the home
#: currency (:func:`international_equity`), and its default glidelab name.
INTL_EQUITY = "intl_equity"

#: Fewest other countries with data that give a year an international-equity return
#: (half the 16 others of a JST country; every year 1871-2020 has at least 9 for the USA).
MIN_OTHERS = 8


@functools.cache
def _table() -> pd.DataFrame:
    text = (
        importlib.resources.files("backtest.data")
        .joinpath("embedded", "jst_countries.csv")
        .read_text(encoding="utf-8")
    )
    return pd.read_csv(io.StringIO(text))


def jst_countries() -> dict[str, str]:
    """ISO code -> country name, for every country in the embedded table."""
    t = _table()
    return dict(zip(t["iso"], t["country"], strict=False))


def load_jst(
    iso: str,
    names: Mapping[str, str] | None = None,
    *,
    complete: bool = True,
    required: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One country's annual nominal local-currency returns and inflation.

    Parameters
    ----------
    iso
        Three-letter ISO code (``"GBR"``, ``"JPN"``...; :func:`jst_countries` lists them).
    names
        Column renaming from the CSV's names (``equity_tr``, ``bond_tr``, ``bill_rate``,
        ``inflation``, and the derived ``intl_equity``: :func:`international_equity`,
        nominal, in this country's currency); default :data:`DEFAULT_NAMES`, so that a
        glide path written for ``us_stocks`` / ``tbonds_10y`` / ``tbills`` with ``cpi``
        inflation runs unchanged. Only the columns named are loaded.
    complete
        With True (default), keep only years where the ``required`` columns are present;
        the years left out are **gaps in the dates**, which
        :func:`backtest.generators.historical_cohorts` never runs a cohort across. With
        False, every calendar year from the first to the last year with an inflation
        figure, NaN where a value is missing (1870 has no inflation: the CPI change needs
        the year before), for ``historical_cohorts(..., missing="exclude")``, which then
        counts only cohorts whose held assets and inflation are present.
    required
        Output names (after ``names``) of the columns that decide whether a year is
        complete; default every loaded column. Give only the series a strategy holds and
        inflation (e.g. ``["us_stocks", "tbonds_10y", "cpi"]`` for a 60/40) so that a
        missing bill rate does not drop a year (France 1915-21).

    Returns
    -------
    pandas.DataFrame
        Indexed by year-end dates (``YYYY-12-31``), decimal simple returns per year,
        ``attrs`` giving frequency, units and source.
    """
    t = _table()
    iso = iso.upper()
    rows = t[t["iso"] == iso]
    if rows.empty:
        raise DataError(f"no JST country {iso!r}; use one of {', '.join(sorted(set(t['iso'])))}")
    names = dict(names or DEFAULT_NAMES)
    known = [*DEFAULT_NAMES, INTL_EQUITY]
    unknown = set(names) - set(known)
    if unknown:
        raise DataError(f"unknown JST columns {sorted(unknown)}; use {sorted(known)}")
    df = rows.set_index(pd.to_datetime(rows["year"].astype(str) + "-12-31"))
    if INTL_EQUITY in names:
        df = df.join(international_equity(iso).rename(INTL_EQUITY), how="left")
    df = df[list(names)]
    df.index.name = "date"
    df = df.rename(columns=names)
    needed = list(df.columns) if required is None else list(required)
    absent = [c for c in needed if c not in df.columns]
    if absent:
        raise DataError(f"required={absent} not among the loaded columns {list(df.columns)}")
    df = df.dropna(subset=needed) if complete else _calendar_years(df, names.get("inflation"))
    df.attrs = {
        "frequency": "annual",
        "real": False,
        "units": "decimal simple returns per year, nominal, local currency",
        "sources": {
            c: f"JST Macrohistory R6 ({rows['country'].iloc[0]})"
            + (" other countries' equity, equal-weighted, via xrusd" if k == INTL_EQUITY else "")
            for k, c in names.items()
        },
    }
    return df


def _calendar_years(df: pd.DataFrame, inflation: str | None) -> pd.DataFrame:
    """Every calendar year between the first and last with an inflation figure (all rows'
    years without an inflation column), NaN where a value is missing."""
    have = df.index if inflation is None else df.index[df[inflation].notna().to_numpy()]
    years = cast(pd.DatetimeIndex, have).year
    if len(years) == 0:
        return df.iloc[:0]
    full = pd.to_datetime([f"{y}-12-31" for y in range(years.min(), years.max() + 1)])
    return df.reindex(full).rename_axis("date")


def load_jst_panel(
    isos: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """ISO code -> :func:`load_jst` ``(iso, names, complete=False)`` for ``isos`` (default
    every country): each country's calendar years with NaN where a value is missing,
    nominal local currency, decimal per year (for ``generators.panel_block_bootstrap``)."""
    chosen = list(jst_countries()) if isos is None else [i.upper() for i in isos]
    return {iso: load_jst(iso, names, complete=False) for iso in chosen}


def international_equity(
    iso: str, weights: str = "equal", *, min_countries: int = MIN_OTHERS
) -> pd.Series:
    """The other JST countries' equity as one unhedged holding of country ``iso``.

    Per year, each other country ``j``'s equity total return ``r_j`` (nominal, local
    currency) is converted into ``iso``'s currency, ``(1 + r_j) * fx_j - 1`` with
    ``fx_j = (xrusd_iso[t] / xrusd_j[t]) / (xrusd_iso[t-1] / xrusd_j[t-1])`` (the change of
    ``iso``'s currency units per unit of ``j``'s; JST ``xrusd`` = local currency per US
    dollar), and the converted returns are averaged with equal weight (``weights="equal"``,
    the only one: GDP weights are not in the embedded table; rebalanced yearly) over the
    countries that have that year's return and both years' exchange rates.

    A year is NaN when fewer than ``min_countries`` others have data (default
    :data:`MIN_OTHERS`, half of the 16 others) or ``iso``'s own exchange rate is missing
    in that year or the year before; no value is ever filled.

    Returns
    -------
    pandas.Series
        Decimal simple returns per year, nominal, in ``iso``'s currency, indexed by
        year-end dates over every calendar year of the table.
    """
    t = _table()
    home = iso.upper()
    if home not in set(t["iso"]):
        raise DataError(f"no JST country {iso!r}; use one of {', '.join(sorted(set(t['iso'])))}")
    if weights != "equal":
        raise DataError(
            f"weights={weights!r}; only 'equal' is available (the embedded JST table has no GDP)"
        )
    equity = t.pivot(index="year", columns="iso", values="equity_tr")
    xrusd = t.pivot(index="year", columns="iso", values="xrusd")
    return other_countries_equity(equity, xrusd, home, min_countries=min_countries)


def other_countries_equity(
    equity: pd.DataFrame, xrusd: pd.DataFrame, home: str, *, min_countries: int = 1
) -> pd.Series:
    """The equal-weighted, unhedged return of every country but ``home`` in ``home``'s
    currency (:func:`international_equity`'s formula) from wide tables indexed by year,
    one column per country: ``equity`` (decimal nominal local-currency returns) and
    ``xrusd`` (local currency per US dollar). Missing years are calendar gaps: a
    conversion needs the year before to be present. NaN where fewer than
    ``min_countries`` others have data or ``home``'s exchange rate is missing."""
    if home not in xrusd.columns or home not in equity.columns:
        raise DataError(f"{home!r} is not a column of the panel; give its equity and xrusd")
    if min_countries < 1:
        raise DataError(f"min_countries={min_countries}; it must be >= 1")
    years = np.arange(int(equity.index.min()), int(equity.index.max()) + 1)
    fx = xrusd.reindex(index=years, columns=equity.columns)
    fx_change = fx / fx.shift(1)  # local units per dollar, this year over last (calendar)
    usd = (1.0 + equity.reindex(years)) / fx_change - 1.0  # each country's return in USD
    others = usd.drop(columns=home)
    count = others.notna().sum(axis=1)
    home_return = (1.0 + others.mean(axis=1)) * fx_change[home] - 1.0
    out = home_return.where(count >= min_countries)
    out.index = pd.to_datetime([f"{y}-12-31" for y in years])
    out.index.name = "date"
    return out.rename(INTL_EQUITY)
