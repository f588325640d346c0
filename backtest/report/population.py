"""The fund-design report: frontier, designed path vs presets, member distributions, countries.

Numbers arrive computed (:class:`PopulationReport`, filled by the app's design runner);
this module only draws and formats them: charts with matplotlib's object API
(:mod:`backtest.report.charts` style and palette), one self-contained HTML file (base64
PNGs, inline CSS, no script) and a PDF with the same content (``PdfPages``, vector
charts).
"""

from __future__ import annotations

import textwrap
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


def _colours(names: list[str]) -> dict[str, str]:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def frontier_chart(r: PopulationReport) -> Chart:
    """Success against shortfall, frontier coloured by median replacement ratio, presets."""
    with style():
        fig = Figure(figsize=(WIDTH, 4.6), layout="constrained")
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
        cb.set_label("median replacement ratio (%)")
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
                label=str(name),
            )
        ax.set_xlabel("expected shortfall: CVaR95 of unfunded need (years of spending)")
        ax.set_ylabel("success: money outlives the member (%)")
        ax.legend(loc="lower right", fontsize=7)
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
                label=name,
            )
        ax.set_xlabel("age of the vintage")
        ax.set_ylabel("equity share (%)")
        ax.set_ylim(0, 102)
        ax.legend(fontsize=7, ncol=2)
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
            (axes[0], r.member_success, "survival-weighted success (%)"),
            (axes[1], r.member_replacement, "replacement ratio (%)"),
            (axes[2], r.member_unpaid, "expected unpaid years"),
        ):
            scale = 1.0 if "years" in label else 100.0
            ax.boxplot(
                [scale * np.asarray(data[n]) for n in names],
                orientation="horizontal",
                showfliers=False,
                whis=(5, 95),
            )
            ax.set_yticks(range(1, len(names) + 1), names if ax is axes[0] else [""] * len(names))
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


# ------------------------------------------------------------------------------- tables

_PCT_COLS = {"success", "bpoe", "median_replacement", "success_fixed", "replacement"}


def _fmt(col: str, v: object) -> str:
    if isinstance(v, float | np.floating):
        if not np.isfinite(v):
            return "-"
        if any(k in col for k in ("years", "shortfall", "CVaR", "n_", "count", "USD", "age")):
            return f"{v:,.2f}"
        return f"{100 * v:.1f} %"
    return str(v)


def _table_html(df: pd.DataFrame, caption: str = "") -> str:
    cols = "".join(f'<th class="num">{escape(str(c))}</th>' for c in df.columns)
    rows = []
    for idx, row in df.iterrows():
        cells = "".join(f'<td class="num">{escape(_fmt(str(c), row[c]))}</td>' for c in df.columns)
        rows.append(f'<tr><th class="label">{escape(str(idx))}</th>{cells}</tr>')
    cap = f"<p class='notes'>{escape(caption)}</p>" if caption else ""
    return (
        f'<div class="table-wrap"><table><thead><tr><th></th>{cols}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{cap}"
    )


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
                "(the tear sheet's rule, backtest.report.income.glide_label); fixed mixes "
                "are not listed.",
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


def _tables(r: PopulationReport) -> list[tuple[str, pd.DataFrame, str]]:
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
    if r.constraints is not None and not r.constraints.empty:
        c = r.constraints
        table = pd.DataFrame(
            {
                "binds": c["binds"].map(lambda b: "yes" if b else "no"),
                "slack": c["slack"],
                "with": c["with"],
                "without": c["without"],
                "cost": c["cost"],
            },
            index=c.index,
        )
        units = str(c["units"].iloc[0])
        if units.startswith("shortfall"):
            table = table.rename(columns=lambda k: f"{k} (years)" if k != "binds" else k)
            table = table.rename(columns={"slack (years)": "slack"})
        elif units.startswith("CE"):
            money = ("with", "without", "cost")
            table = table.rename(columns=lambda k: f"{k} (USD/yr)" if k in money else k)
        out.append(
            (
                "Committee constraints: which bind at the designed path, and their cost",
                table,
                f"objective: {units}. slack = smallest distance to the limit (weight); with = "
                "the objective at the designed path (in sample), without = after re-solving "
                "without that constraint from the designed path; cost = how much better the "
                "objective is without it (pp where shown as %). Constraints that do not bind "
                "are not re-solved.",
            )
        )
    out += _income_tables(r)
    if r.failing is not None:
        out.append(("Members who fail: their traits", r.failing, ""))
    if r.countries is not None:
        out.append(
            (
                "Survival-weighted success by country (JST history, real local currency)",
                r.countries,
                "",
            )
        )
    out += [(t, df, cap) for t, df, cap in r.extra_tables if not df.empty]
    return out


def render_population_html(r: PopulationReport, charts: list[Chart]) -> str:
    """The report as one self-contained HTML page."""
    parts = [
        *page_head(r.title, r.subtitle),
        "<h2>Settings</h2><dl class='settings'>",
        *(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in r.settings),
        "</dl>",
    ]
    for ch in charts:
        parts += [
            f"<h2>{escape(ch.title)}</h2>",
            f"<figure>{img_tag(ch)}<figcaption>{escape(ch.caption)}</figcaption></figure>",
        ]
    for title, df, cap in _tables(r):
        parts += [f"<h2>{escape(title)}</h2>", _table_html(df, cap)]
    if r.notes:
        parts += ["<h2>Notes</h2><ul class='notes'>", *(f"<li>{escape(n)}</li>" for n in r.notes)]
        parts.append("</ul>")
    parts.append("<footer>glidelab fund design</footer></body></html>")
    return "\n".join(parts)


def _text_page(title: str, lines: list[str]) -> Figure:
    fig = Figure(figsize=(11.69, 8.27))
    fig.text(0.05, 0.94, title, fontsize=15, weight="bold", color="#1f4e79")
    y = 0.89
    for line in lines:
        for piece in textwrap.wrap(line, 150) or [""]:
            fig.text(0.05, y, piece, fontsize=8, family="DejaVu Sans Mono")
            y -= 0.022
            if y < 0.04:
                return fig
    return fig


def _df_lines(df: pd.DataFrame) -> list[str]:
    shown = df.copy()
    for c in shown.columns:
        shown[c] = [_fmt(str(c), v) for v in shown[c]]
    return shown.to_string().splitlines()


def render_population_pdf(r: PopulationReport, charts: list[Chart], path: str) -> None:
    """The same content as the HTML, as a PDF at ``path`` (the caller makes it atomic)."""
    with style(), PdfPages(path, metadata={"Creator": "glidelab", "Producer": None}) as pdf:
        pdf.savefig(_text_page(r.title, [r.subtitle, "", *(f"{k}: {v}" for k, v in r.settings)]))
        for ch in charts:
            fig = ch.figure
            fig.suptitle(f"{ch.title}\n{ch.caption}", fontsize=9)
            pdf.savefig(fig)
        for title, df, cap in _tables(r):
            pdf.savefig(_text_page(title, [*_df_lines(df), "", cap]))
        if r.notes:
            pdf.savefig(_text_page("Notes", r.notes))
