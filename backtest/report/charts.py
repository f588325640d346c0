"""The tear sheet's figures, drawn with matplotlib's object API (no pyplot state).

Every function takes already-computed numbers from :class:`TearsheetData` and returns a
:class:`Chart` (title, one-sentence caption, figure) or ``None`` when its data is absent.
Figures are plain :class:`matplotlib.figure.Figure` objects: nothing is registered with
pyplot, so nothing leaks between reports; rendering goes through the Agg canvas.
Style is applied per figure inside :func:`style`, a ``rc_context`` that is restored on exit.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.dates import AutoDateLocator
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import Formatter, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from backtest.data import asset_label
from backtest.report.model import TearsheetData
from backtest.report.policy_map import policy_map_figure

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

#: Colour per strategy, in order: muted, print-safe, and twelve of them pairwise distinct
#: (a study of a dozen strategies never repeats a colour).
PALETTE = (
    "#1f4e79",  # navy
    "#c0504d",  # brick red
    "#4f8a3c",  # green
    "#8064a2",  # purple
    "#e08a1e",  # orange
    "#2a9d8f",  # teal
    "#7f7f7f",  # grey
    "#d16ba5",  # pink
    "#8c564b",  # brown
    "#5fa8d3",  # light blue
    "#a6a036",  # olive
    "#222222",  # near black
)
ASSET_PALETTE = ("#1f4e79", "#6a9fd4", "#c9a227", "#8d8d8d", "#4f8a3c", "#c0504d", "#8064a2")

_RC: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.edgecolor": "#666666",
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
    "text.parse_math": False,  # dollar signs are currency, not TeX
}

WIDTH = 9.0  # inches; one chart spans the report column


@contextmanager
def style() -> Iterator[None]:
    """The report's matplotlib style, restored on exit (no global state leaks)."""
    with mpl.rc_context(_RC):
        yield


@dataclass(frozen=True, eq=False)
class Chart:
    """One figure of the report with its title and a one-sentence caption."""

    key: str
    title: str
    caption: str
    figure: Figure


def png_bytes(fig: Figure, dpi: int = 130) -> bytes:
    """The figure as PNG bytes, rendered by the Agg canvas."""
    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def colours(names: list[str]) -> dict[str, str]:
    """A stable colour per strategy name, in display order."""
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


#: Success (decimal) below which a panel says in words that the money runs out.
FAILS_BELOW = 0.5

#: Most strategies drawn in colour in one panel; the rest are grey (or left to the tables).
MAX_SERIES = 6

#: Marks of the summary table that put a strategy in colour (best first after these).
HIGHLIGHT = frozenset({"optimised", "held today", "100 % equity", "best"})

#: Colour of the strategies not highlighted in a many-strategy panel.
GREY = "#c4c8cc"


def highlighted(data: TearsheetData, names: list[str], limit: int = MAX_SERIES) -> list[str]:
    """The strategies drawn in colour when a panel would hold more than ``limit``: those
    marked in the summary table (optimised, best, 100 % equity, held today), then the
    next best by the summary's order, up to ``limit - 1`` (one slot is the grey rest);
    every name when they fit."""
    if len(names) <= limit:
        return list(names)
    rows = data.summary.rows if data.summary is not None else ()
    marked = [r.name for r in rows if set(r.marks) & HIGHLIGHT and r.name in names]
    ranked = [r.name for r in rows if r.name in names]
    order = list(dict.fromkeys(marked + ranked + list(names)))
    keep = set(order[: limit - 1])
    return [n for n in names if n in keep]


def _plot_many(
    ax: Axes, frame: pd.DataFrame, shown: list[str], col: dict[str, str], lw: float
) -> None:
    """Every column of ``frame``: the ``shown`` ones in their colour and labelled, the
    others thin and grey underneath, labelled once as the rest."""
    rest = [n for n in frame.columns if n not in shown]
    for i, name in enumerate(rest):
        label = f"other strategies ({len(rest)}, grey)" if i == 0 else None
        ax.plot(frame.index, frame[name], color=GREY, lw=0.7, label=label, zorder=1)
    for name in shown:
        ax.plot(frame.index, frame[name], color=col[name], lw=lw, label=name, zorder=2)


