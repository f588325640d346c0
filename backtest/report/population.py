"""The fund-design report: frontier, designed path vs presets, member distributions, countries.

Numbers arrive computed (:class:`PopulationReport`, filled by the app's design runner);
this module only draws and formats them: charts with matplotlib's object API
(:mod:`backtest.report.charts` style and palette), one self-contained HTML file (base64
PNGs, inline CSS, no script) and a PDF with the same content (``PdfPages``, vector
charts, A4 pages, tables drawn cell by cell: :func:`backtest.report.pdf.table_pages`).

The page opens with the answer (:func:`summary_frame`: success in sample, held out and
on historical cohorts with standard errors and scenario counts, CE income, replacement
percentiles, unpaid years) and ends with the settings. Every number is formatted by the
unit its column declares (:data:`COLUMNS`, :mod:`backtest.report.units`), and registry
names are shown as their human labels (:func:`backtest.report.units.readable`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape

import numpy as np
import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from backtest.report.charts import PALETTE, WIDTH, Chart, style
from backtest.report.html import img_tag, page_head
from backtest.report.model import (
    GlideLabel,
    IncomeRow,
    IncomeTable,
    glide_label_header,
    glide_label_rows,
    income_view,
)
from backtest.report.pdf import PageTable, chart_page, table_pages, text_page
from backtest.report.units import Unit, format_value, format_with_se, human_label, readable


@dataclass(frozen=True)
class PopulationReport:
    """Everything the fund-design report shows (numbers, not text).

    Attributes
    ----------
    title, subtitle
        Headings.
    settings
        (label, value) rows: vintage, population, scenarios, seeds, constraints.
    frontier
        One row per frontier point: ``success`` (in-sample share of member-paths whose
        money outlives the member), ``bpoe``, ``shortfall`` (CVaR of the survival-weighted
        unpaid years of need valued at retirement at ``annuity_rate``:
        ``backtest.outcomes.shortfall_years``), ``median_replacement``; index = point label.
    placed
        The presets and the designed path on the same in-sample member-paths, same columns.
    weights
        Equity share by age (index: age, columns: strategy), decimal.
    scores
        Out-of-sample scores per strategy (rows) and column (success, fixed-horizon success,
        median replacement ratio, mean unpaid years, CVaR95 unpaid years) per scenario set.
    member_success, member_replacement, member_unpaid
        Per strategy, per-member averages over market paths, arrays (n_members,).
    failing
        Traits of the members whose survival-weighted success is below one half, against
        the rest (rows: trait; columns: failing, others).
    countries
        Survival-weighted success by country (rows) and strategy (columns), plus "pooled".
    notes
        Sentences printed under the tables: assumptions and caveats.
    constraints
        The committee constraint groups (rows) with ``binds``, ``slack`` (decimal weight),
        ``objective``, its value ``with`` and ``without`` the group, ``cost`` (>= 0, how
        much better without) and ``units`` (``glidelab.design.constraint_table``), or None.
    annuity_rate
        The real rate the shortfall is valued at, decimal a year.
    income
        Per set of member-paths (e.g. ``"bootstrap"``), one income row per strategy
        (the tear sheet's :class:`backtest.report.model.IncomeRow`: replacement-ratio
        percentiles, probability of reaching the target, unpaid years given failure,
        bequest, safe withdrawal rate, CE), shown with the tear sheet's formatting
        (:func:`backtest.report.model.income_view`).
    glide_labels
        "to" / "through" and the equity 25 years before, at and after the target date.
    separability
        The frontier's paired differences (``glidelab.design.frontier_separability``):
        pair, kind, metric, difference, paired SE, |z| and verdict, or None.
    target_replacement
        The target replacement ratio the income table's probability refers to, decimal.
    in_sample_n
        The number of in-sample member-paths (the frontier's), or None.
    gamma
        The risk aversion of the CE income in the summary (the design's).
    extra_tables
        Further sections after the country table, each (title, table, caption), shown as
        given (the design's country cohorts, calibration, sensitivity, scenario sets;
        ``glidelab.design``); cells that are text are printed as they are.
    """

    title: str
    subtitle: str
    settings: list[tuple[str, str]]
    frontier: pd.DataFrame
    placed: pd.DataFrame
    weights: pd.DataFrame
    scores: pd.DataFrame
    member_success: dict[str, np.ndarray] = field(default_factory=dict)
    member_replacement: dict[str, np.ndarray] = field(default_factory=dict)
    member_unpaid: dict[str, np.ndarray] = field(default_factory=dict)
    failing: pd.DataFrame | None = None
    countries: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    constraints: pd.DataFrame | None = None
    annuity_rate: float = 0.02
    income: dict[str, tuple[IncomeRow, ...]] = field(default_factory=dict)
    glide_labels: tuple[GlideLabel, ...] = ()
    separability: pd.DataFrame | None = None
    target_replacement: float = 0.7
    extra_tables: list[tuple[str, pd.DataFrame, str]] = field(default_factory=list)
    in_sample_n: int | None = None
    gamma: float = 5.0


def _colours(names: list[str]) -> dict[str, str]:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def frontier_chart(r: PopulationReport) -> Chart:
    """Success against shortfall, frontier coloured by median replacement ratio, presets."""
    with style():
        fig = Figure(figsize=(WIDTH, 5.2), layout="constrained")
        ax = fig.add_subplot()
        f = r.frontier
        ax.plot(f["shortfall"], 100 * f["success"], color="#999999", lw=1, zorder=1)
        sc = ax.scatter(
            f["shortfall"],
            100 * f["success"],
            c=100 * f["median_replacement"],
            cmap="viridis",
            s=46,
            zorder=2,
            label="frontier",
        )
        cb = fig.colorbar(sc, ax=ax)
        cb.set_label("median replacement ratio, %")
        col = _colours(list(r.placed.index))
        for name, row in r.placed.iterrows():
            ax.scatter(
                row["shortfall"],
                100 * row["success"],
                marker="D" if "designed" in str(name) else "o",
                s=40,
                facecolor="white",
                edgecolor=col[str(name)],
                linewidth=1.6,
                zorder=3,
                label=human_label(str(name)),
            )
        ax.set_xlabel("expected shortfall: CVaR95 of unfunded need (years of spending)")
        ax.set_ylabel("success: money outlives the member, %")
        fig.legend(loc="outside lower center", ncol=4, fontsize=7)
    return Chart(
        "frontier",
        "Efficient frontier of shared glide paths",
        "In-sample member-paths: each dot is a glide path minimising the shortfall CVaR for a "
        "ceiling on the buffered failure probability; rings are presets and the designed path.",
        fig,
    )


def weights_chart(r: PopulationReport) -> Chart:
    """Equity share by age: designed path against the presets."""
    with style():
        fig = Figure(figsize=(WIDTH, 3.8), layout="constrained")
        ax = fig.add_subplot()
        col = _colours(list(r.weights.columns))
        for name in r.weights.columns:
            ax.plot(
                r.weights.index,
                100 * r.weights[name],
                color=col[name],
                lw=2.2 if "designed" in name else 1.3,
                label=human_label(name),
            )
        ax.set_xlabel("age of the vintage")
        ax.set_ylabel("equity share, %")
        ax.set_ylim(0, 102)
        fig.legend(loc="outside right upper", fontsize=7)
    return Chart(
        "weights",
        "Designed glide path against the presets",
        "Equity share by the vintage's age; every member holds this mix whatever their own "
        "retirement age.",
        fig,
    )


def distribution_chart(r: PopulationReport) -> Chart | None:
    """Distribution across members of success, replacement ratio and unpaid years."""
    if not r.member_success:
        return None
    names = list(r.member_success)
    with style():
        fig = Figure(figsize=(WIDTH, 3.4), layout="constrained")
        axes = fig.subplots(1, 3)
        for ax, data, label in (
            (axes[0], r.member_success, "survival-weighted success, %"),
            (axes[1], r.member_replacement, "replacement ratio, %"),
            (axes[2], r.member_unpaid, "expected unpaid years"),
        ):
            scale = 1.0 if "years" in label else 100.0
            ax.boxplot(
                [scale * np.asarray(data[n]) for n in names],
                orientation="horizontal",
                showfliers=False,
                whis=(5, 95),
            )
            shown = [human_label(n) for n in names] if ax is axes[0] else [""] * len(names)
            ax.set_yticks(range(1, len(names) + 1), shown)
            ax.set_xlabel(label)
    return Chart(
        "members",
        "How the members fare",
        "Per member, averaged over market paths: boxes are the middle half of members, "
        "whiskers the 5th-95th percentiles.",
        fig,
    )


def build_population_charts(r: PopulationReport) -> list[Chart]:
    charts = [frontier_chart(r), weights_chart(r), distribution_chart(r)]
    return [c for c in charts if c is not None]


# ------------------------------------------------------------------------------- units


@dataclass(frozen=True)
class Column:
    """How a column (a row, in the failing-traits table) of a design table is shown: its
    unit (:mod:`backtest.report.units`), the factor taking the stored number to that
    unit's (0.01 for a figure stored in percentage points), a forced sign and the
    reader's label (``{name}`` fields from the pattern's groups)."""

    unit: Unit
    scale: float = 1.0
    sign: bool = False
    label: str | None = None


#: The unit of every column the design's tables hold (``glidelab.design``), by the name
#: after its scenario set's prefix (``"bootstrap: "``): the data model's declaration,
#: first full match wins. A name not listed prints as a plain number (``ratio``).
COLUMNS: tuple[tuple[str, Column], ...] = (
    (r"success|success_fixed|success \(sampled deaths\)", Column("pct")),
    ("bpoe", Column("pct", label="bPOE")),
    ("median_replacement", Column("pct", label="median replacement ratio")),
    ("shortfall", Column("years", label="shortfall (CVaR95)")),
    ("(mean|CVaR95) unpaid years", Column("years")),
    (r"CE \(USD/yr\)", Column("usd", label="CE income")),
    (r"CE gamma=(?P<g>[\d.]+) \(USD/yr\)", Column("usd", label="CE income, \u03b3 = {g}")),
    (
        r"CE gamma=(?P<g>[\d.]+) / mean base salary",
        Column("pct", label="CE / base salary, \u03b3 = {g}"),
    ),
    (
        r"CE gamma=(?P<g>[\d.]+) - designed \(USD/yr\)",
        Column("usd", sign=True, label="CE minus designed, \u03b3 = {g}"),
    ),
    (r"paired SE gamma=(?P<g>[\d.]+) \(USD/yr\)", Column("usd", label="paired SE, \u03b3 = {g}")),
    (r"gap in - out \(pp\)", Column("pp", scale=0.01, label="in sample minus held out")),
    # the failing-traits table, one row a trait
    (r"members \(count\)", Column("count", label="members")),
    (r"(?P<x>.*) \(USD\)", Column("usd", label="{x}")),
    (r"(?P<x>.*) \(mean age\)", Column("age", label="{x}, mean")),
    (r"(?P<x>.*) \(mean count\)", Column("ratio", label="{x}, mean number")),
    (r"(?P<x>.*) \(mean years\)", Column("years", label="{x}, mean")),
    (".* share|.* / base salary", Column("pct")),
    # country cohorts; capital-market assumptions
    ("(wrapped )?cohorts", Column("count")),
    ("(first|last) start", Column("text")),
    (r"CE gamma=(?P<g>[\d.]+)", Column("text", label="CE, \u03b3 = {g}")),
    ("stated .*|scenarios' .*", Column("pct")),
    ("slack|with|without|cost", Column("ratio")),
)


def column_format(name: str) -> tuple[Column, str]:
    """The :class:`Column` of a design table's column ``name`` and its display label."""
    prefix, rest = "", name
    if ": " in name:
        head, tail = name.split(": ", 1)
        if not any(re.fullmatch(p, name) for p, _ in COLUMNS):
            prefix, rest = head + ": ", tail
    for pattern, col in COLUMNS:
        m = re.fullmatch(pattern, rest)
        if m:
            label = col.label.format(**m.groupdict()) if col.label else rest
            return col, readable(prefix.replace("held-out", "held out") + label)
    return Column("ratio"), readable(name)


def cell_text(v: object, col: Column) -> str:
    """A cell as shown: text made readable, a yes/no for a flag, a number in its unit."""
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, str):
        return readable(v)
    if isinstance(v, int | np.integer) and col.unit in ("text", "count"):
        return str(int(v)) if col.unit == "text" else format_value(int(v), "count")
    if col.unit == "text":
        x = float(v)  # type: ignore[arg-type]
        return str(int(x)) if np.isfinite(x) and x == int(x) else format_value(v, "ratio")
    try:
        x = float(v) * col.scale  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return readable(str(v))
    return format_value(x, col.unit, sign=col.sign)


