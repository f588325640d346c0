"""The compute path behind the page: a validated study in, the numbers it shows out.

Everything here goes through the study's context (``glidelab.context.StudyContext``: its
history, named scenario sets and strategies) and the simulator, so the page shows what
``glidelab run`` writes for the same study. History and scenario sets depend only on the
data, scenario settings, seed and horizon; they are cached (read-only, shared by every
session), so dragging a knot re-runs only the simulations.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import numba
import numpy as np
import pandas as pd

from backtest.errors import GlidelabError
from backtest.outcomes import success_rate, wealth_percentiles
from backtest.scenarios import Scenarios
from backtest.simulate import SimulationResult, simulate
from glidelab.context import StudyContext
from glidelab.serve.state import CUSTOM_NAME
from glidelab.study import Study
from strategies.base import Strategy

#: Percentiles of the wealth fan (percent).
FAN_PERCENTILES = (10, 25, 50, 75, 90)
#: Scenarios simulated per chunk: a chunk is the unit of progress and of cancelling.
CHUNK = 20_000


class Cancelled(GlidelabError):
    """The user cancelled a long computation."""


@dataclass(frozen=True)
class Scored:
    """Another strategy scored on the page's scenarios: success (decimal) and its
    standard error, and the paired difference against the drawn path's (drawn minus it)
    and that difference's standard error."""

    name: str
    success: float
    success_se: float
    difference: float
    difference_se: float


@dataclass(frozen=True)
class Outcome:
    """The numbers the page shows for one view.

    Attributes
    ----------
    scenario_set, n_scenarios
        Which scenarios the headline numbers use, and how many.
    success, success_se
        Probability of success (decimal) and its binomial standard error
        ``sqrt(p (1 - p) / n)`` (for overlapping historical cohorts it understates the
        uncertainty: they are not independent).
    baseline, baseline_success
        The comparison preset's name and success on the same scenarios.
    difference, difference_se
        Paired difference ``mean(s_path - s_baseline)`` over the same scenarios, and its
        standard error ``std(d, ddof=1) / sqrt(n)``.
    terminal_p50, terminal_p10
        Median and 10th percentile of wealth at the end age, real USD of the start date.
    fan_ages, fan
        Ages of the period boundaries (T + 1,) and the wealth percentiles
        ``FAN_PERCENTILES`` at each, (5, T + 1), real USD.
    cohort_labels, cohort_success, cohort_ruin_age
        Historical cohorts by start year: label, success, and the age the money ran out
        (NaN where it lasted).
    seconds
        Wall time of the computation (history and scenarios from the cache excluded when
        cached).
    others
        Every other strategy of the view (presets drawn beside the path, the optimised
        path, the adaptive policy) on the same scenarios.
    """

    scenario_set: str
    n_scenarios: int
    success: float
    success_se: float
    baseline: str
    baseline_success: float
    difference: float
    difference_se: float
    terminal_p50: float
    terminal_p10: float
    fan_ages: np.ndarray
    fan: np.ndarray
    cohort_labels: tuple[str, ...]
    cohort_success: np.ndarray
    cohort_ruin_age: np.ndarray
    seconds: float
    others: tuple[Scored, ...] = ()


V = TypeVar("V")


class _Cache(Generic[V]):
    """A small, thread-safe least-recently-used cache of read-only inputs."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Hashable, V] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


_HISTORY: _Cache[pd.DataFrame] = _Cache(4)
_SETS: _Cache[dict[str, Scenarios]] = _Cache(6)


def history_of(study: Study) -> pd.DataFrame:
    """The study's history (cached by its ``[data]`` table)."""
    return _HISTORY.get(study.data, lambda: StudyContext(study).history)


def scenarios_of(study: Study) -> dict[str, Scenarios]:
    """The study's scenario sets for its first plan, as ``glidelab run`` draws them."""
    plan = study.plans[0].plan
    context = StudyContext.of(study, history_of(study))
    key = (study.data, study.scenarios, study.seed, context.n_periods(plan))
    return _SETS.get(key, lambda: context.study_sets(plan))


_SELECTED: _Cache[tuple[Scenarios, Scenarios]] = _Cache(12)  # (the set, its selection)


def _selected(sc: Scenarios, assets: tuple[str, ...]) -> Scenarios:
    """``sc`` restricted to a strategy's assets, cached: the simulator would otherwise copy
    and re-validate the whole set on every call (a third of a drop's time)."""
    if tuple(sc.assets) == assets:
        return sc
    held, sub = _SELECTED.get((id(sc), assets), lambda: (sc, sc.select(assets)))
    return sub if held is sc else sc.select(assets)


def _chunks(sc: Scenarios, size: int) -> list[Scenarios]:
    if sc.n_scenarios <= size:
        return [sc]
    return [sc.take(slice(i, i + size)) for i in range(0, sc.n_scenarios, size)]


