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

import backtest.report.units as units
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
    target: str = ""  # the target income in words (``describe_pension_target``)


@dataclass(frozen=True, eq=False)
class SleeveData:
    """Crypto sleeve size against outcomes.

    ``table``: index = sleeve weight (decimal), columns ``sharpe`` (unitless),
    ``max_drawdown`` (decimal, <= 0) and ``success`` (decimal probability; may be NaN).
    ``period`` is the history window of the Sharpe ratio and drawdown, ``success_on``
    what the success panel's scenarios resample, ``caveat`` a warning on their data.
    """

    table: pd.DataFrame
    base_name: str = ""
    period: str = ""
    success_on: str = ""
    caveat: str = ""


@dataclass(frozen=True)
class IncomeRow:
    """One strategy's income figures; decimals unless stated, NaN where not defined.

    Attributes
    ----------
    name
        Strategy name.
    success, success_se, n
        Success rate under the plan's definition, its standard error, scenarios.
    ce
        Risk aversion gamma -> CE of real retirement income, real USD a year.
    unpaid_given_failure, unpaid_given_failure_se, n_failed
        Mean years of need left unpaid over the failed scenarios and its standard error.
    bequest
        Percentile (10, 50, 90) -> real wealth at the end age, USD.
    safe_withdrawal
        Failure probability (0.05, 0.10) -> safe withdrawal rate,
        decimal of the balance at retirement a year; empty when the strategy's weights do
        not depend on age only.
    replacement
        Percentile (10, 25, 50, 75, 90) -> replacement ratio; empty without
        a pension target.
    reach_target, reach_target_se
        Probability of reaching the target replacement ratio and its standard error.
    """

    name: str
    success: float
    success_se: float
    n: int
    ce: dict[float, float]
    unpaid_given_failure: float
    unpaid_given_failure_se: float
    n_failed: int
    bequest: dict[int, float]
    safe_withdrawal: dict[float, float]
    replacement: dict[int, float]
    reach_target: float = math.nan
    reach_target_se: float = math.nan


@dataclass(frozen=True)
class GlideLabel:
    """A glide path's shape around its target date (the plan's retirement age).

    ``label`` is ``"to"`` (equity flat from the target date on), ``"through"`` (it
    keeps falling after it) or ``"rising after"`` (a bond tent); ``equity`` maps ages (target - 25, target, target + 25,
    years) to the decimal equity share of the strategy's own target weights.
    """

    name: str
    label: str
    equity: dict[float, float]


@dataclass(frozen=True)
class IncomeTable:
    """The "Retirement income" table of a page: one :class:`IncomeRow` per strategy.

    ``caption`` names the scenario set, its size and the CE's income floor; ``floor`` is
    that floor, real USD a year; ``notes`` are the table's footnotes (e.g. why a safe
    withdrawal rate is n/a).
    """

    rows: tuple[IncomeRow, ...]
    caption: str
    floor: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SetCell:
    """One strategy on one scenario set: success (decimal) with its standard error and
    scenarios n, and the CE of real retirement income (real USD a year; NaN when the plan
    pays no income)."""

    success: float
    success_se: float
    n: int
    ce: float = math.nan


@dataclass(frozen=True)
class SetColumn:
    """A scenario set of the "Success by scenario set" table: its heading, its
    description (generator and size) and its scenario count; ``overlapping`` marks
    historical cohorts, whose windows share years (their standard error is optimistic)."""

    label: str
    description: str
    n: int
    overlapping: bool = False


@dataclass(frozen=True)
class SetsTable:
    """The "Success by scenario set" table of a page: each strategy on every set.

    ``rows`` are ``(strategy, cells)`` with one :class:`SetCell` per :class:`SetColumn`
    of ``sets`` (``None``: not simulated there); ``gamma`` is the CE's risk aversion and
    ``floor`` its income floor (real USD a year), the same on every set; ``caption``
    describes each set; ``notes`` say what was not simulated and why.
    """

    sets: tuple[SetColumn, ...]
    rows: tuple[tuple[str, tuple[SetCell | None, ...]], ...]
    caption: str
    gamma: float
    floor: float
    notes: tuple[str, ...] = ()


