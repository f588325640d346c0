"""``glidelab run``: the default study end to end, on a small scale, offline."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from backtest.errors import StudyError
from glidelab.cli import main
from glidelab.run import run_study, scenario_sets, strategies_for
from glidelab.study import load_study, quick_crypto


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
    study = load_study().study
    assert set(table.plan) == {p.name for p in study.plans}
    assert set(table.scenarios) == {
        "historical cohorts",
        "block bootstrap",
        "international bootstrap (JST)",
    }
    # every success figure carries its standard error and the independent scenarios
    # behind it: overlapping cohorts count their non-overlapping windows only
    assert (table.success_se >= 0).all() and (table.success_se < 0.5).all()
    cohorts = table[table.scenarios == "historical cohorts"]
    assert (cohorts.n_effective < cohorts.n_scenarios).all()
    boot = table[table.scenarios == "block bootstrap"]
    assert (boot.n_effective == boot.n_scenarios).all()
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
    assert settings["seed"] == load_study().study.seed
    assert settings["study"]["plans"][1]["name"] == "maya"
    assert settings["scenarios"]["lifecycle"]["block bootstrap"]["n"] == 300  # --quick
    assert settings["history"]["first"].startswith("1928")


def test_run_is_deterministic_with_its_seed(tmp_path) -> None:
    study = load_study().study
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


def test_validate_is_the_validation_section_of_run(quick_run, tmp_path) -> None:
    _, folder = quick_run
    assert main(["validate", "trinity", "--out", str(tmp_path)]) == 0
    for name in ("trinity.csv", "trinity.md"):
        assert (tmp_path / name).read_bytes() == (folder / "validation" / name).read_bytes()
    assert main(["validate", "trinity", "--timing", "start", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "trinity.csv").read_bytes() != (
        folder / "validation/trinity.csv"
    ).read_bytes()


def test_study_scenarios_are_independent_of_the_optimisers_draws() -> None:
    study = load_study().study
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
    study = load_study().study
    excl = dataclasses.replace(
        study, scenarios=dataclasses.replace(study.scenarios, crypto_before_data="exclude")
    )
    from glidelab.run import study_history

    with pytest.raises(StudyError, match="use 'cash' or 'proxy'"):
        scenario_sets(excl, study_history(study), study.plans[0].plan)


def test_sleeves_are_built_on_the_study_base() -> None:
    study = load_study().study
    sleeves = {k: v for k, v in strategies_for(study).items() if "% btc" in k}
    assert sorted(s.sleeve_weight for s in sleeves.values()) == sorted(
        study.strategies.crypto_sleeves
    )
    assert all(s.before_data == "cash" for s in sleeves.values())


# --------------------------------------------------------------- every shipped study runs


def _shipped(name: str) -> str:
    from importlib import resources

    return str(resources.files("glidelab").joinpath("studies", f"{name}.toml"))


def _smallest(name: str):  # type: ignore[no-untyped-def]
    """The shipped study ``name`` as --quick shrinks it, without the slow extras (tear
    sheets, the population section), so a test runs each section in seconds."""
    sf = load_study(_shipped(name)).quick()
    study = sf.study
    study = dataclasses.replace(
        study,
        scenarios=dataclasses.replace(
            study.scenarios, bootstrap_n=min(study.scenarios.bootstrap_n, 100)
        ),
        optimize=dataclasses.replace(study.optimize, enabled=False, adaptive=False),
        output=dataclasses.replace(study.output, tearsheet=False, population=False),
    )
    return dataclasses.replace(sf, study=study), study


def test_every_shipped_study_is_recognised() -> None:
    kinds = {}
    for name in ("default", "retiree", "crypto_sleeve", "sweep_example", "target_date_2060"):
        sf = load_study(_shipped(name))
        kinds[name] = (sf.study is not None, sf.crypto is not None, sf.sweep is not None)
        assert (sf.design is not None) == (name == "target_date_2060")
    assert kinds["crypto_sleeve"] == (True, True, False)
    assert kinds["sweep_example"] == (True, False, True)
    assert kinds["default"] == kinds["retiree"] == (True, False, False)
    assert kinds["target_date_2060"] == (False, False, False)


def test_quick_shrinks_every_section() -> None:
    crypto = load_study(_shipped("crypto_sleeve"))
    small = crypto.quick()
    assert small.crypto.n_scenarios == 400 < crypto.crypto.n_scenarios
    assert len(small.crypto.means) <= 3 and len(small.crypto.vols) <= 3
    assert small.crypto.rules_n == 100 and small.crypto.history_n == 100
    sweep = load_study(_shipped("sweep_example"))
    small = sweep.quick()
    assert small.sweep.n_scenarios <= 300 and small.sweep.chunk_size <= 300
    assert all(len(a.values) <= 3 for a in small.sweep.axes)
    assert max(len(a.values) for a in sweep.sweep.axes) > 3  # so the test can fail
    assert small.sweep.study is small.study  # the sweep runs on the shrunk study
    design = load_study(_shipped("target_date_2060"))
    small = design.quick()
    assert small.design.design.member_paths < design.design.design.member_paths
    assert small.design.evaluation.members < design.design.evaluation.members


def test_crypto_study_runs_its_research_into_crypto(tmp_path) -> None:
    sf, study = _smallest("crypto_sleeve")
    small = quick_crypto(sf.crypto)  # the smoke-run break-even, stresses and vintage
    crypto = dataclasses.replace(
        small,
        n_scenarios=60,
        rules_n=40,
        history_n=40,
        means=(0.0,),
        vols=(0.6,),
        vintage=dataclasses.replace(small.vintage, members=100, market_paths=5),
    )
    res = run_study(study, tmp_path, progress=False, crypto=crypto)
    folder = tmp_path / "crypto_sleeve"
    for name in ("surface.csv", "breakeven.csv", "stress.csv", "rules.csv", "settings.json"):
        assert (folder / "crypto" / name).stat().st_size > 0, name
    surface = pd.read_csv(folder / "crypto" / "surface.csv")
    assert len(surface) == len(res.crypto.surface) > 0
    # A study naming no strategy gets its sleeves' base, so success.csv is never empty.
    assert set(res.success.strategy) == {study.strategies.crypto_base}
    assert "Crypto-sleeve research (crypto/)" in res.summary


def test_sweep_study_runs_its_sweep_into_sweep(tmp_path) -> None:
    sf, study = _smallest("sweep_example")
    sweep = dataclasses.replace(sf.sweep, n_scenarios=40, chunk_size=40)
    res = run_study(study, tmp_path, progress=False, sweep=sweep)
    folder = tmp_path / "sweep_example" / "sweep"
    table = pd.read_csv(folder / "sweep.csv")
    n_points = 1
    for a in sweep.axes:
        n_points *= len(a.values)
    assert len(table) == n_points * len(sweep.sets) == len(res.sweep.table)
    assert (folder / "solve.csv").stat().st_size > 0
    assert not (tmp_path / "sweep_example" / "points").exists()  # inside sweep/ only
    assert "Sweep (sweep/)" in (tmp_path / "sweep_example" / "summary.md").read_text()


def test_design_file_runs_the_design_through_glidelab_run(tmp_path, monkeypatch, capsys) -> None:
    from glidelab.design import DesignSection

    seen = {}

    def fake_run(self, context=None):  # the design's own tests run it for real
        seen["study"], seen["folder"] = self.study, self.folder
        return "outcome"

    def fake_write(self, result, folder):
        (folder / "scores.csv").write_text(f"{result}\n")

    monkeypatch.setattr(DesignSection, "run", fake_run)
    monkeypatch.setattr(DesignSection, "write", fake_write)
    monkeypatch.setattr(DesignSection, "summary", lambda self, result: "\nthe design\n")
    args = ["run", _shipped("target_date_2060"), "--quick", "--quiet", "--seed", "7"]
    code = main([*args, "--out", str(tmp_path)])
    assert code == 0
    assert seen["study"].name == "target_date_2060" and seen["folder"] == ""
    assert seen["study"].seed == 7  # --seed reached the design
    assert seen["study"].design.member_paths <= 2000  # --quick reached the design
    folder = tmp_path / "target_date_2060"
    assert (folder / "scores.csv").read_text() == "outcome\n"  # at the top, as glidelab design
    assert (folder / "summary.md").read_text() == "\nthe design\n\nFiles: scores.csv.\n"
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "w"), "--workers", "2"]) == 2
    assert "runs in this process" in capsys.readouterr().err


def test_design_beside_plans_is_refused_with_what_to_run(tmp_path, capsys) -> None:
    bad = tmp_path / "mixed.toml"
    bad.write_text('[population]\nbirth_year = 1995\n[[plans]]\nname = "x"\n')
    assert main(["run", str(bad), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "glidelab design FILE" in err[0]


def test_retiree_study_runs(tmp_path) -> None:
    _, study = _smallest("retiree")
    res = run_study(study, tmp_path, progress=False)
    assert len(res.success) > 0 and res.success.success_rate.between(0, 1).all()


FRONT_DOORS = [
    # (command, its folder under --out, glidelab run's folder of the same section)
    (["design", "target_date_2060"], "target_date_2060", "target_date_2060"),
    (["sweep", "sweep_example"], "sweep_example", "sweep_example/sweep"),
    (["crypto", "crypto_sleeve"], "crypto_sleeve", "crypto_sleeve/crypto"),
]


@pytest.mark.parametrize(("command", "own", "in_run"), FRONT_DOORS, ids=lambda x: str(x))
def test_each_subcommand_writes_what_its_section_writes_in_glidelab_run(
    tmp_path, command, own, in_run
) -> None:
    name = command[1]
    assert main([*command, "--quick", "--quiet", "--out", str(tmp_path / "cmd")]) == 0
    assert main(["run", name, "--quick", "--quiet", "--out", str(tmp_path / "run")]) == 0
    folder = tmp_path / "cmd" / own
    # The result tables, and a sweep's per-point records (its numbers before rounding).
    mine = sorted(
        str(p.relative_to(folder)) for p in [*folder.glob("*.csv"), *folder.glob("points/*.json")]
    )
    assert len(mine) >= 2, mine  # so the comparison can fail
    for f in mine:
        a = (folder / f).read_bytes()
        assert a == (tmp_path / "run" / in_run / f).read_bytes(), f
