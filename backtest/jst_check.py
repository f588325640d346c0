"""The 4 % rule in each JST country, through the simulator and by an independent count.

Set-up (issue 25): a 60/40 mix of the country's equity and government bonds (JST
Macrohistory R6, nominal local currency, ``backtest.data.jst``), rebalanced to target
once a year; withdrawals of 4 % of the starting balance a year, raised with the
country's CPI, taken at the start of each year; 30-year horizon; success = every
withdrawal paid in full. Amounts are real local currency.

Cohorts are 30 **consecutive calendar years** with equity, bond and CPI data
(:func:`backtest.jst_cohorts.jst_cohorts`): a year without one of them (wars,
hyperinflations, late starts) ends the cohorts through it, a missing bill rate removes
nothing (a 60/40 holds no bills), and history is never wrapped around. Canada has no bond
series in R6 and is left out.

:func:`four_percent_table` runs the project's path (loader -> cohorts -> ``simulate``)
and, next to it, :func:`independent_success`, a plain-numpy count straight from the
embedded CSV that shares no code with the loader, the generator or the simulator; the
two must agree.
"""

from __future__ import annotations

import functools
import importlib.resources
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.data.jst import DEFAULT_NAMES, jst_countries
from backtest.errors import DataError
from backtest.io import write_text_atomic
from backtest.jst_cohorts import cohort_row, jst_cohorts
from backtest.plan import ConstantReal, MoneyLasts, Plan
from backtest.simulate import simulate
from strategies import FixedMix, RebalanceRule

SOURCE = (
    "Jorda, O., Schularick, M. and Taylor, A. M., Macrohistory Database, release 6 "
    "(JSTdatasetR6.xlsx; embedded as backtest/data/embedded/jst_countries.csv, "
    "provenance in backtest/data/embedded/PROVENANCE.md section 10)."
)
EQUITY, BONDS = DEFAULT_NAMES["equity_tr"], DEFAULT_NAMES["bond_tr"]

#: Caveats written under every table (Markdown bullets).
NOTES: tuple[str, ...] = (
    "- A missing bill rate removes no year (a 60/40 holds no bills): France and Italy keep "
    "1915-21, Germany keeps its 1923 hyperinflation year (equity, bond and CPI present).",
    "- JST's US equity series departs from the S&P 500 after about 2015 (PROVENANCE.md); "
    "the USA row is JST's, not the project's Damodaran series.",
    "- Before issue 25, cohorts were 30 complete rows rather than 30 calendar years and "
    "ran across the years left out; that gave 71.0 % pooled with 9 countries more than "
    "2 pp off (Japan by 26 pp).",
)


@dataclass(frozen=True)
class FourPercentSettings:
    """The 4 % rule check's choices (decimal rates, whole years)."""

    rate: float = 0.04
    stock_share: float = 0.6
    n_years: int = 30
    countries: tuple[str, ...] = tuple(i for i in jst_countries() if i != "CAN")


def success_by_cohort(
    iso: str, settings: FourPercentSettings = FourPercentSettings()
) -> tuple[tuple[str, ...], np.ndarray]:
    """Cohort start labels and success flags of ``iso`` through ``simulate``."""
    sc = jst_cohorts(iso, [EQUITY, BONDS], settings.n_years)
    mix = FixedMix(
        f"{settings.stock_share:.0%} equity",
        (EQUITY, BONDS),
        (settings.stock_share, 1.0 - settings.stock_share),
        rebalance=RebalanceRule(kind="calendar", every_months=12),
    )
    plan = Plan(
        start_age=65.0,
        retirement_age=65.0,
        end_age=65.0 + settings.n_years,
        initial_balance=1.0,
        withdrawal=ConstantReal(rate=settings.rate, timing="start"),
        success=MoneyLasts(),
    )
    return sc.labels or (), np.asarray(simulate(sc, plan, mix).success, dtype=bool)


@functools.cache
def _raw_csv() -> pd.DataFrame:
    text = (
        importlib.resources.files("backtest.data")
        .joinpath("embedded", "jst_countries.csv")
        .read_text(encoding="utf-8")
    )
    return pd.read_csv(io.StringIO(text))


def independent_success(
    iso: str, settings: FourPercentSettings = FourPercentSettings()
) -> tuple[np.ndarray, np.ndarray]:
    """Start years and success flags of every cohort of consecutive calendar years with
    equity, bond and inflation figures, counted in plain numpy from the raw CSV.

    Real balance per unit of starting wealth: each year ``b -= rate`` (start of year; a
    failure if it goes below 0), then ``b *= (1 + s e + (1 - s) d) / (1 + inflation)``.
    """
    t = _raw_csv()
    rows = t[t["iso"] == iso.upper()].set_index("year").sort_index()
    rows = rows.reindex(np.arange(rows.index.min(), rows.index.max() + 1))
    s = settings.stock_share
    growth = (1 + s * rows["equity_tr"] + (1 - s) * rows["bond_tr"]) / (1 + rows["inflation"])
    g = growth.to_numpy()
    n = settings.n_years
    if len(g) < n:
        return np.array([], dtype=int), np.array([], dtype=bool)
    windows = np.lib.stride_tricks.sliding_window_view(g, n)  # (n_starts, n)
    whole = np.isfinite(windows).all(axis=1)
    windows, starts = windows[whole], rows.index.to_numpy()[: len(whole)][whole]
    balance = np.ones(len(windows))
    ok = np.ones(len(windows), dtype=bool)
    for k in range(n):  # the balance carries from one year to the next
        balance = balance - settings.rate
        ok &= balance >= -1e-12  # round-off of 1 - 25 x 0.04 is ~1e-16, not a failure
        balance = np.maximum(balance, 0.0) * windows[:, k]
    return starts, ok


