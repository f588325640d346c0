"""Output paths checked before any work: a path that cannot be written is a one-line error.

Every command that writes checks its paths first, so a long computation never ends in a
``FileExistsError`` traceback, and nothing is written when a path is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path

from backtest.errors import GlidelabError


class OutputError(GlidelabError, OSError):
    """An output path is an existing file where a folder is needed (or the reverse), or
    cannot be written."""


def _check_ancestors(path: Path, what: str, fix: str) -> None:
    """The nearest existing ancestor of ``path`` must be a writable folder."""
    for parent in path.parents:
        if not parent.exists():
            continue
        if not parent.is_dir():
            raise OutputError(
                f"{what} {str(path)!r}: {str(parent)!r} is an existing file, so nothing can be "
                f"written under it; {fix}"
            )
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(
                f"{what} {str(path)!r}: folder {str(parent)!r} is not writable; {fix}"
            )
        return


def check_output_folder(
    path: str | os.PathLike[str], what: str = "output folder", fix: str = "choose another path"
) -> Path:
    """Check that ``path`` can be written as a folder (created, or replaced whole).

    Raises
    ------
    OutputError
        ``path`` is an existing file, lies under a file, or under a folder that cannot be
        written; the message ends with ``fix``.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{what} {str(p)!r} is an existing file, not a folder; {fix}")
    _check_ancestors(p, what, fix)
    return p


def check_output_file(
    path: str | os.PathLike[str], what: str = "output file", fix: str = "choose another path"
) -> Path:
    """Check that ``path`` can be written as a file (created, or replaced).

    Raises
    ------
    OutputError
        ``path`` is an existing folder, lies under a file, or under a folder that cannot
        be written; the message ends with ``fix``.
    """
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{what} {str(p)!r} is an existing folder, not a file; {fix}")
    _check_ancestors(p, what, fix)
    return p
