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
