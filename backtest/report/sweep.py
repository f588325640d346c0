"""Charts of a sweep's table: a heat map for two swept axes, line charts for one.

Input is the tidy table ``glidelab.sweep`` writes (one row per grid point and scenario
set, with ``success_rate`` and ``success_se`` as decimals); this module only draws and
writes PNGs (through the Agg canvas, no pyplot state).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backtest.io import write_bytes_atomic
from backtest.report.charts import PALETTE, new_figure, pct_formatter, png_bytes, style

#: Two-sided 95 % normal quantile for the success bands.
Z95 = 1.959963984540054


def _label(v: object) -> str:
    return f"{v:g}" if isinstance(v, int | float) else str(v)


def success_heatmap(table: pd.DataFrame, x: str, y: str, scenarios: str) -> bytes:
    """PNG: success rate (percent) of one scenario set over two swept axes."""
    sub = table[table["scenarios"] == scenarios]
    grid = sub.pivot_table(index=y, columns=x, values="success_rate", aggfunc="first", sort=False)
    with style():
        fig, axes = new_figure(3.2 + 0.25 * len(grid.index))
        ax = axes.flat[0]
        im = ax.imshow(grid.to_numpy(), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(grid.columns)), [_label(v) for v in grid.columns])
        ax.set_yticks(range(len(grid.index)), [_label(v) for v in grid.index])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(f"Success rate, {scenarios} scenarios")
        ax.grid(False)
        for (i, j), v in np.ndenumerate(grid.to_numpy()):
            if np.isfinite(v):
                ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=7)
        fig.colorbar(im, ax=ax, format=pct_formatter(), shrink=0.8)
        return png_bytes(fig)


def success_lines(table: pd.DataFrame, x: str) -> bytes:
    """PNG: success rate against one swept axis, a line per scenario set, 95 % band."""
    with style():
        fig, axes = new_figure(3.2)
        ax = axes.flat[0]
        values = list(dict.fromkeys(table[x]))
        numeric = all(isinstance(v, int | float) for v in values)
        for k, (name, sub) in enumerate(table.groupby("scenarios", sort=False)):
            pos = sub[x].to_numpy(float) if numeric else [values.index(v) for v in sub[x]]
            p, se = sub["success_rate"].to_numpy(), sub["success_se"].to_numpy()
            colour = PALETTE[k % len(PALETTE)]
            ax.plot(pos, p, marker="o", color=colour, label=str(name))
            ax.fill_between(pos, p - Z95 * se, p + Z95 * se, color=colour, alpha=0.15, lw=0)
        if not numeric:
            ax.set_xticks(range(len(values)), [str(v) for v in values], rotation=30, ha="right")
        ax.set_xlabel(x)
        ax.set_ylabel("success rate")
        ax.yaxis.set_major_formatter(pct_formatter())
        ax.set_ylim(0, 1.02)
        ax.legend(frameon=False)
        ax.set_title("Success rate (band: 95 % sampling interval)")
        return png_bytes(fig)


def solve_lines(solve: pd.DataFrame, x: str) -> bytes:
    """PNG: the solved value (with its interval) against one swept axis."""
    with style():
        fig, axes = new_figure(3.2)
        ax = axes.flat[0]
        values = list(dict.fromkeys(solve[x]))
        numeric = all(isinstance(v, int | float) for v in values)
        pos = solve[x].to_numpy(float) if numeric else np.arange(len(solve))
        v = solve["value"].to_numpy(float)
        err = np.vstack([v - solve["ci_low"].to_numpy(float), solve["ci_high"].to_numpy(float) - v])
        ax.errorbar(pos, v, yerr=err, marker="o", color=PALETTE[0], capsize=3)
        if not numeric:
            ax.set_xticks(pos, [str(s) for s in solve[x]], rotation=30, ha="right")
        ax.set_xlabel(x)
        field, target = solve["field"].iloc[0], solve["target"].iloc[0]
        ax.set_ylabel(str(field))
        ax.set_title(f"{field} reaching {100 * target:g} % success (bars: interval)")
        return png_bytes(fig)


def write_sweep_charts(
    table: pd.DataFrame,
    axes: list[str],
    folder: Path,
    solve: pd.DataFrame | None = None,
    solve_axes: list[str] | None = None,
) -> list[Path]:
    """Write the charts that fit the number of swept axes; return their paths.

    One axis: ``success.png``; two: ``heatmap_<set>.png`` per scenario set (the first
    axis across, the second down); other counts draw nothing. A solve over one other
    axis: ``solve.png``.
    """
    out: list[Path] = []
    if solve is not None and solve_axes is not None and len(solve_axes) == 1:
        out.append(write_bytes_atomic(folder / "solve.png", solve_lines(solve, solve_axes[0])))
    if len(axes) == 1:
        out.append(write_bytes_atomic(folder / "success.png", success_lines(table, axes[0])))
    elif len(axes) == 2:
        for name in dict.fromkeys(table["scenarios"]):
            png = success_heatmap(table, axes[0], axes[1], str(name))
            out.append(write_bytes_atomic(folder / f"heatmap_{name}.png", png))
    return out
