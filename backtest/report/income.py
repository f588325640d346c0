"""A tear sheet's income figures: what the member is paid, not only whether it lasts.

One :class:`IncomeRow` per strategy, from its simulation on the page's Monte Carlo set
(:func:`income_row`): success with its standard error, the certainty-equivalent (CE) of
real retirement income at the risk aversions of :data:`backtest.outcomes.RISK_AVERSIONS`,
mean unpaid years given failure, the bequest, the safe withdrawal rate (age-only
strategies) and, with a pension target, replacement-ratio percentiles and the probability
of reaching the target. :func:`glide_label` says whether a glide path runs *to* its target
date (flat after it) or *through* it (still falling). Every figure comes from
:mod:`backtest.outcomes`; this module only chooses what is fed to it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import numpy as np

from backtest.outcomes import (
    REPLACEMENT_PERCENTILES,
    RISK_AVERSIONS,
    SAFE_WITHDRAWAL_FAILURE,
    bequest_percentiles,
    certainty_equivalent,
    max_sustainable_rates,
    mean_unpaid_years_given_failure,
    probability_of_reaching,
    replacement_percentiles,
    safe_withdrawal_rate,
    success_rate,
    unpaid_years,
)
from backtest.plan import FundedRatio, Plan
from backtest.report.model import GlideLabel, IncomeRow
from backtest.simulate import SimulationResult
from backtest.types import FloatArray
from strategies.base import Schedule, Strategy

#: Bequest percentiles the income table reports, in percent.
BEQUEST_PERCENTILES: tuple[int, ...] = (10, 50, 90)

#: Income floor, as a share of the median planned first-year withdrawal, used when the plan
#: states none: other income (Social Security, a pension) added to every retirement year's
#: withdrawals, so a year after ruin pays the floor, not 0 (CRRA needs income > 0). The
#: glide-path search and the DP add the same floor the same way (one CE definition).
FLOOR_SHARE = 0.10

#: Years before and after the target date at which :func:`glide_label` reads equity.
LABEL_YEARS = 25.0

#: Equity moves below this (decimal) after the target date count as flat: a "to" path.
FLAT_TOLERANCE = 0.005


def annual_income(res: SimulationResult) -> FloatArray:
    """Withdrawals paid in each retirement year, real USD a year, (n, years).

    Monthly periods are summed into years from the retirement age; a year after ruin pays 0.
    """
    ppy = res.schedule.periods_per_year
    paid = np.asarray(res.withdrawals, dtype=np.float64)[:, res.retirement_period :]
    years = paid.shape[1] // ppy
    return paid[:, : years * ppy].reshape(paid.shape[0], years, ppy).sum(axis=2)


def planned_income(res: SimulationResult) -> float:
    """Median planned first-year withdrawal over scenarios, real USD a year."""
    ppy = res.schedule.periods_per_year
    wanted = np.asarray(res.withdrawals_wanted, dtype=np.float64)
    first = wanted[:, res.retirement_period : res.retirement_period + ppy].sum(axis=1)
    return float(np.median(first)) if first.size else math.nan


def income_floor(runs: Iterable[SimulationResult]) -> float:
    """The floor the CE uses when the plan states none: :data:`FLOOR_SHARE` of the median
    over ``runs`` (a page's strategies) of :func:`planned_income`, real USD a year (1 USD
    when nothing is planned)."""
    planned = [p for r in runs if math.isfinite(p := planned_income(r)) and p > 0]
    return FLOOR_SHARE * float(np.median(planned)) if planned else 1.0


def income_ce(incomes: FloatArray, floor: float) -> dict[float, float]:
    """CE of ``floor + income`` at each of :data:`RISK_AVERSIONS`, real USD a year.

    ``incomes`` (n, years) the withdrawals paid, real USD a year; ``floor`` the other income
    of every year (real USD a year, > 0); every scenario and year weighs alike.
    """
    total = floor + np.asarray(incomes, dtype=np.float64)
    return {g: float(certainty_equivalent(total, g)) for g in RISK_AVERSIONS}


def age_only(strategy: Strategy) -> bool:
    """True when the strategy's weights depend on age alone (a glide path a fund can hold)."""
    return not strategy.depends_on_returns and strategy.smoothing is None


def retirement_real_returns(res: SimulationResult) -> FloatArray:
    """Real portfolio returns per retirement period after fees, decimal, (n, T_ret)."""
    ppy = res.schedule.periods_per_year
    infl = res.price_index[:, 1:] / res.price_index[:, :-1]
    fee = res.plan.expense_ratio / ppy
    real = (1.0 + res.portfolio_returns) / infl * (1.0 - fee) - 1.0
    return np.asarray(real[:, res.retirement_period :], dtype=np.float64)