def _simulate(
    sc: Scenarios,
    study: Study,
    names: tuple[str, ...],
    progress: Callable[[float], None] | None,
    cancel: threading.Event | None,
    extra: Mapping[str, Strategy] | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Success (n,), wealth (n, T + 1) and ruin age (n,) of each named strategy (the
    study's, and ``extra``), in chunks."""
    strategies = {**StudyContext(study).strategies(), **(extra or {})}
    plan = study.plans[0].plan
    parts: dict[str, list[SimulationResult]] = {n: [] for n in names}
    chunked = {n: _chunks(_selected(sc, tuple(strategies[n].assets)), CHUNK) for n in names}
    steps, done = sum(len(c) for c in chunked.values()), 0
    # The page's own computations (up to CHUNK scenarios) run the compiled kernel on one
    # thread: on a shared two-core machine a second thread waits on busy cores more than
    # it helps (measured 140 vs 350 ms a drop at load average 7), and several sessions
    # then share the cores. Large background runs use every thread. The setting is
    # per calling thread in numba, so other threads are unaffected.
    before = numba.get_num_threads()
    numba.set_num_threads(1 if sc.n_scenarios <= CHUNK else numba.config.NUMBA_NUM_THREADS)
    try:
        for i in range(len(chunked[names[0]])):
            for n in names:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("cancelled")
                parts[n].append(simulate(chunked[n][i], plan, strategies[n]))
                done += 1
                if progress is not None:
                    progress(done / steps)
    finally:
        numba.set_num_threads(before)
    return {
        n: (
            np.concatenate([r.success for r in rs]),
            np.concatenate([r.wealth for r in rs]),
            np.concatenate([r.ruin_age for r in rs]),
        )
        for n, rs in parts.items()
    }


def evaluate(
    study: Study,
    scenario_set: str,
    *,
    progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
    baseline: str | None = None,
    extra: Mapping[str, Strategy] | None = None,
) -> Outcome:
    """The page's numbers for the drawn path of ``study`` (a study made by
    ``glidelab.serve.state.to_study``: one plan, the drawn path, one baseline preset).

    Parameters
    ----------
    study
        The view's study.
    scenario_set
        ``"block bootstrap"`` or ``"historical cohorts"``.
    progress
        Called with the share done (0-1) after each chunk.
    cancel
        Set it to stop between chunks (raises :class:`Cancelled`).
    baseline
        The strategy compared with the drawn path (default the study's first preset).
    extra
        Strategies outside the study (the adaptive policy) scored on the same scenarios.
    """
    t0 = time.perf_counter()
    sets = scenarios_of(study)
    baseline = baseline or study.strategies.presets[0]
    others = [p for p in study.strategies.presets if p != baseline]
    others += [c.name for c in study.strategies.custom if c.name not in (CUSTOM_NAME, baseline)]
    others += [k for k in (extra or {}) if k not in others]
    sc = sets[scenario_set]
    names = (CUSTOM_NAME, baseline, *others)
    main = _simulate(sc, study, names, progress, cancel, extra)
    s_path, wealth, ruin = main[CUSTOM_NAME]
    s_base = main[baseline][0]
    n = s_path.size
    sr = success_rate(s_path)
    p = sr.rate
    d = s_path.astype(np.float64) - s_base
    if scenario_set == "historical cohorts":
        coh, coh_ruin, cohorts = s_path, ruin, sc
    else:
        cohorts = sets["historical cohorts"]
        coh, _, coh_ruin = _simulate(cohorts, study, (CUSTOM_NAME,), None, cancel)[CUSTOM_NAME]
    plan = study.plans[0].plan
    ppy = StudyContext(study).periods_per_year
    ages = plan.start_age + np.arange(wealth.shape[1]) / ppy
    fan = wealth_percentiles(wealth, FAN_PERCENTILES)
    return Outcome(
        scenario_set=scenario_set,
        n_scenarios=n,
        success=p,
        success_se=sr.se,
        baseline=baseline,
        baseline_success=float(s_base.mean()),
        difference=float(d.mean()),
        difference_se=float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"),
        terminal_p50=float(fan[FAN_PERCENTILES.index(50), -1]),
        terminal_p10=float(fan[FAN_PERCENTILES.index(10), -1]),
        fan_ages=ages,
        fan=fan,
        cohort_labels=tuple(cohorts.labels or ()),
        cohort_success=np.asarray(coh, dtype=bool),
        cohort_ruin_age=coh_ruin,
        seconds=time.perf_counter() - t0,
        others=tuple(_scored(k, s_path, main[k][0]) for k in others),
    )


def _scored(name: str, s_path: np.ndarray, s_other: np.ndarray) -> Scored:
    """``name``'s success on the page's scenarios, paired with the drawn path's."""
    sr = success_rate(s_other)
    d = s_path.astype(np.float64) - s_other
    n = d.size
    se = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return Scored(name, sr.rate, sr.se, float(d.mean()), se)
