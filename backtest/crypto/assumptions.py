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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from backtest.errors import DataError
from backtest.generators import RngLike, as_generator
from backtest.scenarios import Scenarios
from backtest.types import FloatArray

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

    def label(self) -> str:
        """E.g. ``"mu 5%, vol 60%, rho 0.2 (normal)"``."""
        return (
            f"mu {self.mean_log:.0%}, vol {self.vol_log:.0%}, rho {self.corr_equity:g} "
            f"({self.shocks})"
        )


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
