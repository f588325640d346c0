"""The committee disclosure table: what a Bitcoin sleeve does to a plan portfolio.

The executive order of 7 August 2025, "Democratizing Access to Alternative Assets for
401(k) Investors", asks the Department of Labor to clarify fiduciary duties for
asset-allocation funds holding alternative assets, digital assets included, within 180
days (/work/shared/sources/retirement-evidence.md, crypto section). A committee weighing a
sleeve under it would want, per sleeve size, :func:`disclosure_table`'s rows:

* the sleeve's Euler share of portfolio volatility and of CVaR (:mod:`backtest.crypto.risk`,
  at the stated forward assumption);
* the worst drawdown of the base-plus-sleeve portfolio and the months from its trough back
  to the old peak (:func:`backtest.metrics.drawdown_stats`) in the embedded monthly history
  over Bitcoin's window, and in stress: a replay of one calendar year (2022) and the same
  year with Bitcoin's monthly log returns scaled so the year compounds to -80 %
  (:func:`scaled_year`);
* crash correlation: Bitcoin's correlation with equities in the history's months when
  equities fell more than a stated threshold (:func:`crash_correlation`);
* fee drag: ``sleeve x (ETF fee - base fund's expense ratio)`` (:func:`fee_drag`), with
  :data:`ETF_FEE` the iShares Bitcoin Trust ETF (IBIT) sponsor fee;
* liquidity: a stated qualitative row (:data:`LIQUIDITY`), no number.

Units: decimals (0.05 = 5 %); drawdowns <= 0; months are calendar months of the history.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from backtest.crypto.risk import risk_contributions
from backtest.errors import DataError
from backtest.historical import backtest_history
from backtest.metrics import drawdown_stats
from backtest.types import FloatArray
from strategies.base import Strategy

#: IBIT sponsor fee, decimal a year: 0.25 % of net asset value, accrued daily (BlackRock,
#: iShares Bitcoin Trust ETF product page; 10-Q for the period to 30 Sep 2024, note 1: the
#: fee "started accruing daily at an annualized rate equal to 0.25%" on 5 January 2024;
#: a waiver to 0.12 % on the first 5 billion USD ran for the first 12 months only).
ETF_FEE = 0.0025
ETF_FEE_SOURCE = (
    "iShares Bitcoin Trust ETF (IBIT) sponsor fee 0.25 % a year of net asset value "
    "(BlackRock product page; Form 10-Q, quarter to 30 Sep 2024, note 1; the launch waiver "
    "to 0.12 % ended after 12 months)"
)
#: The qualitative liquidity row (dates: SEC approval order of 10 January 2024 for
#: eleven spot Bitcoin exchange-traded products; trading began 11 January 2024).
LIQUIDITY = (
    "spot Bitcoin ETFs deal daily on US exchanges since 11 January 2024 (SEC approval "
    "10 January 2024); the history before then has no such daily-dealing vehicle"
)
#: The liquidity row's cell for a sleeve (the full statement: :data:`LIQUIDITY`).
LIQUIDITY_CELL = "daily, via spot ETFs (since 11 Jan 2024)"
EXECUTIVE_ORDER = (
    'Executive order of 7 August 2025, "Democratizing Access to Alternative Assets for '
    '401(k) Investors": the DOL to clarify fiduciary duties for asset-allocation funds '
    "holding alternatives, including digital assets, within 180 days"
)
#: Default monthly equity fall that marks a crash month for :func:`crash_correlation`.
CRASH_MONTH = -0.05


def drawdown_and_recovery(returns: FloatArray) -> tuple[float, float]:
    """Worst drawdown (decimal, <= 0) of a return series (decimal per period) and the
    periods from its trough back to the old peak (NaN: not recovered by the series' end;
    0: no drawdown). :func:`backtest.metrics.drawdown_stats` on one path."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size == 0 or not np.all(np.isfinite(r)):
        raise DataError("drawdown_and_recovery needs a 1-D series of finite returns")
    st = drawdown_stats(r)
    return float(st.depth), float(st.recovery_periods)


def crash_correlation(
    crypto: pd.Series, equity: pd.Series, threshold: float = CRASH_MONTH
) -> tuple[float, int]:
    """Correlation of ``crypto`` with ``equity`` returns over the periods where
    ``equity < threshold`` (decimal, e.g. -0.05 a month), and how many such periods there
    were; NaN below three (a correlation of two points is +-1 by construction)."""
    both = pd.concat([crypto, equity], axis=1, join="inner").dropna()
    x, y = both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy()
    crash = y < threshold
    n = int(crash.sum())
    if n < 3:
        return math.nan, n
    return float(np.corrcoef(x[crash], y[crash])[0, 1]), n


