"""Deterministic stress shocks applied to any scenario set.

A shock is a frozen value with ``apply(scenarios, start_period) -> Scenarios``: it
returns a new set (the input is read-only and untouched) in which one asset's returns
are overwritten from ``start_period`` on, in every scenario. Only the shocked asset
changes, so a shock on an asset a strategy does not hold changes nothing.

* :class:`PathShock`: a stated path of returns (e.g. Bitcoin -80 % in one year) or a
  replay of a historical window (:func:`replay`), placed at ``start_period``;
* :class:`CorrelationJump`: in the scenario's own crash years (equities down by at least
  a threshold over the year) the asset's log-return shocks move with equities with
  correlation ``rho``.

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
from backtest.plan import Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from backtest.types import FloatArray, Frequency, periods_per_year
from strategies.base import Strategy


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


Shock = PathShock | CorrelationJump


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
    """A shock and the period it starts at (:func:`period_at_age`)."""

    shock: Shock
    start_period: int

    @property
    def label(self) -> str:
        return self.shock.label or type(self.shock).__name__


def stress_table(
    scenarios: Scenarios,
    plan: Plan,
    strategies: dict[str, Strategy],
    shocks: dict[str, PlacedShock],
    *,
    age: float | None = None,
) -> pd.DataFrame:
    """Success and wealth with and without each shock, for each strategy.

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

    Returns
    -------
    pandas.DataFrame
        One row per (strategy, shock): ``success`` and ``success_shocked`` (decimal),
        ``d_success``, ``median_wealth`` and ``median_wealth_shocked`` (median real
        wealth at ``age``, USD of the start date), ``d_median_wealth``.
    """
    at = plan.end_age if age is None else float(age)
    k = round((at - plan.start_age) * scenarios.periods_per_year)
    if not 0 <= k <= plan.n_periods(scenarios.periods_per_year):
        raise DataError(f"age {at} is outside the plan ({plan.start_age} to {plan.end_age})")
    stressed = {n: p.shock.apply(scenarios, p.start_period) for n, p in shocks.items()}
    rows = []
    for s_name, strategy in strategies.items():
        plain = simulate(scenarios, plan, strategy)
        ok0 = float(plain.success_rate)
        w0 = float(np.median(plain.wealth[:, k]))
        for shock_name, sc in stressed.items():
            hit = simulate(sc, plan, strategy)
            ok1 = float(hit.success_rate)
            w1 = float(np.median(hit.wealth[:, k]))
            rows.append(
                {
                    "strategy": s_name,
                    "shock": shock_name,
                    "start_period": shocks[shock_name].start_period,
                    "success": ok0,
                    "success_shocked": ok1,
                    "d_success": ok1 - ok0,
                    "median_wealth": w0,
                    "median_wealth_shocked": w1,
                    "d_median_wealth": w1 - w0,
                    "wealth_age": at,
                }
            )
    return pd.DataFrame(rows)


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
