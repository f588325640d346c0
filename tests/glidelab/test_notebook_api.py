"""The notebook API: short summaries instead of array dumps, labelled frames, no forced I/O.

Every object a notebook user prints (a study, a simulation result, an optimiser result)
has a ``__repr__`` of a few lines and a ``_repr_html_``; results come as labelled pandas
frames on request; ``ConstantReal(amount=...)`` works alone; ``run_study(...,
write=False)`` computes without touching the disk.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import glidelab as gl
from backtest.errors import DataError, PlanError
from backtest.plan import ConstantReal, Plan
from backtest.scenarios import Scenarios
from backtest.simulate import SimulationResult, simulate
from glidelab.study import parse_study_file
from optimize.glidepath import OptimizationResult, optimize_glide_path
from strategies import preset

ASSETS = ("us_stocks", "tbonds_10y")
#: A summary is a few short lines, never an array dump (the issue measured 7-26 kB); the
#: HTML form carries its markup and escaped quotes on top.
MAX_REPR, MAX_HTML = 600, 1000


def _scenarios(n: int = 60, n_t: int = 30, seed: int = 0) -> Scenarios:
    """Generated annual nominal returns (decimal) of two assets and inflation."""
    rng = np.random.default_rng(seed)
    r = np.stack([rng.normal(0.08, 0.18, (n, n_t)), rng.normal(0.04, 0.07, (n, n_t))], -1)
    labels = tuple(f"s{i}" for i in range(n))
    return Scenarios(r, rng.normal(0.03, 0.02, (n, n_t)), ASSETS, "annual", labels=labels)


def _retiree() -> Plan:
    return Plan(65, 65, 95, 1_000_000, withdrawal=ConstantReal(amount=45_000))


@pytest.fixture(scope="module")
def result() -> SimulationResult:
    strategy = preset("fixed_60_40", equity="us_stocks", bonds="tbonds_10y", cash="tbills")
    # The numpy engine: same results, no numba compilation to wait for in a unit test.
    return simulate(_scenarios(), _retiree(), strategy, engine="numpy")


def _is_summary(text: str, *must: str) -> None:
    assert len(text) < (MAX_HTML if text.startswith("<") else MAX_REPR), text
    assert "array(" not in text and "[[" not in text, text
    for word in must:
        assert word in text, (word, text)


# ----------------------------------------------------------------------- ConstantReal


def test_constant_real_amount_alone_replaces_the_default_rate() -> None:
    rule = ConstantReal(amount=40_000)
    assert (rule.rate, rule.amount) == (None, 40_000)
    assert ConstantReal().rate == 0.04 and type(ConstantReal().rate) is float
    assert ConstantReal() == ConstantReal(rate=0.04)
    assert ConstantReal(rate=None, amount=40_000) == rule
    with pytest.raises(PlanError, match="exactly one"):
        ConstantReal(rate=0.04, amount=40_000)  # both written: ambiguous
    with pytest.raises(PlanError, match="exactly one"):
        ConstantReal(rate=None, amount=None)


# ----------------------------------------------------------------- simulation result


def test_simulation_result_prints_a_short_summary(result: SimulationResult) -> None:
    text = repr(result)
    _is_summary(text, "Fixed 60/40", "60 annual scenarios", "success", "s.e.")
    assert f"{100 * result.success_rate:.1f}%" in text
    html = result._repr_html_()
    _is_summary(html, "<b>SimulationResult", "<li>")
    assert "&#x27;Fixed 60/40&#x27;" in html  # escaped, not raw markup


def test_simulation_result_to_frame_is_one_row_per_scenario(result: SimulationResult) -> None:
    frame = result.to_frame()
    assert list(frame.index[:2]) == ["s0", "s1"] and frame.index.name == "scenario"
    assert len(frame) == result.n_scenarios
    assert list(frame.columns) == [
        "success",
        "ruin_age",
        "wealth_at_retirement",
        "terminal_wealth",
        "withdrawals_paid",
    ]
    assert frame["success"].tolist() == result.success.tolist()
    np.testing.assert_array_equal(frame["terminal_wealth"], result.wealth[:, -1])
    lasted = frame["success"].to_numpy()
    assert frame.loc[lasted, "ruin_age"].isna().all()
    assert frame.loc[~lasted, "ruin_age"].between(65, 95).all()


def test_percentiles_by_age_are_labelled_by_age(result: SimulationResult) -> None:
    table = result.percentiles_by_age((5, 50, 95))
    assert list(table.columns) == ["p5", "p50", "p95"] and table.index.name == "age"
    assert table.index[0] == 65 and table.index[-1] == 95 and len(table) == 31
    np.testing.assert_array_equal(table["p50"], np.median(result.wealth, axis=0))
    assert (table["p5"] <= table["p95"]).all()
    with pytest.raises(DataError, match="0 to 100"):
        result.percentiles_by_age((50, 120))


# ------------------------------------------------------------------ optimiser result


@pytest.fixture(scope="module")
def optimised() -> OptimizationResult:
    return optimize_glide_path(
        _scenarios(80, seed=1), _retiree(), ASSETS, max_iterations=2, progress=False
    )


def test_optimiser_result_prints_a_short_summary(optimised: OptimizationResult) -> None:
    _is_summary(repr(optimised), "us_stocks, tbonds_10y", "success in sample", "s.e.")
    assert "out of sample: none" in repr(optimised)
    _is_summary(optimised._repr_html_(), "<b>OptimizationResult", "<li>")


def test_weights_by_age_frame_labels_the_array(optimised: OptimizationResult) -> None:
    frame = optimised.to_frame()
    assert list(frame.columns) == list(ASSETS) and frame.index.name == "age"
    np.testing.assert_array_equal(frame.to_numpy(), optimised.weights_by_age)  # same numbers
    np.testing.assert_array_equal(frame.index, optimised.ages)
    assert isinstance(optimised.weights_by_age, np.ndarray)  # the array attribute stays


# ------------------------------------------------------------------------- studies


@pytest.mark.parametrize("name", gl.shipped_studies())
def test_every_shipped_study_prints_a_short_summary(name: str) -> None:
    sf = gl.load_study(name)
    _is_summary(repr(sf), name)
    assert "Config(" not in repr(sf)  # no dataclass dump
    _is_summary(sf._repr_html_(), "<b>StudyFile")
    if sf.study is not None:
        _is_summary(repr(sf.study), "plans:", "scenarios:", "optimiser:")


def _tiny_study() -> dict[str, object]:
    """A study that runs in seconds: 40 bootstrap scenarios, one preset, no tear sheet or
    population section."""
    return {
        "study": {"name": "tiny", "seed": 7, "description": "a notebook check"},
        "scenarios": {"historical": False, "bootstrap_n": 40, "block_length": 5},
        "plans": [
            {"name": "r", "start_age": 65, "retirement_age": 65, "end_age": 80}
            | {"initial_balance": 500_000, "withdrawal": {"amount": 25_000}}
        ],
        "strategies": {"presets": ["fixed_60_40"]},
        "optimize": {"enabled": False},
        "output": {"tearsheet": False, "population": False},
    }


def test_run_study_write_false_touches_no_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sf = parse_study_file(_tiny_study())
    res = gl.run_study(sf, tmp_path / "out", write=False, progress=False)
    assert not res.written and not (tmp_path / "out").exists()
    assert not os.listdir(tmp_path), "run_study(write=False) wrote into the working folder"
    assert isinstance(res.success, pd.DataFrame) and len(res.success) >= 1
    assert res.success["plan"].tolist()[0] == "r"
    assert 0.0 <= float(res.success["success_rate"].iloc[0]) <= 1.0
    assert "Files:" not in res.summary  # no list of files that were never written
