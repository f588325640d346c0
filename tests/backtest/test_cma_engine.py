"""Capital-market-assumption scenarios drawn in the engine (``backtest.cma.cma_in_engine``).

The kernel draws each scenario's normals keyed by (seed, scenario, year), exponentiates
them and applies the moment-matching map fitted once over the whole set in a pre-pass;
``CmaScenarios.returns`` materialises the same numbers in numpy. Both routes must give
the same SimulationResult bit for bit, in any chunking, and the whole set must keep the
CMA's sample moments.
"""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest

from backtest.cma import CapitalMarketAssumptions, cma_in_engine, cma_scenarios, engine_route
from backtest.engine_gen import CmaScenarios
from backtest.errors import DataError
from backtest.plan import ConstantReal, Contributions, GuytonKlinger, Plan
from backtest.simulate import simulate, simulate_chunked
from glidelab.context import StudyContext
from glidelab.study import parse_study
from strategies import CryptoSleeve
from tests.backtest.mixes import Mix

ASSETS = ("stocks", "bonds", "bills")
PATHS = ("wealth", "withdrawals", "fees", "costs", "gains", "turnover", "portfolio_returns")

# made-up assumptions for a test (decimal real returns a year)
CMA = CapitalMarketAssumptions(
    name="test",
    source="made up for a test",
    assets=ASSETS,
    arithmetic_real_return=(0.05, 0.015, 0.004),
    volatility=(0.18, 0.07, 0.01),
    correlation=((1.0, 0.2, 0.1), (0.2, 1.0, 0.4), (0.1, 0.4, 1.0)),
    inflation=0.025,
)
T_CMA = CapitalMarketAssumptions(**{**CMA.__dict__, "distribution": "student_t", "dof": 5.0})


def _plans() -> list[Plan]:
    """A saver turned retiree and a Guyton-Klinger retiree (reads the period returns)."""
    saver = Plan(
        40.0,
        65.0,
        95.0,
        100_000.0,
        contributions=Contributions(salary=80_000, rate=0.1, timing="end"),
        withdrawal=ConstantReal(rate=0.045, timing="start"),
        expense_ratio=0.004,
        transaction_cost_bps=5.0,
    )
    gk = Plan(65.0, 65.0, 95.0, 1_000_000.0, withdrawal=GuytonKlinger(initial_rate=0.055))
    return [saver, gk]


def _real(returns: np.ndarray, inflation: np.ndarray) -> np.ndarray:
    return ((1.0 + returns) / (1.0 + inflation[..., None]) - 1.0).reshape(-1, returns.shape[2])


@pytest.mark.parametrize("cma", [CMA, T_CMA], ids=["lognormal", "student_t"])
@pytest.mark.parametrize("plan_i", [0, 1])
def test_fused_route_equals_the_materialised_route(
    cma: CapitalMarketAssumptions, plan_i: int
) -> None:
    # 150 scenarios: two full blocks of lanes and a partial one. Same counters, same
    # pure-arithmetic normals, exp, square root and map: bit for bit.
    plan = _plans()[plan_i]
    gen = cma_in_engine(cma, 150, plan.n_periods(1) + 3, seed=17)
    assert isinstance(gen, CmaScenarios) and gen.meta["route"] == "engine"
    strategy = Mix("mix", ASSETS, (0.5, 0.3, 0.2))
    fused = simulate(gen, plan, strategy)
    assert not gen.returns_materialised  # the kernel drew them itself
    stored = simulate(gen.materialise(), plan, strategy)
    np.testing.assert_array_equal(fused.ruin_period, stored.ruin_period)
    np.testing.assert_array_equal(fused.price_index, stored.price_index)
    for name in PATHS:
        np.testing.assert_array_equal(getattr(fused, name), getattr(stored, name), err_msg=name)
    assert np.unique(fused.wealth[:, 20]).size == 150  # the draws differ (could fail)