def _grey_note(data: TearsheetData, names: list[str]) -> str:
    shown = highlighted(data, names)
    if len(shown) == len(names):
        return ""
    return (
        f" In colour the {len(shown)} strategies marked or best in the summary table; the "
        f"other {len(names) - len(shown)} in grey (each one's figures are in the tables)."
    )


def new_figure(
    height: float, ncols: int = 1, nrows: int = 1, **kw: Any
) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


_MINUS = "\u2212"


class AdaptiveFormatter(Formatter):
    """Tick labels with just enough decimals that every label is exact and distinct.

    ``scale`` multiplies the value (100 for percentages), ``prefix``/``suffix`` wrap it;
    ``units`` (``((1e6, "m"), (1e3, "k"))`` for dollars) picks one unit for the whole axis
    from its largest tick, so an axis never mixes "$500k" and "$1.0m". All labels of an
    axis share one number of decimals (0 to 4), the fewest that shows every tick exactly,
    so a narrow range (-21.5 % to -24 %) never prints "-22%" three times.
    """

    def __init__(
        self,
        scale: float = 1.0,
        prefix: str = "",
        suffix: str = "",
        units: tuple[tuple[float, str], ...] = (),
    ) -> None:
        self.scale, self.prefix, self.suffix, self.units = scale, prefix, suffix, units
        self.decimals = 0
        self.divisor, self.unit = 1.0, ""

    def set_locs(self, locs: object) -> None:
        ticks = np.asarray(locs, dtype=np.float64).ravel()
        vals = ticks[np.isfinite(ticks)] * self.scale
        top = float(np.max(np.abs(vals))) if vals.size else 0.0
        self.divisor, self.unit = 1.0, ""
        for div, name in self.units:
            if top >= div:
                self.divisor, self.unit = div, name
                break
        vals = vals / self.divisor
        self.decimals = 4
        for d in range(5):
            exact = np.allclose(np.round(vals, d), vals, rtol=0, atol=10.0 ** -(d + 3))
            if exact and len(set(np.round(vals, d))) == len(set(vals)):
                self.decimals = d
                break

    def __call__(self, x: float, pos: int | None = None) -> str:
        v = x * self.scale / self.divisor
        if v == 0:
            return f"{self.prefix}0{self.suffix}"  # "$0", "0%": zero needs no unit
        text = f"{abs(v):,.{self.decimals}f}"
        sign = _MINUS if v < 0 and float(text.replace(",", "")) != 0 else ""
        return f"{sign}{self.prefix}{text}{self.unit}{self.suffix}"


def pct_formatter() -> AdaptiveFormatter:
    """Decimal values shown as percentages (0.05 -> "5%")."""
    return AdaptiveFormatter(scale=100.0, suffix="%")


def usd_formatter() -> AdaptiveFormatter:
    """Dollar amounts with one unit per axis ("$0", "$0.5m", "$1.0m" ...)."""
    return AdaptiveFormatter(prefix="$", units=((1e6, "m"), (1e3, "k")))


def _pct_axis(ax: Axes, axis: str = "y") -> None:
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(pct_formatter())


def _renderer(fig: Figure) -> RendererAgg:
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    return canvas.get_renderer()


def fit_legend(
    fig: Figure,
    handles: list[Artist],
    labels: list[str],
    max_cols: int = 6,
    **kw: object,
) -> Legend | None:
    """A figure legend below the axes with as many columns as fit the figure's width.

    Tries 1, 2, 3 ... rows (columns balanced so rows are evenly filled) and keeps the
    first layout whose width fits inside the figure with a small margin, so no label is
    ever cut at the image's edges.
    """
    if not handles:
        return None
    n = len(labels)
    renderer = _renderer(fig)
    limit = fig.bbox.width * 0.98
    legend = None
    for rows in range(max(1, math.ceil(n / max_cols)), n + 1):
        ncol = math.ceil(n / rows)
        if legend is not None:
            legend.remove()
        legend = fig.legend(
            handles, labels, loc="outside lower center", ncol=ncol, handlelength=1.6, **kw
        )
        if legend.get_window_extent(renderer).width <= limit:
            break
    return legend


def _legend(fig: Figure, ax: Axes, ncol: int | None = None) -> None:
    handles, labels = ax.get_legend_handles_labels()
    fit_legend(fig, handles, labels, max_cols=ncol or 6)


def _date_axis(ax: Axes) -> None:
    """At most seven date ticks, so narrow panels never overprint year labels."""
    ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=7))


