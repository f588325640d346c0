"""Yahoo Finance total returns (via ``yfinance``), cached on disk as parquet.

Returns are computed from **adjusted** closes (dividends and splits folded in by Yahoo,
``auto_adjust=True``), so they are total returns in the quote currency (USD for US
tickers and ``BTC-USD``).

Cache: one parquet file of daily adjusted closes per ticker in
``$GLIDELAB_DATA_HOME/yahoo`` if that variable is set, else in the user cache directory
(``platformdirs.user_cache_dir("glidelab")/yahoo``). A request inside what a file already
covers is served from it without the network; ``refresh=True`` downloads again. If the
network is unreachable and the cache covers the request, the cache is used with a
:class:`StaleCacheWarning`.

All network access goes through the module-level :func:`_download` (tests replace it).
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import logging
import os
import re
import warnings
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import platformdirs
import pyarrow as pa
import pyarrow.parquet as pq

from backtest.data.calendar import (
    common_daily_closes,
    detect_calendar,
    find_gaps,
    format_gaps,
    period_end_closes,
    returns_from_closes,
)
from backtest.errors import CoverageError, DataError, OfflineError
from backtest.io import write_bytes_atomic

__all__ = [
    "GapWarning",
    "StaleCacheWarning",
    "YahooFrequency",
    "cache_contents",
    "default_cache_dir",
    "load_yahoo",
    "yahoo_summary",
]

YahooFrequency = Literal["daily", "monthly", "annual"]
_FREQUENCIES = ("daily", "monthly", "annual")
SOURCE = "Yahoo Finance adjusted close (yfinance, auto_adjust=True)"
# Days fetched before ``start`` so that the first period's return has a previous close.
_LOOKBACK_DAYS = 14

Downloader = Callable[[list[str], _dt.date, _dt.date], pd.DataFrame]


class StaleCacheWarning(UserWarning):
    """The network was unreachable; cached prices were used instead of fresh ones."""


class GapWarning(UserWarning):
    """Prices are missing inside the requested period (returns there are NaN)."""


# --------------------------------------------------------------------------- download


def _download(tickers: list[str], start: _dt.date, end: _dt.date) -> pd.DataFrame:
    """Daily adjusted closes from Yahoo Finance, ``start``..``end`` inclusive.

    Returns a DataFrame indexed by tz-naive dates with one column per ticker that had
    prices (a ticker Yahoo does not know or has no data for is simply absent). Raises
    :class:`OfflineError` when Yahoo cannot be reached.
    """
    import yfinance as yf  # lazy: heavy (yfinance)
    from yfinance import exceptions as yfe  # lazy: heavy (yfinance)

    columns: dict[str, pd.Series] = {}
    old = yf.config.debug.hide_exceptions
    yf.config.debug.hide_exceptions = False  # raise instead of logging and returning empty
    # yfinance talks to the terminal on its own (its logger's "Cookie/crumb fetch failed"
    # line, progress prints); glidelab says what went wrong in one error or warning of its
    # own, so the library is silenced while it runs.
    logger = logging.getLogger("yfinance")
    was_disabled = logger.disabled
    logger.disabled = True
    chatter = io.StringIO()
    try:
        with redirect_stdout(chatter), redirect_stderr(chatter):
            for ticker in tickers:
                try:
                    hist = yf.Ticker(ticker).history(
                        start=start.isoformat(),
                        end=(end + _dt.timedelta(days=1)).isoformat(),  # yfinance end is exclusive
                        interval="1d",
                        auto_adjust=True,
                        actions=False,
                    )
                except (yfe.YFPricesMissingError, yfe.YFTzMissingError, yfe.YFTickerMissingError):
                    continue
                except yfe.YFRateLimitError as exc:
                    raise OfflineError(
                        f"Yahoo Finance rate-limited the download of {ticker!r}: {exc}"
                    ) from exc
                except OSError as exc:  # curl / requests connection errors derive from OSError
                    raise OfflineError(
                        f"cannot reach Yahoo Finance for {ticker!r}: {_sentence(exc)}"
                    ) from exc
                close = _close_column(hist)
                if close is not None and close.notna().any():
                    columns[ticker] = close
    finally:
        yf.config.debug.hide_exceptions = old
        logger.disabled = was_disabled
    if not columns:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
    return pd.DataFrame(columns)


def _sentence(exc: BaseException) -> str:
    """An exception's text without its closing full stop, to go inside a sentence."""
    return str(exc).strip().rstrip(".")


