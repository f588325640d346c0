"""Leaving a sleeve for good: strategy wrappers for stress tests.

Both wrappers hold whatever their base holds until a scenario's exit, and from then on
hold none of ``asset``: its target weight goes to the base's other assets pro rata
(:func:`drop_asset`). They are vectorised over scenarios and change nothing in a
scenario, or a period, where the base's target for ``asset`` is zero (bit for bit).

* :class:`ExitSleeve`: the exit period is given per scenario, e.g. the period after the
  sleeve was lost to an impairment (custody failure, fraud, a ban);
* :class:`SellAfterDrawdown`: a member who sells after ``asset`` has fallen ``drawdown``
  from its running peak, measured on the returns seen so far (no look-ahead), and stays
  out.

The sale itself is a rebalancing trade, so it happens at the base's next rebalancing:
at once when the base rebalances every period (e.g. an annual calendar rule on annual
periods), at the next due date or band breach otherwise. Contributions buy the target mix
at once, so new money never buys the asset after the exit. A buy-and-hold base
(``rebalance.kind == "none"``) never sells and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strategies.base import (
    NoStateTable,
    Schedule,
    Smoothing,
    Strategy,
    check_numbers,
    check_strategy,
)
from strategies.errors import StrategyError
from strategies.overlay import Overlay
from strategies.types import FloatArray

__all__ = ["ExitSleeve", "SellAfterDrawdown", "drawdown_exit", "drop_asset"]


def drop_asset(weights: FloatArray, index: int, out: np.ndarray) -> FloatArray:
    """Target weights with column ``index`` moved pro rata to the other columns where
    ``out`` is true.

    Parameters
    ----------
    weights
        Decimal target weights, (1 or n_scenarios, n_periods, n_assets), rows summing to 1.
    index
        Column of the asset dropped.
    out
        Boolean (n_scenarios, n_periods): where the asset is no longer held.

    Returns
    -------
    FloatArray
        (n_scenarios, n_periods, n_assets). Where ``out`` is false, or the asset's weight
        is 0, the weights are the input's exactly; where every other weight is 0 too (a
        portfolio of the asset alone) the weight stays, as there is nothing to move it to.
    """
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64), (*out.shape, weights.shape[-1]))
    s = w[..., index]
    rest = 1.0 - s
    move = out & (s > 0) & (rest > 0)
    if not move.any():
        return np.array(w)
    scale = np.divide(1.0, rest, out=np.ones_like(rest), where=move)
    moved = w * scale[..., None]
    moved[..., index] = 0.0
    return np.where(move[..., None], moved, w)


class _Wrapper(Overlay, NoStateTable):
    """The base's assets, trading settings and smoothing, passed through
    (:class:`strategies.overlay.Overlay`; :class:`NoStateTable` gives no state table)."""

    base: Strategy
    name: str

    @property
    def smoothing(self) -> Smoothing | None:
        """The base's: a smoothed base stays smoothed (and off the compiled kernel)."""
        return self.base.smoothing

    @property
    def depends_on_returns(self) -> bool:
        """True: the weights differ between scenarios after the exit."""
        return True

    def _check(self, who: str, asset: str) -> None:
        check_strategy(who, self.base)
        if asset not in self.base.assets:
            raise StrategyError(
                f"{who}: the base {self.base.name!r} does not hold {asset!r} (its assets are "
                f"{tuple(self.base.assets)}); wrap a strategy that holds it"
            )
        if self.base.rebalance.kind == "none":
            raise StrategyError(
                f"{who}: the base {self.base.name!r} never rebalances, so it would never "
                "sell the sleeve; give it a calendar or band rule"
            )
        if not self.name:
            object.__setattr__(self, "name", f"{self.base.name}, {asset} exited")

    def _base_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        return np.asarray(self.base.target_weights(schedule, past_returns), dtype=np.float64)


