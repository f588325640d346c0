"""The policy map of an adaptive glide path: what it holds, and what it promises, by state.

Two heat maps over age (x) and the member's state (y: real wealth, or funded ratio):
the equity share the policy holds at each node, and beside it the success probability
the solver promises from that node. The median wealth path of a simulation and its
10-90 percentile band are drawn over both, so a reader sees where members actually are.
Numbers arrive as arrays; this module only draws.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from backtest.types import FloatArray
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
):
    """A matplotlib Figure: equity share and promised success over age x state.

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
    """
    from matplotlib.figure import Figure  # lazy: heavy (matplotlib)

    axis = axis or policy.state
    ages = policy.ages
    y_nodes = (
        policy.wealth_grid / 1e3 if axis == "wealth" else policy.state_grid()
    )  # (n_years, n_states)
    eq = policy.equity_share(tuple(equity_assets))
    # a quad mesh through the nodes (age, state), shaded between them as the policy
    # interpolates between wealth nodes
    x_grid = np.broadcast_to(ages[:, None], y_nodes.shape)
    fig = Figure(figsize=(11, 4.6))
    axes = fig.subplots(1, 2, sharey=True)
    panels = (
        (eq, "equity share held (decimal)", "viridis", (0.0, 1.0)),
        (policy.value, "success probability promised from here", "magma", (0.0, 1.0)),
    )
    for ax, (z, label, cmap, (lo, hi)) in zip(axes, panels, strict=True):
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
        if band is not None:
            for p, style in ((band.p50, "-"), (band.p10, "--"), (band.p90, "--")):
                ax.plot(ages, _to_axis(policy, p, axis), color="white", ls=style, lw=1.4)
            ax.plot([], [], color="white", ls="-", label=f"median ({band.label})")
            ax.plot([], [], color="white", ls="--", label="10th-90th percentile")
            ax.legend(loc="upper left", fontsize=7, facecolor="0.3", labelcolor="white")
        ax.set_xlabel("age (years)")
        ax.set_title(label, fontsize=9)
    top = y_max
    if top is None:
        top = (
            1.3 * float(np.max(_to_axis(policy, band.p90, axis)))
            if band is not None
            else float(np.max(y_nodes))
        )
    bottom = 0.0 if axis == "wealth" else float(max(np.min(y_nodes), 0.0))
    axes[0].set_ylim(bottom, max(top, bottom + 1e-9))
    axes[0].set_ylabel(
        "real wealth at the start of the year (thousand USD)"
        if axis == "wealth"
        else "funded ratio (wealth + PV contributions) / PV spending"
    )
    fig.suptitle(title or f"Policy map: {policy.name}", fontsize=11)
    return fig


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