@dataclass(frozen=True)
class Section:
    """One table of the report: title, the frame, its caption and whether the units
    run by row (the failing-traits table) rather than by column."""

    title: str
    frame: pd.DataFrame
    caption: str = ""
    by_row: bool = False
    units: Mapping[str, Column] = field(default_factory=dict)
    default: Column | None = None

    def column(self, name: str) -> tuple[Column, str]:
        """A column's format: this table's own unit for it, else :data:`COLUMNS`'."""
        col, label = column_format(name)
        return self.units.get(name, self.default or col), label

    def shown(self) -> tuple[list[str], list[tuple[str, str, list[str]]]]:
        """Header labels and rows (key, label, cells) as display text."""
        heads = [self.column(str(c))[1] for c in self.frame.columns]
        rows = []
        for idx, row in self.frame.iterrows():
            key = str(idx)
            row_col, row_label = column_format(key)
            cells = [
                cell_text(row[c], row_col if self.by_row else self.column(str(c))[0])
                for c in self.frame.columns
            ]
            label = row_label if self.by_row else readable(human_label(key))
            rows.append((key, label, cells))
        return heads, rows


# ------------------------------------------------------------------------------ summary

#: The summary's columns: (CSV column, its standard error's column or None, unit, header).
SUMMARY_COLUMNS: tuple[tuple[str, str | None, Unit, str], ...] = (
    ("in sample: success", None, "pct", "Success, in sample"),
    ("held out: success", "held out: success SE", "pct", "Success, held out"),
    ("cohorts: success", "cohorts: success SE", "pct", "Success, historical cohorts"),
    ("held out: CE (USD/yr)", None, "usd", "CE income, held out"),
    ("held out: replacement p10", None, "pct", "Replacement ratio p10, held out"),
    ("held out: replacement p50", None, "pct", "Replacement ratio p50, held out"),
    (
        "held out: unpaid years given failure",
        "held out: unpaid years given failure SE",
        "years",
        "Unpaid years given failure, held out",
    ),
)

