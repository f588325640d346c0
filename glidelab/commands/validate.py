"""``glidelab validate``: reproduce published results to check the engine (offline)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from glidelab.outputs import check_output_file, check_output_folder
from glidelab.progress import refuse_overwrite, say

NAME = "validate"
COMPILES = True  # runs the simulator: the first run compiles it (a one-line notice)
HELP = "reproduce a published table (the Trinity study) and write the comparison"
DESCRIPTION = """\
Check the simulator against a published study on the embedded data and write the
cell-by-cell comparison (CSV) and a Markdown report with the summary statistics.

  trinity   Cooley, Hubbard and Walz (1998), "Retirement Savings: Choosing a Withdrawal
            Rate That Is Sustainable", AAII Journal: success rates of inflation-adjusted
            withdrawals of 3% to 8% of the starting balance, 15 and 30 years, stock/bond
            mixes 100/0, 75/25, 50/50, 25/75 (36 cells). Ours: annual S&P 500 (us_stocks)
            and Moody's Aaa corporates (corp_aaa) with Dec/Dec CPI, cohorts starting 1928
            onward and ending by 1995, annual rebalancing, each year's withdrawal half at
            the start and half at the end of the year (Trinity withdrew monthly).

  jst4      The 4% rule in 16 JST countries (Jorda-Schularick-Taylor Macrohistory R6,
            real local currency): 60/40 equity/government bonds rebalanced yearly,
            withdrawals indexed, 30 years, cohorts of consecutive calendar years with
            equity, bond and CPI data (no wrap-around), through the simulator and by an
            independent plain-numpy count (issue 25). Files: jst_4pct.csv, jst_4pct.md.

  irlam     Irlam (2013), "Asset Allocation Showdown" (AACalc): survival-weighted chance
            of failure and average failure length of age in bonds, age minus 10 in
            bonds, the 2012 simplified target-date path and a DP policy fitted on
            1872-1926 only, for a man of 25 saving and a man of 65 with 1m USD, on
            100,000 sequences of 20-year blocks of 1927-2012 (Shiller's data), issue 25.
            Options: --sequences N, --seed S. Files: irlam.csv, irlam.md.

Files: <out>/trinity.csv and <out>/trinity.md, each written atomically. Existing files
are never replaced silently: the command stops before computing unless --force (or use
another --out). --quiet prints nothing but errors.

example:
  glidelab validate trinity --out results/validation
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab validate``."""
    parser.add_argument("study", choices=["trinity", "jst4", "irlam"], help="which published table")
    parser.add_argument(
        "--out",
        default="results/validation",
        metavar="DIR",
        help="folder for the CSV and Markdown files (default: results/validation)",
    )
    parser.add_argument(
        "--timing",
        choices=["split", "start", "end"],
        default="split",
        help="when each year's withdrawal is taken (default: split, half at each end)",
    )
    parser.add_argument(
        "--bonds",
        default="corp_aaa",
        help="annual bond series from the embedded data (default: corp_aaa)",
    )
    parser.add_argument(
        "--sequences",
        type=int,
        default=100_000,
        metavar="N",
        help="irlam: bootstrapped return sequences per scenario (default: 100000)",
    )
    parser.add_argument(
        "--seed", type=int, default=2013, help="irlam: seed of the bootstrap (default: 2013)"
    )
    parser.add_argument("--force", action="store_true", help="replace existing result files")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def run(args: argparse.Namespace) -> int:
    """Run the validation section of ``glidelab run`` under the options, write it, print
    the report."""
    out = say(args.quiet)
    if args.study == "jst4":
        return _jst4(_checked(args, ("jst_4pct.csv", "jst_4pct.md")), out)
    if args.study == "irlam":
        return _irlam(_checked(args, ("irlam.csv", "irlam.md")), args.sequences, args.seed, out)
    from backtest.trinity import (  # lazy: heavy, off the start-up path
        TrinitySettings,
        summarize,
        to_markdown,
    )
    from glidelab.context import StudyContext  # lazy: heavy, off the start-up path
    from glidelab.sections import Validation  # lazy: heavy, off the start-up path
    from glidelab.study import load_study  # lazy: heavy, off the start-up path

    folder = _checked(args, ("trinity.csv", "trinity.md"))
    section = Validation(TrinitySettings(bonds=args.bonds, timing=args.timing))
    table = section.run(StudyContext(load_study().require_study("glidelab validate")))
    section.write(table, folder)
    out(to_markdown(table, section.settings))
    s = summarize(table)
    out(
        f"mean |diff| {s['mean_abs_diff_pp']:.2f} pp, largest {s['max_abs_diff_pp']:.2f} pp "
        f"over {s['n_cells']} cells"
    )
    out(f"wrote {folder / 'trinity.csv'}")
    out(f"wrote {folder / 'trinity.md'}")
    return 0


def _checked(args: argparse.Namespace, names: tuple[str, ...]) -> Path:
    """``--out`` checked before any work: writable, and none of ``names`` replaced
    unless ``--force``."""
    folder = check_output_folder(Path(args.out), "--out", "give --out a folder path")
    for name in names:
        check_output_file(folder / name, "output file", "choose another --out folder")
    refuse_overwrite(
        [folder / n for n in names], args.force, "pass --force to replace, or another --out"
    )
    return folder


def _jst4(out: Path, log: Callable[[str], None]) -> int:
    """``glidelab validate jst4``: the 4 % rule per JST country, written and printed."""
    from backtest.jst_check import (  # lazy: heavy, off the start-up path
        four_percent_table,
        to_markdown,
        write,
    )

    table = four_percent_table()
    for path in write(table, out):
        log(f"wrote {path}")
    log(to_markdown(table))
    return 0


def _irlam(out: Path, n_sequences: int, seed: int, log: Callable[[str], None]) -> int:
    """``glidelab validate irlam``: Irlam's showdown table, written and printed."""
    from optimize.irlam import (  # lazy: heavy, off the start-up path
        IrlamSettings,
        reproduce_irlam,
        to_markdown,
        write_outputs,
    )

    settings = IrlamSettings(n_sequences=n_sequences, seed=seed)
    table = reproduce_irlam(settings)
    for path in write_outputs(table, out, settings):
        log(f"wrote {path}")
    log(to_markdown(table, settings))
    log(f"fit and scoring took {table.attrs['seconds']:.1f} s")
    return 0
