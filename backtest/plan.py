"""The member: saving from salary, then withdrawing, and what counts as success.

Units, everywhere in this module unless a name says otherwise:

* **Amounts are real USD of the simulation's start date** ("today's dollars"), per year.
  The simulator works in real terms; it reports nominal wealth too, by multiplying by the
  scenario's price index.
* **Rates are decimal and annual** (0.006 = 0.60 % a year of the balance; 0.10 = 10 % of
  salary).
* **Ages are in years.**

Timing: contributions flow at the ``timing`` of each period (``"start"`` or ``"end"``).
Withdrawals flow at the start, the end, or half at each (``"split"``, which approximates
monthly withdrawals in an annual simulation, as the Trinity study's monthly withdrawals).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from backtest.errors import PlanError
from backtest.types import FloatArray

Timing = Literal["start", "end"]
WithdrawalTiming = Literal["start", "end", "split"]

# Statutory contribution limits, 2025 USD a year (IRS 2025 limits; evidence file
# /work/shared/sources/retirement-evidence.md, "Statutory figures (2025)"). The engine holds
# them constant in real terms (the IRS indexes them to prices in rounded steps).
#: 402(g) elective-deferral limit.
DEFERRAL_LIMIT_2025 = 23_500.0
#: 414(v) catch-up from age 50.
CATCH_UP_2025 = 7_500.0
#: SECURE 2.0 sec. 109 "super catch-up" at ages 60-63 (instead of the 7,500).
SUPER_CATCH_UP_2025 = 11_250.0
#: Whole ages (first, last) of the super catch-up, years.
SUPER_CATCH_UP_AGES: tuple[float, float] = (60.0, 63.0)
#: 415(c) limit on annual additions (employee deferrals without catch-ups + employer).
TOTAL_ADDITIONS_LIMIT_2025 = 70_000.0

# IRS Uniform Lifetime Table, Treas. Reg. section 1.401(a)(9)-9(c), in force for
# distribution calendar years from 2022 (Publication 590-B, Appendix B, Table III).
# Age -> distribution period (years). Ages above 120 use 2.0.
UNIFORM_LIFETIME_TABLE: dict[int, float] = {
    72: 27.4,
    73: 26.5,
    74: 25.5,
    75: 24.6,
    76: 23.7,
    77: 22.9,
    78: 22.0,
    79: 21.1,
    80: 20.2,
    81: 19.4,
    82: 18.5,
    83: 17.7,
    84: 16.8,
    85: 16.0,
    86: 15.2,
    87: 14.4,
    88: 13.7,
    89: 12.9,
    90: 12.2,
    91: 11.5,
    92: 10.8,
    93: 10.1,
    94: 9.5,
    95: 8.9,
    96: 8.4,
    97: 7.8,
    98: 7.3,
    99: 6.8,
    100: 6.4,
    101: 6.0,
    102: 5.6,
    103: 5.2,
    104: 4.9,
    105: 4.6,
    106: 4.3,
    107: 4.1,
    108: 3.9,
    109: 3.7,
    110: 3.5,
    111: 3.4,
    112: 3.3,
    113: 3.1,
    114: 3.0,
    115: 2.9,
    116: 2.8,
    117: 2.7,
    118: 2.5,
    119: 2.3,
    120: 2.0,
}
#: First and last ages of the Uniform Lifetime Table, years (the table's own keys: every
#: engine reads the first RMD age from here, never as a literal).
RMD_FIRST_AGE: int = min(UNIFORM_LIFETIME_TABLE)
RMD_LAST_AGE: int = max(UNIFORM_LIFETIME_TABLE)
#: First RMD age without a birth year (``Plan.rmd_start_age``'s default), years.
RMD_START_AGE_DEFAULT = 73.0


def first_rmd_age(birth_year: int) -> int:
    """Age of the first required minimum distribution, whole years, by year of birth.

    75 for those born in 1960 or later and 73 for those born 1951-1959 (SECURE 2.0 Act
    sec. 107; evidence file, "Statutory figures (2025)"); 72 for those born from July 1949
    to 1950 (SECURE Act of 2019 sec. 114, which raised it from 70 1/2). Born before 1950
    the age depends on the month of birth (70 1/2 before July 1949), so it raises: give
    ``Plan.rmd_start_age`` instead.
    """
    if isinstance(birth_year, bool) or not isinstance(birth_year, int | np.integer):
        raise PlanError(f"birth_year={birth_year!r} must be a calendar year (int)")
    if birth_year < 1950:
        raise PlanError(
            f"birth_year={birth_year}: the first RMD age of those born before 1950 depends on "
            "the month of birth (70 1/2 before July 1949, 72 after); set rmd_start_age instead"
        )
    if birth_year >= 1960:
        return 75
    return 73 if birth_year >= 1951 else 72


def rmd_divisor(age: float) -> float:
    """Uniform Lifetime Table distribution period at ``age`` (whole years, from
    ``RMD_FIRST_AGE``; ages past ``RMD_LAST_AGE`` use its divisor)."""
    a = int(np.floor(age))
    if a < RMD_FIRST_AGE:
        raise PlanError(f"the Uniform Lifetime Table starts at age {RMD_FIRST_AGE}; got age {age}")
    return UNIFORM_LIFETIME_TABLE[min(a, RMD_LAST_AGE)]


def _check_timing(who: str, timing: str) -> None:
    if timing not in ("start", "end", "split"):
        raise PlanError(f"{who}.timing={timing!r}; use 'start', 'end' or 'split'")


def _check_rate(name: str, value: float, lo: float = 0.0, hi: float = 1.0) -> None:
    if not (lo <= value <= hi) or not np.isfinite(value):
        raise PlanError(f"{name}={value!r} must be a decimal in [{lo}, {hi}] (0.05 = 5 %)")


@dataclass(frozen=True)
class Contributions:
    """Saving from salary until retirement.

    Attributes
    ----------
    salary
        Gross salary at the start age, real USD a year.
    salary_growth_real
        Real salary growth, decimal a year (0.01 = wages beat inflation by 1 % a year).
    rate
        Employee contribution, decimal share of salary.
    match_rate
        Employer match, decimal share of the employee's contribution (0.5 = 50 cents a
        dollar; 1.0 = dollar for dollar).
    match_cap
        The match applies to employee contributions up to this share of salary.
    annual_limit
        Employee elective-deferral limit, real USD a year (IRS 402(g): 23,500 for 2025);
        ``None`` for no IRS limit at all (no catch-ups, no 415(c) cap either). The
        employer match is not counted against it.
    catch_up
        Extra limit from ``catch_up_age`` (IRS 414(v): 7,500 for 2025), real USD a year.
    timing
        When in each period contributions flow.
    super_catch_up
        Catch-up at ages 60-63 instead of ``catch_up`` where ``catch_up > 0`` (SECURE 2.0
        sec. 109: 11,250 for 2025), real USD a year.
    total_limit
        IRS 415(c) cap on deferrals (without catch-ups) plus employer contributions, real
        USD a year (70,000 for 2025), or ``None``; applies only with ``annual_limit``.
        See :func:`contribution_amounts`.
    """

    salary: float
    rate: float
    salary_growth_real: float = 0.0
    match_rate: float = 0.0
    match_cap: float = 0.0
    annual_limit: float | None = None
    catch_up: float = 0.0
    catch_up_age: float = 50.0
    timing: Timing = "end"
    super_catch_up: float = SUPER_CATCH_UP_2025
    total_limit: float | None = TOTAL_ADDITIONS_LIMIT_2025

    def __post_init__(self) -> None:
        if not self.salary >= 0:
            raise PlanError(f"Contributions.salary={self.salary!r} must be >= 0 (real USD a year)")
        _check_rate("Contributions.rate", self.rate)
        _check_rate("Contributions.salary_growth_real", self.salary_growth_real, -0.5, 0.5)
        _check_rate("Contributions.match_rate", self.match_rate, 0.0, 10.0)
        _check_rate("Contributions.match_cap", self.match_cap)
        if self.annual_limit is not None and self.annual_limit < 0:
            raise PlanError(f"Contributions.annual_limit={self.annual_limit} must be >= 0 or None")
        if self.catch_up < 0:
            raise PlanError(f"Contributions.catch_up={self.catch_up} must be >= 0")
        if not self.super_catch_up >= 0:
            raise PlanError(
                f"Contributions.super_catch_up={self.super_catch_up} must be >= 0 (real USD a "
                "year; 11,250 for 2025)"
            )
        if self.total_limit is not None and not self.total_limit >= 0:
            raise PlanError(
                f"Contributions.total_limit={self.total_limit} must be >= 0 (real USD a year; "
                "70,000 for 2025) or None"
            )
        if not 0 <= self.catch_up_age <= 125:
            raise PlanError(f"Contributions.catch_up_age={self.catch_up_age} must be an age")
        if self.timing not in ("start", "end"):
            raise PlanError(f"Contributions.timing={self.timing!r}; use 'start' or 'end'")

    def salary_at(self, years_since_start: FloatArray) -> FloatArray:
        """Real salary, USD a year, ``years_since_start`` years after the start age."""
        # Raises happen on each anniversary; the epsilon keeps 0.9999999 (float ages) at 1.
        years = np.floor(np.asarray(years_since_start, dtype=np.float64) + 1e-9)
        return self.salary * (1.0 + self.salary_growth_real) ** years

    def annual_amounts(self, ages: FloatArray, start_age: float) -> tuple[FloatArray, FloatArray]:
        """Employee and employer contributions, real USD a year, at each age in ``ages``
        (the rule of :func:`contribution_amounts` at this member's salary and rate)."""
        return contribution_amounts(
            self.salary_at(ages - start_age),
            self.rate,
            ages,
            match_rate=self.match_rate,
            match_cap=self.match_cap,
            annual_limit=self.annual_limit,
            catch_up=self.catch_up,
            catch_up_age=self.catch_up_age,
            super_catch_up=self.super_catch_up,
            total_limit=self.total_limit,
        )


def contribution_amounts(
    salary: FloatArray,
    rate: FloatArray | float,
    age: FloatArray,
    *,
    match_rate: float,
    match_cap: float,
    annual_limit: float | None,
    catch_up: float,
    catch_up_age: float,
    super_catch_up: float = SUPER_CATCH_UP_2025,
    total_limit: float | None = TOTAL_ADDITIONS_LIMIT_2025,
) -> tuple[FloatArray, FloatArray]:
    """Employee and employer contributions, real USD a year: the one contribution rule.

    1. The employee defers ``rate x salary``, capped by the IRS 402(g) limit
       ``annual_limit`` plus the 414(v) ``catch_up`` from ``catch_up_age``; at ages 60-63
       (``SUPER_CATCH_UP_AGES``, whole years) the catch-up is ``super_catch_up`` instead
       (SECURE 2.0 sec. 109; only in a plan that offers a catch-up: ``catch_up > 0``).
    2. The employer matches ``match_rate`` of the deferral up to ``match_cap`` of salary.
    3. The 415(c) limit caps the annual additions, deferrals without the catch-up part
       plus employer contributions, at ``min(total_limit, salary)`` (catch-ups do not
       count against it). Where it binds, the employer contribution is cut (a modelling
       choice: plans correct excess additions in the order their document sets; the
       member's account receives the same total either way).

    ``annual_limit=None`` models no IRS limits at all (no 402(g), catch-up or 415(c)
    cap); ``total_limit=None`` drops only the 415(c) cap. Limits are 2025 USD held
    constant in real terms. Arrays broadcast: one member over ages
    (:meth:`Contributions.annual_amounts`) or a population (members x years,
    ``backtest.population``).

    Parameters
    ----------
    salary
        Real salary, USD a year.
    rate
        Employee deferral, decimal share of salary.
    age
        Age in years (for the catch-ups).
    match_rate, match_cap
        Employer match, decimal of the deferral; cap, decimal share of salary.
    annual_limit, catch_up
        Deferral limit and catch-up, real USD a year.
    catch_up_age
        Age the catch-up starts, years.
    super_catch_up
        Catch-up at ages 60-63, real USD a year (11,250 in 2025).
    total_limit
        415(c) annual additions limit, real USD a year (70,000 in 2025), or ``None``.

    Returns
    -------
    tuple of arrays
        ``(employee, employer)``, real USD a year, the broadcast shape of the inputs.
    """
    pay = np.asarray(salary, dtype=np.float64)
    employee = rate * pay
    if annual_limit is None:
        return employee, match_rate * np.minimum(employee, match_cap * pay)
    a = np.asarray(age, dtype=np.float64)
    whole = np.floor(a + 1e-9)  # 59.9999999 (float ages) is 60
    lo, hi = SUPER_CATCH_UP_AGES
    extra = np.where(a >= catch_up_age, catch_up, 0.0)
    extra = np.where((catch_up > 0) & (whole >= lo) & (whole <= hi), super_catch_up, extra)
    employee = np.minimum(employee, annual_limit + extra)
    employer = match_rate * np.minimum(employee, match_cap * pay)
    if total_limit is not None:
        cap = np.minimum(total_limit, pay)  # 415(c): the dollar limit or 100 % of pay
        counted = np.minimum(employee, annual_limit)  # catch-ups do not count
        over = np.maximum(counted - cap, 0.0)  # only if annual_limit > total_limit
        employee = employee - over
        employer = np.minimum(employer, np.maximum(cap - (counted - over), 0.0))
    return employee, employer


class _DefaultRate(float):
    """ConstantReal's default ``rate``, told apart from a ``rate=`` the caller wrote."""


#: ConstantReal's default rate (decimal a year); giving ``amount`` alone drops it.
_DEFAULT_RATE = _DefaultRate(0.04)


@dataclass(frozen=True)
class ConstantReal:
    """Bengen / Trinity rule: a fixed real amount, set at retirement, raised with inflation.

    Give ``rate`` (decimal share of the balance at retirement, e.g. 0.04, the default) or
    ``amount`` (real USD a year; ``ConstantReal(amount=40000)`` alone replaces the default
    rate). With ``indexed=False`` the amount is fixed in nominal dollars from
    retirement, so inflation erodes it: the same number of dollars is paid whatever the
    timing, so a payment at a period's end is worth that period's inflation less, in real
    terms, than one at its start.
    """

    rate: float | None = _DEFAULT_RATE
    amount: float | None = None
    indexed: bool = True
    timing: WithdrawalTiming = "start"

    def __post_init__(self) -> None:
        if self.rate is _DEFAULT_RATE:  # not written by the caller: a plain float, or none
            rate = None if self.amount is not None else float(_DEFAULT_RATE)
            object.__setattr__(self, "rate", rate)
        if (self.rate is None) == (self.amount is None):
            raise PlanError("ConstantReal needs exactly one of rate= (e.g. 0.04) or amount=")
        if self.rate is not None:
            _check_rate("ConstantReal.rate", self.rate)
        if self.amount is not None and not self.amount >= 0:
            raise PlanError(f"ConstantReal.amount={self.amount} must be >= 0 (real USD a year)")
        _check_timing("ConstantReal", self.timing)


@dataclass(frozen=True)
class FixedPercent:
    """Withdraw a fixed share of the current balance every year (never ruins, income varies)."""

    rate: float = 0.04
    timing: WithdrawalTiming = "start"

    def __post_init__(self) -> None:
        _check_rate("FixedPercent.rate", self.rate)
        _check_timing("FixedPercent", self.timing)


@dataclass(frozen=True)
class GuytonKlinger:
    """Guyton and Klinger (2006) decision rules ("guardrails"), evaluated once a year.

    Start at ``initial_rate`` of the balance at retirement, raised with inflation, except:
    the *inflation rule* skips the raise after a year with a negative portfolio return
    when the current rate exceeds the initial rate; the *capital-preservation rule* cuts
    the withdrawal by ``adjustment`` when the current rate exceeds ``upper_guard`` x the
    initial rate (not in the last ``preservation_off_years`` years); the *prosperity rule*
    raises it by ``adjustment`` when the current rate falls below ``lower_guard`` x the
    initial rate.
    """

    initial_rate: float = 0.05
    upper_guard: float = 1.2
    lower_guard: float = 0.8
    adjustment: float = 0.10
    preservation_off_years: float = 15.0
    timing: WithdrawalTiming = "start"

    def __post_init__(self) -> None:
        _check_rate("GuytonKlinger.initial_rate", self.initial_rate)
        _check_rate("GuytonKlinger.adjustment", self.adjustment)
        if not 0 < self.lower_guard < 1 < self.upper_guard:
            raise PlanError(
                f"GuytonKlinger guards need 0 < lower_guard < 1 < upper_guard; got "
                f"{self.lower_guard}, {self.upper_guard}"
            )
        if not self.preservation_off_years >= 0:
            raise PlanError(
                f"GuytonKlinger.preservation_off_years={self.preservation_off_years} must be >= 0"
            )
        _check_timing("GuytonKlinger", self.timing)


@dataclass(frozen=True)
class RequiredMinimum:
    """RMD method: withdraw balance / Uniform Lifetime Table divisor each year.

    Before the table's first age (``RMD_FIRST_AGE``, 72) the member withdraws
    ``pre_table_rate`` of the balance (the table has no divisor there; the rate is a
    stated assumption).
    """

    pre_table_rate: float = 0.04
    timing: WithdrawalTiming = "start"

    def __post_init__(self) -> None:
        _check_rate("RequiredMinimum.pre_table_rate", self.pre_table_rate)
        if self.pre_table_rate == 0:
            raise PlanError("RequiredMinimum.pre_table_rate must be > 0 (e.g. 0.04)")
        _check_timing("RequiredMinimum", self.timing)


WithdrawalRule = ConstantReal | FixedPercent | GuytonKlinger | RequiredMinimum


@dataclass(frozen=True)
class MoneyLasts:
    """Success: every planned withdrawal is paid in full until the end age."""

    name: str = "money lasts to end age"


@dataclass(frozen=True)
class FundedRatio:
    """Success: at retirement the balance buys the target income.

    funded ratio = balance at retirement / present value of the target income, paid
    yearly in advance (real, indexed) for ``payout_years`` years at real discount rate
    ``discount_rate_real``. The target income is either ``replacement_rate`` x final
    salary, or a defined-benefit formula: final average salary (last
    ``final_average_years`` years) x years of service x ``accrual_rate``. Success means
    funded ratio >= ``threshold``.
    """

    replacement_rate: float | None = None
    accrual_rate: float | None = None
    final_average_years: int = 3
    payout_years: float | None = None
    discount_rate_real: float = 0.02
    threshold: float = 1.0
    name: str = "funded ratio at retirement >= 1"

    def __post_init__(self) -> None:
        if (self.replacement_rate is None) == (self.accrual_rate is None):
            raise PlanError(
                "FundedRatio needs exactly one of replacement_rate= (e.g. 0.7 of final "
                "salary) or accrual_rate= (e.g. 0.015 per year of service)"
            )
        _check_rate("FundedRatio.discount_rate_real", self.discount_rate_real, -0.05, 0.2)
        if self.replacement_rate is not None:
            _check_rate("FundedRatio.replacement_rate", self.replacement_rate, 0.0, 5.0)
        if self.accrual_rate is not None:
            _check_rate("FundedRatio.accrual_rate", self.accrual_rate, 0.0, 0.1)
        if not (isinstance(self.final_average_years, int) and self.final_average_years >= 1):
            raise PlanError(
                f"FundedRatio.final_average_years={self.final_average_years!r} must be an "
                "integer >= 1"
            )
        if self.payout_years is not None and not 0 < self.payout_years <= 100:
            raise PlanError(
                f"FundedRatio.payout_years={self.payout_years!r} must be in (0, 100] years "
                "(a life expectancy or a fixed horizon), or None for end_age - retirement_age"
            )
        if not self.threshold > 0:
            raise PlanError(f"FundedRatio.threshold={self.threshold!r} must be > 0")


SuccessDefinition = MoneyLasts | FundedRatio


@dataclass(frozen=True)
class Plan:
    """A member's whole life in the plan, validated at construction.

    Attributes
    ----------
    start_age, retirement_age, end_age
        Ages in years; contributions run until ``retirement_age``, withdrawals from it
        until ``end_age``.
    initial_balance
        Account balance at ``start_age``, real USD.
    contributions
        Saving from salary before retirement, or ``None``.
    withdrawal
        Withdrawal rule from retirement, or ``None`` (accumulation only).
    expense_ratio
        Fees, decimal of the balance a year, charged pro rata every period.
    transaction_cost_bps
        Cost of trading, basis points of the value traded (turnover).
    rmd_floor
        True: from ``rmd_start_age`` each year's withdrawal is at least the required
        minimum distribution, balance / Uniform Lifetime Table divisor. The excess of the
        RMD over the rule's withdrawal leaves the account and counts as paid income
        (spent): it is not reinvested in a taxable account, which the engine does not
        model.
    rmd_start_age
        Age of the first RMD, years (default 73: SECURE 2.0 for those born 1951-1959).
        Set ``birth_year`` instead to take the statutory age, :func:`first_rmd_age`.
    birth_year
        Calendar year of the member's birth, or ``None``. Given, ``rmd_start_age`` is
        :func:`first_rmd_age` of it (75 for those born 1960 or later); an
        ``rmd_start_age`` other than the default 73 that differs from it raises (so
        ``dataclasses.replace`` of ``birth_year`` alone can raise: pass both).
    success
        What counts as success.
    """

    start_age: float
    retirement_age: float
    end_age: float
    initial_balance: float = 0.0
    contributions: Contributions | None = None
    withdrawal: WithdrawalRule | None = None
    expense_ratio: float = 0.0
    transaction_cost_bps: float = 0.0
    rmd_floor: bool = False
    rmd_start_age: float = RMD_START_AGE_DEFAULT
    success: SuccessDefinition = field(default_factory=MoneyLasts)
    birth_year: int | None = None

    def __post_init__(self) -> None:
        if not (0 <= self.start_age <= self.retirement_age <= self.end_age <= 125):
            raise PlanError(
                "ages must satisfy 0 <= start_age <= retirement_age <= end_age <= 125; got "
                f"start_age={self.start_age}, retirement_age={self.retirement_age}, "
                f"end_age={self.end_age}"
            )
        if self.end_age == self.start_age:
            raise PlanError("end_age equals start_age: the plan has no periods to simulate")
        if not self.initial_balance >= 0:
            raise PlanError(f"initial_balance={self.initial_balance!r} must be >= 0 (real USD)")
        _check_rate("expense_ratio", self.expense_ratio, 0.0, 0.2)
        if not 0 <= self.transaction_cost_bps <= 1000:
            raise PlanError(
                f"transaction_cost_bps={self.transaction_cost_bps} must be in [0, 1000] bps"
            )
        if self.birth_year is not None:
            self._take_statutory_rmd_age(first_rmd_age(self.birth_year))
        if not RMD_FIRST_AGE <= self.rmd_start_age <= 125:
            raise PlanError(
                f"rmd_start_age={self.rmd_start_age} must be >= {RMD_FIRST_AGE} (the Uniform "
                "Lifetime Table's first age; SECURE 2.0: 73, or 75 for those born 1960 or later)"
            )
        if isinstance(self.success, FundedRatio) and self.contributions is None:
            raise PlanError(
                "success=FundedRatio needs contributions (it is measured against salary)"
            )

    def _take_statutory_rmd_age(self, age: int) -> None:
        """Set ``rmd_start_age`` to the statutory ``age`` unless it was set otherwise."""
        if self.rmd_start_age not in (RMD_START_AGE_DEFAULT, age):
            raise PlanError(
                f"rmd_start_age={self.rmd_start_age} contradicts birth_year={self.birth_year} "
                f"(first RMD at {age}, SECURE 2.0); give one of them"
            )
        object.__setattr__(self, "rmd_start_age", float(age))

    @property
    def years(self) -> float:
        return self.end_age - self.start_age

    def n_periods(self, periods_per_year: int) -> int:
        """Number of periods from start age to end age."""
        n = (self.end_age - self.start_age) * periods_per_year
        if abs(n - round(n)) > 1e-9:
            raise PlanError(
                f"the plan spans {self.end_age - self.start_age} years, not a whole number of "
                f"periods of 1/{periods_per_year} year"
            )
        return round(n)

    def check_periods(self, periods_per_year: int) -> int:
        """Validate that every age falls on a period boundary; return the period count."""
        n = self.n_periods(periods_per_year)
        k = (self.retirement_age - self.start_age) * periods_per_year
        if abs(k - round(k)) > 1e-9:
            raise PlanError(
                f"retirement_age={self.retirement_age} is not a whole number of periods of "
                f"1/{periods_per_year} year after start_age={self.start_age}"
            )
        return n

    def retirement_period(self, periods_per_year: int) -> int:
        """Index of the first retirement period (= number of working periods)."""
        return round((self.retirement_age - self.start_age) * periods_per_year)

    def target_income(self) -> float:
        """Target real income a year at retirement, for ``FundedRatio`` success."""
        s = self.success
        if not isinstance(s, FundedRatio) or self.contributions is None:
            raise PlanError("target_income needs success=FundedRatio and contributions")
        service = self.retirement_age - self.start_age
        last = self.contributions.salary_at(np.array([max(service - 1.0, 0.0)]))[0]
        if s.replacement_rate is not None:
            return float(s.replacement_rate * last)
        years_back = np.arange(1, s.final_average_years + 1, dtype=np.float64)
        salaries = self.contributions.salary_at(np.maximum(service - years_back, 0.0))
        assert s.accrual_rate is not None
        return float(salaries.mean() * service * s.accrual_rate)

    def annuity_factor(self) -> float:
        """Present value at retirement of 1 real USD a year paid in advance (FundedRatio)."""
        s = self.success
        if not isinstance(s, FundedRatio):
            raise PlanError("annuity_factor needs success=FundedRatio")
        n = s.payout_years if s.payout_years is not None else self.end_age - self.retirement_age
        k = np.arange(int(np.ceil(n)), dtype=np.float64)
        return float(np.sum((1.0 + s.discount_rate_real) ** -k))