#: How the three success figures differ, printed under the summary.
SUCCESS_MEASURES = (
    "Success is the share of member-paths whose money outlives the member. In sample: "
    "the member-paths the designed path was chosen on, so its own figure flatters it; "
    "held out: fresh members on fresh block-bootstrap market paths, the fair comparison; "
    "historical cohorts: fresh members through the actual US return sequences, which are "
    "few and overlap, so their standard error understates the uncertainty. \u00b1 is one "
    "standard error (batch means over market paths), in percentage points; the in-sample "
    "figure has none."
)


def summary_frame(r: PopulationReport) -> pd.DataFrame:
    """The answer, one row per strategy (the designed path, the presets, 100 % equity):
    success in sample, held out and on historical cohorts with standard errors and
    scenario counts, the held-out CE income (real USD a year, at ``r.gamma``), the
    replacement ratio's 10th and 50th percentiles and the unpaid years given failure.
    Decimals; NaN where a set was not run. The held-out set is the first income set
    whose label does not name cohorts; the cohort set the first that does."""
    sets = list(r.income)
    held = next((s for s in sets if "cohort" not in s.lower()), None)
    cohorts = next((s for s in sets if "cohort" in s.lower()), None)
    out = pd.DataFrame(index=pd.Index([str(i) for i in r.placed.index], name="strategy"))
    out["in sample: success"] = r.placed["success"].to_numpy(dtype=float)
    out["in sample: n"] = float(r.in_sample_n) if r.in_sample_n else np.nan
    for label, prefix in ((held, "held out"), (cohorts, "cohorts")):
        rows = {row.name: row for row in r.income.get(label, ())} if label else {}
        for col, values in _income_columns(rows, list(out.index), r.gamma).items():
            if prefix == "held out" or col in ("success", "success SE", "n"):
                out[f"{prefix}: {col}"] = values
    return out


