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
  growth;
* career breaks: each working year a break starts with a probability; its length is
  geometric with a stated mean; no salary, no contributions during a break;
* contributions: auto-enrolment at a default rate rising by an escalation step a year
  to a cap, reset to the default at each new job; employer match (rate x employee
  contribution up to a share of salary); IRS 402(g) elective-deferral limit and the
  414(v) catch-up from age 50 (2025: 23,500 and 7,500 USD);
* leakage before retirement: at a job change the member cashes out the whole balance
  with a probability; hardship withdrawals of a share of the balance with a yearly
  probability; before age 59.5 both pay the 10 % additional tax of IRC sec. 72(t) (paid
  out of the amount withdrawn: it is a loss to the member, not to the account);
* retirement age from a discrete distribution over 62-70; Social Security claimed at
  retirement (:mod:`backtest.social_security`, from the member's own earnings);
* spending need from retirement: ``replacement_rate x final salary - Social Security``
  (at least zero), constant in real terms, paid at the start of each year;
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
* replacement ratio: ``(Social Security + W_ret / a) / final salary``, ``a`` the member's
  real annuity-due factor at ``annuity_rate`` with its survival curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from backtest import mortality
from backtest.errors import DataError, PlanError
from backtest.outcomes import (
    life_annuity_factor,
)
from backtest.plan import contribution_amounts
from backtest.social_security import benefit_from_earnings
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
    "penalty_rate": (0.0, 1.0),
    "penalty_age": (0.0, 125.0),
    "female_share": (0.0, 1.0),
    "replacement_rate": (0.0, 3.0),
    "annuity_rate": (-0.05, 0.2),
}
MORTALITY_READINGS: tuple[str, ...] = ("cohort", "period")


def _check(name: str, value: float, lo: float, hi: float) -> None:
    if not (np.isfinite(value) and lo <= value <= hi):
        raise PlanError(f"PopulationSpec.{name}={value!r} must be in [{lo}, {hi}]")


@dataclass(frozen=True)
class PopulationSpec:
    """The distributions a vintage's members are drawn from (real 2025 USD, decimal rates).

    The leakage, break and retirement defaults are stated modelling assumptions of the
    order reported by industry surveys of 401(k) plans (e.g. Vanguard, "How America
    Saves"), not estimates fitted here; change them per study.
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
    job_change_rate: float = 0.10
    cash_out_probability: float = 0.10
    hardship_rate: float = 0.02
    hardship_share: float = 0.25
    penalty_rate: float = 0.10
    penalty_age: float = 59.5
    retirement_ages: tuple[tuple[int, float], ...] = DEFAULT_RETIREMENT_AGES
    female_share: float = 0.5
    replacement_rate: float = 0.70
    annuity_rate: float = 0.02
    mortality_reading: str = "cohort"

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
        The additional-tax rate on that year's leakage (0.10 before 59.5, else 0), (n, T).
    survival
        Probability of being alive at each period boundary given alive at retirement,
        (n, T + 1); 1 up to the retirement age.
    retirement_age, start_age, final_salary, social_security, need, annuity_factor
        Per member, (n,). ``need`` is the yearly spending need (real USD);
        ``social_security`` the yearly benefit; ``annuity_factor`` the real annuity-due
        price of 1 USD a year for life at retirement.
    college, female
        Traits, (n,) booleans.
    break_years, cash_outs, hardships
        Counts per member, (n,).
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
    seed: int | None = None

    def __post_init__(self) -> None:
        n, t = self.contributions.shape
        for name in ("spending", "leakage_share", "penalty_rate"):
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
    members' uniform draws for each year.
    """
    n, n_t = in_career.shape
    p_end = 1.0 / spec.career_break_mean_years
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
        changes = (
            active & ~breaking & ~first_year & (returning | (u_job[:, t] < spec.job_change_rate))
        )
        job_change[:, t] = changes
        tenure = np.where(first_year | changes, 0.0, tenure + (active & ~breaking))
        rate[:, t] = np.minimum(spec.default_rate + spec.escalation * tenure, spec.escalation_cap)
    return on_break, job_change, rate


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


def _member_survival(
    spec: PopulationSpec, female: BoolArray, ret: IntArray, t_ret: IntArray
) -> FloatArray:
    """Probability (n, T + 1) of being alive at each period boundary, 1 up to retirement."""
    sex = np.where(female, "female", "male")
    n_after = spec.end_age - ret
    surv_ret = mortality.survival_matrix(
        sex,
        spec.birth_year,
        ret,
        int(n_after.max()),
        spec.mortality_reading,  # type: ignore[arg-type]
    )
    # Place each member's curve at its retirement boundary; 1 before it.
    k = np.arange(spec.n_periods + 1)[None, :] - t_ret[:, None]
    return np.where(
        k <= 0, 1.0, np.take_along_axis(surv_ret, np.clip(k, 0, surv_ret.shape[1] - 1), axis=1)
    )


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
    in_career = (since >= 0) & (ages[None, :] < ret[:, None])
    # Yearly events, drawn for every member and year at once (common draws, so changing
    # one rate does not reshuffle the others).
    u_break, u_len, u_job, u_cash, u_hard = (gen.random((n, n_t)) for _ in range(5))
    on_break, job_change, rate = _career_events(spec, in_career, since, u_break, u_len, u_job)
    working = in_career & ~on_break
    rate = np.where(working, np.maximum(rate, 0.0), 0.0)
    earn = np.where(working, salary, 0.0)
    contributions = _plan_contributions(spec, earn, rate, working)

    cash_out = job_change & (u_cash < spec.cash_out_probability)
    hardship = working & ~cash_out & (u_hard < spec.hardship_rate)
    leakage = np.where(cash_out, 1.0, np.where(hardship, spec.hardship_share, 0.0))
    penalty = np.where((leakage > 0) & (ages[None, :] < spec.penalty_age), spec.penalty_rate, 0.0)

    # Social Security from the member's own earnings, claimed at retirement.
    ss = benefit_from_earnings(
        earn, ages, spec.birth_year, ret.astype(np.float64), wage_growth_real=spec.wage_growth_real
    )
    t_ret = ret - spec.first_age
    final_salary = salary[np.arange(n), t_ret - 1]
    need = np.maximum(spec.replacement_rate * final_salary - ss, 0.0)
    retired = np.arange(n_t)[None, :] >= t_ret[:, None]
    survival = _member_survival(spec, female, ret, t_ret)
    return Members(
        spec=spec,
        contributions=contributions,
        spending=np.where(retired, need[:, None], 0.0),
        leakage_share=leakage,
        penalty_rate=penalty,
        survival=survival,
        retirement_age=ret.astype(np.int64),
        start_age=start.astype(np.int64),
        starting_salary=s0,
        final_salary=final_salary,
        social_security=ss,
        need=need,
        annuity_factor=_annuity_factors(survival, t_ret, spec.annuity_rate),
        college=college,
        female=female,
        break_years=on_break.sum(axis=1),
        cash_outs=cash_out.sum(axis=1),
        hardships=hardship.sum(axis=1),
        seed=seed,
    )
