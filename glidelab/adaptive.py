"""A study's adaptive glide path: solve it, measure it, write it.

Shared by ``glidelab optimize --adaptive`` and ``glidelab run`` (``[optimize] adaptive =
true``). For one plan of the study:

1. solve the adaptive policy by dynamic programming (``optimize.dynamic``) on the
   empirical joint distribution of the study's annual history, i.i.d., for the study's
   ``[optimize] adaptive_objective`` (default ``"ce"``: expected utility of retirement
   income, CRRA gamma 5 with the ``[optimize.preferences]``, above an income floor) and,
   beside it, for the other objective (``"success"``: the probability that the money
   lasts), so the report shows both policies and what the success objective's gamble
   when underfunded (the go-for-broke region) costs;
2. choose the deterministic competitors on i.i.d. training scenarios drawn from that
   same model (another stream of the seed tree): the best glide path of the SCP optimiser
   (``optimize_glide_path``, one knot every 5 years, no extra constraints) and the best
   constant mix (5 pp grid); every target-date and target-risk preset as they are;
3. simulate all of them with the engine on four fresh scenario sets (i.i.d. from the
   model, stationary block bootstrap, historical cohorts, parametric lognormal) and
   compare success with paired differences and standard errors, plus what the gain
   costs (median terminal wealth, unpaid years given failure with its standard error,
   turnover, equity by age), the certainty-equivalent (CE) income at gamma 2, 5 and 10
   with standard errors, and the share of paths through each policy's go-for-broke
   region;
4. check the DP's promise against the i.i.d. simulation, its grid convergence (half the
   wealth and weight spacing), the success/shortfall and success/wealth frontiers, and,
   where the SSA tables are available, a survival-weighted solve.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.errors import StudyError
from backtest.generators import historical_cohorts
from backtest.io import atomic_directory
from backtest.mortality import survival_curve
from backtest.outcomes import RISK_AVERSIONS, wealth_percentiles
from backtest.plan import Plan
from backtest.report.model import TearsheetBook
from backtest.report.policy_map import (
    GO_FOR_BROKE_CAPTION,
    PolicyMapData,
    WealthBand,
    go_for_broke_region,
    policy_map_figure,
    share_of_paths_in_region,
)
from backtest.report.units import format_value, human_label
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from backtest.types import FloatArray
from glidelab.context import StudyContext
from glidelab.study import Study
from optimize.adaptive_eval import (
    PromiseCheck,
    SetEvaluation,
    StrategyScore,
    block_length_sweep,
    evaluate_set,
    promise_check,
    success_weights,
    unpaid_years,
)
from optimize.baselines import MapFn, constant_mix, constant_mix_grid, preset_strategies
from optimize.dynamic import (
    AdaptiveResult,
    GridConvergence,
    IncomeValuation,
    Objective,
    ReturnModel,
    empirical_model,
    grid_convergence,
    income_ce,
    income_valuation,
    max_success,
    solve_adaptive,
    tradeoff,
    year_flows,
)
from optimize.glidepath import GlidePathConstraints, OptimizationResult, optimize_glide_path
from strategies.base import Strategy

Log = Callable[[str], None]


@dataclass(frozen=True)
class AdaptiveSettings:
    """How big the adaptive run is (defaults: the full measurement)."""

    plan: str | None = None
    n_scenarios: int = 10_000
    train_n: int = 2_000
    seed: int | None = None
    n_states: int = 401
    scp_iterations: int = 30
    convergence: bool = True
    frontier: bool = True
    survival: bool = True
    #: ``"ce"`` or ``"success"``; ``None`` = the study's ``[optimize] adaptive_objective``.
    objective: str | None = None
    #: CE risk aversion; ``None`` = the study's ``[optimize.preferences] gamma``.
    gamma: float | None = None


#: Names of the two adaptive policies in every table (both hold "adaptive (DP)").
POLICY_NAMES = {"ce": "adaptive (DP): CE income", "success": "adaptive (DP): max success"}


@dataclass(frozen=True)
class FrontierPoint:
    """One trade-off weight, simulated on the i.i.d. set."""

    against: str
    weight: float
    promised: float
    success: float
    mean_unpaid_years: float
    median_terminal: float


@dataclass(frozen=True)
class SurvivalCheck:
    """Survival-weighted objective (d): the promise and the simulation, vs the SCP path."""

    description: str
    promised: float
    simulated: float
    scp_simulated: float
    paired_diff_se: float


@dataclass(frozen=True)
class AdaptiveRun:
    """Everything one adaptive run measured."""

    plan_name: str
    plan: Plan
    solved: AdaptiveResult
    evaluations: dict[str, SetEvaluation]
    promise: PromiseCheck
    scp_seconds: float
    scp_success_train: float
    best_constant_share: float
    convergence: GridConvergence | None
    frontier: tuple[FrontierPoint, ...]
    survival: SurvivalCheck | None
    band: tuple[np.ndarray, np.ndarray, np.ndarray]
    block_sweep: dict[float, tuple[float, float]]
    equity: str
    seed: int
    seconds: float
    go_for_broke_share: float = float("nan")
    kind: str = "success"
    other: AdaptiveResult | None = None
    valuation: IncomeValuation | None = None
    age_only_name: str = ""
    regions: tuple[RegionMeasure, ...] = ()

    def region(self, name: str) -> RegionMeasure | None:
        """The go-for-broke measure of strategy ``name`` (None if not measured)."""
        return next((r for r in self.regions if r.name == name), None)


@dataclass(frozen=True)
class RegionMeasure:
    """One strategy and the go-for-broke region (i.i.d. set).

    Attributes
    ----------
    name
        Strategy label.
    nodes
        Nodes of its own region (age x wealth grid); 0 for an age-only path, which holds
        one mix per age whatever the wealth.
    share
        Share of the i.i.d. paths through its own region, decimal.
    equity_in_success_region
        Its mean equity share over the nodes of the success policy's region, decimal
        (NaN for strategies without a state table, or an empty region).
    nodes_retired, share_retired, equity_in_success_region_retired
        The same over the retirement years alone (ages from the retirement age): before
        it every young saver is underfunded and holds the most equity of her age, so the
        whole-plan share says little about a gamble on a saver's plan.
    """

    name: str
    nodes: int
    share: float
    equity_in_success_region: float = float("nan")
    nodes_retired: int = 0
    share_retired: float = 0.0
    equity_in_success_region_retired: float = float("nan")


@dataclass(frozen=True)
class _Setup:
    """One adaptive run's inputs: the plan, its seed tree, the annual history of the
    equity and bond roles (decimal nominal returns, CPI) and the i.i.d. model fitted to it."""

    name: str
    plan: Plan
    seed: int
    context: StudyContext
    assets: list[str]
    history: pd.DataFrame
    model: ReturnModel
    kind: str = "ce"
    ce_objective: Objective = dataclasses.field(default_factory=income_ce)

    @property
    def equity(self) -> str:
        return self.assets[0]

    @property
    def other_kind(self) -> str:
        return "success" if self.kind == "ce" else "ce"

    def objective(self, kind: str) -> Objective:
        """The DP objective of ``kind`` (``"ce"`` or ``"success"``)."""
        return self.ce_objective if kind == "ce" else max_success()


def _setup(study: Study, st: AdaptiveSettings, plan_name: str | None) -> _Setup:
    """The plan ``plan_name`` (else the settings', the optimiser's, the first) and its
    history and model, on the study's seed tree (or ``st.seed``'s), and the objectives."""
    name = plan_name or st.plan or study.optimize.plan or study.plans[0].name
    seed = study.seed if st.seed is None else st.seed
    context = StudyContext(dataclasses.replace(study, seed=seed))
    assets = [study.data.equity, study.data.bonds]
    annual = context.history if context.periods_per_year == 1 else context.history_at("annual")
    history = annual[[*assets, "cpi"]]
    model = empirical_model(history, assets)
    plan = study.plan(name).plan
    kind = st.objective or study.optimize.adaptive_objective
    if kind not in POLICY_NAMES:
        raise StudyError(f"adaptive objective {kind!r}; use one of {sorted(POLICY_NAMES)}")
    ce = _ce_objective(study, plan, st.gamma)
    return _Setup(name, plan, seed, context, assets, history, model, kind, ce)


def _ce_objective(study: Study, plan: Plan, gamma: float | None) -> Objective:
    """The CE objective of ``[optimize.preferences]`` and ``income_floor`` (``gamma``
    overrides the risk aversion); the loss-aversion reference is ``reference_replacement``
    x the member's final salary (real USD a year)."""
    op = study.optimize
    prefs = op.preferences if gamma is None else dataclasses.replace(op.preferences, gamma=gamma)
    reference = None
    if prefs.loss_aversion:
        if plan.contributions is None or prefs.reference_replacement is None:
            raise StudyError(
                "[optimize.preferences] loss_aversion needs reference_replacement and a plan "
                "with a salary (contributions) to turn it into USD; set loss_aversion = 0"
            )
        service = plan.retirement_age - plan.start_age
        salary = float(plan.contributions.salary_at(np.array([max(service - 1.0, 0.0)]))[0])
        reference = prefs.reference_replacement * salary
    return income_ce(prefs, op.income_floor, reference)


