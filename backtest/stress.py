"""Deterministic stress shocks applied to any scenario set.

A shock is a frozen value with ``apply(scenarios, start_period) -> Scenarios``: it
returns a new set (the input is read-only and untouched) in which one asset's returns
are overwritten from ``start_period`` on, in every scenario. Only the shocked asset
changes, so a shock on an asset a strategy does not hold changes nothing.

* :class:`PathShock`: a stated path of returns (e.g. Bitcoin -80 % in one year) or a
  replay of a historical window (:func:`replay`), placed at ``start_period``;
* :class:`CorrelationJump`: in the scenario's own crash years (equities down by at least
  a threshold over the year) the asset's log-return shocks move with equities with
  correlation ``rho``;
* :class:`DriftShift`: the asset's log returns moved by a stated path of annual log
  shifts (the randomness kept, the mean moved: a multi-year bear, a decaying premium);
* :class:`Drag`: a yearly cost charged on the asset alone (a fund's expense ratio);
* :class:`ColumnShock`: the asset's returns replaced by another per-scenario path (a
  regime drawn elsewhere, e.g. on common random numbers);
* :class:`Impairment`: the asset lost for good (-100 %) at a period per scenario, and
  the strategy holds none of it afterwards (:class:`strategies.sleeve_exit.ExitSleeve`);
* :class:`Panic`: returns unchanged, the member sells the asset after a stated fall
  from its running peak and stays out (:class:`strategies.sleeve_exit.SellAfterDrawdown`).

Every shock has ``holding(strategy, start_period)``: the strategy the member follows
under the shock (the same strategy except for :class:`Impairment` and :class:`Panic`).
A shock on an asset the strategy does not hold, or holds at weight 0, changes nothing.

``start_period`` comes from the plan: :func:`period_at_age`. Paths are converted
between frequencies by compounding (monthly to annual, whole years only) or by spreading
a year's log return evenly over its months (annual to monthly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.errors import DataError
from backtest.outcomes import mean_unpaid_years_given_failure, unpaid_years
from backtest.plan import Plan
from backtest.scenarios import Scenarios
from backtest.simulate import SimulationResult, simulate
from backtest.types import FloatArray, Frequency, periods_per_year
from strategies.base import Strategy
from strategies.sleeve_exit import ExitSleeve, SellAfterDrawdown


def period_at_age(plan: Plan, age: float, frequency: Frequency) -> int:
    """Index of the period starting at ``age`` in a simulation of ``plan``."""
    ppy = periods_per_year(frequency)
    k = (age - plan.start_age) * ppy
    if abs(k - round(k)) > 1e-9 or not 0 <= round(k) < plan.n_periods(ppy):
        raise DataError(
            f"age {age} is not the start of a {frequency} period of the plan "
            f"({plan.start_age} to {plan.end_age}); choose an age in that range"
        )
    return round(k)


def resample_path(
    returns: FloatArray, from_frequency: Frequency, to_frequency: Frequency
) -> FloatArray:
    """Decimal simple returns per period converted to another frequency.

    Monthly to annual compounds each block of 12 months (the path must be whole years);
    annual to monthly spreads each year's log return evenly over 12 months.
    """
    r = np.asarray(returns, dtype=np.float64)
    a, b = periods_per_year(from_frequency), periods_per_year(to_frequency)
    if a == b:
        return r
    if a > b:
        if r.size % (a // b):
            raise DataError(
                f"a {from_frequency} path of {r.size} periods is not whole {to_frequency} "
                "periods; give whole years"
            )
        return np.prod(1.0 + r.reshape(-1, a // b), axis=1) - 1.0
    return np.repeat(np.expm1(np.log1p(r) / (b // a)), b // a)


@dataclass(frozen=True)
class PathShock:
    """Overwrite one asset's returns with a stated path from ``start_period`` on.

    Attributes
    ----------
    asset
        Asset to shock (e.g. ``"btc"``).
    returns
        Decimal simple returns per period of ``frequency``, e.g. ``(-0.8,)`` annual.
    frequency
        Frequency of ``returns``; converted to the scenarios' (see :func:`resample_path`).
    label
        Name in tables.
    """

    asset: str
    returns: tuple[float, ...]
    frequency: Frequency = "annual"
    label: str = ""

    def __post_init__(self) -> None:
        r = np.asarray(self.returns, dtype=np.float64)
        if r.ndim != 1 or r.size == 0 or not np.all(np.isfinite(r)) or r.min() <= -1.0:
            raise DataError(
                f"PathShock {self.label or self.asset!r}: returns must be a non-empty list of "
                "finite decimal returns > -1 (e.g. (-0.8,) for -80 %)"
            )
        periods_per_year(self.frequency)
        object.__setattr__(self, "returns", tuple(float(x) for x in r))

    def apply(self, scenarios: Scenarios, start_period: int) -> Scenarios:
        """A copy of ``scenarios`` with the path placed at ``start_period``."""
        (j,) = scenarios.asset_index([self.asset])
        path = resample_path(np.asarray(self.returns), self.frequency, scenarios.frequency)
        if not 0 <= start_period < scenarios.n_periods:
            raise DataError(
                f"start_period {start_period} is outside the scenarios' {scenarios.n_periods} "
                "periods"
            )
        stop = min(scenarios.n_periods, start_period + path.size)
        r = np.array(scenarios.returns)
        r[:, start_period:stop, j] = path[: stop - start_period]
        return _with_returns(scenarios, r, f"{self.label or 'path shock'} at period {start_period}")

    def holding(self, strategy: Strategy, start_period: int) -> Strategy:
        """``strategy``: the member holds the same mix through the shock."""
        return strategy


@dataclass(frozen=True)
class CorrelationJump:
    """Make ``asset`` move with equities in crash years.

    In every scenario, each year (block of ``periods_per_year`` periods, from
    ``start_period`` on) in which ``equity`` compounds to a return at or below
    ``crash_threshold`` is a crash year. In its periods the asset's log return is
    rebuilt as ``m + s * (rho * z_eq + sqrt(1 - rho**2) * z)``, where ``m, s`` are the
    asset's pooled per-period log mean and standard deviation over the whole set, and
    ``z_eq``, ``z`` the standardised equity and asset log returns of that period: the
    asset keeps its own scale and drift, and its shock becomes correlated ``rho`` with
    the equity crash.

    Attributes
    ----------
    asset, equity
        The shocked asset and the equity asset.
    rho
        Correlation in crash years, in [-1, 1].
    crash_threshold
        Yearly equity return (decimal) at or below which a year is a crash year.
    label
        Name in tables.
    """

    asset: str
    equity: str
    rho: float = 0.9
    crash_threshold: float = -0.15
    label: str = ""

    def __post_init__(self) -> None:
        if not -1.0 <= self.rho <= 1.0:
            raise DataError(f"CorrelationJump.rho={self.rho!r} must be in [-1, 1]")
        if not -1.0 < self.crash_threshold < 0.0:
            raise DataError(
                f"CorrelationJump.crash_threshold={self.crash_threshold!r} must be a yearly "
                "loss in (-1, 0), e.g. -0.15"
            )

    def crash_years(self, scenarios: Scenarios, start_period: int = 0) -> np.ndarray:
        """Boolean (n_scenarios, n_periods): periods inside a crash year."""
        (e,) = scenarios.asset_index([self.equity])
        ppy = scenarios.periods_per_year
        n_t = scenarios.n_periods
        n_years = (n_t - start_period) // ppy
        blocks = scenarios.returns[:, start_period : start_period + n_years * ppy, e]
        yearly = np.prod(1.0 + blocks.reshape(scenarios.n_scenarios, n_years, ppy), axis=2) - 1.0
        mask = np.zeros((scenarios.n_scenarios, n_t), dtype=bool)
        crash = np.repeat(yearly <= self.crash_threshold, ppy, axis=1)
        mask[:, start_period : start_period + n_years * ppy] = crash
        return mask

    def apply(self, scenarios: Scenarios, start_period: int = 0) -> Scenarios:
        """A copy of ``scenarios`` with the asset rebuilt in crash years."""
        e, j = scenarios.asset_index([self.equity, self.asset])
        x_e = np.log1p(scenarios.returns[:, :, e])
        x_a = np.log1p(scenarios.returns[:, :, j])
        if np.isnan(x_a).any():
            raise DataError(
                f"{self.asset!r} has missing returns; fill them before a correlation jump"
            )
        m, s = float(x_a.mean()), float(x_a.std())
        z_e = (x_e - x_e.mean()) / max(float(x_e.std()), 1e-300)
        z_a = (x_a - m) / s if s > 0 else np.zeros_like(x_a)
        jumped = m + s * (self.rho * z_e + math.sqrt(max(0.0, 1.0 - self.rho**2)) * z_a)
        mask = self.crash_years(scenarios, start_period)
        r = np.array(scenarios.returns)
        r[:, :, j] = np.where(mask, np.expm1(jumped), r[:, :, j])
        label = self.label or f"correlation {self.rho:g} in crash years"
        return _with_returns(scenarios, r, label)

    def holding(self, strategy: Strategy, start_period: int) -> Strategy:
        """``strategy``: the member holds the same mix through the shock."""
        return strategy


@dataclass(frozen=True)
class DriftShift:
    """Move one asset's mean log return by a stated path, keeping its randomness.

    From ``start_period`` on, year ``i`` of the path adds ``annual_log_shifts[i] / ppy``
    to the log return ``log(1 + r)`` of each of its periods, in every scenario. Under
    lognormal returns a shift ``d`` multiplies every gross return, hence ``1 + E[R]`` and
    the standard deviation of ``R``, by ``exp(d)`` and leaves the log volatility as it
    is, so a path that moves the expected annual simple return from ``A0`` to ``A1`` is
    ``d = log((1 + A1) / (1 + A0))``.

    Attributes
    ----------
    asset
        Asset shifted (e.g. ``"btc"``).
    annual_log_shifts
        Shift of the annual log return, decimal, one per year from ``start_period``
        (past the scenarios' end it is cut).
    label
        Name in tables.
    """

    asset: str
    annual_log_shifts: tuple[float, ...]
    label: str = ""

    def __post_init__(self) -> None:
        d = np.asarray(self.annual_log_shifts, dtype=np.float64)
        if d.ndim != 1 or d.size == 0 or not np.all(np.isfinite(d)):
            raise DataError(
                f"DriftShift {self.label or self.asset!r}: annual_log_shifts must be a "
                "non-empty list of finite annual log shifts (e.g. (-0.5, -0.5))"
            )
        object.__setattr__(self, "annual_log_shifts", tuple(float(x) for x in d))

    def apply(self, scenarios: Scenarios, start_period: int) -> Scenarios:
        """A copy of ``scenarios`` with the asset's log returns shifted."""
        (j,) = scenarios.asset_index([self.asset])
        ppy = scenarios.periods_per_year
        path = np.repeat(np.asarray(self.annual_log_shifts) / ppy, ppy)
        stop = _stop(scenarios, start_period, path.size)
        r = np.array(scenarios.returns)
        r[:, start_period:stop, j] = np.expm1(
            np.log1p(r[:, start_period:stop, j]) + path[: stop - start_period]
        )
        return _with_returns(scenarios, r, self.label or f"{self.asset} drift shifted")

    def holding(self, strategy: Strategy, start_period: int) -> Strategy:
        """``strategy``: the member holds the same mix through the shock."""
        return strategy


@dataclass(frozen=True)
class Drag:
    """A yearly cost charged on one asset alone, e.g. the expense ratio of the fund that
    holds it: from ``start_period`` on each period's return becomes
    ``(1 + r) * (1 - rate / ppy) - 1`` (the simulator's own fee convention, charged on the
    value after the period's return).

    Attributes
    ----------
    asset
        Asset charged.
    rate
        Cost, decimal a year (0.0025 = 0.25 % a year), in [0, 1).
    label
        Name in tables.
    """

    asset: str
    rate: float
    label: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and 0.0 <= self.rate < 1.0):
            raise DataError(
                f"Drag {self.label or self.asset!r}: rate={self.rate!r} must be a yearly cost "
                "in [0, 1), e.g. 0.0025 for 0.25 % a year"
            )

    def apply(self, scenarios: Scenarios, start_period: int) -> Scenarios:
        """A copy of ``scenarios`` with the asset's returns net of the cost."""
        (j,) = scenarios.asset_index([self.asset])
        stop = _stop(scenarios, start_period, scenarios.n_periods)
        r = np.array(scenarios.returns)
        keep = 1.0 - self.rate / scenarios.periods_per_year
        r[:, start_period:stop, j] = (1.0 + r[:, start_period:stop, j]) * keep - 1.0
        return _with_returns(scenarios, r, self.label or f"{self.asset} cost {self.rate:.2%}")

    def holding(self, strategy: Strategy, start_period: int) -> Strategy:
        """``strategy``: the member holds the same mix."""
        return strategy


