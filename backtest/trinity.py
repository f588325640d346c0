"""Validation of the simulator against the Trinity study.

Cooley, P. L., Hubbard, C. M. and Walz, D. T. (1998), "Retirement Savings: Choosing a
Withdrawal Rate That Is Sustainable", *AAII Journal* 20(2), 16-21. Table 3 of that paper
gives the share of 1926-1995 historical payout periods in which inflation-adjusted
monthly withdrawals (a percentage of the starting balance, raised with the CPI) never
exhausted a portfolio of S&P 500 stocks and long-term high-grade corporate bonds. (The
paper's Table 1 reports withdrawals fixed in nominal dollars, not compared here.)

:data:`PUBLISHED` holds the 36 cells we compare (30-year horizon: four mixes; 15-year
horizon: 100 % stocks and 50/50; withdrawal rates 3 % to 8 %).

Our reproduction (:func:`reproduce_trinity`) differs from theirs on purpose-stated
points, so the two tables agree only approximately:

* **Bonds**: Damodaran's Moody's-Aaa series (``corp_aaa``, a return computed from the
  yield; see PROVENANCE.md), not Ibbotson's long-term high-grade corporate index.
* **Stocks**: Damodaran's S&P 500 with dividends (``us_stocks``), a different edition of
  the same index than Ibbotson's.
* **Start year**: our annual data start in 1928, theirs in 1926, so we have two fewer
  cohorts (30-year: 1928-1966, 39 cohorts; 15-year: 1928-1981, 54 cohorts).
* **Timing**: Trinity withdrew monthly from monthly returns; we have annual returns and
  take half of each year's withdrawal at the start and half at the end of the year
  (``timing="split"``, the default; ``"start"`` and ``"end"`` bracket it).
* Rebalancing to the target mix once a year; no fees or costs; inflation is the
  December-to-December CPI-U.
* Success = every withdrawal paid in full to the end of the horizon (Trinity: ending
  value above zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.data import load_history
from backtest.errors import DataError
from backtest.generators import historical_cohorts
from backtest.plan import ConstantReal, MoneyLasts, Plan, WithdrawalTiming
from backtest.simulate import simulate
from strategies import FixedMix, RebalanceRule

#: Withdrawal rates of the compared cells, decimal of the starting balance per year.
RATES: tuple[float, ...] = (0.03, 0.04, 0.05, 0.06, 0.07, 0.08)

#: Cooley, Hubbard and Walz (1998), Table 3, inflation-adjusted withdrawals: success rates
#: in percent, keyed by (horizon in years, stock share in percent), one entry per rate in
#: :data:`RATES`. Stocks: S&P 500; bonds: long-term high-grade corporates; 1926-1995.
PUBLISHED: dict[tuple[int, int], tuple[float, ...]] = {
    (30, 100): (100, 95, 85, 68, 59, 41),
    (30, 75): (100, 98, 83, 68, 49, 34),
    (30, 50): (100, 95, 76, 51, 17, 5),
    (30, 25): (100, 71, 27, 20, 5, 0),
    (15, 100): (100, 100, 100, 91, 79, 70),
    (15, 50): (100, 100, 100, 93, 79, 64),
}

CITATION = (
    'Cooley, P. L., Hubbard, C. M. and Walz, D. T. (1998), "Retirement Savings: Choosing a '
    'Withdrawal Rate That Is Sustainable", AAII Journal 20(2), 16-21, Table 3 '
    "(inflation-adjusted withdrawals)."
)


#: Known, deliberate differences between Trinity's set-up and ours (Markdown bullets).
NOTES: tuple[str, ...] = (
    "- Bonds: Damodaran's Moody's-Aaa return series (computed from yields) instead of "
    "Ibbotson's long-term high-grade corporate index (no copy of which is embedded to "
    "compare); the cells with bonds at 6-7 % are where we fall furthest below the table.",
    "- Start year: 1928 instead of 1926 (two fewer cohorts: 39 of 30 years, 54 of 15).",
    "- Timing: annual returns with half of each year's withdrawal at the start and half "
    "at the end, instead of monthly returns and monthly withdrawals.",
    "- Success rates near a cell's boundary move in steps of 1/39 (2.6 pp) or 1/54 "
    "(1.9 pp); the 30-year curves are steep, so a small shift in the sustainable rate "
    "moves a 6-7 % cell by 10-15 pp.",
)


@dataclass(frozen=True)
class TrinitySettings:
    """The choices behind a reproduction; written next to every comparison."""

    stocks: str = "us_stocks"
    bonds: str = "corp_aaa"
    inflation: str = "cpi"
    first_year: int = 1928
    last_year: int = 1995
    timing: WithdrawalTiming = "split"
    rebalance_every_months: int = 12


def _mix(name: str, assets: tuple[str, str], stock_share: float) -> FixedMix:
    """A constant stock/bond mix rebalanced to target once a year."""
    return FixedMix(
        name,
        assets,
        (stock_share, 1.0 - stock_share),
        rebalance=RebalanceRule(kind="calendar", every_months=12),
    )


def load_trinity_history(settings: TrinitySettings = TrinitySettings()) -> pd.DataFrame:
    """Annual nominal returns of stocks, bonds and CPI over the settings' years."""
    return load_history(
        [settings.stocks, settings.bonds, settings.inflation],
        "annual",
        start=settings.first_year,
        end=settings.last_year,
    )


