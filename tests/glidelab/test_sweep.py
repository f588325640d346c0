"""Sweeps: grid expansion, grid-point settings, CRN tables, resume, solve-for, the command."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from backtest.errors import StudyError
from backtest.generators import historical_cohorts
from backtest.plan import ConstantReal
from backtest.simulate import simulate
from glidelab.backends import InProcess
from glidelab.cli import main
from glidelab.context import StudyContext
from glidelab.run import study_history
from glidelab.sweep import (
    SweepSection,
    apply_point,
    grid_points,
    n_effective,
    parse_sweep,
    run_sweep,
)
from strategies import CryptoSleeve, FixedMix

RAW: dict[str, Any] = {
    "study": {"name": "tiny", "seed": 7},
    "data": {"frequency": "annual"},
    "scenarios": {"historical": True, "bootstrap_n": 300, "crypto_before_data": "cash"},
    "plans": [
        {
            "name": "retiree",
            "start_age": 65,
            "retirement_age": 65,
            "end_age": 95,
            "initial_balance": 1_000_000,
            "withdrawal": {"rule": "constant_real", "amount": 40_000},
        }
    ],
    "optimize": {"enabled": False},
    "sweep": {
        "plan": "retiree",
        "chunk_size": 100,
        "points_per_task": 1,
        "grid": {"equity_share": [0.4, 0.8], "plan.withdrawal.amount": [35_000, 45_000]},
    },
}


def _sweep(**sweep_changes: Any) -> Any:
    raw = copy.deepcopy(RAW)
    raw["sweep"].update(sweep_changes)
    return parse_sweep(raw, "test")


class CountingBackend:
    """In-process, counting the tasks it runs (to prove nothing is computed twice)."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0
        self.inner = InProcess()

    def map_unordered(self, fn, tasks, shared):  # type: ignore[no-untyped-def]
        for i, r in self.inner.map_unordered(fn, tasks, shared):
            self.calls += 1
            yield i, r


# ----------------------------------------------------------------------------- schema


def test_grid_is_the_product_of_the_axes_first_axis_slowest() -> None:
    points = grid_points(_sweep())
    assert points == [
        {"equity_share": 0.4, "plan.withdrawal.amount": 35_000},
        {"equity_share": 0.4, "plan.withdrawal.amount": 45_000},
        {"equity_share": 0.8, "plan.withdrawal.amount": 35_000},
        {"equity_share": 0.8, "plan.withdrawal.amount": 45_000},
    ]
    assert grid_points(_sweep(), without="equity_share") == [
        {"plan.withdrawal.amount": 35_000},
        {"plan.withdrawal.amount": 45_000},
    ]


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({"plan.salary_of_spouse": [1]}, "not a sweepable field"),
        ({"equity_share": [0.4, 0.4]}, "repeated"),
        ({"equity_share": []}, "non-empty list"),
        ({"equity_share": [0.5], "strategy": ["fixed_60_40"]}, "both choose the strategy"),
        ({}, "empty"),
    ],
)
def test_bad_grids_name_the_problem(grid: dict[str, Any], match: str) -> None:
    with pytest.raises(StudyError, match=match):
        _sweep(grid=grid)


def test_unknown_sweep_key_is_an_error() -> None:
    with pytest.raises(StudyError, match="unknown key"):
        _sweep(chunks=3)


def test_a_study_file_without_a_sweep_table_is_refused() -> None:
    raw = copy.deepcopy(RAW)
    del raw["sweep"]
    with pytest.raises(StudyError, match=r"\[sweep\]"):
        parse_sweep(raw, "test")


def test_grid_point_sets_plan_and_strategy_fields() -> None:
    sweep = _sweep()
    plan, strategy = apply_point(
        sweep, {"equity_share": 0.8, "plan.withdrawal.rate": 0.035, "plan.expense_ratio": 0.01}
    )
    assert isinstance(plan.withdrawal, ConstantReal)
    # Setting the rate clears the study's amount: ConstantReal takes exactly one.
    assert (plan.withdrawal.rate, plan.withdrawal.amount) == (0.035, None)
    assert plan.expense_ratio == 0.01
    assert isinstance(strategy, FixedMix)
    assert strategy.weights == (0.8, pytest.approx(0.2))

    _, sleeve = apply_point(sweep, {"strategy": "fixed_60_40", "crypto_sleeve": 0.025})
    assert isinstance(sleeve, CryptoSleeve) and sleeve.sleeve_weight == 0.025


