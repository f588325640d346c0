"""A study's adaptive glide path: solve it, measure it, write it.

Shared by ``glidelab optimize --adaptive`` and ``glidelab run`` (``[optimize] adaptive =
true``). For one plan of the study:

1. solve the adaptive policy by dynamic programming (``optimize.dynamic``) on the
   empirical joint distribution of the study's annual history, i.i.d.;
2. choose the deterministic competitors on i.i.d. training scenarios drawn from that
   same model (another stream of the seed tree): the best glide path of the SCP optimiser
   (``optimize_glide_path``, one knot every 5 years, no extra constraints) and the best
   constant mix (5 pp grid); every target-date and target-risk preset as they are;
3. simulate all of them with the engine on four fresh scenario sets (i.i.d. from the
   model, stationary block bootstrap, historical cohorts, parametric lognormal) and
   compare success with paired differences and standard errors, plus what the gain
   costs (median terminal wealth, unpaid years given failure with its standard error,
   turnover, equity by age) and the share of paths through the go-for-broke region;
4. check the DP's promise against the i.i.d. simulation, its grid convergence (half the
   wealth and weight spacing), the success/shortfall and success/wealth frontiers, and,
   where the SSA tables are available, a survival-weighted solve.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.generators import historical_cohorts
from backtest.io import atomic_directory
from backtest.mortality import survival_curve
from backtest.outcomes import wealth_percentiles
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
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from glidelab.context import StudyContext
from glidelab.study import Study
from optimize.adaptive_eval import (
    PromiseCheck,
    SetEvaluation,
    block_length_sweep,
    evaluate_set,
    promise_check,
    success_weights,
    unpaid_years,
)
from optimize.baselines import constant_mix, constant_mix_grid, preset_strategies
from optimize.dynamic import (
    AdaptiveResult,
    GridConvergence,
    ReturnModel,
    empirical_model,
    grid_convergence,
    solve_adaptive,
    tradeoff,
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

    @property
    def equity(self) -> str:
        return self.assets[0]


def _setup(study: Study, st: AdaptiveSettings, plan_name: str | None) -> _Setup:
    """The plan ``plan_name`` (else the settings', the optimiser's, the first) and its
    history and model, on the study's seed tree (or ``st.seed``'s)."""
    name = plan_name or st.plan or study.optimize.plan or study.plans[0].name
    seed = study.seed if st.seed is None else st.seed
    context = StudyContext(dataclasses.replace(study, seed=seed))
    assets = [study.data.equity, study.data.bonds]
    annual = context.history if context.periods_per_year == 1 else context.history_at("annual")
    history = annual[[*assets, "cpi"]]
    model = empirical_model(history, assets)
    return _Setup(name, study.plan(name).plan, seed, context, assets, history, model)


def _candidates(
    su: _Setup, solved: AdaptiveResult, st: AdaptiveSettings, progress: bool, log: Log
) -> tuple[OptimizationResult, float, dict[str, Strategy]]:
    """The strategies the policy is measured against, trained on ``st.train_n`` i.i.d.
    scenarios: the SCP glide path, the best constant mix (its equity share, decimal) and
    the presets on the two roles; the policy first."""
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
    )
    grid = constant_mix_grid(train, su.plan, equity, bonds, step=0.05)
    const = constant_mix(grid.best_share, equity, bonds, su.plan, 1)
    strategies: dict[str, Strategy] = {
        solved.policy.name: solved.policy,
        scp.glide_path.name: scp.glide_path,
        f"best constant ({grid.best_share:.0%} {equity})": const,
    }
    for pname, strat in preset_strategies(train, equity, bonds).items():
        if set(strat.assets) <= set(su.assets):
            strategies[pname] = strat
    return scp, grid.best_share, strategies


def _frontier(
    su: _Setup, iid: Scenarios, st: AdaptiveSettings, dp_seed: int
) -> tuple[FrontierPoint, ...]:
    """The policy re-solved with a penalty on unpaid years or a bonus on log wealth at
    each weight, simulated on the i.i.d. set."""
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


def run_adaptive(
    study: Study,
    settings: AdaptiveSettings | None = None,
    *,
    plan_name: str | None = None,
    progress: bool = False,
    log: Log = print,
) -> AdaptiveRun:
    """Solve and measure the adaptive policy of one of the study's plans (module doc)."""
    t0 = time.perf_counter()
    st = settings or AdaptiveSettings()
    su = _setup(study, st, plan_name)
    plan, model = su.plan, su.model
    n_t = plan.n_periods(1)
    dp_seed = _seed_of(su.context, STREAMS["dp"])
    log(f"adaptive [{su.name}]: solving on {model.description}")
    solved = solve_adaptive(plan, model, n_states=st.n_states, rng=dp_seed, name="adaptive (DP)")
    log(
        f"  DP: {solved.n_states} wealth nodes x {solved.n_candidates} weight vectors x "
        f"{solved.n_outcomes} outcomes x {solved.n_years} years in {solved.seconds:.1f} s; "
        f"promises {100 * solved.value:.2f} %"
    )
    scp, best_share, strategies = _candidates(su, solved, st, progress, log)
    sets = _scenario_sets(su.context, su.history, model, su.assets, n_t, st.n_scenarios)
    evaluations = {}
    for label, sc in sets.items():
        log(f"  simulating {len(strategies)} strategies on {label} ({sc.n_scenarios}) ...")
        evaluations[label] = evaluate_set(label, sc, plan, strategies, equity_assets=(su.equity,))
    res = simulate(sets["iid"], plan, solved.policy)
    p10, p50, p90 = wealth_percentiles(res.wealth[:, :-1], (10, 50, 90))
    region = go_for_broke_region(solved.policy, (su.equity,))
    go_for_broke = share_of_paths_in_region(solved.policy, region, res.wealth)
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
        conv = grid_convergence(plan, model, n_states=st.n_states, rng=dp_seed)
    frontier: tuple[FrontierPoint, ...] = ()
    if st.frontier:
        log("  frontiers (success vs unpaid years, success vs terminal wealth) ...")
        frontier = _frontier(su, sets["iid"], st, dp_seed)
    survival = (
        _survival_check(plan, model, sets["iid"], scp.glide_path, st, dp_seed)
        if st.survival
        else None
    )
    return AdaptiveRun(
        plan_name=su.name,
        plan=plan,
        solved=solved,
        evaluations=evaluations,
        promise=promise_check(solved.value, evaluations["iid"]),
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
        go_for_broke_share=go_for_broke,
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


def _survival_check(plan, model, iid, scp_path, st, seed) -> SurvivalCheck | None:
    n = plan.n_periods(1)
    birth = 2026 - int(plan.start_age)
    # Alive at retirement (backtest.outcomes.survival_weighted_success's convention): one-year
    # survival 1 before the retirement age, the SSA cohort's after it.
    t_ret = plan.retirement_period(1)
    s = survival_curve("male", birth, int(plan.retirement_age), n - t_ret)
    q = np.concatenate([np.ones(t_ret), s[1:] / s[:-1]])
    r = solve_adaptive(plan, model, survival=q, n_states=st.n_states, rng=seed, n_paths=200)
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


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _md_promise(run: AdaptiveRun) -> list[str]:
    """Heading, the DP's grid, and its promise against the engine on every set."""
    s = run.solved
    pr = run.promise
    lines = [
        f"# Adaptive glide path (dynamic programming): plan {run.plan_name!r}",
        "",
        f"Solved on the {s.model_description}, drawn i.i.d.; objective: {s.objective.name}. "
        f"Grid: {s.n_states} wealth nodes a year x {s.n_candidates} weight vectors (step "
        f"{s.weight_step:g}) x {s.n_outcomes} return outcomes x {s.n_years} years; "
        f"{s.seconds:.1f} s. Trading costs are not in the Bellman recursion; the simulations "
        "below charge the plan's costs on the policy's real turnover.",
        "",
        "## The promise against the engine",
        "",
        f"- DP value (success probability promised from the start): {_pct(pr.promised)}",
        f"- engine simulation on {pr.n_scenarios} fresh i.i.d. scenarios: {_pct(pr.simulated)} "
        f"(s.e. {_pct(pr.se)}), gap {pr.gap_pp:+.2f} pp -> "
        f"{'within' if pr.within_two_se else 'OUTSIDE'} 2 standard errors",
    ]
    for label, ev in run.evaluations.items():
        if label == "iid":
            continue
        r = ev.rows[0]
        lines.append(
            f"- {label} ({ev.n_scenarios} scenarios): {_pct(r.success)} "
            f"(gap to the promise {100 * (r.success - pr.promised):+.2f} pp)"
        )
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
                f"{k:g} years {_pct(v[0])} (s.e. {_pct(v[1])})" for k, v in run.block_sweep.items()
            )
            + ". Longer blocks keep more of the history's serial dependence.",
            "",
        ]
    if run.convergence is not None:
        c = run.convergence
        lines += [
            "## Grid convergence",
            "",
            f"- {c.coarse_grid[0]} nodes, weight step {c.coarse_grid[1]:g}: {_pct(c.coarse)} "
            f"({c.coarse_seconds:.1f} s)",
            f"- {c.fine_grid[0]} nodes, weight step {c.fine_grid[1]:g}: {_pct(c.fine)} "
            f"({c.fine_seconds:.1f} s)",
            f"- moved {c.moved_pp:.3f} pp (bar: < 0.2 pp) -> "
            f"{'PASS' if c.moved_pp < 0.2 else 'FAIL'}",
            "",
        ]
    return lines


