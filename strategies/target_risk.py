"""Target-risk strategies: fixed mixes, volatility targeting and risk parity.

Adaptive strategies here read **past returns only**: the weights for period ``t`` use
``past_returns[:, :t]``. Volatility forecasts are computed for every scenario and period
at once (IIR filters and cumulative sums, no Python loop over paths or periods).

Units: returns are decimal simple returns per period; volatilities are annualised with
``sqrt(periods_per_year)`` and quoted as decimals a year (0.10 = 10 % a year). NaN in
``past_returns`` marks a period without data; it is skipped by the estimators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
from scipy.signal import lfilter

from strategies.base import (
    NoStateTable,
    RebalanceRule,
    Schedule,
    SleeveBand,
    Smoothing,
    check_asset_names,
    check_numbers,
)
from strategies.errors import StrategyError
from strategies.target_date import clean_weight_table
from strategies.types import FloatArray

Estimator = Literal["ewma", "window"]

#: Standard deviation of annual S&P 500 total returns 1928-2025 in the embedded
#: ``us_annual.csv`` (Damodaran), rounded: 19.4 % measured. Used only to pick a default
#: warm-up risky share (target / this) before a forecast exists.
LONG_RUN_EQUITY_VOL_ANNUAL = 0.19

#: Volatility floor (decimal a year) so inverse-volatility weights stay finite.
_MIN_VOL = 1e-8


@dataclass(frozen=True)
class FixedMix(NoStateTable):
    """Constant target weights (LifeStrategy-style 60/40 and the like).

    Parameters
    ----------
    name
        Label.
    assets
        Asset names.
    weights
        Decimal weights, one per asset, in [0, 1], summing to 1.
    rebalance
        How drift is traded back (default: annual calendar).
    """

    name: str
    assets: tuple[str, ...]
    weights: tuple[float, ...]
    rebalance: RebalanceRule = field(default_factory=RebalanceRule)
    sleeve_band: SleeveBand | None = None
    smoothing: Smoothing | None = None

    depends_on_returns: ClassVar[bool] = False

    def __post_init__(self) -> None:
        who = f"FixedMix {self.name!r}"
        assets = check_asset_names(who, self.assets)
        w = clean_weight_table(self.weights, len(assets), who, "weights")
        if w.shape[0] != 1:
            raise StrategyError(f"{who}: weights must be one row, got {w.shape[0]}")
        object.__setattr__(self, "assets", assets)
        object.__setattr__(self, "weights", tuple(float(x) for x in w[0]))

    def weights_at_age(self, ages: FloatArray, retirement_age: float | None = None) -> FloatArray:
        """The same weights at every age, (n, n_assets)."""
        n = np.asarray(ages).size
        return np.tile(np.asarray(self.weights), (n, 1))

    def target_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """Static weights, shape (1, n_periods, n_assets)."""
        return self.weights_at_age(schedule.age_start)[None, :, :]


# ----------------------------------------------------------------------------- estimators


def _shift_one(a: FloatArray) -> FloatArray:
    """Shift along axis 1 by one period so row ``t`` holds what was known before ``t``."""
    out = np.zeros_like(a)
    out[:, 1:] = a[:, :-1]
    return out


def ewma_volatility(
    past_returns: FloatArray, halflife_periods: float, periods_per_year: int
) -> tuple[FloatArray, FloatArray]:
    """Exponentially weighted volatility forecast from past returns only.

    Row ``t`` uses returns of periods ``< t``, weighting period ``t - 1 - k`` by
    ``lambda**k`` with ``lambda = 0.5 ** (1 / halflife_periods)``. The mean is the EWMA
    mean and the variance carries the usual small-sample correction for weighted
    variances (``1 - sum w^2``), so with equal weights it is the sample variance.

    Parameters
    ----------
    past_returns
        Decimal simple returns per period, (n_scenarios, n_periods, n_assets); NaN =
        no data (skipped).
    halflife_periods
        Half-life of the weights, in periods.
    periods_per_year
        1 (annual) or 12 (monthly); the forecast is annualised by ``sqrt`` of it.

    Returns
    -------
    (vol_annual, n_obs)
        Annualised volatility, decimal a year (NaN where fewer than 2 observations), and
        the number of past observations, both (n_scenarios, n_periods, n_assets).
    """
    r = np.asarray(past_returns, dtype=np.float64)
    valid = np.isfinite(r)
    x = np.where(valid, r, 0.0)
    m = valid.astype(np.float64)
    lam = 0.5 ** (1.0 / halflife_periods)
    a = [1.0, -lam]
    s0 = _shift_one(lfilter([1.0], a, m, axis=1))
    s1 = _shift_one(lfilter([1.0], a, x, axis=1))
    s2 = _shift_one(lfilter([1.0], a, x * x, axis=1))
    q = _shift_one(lfilter([1.0], [1.0, -lam * lam], m, axis=1))
    n_obs = _shift_one(np.cumsum(m, axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1 / s0
        var_w = np.maximum(s2 / s0 - mean * mean, 0.0)
        correction = 1.0 - q / (s0 * s0)
        var = var_w / correction
    vol = np.where(n_obs >= 2, np.sqrt(np.abs(var)) * math.sqrt(periods_per_year), np.nan)
    return vol, n_obs


def window_volatility(
    past_returns: FloatArray, window_periods: int, periods_per_year: int
) -> tuple[FloatArray, FloatArray]:
    """Trailing-window sample volatility from past returns only.

    Row ``t`` uses the (non-missing) returns of periods ``t - window_periods .. t - 1``.

    Returns
    -------
    (vol_annual, n_obs)
        Annualised sample standard deviation, decimal a year (NaN where fewer than 2
        observations in the window), and the observation count, both
        (n_scenarios, n_periods, n_assets).
    """
    r = np.asarray(past_returns, dtype=np.float64)
    valid = np.isfinite(r)
    x = np.where(valid, r, 0.0)
    n, t, k = r.shape

    def trailing(a: FloatArray) -> FloatArray:
        c = np.zeros((n, t + 1, k))
        np.cumsum(a, axis=1, out=c[:, 1:])
        lag = np.zeros_like(c)
        lag[:, window_periods:] = c[:, :-window_periods]
        return (c - lag)[:, :t]  # row t: sum over [t - W, t - 1]

    cnt = trailing(valid.astype(np.float64))
    s1 = trailing(x)
    s2 = trailing(x * x)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.maximum((s2 - s1 * s1 / cnt) / (cnt - 1.0), 0.0)
    vol = np.where(cnt >= 2, np.sqrt(var) * math.sqrt(periods_per_year), np.nan)
    return vol, np.rint(cnt)


@dataclass(frozen=True)
class _VolSpec:
    estimator: Estimator
    span_periods: float
    min_history_periods: int


def _vol_spec(
    who: str,
    estimator: str,
    halflife_periods: float | None,
    window_periods: int | None,
    halflife_years: float | None,
    window_years: float | None,
    min_history_periods: int | None,
    periods_per_year: int,
    min_history_years: float | None = None,
) -> _VolSpec:
    """Resolve the estimator's span and warm-up in periods for this frequency."""
    if estimator == "ewma":
        if halflife_periods is not None:
            span = float(halflife_periods)
        else:
            span = (halflife_years if halflife_years is not None else 1.0) * periods_per_year
        default_min = max(2, math.ceil(span))
    else:
        if window_periods is not None:
            span = float(window_periods)
        else:
            span = max(
                2, round((window_years if window_years is not None else 3.0) * periods_per_year)
            )
        default_min = int(span)
    if min_history_years is not None:
        mh = round(min_history_years * periods_per_year)
    elif min_history_periods is not None:
        mh = int(min_history_periods)
    else:
        mh = default_min
    return _VolSpec(estimator, float(span), max(2, mh))  # type: ignore[arg-type]


