"""The study's sections: the evaluation, the optimiser, the tear sheet, the population and
the validation, each run alone and through ``glidelab run``'s pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from backtest.trinity import TrinitySettings
from glidelab.context import StudyContext
from glidelab.run import run_study
from glidelab.sections import (
    OPTIMISED,
    Crypto,
    Evaluation,
    Optimised,
    Optimiser,
    Population,
    Tearsheet,
    Validation,
    study_pipeline,
)
from glidelab.study import CryptoConfig, Study, StudyFile, parse_study

RAW: dict[str, Any] = {
    "study": {"name": "sections", "seed": 3},
    "data": {"frequency": "annual", "start": 1960},
    "scenarios": {"historical": True, "bootstrap_n": 60},
    "plans": [
        {
            "name": "retiree",
            "start_age": 65,
            "retirement_age": 65,
            "end_age": 85,
            "initial_balance": 1_000_000,
            "withdrawal": {"rule": "constant_real", "rate": 0.045},
        }
    ],
    "strategies": {"presets": ["fixed_60_40"]},
    "optimize": {"plan": "retiree", "n_scenarios": 60, "holdout_n": 60, "max_iterations": 2},
    "output": {"tearsheet": False, "population": False},
}


@pytest.fixture(scope="module")
def study() -> Study:
    return parse_study(RAW)


@pytest.fixture(scope="module")
def optimised(study: Study) -> Optimised:
    return Optimiser().run(StudyContext(study))


def test_optimiser_writes_its_files_and_one_line(optimised: Optimised, tmp_path: Path) -> None:
    assert optimised.plan == "retiree"
    Optimiser().write(optimised, tmp_path / "optimize")
    names = sorted(p.name for p in (tmp_path / "optimize").iterdir())
    assert names == [
        "comparison.csv",
        "comparison.md",
        "glide_path.csv",
        "glide_path.png",
        "income.csv",
        "iterations.csv",
    ]
    line = Optimiser().summary(optimised)
    assert line.count("\n") == 2 and "plan 'retiree'" in line
    assert f"{100 * optimised.search.result.success_in_sample:.1f} % in sample" in line


def test_evaluation_takes_the_optimised_path_as_input(
    study: Study, optimised: Optimised, tmp_path: Path
) -> None:
    ctx = StudyContext(study)
    alone = Evaluation().run(ctx)
    with_path = Evaluation(optimised).run(ctx)
    assert set(alone.table.strategy) == {"fixed_60_40"}
    assert set(with_path.table.strategy) == {"fixed_60_40", OPTIMISED}
    # The same scenarios for the strategies both evaluated: the optimiser draws its own.
    pd.testing.assert_frame_equal(
        alone.table, with_path.table[with_path.table.strategy != OPTIMISED].reset_index(drop=True)
    )
    section = Evaluation(optimised)
    section.write(with_path, tmp_path / section.folder)  # the study's folder itself
    assert pd.read_csv(tmp_path / "success.csv").shape[0] == len(with_path.table)
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["seed"] == 3
    assert settings["scenarios"]["retiree"]["block bootstrap"]["n"] == 60
    text = section.summary(with_path)
    assert text.startswith("# glidelab study: sections\n")
    assert f"| {OPTIMISED} |" in text


def test_tearsheet_reads_the_evaluations_sets_and_the_optimised_path(
    study: Study, optimised: Optimised
) -> None:
    ctx = StudyContext(study)
    sets = Evaluation(optimised).run(ctx).sets_by_plan
    (page,) = Tearsheet(optimised, sets_by_plan=sets).run(ctx).pages
    assert page.key == "retiree" and OPTIMISED in page.strategy_names
    assert page.fans and page.cohorts is not None
    (drawn,) = Tearsheet(optimised).run(ctx).pages  # the same named sets, drawn again
    pd.testing.assert_frame_equal(page.metrics, drawn.metrics)
    # The sets it is given are the sets it simulates: cohorts only, so no fan chart.
    cohorts = {"retiree": {"historical cohorts": sets["retiree"]["historical cohorts"]}}
    (only,) = Tearsheet(optimised, sets_by_plan=cohorts).run(ctx).pages
    assert only.fans == () and only.cohorts is not None
    (bare,) = Tearsheet(simulate_plans=False).run(ctx).pages
    assert bare.cohorts is None and OPTIMISED not in bare.strategy_names
    assert Tearsheet().summary(Tearsheet(simulate_plans=False).run(ctx)) == ""


def test_pipeline_follows_the_output_and_crypto_tables(study: Study) -> None:
    ctx = StudyContext(study)
    assert [type(s) for s in study_pipeline(ctx, None, {}, {})] == [Validation]
    full = StudyContext(parse_study({**RAW, "output": {"tearsheet": True, "population": True}}))
    kinds = [type(s) for s in study_pipeline(full, None, {}, {}, CryptoConfig(plan="retiree"))]
    assert kinds == [Tearsheet, Crypto, Validation, Population]


def test_validation_writes_under_its_settings(study: Study, tmp_path: Path) -> None:
    section = Validation(TrinitySettings(timing="start"))
    table = section.run(StudyContext(study))
    section.write(table, tmp_path)
    assert "start" in (tmp_path / "trinity.md").read_text()
    split = Validation().run(StudyContext(study))
    assert not table["ours_pct"].equals(split["ours_pct"])  # the setting reached the engine


def test_run_study_is_the_concatenation_of_the_sections(
    study: Study, optimised: Optimised, tmp_path: Path
) -> None:
    res = run_study(StudyFile(study), tmp_path, progress=False)
    ctx = StudyContext(study)
    evaluated = Evaluation(optimised).run(ctx)
    pd.testing.assert_frame_equal(res.success, evaluated.table)
    head = Evaluation().summary(evaluated) + Optimiser().summary(optimised)
    validation = Validation().summary(Validation().run(ctx))
    assert res.summary.startswith(head + validation)
    assert (tmp_path / "sections" / "summary.md").read_text() == res.summary
    # A bare Study runs the same sections.
    bare = run_study(study, tmp_path / "bare", progress=False)
    assert bare.summary == res.summary


def test_population_is_the_design_section_in_memory(study: Study, tmp_path: Path) -> None:
    from glidelab.design import DesignSection, population_study

    section = Population()
    outcome = section.run(StudyContext(study))
    assert outcome.out_dir is None  # computed in memory: nothing staged on disk
    assert not any(tmp_path.iterdir())
    alone = DesignSection(population_study(study.seed)).run()
    pd.testing.assert_frame_equal(outcome.scores, alone.scores, check_exact=True)
    section.write(outcome, tmp_path / section.folder)
    assert (tmp_path / "population" / "scores.csv").stat().st_size > 0
    assert "## Fund design for a population (population/)" in section.summary(outcome)


def test_run_study_refuses_feature_tables_on_a_fund_design_file(tmp_path: Path) -> None:
    from backtest.errors import StudyError
    from glidelab.study import load_study

    with pytest.raises(StudyError, match="fund-design file"):
        run_study(load_study("target_date_2060"), tmp_path, crypto=CryptoConfig(plan="x"))
    assert not any(tmp_path.iterdir())  # refused before anything is written
