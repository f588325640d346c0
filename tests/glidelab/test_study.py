"""Study files: the default parses, and bad input names the field and the allowed values."""

from __future__ import annotations

import re
import tomllib
from importlib import resources

import numpy as np
import pytest

from backtest.errors import StudyError
from backtest.plan import ConstantReal, FundedRatio
from glidelab.study import load_study, parse_study


def _default_raw() -> dict:
    text = resources.files("glidelab").joinpath("studies/default.toml").read_text("utf-8")
    return tomllib.loads(text)


def test_default_study_describes_maya() -> None:
    study = load_study().study
    maya = study.plan("maya").plan
    assert (maya.start_age, maya.retirement_age, maya.end_age) == (45, 62, 95)
    assert maya.initial_balance == 180_000
    assert maya.expense_ratio == pytest.approx(0.006)
    assert maya.contributions is not None
    employee, employer = maya.contributions.annual_amounts(np.array([45.0]), 45.0)
    # 10 % of 90,000 from Maya, a 3 % match from her employer.
    assert employee[0] == pytest.approx(9_000)
    assert employer[0] == pytest.approx(2_700)
    assert isinstance(maya.withdrawal, ConstantReal)
    assert study.plan("maya").strategy == "fixed_80_20"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda r: r["plans"][0].update(withdrawl=1),
            "unknown key 'withdrawl'; did you mean 'withdrawal'?",
        ),
        (lambda r: r["plans"][0]["withdrawal"].update(rule="4pct"), "one of ['constant_real'"),
        (lambda r: r["data"].update(frequency="weekly"), "[data].frequency = 'weekly'"),
        (lambda r: r["plans"][0].update(retirement_age=20), "retirement_age"),
        (lambda r: r["optimize"].update(plan="nobody"), "[optimize].plan = 'nobody'"),
        (lambda r: r["scenarios"].update(block_length=0), "block_length"),
        (lambda r: r["strategies"].update(crypto_sleeves=[0.9]), "crypto_sleeves"),
        (lambda r: r.pop("plans"), "at least one [[plans]]"),
    ],
)
def test_bad_study_names_the_field(mutate, message) -> None:
    raw = _default_raw()
    mutate(raw)
    with pytest.raises((StudyError, ValueError), match=re.escape(message)):
        parse_study(raw)


def test_funded_ratio_success_parses() -> None:
    raw = _default_raw()
    raw["plans"][0]["success"] = {"kind": "funded_ratio", "accrual_rate": 0.015}
    study = parse_study(raw)
    success = study.plans[0].plan.success
    assert isinstance(success, FundedRatio)
    assert success.accrual_rate == 0.015


def test_missing_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(StudyError, match="does not exist"):
        load_study(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\n")
    with pytest.raises(StudyError, match="not valid TOML"):
        load_study(bad)