def _grid_shape(n: int, max_cols: int = 3) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def _hide_unused(axes: np.ndarray, n: int) -> None:
    for ax in axes.flat[n:]:
        ax.set_visible(False)


# --------------------------------------------------------------------------- charts


def growth_chart(data: TearsheetData) -> Chart | None:
    """Growth of 1, log scale, nominal and real side by side."""
    if data.growth is None or data.growth.empty:
        return None
    panels = [("Nominal", data.growth)]
    if data.growth_real is not None and not data.growth_real.empty:
        panels.append(("Real (inflation-adjusted)", data.growth_real))
    names = [str(c) for c in data.growth.columns]
    shown = highlighted(data, names)
    col = colours(shown)
    fig, axes = new_figure(4.0, ncols=len(panels), sharey=False)
    for ax, (label, frame) in zip(axes.flat, panels, strict=True):
        _plot_many(ax, frame, shown, col, 1.3)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(_growth_label))
        ax.yaxis.set_minor_formatter(NullFormatter())
        lo, hi = float(frame.min().min()), float(frame.max().max())
        decades = np.log10(max(hi, 1e-9) / max(lo, 1e-9))
        ax.yaxis.set_major_locator(LogLocator(10, subs=(1.0, 2.0, 5.0) if decades < 2 else (1.0,)))
        _date_axis(ax)
        ax.set_title(label, loc="left")
        ax.set_xlabel("Year")
        ax.set_ylabel("Value of $1 invested (USD, log scale)")
    _legend(fig, axes.flat[0])
    start = data.growth.index[0]
    caption = (
        f"Value of $1 invested at the end of {start:%b %Y} in each strategy, after fees and "
        "trading costs, in nominal dollars and in dollars of the start date."
    ) + _grey_note(data, names)
    return Chart("growth", "Growth of $1", caption, fig)


def drawdown_chart(data: TearsheetData) -> Chart | None:
    """Underwater plot of nominal drawdowns."""
    if data.drawdown is None or data.drawdown.empty:
        return None
    names = [str(c) for c in data.drawdown.columns]
    shown = highlighted(data, names)
    col = colours(shown)
    fig, axes = new_figure(3.4)
    ax = axes[0, 0]
    _plot_many(ax, data.drawdown, shown, col, 1.1)
    # columns are strategy names; the shaded one is among those in colour
    worst = cast(str, data.drawdown[shown].min().idxmin())
    ax.fill_between(
        data.drawdown.index, data.drawdown[worst], 0, color=col[worst], alpha=0.12, lw=0
    )
    _pct_axis(ax)
    _date_axis(ax)
    ax.set_xlabel("Year")
    ax.set_ylabel("Drawdown from previous peak (%)")
    _legend(fig, ax)
    caption = (
        "How far each strategy's nominal value stood below its previous high at each period "
        f"end; the shaded area is the strategy in colour with the deepest fall ({worst})."
    ) + _grey_note(data, names)
    return Chart("drawdown", "Drawdowns (underwater)", caption, fig)


def rolling_chart(data: TearsheetData) -> Chart | None:
    """Rolling annualised return (top row) and volatility (bottom row) per window."""
    windows = [w for w in data.rolling_return if not data.rolling_return[w].dropna(how="all").empty]
    if not windows:
        return None
    names = [str(c) for c in data.rolling_return[windows[0]].columns]
    shown = highlighted(data, names)
    col = colours(shown)
    fig, axes = new_figure(5.6, ncols=len(windows), nrows=2, sharex=True)
    for j, w in enumerate(windows):
        for i, (what, frames) in enumerate(
            (("return", data.rolling_return), ("volatility", data.rolling_volatility))
        ):
            ax = axes[i, j]
            frame = frames.get(w)
            if frame is None:
                ax.set_visible(False)
                continue
            _plot_many(ax, frame, shown, col, 1.0)
            _pct_axis(ax)
            _date_axis(ax)
            ax.set_title(f"Trailing {w} {what}", loc="left")
            ax.set_ylabel(f"Annualised {what} (% a year)")
            ax.set_xlabel("Year (end of window)")
            ax.tick_params(labelbottom=True)
        axes[0, j].axhline(0, color="#666666", lw=0.6)
    _legend(fig, axes[0, 0])
    caption = (
        "Annualised nominal return (top) and volatility (bottom) over trailing windows, "
        "plotted at each window's end: how steady each strategy's experience was."
    ) + _grey_note(data, names)
    return Chart("rolling", "Rolling return and volatility", caption, fig)