def _income_columns(
    rows: Mapping[str, IncomeRow], names: list[str], gamma: float
) -> dict[str, list[float]]:
    """The summary's figures of one set's income rows, per name (NaN without a row)."""
    nan = float("nan")

    def figures(x: IncomeRow) -> dict[str, float]:
        return {
            "success": x.success,
            "success SE": x.success_se,
            "n": float(x.n),
            "CE (USD/yr)": x.ce.get(gamma, nan),
            "replacement p10": x.replacement.get(10, nan),
            "replacement p50": x.replacement.get(50, nan),
            "unpaid years given failure": x.unpaid_given_failure,
            "unpaid years given failure SE": x.unpaid_given_failure_se,
        }

    keys = list(figures(IncomeRow("", nan, nan, 0, {}, nan, nan, 0, {}, {}, {})))
    shown = {n: figures(rows[n]) if n in rows else dict.fromkeys(keys, nan) for n in names}
    return {k: [float(shown[n][k]) for n in names] for k in keys}


def _n_label(values: pd.Series) -> str:
    v = values.dropna()
    if v.empty:
        return ""
    lo, hi = int(v.min()), int(v.max())
    return f" (n = {lo:,})" if lo == hi else f" (n = {lo:,} to {hi:,})"


def summary_shown(r: PopulationReport) -> tuple[list[str], list[tuple[str, str, list[str]]]]:
    """The summary as display text: headers (with each set's scenario count) and rows
    (key, label, cells); a column all NaN is left out."""
    df = summary_frame(r)
    cols = [c for c in SUMMARY_COLUMNS if df[c[0]].notna().any()]
    heads = []
    for col, _, _, head in cols:
        n_col = col.split(": ")[0] + ": n"
        heads.append(head + (_n_label(df[n_col]) if n_col in df else ""))
        if col == "held out: CE (USD/yr)":
            heads[-1] = f"CE income, \u03b3 = {r.gamma:g}, held out (USD a year)"
    rows = []
    for key, row in df.iterrows():
        cells = [
            format_with_se(row[c], row[se] if se else None, unit)
            if unit != "usd"
            else format_value(row[c], "count")
            for c, se, unit, _ in cols
        ]
        rows.append((str(key), readable(human_label(str(key))), cells))
    return heads, rows


