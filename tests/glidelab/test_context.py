"""The study context: one seed tree, named scenario sets, one route to a strategy."""

from __future__ import annotations

import copy
import dataclasses
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backtest.cma import example_cma, to_toml
from backtest.engine_gen import CmaScenarios
from backtest.errors import StudyError
from glidelab.backends import InProcess
from glidelab.context import BLOCK, SET_NAMES, StudyContext, set_seed
from glidelab.study import load_study, parse_study
from glidelab.studyfile.sweep import SET_KINDS
from glidelab.sweep import Shared, _generate, _Planner, apply_point, parse_sweep, run_sweep

# Sizes cross a seed block (BLOCK = 1000) and the chunks (500) do not line up with
# blocks, so the sweep's chunked draws are checked against the runner's whole sets.
N = 1200
RAW: dict[str, Any] = {
    "study": {"name": "ctx", "seed": 11},
    "data": {"frequency": "annual"},
    "scenarios": {
        "historical": True,
        "bootstrap_n": N,
        "parametric_n": N,
        "crypto_before_data": "cash",
        "crypto_proxy": {"mean_log_annual": 0.05, "vol_log_annual": 0.6},
    },
    "plans": [
        {
            "name": "retiree",
            "start_age": 65,
            "retirement_age": 65,
            "end_age": 95,
            "initial_balance": 1_000_000,
            "withdrawal": {"rule": "constant_real", "amount": 42_000},
        }
    ],
    "strategies": {"presets": ["fixed_60_40"], "crypto_sleeves": [0.025]},
    "optimize": {"enabled": False},
}
SWEEP = {
    "plan": "retiree",
    "strategy": "fixed_60_40",
    "scenarios": ["historical", "bootstrap", "parametric"],
    "n_scenarios": N,
    "chunk_size": 500,
    "points_per_task": 1,
    "grid": {"crypto_sleeve": [0.025]},
}


def _study(**changes: Any) -> Any:
    raw = copy.deepcopy(RAW)
    for table, values in changes.items():
        for key, value in values.items():
            if value is None:
                raw[table].pop(key)
            else:
                raw[table][key] = value
    return parse_study(raw, "test")


def test_runner_and_sweep_see_the_same_scenarios_and_numbers(tmp_path: Path) -> None:
    from glidelab.run import evaluate_study, scenario_sets, strategies_for

    sweep = parse_sweep({**copy.deepcopy(RAW), "sweep": SWEEP}, "test")
    study = sweep.study
    plan = study.plan("retiree").plan
    runner_sets = scenario_sets(study, None, plan)  # what glidelab run evaluates
    # the kinds a sweep can draw, all three enabled here (a CMA set is the runner's only)
    swept_kinds = {k: SET_NAMES[k] for k in SET_KINDS}
    assert set(runner_sets) == set(swept_kinds.values())

    context = StudyContext(study)
    planner, shared = _Planner(sweep, context), Shared(context)
    pair = apply_point(sweep, {"crypto_sleeve": 0.025})
    n_t = plan.n_periods(1)
    for kind, name in swept_kinds.items():
        chunks = [_generate(t, shared) for t in planner.tasks([pair], kind, n_t)]
        assert len(chunks) == (1 if kind == "historical" else 3)  # random sets: chunked
        whole = runner_sets[name]
        assert whole.assets == ("us_stocks", "tbonds_10y", "tbills", "btc")
        np.testing.assert_array_equal(np.concatenate([c.returns for c in chunks]), whole.returns)
        np.testing.assert_array_equal(
            np.concatenate([c.inflation for c in chunks]), whole.inflation
        )
    # The sweep's parametric set holds the crypto asset at the study's proxy, as the
    # runner's does (it used to drop it): no NaN, and a volatility near the stated 0.6.
    btc = np.log1p(runner_sets["parametric"].returns[:, :, 3])
    assert np.isfinite(btc).all()
    assert abs(btc.std() - 0.6) < 0.02  # 36,000 draws: standard error of the sd ~0.002

    # End to end: the same strategy scores the same in both sections, to the last bit.
    label = "fixed_60_40 + 2.5% btc"
    table = evaluate_study(study, {label: strategies_for(study)[label]}, {"retiree": runner_sets})
    swept = run_sweep(sweep, backend=InProcess(), progress=False, charts=False, folder=tmp_path)
    for kind, name in swept_kinds.items():
        ours = table[table.scenarios == name].iloc[0]
        theirs = swept.table[swept.table.scenarios == kind].iloc[0]
        assert theirs["n_scenarios"] == ours["n_scenarios"]
        assert theirs["success_rate"] == ours["success_rate"]
    assert 0 < table.success_rate.min() < 1  # the comparison can fail


