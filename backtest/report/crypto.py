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
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from backtest.crypto.result import CryptoResearch
from backtest.io import write_bytes_atomic, write_text_atomic
from backtest.report.charts import PALETTE, WIDTH, Chart, style
from backtest.report.html import img_tag, page_head

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
    """Break-even log mean per (sleeve, vol, corr) read off the surface grid.

    Linear interpolation of the change in success between the two grid means around its
    first sign change (NaN when it does not change sign). Coarser than the bisection
    (``breakeven`` table), but available at every volatility of the grid.
    """
    rows = []
    for (s, v, c), g in surface.groupby(["sleeve", "vol_log", "corr"]):
        g = g.sort_values("mean_log")
        m = g["mean_log"].to_numpy()
        d = g["d_success"].to_numpy()
        mu = np.nan
        for i in range(len(m) - 1):
            if d[i] < 0 <= d[i + 1]:
                mu = m[i] + (m[i + 1] - m[i]) * (-d[i]) / (d[i + 1] - d[i])
                break
        if np.isnan(mu) and len(d) and d[0] >= 0:
            mu = -np.inf  # helps at every mean of the grid
        rows.append({"sleeve": s, "vol_log": v, "corr": c, "mean_log": mu})
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
                g = part[part["sleeve"] == s].pivot(
                    index="vol_log", columns="mean_log", values="d_success"
                )
                im = ax.imshow(
                    g.to_numpy() * 100,
                    origin="lower",
                    aspect="auto",
                    cmap="RdBu",
                    norm=TwoSlopeNorm(0.0, -lim * 100, lim * 100),
                )
                ax.set_xticks(range(g.shape[1]), [f"{m:.0%}" for m in g.columns], rotation=45)
                ax.set_yticks(range(g.shape[0]), [f"{v:.0%}" for v in g.index])
                ax.set_title(f"{s * 100:g}% sleeve")
                ax.set_xlabel("Bitcoin annual log mean")
                ax.set_ylabel("annual log volatility")
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
                    "adding the sleeve, for each assumed Bitcoin log mean and volatility, on "
                    "common random numbers."
                ),
                figure=fig,
            )
        )
    return charts


def break_even_chart(surface: pd.DataFrame, breakeven: pd.DataFrame) -> Chart | None:
    """Break-even arithmetic mean against volatility, a line per sleeve size."""
    if surface.empty and breakeven.empty:
        return None
    corr0 = breakeven["corr"].iloc[0] if len(breakeven) else surface["corr"].min()
    curve = surface_break_even(surface)
    curve = curve[(curve["corr"] == corr0) & np.isfinite(curve["mean_log"])]
    with style():
        fig = Figure(figsize=(WIDTH, 3.8), layout="constrained")
        ax = fig.subplots()
        for i, s in enumerate(sorted(set(curve["sleeve"]) | set(breakeven["sleeve"]))):
            colour = PALETTE[i % len(PALETTE)]
            c = curve[curve["sleeve"] == s].sort_values("vol_log")
            if len(c):
                arith = np.expm1(c["mean_log"] + 0.5 * c["vol_log"] ** 2)
                ax.plot(c["vol_log"] * 100, arith * 100, color=colour, label=f"{s * 100:g}% (grid)")
            b = breakeven[(breakeven["sleeve"] == s) & np.isfinite(breakeven["mean_log"])]
            if len(b):
                lo = np.expm1(b["ci_low"] + 0.5 * b["vol_log"] ** 2)
                hi = np.expm1(b["ci_high"] + 0.5 * b["vol_log"] ** 2)
                mid = b["arithmetic_mean"]
                ax.errorbar(
                    b["vol_log"] * 100,
                    mid * 100,
                    yerr=[(mid - lo) * 100, (hi - mid) * 100],
                    fmt="o",
                    color=colour,
                    capsize=3,
                    label=f"{s * 100:g}% (bisection, 95%)",
                )
        ax.set_xlabel("Bitcoin annual log volatility, %")
        ax.set_ylabel("break-even expected return, % a year")
        ax.axhline(0, color="#999999", lw=0.6)
        ax.legend(ncol=3)
    return Chart(
        key="break_even",
        title=f"Break-even Bitcoin expected return (correlation {corr0:g})",
        caption=(
            "The lognormal arithmetic mean exp(mu + sigma^2/2) - 1 at which the sleeve neither "
            "raises nor lowers the probability of success: lines interpolate the surface "
            "grid (they stop where the break-even lies below the grid's lowest mean), "
            "points are bisections on common random numbers with 95 % intervals."
        ),
        figure=fig,
    )


def risk_chart(risk: pd.DataFrame) -> Chart | None:
    """Sleeve's share of portfolio volatility and CVaR against the volatility assumption."""
    part = risk[risk["sleeve"] > 0]
    if part.empty:
        return None
    with style():
        fig = Figure(figsize=(WIDTH, 3.4), layout="constrained")
        axes = fig.subplots(1, 2)
        for i, s in enumerate(sorted(part["sleeve"].unique())):
            g = part[part["sleeve"] == s].sort_values("vol_log")
            for ax, col in zip(axes, ("vol_share", "cvar_share"), strict=True):
                ax.plot(
                    g["vol_log"] * 100,
                    g[col] * 100,
                    marker="o",
                    ms=3,
                    color=PALETTE[i % len(PALETTE)],
                    label=f"{s * 100:g}% sleeve",
                )
        axes[0].set_title("share of portfolio volatility")
        axes[1].set_title("share of portfolio CVaR (95 %)")
        for ax in axes:
            ax.set_xlabel("Bitcoin annual log volatility, %")
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


