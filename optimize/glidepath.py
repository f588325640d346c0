"""Glide-path search: maximise a plan's probability of success by sequential convex programming.

Decision
--------
Target weights ``z[k, a]`` of every asset ``a`` at knot ages ``age_k`` (every
``knot_spacing_years`` years from the start age to the last period, plus the retirement
age). Per-period weights are the fixed linear interpolation ``w = M z`` (``M`` is
(n_periods, n_knots), the same piecewise-linear rule as ``strategies.GlidePath``), so a
knot every year gives one free weight vector per year. The portfolio is rebalanced to
target every period (annual calendar rebalancing in an annual simulation).

Wealth model (real USD, one period, vectorised over scenarios ``s``)
--------------------------------------------------------------------
With ``g[s, t, a] = (1 + r) / (1 + inflation)`` the real gross return of asset ``a``,
``G[s, t] = w[t] . g[s, t]`` the portfolio's real gross return, ``F = 1 - fee`` the
fee factor per period, ``cs, ce`` the start/end contributions, ``L`` the leakage (share
cashed out at the start of a working period) and ``ws, we`` the start/end withdrawals::

    B[t]   = W[t] (1 - L[t]) + cs[t] - ws[t]
    W[t+1] = B[t] * G[t] * F + ce[t] - we[t]

The flows are read from ``backtest.cashflows.CashFlowRules`` (the plan's, or explicit
per-scenario schedules), as the engines read them. For ``ConstantReal`` withdrawals ``ws,
we`` are the start and end shares of ``spending[t] * W[t_ret]`` (rate rule) or of
``spending[t]`` (amount rule); a nominal (not indexed) amount is deflated by
``price[t_ret] / price[t]`` at the start and ``price[t_ret] / price[t + 1]`` at the end
of the period (the same dollars whenever paid). The engine pays ``min(withdrawal,
balance)``; the optimizer's model keeps the *untruncated* recursion, whose terminal
wealth is negative exactly when the engine records ruin (after retirement no money comes
in and ``G > 0``, so a negative balance stays negative). ``forward_model`` reproduces ``backtest.simulate.simulate`` wealth to
round-off for plans without transaction costs (tests check 1e-9).

Success margin ``x[s]`` (success iff ``x >= 0``), chosen to be O(1) and well scaled:

* ``MoneyLasts``: ``x = W[T] / (W[t_ret] * prod_{t >= t_ret} G[t] F)``, i.e. one minus
  the present value at retirement of all withdrawals, discounted at the scenario's own
  portfolio returns, divided by the balance at retirement.
* ``FundedRatio``: ``x = W[t_ret] / (threshold * liability) - 1``.
* ``TerminalWealth`` (optimizer-only goal, used by the i.i.d. sanity check):
  ``x = log(W[T] / target)``.

Gradients ``dx[s] / dw[t, a]`` come from one forward pass and one adjoint (reverse) pass
over time, vectorised over scenarios: with ``mu[t] = dx / dW[t]``,
``mu[t] = mu[t+1] * G[t] * F`` and ``dx / dw[t, a] = mu[t+1] * B[t] * F * g[s, t, a]``
(plus the direct terms of the normaliser and of withdrawals set from ``W[t_ret]``).
Tests check them against finite differences.

Convex subproblem (one SCP iteration)
-------------------------------------
Linearise ``x[s](z) ~ b[s] + J[s] . z`` around the current knots ``z0``. The loss
``L = -x`` fails when ``L > 0``. Minimise the *buffered probability of failure*
(bPOE, Mafusalov and Uryasev 2018), the tightest convex upper bound of ``P(L > 0)``
built from CVaR: ``bPOE_0(L) = 1 - beta`` where ``CVaR_beta(L) = 0`` (Rockafellar and
Uryasev 2000), and ``bPOE_0(L) = min_{a >= 0} mean_s (1 + a L[s])^+``. Substituting
``y = a z`` (all constraints on ``z`` are linear or conic and are homogenised with
``a``) gives one conic program::

    minimise   mean_s pos(1 - a b[s] - J[s] . y)
    subject to sum_a y[k, a] = a,   a lo_a <= y[k, a] <= a hi_a          (bounds, simplex)
               |y - a z0| <= a rho                                        (trust region)
               sum_{crypto} y[k] <= a cap                                 (crypto cap)
               equity(y[k+1]) <= equity(y[k]) for knots before retirement (monotone)
               |y[k+1] - y[k]| <= a delta (age[k+1] - age[k])             (max change/year)
               || chol(Sigma)' y[k] || <= a vol_cap                       (volatility cap)
               0 <= a <= a_max

and ``z = y / a``. It is built once with ``cp.Parameter`` (``J``, ``b``, ``z0``, ``rho``)
and re-solved (CLARABEL, falling back to ECOS, where installed, then SCS, with a warning):
``optimize.scp.bpoe_subproblem``, which fund design solves too. Linear
interpolation keeps every constraint checked at the knots valid between them (the
volatility cap because ``w' Sigma w`` is convex).

Step control (the shared driver ``optimize.scp.trust_region_scp``): simulate the
candidate with the engine (``simulate``) on the same scenarios
(common random numbers); accept it if the true success probability rises, or stays
equal while the true bPOE falls; then grow the trust radius ``rho`` (x 1.5), else halve
it. Stop at ``max_iterations``, when ``rho`` falls below ``min_trust_radius``, or at
100 % success. The start is the best constant mix of a grid, projected onto the
constraints.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from backtest.cashflows import W_CONSTANT, CashFlowRules, cash_flow_rules
from backtest.data import asset_roles, assets_with_role
from backtest.errors import DataError, PlanError
from backtest.plan import ConstantReal, FundedRatio, MoneyLasts, Plan
from backtest.scenarios import Scenarios
from backtest.simulate import SimulationResult, check_cash_flows, simulate
from backtest.types import AssetRole, BoolArray, FloatArray
from optimize.scp import (
    DEFAULT_SOLVERS,
    KnotConstraints,
    OptimizationError,
    OptimizationWarning,
    Proposal,
    ScpIteration,
    bpoe_subproblem,
    buffered_failure_probability,
    clean_knots,
    flatten,
    interpolation_matrix,
    project,
    solve_with_fallbacks,
    trust_region_scp,
)
from strategies.base import RebalanceRule, Schedule
from strategies.target_date import GlidePath

#: Asset roles (``backtest.data.asset_role``) that count as equity, i.e. risky growth
#: assets, for ``monotone_equity`` and the starting mixes, unless the caller names them.
EQUITY_ROLES: tuple[AssetRole, ...] = ("equity", "real_asset", "crypto")
#: The embedded series with those roles, derived from the registry (not a list of its own).
DEFAULT_EQUITY_ASSETS: tuple[str, ...] = tuple(
    name for role in EQUITY_ROLES for name in assets_with_role(role)
)


@dataclass(frozen=True)
class TerminalWealth:
    """Optimizer-only success goal: real terminal wealth at the end age >= ``target``.

    ``target`` is in real USD of the start date. Used for the no-cash-flow sanity check,
    where the engine's ``MoneyLasts`` would succeed in every scenario.
    """

    target: float
    name: str = "terminal wealth >= target"

    def __post_init__(self) -> None:
        if not self.target > 0:
            raise PlanError(f"TerminalWealth.target={self.target!r} must be > 0 (real USD)")


Goal = MoneyLasts | FundedRatio | TerminalWealth


@dataclass(frozen=True)
class GlidePathConstraints:
    """Constraints on the optimised weights; every weight is decimal (0.6 = 60 %).

    Attributes
    ----------
    lower, upper
        Per-asset bounds on the weight in every period, e.g. ``{"us_stocks": 0.2}``.
        Assets not named get 0 and 1.
    monotone_equity
        Equity share may not rise from one knot to the next before retirement.
    equity_assets
        Which assets count as equity; ``None`` = those whose role (``roles``, else the
        embedded catalog's, :func:`backtest.data.asset_roles`) is in ``EQUITY_ROLES``.
    max_change_per_year
        Largest change of any asset's weight per year of age, decimal (0.1 = 10 pp a
        year), or ``None``.
    crypto_cap
        Largest total weight of crypto assets, decimal, or ``None``.
    crypto_assets
        Which assets count as crypto; ``None`` = those whose role is ``"crypto"``.
    roles
        Roles of assets that are not embedded series (yfinance tickers, CSV columns), e.g.
        ``{"VTI": "equity", "BND": "bond"}``; needed only where ``equity_assets`` or
        ``crypto_assets`` is ``None``.
    vol_cap
        Largest expected annual volatility of the portfolio in every period, decimal
        (0.12 = 12 % a year), from the scenarios' covariance of real returns, or ``None``.
    """

    lower: Mapping[str, float] = field(default_factory=dict)
    upper: Mapping[str, float] = field(default_factory=dict)
    monotone_equity: bool = False
    equity_assets: tuple[str, ...] | None = None
    max_change_per_year: float | None = None
    crypto_cap: float | None = None
    crypto_assets: tuple[str, ...] | None = None
    vol_cap: float | None = None
    roles: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for side in ("lower", "upper"):
            for asset, value in getattr(self, side).items():
                if not 0.0 <= float(value) <= 1.0:
                    raise OptimizationError(
                        f"constraints.{side}[{asset!r}]={value!r} must be a weight in [0, 1]"
                    )
        for name in ("max_change_per_year", "crypto_cap", "vol_cap"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value >= 0):
                raise OptimizationError(f"constraints.{name}={value!r} must be >= 0 or None")

    def equity_of(self, assets: Sequence[str]) -> list[int]:
        """Indices of the equity assets among ``assets``."""
        if self.equity_assets is not None:
            return [i for i, a in enumerate(assets) if a in self.equity_assets]
        roles = asset_roles(assets, self.roles)
        return [i for i, a in enumerate(assets) if roles[a] in EQUITY_ROLES]

    def crypto_of(self, assets: Sequence[str]) -> list[int]:
        """Indices of the crypto assets among ``assets``."""
        if self.crypto_assets is not None:
            return [i for i, a in enumerate(assets) if a in self.crypto_assets]
        roles = asset_roles(assets, self.roles)
        return [i for i, a in enumerate(assets) if roles[a] == "crypto"]


@dataclass(frozen=True)
class IterationRecord:
    """One SCP iteration: the candidate's true success and what happened to it."""

    iteration: int
    success: float
    bpoe: float
    trust_radius: float
    accepted: bool
    solver: str
    solve_seconds: float
    seconds: float

    @classmethod
    def of(cls, record: ScpIteration) -> IterationRecord:
        """From the shared driver's record, whose scores are (success, bPOE)."""
        return cls(
            iteration=record.iteration,
            success=float(record.scores[0]),
            bpoe=float(record.scores[1]),
            trust_radius=record.trust_radius,
            accepted=record.accepted,
            solver=record.solver,
            solve_seconds=record.solve_seconds,
            seconds=record.seconds,
        )