@pytest.mark.parametrize("cma", [CMA, T_CMA], ids=["lognormal", "student_t"])
def test_the_whole_set_has_the_stated_moments(cma: CapitalMarketAssumptions) -> None:
    # 1,500 x 40 years = 60,000 rows in two pre-pass chunks; moment-matched, so exact up
    # to float64 round-off of 60,000-row sums (about 1e-15 relative; 1e-12 absolute on
    # moments of order 0.01 to 0.03 leaves room, and a wrong map misses by > 1e-4)
    gen = cma_in_engine(cma, 1_500, 40, seed=3)
    real = _real(gen.returns, gen.inflation)
    np.testing.assert_allclose(real.mean(axis=0), cma.mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.cov(real, rowvar=False), cma.covariance, rtol=0, atol=1e-12)
    assert np.all(gen.inflation == 0.025) and gen.frequency == "annual"
    # the raw draws are not already matched: the map is not the identity (so it works)
    assert isinstance(gen, CmaScenarios)
    assert np.abs(gen.post - np.eye(3)).max() > 1e-4 and np.abs(gen.shift).max() > 1e-4


def test_take_head_select_and_pickle_keep_the_same_draws() -> None:
    gen = cma_in_engine(CMA, 90, 30, seed=8)
    whole = gen.returns
    lo, hi = gen.take(slice(0, 37)), gen.take(slice(37, 90))
    assert isinstance(lo, CmaScenarios) and isinstance(hi, CmaScenarios)
    np.testing.assert_array_equal(np.concatenate([lo.returns, hi.returns]), whole)
    np.testing.assert_array_equal(gen.head(12).returns, whole[:, :12])
    np.testing.assert_array_equal(gen.select(["bills", "stocks"]).returns, whole[:, :, [2, 0]])
    np.testing.assert_array_equal(gen.take(np.array([4, 1])).returns, whole[[4, 1]])
    shipped = pickle.loads(pickle.dumps(hi))  # the recipe only, not 53 x 30 x 3 floats
    assert len(pickle.dumps(hi)) < 5_000
    np.testing.assert_array_equal(shipped.returns, whole[37:])
    assert not np.array_equal(cma_in_engine(CMA, 90, 30, seed=9).returns, whole)
    # the same seed gives the same set, through cma_scenarios's int seed too
    np.testing.assert_array_equal(cma_in_engine(CMA, 90, 30, seed=8).returns, whole)
    a, b = cma_scenarios(CMA, 20, 5, rng=5), cma_scenarios(CMA, 20, 5, rng=5)
    np.testing.assert_array_equal(a.returns, b.returns)


@pytest.mark.parametrize("n_chunks", [1, 2, 3])
def test_results_do_not_depend_on_the_chunking(n_chunks: int) -> None:
    plan = _plans()[0]
    strategy = Mix("mix", ASSETS, (0.6, 0.3, 0.1))
    gen = cma_in_engine(CMA, 203, plan.n_periods(1), seed=21)
    whole = simulate(gen.materialise(), plan, strategy)
    edges = np.linspace(0, gen.n_scenarios, n_chunks + 1).astype(int)
    chunks = [gen.take(slice(lo, hi)) for lo, hi in itertools.pairwise(edges)]
    assert all(isinstance(c, CmaScenarios) for c in chunks)
    summary = simulate_chunked(chunks, plan, strategy)
    np.testing.assert_array_equal(summary.terminal_wealth, whole.terminal_wealth)
    np.testing.assert_array_equal(summary.ruin_period, whole.ruin_period)


def test_routes_are_named_in_meta() -> None:
    assert engine_route(CMA)[0] == "engine" and engine_route(T_CMA)[0] == "engine"
    odd = CapitalMarketAssumptions(**{**CMA.__dict__, "distribution": "student_t", "dof": 4.5})
    assert engine_route(odd)[0] == "stored"
    sc = cma_in_engine(odd, 40, 10, seed=2)
    assert sc.meta["route"] == "stored" and "dof=4.5" in str(sc.meta["route_reason"])
    assert not isinstance(sc, CmaScenarios)
    # the stored route matches the moments too (round-off of 400 rows, see above)
    real = _real(sc.returns, sc.inflation)
    np.testing.assert_allclose(real.mean(axis=0), odd.mean, rtol=0, atol=1e-12)


