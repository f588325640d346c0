"""A Bitcoin sleeve inside a target-date vintage, scored across the vintage's members.

The vintage is a population of members (:mod:`backtest.population`: calibrated leakage,
Social Security with the payable share, deaths, income shocks) sharing one glide path
(:mod:`backtest.population_eval`). :func:`score_vintage` scores the glide path without a
sleeve and with each sleeve (e.g. :class:`strategies.vintage_sleeve.GlidingSleeve`) on
the **same member-paths** through the one scoring path the fund design uses
(:func:`backtest.population_eval.glide_weights`, :func:`~backtest.population_eval.portfolio_growth`,
:func:`~backtest.population_eval.evaluate_population`), so every difference is paired:

* success: survival-weighted (the money lasts as long as the member lives, given alive
  at retirement), mean over member-paths, decimal;
* CE: certainty equivalent of real retirement income (Social Security + the balance at
  retirement priced as a real life annuity), real USD a year, under the design's
  :class:`backtest.outcomes.IncomePreferences` (:func:`backtest.population_eval.paired_ce`);
* mean unpaid years per member-path (years of need, survival-weighted, valued at the
  annuity rate) and mean unpaid years given failure (over member-paths with unpaid > 0);
* the sleeve's Euler share of portfolio volatility and CVaR
  (:func:`backtest.crypto.risk.risk_contributions`) with the target weights of a given
  number of years before the target date, on the pooled annual nominal returns.

Standard errors are batch means over market paths (the member-paths of one market path
share its returns): of the per-member-path difference for success and unpaid years, of
the influence-function difference for the CE (delta method) and for unpaid years given
failure (a ratio of means), and over batches of market paths for the risk shares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from backtest.crypto.risk import risk_contributions
from backtest.errors import DataError
from backtest.outcomes import IncomePreferences
from backtest.population import Members
from backtest.population_eval import (
    PopulationOutcome,
    batch_se,
    evaluate_population,
    glide_weights,
    paired_ce,
    portfolio_growth,
)
from backtest.scenarios import Scenarios
from backtest.types import FloatArray, IntArray
from strategies.base import Strategy

#: Years before the target date at which the sleeve's share of risk is reported.
RISK_YEARS: tuple[float, ...] = (0.0, 20.0)
#: Batches of market paths behind the risk shares' standard errors.
RISK_BATCHES = 20


def vintage_outcome(
    members: Members, scenarios: Scenarios, strategy: Strategy, expense_ratio: float
) -> PopulationOutcome:
    """``strategy`` as the vintage's shared glide path on every member x market path
    (``"cross"`` pairing), fees ``expense_ratio`` (decimal of the balance a year)."""
    w = glide_weights(strategy, members.spec, scenarios)
    growth = portfolio_growth(scenarios, tuple(strategy.assets), w)
    return evaluate_population(
        members, growth, expense_ratio=expense_ratio, pairing="cross", name=strategy.name
    )


def ratio_influence(num: FloatArray, den: FloatArray) -> tuple[float, FloatArray]:
    """``R = mean(num) / mean(den)`` and each observation's influence on it,
    ``(num_i - R den_i) / mean(den)`` (delta method); R is NaN when ``mean(den)`` is 0."""
    n = np.asarray(num, dtype=np.float64)
    d = np.asarray(den, dtype=np.float64)
    md = float(d.mean())
    if md <= 0:
        return math.nan, np.full(n.shape, math.nan)
    r = float(n.mean()) / md
    return r, (n - r * d) / md


def _paired(a: FloatArray, b: FloatArray, clusters: IntArray) -> tuple[float, float]:
    """Mean difference ``a - b`` (same member-paths) and its batch-means SE."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(d.mean()), batch_se(d, clusters)


def paired_scores(
    outcome: PopulationOutcome,
    reference: PopulationOutcome,
    members: Members,
    preferences: IncomePreferences,
) -> dict[str, float]:
    """Success, CE, unpaid years and unpaid years given failure of ``outcome``, each with
    its difference to ``reference`` (the same member-paths) and the paired SE."""
    if not (
        np.array_equal(outcome.member, reference.member)
        and np.array_equal(outcome.path, reference.path)
    ):
        raise DataError("paired scores need the same member-paths; score both on one set")
    clusters = outcome.path
    d_ok, se_ok = _paired(outcome.success, reference.success, clusters)
    d_un, se_un = _paired(outcome.unpaid_years, reference.unpaid_years, clusters)
    loss_ref = None
    if preferences.loss_aversion and preferences.reference_replacement is not None:
        loss_ref = preferences.reference_replacement * members.base_salary[outcome.member]
    ce, d_ce, se_ce = paired_ce(
        outcome.income,
        reference.income,
        preferences.gamma,
        clusters,
        preferences=preferences,
        loss_reference=loss_ref,
    )
    failed_a = (outcome.unpaid_years > 0).astype(np.float64)
    failed_b = (reference.unpaid_years > 0).astype(np.float64)
    ugf, inf_a = ratio_influence(outcome.unpaid_years, failed_a)
    ugf_ref, inf_b = ratio_influence(reference.unpaid_years, failed_b)
    return {
        "member_paths": float(outcome.n),
        "market_paths": float(np.unique(clusters).size),
        "success": outcome.mean_success,
        "d_success": d_ok,
        "d_success_se": se_ok,
        "ce": ce,
        "d_ce": d_ce,
        "d_ce_se": se_ce,
        "unpaid_years": outcome.mean_unpaid_years,
        "d_unpaid_years": d_un,
        "d_unpaid_years_se": se_un,
        "failed_share": float(failed_a.mean()),
        "unpaid_given_failure": ugf,
        "d_unpaid_given_failure": ugf - ugf_ref,
        "d_unpaid_given_failure_se": batch_se(inf_a - inf_b, clusters),
    }


