"""One simulator case, run in a fresh process: ``python -m benchmarks.bench_simulator``.

For ``n`` scenarios x 480 months x 4 assets (the workload of ``benchmarks.workload``),
chunk by chunk and ``repeat`` times over the same seeded chunks:

* ``gen_s``: time to bootstrap the chunk (not part of the simulator time);
* ``floor_s``: the streaming floor, one ``np.add.reduce`` pass over the chunk's returns
  and inflation arrays (every input byte read once), timed in this process right before
  the chunk is simulated;
* ``sim_s``: the summary pass ``backtest.simulate.simulate_chunked([chunk], plan,
  strategy, engine=engine)``, which keeps what this workload needs (success count and
  terminal real wealth, 8 bytes a scenario) and no paths, after one untimed warm-up call
  on 16 scenarios (``warmup_s``: imports, numba compilation);
* ``full_s`` (with ``--with-paths``): ``simulate(chunk, ...)`` on the same chunk, which
  also writes every path (wealth and eight flows per period). Peak memory is ``VmHWM`` (``benchmarks.environment.peak_rss_bytes``) of this process
(peak resident set, whole process: interpreter, numpy, pandas and data included), with
the value after imports and data loading reported as the baseline.

Prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import inspect
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.environment import peak_rss_bytes

if TYPE_CHECKING:
    from backtest.engine_gen import GeneratedScenarios


def _rss_mib() -> float:
    return peak_rss_bytes() / 2**20


def stream_floor_s(returns: np.ndarray, inflation: np.ndarray) -> float:
    """Seconds for one numpy pass over every byte of ``returns`` and ``inflation``."""
    t0 = time.perf_counter()
    np.add.reduce(returns, axis=None)
    np.add.reduce(inflation, axis=None)
    return time.perf_counter() - t0


def _fingerprint() -> str:
    """Short hash of the simulator's source files, to spot a simulator changed mid-run."""
    root = Path(__file__).resolve().parent.parent / "backtest"
    h = hashlib.sha1()
    for name in ("simulate.py", "kernel.py", "cashflows.py", "engine_gen.py", "counter_rng.py"):
        f = root / name
        if f.exists():
            h.update(f.read_bytes())
    return h.hexdigest()[:10]


def run_case(
    n_scenarios: int,
    chunk: int,
    repeat: int,
    seed: int,
    engine: str = "auto",
    with_paths: bool = False,
) -> dict[str, object]:
    """Measure one case in this process; see the module docstring for the fields."""
    import backtest.simulate as sim_module
    from benchmarks import workload

    fingerprint = _fingerprint()
    plan = workload.benchmark_plan()
    strategy, strategy_note = workload.benchmark_strategy()
    kwargs: dict[str, object] = {}
    resolved = "numpy (the only engine of this revision)"
    if "engine" in inspect.signature(sim_module.simulate).parameters:
        kwargs["engine"] = engine
        resolver = getattr(sim_module, "_resolve_engine", None)
        resolved = resolver(engine, strategy, False) if resolver else engine

    def simulate(sc: object) -> object:
        return sim_module.simulate(sc, plan, strategy, **kwargs)

    chunked = getattr(sim_module, "simulate_chunked", None)

    def summarise(sc: object) -> tuple[int, np.ndarray]:
        """What this workload keeps (success, terminal wealth): the summary pass."""
        if chunked is None:  # older revisions: full paths, then summarise
            res = simulate(sc)
            return int(np.count_nonzero(res.success)), np.array(res.terminal_wealth)
        s = chunked([sc], plan, strategy, **kwargs)
        return s.n_success, np.array(s.terminal_wealth)

    workload.history()
    # First call on a tiny set: imports, JIT compilation (numba engine), caches.
    t0 = time.perf_counter()
    simulate(workload.make_chunk(16, seed, 10**6))
    summarise(workload.make_chunk(16, seed, 10**6))
    warmup = time.perf_counter() - t0
    baseline = _rss_mib()
    sizes = workload.chunk_sizes(n_scenarios, chunk)
    runs = []
    summary: dict[str, object] = {}
    for _ in range(repeat):
        gen = floor = sim = full = 0.0
        n_success = 0
        terminal = []
        n_bytes = 0
        for k, m in enumerate(sizes):
            t0 = time.perf_counter()
            sc = workload.make_chunk(m, seed, k)
            gen += time.perf_counter() - t0
            n_bytes += sc.nbytes
            floor += stream_floor_s(sc.returns, sc.inflation)
            t0 = time.perf_counter()
            ok, tw_chunk = summarise(sc)
            sim += time.perf_counter() - t0
            n_success += ok
            terminal.append(tw_chunk)
            if with_paths:
                t0 = time.perf_counter()
                res = simulate(sc)
                full += time.perf_counter() - t0
                del res
            del sc
            gc.collect()
        tw = np.concatenate(terminal)
        run = {"gen_s": gen, "floor_s": floor, "sim_s": sim, "ratio": sim / floor}
        if with_paths:
            run |= {"full_s": full, "full_ratio": full / floor}
        runs.append(run)
        summary = {
            "success_rate": n_success / n_scenarios,
            "terminal_p10": float(np.percentile(tw, 10)),
            "terminal_p50": float(np.percentile(tw, 50)),
            "terminal_p90": float(np.percentile(tw, 90)),
            "input_bytes": n_bytes,
        }
    return {
        "n_scenarios": n_scenarios,
        "n_periods": workload.N_PERIODS,
        "n_assets": len(workload.ASSETS),
        "chunk": chunk,
        "n_chunks": len(sizes),
        "repeat": repeat,
        "seed": seed,
        "runs": runs,
        "peak_rss_mib": _rss_mib(),
        "baseline_rss_mib": baseline,
        "strategy": strategy_note,
        "engine": resolved,
        "warmup_s": warmup,
        "simulator_fingerprint": fingerprint,
        **summary,
    }


