"""The kernel's slab-fill intrinsics on and off, interleaved in one process.

``python -m benchmarks.bench_kernel_simd [--n 100000] [--repeat 5]``

The throughput workload of ``bench_simulator`` (``n`` scenarios x 480 months x 4 assets,
chunks of 25,000, the summary pass of ``simulate_chunked``). For every chunk of every
repeat it times the streaming floor, then the simulator with ``GLIDELAB_KERNEL_SIMD`` on
(the 8 x 4 transpose, the inflation gather and the prefetch of ``backtest.kernel``) and
off (the plain copy), in alternating order, so both variants see the same data and the
same load on a shared machine. The same for the i.i.d. bootstrap drawn in the engine
(``workload.generated``: the kernel draws the rows and fills its slab from the history
table with the same intrinsics, or the plain copy). Prints one JSON object (per-repeat ratios to the floor,
medians, the load average before and after) on the last line of stdout.
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

SWITCH = "GLIDELAB_KERNEL_SIMD"


def run(n_scenarios: int, chunk: int, repeat: int, seed: int) -> dict[str, object]:
    """Measure both variants; see the module docstring."""
    from backtest.simulate import simulate_chunked

    plan = workload.benchmark_plan()
    strategy, _ = workload.benchmark_strategy()
    workload.history()
    simulate_chunked([workload.make_chunk(16, seed, 10**6)], plan, strategy)  # compile
    drawn = workload.generated(n_scenarios, seed)  # the i.i.d. bootstrap drawn in the engine
    load_before = os.getloadavg()
    sizes = workload.chunk_sizes(n_scenarios, chunk)
    previous = os.environ.get(SWITCH)
    runs = []
    variants = ("on", "off", "fused_on", "fused_off")
    try:
        for r in range(repeat):
            floor = 0.0
            sim = dict.fromkeys(variants, 0.0)
            success: dict[str, int] = {}
            for k, m in enumerate(sizes):
                sc = workload.make_chunk(m, seed, k)
                part = drawn.take(slice(k * chunk, k * chunk + m))
                floor += stream_floor_s(sc.returns, sc.inflation)
                shift = (r + k) % len(variants)
                for variant in variants[shift:] + variants[:shift]:
                    os.environ[SWITCH] = "0" if variant.endswith("off") else "1"
                    t0 = time.perf_counter()
                    s = simulate_chunked([part if "fused" in variant else sc], plan, strategy)
                    sim[variant] += time.perf_counter() - t0
                    success[variant] = success.get(variant, 0) + s.n_success
            if success["on"] != success["off"] or success["fused_on"] != success["fused_off"]:
                raise RuntimeError(f"the two variants disagree: {success}")
            runs.append(
                {"floor_s": floor, **{f"sim_{v}_s": t for v, t in sim.items()}}
                | {f"ratio_{v}": t / floor for v, t in sim.items()}
            )
    finally:
        if previous is None:
            os.environ.pop(SWITCH, None)
        else:
            os.environ[SWITCH] = previous
    keys = ("floor_s", *(f"sim_{v}_s" for v in variants), *(f"ratio_{v}" for v in variants))
    return {
        "n_scenarios": n_scenarios,
        "n_periods": workload.N_PERIODS,
        "n_assets": len(workload.ASSETS),
        "chunk": chunk,
        "repeat": repeat,
        "runs": runs,
        "median": {key: statistics.median(run[key] for run in runs) for key in keys},
        "min": {key: min(run[key] for run in runs) for key in keys},
        "max": {key: max(run[key] for run in runs) for key in keys},
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
    }


def render(res: dict[str, object]) -> list[str]:
    """Markdown lines for ``benchmarks/RESULTS.md``."""
    med, lo, hi = res["median"], res["min"], res["max"]
    return [
        f"The kernel's slab-fill intrinsics (`backtest/kernel.py`: an 8 x 4 transpose of "
        "returns in registers, an eight-lane inflation gather with one vector division, a "
        "prefetch 16 periods ahead) on and off, `GLIDELAB_KERNEL_SIMD=1` / `0`, interleaved "
        f"in one process on the same chunks ({res['n_scenarios']:,} scenarios, "
        f"{res['repeat']} runs; `python -m benchmarks.bench_kernel_simd`). Both give the "
        "same numbers bit for bit; the switch exists to measure whether the intrinsics "
        "decide the target.",
        "",
        "| Variant | Simulator | Ratio to the floor |",
        "|---|---|---|",
        f"| Intrinsics on (the default) | {med['sim_on_s']:.3g} s ({lo['sim_on_s']:.3g}-"
        f"{hi['sim_on_s']:.3g}) | {med['ratio_on']:.1f}x ({lo['ratio_on']:.1f}-"
        f"{hi['ratio_on']:.1f}) |",
        f"| Intrinsics off | {med['sim_off_s']:.3g} s ({lo['sim_off_s']:.3g}-"
        f"{hi['sim_off_s']:.3g}) | {med['ratio_off']:.1f}x ({lo['ratio_off']:.1f}-"
        f"{hi['ratio_off']:.1f}) |",
        *(
            f"| Drawn in the engine (i.i.d.), intrinsics {v} | {med[f'sim_fused_{v}_s']:.3g} s "
            f"({lo[f'sim_fused_{v}_s']:.3g}-{hi[f'sim_fused_{v}_s']:.3g}) | "
            f"{med[f'ratio_fused_{v}']:.1f}x ({lo[f'ratio_fused_{v}']:.1f}-"
            f"{hi[f'ratio_fused_{v}']:.1f}) |"
            for v in ("on", "off")
            if f"sim_fused_{v}_s" in med
        ),
        "",
        f"Floor {med['floor_s']:.3g} s; load average "
        f"{', '.join(f'{x:.2f}' for x in res['load_avg_before'])} before and "
        f"{', '.join(f'{x:.2f}' for x in res['load_avg_after'])} after.",
        "",
    ]


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