def _final_salary(plan: Plan) -> float:
    assert plan.contributions is not None
    service = plan.retirement_age - plan.start_age
    return float(plan.contributions.salary_at(np.array([max(service - 1.0, 0.0)]))[0])


def income_row(
    res: SimulationResult,
    strategy: Strategy,
    floor: float,
    target: FundedRatio | None = None,
) -> IncomeRow:
    """The income figures of one simulated strategy (:class:`IncomeRow`).

    ``floor`` is the other income (real USD a year) the CE adds to every retirement year;
    ``target`` a pension target whose annuity prices the balance at retirement as income
    for the replacement ratio (balance / annuity factor / final salary).
    """
    ok = success_rate(res.success)
    ppy = res.schedule.periods_per_year
    unpaid = unpaid_years(res.withdrawals_wanted, res.withdrawals, ppy)
    cond = mean_unpaid_years_given_failure(unpaid)
    beq = bequest_percentiles(res.terminal_wealth, None, BEQUEST_PERCENTILES)
    swr: dict[float, float] = {}
    real = retirement_real_returns(res)
    if age_only(strategy) and real.shape[1] > 0:
        rates = max_sustainable_rates(real, ppy)
        swr = {p: safe_withdrawal_rate(rates, p) for p in SAFE_WITHDRAWAL_FAILURE}
    repl: dict[int, float] = {}
    reach, reach_se = math.nan, math.nan
    plan = res.plan
    if target is not None and plan.contributions is not None:
        tplan = _with_success(plan, target)
        salary = _final_salary(tplan)
        ratio = res.wealth_at_retirement / tplan.annuity_factor() / salary
        repl = dict(
            zip(REPLACEMENT_PERCENTILES, map(float, replacement_percentiles(ratio)), strict=True)
        )
        goal = tplan.target_income() / salary * target.threshold
        hit = probability_of_reaching(ratio, goal - 1e-12)
        reach, reach_se = hit.rate, hit.se
    return IncomeRow(
        name=strategy.name,
        success=ok.rate,
        success_se=ok.se,
        n=ok.n,
        ce=income_ce(annual_income(res), floor),
        unpaid_given_failure=cond.years,
        unpaid_given_failure_se=cond.se,
        n_failed=cond.n_failed,
        bequest=dict(zip(BEQUEST_PERCENTILES, map(float, beq), strict=True)),
        safe_withdrawal=swr,
        replacement=repl,
        reach_target=reach,
        reach_target_se=reach_se,
    )


def _with_success(plan: Plan, target: FundedRatio) -> Plan:
    return dataclasses.replace(plan, success=target)


def glide_label(
    strategy: Strategy, target_age: float, equity_assets: tuple[str, ...]
) -> GlideLabel | None:
    """``"to"`` or ``"through"`` and the equity share 25 years before, at and after the
    target date, from the strategy's own weights; ``None`` when they do not depend on age
    only, the strategy holds none of ``equity_assets`` or its equity never moves (a fixed
    mix). A path whose equity rises after the target date (a bond tent) is labelled
    ``"rising after"``."""
    cols = [i for i, a in enumerate(strategy.assets) if a in equity_assets]
    if not age_only(strategy) or not cols:
        return None
    start = max(target_age - LABEL_YEARS, 0.0)
    sched = Schedule.from_ages(start, target_age + LABEL_YEARS + 1.0, target_age, 1)
    zeros = np.zeros((1, sched.n_periods, len(strategy.assets)))
    w = np.asarray(strategy.target_weights(sched, zeros), dtype=np.float64)[0]
    equity = w[:, cols].sum(axis=1)
    ages = sched.age_start

    def at(age: float) -> float:
        return float(equity[int(np.argmin(np.abs(ages - age)))])

    if float(np.ptp(equity)) <= FLAT_TOLERANCE:
        return None  # a fixed mix: no glide path to label
    after = equity[ages >= target_age - 1e-9]
    if float(np.max(np.abs(after - after[0]))) <= FLAT_TOLERANCE:
        label = "to"
    elif after[-1] < after[0]:
        label = "through"
    else:
        label = "rising after"
    points = (target_age - LABEL_YEARS, target_age, target_age + LABEL_YEARS)
    return GlideLabel(strategy.name, label, {a: at(a) for a in points})


__all__ = [
    "BEQUEST_PERCENTILES",
    "FLAT_TOLERANCE",
    "FLOOR_SHARE",
    "LABEL_YEARS",
    "age_only",
    "annual_income",
    "glide_label",
    "income_ce",
    "income_floor",
    "income_row",
    "planned_income",
    "retirement_real_returns",
]
