"""Stated forward Bitcoin assumptions on common random numbers.

Bitcoin's 15 years of history cannot tell a committee what it will return over a
member's 70-year plan, so the research runs on *stated* assumptions: an annual log mean
``mu`` and log volatility ``sigma``, a correlation ``rho`` with equities, and normal or
Student-t shocks. The base assets (equities, bonds, cash) and inflation come from one
ordinary scenario set (a block bootstrap of history or a parametric set); Bitcoin's
returns are laid over it as

``log(1 + r_btc[s, t]) = mu / ppy + sigma / sqrt(ppy) * (rho * z_eq[s, t] + sqrt(1 - rho**2) * e[s, t])``

where ``z_eq`` is the equity log return standardised with the set's pooled mean and
standard deviation, and ``e`` are unit-variance shocks (standard normal, or a Student-t
with ``dof`` degrees of freedom scaled to unit variance) drawn **once**. Every grid
cell, every sleeve size and every bisection step reuses the same ``z_eq`` and ``e``
(common random numbers), so differences between cells are differences of assumptions,
not of noise, and Bitcoin's return in every period rises with ``mu``.

**What a reader sees is arithmetic.** ``mu`` and ``sigma`` are the model's parameters; a
committee reads the expected simple return a year ``m = exp(mu + sigma**2/2) - 1`` and
its standard deviation ``v = (1 + m) sqrt(exp(sigma**2) - 1)`` (lognormal), so studies
state ``(m, v)`` and :meth:`BtcAssumption.from_arithmetic` inverts them. A log mean of
5 % at a log volatility of 60 % is ``m = 25.9 %`` a year: stating log parameters alone
hides that. :func:`central_from_history` derives a central case from the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from backtest.errors import DataError
from backtest.generators import RngLike, as_generator
from backtest.scenarios import Scenarios
from backtest.types import FloatArray

if TYPE_CHECKING:
    import pandas as pd

Shocks = Literal["normal", "student_t"]


@dataclass(frozen=True)
class BtcAssumption:
    """One forward assumption for Bitcoin (nominal USD).

    Attributes
    ----------
    mean_log
        Mean annual log return, decimal (0.05: ``E[log(1 + R)] = 0.05`` a year).
    vol_log
        Standard deviation of the annual log return, decimal (0.60).
    corr_equity
        Correlation of Bitcoin's log-return shocks with equities', in [-1, 1].
    shocks
        ``"normal"`` or ``"student_t"`` (fat tails; the degrees of freedom are those of
        the :class:`CrnDraws` the assumption is applied to).
    """

    mean_log: float
    vol_log: float
    corr_equity: float = 0.0
    shocks: Shocks = "normal"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean_log) and -2.0 <= self.mean_log <= 2.0):
            raise DataError(
                f"BtcAssumption.mean_log={self.mean_log!r} must be an annual log return in "
                "[-2, 2], e.g. 0.05"
            )
        if not (math.isfinite(self.vol_log) and 0.0 <= self.vol_log <= 3.0):
            raise DataError(
                f"BtcAssumption.vol_log={self.vol_log!r} must be an annual log volatility in "
                "[0, 3], e.g. 0.60"
            )
        if not -1.0 <= self.corr_equity <= 1.0:
            raise DataError(
                f"BtcAssumption.corr_equity={self.corr_equity!r} must be a correlation in [-1, 1]"
            )
        if self.shocks not in ("normal", "student_t"):
            raise DataError(f"BtcAssumption.shocks={self.shocks!r}; use 'normal' or 'student_t'")

    @property
    def arithmetic_mean(self) -> float:
        """Expected annual simple return under lognormal shocks: ``exp(mu + sigma**2/2) - 1``.

        Under Student-t shocks the expectation of ``exp`` does not exist; this is the
        lognormal value with the same log mean and volatility, stated as such.
        """
        return math.expm1(self.mean_log + 0.5 * self.vol_log**2)

    @property
    def arithmetic_vol(self) -> float:
        """Standard deviation of the annual simple return under lognormal shocks, decimal:
        ``(1 + m) * sqrt(exp(sigma**2) - 1)`` with ``m`` :attr:`arithmetic_mean`."""
        return (1.0 + self.arithmetic_mean) * math.sqrt(math.expm1(self.vol_log**2))

    @classmethod
    def from_arithmetic(
        cls, mean: float, vol: float, corr: float = 0.0, shocks: Shocks = "normal"
    ) -> BtcAssumption:
        """The assumption whose annual simple return has arithmetic ``mean`` and ``vol``.

        Decimals a year (``mean=0.12, vol=0.85``: an expected simple return of 12 % a year
        with a standard deviation of 85 %). The lognormal inverse of
        :attr:`arithmetic_mean` and :attr:`arithmetic_vol`:
        ``sigma**2 = log(1 + vol**2 / (1 + mean)**2)``, ``mu = log(1 + mean) - sigma**2 / 2``.
        """
        mu, sigma = log_parameters(mean, vol)
        try:
            return cls(mu, sigma, corr, shocks)
        except DataError as exc:
            raise DataError(f"arithmetic mean {mean!r} and vol {vol!r}: {exc}") from None

    def label(self) -> str:
        """E.g. ``"mean 12.0%, vol 85% (log mu -12%, sigma 68%), rho 0.20 (normal)"``."""
        return (
            f"mean {self.arithmetic_mean:.1%}, vol {self.arithmetic_vol:.0%} "
            f"(log mu {self.mean_log:.0%}, sigma {self.vol_log:.0%}), "
            f"rho {self.corr_equity:.2f} ({self.shocks})"
        )


def log_parameters(mean: float, vol: float) -> tuple[float, float]:
    """``(mu, sigma)``: annual log mean and log volatility of the lognormal annual simple
    return with arithmetic ``mean`` (decimal > -1) and standard deviation ``vol`` (>= 0).

    Raises :class:`DataError` naming the bad input."""
    if not (math.isfinite(mean) and mean > -1.0):
        raise DataError(
            f"arithmetic mean={mean!r} must be an expected simple return > -1 a year "
            "(decimal, e.g. 0.12 for 12 %)"
        )
    if not (math.isfinite(vol) and vol >= 0.0):
        raise DataError(
            f"arithmetic vol={vol!r} must be the standard deviation of the annual simple "
            "return, a decimal >= 0 (e.g. 0.85 for 85 %)"
        )
    s2 = math.log1p((vol / (1.0 + mean)) ** 2)
    return math.log1p(mean) - 0.5 * s2, math.sqrt(s2)


def mean_log_for_arithmetic(arithmetic_mean: float, vol_log: float) -> float:
    """Annual log mean whose lognormal arithmetic mean is ``arithmetic_mean`` (decimal)."""
    if not arithmetic_mean > -1.0:
        raise DataError(f"arithmetic_mean={arithmetic_mean!r} must be > -1 (decimal a year)")
    return math.log1p(arithmetic_mean) - 0.5 * vol_log**2


@dataclass(frozen=True)
class CrnDraws:
    """Base scenarios plus the Bitcoin shocks every assumption reuses.

    Build with :func:`draw_crn`. Arrays are read-only, (n_scenarios, n_periods).

    Attributes
    ----------
    base
        Scenarios of the base assets and inflation (no Bitcoin column).
    equity_asset
        The base asset Bitcoin is correlated with.
    crypto_asset
        Name of the Bitcoin column added by :meth:`scenarios`.
    z_equity
        Standardised equity log returns (pooled mean 0, standard deviation 1).
    normal
        Standard normal shocks, independent of the base.
    student_t
        The same shocks with Student-t tails: ``normal * sqrt((dof - 2) / chi2_dof)``
        (unit variance).
    dof
        Degrees of freedom of ``student_t``.
    """

    base: Scenarios
    equity_asset: str
    crypto_asset: str
    z_equity: FloatArray
    normal: FloatArray
    student_t: FloatArray
    dof: float

    @property
    def n_scenarios(self) -> int:
        return self.base.n_scenarios

    def crypto_returns(self, assumption: BtcAssumption) -> FloatArray:
        """Bitcoin's decimal simple nominal returns per period, (n_scenarios, n_periods)."""
        ppy = self.base.periods_per_year
        e = self.normal if assumption.shocks == "normal" else self.student_t
        rho = assumption.corr_equity
        z = rho * self.z_equity + math.sqrt(max(0.0, 1.0 - rho * rho)) * e
        return np.expm1(assumption.mean_log / ppy + assumption.vol_log / math.sqrt(ppy) * z)

    def scenarios(self, assumption: BtcAssumption) -> Scenarios:
        """The base scenarios with a Bitcoin column drawn under ``assumption``."""
        r = np.concatenate([self.base.returns, self.crypto_returns(assumption)[:, :, None]], axis=2)
        return Scenarios(
            returns=r,
            inflation=self.base.inflation,
            assets=(*self.base.assets, self.crypto_asset),
            frequency=self.base.frequency,
            labels=self.base.labels,
            description=f"{self.base.description}; {self.crypto_asset}: {assumption.label()}",
            meta={**self.base.meta, "crypto_assumption": assumption},
        )


