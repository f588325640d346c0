"""The ``glidelab simulate`` and ``glidelab validate`` commands end to end (small runs)."""

from __future__ import annotations

import json

import pandas as pd

from optimize.cli import main


def test_simulate_writes_csv_and_json(tmp_path, capsys) -> None:
    args = ["simulate", "--mix", "us_stocks=0.6,corp_aaa=0.4", "--n", "300", "--seed", "3"]
    args += ["--chunk-size", "128", "--out", str(tmp_path), "--name", "run"]
    assert main(args) == 0
    table = pd.read_csv(tmp_path / "run.csv")
    record = json.loads((tmp_path / "run.json").read_text())
    stats = dict(zip(table.statistic, table.value, strict=True))
    assert stats["n_scenarios"] == 300 and 0 <= stats["success_rate"] <= 1
    assert stats["terminal_wealth_real_p5"] <= stats["terminal_wealth_real_p95"]
    assert record["settings"]["seed"] == 3 and record["scenarios"]["meta"]["n_chunks"] == 3
    assert record["results"]["success_rate"] == stats["success_rate"]
    assert "success" in capsys.readouterr().out
    # Same settings, same numbers.
    assert main(args) == 0
    assert pd.read_csv(tmp_path / "run.csv").equals(table)


def test_simulate_reports_bad_input_as_a_clean_error(tmp_path, capsys) -> None:
    assert main(["simulate", "--mix", "us_stocks", "--out", str(tmp_path)]) == 2
    assert "NAME=WEIGHT" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_validate_trinity_writes_the_comparison(tmp_path, capsys) -> None:
    assert main(["validate", "trinity", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "trinity.csv")
    assert len(table) == 36
    md = (tmp_path / "trinity.md").read_text()
    assert "mean |ours - published|" in md and "Cooley" in md
    assert "wrote" in capsys.readouterr().out
