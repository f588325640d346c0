"""One reader for every study file kind, shipped studies by name, defaults written once."""

from __future__ import annotations

import dataclasses
import re
import tomllib

import pytest

import glidelab as gl
from backtest.errors import StudyError
from backtest.plan import ConstantReal, Contributions, FundedRatio, Plan
from glidelab.cli import main
from glidelab.study import (
    AnalysisConfig,
    ComputeConfig,
    CryptoConfig,
    DataConfig,
    OptimizeConfig,
    OutputConfig,
    ScenarioConfig,
    StrategyConfig,
    Sweep,
    load_study,
    parse_study_file,
    shipped_studies,
    shipped_study_path,
)

SHIPPED = ("crypto_sleeve", "default", "retiree", "sweep_example", "target_date_2060")
#: A study with only what has no default: one member's name and ages.
MINIMAL = {"plans": [{"name": "m", "start_age": 65, "retirement_age": 65, "end_age": 95}]}


def test_every_shipped_study_loads_by_name_through_the_public_api() -> None:
    assert shipped_studies() == SHIPPED
    kinds = {}
    for name in SHIPPED:
        sf = gl.load_study(name)
        assert isinstance(sf, gl.StudyFile)
        assert sf.name == name and sf.description
        kinds[name] = tuple(x is not None for x in (sf.study, sf.crypto, sf.sweep, sf.design))
    assert kinds == {
        "crypto_sleeve": (True, True, False, False),
        "default": (True, False, False, False),
        "retiree": (True, False, False, False),
        "sweep_example": (True, False, True, False),
        "target_date_2060": (False, False, False, True),
    }


def test_a_name_and_its_path_read_the_same_study() -> None:
    for name in SHIPPED:
        by_name, by_path = load_study(name), load_study(shipped_study_path(name))
        if by_name.study is None:
            assert by_name.design == by_path.design
            continue
        assert by_path.study is not None
        assert by_name.study.source.startswith(f"built-in {name} study")
        assert by_path.study.source == str(shipped_study_path(name))
        assert by_name.study == dataclasses.replace(by_path.study, source=by_name.study.source)
    # The default's label is the one settings.json has always recorded.
    assert load_study().study.source == load_study("default").study.source


def test_an_unknown_name_lists_the_shipped_studies(tmp_path) -> None:
    with pytest.raises(StudyError, match="does not exist") as err:
        load_study("retire")
    assert all(name in str(err.value) for name in SHIPPED)
    assert "glidelab studies" in str(err.value)
    # A file of that name wins over the shipped study.
    (tmp_path / "retiree").write_text(tomllib_dump_minimal())
    assert load_study(tmp_path / "retiree").study.name == "study"


def tomllib_dump_minimal() -> str:
    return '[[plans]]\nname = "m"\nstart_age = 65\nretirement_age = 65\nend_age = 95\n'


def test_parser_defaults_are_the_dataclass_defaults() -> None:
    assert tomllib.loads(tomllib_dump_minimal()) == MINIMAL
    study = parse_study_file(MINIMAL).study
    assert study is not None
    assert study.data == DataConfig()
    assert study.scenarios == ScenarioConfig()
    assert study.strategies == StrategyConfig()
    assert study.analysis == AnalysisConfig()
    assert study.output == OutputConfig()
    assert study.compute == ComputeConfig()
    assert study.optimize == OptimizeConfig(plan="m")
    plan = study.plans[0].plan
    assert plan == Plan(65, 65, 95, withdrawal=ConstantReal())
    saver = {**MINIMAL["plans"][0], "salary": 50_000.0, "pension_target": {"accrual_rate": 0.01}}
    cfg = parse_study_file({"plans": [saver]}).study.plans[0]
    assert cfg.plan.contributions == Contributions(salary=50_000.0, rate=0.0)
    assert cfg.pension_target == FundedRatio(accrual_rate=0.01)


def test_section_defaults_are_the_dataclass_defaults() -> None:
    sf = parse_study_file({**MINIMAL, "crypto": {}})
    assert sf.crypto == CryptoConfig(plan="m")
    sf = parse_study_file({**MINIMAL, "sweep": {"grid": {"equity_share": [0.4, 0.6]}}})
    assert sf.sweep is not None and sf.sweep.study is sf.study
    assert sf.sweep.chunk_size == Sweep.chunk_size == 5000
    assert sf.sweep.points_per_task == Sweep.points_per_task


def test_one_reader_names_bad_keys_in_every_kind() -> None:
    with pytest.raises(StudyError, match=re.escape("unknown key 'sweeep'; did you mean 'sweep'?")):
        parse_study_file({**MINIMAL, "sweeep": {}})
    with pytest.raises(StudyError, match=re.escape("[crypto]: unknown key 'sleves'")):
        parse_study_file({**MINIMAL, "crypto": {"sleves": [0.01]}})
    with pytest.raises(StudyError, match=re.escape("[sweep]: unknown key 'chunks'")):
        parse_study_file({**MINIMAL, "sweep": {"chunks": 3, "grid": {"equity_share": [0.5]}}})
    with pytest.raises(StudyError, match=re.escape("cannot sit beside [[plans]]")):
        parse_study_file({**MINIMAL, "population": {}})
    with pytest.raises(StudyError, match=re.escape("[population] has unknown keys ['birth_yr']")):
        parse_study_file({"population": {"birth_yr": 1995}})


def test_quick_shrinks_each_section_and_never_grows_one() -> None:
    sf = load_study("crypto_sleeve")
    small = sf.quick()
    assert small.crypto is not None and sf.crypto is not None
    assert small.crypto.n_scenarios == 400 < sf.crypto.n_scenarios
    assert small.quick() == small  # quick of quick: nothing grows back


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "nope"], "no shipped study has that name"),
        (["sweep", "retiree"], "retiree has no [sweep] table"),
        (["crypto", "default"], "default has no [crypto] table"),
        (["design", "retiree"], "retiree is not a fund-design file"),
        (["optimize", "--study", "target_date_2060"], "glidelab optimize needs a study"),
        (["tearsheet", "--study", "target_date_2060"], "tearsheet --study needs a study"),
        (["serve", "nope"], "no shipped study has that name"),
        (["studies", "--path", "nope"], "no shipped study is named 'nope'"),
    ],
)
def test_every_command_names_the_problem_with_a_study_argument(argv, message, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    if "shipped" in message:
        assert "retiree" in err and "target_date_2060" in err


def test_studies_lists_every_shipped_study_with_its_description(capsys) -> None:
    assert main(["studies"]) == 0
    out = capsys.readouterr().out
    for name in SHIPPED:
        assert re.search(rf"^{name}\s+(study|fund design)", out, re.MULTILINE), out
    assert "A 65-year-old retiree" in out
    assert main(["studies", "--path", "retiree"]) == 0
    path = capsys.readouterr().out.strip()
    with open(path, "rb") as f:
        assert tomllib.load(f)["study"]["name"] == "retiree"
