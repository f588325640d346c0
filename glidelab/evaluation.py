"""A study's scenario evaluation: every plan x scenario set x strategy, as numbers and text.

The :class:`glidelab.sections.Evaluation` section runs it. :func:`evaluate_study` makes
``success.csv`` (one row per plan, strategy and scenario set: the probability of success,
percentiles of real terminal wealth and of wealth at retirement in real USD of the plan's
start, the funded ratio against a pension target); :func:`evaluation_summary` is the head
of ``summary.md``; :func:`settings_record` is ``settings.json``.
"""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import numpy
import numpy as np
import pandas
import pandas as pd
import scipy

from backtest.outcomes import (
    WEALTH_PERCENTILES,
    cohort_effective_n,
    percentile_columns,
    success_rate,
)
from backtest.plan import FundedRatio, Plan
from backtest.report.describe import describe_plan
from backtest.scenarios import Scenarios
from backtest.simulate import SimulationResult, funded_ratio, simulate
from glidelab.backends import Backend, InProcess, ordered_map
from glidelab.context import SEED_SCHEME
from glidelab.search import HELD_OUT, IN_SAMPLE
from glidelab.study import PlanConfig, Study
from strategies.base import Strategy

#: Percentiles of wealth reported in the tables (percent).
PERCENTILES = WEALTH_PERCENTILES

#: One line of success.csv: column -> value (names, counts, decimals, real USD).
Row = dict[str, str | int | float]

#: A plan's scenario sets by name, for every plan of a study.
SetsByPlan = Mapping[str, Mapping[str, Scenarios]]


def success_row(
    plan_name: str,
    plan: Plan,
    strategy: str,
    set_name: str,
    pension: FundedRatio | None,
    res: SimulationResult,
) -> Row:
    """One line of success.csv: success (decimal) with its standard error and the
    independent scenarios behind it, and wealth percentiles (real USD). Historical cohorts
    (scenarios with labels) overlap, so their standard error counts the non-overlapping
    windows of the data (:func:`backtest.outcomes.cohort_effective_n`)."""
    n_eff = (
        cohort_effective_n(res.n_scenarios, res.schedule.n_periods)
        if res.labels is not None
        else None
    )
    ok = success_rate(res.success, n_eff)
    row: Row = {
        "plan": plan_name,
        "strategy": strategy,
        "scenarios": set_name,
        "n_scenarios": res.n_scenarios,
        "success_rate": res.success_rate,
        "success_se": ok.se,
        "n_effective": ok.n_effective,
    }
    row.update(percentile_columns(res.terminal_wealth, "terminal_wealth", PERCENTILES))
    row.update(percentile_columns(res.wealth_at_retirement, "wealth_at_retirement", (50,)))
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
    sets_by_plan: SetsByPlan


def _evaluate_task(task: tuple[str, str, str], shared: _Evaluation) -> Row:
    """One (plan, scenario set, strategy): simulate it, return its success.csv line (a
    few numbers; no path leaves the worker)."""
    plan_name, set_name, label = task
    p = shared.plans[plan_name]
    res = simulate(shared.sets_by_plan[plan_name][set_name], p.plan, shared.strategies[label])
    return success_row(p.name, p.plan, label, set_name, p.pension_target, res)


