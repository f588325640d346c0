"""Risk contributions: how much of a portfolio's risk the sleeve carries (Euler).

For weights ``w`` and per-period asset returns ``R`` (rows = observations), the
portfolio return is ``R @ w``. Both risk measures here are homogeneous of degree one in
``w``, so Euler's theorem splits them exactly into per-asset contributions that add up:

* volatility ``sigma = sqrt(w' S w)`` (``S`` the sample covariance, ``ddof=1``):
  ``RC_i = w_i (S w)_i / sigma``, ``sum_i RC_i = sigma``; equivalently the variance
  contributions ``w_i (S w)_i`` add up to ``w' S w``;
* CVaR (expected shortfall of the return, as a positive loss): the mean loss over the
  ``k = ceil(n * (1 - level))`` worst observations of ``R @ w``; ``RC_i = -w_i *
  mean(R_i over those observations)``, and ``sum_i RC_i = CVaR`` exactly (Tasche 1999,
  the sample estimator of the Euler allocation).

Units: decimal per period of the input returns (annual returns give annual risk).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from backtest.errors import DataError
from backtest.types import FloatArray


@dataclass(frozen=True)
class RiskContributions:
    """Per-asset Euler contributions, in the order of ``assets``.

    Attributes
    ----------
    assets
        Asset names.
    weights
        Portfolio weights, decimal.
    volatility
        Portfolio volatility per period, decimal.
    vol_contrib
        Contributions to volatility; they sum to ``volatility``.
    variance_contrib
        Contributions to variance; they sum to ``volatility**2``.
    cvar
        Portfolio CVaR at ``level``, a positive loss per period, decimal.
    cvar_contrib
        Contributions to CVaR; they sum to ``cvar``.
    level
        CVaR confidence level (0.95: the worst 5 %).
    """

    assets: tuple[str, ...]
    weights: FloatArray
    volatility: float
    vol_contrib: FloatArray
    variance_contrib: FloatArray
    cvar: float
    cvar_contrib: FloatArray
    level: float

    def share(self, asset: str) -> tuple[float, float]:
        """``(share of volatility, share of CVaR)`` carried by ``asset``, decimals."""
        i = self.assets.index(asset)
        vol = self.vol_contrib[i] / self.volatility if self.volatility > 0 else float("nan")
        cv = self.cvar_contrib[i] / self.cvar if self.cvar != 0 else float("nan")
        return float(vol), float(cv)


def risk_contributions(
    returns: FloatArray,
    weights: Sequence[float] | FloatArray,
    assets: Sequence[str],
    level: float = 0.95,
) -> RiskContributions:
    """Euler contributions of each asset to volatility and CVaR (see module docstring).

    Parameters
    ----------
    returns
        Decimal simple returns per period, (n_observations, n_assets).
    weights
        Portfolio weights, decimal, (n_assets,).
    assets
        Names of the columns.
    level
        CVaR level in (0, 1).
    """
    r = np.asarray(returns, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] != w.size or len(assets) != w.size:
        raise DataError(
            f"risk_contributions needs returns (n, {w.size}) and {w.size} asset names; got "
            f"returns {r.shape} and {len(assets)} names"
        )
    if r.shape[0] < 2 or not np.all(np.isfinite(r)):
        raise DataError("risk_contributions needs at least two rows of finite returns")
    if not 0 < level < 1:
        raise DataError(f"level={level!r} must be in (0, 1), e.g. 0.95")
    cov = np.atleast_2d(np.cov(r, rowvar=False, ddof=1))
    sw = cov @ w
    var_c = w * sw
    var = float(var_c.sum())
    vol = math.sqrt(max(var, 0.0))
    vol_c = var_c / vol if vol > 0 else np.zeros_like(w)
    port = r @ w
    k = max(1, math.ceil(port.size * (1.0 - level) - 1e-9))
    worst = np.argsort(port, kind="stable")[:k]
    cvar_c = -w * r[worst].mean(axis=0)
    return RiskContributions(
        assets=tuple(assets),
        weights=w,
        volatility=vol,
        vol_contrib=vol_c,
        variance_contrib=var_c,
        cvar=float(cvar_c.sum()),
        cvar_contrib=cvar_c,
        level=float(level),
    )
