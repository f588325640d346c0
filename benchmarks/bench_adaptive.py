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
"""

from __future__ import annotations

import dataclasses
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


def run(quick: bool = False, repeat: int = 3) -> dict[str, Any]:
    """Measure; returns plain numbers for ``benchmarks.run``."""
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
    sims: dict[str, dict[str, float]] = {}
    for engine in ("numba", "numpy"):
        simulate(sc.take(slice(0, 100)), plan, policy, engine=engine)  # compile / warm
        simulate(sc.take(slice(0, 100)), plan, det, engine=engine)
        t_ad, r_ad = _median_time(lambda e=engine: simulate(sc, plan, policy, engine=e), repeat)
        t_det, _ = _median_time(lambda e=engine: simulate(sc, plan, det, engine=e), repeat)
        sims[engine] = {
            "adaptive_s": t_ad,
            "deterministic_s": t_det,
            "ratio": t_ad / t_det,
            "adaptive_success": float(r_ad.success_rate),
        }
    # the compiled lookup's cost grows with the table's nodes: the same policy on every
    # 4th node (101), numba only
    thin = dataclasses.replace(
        policy,
        wealth_grid=policy.wealth_grid[:, ::4],
        weights=policy.weights[:, ::4],
        value=policy.value[:, ::4],
    )
    simulate(sc.take(slice(0, 100)), plan, thin, engine="numba")
    t_thin, r_thin = _median_time(lambda: simulate(sc, plan, thin, engine="numba"), repeat)
    sims["numba, table on every 4th node (101)"] = {
        "adaptive_s": t_thin,
        "deterministic_s": sims["numba"]["deterministic_s"],
        "ratio": t_thin / sims["numba"]["deterministic_s"],
        "adaptive_success": float(r_thin.success_rate),
    }
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
        f"Forward simulation, {res['n_scenarios']:,} i.i.d. scenarios x {g2[3]} years:",
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
