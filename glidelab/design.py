"""Fund-design studies: read a ``[population]`` study file, design the vintage's glide path,
score it against the presets in and out of sample, and write the report.

A design study (e.g. ``glidelab/studies/target_date_2060.toml``) has four tables, every key
optional and checked (an unknown key is an error naming the allowed ones):

* top level: ``name``, ``description``, ``seed``;
* ``[population]``: any field of :class:`backtest.population.PopulationSpec`;
* ``[design]``: assets, member-paths and market paths in sample, fees, knots, CVaR level,
  frontier size, the objective that picks the designed path, and ``[design.constraints]``
  (any field of :class:`optimize.fund_design.FundConstraints`);
* ``[evaluation]``: presets, members and paths out of sample, JST countries, the
  capital-market assumptions file (``cma``).

:class:`DesignSection` is fund design as a study section: :func:`design` computes the
numbers (:class:`DesignOutcome`), :func:`write_design` writes them and
:func:`design_summary` says them in a paragraph; :func:`run_design` does both into
``<out>/<name>/``: ``design.html``, ``design.pdf``, CSV tables
(``frontier.csv``, ``placed.csv``, ``scores.csv``, ``countries.csv``, ``failing.csv``,
``designed_path.csv``, ``constraints.csv``, ``income.csv``, ``separability.csv``,
``country_cohorts.csv``, ``calibration.csv``, ``sensitivity.csv``, ``evidence.csv``,
``cma.csv``) and ``settings.json``, atomically.

What the conclusions rest on (issues 24, 25), every table held out: ``calibration.csv``
the leakage model against published figures (:func:`calibration_table`);
``sensitivity.csv`` every strategy re-scored under leakage none / calibrated / heavy and
Social Security scheduled / payable (:func:`sensitivity_table`; the designed path is not
re-optimised); ``evidence.csv`` the same on the US bootstrap, US cohorts, the JST panel
bootstrap and the ``[evaluation] cma`` scenarios (:func:`evidence_table`, ``cma.csv`` the
CMA's moments); ``country_cohorts.csv`` the JST cohorts per country, wrapped or skipped.

Shortfall everywhere (frontier, placed, out of sample) is the one convention of
:func:`backtest.outcomes.shortfall_years`: survival-weighted unpaid need valued at
retirement at the population's real annuity rate, in years of need. ``constraints.csv``
names the committee constraint groups that bind at the designed path and what each costs
in the design's objective (a re-solve without it, in sample:
``optimize.fund_design.FundDesigner.constraint_costs``; for ``"ce"`` in CE USD a year).

Income: real retirement income per member-path is Social Security + the balance at
retirement priced as a real life annuity (the member's own factor at the population's real
annuity rate), real USD a year. ``scores.csv`` gives its certainty equivalent (CRRA) at
gamma 2, 5 and 10 in sample, held out (fresh members x fresh-seed bootstrap) and on US
cohorts, for every strategy, with the **paired** standard error of each strategy's CE
minus the designed path's (:func:`backtest.population_eval.paired_ce`: delta method on the same
member-paths, batch means over market paths). ``[design]`` ``loss_aversion`` and
``reference_replacement`` (default: the population's ``replacement_rate``) make the CE
objective and every CE column value income by
:class:`backtest.outcomes.IncomePreferences` (loss aversion below ``reference_replacement x
the salary the need is based on``, ``Members.base_salary``, in and out of sample); there
is no bequest term (the balance is annuitised, nothing is left).

``income.csv`` (:func:`income_frame`) holds the tear sheet's income figures for every
strategy, held out: replacement-ratio percentiles, probability of reaching the target
replacement, unpaid years given failure, the drawdown account's bequest, the safe
withdrawal rate, and the to / through label; ``separability.csv``
(:func:`frontier_separability`) whether the frontier's points can be told apart.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtest.calibration import leakage_calibration
from backtest.cma import CapitalMarketAssumptions, cma_in_engine
from backtest.data import load_history
from backtest.data.jst import load_jst_panel
from backtest.errors import CoverageError, StudyError
from backtest.generators import historical_cohorts, panel_block_bootstrap
from backtest.io import atomic_directory, write_text_atomic
from backtest.jst_cohorts import cohort_row, jst_cohorts
from backtest.leakage import BLS_MEDIAN_TENURE, FORCE_OUT_CASH_USD, RULE_OF_55_AGE
from backtest.outcomes import (
    REPLACEMENT_PERCENTILES,
    RISK_AVERSIONS,
    SAFE_WITHDRAWAL_FAILURE,
    IncomePreferences,
    mean_unpaid_years_given_failure,
    replacement_percentiles,
    safe_withdrawal_rate,
    success_rate,
)
from backtest.population import Members, PopulationSpec, draw_members
from backtest.population_eval import (
    MemberSummary,
    PopulationOutcome,
    batch_se,
    cvar_influence,
    evaluate_population,
    glide_weights,
    pair_members_paths,
    paired_ce,
    per_member,
    reach_probability,
    retirement_withdrawal_rates,
)
from backtest.report.income import BEQUEST_PERCENTILES, glide_label
from backtest.report.model import GlideLabel, IncomeRow
from backtest.scenarios import Scenarios
from backtest.social_security import TRUSTEES_2025_OASDI
from glidelab.backends import single_threaded_blas
from glidelab.context import (
    StudyContext,
    bootstrap_rows,
    engine_bootstrap,
    engine_seed,
    named_rng,
)
from glidelab.study import (
    ALL_ASSETS,
    DEFAULT_PRESETS,
    DesignSettings,
    DesignStudy,
    EvaluationSettings,
    load_study,
    parse_design_study,
    quick_design,
)
from optimize.baselines import MapFn, serial_map
from optimize.fund_design import (
    ConstraintCost,
    DesignPoint,
    FrontierResult,
    FundDesigner,
    design_data,
    glide_path_from_knots,
    margins,
    retirement_income,
)
from strategies.base import Strategy
from strategies.presets import preset

__all__ = [
    "ALL_ASSETS",
    "DEFAULT_PRESETS",
    "DesignOutcome",
    "DesignSection",
    "DesignSettings",
    "DesignStudy",
    "EvaluationSettings",
    "design",
    "design_summary",
    "load_design_study",
    "parse_design_study",
    "population_study",
    "quick",
    "run_design",
    "small",
    "write_design",
]


def load_design_study(name_or_path: str | Path) -> DesignStudy:
    """Read and validate a fund-design file, by path or shipped name
    (:func:`glidelab.study.load_study`); another kind of study file is refused."""
    sf = load_study(name_or_path)
    if sf.design is None:
        raise StudyError(
            f"{sf.name} is not a fund-design file (it has no [population], [design] or "
            "[evaluation] table); see the shipped target_date_2060 study"
        )
    return sf.design


def quick(study: DesignStudy) -> DesignStudy:
    """A smoke-run version of ``study`` (:func:`glidelab.study.quick_design`)."""
    return quick_design(study)


# ------------------------------------------------------------------------------- running

DESIGNED = "designed (this study)"
#: Always scored beside the presets: 100 % equity (outside the committee's constraints)
#: and 60/40 (one the study already lists is scored once).
_BENCHMARKS = ("fixed_100_0", "fixed_60_40")
_PLACED_COLUMNS = ["success", "bpoe", "shortfall", "median_replacement", "CE (USD/yr)"]


@dataclass(frozen=True)
class DesignOutcome:
    """What the fund design computed (numbers), and where it was written.

    ``frontier_table``, ``placed``: in-sample success (decimal), bPOE, shortfall CVaR
    (years of need) and median replacement ratio per frontier point / strategy;
    ``scores``: out-of-sample scores with the held-out gap (pp); ``countries``:
    survival-weighted success by JST country (decimal); ``knots``: the designed path's
    weights by knot age (decimal); ``members``: per-member averages on the held-out
    bootstrap; ``constraints``: each committee constraint group, whether it binds at the
    designed path, its slack and its cost in the objective (:func:`constraint_table`);
    ``income`` (``income.csv``, :func:`income_frame`) and ``income_rows`` (per set of
    member-paths, the tear sheet's rows): the income figures held out; ``glide_labels``:
    to / through of the glide paths; ``separability``: whether the frontier's points can
    be told apart (:func:`frontier_separability`); ``country_cohorts``: per JST country
    the cohorts scored (and how many wrap) or why it is skipped; ``evidence``: the
    calibration, sensitivity and scenario-set tables (:class:`Evidence`);
    ``conditioning`` and ``died_before_retirement``: what the held-out scores condition
    on and the share of held-out members who die before retirement (decimal);
    ``seconds``: wall-clock time per step (run-time only)."""

    study: DesignStudy
    frontier: tuple[DesignPoint, ...]
    designed: Strategy
    placed: pd.DataFrame
    scores: pd.DataFrame
    countries: pd.DataFrame
    failing: pd.DataFrame
    holdout_gap: pd.DataFrame
    seconds: dict[str, float]
    out_dir: Path | None = None
    frontier_table: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    knots: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    weights: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    members: Mapping[str, MemberSummary] = dataclasses.field(default_factory=dict)
    settings_rows: tuple[tuple[str, str], ...] = ()
    constraints: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    income: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    income_rows: Mapping[str, tuple[IncomeRow, ...]] = dataclasses.field(default_factory=dict)
    glide_labels: tuple[GlideLabel, ...] = ()
    separability: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    country_cohorts: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    evidence: Evidence | None = None
    conditioning: str = ""
    died_before_retirement: float = 0.0


def _weights3(strategy: Strategy, spec: PopulationSpec, scen: Scenarios) -> np.ndarray:
    """A strategy's per-year weights laid out over ``ALL_ASSETS`` (zeros elsewhere)."""
    w = glide_weights(strategy, spec, scen)
    out = np.zeros((w.shape[0], len(ALL_ASSETS)))
    for j, a in enumerate(strategy.assets):
        out[:, ALL_ASSETS.index(a)] = w[:, j]
    return out


def _growth(scen: Scenarios, w3: np.ndarray) -> np.ndarray:
    """Real gross return of the mix ``w3`` (T, len(ALL_ASSETS)) per path and year, (P, T);
    ``scen`` may lack an asset the mix does not hold (a CMA file without bills)."""
    idx = [j for j, a in enumerate(ALL_ASSETS) if a in scen.assets]
    lacking = [a for j, a in enumerate(ALL_ASSETS) if j not in idx and np.any(w3[:, j])]
    if lacking:
        raise StudyError(
            f"the scenarios ({scen.description}) lack {lacking}, which a strategy holds; "
            "add them to the capital-market assumptions file ([evaluation] cma)"
        )
    held = [ALL_ASSETS[j] for j in idx]
    g = (1.0 + scen.select(held).returns) / (1.0 + scen.inflation[:, :, None])
    return np.einsum("pta,ta->pt", g[:, : w3.shape[0]], w3[:, idx])


@dataclass(frozen=True)
class _Draws:
    """The design's random streams, one seed tree (``glidelab.context``): each stream is
    named, none depends on another; ``history`` is US annual history (decimal nominal)."""

    study: DesignStudy
    history: pd.DataFrame

    def rng(self, stream: str) -> np.random.Generator:
        return named_rng(self.study.seed, f"design: {stream}")

    def boot(self, n: int, stream: str) -> Scenarios:
        """``n`` stationary block-bootstrap market paths of the vintage's horizon (annual),
        drawn in the engine (``glidelab.context.engine_bootstrap``) from the history's
        complete years at the automatic block length, seeded by stream ``stream``
        (``engine_seed(seed, "design: " + stream)``; :meth:`rng`'s naming)."""
        n_t = self.study.population.n_periods
        rows, what = bootstrap_rows(self.history, ALL_ASSETS)
        seed = engine_seed(self.study.seed, f"design: {stream}")
        sc = engine_bootstrap(rows, n, n_t, seed=seed)
        sc.meta.update(what, missing="exclude")
        return sc

    def designer(
        self, members: Members, scen: Scenarios, pairing: str, stream: str, **grid: Any
    ) -> FundDesigner:
        """A :class:`FundDesigner` on ``members`` x ``scen`` paired by ``pairing``; the
        deaths sampled from stream ``stream``; ``grid``: its knot keywords."""
        spec, ds = self.study.population, self.study.design
        mi, pi = pair_members_paths(members.n_members, scen.n_scenarios, pairing)
        data = design_data(
            members, scen, ALL_ASSETS, mi, pi, expense_ratio=ds.expense_ratio, rng=self.rng(stream)
        )
        return FundDesigner(
            data,
            spec.target_age,
            ds.constraints,
            beta=ds.beta,
            assets=ds.assets,
            gamma=ds.gamma,
            preferences=ds.preferences(spec.replacement_rate),
            **grid,
        )


def _bpoe_ceiling(fr: FrontierResult, ds: DesignSettings) -> float | None:
    """The bPOE ceiling the designed path's search keeps (the income and CE objectives')."""
    if ds.objective not in ("income", "ce"):
        return None
    return min(fr.max_success.bpoe + ds.bpoe_slack, 1.0)


#: Units of each objective in the constraint table.
_OBJECTIVE_UNITS = {
    "success": "success (share of member-paths)",
    "shortfall": "shortfall CVaR (years of need)",
    "income": "mean replacement ratio (of the base salary)",
    "ce": "CE of retirement income (real USD a year)",
}


def constraint_table(costs: tuple[ConstraintCost, ...]) -> pd.DataFrame:
    """The constraint costs as a table, one row per committee constraint group: binds
    (bool), slack (decimal weight), objective, its value with and without the group
    (in the objective's units) and the cost (``>= 0``: how much better without)."""
    cols = ["binds", "slack", "objective", "with", "without", "cost", "units"]
    rows = {
        c.group: [
            c.binding,
            c.slack,
            c.objective,
            c.value_with,
            c.value_without,
            c.cost,
            _OBJECTIVE_UNITS[c.objective],
        ]
        for c in costs
    }
    df = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
    df.index.name = "constraint"
    return df


def _search(
    designer: FundDesigner,
    ds: DesignSettings,
    clock: dict[str, float],
    map_fn: MapFn | None = None,
) -> tuple[FrontierResult, DesignPoint]:
    """The frontier and the point ``ds.objective`` picks (the income or CE search from the
    max-success knots under a bPOE floor); times into ``clock``. ``map_fn`` runs the
    frontier's searches (``glidelab.backends.ordered_map``; default: here)."""
    t1 = time.perf_counter()
    fr = designer.frontier(ds.frontier_points, max_iterations=ds.max_iterations, map_fn=map_fn)
    clock["frontier"] = time.perf_counter() - t1
    if ds.objective == "success":
        return fr, fr.max_success
    if ds.objective == "shortfall":
        return fr, fr.min_shortfall
    t2 = time.perf_counter()
    chosen = designer.optimise(
        ds.objective,
        start=fr.max_success.knots,
        success_floor_bpoe=_bpoe_ceiling(fr, ds),
        max_iterations=ds.max_iterations,
    )
    clock[ds.objective] = time.perf_counter() - t2
    return fr, chosen


def _score_weights(weights: np.ndarray, designer: FundDesigner) -> DesignPoint:
    """In-sample scores of one per-year weight table (a top-level task for ``map_fn``)."""
    return designer.evaluate_weights(weights)


def _frame(points: Mapping[str, DesignPoint]) -> pd.DataFrame:
    """Design points as rows: success, bpoe, shortfall, median_replacement, CE (at the
    designer's gamma, real USD a year)."""
    return pd.DataFrame(
        {
            k: [p.success, p.bpoe, p.shortfall_cvar, p.median_replacement, p.ce]
            for k, p in points.items()
        },
        index=_PLACED_COLUMNS,
    ).T


def _loss_prefs(prefs: IncomePreferences | None, gamma: float) -> IncomePreferences | None:
    """``prefs`` at risk aversion ``gamma`` when they carry loss aversion, else None (the
    plain CRRA formula, bit-identical to the one used before preferences existed)."""
    if prefs is None or not prefs.loss_aversion:
        return None
    return dataclasses.replace(prefs, gamma=float(gamma))


def ce_columns(
    incomes: Mapping[str, np.ndarray],
    clusters: np.ndarray,
    salary: np.ndarray,
    label: str,
    prefs: IncomePreferences | None = None,
    salary_name: str = "base salary",
) -> dict[str, dict[str, float]]:
    """CE columns of the scores table for one set of member-paths: per strategy (the
    first in ``incomes`` is the reference, the designed path) and gamma in
    :data:`backtest.outcomes.RISK_AVERSIONS`, the CE of real retirement income (real USD a
    year, and as a share of the member-paths' mean ``salary``, named ``salary_name``: the
    salary the need is based on, ``Members.base_salary``, held out) and its
    difference to the reference's with the paired SE (real USD a year; batch means over
    ``clusters``, the market path of each member-path). ``prefs`` with loss aversion
    values income by them (at each gamma), the reference income being
    ``prefs.reference_replacement x salary`` per member-path."""
    ref = next(iter(incomes.values()))
    mean_salary = float(np.mean(salary))
    out: dict[str, dict[str, float]] = {}
    for n, inc in incomes.items():
        row: dict[str, float] = {}
        for g in RISK_AVERSIONS:
            p = _loss_prefs(prefs, g)
            loss_ref = None if p is None else p.reference_replacement * np.asarray(salary)
            ce, diff, se = paired_ce(inc, ref, g, clusters, preferences=p, loss_reference=loss_ref)
            row[f"{label}: CE gamma={g:g} (USD/yr)"] = ce
            row[f"{label}: CE gamma={g:g} / mean {salary_name}"] = ce / mean_salary
            row[f"{label}: CE gamma={g:g} - designed (USD/yr)"] = diff
            row[f"{label}: paired SE gamma={g:g} (USD/yr)"] = se
        out[n] = row
    return out


def _in_sample_ce(designer: FundDesigner, w3: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """CE columns on the design's own member-paths (in sample)."""
    d = designer.data
    incomes = {n: retirement_income(d, margins(d, w).wealth_at_retirement) for n, w in w3.items()}
    clusters = d.path if d.path is not None else np.arange(d.n)
    cols = ce_columns(
        incomes, clusters, d.base_salary, "in sample", designer.preferences, "base salary"
    )
    return pd.DataFrame(cols).T


# ------------------------------------------------------------------------ income figures


def _n_effective(values: np.ndarray, clusters: np.ndarray) -> float | None:
    """Independent member-paths behind the mean of ``values`` when the member-paths of one
    market path (``clusters``) share its returns: ``var / se_batch ** 2``, at most ``n``."""
    v = np.asarray(values, dtype=np.float64)
    se = batch_se(v, clusters)
    var = float(v.var())
    if not (np.isfinite(se) and se > 0 and var > 0):
        return None
    return float(min(v.size, var / se**2))


def income_row(
    outcome: PopulationOutcome,
    growth: np.ndarray,
    spec: PopulationSpec,
    expense_ratio: float,
    ce: Mapping[float, float],
) -> IncomeRow:
    """One strategy's income figures on one set of member-paths (the tear sheet's
    :class:`backtest.report.model.IncomeRow`, every figure from :mod:`backtest.outcomes`).

    Success: survival-weighted, SE by batch means over market paths. Replacement ratio:
    (Social Security + balance at retirement / annuity factor) / base salary, percentiles
    :data:`REPLACEMENT_PERCENTILES`, and the probability of reaching the population's
    target ``spec.replacement_rate`` (SE by batch means). Unpaid years given failure: mean
    shortfall (years of need, survival-weighted, valued at the annuity rate) over the
    member-paths whose drawdown account runs dry before the end age, SE over them.
    Bequest: percentiles of the drawdown account's real wealth at death
    (``outcome.bequest``, USD). Safe withdrawal rate: of the balance at the target date,
    lasting to ``spec.horizon_age`` on all but 5 % / 10 % of the market paths (decimal a
    year, after fees). ``ce``: gamma -> CE (real USD a year) from the scores table.
    """
    clusters = outcome.path
    ok = success_rate(outcome.success, _n_effective(outcome.success, clusters))
    cond = mean_unpaid_years_given_failure(outcome.unpaid_years)
    rr = outcome.replacement_ratio
    repl = replacement_percentiles(rr, REPLACEMENT_PERCENTILES)
    reach = reach_probability(rr, spec.replacement_rate - 1e-12, clusters)  # 1e-12: 0.7 as hit
    t0 = round(spec.target_age - spec.first_age)
    rates = retirement_withdrawal_rates(
        growth, t0, round(spec.horizon_age - spec.first_age), expense_ratio
    )
    return IncomeRow(
        name=outcome.name,
        success=ok.rate,
        success_se=ok.se,
        n=ok.n,
        ce=dict(ce),
        unpaid_given_failure=cond.years,
        unpaid_given_failure_se=cond.se,
        n_failed=cond.n_failed,
        bequest={
            int(q): float(v) for q, v in zip(BEQUEST_PERCENTILES, outcome.bequest, strict=True)
        },
        safe_withdrawal={p: safe_withdrawal_rate(rates, p) for p in SAFE_WITHDRAWAL_FAILURE},
        replacement={int(q): float(v) for q, v in zip(REPLACEMENT_PERCENTILES, repl, strict=True)},
        reach_target=reach.rate,
        reach_target_se=reach.se,
    )


def income_frame(
    rows: Mapping[str, tuple[IncomeRow, ...]], labels: Mapping[str, GlideLabel | None]
) -> pd.DataFrame:
    """``income.csv``: one row per strategy; per set of member-paths (``rows``' keys) its
    income figures (decimals; USD a year; years of need) and the glide path's shape
    (:func:`backtest.report.income.glide_label`: to / through, equity 25 years before, at
    and after the target date; ``fixed mix`` where the equity never moves)."""
    out: dict[str, dict[str, object]] = {}
    for label, rs in rows.items():
        for r in rs:
            rec = out.setdefault(r.name, {})
            g = labels.get(r.name)
            rec["glide"] = g.label if g is not None else "fixed mix"
            for age, e in (g.equity if g is not None else {}).items():
                rec[f"equity at {age:g}"] = e
            for q, v in r.replacement.items():
                rec[f"{label}: replacement p{q}"] = v
            rec[f"{label}: P(reach target replacement)"] = r.reach_target
            rec[f"{label}: P(reach target replacement) SE"] = r.reach_target_se
            rec[f"{label}: success"] = r.success
            rec[f"{label}: success SE"] = r.success_se
            rec[f"{label}: unpaid years given failure"] = r.unpaid_given_failure
            rec[f"{label}: unpaid years given failure SE"] = r.unpaid_given_failure_se
            rec[f"{label}: failed share"] = r.n_failed / r.n
            for q, v in r.bequest.items():
                rec[f"{label}: bequest p{q} (USD)"] = v
            for p, v in r.safe_withdrawal.items():
                rec[f"{label}: safe withdrawal rate at {100 * p:g} % failure"] = v
    df = pd.DataFrame(out).T
    df.index.name = "strategy"
    return df


# ------------------------------------------------------------------ frontier separability

#: ``|difference| / paired SE`` above which two frontier points count as apart: 1.96, the
#: two-sided 95 % normal quantile.
SEPARABILITY_Z = 1.96


def separable(diff: float, se: float, z: float = SEPARABILITY_Z) -> bool:
    """Whether a paired difference ``diff`` lies further from 0 than ``z`` standard
    errors ``se`` (same units); False where the SE is not a finite number, or both are 0."""
    if not np.isfinite(se) or not np.isfinite(diff):
        return False
    return bool(abs(diff) > z * se)


def _point_values(
    designer: FundDesigner, point: DesignPoint
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per member-path success (0/1), shortfall (years of need) and income (USD a year)."""
    d = designer.data
    mg = margins(d, designer.weights(point.knots))
    return (
        (mg.x >= 0).astype(np.float64),
        mg.shortfall,
        retirement_income(d, mg.wealth_at_retirement),
    )


def frontier_separability(
    designer: FundDesigner, points: tuple[DesignPoint, ...] | list[DesignPoint]
) -> pd.DataFrame:
    """Can the frontier's points be told apart on the member-paths they were scored on?

    For each pair of neighbours and the two end points (second minus first), the paired
    difference in success (share of member-paths), in the shortfall CVaR at the design's
    level (years of need; influence function of the Rockafellar-Uryasev form) and in the
    CE of retirement income (real USD a year, the designer's preferences,
    :func:`backtest.population_eval.paired_ce`), each with its paired SE by batch means
    over market paths; ``apart`` when :func:`separable` (``|diff| > 1.96 SE``).
    """
    d = designer.data
    clusters = d.path if d.path is not None else np.arange(d.n)
    vals = [_point_values(designer, p) for p in points]
    pairs = [(i, i + 1, "neighbours") for i in range(len(points) - 1)]
    if len(points) > 2:
        pairs.append((0, len(points) - 1, "end points"))
    p = _loss_prefs(designer.preferences, designer.gamma)
    rows = []
    for i, j, kind in pairs:
        (s_i, f_i, c_i), (s_j, f_j, c_j) = vals[i], vals[j]
        cv_i, inf_i = cvar_influence(f_i, designer.beta)
        cv_j, inf_j = cvar_influence(f_j, designer.beta)
        _, d_ce, se_ce = paired_ce(
            c_j, c_i, designer.gamma, clusters, preferences=p, loss_reference=designer.reference
        )
        for metric, diff, se in (
            ("success", float(np.mean(s_j - s_i)), batch_se(s_j - s_i, clusters)),
            ("shortfall CVaR (years)", cv_j - cv_i, batch_se(inf_j - inf_i, clusters)),
            ("CE (USD/yr)", d_ce, se_ce),
        ):
            z = abs(diff) / se if se > 0 else (np.inf if diff else 0.0)
            rows.append(
                {
                    "pair": f"{i + 1} vs {j + 1}",
                    "kind": kind,
                    "metric": metric,
                    "difference": diff,
                    "paired SE": se,
                    "|z|": z,
                    "verdict": "apart" if separable(diff, se) else "cannot be told apart",
                }
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class _HeldOut:
    """What every held-out scoring task of one call shares (sent once per call): the
    members, the named scenario sets, the population and the fund's fee (decimal a year)."""

    members: Members
    scenarios: Mapping[str, Scenarios]
    spec: PopulationSpec
    fee: float


def _held_out_task(
    task: tuple[str, str, np.ndarray], shared: _HeldOut
) -> tuple[PopulationOutcome, IncomeRow]:
    """One strategy ``(name, set label, weights over ALL_ASSETS)`` on one set, exact
    survival weighting, with its income row (a top-level task for ``map_fn``)."""
    name, label, w3 = task
    growth = _growth(shared.scenarios[label], w3)
    o = evaluate_population(
        shared.members, growth, expense_ratio=shared.fee, name=name, bequest_at=BEQUEST_PERCENTILES
    )
    return o, income_row(o, growth, shared.spec, shared.fee, {})


@dataclass(frozen=True)
class _Scored:
    """The columns of a ``PopulationOutcome`` the country and evidence tables read (what a
    backend's task sends back): per member-path survival-weighted success (decimal),
    real retirement income (USD a year), member and market-path index."""

    success: np.ndarray
    income: np.ndarray
    member: np.ndarray
    path: np.ndarray

    @property
    def mean_success(self) -> float:
        """``PopulationOutcome.mean_success``: the mean over member-paths, decimal."""
        return float(self.success.mean())


def _outcome_task(task: tuple[str, str, np.ndarray], shared: _HeldOut) -> _Scored:
    """One strategy ``(name, set label, weights over ALL_ASSETS)`` on one set, exact
    survival weighting (a top-level task for ``map_fn``)."""
    name, label, w3 = task
    growth = _growth(shared.scenarios[label], w3)
    o = evaluate_population(shared.members, growth, expense_ratio=shared.fee, name=name)
    return _Scored(o.success, o.income, o.member, o.path)


def _scores(
    study: DesignStudy,
    members: Members,
    sets: Mapping[str, tuple[Scenarios, Mapping[str, np.ndarray]]],
    prefs: IncomePreferences | None = None,
    map_fn: MapFn | None = None,
) -> tuple[pd.DataFrame, dict[str, PopulationOutcome], dict[str, tuple[IncomeRow, ...]]]:
    """Exact survival-weighted scores of each strategy on each named set (one column
    group per set; a set comes with each strategy's weights over ``ALL_ASSETS``), each
    strategy's outcome on the first set, and each set's income figures
    (:func:`income_row`, one per strategy, with the scores' CE at each gamma).
    ``map_fn`` runs each (strategy, set) as a task (default: here, in order); the
    results are put together in that order, so the tables do not depend on it."""
    fee, spec = study.design.expense_ratio, study.population
    score_rows: dict[str, dict[str, float]] = {}
    first: dict[str, PopulationOutcome] = {}
    names = next(iter(sets.values()))[1]
    incomes: dict[str, dict[str, np.ndarray]] = {label: {} for label in sets}
    rows: dict[str, list[IncomeRow]] = {label: [] for label in sets}
    paths: dict[str, np.ndarray] = {}
    salary: dict[str, np.ndarray] = {}
    tasks = [(n, label, weights[n]) for n in names for label, (_, weights) in sets.items()]
    shared = _HeldOut(members, {label: scen for label, (scen, _) in sets.items()}, spec, fee)
    done = iter((map_fn or serial_map)(_held_out_task, tasks, shared))
    for n in names:
        row: dict[str, float] = {}
        for label in sets:
            o, inc_row = next(done)
            first.setdefault(n, o)
            incomes[label][n] = o.income
            paths[label] = o.path
            salary[label] = members.base_salary[o.member]
            rows[label].append(inc_row)
            summ = o.summary()
            row[f"{label}: success"] = summ["success_survival_weighted"]
            row[f"{label}: success_fixed"] = summ["success_fixed_horizon"]
            row[f"{label}: median_replacement"] = summ["median_replacement_ratio"]
            row[f"{label}: mean unpaid years"] = summ["mean_unpaid_years"]
            row[f"{label}: CVaR95 unpaid years"] = summ["cvar95_unpaid_years"]
        score_rows[n] = row
    income: dict[str, tuple[IncomeRow, ...]] = {}
    for label in sets:
        cols = ce_columns(incomes[label], paths[label], salary[label], label, prefs)
        for n, c in cols.items():
            score_rows[n].update(c)
        income[label] = tuple(
            dataclasses.replace(
                r, ce={g: cols[r.name][f"{label}: CE gamma={g:g} (USD/yr)"] for g in RISK_AVERSIONS}
            )
            for r in rows[label]
        )
    return pd.DataFrame(score_rows).T, first, income


# ------------------------------------------------- countries, calibration, sensitivity


def _countries(
    study: DesignStudy,
    draws: _Draws,
    strategies: Mapping[str, Strategy],
    map_fn: MapFn | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Survival-weighted success (decimal) by JST country and pooled, on each country's
    lifetime cohorts of consecutive calendar years (real local currency,
    :func:`backtest.jst_cohorts.jst_cohorts` with ``wrap=True``: from the last complete year
    onto the first, never across a gap); and per country the cohorts used, how many wrap,
    or why it is skipped (no gap-free run of a lifetime's complete years). ``map_fn``
    scores each (country, strategy) as a task (default: here, in order)."""
    spec, ev = study.population, study.evaluation
    members = draw_members(spec, ev.country_members, draws.rng("members by country"))
    country: dict[str, dict[str, float]] = {}
    pooled: dict[str, list[np.ndarray]] = {n: [] for n in strategies}
    table: dict[str, dict[str, object]] = {}
    scen: dict[str, Scenarios] = {}
    for iso in ev.countries:
        try:
            sc = jst_cohorts(iso, ALL_ASSETS, spec.n_periods, wrap=True)
        except CoverageError:
            table[iso] = _skipped_country(iso, spec.n_periods)
            continue
        wrapped = int(_meta_number(sc, "wrapped"))
        table[iso] = {
            "status": "scored",
            "cohorts": sc.n_scenarios,
            "wrapped cohorts": wrapped,
            "first start": (sc.labels or ("",))[0],
            "last start": (sc.labels or ("",))[-1],
            "reason": "",
        }
        scen[iso] = sc
    tasks = [
        (n, iso, _weights3(s, spec, sc)) for iso, sc in scen.items() for n, s in strategies.items()
    ]
    shared = _HeldOut(members, scen, spec, study.design.expense_ratio)
    done = iter((map_fn or serial_map)(_outcome_task, tasks, shared))
    for iso in scen:
        country[iso] = {}
        for n in strategies:
            o = next(done)
            country[iso][n] = o.mean_success
            pooled[n].append(o.success)
    countries = pd.DataFrame(country).T
    if country:
        countries.loc["pooled"] = {n: float(np.concatenate(v).mean()) for n, v in pooled.items()}
    cohorts = pd.DataFrame.from_dict(table, orient="index")
    cohorts.index.name = "country"
    return countries, cohorts


def _meta_number(scen: Scenarios, key: str) -> float:
    """A number the generator recorded in ``scen.meta`` (e.g. the block length)."""
    v = (scen.meta or {}).get(key)
    if isinstance(v, bool) or not isinstance(v, int | float | np.number):
        raise StudyError(f"the scenarios ({scen.description}) do not record {key!r} in meta")
    return float(v)


def _skipped_country(iso: str, n_years: int) -> dict[str, object]:
    """A country row of the cohort table with no ``n_years`` gap-free cohort: why."""
    row = cohort_row(iso, ALL_ASSETS, n_years)
    runs = row["short_runs"] or "none"
    return {
        "status": "skipped",
        "cohorts": 0,
        "wrapped cohorts": 0,
        "first start": "",
        "last start": "",
        "reason": f"no {n_years} consecutive years with stocks, bonds, bills and inflation "
        f"(runs of complete years: {runs}; missing: {row['excluded_years']})",
    }


#: Members drawn for the calibration table: a statistic such as the mean cash-out at 60+
#: rests on few events, so it needs more members than the held-out scores (at most ten
#: times ``[evaluation] members``, so a ``--quick`` run stays quick).
CALIBRATION_MEMBERS = 20_000


def calibration_table(members: Members, growth: np.ndarray, fee: float) -> pd.DataFrame:
    """``calibration.csv``: :func:`backtest.calibration.leakage_calibration` on ``members``
    (their own draw, :data:`CALIBRATION_MEMBERS`; model, published, tolerance, source,
    within; real 2025 USD or decimal), the aggregate-leakage row on ``growth`` (real gross
    returns (P, T) of the held-out paths, member i on path i mod P) after fees ``fee``
    (decimal a year)."""
    return leakage_calibration(members, growth, fee)


#: The risk aversion the sensitivity and evidence tables rank by.
RANK_GAMMA = 5.0


def conclusion_scores(
    members: Members,
    scen: Scenarios,
    weights: Mapping[str, np.ndarray],
    fee: float,
    prefs: IncomePreferences | None,
    label: str,
    map_fn: MapFn | None = None,
) -> pd.DataFrame:
    """Each strategy (the first in ``weights``, over ``ALL_ASSETS``, is the designed path)
    on ``members`` x every path of ``scen``: survival-weighted success (decimal, SE by
    batch means over market paths), CE of real retirement income at gamma
    :data:`RANK_GAMMA` (real USD a year), its difference to the designed path's with the
    paired SE (:func:`ce_columns`), and its rank by that CE (1 = highest). Columns are
    prefixed ``"<label>: "``. ``map_fn`` scores each strategy as a task (default: here,
    in order); the table does not depend on it."""
    shared = _HeldOut(members, {label: scen}, members.spec, fee)
    tasks = [(n, label, w) for n, w in weights.items()]
    outs = dict(zip(weights, (map_fn or serial_map)(_outcome_task, tasks, shared), strict=True))
    first = next(iter(outs.values()))
    salary = members.base_salary[first.member]
    cols = ce_columns({n: o.income for n, o in outs.items()}, first.path, salary, label, prefs)
    g = f"gamma={RANK_GAMMA:g}"
    keep = (f"CE {g} (USD/yr)", f"CE {g} - designed (USD/yr)", f"paired SE {g} (USD/yr)")
    rows = {
        n: {
            f"{label}: success": o.mean_success,
            f"{label}: success SE": batch_se(o.success, o.path),
            **{f"{label}: {k}": cols[n][f"{label}: {k}"] for k in keep},
        }
        for n, o in outs.items()
    }
    df = pd.DataFrame(rows).T
    df[f"{label}: rank by CE {g}"] = (
        df[f"{label}: {keep[0]}"].rank(ascending=False, method="min").astype(int)
    )
    return df


def sensitivity_variants(spec: PopulationSpec) -> dict[str, PopulationSpec]:
    """The member-behaviour variants the conclusions are re-scored under: leakage none /
    calibrated / heavy (:data:`backtest.leakage.LEAKAGE_MODELS`), Social Security as
    scheduled and as payable from the depletion year (2025 Trustees Report, OASDI:
    :data:`backtest.social_security.TRUSTEES_2025_OASDI`); every other field as ``spec``."""
    ratio, year = TRUSTEES_2025_OASDI
    rep = dataclasses.replace
    return {
        "leakage none": rep(spec, leakage="none"),
        "leakage calibrated": rep(spec, leakage="calibrated"),
        "leakage heavy": rep(spec, leakage="heavy"),
        "Social Security scheduled": rep(spec, ss_payable_ratio=1.0),
        f"Social Security payable ({ratio:g} from {year})": rep(
            spec, ss_payable_ratio=ratio, ss_depletion_year=year
        ),
    }


def sensitivity_table(
    study: DesignStudy,
    draws: _Draws,
    scen: Scenarios,
    weights: Mapping[str, np.ndarray],
    prefs: IncomePreferences | None,
    map_fn: MapFn | None = None,
) -> pd.DataFrame:
    """``sensitivity.csv``: :func:`conclusion_scores` held out under each of
    :func:`sensitivity_variants`, members drawn afresh under the variant from the held-out
    members' seed stream (the study's own spec gives the held-out members themselves), on
    the held-out market paths ``scen``; the designed path is not re-optimised."""
    ev, fee = study.evaluation, study.design.expense_ratio
    done: dict[PopulationSpec, pd.DataFrame] = {}
    parts = []
    for label, v in sensitivity_variants(study.population).items():
        if v not in done:
            members = draw_members(v, ev.members, draws.rng("members held out"))
            done[v] = conclusion_scores(members, scen, weights, fee, prefs, "", map_fn)
        parts.append(done[v].set_axis([f"{label}{c}" for c in done[v].columns], axis=1))
    return pd.concat(parts, axis=1)


# -------------------------------------------------------------------- scenario evidence


@dataclass(frozen=True)
class EvidenceSet:
    """One set of market paths the conclusions are scored on, and what it is (in words)."""

    label: str
    scenarios: Scenarios
    about: str


def _international(study: DesignStudy, draws: _Draws, block: float) -> EvidenceSet | None:
    """The JST panel bootstrap over ``[evaluation] countries`` (real local currency)."""
    ev, spec = study.evaluation, study.population
    if not ev.countries:
        return None
    panel = load_jst_panel(ev.countries)
    sc = panel_block_bootstrap(
        panel,
        ALL_ASSETS,
        ev.bootstrap_paths,
        spec.n_periods,
        block,
        rng=draws.rng("market paths international"),
        weights="countries",
    )
    return EvidenceSet(
        "international bootstrap",
        sc,
        f"stationary block bootstrap of JST R6 real local-currency returns over "
        f"{', '.join(ev.countries)}, expected block length {block:.2f} years (the US "
        "bootstrap's), each block from one country chosen with equal weight per country, "
        "never across a gap",
    )


def _cma_set(study: DesignStudy) -> tuple[EvidenceSet, CapitalMarketAssumptions]:
    """Scenarios of the ``[evaluation] cma`` file (moment-matched, annual), drawn in the
    engine (``backtest.cma.cma_in_engine``; a Student-t of non-integer dof is stored,
    ``meta["route"]``) with the seed ``engine_seed(seed, "design: market paths cma")``
    (:meth:`_Draws.rng`'s naming)."""
    ev, spec = study.evaluation, study.population
    cma = ev.capital_market_assumptions()
    seed = engine_seed(study.seed, "design: market paths cma")
    sc = cma_in_engine(
        cma, max(ev.bootstrap_paths, 2), spec.n_periods, seed=seed, meta={"engine_seed": seed}
    )
    label = "an example, not a forecast" if cma.example else "stated assumptions"
    where = "drawn in the engine" if sc.meta["route"] == "engine" else "stored"
    about = (
        f"capital-market assumptions {cma.name!r} ({label}; source: {cma.source}): "
        f"{cma.distribution} draws moment-matched to the stated real means, volatilities and "
        f"correlations, constant inflation {100 * cma.inflation:.1f} %, {where}"
    )
    return EvidenceSet("capital-market assumptions", sc, about), cma


def cma_moments(cma: CapitalMarketAssumptions, scen: Scenarios) -> pd.DataFrame:
    """``cma.csv``: per asset the stated arithmetic mean real return and volatility (decimal
    a year) beside those of the scenarios (over every scenario-year; volatility ddof 1)."""
    real = (1.0 + scen.select(cma.assets).returns) / (1.0 + scen.inflation[:, :, None]) - 1.0
    flat = real.reshape(-1, len(cma.assets))
    df = pd.DataFrame(
        {
            "stated mean real return": cma.mean,
            "scenarios' mean real return": flat.mean(axis=0),
            "stated volatility": np.asarray(cma.volatility, dtype=np.float64),
            "scenarios' volatility": flat.std(axis=0, ddof=1),
        },
        index=pd.Index(cma.assets, name="asset"),
    )
    return df


def evidence_table(
    study: DesignStudy,
    sets: tuple[EvidenceSet, ...],
    members: Members,
    strategies: Mapping[str, Strategy],
    prefs: IncomePreferences | None,
    map_fn: MapFn | None = None,
) -> pd.DataFrame:
    """``evidence.csv``: :func:`conclusion_scores` of every strategy on the held-out
    ``members`` under each scenario set, side by side."""
    spec, fee = study.population, study.design.expense_ratio
    parts = []
    for e in sets:
        w = {n: _weights3(s, spec, e.scenarios) for n, s in strategies.items()}
        parts.append(conclusion_scores(members, e.scenarios, w, fee, prefs, e.label, map_fn))
    return pd.concat(parts, axis=1)


def _evidence_sets(
    study: DesignStudy, draws: _Draws, boot: Scenarios, cohorts: Scenarios
) -> tuple[tuple[EvidenceSet, ...], pd.DataFrame]:
    """The four scenario sets (US bootstrap, US cohorts, international bootstrap, CMA) and
    the CMA's moments table."""
    block = _meta_number(boot, "block_length")
    us = (
        EvidenceSet(
            "US block bootstrap",
            boot,
            f"US annual history 1928-2025 resampled in blocks (expected length {block:.2f} "
            "years), fresh seed",
        ),
        EvidenceSet(
            "US cohorts",
            cohorts,
            "every US lifetime cohort of consecutive years, wrapped from the last year onto "
            "the first (labelled)",
        ),
    )
    intl = _international(study, draws, block)
    cma_set, cma = _cma_set(study)
    sets = (*us, *((intl,) if intl is not None else ()), cma_set)
    return sets, cma_moments(cma, cma_set.scenarios)


@dataclass(frozen=True)
class Evidence:
    """What the design's conclusions rest on, beyond the main scores (see
    :class:`DesignOutcome`)."""

    calibration: pd.DataFrame
    sensitivity: pd.DataFrame
    evidence: pd.DataFrame
    cma: pd.DataFrame
    sets: tuple[tuple[str, str], ...]


def _evidence(
    study: DesignStudy,
    draws: _Draws,
    m_out: Members,
    boots: tuple[Scenarios, Scenarios],
    strategies: Mapping[str, Strategy],
    prefs: IncomePreferences | None,
    map_fn: MapFn | None = None,
) -> Evidence:
    """Calibration, sensitivity and scenario-set tables, all held out (the strategies
    scored as ``map_fn`` tasks, :func:`conclusion_scores`)."""
    sc_out, cohorts = boots
    spec, fee = study.population, study.design.expense_ratio
    w3 = {n: _weights3(s, spec, sc_out) for n, s in strategies.items()}
    sets, cma = _evidence_sets(study, draws, sc_out, cohorts)
    n_cal = min(CALIBRATION_MEMBERS, 10 * study.evaluation.members)
    m_cal = draw_members(spec, n_cal, draws.rng("members for calibration"))
    return Evidence(
        calibration=calibration_table(m_cal, _growth(sc_out, w3[DESIGNED]), fee),
        sensitivity=sensitivity_table(study, draws, sc_out, w3, prefs, map_fn),
        evidence=evidence_table(study, sets, m_out, strategies, prefs, map_fn),
        cma=cma,
        sets=tuple((e.label, e.about) for e in sets),
    )


def design(
    study: DesignStudy,
    *,
    extra: Mapping[str, Strategy] | None = None,
    map_fn: MapFn | None = None,
) -> DesignOutcome:
    """Design the vintage's glide path and score it with the presets and ``extra`` (e.g. the
    workbench's drawn path); numbers only, nothing written (:func:`write_design`).
    ``map_fn`` runs the frontier's searches, the constraint costs' re-solves, the in-sample
    and the held-out scoring of the strategies (out of sample and the evidence tables)
    (``glidelab.backends.ordered_map(backend)``; default: here, in order): the numbers are
    the same whatever runs them (and BLAS runs on one thread here, as on a Dask worker:
    ``glidelab.backends.single_threaded_blas``)."""
    with single_threaded_blas():
        return _design(study, extra, map_fn)


def _design(
    study: DesignStudy, extra: Mapping[str, Strategy] | None, map_fn: MapFn | None
) -> DesignOutcome:
    """:func:`design`'s work, under its one BLAS thread."""
    clock: dict[str, float] = {}
    t0 = time.perf_counter()
    spec, ds, ev = study.population, study.design, study.evaluation
    draws = _Draws(study, load_history([*ALL_ASSETS, "cpi"], "annual"))
    # ---- in sample: member-paths for the search
    m_in = draw_members(spec, ds.member_paths, draws.rng("members in sample"))
    sc_in = draws.boot(ds.market_paths, "market paths in sample")
    designer = draws.designer(
        m_in, sc_in, "paired", "deaths in sample", knot_spacing_years=ds.knot_spacing_years
    )
    clock["setup"] = time.perf_counter() - t0
    fr, chosen = _search(designer, ds, clock, map_fn)
    separability = frontier_separability(designer, fr.points)
    t_c = time.perf_counter()
    costs = designer.constraint_costs(
        chosen,
        ds.objective,
        success_floor_bpoe=_bpoe_ceiling(fr, ds),
        max_iterations=min(ds.max_iterations, 8),
        map_fn=map_fn,
    )
    clock["constraint_costs"] = time.perf_counter() - t_c
    designed = glide_path_from_knots(
        DESIGNED, ds.assets, designer.knot_ages, chosen.knots, spec.target_age
    )
    strategies = _strategies(designed, ev, extra)
    # ---- presets on the frontier's member-paths (in sample)
    w3 = {n: _weights3(s, spec, sc_in) for n, s in strategies.items()}
    scored = (map_fn or serial_map)(_score_weights, [w3[n] for n in strategies], designer)
    rows = dict(zip(strategies, scored, strict=True))
    # ---- held out: fresh members and fresh-seed bootstrap, same sampled-death metric
    t3 = time.perf_counter()
    m_out = draw_members(spec, ev.members, draws.rng("members held out"))
    sc_out = draws.boot(ev.bootstrap_paths, "market paths held out")
    out_designer = draws.designer(
        m_out, sc_out, "cross", "deaths held out", knot_ages=designer.knot_ages
    )
    gap = _gap(rows, out_designer, w3, map_fn)
    # ---- out of sample, exact survival weighting: bootstrap and US cohorts
    cohorts = historical_cohorts(draws.history, ALL_ASSETS, spec.n_periods, wrap=True)
    w_us = {n: _weights3(s, spec, cohorts) for n, s in strategies.items()}
    sets = {"bootstrap": (sc_out, w3), "US cohorts": (cohorts, w_us)}
    scores, outcomes, income = _scores(study, m_out, sets, designer.preferences, map_fn)
    equity = tuple(ds.assets[i] for i in designer.setup.equity)
    labels = {n: glide_label(s, spec.target_age, equity) for n, s in strategies.items()}
    clock["out_of_sample"] = time.perf_counter() - t3
    countries, country_cohorts, evidence = _beyond_the_us(
        study, draws, m_out, (sc_out, cohorts), strategies, designer.preferences, clock, map_fn
    )
    members = _member_summaries(outcomes, m_out)
    clock["total"] = time.perf_counter() - t0
    return DesignOutcome(
        study=study,
        frontier=fr.points,
        designed=designed,
        placed=_frame(rows),
        scores=pd.concat([scores, _in_sample_ce(designer, w3), gap], axis=1),
        countries=countries,
        failing=_failing_traits(m_out.survivors(), members[DESIGNED].success < 0.5),
        holdout_gap=gap,
        seconds=clock,
        frontier_table=_frame({f"{i + 1}: {p.objective}": p for i, p in enumerate(fr.points)}),
        knots=_knots_frame(chosen, designer, ds),
        weights=pd.DataFrame(
            {n: w3[n][:, 0] for n in strategies}, index=pd.Index(spec.ages.astype(int), name="age")
        ),
        members=members,
        settings_rows=tuple(_settings_rows(study, designer, country_cohorts, cohorts.n_scenarios)),
        constraints=constraint_table(costs),
        income=income_frame(income, labels),
        income_rows=income,
        glide_labels=tuple(g for g in labels.values() if g is not None),
        separability=separability,
        country_cohorts=country_cohorts,
        evidence=evidence,
        conditioning=outcomes[DESIGNED].conditioning,
        died_before_retirement=outcomes[DESIGNED].died_before_retirement,
    )


# ------------------------------------------------------------------ evidence, as shown


def _amount(figure: str, v: float) -> str:
    """A calibration figure: USD amounts as USD, the rest as a percentage."""
    if not np.isfinite(v):
        return "-"
    return f"{v:,.0f} USD" if "USD" in figure else f"{100 * v:.1f} %"


def _calibration_view(cal: pd.DataFrame) -> pd.DataFrame:
    """The calibration table as shown: each figure in its own units."""
    out = pd.DataFrame(
        {
            "model": [_amount(str(f), v) for f, v in cal["model"].items()],
            "published": [_amount(str(f), v) for f, v in cal["published"].items()],
            "tolerance": [
                "+/- " + _amount(str(f), v).replace(" %", " pp")
                for f, v in cal["tolerance"].items()
            ],
            "within": cal["within"].map(lambda b: "yes" if b else "NO"),
            "role": cal["role"],
            "source": cal["source"],
        },
        index=cal.index,
    )
    return out


def _scores_view(df: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Per set (``labels``, the column prefixes of :func:`conclusion_scores`): success
    (SE) and the CE at gamma 5 (the designed path's) or its paired difference (SE)."""
    g = f"gamma={RANK_GAMMA:g}"
    out: dict[str, list[str]] = {}
    for lab in labels:
        ok, se = df[f"{lab}: success"], df[f"{lab}: success SE"]
        out[f"{lab}: success"] = [
            f"{100 * a:.1f} % ({100 * b:.1f})" for a, b in zip(ok, se, strict=True)
        ]
        ce, d = df[f"{lab}: CE {g} (USD/yr)"], df[f"{lab}: CE {g} - designed (USD/yr)"]
        pse = df[f"{lab}: paired SE {g} (USD/yr)"]
        out[f"{lab}: CE {g}"] = [f"{ce.iloc[0]:,.0f}"] + [
            f"{a:+,.0f} ({b:,.0f})" for a, b in zip(d.iloc[1:], pse.iloc[1:], strict=True)
        ]
        out[f"{lab}: rank"] = [str(int(r)) for r in df[f"{lab}: rank by CE {g}"]]
    return pd.DataFrame(out, index=df.index)


def _prefixes(df: pd.DataFrame) -> list[str]:
    """The set / variant labels of a :func:`conclusion_scores` frame, in order."""
    return list(dict.fromkeys(c.rsplit(": ", 1)[0] for c in df.columns if c.endswith(": success")))


def _evidence_views(result: DesignOutcome) -> list[tuple[str, pd.DataFrame, str]]:
    """The report's sections for the country cohorts, calibration, sensitivity, scenario
    sets and CMA moments: (title, table as shown, caption)."""
    out = []
    if not result.country_cohorts.empty:
        out.append(
            (
                "JST countries: lifetime cohorts used, wrapped, or why skipped",
                result.country_cohorts,
                "cohorts of consecutive calendar years with every series present; 'wrapped' "
                "run from the last complete year onto the first; never across a gap.",
            )
        )
    ev = result.evidence
    if ev is None:
        return out
    ce_cap = (
        "success = survival-weighted, held out (SE by batch means over market paths, pp; "
        "US cohorts overlap, so theirs is optimistic); "
        f"CE at gamma {RANK_GAMMA:g} of real retirement income, USD a year: the designed "
        "path's, then each path's difference to it (paired SE); rank by that CE (1 = best)."
    )
    out += [
        (
            "Calibration: the leakage model against published figures",
            _calibration_view(ev.calibration),
            "model on its own draw of members (up to "
            f"{CALIBRATION_MEMBERS:,}; the aggregate leakage on the held-out market paths); "
            "tolerance as stated with its reason in "
            "calibration.csv; amounts real 2025 USD.",
        ),
        (
            "Sensitivity of the conclusions: leakage and payable Social Security (held out)",
            _scores_view(ev.sensitivity, _prefixes(ev.sensitivity)),
            ce_cap + " Members drawn afresh under each variant, same market paths; the "
            "designed path is not re-optimised per variant.",
        ),
        (
            "Scenario sets side by side (held out)",
            _scores_view(ev.evidence, _prefixes(ev.evidence)),
            ce_cap + " " + "; ".join(f"{lab}: {about}" for lab, about in ev.sets) + ".",
        ),
        (
            "Capital-market assumptions: stated against the scenarios' moments",
            ev.cma,
            "arithmetic mean real return and volatility, decimal a year (moment-matched).",
        ),
    ]
    return out


def write_design(result: DesignOutcome, folder: Path) -> None:
    """The design report into ``folder``: design.html, design.pdf, the CSV tables
    (summary: the report's first table; frontier, placed, scores, countries, failing,
    designed_path, constraints, income, separability) and settings.json."""
    from backtest.report.population import (  # lazy: heavy (matplotlib)
        PopulationReport,
        build_population_charts,
        render_population_html,
        render_population_pdf,
        summary_frame,
    )

    study, spec = result.study, result.study.population
    report = PopulationReport(
        title=f"Fund design: {study.name}",
        subtitle=study.description
        or f"one glide path for members born {spec.birth_year}, target date {spec.target_year}",
        settings=list(result.settings_rows),
        frontier=result.frontier_table,
        placed=result.placed,
        weights=result.weights,
        scores=result.scores,
        member_success={n: m.success for n, m in result.members.items()},
        member_replacement={n: m.replacement_ratio for n, m in result.members.items()},
        member_unpaid={n: m.unpaid_years for n, m in result.members.items()},
        failing=result.failing,
        countries=result.countries,
        notes=_notes(result),
        extra_tables=_evidence_views(result),
        constraints=result.constraints,
        annuity_rate=spec.annuity_rate,
        income=dict(result.income_rows),
        glide_labels=result.glide_labels,
        separability=result.separability,
        target_replacement=spec.replacement_rate,
        in_sample_n=study.design.member_paths,
        gamma=study.design.gamma if study.design.gamma in RISK_AVERSIONS else RANK_GAMMA,
    )
    folder.mkdir(parents=True, exist_ok=True)
    charts = build_population_charts(report)
    write_text_atomic(folder / "design.html", render_population_html(report, charts))
    render_population_pdf(report, charts, str(folder / "design.pdf"))
    for fname, df in (
        ("summary.csv", summary_frame(report)),
        ("frontier.csv", result.frontier_table),
        ("placed.csv", result.placed),
        ("scores.csv", result.scores),
        ("countries.csv", result.countries),
        ("failing.csv", result.failing),
        ("designed_path.csv", result.knots),
        ("constraints.csv", result.constraints),
        ("income.csv", result.income),
        ("separability.csv", result.separability),
        ("country_cohorts.csv", result.country_cohorts),
        *_evidence_files(result.evidence),
    ):
        write_text_atomic(folder / fname, df.to_csv(float_format="%.6g"))
    settings = {"study": _jsonable(dataclasses.asdict(study)), "seconds": result.seconds}
    write_text_atomic(folder / "settings.json", json.dumps(settings, indent=2))


def _evidence_files(ev: Evidence | None) -> list[tuple[str, pd.DataFrame]]:
    if ev is None:
        return []
    return [
        ("calibration.csv", ev.calibration),
        ("sensitivity.csv", ev.sensitivity),
        ("evidence.csv", ev.evidence),
        ("cma.csv", ev.cma),
    ]


def run_design(
    study: DesignStudy,
    out_root: str | Path | None = "results",
    *,
    progress: bool = False,
    extra: Mapping[str, Strategy] | None = None,
    map_fn: MapFn | None = None,
) -> DesignOutcome:
    """:func:`design` (its searches run by ``map_fn``, e.g. ``glidelab.backends.ordered_map``
    of a Dask backend), then (unless ``out_root`` is None) :func:`write_design` into
    ``<out_root>/<study name>/`` atomically."""
    section = DesignSection(study, extra, folder=study.name, map_fn=map_fn)
    outcome = section.run()
    if out_root is None:
        return outcome
    target = Path(out_root) / section.folder
    with atomic_directory(target) as tmp:
        section.write(outcome, tmp)
    return dataclasses.replace(outcome, out_dir=target)


def design_summary(result: DesignOutcome) -> str:
    """One paragraph: the designed path's held-out bootstrap success (survival-weighted,
    decimal shown as %) against the presets'."""
    scores = result.scores["bootstrap: success"]
    designed, presets = scores.iloc[0], scores.iloc[1:]
    return (
        _summary_head(result, designed, presets)
        + _ce_sentence(result.scores)
        + _ranking_sentence(result.scores, result.constraints)
        + _constraint_sentence(result.constraints)
        + " "
        + _income_sentence(result.income, result.study.population.replacement_rate)
        + _separability_sentence(result.separability)
        + _evidence_sentences(result.evidence)
        + "\n"
    )


def _ranks(df: pd.DataFrame) -> str:
    """The designed path's rank and success under each set of a conclusion table."""
    g = f"gamma={RANK_GAMMA:g}"
    n = len(df.index)
    return "; ".join(
        f"{lab} {int(df[f'{lab}: rank by CE {g}'].iloc[0])} of {n} "
        f"(success {100 * df[f'{lab}: success'].iloc[0]:.1f} %)"
        for lab in _prefixes(df)
    )


def _evidence_sentences(ev: Evidence | None) -> str:
    """Calibration, sensitivity and scenario sets, a sentence each."""
    if ev is None:
        return ""
    cal = ev.calibration
    return (
        f"The leakage model meets {int(cal['within'].sum())} of {len(cal)} published figures "
        f"within their tolerance (calibration table). "
        f"Re-scored held out under other member behaviour (the designed path not "
        f"re-optimised), its rank by CE at gamma {RANK_GAMMA:g}: {_ranks(ev.sensitivity)}. "
        f"Under each set of market paths its rank: {_ranks(ev.evidence)}. "
    )


def _ranking_sentence(
    scores: pd.DataFrame, constraints: pd.DataFrame, label: str = "bootstrap"
) -> str:
    """The held-out CE ranking at each gamma of :data:`RISK_AVERSIONS`; where 100 % equity
    (outside the committee's constraints) beats the designed path, by how much, and how
    much of its in-sample lead at the design's objective the binding constraints' costs
    explain (``constraints.csv``: each re-solved alone, so the costs need not add up)."""
    if f"{label}: CE gamma=5 (USD/yr)" not in scores.columns:
        return ""
    designed, parts = scores.index[0], []
    for g in RISK_AVERSIONS:
        order = scores[f"{label}: CE gamma={g:g} (USD/yr)"].sort_values(ascending=False)
        rank = list(order.index).index(designed) + 1
        top = f"at gamma {g:g} {order.index[0]} ranks first ({order.iloc[0]:,.0f} USD a year)"
        parts.append(top + ("" if rank == 1 else f" and the designed path {rank} of {order.size}"))
    text = f"Ranked by held-out CE: {'; '.join(parts)}. "
    if "fixed_100_0" not in scores.index:
        return text
    wins = []
    for g in RISK_AVERSIONS:
        d = float(scores[f"{label}: CE gamma={g:g} - designed (USD/yr)"]["fixed_100_0"])
        se = float(scores[f"{label}: paired SE gamma={g:g} (USD/yr)"]["fixed_100_0"])
        if d > 0:
            told = "" if separable(d, se) else ", within 1.96 SE"
            wins.append(f"gamma {g:g} by {d:,.0f} USD a year (paired SE {se:,.0f}{told})")
    if not wins:
        return text + "100 % equity (outside the committee's constraints) does not beat it. "
    text += f"100 % equity, outside the committee's constraints, beats it at {', '.join(wins)}"
    return text + _explained(scores, constraints) + ". "


def _explained(scores: pd.DataFrame, constraints: pd.DataFrame) -> str:
    """How much of 100 % equity's in-sample CE lead the binding constraints' costs explain."""
    col = "in sample: CE gamma=5 - designed (USD/yr)"
    if constraints.empty or col not in scores.columns or "fixed_100_0" not in scores.index:
        return ""
    if not str(constraints["units"].iloc[0]).startswith("CE"):
        return "; the constraint costs are in the design's own objective, not CE"
    cost = float(constraints.loc[constraints["binds"].astype(bool), "cost"].sum())
    lead = float(scores[col]["fixed_100_0"])
    if lead <= 0:
        return (
            f"; in sample it does not lead, and the binding constraints cost {cost:,.0f} USD a year"
        )
    share = "more than all of it" if cost >= lead else f"{100 * cost / lead:.0f} % of it"
    return (
        f"; in sample its lead at the design's gamma is {lead:,.0f} USD a year, and the "
        f"binding constraints' costs (each re-solved alone, so they need not add up) sum to "
        f"{cost:,.0f} USD a year, {share}"
    )


def _income_sentence(income: pd.DataFrame, target: float, label: str = "bootstrap") -> str:
    """Held out: the probability of reaching the target replacement and the median bequest
    of the designed path against 100 % equity and 60/40, and its safe withdrawal rate."""
    col = f"{label}: P(reach target replacement)"
    if income.empty or col not in income.columns:
        return ""
    p = income[col].astype(float)
    se = income[f"{col} SE"].astype(float)
    beq = income[f"{label}: bequest p50 (USD)"].astype(float)
    names = [n for n in (income.index[0], "fixed_100_0", "fixed_60_40") if n in income.index]
    parts = [
        f"{n} {100 * p[n]:.1f} % (SE {100 * se[n]:.1f} pp; median bequest {beq[n]:,.0f} USD)"
        for n in names
    ]
    swr = income[f"{label}: safe withdrawal rate at 5 % failure"].iloc[0]
    return (
        f"Held out, the probability of a replacement ratio of at least {100 * target:.0f} %: "
        f"{'; '.join(parts)}; the designed path's safe withdrawal rate at 5 % failure is "
        f"{100 * swr:.2f} % of the balance at the target date. "
    )


def _separability_sentence(sep: pd.DataFrame) -> str:
    """Whether the frontier's end points and neighbours can be told apart (paired SEs)."""
    if sep.empty:
        return ""
    ends = sep[sep["kind"] == "end points"]
    if ends.empty:
        ends = sep  # a two-point frontier: its neighbours are its end points
    said = [f"{m} {v}" for m, v in zip(ends["metric"], ends["verdict"], strict=True)]
    nb = sep[sep["kind"] == "neighbours"]
    n_pairs = nb["pair"].nunique()
    apart = {m: int((g["verdict"] == "apart").sum()) for m, g in nb.groupby("metric", sort=False)}
    counts = ", ".join(f"{k} {m!s}" for m, k in apart.items())
    return (
        f"On the frontier (in sample, paired over market paths, 1.96 SE), the end points are: "
        f"{'; '.join(said)}; neighbours apart out of {n_pairs}: {counts}. "
    )


def _ce_sentence(scores: pd.DataFrame) -> str:
    """One sentence: the held-out CE at gamma 5 of the designed path against each other
    strategy's, with the paired SE of the difference (real USD a year)."""
    col = "bootstrap: CE gamma=5 (USD/yr)"
    if col not in scores.columns:
        return ""
    diff = scores["bootstrap: CE gamma=5 - designed (USD/yr)"]
    se = scores["bootstrap: paired SE gamma=5 (USD/yr)"]
    parts = [f"{n} {diff[n]:+,.0f} (SE {se[n]:,.0f})" for n in scores.index[1:]]
    return (
        f"Held out, the certainty equivalent of real retirement income at gamma 5 is "
        f"{scores[col].iloc[0]:,.0f} USD a year for the designed path; each other path's "
        f"difference to it, with its paired standard error: {'; '.join(parts)}. "
    )


def _constraint_sentence(table: pd.DataFrame) -> str:
    """One sentence: which committee constraints bind at the designed path, and their cost."""
    if table.empty or not table["binds"].any():
        return "No committee constraint binds at the designed path."
    bind = table[table["binds"].astype(bool)]
    units = str(bind["units"].iloc[0])

    def cost(c: float) -> str:
        if units.startswith("shortfall"):
            return f"{c:.3f} years"
        if units.startswith("CE"):
            return f"{c:,.0f} USD a year"
        return f"{100 * c:.2f} pp"

    parts = [f"{name} ({cost(c)})" for name, c in bind["cost"].items()]
    return (
        f"At the designed path {len(bind)} committee constraint(s) bind; re-solving in sample "
        f"without each one improves the objective, {units}, by: {', '.join(parts)}."
    )


def _summary_head(result: DesignOutcome, designed: float, presets: pd.Series) -> str:
    return (
        f"\n## Fund design for a population ({result.study.name})\n\n"
        f"The glide path designed for the {result.study.population.birth_year} vintage "
        "keeps survival-weighted success of "
        f"{100 * designed:.1f} % on a fresh-seed bootstrap, against "
        f"{100 * presets.min():.1f}-{100 * presets.max():.1f} % for the presets "
        f"({', '.join(presets.index)}). "
    )


@dataclass(frozen=True)
class DesignSection:
    """Fund design as a study section: ``study`` is the design file's tables (a
    :class:`DesignStudy`); ``extra`` strategies are scored beside the presets. The design
    draws its own members and US annual history from ``study.seed``'s tree, so ``run``
    reads nothing else from the context."""

    study: DesignStudy
    extra: Mapping[str, Strategy] | None = None
    folder: str = "population"
    #: Runs the design's independent searches and scorings (:func:`design`).
    map_fn: MapFn | None = None

    def run(self, context: StudyContext | None = None) -> DesignOutcome:
        return design(self.study, extra=self.extra, map_fn=self.map_fn)

    def write(self, result: DesignOutcome, folder: Path) -> None:
        write_design(result, folder)

    def summary(self, result: DesignOutcome) -> str:
        return design_summary(result)


def _gap(
    rows: Mapping[str, DesignPoint],
    out_designer: FundDesigner,
    w3: Mapping[str, np.ndarray],
    map_fn: MapFn | None = None,
) -> pd.DataFrame:
    """In-sample against held-out success on the same sampled-death metric (the held-out
    scoring as ``map_fn`` tasks, default here)."""
    out = {}
    held = (map_fn or serial_map)(_score_weights, [w3[n] for n in rows], out_designer)
    for (n, pt), o in zip(rows.items(), held, strict=True):
        out[n] = {
            "held-out: success (sampled deaths)": o.success,
            "in-sample: success (sampled deaths)": pt.success,
            "gap in - out (pp)": 100.0 * (pt.success - o.success),
        }
    return pd.DataFrame(out).T


def _strategies(
    designed: Strategy, ev: EvaluationSettings, extra: Mapping[str, Strategy] | None
) -> dict[str, Strategy]:
    """The designed path first, then the presets, the benchmarks and ``extra``."""
    out: dict[str, Strategy] = {DESIGNED: designed}
    out.update({p: preset(p) for p in (*ev.presets, *_BENCHMARKS)})
    out.update(extra or {})
    return out


def _beyond_the_us(
    study: DesignStudy,
    draws: _Draws,
    m_out: Members,
    boots: tuple[Scenarios, Scenarios],
    strategies: Mapping[str, Strategy],
    prefs: IncomePreferences | None,
    clock: dict[str, float],
    map_fn: MapFn | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, Evidence]:
    """The country table and cohorts (:func:`_countries`) and the evidence tables
    (:func:`_evidence`, scored by ``map_fn``), timed into ``clock``."""
    t = time.perf_counter()
    countries, country_cohorts = _countries(study, draws, strategies, map_fn)
    clock["countries"] = time.perf_counter() - t
    t = time.perf_counter()
    evidence = _evidence(study, draws, m_out, boots, strategies, prefs, map_fn)
    clock["evidence"] = time.perf_counter() - t
    return countries, country_cohorts, evidence


def _knots_frame(chosen: DesignPoint, designer: FundDesigner, ds: DesignSettings) -> pd.DataFrame:
    """The designed path's weights (decimal) by knot age."""
    knots = pd.DataFrame(chosen.knots, columns=list(ds.assets), index=designer.knot_ages)
    knots.index.name = "age"
    return knots


def _member_summaries(
    outcomes: Mapping[str, PopulationOutcome], members: Members
) -> dict[str, MemberSummary]:
    """Per strategy, the per-member averages of the members who reach retirement (the
    scores condition on it)."""
    alive = members.alive_at_retirement
    return {n: _members_alive(per_member(o, members.n_members), alive) for n, o in outcomes.items()}


def _members_alive(summary: MemberSummary, alive: np.ndarray) -> MemberSummary:
    """The per-member averages of the members who reach retirement (``alive``, (n,))."""
    return dataclasses.replace(
        summary,
        **{
            f.name: getattr(summary, f.name)[alive]
            for f in dataclasses.fields(summary)
            if isinstance(getattr(summary, f.name), np.ndarray)
        },
    )


def _failing_traits(m: Members, fail: np.ndarray) -> pd.DataFrame:
    """Medians and means of the traits of the members (alive at retirement) who fail
    (``fail``, (n,)) against the others; ratios to the salary the need is based on."""
    traits = {
        "members (count)": lambda x: float(x.sum()),
        "college share": lambda x: float(m.college[x].mean()),
        "female share": lambda x: float(m.female[x].mean()),
        "starting salary (USD)": lambda x: float(np.median(m.starting_salary[x])),
        "final salary (USD)": lambda x: float(np.median(m.final_salary[x])),
        "retirement age (mean age)": lambda x: float(m.retirement_age[x].mean()),
        "start age (mean age)": lambda x: float(m.start_age[x].mean()),
        "cash-outs (mean count)": lambda x: float(m.cash_outs[x].mean()),
        "hardship withdrawals (mean count)": lambda x: float(m.hardships[x].mean()),
        "career-break years (mean years)": lambda x: float(m.break_years[x].mean()),
        "Social Security / base salary": lambda x: float(
            np.median(m.social_security[x] / m.base_salary[x])
        ),
        "need / base salary": lambda x: float(np.median(m.need[x] / m.base_salary[x])),
    }
    rows = {}
    for k, f in traits.items():
        rows[k] = {
            "failing": f(fail) if fail.any() else float("nan"),
            "others": f(~fail) if (~fail).any() else float("nan"),
        }
    return pd.DataFrame(rows).T


def _settings_rows(
    study: DesignStudy, designer: FundDesigner, country_cohorts: pd.DataFrame, us_cohorts: int
) -> list[tuple[str, str]]:
    spec, ds, ev = study.population, study.design, study.evaluation
    c = ds.constraints
    return [
        (
            "vintage",
            f"born {spec.birth_year}, target date {spec.target_year} (age {spec.target_age})",
        ),
        ("ages", f"{spec.first_age} to {spec.end_age}; fixed horizon {spec.horizon_age}"),
        (
            "in sample",
            f"{ds.member_paths:,} member-paths (one member each, paired with {ds.market_paths:,} "
            f"block-bootstrap paths of US 1928-2025), seed {study.seed}",
        ),
        ("assets", ", ".join(ds.assets) + f"; fees {100 * ds.expense_ratio:.2f} % a year"),
        ("knots (ages)", ", ".join(f"{a:g}" for a in designer.knot_ages)),
        (
            "committee constraints",
            f"equity at target {c.equity_at_target}, monotone after {c.monotone_after_age}, "
            f"max change {c.max_change_per_year}/yr, landing {c.landing} {c.landing_age or ''}, "
            f"crypto cap {c.crypto_cap}",
        ),
        (
            "designed path",
            f"objective {ds.objective}"
            + (f" ({designer.preferences.label})" if ds.objective == "ce" else "")
            + (
                f" with bPOE <= best + {ds.bpoe_slack:g}"
                if ds.objective in ("income", "ce")
                else ""
            ),
        ),
        (
            "out of sample",
            f"{ev.members:,} fresh members x {ev.bootstrap_paths} fresh-seed bootstrap paths; "
            f"x {us_cohorts} US historical cohorts (wrapped)",
        ),
        (
            "countries",
            ", ".join(
                f"{k} ({r['cohorts']} cohorts, {r['wrapped cohorts']} wrapped)"
                if r["status"] == "scored"
                else f"{k} (skipped)"
                for k, r in country_cohorts.iterrows()
            )
            + f"; {ev.country_members} members each",
        ),
    ]


#: How the notes name the salary the need is based on (``PopulationSpec.need_basis``).
_NEED_BASIS_WORDS = {
    "final": "final salary",
    "average_5y": "the average real salary of the last 5 working years",
    "career_average": "the career-average real salary",
}


def _leakage_note(spec: PopulationSpec) -> str:
    """The leakage model of ``spec.leakage``, in words (:mod:`backtest.leakage`)."""
    if spec.leakage == "none":
        return "no leakage (no cash-outs or hardship withdrawals; the same careers)"
    if spec.leakage == "heavy":
        return (
            f"the heavy leakage model (kept for sensitivity): job changes "
            f"{100 * spec.job_change_rate:.0f} %/yr with cash-out of the whole balance at "
            f"probability {100 * spec.cash_out_probability:.0f} %, hardship withdrawals "
            f"{100 * spec.hardship_rate:.0f} %/yr of {100 * spec.hardship_share:.0f} % of the "
            "balance"
        )
    tenure = ", ".join(f"{m:g} years around age {a:g}" for a, m in BLS_MEDIAN_TENURE)
    return (
        f"calibrated leakage (backtest.leakage): separations at a yearly hazard by age from "
        f"BLS median tenure ({tenure}); at a separation a plan balance up to "
        f"{FORCE_OUT_CASH_USD:,.0f} USD is cashed out, above it the whole plan balance is "
        f"cashed out with a logistic probability falling with log balance and age (intercept "
        f"{spec.cash_out_intercept:g}, balance slope {spec.cash_out_balance_slope:g}, age slope "
        f"{spec.cash_out_age_slope:g}; fitted to EBRI/Vanguard/Munnell-Webb figures, see the "
        f"calibration table), else rolled over; hardship withdrawals "
        f"{100 * spec.hardship_rate:.0f} %/yr of a lognormal amount (median "
        f"{spec.hardship_median:,.0f} USD); the 10 % additional tax applies before 59.5 "
        f"(cash-outs at separation from {RULE_OF_55_AGE:g} are exempt, the rule of 55); "
        "plan loans are not modelled"
    )


def _member_notes(spec: PopulationSpec) -> list[str]:
    """The population's stated assumptions: careers, leakage, need, Social Security."""
    ss = (
        "Social Security as scheduled"
        if spec.ss_payable_ratio >= 1.0
        else f"Social Security payable at {100 * spec.ss_payable_ratio:.0f} % of the scheduled "
        f"benefit from {spec.ss_depletion_year}"
    )
    return [
        "Members: salary profile Cocco-Gomes-Maenhout (2005)"
        + (" with its permanent and transitory income shocks" if spec.income_shocks else "")
        + f", real wage growth {100 * spec.wage_growth_real:.1f} %/yr, auto-enrolment "
        f"{100 * spec.default_rate:.0f} % rising {100 * spec.escalation:.0f} pt/yr to "
        f"{100 * spec.escalation_cap:.0f} %, match {spec.match_rate:g} up to "
        f"{100 * spec.match_cap:.0f} % of salary; {_leakage_note(spec)}; spending need "
        f"{100 * spec.replacement_rate:.0f} % of {_NEED_BASIS_WORDS[spec.need_basis]} net of "
        f"Social Security ({ss}). These are stated assumptions, not estimates; the "
        "sensitivity table re-scores the conclusions under other leakage and Social Security.",
    ]


def _conditioning_note(result: DesignOutcome) -> list[str]:
    """What the held-out scores condition on, and who is left out."""
    if not result.conditioning:
        return []
    return [
        f"Held-out scores condition on {result.conditioning}: "
        f"{100 * result.died_before_retirement:.1f} % of the held-out members die before "
        "retirement (SSA cohort table) and are in no score; replacement ratios and the CE "
        "loss reference use the salary the need is based on (Members.base_salary)."
    ]


def _evidence_notes(result: DesignOutcome) -> list[str]:
    """How the calibration, sensitivity and scenario-set tables were made."""
    if result.evidence is None:
        return []
    sets = "; ".join(f"{label}: {about}" for label, about in result.evidence.sets)
    return [
        "Calibration: the leakage model's figures on the held-out members against the "
        "published ones (backtest.calibration.leakage_calibration), the aggregate leakage "
        "on the designed path's held-out bootstrap returns; 'within' = within the stated "
        "tolerance.",
        "Sensitivity: every strategy re-scored held out with members drawn afresh under "
        "each variant from the held-out members' seed stream, on the same market paths; "
        "the designed path is the one designed under the study's own assumptions, not "
        "re-optimised per variant.",
        f"Scenario sets, each scored on the same held-out members: {sets}.",
    ]


def _notes(result: DesignOutcome) -> list[str]:
    spec, ds = result.study.population, result.study.design
    return [
        "Success (frontier) counts member-paths whose money outlives a death age drawn from the "
        "SSA 2020 Trustees cohort table; out-of-sample success is the exact survival-weighted "
        "probability 1 - S(ruin age).",
        "Shortfall (frontier, placed and out of sample alike) is one definition "
        "(backtest.outcomes.shortfall_years): the survival-weighted need left unpaid, each year "
        f"valued at retirement at the stated real annuity rate of {100 * spec.annuity_rate:.1f} % "
        "a year (never at the portfolio's own returns), in years of need; the frontier reports "
        "its CVaR at the design's level, out of sample its mean and CVaR95.",
        "Income = Social Security + the balance at retirement priced as a real life annuity "
        f"(the member's own SSA annuity factor at {100 * spec.annuity_rate:.1f} % real), real "
        "USD a year; CE = the certain income with the same expected CRRA utility over "
        "member-paths, at gamma 2, 5 and 10. Each strategy's CE minus the designed path's "
        "comes with its paired standard error: delta method on the same member-paths, batch "
        "means over market paths (US cohorts overlap, so theirs is optimistic).",
        "Income figures (held out): replacement-ratio percentiles and the probability of "
        f"reaching the target replacement of {100 * spec.replacement_rate:.0f} % of the base "
        "salary (SE by batch means over market paths); unpaid years given failure over the "
        "member-paths whose drawdown account runs dry (SE treats them as independent, so it "
        "is optimistic); bequest = the drawdown account's real wealth at death (the CE "
        "annuitises the balance instead, so it counts no bequest); safe withdrawal rate from "
        f"the target date to age {spec.horizon_age} over the market paths alone (few paths: "
        "a coarse quantile).",
        "Frontier separability: each pair of neighbouring frontier points and the two end "
        "points are compared on the same in-sample member-paths (paired differences, batch "
        "means over market paths); 'cannot be told apart' when the difference is within 1.96 "
        "standard errors.",
        "Constraint costs: each committee constraint group that binds at the designed path is "
        "dropped in turn and the design's objective re-solved in sample from the designed path "
        "(a local search); the cost is how much better the objective is without it.",
        *_member_notes(spec),
        "Country results use JST R6 (1870-2020), real local currency: a cohort is a lifetime "
        "of consecutive calendar years with stocks, bonds, bills and inflation all present, "
        "wrapped only from a country's last complete year onto its first (counted in the "
        "country table as wrapped), never across a gap (wars, hyperinflations); a country "
        "without one gap-free lifetime is skipped, with the reason. JST's US equity departs "
        "from the S&P 500 after about 2015. US cohorts likewise wrap from 2025 onto 1928.",
        "Bootstrap scenarios resample US history 1928-2025 in blocks; the bond is the 10-year "
        "Treasury, cash the 3-month bill.",
        *_preference_note(spec, ds),
        *_conditioning_note(result),
        *_evidence_notes(result),
    ]


def _preference_note(spec: PopulationSpec, ds: DesignSettings) -> list[str]:
    """A note on loss aversion, when the study sets it (none for plain CRRA)."""
    if not ds.loss_aversion:
        return []
    p = ds.preferences(spec.replacement_rate)
    return [
        f"Every CE values income as {p.label} (backtest.outcomes.IncomePreferences): "
        "utility lost below the reference income (reference replacement x the member's "
        "base salary, the average of the last working years) weighs 1 + loss aversion times; "
        "the CE is the plain-CRRA income with the same expected utility, so a shortfall "
        "below the reference counts as a lower income "
        "(backtest.outcomes.preference_certainty_equivalent)."
    ]


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def small(study: DesignStudy) -> DesignStudy:
    """A few-second version of ``study`` for the population section of ``glidelab run``."""
    q = quick(study)
    return dataclasses.replace(
        q,
        design=dataclasses.replace(
            q.design, member_paths=600, market_paths=100, max_iterations=3, frontier_points=2
        ),
        evaluation=dataclasses.replace(
            q.evaluation,
            members=200,
            bootstrap_paths=20,
            countries=q.evaluation.countries[:3],
            country_members=40,
        ),
    )


def population_study(seed: int) -> DesignStudy:
    """The shipped 2060 vintage at :func:`small` scale, named ``population``, with
    ``seed``: the ``[output] population`` section's study (``DesignSection`` runs it)."""
    return dataclasses.replace(
        small(load_design_study("target_date_2060")), name="population", seed=int(seed)
    )