@dataclass(frozen=True)
class OptimizationResult:
    """What ``optimize_glide_path`` found.

    Attributes
    ----------
    glide_path
        The optimised strategy (knot weights, linear interpolation, rebalanced every period).
    weights_by_age
        Target weights per period, (n_periods, n_assets), at ``ages``.
    success_in_sample
        Success probability on the scenarios optimised on, decimal.
    success_out_of_sample
        Success probability on the held-out scenarios, or ``None`` when none were given.
    initial_success
        In-sample success of the starting path (best constant mix, projected).
    history
        One record per iteration.
    solver
        Solver of the last subproblem; ``solver_fallbacks`` lists every fallback taken.
    seconds
        Wall time of the whole search, seconds.
    """

    glide_path: GlidePath
    assets: tuple[str, ...]
    knot_ages: tuple[float, ...]
    knot_weights: FloatArray
    ages: FloatArray
    weights_by_age: FloatArray
    success_in_sample: float
    success_out_of_sample: float | None
    initial_success: float
    initial_weights: FloatArray
    history: tuple[IterationRecord, ...]
    solver: str
    solver_fallbacks: tuple[str, ...]
    seconds: float
    n_scenarios: int
    n_holdout: int
    goal: str
    stop_reason: str

    @property
    def mean_iteration_seconds(self) -> float:
        """Average wall time of one SCP iteration (linearise + solve + simulate), s."""
        if not self.history:
            return 0.0
        return float(np.mean([h.seconds for h in self.history]))


