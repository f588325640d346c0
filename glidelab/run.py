"""Run a whole study: data -> scenarios -> strategies -> simulations -> optimiser -> report.

``run_study(study)`` is what ``glidelab run`` calls. It writes, atomically, one folder
``<output.dir>/<study.name>/`` holding:

* ``summary.md``: the short summary the command prints;
* ``success.csv``: for every plan, strategy and scenario set, the probability of success
  and percentiles of real terminal wealth and of wealth at retirement (real USD of the
  start date), and the funded ratio against the plan's pension target when it has one;
* ``settings.json``: the seed and every setting used, the data coverage and versions;
* ``optimize/``: the optimised glide path (CSV, chart) and its comparison with the presets
  and constant mixes, in sample and held out;
* ``tearsheet/``: the tear sheet (HTML, PDF, metrics CSV/JSON);
* ``validation/``: the Trinity-study reproduction;
* ``adaptive/<plan>/``: with ``[optimize] adaptive = true``, the adaptive glide path (by
  age and wealth, dynamic programming) against the best deterministic path, the best
  constant mix and the presets (``glidelab.adaptive``);
* ``crypto/``: with a ``[crypto]`` table, the crypto-sleeve research
  (``glidelab.crypto.research``, as ``glidelab crypto`` writes it);
* ``sweep/``: with a ``[sweep]`` table, the sweep and its solve-for (``glidelab.sweep``).

A fund-design file (``[population]``, ``[design]``, ``[evaluation]``, e.g. the shipped
``target_date_2060``) is no ordinary study: :func:`load_study_file` recognises it and
``glidelab run`` runs the design (``glidelab.design.run_design``) into ``<out>/<name>/``.

Where it runs: the scenario evaluation (every plan x scenario set x strategy) and the
optimiser's comparison of presets and constant mixes are independent tasks, run on the
backend of ``[compute]`` (or ``backend=``): in this process by default, or on Dask
(``glidelab.backends``), with the same numbers.
"""

from __future__ import annotations

import dataclasses
import json
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtest.data import load_history
from backtest.errors import StudyError
from backtest.generators import (
    Proxy,
    block_bootstrap,
    estimate_log_moments,
    historical_cohorts,
    parametric,
)
from backtest.io import atomic_directory
from backtest.plan import Plan
from backtest.report.describe import describe_plan
from backtest.report.tearsheet import write_tearsheet
from backtest.scenarios import Scenarios
from backtest.simulate import funded_ratio, simulate
from glidelab.backends import Backend, InProcess, compute_backend, ordered_map
from glidelab.crypto import CryptoConfig, CryptoStudy, parse_crypto_study
from glidelab.crypto import quick as quick_crypto
from glidelab.design import DesignOutcome, DesignStudy, parse_design_study, population_section
from glidelab.outputs import check_output_folder
from glidelab.search import SearchRun, run_search, write_search
from glidelab.study import CustomGlidePath, PlanConfig, Study, parse_study, read_study_toml
from glidelab.tearsheet import study_book
from strategies import CryptoSleeve, GlidePath
from strategies.base import RebalanceRule, Strategy
from strategies.presets import preset

Log = Callable[[str], None]

#: Percentiles of wealth reported in the tables (percent).
PERCENTILES = (5, 25, 50, 75, 95)


#: Tables of a fund-design file (``glidelab.design``); they never sit beside [[plans]].
DESIGN_TABLES = ("population", "design", "evaluation")


@dataclass(frozen=True)
class StudyResult:
    """What a study produced (numbers; the files are written by :func:`run_study`)."""

    study: Study
    success: pd.DataFrame
    search: SearchRun | None
    summary: str
    out_dir: Path
    crypto: Any = None  # backtest.crypto.result.CryptoResearch, with a [crypto] table
    sweep: Any = None  # glidelab.sweep.SweepResult, with a [sweep] table


@dataclass(frozen=True)
class StudyFile:
    """Everything a study file asks ``glidelab run`` to do.

    ``study`` with its optional ``[crypto]`` and ``[sweep]`` sections (``sweep.study`` is
    ``study``), or, for a fund-design file, only ``design``.
    """

    study: Study | None
    crypto: CryptoConfig | None = None
    sweep: Any = None  # glidelab.sweep.Sweep (imported lazily: sweep imports this module)
    design: DesignStudy | None = None


