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
``target_date_2060``) names one section, its design
(:class:`~glidelab.design.DesignSection`): the files ``glidelab design`` writes, at the
top of ``<out>/<name>/``, and summary.md.

Each part is a section of :mod:`glidelab.sections` (``run(context)``, ``write(result,
folder)``, ``summary(result)``): :class:`~glidelab.sections.Optimiser` and
:class:`~glidelab.sections.Adaptive` run first, then the
:class:`~glidelab.sections.Evaluation` (it takes the optimised path), then
:func:`~glidelab.sections.study_pipeline` (tear sheet, crypto, validation, population;
run by :func:`~glidelab.sections.run_pipeline`, the crypto research first: the tear
sheet's book carries its answer as a part, linked to the full crypto report)
and the sections of the file's own tables (:func:`~glidelab.sections.file_sections`: the
sweep); summary.md is their paragraphs in that order, the evaluation's table first.
``glidelab optimize``, ``glidelab tearsheet``, ``glidelab validate``, ``glidelab
design``, ``glidelab sweep`` and ``glidelab crypto`` run the same sections alone.

Where it runs: the scenario evaluation (every plan x scenario set x strategy) and the
optimiser's comparison of presets and constant mixes are independent tasks, run on the
backend of ``[compute]`` (or ``backend=``): in this process by default, or on Dask
(``glidelab.backends``), with the same numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd

from backtest.crypto.result import CryptoResearch
from backtest.errors import StudyError
from backtest.io import atomic_directory
from backtest.plan import Plan
from backtest.scenarios import Scenarios
from glidelab.backends import Backend, compute_backend
from glidelab.context import StudyContext
from glidelab.design import DesignOutcome, DesignSection
from glidelab.evaluation import PERCENTILES, evaluate_study
from glidelab.outputs import check_output_folder
from glidelab.search import SearchRun
from glidelab.sections import (
    Adaptive,
    Done,
    Evaluated,
    Evaluation,
    Log,
    Optimised,
    Optimiser,
    Ran,
    Section,
    Tearsheet,
    file_sections,
    quiet,
    run_pipeline,
    study_pipeline,
)
from glidelab.study import CryptoConfig, CustomGlidePath, Study, StudyFile, Sweep
from glidelab.sweep import SweepResult
from strategies.base import Strategy

__all__ = [
    "PERCENTILES",
    "StudyResult",
    "custom_strategy",
    "evaluate_study",
    "run_section",
    "run_study",
    "scenario_sets",
    "strategies_for",
    "study_history",
    "study_tearsheet",
]


@dataclass(frozen=True)
class StudyResult:
    """What a study produced (numbers; the files are written by :func:`run_study`).

    An ordinary study has its ``study`` and ``success`` (success.csv: success as a
    decimal, wealth in real USD of the plan's start); a fund-design file has neither,
    only ``design``."""

    study: Study | None
    success: pd.DataFrame | None
    search: SearchRun | None
    summary: str
    out_dir: Path  # where the files are (or, with write=False, would be) written
    crypto: CryptoResearch | None = None  # with a [crypto] table
    sweep: SweepResult | None = None  # with a [sweep] table
    design: DesignOutcome | None = None  # a fund-design file
    written: bool = True  # False for run_study(..., write=False): nothing on disk


def study_history(study: Study) -> pd.DataFrame:
    """The study's return history (:attr:`glidelab.context.StudyContext.history`)."""
    return StudyContext(study).history


def strategies_for(study: Study) -> dict[str, Strategy]:
    """The study's presets, crypto sleeves and custom paths, keyed by display name
    (:meth:`glidelab.context.StudyContext.strategies`)."""
    return StudyContext(study).strategies()


def custom_strategy(study: Study, c: CustomGlidePath) -> Strategy:
    """The strategy of the hand-drawn glide path ``c`` on the study's roles
    (:meth:`glidelab.context.StudyContext.strategy`)."""
    return StudyContext(study).custom(c)


