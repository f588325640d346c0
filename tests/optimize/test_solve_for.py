"""Bisection on common random numbers: exact boundary, direction, integers, interval coverage."""

from __future__ import annotations

import numpy as np
import pytest

from optimize.solve_for import SolveError, bisect_on_crn


def _survivors(u: np.ndarray):
    """Success when a scenario's uniform draw exceeds x: rate falls with x, true p(x) = 1 - x."""
    return lambda x: u > x


def test_answer_is_the_feasible_boundary_of_the_step_function() -> None:
    u = np.random.default_rng(1).uniform(size=1000)
    res = bisect_on_crn(_survivors(u), 0.0, 1.0, 0.9, xtol=1e-9)
    assert not res.increasing
    assert res.achieved >= 0.9
    # Just past the answer the rate drops below the target: x is the largest feasible input.
    assert np.mean(u > res.x + 2e-9) < 0.9
    # On 1000 draws the boundary is the 100th smallest draw (900 draws must exceed x).
    assert np.sort(u)[99] - 1e-9 <= res.x <= np.sort(u)[100]
    assert res.ci_low <= res.x <= res.ci_high
    assert res.n_scenarios == 1000


def test_increasing_rate_gives_the_smallest_feasible_input() -> None:
    u = np.random.default_rng(2).uniform(size=500)
    res = bisect_on_crn(lambda x: u < x, 0.0, 1.0, 0.5, xtol=1e-9)
    assert res.increasing
    assert np.mean(u < res.x) >= 0.5
    assert np.mean(u < res.x - 2e-9) < 0.5


def test_integer_search_returns_a_whole_number() -> None:
    # Success when the scenario's "need" (whole years) is at most x: rising in x.
    need = np.random.default_rng(3).integers(55, 75, size=400)
    res = bisect_on_crn(lambda x: need <= x, 50, 80, 0.9, integer=True)
    assert res.x == int(res.x)
    assert np.mean(need <= res.x) >= 0.9 > np.mean(need <= res.x - 1)


def test_each_input_is_evaluated_once() -> None:
    u = np.random.default_rng(4).uniform(size=200)
    calls: list[float] = []

    def fn(x: float) -> np.ndarray:
        calls.append(x)
        return u > x

    res = bisect_on_crn(fn, 0.0, 1.0, 0.8)
    assert len(calls) == len(set(calls)) == res.n_evaluations


def test_interval_covers_the_true_answer_about_95_percent_of_the_time() -> None:
    # The true answer of p(x) = 1 - x = 0.9 is x = 0.1. Over 300 independent scenario sets
    # the 95 % interval should cover it about 285 times; binomial sd is about 3.8 runs, so
    # [0.89, 0.99] is a > 3 sd band around 0.95 yet rejects a missing or halved interval.
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(300):
        u = rng.uniform(size=2000)
        res = bisect_on_crn(_survivors(u), 0.0, 1.0, 0.9, xtol=1e-6)
        covered += res.ci_low <= 0.1 <= res.ci_high
    assert 0.89 <= covered / 300 <= 0.99


def test_fewer_effective_scenarios_widen_the_interval() -> None:
    u = np.random.default_rng(6).uniform(size=2000)
    full = bisect_on_crn(_survivors(u), 0.0, 1.0, 0.9)
    dependent = bisect_on_crn(_survivors(u), 0.0, 1.0, 0.9, n_effective=200)
    assert dependent.x == full.x
    assert dependent.ci_high - dependent.ci_low > 2 * (full.ci_high - full.ci_low)


def test_bracket_not_straddling_the_target_names_the_fix() -> None:
    u = np.random.default_rng(7).uniform(size=100)
    with pytest.raises(SolveError, match="widen"):
        bisect_on_crn(_survivors(u), 0.5, 1.0, 0.9)


def test_changing_the_scenarios_between_calls_is_an_error() -> None:
    rng = np.random.default_rng(8)
    with pytest.raises(SolveError, match="same scenarios"):
        bisect_on_crn(lambda x: rng.uniform(size=rng.integers(10, 20)) > x, 0.0, 1.0, 0.5)


@pytest.mark.parametrize(("lo", "hi"), [(1.0, 0.0), (0.0, float("nan"))])
def test_empty_bracket_is_an_error(lo: float, hi: float) -> None:
    with pytest.raises(SolveError, match="bracket"):
        bisect_on_crn(lambda x: np.ones(3), lo, hi, 0.5)


def test_batched_rounds_find_the_same_boundary_in_fewer_rounds() -> None:
    u = np.random.default_rng(9).uniform(size=3000)
    batches: list[int] = []

    def fn_many(xs):  # type: ignore[no-untyped-def]
        batches.append(len(xs))
        return [u > x for x in xs]

    one = bisect_on_crn(_survivors(u), 0.0, 1.0, 0.9, xtol=1e-9)
    many = bisect_on_crn(_survivors(u), 0.0, 1.0, 0.9, xtol=1e-9, fn_many=fn_many, per_round=7)
    # Both are the feasible end of a bracket of width <= xtol around the same step.
    assert abs(many.x - one.x) <= 1e-9 and many.achieved >= 0.9
    assert abs(many.ci_low - one.ci_low) <= 1e-9 and abs(many.ci_high - one.ci_high) <= 1e-9
    # 7 inputs a round shrink the bracket 8-fold: about a third of bisection's 30 rounds.
    assert len(batches) < one.n_evaluations / 2


def test_batched_integer_search_is_exact() -> None:
    need = np.random.default_rng(10).integers(55, 75, size=400)
    one = bisect_on_crn(lambda x: need <= x, 40, 90, 0.9, integer=True)
    many = bisect_on_crn(
        lambda x: need <= x,
        40,
        90,
        0.9,
        integer=True,
        fn_many=lambda xs: [need <= x for x in xs],
        per_round=5,
    )
    assert (many.x, many.ci_low, many.ci_high) == (one.x, one.ci_low, one.ci_high)


@pytest.mark.parametrize(("target", "end"), [(0.999, "ci_low"), (0.002, "ci_high")])
def test_interval_cut_by_the_bracket_is_marked_censored(target: float, end: str) -> None:
    # Near a rate of 1 (or 0) the interval's far end passes the bracket's end: it is cut
    # there and flagged, while the answer itself stays inside the bracket.
    u = np.random.default_rng(1).uniform(size=1000)
    res = bisect_on_crn(_survivors(u), 0.0, 1.0, target, n_effective=5)
    assert res.censored
    assert getattr(res, end) == (0.0 if end == "ci_low" else 1.0)
    assert 0.0 < res.x < 1.0 and res.ci_low <= res.x <= res.ci_high
    inside = bisect_on_crn(_survivors(u), 0.0, 1.0, 0.9)
    assert not inside.censored and 0.0 < inside.ci_low < inside.ci_high < 1.0