def annual_returns_chart(data: TearsheetData) -> Chart | None:
    """Calendar-year returns: grouped bars for short histories, a heat strip for long ones."""
    frame = data.annual_returns
    if frame is None or frame.empty:
        return None
    names = list(frame.columns)
    col = colours(names)
    years = np.asarray(frame.index, dtype=np.int64)
    if len(years) * len(names) <= 160:
        fig, axes = new_figure(3.8)
        ax = axes[0, 0]
        width = 0.8 / len(names)
        for k, name in enumerate(names):
            x = years + (k - (len(names) - 1) / 2) * width
            ax.bar(x, frame[name], width=width, color=col[name], label=name)
        ax.axhline(0, color="#666666", lw=0.6)
        _pct_axis(ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("Calendar year")
        ax.set_ylabel("Return in the year (%)")
        _legend(fig, ax)
        shown = "bars"
    else:
        fig, axes = new_figure(0.9 + 0.38 * len(names))
        ax = axes[0, 0]
        values = frame.T.to_numpy(dtype=np.float64)
        lim, clipped = heatmap_limit(values)
        cmap = LinearSegmentedColormap.from_list("rg", ["#b2182b", "#f7f7f7", "#2166ac"])
        im = ax.imshow(
            values,
            aspect="auto",
            cmap=cmap,
            vmin=-lim,
            vmax=lim,
            interpolation="nearest",
            extent=(years[0] - 0.5, years[-1] + 0.5, len(names) - 0.5, -0.5),
        )
        ax.set_yticks(range(len(names)), names)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(False)
        ax.set_xlabel("Calendar year")
        ax.set_ylabel("Strategy")
        finite = values[np.isfinite(values)]
        extend = {
            (False, False): "neither",
            (True, False): "min",
            (False, True): "max",
            (True, True): "both",
        }[(bool(np.any(finite < -lim)), bool(np.any(finite > lim)))]
        cb = fig.colorbar(im, ax=ax, pad=0.01, fraction=0.03, extend=extend)
        cb.ax.yaxis.set_major_formatter(pct_formatter())
        cb.set_label("Return in the year (%)")
        shown = "colours (blue gains, red losses)"
        if clipped:
            shown += (
                f", on a scale capped at \u00b1{lim * 100:.0f}% (the "
                f"{HEATMAP_QUANTILE * 100:.0f}th percentile of |return| over all cells, rounded "
                f"up) so that extreme years do not wash out the rest: the {clipped} "
                f"cell{'s' if clipped > 1 else ''} beyond it take the end colours (arrows on "
                "the colour bar)"
            )
    caption = (
        f"Nominal return of each calendar year {years[0]}\u2013{years[-1]} after fees, shown "
        f"as {shown}; only complete years are included."
    )
    return Chart("annual", "Calendar-year returns", caption, fig)


#: Quantile of |calendar-year return| across all cells that caps the heat map's colours.
HEATMAP_QUANTILE = 0.98


def heatmap_limit(values: np.ndarray, quantile: float = HEATMAP_QUANTILE) -> tuple[float, int]:
    """Symmetric colour limit for decimal returns and how many cells lie beyond it.

    The ``quantile`` of |return| over every finite cell, rounded up to a whole 5 % (at
    least 5 %), so one extreme year (a Bitcoin sleeve's +300 %) cannot wash out every
    other cell; the count is the number of cells whose |return| exceeds the limit.
    """
    a = np.abs(values[np.isfinite(values)])
    if not a.size or float(a.max()) == 0.0:
        return 1.0, 0
    q = float(np.quantile(a, quantile))
    lim = math.ceil(q * 20 - 1e-9) / 20 if q > 0 else float(a.max())
    lim = max(lim, 0.05)
    if float(a.max()) <= lim:
        return lim, 0
    return lim, int(np.sum(a > lim))


def glide_path_chart(data: TearsheetData) -> Chart | None:
    """Stacked area of target weights by age, one panel per strategy."""
    paths = [g for g in data.glide_paths if not g.weights.empty]
    if not paths:
        return None
    rows, cols = _grid_shape(len(paths))
    fig, axes = new_figure(2.9 * rows + 0.5, ncols=cols, nrows=rows, sharey=True)
    assets: list[str] = list(dict.fromkeys(a for g in paths for a in g.weights.columns))
    acol = {a: ASSET_PALETTE[i % len(ASSET_PALETTE)] for i, a in enumerate(assets)}
    for ax, g in zip(axes.flat, paths, strict=False):
        w = g.weights
        ages = w.index.to_numpy(dtype=np.float64)
        end = float(ages[-1]) if g.end_age is None else float(g.end_age)
        # The last row is held until the plan's end: one more point at end_age.
        x = np.append(ages, end) if end > ages[-1] else ages
        ax.stackplot(
            x,
            [np.append(w[a].to_numpy(), w[a].iloc[-1])[: len(x)] for a in w.columns],
            labels=list(w.columns),
            colors=[acol[a] for a in w.columns],
            alpha=0.9,
            lw=0,
        )
        ax.axvline(g.retirement_age, color="black", lw=0.8, ls="--")
        ax.set_ylim(0, 1)
        ax.set_xlim(float(x[0]), float(x[-1]))
        _pct_axis(ax)
        ax.set_title(g.name, loc="left")
        ax.set_xlabel("Age (years)")
        ax.set_ylabel("Target weight (%)")
        ax.grid(False)
    _hide_unused(axes, len(paths))
    handles: list[Artist] = [Patch(color=acol[a]) for a in assets]
    # display names live on the series metadata (backtest.data), legends read better
    fit_legend(fig, handles, [asset_label(a) for a in assets], max_cols=7)
    first = paths[0].weights.index
    end = paths[0].end_age if paths[0].end_age is not None else float(first[-1])
    caption = (
        f"Target weight of each asset class by the member's age, over the plan's ages "
        f"{float(first[0]):g}\u2013{end:g}; the dashed line marks retirement at age "
        f"{paths[0].retirement_age:g}."
    )
    return Chart("glide", "Glide paths: target weights by age", caption, fig)


def _fan_top(p: pd.DataFrame) -> float:
    """Top of a fan panel's wealth axis: the whole 5th-95th band unless it runs far above
    the 75th percentile, then 1.6 x the 75th percentile's peak (the median always fits)."""
    p95, p75 = float(np.nanmax(p[95])), float(np.nanmax(p[75]))
    top = min(p95, 1.6 * p75) if p75 > 0 else p95
    return max(top, float(np.nanmax(p[50])), 1.0) * 1.05


def fan_chart(data: TearsheetData) -> Chart | None:
    """Monte Carlo wealth percentiles by age, one panel per strategy (own wealth scale)."""
    every = [f for f in data.fans if not f.percentiles.empty]
    if not every:
        return None
    keep = highlighted(data, [f.name for f in every], MAX_SERIES + 1)
    fans = [f for f in every if f.name in keep]
    rows, cols = _grid_shape(len(fans), max_cols=2)
    fig, axes = new_figure(2.8 * rows + 0.5, ncols=cols, nrows=rows, sharey=False)
    col = colours([f.name for f in fans])
    clipped = False
    for ax, f in zip(axes.flat, fans, strict=False):
        p = f.percentiles
        age = p.index.to_numpy(dtype=np.float64)
        c = col[f.name]
        ax.fill_between(age, p[5], p[95], color=c, alpha=0.15, lw=0, label="5th\u201395th")
        ax.fill_between(age, p[25], p[75], color=c, alpha=0.35, lw=0, label="25th\u201375th")
        ax.plot(age, p[50], color=c, lw=1.5, label="median")
        ax.axvline(f.retirement_age, color="black", lw=0.8, ls="--", label="retirement")
        ax.set_title(f.name, loc="left")
        top = _fan_top(p)
        clipped |= bool(float(np.nanmax(p[95])) > top)
        ax.set_ylim(0, top)
        ax.set_xlim(float(age[0]), float(age[-1]))
        at_ret = float(np.interp(f.retirement_age, age, p[50].to_numpy(dtype=np.float64)))
        usd = usd_formatter()
        lines = [
            f"median {_money(at_ret)} at {f.retirement_age:g}, "
            f"{_money(float(p[50].iloc[-1]))} at {age[-1]:g}"
        ]
        if f.success_rate is not None:
            lines.insert(0, f"success {f.success_rate * 100:.0f}%")
            if f.success_rate < FAILS_BELOW:
                lines.append(
                    f"the money runs out in {(1 - f.success_rate) * 100:.0f}% of scenarios\n"
                    "(why: see the summary table)"
                )
        ax.text(
            0.02,
            0.96,
            "\n".join(lines),
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            color="#333333",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5},
        )
        ax.set_xlabel("Age (years)")
        ax.set_ylabel("Wealth (real USD)")
        ax.yaxis.set_major_formatter(usd)
    _hide_unused(axes, len(fans))
    _legend(fig, axes[0, 0], ncol=4)
    caption = (
        "Percentiles of the member's account across Monte Carlo scenarios in dollars of the "
        "start date (bands: 5th\u201395th and 25th\u201375th; line: median; dashed line: "
        "retirement); each panel has its own wealth scale so every strategy's median stays "
        "readable, so compare strategies by the success rate and medians printed in each panel"
        + (
            " (where the 95th percentile runs far above the 75th the scale stops at 1.6\u00d7 "
            "the 75th percentile's peak and the top of the light band is cut)."
            if clipped
            else "."
        )
    )
    if len(fans) < len(every):
        left = ", ".join(f.name for f in every if f.name not in keep)
        caption += (
            f" Panels for the {len(fans)} strategies marked or best in the summary table; "
            f"not drawn: {left} (their figures are in the tables)."
        )
    return Chart("fan", "Monte Carlo wealth by age", caption, fig)


