"""Sections of a study: each feature with the same three verbs.

A section is a small frozen dataclass holding its own settings (its table of the study
file, where it runs, the results of the sections it reads) and answering

* ``run(context) -> result``: the numbers, computed from the study's
  :class:`glidelab.context.StudyContext` (history, named scenario sets, strategies);
  nothing is written;
* ``write(result, folder)``: the result's files into ``folder`` (the caller makes the
  study's folder atomic);
* ``summary(result) -> str``: its paragraph of ``summary.md``.

A section that reads another's result takes it as a field: the scenario evaluation and
the tear sheet take the optimiser's :class:`Optimised`, the tear sheet the adaptive runs,
the evaluation's scenario sets and the crypto research (its answer is a part of the
study's one report book). ``glidelab run`` (:func:`glidelab.run.run_study`)
runs :class:`Optimiser` and :class:`Adaptive` first, then :func:`run_pipeline` over
:func:`study_pipeline` (the crypto research before the tear sheet) and the sections the
file's own tables name
(:func:`file_sections`: the sweep; a fund-design file is its design alone).
``glidelab optimize``, ``glidelab tearsheet``, ``glidelab validate``, ``glidelab
design``, ``glidelab sweep`` and ``glidelab crypto`` run the same sections alone.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import pandas as pd

from backtest.crypto.result import CryptoResearch
from backtest.io import write_text_atomic
from backtest.report.crypto import REPORT_PAGE, crypto_part
from backtest.report.model import TearsheetBook
from backtest.report.tearsheet import write_tearsheet
from backtest.trinity import TrinitySettings, reproduce_trinity, to_markdown
from glidelab.adaptive import (
    AdaptiveRun,
    adaptive_summary,
    study_adaptive_runs,
    with_policy_maps,
    write_adaptive,
)
from glidelab.backends import Backend, InProcess, ordered_map
from glidelab.context import StudyContext
from glidelab.crypto import CryptoStudy, research, write_research
from glidelab.crypto import summary as crypto_summary
from glidelab.design import DesignOutcome, DesignSection, population_study
from glidelab.evaluation import SetsByPlan, evaluate_study, evaluation_summary, settings_record
from glidelab.search import HELD_OUT, SearchRun, SearchSettings, run_search, write_search
from glidelab.study import CryptoConfig, DesignStudy, Study, Sweep
from glidelab.sweep import SweepSection
from glidelab.tearsheet import OPTIMISED as TEARSHEET_OPTIMISED
from glidelab.tearsheet import study_book
from optimize.glidepath import OptimizationResult
from strategies.base import Strategy

R = TypeVar("R")
Log = Callable[[str], None]


def quiet(_: str) -> None:
    """The default log: says nothing."""


class Section(Protocol[R]):
    """One feature of a study (module docstring); ``folder`` is its folder's name in the
    study's output folder."""

    @property
    def folder(self) -> str: ...

    def run(self, context: StudyContext) -> R: ...

    def write(self, result: R, folder: Path) -> None: ...

    def summary(self, result: R) -> str: ...


@dataclass(frozen=True)
class Adaptive:
    """The adaptive glide paths ``[optimize] adaptive = true`` asks for, one per plan
    (``glidelab.adaptive``); an empty result when it is off. The DP solves (chunks of
    wealth nodes) and the constant-mix scoring run on ``backend`` (default in this
    process): the same policies either way."""

    progress: bool = False
    log: Log = quiet
    folder: str = "adaptive"
    backend: Backend | None = None

    def run(self, context: StudyContext) -> dict[str, AdaptiveRun]:
        map_fn = ordered_map(self.backend) if self.backend is not None else None
        return study_adaptive_runs(
            context.study, progress=self.progress, log=self.log, map_fn=map_fn
        )

    def write(self, result: dict[str, AdaptiveRun], folder: Path) -> None:
        for name, run in result.items():
            write_adaptive(run, folder / name)

    def summary(self, result: dict[str, AdaptiveRun]) -> str:
        return adaptive_summary(result)


#: The optimised glide path's name among the study's strategies (success.csv, tear sheet):
#: the tear sheet's one constant.
OPTIMISED = TEARSHEET_OPTIMISED