def parse_study_file(raw: dict[str, Any], source: str = "<dict>") -> StudyFile:
    """Validate a parsed study file of any kind: an ordinary study, one with ``[crypto]``
    and/or ``[sweep]`` tables, or a fund-design file."""
    design = [k for k in DESIGN_TABLES if k in raw]
    if design:
        other = [k for k in ("plans", "crypto", "sweep") if k in raw]
        if other:
            raise StudyError(
                f"{source}: [{design[0]}] (fund design) cannot sit beside "
                f"{', '.join(f'[{k}]' for k in other)}; put the design in a file of its own "
                "and run `glidelab design FILE`"
            )
        return StudyFile(None, design=parse_design_study(raw))
    sweep = crypto = None
    if "sweep" in raw:
        from glidelab.sweep import parse_sweep

        sweep = parse_sweep({k: v for k, v in raw.items() if k != "crypto"}, source)
    if "crypto" in raw:
        crypto = parse_crypto_study({k: v for k, v in raw.items() if k != "sweep"}, source)
    if sweep is not None:
        study = sweep.study
    elif crypto is not None:
        study = crypto.study
    else:
        study = parse_study(raw, source)
    return StudyFile(study, crypto.crypto if crypto else None, sweep)


def load_study_file(path: str | Path | None = None) -> StudyFile:
    """Read and validate a study file of any kind (``None``: the built-in default)."""
    raw, source = read_study_toml(path)
    return parse_study_file(raw, source)


def quick_study(study: Study) -> Study:
    """A smoke-run version of ``study`` (``--quick``): few scenarios and iterations.

    Smaller, never switched on: a study with no bootstrap keeps none, so ``--quick`` runs
    (or refuses) exactly the study it was given.
    """
    return dataclasses.replace(
        study,
        scenarios=dataclasses.replace(
            study.scenarios, bootstrap_n=min(study.scenarios.bootstrap_n, 300)
        ),
        optimize=dataclasses.replace(
            study.optimize,
            n_scenarios=min(study.optimize.n_scenarios, 300),
            holdout_n=min(study.optimize.holdout_n, 500),
            max_iterations=min(study.optimize.max_iterations, 4),
        ),
    )


def quick_file(sf: StudyFile) -> StudyFile:
    """``--quick`` for every section of a study file: the study, its crypto research and
    sweep, or the fund design."""
    from glidelab import design as design_mod

    if sf.design is not None:
        return dataclasses.replace(sf, design=design_mod.quick(sf.design))
    assert sf.study is not None
    study = quick_study(sf.study)
    crypto = sweep = None
    if sf.crypto is not None:
        crypto = quick_crypto(CryptoStudy(study, sf.crypto)).crypto
    if sf.sweep is not None:
        from glidelab.sweep import quick as quick_sweep

        sweep = quick_sweep(dataclasses.replace(sf.sweep, study=study))
    return StudyFile(study, crypto, sweep)


def study_history(study: Study) -> pd.DataFrame:
    """The study's return history: what every scenario set of a study is drawn from.

    Decimal simple returns per period (``[data].frequency``) of the equity, bonds and
    cash roles and CPI over their common period (``[data].start``-``end``), with the
    crypto column joined on (NaN before its data start; the scenario generators apply
    ``[scenarios].crypto_before_data``). Used by ``glidelab run``, ``sweep``, ``serve``
    and ``tearsheet``: one definition.
    """
    d = study.data
    core = load_history([d.equity, d.bonds, d.cash, "cpi"], d.frequency, start=d.start, end=d.end)
    crypto = load_history([d.crypto], d.frequency)
    frame = core.join(crypto, how="left")
    frame.attrs = {**core.attrs, "crypto_coverage": crypto.attrs.get("coverage")}
    return frame