def evaluate_study(
    study: Study,
    strategies: Mapping[str, Strategy],
    sets_by_plan: SetsByPlan,
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


def _plan_table(study: Study, p: PlanConfig, table: pd.DataFrame) -> list[str]:
    """One plan's Markdown table: success by scenario set (percent, standard error in
    parentheses, the set's size in its heading), best mean first, and the median real
    terminal wealth on the block bootstrap."""
    sub = table[table.plan == p.name]
    lines = ["", f"## Plan {p.name!r}: {describe_plan(p.plan)}", ""]
    sizes = sub.groupby("scenarios", sort=False)[["n_scenarios", "n_effective"]].first()
    lines += [
        "| strategy | "
        + " | ".join(f"success, {s} ({_size(sizes.loc[s])})" for s in sub.scenarios.unique())
        + " | median terminal wealth (bootstrap) |",
        "|---|" + "---:|" * (sub.scenarios.nunique() + 1),
    ]
    wide = sub.pivot(index="strategy", columns="scenarios", values="success_rate")
    se = sub.pivot(index="strategy", columns="scenarios", values="success_se")
    boot = sub[sub.scenarios == "block bootstrap"].set_index("strategy")
    order = wide.mean(axis=1).sort_values(ascending=False).index
    for name in order:
        cells = " | ".join(
            f"{100 * wide.loc[name, c]:.1f} % ({100 * se.loc[name, c]:.1f})"
            for c in sub.scenarios.unique()
        )
        med = f"{boot.loc[name, 'terminal_wealth_p50']:,.0f}" if name in boot.index else "-"
        mark = " (held today)" if name == p.strategy else ""
        lines.append(f"| {name}{mark} | {cells} | {med} |")
    return lines


def _size(row: pd.Series) -> str:
    """``n = 5,000``, or for overlapping cohorts ``n = 29, overlapping: s.e. as 1.4
    independent``."""
    n, n_eff = int(row["n_scenarios"]), float(row["n_effective"])
    if n_eff < n:
        return f"n = {n:,}, overlapping: s.e. as {n_eff:.1f} independent"
    return f"n = {n:,}"


def _crypto_note(study: Study, table: pd.DataFrame, history: pd.DataFrame) -> list[str]:
    """The warning under tables holding crypto sleeves (none without them)."""
    d = study.data
    if not any(f"% {d.crypto}" in n for n in table.strategy.unique()):
        return []
    btc = history[d.crypto]
    first = cast(pd.Timestamp, btc.first_valid_index())
    return [
        "",
        f"Read the {d.crypto} sleeves with care: {d.crypto} has data only "
        f"from {first:%Y}, and before that the sleeve earns "
        f"{d.cash} ({study.scenarios.crypto_before_data!r} rule). The bootstrap "
        f"resamples its {int(btc.notna().sum())} real years, the early ones included "
        "(2011 +1,467 %, 2013 +5,870 %), as if they could recur; historical cohorts that "
        "end by 2025 meet Bitcoin only in their last years. State forward-looking "
        "assumptions with the parametric generator (`glidelab simulate --scenarios "
        "parametric`) before drawing conclusions.",
    ]


def evaluation_summary(study: Study, table: pd.DataFrame, history: pd.DataFrame) -> str:
    """The head of summary.md: the data, then each plan's success table (percent)."""
    d = study.data
    lines = [
        f"# glidelab study: {study.name}",
        "",
        f"Data: {d.frequency} {history.index[0]:%Y}-{history.index[-1]:%Y} "
        f"({d.equity}, {d.bonds}, {d.cash}, {d.crypto}, CPI). "
        f"Seed {study.seed}. Amounts are real USD of the plan's start.",
    ]
    for p in study.plans:
        lines += _plan_table(study, p, table)
    lines += _crypto_note(study, table, history)
    return "\n".join(lines) + "\n"


#: A JSON document: what ``json.dumps`` writes (``default=str`` for the rest).
Json = dict[str, object]


def _versions() -> dict[str, str]:
    """The versions of Python and of the numerical libraries, for settings.json."""
    import cvxpy  # lazy: heavy (cvxpy)

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scipy": scipy.__version__,
        "cvxpy": cvxpy.__version__,
    }


def settings_record(study: Study, history: pd.DataFrame, sets_by_plan: SetsByPlan) -> Json:
    """settings.json: the seed tree, every setting, the data coverage and the versions."""
    return {
        "study": study.settings(),
        "seed": study.seed,
        "seeds": {
            "scheme": SEED_SCHEME,
            "optimiser in sample (block bootstrap)": IN_SAMPLE,
            "optimiser held out (parametric)": HELD_OUT,
            "study scenario sets": sorted({n for sets in sets_by_plan.values() for n in sets}),
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
        "versions": _versions(),
    }
