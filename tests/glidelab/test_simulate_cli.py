"""The ``glidelab simulate`` and ``glidelab validate`` commands end to end (small runs)."""

from __future__ import annotations

import json

import pandas as pd

from glidelab.cli import main


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
    assert main([*args, "--force"]) == 0  # the same file again: only with --force
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


def _record(tmp_path, name: str) -> dict:
    return json.loads((tmp_path / f"{name}.json").read_text())


def test_bitcoin_before_its_data_earns_cash_when_asked(tmp_path) -> None:
    base = ["simulate", "--strategy", "btc_sleeve_2_5", "--scenarios", "historical"]
    base += ["--start-age", "65", "--retirement-age", "65", "--end-age", "80"]
    base += ["--balance", "1000000", "--out", str(tmp_path)]
    # Default 'exclude': only the years every asset covers (Bitcoin from 2011).
    assert main([*base, "--name", "excl"]) == 0
    excl = _record(tmp_path, "excl")
    assert excl["results"]["n_scenarios"] == 1  # 2011-2025: one 15-year cohort
    assert excl["filled_with_cash"] == {}
    # 'cash': the full history, Bitcoin earning T-bills before 2011, and it says so.
    assert main([*base, "--before-data", "cash", "--name", "cash"]) == 0
    cash = _record(tmp_path, "cash")
    assert cash["results"]["n_scenarios"] == 2025 - 1928 + 1 - 14
    assert cash["filled_with_cash"]["btc"]["with"] == "tbills"
    assert cash["filled_with_cash"]["btc"]["to"] == "2010"


def test_assumptions_drive_the_parametric_crypto_asset(tmp_path, capsys) -> None:
    base = ["simulate", "--strategy", "btc_sleeve_5", "--before-data", "cash"]
    base += ["--scenarios", "parametric", "--n", "400", "--seed", "2", "--out", str(tmp_path)]
    assert main([*base, "--assume", "btc=-0.5,0.9", "--name", "bear"]) == 0
    assert main([*base, "--assume", "btc=0.3,0.9", "--name", "bull"]) == 0
    bear, bull = _record(tmp_path, "bear"), _record(tmp_path, "bull")
    assert bear["assumptions"]["btc"] == {"mean_log_annual": -0.5, "vol_log_annual": 0.9}
    # Same seed, only the Bitcoin assumption differs: a higher mean cannot lower wealth.
    key = "terminal_wealth_real_p50"
    assert bull["results"][key] > bear["results"][key]
    # --assume is refused where it cannot apply, naming the fix.
    assert (
        main(
            [
                "simulate",
                "--strategy",
                "btc_sleeve_5",
                "--assume",
                "btc=0.1,0.5",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "--scenarios parametric" in capsys.readouterr().err
    assert main([*base, "--assume", "eth=0.1,0.5"]) == 2
    assert "'eth' is not held" in capsys.readouterr().err
