"""``glidelab optimize``: search the glide path with the highest probability of success."""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from backtest.errors import StudyError
from backtest.io import atomic_directory, write_text_atomic
from glidelab.backends import Backend, DaskBackend, dask_client, ordered_map
from glidelab.outputs import check_output_folder
from glidelab.progress import refuse_overwrite, say, show_progress

if TYPE_CHECKING:  # typing only: the command's start-up stays light
    from backtest.plan import Plan
    from glidelab.search import SearchSettings
    from glidelab.study import Study

NAME = "optimize"
COMPILES = True  # runs the simulator: the first run compiles it (a one-line notice)
HELP = "optimise a glide path's probability of success (cvxpy SCP) and compare with presets"
DESCRIPTION = """\
Search the glide path (weights of each asset at every age) that maximises the study's
[optimize] objective: the plan's probability of success ("success", the default: money
lasts to the end age, or funded ratio at retirement >= 1) or the certainty-equivalent real
retirement income ("ce": withdrawals paid plus an income floor, CRRA with the risk
aversion of [optimize.preferences]), by sequential convex programming with cvxpy, on
block-bootstrap scenarios; measure it out
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
i.i.d.) for the study's adaptive_objective (default: certainty-equivalent retirement
income, CRRA gamma 5; --adaptive-objective, --gamma), solves the other objective's policy
beside it, and measures both against the SCP path, the best constant mix and every preset
on i.i.d., block-bootstrap, parametric and historical scenarios; it writes
results/adaptive/<plan>/ (adaptive.md and .html, comparison.csv, policies.csv, policy.csv
and the other policy's, frontier.csv, policy maps as PNG and PDF).

Overwriting: the optimiser's and the adaptive folders are this command's own and are
replaced whole, atomically; validation.md is a single file and is never replaced
without --force. Progress bars are drawn only when stderr is a terminal.

examples:
  glidelab optimize retiree             the optimiser section of `glidelab run retiree`
  glidelab optimize --n-scenarios 2000 --max-change-per-year 0.1 --out results/optimize
  glidelab optimize --adaptive --plan maya
  glidelab optimize --adaptive --study retiree
  glidelab optimize --adaptive --adaptive-objective success --out /tmp/adaptive
  glidelab optimize retiree --adaptive --workers 2   the DP on a local Dask cluster
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab optimize``."""
    parser.add_argument(
        "study_name",
        nargs="?",
        metavar="STUDY",
        help="study file with an [optimize] table, or a shipped study's name (default: default)",
    )
    parser.add_argument("--study", help="the same as STUDY")
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
    parser.add_argument(
        "--quiet", action="store_true", help="print nothing but errors: no progress or tables"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="hide the progress bars only (kept alias)"
    )
    parser.add_argument(
        "--force", action="store_true", help="with --validate: replace an existing validation.md"
    )
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
    parser.add_argument(
        "--adaptive-objective",
        choices=("ce", "success"),
        help="with --adaptive: what the adaptive policy maximises, 'ce' (certainty-equivalent "
        "retirement income) or 'success' (probability the money lasts); default the study's "
        "[optimize] adaptive_objective ('ce'); the report shows the other policy beside it",
    )
    parser.add_argument(
        "--gamma",
        type=float,
        help="with --adaptive: risk aversion of the CE objective (default the study's "
        "[optimize.preferences] gamma, 5)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="run the optimiser's scoring (with --adaptive: the dynamic program's chunks of "
        "wealth nodes, year by year, and the constant mixes) on a local Dask cluster of N "
        "processes on 127.0.0.1 (the same numbers as in-process)",
    )
    parser.add_argument("--scheduler", help="the same on a Dask cluster at tcp://HOST:PORT")


def _bounds(items: list[str], flag: str) -> dict[str, float]:
    from optimize.glidepath import OptimizationError  # lazy: heavy, off the start-up path

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


def _study_arg(args: argparse.Namespace) -> str | None:
    """The study named by STUDY or --study (one of them, or neither: the default)."""
    if args.study_name is not None and args.study is not None:
        raise StudyError(
            f"two studies given, {args.study_name!r} and --study {args.study!r}: name one"
        )
    return args.study_name if args.study_name is not None else args.study


def run(args: argparse.Namespace) -> int:
    """Run the search (or the validation) and write the results."""
    from glidelab.study import load_study  # lazy: heavy, off the start-up path

    study = load_study(_study_arg(args)).require_study("glidelab optimize")
    if args.validate:  # its own folder: an optimize run swaps results/optimize/ whole
        if args.workers is not None or args.scheduler is not None:
            raise StudyError("--workers and --scheduler go with the search or --adaptive")
        member = study.plan(study.optimize.plan or study.plans[0].name).plan
        return _validate(
            args, member, Path(args.out or Path(study.output.dir) / "optimize_validation")
        )
    if not args.adaptive and (args.adaptive_objective is not None or args.gamma is not None):
        raise StudyError("--adaptive-objective and --gamma go with --adaptive")
    with _backend(args) as backend:
        if args.adaptive:
            return _adaptive(args, study, backend)
        out_dir = Path(args.out) if args.out else Path(study.output.dir) / "optimize"
        return _optimise(args, study, out_dir, time.perf_counter(), backend)