def _is_ce(col: str) -> bool:
    """A certainty-equivalent column of the scores (``<set>: CE ...`` / ``paired SE``)."""
    return ": CE gamma=" in col or ": paired SE gamma=" in col


def _ce_tables(scores: pd.DataFrame) -> list[tuple[str, pd.DataFrame, str]]:
    """One table per set of member-paths (in sample, bootstrap, US cohorts) of the CE
    columns of ``scores``, the set's prefix taken off the column names."""
    out = []
    labels = dict.fromkeys(c.split(": ", 1)[0] for c in scores.columns if _is_ce(c))
    for label in labels:
        cols = [c for c in scores.columns if _is_ce(c) and c.startswith(f"{label}: ")]
        table = scores[cols].rename(columns=lambda c: c.split(": ", 1)[1])
        out.append(
            (
                f"Certainty-equivalent retirement income ({label})",
                table,
                "income = Social Security + the balance at retirement priced as a real life "
                "annuity, real USD a year; CE = the certain income with the same expected "
                "CRRA utility over the member-paths (gamma = relative risk aversion), also "
                "shown as a share of the member-paths' mean base salary (the replacement base: by default the average of the last five working years); '- designed' is "
                "each path's CE minus the designed path's, with its paired standard error "
                "(delta method on the same member-paths, batch means over market paths).",
            )
        )
    return out


