"""Run every benchmark and write ``benchmarks/RESULTS.md``.

Usage::

    python -m benchmarks.run            # reference run (about 15 minutes on 2 cores)
    python -m benchmarks.run --quick --output /tmp/bench.md   # smoke run, small sizes
    python -m benchmarks.run --only throughput endtoend --output /tmp/bench.md

Each simulator case runs in a fresh ``python -m benchmarks.bench_simulator`` process so
that its peak resident memory is its own. Timings are medians over ``--repeat`` runs;
floors and ratios come from the same runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks import environment

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTIONS = (
    "throughput",
    "endtoend",
    "scaling",
    "bt",
    "optimizer",
    "sweep",
    "adaptive",
    "crypto",
    "serve",
    "population",
    "startup",
)
#: Target of issue #8: simulator within this multiple of the streaming floor.
TARGET_RATIO = 3.0


@dataclass(frozen=True)
class Config:
    """Sizes of one benchmark run."""

    quick: bool
    repeat: int
    repeat_large: int
    throughput_n: int
    chunk: int
    scaling_sizes: tuple[int, ...]
    large: int  # sizes >= this run ``repeat_large`` times
    seed: int = 20_240_101
    engine: str = "auto"

    @classmethod
    def make(cls, quick: bool, repeat: int | None, repeat_large: int | None) -> Config:
        if quick:
            r = repeat or 1
            return cls(
                True, r, repeat_large or r, 5_000, 2_500, (1_000, 2_500, 5_000, 10_000), 10_000
            )
        r = repeat or 5
        return cls(
            False,
            r,
            repeat_large or 1,
            100_000,
            25_000,
            (1_000, 10_000, 100_000, 1_000_000),
            1_000_000,
        )


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _stats(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def simulator_case(
    n: int, chunk: int, repeat: int, seed: int, engine: str = "auto", with_paths: bool = False
) -> dict[str, object]:
    """Run one simulator case in a fresh process and return its JSON result."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_simulator",
        "--n",
        str(n),
        "--chunk",
        str(chunk),
        "--repeat",
        str(repeat),
        "--seed",
        str(seed),
        "--engine",
        engine,
        *(["--with-paths"] if with_paths else []),
    ]
    _log(f"simulator: {n:,} scenarios, chunks of {chunk:,}, {repeat} run(s)")
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall_s"] = time.perf_counter() - t0
    for key in ("sim_s", "floor_s", "ratio", "gen_s", "full_s", "full_ratio"):
        if key in res["runs"][0]:
            res[key] = _stats([r[key] for r in res["runs"]])
    return res


def run_throughput(cfg: Config) -> dict[str, object]:
    return simulator_case(
        cfg.throughput_n, cfg.chunk, cfg.repeat, cfg.seed, cfg.engine, with_paths=True
    )