def _check_estimator(
    who: str,
    estimator: str,
    halflife_periods: float | None,
    window_periods: int | None,
    halflife_years: float | None,
    window_years: float | None,
    min_history_periods: int | None,
    min_history_years: float | None = None,
) -> None:
    optional = ("halflife_periods", "window_periods", "halflife_years", "window_years")
    check_numbers(
        who,
        (*optional, "min_history_periods", "min_history_years"),
        halflife_periods=halflife_periods,
        window_periods=window_periods,
        halflife_years=halflife_years,
        window_years=window_years,
        min_history_periods=min_history_periods,
        min_history_years=min_history_years,
    )
    if estimator not in ("ewma", "window"):
        raise StrategyError(f"{who}: estimator={estimator!r}; use 'ewma' or 'window'")
    if estimator == "ewma" and (window_periods is not None or window_years is not None):
        raise StrategyError(
            f"{who}: a window is set but estimator='ewma'; pass estimator='window' or drop "
            "window_periods/window_years"
        )
    if estimator == "window" and (halflife_periods is not None or halflife_years is not None):
        raise StrategyError(
            f"{who}: a half-life is set but estimator='window'; pass estimator='ewma' or drop "
            "halflife_periods/halflife_years"
        )
    if halflife_periods is not None and halflife_years is not None:
        raise StrategyError(f"{who}: give halflife_periods or halflife_years, not both")
    if window_periods is not None and window_years is not None:
        raise StrategyError(f"{who}: give window_periods or window_years, not both")
    for field_name, v in (
        ("halflife_periods", halflife_periods),
        ("halflife_years", halflife_years),
    ):
        if v is not None and not v > 0:
            raise StrategyError(f"{who}: {field_name}={v!r} must be > 0")
    if window_periods is not None and (int(window_periods) != window_periods or window_periods < 2):
        raise StrategyError(f"{who}: window_periods={window_periods!r} must be an integer >= 2")
    if window_years is not None and not window_years > 0:
        raise StrategyError(f"{who}: window_years={window_years!r} must be > 0")
    if min_history_periods is not None and min_history_years is not None:
        raise StrategyError(f"{who}: give min_history_periods or min_history_years, not both")
    if min_history_years is not None and not min_history_years > 0:
        raise StrategyError(f"{who}: min_history_years={min_history_years!r} must be > 0")
    if min_history_periods is not None and min_history_periods < 2:
        raise StrategyError(
            f"{who}: min_history_periods={min_history_periods!r} must be >= 2 (a volatility "
            "needs two observations)"
        )