def strategies_for(study: Study) -> dict[str, Strategy]:
    """The study's presets and crypto sleeves, keyed by display name.

    A study that names no strategy at all (no presets, sleeves or custom paths, no plan's
    ``strategy``; e.g. a crypto or sweep file) gets ``[strategies].crypto_base``, the
    same default a sweep uses, so its tables are never empty.
    """
    d = study.data
    out: dict[str, Strategy] = {}
    wanted = list(study.strategies.presets)
    for p in study.plans:
        if p.strategy and p.strategy not in wanted:
            wanted.append(p.strategy)
    st = study.strategies
    if not (wanted or st.crypto_sleeves or st.custom):
        wanted = [st.crypto_base]
    for name in wanted:
        out[name] = _preset(name, d)
    if study.strategies.crypto_sleeves:
        base = _preset(study.strategies.crypto_base, d)
        for size in study.strategies.crypto_sleeves:
            label = f"{study.strategies.crypto_base} + {100 * size:g}% {d.crypto}"
            out[label] = _sleeve(study, base, size)
    for c in study.strategies.custom:
        if c.name in out:
            raise StudyError(f"[strategies].custom name {c.name!r} is already a strategy's name")
        out[c.name] = custom_strategy(study, c)
    return out


def _sleeve(study: Study, base: Strategy, size: float, name: str | None = None) -> CryptoSleeve:
    """A Bitcoin sleeve of ``size`` (decimal) over ``base``, under the study's before-data
    rule (proxy years are filled in the scenarios, so the sleeve sees data there)."""
    d = study.data
    return CryptoSleeve(
        base=base,
        sleeve_weight=size,
        crypto_asset=d.crypto,
        equity_assets=(d.equity,),
        bond_assets=(d.bonds,),
        before_data="cash" if study.scenarios.crypto_before_data != "exclude" else "exclude",
        cash_asset=d.cash,
        name=name or f"{base.name} + {100 * size:g}% Bitcoin",
    )


def custom_strategy(study: Study, c: CustomGlidePath) -> Strategy:
    """The strategy of a hand-drawn glide path: equity/bonds (and cash, when the path
    has a cash share) at the knots, linear between, with its Bitcoin sleeve (none when
    ``crypto_sleeve`` is 0) and rebalancing rule."""
    d = study.data
    try:
        rule = RebalanceRule(
            kind=c.rebalance,  # type: ignore[arg-type]
            every_months=c.rebalance_every_months,
            band=c.rebalance_band,
        )
        cash = c.cash or (0.0,) * len(c.equity)
        path = GlidePath(
            name=c.name,
            assets=(d.equity, d.bonds, d.cash) if c.cash else (d.equity, d.bonds),
            knots_years_to_retirement=c.years_to_retirement,
            weights=tuple(
                (e, 1.0 - e - k, k) if c.cash else (e, 1.0 - e)
                for e, k in zip(c.equity, cash, strict=True)
            ),
            rebalance=rule,
            equity_asset=d.equity,
            source="drawn by hand ([strategies].custom)",
        )
        if c.crypto_sleeve == 0:
            return path
        return _sleeve(study, path, c.crypto_sleeve, name=c.name)
    except ValueError as exc:
        raise StudyError(f"[strategies].custom {c.name!r}: {exc}") from None


def _preset(name: str, d: Any) -> Strategy:
    """The preset ``name`` on the study's assets (every preset takes the three roles)."""
    try:
        return preset(name, equity=d.equity, bonds=d.bonds, cash=d.cash)
    except ValueError as exc:
        raise StudyError(f"[strategies]: {exc}") from None


def scenario_rng(study: Study) -> np.random.Generator:
    """The stream for the study's own scenario sets: ``SeedSequence((seed, 2))``.

    The optimiser draws its in-sample scenarios with ``seed`` and its held-out ones with
    ``seed + 1``; this third, independent stream keeps the study's tables out of sample
    for the optimised glide path.
    """
    return np.random.default_rng(np.random.SeedSequence((study.seed, 2)))


