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
chunk) task). Chunk ``c`` of random set ``s`` is drawn from child ``c`` of
``SeedSequence((seed, 3, s))``, for the longest horizon of the grid: every grid point sees
the same scenarios (common random numbers), and results are bit-identical whatever the
backend, the number of workers and ``points_per_task``. A task returns per-scenario
scalars (success, terminal wealth, wealth at retirement, ruin period), never paths, so a
worker holds one chunk at a time: about ``8 x chunk_size x periods x (assets + 1)`` bytes
of returns, a few times over while drawing and simulating.

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
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtest.errors import GlidelabError, StudyError
from backtest.generators import (
    Proxy,
    block_bootstrap,
    default_block_length,
    historical_cohorts,
    parametric,
)
from backtest.io import write_text_atomic
from backtest.mortality import survival_curve
from backtest.plan import Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate_chunked, success_of
from backtest.types import periods_per_year
from glidelab.backends import Backend, backend_for
from glidelab.run import custom_strategy, strategies_for, study_history
from glidelab.study import ComputeConfig, StrategyConfig, Study, _Table, parse_compute, parse_study
from optimize.solve_for import SolveResult, bisect_on_crn
from strategies import FixedMix
from strategies.base import Strategy

__all__ = [
    "FIELDS",
    "ComputeConfig",
    "SolveSpec",
    "Sweep",
    "SweepResult",
    "grid_points",
    "load_sweep",
    "parse_compute",
    "parse_sweep",
    "run_sweep",
]

SET_KINDS = ("historical", "bootstrap", "parametric")
PERCENTILES = (5, 25, 50, 75, 95)
PLAN_FIELDS = (
    "start_age",
    "retirement_age",
    "end_age",
    "initial_balance",
    "expense_ratio",
    "transaction_cost_bps",
)
FIELDS = (
    *(f"plan.{f}" for f in PLAN_FIELDS),
    "plan.withdrawal.<field>",
    "plan.contributions.<field>",
    "strategy",
    "equity_share",
    "crypto_sleeve",
    "strategy.<field>",
)
Progress = Callable[[int, int], None]


# ----------------------------------------------------------------------------- the schema


@dataclass(frozen=True)
class SolveSpec:
    """Solve for ``field`` in ``[lo, hi]`` reaching ``target`` success on one scenario set."""

    field: str
    lo: float
    hi: float
    target: float
    scenarios: str
    integer: bool = False
    confidence: float = 0.95
    per_round: int = 7


@dataclass(frozen=True)
class Mortality:
    """Whose lifetime weights success: SSA tables (:mod:`backtest.mortality`)."""

    sex: str
    birth_year: int
    reading: str = "cohort"


