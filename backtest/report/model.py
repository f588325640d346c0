"""The tear sheet's data model: every number a report shows, already computed.

:class:`TearsheetData` is one page (one plan: its historical backtests, glide paths and
simulations); :class:`TearsheetBook` is a report of several pages with an index. They are
built by :mod:`backtest.report.build` (and, for a study, by the app) and drawn by the
renderers (:mod:`~backtest.report.charts`, :mod:`~backtest.report.html`,
:mod:`~backtest.report.pdf`), which import this module and nothing of each other's
callers; :mod:`backtest.report.tearsheet` writes the files. Every section is optional: a
``None`` or empty field leaves its section out. The formatting helpers here turn numbers
into display text and table files; nothing here draws.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, cast

import pandas as pd

from backtest.errors import DataError
from backtest.metrics import METRICS
from backtest.report.policy_map import PolicyMapData
from backtest.types import FloatArray

# --------------------------------------------------------------------------- sections


@dataclass(frozen=True, eq=False)
class GlidePathData:
    """Target weights by age for one strategy, on the plan's own periods.

    ``weights``: index = the member's age at the start of each of the plan's periods
    (years, ``start_age`` up to the last period before ``end_age``), columns = assets,
    decimal weights summing to 1 per row; each row is held until the next age, the last
    one until ``end_age`` (years; ``None``: the last row's age).
    """

    name: str
    weights: pd.DataFrame
    retirement_age: float
    end_age: float | None = None


@dataclass(frozen=True, eq=False)
class FanData:
    """Monte Carlo wealth percentiles by age for one strategy.

    ``percentiles``: index = age at each period boundary (years), columns = percentile
    levels (5, 25, 50, 75, 95), values real USD of the start date.
    """

    name: str
    percentiles: pd.DataFrame
    retirement_age: float
    success_rate: float | None = None


@dataclass(frozen=True, eq=False)
class CohortData:
    """Outcomes of historical cohorts (one row per start year).

    ``terminal_wealth``: index = start label (e.g. ``"1966"``), columns = strategies, real
    USD of each cohort's start; ``success``: same shape, booleans.
    """

    terminal_wealth: pd.DataFrame
    success: pd.DataFrame
    description: str = ""


@dataclass(frozen=True, eq=False)
class SuccessGrid:
    """Success probability (decimal) by mix (index labels) and withdrawal rate (columns,
    decimal a year of the balance at retirement)."""

    probabilities: pd.DataFrame
    description: str = ""


@dataclass(frozen=True, eq=False)
class FundedRatioData:
    """Funded ratio at retirement per scenario, by strategy (unitless, 1 = fully funded)."""

    ratios: dict[str, FloatArray]
    threshold: float = 1.0


@dataclass(frozen=True, eq=False)
class SleeveData:
    """Crypto sleeve size against outcomes.

    ``table``: index = sleeve weight (decimal), columns ``sharpe`` (unitless),
    ``max_drawdown`` (decimal, <= 0) and ``success`` (decimal probability; may be NaN).
    """

    table: pd.DataFrame
    base_name: str = ""
    period: str = ""


@dataclass(frozen=True, eq=False)
class TearsheetData:
    """Everything a tear sheet shows, as numbers; ``None``/empty sections are omitted.

    Attributes
    ----------
    title, subtitle
        Headline text.
    settings
        ``(label, value)`` pairs shown in the report: plan, scenarios, seed, data, period.
    frequency
        ``"annual"`` or ``"monthly"``: the period of the historical series.
    metrics
        :func:`backtest.metrics.metrics_table` output (index ``(strategy, basis)``).
    growth, growth_real
        Growth of 1 (nominal; real), index = dates including the start point, columns =
        strategies.
    drawdown
        Nominal drawdown after each period, decimal (<= 0).
    rolling_return, rolling_volatility
        ``{window label: frame}``: annualised trailing return / volatility, decimal a year.
    annual_returns
        Calendar-year returns, decimal, index = year.
    glide_paths, fans
        Per strategy, on the plan's ages (the glide paths on its periods, the fans on
        their boundaries).
    cohorts, success_grid, funded_ratios, sleeve
        Simulation sections.
    policy_map
        An adaptive policy's map (``backtest.report.policy_map``), or ``None``.
    notes
        Footnotes (data caveats, definitions).
    key
        Short name of the page in a :class:`TearsheetBook` (e.g. the plan's name): its
        anchor in the HTML and its ``plan`` column in the metrics files.
    """

    title: str
    subtitle: str = ""
    settings: tuple[tuple[str, str], ...] = ()
    frequency: str = "annual"
    metrics: pd.DataFrame | None = None
    growth: pd.DataFrame | None = None
    growth_real: pd.DataFrame | None = None
    drawdown: pd.DataFrame | None = None
    rolling_return: dict[str, pd.DataFrame] = field(default_factory=dict)
    rolling_volatility: dict[str, pd.DataFrame] = field(default_factory=dict)
    annual_returns: pd.DataFrame | None = None
    glide_paths: tuple[GlidePathData, ...] = ()
    fans: tuple[FanData, ...] = ()
    cohorts: CohortData | None = None
    success_grid: SuccessGrid | None = None
    funded_ratios: FundedRatioData | None = None
    sleeve: SleeveData | None = None
    policy_map: PolicyMapData | None = None
    notes: tuple[str, ...] = ()
    key: str = ""

    @property
    def strategy_names(self) -> list[str]:
        """Strategies in display order (from the metrics, else the growth columns)."""
        if self.metrics is not None and len(self.metrics):
            return list(dict.fromkeys(self.metrics.index.get_level_values(0)))
        if self.growth is not None:
            return [str(c) for c in self.growth.columns]
        return []


@dataclass(frozen=True, eq=False)
class TearsheetBook:
    """A tear sheet of several pages (one per plan) behind an index.

    Attributes
    ----------
    title, subtitle
        Headline text of the whole report.
    settings
        ``(label, value)`` pairs shared by every page (study, seed, data).
    pages
        One :class:`TearsheetData` per plan, each with a distinct ``key``.
    notes
        Footnotes for the whole report.
    """

    title: str
    subtitle: str = ""
    settings: tuple[tuple[str, str], ...] = ()
    pages: tuple[TearsheetData, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        keys = [p.key for p in self.pages]
        if not all(keys) or len(set(keys)) != len(keys):
            raise DataError(f"every page of a TearsheetBook needs a distinct key; got {keys}")


def anchor(key: str) -> str:
    """An HTML id from a page key: lower case, letters, digits and hyphens."""
    return "plan-" + (re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-") or "page")


# --------------------------------------------------------------------------- formatting

_MINUS = "\u2212"


def format_value(value: Any, kind: str, frequency: str = "annual") -> str:
    """Display text of one metric value (a table cell: a number, a Timestamp or None):
    percentages, ratios, dates, periods."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2014"
    if isinstance(value, pd.Timestamp) and pd.isna(value):
        return "\u2014"
    if kind == "pct":
        s = f"{float(value) * 100:.1f}%"
    elif kind == "ratio":
        s = f"{float(value):.2f}"
    elif kind == "date":
        ts = pd.Timestamp(value)
        s = str(ts.year) if frequency == "annual" else ts.strftime("%b %Y")
    elif kind == "periods":
        n = float(value)
        s = f"{n:.0f} yr" if frequency == "annual" else f"{n:.0f} mo"
    else:
        s = str(value)
    return s.replace("-", _MINUS) if kind in ("pct", "ratio") else s


@dataclass(frozen=True)
class MetricsView:
    """A formatted metrics table: rows = metrics, columns = strategies."""

    basis: str
    strategies: tuple[str, ...]
    rows: tuple[tuple[str, str, tuple[str, ...]], ...]  # (label, description, cells)


def metrics_views(data: TearsheetData) -> list[MetricsView]:
    """The metrics table as display text, one view per basis (nominal, real)."""
    m = data.metrics
    if m is None or m.empty:
        return []
    views = []
    names = data.strategy_names
    for basis in dict.fromkeys(m.index.get_level_values(1)):
        sub = m.xs(basis, level=1).reindex(names)
        rows = []
        for key, info in METRICS.items():
            if key not in sub.columns or sub[key].isna().all():
                continue
            cells = []
            for name in names:
                v: Any = sub.loc[name, key]  # a cell: a number, a Timestamp or NaT
                text = format_value(v, info.kind, data.frequency)
                if key == "max_drawdown_recovery" and pd.isna(v):
                    depth: Any = sub.loc[name, "max_drawdown"]
                    text = "not yet" if depth < 0 else text
                cells.append(text)
            rows.append((info.label, info.description, tuple(cells)))
        views.append(MetricsView(str(basis), tuple(names), tuple(rows)))
    return views


def settings_rows(data: TearsheetData) -> list[tuple[str, str]]:
    """Settings to print (label, value)."""
    return [(str(k), str(v)) for k, v in data.settings]


# --------------------------------------------------------------------------- table files


def _metrics_records(metrics: pd.DataFrame) -> list[dict[str, object]]:
    records = []
    for label, row in metrics.iterrows():
        strategy, basis = cast(tuple[str, str], label)  # the (strategy, basis) MultiIndex
        rec: dict[str, object] = {"strategy": strategy, "basis": basis}
        for key, value in row.items():
            if isinstance(value, pd.Timestamp):
                rec[str(key)] = None if pd.isna(value) else value.date().isoformat()
            elif value is None or pd.isna(value):
                rec[str(key)] = None
            else:
                rec[str(key)] = float(value)
        records.append(rec)
    return records


def metrics_json(data: TearsheetData) -> str:
    """``metrics.json``: units, definitions, settings and one record per (strategy, basis)."""
    payload = {
        "title": data.title,
        "frequency": data.frequency,
        "settings": dict(data.settings),
        "units": "decimals (0.05 = 5 %); ratios unitless; dates ISO period ends; "
        "recovery_periods in periods of the series' frequency",
        "definitions": {
            k: {"label": v.label, "kind": v.kind, "description": v.description}
            for k, v in METRICS.items()
        },
        "metrics": _metrics_records(data.metrics) if data.metrics is not None else [],
    }
    return json.dumps(payload, indent=2, allow_nan=False) + "\n"


def metrics_csv(data: TearsheetData) -> str:
    """``metrics.csv``: one row per (strategy, basis), decimals, ISO dates."""
    if data.metrics is None:
        return "strategy,basis\n"
    frame = data.metrics.copy()
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = frame[col].dt.strftime("%Y-%m-%d")
    return frame.to_csv(float_format="%.10g", lineterminator="\n")


def book_metrics_csv(book: TearsheetBook) -> str:
    """``metrics.csv`` of a book: one row per (plan, strategy, basis)."""
    frames = []
    for page in book.pages:
        if page.metrics is None:
            continue
        frame = page.metrics.copy()
        for col in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[col]):
                frame[col] = frame[col].dt.strftime("%Y-%m-%d")
        frame = frame.reset_index()
        frame.insert(0, "plan", page.key)
        frames.append(frame)
    if not frames:
        return "plan,strategy,basis\n"
    return pd.concat(frames).to_csv(index=False, float_format="%.10g", lineterminator="\n")