def scenario_sets(study: Study, history: pd.DataFrame, plan: Plan) -> dict[str, Scenarios]:
    """Historical cohorts and the block bootstrap for one plan's horizon."""
    d, sc = study.data, study.scenarios
    assets = [d.equity, d.bonds, d.cash, d.crypto]
    n_t = plan.n_periods(1 if d.frequency == "annual" else 12)
    rule = sc.crypto_before_data
    if rule == "exclude":
        raise StudyError(
            "[scenarios].crypto_before_data = 'exclude' leaves no cohort of a lifetime plan "
            "with Bitcoin data (it starts in 2010); use 'cash' or 'proxy'"
        )
    proxy = None
    if rule == "proxy":
        if sc.crypto_proxy is None:
            raise StudyError(
                "[scenarios].crypto_before_data = 'proxy' needs [scenarios].crypto_proxy = "
                "{ mean_log_annual = ..., vol_log_annual = ... }"
            )
        proxy = {d.crypto: Proxy(*sc.crypto_proxy)}
    common = dict(missing=rule, cash_asset=d.cash, proxy=proxy, rng=scenario_rng(study))
    out: dict[str, Scenarios] = {}
    if sc.historical:
        out["historical cohorts"] = historical_cohorts(history, assets, n_t, **common)
    if sc.bootstrap_n > 0:
        out["block bootstrap"] = block_bootstrap(
            history,
            assets,
            sc.bootstrap_n,
            n_t,
            block_length=sc.block_length,
            method=sc.bootstrap_method,
            **common,
        )
    if sc.parametric_n > 0:
        out["parametric"] = parametric_set(study, history, n_t, common["rng"])
    if not out:
        raise StudyError("[scenarios]: enable historical = true or set bootstrap_n > 0")
    return out


def parametric_set(
    study: Study, history: pd.DataFrame, n_t: int, rng: np.random.Generator
) -> Scenarios:
    """``[scenarios].parametric_n`` multivariate normal scenarios in log returns.

    Equity, bonds, cash and CPI: mean and covariance estimated from the study's history
    (``backtest.generators.estimate_log_moments``). Bitcoin: the stated
    ``[scenarios].crypto_proxy`` annual log mean and volatility, uncorrelated with the
    rest, for the whole horizon (its own years since 2010 cannot set a lifetime's
    assumption).
    """
    d, sc = study.data, study.scenarios
    if sc.crypto_proxy is None:
        raise StudyError(
            "[scenarios].parametric_n needs [scenarios].crypto_proxy = { mean_log_annual = "
            "..., vol_log_annual = ... }: Bitcoin's assumption in parametric scenarios"
        )
    core = [d.equity, d.bonds, d.cash]
    mu, cov, _ = estimate_log_moments(history, core)
    mean, vol = sc.crypto_proxy
    k = len(core)  # Bitcoin goes in after the core assets, before CPI
    mu = np.insert(mu, k, mean)
    cov = np.insert(np.insert(cov, k, 0.0, axis=0), k, 0.0, axis=1)
    cov[k, k] = vol**2
    names = [*core, d.crypto, "cpi"]
    return parametric(
        None,
        [*core, d.crypto],
        sc.parametric_n,
        n_t,
        mean_log_annual=dict(zip(names, mu.tolist(), strict=True)),
        cov_log_annual=cov,
        frequency=d.frequency,  # type: ignore[arg-type]
        rng=rng,
    )


def _row(
    plan_name: str, plan: Plan, strategy: str, set_name: str, pension: Any, res: Any
) -> dict[str, Any]:
    """One line of success.csv: success and wealth percentiles (real USD)."""
    row: dict[str, Any] = {
        "plan": plan_name,
        "strategy": strategy,
        "scenarios": set_name,
        "n_scenarios": res.n_scenarios,
        "success_rate": res.success_rate,
    }
    for p, v in zip(PERCENTILES, np.percentile(res.terminal_wealth, PERCENTILES), strict=True):
        row[f"terminal_wealth_p{p}"] = v
    row["wealth_at_retirement_p50"] = float(np.median(res.wealth_at_retirement))
    ruined = res.ruin_period >= 0
    row["median_ruin_age"] = (
        float(np.median(res.schedule.age_start[res.ruin_period[ruined]]))
        if ruined.any()
        else np.nan
    )
    if pension is not None:
        fr = funded_ratio(dataclasses.replace(plan, success=pension), res.wealth_at_retirement)
        row["funded_ratio_p50"] = float(np.median(fr))
        row["p_funded"] = float(np.mean(fr >= pension.threshold))
    return row


@dataclass(frozen=True)
class _Evaluation:
    """What every task of a study's scenario evaluation shares (sent once per worker)."""

    plans: dict[str, PlanConfig]
    strategies: dict[str, Strategy]
    sets_by_plan: dict[str, dict[str, Scenarios]]