@dataclass(frozen=True)
class Axis:
    """One swept field and its values (numbers or strings), in the file's order."""

    field: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: the study, the grid, the scenario sets and the compute settings."""

    study: Study
    plan: str
    strategy: str
    axes: tuple[Axis, ...]
    sets: tuple[str, ...]
    n_scenarios: int
    chunk_size: int
    points_per_task: int
    solve: SolveSpec | None
    compute: ComputeConfig
    mortality: Mortality | None = None

    @property
    def name(self) -> str:
        return self.study.name

    def settings(self) -> dict[str, Any]:
        """Every setting as plain data (for settings.json and the resume key)."""
        return {
            "study": self.study.settings(),
            "plan": self.plan,
            "strategy": self.strategy,
            "axes": {a.field: list(a.values) for a in self.axes},
            "sets": list(self.sets),
            "n_scenarios": self.n_scenarios,
            "chunk_size": self.chunk_size,
            "points_per_task": self.points_per_task,
            "solve": dataclasses.asdict(self.solve) if self.solve else None,
            "mortality": dataclasses.asdict(self.mortality) if self.mortality else None,
        }


def _check_field(name: str, where: str) -> None:
    head, _, rest = name.partition(".")
    ok = (
        name in ("strategy", "equity_share", "crypto_sleeve")
        or (head == "plan" and rest in PLAN_FIELDS)
        or (name.startswith(("plan.withdrawal.", "plan.contributions.")) and name.count(".") == 2)
        or (head == "strategy" and rest and "." not in rest)
    )
    if not ok:
        raise StudyError(f"{where}: {name!r} is not a sweepable field; use one of {list(FIELDS)}")


def parse_sweep(raw: dict[str, Any], source: str = "<dict>") -> Sweep:
    """Validate a parsed sweep file (a study plus ``[sweep]`` and ``[compute]``)."""
    raw = dict(raw)
    sweep_raw = raw.pop("sweep", None)
    if sweep_raw is None:
        raise StudyError(f"{source}: a sweep file needs a [sweep] table with a [sweep.grid]")
    study = parse_study(raw, source)
    t = _Table(sweep_raw, "[sweep]")
    plan = t.string("plan", study.plans[0].name)
    study.plan(plan)  # raises with the plan names
    default_strategy = study.plan(plan).strategy or study.strategies.crypto_base
    strategy = t.string("strategy", default_strategy)
    enabled = tuple(
        k
        for k, on in (
            ("historical", study.scenarios.historical),
            ("bootstrap", study.scenarios.bootstrap_n > 0),
        )
        if on
    )
    sets = t.strings("scenarios", enabled)
    if not sets or len(set(sets)) != len(sets) or any(s not in SET_KINDS for s in sets):
        raise StudyError(
            f"[sweep].scenarios = {list(sets)}; expected distinct names from {list(SET_KINDS)}"
        )
    n_scen = t.integer("n_scenarios", max(study.scenarios.bootstrap_n, 1), lo=1)
    chunk = t.integer("chunk_size", 5000, lo=1)
    per_task = t.integer("points_per_task", 10, lo=1)
    grid_raw = t.raw.get("grid", {})
    t.seen.add("grid")
    if not isinstance(grid_raw, dict):
        raise StudyError("[sweep.grid] must be a table: field = [values]")
    axes = []
    for name, values in grid_raw.items():
        _check_field(name, "[sweep.grid]")
        if not isinstance(values, list) or not values:
            raise StudyError(f"[sweep.grid].{name!r} = {values!r}; expected a non-empty list")
        if len({json.dumps(v) for v in values}) != len(values):
            raise StudyError(f"[sweep.grid].{name!r} has repeated values {values}")
        axes.append(Axis(name, tuple(values)))
    if "equity_share" in grid_raw and "strategy" in grid_raw:
        raise StudyError("[sweep.grid]: equity_share and strategy both choose the strategy")
    solve = None
    if "solve" in t.raw:
        s = t.table("solve")
        field = s.string("field", None)
        _check_field(field, "[sweep.solve].field")
        solve = SolveSpec(
            field=field,
            lo=s.number("lo", None),
            hi=s.number("hi", None),
            target=s.number("target", 0.9, 0, 1),
            scenarios=s.string("scenarios", sets[-1], sets),
            integer=s.boolean("integer", False),
            confidence=s.number("confidence", 0.95, 0.5, 0.999),
            per_round=s.integer("per_round", 7, lo=1),
        )
        if field == "strategy":
            raise StudyError("[sweep.solve].field must be numeric, not 'strategy'")
    mortality = None
    if "mortality" in t.raw:
        m = t.table("mortality")
        mortality = Mortality(
            sex=m.string("sex", None, ("male", "female")),
            birth_year=m.integer("birth_year", None, lo=1900),
            reading=m.string("reading", "cohort", ("cohort", "period")),
        )
    t.done()
    if not axes and solve is None:
        raise StudyError("[sweep.grid] is empty; give at least one field = [values]")
    return Sweep(
        study=study,
        plan=plan,
        strategy=strategy,
        axes=tuple(axes),
        sets=sets,
        n_scenarios=n_scen,
        chunk_size=chunk,
        points_per_task=per_task,
        solve=solve,
        compute=study.compute,
        mortality=mortality,
    )


def quick(sweep: Sweep) -> Sweep:
    """A smoke-run version of ``sweep`` (``glidelab run --quick``): at most 300 scenarios
    per random set in chunks of at most 300, and at most three values per axis (first,
    middle, last). The study itself is shrunk by the caller."""
    axes = tuple(
        Axis(
            a.field,
            a.values
            if len(a.values) <= 3
            else tuple(a.values[i] for i in (0, len(a.values) // 2, -1)),
        )
        for a in sweep.axes
    )
    return dataclasses.replace(
        sweep,
        axes=axes,
        n_scenarios=min(sweep.n_scenarios, 300),
        chunk_size=min(sweep.chunk_size, 300),
    )


def check_sweep(sweep: Sweep) -> None:
    """Validate what a caller may have replaced after parsing (CLI overrides, Python use)."""
    if sweep.n_scenarios < 1 or sweep.chunk_size < 1:
        raise StudyError(
            f"n_scenarios = {sweep.n_scenarios}, chunk_size = {sweep.chunk_size}; both must be >= 1"
        )
    spec = sweep.solve
    if spec is None:
        return
    _check_field(spec.field, "solve-for field")
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


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file."""
    p = Path(path)
    if not p.is_file():
        raise StudyError(f"sweep file {str(p)!r} does not exist")
    try:
        raw = tomllib.loads(p.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{p} is not valid TOML: {exc}") from None
    return parse_sweep(raw, str(p))


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
    ``sleeve``, a crypto sleeve on a preset), built as the study runner builds them."""
    custom = {c.name: c for c in study.strategies.custom}
    if name in custom:
        if sleeve is not None:
            raise StudyError(
                f"crypto_sleeve sits on a preset; {name!r} is a custom glide path (give it a "
                "sleeve in [strategies].custom instead)"
            )
        return custom_strategy(study, custom[name])
    cfg = StrategyConfig(
        presets=(name,) if sleeve is None else (),
        crypto_sleeves=() if sleeve is None else (float(sleeve),),
        crypto_base=name,
    )
    plans = tuple(dataclasses.replace(p, strategy=None) for p in study.plans)
    built = strategies_for(dataclasses.replace(study, strategies=cfg, plans=plans))
    (strategy,) = built.values()
    return strategy


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
                extra = {}
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
                strategy = dataclasses.replace(strategy, **{attr: value})  # type: ignore[type-var]
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
    text = json.dumps({"settings": settings, "point": point}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# ----------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class ChunkTask:
    """One unit of work: one chunk of one scenario set, drawn once, simulated for each
    (plan, strategy) of a block of grid points.

    ``seed`` is the chunk's ``SeedSequence`` (None for historical cohorts, which are not
    random); ``rows`` is its slice of a historical set; ``n_periods`` is the length drawn.
    """

    pairs: tuple[tuple[Plan, Strategy], ...]
    kind: str
    n_scenarios: int
    n_periods: int
    seed: np.random.SeedSequence | None
    rows: tuple[int, int] | None
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
    """What every task needs and every worker receives once: the history and its roles."""

    history: pd.DataFrame
    study: Study


def _missing_rule(study: Study, rng: np.random.Generator | None) -> dict[str, Any]:
    """The study's rule for the crypto asset before its data, as generator keywords."""
    d, sc = study.data, study.scenarios
    rule = sc.crypto_before_data
    if rule == "exclude":
        raise StudyError(
            "[scenarios].crypto_before_data = 'exclude' leaves no lifetime cohort with Bitcoin "
            "data; use 'cash' or 'proxy'"
        )
    if rule == "proxy" and sc.crypto_proxy is None:
        raise StudyError("[scenarios].crypto_before_data = 'proxy' needs [scenarios].crypto_proxy")
    proxy = {d.crypto: Proxy(*sc.crypto_proxy)} if rule == "proxy" and sc.crypto_proxy else None
    return dict(missing=rule, cash_asset=d.cash, proxy=proxy, rng=rng)