def test_set_names_give_independent_draws_whatever_the_order() -> None:
    study = _study()
    a_first = StudyContext(study)
    a = a_first.scenarios("a", 30, 400, "bootstrap")
    b = a_first.scenarios("b", 30, 400, "bootstrap")
    b_first = StudyContext(study)
    b2 = b_first.scenarios("b", 30, 400, "bootstrap")
    a2 = b_first.scenarios("a", 30, 400, "bootstrap")
    np.testing.assert_array_equal(a.returns, a2.returns)
    np.testing.assert_array_equal(b.returns, b2.returns)
    # Different names: no scenario path in common.
    same = [np.array_equal(a.returns[i], b.returns[i]) for i in range(a.n_scenarios)]
    assert not any(same)
    # Parametric draws of two names are uncorrelated (40,000 pairs: sd of r ~0.005).
    p = a_first.scenarios("p", 100, 400, "parametric", assets=["us_stocks"])
    q = a_first.scenarios("q", 100, 400, "parametric", assets=["us_stocks"])
    r = np.corrcoef(p.returns.ravel(), q.returns.ravel())[0, 1]
    assert abs(r) < 0.03
    # Another seed, other draws.
    other = StudyContext(dataclasses.replace(study, seed=12)).scenarios("a", 30, 400)
    assert not np.array_equal(a.returns, other.returns)


def test_rows_of_a_set_are_its_slice() -> None:
    ctx = StudyContext(_study())
    whole = ctx.scenarios("block bootstrap", 30, 2 * BLOCK + 50)
    part = ctx.scenarios("block bootstrap", 30, 2 * BLOCK + 50, rows=(BLOCK - 7, 2 * BLOCK + 3))
    np.testing.assert_array_equal(part.returns, whole.returns[BLOCK - 7 : 2 * BLOCK + 3])
    with pytest.raises(StudyError, match="rows 0:5000 outside 0:100"):
        ctx.scenarios("block bootstrap", 30, 100, rows=(0, 5000))


def test_seed_of_a_set_is_its_names_child_of_the_study_seed() -> None:
    seq = set_seed(11, "block bootstrap", 2)
    assert seq.entropy == 11
    assert seq.spawn_key == (zlib.crc32(b"block bootstrap"), 2)


@pytest.mark.parametrize(("frequency", "ppy", "periods"), [("annual", 1, 30), ("monthly", 12, 360)])
def test_periods_per_year_from_the_frequency(frequency: str, ppy: int, periods: int) -> None:
    ctx = StudyContext(_study(data={"frequency": frequency}))
    assert ctx.periods_per_year == ppy
    plan = ctx.study.plan("retiree").plan
    assert ctx.n_periods(plan) == periods
    assert ctx.scenarios("x", plan, 10).n_periods == periods


def test_one_route_to_a_strategy() -> None:
    custom = {"name": "mine", "years_to_retirement": [10, -10], "equity": [0.8, 0.3]}
    ctx = StudyContext(_study(strategies={"custom": [custom]}))
    built = ctx.strategies()
    assert list(built) == ["fixed_60_40", "fixed_60_40 + 2.5% btc", "mine"]
    assert ctx.strategy("fixed_60_40", sleeve=0.025) == built["fixed_60_40 + 2.5% btc"]
    assert ctx.strategy("mine") == built["mine"]
    with pytest.raises(StudyError, match="'mine' is a custom glide path"):
        ctx.strategy("mine", sleeve=0.01)
    with pytest.raises(StudyError, match=r"\[strategies\]"):
        ctx.strategy("no_such_preset")


def test_parametric_with_the_crypto_asset_needs_its_proxy() -> None:
    ctx = StudyContext(_study(scenarios={"crypto_proxy": None, "parametric_n": 0}))
    with pytest.raises(StudyError, match="crypto_proxy"):
        ctx.scenarios("parametric", 30, 10, "parametric")
    # Without the crypto asset, no assumption is needed.
    core = ctx.scenarios("parametric", 30, 10, "parametric", assets=["us_stocks", "tbills"])
    assert core.assets == ("us_stocks", "tbills")