def _candidates(
    su: _Setup,
    solved: AdaptiveResult,
    other: AdaptiveResult,
    st: AdaptiveSettings,
    progress: bool,
    log: Log,
    map_fn: MapFn | None = None,
) -> tuple[OptimizationResult, float, dict[str, Strategy]]:
    """The strategies the policy is measured against, trained on ``st.train_n`` i.i.d.
    scenarios: the other objective's adaptive policy, the SCP glide path, the best
    constant mix (its equity share, decimal) and the presets on the two roles; the policy
    first. ``map_fn``: where the SCP's iterations and the constant mixes are scored
    (default: here)."""
    equity, bonds = su.assets
    n_t = su.plan.n_periods(1)
    train = su.model.sample(st.train_n, n_t, su.context.rng(STREAMS["training"]))
    log(f"  SCP glide path on {st.train_n} i.i.d. training scenarios ...")
    scp = optimize_glide_path(
        train,
        su.plan,
        su.assets,
        GlidePathConstraints(equity_assets=(equity,)),
        max_iterations=st.scp_iterations,
        progress=progress,
        name="best deterministic (SCP)",
        map_fn=map_fn,
    )
    grid = constant_mix_grid(train, su.plan, equity, bonds, step=0.05, map_fn=map_fn)
    const = constant_mix(grid.best_share, equity, bonds, su.plan, 1)
    strategies: dict[str, Strategy] = {
        solved.policy.name: solved.policy,
        other.policy.name: other.policy,
        scp.glide_path.name: scp.glide_path,
        f"best constant ({grid.best_share:.0%} {equity})": const,
    }
    for pname, strat in preset_strategies(train, equity, bonds).items():
        if set(strat.assets) <= set(su.assets):
            strategies[pname] = strat
    return scp, grid.best_share, strategies


def _frontier(
    su: _Setup, iid: Scenarios, st: AdaptiveSettings, dp_seed: int, map_fn: MapFn | None = None
) -> tuple[FrontierPoint, ...]:
    """The policy re-solved with a penalty on unpaid years or a bonus on log wealth at
    each weight (the DP on ``map_fn``), simulated on the i.i.d. set."""
    out: list[FrontierPoint] = []
    for against, weights in (
        ("shortfall", (0.0, 0.01, 0.03, 0.1)),
        ("wealth", (0.01, 0.03, 0.1)),
    ):
        for w in weights:
            r = solve_adaptive(
                su.plan,
                su.model,
                tradeoff(w, against),
                n_states=st.n_states,
                rng=dp_seed,
                n_paths=200,
                map_fn=map_fn,
            )
            sim = simulate(iid, su.plan, r.policy)
            out.append(
                FrontierPoint(
                    against=against,
                    weight=w,
                    promised=r.value,
                    success=float(success_weights(sim, None).mean()),
                    mean_unpaid_years=float(unpaid_years(sim).mean()),
                    median_terminal=float(np.median(sim.terminal_wealth)),
                )
            )
    return tuple(out)


