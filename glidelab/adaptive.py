"""A study's adaptive glide path: solve it, measure it, write it.

Shared by ``glidelab optimize --adaptive`` and ``glidelab run`` (``[optimize] adaptive =
true``). For one plan of the study:

1. solve the adaptive policy by dynamic programming (``optimize.dynamic``) on the
   empirical joint distribution of the study's annual history, i.i.d.;
2. choose the deterministic competitors on i.i.d. training scenarios drawn from that
   same model (another seed): the best glide path of the SCP optimiser
   (``optimize_glide_path``, one knot every 5 years, no extra constraints) and the best
   constant mix (5 pp grid); every target-date and target-risk preset as they are;
3. simulate all of them with the engine on four fresh scenario sets (i.i.d. from the
   model, stationary block bootstrap, historical cohorts, parametric lognormal) and
   compare success with paired differences and standard errors, plus what the gain
   costs (median terminal wealth, unpaid years when it fails, turnover, equity by age);
4. check the DP's promise against the i.i.d. simulation, its grid convergence (half the
   wealth and weight spacing), the success/shortfall and success/wealth frontiers, and,
   where the SSA tables are available, a survival-weighted solve.
"""

from __future__ import annotations

import dataclasses
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.data import load_history
from backtest.io import atomic_directory
from backtest.plan import Plan
from backtest.report.model import TearsheetBook
from backtest.simulate import simulate
from glidelab.study import Study
from optimize.adaptive_eval import (
    PromiseCheck,
    SetEvaluation,
    block_length_sweep,
    evaluate_set,
    promise_check,
    scenario_sets,
    success_weights,
    unpaid_years,
)
from optimize.baselines import constant_mix, constant_mix_grid, preset_strategies
from optimize.dynamic import (
    AdaptiveResult,
    GridConvergence,
    empirical_model,
    grid_convergence,
    solve_adaptive,
    tradeoff,
)
from optimize.glidepath import GlidePathConstraints, optimize_glide_path
from strategies.base import Strategy


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


def run_adaptive(
    study: Study,
    settings: AdaptiveSettings | None = None,
    *,
    plan_name: str | None = None,
    progress: bool = False,
    log=print,
) -> AdaptiveRun:
    """Solve and measure the adaptive policy of one of the study's plans (module doc)."""
    t0 = time.perf_counter()
    st = settings or AdaptiveSettings()
    name = plan_name or st.plan or study.optimize.plan or study.plans[0].name
    plan = study.plan(name).plan
    seed = study.seed if st.seed is None else st.seed
    equity, bonds = study.data.equity, study.data.bonds
    assets = [equity, bonds]
    history = load_history([*assets, "cpi"], "annual", start=study.data.start, end=study.data.end)
    model = empirical_model(history, assets)
    n_t = plan.n_periods(1)
    log(f"adaptive [{name}]: solving on {model.description}")
    solved = solve_adaptive(plan, model, n_states=st.n_states, rng=seed, name="adaptive (DP)")
    log(
        f"  DP: {solved.n_states} wealth nodes x {solved.n_candidates} weight vectors x "
        f"{solved.n_outcomes} outcomes x {solved.n_years} years in {solved.seconds:.1f} s; "
        f"promises {100 * solved.value:.2f} %"
    )
    train = model.sample(st.train_n, n_t, seed + 10)
    log(f"  SCP glide path on {st.train_n} i.i.d. training scenarios ...")
    scp = optimize_glide_path(
        train,
        plan,
        assets,
        GlidePathConstraints(equity_assets=(equity,)),
        max_iterations=st.scp_iterations,
        progress=progress,
        name="best deterministic (SCP)",
    )
    grid = constant_mix_grid(train, plan, equity, bonds, step=0.05)
    const = constant_mix(grid.best_share, equity, bonds, plan, 1)
    strategies: dict[str, Strategy] = {
        solved.policy.name: solved.policy,
        scp.glide_path.name: scp.glide_path,
        f"best constant ({grid.best_share:.0%} {equity})": const,
    }
    for pname, strat in preset_strategies(train, equity, bonds).items():
        if set(strat.assets) <= set(assets):
            strategies[pname] = strat
    sets = scenario_sets(history, model, assets, n_t, st.n_scenarios, seed + 20)
    evaluations = {}
    for label, sc in sets.items():
        log(f"  simulating {len(strategies)} strategies on {label} ({sc.n_scenarios}) ...")
        evaluations[label] = evaluate_set(label, sc, plan, strategies, equity_assets=(equity,))
    promise = promise_check(solved.value, evaluations["iid"])
    res = simulate(sets["iid"], plan, solved.policy)
    p10, p50, p90 = np.percentile(res.wealth[:, :-1], [10, 50, 90], axis=0)

    sweep: dict[float, tuple[float, float]] = {}
    if st.frontier:  # the full measurement: how much serial dependence moves success
        log("  block-length sweep of the bootstrap (1 = the i.i.d. model) ...")
        sweep = block_length_sweep(
            history, plan, solved.policy, assets, (1, 3.3, 10, 20), st.n_scenarios, seed + 21
        )
    conv = None
    if st.convergence:
        log("  grid convergence (half the wealth and weight spacing) ...")
        conv = grid_convergence(plan, model, n_states=st.n_states, rng=seed)
    frontier: list[FrontierPoint] = []
    if st.frontier:
        log("  frontiers (success vs unpaid years, success vs terminal wealth) ...")
        for against, weights in (
            ("shortfall", (0.0, 0.01, 0.03, 0.1)),
            ("wealth", (0.01, 0.03, 0.1)),
        ):
            for w in weights:
                r = solve_adaptive(
                    plan, model, tradeoff(w, against), n_states=st.n_states, rng=seed, n_paths=200
                )
                sim = simulate(sets["iid"], plan, r.policy)
                frontier.append(
                    FrontierPoint(
                        against=against,
                        weight=w,
                        promised=r.value,
                        success=float(success_weights(sim, None).mean()),
                        mean_unpaid_years=float(unpaid_years(sim).mean()),
                        median_terminal=float(np.median(sim.terminal_wealth)),
                    )
                )
    survival = (
        _survival_check(plan, model, sets["iid"], scp.glide_path, st, seed) if st.survival else None
    )
    return AdaptiveRun(
        plan_name=name,
        plan=plan,
        solved=solved,
        evaluations=evaluations,
        promise=promise,
        scp_seconds=scp.seconds,
        scp_success_train=scp.success_in_sample,
        best_constant_share=grid.best_share,
        convergence=conv,
        frontier=tuple(frontier),
        survival=survival,
        band=(p10, p50, p90),
        block_sweep=sweep,
        equity=equity,
        seed=seed,
        seconds=time.perf_counter() - t0,
    )


