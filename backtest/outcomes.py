"""Outcome metrics of a plan over scenarios: one definition of each, used by every report.

Where :mod:`backtest.metrics` scores return series, this module scores what a plan did
for the member, per scenario and then over scenarios (re-exported from
:mod:`backtest.metrics`):

* :func:`success_rate`: share of scenarios whose plan succeeds, with its standard error;
* :func:`survival_weighted_success`: the money lasts as long as the member lives, given
  alive at retirement (the convention is stated there, once);
* :func:`unpaid_years`: years of the withdrawal need left unpaid (and
  :func:`unpaid_years_from_ruin`, its bound from the ruin period alone);
* :func:`shortfall_years`: the one shortfall convention, unpaid need valued at
  retirement at a stated real risk-free (annuity) rate, never the portfolio's returns;
* :func:`wealth_percentiles`: percentiles of real wealth over scenarios;
* income (issue 23): :func:`crra_utility` and :func:`certainty_equivalent` (CE income
  under CRRA risk aversion, over scenarios and the years alive), the real
  :func:`life_annuity_factor` (:func:`ssa_life_annuity_factor` on the shipped SSA table),
  :func:`replacement_percentiles`, :func:`probability_of_reaching`,
  :func:`mean_unpaid_years_given_failure`, :func:`bequest_percentiles` and
  :func:`safe_withdrawal_rate` (from :func:`max_sustainable_rates`).

Arrays are ``(n_scenarios, ...)``: these metrics reduce over (or act per) scenario, the
first axis. Ages are in years (fractional for monthly plans); amounts real USD, incomes
real USD a year; rates decimal a year (0.02 = 2 %).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from backtest import mortality
from backtest.errors import DataError, PlanError
from backtest.mortality import Reading, Sex
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


def cohort_effective_n(n_cohorts: int, n_periods: int) -> float:
    """Independent windows behind ``n_cohorts`` rolling historical cohorts of ``n_periods``
    periods each: the data span ``n_cohorts + n_periods - 1`` over ``n_periods`` (at least
    1). Rolling cohorts share most of their returns, so treating them as independent
    understates the standard error; pass this to :func:`success_rate` as ``n_effective``.
    """
    if n_cohorts < 1 or n_periods < 1:
        raise DataError(
            f"cohorts need n_cohorts >= 1 and n_periods >= 1; got {n_cohorts}, {n_periods}"
        )
    return float(min(n_cohorts, max(1.0, (n_cohorts + n_periods - 1) / n_periods)))


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


def shortfall_years(
    wanted: FloatArray,
    paid: FloatArray,
    real_rate: float,
    start: IntArray | int = 0,
    periods_per_year: int = 1,
    alive: FloatArray | None = None,
) -> FloatArray:
    """The one shortfall convention: unpaid real need valued at ``start`` at a real
    risk-free rate, in years of need, per scenario.

    ``S = (1 / periods_per_year) sum_t a_t v^((t - start) / periods_per_year)
    (wanted_t - paid_t) / wanted_t`` over the periods that want a withdrawal, with
    ``v = 1 / (1 + real_rate)``: :func:`unpaid_years` with each period's unpaid share
    discounted to the ``start`` period (the retirement period) at the stated real
    (annuity) rate, never at the portfolio's own returns, so a member with nothing left is
    short the same whatever she holds. ``real_rate = 0`` gives :func:`unpaid_years`.
    Fund design optimises it and the population evaluation reports it (both at
    ``PopulationSpec.annuity_rate``).

    Parameters
    ----------
    wanted, paid
        Withdrawal asked for and paid per period, (n, T), real USD.
    real_rate
        Real risk-free (annuity) discount rate, decimal a year, > -1 (0.02 = 2 %).
    start
        Period the value is taken at: one, or one per scenario (n,) (e.g. each member's
        retirement period); earlier periods, where nothing is wanted, compound forward.
    periods_per_year
        1 for annual periods, 12 for monthly.
    alive
        Probability of being alive at the start of each period, (T,) or (n, T); None
        counts every period.
    """
    if not (math.isfinite(real_rate) and real_rate > -1.0):
        raise PlanError(f"real_rate={real_rate!r} must be a decimal a year > -1 (0.02 = 2 %)")
    w = np.asarray(wanted, dtype=np.float64)
    p = np.asarray(paid, dtype=np.float64)
    if w.shape != p.shape or w.ndim != 2:
        raise DataError(f"wanted {w.shape} and paid {p.shape} must be (n_scenarios, n_periods)")
    share = np.divide(np.maximum(w - p, 0.0), w, out=np.zeros_like(w), where=w > 0)
    if alive is not None:
        share = share * np.asarray(alive, dtype=np.float64)
    return (share * shortfall_discount(w.shape, real_rate, start, periods_per_year)).sum(
        axis=-1
    ) / periods_per_year


def shortfall_discount(
    shape: tuple[int, int], real_rate: float, start: IntArray | int = 0, periods_per_year: int = 1
) -> FloatArray:
    """Discount factors ``(1 + real_rate) ** -((t - start) / periods_per_year)``, (n, T), of
    :func:`shortfall_years` (the weights its gradients in fund design use)."""
    t = np.arange(shape[1], dtype=np.float64)[None, :]
    s = np.broadcast_to(np.asarray(start, dtype=np.float64), (shape[0],))[:, None]
    return np.asarray((1.0 + real_rate) ** (-(t - s) / periods_per_year)) * np.ones(shape)


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


# --------------------------------------------------------------------------- tail mean


def tail_mean(values: FloatArray, level: float, tail: Literal["lower", "upper"]) -> FloatArray:
    """The one expected-shortfall (CVaR) convention: the mean of the worst
    ``k = ceil(n * (1 - level))`` of ``n`` values (at least one), along the last axis.

    ``tail="lower"`` averages the smallest values (returns, wealth: the bad outcomes are
    low), ``"upper"`` the largest (losses, unpaid years). Same units as ``values``. Where
    ``n * (1 - level)`` is a whole number this equals the Rockafellar-Uryasev minimum
    ``c + mean(pos(x - c)) / (1 - level)`` that the optimisers' CVaR constraints use; where it
    is not, the k-th value counts whole (not the fraction of it above the quantile).
    """
    if not 0 < level < 1:
        raise DataError(f"CVaR level={level!r} must be in (0, 1), e.g. 0.95")
    v = np.sort(np.asarray(values, dtype=np.float64), axis=-1)
    n = v.shape[-1]
    if n == 0:
        raise DataError("a tail mean needs at least one value")
    k = max(1, math.ceil(n * (1.0 - level) - 1e-9))
    worst = v[..., :k] if tail == "lower" else v[..., n - k :]
    return np.asarray(np.mean(worst, axis=-1))


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


# --------------------------------------------------------------------------- income (CRRA)

#: Risk aversions every income table reports (issue 23: 2, 5 and 10; 5 is the default).
RISK_AVERSIONS: tuple[float, ...] = (2.0, 5.0, 10.0)

#: ``|gamma - 1|`` at or below this is log utility, computed as ``log`` exactly.
LOG_UTILITY_BAND = 1e-9


def _gamma(gamma: float) -> float:
    g = float(gamma)
    if not (math.isfinite(g) and g >= 0.0):
        raise PlanError(
            f"risk aversion gamma={gamma!r} must be a finite number >= 0 "
            "(0 risk-neutral, 1 log utility; the reports use 2, 5 and 10)"
        )
    return g


def _positive_incomes(income: FloatArray, where: BoolArray | None = None) -> FloatArray:
    c = np.asarray(income, dtype=np.float64)
    if c.size == 0:
        raise DataError("income needs at least one value (real USD a year)")
    bad = ~(np.isfinite(c) & (c > 0.0))
    if where is not None:
        bad &= where
    if bad.any():
        worst = float(np.min(np.where(bad, c, np.inf)))
        raise DataError(
            f"CRRA utility needs incomes > 0 real USD a year; {int(bad.sum())} are not "
            f"(smallest {worst:g}). A path whose account runs dry pays 0: add the income "
            "floor the member keeps (Social Security, a pension) before scoring it"
        )
    return c


def crra_utility(income: FloatArray | float, gamma: float, scale: float = 1.0) -> FloatArray:
    """CRRA utility of real income, ``((c / scale) ** (1 - gamma) - 1) / (1 - gamma)``.

    The normalised form, so that it tends to ``log(c / scale)`` as ``gamma -> 1``
    continuously; within :data:`LOG_UTILITY_BAND` of 1 it *is* ``log(c / scale)``.
    Computed as ``expm1((1 - gamma) log(c / scale)) / (1 - gamma)``, accurate near 1.

    Parameters
    ----------
    income
        Real USD a year, > 0, any shape (a monthly withdrawal times 12).
    gamma
        Relative risk aversion, >= 0 (0 is risk-neutral: ``c / scale - 1``).
    scale
        Real USD a year the income is measured in, > 0. Utility is only defined up to an
        affine map, so ``scale`` changes no ranking; pass an income near the ones compared
        (the target income) when the utilities themselves feed an optimiser, since at
        ``gamma = 5`` and ``scale = 1`` the term ``c ** -4`` of a 40,000 USD income is
        below float64 resolution beside the ``- 1``. :func:`certainty_equivalent` does not
        go through this function and needs no scale.

    Raises
    ------
    DataError
        An income is <= 0 or not finite (add the member's floor, e.g. Social Security).
    PlanError
        ``gamma`` < 0 or not finite, or ``scale`` <= 0.
    """
    g = _gamma(gamma)
    if not (math.isfinite(scale) and scale > 0.0):
        raise PlanError(f"scale={scale!r} must be a positive real income (USD a year)")
    log_c = np.log(_positive_incomes(np.asarray(income, dtype=np.float64)) / scale)
    if abs(g - 1.0) <= LOG_UTILITY_BAND:
        return log_c
    return np.expm1((1.0 - g) * log_c) / (1.0 - g)


def lifetime_weights(
    alive: FloatArray, real_discount_rate: float = 0.0, periods_per_year: int = 1
) -> FloatArray:
    """Weights of each period of a path: ``alive_t / (1 + rho) ** (t / periods_per_year)``.

    ``alive`` is the probability of being alive at the start of period ``t`` (given alive
    at the path's start), (T,) or (n, T), e.g. :func:`alive_given_retirement`;
    ``real_discount_rate`` ``rho`` is the member's time preference, decimal a year (0
    weighs every year alive alike). Pass the result to :func:`certainty_equivalent`.
    """
    a = np.asarray(alive, dtype=np.float64)
    if a.ndim not in (1, 2) or not np.all(np.isfinite(a)) or (a < 0).any() or (a > 1).any():
        raise DataError(f"alive must be probabilities in [0, 1], (T,) or (n, T); got {a.shape}")
    if not (math.isfinite(real_discount_rate) and real_discount_rate > -1.0):
        raise PlanError(f"real_discount_rate={real_discount_rate!r} must be a decimal > -1")
    if int(periods_per_year) != periods_per_year or periods_per_year < 1:
        raise PlanError(f"periods_per_year={periods_per_year!r}; use 1 (annual) or 12 (monthly)")
    t = np.arange(a.shape[-1], dtype=np.float64) / periods_per_year
    return a * (1.0 + real_discount_rate) ** -t


def certainty_equivalent(
    incomes: FloatArray,
    gamma: float,
    weights: FloatArray | None = None,
    axis: int | None = None,
) -> FloatArray | float:
    """Certainty-equivalent real income under CRRA utility, real USD a year.

    The constant income ``CE`` whose utility equals the weighted mean utility of
    ``incomes``: ``u(CE) = sum w u(c) / sum w`` with ``u`` :func:`crra_utility`, so

    ``CE = (sum w c ** (1 - gamma) / sum w) ** (1 / (1 - gamma))``, and
    ``CE = exp(sum w log c / sum w)`` within :data:`LOG_UTILITY_BAND` of ``gamma = 1``.

    **Paths.** For ``incomes`` (n, T), one row a scenario and one column a year of
    retirement, the convention of the project is: the CE is the constant real income,
    paid in every scenario and every year the member is alive, with the same expected
    discounted utility as the paths. That is the formula above with
    ``w[i, t] = p_i * alive[i, t] / (1 + rho) ** t``: the scenario's probability ``p_i``
    (equal by default), the life table's probability of being alive at the start of year
    ``t`` given alive at retirement, and a time preference ``rho`` (build them with
    :func:`lifetime_weights`; multiply by ``p_i[:, None]`` for unequal scenarios). Years
    with weight 0 (after the table's last age) are ignored, so their income may be 0.
    ``axis=-1`` gives each path's own CE instead, (n,): the same reduction per row.

    Computed in logs (a weighted log-sum-exp), so no ``c ** -9`` under- or overflows.
    ``CE <= `` the weighted mean of ``incomes`` (Jensen), with equality for a certain
    income; it is non-increasing in ``gamma``.

    Parameters
    ----------
    incomes
        Real USD a year, > 0 wherever the weight is > 0; (n,) or (n, T).
    gamma
        Relative risk aversion, >= 0 (:data:`RISK_AVERSIONS` in reports).
    weights
        Non-negative, broadcastable to ``incomes``, not all 0; None weighs all alike.
    axis
        None reduces over every entry (one CE); an int over that axis only.

    Raises
    ------
    DataError
        A weighted income is <= 0 (add a floor, e.g. Social Security), bad weights.
    PlanError
        ``gamma`` < 0 or not finite.
    """
    g = _gamma(gamma)
    c = np.asarray(incomes, dtype=np.float64)
    if weights is None:
        w = np.ones_like(c)
    else:
        w = np.asarray(weights, dtype=np.float64)
        try:
            w = np.broadcast_to(w, c.shape)
        except ValueError as exc:
            raise DataError(
                f"weights of shape {w.shape} do not broadcast to incomes {c.shape}"
            ) from exc
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise DataError("weights must be finite and >= 0 (probability x alive x discount)")
    live = w > 0
    c = _positive_incomes(c, where=live)
    total = w.sum(axis=axis)
    if np.any(total <= 0):
        raise DataError("weights sum to 0: at least one income must carry weight")
    log_c = np.log(np.where(live, c, 1.0))
    if abs(g - 1.0) <= LOG_UTILITY_BAND:
        out = np.exp((w * log_c).sum(axis=axis) / total)
    else:
        # log E[c^(1-g)] = m + log1p(E[expm1(x - m)]), x = (1-g) log c, m its max (live).
        x = (1.0 - g) * log_c
        m = np.max(np.where(live, x, -np.inf), axis=axis, keepdims=True)
        mean_em1 = (w * np.expm1(np.where(live, x - m, 0.0))).sum(axis=axis) / total
        log_mean = np.squeeze(m, axis=axis) + np.log1p(mean_em1)
        out = np.exp(log_mean / (1.0 - g))
    return float(out) if np.ndim(out) == 0 else out


# --------------------------------------------------------------------------- preferences


@dataclass(frozen=True)
class IncomePreferences:
    """How a member values real retirement income: the one definition every objective uses.

    The period utility of a real income ``c`` (USD a year) is CRRA with risk aversion
    ``gamma`` (:func:`crra_utility`), bent below a reference income ``R`` by loss aversion
    ``lambda``::

        v(c) = u(c) + lambda * min(0, u(c) - u(R))

    (for ``lambda = 0`` plain CRRA). ``v`` is the minimum of two concave increasing
    functions, so it is concave and increasing: a shortfall below ``R`` hurts ``1 + lambda``
    times as much at the margin, the "shortfall aversion" around a target replacement
    income. A warm-glow bequest (De Nardi 2004's form) adds, in the year of death,
    ``theta * u(b + kappa)`` of the real wealth ``b`` left, with ``theta`` the bequest
    weight and ``kappa`` its shifter (real USD; a larger ``kappa`` makes bequests a
    luxury). :func:`preference_certainty_equivalent` turns an expected total into the
    constant income with the same value.

    Attributes
    ----------
    gamma
        Relative risk aversion, >= 0 (reports use 2, 5 and 10; 5 is the default).
    loss_aversion
        ``lambda`` >= 0: extra weight on utility lost below the reference income (0: none).
    reference_replacement
        The reference income as a replacement ratio of the member's pre-retirement income
        (decimal, e.g. 0.7); callers turn it into USD with the member's salary. ``None``
        with ``loss_aversion > 0`` is an error.
    bequest_weight
        ``theta`` >= 0, the weight of the bequest term (0: none).
    bequest_shifter
        ``kappa`` > 0, real USD.
    discount_rate
        Time preference ``rho``, decimal a year (:func:`lifetime_weights`).
    """

    gamma: float = 5.0
    loss_aversion: float = 0.0
    reference_replacement: float | None = None
    bequest_weight: float = 0.0
    bequest_shifter: float = 10_000.0
    discount_rate: float = 0.0

    def __post_init__(self) -> None:
        _gamma(self.gamma)
        for name in ("loss_aversion", "bequest_weight"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise PlanError(f"IncomePreferences.{name}={v!r} must be a finite number >= 0")
        r = self.reference_replacement
        if r is not None and not (math.isfinite(r) and 0.0 < r <= 3.0):
            raise PlanError(
                f"IncomePreferences.reference_replacement={r!r} must be a replacement ratio "
                "in (0, 3], a decimal (0.7 = 70 % of pre-retirement income)"
            )
        if self.loss_aversion > 0.0 and self.gamma < 1.0:
            raise PlanError(
                f"IncomePreferences: loss aversion needs gamma >= 1 (got {self.gamma:g}): below "
                "1, CRRA utility is bounded below, so a deep loss has no income equivalent and "
                "the CE is undefined; raise gamma or set loss_aversion = 0"
            )
        if self.loss_aversion > 0.0 and r is None:
            raise PlanError(
                "IncomePreferences: loss_aversion > 0 needs reference_replacement, the "
                "replacement ratio below which income counts as a loss (e.g. 0.7)"
            )
        if not (math.isfinite(self.bequest_shifter) and self.bequest_shifter > 0.0):
            raise PlanError(
                f"IncomePreferences.bequest_shifter={self.bequest_shifter!r} must be > 0 USD"
            )
        if not (math.isfinite(self.discount_rate) and self.discount_rate > -1.0):
            raise PlanError(
                f"IncomePreferences.discount_rate={self.discount_rate!r} must be a decimal > -1"
            )

    @property
    def label(self) -> str:
        """A short description for reports, e.g. ``CRRA gamma 5, loss aversion 1 below 70 %``."""
        parts = [f"CRRA gamma {self.gamma:g}"]
        if self.loss_aversion and self.reference_replacement is not None:
            parts.append(
                f"loss aversion {self.loss_aversion:g} below "
                f"{100 * self.reference_replacement:g} % replacement"
            )
        if self.bequest_weight:
            parts.append(
                f"bequest weight {self.bequest_weight:g} (shifter {self.bequest_shifter:,.0f} USD)"
            )
        if self.discount_rate:
            parts.append(f"time preference {100 * self.discount_rate:g} % a year")
        return ", ".join(parts)


def income_utility(
    income: FloatArray | float,
    prefs: IncomePreferences,
    scale: float,
    reference: FloatArray | float | None = None,
) -> FloatArray:
    """Period utility ``v(c)`` of real income (see :class:`IncomePreferences`).

    ``scale`` (real USD a year, > 0) is :func:`crra_utility`'s: pass an income near the
    ones compared. ``reference`` is the reference income in real USD a year (scalar or
    broadcastable to ``income``), needed when ``prefs.loss_aversion > 0``.
    """
    u = crra_utility(income, prefs.gamma, scale)
    if prefs.loss_aversion == 0.0:
        return u
    if reference is None:
        raise PlanError("income_utility: loss aversion needs the reference income in USD")
    u_ref = crra_utility(reference, prefs.gamma, scale)
    return u + prefs.loss_aversion * np.minimum(0.0, u - u_ref)


def inverse_income_utility(
    utility: FloatArray | float,
    prefs: IncomePreferences,
    scale: float,
    reference: FloatArray | float | None = None,
) -> FloatArray:
    """The income whose :func:`income_utility` is ``utility`` (real USD a year).

    Raises :class:`DataError` for a utility no positive income reaches (at ``gamma > 1``
    utility is bounded above by ``scale ** ... / (gamma - 1)``)."""
    g = _gamma(prefs.gamma)
    v = np.asarray(utility, dtype=np.float64)
    if prefs.loss_aversion:
        if reference is None:
            raise PlanError("inverse_income_utility: loss aversion needs the reference income")
        u_ref = crra_utility(reference, g, scale)
        v = np.where(v >= u_ref, v, (v + prefs.loss_aversion * u_ref) / (1.0 + prefs.loss_aversion))
    if abs(g - 1.0) <= LOG_UTILITY_BAND:
        return scale * np.exp(v)
    arg = 1.0 + (1.0 - g) * v
    if np.any(arg <= 0.0) or not np.all(np.isfinite(arg)):
        raise DataError(
            "a utility no positive income reaches: the expected utility is at or beyond "
            f"CRRA's bound 1 / (gamma - 1) at gamma {g:g}; check the incomes and the scale"
        )
    return scale * np.exp(np.log(arg) / (1.0 - g))


def bequest_utility(
    wealth: FloatArray | float, prefs: IncomePreferences, scale: float
) -> FloatArray:
    """Warm-glow bequest utility ``theta * u(b + kappa)`` of real wealth left at death.

    Negative wealth counts as 0 left. Zero everywhere when ``prefs.bequest_weight`` is 0.
    """
    b = np.maximum(np.asarray(wealth, dtype=np.float64), 0.0)
    if prefs.bequest_weight == 0.0:
        return np.zeros_like(b)
    return prefs.bequest_weight * crra_utility(b + prefs.bequest_shifter, prefs.gamma, scale)


def preference_certainty_equivalent(
    incomes: FloatArray,
    prefs: IncomePreferences,
    weights: FloatArray | None = None,
    reference: FloatArray | float | None = None,
    bequests: FloatArray | None = None,
    death_weights: FloatArray | None = None,
) -> float:
    """Certainty-equivalent income under ``prefs``, real USD a year (one number).

    The constant income ``CE`` paid in every year alive, **valued without the loss term**,
    whose value equals the expected value of the paths:
    ``u(CE) * sum w = sum w v(c) + sum d theta u(b + kappa)``, with ``u`` plain CRRA and
    ``v`` :func:`income_utility` (loss aversion below each income's own reference). So a
    shortfall below the reference counts as a lower income: the CE never exceeds the plain
    CRRA one on the same incomes, equals it when no income falls below its reference, and
    a certain income at or above the reference is its own CE (one below it is worth
    less). This holds with references that differ by member (fund design). With
    ``w`` the year weights of :func:`certainty_equivalent` (probability x alive x
    discount), ``d`` the probability of dying in each year (``death_weights``, the same
    shape as ``bequests``) and ``b`` the real wealth left then. With ``loss_aversion`` and
    ``bequest_weight`` both 0 it equals :func:`certainty_equivalent` (a test checks it);
    with a bequest term the CE counts the bequest's value in income terms, so it can exceed
    the income paid. The loss reference is ``reference`` (USD a year, scalar, or
    broadcastable to ``incomes``). The delta-method slope at the CE is therefore the plain
    ``u'(CE)``.
    """
    c = np.asarray(incomes, dtype=np.float64)
    if prefs.loss_aversion == 0.0 and prefs.bequest_weight == 0.0:
        return float(certainty_equivalent(c, prefs.gamma, weights))
    w = np.ones_like(c) if weights is None else np.broadcast_to(np.asarray(weights, float), c.shape)
    live = w > 0
    c_live = _positive_incomes(c, where=live)
    total = float(w.sum())
    if total <= 0:
        raise DataError("weights sum to 0: at least one income must carry weight")
    scale = float(np.median(c_live[live]))
    ref = None
    if prefs.loss_aversion:
        if reference is None:
            raise PlanError("preference_certainty_equivalent: loss aversion needs reference")
        ref = np.broadcast_to(np.asarray(reference, dtype=np.float64), c.shape)
    value = float(
        (w * np.where(live, income_utility(np.where(live, c, 1.0), prefs, scale, ref), 0.0)).sum()
    )
    if prefs.bequest_weight:
        if bequests is None or death_weights is None:
            raise PlanError("a bequest term needs bequests and death_weights")
        value += float(
            (np.asarray(death_weights, float) * bequest_utility(bequests, prefs, scale)).sum()
        )
    plain = IncomePreferences(gamma=prefs.gamma)
    return float(inverse_income_utility(value / total, plain, scale))


# --------------------------------------------------------------------------- annuity


def life_annuity_factor(
    survival: FloatArray,
    age: Ages,
    real_rate: float,
    timing: Literal["due", "immediate"] = "due",
    first_age: float | None = None,
) -> FloatArray | float:
    """Price of 1 real USD a year for life: the real life annuity factor, years of income.

    ``survival[..., k]`` is the life table's ``l(first_age + k)``, k = 0..K (any scale,
    e.g. :func:`backtest.mortality.survival_curve`), one curve (K + 1,) or one per member
    (n, K + 1); its last age ``first_age + K`` ends the payments (age 120 for a whole SSA
    curve, where everyone has died; a plan's end age for a curve cut there). With
    ``v = 1 / (1 + real_rate)``:

    * ``"due"`` (in advance, at the start of each year alive):
      ``a = sum_{k >= 0, age + k < end} l(age + k) / l(age) v ** k``;
    * ``"immediate"`` (in arrears, at the end of each year survived):
      ``a = sum_{k >= 1, age + k <= end} l(age + k) / l(age) v ** k``.

    Both cover the same years, so ``due = 1 + immediate - l(end) / l(age) v ** (end - age)``.
    :func:`ssa_life_annuity_factor` reads the shipped SSA table for a sex and birth year.

    Parameters
    ----------
    survival
        Survivors, (K + 1,) or (n, K + 1), finite, >= 0, non-increasing.
    age
        Age at the first payment's year, whole years from ``first_age``: one, or one per
        member (n,) for a 2-D ``survival``; alive there (``l(age) > 0``).
    real_rate
        Real discount (annuity pricing) rate, decimal a year, > -1.
    timing
        ``"due"`` or ``"immediate"``.
    first_age
        Age of ``survival[..., 0]``; None means ``age`` (a curve that starts at the age).

    Returns
    -------
    float or numpy.ndarray
        Real USD of premium per real USD a year of income; a float for one curve and one
        age, else (n,).
    """
    if timing not in ("due", "immediate"):
        raise PlanError(f"timing={timing!r}; use 'due' (in advance) or 'immediate' (in arrears)")
    if not (math.isfinite(real_rate) and real_rate > -1.0):
        raise PlanError(f"real_rate={real_rate!r} must be a decimal a year > -1 (0.02 = 2 %)")
    lx = _survivors(survival)
    lx2 = lx[None, :] if lx.ndim == 1 else lx
    a = np.asarray(age, dtype=np.float64)
    if a.ndim > lx.ndim - 1 or (a.ndim == 1 and a.shape != lx2.shape[:1]):
        raise DataError(
            f"age must be one age, or one per survival curve ({lx2.shape[0]}); got {a.shape}"
        )
    x0 = a if first_age is None else np.float64(first_age)
    offset = np.broadcast_to(a - x0, lx2.shape[:1])
    k_age = np.rint(offset).astype(np.int64)
    n_k = lx2.shape[1] - 1
    if np.any(np.abs(offset - k_age) > 1e-9) or np.any(k_age < 0) or np.any(k_age > n_k):
        raise PlanError(
            f"age {a} must be a whole number of years within the curve's ages "
            f"[{float(np.min(x0)):g}, {float(np.min(x0)) + n_k:g}] (first_age + 0..K)"
        )
    l_age = np.take_along_axis(lx2, k_age[:, None], axis=1)[:, 0]
    if np.any(l_age <= 0):
        raise PlanError("nobody in the life table is alive at the annuity's age")
    k = np.arange(n_k + 1)[None, :] - k_age[:, None]
    disc = np.where(k >= 0, (1.0 + real_rate) ** -np.maximum(k, 0).astype(np.float64), 0.0)
    if timing == "due":  # payments at the start of each year before the last age
        factor = (lx2[:, :-1] * disc[:, :-1]).sum(axis=1) / l_age
    else:  # at the end of each year survived, up to and including the last age
        factor = (lx2 * np.where(k >= 1, disc, 0.0)).sum(axis=1) / l_age
    return float(factor[0]) if lx.ndim == 1 and np.ndim(a) == 0 else factor


def ssa_life_annuity_factor(
    sex: Sex,
    birth_year: int,
    age: int,
    real_rate: float,
    timing: Literal["due", "immediate"] = "due",
    reading: Reading = "cohort",
) -> float:
    """:func:`life_annuity_factor` from the shipped SSA table, paid for life (to age 120).

    The survival curve is :func:`backtest.mortality.survival_curve` from ``age`` to age
    120 (``"cohort"``: the diagonal of the 2020 Trustees' projections; ``"period"``: the
    column of the year the member is ``age``). Real USD of premium per real USD a year.
    """
    curve = mortality.survival_curve(sex, birth_year, age, mortality.MAX_AGE + 1 - age, reading)
    return float(life_annuity_factor(curve, float(age), real_rate, timing))


# --------------------------------------------------------------------------- income figures

#: The replacement-ratio percentiles every income table reports, in percent.
REPLACEMENT_PERCENTILES: tuple[int, ...] = (10, 25, 50, 75, 90)

#: The failure probabilities at which reports give the safe withdrawal rate, decimal.
SAFE_WITHDRAWAL_FAILURE: tuple[float, ...] = (0.05, 0.10)


def replacement_percentiles(
    replacement: FloatArray, percentiles: Sequence[float] = REPLACEMENT_PERCENTILES
) -> FloatArray:
    """Percentiles of the replacement ratio over scenarios, decimal (0.7 = 70 % of salary).

    ``replacement`` is (n,): retirement income (Social Security plus what the account pays,
    real USD a year) over final salary (real USD a year). Percentiles in percent, numpy's
    linear interpolation, as :func:`wealth_percentiles`.
    """
    r = np.asarray(replacement, dtype=np.float64)
    if r.ndim != 1 or not np.all(np.isfinite(r)):
        raise DataError(f"replacement must be finite decimals, one per scenario; got {r.shape}")
    return wealth_percentiles(r, percentiles)


def probability_of_reaching(
    values: FloatArray, target: float, n_effective: float | None = None
) -> SuccessRate:
    """Share of scenarios with ``values >= target``, with its standard error.

    E.g. the probability of reaching a target replacement ratio (decimal, 0.7 = 70 %);
    :func:`success_rate` of the indicator, so ``n_effective`` works as there.
    """
    v = np.asarray(values, dtype=np.float64)
    if not math.isfinite(target):
        raise DataError(f"target={target!r} must be a finite number in the values' units")
    if not np.all(np.isfinite(v)):
        raise DataError("values must be finite (one per scenario)")
    return success_rate(v >= target, n_effective)


@dataclass(frozen=True)
class ConditionalShortfall:
    """Unpaid years given failure: how deep the failures are, beside how often.

    Attributes
    ----------
    years
        Mean unpaid years over the failed scenarios (real years of the need); NaN when
        none failed.
    se
        Its standard error, ``std / sqrt(n_failed)`` (divisor ``n_failed``); NaN below 2.
    n_failed
        Failed scenarios.
    n
        Scenarios.
    """

    years: float
    se: float
    n_failed: int
    n: int


def mean_unpaid_years_given_failure(
    unpaid: FloatArray, failed: BoolArray | None = None
) -> ConditionalShortfall:
    """Mean of :func:`unpaid_years` over the scenarios that failed (:class:`ConditionalShortfall`).

    ``unpaid`` is (n,) years of need left unpaid (survival-weighted or not, as the caller
    computed it); ``failed`` (n,) marks failure, by default ``unpaid > 0``. Unconditional
    mean unpaid = failure rate x this.
    """
    u = np.asarray(unpaid, dtype=np.float64)
    if u.ndim != 1 or u.size == 0 or not np.all(np.isfinite(u)) or (u < 0).any():
        raise DataError("unpaid must be finite years >= 0, one per scenario (unpaid_years)")
    f = u > 0.0 if failed is None else np.asarray(failed, dtype=bool)
    if f.shape != u.shape:
        raise DataError(f"failed {f.shape} must have the shape of unpaid {u.shape}")
    m = int(f.sum())
    if m == 0:
        return ConditionalShortfall(years=math.nan, se=math.nan, n_failed=0, n=u.size)
    x = u[f]
    se = float(x.std() / math.sqrt(m)) if m >= 2 else math.nan
    return ConditionalShortfall(years=float(x.mean()), se=se, n_failed=m, n=u.size)


def _weighted_percentiles(x: FloatArray, w: FloatArray, q: FloatArray) -> FloatArray:
    """Inverted-CDF weighted percentiles: the smallest ``x`` whose weight share >= q."""
    order = np.argsort(x, kind="stable")
    xs, cw = x[order], np.cumsum(w[order])
    idx = np.searchsorted(cw, q / 100.0 * cw[-1], side="left")
    return xs[np.minimum(idx, xs.size - 1)]


def bequest_percentiles(
    wealth: FloatArray,
    alive: FloatArray | None = None,
    percentiles: Sequence[float] = WEALTH_PERCENTILES,
) -> FloatArray:
    """Percentiles of wealth at death (the bequest), real USD.

    * ``wealth`` (n,), ``alive`` None: wealth at each scenario's (given) death;
      :func:`wealth_percentiles` of it.
    * ``wealth`` (n, T + 1) real wealth at each period boundary from retirement,
      ``alive`` (T + 1,) or (n, T + 1) the probability of being alive at each boundary
      (1 at the first, e.g. :func:`alive_given_retirement`): the member dies within
      period ``t`` with probability ``alive[t] - alive[t + 1]`` and leaves the wealth at
      its end, ``wealth[:, t + 1]``; one still alive at the last boundary leaves
      ``wealth[:, T]`` (the horizon's cut, weight ``alive[T]``). The percentiles are over
      every (scenario, death period) pair so weighted, inverted-CDF (the smallest
      bequest whose cumulative weight reaches the share).
    """
    w = np.asarray(wealth, dtype=np.float64)
    if alive is None:
        if w.ndim != 1:
            raise DataError("wealth paths (n, T + 1) need alive (T + 1,) to place the deaths")
        return wealth_percentiles(w, percentiles)
    a = np.broadcast_to(np.asarray(alive, dtype=np.float64), w.shape) if w.ndim == 2 else None
    if a is None or w.shape[1] < 2:
        raise DataError(f"wealth must be (n, T + 1) paths with T >= 1 for alive; got {w.shape}")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(a))):
        raise DataError("wealth and alive must be finite")
    if (a < 0).any() or (np.diff(a, axis=1) > 1e-12).any():
        raise DataError("alive must be >= 0 and non-increasing along the path")
    q = np.asarray(percentiles, dtype=np.float64)
    if q.ndim != 1 or (q < 0).any() or (q > 100).any():
        raise DataError(f"percentiles={tuple(percentiles)} must be percent in [0, 100]")
    deaths = np.concatenate([a[:, :-1] - a[:, 1:], a[:, -1:]], axis=1)  # (n, T + 1)
    at_death = np.concatenate([w[:, 1:], w[:, -1:]], axis=1)
    p = np.maximum(deaths, 0.0).ravel()
    if p.sum() <= 0:
        raise DataError("alive is 0 at every boundary: nobody to leave a bequest")
    return _weighted_percentiles(at_death.ravel(), p, q)


def max_sustainable_rates(returns: FloatArray, periods_per_year: int = 1) -> FloatArray:
    """Largest constant real withdrawal each return path sustains, decimal of the start balance a year.

    ``returns`` (n, T): the portfolio's real simple returns per period after costs (for an
    age-based glide path they do not depend on wealth), withdrawals of ``rate /
    periods_per_year`` of the starting balance at the start of each period. With
    ``G_t = prod_{s < t} (1 + r_s)`` the wealth after ``T`` periods is
    ``G_T (1 - rate / ppy sum_{t < T} 1 / G_t)``, so the path lasts exactly to the end at
    ``rate = periods_per_year / sum_{t < T} 1 / G_t``. Feed it to :func:`safe_withdrawal_rate`.
    (Rules whose withdrawal depends on the balance need a search on the simulator instead:
    ``optimize.solve_for.bisect_on_crn`` with the failure rate as the target.)
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] == 0 or not np.all(np.isfinite(r)) or (r <= -1.0).any():
        raise DataError("returns must be (n_scenarios, n_periods) finite real decimal returns > -1")
    if int(periods_per_year) != periods_per_year or periods_per_year < 1:
        raise PlanError(f"periods_per_year={periods_per_year!r}; use 1 (annual) or 12 (monthly)")
    log_g = np.concatenate([np.zeros((r.shape[0], 1)), np.cumsum(np.log1p(r), axis=1)], axis=1)
    return periods_per_year / np.exp(-log_g[:, :-1]).sum(axis=1)


def safe_withdrawal_rate(max_rates: FloatArray, failure_probability: float = 0.05) -> float:
    """Highest withdrawal rate whose failure share is at most ``failure_probability``, decimal a year.

    ``max_rates`` (n,) is each scenario's maximum sustainable rate (e.g.
    :func:`max_sustainable_rates`): a rate ``x`` fails in a scenario when ``x >
    max_rate``. The answer is the ``floor(p n)``-th smallest (0-based) of them: at it, at
    most ``p n`` scenarios fail, and any higher rate fails in more. Reports use
    :data:`SAFE_WITHDRAWAL_FAILURE` (5 % and 10 %).
    """
    m = np.asarray(max_rates, dtype=np.float64)
    if m.ndim != 1 or m.size == 0 or not np.all(np.isfinite(m)):
        raise DataError("max_rates must be finite decimals a year, one per scenario")
    p = float(failure_probability)
    if not 0.0 <= p < 1.0:
        raise DataError(f"failure_probability={failure_probability!r} must be a decimal in [0, 1)")
    k = math.floor(p * m.size + 1e-9)  # 1e-9: 0.29 * 100 is 28.999...96 in floats
    return float(np.partition(m, k)[k])


__all__ = [
    "LOG_UTILITY_BAND",
    "REPLACEMENT_PERCENTILES",
    "RISK_AVERSIONS",
    "SAFE_WITHDRAWAL_FAILURE",
    "WEALTH_PERCENTILES",
    "ConditionalShortfall",
    "IncomePreferences",
    "SuccessRate",
    "alive_given_retirement",
    "bequest_percentiles",
    "bequest_utility",
    "certainty_equivalent",
    "cohort_effective_n",
    "crra_utility",
    "income_utility",
    "inverse_income_utility",
    "life_annuity_factor",
    "lifetime_weights",
    "max_sustainable_rates",
    "mean_unpaid_years_given_failure",
    "percentile_columns",
    "preference_certainty_equivalent",
    "probability_of_reaching",
    "replacement_percentiles",
    "ruin_ages",
    "safe_withdrawal_rate",
    "shortfall_discount",
    "shortfall_years",
    "ssa_life_annuity_factor",
    "success_rate",
    "survival_weighted_success",
    "survivors_at",
    "tail_mean",
    "unpaid_years",
    "unpaid_years_from_ruin",
    "wealth_percentiles",
]
