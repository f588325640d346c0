"""The kernel's compiled asset width: 4 against 8, run time and cold compile time.

``python -m benchmarks.width [--n 100000] [--repeat 3] [--compile-repeat 3]``

``backtest.kernel.asset_width`` fixes how many asset rows the compiled loop carries (a
compile-time constant; padding rows add exact zeros), so each width is one more compiled
loop. This measures what one wide loop would cost against one per width (issue 28):

* run time: the summary pass of ``simulate_chunked`` on the throughput workload
  (``n`` scenarios x 480 months, chunks of 25,000) with 4 assets (the workload's mix),
  3 (60 % us_stocks, 30 % tbonds_10y, 10 % tbills) and 2 (60/40), each on stored
  scenarios (``workload.make_chunk``, restricted to the mix's assets) and drawn in the
  engine (``workload.generated``, i.i.d.), at width 4 and width 8. Every chunk of every
  repeat times the streaming floor of its 4-asset stored scenarios, then the twelve
  variants in an order rotated by chunk and repeat, so all see the same data and load.
  The two widths must agree bit for bit (terminal wealth), or it raises.
* cold compile: a fresh process per width with an empty ``NUMBA_CACHE_DIR`` runs the
  first summary pass on 16 stored and 16 drawn 4-asset scenarios and reports its CPU
  time (``resource.getrusage``) and wall time; the width-4 process then does the same at
  width 8, the cost of a second width once the shared helpers are compiled. Widths
  alternate, ``--compile-repeat`` times each.

The width is forced by replacing ``backtest.kernel.asset_width`` for the duration of a
call. Prints one JSON object (per-repeat times, medians, the load average before and
after) on the last line of stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from benchmarks import workload
from benchmarks.bench_simulator import stream_floor_s

#: The compiled widths compared.
WIDTHS: tuple[int, ...] = (4, 8)
#: The mixes: name -> (assets, weights decimal); "4" is the throughput workload's.
MIXES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "4": (workload.ASSETS, workload.WEIGHTS),
    "3": (("us_stocks", "tbonds_10y", "tbills"), (0.6, 0.3, 0.1)),
    "2": (("us_stocks", "tbonds_10y"), (0.6, 0.4)),
}
#: Scenario routes: stored arrays, or drawn in the engine.
ROUTES: tuple[str, ...] = ("stored", "drawn")


@contextlib.contextmanager
def forced_width(width: int) -> Iterator[None]:
    """Compile and run the kernel at ``width`` asset rows, whatever the asset count."""
    from backtest import kernel  # lazy: heavy

    def fixed(n_assets: int) -> int:
        if n_assets > width:
            raise ValueError(f"{n_assets} assets do not fit a width of {width}")
        return width

    previous = kernel.asset_width
    kernel.asset_width = fixed
    try:
        yield
    finally:
        kernel.asset_width = previous


def _variants() -> list[tuple[str, str, int]]:
    return [(mix, route, w) for mix in MIXES for route in ROUTES for w in WIDTHS]


def _key(mix: str, route: str, width: int) -> str:
    return f"{route}_{mix}a_w{width}"


def _one_chunk(
    m: int,
    seed: int,
    k: int,
    offset: int,
    drawn: object,
    strategies: dict[str, Any],
    r: int,
    acc: dict,
    pairs: dict,
) -> float:
    """Time the floor and every variant on chunk ``k``; add seconds to ``acc`` and the
    chunk's width-8 / width-4 time ratios (the two run back to back) to ``pairs``."""
    from backtest.simulate import simulate_chunked  # lazy: heavy

    plan = workload.benchmark_plan()
    sc = workload.make_chunk(m, seed, k)
    part = drawn.take(slice(offset, offset + m))  # type: ignore[attr-defined]
    inputs = {
        (mix, route): (sc if route == "stored" else part).select(MIXES[mix][0])
        for mix in MIXES
        for route in ROUTES
    }
    floor = stream_floor_s(sc.returns, sc.inflation)
    # pairs (same mix and route, both widths) stay back to back; the pair order rotates
    # and the width that goes first alternates
    variants = _variants()
    if (r + k) % 2:
        variants = [(mix, route, sum(WIDTHS) - w) for mix, route, w in variants]
    shift = 2 * ((r * 5 + k) % (len(variants) // 2))
    wealth: dict[tuple[str, str, int], np.ndarray] = {}
    secs: dict[tuple[str, str, int], float] = {}
    for mix, route, w in variants[shift:] + variants[:shift]:
        with forced_width(w):
            t0 = time.perf_counter()
            s = simulate_chunked([inputs[mix, route]], plan, strategies[mix])
            secs[mix, route, w] = time.perf_counter() - t0
        acc[_key(mix, route, w)] += secs[mix, route, w]
        wealth[mix, route, w] = s.terminal_wealth
    for mix in MIXES:
        for route in ROUTES:
            if not np.array_equal(wealth[mix, route, 4], wealth[mix, route, 8]):
                raise RuntimeError(f"widths 4 and 8 disagree ({mix} assets, {route})")
            pairs[f"{route}_{mix}a"].append(secs[mix, route, 8] / secs[mix, route, 4])
    return floor


def run(n_scenarios: int, chunk: int, repeat: int, seed: int) -> dict[str, object]:
    """Measure run time at both widths; see the module docstring."""
    from backtest.simulate import simulate_chunked  # lazy: heavy

    plan = workload.benchmark_plan()
    strategies: dict[str, Any] = {m: workload.fixed_mix(f"bench {m}", *MIXES[m])[0] for m in MIXES}
    drawn = workload.generated(n_scenarios, seed)
    for mix, route, w in _variants():  # compile (untimed)
        small = (
            workload.make_chunk(16, seed, 10**6) if route == "stored" else drawn.take(slice(0, 16))
        ).select(MIXES[mix][0])
        with forced_width(w):
            simulate_chunked([small], plan, strategies[mix])
    load_before = os.getloadavg()
    runs = []
    pairs: dict[str, list[float]] = {f"{route}_{mix}a": [] for mix in MIXES for route in ROUTES}
    for r in range(repeat):
        acc = {_key(*v): 0.0 for v in _variants()}
        floor, offset = 0.0, 0
        for k, m in enumerate(workload.chunk_sizes(n_scenarios, chunk)):
            floor += _one_chunk(m, seed, k, offset, drawn, strategies, r, acc, pairs)
            offset += m
        ratios = {
            f"{route}_{mix}a_8_over_4": acc[_key(mix, route, 8)] / acc[_key(mix, route, 4)]
            for mix in MIXES
            for route in ROUTES
        }
        to_floor = {f"{key}_to_floor": t / floor for key, t in acc.items()}
        runs.append({"floor_s": floor, **acc, **ratios, **to_floor})
    keys = list(runs[0])
    return {
        "n_scenarios": n_scenarios,
        "n_periods": workload.N_PERIODS,
        "chunk": chunk,
        "repeat": repeat,
        "runs": runs,
        "median": {key: statistics.median(run[key] for run in runs) for key in keys},
        "chunk_8_over_4": pairs,
        "median_chunk_8_over_4": {key: statistics.median(v) for key, v in pairs.items()},
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
    }


def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _first_passes(width: int, seed: int) -> dict[str, float]:
    """CPU and wall seconds of the first summary passes at ``width`` (stored and drawn)."""
    from backtest.simulate import simulate_chunked  # lazy: heavy

    plan = workload.benchmark_plan()
    strategy: Any = workload.benchmark_strategy()[0]
    chunks = [workload.make_chunk(16, seed, 0), workload.generated(16, seed)]
    cpu0, wall0 = _cpu_s(), time.perf_counter()
    with forced_width(width):
        for sc in chunks:
            simulate_chunked([sc], plan, strategy)
    return {"cpu_s": _cpu_s() - cpu0, "wall_s": time.perf_counter() - wall0}


def cold_child(width: int, seed: int) -> dict[str, object]:
    """In a fresh process: the first passes at ``width``, then (when it is 4) at 8."""
    import backtest.simulate  # noqa: F401  # lazy: heavy (imports out of the timing)

    workload.history()
    out: dict[str, object] = {"width": width, "cold": _first_passes(width, seed)}
    if width == 4:
        out["second_width_8"] = _first_passes(8, seed)
    return out


def cold_compile(repeat: int, seed: int) -> dict[str, object]:
    """Fresh processes with empty numba caches, widths alternating; medians."""
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, float]]] = {"w4": [], "w8": [], "w8_after_w4": []}
    for _ in range(repeat):
        for width in WIDTHS:
            with tempfile.TemporaryDirectory() as cache:
                env = dict(os.environ, NUMBA_CACHE_DIR=cache)
                cmd = [sys.executable, "-m", "benchmarks.width", "--cold-child", str(width)]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                res = json.loads(proc.stdout.strip().splitlines()[-1])
            runs[f"w{width}"].append(res["cold"])
            if "second_width_8" in res:
                runs["w8_after_w4"].append(res["second_width_8"])
    return {
        "repeat": repeat,
        "runs": runs,
        "median": {
            name: {k: statistics.median(r[k] for r in rs) for k in ("cpu_s", "wall_s")}
            for name, rs in runs.items()
        },
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000, help="number of scenarios")
    p.add_argument("--chunk", type=int, default=25_000, help="scenarios per chunk")
    p.add_argument("--repeat", type=int, default=3, help="run-time repeats")
    p.add_argument("--compile-repeat", type=int, default=3, help="cold compiles per width")
    p.add_argument("--seed", type=int, default=20_240_101)
    p.add_argument("--cold-child", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.cold_child is not None:
        print(json.dumps(cold_child(a.cold_child, a.seed)))
        return 0
    out: dict[str, object] = {}
    if a.repeat > 0:
        out["run_time"] = run(a.n, a.chunk, a.repeat, a.seed)
    if a.compile_repeat > 0:
        out["cold_compile"] = cold_compile(a.compile_repeat, a.seed)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
