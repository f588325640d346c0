"""``glidelab optimize``: search the glide path with the highest probability of success."""

from __future__ import annotations

import argparse
from typing import Any

NAME = "optimize"
HELP = "optimise a glide path's probability of success (cvxpy SCP) and compare with presets"
DESCRIPTION = """\
Search the glide path (weights of each asset at every age) that maximises the plan's
probability of success (money lasts to the end age, or funded ratio at retirement >= 1)
by sequential convex programming with cvxpy, on block-bootstrap scenarios; measure it out
of sample on parametric scenarios with a fresh seed. Writes into results/optimize/ (or
--out): glide_path.csv (weights by age), glide_path.png (stacked area), comparison.csv
and comparison.md (optimised path vs presets and constant mixes, in and out of sample),
iterations.csv, and a tear sheet comparing the optimised path with the presets.

The plan and constraints come from a study file's [optimize] table (--study) or the
built-in default study; options override them. --validate runs the quality bars
(i.i.d. sanity check; default plan vs presets, constant mixes and differential
evolution with ten times the optimizer's time) and writes
results/optimize_validation/validation.md.

example:
  glidelab optimize --n-scenarios 2000 --max-change-per-year 0.1 --out results/optimize
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab optimize``."""
    parser.add_argument("--study", help="study file with an [optimize] table (default: built-in)")
    parser.add_argument("--plan", help="plan name in the study (default: [optimize].plan)")
    parser.add_argument("--n-scenarios", type=int, help="bootstrap scenarios optimised on")
    parser.add_argument("--holdout-n", type=int, help="held-out parametric scenarios")
    parser.add_argument("--seed", type=int, help="random seed (default: the study's)")
    parser.add_argument("--max-iterations", type=int, help="SCP iterations")
    parser.add_argument(
        "--knot-spacing", type=float, default=5.0, help="years between knots (default 5)"
    )
    parser.add_argument("--monotone-equity", action="store_true", default=None)
    parser.add_argument("--max-change-per-year", type=float, help="decimal, e.g. 0.1")
    parser.add_argument("--crypto-cap", type=float, help="largest crypto weight, decimal")
    parser.add_argument("--vol-cap", type=float, help="largest annual volatility, decimal")
    parser.add_argument(
        "--lower", action="append", default=[], metavar="ASSET=W", help="lower bound (repeat)"
    )
    parser.add_argument(
        "--upper", action="append", default=[], metavar="ASSET=W", help="upper bound (repeat)"
    )
    parser.add_argument("--out", default=None, help="output folder (default results/optimize)")
    parser.add_argument("--no-tearsheet", action="store_true", help="skip the tear sheet")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--validate", action="store_true", help="run the quality bars (several minutes)"
    )


def _bounds(items: list[str], flag: str) -> dict[str, float]:
    from optimize.glidepath import OptimizationError

    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise OptimizationError(f"{flag} {item!r}: expected ASSET=WEIGHT, e.g. us_stocks=0.2")
    return out


def run(args: argparse.Namespace) -> int:
    """Run the search (or the validation) and write the results."""
    import time
    from pathlib import Path

    from optimize.study import load_study

    study = load_study(args.study)
    if args.validate:  # its own folder: an optimize run swaps results/optimize/ whole
        return _validate(args, Path(args.out or Path(study.output.dir) / "optimize_validation"))
    out_dir = Path(args.out) if args.out else Path(study.output.dir) / "optimize"
    return _optimise(args, study, out_dir, time.perf_counter())


def _validate(args: argparse.Namespace, out_dir: Any) -> int:
    from backtest.io import write_text_atomic
    from optimize.validation import default_plan_check, report_markdown, sanity_check

    print("bar 1: i.i.d. sanity check ...", flush=True)
    sanity = sanity_check(progress=not args.no_progress)
    print("bar 2: default plan ...", flush=True)
    default = default_plan_check(progress=not args.no_progress, log=print)
    text = report_markdown(sanity, default)
    path = write_text_atomic(out_dir / "validation.md", text)
    print(text)
    print(f"wrote {path}")
    return 0 if sanity.passed and default.passed else 1


