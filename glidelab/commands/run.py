"""``glidelab run``: the main job, a whole study from embedded data to results/."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import TYPE_CHECKING

from backtest.errors import StudyError
from glidelab.progress import show_progress

if TYPE_CHECKING:  # typing only: the command's start-up stays light
    from glidelab.study import DesignStudy, Study

NAME = "run"
COMPILES = True  # runs the simulator: the first run compiles it (a one-line notice)
HELP = "run a study (the default, a shipped study by name, or a TOML file) into results/"
DESCRIPTION = """\
Run a study end to end on the embedded history (no network): historical cohorts and a
block bootstrap for every plan; target-date presets, target-risk mixes, a volatility
target, Bitcoin sleeves and the glide path optimised for the study's [optimize] plan;
success probabilities and real wealth percentiles; the tear sheet; the Trinity-study
check. Everything goes atomically into <output dir>/<study name>/ (success.csv,
summary.md, settings.json with the seed and every setting, optimize/, tearsheet/,
validation/), and a short summary is printed. An existing <output dir>/<study name>/
is replaced whole, atomically: it is this command's own folder (rename it, or use --out,
to keep an earlier run). Progress bars are drawn only when stderr is a terminal.

With no argument the built-in default study runs (a member saving from 25 to 65 and
withdrawing to 95, and Maya, 45, retiring at 62). STUDY is a study file (TOML) or the
name of a shipped study (`glidelab studies` lists them: default, retiree, crypto_sleeve,
sweep_example, target_date_2060). Copy a shipped file to write your own; every field is
validated with an error that names it.

Every shipped study runs: a [crypto] table adds the crypto-sleeve research in crypto/,
a [sweep] table the sweep in sweep/, and a fund-design file ([population], [design],
[evaluation], e.g. target_date_2060) runs the design as `glidelab design` does. --quick
shrinks every section.

Compute: the scenario evaluation (and the optimiser's comparison, the crypto surface,
the sweep) runs in this process by default; --workers N starts a local Dask cluster on
127.0.0.1, --scheduler tcp://HOST:PORT uses a running one; the same keys in a [compute]
table. The numbers are the same on every backend.

examples:
  glidelab run                          the default study into results/default/
  glidelab run retiree                  a shipped study, by name
  glidelab run my_study.toml --out out  a study of your own into out/<name>/
  glidelab run --quick --quiet          a small, fast smoke run (fewer scenarios)
  glidelab run crypto_sleeve --quick
  glidelab run my_study.toml --workers 2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab run``."""
    parser.add_argument(
        "study",
        nargs="?",
        help="study file (TOML) or shipped study name (glidelab studies); default: default",
    )
    parser.add_argument("--out", help="output root (default: the study's [output].dir)")
    parser.add_argument("--seed", type=int, help="override the study's seed")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="few scenarios and iterations: a smoke run, not for conclusions",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print nothing but errors: no progress or summary"
    )
    parser.add_argument("--workers", type=int, help="start a local Dask cluster of N workers")
    parser.add_argument("--scheduler", help="use a running Dask cluster at tcp://HOST:PORT")
    parser.add_argument(
        "--threads-per-worker", type=int, help="threads per local Dask worker (default 1)"
    )


def _compute(study: Study, args: argparse.Namespace) -> Study:
    """The study's [compute] with the command line's keys over it, validated by the one
    [compute] reader (``glidelab.study.parse_compute``)."""
    from glidelab.study import parse_compute  # lazy: heavy, off the start-up path

    given = {
        k: v
        for k, v in (
            ("workers", args.workers),
            ("scheduler", args.scheduler),
            ("threads_per_worker", args.threads_per_worker),
        )
        if v is not None
    }
    if not given:
        return study
    c = study.compute
    base = (
        {}
        if "workers" in given or "scheduler" in given
        else {"workers": c.workers, "scheduler": c.scheduler}
    )
    base["threads_per_worker"] = c.threads_per_worker
    raw = {k: v for k, v in {**base, **given}.items() if v is not None}
    compute = parse_compute(raw, "--workers/--scheduler/--threads-per-worker ([compute])")
    return dataclasses.replace(study, compute=compute)


def run(args: argparse.Namespace) -> int:
    """Load, validate and run the study file (any kind) through its sections; print the
    summary."""
    from glidelab.run import run_study  # lazy: heavy, off the start-up path
    from glidelab.study import load_study  # lazy: heavy, off the start-up path

    sf = load_study(args.study)
    if args.quick:
        sf = sf.quick()
    log = (lambda _: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    if sf.design is not None:
        design = _design(sf.design, args)
        log(f"glidelab run: fund design {design.name}, seed {design.seed}")
        sf = dataclasses.replace(sf, design=design)
    else:
        study = sf.require_study("glidelab run")
        if args.seed is not None:
            study = dataclasses.replace(study, seed=args.seed)
        study = _compute(study, args)
        log(f"glidelab run: {study.source}, seed {study.seed}")
        sf = dataclasses.replace(sf, study=study)
    result = run_study(sf, args.out, progress=show_progress(args.quiet), log=log)
    if not args.quiet:
        print(result.summary)
        print(f"wrote {result.out_dir}/ in {time.perf_counter() - t0:.0f} s")
    return 0


def _design(design: DesignStudy, args: argparse.Namespace) -> DesignStudy:
    """A fund-design file's design with --seed over its seed; it runs in this process only."""
    if args.workers is not None or args.scheduler is not None:
        raise StudyError("a fund-design file runs in this process; drop --workers/--scheduler")
    return design if args.seed is None else dataclasses.replace(design, seed=args.seed)