#: Roles of a summary column: the scenarios a strategy was fitted to, scenarios nothing
#: was fitted to, and the overlapping windows of the actual history.
IN_SAMPLE, HELD_OUT, COHORTS = "in sample", "held out", "historical cohorts"


@dataclass(frozen=True)
class SummarySet:
    """A column of the summary table: a scenario set, its role (:data:`IN_SAMPLE`,
    :data:`HELD_OUT` or :data:`COHORTS`), its scenarios ``n``, the independent scenarios
    behind its standard errors ``n_effective`` (fewer for overlapping cohorts) and what
    it is in words."""

    label: str
    role: str
    n: int
    n_effective: float
    description: str = ""


@dataclass(frozen=True)
class SummaryRow:
    """One strategy in the summary table; NaN where a figure is not defined.

    Attributes
    ----------
    name
        Strategy name (display name).
    cells
        Success (decimal) with its SE and n on each :class:`SummarySet` (``None``: not
        simulated there).
    ce
        Certainty equivalent of real retirement income on the first held-out set, real
        USD a year, at the table's ``gamma`` with its income floor.
    wealth_p10, wealth_p50
        Percentiles of real wealth at the table's ``wealth_age``, USD of the start date.
    unpaid_given_failure
        Mean years of withdrawals left unpaid in the scenarios that fail (years).
    marks
        Why the row is there: "best", "100 % equity", "optimised", "held today".
    why
        One sentence, from the data, on why a strategy that fails badly fails ("" else).
    """

    name: str
    cells: tuple[SetCell | None, ...]
    ce: float
    wealth_p10: float
    wealth_p50: float
    unpaid_given_failure: float
    marks: tuple[str, ...] = ()
    why: str = ""


@dataclass(frozen=True)
class SummaryTable:
    """The answer a page opens with: each strategy's success on every scenario set (each
    labelled in sample / held out / historical cohorts, with its n), CE income, real
    wealth at ``wealth_age`` (years) and unpaid years given failure, best first.

    ``gamma`` and ``floor`` (real USD a year) define the CE; ``caption`` says on which
    set the CE and the wealth are computed; ``notes`` compare the optimised path with 100 %
    equity and say what was added for the table only."""

    sets: tuple[SummarySet, ...]
    rows: tuple[SummaryRow, ...]
    wealth_age: float
    gamma: float
    floor: float
    caption: str
    notes: tuple[str, ...] = ()


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
    income
        The "Retirement income" table (:class:`IncomeTable`), or ``None``.
    glide_labels
        "to" / "through" and equity around the target date, per age-only strategy.
    sets
        The "Success by scenario set" table (:class:`SetsTable`): each strategy on the
        page's Monte Carlo set, every other set and the historical cohorts; ``None``
        when the page has no other set.
    summary
        The summary table the page opens with (:class:`SummaryTable`), or ``None``.
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
    income: IncomeTable | None = None
    glide_labels: tuple[GlideLabel, ...] = ()
    sets: SetsTable | None = None
    summary: SummaryTable | None = None

    @property
    def strategy_names(self) -> list[str]:
        """Strategies in display order (from the metrics, else the growth columns)."""
        if self.metrics is not None and len(self.metrics):
            return list(dict.fromkeys(self.metrics.index.get_level_values(0)))
        if self.growth is not None:
            return [str(c) for c in self.growth.columns]
        return []


