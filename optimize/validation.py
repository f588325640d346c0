"""Quality bars of the glide-path optimizer, as a callable report.

1. **Sanity** (i.i.d. returns, no cash flows, goal: real terminal wealth >= target): the
   optimised path stays within ``tolerance_pp`` percentage points of equity of the best
   constant mix of a 1-D grid (step 1 pp) at every age, and its success probability is
   no lower than that mix's.
2. **Default plan** (the lifecycle member, :func:`lifecycle_plan`, the same as the default study's: saving 25 -> 65 at 10 % of
   50,000 real USD with a 50 % match up to 6 %, spending 35,000 real USD a year to 95,
   fees 0.2 %, us_stocks/tbonds_10y annual):
   optimised on a stationary block bootstrap (one seed); measured on held-out
   parametric scenarios (another generator, another seed). The optimised path must score
   at least the best preset and the best constant mix, and at least differential
   evolution (4-knot family, ten times the optimizer's time) minus 0.5 pp, all on the
   held-out scenarios. In-sample and out-of-sample success are both reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from backtest.data import load_history
from backtest.generators import block_bootstrap, parametric
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.scenarios import Scenarios
from optimize.baselines import (
    constant_mix,
    constant_mix_grid,
    differential_evolution_search,
    evaluate_presets,
)
from optimize.glidepath import (
    GlidePathConstraints,
    OptimizationResult,
    TerminalWealth,
    optimize_glide_path,
    success_probability,
)

EQUITY, BONDS = "us_stocks", "tbonds_10y"


def lifecycle_plan() -> Plan:
    """The lifecycle member of bar 2: saves 10 % of 50,000 USD (50 % match to 6 %, real
    growth 1 %, 2025 IRS limits) from 25 to 65 and spends 35,000 USD a year, real, to 95;
    fees 0.2 %. The app's default study describes the same member in its own file; the
    optimizer's quality bar does not read the app's study files."""
    return Plan(
        start_age=25,
        retirement_age=65,
        end_age=95,
        contributions=Contributions(
            salary=50_000,
            rate=0.10,
            salary_growth_real=0.01,
            match_rate=0.5,
            match_cap=0.06,
            annual_limit=23_500,
            catch_up=7_500,
        ),
        withdrawal=ConstantReal(rate=None, amount=35_000, timing="start"),
        expense_ratio=0.002,
    )


def iid_scenarios(n_scenarios: int, n_years: int, rng: np.random.Generator | int) -> Scenarios:
    """I.i.d. lognormal annual returns of two assets, zero inflation (sanity check).

    Equity: log mean 5 %, log volatility 17 %; bonds: log mean 1.5 %, volatility 6 %,
    correlation 0.1; all real.
    """
    g = np.random.default_rng(rng)
    cov = np.array([[0.17**2, 0.1 * 0.17 * 0.06], [0.1 * 0.17 * 0.06, 0.06**2]])
    logs = g.multivariate_normal([0.05, 0.015], cov, size=(n_scenarios, n_years))
    return Scenarios(
        returns=np.expm1(logs),
        inflation=np.zeros((n_scenarios, n_years)),
        assets=(EQUITY, BONDS),
        frequency="annual",
        description=f"iid lognormal, seed {rng}",
    )


@dataclass(frozen=True)
class SanityReport:
    """Bar 1: i.i.d. returns, no cash flows."""

    best_constant_share: float
    best_constant_success: float
    optimised_success: float
    max_equity_gap_pp: float
    mean_equity_gap_pp: float
    holdout_constant_success: float
    holdout_optimised_success: float
    tolerance_pp: float
    optimisation: OptimizationResult

    @property
    def passed(self) -> bool:
        return (
            self.max_equity_gap_pp <= self.tolerance_pp
            and self.optimised_success >= self.best_constant_success - 1e-12
        )


def sanity_check(
    n_scenarios: int = 4000,
    n_years: int = 30,
    target_multiple: float = 1.35,
    seed: int = 0,
    tolerance_pp: float = 2.0,
    progress: bool = False,
) -> SanityReport:
    """Run bar 1 on ``n_scenarios`` i.i.d. scenarios of ``n_years`` years.

    The member holds 1 real USD at age 30 and nothing flows in or out; success is real
    terminal wealth >= ``target_multiple``.
    """
    sc = iid_scenarios(n_scenarios, n_years, seed)
    holdout = iid_scenarios(n_scenarios, n_years, seed + 1)
    plan = Plan(start_age=30, retirement_age=30 + n_years, end_age=30 + n_years, initial_balance=1)
    goal = TerminalWealth(target_multiple)
    grid = constant_mix_grid(sc, plan, EQUITY, BONDS, step=0.01, goal=goal)
    res = optimize_glide_path(
        sc, plan, goal=goal, holdout=holdout, initial_grid_step=0.01, progress=progress
    )
    gap = np.abs(res.weights_by_age[:, 0] - grid.best_share) * 100
    best = constant_mix(grid.best_share, EQUITY, BONDS, plan, 1)
    return SanityReport(
        best_constant_share=grid.best_share,
        best_constant_success=grid.best_success,
        optimised_success=res.success_in_sample,
        max_equity_gap_pp=float(gap.max()),
        mean_equity_gap_pp=float(gap.mean()),
        holdout_constant_success=success_probability(holdout, plan, best, goal),
        holdout_optimised_success=float(res.success_out_of_sample or 0.0),
        tolerance_pp=tolerance_pp,
        optimisation=res,
    )


@dataclass(frozen=True)
class Row:
    """One candidate's success, in sample and on the held-out scenarios (decimals)."""

    name: str
    in_sample: float
    out_of_sample: float


