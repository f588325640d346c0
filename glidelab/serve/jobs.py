"""Long jobs of the page (the optimiser, the adaptive policy, the fund-design frontier, the
tear sheet) in a child process.

A job runs in its own process (``spawn``), so the server's event loop never waits on it
and cancelling is immediate (the process is terminated). The page polls :meth:`Job.poll`
from a periodic callback. Jobs take the view's study as its raw mapping (plain data) and
validate it again in the child with the same schema.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

_CTX = mp.get_context("spawn")


def optimise(raw: dict[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...], float]:
    """Run the study's glide-path search; return (years to retirement, equity shares,
    held-out success) of the optimised path."""
    from glidelab.search import run_search  # lazy: heavy, in the job's process only
    from glidelab.study import parse_study  # lazy: heavy, in the job's process only

    run = run_search(parse_study(raw, "glidelab serve"), progress=False)
    gp = run.result.glide_path
    eq = tuple(float(w[0]) for w in gp.weights)
    out = run.result.success_out_of_sample
    ytr = tuple(float(k) for k in gp.knots_years_to_retirement)
    return ytr, eq, float("nan") if out is None else float(out)


@dataclass(frozen=True)
class AdaptiveView:
    """The adaptive policy of the page's member.

    Attributes
    ----------
    png
        The policy map by age and real wealth, its wealth axis scaled to the simulated
        wealth (1.3 x the 90th percentile, as the tear sheet draws it), not to the
        solver's grid.
    policy
        The solved policy (a strategy): the page scores it on its own scenarios, so its
        figures sit beside the results table's on the same scenario set.
    own_set, own_n, own_rows
        The solver's own held-out set (annual, drawn from its own seed stream: not the
        page's scenarios), its size and (name, success, standard error) of each strategy
        there, the policy first, as ``glidelab run`` reports them.
    """

    png: bytes
    policy: Any
    own_set: str
    own_n: int
    own_rows: list[tuple[str, float, float]]


def adaptive(raw: dict[str, Any]) -> AdaptiveView:
    """Solve the adaptive glide path as ``glidelab run`` does (``[optimize] adaptive``)."""
    from backtest.report.policy_map import (  # lazy: heavy, in the job's process only
        WealthBand,
        policy_map_png,
    )
    from glidelab.adaptive import study_adaptive_runs  # lazy: heavy, in the job's process only
    from glidelab.study import parse_study  # lazy: heavy, in the job's process only

    study = parse_study(raw, "glidelab serve")
    (run,) = study_adaptive_runs(study).values()
    band = WealthBand(*run.band, label="simulated")
    # by wealth, to 1.3 x the simulated 90th percentile (the solver's grid runs far above
    # any wealth the member reaches, and the funded ratio explodes near the end age)
    png = policy_map_png(run.solved.policy, (study.data.equity,), band=band, axis="wealth")
    label = (
        "block bootstrap" if "block bootstrap" in run.evaluations else next(iter(run.evaluations))
    )
    ev = run.evaluations[label]
    rows = [(r.name, float(r.success), float(r.success_se)) for r in ev.rows]
    return AdaptiveView(png, run.solved.policy, label, int(ev.n_scenarios), rows)


@dataclass(frozen=True)
class FrontierView:
    """The fund-design frontier of the 2060 vintage with the page's drawn path on it.

    Attributes
    ----------
    png
        The design report's frontier chart (success vs expected shortfall, presets, the
        designed path and, when scorable, the drawn path placed on it).
    frontier, placed
        The chart's numbers (``glidelab design``'s ``frontier.csv``/``placed.csv``
        columns: success, bpoe, shortfall, median_replacement; decimals, shortfall in
        years of spending), one row per frontier point / placed strategy.
    drawn
        The drawn path's row of ``placed`` as a dict, or ``None`` when it cannot be scored.
    note
        Why the drawn path is not on the chart ("" when it is).
    seed, members, paths
        The design's seed, in-sample member-paths and market paths.
    """

    png: bytes
    frontier: Any
    placed: Any
    drawn: dict[str, float] | None
    note: str
    seed: int
    members: int
    paths: int


def unscorable(strategy: Any) -> str:
    """Why the fund design cannot score ``strategy`` ("" when it can): a shared fund path
    must be static and hold only the design's assets."""
    from glidelab.design import ALL_ASSETS  # lazy: heavy, in the job's process only

    other = [a for a in strategy.assets if a not in ALL_ASSETS]
    if other:
        return (
            f"the drawn path holds {', '.join(other)}, which the fund design does not model "
            f"(it scores {', '.join(ALL_ASSETS)}); set the sleeve to 0 to place it"
        )
    if strategy.depends_on_returns:
        return "the drawn path adapts to returns; a fund's shared glide path must be static"
    return ""


