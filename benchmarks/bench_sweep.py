"""Sweep benchmark: the same sweep in-process and on Dask LocalClusters of 1 and 2 workers.

The workload: a grid of withdrawal rates x equity shares (100 points in the reference
run) for the benchmark plan of :mod:`benchmarks.workload` (age 55 to 95, 480 months,
saving then withdrawing, fees and costs), each point over the same block-bootstrap
scenarios of monthly history (100,000 in the reference run: 10,000,000 scenario-paths in
one sweep), run through :func:`glidelab.sweep.run_sweep` in tasks of ``chunk`` scenarios.

Cases, each in a fresh process (``python -m benchmarks.bench_sweep --case NAME``):

* ``inprocess_all``: in-process, numba on every core;
* ``inprocess_1``: in-process, one numba thread (the baseline of the Dask overhead);
* ``dask_1``: a LocalCluster of 1 single-threaded worker;
* ``dask_2``: a LocalCluster of 2 single-threaded workers.

Reported: sweep wall time (cluster start-up apart), speed-up of 2 workers over 1 (target
>= 1.7x), Dask overhead against in-process single-threaded (target <= 10 %), peak
resident memory of the client and of each worker (``VmHWM``, see ``benchmarks.environment.peak_rss_bytes``), against the stated
bound: baseline after start-up + 6 x one chunk's scenario bytes (the draw,
the bootstrap's and cash fill's temporaries, the simulator's own layout); and a hash of the table,
which must be the same in every case.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.environment import peak_rss_bytes

CASES = ("inprocess_all", "inprocess_1", "dask_1", "dask_2")
TARGET_SPEEDUP = 1.7
TARGET_OVERHEAD = 0.10
#: Stated bound on a worker's memory growth, in chunks of scenarios (see the module doc).
MEMORY_CHUNKS = 6


def sizes(quick: bool) -> dict[str, int]:
    """Grid points, scenarios per point, scenarios per task and grid points per task."""
    if quick:
        return {"points": 4, "n": 5_000, "chunk": 2_500, "per_task": 4}
    return {"points": 100, "n": 100_000, "chunk": 10_000, "per_task": 10}


def make_sweep(points: int, n: int, chunk: int, per_task: int = 10, seed: int = 20_240_101) -> Any:
    """The benchmark sweep: ``points`` = k x k withdrawal rates x equity shares."""
    from benchmarks.workload import N_PERIODS, benchmark_plan
    from glidelab.sweep import parse_sweep

    k = round(points**0.5)
    if k * k != points:
        raise SystemExit(f"--points {points} must be a square (k rates x k equity shares)")
    plan = benchmark_plan()
    assert plan.n_periods(12) == N_PERIODS
    c = plan.contributions
    assert c is not None
    rates = [round(0.03 + 0.03 * i / max(k - 1, 1), 6) for i in range(k)]
    shares = [round(0.2 + 0.8 * i / max(k - 1, 1), 6) for i in range(k)]
    raw = {
        "study": {"name": "bench_sweep", "seed": seed},
        "data": {"frequency": "monthly"},
        "scenarios": {"historical": False, "bootstrap_n": n, "crypto_before_data": "cash"},
        "plans": [
            {
                "name": "benchmark",
                "start_age": plan.start_age,
                "retirement_age": plan.retirement_age,
                "end_age": plan.end_age,
                "initial_balance": plan.initial_balance,
                "salary": c.salary,
                "contribution_rate": c.rate,
                "match_rate": c.match_rate,
                "match_cap": c.match_cap,
                "expense_ratio": plan.expense_ratio,
                "transaction_cost_bps": plan.transaction_cost_bps,
                "withdrawal": {"rule": "constant_real", "rate": 0.04},
            }
        ],
        "optimize": {"enabled": False},
        "sweep": {
            "scenarios": ["bootstrap"],
            "n_scenarios": n,
            "chunk_size": chunk,
            "points_per_task": per_task,
            "grid": {"plan.withdrawal.rate": rates, "equity_share": shares},
        },
    }
    return parse_sweep(raw, "benchmark")


def _maxrss() -> int:
    """Peak resident memory of this process, bytes (Linux reports KiB)."""
    return peak_rss_bytes()


def _warm() -> int:
    """Load the numba cache, the history and the imports in this process (untimed)."""
    from glidelab.sweep import run_sweep

    out = Path(tempfile.mkdtemp(prefix="bench_sweep_warm_"))
    try:
        run_sweep(make_sweep(1, 100, 100), out, threads=1, progress=False, charts=False)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return _maxrss()


def run_case(case: str, points: int, n: int, chunk: int, per_task: int) -> dict[str, Any]:
    """Run one case in this process; return its figures."""
    from glidelab.backends import dask_client
    from glidelab.sweep import run_sweep

    sweep = make_sweep(points, n, chunk, per_task)
    out = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    baseline = _maxrss()
    res: dict[str, Any] = {
        "case": case,
        "points": points,
        "n": n,
        "chunk": chunk,
        "per_task": per_task,
    }
    try:
        if case.startswith("inprocess"):
            threads = None if case == "inprocess_all" else 1
            baseline = _warm()
            t0 = time.perf_counter()
            result = run_sweep(sweep, out, threads=threads, progress=False, charts=False)
            res["seconds"] = time.perf_counter() - t0
            res["workers_peak_rss"] = []
        else:
            workers = int(case.split("_")[1])
            t_start = time.perf_counter()
            with dask_client(workers=workers, threads_per_worker=1) as client:
                res["startup_seconds"] = time.perf_counter() - t_start
                base = client.run(_warm)  # every worker, before timing
                t0 = time.perf_counter()
                result = run_sweep(sweep, out, client=client, progress=False, charts=False)
                res["seconds"] = time.perf_counter() - t0
                peaks = client.run(_maxrss)
                res["workers_baseline_rss"] = sorted(base.values())
                res["workers_peak_rss"] = sorted(peaks.values())
        res["client_baseline_rss"] = baseline
        res["client_peak_rss"] = _maxrss()
        res["scenario_paths"] = points * n
        res["n_tasks"] = result.n_tasks
        res["table_sha256"] = hashlib.sha256(result.table.to_csv().encode()).hexdigest()[:16]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return res


def chunk_bytes(chunk: int) -> int:
    """Bytes of one task's scenarios: returns of 4 assets plus inflation, 480 months."""
    from backtest.generators import estimate_bytes
    from benchmarks.workload import N_PERIODS

    return estimate_bytes(chunk, N_PERIODS, 4)


