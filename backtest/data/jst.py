"""Per-country annual returns from the Jordà-Schularick-Taylor Macrohistory database.

``embedded/jst_countries.csv`` (derived by ``backtest/data/build_jst.py`` from
``JSTdatasetR6.xlsx``; provenance in ``embedded/PROVENANCE.md``) holds, for 17 developed
countries from 1870 to 2020, equity and government-bond total returns, the bill rate and
CPI inflation, all **nominal, in local currency**, decimal per year. Real returns follow
as ``(1 + r) / (1 + inflation) - 1``, which is what the simulator does with the
``cpi`` column: a member in each country is scored in real local currency.

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

import pandas as pd

from backtest.errors import DataError

#: The CSV's columns and the default glidelab names they are given.
DEFAULT_NAMES: dict[str, str] = {
    "equity_tr": "us_stocks",
    "bond_tr": "tbonds_10y",
    "bill_rate": "tbills",
    "inflation": "cpi",
}


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
        ``inflation``); default :data:`DEFAULT_NAMES`, so that a glide path written for
        ``us_stocks`` / ``tbonds_10y`` / ``tbills`` with ``cpi`` inflation runs unchanged.
        Only the columns named are loaded.
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
    unknown = set(names) - set(DEFAULT_NAMES)
    if unknown:
        raise DataError(f"unknown JST columns {sorted(unknown)}; use {sorted(DEFAULT_NAMES)}")
    df = rows.set_index(pd.to_datetime(rows["year"].astype(str) + "-12-31"))[list(names)]
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
        "sources": {c: f"JST Macrohistory R6 ({rows['country'].iloc[0]})" for c in df.columns},
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