def crypto_charts(result: CryptoResearch) -> list[Chart]:
    """Every chart of the crypto section, in reading order."""
    out: list[Chart | None] = [
        *surface_charts(result.surface),
        break_even_chart(result.surface, result.breakeven),
        rules_chart(result.rules),
        risk_chart(result.risk),
        history_chart(result.btc_yearly),
    ]
    return [c for c in out if c is not None]


# --------------------------------------------------------------------------- tables


def _breakeven_table(be: pd.DataFrame) -> pd.DataFrame:
    """Break-even Bitcoin log means per sleeve and volatility, with their 95 % interval."""
    return pd.DataFrame(
        {
            "sleeve": [_pct(s, 1) for s in be["sleeve"]],
            "volatility": [_pct(v, 0) for v in be["vol_log"]],
            "break-even log mean": [_pct(m, 1, True) for m in be["mean_log"]],
            "95 % interval": [
                f"{_pct(a, 1, True)} .. {_pct(b, 1, True)}"
                for a, b in zip(be["ci_low"], be["ci_high"], strict=True)
            ],
            "expected return": [_pct(m, 1, True) for m in be["arithmetic_mean"]],
            "note": be["note"],
        }
    )


def _stress_table(st: pd.DataFrame) -> pd.DataFrame:
    """Success and median wealth (USD) before and after each stress."""
    return pd.DataFrame(
        {
            "strategy": st["strategy"],
            "shock": st["shock"],
            "success": [_pct(x) for x in st["success"]],
            "shocked": [_pct(x) for x in st["success_shocked"]],
            "change": [_pct(x, 1, True) for x in st["d_success"]],
            "median wealth": [_usd(x) for x in st["median_wealth"]],
            "shocked wealth": [_usd(x) for x in st["median_wealth_shocked"]],
        }
    )


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
            "volatility": [_pct(v, 0) for v in rk["vol_log"]],
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


def display_tables(result: CryptoResearch) -> list[tuple[str, pd.DataFrame]]:
    """The tables of the section, formatted as strings (title, frame)."""
    return [
        ("Break-even Bitcoin returns", _breakeven_table(result.breakeven)),
        ("Stress tests", _stress_table(result.stress)),
        ("Sleeve rules compared", _rules_table(result.rules)),
        ("Risk contribution of the sleeve", _risk_table(result.risk)),
        ("How Bitcoin's history is used", _history_options_table(result.history_options)),
        ("Historical window backtest", _window_table(result.window)),
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


def crypto_html(result: CryptoResearch, charts: list[Chart]) -> str:
    """The crypto section as one self-contained HTML page."""
    parts = [
        *page_head(result.title, result.subtitle),
        '<section id="crypto"><h2>Settings</h2><dl class="settings">',
        *(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in result.settings),
        "</dl>",
    ]
    for chart in charts:
        parts += [
            f"<h3>{escape(chart.title)}</h3>",
            f"<figure>{img_tag(chart)}<figcaption>{escape(chart.caption)}</figcaption></figure>",
        ]
    for title, frame in display_tables(result):
        parts += [f"<h3>{escape(title)}</h3>", _table_html(frame)]
    parts.append('<h2>Notes</h2><ul class="notes">')
    parts += [f"<li>{escape(n)}</li>" for n in result.notes]
    parts.append("</ul></section></body></html>")
    return "\n".join(parts)


def _table_page(title: str, frame: pd.DataFrame) -> Figure:
    fig = Figure(figsize=PAGE)
    fig.text(0.05, 0.94, title, fontsize=15, weight="bold", color="#1f4e79")
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
    """The crypto section as PDF bytes: cover with settings and notes, charts, tables."""
    buf = io.BytesIO()
    with style(), PdfPages(buf, metadata={"Title": result.title, "Creator": "glidelab"}) as pdf:
        cover = Figure(figsize=PAGE)
        cover.text(0.05, 0.92, result.title, fontsize=20, weight="bold")
        cover.text(0.05, 0.88, result.subtitle, fontsize=11, color="#5b6673")
        y = 0.82
        for k, v in result.settings:
            cover.text(0.05, y, f"{k}: {v}"[:170], fontsize=8)
            y -= 0.03
        y -= 0.02
        for n in result.notes:
            for i in range(0, len(n), 170):
                cover.text(0.05, y, n[i : i + 170], fontsize=8, color="#5b6673")
                y -= 0.025
        pdf.savefig(cover)
        for chart in charts:
            fig = chart.figure
            fig.suptitle(chart.title, fontsize=11)
            pdf.savefig(fig)
        for title, frame in display_tables(result):
            pdf.savefig(_table_page(title, frame))
    return buf.getvalue()


def write_crypto_report(result: CryptoResearch, folder: str | os.PathLike[str]) -> Path:
    """Write ``crypto.html`` and ``crypto.pdf`` into ``folder`` (atomically, file by file)."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    charts = crypto_charts(result)
    write_text_atomic(target / "crypto.html", crypto_html(result, charts))
    write_bytes_atomic(target / "crypto.pdf", crypto_pdf(result, charts))
    return target