# ---------------------------------------------------------------------------- model


@dataclass(frozen=True)
class ForwardPass:
    """Untruncated and engine (truncated) wealth paths of the rebalance-every-period model.

    Shapes: ``n`` scenarios, ``T`` periods; real USD of the start date.
    """

    wealth: FloatArray  # (n, T+1), engine wealth: withdrawals paid up to the balance
    wealth_untruncated: FloatArray  # (n, T+1)
    pre_return: FloatArray  # (n, T) untruncated balance B[t] invested during period t
    portfolio_growth: FloatArray  # (n, T) G[t], real gross return before fees
    t_ret: int


@dataclass(frozen=True)
class _Flows:
    """The plan's cash flows as the wealth model reads them (from ``CashFlowRules``)."""

    cs: FloatArray  # (1 or n, T) start-of-period contributions, real USD per period
    ce: FloatArray  # (1 or n, T) end-of-period contributions
    keep: FloatArray  # (1 or n, T) share of the balance kept after leakage
    t_ret: int
    start_frac: float  # share of each withdrawal paid at the start of the period
    per_unit_start: FloatArray  # (n, T): start-paid withdrawal per unit of base, real
    per_unit_end: FloatArray  # (n, T): end-paid withdrawal per unit of base, real
    rate_rule: bool  # base = W[t_ret] (rate rule) else 1 (amount already in per_unit)
    ppy: int


def _flows(
    plan: Plan,
    scenarios: Scenarios,
    n_t: int,
    model_withdrawals: bool,
    rules: CashFlowRules | None = None,
) -> _Flows:
    ppy = scenarios.periods_per_year
    rules = cash_flow_rules(plan, ppy) if rules is None else rules
    contrib = np.atleast_2d(rules.contributions)
    zero = np.zeros_like(contrib)
    cs, ce = (contrib, zero) if rules.contributions_at_start else (zero, contrib)
    keep = 1.0 - np.atleast_2d(rules.leakage)
    t_ret = rules.retirement_period
    n = scenarios.n_scenarios
    per_start = np.zeros((n, n_t))
    per_end = per_start
    start_frac, rate_rule = 0.0, False
    if model_withdrawals and rules.withdrawal_code == W_CONSTANT and t_ret < n_t:
        start_frac = rules.start_fraction
        rate_rule = rules.spending_per_unit_of_balance
        spend = np.broadcast_to(np.atleast_2d(rules.spending), (n, n_t))
        per_start = np.array(spend)
        per_end = per_start
        if not rules.spending_indexed:
            # fixed nominal dollars: worth price[t_ret] / price[t] when paid at the start
            # of period t, price[t_ret] / price[t + 1] at its end
            price = np.cumprod(1.0 + scenarios.inflation[:, :n_t], axis=1)
            price = np.concatenate([np.ones((n, 1)), price], axis=1)
            per_end = per_start.copy()
            per_start[:, t_ret:] *= price[:, t_ret : t_ret + 1] / price[:, t_ret:n_t]
            per_end[:, t_ret:] *= price[:, t_ret : t_ret + 1] / price[:, t_ret + 1 : n_t + 1]
    return _Flows(cs, ce, keep, t_ret, start_frac, per_start, per_end, rate_rule, ppy)