@dataclass(frozen=True)
class ResearchPart:
    """A research part of a :class:`TearsheetBook`, placed after the plans' pages (e.g.
    the crypto-sleeve research): its answer as display text, built by the research's own
    report, and a link to that full report.

    Attributes
    ----------
    key, title
        Short name (its HTML anchor ``part-<key>``) and heading.
    lead
        The statement the answer rests on (e.g. the central case), shown above the table.
    groups
        ``(heading, columns spanned)`` over ``columns``.
    columns
        ``(data column, heading)``: the column of the research's table file (e.g. the
        crypto report's summary.csv) each cell shows, and its heading.
    rows
        ``(row key, label, cells)``: one formatted cell per column.
    text_columns
        Data columns of words (left-aligned, wrapped).
    caption
        What the figures are, under the table.
    link, link_text
        The full report's path relative to the book's folder (``""``: none) and its words.
    """

    key: str
    title: str
    lead: str = ""
    groups: tuple[tuple[str, int], ...] = ()
    columns: tuple[tuple[str, str], ...] = ()
    rows: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    text_columns: frozenset[str] = frozenset()
    caption: str = ""
    link: str = ""
    link_text: str = ""


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
    crypto
        The crypto-sleeve research's answer (:class:`ResearchPart`), a part after the
        plans' pages, or ``None``.
    """

    title: str
    subtitle: str = ""
    settings: tuple[tuple[str, str], ...] = ()
    pages: tuple[TearsheetData, ...] = ()
    notes: tuple[str, ...] = ()
    crypto: ResearchPart | None = None

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


# --------------------------------------------------------------------------- income


def _pct(x: float, digits: int = 1) -> str:
    """A decimal share in percent by its unit (``units.format_value``)."""
    return units.format_value(x, "pct", digits)


def _pct_se(x: float, se: float) -> str:
    """A decimal share in percent with its SE in percentage points (``87.9 % ± 0.7``)."""
    return units.format_with_se(x, se, "pct")


def _usd(x: float) -> str:
    """An amount in real USD by its unit (``38,821 USD``)."""
    return units.format_value(x, "usd")


@dataclass(frozen=True)
class IncomeView:
    """The income table as display text: rows = figures, columns = strategies."""

    strategies: tuple[str, ...]
    rows: tuple[tuple[str, tuple[str, ...]], ...]  # (label, cells)
    caption: str
    notes: tuple[str, ...]


def income_view(table: IncomeTable) -> IncomeView:
    """Display text of the "Retirement income" table (percent, USD, years; SE in brackets)."""
    rs = table.rows
    rows: list[tuple[str, tuple[str, ...]]] = [
        (
            "Success (\u00b1 SE, pp)",
            tuple(_pct_se(r.success, r.success_se) for r in rs),
        ),
        ("Scenarios n", tuple(units.format_value(r.n, "count") for r in rs)),
    ]
    for g in sorted({g for r in rs for g in r.ce}):
        rows.append(
            (f"CE income, \u03b3 = {g:g}, a year", tuple(_usd(r.ce.get(g, math.nan)) for r in rs))
        )
    rows.append(
        (
            "Unpaid years given failure (\u00b1 SE)",
            tuple(
                units.format_with_se(r.unpaid_given_failure, r.unpaid_given_failure_se, "years")
                if math.isfinite(r.unpaid_given_failure)
                else "no failures"
                for r in rs
            ),
        )
    )
    for q in sorted({q for r in rs for q in r.bequest}):
        rows.append((f"Bequest p{q}", tuple(_usd(r.bequest.get(q, math.nan)) for r in rs)))
    for p in sorted({p for r in rs for p in r.safe_withdrawal}) or [0.05, 0.10]:
        rows.append(
            (
                f"Safe withdrawal rate, {p:.0%} failure",
                tuple(
                    _pct(r.safe_withdrawal[p], 2) if p in r.safe_withdrawal else "n/a\u00b9"
                    for r in rs
                ),
            )
        )
    if any(r.replacement for r in rs):
        for q in sorted({q for r in rs for q in r.replacement}):
            rows.append(
                (
                    f"Replacement ratio p{q}",
                    tuple(
                        units.format_value(r.replacement[q], "ratio", 3)
                        if q in r.replacement
                        else "\u2014"
                        for r in rs
                    ),
                )
            )
        rows.append(
            (
                "P(reach target) (\u00b1 SE, pp)",
                tuple(_pct_se(r.reach_target, r.reach_target_se) for r in rs),
            )
        )
    notes = tuple(f"\u00b9 {n}" for n in table.notes)
    return IncomeView(tuple(r.name for r in rs), tuple(rows), table.caption, notes)


def glide_label_rows(labels: tuple[GlideLabel, ...]) -> list[tuple[str, ...]]:
    """Display rows (strategy, label, equity at target - 25, target, target + 25)."""
    out = []
    for g in labels:
        cells = [_pct(g.equity[a], 0) for a in sorted(g.equity)]
        out.append((g.name, g.label, *cells))
    return out


def glide_label_header(labels: tuple[GlideLabel, ...]) -> tuple[str, ...]:
    """Column heads of :func:`glide_label_rows`: the ages at which equity is read."""
    ages = sorted(labels[0].equity) if labels else []
    return ("Glide path", "To / through", *(f"Equity at {a:g}" for a in ages))


def _income_records(page: TearsheetData) -> list[dict[str, object]]:
    labels = {g.name: g for g in page.glide_labels}
    recs: list[dict[str, object]] = []
    rows = page.income.rows if page.income is not None else ()
    names = list(dict.fromkeys([r.name for r in rows] + list(labels)))
    by_name = {r.name: r for r in rows}
    for name in names:
        rec: dict[str, object] = {"plan": page.key, "strategy": name}
        r = by_name.get(name)
        if r is not None:
            rec.update(success=r.success, success_se=r.success_se, n=r.n)
            rec.update({f"ce_gamma_{g:g}": v for g, v in r.ce.items()})
            assert page.income is not None
            rec["ce_floor_usd"] = page.income.floor
            rec.update(
                unpaid_years_given_failure=r.unpaid_given_failure,
                unpaid_years_given_failure_se=r.unpaid_given_failure_se,
                n_failed=r.n_failed,
            )
            rec.update({f"bequest_p{q}": v for q, v in r.bequest.items()})
            rec.update(
                {f"swr_{round(p * 100)}pct_failure": v for p, v in r.safe_withdrawal.items()}
            )
            rec.update({f"replacement_p{q}": v for q, v in r.replacement.items()})
            if r.replacement:
                rec.update(reach_target=r.reach_target, reach_target_se=r.reach_target_se)
        g = labels.get(name)
        if g is not None:
            rec["glide_label"] = g.label
            for pos, age in zip(("before", "at", "after"), sorted(g.equity), strict=True):
                rec[f"equity_{pos}_target"] = g.equity[age]
                rec[f"age_{pos}_target"] = age
        recs.append(rec)
    return recs


def income_csv(pages: tuple[TearsheetData, ...]) -> str:
    """``income.csv``: one row per (plan, strategy): success, CE income (real USD a year)
    by risk aversion and its floor, unpaid years given failure, bequest percentiles (real
    USD), safe withdrawal rates (decimal a year), replacement ratios, and the glide path's
    to/through label with equity (decimal) around the target date; blank where n/a."""
    records = [r for p in pages for r in _income_records(p)]
    if not records:
        return "plan,strategy\n"
    frame = pd.DataFrame.from_records(records)
    return frame.to_csv(index=False, float_format="%.10g", lineterminator="\n")


# --------------------------------------------------------------------------- scenario sets


@dataclass(frozen=True)
class SetsView:
    """The "Success by scenario set" table as display text: a heading per set spanning
    its columns (``groups``: text, columns spanned), the column heads under them, and one
    row per strategy (label, cells)."""

    groups: tuple[tuple[str, int], ...]
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[str, ...]], ...]
    caption: str
    notes: tuple[str, ...]


#: Marks the historical cohorts' heading: their windows overlap (see the table's notes).
OVERLAP_MARK = "\u2020"


def sets_view(table: SetsTable) -> SetsView:
    """Display text of the "Success by scenario set" table, the one builder both renderers
    draw: per set, success in percent with its SE (percentage points) and, when the plan
    pays income, the CE (USD a year); the set's n in its heading."""
    with_ce = any(c is not None and math.isfinite(c.ce) for _, cells in table.rows for c in cells)
    heads = ("Success (\u00b1 SE, pp)",) + (
        (f"CE \u03b3 = {table.gamma:g}, a year",) if with_ce else ()
    )
    groups = tuple(
        (f"{s.label} (n = {s.n:,}){OVERLAP_MARK if s.overlapping else ''}", len(heads))
        for s in table.sets
    )
    rows = []
    for name, cells in table.rows:
        texts: list[str] = []
        for c in cells:
            if c is None:
                texts += ["\u2014"] * len(heads)
                continue
            texts.append(_pct_se(c.success, c.success_se))
            if with_ce:
                texts.append(_usd(c.ce))
        rows.append((name, tuple(texts)))
    notes = table.notes
    if any(s.overlapping for s in table.sets):
        notes = (
            f"{OVERLAP_MARK} Historical cohorts overlap (consecutive start years share most "
            "of their returns), so they are not independent draws: the SE shown treats them "
            "as independent and is optimistic (too small).",
            *notes,
        )
    return SetsView(groups, heads * len(table.sets), tuple(rows), table.caption, notes)


