"""The policy map of an adaptive glide path: what it holds, and what it promises, by state.

Two heat maps over age (x) and the member's state (y: real wealth, or funded ratio):
the equity share the policy holds at each node, and beside it what the solver promises
from that node: the success probability, or for a policy that maximises
certainty-equivalent (CE) income (:func:`promises_income`) the CE income, real USD a
year. The median wealth path of a simulation and its
10-90 percentile band are drawn over both, so a reader sees where members actually are.

The go-for-broke region (:func:`go_for_broke_region`) is hatched on both maps: the states
where the member is underfunded and the policy holds more equity the poorer she is, the
gamble a success-probability objective takes. :func:`share_of_paths_in_region` counts the
simulated paths that pass through it. Numbers arrive as arrays; beside those two
read-outs of the table, this module only draws.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backtest.types import BoolArray, FloatArray
from strategies.adaptive import AdaptivePolicy


@dataclass(frozen=True)
class WealthBand:
    """Percentiles of simulated real wealth at the start of each plan year, (n_years,) each."""

    p10: FloatArray
    p50: FloatArray
    p90: FloatArray
    label: str = "simulated"


@dataclass(frozen=True)
class PolicyMapData:
    """The tear sheet's policy-map section: the table, which assets are equity, the band.

    ``axis`` is ``"wealth"`` or ``"funded_ratio"`` (default the policy's ``state``);
    ``y_max`` the top of the y axis in its units (default from the band).
    """

    policy: AdaptivePolicy
    equity_assets: tuple[str, ...]
    band: WealthBand | None = None
    axis: str | None = None
    y_max: float | None = None


#: Caption of the hatched region, for the figure and the reports that show it.
GO_FOR_BROKE_CAPTION = (
    "Hatched: the go-for-broke region, where the member is underfunded (funded ratio "
    "below 1) and the policy holds its highest equity share of that age, more than it "
    "holds for richer members (equity rises as wealth falls): it gambles on reaching the "
    "goal, which deepens the failures it does not avoid."
)


#: Words in an :class:`AdaptivePolicy`'s ``objective`` that mark a CE-income policy, whose
#: ``value`` table holds CE incomes (real USD a year) rather than probabilities.
CE_OBJECTIVE_MARK = "certainty-equivalent income"


def promises_income(policy: AdaptivePolicy) -> bool:
    """True when ``policy.value`` holds CE incomes (USD a year), not probabilities."""
    return CE_OBJECTIVE_MARK in policy.objective


def _value_panel(policy: AdaptivePolicy) -> tuple[FloatArray, str, str, tuple[float, float], str]:
    """The right map: values, label, colour map, range and hatch ink."""
    if promises_income(policy):
        z = np.asarray(policy.value) / 1e3
        top = float(np.nanmax(z)) if z.size else 1.0
        label = "CE income promised from here (thousand real USD a year)"
        return z, label, "magma", (0.0, max(top, 1e-9)), "white"
    return policy.value, "success probability promised from here", "magma", (0.0, 1.0), "white"


def go_for_broke_region(
    policy: AdaptivePolicy,
    equity_assets: Sequence[str],
    *,
    tol: float = 0.01,
    funded_below: float | None = 1.0,
    peak_only: bool = True,
) -> BoolArray:
    """The nodes where the policy raises equity as wealth falls, (n_years, n_states).

    Within each year, walking the wealth grid down from the top: a node rises when its
    equity share exceeds that of the next richer node by more than ``tol`` (decimal), or
    equals it within ``tol`` while that richer node rises (a plateau reached by a rise,
    such as 100 % equity held while underfunded); where equity falls as wealth falls,
    the rise ends. With ``peak_only`` (default) only rising nodes that hold the year's
    highest equity share (within ``tol``) count: the most risk the policy takes at that
    age, taken because the member is poorer (``False`` keeps the whole rising slope).
    With ``funded_below`` (default 1) only nodes whose funded ratio, (wealth + PV
    contributions) / PV spending, is below it count (years without spending to fund
    count none); ``None`` keeps every node.
    """
    eq = policy.equity_share(tuple(equity_assets))
    region = np.zeros(eq.shape, dtype=bool)
    for j in range(eq.shape[1] - 2, -1, -1):  # from the next-to-top node down
        rise = eq[:, j] - eq[:, j + 1]
        region[:, j] = (rise > tol) | ((np.abs(rise) <= tol) & region[:, j + 1])
    if peak_only:
        region &= eq >= eq.max(axis=1, keepdims=True) - tol
    if funded_below is not None:
        spend = policy.spending_pv[:, None]
        funded = np.divide(
            policy.wealth_grid + policy.contribution_pv[:, None],
            spend,
            out=np.full(eq.shape, np.inf),
            where=spend > 0,
        )
        region &= funded < funded_below
    return region


def share_of_paths_in_region(
    policy: AdaptivePolicy, region: BoolArray, wealth: FloatArray
) -> float:
    """Share of paths (decimal) whose real wealth at the start of some plan year lies in
    ``region`` of that year, (n_years, n_states) from :func:`go_for_broke_region`.

    ``wealth`` is (n_paths, n_years) or wider (extra columns, such as the terminal
    wealth, are ignored), real USD at the start of each plan year, as the simulator's
    ``SimulationResult.wealth``. A wealth is in the region when its nearest grid node is
    (the hatched area's edge lies halfway between nodes).
    """
    w = np.asarray(wealth, dtype=np.float64)[:, : policy.n_years]
    hit = np.zeros(w.shape[0], dtype=bool)
    for t in range(w.shape[1]):
        if region[t].any():
            inside = np.interp(w[:, t], policy.wealth_grid[t], region[t].astype(np.float64))
            hit |= inside > 0.5
    return float(hit.mean()) if hit.size else float("nan")


def _region_bands(region: BoolArray, y_nodes: FloatArray) -> list[tuple[FloatArray, FloatArray]]:
    """The region as bands over the years: the k-th band holds each year's k-th run of
    region nodes, from halfway to the node below to halfway to the node above (axis
    units; NaN in years with fewer runs), ``[(lower, upper), ...]`` of (n_years,) each."""
    mid = (y_nodes[:, 1:] + y_nodes[:, :-1]) / 2
    edges = np.concatenate([y_nodes[:, :1], mid, y_nodes[:, -1:]], axis=1)  # (n_y, n_s + 1)
    runs: list[list[tuple[float, float]]] = []
    for t in range(region.shape[0]):
        d = np.diff(np.concatenate([[0], region[t].astype(np.int8), [0]]))
        starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        runs.append([(edges[t, a], edges[t, b]) for a, b in zip(starts, stops, strict=True)])
    bands = []
    for k in range(max((len(r) for r in runs), default=0)):
        lo = np.array([r[k][0] if len(r) > k else np.nan for r in runs])
        hi = np.array([r[k][1] if len(r) > k else np.nan for r in runs])
        bands.append((lo, hi))
    return bands


def _to_axis(policy: AdaptivePolicy, wealth: FloatArray, axis: str) -> FloatArray:
    if axis == "wealth":
        return np.asarray(wealth) / 1e3
    rows = np.arange(policy.n_years)
    return np.asarray(policy.funded_ratio(rows, wealth))  # type: ignore[arg-type]


def policy_map_figure(
    policy: AdaptivePolicy,
    equity_assets: Sequence[str],
    band: WealthBand | None = None,
    *,
    axis: str | None = None,
    y_max: float | None = None,
    title: str | None = None,
    region: BoolArray | None = None,
):
    """A matplotlib Figure: equity share and the promise (success, or CE income for a CE
    policy: :func:`promises_income`) over age x state, with the
    go-for-broke region hatched and captioned (:data:`GO_FOR_BROKE_CAPTION`) when it is
    not empty.

    Parameters
    ----------
    policy
        The solved table.
    equity_assets
        Names whose weights add up to the equity share.
    band
        Simulated wealth percentiles to draw over the maps, or ``None``.
    axis
        ``"wealth"`` (thousands of real USD) or ``"funded_ratio"``; default the policy's
        ``state``.
    y_max
        Top of the y axis (axis units); default 1.3x the band's 90th percentile, or the
        grid's top.
    region
        Nodes to hatch, (n_years, n_states); default :func:`go_for_broke_region`.
    """
    from matplotlib.figure import Figure  # lazy: heavy

    axis = axis or policy.state
    ages = policy.ages
    y_nodes = (
        policy.wealth_grid / 1e3 if axis == "wealth" else policy.state_grid()
    )  # (n_years, n_states)
    eq = policy.equity_share(tuple(equity_assets))
    # a quad mesh through the nodes (age, state), shaded between them as the policy
    # interpolates between wealth nodes
    x_grid = np.broadcast_to(ages[:, None], y_nodes.shape)
    if region is None:
        region = go_for_broke_region(policy, equity_assets)
    fig = Figure(figsize=(11, 5.2), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    # the hatch colour of each map: black on the region's light (high-equity) cells, white
    # on its dark (low-success) cells
    panels = (
        (eq, "equity share held (decimal)", "viridis", (0.0, 1.0), "black"),
        _value_panel(policy),
    )
    for ax, (z, label, cmap, (lo, hi), ink) in zip(axes, panels, strict=True):
        mesh = ax.pcolormesh(
            x_grid,
            y_nodes,
            z,
            cmap=cmap,
            vmin=lo,
            vmax=hi,
            shading="gouraud",
            rasterized=True,  # a raster in the PDF: 70 x 401 shaded cells as vectors weigh MBs
        )
        fig.colorbar(mesh, ax=ax, label=label, fraction=0.05)
        _hatch_region(ax, ages, _region_bands(region, y_nodes), ink)
        if band is not None:
            _draw_band(ax, policy, band, axis)
        ax.set_xlabel("age (years)")
        ax.set_title(label, fontsize=9)
    _set_state_axis(axes[0], policy, band, axis, y_nodes, y_max)
    heading = title or f"Policy map: {policy.name}"
    if bool(np.any(region)):
        _caption_region(fig, heading)
    else:
        fig.suptitle(heading, fontsize=11)
    return fig


def _hatch_region(
    ax: Any, ages: FloatArray, bands: list[tuple[FloatArray, FloatArray]], ink: str
) -> None:
    """Each year's stretch of the region, a step wide, hatched in ``ink`` and outlined in
    white."""
    import matplotlib as mpl  # lazy: heavy

    for lo_y, hi_y in bands:
        ok = ~np.isnan(lo_y)
        with mpl.rc_context({"hatch.linewidth": 0.8}):
            ax.fill_between(
                ages, lo_y, hi_y, where=ok, step="mid", facecolor="none",
                edgecolor=ink, hatch="///", linewidth=0.0,
            )  # fmt: skip
        ax.fill_between(
            ages, lo_y, hi_y, where=ok, step="mid", facecolor="none",
            edgecolor="white", linewidth=1.0,
        )  # fmt: skip


def _draw_band(ax: Any, policy: AdaptivePolicy, band: WealthBand, axis: str) -> None:
    """The simulated median and 10th-90th percentiles over a map, with their legend."""
    for p, style in ((band.p50, "-"), (band.p10, "--"), (band.p90, "--")):
        ax.plot(policy.ages, _to_axis(policy, p, axis), color="white", ls=style, lw=1.4)
    ax.plot([], [], color="white", ls="-", label=f"median ({band.label})")
    ax.plot([], [], color="white", ls="--", label="10th-90th percentile")
    # a dark box of its own, framed whatever the report's style says, so the white lines'
    # legend reads on the map's light and dark cells and on a light or dark page
    ax.legend(
        loc="upper left", fontsize=7, frameon=True, facecolor="0.2", edgecolor="0.2",
        framealpha=0.85, labelcolor="white",
    )  # fmt: skip


def _set_state_axis(
    ax: Any,
    policy: AdaptivePolicy,
    band: WealthBand | None,
    axis: str,
    y_nodes: FloatArray,
    y_max: float | None,
) -> None:
    """The shared y axis: limits (default 1.3x the band's 90th percentile, or the grid's
    top) and its label in the axis's units."""
    top = y_max
    if top is None:
        top = (
            1.3 * float(np.max(_to_axis(policy, band.p90, axis)))
            if band is not None
            else float(np.max(y_nodes))
        )
    bottom = 0.0 if axis == "wealth" else float(max(np.min(y_nodes), 0.0))
    ax.set_ylim(bottom, max(top, bottom + 1e-9))
    ax.set_ylabel(
        "real wealth at the start of the year (thousand USD)"
        if axis == "wealth"
        else "funded ratio (wealth + PV contributions) / PV spending"
    )


def _caption_region(fig: Any, heading: str) -> None:
    """The heading with the region's legend entry under it, above the maps, and the
    region's caption below them: constrained layout keeps one item on each edge clear
    of the panels (a suptitle and an outside legend would share the top edge and
    overlap), so neither covers a panel title. Dark ink on their own white, legible on
    a light or a dark page."""
    from matplotlib.patches import Patch  # lazy: heavy

    entry = Patch(
        facecolor="white",
        edgecolor="black",
        hatch="///",
        label="go-for-broke region: equity rises as wealth falls while underfunded",
    )
    fig.legend(
        handles=[entry], loc="outside upper center", fontsize=8, frameon=True,
        facecolor="white", edgecolor="white", labelcolor="black", title=heading,
        title_fontsize=11,
    )  # fmt: skip
    fig.supxlabel(GO_FOR_BROKE_CAPTION, fontsize=7.5, wrap=True, color="black")


def policy_map_png(policy: AdaptivePolicy, equity_assets: Sequence[str], **kwargs: object) -> bytes:
    """:func:`policy_map_figure` as PNG bytes."""
    fig = policy_map_figure(policy, equity_assets, **kwargs)  # type: ignore[arg-type]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def policy_map_pdf(policy: AdaptivePolicy, equity_assets: Sequence[str], **kwargs: object) -> bytes:
    """:func:`policy_map_figure` as PDF bytes (vector)."""
    fig = policy_map_figure(policy, equity_assets, **kwargs)  # type: ignore[arg-type]
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf", bbox_inches="tight")
    return buf.getvalue()
