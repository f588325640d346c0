"""Fund-design studies: read a ``[population]`` study file, design the vintage's glide path,
score it against the presets in and out of sample, and write the report.

A design study (e.g. ``glidelab/studies/target_date_2060.toml``) has four tables, every key
optional and checked (an unknown key is an error naming the allowed ones):

* top level: ``name``, ``description``, ``seed``;
* ``[population]``: any field of :class:`backtest.population.PopulationSpec`;
* ``[design]``: assets, member-paths and market paths in sample, fees, knots, CVaR level,
  frontier size, the objective that picks the designed path, and ``[design.constraints]``
  (any field of :class:`optimize.fund_design.FundConstraints`);
* ``[evaluation]``: presets, members and paths out of sample, JST countries.

:class:`DesignSection` is fund design as a study section: :func:`design` computes the
numbers (:class:`DesignOutcome`), :func:`write_design` writes them and
:func:`design_summary` says them in a paragraph; :func:`run_design` does both into
``<out>/<name>/``: ``design.html``, ``design.pdf``, CSV tables
(``frontier.csv``, ``placed.csv``, ``scores.csv``, ``countries.csv``, ``failing.csv``,
``designed_path.csv``, ``constraints.csv``, ``income.csv``, ``separability.csv``) and
``settings.json``, atomically.

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
final salary``); there is no bequest term (the balance is annuitised, nothing is left).

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

from backtest.data import load_history
from backtest.data.jst import load_jst
from backtest.errors import StudyError
from backtest.generators import block_bootstrap, historical_cohorts
from backtest.io import atomic_directory, write_text_atomic
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
from glidelab.context import StudyContext, named_rng
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
    be told apart (:func:`frontier_separability`); ``seconds``: wall-clock time per step
    (run-time only)."""

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


def _weights3(strategy: Strategy, spec: PopulationSpec, scen: Scenarios) -> np.ndarray:
    """A strategy's per-year weights laid out over ``ALL_ASSETS`` (zeros elsewhere)."""
    w = glide_weights(strategy, spec, scen)
    out = np.zeros((w.shape[0], len(ALL_ASSETS)))
    for j, a in enumerate(strategy.assets):
        out[:, ALL_ASSETS.index(a)] = w[:, j]
    return out


def _growth(scen: Scenarios, w3: np.ndarray) -> np.ndarray:
    """Real gross return of the mix ``w3`` (T, len(ALL_ASSETS)) per path and year, (P, T)."""
    g = (1.0 + scen.select(ALL_ASSETS).returns) / (1.0 + scen.inflation[:, :, None])
    return np.einsum("pta,ta->pt", g[:, : w3.shape[0]], w3)


def _outcome(
    members: Members, scen: Scenarios, w3: np.ndarray, fee: float, name: str
) -> PopulationOutcome:
    return evaluate_population(
        members, _growth(scen, w3), expense_ratio=fee, pairing="cross", name=name
    )


@dataclass(frozen=True)
class _Draws:
    """The design's random streams, one seed tree (``glidelab.context``): each stream is
    named, none depends on another; ``history`` is US annual history (decimal nominal)."""

    study: DesignStudy
    history: pd.DataFrame

    def rng(self, stream: str) -> np.random.Generator:
        return named_rng(self.study.seed, f"design: {stream}")

    def boot(self, n: int, stream: str) -> Scenarios:
        """``n`` block-bootstrap market paths of the vintage's horizon (annual)."""
        n_t = self.study.population.n_periods
        return block_bootstrap(self.history, ALL_ASSETS, n, n_t, rng=self.rng(stream))

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
    "income": "mean replacement ratio (of final salary)",
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
    designer: FundDesigner, ds: DesignSettings, clock: dict[str, float]
) -> tuple[FrontierResult, DesignPoint]:
    """The frontier and the point ``ds.objective`` picks (the income or CE search from the
    max-success knots under a bPOE floor); times into ``clock``."""
    t1 = time.perf_counter()
    fr = designer.frontier(ds.frontier_points, max_iterations=ds.max_iterations)
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
) -> dict[str, dict[str, float]]:
    """CE columns of the scores table for one set of member-paths: per strategy (the
    first in ``incomes`` is the reference, the designed path) and gamma in
    :data:`backtest.outcomes.RISK_AVERSIONS`, the CE of real retirement income (real USD a
    year, and as a share of the member-paths' mean final salary ``salary``) and its
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
            row[f"{label}: CE gamma={g:g} / mean final salary"] = ce / mean_salary
            row[f"{label}: CE gamma={g:g} - designed (USD/yr)"] = diff
            row[f"{label}: paired SE gamma={g:g} (USD/yr)"] = se
        out[n] = row
    return out


def _in_sample_ce(designer: FundDesigner, w3: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """CE columns on the design's own member-paths (in sample)."""
    d = designer.data
    incomes = {n: retirement_income(d, margins(d, w).wealth_at_retirement) for n, w in w3.items()}
    clusters = d.path if d.path is not None else np.arange(d.n)
    cols = ce_columns(incomes, clusters, d.final_salary, "in sample", designer.preferences)
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
    (Social Security + balance at retirement / annuity factor) / final salary, percentiles
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


