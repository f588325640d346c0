"""Trading calendars: month-end / year-end resampling and gap detection.

Crypto trades every calendar day (7-day calendar), stocks on weekdays less holidays
(5-day calendar). Mixing them is never implicit here:

* :func:`period_end_closes` keeps, per series, the **last available close in each
  calendar month (or year)** and labels it with the **calendar** period end (e.g. a stock
  whose last trade in 2024-08 was Friday 08-30 is labelled 2024-08-31, as is Bitcoin's
  Saturday 08-31 close). A period with no close stays NaN; nothing is forward-filled.
* :func:`common_daily_closes` keeps only the days on which every series has a close.
* :func:`find_gaps` reports missing stretches by the series' own calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd

__all__ = [
    "Gap",
    "TradingCalendar",
    "common_daily_closes",
    "detect_calendar",
    "find_gaps",
    "format_gaps",
    "period_end_closes",
    "returns_from_closes",
]

TradingCalendar = Literal["7-day", "5-day"]

# Longest run of weekdays a healthy stock calendar can miss: a holiday next to a closure
# (e.g. 2001-09-11..14 was 4 weekdays). A longer run is reported as a gap.
MAX_STOCK_WEEKDAYS_CLOSED = 4


@dataclass(frozen=True)
class Gap:
    """A stretch of missing closes: ``first``..``last`` inclusive, ``days`` calendar days."""

    first: pd.Timestamp
    last: pd.Timestamp
    days: int

    def __str__(self) -> str:
        if self.first == self.last:
            return str(self.first.date())
        return f"{self.first.date()}..{self.last.date()} ({self.days} days)"


def detect_calendar(index: pd.DatetimeIndex) -> TradingCalendar:
    """``'7-day'`` if more than 10 % of the dates fall on a weekend, else ``'5-day'``."""
    if len(index) == 0:
        return "5-day"
    weekend = np.asarray(index.day_of_week >= 5)
    return "7-day" if weekend.mean() > 0.10 else "5-day"


def _runs(missing: pd.DatetimeIndex) -> list[Gap]:
    """Group sorted missing calendar days into runs of consecutive days."""
    if len(missing) == 0:
        return []
    days = np.asarray(missing.values.astype("datetime64[D]").astype(np.int64))
    breaks = np.flatnonzero(np.diff(days) > 1) + 1
    out = []
    for chunk in np.split(np.arange(len(days)), breaks):
        first, last = missing[chunk[0]], missing[chunk[-1]]
        out.append(Gap(first, last, int((last - first).days) + 1))
    return out


def find_gaps(
    closes: pd.Series,
    start: pd.Timestamp,
    end: pd.Timestamp,
    calendar: TradingCalendar | None = None,
) -> list[Gap]:
    """Missing stretches of a daily close series between ``start`` and ``end`` (inclusive).

    NaN closes count as missing. On a 7-day calendar every missing day is a gap; on a
    5-day calendar weekends are ignored and only runs of more than
    ``MAX_STOCK_WEEKDAYS_CLOSED`` missing weekdays are gaps (shorter runs are holidays).
    ``calendar=None`` detects it from the dates present.
    """
    present = pd.DatetimeIndex(closes.dropna().index).normalize()
    cal = calendar or detect_calendar(present)
    days = pd.date_range(start.normalize(), end.normalize(), freq="D")
    missing = days.difference(present)
    if cal == "7-day":
        return _runs(missing)
    missing = missing[missing.day_of_week < 5]
    gaps = []
    for run in _runs_weekdays(missing):
        weekdays = int(np.busday_count(run.first.date(), (run.last + pd.Timedelta(days=1)).date()))
        if weekdays > MAX_STOCK_WEEKDAYS_CLOSED:
            gaps.append(run)
    return gaps


def _runs_weekdays(missing: pd.DatetimeIndex) -> list[Gap]:
    """Runs of missing weekdays, a weekend in between not breaking a run."""
    if len(missing) == 0:
        return []
    d = missing.values.astype("datetime64[D]")
    nxt = np.busday_offset(d[:-1], 1, roll="forward")
    breaks = np.flatnonzero(d[1:] != nxt) + 1
    out = []
    for chunk in np.split(np.arange(len(d)), breaks):
        first, last = missing[chunk[0]], missing[chunk[-1]]
        out.append(Gap(first, last, int((last - first).days) + 1))
    return out


def format_gaps(gaps: list[Gap], limit: int = 10) -> str:
    """``'2020-03-02..2020-03-09 (8 days), 2020-05-01'`` and '... and N more'."""
    shown = ", ".join(str(g) for g in gaps[:limit])
    if len(gaps) > limit:
        shown += f" ... and {len(gaps) - limit} more"
    return shown


def period_end_closes(
    closes: pd.Series | pd.DataFrame, frequency: Literal["monthly", "annual"]
) -> pd.DataFrame:
    """Last available close in each calendar month/year, labelled by the calendar period end.

    Each column is resampled on its own dates (a stock's last weekday close and a coin's
    last calendar-day close of August both land on Aug 31). A period without any close
    is NaN, never filled.
    """
    frame = closes.to_frame() if isinstance(closes, pd.Series) else closes
    rule = {"monthly": "ME", "annual": "YE"}[frequency]
    out = frame.resample(rule).last()  # last non-NaN value per column and period
    out.index = pd.DatetimeIndex(cast(pd.DatetimeIndex, out.index).normalize(), name="date")
    return out


def common_daily_closes(closes: pd.DataFrame) -> pd.DataFrame:
    """Only the days on which every column has a close (e.g. BTC on stock trading days)."""
    return closes.dropna(how="any")


def returns_from_closes(closes: pd.DataFrame) -> pd.DataFrame:
    """Simple returns ``close_t / close_{t-1} - 1`` row to row; the first row is dropped.

    A NaN close gives NaN returns on both sides: a gap is never bridged.
    """
    rets = closes / closes.shift(1) - 1.0
    return rets.iloc[1:]
