"""Sleeve rules beyond a fixed band: a volatility-scaled weight and a cap after drift.

Calendar and band rebalancing of the whole portfolio are :mod:`strategies.rebalance`;
a fixed sleeve with its own band is :class:`strategies.crypto.CryptoSleeve`. Pure: no
I/O, no simulation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from strategies.base import (
    FloatArray,
    NoStateTable,
    RebalanceRule,
    Schedule,
    Smoothing,
    Strategy,
)
from strategies.crypto import CryptoSleeve
from strategies.errors import StrategyError
from strategies.rebalance import buy_and_hold
from strategies.target_risk import window_volatility


@dataclass(frozen=True)
class VolScaledSleeve(NoStateTable):
    """A crypto sleeve whose weight shrinks when the asset's recent volatility rises.

    The target weight in period ``t`` is ``sleeve_weight * reference_vol / vol_t``,
    clipped to ``[0, max_weight]``, where ``vol_t`` is the annualised sample volatility
    of the asset's simple returns over the ``window_years`` before ``t`` (past returns
    only; at least two observations, else the weight is ``sleeve_weight``). The sleeve
    is funded pro rata from every base asset. Rebalancing follows ``rebalance`` (default
    the base's rule): between rebalances the sleeve drifts.

    Parameters
    ----------
    base
        The strategy the sleeve is laid over (without the crypto asset).
    sleeve_weight
        Weight at the reference volatility, decimal (0.025 = 2.5 %).
    reference_vol
        Annualised volatility at which the weight is ``sleeve_weight``, decimal (0.60).
    window_years
        Length of the trailing volatility window, years.
    max_weight
        Upper bound of the weight, decimal; default ``2 * sleeve_weight``.
    crypto_asset
        Asset name of the sleeve.
    rebalance
        Whole-portfolio rule; default (``None``) the base's.
    name
        Label; default ``"<base name> + 2.5% btc vol-scaled"``.
    """

    base: Strategy
    sleeve_weight: float
    reference_vol: float = 0.60
    window_years: float = 2.0
    max_weight: float | None = None
    crypto_asset: str = "btc"
    # Typed as the rule it always is after __post_init__ (the Strategy protocol's);
    # the default None is replaced there by the base's rule.
    rebalance: RebalanceRule = None  # type: ignore[assignment]
    name: str = ""

    sleeve_band: None = None
    depends_on_returns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        who = f"VolScaledSleeve({self.name or getattr(self.base, 'name', '?')!r})"
        if self.crypto_asset in tuple(self.base.assets):
            raise StrategyError(f"{who}: the base strategy already holds {self.crypto_asset!r}")
        if not 0.0 <= self.sleeve_weight < 1.0:
            raise StrategyError(
                f"{who}: sleeve_weight={self.sleeve_weight!r} must be a decimal in [0, 1)"
            )
        if not self.reference_vol > 0:
            raise StrategyError(
                f"{who}: reference_vol={self.reference_vol!r} must be a positive annual "
                "volatility, e.g. 0.60"
            )
        if not self.window_years > 0:
            raise StrategyError(f"{who}: window_years={self.window_years!r} must be > 0")
        cap = 2.0 * self.sleeve_weight if self.max_weight is None else self.max_weight
        if not self.sleeve_weight <= cap < 1.0:
            raise StrategyError(f"{who}: max_weight={cap!r} must be in [sleeve_weight, 1)")
        object.__setattr__(self, "max_weight", float(cap))
        if self.base.sleeve_band is not None:
            raise StrategyError(f"{who}: the base strategy already has a sleeve band")
        if not self.name:
            label = (
                f"{self.base.name} + {self.sleeve_weight * 100:g}% {self.crypto_asset} vol-scaled"
            )
            object.__setattr__(self, "name", label)
        if self.rebalance is None:
            object.__setattr__(self, "rebalance", self.base.rebalance)

    @property
    def assets(self) -> tuple[str, ...]:
        return (*tuple(self.base.assets), self.crypto_asset)

    @property
    def smoothing(self) -> Smoothing | None:
        return self.base.smoothing

    def sleeve_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """Target crypto weight per scenario and period, (n_scenarios, n_periods)."""
        r = np.asarray(past_returns, dtype=np.float64)[..., -1:]
        ppy = schedule.periods_per_year
        window = max(2, round(self.window_years * ppy))
        vol, _ = window_volatility(r, window, ppy)
        vol = vol[..., 0]
        scaled = self.sleeve_weight * self.reference_vol / np.where(vol > 0, vol, np.nan)
        w = np.where(np.isfinite(scaled), scaled, self.sleeve_weight)
        return np.clip(w, 0.0, float(self.max_weight))  # type: ignore[arg-type]

    def target_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """Base weights scaled by ``1 - s_t`` and the crypto weight ``s_t``,
        (n_scenarios, n_periods, n_assets)."""
        r = np.asarray(past_returns, dtype=np.float64)
        n_base = len(self.base.assets)
        base_w = np.asarray(self.base.target_weights(schedule, r[..., :n_base]), np.float64)
        s = self.sleeve_weights(schedule, r)[..., None]
        return np.concatenate([base_w * (1.0 - s), s], axis=-1)


def cap_after_drift(
    base: Strategy, sleeve_weight: float, cap: float, crypto_asset: str = "btc", **kw: object
) -> CryptoSleeve:
    """A sleeve that is never topped up and only trimmed back when it drifts above ``cap``.

    The whole portfolio is bought and held (no calendar rebalance: the sleeve would be
    traded back with it); contributions still buy the target mix. ``cap`` is decimal of
    the portfolio (e.g. 0.05 for a 2.5 % sleeve allowed to double).
    """
    return CryptoSleeve(
        base=base,
        sleeve_weight=sleeve_weight,
        crypto_asset=crypto_asset,
        band=None,
        cap=cap,
        rebalance=buy_and_hold(),
        **kw,  # type: ignore[arg-type]
    )
