"""US Social Security retirement benefit from a salary history (simplified, real terms).

The formula (Social Security Act sec. 215; SSA, "Primary Insurance Amount" and "Average
Indexed Monthly Earnings", ssa.gov/oact/cola), for a member born in year ``B``:

1. Earnings of each year, capped at that year's taxable maximum (176,100 USD in 2025), are
   **indexed** to the national average wage index (AWI) of the year the member turns 60,
   ``I = B + 60``; earnings at 60 and later count at their nominal face value.
2. **AIME** = the sum of the highest 35 indexed years / (35 x 12), USD a month (fewer
   years of work leave zeros among the 35).
3. **PIA** = 90 % of AIME up to the first bend point + 32 % between the bend points +
   15 % above the second, with the bend points of the **eligibility year** ``E = B + 62``.
   The bend points of year ``E`` are those of 1979 scaled by ``AWI(E - 2) / AWI(1977)``:
   the 2025 ones, 1,226 and 7,391 USD a month, rest on AWI(2023) = 66,621.80 USD (SSA
   Office of the Chief Actuary; /work/shared/sources/retirement-evidence.md, "Statutory
   figures (2025)"). So ``E - 2 = I``: AIME and bend points share one wage level.
4. **COLAs** apply from the eligibility year (62), whatever the claiming age; nothing
   indexes the PIA between 60 and 62 (the "indexing lag").
5. **Claiming adjustment** against the full retirement age (FRA, 67 for those born in
   1960 or later): claiming early reduces the benefit by 5/9 % a month for the first 36
   months and 5/12 % a month beyond (62 -> 70 % of PIA); delayed retirement credits add
   8 % a year (2/3 % a month) up to age 70 (-> 124 %).

**Real terms** (real USD of 2025; the population model's unit). Write ``P(y)`` for the
price level and ``W(y)`` for the nominal AWI of year ``y``, ``g`` for real wage growth
and ``pi`` for price inflation (both a year), so ``W(y) / P(y)`` grows by ``g``. A real
amount ``e`` earned in year ``y`` is ``e P(y) / P(2025)`` nominal; measure every nominal
amount of year ``I`` in 2025 USD by multiplying by ``P(2025) / P(I)``. Then:

* indexed earnings before 60: ``e (1 + g) ** (60 - age)``; at 60 and later, at face
  value: ``e (1 + pi) ** (age - 60)`` (nominal earnings after ``I`` carry the inflation
  since ``I``);
* bend points of ``E``: ``BP_2025 x W(I) / W(2023)`` nominal, i.e.
  ``BP_2025 x (1 + g) ** (I - 2023) x P(2025) / P(2023)`` in 2025 USD at year-``I``
  prices. ``P(2025) / P(2023)`` (= 1.0575, CPI-U annual averages; the embedded data
  hold CPI-U, which stands in for the CPI-W of the COLA) is the price change the 2025
  bend points already contain: they are 2025 dollars on a 2023 wage;
* the PIA from these two is a year-``I`` amount; it is paid from ``E`` with no COLA in
  between, so its real value at ``E`` is ``P(I) / P(E) = (1 + pi) ** -2`` of it, and
  COLAs hold it constant in real terms after (the months by which each COLA trails
  prices are ignored);
* the taxable maximum of year ``Y`` rests on ``W(Y - 2)`` like the bend points:
  ``TM_2025 x (1 + g) ** (Y - 2025) x (P(2025) / P(2023)) / (1 + pi) ** 2`` in real terms.

With ``pi`` and ``g`` both 0, a member turning 60 in 2023 gets the textbook formula with
AIME in 2023 dollars against the 2025 bend points, scaled by ``P(2025) / P(2023)``.
The future price path is the flat ``pi`` (also for the two lag years of vintages turning
60 before 2025, whose actual CPI is not used). Simplifications, stated: SSA's rounding
(AIME down to the dollar, PIA down to the dime) is not applied; spousal, survivor and
earnings-test rules are not modelled.

**Payable benefits.** The trust funds are projected to run dry: the 2025 Trustees Report
projects 77 % of scheduled OASI benefits payable after the OASI fund's depletion in 2033,
81 % for the combined OASDI funds after 2034, about 72 % by 2099 (Conclusion; see the
evidence file). :func:`payable_share` gives the share of the scheduled benefit paid in
each calendar year; :func:`benefit_from_earnings` returns the scheduled benefit.
"""

from __future__ import annotations

import numpy as np

from backtest.errors import PlanError
from backtest.types import FloatArray, IntArray

#: 2025 PIA bend points, USD a month (SSA; evidence file, "Statutory figures (2025)").
BEND_POINTS_2025: tuple[float, float] = (1226.0, 7391.0)
#: The year whose average wage index the 2025 bend points and taxable maximum rest on
#: (AWI(2023) = 66,621.80 USD, SSA OACT; evidence file).
WAGE_BASE_YEAR = 2023
#: CPI-U annual averages of 2023 and 2025 (index 1982-84 = 100), the means of the 12
#: monthly ``cpi_index`` values of backtest/data/embedded/us_monthly.csv (Shiller / BLS);
#: their ratio is the price change the 2025 bend points carry over their 2023 wage base.
CPI_U_AVERAGE_2023, CPI_U_AVERAGE_2025 = 304.7016, 322.2154
#: Default future price inflation, decimal a year: the geometric mean of December-to-
#: December CPI-U over the 30 years 1996-2025 (``cpi_inflation_dec`` of
#: backtest/data/embedded/us_annual.csv), a modelling choice; it sets the erosion of the
#: PIA between 60 and 62 and the nominal growth of earnings after 60.
INFLATION_DEFAULT = 0.0252
#: Age the member becomes eligible (bend points of this year; COLAs from it), years.
ELIGIBILITY_AGE = 62
#: 2025 Trustees Report (Conclusion; evidence file): (payable share of scheduled
#: benefits, first year of the shortfall) for the combined OASDI funds and for OASI alone.
TRUSTEES_2025_OASDI: tuple[float, int] = (0.81, 2034)
TRUSTEES_2025_OASI: tuple[float, int] = (0.77, 2033)
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


