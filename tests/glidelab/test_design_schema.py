"""The fund-design file's schema: every key of the shipped target_date_2060 file is typed
and bounded at load time.

The keys are read from the shipped file (and the dataclasses' fields), so a key added
there is covered here without editing this test: a wrong-typed value, and an out-of-range
one where the key has a range, must be a :class:`StudyError` naming the table and key,
never another exception (a ``TypeError`` at run time was the bug this guards).
"""

from __future__ import annotations

import copy
import math
import tomllib
from dataclasses import fields
from typing import Any

import pytest

from backtest.errors import StudyError
from backtest.population import AGE_LIMITS, BIRTH_YEARS, SPEC_RANGES, TARGET_AGES, PopulationSpec
from glidelab.studyfile.design import (
    DESIGN_COUNTS,
    DESIGN_RANGES,
    EVALUATION_COUNTS,
    DesignSettings,
    DesignStudy,
    EvaluationSettings,
    parse_design_study,
)
from glidelab.studyfile.files import shipped_study_path
from optimize.fund_design import FundConstraints

SHIPPED: dict[str, Any] = tomllib.loads(shipped_study_path("target_date_2060").read_text())

Path = tuple[str, ...]
#: The tables of a fund-design file, as paths, with the dataclass each is read into.
TABLES: dict[Path, type] = {
    (): DesignStudy,
    ("population",): PopulationSpec,
    ("design",): DesignSettings,
    ("design", "constraints"): FundConstraints,
    ("evaluation",): EvaluationSettings,
}
#: A valid value for the keys the shipped file leaves out whose default is None.
SAMPLES: dict[str, Any] = {
    "crypto_cap": 0.05,
    "lower": {"us_stocks": 0.1},
    "upper": {"us_stocks": 0.9},
    "equity_assets": ["us_stocks"],
    "crypto_assets": ["tbills"],
    "reference_replacement": 0.6,
}


def _table(data: dict[str, Any], table: Path) -> dict[str, Any]:
    for name in table:
        data = data[name]
    return data


def _label(table: Path) -> str:
    return f"[{'.'.join(table)}]" if table else "study file"


def _shipped_keys() -> list[tuple[Path, str]]:
    """Every value key of the shipped file's tables (sub-tables are tables, not keys)."""
    return [
        (table, key)
        for table in TABLES
        for key, value in _table(SHIPPED, table).items()
        if not (isinstance(value, dict) and (*table, key) in TABLES)
    ]


def _other_fields() -> list[tuple[Path, str]]:
    """The dataclasses' fields the shipped file leaves at their defaults."""
    shipped = set(_shipped_keys())
    return [
        (table, f.name)
        for table, cls in TABLES.items()
        for f in fields(cls)
        if (*table, f.name) not in TABLES and (table, f.name) not in shipped
    ]


def _sample(table: Path, key: str) -> Any:
    """A valid value of ``key``: the shipped one, else the dataclass default or a sample."""
    here = _table(SHIPPED, table)
    if key in here:
        return here[key]
    default = getattr(TABLES[table](), key)
    if default is None or default == {}:
        return SAMPLES[key]
    return list(default) if isinstance(default, tuple) else default


def _wrong_types(value: Any) -> list[Any]:
    """Values of another type than ``value`` (a valid value of the key)."""
    if isinstance(value, bool):
        return ["x", 1, [True]]
    if isinstance(value, int | float):
        return ["x", True, [value], {"a": value}]
    if isinstance(value, str):
        return [3, True, [value]]
    if isinstance(value, dict):
        return ["x", 0.5, {k: "x" for k in value}]
    assert isinstance(value, list) and value, value
    first = value[0]
    if isinstance(first, list):  # [[age, probability], ...]
        return ["x", first, [[str(first[0]), first[1]]], [[first[0], "x"]], [first[:1]]]
    if isinstance(first, str):
        return ["x", first, [3], [True]]
    return ["x", first, ["x", *value[1:]], [True, *value[1:]], value[:1]]


def _out_of_range(table: Path, key: str, value: Any) -> list[Any]:
    """Values of the right type that a key with a range (or choices) must refuse."""
    if isinstance(value, bool):
        return []
    if isinstance(value, dict):  # asset weights
        return [{k: 2.0 for k in value}, {k: -0.5 for k in value}, {"nope": 0.5}]
    if isinstance(value, int | float):
        huge = -(10**9) if isinstance(value, int) else -1e9
        out: list[Any] = [huge] + ([] if isinstance(value, int) else [math.nan, -math.inf])
        declared = _declared_range(table, key)
        if declared is not None:
            lo, hi = declared
            step = 1 if isinstance(value, int) else 1e-6 * max(1.0, abs(lo), abs(hi or 0.0))
            out.append(lo - step)
            if hi is not None:
                out.append(hi + step)
        return out
    if isinstance(value, str):
        return [] if key in ("name", "description") else ["nope"]
    if isinstance(value[0], list):  # retirement ages: outside the working life, not summing to 1
        return [[[AGE_LIMITS[0] - 1, 1.0]], [[value[0][0], 0.5]], [[value[0][0], 1.5]]]
    if isinstance(value[0], str):
        return [["nope"]]
    return [[0.7, 0.6], [-0.1, 0.5], [0.5, 1.5], [math.nan, 0.5]]


