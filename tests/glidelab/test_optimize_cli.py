"""Tests of ``glidelab optimize``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def test_cli_writes_glide_path_and_comparison(tmp_path: Path) -> None:
    from glidelab.cli import main

    out = tmp_path / "opt"
    code = main(
        [
            "optimize",
            "--n-scenarios",
            "120",
            "--holdout-n",
            "100",
            "--max-iterations",
            "2",
            "--no-progress",
            "--no-tearsheet",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    weights = pd.read_csv(out / "glide_path.csv")
    assert list(weights.columns) == ["age", "years_to_retirement", "us_stocks", "tbonds_10y"]
    assert len(weights) == 70
    np.testing.assert_allclose(weights[["us_stocks", "tbonds_10y"]].sum(axis=1), 1.0, atol=1e-5)
    table = pd.read_csv(out / "comparison.csv")
    assert table["strategy"].iloc[0] == "optimised (SCP)"
    assert (out / "glide_path.png").read_bytes()[:4] == b"\x89PNG"
    assert "| optimised (SCP) |" in (out / "comparison.md").read_text()


def test_cli_bad_bound_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from glidelab.cli import main

    code = main(["optimize", "--lower", "us_stocks", "--out", str(tmp_path), "--no-progress"])
    assert code == 2
    assert "ASSET=WEIGHT" in capsys.readouterr().err


SMALL_STUDY = """
[study]
name = "opt"
seed = 5
[data]
start = 1960
[scenarios]
bootstrap_n = 60
[[plans]]
name = "retiree"
start_age = 65
retirement_age = 65
end_age = 85
initial_balance = 1000000
withdrawal = { rule = "constant_real", rate = 0.045 }
[[plans]]
name = "other"
start_age = 60
retirement_age = 60
end_age = 80
initial_balance = 500000
[strategies]
presets = ["fixed_60_40"]
[optimize]
plan = "retiree"
n_scenarios = 60
holdout_n = 60
max_iterations = 2
"""


def test_cli_tearsheet_is_the_studys_page_of_the_optimised_plan(tmp_path: Path) -> None:
    import json

    from glidelab.cli import main

    study = tmp_path / "opt.toml"
    study.write_text(SMALL_STUDY)
    out = tmp_path / "opt"
    assert main(["optimize", "--study", str(study), "--no-progress", "--out", str(out)]) == 0
    payload = json.loads((out / "tearsheet" / "metrics.json").read_text())
    # The study's pipeline, for the optimised plan only, with the optimised path beside
    # the study's strategies.
    assert [p["plan"] for p in payload["plans"]] == ["retiree"]
    assert {r["strategy"] for r in payload["metrics"]} == {"Fixed 60/40", "optimised glide path"}
    html = (out / "tearsheet" / "tearsheet.html").read_text()
    assert 'id="plan-retiree-chart-fan"' in html
    assert not list(tmp_path.glob(".opt*"))  # written atomically, nothing left beside it


def test_optimize_and_run_find_the_same_path_for_the_same_study_and_seed(tmp_path: Path) -> None:
    from glidelab.cli import main

    study = tmp_path / "opt.toml"
    study.write_text(SMALL_STUDY + "[output]\ntearsheet = false\npopulation = false\n")
    assert main(["run", str(study), "--quiet", "--out", str(tmp_path / "run")]) == 0
    opt = ["optimize", str(study), "--no-progress", "--no-tearsheet", "--out"]
    assert main([*opt, str(tmp_path / "opt")]) == 0
    ran = tmp_path / "run" / "opt" / "optimize"
    for name in ("glide_path.csv", "comparison.csv"):
        assert (ran / name).read_bytes() == (tmp_path / "opt" / name).read_bytes(), name
    # Another seed finds another path, so the comparison above can fail.
    assert main([*opt, str(tmp_path / "other"), "--seed", "6"]) == 0
    assert (ran / "comparison.csv").read_bytes() != (
        tmp_path / "other" / "comparison.csv"
    ).read_bytes()
