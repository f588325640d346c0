"""``[sweep]``: a grid of plan/strategy settings and solve-for, over the study's scenarios.

``[sweep]`` names the plan, the strategy, the scenario sets and their size; ``[sweep.grid]``
holds ``field = [values]`` for each swept field (:data:`FIELDS`); ``[sweep.solve]`` a
field to solve for a target success rate (a decimal); ``[sweep.mortality]`` whose lifetime
weights success. Read into a frozen :class:`Sweep` over the already-read :class:`Study`;
:func:`quick_sweep` is the ``--quick`` variant (``glidelab.sweep`` runs it).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from backtest.errors import StudyError
from glidelab.studyfile.compute import ComputeConfig
from glidelab.studyfile.core import Study
from glidelab.studyfile.plans import Mortality
from glidelab.studyfile.tables import Table, defaults

__all__ = [
    "FIELDS",
    "PLAN_FIELDS",
    "SET_KINDS",
    "Axis",
    "SolveSpec",
    "Sweep",
    "check_sweep_field",
    "parse_sweep_table",
    "quick_sweep",
]

SET_KINDS = ("historical", "bootstrap", "parametric")
PLAN_FIELDS = (
    "start_age",
    "retirement_age",
    "end_age",
    "initial_balance",
    "expense_ratio",
    "transaction_cost_bps",
)
#: The fields a ``[sweep.grid]`` may sweep (see ``glidelab.sweep``).
FIELDS = (
    *(f"plan.{f}" for f in PLAN_FIELDS),
    "plan.withdrawal.<field>",
    "plan.contributions.<field>",
    "strategy",
    "equity_share",
    "crypto_sleeve",
    "strategy.<field>",
)


@dataclass(frozen=True)
class SolveSpec:
    """Solve for ``field`` in ``[lo, hi]`` reaching ``target`` success (a decimal rate) on
    one scenario set, with a ``confidence`` interval from the sampling error."""

    field: str
    lo: float
    hi: float
    scenarios: str
    target: float = 0.9
    integer: bool = False
    confidence: float = 0.95
    per_round: int = 7


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
    solve: SolveSpec | None
    compute: ComputeConfig
    chunk_size: int = 5000
    points_per_task: int = 10
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


def check_sweep_field(name: str, where: str) -> None:
    """Raise a :class:`StudyError` unless ``name`` is a sweepable field (``FIELDS``)."""
    head, _, rest = name.partition(".")
    ok = (
        name in ("strategy", "equity_share", "crypto_sleeve")
        or (head == "plan" and rest in PLAN_FIELDS)
        or (name.startswith(("plan.withdrawal.", "plan.contributions.")) and name.count(".") == 2)
        or (head == "strategy" and rest and "." not in rest)
    )
    if not ok:
        raise StudyError(f"{where}: {name!r} is not a sweepable field; use one of {list(FIELDS)}")


def _grid(t: Table) -> tuple[Axis, ...]:
    grid_raw = t.raw.get("grid", {})
    t.seen.add("grid")
    if not isinstance(grid_raw, dict):
        raise StudyError("[sweep.grid] must be a table: field = [values]")
    axes = []
    for name, values in grid_raw.items():
        check_sweep_field(name, "[sweep.grid]")
        if not isinstance(values, list) or not values:
            raise StudyError(f"[sweep.grid].{name!r} = {values!r}; expected a non-empty list")
        if len({json.dumps(v) for v in values}) != len(values):
            raise StudyError(f"[sweep.grid].{name!r} has repeated values {values}")
        axes.append(Axis(name, tuple(values)))
    if "equity_share" in grid_raw and "strategy" in grid_raw:
        raise StudyError("[sweep.grid]: equity_share and strategy both choose the strategy")
    return tuple(axes)


def _solve(s: Table, sets: tuple[str, ...]) -> SolveSpec:
    ds = defaults(SolveSpec)
    field_name = s.string("field", None)
    check_sweep_field(field_name, "[sweep.solve].field")
    solve = SolveSpec(
        field=field_name,
        lo=s.number("lo", None),
        hi=s.number("hi", None),
        target=s.number("target", ds["target"], 0, 1),
        scenarios=s.string("scenarios", sets[-1], sets),
        integer=s.boolean("integer", ds["integer"]),
        confidence=s.number("confidence", ds["confidence"], 0.5, 0.999),
        per_round=s.integer("per_round", ds["per_round"], lo=1),
    )
    if field_name == "strategy":
        raise StudyError("[sweep.solve].field must be numeric, not 'strategy'")
    return solve


def parse_sweep_table(raw: object, study: Study) -> Sweep:
    """Validate a ``[sweep]`` table over ``study`` (the rest of the file, already read)."""
    t = Table(raw, "[sweep]")
    d = defaults(Sweep)
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
    chunk = t.integer("chunk_size", d["chunk_size"], lo=1)
    per_task = t.integer("points_per_task", d["points_per_task"], lo=1)
    axes = _grid(t)
    solve = _solve(t.table("solve"), sets) if "solve" in t.raw else None
    mortality = None
    if "mortality" in t.raw:
        m = t.table("mortality")
        mortality = Mortality(
            sex=m.choice("sex", None, ("male", "female")),
            birth_year=m.integer("birth_year", None, lo=1900),
            reading=m.choice("reading", Mortality.reading, ("cohort", "period")),
        )
    t.done()
    if not axes and solve is None:
        raise StudyError("[sweep.grid] is empty; give at least one field = [values]")
    return Sweep(
        study=study,
        plan=plan,
        strategy=strategy,
        axes=axes,
        sets=sets,
        n_scenarios=n_scen,
        chunk_size=chunk,
        points_per_task=per_task,
        solve=solve,
        compute=study.compute,
        mortality=mortality,
    )


def quick_sweep(sweep: Sweep) -> Sweep:
    """``--quick`` of a sweep: at most 300 scenarios per random set in chunks of at most
    300, and at most three values per axis (first, middle, last). The study itself is
    shrunk by the caller (:func:`quick_study`)."""
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