def _optimise(args: argparse.Namespace, study: Any, out_dir: Any, t0: float) -> int:
    import pandas as pd

    from backtest.data import load_history
    from backtest.generators import block_bootstrap, parametric
    from backtest.io import atomic_directory
    from optimize.baselines import constant_mix_grid, evaluate_presets, preset_strategies
    from optimize.glidepath import GlidePathConstraints, optimize_glide_path

    op = study.optimize
    plan = study.plan(args.plan or op.plan).plan
    seed = study.seed if args.seed is None else args.seed
    equity, bonds = study.data.equity, study.data.bonds
    assets = [equity, bonds]
    history = load_history(
        [*assets, "cpi"], study.data.frequency, start=study.data.start, end=study.data.end
    )
    ppy = 1 if study.data.frequency == "annual" else 12
    n_t = plan.n_periods(ppy)
    n_in = args.n_scenarios or op.n_scenarios
    n_out = args.holdout_n or op.holdout_n
    block = study.scenarios.block_length
    sc = block_bootstrap(history, assets, n_in, n_t, block_length=block, rng=seed)
    holdout = parametric(history, assets, n_out, n_t, rng=seed + 1)
    constraints = GlidePathConstraints(
        lower=_bounds(args.lower, "--lower"),
        upper=_bounds(args.upper, "--upper"),
        monotone_equity=(
            op.monotone_equity if args.monotone_equity is None else args.monotone_equity
        ),
        equity_assets=(equity,),
        max_change_per_year=(
            args.max_change_per_year
            if args.max_change_per_year is not None
            else op.max_change_per_year
        ),
        crypto_cap=args.crypto_cap if args.crypto_cap is not None else op.crypto_cap,
        vol_cap=args.vol_cap,
    )
    print(
        f"optimising on {sc.n_scenarios} block-bootstrap scenarios "
        f"({study.data.frequency}, {history.index[0].year}-{history.index[-1].year}, "
        f"seed {seed}); held out: {holdout.n_scenarios} parametric (seed {seed + 1})",
        flush=True,
    )
    res = optimize_glide_path(
        sc,
        plan,
        assets,
        constraints,
        holdout=holdout,
        knot_spacing_years=args.knot_spacing,
        max_iterations=args.max_iterations or op.max_iterations,
        progress=not args.no_progress,
    )
    for note in res.solver_fallbacks:
        print(f"note: {note}")
    pin, pout = evaluate_presets(sc, plan), evaluate_presets(holdout, plan)
    gin = constant_mix_grid(sc, plan, equity, bonds, step=0.1)
    gout = constant_mix_grid(holdout, plan, equity, bonds, step=0.1)
    rows = [("optimised (SCP)", res.success_in_sample, res.success_out_of_sample)]
    rows += [(k, pin[k], pout[k]) for k in pin]
    rows += [
        (f"constant {e:.0%} {equity}", float(a), float(b))
        for e, a, b in zip(gin.equity_shares, gin.success, gout.success, strict=True)
    ]
    table = pd.DataFrame(rows, columns=["strategy", "success_in_sample", "success_held_out"])
    weights = pd.DataFrame(res.weights_by_age, columns=list(res.assets))
    weights.insert(0, "years_to_retirement", plan.retirement_age - res.ages)
    weights.insert(0, "age", res.ages)
    history_frame = pd.DataFrame([h.__dict__ for h in res.history])

    with atomic_directory(out_dir) as tmp:
        weights.to_csv(tmp / "glide_path.csv", index=False, float_format="%.6f")
        table.to_csv(tmp / "comparison.csv", index=False, float_format="%.6f")
        (tmp / "comparison.md").write_text(_markdown(table, res, sc, holdout), encoding="utf-8")
        history_frame.to_csv(tmp / "iterations.csv", index=False)
        (tmp / "glide_path.png").write_bytes(_chart(res, plan))
        if not args.no_tearsheet and study.output.tearsheet:
            _tearsheet(res, plan, holdout, preset_strategies(holdout), seed, tmp / "tearsheet")
    print(_markdown(table, res, sc, holdout))
    print(f"wrote {out_dir}/ (glide_path.csv, glide_path.png, comparison.csv/.md, iterations.csv)")
    return 0


def _markdown(table: Any, res: Any, sc: Any, holdout: Any) -> str:
    lines = [
        "# Optimised glide path vs presets and constant mixes",
        "",
        f"In sample: {sc.n_scenarios} block-bootstrap scenarios. Held out: "
        f"{holdout.n_scenarios} parametric scenarios (another generator and seed).",
        f"Optimiser: {len(res.history)} iterations, {res.seconds:.1f} s "
        f"({res.mean_iteration_seconds:.2f} s per iteration), solver {res.solver}, "
        f"stop: {res.stop_reason}.",
        "",
        "| strategy | success in sample | success held out |",
        "|---|---:|---:|",
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.strategy} | {100 * r.success_in_sample:.2f} % | "
            f"{100 * r.success_held_out:.2f} % |"
        )
    return "\n".join(lines) + "\n"


def _chart(res: Any, plan: Any) -> bytes:
    import io

    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.2))
    ax = fig.subplots()
    ax.stackplot(res.ages, res.weights_by_age.T, labels=list(res.assets), alpha=0.85)
    ax.axvline(plan.retirement_age, color="black", lw=1, ls="--", label="retirement")
    ax.set_xlim(res.ages[0], res.ages[-1])
    ax.set_ylim(0, 1)
    ax.set_xlabel("age (years)")
    ax.set_ylabel("target weight")
    ax.set_title(
        f"Optimised glide path: success {100 * res.success_in_sample:.1f} % in sample, "
        f"{100 * (res.success_out_of_sample or 0):.1f} % held out",
        fontsize=10,
    )
    ax.legend(loc="lower left", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    return buf.getvalue()


def _tearsheet(res: Any, plan: Any, holdout: Any, presets: dict, seed: int, path: Any) -> None:
    from backtest.data import load_history
    from backtest.report import write_tearsheet
    from backtest.report.build import build_tearsheet_data

    assets = list(res.assets)
    history = load_history([*assets, "tbills", "cpi"])
    strategies = [res.glide_path, *[s for s in presets.values() if set(s.assets) <= set(assets)]]
    data = build_tearsheet_data(
        strategies,
        history,
        plan=plan,
        scenarios=holdout,
        title="Optimised glide path vs presets",
        subtitle=f"success held out {100 * (res.success_out_of_sample or 0):.1f} %",
        seed=seed,
        retirement_age=plan.retirement_age,
        expense_ratio=plan.expense_ratio,
    )
    write_tearsheet(data, path)
