"""The crypto section of the tear sheet: surface heat maps, break-even curve, stress,
rule comparison, risk contribution and Bitcoin's history, as HTML and PDF.

Takes a :class:`backtest.crypto.result.CryptoResearch` (numbers only) and formats it;
the HTML is self-contained (inline CSS, PNG ``data:`` URIs, no script), the PDF holds the
same charts (vector) and tables.
"""

from __future__ import annotations

import io
import math
import os
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
from backtest.report.units import Unit, format_value, format_with_se

PAGE = (11.69, 8.27)  # A4 landscape, inches


# --------------------------------------------------------------------------- numbers


def _pct(x: float, digits: int = 1, sign: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x * 100:+.{digits}f}%" if sign else f"{x * 100:.{digits}f}%"


def _usd(x: float, sign: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:+,.0f}" if sign else f"{x:,.0f}"


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
                fig.colorbar(im, ax=list(axes[: len(sizes)]), label="change in success, points")
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
    """Success against turnover, one point per sleeve rule."""
    if rules.empty:
        return None
    with style():
        fig = Figure(figsize=(WIDTH, 3.6), layout="constrained")
        ax = fig.subplots()
        for i, (_, r) in enumerate(rules.iterrows()):
            ax.scatter(r["turnover"] * 100, r["success"] * 100, color=PALETTE[i % len(PALETTE)])
            ax.annotate(
                r["rule"],
                (r["turnover"] * 100, r["success"] * 100),
                fontsize=7,
                xytext=(5, 3 if i % 2 == 0 else -9),  # alternate: close points stay legible
                textcoords="offset points",
            )
        ax.set_xlabel("mean one-way turnover, % of the balance a year")
        ax.set_ylabel("success, %")
    return Chart(
        key="rules",
        title="Sleeve rules: success and turnover",
        caption="Each rule on the same scenarios, trading costs included.",
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
            "sleeve": [_pct(s, 1) for s in rows["sleeve"]],
            "volatility": [_pct(v, 0) for v in rows["vol"]],
            "corr": [f"{c:g}" for c in rows["corr"]],
            "metric": [METRIC_LABELS.get(m, m) for m in rows["metric"]],
            "break-even": [_pct(m, 1) for m in rows["breakeven_mean"]],
            "95 % interval": [
                f"{_pct(a, 1)} .. {_pct(b, 1)}"
                for a, b in zip(rows["ci_low"], rows["ci_high"], strict=True)
            ],
            "over cash": [_pct(x, 1, True) for x in rows["premium_over_cash"]],
            "over displaced mix": [_pct(x, 1, True) for x in rows["premium_over_displaced"]],
            "approximation": [_pct(x, 1) for x in rows["approx_mean"]],
            "log-growth break-even": [
                _pct(growth["breakeven_mean"].get(k, np.nan), 1) for k in keys
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


def _notes_page(title: str, lines: list[str], width: int = 160) -> Figure:
    """A PDF page of wrapped sentences (the stress definitions)."""
    fig = Figure(figsize=PAGE)
    fig.text(0.05, 0.94, title, fontsize=15, weight="bold", color="#1f4e79")
    y = 0.89
    for line in lines:
        for part in textwrap.wrap(line, width) or [""]:
            fig.text(0.05, y, part, fontsize=7.5)
            y -= 0.022
        y -= 0.008
    return fig


def _rules_table(ru: pd.DataFrame) -> pd.DataFrame:
    """Each sleeve rule against no sleeve: success, turnover, costs (USD)."""
    return pd.DataFrame(
        {
            "rule": ru["rule"],
            "success": [_pct(x) for x in ru["success"]],
            "vs no sleeve": [
                f"{_pct(d, 1, True)} ± {_pct(s, 1)}"
                for d, s in zip(ru["d_success"], ru["se_success"], strict=True)
            ],
            "turnover a year": [_pct(x) for x in ru["turnover"]],
            "costs (USD)": [_usd(x) for x in ru["costs"]],
            "success per 1 % turnover": [
                f"{x:.3f}" if np.isfinite(x) else "no trading" for x in ru["success_per_turnover"]
            ],
            "what": ru["description"],
        }
    )


def _risk_table(risk: pd.DataFrame) -> pd.DataFrame:
    """Shares of volatility and CVaR from each non-zero sleeve."""
    rk = risk[risk["sleeve"] > 0]
    return pd.DataFrame(
        {
            "sleeve": [_pct(s, 1) for s in rk["sleeve"]],
            "volatility": [_pct(v, 0) for v in rk["vol" if "vol" in rk else "vol_log"]],
            "share of vol": [_pct(x) for x in rk["vol_share"]],
            "share of CVaR": [_pct(x) for x in rk["cvar_share"]],
            "portfolio vol": [_pct(x) for x in rk["portfolio_vol"]],
            "portfolio CVaR": [_pct(x) for x in rk["portfolio_cvar"]],
        }
    )


def _history_options_table(ho: pd.DataFrame) -> pd.DataFrame:
    """Success with each way of using Bitcoin's history."""
    return pd.DataFrame(
        {
            "history": ho["option"],
            "sleeve": [_pct(s, 1) for s in ho["sleeve"]],
            "BTC log mean": [_pct(x, 0) for x in ho["btc_mean_log"]],
            "BTC log vol": [_pct(x, 0) for x in ho["btc_vol_log"]],
            "success": [_pct(x) for x in ho["success"]],
            "vs no sleeve": [_pct(x, 1, True) for x in ho["d_success"]],
        }
    )


def _window_table(wi: pd.DataFrame) -> pd.DataFrame:
    """The historical window backtest, with and without the sleeve."""
    return pd.DataFrame(
        {
            "portfolio": wi["strategy"],
            "window": [f"{a}..{b}" for a, b in zip(wi["first"], wi["last"], strict=True)],
            "cumulative": [_pct(x, 0) for x in wi["cumulative_return"]],
            "annualised": [_pct(x) for x in wi["annualised_return"]],
            "volatility": [_pct(x) for x in wi["volatility"]],
            "Sharpe": [f"{x:.2f}" for x in wi["sharpe"]],
            "max drawdown": [_pct(x) for x in wi["max_drawdown"]],
        }
    )


def _yearly_table(yr: pd.DataFrame) -> pd.DataFrame:
    """Bitcoin by calendar year; ``*`` marks a data caveat."""
    return pd.DataFrame(
        {
            "year": [
                f"{y}{' *' if c else ''}" for y, c in zip(yr.index, yr["data_caveat"], strict=True)
            ],
            "return": [_pct(x, 0) for x in yr["return"]],
            "realised vol": [_pct(x, 0) for x in yr["realised_vol"]],
            "max drawdown": [_pct(x, 0) for x in yr["max_drawdown"]],
            "days": yr["days"].astype(str),
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


def _table_html(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _central_html(result: CryptoResearch) -> list[str]:
    """The first screen's statement of the central case (arithmetic, with its rationale)."""
    if not result.central:
        return []
    return [f'<p class="lead"><strong>{escape(result.central)}</strong></p>']


def crypto_html(result: CryptoResearch, charts: list[Chart]) -> str:
    """The crypto section as one self-contained HTML page."""
    parts = [
        *page_head(result.title, result.subtitle),
        *_central_html(result),
        '<section id="crypto"><h2>Settings</h2><dl class="settings">',
        *(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in result.settings),
        "</dl>",
    ]
    for chart in charts:
        parts += [
            f"<h3>{escape(chart.title)}</h3>",
            f"<figure>{img_tag(chart)}<figcaption>{escape(chart.caption)}</figcaption></figure>",
        ]
    beside = table_notes(result)
    for title, frame in display_tables(result):
        parts += [f"<h3>{escape(title)}</h3>", _table_html(frame)]
        if title in beside:
            parts.append(f'<p class="note">{escape(beside[title])}</p>')
    parts.append('<h2>Notes</h2><ul class="notes">')
    parts += [f"<li>{escape(n)}</li>" for n in (*result.notes, *stress_notes(result.stress))]
    parts.append("</ul></section></body></html>")
    return "\n".join(parts)


def _table_page(title: str, frame: pd.DataFrame, note: str = "") -> Figure:
    fig = Figure(figsize=PAGE)
    fig.text(0.05, 0.94, title, fontsize=15, weight="bold", color="#1f4e79")
    for i, line in enumerate(textwrap.wrap(note, 190)):
        fig.text(0.05, 0.915 - 0.018 * i, line, fontsize=7, color="#5b6673")
    ax = fig.add_axes((0.05, 0.05, 0.9, 0.85))
    ax.axis("off")
    shown = frame.head(40)
    tab = ax.table(
        # matplotlib's stub says Sequence[Sequence[str]]; Axes.table takes any 2-D array.
        cellText=shown.to_numpy(dtype=str),  # type: ignore[arg-type]
        colLabels=[str(c) for c in shown.columns],
        loc="upper left",
        cellLoc="left",
    )
    tab.auto_set_font_size(False)
    tab.set_fontsize(7)
    tab.auto_set_column_width(list(range(shown.shape[1])))
    if len(frame) > len(shown):
        fig.text(0.05, 0.02, f"{len(frame) - len(shown)} more rows in the CSV", fontsize=8)
    return fig


def crypto_pdf(result: CryptoResearch, charts: list[Chart]) -> bytes:
    """The crypto section as PDF bytes: cover with the central case and the settings, the
    notes, charts, tables."""
    buf = io.BytesIO()
    with style(), PdfPages(buf, metadata={"Title": result.title, "Creator": "glidelab"}) as pdf:
        cover = Figure(figsize=PAGE)
        cover.text(0.05, 0.92, result.title, fontsize=20, weight="bold")
        cover.text(0.05, 0.88, result.subtitle, fontsize=11, color="#5b6673")
        y = 0.84
        for part in textwrap.wrap(result.central, 150):
            cover.text(0.05, y, part, fontsize=9, weight="bold")
            y -= 0.03
        y -= 0.01
        for k, v in result.settings:
            cover.text(0.05, y, f"{k}: {v}"[:170], fontsize=8)
            y -= 0.03
        pdf.savefig(cover)
        if result.notes:  # their own page: with every section's notes they overflow a cover
            pdf.savefig(_notes_page("Notes", list(result.notes)))
        for chart in charts:
            fig = chart.figure
            fig.suptitle(chart.title, fontsize=11)
            pdf.savefig(_with_central(fig, result.central))
        beside = table_notes(result)
        for title, frame in display_tables(result):
            page = _table_page(title, frame, beside.get(title, ""))
            pdf.savefig(_with_central(page, result.central))
        if stress_notes(result.stress):
            title = "Stress tests: definitions and sources"
            pdf.savefig(_notes_page(title, stress_notes(result.stress)))
    return buf.getvalue()


def _with_central(fig: Figure, central: str) -> Figure:
    """``fig`` with the central case as its footer (every page that may use it)."""
    if central:
        fig.text(0.01, 0.003, central[:260], fontsize=5, color="#5b6673", va="bottom")
    return fig


def write_crypto_report(result: CryptoResearch, folder: str | os.PathLike[str]) -> Path:
    """Write ``crypto.html`` and ``crypto.pdf`` into ``folder`` (atomically, file by file)."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    charts = crypto_charts(result)
    write_text_atomic(target / "crypto.html", crypto_html(result, charts))
    write_bytes_atomic(target / "crypto.pdf", crypto_pdf(result, charts))
    return target
