"""The design's evidence tables (issues 24, 25): country cohorts, leakage calibration,
sensitivity to member behaviour and payable Social Security, and the scenario sets side by
side, on a design study small enough to run in seconds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.cma import EXAMPLE_PATH, load_cma
from backtest.errors import StudyError
from glidelab.design import (
    DESIGNED,
    RANK_GAMMA,
    DesignOutcome,
    load_design_study,
    parse_design_study,
    run_design,
    small,
    write_design,
)

G = f"gamma={RANK_GAMMA:g}"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[DesignOutcome, Path]:
    st = small(load_design_study("target_date_2060"))
    st = dataclasses.replace(
        st,
        design=dataclasses.replace(st.design, member_paths=300, market_paths=60),
        evaluation=dataclasses.replace(
            st.evaluation,
            members=80,
            bootstrap_paths=10,
            countries=("GBR", "ESP"),  # Spain has no 83-year gap-free run (civil war)
            country_members=20,
        ),
    )
    out = run_design(st, tmp_path_factory.mktemp("design"))
    assert out.out_dir is not None
    return out, out.out_dir


def test_every_evidence_table_is_written_with_its_rows_and_columns(
    run: tuple[DesignOutcome, Path],
) -> None:
    out, folder = run
    strategies = list(out.scores.index)
    for name in ("sensitivity.csv", "evidence.csv"):
        df = pd.read_csv(folder / name, index_col=0)
        assert list(df.index) == strategies, name
        assert any(c.endswith(f"rank by CE {G}") for c in df.columns)
    sens = pd.read_csv(folder / "sensitivity.csv", index_col=0)
    for variant in ("leakage none", "leakage calibrated", "leakage heavy"):
        assert f"{variant}: success SE" in sens.columns
    assert "Social Security payable (0.81 from 2034): success" in sens.columns
    ev = pd.read_csv(folder / "evidence.csv", index_col=0)
    for label in ("US block bootstrap", "US cohorts", "international bootstrap"):
        assert f"{label}: CE {G} - designed (USD/yr)" in ev.columns
    assert "capital-market assumptions: paired SE gamma=5 (USD/yr)" in ev.columns
    html = (folder / "design.html").read_text()
    for title in ("Calibration:", "Sensitivity of the conclusions", "Scenario sets side by side"):
        assert title in html
    assert "an example, not a forecast" in html


def test_sensitivity_under_the_studys_own_assumptions_equals_the_main_scores(
    run: tuple[DesignOutcome, Path],
) -> None:
    out, _ = run
    assert out.evidence is not None
    sens, scores = out.evidence.sensitivity, out.scores
    spec = out.study.population
    social = (
        "Social Security scheduled"
        if spec.ss_payable_ratio >= 1.0
        else f"Social Security payable ({spec.ss_payable_ratio:g} from {spec.ss_depletion_year})"
    )
    for variant in (social, "leakage calibrated"):  # the study's own spec
        # same members (same seed stream), same paths, same code: equal up to float rounding
        np.testing.assert_allclose(
            sens[f"{variant}: success"], scores["bootstrap: success"], rtol=1e-12
        )
        np.testing.assert_allclose(
            sens[f"{variant}: CE {G} (USD/yr)"], scores[f"bootstrap: CE {G} (USD/yr)"], rtol=1e-12
        )
    # payable Social Security lowers income, so the designed path's CE falls
    payable = sens[f"Social Security payable (0.81 from 2034): CE {G} (USD/yr)"]
    assert payable[DESIGNED] < sens[f"Social Security scheduled: CE {G} (USD/yr)"][DESIGNED]
    # the ranks are 1..n at each variant
    n = len(sens)
    for c in (c for c in sens.columns if c.endswith(f"rank by CE {G}")):
        assert sens[c].min() == 1 and sens[c].max() <= n


def test_the_cma_set_has_the_files_moments(run: tuple[DesignOutcome, Path]) -> None:
    out, folder = run
    cma = load_cma(EXAMPLE_PATH)
    assert list(pd.read_csv(folder / "cma.csv", index_col=0).index) == list(cma.assets)
    assert out.evidence is not None
    moments = out.evidence.cma  # unrounded (the CSV keeps 6 significant digits)
    # moment-matched over every scenario-year: exact up to float rounding (1e-9)
    np.testing.assert_allclose(moments["scenarios' mean real return"], cma.mean, atol=1e-9)
    np.testing.assert_allclose(moments["scenarios' volatility"], cma.volatility, atol=1e-9)
    np.testing.assert_allclose(moments["stated mean real return"], cma.mean, atol=0)


def test_spain_is_skipped_with_its_reason(run: tuple[DesignOutcome, Path]) -> None:
    out, folder = run
    table = pd.read_csv(folder / "country_cohorts.csv", index_col=0)
    assert table.loc["ESP", "status"] == "skipped" and table.loc["ESP", "cohorts"] == 0
    assert "no 83 consecutive years" in table.loc["ESP", "reason"]
    assert table.loc["GBR", "status"] == "scored" and table.loc["GBR", "cohorts"] > 0
    assert "ESP" not in out.countries.index and "GBR" in out.countries.index


def test_the_calibration_table_names_its_sources(run: tuple[DesignOutcome, Path]) -> None:
    _, folder = run
    cal = pd.read_csv(folder / "calibration.csv", index_col=0)
    assert {"model", "published", "tolerance", "source", "within"} <= set(cal.columns)
    assert cal["source"].str.len().gt(10).all()
    assert "median cash-out at separation, USD" in cal.index


def test_notes_state_the_conditioning_and_the_calibrated_leakage(
    run: tuple[DesignOutcome, Path], tmp_path: Path
) -> None:
    out, folder = run
    html = (folder / "design.html").read_text()
    assert "members alive at their retirement age" in html
    assert "calibrated leakage" in html and "BLS median tenure" in html
    heavy = dataclasses.replace(
        out,
        study=dataclasses.replace(
            out.study, population=dataclasses.replace(out.study.population, leakage="heavy")
        ),
    )
    write_design(heavy, tmp_path)
    assert "heavy leakage model" in (tmp_path / "design.html").read_text()


def test_a_missing_cma_file_is_refused_at_load_time() -> None:
    with pytest.raises(StudyError, match=r"\[evaluation\]\.cma"):
        parse_design_study({"evaluation": {"cma": "no/such/file.toml"}})