def _evaluate_task(task: tuple[str, str, str], shared: _Evaluation) -> dict[str, Any]:
    """One (plan, scenario set, strategy): simulate it, return its success.csv line (a
    few numbers; no path leaves the worker)."""
    plan_name, set_name, label = task
    p = shared.plans[plan_name]
    res = simulate(shared.sets_by_plan[plan_name][set_name], p.plan, shared.strategies[label])
    return _row(p.name, p.plan, label, set_name, p.pension_target, res)


def evaluate_study(
    study: Study,
    strategies: dict[str, Strategy],
    sets_by_plan: dict[str, dict[str, Scenarios]],
    backend: Backend | None = None,
) -> pd.DataFrame:
    """success.csv: every plan x scenario set x strategy, simulated on ``backend``
    (default in this process), one task each, rows in that order whatever the backend."""
    tasks = [
        (p.name, set_name, label)
        for p in study.plans
        for set_name in sets_by_plan[p.name]
        for label in strategies
    ]
    shared = _Evaluation({p.name: p for p in study.plans}, dict(strategies), sets_by_plan)
    return pd.DataFrame(ordered_map(backend or InProcess())(_evaluate_task, tasks, shared))


def run_study(
    study: Study,
    out_root: str | Path | None = None,
    *,
    progress: bool = True,
    log: Log = lambda _: None,
    backend: Backend | None = None,
    crypto: CryptoConfig | None = None,
    sweep: Any = None,
) -> StudyResult:
    """Run every part of ``study`` and write its folder atomically; see the module doc.

    ``backend``: where the scenario evaluation runs (default: the study's ``[compute]``,
    in this process unless it names a cluster). ``crypto``, ``sweep``: the file's
    ``[crypto]`` and ``[sweep]`` sections (:class:`StudyFile`), run on ``study``.
    """
    out_dir = Path(out_root if out_root is not None else study.output.dir) / study.name
    # Everything that can be refused is refused before the long computation starts.
    check_output_folder(out_dir, "output folder", "choose another --out or [output] dir")
    if backend is None:
        with compute_backend(study.compute) as made:
            if study.compute.distributed:
                log(f"- computing on Dask ({_where(study)})")
            return _run_study(study, out_dir, progress, log, made, crypto, sweep)
    return _run_study(study, out_dir, progress, log, backend, crypto, sweep)


def _where(study: Study) -> str:
    c = study.compute
    if c.scheduler is not None:
        return f"scheduler {c.scheduler}"
    return f"a local cluster of {c.workers} workers x {c.threads_per_worker} threads"