def sets_csv(pages: tuple[TearsheetData, ...]) -> str:
    """``sets.csv``: one row per (plan, strategy, scenario set): its n, success (decimal)
    and SE, the CE of real retirement income (real USD a year) at ``ce_gamma`` with its
    floor, and whether the set's windows overlap (historical cohorts); blank where a
    strategy was not simulated on the set."""
    records: list[dict[str, object]] = []
    for page in pages:
        t = page.sets
        if t is None:
            continue
        for name, cells in t.rows:
            for s, c in zip(t.sets, cells, strict=True):
                rec: dict[str, object] = {
                    "plan": page.key,
                    "strategy": name,
                    "scenario_set": s.label,
                }
                rec.update(n=s.n, overlapping=s.overlapping)
                if c is not None:
                    rec.update(success=c.success, success_se=c.success_se, ce_income_usd=c.ce)
                rec.update(ce_gamma=t.gamma, ce_floor_usd=t.floor, description=s.description)
                records.append(rec)
    if not records:
        return "plan,strategy,scenario_set\n"
    frame = pd.DataFrame.from_records(records)
    return frame.to_csv(index=False, float_format="%.10g", lineterminator="\n")


# --------------------------------------------------------------------------- summary

#: Figures of the summary table: key -> (column heading, unit of ``backtest.report.units``).
SUMMARY_FIGURES: dict[str, tuple[str, str]] = {
    "success": ("Success", "pct"),
    "ce_income": ("CE income", "usd"),
    "wealth_p10": ("Real wealth p10", "usd"),
    "wealth_p50": ("Real wealth p50", "usd"),
    "unpaid_years_given_failure": ("Unpaid years if it fails", "years"),
}

