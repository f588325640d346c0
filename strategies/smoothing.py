"""Income smoothing: a reserve that banks part of good returns and pays back in bad ones.

Some pension wealth products (with-profits funds, collective defined-contribution
schemes, "smoothed" default funds) credit members a return that is less volatile than
the fund's: a reserve takes a share of returns above a benchmark and pays back when
returns fall short of it. :class:`IncomeSmoothing` implements the simulator's
:class:`strategies.base.Smoothing` protocol; :class:`Smoothed` lays it over any
strategy.

Accounting, per scenario and period (``B`` balance, ``R`` reserve, ``g`` the
portfolio's return, ``c`` the credited return; the reserve is invested in the same
portfolio)::

    B * g + R * (1 + g) == B * c + R_new

so money is only moved between account and reserve, never created or lost. The reserve
never goes below zero (it pays out at most what it holds above its floor).

Units: ``gain_rate`` is whatever the simulator passes -- ``backtest.simulate`` passes
**real** returns per period -- so ``benchmark_annual`` is a real rate, decimal a year,
converted to a per-period rate as ``(1 + b) ** (1 / periods_per_year) - 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strategies.base import (
    Schedule,
    Smoothing,
    StateTable,
    Strategy,
    check_numbers,
    check_strategy,
)
from strategies.errors import StrategyError
from strategies.overlay import Overlay
from strategies.types import FloatArray


@dataclass(frozen=True)
class IncomeSmoothing:
    """A smoothing reserve between the pooled fund and the member's account.

    Each period, with excess ``e = g - benchmark`` (per period):

    * ``e > 0``: the reserve takes ``share_above * e`` of the balance; the member is
      credited ``g - share_above * e``.
    * ``e < 0``: the reserve pays ``payback_share * (-e)`` of the balance, but never more
      than it holds above ``reserve_floor * balance``; the member is credited ``g`` plus
      what was paid.
    * If ``reserve_cap`` is set, any reserve above ``reserve_cap * balance`` is released
      to the member in the same period.

    Parameters
    ----------
    share_above
        Share of the excess over the benchmark the reserve keeps, decimal in [0, 1].
    benchmark_annual
        Benchmark return, decimal a year, on the basis of the returns passed in (real in
        ``backtest.simulate``).
    payback_share
        Share of a shortfall below the benchmark the reserve makes good, decimal in
        [0, 1].
    reserve_floor
        The reserve stops paying out at this share of the member's balance, decimal >= 0.
    reserve_cap
        Optional ceiling on the reserve as a share of the balance, decimal > floor; the
        excess is credited back to the member.
    """

    share_above: float = 0.5
    benchmark_annual: float = 0.03
    payback_share: float = 1.0
    reserve_floor: float = 0.0
    reserve_cap: float | None = None

    def __post_init__(self) -> None:
        check_numbers(
            "IncomeSmoothing",
            ("reserve_cap",),
            share_above=self.share_above,
            benchmark_annual=self.benchmark_annual,
            payback_share=self.payback_share,
            reserve_floor=self.reserve_floor,
            reserve_cap=self.reserve_cap,
        )
        for field_name in ("share_above", "payback_share"):
            v = getattr(self, field_name)
            if not 0.0 <= v <= 1.0:
                raise StrategyError(
                    f"IncomeSmoothing.{field_name}={v!r} must be a decimal in [0, 1]"
                )
        if not -0.5 < self.benchmark_annual < 1.0:
            raise StrategyError(
                f"IncomeSmoothing.benchmark_annual={self.benchmark_annual!r} must be a decimal a "
                "year, e.g. 0.03 for 3 %"
            )
        if not self.reserve_floor >= 0.0:
            raise StrategyError(
                f"IncomeSmoothing.reserve_floor={self.reserve_floor!r} must be >= 0 (a share of "
                "the balance)"
            )
        if self.reserve_cap is not None and not self.reserve_cap > self.reserve_floor:
            raise StrategyError(
                f"IncomeSmoothing.reserve_cap={self.reserve_cap!r} must exceed reserve_floor="
                f"{self.reserve_floor}"
            )

    def describe(self) -> str:
        """One line: the smoothing rule."""
        cap = f", cap {self.reserve_cap:.0%} of balance" if self.reserve_cap is not None else ""
        return (
            f"smoothing: reserve keeps {self.share_above:.0%} of returns above "
            f"{self.benchmark_annual:.1%}/yr, pays back {self.payback_share:.0%} of shortfalls{cap}"
        )

    def credit(
        self,
        gain_rate: FloatArray,
        reserve: FloatArray,
        balance: FloatArray,
        periods_per_year: int,
    ) -> tuple[FloatArray, FloatArray]:
        """Return ``(credited_rate, new_reserve)``, both (n_scenarios,).

        Parameters
        ----------
        gain_rate
            The portfolio's return this period, decimal per period, (n,).
        reserve
            Reserve at the start of the period (same units as ``balance``), (n,), >= 0.
        balance
            Member's balance at the start of the period (before returns), (n,), >= 0.
        periods_per_year
            1 (annual) or 12 (monthly).
        """
        g = np.asarray(gain_rate, dtype=np.float64)
        res = np.asarray(reserve, dtype=np.float64)
        bal = np.asarray(balance, dtype=np.float64)
        bench = (1.0 + self.benchmark_annual) ** (1.0 / periods_per_year) - 1.0
        grown = res * (1.0 + g)  # the reserve earns the portfolio's return
        excess = g - bench
        to_reserve = self.share_above * np.maximum(excess, 0.0) * bal
        wanted = self.payback_share * np.maximum(-excess, 0.0) * bal
        available = np.maximum(grown - self.reserve_floor * bal, 0.0)
        paid = np.minimum(wanted, available)
        new_reserve = grown + to_reserve - paid
        if self.reserve_cap is not None:
            released = np.maximum(new_reserve - self.reserve_cap * bal, 0.0)
            new_reserve = new_reserve - released
            paid = paid + released
        transfer = paid - to_reserve  # to the member, currency units
        credited = g + np.divide(transfer, bal, out=np.zeros_like(bal), where=bal > 0)
        # With no balance nothing can be credited: keep any transfer in the reserve so the
        # identity still holds exactly.
        new_reserve = np.where(bal > 0, new_reserve, grown)
        return credited, new_reserve


@dataclass(frozen=True)
class Smoothed(Overlay):
    """Any strategy with an income-smoothing overlay; everything else is the base's
    (assets, rebalancing and sleeve band: :class:`strategies.overlay.Overlay`).

    Parameters
    ----------
    base
        The strategy to smooth.
    smoothing
        The overlay (e.g. :class:`IncomeSmoothing`).
    name
        Label; default ``"<base name> (smoothed)"``.
    """

    base: Strategy
    smoothing: IncomeSmoothing
    name: str = ""

    def __post_init__(self) -> None:
        check_strategy("Smoothed", self.base)
        if not isinstance(self.smoothing, Smoothing):
            raise StrategyError(
                f"Smoothed: smoothing={self.smoothing!r} is not a smoothing rule; pass e.g. "
                "IncomeSmoothing(share_above=0.5)"
            )
        if self.base.smoothing is not None:
            raise StrategyError(f"Smoothed: base strategy {self.base.name!r} is already smoothed")
        if not self.name:
            object.__setattr__(self, "name", f"{self.base.name} (smoothed)")

    @property
    def depends_on_returns(self) -> bool:
        """The base's: the overlay smooths credited returns, not the weights."""
        return self.base.depends_on_returns

    def state_table(self, schedule: Schedule) -> StateTable | None:
        """The base's (same assets): an adaptive base stays adaptive under the overlay."""
        return self.base.state_table(schedule)

    def describe(self) -> str:
        """One line: the base and the smoothing rule."""
        return f"{self.base.name}; {self.smoothing.describe()}"

    def target_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """The base's weights."""
        return self.base.target_weights(schedule, past_returns)
