"""Leakage from a 401(k) before retirement: separations, cash-outs and hardship withdrawals.

Pure functions of arrays, vectorised over members (one loop over years where the balance
carries over), used by :func:`backtest.population.draw_members` for its ``"calibrated"``
leakage model; :mod:`backtest.calibration` compares what they produce with published
figures. Amounts are real USD of 2025, rates decimal a year, ages in whole years (period
``t`` covers ages ``[age, age + 1)``, the calendar year the member turns ``age``).

The calibrated model
--------------------
* **Separations** (job changes): a yearly hazard by age from BLS median tenure
  (:func:`separation_hazard`).
* **Cash-out at separation**, decided on the member's *projected plan balance*: what it
  holds with the employer it leaves (earlier jobs' balances were rolled over), as its
  statement would show had the account earned a constant real return
  (:func:`projected_balances`; the market path is not known when members are drawn, and
  one decision per member keeps the leakage a share of the balance shared by all its
  market paths). Plan balances up to :data:`FORCE_OUT_CASH_USD` are cashed out (the plan
  forces them out and small force-outs are typically paid in cash); above it the member
  cashes out the whole plan balance with probability :meth:`CashOutCurve.probability`, a
  logistic curve falling with log balance and with age, whose three parameters are fitted
  to published figures by :func:`backtest.calibration.fit_cash_out_curve`; otherwise the
  plan balance is rolled over (to an IRA or the next plan; balances up to
  :data:`FORCE_OUT_LIMIT_USD` are forced out to an IRA) and stays invested.
* **Hardship withdrawals**: at a yearly rate while working (not in a separation year), an
  amount in USD drawn lognormal (stated median and log spread), capped at the plan
  balance.
* **Plan loans** (optional, :class:`PlanLoanRule`; ``PopulationSpec.plan_loans``): while
  working with no loan outstanding, in a year without a job end or hardship withdrawal,
  a member takes a loan with a yearly probability, of a share of the plan balance capped
  by IRC sec. 72(p) (:func:`loan_limit`), repaid by payroll in equal real instalments over
  the term while employed. The outstanding loan stays in the balance: the member pays the
  loan interest to her own account, taken here to earn what the fund earns (a stated
  simplification: the gap between the loan rate and the fund's return is not modelled),
  so a loan repaid leaves the account as without it. When the job ends with a loan
  outstanding (a separation or the start of a career break) it defaults with a stated
  probability: the outstanding loan is offset against the plan balance, a taxable
  distribution that leaves the account for good (a leakage share of that year's
  balance); else it is repaid. A loan outstanding at retirement or death is taken as
  repaid.
* **The 10 % additional tax** (IRC sec. 72(t)): on a cash-out at separation before the
  year the member turns 55 (the rule of 55, sec. 72(t)(2)(A)(v)), and on a hardship
  withdrawal before ``penalty_age`` (59.5); a loan default at a job end is taxed as a
  cash-out at separation (the rule of 55 applies).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from backtest.types import BoolArray, FloatArray

#: The leakage models of ``PopulationSpec.leakage``: fitted to published figures, no
#: leakage at all (same careers), and the model before issue 24 (kept for sensitivity).
LEAKAGE_MODELS: tuple[str, ...] = ("calibrated", "none", "heavy")

#: BLS, "Employee Tenure in 2024" (news release): median years with the current employer,
#: at ages 25-34 and 55-64, placed at the bands' mid-ages (retirement-evidence.md).
BLS_MEDIAN_TENURE: tuple[tuple[float, float], ...] = ((29.5, 2.7), (59.5, 9.6))
#: BLS, the same release: median tenure over all wage and salary workers, years.
BLS_MEDIAN_TENURE_ALL = 3.9

#: Balances up to this are cashed out at separation (plan force-out; SECURE 2.0 sec. 304
#: lets plans distribute up to 7,000 USD without consent; under 1,000 is typically paid in
#: cash), USD.
FORCE_OUT_CASH_USD = 1_000.0
#: The SECURE 2.0 force-out limit, USD: balances up to it may be rolled to an IRA without
#: consent (a rollover: preserved).
FORCE_OUT_LIMIT_USD = 7_000.0
#: IRC sec. 72(t)(2)(A)(v): no additional tax on a distribution after separation from
#: service in or after the year the member turns 55.
RULE_OF_55_AGE = 55.0
#: Balance and age at which the cash-out curve's intercept is read (USD, years).
CURVE_BALANCE_USD = 10_000.0
CURVE_AGE = 40.0
#: IRC sec. 72(p)(2)(A): a plan loan is not a distribution up to the lesser of 50,000 USD
#: and half the vested balance (the 10,000 USD floor of the same section is not modelled).
LOAN_LIMIT_USD = 50_000.0
LOAN_LIMIT_SHARE = 0.5


def separation_hazard(ages: FloatArray) -> FloatArray:
    """Yearly probability of a separation (job change) at each age, decimal, shape of ``ages``.

    Derivation: with a constant hazard ``h`` job spells are exponential and so is the
    tenure of the jobs held at a survey date (memoryless), hence median tenure
    ``m = ln 2 / h`` and ``h = ln 2 / m``: 0.257 at 25-34 (m = 2.7) and 0.072 at 55-64
    (m = 9.6). Between the bands' mid-ages (29.5 and 59.5) ``log h`` is linear in age;
    outside, it is held at the nearer band's value. The yearly probability is
    ``1 - exp(-h)``.
    """
    (a0, m0), (a1, m1) = BLS_MEDIAN_TENURE
    a = np.clip(np.asarray(ages, dtype=np.float64), a0, a1)
    log_h = np.log(np.log(2.0) / m0) + (a - a0) / (a1 - a0) * np.log(m0 / m1)
    return 1.0 - np.exp(-np.exp(log_h))


@dataclass(frozen=True)
class CashOutCurve:
    """Probability of cashing out the whole balance at a separation, by balance and age.

    ``p = 1 / (1 + exp(-(intercept - balance_slope ln(B / 10,000) - age_slope (age - 40))))``
    for a balance ``B`` above :data:`FORCE_OUT_CASH_USD` (real USD), 1 at or below it.
    Positive slopes: fewer cash-outs of larger balances and at older ages.
    """

    intercept: float
    balance_slope: float
    age_slope: float

    def probability(self, balance: FloatArray, age: FloatArray | float) -> FloatArray:
        """Cash-out probability (decimal) at ``balance`` (real USD) and ``age`` (years)."""
        b = np.asarray(balance, dtype=np.float64)
        x = (
            self.intercept
            - self.balance_slope * np.log(np.maximum(b, 1.0) / CURVE_BALANCE_USD)
            - self.age_slope * (np.asarray(age, dtype=np.float64) - CURVE_AGE)
        )
        p = 1.0 / (1.0 + np.exp(-x))
        return np.where(b <= FORCE_OUT_CASH_USD, 1.0, p)


@dataclass(frozen=True)
class HardshipRule:
    """Hardship withdrawals: a yearly ``rate`` while working, lognormal amounts in real USD
    (``median``, log standard deviation ``log_sd``), capped at the balance."""

    rate: float
    median: float
    log_sd: float

    def amounts(self, u: FloatArray) -> FloatArray:
        """Amount asked for where ``u < rate`` (real USD), else 0, from uniform draws ``u``.

        Given ``u < rate``, ``u / rate`` is uniform on (0, 1) and independent of the event,
        so one uniform draw per year decides both whether and how much (no extra draws).
        """
        hit = u < self.rate
        q = np.clip(np.where(hit, u / max(self.rate, 1e-300), 0.5), 1e-12, 1.0 - 1e-12)
        return np.where(hit, self.median * np.exp(self.log_sd * ndtri(q)), 0.0)


def loan_limit(balance: FloatArray) -> FloatArray:
    """Largest plan loan on a vested ``balance`` (real USD), IRC sec. 72(p): the lesser of
    :data:`LOAN_LIMIT_USD` and :data:`LOAN_LIMIT_SHARE` of the balance, real USD."""
    b = np.maximum(np.asarray(balance, dtype=np.float64), 0.0)
    return np.minimum(LOAN_LIMIT_SHARE * b, LOAN_LIMIT_USD)


@dataclass(frozen=True)
class PlanLoanRule:
    """Plan loans: ``rate`` the yearly probability of taking one (decimal), ``size_share``
    the loan asked as a share of the plan balance (decimal, capped by :func:`loan_limit`),
    ``term_years`` the repayment term (years, equal real instalments while employed),
    ``default_rate`` the probability that a loan outstanding when the job ends defaults
    (decimal). Sources of the defaults: ``PopulationSpec`` and PROVENANCE section 11."""

    rate: float
    size_share: float
    term_years: float
    default_rate: float

    def amounts(self, balance: FloatArray) -> FloatArray:
        """Loan taken on a plan ``balance`` (real USD): ``size_share x balance`` up to the
        72(p) limit, real USD."""
        b = np.maximum(np.asarray(balance, dtype=np.float64), 0.0)
        return np.minimum(self.size_share * b, loan_limit(b))


@dataclass(frozen=True)
class LeakageDraw:
    """The leakage of a population, (n, T) each.

    ``share``: share of the (whole) balance withdrawn at the start of each year
    (decimal); ``cashed_out``: a cash-out of the plan balance at a separation;
    ``hardship``: a hardship withdrawal; ``penalty_rate``: the additional-tax rate on that
    year's leakage. With plan loans (else None): ``loan`` a loan outstanding at the
    year's start (after any new loan), ``loan_due`` a job end with a loan outstanding,
    ``loan_default`` its default (the offset is part of ``share``).
    """

    share: FloatArray
    cashed_out: BoolArray
    hardship: BoolArray
    penalty_rate: FloatArray
    loan: BoolArray | None = None
    loan_due: BoolArray | None = None
    loan_default: BoolArray | None = None


def _advance(
    plan: FloatArray, rolled: FloatArray, taken: FloatArray, sep: BoolArray, c: FloatArray, g: float
) -> tuple[FloatArray, FloatArray]:
    """One year of the two pots: ``taken`` (USD) leaves the plan balance at the start (any
    excess the rolled-over balance); at a separation what is left of the plan balance is
    rolled over; then both grow by ``g``, and the year's contributions ``c`` join the
    (new) plan at the end."""
    left = np.maximum(plan - taken, 0.0)
    rolled = np.maximum(rolled - np.maximum(taken - plan, 0.0), 0.0)  # beyond the plan's
    return np.where(sep, 0.0, left) * g + c, (rolled + np.where(sep, left, 0.0)) * g


def projected_balances(
    contributions: FloatArray, separation: BoolArray, share: FloatArray, real_return: float
) -> tuple[FloatArray, FloatArray]:
    """Plan balance and rolled-over balance at each period boundary, (n, T + 1) each, real
    USD, at a constant real return (no fees).

    The *plan* balance is what the member holds with the current employer; at a
    separation it is cashed out or rolled over (into the *rolled* balance, an IRA or the
    next plan, invested alike). Leakage ``share x (plan + rolled)`` leaves the plan balance
    at the start of the year, contributions join it at the end: the account's order of
    events, its total ``plan + rolled`` the account's balance at ``real_return``. These are
    the balances the ``"calibrated"`` decisions read.
    """
    n, n_t = contributions.shape
    plan, rolled = np.zeros((n, n_t + 1)), np.zeros((n, n_t + 1))
    g = 1.0 + real_return
    for t in range(n_t):
        taken = share[:, t] * (plan[:, t] + rolled[:, t])
        plan[:, t + 1], rolled[:, t + 1] = _advance(
            plan[:, t], rolled[:, t], taken, separation[:, t], contributions[:, t], g
        )
    return plan, rolled


def _loan_start(
    loans: PlanLoanRule, owed: FloatArray, plan: FloatArray, due: BoolArray, u: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """At a job end (``due``) an outstanding loan ``owed`` (real USD) defaults where
    ``u < default_rate``: the offset (real USD, up to the plan balance) and the default."""
    d = due & (owed > 0) & (u < loans.default_rate)
    return np.where(d, np.minimum(owed, plan), 0.0), d


def calibrated_leakage(
    contributions: FloatArray,
    separation: BoolArray,
    working: BoolArray,
    ages: FloatArray,
    u_cash: FloatArray,
    u_hard: FloatArray,
    curve: CashOutCurve,
    hardship: HardshipRule,
    real_return: float,
    penalty: tuple[float, float],
    loans: tuple[PlanLoanRule, BoolArray, FloatArray] | None = None,
) -> LeakageDraw:
    """Cash-outs at separation, hardship withdrawals and (optionally) plan-loan defaults,
    (n, T) each (see the module).

    ``contributions`` real USD a year (paid at the end of each year); ``separation`` and
    ``working`` (n, T) booleans; ``ages`` (T,) years; ``u_cash``, ``u_hard`` the members'
    uniform draws (n, T); ``real_return`` the projection's real return (decimal a year);
    ``penalty`` the additional tax (rate, age before which a hardship withdrawal pays it);
    ``loans``: the rule, the job ends (n, T; a separation or a career break's start) and
    one uniform draw a member-year (n, T; a loan is taken, or defaults at a job end, where
    it is below the rate), or None (no loans). A cash-out takes the whole plan balance
    (:func:`projected_balances`; after a loan offset), a hardship withdrawal its asked
    amount up to the plan balance less the loan outstanding. The loop is over years (the
    balances carry over), vectorised over members.
    """
    n, n_t = contributions.shape
    share = np.zeros((n, n_t))
    cashed = np.zeros((n, n_t), dtype=bool)
    hard = np.zeros((n, n_t), dtype=bool)
    on_loan, due, defaulted = (np.zeros((n, n_t), dtype=bool) for _ in range(3))
    asked = hardship.amounts(u_hard)
    g = 1.0 + real_return
    plan, rolled = np.zeros(n), np.zeros(n)
    instal, left = np.zeros(n), np.zeros(n)  # the loan's real instalment, years to pay
    for t in range(n_t):
        sep = separation[:, t]
        offset = np.zeros(n)
        if loans is not None:
            rule, ends, u = loans
            owed = instal * left
            due[:, t] = ends[:, t] & (owed > 0)
            offset, defaulted[:, t] = _loan_start(rule, owed, plan, ends[:, t], u[:, t])
            left = np.where(ends[:, t], 0.0, left)  # defaulted, or repaid at the job end
        free = plan - offset if loans is not None else plan
        has = free > 0
        cash = sep & has & (u_cash[:, t] < curve.probability(free, ages[t]))
        # A hardship withdrawal is from the current plan: none in a separation year.
        room = free - instal * left if loans is not None else free
        h = working[:, t] & ~sep & (room > 0) & (asked[:, t] > 0)
        taken = np.where(cash, free, np.where(h, np.minimum(asked[:, t], room), 0.0))
        if loans is not None:
            taken = taken + offset
            new = working[:, t] & ~ends[:, t] & ~h & (left <= 0) & (u[:, t] < rule.rate)
            new &= plan > 0
            instal = np.where(new, rule.amounts(plan) / rule.term_years, instal)
            left = np.where(new, rule.term_years, left)
            on_loan[:, t] = left > 0
            # Payroll repayment at the year's end while employed; settled when work stops.
            left = np.where(working[:, t], np.maximum(left - 1.0, 0.0), 0.0)
        total = plan + rolled
        share[:, t] = np.where(taken > 0, taken / np.where(total > 0, total, 1.0), 0.0)
        cashed[:, t], hard[:, t] = cash, h
        plan, rolled = _advance(plan, rolled, taken, sep, contributions[:, t], g)
    rate, age = penalty
    at_end = (cashed | defaulted) & (ages[None, :] < min(RULE_OF_55_AGE, age))
    taxed = at_end | (hard & (ages[None, :] < age))
    extra = (on_loan, due, defaulted) if loans is not None else (None, None, None)
    return LeakageDraw(share, cashed, hard, np.where(taxed, rate, 0.0), *extra)
