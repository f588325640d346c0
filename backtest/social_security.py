"""US Social Security retirement benefit from a salary history (simplified, real terms).

The formula (Social Security Act sec. 215; SSA, "Primary Insurance Amount" and "Average
Indexed Monthly Earnings", ssa.gov/oact/cola):

1. Earnings of each year, capped at the taxable maximum (176,100 USD in 2025), are
   **indexed** to the national average wage of the year the member turns 60; earnings at
   60 and later count at face value.
2. **AIME** = the sum of the highest 35 indexed years / (35 x 12), USD a month (fewer
   years of work leave zeros among the 35).
3. **PIA** = 90 % of AIME up to the first bend point + 32 % between the bend points +
   15 % above the second. The 2025 bend points are 1,226 and 7,391 USD a month
   (SSA, "Benefit formula bend points", for members first eligible in 2025).
4. **Claiming adjustment** against the full retirement age (FRA, 67 for those born in
   1960 or later): claiming early reduces the benefit by 5/9 % a month for the first 36
   months and 5/12 % a month beyond (62 -> 70 % of PIA); delayed retirement credits add
   8 % a year (2/3 % a month) up to age 70 (-> 124 %).

Real terms: the population model works in real USD of 2025. With economy-wide real
wage growth ``g`` a year, the average wage index grows by ``g`` in real terms, so indexing
multiplies a year's real earnings by ``(1 + g) ** (60 - age)`` and the bend points and the
taxable maximum of a later year are the 2025 ones times ``(1 + g) ** (years after 2025)``.
With ``g = 0`` the formula is the textbook one with 2025 parameters. Simplifications,
stated: SSA's rounding (AIME down to the dollar, PIA down to the dime) is not applied; the
two-year lag between the indexing year (60) and eligibility (62) is ignored; benefits are
fully indexed to prices after claiming (COLA), so the benefit is constant in real terms;
spousal, survivor and earnings-test rules are not modelled.
"""

from __future__ import annotations

import numpy as np

from backtest.errors import PlanError
from backtest.types import FloatArray

#: 2025 PIA bend points, USD a month (SSA).
BEND_POINTS_2025: tuple[float, float] = (1226.0, 7391.0)
#: PIA factors below, between and above the bend points.
PIA_FACTORS: tuple[float, float, float] = (0.90, 0.32, 0.15)
#: 2025 contribution and benefit base (taxable maximum), USD a year (SSA).
TAXABLE_MAXIMUM_2025 = 176_100.0
#: Full retirement age for those born in 1960 or later, years.
FULL_RETIREMENT_AGE = 67.0
#: Computation years in the AIME.
COMPUTATION_YEARS = 35
#: Indexing age: earnings are indexed to the average wage of the year the member turns 60.
INDEXING_AGE = 60
#: Earliest and latest claiming ages that change the benefit.
EARLIEST_CLAIM_AGE, LATEST_CREDIT_AGE = 62.0, 70.0


def primary_insurance_amount(
    aime: FloatArray | float, bend_points: tuple[float, float] = BEND_POINTS_2025
) -> FloatArray:
    """PIA, USD a month, from AIME, USD a month: 90 / 32 / 15 % across the bend points.

    ``bend_points`` are USD a month (default: 2025). Vectorised; AIME must be >= 0.
    """
    x = np.asarray(aime, dtype=np.float64)
    if (x < 0).any() or not np.all(np.isfinite(x)):
        raise PlanError("AIME must be a finite amount >= 0 (USD a month)")
    b1, b2 = bend_points
    if not 0 < b1 < b2:
        raise PlanError(f"bend points {bend_points} must satisfy 0 < first < second (USD a month)")
    f1, f2, f3 = PIA_FACTORS
    return (
        f1 * np.minimum(x, b1) + f2 * np.clip(x - b1, 0.0, b2 - b1) + f3 * np.maximum(x - b2, 0.0)
    )