#: Shown for the unpaid years of a strategy with no failed scenario.
NONE_FAILED = "none failed"


def summary_text(figure: str, value: float, se: float = math.nan) -> str:
    """Display text of one summary figure from its unit (:data:`SUMMARY_FIGURES`): success
    as ``88.3 % ± 0.5`` (SE in percentage points), USD and years by their unit."""
    unit = cast(units.Unit, SUMMARY_FIGURES[figure][1])
    if figure == "unpaid_years_given_failure" and not math.isfinite(value):
        return NONE_FAILED
    if figure == "success":
        return units.format_with_se(value, se, "pct")
    return units.format_value(value, unit)


@dataclass(frozen=True)
class SummaryView:
    """The summary table as display text: ``groups`` (heading, columns spanned) over
    ``columns`` (heading, figure key, set label), one row per strategy (name, marks,
    cells, sentence why it fails or "")."""

    groups: tuple[tuple[str, int], ...]
    columns: tuple[tuple[str, str, str], ...]
    rows: tuple[tuple[str, str, tuple[str, ...], str], ...]
    caption: str
    notes: tuple[str, ...]


def _summary_order(table: SummaryTable) -> list[int]:
    """Columns of the sets, in sample first, then held out, then the cohorts."""
    rank = {IN_SAMPLE: 0, HELD_OUT: 1, COHORTS: 2}
    return sorted(range(len(table.sets)), key=lambda i: rank.get(table.sets[i].role, 3))


