"""Strategies laid over a base strategy: the base's assets and trading settings, passed on.

:class:`Overlay` is the mixin of every wrapper that changes one thing about a strategy
and keeps the rest (:class:`strategies.Smoothed`, :class:`strategies.ExitSleeve`,
:class:`strategies.SellAfterDrawdown`): it reads ``assets``, ``rebalance`` and
``sleeve_band`` off ``base``, so the wrapper states only what it changes.

It adds read-only properties and no dataclass fields, so the wrapper's frozen dataclass
gives equality, hashing, ``repr`` and pickling from its own fields as before. It does not
pass ``smoothing`` on: :class:`strategies.Smoothed` holds its own as a field (a dataclass
would read an inherited property as that field's default), and the simulator's engine
choice reads ``strategy.smoothing`` (``backtest.simulate``: the compiled kernel refuses a
smoothed strategy), so each wrapper says what it gives there.
"""

from __future__ import annotations

from strategies.base import RebalanceRule, SleeveBand, Strategy

__all__ = ["Overlay"]


class Overlay:
    """Mixin: ``assets``, ``rebalance`` and ``sleeve_band`` are ``base``'s.

    The class using it declares ``base: Strategy`` as a dataclass field.
    """

    base: Strategy

    @property
    def assets(self) -> tuple[str, ...]:
        """The base's assets, in its order."""
        return tuple(self.base.assets)

    @property
    def rebalance(self) -> RebalanceRule:
        """The base's rebalancing rule."""
        return self.base.rebalance

    @property
    def sleeve_band(self) -> SleeveBand | None:
        """The base's sleeve band, if any."""
        return self.base.sleeve_band
