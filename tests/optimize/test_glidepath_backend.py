"""The glide-path search on a backend (issue 28): every iterate's scoring split by scenario
into fixed chunks, each chunk a task of a ``map_fn``; the knots, the iteration records and
the final success and CE are bit-identical to the in-process search for 1, 2 and 4 chunks
and both objectives.

(The Dask case, on 1 and 2 local workers: tests/glidelab/test_dask.py.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backtest.cashflows import cash_flow_rules
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.scenarios import Scenarios
from optimize.baselines import serial_map
from optimize.glidepath import OptimizationError, OptimizationResult, optimize_glide_path
from tests.optimize.backend_checks import CountingMap

ASSETS = ("us_stocks", "tbonds_10y")
N_SCENARIOS = 400  # small: each search takes a second or two
ITERATIONS = 4


def market(n: int = N_SCENARIOS, seed: int = 7, n_t: int = 70) -> Scenarios:
    """i.i.d. lognormal annual returns (stocks 5 % log mean, 17 % vol; bonds 1.5 %, 3 %)
    and 2 % inflation with 1 % noise, so nominal and real returns differ."""
    rng = np.random.default_rng(seed)
    stocks = np.expm1(rng.normal(0.05 + 0.02, 0.17, (n, n_t)))
    bonds = np.expm1(rng.normal(0.015 + 0.02, 0.03, (n, n_t)))
    inflation = rng.normal(0.02, 0.01, (n, n_t))
    return Scenarios(np.stack([stocks, bonds], -1), inflation, ASSETS, "annual")


def saver() -> Plan:
    """A 25-year-old saving until 65, then 30,000 USD real a year to 95 (a plan that can
    fail on some paths)."""
    return Plan(
        start_age=25,
        retirement_age=65,
        end_age=95,
        initial_balance=1000.0,
        contributions=Contributions(50_000, 0.10, 0.01, 0.5, 0.06),
        withdrawal=ConstantReal(rate=None, amount=30_000),
        expense_ratio=0.002,
    )


def members() -> Any:
    """A member per scenario: the plan's contributions and spending, each scaled by a
    factor of its own (0.5-1.5 and 0.8-1.2), so every row of the cash flows differs."""
    rng = np.random.default_rng(3)
    rules = cash_flow_rules(saver(), 1)
    c = np.outer(rng.uniform(0.5, 1.5, N_SCENARIOS), rules.contributions)
    w = np.outer(rng.uniform(0.8, 1.2, N_SCENARIOS), rules.spending)
    return rules.with_schedules(contributions=c, spending=w)


def search(
    objective: str, map_fn: Any = None, chunk: int = 2_000, cash_flows: Any = None
) -> OptimizationResult:
    return optimize_glide_path(
        market(),
        saver(),
        cash_flows=cash_flows,
        max_iterations=ITERATIONS,
        initial_grid_step=0.25,
        progress=False,
        objective=objective,  # type: ignore[arg-type]
        map_fn=map_fn,
        chunk_scenarios=chunk,
    )


def assert_identical(a: OptimizationResult, b: OptimizationResult) -> None:
    """Knots, every iteration's scores and the final figures, bit for bit (no tolerance:
    the chunking must not change a single sum)."""
    assert np.array_equal(a.knot_weights, b.knot_weights)
    assert np.array_equal(a.initial_weights, b.initial_weights)
    assert len(a.history) == len(b.history) > 0
    for ra, rb in zip(a.history, b.history, strict=True):
        scores = [(r.success, r.bpoe, r.ce, r.trust_radius, r.accepted) for r in (ra, rb)]
        assert np.array_equal(*scores, equal_nan=True)
    assert a.success_in_sample == b.success_in_sample
    assert a.initial_success == b.initial_success
    ce = [(r.ce_in_sample, r.ce_in_sample_se, r.initial_ce) for r in (a, b)]
    assert np.array_equal(*ce)


@pytest.fixture(scope="module", params=["success", "ce"])
def in_process(request: pytest.FixtureRequest) -> tuple[str, OptimizationResult]:
    return request.param, search(request.param)


@pytest.mark.parametrize("chunks", [1, 2, 4])
def test_chunked_search_is_bit_identical(
    chunks: int, in_process: tuple[str, OptimizationResult]
) -> None:
    objective, ref = in_process
    counting = CountingMap()
    res = search(objective, counting, chunk=N_SCENARIOS // chunks)
    assert_identical(res, ref)
    # the grid's 5 mixes (0, 25, ..., 100 % equity) in one call, then every iterate
    # (and each "ce" step's two model rounds) in `chunks` tasks
    assert counting.calls[0] == 5 * chunks
    assert len(counting.calls) > ITERATIONS
    assert set(counting.calls[1:]) == {chunks}


def test_uneven_last_chunk_is_identical(in_process: tuple[str, OptimizationResult]) -> None:
    objective, ref = in_process
    assert_identical(search(objective, serial_map, chunk=150), ref)  # 150 + 150 + 100


@pytest.mark.parametrize("objective", ["success", "ce"])
def test_a_member_per_scenario_is_chunked_with_its_scenario(objective: str) -> None:
    """Per-scenario cash flows travel with their rows: 4 chunks equal the in-process
    search, and differ from the plan's own flows (the schedules matter)."""
    ref = search(objective, cash_flows=members())
    assert_identical(
        search(objective, serial_map, chunk=N_SCENARIOS // 4, cash_flows=members()), ref
    )
    assert ref.success_in_sample != search(objective).success_in_sample


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(OptimizationError, match="chunk_scenarios"):
        search("success", serial_map, chunk=0)
