"""Adaptive glide paths: weights by age *and* by how the member stands.

An :class:`AdaptivePolicy` is a lookup table: for each plan year (an age) and each node
of a grid of the member's real wealth at the start of that year, the target weights.
Between nodes the weights are interpolated linearly; below the first and above the last
node they are held constant (clamped). The simulator reads the table through
:meth:`AdaptivePolicy.state_table` and sets each scenario's weights for period ``t``
from its own real wealth at the start of period ``t`` (before that period's flows), so
the weights use only what is known when they are set (no look-ahead).

The state can be read as real wealth or as a **funded ratio**::

    funded ratio = (wealth + PV of the remaining contributions) / PV of the remaining spending

both present values in real USD at the start of the year, discounted at the policy's
real rate (``discount_rate_real``). At a fixed age the funded ratio is an affine,
increasing function of wealth, so interpolating the table over wealth or over the funded
ratio gives the same weights; ``state`` only says which axis reports and charts show.
(Net of contributions the ratio equals ``wealth / (PV spending - PV contributions)`` at
1; the form above stays defined while contributions still outweigh the spending.)

Tables are built by the dynamic-programming solver (``optimize.dynamic``), which also
stores the value it promises from every node (``value``: e.g. the probability that the
money lasts) and the present values. Everything here is pure: no I/O, no simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from strategies.base import RebalanceRule, Schedule, SleeveBand, Smoothing, StateTable
from strategies.errors import StrategyError
from strategies.types import FloatArray

StateKind = Literal["wealth", "funded_ratio"]

#: Weights further than this outside [0, 1] or from summing to one are rejected; closer
#: ones (solver round-off) are clipped and renormalised.
_WEIGHT_TOL = 1e-9


def _frozen(a: object, who: str, name: str, ndim: int) -> FloatArray:
    try:
        arr = np.array(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise StrategyError(f"{who}: {name} must be an array of numbers") from None
    if arr.ndim != ndim:
        raise StrategyError(f"{who}: {name} must be {ndim}-D; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise StrategyError(f"{who}: {name} contains NaN or infinity")
    arr.flags.writeable = False
    return arr


def interpolate_rows(grid: FloatArray, table: FloatArray, x: FloatArray) -> FloatArray:
    """Linear interpolation of ``table`` (n_nodes, k) over ``grid`` (n_nodes,) at ``x`` (m,),
    clamped to the end rows; returns (m, k). One definition for the policy's lookups."""
    x = np.asarray(x, dtype=np.float64)
    j = np.clip(np.searchsorted(grid, x, side="right") - 1, 0, grid.size - 2)
    lo, hi = grid[j], grid[j + 1]
    f = np.clip((x - lo) / (hi - lo), 0.0, 1.0)[:, None]
    return table[j] * (1.0 - f) + table[j + 1] * f


