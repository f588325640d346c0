"""Outcome metrics of a plan over scenarios: one definition of each, used by every report.

Where :mod:`backtest.metrics` scores return series, this module scores what a plan did
for the member, per scenario and then over scenarios (re-exported from
:mod:`backtest.metrics`):

* :func:`success_rate`: share of scenarios whose plan succeeds, with its standard error;
* :func:`survival_weighted_success`: the money lasts as long as the member lives, given
  alive at retirement (the convention is stated there, once);
* :func:`unpaid_years`: years of the withdrawal need left unpaid (and
  :func:`unpaid_years_from_ruin`, its bound from the ruin period alone);
* :func:`wealth_percentiles`: percentiles of real wealth over scenarios.

Arrays are ``(n_scenarios, ...)``: these metrics reduce over (or act per) scenario, the
first axis. Ages are in years (fractional for monthly plans); amounts real USD.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from backtest.errors import DataError
from backtest.types import BoolArray, FloatArray, IntArray

#: Ages in years: one, or an array of them (whole or fractional).
Ages = FloatArray | IntArray | float

#: The wealth percentiles every table reports, in percent (5th to 95th).
WEALTH_PERCENTILES: tuple[int, ...] = (5, 25, 50, 75, 95)


# --------------------------------------------------------------------------- success


@dataclass(frozen=True)
class SuccessRate:
    """Success over scenarios, with what a reader needs to trust it.

    Attributes
    ----------
    rate
        Mean per-scenario success, decimal (0.9 = 90 %).
    se
        Standard error of ``rate``, decimal: ``sqrt(var / n_effective)`` with ``var`` the
        variance of the per-scenario values (divisor ``n``); for 0/1 outcomes this is the
        binomial ``sqrt(p (1 - p) / n_effective)``.
    n
        Scenarios.
    n_effective
        Independent scenarios behind the standard error (``n`` unless the scenarios
        overlap, as historical cohorts do).
    """

    rate: float
    se: float
    n: int
    n_effective: float


def success_rate(success: BoolArray | FloatArray, n_effective: float | None = None) -> SuccessRate:
    """Share of scenarios whose plan succeeds, with its standard error (:class:`SuccessRate`).

    Parameters
    ----------
    success
        Per-scenario success, (n,): booleans (or 0/1), or survival-weighted values in
        [0, 1] (:func:`survival_weighted_success`).
    n_effective
        Independent scenarios for the standard error, in (0, n]; default ``n``.
    """
    x = np.asarray(success, dtype=np.float64).ravel()
    n = x.size
    if n == 0:
        raise DataError("success_rate needs at least one scenario")
    if not np.all(np.isfinite(x)) or x.min() < 0.0 or x.max() > 1.0:
        raise DataError(
            "success values must be 0/1 (or survival-weighted decimals in [0, 1]); "
            f"got values in [{np.nanmin(x)}, {np.nanmax(x)}]"
        )
    n_eff = float(n) if n_effective is None else float(n_effective)
    if not 0.0 < n_eff <= n:
        raise DataError(f"n_effective={n_effective!r} must be in (0, {n}] (the scenario count)")
    p = float(x.mean())
    binary = bool(np.all((x == 0.0) | (x == 1.0)))
    var = p * (1.0 - p) if binary else float(np.mean((x - p) ** 2))
    return SuccessRate(rate=p, se=math.sqrt(var / n_eff), n=n, n_effective=n_eff)


# --------------------------------------------------------------------------- survival


def ruin_ages(ruin_period: IntArray, start_age: float, periods_per_year: int) -> FloatArray:
    """Age at the start of each scenario's period of ruin, years; NaN where the money lasted.

    ``start_age + ruin_period / periods_per_year`` (``ruin_period`` -1 = never ruined), the
    age of ``SimulationResult.ruin_age``.
    """
    r = np.asarray(ruin_period)
    return np.where(r >= 0, start_age + np.maximum(r, 0) / periods_per_year, np.nan)


def _survivors(survivors: FloatArray) -> FloatArray:
    lx = np.asarray(survivors, dtype=np.float64)
    if lx.ndim not in (1, 2) or lx.shape[-1] < 1:
        raise DataError(f"survivors must be (n_ages,) or (n_scenarios, n_ages); got {lx.shape}")
    if not np.all(np.isfinite(lx)) or (lx < 0).any() or (np.diff(lx, axis=-1) > 1e-12).any():
        raise DataError(
            "survivors must be finite, >= 0 and non-increasing in age: the life table's l(x) "
            "(e.g. backtest.mortality.survival_curve)"
        )
    return lx


def survivors_at(age: Ages, survivors: FloatArray, first_age: float) -> FloatArray:
    """Life-table survivors ``l(age)`` at any age, linear between whole ages (UDD).

    ``survivors[..., k]`` is ``l(first_age + k)`` (any scale, e.g. a survival curve that
    starts at 1); one curve for every scenario, (K + 1,), or one per scenario,
    (n, K + 1) with ``age`` (n,). Between the table's ages,
    ``l(x + s) = (1 - s) l(x) + s l(x + 1)`` for ``0 <= s < 1``: deaths uniformly
    distributed within each year of age. Ages beyond the table read its last value,
    ages before it its first.
    """
    lx = _survivors(survivors)
    a = np.asarray(age, dtype=np.float64)
    k_max = lx.shape[-1] - 1
    x = np.clip(a - first_age, 0.0, float(k_max))
    i = np.minimum(np.floor(x).astype(np.int64), max(k_max - 1, 0))
    j = np.minimum(i + 1, k_max)
    s = x - i
    if lx.ndim == 1:
        lo, hi = lx[i], lx[j]
    else:
        if a.shape != lx.shape[:1]:
            raise DataError(
                f"one survival curve per scenario ({lx.shape[0]}) needs one age per scenario; "
                f"got ages of shape {a.shape}"
            )
        lo = np.take_along_axis(lx, i[:, None], axis=1)[:, 0]
        hi = np.take_along_axis(lx, j[:, None], axis=1)[:, 0]
    return (1.0 - s) * lo + s * hi  # exact at whole ages, either end


def alive_given_retirement(
    age: Ages,
    retirement_age: Ages,
    survivors: FloatArray,
    first_age: float,
) -> FloatArray:
    """Probability of being alive at ``age`` given alive at ``retirement_age``, decimal.

    ``S(age) / S(retirement_age)`` with ``S`` the survivors of :func:`survivors_at`
    (linear between whole ages); 1 at and before the retirement age. ``retirement_age``
    is one age, or one per scenario.
    """
    a = np.asarray(age, dtype=np.float64)
    ret = np.asarray(retirement_age, dtype=np.float64)
    if np.ndim(survivors) == 2:
        ret = np.broadcast_to(ret, np.shape(survivors)[:1])
    if np.any(ret < first_age - 1e-9):
        raise DataError(
            f"the life table starts at age {first_age:g}, after the retirement age "
            f"{float(np.min(ret)):g}; start it at or before retirement"
        )
    s_ret = survivors_at(ret, survivors, first_age)
    if np.any(s_ret <= 0):
        raise DataError("nobody in the life table is alive at the retirement age")
    s_a = survivors_at(a, survivors, first_age)
    return np.where(a <= ret, 1.0, s_a / s_ret)


def survival_weighted_success(
    ruin_age: FloatArray,
    retirement_age: Ages,
    survivors: FloatArray,
    first_age: float,
) -> FloatArray:
    """Per-scenario success when the money need only last as long as the member lives.

    The one convention of the project: conditional on the member being alive at the
    retirement age ``R``, a scenario whose money runs out at age ``a`` fails with the
    probability that the member is still alive then,

    ``success = 1 - S(a) / S(R)``  for ``a >= R``,
    ``success = 0``                 for ``a < R`` (ruined before retirement: weight 1),
    ``success = 1``                 where the money lasted (``ruin_age`` NaN),

    where ``S`` is the life table's survivors ``l(x)``, linearly interpolated between
    whole ages (uniform distribution of deaths within a year, UDD; :func:`survivors_at`),
    so a monthly ruin age such as 70.5 reads halfway between ``l(70)`` and ``l(71)``. The
    ruin age is the age at the start of the period in which a withdrawal first fell short
    (:func:`ruin_ages`).

    Parameters
    ----------
    ruin_age
        Age at ruin per scenario, years, NaN where the money lasted, (n,).
    retirement_age
        Age at retirement, years: one, or one per scenario (n,).
    survivors
        ``l(first_age + k)``, k = 0..K, (K + 1,) for every scenario or (n, K + 1) per
        scenario (e.g. ``backtest.mortality.survival_curve``); ages beyond it read its
        last value.
    first_age
        Age of ``survivors[..., 0]``, years (at or before every retirement age).

    Returns
    -------
    numpy.ndarray
        (n,) decimals in [0, 1]; their mean (:func:`success_rate`) is the probability that
        the money outlasts the member.
    """
    a = np.asarray(ruin_age, dtype=np.float64)
    lasted = np.isnan(a)
    ret = np.broadcast_to(np.asarray(retirement_age, dtype=np.float64), a.shape)
    alive = alive_given_retirement(np.where(lasted, ret, a), ret, survivors, first_age)
    before = a < ret - 1e-9
    return np.where(lasted, 1.0, np.where(before, 0.0, 1.0 - alive))


# --------------------------------------------------------------------------- unpaid years


def unpaid_years(
    wanted: FloatArray,
    paid: FloatArray,
    periods_per_year: int,
    alive: FloatArray | None = None,
) -> FloatArray:
    """Years of the withdrawal need left unpaid, per scenario (real years of the need).

    ``U = (1 / periods_per_year) sum_t a_t (wanted_t - paid_t) / wanted_t`` over the
    periods that want a withdrawal (``wanted_t > 0``): each period counts by the unpaid
    share of its own need, so a year paid half counts half a year, an unpaid month 1/12.
    0 where every withdrawal was paid in full.

    Parameters
    ----------
    wanted, paid
        Withdrawal asked for and withdrawal paid per period, (n, T), same units (real
        USD), e.g. ``SimulationResult.withdrawals_wanted`` and ``.withdrawals``.
    periods_per_year
        1 for annual periods, 12 for monthly.
    alive
        Probability of being alive at the start of each period, (T,) or (n, T) (e.g.
        :func:`alive_given_retirement`); None counts every period (the fixed horizon).
    """
    w = np.asarray(wanted, dtype=np.float64)
    p = np.asarray(paid, dtype=np.float64)
    if w.shape != p.shape:
        raise DataError(f"wanted {w.shape} and paid {p.shape} must have the same shape")
    share = np.divide(np.maximum(w - p, 0.0), w, out=np.zeros_like(w), where=w > 0)
    if alive is not None:
        share = share * np.asarray(alive, dtype=np.float64)
    return share.sum(axis=-1) / periods_per_year


def unpaid_years_from_ruin(
    ruin_period: IntArray, n_periods: int, periods_per_year: int
) -> FloatArray:
    """Years from the start of the period of ruin to the end age (0 where the money lasted).

    ``(n_periods - ruin_period) / periods_per_year``: :func:`unpaid_years` where only the
    ruin period is known (the simulator's summary pass keeps no flows). It counts the ruin
    period whole, so it exceeds :func:`unpaid_years` by the share of that period's need
    that was paid (at most one period), and equals it when nothing is paid after ruin
    (no income into the account after retirement).
    """
    r = np.asarray(ruin_period)
    return np.where(r >= 0, (n_periods - r) / periods_per_year, 0.0)


# --------------------------------------------------------------------------- percentiles


def wealth_percentiles(
    wealth: FloatArray, percentiles: Sequence[float] = WEALTH_PERCENTILES
) -> FloatArray:
    """Percentiles of real wealth over scenarios, real USD.

    ``wealth`` is (n,) (e.g. terminal wealth) or (n, T + 1) (paths by period boundary);
    the result is (len(percentiles),) or (len(percentiles), T + 1). Percentiles in percent
    (5 = the 5th), numpy's linear interpolation between order statistics.
    """
    w = np.asarray(wealth, dtype=np.float64)
    q = np.asarray(percentiles, dtype=np.float64)
    if w.ndim == 0 or w.shape[0] == 0:
        raise DataError("wealth_percentiles needs at least one scenario")
    if q.ndim != 1 or (q < 0).any() or (q > 100).any():
        raise DataError(f"percentiles={tuple(percentiles)} must be percent in [0, 100]")
    return np.percentile(w, q, axis=0)


def percentile_columns(
    values: FloatArray, name: str, percentiles: Sequence[float] = WEALTH_PERCENTILES
) -> dict[str, float]:
    """``{f"{name}_p{q}": value}`` for a table row, from :func:`wealth_percentiles` (floats)."""
    v = wealth_percentiles(values, percentiles)
    return {f"{name}_p{q:g}": float(x) for q, x in zip(percentiles, v, strict=True)}


__all__ = [
    "WEALTH_PERCENTILES",
    "SuccessRate",
    "alive_given_retirement",
    "percentile_columns",
    "ruin_ages",
    "success_rate",
    "survival_weighted_success",
    "survivors_at",
    "unpaid_years",
    "unpaid_years_from_ruin",
    "wealth_percentiles",
]
