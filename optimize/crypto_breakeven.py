"""Break-even Bitcoin returns: how much must Bitcoin return for a sleeve to be worth it.

For a sleeve size ``s``, an ARITHMETIC Bitcoin volatility ``v`` (standard deviation of the
annual simple return, decimal), a correlation with equities and the shocks, the break-even
is the arithmetic expected return ``m*`` (expected simple return a year, decimal) at which
the sleeve neither helps nor hurts the plan on a metric, against the base strategy
without a sleeve on the same scenarios. Metrics (:data:`METRICS`), each a per-scenario
(or per-batch) difference ``d(m)`` whose mean is zero at the break-even:

* ``success``: success flags under the plan's definition (sleeve minus base);
* ``ce_income``: mean CRRA utility of real retirement income over the retirement years,
  the tear sheet's definition (:func:`backtest.report.income.income_ce`): income = the
  floor of :func:`backtest.report.income.income_floor` + the real withdrawals paid in
  each retirement year (:func:`backtest.report.income.annual_income`), valued with
  :func:`backtest.outcomes.income_utility` at ``IncomePreferences()`` (gamma 5, the
  tear sheet's ``SETS_GAMMA``), every scenario and year alike. Equal mean utility is
  equal certainty-equivalent income, so the zero of the mean difference is the CE
  break-even;
* ``es_retirement``: expected shortfall of real wealth at retirement (the mean of the
  worst 5 %, :func:`backtest.crypto.surface.expected_shortfall`). A scalar: the
  outcomes handed to the bisection are ``d_full + (d_b - mean(d_b))`` over
  :data:`N_BATCHES` batches of scenarios, so their mean is the full-sample difference and
  their standard error the batch-means one (the interval is test inversion on it);
* ``log_growth``: mean annual log growth of the strategy's target mix, rebalanced every
  period, before fees and cash flows (:func:`backtest.crypto.surface.target_mix_returns`):
  the metric the rebalancing approximation (:func:`rebalancing_approximation`) is about.

Bisection (:func:`optimize.solve_for.bisect_on_crn`) runs over ``m`` at fixed ``v``,
correlation and shocks, on common random numbers (:class:`~backtest.crypto.assumptions.CrnDraws`),
and every evaluation is cached and shared by the metrics. At fixed arithmetic volatility
the log volatility falls as ``m`` rises (``sigma**2 = log(1 + v**2/(1+m)**2)``), so a
period's Bitcoin return rises with ``m`` except where its shock ``z`` exceeds
``sigma + sigma ((1+m)**2 + v**2) / v**2`` (about 2.7 standard deviations at
``m = 8 %, v = 60 %``: some 0.3 % of periods); the metrics' means are monotone in
practice, and the bisection needs only that the bracket's ends straddle zero.

Each answer is reported as the arithmetic mean, its 95 % interval, the premium over cash
(``m*`` minus the cash asset's arithmetic annual mean on the base scenarios) and over the
assets the sleeve displaces (``m*`` minus the base mix's arithmetic annual mean on the
same scenarios), beside the rebalancing approximation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.crypto.assumptions import BtcAssumption, CrnDraws, Shocks
from backtest.crypto.surface import SleeveFactory, expected_shortfall, target_mix_returns
from backtest.errors import DataError
from backtest.outcomes import IncomePreferences, income_utility
from backtest.plan import Plan
from backtest.report.income import annual_income, income_floor, planned_income
from backtest.simulate import SimulationResult, simulate
from backtest.types import FloatArray
from optimize.solve_for import SolveError, SolveResult, bisect_on_crn
from strategies.base import Strategy

#: The break-even metrics, in table order.
METRICS: tuple[str, ...] = ("success", "ce_income", "es_retirement", "log_growth")

#: Correlations with equities of the break-even table (issue #26).
BREAKEVEN_CORRS: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6)

#: Batches of the expected shortfall's batch-means standard error.
N_BATCHES = 20

#: Risk aversion of the CE metric: IncomePreferences' default, the tear sheet's SETS_GAMMA.
PREFERENCES = IncomePreferences()


# --------------------------------------------------------------------------- moments


def annual_simple_returns(returns: FloatArray, periods_per_year: int) -> FloatArray:
    """Compound per-period simple returns (n, T) into whole years (n, T // ppy), decimal."""
    r = np.asarray(returns, dtype=np.float64)
    years = r.shape[1] // periods_per_year
    if years < 1:
        raise DataError(f"{r.shape[1]} periods hold no whole year at {periods_per_year} a year")
    g = np.log1p(r[:, : years * periods_per_year]).reshape(r.shape[0], years, periods_per_year)
    return np.expm1(g.sum(axis=2))


@dataclass(frozen=True)
class BaseMoments:
    """Arithmetic annual moments on the base scenarios, nominal decimals.

    Pooled over every scenario and whole year of the plan: ``cash_mean`` of the cash
    asset's annual simple return, ``mix_mean`` and ``mix_var`` of the base strategy's
    target mix (rebalanced every period, before fees; a glide path's mix changes by year,
    so these are its averages over the plan).
    """

    cash_mean: float
    mix_mean: float
    mix_var: float
    mix_annual: FloatArray = field(repr=False)


def base_moments(
    draws: CrnDraws, plan: Plan, base: Strategy, cash_asset: str | None
) -> BaseMoments:
    """:class:`BaseMoments` of ``base`` on ``draws.base`` (cash NaN without ``cash_asset``)."""
    ppy = draws.base.periods_per_year
    mix = annual_simple_returns(target_mix_returns(draws.base, plan, base), ppy)
    cash = np.nan
    if cash_asset is not None:
        (j,) = draws.base.asset_index([cash_asset])
        n_t = plan.n_periods(ppy)
        cash = float(annual_simple_returns(draws.base.returns[:, :n_t, j], ppy).mean())
    return BaseMoments(float(cash), float(mix.mean()), float(mix.var()), mix)


def rebalancing_approximation(
    mix_mean: float, mix_var: float, btc_var: float, cov: float, sleeve: float
) -> float:
    """Break-even arithmetic Bitcoin return of a small sleeve by the rebalancing approximation.

    A portfolio P (arithmetic annual mean ``m_P``, variance ``V_P``) gives a share ``s``
    to Bitcoin (variance ``V_B``, covariance ``C`` with P), funded pro rata and rebalanced
    every year, so the new portfolio returns ``(1 - s) R_P + s R_B``, with mean
    ``m_s = (1 - s) m_P + s m_B`` and variance
    ``V_s = (1 - s)**2 V_P + s**2 V_B + 2 s (1 - s) C``. Expected log growth is
    ``E[log(1 + R)] ~ m - V / 2`` (second order). Equal growth, ``m_s - V_s/2 = m_P - V_P/2``:

    ``s (m_B - m_P) = [((1 - s)**2 - 1) V_P + s**2 V_B + 2 s (1 - s) C] / 2``
    ``          = [(-2 s + s**2) V_P + s**2 V_B + 2 s C - 2 s**2 C] / 2``,

    and dividing by ``s``: ``m_B* = m_P - V_P + C + s/2 (V_P + V_B - 2 C)``. At ``C = 0``
    it is ``m_P - V_P + s/2 (V_P + V_B)``: the displaced portfolio's return, less its
    variance (what the diversification is worth), plus half the sleeve's share of
    Bitcoin's variance (its volatility drag). All decimals a year.
    """
    if not sleeve > 0:
        raise DataError(f"sleeve={sleeve!r} must be > 0 (decimal share of the portfolio)")
    return mix_mean - mix_var + cov + 0.5 * sleeve * (mix_var + btc_var - 2.0 * cov)


def approximate_break_even(
    draws: CrnDraws,
    plan: Plan,
    moments: BaseMoments,
    sleeve: float,
    vol: float,
    corr: float,
    shocks: Shocks = "normal",
) -> float:
    """:func:`rebalancing_approximation` with the moments of the scenarios.

    ``m_P`` and ``V_P`` from :class:`BaseMoments`; ``V_B = vol**2`` (the stated arithmetic
    volatility); ``C`` the pooled covariance over every scenario-year of Bitcoin's annual
    simple return under the assumption and the base mix's, evaluated at the answer
    itself (``C`` scales with ``1 + m``: three fixed-point rounds from ``m = m_P``).
    """
    ppy = draws.base.periods_per_year
    n_t = plan.n_periods(ppy)
    p = moments.mix_annual
    m = moments.mix_mean
    for _ in range(3):
        a = BtcAssumption.from_arithmetic(m, vol, corr, shocks)
        b = annual_simple_returns(draws.crypto_returns(a)[:, :n_t], ppy)
        cov = float(np.mean((b - b.mean()) * (p - p.mean())))
        m = rebalancing_approximation(moments.mix_mean, moments.mix_var, vol**2, cov, sleeve)
    return m


# --------------------------------------------------------------------------- evaluations


@dataclass(frozen=True)
class _Reference:
    """The base without a sleeve, per scenario, and the CE's floor and scale (real USD)."""

    success: FloatArray
    utility: FloatArray
    at_retirement: FloatArray
    growth: FloatArray
    floor: float
    scale: float


def _utility(res: SimulationResult, floor: float, scale: float) -> FloatArray:
    """Per-scenario mean utility of ``floor + withdrawals paid`` over retirement years."""
    income = floor + annual_income(res)
    if income.shape[1] == 0:
        return np.zeros(income.shape[0])
    return np.asarray(income_utility(income, PREFERENCES, scale)).mean(axis=1)


def _growth(draws: CrnDraws, a: BtcAssumption, plan: Plan, strategy: Strategy) -> FloatArray:
    """Per-scenario mean annual log growth of the target mix, decimal a year."""
    r = target_mix_returns(draws.scenarios(a), plan, strategy)
    return np.log1p(r).mean(axis=1) * draws.base.periods_per_year


def reference(draws: CrnDraws, plan: Plan, base: Strategy) -> _Reference:
    """The base's per-scenario outcomes (it holds no Bitcoin: any assumption will do)."""
    a = BtcAssumption(0.0, 0.0)
    res = simulate(draws.scenarios(a), plan, base)
    floor = income_floor([res])
    planned = planned_income(res)
    # The utility's scale (no ranking depends on it): a typical income, floor + planned.
    scale = floor + planned if np.isfinite(planned) and planned > 0 else floor
    return _Reference(
        success=np.asarray(res.success, dtype=np.float64),
        utility=_utility(res, floor, scale),
        at_retirement=np.asarray(res.wealth_at_retirement, dtype=np.float64),
        growth=_growth(draws, a, plan, base),
        floor=floor,
        scale=scale,
    )


class _Runs:
    """Per-metric differences against the reference at each arithmetic mean, cached.

    One simulation per mean serves ``success``, ``ce_income`` and ``es_retirement``."""

    def __init__(
        self,
        draws: CrnDraws,
        plan: Plan,
        sleeve: Strategy,
        ref: _Reference,
        vol: float,
        corr: float,
        shocks: Shocks,
    ) -> None:
        self.draws, self.plan, self.sleeve, self.ref = draws, plan, sleeve, ref
        self.vol, self.corr, self.shocks = vol, corr, shocks
        self.sims: dict[float, dict[str, FloatArray]] = {}
        self.growth: dict[float, FloatArray] = {}

    def assumption(self, m: float) -> BtcAssumption:
        return BtcAssumption.from_arithmetic(m, self.vol, self.corr, self.shocks)

    def _sim(self, m: float) -> dict[str, FloatArray]:
        if m not in self.sims:
            ref = self.ref
            res = simulate(self.draws.scenarios(self.assumption(m)), self.plan, self.sleeve)
            at_ret = np.asarray(res.wealth_at_retirement, dtype=np.float64)
            self.sims[m] = {
                "success": np.asarray(res.success, dtype=np.float64) - ref.success,
                "ce_income": _utility(res, ref.floor, ref.scale) - ref.utility,
                "es_retirement": _es_outcomes(ref.at_retirement, at_ret),
            }
        return self.sims[m]

    def diff(self, metric: str, m: float) -> FloatArray:
        """Outcomes whose mean is the metric's change at arithmetic mean ``m``."""
        if metric == "log_growth":
            if m not in self.growth:
                g = _growth(self.draws, self.assumption(m), self.plan, self.sleeve)
                self.growth[m] = g - self.ref.growth
            return self.growth[m]
        return self._sim(m)[metric]

    @property
    def evaluations(self) -> int:
        return len(self.sims) + len(self.growth)


def _es_outcomes(base: FloatArray, other: FloatArray) -> FloatArray:
    """``d_full + (d_b - mean d_b)`` over :data:`N_BATCHES` batches (see the module)."""
    full = expected_shortfall(other) - expected_shortfall(base)
    size = base.size // N_BATCHES
    if size < 2:
        return np.array([full])
    d = np.array(
        [
            expected_shortfall(other[i * size : (i + 1) * size])
            - expected_shortfall(base[i * size : (i + 1) * size])
            for i in range(N_BATCHES)
        ]
    )
    return full + (d - d.mean())


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class BreakEven:
    """Break-even of one sleeve size, volatility, correlation and metric.

    Attributes
    ----------
    sleeve
        Sleeve size, decimal.
    vol, corr, shocks
        Bitcoin's arithmetic annual volatility (decimal), correlation, shocks.
    metric
        One of :data:`METRICS`.
    mean
        Break-even arithmetic expected return, decimal a year; NaN when the bracket holds
        none.
    ci_low, ci_high
        95 % interval of ``mean`` (test inversion on the paired differences).
    mean_log, vol_log
        The lognormal parameters at the break-even.
    note
        Why there is no answer, or that the interval is censored; else empty.
    solve
        The full :class:`~optimize.solve_for.SolveResult`, or None.
    """

    sleeve: float
    vol: float
    corr: float
    shocks: Shocks
    metric: str
    mean: float
    ci_low: float
    ci_high: float
    mean_log: float
    vol_log: float
    note: str = ""
    solve: SolveResult | None = None


def _solve(
    runs: _Runs, size: float, metric: str, bracket: tuple[float, float], xtol: float
) -> BreakEven:
    nan = float("nan")
    try:
        res = bisect_on_crn(lambda m: runs.diff(metric, m), *bracket, 0.0, xtol=xtol)
    except (SolveError, DataError) as exc:
        return BreakEven(
            size, runs.vol, runs.corr, runs.shocks, metric, nan, nan, nan, nan, nan, str(exc)
        )
    a = runs.assumption(res.x)
    return BreakEven(
        sleeve=float(size),
        vol=float(runs.vol),
        corr=float(runs.corr),
        shocks=runs.shocks,
        metric=metric,
        mean=float(res.x),
        ci_low=float(res.ci_low),
        ci_high=float(res.ci_high),
        mean_log=a.mean_log,
        vol_log=a.vol_log,
        note="interval censored by the bracket" if res.censored else "",
        solve=res,
    )


def break_even(
    draws: CrnDraws,
    plan: Plan,
    base: Strategy,
    sleeve: Strategy,
    size: float,
    vol: float,
    *,
    corr: float = 0.0,
    shocks: Shocks = "normal",
    metric: str = "success",
    bracket: tuple[float, float] = (-0.5, 1.0),
    xtol: float = 0.0025,
) -> BreakEven:
    """Break-even arithmetic expected return of Bitcoin for ``sleeve`` against ``base``.

    Parameters
    ----------
    draws
        Base scenarios and Bitcoin shocks (common random numbers).
    plan
        The member.
    base, sleeve
        The strategy without and with the sleeve.
    size
        The sleeve's size, decimal (for the record).
    vol, corr, shocks
        Bitcoin's arithmetic annual volatility (decimal), correlation with equities, shocks.
    metric
        One of :data:`METRICS`.
    bracket
        Search range of the arithmetic annual mean, decimals.
    xtol
        Tolerance on the mean (0.0025 = a quarter of a percentage point a year).
    """
    if metric not in METRICS:
        raise DataError(f"metric={metric!r}; use one of {METRICS}")
    runs = _Runs(draws, plan, sleeve, reference(draws, plan, base), vol, corr, shocks)
    return _solve(runs, size, metric, bracket, xtol)


def break_even_table(
    draws: CrnDraws,
    plan: Plan,
    base: Strategy,
    make_sleeve: SleeveFactory,
    sizes: Sequence[float],
    vols: Sequence[float],
    *,
    corrs: Sequence[float] = BREAKEVEN_CORRS,
    metrics: Sequence[str] = METRICS,
    shocks: Shocks = "normal",
    cash_asset: str | None = None,
    bracket: tuple[float, float] = (-0.5, 1.0),
    xtol: float = 0.0025,
) -> pd.DataFrame:
    """:func:`break_even` for every sleeve size (> 0), volatility, correlation and metric.

    Columns: ``sleeve``, ``vol`` (arithmetic), ``corr``, ``shocks``, ``metric``,
    ``breakeven_mean`` (arithmetic, decimal a year), ``ci_low``, ``ci_high`` (its 95 %
    interval), ``premium_over_cash`` and ``premium_over_displaced`` (``breakeven_mean``
    minus the cash asset's / the base mix's arithmetic annual mean on the base
    scenarios, :class:`BaseMoments`), ``approx_mean`` (:func:`approximate_break_even`),
    ``mean_log``, ``vol_log``, ``cash_mean``, ``mix_mean``, ``mix_var``, ``evaluations``
    (simulations and growth evaluations of the sleeve at that volatility and
    correlation, shared by the metrics), ``note``.
    """
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise DataError(f"unknown break-even metrics {bad}; use some of {METRICS}")
    ref = reference(draws, plan, base)
    moments = base_moments(draws, plan, base, cash_asset)
    rows = []
    for size in (s for s in sizes if s > 0):
        strategy = make_sleeve(size)
        for vol in vols:
            for corr in corrs:
                runs = _Runs(draws, plan, strategy, ref, vol, corr, shocks)
                approx = approximate_break_even(draws, plan, moments, size, vol, corr, shocks)
                found = [_solve(runs, size, m, bracket, xtol) for m in metrics]
                rows += [_row(b, moments, approx, runs.evaluations) for b in found]
    return pd.DataFrame(rows)


def _row(b: BreakEven, mo: BaseMoments, approx: float, evaluations: int) -> dict[str, object]:
    return {
        "sleeve": b.sleeve,
        "vol": b.vol,
        "corr": b.corr,
        "shocks": b.shocks,
        "metric": b.metric,
        "breakeven_mean": b.mean,
        "ci_low": b.ci_low,
        "ci_high": b.ci_high,
        "premium_over_cash": b.mean - mo.cash_mean,
        "premium_over_displaced": b.mean - mo.mix_mean,
        "approx_mean": approx,
        "mean_log": b.mean_log,
        "vol_log": b.vol_log,
        "cash_mean": mo.cash_mean,
        "mix_mean": mo.mix_mean,
        "mix_var": mo.mix_var,
        "evaluations": evaluations,
        "note": b.note,
    }