def _scores(
    study: DesignStudy,
    members: Members,
    sets: Mapping[str, tuple[Scenarios, Mapping[str, np.ndarray]]],
    prefs: IncomePreferences | None = None,
) -> tuple[pd.DataFrame, dict[str, PopulationOutcome], dict[str, tuple[IncomeRow, ...]]]:
    """Exact survival-weighted scores of each strategy on each named set (one column
    group per set; a set comes with each strategy's weights over ``ALL_ASSETS``), each
    strategy's outcome on the first set, and each set's income figures
    (:func:`income_row`, one per strategy, with the scores' CE at each gamma)."""
    fee, spec = study.design.expense_ratio, study.population
    score_rows: dict[str, dict[str, float]] = {}
    first: dict[str, PopulationOutcome] = {}
    names = next(iter(sets.values()))[1]
    incomes: dict[str, dict[str, np.ndarray]] = {label: {} for label in sets}
    rows: dict[str, list[IncomeRow]] = {label: [] for label in sets}
    paths: dict[str, np.ndarray] = {}
    salary: dict[str, np.ndarray] = {}
    for n in names:
        row: dict[str, float] = {}
        for label, (scen, weights) in sets.items():
            growth = _growth(scen, weights[n])
            o = evaluate_population(
                members, growth, expense_ratio=fee, name=n, bequest_at=BEQUEST_PERCENTILES
            )
            first.setdefault(n, o)
            incomes[label][n] = o.income
            paths[label] = o.path
            salary[label] = members.final_salary[o.member]
            rows[label].append(income_row(o, growth, spec, fee, {}))
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