@dataclass(frozen=True, eq=False)
class ColumnShock:
    """Replace one asset's returns from ``start_period`` on with another per-scenario path
    (e.g. a regime drawn on the same common random numbers under other assumptions).

    Attributes
    ----------
    asset
        Asset replaced.
    returns
        Decimal simple returns per period, (n_scenarios, n_periods) of the scenarios the
        shock is applied to (at least as many periods); read-only.
    label
        Name in tables.
    """

    asset: str
    returns: FloatArray
    label: str = ""

    def __post_init__(self) -> None:
        r = np.array(self.returns, dtype=np.float64)
        if r.ndim != 2 or not np.all(np.isfinite(r)) or (r.size and r.min() <= -1.0):
            raise DataError(
                f"ColumnShock {self.label or self.asset!r}: returns must be a finite "
                "(n_scenarios, n_periods) array of decimal returns > -1"
            )
        r.flags.writeable = False
        object.__setattr__(self, "returns", r)

    def apply(self, scenarios: Scenarios, start_period: int) -> Scenarios:
        """A copy of ``scenarios`` with the asset's returns replaced from ``start_period``."""
        (j,) = scenarios.asset_index([self.asset])
        n, t = scenarios.n_scenarios, scenarios.n_periods
        if self.returns.shape[0] != n or self.returns.shape[1] < t:
            raise DataError(
                f"ColumnShock {self.label or self.asset!r} holds {self.returns.shape} returns "
                f"for scenarios of {n} x {t} periods; draw it on the same scenarios"
            )
        stop = _stop(scenarios, start_period, t)
        r = np.array(scenarios.returns)
        r[:, start_period:stop, j] = self.returns[:, start_period:stop]
        return _with_returns(scenarios, r, self.label or f"{self.asset} replaced")

    def holding(self, strategy: Strategy, start_period: int) -> Strategy:
        """``strategy``: the member holds the same mix."""
        return strategy