def _forecast(spec: _VolSpec, r: FloatArray, ppy: int) -> tuple[FloatArray, FloatArray]:
    if spec.estimator == "ewma":
        return ewma_volatility(r, spec.span_periods, ppy)
    return window_volatility(r, int(spec.span_periods), ppy)


# ----------------------------------------------------------------------- volatility target


@dataclass(frozen=True)
class VolatilityTarget(NoStateTable):
    """Scale a risky asset so its forecast volatility hits a target, rest in a safe asset.

    Risky share in period ``t``: ``clip(target_vol_annual / forecast_vol_t, min_risky,
    max_risky)``, where ``forecast_vol_t`` is the annualised volatility of the risky
    asset estimated from periods ``< t`` only. The safe asset's own volatility and its
    correlation with the risky asset are ignored (exact when the safe asset is cash).
    Until ``min_history_periods`` past observations (or ``min_history_years`` of them)
    exist the risky share is ``warmup_risky``.

    Parameters
    ----------
    name
        Label.
    risky_asset, safe_asset
        Asset names (default US stocks and T-bills).
    target_vol_annual
        Target volatility, decimal a year (0.10 = 10 %).
    estimator
        ``"ewma"`` (exponentially weighted) or ``"window"`` (trailing sample).
    halflife_periods, halflife_years
        EWMA half-life, in periods or in years (give at most one; default 1 year).
    window_periods, window_years
        Trailing window, in periods or in years (give at most one; default 3 years).
    max_risky, min_risky
        Bounds on the risky share, decimal.
    warmup_risky
        Risky share before a forecast exists; default ``target /
        LONG_RUN_EQUITY_VOL_ANNUAL`` (0.19), clipped to the bounds.
    min_history_periods, min_history_years
        Past history needed before trusting the forecast, in periods or in years (give
        at most one; years are rounded to whole periods, so the same calendar span on
        annual and monthly data); default the EWMA half-life or the window length, in
        periods. Never fewer than 2 observations: a volatility needs two.
    rebalance
        Default: every period (calendar, monthly), so the target is tracked.
    """

    name: str
    risky_asset: str = "us_stocks"
    safe_asset: str = "tbills"
    target_vol_annual: float = 0.10
    estimator: Estimator = "ewma"
    halflife_periods: float | None = None
    window_periods: int | None = None
    max_risky: float = 1.0
    min_risky: float = 0.0
    warmup_risky: float | None = None
    halflife_years: float | None = None
    window_years: float | None = None
    min_history_periods: int | None = None
    min_history_years: float | None = None
    rebalance: RebalanceRule = field(default_factory=lambda: RebalanceRule("calendar", 1))
    sleeve_band: SleeveBand | None = None
    smoothing: Smoothing | None = None

    depends_on_returns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        who = f"VolatilityTarget {self.name!r}"
        check_numbers(
            who,
            ("warmup_risky",),
            target_vol_annual=self.target_vol_annual,
            max_risky=self.max_risky,
            min_risky=self.min_risky,
            warmup_risky=self.warmup_risky,
        )
        if self.risky_asset == self.safe_asset:
            raise StrategyError(f"{who}: risky_asset and safe_asset are both {self.safe_asset!r}")
        if not 0 < self.target_vol_annual < 5:
            raise StrategyError(
                f"{who}: target_vol_annual={self.target_vol_annual!r} must be a decimal a year "
                "in (0, 5), e.g. 0.10 for 10 %"
            )
        if not 0.0 <= self.min_risky <= self.max_risky <= 1.0:
            raise StrategyError(
                f"{who}: need 0 <= min_risky <= max_risky <= 1; got {self.min_risky}, "
                f"{self.max_risky}"
            )
        if self.warmup_risky is not None and not (
            self.min_risky <= self.warmup_risky <= self.max_risky
        ):
            raise StrategyError(
                f"{who}: warmup_risky={self.warmup_risky} must lie in [min_risky, max_risky] = "
                f"[{self.min_risky}, {self.max_risky}]"
            )
        _check_estimator(
            who,
            self.estimator,
            self.halflife_periods,
            self.window_periods,
            self.halflife_years,
            self.window_years,
            self.min_history_periods,
            self.min_history_years,
        )

    @property
    def assets(self) -> tuple[str, ...]:
        return (self.risky_asset, self.safe_asset)

    @property
    def warmup(self) -> float:
        """Risky share used before a forecast exists, decimal."""
        if self.warmup_risky is not None:
            return float(self.warmup_risky)
        w = self.target_vol_annual / LONG_RUN_EQUITY_VOL_ANNUAL
        return float(np.clip(w, self.min_risky, self.max_risky))

    def describe(self) -> str:
        """One line: target and bounds."""
        return (
            f"adaptive: {self.target_vol_annual:.0%}/yr vol target on {self.risky_asset} "
            f"(share in [{self.min_risky:g}, {self.max_risky:g}], warm-up {self.warmup:.2f}), "
            f"rest {self.safe_asset}"
        )

    def risky_share(self, past_returns: FloatArray, periods_per_year: int) -> FloatArray:
        """Risky share per scenario and period, (n_scenarios, n_periods).

        Parameters
        ----------
        past_returns
            Decimal simple returns per period, (n_scenarios, n_periods, 2) in the order
            of ``assets`` (or (n_scenarios, n_periods) for the risky asset alone).
        periods_per_year
            1 (annual) or 12 (monthly).
        """
        r = np.asarray(past_returns, dtype=np.float64)
        risky = r[..., 0] if r.ndim == 3 else r
        spec = _vol_spec(
            self.name,
            self.estimator,
            self.halflife_periods,
            self.window_periods,
            self.halflife_years,
            self.window_years,
            self.min_history_periods,
            periods_per_year,
            self.min_history_years,
        )
        vol, n_obs = _forecast(spec, risky[:, :, None], periods_per_year)
        vol, n_obs = vol[..., 0], n_obs[..., 0]
        ready = (n_obs >= spec.min_history_periods) & np.isfinite(vol)
        with np.errstate(divide="ignore"):
            raw = self.target_vol_annual / np.where(ready, vol, 1.0)
        share = np.clip(raw, self.min_risky, self.max_risky)
        return np.where(ready, share, self.warmup)

    def target_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """Weights (n_scenarios, n_periods, 2): ``[risky, 1 - risky]``."""
        s = self.risky_share(past_returns, schedule.periods_per_year)
        return np.stack([s, 1.0 - s], axis=-1)