def test_a_return_at_minus_100_percent_is_refused() -> None:
    # two volatile assets at correlation -0.9: the map's negative cross terms push one
    # asset's matched return below -100 % where the other's raw return is large
    base = dict(name="wild", source="made up for a test", assets=("a", "b"))
    wild = CapitalMarketAssumptions(
        **base, arithmetic_real_return=(0.0, 0.01), volatility=(0.5, 0.5),
        correlation=((1.0, -0.9), (-0.9, 1.0)),
    )  # fmt: skip
    assert engine_route(wild)[0] == "engine"
    with pytest.raises(DataError, match=r"-100 %.*lower volatility"):
        cma_in_engine(wild, 200, 30, seed=1)
    # moments no log-normal has (1 + cov / ((1 + m_i)(1 + m_j)) <= 0) are named
    impossible = CapitalMarketAssumptions(
        **base, arithmetic_real_return=(0.0, 0.01), volatility=(2.0, 2.0),
        correlation=((1.0, -0.9), (-0.9, 1.0)),
    )  # fmt: skip
    with pytest.raises(DataError, match="no log-normal"):
        cma_in_engine(impossible, 200, 30, seed=1)


def test_a_study_draws_its_cma_set_in_the_engine_when_the_file_states_every_column() -> None:
    raw = {
        "study": {"name": "cma engine", "seed": 11},
        "data": {"frequency": "annual"},
        "scenarios": {"cma": "example", "cma_n": 40},
        "plans": [{"name": "r", "start_age": 65, "retirement_age": 65, "end_age": 95,
                   "initial_balance": 1_000_000}],
    }  # fmt: skip
    ctx = StudyContext(parse_study(raw))
    d = ctx.study.data
    core = [d.bonds, d.equity, d.cash]  # stated by the example file, in another order
    whole = ctx.scenarios("cma check", 30, 300, "cma", assets=core)
    assert isinstance(whole, CmaScenarios) and whole.meta["route"] == "engine"
    assert list(whole.assets) == core and whole.meta["set_name"] == "cma check"
    part = ctx.scenarios("cma check", 30, 300, "cma", assets=core, rows=(120, 260))
    np.testing.assert_array_equal(part.returns, whole.returns[120:260])
    real = _real(whole.returns, whole.inflation)  # matched over the whole set (see above)
    stated = ctx.cma.covariance[np.ix_(*[[ctx.cma.assets.index(c) for c in core]] * 2)]
    np.testing.assert_allclose(np.cov(real, rowvar=False), stated, rtol=0, atol=1e-12)
    # a column the file does not state (the crypto asset) is drawn in the engine too, as
    # no data (NaN), the stated columns keeping their draws
    padded = ctx.scenarios("cma check", 30, 300, "cma", assets=[*core, d.crypto])
    assert isinstance(padded, CmaScenarios) and padded.meta["route"] == "engine"
    assert padded.no_data == (d.crypto,) and np.isnan(padded.returns[..., 3]).all()
    np.testing.assert_array_equal(padded.returns[..., :3], whole.returns)


# ------------------------------------------------- a column the file does not state (#28)

PADDED = (*ASSETS, "btc")  # "btc": not in CMA, so no data


def _same_result(fused: object, stored: object) -> None:
    for name in ("ruin_period", "price_index", *PATHS):
        np.testing.assert_array_equal(getattr(fused, name), getattr(stored, name), err_msg=name)


def test_an_unstated_column_has_no_data_and_the_routes_agree() -> None:
    # 150 scenarios: two full blocks of kernel lanes and a partial one
    plan = _plans()[0]
    whole = cma_in_engine(CMA, 150, plan.n_periods(1), seed=17)
    assert isinstance(whole, CmaScenarios)
    gen = whole.with_columns(["btc", "bills", "stocks", "bonds"])
    assert gen.no_data == ("btc",) and list(gen.no_data_mask()) == [True, False, False, False]
    # the kernel's recipe for it is a zero map (a finite return, times a zero holding)
    draws = gen.draws()
    assert not draws.post[:, 0].any() and draws.shift[0] == 0.0
    strategy = Mix("mix", ("btc", "bills", "stocks", "bonds"), (0.0, 0.2, 0.5, 0.3))
    fused = simulate(gen, plan, strategy)
    assert not gen.returns_materialised  # the kernel drew them itself
    r = gen.returns
    assert np.isnan(r[..., 0]).all() and not np.isnan(r[..., 1:]).any()  # NaN exactly there
    np.testing.assert_array_equal(r[..., 1:], whole.returns[..., [2, 0, 1]])  # same draws
    _same_result(fused, simulate(gen.materialise(), plan, strategy))
    # and as the stated set's own columns in that order (a zero holding adds exactly 0)
    trio = Mix("mix", ("bills", "stocks", "bonds"), (0.2, 0.5, 0.3))
    _same_result(fused, simulate(whole, plan, trio))


