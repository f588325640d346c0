"""Scenarios drawn inside the engine (``backtest.engine_gen``) against their materialised twin.

The kernel draws each scenario's history rows (bootstraps) or lognormal returns from
counter-based random numbers keyed by (seed, scenario, period);
``GeneratedScenarios.returns`` materialises the same draws in numpy. Both routes must
give the same SimulationResult bit for bit, in any chunking.
"""

from __future__ import annotations

import itertools
import pickle
from dataclasses import dataclass, field
from statistics import NormalDist

import numba
import numpy as np
import pytest

from backtest import counter_rng
from backtest.engine_gen import (
    GeneratedScenarios,
    ParametricScenarios,
    from_table,
    parametric_in_engine,
    row_indices,
)
from backtest.errors import DataError
from backtest.plan import ConstantReal, Contributions, GuytonKlinger, Plan
from backtest.simulate import simulate, simulate_chunked
from strategies.base import RebalanceRule, Schedule, StateTable
from tests.backtest.mixes import Mix

ASSETS = ("a", "b", "c")
PATHS = ("wealth", "withdrawals", "fees", "costs", "gains", "turnover", "portfolio_returns")


@dataclass(frozen=True)
class _ReadsReturns(Mix):
    """A mix that claims to read returns: simulate must materialise for it."""

    depends_on_returns = True

    def target_weights(self, schedule: Schedule, past_returns: np.ndarray) -> np.ndarray:
        assert np.all(np.isfinite(past_returns))  # real returns, not the NaN placeholder
        return super().target_weights(schedule, past_returns)