@dataclass(frozen=True)
class AdaptivePolicy:
    """Target weights as a table over (plan year, real wealth), interpolated linearly.

    Attributes
    ----------
    name
        Label used in tables and charts.
    assets
        Asset names, in the order of the last axis of ``weights``.
    ages
        Age in years at the start of each plan year, (n_years,), one year apart.
    wealth_grid
        Real wealth (USD of the plan's start date) at the start of each year, before that
        year's contributions and withdrawals, (n_years, n_states), strictly increasing
        along axis 1.
    weights
        Target weights at each node, (n_years, n_states, n_assets), in [0, 1], rows
        summing to 1.
    value
        What the solver promises from each node (e.g. probability that the money lasts,
        decimal), (n_years, n_states); charts show it beside the weights.
    spending_pv, contribution_pv
        Present value, real USD at the start of each year, of the spending still to come
        and of the contributions still to come, (n_years,), at ``discount_rate_real``.
    discount_rate_real
        Real annual rate (decimal) of those present values.
    state
        ``"wealth"`` or ``"funded_ratio"``: the axis reports show (the lookup is the same).
    median_wealth
        Real wealth at the start of each year on the policy's median path under the
        solver's return model, (n_years,), or ``None``; :meth:`target_weights` returns the
        weights along it.
    objective
        How the table was solved (a short description for reports).
    rebalance
        Rebalanced to the looked-up weights every year.
    """

    name: str
    assets: tuple[str, ...]
    ages: FloatArray
    wealth_grid: FloatArray
    weights: FloatArray
    value: FloatArray
    spending_pv: FloatArray
    contribution_pv: FloatArray
    discount_rate_real: float = 0.0
    state: StateKind = "wealth"
    median_wealth: FloatArray | None = None
    objective: str = ""
    rebalance: RebalanceRule = field(default_factory=RebalanceRule)
    sleeve_band: SleeveBand | None = None
    smoothing: Smoothing | None = None

    #: Its held weights follow each scenario's real wealth, which past returns made.
    depends_on_returns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        who = f"AdaptivePolicy {self.name!r}"
        names = tuple(self.assets)
        if not names or len(set(names)) != len(names):
            raise StrategyError(f"{who}: assets {names} must be a non-empty list of unique names")
        object.__setattr__(self, "assets", names)
        ages = _frozen(self.ages, who, "ages", 1)
        grid = _frozen(self.wealth_grid, who, "wealth_grid", 2)
        w = np.array(self.weights, dtype=np.float64)
        n_y = ages.size
        if n_y < 1 or np.any(np.abs(np.diff(ages) - 1.0) > 1e-9):
            raise StrategyError(f"{who}: ages must be one year apart; got {ages[:5]}...")
        if grid.shape[0] != n_y or grid.shape[1] < 2:
            raise StrategyError(
                f"{who}: wealth_grid has shape {grid.shape}; expected ({n_y}, n_states >= 2)"
            )
        if np.any(np.diff(grid, axis=1) <= 0):
            raise StrategyError(f"{who}: wealth_grid must be strictly increasing along axis 1")
        if w.shape != (*grid.shape, len(names)):
            raise StrategyError(
                f"{who}: weights have shape {w.shape}; expected {(*grid.shape, len(names))}"
            )
        if not np.all(np.isfinite(w)) or w.min() < -_WEIGHT_TOL or w.max() > 1 + _WEIGHT_TOL:
            raise StrategyError(f"{who}: weights must be decimals in [0, 1]")
        if np.max(np.abs(w.sum(axis=2) - 1.0)) > 1e-6:
            raise StrategyError(f"{who}: weights must sum to 1 at every node")
        w = np.clip(w, 0.0, 1.0)
        w /= w.sum(axis=2, keepdims=True)
        w.flags.writeable = False
        object.__setattr__(self, "ages", ages)
        object.__setattr__(self, "wealth_grid", grid)
        object.__setattr__(self, "weights", w)
        value = _frozen(self.value, who, "value", 2)
        if value.shape != grid.shape:
            raise StrategyError(f"{who}: value has shape {value.shape}; expected {grid.shape}")
        object.__setattr__(self, "value", value)
        for name in ("spending_pv", "contribution_pv"):
            pv = _frozen(getattr(self, name), who, name, 1)
            if pv.shape != (n_y,) or pv.min() < 0:
                raise StrategyError(f"{who}: {name} must be >= 0 with shape ({n_y},)")
            object.__setattr__(self, name, pv)
        if self.state not in ("wealth", "funded_ratio"):
            raise StrategyError(f"{who}: state={self.state!r}; use 'wealth' or 'funded_ratio'")
        if self.state == "funded_ratio" and np.any(self.spending_pv <= 0):
            raise StrategyError(
                f"{who}: state='funded_ratio' needs spending still to come at every age "
                "(spending_pv > 0); use state='wealth'"
            )
        if self.median_wealth is not None:
            mw = _frozen(self.median_wealth, who, "median_wealth", 1)
            if mw.shape != (n_y,):
                raise StrategyError(f"{who}: median_wealth must have shape ({n_y},)")
            object.__setattr__(self, "median_wealth", mw)

    # ------------------------------------------------------------------ geometry
    @property
    def n_years(self) -> int:
        return int(self.ages.size)

    @property
    def n_states(self) -> int:
        return int(self.wealth_grid.shape[1])

    def funded_ratio(self, year: int, wealth: FloatArray) -> FloatArray:
        """Funded ratio at plan year ``year`` of real ``wealth`` (USD), see module doc."""
        return (np.asarray(wealth) + self.contribution_pv[year]) / self.spending_pv[year]

    def wealth_of_funded_ratio(self, year: int, ratio: FloatArray) -> FloatArray:
        """Real wealth (USD) at plan year ``year`` whose funded ratio is ``ratio``."""
        return np.asarray(ratio) * self.spending_pv[year] - self.contribution_pv[year]

    def state_grid(self) -> FloatArray:
        """The grid in the units of ``state`` (USD or funded ratio), (n_years, n_states)."""
        if self.state == "wealth":
            return self.wealth_grid
        return (self.wealth_grid + self.contribution_pv[:, None]) / self.spending_pv[:, None]

    def weights_at(self, year: int, wealth: FloatArray) -> FloatArray:
        """Weights at plan year ``year`` for real ``wealth`` (m,), (m, n_assets)."""
        if not 0 <= year < self.n_years:
            raise StrategyError(
                f"AdaptivePolicy {self.name!r}: year {year} outside 0..{self.n_years - 1}"
            )
        w = np.atleast_1d(np.asarray(wealth, dtype=np.float64))
        return interpolate_rows(self.wealth_grid[year], self.weights[year], w)

    def value_at(self, year: int, wealth: FloatArray) -> FloatArray:
        """The solver's value at plan year ``year`` for real ``wealth`` (m,), (m,)."""
        w = np.atleast_1d(np.asarray(wealth, dtype=np.float64))
        return np.interp(w, self.wealth_grid[year], self.value[year])

    def rows_for(self, schedule: Schedule) -> np.ndarray:
        """Plan year (table row) of each period of ``schedule``; an error if one is missing."""
        who = f"AdaptivePolicy {self.name!r}"
        if schedule.periods_per_year != 1:
            raise StrategyError(
                f"{who}: the policy decides once a year; simulate annual periods "
                f"(got {schedule.periods_per_year} periods a year)"
            )
        rows = np.rint(schedule.age_start - self.ages[0]).astype(np.int64)
        if (
            rows.size == 0
            or rows.min() < 0
            or rows.max() >= self.n_years
            or np.any(np.abs(self.ages[0] + rows - schedule.age_start) > 1e-9)
        ):
            raise StrategyError(
                f"{who}: it was solved for ages {self.ages[0]:g}-{self.ages[-1] + 1:g}, but the "
                f"plan runs from {schedule.age_start[0]:g} to {schedule.age_start[-1] + 1:g}; "
                "solve it for this plan (optimize.dynamic.solve_adaptive)"
            )
        return rows

    # ------------------------------------------------------------------ Strategy protocol
    def state_table(self, schedule: Schedule) -> StateTable:
        """The table the simulator interpolates each period at the scenario's real wealth."""
        rows = self.rows_for(schedule)
        return StateTable(wealth_grid=self.wealth_grid[rows], weights=self.weights[rows])

    def target_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """Weights along the policy's median wealth path, (1, n_periods, n_assets).

        These are *not* what the simulator holds (it reads :meth:`state_table` at each
        scenario's own wealth); they describe the policy as an age-only path, e.g. for a
        chart. An error when the solver stored no median path.
        """
        if self.median_wealth is None:
            raise StrategyError(
                f"AdaptivePolicy {self.name!r} has no median path; its weights depend on "
                "wealth: simulate it (the simulator reads state_table) or solve it with "
                "optimize.dynamic.solve_adaptive, which stores one"
            )
        rows = self.rows_for(schedule)
        out = np.stack([self.weights_at(int(r), self.median_wealth[r])[0] for r in rows])
        return out[None]

    def equity_share(self, equity_assets: tuple[str, ...]) -> FloatArray:
        """Summed weight of ``equity_assets`` at every node, (n_years, n_states)."""
        idx = [i for i, a in enumerate(self.assets) if a in equity_assets]
        return self.weights[:, :, idx].sum(axis=2)