def payable_share(
    calendar_years: FloatArray | IntArray | float,
    payable_ratio: float = 1.0,
    depletion_year: int = 2034,
) -> FloatArray:
    """Share of the scheduled benefit paid in each calendar year, decimal.

    1.0 before ``depletion_year``, ``payable_ratio`` from it on (the trust fund's reserves
    are gone and continuing income pays that share). ``TRUSTEES_2025_OASDI`` = (0.81, 2034)
    and ``TRUSTEES_2025_OASI`` = (0.77, 2033) are the 2025 Trustees Report's figures; the
    default ``payable_ratio=1.0`` pays benefits as scheduled (Congress closes the gap).
    The ratio is flat: the Trustees' payable share drifting to about 72 % by 2099 is not
    modelled. Vectorised over ``calendar_years`` (any shape); returns the same shape.
    """
    years = np.asarray(calendar_years, dtype=np.float64)
    if not np.all(np.isfinite(years)):
        raise PlanError("calendar_years must be finite calendar years (e.g. 2057)")
    if not (np.isfinite(payable_ratio) and 0.0 < payable_ratio <= 1.0):
        raise PlanError(
            f"payable_ratio={payable_ratio!r} must be a decimal in (0, 1] (0.81 = 81 % of "
            "scheduled benefits; 1.0 = paid as scheduled)"
        )
    if isinstance(depletion_year, bool) or not isinstance(depletion_year, int | np.integer):
        raise PlanError(f"depletion_year={depletion_year!r} must be a calendar year (int)")
    return np.where(years >= depletion_year, float(payable_ratio), 1.0)


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


def _indexing_factors(ages: FloatArray, growth: float, prices: float) -> FloatArray:
    """Multiplier of each age's real earnings in the AIME (real USD at year-60 prices).

    Before 60: wage indexing, ``growth ** (60 - age)``; from 60: nominal face value,
    ``prices ** (age - 60)`` (the inflation since the indexing year).
    """
    return np.where(
        ages < INDEXING_AGE, growth ** (INDEXING_AGE - ages), prices ** (ages - INDEXING_AGE)
    )


def benefit_from_earnings(
    earnings: FloatArray,
    ages: FloatArray,
    birth_year: int,
    claim_age: FloatArray | float,
    *,
    wage_growth_real: float = 0.0,
    inflation: float = INFLATION_DEFAULT,
) -> FloatArray:
    """Annual real Social Security benefit (scheduled, not payable) from each member's pay.

    The derivation in real terms is in the module docstring: AIME and bend points at the
    wage level of the year the member turns 60, the PIA eroded by two years of prices
    until eligibility at 62, then constant in real terms (COLAs), times the claiming
    factor. Multiply by :func:`payable_share` of the payment years for payable benefits.

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
        the bend points and the taxable maximum from 2023 on (0 = the 2023 wage level).
    inflation
        Future price inflation, decimal a year (default ``INFLATION_DEFAULT``): the PIA
        loses ``(1 + inflation) ** -2`` between 60 and 62, and earnings from 60 count at
        nominal face value.

    Returns
    -------
    numpy.ndarray
        (n_members,) benefit, real USD of 2025 a year, paid from ``claim_age`` for life.
    """
    e = np.atleast_2d(np.asarray(earnings, dtype=np.float64))
    ages = np.asarray(ages, dtype=np.float64)
    if ages.shape != (e.shape[1],):
        raise PlanError(f"ages has shape {ages.shape}; expected ({e.shape[1]},), one per column")
    if not -0.05 <= wage_growth_real <= 0.1:
        raise PlanError(f"wage_growth_real={wage_growth_real} must be a decimal in [-0.05, 0.1]")
    if not -0.05 <= inflation <= 0.2:
        raise PlanError(f"inflation={inflation} must be a decimal a year in [-0.05, 0.2]")
    growth, prices = 1.0 + wage_growth_real, 1.0 + inflation
    lag = prices ** -float(ELIGIBILITY_AGE - INDEXING_AGE)  # P(I) / P(E)
    base_prices = CPI_U_AVERAGE_2025 / CPI_U_AVERAGE_2023  # P(2025) / P(2023)
    years = birth_year + ages
    # Year Y's taxable maximum rests on AWI(Y - 2), in real 2025 USD of year Y.
    taxable_max = TAXABLE_MAXIMUM_2025 * growth ** (years - 2025) * base_prices * lag
    covered = np.minimum(e, taxable_max[None, :])
    aime = average_indexed_monthly_earnings(
        covered * _indexing_factors(ages, growth, prices)[None, :]
    )
    # Bend points of the eligibility year rest on AWI(year 60), like the indexed earnings.
    scale = growth ** (birth_year + INDEXING_AGE - WAGE_BASE_YEAR) * base_prices
    pia = primary_insurance_amount(aime, (BEND_POINTS_2025[0] * scale, BEND_POINTS_2025[1] * scale))
    return 12.0 * pia * lag * claiming_factor(claim_age)