def _solve(
    su: _Setup,
    kind: str,
    st: AdaptiveSettings,
    dp_seed: int,
    log: Log,
    map_fn: MapFn | None = None,
) -> AdaptiveResult:
    """The adaptive policy of objective ``kind`` on the setup's model (the DP's chunks of
    wealth nodes on ``map_fn``, default here: the same policy either way)."""
    r = solve_adaptive(
        su.plan,
        su.model,
        su.objective(kind),
        n_states=st.n_states,
        rng=dp_seed,
        name=POLICY_NAMES[kind],
        map_fn=map_fn,
    )
    promise = (
        f"CE income {r.promised_ce:,.0f} USD a year"
        if kind == "ce"
        else format_value(r.value, "pct", 2)
    )
    log(
        f"  DP ({kind}): {r.n_states} wealth nodes x {r.n_candidates} weight vectors x "
        f"{r.n_outcomes} outcomes x {r.n_years} years in {r.seconds:.1f} s; promises {promise}"
    )
    return r


def _regions(
    solved: tuple[AdaptiveResult, ...],
    names: tuple[str, ...],
    wealth: dict[str, FloatArray],
    equity: str,
    age_only: tuple[str, ...],
    retirement_age: float,
) -> tuple[RegionMeasure, ...]:
    """Each adaptive policy's own go-for-broke region (nodes, share of its i.i.d. paths
    through it) and its mean equity over the success policy's region; age-only paths
    have no region (one mix per age)."""
    tables = {n: r.policy for n, r in zip(names, solved, strict=True)}
    success = tables.get(POLICY_NAMES["success"])
    ref = go_for_broke_region(success, (equity,)) if success is not None else None
    out = []
    for name, pol in tables.items():
        region = go_for_broke_region(pol, (equity,))
        late = region & (pol.ages >= retirement_age)[:, None]
        eq = pol.equity_share((equity,))
        ref_late = None if ref is None else ref & (pol.ages >= retirement_age)[:, None]
        out.append(
            RegionMeasure(
                name,
                int(region.sum()),
                share_of_paths_in_region(pol, region, wealth[name]),
                _mean_over(eq, ref),
                int(late.sum()),
                share_of_paths_in_region(pol, late, wealth[name]),
                _mean_over(eq, ref_late),
            )
        )
    out += [RegionMeasure(name, 0, 0.0) for name in age_only]
    return tuple(out)


def _mean_over(values: FloatArray, mask: np.ndarray | None) -> float:
    """Mean of ``values`` over ``mask`` (NaN when there is no mask or it is empty)."""
    return float(values[mask].mean()) if mask is not None and mask.any() else float("nan")


def _checks(
    su: _Setup,
    st: AdaptiveSettings,
    solved: AdaptiveResult,
    iid: Scenarios,
    scp: OptimizationResult,
    dp_seed: int,
    log: Log,
    map_fn: MapFn | None = None,
) -> tuple[
    dict[float, tuple[float, float]],
    GridConvergence | None,
    tuple[FrontierPoint, ...],
    SurvivalCheck | None,
]:
    """The optional measurements the settings ask for: the block-length sweep, the grid
    convergence of the policy's objective, the frontiers and the survival check (their DP
    solves on ``map_fn``)."""
    plan, model = su.plan, su.model
    sweep: dict[float, tuple[float, float]] = {}
    if st.frontier:  # the full measurement: how much serial dependence moves success
        log("  block-length sweep of the bootstrap (1 = the i.i.d. model) ...")
        sweep_seed = _seed_of(su.context, STREAMS["block-length sweep"])
        lengths = (1, 3.3, 10, 20)
        sweep = block_length_sweep(
            su.history, plan, solved.policy, su.assets, lengths, st.n_scenarios, sweep_seed
        )
    conv = None
    if st.convergence:
        log("  grid convergence (half the wealth and weight spacing) ...")
        conv = grid_convergence(
            plan, model, su.objective(su.kind), n_states=st.n_states, rng=dp_seed, map_fn=map_fn
        )
    frontier: tuple[FrontierPoint, ...] = ()
    if st.frontier:
        log("  frontiers (success vs unpaid years, success vs terminal wealth) ...")
        frontier = _frontier(su, iid, st, dp_seed, map_fn)
    survival = (
        _survival_check(plan, model, iid, scp.glide_path, st, dp_seed, map_fn)
        if st.survival
        else None
    )
    return sweep, conv, frontier, survival


def run_adaptive(
    study: Study,
    settings: AdaptiveSettings | None = None,
    *,
    plan_name: str | None = None,
    progress: bool = False,
    log: Log = print,
    map_fn: MapFn | None = None,
) -> AdaptiveRun:
    """Solve and measure the adaptive policy of one of the study's plans (module doc).

    ``map_fn`` (e.g. ``glidelab.backends.ordered_map(backend)``): where the DP solves
    (chunks of wealth nodes, year by year) and the constant-mix scoring run; default
    here. The answer is bit-identical either way."""
    t0 = time.perf_counter()
    st = settings or AdaptiveSettings()
    su = _setup(study, st, plan_name)
    plan, model = su.plan, su.model
    n_t = plan.n_periods(1)
    dp_seed = _seed_of(su.context, STREAMS["dp"])
    log(f"adaptive [{su.name}]: solving on {model.description}")
    solved = _solve(su, su.kind, st, dp_seed, log, map_fn)
    other = _solve(su, su.other_kind, st, dp_seed, log, map_fn)
    valuation = income_valuation(year_flows(plan), su.ce_objective)
    scp, best_share, strategies = _candidates(su, solved, other, st, progress, log, map_fn)
    sets = _scenario_sets(su.context, su.history, model, su.assets, n_t, st.n_scenarios)
    evaluations = {}
    for label, sc in sets.items():
        log(f"  simulating {len(strategies)} strategies on {label} ({sc.n_scenarios}) ...")
        evaluations[label] = evaluate_set(
            label, sc, plan, strategies, equity_assets=(su.equity,), valuation=valuation
        )
    runs = {r.policy.name: simulate(sets["iid"], plan, r.policy) for r in (solved, other)}
    p10, p50, p90 = wealth_percentiles(runs[solved.policy.name].wealth[:, :-1], (10, 50, 90))
    regions = _regions(
        (solved, other),
        (solved.policy.name, other.policy.name),
        {k: v.wealth for k, v in runs.items()},
        su.equity,
        (scp.glide_path.name,),
        plan.retirement_age,
    )
    sweep, conv, frontier, survival = _checks(
        su, st, solved, sets["iid"], scp, dp_seed, log, map_fn
    )
    own = next(r for r in regions if r.name == solved.policy.name)
    return AdaptiveRun(
        plan_name=su.name,
        plan=plan,
        solved=solved,
        evaluations=evaluations,
        promise=promise_check(
            solved.promised, evaluations["iid"], solved.valuation if su.kind == "ce" else None
        ),
        scp_seconds=scp.seconds,
        scp_success_train=scp.success_in_sample,
        best_constant_share=best_share,
        convergence=conv,
        frontier=frontier,
        survival=survival,
        band=(p10, p50, p90),
        block_sweep=sweep,
        equity=su.equity,
        seed=su.seed,
        seconds=time.perf_counter() - t0,
        go_for_broke_share=own.share,
        kind=su.kind,
        other=other,
        valuation=valuation,
        age_only_name=scp.glide_path.name,
        regions=regions,
    )


