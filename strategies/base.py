"""The contract between a strategy and the simulator.

A strategy says *what to hold when*. The simulator (``backtest.simulate``) hands it a
:class:`Schedule` (the member's age at the start of every period) and the asset returns
of every scenario, and gets back target weights for every period. Weights for period
``t`` are held during period ``t`` and may depend only on returns of periods ``< t``
(no look-ahead); the simulator passes read-only arrays.

Everything here is pure: no I/O, no simulation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from strategies.errors import StrategyError
from strategies.types import FloatArray

#: Tolerance for "weights sum to one" checks: float round-off on a handful of additions.
WEIGHT_SUM_TOL = 1e-9


def check_numbers(who: str, optional: tuple[str, ...] = (), **values: object) -> None:
    """Raise :class:`StrategyError` unless every value is a real number (not a bool).

    Called first in constructors so that a string or ``None`` where a number belongs is
    reported by name instead of surfacing as a ``TypeError`` from a comparison. Names in
    ``optional`` may also be ``None``.
    """
    for name, value in values.items():
        if value is None and name in optional:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise StrategyError(
                f"{who}: {name}={value!r} must be a number, not {type(value).__name__}"
            )


def check_asset_names(who: str, assets: object, minimum: int = 1) -> tuple[str, ...]:
    """``assets`` as a tuple of at least ``minimum`` unique non-empty names, else StrategyError."""
    if isinstance(assets, str) or not isinstance(assets, (tuple, list)):
        raise StrategyError(
            f"{who}: assets={assets!r} must be a tuple of asset names, e.g. "
            "('us_stocks', 'tbonds_10y')"
        )
    names = tuple(assets)
    if (
        len(names) < minimum
        or len(set(names)) != len(names)
        or not all(isinstance(a, str) and a for a in names)
    ):
        need = "a non-empty" if minimum <= 1 else f"{minimum} or more"
        raise StrategyError(f"{who}: assets {names} must be {need} list of unique names")
    return names


def check_strategy(who: str, base: object) -> None:
    """Raise :class:`StrategyError` unless ``base`` satisfies the :class:`Strategy` protocol."""
    if not isinstance(base, Strategy):
        raise StrategyError(
            f"{who}: {base!r} is not a strategy (it needs name, assets, rebalance, "
            "sleeve_band, smoothing, depends_on_returns, state_table and target_weights; "
            "derive from strategies.NoStateTable for the state_table of a strategy that is "
            "not adaptive); pass e.g. preset('fixed_60_40')"
        )


@dataclass(frozen=True)
class Schedule:
    """The time axis a strategy is asked about.

    Attributes
    ----------
    age_start
        Member's age in years at the start of each period, shape (n_periods,).
    retirement_age
        Age in years at which contributions stop and withdrawals start.
    periods_per_year
        1 for annual periods, 12 for monthly periods.
    """

    age_start: FloatArray
    retirement_age: float
    periods_per_year: int

    @property
    def n_periods(self) -> int:
        return int(self.age_start.shape[0])

    @property
    def years_to_retirement(self) -> FloatArray:
        """Years until retirement at the start of each period; negative after retirement."""
        return self.retirement_age - self.age_start

    @classmethod
    def from_ages(
        cls, start_age: float, end_age: float, retirement_age: float, periods_per_year: int
    ) -> Schedule:
        """Periods of length ``1 / periods_per_year`` years from ``start_age`` to ``end_age``."""
        n = round((end_age - start_age) * periods_per_year)
        ages = start_age + np.arange(n, dtype=np.float64) / periods_per_year
        return cls(
            age_start=ages,
            retirement_age=float(retirement_age),
            periods_per_year=int(periods_per_year),
        )


@dataclass(frozen=True)
class StateTable:
    """Target weights by real wealth at the start of each period (adaptive policies).

    A strategy whose ``state_table(schedule)`` returns one is adaptive: the simulator
    sets each scenario's target weights for period ``t`` by linear interpolation of
    ``weights[t]`` over ``wealth_grid[t]`` at that scenario's real wealth at the start of
    period ``t`` (after period ``t - 1``'s end flows, before period ``t``'s start flows),
    clamped to the grid's ends, then applies the strategy's rebalancing rule as usual.
    Only what is known at the start of the period is used.

    Attributes
    ----------
    wealth_grid
        (n_periods, n_states), real USD of the plan's start date, strictly increasing
        along axis 1; at least two states.
    weights
        (n_periods, n_states, n_assets), decimal weights in [0, 1] summing to 1 per row.
    """

    wealth_grid: FloatArray
    weights: FloatArray

    def __post_init__(self) -> None:
        g = np.array(self.wealth_grid, dtype=np.float64)
        w = np.array(self.weights, dtype=np.float64)
        if g.ndim != 2 or g.shape[1] < 2:
            raise StrategyError(
                f"StateTable.wealth_grid has shape {g.shape}; expected (n_periods, n_states) "
                "with at least two states"
            )
        if w.ndim != 3 or w.shape[:2] != g.shape:
            raise StrategyError(
                f"StateTable.weights has shape {w.shape}; expected ({g.shape[0]}, {g.shape[1]}, "
                "n_assets)"
            )
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(w))):
            raise StrategyError("StateTable holds NaN or infinity")
        if np.any(np.diff(g, axis=1) <= 0):
            t = int(np.argwhere(np.diff(g, axis=1) <= 0)[0, 0])
            raise StrategyError(
                f"StateTable.wealth_grid must increase strictly along each row; row {t} does not"
            )
        w = validate_weights(w, tuple(str(a) for a in range(w.shape[2])), "StateTable")
        for v in (g, w):
            v.flags.writeable = False
        object.__setattr__(self, "wealth_grid", g)
        object.__setattr__(self, "weights", w)

    @property
    def n_periods(self) -> int:
        return int(self.wealth_grid.shape[0])

    @property
    def n_assets(self) -> int:
        return int(self.weights.shape[2])


@dataclass(frozen=True)
class RebalanceRule:
    """When the simulator trades drifted holdings back to the target weights.

    Attributes
    ----------
    kind
        ``"none"``: buy and hold (new contributions still buy the target mix);
        ``"calendar"``: every ``every_months`` months;
        ``"band"``: whenever a weight drifts from its target by more than ``band``.
    every_months
        Calendar interval in months (1 monthly, 3 quarterly, 12 annual). In an annual
        simulation an interval shorter than a year means every period.
    band
        Tolerance for ``kind="band"``, decimal (0.05 = 5 percentage points when absolute,
        5 % of the target weight when relative).
    band_kind
        ``"absolute"``: ``|w - target| > band``; ``"relative"``: ``|w / target - 1| > band``.
    """

    kind: Literal["none", "calendar", "band"] = "calendar"
    every_months: int = 12
    band: float = 0.05
    band_kind: Literal["absolute", "relative"] = "absolute"

    def __post_init__(self) -> None:
        check_numbers("RebalanceRule", every_months=self.every_months, band=self.band)
        if self.kind not in ("none", "calendar", "band"):
            raise StrategyError(
                f"RebalanceRule.kind={self.kind!r} is not allowed; use 'none', 'calendar' or 'band'"
            )
        if self.every_months < 1:
            raise StrategyError(f"RebalanceRule.every_months={self.every_months} must be >= 1")
        if not 0 < self.band < 1:
            raise StrategyError(f"RebalanceRule.band={self.band} must be in (0, 1), e.g. 0.05")
        if self.band_kind not in ("absolute", "relative"):
            raise StrategyError(
                f"RebalanceRule.band_kind={self.band_kind!r}; use 'absolute' or 'relative'"
            )

    def every_periods(self, periods_per_year: int) -> int:
        """Calendar interval expressed in simulation periods (at least 1)."""
        return max(1, round(self.every_months * periods_per_year / 12))


@dataclass(frozen=True)
class SleeveBand:
    """A sleeve's own rebalancing band, on top of the strategy's rule.

    When the sleeve asset's weight leaves ``[lower * target, upper * target]`` the
    simulator trades the sleeve alone back to its target, funding or absorbing the
    difference pro rata from the other holdings.
    """

    asset: str
    lower: float = 0.5
    upper: float = 1.5

    def __post_init__(self) -> None:
        check_numbers(f"SleeveBand for {self.asset!r}", lower=self.lower, upper=self.upper)
        if not 0 <= self.lower < 1 < self.upper:
            raise StrategyError(
                f"SleeveBand for {self.asset!r}: need 0 <= lower < 1 < upper, "
                f"got lower={self.lower}, upper={self.upper}"
            )


@runtime_checkable
class Smoothing(Protocol):
    """An income-smoothing reserve between the pooled fund and the member's account.

    Called by the simulator once per period, vectorised over scenarios. It must conserve
    money: ``balance * gain_rate + reserve * (1 + gain_rate)
    == balance * credited_rate + new_reserve`` (the reserve is invested in the same
    portfolio), to round-off.
    """

    def credit(
        self,
        gain_rate: FloatArray,
        reserve: FloatArray,
        balance: FloatArray,
        periods_per_year: int,
    ) -> tuple[FloatArray, FloatArray]:
        """Return ``(credited_rate, new_reserve)``, both shape (n_scenarios,)."""
        ...


@runtime_checkable
class Strategy(Protocol):
    """What the simulator needs from any strategy (glide path, mix, overlay...).

    Attributes
    ----------
    name
        Human-readable label used in tables and charts.
    assets
        Asset names, matched by name against the scenarios' assets.
    rebalance
        How drifted holdings are traded back to target.
    sleeve_band
        Optional band rule for one asset (crypto sleeves); ``None`` for most strategies.
    smoothing
        Optional income-smoothing overlay; ``None`` for most strategies.
    depends_on_returns
        True when the weights the simulator holds can differ between scenarios because
        they react to past returns or to the wealth those returns made (volatility
        targets, risk parity, adaptive policies, overlays on them); False when they are
        a function of age alone, the same in every scenario, so that one glide path can
        be drawn, tabulated by age, or shared by a whole fund.
    state_table
        ``state_table(schedule)``: the :class:`StateTable` of an adaptive strategy, whose
        targets the simulator reads by each scenario's real wealth (and then does not
        call ``target_weights``); ``None`` for every other strategy (derive from
        :class:`NoStateTable` for that).
    """

    # Read-only properties, so that frozen dataclasses (and classes that derive these
    # from a base strategy) satisfy the protocol under a type checker.
    @property
    def name(self) -> str: ...
    @property
    def assets(self) -> tuple[str, ...]: ...
    @property
    def rebalance(self) -> RebalanceRule: ...
    @property
    def sleeve_band(self) -> SleeveBand | None: ...
    @property
    def smoothing(self) -> Smoothing | None: ...
    @property
    def depends_on_returns(self) -> bool: ...

    def state_table(self, schedule: Schedule) -> StateTable | None:
        """Targets by real wealth for ``schedule`` (adaptive strategies), else ``None``."""
        ...

    def target_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """Target weights, shape (1 or n_scenarios, n_periods, n_assets).

        ``past_returns`` holds decimal simple nominal returns per period, shape
        (n_scenarios, n_periods, n_assets) in the order of ``assets``. Row ``t`` of the
        result may use ``past_returns[:, :t]`` only. Weights are in [0, 1] and sum to 1.
        Static strategies return a leading axis of length 1 (broadcast over scenarios).
        """
        ...


class NoStateTable:
    """Mixin for strategies whose targets are their ``target_weights``: no state table.

    Gives the :class:`Strategy` protocol's ``state_table`` for every strategy that is not
    adaptive (glide paths, mixes, volatility targets, sleeves).
    """

    def state_table(self, schedule: Schedule) -> StateTable | None:
        """``None``: the simulator holds :meth:`target_weights`, not a table by wealth."""
        return None


def validate_weights(weights: FloatArray, assets: tuple[str, ...], who: str) -> FloatArray:
    """Check a weight array's last axis against ``assets``: in [0, 1] and summing to 1."""
    w = np.asarray(weights, dtype=np.float64)
    if w.shape[-1] != len(assets):
        raise StrategyError(
            f"{who}: weights have {w.shape[-1]} columns for {len(assets)} assets {assets}"
        )
    if not np.all(np.isfinite(w)):
        raise StrategyError(f"{who}: weights contain NaN or infinity")
    if w.min(initial=0.0) < -WEIGHT_SUM_TOL or w.max(initial=0.0) > 1 + WEIGHT_SUM_TOL:
        raise StrategyError(
            f"{who}: weights must lie in [0, 1]; got min {w.min():.4g}, max {w.max():.4g}"
        )
    sums = w.sum(axis=-1)
    worst = float(np.max(np.abs(sums - 1.0))) if sums.size else 0.0
    if worst > 1e-6:
        raise StrategyError(f"{who}: weights must sum to 1; worst row sums to {1 + worst:.6f}")
    return w
