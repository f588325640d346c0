"""Baselines for the glide-path optimizer: constant mixes, presets, differential evolution.

Every baseline is scored with the engine (``backtest.simulate.simulate``) on the scenarios
it is given, so candidates share the same random numbers (common random numbers).
Success probabilities are decimals (0.9 = 90 %).

Scoring many candidates on the same scenarios is independent work: the ``map_fn`` hook of
:func:`success_of_strategies` (and of :func:`constant_mix_grid` and
:func:`evaluate_presets`) lets the caller run it elsewhere, e.g. on a Dask cluster
(``glidelab.backends.ordered_map``). ``map_fn(fn, tasks, shared)`` must return
``[fn(task, shared) for task in tasks]`` in task order; this layer never imports the app.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import differential_evolution

from backtest.plan import Plan
from backtest.scenarios import Scenarios
from backtest.types import FloatArray
from optimize.glidepath import Goal, make_glide_path, success_probability
from strategies import GlidePath, Strategy, list_presets, preset
from strategies.errors import StrategyError
from strategies.presets import BONDS, EQUITY

#: ``map_fn(fn, tasks, shared) -> [fn(task, shared) for task in tasks]``, in task order.
MapFn = Callable[[Callable[[Any, Any], Any], Sequence[Any], Any], Sequence[Any]]


def serial_map(fn: Callable[[Any, Any], Any], tasks: Sequence[Any], shared: Any) -> list[Any]:
    """The default :data:`MapFn`: every task here, in order."""
    return [fn(task, shared) for task in tasks]


def _success_task(strategy: Strategy, shared: tuple[Scenarios, Plan, Goal | None]) -> float:
    """One candidate's success probability (a top-level function: it can be shipped)."""
    scenarios, plan, goal = shared
    return success_probability(scenarios, plan, strategy, goal)


def success_of_strategies(
    scenarios: Scenarios,
    plan: Plan,
    strategies: Sequence[Strategy],
    goal: Goal | None = None,
    *,
    map_fn: MapFn | None = None,
) -> list[float]:
    """Success probability (decimal) of each strategy on the same ``scenarios``.

    ``map_fn``: where the candidates are scored (default: here, one after another); the
    scenarios, plan and goal travel once as the shared object. The answer is the same
    whatever ``map_fn`` runs them on.
    """
    tasks = list(strategies)
    out = (map_fn or serial_map)(_success_task, tasks, (scenarios, plan, goal))
    return [float(v) for v in out]


@dataclass(frozen=True)
class ConstantMixGrid:
    """Success probability of constant equity/other mixes on a 1-D grid.

    Attributes
    ----------
    equity_shares
        Equity weights tried, decimal, (n,).
    success
        Success probability of each, decimal, (n,).
    """

    equity: str
    other: str
    equity_shares: FloatArray
    success: FloatArray

    @property
    def best_index(self) -> int:
        """Index of the best mix (ties: the lowest equity share)."""
        return int(np.argmax(self.success))

    @property
    def best_share(self) -> float:
        return float(self.equity_shares[self.best_index])

    @property
    def best_success(self) -> float:
        return float(self.success[self.best_index])


def constant_mix(
    equity_share: float, equity: str, other: str, plan: Plan, periods_per_year: int
) -> GlidePath:
    """A constant ``equity_share`` / rest mix, rebalanced every period."""
    knots = np.array([[equity_share, 1.0 - equity_share]] * 2)
    ages = np.array([plan.start_age, plan.end_age])
    return make_glide_path(
        f"constant {equity_share:.0%} {equity}",
        (equity, other),
        ages,
        knots,
        plan,
        periods_per_year,
    )


def constant_mix_grid(
    scenarios: Scenarios,
    plan: Plan,
    equity: str,
    other: str,
    *,
    step: float = 0.01,
    goal: Goal | None = None,
    map_fn: MapFn | None = None,
) -> ConstantMixGrid:
    """Success probability of every constant mix ``e`` equity / ``1 - e`` other.

    Parameters
    ----------
    scenarios
        Nominal return scenarios holding ``equity`` and ``other``.
    plan
        The member.
    equity, other
        The two assets.
    step
        Grid step in equity share, decimal (0.01 = 1 percentage point).
    goal
        Success definition; ``None`` = the plan's.
    map_fn
        Where the mixes are scored (:func:`success_of_strategies`); default here.
    """
    shares = np.round(np.arange(0.0, 1.0 + step / 2, step), 10)
    ppy = scenarios.periods_per_year
    mixes = [constant_mix(e, equity, other, plan, ppy) for e in shares]
    success = np.array(success_of_strategies(scenarios, plan, mixes, goal, map_fn=map_fn))
    return ConstantMixGrid(equity, other, shares, success)


