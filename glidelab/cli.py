"""The ``glidelab`` console script: a thin layer over the public API.

It sits at the top of the import stack (``strategies`` <- ``backtest`` <- ``optimize`` <-
``glidelab``), so it may call every stage. Subcommands are discovered from ``glidelab.commands``.

Conventions every command keeps: ``--quiet`` (nothing but errors and warnings; a listing
command prints names only), progress bars only when stderr is a terminal, a one-line
notice before the simulator's first compile, Ctrl-C exits 130 with one line and no
traceback, and no silent overwrite of a result file (``--force`` replaces it); a command
that writes a whole study folder replaces that folder atomically, as its ``--help`` says.
Start-up imports nothing heavy (numpy at most): ``glidelab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import glidelab
from backtest.errors import GlidelabError
from glidelab import commands
from glidelab.progress import first_run_notice

#: Exit status of a process stopped by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

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
    parser.add_argument(
        "--version", action=_Version, nargs=0, help="print glidelab's version and exit"
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
        sp.set_defaults(_run=mod.run, _compiles=getattr(mod, "COMPILES", False))
    return parser


class _Version(argparse.Action):
    """``--version``: prints ``glidelab.__version__`` (the installed distribution's
    version, read when asked) and exits 0."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"glidelab {glidelab.__version__}")  # stdout, as argparse's own version action
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``glidelab`` script; returns the process exit code (0 success,
    1 a check that failed, 2 an error, 130 interrupted by Ctrl-C)."""
    command = "".join(argv[:1]) if argv is not None else "".join(sys.argv[1:2])
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback, the shell's exit status
        where = f"glidelab {command}" if command and not command.startswith("-") else "glidelab"
        print(f"{where}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    try:
        if args._compiles and not getattr(args, "quiet", False):
            first_run_notice(args.command)
        return int(args._run(args))
    except GlidelabError as exc:
        print(f"glidelab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, permission denied: the system's words, one line
        print(f"glidelab {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
