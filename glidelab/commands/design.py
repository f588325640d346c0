"""``glidelab design``: one glide path for a whole vintage of members (fund design)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from glidelab.backends import DaskBackend, dask_client, ordered_map

NAME = "design"
COMPILES = True  # runs the simulator: the first run compiles it (a one-line notice)
HELP = "design a target-date fund's glide path for a population of members (frontier, presets)"
DESCRIPTION = """\
Draw a vintage of members (salaries, auto-escalating contributions, match, IRS limits,
career breaks, cash-outs and hardship withdrawals with the 10 % tax, retirement 62-70,
Social Security from their own earnings, SSA cohort mortality), search the glide path
they all share (cvxpy: max success, min CVaR shortfall, the frontier between them, max
income under a success floor, within the committee's constraints), and score it with
the industry presets on fresh members and a fresh-seed bootstrap, the US historical
cohorts and 15 other developed markets (JST, real local currency).

Writes <out>/<study name>/: design.html and design.pdf (frontier with the presets,
designed path vs presets, member distributions, who fails, countries), CSV tables,
designed_path.csv and settings.json; an existing <out>/<study name>/ is replaced whole,
atomically (it is this command's own folder: use another --out to keep an earlier run).
STUDY is a design file (TOML) or the name of a
shipped one; without it, the shipped target_date_2060 study.

examples:
  glidelab design                              # the shipped target_date_2060 study
  glidelab design target_date_2060 --quick     # the same, by name, as a smoke run
  glidelab design my_vintage.toml --out results
  glidelab design --quick                      # a smoke run (small population)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab design``."""
    parser.add_argument(
        "study",
        nargs="?",
        default="target_date_2060",
        help="a design study file (TOML) or shipped name (default: target_date_2060)",
    )
    parser.add_argument("--out", type=Path, default=Path("results"), help="output root")
    parser.add_argument("--quick", action="store_true", help="small populations, short search")
    parser.add_argument("--seed", type=int, help="override the study's seed (as glidelab run does)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument(
        "--workers",
        type=int,
        help="run the frontier's searches, the constraint costs and the scoring on a local "
        "Dask cluster of N processes on 127.0.0.1 (the same numbers as in-process)",
    )
    parser.add_argument("--scheduler", help="the same on a Dask cluster at tcp://HOST:PORT")


def run(args: argparse.Namespace) -> int:
    """Load the design study, search and score the glide path, print the summary."""
    from glidelab.design import (  # lazy: heavy, off the start-up path
        load_design_study,
        quick,
        run_design,
    )

    study = load_design_study(args.study)
    if args.quick:
        study = quick(study)
    if args.seed is not None:
        study = dataclasses.replace(study, seed=args.seed)
    if args.workers is None and args.scheduler is None:
        out = run_design(study, args.out)
    else:
        with dask_client(args.workers, args.scheduler) as client:
            out = run_design(study, args.out, map_fn=ordered_map(DaskBackend(client)))
    if not args.quiet:
        placed = out.placed
        d = placed.index[0]
        print(f"fund design {study.name}: written to {out.out_dir}")
        print(
            f"  designed path, in sample: success {100 * placed.loc[d, 'success']:.1f} %, "
            f"shortfall CVaR95 {placed.loc[d, 'shortfall']:.2f} years"
        )
        for name, row in placed.iloc[1:].iterrows():
            print(
                f"  {name}: success {100 * row['success']:.1f} % "
                f"({100 * (row['success'] - placed.loc[d, 'success']):+.1f} pp vs designed), "
                f"shortfall {row['shortfall']:.2f} years"
            )
        gap = out.holdout_gap["gap in - out (pp)"]
        print(
            f"  held-out gap (success in sample - on fresh members and paths): designed "
            f"{gap.iloc[0]:+.1f} pp, presets {gap.iloc[1:].mean():+.1f} pp on average"
        )
        if "pooled" in out.countries.index:
            pooled = out.countries.loc["pooled"]
            print(
                "  pooled other countries, survival-weighted success: "
                + ", ".join(f"{k} {100 * v:.1f} %" for k, v in pooled.items())
            )
        print(f"  {out.seconds['total']:.0f} s")
    return 0
