"""The crypto section of the report book, in the tear sheet's look: the answer first (the
central case in arithmetic terms and a summary table per sleeve size, its numbers in
summary.csv beside the page), then the surface heat maps, break-even, stresses, rules,
risk contribution, the sleeve inside a vintage and Bitcoin's history, the tables, the
notes, and the settings and timings last.

Takes a :class:`backtest.crypto.result.CryptoResearch` (numbers only) and formats each
number by its unit (:mod:`backtest.report.units`: levels in %, differences in success in
pp). The HTML is self-contained (the tear sheet's inline CSS, PNG ``data:`` URIs, no
script); the PDF is built from the report book's A4 pages
(:func:`backtest.report.pdf.table_pages`, :func:`~backtest.report.pdf.chart_page`,
:func:`~backtest.report.pdf.text_page`) with the central case in every page's footer.
"""

from __future__ import annotations

import io
import math
import os
import re
import textwrap
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from backtest.crypto.disclosure import ETF_FEE_SOURCE, EXECUTIVE_ORDER, LIQUIDITY
from backtest.crypto.result import CryptoResearch
from backtest.io import write_bytes_atomic, write_text_atomic
from backtest.report.charts import PALETTE, WIDTH, Chart, style
from backtest.report.html import img_tag, page_head
from backtest.report.model import ResearchPart
from backtest.report.pdf import PageTable, chart_page, table_pages, text_page
from backtest.report.units import Unit, format_value, format_with_se, readable

# --------------------------------------------------------------------------- words

#: Library internals in a setting or note, said in words.
_IN_WORDS = (
    (
        re.compile(r"mean over columns of arch\.bootstrap\.optimal_block_length"),
        "automatic block length of Politis and White, mean over the assets",
    ),
)


def words(text: str) -> str:
    """``text`` for a reader: library internals in words, registry names as their
    labels (:func:`backtest.report.units.readable`)."""
    for pattern, repl in _IN_WORDS:
        text = pattern.sub(repl, text)
    return readable(text)


def surface_break_even(surface: pd.DataFrame) -> pd.DataFrame:
    """Break-even arithmetic mean per (sleeve, vol, corr) read off the surface grid.

    Linear interpolation of the change in success between the two grid means (expected
    simple return a year) around its first sign change (NaN when it does not change sign;
    -inf when the sleeve helps at every mean of the grid). Coarser than the bisection
    (``breakeven`` table), but available at every volatility of the grid.
    """
    rows = []
    for (s, v, c), g in surface.groupby(["sleeve", "vol", "corr"]):
        g = g.sort_values("mean")
        m = g["mean"].to_numpy()
        d = g["d_success"].to_numpy()
        mu = np.nan
        for i in range(len(m) - 1):
            if d[i] < 0 <= d[i + 1]:
                mu = m[i] + (m[i + 1] - m[i]) * (-d[i]) / (d[i + 1] - d[i])
                break
        if np.isnan(mu) and len(d) and d[0] >= 0:
            mu = -np.inf  # helps at every mean of the grid
        rows.append({"sleeve": s, "vol": v, "corr": c, "mean": mu})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- charts


def surface_charts(surface: pd.DataFrame) -> list[Chart]:
    """One heat map of the change in success per correlation: a panel per sleeve size."""
    charts: list[Chart] = []
    if surface.empty:
        return charts
    sizes = sorted(surface["sleeve"].unique())
    for corr in sorted(surface["corr"].unique()):
        part = surface[surface["corr"] == corr]
        lim = float(np.nanmax(np.abs(part["d_success"]))) or 0.01
        with style():
            ncols = min(len(sizes), 2)
            nrows = math.ceil(len(sizes) / ncols)
            fig = Figure(figsize=(WIDTH, 3.3 * nrows + 0.4), layout="constrained")
            axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
            im = None
            for ax, s in zip(axes, sizes, strict=False):
                g = part[part["sleeve"] == s].pivot(index="mean", columns="vol", values="d_success")
                im = ax.imshow(
                    g.to_numpy() * 100,
                    origin="lower",
                    aspect="auto",
                    cmap="RdBu",
                    norm=TwoSlopeNorm(0.0, -lim * 100, lim * 100),
                )
                ax.set_xticks(range(g.shape[1]), [f"{v:.0%}" for v in g.columns], rotation=45)
                ax.set_yticks(range(g.shape[0]), [f"{m:.0%}" for m in g.index])
                ax.set_title(f"{s * 100:g}% sleeve")
                ax.set_xlabel("Bitcoin volatility, % a year (sd of the annual return)")
                ax.set_ylabel("expected return, % a year")
                ax.grid(False)
                for (i, j), val in np.ndenumerate(g.to_numpy() * 100):
                    ax.text(j, i, f"{val:+.0f}", ha="center", va="center", fontsize=7)
            for ax in axes[len(sizes) :]:
                ax.set_visible(False)
            if im is not None:
                fig.colorbar(im, ax=list(axes[: len(sizes)]), label="change in success, pp")
        charts.append(
            Chart(
                key=f"surface_corr_{corr:g}",
                title=f"Change in success against no sleeve, correlation {corr:g}",
                caption=(
                    "Percentage points of success probability gained (blue) or lost (red) by "
                    "adding the sleeve, for each assumed Bitcoin expected return (arithmetic, "
                    "rows) and volatility (standard deviation of the annual return, columns), "
                    "on common random numbers: along a row, more volatility at the same "
                    "expected return is more volatility drag."
                ),
                figure=fig,
            )
        )
    return charts


#: Display names of the break-even metrics (``optimize.crypto_breakeven.METRICS``).
METRIC_LABELS = {
    "success": "success",
    "ce_income": "CE income",
    "es_retirement": "expected shortfall",
    "log_growth": "log growth",
}


