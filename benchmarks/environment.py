"""Machine and software description for the benchmark report."""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def _version(module: str) -> str:
    try:
        return str(getattr(importlib.import_module(module), "__version__", "?"))
    except ImportError:
        return "not installed"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return out.stdout.strip()


def describe() -> dict[str, object]:
    """CPU, cores, RAM, OS, load, library versions and the git revision, as a dict."""
    ram = _ram_gib()
    # Porcelain lines are "XY path"; split rather than slice, since _git strips the
    # output and with it the leading blank of a first " M path" line.
    dirty = [
        path
        for line in _git("status", "--porcelain", "--untracked-files=no").splitlines()
        if line.strip()
        for path in [line.split(maxsplit=1)[-1]]
        if not path.startswith("benchmarks/RESULTS.")  # this report itself
    ]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(ram, 1) if ram is not None else "?",
        "os": f"{platform.system()} {platform.release()}",
        "load_avg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "pandas": _version("pandas"),
        "scipy": _version("scipy"),
        "cvxpy": _version("cvxpy"),
        "bt": _version("bt"),
        "git": _git("rev-parse", "--short", "HEAD"),
        "modified_tracked_files": dirty,
    }


def peak_rss_bytes() -> int:
    """Peak resident memory of this process, bytes.

    Linux's ``ru_maxrss`` is carried over from the parent across ``fork`` and ``exec``, so
    a fresh benchmark process started by a parent that once held 3.7 GiB reports 3.7 GiB.
    ``VmHWM`` in ``/proc/self/status`` belongs to this process's own address space; it is
    used where it exists, ``ru_maxrss`` elsewhere.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
