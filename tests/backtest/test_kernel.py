"""The compiled twin (``backtest.kernel``) against the numpy reference loop.

Both engines run the same events in the same order, so they must agree to round-off on
every rule: all withdrawal rules, the RMD floor, contribution timing, limits, fees, costs,
every rebalancing rule and the sleeve band, at annual and monthly frequency.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pytest

from backtest import kernel
from backtest.errors import DataError
from backtest.plan import (
    ConstantReal,
    Contributions,
    FixedPercent,
    GuytonKlinger,
    Plan,
    RequiredMinimum,
)
from backtest.scenarios import Scenarios
from backtest.simulate import simulate, simulate_chunked
from strategies.base import NoStateTable, RebalanceRule, Schedule, SleeveBand
from tests.backtest.mixes import Mix

FLOWS = (
    "contributions",
    "withdrawals",
    "withdrawals_wanted",
    "fees",
    "costs",
    "gains",
    "leakage",
    "turnover",
    "portfolio_returns",
)


def _case(seed: int) -> tuple[Scenarios, Plan, Mix]:
    rng = np.random.default_rng(seed)
    ppy = (1, 12)[seed % 2]
    start = float(rng.integers(25, 60))
    retire = start + float(rng.integers(0, 15))
    end = retire + float(rng.integers(1, 30))
    rules = [
        ConstantReal(
            rate=float(rng.uniform(0.02, 0.08)),
            timing=("start", "end", "split")[seed % 3],
            indexed=bool(seed % 4),
        ),
        FixedPercent(float(rng.uniform(0.02, 0.08)), timing="end"),
        GuytonKlinger(initial_rate=float(rng.uniform(0.03, 0.07)), timing="split"),
        RequiredMinimum(),
        ConstantReal(rate=None, amount=float(rng.uniform(1e3, 5e4))),
        None,
    ]
    plan = Plan(
        start,
        retire,
        end,
        float(rng.uniform(0, 1e5)),
        contributions=Contributions(
            salary=60_000,
            rate=0.1,
            salary_growth_real=0.01,
            match_rate=0.5,
            match_cap=0.06,
            annual_limit=20_000,
            catch_up=5_000,
            timing=("start", "end")[seed % 2],
        ),
        withdrawal=rules[seed % len(rules)],
        expense_ratio=float(rng.uniform(0, 0.01)),
        transaction_cost_bps=float(rng.uniform(0, 20)),
        rmd_floor=bool(seed % 3 == 0),
    )
    rebalance = [
        RebalanceRule("none"),
        RebalanceRule("calendar", 3),
        RebalanceRule("band", band=0.05),
        RebalanceRule("band", band=0.2, band_kind="relative"),
    ][seed % 4]
    # 3, 4 or 5 assets
    assets = ("a", "b", "c", "d", "e")[: 3 + (seed // 4) % 3]
    weights = tuple(float(x) for x in rng.dirichlet(np.ones(len(assets))))
    strategy = Mix("mix", assets, weights, rebalance, SleeveBand("c") if seed % 3 == 0 else None)
    n_t = plan.n_periods(ppy)
    scen = Scenarios(
        rng.normal(0.06 / ppy, 0.2 / np.sqrt(ppy), (40, n_t, len(assets))),
        rng.normal(0.03 / ppy, 0.01 / np.sqrt(ppy), (40, n_t)),
        assets,
        ("annual", "monthly")[ppy == 12],
    )
    return scen, plan, strategy


def _assert_engines_agree(scen: Scenarios, plan: Plan, strategy: object) -> None:
    """Simulate with both engines; ruin periods equal, wealth and every flow within
    round-off. Same operations in the same order: only the compiler's instruction choice
    (e.g. fused multiply-add) may differ, so amounts are compared relative to each path's
    scale."""
    ref = simulate(scen, plan, strategy, engine="numpy")
    fast = simulate(scen, plan, strategy, engine="numba")
    np.testing.assert_array_equal(fast.ruin_period, ref.ruin_period)
    scale = np.maximum(1.0, np.abs(ref.wealth).max(axis=1, keepdims=True))
    np.testing.assert_allclose(fast.wealth / scale, ref.wealth / scale, rtol=0, atol=1e-11)
    for name in FLOWS:
        a, b = getattr(fast, name), getattr(ref, name)
        if name not in ("turnover", "portfolio_returns"):  # amounts: compare in scale units
            a, b = a / scale, b / scale
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("seed", range(36))
def test_kernel_matches_numpy_reference(seed: int) -> None:
    _assert_engines_agree(*_case(seed))


@dataclass(frozen=True)
class _DriftingMix(NoStateTable):
    """Per-scenario, per-period targets whose rows sum to 1 only within the validator's
    tolerance, so no shortcut may assume exact weights or one shared target row."""

    depends_on_returns = True  # differs by scenario (no annotation: not a field)
    name: str
    assets: tuple[str, ...]
    rebalance: RebalanceRule
    sleeve_band: SleeveBand | None = None
    smoothing: None = None

    def target_weights(self, schedule: Schedule, past_returns: np.ndarray) -> np.ndarray:
        n, n_t, n_a = past_returns.shape
        rng = np.random.default_rng(n * n_t)
        w = rng.dirichlet(np.ones(n_a), size=(n, n_t))
        return w * (1 + rng.uniform(-5e-7, 5e-7, size=(n, n_t, 1)))


@pytest.mark.parametrize("seed", range(8))
def test_kernel_matches_reference_with_per_scenario_targets(seed: int) -> None:
    # 37 scenarios: not a multiple of the kernel's block of lanes (the last block is padded).
    scen, plan, strategy = _case(seed)
    scen = scen.take(slice(0, 37))
    mix = _DriftingMix("drift", strategy.assets, strategy.rebalance, strategy.sleeve_band)
    _assert_engines_agree(scen, plan, mix)


@pytest.mark.parametrize("seed", [1, 4, 6])  # 3, 4 and 4 assets (one with a sleeve band)
def test_assets_that_hold_nothing_add_exact_zeros(seed: int) -> None:
    # The loop is compiled for asset_width(A) asset rows (8 up to 8 assets): the rows past
    # A hold nothing and weigh nothing, so they must add exact zeros. Two more assets of
    # weight 0 fill two of those rows with real returns (unlike padding, which grows by
    # 1); no bit of a result may change. One compiled width, so no extra compile.
    scen, plan, strategy = _case(seed)
    rng = np.random.default_rng(seed)
    extra = rng.normal(0.005, 0.05, (*scen.returns.shape[:2], 2))
    more = Scenarios(
        np.concatenate([scen.returns, extra], axis=2),
        scen.inflation,
        (*scen.assets, "x", "y"),
        scen.frequency,
    )
    padded = dataclasses.replace(
        strategy, assets=(*strategy.assets, "x", "y"), w=(*strategy.w, 0.0, 0.0)
    )
    assert kernel.asset_width(more.n_assets) == kernel.asset_width(scen.n_assets)
    narrow = simulate(scen, plan, strategy, engine="numba")
    wide = simulate(more, plan, padded, engine="numba")
    np.testing.assert_array_equal(wide.ruin_period, narrow.ruin_period)
    np.testing.assert_array_equal(wide.wealth, narrow.wealth)
    for name in FLOWS:
        np.testing.assert_array_equal(getattr(wide, name), getattr(narrow, name), err_msg=name)


def test_one_asset_width_up_to_eight_assets() -> None:
    # One compiled loop for 1 to 8 assets (a user never compiles twice), then multiples of 8.
    widths = {n: kernel.asset_width(n) for n in (1, 2, 4, 5, 8, 9, 16, 17)}
    assert widths == {1: 8, 2: 8, 4: 8, 5: 8, 8: 8, 9: 16, 16: 16, 17: 24}


def test_summary_pass_matches_full_paths() -> None:
    scen, plan, strategy = _case(4)
    full = simulate(scen, plan, strategy, engine="numpy")
    summary = simulate_chunked([scen.take(slice(0, 25)), scen.take(slice(25, 40))], plan, strategy)
    np.testing.assert_allclose(summary.terminal_wealth, full.terminal_wealth, rtol=1e-11)
    np.testing.assert_allclose(summary.wealth_at_retirement, full.wealth_at_retirement, rtol=1e-11)
    np.testing.assert_array_equal(summary.ruin_period, full.ruin_period)
    assert summary.success_rate == pytest.approx(full.success_rate)


def test_kernel_refuses_holding_an_asset_without_data() -> None:
    scen, plan, strategy = _case(1)
    returns = np.array(scen.returns)
    returns[3, 2, 0] = np.nan
    bad = Scenarios(returns, scen.inflation, scen.assets, scen.frequency)
    with pytest.raises(DataError, match=r"holds 'a' in period 2 of scenario 3"):
        simulate(bad, plan, strategy, engine="numba")


@pytest.mark.parametrize("seed", [1, 5, 9])  # 3, 4 and 5 assets
def test_kernel_finds_missing_data_past_the_first_slab_of_periods(seed: int) -> None:
    # The kernel reads returns kernel.SLAB periods at a time; a gap in a later slab, in a
    # scenario of the second block of lanes, must still be reported exactly.
    scen, plan, strategy = _case(seed)
    scen = Scenarios(
        np.concatenate([scen.returns, scen.returns]),
        np.concatenate([scen.inflation, scen.inflation]),
        scen.assets,
        scen.frequency,
    )
    t, s = scen.returns.shape[1] - 5, kernel.BLOCK + 3
    assert t > kernel.SLAB and s < scen.n_scenarios  # the case must reach a later slab
    returns = np.array(scen.returns)
    returns[s, t, 1] = np.nan
    returns[s, t + 2, 0] = np.nan
    bad = Scenarios(returns, scen.inflation, scen.assets, scen.frequency)
    with pytest.raises(DataError, match=rf"holds 'b' in period {t} of scenario {s}"):
        simulate(bad, plan, strategy, engine="numba")


def test_slab_fill_reads_returns_whose_asset_axis_is_not_contiguous() -> None:
    # A view that skips columns must give the same numbers as a contiguous copy would.
    rng = np.random.default_rng(11)
    n, n_t, n_a = kernel.BLOCK + 5, 30, 5
    wide = rng.normal(0.01, 0.05, (n, n_t, 2 * n_a))
    wide[7, 20, 4] = np.nan  # asset 2 of the strided view
    inflation = rng.normal(0.002, 0.003, (n, n_t))
    lanes = np.arange(3, 3 + kernel.BLOCK, dtype=np.uint64)
    out = []
    for returns in (wide[:, :, ::2], np.ascontiguousarray(wide[:, :, ::2])):
        growth = np.zeros((kernel.SLAB, n_a, kernel.BLOCK))
        infl = np.zeros((kernel.SLAB, kernel.BLOCK))
        n_nan = kernel._fill_slab(returns, inflation, lanes, 10, 25, growth, infl)
        out.append((n_nan, growth, infl))
    assert wide[:, :, ::2].strides[2] == 16  # the first one is strided
    (n_a_nan, g_a, i_a), *others = out
    assert n_a_nan == 1
    for n_b_nan, g_b, i_b in others:
        assert n_b_nan == 1
        np.testing.assert_array_equal(g_a, g_b)  # the same operations: bit for bit
        np.testing.assert_array_equal(i_a, i_b)
    # and both are the real growth factors, lane-minor (1e-15: one rounding each side)
    r = wide[lanes.astype(np.int64), 10:25, ::2]
    expected = (1 + r) / (1 + inflation[lanes.astype(np.int64), 10:25, None])
    got = g_a[:15].transpose(2, 0, 1)
    np.testing.assert_allclose(got, expected, rtol=1e-15)


def test_engine_choice_is_validated() -> None:
    scen, plan, strategy = _case(2)
    with pytest.raises(ValueError, match="engine="):
        simulate(scen, plan, strategy, engine="fortran")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="record_weights"):
        simulate(scen, plan, strategy, engine="numba", record_weights=True)


def _one_period(balance: float, withdrawal: object) -> tuple[Scenarios, Plan, Mix]:
    returns = np.array([[[0.08514604, 0.03357903, 0.18808453]]])
    scen = Scenarios(returns, np.array([[0.00469157]]), ("a", "b", "c"), "annual")
    plan = Plan(20.0, 20.0, 21.0, balance, withdrawal=withdrawal)  # type: ignore[arg-type]
    return (
        scen,
        plan,
        Mix("mix", ("a", "b", "c"), (0.66523, 0.02125, 0.31352), RebalanceRule("none")),
    )


def test_engines_agree_on_a_subnormal_balance() -> None:
    """Found by hypothesis: 5e-324 USD. Both engines define the period return as
    after / before - 1, so subnormal round-off cannot make them disagree."""
    scen, plan, strategy = _one_period(5e-324, None)
    ref = simulate(scen, plan, strategy, engine="numpy")
    fast = simulate(scen, plan, strategy, engine="numba")
    np.testing.assert_array_equal(fast.portfolio_returns, ref.portfolio_returns)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_ruin_rule_is_the_same_at_every_scale_of_money(engine: str) -> None:
    """Found by hypothesis: a 3e-13 USD withdrawal from an empty account is a shortfall
    whatever its size; an absolute 1-USD floor once made it ruin only when scaled up."""
    for amount in (3.08e-13, 3.08e-13 * 1234.5, 3.08e4):
        scen, plan, strategy = _one_period(0.0, ConstantReal(rate=None, amount=amount))
        assert simulate(scen, plan, strategy, engine=engine).ruin_period.tolist() == [0]


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_result_bytes_states_what_a_result_holds(engine: str) -> None:
    from backtest.simulate import result_bytes

    scen, plan, strategy = _case(3)
    record = engine == "numpy"  # realised weights exist only on the numpy engine
    res = simulate(scen, plan, strategy, engine=engine, record_weights=record)
    arrays = [res.wealth, res.price_index, res.ruin_period, res.weights]
    arrays += [getattr(res, name) for name in FLOWS]
    held = sum(a.size * a.itemsize for a in arrays if a is not None)
    n_t = res.contributions.shape[1]
    assert result_bytes(res.n_scenarios, n_t, len(res.assets), record) == held


@dataclass(frozen=True)
class _SharedGlide(NoStateTable):
    """One target row for all scenarios that changes in steps (held flat for a few
    periods, then moved), so the kernel's copy of the shared row must follow each change
    and may skip only unchanged periods."""

    depends_on_returns = False  # a class attribute (no annotation: not a field)
    name: str
    assets: tuple[str, ...]
    rebalance: RebalanceRule = field(default_factory=RebalanceRule)
    sleeve_band: SleeveBand | None = None
    smoothing: None = None

    def target_weights(self, schedule: Schedule, past_returns: np.ndarray) -> np.ndarray:
        n = schedule.n_periods
        step = np.minimum(np.arange(n) // 5, 10) / 10.0  # moves every 5 periods, then flat
        equity = 0.9 - 0.6 * step
        share = np.arange(len(self.assets) - 1, 0, -1.0)  # the rest: 2:1 of 3 assets, ...
        rest = (1 - equity)[:, None] * (share / share.sum())[None, :]
        return np.concatenate([equity[:, None], rest], axis=1)[None, :, :]


@pytest.mark.parametrize("seed", range(8))
def test_kernel_matches_reference_on_a_shared_changing_glide_without_fees_or_costs(
    seed: int,
) -> None:
    scen, plan, strategy = _case(seed)
    plan = dataclasses.replace(plan, expense_ratio=0.0, transaction_cost_bps=0.0)
    glide = _SharedGlide("glide", strategy.assets, strategy.rebalance, strategy.sleeve_band)
    _assert_engines_agree(scen, plan, glide)
    fast = simulate(scen, plan, glide, engine="numba")
    assert not fast.fees.any() and not fast.costs.any()