#: Block length (months) of the end-to-end case's stationary block bootstrap drawn in
#: the engine (a year: the order of the default rule's estimate on monthly US data).
E2E_BLOCK_MONTHS = 12.0


def _e2e_lognormal(n: int, seed: int) -> GeneratedScenarios:
    """The end-to-end case's lognormal drawn in the engine
    (``engine_gen.parametric_in_engine``): annual log moments of the same history rows as
    ``workload.generated`` (mean and covariance of ``log(1 + r)`` times 12)."""
    from backtest.engine_gen import parametric_in_engine
    from benchmarks import workload

    hist_r, hist_i, _ = workload.history()
    logs = np.log1p(np.column_stack([hist_r, hist_i]))
    mu, cov = logs.mean(axis=0) * 12, np.cov(logs, rowvar=False) * 12
    return parametric_in_engine(
        workload.ASSETS, mu, cov, "monthly", n, workload.N_PERIODS, seed=seed
    )


def _e2e_step(
    route: str,
    m: int,
    seed: int,
    k: int,
    iid: GeneratedScenarios,
    block: GeneratedScenarios,
    lognormal: GeneratedScenarios,
) -> tuple[dict[str, float], int]:
    """One chunk by one route of :func:`run_end_to_end`: its times and successes."""
    from backtest.simulate import simulate_chunked
    from benchmarks import workload

    plan = workload.benchmark_plan()
    strategy, _ = workload.benchmark_strategy()
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    if route in ("stored", "twin"):
        sc = workload.make_chunk(m, seed, k) if route == "stored" else iid.materialise()
        times[f"{route}_gen_s"] = time.perf_counter() - t0
        if route == "twin":
            times["floor_s"] = stream_floor_s(sc.returns, sc.inflation)
        t0 = time.perf_counter()
        n_ok = simulate_chunked([sc], plan, strategy).n_success
        times[f"{route}_sim_s"] = time.perf_counter() - t0
        return times, n_ok
    if route == "numpy_lognormal":
        # what numpy alone needs to make the lognormal's numbers, with no matrix product
        # and no simulation: its fastest normals (the ziggurat) and their exponentials
        z = np.random.default_rng([seed, k]).standard_normal((m, workload.N_PERIODS, 5))
        np.exp(z, out=z)
        times["numpy_lognormal_s"] = time.perf_counter() - t0
        del z
        return times, 0
    drawn = {"fused_iid": iid, "fused_block": block, "fused_lognormal": lognormal}[route]
    n_ok = simulate_chunked([drawn], plan, strategy).n_success
    times[f"{route}_s"] = time.perf_counter() - t0
    return times, n_ok


