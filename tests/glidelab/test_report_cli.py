"""``glidelab tearsheet`` end to end on a short period (historical sections only: fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glidelab.cli import main


def test_tearsheet_from_named_strategies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ts"
    args = ["--strategies", "60_40,voltarget_3,btc_2_5", "--start", "2005", "--end", "2025"]
    assert main(["tearsheet", *args, "--out", str(out), "--no-simulation"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "metrics.csv", "metrics.json", "tearsheet.html", "tearsheet.pdf",
    ]  # fmt: skip
    payload = json.loads((out / "metrics.json").read_text())
    names = {r["strategy"] for r in payload["metrics"]}
    assert names == {"Fixed 60/40", "Vol target 3%", "Fixed 60/40 + 2.5% Bitcoin"}
    html = (out / "tearsheet.html").read_text()
    assert "Crypto sleeve size" in html  # a Bitcoin sleeve adds the sleeve sweep
    # The named strategies went through the study pipeline: a page for the saver plan,
    # with its withdrawal rule in words.
    assert [p["plan"] for p in payload["plans"]] == ["saver"]
    assert payload["plans"][0]["settings"]["Historical period"].startswith("Dec 2005")
    assert '<a href="#plan-saver">' in html and "ConstantReal(" not in html
    assert "4% of the balance at retirement a year, raised with inflation" in html


STUDY = """
[study]
name = "small"
seed = 7
[data]
start = 1990
[scenarios]
bootstrap_n = 100
[[plans]]
name = "retiree"
start_age = 65
retirement_age = 65
end_age = 85
initial_balance = 1000000
withdrawal = { rule = "constant_real", rate = 0.04 }
[[plans]]
name = "maya"
start_age = 55
retirement_age = 62
end_age = 85
initial_balance = 180000
salary = 90000
contribution_rate = 0.1
withdrawal = { rule = "constant_real", amount = 30000, indexed = false, timing = "end" }
[strategies]
presets = ["fixed_60_40", "vol_target_6"]
crypto_sleeves = [0.025]
[optimize]
enabled = false
[output]
dir = "OUT"
"""


def test_tearsheet_from_study_file(tmp_path: Path) -> None:
    study = tmp_path / "s.toml"
    study.write_text(STUDY.replace("OUT", tmp_path.as_posix()))
    assert main(["tearsheet", "--study", str(study)]) == 0
    folder = tmp_path / "small" / "tearsheet"
    payload = json.loads((folder / "metrics.json").read_text())
    names = {r["strategy"] for r in payload["metrics"]}
    assert names == {"Fixed 60/40", "Vol target 6%", "Fixed 60/40 + 2.5% Bitcoin"}
    html = (folder / "tearsheet.html").read_text()
    assert "Historical cohorts by start year" in html
    assert "Crypto sleeve size" in html
    # One page per plan behind an index: Maya has her own fan chart, not just table rows.
    assert [p["plan"] for p in payload["plans"]] == ["retiree", "maya"]
    for plan in ("retiree", "maya"):
        assert f'<a href="#plan-{plan}">' in html and f'id="plan-{plan}-chart-fan"' in html
    assert "30,000 USD a year, fixed in dollars from retirement" in html
    assert "paid at the end of each year" in html


def test_tearsheet_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tearsheet", "--strategies", "no_such_thing", "--no-simulation"]) == 2
    assert "unknown strategy preset" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text(STUDY.replace("presets", "preset"))
    assert main(["tearsheet", "--study", str(bad)]) == 2
    assert "unknown key 'preset'; did you mean 'presets'?" in capsys.readouterr().err
    assert main(["tearsheet", "--study", str(bad), "--strategies", "60_40"]) == 2
    assert "cannot be combined with --study" in capsys.readouterr().err


def test_list_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tearsheet", "--list"]) == 0
    assert "fixed_60_40" in capsys.readouterr().out