def _countries(
    study: DesignStudy, draws: _Draws, strategies: Mapping[str, Strategy]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Survival-weighted success by JST country (real local currency, wrapped cohorts of
    the complete years; fewer than 10 years skipped) and pooled; cohorts per country."""
    spec, ev = study.population, study.evaluation
    members = draw_members(spec, ev.country_members, draws.rng("members by country"))
    country: dict[str, dict[str, float]] = {}
    pooled: dict[str, list[np.ndarray]] = {n: [] for n in strategies}
    n_cohorts: dict[str, int] = {}
    for iso in ev.countries:
        h = load_jst(iso)
        if len(h) < 10:
            continue
        sc = historical_cohorts(h, ALL_ASSETS, spec.n_periods, wrap=True)
        n_cohorts[iso] = sc.n_scenarios
        country[iso] = {}
        for n, s in strategies.items():
            o = _outcome(members, sc, _weights3(s, spec, sc), study.design.expense_ratio, n)
            country[iso][n] = o.mean_success
            pooled[n].append(o.success)
    countries = pd.DataFrame(country).T
    if country:
        countries.loc["pooled"] = {n: float(np.concatenate(v).mean()) for n, v in pooled.items()}
    return countries, n_cohorts


def design(study: DesignStudy, *, extra: Mapping[str, Strategy] | None = None) -> DesignOutcome:
    """Design the vintage's glide path and score it with the presets (and ``extra``
    strategies, e.g. the workbench's drawn path, read against the target date); numbers
    only, nothing written (:func:`write_design`)."""
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
    fr, chosen = _search(designer, ds, clock)
    separability = frontier_separability(designer, fr.points)
    t_c = time.perf_counter()
    costs = designer.constraint_costs(
        chosen,
        ds.objective,
        success_floor_bpoe=_bpoe_ceiling(fr, ds),
        max_iterations=min(ds.max_iterations, 8),
    )
    clock["constraint_costs"] = time.perf_counter() - t_c
    designed = glide_path_from_knots(
        DESIGNED, ds.assets, designer.knot_ages, chosen.knots, spec.target_age
    )
    strategies: dict[str, Strategy] = {DESIGNED: designed}
    strategies.update({p: preset(p) for p in (*ev.presets, *_BENCHMARKS)})
    strategies.update(extra or {})
    # ---- presets on the frontier's member-paths (in sample)
    w3 = {n: _weights3(s, spec, sc_in) for n, s in strategies.items()}
    rows = {n: designer.evaluate_weights(w3[n]) for n in strategies}
    # ---- held out: fresh members and fresh-seed bootstrap, same sampled-death metric
    t3 = time.perf_counter()
    m_out = draw_members(spec, ev.members, draws.rng("members held out"))
    sc_out = draws.boot(ev.bootstrap_paths, "market paths held out")
    out_designer = draws.designer(
        m_out, sc_out, "cross", "deaths held out", knot_ages=designer.knot_ages
    )
    gap = _gap(rows, out_designer, w3)
    # ---- out of sample, exact survival weighting: bootstrap and US cohorts
    cohorts = historical_cohorts(draws.history, ALL_ASSETS, spec.n_periods, wrap=True)
    w_us = {n: _weights3(s, spec, cohorts) for n, s in strategies.items()}
    sets = {"bootstrap": (sc_out, w3), "US cohorts": (cohorts, w_us)}
    scores, outcomes, income = _scores(study, m_out, sets, designer.preferences)
    equity = tuple(ds.assets[i] for i in designer.setup.equity)
    labels = {n: glide_label(s, spec.target_age, equity) for n, s in strategies.items()}
    clock["out_of_sample"] = time.perf_counter() - t3
    t4 = time.perf_counter()
    countries, n_cohorts = _countries(study, draws, strategies)
    clock["countries"] = time.perf_counter() - t4
    members = {n: per_member(outcomes[n], m_out.n_members) for n in strategies}
    knots = pd.DataFrame(chosen.knots, columns=list(ds.assets), index=designer.knot_ages)
    knots.index.name = "age"
    clock["total"] = time.perf_counter() - t0
    return DesignOutcome(
        study=study,
        frontier=fr.points,
        designed=designed,
        placed=_frame(rows),
        scores=pd.concat([scores, _in_sample_ce(designer, w3), gap], axis=1),
        countries=countries,
        failing=_failing_traits(m_out, members[DESIGNED].success < 0.5),
        holdout_gap=gap,
        seconds=clock,
        frontier_table=_frame({f"{i + 1}: {p.objective}": p for i, p in enumerate(fr.points)}),
        knots=knots,
        weights=pd.DataFrame(
            {n: w3[n][:, 0] for n in strategies}, index=pd.Index(spec.ages.astype(int), name="age")
        ),
        members=members,
        settings_rows=tuple(_settings_rows(study, designer, n_cohorts, cohorts.n_scenarios)),
        constraints=constraint_table(costs),
        income=income_frame(income, labels),
        income_rows=income,
        glide_labels=tuple(g for g in labels.values() if g is not None),
        separability=separability,
    )


def write_design(result: DesignOutcome, folder: Path) -> None:
    """The design report into ``folder``: design.html, design.pdf, the CSV tables
    (frontier, placed, scores, countries, failing, designed_path, constraints, income,
    separability) and settings.json."""
    from backtest.report.population import (  # lazy: heavy (matplotlib)
        PopulationReport,
        build_population_charts,
        render_population_html,
        render_population_pdf,
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
        notes=_notes(spec, study.design),
        constraints=result.constraints,
        annuity_rate=spec.annuity_rate,
        income=dict(result.income_rows),
        glide_labels=result.glide_labels,
        separability=result.separability,
        target_replacement=spec.replacement_rate,
    )
    folder.mkdir(parents=True, exist_ok=True)
    charts = build_population_charts(report)
    write_text_atomic(folder / "design.html", render_population_html(report, charts))
    render_population_pdf(report, charts, str(folder / "design.pdf"))
    for fname, df in (
        ("frontier.csv", result.frontier_table),
        ("placed.csv", result.placed),
        ("scores.csv", result.scores),
        ("countries.csv", result.countries),
        ("failing.csv", result.failing),
        ("designed_path.csv", result.knots),
        ("constraints.csv", result.constraints),
        ("income.csv", result.income),
        ("separability.csv", result.separability),
    ):
        write_text_atomic(folder / fname, df.to_csv(float_format="%.6g"))
    settings = {"study": _jsonable(dataclasses.asdict(study)), "seconds": result.seconds}
    write_text_atomic(folder / "settings.json", json.dumps(settings, indent=2))


def run_design(
    study: DesignStudy,
    out_root: str | Path | None = "results",
    *,
    progress: bool = False,
    extra: Mapping[str, Strategy] | None = None,
) -> DesignOutcome:
    """:func:`design`, then (unless ``out_root`` is None) :func:`write_design` into
    ``<out_root>/<study name>/`` atomically."""
    section = DesignSection(study, extra, folder=study.name)
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
        + "\n"
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

    def run(self, context: StudyContext | None = None) -> DesignOutcome:
        return design(self.study, extra=self.extra)

    def write(self, result: DesignOutcome, folder: Path) -> None:
        write_design(result, folder)

    def summary(self, result: DesignOutcome) -> str:
        return design_summary(result)


def _gap(
    rows: Mapping[str, DesignPoint], out_designer: FundDesigner, w3: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """In-sample against held-out success on the same sampled-death metric."""
    out = {}
    for n, pt in rows.items():
        o = out_designer.evaluate_weights(w3[n])
        out[n] = {
            "held-out: success (sampled deaths)": o.success,
            "in-sample: success (sampled deaths)": pt.success,
            "gap in - out (pp)": 100.0 * (pt.success - o.success),
        }
    return pd.DataFrame(out).T


def _failing_traits(m: Members, fail: np.ndarray) -> pd.DataFrame:
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
        "Social Security / final salary": lambda x: float(
            np.median(m.social_security[x] / m.final_salary[x])
        ),
        "need / final salary": lambda x: float(np.median(m.need[x] / m.final_salary[x])),
    }
    rows = {}
    for k, f in traits.items():
        rows[k] = {
            "failing": f(fail) if fail.any() else float("nan"),
            "others": f(~fail) if (~fail).any() else float("nan"),
        }
    return pd.DataFrame(rows).T


def _settings_rows(
    study: DesignStudy, designer: FundDesigner, n_cohorts: Mapping[str, int], us_cohorts: int
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
            ", ".join(f"{k} ({v} cohorts)" for k, v in n_cohorts.items())
            + f"; {ev.country_members} members each",
        ),
    ]


def _notes(spec: PopulationSpec, ds: DesignSettings) -> list[str]:
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
        f"reaching the target replacement of {100 * spec.replacement_rate:.0f} % of final "
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
        f"Members: salary profile Cocco-Gomes-Maenhout (2005), real wage growth "
        f"{100 * spec.wage_growth_real:.1f} %/yr, auto-enrolment {100 * spec.default_rate:.0f} % "
        f"rising {100 * spec.escalation:.0f} pt/yr to {100 * spec.escalation_cap:.0f} %, match "
        f"{spec.match_rate:g} up to {100 * spec.match_cap:.0f} % of salary, job changes "
        f"{100 * spec.job_change_rate:.0f} %/yr with cash-out probability "
        f"{100 * spec.cash_out_probability:.0f} %, hardship withdrawals "
        f"{100 * spec.hardship_rate:.0f} %/yr of {100 * spec.hardship_share:.0f} % of the balance "
        f"(10 % additional tax before 59.5), spending need {100 * spec.replacement_rate:.0f} % of "
        "final salary net of Social Security. These are stated assumptions, not estimates.",
        "Country results use JST R6 (1870-2020), real local currency, cohorts of the complete "
        "years wrapped around; years JST lacks (wars, hyperinflations) are skipped, which "
        "flatters those countries. JST's US equity departs from the S&P 500 after about 2015.",
        "Bootstrap scenarios resample US history 1928-2025 in blocks; the bond is the 10-year "
        "Treasury, cash the 3-month bill.",
        *_preference_note(spec, ds),
    ]


def _preference_note(spec: PopulationSpec, ds: DesignSettings) -> list[str]:
    """A note on loss aversion, when the study sets it (none for plain CRRA)."""
    if not ds.loss_aversion:
        return []
    p = ds.preferences(spec.replacement_rate)
    return [
        f"Every CE values income as {p.label} (backtest.outcomes.IncomePreferences): "
        "utility lost below the reference income (reference replacement x the member's "
        "final salary) weighs 1 + loss aversion times; the CE inverts the mean utility at "
        "the member-paths' mean reference income "
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
