"""Target-date strategies: weights as a function of the member's age.

:class:`GlidePath` is the general form: each asset's share is a piecewise-linear
function of **years to retirement** (``retirement_age - age``; negative after
retirement) through a handful of knots, constant beyond the first and last knot.
:class:`AgeBasedMix` is the "N minus age" rule of thumb, which depends on age itself
rather than on years to retirement.

Both are static (they never look at returns): ``target_weights`` returns an array with a
leading axis of length 1 that the simulator broadcasts over scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from strategies.base import (
    WEIGHT_SUM_TOL,
    NoStateTable,
    RebalanceRule,
    Schedule,
    SleeveBand,
    Smoothing,
    check_asset_names,
    check_numbers,
)
from strategies.errors import StrategyError
from strategies.types import FloatArray

#: Weights within this distance of the [0, 1] box or of summing to 1 are accepted and
#: cleaned (clipped, renormalised); an optimizer's output typically misses by ~1e-9.
KNOT_TOL = 1e-6


def clean_weight_table(raw: ArrayLike, n_assets: int, who: str, what: str) -> FloatArray:
    """Validate a (rows, n_assets) weight table and return it clipped and renormalised."""
    try:
        w = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise StrategyError(
            f"{who}: {what}={raw!r} must be numbers: one decimal weight per asset (a row "
            "per knot for a glide path)"
        ) from None
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape[1] != n_assets:
        raise StrategyError(
            f"{who}: {what} must have one weight per asset ({n_assets} columns); got shape "
            f"{np.shape(raw)}"
        )
    if not np.all(np.isfinite(w)):
        raise StrategyError(f"{who}: {what} contain NaN or infinity")
    bad = (w < -KNOT_TOL) | (w > 1 + KNOT_TOL)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise StrategyError(
            f"{who}: {what} row {i} has weight {w[i, j]:.6g} for asset {j}; every weight "
            "must be a decimal in [0, 1] (0.6 = 60 %)"
        )
    sums = w.sum(axis=1)
    off = np.abs(sums - 1.0)
    if off.max() > KNOT_TOL:
        i = int(np.argmax(off))
        raise StrategyError(
            f"{who}: {what} row {i} sums to {sums[i]:.6f}; the weights of each row must sum to 1"
        )
    w = np.clip(w, 0.0, 1.0)
    return w / w.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class GlidePath(NoStateTable):
    """Weights that glide linearly between knots placed in years to retirement.

    Parameters
    ----------
    name
        Label used in tables and charts.
    assets
        Asset names, one per weight column.
    knots_years_to_retirement
        Knot positions in **years to retirement** (``retirement_age - age``): 25.0 means
        25 years before retirement, 0.0 at retirement, -7.0 seven years after. They must
        be strictly monotone; either direction is accepted (the natural reading order
        from young to old is decreasing) and they are stored **ascending** (from the
        oldest age to the youngest), with ``weights`` reordered to match.
    weights
        One row of decimal weights per knot, each in [0, 1] and summing to 1. Rows off
        by at most ``KNOT_TOL`` (optimizer round-off) are clipped and renormalised.
    rebalance
        How drifted holdings are traded back to target (default: annual calendar).
    monotone_equity
        If true, validate that the equity share never rises as retirement approaches and
        passes (non-increasing as years to retirement fall).
    equity_asset
        The asset ``monotone_equity`` refers to; default the first asset.
    source
        Where the knots come from (citation), shown in reports.
    sleeve_band, smoothing
        Optional sleeve band and income-smoothing overlay (see ``strategies.base``).

    Notes
    -----
    Between knots every weight is interpolated linearly, so each period's weights sum to
    1 exactly (up to float round-off); before the youngest knot and after the oldest the
    weights stay at the end knots' values.
    """

    name: str
    assets: tuple[str, ...]
    knots_years_to_retirement: tuple[float, ...]
    weights: tuple[tuple[float, ...], ...]
    rebalance: RebalanceRule = field(default_factory=RebalanceRule)
    monotone_equity: bool = False
    equity_asset: str | None = None
    source: str = ""
    sleeve_band: SleeveBand | None = None
    smoothing: Smoothing | None = None

    depends_on_returns: ClassVar[bool] = False

    def __post_init__(self) -> None:
        who = f"GlidePath {self.name!r}"
        assets = check_asset_names(who, self.assets)
        try:
            knots = np.asarray(self.knots_years_to_retirement, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            knots = np.array([np.nan])
        if knots.size == 0 or not np.all(np.isfinite(knots)):
            raise StrategyError(
                f"{who}: knots_years_to_retirement={self.knots_years_to_retirement!r} must be "
                "one or more finite numbers of years"
            )
        w = clean_weight_table(self.weights, len(assets), who, "weights")
        if w.shape[0] != knots.size:
            raise StrategyError(
                f"{who}: {knots.size} knots but {w.shape[0]} weight rows; give one row per knot"
            )
        d = np.diff(knots)
        if knots.size > 1 and not (np.all(d > 0) or np.all(d < 0)):
            raise StrategyError(
                f"{who}: knots_years_to_retirement={tuple(knots.tolist())} must be strictly "
                "increasing or strictly decreasing, without repeats"
            )
        if knots.size > 1 and d[0] < 0:
            knots, w = knots[::-1], w[::-1]
        equity = self.equity_asset if self.equity_asset is not None else assets[0]
        if equity not in assets:
            raise StrategyError(f"{who}: equity_asset={equity!r} is not one of assets {assets}")
        if self.monotone_equity:
            e = w[:, assets.index(equity)]
            # Ascending knots: equity share must be non-decreasing in years to retirement.
            drop = np.diff(e)
            if drop.size and drop.min() < -WEIGHT_SUM_TOL:
                k = int(np.argmin(drop))
                raise StrategyError(
                    f"{who}: monotone_equity=True but the {equity!r} share rises from "
                    f"{e[k + 1]:.4f} at {knots[k + 1]:g} years to retirement to {e[k]:.4f} at "
                    f"{knots[k]:g}; fix the knots or set monotone_equity=False"
                )
        if not isinstance(self.rebalance, RebalanceRule):
            raise StrategyError(f"{who}: rebalance must be a RebalanceRule, got {self.rebalance!r}")
        object.__setattr__(self, "assets", assets)
        object.__setattr__(self, "knots_years_to_retirement", tuple(float(k) for k in knots))
        object.__setattr__(self, "weights", tuple(tuple(float(x) for x in row) for row in w))

    @property
    def equity(self) -> str:
        """The asset treated as equity (``equity_asset`` or the first asset)."""
        return self.equity_asset if self.equity_asset is not None else self.assets[0]

    def weights_at(self, years_to_retirement: FloatArray) -> FloatArray:
        """Weights at the given years to retirement, shape (n, n_assets).

        Parameters
        ----------
        years_to_retirement
            Years until retirement, (n,); negative after retirement.
        """
        x = np.asarray(years_to_retirement, dtype=np.float64).ravel()
        xp = np.asarray(self.knots_years_to_retirement)
        fp = np.asarray(self.weights)
        out = np.empty((x.size, fp.shape[1]))
        for j in range(fp.shape[1]):  # a handful of assets; vectorised over time
            out[:, j] = np.interp(x, xp, fp[:, j])
        return out

    def weights_at_age(self, ages: FloatArray, retirement_age: float) -> FloatArray:
        """Weights at the given ages (years) for a member retiring at ``retirement_age``."""
        return self.weights_at(retirement_age - np.asarray(ages, dtype=np.float64))

    def target_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """Static weights, shape (1, n_periods, n_assets); ignores ``past_returns``."""
        return self.weights_at(schedule.years_to_retirement)[None, :, :]


@dataclass(frozen=True)
class AgeBasedMix(NoStateTable):
    """ "N minus age" rule of thumb: equity share ``(offset - age) / 100``, rest in bonds.

    The classic rules are ``offset=100`` ("100 minus age": 75 % equity at 25, 35 % at 65)
    and ``offset=110`` (85 % at 25, 45 % at 65). The share is clipped to
    ``[min_equity, max_equity]``. It depends on the member's age (``Schedule.age_start``),
    not on the retirement age, so it keeps falling after retirement.

    Parameters
    ----------
    name
        Label.
    equity_asset, bond_asset
        Asset names for the equity and the bond share.
    offset
        N in "N minus age", in years.
    min_equity, max_equity
        Bounds on the equity share, decimal.
    """

    name: str
    equity_asset: str = "us_stocks"
    bond_asset: str = "tbonds_10y"
    offset: float = 100.0
    min_equity: float = 0.0
    max_equity: float = 1.0
    rebalance: RebalanceRule = field(default_factory=RebalanceRule)
    sleeve_band: SleeveBand | None = None
    smoothing: Smoothing | None = None

    depends_on_returns: ClassVar[bool] = False

    def __post_init__(self) -> None:
        who = f"AgeBasedMix {self.name!r}"
        check_numbers(
            who, offset=self.offset, min_equity=self.min_equity, max_equity=self.max_equity
        )
        if self.equity_asset == self.bond_asset:
            raise StrategyError(f"{who}: equity_asset and bond_asset are both {self.bond_asset!r}")
        if not 0.0 <= self.min_equity <= self.max_equity <= 1.0:
            raise StrategyError(
                f"{who}: need 0 <= min_equity <= max_equity <= 1; got min_equity="
                f"{self.min_equity}, max_equity={self.max_equity}"
            )
        if not np.isfinite(self.offset):
            raise StrategyError(f"{who}: offset={self.offset!r} must be a finite number of years")

    @property
    def assets(self) -> tuple[str, ...]:
        return (self.equity_asset, self.bond_asset)

    def equity_share(self, ages: FloatArray) -> FloatArray:
        """Equity share, decimal, at each age in years, (n,)."""
        a = np.asarray(ages, dtype=np.float64)
        return np.clip((self.offset - a) / 100.0, self.min_equity, self.max_equity)

    def weights_at_age(self, ages: FloatArray, retirement_age: float | None = None) -> FloatArray:
        """Weights at the given ages, (n, 2); ``retirement_age`` is not used."""
        e = self.equity_share(np.asarray(ages, dtype=np.float64).ravel())
        return np.stack([e, 1.0 - e], axis=-1)

    def target_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """Static weights, shape (1, n_periods, 2); ignores ``past_returns``."""
        return self.weights_at_age(schedule.age_start)[None, :, :]

    def as_glide_path(self, retirement_age: float) -> GlidePath:
        """The same rule as a :class:`GlidePath` for a member retiring at ``retirement_age``.

        Knots sit where the clipping starts and stops, so the result is exact at every
        age.
        """
        lo_age = self.offset - 100.0 * self.max_equity  # equity hits max_equity here
        hi_age = self.offset - 100.0 * self.min_equity  # and min_equity here
        ages = np.array([lo_age, hi_age]) if hi_age > lo_age else np.array([lo_age])
        return GlidePath(
            name=self.name,
            assets=self.assets,
            knots_years_to_retirement=tuple(float(x) for x in retirement_age - ages),
            weights=tuple(tuple(r) for r in self.weights_at_age(ages).tolist()),
            rebalance=self.rebalance,
            monotone_equity=True,
            source=f"{self.offset:g} minus age, expressed for retirement at {retirement_age:g}",
            sleeve_band=self.sleeve_band,
            smoothing=self.smoothing,
        )
