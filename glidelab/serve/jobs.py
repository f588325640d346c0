"""Long jobs of the page (the optimiser, the tear sheet) in a child process.

A job runs in its own process (``spawn``), so the server's event loop never waits on it
and cancelling is immediate (the process is terminated). The page polls :meth:`Job.poll`
from a periodic callback. Jobs take the view's study as its raw mapping (plain data) and
validate it again in the child with the same schema.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CTX = mp.get_context("spawn")


def optimise(raw: dict[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...], float]:
    """Run the study's glide-path search; return (years to retirement, equity shares,
    held-out success) of the optimised path."""
    from glidelab.search import run_search
    from glidelab.study import parse_study

    run = run_search(parse_study(raw, "glidelab serve"), progress=False)
    gp = run.result.glide_path
    eq = tuple(float(w[0]) for w in gp.weights)
    out = run.result.success_out_of_sample
    ytr = tuple(float(k) for k in gp.knots_years_to_retirement)
    return ytr, eq, float("nan") if out is None else float(out)


def adaptive(raw: dict[str, Any]) -> tuple[bytes, str, int, list[tuple[str, float, float]]]:
    """Solve the adaptive glide path as ``glidelab run`` does (``[optimize] adaptive``);
    return its policy map (PNG), the scenario set it is scored on, that set's size and
    (name, success, standard error) of each strategy there, the policy first."""
    from backtest.report.policy_map import policy_map_png
    from glidelab.adaptive import study_adaptive_runs
    from glidelab.study import parse_study

    study = parse_study(raw, "glidelab serve")
    (run,) = study_adaptive_runs(study).values()
    png = policy_map_png(run.solved.policy, (study.data.equity,))
    label = (
        "block bootstrap" if "block bootstrap" in run.evaluations else next(iter(run.evaluations))
    )
    ev = run.evaluations[label]
    rows = [(r.name, float(r.success), float(r.success_se)) for r in ev.rows]
    return png, label, int(ev.n_scenarios), rows


def tearsheet(raw: dict[str, Any], out_dir: str) -> str:
    """Write the tear sheet (HTML, PDF, CSV, JSON) of the view's study; return the folder."""
    from glidelab.run import study_tearsheet
    from glidelab.study import parse_study

    return str(study_tearsheet(parse_study(raw, "glidelab serve"), Path(out_dir), progress=False))


_FUNCTIONS = {"optimise": optimise, "adaptive": adaptive, "tearsheet": tearsheet}


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
            return msg  # type: ignore[no-any-return]
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
    """Start job ``name`` (``"optimise"``, ``"adaptive"`` or ``"tearsheet"``) with ``args``."""
    parent, child = _CTX.Pipe(duplex=False)
    proc = _CTX.Process(target=_child, args=(name, args, child), daemon=True)
    proc.start()
    child.close()
    return Job(name, proc, parent, time.monotonic())
