"""A sleeve that shrinks toward the target date inside a target-date vintage.

:class:`GlidingSleeve` lays a sleeve of one asset (Bitcoin by default) over a glide path
and funds it **pro rata** from the glide path's weights, like
:class:`strategies.crypto.CryptoSleeve` with ``funded_from="pro_rata"``; unlike it, the
sleeve's size glides with the member's **years to retirement** (the vintage's target
date): ``size_at_start`` until ``shrink_from_years`` before the target date, then linearly
down (or up) to ``size_at_target`` at ``shrink_to_years`` before it, constant after::

    years to target:   40 ... 25 ............. 0 ... -20
    sleeve:            s0 ... s0 \\___linear___ s1 ... s1

With both sizes 0 the weights are the glide path's exactly (each multiplied by 1.0) next
to a column of zeros, so a simulation of the sleeve equals the plain vintage's bit for
bit. The sleeve has no band of its own: it is traded back to its target by the base's
rebalancing rule (a target-date fund rebalances to its glide path).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strategies.base import (
    FloatArray,
    NoStateTable,
    RebalanceRule,
    Schedule,
    SleeveBand,
    Smoothing,
    Strategy,
    check_numbers,
    check_strategy,
)
from strategies.errors import StrategyError


@dataclass(frozen=True)
class GlidingSleeve(NoStateTable):
    """A sleeve of ``asset`` inside a glide path, shrinking toward the target date.

    Parameters
    ----------
    base
        The vintage's glide path (any strategy without ``asset``; usually a
        :class:`strategies.GlidePath` read against the target date).
    size_at_start
        Sleeve weight, decimal (0.025 = 2.5 %), until ``shrink_from_years`` before the
        target date.
    size_at_target
        Sleeve weight, decimal, from ``shrink_to_years`` before the target date on
        (0 = no Bitcoin in retirement; 0.01 = 1 %).
    shrink_from_years, shrink_to_years
        Years to the target date (``retirement_age - age``; negative after it) where the
        linear glide of the sleeve starts and ends; ``shrink_from_years >
        shrink_to_years``. Default 25 and 0: the span over which the shipped
        Vanguard-style path glides its equity down (``strategies.presets``).
    asset
        The sleeve's asset name (default ``"btc"``).
    name
        Label; default ``"<base> + 2.5%->0% btc"``.
    """

    base: Strategy
    size_at_start: float
    size_at_target: float = 0.0
    shrink_from_years: float = 25.0
    shrink_to_years: float = 0.0
    asset: str = "btc"
    name: str = ""

    def __post_init__(self) -> None:
        who = f"GlidingSleeve({self.name or getattr(self.base, 'name', '?')!r})"
        check_strategy(who, self.base)
        check_numbers(
            who,
            size_at_start=self.size_at_start,
            size_at_target=self.size_at_target,
            shrink_from_years=self.shrink_from_years,
            shrink_to_years=self.shrink_to_years,
        )
        for key in ("size_at_start", "size_at_target"):
            v = getattr(self, key)
            if not 0.0 <= v < 1.0:
                raise StrategyError(
                    f"{who}: {key}={v!r} must be a decimal weight in [0, 1), e.g. 0.025 for 2.5 %"
                )
        if not (np.isfinite(self.shrink_from_years) and np.isfinite(self.shrink_to_years)):
            raise StrategyError(f"{who}: the shrink years must be finite numbers of years")
        if not self.shrink_from_years > self.shrink_to_years:
            raise StrategyError(
                f"{who}: shrink_from_years={self.shrink_from_years!r} must exceed "
                f"shrink_to_years={self.shrink_to_years!r} (years to the target date, e.g. 25 "
                "and 0)"
            )
        if self.asset in tuple(self.base.assets):
            raise StrategyError(
                f"{who}: the base strategy already holds {self.asset!r}; lay the sleeve over "
                "a glide path without it"
            )
        if self.base.sleeve_band is not None:
            raise StrategyError(f"{who}: the base strategy already has a sleeve band")
        if not self.name:
            label = (
                f"{self.base.name} + {self.size_at_start * 100:g}%->"
                f"{self.size_at_target * 100:g}% {self.asset}"
            )
            object.__setattr__(self, "name", label)

    # -- the Strategy protocol -------------------------------------------------------

    @property
    def assets(self) -> tuple[str, ...]:
        """The base's assets, then the sleeve's."""
        return (*tuple(self.base.assets), self.asset)

    @property
    def rebalance(self) -> RebalanceRule:
        """The base's rule (the sleeve is rebalanced with the whole portfolio)."""
        return self.base.rebalance

    @property
    def sleeve_band(self) -> SleeveBand | None:
        """None: the sleeve has no band of its own."""
        return None

    @property
    def smoothing(self) -> Smoothing | None:
        return self.base.smoothing

    @property
    def depends_on_returns(self) -> bool:
        """The base's: the sleeve's size depends on age alone."""
        return self.base.depends_on_returns

    def sleeve_at(self, years_to_retirement: FloatArray) -> FloatArray:
        """Sleeve weight, decimal, at each number of years to the target date, (n,)."""
        x = np.asarray(years_to_retirement, dtype=np.float64).ravel()
        return np.interp(
            x,
            [self.shrink_to_years, self.shrink_from_years],
            [self.size_at_target, self.size_at_start],
        )

    def describe(self) -> str:
        """One line: the sleeve's glide and funding."""
        return (
            f"{self.size_at_start:.1%} {self.asset} until {self.shrink_from_years:g} years "
            f"before the target date, linear to {self.size_at_target:.1%} at "
            f"{self.shrink_to_years:g}, funded pro rata, rebalanced with the glide path"
        )

    def target_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """Base weights times ``1 - sleeve`` and the sleeve, (1 or n_scenarios, T, A + 1).

        ``past_returns`` is in the order of :attr:`assets`; the base sees its own columns.
        """
        r = np.asarray(past_returns, dtype=np.float64)
        n_base = len(self.base.assets)
        base_w = np.asarray(self.base.target_weights(schedule, r[..., :n_base]), np.float64)
        s = self.sleeve_at(schedule.years_to_retirement)  # (T,)
        funded = base_w * (1.0 - s)[:, None]
        sleeve = np.broadcast_to(s[:, None], (*funded.shape[:-1], 1))
        return np.concatenate([funded, sleeve], axis=-1)
