"""Population: the fund-design search at 20,000 member-paths and 1,000,000 member-paths scored.

Two cases, on the shipped ``target_date_2060`` study's population (members born 1995,
annual periods from age 22 to 105) and a stationary block bootstrap of annual US
``us_stocks`` / ``tbonds_10y`` / ``tbills`` 1928-2025:

* **design**: ``member_paths`` members (20,000 in the reference run), each paired with
  one of 1,000 market paths, a death age drawn per member-path; one SCP search for the
  highest success (bPOE, ``optimize.fund_design``) under the study's committee
  constraints, ``max_iterations`` iterations at most. Reported: wall time (setup =
  drawing members and margins, search), success in sample and on a **held-out** set of
  fresh members and fresh-seed market paths of the same size (the gap, in points).
  Target (issue 15): under 60 s on 2 cores.
* **evaluate**: 10,000 members x 100 market paths = 1,000,000 member-paths of one fixed
  glide path (the Vanguard-style preset), exact survival-weighted scoring
  (``backtest.population_eval.evaluate_population``), in chunks of ``chunk`` member-paths.
  Reported: wall time and peak resident memory of the process (``VmHWM``, see ``benchmarks.environment.peak_rss_bytes``), with the
  baseline before the case, so the memory the case adds is bounded by the chunk size,
  not by the number of member-paths.

Run alone: ``python -m benchmarks.bench_population [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from benchmarks.environment import peak_rss_bytes

SEED = 2060


def _rss_mib() -> float:
    return peak_rss_bytes() / 2**20


def design_case(member_paths: int, market_paths: int, max_iterations: int) -> dict[str, Any]:
    import numpy as np

    from backtest.data import load_history
    from backtest.generators import block_bootstrap
    from backtest.population import draw_members
    from backtest.population_eval import pair_members_paths
    from glidelab.design import ALL_ASSETS, load_design_study
    from optimize.fund_design import FundDesigner, design_data

    st = load_design_study("target_date_2060")
    spec, ds = st.population, st.design
    hist = load_history([*ALL_ASSETS, "cpi"], "annual")
    seeds = np.random.SeedSequence(SEED).spawn(6)

    def data(k: int) -> Any:
        m = draw_members(spec, member_paths, np.random.default_rng(seeds[3 * k]))
        sc = block_bootstrap(
            hist,
            ALL_ASSETS,
            market_paths,
            spec.n_periods,
            rng=np.random.default_rng(seeds[3 * k + 1]),
        )
        mi, pi = pair_members_paths(member_paths, market_paths, "paired")
        return design_data(
            m,
            sc,
            ALL_ASSETS,
            mi,
            pi,
            expense_ratio=ds.expense_ratio,
            rng=np.random.default_rng(seeds[3 * k + 2]),
        )

    t0 = time.perf_counter()
    d_in = data(0)
    designer = FundDesigner(
        d_in,
        spec.target_age,
        ds.constraints,
        knot_spacing_years=ds.knot_spacing_years,
        assets=ds.assets,
    )
    t1, c1 = time.perf_counter(), time.process_time()
    pt = designer.optimise("success", max_iterations=max_iterations)
    t2, c2 = time.perf_counter(), time.process_time()
    held = FundDesigner(
        data(1), spec.target_age, ds.constraints, knot_ages=designer.knot_ages, assets=ds.assets
    ).evaluate_weights(designer.weights(pt.knots))
    return {
        "member_paths": member_paths,
        "market_paths": market_paths,
        "knots": int(designer.knot_ages.size),
        "decision_variables": int(designer.knot_ages.size * (len(ds.assets) - 1)),
        "iterations": pt.iterations,
        "setup_s": t1 - t0,
        "search_s": t2 - t1,
        "total_s": t2 - t0,
        "search_cpu_s": c2 - c1,
        "load_average_1min": float(os.getloadavg()[0]),
        "success_in_sample": pt.success,
        "success_held_out": held.success,
        "gap_pp": 100.0 * (pt.success - held.success),
        "equity_at_target": float(
            pt.knots[int(np.argmin(np.abs(designer.knot_ages - spec.target_age))), 0]
        ),
    }


def evaluate_case(members: int, paths: int, chunk: int) -> dict[str, Any]:
    import numpy as np

    from backtest.data import load_history
    from backtest.generators import block_bootstrap
    from backtest.population import PopulationSpec, draw_members
    from backtest.population_eval import evaluate_population, glide_weights, portfolio_growth
    from strategies.presets import preset

    spec = PopulationSpec()
    hist = load_history(["us_stocks", "tbonds_10y", "cpi"], "annual")
    sc = block_bootstrap(hist, ["us_stocks", "tbonds_10y"], paths, spec.n_periods, rng=SEED)
    s = preset("vanguard_target_retirement")
    growth = portfolio_growth(sc, tuple(s.assets), glide_weights(s, spec, sc))
    t0 = time.perf_counter()
    m = draw_members(spec, members, SEED)
    t1 = time.perf_counter()
    base = _rss_mib()
    out = evaluate_population(m, growth, expense_ratio=0.0012, pairing="cross", chunk_size=chunk)
    t2 = time.perf_counter()
    return {
        "members": members,
        "market_paths": paths,
        "member_paths": out.n,
        "chunk": chunk,
        "draw_s": t1 - t0,
        "evaluate_s": t2 - t1,
        "rss_before_mib": base,
        "peak_rss_mib": _rss_mib(),
        "success_survival_weighted": out.mean_success,
        "member_draw_bytes_mib": float(
            sum(v.nbytes for v in m.__dict__.values() if isinstance(v, np.ndarray)) / 2**20
        ),
    }


def _fresh(case: str, quick: bool) -> dict[str, Any]:
    """One case in a fresh ``python -m benchmarks.bench_population`` process, so that its
    peak resident memory is its own."""
    import subprocess

    cmd = [sys.executable, "-m", "benchmarks.bench_population", "--case", case]
    out = subprocess.run(
        cmd + (["--quick"] if quick else []), capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(out[out.index("{") :]))


def run(quick: bool = False, repeat: int = 1) -> dict[str, object]:
    """Both cases, each in its own process (``repeat`` is accepted for the runner; one run)."""
    return {
        "design": _fresh("design", quick),
        "evaluate": _fresh("evaluate", quick),
        "quick": quick,
    }


def render(r: dict[str, Any]) -> list[str]:
    d, e = r["design"], r["evaluate"]
    return [
        f"Design search, {d['member_paths']:,} member-paths ({d['decision_variables']} "
        f"free weights, {d['iterations']} SCP iterations): {d['total_s']:.1f} s "
        f"(setup {d['setup_s']:.1f} s, search {d['search_s']:.1f} s, of which CPU time of the "
        f"process {d['search_cpu_s']:.1f} s; 1-minute load average {d['load_average_1min']:.1f} "
        f"at the end); target < 60 s wall: {'met' if d['total_s'] < 60 else 'NOT met'}.",
        f"Success in sample {100 * d['success_in_sample']:.1f} %, held out "
        f"{100 * d['success_held_out']:.1f} % (gap {d['gap_pp']:+.1f} pp).",
        "",
        f"Evaluation, {e['members']:,} members x {e['market_paths']} paths = "
        f"{e['member_paths']:,} member-paths in chunks of {e['chunk']:,}: "
        f"{e['evaluate_s']:.1f} s (drawing members {e['draw_s']:.1f} s); peak RSS "
        f"{e['peak_rss_mib']:.0f} MiB (before the case {e['rss_before_mib']:.0f} MiB; members "
        f"{e['member_draw_bytes_mib']:.0f} MiB).",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="population benchmarks (issue 15)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--case", choices=("design", "evaluate", "both"), default="both")
    a = p.parse_args(argv)
    if a.case == "both":
        r = run(a.quick)
        print("\n".join(render(r)))
        return 0
    if a.case == "design":
        r = design_case(*((2_000, 200, 4) if a.quick else (20_000, 1_000, 10)))
    else:
        r = evaluate_case(*((1_000, 20, 5_000) if a.quick else (10_000, 100, 25_000)))
    print(json.dumps(r, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
