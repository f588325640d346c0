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

examples:
  glidelab run                          the default study into results/default/
  glidelab run my_study.toml --out out  a study of your own into out/<name>/
  glidelab run --quick --quiet          a small, fast smoke run (fewer scenarios)
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


def run(args: argparse.Namespace) -> int:
    """Load, validate and run the study; print the summary."""
    from glidelab.run import run_study
    from glidelab.study import load_study

    study = load_study(args.study)
    if args.seed is not None:
        study = dataclasses.replace(study, seed=args.seed)
    if args.quick:
        study = dataclasses.replace(
            study,
            # Smaller, never switched on: a study with no bootstrap keeps none, so --quick
            # runs (or refuses) exactly the study it was given.
            scenarios=dataclasses.replace(
                study.scenarios, bootstrap_n=min(study.scenarios.bootstrap_n, 300)
            ),
            optimize=dataclasses.replace(
                study.optimize,
                n_scenarios=min(study.optimize.n_scenarios, 300),
                holdout_n=min(study.optimize.holdout_n, 500),
                max_iterations=min(study.optimize.max_iterations, 4),
            ),
        )
    log = (lambda _: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    log(f"glidelab run: {study.source}, seed {study.seed}")
    result = run_study(study, args.out, progress=not args.quiet, log=log)
    if not args.quiet:
        print(result.summary)
        print(f"wrote {result.out_dir}/ in {time.perf_counter() - t0:.0f} s")
    return 0