#: The return of an impaired asset: scenarios refuse returns <= -100 %, so the largest
#: float above -1; 1.1e-16 of the holding survives the period (less than a cent on any
#: balance under 10^13 USD) and is sold with the rest of the sleeve at the next trade.
IMPAIRED = float(np.nextafter(-1.0, 0.0))


@dataclass(frozen=True)
class Impairment:
    """The asset is lost for good: custody failure, fraud, a ban.

    In scenario ``s`` the asset returns -100 % (:data:`IMPAIRED`) in period
    ``start_period + delays[s]`` and the member holds none of it from the next period on
    (:meth:`holding`: :class:`strategies.sleeve_exit.ExitSleeve`, its weight moved to the
    other assets pro rata). Returns after the impairment are left as they were: nothing is
    held to earn them.

    Attributes
    ----------
    asset
        Asset lost.
    delays
        Periods after ``start_period``, one for every scenario or ``(0,)`` for all: the
        impairment falls at ``start_period`` itself.
    label
        Name in tables.
    """

    asset: str
    delays: tuple[int, ...] = (0,)
    label: str = ""

    def __post_init__(self) -> None:
        d = np.asarray(self.delays)
        if d.ndim != 1 or d.size == 0 or not np.issubdtype(d.dtype, np.integer) or d.min() < 0:
            raise DataError(
                f"Impairment {self.label or self.asset!r}: delays must be a non-empty tuple "
                "of whole periods >= 0, one per scenario or one for all"
            )
        object.__setattr__(self, "delays", tuple(int(x) for x in d))

    def periods(self, n_scenarios: int, start_period: int) -> np.ndarray:
        """The impairment period of each scenario, (n_scenarios,)."""
        d = np.asarray(self.delays, dtype=np.int64)
        if d.size not in (1, n_scenarios):
            raise DataError(
                f"Impairment {self.label or self.asset!r} holds {d.size} delays for "
                f"{n_scenarios} scenarios; give one per scenario or one for all"
            )
        return start_period + np.broadcast_to(d, (n_scenarios,))

    def apply(self, scenarios: Scenarios, start_period: int) -> Scenarios:
        """A copy of ``scenarios`` with the asset's return -100 % in each impairment period."""
        (j,) = scenarios.asset_index([self.asset])
        k = self.periods(scenarios.n_scenarios, start_period)
        if k.min() < 0 or k.max() >= scenarios.n_periods:
            raise DataError(
                f"Impairment {self.label or self.asset!r} falls at period {int(k.max())}, "
                f"outside the scenarios' {scenarios.n_periods} periods"
            )
        r = np.array(scenarios.returns)
        r[np.arange(scenarios.n_scenarios), k, j] = IMPAIRED
        return _with_returns(scenarios, r, self.label or f"{self.asset} impaired")

    def holding(self, strategy: Strategy, start_period: int) -> Strategy:
        """``strategy`` without the asset after the impairment (unchanged if it never
        holds the asset)."""
        if self.asset not in strategy.assets:
            return strategy
        out = tuple(start_period + d + 1 for d in self.delays)
        return ExitSleeve(strategy, self.asset, out, name=strategy.name)