def risk_shares(
    scenarios: Scenarios,
    strategy: Strategy,
    weights: FloatArray,
    asset: str,
    level: float = 0.95,
    batches: int = RISK_BATCHES,
) -> dict[str, float]:
    """The Euler share of ``asset`` in portfolio volatility and CVaR at ``level`` for one
    row of target ``weights`` (decimal, in the order of ``strategy.assets``), on the
    scenarios' annual nominal returns pooled over paths and periods; SEs over ``batches``
    batches of market paths (NaN with fewer than two). A strategy without ``asset`` has
    shares 0."""
    assets = tuple(strategy.assets)
    r = scenarios.select(assets).returns
    w = np.asarray(weights, dtype=np.float64)
    full = risk_contributions(r.reshape(-1, len(assets)), w, assets, level)
    if asset not in assets:  # the glide path alone: no sleeve, no share
        keys = ("weight", "vol_share", "vol_share_se", "cvar_share", "cvar_share_se")
        return dict.fromkeys(keys, 0.0) | {"portfolio_vol": full.volatility}
    vol, cv = full.share(asset)
    groups = np.array_split(np.arange(scenarios.n_scenarios), min(batches, scenarios.n_scenarios))
    parts = [
        risk_contributions(r[g].reshape(-1, len(assets)), w, assets, level).share(asset)
        for g in groups  # a handful of batches of market paths, each vectorised
        if g.size * r.shape[1] >= 2
    ]
    b = np.asarray(parts, dtype=np.float64).reshape(-1, 2)
    se = b.std(axis=0, ddof=1) / np.sqrt(b.shape[0]) if b.shape[0] > 1 else np.full(2, np.nan)
    return {
        "weight": float(w[assets.index(asset)]),
        "vol_share": vol,
        "vol_share_se": float(se[0]),
        "cvar_share": cv,
        "cvar_share_se": float(se[1]),
        "portfolio_vol": full.volatility,
    }


def score_vintage(
    members: Members,
    scenarios: Scenarios,
    reference: Strategy,
    sleeves: Sequence[Strategy],
    *,
    asset: str = "btc",
    expense_ratio: float = 0.0,
    preferences: IncomePreferences | None = None,
    risk_years: Sequence[float] = RISK_YEARS,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per strategy (``reference`` first, then ``sleeves``), every score paired
    against ``reference`` on the same member-paths (see the module docstring).

    Parameters
    ----------
    members
        The vintage (:func:`backtest.population.draw_members`).
    scenarios
        Annual market paths of every asset the strategies hold, ``asset`` included
        (e.g. :meth:`backtest.crypto.assumptions.CrnDraws.scenarios`), at least the
        vintage's ``spec.n_periods`` years.
    reference, sleeves
        The glide path without a sleeve and the glide path with each sleeve.
    asset
        The sleeve's asset (its risk share is reported; 0 for strategies without it).
    expense_ratio
        Fund fees, decimal of the balance a year.
    preferences
        How income is valued for the CE (default CRRA gamma 5).
    risk_years
        Years before the target date at which the risk shares are reported.
    level
        CVaR level of the risk shares.

    Returns
    -------
    pandas.DataFrame
        ``strategy``, :func:`paired_scores` columns and, per year ``y`` of ``risk_years``,
        ``weight_{y}y``, ``vol_share_{y}y`` (and ``_se``), ``cvar_share_{y}y`` (and
        ``_se``) and ``portfolio_vol_{y}y``.
    """
    prefs = preferences if preferences is not None else IncomePreferences(gamma=5.0)
    spec = members.spec
    ref = vintage_outcome(members, scenarios, reference, expense_ratio)
    rows = []
    for s in (reference, *sleeves):
        o = ref if s is reference else vintage_outcome(members, scenarios, s, expense_ratio)
        row: dict[str, object] = {"strategy": s.name}
        row.update(paired_scores(o, ref, members, prefs))
        w = glide_weights(s, spec, scenarios)
        for y in risk_years:
            k = round(spec.target_age - y - spec.first_age)
            if not 0 <= k < spec.n_periods:
                raise DataError(
                    f"risk_years: {y:g} years before the target date is outside the vintage's "
                    f"ages {spec.first_age}-{spec.end_age}"
                )
            shares = risk_shares(scenarios, s, w[k], asset, level)
            row.update({f"{key}_{y:g}y": v for key, v in shares.items()})
        rows.append(row)
    return pd.DataFrame(rows)