# ----------------------------------------------------------------------------- risk parity


@dataclass(frozen=True)
class RiskParity(NoStateTable):
    """Inverse-volatility weights across the asset set, from past returns only.

    Weight of asset ``i`` in period ``t``: ``(1 / vol_i) / sum_j (1 / vol_j)`` over the
    assets with at least ``min_history_periods`` past observations, where ``vol`` is the
    forecast from periods ``< t``. This equals equal risk contribution when all pairwise
    correlations are equal; correlations are otherwise ignored (no per-period
    optimisation). Assets still lacking history (e.g. Bitcoin before 2010) get weight 0.
    While no asset has enough history the weights are ``warmup_weights`` (default equal).

    Parameters
    ----------
    name
        Label.
    assets
        Asset names.
    estimator, halflife_periods, halflife_years, window_periods, window_years,
    min_history_periods, min_history_years
        As for :class:`VolatilityTarget` (default EWMA with a 1-year half-life).
    warmup_weights
        Decimal weights before any forecast exists; default equal weights.
    """

    name: str
    assets: tuple[str, ...] = ("us_stocks", "tbonds_10y")
    estimator: Estimator = "ewma"
    halflife_periods: float | None = None
    window_periods: int | None = None
    halflife_years: float | None = None
    window_years: float | None = None
    min_history_periods: int | None = None
    min_history_years: float | None = None
    warmup_weights: tuple[float, ...] | None = None
    rebalance: RebalanceRule = field(default_factory=lambda: RebalanceRule("calendar", 1))
    sleeve_band: SleeveBand | None = None
    smoothing: Smoothing | None = None

    depends_on_returns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        who = f"RiskParity {self.name!r}"
        assets = check_asset_names(who, self.assets, minimum=2)
        object.__setattr__(self, "assets", assets)
        _check_estimator(
            who,
            self.estimator,
            self.halflife_periods,
            self.window_periods,
            self.halflife_years,
            self.window_years,
            self.min_history_periods,
            self.min_history_years,
        )
        if self.warmup_weights is not None:
            w = clean_weight_table(self.warmup_weights, len(assets), who, "warmup_weights")
            object.__setattr__(self, "warmup_weights", tuple(float(x) for x in w[0]))

    def describe(self) -> str:
        """One line: what it does."""
        return f"adaptive: inverse-volatility weights across {', '.join(self.assets)}"

    def target_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """Weights (n_scenarios, n_periods, n_assets) from past volatilities."""
        r = np.asarray(past_returns, dtype=np.float64)
        ppy = schedule.periods_per_year
        spec = _vol_spec(
            self.name,
            self.estimator,
            self.halflife_periods,
            self.window_periods,
            self.halflife_years,
            self.window_years,
            self.min_history_periods,
            ppy,
            self.min_history_years,
        )
        vol, n_obs = _forecast(spec, r, ppy)
        ready = (n_obs >= spec.min_history_periods) & np.isfinite(vol)
        inv = np.where(ready, 1.0 / np.maximum(np.where(ready, vol, 1.0), _MIN_VOL), 0.0)
        total = inv.sum(axis=-1, keepdims=True)
        if self.warmup_weights is not None:
            warm = np.asarray(self.warmup_weights)
        else:
            warm = np.full(len(self.assets), 1.0 / len(self.assets))
        w = np.divide(inv, total, out=np.zeros_like(inv), where=total > 0)
        return np.where(total > 0, w, warm)