def run(quick: bool, **override: int | None) -> dict[str, Any]:
    """Every case in a fresh process; figures and ratios from this one run.

    ``override``: points, n, chunk, per_task instead of the size's defaults.
    """
    s = {**sizes(quick), **{k: v for k, v in override.items() if v is not None}}
    cases = {}
    for case in CASES:
        print(f"[{time.strftime('%H:%M:%S')}] sweep benchmark: {case}", file=sys.stderr, flush=True)
        cmd = [sys.executable, "-m", "benchmarks.bench_sweep", "--case", case]
        cmd += ["--points", str(s["points"]), "--n", str(s["n"]), "--chunk", str(s["chunk"])]
        cmd += ["--per-task", str(s["per_task"])]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = [line for line in proc.stderr.strip().splitlines() if line.strip()][-3:]
            cases[case] = {"case": case, "error": " / ".join(tail)}
            continue
        cases[case] = json.loads(proc.stdout.strip().splitlines()[-1])
    out: dict[str, Any] = {"quick": quick, **s, "cores": os.cpu_count(), "cases": cases}
    ok = [c for c in cases.values() if "seconds" in c]
    # None when a case failed: identity is then unknown, not refuted.
    out["identical"] = len({c["table_sha256"] for c in ok}) == 1 if len(ok) == len(CASES) else None
    if all("seconds" in cases[c] for c in ("dask_1", "dask_2", "inprocess_1")):
        out["speedup_2_over_1"] = cases["dask_1"]["seconds"] / cases["dask_2"]["seconds"]
        out["dask_overhead"] = cases["dask_1"]["seconds"] / cases["inprocess_1"]["seconds"] - 1
    out["chunk_bytes"] = chunk_bytes(s["chunk"])
    return out