@dataclass(frozen=True)
class ExitSleeve(_Wrapper):
    """``base`` until a stated period per scenario, then none of ``asset``.

    Attributes
    ----------
    base
        The strategy wrapped (e.g. a :class:`strategies.CryptoSleeve`).
    asset
        The asset given up (e.g. ``"btc"``).
    first_period_out
        Per scenario, the first period (index into the plan's periods) without the asset:
        shape (1,) for every scenario alike, or (n_scenarios,); a value at or beyond the
        plan's last period means the scenario never exits.
    name
        Label; default ``"<base name>, <asset> exited"``.
    """

    base: Strategy
    asset: str
    first_period_out: tuple[int, ...]
    name: str = ""

    def __post_init__(self) -> None:
        who = f"ExitSleeve({self.name or getattr(self.base, 'name', '?')!r})"
        k = np.asarray(self.first_period_out)
        if k.ndim != 1 or k.size == 0 or not np.issubdtype(k.dtype, np.integer) or k.min() < 0:
            raise StrategyError(
                f"{who}: first_period_out must be a non-empty tuple of period indices >= 0, "
                "one for every scenario or one for all"
            )
        object.__setattr__(self, "first_period_out", tuple(int(x) for x in k))
        self._check(who, self.asset)

    def target_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """The base's weights, with the asset dropped from each scenario's exit period on,
        (n_scenarios, n_periods, n_assets)."""
        n = np.asarray(past_returns).shape[0]
        k = np.asarray(self.first_period_out, dtype=np.int64)
        if k.size not in (1, n):
            raise StrategyError(
                f"{self.name!r}: first_period_out has {k.size} entries for {n} scenarios; "
                "give one per scenario or one for all"
            )
        out = np.arange(schedule.n_periods)[None, :] >= np.broadcast_to(k, (n,))[:, None]
        j = self.base.assets.index(self.asset)
        return drop_asset(self._base_weights(schedule, past_returns), j, out)


def drawdown_exit(returns: FloatArray, drawdown: float, start: int = 0) -> np.ndarray:
    """Where a member who sells after a fall of ``drawdown`` from the running peak is out.

    ``returns`` are the asset's decimal simple returns per period, (n_scenarios,
    n_periods). The price index at the start of period ``t`` compounds the returns of
    periods ``start .. t - 1`` (known then: no look-ahead); the peak is its running
    maximum from ``start``; the member is out from the first period ``t`` whose index is
    at or below ``(1 - drawdown)`` of the peak, and in every period after (stays out).
    Missing returns (NaN) count as 0. Returns a boolean (n_scenarios, n_periods).
    """
    r = np.nan_to_num(np.asarray(returns, dtype=np.float64)[:, start:])
    n, t = r.shape
    level = np.ones((n, t))
    if t > 1:
        level[:, 1:] = np.cumprod(1.0 + r[:, :-1], axis=1)
    peak = np.maximum.accumulate(level, axis=1)
    hit = level <= (1.0 - drawdown) * peak
    out = np.zeros((n, start + t), dtype=bool)
    out[:, start:] = np.logical_or.accumulate(hit, axis=1)
    return out


@dataclass(frozen=True)
class SellAfterDrawdown(_Wrapper):
    """``base`` until ``asset`` has fallen ``drawdown`` from its running peak, then none
    of it for good (:func:`drawdown_exit`).

    Attributes
    ----------
    base
        The strategy wrapped.
    asset
        The asset watched and sold (e.g. ``"btc"``).
    drawdown
        Fall from the running peak that triggers the sale, decimal in (0, 1): 0.5 sells
        after a 50 % fall.
    start_period
        First period watched (the peak is tracked from there; the member holds the base
        before it whatever happens).
    name
        Label; default ``"<base name>, <asset> sold after a 50% fall"``.
    """

    base: Strategy
    asset: str
    drawdown: float = 0.5
    start_period: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        who = f"SellAfterDrawdown({self.name or getattr(self.base, 'name', '?')!r})"
        check_numbers(who, drawdown=self.drawdown, start_period=self.start_period)
        if not 0.0 < self.drawdown < 1.0:
            raise StrategyError(
                f"{who}: drawdown={self.drawdown!r} must be a fall in (0, 1), e.g. 0.5 for 50 %"
            )
        if self.start_period < 0:
            raise StrategyError(f"{who}: start_period={self.start_period!r} must be >= 0")
        if not self.name:
            label = f"{self.base.name}, {self.asset} sold after a {self.drawdown:.0%} fall"
            object.__setattr__(self, "name", label)
        self._check(who, self.asset)

    def target_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """The base's weights, with the asset dropped once it has fallen ``drawdown``,
        (n_scenarios, n_periods, n_assets)."""
        r = np.asarray(past_returns, dtype=np.float64)
        j = self.base.assets.index(self.asset)
        out = drawdown_exit(r[:, : schedule.n_periods, j], self.drawdown, self.start_period)
        return drop_asset(self._base_weights(schedule, r), j, out)
