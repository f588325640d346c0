"""Social Security: the PIA formula, claiming adjustments, AIME and payable benefits against
hand-computed cases (the arithmetic written out in each test, not the module's internals)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import backtest.data
from backtest.errors import PlanError
from backtest.social_security import (
    CPI_U_AVERAGE_2023,
    CPI_U_AVERAGE_2025,
    INFLATION_DEFAULT,
    TRUSTEES_2025_OASDI,
    TRUSTEES_2025_OASI,
    average_indexed_monthly_earnings,
    benefit_from_earnings,
    claiming_factor,
    payable_share,
    primary_insurance_amount,
)

EMBEDDED = Path(backtest.data.__file__).parent / "embedded"


def _cpi_ratio_2025_2023() -> float:
    """P(2025) / P(2023) from the embedded monthly CPI-U, recomputed here from the data."""
    m = pd.read_csv(EMBEDDED / "us_monthly.csv", parse_dates=["date"])
    cpi = m.groupby(m["date"].dt.year)["cpi_index"].mean()
    return float(cpi[2025] / cpi[2023])


# The lag and earnings-after-60 inflation the hand cases pass explicitly.
PI = 0.025


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


def test_cpi_constants_are_the_embedded_data() -> None:
    m = pd.read_csv(EMBEDDED / "us_monthly.csv", parse_dates=["date"])
    by_year = m.groupby(m["date"].dt.year)["cpi_index"]
    assert by_year.count()[2023] == by_year.count()[2025] == 12  # full years only
    # The constants are the annual means rounded to 4 decimals: 5e-5 is half the last digit.
    assert pytest.approx(by_year.mean()[2023], abs=5e-5) == CPI_U_AVERAGE_2023
    assert pytest.approx(by_year.mean()[2025], abs=5e-5) == CPI_U_AVERAGE_2025
    a = pd.read_csv(EMBEDDED / "us_annual.csv").set_index("year")["cpi_inflation_dec"]
    window = a.loc[1996:2025]
    assert len(window) == 30
    geo = float(np.prod(1.0 + window) ** (1.0 / 30) - 1.0)
    assert pytest.approx(geo, abs=5e-5) == INFLATION_DEFAULT  # rounded to 4 decimals


@pytest.mark.parametrize(("claim", "factor"), [(62.0, 0.70), (67.0, 1.0), (70.0, 1.24)])
def test_benefit_from_a_flat_career_at_three_claiming_ages(claim: float, factor: float) -> None:
    # 35 years at 72,000 a year (no real wage growth), born 1995: AIME 6,000 a month.
    # Bend points carry the 2023 -> 2025 price change r; the PIA loses two years of prices.
    r = _cpi_ratio_2025_2023()
    b1 = 1226.0 * r
    pia = 0.9 * b1 + 0.32 * (6000.0 - b1)
    ages = np.arange(25.0, 60.0)
    earnings = np.full((1, ages.size), 72_000.0)
    got = benefit_from_earnings(earnings, ages, 1995, claim, inflation=PI)[0]
    # rel 1e-6: r is read from the CSV here, the module holds it to 4 decimals.
    assert got == pytest.approx(12 * pia / 1.025**2 * factor, rel=1e-6)


def test_earnings_above_the_taxable_maximum_do_not_count() -> None:
    ages = np.arange(25.0, 60.0)
    capped = benefit_from_earnings(np.full((1, 35), 500_000.0), ages, 1995, 67.0, inflation=PI)
    above = benefit_from_earnings(np.full((1, 35), 900_000.0), ages, 1995, 67.0, inflation=PI)
    assert above[0] == pytest.approx(capped[0], rel=1e-12)  # only round-off
    # Real taxable maximum (g = 0): 176,100 x r / 1.025^2, every year; AIME = that / 12.
    r = _cpi_ratio_2025_2023()
    aime = 176_100.0 * r / 1.025**2 / 12.0
    b1, b2 = 1226.0 * r, 7391.0 * r
    pia = 0.9 * b1 + 0.32 * (b2 - b1) + 0.15 * (aime - b2)
    assert capped[0] == pytest.approx(12 * pia / 1.025**2, rel=1e-6)  # r to 4 decimals


def test_real_wage_growth_scales_indexed_earnings_and_bend_points_together() -> None:
    # A member whose real earnings grow with the average wage keeps the same AIME relative
    # to the bend points: born 1963 (turns 60 in 2023, the 2025 bend points' wage year),
    # with g > 0 the benefit is the g = 0 benefit of the age-60 earnings level.
    g = 0.01
    ages = np.arange(25.0, 60.0)
    earnings = 72_000.0 * (1 + g) ** (ages - 60.0)
    got = benefit_from_earnings(earnings[None, :], ages, 1963, 67.0, wage_growth_real=g)[0]
    flat = benefit_from_earnings(np.full((1, 35), 72_000.0), ages, 1963, 67.0)[0]
    assert got == pytest.approx(flat, rel=1e-12)  # only round-off


def test_worked_example_of_issue_24() -> None:
    """Born 1995, 60,000 USD real a year from 25 to 64, 1 % real wage growth, claims at 65.

    Turns 60 in 2055 (indexing year), 62 in 2057 (eligibility: bend points, COLAs).
    """
    g, r = 0.01, _cpi_ratio_2025_2023()
    indexed = [60_000.0 * 1.01 ** (60 - a) for a in range(25, 60)]  # wage-indexed to 2055
    indexed += [60_000.0 * 1.025 ** (a - 60) for a in range(60, 65)]  # nominal face value
    aime = sum(sorted(indexed, reverse=True)[:35]) / 420.0
    b1, b2 = 1226.0 * r * 1.01**32, 7391.0 * r * 1.01**32  # AWI(2055) / AWI(2023)
    assert b1 < aime < b2
    pia_2055_prices = 0.9 * b1 + 0.32 * (aime - b1)
    monthly = pia_2055_prices / 1.025**2 * (1 - 24 * 5 / 900)  # 2 years' prices; 65: -13.3 %
    ages = np.arange(25.0, 65.0)
    got = benefit_from_earnings(
        np.full((1, 40), 60_000.0), ages, 1995, 65.0, wage_growth_real=g, inflation=PI
    )[0]
    assert got == pytest.approx(12 * monthly, rel=1e-6)  # r held to 4 decimals in the module
    assert monthly == pytest.approx(2446.03, abs=0.01)  # the figure quoted in the report
    # The formula before the fix (bend points without r, no lag, post-60 years at 60,000):
    old_aime = sum(60_000.0 * 1.01**k for k in range(1, 36)) / 420.0
    old_b1 = 1226.0 * 1.01**32
    old_monthly = (0.9 * old_b1 + 0.32 * (old_aime - old_b1)) * (1 - 24 * 5 / 900)
    assert old_monthly == pytest.approx(2514.38, abs=0.01)
    # Issue 24: the old benefit was about 3 % high (+5 % lag, -2 % price base).
    assert 0.96 < monthly / old_monthly < 0.985


def test_payable_share_from_the_depletion_year_only() -> None:
    years = np.arange(2030, 2040)
    got = payable_share(years, *TRUSTEES_2025_OASDI)
    np.testing.assert_array_equal(got, np.where(years >= 2034, 0.81, 1.0))
    oasi = payable_share(years, *TRUSTEES_2025_OASI)
    np.testing.assert_array_equal(oasi, np.where(years >= 2033, 0.77, 1.0))
    # default: scheduled benefits are paid; shape is kept
    np.testing.assert_array_equal(payable_share(years.reshape(2, 5)), np.ones((2, 5)))
    # a member claiming in 2027 is paid in full to 2033, 81 % from 2034
    benefit = 24_000.0
    paid = benefit * payable_share(np.arange(2027, 2037), *TRUSTEES_2025_OASDI)
    assert paid.tolist() == [24_000.0] * 7 + [0.81 * 24_000.0] * 3


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"payable_ratio": 0.0}, "payable_ratio"),
        ({"payable_ratio": 1.2}, "payable_ratio"),
        ({"payable_ratio": float("nan")}, "payable_ratio"),
        ({"depletion_year": 2034.5}, "depletion_year"),
    ],
)
def test_payable_share_rejects_bad_input(kw: dict[str, float], match: str) -> None:
    with pytest.raises(PlanError, match=match):
        payable_share(np.array([2040.0]), **kw)  # type: ignore[arg-type]
    with pytest.raises(PlanError, match="calendar_years"):
        payable_share(np.array([np.nan]))


def test_bad_inflation_is_an_error() -> None:
    with pytest.raises(PlanError, match="inflation"):
        benefit_from_earnings(np.ones((1, 2)), np.array([30.0, 31.0]), 1995, 67.0, inflation=0.5)