def _growth_label(v: float, _: object = None) -> str:
    return f"${v:,.0f}" if v >= 1 else f"${v:.2g}"


def _money(v: float) -> str:
    """A dollar amount in a short label: $850k, $1.2m, $0."""
    a = abs(v)
    if a >= 1e6:
        return f"${v / 1e6:.1f}m"
    if a >= 1e3:
        return f"${v / 1e3:.0f}k"
    return f"${v:.0f}"


def _year_ticks(labels: list[str], max_ticks: int = 8) -> list[int]:
    """Positions of the tick labels to show: round years (every 5, 10, 20 ...) when the
    labels are years, else an even stride; at most ``max_ticks``."""
    try:
        years = [int(x) for x in labels]
    except ValueError:
        step = max(1, math.ceil(len(labels) / max_ticks))
        return list(range(0, len(labels), step))
    span = max(years) - min(years) + 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100):
        if span / step <= max_ticks:
            break
    return [i for i, y in enumerate(years) if y % step == 0]


#: Colours of the cohort bars (and, identically, of their legend swatches).
LASTED, RAN_OUT = "#4f8a3c", "#c0504d"


def cohort_chart(data: TearsheetData) -> Chart | None:
    """Terminal wealth by start year, coloured by success or failure, per strategy.

    Each panel has its own wealth axis: one strategy's extreme outcomes (a Bitcoin sleeve's
    $30m) would otherwise flatten every other panel.
    """
    c = data.cohorts
    if c is None or c.terminal_wealth.empty:
        return None
    every = [str(n) for n in c.terminal_wealth.columns]
    names = highlighted(data, every, MAX_SERIES + 1)
    rows, cols = _grid_shape(len(names), max_cols=2)
    fig, axes = new_figure(2.5 * rows + 0.6, ncols=cols, nrows=rows, sharey=False)
    labels = [str(x) for x in c.terminal_wealth.index]
    x = np.arange(len(labels))
    ticks = _year_ticks(labels)
    for ax, name in zip(axes.flat, names, strict=False):
        tw = c.terminal_wealth[name].to_numpy(dtype=np.float64)
        ok = c.success[name].to_numpy(dtype=bool)
        ax.bar(x[ok], tw[ok], color=LASTED, width=0.85)
        ax.bar(x[~ok], np.maximum(tw[~ok], 0), color=RAN_OUT, width=0.85)
        ax.scatter(x[~ok], np.zeros((~ok).sum()), color=RAN_OUT, marker="^", s=16, zorder=3)
        ax.set_xticks(x[ticks], [labels[i] for i in ticks])
        ax.set_xlim(-0.7, len(labels) - 0.3)
        top = float(np.nanmax(tw)) if np.isfinite(tw).any() else 0.0
        ax.set_ylim(0, top * 1.2 if top > 0 else 1.0)  # headroom for the text
        if top <= 0:
            ax.set_yticks([0])
        ax.set_title(name, loc="left")
        ax.text(
            0.02,
            0.96,
            f"{ok.mean() * 100:.0f}% of cohorts succeed; median {_money(float(np.median(tw)))}",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            color="#333333",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5},
        )
        ax.set_xlabel("Cohort start year")
        ax.set_ylabel("Terminal wealth (real USD)")
        ax.yaxis.set_major_formatter(usd_formatter())
    _hide_unused(axes, len(names))
    handles: list[Artist] = [
        Patch(color=LASTED),
        (
            Patch(color=RAN_OUT),
            Line2D([], [], color=RAN_OUT, marker="^", ls="none", markersize=5),
        ),  # type: ignore[list-item]
    ]
    fit_legend(fig, handles, ["money lasted", "ran out (marker at $0)"])
    caption = (
        "Real wealth left at the end of the plan for each historical start year, green where "
        "every withdrawal was paid and red (a marker at $0) where the money ran out; each "
        "panel has its own wealth scale, so compare heights within a panel and the printed "
        "success rates and medians across panels."
    )
    if len(names) < len(every):
        left = ", ".join(n for n in every if n not in names)
        caption += (
            f" Panels for the {len(names)} strategies marked or best in the summary table; "
            f"not drawn: {left} (their figures are in the tables)."
        )
    return Chart("cohorts", "Historical cohorts by start year", caption, fig)