#: The adaptive section's streams in the study's seed tree (:mod:`glidelab.context`).
STREAMS = {
    "dp": "adaptive: DP",
    "training": "adaptive: training",
    "iid": "adaptive: iid",
    "block bootstrap": "adaptive: block bootstrap",
    "parametric": "adaptive: parametric",
    "block-length sweep": "adaptive: block-length sweep",
}


def _seed_of(context: StudyContext, stream: str) -> int:
    """An integer seed from stream ``stream`` of the study's seed tree, for the solvers
    that reuse one seed on purpose (the same draws in every call: common random numbers)."""
    return int(context.rng(stream).integers(2**32))


def _scenario_sets(
    context: StudyContext,
    history: pd.DataFrame,
    model: ReturnModel,
    assets: list[str],
    n_years: int,
    n_scenarios: int,
) -> dict[str, Scenarios]:
    """The four held-out sets: fresh i.i.d. draws from ``model``, block bootstrap and
    parametric from the study's seed tree (annual), and every historical cohort."""
    out = {
        "iid": model.select(assets).sample(n_scenarios, n_years, context.rng(STREAMS["iid"])),
        "block bootstrap": context.scenarios(
            STREAMS["block bootstrap"], n_years, n_scenarios, assets=assets, frequency="annual"
        ),
        "parametric": context.scenarios(
            STREAMS["parametric"],
            n_years,
            n_scenarios,
            "parametric",
            assets=assets,
            frequency="annual",
        ),
    }
    if len(history) >= n_years:
        out["historical cohorts"] = historical_cohorts(history, assets, n_years)
    return out


def _survival_check(plan, model, iid, scp_path, st, seed, map_fn=None) -> SurvivalCheck | None:
    n = plan.n_periods(1)
    birth = 2026 - int(plan.start_age)
    # Alive at retirement (backtest.outcomes.survival_weighted_success's convention): one-year
    # survival 1 before the retirement age, the SSA cohort's after it.
    t_ret = plan.retirement_period(1)
    s = survival_curve("male", birth, int(plan.retirement_age), n - t_ret)
    q = np.concatenate([np.ones(t_ret), s[1:] / s[:-1]])
    r = solve_adaptive(
        plan, model, survival=q, n_states=st.n_states, rng=seed, n_paths=200, map_fn=map_fn
    )
    a = success_weights(simulate(iid, plan, r.policy), q)
    b = success_weights(simulate(iid, plan, scp_path), q)
    d = a - b
    return SurvivalCheck(
        description=(
            f"SSA 2020 Trustees cohort table, male born {birth}, alive at retirement "
            f"({plan.retirement_age:g})"
        ),
        promised=r.value,
        simulated=float(a.mean()),
        scp_simulated=float(b.mean()),
        paired_diff_se=float(d.std(ddof=1) / np.sqrt(d.size)),
    )


# --------------------------------------------------------------------------- output


#: Library internals in a scenario description, said in words.
_IN_WORDS = (
    (
        re.compile(r"mean over columns of arch\.bootstrap\.optimal_block_length"),
        "automatic block length of Politis and White, mean over the assets",
    ),
    (re.compile(r"\[((?:'[A-Za-z0-9_]+',?\s*)+)\]"), lambda m: m.group(1).replace("'", "")),
    (
        re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\bcpi\b"),
        lambda m: human_label(m.group(0)),
    ),
)


def _words(text: str) -> str:
    """``text`` for a reader: registry names as their labels (``us_stocks`` -> "US
    stocks"), a list repr as a plain list, a library's function as what it does."""
    for pattern, repl in _IN_WORDS:
        text = pattern.sub(repl, text)
    return text


def _promised(run: AdaptiveRun, x: float) -> str:
    """A promise in its unit: a probability (percent) or a CE income (USD a year)."""
    return (
        format_value(x, "pct", 2)
        if run.promise.unit == "probability"
        else f"{format_value(x, 'usd')} a year"
    )


def _md_promise(run: AdaptiveRun) -> list[str]:
    """Heading, the DP's grid, and its promise against the engine on every set."""
    s = run.solved
    pr = run.promise
    what = (
        "success probability promised from the start"
        if pr.unit == "probability"
        else "certainty-equivalent retirement income promised from the start, real USD a year"
    )
    gap = (
        f"gap {pr.gap_pp:+.2f} pp"
        if pr.unit == "probability"
        else f"gap {pr.simulated - pr.promised:+,.0f} USD a year"
    )
    lines = [
        f"# Adaptive glide path (dynamic programming): plan {run.plan_name!r}",
        "",
        f"Solved on the {_words(s.model_description)}, drawn i.i.d.; objective: "
        f"{s.objective.name}. "
        f"Grid: {s.n_states} wealth nodes a year x {s.n_candidates} weight vectors (step "
        f"{s.weight_step:g}) x {s.n_outcomes} return outcomes x {s.n_years} years; "
        f"{s.seconds:.1f} s. Trading costs are not in the Bellman recursion; the simulations "
        "below charge the plan's costs on the policy's real turnover.",
        "",
        "## The promise against the engine",
        "",
        f"- DP value ({what}): {_promised(run, pr.promised)}",
        f"- engine simulation on {pr.n_scenarios} fresh i.i.d. scenarios: "
        f"{_promised(run, pr.simulated)} (s.e. {_promised(run, pr.se)}), {gap} -> "
        f"{'within' if pr.within_two_se else 'OUTSIDE'} 2 standard errors",
    ]
    for label, ev in run.evaluations.items():
        if label == "iid":
            continue
        r = ev.rows[0]
        if pr.unit == "probability":
            gap_pp = 100 * (r.success - pr.promised)
            held = f"{format_value(r.success, 'pct', 2)} (gap to the promise {gap_pp:+.2f} pp)"
        else:
            ce, _ = r.ce_at(run.solved.objective.preferences.gamma)  # type: ignore[union-attr]
            held = (
                f"{format_value(ce, 'usd')} a year "
                f"(gap to the promise {ce - pr.promised:+,.0f} USD)"
            )
        lines.append(f"- {label} ({ev.n_scenarios} scenarios): {held}")
    lines += [
        "",
        "The held-out gaps come from what the i.i.d. model leaves out: the block bootstrap "
        "and the cohorts keep the history's serial dependence, and the parametric "
        "generator replaces the empirical years by a fitted normal distribution of log "
        "returns (and inflation); the cohorts are few and overlap, so their standard error "
        "is large.",
        "",
    ]
    return lines


