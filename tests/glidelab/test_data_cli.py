"""Tests of ``glidelab data``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from backtest.data import list_series


def test_command_prints_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from glidelab.cli import main

    out_csv = tmp_path / "out" / "series.csv"
    assert main(["data", "--frequency", "annual", "--csv", str(out_csv)]) == 0
    text = capsys.readouterr().out
    assert "arith/yr" in text and "vol/yr" in text and "x12 monthly" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("us_stocks "))
    assert "-43.8%" in line and "1931" in line and "1928" in line and "Damodaran" in line
    assert "monthly" not in [ln.split()[1] for ln in text.splitlines() if ln.startswith("btc")]
    written = pd.read_csv(out_csv)
    assert len(written) == len(list_series("annual"))


def test_command_help_and_describe(capsys: pytest.CaptureFixture[str]) -> None:
    from glidelab.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["data", "--help"])
    assert exc.value.code == 0
    help_text = capsys.readouterr().out
    assert "offline" in help_text.lower() or "no network" in help_text
    assert "example" in help_text
    assert main(["data", "--frequency", "monthly", "--describe"]) == 0
    assert "monthly-AVERAGE prices" in capsys.readouterr().out
