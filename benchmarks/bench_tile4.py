"""The kernel's hand-written ``growth_tile4`` on and off, interleaved in one process.

``python -m benchmarks.bench_tile4 [--n 100000] [--repeat 5]``

The throughput workload of ``bench_simulator`` (``n`` scenarios x 480 months x 4 assets,
chunks of 25,000, the summary pass of ``simulate_chunked``). For every chunk of every
repeat it times the streaming floor, then the simulator with ``GLIDELAB_KERNEL_TILE4``
on and off, in alternating order, so both variants see the same data and the same load
on a shared machine. Prints one JSON object (per-repeat ratios to the floor, medians,
the load average before and after) on the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from benchmarks import workload
from benchmarks.bench_simulator import stream_floor_s


def run(n_scenarios: int, chunk: int, repeat: int, seed: int) -> dict[str, object]:
    """Measure both variants; see the module docstring."""
    from backtest.simulate import simulate_chunked

    plan = workload.benchmark_plan()
    strategy, _ = workload.benchmark_strategy()
    workload.history()
    simulate_chunked([workload.make_chunk(16, seed, 10**6)], plan, strategy)  # compile
    load_before = os.getloadavg()
    sizes = workload.chunk_sizes(n_scenarios, chunk)
    runs = []
    for r in range(repeat):
        floor = 0.0
        sim = {"on": 0.0, "off": 0.0}
        success = {}
        for k, m in enumerate(sizes):
            sc = workload.make_chunk(m, seed, k)
            floor += stream_floor_s(sc.returns, sc.inflation)
            order = ("on", "off") if (r + k) % 2 == 0 else ("off", "on")
            for variant in order:
                os.environ["GLIDELAB_KERNEL_TILE4"] = "1" if variant == "on" else "0"
                t0 = time.perf_counter()
                s = simulate_chunked([sc], plan, strategy)
                sim[variant] += time.perf_counter() - t0
                success[variant] = success.get(variant, 0) + s.n_success
        assert success["on"] == success["off"]  # the same simulation either way
        runs.append(
            {"floor_s": floor, **{f"sim_{v}_s": t for v, t in sim.items()}}
            | {f"ratio_{v}": t / floor for v, t in sim.items()}
        )
    os.environ.pop("GLIDELAB_KERNEL_TILE4", None)
    med = {
        key: statistics.median(run[key] for run in runs)
        for key in ("floor_s", "sim_on_s", "sim_off_s", "ratio_on", "ratio_off")
    }
    return {
        "n_scenarios": n_scenarios,
        "n_periods": workload.N_PERIODS,
        "n_assets": len(workload.ASSETS),
        "chunk": chunk,
        "repeat": repeat,
        "runs": runs,
        "median": med,
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
        "cores": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000, help="number of scenarios")
    p.add_argument("--chunk", type=int, default=25_000, help="scenarios per chunk")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--seed", type=int, default=20_240_101)
    a = p.parse_args(argv)
    print(json.dumps(run(a.n, a.chunk, a.repeat, a.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
