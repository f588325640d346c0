"""``glidelab run``: the main job, a whole study from embedded data to results/."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

NAME = "run"
HELP = "run a study (the built-in default, or a TOML file) and write results/ (offline)"
DESCRIPTION = """\
Run a study end to end on the embedded history (no network): historical cohorts and a
block bootstrap for every plan; target-date presets, target-risk mixes, a volatility
target, Bitcoin sleeves and the glide path optimised for the study's [optimize] plan;
success probabilities and real wealth percentiles; the tear sheet; the Trinity-study
check. Everything goes atomically into <output dir>/<study name>/ (success.csv,
summary.md, settings.json with the seed and every setting, optimize/, tearsheet/,
validation/), and a short summary is printed.

With no argument the built-in default study runs (glidelab/studies/default.toml: a
member saving from 25 to 65 and withdrawing to 95, and Maya, 45, retiring at 62). Copy
that file to write your own; every field is validated with an error that names it.

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
  glidelab run my_study.toml --out out  a study of your own into out/<name>/
  glidelab run --quick --quiet          a small, fast smoke run (fewer scenarios)
  glidelab run glidelab/studies/crypto_sleeve.toml --quick
  glidelab run my_study.toml --workers 2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab run``."""
    parser.add_argument("study", nargs="?", help="study file (TOML); default: built-in study")
    parser.add_argument("--out", help="output root (default: the study's [output].dir)")
    parser.add_argument("--seed", type=int, help="override the study's seed")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="few scenarios and iterations: a smoke run, not for conclusions",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress or summary output")
    parser.add_argument("--workers", type=int, help="start a local Dask cluster of N workers")
    parser.add_argument("--scheduler", help="use a running Dask cluster at tcp://HOST:PORT")
    parser.add_argument(
        "--threads-per-worker", type=int, help="threads per local Dask worker (default 1)"
    )


def _compute(study, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The study's [compute] with the command line's keys over it, validated by the one
    [compute] reader (``glidelab.study.parse_compute``)."""
    from glidelab.study import parse_compute

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
    """Load, validate and run the study file (any kind); print the summary."""
    from glidelab.run import load_study_file, quick_file, run_study

    sf = load_study_file(args.study)
    if args.quick:
        sf = quick_file(sf)
    log = (lambda _: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    if sf.design is not None:
        return _run_design(sf.design, args, log, t0)
    study = sf.study
    assert study is not None
    if args.seed is not None:
        study = dataclasses.replace(study, seed=args.seed)
    study = _compute(study, args)
    log(f"glidelab run: {study.source}, seed {study.seed}")
    result = run_study(
        study, args.out, progress=not args.quiet, log=log, crypto=sf.crypto, sweep=sf.sweep
    )
    if not args.quiet:
        print(result.summary)
        print(f"wrote {result.out_dir}/ in {time.perf_counter() - t0:.0f} s")
    return 0


def _run_design(design, args: argparse.Namespace, log, t0: float) -> int:  # type: ignore[no-untyped-def]
    """A fund-design file: the design, as ``glidelab design`` runs it."""
    from backtest.errors import StudyError
    from glidelab.design import run_design

    if args.workers is not None or args.scheduler is not None:
        raise StudyError("a fund-design file runs in this process; drop --workers/--scheduler")
    if args.seed is not None:
        design = dataclasses.replace(design, seed=args.seed)
    log(f"glidelab run: fund design {design.name}, seed {design.seed}")
    out = run_design(design, args.out if args.out is not None else "results")
    if not args.quiet:
        print(
            f"fund design {design.name}: written to {out.out_dir}/ in "
            f"{time.perf_counter() - t0:.0f} s"
        )
    return 0
