"""The DP on a backend (issue 28): every year's wealth nodes split into chunks, each chunk a
task of a ``map_fn``; the policy table, the promise and the model check are bit-identical
to the in-process solve for 1, 2 and 4 chunks, every objective and both engines.

(The Dask case, on 1 and 2 local workers: tests/glidelab/test_adaptive_dask.py.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backtest.outcomes import IncomePreferences
from backtest.plan import Plan
from optimize.baselines import serial_map
from optimize.dynamic import (
    Objective,
    ReturnModel,
    income_ce,
    max_success,
    solve_adaptive,
    tradeoff,
)
from optimize.glidepath import OptimizationError
from tests.optimize.backend_checks import (
    CountingMap,
    assert_adaptive_identical,
    short_retiree_plan,
)
from tests.optimize.test_dynamic import merton_fraction, two_point

N_STATES = 101  # small grids: every solve here takes well under a second


@pytest.fixture(scope="module")
def short_retiree() -> Plan:
    return short_retiree_plan()


OBJECTIVES = {
    "success": max_success(),
    "shortfall": tradeoff(0.03, "shortfall"),
    "wealth": tradeoff(0.03, "wealth"),
    "ce": income_ce(IncomePreferences(gamma=5.0)),
    "ce-bequest": income_ce(
        IncomePreferences(gamma=3.0, bequest_weight=1.0, bequest_shifter=10_000.0)
    ),
}


@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_chunked_solves_are_bit_identical(
    objective: str, engine: str, iid_model: ReturnModel, short_retiree: Plan
) -> None:
    obj = OBJECTIVES[objective]
    q = np.linspace(0.995, 0.9, short_retiree.n_periods(1))  # survival: the q branches too
    kw: dict[str, Any] = {"n_states": N_STATES, "n_paths": 300, "engine": engine, "survival": q}
    reference = solve_adaptive(short_retiree, iid_model, obj, **kw)
    for chunks in (1, 2, 4):
        size = -(-N_STATES // chunks)
        counted = CountingMap()
        on_map = solve_adaptive(
            short_retiree, iid_model, obj, map_fn=counted, chunk_nodes=size, **kw
        )
        assert counted.calls == [chunks] * short_retiree.n_periods(1)  # one call a year
        assert_adaptive_identical(on_map, reference)
        here = solve_adaptive(short_retiree, iid_model, obj, chunk_nodes=size, **kw)
        assert_adaptive_identical(here, reference)


def test_default_chunking_is_the_in_process_one(
    iid_model: ReturnModel, short_retiree: Plan
) -> None:
    """Without ``chunk_nodes`` a backend gets the in-process chunks (about 4 million
    values a task on numpy: the whole year of these small grids), and the same answer."""
    obj = OBJECTIVES["ce"]
    counted = CountingMap()
    a = solve_adaptive(short_retiree, iid_model, obj, n_states=N_STATES, n_paths=300)
    b = solve_adaptive(
        short_retiree, iid_model, obj, n_states=N_STATES, n_paths=300, map_fn=counted
    )
    assert counted.calls == [1] * short_retiree.n_periods(1)
    assert_adaptive_identical(a, b)


def test_crra_merton_check_is_chunk_independent() -> None:
    """The CRRA branch (extrapolated certainty equivalents) chunked 1, 2, 4 ways."""
    model = two_point(0.30, -0.10, 0.5, 0.02)
    plan = Plan(start_age=60, retirement_age=65, end_age=65, initial_balance=100.0)
    obj = Objective(crra_gamma=4.0)
    reference = solve_adaptive(plan, model, obj, n_states=N_STATES, weight_step=0.01)
    w_star = merton_fraction(1.30, 0.90, 0.5, 1.02, 4.0)
    # the weight grid is 0.01: half a step of rounding (the check still solves Merton)
    assert abs(reference.policy.weights[0, N_STATES // 2, 0] - w_star) <= 0.005 + 1e-12
    for chunks in (1, 2, 4):
        size = -(-N_STATES // chunks)
        got = solve_adaptive(
            plan,
            model,
            obj,
            n_states=N_STATES,
            weight_step=0.01,
            map_fn=serial_map,
            chunk_nodes=size,
        )
        assert_adaptive_identical(got, reference)


def test_bad_chunk_size_says_so(iid_model: ReturnModel, short_retiree: Plan) -> None:
    with pytest.raises(OptimizationError, match="chunk_nodes=0 must be >= 1"):
        solve_adaptive(short_retiree, iid_model, n_states=N_STATES, chunk_nodes=0)
