"""``glidelab studies``: the studies shipped with glidelab, by name (offline)."""

from __future__ import annotations

import argparse
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typing only: the command's start-up stays light
    from glidelab.study import StudyFile

NAME = "studies"
HELP = "list the shipped studies, which every command taking a study accepts by name"
DESCRIPTION = """\
List the studies shipped inside glidelab (glidelab/studies/*.toml) with their kind and
one-line description. Every command that takes a study file (run, design, crypto, sweep,
optimize --study, tearsheet --study, serve) also takes one of these names, so they run
from any folder, with or without a checkout of the repository. --path prints where the
shipped file lies, to copy it and write a study of your own.

examples:
  glidelab studies                   then, e.g., glidelab run retiree --quick
  glidelab studies --path retiree    where the file lies (copy it to start your own)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab studies``."""
    parser.add_argument("--path", metavar="NAME", help="print the file of one shipped study")
    parser.add_argument("--quiet", action="store_true", help="names only, one a line")


def _kind(sf: StudyFile) -> str:
    """A study file's kind in words: what ``glidelab run`` does with it."""
    if sf.design is not None:
        return "fund design"
    extra = [k for k, v in (("crypto", sf.crypto), ("sweep", sf.sweep)) if v is not None]
    return "study" + "".join(f" + [{k}]" for k in extra)


def run(args: argparse.Namespace) -> int:
    """Print the shipped studies (name, kind, description), or one study's path."""
    from glidelab.study import (  # lazy: heavy, off the start-up path
        load_study,
        shipped_studies,
        shipped_study_path,
    )

    if args.path is not None:
        print(shipped_study_path(args.path))
        return 0
    names = shipped_studies()
    if args.quiet:
        print("\n".join(names))
        return 0
    width = max(len(n) for n in names)
    for name in names:
        sf = load_study(name)
        kind = _kind(sf)
        print(f"{name:{width}s}  {kind}")
        for line in textwrap.wrap(sf.description, 96 - width):
            print(f"{'':{width}s}    {line}")
    print("\nrun one with: glidelab run NAME   (--quick for a smoke run)")
    return 0