@dataclass(frozen=True)
class Panic:
    """The member sells the asset after it falls ``drawdown`` from its running peak
    (watched from ``start_period``, on the returns seen so far) and never buys it back
    (:class:`strategies.sleeve_exit.SellAfterDrawdown`); the returns are unchanged.

    Attributes
    ----------
    asset
        Asset watched and sold.
    drawdown
        Fall from the running peak that triggers the sale, decimal in (0, 1).
    label
        Name in tables.
    """

    asset: str
    drawdown: float = 0.5
    label: str = ""

    def __post_init__(self) -> None:
        if not 0.0 < self.drawdown < 1.0:
            raise DataError(
                f"Panic {self.label or self.asset!r}: drawdown={self.drawdown!r} must be a "
                "fall in (0, 1), e.g. 0.5 for 50 %"
            )

    def apply(self, scenarios: Scenarios, start_period: int) -> Scenarios:
        """``scenarios`` itself: the shock is in the member's behaviour, not the markets."""
        return scenarios

    def holding(self, strategy: Strategy, start_period: int) -> Strategy:
        """``strategy`` with the sale rule (unchanged if it never holds the asset)."""
        if self.asset not in strategy.assets:
            return strategy
        return SellAfterDrawdown(
            strategy, self.asset, self.drawdown, start_period, name=strategy.name
        )


