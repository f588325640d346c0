"""Optimizer: time to converge and success probability on the default plan vs a baseline.

The default plan is ``optimize.validation.lifecycle_plan()``, the default study's optimised
member (save 25 -> 65 at 10 % of 50,000 real USD with a 50 % match up to 6 %, spend
35,000 real USD a year to 95, fees 0.2 %), annual ``us_stocks`` / ``tbonds_10y`` data, as
in the optimizer's own quality bar:

* in sample: stationary block bootstrap of ``n_scenarios`` scenarios (seed ``seed``);
* out of sample: ``holdout_n`` parametric (normal log-return) scenarios, seed ``seed + 1``.

SCP (``optimize.glidepath.optimize_glide_path``, default knots and constraints) runs
``repeat`` times; time to converge is its wall time until it stops, and time to best the
moment its last accepted iterate was scored (setup + iterations up to that one).
Differential evolution (``optimize.baselines.differential_evolution_search``, 4-knot
equity path) gets a budget of ``de_factor`` x the SCP median time and runs once (seeded;
its length is the budget, so a median says nothing). To see when it found its best, the
benchmark wraps the ``success_probability`` it calls with a recorder (same function,
same result, one ``perf_counter`` per call). Both paths are then scored scenario by
scenario in and out of sample, and their paired difference is reported with a 95 %
interval (:func:`paired_difference`), so that a gap of a few scenarios is not read as a
win.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

SEED = 20_261_123


def _missing() -> str | None:
    try:
        from optimize.glidepath import optimize_glide_path  # noqa: F401
    except ImportError:
        return "optimize.glidepath.optimize_glide_path"
    try:
        from optimize.baselines import differential_evolution_search  # noqa: F401
    except ImportError:
        return "optimize.baselines.differential_evolution_search"
    try:
        from optimize.validation import lifecycle_plan  # noqa: F401
    except ImportError:
        return "optimize.validation.lifecycle_plan"
    return None


def _scp_time_to_best(res: Any) -> float:
    iter_total = sum(h.seconds for h in res.history)
    t = res.seconds - iter_total  # setup: start grid, projection, problem build
    best = t
    for h in res.history:
        t += h.seconds
        if h.accepted:
            best = t
    return best


def _run_de(sc: Any, plan: Any, equity: str, other: str, budget_s: float) -> dict[str, Any]:
    import optimize.baselines as baselines

    calls: list[tuple[float, float]] = []
    original = baselines.success_probability

    def recorded(*args: Any, **kwargs: Any) -> float:
        value = original(*args, **kwargs)
        calls.append((time.perf_counter(), float(value)))
        return value

    baselines.success_probability = recorded
    try:
        t0 = time.perf_counter()
        de = baselines.differential_evolution_search(
            sc, plan, equity, other, max_seconds=budget_s, rng=SEED
        )
    finally:
        baselines.success_probability = original
    best_so_far, trajectory = -1.0, []
    for t, v in calls:
        if v > best_so_far:
            best_so_far = v
            trajectory.append((t - t0, v))
    return {"result": de, "trajectory": trajectory}


def _best_by(trajectory: list[tuple[float, float]], seconds: float) -> float | None:
    found = [v for t, v in trajectory if t <= seconds]
    return max(found) if found else None


def paired_difference(ok_a: Any, ok_b: Any) -> dict[str, float]:
    """Success of A minus success of B on the same scenarios, decimal, with a 95 % interval.

    Both are per-scenario success flags on common random numbers, so only the scenarios
    where they disagree carry information (McNemar): with ``b`` (A only) and ``c`` (B only)
    out of ``n``, the difference is ``(b - c) / n`` and its standard error
    ``sqrt(b + c - (b - c)**2 / n) / n``.
    """
    import numpy as np

    a = np.asarray(ok_a, dtype=bool)
    o = np.asarray(ok_b, dtype=bool)
    n = a.size
    b = int(np.count_nonzero(a & ~o))
    c = int(np.count_nonzero(o & ~a))
    se = float(np.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n)
    return {"diff": (b - c) / n, "half_width_95": 1.96 * se, "a_only": b, "b_only": c, "n": n}


def run(quick: bool, repeat: int, de_factor: float = 3.0) -> dict[str, object]:
    """Run SCP ``repeat`` times and DE once; see the module docstring."""
    missing = _missing()
    if missing:
        return {"skipped": f"not available yet: {missing}"}
    from backtest.data import load_history
    from backtest.generators import block_bootstrap, parametric
    from backtest.simulate import simulate
    from optimize.glidepath import optimize_glide_path
    from optimize.validation import BONDS, EQUITY, lifecycle_plan

    n_scenarios, holdout_n = (500, 1000) if quick else (2000, 5000)
    plan = lifecycle_plan()
    history = load_history([EQUITY, BONDS, "cpi"])
    n_t = plan.n_periods(1)
    sc = block_bootstrap(history, [EQUITY, BONDS], n_scenarios, n_t, rng=SEED)
    out = parametric(history, [EQUITY, BONDS], holdout_n, n_t, rng=SEED + 1)

    scp_runs = []
    res = None
    for _ in range(repeat):
        res = optimize_glide_path(sc, plan, progress=False)
        scp_runs.append(
            {
                "seconds": res.seconds,
                "time_to_best": _scp_time_to_best(res),
                "iterations": len(res.history),
                "success_in": res.success_in_sample,
            }
        )
    assert res is not None
    scp_median = statistics.median(r["seconds"] for r in scp_runs)
    budget = de_factor * scp_median
    de = _run_de(sc, plan, EQUITY, BONDS, budget)
    der, traj = de["result"], de["trajectory"]

    # per-scenario success held out (their mean is optimize's success_probability); in
    # sample too, for the paired difference
    scp_out = simulate(out, plan, res.glide_path).success
    de_out = simulate(out, plan, der.glide_path).success
    paired = {
        "in": paired_difference(
            simulate(sc, plan, res.glide_path).success, simulate(sc, plan, der.glide_path).success
        ),
        "out": paired_difference(scp_out, de_out),
    }
    ages = [a for a in (25, 35, 45, 55, 60, 65, 70, 80, 94) if plan.start_age <= a < plan.end_age]
    return {
        "plan": "optimize.validation.lifecycle_plan()",
        "assets": [EQUITY, BONDS],
        "n_scenarios": n_scenarios,
        "holdout_n": holdout_n,
        "seed": SEED,
        "scp": {
            "runs": scp_runs,
            "stop_reason": res.stop_reason,
            "n_knots": len(res.knot_ages),
            "initial_success_in": res.initial_success,
            "success_in": res.success_in_sample,
            "success_out": float(scp_out.mean()),
            "solver": res.solver,
        },
        "de": {
            "budget_s": budget,
            "de_factor": de_factor,
            "seconds": der.seconds,
            "time_to_best": traj[-1][0] if traj else None,
            "evaluations": der.evaluations,
            "generations": der.generations,
            "success_in": der.success,
            "success_in_at_scp_time": _best_by(traj, scp_median),
            "success_out": float(de_out.mean()),
            "equity_at_knots": der.equity_at_knots,
        },
        "paired_scp_minus_de": paired,
        "equity_by_age": {
            "ages": ages,
            "scp": [_equity_at(res.glide_path, EQUITY, a, plan) for a in ages],
            "de": [_equity_at(der.glide_path, EQUITY, a, plan) for a in ages],
        },
    }


def _equity_at(path: Any, equity: str, age: float, plan: Any) -> float:
    """Target weight of ``equity`` at ``age`` (years), decimal."""
    w = path.weights_at_age([age], plan.retirement_age)
    return float(w[0, path.assets.index(equity)])


def _stat(values: list[float]) -> str:
    return (
        f"{statistics.median(values):.3g} s ({min(values):.3g}-{max(values):.3g})"
        if values
        else "?"
    )


def render(res: dict[str, Any]) -> list[str]:
    """Markdown lines for RESULTS.md."""
    if "skipped" in res:
        return [f"Skipped: {res['skipped']}."]
    s, d = res["scp"], res["de"]
    pct = "{:.2%}".format
    at_scp = d["success_in_at_scp_time"]
    lines = [
        "Default plan (`optimize.validation.lifecycle_plan()`, the default study's member: save "
        "25 -> 65 at 10 % of 50,000 real USD + 50 % match up to 6 %, spend 35,000 real USD a "
        "year to 95, fees 0.2 %), "
        f"annual {' / '.join(res['assets'])}. In sample: stationary block bootstrap, "
        f"{res['n_scenarios']:,} scenarios, seed {res['seed']}; out of sample: parametric "
        f"(normal log returns), {res['holdout_n']:,} scenarios, seed {res['seed'] + 1}. "
        f"SCP: default knots ({s['n_knots']}) and constraints, {len(s['runs'])} run(s). "
        f"Differential evolution: 4-knot equity path, one seeded run with a budget of "
        f"{d['de_factor']:g}x the SCP median time; its time to best comes from recording "
        "each objective evaluation.",
        "",
        "| | SCP (optimize_glide_path) | Differential evolution |",
        "|---|---|---|",
        f"| Wall time until it stops | {_stat([r['seconds'] for r in s['runs']])} | "
        f"{d['seconds']:.3g} s (budget {d['budget_s']:.3g} s) |",
        f"| Time to its best | {_stat([r['time_to_best'] for r in s['runs']])} | "
        + (f"{d['time_to_best']:.3g} s" if d["time_to_best"] is not None else "?")
        + " |",
        f"| Iterations / evaluations | {s['runs'][0]['iterations']} SCP iterations "
        f"(stop: {s['stop_reason']}) | {d['evaluations']} simulations, "
        f"{d['generations']} generations |",
        f"| Success, in sample | {pct(s['success_in'])} (start: best constant mix "
        f"{pct(s['initial_success_in'])}) | {pct(d['success_in'])} (at the SCP's time: "
        + (pct(at_scp) if at_scp is not None else "none scored yet")
        + ") |",
        f"| Success, out of sample | {pct(s['success_out'])} | {pct(d['success_out'])} |",
    ]
    paired = res.get("paired_scp_minus_de")
    if paired:
        lines += ["", _paired_sentence(paired)]
    by_age = res.get("equity_by_age")
    if by_age:
        lines += [
            "",
            f"Equity ({res['assets'][0]}) held by each path, by age:",
            "",
            "| Age | " + " | ".join(f"{a:g}" for a in by_age["ages"]) + " |",
            "|---|" + "---:|" * len(by_age["ages"]),
            "| SCP | " + " | ".join(f"{w:.0%}" for w in by_age["scp"]) + " |",
            "| DE | " + " | ".join(f"{w:.0%}" for w in by_age["de"]) + " |",
        ]
    return lines


def _paired_sentence(paired: dict[str, dict[str, float]]) -> str:
    parts = []
    for key, label in (("in", "in sample"), ("out", "out of sample")):
        p = paired[key]
        parts.append(
            f"{label} {p['diff'] * 100:+.2f} pp (95 % interval +/- {p['half_width_95'] * 100:.2f} pp;"
            f" {p['a_only']:,} of {p['n']:,} scenarios succeed with SCP only,"
            f" {p['b_only']:,} with DE only)"
        )
    return (
        "Paired difference SCP - DE on the same scenarios (only scenarios where the two "
        "disagree count, McNemar): " + "; ".join(parts) + ". An interval that covers 0 "
        "means the two paths cannot be told apart on these scenarios."
    )
