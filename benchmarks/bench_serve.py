"""``glidelab serve``: the compute path behind a dropped knot.

What the page does when a knot is dropped, without the browser: validate the view's
study with the schema (``glidelab.serve.state.to_study``) and compute every number the
page shows (``glidelab.serve.compute.evaluate``: the drawn path and the baseline on
the same 5,000 annual block-bootstrap scenarios, the historical cohorts, the wealth
fan). The default study's lifecycle member, 25 -> 95 (70 annual periods). Scenario sets
are cached by the server after the first computation, as they are here after the warm
call; each timed drop moves the retirement knot to a new equity share. Target (issue 18):
under 300 ms on this machine. Also reported: the first (cold) computation, which draws
the scenarios, and 100,000 scenarios (the chunked path with progress and cancel).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from typing import Any

#: Issue 18: a dropped knot's numbers within this many seconds.
TARGET_S = 0.300


def run(quick: bool = False, repeat: int = 3) -> dict[str, Any]:
    """Measure; returns plain numbers for ``benchmarks.run``."""
    from glidelab.serve import compute, state

    template = state.read_template()
    view = replace(state.initial_view(template), n_scenarios=5_000)
    t = time.perf_counter()
    compute.evaluate(state.to_study(view), view.scenarios)
    cold_s = time.perf_counter() - t
    drops = 10 if quick else 30
    times = []
    for i in range(drops):
        eq = round(0.2 + 0.6 * i / max(drops - 1, 1), 2)
        moved = replace(view, equity=(view.equity[0], eq, view.equity[2]))
        t = time.perf_counter()
        out = compute.evaluate(state.to_study(moved), moved.scenarios)
        times.append(time.perf_counter() - t)
    big_n = 20_000 if quick else 100_000
    big = replace(view, n_scenarios=big_n)
    compute.evaluate(state.to_study(big), big.scenarios)  # draws (and caches) the scenarios
    big_times = []
    for _ in range(max(1, min(repeat, 3))):
        t = time.perf_counter()
        compute.evaluate(state.to_study(big), big.scenarios)
        big_times.append(time.perf_counter() - t)
    return {
        "n_scenarios": out.n_scenarios,
        "n_periods": int(out.fan.shape[1] - 1),
        "n_cohorts": len(out.cohort_labels),
        "drops": drops,
        "drop_s": {"median": statistics.median(times), "min": min(times), "max": max(times)},
        "cold_s": cold_s,
        "big_n": big_n,
        "big_s": statistics.median(big_times),
        "target_s": TARGET_S,
        "met": statistics.median(times) < TARGET_S and max(times) < TARGET_S,
    }


def render(res: dict[str, Any]) -> list[str]:
    """Markdown lines of the section."""
    d = res["drop_s"]
    ms = 1000
    return [
        f"A dropped knot: validate the view's study and recompute every number on the page "
        f"({res['n_scenarios']:,} annual block-bootstrap scenarios x {res['n_periods']} "
        f"years, drawn path and baseline, plus {res['n_cohorts']} historical cohorts and the "
        f"wealth fan), scenario sets cached as in the server. {res['drops']} drops.",
        "",
        "| | time |",
        "|---|---:|",
        f"| one drop, median (min-max) | {ms * d['median']:.0f} ms "
        f"({ms * d['min']:.0f}-{ms * d['max']:.0f}) |",
        f"| first computation (draws the scenarios) | {ms * res['cold_s']:.0f} ms |",
        f"| {res['big_n']:,} scenarios (chunked, with progress) | {res['big_s']:.2f} s |",
        "",
        f"Target: under {ms * res['target_s']:.0f} ms per drop (issue 18): "
        + ("**met** (median and slowest)." if res["met"] else "**not met**."),
        "",
    ]


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=False)))