@dataclass(frozen=True)
class DefaultPlanReport:
    """Bar 2: the default plan, held-out scenarios."""

    optimised: Row
    presets: tuple[Row, ...]
    constant_mixes: tuple[Row, ...]
    evolution: Row
    evolution_seconds: float
    evolution_evaluations: int
    optimisation: OptimizationResult
    description_in: str
    description_out: str

    @property
    def best_preset(self) -> Row:
        return max(self.presets, key=lambda r: r.out_of_sample)

    @property
    def best_constant(self) -> Row:
        return max(self.constant_mixes, key=lambda r: r.out_of_sample)

    @property
    def passes_presets(self) -> bool:
        return self.optimised.out_of_sample >= self.best_preset.out_of_sample

    @property
    def passes_constant(self) -> bool:
        return self.optimised.out_of_sample >= self.best_constant.out_of_sample

    @property
    def passes_evolution(self) -> bool:
        return self.optimised.out_of_sample >= self.evolution.out_of_sample - 0.005

    @property
    def passed(self) -> bool:
        return self.passes_presets and self.passes_constant and self.passes_evolution


def default_plan_check(
    n_scenarios: int = 2000,
    holdout_n: int = 5000,
    seed: int = 20261123,
    time_factor: float = 10.0,
    plan: Plan | None = None,
    constraints: GlidePathConstraints | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> DefaultPlanReport:
    """Run bar 2: optimise on a block bootstrap, score everything on parametric scenarios.

    ``plan`` is the member to optimise (the app passes its default study's member);
    ``None`` uses :func:`lifecycle_plan`.
    """
    say = log or (lambda _msg: None)
    plan = plan if plan is not None else lifecycle_plan()
    history = load_history([EQUITY, BONDS, "cpi"])
    n_t = plan.n_periods(1)
    sc = block_bootstrap(history, [EQUITY, BONDS], n_scenarios, n_t, rng=seed)
    out = parametric(history, [EQUITY, BONDS], holdout_n, n_t, rng=seed + 1)
    say(f"optimising on {sc.n_scenarios} block-bootstrap scenarios")
    res = optimize_glide_path(sc, plan, constraints=constraints, holdout=out, progress=progress)
    say(f"optimiser: {res.seconds:.1f} s; differential evolution gets {time_factor:g}x that")
    de = differential_evolution_search(
        sc, plan, EQUITY, BONDS, max_seconds=time_factor * res.seconds, rng=seed
    )
    say("scoring presets and constant mixes")
    pin, pout = evaluate_presets(sc, plan), evaluate_presets(out, plan)
    gin = constant_mix_grid(sc, plan, EQUITY, BONDS, step=0.05)
    gout = constant_mix_grid(out, plan, EQUITY, BONDS, step=0.05)
    return DefaultPlanReport(
        optimised=Row(
            "optimised (SCP)", res.success_in_sample, float(res.success_out_of_sample or 0.0)
        ),
        presets=tuple(Row(k, pin[k], pout[k]) for k in pin),
        constant_mixes=tuple(
            Row(f"constant {e:.0%} equity", float(a), float(b))
            for e, a, b in zip(gin.equity_shares, gin.success, gout.success, strict=True)
        ),
        evolution=Row(
            "differential evolution (4 knots)",
            de.success,
            success_probability(out, plan, de.glide_path),
        ),
        evolution_seconds=de.seconds,
        evolution_evaluations=de.evaluations,
        optimisation=res,
        description_in=f"stationary block bootstrap, {sc.n_scenarios} scenarios, seed {seed}",
        description_out=f"parametric (normal log returns), {out.n_scenarios} scenarios, "
        f"seed {seed + 1}",
    )


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def report_markdown(sanity: SanityReport, default: DefaultPlanReport) -> str:
    """Both bars as a Markdown report (numbers in percent)."""
    s, d = sanity, default
    o = s.optimisation
    lines = [
        "# Glide-path optimizer: quality bars",
        "",
        "## 1. Sanity: i.i.d. returns, no cash flows",
        "",
        f"- best constant mix (1-D grid, 1 pp): {s.best_constant_share:.0%} equity, "
        f"success {_pct(s.best_constant_success)} in sample, "
        f"{_pct(s.holdout_constant_success)} held out",
        f"- optimised path: success {_pct(s.optimised_success)} in sample, "
        f"{_pct(s.holdout_optimised_success)} held out",
        f"- equity gap to the best constant mix: max {s.max_equity_gap_pp:.2f} pp, mean "
        f"{s.mean_equity_gap_pp:.2f} pp (bar: <= {s.tolerance_pp:g} pp)",
        f"- optimiser: {len(o.history)} iterations, {o.seconds:.1f} s, solver {o.solver}",
        f"- **{'PASS' if s.passed else 'FAIL'}**",
        "",
        "## 2. Default plan, held-out scenarios",
        "",
        f"In sample: {d.description_in}. Held out: {d.description_out}.",
        "",
        "| strategy | in sample | held out |",
        "|---|---:|---:|",
    ]
    rows = [d.optimised, d.evolution, *d.presets, *d.constant_mixes]
    lines += [f"| {r.name} | {_pct(r.in_sample)} | {_pct(r.out_of_sample)} |" for r in rows]
    o = d.optimisation
    lines += [
        "",
        f"- best preset held out: {d.best_preset.name} {_pct(d.best_preset.out_of_sample)} -> "
        f"{'PASS' if d.passes_presets else 'FAIL'}",
        f"- best constant mix held out: {d.best_constant.name} "
        f"{_pct(d.best_constant.out_of_sample)} -> {'PASS' if d.passes_constant else 'FAIL'}",
        f"- differential evolution ({d.evolution_evaluations} evaluations, "
        f"{d.evolution_seconds:.0f} s) held out {_pct(d.evolution.out_of_sample)}, bar "
        f"optimised >= DE - 0.5 pp -> {'PASS' if d.passes_evolution else 'FAIL'}",
        f"- optimiser: {len(o.history)} iterations, {o.seconds:.1f} s total, "
        f"{o.mean_iteration_seconds:.2f} s per iteration, solver {o.solver}, stop: "
        f"{o.stop_reason}",
        f"- **{'PASS' if d.passed else 'FAIL'}**",
        "",
    ]
    return "\n".join(lines)
