"""One definition of the plan's cash-flow rules, as per-period schedules.

:func:`cash_flow_rules` turns a :class:`~backtest.plan.Plan` (ages, contributions,
withdrawal rule, fees, costs, RMD settings) into one named, typed structure,
:class:`CashFlowRules`. Every engine reads it: the numpy simulator
(``backtest.simulate``), its compiled twin (``backtest.kernel``, which takes the structure
as it is: a ``NamedTuple`` of numbers and arrays is a numba type), the balance-level
account model (``backtest.account``) and the SCP forward model in ``optimize.glidepath``.
How an amount is sized (the ConstantReal base, withdrawal timing) is decided here once,
the contribution rule (salary, match, limits, catch-up) in
``backtest.plan.contribution_amounts``; the engines only apply them period by period.
The scalar reference simulator in the tests restates the rules on purpose, to disagree
when this module is wrong.

Units: amounts are **real USD of the simulation's start date per period** (not per year);
rates are decimal **per period** where a name ends in ``_per_period``, else annual as in
``Plan``. Per-period schedules have shape ``(n_periods,)`` (one member) or
``(n_scenarios, n_periods)`` (a member per scenario, e.g. a population; see
:meth:`CashFlowRules.with_schedules`).

How each schedule enters a period ``t`` (order of events in ``backtest.simulate``):

* ``leakage[t]``: at the very start of the period, that share of the balance is cashed
  out (a job-change cash-out or a hardship withdrawal before retirement), sold pro rata
  and reported as its own flow. Zero from the retirement period on.
* ``contributions[t]``: paid in at the start or the end of the period
  (``contributions_at_start``), buying the target mix. Zero from retirement on.
* ``spending[t]``: the ConstantReal withdrawal of the period: real USD
  (``spending_per_unit_of_balance=False``, the ``amount=`` rule) or per USD of the
  balance at retirement (``True``, the ``rate=`` rule). With ``spending_indexed=False``
  the amount is fixed in nominal dollars from retirement: a payment at the start of
  period ``t`` is worth ``price[t_ret] / price[t]`` of its real value at retirement, one
  at the end ``price[t_ret] / price[t + 1]`` (a nominal dollar is the same dollar
  whenever it is paid).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from backtest.errors import PlanError
from backtest.plan import (
    ConstantReal,
    FixedPercent,
    GuytonKlinger,
    Plan,
    RequiredMinimum,
)
from backtest.types import FloatArray
from strategies.base import Schedule

#: Withdrawal-rule codes (the compiled kernel branches on them).
W_NONE, W_CONSTANT, W_PERCENT, W_GUYTON, W_RMD = 0, 1, 2, 3, 4

#: Ruin tolerance: a withdrawal counts as paid in full when the shortfall is at most this
#: share of it (float round-off only; relative, so the rule is the same at every scale of
#: money). Every engine that records ruin on a withdrawal reads it from here.
PAID_RTOL = 1e-10


class CashFlowRules(NamedTuple):
    """A plan's cash flows period by period, and its withdrawal rule's parameters.

    A ``NamedTuple`` (immutable, every field named and typed) so the numba kernel can
    take it as one argument. Build it with :func:`cash_flow_rules`; change a member's
    schedules with :meth:`with_schedules` (which validates them).

    Attributes
    ----------
    periods_per_year
        1 (annual) or 12 (monthly).
    n_periods
        Periods simulated, ``T``.
    retirement_period
        First period of retirement (``T`` when the plan never retires in the horizon).
    ages
        Age in years at the start of each period, (T,).
    end_age
        Age at the end of the plan, years.
    initial_balance
        Balance at the start age, real USD.
    contributions
        Employee + employer contributions, real USD per period, (T,) or (n, T); zero from
        ``retirement_period`` on.
    contributions_at_start
        True: contributions flow at the start of each period; False: at its end.
    leakage
        Share of the balance cashed out at the start of each period, decimal in [0, 1],
        (T,) or (n, T); zero from ``retirement_period`` on.
    withdrawal_code
        ``W_NONE``, ``W_CONSTANT``, ``W_PERCENT``, ``W_GUYTON`` or ``W_RMD``.
    start_fraction
        Share of each withdrawal paid at the start of the period (1 ``"start"``, 0
        ``"end"``, 0.5 ``"split"``); the rest is paid at its end.
    spending
        ConstantReal withdrawal per period, (T,) or (n, T): real USD, or per USD of the
        balance at retirement when ``spending_per_unit_of_balance``; zero before
        retirement and for other rules.
    spending_per_unit_of_balance
        The rate-or-amount flag of ConstantReal: True for ``rate=`` (spending is a share
        of the balance at retirement), False for ``amount=``.
    spending_indexed
        True: spending is real (raised with inflation); False: fixed in nominal dollars
        from retirement.
    rate
        Annual decimal rate of FixedPercent (share of the current balance) or the
        initial rate of GuytonKlinger; 0 otherwise.
    gk_upper_guard, gk_lower_guard, gk_adjustment, gk_preservation_off_years
        GuytonKlinger's guards (multiples of the initial rate), the size of a cut or
        raise (decimal) and the final years without the capital-preservation rule.
    pre_table_rate
        RequiredMinimum: annual share withdrawn before the Uniform Lifetime Table starts.
    rmd_floor
        True: every withdrawal is at least the required minimum distribution from
        ``rmd_start_age``; the excess over the rule's amount is paid out and counts as
        spent income (not reinvested).
    rmd_start_age
        Age the RMD floor starts, years: ``Plan.rmd_start_age``, which is the statutory
        :func:`backtest.plan.first_rmd_age` when the plan gives ``birth_year``.
    fee_per_period
        Fees, decimal of the balance per period (``expense_ratio / periods_per_year``).
    cost_per_traded
        Transaction cost per USD traded (``transaction_cost_bps / 1e4``).
    """

    periods_per_year: int
    n_periods: int
    retirement_period: int
    ages: FloatArray
    end_age: float
    initial_balance: float
    contributions: FloatArray
    contributions_at_start: bool
    leakage: FloatArray
    withdrawal_code: int
    start_fraction: float
    spending: FloatArray
    spending_per_unit_of_balance: bool
    spending_indexed: bool
    rate: float
    gk_upper_guard: float
    gk_lower_guard: float
    gk_adjustment: float
    gk_preservation_off_years: float
    pre_table_rate: float
    rmd_floor: bool
    rmd_start_age: float
    fee_per_period: float
    cost_per_traded: float

    @property
    def n_members(self) -> int | None:
        """Rows of the per-scenario schedules, or ``None`` when all are shared (T,)."""
        for x in (self.contributions, self.leakage, self.spending):
            if x.ndim == 2:
                return int(x.shape[0])
        return None

    @property
    def has_leakage(self) -> bool:
        """True when some period cashes part of the balance out."""
        return bool(np.any(self.leakage > 0))

    @property
    def nominal_spending(self) -> bool:
        """True when the withdrawal is a fixed nominal amount (ConstantReal, not indexed)."""
        return self.withdrawal_code == W_CONSTANT and not self.spending_indexed

    def with_schedules(
        self,
        *,
        contributions: FloatArray | None = None,
        spending: FloatArray | None = None,
        leakage: FloatArray | None = None,
    ) -> CashFlowRules:
        """A copy with some per-period schedules replaced, validated.

        Parameters
        ----------
        contributions
            Real USD per period, (T,) or (n_scenarios, T), >= 0, zero from retirement.
        spending
            ConstantReal withdrawal per period, (T,) or (n_scenarios, T), >= 0, zero
            before retirement; in the plan rule's unit (real USD for ``amount=``, per
            USD of the balance at retirement for ``rate=``). Needs a ConstantReal plan.
        leakage
            Share of the balance cashed out at the start of each period, (T,) or
            (n_scenarios, T), in [0, 1], zero from retirement.

        Raises
        ------
        PlanError
            A schedule of the wrong shape, with NaN, negative values, or flows in the
            wrong phase of life.
        """
        out = self
        t_ret = self.retirement_period
        if contributions is not None:
            c = _schedule("contributions", contributions, self.n_periods)
            if np.any(c < 0):
                raise PlanError("contributions must be >= 0 (real USD per period)")
            if np.any(c[..., t_ret:] != 0):
                raise PlanError(
                    f"contributions must be 0 from the retirement period {t_ret} on; "
                    "end them at retirement or move the retirement age"
                )
            out = out._replace(contributions=c)
        if spending is not None:
            if self.withdrawal_code != W_CONSTANT:
                raise PlanError(
                    "a spending schedule needs a ConstantReal withdrawal rule in the plan; "
                    "give the plan withdrawal=ConstantReal(...)"
                )
            s = _schedule("spending", spending, self.n_periods)
            if np.any(s < 0):
                raise PlanError("spending must be >= 0 per period")
            if np.any(s[..., :t_ret] != 0):
                raise PlanError(
                    f"spending must be 0 before the retirement period {t_ret}; "
                    "start it at retirement"
                )
            out = out._replace(spending=s)
        if leakage is not None:
            lk = _schedule("leakage", leakage, self.n_periods)
            if np.any((lk < 0) | (lk > 1)):
                raise PlanError("leakage must be a share of the balance in [0, 1] per period")
            if np.any(lk[..., t_ret:] != 0):
                raise PlanError(
                    f"leakage must be 0 from the retirement period {t_ret} on (withdrawals "
                    "in retirement belong to the withdrawal rule)"
                )
            out = out._replace(leakage=lk)
        rows = {x.shape[0] for x in (out.contributions, out.spending, out.leakage) if x.ndim == 2}
        if len(rows) > 1:
            raise PlanError(
                f"per-scenario schedules disagree on the number of scenarios: {sorted(rows)}"
            )
        return out


def _schedule(name: str, values: FloatArray, n_periods: int) -> FloatArray:
    x = np.array(values, dtype=np.float64)
    if x.ndim not in (1, 2) or x.shape[-1] != n_periods:
        raise PlanError(
            f"{name} has shape {x.shape}; expected ({n_periods},) or (n_scenarios, {n_periods})"
        )
    if not np.all(np.isfinite(x)):
        raise PlanError(f"{name} contains NaN or infinity")
    x.flags.writeable = False
    return x


def start_fraction(timing: str) -> float:
    """Share of a withdrawal paid at the start of its period, by timing."""
    return {"start": 1.0, "end": 0.0, "split": 0.5}[timing]


def cash_flow_rules(plan: Plan, periods_per_year: int) -> CashFlowRules:
    """Turn ``plan`` into per-period schedules and rule parameters.

    Parameters
    ----------
    plan
        The member, validated.
    periods_per_year
        1 (annual) or 12 (monthly); every age of the plan must fall on a period boundary.

    Returns
    -------
    CashFlowRules
        Shared schedules, shape (n_periods,): contributions and spending in real USD
        per period, no leakage.
    """
    ppy = int(periods_per_year)
    n_t = plan.check_periods(ppy)
    schedule = Schedule.from_ages(plan.start_age, plan.end_age, plan.retirement_age, ppy)
    ages = schedule.age_start
    t_ret = min(plan.retirement_period(ppy), n_t)
    retired = np.arange(n_t) >= t_ret
    contrib = np.zeros(n_t)
    c_rule = plan.contributions
    if c_rule is not None:
        employee, employer = c_rule.annual_amounts(ages, plan.start_age)
        contrib = np.where(retired, 0.0, (employee + employer) / ppy)
    w = plan.withdrawal
    code, rate, per_unit, indexed = W_NONE, 0.0, False, True
    gk = (0.0, 0.0, 0.0, 0.0)
    pre_rate = 0.0
    spending = np.zeros(n_t)
    if isinstance(w, ConstantReal):
        code, per_unit, indexed = W_CONSTANT, w.rate is not None, w.indexed
        annual = w.rate if w.rate is not None else float(w.amount)  # type: ignore[arg-type]
        spending = np.where(retired, annual / ppy, 0.0)
    elif isinstance(w, FixedPercent):
        code, rate = W_PERCENT, w.rate
    elif isinstance(w, GuytonKlinger):
        code, rate = W_GUYTON, w.initial_rate
        gk = (w.upper_guard, w.lower_guard, w.adjustment, w.preservation_off_years)
    elif isinstance(w, RequiredMinimum):
        code, pre_rate = W_RMD, w.pre_table_rate
    frozen = []
    for x in (ages, contrib, np.zeros(n_t), spending):
        x = np.array(x, dtype=np.float64)
        x.flags.writeable = False
        frozen.append(x)
    return CashFlowRules(
        periods_per_year=ppy,
        n_periods=n_t,
        retirement_period=t_ret,
        ages=frozen[0],
        end_age=float(plan.end_age),
        initial_balance=float(plan.initial_balance),
        contributions=frozen[1],
        contributions_at_start=c_rule is not None and c_rule.timing == "start",
        leakage=frozen[2],
        withdrawal_code=code,
        start_fraction=start_fraction(w.timing) if w is not None else 0.0,
        spending=frozen[3],
        spending_per_unit_of_balance=per_unit,
        spending_indexed=indexed,
        rate=float(rate),
        gk_upper_guard=float(gk[0]),
        gk_lower_guard=float(gk[1]),
        gk_adjustment=float(gk[2]),
        gk_preservation_off_years=float(gk[3]),
        pre_table_rate=float(pre_rate),
        rmd_floor=bool(plan.rmd_floor),
        rmd_start_age=float(plan.rmd_start_age),
        fee_per_period=plan.expense_ratio / ppy,
        cost_per_traded=plan.transaction_cost_bps / 1e4,
    )
