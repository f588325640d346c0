"""``glidelab run``: the default study end to end, on a small scale, offline."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from backtest.errors import StudyError
from glidelab.cli import main
from glidelab.run import run_study, scenario_sets, strategies_for
from glidelab.study import load_study


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("results")
    code = main(["run", "--quick", "--quiet", "--out", str(out)])
    return code, out / "default"


def test_run_writes_every_result(quick_run) -> None:
    code, folder = quick_run
    assert code == 0
    for name in (
        "success.csv",
        "summary.md",
        "settings.json",
        "optimize/glide_path.csv",
        "optimize/glide_path.png",
        "optimize/comparison.csv",
        "tearsheet/tearsheet.html",
        "tearsheet/tearsheet.pdf",
        "tearsheet/metrics.csv",
        "tearsheet/metrics.json",
        "validation/trinity.csv",
    ):
        assert (folder / name).stat().st_size > 0, name
    # No temporary or half-written folder is left beside the result.
    assert [p.name for p in folder.parent.iterdir()] == ["default"]


def test_success_table_covers_every_plan_strategy_and_scenario_set(quick_run) -> None:
    _, folder = quick_run
    table = pd.read_csv(folder / "success.csv")
    study = load_study()
    assert set(table.plan) == {p.name for p in study.plans}
    assert set(table.scenarios) == {"historical cohorts", "block bootstrap"}
    strategies = set(table.strategy)
    assert set(study.strategies.presets) <= strategies
    assert "optimised glide path" in strategies
    assert sum("% btc" in s for s in strategies) == len(study.strategies.crypto_sleeves)
    assert table.success_rate.between(0, 1).all()
    # Percentiles of terminal wealth are ordered within every row.
    pct = table[[f"terminal_wealth_p{p}" for p in (5, 25, 50, 75, 95)]].to_numpy()
    assert (pct[:, 1:] >= pct[:, :-1]).all()
    # The lifecycle member has a pension target, so funded ratios are reported for it.
    life = table[table.plan == "lifecycle"]
    assert life.p_funded.between(0, 1).all()


def test_settings_record_the_seed_and_the_scenarios(quick_run) -> None:
    _, folder = quick_run
    settings = json.loads((folder / "settings.json").read_text())
    assert settings["seed"] == load_study().seed
    assert settings["study"]["plans"][1]["name"] == "maya"
    assert settings["scenarios"]["lifecycle"]["block bootstrap"]["n"] == 300  # --quick
    assert settings["history"]["first"].startswith("1928")


def test_run_is_deterministic_with_its_seed(tmp_path) -> None:
    study = load_study()
    small = dataclasses.replace(
        study,
        scenarios=dataclasses.replace(study.scenarios, bootstrap_n=50),
        strategies=dataclasses.replace(study.strategies, presets=("fixed_60_40",)),
        optimize=dataclasses.replace(study.optimize, enabled=False),
        output=dataclasses.replace(study.output, tearsheet=False),
    )
    a = run_study(small, tmp_path / "a", progress=False).success
    b = run_study(small, tmp_path / "b", progress=False).success
    pd.testing.assert_frame_equal(a, b)
    other = run_study(
        dataclasses.replace(small, seed=small.seed + 7), tmp_path / "c", progress=False
    ).success
    boot = other.scenarios == "block bootstrap"
    assert not a[boot].success_rate.equals(other[boot].success_rate) or not a[
        boot
    ].terminal_wealth_p50.equals(other[boot].terminal_wealth_p50)


def test_study_scenarios_are_independent_of_the_optimisers_draws() -> None:
    study = load_study()
    from glidelab.run import study_history

    history = study_history(study)
    plan = study.plan("lifecycle").plan
    sets = scenario_sets(study, history, plan)
    assert sets["block bootstrap"].n_scenarios == study.scenarios.bootstrap_n
    # Bitcoin before 2011 earns T-bills (the 'cash' rule), never a silent zero.
    cohorts = sets["historical cohorts"]
    btc = cohorts.assets.index("btc")
    bills = cohorts.assets.index("tbills")
    assert (cohorts.returns[0, :, btc] == cohorts.returns[0, :, bills]).all()
    assert "btc" in str(cohorts.meta.get("filled_with_cash", ""))


def test_bad_study_is_a_one_line_error(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[data]\nfrequency = "weekly"\n[[plans]]\nname="x"\n')
    assert main(["run", str(bad), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "[data].frequency = 'weekly'" in err
    assert "Traceback" not in err
    assert not any(tmp_path.glob("*/"))  # nothing written


def test_exclude_rule_is_refused_with_the_fix() -> None:
    study = load_study()
    excl = dataclasses.replace(
        study, scenarios=dataclasses.replace(study.scenarios, crypto_before_data="exclude")
    )
    from glidelab.run import study_history

    with pytest.raises(StudyError, match="use 'cash' or 'proxy'"):
        scenario_sets(excl, study_history(study), study.plans[0].plan)


def test_sleeves_are_built_on_the_study_base() -> None:
    study = load_study()
    sleeves = {k: v for k, v in strategies_for(study).items() if "% btc" in k}
    assert sorted(s.sleeve_weight for s in sleeves.values()) == sorted(
        study.strategies.crypto_sleeves
    )
    assert all(s.before_data == "cash" for s in sleeves.values())