def evaluate_presets(
    scenarios: Scenarios,
    plan: Plan,
    names: Sequence[str] | None = None,
    *,
    goal: Goal | None = None,
    equity: str = EQUITY,
    bonds: str = BONDS,
    map_fn: MapFn | None = None,
) -> dict[str, float]:
    """Success probability of every preset strategy that runs on these scenarios.

    The presets are those of :func:`preset_strategies` (built with ``equity=`` and
    ``bonds=``; those needing assets the scenarios lack, and smoothing overlays, left out),
    restricted to ``names`` when given. ``map_fn``: where they are scored
    (:func:`success_of_strategies`); default here.
    """
    presets = preset_strategies(scenarios, equity, bonds)
    chosen = presets if names is None else {n: presets[n] for n in names if n in presets}
    scores = success_of_strategies(scenarios, plan, list(chosen.values()), goal, map_fn=map_fn)
    return dict(zip(chosen, scores, strict=True))


def preset_strategies(
    scenarios: Scenarios, equity: str = EQUITY, bonds: str = BONDS
) -> dict[str, Strategy]:
    """Every preset that runs on ``scenarios``' assets, by name, smoothing overlays aside.

    An income-smoothing overlay keeps part of the member's money in a reserve outside the
    account, so a withdrawal set as a share of the balance at retirement is smaller and
    the comparison with glide paths would not be like for like (the optimiser searches
    asset weights, not overlays).
    """
    out: dict[str, Strategy] = {}
    for name, _ in list_presets():
        strat = _build_preset(name, equity, bonds)
        if strat is None or strat.smoothing is not None:
            continue
        if set(strat.assets) <= set(scenarios.assets):
            out[name] = strat
    return out


def _build_preset(name: str, equity: str, bonds: str) -> Strategy | None:
    for options in ({"equity": equity, "bonds": bonds}, {}):
        try:
            return preset(name, **options)
        except StrategyError:
            continue
    return None


@dataclass(frozen=True)
class EvolutionResult:
    """What ``differential_evolution_search`` found."""

    glide_path: GlidePath
    knot_ages: tuple[float, ...]
    equity_at_knots: tuple[float, ...]
    success: float
    evaluations: int
    generations: int
    seconds: float


def four_knot_ages(plan: Plan, periods_per_year: int) -> FloatArray:
    """Four distinct, increasing knot ages (years) of the differential-evolution family.

    A plan that saves and then spends gets start, mid-accumulation, retirement and the
    last period's age. A plan without one of the phases would repeat an age (a retiree:
    start = mid = retirement; an accumulation-only plan: retirement after the last
    period), so it gets four ages evenly spaced from start to the last period instead.
    A one-period plan has one knot.
    """
    last = plan.end_age - 1.0 / periods_per_year
    mid = 0.5 * (plan.start_age + plan.retirement_age)
    ages = np.array([plan.start_age, mid, plan.retirement_age, last])
    if plan.start_age < mid < plan.retirement_age < last:
        return ages
    if last <= plan.start_age:
        return np.array([float(plan.start_age)])
    return np.linspace(plan.start_age, last, 4)


def differential_evolution_search(
    scenarios: Scenarios,
    plan: Plan,
    equity: str,
    other: str,
    *,
    max_seconds: float,
    max_generations: int = 1000,
    popsize: int = 15,
    goal: Goal | None = None,
    rng: np.random.Generator | int | None = None,
) -> EvolutionResult:
    """Derivative-free search over a 4-knot piecewise-linear equity glide path.

    The equity share at ages ``four_knot_ages(plan)`` (start, mid-accumulation,
    retirement, last period; evenly spaced for a plan that starts at retirement), each
    in [0, 1], is searched with scipy's
    ``differential_evolution`` maximising the simulated success probability; the rest
    is in ``other``. Stops after ``max_seconds`` (checked every generation) or
    ``max_generations``.
    """
    ppy = scenarios.periods_per_year
    ages = four_knot_ages(plan, ppy)
    evaluations = 0

    def path(e: FloatArray) -> GlidePath:
        knots = np.column_stack([e, 1.0 - e])
        return make_glide_path("differential evolution", (equity, other), ages, knots, plan, ppy)

    def objective(e: FloatArray) -> float:
        nonlocal evaluations
        evaluations += 1
        return -success_probability(scenarios, plan, path(np.clip(e, 0.0, 1.0)), goal)

    t0 = time.perf_counter()

    def out_of_time(intermediate_result: object) -> bool:
        return time.perf_counter() - t0 > max_seconds

    res = differential_evolution(
        objective,
        bounds=[(0.0, 1.0)] * ages.size,
        maxiter=max_generations,
        popsize=popsize,
        polish=False,
        tol=0.0,
        rng=rng,
        callback=out_of_time,
        init="sobol",
    )
    best = np.clip(res.x, 0.0, 1.0)
    return EvolutionResult(
        glide_path=path(best),
        knot_ages=tuple(float(a) for a in ages),
        equity_at_knots=tuple(float(v) for v in best),
        success=float(-res.fun),
        evaluations=evaluations,
        generations=int(res.nit),
        seconds=time.perf_counter() - t0,
    )
