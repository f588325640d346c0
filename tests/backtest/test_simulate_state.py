"""Adaptive strategies: target weights read from a ``StateTable`` by the member's wealth.

The simulator interpolates each period's weights over a real-wealth grid at the wealth
each scenario holds at the start of the period, in both engines; nothing later is read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pytest

from backtest.errors import DataError
from backtest.plan import ConstantReal, Contributions, GuytonKlinger, Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from strategies.base import RebalanceRule, Schedule, SleeveBand, StateTable
from strategies.errors import StrategyError
from tests.backtest.reference_sim import TableMix, reference_simulate

PATHS = (
    "wealth",
    "contributions",
    "withdrawals",
    "withdrawals_wanted",
    "fees",
    "costs",
    "gains",
    "turnover",
    "portfolio_returns",
)


@dataclass(frozen=True)
class _Adaptive:
    """Test strategy: a fixed state table."""

    depends_on_returns = True  # its weights follow wealth (no annotation: not a field)
    name: str
    assets: tuple[str, ...]
    table: StateTable
    rebalance: RebalanceRule = field(default_factory=RebalanceRule)
    sleeve_band: SleeveBand | None = None
    smoothing: None = None

    def state_table(self, schedule: Schedule) -> StateTable:
        return self.table

    def target_weights(self, schedule: Schedule, past_returns: np.ndarray) -> np.ndarray:
        raise AssertionError("an adaptive strategy's target_weights must not be called")


def _table(n_t: int, n_a: int, seed: int) -> StateTable:
    """Random weights on a grid that moves with age, from under 50,000 to about 2 million
    USD (so some wealth falls below the grid and some above)."""
    rng = np.random.default_rng(seed)
    n_s = 6
    steps = rng.uniform(1e4, 4e5, (n_t, n_s))
    steps[:, 0] = rng.uniform(0, 5e4, n_t)
    return StateTable(np.cumsum(steps, axis=1), rng.dirichlet(np.ones(n_a), size=(n_t, n_s)))


def _case(seed: int):
    rng = np.random.default_rng(seed)
    ppy = (1, 12)[seed % 2]
    withdrawal = [
        ConstantReal(rate=0.05, timing="split"),
        ConstantReal(rate=None, amount=40_000.0, indexed=False, timing="end"),
        GuytonKlinger(timing="start"),
    ][seed % 3]
    plan = Plan(
        50.0,
        58.0,
        80.0,
        300_000.0,
        contributions=Contributions(80_000, 0.12, 0.01, 0.5, 0.06),
        withdrawal=withdrawal,
        expense_ratio=0.003,
        transaction_cost_bps=8.0,
        rmd_floor=seed % 4 == 0,
    )
    n_t = plan.n_periods(ppy)
    assets = ("a", "b", "c", "d", "e")[: 2 + seed % 4]
    rebalance = [
        RebalanceRule("calendar", 12),
        RebalanceRule("band", band=0.05),
        RebalanceRule("calendar", 3),
        RebalanceRule("band", band=0.2, band_kind="relative"),
    ][seed % 4]
    sleeve = SleeveBand(assets[-1]) if seed % 3 == 1 else None
    sc = Scenarios(
        rng.normal(0.06 / ppy, 0.18 / np.sqrt(ppy), (67, n_t, len(assets))),
        rng.normal(0.03 / ppy, 0.01 / np.sqrt(ppy), (67, n_t)),
        assets,
        ("annual", "monthly")[ppy == 12],
    )
    strategy = _Adaptive("adaptive", assets, _table(n_t, len(assets), seed), rebalance, sleeve)
    return sc, plan, strategy


@pytest.mark.parametrize("seed", range(8))
def test_engines_agree_with_a_state_table(seed: int) -> None:
    sc, plan, strategy = _case(seed)
    ref = simulate(sc, plan, strategy, engine="numpy")
    fast = simulate(sc, plan, strategy, engine="numba")
    np.testing.assert_array_equal(fast.ruin_period, ref.ruin_period)
    # Same events, same interpolation expression: round-off only, relative to each
    # path's scale (as the other engine comparisons).
    scale = np.maximum(1.0, np.abs(ref.wealth).max(axis=1, keepdims=True))
    for name in PATHS:
        a, b = getattr(fast, name), getattr(ref, name)
        if name not in ("turnover", "portfolio_returns"):
            a, b = a / scale, b / scale
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-11, err_msg=name)
    assert 0 < ref.success_rate <= 1


def test_targets_are_the_interpolated_weights_at_the_wealth_held() -> None:
    # One period: 25 USD on a grid [0, 100] that goes from all "a" to all "b": 75/25.
    sc = Scenarios(np.zeros((3, 1, 2)), np.zeros((3, 1)), ("a", "b"), "annual")
    table = StateTable(np.array([[0.0, 100.0]]), np.array([[[1.0, 0.0], [0.0, 1.0]]]))
    strategy = _Adaptive("adaptive", ("a", "b"), table, RebalanceRule("calendar", 12))
    for balance, a_share in [(25.0, 0.75), (-0.0, 1.0), (100.0, 0.0), (250.0, 0.0)]:
        plan = Plan(30, 31, 31, max(balance, 0.0))
        res = simulate(sc, plan, strategy, engine="numpy", record_weights=True)
        assert res.weights is not None
        np.testing.assert_allclose(res.weights[:, 0, 0], a_share, rtol=0, atol=1e-15)


@pytest.mark.parametrize("n_s", [2, 3, 4, 7, 8, 9, 64, 65, 401])
def test_the_compiled_lookup_finds_the_node_below_the_wealth(n_s: int) -> None:
    # The kernel's search runs the same halving steps for every lane (their number
    # depends on n_s only), so check grid sizes around powers of two, at wealth below
    # the grid, exactly on nodes, between nodes and above: one period, asset "a" returns
    # 0 and "b" 100 %, so the end wealth is balance * (1 + weight of b).
    rng = np.random.default_rng(n_s)
    grid = 1_000.0 + np.cumsum(rng.uniform(1.0, 5_000.0, n_s))
    share_b = rng.uniform(0, 1, n_s)
    table = StateTable(grid[None], np.stack([1 - share_b, share_b], axis=1)[None])
    strategy = _Adaptive("adaptive", ("a", "b"), table, RebalanceRule("calendar", 12))
    returns = np.broadcast_to(np.array([0.0, 1.0]), (3, 1, 2))
    sc = Scenarios(returns, np.zeros((3, 1)), ("a", "b"), "annual")
    nodes = sorted({0, 1, n_s // 2, n_s - 2, n_s - 1})
    balances = [0.0, 999.0, *grid[nodes], *(0.5 * (grid[:-1] + grid[1:]))[nodes[:-1]], 1e9]
    for balance in balances:
        plan = Plan(30, 31, 31, float(balance))
        fast = simulate(sc, plan, strategy, engine="numba").wealth[:, 1]
        ref = simulate(sc, plan, strategy, engine="numpy").wealth[:, 1]
        np.testing.assert_array_equal(fast, ref)  # the same node and the same expression
        # independently: np.interp clamps at the ends as the table does (a few
        # operations of round-off relative to the balance)
        expected = balance * (1 + np.interp(balance, grid, share_b))
        np.testing.assert_allclose(fast, expected, rtol=1e-14, atol=0, err_msg=str(balance))


def test_interpolated_weights_sum_to_one() -> None:
    sc, plan, strategy = _case(2)
    strategy = dataclasses.replace(strategy, rebalance=RebalanceRule("calendar", 1))
    res = simulate(sc, plan, strategy, engine="numpy", record_weights=True)
    assert res.weights is not None
    live = res.wealth[:, :-1] > 0
    # rebalanced every period, so the realised weights are the interpolated targets:
    # a convex combination of rows that sum to 1 (round-off of a few operations)
    np.testing.assert_allclose(res.weights.sum(axis=2)[live], 1.0, rtol=0, atol=1e-12)
    assert res.weights.min() >= -1e-15


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_no_look_ahead_under_perturbed_future_returns(engine: str) -> None:
    sc, plan, strategy = _case(5)
    t = 40
    returns = np.array(sc.returns)
    returns[:, t + 1 :] = np.random.default_rng(1).uniform(-0.5, 0.5, returns[:, t + 1 :].shape)
    later = Scenarios(returns, sc.inflation, sc.assets, sc.frequency)
    base = simulate(sc, plan, strategy, engine=engine)
    moved = simulate(later, plan, strategy, engine=engine)
    # everything up to the end of period t is unchanged, bit for bit ...
    np.testing.assert_array_equal(moved.wealth[:, : t + 2], base.wealth[:, : t + 2])
    np.testing.assert_array_equal(moved.turnover[:, : t + 1], base.turnover[:, : t + 1])
    assert not np.array_equal(moved.wealth[:, -1], base.wealth[:, -1])  # ... and after not
    if engine == "numpy":  # and the weights held up to period t + 1 (its start)
        w0 = simulate(sc, plan, strategy, engine=engine, record_weights=True).weights
        w1 = simulate(later, plan, strategy, engine=engine, record_weights=True).weights
        assert w0 is not None and w1 is not None
        np.testing.assert_array_equal(w1[:, : t + 2], w0[:, : t + 2])


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("seed", [0, 1, 3])
def test_a_table_constant_in_wealth_is_the_deterministic_path(engine: str, seed: int) -> None:
    sc, plan, strategy = _case(seed)
    path = strategy.table.weights[:, 2, :]  # one state's weights, every period
    n_s = strategy.table.wealth_grid.shape[1]
    flat = StateTable(strategy.table.wealth_grid, np.repeat(path[:, None, :], n_s, axis=1))
    adaptive = dataclasses.replace(strategy, table=flat)
    fixed = TableMix(
        "path",
        strategy.assets,
        tuple(tuple(float(x) for x in row) for row in path),
        strategy.rebalance,
        strategy.sleeve_band,
    )
    a = simulate(sc, plan, adaptive, engine=engine)  # type: ignore[arg-type]
    b = simulate(sc, plan, fixed, engine=engine)  # type: ignore[arg-type]
    for name in (*PATHS, "ruin_period"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_state_tables_are_validated() -> None:
    with pytest.raises(StrategyError, match="increase strictly"):
        StateTable(np.array([[0.0, 0.0]]), np.array([[[1.0], [1.0]]]))
    with pytest.raises(StrategyError, match="sum to 1"):
        StateTable(np.array([[0.0, 1.0]]), np.array([[[0.5, 0.2], [1.0, 0.0]]]))
    with pytest.raises(StrategyError, match="at least two states"):
        StateTable(np.array([[0.0]]), np.array([[[1.0]]]))
    sc, plan, strategy = _case(1)
    short = StateTable(strategy.table.wealth_grid[:-1], strategy.table.weights[:-1])
    with pytest.raises(DataError, match="state table covers"):
        simulate(sc, plan, dataclasses.replace(strategy, table=short))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_numpy_engine_matches_the_scalar_reference_with_a_state_table(seed: int) -> None:
    sc, plan, strategy = _case(seed)
    sc = sc.take(slice(0, 6))
    res = simulate(sc, plan, strategy, engine="numpy")
    ppy = sc.periods_per_year
    sleeve = strategy.sleeve_band
    for i in range(sc.n_scenarios):
        ref = reference_simulate(
            sc.returns[i].tolist(),
            sc.inflation[i].tolist(),
            strategy.table.weights[:, 0].tolist(),  # not read: the table decides
            plan,
            strategy.rebalance,
            ppy,
            sleeve,
            strategy.assets.index(sleeve.asset) if sleeve is not None else -1,
            strategy.table.wealth_grid.tolist(),
            strategy.table.weights.tolist(),
        )
        # The same rules written independently: round-off only, relative to the money
        # that moved (as in test_simulate_reference).
        scale = max(float(res.wealth[i].max()), 1.0) * ppy
        np.testing.assert_allclose(res.wealth[i], ref.wealth, rtol=1e-11, atol=1e-11 * scale)
        np.testing.assert_allclose(
            res.withdrawals[i], ref.withdrawals, rtol=1e-11, atol=1e-11 * scale
        )
        assert res.ruin_period[i] == ref.ruin_period