Shock = PathShock | CorrelationJump | DriftShift | Drag | ColumnShock | Impairment | Panic


def replay(
    history: pd.Series,
    start: str,
    end: str,
    asset: str,
    frequency: Frequency,
    label: str = "",
) -> PathShock:
    """A :class:`PathShock` replaying ``history`` (decimal returns by period end) from
    ``start`` to ``end`` inclusive (labels like ``"2014-01"``, ``"2015-12"``)."""
    window = history.loc[start:end].dropna()
    if window.empty:
        raise DataError(
            f"no {asset!r} returns between {start} and {end}; the series covers "
            f"{history.dropna().index[0]:%Y-%m}..{history.dropna().index[-1]:%Y-%m}"
        )
    return PathShock(
        asset=asset,
        returns=tuple(window.to_numpy(dtype=np.float64)),
        frequency=frequency,
        label=label or f"{asset} {start}..{end} replayed",
    )


@dataclass(frozen=True)
class PlacedShock:
    """A shock, the period it starts at (:func:`period_at_age`) and its rationale.

    ``note``: what the shock is and where its numbers come from, one or two sentences
    for the report (e.g. "IBIT's sponsor fee, 0.25 % a year (prospectus)").
    """

    shock: Shock
    start_period: int
    note: str = ""

    @property
    def label(self) -> str:
        return self.shock.label or type(self.shock).__name__


@dataclass(frozen=True)
class _Outcome:
    """What the stress table reads from one simulation (real USD at the wealth age)."""

    success: np.ndarray  # (n,) bool
    median: float
    p10: float
    unpaid_failed: float  # mean unpaid years given failure, NaN when none failed


def _outcome(res: SimulationResult, k: int) -> _Outcome:
    w = res.wealth[:, k]
    ppy = res.schedule.periods_per_year
    unpaid = unpaid_years(res.withdrawals_wanted, res.withdrawals, ppy)
    return _Outcome(
        success=np.asarray(res.success, dtype=bool),
        median=float(np.median(w)),
        p10=float(np.percentile(w, 10)),
        unpaid_failed=mean_unpaid_years_given_failure(unpaid).years,
    )


def _row(a: _Outcome, b: _Outcome) -> dict[str, float | int]:
    """The numbers of one (strategy, shock) row: ``a`` plain, ``b`` shocked."""
    n = int(a.success.size)
    d = b.success.astype(np.float64) - a.success.astype(np.float64)
    return {
        "n_scenarios": n,
        "success": float(a.success.mean()),
        "success_shocked": float(b.success.mean()),
        "d_success": float(d.mean()),
        # paired: the same scenarios with and without the shock
        "se_d_success": float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
        "median_wealth": a.median,
        "median_wealth_shocked": b.median,
        "d_median_wealth": b.median - a.median,
        "d_median_wealth_pct": (b.median - a.median) / a.median if a.median > 0 else math.nan,
        "p10_wealth": a.p10,
        "p10_wealth_shocked": b.p10,
        "unpaid_years_failed": a.unpaid_failed,
        "unpaid_years_failed_shocked": b.unpaid_failed,
    }