def _real_growth(scenarios: Scenarios, n_t: int) -> FloatArray:
    r = scenarios.returns[:, :n_t]
    return (1.0 + r) / (1.0 + scenarios.inflation[:, :n_t, None])


def forward_model(
    scenarios: Scenarios,
    plan: Plan,
    weights: FloatArray,
    cash_flows: CashFlowRules | None = None,
) -> ForwardPass:
    """Wealth paths of ``plan`` with target ``weights`` rebalanced every period.

    Parameters
    ----------
    scenarios
        Nominal returns; the columns must be the assets of ``weights`` in order.
    plan
        The member; withdrawals are modelled for ``ConstantReal`` rules (others: none).
    weights
        Target weights per period, (n_periods, n_assets), decimal.
    cash_flows
        Explicit cash-flow schedules (shared (T,) or per scenario (n, T), see
        ``backtest.simulate.simulate``); ``None``: the plan's own.

    Returns
    -------
    ForwardPass
        Real wealth paths (USD of the start date). ``wealth`` equals the engine's
        ``simulate(...).wealth`` for plans without transaction costs.
    """
    n_t = plan.n_periods(scenarios.periods_per_year)
    g = _real_growth(scenarios, n_t)
    if cash_flows is not None:
        cash_flows = check_cash_flows(cash_flows, plan, scenarios)
    fl = _flows(plan, scenarios, n_t, True, cash_flows)
    return _forward(g, np.asarray(weights, dtype=np.float64), plan, fl)


def _forward(g: FloatArray, w: FloatArray, plan: Plan, fl: _Flows) -> ForwardPass:
    n, n_t, _ = g.shape
    f_keep = 1.0 - plan.expense_ratio / fl.ppy
    growth = np.einsum("nta,ta->nt", g, w)
    u = np.empty((n, n_t + 1))
    v = np.empty((n, n_t + 1))
    b = np.empty((n, n_t))
    u[:, 0] = v[:, 0] = plan.initial_balance
    base = np.ones(n)
    sf = fl.start_frac
    for t in range(n_t):
        if t == fl.t_ret and fl.rate_rule:
            base = u[:, t].copy()
        w_start = sf * (base * fl.per_unit_start[:, t])
        w_end = (1.0 - sf) * (base * fl.per_unit_end[:, t])
        keep = fl.keep[:, t]
        bu = u[:, t] * keep + fl.cs[:, t] - w_start
        bv = v[:, t] * keep + fl.cs[:, t]
        bv = bv - np.minimum(w_start, bv)
        b[:, t] = bu
        u[:, t + 1] = bu * growth[:, t] * f_keep + fl.ce[:, t] - w_end
        vv = bv * growth[:, t] * f_keep + fl.ce[:, t]
        v[:, t + 1] = vv - np.minimum(w_end, vv)
    return ForwardPass(v, u, b, growth, fl.t_ret)


def _check_goal(plan: Plan, goal: Goal) -> None:
    if isinstance(goal, MoneyLasts):
        rule = plan.withdrawal
        if rule is None or plan.retirement_age >= plan.end_age:
            raise OptimizationError(
                "success=MoneyLasts but the plan has no withdrawals, so every path succeeds; "
                "give the plan a withdrawal rule or optimise a TerminalWealth goal"
            )
        if not isinstance(rule, ConstantReal):
            raise OptimizationError(
                f"the SCP wealth model covers ConstantReal withdrawals; got "
                f"{type(rule).__name__} (FixedPercent and RequiredMinimum never run out, so "
                "every path succeeds; for GuytonKlinger use optimize.baselines."
                "differential_evolution_search)"
            )
        if plan.rmd_floor:
            raise OptimizationError(
                "the SCP wealth model does not cover rmd_floor=True; set it False or use "
                "optimize.baselines.differential_evolution_search"
            )


