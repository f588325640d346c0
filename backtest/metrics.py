"""Performance metrics of return series: pure, vectorised functions.

Conventions, everywhere in this module:

* ``returns`` are **decimal simple returns per period** (0.01 = +1 % in that period), as a
  1-D series of ``n_periods`` or an array ``(n_scenarios, n_periods)``; every metric
  reduces over the **last (period) axis**, so a 1-D input gives a float and a 2-D input
  gives an array of shape ``(n_scenarios,)``.
* ``periods_per_year`` is always an explicit argument (1 for annual, 12 for monthly).
  Annualised figures are decimals a year.
* Drawdowns and CVaR are reported as **returns** (negative numbers: -0.35 = a 35 % loss).
* Nominal or real is the caller's choice: pass real returns (see :func:`to_real`) and
  real T-bills to get real metrics. :func:`metrics_table` reports both.

What a plan did for the member (success with its standard error, survival-weighted
success, unpaid years, wealth percentiles, and the income figures: CE income, annuity
factor, replacement and bequest percentiles, safe withdrawal rate) is defined once in
:mod:`backtest.outcomes`
and re-exported here, so ``from backtest.metrics import success_rate`` works too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
import pandas as pd

from backtest.errors import DataError
from backtest.outcomes import LOG_UTILITY_BAND as LOG_UTILITY_BAND
from backtest.outcomes import REPLACEMENT_PERCENTILES as REPLACEMENT_PERCENTILES
from backtest.outcomes import RISK_AVERSIONS as RISK_AVERSIONS
from backtest.outcomes import SAFE_WITHDRAWAL_FAILURE as SAFE_WITHDRAWAL_FAILURE
from backtest.outcomes import WEALTH_PERCENTILES as WEALTH_PERCENTILES
from backtest.outcomes import ConditionalShortfall as ConditionalShortfall
from backtest.outcomes import SuccessRate as SuccessRate
from backtest.outcomes import alive_given_retirement as alive_given_retirement
from backtest.outcomes import bequest_percentiles as bequest_percentiles
from backtest.outcomes import certainty_equivalent as certainty_equivalent
from backtest.outcomes import crra_utility as crra_utility
from backtest.outcomes import life_annuity_factor as life_annuity_factor
from backtest.outcomes import lifetime_weights as lifetime_weights
from backtest.outcomes import max_sustainable_rates as max_sustainable_rates
from backtest.outcomes import mean_unpaid_years_given_failure as mean_unpaid_years_given_failure
from backtest.outcomes import percentile_columns as percentile_columns
from backtest.outcomes import probability_of_reaching as probability_of_reaching
from backtest.outcomes import replacement_percentiles as replacement_percentiles
from backtest.outcomes import ruin_ages as ruin_ages
from backtest.outcomes import safe_withdrawal_rate as safe_withdrawal_rate
from backtest.outcomes import ssa_life_annuity_factor as ssa_life_annuity_factor
from backtest.outcomes import success_rate as success_rate
from backtest.outcomes import survival_weighted_success as survival_weighted_success
from backtest.outcomes import survivors_at as survivors_at
from backtest.outcomes import tail_mean as tail_mean
from backtest.outcomes import unpaid_years as unpaid_years
from backtest.outcomes import unpaid_years_from_ruin as unpaid_years_from_ruin
from backtest.outcomes import wealth_percentiles as wealth_percentiles
from backtest.types import FloatArray

ArrayLike = FloatArray | pd.Series | pd.DataFrame | np.ndarray


def _arr(x: ArrayLike | float, name: str = "returns") -> FloatArray:
    """Float64 view of ``x`` with periods on the last axis (a DataFrame is rows = periods)."""
    if isinstance(x, pd.DataFrame):
        a = x.to_numpy(dtype=np.float64).T
    else:
        a = np.asarray(x, dtype=np.float64)
    if a.ndim not in (0, 1, 2):
        raise DataError(f"{name} must be 1-D (periods) or 2-D (scenarios, periods); got {a.shape}")
    return a


def _check(r: FloatArray, name: str = "returns") -> FloatArray:
    if r.ndim == 0 or r.shape[-1] == 0:
        raise DataError(f"{name} must hold at least one period; got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise DataError(f"{name} contains NaN or infinity; drop or fill missing periods first")
    if np.any(r <= -1.0):
        raise DataError(
            f"{name} has a return of {r.min():.4f} <= -100 %; returns are decimal simple "
            "returns per period (0.05 = +5 %)"
        )
    return r


def _out(x: FloatArray) -> FloatArray | float:
    return float(x) if np.ndim(x) == 0 else x


def _check_ppy(periods_per_year: int) -> int:
    if int(periods_per_year) != periods_per_year or periods_per_year < 1:
        raise DataError(
            f"periods_per_year={periods_per_year!r} must be a positive integer "
            "(1 annual, 12 monthly)"
        )
    return int(periods_per_year)


# --------------------------------------------------------------------------- conversions


@overload
def to_real(returns: pd.Series, inflation: pd.Series) -> pd.Series: ...
@overload
def to_real(returns: ArrayLike, inflation: ArrayLike) -> ArrayLike: ...
def to_real(returns: ArrayLike, inflation: ArrayLike) -> ArrayLike:
    """Real returns from nominal returns and inflation of the same periods.

    ``real = (1 + nominal) / (1 + inflation) - 1``; decimals per period. pandas inputs keep
    their index.
    """
    out = (1.0 + returns) / (1.0 + inflation) - 1.0
    return out


def growth_of_one(returns: ArrayLike) -> FloatArray:
    """Wealth path of 1 invested: ``cumprod(1 + r)``, same shape as ``returns``.

    The value after period ``t``; the starting value 1 is not included.
    """
    r = _check(_arr(returns))
    return (1.0 + r).cumprod(axis=-1)


# --------------------------------------------------------------------------- return & risk


def cagr(returns: ArrayLike, periods_per_year: int) -> FloatArray | float:
    """Compound annual growth rate, decimal a year.

    ``CAGR = (prod_t (1 + r_t)) ** (periods_per_year / n_periods) - 1``.
    """
    ppy = _check_ppy(periods_per_year)
    r = _check(_arr(returns))
    n = r.shape[-1]
    log_growth = np.sum(np.log1p(r), axis=-1)
    return _out(np.expm1(log_growth * ppy / n))


def annualised_volatility(
    returns: ArrayLike, periods_per_year: int, ddof: int = 1
) -> FloatArray | float:
    """Annualised volatility, decimal a year.

    ``sigma = std(r, ddof) * sqrt(periods_per_year)`` (sample standard deviation by default).
    """
    ppy = _check_ppy(periods_per_year)
    r = _check(_arr(returns))
    if r.shape[-1] <= ddof:
        return _out(np.full(r.shape[:-1], np.nan))
    return _out(np.std(r, axis=-1, ddof=ddof) * math.sqrt(ppy))


def _excess(returns: ArrayLike, riskfree: ArrayLike | float) -> FloatArray:
    r = _check(_arr(returns))
    rf = _arr(riskfree, "riskfree")
    if rf.ndim and rf.shape[-1] != r.shape[-1]:
        raise DataError(
            f"riskfree has {rf.shape[-1]} periods for returns of {r.shape[-1]} periods; pass "
            "the T-bill return of the same periods (decimal per period)"
        )
    if not np.all(np.isfinite(rf)):
        raise DataError("riskfree contains NaN or infinity")
    return r - rf


def sharpe_ratio(
    returns: ArrayLike, riskfree: ArrayLike | float, periods_per_year: int
) -> FloatArray | float:
    """Annualised Sharpe ratio against the risk-free (T-bill) return of the same periods.

    With excess returns ``x_t = r_t - rf_t`` (decimal per period):
    ``Sharpe = mean(x) / std(x, ddof=1) * sqrt(periods_per_year)``. Unitless. NaN when the
    excess returns do not vary.
    """
    ppy = _check_ppy(periods_per_year)
    x = _excess(returns, riskfree)
    if x.shape[-1] < 2:
        return _out(np.full(x.shape[:-1], np.nan))
    sd = np.std(x, axis=-1, ddof=1)
    mean = np.mean(x, axis=-1)
    out = np.divide(mean, sd, out=np.full_like(mean, np.nan), where=sd > 0) * math.sqrt(ppy)
    return _out(out)


def sortino_ratio(
    returns: ArrayLike, riskfree: ArrayLike | float, periods_per_year: int
) -> FloatArray | float:
    """Annualised Sortino ratio, with the risk-free return as the target.

    With ``x_t = r_t - rf_t``: downside deviation ``DD = sqrt(mean(min(x_t, 0) ** 2))``
    (over all periods) and ``Sortino = mean(x) / DD * sqrt(periods_per_year)``. Unitless;
    NaN (no downside) when no period falls short of the target.
    """
    ppy = _check_ppy(periods_per_year)
    x = _excess(returns, riskfree)
    dd = np.sqrt(np.mean(np.minimum(x, 0.0) ** 2, axis=-1))
    mean = np.mean(x, axis=-1)
    out = np.divide(mean, dd, out=np.full_like(mean, np.nan), where=dd > 0) * math.sqrt(ppy)
    return _out(out)


# --------------------------------------------------------------------------- drawdowns


def drawdowns(returns: ArrayLike) -> FloatArray:
    """Drawdown after each period, decimal (0 at a new high, -0.3 = 30 % below the peak).

    ``W_t = prod_{s<=t} (1 + r_s)``, ``peak_t = max(1, max_{s<=t} W_s)``,
    ``DD_t = W_t / peak_t - 1``. The starting value 1 counts as a peak, so a loss in the
    first period is a drawdown. Same shape as ``returns``.
    """
    w = growth_of_one(returns)
    peak = np.maximum(np.maximum.accumulate(w, axis=-1), 1.0)
    return w / peak - 1.0


def max_drawdown(returns: ArrayLike) -> FloatArray | float:
    """Maximum drawdown, decimal (the most negative value of :func:`drawdowns`; <= 0)."""
    return _out(np.minimum(drawdowns(returns).min(axis=-1), 0.0))


@dataclass(frozen=True)
class DrawdownStats:
    """Position of the maximum drawdown on the wealth path, vectorised over scenarios.

    Indices count wealth points: 0 is the start (before the first period), ``t + 1`` the
    value after period ``t``. ``recovery`` is -1 when the path never regains the peak.

    Attributes
    ----------
    depth
        Maximum drawdown, decimal (<= 0).
    peak, trough, recovery
        Wealth-point index of the peak before the worst trough, of the trough, and of the
        first point back at or above the peak (-1: not recovered).
    periods_to_trough
        ``trough - peak``, periods.
    recovery_periods
        ``recovery - trough``, periods from the trough back to the old peak; NaN when not
        recovered (or when there was no drawdown: 0).
    """

    depth: FloatArray
    peak: FloatArray
    trough: FloatArray
    recovery: FloatArray
    periods_to_trough: FloatArray
    recovery_periods: FloatArray


def drawdown_stats(returns: ArrayLike) -> DrawdownStats:
    """Depth, peak, trough and recovery of the maximum drawdown (see :class:`DrawdownStats`).

    Arrays of shape ``(n_scenarios,)`` (or 0-d for a 1-D input).
    """
    r = _check(_arr(returns))
    w = np.concatenate([np.ones((*r.shape[:-1], 1)), np.cumprod(1.0 + r, axis=-1)], axis=-1)
    peak_val = np.maximum.accumulate(w, axis=-1)
    dd = w / peak_val - 1.0
    trough = np.argmin(dd, axis=-1)
    depth = np.take_along_axis(dd, trough[..., None], axis=-1)[..., 0]
    n = w.shape[-1]
    idx = np.arange(n)
    # The peak: last index at or before the trough where the running maximum was set.
    at_peak = (w >= peak_val) & (idx <= trough[..., None])
    peak = np.max(np.where(at_peak, idx, -1), axis=-1)
    pv = np.take_along_axis(w, peak[..., None], axis=-1)
    back = (w >= pv * (1 - 1e-12)) & (idx > trough[..., None])
    has = back.any(axis=-1)
    recovery = np.where(has, np.argmax(back, axis=-1), -1)
    none = depth >= 0
    recovery = np.where(none, trough, recovery)
    rec_periods = np.where(recovery >= 0, recovery - trough, np.nan).astype(np.float64)
    return DrawdownStats(
        depth=np.minimum(depth, 0.0),
        peak=peak.astype(np.float64),
        trough=trough.astype(np.float64),
        recovery=recovery.astype(np.float64),
        periods_to_trough=(trough - peak).astype(np.float64),
        recovery_periods=rec_periods,
    )


def calmar_ratio(returns: ArrayLike, periods_per_year: int) -> FloatArray | float:
    """Calmar ratio: ``CAGR / |maximum drawdown|`` over the whole series. Unitless.

    NaN when there was no drawdown.
    """
    g = np.asarray(cagr(returns, periods_per_year))
    mdd = np.abs(np.asarray(max_drawdown(returns)))
    return _out(np.divide(g, mdd, out=np.full_like(g, np.nan), where=mdd > 0))


def ulcer_index(returns: ArrayLike) -> FloatArray | float:
    """Ulcer index (Martin, 1987), decimal: ``sqrt(mean_t DD_t ** 2)``.

    ``DD_t`` are the drawdowns after each period (:func:`drawdowns`). Multiply by 100 for
    Martin's percent units.
    """
    return _out(np.sqrt(np.mean(drawdowns(returns) ** 2, axis=-1)))


# --------------------------------------------------------------------------- tails & years


def cvar(returns: ArrayLike, level: float = 0.95) -> FloatArray | float:
    """Historical conditional value at risk (expected shortfall), as a return per period.

    The mean return in the worst ``1 - level`` of periods, by the one tail convention
    (:func:`backtest.outcomes.tail_mean`: the worst ``ceil(n * (1 - level))``). Decimal per
    period of the input (negative = loss).
    """
    if not 0 < level < 1:
        raise DataError(f"cvar level={level!r} must be in (0, 1), e.g. 0.95")
    return _out(tail_mean(_check(_arr(returns)), level, "lower"))


def annual_returns(returns: ArrayLike, periods_per_year: int) -> FloatArray:
    """Compound consecutive blocks of ``periods_per_year`` periods into yearly returns.

    ``R_y = prod_{t in year y} (1 + r_t) - 1``, decimal a year, shape ``(..., n_years)``;
    a trailing partial year is dropped. For dated series use
    :func:`calendar_year_returns` instead.
    """
    ppy = _check_ppy(periods_per_year)
    r = _check(_arr(returns))
    n_years = r.shape[-1] // ppy
    blocks = r[..., : n_years * ppy].reshape((*r.shape[:-1], n_years, ppy))
    return np.prod(1.0 + blocks, axis=-1) - 1.0


def calendar_year_returns(
    returns: pd.Series | pd.DataFrame, periods_per_year: int, full_years_only: bool = True
) -> pd.Series | pd.DataFrame:
    """Calendar-year returns of a dated series, decimal a year, indexed by year (int).

    ``R_y = prod_{t in year y} (1 + r_t) - 1``. With ``full_years_only`` a year is kept only
    when it holds ``periods_per_year`` periods (a fund starting in July has no 1st-year
    figure).
    """
    ppy = _check_ppy(periods_per_year)
    if not isinstance(returns.index, pd.DatetimeIndex):
        raise DataError("calendar_year_returns needs a DatetimeIndex (period-end dates)")
    years = returns.index.year
    grouped = (1.0 + returns).groupby(years)
    out = grouped.prod() - 1.0
    if full_years_only:
        counts = grouped.count()
        if isinstance(counts, pd.DataFrame):
            counts = counts.iloc[:, 0]
        out = out[counts.to_numpy() >= ppy]
    out.index.name = "year"
    return out


# --------------------------------------------------------------------------- trading & fees


def turnover_annual(turnover: ArrayLike, periods_per_year: int) -> FloatArray | float:
    """Average one-way turnover, decimal of the balance a year.

    ``mean_t turnover_t * periods_per_year``, where ``turnover_t`` is one-way turnover per
    period as in ``SimulationResult.turnover`` (decimal of the balance).
    """
    ppy = _check_ppy(periods_per_year)
    t = _arr(turnover, "turnover")
    return _out(np.mean(t, axis=-1) * ppy)


def fees_annual(fee_rate: ArrayLike, periods_per_year: int) -> FloatArray | float:
    """Average fees and trading costs paid, decimal of the balance a year.

    ``mean_t f_t * periods_per_year`` with ``f_t`` the fees + costs of period ``t`` as a
    decimal of the balance (``(fees + costs) / wealth`` from a ``SimulationResult``).
    """
    ppy = _check_ppy(periods_per_year)
    f = _arr(fee_rate, "fee_rate")
    return _out(np.mean(f, axis=-1) * ppy)


# --------------------------------------------------------------------------- the table

MetricKind = Literal["pct", "ratio", "date", "periods"]


@dataclass(frozen=True)
class MetricInfo:
    """How to label and format one column of :func:`metrics_table`."""

    label: str
    kind: MetricKind
    description: str


#: Columns of :func:`metrics_table`, in display order.
METRICS: dict[str, MetricInfo] = {
    "cagr": MetricInfo("CAGR", "pct", "compound annual growth rate, % a year"),
    "volatility": MetricInfo("Volatility", "pct", "annualised standard deviation, % a year"),
    "sharpe": MetricInfo("Sharpe", "ratio", "annualised, excess over T-bills"),
    "sortino": MetricInfo("Sortino", "ratio", "annualised, T-bills as the target"),
    "max_drawdown": MetricInfo("Max drawdown", "pct", "largest peak-to-trough fall"),
    "max_drawdown_peak": MetricInfo("Drawdown peak", "date", "end of the period at the peak"),
    "max_drawdown_trough": MetricInfo("Drawdown trough", "date", "end of the period at the low"),
    "max_drawdown_recovery": MetricInfo(
        "Recovered", "date", "first period-end back at the peak (blank: not recovered)"
    ),
    "recovery_periods": MetricInfo(
        "Recovery time", "periods", "periods from trough back to the peak"
    ),
    "calmar": MetricInfo("Calmar", "ratio", "CAGR / |max drawdown|"),
    "best_year": MetricInfo("Best year", "pct", "best calendar-year return"),
    "worst_year": MetricInfo("Worst year", "pct", "worst calendar-year return"),
    "cvar_95_period": MetricInfo("CVaR 95% (period)", "pct", "mean of the worst 5 % of periods"),
    "cvar_95_annual": MetricInfo("CVaR 95% (year)", "pct", "mean of the worst 5 % of years"),
    "ulcer_index": MetricInfo("Ulcer index", "pct", "root-mean-square drawdown"),
    "turnover": MetricInfo("Turnover", "pct", "one-way, % of the balance a year"),
    "fees": MetricInfo("Fees and costs", "pct", "% of the balance a year"),
}


def _as_frame(x: dict[str, pd.Series] | pd.DataFrame | None, name: str) -> pd.DataFrame | None:
    if x is None:
        return None
    frame = pd.DataFrame(x) if isinstance(x, dict) else x
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{name} must be indexed by period-end dates (DatetimeIndex)")
    return frame


def _series_metrics(
    r: pd.Series, rf: pd.Series, ppy: int, turnover: float, fees: float
) -> dict[str, object]:
    a = r.to_numpy(dtype=np.float64)
    dates = r.index
    stats = drawdown_stats(a)
    start = dates[0] - pd.offsets.MonthEnd(12 // ppy)

    def date_at(i: float) -> pd.Timestamp | None:
        if i < 0:
            return None
        return start if i == 0 else dates[int(i) - 1]

    years = calendar_year_returns(r, ppy)
    yearly = years.to_numpy(dtype=np.float64)
    return {
        "cagr": cagr(a, ppy),
        "volatility": annualised_volatility(a, ppy),
        "sharpe": sharpe_ratio(a, rf.to_numpy(), ppy),
        "sortino": sortino_ratio(a, rf.to_numpy(), ppy),
        "max_drawdown": float(stats.depth),
        "max_drawdown_peak": date_at(float(stats.peak)) if stats.depth < 0 else None,
        "max_drawdown_trough": date_at(float(stats.trough)) if stats.depth < 0 else None,
        "max_drawdown_recovery": date_at(float(stats.recovery)) if stats.depth < 0 else None,
        "recovery_periods": float(stats.recovery_periods) if stats.depth < 0 else np.nan,
        "calmar": calmar_ratio(a, ppy),
        "best_year": float(yearly.max()) if yearly.size else np.nan,
        "worst_year": float(yearly.min()) if yearly.size else np.nan,
        "cvar_95_period": cvar(a, 0.95),
        "cvar_95_annual": cvar(yearly, 0.95) if yearly.size else np.nan,
        "ulcer_index": ulcer_index(a),
        "turnover": turnover,
        "fees": fees,
    }


def metrics_table(
    returns_by_strategy: dict[str, pd.Series] | pd.DataFrame,
    riskfree: pd.Series,
    inflation: pd.Series | None,
    periods_per_year: int,
    *,
    turnover: dict[str, pd.Series] | pd.DataFrame | None = None,
    fee_rate: dict[str, pd.Series] | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """All metrics of several strategies, nominal and real, one row per (strategy, basis).

    Parameters
    ----------
    returns_by_strategy
        Nominal decimal returns per period, after fees, one column (or dict entry) per
        strategy, indexed by period-end dates.
    riskfree
        Nominal T-bill return of the same periods, decimal per period.
    inflation
        CPI change of the same periods, decimal per period; ``None`` gives nominal rows
        only.
    periods_per_year
        1 for annual series, 12 for monthly series.
    turnover, fee_rate
        One-way turnover and fees + costs per period, decimal of the balance, per strategy
        (optional; NaN when absent).

    Returns
    -------
    pandas.DataFrame
        Index ``(strategy, basis)`` with basis ``"nominal"`` or ``"real"``; columns the keys
        of :data:`METRICS` (decimals, ratios, Timestamps or period counts). The real rows use
        real returns and real T-bills, ``(1 + x) / (1 + inflation) - 1``.
    """
    ppy = _check_ppy(periods_per_year)
    frame = _as_frame(returns_by_strategy, "returns_by_strategy")
    assert frame is not None
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise DataError("metrics_table needs at least one strategy with at least one period")
    if frame.isna().to_numpy().any():
        bad = frame.columns[frame.isna().any()].tolist()
        raise DataError(f"returns of {bad} contain NaN; align the strategies on common periods")
    rf = riskfree.reindex(frame.index)
    if rf.isna().any():
        raise DataError("riskfree does not cover every period of the returns (same dates needed)")
    infl = None
    if inflation is not None:
        infl = inflation.reindex(frame.index)
        if infl.isna().any():
            raise DataError("inflation does not cover every period of the returns")
    to = _as_frame(turnover, "turnover")
    fr = _as_frame(fee_rate, "fee_rate")
    rows: list[dict[str, object]] = []
    index: list[tuple[str, str]] = []
    for name in frame.columns:
        r = frame[name]
        t_val = np.nan
        if to is not None and name in to.columns:
            t_val = float(turnover_annual(to[name].reindex(r.index).fillna(0.0), ppy))
        f_val = np.nan
        if fr is not None and name in fr.columns:
            f_val = float(fees_annual(fr[name].reindex(r.index).fillna(0.0), ppy))
        rows.append(_series_metrics(r, rf, ppy, t_val, f_val))
        index.append((str(name), "nominal"))
        if infl is not None:
            rows.append(_series_metrics(to_real(r, infl), to_real(rf, infl), ppy, t_val, f_val))
            index.append((str(name), "real"))
    out = pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["strategy", "basis"]))
    for col in ("max_drawdown_peak", "max_drawdown_trough", "max_drawdown_recovery"):
        out[col] = pd.to_datetime(out[col])
    return out[list(METRICS)]