def _table(rows: int = 37, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A small generated monthly history: returns (rows, 3) and inflation (rows,)."""
    rng = np.random.default_rng(seed)
    returns = rng.normal([0.007, 0.004, 0.002], [0.045, 0.02, 0.003], (rows, 3))
    return returns, rng.normal(0.0025, 0.003, rows)


def _plans() -> list[Plan]:
    """A saver turned retiree (252 monthly periods: crosses two slabs) and a
    Guyton-Klinger retiree (reads the period returns)."""
    saver = Plan(
        55.0,
        60.0,
        76.0,
        300_000.0,
        contributions=Contributions(salary=80_000, rate=0.1, timing="end"),
        withdrawal=ConstantReal(rate=0.045, timing="start"),
        expense_ratio=0.004,
        transaction_cost_bps=5.0,
    )
    gk = Plan(65.0, 65.0, 90.0, 1_000_000.0, withdrawal=GuytonKlinger(initial_rate=0.055))
    return [saver, gk]


def _generated(n: int, n_t: int, block_length: float, seed: int = 11) -> GeneratedScenarios:
    r, i = _table()
    return from_table(r, i, ASSETS, "monthly", n, n_t, block_length=block_length, seed=seed)


def test_numba_and_numpy_uniforms_have_the_same_bits() -> None:
    @numba.njit
    def grid(key: np.uint64, n: int, n_t: int, stream: int) -> np.ndarray:
        out = np.empty((n, n_t))
        for s in range(n):
            k = counter_rng.scenario_key(key, s)
            for t in range(n_t):
                out[s, t] = counter_rng.uniform(k, t, stream)
        return out

    key = counter_rng.seed_key(2**63 + 5)
    for stream in (0, 1):
        compiled = grid(key, 70, 40, stream)
        vectorised = counter_rng.uniforms_np(
            counter_rng.scenario_keys_np(key, np.arange(70)), np.arange(40), stream
        )
        np.testing.assert_array_equal(compiled, vectorised)
    assert vectorised.min() >= 0.0 and vectorised.max() < 1.0


@pytest.mark.parametrize("block_length", [1.0, 7.5])
@pytest.mark.parametrize("plan_i", [0, 1])
def test_fused_route_equals_the_materialised_route(block_length: float, plan_i: int) -> None:
    # 150 scenarios: two full blocks of lanes and a partial one; 252 or 300 months: the
    # block bootstrap's state crosses slabs. Same draws, same operations: bit for bit.
    plan = _plans()[plan_i]
    gen = _generated(150, plan.n_periods(12) + 7, block_length)
    strategy = Mix("mix", ASSETS, (0.5, 0.3, 0.2))
    fused = simulate(gen, plan, strategy)
    assert not gen.returns_materialised  # the kernel drew them itself
    stored = simulate(gen.materialise(), plan, strategy)
    np.testing.assert_array_equal(fused.ruin_period, stored.ruin_period)
    np.testing.assert_array_equal(fused.price_index, stored.price_index)
    for name in PATHS:
        np.testing.assert_array_equal(getattr(fused, name), getattr(stored, name), err_msg=name)
    # and the draws are not all alike (so the test could fail)
    assert np.unique(fused.wealth[:, 60]).size == 150


def _drawn(kind: str, n: int, n_t: int) -> tuple[GeneratedScenarios, Mix]:
    """``n`` scenarios of ``n_t`` months drawn in the engine, a stationary bootstrap
    (blocks of 4 months) or the lognormal, and a fixed mix of their assets."""
    if kind == "bootstrap":
        return _generated(n, n_t, 4.0), Mix("mix", ASSETS, (0.6, 0.3, 0.1))
    return _lognormal(n, n_t), Mix("mix", P_ASSETS, (0.7, 0.3))


@pytest.mark.parametrize("kind", ["bootstrap", "lognormal"])
def test_fused_route_matches_the_numpy_reference(kind: str) -> None:
    plan = _plans()[0]
    gen, strategy = _drawn(kind, 70, plan.n_periods(12))
    fused = simulate(gen, plan, strategy, engine="numba")
    ref = simulate(gen, plan, strategy, engine="numpy")
    # the engines agree to round-off (tests/backtest/test_kernel.py); 1e-9 relative to
    # each path's scale leaves room for a fused multiply-add over 252 periods
    scale = np.abs(ref.wealth).max(axis=1, keepdims=True) + 1.0
    assert np.max(np.abs(fused.wealth - ref.wealth) / scale) < 1e-9


@pytest.mark.parametrize("kind", ["bootstrap", "lognormal"])
@pytest.mark.parametrize("n_chunks", [1, 2, 4])
def test_chunked_results_do_not_depend_on_the_chunking(n_chunks: int, kind: str) -> None:
    plan = _plans()[0]
    gen, strategy = _drawn(kind, 203, plan.n_periods(12))
    whole = simulate(gen.materialise(), plan, strategy)
    edges = np.linspace(0, gen.n_scenarios, n_chunks + 1).astype(int)
    chunks = [gen.take(slice(lo, hi)) for lo, hi in itertools.pairwise(edges)]
    assert all(type(c) is type(gen) for c in chunks)  # still drawn in the engine
    summary = simulate_chunked(chunks, plan, strategy)
    np.testing.assert_array_equal(summary.terminal_wealth, whole.terminal_wealth)
    np.testing.assert_array_equal(summary.ruin_period, whole.ruin_period)


def test_fused_results_do_not_depend_on_the_thread_count() -> None:
    plan = _plans()[0]
    strategy = Mix("mix", ASSETS, (0.5, 0.3, 0.2))
    gen = _generated(200, plan.n_periods(12), 6.0)
    before = numba.get_num_threads()
    try:
        runs = []
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            runs.append(simulate_chunked([gen], plan, strategy).terminal_wealth)
    finally:
        numba.set_num_threads(before)
    for other in runs[1:]:
        np.testing.assert_array_equal(other, runs[0])


def test_take_head_and_select_keep_the_same_draws() -> None:
    gen = _generated(90, 60, 5.0)
    np.testing.assert_array_equal(gen.take(slice(30, 50)).returns, gen.returns[30:50])
    np.testing.assert_array_equal(gen.head(25).inflation, gen.inflation[:, :25])
    np.testing.assert_array_equal(gen.select(["c", "a"]).returns, gen.returns[:, :, [2, 0]])
    np.testing.assert_array_equal(gen.take(np.array([4, 1])).returns, gen.returns[[4, 1]])
    shipped = pickle.loads(pickle.dumps(gen))  # as to a Dask worker: the recipe only
    assert len(pickle.dumps(gen)) < 20_000  # the 37-row table, not 90 x 60 x 4 floats
    np.testing.assert_array_equal(shipped.returns, gen.returns)
    other = _generated(90, 60, 5.0, seed=12)
    assert not np.array_equal(other.returns, gen.returns)  # the seed matters


@dataclass(frozen=True)
class _Adaptive:
    """Targets from a state table (by real wealth): the fused route takes it too."""

    depends_on_returns = True
    name: str
    assets: tuple[str, ...]
    table: StateTable
    rebalance: RebalanceRule = field(default_factory=lambda: RebalanceRule("calendar", 1))
    sleeve_band: None = None
    smoothing: None = None

    def state_table(self, schedule: Schedule) -> StateTable:
        return self.table

    def target_weights(self, schedule: Schedule, past_returns: np.ndarray) -> np.ndarray:
        raise AssertionError("an adaptive strategy's target_weights must not be called")


def test_fused_route_serves_a_state_table_strategy() -> None:
    plan = _plans()[1]
    n_t = plan.n_periods(12)
    rng = np.random.default_rng(4)
    grid = np.cumsum(rng.uniform(1e5, 6e5, (n_t, 5)), axis=1)  # real USD
    table = StateTable(grid, rng.dirichlet(np.ones(3), size=(n_t, 5)))
    gen = _generated(80, n_t, 9.0)
    strategy = _Adaptive("adaptive", ASSETS, table)
    fused = simulate(gen, plan, strategy)
    assert not gen.returns_materialised
    stored = simulate(gen.materialise(), plan, strategy)
    np.testing.assert_array_equal(fused.wealth, stored.wealth)
    np.testing.assert_array_equal(fused.ruin_period, stored.ruin_period)


def test_a_strategy_that_reads_returns_gets_them_materialised() -> None:
    plan = _plans()[1]
    gen = _generated(40, plan.n_periods(12), 3.0)
    res = simulate(gen, plan, _ReadsReturns("r", ASSETS, (0.4, 0.4, 0.2)))
    assert gen.returns_materialised
    ref = simulate(gen, plan, Mix("m", ASSETS, (0.4, 0.4, 0.2)))
    np.testing.assert_array_equal(res.wealth, ref.wealth)


def test_block_bootstrap_draws_have_the_stated_block_length() -> None:
    # 4,000 x 200 periods: a new block starts with probability 1 / 8 after the first
    # period. 796,000 Bernoulli trials: the share's standard error is 3.7e-4, so 2e-3 is
    # more than 5 standard errors; the rows are uniform over the table (chi-square-free
    # check: every row appears within 10 % of its expected count 21,622, about 7 sd).
    n_rows = 37
    rows = row_indices(counter_rng.seed_key(1), 1 / 8, n_rows, np.arange(4000), 200)
    continued = rows[:, 1:] == (rows[:, :-1] + 1) % n_rows
    # a new block may land on the next row by chance (1 / 37 of new starts)
    new_share = (1 - continued.mean()) / (1 - 1 / n_rows)
    assert abs(new_share - 1 / 8) < 2e-3
    counts = np.bincount(rows.ravel(), minlength=n_rows)
    assert np.all(np.abs(counts / (rows.size / n_rows) - 1) < 0.1)
    iid = row_indices(counter_rng.seed_key(1), 1.0, n_rows, np.arange(4000), 200)
    assert abs((iid[:, 1:] == (iid[:, :-1] + 1) % n_rows).mean() - 1 / n_rows) < 2e-3


def test_bad_recipes_are_refused() -> None:
    r, i = _table()
    holed = r.copy()
    holed[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        from_table(holed, i, ASSETS, "monthly", 10, 12)
    with pytest.raises(DataError, match="block_length"):
        from_table(r, i, ASSETS, "monthly", 10, 12, block_length=0.5)
    with pytest.raises(DataError, match="seed"):
        from_table(r, i, ASSETS, "monthly", 10, 12, seed=-1)
    with pytest.raises(DataError, match="name each"):
        from_table(r, i, ("a", "b"), "monthly", 10, 12)


# ------------------------------------------------------------- the lognormal in the engine

P_ASSETS = ("a", "b")
P_MEAN = np.array([0.06, 0.03, 0.025])  # annual log means of a, b, cpi (decimal)
_P_VOL = np.array([0.16, 0.06, 0.012])
_P_CORR = np.array([[1.0, 0.2, -0.1], [0.2, 1.0, 0.3], [-0.1, 0.3, 1.0]])
P_COV = _P_CORR * np.outer(_P_VOL, _P_VOL)  # annual log covariance


def _lognormal(n: int, n_t: int, seed: int = 5) -> ParametricScenarios:
    return parametric_in_engine(P_ASSETS, P_MEAN, P_COV, "monthly", n, n_t, seed=seed)


def test_normals_log_and_exp_have_the_same_bits_in_numba_and_numpy() -> None:
    @numba.njit
    def compiled(h: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        z, lg, ex = np.empty(h.size), np.empty(x.size), np.empty(y.size)
        for i in range(h.size):
            z[i] = counter_rng.normal(h[i])
            lg[i] = counter_rng.log_core(x[i])
            ex[i] = counter_rng.exp_core(y[i])
        return z, lg, ex

    rng = np.random.default_rng(8)
    key = counter_rng.seed_key(77)
    h = counter_rng.draws_wide_np(
        counter_rng.scenario_keys_np(key, np.arange(400)), np.arange(250), 2, 3
    )
    h = np.concatenate([h.ravel(), np.array([0, 2**64 - 1, 2**63, 4095], dtype=np.uint64)])
    x = np.exp(rng.uniform(-38.0, 3.0, 100_000))  # every binade from 2**-54 up
    y = rng.normal(0.0, 2.0, 100_000)
    z, lg, ex = compiled(h, x, y)
    np.testing.assert_array_equal(z, counter_rng.normals_np(h))
    np.testing.assert_array_equal(lg, counter_rng.log_np(x))
    np.testing.assert_array_equal(ex, counter_rng.exp_np(y))
    # and they are the functions they stand for: fdlibm's log and exp are within 1 ulp
    # (2.2e-16 relative; 4.5e-16 allows the library's own rounding); AS241 is good to
    # about 1e-16 relative, and the tails (|z| up to 8.2) carry the log's error times
    # the slope of sqrt(-log p): 1e-14 is loose enough and still catches a wrong
    # coefficient (any typo moves the normal by far more)
    np.testing.assert_allclose(lg, np.log(x), rtol=4.5e-16, atol=0)
    np.testing.assert_allclose(ex, np.exp(y), rtol=4.5e-16, atol=0)
    p = ((h >> np.uint64(12)).astype(np.float64) + 0.5) * 2.0**-52
    ref = np.array([NormalDist().inv_cdf(v) for v in p[:20_000]])
    np.testing.assert_allclose(z[:20_000], ref, rtol=1e-14, atol=1e-15)
    assert z.min() < -4.5 and z.max() > 4.5  # 100,000 draws reach the tails


@pytest.mark.parametrize("plan_i", [0, 1])
def test_lognormal_fused_route_equals_the_materialised_route(plan_i: int) -> None:
    # 150 scenarios: two full blocks of lanes and a partial one; 252 or 300 months cross
    # slabs. Same counters, same pure-arithmetic normals, log and exp: bit for bit.
    plan = _plans()[plan_i]
    gen = _lognormal(150, plan.n_periods(12) + 7)
    strategy = Mix("mix", P_ASSETS, (0.6, 0.4))
    fused = simulate(gen, plan, strategy)
    assert not gen.returns_materialised  # the kernel drew them itself
    stored = simulate(gen.materialise(), plan, strategy)
    np.testing.assert_array_equal(fused.ruin_period, stored.ruin_period)
    np.testing.assert_array_equal(fused.price_index, stored.price_index)
    for name in PATHS:
        np.testing.assert_array_equal(getattr(fused, name), getattr(stored, name), err_msg=name)
    assert np.unique(fused.wealth[:, 60]).size == 150  # the draws differ (could fail)


def test_lognormal_take_head_and_select_keep_the_same_draws() -> None:
    gen = _lognormal(90, 60)
    np.testing.assert_array_equal(gen.take(slice(30, 50)).returns, gen.returns[30:50])
    np.testing.assert_array_equal(gen.head(25).inflation, gen.inflation[:, :25])
    np.testing.assert_array_equal(gen.select(["b"]).returns, gen.returns[:, :, [1]])
    np.testing.assert_array_equal(gen.select(["b", "a"]).inflation, gen.inflation)
    np.testing.assert_array_equal(gen.take(np.array([4, 1])).returns, gen.returns[[4, 1]])
    shipped = pickle.loads(pickle.dumps(gen))  # the recipe only, not 90 x 60 x 3 floats
    assert len(pickle.dumps(gen)) < 5_000
    np.testing.assert_array_equal(shipped.returns, gen.returns)
    assert not np.array_equal(_lognormal(90, 60, seed=6).returns, gen.returns)


def test_lognormal_draws_have_the_stated_moments() -> None:
    # 2,000 x 60 monthly periods: 120,000 i.i.d. draws of the three log returns. The
    # sample mean's standard error is sqrt(s_ii / N), a covariance element's
    # sqrt((s_ii s_jj + s_ij**2) / N) (normal fourth moments); 5 standard errors fails
    # a correct generator about once in 10**6 per element, a wrong root far more often
    # (e.g. a transposed root moves the covariance by tens of standard errors).
    gen = _lognormal(2_000, 60)
    x = np.log1p(np.concatenate([gen.returns, gen.inflation[:, :, None]], axis=2)).reshape(-1, 3)
    n = x.shape[0]
    mean, cov = P_MEAN / 12, P_COV / 12
    se_mean = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(x.mean(axis=0) - mean) < 5 * se_mean)
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(np.cov(x, rowvar=False) - cov) < 5 * se_cov)


def test_bad_lognormal_models_are_refused() -> None:
    bad_cov = P_COV.copy()
    bad_cov[0, 1] = bad_cov[1, 0] = 0.5  # correlation above 1: not PSD
    with pytest.raises(DataError, match="positive semi-definite"):
        parametric_in_engine(P_ASSETS, P_MEAN, bad_cov, "monthly", 10, 12)
    with pytest.raises(DataError, match=r"must be \(3,\)"):
        parametric_in_engine(P_ASSETS, P_MEAN[:2], P_COV, "monthly", 10, 12)
    with pytest.raises(DataError, match="other than 'cpi'"):
        parametric_in_engine(("a", "cpi"), P_MEAN, P_COV, "monthly", 10, 12)
    with pytest.raises(DataError, match=r"no value for \['cpi'\]"):
        parametric_in_engine(P_ASSETS, {"a": 0.05, "b": 0.02}, P_COV, "monthly", 10, 12)
    with pytest.raises(DataError, match="decimal"):  # moments in percent
        parametric_in_engine(P_ASSETS, P_MEAN * 100, P_COV * 1e4, "annual", 10, 12)
    with pytest.raises(DataError, match="seed"):
        parametric_in_engine(P_ASSETS, P_MEAN, P_COV, "monthly", 10, 12, seed=-1)
    by_name = parametric_in_engine(
        P_ASSETS, dict(zip(("a", "b", "cpi"), P_MEAN, strict=True)), P_COV, "monthly", 4, 6, seed=5
    )
    np.testing.assert_array_equal(by_name.returns, _lognormal(4, 6).returns)
