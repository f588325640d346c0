"""The study's block bootstrap is drawn inside the engine (issue 28).

``StudyContext.scenarios(kind="bootstrap")`` with the stationary method under the "cash"
or "exclude" before-data rule returns a ``GeneratedScenarios`` (a recipe the kernel draws
from); the circular method and the "proxy" rule stay stored. Small sets (a few hundred
scenarios of 30 annual periods) keep each test to seconds.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from typing import Any

import numpy as np
import pandas as pd
import pytest

from backtest.engine_gen import BootstrapScenarios, GeneratedScenarios
from backtest.generators import block_bootstrap
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from glidelab.context import (
    AUTOMATIC_RULE,
    SEED_SCHEME,
    SET_NAMES,
    StudyContext,
    engine_seed,
    set_seed,
)
from glidelab.study import parse_study

N = 300
BOOT = SET_NAMES["bootstrap"]
RAW: dict[str, Any] = {
    "study": {"name": "engine sets", "seed": 5},
    "data": {"frequency": "annual"},
    "scenarios": {
        "historical": False,
        "bootstrap_n": N,
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
            "withdrawal": {"rule": "constant_real", "amount": 45_000},
        }
    ],
    "strategies": {"presets": ["fixed_60_40"], "crypto_sleeves": [0.05]},
    "optimize": {"enabled": False},
}


def _context(**scenarios: Any) -> StudyContext:
    raw = copy.deepcopy(RAW)
    raw["scenarios"].update(scenarios)
    return StudyContext(parse_study(raw, "test"))


def _boot(ctx: StudyContext, **kw: Any) -> Scenarios:
    return ctx.scenarios(BOOT, ctx.study.plans[0].plan, N, "bootstrap", **kw)


def test_the_study_bootstrap_set_is_drawn_in_the_engine() -> None:
    ctx = _context()
    sets = ctx.study_sets(ctx.study.plans[0].plan)
    sc = sets[BOOT]
    assert isinstance(sc, GeneratedScenarios)
    assert not sc.returns_materialised  # a recipe: nothing drawn yet
    assert sc.assets == ctx.assets
    m = sc.meta
    assert (m["route"], m["set_name"], m["seed"], m["seeding"]) == ("engine", BOOT, 5, SEED_SCHEME)
    assert m["missing"] == "cash" and "btc" in m["filled_with_cash"]  # type: ignore[operator]
    assert m["block_length_rule"] == AUTOMATIC_RULE
    assert m["history_span"] == "1928..2025" and m["history_rows"] == len(ctx.history)
    assert "drawn in the engine" in sc.description and f"{N} x 30 periods" in sc.description
    # the automatic block length is the stored route's number, on the same filled rows
    stored = block_bootstrap(ctx.history, list(ctx.assets), 1, 1, rng=0, **ctx.missing)
    assert m["block_length"] == stored.meta["block_length"]
    assert m["filled_with_cash"] == stored.meta["filled_with_cash"]
    # a given block length is used as given
    given = _boot(ctx, block_length=3.0)
    assert given.meta["block_length"] == 3.0 and given.meta["block_length_rule"] == "given"


@pytest.mark.parametrize("n_chunks", [1, 2, 4])
def test_chunks_are_the_whole_sets_rows_bit_for_bit(n_chunks: int) -> None:
    ctx = _context()
    whole = _boot(ctx)
    edges = np.linspace(0, N, n_chunks + 1).astype(int)
    edges[1:-1] += 7  # chunk edges off any round number
    chunks = [_boot(ctx, rows=(int(a), int(z))) for a, z in itertools.pairwise(edges)]
    assert all(isinstance(c, GeneratedScenarios) for c in chunks)  # lazy slices
    np.testing.assert_array_equal(np.concatenate([c.returns for c in chunks]), whole.returns)
    np.testing.assert_array_equal(np.concatenate([c.inflation for c in chunks]), whole.inflation)
    assert np.unique(whole.returns[:, :, 0], axis=0).shape[0] == N  # scenarios differ


@pytest.mark.parametrize("sleeve", [None, 0.05])
def test_the_fused_route_agrees_with_the_numpy_engine_on_the_materialised_set(
    sleeve: float | None,
) -> None:
    # The sleeve case: a crypto sleeve under before_data="cash" reads whether its return is
    # missing; on a drawn set nothing is (the table was filled), as on the materialised one.
    ctx = _context()
    plan = ctx.study.plans[0].plan
    sc = _boot(ctx)
    assert isinstance(sc, GeneratedScenarios)
    strategy = ctx.strategy("fixed_60_40", sleeve)
    fused = simulate(sc, plan, strategy)
    assert not sc.returns_materialised  # the kernel drew the rows itself
    stored = simulate(sc.materialise(), plan, strategy, engine="numba")
    np.testing.assert_array_equal(fused.wealth, stored.wealth)  # same draws, same code
    ref = simulate(sc, plan, strategy, engine="numpy")  # reads the materialised returns
    # the two engines agree to round-off (tests/backtest/test_kernel.py): 1e-9 of each
    # path's scale leaves room for fused multiply-adds over 30 periods
    scale = np.abs(ref.wealth).max(axis=1, keepdims=True) + 1.0
    assert np.max(np.abs(fused.wealth - ref.wealth) / scale) < 1e-9
    np.testing.assert_array_equal(fused.ruin_period, ref.ruin_period)
    assert 0.0 < fused.success_rate < 1.0  # the comparison can fail


def test_the_cash_rule_table_is_the_stored_routes_filled_rows() -> None:
    ctx = _context()
    sc = _boot(ctx)
    assert isinstance(sc, BootstrapScenarios)
    h = ctx.history
    # independently: Bitcoin's missing years earn that year's T-bill return
    expected = h[["us_stocks", "tbonds_10y", "tbills", "btc"]].copy()
    gap = expected["btc"].isna()
    assert gap.any() and not gap.all()
    expected.loc[gap, "btc"] = expected.loc[gap, "tbills"]
    np.testing.assert_array_equal(sc.table_returns, expected.to_numpy())
    np.testing.assert_array_equal(sc.table_inflation, h["cpi"].to_numpy())
    # every row the stored route resamples under the same rule is a row of the table
    stored = block_bootstrap(h, list(ctx.assets), 50, 30, block_length=1.0, rng=1, **ctx.missing)
    drawn = np.concatenate([stored.returns, stored.inflation[:, :, None]], axis=2).reshape(-1, 5)
    table = np.column_stack([sc.table_returns, sc.table_inflation])
    assert pd.DataFrame(drawn).merge(pd.DataFrame(table)).shape[0] == drawn.shape[0]


def test_without_the_crypto_column_the_table_is_the_complete_rows() -> None:
    ctx = _context()
    core = ["us_stocks", "tbonds_10y", "tbills"]
    sc = _boot(ctx, assets=core)
    assert isinstance(sc, BootstrapScenarios)
    assert sc.meta["missing"] == "exclude" and sc.meta["dropped_missing"] == 0
    np.testing.assert_array_equal(sc.table_returns, ctx.history[core].to_numpy())


@pytest.mark.parametrize(
    "changes",
    [{"bootstrap_method": "circular"}, {"crypto_before_data": "proxy"}],
    ids=["circular", "proxy"],
)
def test_circular_and_proxy_stay_stored_and_say_so(changes: dict[str, str]) -> None:
    ctx = _context(**changes)
    sc = _boot(ctx)
    assert not isinstance(sc, GeneratedScenarios)
    assert sc.meta["route"] == "stored"
    assert "drawn in the engine" not in sc.description
    assert np.isfinite(sc.returns).all()  # the proxy fills Bitcoin's missing years
    if "crypto_before_data" in changes:
        # a set without the crypto column applies no before-data rule: drawn in the engine
        core = _boot(ctx, assets=["us_stocks", "tbonds_10y", "tbills"])
        assert isinstance(core, GeneratedScenarios) and core.meta["route"] == "engine"


def test_the_same_name_and_seed_give_the_same_set_another_name_differs() -> None:
    a = _boot(_context())
    a2 = _boot(_context())  # another context: nothing shared but the study
    np.testing.assert_array_equal(a.returns, a2.returns)
    assert a.meta["engine_seed"] == engine_seed(5, BOOT)
    assert engine_seed(5, BOOT) == set_seed(5, BOOT).generate_state(1, np.uint64)[0]
    ctx = _context()
    other = ctx.scenarios("another name", ctx.study.plans[0].plan, N, "bootstrap")
    same = [np.array_equal(a.returns[i], other.returns[i]) for i in range(N)]
    assert not any(same)
    study = dataclasses.replace(ctx.study, seed=6)
    reseeded = StudyContext(study).scenarios(BOOT, study.plans[0].plan, N, "bootstrap")
    assert not np.array_equal(a.returns, reseeded.returns)


@pytest.mark.parametrize("n_chunks", [1, 2, 4])
def test_the_parametric_set_is_drawn_in_the_engine_in_any_chunks(n_chunks: int) -> None:
    from backtest.engine_gen import ParametricScenarios

    ctx = _context(parametric_n=N)
    plan = ctx.study.plans[0].plan
    whole = ctx.scenarios("parametric", plan, N, "parametric")
    assert isinstance(whole, ParametricScenarios) and not whole.returns_materialised
    assert whole.assets == ctx.assets  # the crypto column at its proxy, in the roles' order
    assert whole.meta["route"] == "engine" and whole.meta["set_name"] == "parametric"
    assert "drawn in the engine" in whole.description
    edges = np.linspace(0, N, n_chunks + 1).astype(int)
    parts = [
        ctx.scenarios("parametric", plan, N, "parametric", rows=(int(a), int(b)))
        for a, b in itertools.pairwise(edges)
    ]
    assert np.array_equal(np.concatenate([p.returns for p in parts]), whole.returns)
    assert np.array_equal(np.concatenate([p.inflation for p in parts]), whole.inflation)


def test_the_parametric_set_has_the_stated_crypto_proxy() -> None:
    # The proxy is stated in log terms: mean 0.05, volatility 0.6 a year, uncorrelated.
    ctx = _context(parametric_n=4000)
    sc = ctx.scenarios("parametric", 30, 4000, "parametric")
    x = np.log1p(sc.returns[:, :, ctx.assets.index("btc")]).ravel()  # 120,000 i.i.d. draws
    se_mean = 0.6 / np.sqrt(x.size)
    assert abs(x.mean() - 0.05) < 5 * se_mean  # 5 s.e.: fails about once in 1.7 million
    se_vol = 0.6 / np.sqrt(2 * x.size)
    assert abs(x.std() - 0.6) < 5 * se_vol
    stocks = np.log1p(sc.returns[:, :, 0]).ravel()
    assert abs(np.corrcoef(x, stocks)[0, 1]) < 5 / np.sqrt(x.size)  # uncorrelated by design
