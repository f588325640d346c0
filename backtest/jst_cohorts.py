"""Honest historical cohorts per JST country: consecutive calendar years, gaps respected.

A cohort is ``n_years`` consecutive calendar years in which every series the strategy
holds and inflation are present (``backtest.data.jst``, JST Macrohistory R6, nominal
local currency, decimal per year). A year without one of them ends the cohorts that would
run through it (wars, hyperinflations, late starts); a series the strategy does not hold
(e.g. the bill rate for a stock/bond mix) never removes a year; history is never wrapped
around unless asked (``wrap=True``, labelled in the scenarios' description and meta).

:func:`jst_cohorts` gives one country's cohorts; :func:`jst_cohort_table` lists, per
country, the cohorts counted and the years left out and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import pandas as pd

from backtest.data.jst import DEFAULT_NAMES, jst_countries, load_jst
from backtest.errors import CoverageError, DataError
from backtest.generators import historical_cohorts
from backtest.scenarios import Scenarios

#: Glidelab name of the inflation column in :data:`backtest.data.jst.DEFAULT_NAMES`.
INFLATION = DEFAULT_NAMES["inflation"]


def _check_assets(assets: Sequence[str]) -> list[str]:
    known = [n for n in DEFAULT_NAMES.values() if n != INFLATION]
    bad = [a for a in assets if a not in known]
    if not assets or bad:
        raise DataError(f"assets {list(assets)}: name one or more of {known} (JST's columns)")
    return list(assets)


def jst_cohorts(iso: str, assets: Sequence[str], n_years: int, *, wrap: bool = False) -> Scenarios:
    """Every ``n_years`` cohort of consecutive calendar years of ``iso`` with ``assets``
    and inflation present (nominal local-currency returns, decimal per year).

    ``assets`` use the glidelab names of :data:`backtest.data.jst.DEFAULT_NAMES`
    (``us_stocks`` = the country's equity, ``tbonds_10y`` its government bonds,
    ``tbills`` its bill rate). ``wrap=True`` also lets cohorts run from the last year onto
    the first (circular history, from the last year with every held series to the first;
    counted in ``meta["wrapped"]``), never across a gap.
    Raises :class:`CoverageError` when the country has no such cohort.
    """
    held = _check_assets(assets)
    history = load_jst(iso, complete=False)
    complete = history[[*held, INFLATION]].notna().all(axis=1).to_numpy()
    if complete.any():  # the wrap seam joins the last complete year to the first
        first, last = np.flatnonzero(complete)[[0, -1]]
        history = history.iloc[first : last + 1]
    return historical_cohorts(history, held, n_years, INFLATION, wrap=wrap, missing="exclude")


def _ranges(years: Sequence[int]) -> str:
    """``[1914, 1915, 1916, 1920]`` -> ``"1914-1916, 1920"``."""
    out: list[list[int]] = []
    for y in years:
        if out and out[-1][1] == y - 1:
            out[-1][1] = y
        else:
            out.append([y, y])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in out)


def _excluded(frame: pd.DataFrame) -> str:
    """Incomplete years grouped by which held series they lack, e.g.
    ``"1870-1899 (no bond_tr); 1870 (no inflation)"``, JST's column names."""
    jst_name = {v: k for k, v in DEFAULT_NAMES.items()}
    parts = []
    for col in frame.columns:
        years = [int(y) for y in frame.index[frame[col].isna().to_numpy()]]
        if years:
            parts.append(f"{_ranges(years)} (no {jst_name.get(col, col)})")
    return "; ".join(parts)


def _short_runs(complete: np.ndarray, years: np.ndarray, n_years: int) -> str:
    """Runs of complete years too short for one cohort (their years are in none)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], complete.astype(int), [0]])))
    runs = zip(edges[::2], edges[1::2], strict=True)
    return ", ".join(
        f"{years[a]}-{years[b - 1]} ({b - a} complete years)" for a, b in runs if b - a < n_years
    )


def cohort_row(iso: str, assets: Sequence[str], n_years: int) -> dict[str, object]:
    """One row of :func:`jst_cohort_table` (see there)."""
    held = [*_check_assets(assets), INFLATION]
    raw = load_jst(iso, required=[])[held]  # every year JST has a row for
    have = cast(pd.DatetimeIndex, raw.index).year
    first, last = int(have.min()), int(have.max())
    years = np.arange(first, last + 1)
    frame = raw.set_axis(have).reindex(years)
    complete = frame.notna().all(axis=1).to_numpy()
    try:
        sc = jst_cohorts(iso, assets, n_years)
        labels: tuple[str, ...] = sc.labels or ()
    except CoverageError:
        labels = ()
    return {
        "iso": iso,
        "country": jst_countries()[iso],
        "data_first_year": first,
        "data_last_year": last,
        "complete_years": int(complete.sum()),
        "n_cohorts": len(labels),
        "first_start": int(labels[0]) if labels else None,
        "last_start": int(labels[-1]) if labels else None,
        "excluded_years": _excluded(frame),
        "short_runs": _short_runs(complete, years, n_years),
    }


def jst_cohort_table(
    assets: Sequence[str], n_years: int, countries: Sequence[str] | None = None
) -> pd.DataFrame:
    """Per JST country, the ``n_years`` cohorts a strategy holding ``assets`` gets.

    Columns: ``iso``, ``country``, ``data_first_year``/``data_last_year`` (JST rows),
    ``complete_years`` (held series and inflation present), ``n_cohorts``,
    ``first_start``/``last_start`` (cohort start years), ``excluded_years`` (incomplete
    years and the series each lacks) and ``short_runs`` (runs of complete years shorter
    than a cohort, whose years therefore start or finish none).
    """
    isos = list(jst_countries()) if countries is None else [c.upper() for c in countries]
    table = pd.DataFrame([cohort_row(iso, assets, n_years) for iso in isos])
    return table.astype({"first_start": "Int64", "last_start": "Int64"})