def success_heatmap(data: TearsheetData) -> Chart | None:
    """Success probability by withdrawal rate (x) and mix (y)."""
    g = data.success_grid
    if g is None or g.probabilities.empty:
        return None
    p = g.probabilities
    fig, axes = new_figure(0.8 + 0.42 * len(p.index) + 0.6)
    ax = axes[0, 0]
    cmap = LinearSegmentedColormap.from_list("succ", ["#b2182b", "#fddbc7", "#f7f7f7", "#2166ac"])
    im = ax.imshow(p.to_numpy(dtype=np.float64), aspect="auto", cmap=cmap, vmin=0, vmax=1)
    ax.set_xticks(range(len(p.columns)), [f"{float(r) * 100:.1f}%" for r in p.columns])
    ax.set_yticks(range(len(p.index)), [str(i) for i in p.index])
    ax.grid(False)
    for (i, j), v in np.ndenumerate(p.to_numpy(dtype=np.float64)):
        if np.isfinite(v):
            ax.text(
                j,
                i,
                f"{v * 100:.0f}",
                ha="center",
                va="center",
                fontsize=7.5,
                color="white" if v > 0.85 or v < 0.15 else "#222222",
            )
    ax.set_xlabel("Initial withdrawal rate (% of the balance at retirement, real)")
    ax.set_ylabel("Portfolio mix")
    cb = fig.colorbar(im, ax=ax, pad=0.01, fraction=0.04)
    cb.ax.yaxis.set_major_formatter(pct_formatter())
    cb.set_label("Probability of success (%)")
    caption = (
        "Share of scenarios in which the money lasts, for each mix and initial withdrawal "
        "rate (numbers in %)" + (f"; {g.description}." if g.description else ".")
    )
    return Chart("heatmap", "Success probability by withdrawal rate and mix", caption, fig)