def test_strategy_axis_takes_the_study_s_custom_glide_paths() -> None:
    raw = copy.deepcopy(RAW)
    raw["strategies"] = {
        "custom": [{"name": "my path", "years_to_retirement": [10, -10], "equity": [0.7, 0.3]}]
    }
    raw["sweep"]["grid"] = {"strategy": ["my path", "fixed_60_40"]}
    sweep = parse_sweep(raw, "test")
    names = [apply_point(sweep, p)[1].name for p in grid_points(sweep)]
    assert names[0] == "my path" and names[1] != "my path"


def test_impossible_grid_point_is_a_study_error() -> None:
    with pytest.raises(StudyError, match="retirement_age"):
        apply_point(_sweep(), {"plan.retirement_age": 99})  # past end_age 95
    with pytest.raises(StudyError, match="no field"):
        apply_point(_sweep(), {"strategy.no_such_field": 1})


def test_overlapping_cohorts_count_as_fewer_independent_scenarios() -> None:
    # 69 cohorts of 30 years span 98 years: about 3.3 independent windows.
    assert n_effective("historical", 69, 30) == pytest.approx(98 / 30)
    assert n_effective("bootstrap", 500, 30) == 500


# ----------------------------------------------------------------------------- running


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_sweep(_sweep(), tmp_path_factory.mktemp("full"), progress=False)


def test_table_has_a_row_per_point_and_set(finished: Any) -> None:
    t = finished.table
    assert len(t) == 4 * 2
    assert list(dict.fromkeys(t["scenarios"])) == ["historical", "bootstrap"]
    assert (t.loc[t["scenarios"] == "bootstrap", "n_scenarios"] == 300).all()
    for name in ("sweep.csv", "settings.json", "heatmap_historical.png", "heatmap_bootstrap.png"):
        assert (finished.out_dir / name).is_file()
    assert len(list((finished.out_dir / "points").glob("*.json"))) == 4


def test_common_random_numbers_make_success_monotone_in_spending(finished: Any) -> None:
    # Same scenarios at every point: spending more can never rescue a scenario, so the
    # success rate cannot rise with the amount (with independent draws it could).
    t = finished.table.set_index(["scenarios", "equity_share", "plan.withdrawal.amount"])
    for s in ("historical", "bootstrap"):
        for e in (0.4, 0.8):
            assert t.loc[(s, e, 35_000), "success_rate"] >= t.loc[(s, e, 45_000), "success_rate"]
    assert t.loc[("bootstrap", 0.4, 45_000), "success_rate"] < 1  # the test can fail


def test_historical_row_matches_a_direct_simulation(finished: Any) -> None:
    sweep = _sweep()
    plan, strategy = apply_point(sweep, {"equity_share": 0.4, "plan.withdrawal.amount": 45_000})
    d = sweep.study.data
    cohorts = historical_cohorts(
        study_history(sweep.study),
        [d.equity, d.bonds, d.cash, d.crypto],
        30,
        missing="cash",
        cash_asset=d.cash,
    )
    res = simulate(cohorts, plan, strategy)
    row = finished.table[
        (finished.table["scenarios"] == "historical")
        & (finished.table["equity_share"] == 0.4)
        & (finished.table["plan.withdrawal.amount"] == 45_000)
    ].iloc[0]
    assert row["n_scenarios"] == res.n_scenarios
    assert row["success_rate"] == res.success_rate
    # Same engine, same scenarios: the percentiles agree to the last bit.
    assert row["terminal_wealth_p50"] == np.percentile(res.terminal_wealth, 50)


