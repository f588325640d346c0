"""``glidelab serve``: the glide-path workbench in the browser (local, offline)."""

from __future__ import annotations

import argparse

from backtest.errors import GlidelabError
from glidelab.serve.server import serve

NAME = "serve"
HELP = "a glide-path workbench in the browser: drag the path, watch success move (local)"
DESCRIPTION = """\
Start a local web app (Panel on a Bokeh server) to design a glide path by hand: drag
the equity share's knots by age (undo and redo), start from any target-date preset or
fixed mix, add a Bitcoin sleeve, change the member, the scenarios (block bootstrap,
historical cohorts or parametric) and the rebalancing rule, and see the probability of
success (with its standard error), the paired difference against a baseline on the same
scenarios (a preset, or a drawn path pinned as the baseline), up to three presets drawn
and scored beside the path, terminal-wealth percentiles, the wealth fan by age and the
historical cohorts that fail, recomputed on every change; on request, the optimised path
and the adaptive policy, each scored on the page's own scenarios beside the drawn path,
the adaptive policy map, and the fund-design frontier of the 2060 vintage (small
population) with the drawn path placed on it (long jobs show progress and can be
cancelled). "save study" downloads the TOML that reproduces the view with `glidelab run`;
"tear sheet" writes the HTML and PDF report of the view under --out and links it (the
folder is served under /tearsheets/).

Rates are typed in percent (fees 0.2 = 0.2 % a year) and saved as decimals; Bitcoin's
assumption is typed in arithmetic terms (expected simple return and its volatility, a
year) and saved as the lognormal's log mean and volatility. A field outside its range
applies nothing: the message names the field, and the last numbers stay, greyed and
marked stale, until it is fixed. Every script and style is served locally (works
offline). It binds to 127.0.0.1; with another --host it warns that the app has no
authentication. Each browser tab is its own session.

examples:
  glidelab serve                       the default study's member, on http://127.0.0.1:5006/
  glidelab serve my_study.toml --port 8080 --show
  glidelab serve retiree               a shipped study, by name
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab serve``."""
    parser.add_argument(
        "study",
        nargs="?",
        help="study file or shipped study name to start from (default: the default study)",
    )
    parser.add_argument("--port", type=int, default=5006, help="port (default 5006)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--out", default="results/serve", help="folder for tear sheets (default results/serve)"
    )
    parser.add_argument("--show", action="store_true", help="open the page in a browser")
    parser.add_argument(
        "--quiet", action="store_true", help="print neither the address nor 'stopped'"
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from glidelab.study import study_path  # lazy: heavy, off the start-up path

    if not 1 <= args.port <= 65535:
        raise GlidelabError(f"--port {args.port} is not a port; use 1-65535 (default 5006)")
    study = None if args.study is None else study_path(args.study)
    serve(
        study,
        host=args.host,
        port=args.port,
        out_root=args.out,
        show=args.show,
        quiet=args.quiet,
    )
    return 0
