"""Fund design: the wall time of ``glidelab design`` on the shipped study, stage by stage.

One case: :func:`glidelab.design.design` on the shipped ``target_date_2060`` study (20,000
member-paths in sample, a 5-point frontier, the CE search under a bPOE ceiling, the
constraint costs, then the held-out, cohort, country and evidence scoring), in this
process, optionally with the frontier's searches on a local Dask cluster of ``workers``
processes (``glidelab.backends.ordered_map``). ``--quick`` runs the smoke-run study
(``glidelab.design.quick``) instead.

Reported: the design's own clock per stage (``DesignOutcome.seconds``, wall seconds:
setup, frontier, ce, constraint_costs, out_of_sample, countries, evidence, total), the
process's CPU seconds, the 1-minute load average before and after (on a shared machine a
wall time means little without it), and the designed path's in-sample success, bPOE and
CE with its standard error (so that a faster run can be checked to design the same path).
Target (issue 28): the shipped study under 3 minutes on this 2-core machine.

Run alone: ``python -m benchmarks.bench_design [--quick] [--workers N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

#: Issue 28's target for the shipped design, wall seconds.
TARGET_SECONDS = 180.0


def _load() -> float:
    return os.getloadavg()[0]


def run(quick: bool = False, workers: int | None = None) -> dict[str, Any]:
    """Time one design of the shipped study (``quick``: its smoke run); ``workers``: the
    frontier's searches on a local Dask cluster of that many processes."""
    from glidelab.design import design, load_design_study
    from glidelab.design import quick as quick_study

    study = load_design_study("target_date_2060")
    if quick:
        study = quick_study(study)
    load_before = _load()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    if workers:
        from glidelab.backends import DaskBackend, dask_client, ordered_map

        with dask_client(workers=workers) as client:
            out = design(study, map_fn=ordered_map(DaskBackend(client)))
    else:
        out = design(study)
    wall = time.perf_counter() - t0
    designed = out.placed.iloc[0]
    chosen = out.frontier[0]
    return {
        "study": study.name + (" (quick)" if quick else ""),
        "member_paths": study.design.member_paths,
        "workers": workers or 0,
        "stages": {k: float(v) for k, v in out.seconds.items()},
        "wall_s": wall,
        "cpu_s": time.process_time() - cpu0,
        "load_before": load_before,
        "load_after": _load(),
        "success": float(designed["success"]),
        "bpoe": float(designed["bpoe"]),
        "ce": float(designed["CE (USD/yr)"]),
        "ce_se_max_success": float(chosen.ce_se),
        "target_s": TARGET_SECONDS,
    }


def render(res: dict[str, Any]) -> list[str]:
    """Markdown lines for the report."""
    where = f"{res['workers']} Dask workers" if res["workers"] else "in process"
    ok = res["wall_s"] < res["target_s"]
    verdict = (
        "the target is for the full study"
        if "(quick)" in res["study"]
        else f"{'within' if ok else 'over'} the {res['target_s']:.0f} s target"
    )
    lines = [
        f"`glidelab design` on {res['study']} ({res['member_paths']:,} member-paths in "
        f"sample), {where}: **{res['wall_s']:.0f} s** wall ({verdict}), "
        f"{res['cpu_s']:.0f} s CPU in this process; load average "
        f"{res['load_before']:.1f} before, {res['load_after']:.1f} after.",
        "",
        "| Stage | Wall (s) |",
        "|---|---|",
        *(f"| {k} | {v:.1f} |" for k, v in res["stages"].items()),
        "",
        f"Designed path in sample: success {100 * res['success']:.2f} %, bPOE "
        f"{res['bpoe']:.4f}, CE {res['ce']:,.0f} USD a year (SE "
        f"{res['ce_se_max_success']:,.0f} at the max-success point).",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_design")
    p.add_argument("--quick", action="store_true", help="the smoke-run study")
    p.add_argument("--workers", type=int, default=None, help="local Dask workers")
    a = p.parse_args(argv)
    res = run(quick=a.quick, workers=a.workers)
    print("\n".join(render(res)))
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
