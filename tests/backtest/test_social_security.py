"""Social Security: the PIA formula, claiming adjustments and AIME against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.errors import PlanError
from backtest.social_security import (
    average_indexed_monthly_earnings,
    benefit_from_earnings,
    claiming_factor,
    primary_insurance_amount,
)


@pytest.mark.parametrize(
    ("aime", "pia"),
    [
        (0.0, 0.0),
        (1000.0, 900.0),  # below the first bend point: 90 %
        (1226.0, 1103.40),  # at the first bend point: 0.9 x 1226
        (3000.0, 1103.40 + 0.32 * 1774.0),  # between: 1103.40 + 567.68 = 1671.08
        (7391.0, 1103.40 + 0.32 * 6165.0),  # at the second: 1103.40 + 1972.80 = 3076.20
        (10000.0, 3076.20 + 0.15 * 2609.0),  # above: 3076.20 + 391.35 = 3467.55
    ],
)
def test_pia_at_and_between_bend_points(aime: float, pia: float) -> None:
    # Hand sums of a few products; 1e-9 allows float round-off only.
    assert primary_insurance_amount(aime) == pytest.approx(pia, abs=1e-9)


def test_pia_hand_values_written_out() -> None:
    got = primary_insurance_amount(np.array([3000.0, 7391.0, 10000.0]))
    np.testing.assert_allclose(got, [1671.08, 3076.20, 3467.55], atol=1e-9)


@pytest.mark.parametrize(
    ("age", "factor"),
    [
        (62.0, 0.70),  # 60 months early: 36 x 5/9 % + 24 x 5/12 % = 20 % + 10 %
        (64.0, 1 - 36 * 5 / 900),  # 36 months early: 80 %
        (65.0, 1 - 24 * 5 / 900),  # 24 months: 86.67 %
        (67.0, 1.00),  # full retirement age
        (68.5, 1.12),  # 18 months late x 2/3 %
        (70.0, 1.24),  # 36 months x 2/3 % = 24 %
        (72.0, 1.24),  # no credits after 70
    ],
)
def test_claiming_factor(age: float, factor: float) -> None:
    assert claiming_factor(age) == pytest.approx(factor, abs=1e-12)


def test_claiming_before_62_is_an_error() -> None:
    with pytest.raises(PlanError, match="at least 62"):
        claiming_factor(61.0)


def test_aime_takes_the_highest_35_years() -> None:
    # 40 years: the 5 lowest must not count.
    earnings = np.array([[12_000.0] * 5 + [60_000.0] * 35])
    assert average_indexed_monthly_earnings(earnings)[0] == pytest.approx(60_000.0 / 12.0)
    # Fewer than 35 years count zeros: 20 years of 42,000 -> 20 x 42,000 / 420 = 2,000.
    short = np.array([[42_000.0] * 20])
    assert average_indexed_monthly_earnings(short)[0] == pytest.approx(2000.0)


@pytest.mark.parametrize(("claim", "factor"), [(62.0, 0.70), (67.0, 1.0), (70.0, 1.24)])
def test_benefit_from_a_flat_career_at_three_claiming_ages(claim: float, factor: float) -> None:
    # 35 years at 72,000 a year (no real wage growth): AIME 6,000 a month;
    # PIA = 0.9 x 1226 + 0.32 x (6000 - 1226) = 1103.40 + 1527.68 = 2631.08 a month.
    ages = np.arange(25.0, 60.0)
    earnings = np.full((1, ages.size), 72_000.0)
    got = benefit_from_earnings(earnings, ages, 1995, claim)[0]
    assert got == pytest.approx(12 * 2631.08 * factor, rel=1e-12)


def test_earnings_above_the_taxable_maximum_do_not_count() -> None:
    ages = np.arange(25.0, 60.0)
    capped = benefit_from_earnings(np.full((1, 35), 176_100.0), ages, 1995, 67.0)
    above = benefit_from_earnings(np.full((1, 35), 400_000.0), ages, 1995, 67.0)
    assert above[0] == pytest.approx(capped[0], rel=1e-12)
    # AIME = 176,100 / 12 = 14,675: PIA = 3076.20 + 0.15 x (14,675 - 7,391) = 4168.80.
    assert capped[0] == pytest.approx(12 * 4168.80, rel=1e-12)


def test_real_wage_growth_scales_indexed_earnings_and_bend_points_together() -> None:
    # A member whose real earnings grow with the average wage keeps the same AIME relative
    # to the bend points: with g > 0 the benefit is the g = 0 benefit of the age-60
    # earnings level, scaled by the bend-point growth to that year.
    g = 0.01
    ages = np.arange(25.0, 60.0)
    level_60 = 72_000.0
    earnings = level_60 * (1 + g) ** (ages - 60.0)
    got = benefit_from_earnings(earnings[None, :], ages, 1963, 67.0, wage_growth_real=g)[0]
    # Born 1963: turns 60 in 2023, the year the 2025 bend points belong to -> no scaling.
    assert got == pytest.approx(12 * 2631.08, rel=1e-12)