def test_interrupted_sweep_resumes_without_recomputing(tmp_path: Path, finished: Any) -> None:
    sweep = _sweep()

    def stop_after_two(i: int) -> None:
        if i == 1:
            raise KeyboardInterrupt

    first = CountingBackend()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, tmp_path, backend=first, progress=False, on_point=stop_after_two)
    assert len(list((tmp_path / "tiny" / "points").glob("*.json"))) == 2
    assert not (tmp_path / "tiny" / "sweep.csv").exists()

    second = CountingBackend()
    res = run_sweep(sweep, tmp_path, backend=second, progress=False)
    assert (res.n_resumed, res.n_computed) == (2, 2)
    # 4 tasks a point (3 bootstrap chunks of 100 + 1 historical): only the 2 missing points.
    assert first.calls == 8 and second.calls == 8 == res.n_tasks
    pd.testing.assert_frame_equal(res.table, finished.table, check_exact=True)

    third = CountingBackend()
    again = run_sweep(sweep, tmp_path, backend=third, progress=False, charts=False)
    assert (again.n_resumed, third.calls) == (4, 0)


def test_sweep_section_computes_in_memory_then_writes_what_run_sweep_writes(
    tmp_path: Path, finished: Any
) -> None:
    section = SweepSection(_sweep(), InProcess(), charts=False)
    result = section.run(StudyContext(_sweep().study))  # no cache: nothing written
    assert result.out_dir is None and not any(tmp_path.iterdir())
    pd.testing.assert_frame_equal(result.table, finished.table, check_exact=True)
    section.write(result, tmp_path / section.folder)
    for f in ("sweep.csv", "settings.json"):
        assert (tmp_path / "sweep" / f).read_bytes() == (finished.out_dir / f).read_bytes()
    written = sorted(p.name for p in (tmp_path / "sweep" / "points").iterdir())
    assert written == sorted(p.name for p in (finished.out_dir / "points").iterdir())
    assert "8 rows in sweep/sweep.csv" in section.summary(result)
    # The section's files resume: run_sweep into the same folder computes nothing.
    counter = CountingBackend()
    again = run_sweep(_sweep(), folder=tmp_path / "sweep", backend=counter, progress=False)
    assert (again.n_resumed, counter.calls) == (4, 0)


def test_study_file_names_the_sweep_section() -> None:
    from glidelab.sections import file_sections

    (section,) = file_sections(sweep=_sweep())
    assert isinstance(section, SweepSection) and section.folder == "sweep"


def test_points_per_task_changes_the_tasks_not_the_answers(tmp_path: Path, finished: Any) -> None:
    counter = CountingBackend()
    res = run_sweep(
        _sweep(points_per_task=3), tmp_path, backend=counter, progress=False, charts=False
    )
    # Blocks of points 0-2 and 3, each over 3 bootstrap chunks and 1 historical chunk.
    assert counter.calls == res.n_tasks == 2 * 4
    pd.testing.assert_frame_equal(res.table, finished.table, check_exact=True)


def test_changed_settings_are_not_resumed(tmp_path: Path) -> None:
    run_sweep(_sweep(), tmp_path, progress=False, charts=False)
    changed = dataclasses.replace(_sweep(), n_scenarios=200)
    res = run_sweep(changed, tmp_path, progress=False, charts=False)
    assert (res.n_resumed, res.n_computed) == (0, 4)
    assert (res.table.loc[res.table["scenarios"] == "bootstrap", "n_scenarios"] == 200).all()


def test_solve_for_agrees_with_the_grid_on_common_scenarios(tmp_path: Path) -> None:
    amounts = [30_000, 35_000, 40_000, 45_000, 50_000]
    sweep = _sweep(
        grid={"plan.withdrawal.amount": amounts},
        scenarios=["bootstrap"],
        solve={"field": "plan.withdrawal.amount", "lo": 10_000, "hi": 100_000, "target": 0.85},
    )
    res = run_sweep(sweep, tmp_path, progress=False)
    (row,) = res.solve.to_dict("records")
    assert row["ci_low"] < row["value"] < row["ci_high"]
    assert row["success_at_value"] >= 0.85
    # The grid ran on the same scenarios: every amount below the answer reaches the
    # target and every amount above it does not.
    for a, p in zip(res.table["plan.withdrawal.amount"], res.table["success_rate"], strict=True):
        assert (p >= 0.85) == (a <= row["value"])
    assert (res.out_dir / "solve.csv").is_file()
    assert (res.out_dir / "success.png").is_file()  # one swept axis: a line chart
    assert len(list((res.out_dir / "solve").glob("*.json"))) == 1


# ----------------------------------------------------------------------------- command


