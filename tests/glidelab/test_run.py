"""``glidelab run``: the default study end to end, on a small scale, offline."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

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
    # Every scenario set of the default study, small; no population section (it draws its
    # own members and is not in success.csv) and no optimiser: three runs stay seconds.
    small = dataclasses.replace(
        study,
        scenarios=dataclasses.replace(study.scenarios, bootstrap_n=50, international_n=50),
        strategies=dataclasses.replace(study.strategies, presets=("fixed_60_40",)),
        optimize=dataclasses.replace(study.optimize, enabled=False),
        output=dataclasses.replace(study.output, tearsheet=False, population=False),
    )
    a = run_study(small, tmp_path / "a", progress=False).success
    b = run_study(small, tmp_path / "b", progress=False).success
    pd.testing.assert_frame_equal(a, b)
    assert "international bootstrap (JST)" in set(a.scenarios)  # every set is compared
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
    start = tmp_path / "start"  # a new folder: validate refuses to overwrite without --force
    assert main(["validate", "trinity", "--timing", "start", "--out", str(start)]) == 0
    assert (start / "trinity.csv").read_bytes() != (folder / "validation/trinity.csv").read_bytes()


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


@pytest.fixture(scope="module")
def run_quick(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``glidelab run NAME --quick --quiet [ARGS]`` of a shipped study, run once per
    name and arguments in this module and shared: returns the folder --out pointed at."""
    done: dict[tuple[str, ...], Path] = {}

    def get(name: str, *args: str) -> Path:
        key = (name, *args)
        if key not in done:
            out = tmp_path_factory.mktemp(f"run_{name}")
            assert main(["run", name, "--quick", "--quiet", *args, "--out", str(out)]) == 0
            done[key] = out
        return done[key]

    return get


def test_crypto_study_runs_its_research_into_crypto(run_quick) -> None:
    folder = run_quick("crypto_sleeve") / "crypto_sleeve"
    for name in ("surface.csv", "breakeven.csv", "stress.csv", "rules.csv", "settings.json"):
        assert (folder / "crypto" / name).stat().st_size > 0, name
    # One row per sleeve (bar the zero one, the reference) and grid point of --quick.
    sf = load_study(_shipped("crypto_sleeve")).quick()
    quick = sf.crypto
    surface = pd.read_csv(folder / "crypto" / "surface.csv")
    n_grid = len(quick.means) * len(quick.vols) * len(quick.corrs)
    assert len(surface) == (len(quick.sleeves) - 1) * n_grid > 0
    # A study naming no strategy gets its sleeves' base, so success.csv is never empty.
    success = pd.read_csv(folder / "success.csv")
    assert set(success.strategy) == {sf.study.strategies.crypto_base}
    assert "Crypto-sleeve research (crypto/)" in (folder / "summary.md").read_text()


def test_sweep_study_runs_its_sweep_into_sweep(run_quick) -> None:
    out = run_quick("sweep_example")
    sweep = load_study(_shipped("sweep_example")).quick().sweep
    folder = out / "sweep_example" / "sweep"
    table = pd.read_csv(folder / "sweep.csv")
    n_points = 1
    for a in sweep.axes:
        n_points *= len(a.values)
    assert len(table) == n_points * len(sweep.sets) > 0
    assert len(list((folder / "points").glob("*.json"))) == n_points
    assert (folder / "solve.csv").stat().st_size > 0
    assert not (out / "sweep_example" / "points").exists()  # inside sweep/ only
    assert "Sweep (sweep/)" in (out / "sweep_example" / "summary.md").read_text()


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
    # (command, its folder under --out, glidelab run's folder of the same section); the
    # design at seed 7, as conftest's shared design_quick_run: --seed reaches both doors.
    (["design", "target_date_2060", "--seed", "7"], "target_date_2060", "target_date_2060"),
    (["sweep", "sweep_example"], "sweep_example", "sweep_example/sweep"),
    (["crypto", "crypto_sleeve"], "crypto_sleeve", "crypto_sleeve/crypto"),
]

#: Front doors whose quick run a session fixture (tests/glidelab/conftest.py) already
#: made with the same arguments, shared with the command's own tests.
SHARED_RUNS = {"crypto": "crypto_quick_run", "design": "design_quick_run"}


def _front_door(request: pytest.FixtureRequest, command: list[str], out: Path) -> Path:
    """The --out folder of ``glidelab COMMAND --quick --quiet``."""
    if command[0] == "crypto":
        folder, _ = request.getfixturevalue(SHARED_RUNS["crypto"])
        return Path(folder).parent
    if command[0] == "design":
        return Path(request.getfixturevalue(SHARED_RUNS["design"]))
    assert main([*command, "--quick", "--quiet", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(("command", "own", "in_run"), FRONT_DOORS, ids=lambda x: str(x))
def test_each_subcommand_writes_what_its_section_writes_in_glidelab_run(
    request, run_quick, tmp_path, command, own, in_run
) -> None:
    folder = _front_door(request, command, tmp_path / "cmd") / own
    ran = run_quick(command[1], *command[2:])  # glidelab run NAME --quick --quiet [ARGS]
    # The result tables, and a sweep's per-point records (its numbers before rounding).
    mine = sorted(
        str(p.relative_to(folder)) for p in [*folder.glob("*.csv"), *folder.glob("points/*.json")]
    )
    assert len(mine) >= 2, mine  # so the comparison can fail
    for f in mine:
        a = (folder / f).read_bytes()
        assert a == (ran / in_run / f).read_bytes(), f