def margins_and_gradients(
    scenarios: Scenarios,
    plan: Plan,
    weights: FloatArray,
    goal: Goal | None = None,
    cash_flows: CashFlowRules | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Success margins ``x`` (success iff ``x >= 0``) and their exact gradients.

    Parameters
    ----------
    scenarios
        Nominal returns whose columns are the assets of ``weights``.
    plan
        The member.
    weights
        Target weights per period, (n_periods, n_assets).
    goal
        Success definition; ``None`` = ``plan.success``.
    cash_flows
        Explicit cash-flow schedules, as in :func:`forward_model`.

    Returns
    -------
    x, grad
        ``x`` (n_scenarios,) as defined in the module docstring; ``grad`` (n_scenarios,
        n_periods, n_assets) = ``dx / dw[t, a]`` from the adjoint pass.
    """
    goal = plan.success if goal is None else goal
    _check_goal(plan, goal)
    n_t = plan.n_periods(scenarios.periods_per_year)
    g = _real_growth(scenarios, n_t)
    if cash_flows is not None:
        cash_flows = check_cash_flows(cash_flows, plan, scenarios)
    fl = _flows(plan, scenarios, n_t, not isinstance(goal, FundedRatio), cash_flows)
    return _margins(g, np.asarray(weights, dtype=np.float64), plan, fl, goal)


def _margins(
    g: FloatArray, w: FloatArray, plan: Plan, fl: _Flows, goal: Goal
) -> tuple[FloatArray, FloatArray]:
    fp = _forward(g, w, plan, fl)
    n, n_t, _ = g.shape
    f_keep = 1.0 - plan.expense_ratio / fl.ppy
    u, b, growth, t_ret = fp.wealth_untruncated, fp.pre_return, fp.portfolio_growth, fl.t_ret
    w_ret = np.maximum(u[:, min(t_ret, n_t)], 1e-12)
    grad = np.zeros_like(g)
    sf = fl.start_frac
    direct_growth = False
    if isinstance(goal, FundedRatio):
        liability = plan.target_income() * plan.annuity_factor() * goal.threshold
        x = u[:, min(t_ret, n_t)] / liability - 1.0
        mu = np.zeros(n)
        s_ret = np.full(n, 1.0 / liability)
    elif isinstance(goal, MoneyLasts):
        p_dec = np.prod(growth[:, t_ret:] * f_keep, axis=1)
        x = u[:, -1] / (w_ret * p_dec)
        mu = 1.0 / (w_ret * p_dec)
        s_ret = -x / w_ret
        direct_growth = True
    else:
        w_t = np.maximum(u[:, -1], 1e-12 * goal.target)
        x = np.log(w_t / goal.target)
        mu = 1.0 / w_t
        s_ret = np.zeros(n)
    for t in range(n_t - 1, -1, -1):
        if t == t_ret - 1:
            mu = mu + s_ret
        grad[:, t] = (mu * b[:, t] * f_keep)[:, None] * g[:, t]
        if t >= t_ret:
            if direct_growth:
                grad[:, t] -= (x / growth[:, t])[:, None] * g[:, t]
            if fl.rate_rule:
                s_ret = s_ret - mu * (
                    growth[:, t] * f_keep * sf * fl.per_unit_start[:, t]
                    + (1.0 - sf) * fl.per_unit_end[:, t]
                )
        mu = mu * growth[:, t] * f_keep * fl.keep[:, t]
    return x, grad


# ---------------------------------------------------------------------- evaluation


def goal_success(result: SimulationResult, goal: Goal | None = None) -> BoolArray:
    """Per-scenario success indicator (bool, (n_scenarios,)) of a simulation under ``goal``.

    ``None`` or a ``MoneyLasts``/``FundedRatio`` goal equal to the plan's uses the
    engine's ``SimulationResult.success``; ``TerminalWealth`` needs no ruin and real
    terminal wealth >= its target.
    """
    if goal is None or goal == result.plan.success:
        return result.success
    if isinstance(goal, TerminalWealth):
        return (result.ruin_period < 0) & (result.terminal_wealth >= goal.target)
    raise OptimizationError(
        f"goal {goal!r} differs from the plan's success {result.plan.success!r}; set the "
        "plan's success instead (dataclasses.replace(plan, success=...))"
    )


def success_probability(
    scenarios: Scenarios,
    plan: Plan,
    strategy: Any,
    goal: Goal | None = None,
    cash_flows: CashFlowRules | None = None,
) -> float:
    """Share of ``scenarios`` in which ``strategy`` succeeds, decimal, by ``simulate``
    (with explicit ``cash_flows``, e.g. a member per scenario, when given)."""
    res = simulate(scenarios, plan, strategy, cash_flows=cash_flows)
    return float(np.mean(goal_success(res, goal)))


# ------------------------------------------------------------------------ knots


def default_knot_ages(plan: Plan, periods_per_year: int, spacing_years: float) -> FloatArray:
    """Knot ages every ``spacing_years`` from the start age, plus retirement and the last
    period's age (years)."""
    if not spacing_years > 0:
        raise OptimizationError(f"knot_spacing_years={spacing_years!r} must be > 0")
    last = plan.end_age - 1.0 / periods_per_year
    ages = np.arange(plan.start_age, last + 1e-9, spacing_years)
    extra = [last]
    if plan.start_age < plan.retirement_age <= last:
        extra.append(plan.retirement_age)
    return np.unique(np.round(np.concatenate([ages, extra]), 9))


def make_glide_path(
    name: str,
    assets: tuple[str, ...],
    knot_ages: FloatArray,
    knot_weights: FloatArray,
    plan: Plan,
    periods_per_year: int,
) -> GlidePath:
    """A ``GlidePath`` holding ``knot_weights`` at ``knot_ages`` (years), rebalanced every
    period (annual calendar in an annual simulation, monthly in a monthly one)."""
    months = 12 // periods_per_year
    w = clean_knots(knot_weights)
    return GlidePath(
        name=name,
        assets=tuple(assets),
        knots_years_to_retirement=tuple(
            float(plan.retirement_age - a) for a in np.asarray(knot_ages, dtype=np.float64)
        ),
        weights=tuple(tuple(float(v) for v in row) for row in w),
        rebalance=RebalanceRule(kind="calendar", every_months=max(1, months)),
        source="optimize.glidepath (SCP)",
    )


# ------------------------------------------------------------------- constraints


def _annual_covariance(scenarios: Scenarios, n_t: int) -> FloatArray:
    """Covariance of real returns per period pooled over scenarios and periods, x ppy."""
    real = scenarios.real_returns()[:, :n_t].reshape(-1, scenarios.n_assets)
    real = real[np.all(np.isfinite(real), axis=1)]
    return np.atleast_2d(np.cov(real, rowvar=False)) * scenarios.periods_per_year


def knot_constraints(
    assets: tuple[str, ...],
    knot_ages: FloatArray,
    plan: Plan,
    c: GlidePathConstraints,
    sigma: FloatArray,
) -> KnotConstraints:
    """``c`` on knot weights at ``knot_ages`` (years), as arrays for cvxpy.

    ``sigma`` is the annual covariance of real returns (A, A), read only for the
    volatility cap; equity is monotone between knots at or before ``plan.retirement_age``.

    Raises
    ------
    OptimizationError
        A bound names an asset that is not optimised.
    """
    n_a = len(assets)
    lo, hi = np.zeros(n_a), np.ones(n_a)
    for side, arr in (("lower", lo), ("upper", hi)):
        for asset, value in getattr(c, side).items():
            if asset not in assets:
                raise OptimizationError(
                    f"constraints.{side} names {asset!r}, which is not optimised; assets are "
                    f"{list(assets)}"
                )
            arr[assets.index(asset)] = float(value)
    chol = None
    if c.vol_cap is not None:
        vals, vecs = np.linalg.eigh(sigma)
        chol = vecs * np.sqrt(np.clip(vals, 0.0, None))
    pairs = tuple(
        k for k in range(knot_ages.size - 1) if knot_ages[k + 1] <= plan.retirement_age + 1e-9
    )
    return KnotConstraints(
        assets=assets,
        knot_ages=knot_ages,
        lo=lo,
        hi=hi,
        equity=tuple(c.equity_of(assets)),
        crypto=tuple(c.crypto_of(assets)),
        monotone_pairs=pairs,
        spacing=np.diff(knot_ages),
        chol=chol,
        monotone_equity=c.monotone_equity,
        max_change_per_year=c.max_change_per_year,
        crypto_cap=c.crypto_cap,
        vol_cap=c.vol_cap,
    )


def _check_obvious_conflicts(s: KnotConstraints, sigma: FloatArray, solvers: Sequence[str]) -> None:
    bad = [a for i, a in enumerate(s.assets) if s.lo[i] > s.hi[i]]
    if bad:
        raise OptimizationError(
            f"constraints conflict: per-asset lower bound above upper bound for {bad}"
        )
    if s.lo.sum() > 1 + 1e-9:
        raise OptimizationError(
            f"constraints conflict: per-asset lower bounds sum to {s.lo.sum():.4f} > 1; "
            "weights must sum to 1"
        )
    if s.hi.sum() < 1 - 1e-9:
        raise OptimizationError(
            f"constraints conflict: per-asset upper bounds sum to {s.hi.sum():.4f} < 1; "
            "weights must sum to 1"
        )
    if s.crypto_cap is not None and s.crypto:
        floor = float(s.lo[list(s.crypto)].sum())
        if floor > s.crypto_cap + 1e-9:
            raise OptimizationError(
                f"constraints conflict: crypto_cap={s.crypto_cap} is below the crypto assets' "
                f"lower bounds, which sum to {floor:.4f}"
            )
    if s.vol_cap is not None:
        import cvxpy as cp  # lazy: heavy (cvxpy)

        w = cp.Variable(len(s.assets))
        cons = [cp.sum(w) == 1, w >= s.lo, w <= s.hi]
        if s.crypto_cap is not None and s.crypto:
            cons.append(cp.sum(w[list(s.crypto)]) <= s.crypto_cap)
        prob = cp.Problem(cp.Minimize(cp.quad_form(w, cp.psd_wrap(sigma))), cons)
        solve_with_fallbacks(prob, solvers, [], what="minimum-variance check")
        min_vol = float(np.sqrt(max(prob.value, 0.0)))
        if min_vol > s.vol_cap + 1e-6:
            raise OptimizationError(
                f"constraints conflict: vol_cap={s.vol_cap:.4f} a year is below the lowest "
                f"volatility any allowed portfolio reaches ({min_vol:.4f} a year, the "
                "minimum-variance portfolio under the per-asset bounds and crypto cap)"
            )


# --------------------------------------------------------------------------- SCP


@dataclass(frozen=True)
class _Iterate:
    """Knots of the search and their exact scores on the in-sample scenarios."""

    knots: FloatArray  # (K, A), decimal
    success: float  # by the engine, decimal
    margins: FloatArray  # (n,) success margins of the wealth model
    gradient: FloatArray  # (n, T, A) d margins / d per-period weights
    bpoe: float


def _initial_knots(
    sub: Scenarios,
    plan: Plan,
    goal: Goal,
    s: KnotConstraints,
    n_knots: int,
    step: float,
    cash_flows: CashFlowRules | None = None,
) -> FloatArray:
    """Best constant mix (grid of equity shares, ``step`` apart) on ``sub``, as knots."""
    n_a = len(s.assets)
    eq = np.zeros(n_a)
    eq[list(s.equity)] = 1.0
    if 0 < eq.sum() < n_a:
        risky, safe = eq / eq.sum(), (1 - eq) / (1 - eq).sum()
        candidates = [e * risky + (1 - e) * safe for e in np.arange(0, 1 + step / 2, step)]
    else:
        candidates = [np.full(n_a, 1.0 / n_a)]
    ppy = sub.periods_per_year
    best, best_key = candidates[0], (-1.0, 0.0)
    for mix in candidates:
        knots = np.tile(mix, (n_knots, 1))
        strat = make_glide_path("constant", s.assets, s.knot_ages, knots, plan, ppy)
        p = success_probability(sub, plan, strat, goal, cash_flows)
        key = (p, -float(mix @ eq))  # ties: the less risky mix
        if key > best_key:
            best, best_key = mix, key
    return np.tile(best, (n_knots, 1))


def optimize_glide_path(
    scenarios: Scenarios,
    plan: Plan,
    assets: Sequence[str] | None = None,
    constraints: GlidePathConstraints | None = None,
    *,
    goal: Goal | None = None,
    holdout: Scenarios | None = None,
    cash_flows: CashFlowRules | None = None,
    holdout_cash_flows: CashFlowRules | None = None,
    knot_ages: Sequence[float] | None = None,
    knot_spacing_years: float = 5.0,
    initial: FloatArray | None = None,
    initial_grid_step: float = 0.02,
    max_iterations: int = 30,
    trust_radius: float = 0.2,
    min_trust_radius: float = 2e-3,
    solvers: Sequence[str] = DEFAULT_SOLVERS,
    name: str = "optimised glide path",
    progress: bool = True,
) -> OptimizationResult:
    """Search the glide path with the highest success probability (SCP, see module doc).

    Parameters
    ----------
    scenarios
        Nominal return scenarios optimised on (in sample); any frequency.
    plan
        The member; success is ``plan.success`` unless ``goal`` is given.
    assets
        Assets to allocate between; ``None`` = all of ``scenarios.assets``.
    constraints
        Bounds, monotone equity, max change per year, crypto cap, volatility cap.
    goal
        Success definition; ``None`` = ``plan.success``. ``TerminalWealth`` allows plans
        without withdrawals.
    holdout
        Held-out scenarios (e.g. another generator and seed) for out-of-sample success.
    cash_flows, holdout_cash_flows
        Explicit cash-flow schedules for ``scenarios`` and ``holdout`` (e.g. a member per
        scenario; see ``backtest.simulate.simulate``); ``None``: the plan's own.
    knot_ages, knot_spacing_years
        Ages (years) of the decision knots; default every ``knot_spacing_years`` from
        the start age, plus the retirement age and the last period's age. Use
        ``knot_spacing_years=1`` for one weight vector per year.
    initial
        Starting knot weights (n_knots, n_assets); default the best constant mix of a
        grid of equity shares ``initial_grid_step`` apart (equity assets vs the rest).
    max_iterations
        SCP iterations (each: one conic solve and one simulation).
    trust_radius, min_trust_radius
        Initial and smallest trust radius, largest change of any knot weight per step.
    solvers
        cvxpy solvers in order of preference; later ones are fallbacks.
    name
        Name of the resulting strategy.
    progress
        Show a tqdm progress bar (iterations and the current success probability).

    Returns
    -------
    OptimizationResult

    Raises
    ------
    OptimizationError
        Conflicting constraints (named), an unsupported plan, or every solver failing.
    """
    t_start = time.perf_counter()
    goal = plan.success if goal is None else goal
    _check_goal(plan, goal)
    c = constraints if constraints is not None else GlidePathConstraints()
    names = tuple(assets) if assets is not None else scenarios.assets
    ppy = scenarios.periods_per_year
    n_t = plan.n_periods(ppy)
    sub = scenarios.select(names).head(n_t) if scenarios.n_periods >= n_t else None
    if sub is None:
        raise DataError(
            f"the plan spans {n_t} {scenarios.frequency} periods but the scenarios hold "
            f"{scenarios.n_periods}; generate longer scenarios"
        )
    if not np.all(np.isfinite(sub.returns)):
        raise DataError(
            "the scenarios have missing returns (NaN) for the optimised assets; apply a "
            "missing-data rule (cash or proxy) when generating them"
        )
    if plan.transaction_cost_bps > 0:
        warnings.warn(
            "transaction costs are left out of the linearised wealth model (the engine's "
            "simulation, which accepts or rejects each step, includes them)",
            OptimizationWarning,
            stacklevel=2,
        )
    fallbacks: list[str] = []
    sigma = _annual_covariance(sub, n_t)
    ages = Schedule.from_ages(plan.start_age, plan.end_age, plan.retirement_age, ppy).age_start
    kages = (
        np.asarray(sorted(knot_ages), dtype=np.float64)
        if knot_ages is not None
        else default_knot_ages(plan, ppy, knot_spacing_years)
    )
    s = knot_constraints(names, kages, plan, c, sigma)
    _check_obvious_conflicts(s, sigma, solvers)
    interp = interpolation_matrix(ages, kages)
    n_k, n_a = kages.size, len(names)

    start = (
        np.asarray(initial, dtype=np.float64)
        if initial is not None
        else _initial_knots(sub, plan, goal, s, n_k, initial_grid_step, cash_flows)
    )
    if start.shape != (n_k, n_a):
        raise OptimizationError(
            f"initial knot weights have shape {start.shape}; expected {(n_k, n_a)}"
        )
    z0 = clean_knots(project(start, s.groups, solvers, fallbacks))

    g = _real_growth(sub, n_t)
    if cash_flows is not None:
        cash_flows = check_cash_flows(cash_flows, plan, sub)
    fl = _flows(plan, sub, n_t, not isinstance(goal, FundedRatio), cash_flows)

    def evaluate(knots: FloatArray) -> _Iterate:
        strat = make_glide_path(name, names, kages, knots, plan, ppy)
        p = success_probability(sub, plan, strat, goal, cash_flows)
        x, grad = _margins(g, interp @ knots, plan, fl, goal)
        return _Iterate(knots, p, x, grad, buffered_failure_probability(x))

    subproblem = bpoe_subproblem(sub.n_scenarios, n_k, n_a, lambda y, a: flatten(s.groups(y, a)))

    def propose(cur: _Iterate, rho: float, it: int) -> Proposal:
        jac = np.einsum("nta,tk->nka", cur.gradient, interp)
        subproblem.linearise(cur.margins, jac, cur.knots, rho)
        t_solve = time.perf_counter()
        solver = subproblem.solve(solvers, fallbacks, what=f"SCP step {it}")
        solve_s = time.perf_counter() - t_solve
        knots = subproblem.knots()
        return Proposal(None if knots is None else clean_knots(knots), solver, solve_s)

    def better(new: _Iterate, cur: _Iterate) -> bool:
        # a higher true success, or the same with a lower bPOE (a margin of safety)
        return new.success > cur.success + 1e-12 or (
            new.success >= cur.success - 1e-12 and new.bpoe < cur.bpoe - 1e-9
        )

    first = evaluate(z0)
    bar = tqdm(total=max_iterations, disable=not progress, desc="glide path SCP", unit="it")
    bar.set_postfix(success=f"{first.success:.2%}")

    def show(record: ScpIteration, cur: _Iterate, rho: float) -> None:
        bar.update(1)
        bar.set_postfix(success=f"{cur.success:.2%}", radius=f"{rho:.3g}")

    try:
        run = trust_region_scp(
            first,
            propose,
            evaluate,
            better,
            scores=lambda pt: (pt.success, pt.bpoe),
            max_iterations=max_iterations,
            trust_radius=trust_radius,
            min_trust_radius=min_trust_radius,
            finished=lambda pt: "every in-sample scenario succeeds" if pt.success >= 1.0 else None,
            on_iteration=show,
        )
    finally:
        bar.close()
    z, p = run.best.knots, run.best.success
    solver_used = run.iterations[-1].solver if run.iterations else ""

    path = make_glide_path(name, names, kages, z, plan, ppy)
    oos = None
    if holdout is not None:
        oos = success_probability(holdout.select(names), plan, path, goal, holdout_cash_flows)
    return OptimizationResult(
        glide_path=path,
        assets=names,
        knot_ages=tuple(float(v) for v in kages),
        knot_weights=z,
        ages=ages,
        weights_by_age=interp @ z,
        success_in_sample=float(p),
        success_out_of_sample=None if oos is None else float(oos),
        initial_success=float(first.success),
        initial_weights=first.knots.copy(),
        history=tuple(IterationRecord.of(r) for r in run.iterations),
        solver=solver_used or "CLARABEL",
        solver_fallbacks=tuple(fallbacks),
        seconds=time.perf_counter() - t_start,
        n_scenarios=sub.n_scenarios,
        n_holdout=0 if holdout is None else holdout.n_scenarios,
        goal=goal.name,
        stop_reason=run.stop_reason,
    )