def _assets(study: Study) -> list[str]:
    d = study.data
    return [d.equity, d.bonds, d.cash, d.crypto]


def _cohorts(shared: Shared, n_periods: int) -> Scenarios:
    """Every historical cohort of ``n_periods``; a proxy fill draws from a fixed seed."""
    rng = np.random.default_rng(np.random.SeedSequence((shared.study.seed, 3, 0)))
    common = _missing_rule(shared.study, rng)
    return historical_cohorts(shared.history, _assets(shared.study), n_periods, **common)


def _generate(task: ChunkTask, shared: Shared) -> Scenarios:
    """The chunk's scenarios, drawn with the study's data roles and missing-data rule."""
    d, sc = shared.study.data, shared.study.scenarios
    assets = _assets(shared.study)
    rng = None if task.seed is None else np.random.default_rng(task.seed)
    if task.kind == "historical":
        assert task.rows is not None
        return _cohorts(shared, task.n_periods).take(slice(*task.rows))
    common = _missing_rule(shared.study, rng)
    if task.kind == "bootstrap":
        return block_bootstrap(
            shared.history,
            assets,
            task.n_scenarios,
            task.n_periods,
            block_length=task.block_length,
            method=sc.bootstrap_method,
            **common,
        )
    # Parametric: lognormal moments of the core assets estimated on their common history;
    # the crypto asset (NaN before its data) is left out.
    core = shared.history[[d.equity, d.bonds, d.cash, "cpi"]]
    return parametric(core, assets[:3], task.n_scenarios, task.n_periods, rng=rng)


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
    chunks: tuple[tuple[int, Any], ...]  # (size, seed or rows)
    n_periods: int