@dataclass(frozen=True)
class Optimised:
    """The optimiser section's result: the plan it searched and the search
    (:class:`glidelab.search.SearchRun`: the path, its scenarios, the comparison)."""

    plan: str
    search: SearchRun


def _with_optimised(
    strategies: dict[str, Strategy], optimised: Optimised | None
) -> dict[str, Strategy]:
    """The study's strategies with the optimised glide path last, when there is one."""
    if optimised is not None:
        strategies[OPTIMISED] = optimised.search.result.glide_path
    return strategies


@dataclass(frozen=True)
class Optimiser:
    """The SCP glide-path search of the study's ``[optimize]`` table
    (``glidelab.search``), ``settings`` over it; the presets and constant mixes of its
    comparison are scored on ``backend`` (default in this process). Beside the search's
    files it writes income.csv (:func:`income_table`: the objective searched, success and
    the CE of retirement income at gamma 2, 5 and 10 with standard errors), and its
    summary says the same (:func:`income_sentence`)."""

    settings: SearchSettings = field(default_factory=SearchSettings)
    backend: Backend | None = None
    progress: bool = False
    log: Log = quiet
    folder: str = "optimize"

    def run(self, context: StudyContext) -> Optimised:
        study = context.study
        plan = self.settings.plan or study.optimize.plan or study.plans[0].name
        self.log(f"- optimising the glide path of plan {plan!r}")
        map_fn = ordered_map(self.backend) if self.backend is not None else None
        search = run_search(
            study, self.settings, progress=self.progress, map_fn=map_fn, context=context
        )
        return Optimised(plan, search)

    def write(self, result: Optimised, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        write_search(result.search, folder)
        income_table(result.search.result).to_csv(
            folder / "income.csv", index=False, float_format="%.6g"
        )

    def summary(self, result: Optimised) -> str:
        search, r = result.search, result.search.result
        return (
            f"\nOptimised glide path (plan {result.plan!r}): success "
            f"{100 * r.success_in_sample:.1f} % in sample ({search.in_sample.n_scenarios} "
            f"bootstrap scenarios), {100 * (r.success_out_of_sample or 0):.1f} % held out "
            f"({search.holdout.n_scenarios} parametric scenarios, set {HELD_OUT!r} of seed "
            f"{search.seed}). {income_sentence(r)}\n"
        )


def objective_label(r: OptimizationResult) -> str:
    """What the search maximised, in words: success, or CE income under its preferences."""
    if r.objective == "ce" and r.preferences is not None:
        return f"certainty-equivalent income ({r.preferences.label})"
    return "probability of success"


def income_table(r: OptimizationResult) -> pd.DataFrame:
    """income.csv: the optimised path's success (decimal) and certainty-equivalent real
    retirement income (CE and its standard error, real USD a year) at each report risk
    aversion (``backtest.outcomes.RISK_AVERSIONS``), in sample and held out, with the
    objective searched and the income floor (real USD a year)."""
    columns = ["objective", "scenarios", "gamma", "success", "ce", "ce_se", "income_floor"]
    sets = (
        ("in sample", r.success_in_sample, r.ce_by_gamma),
        ("held out", r.success_out_of_sample, r.ce_by_gamma_out_of_sample),
    )
    rows = [
        (objective_label(r), name, g, success, ce, se, r.income_floor)
        for name, success, by_gamma in sets
        for g, (ce, se) in sorted(by_gamma.items())
    ]
    return pd.DataFrame(rows, columns=columns)


def income_sentence(r: OptimizationResult) -> str:
    """One sentence of summary.md: the objective, and the CE at gamma 2, 5 and 10 with its
    standard error (real USD a year), in sample and held out."""
    head = f"Objective: {objective_label(r)}."
    if not r.ce_by_gamma:
        return head + " The plan pays no retirement income, so no CE is reported."

    def figures(by_gamma: Mapping[float, tuple[float, float]]) -> str:
        return ", ".join(f"{ce:,.0f} ± {se:,.0f}" for _, (ce, se) in sorted(by_gamma.items()))

    gammas = "/".join(f"{g:g}" for g in sorted(r.ce_by_gamma))
    text = (
        f"{head} Certainty-equivalent real income at gamma {gammas} (real USD a year, ± one "
        f"standard error; income floor {r.income_floor:,.0f} USD a year): "
        f"{figures(r.ce_by_gamma)} in sample"
    )
    if r.ce_by_gamma_out_of_sample:
        text += f"; {figures(r.ce_by_gamma_out_of_sample)} held out"
    return text + "."


@dataclass(frozen=True)
class Evaluated:
    """The scenario evaluation's result: ``table`` is success.csv (one row per plan,
    strategy and scenario set; success as a decimal, wealth in real USD of the plan's
    start), computed from ``strategies`` on ``sets_by_plan``."""

    study: Study
    history: pd.DataFrame
    strategies: Mapping[str, Strategy]
    sets_by_plan: SetsByPlan
    table: pd.DataFrame


@dataclass(frozen=True)
class Evaluation:
    """Every plan x scenario set x strategy of the study (``glidelab.evaluation``), the
    ``optimised`` glide path among the strategies, simulated on ``backend`` (default in
    this process). Its files, success.csv and settings.json, head the study's folder."""

    optimised: Optimised | None = None
    backend: Backend | None = None
    log: Log = quiet
    folder: str = ""

    def run(self, context: StudyContext) -> Evaluated:
        study = context.study
        strategies = _with_optimised(context.strategies(), self.optimised)
        sets_by_plan = {p.name: context.study_sets(p.plan) for p in study.plans}
        backend = self.backend or InProcess()
        n_sets = sum(len(s) for s in sets_by_plan.values())
        self.log(
            f"- simulating {len(study.plans)} plans: {len(strategies)} strategies on {n_sets} "
            f"scenario sets ({backend.name})"
        )
        table = evaluate_study(study, strategies, sets_by_plan, backend)
        return Evaluated(study, context.history, strategies, sets_by_plan, table)

    def write(self, result: Evaluated, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        result.table.to_csv(folder / "success.csv", index=False, float_format="%.6g")
        settings = settings_record(result.study, result.history, result.sets_by_plan)
        (folder / "settings.json").write_text(
            json.dumps(settings, indent=2, default=str), encoding="utf-8"
        )

    def summary(self, result: Evaluated) -> str:
        return evaluation_summary(result.study, result.table, result.history)


@dataclass(frozen=True)
class Tearsheet:
    """The study's tear sheet, one page per plan (``glidelab.tearsheet``), for ``plans``
    (default every plan): the ``optimised`` glide path beside the study's strategies, each
    ``adaptive`` plan's policy map on its page, simulated on ``sets_by_plan`` (the
    evaluation's, when it ran; else drawn here, or none with ``simulate_plans=False``);
    with the ``crypto`` research, the book's part after the plans is its answer, linked
    to the full crypto report (:data:`CRYPTO_REPORT`). It adds no paragraph to
    summary.md: the tear sheet is its own summary."""

    optimised: Optimised | None = None
    adaptive: Mapping[str, AdaptiveRun] = field(default_factory=dict)
    sets_by_plan: SetsByPlan | None = None
    plans: tuple[str, ...] | None = None
    simulate_plans: bool = True
    title: str | None = None
    log: Log = quiet
    folder: str = "tearsheet"
    crypto: CryptoResearch | None = None

    def _sets(self, context: StudyContext, names: list[str]) -> SetsByPlan:
        if self.sets_by_plan is not None:
            return self.sets_by_plan
        if not self.simulate_plans:
            return {}
        return {n: context.study_sets(context.study.plan(n).plan) for n in names}

    def run(self, context: StudyContext) -> TearsheetBook:
        study = context.study
        names = list(self.plans) if self.plans is not None else [p.name for p in study.plans]
        strategies = _with_optimised(context.strategies(), self.optimised)
        sets = self._sets(context, names)
        self.log("- building the tear sheet, one page per plan (HTML, PDF, CSV, JSON)")
        search = self.optimised.search if self.optimised is not None else None
        book = study_book(
            study, context.history, strategies, sets, plans=names, title=self.title, search=search
        )
        if self.crypto is not None:
            up = "../" * len(Path(self.folder).parts)  # from the book's folder to the study's
            part = crypto_part(self.crypto, up + CRYPTO_REPORT)
            book = dataclasses.replace(book, crypto=part)
        return with_policy_maps(book, dict(self.adaptive))

    def write(self, result: TearsheetBook, folder: Path) -> None:
        write_tearsheet(result, folder)

    def summary(self, result: TearsheetBook) -> str:
        return ""


@dataclass(frozen=True)
class Population:
    """A small fund-design run of the shipped 2060 vintage (``glidelab design`` at reduced
    size, ``[output] population``), seeded by the study's seed: the
    :class:`~glidelab.design.DesignSection` of :func:`glidelab.design.population_study`,
    computed in memory by :meth:`run` and written by :meth:`write`."""

    log: Log = quiet
    folder: str = "population"

    def run(self, context: StudyContext) -> DesignOutcome:
        self.log("- fund design for a small population of the 2060 vintage (glidelab design)")
        return DesignSection(population_study(context.study.seed)).run(context)

    def write(self, result: DesignOutcome, folder: Path) -> None:
        DesignSection(result.study).write(result, folder)

    def summary(self, result: DesignOutcome) -> str:
        """Two sentences on the designed path against the presets (percent)."""
        scores = result.scores["bootstrap: success"]
        designed, presets = scores.iloc[0], scores.iloc[1:]
        return (
            "\n## Fund design for a population (population/)\n\n"
            f"A small {result.study.name} run of the 2060 vintage (`glidelab design` at reduced "
            "size): the shared glide path designed for the members keeps survival-weighted "
            f"success of {100 * designed:.1f} % on a fresh-seed bootstrap, against "
            f"{100 * presets.min():.1f}-{100 * presets.max():.1f} % for the presets "
            f"({', '.join(presets.index)}). Full study: `glidelab design`.\n"
        )


#: The crypto report's page in a study's folder: the :class:`Crypto` section's folder,
#: the report's own folder (``glidelab.crypto.write_research``), its page.
CRYPTO_REPORT = f"crypto/tearsheet/{REPORT_PAGE}"


@dataclass(frozen=True)
class Crypto:
    """The crypto-sleeve research of a ``[crypto]`` table (``glidelab.crypto``), its
    surface's tasks on ``backend`` (default in this process)."""

    config: CryptoConfig
    backend: Backend | None = None
    tearsheet: bool = True
    log: Log = quiet
    folder: str = "crypto"

    def run(self, context: StudyContext) -> CryptoResearch:
        self.log("- crypto-sleeve research ([crypto])")
        return research(CryptoStudy(context.study, self.config), self.log, self.backend)

    def write(self, result: CryptoResearch, folder: Path) -> None:
        write_research(result, folder, self.tearsheet)

    def summary(self, result: CryptoResearch) -> str:
        return "\n## Crypto-sleeve research (crypto/)\n\n" + crypto_summary(result) + "\n"


@dataclass(frozen=True)
class Validation:
    """The Trinity study's success table reproduced cell by cell
    (``backtest.trinity``, under ``settings``); it reads no study setting. Each file is
    written atomically, so ``glidelab validate`` can write into an existing folder."""

    settings: TrinitySettings = field(default_factory=TrinitySettings)
    log: Log = quiet
    folder: str = "validation"

    def run(self, context: StudyContext) -> pd.DataFrame:
        self.log("- reproducing the Trinity study")
        return reproduce_trinity(settings=self.settings)

    def write(self, result: pd.DataFrame, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        csv = result.to_csv(index=False, float_format="%.4f")
        write_text_atomic(folder / "trinity.csv", csv)
        write_text_atomic(folder / "trinity.md", to_markdown(result, self.settings))

    def summary(self, result: pd.DataFrame) -> str:
        gap = result["diff_pp"].abs()
        return (
            "\n## Validation (validation/)\n\n"
            f"The Trinity study's success table, {len(result)} cells reproduced from "
            f"historical cohorts: median difference {gap.median():.1f} pp, largest "
            f"{gap.max():.1f} pp (trinity.md lists each cell and its failed cohorts).\n"
        )


@dataclass(frozen=True)
class Ran(Generic[R]):
    """A section with its result, ready to write and summarise."""

    section: Section[R]
    result: R

    @classmethod
    def of(cls, section: Section[R], context: StudyContext) -> Ran[R]:
        """Run ``section`` on ``context``."""
        return cls(section, section.run(context))

    def write(self, parent: Path) -> None:
        """The section's files into its folder under ``parent``."""
        self.section.write(self.result, parent / self.section.folder)

    def summary(self) -> str:
        return self.section.summary(self.result)


#: A section of any result type with its result: what a study's run holds, in order.
Done = Ran[Any]


def study_sections(
    context: StudyContext,
    crypto: CryptoConfig | None = None,
    *,
    backend: Backend | None = None,
    log: Log = quiet,
) -> list[Section[Any]]:
    """The sections ``glidelab run`` loops over after the evaluation, in order: the
    crypto research (with a ``[crypto]`` table) and the Trinity validation. (The
    adaptive section runs before them: the tear sheet reads its policy maps.)"""
    out: list[Section[Any]] = []
    if crypto is not None:
        out.append(Crypto(crypto, backend, context.study.output.tearsheet, log))
    out.append(Validation(log=log))
    return out


def study_pipeline(
    context: StudyContext,
    optimised: Optimised | None,
    adaptive: Mapping[str, AdaptiveRun],
    sets_by_plan: SetsByPlan,
    crypto: CryptoConfig | None = None,
    *,
    backend: Backend | None = None,
    log: Log = quiet,
) -> list[Section[Any]]:
    """The sections ``glidelab run`` runs after the optimiser, the adaptive paths and the
    evaluation (their results are the arguments), in summary.md's order: the tear sheet
    and the population (as ``[output]`` asks), then :func:`study_sections`. Run them with
    :func:`run_pipeline`: the crypto research first, its answer a part of the tear
    sheet's book."""
    output = context.study.output
    out: list[Section[Any]] = []
    if output.tearsheet:
        out.append(Tearsheet(optimised, adaptive, sets_by_plan, log=log))
    out += study_sections(context, crypto, backend=backend, log=log)
    if output.population:
        out.append(Population(log))
    return out


def run_sections(context: StudyContext, sections: list[Section[Any]]) -> list[Ran[Any]]:
    """Run each section on ``context`` (numbers only), in order."""
    return [Ran.of(s, context) for s in sections]


def run_pipeline(context: StudyContext, sections: list[Section[Any]]) -> list[Ran[Any]]:
    """Run ``sections`` (e.g. :func:`study_pipeline`'s) in their order of need and return
    them in the given order (summary.md's): the crypto research first, then the rest,
    a tear sheet taking the research's result (its book's crypto part)."""
    first = {i: Ran.of(s, context) for i, s in enumerate(sections) if isinstance(s, Crypto)}
    research = next((r.result for r in first.values()), None)

    def ran(s: Section[Any]) -> Ran[Any]:
        if isinstance(s, Tearsheet) and s.crypto is None and research is not None:
            s = dataclasses.replace(s, crypto=research)
        return Ran.of(s, context)

    return [first[i] if i in first else ran(s) for i, s in enumerate(sections)]


def file_sections(
    design: DesignStudy | None = None,
    sweep: Sweep | None = None,
    *,
    backend: Backend | None = None,
    progress: bool = False,
    log: Log = quiet,
) -> list[Section[Any]]:
    """The sections a study file's own feature tables name (:class:`glidelab.study.StudyFile`'s
    ``design`` and ``sweep``): fund design for ``[population]``/``[design]``/``[evaluation]``
    (:class:`DesignSection`, at the top of the study's folder, as ``glidelab design``
    writes it) and the sweep for ``[sweep]`` (:class:`SweepSection`, into ``sweep/``, its
    tasks on ``backend``)."""
    out: list[Section[Any]] = []
    if design is not None:
        out.append(DesignSection(design, folder=""))
    if sweep is not None:
        out.append(SweepSection(sweep, backend, progress, log=log))
    return out