def funded_ratio_chart(data: TearsheetData) -> Chart | None:
    """Funded ratio at retirement per strategy: one percentile strip a strategy (whisker
    5th-95th, box 25th-75th, tick at the median) and the share fully funded."""
    f = data.funded_ratios
    if f is None or not f.ratios:
        return None
    names = list(f.ratios)
    col = colours(names)
    q = {
        n: np.nanquantile(np.asarray(v, dtype=np.float64), (0.05, 0.25, 0.5, 0.75, 0.95))
        for n, v in f.ratios.items()
        if np.isfinite(np.asarray(v, dtype=np.float64)).any()
    }
    if not q:
        return None
    names = [n for n in names if n in q]
    fig, axes = new_figure(0.9 + 0.32 * len(names))
    ax = axes[0, 0]
    for i, name in enumerate(names):
        q5, q25, q50, q75, q95 = q[name]
        c = col[name]
        ax.hlines(i, q5, q95, color=c, lw=1.2)
        ax.barh(i, q75 - q25, left=q25, height=0.55, color=c, alpha=0.35, edgecolor=c, lw=0.8)
        ax.vlines(q50, i - 0.3, i + 0.3, color=c, lw=2.2)
        ok = float(np.mean(np.asarray(f.ratios[name], dtype=np.float64) >= f.threshold))
        ax.text(
            1.01,
            i,
            f"{ok * 100:.0f}%",
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=8,
            color="#333333",
        )
    ax.text(
        1.01,
        -0.8,
        f"% \u2265 {f.threshold:g}",
        transform=ax.get_yaxis_transform(),
        va="center",
        fontsize=8,
        weight="bold",
        color="#333333",
    )
    ax.axvline(f.threshold, color="black", lw=0.8, ls="--")
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -1.2)
    ax.set_xlim(left=0)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("Funded ratio at retirement (balance / cost of the target income, \u00d7)")
    ax.set_ylabel("Strategy")
    caption = (
        "Balance at retirement divided by the cost of the target income, across scenarios: "
        "whiskers span the 5th\u201395th percentiles, boxes the 25th\u201375th, the tick "
        f"is the median; right of the dashed line ({f.threshold:g}) the member is fully "
        "funded, and the column on the right gives the share of scenarios that are."
    )
    if f.target:
        caption += (
            f" Target income: {f.target}; its cost is the balance that buys it at "
            "retirement (the annuity factor times the income)."
        )
    return Chart("funded", "Funded ratio at retirement", caption, fig)


