"""``glidelab sweep``: a study over a grid of settings, and solve-for, in-process or on Dask."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from backtest.errors import StudyError
from glidelab.backends import backend_for, dask_client
from glidelab.outputs import check_output_folder
from glidelab.progress import show_progress

if TYPE_CHECKING:
    from glidelab.studyfile.compute import ComputeConfig
    from glidelab.studyfile.sweep import SolveSpec, Sweep

NAME = "sweep"
COMPILES = True  # runs the simulator: the first run compiles it (a one-line notice)
HELP = "run a study over a grid of settings (and solve for a target success rate)"
DESCRIPTION = """\
Run a sweep file: a study file plus a [sweep] table whose [sweep.grid] lists values of
plan or strategy fields (withdrawal rate or amount, equity share, fees, retirement age,
crypto sleeve, preset names...), over one or more scenario sets. Every grid point sees
the same scenarios (common random numbers). Writes, into <output dir>/<study name>/:
sweep.csv (one row per grid point and scenario set: success rate and its standard
error, ruin, shortfall years, real terminal-wealth percentiles), heat maps or line
charts for one or two swept axes, points/ (one file per finished grid point: a rerun
of an interrupted sweep resumes from them), and solve.csv with --solve-for or a
[sweep.solve] table: the value reaching the target success, with its 95 % interval.
An existing folder is never overwritten blindly: a rerun resumes from its points/ and
rewrites the tables from them (delete the folder, or use --out, to start afresh).
Progress bars are drawn only when stderr is a terminal.

Compute: in this process by default; --workers N starts a local Dask cluster on
127.0.0.1 (N single-threaded processes); --scheduler tcp://HOST:PORT uses a running
cluster. The same keys in a [compute] table. Answers are identical on every backend.

examples:
  glidelab sweep sweep_example              # the shipped example, by name
  glidelab sweep sweep_example --quick      # a smoke run (fewer scenarios and points)
  glidelab sweep my_sweep.toml --workers 2
  glidelab sweep my_sweep.toml --solve-for plan.withdrawal.amount --lo 10000 --hi 90000
  glidelab sweep my_sweep.toml --scheduler tcp://127.0.0.1:8786 --quiet
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab sweep``."""
    parser.add_argument(
        "sweep", help="sweep file (TOML): a study plus [sweep], or a shipped study's name"
    )
    parser.add_argument("--out", help="output root (default: the study's [output].dir)")
    parser.add_argument("--workers", type=int, help="start a local Dask cluster of N workers")
    parser.add_argument("--scheduler", help="use a running Dask cluster at tcp://HOST:PORT")
    parser.add_argument(
        "--threads-per-worker", type=int, help="threads per local Dask worker (default 1)"
    )
    parser.add_argument("--n-scenarios", type=int, help="scenarios per random set")
    parser.add_argument("--chunk-size", type=int, help="scenarios per task (memory per worker)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: the study and the sweep shrunk as `glidelab run --quick` does",
    )
    solve = parser.add_argument_group("solve-for (overrides [sweep.solve])")
    solve.add_argument("--solve-for", metavar="FIELD", help="e.g. plan.withdrawal.amount")
    solve.add_argument("--target", type=float, help="target success rate (default 0.9)")
    solve.add_argument("--lo", type=float, help="lower end of the search")
    solve.add_argument("--hi", type=float, help="upper end of the search")
    solve.add_argument("--solve-scenarios", help="scenario set to solve on (default the last)")
    solve.add_argument("--integer", action="store_true", help="search whole numbers (ages)")
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    parser.add_argument(
        "--quiet", action="store_true", help="print nothing but errors: no progress or summary"
    )


class _Overrides(TypedDict, total=False):
    """The sweep fields the command line can override."""

    n_scenarios: int
    chunk_size: int
    compute: ComputeConfig
    solve: SolveSpec


def _with_overrides(sweep: Sweep, args: argparse.Namespace) -> Sweep:
    """``sweep`` with the command line's --n-scenarios, --chunk-size, compute and solve options."""
    from glidelab.sweep import ComputeConfig, SolveSpec  # lazy: heavy, off the start-up path

    changes: _Overrides = {}
    if args.n_scenarios is not None:
        changes["n_scenarios"] = args.n_scenarios
    if args.chunk_size is not None:
        changes["chunk_size"] = args.chunk_size
    if args.workers is not None or args.scheduler is not None:
        changes["compute"] = ComputeConfig(
            workers=args.workers,
            scheduler=args.scheduler,
            threads_per_worker=args.threads_per_worker or sweep.compute.threads_per_worker,
        )
    elif args.threads_per_worker is not None:
        changes["compute"] = dataclasses.replace(
            sweep.compute, threads_per_worker=args.threads_per_worker
        )
    if args.solve_for is not None:
        base = sweep.solve
        lo = args.lo if args.lo is not None else (base.lo if base else None)
        hi = args.hi if args.hi is not None else (base.hi if base else None)
        if lo is None or hi is None:
            raise StudyError("--solve-for needs --lo and --hi (the search bracket)")
        changes["solve"] = SolveSpec(
            field=args.solve_for,
            lo=lo,
            hi=hi,
            target=args.target
            if args.target is not None
            else (base.target if base else SolveSpec.target),
            scenarios=args.solve_scenarios or (base.scenarios if base else sweep.sets[-1]),
            integer=args.integer,
        )
    return dataclasses.replace(sweep, **changes) if changes else sweep


