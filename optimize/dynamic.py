"""Adaptive glide paths by dynamic programming: weights by age and real wealth.

Model
-----
Annual decisions. The state at the start of plan year ``t`` is the member's real wealth
``W`` (USD of the plan's start date), before that year's flows. With the plan's flows
(``cs``/``ce`` contributions at the start/end, ``ws``/``we`` the constant-real
withdrawal's start/end shares), the year runs exactly as in ``backtest.simulate``::

    B  = W + cs[t] - ws[t]                         (ruin in t if B < 0)
    W' = B * (w . g) * (1 - fee) + ce[t] - we[t]   (ruin in t if W' < 0)

where ``w`` are the weights chosen at the start of the year and ``g`` the assets' real
gross returns (``(1 + r) / (1 + inflation)``) of the year. Ruin is absorbing (the account
stays empty and every later withdrawal goes unpaid).

Return model: ``g`` is drawn **i.i.d.** each year from a discrete one-period
distribution (:class:`ReturnModel`): the empirical joint distribution of a history's
years (every year equally likely, all assets and inflation together), or Gauss-Hermite
nodes of a lognormal. The state holds no past returns, so serial dependence (momentum,
mean reversion of stocks over long horizons, inflation regimes) is **not** captured: a
policy solved here is optimal for the i.i.d. model only. Its value on block-bootstrap
scenarios and historical cohorts, which keep the history's serial dependence, differs;
:mod:`optimize.adaptive_eval` measures by how much.

Objective (:class:`Objective`), maximised: ``success`` x [the money lasts to the end
age] - ``shortfall`` x [years of spending left unpaid] + ``wealth`` x
``log(1 + W_T / wealth_scale)`` (a concave bequest term, for the trade-off against
terminal wealth), or a CRRA utility of terminal wealth alone (the Merton check), or
(:func:`income_ce`, issue 23) the expected discounted utility of real retirement income:
each retirement year alive pays ``floor + paid_t`` (``paid_t`` the withdrawal the account
pays, in part in the year of ruin, 0 after), valued by
``backtest.outcomes.income_utility`` with the member's ``IncomePreferences``, plus the
warm-glow ``bequest_utility`` of the wealth left at death (or at the end age); reported as
a certainty-equivalent income, USD a year (:class:`IncomeValuation`). The success
objective gambles when underfunded (any chance of reaching the goal beats a smaller
shortfall); the CE objective weighs how deep a failure is. With ``survival`` (one-year
survival probabilities by age) the member may die during the plan: money left at death
counts as success, and unpaid years count only while alive.

Solution: backward induction. The value ``U[t](B)`` is tabulated on a grid of the
balance after the start-of-year flows (``n_states`` nodes, default 401, from 0, spaced evenly in
``log(1 + B / c)`` with ``c`` one year of the plan's flows, up to 1.5x the 99.9th
percentile of an all-equity forward simulation), so the ruin boundary ``B = 0`` is a
grid edge and never interpolated across. For every node and every candidate weight
vector on a simplex grid of step ``weight_step`` (51 for two assets at 0.02, 231 for
three at 0.05) the expectation over the return outcomes is a dot product of linearly
interpolated ``U[t + 1]`` values, all in one numpy expression per year. Ties (e.g. where
success is certain whatever is held) go to the candidate with the lowest variance.
Cost per year: ``n_states x n_candidates x n_outcomes`` interpolations. The success
objectives run in the compiled kernel (:mod:`optimize.dp_kernel`); CRRA and CE on numpy.

The CE objective interpolates its value in the certainty-equivalent transform ``e =
v^-1(U / weight)`` (the income whose utility, over the discounted years still to come,
is the value), not in the value itself: at gamma 5 with a floor of 10 % of the
withdrawal, ``v(floor)`` is about -3,660 where ``v`` of floor + withdrawal (the scale)
is 0, so the value of the nodes near ruin swings by thousands across a few nodes, while
``e`` stays of the order of incomes (and is exactly linear in wealth in the homothetic
bequest-only case, which recovers Merton's fraction, as the CRRA branch does). Above the grid ``e`` is
extrapolated linearly. The promise's grid bias, measured on a 30-year retiree: +1.3 %
at 101 nodes, +0.3 % at 201, under 0.1 % at 401.

Trading costs: the Bellman recursion leaves them out (pricing them needs the drifted
holdings in the state). The forward simulation (``backtest.simulate``) charges them on
the policy's real turnover, which the evaluation reports.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtest.account import AccountFlows, run_balances
from backtest.cashflows import W_CONSTANT, W_NONE, cash_flow_rules
from backtest.errors import DataError, PlanError
from backtest.outcomes import (
    IncomePreferences,
    bequest_utility,
    income_utility,
    inverse_income_utility,
)
from backtest.plan import MoneyLasts, Plan
from backtest.report.income import FLOOR_SHARE
from backtest.scenarios import Scenarios
from backtest.types import FloatArray, IntArray
from optimize import dp_kernel
from optimize.baselines import MapFn
from optimize.glidepath import DEFAULT_EQUITY_ASSETS, OptimizationError
from strategies.adaptive import AdaptivePolicy, StateKind

RngLike = np.random.Generator | int | None


# --------------------------------------------------------------------------- return model


@dataclass(frozen=True)
class ReturnModel:
    """A discrete one-year distribution of returns, drawn i.i.d. every year.

    Attributes
    ----------
    assets
        Asset names, one per column of ``nominal``.
    nominal
        Decimal simple nominal annual returns of each outcome, (n_outcomes, n_assets).
    inflation
        Decimal CPI change of each outcome, (n_outcomes,).
    prob
        Probability of each outcome, (n_outcomes,), summing to 1.
    description
        How the model was made (goes into reports).
    """

    assets: tuple[str, ...]
    nominal: FloatArray
    inflation: FloatArray
    prob: FloatArray
    description: str = ""

    def __post_init__(self) -> None:
        r = np.array(self.nominal, dtype=np.float64)
        i = np.array(self.inflation, dtype=np.float64)
        p = np.array(self.prob, dtype=np.float64)
        if r.ndim != 2 or r.shape[1] != len(self.assets) or r.shape[0] < 1:
            raise DataError(
                f"ReturnModel.nominal must be (n_outcomes, {len(self.assets)}); got {r.shape}"
            )
        if i.shape != (r.shape[0],) or p.shape != (r.shape[0],):
            raise DataError("ReturnModel.inflation and prob need one entry per outcome")
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(i))) or r.min() <= -1:
            raise DataError("ReturnModel returns must be finite decimals above -100 %")
        if p.min() < 0 or abs(p.sum() - 1.0) > 1e-9:
            raise DataError(f"ReturnModel.prob must be >= 0 and sum to 1; sums to {p.sum():.6g}")
        for name, a in (("nominal", r), ("inflation", i), ("prob", p)):
            a.flags.writeable = False
            object.__setattr__(self, name, a)
        object.__setattr__(self, "assets", tuple(self.assets))

    @property
    def n_outcomes(self) -> int:
        return int(self.prob.size)

    @property
    def real_gross(self) -> FloatArray:
        """Real gross return of each outcome, ``(1 + r) / (1 + inflation)``, (n_outcomes, A)."""
        return (1.0 + self.nominal) / (1.0 + self.inflation)[:, None]

    def select(self, assets: Sequence[str]) -> ReturnModel:
        """The same outcomes restricted to (and ordered as) ``assets``."""
        missing = [a for a in assets if a not in self.assets]
        if missing:
            raise DataError(f"assets {missing} are not in the return model {self.assets}")
        idx = [self.assets.index(a) for a in assets]
        return ReturnModel(
            tuple(assets), self.nominal[:, idx], self.inflation, self.prob, self.description
        )

    def sample(self, n_scenarios: int, n_years: int, rng: RngLike = None) -> Scenarios:
        """Fresh i.i.d. annual scenarios drawn from this distribution (nominal + inflation)."""
        g = np.random.default_rng(rng)
        k = g.choice(self.n_outcomes, size=(n_scenarios, n_years), p=self.prob)
        return Scenarios(
            returns=self.nominal[k],
            inflation=self.inflation[k],
            assets=self.assets,
            frequency="annual",
            description=f"i.i.d. draws from {self.description}",
        )


def empirical_model(
    history: pd.DataFrame, assets: Sequence[str], inflation_column: str = "cpi"
) -> ReturnModel:
    """Every year of an annual ``history`` (nominal returns and CPI) as an equally likely outcome.

    Rows with a missing value in ``assets`` or ``inflation_column`` are an error: restrict
    the history to years where every asset has data.
    """
    cols = [*assets, inflation_column]
    missing = [c for c in cols if c not in history.columns]
    if missing:
        raise DataError(f"history has no column(s) {missing}; available {list(history.columns)}")
    frame = history[cols].astype(np.float64)
    if frame.isna().to_numpy().any():
        raise DataError(
            "the history has missing values for the chosen assets; restrict it to years "
            "where every asset has data (load_history(..., start=...))"
        )
    n = len(frame)
    first, last = frame.index[0], frame.index[-1]
    span = f"{getattr(first, 'year', first)}-{getattr(last, 'year', last)}"
    return ReturnModel(
        assets=tuple(assets),
        nominal=frame[list(assets)].to_numpy(),
        inflation=frame[inflation_column].to_numpy(),
        prob=np.full(n, 1.0 / n),
        description=f"empirical joint distribution of {n} years {span} ({', '.join(assets)})",
    )


def lognormal_model(
    assets: Sequence[str], mean_log: Sequence[float], cov_log: FloatArray, nodes: int = 9
) -> ReturnModel:
    """Real annual returns with ``log(1 + r) ~ Normal(mean_log, cov_log)``, zero inflation,
    discretised on a tensor grid of ``nodes`` Gauss-Hermite points per asset."""
    mu = np.asarray(mean_log, dtype=np.float64)
    cov = np.asarray(cov_log, dtype=np.float64)
    n_a = mu.size
    if cov.shape != (n_a, n_a) or len(assets) != n_a:
        raise DataError(f"lognormal_model: need {n_a} names and a {n_a}x{n_a} covariance")
    x, w = np.polynomial.hermite_e.hermegauss(nodes)  # weight exp(-x^2 / 2)
    w = w / w.sum()
    grid = np.array(list(itertools.product(x, repeat=n_a)))
    prob = np.prod(np.array(list(itertools.product(w, repeat=n_a))), axis=1)
    chol = np.linalg.cholesky(cov)
    logs = mu + grid @ chol.T
    return ReturnModel(
        assets=tuple(assets),
        nominal=np.expm1(logs),
        inflation=np.zeros(prob.size),
        prob=prob,
        description=f"lognormal (log means {np.round(mu, 4).tolist()}), "
        f"{nodes}^{n_a} Gauss-Hermite nodes",
    )


# --------------------------------------------------------------------------- objective


@dataclass(frozen=True)
class Objective:
    """What the policy maximises (see the module docstring).

    Attributes
    ----------
    success
        Reward when the money lasts to the end age (or to death, with survival).
    shortfall
        Penalty per year of spending left unpaid (years counted from the year of ruin to
        the end age; with survival, the expected years alive).
    wealth
        Weight of ``log(1 + W_T / wealth_scale)`` of real terminal wealth (also of
        wealth left at death).
    wealth_scale
        Real USD; ``None`` = one year of the plan's spending (or contributions).
    crra_gamma
        If set, the objective is the CRRA utility of real terminal wealth alone,
        ``W^(1 - gamma) / (1 - gamma)`` (``log W`` at 1); for plans without withdrawals.
    preferences
        If set, the objective is the expected lifetime utility of real retirement income
        (the CE objective, :func:`income_ce`; the weights above are then unused).
    income_floor
        CE objective: real USD a year the member keeps in every retirement year on top of
        what the account pays (Social Security, a pension); ``None`` = ``FLOOR_SHARE``
        (10 %) of the planned withdrawal (``backtest.report.income``'s rule).
    reference_income
        CE objective with loss aversion: the reference income, real USD a year.
    """

    success: float = 1.0
    shortfall: float = 0.0
    wealth: float = 0.0
    wealth_scale: float | None = None
    crra_gamma: float | None = None
    preferences: IncomePreferences | None = None
    income_floor: float | None = None
    reference_income: float | None = None

    def __post_init__(self) -> None:
        for k in ("success", "shortfall", "wealth"):
            v = getattr(self, k)
            if not (np.isfinite(v) and v >= 0):
                raise OptimizationError(f"Objective.{k}={v!r} must be a number >= 0")
        if self.preferences is not None:
            self._check_ce()
        elif self.crra_gamma is None and self.success == self.shortfall == self.wealth == 0:
            raise OptimizationError("Objective: every weight is 0; e.g. Objective(success=1)")
        if self.crra_gamma is not None and not self.crra_gamma > 0:
            raise OptimizationError(f"Objective.crra_gamma={self.crra_gamma} must be > 0")
        if self.wealth_scale is not None and not self.wealth_scale > 0:
            raise OptimizationError(f"Objective.wealth_scale={self.wealth_scale} must be > 0")

    def _check_ce(self) -> None:
        if self.crra_gamma is not None:
            raise OptimizationError("Objective: set preferences or crra_gamma, not both")
        f = self.income_floor
        if f is not None and not (np.isfinite(f) and f >= 0):
            raise OptimizationError(f"Objective.income_floor={f!r} must be real USD >= 0")
        r = self.reference_income
        if r is not None and not (np.isfinite(r) and r > 0):
            raise OptimizationError(f"Objective.reference_income={r!r} must be real USD > 0")
        assert self.preferences is not None
        if self.preferences.loss_aversion and r is None:
            raise OptimizationError(
                "a CE objective with loss aversion needs reference_income (real USD a year, "
                "reference_replacement x the member's final salary)"
            )

    @property
    def is_ce(self) -> bool:
        """True for the expected-utility-of-income (CE) objective."""
        return self.preferences is not None

    @property
    def name(self) -> str:
        if self.preferences is not None:
            floor = (
                "10 % of the planned withdrawal"
                if self.income_floor is None
                else f"{self.income_floor:,.0f} USD a year"
            )
            return (
                f"maximise certainty-equivalent income ({self.preferences.label}; "
                f"income floor {floor})"
            )
        if self.crra_gamma is not None:
            return f"CRRA utility of terminal wealth (gamma {self.crra_gamma:g})"
        parts = []
        if self.success:
            parts.append(f"{self.success:g} x P(money lasts)")
        if self.shortfall:
            parts.append(f"- {self.shortfall:g} x E[unpaid years]")
        if self.wealth:
            parts.append(f"+ {self.wealth:g} x E[log(1 + W_T / scale)]")
        return "maximise " + " ".join(parts)


def max_success() -> Objective:
    """(a) Maximise the probability that the money lasts to the end age."""
    return Objective(success=1.0)


def min_shortfall() -> Objective:
    """(b) Minimise the expected number of years of spending left unpaid."""
    return Objective(success=0.0, shortfall=1.0)


def tradeoff(weight: float, against: str = "shortfall") -> Objective:
    """(c) Success traded against unpaid years (``"shortfall"``) or terminal wealth
    (``"wealth"``, a log bequest term); ``weight`` 0 is objective (a)."""
    if against == "shortfall":
        return Objective(success=1.0, shortfall=weight)
    if against == "wealth":
        return Objective(success=1.0, wealth=weight)
    raise OptimizationError(f"tradeoff against={against!r}; use 'shortfall' or 'wealth'")


def income_ce(
    preferences: IncomePreferences | None = None,
    floor: float | None = None,
    reference: float | None = None,
) -> Objective:
    """(e) Maximise the expected lifetime utility of real retirement income, reported as
    its certainty equivalent (USD a year): each retirement year alive pays ``floor`` (real
    USD a year; ``None`` = 10 % of the planned withdrawal) plus what the account pays,
    valued by ``preferences`` (default CRRA gamma 5); ``reference`` is the loss-aversion
    reference income (real USD a year)."""
    return Objective(
        success=0.0,
        preferences=preferences if preferences is not None else IncomePreferences(),
        income_floor=floor,
        reference_income=reference,
    )


# --------------------------------------------------------------------------- plan flows


@dataclass(frozen=True)
class YearFlows:
    """The plan's deterministic flows per plan year, real USD (annual steps).

    ``cs``/``ce``: contributions (employee + employer) at the start/end of the year;
    ``ws``/``we``: the start/end shares of the constant-real withdrawal.
    """

    ages: FloatArray
    cs: FloatArray
    ce: FloatArray
    ws: FloatArray
    we: FloatArray
    fee_factor: float
    initial_balance: float

    @property
    def n_years(self) -> int:
        return int(self.ages.size)

    @property
    def spending(self) -> FloatArray:
        return self.ws + self.we

    @property
    def contributions(self) -> FloatArray:
        return self.cs + self.ce


def year_flows(plan: Plan) -> YearFlows:
    """The flows the solver models, read from the plan's one definition of its cash-flow
    rules (``backtest.cashflows.cash_flow_rules``, which every engine reads), annual.

    Raises
    ------
    PlanError
        For plan features the state (wealth alone) cannot carry: withdrawals other than a
        fixed real amount, RMD floors, leakage, funded-ratio success.
    """
    if not isinstance(plan.success, MoneyLasts):
        raise PlanError(
            "the adaptive solver handles success='money lasts to the end age'; a funded-ratio "
            "goal is not supported yet: use optimize_glide_path for it"
        )
    rules = cash_flow_rules(plan, 1)
    constant_amount = (
        rules.withdrawal_code == W_CONSTANT
        and not rules.spending_per_unit_of_balance
        and rules.spending_indexed
    )
    if rules.withdrawal_code not in (W_NONE, W_CONSTANT) or (
        rules.withdrawal_code == W_CONSTANT and not constant_amount
    ):
        w = plan.withdrawal
        raise PlanError(
            f"the adaptive solver needs a constant real withdrawal of a stated amount "
            f"(ConstantReal(amount=..., rate=None)); {type(w).__name__} with these settings "
            "makes spending depend on the past (balance at retirement, inflation, guardrails, "
            "RMD), which the wealth state does not carry"
        )
    if rules.rmd_floor:
        raise PlanError("the adaptive solver does not model an RMD floor; set rmd_floor=False")
    if rules.has_leakage or rules.n_members is not None:
        raise PlanError("the adaptive solver models one member without leakage (cash-outs)")
    contrib = np.asarray(rules.contributions, dtype=np.float64)
    spend = np.asarray(rules.spending, dtype=np.float64)
    c_start = bool(rules.contributions_at_start)
    frac = float(rules.start_fraction)
    zero = np.zeros_like(contrib)
    return YearFlows(
        ages=np.asarray(rules.ages, dtype=np.float64),
        cs=contrib if c_start else zero,
        ce=zero if c_start else contrib,
        ws=frac * spend,
        we=(1.0 - frac) * spend,
        fee_factor=1.0 - float(rules.fee_per_period),
        initial_balance=float(rules.initial_balance),
    )


def present_values(flows: YearFlows, rate: float) -> tuple[FloatArray, FloatArray]:
    """PV at the start of each year of the spending and of the contributions still to come
    (that year's included), real USD, discounted at the real annual ``rate``."""
    n = flows.n_years
    k = np.arange(n)
    d = (1.0 + rate) ** -(k[None, :] - k[:, None]).astype(np.float64)
    later = k[None, :] >= k[:, None]
    end = 1.0 / (1.0 + rate)
    spend = ((flows.ws + end * flows.we)[None, :] * d * later).sum(axis=1)
    contrib = ((flows.cs + end * flows.ce)[None, :] * d * later).sum(axis=1)
    return spend, contrib


# --------------------------------------------------------------------------- CE valuation


@dataclass(frozen=True)
class IncomeValuation:
    """The CE objective's value of a plan's years (real USD, annual steps).

    Each plan year ``t`` the member is alive at its start she gets, in a retirement year
    (``retire[t]``: the plan asks for a withdrawal), the income ``c_t = floor + paid_t``
    (``paid_t`` the withdrawal the account pays, in part in the year of ruin, 0 after),
    valued by ``v = income_utility(., preferences, scale, reference)``; dying in year
    ``t`` (probability ``1 - survival[t]``), or reaching the plan's end, leaves the
    wealth ``W`` at the year's end, valued by ``bequest_utility``. The value of a path is

        sum_t d^t A_t retire_t v(c_t) + sum_t d^(t+1) A_t (1 - q_t) b(W_(t+1))
        + d^T A_T b(W_T)    (the last year: death and the end both leave W_T)

    with ``d = 1 / (1 + discount_rate)`` and ``A_t`` the probability of being alive at
    the start of year ``t``. Its certainty equivalent is the constant income ``CE`` with
    ``v(CE) * sum_t d^t A_t retire_t`` equal to the expected value: the convention of
    :func:`backtest.outcomes.preference_certainty_equivalent`. ``scale`` is a typical
    income (floor + planned withdrawal), so that CRRA utility is not flat in float64.
    """

    preferences: IncomePreferences
    floor: float
    scale: float
    reference: float | None
    retire: FloatArray
    survival: FloatArray

    @property
    def discount(self) -> float:
        """One year's discount factor ``1 / (1 + rho)``."""
        return 1.0 / (1.0 + self.preferences.discount_rate)

    @property
    def n_years(self) -> int:
        return int(self.retire.size)

    def period(self, income: FloatArray | float) -> FloatArray:
        """``v(c)`` of real incomes ``c`` (USD a year, > 0)."""
        return income_utility(income, self.preferences, self.scale, self.reference)

    def bequest(self, wealth: FloatArray | float) -> FloatArray:
        """Warm-glow value of real wealth left (USD; negative counts as 0)."""
        return bequest_utility(wealth, self.preferences, self.scale)

    def weights_from(self) -> tuple[FloatArray, FloatArray]:
        """``(L, Bq)``, (n_years + 1,) each: the discounted expected number of retirement
        years alive from year ``t`` on, and the discounted weight of the bequest term
        (``theta`` x probability), given alive at the start of ``t``; 0 at the end."""
        n, d, q = self.n_years, self.discount, self.survival
        theta = self.preferences.bequest_weight
        inc = np.zeros(n + 1)
        beq = np.zeros(n + 1)
        beq[n] = theta
        for t in range(n - 1, -1, -1):
            inc[t] = self.retire[t] + d * q[t] * inc[t + 1]
            beq[t] = d * (q[t] * beq[t + 1] + (1.0 - q[t]) * theta)
        return inc, beq

    def ruin_values(self) -> FloatArray:
        """Value from the start of year ``t`` with an empty account (floor only), (n + 1,)."""
        n, d, q = self.n_years, self.discount, self.survival
        r = np.empty(n + 1)
        r[n] = float(self.bequest(0.0))
        v_floor = float(self.period(self.floor)) if self.retire.any() else 0.0
        for t in range(n - 1, -1, -1):
            r[t] = self.retire[t] * v_floor + d * (q[t] * r[t + 1] + (1.0 - q[t]) * r[n])
        return r

    def to_income(self, value: FloatArray, t: int) -> FloatArray:
        """The certainty-equivalent transform of values from year ``t``: the income
        ``e`` with ``v(e) = value / (L_t + Bq_t)`` (USD a year). For CRRA it is linear
        in wealth where the utility is homothetic, so it interpolates far better than
        the value itself."""
        inc, beq = self.weights_from()
        total = inc[t] + beq[t]
        return inverse_income_utility(
            _inside_utility_range(np.asarray(value) / total, self.preferences.gamma),
            self.preferences,
            self.scale,
            self.reference,
        )

    def from_income(self, income: FloatArray, t: int) -> FloatArray:
        """Inverse of :meth:`to_income`."""
        inc, beq = self.weights_from()
        return (inc[t] + beq[t]) * self.period(income)

    def path_values(self, paid: FloatArray, wealth_end: FloatArray) -> FloatArray:
        """Value of each path from the plan's start (class doc), (n,).

        ``paid`` (n, T): withdrawals paid each year, real USD; ``wealth_end`` (n, T): real
        wealth at each year's end (after its end-of-year flows).
        """
        n_t, d, q = self.n_years, self.discount, self.survival
        alive = np.concatenate([[1.0], np.cumprod(q)[:-1]])
        disc = d ** np.arange(n_t, dtype=np.float64)
        w_inc = disc * alive * self.retire
        w_die = d * disc * alive * (1.0 - q)
        w_die[-1] = d * disc[-1] * alive[-1]  # the last year: death or the end, both leave W_T
        value = np.zeros(paid.shape[0])
        years = np.flatnonzero(w_inc > 0)
        if years.size:
            value += self.period(self.floor + np.maximum(paid[:, years], 0.0)) @ w_inc[years]
        if self.preferences.bequest_weight:
            value += self.bequest(wealth_end) @ w_die
        return value

    def certainty_equivalent(self, value: float) -> float:
        """The CE income of an expected value from the start, real USD a year."""
        inc, beq = self.weights_from()
        total = inc[0] if inc[0] > 0 else beq[0]
        v = _inside_utility_range(np.asarray(value / total), self.preferences.gamma)
        # reported CE: valued without the loss term, as backtest.outcomes defines it
        plain = IncomePreferences(gamma=self.preferences.gamma)
        return float(inverse_income_utility(v, plain, self.scale))

    def certainty_equivalent_se(self, values: FloatArray) -> tuple[float, float]:
        """CE income of the mean of per-path ``values`` and its standard error (delta
        method: the s.e. of the mean over the slope of ``L_0 v`` at the CE), USD a year."""
        x = np.asarray(values, dtype=np.float64)
        ce = self.certainty_equivalent(float(x.mean()))
        if x.size < 2:
            return ce, float("nan")
        inc, beq = self.weights_from()
        total = inc[0] if inc[0] > 0 else beq[0]
        slope = total * (ce / self.scale) ** (-self.preferences.gamma) / self.scale  # plain u'

        se = float(x.std(ddof=1) / np.sqrt(x.size))
        return ce, se / slope if slope > 0 else float("nan")


def _inside_utility_range(v: FloatArray, gamma: float) -> FloatArray:
    """Utilities clipped a hair inside CRRA's bound (``1 / (gamma - 1)`` above for gamma > 1,
    ``-1 / (1 - gamma)`` below for gamma < 1), which round-off can reach at huge wealth."""
    if gamma > 1.0 + 1e-9:
        return np.minimum(v, (1.0 - 1e-12) / (gamma - 1.0))
    if gamma < 1.0 - 1e-9:
        return np.maximum(v, -(1.0 - 1e-12) / (1.0 - gamma))
    return v


def income_valuation(
    flows: YearFlows, objective: Objective, survival: FloatArray | None = None
) -> IncomeValuation:
    """The CE objective's valuation of ``flows`` (its floor resolved, its scale chosen).

    Raises
    ------
    OptimizationError
        Not a CE objective, a zero floor where income is valued, or nothing valued.
    """
    prefs = objective.preferences
    if prefs is None:
        raise OptimizationError("income_valuation needs a CE objective (income_ce(...))")
    spend = flows.spending
    retire = (spend > 0).astype(np.float64)
    planned = float(spend[spend > 0][0]) if retire.any() else 0.0
    floor = objective.income_floor
    floor = FLOOR_SHARE * planned if floor is None else float(floor)
    if retire.any() and not floor > 0:
        raise OptimizationError(
            "the CE objective needs an income floor > 0 USD a year where the plan pays "
            "income (CRRA utility of 0 is minus infinity): set [optimize] income_floor"
        )
    if not retire.any() and prefs.bequest_weight == 0:
        raise OptimizationError(
            "the CE objective values retirement income and bequests; this plan has "
            "neither withdrawals nor a bequest weight ([optimize.preferences] bequest_weight)"
        )
    scale = floor + float(spend.max(initial=0.0))
    if scale <= 0:
        scale = max(flows.initial_balance, float(flows.contributions.sum()), 1.0)
    q = np.ones(flows.n_years) if survival is None else np.asarray(survival, dtype=np.float64)
    return IncomeValuation(prefs, floor, scale, objective.reference_income, retire, q)


# --------------------------------------------------------------------------- solver


@dataclass(frozen=True)
class AdaptiveResult:
    """What :func:`solve_adaptive` found.

    Attributes
    ----------
    policy
        The table (a strategy the simulator runs).
    value
        The value the solver promises from the plan's start (under ``objective``; for
        :func:`max_success` the probability that the money lasts, decimal).
    success_model
        Share of ``n_paths`` i.i.d. paths drawn from the model on which the policy's money
        lasts (the solver's own forward check, no trading costs).
    n_states, n_candidates, n_outcomes, n_years
        Grid sizes: wealth nodes per year, weight vectors tried, return outcomes, years.
    seconds
        Wall time of the backward induction (and the median-path pass).
    valuation
        The CE objective's :class:`IncomeValuation` (``None`` for the others).
    promised_ce
        CE objective: ``value`` as a certainty-equivalent income, real USD a year.
    ce_model, ce_model_se
        CE objective: the CE income of the ``n_paths`` i.i.d. model paths (the solver's
        own forward check) and its standard error, real USD a year.
    """

    policy: AdaptivePolicy
    value: float
    success_model: float
    objective: Objective
    model_description: str
    n_states: int
    n_candidates: int
    n_outcomes: int
    n_years: int
    weight_step: float
    seconds: float
    survival: bool
    valuation: IncomeValuation | None = None
    promised_ce: float = float("nan")
    ce_model: float = float("nan")
    ce_model_se: float = float("nan")

    @property
    def promised(self) -> float:
        """The promise in its reporting unit: CE income (USD a year) for the CE
        objective, else the DP value (a probability for :func:`max_success`)."""
        return self.promised_ce if self.valuation is not None else self.value


def weight_candidates(n_assets: int, step: float) -> FloatArray:
    """Every weight vector on the simplex with entries multiple of ``step``, (n, n_assets)."""
    m = round(1.0 / step)
    if n_assets < 1 or m < 1 or abs(m * step - 1.0) > 1e-9:
        raise OptimizationError(f"weight_step={step} must divide 1 (e.g. 0.02, 0.05)")
    if n_assets > 4:
        raise OptimizationError(f"the solver handles up to 4 assets; got {n_assets}")
    rows = [c for c in itertools.product(range(m + 1), repeat=n_assets - 1) if sum(c) <= m]
    k = np.array([[*c, m - sum(c)] for c in rows], dtype=np.float64)
    return k / m


def _survival(survival: FloatArray | None, n: int) -> FloatArray | None:
    if survival is None:
        return None
    q = np.asarray(survival, dtype=np.float64)
    if q.shape != (n,) or not np.all((q >= 0) & (q <= 1)):
        raise OptimizationError(
            f"survival must hold {n} one-year survival probabilities in [0, 1] (one per plan "
            f"year, from the start age); got shape {q.shape}"
        )
    return q


def alive_at_start(survival: FloatArray | None, n: int) -> FloatArray:
    """Probability of being alive at the start of each plan year given alive at the start, (n,)."""
    if survival is None:
        return np.ones(n)
    return np.concatenate([[1.0], np.cumprod(survival)[:-1]])


def _failure_values(obj: Objective, n: int, survival: FloatArray | None) -> FloatArray:
    """Value of ruin in year ``t`` (the member alive at its start), (n,)."""
    alive = alive_at_start(survival, n)
    # expected years alive from t to the end, given alive at t
    years_left = np.cumsum(alive[::-1])[::-1] / alive
    return -obj.shortfall * years_left


def _grids(
    flows: YearFlows,
    model: ReturnModel,
    n_states: int,
    wealth_max: float | None,
    lower: float,
    scale: float,
    rng: RngLike,
) -> FloatArray:
    """Balance grids after the start-of-year flows, (n_years, n_states)."""
    n = flows.n_years
    if wealth_max is not None:
        hi = np.full(n, float(wealth_max))
    else:
        # 99.9th percentile of an all-in-the-fastest-growing-asset forward pass, x 1.5
        g = model.real_gross
        best = int(np.argmax(model.prob @ np.log(g)))
        k = np.random.default_rng(rng).choice(model.n_outcomes, size=(4000, n), p=model.prob)
        w = np.full(4000, flows.initial_balance)
        hi = np.empty(n)
        for t in range(n):
            b = np.maximum(w + flows.cs[t] - flows.ws[t], 0.0)
            hi[t] = np.quantile(b, 0.999)
            w = np.maximum(b * g[k[:, t], best] * flows.fee_factor + flows.ce[t] - flows.we[t], 0)
        hi = np.maximum(1.5 * hi, 20.0 * scale)
    u = np.linspace(0.0, 1.0, n_states)
    top = np.log1p((hi - lower) / scale)
    return lower + scale * np.expm1(u[None, :] * top[:, None])


def _certainty_equivalent(u: FloatArray, gamma: float) -> FloatArray:
    """Wealth whose CRRA utility is ``u`` (the inverse of the terminal reward)."""
    return np.exp(u) if gamma == 1 else ((1 - gamma) * u) ** (1 / (1 - gamma))


def _interp_linear(x: FloatArray, xp: FloatArray, fp: FloatArray) -> FloatArray:
    """Linear interpolation of ``fp`` over ``xp`` at ``x``, extrapolated from the end cells."""
    j = np.clip(np.searchsorted(xp, x) - 1, 0, xp.size - 2)
    f = (x - xp[j]) / (xp[j + 1] - xp[j])
    return fp[j] + f * (fp[j + 1] - fp[j])


def _next(u_next: FloatArray | None) -> FloatArray:
    """``U[t + 1]``, which every year but the last reads."""
    if u_next is None:
        raise OptimizationError("internal: U[t + 1] missing before the last year")
    return u_next


@dataclass(frozen=True)
class _Bellman:
    """One backward induction's fixed inputs; its methods compute one year's expectations.

    ``port``: the candidates' real gross portfolio returns after fees, (n_candidates,
    n_outcomes), C-contiguous; ``fail``: the value of ruin by year (n_years,); ``scale``:
    the wealth scale of the bequest term, real USD.
    """

    flows: YearFlows
    grids: FloatArray
    port: FloatArray
    prob: FloatArray
    objective: Objective
    fail: FloatArray
    survival: FloatArray | None
    scale: float
    valuation: IncomeValuation | None = None

    def reward(self, y: FloatArray) -> FloatArray:
        """Value of ending (the plan's end, or death) with real wealth ``y``."""
        obj = self.objective
        if obj.crra_gamma is not None:
            gam = obj.crra_gamma
            y = np.maximum(y, 1e-300)
            return np.log(y) if gam == 1 else y ** (1 - gam) / (1 - gam)
        r = np.full(y.shape, obj.success)
        if obj.wealth:
            r += obj.wealth * np.log1p(np.maximum(y, 0.0) / self.scale)
        return r

    def expected_numpy(self, t: int, b: FloatArray, u_next: FloatArray | None) -> FloatArray:
        """Expected value of each (node, candidate) in year ``t`` from balances ``b``,
        (b.size, n_candidates), reading ``u_next = U[t + 1]`` on ``grids[t + 1]`` (unused
        in the last year): the array reference."""
        flows, grids, obj, fail = self.flows, self.grids, self.objective, self.fail
        n = grids.shape[0]
        q = None if self.survival is None else self.survival[t]
        y = b[:, None, None] * self.port[None] + (flows.ce[t] - flows.we[t])
        if t == n - 1:
            alive = self.reward(y)
        else:
            x = y + (flows.cs[t + 1] - flows.ws[t + 1])
            if obj.crra_gamma is not None:
                # interpolate the certainty equivalent, which is linear in wealth for
                # CRRA (so the Merton fraction is recovered exactly), extrapolated
                ce = _certainty_equivalent(_next(u_next), obj.crra_gamma)
                alive = self.reward(_interp_linear(x, grids[t + 1], ce))
            else:
                alive = np.interp(x, grids[t + 1], _next(u_next), left=fail[t + 1])
        if q is not None and t < n - 1:
            alive = q * alive + (1.0 - q) * self.reward(y)
        v = np.where(y < 0, fail[t], alive) if obj.crra_gamma is None else alive
        return v @ self.prob

    def expected_ce(self, t: int, b: FloatArray, u_next: FloatArray | None) -> FloatArray:
        """:meth:`expected_numpy` for the CE objective (:class:`IncomeValuation`): year
        ``t``'s income utility plus the discounted value of what follows,

            U_t(b) = E[ r_t v(floor + paid_t) + d (q_t U_(t+1)(x) + (1 - q_t) beq(y)) ]

        with ``y = b g + ce_t - we_t`` (ruin in ``t`` if < 0: the end withdrawal is paid
        in part, ``paid_t = spend_t + y``, and only the floor follows) and ``x = y +
        cs_(t+1) - ws_(t+1)`` (ruin at the start of ``t + 1`` if < 0: ``y + cs_(t+1)`` is
        paid that year, then the floor). ``U_(t+1)`` is interpolated linearly in its
        certainty-equivalent transform (:meth:`IncomeValuation.to_income`), extrapolated
        linearly above the grid."""
        val = self.valuation
        assert val is not None
        flows, grids = self.flows, self.grids
        n = grids.shape[0]
        d, q = val.discount, float(val.survival[t])
        ruin = val.ruin_values()
        y = b[:, None, None] * self.port[None] + (flows.ce[t] - flows.we[t])
        short = y < 0
        total = np.zeros(y.shape)
        if val.retire[t]:
            spend = flows.ws[t] + flows.we[t]
            total += float(val.period(val.floor + spend))
            if short.any():
                c = val.floor + spend + y[short]
                total[short] = val.period(np.maximum(c, val.floor))
        beq = val.bequest(y) if val.preferences.bequest_weight else np.zeros(y.shape)
        if t == n - 1:
            total += d * beq
        else:
            x = y + (flows.cs[t + 1] - flows.ws[t + 1])
            e_next = val.to_income(_next(u_next), t + 1)
            # linear in the transform, extrapolated from the top cell (as the CRRA branch:
            # homothetic utility makes it linear in wealth); below 0 is ruin, set next
            ahead = val.from_income(
                np.maximum(_interp_linear(x, grids[t + 1], e_next), e_next[0]), t + 1
            )
            start_short = (x < 0) & ~short
            if start_short.any():  # ruin at the next start: part of that year is paid
                paid = np.maximum(y[start_short] + flows.cs[t + 1], 0.0)
                q1 = float(val.survival[t + 1])
                rest = d * (q1 * ruin[t + 2] + (1.0 - q1) * ruin[n])
                ahead[start_short] = val.retire[t + 1] * val.period(val.floor + paid) + rest
            ahead[short] = ruin[t + 1]
            total += d * (q * ahead + (1.0 - q) * beq)
        return total @ self.prob

    def expected_compiled(self, t: int, b: FloatArray, u_next: FloatArray | None) -> FloatArray:
        """:meth:`expected_numpy` by :func:`optimize.dp_kernel.expected_values` (not CRRA)."""
        flows, grids, obj, fail = self.flows, self.grids, self.objective, self.fail
        n = grids.shape[0]
        q = None if self.survival is None else self.survival[t]
        ev = np.empty((b.size, self.port.shape[0]))
        dp_kernel.expected_values(
            np.ascontiguousarray(b),
            self.port,
            self.prob,
            float(flows.ce[t] - flows.we[t]),
            float(flows.cs[t + 1] - flows.ws[t + 1]) if t < n - 1 else 0.0,
            grids[min(t + 1, n - 1)],
            grids[n - 1] if u_next is None else u_next,  # not read in the last year
            float(fail[t]),
            float(fail[t + 1]) if t < n - 1 else 0.0,
            t == n - 1,
            1.0 if q is None else float(q),
            float(obj.success),
            float(obj.wealth),
            float(self.scale),
            ev,
        )
        return ev


@dataclass(frozen=True)
class _YearSolver:
    """What every chunk of every year needs (sent once per year to a backend):
    the Bellman inputs, which expectation to run and the candidates' risk order."""

    bellman: _Bellman
    kind: str  # "compiled", "numpy" or "ce"
    risk_order: IntArray

    def expected(self, t: int, b: FloatArray, u_next: FloatArray | None) -> FloatArray:
        """Expected value of each (node of ``b``, candidate) in year ``t``."""
        bm = self.bellman
        if self.kind == "ce":
            return bm.expected_ce(t, b, u_next)
        if self.kind == "compiled":
            return bm.expected_compiled(t, b, u_next)
        return bm.expected_numpy(t, b, u_next)


def _chunk_task(
    task: tuple[int, int, int, FloatArray | None], solver: _YearSolver
) -> tuple[IntArray, FloatArray]:
    """One chunk of year ``t``'s nodes ``lo:hi``: the chosen candidates and their values
    (a top-level function, so that a backend can ship it)."""
    t, lo, hi, u_next = task
    ev = solver.expected(t, solver.bellman.grids[t, lo:hi], u_next)
    choice = np.empty(hi - lo, dtype=np.int64)
    u = np.empty(hi - lo)
    _choose(ev, solver.bellman.objective, solver.risk_order, choice, u)
    return choice, u


def _chunk_size(n_b: int, port_size: int, compiled: bool, chunk_nodes: int | None) -> int:
    """Wealth nodes per chunk: ``chunk_nodes``, else all of them for the compiled kernel and
    about 4 million (node, candidate, outcome) values for numpy. Never the number of
    workers: the tasks are the same on every backend (and the answer does not depend on
    the chunking either, every node's expectation being computed alone:
    tests/optimize/test_dynamic_backend.py)."""
    if chunk_nodes is not None:
        if int(chunk_nodes) < 1:
            raise OptimizationError(f"chunk_nodes={chunk_nodes} must be >= 1 (e.g. 50)")
        return int(chunk_nodes)
    return n_b if compiled else max(1, 4_000_000 // (port_size or 1))


def backward_induction(
    flows: YearFlows,
    grids: FloatArray,
    candidates: FloatArray,
    model: ReturnModel,
    objective: Objective,
    survival: FloatArray | None,
    scale: float,
    risk_order: IntArray,
    engine: str = "numba",
    *,
    map_fn: MapFn | None = None,
    chunk_nodes: int | None = None,
) -> tuple[FloatArray, IntArray]:
    """Value ``U[t]`` on ``grids[t]`` and the chosen candidate at every node.

    Returns ``(U, choice)``, (n_years, n_states) each. See the module docstring.
    ``engine="numba"`` computes the expectations with :mod:`optimize.dp_kernel` (not for
    CRRA or CE); ``"numpy"`` with array expressions (the reference). ``map_fn`` (e.g.
    ``glidelab.backends.ordered_map(backend)``): where each year's chunks of
    ``chunk_nodes`` wealth nodes run, one call per year (default: here, in a loop;
    ``chunk_nodes`` default: all nodes for the compiled kernel, about 4 million
    values a chunk on numpy); the answer is bit-identical whatever the backend and the
    chunking. A year of the shipped grids is tens of milliseconds of work, about a Dask
    round trip: more, smaller chunks pay on a cluster with many idle cores only.
    """
    if engine not in ("numba", "numpy"):
        raise OptimizationError(f"engine={engine!r}; use 'numba' or 'numpy'")
    compiled = engine == "numba" and objective.crra_gamma is None and not objective.is_ce
    n, n_b = grids.shape
    port = candidates @ model.real_gross.T * flows.fee_factor  # (n_c, n_R)
    fail = _failure_values(objective, n, survival)
    valuation = income_valuation(flows, objective, survival) if objective.is_ce else None
    bellman = _Bellman(
        flows,
        grids,
        np.ascontiguousarray(port),
        model.prob,
        objective,
        fail,
        survival,
        scale,
        valuation,
    )
    kind = "ce" if objective.is_ce else ("compiled" if compiled else "numpy")
    solver = _YearSolver(bellman, kind, np.asarray(risk_order))
    u = np.empty((n, n_b))
    choice = np.empty((n, n_b), dtype=np.int64)
    # chunk the (nodes x candidates x outcomes) block to about 4 million values
    step = _chunk_size(n_b, port.size, compiled, chunk_nodes)
    for t in range(n - 1, -1, -1):
        u_next = u[t + 1] if t < n - 1 else None
        if map_fn is None:  # the fast path: views, no copies
            for lo in range(0, n_b, step):
                ev = solver.expected(t, grids[t, lo : lo + step], u_next)
                _choose(ev, objective, risk_order, choice[t, lo : lo + step], u[t, lo : lo + step])
            continue
        tasks = [(t, lo, min(lo + step, n_b), u_next) for lo in range(0, n_b, step)]
        for (_, lo, hi, _), (c, v) in zip(tasks, map_fn(_chunk_task, tasks, solver), strict=True):
            choice[t, lo:hi] = c
            u[t, lo:hi] = v
    return u, choice


def _choose(
    ev: FloatArray, objective: Objective, risk_order: IntArray, choice: IntArray, u: FloatArray
) -> None:
    """Best candidate per node into ``choice`` and its value into ``u`` (views, in place).

    Near-ties go to the least risky candidate (candidates come sorted by risk): relative
    for CRRA, whose utilities can be tiny; else absolute, the values being O(1)."""
    best = ev.max(axis=1, keepdims=True)
    floor = 0.0 if objective.crra_gamma is not None else 1.0
    tol = 1e-10 * np.maximum(floor, np.abs(best))
    c = np.argmax(ev >= best - tol, axis=1)
    choice[:] = risk_order[c]
    u[:] = ev[np.arange(ev.shape[0]), c]


def forward_model(
    policy: AdaptivePolicy, flows: YearFlows, real_gross: FloatArray
) -> tuple[FloatArray, IntArray, FloatArray, FloatArray]:
    """The solver's own model run forward (no trading costs), vectorised over paths.

    ``real_gross`` is (n_paths, n_years, n_assets). Returns ``(wealth, ruin, weights,
    turnover)``: real wealth at each year boundary (n, T + 1), the first year of ruin or -1
    (n,), the weights held (n, T, A) and the one-way turnover of each year's rebalancing,
    decimal of the balance (n, T), with the simulator's order of events (contributions buy
    the target mix, withdrawals sell pro rata, no rebalancing in the first year). Used for
    the median path and as the tests' second engine.
    """
    return _forward_paths(policy, flows, real_gross)[:4]


def _forward_paths(
    policy: AdaptivePolicy, flows: YearFlows, real_gross: FloatArray
) -> tuple[FloatArray, IntArray, FloatArray, FloatArray, FloatArray]:
    """:func:`forward_model`, plus the withdrawals paid each year (n, T), real USD.

    The balance is the one account model, :func:`backtest.account.run_balances`, with the
    policy's weights read at each year's starting wealth; the turnover follows from the
    holdings that balance path implies (each year's end holdings drift from the targets
    by the assets' returns).
    """
    n, n_t, _ = real_gross.shape
    held = np.empty(real_gross.shape)

    def growth(t: int, wealth: FloatArray) -> FloatArray:
        wt = policy.weights_at(t, wealth)
        held[:, t] = wt
        return (wt * real_gross[:, t]).sum(axis=1)

    zero = np.zeros(n_t)
    fee = 1.0 - flows.fee_factor
    acc = run_balances(
        AccountFlows(flows.cs, flows.ce, flows.ws, flows.we, zero, fee),
        growth,
        flows.initial_balance,
        n_accounts=n,
        n_periods=n_t,
    )
    b = acc.invested  # the balance that earns each year's return, (n, T)
    # holdings at each year's end (drifted targets plus end contributions), then sold pro
    # rata down to the wealth after the end withdrawal
    end = (b[:, :, None] * real_gross * flows.fee_factor + flows.ce[None, :, None]) * held
    total = end.sum(axis=2)
    end *= np.divide(acc.wealth[:, 1:], total, out=np.zeros_like(total), where=total > 0)[
        :, :, None
    ]
    # the next year's holdings before rebalancing: start contributions buy its targets,
    # the start withdrawal sells pro rata, down to the invested balance
    pre = end[:, :-1] + flows.cs[None, 1:, None] * held[:, 1:]
    pre_total = pre.sum(axis=2)
    pre *= np.divide(b[:, 1:], pre_total, out=np.zeros_like(pre_total), where=pre_total > 0)[
        :, :, None
    ]
    traded = np.abs(b[:, 1:, None] * held[:, 1:] - pre).sum(axis=2)
    turnover = np.zeros((n, n_t))
    turnover[:, 1:] = np.divide(traded, 2 * b[:, 1:], out=np.zeros_like(traded), where=b[:, 1:] > 0)
    return acc.wealth, acc.ruin_period, held, turnover, acc.withdrawals


def solve_adaptive(
    plan: Plan,
    model: ReturnModel,
    objective: Objective | None = None,
    *,
    assets: Sequence[str] | None = None,
    survival: FloatArray | None = None,
    n_states: int = 401,
    weight_step: float | None = None,
    wealth_max: float | None = None,
    discount_rate_real: float = 0.02,
    state: StateKind = "funded_ratio",
    n_paths: int = 4000,
    rng: RngLike = 0,
    name: str = "adaptive (DP)",
    engine: str = "numba",
    map_fn: MapFn | None = None,
    chunk_nodes: int | None = None,
) -> AdaptiveResult:
    """Solve the adaptive policy of ``plan`` by backward induction (see module doc).

    Parameters
    ----------
    plan
        The member (annual steps): contributions, match, limits, fees, a constant real
        withdrawal at the start, end or split of each year.
    model
        One-year return distribution, drawn i.i.d. (:func:`empirical_model`,
        :func:`lognormal_model`).
    objective
        Default :func:`max_success`.
    assets
        Two to four assets of ``model`` to allocate between; ``None`` = all of them.
    survival
        Optional one-year survival probabilities, one per plan year from the start age
        (e.g. from ``backtest.mortality``); ``None`` = the member lives to the end age.
    n_states
        Wealth nodes per year.
    weight_step
        Step of the weight grid, decimal; ``None`` = 0.02 for two assets, 0.05 for more.
    wealth_max
        Top of every year's grid, real USD; ``None`` = from a forward pass (module doc).
    discount_rate_real
        Real annual rate of the present values behind the funded ratio.
    state
        Axis reports show: ``"funded_ratio"`` (needs withdrawals) or ``"wealth"``.
    n_paths
        I.i.d. model paths for the median path and ``success_model``.
    rng
        Seed of the grid-bounds pass and of those paths.
    name
        Name of the resulting strategy.
    engine
        ``"numba"`` (compiled expectations, :mod:`optimize.dp_kernel`) or ``"numpy"``
        (the array reference); the CRRA objective always runs on numpy.
    map_fn
        Where each year's chunks of wealth nodes are solved (:func:`backward_induction`;
        e.g. ``glidelab.backends.ordered_map(backend)``); ``None`` = here. The policy,
        the promise and the model check are bit-identical whatever runs them.
    chunk_nodes
        Wealth nodes per chunk (:func:`backward_induction`); ``None`` = its default. The
        answer does not depend on it.

    Returns
    -------
    AdaptiveResult

    Raises
    ------
    PlanError, OptimizationError
        An unsupported plan feature or bad solver settings, named.
    """
    t0 = time.perf_counter()
    obj = objective if objective is not None else max_success()
    names = tuple(assets) if assets is not None else model.assets
    m = model.select(names)
    step = _checked_weight_step(names, n_states, weight_step)
    flows = year_flows(plan)
    q = _survival(survival, flows.n_years)
    _check_objective(obj, flows)
    if state == "funded_ratio" and not flows.spending[-1] > 0:
        state = "wealth"  # no spending to fund: the ratio is undefined
    lower, scale = _grid_bottom_and_scale(flows, obj)
    obj_scale = obj.wealth_scale if obj.wealth_scale is not None else scale
    grids = _grids(flows, m, n_states, wealth_max, lower, scale, rng)
    cand, order = _candidates_by_risk(m, len(names), step)
    dp_objective = Objective(**{**obj.__dict__, "wealth_scale": obj_scale})
    u, choice = backward_induction(
        flows,
        grids,
        cand[order],
        m,
        dp_objective,
        q,
        obj_scale,
        order,
        engine,
        map_fn=map_fn,
        chunk_nodes=chunk_nodes,
    )
    val = income_valuation(flows, obj, q) if obj.is_ce else None
    shown = u if val is None else np.array([val.to_income(u[t], t) for t in range(len(u))])
    policy = _table_policy(
        name, names, flows, grids, cand[choice], shown, discount_rate_real, state, obj
    )
    policy, success_model, values = _model_check(policy, m, flows, q, n_paths, rng, val)
    value = _start_value(flows, grids, u, obj, q, val)
    ce_model, ce_model_se = (
        val.certainty_equivalent_se(values) if val is not None else (np.nan, np.nan)
    )
    return AdaptiveResult(
        policy=policy,
        value=value,
        valuation=val,
        promised_ce=val.certainty_equivalent(value) if val is not None else np.nan,
        ce_model=ce_model,
        ce_model_se=ce_model_se,
        success_model=success_model,
        objective=obj,
        model_description=m.description,
        n_states=n_states,
        n_candidates=int(cand.shape[0]),
        n_outcomes=m.n_outcomes,
        n_years=flows.n_years,
        weight_step=step,
        seconds=time.perf_counter() - t0,
        survival=q is not None,
    )


def _checked_weight_step(names: Sequence[str], n_states: int, weight_step: float | None) -> float:
    """Check the asset count and grid size; the weight step (decimal), by default 0.02 for
    up to two assets and 0.05 for more."""
    if not 1 <= len(names) <= 4:
        raise OptimizationError(f"allocate between 1 and 4 assets; got {tuple(names)}")
    if n_states < 3:
        raise OptimizationError(f"n_states={n_states} must be >= 3 (e.g. 201)")
    return weight_step if weight_step is not None else (0.02 if len(names) <= 2 else 0.05)


def _check_objective(obj: Objective, flows: YearFlows) -> None:
    """Refuse a CRRA objective on a plan with flows (it is the Merton check only)."""
    if obj.crra_gamma is not None and (flows.spending.any() or flows.contributions.any()):
        raise OptimizationError(
            "a CRRA objective is for plans without contributions or withdrawals (the Merton "
            "check); use max_success() or tradeoff() for this plan"
        )


def _grid_bottom_and_scale(flows: YearFlows, obj: Objective) -> tuple[float, float]:
    """``(lower, scale)`` of the wealth grids, real USD (see :func:`_grids`).

    ``scale``: one year of the plan's largest flow (spending or contributions), else the
    initial balance; for CRRA (no flows, no ruin) the grid starts at 2 % of the initial
    balance with a scale of 10 % of it, since utility diverges at zero wealth."""
    scale = float(
        max(flows.spending.max(initial=0.0), flows.contributions.max(initial=0.0))
        or max(flows.initial_balance, 1.0)
    )
    lower = 0.0
    if obj.crra_gamma is not None:
        lower = 0.02 * max(flows.initial_balance, 1e-9)
        scale = 0.1 * max(flows.initial_balance, 1e-9)
    return lower, scale


def _candidates_by_risk(
    model: ReturnModel, n_assets: int, step: float
) -> tuple[FloatArray, IntArray]:
    """The weight candidates (n_c, n_assets) and their order by the variance of the real
    one-year gross return under ``model`` (stable: ties keep the grid order)."""
    cand = weight_candidates(n_assets, step)
    g = model.real_gross
    var = np.array([model.prob @ (g @ c - model.prob @ (g @ c)) ** 2 for c in cand])
    return cand, np.argsort(var, kind="stable")


def _table_policy(
    name: str,
    names: tuple[str, ...],
    flows: YearFlows,
    grids: FloatArray,
    weights: FloatArray,
    u: FloatArray,
    discount_rate_real: float,
    state: StateKind,
    obj: Objective,
) -> AdaptivePolicy:
    """The solved table as a strategy: ``weights`` (n_years, n_states, n_assets) on the
    grids of wealth before each year's flows (real USD), with the present values behind
    the funded ratio at ``discount_rate_real`` (real annual, decimal)."""
    spend_pv, contrib_pv = present_values(flows, discount_rate_real)
    return AdaptivePolicy(
        name=name,
        assets=names,
        ages=flows.ages,
        wealth_grid=grids + (flows.ws - flows.cs)[:, None],
        weights=weights,
        value=u,
        spending_pv=spend_pv,
        contribution_pv=contrib_pv,
        discount_rate_real=discount_rate_real,
        state=state,
        objective=obj.name,
    )


def _start_value(
    flows: YearFlows,
    grids: FloatArray,
    u: FloatArray,
    obj: Objective,
    q: FloatArray | None,
    val: IncomeValuation | None = None,
) -> float:
    """The value promised from the plan's start: ``U[0]`` at the initial balance after the
    first start-of-year flows (interpolated in the CE transform for the CE objective), or
    the value of ruin when those flows exhaust it (the CE objective: the part paid)."""
    b0 = flows.initial_balance + flows.cs[0] - flows.ws[0]
    if val is not None:
        if b0 >= 0:
            e = np.interp(b0, grids[0], val.to_income(u[0], 0))
            return float(val.from_income(e, 0))
        paid = max(flows.initial_balance + flows.cs[0], 0.0)
        ruin = val.ruin_values()
        n, q0 = flows.n_years, float(val.survival[0])
        rest = val.discount * (q0 * ruin[1] + (1.0 - q0) * ruin[n])
        return float(val.retire[0] * val.period(val.floor + paid)) + rest
    fail0 = _failure_values(obj, flows.n_years, q)[0]
    return float(np.interp(b0, grids[0], u[0])) if b0 >= 0 else float(fail0)


def _model_check(
    policy: AdaptivePolicy,
    model: ReturnModel,
    flows: YearFlows,
    q: FloatArray | None,
    n_paths: int,
    rng: RngLike,
    val: IncomeValuation | None = None,
) -> tuple[AdaptivePolicy, float, FloatArray]:
    """Run ``policy`` forward on ``n_paths`` i.i.d. model paths: the policy with its median
    real wealth by year, the share of paths whose money lasts (decimal; with survival
    ``q``, ruin counts only if the member is alive at its start) and, for the CE
    objective (``val``), each path's value (else an empty array)."""
    n = flows.n_years
    paths = model.sample(n_paths, n, rng=int(np.random.default_rng(rng).integers(2**32)))
    gross = (1.0 + paths.returns) / (1.0 + paths.inflation[:, :, None])
    wealth, ruin, _, _, paid = _forward_paths(policy, flows, gross)
    policy = AdaptivePolicy(
        **{**policy.__dict__, "median_wealth": np.median(wealth[:, :-1], axis=0)}
    )
    alive = alive_at_start(q, n)
    ok = np.where(ruin < 0, 1.0, 1.0 - alive[np.clip(ruin, 0, None)])
    values = val.path_values(paid, wealth[:, 1:]) if val is not None else np.empty(0)
    return policy, float(ok.mean()), values


# --------------------------------------------------------------------------- convergence


@dataclass(frozen=True)
class GridConvergence:
    """The promise at the plan's start on a grid and on one with half the spacing.

    ``coarse``/``fine``: :attr:`AdaptiveResult.promised` (a probability, decimal, or for
    the CE objective a CE income, real USD a year: ``unit``); ``moved_pp``: ``100 *
    |fine - coarse|`` (probabilities); ``moved_pct``: ``100 * |fine / coarse - 1|``.
    """

    coarse: float
    fine: float
    coarse_grid: tuple[int, float]
    fine_grid: tuple[int, float]
    coarse_seconds: float
    fine_seconds: float
    unit: str = "probability"

    @property
    def moved_pp(self) -> float:
        return 100.0 * abs(self.fine - self.coarse)

    @property
    def moved_pct(self) -> float:
        return 100.0 * abs(self.fine / self.coarse - 1.0)


def grid_convergence(
    plan: Plan,
    model: ReturnModel,
    objective: Objective | None = None,
    *,
    n_states: int = 401,
    weight_step: float | None = None,
    **options: Any,
) -> GridConvergence:
    """Solve on (``n_states``, ``weight_step``) and on half both spacings; compare values."""
    a = solve_adaptive(
        plan, model, objective, n_states=n_states, weight_step=weight_step, n_paths=200, **options
    )
    b = solve_adaptive(
        plan,
        model,
        objective,
        n_states=2 * n_states - 1,
        weight_step=a.weight_step / 2,
        n_paths=200,
        **options,
    )
    return GridConvergence(
        coarse=a.promised,
        fine=b.promised,
        coarse_grid=(a.n_states, a.weight_step),
        fine_grid=(b.n_states, b.weight_step),
        coarse_seconds=a.seconds,
        fine_seconds=b.seconds,
        unit="USD a year" if a.valuation is not None else "probability",
    )


__all__ = [
    "DEFAULT_EQUITY_ASSETS",
    "AdaptiveResult",
    "GridConvergence",
    "IncomeValuation",
    "Objective",
    "ReturnModel",
    "YearFlows",
    "alive_at_start",
    "backward_induction",
    "empirical_model",
    "forward_model",
    "grid_convergence",
    "income_ce",
    "income_valuation",
    "lognormal_model",
    "max_success",
    "min_shortfall",
    "present_values",
    "solve_adaptive",
    "tradeoff",
    "weight_candidates",
    "year_flows",
]
