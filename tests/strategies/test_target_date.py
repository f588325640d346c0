"""GlidePath and AgeBasedMix: interpolation, validation, invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies import AgeBasedMix, GlidePath, Schedule, Strategy, validate_weights

# Linear interpolation of a few knots: only float round-off separates it from hand values.
TOL = 1e-12


def simple_path(**kw) -> GlidePath:
    args = dict(
        name="p",
        assets=("eq", "bd"),
        knots_years_to_retirement=(25.0, 0.0, -7.0),
        weights=((0.9, 0.1), (0.5, 0.5), (0.3, 0.7)),
    )
    args.update(kw)
    return GlidePath(**args)


def test_interpolates_between_knots_and_is_flat_beyond():
    p = simple_path()
    ytr = np.array([40.0, 25.0, 12.5, 0.0, -3.5, -7.0, -30.0])
    eq = p.weights_at(ytr)[:, 0]
    np.testing.assert_allclose(eq, [0.9, 0.9, 0.7, 0.5, 0.4, 0.3, 0.3], atol=TOL)
    np.testing.assert_allclose(p.weights_at(ytr).sum(axis=1), 1.0, atol=TOL)


def test_knots_accepted_in_either_direction_and_stored_ascending():
    a = simple_path()
    b = simple_path(
        knots_years_to_retirement=(-7.0, 0.0, 25.0),
        weights=((0.3, 0.7), (0.5, 0.5), (0.9, 0.1)),
    )
    assert a == b
    assert a.knots_years_to_retirement == (-7.0, 0.0, 25.0)
    x = np.linspace(-40, 40, 81)
    np.testing.assert_allclose(a.weights_at(x), b.weights_at(x), atol=TOL)


def test_target_weights_uses_schedule_ages_and_broadcast_shape():
    p = simple_path()
    sch = Schedule.from_ages(25, 95, 65, 12)
    w = p.target_weights(sch, np.zeros((3, sch.n_periods, 2)))
    assert w.shape == (1, sch.n_periods, 2)
    # age 52.5 -> 12.5 years to retirement -> 70 % equity
    k = int(np.argmin(np.abs(sch.age_start - 52.5)))
    np.testing.assert_allclose(w[0, k], [0.7, 0.3], atol=TOL)
    assert isinstance(p, Strategy)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"weights": ((0.9, 0.2), (0.5, 0.5), (0.3, 0.7))}, "sum"),
        ({"weights": ((1.2, -0.2), (0.5, 0.5), (0.3, 0.7))}, r"\[0, 1\]"),
        ({"weights": ((0.9, 0.1), (0.5, 0.5))}, "one row per knot"),
        ({"weights": ((0.9, 0.1, 0.0), (0.5, 0.5, 0.0), (0.3, 0.7, 0.0))}, "columns"),
        ({"knots_years_to_retirement": (25.0, -7.0, 0.0)}, "strictly"),
        ({"knots_years_to_retirement": (25.0, 25.0, 0.0)}, "strictly"),
        ({"knots_years_to_retirement": (25.0, np.nan, 0.0)}, "finite"),
        ({"assets": ("eq", "eq")}, "unique"),
        ({"equity_asset": "gold"}, "equity_asset"),
        (
            {
                "monotone_equity": True,
                "weights": ((0.9, 0.1), (0.3, 0.7), (0.5, 0.5)),
            },
            "monotone_equity",
        ),
    ],
)
def test_validation_errors_name_the_problem(kw, match):
    with pytest.raises(ValueError, match=match):
        simple_path(**kw)


def test_monotone_accepts_declining_path_and_names_equity():
    p = simple_path(monotone_equity=True, equity_asset="eq")
    assert p.equity == "eq"


def test_optimizer_roundoff_is_cleaned():
    p = simple_path(weights=((0.9 + 3e-9, 0.1), (0.5, 0.5 - 2e-9), (-1e-10, 1.0)))
    w = np.asarray(p.weights)
    assert w.min() >= 0.0
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=TOL)


def test_many_knots_vectorised():
    # one knot per year, as the optimizer builds them
    knots = tuple(float(k) for k in range(40, -31, -1))
    eq = np.linspace(0.95, 0.2, len(knots))
    p = GlidePath("opt", ("eq", "bd"), knots, tuple((e, 1 - e) for e in eq))
    w = p.weights_at(np.array([40.0, 39.5, -30.0]))
    np.testing.assert_allclose(w[:, 0], [eq[0], (eq[0] + eq[1]) / 2, eq[-1]], atol=TOL)


weight_rows = st.lists(
    st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).filter(lambda r: sum(r) > 0.1),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(
    rows=weight_rows,
    ages=st.lists(st.floats(0.0, 120.0), min_size=1, max_size=30),
    retirement=st.floats(40.0, 75.0),
)
def test_weights_sum_to_one_and_stay_in_bounds(rows, ages, retirement):
    w = np.asarray(rows)
    w = w / w.sum(axis=1, keepdims=True)
    knots = tuple(float(k) for k in np.linspace(30, -20, len(rows)))
    p = GlidePath("h", ("a", "b", "c"), knots, tuple(map(tuple, w)))
    out = p.weights_at_age(np.asarray(ages), retirement)
    validate_weights(out, p.assets, "hypothesis")  # raises if a row is off
    # every weight lies between the smallest and largest knot weight of its asset
    assert np.all(out >= w.min(axis=0) - TOL)
    assert np.all(out <= w.max(axis=0) + TOL)


def test_age_based_rules():
    r100 = AgeBasedMix("100", offset=100.0)
    r110 = AgeBasedMix("110", offset=110.0)
    ages = np.array([25.0, 45.0, 65.0, 85.0])
    np.testing.assert_allclose(r100.equity_share(ages), [0.75, 0.55, 0.35, 0.15], atol=TOL)
    np.testing.assert_allclose(r110.equity_share(ages), [0.85, 0.65, 0.45, 0.25], atol=TOL)
    sch = Schedule(ages, 65.0, 1)
    w = r100.target_weights(sch, np.zeros((1, 4, 2)))
    np.testing.assert_allclose(w[0, :, 1], [0.25, 0.45, 0.65, 0.85], atol=TOL)
    assert r100.assets == ("us_stocks", "tbonds_10y")


@pytest.mark.parametrize("offset", [100.0, 110.0, 120.0])
def test_age_rule_as_glide_path_is_exact(offset):
    rule = AgeBasedMix("r", offset=offset, min_equity=0.1, max_equity=0.9)
    gp = rule.as_glide_path(retirement_age=67.0)
    ages = np.linspace(0, 120, 241)
    np.testing.assert_allclose(gp.weights_at_age(ages, 67.0), rule.weights_at_age(ages), atol=TOL)
    assert gp.monotone_equity


def test_age_rule_validation():
    with pytest.raises(ValueError, match="min_equity"):
        AgeBasedMix("bad", min_equity=0.8, max_equity=0.2)
    with pytest.raises(ValueError, match="both"):
        AgeBasedMix("bad", equity_asset="x", bond_asset="x")
