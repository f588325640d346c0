"""Adaptive glide path: DP solve time and grid size; simulator cost of the state lookup.

* Solve: ``optimize.dynamic.solve_adaptive`` for the default lifecycle member
  (``optimize.validation.lifecycle_plan()``: 25 -> 95, annual), on the empirical joint
  distribution of the embedded 1928-2025 years, two assets (``us_stocks`` /
  ``tbonds_10y``, weight step 0.02) and three (plus ``tbills``, step 0.05), 401 wealth
  nodes a year. Target (issue 14): under 30 s on two cores.
* Forward simulation: ``backtest.simulate.simulate`` of the solved policy (weights looked
  up at each scenario's real wealth every year) against a deterministic glide path with
  the same assets (the policy's own median-path weights, by age only), same scenarios
  (i.i.d. draws from the model), each engine. Target: the lookup costs less than 2x.
  The cases of one engine run interleaved in one process (adaptive, deterministic,
  thinned table, adaptive, ...), at least 5 runs each, median, with the load average
  (the benchmark machine is shared).
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from typing import Any


def _median_time(fn: Any, repeat: int) -> tuple[float, Any]:
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _interleaved(cases: dict[str, Any], repeat: int) -> dict[str, tuple[float, list[float], Any]]:
    """Each case run ``repeat`` times, round robin (so a change in the machine's load
    falls on every case alike): median seconds, every run's seconds, the last output."""
    times: dict[str, list[float]] = {k: [] for k in cases}
    outs: dict[str, Any] = {}
    for _ in range(repeat):
        for k, fn in cases.items():
            t = time.perf_counter()
            outs[k] = fn()
            times[k].append(time.perf_counter() - t)
    return {k: (statistics.median(v), v, outs[k]) for k, v in times.items()}


def run(quick: bool = False, repeat: int = 3) -> dict[str, Any]:
    """Measure; returns plain numbers for ``benchmarks.run`` (the simulations run at
    least 5 times each, interleaved)."""
    from backtest.data import load_history
    from backtest.simulate import simulate
    from optimize.dynamic import empirical_model, solve_adaptive
    from optimize.glidepath import make_glide_path
    from optimize.validation import lifecycle_plan
    from strategies.base import Schedule

    plan = lifecycle_plan()
    history = load_history(["us_stocks", "tbonds_10y", "tbills", "cpi"])
    model = empirical_model(history, ["us_stocks", "tbonds_10y", "tbills"])
    two = ["us_stocks", "tbonds_10y"]
    solve2_s, res2 = _median_time(
        lambda: solve_adaptive(plan, model, assets=two, n_paths=500), repeat
    )
    solve3_s, res3 = _median_time(lambda: solve_adaptive(plan, model, n_paths=500), 1)
    policy = res2.policy
    n = 10_000 if quick else 100_000
    n_t = plan.n_periods(1)
    sc = model.select(two).sample(n, n_t, 1)
    schedule = Schedule.from_ages(plan.start_age, plan.end_age, plan.retirement_age, 1)
    median_w = policy.target_weights(schedule, sc.returns)[0]
    det = make_glide_path(
        "median-path weights (deterministic)", two, policy.ages, median_w, plan, 1
    )
    # the compiled lookup's cost grows with the table's nodes: the same policy on every
    # 4th node (101), numba only
    thin = dataclasses.replace(
        policy,
        wealth_grid=policy.wealth_grid[:, ::4],
        weights=policy.weights[:, ::4],
        value=policy.value[:, ::4],
    )
    sim_repeat = max(5, repeat)
    load_before = os.getloadavg()
    sims: dict[str, dict[str, Any]] = {}
    for engine in ("numba", "numpy"):
        cases = {"adaptive": policy, "deterministic": det}
        if engine == "numba":
            cases["thin"] = thin
        # compile / warm (numba on the full set: a 100-scenario slice is another array
        # layout, so another compiled signature)
        warm = sc if engine == "numba" else sc.take(slice(0, 100))
        for strat in cases.values():
            simulate(warm, plan, strat, engine=engine)
        got = _interleaved(
            {
                k: (lambda st=st, e=engine: simulate(sc, plan, st, engine=e))
                for k, st in cases.items()
            },
            sim_repeat,
        )
        t_det = got["deterministic"][0]
        for k, name in (("adaptive", engine), ("thin", f"{engine}, table on every 4th node (101)")):
            if k in got:
                t_ad, runs, r_ad = got[k]
                sims[name] = {
                    "adaptive_s": t_ad,
                    "deterministic_s": t_det,
                    "ratio": t_ad / t_det,
                    "adaptive_success": float(r_ad.success_rate),
                    "adaptive_runs_s": runs,
                    "deterministic_runs_s": got["deterministic"][1],
                }
    load_after = os.getloadavg()
    return {
        "plan": "lifecycle 25 -> 95, annual",
        "solve_two_assets_s": solve2_s,
        "solve_three_assets_s": solve3_s,
        "grid_two": [res2.n_states, res2.n_candidates, res2.n_outcomes, res2.n_years],
        "grid_three": [res3.n_states, res3.n_candidates, res3.n_outcomes, res3.n_years],
        "value_two": res2.value,
        "value_three": res3.value,
        "n_scenarios": n,
        "simulate": sims,
        "repeat": repeat,
        "simulate_repeat": sim_repeat,
        "load_average_1_5_15": [list(load_before), list(load_after)],
    }


def render(res: dict[str, Any]) -> list[str]:
    """Markdown lines for the report."""
    g2, g3 = res["grid_two"], res["grid_three"]
    lines = [
        f"Plan: {res['plan']}; runs per case: {res['repeat']} (median).",
        "",
        "| case | grid (wealth nodes x weight vectors x outcomes x years) | solve time | "
        "target | promised success |",
        "|---|---|---:|---:|---:|",
        f"| DP, 2 assets | {g2[0]} x {g2[1]} x {g2[2]} x {g2[3]} | "
        f"{res['solve_two_assets_s']:.1f} s | < 30 s | {100 * res['value_two']:.2f} % |",
        f"| DP, 3 assets | {g3[0]} x {g3[1]} x {g3[2]} x {g3[3]} | "
        f"{res['solve_three_assets_s']:.1f} s | < 30 s | {100 * res['value_three']:.2f} % |",
        "",
        f"Forward simulation, {res['n_scenarios']:,} i.i.d. scenarios x {g2[3]} years "
        f"(each engine's cases interleaved in one process, median of "
        f"{res.get('simulate_repeat', res['repeat'])} runs; load average "
        + " -> ".join(
            f"{x[0]:.1f}/{x[1]:.1f}/{x[2]:.1f}" for x in res.get("load_average_1_5_15", [])
        )
        + "):",
        "",
        "| engine | adaptive (state lookup) | deterministic | ratio (target < 2x) | "
        "adaptive success |",
        "|---|---:|---:|---:|---:|",
    ]
    for engine, s in res["simulate"].items():
        lines.append(
            f"| {engine} | {s['adaptive_s']:.3f} s | {s['deterministic_s']:.3f} s | "
            f"{s['ratio']:.2f}x | {100 * s['adaptive_success']:.2f} % |"
        )
    return lines


if __name__ == "__main__":
    import json
    import sys

    out = run(quick="--quick" in sys.argv, repeat=1 if "--quick" in sys.argv else 3)
    print(json.dumps(out, indent=1))
    print("\n".join(render(out)))