def stress_table(
    scenarios: Scenarios,
    plan: Plan,
    strategies: dict[str, Strategy],
    shocks: dict[str, PlacedShock],
    *,
    age: float | None = None,
    reference: str | None = None,
) -> pd.DataFrame:
    """Success, wealth and shortfall with and without each shock, for each strategy.

    Each shock changes the scenarios (``shock.apply``) and, for impairment and
    behaviour, what the member holds (``shock.holding``); the plain and shocked runs use
    the same scenarios otherwise, so differences are paired.

    Parameters
    ----------
    scenarios
        Any scenario set holding every strategy's assets and the shocked assets.
    plan
        The member.
    strategies
        Strategies by display name (e.g. sleeves of 0, 1, 2.5 and 5 %).
    shocks
        Placed shocks by display name.
    age
        Age at which wealth is read (default the plan's end age).
    reference
        A key of ``strategies`` (e.g. "no sleeve"): adds ``se_success_vs_reference``, the
        paired standard error of the strategy's plain success minus the reference's on
        the same scenarios (decimal; 0 for the reference itself).

    Returns
    -------
    pandas.DataFrame
        One row per (strategy, shock): ``n_scenarios``; ``success`` and
        ``success_shocked`` (decimal), ``d_success`` and its paired standard error
        ``se_d_success`` (decimal; x100 for percentage points); median and 10th percentile
        real wealth at ``age`` (``median_wealth``, ``median_wealth_shocked``,
        ``d_median_wealth``, ``p10_wealth``, ``p10_wealth_shocked``; USD of the start
        date) and ``d_median_wealth_pct`` (decimal of the plain median); mean years of
        spending left unpaid among the scenarios that fell short
        (``unpaid_years_failed``, ``unpaid_years_failed_shocked``, NaN where none did);
        ``start_period``, ``wealth_age`` and the shock's ``note``.
    """
    at = plan.end_age if age is None else float(age)
    k = round((at - plan.start_age) * scenarios.periods_per_year)
    if not 0 <= k <= plan.n_periods(scenarios.periods_per_year):
        raise DataError(f"age {at} is outside the plan ({plan.start_age} to {plan.end_age})")
    if reference is not None and reference not in strategies:
        raise DataError(
            f"reference {reference!r} is not one of the strategies ({', '.join(strategies)})"
        )
    stressed = {n: p.shock.apply(scenarios, p.start_period) for n, p in shocks.items()}
    plains = {n: _outcome(simulate(scenarios, plan, s), k) for n, s in strategies.items()}
    rows = []
    for s_name, strategy in strategies.items():
        plain = plains[s_name]
        vs_ref = (
            {"se_success_vs_reference": _row(plains[reference], plain)["se_d_success"]}
            if reference is not None
            else {}
        )
        for shock_name, sc in stressed.items():
            placed = shocks[shock_name]
            held = placed.shock.holding(strategy, placed.start_period)
            hit = _outcome(simulate(sc, plan, held), k)
            rows.append(
                {
                    "strategy": s_name,
                    "shock": shock_name,
                    "start_period": placed.start_period,
                    **_row(plain, hit),
                    **vs_ref,
                    "wealth_age": at,
                    "note": placed.note,
                }
            )
    return pd.DataFrame(rows)


def _stop(scenarios: Scenarios, start_period: int, length: int) -> int:
    """End (exclusive) of a path of ``length`` periods placed at ``start_period``."""
    if not 0 <= start_period < scenarios.n_periods:
        raise DataError(
            f"start_period {start_period} is outside the scenarios' {scenarios.n_periods} periods"
        )
    return min(scenarios.n_periods, start_period + length)


def _with_returns(scenarios: Scenarios, returns: FloatArray, what: str) -> Scenarios:
    return Scenarios(
        returns=returns,
        inflation=scenarios.inflation,
        assets=scenarios.assets,
        frequency=scenarios.frequency,
        labels=scenarios.labels,
        description=f"{scenarios.description}; stressed: {what}",
        meta={**scenarios.meta, "stress": what},
    )
