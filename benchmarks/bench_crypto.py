"""Crypto assumption surface: 7 x 7 x 2 grid x 5 sleeve sizes x 10,000 scenarios x 40 years.

Target (issue 17): under 2 minutes on 2 cores. The workload is
``backtest.crypto.surface.run_surface`` as ``glidelab crypto`` runs it: a stationary
block bootstrap of annual US history 1928-2025 (us_stocks, tbonds_10y, tbills, CPI) of
10,000 x 40 years, Bitcoin shocks drawn once (common random numbers), a 60/40 base and
sleeves of 0 (the reference), 1, 2.5, 5 and 10 % with a 0.5x-1.5x band, over 7 annual log
means x 7 log volatilities x 2 correlations: 392 sleeve cells plus the reference. The
member saves from 55 to 65 (10 % of 60,000 real USD) and spends 40,000 real USD a year to
95 (40 annual periods).

Timed: drawing the scenarios and shocks, and the surface (every cell simulated and
reduced to success, median, expected shortfall and drawdown with standard errors), as
separate medians over ``repeat`` runs.

    python -m benchmarks.bench_crypto [--quick] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

TARGET_S = 120.0
SEED = 20_261_130


def _workload(quick: bool) -> dict[str, Any]:
    if quick:
        return {"n": 1000, "means": 3, "vols": 3, "corrs": 2}
    return {"n": 10_000, "means": 7, "vols": 7, "corrs": 2}


def run(quick: bool = False, repeat: int = 3) -> dict[str, Any]:
    """Time the surface; returns plain numbers for RESULTS.md."""
    import numpy as np

    from backtest.crypto.assumptions import draw_crn
    from backtest.crypto.surface import assumption_grid, run_surface
    from backtest.data import load_history
    from backtest.generators import block_bootstrap
    from backtest.plan import ConstantReal, Contributions, Plan
    from strategies import CryptoSleeve, FixedMix, SleeveBand

    w = _workload(quick)
    assets = ["us_stocks", "tbonds_10y", "tbills"]
    history = load_history([*assets, "cpi"], "annual")
    plan = Plan(
        start_age=55,
        retirement_age=65,
        end_age=95,
        initial_balance=300_000,
        contributions=Contributions(salary=60_000, rate=0.10),
        withdrawal=ConstantReal(rate=None, amount=40_000),
        expense_ratio=0.002,
    )
    base = FixedMix("60/40", tuple(assets), (0.6, 0.4, 0.0))
    band = SleeveBand("btc", 0.5, 1.5)
    sizes = (0.0, 0.01, 0.025, 0.05, 0.10)
    means = list(np.linspace(-0.2, 0.3, w["means"]))
    vols = list(np.linspace(0.3, 1.2, w["vols"]))
    corrs = [0.0, 0.4][: w["corrs"]]
    grid = assumption_grid(means, vols, corrs)
    draw_s, surface_s = [], []
    cells = 0
    for i in range(repeat):
        t0 = time.perf_counter()
        sc = block_bootstrap(history, assets, w["n"], 40, block_length=3.0, rng=SEED + i)
        draws = draw_crn(sc, "us_stocks", rng=SEED + 100 + i)
        t1 = time.perf_counter()
        df = run_surface(
            draws, plan, base, lambda s: CryptoSleeve(base, s, band=band, cap=None), sizes, grid
        )
        t2 = time.perf_counter()
        draw_s.append(t1 - t0)
        surface_s.append(t2 - t1)
        cells = len(df)
    total = [a + b for a, b in zip(draw_s, surface_s, strict=True)]
    return {
        "workload": {**w, "years": 40, "sleeves": list(sizes), "cells": cells},
        "draw_s": _stats(draw_s),
        "surface_s": _stats(surface_s),
        "total_s": _stats(total),
        "per_cell_ms": statistics.median(surface_s) / max(cells, 1) * 1e3,
        "target_s": TARGET_S,
        "quick": quick,
    }


def _stats(v: list[float]) -> dict[str, float]:
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "runs": len(v)}


def render(res: dict[str, Any]) -> list[str]:
    """Markdown lines for RESULTS.md."""
    w = res["workload"]
    t = res["total_s"]
    verdict = "meets" if t["median"] < res["target_s"] else "misses"
    return [
        f"{w['means']} means x {w['vols']} vols x {w['corrs']} correlations x "
        f"{len(w['sleeves'])} sleeve sizes (0 = reference; {w['cells']} sleeve cells) x "
        f"{w['n']:,} scenarios x {w['years']} years"
        + (" (quick sizes, not the reference workload)" if res["quick"] else ""),
        "",
        "| step | median | min | max |",
        "| --- | --- | --- | --- |",
        *(
            f"| {name} | {res[k]['median']:.1f} s | {res[k]['min']:.1f} s | {res[k]['max']:.1f} s |"
            for name, k in (
                ("scenarios + shocks", "draw_s"),
                ("surface", "surface_s"),
                ("total", "total_s"),
            )
        ),
        "",
        f"{res['per_cell_ms']:.0f} ms per cell; target under {res['target_s']:.0f} s: "
        f"{verdict} it ({t['median']:.0f} s, median of {t['runs']}).",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_crypto", description=__doc__.split("\n")[0]
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args(argv)
    res = run(a.quick, a.repeat)
    print("\n".join(render(res)))
    print(json.dumps(res), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