def break_even_vol_chart(surface: pd.DataFrame) -> Chart | None:
    """Break-even expected return against volatility read off the surface, a line per
    sleeve size and correlation (success)."""
    curve = surface_break_even(surface) if len(surface) else pd.DataFrame()
    if curve.empty or not np.isfinite(curve["mean"]).any():
        return None
    with style():
        fig = Figure(figsize=(WIDTH, 3.6), layout="constrained")
        ax = fig.subplots()
        styles = ("-", "--", ":", "-.")
        for i, s in enumerate(sorted(curve["sleeve"].unique())):
            for j, c in enumerate(sorted(curve["corr"].unique())):
                g = curve[(curve["sleeve"] == s) & (curve["corr"] == c)].sort_values("vol")
                g = g[np.isfinite(g["mean"])]
                if len(g):
                    ax.plot(
                        g["vol"] * 100,
                        g["mean"] * 100,
                        color=PALETTE[i % len(PALETTE)],
                        ls=styles[j % len(styles)],
                        marker="o",
                        ms=3,
                        label=f"{s * 100:g}%, corr {c:g}",
                    )
        ax.set_xlabel("Bitcoin volatility, % a year (sd of the annual return)")
        ax.set_ylabel("break-even expected return, % a year")
        ax.legend(ncol=2, fontsize=7)
    return Chart(
        key="break_even_vol",
        title="Break-even Bitcoin expected return against volatility (surface grid, success)",
        caption=(
            "The arithmetic expected return a year at which the sleeve neither raises nor "
            "lowers the probability of success, interpolated between the surface's grid "
            "means (lines stop where it lies outside the grid)."
        ),
        figure=fig,
    )


def break_even_chart(breakeven: pd.DataFrame) -> Chart | None:
    """Break-even expected return by correlation, a panel per metric, a colour per sleeve,
    with the rebalancing approximation (dashed) and the base mix's and cash's means."""
    be = breakeven[breakeven["vol"] == breakeven["vol"].min()] if len(breakeven) else breakeven
    if be.empty or not np.isfinite(be["breakeven_mean"]).any():
        return None
    metrics = list(dict.fromkeys(be["metric"]))
    with style():
        ncols = min(len(metrics), 2)
        nrows = math.ceil(len(metrics) / ncols)
        fig = Figure(figsize=(WIDTH, 3.0 * nrows + 0.4), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharey=True)).ravel()
        for ax, metric in zip(axes, metrics, strict=False):
            part = be[be["metric"] == metric]
            for i, (s, g) in enumerate(part.groupby("sleeve")):
                colour = PALETTE[i % len(PALETTE)]
                g = g.sort_values("corr")
                mid = g["breakeven_mean"].to_numpy() * 100
                err = np.vstack(
                    [mid - g["ci_low"].to_numpy() * 100, g["ci_high"].to_numpy() * 100 - mid]
                )
                ax.errorbar(
                    g["corr"],
                    mid,
                    yerr=err,
                    fmt="o-",
                    color=colour,
                    capsize=3,
                    ms=4,
                    label=f"{s * 100:g}% sleeve",
                )
                ax.plot(g["corr"], g["approx_mean"] * 100, ls="--", color=colour, lw=0.9)
            ax.axhline(be["mix_mean"].iloc[0] * 100, color="#777777", ls="-.", lw=0.8)
            ax.axhline(be["cash_mean"].iloc[0] * 100, color="#777777", ls=":", lw=0.8)
            ax.set_title(METRIC_LABELS.get(metric, metric))
            ax.set_xlabel("correlation with equities")
            ax.set_ylabel("break-even expected return, % a year")
        for ax in axes[len(metrics) :]:
            ax.set_visible(False)
        axes[0].legend(fontsize=7)
    vol = be["vol"].iloc[0]
    return Chart(
        key="break_even",
        title=f"Break-even Bitcoin expected return by correlation and metric (volatility {vol:.0%})",
        caption=(
            "The arithmetic expected return a year at which the sleeve neither helps nor "
            "hurts on each metric, by bisection on common random numbers (points, 95 % "
            "intervals), beside the rebalancing approximation m_P - V_P + C + s/2 (V_P + V_B "
            "- 2C) (dashed), the base mix's arithmetic mean (dash-dot) and cash's (dotted): "
            "the premium over each is the gap to its line."
        ),
        figure=fig,
    )


def risk_chart(risk: pd.DataFrame) -> Chart | None:
    """Sleeve's share of portfolio volatility and CVaR against the volatility assumption."""
    part = risk[risk["sleeve"] > 0]
    if part.empty:
        return None
    vcol = "vol" if "vol" in part else "vol_log"  # arithmetic; older results: log
    with style():
        fig = Figure(figsize=(WIDTH, 3.4), layout="constrained")
        axes = fig.subplots(1, 2)
        for i, s in enumerate(sorted(part["sleeve"].unique())):
            g = part[part["sleeve"] == s].sort_values(vcol)
            for ax, col in zip(axes, ("vol_share", "cvar_share"), strict=True):
                ax.plot(
                    g[vcol] * 100,
                    g[col] * 100,
                    marker="o",
                    ms=3,
                    color=PALETTE[i % len(PALETTE)],
                    label=f"{s * 100:g}% sleeve",
                )
        axes[0].set_title("share of portfolio volatility")
        axes[1].set_title("share of portfolio CVaR (95 %)")
        for ax in axes:
            ax.set_xlabel(
                "Bitcoin volatility (sd of the annual simple return), %"
                if vcol == "vol"
                else "Bitcoin annual log volatility, %"
            )
            ax.set_ylabel("% of the total")
        axes[0].legend()
    return Chart(
        key="risk",
        title="Risk contribution of the sleeve (Euler)",
        caption=(
            "Euler contributions of the sleeve to the volatility and the 95 % CVaR of the "
            "portfolio's annual return at the retirement mix; contributions of all assets "
            "add up to the total."
        ),
        figure=fig,
    )


