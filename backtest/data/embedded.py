"""Embedded historical returns: the series catalog and :func:`load_history`.

The numbers live in ``backtest/data/embedded/*.csv`` (package data, read with
:mod:`importlib.resources`, no network). ``embedded/PROVENANCE.md`` names the producer,
file, commit and cleaning of every column; ``embedded/SERIES.md`` maps each glidelab
asset name to its CSV column. Nothing here edits a number: the loader selects columns,
dates rows by period end and, for annual Bitcoin only, compounds month-end closes
(documented derivation).

Sources, in short:

* annual US (1928-2025): Aswath Damodaran, "Historical Returns on Stocks, Bonds and
  Bills" (histretSP, January 2026 edition); CPI December-to-December CPI-U.
  Annual ``us_stocks`` is the **S&P 500** with dividends.
* monthly US: Kenneth R. French data library (CRSP value-weighted **total market** and
  1-month T-bill, 1926-07..2025-11) and Robert J. Shiller's ``ie_data`` (S&P composite,
  10-year bond, CPI, from 1871). Monthly ``us_stocks`` is **CRSP total market**, not the
  S&P 500. Shiller's stock returns use monthly-*average* prices, so they are smoothed and
  lagged (Oct 1987: -11.9 % vs -22.6 % for CRSP); use them only for pre-1926 history.
* Bitcoin: daily USD closes 2010-07-18 onward (GitHub ``Boddei/coinmaster``); monthly
  returns from month-end closes.
* international: MSCI gross total-return indices in USD (1999-01..2025-08), Ken French
  Developed market (1990-07..2024-10), and a Jordà-Schularick-Taylor derived annual
  world-ex-US equity return (1871-2020).
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib.resources
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd

from backtest.data.inflation import to_real
from backtest.errors import CoverageError, DataError
from backtest.types import ASSET_ROLES, AssetRole, Frequency, periods_per_year

__all__ = [
    "CATALOG",
    "FREQUENCIES",
    "PeriodLike",
    "SeriesInfo",
    "asset_label",
    "asset_role",
    "asset_roles",
    "assets_with_role",
    "get_series",
    "list_series",
    "load_btc_daily",
    "load_history",
    "summary_table",
]

FREQUENCIES: tuple[str, ...] = ("annual", "monthly")

PeriodLike = int | str | _dt.date | pd.Timestamp | pd.Period | np.datetime64 | None

Derivation = Literal["column", "annual_from_december_close"]

_DAMODARAN = "Damodaran (NYU Stern) histretSP, Jan 2026 edition"  # short form for tables
_FRENCH = "Ken French data library (CRSP), vintage 202511"
_SHILLER = "Shiller ie_data, Jul 2026 edition"
_BTC = "BTC/USD daily close, GitHub Boddei/coinmaster"
_MSCI = "MSCI gross TR (USD) via PyPI firecast 0.1.3"


@dataclass(frozen=True)
class SeriesInfo:
    """One embedded series: what a glidelab asset name means at one frequency.

    Attributes
    ----------
    name
        glidelab asset name (column name returned by :func:`load_history`).
    frequency
        ``"annual"`` (rows dated Dec 31) or ``"monthly"`` (rows dated month end).
    csv
        File under ``backtest/data/embedded/``.
    column
        Column of ``csv`` the values come from.
    first, last
        First and last period with a value: ``"YYYY"`` (annual) or ``"YYYY-MM"`` (monthly).
    source
        Producer of the numbers (details in PROVENANCE.md).
    description
        What the series measures, including caveats.
    role
        What the asset is for rules that group assets (which count as equity, which is
        cash...): one of ``strategies.types.ASSET_ROLES``. The one registry of roles;
        see :func:`asset_role`, :func:`assets_with_role` and :func:`asset_roles`.
    label
        Short display name for legends and tables, e.g. ``"US stocks"``.
    nominal
        True for nominal USD returns; ``cpi`` is itself the inflation rate.
    kind
        (property, from ``role``) ``"return"`` (decimal simple return per period) or
        ``"inflation"`` (decimal CPI change per period).
    derivation
        ``"column"``: values are read as they are. ``"annual_from_december_close"``: annual
        return = December close / previous December close - 1 of a month-end price column
        (full calendar years only).
    """

    name: str
    frequency: Frequency
    csv: str
    column: str
    first: str
    last: str
    source: str
    description: str
    role: AssetRole
    label: str
    nominal: bool = True
    derivation: Derivation = "column"

    @property
    def kind(self) -> Literal["return", "inflation"]:
        """``"inflation"`` for a price index (role ``"inflation"``), else ``"return"``."""
        return "inflation" if self.role == "inflation" else "return"

    @property
    def first_end(self) -> pd.Timestamp:
        """Period-end timestamp of the first period."""
        return _period(self.first, self.frequency).end_time.normalize()

    @property
    def last_end(self) -> pd.Timestamp:
        """Period-end timestamp of the last period."""
        return _period(self.last, self.frequency).end_time.normalize()

    @property
    def coverage(self) -> str:
        """Human-readable coverage, e.g. ``'1926-07..2025-11'``."""
        return f"{self.first}..{self.last}"


def _a(name: str, column: str, source: str, description: str, **kw: object) -> SeriesInfo:
    kw.setdefault("first", "1928")
    kw.setdefault("last", "2025")
    kw.setdefault("csv", "us_annual.csv")
    return SeriesInfo(
        name=name,
        frequency="annual",
        column=column,
        source=source,
        description=description,
        **kw,  # type: ignore[arg-type]
    )


def _m(name: str, column: str, source: str, description: str, **kw: object) -> SeriesInfo:
    kw.setdefault("csv", "us_monthly.csv")
    return SeriesInfo(
        name=name,
        frequency="monthly",
        column=column,
        source=source,
        description=description,
        **kw,  # type: ignore[arg-type]
    )


_SERIES: tuple[SeriesInfo, ...] = (
    # ---------------------------------------------------------------- annual
    _a(
        "us_stocks",
        "sp500_tr",
        _DAMODARAN,
        "S&P 500 total return (dividends reinvested).",
        role="equity",
        label="US stocks",
    ),
    _a(
        "us_small",
        "small_cap_tr",
        _DAMODARAN,
        "US small caps: Ken French bottom size decile, value-weighted; 2025 is Jan-Nov only.",
        role="equity",
        label="US small caps",
    ),
    _a(
        "tbills",
        "tbill_3m",
        _DAMODARAN,
        "3-month T-bill: average secondary-market yield of the year used as its return.",
        role="cash",
        label="T-bills",
    ),
    _a(
        "tbonds_10y",
        "tbond_10y_tr",
        _DAMODARAN,
        "10-year US Treasury total return, constant-maturity approximation from yields.",
        role="bond",
        label="10-year Treasuries",
    ),
    _a(
        "corp_aaa",
        "aaa_corp_tr",
        _DAMODARAN,
        "Moody's Aaa corporate bond return, yield-based approximation.",
        role="bond",
        label="AAA corporate bonds",
    ),
    _a(
        "corp_baa",
        "baa_corp_tr",
        _DAMODARAN,
        "Moody's Baa corporate bond return, yield-based approximation.",
        role="bond",
        label="BAA corporate bonds",
    ),
    _a(
        "real_estate",
        "real_estate_tr",
        _DAMODARAN,
        "US home-price change (Shiller / Case-Shiller): price only, not REITs, no rent.",
        role="real_asset",
        label="Real estate",
    ),
    _a(
        "gold",
        "gold_tr",
        _DAMODARAN,
        "Gold price change (annual averages before 1970, fixed-price era before 1971).",
        role="real_asset",
        label="Gold",
    ),
    _a(
        "cpi",
        "cpi_inflation_dec",
        "BLS CPI-U (CPIAUCNS) December/December, via PyPI manyfutures 0.2.0",
        "US inflation, December to December, not seasonally adjusted.",
        role="inflation",
        label="Inflation (CPI)",
    ),
    _a(
        "btc",
        "btc_usd_close",
        _BTC + "; derived",
        "Bitcoin USD return, December month-end close to December month-end close "
        "(full calendar years only; derived by glidelab from btc_monthly.csv).",
        csv="btc_monthly.csv",
        first="2011",
        derivation="annual_from_december_close",
        role="crypto",
        label="Bitcoin",
    ),
    _a(
        "intl_ex_us",
        "world_ex_us_equity_tr_usd",
        "Jordà-Schularick-Taylor Macrohistory R6; derived",
        "World ex-US equity total return in USD, 16 countries weighted by prior-year GDP "
        "(lower quality; JST departs from MSCI after ~2015).",
        csv="intl_annual_jst.csv",
        first="1871",
        last="2020",
        role="equity",
        label="International stocks",
    ),
    _a(
        "intl_ex_us_ew",
        "world_ex_us_equity_tr_usd_ew",
        "Jordà-Schularick-Taylor Macrohistory R6; derived",
        "World ex-US equity total return in USD, equal-weighted across countries.",
        csv="intl_annual_jst.csv",
        first="1871",
        last="2020",
        role="equity",
        label="International stocks (equal-weighted)",
    ),
    # --------------------------------------------------------------- monthly
    _m(
        "us_stocks",
        "stocks_tr",
        _FRENCH,
        "CRSP value-weighted US total market return (NYSE/AMEX/NASDAQ), not the S&P 500.",
        first="1926-07",
        last="2025-11",
        role="equity",
        label="US stocks",
    ),
    _m(
        "us_stocks_long",
        "stocks_tr_long",
        f"{_SHILLER} to 1926-06, then {_FRENCH}",
        "Spliced US stocks: Shiller S&P composite (monthly-average prices, smoothed) "
        "1871-02..1926-06, then CRSP total market.",
        first="1871-02",
        last="2025-11",
        role="equity",
        label="US stocks",
    ),
    _m(
        "sp500_shiller",
        "sp500_tr_shiller",
        _SHILLER,
        "Shiller S&P composite total return from monthly-AVERAGE prices: smoothed and "
        "lagged; for pre-1926 history only. Last months' dividends provisional.",
        first="1871-02",
        last="2026-06",
        role="equity",
        label="S&P 500 (Shiller)",
    ),
    _m(
        "tbills",
        "tbill_1m",
        _FRENCH,
        "1-month T-bill return (Ibbotson to 2024-05, ICE BofA 1-month index after).",
        first="1926-07",
        last="2025-11",
        role="cash",
        label="T-bills",
    ),
    _m(
        "us_small",
        "small_cap_tr_decile1",
        _FRENCH,
        "US small caps: bottom size decile (NYSE breakpoints), value-weighted.",
        first="1926-07",
        last="2025-11",
        role="equity",
        label="US small caps",
    ),
    _m(
        "us_small_quintile",
        "small_cap_tr_quintile1",
        _FRENCH,
        "US small caps: bottom size quintile (NYSE breakpoints), value-weighted.",
        first="1926-07",
        last="2025-11",
        role="equity",
        label="US small caps (quintile)",
    ),
    _m(
        "tbonds_10y",
        "bond_10y_tr_shiller",
        _SHILLER,
        "10-year par bond total return priced off the long rate (GS10 from 1953).",
        first="1871-02",
        last="2026-06",
        role="bond",
        label="10-year Treasuries",
    ),
    _m(
        "gold",
        "gold_return",
        "World Bank Pink Sheet via GitHub datasets/gold-prices",
        "Change of the monthly-average gold price (averages: slightly smoothed).",
        first="1960-02",
        last="2026-06",
        role="real_asset",
        label="Gold",
    ),
    _m(
        "cpi",
        "cpi_inflation",
        _SHILLER,
        "US CPI (CPI-U from 1913) month-on-month change; latest months estimated by Shiller.",
        first="1871-02",
        last="2026-05",
        role="inflation",
        label="Inflation (CPI)",
    ),
    _m(
        "btc",
        "btc_return",
        _BTC,
        "Bitcoin USD return from month-end closes; 2010-2012 prices coarse, 2013-early "
        "2014 Mt.Gox-era prices.",
        csv="btc_monthly.csv",
        first="2010-08",
        last="2026-07",
        role="crypto",
        label="Bitcoin",
    ),
    _m(
        "world",
        "msci_world_gross_usd",
        _MSCI,
        "MSCI World gross total return, USD (optional: MSCI licence).",
        csv="intl_monthly.csv",
        first="1999-01",
        last="2025-08",
        role="equity",
        label="World stocks",
    ),
    _m(
        "world_ex_us",
        "msci_world_ex_usa_gross_usd",
        _MSCI,
        "MSCI World ex USA gross total return, USD (optional: MSCI licence).",
        csv="intl_monthly.csv",
        first="1999-01",
        last="2025-08",
        role="equity",
        label="World ex-US stocks",
    ),
    _m(
        "acwi_imi",
        "msci_acwi_imi_gross_usd",
        _MSCI,
        "MSCI ACWI IMI gross total return, USD (optional: MSCI licence).",
        csv="intl_monthly.csv",
        first="1999-01",
        last="2025-08",
        role="equity",
        label="All-world stocks",
    ),
    _m(
        "europe",
        "msci_europe_gross_usd",
        _MSCI,
        "MSCI Europe gross total return, USD (optional: MSCI licence).",
        csv="intl_monthly.csv",
        first="1999-01",
        last="2025-08",
        role="equity",
        label="European stocks",
    ),
    _m(
        "japan",
        "msci_japan_imi_gross_usd",
        _MSCI,
        "MSCI Japan IMI gross total return, USD (optional: MSCI licence).",
        csv="intl_monthly.csv",
        first="1999-01",
        last="2025-08",
        role="equity",
        label="Japanese stocks",
    ),
    _m(
        "world_small",
        "msci_world_small_cap_gross_usd",
        _MSCI,
        "MSCI World Small Cap gross total return, USD (optional: MSCI licence).",
        csv="intl_monthly.csv",
        first="1999-01",
        last="2025-08",
        role="equity",
        label="World small caps",
    ),
    _m(
        "msci_usa",
        "msci_usa_gross_usd",
        _MSCI,
        "MSCI USA gross total return, USD (optional: MSCI licence).",
        csv="intl_monthly.csv",
        first="1999-01",
        last="2025-08",
        role="equity",
        label="US stocks (MSCI)",
    ),
    _m(
        "developed",
        "developed_mkt_tr_ff",
        "Ken French data library, Developed 3 factors (Bloomberg)",
        "Ken French Developed-markets total return, USD (includes the US).",
        csv="intl_monthly.csv",
        first="1990-07",
        last="2024-10",
        role="equity",
        label="Developed-market stocks",
    ),
)

CATALOG: dict[tuple[str, str], SeriesInfo] = {(s.name, s.frequency): s for s in _SERIES}
"""Every embedded series keyed by ``(name, frequency)``."""


# --------------------------------------------------------------------------- roles

_ROLE_OF: dict[str, AssetRole] = {s.name: s.role for s in _SERIES}


def asset_role(name: str) -> AssetRole:
    """Role of an embedded series (the same at every frequency), e.g. ``"equity"``.

    Raises
    ------
    DataError
        For a name outside the catalog (a yfinance ticker, a CSV column): declare its role
        with :func:`asset_roles` ``(..., declared={name: role})`` or the caller's own
        parameter (e.g. ``equity_assets=``).
    """
    try:
        return _ROLE_OF[name]
    except KeyError:
        raise DataError(
            f"asset {name!r} is not an embedded series, so its role is unknown; declare it, "
            f"e.g. roles={{{name!r}: 'equity'}} (roles: {', '.join(ASSET_ROLES)})"
        ) from None


def assets_with_role(role: AssetRole, frequency: str | None = None) -> tuple[str, ...]:
    """Names of the embedded series with ``role``, at one frequency or at any, catalog order."""
    _check_role(role)
    names = (s.name for s in list_series(frequency) if s.role == role)
    return tuple(dict.fromkeys(names))


def asset_roles(
    assets: Sequence[str], declared: Mapping[str, str] | None = None
) -> dict[str, AssetRole]:
    """Role of every name in ``assets``: ``declared`` first, then the embedded catalog.

    This is how roles are stated for series that are not embedded (yfinance tickers, CSV
    columns): ``asset_roles(["VTI", "BND"], declared={"VTI": "equity", "BND": "bond"})``.
    A declared role may also override an embedded one.

    Raises
    ------
    DataError
        For a declared role that is not one of ``ASSET_ROLES``, or names with no role
        (all of them listed, with the fix).
    """
    declared = dict(declared or {})
    for name, role in declared.items():
        _check_role(role, name)
    out: dict[str, AssetRole] = {}
    unknown: list[str] = []
    for name in assets:
        if name in declared:
            out[name] = declared[name]  # type: ignore[assignment]
        elif name in _ROLE_OF:
            out[name] = _ROLE_OF[name]
        else:
            unknown.append(name)
    if unknown:
        raise DataError(
            f"no role known for {', '.join(repr(n) for n in unknown)} (not embedded series); "
            f"declare each one's role, e.g. roles={{{unknown[0]!r}: 'equity'}} (roles: "
            f"{', '.join(ASSET_ROLES)})"
        )
    return out


def asset_label(name: str) -> str:
    """Display name of an embedded series (``"us_stocks"`` -> ``"US stocks"``); else ``name``."""
    for s in _SERIES:
        if s.name == name:
            return s.label
    return name


def _check_role(role: object, name: str | None = None) -> None:
    if role not in ASSET_ROLES:
        who = f"role of {name!r}" if name is not None else "role"
        raise DataError(f"{who}={role!r} is not an asset role; use one of {', '.join(ASSET_ROLES)}")


# --------------------------------------------------------------------------- helpers


def _check_frequency(frequency: object) -> Frequency:
    if frequency not in FREQUENCIES:
        raise DataError(
            f"frequency={frequency!r} is not available for embedded history; use one of "
            f"{', '.join(repr(f) for f in FREQUENCIES)}"
        )
    return frequency  # type: ignore[return-value]


def list_series(frequency: str | None = None) -> tuple[SeriesInfo, ...]:
    """The catalog, optionally only one frequency (``"annual"`` or ``"monthly"``)."""
    if frequency is None:
        return _SERIES
    freq = _check_frequency(frequency)
    return tuple(s for s in _SERIES if s.frequency == freq)


def get_series(name: str, frequency: str = "annual") -> SeriesInfo:
    """Catalog entry for ``name`` at ``frequency``; DataError listing valid names if unknown."""
    freq = _check_frequency(frequency)
    try:
        return CATALOG[(name, freq)]
    except KeyError:
        valid = ", ".join(s.name for s in list_series(freq))
        other = [f for f in FREQUENCIES if (name, f) in CATALOG]
        hint = f" ({name!r} exists at frequency={other[0]!r})" if other else ""
        raise DataError(
            f"unknown {freq} asset {name!r}{hint}; valid {freq} names: {valid}"
        ) from None


_YEAR = re.compile(r"^\s*\d{4}\s*$")


def _period(value: object, frequency: str, *, role: str = "start") -> pd.Period:
    """Turn a year, 'YYYY', 'YYYY-MM', date or Timestamp into the period containing it.

    A bare year given as ``end`` at monthly frequency means December of that year.
    """
    pfreq = "Y" if frequency == "annual" else "M"
    try:
        if isinstance(value, pd.Period):
            return value.asfreq(pfreq, how="end" if role == "end" else "start")
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        if isinstance(value, (int, np.integer)) or (isinstance(value, str) and _YEAR.match(value)):
            year = int(value)
            if pfreq == "Y":
                return pd.Period(year=year, freq="Y")
            return pd.Period(year=year, month=12 if role == "end" else 1, freq="M")
        if isinstance(value, (str, _dt.date, pd.Timestamp, np.datetime64)):
            return pd.Timestamp(value).to_period(pfreq)
    except (TypeError, ValueError):
        pass
    raise DataError(f"{role}={value!r} is not a period; give a year (1990), 'YYYY-MM' or a date")


@functools.cache
def _read_csv_cached(filename: str) -> pd.DataFrame:
    ref = importlib.resources.files("backtest.data").joinpath("embedded", filename)
    text = ref.read_text(encoding="utf-8")
    frame = pd.read_csv(io.StringIO(text))
    if "year" in frame.columns:
        index = pd.to_datetime(frame.pop("year").astype(str) + "-12-31")
    else:
        index = pd.to_datetime(frame.pop("date"), format="%Y-%m-%d")
    frame.index = pd.DatetimeIndex(index, name="date")
    return frame


def _read_csv(filename: str) -> pd.DataFrame:
    """An embedded CSV indexed by period end (a copy: callers may modify it)."""
    return _read_csv_cached(filename).copy()


def _raw_series(info: SeriesInfo) -> pd.Series:
    """The full series of ``info`` over its coverage, float64, indexed by period end."""
    col = _read_csv(info.csv)[info.column].astype("float64")
    if info.derivation == "annual_from_december_close":
        dec = col[cast(pd.DatetimeIndex, col.index).month == 12].dropna()
        # consecutive Decembers only: a return needs the previous year's December close
        years = cast(pd.DatetimeIndex, dec.index).year
        ret = dec / dec.shift(1) - 1.0
        ok = np.r_[False, np.diff(years) == 1]
        out = ret[ok]
    else:
        out = col
    out = out.loc[info.first_end : info.last_end]
    if out.isna().any():  # pragma: no cover - guards the package data, tested via catalog
        missing = ", ".join(str(d.date()) for d in out.index[out.isna()][:5])
        raise DataError(f"embedded series {info.name!r} has missing values at {missing}")
    out.name = info.name
    return out


def _label(ts: pd.Timestamp, frequency: str) -> str:
    return f"{ts.year}" if frequency == "annual" else f"{ts.year}-{ts.month:02d}"


def _asked_series(
    assets: Sequence[str] | str, freq: Frequency, real: bool
) -> tuple[list[str], list[SeriesInfo]]:
    """The asked asset names, each once, and their series at ``freq``."""
    names = [assets] if isinstance(assets, str) else list(assets)
    if not names:
        raise DataError("assets is empty; name at least one series, e.g. ['us_stocks']")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"assets lists {dupes} more than once; name each series once")
    infos = [get_series(n, freq) for n in names]
    if real:
        inflation = [i.name for i in infos if i.kind == "inflation"]
        if inflation:
            raise DataError(
                f"real=True deflates by CPI, so {inflation[0]!r} itself cannot be asked for "
                f"in real terms; ask for it with real=False"
            )
    return names, infos


def _coverages(limits: Sequence[SeriesInfo]) -> str:
    return ", ".join(f"{i.name} {i.coverage}" for i in limits)


def _common_span(
    limits: Sequence[SeriesInfo], freq: Frequency
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last period end that every series of ``limits`` covers."""
    first = max(i.first_end for i in limits)
    last = min(i.last_end for i in limits)
    if first > last:
        raise CoverageError(
            f"the {freq} series share no common period ({_coverages(limits)}); choose series "
            "that overlap"
        )
    return first, last


