"""Break-even Bitcoin returns: how much must Bitcoin return for a sleeve to be worth it.

For a sleeve size ``s`` and a Bitcoin volatility ``sigma`` (and correlation, shocks),
the break-even annual log mean ``mu*`` is where the sleeve neither helps nor hurts the
plan's success: ``P(success | sleeve s, mu) - P(success | no sleeve) = 0``. On common
random numbers (:class:`backtest.crypto.assumptions.CrnDraws`) Bitcoin's return in every
period rises with ``mu``, so each scenario's success with the sleeve is monotone in
``mu`` and so is the paired difference; :func:`optimize.solve_for.bisect_on_crn`
finds its zero (the smallest ``mu`` at which the sleeve does not lower success) and the
interval of ``mu`` the scenarios cannot tell apart from it (test inversion on the
per-scenario differences).

The answer is reported as the annual log mean and as the lognormal arithmetic mean
``exp(mu + sigma**2 / 2) - 1`` a committee reads as "expected return".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.crypto.assumptions import BtcAssumption, CrnDraws, Shocks
from backtest.crypto.surface import SleeveFactory
from backtest.plan import Plan
from backtest.simulate import simulate
from optimize.solve_for import SolveError, SolveResult, bisect_on_crn
from strategies.base import Strategy


@dataclass(frozen=True)
class BreakEven:
    """Break-even of one sleeve size at one volatility.

    Attributes
    ----------
    sleeve
        Sleeve size, decimal.
    vol_log, corr, shocks
        The rest of the Bitcoin assumption.
    mean_log
        Break-even annual log mean, decimal; NaN when the bracket holds none.
    arithmetic_mean
        ``exp(mean_log + vol_log**2 / 2) - 1``, decimal a year.
    ci_low, ci_high
        95 % interval of ``mean_log`` (test inversion on the paired differences).
    note
        Why there is no answer (bracket), else empty.
    solve
        The full :class:`~optimize.solve_for.SolveResult`, or None.
    """

    sleeve: float
    vol_log: float
    corr: float
    shocks: Shocks
    mean_log: float
    arithmetic_mean: float
    ci_low: float
    ci_high: float
    note: str = ""
    solve: SolveResult | None = None


def break_even(
    draws: CrnDraws,
    plan: Plan,
    base: Strategy,
    sleeve: Strategy,
    size: float,
    vol_log: float,
    *,
    corr: float = 0.0,
    shocks: Shocks = "normal",
    bracket: tuple[float, float] = (-1.0, 1.0),
    xtol: float = 0.0025,
) -> BreakEven:
    """Break-even annual log mean of Bitcoin for ``sleeve`` against ``base``.

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
    vol_log, corr, shocks
        Bitcoin's annual log volatility, correlation with equities and shocks.
    bracket
        Search range of the annual log mean, decimal.
    xtol
        Tolerance on the log mean (0.0025 = a quarter of a percentage point).
    """
    ref = np.asarray(simulate(draws.scenarios(BtcAssumption(0.0, vol_log)), plan, base).success)

    def diff(mu: float) -> np.ndarray:
        a = BtcAssumption(mu, vol_log, corr, shocks)
        ok = np.asarray(simulate(draws.scenarios(a), plan, sleeve).success)
        return ok.astype(np.float64) - ref

    try:
        res = bisect_on_crn(diff, bracket[0], bracket[1], 0.0, xtol=xtol)
    except SolveError as exc:
        return BreakEven(size, vol_log, corr, shocks, np.nan, np.nan, np.nan, np.nan, note=str(exc))
    a = BtcAssumption(res.x, vol_log, corr, shocks)
    return BreakEven(
        sleeve=float(size),
        vol_log=float(vol_log),
        corr=float(corr),
        shocks=shocks,
        mean_log=float(res.x),
        arithmetic_mean=a.arithmetic_mean,
        ci_low=float(res.ci_low),
        ci_high=float(res.ci_high),
        note="interval censored by the bracket" if res.censored else "",
        solve=res,
    )


def break_even_table(
    draws: CrnDraws,
    plan: Plan,
    base: Strategy,
    make_sleeve: SleeveFactory,
    sizes: Sequence[float],
    vols: Sequence[float],
    *,
    corr: float = 0.0,
    shocks: Shocks = "normal",
    bracket: tuple[float, float] = (-1.0, 1.0),
    xtol: float = 0.0025,
) -> pd.DataFrame:
    """:func:`break_even` for every sleeve size (> 0) and volatility, as a table.

    Columns: ``sleeve``, ``vol_log``, ``corr``, ``shocks``, ``mean_log``,
    ``arithmetic_mean``, ``ci_low``, ``ci_high`` (of the log mean), ``evaluations``,
    ``note``.
    """
    rows = []
    for size in sizes:
        if size <= 0:
            continue
        strategy = make_sleeve(size)
        for vol in vols:
            b = break_even(
                draws,
                plan,
                base,
                strategy,
                size,
                vol,
                corr=corr,
                shocks=shocks,
                bracket=bracket,
                xtol=xtol,
            )
            rows.append(
                {
                    "sleeve": b.sleeve,
                    "vol_log": b.vol_log,
                    "corr": b.corr,
                    "shocks": b.shocks,
                    "mean_log": b.mean_log,
                    "arithmetic_mean": b.arithmetic_mean,
                    "ci_low": b.ci_low,
                    "ci_high": b.ci_high,
                    "evaluations": b.solve.n_evaluations if b.solve else 0,
                    "note": b.note,
                }
            )
    return pd.DataFrame(rows)
