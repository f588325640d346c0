"""How Bitcoin's own history is used, stated honestly.

Resampled history treats 2011 (+1,467 %) and 2013 (+5,870 %) as if they could recur.
:func:`history_variant` names the alternatives: ``"all"`` years, a ``"mature"`` window
(from ``mature_start``, e.g. 2015; earlier periods become missing, so the study's
before-data rule applies), or ``"scaled"`` returns (every log return multiplied by
``scale``, which scales the log mean and the log volatility alike).
:func:`yearly_table` gives calendar-year return, realised volatility and maximum
drawdown from the embedded daily closes, and :func:`data_caveat` the pre-2014 quality
note, read from PROVENANCE.md so the report quotes the one source.
"""

from __future__ import annotations

import math
from importlib import resources
from typing import Literal, cast

import numpy as np
import pandas as pd

from backtest.data import load_btc_daily
from backtest.errors import DataError

HistoryOption = Literal["all", "mature", "scaled"]

#: Days a year Bitcoin trades (every calendar day), for annualising daily volatility.
BTC_DAYS_PER_YEAR = 365


def history_variant(
    history: pd.DataFrame,
    column: str,
    option: HistoryOption,
    *,
    mature_start: str = "2015",
    scale: float = 0.5,
) -> pd.DataFrame:
    """A copy of ``history`` with the Bitcoin ``column`` used as ``option`` says.

    Parameters
    ----------
    history
        Decimal simple nominal returns by period end (as ``load_history`` returns).
    column
        The Bitcoin column.
    option
        ``"all"`` (unchanged), ``"mature"`` (NaN before ``mature_start``) or
        ``"scaled"`` (``r -> (1 + r) ** scale - 1``).
    mature_start
        First period of the mature window (``"2015"`` or ``"2015-01"``).
    scale
        Multiplier of log returns for ``"scaled"``, in (0, 1].
    """
    if column not in history.columns:
        raise DataError(f"history has no column {column!r}; columns: {list(history.columns)}")
    out = history.copy()
    if option == "all":
        return out
    if option == "mature":
        cut = pd.Timestamp(mature_start)
        out.loc[out.index < cut, column] = np.nan
        if out[column].notna().sum() < 2:
            raise DataError(f"the mature window from {mature_start} leaves no {column!r} data")
        return out
    if option == "scaled":
        if not 0 < scale <= 1:
            raise DataError(f"scale={scale!r} must be in (0, 1], e.g. 0.5 to halve log returns")
        out[column] = np.expm1(scale * np.log1p(out[column]))
        return out
    raise DataError(f"history option {option!r}; use 'all', 'mature' or 'scaled'")


def yearly_table(closes: pd.Series | None = None, caveat_before: int = 2014) -> pd.DataFrame:
    """Calendar-year statistics of Bitcoin from daily closes.

    Parameters
    ----------
    closes
        Daily USD closes indexed by date; default the embedded series.
    caveat_before
        Years before this one are flagged ``data_caveat`` (see :func:`data_caveat`).

    Returns
    -------
    pandas.DataFrame
        Index ``year``; columns ``return`` (last close of the year over the last close of
        the year before, minus 1; the first year from its first close), ``realised_vol``
        (standard deviation of daily log returns x sqrt(365)), ``max_drawdown`` (deepest
        fall from a running peak within the year, decimal <= 0), ``days``,
        ``data_caveat`` (bool). Partial years are included and their ``days`` say so.
    """
    s = load_btc_daily() if closes is None else closes.astype("float64")
    s = s.dropna()
    s = s[s > 0]
    logr = cast(pd.Series, np.log(s)).diff()  # numpy's stubs do not see a Series back
    rows = []
    prev_close = None
    for year, c in s.groupby(cast(pd.DatetimeIndex, s.index).year):
        start = prev_close if prev_close is not None else float(c.iloc[0])
        lr = logr.loc[c.index].dropna()
        peak = np.maximum.accumulate(np.concatenate([[start], c.to_numpy()]))
        dd = np.concatenate([[start], c.to_numpy()]) / peak - 1.0
        rows.append(
            {
                "year": int(year),
                "return": float(c.iloc[-1] / start - 1.0),
                "realised_vol": float(lr.std(ddof=1) * math.sqrt(BTC_DAYS_PER_YEAR))
                if len(lr) > 1
                else float("nan"),
                "max_drawdown": float(dd.min()),
                "days": len(c),
                "data_caveat": bool(year < caveat_before),
            }
        )
        prev_close = float(c.iloc[-1])
    return pd.DataFrame(rows).set_index("year")


def data_caveat() -> str:
    """The Bitcoin data-quality note, quoted from the embedded PROVENANCE.md."""
    text = (
        resources.files("backtest.data")
        .joinpath("embedded/PROVENANCE.md")
        .read_text(encoding="utf-8")
    )
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("- Bitcoin before"):
            note = [line[2:].strip()]
            for nxt in lines[i + 1 :]:
                if nxt.startswith("  ") and nxt.strip():
                    note.append(nxt.strip())
                else:
                    break
            # Only the Bitcoin clause (the bullet goes on about other series after a ';').
            return " ".join(note).split(";")[0] + " (backtest/data/embedded/PROVENANCE.md)."
    raise DataError(
        "PROVENANCE.md has no '- Bitcoin before ...' caveat line; the report cannot quote it"
    )
