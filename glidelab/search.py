"""A study's glide-path search: scenarios, the SCP optimiser, comparisons and outputs.

Shared by ``glidelab optimize`` and ``glidelab run`` (whose tear sheets are the study's,
one pipeline: ``glidelab.tearsheet``). The search runs on block-bootstrap
scenarios (the set :data:`IN_SAMPLE` of the study's seed tree, :mod:`glidelab.context`)
and is measured out of sample on parametric scenarios (the set :data:`HELD_OUT`: another
generator and another stream), beside every preset and a grid of constant mixes, so
overfitting shows.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pandas as pd

from backtest.io import atomic_directory
from backtest.plan import Plan
from backtest.scenarios import Scenarios
from glidelab.context import StudyContext
from glidelab.study import Study
from optimize.baselines import MapFn, constant_mix_grid, evaluate_presets
from optimize.glidepath import GlidePathConstraints, OptimizationResult, optimize_glide_path

#: Names of the optimiser's scenario sets in the study's seed tree.
IN_SAMPLE = "optimiser in sample"
HELD_OUT = "optimiser held out"


@dataclass(frozen=True)
class SearchSettings:
    """Overrides of a study's ``[optimize]`` table (``None`` keeps the study's value)."""

    plan: str | None = None
    n_scenarios: int | None = None
    holdout_n: int | None = None
    seed: int | None = None
    max_iterations: int | None = None
    knot_spacing_years: float = 5.0
    monotone_equity: bool | None = None
    max_change_per_year: float | None = None
    crypto_cap: float | None = None
    vol_cap: float | None = None
    lower: dict[str, float] = field(default_factory=dict)
    upper: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchRun:
    """What a search produced: the optimiser's result and the comparison table."""

    plan: Plan
    result: OptimizationResult
    in_sample: Scenarios
    holdout: Scenarios
    comparison: pd.DataFrame  # strategy, success_in_sample, success_held_out
    seed: int


def run_search(
    study: Study,
    settings: SearchSettings | None = None,
    *,
    progress: bool = True,
    map_fn: MapFn | None = None,
    context: StudyContext | None = None,
) -> SearchRun:
    """Optimise the glide path of the study's ``[optimize].plan`` and compare it.

    ``map_fn``: where the search's iterates (chunks of scenarios) and the presets and
    constant mixes of the comparison are scored (``glidelab.backends.ordered_map`` of a
    backend); default in this process. The numbers are the same either way.
    ``context``: the study's context when the caller has one (its history is reused).
    """
    st = settings or SearchSettings()
    op = study.optimize
    plan = study.plan(st.plan or op.plan or study.plans[0].name).plan
    seed = study.seed if st.seed is None else st.seed
    if context is None or context.study.seed != seed:
        history = context.history if context is not None else None
        context = StudyContext.of(dataclasses.replace(study, seed=seed), history)
    equity, bonds = study.data.equity, study.data.bonds
    assets = [equity, bonds]
    n = st.n_scenarios or op.n_scenarios
    sc = context.scenarios(IN_SAMPLE, plan, n, "bootstrap", assets=assets)
    n_out = st.holdout_n or op.holdout_n
    holdout = context.scenarios(HELD_OUT, plan, n_out, "parametric", assets=assets)
    constraints = GlidePathConstraints(
        lower=st.lower,
        upper=st.upper,
        monotone_equity=op.monotone_equity if st.monotone_equity is None else st.monotone_equity,
        equity_assets=(equity,),
        max_change_per_year=(
            op.max_change_per_year if st.max_change_per_year is None else st.max_change_per_year
        ),
        crypto_cap=op.crypto_cap if st.crypto_cap is None else st.crypto_cap,
        vol_cap=st.vol_cap,
    )
    res = optimize_glide_path(
        sc,
        plan,
        assets,
        constraints,
        holdout=holdout,
        knot_spacing_years=st.knot_spacing_years,
        max_iterations=st.max_iterations or op.max_iterations,
        progress=progress,
        objective=op.objective,
        preferences=op.preferences,
        income_floor=op.income_floor,
        map_fn=map_fn,
    )
    pin = evaluate_presets(sc, plan, map_fn=map_fn)
    pout = evaluate_presets(holdout, plan, map_fn=map_fn)
    gin = constant_mix_grid(sc, plan, equity, bonds, step=0.1, map_fn=map_fn)
    gout = constant_mix_grid(holdout, plan, equity, bonds, step=0.1, map_fn=map_fn)
    rows = [("optimised (SCP)", res.success_in_sample, res.success_out_of_sample)]
    rows += [(k, pin[k], pout[k]) for k in pin]
    rows += [
        (f"constant {e:.0%} {equity}", float(a), float(b))
        for e, a, b in zip(gin.equity_shares, gin.success, gout.success, strict=True)
    ]
    table = pd.DataFrame(rows, columns=["strategy", "success_in_sample", "success_held_out"])
    return SearchRun(plan, res, sc, holdout, table, seed)


