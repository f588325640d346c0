"""First run and command line: a cold and a warm ``glidelab run``, and ``--help`` against
``python -c "import numpy"``.

Cases, each command in a fresh process (this interpreter, the checkout's ``glidelab``):

* ``cold``: ``glidelab run --quiet --out TMP`` (the default study, the README's first
  command) with ``NUMBA_CACHE_DIR`` an empty temporary folder, so numba compiles every
  function the run uses, as on a fresh install;
* ``warm``: the same command right after, with the same (now filled) cache folder;
* ``help``: ``glidelab --help`` and every ``glidelab COMMAND --help``, interleaved with
  ``python -c "import numpy"`` (the baseline), ``repeat`` times each; medians.

Reported with the 1-minute load average before and after each case (a shared 2-core
machine: a wall time means little without it). Targets (issue 28): a cold run no more
than 2x a warm one; every ``--help`` within 3x of importing numpy.

Run alone: ``python -m benchmarks.bench_startup [--quick] [--repeat N]`` (``--quick``:
``--help`` only, no study run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Issue 28's targets: cold over warm ``glidelab run``; any ``--help`` over ``import numpy``.
TARGET_COLD_OVER_WARM = 2.0
TARGET_HELP_OVER_NUMPY = 3.0


def _load() -> float:
    return os.getloadavg()[0]


def _env(cache: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = str(cache)
    return env


def _timed(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one child process running ``argv`` (it must exit 0)."""
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def _subcommands() -> list[str]:
    from glidelab.cli import build_parser  # lazy: the app, only to list its commands

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


def run_help(repeat: int) -> dict[str, Any]:
    """``--help`` of glidelab and each subcommand against ``import numpy``, interleaved."""
    env = _env()
    numpy = [sys.executable, "-c", "import numpy"]
    commands = {"glidelab --help": ["--help"]}
    commands |= {f"glidelab {c} --help": [c, "--help"] for c in _subcommands()}
    times: dict[str, list[float]] = {"import numpy": [], **{k: [] for k in commands}}
    load_before = _load()
    _timed(numpy, env)  # the first child pays the page cache; untimed
    for _ in range(repeat):
        for name, args in commands.items():
            times["import numpy"].append(_timed(numpy, env))
            times[name].append(_timed([sys.executable, "-m", "glidelab.cli", *args], env))
    medians = {k: statistics.median(v) for k, v in times.items()}
    base = medians["import numpy"]
    return {
        "repeat": repeat,
        "seconds": medians,
        "ratio": {k: v / base for k, v in medians.items() if k != "import numpy"},
        "load_before": load_before,
        "load_after": _load(),
    }


def run_first_run() -> dict[str, Any]:
    """A cold then a warm ``glidelab run --quiet`` with one fresh ``NUMBA_CACHE_DIR``."""
    scratch = Path(tempfile.mkdtemp(prefix="bench_startup_"))
    try:
        cache = scratch / "numba"
        cache.mkdir()
        out: dict[str, Any] = {}
        for case in ("cold", "warm"):
            argv = [sys.executable, "-m", "glidelab.cli", "run", "--quiet"]
            argv += ["--out", str(scratch / case)]
            before = _load()
            seconds = _timed(argv, _env(cache))
            out[case] = {"seconds": seconds, "load_before": before, "load_after": _load()}
        out["cold_over_warm"] = out["cold"]["seconds"] / out["warm"]["seconds"]
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(quick: bool = False, repeat: int = 5) -> dict[str, Any]:
    """Both parts (``quick``: ``--help`` only, once)."""
    res: dict[str, Any] = {"help": run_help(1 if quick else repeat)}
    if not quick:
        res["first_run"] = run_first_run()
    return res


def render(res: dict[str, Any]) -> list[str]:
    """Markdown lines of the results."""
    lines: list[str] = []
    first = res.get("first_run")
    if first is not None:
        ratio = first["cold_over_warm"]
        met = "met" if ratio <= TARGET_COLD_OVER_WARM else "not met"
        lines += [
            "`glidelab run --quiet` (the default study, the README's first command), each in a "
            "fresh process, the first with an empty `NUMBA_CACHE_DIR` (numba compiles what "
            "the run uses, as on a fresh install), the second right after with the same cache:",
            "",
            "| case | wall time | 1-min load before -> after |",
            "|---|---:|---|",
        ]
        for case in ("cold", "warm"):
            c = first[case]
            lines.append(
                f"| {case} | {c['seconds']:.1f} s | {c['load_before']:.2f} -> "
                f"{c['load_after']:.2f} |"
            )
        lines += [
            "",
            f"Cold / warm: **{ratio:.2f}x** (target <= {TARGET_COLD_OVER_WARM:g}x: {met}).",
            "",
        ]
    h = res["help"]
    worst = max(h["ratio"].values())
    met = "met" if worst <= TARGET_HELP_OVER_NUMPY else "not met"
    lines += [
        f'`--help`, each a fresh process, interleaved with `python -c "import numpy"`, '
        f"median of {h['repeat']} (1-min load {h['load_before']:.2f} before, "
        f"{h['load_after']:.2f} after):",
        "",
        "| command | wall time | / import numpy |",
        "|---|---:|---:|",
        f'| `python -c "import numpy"` | {h["seconds"]["import numpy"]:.3f} s | 1.00x |',
    ]
    for name, ratio in h["ratio"].items():
        lines.append(f"| `{name}` | {h['seconds'][name]:.3f} s | {ratio:.2f}x |")
    lines += [
        "",
        f"Slowest `--help`: **{worst:.2f}x** `import numpy` (target <= "
        f"{TARGET_HELP_OVER_NUMPY:g}x: {met}).",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_startup", description=__doc__)
    p.add_argument("--quick", action="store_true", help="--help only, once")
    p.add_argument("--repeat", type=int, default=5, help="--help runs per command (default 5)")
    a = p.parse_args(argv)
    res = run(a.quick, a.repeat)
    print("\n".join(render(res)))
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