def run(args: argparse.Namespace) -> int:
    """Load the sweep file, run its sweep section (as ``glidelab run`` does) on the chosen
    backend into ``<out>/<name>/`` (resuming from the points already there), print where
    it went."""
    from glidelab.context import StudyContext  # lazy: heavy, off the start-up path
    from glidelab.study import StudyFile  # lazy: heavy, off the start-up path
    from glidelab.sweep import (  # lazy: heavy, off the start-up path
        SweepSection,
        check_sweep,
        load_sweep,
    )

    sweep = load_sweep(args.sweep)
    if args.quick:  # the study and the sweep shrunk as `glidelab run --quick` shrinks them
        small = StudyFile(sweep.study, sweep=sweep).quick().sweep
        assert small is not None
        sweep = small
    sweep = _with_overrides(sweep, args)
    check_sweep(sweep)
    log = (lambda _: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    folder = Path(args.out if args.out is not None else sweep.study.output.dir) / sweep.name
    check_output_folder(folder, "sweep folder", "choose another --out")
    context = StudyContext(sweep.study)
    c = sweep.compute
    progress = show_progress(args.quiet)
    t0 = time.perf_counter()
    if c.workers is None and c.scheduler is None:
        log(f"glidelab sweep: {sweep.study.source}, in-process")
        section = SweepSection(sweep, backend_for(None), progress, not args.no_charts, folder)
        result = section.run(context)
        section.write(result, folder)
    else:
        with dask_client(c.workers, c.scheduler, c.threads_per_worker) as client:
            log(f"glidelab sweep: {sweep.study.source}, Dask at {client.scheduler.address}")
            backend = backend_for(client)
            section = SweepSection(sweep, backend, progress, not args.no_charts, folder)
            result = section.run(context)
            section.write(result, folder)
    if not args.quiet:
        print(
            f"{len(result.table)} rows ({result.n_computed} grid points computed, "
            f"{result.n_resumed} resumed) in {time.perf_counter() - t0:.0f} s"
        )
        if result.solve is not None:
            cols = [c for c in result.solve.columns if c in {a.field for a in sweep.axes}]
            for _, r in result.solve.iterrows():
                where = ", ".join(f"{k}={r[k]}" for k in cols)
                print(
                    f"{r['field']} reaching {100 * r['target']:g} % success"
                    f"{' at ' + where if where else ''}: {r['value']:.6g} "
                    f"({100 * r['confidence']:g} % interval {r['ci_low']:.6g} to {r['ci_high']:.6g})"
                )
        print(f"wrote {result.out_dir}/")
    return 0
