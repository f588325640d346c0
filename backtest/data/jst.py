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
from collections.abc import Mapping
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
    complete
        Keep only years where all four columns are present (default); with ``False``,
        every calendar year from the first to the last row, NaN where a value is missing
        (so a generator can see the gaps: ``missing="exclude"`` drops cohorts across them).

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
    if complete:
        df = df.dropna()
    else:
        have = cast(pd.DatetimeIndex, df.index).year
        years = pd.to_datetime([f"{y}-12-31" for y in range(have.min(), have.max() + 1)])
        df = df.reindex(years).rename_axis("date")
    df.attrs = {
        "frequency": "annual",
        "real": False,
        "units": "decimal simple returns per year, nominal, local currency",
        "sources": {c: f"JST Macrohistory R6 ({rows['country'].iloc[0]})" for c in df.columns},
    }
    return df