def _run_study(
    study: Study,
    out_dir: Path,
    progress: bool,
    log: Log,
    backend: Backend,
    crypto: CryptoConfig | None,
    sweep: Any,
) -> StudyResult:
    log("- loading the embedded history")
    history = study_history(study)
    strategies = strategies_for(study)
    sets_by_plan = {p.name: scenario_sets(study, history, p.plan) for p in study.plans}

    search: SearchRun | None = None
    if study.optimize.enabled:
        log(f"- optimising the glide path of plan {study.optimize.plan!r}")
        search = run_search(study, progress=progress, map_fn=ordered_map(backend))
        strategies["optimised glide path"] = search.result.glide_path
    from glidelab.adaptive import (
        adaptive_summary,
        study_adaptive_runs,
        with_policy_maps,
        write_adaptive,
    )

    adaptive = study_adaptive_runs(study, progress=progress, log=log)

    n_sets = sum(len(s) for s in sets_by_plan.values())
    log(
        f"- simulating {len(study.plans)} plans: {len(strategies)} strategies on {n_sets} "
        f"scenario sets ({backend.name})"
    )
    table = evaluate_study(study, strategies, sets_by_plan, backend)
    summary = summarise(study, table, search, history) + adaptive_summary(adaptive)
    research = None
    if crypto is not None:
        from glidelab.crypto import research as crypto_research
        from glidelab.crypto import summary as crypto_summary

        log("- crypto-sleeve research ([crypto])")
        research = crypto_research(CryptoStudy(study, crypto), log, backend)
        summary += "\n## Crypto-sleeve research (crypto/)\n\n" + crypto_summary(research) + "\n"

    with atomic_directory(out_dir) as tmp:
        table.to_csv(tmp / "success.csv", index=False, float_format="%.6g")
        settings = _settings(study, history, sets_by_plan)
        (tmp / "settings.json").write_text(
            json.dumps(settings, indent=2, default=str), encoding="utf-8"
        )
        if search is not None:
            (tmp / "optimize").mkdir()
            write_search(search, tmp / "optimize")
        for name, run in adaptive.items():
            write_adaptive(run, tmp / "adaptive" / name)
        if study.output.tearsheet:
            log("- building the tear sheet, one page per plan (HTML, PDF, CSV, JSON)")
            book = study_book(study, history, strategies, sets_by_plan)
            write_tearsheet(with_policy_maps(book, adaptive), tmp / "tearsheet")
        log("- reproducing the Trinity study")
        _trinity(tmp / "validation")
        if study.output.population:
            log("- fund design for a small population of the 2060 vintage (glidelab design)")
            summary += population_summary(population_section(tmp, study.seed))
        if research is not None:
            from glidelab.crypto import write_research

            write_research(research, tmp / "crypto", study.output.tearsheet)
        swept = None
        if sweep is not None:
            from glidelab.sweep import run_sweep

            log(f"- sweep ([sweep]): {len(sweep.axes)} axes on {backend.name}")
            swept = run_sweep(
                dataclasses.replace(sweep, study=study),
                backend=backend,
                progress=progress,
                folder=tmp / "sweep",
            )
            summary += (
                f"\n## Sweep (sweep/)\n\n{len(swept.table)} rows in sweep/sweep.csv"
                + (", solve-for in sweep/solve.csv" if swept.solve is not None else "")
                + ".\n"
            )
        files = sorted(p.name + ("/" if p.is_dir() else "") for p in tmp.iterdir())
        summary += "\nFiles: " + ", ".join(files) + ".\n"
        (tmp / "summary.md").write_text(summary, encoding="utf-8")  # last: it lists the rest
    return StudyResult(study, table, search, summary, out_dir, research, swept)


def study_tearsheet(
    study: Study,
    out_dir: str | Path,
    *,
    plans: Sequence[str] | None = None,
    search: SearchRun | None = None,
    simulate_plans: bool = True,
    title: str | None = None,
    progress: bool = True,
    log: Log = lambda _: None,
) -> Path:
    """Write only the tear sheet of ``study`` into ``out_dir``, atomically.

    The same pages as ``glidelab run`` writes (:func:`glidelab.tearsheet.study_book`),
    for ``plans`` (default: every plan). The optimised glide path is included when the
    study enables the optimiser (run here unless ``search`` gives its result);
    ``simulate_plans=False`` leaves out the simulated sections.
    """
    out = check_output_folder(out_dir, "tear sheet folder", "choose another --out")
    log("- loading the embedded history")
    history = study_history(study)
    strategies = strategies_for(study)
    names = list(plans) if plans is not None else [p.name for p in study.plans]
    sets_by_plan = (
        {n: scenario_sets(study, history, study.plan(n).plan) for n in names}
        if simulate_plans
        else {}
    )
    if search is None and study.optimize.enabled:
        log(f"- optimising the glide path of plan {study.optimize.plan!r}")
        search = run_search(study, progress=progress)
    if search is not None:
        strategies["optimised glide path"] = search.result.glide_path
    log("- building the tear sheet, one page per plan (HTML, PDF, CSV, JSON)")
    book = study_book(study, history, strategies, sets_by_plan, plans=names, title=title)
    return write_tearsheet(book, out)


def _trinity(folder: Path) -> None:
    from backtest.trinity import reproduce_trinity, to_markdown

    folder.mkdir()
    table = reproduce_trinity()
    table.to_csv(folder / "trinity.csv", index=False, float_format="%.4f")
    (folder / "trinity.md").write_text(to_markdown(table), encoding="utf-8")


