"""The adaptive policy table: interpolation, validation, the strategy protocol."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies.adaptive import AdaptivePolicy
from strategies.base import Schedule, Strategy
from strategies.errors import StrategyError


def small_policy(**overrides: object) -> AdaptivePolicy:
    """Three years, three wealth nodes per year, two assets; equity falls with wealth."""
    grid = np.array([[0.0, 100.0, 300.0], [10.0, 110.0, 310.0], [20.0, 120.0, 320.0]])
    eq = np.array([[0.9, 0.5, 0.1], [0.8, 0.4, 0.2], [0.7, 0.3, 0.0]])
    fields: dict[str, object] = {
        "name": "toy",
        "assets": ("stocks", "bonds"),
        "ages": np.array([60.0, 61.0, 62.0]),
        "wealth_grid": grid,
        "weights": np.stack([eq, 1.0 - eq], axis=2),
        "value": np.array([[0.1, 0.6, 0.9], [0.2, 0.7, 0.95], [0.3, 0.8, 1.0]]),
        "spending_pv": np.array([300.0, 200.0, 100.0]),
        "contribution_pv": np.array([50.0, 0.0, 0.0]),
    }
    fields.update(overrides)
    return AdaptivePolicy(**fields)  # type: ignore[arg-type]


def test_is_a_strategy() -> None:
    assert isinstance(small_policy(), Strategy)


def test_interpolates_linearly_between_nodes_and_clamps_outside() -> None:
    p = small_policy()
    # halfway between 0 and 100 at year 0: equity (0.9 + 0.5) / 2
    np.testing.assert_allclose(p.weights_at(0, np.array([50.0]))[0], [0.7, 0.3], rtol=0, atol=1e-15)
    # a quarter of the way from 110 to 310 at year 1: 0.4 + 0.25 * (0.2 - 0.4)
    np.testing.assert_allclose(p.weights_at(1, np.array([160.0]))[0, 0], 0.35, atol=1e-15)
    # clamped: below the first node and above the last
    np.testing.assert_allclose(p.weights_at(2, np.array([-5.0, 1e9]))[:, 0], [0.7, 0.0], atol=0)


@given(st.lists(st.floats(-1e6, 1e7, allow_nan=False), min_size=1, max_size=20))
def test_weights_in_bounds_and_sum_to_one(wealth: list[float]) -> None:
    p = small_policy()
    for year in range(3):
        w = p.weights_at(year, np.array(wealth))
        assert np.all(w >= 0) and np.all(w <= 1)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)  # two additions' round-off


def test_funded_ratio_is_affine_in_wealth_and_inverts() -> None:
    p = small_policy(state="funded_ratio")
    w = np.array([0.0, 250.0])
    fr = p.funded_ratio(0, w)
    np.testing.assert_allclose(fr, [50.0 / 300.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(p.wealth_of_funded_ratio(0, fr), w, atol=1e-12)
    np.testing.assert_allclose(p.state_grid()[2], np.array([20.0, 120.0, 320.0]) / 100.0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("wealth_grid", np.array([[0.0, 0.0, 1.0]] * 3), "strictly increasing"),
        ("weights", np.full((3, 3, 2), 0.6), "sum to 1"),
        ("weights", np.full((3, 3, 3), 1 / 3), "expected"),
        ("ages", np.array([60.0, 62.0, 64.0]), "one year apart"),
        ("value", np.zeros((3, 2)), "value has shape"),
        ("state", "ratio", "state="),
        ("spending_pv", np.array([1.0, -1.0, 0.0]), "spending_pv"),
    ],
)
def test_bad_tables_are_named(field: str, value: object, message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        small_policy(**{field: value})


def test_funded_ratio_needs_spending_still_to_come() -> None:
    with pytest.raises(StrategyError, match="funded_ratio"):
        small_policy(state="funded_ratio", spending_pv=np.array([1.0, 1.0, 0.0]))


def test_arrays_are_read_only_copies() -> None:
    grid = np.array([[0.0, 1.0]] * 3)
    p = small_policy(
        wealth_grid=grid,
        weights=np.full((3, 2, 2), 0.5),
        value=np.zeros((3, 2)),
    )
    grid[0, 0] = -7.0
    assert p.wealth_grid[0, 0] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        p.weights[0, 0, 0] = 1.0


def test_target_weights_follow_the_median_path_or_say_why_not() -> None:
    sched = Schedule.from_ages(60, 63, 60, 1)
    past = np.zeros((1, 3, 2))
    with pytest.raises(StrategyError, match="no median path"):
        small_policy().target_weights(sched, past)
    p = small_policy(median_wealth=np.array([50.0, 110.0, 320.0]))
    w = p.target_weights(sched, past)
    assert w.shape == (1, 3, 2)
    np.testing.assert_allclose(w[0, :, 0], [0.7, 0.4, 0.0], atol=1e-15)


def test_schedule_must_match_the_solved_ages() -> None:
    p = small_policy(median_wealth=np.zeros(3))
    with pytest.raises(StrategyError, match="solved for ages 60-63"):
        p.rows_for(Schedule.from_ages(59, 62, 60, 1))
    with pytest.raises(StrategyError, match="once a year"):
        p.rows_for(Schedule.from_ages(60, 63, 60, 12))
    # a plan that ends early uses the first rows
    np.testing.assert_array_equal(p.rows_for(Schedule.from_ages(60, 62, 60, 1)), [0, 1])


def test_state_table_hands_the_simulator_the_rows_of_the_schedule() -> None:
    base = pytest.importorskip("strategies.base")
    if not hasattr(base, "StateTable"):
        pytest.skip("the simulator's StateTable hook has not landed")
    p = small_policy()
    table = p.state_table(Schedule.from_ages(61, 63, 60, 1))
    np.testing.assert_array_equal(table.wealth_grid, p.wealth_grid[1:])
    np.testing.assert_array_equal(table.weights, p.weights[1:])