def draw_crn(
    base: Scenarios,
    equity_asset: str,
    *,
    crypto_asset: str = "btc",
    dof: float = 4.0,
    rng: RngLike = None,
) -> CrnDraws:
    """Draw the Bitcoin shocks once for ``base``.

    Parameters
    ----------
    base
        Base scenarios (any generator) without a ``crypto_asset`` column.
    equity_asset
        Column of ``base`` Bitcoin is correlated with.
    crypto_asset
        Name for the Bitcoin column.
    dof
        Degrees of freedom of the Student-t shocks (> 2, so they have a variance).
    rng
        Generator, int seed or None.
    """
    if crypto_asset in base.assets:
        raise DataError(
            f"the base scenarios already hold {crypto_asset!r}; pass scenarios of the base "
            "assets only (the assumption supplies Bitcoin)"
        )
    if not dof > 2:
        raise DataError(f"dof={dof!r} must be > 2 so the Student-t shocks have a variance")
    (j,) = base.asset_index([equity_asset])
    gen, _ = as_generator(rng)
    x = np.log1p(base.returns[:, :, j])
    sd = float(x.std())
    if not sd > 0:
        raise DataError(f"{equity_asset!r} returns do not vary; cannot correlate Bitcoin with them")
    z_eq = (x - float(x.mean())) / sd
    shape = (base.n_scenarios, base.n_periods)
    normal = gen.standard_normal(shape)
    chi2 = gen.chisquare(dof, size=shape)
    t = normal * np.sqrt((dof - 2.0) / chi2)
    for a in (z_eq, normal, t):
        a.flags.writeable = False
    return CrnDraws(
        base=base,
        equity_asset=equity_asset,
        crypto_asset=crypto_asset,
        z_equity=z_eq,
        normal=normal,
        student_t=t,
        dof=float(dof),
    )