def _close_column(frame: pd.DataFrame | None) -> pd.Series | None:
    """The adjusted close of a yfinance frame (``Adj Close`` if present, else ``Close``).

    Accepts ``Ticker.history`` output (flat columns, tz-aware index) and single-ticker
    ``yf.download`` output (columns MultiIndex ``(Price, Ticker)``). The index becomes
    tz-naive calendar dates.
    """
    if frame is None or frame.empty:
        return None
    cols = frame.columns
    if isinstance(cols, pd.MultiIndex):
        frame = frame.droplevel(1, axis=1) if cols.nlevels == 2 else frame
    name = "Adj Close" if "Adj Close" in frame.columns else "Close"
    if name not in frame.columns:
        raise DataError(
            f"Yahoo answer has no 'Close' or 'Adj Close' column (columns: {list(frame.columns)})"
        )
    close = frame[name]
    if isinstance(close, pd.DataFrame):  # duplicate labels
        close = close.iloc[:, 0]
    idx = pd.DatetimeIndex(close.index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    idx = idx.normalize().as_unit("us")
    out = pd.Series(close.to_numpy(dtype="float64"), index=idx, name="close")
    return out[~out.index.duplicated(keep="last")].sort_index()


# --------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    """``$GLIDELAB_DATA_HOME/yahoo`` if set, else ``platformdirs.user_cache_dir('glidelab')/yahoo``."""
    home = os.environ.get("GLIDELAB_DATA_HOME")
    if home:
        return Path(home).expanduser() / "yahoo"

    return Path(platformdirs.user_cache_dir("glidelab")) / "yahoo"


def _cache_file(cache_dir: Path, ticker: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", lambda m: f"%{ord(m.group()):02X}", ticker)
    return cache_dir / f"{safe}.parquet"


@dataclass(frozen=True)
class _Cached:
    ticker: str
    closes: pd.Series
    start: _dt.date  # first day the download asked for
    end: _dt.date  # last day the answer can be complete for
    downloaded_at: str

    def covers(self, start: _dt.date, end: _dt.date) -> bool:
        return self.start <= start and end <= self.end

    def describe(self) -> str:
        if self.closes.empty:
            return f"{self.ticker} (no prices)"
        return (
            f"{self.ticker} {self.closes.index[0].date()}..{self.closes.index[-1].date()} "
            f"(downloaded {self.downloaded_at[:10]})"
        )


def _write_cache(cache_dir: Path, entry: _Cached) -> None:
    table = pa.table(
        {
            "date": pa.array(entry.closes.index.values.astype("datetime64[ns]")),
            "close": pa.array(entry.closes.to_numpy(dtype="float64")),
        }
    )
    meta = {
        "ticker": entry.ticker,
        "start": entry.start.isoformat(),
        "end": entry.end.isoformat(),
        "downloaded_at": entry.downloaded_at,
        "source": SOURCE,
    }
    table = table.replace_schema_metadata({b"glidelab": json.dumps(meta).encode()})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    write_bytes_atomic(_cache_file(cache_dir, entry.ticker), buf.getvalue())


def _read_cache_file(path: Path) -> _Cached | None:
    try:
        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[b"glidelab"])
        frame = table.to_pandas()
    except Exception:  # unreadable or foreign file: treat as no cache
        return None
    closes = pd.Series(
        frame["close"].to_numpy(dtype="float64"),
        index=pd.DatetimeIndex(frame["date"], name="date"),
        name="close",
    )
    return _Cached(
        ticker=meta["ticker"],
        closes=closes,
        start=_dt.date.fromisoformat(meta["start"]),
        end=_dt.date.fromisoformat(meta["end"]),
        downloaded_at=meta["downloaded_at"],
    )


def _read_cache(cache_dir: Path, ticker: str) -> _Cached | None:
    path = _cache_file(cache_dir, ticker)
    return _read_cache_file(path) if path.exists() else None


def cache_contents(cache_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """One line per cached ticker: ``'SPY 1993-01-29..2024-12-31 (downloaded 2025-01-02)'``."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if not folder.is_dir():
        return []
    entries = (_read_cache_file(p) for p in sorted(folder.glob("*.parquet")))
    return [e.describe() for e in entries if e is not None]


def _cache_summary(cache_dir: Path) -> str:
    lines = cache_contents(cache_dir)
    if not lines:
        return f"the cache {cache_dir} is empty"
    return f"the cache {cache_dir} holds: " + "; ".join(lines)


# --------------------------------------------------------------------------- public


def _as_date(value: object, field: str) -> _dt.date:
    try:
        if isinstance(value, (bool, int, float)):
            raise TypeError
        return pd.Timestamp(value).date()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(f"{field}={value!r} is not a date; give 'YYYY-MM-DD'") from None


def _normalise_tickers(tickers: Sequence[str] | str) -> list[str]:
    names = [tickers] if isinstance(tickers, str) else list(tickers)
    if not names:
        raise DataError("tickers is empty; name at least one Yahoo ticker, e.g. ['SPY']")
    out = []
    for t in names:
        if not isinstance(t, str) or not t.strip() or re.search(r"\s", t.strip()):
            raise DataError(f"ticker {t!r} is not a Yahoo symbol such as 'SPY' or 'BTC-USD'")
        out.append(t.strip().upper())
    dupes = sorted({t for t in out if out.count(t) > 1})
    if dupes:
        raise DataError(f"tickers lists {dupes} more than once; name each ticker once")
    return out


def _period_start(day: _dt.date, frequency: str) -> _dt.date:
    """First calendar day of the period (day, month or year) that contains ``day``."""
    if frequency == "monthly":
        return day.replace(day=1)
    if frequency == "annual":
        return day.replace(month=1, day=1)
    return day


def _next_period_start(ts: pd.Timestamp, frequency: str) -> _dt.date:
    """First day of the period after the one containing ``ts``."""
    if frequency == "monthly":
        return (ts + pd.offsets.MonthBegin(1)).date()
    if frequency == "annual":
        return (ts + pd.offsets.YearBegin(1)).date()
    return (ts + pd.Timedelta(days=1)).date()


def _fetch_window(start: _dt.date, frequency: str) -> _dt.date:
    """First day to download so that the first period's return has a previous close."""
    return _period_start(start, frequency) - _dt.timedelta(days=_LOOKBACK_DAYS)


def _get_closes(
    ticker: str,
    fetch_start: _dt.date,
    end: _dt.date,
    *,
    refresh: bool,
    cache_dir: Path,
    downloader: Downloader,
    today: _dt.date,
) -> tuple[pd.Series, str]:
    """Daily closes of ``ticker`` over fetch_start..end and how they were obtained."""
    cached = _read_cache(cache_dir, ticker)
    if cached is not None and not refresh and cached.covers(fetch_start, end):
        return cached.closes.loc[pd.Timestamp(fetch_start) : pd.Timestamp(end)], "cache"
    lo, hi = fetch_start, end
    if cached is not None and not refresh:  # grow the cached window instead of replacing it
        lo, hi = min(lo, cached.start), max(hi, cached.end)
    try:
        frame = downloader([ticker], lo, hi)
    except OfflineError as exc:
        if cached is not None and cached.covers(fetch_start, end):
            warnings.warn(
                f"Yahoo Finance unreachable ({exc}); using cached prices for {ticker} "
                f"({cached.describe()}). Pass refresh=True when online to update them.",
                StaleCacheWarning,
                stacklevel=4,  # load_yahoo -> _all_closes -> here: the caller's line
            )
            return cached.closes.loc[pd.Timestamp(fetch_start) : pd.Timestamp(end)], "stale cache"
        raise OfflineError(
            f"{_sentence(exc)}. No usable cached prices for {ticker!r} over {fetch_start}..{end}: "
            f"{_cache_summary(cache_dir)}"
        ) from exc
    close = None
    if frame is not None and ticker in getattr(frame, "columns", ()):
        col = frame[ticker]
        close = _close_column(col.to_frame("Close")) if isinstance(col, pd.Series) else None
    if close is None or close.dropna().empty:
        raise DataError(
            f"Yahoo Finance returned no prices for {ticker!r} over {lo}..{hi} (unknown or "
            f"delisted ticker, or no trading in that period); {_cache_summary(cache_dir)}"
        )
    if (close.dropna() <= 0).any():
        bad = close[close <= 0].index[0].date()
        raise DataError(f"Yahoo Finance returned a non-positive close for {ticker!r} on {bad}")
    complete_to = min(hi, today - _dt.timedelta(days=1))  # today's close may still change
    entry = _Cached(ticker, close, lo, complete_to, pd.Timestamp.now(tz="UTC").isoformat())
    _write_cache(cache_dir, entry)
    return close.loc[pd.Timestamp(fetch_start) : pd.Timestamp(end)], "downloaded"


def _check_request(
    tickers: Sequence[str] | str,
    start: str | _dt.date | pd.Timestamp,
    end: str | _dt.date | pd.Timestamp,
    frequency: str,
    on_gap: str,
    today: _dt.date,
) -> tuple[list[str], _dt.date, _dt.date]:
    """Validated ``(tickers, start, end)`` of a :func:`load_yahoo` request."""
    if frequency not in _FREQUENCIES:
        raise DataError(
            f"frequency={frequency!r} is not supported; use one of {', '.join(_FREQUENCIES)}"
        )
    if on_gap not in ("raise", "warn"):
        raise DataError(f"on_gap={on_gap!r}; use 'raise' or 'warn'")
    names = _normalise_tickers(tickers)
    d0, d1 = _as_date(start, "start"), _as_date(end, "end")
    if d0 > d1:
        raise DataError(f"start={d0} is after end={d1}; give start <= end")
    if d0 >= today:
        raise DataError(f"start={d0} is not in the past; Yahoo has no prices yet")
    return names, d0, d1


def _checked_closes(
    ticker: str,
    closes: pd.Series,
    start: _dt.date,
    last_day: _dt.date,
    frequency: str,
    on_gap: str,
) -> tuple[pd.Series, str, str]:
    """Closes of ``ticker`` checked for coverage and gaps: ``(closes, calendar, gap line)``.

    The gap line is empty when there is no gap; with ``on_gap="warn"`` the missing days
    become explicit NaN rows (never filled).
    """
    valid = closes.dropna()
    period_start = pd.Timestamp(_period_start(start, frequency))
    if valid.index[0] >= period_start:
        suggest = _next_period_start(valid.index[0], frequency)
        raise CoverageError(
            f"Yahoo has prices for {ticker!r} from {valid.index[0].date()} only; the first "
            f"{frequency} return from start={start} needs a close before {period_start.date()}. "
            f"Use start >= {suggest}"
        )
    cal = detect_calendar(pd.DatetimeIndex(valid.index))
    gaps = find_gaps(closes, valid.index[0], pd.Timestamp(last_day), calendar=cal)
    if not gaps:
        return closes, cal, ""
    if on_gap == "warn":  # make the gaps explicit rows of NaN, never filled
        missing = pd.DatetimeIndex([d for g in gaps for d in pd.date_range(g.first, g.last)])
        closes = closes.reindex(closes.index.union(missing))
    return closes, cal, f"{ticker} ({cal} calendar): {format_gaps(gaps)}"


def _all_closes(
    names: list[str],
    start: _dt.date,
    last_day: _dt.date,
    frequency: str,
    on_gap: str,
    *,
    fetch_start: _dt.date,
    refresh: bool,
    cache_dir: Path,
    downloader: Downloader,
    today: _dt.date,
) -> tuple[dict[str, pd.Series], dict[str, str], dict[str, str]]:
    """Checked daily closes, how each was obtained and its calendar, by ticker.

    Gaps of every ticker are reported together: a :class:`DataError` for
    ``on_gap="raise"``, else one :class:`GapWarning` pointing at :func:`load_yahoo`'s caller.
    """
    closes: dict[str, pd.Series] = {}
    how: dict[str, str] = {}
    calendars: dict[str, str] = {}
    gap_lines: list[str] = []
    for t in names:
        c, how[t] = _get_closes(
            t, fetch_start, last_day, refresh=refresh, cache_dir=cache_dir,
            downloader=downloader, today=today,
        )  # fmt: skip
        closes[t], calendars[t], gap_line = _checked_closes(
            t, c, start, last_day, frequency, on_gap
        )
        if gap_line:
            gap_lines.append(gap_line)
    if gap_lines:
        msg = "missing prices (not forward-filled): " + "; ".join(gap_lines)
        if on_gap == "raise":
            raise DataError(msg + ". Pass on_gap='warn' to get NaN returns there instead")
        warnings.warn(msg, GapWarning, stacklevel=3)
    return closes, how, calendars


def _period_returns(
    frame: pd.DataFrame, frequency: YahooFrequency, mixed: bool, last_day: _dt.date
) -> tuple[pd.DataFrame, list[str]]:
    """Returns per period from daily ``frame`` closes, and notes on how they were taken.

    Daily: close to close (on the days every ticker traded when the calendars are
    ``mixed``). Monthly/annual: last close of each calendar period, dropping a final
    period that ends after ``last_day``.
    """
    notes: list[str] = []
    if frequency == "daily":
        if mixed:
            frame = common_daily_closes(frame)
            notes.append("daily returns on the days every ticker traded (mixed calendars)")
        return returns_from_closes(frame), notes
    rets = returns_from_closes(period_end_closes(frame, frequency))
    # drop a final period that end (or today) cuts short
    cut = rets.index > pd.Timestamp(last_day)
    if cut.any():
        dropped = ", ".join(str(d.date()) for d in rets.index[cut])
        notes.append(f"dropped incomplete final period(s) ending {dropped}")
    notes.append(
        "last available close in each calendar "
        + ("month" if frequency == "monthly" else "year")
        + ", labelled by the calendar period end"
    )
    return rets[~cut], notes


def load_yahoo(
    tickers: Sequence[str] | str,
    start: str | _dt.date | pd.Timestamp,
    end: str | _dt.date | pd.Timestamp,
    frequency: YahooFrequency = "monthly",
    refresh: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    on_gap: Literal["raise", "warn"] = "raise",
    downloader: Downloader | None = None,
) -> pd.DataFrame:
    """Total returns of Yahoo Finance tickers from adjusted closes, cached on disk.

    Parameters
    ----------
    tickers
        Yahoo symbols, e.g. ``["SPY", "AGG", "BTC-USD"]`` (case-insensitive).
    start, end
        Inclusive dates. Returns are given for every period whose end lies in
        ``start..end``; the close before ``start`` is fetched too so the first period has
        a return. A final period that ``end`` cuts short (or that has not finished yet)
        is dropped and noted in ``attrs["period_note"]``.
    frequency
        ``"daily"``: close to close on the days **all** tickers traded (a coin's weekend
        moves fold into Monday's return when mixed with stocks). ``"monthly"``: last
        available close of each calendar month, labelled by the calendar month end.
        ``"annual"``: last close of each calendar year, labelled Dec 31.
    refresh
        Download again even if the cache covers the request.
    cache_dir
        Folder of the parquet cache (default: :func:`default_cache_dir`).
    on_gap
        Missing prices inside the period (NaN closes, missing days of a 7-day coin,
        more than 4 missing weekdays of a stock, or an empty calendar month) raise a
        :class:`DataError` listing them (``"raise"``), or give a :class:`GapWarning` and NaN
        returns around them (``"warn"``). Never forward-filled.
    downloader
        Replaces :func:`_download` (``(tickers, start, end) -> DataFrame of closes``).

    Returns
    -------
    pandas.DataFrame
        Decimal simple nominal total returns, index ``date`` (period end), one column
        per ticker (upper case). ``attrs``: ``frequency``, ``real`` (False), ``sources``,
        ``cache`` (ticker -> 'cache' / 'downloaded' / 'stale cache'), ``calendars``
        (ticker -> '5-day' / '7-day'), ``period_note``.

    Raises
    ------
    OfflineError
        Yahoo unreachable and no cached prices cover the request (the message lists the
        cache).
    DataError
        Unknown ticker or empty answer (names the ticker and the cache content), gaps,
        bad arguments.
    CoverageError
        A ticker's prices start after ``start``.
    """
    today = _dt.date.today()
    names, d0, d1 = _check_request(tickers, start, end, frequency, on_gap, today)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    download = downloader if downloader is not None else _download
    fetch_start = _fetch_window(d0, frequency)
    last_day = min(d1, today - _dt.timedelta(days=1))  # no complete close for today

    closes, how, calendars = _all_closes(
        names, d0, last_day, frequency, on_gap,
        fetch_start=fetch_start, refresh=refresh, cache_dir=folder, downloader=download,
        today=today,
    )  # fmt: skip
    mixed = len(set(calendars.values())) > 1
    rets, notes = _period_returns(pd.DataFrame(closes)[names], frequency, mixed, last_day)
    rets = rets.loc[pd.Timestamp(d0) : pd.Timestamp(d1)]
    if rets.empty:
        raise DataError(f"no complete {frequency} period between {d0} and {d1}; widen the range")
    rets.index = pd.DatetimeIndex(rets.index, name="date").as_unit("us")
    rets.attrs = {
        "frequency": frequency,
        "real": False,
        "units": "decimal simple total returns per period, nominal, quote currency",
        "sources": {t: SOURCE for t in names},
        "cache": how,
        "calendars": calendars,
        "period_note": "; ".join([f"requested {d0}..{d1}", *notes]),
    }
    return rets


def yahoo_summary(returns: pd.DataFrame) -> pd.DataFrame:
    """Per-ticker statistics of :func:`load_yahoo` returns, annualised.

    Index ``ticker``; columns ``periods``, ``first``, ``last`` (period ends), ``arith/yr``
    (mean x periods a year), ``geo/yr`` (compounded), ``vol/yr`` (x sqrt of periods a year),
    ``worst`` (single period) and ``when``, decimals; ``cache`` says whether the prices
    were downloaded or read from the cache. Periods a year: 12 monthly, 1 annual, and for
    daily returns the number observed per calendar year (about 252 for stocks, 365 for a
    coin).
    """
    freq = returns.attrs.get("frequency", "monthly")
    rows = {}
    for ticker in returns.columns:
        r = returns[ticker].dropna()
        if r.empty:
            continue
        years = max((r.index[-1] - r.index[0]).days / 365.25, 1e-9)
        ppy = {"monthly": 12.0, "annual": 1.0}.get(freq, len(r) / years)
        rows[ticker] = {
            "periods": len(r),
            "first": r.index[0].date(),
            "last": r.index[-1].date(),
            "arith/yr": float(r.mean()) * ppy,
            "geo/yr": float((1.0 + r).prod() ** (ppy / len(r)) - 1.0),
            "vol/yr": float(r.std(ddof=1)) * ppy**0.5 if len(r) > 1 else float("nan"),
            "worst": float(r.min()),
            "when": pd.Timestamp(r.idxmin()).date(),  # type: ignore[arg-type]
            "cache": returns.attrs.get("cache", {}).get(ticker, ""),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("ticker")