def _write_sweep_file(tmp_path: Path) -> Path:
    lines = [
        '[study]\nname = "cli"\nseed = 3\n',
        '[scenarios]\nhistorical = false\nbootstrap_n = 200\ncrypto_before_data = "cash"\n',
        "[[plans]]\n"
        'name = "r"\nstart_age = 65\nretirement_age = 65\nend_age = 95\n'
        "initial_balance = 1000000\n"
        'withdrawal = { rule = "constant_real", amount = 40000 }\n',
        "[optimize]\nenabled = false\n",
        "[sweep]\nchunk_size = 100\n[sweep.grid]\nequity_share = [0.5, 0.9]\n",
    ]
    path = tmp_path / "s.toml"
    path.write_text("\n".join(lines))
    return path


def test_command_writes_the_table_and_solves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_sweep_file(tmp_path)
    args = ["sweep", str(path), "--out", str(tmp_path / "out"), "--no-charts"]
    assert main([*args, "--solve-for", "plan.withdrawal.amount", "--lo", "1e4", "--hi", "1e5"]) == 0
    out = capsys.readouterr().out
    assert "reaching 90 % success at equity_share=0.5" in out
    table = pd.read_csv(tmp_path / "out" / "cli" / "sweep.csv")
    assert list(table["equity_share"]) == [0.5, 0.9]
    assert json.loads((tmp_path / "out" / "cli" / "settings.json").read_text())["chunk_size"] == 100


def test_command_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write_sweep_file(tmp_path)
    assert main(["sweep", str(path), "--solve-for", "plan.withdrawal.amount"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--lo and --hi" in err


def test_survival_weighted_success_by_hand() -> None:
    from backtest.mortality import survival_curve
    from glidelab.sweep import Mortality, survival_weighted_success

    plan, _ = apply_point(_sweep(), {})
    m = Mortality(sex="female", birth_year=1960)
    s = survival_curve("female", 1960, 65, 30)
    # Ruin at 80 (alive then with probability S(15)), at 80.5 (halfway to S(16)), and never.
    ruin_age = np.array([80.0, 80.5, 95.0])
    expected = ((1 - s[15]) + (1 - (s[15] + s[16]) / 2) + 1) / 3
    assert survival_weighted_success(plan, ruin_age, m) == pytest.approx(expected, rel=1e-12)


def test_mortality_table_adds_survival_weighted_success(tmp_path: Path) -> None:
    sweep = _sweep(mortality={"sex": "male", "birth_year": 1960}, scenarios=["bootstrap"])
    t = run_sweep(sweep, tmp_path, progress=False, charts=False).table
    # Dying before the money runs out rescues some ruined scenarios, never the reverse.
    assert (t["success_survival_weighted"] >= t["success_rate"]).all()
    assert (t["success_survival_weighted"] > t["success_rate"]).any()
    assert t["success_survival_weighted"].max() <= 1


def test_solve_for_the_earliest_retirement_age_in_whole_years(tmp_path: Path) -> None:
    raw = copy.deepcopy(RAW)
    raw["plans"][0].update(
        start_age=45,
        retirement_age=62,
        initial_balance=200_000,
        salary=80_000,
        contribution_rate=0.15,
    )
    raw["plans"][0]["withdrawal"] = {"rule": "constant_real", "amount": 40_000}
    ages = [56, 58, 60, 62, 64, 66, 68]
    raw["sweep"].update(
        scenarios=["bootstrap"],
        grid={"plan.retirement_age": ages},
        solve={"field": "plan.retirement_age", "lo": 50, "hi": 75, "target": 0.8, "integer": True},
    )
    res = run_sweep(parse_sweep(raw, "test"), tmp_path, progress=False, charts=False)
    (row,) = res.solve.to_dict("records")
    assert row["value"] == int(row["value"])
    # Success rises with the retirement age: the answer is the earliest age reaching 80 %,
    # and the grid (same scenarios) agrees on every age it holds.
    rates = dict(zip(res.table["plan.retirement_age"], res.table["success_rate"], strict=True))
    for a in ages:
        assert (rates[a] >= 0.8) == (a >= row["value"])
    assert min(rates.values()) < 0.8 <= max(rates.values())  # the bracket is informative
