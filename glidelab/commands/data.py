"""``glidelab data``: the embedded historical series and their statistics (offline)."""

from __future__ import annotations

import argparse
import datetime as dt
import textwrap
import warnings
from typing import cast

from backtest.io import write_text_atomic
from glidelab.outputs import check_output_file
from glidelab.progress import refuse_overwrite

NAME = "data"
HELP = "list the embedded historical series with annualised statistics (offline)"
DESCRIPTION = """\
Print every historical series shipped inside glidelab (no network needed): its name as
used by backtest.data.load_history, frequency, first and last period, annualised
arithmetic and geometric mean, annualised volatility, worst single period (value and
date) and source.

Monthly figures are annualised: arithmetic mean x 12, geometric mean by compounding
(prod(1+r)^(12/n) - 1), volatility x sqrt(12). Returns are nominal USD unless --real
(deflated by the CPI of the same frequency). Annual us_stocks is the S&P 500
(Damodaran); monthly us_stocks is the CRSP total market (Ken French). Shiller's monthly
series use monthly-average prices and are smoothed. Full provenance:
backtest/data/embedded/PROVENANCE.md and SERIES.md.

--csv never replaces an existing file silently: the command stops unless --force.
--quiet prints the series names only, one a line (nothing with --csv).

--yahoo TICKER ... fetches Yahoo Finance total returns instead (adjusted closes; needs the
network once): they are cached on disk (--refresh downloads again), offline the cache
serves with a note, and without a cache the command says so. Default: monthly, the last
ten calendar years (--start, --end). --csv then writes the returns.

example:
  glidelab data --frequency monthly --csv results/series.csv
  glidelab data --yahoo SPY AGG --start 2008-01-01
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab data``."""
    parser.add_argument(
        "--frequency",
        choices=["annual", "monthly"],
        default=None,
        help="only annual or only monthly series (default: both)",
    )
    parser.add_argument(
        "--real",
        action="store_true",
        help="statistics of real returns (deflated by CPI; cpi itself is left out)",
    )
    parser.add_argument(
        "--describe",
        action="store_true",
        help="also print what each series measures and its caveats",
    )
    parser.add_argument(
        "--csv",
        metavar="PATH",
        default=None,
        help="also write the table (decimal fractions) to this CSV file",
    )
    parser.add_argument(
        "--yahoo",
        nargs="+",
        metavar="TICKER",
        default=None,
        help="fetch these Yahoo Finance tickers (e.g. SPY BTC-USD), cache them, show their stats",
    )
    parser.add_argument("--start", default=None, help="with --yahoo: first date, YYYY-MM-DD")
    parser.add_argument("--end", default=None, help="with --yahoo: last date (default: yesterday)")
    parser.add_argument(
        "--refresh", action="store_true", help="with --yahoo: download again despite the cache"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing --csv file")
    parser.add_argument(
        "--quiet", action="store_true", help="names only, one a line (with --csv: nothing)"
    )


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def run(args: argparse.Namespace) -> int:
    """Print the table; write it as CSV if asked."""
    from backtest.data import get_series, summary_table  # lazy: heavy, off the start-up path

    if args.csv:
        check_output_file(args.csv, "--csv", "give a file path such as results/series.csv")
        refuse_overwrite([args.csv], args.force, "pass --force to replace it, or another path")
    if args.yahoo:
        return run_yahoo(args)
    table = summary_table(args.frequency, real=args.real)
    if args.quiet:
        if args.csv:
            write_text_atomic(args.csv, table.to_csv(index=False, float_format="%.6f"))
        else:
            print("\n".join(dict.fromkeys(str(n) for n in table["name"])))
        return 0
    header = ["name", "freq", "first", "last", "n", "arith/yr", "geo/yr", "vol/yr", "worst"]
    header += ["when", "source"]
    # pandas-stubs types a row's fields as any scalar: the labels are str, the rates float.
    rows = [
        [
            str(r.name),
            str(r.frequency),
            str(r.first),
            str(r.last),
            str(r.periods),
            _pct(cast(float, r.arith_mean_ann)),
            _pct(cast(float, r.geo_mean_ann)),
            _pct(cast(float, r.vol_ann)),
            _pct(cast(float, r.worst)),
            str(r.worst_period),
            str(r.source),
        ]
        for r in table.itertuples()
    ]
    right = {"n", "arith/yr", "geo/yr", "vol/yr", "worst"}
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        out = [
            c.rjust(w) if h in right else c.ljust(w)
            for h, c, w in zip(header, cells, widths, strict=True)
        ]
        return "  ".join(out).rstrip()

    terms = "real (CPI-deflated)" if args.real else "nominal USD"
    print(f"Embedded historical series, {terms} total returns.")
    print(textwrap.fill(table.attrs["note"], width=100))
    print()
    print(line(header))
    print(line(["-" * w for w in widths]))
    for cells in rows:
        print(line(cells))
    if args.describe:
        print()
        for row in table.itertuples():
            info = get_series(str(row.name), str(row.frequency))
            print(f"{row.name} ({row.frequency}): {info.description}")
    if args.csv:
        path = write_text_atomic(args.csv, table.to_csv(index=False, float_format="%.6f"))
        print(f"\nwrote {path}")
    return 0


def run_yahoo(args: argparse.Namespace) -> int:
    """``--yahoo``: fetch (or read from the cache) and summarise Yahoo total returns."""
    from backtest.data.yahoo import (  # lazy: heavy (pyarrow, yfinance on first download)
        StaleCacheWarning,
        YahooFrequency,
        cache_contents,
        default_cache_dir,
        load_yahoo,
        yahoo_summary,
    )

    frequency: YahooFrequency = args.frequency or "monthly"
    start = args.start or f"{dt.date.today().year - 10}-01-01"
    end = args.end or (dt.date.today() - dt.timedelta(days=1)).isoformat()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StaleCacheWarning)
        returns = load_yahoo(args.yahoo, start, end, frequency, refresh=args.refresh)
    stale = [str(w.message) for w in caught if issubclass(w.category, StaleCacheWarning)]
    for w in caught:  # anything else (a gap warning) is shown as Python would have
        if not issubclass(w.category, StaleCacheWarning):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if getattr(args, "quiet", False):
        if args.csv:
            write_text_atomic(args.csv, returns.to_csv(float_format="%.8f"))
        else:
            print("\n".join(returns.columns))
        return 0
    first, last = returns.index[0].date(), returns.index[-1].date()
    print(f"Yahoo Finance total returns (adjusted closes), nominal, {frequency}, {first}..{last}.")
    if stale:
        print("offline: " + " ".join(stale))
    table = yahoo_summary(returns)
    print(table.to_string(formatters={c: _pct for c in ("arith/yr", "geo/yr", "vol/yr", "worst")}))
    print(f"\ncache {default_cache_dir()}: " + "; ".join(cache_contents()))
    if args.csv:
        path = write_text_atomic(args.csv, returns.to_csv(float_format="%.8f"))
        print(f"wrote {path}")
    return 0