def scenario_sets(study: Study, history: pd.DataFrame | None, plan: Plan) -> dict[str, Scenarios]:
    """The study's scenario sets for one plan's horizon
    (:meth:`glidelab.context.StudyContext.study_sets`; ``history``: the study's history,
    when the caller has it already)."""
    return StudyContext.of(study, history).study_sets(plan)


@dataclass(frozen=True)
class _Options:
    """How a study runs: where its tasks go, and what it says while it runs."""

    backend: Backend
    progress: bool
    log: Log


def run_study(
    study: Study | StudyFile,
    out_root: str | Path | None = None,
    *,
    progress: bool = True,
    log: Log = quiet,
    backend: Backend | None = None,
    crypto: CryptoConfig | None = None,
    sweep: Sweep | None = None,
    write: bool = True,
) -> StudyResult:
    """Run every section of ``study`` and write its folder atomically; see the module doc.

    ``study``: a loaded study file of any kind (:func:`glidelab.study.load_study`, its
    ``[crypto]`` and ``[sweep]`` tables included; a fund-design file runs its design) or a
    bare :class:`Study`; ``crypto``, ``sweep`` (a file's ``[crypto]`` and ``[sweep]``
    tables) add to or replace the file's. ``out_root``: default the study's ``[output]
    dir`` (``results`` for a fund-design file). ``backend``: where the tasks run (default:
    the study's ``[compute]``, in this process unless it names a cluster). ``write=False``
    computes every section and returns the numbers without touching the disk (no folder,
    no tear sheet rendered; ``summary`` without its list of files), e.g. in a notebook.
    """
    sf = study if isinstance(study, StudyFile) else StudyFile(study)
    if sf.design is not None and (crypto is not None or sweep is not None):
        raise StudyError(
            f"{sf.name} is a fund-design file; a [crypto] or [sweep] table needs a study with "
            "[[plans]] (drop crypto=/sweep=, or run them on an ordinary study)"
        )
    sf = dataclasses.replace(sf, crypto=crypto or sf.crypto, sweep=sweep or sf.sweep)
    default_root = sf.study.output.dir if sf.study is not None else "results"
    out_dir = Path(out_root if out_root is not None else default_root) / sf.name
    # Everything that can be refused is refused before the long computation starts.
    if write:
        check_output_folder(out_dir, "output folder", "choose another --out or [output] dir")
    if sf.study is None:
        return _write_study(sf, out_dir, _design_file(sf, log), write)
    with _backend_of(sf.study, backend, log) as made:
        opts = _Options(made, progress, log)
        return _write_study(sf, out_dir, _run_sections(sf, sf.study, opts), write)


def _design_file(sf: StudyFile, log: Log) -> list[Done]:
    """A fund-design file's one section (:func:`~glidelab.sections.file_sections`): the
    design draws its own members and history from the design's seed, so it runs without
    a study context."""
    assert sf.design is not None
    log(f"- fund design {sf.design.name}, seed {sf.design.seed}")
    (section,) = file_sections(design=sf.design)
    assert isinstance(section, DesignSection)  # the one section a design file names
    return [Ran(section, section.run())]


@contextmanager
def _backend_of(study: Study, backend: Backend | None, log: Log) -> Iterator[Backend]:
    """``backend``, or the study's ``[compute]`` backend, started and stopped here."""
    if backend is not None:
        yield backend
        return
    with compute_backend(study.compute) as made:
        if study.compute.distributed:
            log(f"- computing on Dask ({_where(study)})")
        yield made


def _where(study: Study) -> str:
    c = study.compute
    if c.scheduler is not None:
        return f"scheduler {c.scheduler}"
    return f"a local cluster of {c.workers} workers x {c.threads_per_worker} threads"