def _selected_span(
    start: PeriodLike,
    end: PeriodLike,
    freq: Frequency,
    limits: Sequence[SeriesInfo],
    names: Sequence[str],
    real: bool,
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Period ends of ``start..end`` (default: the common coverage), checked against it."""
    first, last = _common_span(limits, freq)
    common = f"{_label(first, freq)}..{_label(last, freq)}"
    lo = first if start is None else _period(start, freq, role="start").end_time.normalize()
    hi = last if end is None else _period(end, freq, role="end").end_time.normalize()
    if lo > hi:
        raise DataError(
            f"start={start!r} is after end={end!r}; give start <= end"
            if start is not None and end is not None
            else f"the requested period {_label(lo, freq)}..{_label(hi, freq)} is empty "
            f"(common coverage {common})"
        )
    if lo < first or hi > last:
        bad = start if lo < first else end
        which = "start" if lo < first else "end"
        limiting = [
            i
            for i in limits
            if (which == "start" and i.first_end > lo) or (which == "end" and i.last_end < hi)
        ]
        lim = ", ".join(f"{i.name} covers {i.coverage}" for i in limiting)
        raise CoverageError(
            f"{which}={bad!r} is outside the {freq} coverage: {lim}; "
            f"the common period of {', '.join(names)}"
            f"{' and cpi (real=True)' if real else ''} is {common}"
        )
    return lo, hi


# --------------------------------------------------------------------------- public


def load_history(
    assets: Sequence[str] | str,
    frequency: Frequency = "annual",
    start: PeriodLike = None,
    end: PeriodLike = None,
    real: bool = False,
) -> pd.DataFrame:
    """Embedded historical returns as decimal simple returns per period.

    Parameters
    ----------
    assets
        glidelab asset names (see :func:`list_series` or ``glidelab data``), e.g.
        ``["us_stocks", "tbonds_10y", "tbills"]``. Annual ``us_stocks`` is the S&P 500 total
        return (Damodaran); monthly ``us_stocks`` is the CRSP total market (Ken French).
    frequency
        ``"annual"`` (rows dated Dec 31) or ``"monthly"`` (rows dated month end).
    start, end
        First and last period wanted, inclusive: a year (``1966``), ``"YYYY-MM"``, or a
        date (the period containing it). ``None`` = the common coverage of ``assets``.
        A period outside that coverage raises :class:`~backtest.errors.CoverageError`.
    real
        If True, convert every return to real terms with the CPI of the same frequency:
        ``(1 + r) / (1 + cpi) - 1``. The coverage then also includes the CPI's.

    Returns
    -------
    pandas.DataFrame
        Decimal simple returns (0.10 = +10 %), nominal USD unless ``real``; index
        ``date`` of period-end Timestamps; one column per asset in the order asked.
        ``attrs``: ``frequency``, ``real``, ``sources`` (asset -> producer),
        ``coverage`` (asset -> 'first..last'), ``period_note`` (how the period was chosen).

    Raises
    ------
    DataError
        Unknown frequency or asset name (the message lists the valid names).
    CoverageError
        ``start``/``end`` outside the common coverage, or the assets share no period.
    """
    freq = _check_frequency(frequency)
    names, infos = _asked_series(assets, freq, real)
    limits = [*infos, get_series("cpi", freq)] if real else list(infos)
    first, last = _common_span(limits, freq)
    common = f"{_label(first, freq)}..{_label(last, freq)}"
    lo, hi = _selected_span(start, end, freq, limits, names, real)

    frame = pd.concat([_raw_series(i).loc[lo:hi] for i in infos], axis=1, join="inner")
    if real:
        cpi = _raw_series(get_series("cpi", freq)).loc[lo:hi]
        frame = to_real(frame, cpi)
    frame.index.name = "date"
    frame.columns = pd.Index(names)

    if len(limits) == 1:
        note = f"full coverage of {names[0]} ({common})"
    else:
        note = f"common period of {_coverages(limits)}: {common}"
    if start is not None or end is not None:
        note += f"; selected {_label(lo, freq)}..{_label(hi, freq)}"
    frame.attrs = {
        "frequency": freq,
        "real": bool(real),
        "units": "decimal simple returns per period, "
        + ("real (deflated by CPI)" if real else "nominal USD"),
        "sources": {i.name: i.source for i in infos},
        "coverage": {i.name: i.coverage for i in infos},
        "period_note": note,
    }
    return frame


def load_btc_daily() -> pd.Series:
    """Embedded Bitcoin daily closes in USD, every calendar day from 2010-07-18.

    Source: GitHub ``Boddei/coinmaster`` ``data/btc_daily_prices.csv`` (history to 2026-02
    from a vendor export, CoinGecko closes after); see PROVENANCE.md section 3. Prices before
    2013 are coarse (USD 0.10 steps); 2013 to early 2014 follow Mt.Gox-era prices.

    Returns
    -------
    pandas.Series
        ``btc_usd_close`` (USD per BTC, float64), index ``date`` of calendar days.
    """
    s = _read_csv("btc_daily.csv")["btc_usd_close"].astype("float64")
    s.attrs = {"units": "USD per BTC", "source": _BTC}
    return s


SUMMARY_NOTE = (
    "Annualised from each series' own frequency: arithmetic mean = mean x periods per year "
    "(x12 monthly); geometric mean = compounded growth per year, "
    "prod(1 + r) ** (periods_per_year / n) - 1; volatility = std (ddof=1) x "
    "sqrt(periods per year). Worst = lowest single-period return (month or year) and its "
    "period."
)


def summary_table(frequency: str | None = None, real: bool = False) -> pd.DataFrame:
    """Statistics of every embedded series over its full coverage.

    Parameters
    ----------
    frequency
        ``"annual"``, ``"monthly"`` or None (both).
    real
        Deflate by the CPI of the same frequency first (``cpi`` itself is then left out
        and each series is cut to the CPI's coverage).

    Returns
    -------
    pandas.DataFrame
        One row per series: ``name``, ``frequency``, ``first``, ``last``, ``periods``,
        ``arith_mean_ann``, ``geo_mean_ann``, ``vol_ann`` (decimal, annualised as in
        :data:`SUMMARY_NOTE`), ``worst`` (decimal return of the worst single period),
        ``worst_period`` (``YYYY`` or ``YYYY-MM``), ``source``. ``attrs["note"]`` says how
        the figures are annualised.
    """
    rows = []
    for info in list_series(frequency):
        if real and info.kind == "inflation":
            continue
        r = load_history([info.name], info.frequency, real=real)[info.name]
        ppy = periods_per_year(info.frequency)
        x = r.to_numpy(dtype=np.float64)
        n = len(x)
        worst_at = cast(pd.Timestamp, r.idxmin())
        rows.append(
            {
                "name": info.name,
                "frequency": info.frequency,
                "first": _label(r.index[0], info.frequency),
                "last": _label(r.index[-1], info.frequency),
                "periods": n,
                "arith_mean_ann": float(x.mean() * ppy),
                "geo_mean_ann": float(np.exp(np.log1p(x).sum() * ppy / n) - 1.0),
                "vol_ann": float(x.std(ddof=1) * np.sqrt(ppy)) if n > 1 else float("nan"),
                "worst": float(x.min()),
                "worst_period": _label(worst_at, info.frequency),
                "source": info.source,
            }
        )
    table = pd.DataFrame(rows)
    table.attrs = {"note": SUMMARY_NOTE, "real": bool(real)}
    return table