def _survival_check(plan, model, iid, scp_path, st, seed) -> SurvivalCheck | None:
    try:
        from backtest.mortality import survival_curve
    except ImportError:  # the SSA tables are not installed in this tree
        return None
    n = plan.n_periods(1)
    birth = 2026 - int(plan.start_age)
    s = survival_curve("male", birth, int(plan.start_age), n)
    q = s[1:] / s[:-1]
    r = solve_adaptive(plan, model, survival=q, n_states=st.n_states, rng=seed, n_paths=200)
    a = success_weights(simulate(iid, plan, r.policy), q)
    b = success_weights(simulate(iid, plan, scp_path), q)
    d = a - b
    return SurvivalCheck(
        description=f"SSA 2020 Trustees cohort table, male born {birth}, alive at {plan.start_age:g}",
        promised=r.value,
        simulated=float(a.mean()),
        scp_simulated=float(b.mean()),
        paired_diff_se=float(d.std(ddof=1) / np.sqrt(d.size)),
    )


# --------------------------------------------------------------------------- output


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def adaptive_markdown(run: AdaptiveRun) -> str:
    """The run as a Markdown report (percent, USD)."""
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
    for label, ev in run.evaluations.items():
        lines += [
            f"## {label}: {ev.n_scenarios} scenarios",
            "",
            f"{ev.description}",
            "",
            "| strategy | success | s.e. | adaptive minus this (paired) | s.e. | median terminal "
            "wealth | unpaid years when it fails | turnover a year |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in ev.rows:
            lost = (
                "-" if np.isnan(r.unpaid_years_when_failed) else f"{r.unpaid_years_when_failed:.1f}"
            )
            lines.append(
                f"| {r.name} | {_pct(r.success)} | {_pct(r.success_se)} | "
                f"{100 * r.diff:+.2f} pp | {100 * r.diff_se:.2f} pp | "
                f"{r.median_terminal:,.0f} | {lost} | {_pct(r.turnover)} |"
            )
        lines.append("")
    ev = run.evaluations["iid"]
    ages = ev.ages
    pick = [i for i, a in enumerate(ages) if (a - ages[0]) % 10 == 0 or i == len(ages) - 1]
    lines += [
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
    lines.append(f"Seed {run.seed}; run time {run.seconds:.0f} s.")
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
    from backtest.report.policy_map import WealthBand, policy_map_figure

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
    import base64
    import html

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
    from backtest.report.policy_map import PolicyMapData, WealthBand

    pages = []
    for page in book.pages:
        run = runs.get(page.key)
        if run is not None:
            band = WealthBand(*run.band, label="i.i.d. simulation")
            section = PolicyMapData(run.solved.policy, (run.equity,), band, axis="wealth")
            page = dataclasses.replace(page, policy_map=section)
        pages.append(page)
    return dataclasses.replace(book, pages=tuple(pages))