def run_end_to_end(n_scenarios: int, chunk: int, repeat: int, seed: int) -> dict[str, object]:
    """Generation + simulation (summary pass), end to end, by each route, per chunk:

    * ``stored``: ``workload.make_chunk`` (numpy ``default_rng`` bootstrap, the
      throughput section's scenarios) then ``simulate_chunked`` on the arrays;
    * ``twin``: the in-engine recipe materialised by its numpy twin
      (``GeneratedScenarios.materialise``), then ``simulate_chunked`` on the arrays;
    * ``fused_iid`` / ``fused_block``: ``simulate_chunked`` on the recipe itself (i.i.d.,
      and a stationary block bootstrap of ``E2E_BLOCK_MONTHS``): the kernel draws;
    * ``fused_lognormal``: ``simulate_chunked`` on a lognormal drawn in the engine
      (:func:`_e2e_lognormal`, the history rows' log moments): the kernel draws normals;
    * ``numpy_lognormal``: numpy alone making the lognormal's random numbers, without
      simulating: ``default_rng.standard_normal`` (the ziggurat, numpy's fastest normals)
      of the chunk's 5 normals a scenario-month (4 assets and inflation) and ``np.exp``
      of them: the floor of any lognormal generator in numpy, against which the engine's
      lognormal (simulation included) is also measured;
    * ``floor_s``: one ``np.add.reduce`` pass over the twin's arrays (the same scenarios
      the i.i.d. fused route draws, every byte read once).

    The routes alternate order from chunk to chunk, so all see the same load.
    """
    from backtest.simulate import simulate_chunked
    from benchmarks import workload

    plan = workload.benchmark_plan()
    strategy, _ = workload.benchmark_strategy()
    workload.history()
    t0 = time.perf_counter()
    simulate_chunked([workload.make_chunk(16, seed, 10**6)], plan, strategy)
    simulate_chunked([workload.generated(16, seed)], plan, strategy)
    simulate_chunked([_e2e_lognormal(16, seed)], plan, strategy)
    warmup = time.perf_counter() - t0
    iid = workload.generated(n_scenarios, seed)
    block = workload.generated(n_scenarios, seed, E2E_BLOCK_MONTHS)
    lognormal = _e2e_lognormal(n_scenarios, seed)
    sizes = workload.chunk_sizes(n_scenarios, chunk)
    load_before = os.getloadavg()
    runs = []
    routes = ("stored", "twin", "fused_iid", "fused_block", "fused_lognormal", "numpy_lognormal")
    for r in range(repeat):
        t: dict[str, float] = {}
        ok: dict[str, int] = {}
        for k, m in enumerate(sizes):
            part = slice(k * chunk, k * chunk + m)
            shift = (r + k) % len(routes)
            for route in routes[shift:] + routes[:shift]:
                times, n_ok = _e2e_step(
                    route, m, seed, k, iid.take(part), block.take(part), lognormal.take(part)
                )
                for key, v in times.items():
                    t[key] = t.get(key, 0.0) + v
                ok[route] = ok.get(route, 0) + n_ok
                gc.collect()
        if ok["twin"] != ok["fused_iid"]:
            raise RuntimeError(f"the fused route and its numpy twin disagree: {ok}")
        fl = t["floor_s"]
        runs.append(
            t
            | {
                "stored_ratio": (t["stored_gen_s"] + t["stored_sim_s"]) / fl,
                "stored_sim_ratio": t["stored_sim_s"] / fl,
                "twin_ratio": (t["twin_gen_s"] + t["twin_sim_s"]) / fl,
                "fused_iid_ratio": t["fused_iid_s"] / fl,
                "fused_block_ratio": t["fused_block_s"] / fl,
                "fused_lognormal_ratio": t["fused_lognormal_s"] / fl,
                "numpy_lognormal_ratio": t["numpy_lognormal_s"] / fl,
                "fused_lognormal_vs_numpy": t["fused_lognormal_s"] / t["numpy_lognormal_s"],
                "success_iid": ok["fused_iid"] / n_scenarios,
                "success_block": ok["fused_block"] / n_scenarios,
                "success_lognormal": ok["fused_lognormal"] / n_scenarios,
            }
        )
    return {
        "n_scenarios": n_scenarios,
        "n_periods": workload.N_PERIODS,
        "n_assets": len(workload.ASSETS),
        "chunk": chunk,
        "repeat": repeat,
        "seed": seed,
        "block_months": E2E_BLOCK_MONTHS,
        "warmup_s": warmup,
        "runs": runs,
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
        "peak_rss_mib": _rss_mib(),
        "simulator_fingerprint": _fingerprint(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, required=True, help="number of scenarios")
    p.add_argument("--chunk", type=int, default=25_000, help="scenarios per chunk")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--seed", type=int, default=20_240_101)
    p.add_argument("--engine", default="auto", help="simulate(engine=...) when supported")
    p.add_argument(
        "--with-paths", action="store_true", help="also time simulate() keeping every path"
    )
    p.add_argument(
        "--end-to-end",
        action="store_true",
        help="generation + simulation by each route (stored, numpy twin, drawn in the engine)",
    )
    a = p.parse_args(argv)
    if a.end_to_end:
        print(json.dumps(run_end_to_end(a.n, a.chunk, a.repeat, a.seed)))
        return 0
    print(json.dumps(run_case(a.n, a.chunk, a.repeat, a.seed, a.engine, a.with_paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