@dataclass(frozen=True)
class CentralCase:
    """A central Bitcoin assumption and the sentence that says where it comes from.

    ``assumption`` is the assumption; ``rationale`` one line with its numbers (arithmetic,
    percent) and their data windows, printed wherever the central case is used.
    """

    assumption: BtcAssumption
    rationale: str


def _window(series: pd.Series, start: str, end: str | None) -> pd.Series:
    s = series.loc[start:end].dropna() if end else series.loc[start:].dropna()
    if s.size < 3:
        raise DataError(
            f"{series.name!r} has {s.size} values in {start}..{end or 'the end'}; widen the "
            "window (the central case needs at least 3)"
        )
    return s


def central_from_history(
    equity_annual: pd.Series,
    equity_monthly: pd.Series,
    crypto_monthly: pd.Series,
    *,
    equity_window: tuple[str, str],
    crypto_since: str = "2015-01",
    shocks: Shocks = "normal",
) -> CentralCase:
    """The central case "no more reward a year than equities, Bitcoin's own risk".

    * Expected arithmetic return ``m``: the mean of equities' annual simple returns
      (``equity_annual``, nominal decimals) over ``equity_window`` (the study's data
      years, e.g. ``("1928", "2025")``): Bitcoin is granted an equity-like premium over
      cash, no more.
    * Volatility: Bitcoin's realised log volatility ``sigma``, the standard deviation of
      its monthly log returns from ``crypto_since`` (2015: after the thin Mt.Gox-era
      market, :func:`backtest.crypto.history.data_caveat`) to the last month both series
      hold, times ``sqrt(12)``; the arithmetic volatility stated is the lognormal
      ``(1 + m) sqrt(exp(sigma**2) - 1)``, i.e. the model keeps Bitcoin's realised log
      volatility.
    * Correlation: of the monthly log returns of Bitcoin and equities over the same months
      (the model correlates log-return shocks).

    Returns the assumption (built with :meth:`BtcAssumption.from_arithmetic`) and a
    one-line rationale with the numbers and windows.
    """
    eq = _window(equity_annual, *equity_window)
    joined = (
        _window(crypto_monthly, crypto_since, None)
        .to_frame("btc")
        .join(equity_monthly.rename("eq"), how="inner")
        .dropna()
    )
    both = joined.apply(np.log1p)  # monthly log returns
    if len(both) < 24:
        raise DataError(
            f"only {len(both)} months hold both Bitcoin and equities from {crypto_since}; "
            "the central case needs at least 24 (move crypto_since earlier)"
        )
    m = float(eq.mean())
    sigma = float(both["btc"].std(ddof=1)) * math.sqrt(12.0)
    rho = float(np.corrcoef(both["btc"], both["eq"])[0, 1])
    vol = (1.0 + m) * math.sqrt(math.expm1(sigma**2))
    a = BtcAssumption.from_arithmetic(m, vol, rho, shocks)
    months = f"{both.index[0]:%b %Y}-{both.index[-1]:%b %Y}"
    rationale = (
        f"Central case: expected return {m:.1%} a year, equities' arithmetic mean "
        f"{eq.index[0]:%Y}-{eq.index[-1]:%Y} (no more reward a year than equities); "
        f"volatility {vol:.0%} a year, Bitcoin's realised {sigma:.0%} log volatility "
        f"{months} ({len(both)} months) as a lognormal; correlation {a.corr_equity:.2f}, "
        f"monthly log returns with equities over the same months "
        f"(log parameters mu {a.mean_log:+.1%}, sigma {a.vol_log:.1%})."
    )
    return CentralCase(a, rationale)