def comparison_markdown(run: SearchRun) -> str:
    """The comparison table as Markdown, with how it was measured."""
    res, sc, holdout = run.result, run.in_sample, run.holdout
    lines = [
        "# Optimised glide path vs presets and constant mixes",
        "",
        f"In sample: {sc.n_scenarios} block-bootstrap scenarios (set {IN_SAMPLE!r}, seed "
        f"{run.seed}). Held out: {holdout.n_scenarios} parametric scenarios (another "
        f"generator, set {HELD_OUT!r} of the same seed tree).",
        f"Optimiser: {len(res.history)} iterations, {res.seconds:.1f} s "
        f"({res.mean_iteration_seconds:.2f} s per iteration), solver {res.solver}, "
        f"stop: {res.stop_reason}.",
        f"Objective: {objective_words(res)}.",
        "",
        "| strategy | success in sample | success held out |",
        "|---|---:|---:|",
    ]
    for r in run.comparison.itertuples(index=False):
        # pandas-stubs types a row's fields as any scalar; these columns are str and floats.
        name = cast(str, r.strategy)
        in_sample, held_out = cast(float, r.success_in_sample), cast(float, r.success_held_out)
        lines.append(f"| {name} | {100 * in_sample:.2f} % | {100 * held_out:.2f} % |")
    return "\n".join(lines) + "\n"


def objective_words(res: OptimizationResult) -> str:
    """What the search maximised, in words (``[optimize].objective``)."""
    if res.objective == "ce" and res.preferences is not None:
        return (
            "the certainty-equivalent real income (withdrawals paid plus a floor of "
            f"{res.income_floor:,.0f} USD a year; {res.preferences.label}): CE "
            f"{res.ce_in_sample:,.0f} USD a year in sample (s.e. {res.ce_in_sample_se:,.0f})"
        )
    return "the probability of success (through its buffered probability of failure)"


def glide_path_chart(res: OptimizationResult, plan: Plan) -> bytes:
    """PNG: the optimised weights by age as a stacked area, retirement marked."""
    from matplotlib.figure import Figure  # lazy: heavy (matplotlib)

    fig = Figure(figsize=(8, 4.2))
    ax = fig.subplots()
    ax.stackplot(res.ages, res.weights_by_age.T, labels=list(res.assets), alpha=0.85)
    ax.axvline(plan.retirement_age, color="black", lw=1, ls="--", label="retirement")
    ax.set_xlim(res.ages[0], res.ages[-1])
    ax.set_ylim(0, 1)
    ax.set_xlabel("age (years)")
    ax.set_ylabel("target weight (decimal)")
    ax.set_title(
        f"Optimised glide path (objective: {res.objective}): success "
        f"{100 * res.success_in_sample:.1f} % in sample, "
        f"{100 * (res.success_out_of_sample or 0):.1f} % held out",
        fontsize=10,
    )
    ax.legend(loc="lower left", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    return buf.getvalue()


def write_search(run: SearchRun, folder: Path) -> None:
    """Write glide_path.csv/.png, comparison.csv/.md and iterations.csv into ``folder``,
    which the caller makes atomic (the tear sheet is the study's:
    ``glidelab.run.study_tearsheet``)."""
    res, plan = run.result, run.plan
    weights = pd.DataFrame(res.weights_by_age, columns=list(res.assets))
    weights.insert(0, "years_to_retirement", plan.retirement_age - res.ages)
    weights.insert(0, "age", res.ages)
    weights.to_csv(folder / "glide_path.csv", index=False, float_format="%.6f")
    run.comparison.to_csv(folder / "comparison.csv", index=False, float_format="%.6f")
    (folder / "comparison.md").write_text(comparison_markdown(run), encoding="utf-8")
    pd.DataFrame([h.__dict__ for h in res.history]).to_csv(folder / "iterations.csv", index=False)
    (folder / "glide_path.png").write_bytes(glide_path_chart(res, plan))


def write_search_atomic(run: SearchRun, out_dir: Path) -> Path:
    """:func:`write_search` into ``out_dir``, swapped into place only when complete."""
    with atomic_directory(out_dir) as tmp:
        write_search(run, tmp)
    return Path(out_dir)