def reproduce_trinity(
    history: pd.DataFrame | None = None,
    settings: TrinitySettings = TrinitySettings(),
    cells: Sequence[tuple[int, int]] | None = None,
) -> pd.DataFrame:
    """Success rates of the Trinity cells on our data, next to the published ones.

    Parameters
    ----------
    history
        Annual decimal nominal returns with the settings' stock, bond and inflation
        columns (default: the embedded data, ``settings.first_year..last_year``).
    settings
        Data columns, years, withdrawal timing.
    cells
        (horizon years, stock share %) keys of :data:`PUBLISHED`; default all.

    Returns
    -------
    pandas.DataFrame
        One row per cell: ``horizon_years``, ``stocks_pct``, ``bonds_pct``, ``rate_pct``,
        ``published_pct``, ``ours_pct``, ``diff_pp`` (ours - published),
        ``n_cohorts``, ``failures``, ``first_cohort``, ``last_cohort``.
    """
    if history is None:
        history = load_trinity_history(settings)
    keys = list(cells) if cells is not None else list(PUBLISHED)
    unknown = [k for k in keys if k not in PUBLISHED]
    if unknown:
        raise DataError(f"no published Trinity cells for {unknown}; known: {list(PUBLISHED)}")
    assets = (settings.stocks, settings.bonds)
    rows = []
    for horizon in sorted({h for h, _ in keys}, reverse=True):
        sc = historical_cohorts(history, list(assets), horizon, inflation_column=settings.inflation)
        labels = sc.labels or ()
        for h, stock in keys:
            if h != horizon:
                continue
            strategy = _mix(f"{stock}/{100 - stock}", assets, stock / 100.0)
            for rate, published in zip(RATES, PUBLISHED[(h, stock)], strict=True):
                plan = Plan(
                    start_age=65.0,
                    retirement_age=65.0,
                    end_age=65.0 + horizon,
                    initial_balance=1.0,
                    withdrawal=ConstantReal(rate=rate, timing=settings.timing),
                    success=MoneyLasts(),
                )
                res = simulate(sc, plan, strategy)
                ok = res.success
                rows.append(
                    {
                        "horizon_years": h,
                        "stocks_pct": stock,
                        "bonds_pct": 100 - stock,
                        "rate_pct": round(rate * 100),
                        "published_pct": float(published),
                        "ours_pct": 100.0 * float(np.mean(ok)),
                        "n_cohorts": int(ok.size),
                        "failures": int((~ok).sum()),
                        "first_cohort": labels[0] if labels else "",
                        "last_cohort": labels[-1] if labels else "",
                        "failed_cohorts": " ".join(
                            str(lab) for lab, good in zip(labels, ok, strict=True) if not good
                        ),
                    }
                )
    out = pd.DataFrame(rows)
    out.insert(6, "diff_pp", out["ours_pct"] - out["published_pct"])
    return out


def summarize(comparison: pd.DataFrame) -> dict[str, float | int | str]:
    """Mean and largest absolute difference (percentage points) over the cells."""
    d = comparison["diff_pp"].abs()
    # pandas-stubs types idxmax() as a bare Hashable, which its .loc overloads refuse.
    worst = comparison.loc[d.idxmax()]  # type: ignore[call-overload]
    return {
        "n_cells": len(comparison),
        "mean_abs_diff_pp": float(d.mean()),
        "max_abs_diff_pp": float(d.max()),
        "worst_cell": (
            f"{int(worst.horizon_years)}y {int(worst.stocks_pct)}/{int(worst.bonds_pct)} "
            f"{int(worst.rate_pct)}%: ours {worst.ours_pct:.1f} vs published "
            f"{worst.published_pct:.0f}"
        ),
    }


def to_markdown(comparison: pd.DataFrame, settings: TrinitySettings = TrinitySettings()) -> str:
    """A Markdown report: settings, summary statistics and the cell-by-cell table."""
    s = summarize(comparison)
    lines = [
        "# Trinity study reproduction",
        "",
        f"Published table: {CITATION}",
        "",
        f"Our data: annual `{settings.stocks}` (stocks), `{settings.bonds}` (bonds), "
        f"`{settings.inflation}` (inflation), {settings.first_year}-{settings.last_year}; "
        f"withdrawal timing `{settings.timing}`; rebalanced every "
        f"{settings.rebalance_every_months} months; no fees or costs.",
        "",
        f"- cells compared: {s['n_cells']}",
        f"- mean |ours - published|: {s['mean_abs_diff_pp']:.2f} percentage points",
        f"- largest |ours - published|: {s['max_abs_diff_pp']:.2f} percentage points "
        f"({s['worst_cell']})",
        "",
        "| horizon | stocks/bonds | rate | published % | ours % | diff pp | cohorts | failed |",
        "|---:|:---:|---:|---:|---:|---:|---:|:---|",
    ]
    for r in comparison.itertuples(index=False):
        lines.append(
            f"| {r.horizon_years} | {r.stocks_pct}/{r.bonds_pct} | {r.rate_pct}% | "
            f"{r.published_pct:.0f} | {r.ours_pct:.1f} | {r.diff_pp:+.1f} | {r.n_cohorts} | "
            f"{r.failed_cohorts} |"
        )
    lines += ["", "## Why the tables differ", "", *NOTES]
    return "\n".join(lines) + "\n"