def _md_checks(run: AdaptiveRun) -> list[str]:
    """The block-length sweep and the grid convergence, when measured."""
    lines: list[str] = []
    if run.block_sweep:
        lines += [
            "Block-bootstrap success of the policy by mean block length (same seed; length 1 "
            "resamples single years, the model the DP solves): "
            + ", ".join(
                f"{k:g} years {format_value(v[0], 'pct', 2)} (s.e. {format_value(v[1], 'pct', 2)})"
                for k, v in run.block_sweep.items()
            )
            + ". Longer blocks keep more of the history's serial dependence.",
            "",
        ]
    if run.convergence is not None:
        c = run.convergence
        if c.unit == "probability":
            moved, ok = f"{c.moved_pp:.3f} pp (bar: < 0.2 pp)", c.moved_pp < 0.2
        else:
            moved, ok = f"{c.moved_pct:.3f} % (bar: < 0.2 %)", c.moved_pct < 0.2
        lines += [
            "## Grid convergence",
            "",
            f"- {c.coarse_grid[0]} nodes, weight step {c.coarse_grid[1]:g}: "
            f"{_promised(run, c.coarse)} ({c.coarse_seconds:.1f} s)",
            f"- {c.fine_grid[0]} nodes, weight step {c.fine_grid[1]:g}: "
            f"{_promised(run, c.fine)} ({c.fine_seconds:.1f} s)",
            f"- moved {moved} -> {'PASS' if ok else 'FAIL'}",
            "",
        ]
    return lines


