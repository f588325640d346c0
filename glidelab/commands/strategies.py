"""``glidelab strategies``: the strategy presets with their weights at a few ages."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from strategies.base import Schedule
from strategies.target_date import GlidePath

NAME = "strategies"
HELP = "list the strategy presets with their weights at ages 25, 45, 65 and 85"
DESCRIPTION = """\
Print every strategy preset (glide paths, fixed mixes, volatility targets, risk parity,
Bitcoin sleeves) with a one-line description and its target weights at ages 25, 45, 65
and 85 for a member retiring at 65. Weights are percentages in the order of the assets
column (e.g. us_stocks/tbonds_10y = 90/10). Adaptive presets (volatility target, risk
parity) depend on past returns, so instead of weights they show "adaptive" with their
target and bounds. Knots and sources: --name PRESET prints the preset's full
description.

Preset names are what study files and preset(name) in Python accept; asset names are
parameters (defaults us_stocks, tbonds_10y, tbills, btc).

examples:
  glidelab strategies
  glidelab strategies --ages 30 50 70 --retirement-age 67
  glidelab strategies --name vanguard_target_retirement
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab strategies``."""
    parser.add_argument(
        "--ages",
        type=float,
        nargs="+",
        default=[25.0, 45.0, 65.0, 85.0],
        metavar="AGE",
        help="ages (years) at which to show weights (default: 25 45 65 85)",
    )
    parser.add_argument(
        "--retirement-age",
        type=float,
        default=65.0,
        help="retirement age in years used for glide paths (default: 65)",
    )
    parser.add_argument(
        "--name",
        default=None,
        metavar="PRESET",
        help="show one preset with its full description (source and knots)",
    )
    parser.add_argument("--quiet", action="store_true", help="preset names only, one a line")


def _fmt_pct(x: float) -> str:
    v = round(100.0 * x, 1)
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.1f}"


def weights_table(strategy, ages: list[float], retirement_age: float) -> list[str] | None:
    """Weights of a static strategy at ``ages`` as ``"90/10"`` cells; None if adaptive."""

    if strategy.depends_on_returns:
        return None
    a = np.asarray(ages, dtype=np.float64)
    sch = Schedule(age_start=a, retirement_age=float(retirement_age), periods_per_year=1)
    w = strategy.target_weights(sch, np.zeros((1, a.size, len(strategy.assets))))[0]
    return ["/".join(_fmt_pct(x) for x in row) for row in w]


def run(args: argparse.Namespace) -> int:
    """Print the preset table (or one preset in full)."""
    from strategies.presets import (  # lazy: heavy, off the start-up path (scipy)
        PRESETS,
        list_presets,
        preset,
    )

    names = [n for n, _ in list_presets()]
    if args.name is not None:
        if args.name not in PRESETS:
            print(
                f"glidelab strategies: error: unknown preset {args.name!r}; valid presets: "
                f"{', '.join(names)}",
                file=sys.stderr,
            )
            return 2
        names = [args.name]
    if args.quiet:
        print("\n".join(names))
        return 0
    if not 0 < args.retirement_age <= 125 or any(not 0 <= a <= 125 for a in args.ages):
        print("glidelab strategies: error: ages must lie in [0, 125] years", file=sys.stderr)
        return 2

    descriptions = dict(list_presets())
    age_heads = [f"age {a:g}" for a in args.ages]
    rows = []
    for name in names:
        s = preset(name)
        cells = weights_table(s, args.ages, args.retirement_age)
        rows.append((name, "/".join(s.assets), cells, s))
    w_name = max(len("preset"), *(len(r[0]) for r in rows))
    w_assets = max(len("assets"), *(len(r[1]) for r in rows))
    w_cell = max(9, *(len(c) for r in rows if r[2] for c in r[2]))
    print(
        f"Strategy presets: target weights in % (assets order), retirement at "
        f"{args.retirement_age:g}\n"
    )
    print(
        f"{'preset':<{w_name}}  {'assets':<{w_assets}}  "
        + "  ".join(f"{h:>{w_cell}}" for h in age_heads)
    )
    for name, assets, cells, s in rows:
        if cells is None:
            describe = getattr(s, "describe", None)
            text = describe() if callable(describe) else "adaptive (depends on past returns)"
            if not text.startswith("adaptive"):
                text = f"adaptive: {text}"
            body = text
        else:
            body = "  ".join(f"{c:>{w_cell}}" for c in cells)
        print(f"{name:<{w_name}}  {assets:<{w_assets}}  {body}")
        if args.name is None:
            print(f"{'':<{w_name}}  {descriptions[name]}")
    if args.name is not None:
        doc = (PRESETS[args.name].__doc__ or "").strip()
        print("\n" + doc)
        s = rows[0][3]
        source = getattr(s, "source", "")
        if source:
            print(f"\nsource: {source}")
        if isinstance(s, GlidePath):  # the one strategy defined by knots
            print("\nknots (years to retirement: weights %):")
            for k, w in reversed(list(zip(s.knots_years_to_retirement, s.weights, strict=True))):
                print(f"  {k:>6g}: {'/'.join(_fmt_pct(x) for x in w)}")
    return 0