def run_end_to_end(cfg: Config) -> dict[str, object]:
    """Generation + simulation by each route, in a fresh process (``bench_simulator
    --end-to-end``)."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_simulator",
        "--end-to-end",
        "--n",
        str(cfg.throughput_n),
        "--chunk",
        str(cfg.chunk),
        "--repeat",
        str(cfg.repeat),
        "--seed",
        str(cfg.seed),
    ]
    _log(f"end to end: {cfg.throughput_n:,} scenarios, each route, {cfg.repeat} run(s)")
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    for key in res["runs"][0]:
        res[key] = _stats([r[key] for r in res["runs"]])
    return res


def run_scaling(cfg: Config, throughput: dict[str, object] | None) -> dict[str, object]:
    cases = []
    for n in cfg.scaling_sizes:
        if throughput is not None and throughput["n_scenarios"] == n:
            _log(f"simulator: {n:,} scenarios, reusing the throughput measurement")
            cases.append({**throughput, "reused": True})
            continue
        repeat = cfg.repeat_large if n >= cfg.large else cfg.repeat
        cases.append(simulator_case(n, cfg.chunk, repeat, cfg.seed, cfg.engine))
    return {"cases": cases}


def run_bt(cfg: Config) -> dict[str, object]:
    from benchmarks import bench_bt

    _log("bt comparison")
    return bench_bt.run(max(cfg.repeat, 3))


def run_sweep_bench(cfg: Config) -> dict[str, object]:
    from benchmarks import bench_sweep

    _log("sweep: in-process and Dask LocalClusters")
    return bench_sweep.run(quick=cfg.quick)


def run_adaptive(cfg: Config) -> dict[str, object]:
    from benchmarks import bench_adaptive

    _log("adaptive glide path: DP solve and state-lookup simulation")
    return bench_adaptive.run(quick=cfg.quick, repeat=min(cfg.repeat, 3))


def run_crypto_bench(cfg: Config) -> dict[str, object]:
    from benchmarks import bench_crypto

    _log("crypto assumption surface: 7 x 7 x 2 x 5 sleeves x 10,000 scenarios x 40 years")
    return bench_crypto.run(quick=cfg.quick, repeat=min(cfg.repeat, 3))


def run_serve_bench(cfg: Config) -> dict[str, object]:
    from benchmarks import bench_serve

    _log("serve: a dropped knot's compute path, 5,000 annual scenarios")
    return bench_serve.run(quick=cfg.quick, repeat=min(cfg.repeat, 3))


def run_population_bench(cfg: Config) -> dict[str, object]:
    from benchmarks import bench_population

    _log("population: 20,000 member-path design search; 1,000,000 member-paths scored")
    return bench_population.run(quick=cfg.quick)


def run_startup(cfg: Config) -> dict[str, object]:
    from benchmarks import bench_startup

    _log("first run and command line: cold and warm glidelab run, --help against import numpy")
    return bench_startup.run(quick=cfg.quick, repeat=cfg.repeat)


def run_optimizer(cfg: Config) -> dict[str, object]:
    from benchmarks import bench_optimizer

    _log("optimizer")
    return bench_optimizer.run(quick=cfg.quick, repeat=cfg.repeat)


# ---------------------------------------------------------------------------- report


def _fmt_s(st: dict[str, float]) -> str:
    return f"{st['median']:.3g} s ({st['min']:.3g}-{st['max']:.3g})"


def _mib(x: float) -> str:
    return f"{x:,.0f} MiB"


def _render_env(env: dict[str, object], cfg: Config, total_s: float) -> list[str]:
    load = env["load_avg"]
    mod = env["modified_tracked_files"]
    lines = [
        "# Benchmark results",
        "",
        "Generated by `python -m benchmarks.run"
        + (" --quick" if cfg.quick else "")
        + f" --repeat {cfg.repeat}`"
        + f" in {total_s / 60:.1f} min. Do not edit by hand.",
        "",
    ]
    if cfg.quick:
        lines += [
            "> **Quick run (`--quick`)**: small sizes for a smoke test. These are **not** "
            "the reference figures; run `python -m benchmarks.run` for those.",
            "",
        ]
    lines += [
        "| | |",
        "|---|---|",
        f"| Date | {env['date']} |",
        f"| CPU | {env['cpu']} |",
        f"| Logical cores | {env['cores']} |",
        f"| RAM | {env['ram_gib']} GiB |",
        f"| OS | {env['os']} |",
        "| Load average at start (1, 5, 15 min) | "
        + (", ".join(f"{x:.2f}" for x in load) if load else "?")
        + " |",
        f"| Python | {env['python']} |",
        f"| numpy / pandas / scipy / cvxpy | {env['numpy']} / {env['pandas']} / "
        f"{env['scipy']} / {env['cvxpy']} |",
        f"| bt | {env['bt']} |",
        f"| glidelab revision | {env['git']}"
        + (f" + uncommitted changes in {len(mod)} tracked file(s)" if mod else "")
        + " |",
        f"| Runs per case | {cfg.repeat} (cases of >= {cfg.large:,} scenarios: "
        f"{cfg.repeat_large}) |",
        "",
        "Timings are wall-clock (`time.perf_counter`) medians over the runs, with min-max in "
        "brackets. The machine was shared with other work during the run, so the load "
        "average above matters when reading them.",
        "",
    ]
    return lines


def _workload_lines(res: dict[str, object]) -> list[str]:
    from benchmarks import workload

    _, _, period = workload.history()
    w = ", ".join(f"{a} {x:.0%}" for a, x in zip(workload.ASSETS, workload.WEIGHTS, strict=True))
    p = workload.benchmark_plan()
    return [
        f"Workload: {res['n_periods']} monthly periods x {res['n_assets']} assets ({w}), "
        f"rebalanced to target every month; strategy: {res['strategy']}. Plan: age "
        f"{p.start_age:g} to {p.end_age:g}, retirement at {p.retirement_age:g}; "
        "contributions 10 % of a 90,000 salary + 50 % match up to 6 %, paid at each month's "
        "end; withdrawals 4 % of the balance at retirement, constant real, at each month's "
        f"start; fees {p.expense_ratio:.2%} a year charged monthly; transaction costs "
        f"{p.transaction_cost_bps:g} bps of turnover. Scenarios: i.i.d. bootstrap of whole "
        f"months (4 assets + CPI) of {period}, generated chunk by chunk with "
        "`default_rng([seed, chunk_index])`; generation time is excluded from the simulator "
        "time.",
        "",
        "**Floor**: for each chunk, in the same process and right before simulating it, one "
        "`np.add.reduce(..., axis=None)` pass over the chunk's returns (n x 480 x 4 float64) "
        "and inflation (n x 480 float64) arrays, i.e. the time numpy takes to read every "
        "input byte once; summed over chunks. **Ratio** = simulator time / floor, per run.",
        "",
        "**Peak memory**: `VmHWM` of the fresh process (`benchmarks.environment.peak_rss_bytes`; Linux's `ru_maxrss` is inherited from the parent) "
        "that ran the case (whole process: interpreter, numpy, pandas, data); the baseline "
        "is the same figure after imports and data loading, before any scenario exists.",
        "",
    ]


def _render_throughput(res: dict[str, object], cfg: Config) -> list[str]:
    full_gib = res["input_bytes"] / 1024**3
    ratio = res["ratio"]["median"]
    met = ratio <= TARGET_RATIO
    per = res["sim_s"]["median"] / (res["n_scenarios"] * res["n_periods"])
    lines = [
        f"## 1. Simulator throughput: {res['n_scenarios']:,} scenarios x {res['n_periods']} "
        f"months x {res['n_assets']} assets",
        "",
        *_workload_lines(res),
        "| Measure | Value |",
        "|---|---|",
        f"| Simulator wall time (summary pass, `simulate_chunked`) | {_fmt_s(res['sim_s'])} |",
        f"| Streaming floor (same runs) | {_fmt_s(res['floor_s'])} |",
        f"| Ratio simulator / floor | {ratio:.1f}x ({res['ratio']['min']:.1f}-"
        f"{res['ratio']['max']:.1f}) |",
        *(
            [
                f"| `simulate()` keeping every path (wealth + 8 flows), same chunks | "
                f"{_fmt_s(res['full_s'])}: {res['full_ratio']['median']:.1f}x the input floor |"
            ]
            if "full_s" in res
            else []
        ),
        f"| Target | within {TARGET_RATIO:g}x of the floor: "
        + ("**met**" if met else f"**not met** ({ratio:.1f}x against {TARGET_RATIO:g}x)")
        + " |",
        f"| Per scenario-month | {per * 1e9:.0f} ns |",
        f"| Scenario generation (excluded) | {_fmt_s(res['gen_s'])} |",
        f"| Engine | {res.get('engine', '?')} (first call on 16 scenarios, untimed: "
        f"{res.get('warmup_s', float('nan')):.2g} s) |",
        f"| Chunks | {res['n_chunks']} of {res['chunk']:,} scenarios |",
        f"| Peak memory | {_mib(res['peak_rss_mib'])} (baseline {_mib(res['baseline_rss_mib'])}) |",
        f"| Inputs if held whole | {full_gib:.2f} GiB (returns + inflation) |",
        f"| Success rate / terminal real wealth p10, p50, p90 | {res['success_rate']:.2%} / "
        f"{res['terminal_p10']:,.0f}, {res['terminal_p50']:,.0f}, {res['terminal_p90']:,.0f}"
        " USD |",
        "",
        "Memory is bounded by chunking: only one chunk's scenarios and simulation arrays "
        "exist at a time, and the summaries kept (success flag, terminal wealth) cost 8 bytes "
        "a scenario.",
        "",
    ]
    return lines


def _render_end_to_end(res: dict[str, Any]) -> list[str]:
    """Markdown lines of the end-to-end section (generation + simulation by route)."""

    def row(label: str, key: str, secs: list[str]) -> str:
        total = " + ".join(_fmt_s(res[k]) for k in secs)
        r = res[key]
        return f"| {label} | {total} | {r['median']:.1f}x ({r['min']:.1f}-{r['max']:.1f}) |"

    fused = res["fused_iid_ratio"]["median"]
    stored = res["stored_sim_ratio"]["median"]
    verdict = "**met**" if fused <= TARGET_RATIO else f"**not met** ({fused:.1f}x)"
    verdict_stored = "**met**" if stored <= TARGET_RATIO else f"**not met** ({stored:.1f}x)"
    return [
        f"### End to end: generation + simulation, {res['n_scenarios']:,} scenarios x "
        f"{res['n_periods']} months x {res['n_assets']} assets",
        "",
        "The throughput workload's summary pass, scenarios generated by each route, chunk "
        f"by chunk ({res['chunk']:,}), the routes interleaved on the same chunks "
        "(`python -m benchmarks.bench_simulator --end-to-end`). The floor is one numpy pass "
        "over the i.i.d. scenarios' arrays (the twin's: the same scenarios the engine draws).",
        "",
        "| Route | Generation + simulation | Ratio to the floor |",
        "|---|---|---|",
        row(
            "Stored: `default_rng` bootstrap (`workload.make_chunk`), then `simulate_chunked`",
            "stored_ratio",
            ["stored_gen_s", "stored_sim_s"],
        ),
        row("  of which the summary pass alone", "stored_sim_ratio", ["stored_sim_s"]),
        row(
            "Stored: the engine's draws materialised by their numpy twin, then `simulate_chunked`",
            "twin_ratio",
            ["twin_gen_s", "twin_sim_s"],
        ),
        row(
            "**Drawn in the engine**, i.i.d. (`GeneratedScenarios`)",
            "fused_iid_ratio",
            ["fused_iid_s"],
        ),
        row(
            f"**Drawn in the engine**, stationary blocks of {res['block_months']:g} months",
            "fused_block_ratio",
            ["fused_block_s"],
        ),
        row(
            "**Drawn in the engine**, lognormal (`parametric_in_engine`, the same rows' log "
            f"moments; success {res['success_lognormal']['median']:.2%})",
            "fused_lognormal_ratio",
            ["fused_lognormal_s"],
        ),
        row(
            "  numpy alone drawing the lognormal's normals and exponentials "
            "(`default_rng().standard_normal`, the ziggurat, then `np.exp`; no simulation)",
            "numpy_lognormal_ratio",
            ["numpy_lognormal_s"],
        ),
        "",
        "The lognormal is bound by arithmetic, not memory: each scenario-month needs five "
        "normals and five exponentials, and numpy alone takes "
        f"{res['numpy_lognormal_ratio']['median']:.1f}x the floor just to make those "
        "numbers. The engine draws them and simulates in "
        f"{res['fused_lognormal_vs_numpy']['median']:.2f}x "
        f"({res['fused_lognormal_vs_numpy']['min']:.2f}-"
        f"{res['fused_lognormal_vs_numpy']['max']:.2f}) of that time, so the "
        f"{TARGET_RATIO:g}x target, set on the bootstrap (the workload above), cannot "
        "apply to a lognormal generator.",
        "",
        f"Floor {_fmt_s(res['floor_s'])}. Targets (issue 28): generation + simulation "
        f"within {TARGET_RATIO:g}x of the floor: {verdict}; the summary pass on stored "
        f"scenarios within {TARGET_RATIO:g}x: {verdict_stored}. Success rate "
        f"{res['success_iid']['median']:.2%} (i.i.d.), {res['success_block']['median']:.2%} "
        f"(blocks). Load average {', '.join(f'{x:.2f}' for x in res['load_avg_before'])} "
        f"before and {', '.join(f'{x:.2f}' for x in res['load_avg_after'])} after; first "
        f"calls (compilation, untimed) {res['warmup_s']:.2g} s.",
        "",
    ]


def _render_scaling(res: dict[str, object], cfg: Config) -> list[str]:
    cases = res["cases"]
    lines = [
        "## 2. Scaling",
        "",
        f"Same workload, plan and floor as section 1; chunks of {cfg.chunk:,} scenarios, "
        "each case in a fresh process"
        + (
            " (the throughput case is reused for its size)"
            if any(c.get("reused") for c in cases)
            else ""
        )
        + ".",
        "",
        "| Scenarios | Chunks | Runs | Simulator time | Per scenario | Floor | Ratio | "
        "Peak memory | Inputs if whole | Success rate |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    per = []
    for c in cases:
        n = c["n_scenarios"]
        ps = c["sim_s"]["median"] / n
        per.append(ps)
        lines.append(
            f"| {n:,} | {c['n_chunks']} | {c['repeat']} | {_fmt_s(c['sim_s'])} | "
            f"{ps * 1e6:,.0f} us | {c['floor_s']['median']:.3g} s | "
            f"{c['ratio']['median']:.0f}x | {_mib(c['peak_rss_mib'])} | "
            f"{c['input_bytes'] / 1024**2:,.0f} MiB | {c['success_rate']:.2%} |"
        )
    small, big = cases[0], cases[-1]
    lin = per[-1] / per[0]
    chunked = [c for c in cases if c["n_scenarios"] >= cfg.chunk]
    lines += [
        "",
        f"Linearity: time per scenario at {big['n_scenarios']:,} / at "
        f"{small['n_scenarios']:,} = **{lin:.2f}** (1.00 = perfectly linear; below 1 means "
        "fixed per-period overhead is amortised over more scenarios)."
        + (
            f" Between {chunked[0]['n_scenarios']:,} and {chunked[-1]['n_scenarios']:,} "
            f"(both chunked): {per[-1] / per[cases.index(chunked[0])]:.2f}."
            if len(chunked) >= 2
            else ""
        ),
        "",
        f"Memory: peak resident memory goes from {_mib(small['peak_rss_mib'])} to "
        f"{_mib(big['peak_rss_mib'])} while the inputs alone would grow to "
        f"{big['input_bytes'] / 1024**3:.1f} GiB if held whole; above one chunk the peak "
        "is set by the chunk size, not by the number of scenarios.",
        "",
    ]
    return lines


def _render_bt(res: dict[str, object]) -> list[str]:
    if "skipped" in res:
        return ["## 3. Against a peer (bt)", "", f"Skipped: {res['skipped']}.", ""]
    t_bt, t_gl = _stats(res["bt_s"]), _stats(res["glidelab_s"])
    ok = res["max_rel_diff"] <= 1e-10
    return [
        "## 3. Against a peer (bt)",
        "",
        f"Fixed mix 60 % `us_stocks` / 40 % `tbills`, monthly data {res['period']} "
        f"({res['n_periods']} months), rebalanced to target every month, no flows, fees or "
        "costs, 1,000,000 initial capital. glidelab: `backtest.simulate` on one scenario with "
        f"inflation set to 0 (strategy: {res['strategy']}). bt {res['bt_version']}: prices "
        "= cumulative product of 1 + r, `RunMonthly, SelectAll, WeighSpecified, Rebalance`, "
        "`integer_positions=False`.",
        "",
        "| Measure | Value |",
        "|---|---|",
        f"| Largest relative difference of the wealth paths | {res['max_rel_diff']:.1e} "
        f"({res['worst_date']}): **{'agree' if ok else 'do not agree'} to 1e-10** |",
        f"| Same, against buy-and-hold (what a wrong rule would give) | "
        f"{res['buy_and_hold_rel_diff']:.2f} |",
        f"| Terminal wealth glidelab / bt | {res['terminal_glidelab']:,.2f} / "
        f"{res['terminal_bt']:,.2f} |",
        f"| bt time | {_fmt_s(t_bt)} |",
        f"| glidelab time | {_fmt_s(t_gl)} |",
        f"| Speed ratio bt / glidelab | {t_bt['median'] / t_gl['median']:.1f}x |",
        "",
    ]


def _render_optimizer(res: dict[str, object]) -> list[str]:
    from benchmarks import bench_optimizer

    return ["## 4. Optimizer", "", *bench_optimizer.render(res), ""]


def render(env: dict[str, object], cfg: Config, results: dict[str, object], total_s: float) -> str:
    """The Markdown report."""
    lines = _render_env(env, cfg, total_s)
    cases = []
    if "throughput" in results:
        cases.append(results["throughput"])
    if "scaling" in results:
        cases += results["scaling"]["cases"]
    prints = {c.get("simulator_fingerprint") for c in cases}
    if len(prints) > 1:
        lines += [
            "> **Warning**: the simulator's source (`backtest/simulate.py`, `kernel.py`) "
            "changed while this run was in progress (fingerprints "
            f"{', '.join(sorted(str(p) for p in prints))}); the simulator cases are not "
            "comparable with each other. Run again.",
            "",
        ]
    if "throughput" in results:
        lines += _render_throughput(results["throughput"], cfg)
    if "endtoend" in results:
        lines += _render_end_to_end(results["endtoend"])
    if "scaling" in results:
        lines += _render_scaling(results["scaling"], cfg)
    if "bt" in results:
        lines += _render_bt(results["bt"])
    if "optimizer" in results:
        lines += _render_optimizer(results["optimizer"])
    if "sweep" in results:
        from benchmarks import bench_sweep

        lines += ["## 5. Sweeps on Dask", "", *bench_sweep.render(results["sweep"]), ""]
    if "adaptive" in results:
        from benchmarks import bench_adaptive

        lines += [
            "## 6. Adaptive glide path (DP)",
            "",
            *bench_adaptive.render(results["adaptive"]),
            "",
        ]
    if "crypto" in results:
        from benchmarks import bench_crypto

        lines += [
            "## 7. Crypto assumption surface",
            "",
            *bench_crypto.render(results["crypto"]),
            "",
        ]
    if "serve" in results:
        from benchmarks import bench_serve

        lines += ["## 8. glidelab serve: a dropped knot", "", *bench_serve.render(results["serve"])]
    if "population" in results:
        from benchmarks import bench_population

        lines += [
            "",
            "## 9. Fund design for a population",
            "",
            *bench_population.render(results["population"]),
        ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    p.add_argument(
        "--repeat", type=int, default=None, help="runs per case (default 5; 1 with --quick)"
    )
    p.add_argument(
        "--repeat-large", type=int, default=None, help="runs for the 1M-scenario case (default 1)"
    )
    p.add_argument(
        "--only",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="run only these sections",
    )
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="report path (default benchmarks/RESULTS.md, which only a run of every "
        "section may write)",
    )
    p.add_argument(
        "--engine",
        default="auto",
        help="simulate(engine=...) for sections 1-2: auto (default), numpy or numba",
    )
    a = p.parse_args(argv)
    if a.repeat is not None and a.repeat < 1:
        p.error("--repeat must be >= 1")
    partial = set(a.only) != set(SECTIONS) or a.quick
    if a.output is None:
        if partial:
            p.error(
                "--only and --quick write a partial report, and benchmarks/RESULTS.md holds "
                "the reference run of every section; give --output PATH (e.g. "
                "--output /tmp/bench.md)"
            )
        a.output = HERE / "RESULTS.md"
    cfg = replace(Config.make(a.quick, a.repeat, a.repeat_large), engine=a.engine)
    from backtest.io import write_text_atomic

    env = environment.describe()
    t0 = time.perf_counter()
    results: dict[str, object] = {}
    if "throughput" in a.only:
        results["throughput"] = run_throughput(cfg)
    if "endtoend" in a.only:
        results["endtoend"] = run_end_to_end(cfg)
    if "scaling" in a.only:
        results["scaling"] = run_scaling(cfg, results.get("throughput"))
    if "bt" in a.only:
        results["bt"] = run_bt(cfg)
    if "optimizer" in a.only:
        results["optimizer"] = run_optimizer(cfg)
    if "sweep" in a.only:
        results["sweep"] = run_sweep_bench(cfg)
    if "adaptive" in a.only:
        results["adaptive"] = run_adaptive(cfg)
    if "crypto" in a.only:
        results["crypto"] = run_crypto_bench(cfg)
    if "serve" in a.only:
        results["serve"] = run_serve_bench(cfg)
    if "population" in a.only:
        results["population"] = run_population_bench(cfg)
        from benchmarks import bench_design  # the shipped design's stage times (issue 28)

        results["design"] = bench_design.run(quick=cfg.quick)
    if "startup" in a.only:
        results["startup"] = run_startup(cfg)
    total = time.perf_counter() - t0
    report = render(env, cfg, results, total)
    if "design" in results:
        title = ["", "## 10. glidelab design on the shipped study", ""]
        report += "\n".join([*title, *bench_design.render(results["design"])]) + "\n"
    if "startup" in results:
        from benchmarks import bench_startup

        title = ["", "## 11. First run and command line", ""]
        report += "\n".join([*title, *bench_startup.render(results["startup"])]) + "\n"
    write_text_atomic(a.output, report)
    write_text_atomic(
        a.output.with_suffix(".json"),
        json.dumps(
            {"environment": env, "config": cfg.__dict__, "results": results}, indent=1, default=str
        ),
    )
    _log(f"wrote {a.output} in {total / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