class _Planner:
    """Cuts every scenario set into chunks once (seeds, rows, block length)."""

    def __init__(self, sweep: Sweep, history: pd.DataFrame) -> None:
        self.sweep = sweep
        self.history = history
        self.ppy = periods_per_year(sweep.study.data.frequency)
        self._cache: dict[tuple[str, int], _SetLayout] = {}
        self.block_length = sweep.study.scenarios.block_length
        if self.block_length is None and "bootstrap" in sweep.sets:
            d = sweep.study.data
            core = history[[d.equity, d.bonds, d.cash, "cpi"]].to_numpy()
            self.block_length = default_block_length(core, sweep.study.scenarios.bootstrap_method)

    def layout(self, kind: str, n_periods: int, n_max: int) -> _SetLayout:
        """Chunks of set ``kind``; random sets are drawn ``n_max`` periods long (CRN)."""
        key = (kind, n_periods if kind == "historical" else n_max)
        if key not in self._cache:
            cs = self.sweep.chunk_size
            if kind == "historical":
                n = _cohorts(Shared(self.history, self.sweep.study), n_periods).n_scenarios
                chunks = tuple((min(cs, n - a), (a, min(a + cs, n))) for a in range(0, n, cs))
                self._cache[key] = _SetLayout(kind, chunks, n_periods)
            else:
                n = self.sweep.n_scenarios
                index = SET_KINDS.index(kind)
                n_chunks = -(-n // cs)
                root = np.random.SeedSequence((self.sweep.study.seed, 3, index))
                chunks = tuple(
                    (min(cs, n - i * cs), child) for i, child in enumerate(root.spawn(n_chunks))
                )
                self._cache[key] = _SetLayout(kind, chunks, n_max)
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
        out = []
        for size, ref in lay.chunks:
            seed, rows = (None, ref) if kind == "historical" else (ref, None)
            out.append(
                ChunkTask(tuple(pairs), kind, size, lay.n_periods, seed, rows, self.block_length)
            )
        return out


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

    A ruined scenario counts ``1 - S(ruin age)``, ``S`` the survival from the retirement
    age (as in :mod:`backtest.population`), linear between whole ages; others count 1.
    ``ruin_age`` is in years, ``plan.end_age`` where the money lasts.
    """
    start = math.floor(plan.retirement_age)
    n_years = math.ceil(plan.end_age) - start
    curve = survival_curve(
        mortality.sex,  # type: ignore[arg-type]
        mortality.birth_year,
        start,
        n_years,
        mortality.reading,  # type: ignore[arg-type]
    )
    s = np.interp(ruin_age, start + np.arange(n_years + 1), curve)
    ruined = ruin_age < plan.end_age
    return float(np.where(ruined, 1.0 - s, 1.0).mean())


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
    p = float(ok.mean())
    row: dict[str, Any] = {
        "scenarios": kind,
        "n_scenarios": n,
        "success_rate": p,
        # Binomial standard error on the effective number of independent scenarios.
        "success_se": math.sqrt(p * (1 - p) / n_effective(kind, n, n_t)),
        "success_survival_weighted": (
            survival_weighted_success(plan, ruin_age, mortality) if mortality else np.nan
        ),
        "p_ruin": float((ruin >= 0).mean()),
        "shortfall_years": float((plan.end_age - ruin_age).mean()),
        "median_ruin_age": float(np.median(ruin_age[ruin >= 0])) if (ruin >= 0).any() else np.nan,
    }
    for q, v in zip(PERCENTILES, np.percentile(terminal, PERCENTILES), strict=True):
        row[f"terminal_wealth_p{q}"] = float(v)
    row["wealth_at_retirement_p50"] = float(np.median(at_ret))
    return row


# ----------------------------------------------------------------------------- running


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: the tidy table, solve results, where they were written."""

    sweep: Sweep
    table: pd.DataFrame
    solve: pd.DataFrame | None
    out_dir: Path
    n_computed: int
    n_resumed: int
    n_tasks: int


def _point_files(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
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
    check_sweep(sweep)
    backend = backend or backend_for(client, threads=threads)
    out_dir = (
        Path(folder)
        if folder is not None
        else Path(out_root if out_root is not None else sweep.study.output.dir) / sweep.name
    )
    points_dir = out_dir / "points"
    points_dir.mkdir(parents=True, exist_ok=True)
    history = study_history(sweep.study)
    points = grid_points(sweep)
    built = [apply_point(sweep, p) for p in points]
    ppy = periods_per_year(sweep.study.data.frequency)
    n_max = max(plan.check_periods(ppy) for plan, _ in built)
    planner = _Planner(sweep, history)
    shared = Shared(history, sweep.study)
    write_text_atomic(
        out_dir / "settings.json", json.dumps(sweep.settings(), indent=2, default=str)
    )

    keys = [f"{i:05d}-{point_key(sweep, p)}" for i, p in enumerate(points)]
    existing = _point_files(points_dir)
    done = {i for i, k in enumerate(keys) if k in existing}

    # Tasks: blocks of up to points_per_task grid points (in grid order) that share their
    # scenarios, times the chunks of each set; a block's chunk is drawn once per task.
    todo = [i for i in range(len(points)) if i not in done]
    tasks: list[ChunkTask] = []
    owner: list[tuple[tuple[int, ...], int, int]] = []  # (points, set index, chunk index)
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
    expected: dict[int, int] = {}
    for members, _, _ in owner:
        for i in members:
            expected[i] = expected.get(i, 0) + 1
    pending: dict[int, dict[tuple[int, int], ChunkOutcome]] = {i: {} for i in expected}

    bar = _bar(len(tasks), progress, f"sweep {sweep.name}")
    results = backend.map_unordered(run_chunk, tasks, shared)
    try:
        for t, outcomes in results:
            members, s, c = owner[t]
            bar.update(1)
            for i, outcome in zip(members, outcomes, strict=True):
                pending[i][(s, c)] = outcome
            for i in members:
                if len(pending[i]) < expected[i]:
                    continue
                rows = []
                plan = built[i][0]
                for s_idx, kind in enumerate(sweep.sets):
                    chunks = [pending[i][k] for k in sorted(pending[i]) if k[0] == s_idx]
                    rows.append(
                        summarise(plan, kind, chunks, sweep.study.data.frequency, sweep.mortality)
                    )
                record = {
                    "index": i,
                    "point": {k: _plain(v) for k, v in points[i].items()},
                    "strategy": built[i][1].name,
                    "rows": rows,
                }
                write_text_atomic(points_dir / f"{keys[i]}.json", json.dumps(record, indent=1))
                existing[keys[i]] = record
                del pending[i]
                if on_point is not None:
                    on_point(i)
    finally:
        bar.close()
        # An interrupted sweep stops its backend now (Dask cancels what is queued).
        close = getattr(results, "close", None)
        if close is not None:
            close()

    table = _table(sweep, points, [existing[k] for k in keys])
    write_text_atomic(out_dir / "sweep.csv", table.to_csv(index=False))
    solve_table = None
    if sweep.solve is not None:
        solve_table = solve_sweep(
            sweep, backend, planner, shared, n_max, out_dir / "solve", progress
        )
        write_text_atomic(out_dir / "solve.csv", solve_table.to_csv(index=False))
    if charts:
        from backtest.report.sweep import write_sweep_charts

        axes = [a.field for a in sweep.axes]
        solve_axes = [a for a in axes if sweep.solve is None or a != sweep.solve.field]
        write_sweep_charts(table, axes, out_dir, solve=solve_table, solve_axes=solve_axes)
    return SweepResult(
        sweep=sweep,
        table=table,
        solve=solve_table,
        out_dir=out_dir,
        n_computed=len(expected),
        n_resumed=len(done),
        n_tasks=len(tasks),
    )


def _table(sweep: Sweep, points: list[dict[str, Any]], records: Iterable[dict]) -> pd.DataFrame:
    rows = []
    for rec in records:
        for r in rec["rows"]:
            rows.append(
                {"point": rec["index"], **rec["point"], "strategy_name": rec["strategy"], **r}
            )
    return pd.DataFrame(rows)


def _bar(total: int, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled or total == 0, desc=desc, unit="task")


# ----------------------------------------------------------------------------- solve-for


def solve_sweep(
    sweep: Sweep,
    backend: Backend,
    planner: _Planner,
    shared: Shared,
    n_max: int,
    folder: Path,
    progress: bool = True,
) -> pd.DataFrame:
    """At every point of the other axes, the value of ``[sweep.solve].field`` that reaches
    the target; each answer is written atomically to ``folder`` and reused by a rerun."""
    spec = sweep.solve
    assert spec is not None
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
            write_text_atomic(folder / f"{key}.json", json.dumps(row, indent=1))
            existing[key] = row
        rows.append(existing[key])
    return pd.DataFrame(rows)


def tqdm_iter(items: list[Any], enabled: bool, desc: str) -> Iterable[Any]:
    """``items`` with a progress bar when ``enabled``."""
    from tqdm.auto import tqdm

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
    n = sum(size for size, _ in lay.chunks)
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