def test_sections_run_write_and_summarise(tmp_path: Path) -> None:
    from glidelab.sections import Crypto, Validation, run_sections, study_sections
    from glidelab.study import CryptoConfig

    ctx = StudyContext(_study())
    assert [type(s) for s in study_sections(ctx)] == [Validation]
    with_crypto = study_sections(ctx, CryptoConfig(plan="retiree"))
    assert [type(s) for s in with_crypto] == [Crypto, Validation]
    (ran,) = run_sections(ctx, study_sections(ctx))
    ran.write(tmp_path)
    assert sorted(p.name for p in (tmp_path / "validation").iterdir()) == [
        "trinity.csv",
        "trinity.md",
    ]
    assert f"{len(ran.result)} cells reproduced" in ran.summary()


def test_a_set_drawn_in_blocks_describes_its_whole_size() -> None:
    """A set drawn in seed blocks of 1,000 says how many scenarios it holds, not one
    block's count (the tear sheet printed '1000 x 70 periods' for a set of 5,000)."""
    study = load_study("default").study
    assert study is not None
    ctx = StudyContext(study)
    plan = study.plans[0].plan
    sets = ctx.scenarios("report bootstrap check", plan, 2500, "bootstrap")
    assert sets.returns.shape[0] == 2500
    assert f"2500 x {sets.returns.shape[1]}" in sets.description
    assert "1000 x" not in sets.description


def test_a_cma_set_is_moment_matched_to_its_file_over_the_whole_set(tmp_path: Path) -> None:
    """[scenarios] cma / cma_n: a named set drawn from the stated assumptions (issue 25),
    drawn in the engine with the four roles (issue 28): the whole set is matched to the
    file's moments, an asset the file does not state (crypto) has no data, and a chunk
    (``rows=``) holds the whole set's rows."""
    raw = copy.deepcopy(RAW)
    raw["scenarios"].update(cma="example", cma_n=N)
    context = StudyContext(parse_study(raw))
    plan = context.study.plans[0].plan
    sets = context.study_sets(plan)
    s = sets[SET_NAMES["cma"]]
    crypto = context.study.data.crypto
    assert isinstance(s, CmaScenarios) and s.meta["route"] == "engine"
    assert s.n_scenarios == N and s.meta["set_name"] == SET_NAMES["cma"]
    assert s.no_data == (crypto,) and crypto in s.assets
    assert np.isnan(s.returns[..., list(s.assets).index(crypto)]).all()
    j = list(s.assets).index("us_stocks")
    real = (1 + s.returns[:, :, j]) / (1 + s.inflation) - 1
    stocks = context.cma.assets.index("us_stocks")
    # exact up to the round-off of a 36,000-draw mean and s.d. (about 1e-15 relative)
    assert real.mean() == pytest.approx(context.cma.arithmetic_real_return[stocks], abs=1e-12)
    assert real.std(ddof=1) == pytest.approx(context.cma.volatility[stocks], rel=1e-10)
    again = StudyContext(parse_study(raw)).scenarios(SET_NAMES["cma"], plan, N, "cma")
    np.testing.assert_array_equal(again.returns, s.returns)  # NaN == NaN here
    chunk = context.scenarios(SET_NAMES["cma"], plan, N, "cma", rows=(BLOCK - 7, N))
    assert isinstance(chunk, CmaScenarios)
    np.testing.assert_array_equal(chunk.returns, s.returns[BLOCK - 7 :])


def test_a_cma_set_of_non_integer_dof_stays_stored(tmp_path: Path) -> None:
    """A Student-t of non-integer dof is drawn by numpy (``engine_route``): with an unstated
    crypto column it is drawn per seed block and stored, NaN there; a chunk holds the
    whole set's rows."""
    cma = dataclasses.replace(example_cma(), distribution="student_t", dof=4.5)
    path = tmp_path / "t.toml"
    path.write_text(to_toml(cma))
    raw = copy.deepcopy(RAW)
    raw["scenarios"].update(cma=str(path), cma_n=10)
    context = StudyContext(parse_study(raw))
    whole = context.scenarios("stored cma", 20, 60, "cma")
    crypto = context.study.data.crypto
    assert not isinstance(whole, CmaScenarios) and whole.meta["route"] == "stored"
    assert "dof=4.5" in str(whole.meta["route_reason"])
    assert "states no" in str(whole.meta["route_reason"])
    assert np.isnan(whole.returns[..., list(whole.assets).index(crypto)]).all()
    part = context.scenarios("stored cma", 20, 60, "cma", rows=(17, 60))
    np.testing.assert_array_equal(part.returns, whole.returns[17:])


def test_a_cma_set_needs_a_readable_annual_file(tmp_path: Path) -> None:
    raw = copy.deepcopy(RAW)
    raw["scenarios"].update(cma_n=10)
    with pytest.raises(StudyError, match=r"cma_n > 0 needs \[scenarios\]\.cma"):
        parse_study(raw)
    raw["scenarios"].update(cma=str(tmp_path / "missing.toml"))
    context = StudyContext(parse_study(raw))
    with pytest.raises(StudyError, match=r"\[scenarios\]\.cma: no CMA file"):
        context.study_sets(context.study.plans[0].plan)