def sleeve_chart(data: TearsheetData) -> Chart | None:
    """Sleeve size against Sharpe, maximum drawdown and success probability."""
    s = data.sleeve
    if s is None or s.table.empty:
        return None
    t = s.table
    x = t.index.to_numpy(dtype=np.float64)
    panels = [
        ("sharpe", "Sharpe ratio (annualised)", False),
        ("max_drawdown", "Maximum drawdown (%)", True),
        ("success", "Probability of success (%)", True),
    ]
    panels = [p for p in panels if p[0] in t.columns and t[p[0]].notna().any()]
    fig, axes = new_figure(3.2, ncols=len(panels))
    for ax, (key, label, pct) in zip(axes.flat, panels, strict=True):
        ax.plot(x, t[key], marker="o", color="#e08a1e", lw=1.5)
        _pct_axis(ax, "x")
        if pct:
            _pct_axis(ax)
        ax.set_xlabel("Crypto sleeve (% of the portfolio)")
        ax.set_ylabel(label)
        ax.set_title(label.split(" (")[0], loc="left")
    base = f" added to {s.base_name}" if s.base_name else ""
    period = f" on the monthly history {s.period}" if s.period else ""
    caption = (
        f"How the Sharpe ratio and the deepest drawdown{period} and the probability of "
        f"success change with the size of the Bitcoin sleeve{base}."
    )
    if "success" in [k for k, _, _ in panels]:
        on = f" on {s.success_on}" if s.success_on else ""
        caption += f" Success: the member simulated{on}."
    if s.caveat:
        caption += f" {s.caveat}"
    return Chart("sleeve", "Crypto sleeve size", caption, fig)


def policy_map_chart(data: TearsheetData) -> Chart | None:
    """An adaptive policy's equity share and promised success over age x wealth."""
    p = data.policy_map
    if p is None:
        return None

    fig = policy_map_figure(
        p.policy, p.equity_assets, p.band, axis=p.axis, y_max=p.y_max, title=p.policy.name
    )
    caption = (
        "Left: the equity share the adaptive policy holds at each age and state; right: the "
        "value its solver promises from there (the probability of success, or for a CE "
        "policy the certainty-equivalent income, real USD a year); lines: the simulated "
        "median and 10th-90th percentiles of wealth."
    )
    return Chart("policy_map", "Adaptive policy map", caption, fig)


CHARTS: tuple[Callable[[TearsheetData], Chart | None], ...] = (
    growth_chart,
    drawdown_chart,
    rolling_chart,
    annual_returns_chart,
    glide_path_chart,
    fan_chart,
    cohort_chart,
    success_heatmap,
    funded_ratio_chart,
    sleeve_chart,
    policy_map_chart,
)


def build_charts(data: TearsheetData) -> list[Chart]:
    """Every chart whose data is present, in report order."""
    out = []
    with style():
        for make in CHARTS:
            chart = make(data)
            if chart is not None:
                out.append(chart)
    return out
