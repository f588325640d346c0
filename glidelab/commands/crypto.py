"""``glidelab crypto``: the crypto-allocation research of a study file (offline)."""

from __future__ import annotations

import argparse
from pathlib import Path

from glidelab.backends import DaskBackend, dask_client

NAME = "crypto"
COMPILES = True  # runs the simulator: the first run compiles it (a one-line notice)
HELP = "crypto-sleeve research: assumption surface, break-even, stress, rules, risk, history"
DESCRIPTION = """\
Research whether a small Bitcoin sleeve belongs in a retirement portfolio, under stated
forward assumptions rather than Bitcoin's short history:

  surface      change against no sleeve in success, median terminal wealth, expected
               shortfall and drawdown over a grid of Bitcoin log mean x volatility x
               correlation with equities, on common random numbers, with standard errors;
  break-even   the Bitcoin expected return at which each sleeve neither helps nor hurts
               success (bisection on common random numbers, with a 95 % interval);
  stress       -80 % in the retirement year or at a chosen age, 2014-15, 2018 and 2022
               replayed at retirement, correlation jump in crash years;
  rules        calendar, band, none, volatility-scaled, cap after drift; turnover, costs;
  risk         the sleeve's Euler share of portfolio volatility and CVaR;
  history      all years, a mature window, scaled-down returns; yearly statistics; the
               data-quality caveat; a historical window backtest with and without the sleeve.

The study file is an ordinary study plus a [crypto] table (see the shipped
crypto_sleeve study); STUDY is such a file or the name of a shipped one. Writes <out>/<name>/: every table as CSV and JSON,
settings.json, tearsheet/crypto.html and tearsheet/crypto.pdf, atomically; an existing
<out>/<name>/ is replaced whole (this command's own folder: use another --out to keep it).

Compute: in this process by default; --workers N starts a local Dask cluster on 127.0.0.1
and runs the surface there (one task per sleeve size); --scheduler tcp://HOST:PORT uses a
running cluster. The tables are the same either way.

examples:
  glidelab crypto                      # the shipped crypto_sleeve study
  glidelab crypto my_crypto.toml --out results --quick
  glidelab crypto crypto_sleeve --workers 2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab crypto``."""
    parser.add_argument(
        "study",
        nargs="?",
        default="crypto_sleeve",
        help="study file with a [crypto] table, or a shipped study's name (default: crypto_sleeve)",
    )
    parser.add_argument("--out", default=None, metavar="DIR", help="results folder")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 400 scenarios, a 3 x 3 grid, 100 rule and history scenarios",
    )
    parser.add_argument("--quiet", action="store_true", help="no log lines: print only the summary")
    parser.add_argument("--workers", type=int, help="run the surface on a local Dask cluster")
    parser.add_argument("--scheduler", help="run the surface on a Dask cluster at tcp://HOST:PORT")


def run(args: argparse.Namespace) -> int:
    """Load the study, run its crypto section (as ``glidelab run`` does), write the folder,
    print the summary."""
    from glidelab.context import StudyContext  # lazy: heavy, off the start-up path
    from glidelab.crypto import crypto_study, summary  # lazy: heavy, off the start-up path
    from glidelab.run import run_section  # lazy: heavy, off the start-up path
    from glidelab.sections import Crypto  # lazy: heavy, off the start-up path
    from glidelab.study import load_study  # lazy: heavy, off the start-up path

    sf = load_study(args.study)
    cs = crypto_study(sf.quick() if args.quick else sf)
    log = (lambda _: None) if args.quiet else (lambda m: print(m, flush=True))
    folder = Path(args.out if args.out is not None else cs.study.output.dir) / cs.study.name
    context = StudyContext(cs.study)
    if args.workers is None and args.scheduler is None:
        section = Crypto(cs.crypto, None, cs.study.output.tearsheet, log)
        result = run_section(section, context, folder)
    else:
        with dask_client(args.workers, args.scheduler) as client:
            log(f"glidelab crypto: surface on Dask at {client.scheduler.address}")
            section = Crypto(cs.crypto, DaskBackend(client), cs.study.output.tearsheet, log)
            result = run_section(section, context, folder)
    print(summary(result))
    print(f"wrote {folder}")
    return 0
