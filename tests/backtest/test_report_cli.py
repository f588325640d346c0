"""``glidelab tearsheet`` end to end on a short period (historical sections only: fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimize.cli import main


def test_tearsheet_from_study_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ts"
    study = tmp_path / "s.toml"
    study.write_text(
        "[tearsheet]\n"
        'strategies = ["60_40", "voltarget_3", "btc_2_5"]\n'
        'frequency = "annual"\nstart = 2005\nend = 2025\n'
        f'out = "{out.as_posix()}"\n'
    )
    assert main(["tearsheet", "--study", str(study), "--no-simulation"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "metrics.csv", "metrics.json", "tearsheet.html", "tearsheet.pdf",
    ]  # fmt: skip
    payload = json.loads((out / "metrics.json").read_text())
    names = {r["strategy"] for r in payload["metrics"]}
    assert len(names) == 3
    html = (out / "tearsheet.html").read_text()
    assert "Crypto sleeve size" in html  # a Bitcoin sleeve adds the sleeve sweep
    assert payload["settings"]["Historical period"].startswith("Dec 2005")


def test_tearsheet_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tearsheet", "--strategies", "no_such_thing", "--no-simulation"]) == 2
    assert "unknown strategy preset" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[tearsheet]\nstrategy = ["60_40"]\n')
    assert main(["tearsheet", "--study", str(bad)]) == 2
    assert "unknown key(s) ['strategy']" in capsys.readouterr().err


def test_list_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tearsheet", "--list"]) == 0
    assert "fixed_60_40" in capsys.readouterr().out