def _income_tables(r: PopulationReport) -> list[tuple[str, pd.DataFrame, str]]:
    """The income figures per set of member-paths (rows: figures, columns: strategies, the
    tear sheet's display text), the to / through labels, and the frontier separability."""
    out = []
    for label, rows in r.income.items():
        view = income_view(IncomeTable(rows, "", float("nan")))
        table = pd.DataFrame(
            [cells for _, cells in view.rows],
            index=[name for name, _ in view.rows],
            columns=list(view.strategies),
        )
        out.append(
            (
                f"Retirement income ({label})",
                table,
                "success = survival-weighted, SE by batch means over market paths (pp); CE of "
                "real retirement income (Social Security + the balance at retirement priced "
                "as a real life annuity); unpaid years given failure = mean survival-weighted "
                "shortfall over member-paths whose drawdown account runs dry before the end "
                "age (years of need, SE over them); bequest = the drawdown account's real "
                "wealth at death, percentiles over member-paths and death years; safe "
                "withdrawal rate = of the balance at the target date, lasting to the fixed "
                "horizon on all but 5 % / 10 % of market paths, after fees; replacement ratio "
                "= income / base salary; P(reach target) = share with replacement >= "
                f"{100 * r.target_replacement:.0f} % (SE by batch means, pp).",
            )
        )
    if r.glide_labels:
        head = glide_label_header(r.glide_labels)
        shown = glide_label_rows(r.glide_labels)
        table = pd.DataFrame([row[1:] for row in shown], index=[row[0] for row in shown])
        table.columns = list(head[1:])
        out.append(
            (
                "To or through the target date",
                table,
                "'to': equity flat from the target date; 'through': still falling after it "
                "(the tear sheet's rule); fixed mixes are not listed.",
            )
        )
    if r.separability is not None and not r.separability.empty:
        out.append(_separability_table(r.separability))
    return out


def _separability_table(sep: pd.DataFrame) -> tuple[str, pd.DataFrame, str]:
    def shown(metric: str, v: float) -> str:
        if not np.isfinite(v):
            return "-"
        return f"{100 * v:+.2f} pp" if metric == "success" else f"{v:+,.3g}"

    table = pd.DataFrame(
        {
            "kind": sep["kind"],
            "metric": sep["metric"],
            "difference": [
                shown(m, v) for m, v in zip(sep["metric"], sep["difference"], strict=True)
            ],
            "paired SE": [
                shown(m, v).lstrip("+")
                for m, v in zip(sep["metric"], sep["paired SE"], strict=True)
            ],
            "|z|": [f"{z:.2f}" for z in sep["|z|"]],
            "verdict": sep["verdict"],
        }
    )
    table.index = list(sep["pair"])
    return (
        "Frontier: can its points be told apart?",
        table,
        "paired differences (second point minus first) on the in-sample member-paths every "
        "frontier point is scored on; SE by batch means over market paths; 'apart' when "
        "|difference| > 1.96 SE, else 'cannot be told apart'.",
    )


