"""A user's own prices or returns from a CSV file, validated once at the boundary.

The file has one date column and one numeric column per asset. Monthly and annual rows
are relabelled by the calendar period they fall in (``2020-01-01`` and ``2020-01-31``
both mean January 2020, dated 2020-01-31; a year means Dec 31), so the output lines up
with :func:`backtest.data.load_history`. Every problem is a :class:`DataError` that
names the column, the row or date, and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd

from backtest.data.calendar import detect_calendar, find_gaps, format_gaps
from backtest.errors import DataError

__all__ = ["CsvFrequency", "CsvKind", "CsvUnit", "load_csv"]

CsvKind = Literal["prices", "returns"]
CsvFrequency = Literal["daily", "monthly", "annual"]
CsvUnit = Literal["decimal", "percent"]
_KINDS = ("prices", "returns")
_FREQUENCIES = ("daily", "monthly", "annual")
_UNITS = ("decimal", "percent")
_PERIOD = {"daily": "day", "monthly": "month", "annual": "year"}
# Median |return| above which decimal returns are implausible and percent is likely.
_PERCENT_MEDIAN = {"daily": 0.1, "monthly": 0.5, "annual": 2.0}
# A mean return per period above this, steadier than its own spread (mean > standard
# deviation), is no asset's decimal record: it is a low-yield series in percent (monthly
# T-bills 0.35-0.45, annual bonds 0.5-1.8). Bitcoin's large moves swing both ways and
# pass; the S&P 500's best five years (1995-99, mean 0.29 a year) stay below 0.5.
_PERCENT_MEAN = {"daily": 0.01, "monthly": 0.05, "annual": 0.5}


def _looks_percent(r: pd.Series, frequency: str) -> str:
    """Why decimal returns ``r`` look like percent ("" when they do not)."""
    nonzero = r[r != 0].abs()
    median = float(r.abs().median())
    if len(nonzero) and bool((nonzero > 1).all()):
        return f"every |r| > 1 (median {median:.3g})"
    if median > _PERCENT_MEDIAN[frequency]:
        return f"median |r| = {median:.3g} a {_PERIOD[frequency]}"
    mean = float(r.mean())
    sd = float(r.std(ddof=1)) if len(r) > 1 else float("nan")
    if mean > _PERCENT_MEAN[frequency] and not (sd >= mean):
        return (
            f"as decimals they would gain {mean:.1%} a {_PERIOD[frequency]} on average, more "
            f"than their standard deviation ({sd:.3g})"
        )
    return ""


def _dates(shown: pd.Index | Sequence[pd.Timestamp], limit: int = 8) -> str:
    items = [str(pd.Timestamp(d).date()) for d in list(shown)[:limit]]
    more = len(shown) - limit
    return ", ".join(items) + (f" ... and {more} more" if more > 0 else "")


def _read(path: str | os.PathLike[str] | IO[str], date_column: str) -> tuple[pd.DataFrame, str]:
    label = str(path) if isinstance(path, (str, os.PathLike)) else getattr(path, "name", "<file>")
    if isinstance(path, (str, os.PathLike)) and not Path(path).is_file():
        raise DataError(f"CSV file {label!r} does not exist")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {label!r} as CSV: {exc}") from None
    matches = [c for c in raw.columns if str(c).strip().lower() == date_column.lower()]
    if not matches:
        raise DataError(
            f"{label}: no date column {date_column!r}; columns are {list(raw.columns)}. "
            f"Pass date_column= with the right name"
        )
    return raw.set_index(matches[0]), label


def _parse_dates(raw: pd.DataFrame, label: str) -> pd.DatetimeIndex:
    text = pd.Series(raw.index.astype(str).str.strip(), dtype=object)
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"{label}: date {text.iloc[row]!r} on data row {row + 1} is not a date; "
            f"use YYYY-MM-DD (or YYYY for annual rows)"
        )
    return pd.DatetimeIndex(parsed, name="date").normalize()


def _parse_values(raw: pd.DataFrame, label: str, index: pd.DatetimeIndex) -> pd.DataFrame:
    if raw.shape[1] == 0:
        raise DataError(f"{label}: no value columns besides the date column")
    out = {}
    for col in raw.columns:
        text = raw[col].astype(str).str.strip()
        empty = (text == "") | text.str.lower().isin(["nan", "na", "n/a", "null", "#n/a"])
        if empty.any():
            raise DataError(
                f"{label}: column {col!r} has {int(empty.sum())} missing value(s) (NaN) at "
                f"{_dates(index[empty.to_numpy()])}; fill them from a source or cut the "
                f"period, glidelab does not fill gaps"
            )
        values = pd.to_numeric(text.str.rstrip("%"), errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise DataError(
                f"{label}: column {col!r} has a non-numeric value {text.iloc[row]!r} on "
                f"{index[row].date()}"
            )
        if text.str.endswith("%").any():
            raise DataError(
                f"{label}: column {col!r} holds percent signs; give decimal returns "
                f"(0.05 = 5 %) or pass percent=True with plain numbers"
            )
        out[str(col)] = values.to_numpy(dtype=np.float64)
    return pd.DataFrame(out, index=index)


def _check_order(index: pd.DatetimeIndex, label: str) -> None:
    dup = index[index.duplicated(keep=False)].unique()
    if len(dup):
        raise DataError(
            f"{label}: duplicate dates {_dates(dup)}; keep one row per date (per period)"
        )
    if not index.is_monotonic_increasing:
        pos = int(np.flatnonzero(np.diff(index.asi8) < 0)[0])
        raise DataError(
            f"{label}: dates are not sorted: {index[pos + 1].date()} comes after "
            f"{index[pos].date()} (data rows {pos + 1}-{pos + 2}); sort the file by date"
        )


def _to_periods(index: pd.DatetimeIndex, frequency: str, label: str) -> pd.DatetimeIndex:
    if frequency == "daily":
        return index
    pfreq = "M" if frequency == "monthly" else "Y"
    periods = index.to_period(pfreq)
    dup = periods[periods.duplicated(keep=False)].unique()
    if len(dup):
        raise DataError(
            f"{label}: several rows fall in the same {'month' if pfreq == 'M' else 'year'} "
            f"({', '.join(str(p) for p in dup[:8])}); {frequency} data need one row per period"
        )
    full = pd.period_range(periods[0], periods[-1], freq=pfreq)
    missing = full.difference(periods)
    if len(missing):
        raise DataError(
            f"{label}: {frequency} rows are missing for {', '.join(str(p) for p in missing[:8])}"
            f"{' ...' if len(missing) > 8 else ''}; gaps are not filled"
        )
    return pd.DatetimeIndex(periods.end_time.normalize(), name="date")


def _check_options(
    kind: str, frequency: CsvFrequency | None, unit: CsvUnit | None, percent: bool
) -> tuple[CsvFrequency, CsvUnit | None]:
    """The frequency and the unit :func:`load_csv` reads, after checking its options."""
    if kind not in _KINDS:
        raise DataError(f"kind={kind!r} is unknown; use 'prices' or 'returns'")
    if unit is not None and unit not in _UNITS:
        raise DataError(f"unit={unit!r} is unknown; use 'decimal' (0.05 = 5 %) or 'percent'")
    if percent:
        if unit == "decimal":
            raise DataError("percent=True contradicts unit='decimal'; pass one of them")
        unit = "percent"
    if frequency not in _FREQUENCIES:
        raise DataError(
            f"frequency={frequency!r} is unknown; say what one row is: 'daily', 'monthly' "
            f"or 'annual'"
        )
    return frequency, unit


def _check_daily_gaps(first: pd.Series, dates: pd.DatetimeIndex, label: str) -> None:
    """Refuse daily rows with missing trading days (on the calendar the dates follow)."""
    cal = detect_calendar(dates)
    gaps = find_gaps(first, dates[0], dates[-1], calendar=cal)
    if gaps:
        raise DataError(
            f"{label}: daily rows missing ({cal} calendar): {format_gaps(gaps)}; "
            f"gaps are not filled"
        )


def _returns_from_prices(values: pd.DataFrame, unit: str | None, label: str) -> pd.DataFrame:
    """Decimal simple returns row to row of positive ``values`` (the first row is dropped)."""
    if unit is not None:
        raise DataError(f"unit={unit!r} applies to kind='returns' only (prices have no unit)")
    bad = values.le(0)
    if bad.to_numpy().any():
        col = values.columns[bad.any().to_numpy()][0]
        at = values.index[bad[col].to_numpy()]
        raise DataError(
            f"{label}: column {col!r} has non-positive prices at {_dates(at)}; prices "
            f"must be > 0 (did you mean kind='returns'?)"
        )
    if len(values) < 2:
        raise DataError(f"{label}: need at least two price rows to compute a return")
    rets = values / values.shift(1) - 1.0
    return rets.iloc[1:]


def _checked_returns(
    values: pd.DataFrame, unit: str | None, frequency: str, label: str
) -> pd.DataFrame:
    """Decimal returns from the file's ``values`` in ``unit``, refusing impossible ones.

    With no stated unit, values that look like percent are refused; a return of -100 %
    or less is refused in any unit.
    """
    rets = values / 100.0 if unit == "percent" else values
    for col in rets.columns:
        r = rets[col]
        why = _looks_percent(r, frequency) if unit is None else ""
        if why:
            raise DataError(
                f"{label}: column {col!r} looks like percent, not decimal {frequency} "
                f"returns ({why}); if the file holds percent pass unit='percent', if "
                f"these really are decimal returns pass unit='decimal'"
            )
        low = r[r <= -1.0]
        if len(low):
            hint = "" if unit == "percent" else "; if the file is in percent, pass unit='percent'"
            raise DataError(
                f"{label}: column {col!r} has returns <= -100 % at {_dates(low.index)} "
                f"(e.g. {low.iloc[0]:.4g}); a return cannot lose more than everything{hint}"
            )
    return rets


def load_csv(
    path: str | os.PathLike[str] | IO[str],
    kind: CsvKind = "prices",
    frequency: CsvFrequency | None = None,
    date_column: str = "date",
    *,
    columns: Sequence[str] | None = None,
    unit: CsvUnit | None = None,
    percent: bool = False,
) -> pd.DataFrame:
    """Decimal simple returns from a user's CSV of prices or returns.

    Parameters
    ----------
    path
        CSV file (or open text file) with a date column and one numeric column per asset.
    kind
        ``"prices"`` (positive levels, e.g. adjusted closes; returns are computed row to
        row, the first row is dropped) or ``"returns"`` (decimal simple returns per row).
    frequency
        ``"daily"``, ``"monthly"`` or ``"annual"`` (required: the file's period length).
        Monthly/annual rows are dated by the calendar period end; every period between
        the first and last row must be present.
    date_column
        Name of the date column (matched case-insensitively).
    columns
        Only these value columns (default: all).
    unit
        For ``kind="returns"``: ``"decimal"`` (0.05 = 5 %) or ``"percent"`` (5 = 5 %,
        divided by 100). ``None`` (default) reads decimals but refuses values that look
        like percent (e.g. monthly T-bills of 0.35-0.45, which would be +35 % a month),
        asking for the unit; state ``unit="decimal"`` to load such values as they are.
    percent
        Older spelling of ``unit="percent"``.

    Returns
    -------
    pandas.DataFrame
        Decimal simple returns, index ``date`` (period end for monthly/annual), one column
        per asset. ``attrs``: ``frequency``, ``kind``, ``source`` (the file), ``real``
        (None: the file does not say), ``period_note``.

    Raises
    ------
    DataError
        Missing file or column, unparseable or unsorted or duplicate dates, NaN or
        non-numeric values, non-positive prices, returns <= -100 %, percent-looking
        returns, missing periods, unknown ``kind`` or ``frequency``.
    """
    freq, unit = _check_options(kind, frequency, unit, percent)
    raw, label = _read(path, date_column)
    if columns is not None:
        absent = [c for c in columns if c not in raw.columns]
        if absent:
            raise DataError(f"{label}: no column(s) {absent}; columns are {list(raw.columns)}")
        raw = raw[list(columns)]
    if raw.shape[0] == 0:
        raise DataError(f"{label}: no data rows")
    index = _parse_dates(raw, label)
    _check_order(index, label)
    values = _parse_values(raw, label, index)
    dates = _to_periods(index, freq, label)
    values.index = dates
    if freq == "daily":
        _check_daily_gaps(values.iloc[:, 0], dates, label)
    if kind == "prices":
        rets = _returns_from_prices(values, unit, label)
    else:
        rets = _checked_returns(values, unit, freq, label)
    rets.index.name = "date"
    rets.attrs = {
        "frequency": frequency,
        "kind": kind,
        "real": None,
        "source": label,
        "units": "decimal simple returns per period, as the file's currency and terms",
        "period_note": f"{rets.index[0].date()}..{rets.index[-1].date()} from {label}"
        + ("" if frequency == "daily" else f"; rows dated by calendar {frequency} period end"),
    }
    return rets