def _mib(b: float) -> str:
    return f"{b / 2**20:,.0f} MiB"


def render(res: dict[str, Any]) -> list[str]:
    """Markdown lines of the sweep section."""
    lines = [
        f"{res['points']} grid points x {res['n']:,} scenarios x 480 months "
        f"({res['points'] * res['n']:,} scenario-paths), tasks of {res['chunk']:,} scenarios "
        f"for {res['per_task']} grid points; "
        f"machine: {res['cores']} cores."
        + (" **Quick run: not reference figures.**" if res["quick"] else ""),
        "",
        "| case | sweep time | start-up | peak RSS client | peak RSS per worker |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, c in res["cases"].items():
        if "seconds" not in c:
            lines.append(f"| {name} | failed: {c.get('error')} | | | |")
            continue
        workers = ", ".join(_mib(b) for b in c["workers_peak_rss"]) or "-"
        start = f"{c['startup_seconds']:.1f} s" if "startup_seconds" in c else "-"
        lines.append(
            f"| {name} | {c['seconds']:.2f} s | {start} | {_mib(c['client_peak_rss'])} | {workers} |"
        )
    lines.append("")
    if "speedup_2_over_1" in res:
        sp, ov = res["speedup_2_over_1"], res["dask_overhead"]
        lines.append(
            f"- 2 workers vs 1: **{sp:.2f}x** (target >= {TARGET_SPEEDUP}x: "
            f"{'met' if sp >= TARGET_SPEEDUP else 'not met'})."
        )
        lines.append(
            f"- Dask (1 worker) vs in-process single-threaded: **{100 * ov:+.1f} %** "
            f"(target <= {100 * TARGET_OVERHEAD:.0f} %: "
            f"{'met' if ov <= TARGET_OVERHEAD else 'not met'})."
        )
    bound = MEMORY_CHUNKS * res["chunk_bytes"]
    worst = 0.0
    for c in res["cases"].values():
        if "seconds" not in c:
            continue
        pairs = list(zip(c.get("workers_baseline_rss", []), c["workers_peak_rss"], strict=True))
        if not pairs:  # in-process: this process does the work
            pairs = [(c["client_baseline_rss"], c["client_peak_rss"])]
        worst = max([worst, *(b1 - b0 for b0, b1 in pairs)])
    lines.append(
        f"- Memory bound per worker: start-up baseline + {MEMORY_CHUNKS} x one chunk's scenarios "
        f"({_mib(res['chunk_bytes'])}) = baseline + {_mib(bound)}; largest growth measured "
        f"(a worker, or the in-process run): {_mib(worst)} ({'within' if worst <= bound else 'ABOVE'} the bound)."
    )
    same = {True: "yes", False: "NO", None: "unknown (a case failed)"}[res["identical"]]
    lines.append(f"- Tables identical in every case: {same}.")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_sweep", description=__doc__)
    p.add_argument("--case", choices=CASES, help="run one case here and print its JSON")
    p.add_argument("--points", type=int)
    p.add_argument("--n", type=int)
    p.add_argument("--chunk", type=int)
    p.add_argument("--per-task", type=int, help="grid points per task")
    p.add_argument("--quick", action="store_true", help="all cases at the quick size")
    a = p.parse_args(argv)
    if a.case:
        s = sizes(a.quick)
        res = run_case(
            a.case,
            a.points or s["points"],
            a.n or s["n"],
            a.chunk or s["chunk"],
            a.per_task or s["per_task"],
        )
        print(json.dumps(res))
        return 0
    res = run(a.quick, points=a.points, n=a.n, chunk=a.chunk, per_task=a.per_task)
    print("\n".join(render(res)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