@pytest.mark.parametrize("engine", ["auto", "numpy"])
def test_holding_an_unstated_column_is_refused_on_both_routes(engine: str) -> None:
    plan = _plans()[1]
    whole = cma_in_engine(CMA, 20, plan.n_periods(1), seed=4)
    assert isinstance(whole, CmaScenarios)
    gen = whole.with_columns(PADDED)
    strategy = Mix("all in", PADDED, (0.5, 0.3, 0.1, 0.1))
    message = r"holds 'btc' in period 0 of scenario 0, where that asset has no return data"
    with pytest.raises(DataError, match=message):
        simulate(gen, plan, strategy, engine=engine)  # type: ignore[arg-type]
    assert not gen.returns_materialised or engine == "numpy"  # refused before drawing
    with pytest.raises(DataError, match=message):
        simulate(gen.materialise(), plan, strategy, engine=engine)  # type: ignore[arg-type]


def test_a_crypto_sleeve_waits_in_cash_on_both_routes() -> None:
    # before_data="cash": the sleeve sits in the cash asset where crypto has no return;
    # the fused route's zero-memory view must say "missing" exactly where .returns does
    plan = _plans()[0]
    whole = cma_in_engine(CMA, 70, plan.n_periods(1), seed=5)
    assert isinstance(whole, CmaScenarios)
    gen = whole.with_columns(PADDED)
    base = Mix("60/40", ("stocks", "bonds"), (0.6, 0.4))
    sleeve = CryptoSleeve(base, 0.05, crypto_asset="btc", before_data="cash", cash_asset="bills")
    fused = simulate(gen, plan, sleeve)
    assert not gen.returns_materialised
    _same_result(fused, simulate(gen.materialise(), plan, sleeve))
    # in cash: the same as a 57/38/5 mix with the sleeve in bills (fails if the sleeve
    # were refused, held btc or stayed in the 60/40); the same weights, so bit for bit
    cash = Mix("57/38/5", ("stocks", "bonds", "bills"), (0.57, 0.38, 0.05))
    np.testing.assert_array_equal(fused.wealth, simulate(whole, plan, cash).wealth)


def test_take_select_head_and_pickle_keep_the_no_data_columns() -> None:
    whole = cma_in_engine(CMA, 40, 12, seed=8)
    assert isinstance(whole, CmaScenarios)
    gen = whole.with_columns(PADDED)
    ref = gen.returns
    part = gen.take(slice(10, 30))
    assert isinstance(part, CmaScenarios) and part.no_data == ("btc",)
    np.testing.assert_array_equal(part.returns, ref[10:30])  # NaN == NaN here
    assert gen.head(5).no_data == ("btc",)
    picked = gen.select(["btc", "stocks"])
    assert isinstance(picked, CmaScenarios) and picked.no_data == ("btc",)
    np.testing.assert_array_equal(picked.returns, ref[..., [3, 0]])
    assert gen.select(["bonds"]).no_data == ()  # a selection without it has data only
    shipped = pickle.loads(pickle.dumps(part))
    assert shipped.no_data == ("btc",)
    np.testing.assert_array_equal(shipped.returns, ref[10:30])
    # a column without data must keep a zero map (the constructor says so)
    with pytest.raises(DataError, match="no data but a non-zero map"):
        CmaScenarios(gen.mean, gen.root, gen.post, gen.shift, gen.level, PADDED, 4, 3,
                     unstated=("stocks",))  # fmt: skip