def rules_chart(rules: pd.DataFrame) -> Chart | None:
    """Success and turnover of each sleeve rule, a bar per rule named on the axis (no
    labels placed among the points, so none overlap)."""
    if rules.empty:
        return None
    y = np.arange(len(rules), dtype=np.float64)
    with style():
        fig = Figure(figsize=(WIDTH, 0.3 * len(rules) + 1.4), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        panels = (
            ("success", "success, %", PALETTE[0]),
            ("turnover", "mean one-way turnover, % of the balance a year", PALETTE[1]),
        )
        for ax, (col, label, colour) in zip(axes, panels, strict=True):
            ax.barh(y, rules[col].to_numpy(dtype=np.float64) * 100, color=colour, height=0.6)
            ax.set_xlabel(label)
        axes[0].set_yticks(y, [str(r) for r in rules["rule"]], fontsize=8)
        axes[0].invert_yaxis()
        lo = float(np.nanmin(rules["success"])) * 100
        axes[0].set_xlim(
            max(0.0, lo - 10), min(100.0, float(np.nanmax(rules["success"])) * 100 + 3)
        )
    return Chart(
        key="rules",
        title="Sleeve rules: success and turnover",
        caption=(
            "Each rule on the same scenarios at the central case, trading costs included: "
            "success (left; the axis starts near the lowest bar) and the mean one-way "
            "turnover a year (right)."
        ),
        figure=fig,
    )


def history_chart(yearly: pd.DataFrame) -> Chart | None:
    """Bitcoin's calendar-year realised volatility and maximum drawdown."""
    if yearly.empty:
        return None
    with style():
        fig = Figure(figsize=(WIDTH, 3.2), layout="constrained")
        ax = fig.subplots()
        years = yearly.index.to_numpy()
        colours = np.where(yearly["data_caveat"], "#c9c9c9", PALETTE[0])
        ax.bar(
            years - 0.2,
            yearly["realised_vol"] * 100,
            width=0.4,
            color=colours,
            label="realised volatility",
        )
        ax.bar(
            years + 0.2,
            yearly["max_drawdown"] * 100,
            width=0.4,
            color=PALETTE[1],
            label="maximum drawdown",
        )
        ax.axhline(0, color="#999999", lw=0.6)
        ax.set_xticks(years, [str(int(x)) for x in years], fontsize=8)  # whole years
        ax.set_ylabel("%")
        ax.legend()
    return Chart(
        key="btc_history",
        title="Bitcoin by calendar year (embedded daily closes)",
        caption=(
            "Annualised volatility of daily log returns (grey: years before 2014, coarse or "
            "Mt.Gox-era prices) and the deepest fall from a peak within each year."
        ),
        figure=fig,
    )


def vintage_chart(vintage: pd.DataFrame) -> Chart | None:
    """Change in success (pp) and in CE income (USD a year) of each sleeve inside the
    vintage against the glide path alone, with 95 % intervals (paired SEs)."""
    part = vintage[vintage["sleeve_start"] > 0] if len(vintage) else vintage
    if part.empty:
        return None
    x = part["sleeve_start"].to_numpy() * 100
    with style():
        fig = Figure(figsize=(WIDTH, 3.2), layout="constrained")
        axes = fig.subplots(1, 2)
        panels = (
            ("d_success", "d_success_se", 100.0, "change in success, pp"),
            ("d_ce", "d_ce_se", 1.0, "change in CE income, USD a year"),
        )
        for ax, (col, se, scale, label) in zip(axes, panels, strict=True):
            ax.errorbar(
                x,
                part[col] * scale,
                yerr=1.96 * part[se] * scale,
                fmt="o",
                color=PALETTE[0],
                capsize=3,
            )
            ax.axhline(0, color="#999999", lw=0.6)
            ax.set_xlabel("sleeve at the start, % (shrinking to the end size)")
            ax.set_ylabel(label)
    return Chart(
        key="vintage",
        title="The sleeve inside a target-date vintage: paired changes",
        caption=(
            "Each sleeve against the same glide path without it, on the same member-paths "
            "(members x market paths, Bitcoin at the central case); bars: 95 % intervals "
            "from paired standard errors (batch means over market paths)."
        ),
        figure=fig,
    )


def crypto_charts(result: CryptoResearch) -> list[Chart]:
    """Every chart of the crypto section, in reading order."""
    out: list[Chart | None] = [
        *surface_charts(result.surface),
        break_even_chart(result.breakeven),
        break_even_vol_chart(result.surface),
        stress_chart(result.stress),
        rules_chart(result.rules),
        risk_chart(result.risk),
        vintage_chart(result.vintage),
        history_chart(result.btc_yearly),
    ]
    return [c for c in out if c is not None]


# --------------------------------------------------------------------------- tables


def _breakeven_table(be: pd.DataFrame) -> pd.DataFrame:
    """Break-even expected returns (arithmetic, % a year) per sleeve, volatility,
    correlation and metric, with the premiums and the rebalancing approximation; the
    log-growth break-even (the approximation's own metric) is its column."""
    if be.empty:
        return pd.DataFrame()
    growth = be[be["metric"] == "log_growth"].set_index(["sleeve", "vol", "corr"])
    rows = be[be["metric"] != "log_growth"]
    keys = list(zip(rows["sleeve"], rows["vol"], rows["corr"], strict=True))
    return pd.DataFrame(
        {
            "sleeve": [format_value(x, "pct") for x in rows["sleeve"]],
            "volatility": [format_value(v, "pct", 0) for v in rows["vol"]],
            "correlation": [format_value(c, "ratio", 1) for c in rows["corr"]],
            "metric": [METRIC_LABELS.get(m, m) for m in rows["metric"]],
            "break-even": [format_value(m, "pct") for m in rows["breakeven_mean"]],
            "95 % interval": [
                f"{format_value(a, 'pct')} to {format_value(b, 'pct')}"
                for a, b in zip(rows["ci_low"], rows["ci_high"], strict=True)
            ],
            "premium over cash": [format_value(x, "pp") for x in rows["premium_over_cash"]],
            "premium over the displaced mix": [
                format_value(x, "pp") for x in rows["premium_over_displaced"]
            ],
            "rebalancing approximation": [format_value(x, "pct") for x in rows["approx_mean"]],
            "log-growth break-even": [
                format_value(growth["breakeven_mean"].get(k, np.nan), "pct") for k in keys
            ],
            "note": rows["note"].fillna(""),
        }
    )


def _stress_sleeves(st: pd.DataFrame) -> list[str]:
    """The stress table's strategies that some stress moves, in table order: the
    reference without a sleeve, unchanged by every stress by construction, is left out."""
    names = list(dict.fromkeys(st["strategy"])) if len(st) else []
    moved = st[["d_success", "d_median_wealth"]].to_numpy() != 0
    return [n for n in names if moved[(st["strategy"] == n).to_numpy()].any()]


def _stress_by_sleeve(st: pd.DataFrame) -> pd.DataFrame:
    """Change in success (pp, paired standard error) under each stress, a column per
    sleeve that moves."""
    out: dict[str, list[str]] = {"stress": list(dict.fromkeys(st["shock"]))}
    for name in _stress_sleeves(st):
        g = st[st["strategy"] == name].set_index("shock")
        out[name] = [
            format_with_se(g.loc[k, "d_success"], g.loc[k, "se_d_success"], "pp")
            for k in out["stress"]
        ]
    return pd.DataFrame(out)


def _stress_table(st: pd.DataFrame) -> pd.DataFrame:
    """The largest sleeve under each stress: success (%) and its change (pp), median and
    10th-percentile real wealth (USD), unpaid years given failure, scenarios."""
    sleeves = _stress_sleeves(st)
    if not sleeves:
        return pd.DataFrame({"stress": [], "note": []})
    g = st[st["strategy"] == sleeves[-1]]
    age = format_value(g["wealth_age"].iloc[0], "age", 0)
    return pd.DataFrame(
        {
            "sleeve": g["strategy"],
            "stress": g["shock"],
            "success": [format_value(x, "pct") for x in g["success"]],
            "stressed": [format_value(x, "pct") for x in g["success_shocked"]],
            "change": [
                format_with_se(d, e, "pp")
                for d, e in zip(g["d_success"], g["se_d_success"], strict=True)
            ],
            f"median wealth at {age}": [format_value(x, "usd") for x in g["median_wealth"]],
            "stressed median": [format_value(x, "usd") for x in g["median_wealth_shocked"]],
            "median change": [format_value(x, "pct", sign=True) for x in g["d_median_wealth_pct"]],
            f"p10 wealth at {age}, stressed": [
                format_value(x, "usd") for x in g["p10_wealth_shocked"]
            ],
            "unpaid years if short, stressed": [
                format_value(x, "years") for x in g["unpaid_years_failed_shocked"]
            ],
            "scenarios": [format_value(x, "count") for x in g["n_scenarios"]],
        }
    )


def stress_notes(st: pd.DataFrame) -> list[str]:
    """One sentence per stress: its label, what it does and where its numbers come from."""
    if "note" not in st:
        return []
    seen = st.drop_duplicates("shock")
    return [f"{k}: {n}" for k, n in zip(seen["shock"], seen["note"], strict=True) if n]


def stress_chart(st: pd.DataFrame) -> Chart | None:
    """Change in success under each stress, a bar per sleeve, with 95 % paired intervals."""
    sleeves = _stress_sleeves(st)
    if not sleeves:
        return None
    shocks = list(dict.fromkeys(st["shock"]))
    y = np.arange(len(shocks), dtype=np.float64)
    h = 0.8 / len(sleeves)
    with style():
        fig = Figure(figsize=(WIDTH, 0.32 * len(shocks) + 1.2), layout="constrained")
        ax = fig.subplots()
        for i, name in enumerate(sleeves):
            g = st[st["strategy"] == name].set_index("shock").loc[shocks]
            ax.barh(
                y + (i - (len(sleeves) - 1) / 2) * h,
                g["d_success"] * 100,
                height=h,
                xerr=1.96 * g["se_d_success"].fillna(0.0) * 100,
                color=PALETTE[i % len(PALETTE)],
                error_kw={"lw": 0.6, "capsize": 1.5},
                label=name,
            )
        ax.set_yticks(y, shocks, fontsize=7)
        ax.invert_yaxis()
        ax.axvline(0, color="#999999", lw=0.6)
        ax.set_xlabel("change in success, pp")
        ax.legend(fontsize=7)
    return Chart(
        key="stress",
        title="Stress tests: change in success",
        caption=(
            "Percentage points of success lost (or gained) under each stress against the same "
            "sleeve unstressed, on the same scenarios at the central assumption; bars show "
            "95 % paired intervals. The reference without a sleeve is unchanged by every "
            "stress. Definitions and sources are in the notes."
        ),
        figure=fig,
    )


def _rules_table(ru: pd.DataFrame) -> pd.DataFrame:
    """Each sleeve rule against no sleeve: success (%), its paired change (pp), turnover
    (% of the balance a year), trading costs (USD)."""
    return pd.DataFrame(
        {
            "rule": ru["rule"],
            "success": [format_value(x, "pct") for x in ru["success"]],
            "change against no sleeve": [
                format_with_se(d, e, "pp")
                for d, e in zip(ru["d_success"], ru["se_success"], strict=True)
            ],
            "turnover a year": [format_value(x, "pct") for x in ru["turnover"]],
            "trading costs": [format_value(x, "usd") for x in ru["costs"]],
            "success per 1 % turnover (pp)": [
                format_value(x, "ratio", 3) if np.isfinite(x) else "no trading"
                for x in ru["success_per_turnover"]
            ],
            "what it does": ru["description"],
        }
    )


def _risk_table(risk: pd.DataFrame) -> pd.DataFrame:
    """Shares of volatility and CVaR from each non-zero sleeve (%)."""
    rk = risk[risk["sleeve"] > 0]
    return pd.DataFrame(
        {
            "sleeve": [format_value(x, "pct") for x in rk["sleeve"]],
            "Bitcoin volatility": [
                format_value(v, "pct", 0) for v in rk["vol" if "vol" in rk else "vol_log"]
            ],
            "share of portfolio volatility": [format_value(x, "pct") for x in rk["vol_share"]],
            "share of portfolio CVaR": [format_value(x, "pct") for x in rk["cvar_share"]],
            "portfolio volatility": [format_value(x, "pct") for x in rk["portfolio_vol"]],
            "portfolio CVaR": [format_value(x, "pct") for x in rk["portfolio_cvar"]],
        }
    )


#: How each history option uses Bitcoin's years (``history_options.option``).
HISTORY_OPTIONS = {
    "all": "all years",
    "mature": "mature years only",
    "scaled": "all years, returns scaled down",
}


def _history_options_table(ho: pd.DataFrame) -> pd.DataFrame:
    """Success with each way of using Bitcoin's history (resampled years: the mean and
    volatility of the log returns they hold, a year)."""
    return pd.DataFrame(
        {
            "history": [HISTORY_OPTIONS.get(o, o) for o in ho["option"]],
            "sleeve": [format_value(x, "pct") for x in ho["sleeve"]],
            "Bitcoin log mean": [format_value(x, "pct", 0) for x in ho["btc_mean_log"]],
            "Bitcoin log volatility": [format_value(x, "pct", 0) for x in ho["btc_vol_log"]],
            "success": [format_value(x, "pct") for x in ho["success"]],
            "change against no sleeve": [format_value(x, "pp") for x in ho["d_success"]],
        }
    )


def _window_table(wi: pd.DataFrame) -> pd.DataFrame:
    """The historical window backtest, with and without the sleeve."""
    return pd.DataFrame(
        {
            "portfolio": [words(str(x)).replace(" btc", " Bitcoin") for x in wi["strategy"]],
            "window": [f"{a} to {b}" for a, b in zip(wi["first"], wi["last"], strict=True)],
            "cumulative return": [format_value(x, "pct", 0) for x in wi["cumulative_return"]],
            "annualised return": [format_value(x, "pct") for x in wi["annualised_return"]],
            "volatility": [format_value(x, "pct") for x in wi["volatility"]],
            "Sharpe ratio": [format_value(x, "ratio") for x in wi["sharpe"]],
            "maximum drawdown": [format_value(x, "pct") for x in wi["max_drawdown"]],
        }
    )


def _yearly_table(yr: pd.DataFrame) -> pd.DataFrame:
    """Bitcoin by calendar year; ``*`` marks a data caveat."""
    return pd.DataFrame(
        {
            "year": [
                f"{int(y)}{' *' if c else ''}"
                for y, c in zip(yr.index, yr["data_caveat"], strict=True)
            ],
            "return": [format_value(x, "pct", 0) for x in yr["return"]],
            "realised volatility": [format_value(x, "pct", 0) for x in yr["realised_vol"]],
            "maximum drawdown": [format_value(x, "pct", 0) for x in yr["max_drawdown"]],
            "trading days": [format_value(x, "count") for x in yr["days"]],
        }
    )


def _change(d: object, se: object, unit: Unit, digits: int | None = None) -> str:
    """A paired change with its sign and standard error: ``+0.3 pp ± 0.1``."""
    value = format_value(d, unit, digits, sign=True)
    rest = format_with_se(d, se, unit, digits)[len(format_value(d, unit, digits)) :]
    return value + rest


def _vintage_table(v: pd.DataFrame) -> pd.DataFrame:
    """The sleeve inside the vintage: scores and their paired changes (± SE)."""

    def col(x: str) -> list[object]:
        return list(v[x]) if x in v else [math.nan] * len(v)

    def changes(x: str, unit: Unit, digits: int | None = None) -> list[str]:
        return [_change(d, e, unit, digits) for d, e in zip(col(x), col(f"{x}_se"), strict=True)]

    out = {
        "sleeve, start -> target date": [
            f"{format_value(a, 'pct')} -> {format_value(b, 'pct')}" if a > 0 else "none"
            for a, b in zip(v["sleeve_start"], v["sleeve_end"], strict=True)
        ],
        "member-paths": [format_value(n, "count") for n in v["member_paths"]],
        "success": [format_value(x, "pct") for x in v["success"]],
        "success change": changes("d_success", "pp"),
        "CE income": [format_value(x, "usd") for x in v["ce"]],
        "CE change": changes("d_ce", "usd"),
        "unpaid years": [format_value(x, "years", 2) for x in v["unpaid_years"]],
        "unpaid years change": changes("d_unpaid_years", "years", 2),
        "unpaid years given failure": [format_value(x, "years") for x in v["unpaid_given_failure"]],
        "given failure change": changes("d_unpaid_given_failure", "years", 2),
    }
    years = sorted({c.split("_")[-1] for c in v.columns if c.startswith("vol_share_se_")})
    for y in years:
        when = "at the target date" if y == "0y" else f"{y[:-1]} years before"
        out[f"sleeve {when}"] = [format_value(x, "pct") for x in col(f"weight_{y}")]
        out[f"share of vol / CVaR {when}"] = [
            f"{format_with_se(a, b, 'pct')} / {format_with_se(c, e, 'pct')}"
            for a, b, c, e in zip(
                col(f"vol_share_{y}"),
                col(f"vol_share_se_{y}"),
                col(f"cvar_share_{y}"),
                col(f"cvar_share_se_{y}"),
                strict=True,
            )
        ]
    return pd.DataFrame(out)


def _disclosure_rows(r: pd.Series) -> dict[str, str]:
    """One sleeve's column of the committee table: item -> formatted value."""
    stresses = {c[len("drawdown ") :]: r[c] for c in r.index if c.startswith("drawdown ")}
    rows = {
        "share of portfolio volatility (Euler)": format_value(r["vol_share"], "pct"),
        "share of portfolio CVaR 95 % (Euler)": format_value(r["cvar_share"], "pct"),
        f"worst drawdown, history {r['window']}": format_value(r["history_drawdown"], "pct"),
        "months from the trough back to the peak": (
            format_value(r["history_months_to_recover"], "months")
            if np.isfinite(r["history_months_to_recover"])
            else "not recovered"
        ),
    }
    rows.update(
        {f"worst drawdown, stress: {k}": format_value(x, "pct") for k, x in stresses.items()}
    )
    below = format_value(r["crash_threshold"], "pct", 0)
    months = format_value(r["crash_months"], "count")
    rows[f"crash correlation with equities (months below {below})"] = (
        f"{format_value(r['crash_corr'], 'ratio')} ({months} months)"
    )
    rows["correlation with equities, all months"] = format_value(r["corr_all_months"], "ratio")
    rows["fee drag a year (sleeve x fee difference)"] = format_value(r["fee_drag"], "bps", 2)
    rows["liquidity"] = str(r["liquidity"])
    return rows


def _disclosure_table(d: pd.DataFrame) -> pd.DataFrame:
    """The committee disclosure table: one row per item, one column per sleeve size."""
    if d.empty:
        return pd.DataFrame()
    cols = {
        ("no sleeve" if s == 0 else f"{format_value(s, 'pct')} sleeve"): _disclosure_rows(r)
        for s, (_, r) in zip(d["sleeve"], d.iterrows(), strict=True)
    }
    frame = pd.DataFrame(cols)
    return frame.rename_axis("item").reset_index()


def table_notes(result: CryptoResearch) -> dict[str, str]:
    """Short notes printed beside tables (by table title)."""
    notes: dict[str, str] = {}
    v, d = result.vintage, result.disclosure
    if len(v):
        notes[VINTAGE_TITLE] = (
            f"The {v['population'].iloc[0]} vintage's members (calibrated leakage, Social "
            "Security at the payable share, deaths, income shocks) on block-bootstrap market "
            "paths with Bitcoin at the central case. Success: the money lasts as long as the "
            f"member lives (survival-weighted); CE: certainty equivalent of real retirement "
            f"income at gamma {v['gamma'].iloc[0]:g}; every change is paired against the glide "
            "path alone on the same member-paths, ± one standard error."
        )
    if len(d):
        fee = format_value(d["etf_fee"].iloc[0], "pct", 2)
        base_fee = format_value(d["base_fee"].iloc[0], "pct", 2)
        notes[DISCLOSURE_TITLE] = (
            f"Context for a plan committee: {EXECUTIVE_ORDER}. Fee drag = sleeve x "
            f"({fee} - the plan's {base_fee}); "
            f"{ETF_FEE_SOURCE}. Drawdowns are of the base-plus-sleeve portfolio's nominal "
            "monthly value; risk shares at the central case, weights at retirement. "
            f"Liquidity: {LIQUIDITY}."
        )
    return notes


VINTAGE_TITLE = "The sleeve inside a target-date vintage"
DISCLOSURE_TITLE = "Committee disclosure: the sleeve at the central case"


def display_tables(result: CryptoResearch) -> list[tuple[str, pd.DataFrame]]:
    """The tables of the section, formatted as strings (title, frame)."""
    return [
        (
            "Break-even Bitcoin expected returns (arithmetic, a year)",
            _breakeven_table(result.breakeven),
        ),
        ("Stress tests: change in success by sleeve", _stress_by_sleeve(result.stress)),
        ("Stress tests on the largest sleeve", _stress_table(result.stress)),
        ("Sleeve rules compared", _rules_table(result.rules)),
        ("Risk contribution of the sleeve", _risk_table(result.risk)),
        ("How Bitcoin's history is used", _history_options_table(result.history_options)),
        ("Historical window backtest", _window_table(result.window)),
        *([(VINTAGE_TITLE, _vintage_table(result.vintage))] if len(result.vintage) else []),
        *(
            [(DISCLOSURE_TITLE, _disclosure_table(result.disclosure))]
            if len(result.disclosure)
            else []
        ),
        ("Bitcoin by calendar year (* data caveat)", _yearly_table(result.btc_yearly)),
    ]


# --------------------------------------------------------------------------- HTML / PDF


# --------------------------------------------------------------------------- the answer

_SLEEVE = re.compile(r"^(\d+(?:\.\d+)?)% sleeve$")


def _sleeve_size(name: str) -> float | None:
    """The decimal size of a stress-table strategy (``"2.5% sleeve"`` -> 0.025, ``"no
    sleeve"`` -> 0.0), None for another name."""
    if name == "no sleeve":
        return 0.0
    m = _SLEEVE.match(name)
    return round(float(m.group(1)) / 100, 6) if m else None


#: The answer's columns: (summary.csv column, its standard error's column or None, unit,
#: header); a header's ``"group: "`` prefix heads the columns that share it.
SUMMARY_COLUMNS: tuple[tuple[str, str | None, Unit, str], ...] = (
    ("success", None, "pct", "one: success"),
    ("success change", "success change SE", "pp", "one: change against no sleeve"),
    ("median wealth", None, "usd", "one: median real wealth at {age}"),
    ("worst stress change", "worst stress change SE", "pp", "one: worst stress, change"),
    ("worst stress", None, "text", "one: worst stress"),
    ("vintage: success", None, "pct", "vintage: success"),
    ("vintage: success change", "vintage: success change SE", "pp", "vintage: change"),
    ("vintage: CE income", None, "usd", "vintage: CE income a year"),
    ("vintage: CE change", "vintage: CE change SE", "usd", "vintage: CE change"),
)


def _member_summary(st: pd.DataFrame) -> pd.DataFrame:
    """Per stress sleeve at the central case: success, its change against no sleeve on
    the same scenarios, median real wealth, the worst stress and its paired change."""
    rows = {}
    base = st.loc[st["strategy"] == "no sleeve", "success"]
    for name, g in st.groupby("strategy", sort=False):
        size = _sleeve_size(str(name))
        if size is None:
            continue
        worst = g.iloc[int(g["d_success"].to_numpy().argmin())]
        moved = bool((g["d_success"] != 0).any())
        # the change's paired SE where the stress table carries it; else printed without
        se = st.get("se_success_vs_reference")
        rows[size] = {
            "success": g["success"].iloc[0],
            "scenarios": g["n_scenarios"].iloc[0],
            "success change": g["success"].iloc[0] - base.iloc[0] if len(base) else np.nan,
            "success change SE": g[se.name].iloc[0] if se is not None else np.nan,
            "median wealth": g["median_wealth"].iloc[0],
            "wealth age": g["wealth_age"].iloc[0],
            "worst stress": (
                str(worst["shock"])
                if moved
                else ("none: no Bitcoin held" if size == 0 else "none moved success")
            ),
            "worst stress change": worst["d_success"],
            "worst stress change SE": worst["se_d_success"],
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _vintage_summary(v: pd.DataFrame) -> pd.DataFrame:
    """Per starting sleeve inside the vintage: success, CE income and their paired
    changes (± SE), member-paths."""
    if v.empty:
        return pd.DataFrame()
    out = pd.DataFrame(
        {
            "vintage: success": v["success"].to_numpy(),
            "vintage: success change": v["d_success"].to_numpy(),
            "vintage: success change SE": v["d_success_se"].to_numpy(),
            "vintage: CE income": v["ce"].to_numpy(),
            "vintage: CE change": v["d_ce"].to_numpy(),
            "vintage: CE change SE": v["d_ce_se"].to_numpy(),
            "vintage: member-paths": v["member_paths"].to_numpy(),
        },
        index=[round(float(x), 6) for x in v["sleeve_start"]],
    )
    return out


def summary_frame(result: CryptoResearch) -> pd.DataFrame:
    """The answer, one row per sleeve size (decimal, the index ``sleeve``) at the central
    case: the research's member (stress table: success, its change against no sleeve,
    median real wealth at the wealth age, the worst stress and its paired change) and
    the sleeve inside the vintage (success, CE income a year, their paired changes ±
    SE). Decimals and USD; NaN where a size was not run. Written as summary.csv."""
    parts = [_member_summary(result.stress), _vintage_summary(result.vintage)]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(index=pd.Index([], name="sleeve"))
    out = pd.concat(parts, axis=1).sort_index()
    out.index.name = "sleeve"
    for col, se, _, _ in SUMMARY_COLUMNS:
        for c in (col, se):
            if c is not None and c not in out:
                out[c] = np.nan
    return out


def _sleeve_label(size: float) -> str:
    return "no sleeve" if size == 0 else f"{format_value(size, 'pct')} sleeve"


def _n_label(values: pd.Series | None, what: str) -> str:
    v = values.dropna() if values is not None else pd.Series(dtype=float)
    if v.empty:
        return ""
    lo, hi = int(v.min()), int(v.max())
    return f" (n = {lo:,} {what})" if lo == hi else f" (n = {lo:,} to {hi:,} {what})"


def summary_shown(
    result: CryptoResearch, frame: pd.DataFrame
) -> tuple[list[tuple[str, int]], list[tuple[str, str]], list[tuple[float, str, list[str]]]]:
    """The answer as display text: column groups (heading, span), columns (summary.csv
    column, header) and rows (sleeve, label, cells); a column all NaN is left out."""
    cols = [c for c in SUMMARY_COLUMNS if frame[c[0]].notna().any()]
    age = frame["wealth age"].dropna() if "wealth age" in frame else pd.Series(dtype=float)
    pop = result.vintage["population"].iloc[0] if len(result.vintage) else ""
    titles = {
        "one": "One member, central case" + _n_label(frame.get("scenarios"), "scenarios"),
        "vintage": f"Inside the {words(str(pop))} vintage, central case"
        + _n_label(frame.get("vintage: member-paths"), "member-paths"),
    }
    groups: list[tuple[str, int]] = []
    heads: list[tuple[str, str]] = []
    for col, _, _, head in cols:
        g, h = head.split(": ", 1)
        if groups and groups[-1][0] == titles[g]:
            groups[-1] = (titles[g], groups[-1][1] + 1)
        else:
            groups.append((titles[g], 1))
        heads.append((col, h.format(age=format_value(age.iloc[0], "age", 0) if len(age) else "")))
    rows = []
    for size, (_, row) in zip(frame.index.astype(float), frame.iterrows(), strict=True):
        cells = [_summary_cell(row, c, se, unit) for c, se, unit, _ in cols]
        rows.append((size, _sleeve_label(size), [words(x) for x in cells]))
    return groups, heads, rows


#: The answer's columns of words (left-aligned).
_TEXT_COLUMNS = frozenset(c for c, _, unit, _ in SUMMARY_COLUMNS if unit == "text")


def _group(col: str) -> str:
    """The answer's group of a summary.csv column: "one" (member) or "vintage"."""
    return "vintage" if col.startswith("vintage: ") else "one"


def _summary_cell(row: pd.Series, col: str, se: str | None, unit: Unit) -> str:
    """One cell of the answer: a level alone, a change signed with its standard error."""
    if unit in ("text", "pct") or se is None:
        return format_value(row[col], unit)
    return _change(row[col], row[se], unit)


SUMMARY_CAPTION = (
    "Every figure at the central case stated above. One member: the research's member on "
    "the stress tests' scenarios; success is the share of scenarios whose money lasts to "
    "the plan's end age, its change against no sleeve is on the same scenarios (paired), "
    "median real wealth in USD; the worst stress is the stress that costs this sleeve the "
    "most success, its change paired against the same sleeve unstressed. Inside the "
    "vintage: the sleeve shrinking inside the target-date glide path across the "
    "vintage's members, success survival-weighted, CE the certainty-equivalent real "
    "retirement income in USD a year, every change paired against the glide path alone "
    "on the same member-paths. ± is one standard error in the unit of the change "
    "(percentage points, pp, for success; USD for CE income). A change in success is in "
    "pp, a level in %."
)


# --------------------------------------------------------------------------- HTML / PDF

#: The crypto page's additions to the tear sheet's table style: text cells wrap.
_CSS = (
    "td.text { text-align: left; white-space: normal; min-width: 8em; max-width: 30em; }"
    " thead th.group { white-space: normal; } p.lead { font-size: 15px; margin: 4px 0 14px; }"
)

#: A cell longer than this many characters is text: wrapped and left-aligned.
_TEXT_CELL = 24


def _td(cell: str, attrs: str = "", text: bool = False) -> str:
    """A cell: words (``text``, or a long cell) left-aligned and wrapped, else a number."""
    kind = "text" if text or len(cell) > _TEXT_CELL else "num"
    return f'<td class="{kind}"{attrs}>{escape(cell)}</td>'


_NUMERIC = re.compile(r"^(?:[-+]?\d|n/a$|no trading$)")


def _table_html(frame: pd.DataFrame, ident: str = "") -> str:
    """A display table in the tear sheet's style: the first column the row labels, a
    column of numbers right-aligned, a column of words left-aligned and wrapped."""
    cols = [str(c) for c in frame.columns]
    kinds = [
        "num" if all(_NUMERIC.match(str(v)) for v in frame[c]) else "text" for c in frame.columns
    ]
    head = f'<th class="label" scope="col">{escape(words(cols[0]))}</th>' + "".join(
        f'<th class="{"num" if k == "num" else "label"}" scope="col">{escape(words(c))}</th>'
        for c, k in zip(cols[1:], kinds[1:], strict=True)
    )
    body = "".join(
        f'<tr><th class="label" scope="row">{escape(words(str(row[0])))}</th>'
        + "".join(
            f'<td class="{k}">{escape(words(str(v)))}</td>'
            for v, k in zip(row[1:], kinds[1:], strict=True)
        )
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    tid = f' id="{ident}"' if ident else ""
    return (
        f'<div class="table-wrap"><table class="metrics"{tid}><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _summary_html(result: CryptoResearch, frame: pd.DataFrame) -> list[str]:
    """The answer: the central case, then the summary table (each cell's summary.csv
    column in ``data-col``, each row's sleeve in ``data-key``) and its caption."""
    if frame.empty:
        return []
    groups, heads, rows = summary_shown(result, frame)
    top = "".join(
        f'<th class="group" scope="colgroup" colspan="{n}">{escape(g)}</th>' for g, n in groups
    )
    cols = "".join(f'<th class="num" scope="col">{escape(h)}</th>' for _, h in heads)
    body = "".join(
        f'<tr data-key="{size:g}"><th class="label" scope="row">{escape(label)}</th>'
        + "".join(
            _td(c, f' data-col="{escape(col, quote=True)}"', col in _TEXT_COLUMNS)
            for c, (col, _) in zip(cells, heads, strict=True)
        )
        + "</tr>"
        for size, label, cells in rows
    )
    return [
        '<div class="table-wrap"><table class="metrics summary" id="summary-table">'
        f'<thead><tr><th class="label" scope="col" rowspan="2">Sleeve</th>{top}</tr>'
        f"<tr>{cols}</tr></thead><tbody>{body}</tbody></table></div>",
        f'<p class="notes" id="summary-caption">{escape(SUMMARY_CAPTION)}</p>',
    ]


_BLOCKS = re.compile(r"blocks of (\d+) scenarios")


def settings_shown(settings: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The settings as a reader reads them: the seed scheme in words (no generator
    repr), registry names as labels, the timings last."""
    rows, timings = [], []
    for k, v in settings:
        if k == "seed" and "SeedSequence" in v:
            seed = v.split(" ", 1)[0]
            streams = re.search(r"\(streams (.*?): SeedSequence", v)
            blocks = _BLOCKS.search(v)
            v = (
                f"{seed}; each random stream ({streams.group(1) if streams else 'every one'}) "
                "draws from its own branch of the study's seed, keyed by the stream's name"
                + (f", in blocks of {int(blocks.group(1)):,} scenarios" if blocks else "")
                + ", so a stream's draws do not depend on the others or on the run's size"
            )
        if k.startswith("timings"):
            timings.append(("run time by step, seconds", v))
            continue
        rows.append((words(k), words(v)))
    return rows + timings


def _charts_html(charts: list[Chart]) -> list[str]:
    parts = ['<section id="charts"><h2>Charts</h2>']
    for chart in charts:
        parts += [
            f'<figure id="chart-{escape(chart.key)}"><h3>{escape(words(chart.title))}</h3>',
            f"{img_tag(chart)}<figcaption>{escape(words(chart.caption))}</figcaption></figure>",
        ]
    return [*parts, "</section>"]


def crypto_html(result: CryptoResearch, charts: list[Chart]) -> str:
    """The crypto section as one self-contained HTML page in the tear sheet's look: the
    answer (central case and summary table) first, then charts, tables and notes, the
    settings and timings last."""
    frame = summary_frame(result)
    parts = [
        *page_head(words(result.title), words(result.subtitle)),
        f"<style>{_CSS}</style>",
        '<section id="summary"><h2>The answer</h2>',
        *(
            [f'<p class="lead" id="central"><strong>{escape(result.central)}</strong></p>']
            if result.central
            else []
        ),
        *_summary_html(result, frame),
        "</section>",
        *_charts_html(charts),
        '<section id="tables"><h2>Tables</h2>',
    ]
    beside = table_notes(result)
    for title, table in display_tables(result):
        if table.empty:
            continue
        parts += [f"<h3>{escape(title)}</h3>", _table_html(table)]
        if title in beside:
            parts.append(f'<p class="notes">{escape(words(beside[title]))}</p>')
    parts += ['</section><section id="notes"><h2>Notes</h2><ul class="notes">']
    notes = (*result.notes, *stress_notes(result.stress))
    parts += [f"<li>{escape(words(n))}</li>" for n in notes]
    parts += ['</ul></section><section id="settings"><h2>Settings</h2><dl class="settings">']
    parts += [
        f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in settings_shown(result.settings)
    ]
    parts.append("</dl></section><footer>glidelab crypto research</footer></body></html>")
    return "\n".join(parts) + "\n"


def _page_table(title: str, frame: pd.DataFrame, caption: str = "") -> PageTable:
    """A display table as a PDF table: the first column the row labels."""
    return PageTable(
        title=words(title),
        head=tuple(words(str(c)) for c in frame.columns),
        rows=tuple(tuple(words(str(v)) for v in r) for r in frame.itertuples(index=False)),
        caption=words(caption),
    )


def _summary_pages(result: CryptoResearch) -> list[Figure]:
    """The answer's page(s): the central case as the subtitle, the summary table."""
    frame = summary_frame(result)
    if frame.empty:
        return text_page(words(result.title), [result.central] if result.central else [])
    groups, heads, rows = summary_shown(result, frame)
    short = {"one": "member", "vintage": "vintage"}
    head = ("Sleeve", *(f"{short[_group(c)]}: {h}" for c, h in heads))
    table = PageTable(
        title=f"{words(result.title)}: the answer",
        head=head,
        rows=tuple((label, *cells) for _, label, cells in rows),
        caption=SUMMARY_CAPTION,
        notes=tuple(g for g, _ in groups),
        subtitle=result.central,
    )
    return table_pages(table)


def _with_central(fig: Figure, central: str) -> Figure:
    """``fig`` with the central case as its footer, inside the bottom margin (every page
    that uses it)."""
    if central:
        w_in, h_in = fig.get_size_inches()
        lines = textwrap.wrap(central, int((w_in - 0.9) / (6 / 72 * 0.62)))[:2]
        fig.text(0.45 / w_in, 0.32 / h_in, "\n".join(lines), fontsize=6, color="#5b6673",
                 va="top", linespacing=1.2)  # fmt: skip
    return fig


def crypto_pdf(result: CryptoResearch, charts: list[Chart]) -> bytes:
    """The crypto section as A4 PDF bytes in the report book's pages: the answer (central
    case and summary table), the charts, the tables, the notes, the settings last."""
    pages = _summary_pages(result)
    body = [chart_page(c) for c in charts]
    beside = table_notes(result)
    for title, table in display_tables(result):
        if not table.empty:
            body += table_pages(_page_table(title, table, beside.get(title, "")))
    pages += [_with_central(f, result.central) for f in body]
    pages += text_page("Notes", [words(n) for n in result.notes])
    definitions = stress_notes(result.stress)
    if definitions:
        pages += text_page("Stress tests: definitions and sources", [words(n) for n in definitions])
    pages += text_page("Settings", settings_shown(result.settings))
    buf = io.BytesIO()
    meta = {"Title": words(result.title), "Creator": "glidelab", "CreationDate": None}
    with style(), PdfPages(buf, metadata=meta) as pdf:
        for fig in pages:
            pdf.savefig(fig)
    return buf.getvalue()


#: The crypto report's page in its folder (:func:`write_crypto_report`).
REPORT_PAGE = "crypto.html"


def crypto_part(result: CryptoResearch, link: str = "") -> ResearchPart:
    """The crypto answer as a part of the study's report book: the central case and the
    summary table of :func:`summary_frame` / :func:`summary_shown` (the same cells as
    crypto.html's, each column a summary.csv column), and ``link``, the full report's
    page relative to the book's folder (``""``: none)."""
    frame = summary_frame(result)
    groups, heads, rows = summary_shown(result, frame) if len(frame) else ([], [], [])
    return ResearchPart(
        key="crypto",
        title="Crypto sleeve research",
        lead=result.central,
        groups=tuple(groups),
        columns=tuple(heads),
        rows=tuple((f"{size:g}", label, tuple(cells)) for size, label, cells in rows),
        text_columns=_TEXT_COLUMNS,
        caption=SUMMARY_CAPTION if len(frame) else "",
        link=link,
        link_text=(
            "The full crypto report (surface, break-even, stresses, rules, the vintage, the "
            "committee disclosure, Bitcoin's history)"
        ),
    )


def write_crypto_report(result: CryptoResearch, folder: str | os.PathLike[str]) -> Path:
    """Write ``crypto.html``, ``crypto.pdf`` and ``summary.csv`` (the answer's numbers,
    decimals) into ``folder`` (atomically, file by file)."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    charts = crypto_charts(result)
    write_text_atomic(target / "summary.csv", summary_frame(result).to_csv())
    write_text_atomic(target / REPORT_PAGE, crypto_html(result, charts))
    write_bytes_atomic(target / "crypto.pdf", crypto_pdf(result, charts))
    return target