@contextmanager
def _backend(args: argparse.Namespace) -> Iterator[Backend | None]:
    """A Dask backend for ``--workers``/``--scheduler`` (closed on exit), else ``None``
    (this process)."""
    if args.workers is None and args.scheduler is None:
        yield None
        return
    with dask_client(args.workers, args.scheduler) as client:
        yield DaskBackend(client)


def _adaptive(args: argparse.Namespace, study: Study, backend: Backend | None = None) -> int:
    from glidelab.adaptive import (  # lazy: heavy, off the start-up path
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
        objective=args.adaptive_objective,
        gamma=args.gamma,
    )
    map_fn = ordered_map(backend) if backend is not None else None
    run = run_adaptive(study, settings, progress=_progress(args), map_fn=map_fn)
    out_dir = Path(args.out) if args.out else Path(study.output.dir) / "adaptive" / name
    write_adaptive_atomic(run, out_dir)
    out = say(args.quiet)
    out(adaptive_markdown(run))
    out(f"wrote {out_dir}/ (adaptive.md/.html, comparison.csv, policy.csv, policy maps)")
    return 0


def _validate(args: argparse.Namespace, member: Plan, out_dir: Path) -> int:
    from optimize.validation import (  # lazy: heavy, off the start-up path
        default_plan_check,
        report_markdown,
        sanity_check,
    )

    refuse_overwrite(
        [out_dir / "validation.md"], args.force, "pass --force to replace it, or another --out"
    )
    out = say(args.quiet)
    out("bar 1: i.i.d. sanity check ...")
    sanity = sanity_check(progress=_progress(args))
    out("bar 2: default plan ...")
    default = default_plan_check(plan=member, progress=_progress(args), log=out)
    text = report_markdown(sanity, default)
    path = write_text_atomic(out_dir / "validation.md", text)
    out(text)
    out(f"wrote {path}")
    return 0 if sanity.passed and default.passed else 1


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars: on a terminal only, and not with --quiet or --no-progress."""
    return show_progress(args.quiet or args.no_progress)


def _settings(args: argparse.Namespace) -> SearchSettings:
    """The command line's overrides of the study's ``[optimize]`` table (not the seed:
    the study carries it)."""
    from glidelab.search import SearchSettings  # lazy: heavy, off the start-up path

    return SearchSettings(
        plan=args.plan,
        n_scenarios=args.n_scenarios,
        holdout_n=args.holdout_n,
        max_iterations=args.max_iterations,
        knot_spacing_years=args.knot_spacing,
        monotone_equity=args.monotone_equity,
        max_change_per_year=args.max_change_per_year,
        crypto_cap=args.crypto_cap,
        vol_cap=args.vol_cap,
        lower=_bounds(args.lower, "--lower"),
        upper=_bounds(args.upper, "--upper"),
    )


def _optimise(
    args: argparse.Namespace,
    study: Study,
    out_dir: Path,
    t0: float,
    backend: Backend | None = None,
) -> int:
    """The optimiser section of ``glidelab run`` (the same numbers for the same study and
    seed), its scoring on ``backend`` (default here), then its tear-sheet section for the
    optimised plan, into ``out_dir``."""
    from glidelab.context import StudyContext  # lazy: heavy, off the start-up path
    from glidelab.search import comparison_markdown  # lazy: heavy, off the start-up path
    from glidelab.sections import Optimiser, Tearsheet  # lazy: heavy, off the start-up path

    check_output_folder(out_dir, "--out", "choose another --out folder")
    settings = _settings(args)
    if args.seed is not None:
        study = dataclasses.replace(study, seed=args.seed)
    out = say(args.quiet)
    out(
        f"optimising on block-bootstrap scenarios ({study.data.frequency}, seed {study.seed}); "
        f"held out: parametric scenarios (another stream of seed {study.seed})"
    )
    context = StudyContext(study)
    optimiser = Optimiser(settings, backend=backend, progress=_progress(args))
    optimised = optimiser.run(context)
    for note in optimised.search.result.solver_fallbacks:
        out(f"note: {note}")
    tearsheet = not args.no_tearsheet and study.output.tearsheet
    with atomic_directory(out_dir) as tmp:
        optimiser.write(optimised, tmp)
        if tearsheet:  # the study's tear sheet of this plan, the optimised path included
            title = f"Optimised glide path of plan {optimised.plan!r} vs the study's strategies"
            section = Tearsheet(optimised, plans=(optimised.plan,), title=title)
            section.write(section.run(context), tmp / section.folder)
    out(comparison_markdown(optimised.search))
    files = "glide_path.csv, glide_path.png, comparison.csv/.md, iterations.csv"
    out(f"wrote {out_dir}/ ({files}{', tearsheet/' if tearsheet else ''})")
    return 0