def _tables(r: PopulationReport) -> list[Section]:
    """Every table after the summary, in the report's order."""
    out = [
        (
            "Frontier (in sample)",
            r.frontier,
            "success and bPOE as shares of member-paths; shortfall = CVaR95 of the "
            "survival-weighted need left unpaid, in years of need, valued at retirement at "
            f"the real annuity rate ({100 * r.annuity_rate:.1f} % a year), never at the "
            "portfolio's returns.",
        ),
        ("Presets and the designed path on the frontier's member-paths", r.placed, ""),
        (
            "Out of sample",
            r.scores[[c for c in r.scores.columns if not _is_ce(c)]],
            "success = survival-weighted (money outlives the member), fixed = money lasts to "
            "the fixed horizon; unpaid years are survival-weighted and valued at retirement "
            f"at the real annuity rate ({100 * r.annuity_rate:.1f} % a year), as the frontier's.",
        ),
        *_ce_tables(r.scores),
    ]
    sections = [Section(t, df, cap) for t, df, cap in out]
    if r.constraints is not None and not r.constraints.empty:
        sections.append(_constraints_section(r.constraints))
    sections += [Section(t, df, cap) for t, df, cap in _income_tables(r)]
    if r.failing is not None:
        sections.append(
            Section(
                "Members who fail: their traits",
                r.failing,
                "members whose survival-weighted success is below one half against the "
                "rest: counts, shares of members, real USD, mean ages and mean counts.",
                by_row=True,
            )
        )
    if r.countries is not None:
        sections.append(
            Section(
                "Survival-weighted success by country (JST history, real local currency)",
                r.countries,
                "",
                default=Column("pct"),
            )
        )
    sections += [Section(t, df, cap) for t, df, cap in r.extra_tables if not df.empty]
    return sections


#: The unit of the committee-constraint table's objective columns, by the objective.
_OBJECTIVE_UNITS: tuple[tuple[str, Column], ...] = (
    ("shortfall", Column("years")),
    ("CE", Column("usd")),
    ("success", Column("pct")),
)


def _constraints_section(c: pd.DataFrame) -> Section:
    """Which committee constraints bind, their slack (decimal weight) and the objective
    with and without each, in the objective's unit."""
    units = str(c["units"].iloc[0])
    obj = next((col for key, col in _OBJECTIVE_UNITS if units.startswith(key)), Column("ratio"))
    table = c[["binds", "slack", "with", "without", "cost"]]
    return Section(
        "Committee constraints: which bind at the designed path, and their cost",
        table,
        f"objective: {units}. slack = smallest distance to the limit (equity weight); with "
        "= the objective at the designed path (in sample), without = after re-solving "
        "without that constraint from the designed path; cost = how much better the "
        "objective is without it. Constraints that do not bind are not re-solved.",
        units={"slack": Column("pct"), "with": obj, "without": obj, "cost": obj},
    )


def _groups(heads: list[str]) -> list[tuple[str, int]] | None:
    """Runs of columns sharing a ``"set: "`` prefix as (set, span), or None when fewer
    than two columns share one."""
    runs: list[tuple[str, int]] = []
    for h in heads:
        g = h.split(": ", 1)[0] if ": " in h else ""
        if runs and runs[-1][0] == g:
            runs[-1] = (g, runs[-1][1] + 1)
        else:
            runs.append((g, 1))
    return runs if any(g and n > 1 for g, n in runs) else None


def _thead(heads: list[str], corner: str = "") -> str:
    """The header row; columns of one scenario set under a heading that spans them."""
    groups = _groups(heads)
    if groups is None:
        cols = "".join(f'<th class="num" scope="col">{escape(h)}</th>' for h in heads)
        return f'<thead><tr><th class="label" scope="col">{escape(corner)}</th>{cols}</tr></thead>'
    top = "".join(
        f'<th class="group" scope="colgroup" colspan="{n}">{escape(g)}</th>' for g, n in groups
    )
    cols = "".join(
        f'<th class="num" scope="col">{escape(h.split(": ", 1)[1] if ": " in h else h)}</th>'
        for h in heads
    )
    return (
        f'<thead><tr><th class="label" scope="col" rowspan="2">{escape(corner)}</th>{top}</tr>'
        f"<tr>{cols}</tr></thead>"
    )


#: A cell longer than this many characters is text, wrapped and left-aligned.
_TEXT_CELL = 24


def _td(cell: str) -> str:
    kind = "text" if len(cell) > _TEXT_CELL else "num"
    return f'<td class="{kind}">{escape(cell)}</td>'


