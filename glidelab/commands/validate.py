"""``glidelab validate``: reproduce published results to check the engine (offline)."""

from __future__ import annotations

import argparse
from pathlib import Path

from glidelab.outputs import check_output_file, check_output_folder

NAME = "validate"
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

Files: <out>/trinity.csv and <out>/trinity.md, each written atomically.

example:
  glidelab validate trinity --out results/validation
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab validate``."""
    parser.add_argument("study", choices=["trinity"], help="which published table")
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


def run(args: argparse.Namespace) -> int:
    """Run the validation section of ``glidelab run`` under the options, write it, print
    the report."""
    from backtest.trinity import (  # lazy: heavy, off the start-up path
        TrinitySettings,
        summarize,
        to_markdown,
    )
    from glidelab.context import StudyContext  # lazy: heavy, off the start-up path
    from glidelab.sections import Validation  # lazy: heavy, off the start-up path
    from glidelab.study import load_study  # lazy: heavy, off the start-up path

    out = check_output_folder(Path(args.out), "--out", "give --out a folder path")
    for name in ("trinity.csv", "trinity.md"):
        check_output_file(out / name, "output file", "choose another --out folder")
    section = Validation(TrinitySettings(bonds=args.bonds, timing=args.timing))
    table = section.run(StudyContext(load_study().require_study("glidelab validate")))
    section.write(table, out)
    print(to_markdown(table, section.settings))
    s = summarize(table)
    print(
        f"mean |diff| {s['mean_abs_diff_pp']:.2f} pp, largest {s['max_abs_diff_pp']:.2f} pp "
        f"over {s['n_cells']} cells"
    )
    print(f"wrote {out / 'trinity.csv'}")
    print(f"wrote {out / 'trinity.md'}")
    return 0
