"""IncomePreferences: the one valuation of income that every objective uses (issue 23)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.errors import DataError, PlanError
from backtest.outcomes import (
    IncomePreferences,
    bequest_utility,
    certainty_equivalent,
    income_utility,
    inverse_income_utility,
    preference_certainty_equivalent,
)


def _incomes(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.exp(rng.normal(np.log(40_000.0), 0.3, size=(200, 25)))


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 5.0, 10.0])
def test_plain_preferences_give_the_crra_certainty_equivalent(gamma: float) -> None:
    c = _incomes()
    w = np.linspace(1.0, 0.2, c.shape[1])[None, :]
    got = preference_certainty_equivalent(c, IncomePreferences(gamma=gamma), w)
    assert got == pytest.approx(float(certainty_equivalent(c, gamma, w)), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    gamma=st.floats(0.0, 12.0),
    lam=st.floats(0.0, 5.0),
    income=st.floats(1_000.0, 200_000.0),
)
def test_certain_income_is_its_own_ce_at_or_above_the_reference(
    gamma: float, lam: float, income: float
) -> None:
    if gamma < 1.0:
        lam = 0.0  # loss aversion needs gamma >= 1 (tested below)
    """A certain income is its own CE unless it falls below the loss reference, where a
    loss-averse member values it as a lower income (the CE is valued without the loss term,
    so loss aversion never raises it)."""
    prefs = IncomePreferences(gamma=gamma, loss_aversion=lam, reference_replacement=0.7)
    c = np.full((3, 4), income)
    # rel 1e-9: a utility round-trip through expm1/log at gamma up to 12
    got = preference_certainty_equivalent(c, prefs, reference=30_000.0)
    if income >= 30_000.0 or lam == 0.0:
        assert got == pytest.approx(income, rel=1e-9)
    else:
        assert got <= income
        plain = IncomePreferences(gamma=gamma)
        v = income_utility(income, prefs, 40_000.0, 30_000.0)
        assert got == pytest.approx(float(inverse_income_utility(v, plain, 40_000.0)), rel=1e-9)


def test_loss_aversion_never_raises_the_ce_even_with_references_by_member() -> None:
    """With a reference per member (fund design), the loss-averse CE stays at or below the
    plain CRRA CE of the same incomes."""
    c = _incomes(4)[:, 0]
    refs = np.exp(np.random.default_rng(5).normal(np.log(45_000.0), 0.4, c.size))
    plain = preference_certainty_equivalent(c, IncomePreferences(gamma=5.0))
    for lam in (0.5, 2.0, 5.0):
        prefs = IncomePreferences(gamma=5.0, loss_aversion=lam, reference_replacement=0.7)
        assert preference_certainty_equivalent(c, prefs, reference=refs) < plain


@settings(max_examples=40, deadline=None)
@given(gamma=st.floats(1.0, 10.0), lam=st.floats(0.0, 4.0), u=st.floats(-0.9, 0.09))
def test_inverse_undoes_the_utility(gamma: float, lam: float, u: float) -> None:
    # u below CRRA's bound 1 / (gamma - 1) for gamma in [1, 10]
    prefs = IncomePreferences(gamma=gamma, loss_aversion=lam, reference_replacement=0.7)
    c = inverse_income_utility(u, prefs, scale=40_000.0, reference=35_000.0)
    back = income_utility(c, prefs, scale=40_000.0, reference=35_000.0)
    assert float(back) == pytest.approx(u, rel=1e-9, abs=1e-12)


def test_loss_aversion_lowers_the_ce_only_when_incomes_fall_below_the_reference() -> None:
    c = _incomes()
    plain = preference_certainty_equivalent(c, IncomePreferences(gamma=5.0))
    low_ref = IncomePreferences(gamma=5.0, loss_aversion=2.0, reference_replacement=0.7)
    assert preference_certainty_equivalent(c, low_ref, reference=1_000.0) == pytest.approx(
        plain, rel=1e-12
    )
    assert preference_certainty_equivalent(c, low_ref, reference=40_000.0) < plain - 500.0


def test_utility_with_loss_aversion_is_concave_and_increasing() -> None:
    prefs = IncomePreferences(gamma=2.0, loss_aversion=1.5, reference_replacement=0.7)
    c = np.linspace(5_000.0, 90_000.0, 2_001)
    v = income_utility(c, prefs, scale=40_000.0, reference=30_000.0)
    dv = np.diff(v)
    assert (dv > 0).all()
    assert (np.diff(dv) <= 1e-15).all()


def test_bequest_term_raises_the_ce_and_is_zero_when_off() -> None:
    c = _incomes()
    b = np.full(c.shape, 100_000.0)
    d = np.full(c.shape, 0.01)
    with_b = IncomePreferences(gamma=5.0, bequest_weight=1.0)
    assert preference_certainty_equivalent(
        c, with_b, bequests=b, death_weights=d
    ) > preference_certainty_equivalent(c, IncomePreferences(gamma=5.0))
    assert (bequest_utility(b, IncomePreferences(), 40_000.0) == 0).all()


def test_bad_preferences_name_the_fix() -> None:
    with pytest.raises(PlanError, match="reference_replacement"):
        IncomePreferences(loss_aversion=1.0)
    with pytest.raises(PlanError, match="gamma"):
        IncomePreferences(gamma=-1.0)
    with pytest.raises(PlanError, match="gamma >= 1"):
        IncomePreferences(gamma=0.5, loss_aversion=1.0, reference_replacement=0.7)
    with pytest.raises(PlanError, match="bequest"):
        preference_certainty_equivalent(_incomes(), IncomePreferences(bequest_weight=1.0))
    with pytest.raises(DataError, match="floor"):
        preference_certainty_equivalent(
            np.zeros((2, 2)),
            IncomePreferences(loss_aversion=1.0, reference_replacement=0.7),
            reference=1.0,
        )