def _pct(ok: np.ndarray) -> float:
    return 100.0 * float(np.mean(ok)) if ok.size else float("nan")


def four_percent_table(settings: FourPercentSettings = FourPercentSettings()) -> pd.DataFrame:
    """Per country and pooled: success % through the simulator and independently.

    Columns: ``iso``, ``country``, ``n_cohorts``, ``first_start``, ``last_start``,
    ``failures``, ``success_pct`` (simulator), ``independent_pct``, ``diff_pp``,
    ``independent_n_cohorts``, ``excluded_years``, ``short_runs``. The last row, ``iso``
    ``"pooled"``, pools every cohort of every country (each cohort counts once).
    """
    if not settings.countries:
        raise DataError("FourPercentSettings.countries is empty; name JST ISO codes")
    rows, all_ok, all_ind = [], [], []
    for iso in settings.countries:
        labels, ok = success_by_cohort(iso, settings)
        _, ind = independent_success(iso, settings)
        info = cohort_row(iso, [EQUITY, BONDS], settings.n_years)
        all_ok.append(ok)
        all_ind.append(ind)
        rows.append(
            {
                "iso": iso,
                "country": info["country"],
                "n_cohorts": len(ok),
                "first_start": labels[0] if labels else "",
                "last_start": labels[-1] if labels else "",
                "failures": int((~ok).sum()),
                "success_pct": _pct(ok),
                "independent_pct": _pct(ind),
                "independent_n_cohorts": len(ind),
                "excluded_years": info["excluded_years"],
                "short_runs": info["short_runs"],
            }
        )
    ok, ind = np.concatenate(all_ok), np.concatenate(all_ind)
    rows.append(
        {
            "iso": "pooled",
            "country": f"{len(settings.countries)} countries",
            "n_cohorts": len(ok),
            "failures": int((~ok).sum()),
            "success_pct": _pct(ok),
            "independent_pct": _pct(ind),
            "independent_n_cohorts": len(ind),
        }
    )
    out = pd.DataFrame(rows).fillna({"first_start": "", "last_start": ""})
    diff = out["success_pct"] - out["independent_pct"]
    out.insert(list(out.columns).index("independent_pct") + 1, "diff_pp", diff)
    return out


def to_markdown(table: pd.DataFrame, settings: FourPercentSettings = FourPercentSettings()) -> str:
    """A Markdown report: the set-up, the per-country table and the years left out."""
    pooled = table[table["iso"] == "pooled"].iloc[0]
    lines = [
        "# The 4 % rule in 16 JST countries (honest cohorts)",
        "",
        f"Data: {SOURCE}",
        "",
        f"Set-up: {settings.stock_share:.0%}/{1 - settings.stock_share:.0%} equity/government "
        f"bonds, rebalanced yearly; {settings.rate:.0%} of the starting balance withdrawn at "
        f"the start of each year, raised with the country's CPI; {settings.n_years} years; "
        "success = every withdrawal paid. Real local currency. Cohorts are consecutive "
        "calendar years with equity, bond and CPI data; no wrap-around. Canada is left out "
        "(no bond series in R6).",
        "",
        f"Pooled success: {pooled.success_pct:.1f} % of {int(pooled.n_cohorts)} cohorts "
        f"(independent count {pooled.independent_pct:.1f} %, "
        f"{int(pooled.independent_n_cohorts)} cohorts); largest per-country difference "
        f"{table['diff_pp'].abs().max():.2f} pp.",
        "",
        "| country | cohorts | starts | failures | success % | independent % | diff pp |",
        "|:---|---:|:---:|---:|---:|---:|---:|",
    ]
    for r in table.to_dict("records"):
        starts = f"{r['first_start']}-{r['last_start']}" if r["first_start"] else ""
        lines.append(
            f"| {r['country']} | {r['n_cohorts']} | {starts} | {r['failures']} | "
            f"{r['success_pct']:.1f} | {r['independent_pct']:.1f} | {r['diff_pp']:+.2f} |"
        )
    lines += ["", "## Years left out (no cohort runs through them)", ""]
    for r in table[table["iso"] != "pooled"].to_dict("records"):
        short = f"; too short for a cohort: {r['short_runs']}" if r["short_runs"] else ""
        lines.append(f"- {r['country']}: {r['excluded_years'] or 'none'}{short}")
    lines += ["", "## Notes", "", *NOTES]
    return "\n".join(lines) + "\n"


def write(
    table: pd.DataFrame, folder: Path, settings: FourPercentSettings = FourPercentSettings()
) -> tuple[Path, Path]:
    """``jst_4pct.csv`` and ``jst_4pct.md`` into ``folder``, each written atomically."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "jst_4pct.csv", table.to_csv(index=False, float_format="%.4f"))
    write_text_atomic(out / "jst_4pct.md", to_markdown(table, settings))
    return out / "jst_4pct.csv", out / "jst_4pct.md"
