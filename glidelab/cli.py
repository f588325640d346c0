"""The ``glidelab`` console script: a thin layer over the public API.

It sits at the top of the import stack (``strategies`` <- ``backtest`` <- ``optimize`` <-
``glidelab``), so it may call every stage. Subcommands are discovered from ``glidelab.commands``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from backtest.errors import GlidelabError
from glidelab import commands

_EPILOG = """examples:
  glidelab run                 run the default study into results/ (offline)
  glidelab data                list the embedded historical series
  glidelab COMMAND --help      options and an example for one command
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand found in ``glidelab.commands``."""
    parser = argparse.ArgumentParser(
        prog="glidelab",
        description="Backtest and optimise retirement glide paths, target-risk mixes and "
        "crypto sleeves under sequence-of-returns risk.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [
        importlib.import_module(f"glidelab.commands.{m.name}")
        for m in pkgutil.iter_modules(commands.__path__)
    ]
    for mod in sorted(modules, key=lambda m: m.NAME):
        sp = sub.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=mod.DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(sp)
        sp.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``glidelab`` script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    try:
        return int(args._run(args))
    except GlidelabError as exc:
        print(f"glidelab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, permission denied: the system's words, one line
        print(f"glidelab {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