def summary_view(table: SummaryTable) -> SummaryView:
    """Display text of the summary table, the one builder both renderers draw."""
    order = _summary_order(table)
    groups: list[tuple[str, int]] = []
    columns: list[tuple[str, str, str]] = []
    for i in order:
        s = table.sets[i]
        if groups and groups[-1][0] == s.role.capitalize():
            groups[-1] = (groups[-1][0], groups[-1][1] + 1)
        else:
            groups.append((s.role.capitalize(), 1))
        columns.append((f"{s.label} (n = {s.n:,})", "success", s.label))
    main = next((s.label for s in table.sets if s.role == HELD_OUT), "")
    age = f"{table.wealth_age:g}"
    more = (
        ("CE income, USD a year", "ce_income", main),
        (f"Real wealth at {age}, p10", "wealth_p10", main),
        (f"Real wealth at {age}, p50", "wealth_p50", main),
        ("Unpaid years if it fails", "unpaid_years_given_failure", main),
    )
    groups.append((f"On {main}" if main else "Income and wealth", len(more)))
    columns += more
    rows = []
    for r in table.rows:
        cells = [
            summary_text("success", c.success, c.success_se) if c is not None else "\u2014"
            for c in (r.cells[i] for i in order)
        ]
        cells += [
            summary_text(k, v)
            for k, v in (
                ("ce_income", r.ce),
                ("wealth_p10", r.wealth_p10),
                ("wealth_p50", r.wealth_p50),
                ("unpaid_years_given_failure", r.unpaid_given_failure),
            )
        ]
        rows.append((r.name, ", ".join(r.marks), tuple(cells), r.why))
    return SummaryView(tuple(groups), tuple(columns), tuple(rows), table.caption, table.notes)


def summary_records(page: TearsheetData) -> list[dict[str, object]]:
    """One record per (strategy, figure, scenario set) of a page's summary table: the
    value (decimal success, real USD, years), its SE, the set's role and n, the unit."""
    t = page.summary
    if t is None:
        return []
    main = next((s for s in t.sets if s.role == HELD_OUT), None)
    recs: list[dict[str, object]] = []
    for r in t.rows:
        base = {"plan": page.key, "strategy": r.name, "marks": "; ".join(r.marks)}
        for s, c in zip(t.sets, r.cells, strict=True):
            if c is not None:
                recs.append(
                    {**base, "figure": "success", "scenario_set": s.label, "role": s.role,
                     "n": c.n, "n_effective": s.n_effective, "value": c.success,
                     "se": c.success_se, "unit": "pct"}
                )  # fmt: skip
        for key, value in (
            ("ce_income", r.ce),
            ("wealth_p10", r.wealth_p10),
            ("wealth_p50", r.wealth_p50),
            ("unpaid_years_given_failure", r.unpaid_given_failure),
        ):
            recs.append(
                {**base, "figure": key, "scenario_set": main.label if main else "",
                 "role": main.role if main else "", "n": main.n if main else math.nan,
                 "n_effective": main.n_effective if main else math.nan, "value": value,
                 "se": math.nan, "unit": SUMMARY_FIGURES[key][1]}
            )  # fmt: skip
    return recs


def summary_csv(pages: tuple[TearsheetData, ...]) -> str:
    """``summary.csv``: the summary tables, one row per (plan, strategy, figure, scenario
    set): ``value`` in its ``unit`` (pct: decimal share; usd: real USD of the plan's start;
    years), its standard error ``se`` (same unit; blank where none), the set's ``role``
    (in sample / held out / historical cohorts), ``n`` and ``n_effective``."""
    records = [r for p in pages for r in summary_records(p)]
    if not records:
        return "plan,strategy,figure\n"
    frame = pd.DataFrame.from_records(records)
    return frame.to_csv(index=False, float_format="%.10g", lineterminator="\n")


__all__ = [
    "CohortData",
    "FanData",
    "FundedRatioData",
    "GlideLabel",
    "GlidePathData",
    "IncomeRow",
    "IncomeTable",
    "IncomeView",
    "MetricsView",
    "ResearchPart",
    "SetCell",
    "SetColumn",
    "SetsTable",
    "SetsView",
    "SleeveData",
    "SuccessGrid",
    "SummaryRow",
    "SummarySet",
    "SummaryTable",
    "SummaryView",
    "TearsheetBook",
    "TearsheetData",
    "anchor",
    "book_metrics_csv",
    "book_metrics_json",
    "format_value",
    "glide_label_header",
    "glide_label_rows",
    "income_csv",
    "income_view",
    "metrics_csv",
    "metrics_json",
    "metrics_views",
    "sets_csv",
    "sets_view",
    "settings_rows",
    "summary_csv",
    "summary_records",
    "summary_text",
    "summary_view",
]