def book_metrics_json(book: TearsheetBook) -> str:
    """``metrics.json`` of a book: shared settings, each plan's settings, and one record
    per (plan, strategy, basis) under ``metrics``."""
    records: list[dict[str, object]] = []
    pages = []
    for page in book.pages:
        recs = _metrics_records(page.metrics) if page.metrics is not None else []
        records += [{"plan": page.key, **r} for r in recs]
        pages.append({"plan": page.key, "title": page.title, "settings": dict(page.settings)})
    payload = {
        "title": book.title,
        "settings": dict(book.settings),
        "plans": pages,
        "units": "decimals (0.05 = 5 %); ratios unitless; dates ISO period ends; "
        "recovery_periods in periods of the series' frequency",
        "definitions": {
            k: {"label": v.label, "kind": v.kind, "description": v.description}
            for k, v in METRICS.items()
        },
        "metrics": records,
    }
    return json.dumps(payload, indent=2, allow_nan=False) + "\n"


__all__ = [
    "CohortData",
    "FanData",
    "FundedRatioData",
    "GlidePathData",
    "MetricsView",
    "SleeveData",
    "SuccessGrid",
    "TearsheetBook",
    "TearsheetData",
    "anchor",
    "book_metrics_csv",
    "book_metrics_json",
    "format_value",
    "metrics_csv",
    "metrics_json",
    "metrics_views",
    "settings_rows",
]
