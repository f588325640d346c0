"""What the optimisers' backend tests share (issue 28): a ``map_fn`` that counts its tasks,
a short retiree and a two-asset model small enough for quick DP solves, and the
bit-for-bit comparison of two adaptive results (in ``tests/optimize`` and
``tests/glidelab/test_adaptive_dask.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from backtest.plan import ConstantReal, Plan
from optimize.baselines import serial_map
from optimize.dynamic import AdaptiveResult, ReturnModel, lognormal_model


class CountingMap:
    """``serial_map`` that records how many tasks each call got."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(
        self, fn: Callable[[Any, Any], Any], tasks: Sequence[Any], shared: Any
    ) -> list[Any]:
        self.calls.append(len(tasks))
        return serial_map(fn, tasks, shared)


def two_asset_model() -> ReturnModel:
    """Stocks and bonds, i.i.d. lognormal (real annual log means 5 % and 1.5 %,
    volatilities 18 % and 7 %, correlation 0.1), 7 x 7 Gauss-Hermite outcomes."""
    cov = np.array([[0.18**2, 0.1 * 0.18 * 0.07], [0.1 * 0.18 * 0.07, 0.07**2]])
    return lognormal_model(("us_stocks", "tbonds_10y"), [0.05, 0.015], cov, nodes=7)


def short_retiree_plan() -> Plan:
    """Twelve years of a 45,000 USD real withdrawal from 500,000 USD (a plan that can fail)."""
    return Plan(
        start_age=75,
        retirement_age=75,
        end_age=87,
        initial_balance=500_000,
        withdrawal=ConstantReal(rate=None, amount=45_000, timing="start"),
        expense_ratio=0.002,
    )


def assert_adaptive_identical(a: AdaptiveResult, b: AdaptiveResult) -> None:
    """The policy tables, the promise and the model check, bit for bit (no tolerance: a
    chunking or a backend must not change a single sum)."""
    assert np.array_equal(a.policy.weights, b.policy.weights)
    assert np.array_equal(a.policy.value, b.policy.value)
    assert np.array_equal(a.policy.median_wealth, b.policy.median_wealth)
    assert a.value == b.value
    assert a.success_model == b.success_model
    assert np.array_equal([a.promised_ce, a.ce_model], [b.promised_ce, b.ce_model], equal_nan=True)
