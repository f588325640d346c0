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

This is the one balance-level account recursion, ``backtest.account.run_balances``, on
the flows of the plan's ``backtest.cashflows.CashFlowRules`` (the plan's, or explicit
per-scenario schedules; :func:`account_flows`), as the engines read them. For
``ConstantReal`` withdrawals ``ws, we`` are the start and end shares of ``spending[t] *
W[t_ret]`` (rate rule) or of ``spending[t]`` (amount rule); a nominal (not indexed)
amount is deflated by ``price[t_ret] / price[t]`` at the start and ``price[t_ret] /
price[t + 1]`` at the end of the period (the same dollars whenever paid). The engine
pays ``min(withdrawal, balance)``; the optimizer's model keeps the *untruncated*
recursion (``run_balances(..., truncate=False)``), whose terminal wealth is negative
exactly when the engine records ruin (after retirement no money comes in and ``G > 0``,
so a negative balance stays negative). ``forward_model`` reproduces
``backtest.simulate.simulate`` wealth to round-off for plans without transaction costs
(tests check 1e-9).

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from backtest.account import AccountFlows, run_balances
from backtest.cashflows import W_CONSTANT, W_NONE, CashFlowRules, cash_flow_rules
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
    ScpRun,
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


def account_flows(
    plan: Plan,
    scenarios: Scenarios,
    model_withdrawals: bool = True,
    rules: CashFlowRules | None = None,
) -> AccountFlows:
    """The plan's flows as the balance recursion (``backtest.account``) pays them.

    Parameters
    ----------
    plan
        The member.
    scenarios
        Their inflation (decimal per period) sizes a withdrawal fixed in nominal dollars.
    model_withdrawals
        False: no withdrawals (a ``FundedRatio`` goal reads the balance at retirement).
    rules
        Explicit cash-flow rules (checked with ``backtest.simulate.check_cash_flows``);
        ``None``: the plan's own.

    Returns
    -------
    AccountFlows
        Real USD per period. Withdrawals are modelled for ``ConstantReal`` rules only
        (others, and an RMD floor, are left out: ``margins_and_gradients`` refuses them
        for a ``MoneyLasts`` goal, and the engine's simulation scores every step).
    """
    rules = cash_flow_rules(plan, scenarios.periods_per_year) if rules is None else rules
    if not (model_withdrawals and rules.withdrawal_code == W_CONSTANT):
        spending = np.zeros_like(np.asarray(rules.spending, dtype=np.float64))
        rules = rules._replace(withdrawal_code=W_NONE, spending=spending)
    return AccountFlows.from_rules(rules._replace(rmd_floor=False), scenarios.inflation)


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
        Real wealth paths (USD of the start date): ``backtest.account.run_balances`` on
        the plan's flows, truncated (``wealth``, the engine's ``simulate(...).wealth`` for
        plans without transaction costs) and untruncated.
    """
    n_t = plan.n_periods(scenarios.periods_per_year)
    if cash_flows is not None:
        cash_flows = check_cash_flows(cash_flows, plan, scenarios)
    flows = account_flows(plan, scenarios, True, cash_flows)
    growth = _portfolio_growth(_real_growth(scenarios, n_t), weights)
    full = run_balances(flows, growth, plan.initial_balance, truncate=False)
    cut = run_balances(flows, growth, plan.initial_balance)
    return ForwardPass(cut.wealth, full.wealth, full.invested, growth, flows.retirement_period)


def _portfolio_growth(g: FloatArray, w: FloatArray) -> FloatArray:
    """``G[s, t] = w[t] . g[s, t]``: real gross return of the mix, (n, T)."""
    return np.einsum("nta,ta->nt", g, np.asarray(w, dtype=np.float64))


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
    flows = account_flows(plan, scenarios, not isinstance(goal, FundedRatio), cash_flows)
    return _margins(g, np.asarray(weights, dtype=np.float64), plan, flows, goal)


def _margins(
    g: FloatArray, w: FloatArray, plan: Plan, flows: AccountFlows, goal: Goal
) -> tuple[FloatArray, FloatArray]:
    """Margins and their adjoint gradients (module docstring) on the untruncated
    ``run_balances`` of ``flows``; ``g`` (n, T, A) real gross asset returns, ``w`` (T, A)."""
    growth = _portfolio_growth(g, w)
    full = run_balances(flows, growth, plan.initial_balance, truncate=False)
    n, n_t, _ = g.shape
    f_keep = 1.0 - flows.fee_per_period
    u, b, t_ret = full.wealth, full.invested, flows.retirement_period
    keep = 1.0 - np.atleast_2d(flows.leakage)  # (1 or n, T)
    w_start, w_end = (np.atleast_2d(x) for x in (flows.withdrawal_start, flows.withdrawal_end))
    w_ret = np.maximum(u[:, min(t_ret, n_t)], 1e-12)
    grad = np.zeros_like(g)
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
            if flows.per_unit_of_balance:
                # withdrawals per unit of W[t_ret]: the start share is invested less
                s_ret = s_ret - mu * (growth[:, t] * f_keep * w_start[:, t] + w_end[:, t])
        mu = mu * growth[:, t] * f_keep * keep[:, t]
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


@dataclass(frozen=True)
class _GlideSearch:
    """The checked, fixed inputs of one glide-path search (built by :func:`_glide_search`).

    ``sub``: the in-sample scenarios of the optimised assets over the plan's periods;
    ``ages`` (T,) and ``knot_ages`` (K,): ages in years; ``interp`` (T, K): knot weights to
    per-period weights; ``growth`` (n, T, A): real gross returns per period; ``flows``: the
    plan's flows as the wealth model pays them, real USD per period.
    """

    name: str
    names: tuple[str, ...]
    plan: Plan
    goal: Goal
    sub: Scenarios
    cash_flows: CashFlowRules | None
    ages: FloatArray
    knot_ages: FloatArray
    interp: FloatArray
    constraints: KnotConstraints
    growth: FloatArray
    flows: AccountFlows

    def glide_path(self, knots: FloatArray) -> GlidePath:
        """The strategy of knot weights ``knots`` (K, A), decimal."""
        ppy = self.sub.periods_per_year
        return make_glide_path(self.name, self.names, self.knot_ages, knots, self.plan, ppy)

    def evaluate(self, knots: FloatArray) -> _Iterate:
        """Exact in-sample success of ``knots`` (by the engine) and the wealth model's
        margins, their gradient and bPOE there."""
        p = success_probability(
            self.sub, self.plan, self.glide_path(knots), self.goal, self.cash_flows
        )
        x, grad = _margins(self.growth, self.interp @ knots, self.plan, self.flows, self.goal)
        return _Iterate(knots, p, x, grad, buffered_failure_probability(x))


def _in_sample(scenarios: Scenarios, names: tuple[str, ...], n_t: int) -> Scenarios:
    """``scenarios`` of the assets ``names`` over the plan's ``n_t`` periods, checked to be
    long enough and complete (no NaN return)."""
    if scenarios.n_periods < n_t:
        raise DataError(
            f"the plan spans {n_t} {scenarios.frequency} periods but the scenarios hold "
            f"{scenarios.n_periods}; generate longer scenarios"
        )
    sub = scenarios.select(names).head(n_t)
    if not np.all(np.isfinite(sub.returns)):
        raise DataError(
            "the scenarios have missing returns (NaN) for the optimised assets; apply a "
            "missing-data rule (cash or proxy) when generating them"
        )
    return sub


def _glide_search(
    scenarios: Scenarios,
    plan: Plan,
    names: tuple[str, ...],
    constraints: GlidePathConstraints,
    goal: Goal,
    cash_flows: CashFlowRules | None,
    knot_ages: Sequence[float] | None,
    knot_spacing_years: float,
    solvers: Sequence[str],
    name: str,
) -> _GlideSearch:
    """Check the inputs of :func:`optimize_glide_path` and build its fixed search inputs.

    Raises on an unsupported goal, short or incomplete scenarios, conflicting constraints
    or cash-flow rules that do not fit the plan; warns that transaction costs are left out
    of the wealth model."""
    _check_goal(plan, goal)
    ppy = scenarios.periods_per_year
    n_t = plan.n_periods(ppy)
    sub = _in_sample(scenarios, names, n_t)
    if plan.transaction_cost_bps > 0:
        warnings.warn(
            "transaction costs are left out of the linearised wealth model (the engine's "
            "simulation, which accepts or rejects each step, includes them)",
            OptimizationWarning,
            stacklevel=3,
        )
    sigma = _annual_covariance(sub, n_t)
    ages = Schedule.from_ages(plan.start_age, plan.end_age, plan.retirement_age, ppy).age_start
    kages = (
        np.asarray(sorted(knot_ages), dtype=np.float64)
        if knot_ages is not None
        else default_knot_ages(plan, ppy, knot_spacing_years)
    )
    s = knot_constraints(names, kages, plan, constraints, sigma)
    _check_obvious_conflicts(s, sigma, solvers)
    if cash_flows is not None:
        cash_flows = check_cash_flows(cash_flows, plan, sub)
    flows = account_flows(plan, sub, not isinstance(goal, FundedRatio), cash_flows)
    interp = interpolation_matrix(ages, kages)
    g = _real_growth(sub, n_t)
    return _GlideSearch(name, names, plan, goal, sub, cash_flows, ages, kages, interp, s, g, flows)


def _starting_knots(
    search: _GlideSearch,
    initial: FloatArray | None,
    grid_step: float,
    solvers: Sequence[str],
    fallbacks: list[str],
) -> FloatArray:
    """The SCP's first knots (K, A): ``initial`` or the best constant mix on a grid of
    equity shares ``grid_step`` apart, projected onto the constraints."""
    n_k, n_a = search.knot_ages.size, len(search.names)
    start = (
        np.asarray(initial, dtype=np.float64)
        if initial is not None
        else _initial_knots(
            search.sub,
            search.plan,
            search.goal,
            search.constraints,
            n_k,
            grid_step,
            search.cash_flows,
        )
    )
    if start.shape != (n_k, n_a):
        raise OptimizationError(
            f"initial knot weights have shape {start.shape}; expected {(n_k, n_a)}"
        )
    return clean_knots(project(start, search.constraints.groups, solvers, fallbacks))


def _proposer(
    search: _GlideSearch, solvers: Sequence[str], fallbacks: list[str]
) -> Callable[[_Iterate, float, int], Proposal]:
    """One SCP step: the bPOE subproblem (built once) linearised at the current knots and
    solved within the trust radius; fallbacks taken are appended to ``fallbacks``."""
    s = search.constraints
    n_k, n_a = search.knot_ages.size, len(search.names)
    subproblem = bpoe_subproblem(
        search.sub.n_scenarios, n_k, n_a, lambda y, a: flatten(s.groups(y, a))
    )

    def propose(cur: _Iterate, rho: float, it: int) -> Proposal:
        jac = np.einsum("nta,tk->nka", cur.gradient, search.interp)
        subproblem.linearise(cur.margins, jac, cur.knots, rho)
        t_solve = time.perf_counter()
        solver = subproblem.solve(solvers, fallbacks, what=f"SCP step {it}")
        solve_s = time.perf_counter() - t_solve
        knots = subproblem.knots()
        return Proposal(None if knots is None else clean_knots(knots), solver, solve_s)

    return propose


def _better(new: _Iterate, cur: _Iterate) -> bool:
    """Accept ``new``: a higher true success, or the same with a lower bPOE (a margin of
    safety)."""
    return new.success > cur.success + 1e-12 or (
        new.success >= cur.success - 1e-12 and new.bpoe < cur.bpoe - 1e-9
    )


def _run_scp(
    first: _Iterate,
    evaluate: Callable[[FloatArray], _Iterate],
    propose: Callable[[_Iterate, float, int], Proposal],
    max_iterations: int,
    trust_radius: float,
    min_trust_radius: float,
    progress: bool,
) -> ScpRun[_Iterate]:
    """The trust-region SCP from ``first``, with a tqdm bar of the current success."""
    bar = tqdm(total=max_iterations, disable=not progress, desc="glide path SCP", unit="it")
    bar.set_postfix(success=f"{first.success:.2%}")

    def show(record: ScpIteration, cur: _Iterate, rho: float) -> None:
        bar.update(1)
        bar.set_postfix(success=f"{cur.success:.2%}", radius=f"{rho:.3g}")

    try:
        return trust_region_scp(
            first,
            propose,
            evaluate,
            _better,
            scores=lambda pt: (pt.success, pt.bpoe),
            max_iterations=max_iterations,
            trust_radius=trust_radius,
            min_trust_radius=min_trust_radius,
            finished=lambda pt: "every in-sample scenario succeeds" if pt.success >= 1.0 else None,
            on_iteration=show,
        )
    finally:
        bar.close()


def _result(
    search: _GlideSearch,
    run: ScpRun[_Iterate],
    first: _Iterate,
    holdout: Scenarios | None,
    holdout_cash_flows: CashFlowRules | None,
    fallbacks: list[str],
    t_start: float,
) -> OptimizationResult:
    """The search's result: the best knots as a strategy, scored out of sample on
    ``holdout`` when given; ``t_start``: ``time.perf_counter()`` at the search's start."""
    z, p = run.best.knots, run.best.success
    solver_used = run.iterations[-1].solver if run.iterations else ""
    path = search.glide_path(z)
    oos = None
    if holdout is not None:
        oos = success_probability(
            holdout.select(search.names), search.plan, path, search.goal, holdout_cash_flows
        )
    return OptimizationResult(
        glide_path=path,
        assets=search.names,
        knot_ages=tuple(float(v) for v in search.knot_ages),
        knot_weights=z,
        ages=search.ages,
        weights_by_age=search.interp @ z,
        success_in_sample=float(p),
        success_out_of_sample=None if oos is None else float(oos),
        initial_success=float(first.success),
        initial_weights=first.knots.copy(),
        history=tuple(IterationRecord.of(r) for r in run.iterations),
        solver=solver_used or "CLARABEL",
        solver_fallbacks=tuple(fallbacks),
        seconds=time.perf_counter() - t_start,
        n_scenarios=search.sub.n_scenarios,
        n_holdout=0 if holdout is None else holdout.n_scenarios,
        goal=search.goal.name,
        stop_reason=run.stop_reason,
    )


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
    names = tuple(assets) if assets is not None else scenarios.assets
    search = _glide_search(
        scenarios,
        plan,
        names,
        constraints if constraints is not None else GlidePathConstraints(),
        goal,
        cash_flows,
        knot_ages,
        knot_spacing_years,
        solvers,
        name,
    )
    fallbacks: list[str] = []
    z0 = _starting_knots(search, initial, initial_grid_step, solvers, fallbacks)
    propose = _proposer(search, solvers, fallbacks)
    first = search.evaluate(z0)
    run = _run_scp(
        first, search.evaluate, propose, max_iterations, trust_radius, min_trust_radius, progress
    )
    return _result(search, run, first, holdout, holdout_cash_flows, fallbacks, t_start)
