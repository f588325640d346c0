"""The statistics the benchmark report prints (nothing here times anything)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.bench_optimizer import paired_difference


def test_paired_difference_by_hand() -> None:
    a = np.array([True, True, False, False, True])
    b = np.array([True, False, True, False, False])
    p = paired_difference(a, b)
    # scenarios 1 and 4 succeed with a only, scenario 2 with b only
    assert (p["a_only"], p["b_only"], p["n"]) == (2, 1, 5)
    assert p["diff"] == 0.2
    # sqrt(b + c - (b - c)^2 / n) / n = sqrt(2.8) / 5; 1e-12: round-off of a sqrt
    assert abs(p["half_width_95"] - 1.96 * np.sqrt(2.8) / 5) < 1e-12


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=200))
def test_paired_difference_is_the_difference_of_rates(pairs: list[tuple[bool, bool]]) -> None:
    a, b = (np.array(x, dtype=bool) for x in zip(*pairs, strict=True))
    p = paired_difference(a, b)
    # 1e-12: two means of at most 200 flags against one division
    assert abs(p["diff"] - (a.mean() - b.mean())) < 1e-12
    assert p["half_width_95"] >= 0
    if (a == b).all():  # never disagree: no uncertainty about the difference
        assert p["half_width_95"] == 0 and p["diff"] == 0