def _table_html(
    heads: list[str],
    rows: list[tuple[str, str, list[str]]],
    caption: str = "",
    ident: str = "",
    corner: str = "",
) -> str:
    """A table in the report's style: a row's registry key in ``data-key``, its label
    shown; a wide table scrolls inside its box, never the page."""
    body = "".join(
        f'<tr data-key="{escape(key, quote=True)}"><th class="label" scope="row">'
        f"{escape(label)}</th>" + "".join(_td(c) for c in cells) + "</tr>"
        for key, label, cells in rows
    )
    tid = f' id="{ident}"' if ident else ""
    cap = f"<p class='notes'>{escape(readable(caption))}</p>" if caption else ""
    return (
        f'<div class="table-wrap"><table class="metrics"{tid}>{_thead(heads, corner)}'
        f"<tbody>{body}</tbody></table></div>{cap}"
    )


#: The design page's additions to the report style: text cells wrap.
_CSS = (
    "td.text { text-align: left; white-space: normal; min-width: 14em; max-width: 32em; }"
    " thead th.group { white-space: normal; }"
)


def render_population_html(r: PopulationReport, charts: list[Chart]) -> str:
    """The report as one self-contained HTML page: the answer (summary table) first,
    then charts, tables and notes, the settings at the end."""
    heads, rows = summary_shown(r)
    parts = [
        *page_head(readable(r.title), readable(r.subtitle)),
        f"<style>{_CSS}</style>",
        '<section id="summary"><h2>The answer</h2>',
        _table_html(heads, rows, ident="summary-table", corner="Strategy"),
        f'<p class="notes" id="summary-caption">{escape(SUCCESS_MEASURES)}</p></section>',
    ]
    for ch in charts:
        parts += [
            f"<h2>{escape(ch.title)}</h2>",
            f"<figure>{img_tag(ch)}<figcaption>{escape(readable(ch.caption))}</figcaption>"
            "</figure>",
        ]
    for sec in _tables(r):
        h, rs = sec.shown()
        parts += [f"<h2>{escape(readable(sec.title))}</h2>", _table_html(h, rs, sec.caption)]
    if r.notes:
        parts += ["<h2>Notes</h2><ul class='notes'>"]
        parts += [f"<li>{escape(readable(n))}</li>" for n in r.notes]
        parts.append("</ul>")
    parts += ['<section id="settings"><h2>Settings</h2><dl class="settings">']
    parts += [f"<dt>{escape(k)}</dt><dd>{escape(readable(v))}</dd>" for k, v in r.settings]
    parts.append("</dl></section>")
    parts.append("<footer>glidelab fund design</footer></body></html>")
    return "\n".join(parts)


def _page_table(title: str, heads: list[str], rows: list[tuple[str, str, list[str]]],
                caption: str, corner: str = "") -> PageTable:  # fmt: skip
    return PageTable(
        readable(title),
        (corner, *heads),
        tuple((label, *cells) for _, label, cells in rows),
        readable(caption),
    )


def render_population_pdf(r: PopulationReport, charts: list[Chart], path: str) -> None:
    """The same content as the HTML as an A4 PDF at ``path`` (the caller makes it
    atomic): the answer first, then charts, tables, notes and settings."""
    heads, rows = summary_shown(r)
    first = _page_table(r.title, heads, rows, SUCCESS_MEASURES, "Strategy")
    subtitle = f"{readable(r.subtitle)}. The answer:" if r.subtitle else "The answer:"
    pages = table_pages(dataclasses.replace(first, subtitle=subtitle))
    pages += [chart_page(ch) for ch in charts]
    for sec in _tables(r):
        h, rs = sec.shown()
        pages += table_pages(_page_table(sec.title, h, rs, sec.caption))
    if r.notes:
        pages += text_page("Notes", [readable(n) for n in r.notes])
    pages += text_page("Settings", [(k, readable(v)) for k, v in r.settings])
    with style(), PdfPages(path, metadata={"Creator": "glidelab", "Producer": None}) as pdf:
        for fig in pages:
            pdf.savefig(fig)