def scaled_year(returns: pd.Series, total: float) -> pd.Series:
    """``returns`` (decimal per period) with their log returns scaled by one positive
    factor so that they compound to ``total`` (e.g. -0.80): the path's shape kept, its
    depth stated. The returns must compound the same way as ``total`` (a loss for a
    loss)."""
    if not total > -1.0:
        raise DataError(f"total={total!r} must be a decimal return above -100 %, e.g. -0.8")
    x = np.log1p(returns.to_numpy(dtype=np.float64))
    s, target = float(x.sum()), math.log1p(total)
    if s == 0.0 or (s > 0) != (target > 0):
        raise DataError(
            f"the returns compound to {math.expm1(s):+.1%} and cannot be scaled to "
            f"{total:+.1%} without flipping every period's sign; choose a year that moved the "
            "same way (e.g. Bitcoin's 2022 for a loss)"
        )
    return pd.Series(np.expm1(x * (target / s)), index=returns.index)


def fee_drag(sleeve: float, etf_fee: float = ETF_FEE, base_fee: float = 0.0) -> float:
    """Extra fee a year from holding ``sleeve`` (decimal weight) in the ETF instead of the
    base fund: ``sleeve x (etf_fee - base_fee)``, decimal of the portfolio a year."""
    return float(sleeve) * (float(etf_fee) - float(base_fee))


def euler_shares(
    returns: FloatArray, weights: FloatArray, assets: tuple[str, ...], asset: str, level: float
) -> tuple[float, float]:
    """``asset``'s Euler share of volatility and of CVaR at ``level`` (decimals) for
    ``weights`` on ``returns`` (n_observations, n_assets) (:mod:`backtest.crypto.risk`)."""
    return risk_contributions(returns, weights, assets, level).share(asset)


def _path_drawdowns(
    history: pd.DataFrame, strategy: Strategy, stress: pd.DataFrame
) -> dict[str, float]:
    """Worst drawdown and recovery of ``strategy`` run as a fund over ``history``, and its
    worst drawdown over each stress path (``"drawdown <label>"``)."""
    bt = backtest_history(history, strategy, frequency="monthly")
    dd, rec = drawdown_and_recovery(bt.returns_nominal.to_numpy())
    out = {"history_drawdown": dd, "history_months_to_recover": rec}
    for label, frame in stress.groupby(level=0):
        r = backtest_history(frame.droplevel(0), strategy, frequency="monthly").returns_nominal
        out[f"drawdown {label}"] = drawdown_and_recovery(r.to_numpy())[0]
    return out


def disclosure_table(
    sleeves: Mapping[float, Strategy],
    history: pd.DataFrame,
    stress: pd.DataFrame,
    risk_returns: FloatArray,
    risk_weights: Mapping[float, FloatArray],
    risk_assets: tuple[str, ...],
    *,
    asset: str = "btc",
    equity: str = "us_stocks",
    level: float = 0.95,
    crash_threshold: float = CRASH_MONTH,
    etf_fee: float = ETF_FEE,
    base_fee: float = 0.0,
) -> pd.DataFrame:
    """One row per sleeve size (decimal weight, 0 = the base alone) of the disclosure.

    Parameters
    ----------
    sleeves
        Sleeve size -> the base-plus-sleeve strategy run on ``history`` (monthly).
    history
        Monthly decimal nominal returns over the window (Bitcoin's, e.g. 2014-01..2025-11),
        holding every strategy's assets, ``asset`` and ``equity``.
    stress
        Stress paths: a frame like ``history`` with an outer index level naming each
        stress (e.g. ``"2022 replay"``, ``"btc -80% year"``).
    risk_returns, risk_weights, risk_assets
        Returns (n_observations, n_assets) at the stated assumption, each size's weights
        (decimal) and the assets of both, for the Euler shares (``asset`` among them).
    asset, equity
        The sleeve's asset and the equity column of the crash correlation.
    level
        CVaR level.
    crash_threshold
        Monthly equity return below which a month counts as a crash (decimal).
    etf_fee, base_fee
        The sleeve vehicle's and the base fund's expense ratios, decimal a year.
    """
    rho, n_crash = crash_correlation(history[asset], history[equity], crash_threshold)
    both = history[[asset, equity]].dropna().to_numpy(dtype=np.float64)
    rho_all = float(np.corrcoef(both[:, 0], both[:, 1])[0, 1])
    rows = []
    for size, strat in sleeves.items():
        vol, cvar = euler_shares(risk_returns, risk_weights[size], risk_assets, asset, level)
        row: dict[str, object] = {"sleeve": float(size), "vol_share": vol, "cvar_share": cvar}
        row.update(_path_drawdowns(history, strat, stress))
        row.update(
            {
                "crash_corr": rho,
                "crash_months": n_crash,
                "crash_threshold": crash_threshold,
                "corr_all_months": rho_all,
                "fee_drag": fee_drag(size, etf_fee, base_fee),
                "etf_fee": etf_fee,
                "base_fee": base_fee,
                "liquidity": LIQUIDITY_CELL if size > 0 else "no sleeve",
                "window": f"{history.index[0]:%Y-%m}..{history.index[-1]:%Y-%m}",
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)
