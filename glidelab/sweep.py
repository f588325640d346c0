"""Sweeps: one study run over a grid of plan and strategy settings, and solve-for.

A sweep file is a study file (every table of :mod:`glidelab.study`) plus two tables:

``[sweep]``    plan (a plan name; default the first), strategy (a preset; default the
               plan's ``strategy``, else ``[strategies].crypto_base``), scenarios (a list
               of sets: "historical" cohorts, "bootstrap" and "parametric"; default the
               study's enabled sets), n_scenarios (per random set; default
               ``[scenarios].bootstrap_n``), chunk_size (scenarios per task, default
               5000), points_per_task (grid points simulated on one drawn chunk, default
               10), and ``[sweep.grid]``: field = [values], e.g.
               ``"plan.withdrawal.amount" = [30000, 35000]``, ``equity_share = [0.4, 0.6]``.
               ``[sweep.solve]`` (optional): field, lo, hi, target, scenarios (one set),
               integer, confidence, per_round (inputs tried per bisection round on one
               draw of the scenarios, default 7): at every point of the other axes, the
               value of ``field`` that reaches the target success rate (see
               :func:`optimize.solve_for.bisect_on_crn`).
               ``[sweep.mortality]`` (optional): sex, birth_year, reading ("cohort" |
               "period"): adds the survival-weighted success (SSA tables).
``[compute]``  workers (a LocalCluster on 127.0.0.1), scheduler ("tcp://HOST:PORT"),
               threads_per_worker (default 1): the study's own table
               (:func:`glidelab.study.parse_compute`, one definition for studies and sweeps).

Grid fields (``FIELDS`` lists them): ``plan.<field>`` for the plan's ages, balance, fees;
``plan.withdrawal.<field>`` (rate, amount, ...) and ``plan.contributions.<field>`` (rate,
salary, ...); ``strategy`` (preset names); ``equity_share`` (a fixed equity/bond mix of the
study's assets, rebalanced yearly); ``crypto_sleeve`` (a sleeve of the crypto asset on the
current strategy, as in the study's ``[strategies].crypto_sleeves``); ``strategy.<field>``
(any field of the strategy's dataclass).

Work is split into (grid points x scenario set x chunk) tasks: a task draws one chunk and
simulates it for a block of ``points_per_task`` grid points (drawing costs more than
simulating, so one draw serves several points; a block of one is the plain (grid point x
chunk) task). A chunk is a slice of rows of the study's named scenario set
(:meth:`glidelab.context.StudyContext.scenarios`: "historical cohorts", "block bootstrap",
"parametric", one seed tree, the crypto asset under the study's before-data rule and, in
parametric sets, at its ``[scenarios].crypto_proxy``), drawn for the longest horizon of
the grid: every grid point sees the same scenarios (common random numbers), the same as
``glidelab run`` draws for a plan of that horizon, and results are bit-identical whatever
the backend, the number of workers, ``chunk_size`` and ``points_per_task``. A chunk draws
only the seed blocks (:data:`glidelab.context.BLOCK` scenarios) its rows fall in. A task
returns per-scenario scalars (success, terminal wealth, wealth at retirement, ruin
period), never paths, so a worker holds one chunk at a time: about ``8 x (chunk_size +
BLOCK) x periods x (assets + 1)`` bytes of returns, a few times over while drawing and
simulating.

Output, in ``<output dir>/<name>/``: ``points/<index>-<key>.json`` (one per grid point,
written atomically when all its tasks are in; a rerun skips the points already there, so
an interrupted sweep resumes without recomputing), ``sweep.csv`` (one row per grid point
and scenario set), ``solve.csv`` when solving, charts for one or two swept axes, and
``settings.json``.

Units: amounts are real USD of the start date a year; rates decimal a year; wealth
percentiles real USD; ``shortfall_years`` years of retirement left unfunded (0 when the
money lasts), averaged over all scenarios.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from backtest.errors import GlidelabError, StudyError
from backtest.io import write_text_atomic
from backtest.mortality import survival_curve
from backtest.outcomes import (
    WEALTH_PERCENTILES,
    percentile_columns,
    success_rate,
    unpaid_years_from_ruin,
)
from backtest.outcomes import survival_weighted_success as survival_weighted_success_of
from backtest.plan import Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate_chunked, success_of
from backtest.types import periods_per_year
from glidelab.backends import Backend, backend_for
from glidelab.context import SEED_SCHEME, SET_NAMES, StudyContext
from glidelab.study import (
    FIELDS,
    ComputeConfig,
    Mortality,
    SolveSpec,
    Study,
    Sweep,
    check_sweep_field,
    load_study,
    parse_compute,
    parse_sweep,
    quick_sweep,
)
from optimize.solve_for import SolveResult, bisect_on_crn
from strategies import FixedMix
from strategies.base import Strategy

__all__ = [
    "FIELDS",
    "ComputeConfig",
    "SolveSpec",
    "Sweep",
    "SweepResult",
    "SweepSection",
    "compute_sweep",
    "grid_points",
    "load_sweep",
    "parse_compute",
    "parse_sweep",
    "run_sweep",
    "sweep_summary",
    "write_sweep",
]

PERCENTILES = WEALTH_PERCENTILES
Progress = Callable[[int, int], None]


def quick(sweep: Sweep) -> Sweep:
    """A smoke-run version of ``sweep`` (:func:`glidelab.study.quick_sweep`)."""
    return quick_sweep(sweep)


def check_sweep(sweep: Sweep) -> None:
    """Validate what a caller may have replaced after parsing (CLI overrides, Python use)."""
    if sweep.n_scenarios < 1 or sweep.chunk_size < 1:
        raise StudyError(
            f"n_scenarios = {sweep.n_scenarios}, chunk_size = {sweep.chunk_size}; both must be >= 1"
        )
    spec = sweep.solve
    if spec is None:
        return
    check_sweep_field(spec.field, "solve-for field")
    if spec.field == "strategy":
        raise StudyError("solve-for field must be numeric, not 'strategy'")
    if not spec.lo < spec.hi:
        raise StudyError(f"solve-for bracket lo = {spec.lo}, hi = {spec.hi}; need lo < hi")
    if not 0 < spec.target < 1:
        raise StudyError(f"solve-for target = {spec.target}; expected a rate in (0, 1), e.g. 0.9")
    if spec.scenarios not in sweep.sets:
        raise StudyError(
            f"solve-for scenarios = {spec.scenarios!r}; expected one of {list(sweep.sets)}"
        )


def load_sweep(name_or_path: str | Path) -> Sweep:
    """Read and validate a sweep file (a study plus ``[sweep]``), by path or shipped name
    (:func:`glidelab.study.load_study`)."""
    sf = load_study(name_or_path)
    if sf.sweep is None:
        raise StudyError(
            f"{sf.name} has no [sweep] table; a sweep file needs one with a [sweep.grid] "
            "(see the shipped sweep_example study)"
        )
    return sf.sweep


# ----------------------------------------------------------------------------- grid points


def grid_points(sweep: Sweep, without: str | None = None) -> list[dict[str, Any]]:
    """Every combination of the axes' values (except the axis ``without``), first axis
    slowest; one empty point if there are none."""
    axes = [a for a in sweep.axes if a.field != without]
    names = [a.field for a in axes]
    return [
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(a.values for a in axes))
    ]


def _strategy_named(study: Study, name: str, sleeve: float | None = None) -> Strategy:
    """A preset or one of the study's ``[strategies].custom`` glide paths (or, with
    ``sleeve``, a crypto sleeve on a preset): :meth:`StudyContext.strategy`."""
    return StudyContext(study).strategy(name, sleeve)


def apply_point(sweep: Sweep, point: dict[str, Any]) -> tuple[Plan, Strategy]:
    """The plan and strategy of one grid point (bad combinations raise ``StudyError``)."""
    study = sweep.study
    plan = study.plan(sweep.plan).plan
    name = str(point.get("strategy", sweep.strategy))
    try:
        for field, value in point.items():
            if field.startswith("plan.withdrawal."):
                attr = field.rsplit(".", 1)[1]
                w = plan.withdrawal
                if w is None or attr not in {f.name for f in dataclasses.fields(w)}:
                    raise StudyError(f"{field}: the plan's withdrawal rule {w!r} has no {attr!r}")
                extra: dict[str, None] = {}
                # ConstantReal takes a rate or an amount: setting one clears the other.
                other = {"rate": "amount", "amount": "rate"}.get(attr)
                if other and hasattr(w, other):
                    extra[other] = None
                plan = dataclasses.replace(
                    plan, withdrawal=dataclasses.replace(w, **{attr: value, **extra})
                )
            elif field.startswith("plan.contributions."):
                attr = field.rsplit(".", 1)[1]
                c = plan.contributions
                if c is None or attr not in {f.name for f in dataclasses.fields(c)}:
                    raise StudyError(f"{field}: the plan's contributions {c!r} have no {attr!r}")
                plan = dataclasses.replace(
                    plan, contributions=dataclasses.replace(c, **{attr: value})
                )
            elif field.startswith("plan."):
                plan = dataclasses.replace(plan, **{field[5:]: value})
        if "equity_share" in point:
            e = float(point["equity_share"])
            d = study.data
            strategy: Strategy = FixedMix(
                f"{100 * e:g}/{100 * (1 - e):g} {d.equity}/{d.bonds}",
                (d.equity, d.bonds),
                (e, 1 - e),
            )
        else:
            strategy = _strategy_named(study, name)
        for field, value in point.items():
            if field.startswith("strategy."):
                attr = field.split(".", 1)[1]
                if not dataclasses.is_dataclass(strategy) or attr not in {
                    f.name for f in dataclasses.fields(strategy)
                }:
                    raise StudyError(f"{field}: strategy {strategy.name!r} has no field {attr!r}")
                strategy = dataclasses.replace(strategy, **{attr: value})
        if "crypto_sleeve" in point:
            if "equity_share" in point:
                raise StudyError("crypto_sleeve sits on a preset; sweep strategy, not equity_share")
            strategy = _strategy_named(study, name, sleeve=point["crypto_sleeve"])
    except (TypeError, ValueError) as exc:
        if isinstance(exc, GlidelabError):
            raise StudyError(f"grid point {point}: {exc}") from None
        raise StudyError(f"grid point {point}: {exc}") from None
    return plan, strategy


def point_key(sweep: Sweep, point: dict[str, Any]) -> str:
    """A short hash of everything a point's numbers depend on (its resume key)."""
    settings = sweep.settings()
    settings.pop("axes")
    settings.pop("points_per_task")  # how work is grouped, not what it computes
    settings["study"].pop("output", None)
    settings["study"].pop("source", None)
    settings["study"].pop("compute", None)  # where it runs, not what it computes
    settings["seeding"] = SEED_SCHEME  # a point drawn under another scheme is not reused
    text = json.dumps({"settings": settings, "point": point}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# ----------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class ChunkTask:
    """One unit of work: one chunk of one scenario set, drawn once, simulated for each
    (plan, strategy) of a block of grid points.

    ``rows`` is its slice of the named set (``n_set`` scenarios in all; every cohort for
    ``"historical"``); ``n_periods`` is the length drawn.
    """

    pairs: tuple[tuple[Plan, Strategy], ...]
    kind: str
    n_scenarios: int
    n_periods: int
    n_set: int
    rows: tuple[int, int]
    block_length: float | None


@dataclass(frozen=True)
class ChunkOutcome:
    """Per-scenario scalars of one chunk (never paths).

    ``terminal`` and ``at_retirement`` in real USD of the start date; ``ruin_period`` the
    first period of ruin or -1; ``success`` the plan's success flags.
    """

    success: np.ndarray
    terminal: np.ndarray
    at_retirement: np.ndarray
    ruin_period: np.ndarray


@dataclass(frozen=True)
class Shared:
    """What every task needs and every worker receives once: the study's context (its
    history, roles, before-data rule and seed tree)."""

    context: StudyContext

    @property
    def study(self) -> Study:
        return self.context.study

    @property
    def history(self) -> pd.DataFrame:
        return self.context.history


def _generate(task: ChunkTask, shared: Shared) -> Scenarios:
    """The chunk's rows of the study's named set of its kind (:data:`SET_NAMES`)."""
    return shared.context.scenarios(
        SET_NAMES[task.kind],
        task.n_periods,
        task.n_set,
        task.kind,  # type: ignore[arg-type]
        rows=task.rows,
        block_length=task.block_length,
    )


def run_chunk(task: ChunkTask, shared: Shared) -> tuple[ChunkOutcome, ...]:
    """Draw one task's chunk, simulate it for every pair with the summary pass (no paths
    kept); one outcome per pair. A backend calls this."""
    chunk = _generate(task, shared)
    out = []
    for plan, strategy in task.pairs:
        s = simulate_chunked([chunk], plan, strategy)
        out.append(
            ChunkOutcome(
                success=np.asarray(success_of(plan, s.ruin_period, s.wealth_at_retirement)),
                terminal=np.asarray(s.terminal_wealth),
                at_retirement=np.asarray(s.wealth_at_retirement),
                ruin_period=np.asarray(s.ruin_period),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class _SetLayout:
    """How one scenario set is cut into chunks for a given horizon."""

    kind: str
    chunks: tuple[tuple[int, int], ...]  # rows (start, stop) of the set
    n_periods: int
    n_set: int


class _Planner:
    """Cuts every scenario set into chunks once (seeds, rows, block length)."""

    def __init__(self, sweep: Sweep, context: StudyContext) -> None:
        self.sweep = sweep
        self.context = context
        context.missing  # noqa: B018 (the before-data rule, refused before any task runs)
        if "parametric" in sweep.sets and sweep.study.scenarios.crypto_proxy is None:
            raise StudyError(
                "[sweep] scenarios 'parametric' needs [scenarios].crypto_proxy = "
                "{ mean_log_annual = ..., vol_log_annual = ... }: the crypto asset's assumption "
                "in parametric scenarios (as glidelab run)"
            )
        self.ppy = context.periods_per_year
        self._cache: dict[tuple[str, int], _SetLayout] = {}
        # None: the generator's automatic length, the same for every chunk and as
        # glidelab run's (same rows, same columns).
        self.block_length = sweep.study.scenarios.block_length

    def layout(self, kind: str, n_periods: int, n_max: int) -> _SetLayout:
        """Chunks of set ``kind``; random sets are drawn ``n_max`` periods long (CRN)."""
        key = (kind, n_periods if kind == "historical" else n_max)
        if key not in self._cache:
            cs = self.sweep.chunk_size
            if kind == "historical":
                # Cohorts are not random: as many as the history holds for the horizon.
                sc = self.context.scenarios(SET_NAMES[kind], n_periods, kind="historical")
                n, length = sc.n_scenarios, n_periods
            else:
                n, length = self.sweep.n_scenarios, n_max
            chunks = tuple((a, min(a + cs, n)) for a in range(0, max(n, 0), cs))
            self._cache[key] = _SetLayout(kind, chunks, length, n)
        return self._cache[key]

    def key(self, plan: Plan, kind: str, n_max: int) -> tuple[str, int]:
        """Pairs with equal keys share their scenarios (and can share a task)."""
        return (kind, plan.check_periods(self.ppy) if kind == "historical" else n_max)

    def tasks(
        self, pairs: Sequence[tuple[Plan, Strategy]], kind: str, n_max: int
    ) -> list[ChunkTask]:
        """One task per chunk of set ``kind`` for ``pairs`` (which must share one key)."""
        keys = {self.key(plan, kind, n_max) for plan, _ in pairs}
        assert len(keys) == 1, "pairs of one task must share their scenarios"
        lay = self.layout(kind, pairs[0][0].check_periods(self.ppy), n_max)
        return [
            ChunkTask(
                tuple(pairs), kind, b - a, lay.n_periods, lay.n_set, (a, b), self.block_length
            )
            for a, b in lay.chunks
        ]


def n_effective(kind: str, n: int, n_periods: int) -> float:
    """Independent scenarios for a standard error: overlapping cohorts share history.

    Historical cohorts of ``n_periods`` starting in ``n`` consecutive periods span
    ``n + n_periods - 1`` periods: about ``(n + n_periods - 1) / n_periods`` independent
    windows. Random sets: ``n``.
    """
    if kind != "historical":
        return float(n)
    return max(1.0, min(float(n), (n + n_periods - 1) / n_periods))


# ----------------------------------------------------------------------------- summaries


def survival_weighted_success(plan: Plan, ruin_age: np.ndarray, mortality: Mortality) -> float:
    """Probability that the money outlasts the member, alive at retirement, decimal.

    The mean of :func:`backtest.outcomes.survival_weighted_success` (its docstring states
    the convention) with the SSA survival of ``mortality`` from the retirement age.
    ``ruin_age`` is in years, ``plan.end_age`` where the money lasts.
    """
    start = math.floor(plan.retirement_age)
    n_years = math.ceil(plan.end_age) - start
    curve = survival_curve(
        mortality.sex,
        mortality.birth_year,
        start,
        n_years,
        mortality.reading,
    )
    a = np.where(np.asarray(ruin_age) < plan.end_age, ruin_age, np.nan)
    return float(survival_weighted_success_of(a, plan.retirement_age, curve, start).mean())


def summarise(
    plan: Plan,
    kind: str,
    outcomes: Sequence[ChunkOutcome],
    frequency: str,
    mortality: Mortality | None = None,
) -> dict[str, Any]:
    """One table row from a set's chunks, in chunk order (units in the module doc)."""
    ok = np.concatenate([o.success for o in outcomes])
    terminal = np.concatenate([o.terminal for o in outcomes])
    at_ret = np.concatenate([o.at_retirement for o in outcomes])
    ruin = np.concatenate([o.ruin_period for o in outcomes])
    ppy = periods_per_year(frequency)
    n = ok.size
    n_t = plan.n_periods(ppy)
    ruin_age = np.where(ruin >= 0, plan.start_age + ruin / ppy, plan.end_age)
    # Binomial standard error on the effective number of independent scenarios.
    sr = success_rate(ok, n_effective(kind, n, n_t))
    row: dict[str, Any] = {
        "scenarios": kind,
        "n_scenarios": n,
        "success_rate": sr.rate,
        "success_se": sr.se,
        "success_survival_weighted": (
            survival_weighted_success(plan, ruin_age, mortality) if mortality else np.nan
        ),
        "p_ruin": float((ruin >= 0).mean()),
        # The summary pass keeps no flows: unpaid years bounded from the ruin period.
        "shortfall_years": float(unpaid_years_from_ruin(ruin, n_t, ppy).mean()),
        "median_ruin_age": float(np.median(ruin_age[ruin >= 0])) if (ruin >= 0).any() else np.nan,
    }
    row.update(percentile_columns(terminal, "terminal_wealth", PERCENTILES))
    row.update(percentile_columns(at_ret, "wealth_at_retirement", (50,)))
    return row


# ----------------------------------------------------------------------------- running


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: the tidy table, solve results, where they were computed.

    ``records``: (file stem, record) of each grid point's ``points/`` file, in grid
    order; ``solve_records``: the same for ``solve/``; ``out_dir``: the resume folder the
    points were computed into (None: none was kept)."""

    sweep: Sweep
    table: pd.DataFrame
    solve: pd.DataFrame | None
    out_dir: Path | None
    n_computed: int
    n_resumed: int
    n_tasks: int
    records: tuple[tuple[str, dict[str, Any]], ...] = ()
    solve_records: tuple[tuple[str, dict[str, Any]], ...] = ()


def _point_files(folder: Path | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if folder is None:
        return out
    for f in folder.glob("*.json"):
        try:
            out[f.stem] = json.loads(f.read_text("utf-8"))
        except (OSError, json.JSONDecodeError):  # a foreign or damaged file: recompute
            continue
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def run_sweep(
    sweep: Sweep,
    out_root: str | Path | None = None,
    *,
    client: Any | None = None,
    backend: Backend | None = None,
    threads: int | None = None,
    progress: bool = True,
    on_point: Callable[[int], None] | None = None,
    charts: bool = True,
    folder: str | Path | None = None,
) -> SweepResult:
    """Run every grid point over every scenario set; write ``<out_root>/<name>/``.

    Parameters
    ----------
    sweep
        From :func:`load_sweep` or :func:`parse_sweep`.
    out_root
        Output root; default the study's ``[output].dir``.
    client
        A ``distributed.Client``: tasks run on its cluster. None: in this process.
    backend
        Any :class:`glidelab.backends.Backend` (overrides ``client``).
    threads
        numba threads per task (None: all cores in-process, the worker's threads on Dask).
    progress
        Show a tqdm progress bar (stderr).
    on_point
        Called with each grid point's index once its file is written.
    charts
        Draw heat maps / line charts (needs one or two swept axes).
    folder
        Write here instead of ``<out_root>/<name>/`` (``glidelab run``: its ``sweep/``).

    Returns
    -------
    SweepResult
        The table (one row per grid point and scenario set) and counts of computed and
        resumed grid points.
    """
    backend = backend or backend_for(client, threads=threads)
    out_dir = (
        Path(folder)
        if folder is not None
        else Path(out_root if out_root is not None else sweep.study.output.dir) / sweep.name
    )
    context = StudyContext(sweep.study)
    result = compute_sweep(sweep, context, backend, out_dir, progress=progress, on_point=on_point)
    write_sweep(result, out_dir, charts=charts)
    return result


def _plan_tasks(
    sweep: Sweep,
    planner: _Planner,
    built: Sequence[tuple[Plan, Strategy]],
    todo: Sequence[int],
    n_max: int,
) -> tuple[list[ChunkTask], list[tuple[tuple[int, ...], int, int]]]:
    """Tasks: blocks of up to ``points_per_task`` grid points of ``todo`` (in grid order)
    that share their scenarios, times the chunks of each set (a block's chunk is drawn
    once per task); and each task's owner (its points, set index, chunk index)."""
    tasks: list[ChunkTask] = []
    owner: list[tuple[tuple[int, ...], int, int]] = []
    for start in range(0, len(todo), sweep.points_per_task):
        block = todo[start : start + sweep.points_per_task]
        for s, kind in enumerate(sweep.sets):
            groups: dict[tuple[str, int], list[int]] = {}
            for i in block:
                groups.setdefault(planner.key(built[i][0], kind, n_max), []).append(i)
            for members in groups.values():
                pairs = [built[i] for i in members]
                for c, task in enumerate(planner.tasks(pairs, kind, n_max)):
                    tasks.append(task)
                    owner.append((tuple(members), s, c))
    return tasks, owner


@dataclass
class _Collector:
    """Gathers the tasks' outcomes by grid point; a point whose tasks are all in becomes
    its record (saved at once into ``points_dir`` when there is one, for resuming)."""

    sweep: Sweep
    points: Sequence[dict[str, Any]]
    built: Sequence[tuple[Plan, Strategy]]
    keys: Sequence[str]
    owner: Sequence[tuple[tuple[int, ...], int, int]]
    existing: dict[str, dict[str, Any]]
    points_dir: Path | None
    on_point: Callable[[int], None] | None

    def __post_init__(self) -> None:
        self.expected: dict[int, int] = {}
        for members, _, _ in self.owner:
            for i in members:
                self.expected[i] = self.expected.get(i, 0) + 1
        self.pending: dict[int, dict[tuple[int, int], ChunkOutcome]] = {
            i: {} for i in self.expected
        }

    def add(self, t: int, outcomes: Sequence[ChunkOutcome]) -> None:
        """Task ``t``'s outcomes, one per grid point it simulated."""
        members, s, c = self.owner[t]
        for i, outcome in zip(members, outcomes, strict=True):
            self.pending[i][(s, c)] = outcome
        for i in members:
            if len(self.pending[i]) == self.expected[i]:
                self._finish(i)

    def _finish(self, i: int) -> None:
        plan = self.built[i][0]
        rows = []
        for s_idx, kind in enumerate(self.sweep.sets):
            chunks = [self.pending[i][k] for k in sorted(self.pending[i]) if k[0] == s_idx]
            rows.append(
                summarise(plan, kind, chunks, self.sweep.study.data.frequency, self.sweep.mortality)
            )
        record = {
            "index": i,
            "point": {k: _plain(v) for k, v in self.points[i].items()},
            "strategy": self.built[i][1].name,
            "rows": rows,
        }
        if self.points_dir is not None:
            write_text_atomic(
                self.points_dir / f"{self.keys[i]}.json", json.dumps(record, indent=1)
            )
        self.existing[self.keys[i]] = record
        del self.pending[i]
        if self.on_point is not None:
            self.on_point(i)


def _gather(
    backend: Backend, tasks: list[ChunkTask], shared: Shared, into: _Collector, progress: bool
) -> None:
    """Run ``tasks`` on ``backend`` and hand each task's outcomes to ``into``; an
    interrupted sweep stops its backend (Dask cancels what is queued)."""
    bar = _bar(len(tasks), progress, f"sweep {into.sweep.name}")
    results = backend.map_unordered(run_chunk, tasks, shared)
    try:
        for t, outcomes in results:
            bar.update(1)
            into.add(t, outcomes)
    finally:
        bar.close()
        close = getattr(results, "close", None)
        if close is not None:
            close()


def compute_sweep(
    sweep: Sweep,
    context: StudyContext,
    backend: Backend,
    folder: Path | None = None,
    *,
    progress: bool = True,
    on_point: Callable[[int], None] | None = None,
) -> SweepResult:
    """The sweep's numbers: every grid point over every scenario set of ``context`` (the
    sweep's study), and the solve-for. With ``folder``, ``settings.json`` and each grid
    point's (and solve answer's) file are written there as they finish, and a rerun
    resumes from the ones already there; the table and charts are :func:`write_sweep`'s."""
    check_sweep(sweep)
    points = grid_points(sweep)
    built = [apply_point(sweep, p) for p in points]
    ppy = periods_per_year(sweep.study.data.frequency)
    n_max = max(plan.check_periods(ppy) for plan, _ in built)
    planner = _Planner(sweep, context)
    shared = Shared(context)
    points_dir = None if folder is None else folder / "points"
    if folder is not None:
        (folder / "points").mkdir(parents=True, exist_ok=True)
        write_text_atomic(
            folder / "settings.json", json.dumps(sweep.settings(), indent=2, default=str)
        )
    keys = [f"{i:05d}-{point_key(sweep, p)}" for i, p in enumerate(points)]
    existing = _point_files(points_dir)
    done = {i for i, k in enumerate(keys) if k in existing}
    todo = [i for i in range(len(points)) if i not in done]
    tasks, owner = _plan_tasks(sweep, planner, built, todo, n_max)
    collector = _Collector(sweep, points, built, keys, owner, existing, points_dir, on_point)
    _gather(backend, tasks, shared, collector, progress)
    records = tuple((k, existing[k]) for k in keys)
    solve_table = None
    solve_records: tuple[tuple[str, dict[str, Any]], ...] = ()
    if sweep.solve is not None:
        solve_dir = None if folder is None else folder / "solve"
        solve_records = solve_sweep(sweep, backend, planner, shared, n_max, solve_dir, progress)
        solve_table = pd.DataFrame([r for _, r in solve_records])
    return SweepResult(
        sweep=sweep,
        table=_table(sweep, points, [r for _, r in records]),
        solve=solve_table,
        out_dir=folder,
        n_computed=len(collector.expected),
        n_resumed=len(done),
        n_tasks=len(tasks),
        records=records,
        solve_records=solve_records,
    )


def write_sweep(result: SweepResult, folder: Path, *, charts: bool = True) -> None:
    """A sweep's files into ``folder``: ``settings.json``, ``points/`` and ``solve/`` (the
    files a rerun resumes from; those already there are kept), ``sweep.csv``,
    ``solve.csv`` when solving, and the charts for one or two swept axes."""
    sweep = result.sweep
    folder.mkdir(parents=True, exist_ok=True)
    settings = folder / "settings.json"
    if not settings.exists():
        write_text_atomic(settings, json.dumps(sweep.settings(), indent=2, default=str))
    for sub, records in (("points", result.records), ("solve", result.solve_records)):
        if records:
            (folder / sub).mkdir(exist_ok=True)
        for key, record in records:
            path = folder / sub / f"{key}.json"
            if not path.exists():
                write_text_atomic(path, json.dumps(record, indent=1))
    write_text_atomic(folder / "sweep.csv", result.table.to_csv(index=False))
    if result.solve is not None:
        write_text_atomic(folder / "solve.csv", result.solve.to_csv(index=False))
    if charts:
        from backtest.report.sweep import write_sweep_charts  # lazy: heavy (matplotlib)

        axes = [a.field for a in sweep.axes]
        solve_axes = [a for a in axes if sweep.solve is None or a != sweep.solve.field]
        write_sweep_charts(result.table, axes, folder, solve=result.solve, solve_axes=solve_axes)


def sweep_summary(result: SweepResult) -> str:
    """One paragraph of ``summary.md``: the table's rows and the solve-for's file."""
    return (
        f"\n## Sweep (sweep/)\n\n{len(result.table)} rows in sweep/sweep.csv"
        + (", solve-for in sweep/solve.csv" if result.solve is not None else "")
        + ".\n"
    )


@dataclass(frozen=True)
class SweepSection:
    """The sweep of a ``[sweep]`` table as a study section, run on the context's study
    (its scenario sets, seed tree and history) on ``backend`` (default in this process).
    ``cache``: the folder its points are resumed from and saved to as they finish (None:
    kept in memory; ``write`` writes them); ``log`` hears its one progress line."""

    sweep: Sweep
    backend: Backend | None = None
    progress: bool = False
    charts: bool = True
    cache: Path | None = None
    folder: str = "sweep"
    log: Callable[[str], None] = lambda _: None

    def run(self, context: StudyContext) -> SweepResult:
        sweep = dataclasses.replace(self.sweep, study=context.study)
        backend = self.backend or backend_for(None)
        self.log(f"- sweep ([sweep]): {len(sweep.axes)} axes on {backend.name}")
        return compute_sweep(sweep, context, backend, self.cache, progress=self.progress)

    def write(self, result: SweepResult, folder: Path) -> None:
        write_sweep(result, folder, charts=self.charts)

    def summary(self, result: SweepResult) -> str:
        return sweep_summary(result)


def _table(sweep: Sweep, points: list[dict[str, Any]], records: Iterable[dict]) -> pd.DataFrame:
    rows = []
    for rec in records:
        for r in rec["rows"]:
            rows.append(
                {"point": rec["index"], **rec["point"], "strategy_name": rec["strategy"], **r}
            )
    return pd.DataFrame(rows)


def _bar(total: int, enabled: bool, desc: str) -> Any:
    return tqdm(total=total, disable=not enabled or total == 0, desc=desc, unit="task")


# ----------------------------------------------------------------------------- solve-for


def solve_sweep(
    sweep: Sweep,
    backend: Backend,
    planner: _Planner,
    shared: Shared,
    n_max: int,
    folder: Path | None,
    progress: bool = True,
) -> tuple[tuple[str, dict[str, Any]], ...]:
    """At every point of the other axes, the value of ``[sweep.solve].field`` that reaches
    the target, as (file stem, row); with ``folder``, each answer is written atomically
    there and reused by a rerun."""
    spec = sweep.solve
    assert spec is not None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    existing = _point_files(folder)
    rows = []
    points = grid_points(sweep, without=spec.field)
    for i, point in enumerate(tqdm_iter(points, progress, f"solve {spec.field}")):
        key = f"{i:05d}-{point_key(sweep, {**point, 'solve': spec.field})}"
        if key not in existing:
            res = solve_point(sweep, point, backend, planner, shared, n_max)
            row = {
                "point": i,
                **{k: _plain(v) for k, v in point.items()},
                "field": spec.field,
                "target": spec.target,
                "scenarios": spec.scenarios,
                "value": res.x,
                "ci_low": res.ci_low,
                "ci_high": res.ci_high,
                "confidence": res.confidence,
                "success_at_value": res.achieved,
                "success_se": res.standard_error,
                "n_scenarios": res.n_scenarios,
                "n_effective": res.n_effective,
                "censored": res.censored,
                "evaluations": res.n_evaluations,
            }
            if folder is not None:
                write_text_atomic(folder / f"{key}.json", json.dumps(row, indent=1))
            existing[key] = row
        rows.append((key, existing[key]))
    return tuple(rows)


def tqdm_iter(items: list[Any], enabled: bool, desc: str) -> Iterable[Any]:
    """``items`` with a progress bar when ``enabled``."""
    return tqdm(items, disable=not enabled, desc=desc, unit="point")


def solve_point(
    sweep: Sweep,
    point: dict[str, Any],
    backend: Backend,
    planner: _Planner,
    shared: Shared,
    n_max: int | None = None,
) -> SolveResult:
    """Bisection on common random numbers for one grid point (every evaluation on the
    same scenarios of ``[sweep.solve].scenarios``)."""
    spec = sweep.solve
    assert spec is not None
    ppy = planner.ppy
    base_plan, _ = apply_point(sweep, point)
    # Horizons: solving for an age can lengthen the plan; draw for the longest.
    probe = [apply_point(sweep, {**point, spec.field: v})[0] for v in (spec.lo, spec.hi)]
    horizon = max([base_plan.check_periods(ppy)] + [p.n_periods(ppy) for p in probe])
    n_max = max(n_max or 0, horizon)
    if spec.scenarios == "historical" and len({p.n_periods(ppy) for p in probe}) > 1:
        raise StudyError(
            f"solving {spec.field} on historical cohorts changes the horizon and so the "
            "cohorts; solve on 'bootstrap' or 'parametric' scenarios"
        )

    def fn_many(xs: Sequence[float]) -> list[np.ndarray]:
        # One draw of each chunk serves every x of the round (common random numbers).
        values = [round(x) if spec.integer else float(x) for x in xs]
        pairs = [apply_point(sweep, {**point, spec.field: v}) for v in values]
        tasks = planner.tasks(pairs, spec.scenarios, n_max)
        got = dict(backend.map_unordered(run_chunk, tasks, shared))
        return [
            np.concatenate([got[k][j].success for k in range(len(tasks))])
            for j in range(len(pairs))
        ]

    def fn(x: float) -> np.ndarray:
        return fn_many([x])[0]

    n_t = base_plan.n_periods(ppy)
    lay = planner.layout(spec.scenarios, n_t, n_max)
    n = lay.n_set
    res = bisect_on_crn(
        fn,
        spec.lo,
        spec.hi,
        spec.target,
        integer=spec.integer,
        confidence=spec.confidence,
        n_effective=n_effective(spec.scenarios, n, n_t),
        fn_many=fn_many,
        per_round=spec.per_round,
    )
    return res
