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
* **Plan loans** are not modelled (no loan defaults at separation).
* **The 10 % additional tax** (IRC sec. 72(t)): on a cash-out at separation before the
  year the member turns 55 (the rule of 55, sec. 72(t)(2)(A)(v)), and on a hardship
  withdrawal before ``penalty_age`` (59.5).
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


@dataclass(frozen=True)
class LeakageDraw:
    """The leakage of a population, (n, T) each.

    ``share``: share of the (whole) balance withdrawn at the start of each year
    (decimal); ``cashed_out``: a cash-out of the plan balance at a separation;
    ``hardship``: a hardship withdrawal; ``penalty_rate``: the additional-tax rate on that
    year's leakage.
    """

    share: FloatArray
    cashed_out: BoolArray
    hardship: BoolArray
    penalty_rate: FloatArray


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
) -> LeakageDraw:
    """Cash-outs at separation and hardship withdrawals, (n, T) each (see the module).

    ``contributions`` real USD a year (paid at the end of each year); ``separation`` and
    ``working`` (n, T) booleans; ``ages`` (T,) years; ``u_cash``, ``u_hard`` the members'
    uniform draws (n, T); ``real_return`` the projection's real return (decimal a year);
    ``penalty`` the additional tax (rate, age before which a hardship withdrawal pays it).
    A cash-out takes the whole plan balance (:func:`projected_balances`), a hardship
    withdrawal its asked amount up to the plan balance. The loop is over years (the
    balances carry over), vectorised over members.
    """
    n, n_t = contributions.shape
    share = np.zeros((n, n_t))
    cashed = np.zeros((n, n_t), dtype=bool)
    hard = np.zeros((n, n_t), dtype=bool)
    asked = hardship.amounts(u_hard)
    g = 1.0 + real_return
    plan, rolled = np.zeros(n), np.zeros(n)
    for t in range(n_t):
        sep, has = separation[:, t], plan > 0
        cash = sep & has & (u_cash[:, t] < curve.probability(plan, ages[t]))
        # A hardship withdrawal is from the current plan: none in a separation year.
        h = working[:, t] & ~sep & has & (asked[:, t] > 0)
        taken = np.where(cash, plan, np.where(h, np.minimum(asked[:, t], plan), 0.0))
        total = plan + rolled
        share[:, t] = np.where(taken > 0, taken / np.where(total > 0, total, 1.0), 0.0)
        cashed[:, t], hard[:, t] = cash, h
        plan, rolled = _advance(plan, rolled, taken, sep, contributions[:, t], g)
    rate, age = penalty
    taxed = (cashed & (ages[None, :] < min(RULE_OF_55_AGE, age))) | (hard & (ages[None, :] < age))
    return LeakageDraw(share, cashed, hard, np.where(taxed, rate, 0.0))
