"""A population of members of one target-date vintage: who they are and their cash flows.

A target-date fund holds one glide path for everyone born in the same years. This module
draws a vintage of members reproducibly from stated distributions (:class:`PopulationSpec`)
and turns each into per-period real cash flows (:func:`draw_members` ->
:class:`Members`); :mod:`backtest.population_eval` then runs one glide path, shared by
all members, over member-paths (a member paired with a market path) and scores it
(:func:`backtest.population_eval.evaluate_population`).

Timeline and units
------------------
Annual periods from ``first_age`` (the vintage's entry age) to ``end_age``; period ``t``
covers ages ``[first_age + t, first_age + t + 1)``, calendar year ``birth_year + age``.
Amounts are **real USD of 2025** a year; rates are decimal a year. The glide path is read
by the vintage's age against the target date (``target_year - birth_year``), not by
each member's own retirement age: that is what sharing one fund means.

Member model (each distribution a field of :class:`PopulationSpec`, defaults stated there)
-----------------------------------------------------------------------------------------
* start age uniform on whole years; starting salary lognormal (median, log sd);
* real salary by age: the Cocco, Gomes and Maenhout (2005, Review of Financial Studies
  18(2), Table 2) age profile of log labour income, a cubic in age, for high-school or
  college graduates (a hump peaking in the late 40s), times economy-wide real wage
  growth; with ``income_shocks`` (default) times a permanent (random-walk) and a
  transitory (i.i.d.) log-income shock with CGM's Table 3 variances by education
  (:func:`log_income_shocks`);
* death before retirement from the member's own SSA cohort table (sex, birth year) from
  ``first_age``: no work, contributions or leakage from the year of death, no
  retirement; every score is conditional on reaching retirement (``alive_at_retirement``);
  with ``earnings_mortality`` (off by default) every death rate, before and after
  retirement, is times a multiplier falling in the member's lifetime-earnings percentile,
  calibrated to Chetty et al. (2016)'s gap in life expectancy at 40 between the top and
  bottom 1 % (:func:`earnings_mortality_multiplier`);
* career breaks: each working year a break starts with a probability; its length is
  geometric with a stated mean; no salary, no contributions during a break;
* contributions: auto-enrolment at a default rate rising by an escalation step a year
  to a cap, reset to the default at each new job; employer match (rate x employee
  contribution up to a share of salary); IRS 402(g) elective-deferral limit and the
  414(v) catch-up from age 50 (2025: 23,500 and 7,500 USD);
* leakage before retirement (``PopulationSpec.leakage``; :mod:`backtest.leakage`):
  ``"calibrated"`` (default): job changes at BLS-derived separation hazards by age; at a
  separation the plan balance is cashed out (always up to 1,000 USD; above, with a
  probability falling with balance and age, fitted to published figures by
  :mod:`backtest.calibration`) or rolled over; hardship withdrawals of lognormal USD
  amounts (median 1,900) at 2 % a year; ``"none"``; ``"heavy"`` (the model before issue
  24: the whole balance cashed out at 10 % of job changes, hardship withdrawals of 25 %
  of it). The 10 % additional tax of IRC sec. 72(t) is paid out of the amount withdrawn
  (a loss to the member, not to the account): before 59.5, except a cash-out at
  separation from service from the year the member turns 55 (the rule of 55; not in
  ``"heavy"``); with ``plan_loans`` (off by default; ``"calibrated"`` only) plan loans
  of 16 % of the plan balance (capped by IRC sec. 72(p)) taken at a yearly rate, repaid
  over 5 years while employed, and at a job end with a loan outstanding a default (86 %)
  whose offset leaves the account, taxed as a cash-out at separation;
* retirement age from a discrete distribution over 62-70; Social Security claimed at
  retirement (:mod:`backtest.social_security`, from the member's own earnings);
* Social Security payable at ``ss_payable_ratio`` of the scheduled benefit from the
  calendar year ``ss_depletion_year`` (:func:`backtest.social_security.payable_share`;
  1.0 = scheduled; the 2025 Trustees Report projects 81 % for OASDI from 2034);
* spending need each retirement year: ``replacement_rate x base salary - payable Social
  Security`` (at least zero), real, paid at the start of each year; the base salary is
  ``need_basis`` (default the average real salary of the last 5 working years, which
  smooths the transitory shocks: one year's draw does not set a lifetime need);
* sex, for mortality (:mod:`backtest.mortality`, SSA cohort tables): survival from the
  retirement age.

Account (per member-path, vectorised): ``W[t+1] = (W[t] - leak[t] - paid[t]) * G[t] * (1 -
fee) + contrib[t]``, with the leakage ``leak = share x W`` and the spending taken at the
start of the year, contributions at the end, and the portfolio rebalanced to the shared
target every year (so its real gross return ``G = w[t] . g[path, t]`` depends on the
market path only). Paid spending is ``min(need, balance)``; ruin is the first year it
falls short. These are the events and order of ``backtest.simulate`` for an annual plan
with annual rebalancing and no transaction cost: the tests check identical members
against ``simulate(scenarios, plan, strategy)`` and drawn members against
``simulate(..., cash_flows=...)`` with their per-scenario schedules. It runs the one
balance-level account model, :func:`backtest.account.run_balances`, because that is about
4x faster than the engine's per-asset holdings for a static mix rebalanced every year
(the population's case).

Scores per member-path (the definitions of :mod:`backtest.outcomes`)
--------------------------------------------------------------------
* survival-weighted success: the money lasts as long as the member lives, given alive
  at retirement: ``1 - S(ruin age) / S(retirement age)`` with ``S`` the member's survival
  (1 if never ruined, 0 if ruined before retirement;
  :func:`backtest.outcomes.survival_weighted_success`);
* fixed-horizon success: the money lasts to ``horizon_age`` (95 by default);
* unpaid years (the shortfall): ``sum_t S(t) v^(t - t_ret) (need - paid) / need`` over
  retirement years, ``v = 1 / (1 + annuity_rate)``: expected years of need left unfunded,
  valued at retirement at the stated real annuity rate (2 % by default), never at the
  portfolio's returns (:func:`backtest.outcomes.shortfall_years`, the one convention that
  fund design optimises too);
* replacement ratio: ``(Social Security + W_ret / a) / base salary``, ``a`` the member's
  real annuity-due factor at ``annuity_rate`` with its survival curve, Social Security
  the level equivalent of the payable benefit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from backtest import mortality
from backtest.errors import DataError, PlanError
from backtest.leakage import (
    LEAKAGE_MODELS,
    CashOutCurve,
    HardshipRule,
    LeakageDraw,
    PlanLoanRule,
    calibrated_leakage,
    separation_hazard,
)
from backtest.outcomes import (
    life_annuity_factor,
)
from backtest.plan import contribution_amounts
from backtest.social_security import benefit_from_earnings, payable_share
from backtest.types import BoolArray, FloatArray, IntArray

#: Cocco, Gomes and Maenhout (2005), Table 2: log income = a + b1 age + b2 age^2/10 +
#: b3 age^3/100 (the constant cancels: only growth by age is used).
CGM_PROFILES: dict[str, tuple[float, float, float]] = {
    "high_school": (0.1682, -0.0323, 0.0020),
    "college": (0.3194, -0.0577, 0.0033),
}


def cgm_log_income(age: FloatArray | IntArray, profile: str) -> FloatArray:
    """Age part of log real labour income, Cocco, Gomes and Maenhout (2005), Table 2."""
    b1, b2, b3 = CGM_PROFILES[profile]
    a = np.asarray(age, dtype=np.float64)
    return b1 * a + b2 * a**2 / 10.0 + b3 * a**3 / 100.0


#: Cocco, Gomes and Maenhout (2005), Table 3: variances of the yearly permanent
#: (random-walk) and transitory (i.i.d.) shocks to log labour income, (permanent,
#: transitory), by education: high school 0.0106 and 0.0738, college 0.0169 and 0.0584
#: (as transcribed in econ-ark HARK, ``HARK/Calibration/Income/IncomeTools.py``,
#: ``CGM_income``).
CGM_SHOCK_VARIANCES: dict[str, tuple[float, float]] = {
    "high_school": (0.0106, 0.0738),
    "college": (0.0169, 0.0584),
}

#: Salary the spending need is a replacement rate of (:class:`PopulationSpec.need_basis`):
#: the last working year's, the average of the last five working years, or the average
#: over the career (each real, from the start age to the year before retirement).
NEED_BASES: tuple[str, ...] = ("final", "average_5y", "career_average")
#: Chetty et al. (2016), "The association between income and life expectancy in the
#: United States, 2001-2014", JAMA 315(16): the gap in life expectancy at 40 between the
#: top and bottom 1 % of household income, years (men 14.6, 95 % CI 14.4-14.8; women
#: 10.1, 9.9-10.3).
CHETTY_LE_GAP_40: dict[str, float] = {"male": 14.6, "female": 10.1}
#: Years a Social Security trust-fund depletion year may take.
SS_DEPLETION_YEARS: tuple[int, int] = (2025, 2100)


#: Retirement ages and their probabilities (a stated assumption: peaks at 62, 65 and 67,
#: the early-claiming, Medicare and full-retirement ages).
DEFAULT_RETIREMENT_AGES: tuple[tuple[int, float], ...] = (
    (62, 0.25),
    (63, 0.05),
    (64, 0.05),
    (65, 0.20),
    (66, 0.10),
    (67, 0.20),
    (68, 0.05),
    (69, 0.03),
    (70, 0.07),
)


#: Bounds of :class:`PopulationSpec`'s fields, checked by it and stated by the study-file
#: reader (``glidelab.studyfile.design``): birth years, whole-year ages (and the vintage's
#: age at the target date), each bounded number's ``[low, high]``, mortality readings.
BIRTH_YEARS: tuple[int, int] = (1900, 2100)
AGE_LIMITS: tuple[int, int] = (15, 120)
TARGET_AGES: tuple[int, int] = (55, 75)
SPEC_RANGES: dict[str, tuple[float, float]] = {
    "salary_median": (0.0, 1e7),
    "salary_log_sd": (0.0, 3.0),
    "college_share": (0.0, 1.0),
    "wage_growth_real": (-0.05, 0.1),
    "career_break_rate": (0.0, 1.0),
    "career_break_mean_years": (1.0, 40.0),
    "default_rate": (0.0, 1.0),
    "escalation": (0.0, 1.0),
    "escalation_cap": (0.0, 1.0),
    "match_rate": (0.0, 10.0),
    "match_cap": (0.0, 1.0),
    "annual_limit": (0.0, 1e7),
    "catch_up": (0.0, 1e7),
    "catch_up_age": (0.0, 125.0),
    "job_change_rate": (0.0, 1.0),
    "cash_out_probability": (0.0, 1.0),
    "hardship_rate": (0.0, 1.0),
    "hardship_share": (0.0, 1.0),
    "cash_out_intercept": (-20.0, 20.0),
    "cash_out_balance_slope": (-10.0, 10.0),
    "cash_out_age_slope": (-10.0, 10.0),
    "hardship_median": (0.0, 1e7),
    "hardship_log_sd": (0.0, 5.0),
    "leakage_projection_return": (-0.05, 0.15),
    "penalty_rate": (0.0, 1.0),
    "loan_rate": (0.0, 1.0),
    "loan_size_share": (0.0, 1.0),
    "loan_term_years": (1.0, 30.0),
    "loan_default_rate": (0.0, 1.0),
    "penalty_age": (0.0, 125.0),
    "female_share": (0.0, 1.0),
    "replacement_rate": (0.0, 3.0),
    "annuity_rate": (-0.05, 0.2),
    "ss_payable_ratio": (0.01, 1.0),
}
MORTALITY_READINGS: tuple[str, ...] = ("cohort", "period")
#: ``PopulationSpec.leakage`` choices (:data:`backtest.leakage.LEAKAGE_MODELS`).
LEAKAGE_CHOICES: tuple[str, ...] = LEAKAGE_MODELS


def _check(name: str, value: float, lo: float, hi: float) -> None:
    if not (np.isfinite(value) and lo <= value <= hi):
        raise PlanError(f"PopulationSpec.{name}={value!r} must be in [{lo}, {hi}]")


@dataclass(frozen=True)
class PopulationSpec:
    """The distributions a vintage's members are drawn from (real 2025 USD, decimal rates).

    The break and retirement defaults are stated modelling assumptions of the order
    reported by industry surveys of 401(k) plans (e.g. Vanguard, "How America Saves"),
    not estimates fitted here; the ``"calibrated"`` leakage's are set from or fitted to
    published figures (:mod:`backtest.calibration`, PROVENANCE "Member behaviour
    calibration"); change them per study.
    """

    birth_year: int = 1995
    target_year: int = 2060
    first_age: int = 22
    end_age: int = 105
    horizon_age: int = 95
    start_age_min: int = 22
    start_age_max: int = 30
    salary_median: float = 45_000.0
    salary_log_sd: float = 0.5
    college_share: float = 0.4
    wage_growth_real: float = 0.01
    career_break_rate: float = 0.03
    career_break_mean_years: float = 2.0
    default_rate: float = 0.06
    escalation: float = 0.01
    escalation_cap: float = 0.10
    match_rate: float = 0.5
    match_cap: float = 0.06
    annual_limit: float = 23_500.0
    catch_up: float = 7_500.0
    catch_up_age: float = 50.0
    #: Leakage model (:data:`LEAKAGE_CHOICES`): ``"calibrated"`` (BLS separation
    #: hazards, cash-outs by balance and age, hardship withdrawals in USD; fitted to
    #: published figures, :mod:`backtest.leakage`), ``"none"`` (the same careers, no
    #: leakage) or ``"heavy"`` (the model before issue 24: ``job_change_rate``,
    #: ``cash_out_probability`` of the whole balance, ``hardship_share`` of it).
    leakage: str = "calibrated"
    job_change_rate: float = 0.10
    cash_out_probability: float = 0.10
    hardship_rate: float = 0.02
    hardship_share: float = 0.25
    #: Cash-out curve at separation (``"calibrated"``; :class:`backtest.leakage.CashOutCurve`),
    #: fitted by ``backtest.calibration.fit_cash_out_curve`` from the curve (0, 1, 0) on
    #: 20,000 members, seed 2060, 400 evaluations (the farthest of the 5 fitted figures
    #: 0.69 tolerances off; rounded to 4 decimals; PROVENANCE "Member behaviour calibration").
    cash_out_intercept: float = 7.7473
    cash_out_balance_slope: float = 4.0078
    cash_out_age_slope: float = 0.0155
    #: Hardship withdrawal amount (``"calibrated"``): lognormal, median in USD (Vanguard,
    #: How America Saves: about 1,900 USD) and log standard deviation (an assumption).
    hardship_median: float = 1_900.0
    hardship_log_sd: float = 1.0
    #: Real return of the projected balance that cash-out and hardship decisions read
    #: (``"calibrated"``; :func:`backtest.leakage.projected_balances`), decimal a year.
    leakage_projection_return: float = 0.03
    penalty_rate: float = 0.10
    penalty_age: float = 59.5
    #: Plan loans with default at a job end (``"calibrated"`` leakage only; off by
    #: default: the cash-out curve was fitted without them; :class:`backtest.leakage.PlanLoanRule`).
    #: ``loan_rate``: yearly probability of taking a loan while working with none
    #: outstanding, set so that about 20 % of working members have one outstanding (Lu,
    #: Mitchell, Utkus and Young 2017, National Tax Journal 70(1), abstract: 20 % borrow
    #: at any given time; checked) on the 2060 study's 20,000 members, seed 2060 (0.07
    #: gives 0.187, 0.075 0.193, 0.08 0.209); ``loan_size_share``: the
    #: loan as a share of the plan balance (EBRI Issue Brief, September 2023, 2016-2020
    #: consistent participants: median new loan 16 % of the account balance; checked in
    #: the summary), capped by IRC sec. 72(p); ``loan_term_years``: repaid by payroll over
    #: 5 years (the 72(p)(2)(B) limit for a loan not used to buy a home; recalled;
    #: confirm); ``loan_default_rate``: 86 % of workers who leave a job with a loan
    #: outstanding default (Lu et al. 2017, abstract; checked).
    plan_loans: bool = False
    loan_rate: float = 0.075
    loan_size_share: float = 0.16
    loan_term_years: float = 5.0
    loan_default_rate: float = 0.86
    retirement_ages: tuple[tuple[int, float], ...] = DEFAULT_RETIREMENT_AGES
    female_share: float = 0.5
    replacement_rate: float = 0.70
    annuity_rate: float = 0.02
    mortality_reading: str = "cohort"
    #: Permanent and transitory log-income shocks (:data:`CGM_SHOCK_VARIANCES`).
    income_shocks: bool = True
    #: Salary the need is ``replacement_rate`` of (:data:`NEED_BASES`).
    need_basis: str = "average_5y"
    #: Share of scheduled Social Security paid from ``ss_depletion_year`` on (1.0 =
    #: scheduled; the 2025 Trustees Report projects 0.81 for OASDI from 2034, 0.77 for
    #: OASI from 2033).
    ss_payable_ratio: float = 1.0
    ss_depletion_year: int = 2034
    #: Death rates by lifetime-earnings percentile (off: the SSA table for everyone;
    #: :func:`earnings_mortality_multiplier`, calibrated to :data:`CHETTY_LE_GAP_40`).
    earnings_mortality: bool = False

    def __post_init__(self) -> None:
        if not BIRTH_YEARS[0] <= self.birth_year <= BIRTH_YEARS[1]:
            raise PlanError(f"PopulationSpec.birth_year={self.birth_year} must be a year")
        if not TARGET_AGES[0] <= self.target_age <= TARGET_AGES[1]:
            raise PlanError(
                f"target_year - birth_year = {self.target_age}; a target date is the year the "
                "vintage turns 55-75 (e.g. born 1995, target 2060)"
            )
        if not (
            AGE_LIMITS[0] <= self.first_age <= self.start_age_min <= self.start_age_max < 62
            and self.horizon_age <= self.end_age <= AGE_LIMITS[1]
        ):
            raise PlanError(
                "PopulationSpec ages must satisfy 15 <= first_age <= start_age_min <= "
                "start_age_max < 62 and horizon_age <= end_age <= 120"
            )
        for name, (lo, hi) in SPEC_RANGES.items():
            _check(name, getattr(self, name), lo, hi)
        ages = [a for a, _ in self.retirement_ages]
        probs = np.array([p for _, p in self.retirement_ages], dtype=np.float64)
        if (
            not ages
            or min(ages) < max(62, self.start_age_max + 1)
            or max(ages) >= self.horizon_age
            or (probs < 0).any()
            or abs(probs.sum() - 1.0) > 1e-9
        ):
            raise PlanError(
                "PopulationSpec.retirement_ages must be (age, probability) pairs with ages from "
                "62 up to below horizon_age and probabilities >= 0 summing to 1"
            )
        if self.mortality_reading not in MORTALITY_READINGS:
            raise PlanError("PopulationSpec.mortality_reading must be 'cohort' or 'period'")
        if self.plan_loans and self.leakage != "calibrated":
            raise PlanError(
                f"PopulationSpec.plan_loans needs leakage='calibrated' (got {self.leakage!r}); "
                "set plan_loans = false or leakage = 'calibrated'"
            )
        if self.leakage not in LEAKAGE_CHOICES:
            raise PlanError(
                f"PopulationSpec.leakage={self.leakage!r}; use one of {list(LEAKAGE_CHOICES)}"
            )
        if self.need_basis not in NEED_BASES:
            raise PlanError(
                f"PopulationSpec.need_basis={self.need_basis!r}; use one of {list(NEED_BASES)}"
            )
        if not SS_DEPLETION_YEARS[0] <= self.ss_depletion_year <= SS_DEPLETION_YEARS[1]:
            raise PlanError(
                f"PopulationSpec.ss_depletion_year={self.ss_depletion_year} must be a year in "
                f"{list(SS_DEPLETION_YEARS)} (the 2025 Trustees Report projects 2034)"
            )

    @property
    def target_age(self) -> int:
        """The vintage's age at the target date, years."""
        return self.target_year - self.birth_year

    @property
    def n_periods(self) -> int:
        return self.end_age - self.first_age

    @property
    def ages(self) -> FloatArray:
        """Age at the start of each period, (T,)."""
        return np.arange(self.first_age, self.end_age, dtype=np.float64)


@dataclass(frozen=True)
class Members:
    """Members drawn from a :class:`PopulationSpec`: per-period flows and traits.

    Shapes: ``n`` members, ``T`` annual periods from ``spec.first_age``. Amounts are real
    2025 USD a year. Arrays are read-only.

    Attributes
    ----------
    contributions
        Employee + employer contributions paid at the end of each year, (n, T).
    spending
        Spending need from the account at the start of each retirement year, (n, T).
    leakage_share
        Share of the balance withdrawn at the start of each year before retirement
        (cash-outs, hardship), decimal, (n, T).
    penalty_rate
        The additional-tax rate on that year's leakage (0.10 before 59.5, else 0; 0 on a
        cash-out at separation from 55 under ``"calibrated"`` leakage), (n, T).
    survival
        Probability of being alive at each period boundary given alive at retirement,
        (n, T + 1); 1 up to the retirement age.
    retirement_age, start_age, final_salary, social_security, need, annuity_factor
        Per member, (n,). ``need`` is the yearly spending need (real USD);
        ``social_security`` the yearly benefit; ``annuity_factor`` the real annuity-due
        price of 1 USD a year for life at retirement. With a payable ratio below 1 the
        benefit and the need change at the depletion year: ``social_security`` and
        ``need`` are then their level equivalents over retirement (the survival- and
        ``annuity_rate``-weighted means of ``ss_by_year`` and ``spending``; the values
        themselves when constant). Both are 0 for a member who dies before retirement.
    ss_scheduled
        The scheduled yearly benefit (real USD, (n,)), before the payable ratio.
    ss_by_year
        The payable benefit in each year, real USD, (n, T): ``ss_scheduled x
        payable_share(calendar year)`` from retirement, 0 before it.
    base_salary
        The salary the need is ``replacement_rate`` of (``spec.need_basis``), real USD a
        year, (n,); the replacement ratio's denominator.
    death_age, alive_at_retirement
        Age at death (whole years: the member dies during that year of age) for members
        who die before retirement, NaN for the others; and whether the member reaches
        retirement, (n,). A member stops contributing (and leaking) from the year of death.
    college, female
        Traits, (n,) booleans.
    break_years, cash_outs, hardships
        Counts per member, (n,).
    separation, cashed_out, hardship
        Per member and year, (n, T) booleans: a job change (a new job, after a move or a
        career break), a cash-out (of the plan balance; the whole balance under
        ``"heavy"``), a hardship withdrawal. With
        ``leakage_share`` and ``contributions`` they give the amounts at the projected
        balance (:func:`backtest.calibration.leakage_events`).
    loan, loan_due, loan_default
        With ``spec.plan_loans`` (else None), (n, T) booleans: a plan loan outstanding at
        the year's start, a job end (separation or a break's start) with a loan
        outstanding, and its default (the offset is in ``leakage_share``).
    """

    spec: PopulationSpec
    contributions: FloatArray
    spending: FloatArray
    leakage_share: FloatArray
    penalty_rate: FloatArray
    survival: FloatArray
    retirement_age: IntArray
    start_age: IntArray
    starting_salary: FloatArray
    final_salary: FloatArray
    social_security: FloatArray
    need: FloatArray
    annuity_factor: FloatArray
    college: BoolArray
    female: BoolArray
    break_years: IntArray
    cash_outs: IntArray
    hardships: IntArray
    ss_scheduled: FloatArray
    ss_by_year: FloatArray
    base_salary: FloatArray
    death_age: FloatArray
    alive_at_retirement: BoolArray
    separation: BoolArray
    cashed_out: BoolArray
    hardship: BoolArray
    seed: int | None = None
    loan: BoolArray | None = None
    loan_due: BoolArray | None = None
    loan_default: BoolArray | None = None

    def __post_init__(self) -> None:
        n, t = self.contributions.shape
        for name in (
            "spending",
            "leakage_share",
            "penalty_rate",
            "ss_by_year",
            "separation",
            "cashed_out",
            "hardship",
            "loan",
            "loan_due",
            "loan_default",
        ):
            if name.startswith("loan") and getattr(self, name) is None:
                continue
            if getattr(self, name).shape != (n, t):
                raise DataError(f"Members.{name} must have shape {(n, t)}")
        if self.survival.shape != (n, t + 1):
            raise DataError(f"Members.survival must have shape {(n, t + 1)}")
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            if isinstance(v, np.ndarray):
                v.flags.writeable = False

    @property
    def n_members(self) -> int:
        return int(self.contributions.shape[0])

    @property
    def retirement_period(self) -> IntArray:
        """Index of each member's first retirement year, (n,)."""
        return self.retirement_age - self.spec.first_age

    @property
    def share_died_before_retirement(self) -> float:
        """Share of the members who die before their retirement age, decimal."""
        return float(1.0 - self.alive_at_retirement.mean())

    def survivors(self) -> Members:
        """The members who reach retirement (what success and shortfall condition on)."""
        return self.take(np.flatnonzero(self.alive_at_retirement))

    def take(self, index: IntArray) -> Members:
        """The members at ``index`` (any integer array), as a new :class:`Members`."""
        kw: dict[str, Any] = {
            k: (v[index] if isinstance(v, np.ndarray) else v)
            for k, v in ((f, getattr(self, f)) for f in self.__dataclass_fields__)
        }
        return Members(**kw)


def _annuity_factors(survival: FloatArray, t_ret: IntArray, rate: float) -> FloatArray:
    """Annuity-due factor at retirement: sum_k S(ret + k) / (1 + rate)^k, per member.

    :func:`backtest.outcomes.life_annuity_factor` on each member's curve (period index as
    the age); survival[:, -1] is alive at end_age, where payments stop (stated).
    """
    return np.asarray(life_annuity_factor(survival, t_ret, rate, "due", first_age=0.0))


def _salary_paths(
    spec: PopulationSpec, start: IntArray, s0: FloatArray, college: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Real salary (n, T) and years since the career start (negative before it).

    Starting salary x the education's age profile x economy-wide real wage growth.
    """
    ages = spec.ages
    prof = np.where(
        college[:, None],
        cgm_log_income(ages, "college")[None, :],
        cgm_log_income(ages, "high_school")[None, :],
    )
    prof0 = np.where(
        college, cgm_log_income(start, "college"), cgm_log_income(start, "high_school")
    )
    since = ages[None, :] - start[:, None]
    salary = s0[:, None] * np.exp(prof - prof0[:, None]) * (1.0 + spec.wage_growth_real) ** since
    return salary, since


def _career_events(
    spec: PopulationSpec,
    in_career: BoolArray,
    since: FloatArray,
    u_break: FloatArray,
    u_len: FloatArray,
    u_job: FloatArray,
) -> tuple[BoolArray, BoolArray, FloatArray]:
    """Career breaks, job changes and the auto-escalated contribution rate, (n, T) each.

    The only loop is over years (a job's tenure and a career break carry over from the
    previous year); everything inside it is vectorised over members. ``u_*`` are the
    members' uniform draws for each year; a job changes at :func:`job_change_rates`.
    """
    n, n_t = in_career.shape
    p_end = 1.0 / spec.career_break_mean_years
    job_rate = job_change_rates(spec)
    on_break = np.zeros((n, n_t), dtype=bool)
    job_change = np.zeros((n, n_t), dtype=bool)
    rate = np.zeros((n, n_t))
    breaking = np.zeros(n, dtype=bool)
    tenure = np.zeros(n)
    for t in range(n_t):
        active = in_career[:, t]
        # A break continues with probability 1 - 1/mean (geometric length), or starts.
        breaking = active & np.where(
            breaking, u_len[:, t] >= p_end, u_break[:, t] < spec.career_break_rate
        )
        on_break[:, t] = breaking
        # A new job after a break, or a job change with the stated rate (not in year one).
        returning = active & ~breaking & on_break[:, t - 1] if t > 0 else np.zeros(n, dtype=bool)
        first_year = active & (since[:, t] == 0)
        changes = active & ~breaking & ~first_year & (returning | (u_job[:, t] < job_rate[t]))
        job_change[:, t] = changes
        tenure = np.where(first_year | changes, 0.0, tenure + (active & ~breaking))
        rate[:, t] = np.minimum(spec.default_rate + spec.escalation * tenure, spec.escalation_cap)
    return on_break, job_change, rate


def job_change_rates(spec: PopulationSpec) -> FloatArray:
    """Yearly probability of a job move at each age, (T,), decimal: ``job_change_rate``
    at every age for ``"heavy"`` leakage, else the BLS-derived separation hazard
    (:func:`backtest.leakage.separation_hazard`) less ``career_break_rate`` (a break's
    start is the other way a job ends; the new job after it is a job change too)."""
    if spec.leakage == "heavy":
        return np.full(spec.n_periods, spec.job_change_rate)
    # A career break's start ends a job too (tenure restarts after it): moves make up the
    # rest of the separation hazard.
    return np.maximum(separation_hazard(spec.ages) - spec.career_break_rate, 0.0)


def _leakage(
    spec: PopulationSpec,
    job_change: BoolArray,
    working: BoolArray,
    contributions: FloatArray,
    u_cash: FloatArray,
    u_hard: FloatArray,
    loans: tuple[BoolArray, FloatArray] | None = None,
) -> LeakageDraw:
    """Cash-outs, hardship withdrawals and their additional tax, (n, T) each, by
    ``spec.leakage`` (see :class:`PopulationSpec`); every model reads the same uniform
    draws ``u_cash`` and ``u_hard``; ``loans`` (with ``spec.plan_loans``): the job ends
    and the loans' uniform draws (:func:`backtest.leakage.calibrated_leakage`)."""
    ages = spec.ages
    if spec.leakage == "calibrated":
        return calibrated_leakage(
            contributions,
            job_change,
            working,
            ages,
            u_cash,
            u_hard,
            CashOutCurve(
                spec.cash_out_intercept, spec.cash_out_balance_slope, spec.cash_out_age_slope
            ),
            HardshipRule(spec.hardship_rate, spec.hardship_median, spec.hardship_log_sd),
            spec.leakage_projection_return,
            (spec.penalty_rate, spec.penalty_age),
            None if loans is None else (_loan_rule(spec), *loans),
        )
    if spec.leakage == "none":
        never = np.zeros(job_change.shape, dtype=bool)
        return LeakageDraw(np.zeros(job_change.shape), never, never, np.zeros(job_change.shape))
    # "heavy": the model before issue 24, kept as it was.
    cash_out = job_change & (u_cash < spec.cash_out_probability)
    hardship = working & ~cash_out & (u_hard < spec.hardship_rate)
    leakage = np.where(cash_out, 1.0, np.where(hardship, spec.hardship_share, 0.0))
    penalty = np.where((leakage > 0) & (ages[None, :] < spec.penalty_age), spec.penalty_rate, 0.0)
    return LeakageDraw(leakage, cash_out, hardship, penalty)


def _loan_rule(spec: PopulationSpec) -> PlanLoanRule:
    """The plan-loan rule of ``spec`` (:class:`backtest.leakage.PlanLoanRule`)."""
    return PlanLoanRule(
        spec.loan_rate, spec.loan_size_share, spec.loan_term_years, spec.loan_default_rate
    )


def job_ends(job_change: BoolArray, working: BoolArray, in_career: BoolArray) -> BoolArray:
    """Years a job ends, (n, T) booleans: a job change, or the first year of a career
    break (working the year before, in career and not working now)."""
    stop = np.zeros_like(working)
    stop[:, 1:] = working[:, :-1] & ~working[:, 1:] & in_career[:, 1:]
    return job_change | stop


def _loan_draws(
    spec: PopulationSpec,
    gen: np.random.Generator,
    job_change: BoolArray,
    working: BoolArray,
    in_career: BoolArray,
) -> tuple[BoolArray, FloatArray] | None:
    """The job ends and one uniform draw a member-year for plan loans, or None without
    them. The draws come from their own spawned stream: with loans off (or on) every
    other draw of :func:`draw_members` is unchanged."""
    if not spec.plan_loans:
        return None
    u_loan = gen.spawn(1)[0].random(working.shape)
    return job_ends(job_change, working, in_career), u_loan


def _plan_contributions(
    spec: PopulationSpec, earn: FloatArray, rate: FloatArray, working: BoolArray
) -> FloatArray:
    """Employee plus employer contributions (n, T), real USD a year, under the plan's rules."""
    employee, employer = contribution_amounts(
        earn,
        rate,
        spec.ages[None, :],
        match_rate=spec.match_rate,
        match_cap=spec.match_cap,
        annual_limit=spec.annual_limit,
        catch_up=spec.catch_up,
        catch_up_age=spec.catch_up_age,
    )
    return np.where(working, employee + employer, 0.0)


def _survival_from(
    spec: PopulationSpec, female: BoolArray, from_age: IntArray, n_years: int, mult: FloatArray
) -> FloatArray:
    """Survival from each member's ``from_age``, (n, n_years + 1): the member's SSA table
    (sex, birth year, ``spec.mortality_reading``) with ``q(x)`` times ``mult`` (n,) (capped
    at 1); ``mult = 1`` is :func:`backtest.mortality.survival_matrix`."""
    ages = from_age[:, None] + np.arange(n_years)[None, :]
    if spec.mortality_reading == "cohort":
        years = spec.birth_year + ages
    else:
        years = np.broadcast_to((spec.birth_year + from_age)[:, None], ages.shape)
    q = np.empty(ages.shape)
    for sex, rows in (("female", female), ("male", ~female)):
        q[rows] = mortality.death_probability(sex, years[rows], ages[rows])  # type: ignore[arg-type]
    alive = np.cumprod(1.0 - np.minimum(q * mult[:, None], 1.0), axis=1)
    return np.concatenate([np.ones((from_age.size, 1)), alive], axis=1)


def _member_survival(
    spec: PopulationSpec, female: BoolArray, ret: IntArray, t_ret: IntArray, mult: FloatArray
) -> FloatArray:
    """Probability (n, T + 1) of being alive at each period boundary, 1 up to retirement;
    ``mult`` (n,) multiplies the table's death rates (:func:`earnings_mortality_multiplier`)."""
    n_after = spec.end_age - ret
    surv_ret = _survival_from(spec, female, ret, int(n_after.max()), mult)
    # Place each member's curve at its retirement boundary; 1 before it.
    k = np.arange(spec.n_periods + 1)[None, :] - t_ret[:, None]
    return np.where(
        k <= 0, 1.0, np.take_along_axis(surv_ret, np.clip(k, 0, surv_ret.shape[1] - 1), axis=1)
    )


def _career_mean(
    spec: PopulationSpec, salary: FloatArray, start: IntArray, ret: IntArray
) -> FloatArray:
    """Mean real salary from the start age to the year before retirement, (n,)."""
    t = np.arange(spec.n_periods)[None, :]
    window = (t >= (start - spec.first_age)[:, None]) & (t < (ret - spec.first_age)[:, None])
    return np.asarray((salary * window).sum(axis=1) / window.sum(axis=1))


def _life_expectancy(sex: mortality.Sex, year: int, age: int, mult: float) -> float:
    """Period life expectancy at ``age`` in ``year`` with q(x) times ``mult``, years."""
    q = mortality.death_probability(sex, year, np.arange(age, mortality.MAX_AGE + 1))
    return float(np.cumprod(1.0 - np.minimum(mult * q, 1.0)).sum() + 0.5)


def _percentile_multiplier(theta: float | FloatArray, p: float | FloatArray) -> FloatArray:
    """``exp(theta (0.5 - p)) / mean_p exp(theta (0.5 - p))``: log death rates linear in
    the earnings percentile ``p`` (decimal), averaging 1 over a uniform ``p`` (so the
    vintage's average death rate is the table's)."""
    th = np.asarray(theta, dtype=np.float64)
    half = np.maximum(th / 2.0, 1e-12)
    return np.asarray(np.exp(th * (0.5 - np.asarray(p))) * half / np.sinh(half))


@functools.cache
def earnings_mortality_slope(sex: mortality.Sex) -> float:
    """``theta`` of the earnings-linked mortality multiplier (:func:`_percentile_multiplier`).

    Calibrated (bisection) so that, on the SSA period table of 2018 (the first embedded
    year; the source's data are 2001-2014), life expectancy at 40 at the 0.5th earnings
    percentile falls short of the 99.5th by Chetty et al. (2016)'s gap between the
    bottom and top 1 % (:data:`CHETTY_LE_GAP_40`). Log mortality linear in the
    percentile is this model's assumption, not the paper's estimate.
    """
    gap = CHETTY_LE_GAP_40[sex]

    def shortfall(theta: float) -> float:
        lo, hi = (
            _life_expectancy(sex, mortality.FIRST_YEAR, 40, float(_percentile_multiplier(theta, p)))
            for p in (0.005, 0.995)
        )
        return hi - lo - gap

    a, b = 0.0, 10.0
    for _ in range(60):
        mid = 0.5 * (a + b)
        a, b = (mid, b) if shortfall(mid) < 0 else (a, mid)
    return 0.5 * (a + b)


def earnings_mortality_multiplier(
    spec: PopulationSpec, female: BoolArray, lifetime_earnings: FloatArray
) -> FloatArray:
    """Multiplier on each member's death rates, (n,): 1 unless ``spec.earnings_mortality``;
    then :func:`_percentile_multiplier` at ``theta_sex`` (:func:`earnings_mortality_slope`)
    and ``p`` the member's percentile of ``lifetime_earnings`` (real USD a year) in the
    drawn vintage, decimal: about 0.47 to 1.83 for men, 0.58 to 1.59 for women, mean 1."""
    n = female.size
    if not spec.earnings_mortality:
        return np.ones(n)
    p = (np.argsort(np.argsort(lifetime_earnings, kind="stable"), kind="stable") + 0.5) / n
    theta = np.where(female, earnings_mortality_slope("female"), earnings_mortality_slope("male"))
    return _percentile_multiplier(theta, p)


def log_income_shocks(
    college: BoolArray, since: FloatArray, rng: np.random.Generator
) -> FloatArray:
    """Permanent plus transitory shocks to log real labour income, (n, T), log points.

    The permanent part is a random walk from the career start (0 in the first career
    year, then a yearly N(0, var_permanent) step); the transitory part is i.i.d.
    N(0, var_transitory) each year; the yearly variances by education are Cocco, Gomes and
    Maenhout (2005), Table 3 (:data:`CGM_SHOCK_VARIANCES`). Both are mean zero in logs,
    so the median salary follows the age profile. ``since`` is years since the career
    start, (n, T); shocks are 0 before it.
    """
    hs, col = CGM_SHOCK_VARIANCES["high_school"], CGM_SHOCK_VARIANCES["college"]
    sd_p = np.sqrt(np.where(college, col[0], hs[0]))[:, None]
    sd_t = np.sqrt(np.where(college, col[1], hs[1]))[:, None]
    z_p = rng.standard_normal(since.shape)
    z_t = rng.standard_normal(since.shape)
    permanent = np.cumsum(np.where(since > 0, sd_p * z_p, 0.0), axis=1)
    return np.where(since >= 0, permanent + sd_t * z_t, 0.0)


def _death_periods(
    spec: PopulationSpec, female: BoolArray, ret: IntArray, u: FloatArray, mult: FloatArray
) -> IntArray:
    """Period (index from ``first_age``) in which each member dies before retirement, -1
    for members alive at retirement, (n,).

    Each member's survival from ``first_age`` by its own SSA table (sex, birth year,
    ``spec.mortality_reading``; :mod:`backtest.mortality`) and one uniform ``u`` (n,):
    dead by boundary ``k`` if ``S(k) < u``, so ``P(dead by retirement) = 1 - S(t_ret)``.
    """
    n_years = int(ret.max()) - spec.first_age
    surv = _survival_from(spec, female, np.full(ret.size, spec.first_age), n_years, mult)
    k = np.arange(n_years + 1)[None, :]
    dead = (surv < u[:, None]) & (k <= (ret - spec.first_age)[:, None])
    # S(0) = 1 > u, so the first boundary dead at is >= 1 and the death year is one less.
    return np.where(dead.any(axis=1), dead.argmax(axis=1) - 1, -1)


def _base_salary(
    spec: PopulationSpec, salary: FloatArray, start: IntArray, t_ret: IntArray
) -> FloatArray:
    """The salary the need is a replacement rate of (``spec.need_basis``), (n,), real USD
    a year: the mean salary over the last 1 (``final``) or 5 (``average_5y``) working
    years, or from the start age (``career_average``), up to the year before retirement.
    The salary as drawn (age profile and shocks), breaks not counted as zeros."""
    t = np.arange(spec.n_periods)[None, :]
    t_start = start - spec.first_age
    years = {"final": 1, "average_5y": 5, "career_average": spec.n_periods}[spec.need_basis]
    lo = np.maximum(t_ret - years, t_start)
    window = (t >= lo[:, None]) & (t < t_ret[:, None])
    return np.asarray((salary * window).sum(axis=1) / window.sum(axis=1))


def _level(x: FloatArray, survival: FloatArray, t_ret: IntArray, rate: float) -> FloatArray:
    """Level equivalent over retirement of a yearly amount ``x`` (n, T): its mean weighted
    by survival to the start of each year and ``(1 + rate)^-(t - t_ret)``, (n,); ``x``
    itself when constant."""
    k = np.arange(x.shape[1])[None, :] - t_ret[:, None]
    w = np.where(k >= 0, survival[:, :-1] * (1.0 + rate) ** -np.maximum(k, 0), 0.0)
    return np.asarray((w * x).sum(axis=1) / w.sum(axis=1))


def _retirement_flows(
    spec: PopulationSpec,
    earn: FloatArray,
    salary: FloatArray,
    start: IntArray,
    ret: IntArray,
    survival: FloatArray,
    alive_ret: BoolArray,
) -> dict[str, FloatArray]:
    """Social Security and the spending need of each member, real USD a year.

    Social Security from the member's own earnings, claimed at retirement, paid at
    :func:`backtest.social_security.payable_share` of its scheduled amount by calendar
    year (``spec.ss_payable_ratio`` from ``spec.ss_depletion_year``); the need each
    retirement year is ``replacement_rate x base salary - payable benefit`` (at least 0).
    Nothing for members who die before retirement (``alive_ret`` False).
    """
    n_t = spec.n_periods
    t_ret = ret - spec.first_age
    ss = benefit_from_earnings(
        earn,
        spec.ages,
        spec.birth_year,
        ret.astype(np.float64),
        wage_growth_real=spec.wage_growth_real,
    )
    ss = np.where(alive_ret, ss, 0.0)
    retired = alive_ret[:, None] & (np.arange(n_t)[None, :] >= t_ret[:, None])
    share = payable_share(
        spec.birth_year + spec.ages, spec.ss_payable_ratio, spec.ss_depletion_year
    )
    ss_by_year = np.where(retired, ss[:, None] * share[None, :], 0.0)
    base = _base_salary(spec, salary, start, t_ret)
    target = spec.replacement_rate * base[:, None]
    spending = np.where(retired, np.maximum(target - ss_by_year, 0.0), 0.0)
    return {
        "spending": spending,
        "social_security": _level(ss_by_year, survival, t_ret, spec.annuity_rate),
        "need": _level(spending, survival, t_ret, spec.annuity_rate),
        "ss_scheduled": ss,
        "ss_by_year": ss_by_year,
        "base_salary": base,
    }


def draw_members(
    spec: PopulationSpec, n_members: int, rng: np.random.Generator | int | None = None
) -> Members:
    """Draw ``n_members`` members of the vintage ``spec`` (reproducible for an integer seed).

    Every member-level draw comes first, then the yearly events (see
    :func:`_career_events`); amounts are real USD a year.
    """
    if not (isinstance(n_members, int | np.integer) and n_members >= 1):
        raise PlanError(f"n_members={n_members!r} must be an integer >= 1")
    seed = rng if isinstance(rng, int) else None
    gen = np.random.default_rng(rng)
    # Own streams for income shocks and deaths (spawned: other draws are unchanged).
    shock_gen, death_gen = gen.spawn(2)
    n, n_t = int(n_members), spec.n_periods
    ages = spec.ages  # (T,)

    start = gen.integers(spec.start_age_min, spec.start_age_max + 1, size=n)
    s0 = spec.salary_median * np.exp(spec.salary_log_sd * gen.standard_normal(n))
    college = gen.random(n) < spec.college_share
    female = gen.random(n) < spec.female_share
    ret_ages = np.array([a for a, _ in spec.retirement_ages])
    ret_probs = np.array([p for _, p in spec.retirement_ages])
    ret = gen.choice(ret_ages, size=n, p=ret_probs / ret_probs.sum())

    salary, since = _salary_paths(spec, start, s0, college)
    if spec.income_shocks:
        salary = salary * np.exp(log_income_shocks(college, since, shock_gen))
    # Deaths before retirement: no work, contributions or leakage from the year of death.
    mult = earnings_mortality_multiplier(spec, female, _career_mean(spec, salary, start, ret))
    death_t = _death_periods(spec, female, ret, death_gen.random(n), mult)
    alive = (death_t < 0)[:, None] | (np.arange(n_t)[None, :] < death_t[:, None])
    in_career = (since >= 0) & (ages[None, :] < ret[:, None]) & alive
    # Yearly events, drawn for every member and year at once (common draws, so changing
    # one rate does not reshuffle the others).
    u_break, u_len, u_job, u_cash, u_hard = (gen.random((n, n_t)) for _ in range(5))
    on_break, job_change, rate = _career_events(spec, in_career, since, u_break, u_len, u_job)
    working = in_career & ~on_break
    rate = np.where(working, np.maximum(rate, 0.0), 0.0)
    earn = np.where(working, salary, 0.0)
    contributions = _plan_contributions(spec, earn, rate, working)

    loans = _loan_draws(spec, gen, job_change, working, in_career)
    leak = _leakage(spec, job_change, working, contributions, u_cash, u_hard, loans)

    t_ret = ret - spec.first_age
    survival = _member_survival(spec, female, ret, t_ret, mult)
    flows = _retirement_flows(spec, earn, salary, start, ret, survival, death_t < 0)
    return Members(
        spec=spec,
        contributions=contributions,
        leakage_share=leak.share,
        penalty_rate=leak.penalty_rate,
        survival=survival,
        retirement_age=ret.astype(np.int64),
        start_age=start.astype(np.int64),
        starting_salary=s0,
        final_salary=salary[np.arange(n), t_ret - 1],
        annuity_factor=_annuity_factors(survival, t_ret, spec.annuity_rate),
        college=college,
        female=female,
        break_years=on_break.sum(axis=1),
        cash_outs=leak.cashed_out.sum(axis=1),
        hardships=leak.hardship.sum(axis=1),
        separation=job_change,
        cashed_out=leak.cashed_out,
        hardship=leak.hardship,
        death_age=np.where(death_t < 0, np.nan, spec.first_age + death_t).astype(np.float64),
        alive_at_retirement=death_t < 0,
        seed=seed,
        spending=flows["spending"],
        social_security=flows["social_security"],
        need=flows["need"],
        ss_scheduled=flows["ss_scheduled"],
        ss_by_year=flows["ss_by_year"],
        base_salary=flows["base_salary"],
        loan=leak.loan,
        loan_due=leak.loan_due,
        loan_default=leak.loan_default,
    )