def claiming_factor(
    claim_age: FloatArray | float, full_retirement_age: float = FULL_RETIREMENT_AGE
) -> FloatArray:
    """Share of PIA paid when claiming at ``claim_age`` (years; whole months count).

    Early: minus 5/9 % a month for up to 36 months before FRA, 5/12 % a month beyond.
    Late: plus 2/3 % a month (8 % a year) up to age 70. 62 -> 0.70, 67 -> 1.00, 70 -> 1.24
    (FRA 67).
    """
    age = np.asarray(claim_age, dtype=np.float64)
    if (age < EARLIEST_CLAIM_AGE - 1e-9).any() or (age > 125).any():
        raise PlanError(f"claim age must be at least {EARLIEST_CLAIM_AGE:g}; got {claim_age}")
    months = np.round((age - full_retirement_age) * 12.0)
    early = np.maximum(-months, 0.0)
    late = np.clip(months, 0.0, (LATEST_CREDIT_AGE - full_retirement_age) * 12.0)
    reduction = np.minimum(early, 36.0) * (5.0 / 900.0) + np.maximum(early - 36.0, 0.0) * (
        5.0 / 1200.0
    )
    return 1.0 - reduction + late * (2.0 / 300.0)


def average_indexed_monthly_earnings(indexed_earnings: FloatArray) -> FloatArray:
    """AIME, USD a month: highest 35 of the indexed annual earnings / 420.

    ``indexed_earnings`` is (n_members, n_years) of USD a year (zeros for years without
    covered earnings); fewer than 35 years count zeros for the rest.
    """
    e = np.asarray(indexed_earnings, dtype=np.float64)
    if e.ndim == 1:
        e = e[None, :]
    if (e < 0).any() or not np.all(np.isfinite(e)):
        raise PlanError("indexed earnings must be finite amounts >= 0 (USD a year)")
    k = min(COMPUTATION_YEARS, e.shape[1])
    top = -np.sort(-e, axis=1)[:, :k]
    return top.sum(axis=1) / (COMPUTATION_YEARS * 12.0)


def benefit_from_earnings(
    earnings: FloatArray,
    ages: FloatArray,
    birth_year: int,
    claim_age: FloatArray | float,
    *,
    wage_growth_real: float = 0.0,
) -> FloatArray:
    """Annual real Social Security benefit from each member's salary history.

    Parameters
    ----------
    earnings
        (n_members, n_years) earnings, real USD of 2025 a year, at the whole ``ages``
        (n_years,); zeros for years without work.
    ages
        The member's age in each column, years.
    birth_year
        Calendar year of birth (the same for the whole vintage).
    claim_age
        Claiming age per member (n_members,) or one age, years, at least 62.
    wage_growth_real
        Economy-wide real wage growth, decimal a year, that moves the average wage index,
        the bend points and the taxable maximum (0 = the 2025 parameters throughout).

    Returns
    -------
    numpy.ndarray
        (n_members,) benefit, real USD a year, paid from ``claim_age`` for life.
    """
    e = np.atleast_2d(np.asarray(earnings, dtype=np.float64))
    ages = np.asarray(ages, dtype=np.float64)
    if ages.shape != (e.shape[1],):
        raise PlanError(f"ages has shape {ages.shape}; expected ({e.shape[1]},), one per column")
    if not -0.05 <= wage_growth_real <= 0.1:
        raise PlanError(f"wage_growth_real={wage_growth_real} must be a decimal in [-0.05, 0.1]")
    growth = 1.0 + wage_growth_real
    years = birth_year + ages
    # The 2025 parameters are 2025 USD; in real terms they move with real wages only.
    taxable_max = TAXABLE_MAXIMUM_2025 * growth ** (years - 2025)
    covered = np.minimum(e, taxable_max[None, :])
    index = np.where(ages < INDEXING_AGE, growth ** (INDEXING_AGE - ages), 1.0)
    aime = average_indexed_monthly_earnings(covered * index[None, :])
    year_60 = birth_year + INDEXING_AGE
    # 2025 bend points are those of members turning 60 in 2023 (SSA indexes them by the
    # average wage of the year two years before eligibility).
    scale = growth ** (year_60 - 2023)
    pia = primary_insurance_amount(aime, (BEND_POINTS_2025[0] * scale, BEND_POINTS_2025[1] * scale))
    return 12.0 * pia * claiming_factor(claim_age)