def _declared_range(table: Path, key: str) -> tuple[float, float | None] | None:
    """The range a key declares in the modules (None: no stated range beyond its type)."""
    pop = SHIPPED["population"]
    ranges: dict[Path, dict[str, tuple[float, float | None]]] = {
        ("population",): {
            **SPEC_RANGES,
            "birth_year": BIRTH_YEARS,
            "target_year": (pop["birth_year"] + TARGET_AGES[0], pop["birth_year"] + TARGET_AGES[1]),
            **{
                k: AGE_LIMITS
                for k in ("first_age", "end_age", "horizon_age", "start_age_min", "start_age_max")
            },
        },
        ("design",): {**DESIGN_RANGES, **{k: (lo, None) for k, lo in DESIGN_COUNTS.items()}},
        ("evaluation",): {k: (lo, None) for k, lo in EVALUATION_COUNTS.items()},
        ("design", "constraints"): {
            "monotone_after_age": (pop["first_age"], pop["end_age"]),
            "landing_age": (pop["first_age"], pop["end_age"]),
            "max_change_per_year": (0.0, None),
            "crypto_cap": (0.0, None),
        },
        (): {"seed": (0, None)},
    }
    return ranges[table].get(key)


def _with(table: Path, key: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(SHIPPED)
    here = data
    for name in table:
        here = here.setdefault(name, {})
    here[key] = value
    return data


def _refused(table: Path, key: str, value: Any) -> str:
    """The StudyError message for ``key = value``; it must name the table and the key."""
    with pytest.raises(StudyError) as info:
        parse_design_study(_with(table, key, value))
    msg = str(info.value)
    assert key in msg and _label(table) in msg, msg
    return msg


KEYS = _shipped_keys()
ALL_KEYS = KEYS + _other_fields()


def _id(tk: tuple[Path, str]) -> str:
    return ".".join((*tk[0], tk[1]))


def test_shipped_file_has_keys_in_every_table() -> None:
    tables = {t for t, _ in KEYS}
    assert tables == set(TABLES), tables
    assert len(KEYS) >= 50


@pytest.mark.parametrize(("table", "key"), ALL_KEYS, ids=[_id(k) for k in ALL_KEYS])
def test_a_wrong_type_is_a_study_error_naming_the_key(table: Path, key: str) -> None:
    for bad in _wrong_types(_sample(table, key)):
        msg = _refused(table, key, bad)
        if not isinstance(bad, list | dict):
            assert repr(bad) in msg, msg


@pytest.mark.parametrize(("table", "key"), ALL_KEYS, ids=[_id(k) for k in ALL_KEYS])
def test_an_out_of_range_value_is_a_study_error_naming_the_key(table: Path, key: str) -> None:
    value = _sample(table, key)
    parse_design_study(_with(table, key, value))  # the valid value itself loads
    for bad in _out_of_range(table, key, value):
        _refused(table, key, bad)


@pytest.mark.parametrize(
    ("table", "key"),
    [(t, k) for t, k in ALL_KEYS if _declared_range(t, k) is not None],
    ids=[_id((t, k)) for t, k in ALL_KEYS if _declared_range(t, k) is not None],
)
def test_the_declared_bounds_are_the_ones_enforced(table: Path, key: str) -> None:
    """The bounds the modules declare are exactly the reader's: the low end loads where
    nothing else ties the key (ages are tied to each other), one step below does not."""
    lo, hi = _declared_range(table, key)  # type: ignore[misc]
    tied = (table == ("population",) and key not in SPEC_RANGES) or table[-1:] == ("constraints",)
    if not tied:
        for ok in (lo, hi) if hi is not None else (lo,):
            value = int(ok) if isinstance(_sample(table, key), int) and ok == int(ok) else ok
            parse_design_study(_with(table, key, value))
    assert any(key in _refused(table, key, bad) for bad in _out_of_range(table, key, lo))


def test_every_dataclass_field_is_a_key_the_reader_accepts() -> None:
    """A new field of a table's dataclass is read (not refused as unknown, not ignored)."""
    for table, key in _other_fields():
        study = parse_design_study(_with(table, key, _sample(table, key)))
        obj: Any = study
        for name in table:
            obj = getattr(obj, name)
        got = getattr(obj, key)
        want = _sample(table, key)
        assert (list(got) if isinstance(got, tuple) else got) == want, (table, key)


def test_an_unknown_key_names_the_closest_allowed_one() -> None:
    msg = _refused(("design",), "knot_spacing", 5.0)
    assert "unknown keys ['knot_spacing']" in msg and "'knot_spacing_years'" in msg


def test_shipped_file_loads_to_the_values_it_states() -> None:
    """The reader changes no value: the study equals the dataclasses built straight from
    the file (lists as tuples), types included (``repr``: an age of 40 stays 40)."""
    raw = copy.deepcopy(SHIPPED)
    pop = raw.pop("population")
    pop["retirement_ages"] = tuple(tuple(p) for p in pop["retirement_ages"])
    design = raw.pop("design")
    cons = design.pop("constraints")
    cons["equity_at_target"] = tuple(cons["equity_at_target"])
    design["assets"] = tuple(design["assets"])
    ev = raw.pop("evaluation")
    ev = {k: tuple(v) if isinstance(v, list) else v for k, v in ev.items()}
    want = DesignStudy(
        **raw,
        population=PopulationSpec(**pop),
        design=DesignSettings(**design, constraints=FundConstraints(**cons)),
        evaluation=EvaluationSettings(**ev),
    )
    got = parse_design_study(SHIPPED)
    assert got == want and repr(got) == repr(want)


@pytest.mark.parametrize("gamma", [-1.0, 31.0])
def test_ce_risk_aversion_is_bounded(gamma: float) -> None:
    msg = _refused(("design",), "gamma", gamma)
    assert "[0.0, 30.0]" in msg, msg
    assert parse_design_study(_with(("design",), "gamma", 2.0)).design.gamma == 2.0