def _run_sections(sf: StudyFile, study: Study, opts: _Options) -> list[Done]:
    """Run the sections in their order of need; return them in summary.md's order: the
    evaluation, the optimiser, the adaptive paths, :func:`~glidelab.sections.study_pipeline`
    and the sections of the file's own tables (the sweep)."""
    opts.log("- loading the embedded history")
    context = StudyContext(study)
    optimiser = Optimiser(backend=opts.backend, progress=opts.progress, log=opts.log)
    optimised = Ran.of(optimiser, context) if study.optimize.enabled else None
    adaptive = Ran.of(Adaptive(backend=opts.backend, progress=opts.progress, log=opts.log), context)
    search = optimised.result if optimised is not None else None
    evaluated = Ran.of(Evaluation(search, opts.backend, opts.log), context)
    pipeline = study_pipeline(
        context,
        search,
        adaptive.result,
        evaluated.result.sets_by_plan,
        sf.crypto,
        backend=opts.backend,
        log=opts.log,
    )
    own = file_sections(sweep=sf.sweep, backend=opts.backend, progress=opts.progress, log=opts.log)
    later = run_pipeline(context, [*pipeline, *own])  # the crypto research before the tear sheet
    return [evaluated, *([optimised] if optimised is not None else []), adaptive, *later]


def _write_study(sf: StudyFile, out_dir: Path, ran: list[Done], write: bool) -> StudyResult:
    """Write every section's files and summary.md (their paragraphs, then the list of
    files) into ``out_dir``, atomically; with ``write`` False only gather the results."""
    summary = "".join(r.summary() for r in ran)
    if write:
        with atomic_directory(out_dir) as tmp:
            for r in ran:
                r.write(tmp)
            files = sorted(p.name + ("/" if p.is_dir() else "") for p in tmp.iterdir())
            summary += "\nFiles: " + ", ".join(files) + ".\n"
            (tmp / "summary.md").write_text(summary, encoding="utf-8")  # last: lists the rest
    evaluated = _first(ran, Evaluated)
    optimised = _first(ran, Optimised)
    return StudyResult(
        sf.study,
        evaluated.table if evaluated is not None else None,
        optimised.search if optimised is not None else None,
        summary,
        out_dir,
        _first(ran, CryptoResearch),
        _first(ran, SweepResult),
        _first(ran, DesignOutcome) if sf.design is not None else None,
        written=write,
    )


R = TypeVar("R")


def _first(ran: list[Done], kind: type[R]) -> R | None:
    """The first result of type ``kind`` among the sections that ran."""
    return next((r.result for r in ran if isinstance(r.result, kind)), None)


def run_section(section: Section[R], context: StudyContext, out_dir: str | Path) -> R:
    """Run one section alone on ``context`` and write its files into ``out_dir``
    atomically (checked before the computation starts): what a subcommand such as
    ``glidelab crypto`` does with the section ``glidelab run`` loops over."""
    out = check_output_folder(out_dir, "output folder", "choose another --out")
    result = section.run(context)
    with atomic_directory(out) as tmp:
        section.write(result, tmp)
    return result


def study_tearsheet(
    study: Study,
    out_dir: str | Path,
    *,
    plans: Sequence[str] | None = None,
    search: SearchRun | None = None,
    simulate_plans: bool = True,
    title: str | None = None,
    progress: bool = True,
    log: Log = quiet,
) -> Path:
    """Write only the tear sheet of ``study`` into ``out_dir``, atomically.

    The tear-sheet section of ``glidelab run`` (:class:`glidelab.sections.Tearsheet`),
    for ``plans`` (default: every plan). The optimised glide path is included when the
    study enables the optimiser (run here unless ``search`` gives its result);
    ``simulate_plans=False`` leaves out the simulated sections.
    """
    out = check_output_folder(out_dir, "tear sheet folder", "choose another --out")
    log("- loading the embedded history")
    context = StudyContext(study)
    optimised = _optimised(context, search, progress, log)
    section = Tearsheet(
        optimised,
        plans=tuple(plans) if plans is not None else None,
        simulate_plans=simulate_plans,
        title=title,
        log=log,
    )
    section.write(section.run(context), out)
    return out


def _optimised(
    context: StudyContext, search: SearchRun | None, progress: bool, log: Log
) -> Optimised | None:
    """The optimiser's result: ``search`` when given, else the study's search when its
    ``[optimize]`` table enables it, else none."""
    study = context.study
    if search is not None:
        return Optimised(study.optimize.plan or study.plans[0].name, search)
    if not study.optimize.enabled:
        return None
    return Optimiser(progress=progress, log=log).run(context)