def _settings(
    study: Study, history: pd.DataFrame, sets_by_plan: dict[str, dict[str, Scenarios]]
) -> dict[str, Any]:
    import cvxpy
    import numpy
    import pandas
    import scipy

    return {
        "study": study.settings(),
        "seed": study.seed,
        "seeds": {
            "optimiser in sample (block bootstrap)": study.seed,
            "optimiser held out (parametric)": study.seed + 1,
            "study scenario sets": f"SeedSequence(({study.seed}, 2))",
        },
        "history": {
            "frequency": study.data.frequency,
            "first": f"{history.index[0]:%Y-%m-%d}",
            "last": f"{history.index[-1]:%Y-%m-%d}",
            "sources": history.attrs.get("sources"),
        },
        "scenarios": {
            plan: {
                name: {"n": sc.n_scenarios, "periods": sc.n_periods, "description": sc.description}
                for name, sc in sets.items()
            }
            for plan, sets in sets_by_plan.items()
        },
        "versions": {
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "pandas": pandas.__version__,
            "scipy": scipy.__version__,
            "cvxpy": cvxpy.__version__,
        },
    }


def population_summary(outcome: DesignOutcome) -> str:
    """Two sentences on the small fund-design section (``population/``)."""
    col = "bootstrap: success"
    scores = outcome.scores[col]
    designed = scores.iloc[0]
    presets = scores.iloc[1:]
    return (
        "\n## Fund design for a population (population/)\n\n"
        f"A small {outcome.study.name} run of the 2060 vintage (`glidelab design` at reduced "
        "size): the shared glide path designed for the members keeps survival-weighted "
        f"success of {100 * designed:.1f} % on a fresh-seed bootstrap, against "
        f"{100 * presets.min():.1f}-{100 * presets.max():.1f} % for the presets "
        f"({', '.join(presets.index)}). Full study: `glidelab design`.\n"
    )


def summarise(
    study: Study, table: pd.DataFrame, search: SearchRun | None, history: pd.DataFrame
) -> str:
    """The short summary printed in the terminal and saved as summary.md."""
    lines = [
        f"# glidelab study: {study.name}",
        "",
        f"Data: {study.data.frequency} {history.index[0]:%Y}-{history.index[-1]:%Y} "
        f"({study.data.equity}, {study.data.bonds}, {study.data.cash}, {study.data.crypto}, CPI). "
        f"Seed {study.seed}. Amounts are real USD of the plan's start.",
    ]
    for p in study.plans:
        sub = table[table.plan == p.name]
        lines += ["", f"## Plan {p.name!r}: {describe_plan(p.plan)}", ""]
        lines += [
            "| strategy | "
            + " | ".join(f"success, {s}" for s in sub.scenarios.unique())
            + " | median terminal wealth (bootstrap) |",
            "|---|" + "---:|" * (sub.scenarios.nunique() + 1),
        ]
        wide = sub.pivot(index="strategy", columns="scenarios", values="success_rate")
        boot = sub[sub.scenarios == "block bootstrap"].set_index("strategy")
        order = wide.mean(axis=1).sort_values(ascending=False).index
        for name in order:
            cells = " | ".join(f"{100 * wide.loc[name, c]:.1f} %" for c in sub.scenarios.unique())
            med = f"{boot.loc[name, 'terminal_wealth_p50']:,.0f}" if name in boot.index else "-"
            mark = " (held today)" if name == p.strategy else ""
            lines.append(f"| {name}{mark} | {cells} | {med} |")
    if search is not None:
        r = search.result
        lines += [
            "",
            f"Optimised glide path (plan {study.optimize.plan!r}): success "
            f"{100 * r.success_in_sample:.1f} % in sample ({search.in_sample.n_scenarios} "
            f"bootstrap scenarios), {100 * (r.success_out_of_sample or 0):.1f} % held out "
            f"({search.holdout.n_scenarios} parametric scenarios, seed {search.seed + 1}).",
        ]
    crypto = [n for n in table.strategy.unique() if f"% {study.data.crypto}" in n]
    if crypto:
        btc = history[study.data.crypto]
        lines += [
            "",
            f"Read the {study.data.crypto} sleeves with care: {study.data.crypto} has data only "
            f"from {btc.first_valid_index():%Y}, and before that the sleeve earns "
            f"{study.data.cash} ({study.scenarios.crypto_before_data!r} rule). The bootstrap "
            f"resamples its {int(btc.notna().sum())} real years, the early ones included "
            "(2011 +1,467 %, 2013 +5,870 %), as if they could recur; historical cohorts that "
            "end by 2025 meet Bitcoin only in their last years. State forward-looking "
            "assumptions with the parametric generator (`glidelab simulate --scenarios "
            "parametric`) before drawing conclusions.",
        ]
    return "\n".join(lines) + "\n"