# ------------------------------------------------------------ international bootstrap (H10)


def _international_context(n: int = N) -> StudyContext:
    raw = copy.deepcopy(RAW)
    raw["scenarios"].update(international_n=n, block_length=5)
    return StudyContext(parse_study(raw))


def test_an_international_set_draws_whole_years_of_single_countries() -> None:
    """[scenarios] international_n (issue 25): every drawn year is one JST country's
    complete year (equity, bonds and bills of the same country and year, in real terms),
    Canada (no bonds in JST) is left out, and the crypto role has no data."""
    from backtest.generators import panel_rows

    context = _international_context()
    s = context.study_sets(context.study.plans[0].plan)[SET_NAMES["international"]]
    assert s.n_scenarios == N and s.meta["set_name"] == SET_NAMES["international"]
    assert s.meta["left_out"] == ("CAN",)
    assert np.all(s.inflation == 0)  # real local-currency returns
    assert np.isnan(s.returns[..., list(s.assets).index(context.study.data.crypto)]).all()
    core = ["us_stocks", "tbonds_10y", "tbills"]
    panel = {k: v for k, v in context.international_panel.items() if k != "CAN"}
    rows = panel_rows(panel, core)
    lookup = {tuple(r): i for i, r in enumerate(rows.real.tolist())}
    assert len(lookup) == len(rows.real)  # every country-year's triple is unique
    drawn = s.returns[..., [list(s.assets).index(c) for c in core]].reshape(-1, 3)
    idx = np.array([lookup[tuple(r)] for r in drawn.tolist()])  # KeyError: a mixed row
    idx = idx.reshape(s.returns.shape[:2])
    prev, cur = idx[:, :-1], idx[:, 1:]
    same = (rows.country[prev] == rows.country[cur]) & (rows.period[cur] == rows.period[prev] + 1)
    # expected block length 5: about 4 in 5 steps continue a block (fewer at run ends)
    assert 0.6 < same.mean() < 0.85
    # a block never runs past a gap or a country's last year
    assert not np.any(same & rows.run_end[prev])


def test_an_international_set_is_reproducible_per_seed_block() -> None:
    from backtest.generators import panel_block_bootstrap

    context = _international_context()
    plan = context.study.plans[0].plan
    name = SET_NAMES["international"]
    whole = context.scenarios(name, plan, N, "international")
    chunk = _international_context().scenarios(name, plan, N, "international", rows=(BLOCK, N))
    np.testing.assert_array_equal(chunk.returns, whole.returns[BLOCK:])
    # block 1 is the panel bootstrap drawn from the set's child seed 1
    core = ["us_stocks", "tbonds_10y", "tbills"]
    panel = {k: v for k, v in context.international_panel.items() if k != "CAN"}
    rng = np.random.default_rng(set_seed(11, name, 1))
    direct = panel_block_bootstrap(panel, core, N - BLOCK, whole.n_periods, 5.0, rng)
    cols = [list(whole.assets).index(c) for c in core]
    np.testing.assert_array_equal(whole.returns[BLOCK:, :, cols], direct.returns)
    other = dataclasses.replace(context.study, seed=12)
    assert not np.array_equal(
        StudyContext(other).scenarios(name, plan, 50, "international").returns[..., 0],
        context.scenarios(name, plan, 50, "international").returns[..., 0],
    )


def test_an_international_set_is_refused_for_a_monthly_study() -> None:
    study = _study(data={"frequency": "monthly"}, scenarios={"international_n": 10})
    assert study.scenarios.international_n == 10
    context = StudyContext(study)
    with pytest.raises(StudyError, match="annual"):
        context.scenarios(SET_NAMES["international"], 12, 10, "international")
    with pytest.raises(StudyError, match="international_n"):
        _study(scenarios={"international_n": -1})


def test_an_international_set_takes_the_us_bootstraps_automatic_block_length() -> None:
    raw = copy.deepcopy(RAW)
    raw["scenarios"].update(international_n=20)  # block_length "auto" (the default)
    context = StudyContext(parse_study(raw))
    plan = context.study.plans[0].plan
    us = context.scenarios(SET_NAMES["bootstrap"], plan, 20, "bootstrap")
    intl = context.scenarios(SET_NAMES["international"], plan, 20, "international")
    assert intl.meta["block_length"] == us.meta["block_length"]  # the same number, reused