def frontier_study(seed: int) -> Any:
    """The shipped 2060-vintage design study at ``glidelab run``'s small scale
    (:func:`glidelab.design.small`, as its population section) with ``seed``."""
    from glidelab.design import (  # lazy: heavy, in the job's process only
        load_design_study,
        small,
    )

    return dataclasses.replace(
        small(load_design_study("target_date_2060")), name="workbench", seed=int(seed)
    )


def frontier(raw: dict[str, Any]) -> FrontierView:
    """Design the 2060 vintage's frontier (small population, the view's seed) with
    :func:`glidelab.design.run_design` and place the view's drawn path on it, scored on
    the same in-sample member-paths as the presets."""
    import pandas as pd  # lazy: heavy, in the job's process only

    from backtest.report.charts import png_bytes  # lazy: heavy, in the job's process only
    from backtest.report.population import (  # lazy: heavy, in the job's process only
        PopulationReport,
        frontier_chart,
    )
    from glidelab.design import run_design  # lazy: heavy, in the job's process only
    from glidelab.run import strategies_for  # lazy: heavy, in the job's process only
    from glidelab.serve.state import CUSTOM_NAME  # lazy: heavy, in the job's process only
    from glidelab.study import parse_study  # lazy: heavy, in the job's process only

    study = parse_study(raw, "glidelab serve")
    drawn = strategies_for(study)[CUSTOM_NAME]
    note = unscorable(drawn)
    ds = frontier_study(study.seed)
    out = run_design(ds, None, extra=None if note else {CUSTOM_NAME: drawn})
    cols = ["success", "bpoe", "shortfall", "median_replacement"]
    front = pd.DataFrame(
        [[p.success, p.bpoe, p.shortfall_cvar, p.median_replacement] for p in out.frontier],
        index=[f"{i + 1}: {p.objective}" for i, p in enumerate(out.frontier)],
        columns=cols,
    )
    report = PopulationReport(
        title="",
        subtitle="",
        settings=[],
        frontier=front,
        placed=out.placed,
        weights=pd.DataFrame(),
        scores=pd.DataFrame(),
    )
    chart = frontier_chart(report)
    # cast: a cell of the placed table (floats), which pandas-stubs types as any scalar
    row = None if note else {c: float(cast(float, out.placed.loc[CUSTOM_NAME, c])) for c in cols}
    return FrontierView(
        png=png_bytes(chart.figure),
        frontier=front,
        placed=out.placed,
        drawn=row,
        note=note,
        seed=ds.seed,
        members=ds.design.member_paths,
        paths=ds.design.market_paths,
    )


def tearsheet(raw: dict[str, Any], out_dir: str) -> str:
    """Write the tear sheet (HTML, PDF, CSV, JSON) of the view's study; return the folder."""
    from glidelab.run import study_tearsheet  # lazy: heavy, in the job's process only
    from glidelab.study import parse_study  # lazy: heavy, in the job's process only

    return str(study_tearsheet(parse_study(raw, "glidelab serve"), Path(out_dir), progress=False))


_FUNCTIONS: dict[str, Callable[..., object]] = {
    "optimise": optimise,
    "adaptive": adaptive,
    "frontier": frontier,
    "tearsheet": tearsheet,
}


def _child(name: str, args: tuple[Any, ...], conn: Any) -> None:
    try:
        conn.send(("ok", _FUNCTIONS[name](*args)))
    except Exception as exc:  # sent to the page as a one-line message
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


@dataclass
class Job:
    """A running job: its name, process, pipe and start time."""

    name: str
    process: Any
    conn: Any
    started: float

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def poll(self) -> tuple[str, Any] | None:
        """``("ok", result)`` or ``("error", message)`` once finished, else ``None``."""
        if self.conn.poll():
            try:
                msg = self.conn.recv()
            except EOFError:  # the child died before it could answer
                self.process.join(timeout=5)
                code = self.process.exitcode
                return ("error", f"the {self.name} job stopped (exit code {code})")
            self.process.join(timeout=5)
            return msg
        if not self.process.is_alive():
            return ("error", f"the {self.name} job stopped (exit code {self.process.exitcode})")
        return None

    def cancel(self) -> None:
        """Stop the job now."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=5)
        self.conn.close()


def start(name: str, *args: Any) -> Job:
    """Start job ``name`` (``"optimise"``, ``"adaptive"``, ``"frontier"`` or ``"tearsheet"``)
    with ``args``."""
    parent, child = _CTX.Pipe(duplex=False)
    proc = _CTX.Process(target=_child, args=(name, args, child), daemon=True)
    proc.start()
    child.close()
    return Job(name, proc, parent, time.monotonic())
