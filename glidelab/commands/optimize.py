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
results/optimize_validation/validation.md. --adaptive solves the adaptive glide path
(weights by age and real wealth, by dynamic programming on the history's years drawn
i.i.d.) and measures it against the SCP path, the best constant mix and every preset on
i.i.d., block-bootstrap, parametric and historical scenarios; it writes
results/adaptive/<plan>/ (adaptive.md and .html, comparison.csv, policy.csv, frontier.csv,
policy maps as PNG and PDF).

examples:
  glidelab optimize --n-scenarios 2000 --max-change-per-year 0.1 --out results/optimize
  glidelab optimize --adaptive --plan maya
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
    parser.add_argument(
        "--adaptive",
        action="store_true",
        help="solve the adaptive glide path (weights by age and wealth, dynamic programming) "
        "and measure it against the SCP path, the best constant mix and the presets; "
        "--n-scenarios sets the training scenarios, --holdout-n each evaluation set",
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

    from glidelab.study import load_study

    study = load_study(args.study)
    if args.validate:  # its own folder: an optimize run swaps results/optimize/ whole
        member = study.plan(study.optimize.plan or study.plans[0].name).plan
        return _validate(
            args, member, Path(args.out or Path(study.output.dir) / "optimize_validation")
        )
    if args.adaptive:
        return _adaptive(args, study)
    out_dir = Path(args.out) if args.out else Path(study.output.dir) / "optimize"
    return _optimise(args, study, out_dir, time.perf_counter())


def _adaptive(args: argparse.Namespace, study: Any) -> int:
    from pathlib import Path

    from glidelab.adaptive import (
        AdaptiveSettings,
        adaptive_markdown,
        run_adaptive,
        write_adaptive_atomic,
    )

    name = args.plan or study.optimize.plan or study.plans[0].name
    defaults = AdaptiveSettings()
    settings = AdaptiveSettings(
        plan=name,
        train_n=args.n_scenarios or defaults.train_n,
        n_scenarios=args.holdout_n or defaults.n_scenarios,
        seed=args.seed,
        scp_iterations=args.max_iterations or defaults.scp_iterations,
    )
    run = run_adaptive(study, settings, progress=not args.no_progress)
    out_dir = Path(args.out) if args.out else Path(study.output.dir) / "adaptive" / name
    write_adaptive_atomic(run, out_dir)
    print(adaptive_markdown(run))
    print(f"wrote {out_dir}/ (adaptive.md/.html, comparison.csv, policy.csv, policy maps)")
    return 0


def _validate(args: argparse.Namespace, member: Any, out_dir: Any) -> int:
    from backtest.io import write_text_atomic
    from optimize.validation import default_plan_check, report_markdown, sanity_check

    print("bar 1: i.i.d. sanity check ...", flush=True)
    sanity = sanity_check(progress=not args.no_progress)
    print("bar 2: default plan ...", flush=True)
    default = default_plan_check(plan=member, progress=not args.no_progress, log=print)
    text = report_markdown(sanity, default)
    path = write_text_atomic(out_dir / "validation.md", text)
    print(text)
    print(f"wrote {path}")
    return 0 if sanity.passed and default.passed else 1


def _optimise(args: argparse.Namespace, study: Any, out_dir: Any, t0: float) -> int:
    import dataclasses

    from backtest.io import atomic_directory
    from glidelab.outputs import check_output_folder
    from glidelab.run import study_tearsheet
    from glidelab.search import SearchSettings, comparison_markdown, run_search, write_search

    check_output_folder(out_dir, "--out", "choose another --out folder")

    settings = SearchSettings(
        plan=args.plan,
        n_scenarios=args.n_scenarios,
        holdout_n=args.holdout_n,
        seed=args.seed,
        max_iterations=args.max_iterations,
        knot_spacing_years=args.knot_spacing,
        monotone_equity=args.monotone_equity,
        max_change_per_year=args.max_change_per_year,
        crypto_cap=args.crypto_cap,
        vol_cap=args.vol_cap,
        lower=_bounds(args.lower, "--lower"),
        upper=_bounds(args.upper, "--upper"),
    )
    seed = study.seed if args.seed is None else args.seed
    print(
        f"optimising on block-bootstrap scenarios ({study.data.frequency}, seed {seed}); "
        f"held out: parametric scenarios (seed {seed + 1})",
        flush=True,
    )
    run = run_search(study, settings, progress=not args.no_progress)
    for note in run.result.solver_fallbacks:
        print(f"note: {note}")
    tearsheet = not args.no_tearsheet and study.output.tearsheet
    plan = args.plan or study.optimize.plan or study.plans[0].name
    with atomic_directory(out_dir) as tmp:
        write_search(run, tmp)
        if tearsheet:  # the study's tear sheet of this plan, the optimised path included
            study_tearsheet(
                dataclasses.replace(study, seed=seed),
                tmp / "tearsheet",
                plans=[plan],
                search=run,
                title=f"Optimised glide path of plan {plan!r} vs the study's strategies",
                progress=False,
            )
    print(comparison_markdown(run))
    files = "glide_path.csv, glide_path.png, comparison.csv/.md, iterations.csv"
    print(f"wrote {out_dir}/ ({files}{', tearsheet/' if tearsheet else ''})")
    return 0