def _md_sets(run: AdaptiveRun) -> list[str]:
    """One table per scenario set: each strategy against the policy, paired."""
    lines: list[str] = []
    for label, ev in run.evaluations.items():
        lines += [
            f"## {label}: {ev.n_scenarios} scenarios",
            "",
            f"{ev.description}",
            "",
            "| strategy | success | s.e. | adaptive minus this (paired) | s.e. | unpaid years "
            "given failure | s.e. | median terminal wealth | turnover a year |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in ev.rows:
            lines.append(
                f"| {r.name} | {_pct(r.success)} | {_pct(r.success_se)} | "
                f"{100 * r.diff:+.2f} pp | {100 * r.diff_se:.2f} pp | "
                f"{_years(r.unpaid_years_when_failed)} | {_years(r.unpaid_years_when_failed_se)} | "
                f"{r.median_terminal:,.0f} | {_pct(r.turnover)} |"
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


def _md_go_for_broke(run: AdaptiveRun) -> list[str]:
    """The go-for-broke region, the paths through it, and who can hold such a policy."""
    ev = run.evaluations["iid"]
    me = ev.rows[0]
    age_only = ev.rows[1]  # the best deterministic (SCP) glide path: one mix per age
    share = run.go_for_broke_share
    lines = [
        "## Go-for-broke, and who can hold this policy",
        "",
        GO_FOR_BROKE_CAPTION + " A success-probability objective does this by design: "
        "below the goal it prefers any chance of reaching it to a smaller shortfall.",
        "",
        f"- share of the {ev.n_scenarios} i.i.d. paths that pass through the region: "
        + ("-" if np.isnan(share) else f"{100 * share:.1f} %"),
        f"- {me.name}: success {_pct(me.success)}, unpaid years given failure "
        f"{_years(me.unpaid_years_when_failed)} (s.e. {_years(me.unpaid_years_when_failed_se)})",
        f"- {age_only.name}, the best age-only path: success {_pct(age_only.success)}, "
        f"unpaid years given failure {_years(age_only.unpaid_years_when_failed)} "
        f"(s.e. {_years(age_only.unpaid_years_when_failed_se)})",
        "",
        "The adaptive policy sets each member's mix from her own wealth, so it is a policy "
        "for an individual (managed) account. A pooled fund, such as a target-date fund, "
        "holds one mix for every member of a vintage whatever her wealth: its policy is an "
        f"age-only path, and the best one, {age_only.name!r}, is shown beside the adaptive "
        "policy in every table of this report.",
        "",
    ]
    return lines


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
    for r in ev.rows[:3]:
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
                f"| {f.against} | {f.weight:g} | {f.promised:.4f} | {_pct(f.success)} | "
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
            f"- {sv.description}",
            f"- promised {_pct(sv.promised)}, simulated (i.i.d.) {_pct(sv.simulated)}; "
            f"SCP path, same weighting: {_pct(sv.scp_simulated)}; paired difference "
            f"{100 * (sv.simulated - sv.scp_simulated):+.2f} pp (s.e. {100 * sv.paired_diff_se:.2f} pp)",
            "",
        ]
    return lines


def adaptive_markdown(run: AdaptiveRun) -> str:
    """The run as a Markdown report (percent, USD)."""
    lines = [
        *_md_promise(run),
        *_md_checks(run),
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
        {"set": label, **{k: v for k, v in r.__dict__.items() if k != "equity_median_path"}}
        for label, ev in run.evaluations.items()
        for r in ev.rows
    ]
    pd.DataFrame(rows).to_csv(folder / "comparison.csv", index=False, float_format="%.6f")
    policy_frame(run.solved).to_csv(folder / "policy.csv", index=False, float_format="%.6g")
    if run.frontier:
        pd.DataFrame([f.__dict__ for f in run.frontier]).to_csv(
            folder / "frontier.csv", index=False, float_format="%.6f"
        )
    band = WealthBand(*run.band, label="i.i.d. simulation")
    pngs = {}
    for axis, y_max in (("wealth", None), ("funded_ratio", 3.0)):
        if axis == "funded_ratio" and not np.all(run.solved.policy.spending_pv > 0):
            continue
        fig = policy_map_figure(run.solved.policy, (run.equity,), band, axis=axis, y_max=y_max)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        pngs[axis] = buf.getvalue()
        (folder / f"policy_map_{axis}.png").write_bytes(pngs[axis])
        fig.savefig(folder / f"policy_map_{axis}.pdf", format="pdf", bbox_inches="tight")
    (folder / "adaptive.html").write_text(_html(run, text, pngs), encoding="utf-8")


def _html(run: AdaptiveRun, markdown: str, pngs: dict[str, bytes]) -> str:
    imgs = "".join(
        f'<figure><img alt="policy map ({axis})" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"/></figure>'
        for axis, png in pngs.items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Adaptive glide path: "
        f"{html.escape(run.plan_name)}</title><style>body{{font-family:sans-serif;max-width:"
        "1100px;margin:auto}img{max-width:100%}pre{white-space:pre-wrap}</style></head><body>"
        f"<h1>Adaptive glide path: {html.escape(run.plan_name)}</h1>{imgs}"
        f"<pre>{html.escape(markdown)}</pre></body></html>"
    )


def write_adaptive_atomic(run: AdaptiveRun, out_dir: Path) -> Path:
    """:func:`write_adaptive` into ``out_dir``, swapped into place only when complete."""
    with atomic_directory(out_dir) as tmp:
        write_adaptive(run, tmp)
    return Path(out_dir)


# --------------------------------------------------------------------------- study runs


def study_adaptive_runs(
    study: Study, *, progress: bool = False, log=lambda _m: None
) -> dict[str, AdaptiveRun]:
    """The adaptive runs ``[optimize] adaptive = true`` asks for (``glidelab run``): every
    plan in ``adaptive_plans`` (default every plan), sized by the ``[optimize]`` table
    (training and evaluation scenarios, SCP iterations); the grid-convergence check and
    the frontiers are left to ``glidelab optimize --adaptive``."""
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
        name: run_adaptive(study, settings, plan_name=name, progress=progress, log=log)
        for name in names
    }


def adaptive_summary(runs: dict[str, AdaptiveRun]) -> str:
    """Lines for a study's summary: per plan, the promise and the paired gain (i.i.d.)."""
    lines = []
    for name, run in runs.items():
        ev = run.evaluations["iid"]
        me, scp = ev.rows[0], ev.rows[1]
        lines.append(
            f"Adaptive glide path (plan {name!r}, dynamic programming on the history's years "
            f"drawn i.i.d.): promises {100 * run.promise.promised:.1f} %, simulated "
            f"{100 * me.success:.1f} % on {ev.n_scenarios} fresh i.i.d. scenarios, "
            f"{100 * scp.diff:+.1f} pp (s.e. {100 * scp.diff_se:.1f}) over the best "
            f"deterministic path; held out: "
            + ", ".join(
                f"{label} {100 * e.rows[0].success:.1f} % ({100 * e.rows[1].diff:+.1f} pp)"
                for label, e in run.evaluations.items()
                if label != "iid"
            )
            + f". Files: adaptive/{name}/."
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