def _md_sets(run: AdaptiveRun) -> list[str]:
    """One table per scenario set: each strategy against the policy, paired."""
    lines: list[str] = []
    g = run.valuation.preferences.gamma if run.valuation is not None else 5.0
    for label, ev in run.evaluations.items():
        lines += [
            f"## {label}: {ev.n_scenarios} scenarios",
            "",
            _words(ev.description),
            "",
            "| strategy | success | s.e. | adaptive minus this (paired) | s.e. | unpaid years "
            f"given failure | s.e. | median terminal wealth | turnover a year | CE gamma {g:g} "
            "(USD a year) | s.e. |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in ev.rows:
            ce, ce_se = r.ce_at(g)
            lines.append(
                f"| {r.name} | {format_value(r.success, 'pct', 2)} | "
                f"{format_value(r.success_se, 'pct', 2)} | "
                f"{100 * r.diff:+.2f} pp | {100 * r.diff_se:.2f} pp | "
                f"{_years(r.unpaid_years_when_failed)} | {_years(r.unpaid_years_when_failed_se)} | "
                f"{r.median_terminal:,.0f} | {format_value(r.turnover, 'pct', 2)} | "
                f"{format_value(ce, 'count')} | {format_value(ce_se, 'count')} |"
            )
        lines += [
            "",
            "Unpaid years given failure: the mean years of spending need left unpaid to the "
            "end age over the scenarios whose money runs out (`-` where none do), with its "
            "standard error; success says how often a strategy fails, this how deeply.",
            "",
        ]
    return lines


def _years(x: float) -> str:
    return "-" if np.isnan(x) else f"{x:.2f}"


def _ce_cells(row: StrategyScore) -> str:
    """``CE | s.e.`` at each of the report's risk aversions, USD a year."""
    cells = []
    for g in RISK_AVERSIONS:
        ce, se = row.ce_at(g)
        cells.append(f"{format_value(ce, 'count')} | {format_value(se, 'count')}")
    return " | ".join(cells)


def _side_by_side_rows(run: AdaptiveRun) -> list[StrategyScore]:
    """The CE policy, the success policy and the best age-only path (i.i.d. set)."""
    ev = run.evaluations["iid"]
    names = [POLICY_NAMES["ce"], POLICY_NAMES["success"], run.age_only_name]
    return [ev.row(n) for n in names if any(r.name == n for r in ev.rows)]


def _md_side_by_side(run: AdaptiveRun) -> list[str]:
    """The two adaptive policies and the best age-only path, one row each (i.i.d.)."""
    ev = run.evaluations["iid"]
    val = run.valuation
    floor = f"{val.floor:,.0f}" if val is not None else "-"
    heads = " | ".join(f"CE gamma {g:g} | s.e." for g in RISK_AVERSIONS)
    lines = [
        f"## CE policy, success policy and the best age-only path ({ev.n_scenarios} i.i.d. "
        "scenarios)",
        "",
        f"| strategy | success | s.e. | unpaid years given failure | s.e. | {heads} | paths "
        "through its go-for-broke region | in retirement |",
        "|---|" + "---:|" * (6 + 2 * len(RISK_AVERSIONS)),
    ]
    for r in _side_by_side_rows(run):
        reg = run.region(r.name)
        share = "-" if reg is None else _share(reg.share)
        late = "-" if reg is None else _share(reg.share_retired)
        lines.append(
            f"| {r.name} | {format_value(r.success, 'pct', 2)} | "
            f"{format_value(r.success_se, 'pct', 2)} | "
            f"{_years(r.unpaid_years_when_failed)} | {_years(r.unpaid_years_when_failed_se)} | "
            f"{_ce_cells(r)} | {share} | {late} |"
        )
    lines += [
        "",
        "CE: the certainty-equivalent real retirement income, USD a year: the constant "
        "income with the same expected CRRA utility as the paths, each retirement year "
        f"paying the income floor ({floor} USD a year, kept when the account pays nothing) "
        "plus the withdrawal the account pays"
        + (f" ({val.preferences.label})" if val is not None else "")
        + ". Its standard error is the delta method's. An age-only path holds one mix per "
        "age whatever the wealth, so it has no go-for-broke region.",
        "",
    ]
    return lines


def _md_go_for_broke(run: AdaptiveRun) -> list[str]:
    """The go-for-broke region of both policies, and who can hold such a policy."""
    ev = run.evaluations["iid"]
    ce = run.region(POLICY_NAMES["ce"])
    success = run.region(POLICY_NAMES["success"])
    lines = [
        "## Go-for-broke, and who can hold this policy",
        "",
        GO_FOR_BROKE_CAPTION + " A success-probability objective does this by design: "
        "below the goal it prefers any chance of reaching it to a smaller shortfall.",
        "",
        f"- share of the {ev.n_scenarios} i.i.d. paths that pass through the region: "
        + ("-" if np.isnan(run.go_for_broke_share) else f"{100 * run.go_for_broke_share:.1f} %")
        + f" ({run.solved.policy.name})",
    ]
    for reg in (success, ce):
        if reg is None:
            continue
        r = ev.row(reg.name)
        lines.append(
            f"- {reg.name}: {reg.nodes} nodes in its region, {_share(reg.share)} of its paths "
            f"through it; mean equity over the success policy's region "
            f"{_share(reg.equity_in_success_region)}; in retirement alone "
            f"{reg.nodes_retired} nodes, {_share(reg.share_retired)} of its paths, mean "
            f"equity over the success policy's region "
            f"{_share(reg.equity_in_success_region_retired)}; "
            f"success {format_value(r.success, 'pct', 2)}, "
            f"unpaid years given failure {_years(r.unpaid_years_when_failed)} "
            f"(s.e. {_years(r.unpaid_years_when_failed_se)})"
        )
    age = ev.row(run.age_only_name)
    lines.append(
        f"- {_words(age.name)}, the best age-only path: "
        f"success {format_value(age.success, 'pct', 2)}, "
        f"unpaid years given failure {_years(age.unpaid_years_when_failed)} "
        f"(s.e. {_years(age.unpaid_years_when_failed_se)})",
    )
    if ce is not None and success is not None:
        lines += ["", _ce_verdict(ce, success)]
    lines += [
        "",
        "The adaptive policies set each member's mix from her own wealth, so they are "
        "policies for an individual (managed) account, not for a pooled target-date fund. "
        "A pooled fund holds one mix for every member of a vintage whatever her wealth: "
        f"its policy is an age-only path, and the best one, {_words(age.name)!r}, is shown beside "
        "the adaptive policies in every table of this report.",
        "",
    ]
    return lines


def _share(x: float) -> str:
    return "-" if np.isnan(x) else f"{100 * x:.1f} %"


def _ce_verdict(ce: RegionMeasure, success: RegionMeasure) -> str:
    """Whether the CE policy still raises risk as wealth falls, in words, measured."""
    if ce.nodes == 0:
        return (
            "The CE policy has no go-for-broke region: nowhere underfunded does it hold "
            "more equity the poorer the member is."
        )
    smaller = "smaller than" if ce.nodes < success.nodes else "not smaller than"
    return (
        f"The CE policy still raises equity as wealth falls while underfunded: its region "
        f"has {ce.nodes} nodes ({smaller} the success policy's {success.nodes}) and "
        f"{_share(ce.share)} of its paths pass through it (success policy: "
        f"{_share(success.share)}); in retirement, {ce.nodes_retired} nodes against "
        f"{success.nodes_retired} and {_share(ce.share_retired)} of its paths against "
        f"{_share(success.share_retired)}. Over the success policy's region it holds "
        f"{_share(ce.equity_in_success_region)} equity on average against "
        f"{_share(success.equity_in_success_region)} (in retirement "
        f"{_share(ce.equity_in_success_region_retired)} against "
        f"{_share(success.equity_in_success_region_retired)}). Why it still does (a reading, not a "
        "measurement): the income floor is a safe income the member already has, so "
        "when the account is small beside it, risk in the account moves her income "
        "little; unlike the success objective, the CE objective weighs how deep a "
        "failure is (unpaid years given failure above)."
    )


def _md_equity(run: AdaptiveRun) -> list[str]:
    """The median equity share by age of the first three strategies (i.i.d. set)."""
    ev = run.evaluations["iid"]
    ages = ev.ages
    pick = [i for i, a in enumerate(ages) if (a - ages[0]) % 10 == 0 or i == len(ages) - 1]
    lines = [
        "## Equity share held at the median, by age (i.i.d. set)",
        "",
        "| strategy | " + " | ".join(f"{ages[i]:g}" for i in pick) + " |",
        "|---|" + "---:|" * len(pick),
    ]
    for r in ev.rows[:4]:
        lines.append(
            f"| {r.name} | " + " | ".join(f"{r.equity_median_path[i]:.2f}" for i in pick) + " |"
        )
    lines.append("")
    return lines


def _md_tradeoffs(run: AdaptiveRun) -> list[str]:
    """The frontier and the survival-weighted check, when measured."""
    lines: list[str] = []
    if run.frontier:
        lines += [
            "## Frontier (i.i.d. set)",
            "",
            "| trade-off against | weight | promised | success | mean unpaid years | median terminal wealth |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for f in run.frontier:
            lines.append(
                f"| {f.against} | {f.weight:g} | {f.promised:.4f} | "
                f"{format_value(f.success, 'pct', 2)} | "
                f"{f.mean_unpaid_years:.3f} | {f.median_terminal:,.0f} |"
            )
        lines += [
            "",
            "`promised` is the DP value of each objective (success minus the penalty, or "
            "plus the log-wealth bonus), not a probability when the weight is not 0.",
            "",
        ]
    if run.survival is not None:
        sv = run.survival
        lines += [
            "## Survival-weighted (money lasts while the member lives)",
            "",
            f"- {_words(sv.description)}",
            f"- promised {format_value(sv.promised, 'pct', 2)}, "
            f"simulated (i.i.d.) {format_value(sv.simulated, 'pct', 2)}; "
            f"SCP path, same weighting: {format_value(sv.scp_simulated, 'pct', 2)}; "
            "paired difference "
            f"{100 * (sv.simulated - sv.scp_simulated):+.2f} pp (s.e. {100 * sv.paired_diff_se:.2f} pp)",
            "",
        ]
    return lines


def adaptive_markdown(run: AdaptiveRun) -> str:
    """The run as a Markdown report (percent, USD)."""
    lines = [
        *_md_promise(run),
        *_md_checks(run),
        *_md_side_by_side(run),
        *_md_sets(run),
        *_md_go_for_broke(run),
        *_md_equity(run),
        *_md_tradeoffs(run),
        f"Seed {run.seed}; run time {run.seconds:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def policy_frame(result: AdaptiveResult) -> pd.DataFrame:
    """The table as rows: age, node, real wealth, funded ratio, weights, promised value."""
    p = result.policy
    n_y, n_s = p.wealth_grid.shape
    ages = np.repeat(p.ages, n_s)
    frame = pd.DataFrame(
        {
            "age": ages,
            "node": np.tile(np.arange(n_s), n_y),
            "wealth_real_usd": p.wealth_grid.ravel(),
        }
    )
    if np.all(p.spending_pv > 0):
        frame["funded_ratio"] = (
            (p.wealth_grid + p.contribution_pv[:, None]) / p.spending_pv[:, None]
        ).ravel()
    for i, a in enumerate(p.assets):
        frame[a] = p.weights[:, :, i].ravel()
    frame["promised_value"] = p.value.ravel()
    return frame


def write_adaptive(run: AdaptiveRun, folder: Path) -> None:
    """Write adaptive.md, comparison.csv, policy.csv, frontier.csv and the policy map
    (PNG, PDF, and a small HTML page) into ``folder``, which the caller makes atomic."""
    folder.mkdir(parents=True, exist_ok=True)
    text = adaptive_markdown(run)
    (folder / "adaptive.md").write_text(text, encoding="utf-8")
    rows = [
        {"set": label, **_score_columns(r)}
        for label, ev in run.evaluations.items()
        for r in ev.rows
    ]
    pd.DataFrame(rows).to_csv(folder / "comparison.csv", index=False, float_format="%.6f")
    _policies_frame(run).to_csv(folder / "policies.csv", index=False, float_format="%.6f")
    policy_frame(run.solved).to_csv(folder / "policy.csv", index=False, float_format="%.6g")
    if run.other is not None:
        policy_frame(run.other).to_csv(
            folder / f"policy_{_other_kind(run)}.csv", index=False, float_format="%.6g"
        )
    if run.frontier:
        pd.DataFrame([f.__dict__ for f in run.frontier]).to_csv(
            folder / "frontier.csv", index=False, float_format="%.6f"
        )
    band = WealthBand(*run.band, label="i.i.d. simulation")
    pngs = {}
    tables = [("", run.solved)] + ([(_other_kind(run) + "_", run.other)] if run.other else [])
    for prefix, result in tables:
        for axis, y_max in (("wealth", None), ("funded_ratio", 3.0)):
            if axis == "funded_ratio" and not np.all(result.policy.spending_pv > 0):
                continue
            fig = policy_map_figure(result.policy, (run.equity,), band, axis=axis, y_max=y_max)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
            key = f"{prefix}{axis}"
            pngs[key] = buf.getvalue()
            (folder / f"policy_map_{key}.png").write_bytes(pngs[key])
            fig.savefig(folder / f"policy_map_{key}.pdf", format="pdf", bbox_inches="tight")
    (folder / "adaptive.html").write_text(_html(run, text, pngs), encoding="utf-8")


def _other_kind(run: AdaptiveRun) -> str:
    return "success" if run.kind == "ce" else "ce"


def _score_columns(r: StrategyScore) -> dict[str, object]:
    """A row of comparison.csv: the score's numbers, the CE at each gamma flattened."""
    out: dict[str, object] = {
        k: v for k, v in r.__dict__.items() if k not in ("equity_median_path", "ce")
    }
    for g, ce, se in r.ce:
        out[f"ce_gamma{g:g}"] = ce
        out[f"ce_gamma{g:g}_se"] = se
    return out


def _policies_frame(run: AdaptiveRun) -> pd.DataFrame:
    """policies.csv: the CE policy, the success policy and the best age-only path on the
    i.i.d. set, with the go-for-broke measures."""
    rows = []
    for r in _side_by_side_rows(run):
        reg = run.region(r.name)
        row = _score_columns(r)
        row.pop("diff", None)
        row.pop("diff_se", None)
        row["go_for_broke_nodes"] = reg.nodes if reg is not None else np.nan
        row["go_for_broke_share"] = reg.share if reg is not None else np.nan
        for key in (
            "equity_in_success_region",
            "nodes_retired",
            "share_retired",
            "equity_in_success_region_retired",
        ):
            row[f"go_for_broke_{key}"] = getattr(reg, key) if reg is not None else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _map_caption(run: AdaptiveRun, key: str) -> str:
    """``policy map: <policy>, <axis>`` for the key ``[<other kind>_]<axis>``."""
    other = _other_kind(run) + "_"
    result = run.other if key.startswith(other) and run.other is not None else run.solved
    axis = key.removeprefix(other).replace("_", " ")
    return f"policy map: {result.policy.name}, by {axis}"


def _md_inline(text: str) -> str:
    """One line of the report's Markdown as HTML: escaped, `code` as <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _md_cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _md_table(lines: list[str]) -> str:
    """A Markdown table (header, alignment row, rows) as a report table: the first
    column the row labels, right-aligned columns (``---:``) as numbers."""
    head, rows = _md_cells(lines[0]), [_md_cells(x) for x in lines[2:]]
    num = [c.endswith(":") for c in _md_cells(lines[1])] if len(lines) > 1 else []
    kind = ["num" if j < len(num) and num[j] else "label" for j in range(len(head))]
    thead = "".join(
        f'<th class="{k}" scope="col">{_md_inline(h)}</th>' for h, k in zip(head, kind, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<th class="label" scope="row">{_md_inline(_words(human_label(c)))}</th>'
            if j == 0
            else f'<td class="{kind[j] if j < len(kind) else "num"}">{_md_inline(c)}</td>'
            for j, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return (
        f'<div class="table-wrap"><table class="metrics"><thead><tr>{thead}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def markdown_html(markdown: str) -> str:
    """The report's Markdown (:func:`adaptive_markdown`: ``#``/``##`` headings, ``-``
    lists, ``|`` tables, paragraphs, `code`) as HTML in the report style; the ``#``
    title is left to the page's header."""
    out: list[str] = []
    block: list[str] = []
    kind = ""

    def flush() -> None:
        nonlocal block, kind
        if kind == "table":
            out.append(_md_table(block))
        elif kind == "list":
            out.append("<ul>" + "".join(f"<li>{_md_inline(x)}</li>" for x in block) + "</ul>")
        elif kind == "p":
            out.append(f"<p>{_md_inline(' '.join(block))}</p>")
        block, kind = [], ""

    for line in markdown.splitlines():
        this = "table" if line.startswith("|") else "list" if line.startswith("- ") else "p"
        if not line.strip() or line.startswith("#") or this != kind:
            flush()
        if line.startswith("## "):
            out.append(f"<h2>{_md_inline(line[3:])}</h2>")
        elif line.startswith("# ") or not line.strip():
            continue
        else:
            kind = this
            block.append(line[2:] if this == "list" else line)
    flush()
    return "\n".join(out)


def _html(run: AdaptiveRun, markdown: str, pngs: dict[str, bytes]) -> str:
    """adaptive.html of ``run`` (:func:`adaptive_page_html`)."""
    maps = [(_map_caption(run, key), png) for key, png in pngs.items()]
    return adaptive_page_html(run.plan_name, markdown, maps)


def adaptive_page_html(plan: str, markdown: str, maps: list[tuple[str, bytes]]) -> str:
    """The adaptive report as one self-contained page in the tear sheet's style: the
    report rendered from its Markdown (:func:`markdown_html`) first, then the policy
    maps, each (caption, PNG bytes)."""
    from backtest.report.html import page_head  # lazy: heavy (the report package)

    imgs = "".join(
        f'<figure><img alt="{html.escape(cap)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"/><figcaption>{html.escape(cap)}</figcaption></figure>'
        for cap, png in maps
    )
    head = page_head(
        f"Adaptive glide path: {plan}",
        "dynamic programming on the history's years drawn i.i.d., against the best "
        "age-only path and the presets",
    )
    parts = [*head, markdown_html(markdown)]
    if maps:
        parts += ["<h2>Policy maps</h2>", imgs]
    parts.append("<footer>glidelab adaptive glide path</footer></body></html>")
    return "\n".join(parts)


def write_adaptive_atomic(run: AdaptiveRun, out_dir: Path) -> Path:
    """:func:`write_adaptive` into ``out_dir``, swapped into place only when complete."""
    with atomic_directory(out_dir) as tmp:
        write_adaptive(run, tmp)
    return Path(out_dir)


# --------------------------------------------------------------------------- study runs


def study_adaptive_runs(
    study: Study, *, progress: bool = False, log=lambda _m: None, map_fn: MapFn | None = None
) -> dict[str, AdaptiveRun]:
    """The adaptive runs ``[optimize] adaptive = true`` asks for (``glidelab run``): every
    plan in ``adaptive_plans`` (default every plan), sized by the ``[optimize]`` table
    (training and evaluation scenarios, SCP iterations); the grid-convergence check and
    the frontiers are left to ``glidelab optimize --adaptive``. ``map_fn``: where the DP
    runs (:func:`run_adaptive`)."""
    op = study.optimize
    if not (op.enabled and op.adaptive):  # part of the [optimize] section: off with it
        return {}
    settings = AdaptiveSettings(
        n_scenarios=op.holdout_n,
        train_n=op.n_scenarios,
        scp_iterations=op.max_iterations,
        convergence=False,
        frontier=False,
        survival=False,
    )
    names = op.adaptive_plans or tuple(p.name for p in study.plans)
    return {
        name: run_adaptive(
            study, settings, plan_name=name, progress=progress, log=log, map_fn=map_fn
        )
        for name in names
    }


def adaptive_summary(runs: dict[str, AdaptiveRun]) -> str:
    """Lines for a study's summary: per plan, the promise, the CE and success policies
    beside the best age-only path (i.i.d.), and who can hold an adaptive policy."""
    lines = []
    for name, run in runs.items():
        ev = run.evaluations["iid"]
        me = ev.rows[0]
        age = ev.row(run.age_only_name)
        g = run.valuation.preferences.gamma if run.valuation is not None else 5.0
        parts = []
        for r in _side_by_side_rows(run):
            ce, se = r.ce_at(g)
            reg = run.region(r.name)
            parts.append(
                f"{r.name}: success {100 * r.success:.1f} %, unpaid years given failure "
                f"{_years(r.unpaid_years_when_failed)}, CE income at gamma {g:g} "
                f"{format_value(ce, 'usd')} a year (s.e. {format_value(se, 'count')}), "
                f"{_share(reg.share_retired) if reg is not None else '-'} of paths through "
                "its go-for-broke region in retirement"
            )
        lines.append(
            f"Adaptive glide path (plan {name!r}, dynamic programming on the history's years "
            f"drawn i.i.d., objective {run.kind}): promises "
            f"{_promised(run, run.promise.promised)}, simulated "
            f"{_promised(run, run.promise.simulated)} on {ev.n_scenarios} fresh i.i.d. "
            f"scenarios; success {100 * me.success:.1f} %, {100 * age.diff:+.1f} pp "
            f"(s.e. {100 * age.diff_se:.1f}) over the best age-only path. "
            + "; ".join(parts)
            + ". Held out: "
            + ", ".join(
                f"{label} {100 * e.rows[0].success:.1f} % "
                f"({100 * e.row(run.age_only_name).diff:+.1f} pp)"
                for label, e in run.evaluations.items()
                if label != "iid"
            )
            + ". A wealth-dependent policy is for an individual managed account, not a "
            f"pooled target-date fund, which can only hold an age-only path. Files: "
            f"adaptive/{name}/."
        )
    return ("\n" + "\n\n".join(lines) + "\n") if lines else ""


def with_policy_maps(book: TearsheetBook, runs: dict[str, AdaptiveRun]) -> TearsheetBook:
    """The study's tear sheet with each adaptive plan's policy map on that plan's page."""
    pages = []
    for page in book.pages:
        run = runs.get(page.key)
        if run is not None:
            band = WealthBand(*run.band, label="i.i.d. simulation")
            section = PolicyMapData(run.solved.policy, (run.equity,), band, axis="wealth")
            page = dataclasses.replace(page, policy_map=section)
        pages.append(page)
    return dataclasses.replace(book, pages=tuple(pages))
