"""The command line's manners: progress only on a terminal, a word before a long first
compile, and no silent overwrite of a result file.

Light on purpose (standard library only, plus :mod:`glidelab.outputs`): ``glidelab.cli``
imports it on the start-up path of every command, ``--help`` included.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterable
from importlib.util import find_spec
from pathlib import Path
from typing import TextIO

from glidelab.outputs import OutputError

#: Seconds the first compile of the simulator's kernel costs, as an order of magnitude for
#: the first-run line: ``glidelab simulate --n 2000`` on an empty cache took 42.2 CPU
#: seconds against 2.9 warm on the 2-core development host (numba compiles on one core;
#: measured under load 10-12, where the wall times were 314 s and 15 s). Each further
#: asset width compiles its own variant (issue 28: about 30 s each).
FIRST_COMPILE_SECONDS = 40


def show_progress(quiet: bool = False, stream: TextIO | None = None) -> bool:
    """Whether to draw progress bars: not ``quiet`` and ``stream`` (default stderr) is a
    terminal. A log file or a pipe gets no ``\\r`` frames."""
    if quiet:
        return False
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def say(quiet: bool, stream: TextIO | None = None) -> Callable[[str], None]:
    """A ``print`` to ``stream`` (default stdout, flushed) that prints nothing when ``quiet``."""

    def out(message: str) -> None:
        if not quiet:
            print(message, file=sys.stdout if stream is None else stream, flush=True)

    return out


def kernel_cache_folder(kernel: Path) -> Path:
    """Where numba keeps the compiled ``kernel`` file's functions: ``NUMBA_CACHE_DIR``
    (set by :mod:`backtest` to the user's cache folder unless given) under numba's
    ``<folder name>_<sha1 of the folder path>`` subfolder, or ``__pycache__`` beside it."""
    cache = os.environ.get("NUMBA_CACHE_DIR")
    if not cache:
        return kernel.parent / "__pycache__"
    folder = os.path.dirname(os.path.abspath(kernel))
    digest = hashlib.sha1(folder.encode()).hexdigest()  # numba's own naming of the subfolder
    return Path(cache) / f"{os.path.basename(folder)}_{digest}"


def kernel_cache_is_cold(module: str = "backtest.kernel") -> bool:
    """True when the simulator's compiled kernel is not on disk for this source: no numba
    index file for ``module``, or only ones older than its source file (an upgrade or an
    edit, which numba recompiles). Reads file names and times only; imports nothing heavy."""
    spec = find_spec(module)  # imports the parent package (light), not the module
    if spec is None or spec.origin is None:
        return False
    source = Path(spec.origin)
    index = list(kernel_cache_folder(source).glob(f"{source.stem}.*.nbi"))
    if not index:
        return True
    newest = max(p.stat().st_mtime for p in index)
    return newest < source.stat().st_mtime


def first_run_notice(command: str, stream: TextIO | None = None) -> bool:
    """Print one line on ``stream`` (default stderr) when the kernel will compile first
    (:func:`kernel_cache_is_cold`); return whether it did."""
    if not kernel_cache_is_cold():
        return False
    print(
        f"glidelab {command}: compiling the simulator for this machine (first run only, "
        f"about {FIRST_COMPILE_SECONDS} s)…",
        file=sys.stderr if stream is None else stream,
        flush=True,
    )
    return True


def refuse_overwrite(paths: Iterable[str | os.PathLike[str]], force: bool, fix: str) -> None:
    """Refuse to replace an existing result file unless ``force`` (``--force``).

    Raises
    ------
    OutputError
        One of ``paths`` exists and ``force`` is false; the message names the file and
        ends with ``fix`` (e.g. "pass --force to replace it, or choose another --out").
    """
    if force:
        return
    taken = [str(p) for p in paths if Path(p).exists()]
    if taken:
        files = ", ".join(repr(p) for p in taken)
        raise OutputError(f"{files} already exist{'s' if len(taken) == 1 else ''}; {fix}")
