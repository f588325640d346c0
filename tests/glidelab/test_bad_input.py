"""Bad input a new user tried: each is one line naming the problem and the fix, a non-zero
exit code, no traceback, and nothing written (issue 13)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from backtest.data import load_csv
from backtest.errors import DataError
from glidelab.cli import main


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for folders): what is on disk."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def _refused(argv: list[str], root: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``glidelab argv``; check the refusal and return the one error line."""
    before = _tree(root)
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"glidelab {argv[0]}: error: ")
    assert _tree(root) == before, "something was written"
    return lines[0]


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding a file ``FILE`` and an empty folder ``DIR``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FILE").write_text("keep me\n")
    (tmp_path / "DIR").mkdir()
    return tmp_path


SMALL = """
[study]
name = "small"
seed = 7
[data]
start = 1990
[scenarios]
historical = HISTORICAL
bootstrap_n = BOOTSTRAP
[[plans]]
name = "saver"
start_age = 40
retirement_age = 65
end_age = 90
salary = 60000
contribution_rate = 0.1
withdrawal = { rule = "constant_real", rate = 0.04 }
[strategies]
presets = ["fixed_60_40"]
[optimize]
enabled = false
[output]
dir = "OUT"
"""


def _study(root: Path, text: str = SMALL, **subs: str) -> str:
    values = {"HISTORICAL": "true", "BOOTSTRAP": "50", "OUT": (root / "results").as_posix()}
    values.update(subs)
    for key, value in values.items():
        text = text.replace(key, value)
    path = root / "study.toml"
    path.write_text(text)
    return str(path)


# --------------------------------------------------------------------------- output paths


def test_simulate_out_is_a_file(place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(["simulate", "--n", "10", "--out", "FILE"], place, capsys)
    assert "--out 'FILE' is an existing file, not a folder" in line


def test_data_csv_under_a_file(place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(["data", "--csv", "FILE/x.csv"], place, capsys)
    assert "--csv 'FILE/x.csv': 'FILE' is an existing file" in line


def test_data_csv_is_a_folder(place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(["data", "--csv", "DIR"], place, capsys)
    assert "--csv 'DIR' is an existing folder, not a file" in line
    assert "results/series.csv" in line  # the fix, with an example


def test_study_output_dir_is_a_file(
    place: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    study = _study(place, OUT="FILE")
    line = _refused(["run", study, "--quiet"], place, capsys)
    assert "'FILE' is an existing file" in line and "[output] dir" in line


def test_run_out_is_a_file_refused_before_computing(
    place: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import glidelab.run

    def no_computing(*args: object, **kwargs: object) -> None:
        raise AssertionError("the study was computed before its output path was checked")

    monkeypatch.setattr(glidelab.run, "study_history", no_computing)
    line = _refused(["run", _study(place), "--quiet", "--out", "FILE"], place, capsys)
    assert "output folder 'FILE/small': 'FILE' is an existing file" in line
    assert "choose another --out" in line


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "trinity", "--out", "FILE"],
        ["tearsheet", "--strategies", "60_40", "--no-simulation", "--out", "FILE"],
        ["optimize", "--no-progress", "--out", "FILE"],
    ],
    ids=["validate", "tearsheet", "optimize"],
)
def test_other_commands_refuse_a_file_as_their_folder(
    place: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    line = _refused(argv, place, capsys)
    assert "'FILE' is an existing file, not a folder" in line


# --------------------------------------------------------------------------- values


def test_negative_salary(place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(["simulate", "--salary", "-5", "--n", "10"], place, capsys)
    assert "--salary -5: a salary is real USD a year, >= 0" in line


def test_misspelt_key_is_named_before_what_it_would_have_set(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without its salary the plan's pension target would be refused ("needs a salary"):
    # the misspelling is the real problem and is reported first, with the right name.
    text = SMALL.replace("salary = 60000", "salery = 60000").replace(
        "[strategies]", "pension_target = { accrual_rate = 0.015 }\n[strategies]"
    )
    line = _refused(["run", _study(place, text), "--quiet"], place, capsys)
    assert "[[plans]] #1: unknown key 'salery'; did you mean 'salary'?" in line
    assert "needs a salary" not in line


@pytest.mark.parametrize("quick", [[], ["--quick"]])
def test_quick_does_not_hide_a_study_without_scenarios(
    place: Path, capsys: pytest.CaptureFixture[str], quick: list[str]
) -> None:
    study = _study(place, HISTORICAL="false", BOOTSTRAP="0")
    line = _refused(["run", study, "--quiet", *quick], place, capsys)
    assert "historical = false and bootstrap_n = 0 leave no scenarios" in line


def test_csv_returns_in_percent_are_refused_with_the_unit_to_state() -> None:
    text = "date,tbills\n2000-01-31,0.41\n2000-02-29,0.43\n2000-03-31,0.45\n2000-04-30,0.39\n"
    with pytest.raises(DataError, match=r"looks like percent.*unit='percent'") as info:
        load_csv(io.StringIO(text), "returns", "monthly")
    assert "\n" not in str(info.value)
    rets = load_csv(io.StringIO(text), "returns", "monthly", unit="percent")
    assert rets["tbills"].max() == pytest.approx(0.0045)  # 0.45 % a month, not +45 %


# --------------------------------------------------------------------------- warnings


def test_bitcoin_plan_longer_than_its_history_is_warned(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate", "--strategy", "btc_sleeve_2_5", "--n", "200", "--out", "sim"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "covers only 2011-2025" in err and "limited by btc" in err
    assert "--before-data cash" in err
    # With a stated rule for the years before Bitcoin's data, there is nothing to warn of.
    assert main([*argv, "--before-data", "cash", "--force"]) == 0  # replaces sim/
    assert "warning" not in capsys.readouterr().err
