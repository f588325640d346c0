"""Glide-path search: maximise a plan's probability of success, or the certainty equivalent
of its retirement income, by sequential convex programming.

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

CE objective (``objective="ce"``, issue 23)
-------------------------------------------
Maximise the certainty equivalent (CE) of real retirement income under
``backtest.outcomes.IncomePreferences`` (CRRA ``gamma``, default 5; optional loss aversion
below a reference income; optional warm-glow bequest), valued once, by
``backtest.outcomes.preference_certainty_equivalent`` (:class:`IncomeValuation`):

* income in retirement year ``y`` of scenario ``s`` is ``floor + paid[s, y]``, the
  withdrawals the engine actually paid that year (``min(withdrawal, balance)``; 0 after
  ruin), summed by year as the tear sheet does (``backtest.report.income.annual_income``);
  ``floor`` is ``income_floor`` (real USD a year), else the tear sheet's rule
  (``backtest.report.income.income_floor``: 10 % of the planned first-year withdrawal);
* years weigh ``backtest.outcomes.lifetime_weights``: every year to the plan's end (the
  plan has no mortality setting), discounted at ``preferences.discount_rate``;
* the loss reference is ``reference_replacement`` x the planned first-year withdrawal
  (real USD a year); the bequest is the real wealth at the plan's end, weighted as the
  year after the last;
* the floor and the reference are read on the equal-weight constant mix's simulation
  and held fixed through the search (for an ``amount=`` withdrawal they are the same on
  every path; for a ``rate=`` one the planned withdrawal depends on the balance at
  retirement, and a moving floor would change the objective between candidates).

Only plans paying ``ConstantReal`` withdrawals under a ``MoneyLasts`` goal are searched:
a ``FundedRatio`` or ``TerminalWealth`` goal is accumulation-only (the model pays no
withdrawals for it) and ``"ce"`` refuses it (``OptimizationError`` naming the fix).

Each step linearises the mean value ``V = mean_s (sum_y w_y v(c[s, y]) + d theta
u(b[s] + kappa)) / sum_y w_y`` (``v(CE) = V``) in the knots. Its gradient comes from one
forward and one reverse pass of the same untruncated recursion as the margins
(:func:`_income_model`): the engine pays every withdrawal in full up to the first one the
untruncated balance cannot cover, pays what is there then (``W[t] (1 - L) + cs`` at a
period's start, ``W[t + 1] + we`` at its end) and nothing after, so ``dV/dw`` is
``v'(c)`` times the derivative of that partial payment (and, for a ``rate=`` rule, of
the balance at retirement that sizes every payment), plus the bequest's term: a
subgradient of the piecewise-smooth ``V`` (tests check it against finite differences).
The search's step uses the *chord* slope ``(v(c + wanted - paid) - v(c - paid)) /
wanted`` for the cut payment instead of ``v'(c)``: the mean of ``v'`` over where in the
payment the money runs out, which keeps one scenario that runs out just after a payment
starts (``v'`` near the floor, enormous at gamma 5) from steering the step alone. The
step maximises the linear model within the trust region and the same constraints
(``optimize.scp.linear_subproblem``, an LP), and is accepted only when the engine's
simulated CE on the same scenarios (common random numbers) rises; the start is the best
constant mix of the grid by CE. Both objectives report the CE (in sample and held out,
and at gamma 2, 5 and 10) with its standard error by the delta method, ``se(V) /
v'(CE)``, as ``optimize.fund_design.ce_and_se``.

On a backend
------------
With ``map_fn`` (``optimize.baselines.MapFn``, e.g. ``glidelab.backends.
ordered_map(backend)``) every evaluation of the search (the grid's mixes, each iterate,
and for ``"ce"`` the step's income model in two rounds: incomes, then the adjoint's
per-scenario coefficients at their median) runs as tasks of ``chunk_scenarios`` in-sample
scenarios each, the search's fixed inputs sent as the shared object of each call. Every
per-scenario figure depends on its scenario only, and every reduction (the means, bPOE,
the CE and its SE, the median, the gradient's sums) is taken once, here, on the rows
joined in order: the result is bit-identical to the in-process search whatever the chunk
size or the number of workers (tests/optimize/test_glidepath_backend.py). The
subproblem is solved here.
"""

from __future__ import annotations

import dataclasses
import html
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from backtest.account import AccountFlows, run_balances
from backtest.cashflows import W_CONSTANT, W_NONE, CashFlowRules, cash_flow_rules
from backtest.data import asset_roles, assets_with_role
from backtest.errors import DataError, PlanError
from backtest.outcomes import (
    RISK_AVERSIONS,
    IncomePreferences,
    bequest_utility,
    income_utility,
    lifetime_weights,
    preference_certainty_equivalent,
)
from backtest.plan import ConstantReal, FundedRatio, MoneyLasts, Plan
from backtest.report.income import annual_income, planned_income
from backtest.report.income import income_floor as tearsheet_income_floor
from backtest.scenarios import Scenarios
from backtest.simulate import SimulationResult, check_cash_flows, simulate
from backtest.types import AssetRole, BoolArray, FloatArray, IntArray
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
    linear_subproblem,
    project,
    solve_with_fallbacks,
    trust_region_scp,
)
from strategies.base import RebalanceRule, Schedule
from strategies.target_date import GlidePath

if TYPE_CHECKING:
    from optimize.baselines import MapFn

#: Asset roles (``backtest.data.asset_role``) that count as equity, i.e. risky growth
#: assets, for ``monotone_equity`` and the starting mixes, unless the caller names them.
EQUITY_ROLES: tuple[AssetRole, ...] = ("equity", "real_asset", "crypto")
#: The embedded series with those roles, derived from the registry (not a list of its own).
DEFAULT_EQUITY_ASSETS: tuple[str, ...] = tuple(
    name for role in EQUITY_ROLES for name in assets_with_role(role)
)
#: Scenarios per ``map_fn`` task when a search's iterates are scored on a backend: fixed,
#: so that the answer never depends on how many workers run the tasks.
SCENARIO_CHUNK = 2_000


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
    """One SCP iteration: the candidate's true success (and, for the ``"ce"`` objective,
    its certainty-equivalent income, real USD a year) and what happened to it."""

    iteration: int
    success: float
    bpoe: float
    trust_radius: float
    accepted: bool
    solver: str
    solve_seconds: float
    seconds: float
    ce: float = math.nan

    @classmethod
    def of(cls, record: ScpIteration) -> IterationRecord:
        """From the shared driver's record, whose scores are (success, bPOE) or, for the
        ``"ce"`` objective, (success, bPOE, CE)."""
        return cls(
            iteration=record.iteration,
            success=float(record.scores[0]),
            bpoe=float(record.scores[1]),
            trust_radius=record.trust_radius,
            accepted=record.accepted,
            solver=record.solver,
            solve_seconds=record.solve_seconds,
            seconds=record.seconds,
            ce=float(record.scores[2]) if len(record.scores) > 2 else math.nan,
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
    objective
        What was maximised: ``"success"`` or ``"ce"``.
    preferences
        How income is valued (the CE figures' preferences), or ``None`` when the plan
        pays no income in retirement (no CE figures then).
    income_floor
        Real USD a year every retirement year pays at least in the CE figures.
    ce_in_sample, ce_in_sample_se
        Certainty-equivalent real income of the result under ``preferences``, real USD a
        year, in sample, and its standard error (delta method); NaN without income.
    ce_out_of_sample, ce_out_of_sample_se
        The same on the held-out scenarios, or ``None``.
    initial_ce
        In-sample CE of the starting path, real USD a year.
    ce_by_gamma, ce_by_gamma_out_of_sample
        ``{gamma: (CE, SE)}`` at the report's risk aversions
        (``backtest.outcomes.RISK_AVERSIONS``: 2, 5, 10), ``preferences`` otherwise,
        real USD a year, in sample and held out (empty without income or holdout).
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
    objective: str = "success"
    preferences: IncomePreferences | None = None
    income_floor: float = math.nan
    ce_in_sample: float = math.nan
    ce_in_sample_se: float = math.nan
    ce_out_of_sample: float | None = None
    ce_out_of_sample_se: float | None = None
    initial_ce: float = math.nan
    ce_by_gamma: Mapping[float, tuple[float, float]] = field(default_factory=dict)
    ce_by_gamma_out_of_sample: Mapping[float, tuple[float, float]] = field(default_factory=dict)

    @property
    def mean_iteration_seconds(self) -> float:
        """Average wall time of one SCP iteration (linearise + solve + simulate), s."""
        if not self.history:
            return 0.0
        return float(np.mean([h.seconds for h in self.history]))

    # ----------------------------------------------------------------- notebook views

    def to_frame(self) -> pd.DataFrame:
        """``weights_by_age`` labelled: target weights (decimal) by age x asset.

        Index ``age`` (years, the start of each period); one column per asset. The array
        attribute ``weights_by_age`` stays as it is.
        """
        return pd.DataFrame(
            np.asarray(self.weights_by_age, dtype=np.float64),
            index=pd.Index(np.asarray(self.ages, dtype=np.float64), name="age"),
            columns=pd.Index(list(self.assets), name="asset"),
        )

    def _summary_lines(self) -> list[str]:
        """A few lines for a notebook: goal, assets, scenarios, success in and out of sample."""
        n = self.n_scenarios

        def share(p: float, m: int) -> str:
            se = math.sqrt(p * (1.0 - p) / m) if m > 0 else math.nan
            return f"{100 * p:.1f}% (s.e. {100 * se:.1f} pp if the scenarios are independent)"

        out = self.success_out_of_sample
        held = f"{share(out, self.n_holdout)} on {self.n_holdout}" if out is not None else "none"
        return [
            f"OptimizationResult: glide path on {', '.join(self.assets)}, "
            f"{len(self.knot_ages)} knots at ages {self.knot_ages[0]:g}-{self.knot_ages[-1]:g}",
            f"goal {self.goal}, objective {self.objective}; {n} scenarios in sample",
            f"success in sample {share(self.success_in_sample, n)}, "
            f"from {100 * self.initial_success:.1f}% at the start",
            f"success out of sample: {held}",
            f"{len(self.history)} iterations in {self.seconds:.1f} s, solver {self.solver}, "
            f"stopped: {self.stop_reason}",
        ]

    def __repr__(self) -> str:
        return "\n".join(self._summary_lines())

    def _repr_html_(self) -> str:
        head, *rest = (html.escape(line) for line in self._summary_lines())
        return f"<p><b>{head}</b></p><ul>" + "".join(f"<li>{x}</li>" for x in rest) + "</ul>"


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


# ---------------------------------------------------------------------- income (CE)

#: What :func:`optimize_glide_path` maximises: the plan's probability of success, or the
#: certainty equivalent of real retirement income (module docstring, "CE objective").
Objective = Literal["success", "ce"]
OBJECTIVES: tuple[Objective, ...] = ("success", "ce")


@dataclass(frozen=True)
class IncomeValuation:
    """How the ``"ce"`` objective values a plan's retirement income (module docstring).

    Attributes
    ----------
    prefs
        The member's preferences (``backtest.outcomes.IncomePreferences``).
    floor
        Real USD a year every retirement year pays at least (Social Security, a pension):
        income = floor + withdrawals paid in the year.
    reference
        Loss-aversion reference income, real USD a year (``reference_replacement`` x the
        planned first-year withdrawal), or ``None`` without loss aversion.
    year_weights
        Weight of each retirement year, (Y,): ``lifetime_weights`` of every year to the
        plan's end (no mortality in the plan) at ``prefs.discount_rate``.
    end_weight
        Weight of the bequest, the real wealth left at the plan's end (year ``Y``).
    retirement_period, periods_per_year
        First retirement period; 1 (annual) or 12 (monthly) periods a year.
    """

    prefs: IncomePreferences
    floor: float
    reference: float | None
    year_weights: FloatArray
    end_weight: float
    retirement_period: int
    periods_per_year: int

    def with_gamma(self, gamma: float) -> IncomeValuation:
        """The same valuation at risk aversion ``gamma`` (the report's 2, 5 and 10)."""
        return dataclasses.replace(self, prefs=dataclasses.replace(self.prefs, gamma=gamma))

    def incomes(self, paid: FloatArray) -> FloatArray:
        """Real income per scenario and retirement year, (n, Y), real USD a year: the
        floor plus the withdrawals ``paid`` per period (n, T), real USD, summed by year."""
        ppy, t0, n_y = self.periods_per_year, self.retirement_period, self.year_weights.size
        p = np.asarray(paid, dtype=np.float64)[:, t0 : t0 + n_y * ppy]
        return self.floor + p.reshape(p.shape[0], n_y, ppy).sum(axis=2)

    def incomes_of(self, res: SimulationResult) -> FloatArray:
        """:meth:`incomes` of an engine simulation (the tear sheet's ``annual_income``)."""
        return self.floor + annual_income(res)[:, : self.year_weights.size]

    def _reference(self) -> float | None:
        return self.reference if self.prefs.loss_aversion > 0 else None

    def ce(self, incomes: FloatArray, terminal_wealth: FloatArray) -> float:
        """Certainty-equivalent income, real USD a year:
        ``backtest.outcomes.preference_certainty_equivalent`` of ``incomes`` (n, Y) with
        the bequest ``terminal_wealth`` (n,), real USD."""
        bequest = self.prefs.bequest_weight > 0
        n = incomes.shape[0]
        return preference_certainty_equivalent(
            incomes,
            self.prefs,
            np.broadcast_to(self.year_weights, incomes.shape),
            reference=self._reference(),
            bequests=terminal_wealth if bequest else None,
            death_weights=np.full(n, self.end_weight) if bequest else None,
        )

    def values(self, incomes: FloatArray, terminal_wealth: FloatArray, scale: float) -> FloatArray:
        """Each scenario's value per unit of year weight, (n,), utility at ``scale`` (real
        USD a year): ``(sum_y w_y v(c_y) + d theta u(b + kappa)) / sum_y w_y``; their mean
        is ``v(CE)``."""
        v = income_utility(incomes, self.prefs, scale, self._reference()) @ self.year_weights
        if self.prefs.bequest_weight > 0:
            v = v + self.end_weight * bequest_utility(terminal_wealth, self.prefs, scale)
        return np.asarray(v / self.year_weights.sum(), dtype=np.float64)

    def values_of_year(self, income: FloatArray, scale: float) -> FloatArray:
        """Period utility ``v(c)`` of real incomes (USD a year) at ``scale``."""
        return np.asarray(income_utility(income, self.prefs, scale, self._reference()))

    def marginal(self, income: FloatArray, scale: float) -> FloatArray:
        """``v'(c)``, per real USD a year, of :meth:`values`' period utility at ``scale``
        (loss aversion multiplies it by ``1 + lambda`` below the reference)."""
        c = np.asarray(income, dtype=np.float64)
        du = (c / scale) ** (-self.prefs.gamma) / scale
        ref = self._reference()
        return du if ref is None else du * np.where(c < ref, 1.0 + self.prefs.loss_aversion, 1.0)

    def ce_and_se(self, incomes: FloatArray, terminal_wealth: FloatArray) -> tuple[float, float]:
        """:meth:`ce` and its standard error, real USD a year: the delta method,
        ``se(mean value) / u'(CE)``, with ``se`` over scenarios and ``u'`` the plain CRRA
        slope (the CE is valued without the loss term: ``backtest.outcomes``)."""
        ce = self.ce(incomes, terminal_wealth)
        scale = float(np.median(incomes))
        v = self.values(incomes, terminal_wealth, scale)
        se_v = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else math.nan
        return ce, se_v / float((ce / scale) ** (-self.prefs.gamma) / scale)


def _pays_income(plan: Plan) -> bool:
    return plan.withdrawal is not None and plan.retirement_age < plan.end_age


def income_valuation(
    plan: Plan,
    reference_run: SimulationResult,
    prefs: IncomePreferences,
    floor: float | None = None,
) -> IncomeValuation:
    """The :class:`IncomeValuation` of ``plan`` under ``prefs``.

    ``floor``: real USD a year, > 0; ``None`` is the tear sheet's rule
    (``backtest.report.income.income_floor``: 10 % of the planned first-year withdrawal)
    read on ``reference_run``, a simulation of the plan, as is the loss-aversion
    reference (``reference_replacement`` x that planned withdrawal). For an ``amount=``
    withdrawal both are the same on every path; for a ``rate=`` one they depend on the
    balance at retirement, so the search reads them once, on a fixed reference path.
    """
    ppy = reference_run.schedule.periods_per_year
    t_ret = reference_run.retirement_period
    n_years = (plan.n_periods(ppy) - t_ret) // ppy
    if n_years < 1:
        raise OptimizationError(
            "objective='ce' values the income of whole retirement years, and the plan has "
            "none; give it an end_age at least a year after its retirement_age"
        )
    if floor is None:
        floor = tearsheet_income_floor([reference_run])
    elif not (math.isfinite(floor) and floor > 0):
        raise OptimizationError(
            f"income_floor={floor!r} must be > 0 real USD a year (what the member keeps when "
            "the account pays nothing: Social Security, a pension); None uses 10 % of the "
            "planned first-year withdrawal"
        )
    reference = None
    if prefs.loss_aversion > 0 and prefs.reference_replacement is not None:
        reference = prefs.reference_replacement * planned_income(reference_run)
    w = lifetime_weights(np.ones(n_years + 1), prefs.discount_rate)
    return IncomeValuation(prefs, float(floor), reference, w[:-1], float(w[-1]), t_ret, ppy)


@dataclass(frozen=True)
class IncomeModel:
    """The ``"ce"`` objective on the wealth model at one set of weights.

    ``ce``: certainty equivalent of the truncated account (the engine's, without
    transaction costs), real USD a year; ``value``: the mean of
    :meth:`IncomeValuation.values` at ``scale`` (real USD a year, the median income unless
    given); ``gradient``: ``d value / d w[t, a]``, (T, A), a subgradient where a payment
    is cut by ruin or income crosses the loss reference.
    """

    ce: float
    value: float
    gradient: FloatArray
    scale: float


def income_ce_and_gradient(
    scenarios: Scenarios,
    plan: Plan,
    weights: FloatArray,
    valuation: IncomeValuation,
    cash_flows: CashFlowRules | None = None,
    scale: float | None = None,
) -> IncomeModel:
    """The ``"ce"`` objective and its adjoint gradient at per-period ``weights`` (T, A),
    decimal (:class:`IncomeModel`); scenarios, plan and cash flows as in
    :func:`margins_and_gradients`."""
    _check_ce(plan, plan.success)
    n_t = plan.n_periods(scenarios.periods_per_year)
    if cash_flows is not None:
        cash_flows = check_cash_flows(cash_flows, plan, scenarios)
    flows = account_flows(plan, scenarios, True, cash_flows)
    g = _real_growth(scenarios, n_t)
    return _income_model(g, np.asarray(weights, dtype=np.float64), plan, flows, valuation, scale)


def _first(mask: FloatArray | BoolArray, n_t: int) -> FloatArray:
    """First column where ``mask`` (n, T) holds, per row; ``n_t`` where it never does."""
    m = np.asarray(mask, dtype=bool)
    return np.where(m.any(axis=1), m.argmax(axis=1), n_t)


def _breaks(full: Any) -> tuple[IntArray, BoolArray]:
    """Per scenario, the period of the first withdrawal share that the untruncated balance
    cannot cover (``T`` if none) and whether it is the period's start share."""
    n_t = full.invested.shape[1]
    t_s = _first(full.invested < 0, n_t)  # the start share of t_s breaks
    t_e = _first(full.wealth[:, 1:] < 0, n_t)  # the end share of t_e breaks
    start_break = t_s <= t_e
    return np.where(start_break, t_s, t_e), start_break


def _income_sources(
    lam: FloatArray,
    full: Any,
    flows: AccountFlows,
    shares: tuple[FloatArray, FloatArray],
    lam_break: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Where the income's value meets the untruncated recursion: ``d value / d W[t]``
    held directly (n, T + 1) and ``d value / d W[t_ret]`` through a ``rate=`` rule's
    withdrawals (n,), from ``lam = d value / d paid`` (n, T).

    The engine pays every withdrawal in full up to the first share that the untruncated
    balance cannot cover (its *break*); that share pays what is there (``W[t] (1 - L) +
    cs`` at the start of period ``t``, ``W[t + 1] + we`` at its end) and nothing is paid
    after it (no money comes in after retirement). ``lam_break`` (n,) replaces ``lam`` at
    the break (the chord slope of :func:`_income_model`)."""
    n, n_t = lam.shape
    ws, we = shares
    t_b, start_break = _breaks(full)
    rows = np.arange(n)
    hit = t_b < n_t
    lam_w = np.zeros((n, n_t + 1))
    keep = np.broadcast_to(1.0 - np.atleast_2d(flows.leakage), (n, n_t))
    at_break = lam[rows, np.minimum(t_b, n_t - 1)] if lam_break is None else lam_break
    lam_b = np.where(hit, at_break, 0.0)
    s_rows, e_rows = rows[hit & start_break], rows[hit & ~start_break]
    lam_w[s_rows, t_b[s_rows]] += lam_b[s_rows] * keep[s_rows, t_b[s_rows]]
    lam_w[e_rows, t_b[e_rows] + 1] += lam_b[e_rows]
    lam_base = np.zeros(n)
    if flows.per_unit_of_balance:  # paid in full = base x share before the break
        before = np.arange(n_t)[None, :] < t_b[:, None]
        lam_base = (lam * (ws + we) * before).sum(axis=1)
        te = np.minimum(t_b[e_rows], n_t - 1)
        lam_base[e_rows] += lam_b[e_rows] * (ws[e_rows, te] + we[e_rows, te])
    return lam_w, lam_base


def _income_model(
    g: FloatArray,
    w: FloatArray,
    plan: Plan,
    flows: AccountFlows,
    val: IncomeValuation,
    scale: float | None = None,
    chord: bool = False,
) -> IncomeModel:
    """:func:`income_ce_and_gradient` on real gross asset returns ``g`` (n, T, A).

    ``chord=True`` (the search's model) values the payment cut by ruin at the chord slope
    of its year's utility over that payment, ``(v(c + wanted - paid) - v(c - paid)) /
    wanted``, instead of ``v'(c)``: the mean of ``v'`` over where in the payment the money
    runs out, so one scenario that runs out just after a payment starts (``v'`` of the
    floor, huge at high gamma) does not steer the step alone. The value and CE are
    unchanged; only the gradient is this smoothed one."""
    paths = _income_paths(g, w, plan, flows, val)
    inc, bequest = paths.incomes, paths.bequest
    ce = val.ce(inc, bequest)
    sc = float(np.median(inc)) if scale is None else float(scale)
    value = float(val.values(inc, bequest, sc).mean())
    total = val.year_weights.sum() * g.shape[0]
    coef = _income_coefficients(paths, flows, val, sc, total, chord)
    return IncomeModel(ce=ce, value=value, gradient=_weighted_growth(coef, g), scale=sc)


@dataclass(frozen=True)
class _IncomePaths:
    """The wealth model's paths at one set of weights: portfolio growth (n, T), the
    untruncated and the truncated (engine) ``run_balances``, real incomes (n, Y), USD a
    year, and the bequest (n,), real USD."""

    growth: FloatArray
    full: Any
    cut: Any
    incomes: FloatArray
    bequest: FloatArray


def _income_paths(
    g: FloatArray, w: FloatArray, plan: Plan, flows: AccountFlows, val: IncomeValuation
) -> _IncomePaths:
    """:class:`_IncomePaths` of weights ``w`` (T, A) on real gross returns ``g`` (n, T, A);
    each scenario's row depends on that scenario only."""
    growth = _portfolio_growth(g, w)
    full = run_balances(flows, growth, plan.initial_balance, truncate=False)
    cut = run_balances(flows, growth, plan.initial_balance)
    return _IncomePaths(growth, full, cut, val.incomes(cut.withdrawals), cut.wealth[:, -1])


def _income_coefficients(
    paths: _IncomePaths,
    flows: AccountFlows,
    val: IncomeValuation,
    sc: float,
    total: float,
    chord: bool,
) -> FloatArray:
    """Per scenario and period, (T, n), the weight of the real gross asset returns in
    ``d value / d w`` (:func:`_income_adjoint`), for the mean value at ``scale`` ``sc``
    (real USD a year) over ``total`` = (sum of year weights) x (number of scenarios of the
    whole search): each row depends on its own scenario and these two numbers only."""
    growth, full, cut = paths.growth, paths.full, paths.cut
    inc, bequest = paths.incomes, paths.bequest
    n, n_t = growth.shape
    # d value / d paid per period: the year's weight x v'(income of that year)
    lam_y = val.year_weights * val.marginal(inc, sc) / total  # (n, Y)
    ppy, t0 = val.periods_per_year, val.retirement_period
    lam = np.zeros((n, n_t))
    lam[:, t0 : t0 + lam_y.shape[1] * ppy] = np.repeat(lam_y, ppy, axis=1)
    ws, we = (np.broadcast_to(np.atleast_2d(x), (n, n_t)) for x in flows[2:4])
    lam_break = None
    if chord:
        t_b = np.minimum(_breaks(full)[0], n_t - 1)
        rows = np.arange(n)
        y_b = np.clip((t_b - t0) // ppy, 0, lam_y.shape[1] - 1)
        c_b, paid, wanted = inc[rows, y_b], cut.withdrawals[rows, t_b], cut.wanted[rows, t_b]
        rise = val.values_of_year(c_b + wanted - paid, sc) - val.values_of_year(c_b - paid, sc)
        slope = np.divide(rise, wanted, out=np.zeros(n), where=wanted > 0)
        lam_break = val.year_weights[y_b] * slope / total
    lam_w, lam_base = _income_sources(lam, full, flows, (ws, we), lam_break)
    if val.prefs.bequest_weight > 0:
        left = bequest > 0
        du = val.prefs.bequest_weight * ((bequest + val.prefs.bequest_shifter) / sc) ** (
            -val.prefs.gamma
        )
        lam_w[:, -1] += np.where(left, val.end_weight * du / sc / total, 0.0)
    return _income_adjoint(growth, full.invested, flows, lam_w, lam_base)


def _weighted_growth(coef: FloatArray, g: FloatArray) -> FloatArray:
    """``grad[t] = coef[t] @ g[:, t]``: the (T, A) gradient from per-scenario
    coefficients ``coef`` (T, n) and real gross asset returns ``g`` (n, T, A), summed
    over scenarios (one sum per period, on every scenario at once)."""
    n_t, n_a = g.shape[1], g.shape[2]
    grad = np.zeros((n_t, n_a))
    for t in range(n_t):
        grad[t] = coef[t] @ g[:, t]
    return grad


def _income_adjoint(
    growth: FloatArray,
    invested: FloatArray,
    flows: AccountFlows,
    lam_w: FloatArray,
    lam_base: FloatArray,
) -> FloatArray:
    """Per period and scenario, (T, n), the coefficient ``c`` of ``d value / d w[t, a] =
    sum_s c[t, s] g[s, t, a]`` (:func:`_weighted_growth`) from the sources of
    :func:`_income_sources` by one reverse pass over the untruncated recursion (as
    :func:`_margins`)."""
    n, n_t = growth.shape
    f_keep = 1.0 - flows.fee_per_period
    keep = np.broadcast_to(1.0 - np.atleast_2d(flows.leakage), (n, n_t))
    ws, we = (np.broadcast_to(np.atleast_2d(x), (n, n_t)) for x in flows[2:4])
    t_ret = flows.retirement_period
    mu = lam_w[:, n_t].copy()
    s_ret = lam_base.copy()
    coef = np.zeros((n_t, n))
    for t in range(n_t - 1, -1, -1):
        if t == t_ret - 1:
            mu = mu + s_ret
        coef[t] = mu * invested[:, t] * f_keep
        if flows.per_unit_of_balance and t >= t_ret:
            s_ret = s_ret - mu * (growth[:, t] * f_keep * ws[:, t] + we[:, t])
        mu = mu * growth[:, t] * f_keep * keep[:, t] + lam_w[:, t]
    return coef


def _check_ce(plan: Plan, goal: Goal) -> None:
    """The ``"ce"`` objective needs a plan that pays ConstantReal withdrawals in
    retirement, searched under its ``MoneyLasts`` success."""
    if not isinstance(goal, MoneyLasts):
        raise OptimizationError(
            f"objective='ce' values the withdrawals paid in retirement, and goal "
            f"{goal.name!r} is accumulation-only (the search models no withdrawals for it); "
            "use objective='success' for it, or give the plan a ConstantReal withdrawal "
            "with a MoneyLasts success and leave goal=None"
        )
    _check_goal(plan, goal)


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
    jacobian: FloatArray  # (n, K, A) d margins / d knot weights
    bpoe: float


@dataclass(frozen=True)
class _CeIterate:
    """Knots of the ``"ce"`` search and their exact in-sample scores (by the engine):
    success and bPOE (recorded) and the certainty-equivalent income with its standard
    error, real USD a year (maximised)."""

    knots: FloatArray  # (K, A), decimal
    success: float
    bpoe: float
    ce: float
    ce_se: float


def _initial_knots(
    sub: Scenarios,
    plan: Plan,
    goal: Goal,
    s: KnotConstraints,
    n_knots: int,
    step: float,
    cash_flows: CashFlowRules | None = None,
    score: Callable[[list[FloatArray]], list[float]] | None = None,
) -> FloatArray:
    """Best constant mix (grid of equity shares, ``step`` apart) on ``sub``, as knots:
    the highest success, or the highest score when ``score`` is given (every mix's
    knots at once, e.g. their CE or their success on a backend)."""
    n_a = len(s.assets)
    eq = np.zeros(n_a)
    eq[list(s.equity)] = 1.0
    if 0 < eq.sum() < n_a:
        risky, safe = eq / eq.sum(), (1 - eq) / (1 - eq).sum()
        candidates = [e * risky + (1 - e) * safe for e in np.arange(0, 1 + step / 2, step)]
    else:
        candidates = [np.full(n_a, 1.0 / n_a)]
    ppy = sub.periods_per_year
    knots = [np.tile(mix, (n_knots, 1)) for mix in candidates]
    if score is not None:
        points = score(knots)
    else:
        points = [
            success_probability(
                sub,
                plan,
                make_glide_path("constant", s.assets, s.knot_ages, z, plan, ppy),
                goal,
                cash_flows,
            )
            for z in knots
        ]
    best, best_key = candidates[0], (-math.inf, 0.0)
    for mix, p in zip(candidates, points, strict=True):
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

    def simulate(self, knots: FloatArray) -> SimulationResult:
        """The engine's in-sample simulation of ``knots`` (K, A)."""
        return simulate(self.sub, self.plan, self.glide_path(knots), cash_flows=self.cash_flows)

    def rows(self, start: int, stop: int) -> _GlideSearch:
        """The same search on the in-sample scenarios ``start:stop`` only (a chunk)."""
        cut, n = slice(start, stop), self.sub.n_scenarios
        sub = self.sub.take(cut)
        # growth shipped empty (``_Scorer.shipped``): the chunk's rows from its scenarios
        g = self.growth[cut] if self.growth.size else _real_growth(sub, sub.n_periods)
        cash = self.cash_flows
        if cash is not None:
            per = (cash.contributions, cash.leakage, cash.spending)
            c, lk, sp = (_rows_of(x, cut, n) for x in per)
            cash = cash._replace(contributions=c, leakage=lk, spending=sp)
        f = self.flows
        cs, ce, ws, we, lk = (_rows_of(x, cut, n) for x in f[:5])
        flows = f._replace(
            contributions_start=cs,
            contributions_end=ce,
            withdrawal_start=ws,
            withdrawal_end=we,
            leakage=lk,
        )
        return dataclasses.replace(self, sub=sub, cash_flows=cash, growth=g, flows=flows)

    def scores(
        self,
        knots: FloatArray,
        val: IncomeValuation | None,
        jacobian: bool,
        weights: FloatArray | None = None,
    ) -> _Scores:
        """Per-scenario scores of ``knots`` (K, A) on this search's scenarios: the engine's
        success, the wealth model's margins (and their knot Jacobian when ``jacobian``),
        and under ``val`` the incomes and bequests. ``weights``: the per-period weights
        ``interp @ knots`` (T, A) when already taken (by the client of a backend, so that
        no worker's BLAS threads can change them)."""
        res = self.simulate(knots)
        w = self.interp @ knots if weights is None else weights
        x, grad = _margins(self.growth, w, self.plan, self.flows, self.goal)
        jac = np.einsum("nta,tk->nka", grad, self.interp) if jacobian else None
        inc = None if val is None else val.incomes_of(res)
        left = None if val is None else np.asarray(res.terminal_wealth, dtype=np.float64)
        return _Scores(np.asarray(goal_success(res, self.goal)), x, jac, inc, left)


def _rows_of(x: FloatArray, cut: slice, n: int) -> FloatArray:
    """Rows ``cut`` of a per-scenario schedule (n, T); a shared one ((T,) or (1, T)) as
    it is."""
    a = np.asarray(x)
    return a[cut] if a.ndim == 2 and a.shape[0] == n and n > 1 else a


@dataclass(frozen=True)
class _Scores:
    """Per-scenario scores of one set of knots, rows in scenario order (:meth:`_GlideSearch.
    scores`): the engine's success (n,), the margins (n,), their knot Jacobian (n, K, A),
    real incomes (n, Y), USD a year, and terminal wealth (n,), real USD."""

    success: BoolArray
    margins: FloatArray
    jacobian: FloatArray | None
    incomes: FloatArray | None
    terminal_wealth: FloatArray | None


@dataclass(frozen=True)
class _RowsTask:
    """One ``map_fn`` task of a search: score ``knots`` on in-sample rows ``start:stop``."""

    start: int
    stop: int
    knots: FloatArray
    valuation: IncomeValuation | None
    jacobian: bool
    weights: FloatArray  # (T, A) = interp @ knots, taken by the client


def _score_rows(task: _RowsTask, search: _GlideSearch) -> _Scores:
    """A top-level ``map_fn`` task: :meth:`_GlideSearch.scores` on a chunk of rows."""
    part = search.rows(task.start, task.stop)
    return part.scores(task.knots, task.valuation, task.jacobian, task.weights)


@dataclass(frozen=True)
class _ModelTask:
    """One ``map_fn`` task of the ``"ce"`` step's income model on rows ``start:stop``:
    the incomes (``scale`` None), or the adjoint's coefficients at ``scale`` and
    ``total`` (:func:`_income_coefficients`)."""

    start: int
    stop: int
    weights: FloatArray  # (T, A) = interp @ knots, taken by the client
    valuation: IncomeValuation
    scale: float | None = None
    total: float = 0.0


def _model_rows(task: _ModelTask, search: _GlideSearch) -> FloatArray:
    """A top-level ``map_fn`` task: the chunk's model incomes (m, Y), real USD a year, or
    its adjoint coefficients (T, m)."""
    part = search.rows(task.start, task.stop)
    paths = _income_paths(part.growth, task.weights, part.plan, part.flows, task.valuation)
    if task.scale is None:
        return paths.incomes
    return _income_coefficients(paths, part.flows, task.valuation, task.scale, task.total, True)


def _ce_of(val: IncomeValuation, s: _Scores) -> float:
    """The CE of joined scores taken with ``val``, real USD a year."""
    assert s.incomes is not None and s.terminal_wealth is not None
    return val.ce(s.incomes, s.terminal_wealth)


def _joined(parts: Sequence[_Scores]) -> _Scores:
    """The chunks' scores concatenated in task (scenario) order."""

    def cat(name: str) -> Any:
        xs = [getattr(p, name) for p in parts]
        return None if xs[0] is None else np.concatenate(xs)

    fields = ("success", "margins", "jacobian", "incomes", "terminal_wealth")
    return _Scores(*(cat(f) for f in fields))


@dataclass(frozen=True)
class _Scorer:
    """Where a search's iterates are scored: here on every scenario at once (``map_fn``
    None), or as ``map_fn`` tasks of ``chunk`` scenarios each (the search sent once per
    call as the shared object). Every reduction (mean, bPOE, CE and its SE) is taken once
    on the rows joined in order, so the figures do not depend on the chunking or on the
    backend."""

    search: _GlideSearch
    map_fn: MapFn | None = None
    chunk: int = SCENARIO_CHUNK

    def scores_of(self, knots: Sequence[FloatArray], val: IncomeValuation | None) -> list[_Scores]:
        """:meth:`_GlideSearch.scores` (no Jacobian) of several knot arrays, on a backend
        in one ``map_fn`` call (every knot array's chunks as tasks)."""
        if self.map_fn is None:
            return [self.search.scores(z, val, False) for z in knots]
        rows = self.chunks()
        per = [(z, self.search.interp @ z) for z in knots]
        tasks = [_RowsTask(a, b, z, val, False, w) for z, w in per for a, b in rows]
        out = list(self.map_fn(_score_rows, tasks, self.shipped))
        k = len(rows)
        return [_joined(out[i : i + k]) for i in range(0, len(out), k)]

    @property
    def shipped(self) -> _GlideSearch:
        """What the tasks share: the search without its real growth (each chunk derives
        its own rows of it from the scenarios), so half the data travels."""
        return dataclasses.replace(self.search, growth=np.empty((0, 0, 0)))

    def scores(self, knots: FloatArray, val: IncomeValuation | None, jacobian: bool) -> _Scores:
        """:meth:`_GlideSearch.scores` on every in-sample scenario."""
        if self.map_fn is None:
            return self.search.scores(knots, val, jacobian)
        w = self.search.interp @ knots
        tasks = [_RowsTask(a, b, knots, val, jacobian, w) for a, b in self.chunks()]
        return _joined(list(self.map_fn(_score_rows, tasks, self.shipped)))

    def chunks(self) -> list[tuple[int, int]]:
        """The rows ``(start, stop)`` of each task, in scenario order."""
        n = self.search.sub.n_scenarios
        return [(a, min(a + self.chunk, n)) for a in range(0, n, self.chunk)]

    def income_gradient(self, knots: FloatArray, val: IncomeValuation) -> FloatArray:
        """The ``"ce"`` step's gradient of the mean value of income in the per-period
        weights, (T, A) (:func:`_income_model`, chord slopes at ruin); on ``map_fn`` in
        two rounds: the incomes (for their median, the utility's scale), then each row's
        adjoint coefficients, summed here over every scenario at once."""
        s = self.search
        w = s.interp @ knots
        if self.map_fn is None:
            return _income_model(s.growth, w, s.plan, s.flows, val, chord=True).gradient
        rows = self.chunks()
        tasks = [_ModelTask(a, b, w, val) for a, b in rows]
        inc = np.concatenate(list(self.map_fn(_model_rows, tasks, self.shipped)))
        sc, total = float(np.median(inc)), val.year_weights.sum() * inc.shape[0]
        tasks = [_ModelTask(a, b, w, val, sc, total) for a, b in rows]
        coef = np.concatenate(list(self.map_fn(_model_rows, tasks, self.shipped)), axis=1)
        return _weighted_growth(coef, s.growth)

    def evaluate(self, knots: FloatArray) -> _Iterate:
        """Exact in-sample success of ``knots`` (by the engine) and the wealth model's
        margins, their knot Jacobian and bPOE there."""
        s = self.scores(knots, None, True)
        assert s.jacobian is not None
        p = float(np.mean(s.success))
        return _Iterate(knots, p, s.margins, s.jacobian, buffered_failure_probability(s.margins))

    def evaluate_ce(self, knots: FloatArray, val: IncomeValuation) -> _CeIterate:
        """Exact in-sample CE of ``knots`` under ``val`` (by the engine), with its success
        and the wealth model's bPOE."""
        s = self.scores(knots, val, False)
        assert s.incomes is not None and s.terminal_wealth is not None
        ce, se = val.ce_and_se(s.incomes, s.terminal_wealth)
        p = float(np.mean(s.success))
        return _CeIterate(knots, p, buffered_failure_probability(s.margins), ce, se)


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
    score: Callable[[list[FloatArray]], list[float]] | None = None,
) -> FloatArray:
    """The SCP's first knots (K, A): ``initial`` or the best constant mix (by success, or
    by ``score``) on a grid of equity shares ``grid_step`` apart, projected onto the
    constraints."""
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
            score,
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
        subproblem.linearise(cur.margins, cur.jacobian, cur.knots, rho)
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


def _ce_proposer(
    scorer: _Scorer, val: IncomeValuation, solvers: Sequence[str], fallbacks: list[str]
) -> Callable[[_CeIterate, float, int], Proposal]:
    """One step of the ``"ce"`` search: the mean value of income linearised in the knots
    (:func:`_income_model`'s adjoint gradient, chained through the interpolation) and
    maximised within the trust radius and the constraints (``optimize.scp.
    linear_subproblem``, built once, solved here; the gradient by ``scorer``); a failed
    solve is a rejected step."""
    search = scorer.search
    s = search.constraints
    subproblem = linear_subproblem(
        search.knot_ages.size, len(search.names), lambda z, a: flatten(s.groups(z, a))
    )

    def propose(cur: _CeIterate, rho: float, it: int) -> Proposal:
        gradient = scorer.income_gradient(cur.knots, val)
        subproblem.linearise(search.interp.T @ gradient, cur.knots, rho)
        t_solve = time.perf_counter()
        try:
            solver = subproblem.solve(solvers, fallbacks, what=f"SCP step {it} (ce)")
        except OptimizationError:
            return Proposal(None, "", time.perf_counter() - t_solve)
        knots = subproblem.knots()
        solve_s = time.perf_counter() - t_solve
        return Proposal(None if knots is None else clean_knots(knots), solver, solve_s)

    return propose


#: A point of an SCP run (an iterate of the success or the CE search).
_P = TypeVar("_P")


@dataclass(frozen=True)
class _Progress(Generic[_P]):
    """How one SCP run is steered and shown: which candidate is better, what each point
    scores in the iteration log, and the figure the tqdm bar shows (name, format)."""

    label: str
    better: Callable[[_P, _P], bool]
    scores: Callable[[_P], tuple[float, ...]]
    shown: Callable[[_P], tuple[str, str]]
    finished: Callable[[_P], str | None] = lambda _: None


def _run_trust_region(
    first: _P,
    evaluate: Callable[[FloatArray], _P],
    propose: Callable[[_P, float, int], Proposal],
    steps: _Steps,
    how: _Progress[_P],
) -> ScpRun[_P]:
    """The trust-region SCP (``optimize.scp.trust_region_scp``) from ``first``, with a
    tqdm bar of the figure ``how`` shows (success, or CE)."""
    bar = tqdm(total=steps.max_iterations, disable=not steps.progress, desc=how.label, unit="it")
    bar.set_postfix(dict([how.shown(first)]))

    def show(record: ScpIteration, cur: _P, rho: float) -> None:
        bar.update(1)
        bar.set_postfix({**dict([how.shown(cur)]), "radius": f"{rho:.3g}"})

    try:
        return trust_region_scp(
            first,
            propose,
            evaluate,
            how.better,
            scores=how.scores,
            max_iterations=steps.max_iterations,
            trust_radius=steps.trust_radius,
            min_trust_radius=steps.min_trust_radius,
            finished=how.finished,
            on_iteration=show,
        )
    finally:
        bar.close()


#: The ``"success"`` search: better = success up (or equal with bPOE down).
_SUCCESS_RUN: _Progress[Any] = _Progress(
    "glide path SCP",
    lambda new, cur: _better(new, cur),
    lambda pt: (pt.success, pt.bpoe),
    lambda pt: ("success", f"{pt.success:.2%}"),
    lambda pt: "every in-sample scenario succeeds" if pt.success >= 1.0 else None,
)

#: The ``"ce"`` search: better = the simulated CE up (common random numbers).
_CE_RUN: _Progress[Any] = _Progress(
    "glide path SCP (ce)",
    lambda new, cur: new.ce > cur.ce + 1e-12 * abs(cur.ce),
    lambda pt: (pt.success, pt.bpoe, pt.ce),
    lambda pt: ("ce", f"{pt.ce:,.0f}"),
)


def _equal_weight_run(search: _GlideSearch) -> SimulationResult:
    """The engine's run of the equal-weight constant mix: the fixed path the income floor
    and loss reference are read on (:func:`income_valuation`)."""
    n_k, n_a = search.knot_ages.size, len(search.names)
    return search.simulate(np.full((n_k, n_a), 1.0 / n_a))


def _ce_figures(
    val: IncomeValuation, res: SimulationResult | _Scores
) -> tuple[tuple[float, float], dict[float, tuple[float, float]]]:
    """``(CE, SE)`` of a simulation (or of a search's joined scores, which hold the
    incomes) under ``val`` and at each report gamma (2, 5, 10)."""
    if isinstance(res, _Scores):
        assert res.incomes is not None and res.terminal_wealth is not None
        inc, left = res.incomes, res.terminal_wealth
    else:
        inc, left = val.incomes_of(res), res.terminal_wealth
    by_gamma = {g: val.with_gamma(g).ce_and_se(inc, left) for g in RISK_AVERSIONS}
    return val.ce_and_se(inc, left), by_gamma


def _result(
    scorer: _Scorer,
    run: ScpRun[Any],
    first: _Iterate | _CeIterate,
    holdout: Scenarios | None,
    holdout_cash_flows: CashFlowRules | None,
    fallbacks: list[str],
    t_start: float,
    val: IncomeValuation | None,
    objective: Objective,
) -> OptimizationResult:
    """The search's result: the best knots as a strategy, scored out of sample on
    ``holdout`` when given, with the CE figures under ``val`` (``None``: the plan pays no
    income); ``t_start``: ``time.perf_counter()`` at the search's start."""
    search = scorer.search
    z, p = run.best.knots, run.best.success
    solver_used = run.iterations[-1].solver if run.iterations else ""
    path = search.glide_path(z)
    oos = None
    held: SimulationResult | None = None
    if holdout is not None:
        held = simulate(
            holdout.select(search.names), search.plan, path, cash_flows=holdout_cash_flows
        )
        oos = float(np.mean(goal_success(held, search.goal)))
    ce: dict[str, Any] = {}
    if val is not None:
        (ce_in, se_in), by_gamma = _ce_figures(val, scorer.scores(z, val, False))
        initial_ce = (
            first.ce
            if isinstance(first, _CeIterate)
            else _ce_figures(val, scorer.scores(first.knots, val, False))[0][0]
        )
        ce = dict(
            preferences=val.prefs,
            income_floor=val.floor,
            ce_in_sample=ce_in,
            ce_in_sample_se=se_in,
            initial_ce=initial_ce,
            ce_by_gamma=by_gamma,
        )
        if held is not None:
            (ce_out, se_out), by_gamma_out = _ce_figures(val, held)
            ce.update(
                ce_out_of_sample=ce_out,
                ce_out_of_sample_se=se_out,
                ce_by_gamma_out_of_sample=by_gamma_out,
            )
    return OptimizationResult(
        glide_path=path,
        assets=search.names,
        knot_ages=tuple(float(v) for v in search.knot_ages),
        knot_weights=z,
        ages=search.ages,
        weights_by_age=search.interp @ z,
        success_in_sample=float(p),
        success_out_of_sample=oos,
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
        objective=objective,
        **ce,
    )


def _valuation(
    search: _GlideSearch,
    objective: Objective,
    preferences: IncomePreferences | None,
    income_floor: float | None,
) -> IncomeValuation | None:
    """The income valuation of the search: required (and checked) for ``"ce"``; for
    ``"success"`` the CE figures' valuation when the plan pays income, else ``None``."""
    if objective not in OBJECTIVES:
        raise OptimizationError(f"objective={objective!r}; use one of {list(OBJECTIVES)}")
    prefs = preferences if preferences is not None else IncomePreferences()
    if objective == "ce":
        _check_ce(search.plan, search.goal)
    elif not _pays_income(search.plan):
        return None
    return income_valuation(search.plan, _equal_weight_run(search), prefs, income_floor)


@dataclass(frozen=True)
class _Steps:
    """The trust-region driver's settings (``optimize_glide_path``'s arguments)."""

    max_iterations: int
    trust_radius: float
    min_trust_radius: float
    progress: bool


def _success_search(
    scorer: _Scorer,
    start: tuple[FloatArray | None, float],
    solvers: Sequence[str],
    fallbacks: list[str],
    steps: _Steps,
) -> tuple[_Iterate, ScpRun[_Iterate]]:
    """The ``"success"`` SCP (bPOE steps) from ``start`` = (initial knots or None, grid
    step): its first point and its run; iterates (and, on a backend, the grid's mixes)
    scored by ``scorer``."""
    search = scorer.search
    grid_score = None
    if scorer.map_fn is not None:

        def grid_score(zs: list[FloatArray]) -> list[float]:
            return [float(np.mean(x.success)) for x in scorer.scores_of(zs, None)]

    z0 = _starting_knots(search, start[0], start[1], solvers, fallbacks, grid_score)
    first = scorer.evaluate(z0)
    propose = _proposer(search, solvers, fallbacks)
    run = _run_trust_region(first, scorer.evaluate, propose, steps, _SUCCESS_RUN)
    return first, run


def _ce_search(
    scorer: _Scorer,
    val: IncomeValuation,
    start: tuple[FloatArray | None, float],
    solvers: Sequence[str],
    fallbacks: list[str],
    steps: _Steps,
) -> tuple[_CeIterate, ScpRun[_CeIterate]]:
    """The ``"ce"`` SCP (linearised mean utility) from ``start`` (the grid's best mix by
    CE unless knots are given): its first point and its run."""

    search = scorer.search

    def evaluate(knots: FloatArray) -> _CeIterate:
        return scorer.evaluate_ce(knots, val)

    def grid_score(zs: list[FloatArray]) -> list[float]:
        return [_ce_of(val, x) for x in scorer.scores_of(zs, val)]

    z0 = _starting_knots(search, start[0], start[1], solvers, fallbacks, grid_score)
    first = evaluate(z0)
    propose = _ce_proposer(scorer, val, solvers, fallbacks)
    run = _run_trust_region(first, evaluate, propose, steps, _CE_RUN)
    return first, run


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
    objective: Objective = "success",
    preferences: IncomePreferences | None = None,
    income_floor: float | None = None,
    map_fn: MapFn | None = None,
    chunk_scenarios: int = SCENARIO_CHUNK,
) -> OptimizationResult:
    """Search the glide path with the highest success probability, or the highest
    certainty-equivalent income (SCP, see module doc).

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
        Starting knot weights (n_knots, n_assets); default the best constant mix (by
        the objective) of a grid of equity shares ``initial_grid_step`` apart (equity
        assets vs the rest).
    max_iterations
        SCP iterations (each: one conic solve and one simulation).
    trust_radius, min_trust_radius
        Initial and smallest trust radius, largest change of any knot weight per step.
    solvers
        cvxpy solvers in order of preference; later ones are fallbacks.
    name
        Name of the resulting strategy.
    progress
        Show a tqdm progress bar (iterations and the current success probability or CE).
    objective
        ``"success"`` (the default: the probability of success, via bPOE) or ``"ce"``
        (the certainty equivalent of real retirement income under ``preferences``; a
        plan with ConstantReal withdrawals and a MoneyLasts goal).
    preferences
        How income is valued (``backtest.outcomes.IncomePreferences``); ``None``: CRRA
        with gamma 5. Both objectives report the CE figures under it.
    income_floor
        Real USD a year every retirement year pays at least (> 0); ``None``: 10 % of the
        planned first-year withdrawal (the tear sheet's rule).
    map_fn
        Where each iterate is scored (``optimize.baselines.MapFn``, e.g.
        ``glidelab.backends.ordered_map(backend)``): tasks of ``chunk_scenarios``
        in-sample scenarios each, the search's fixed inputs sent once per call; ``None``
        (the default): here, on every scenario at once. The subproblem is solved here.
        The result is the same either way, whatever the chunk size or the workers.
    chunk_scenarios
        Scenarios per ``map_fn`` task (>= 1), independent of the number of workers.

    Returns
    -------
    OptimizationResult

    Raises
    ------
    OptimizationError
        Conflicting constraints (named), an unsupported plan or goal for the objective,
        a bad ``income_floor``, or every solver failing.
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
    if chunk_scenarios < 1:
        raise OptimizationError(
            f"chunk_scenarios={chunk_scenarios!r}; give at least 1 scenario per task"
        )
    scorer = _Scorer(search, map_fn, int(chunk_scenarios))
    val = _valuation(search, objective, preferences, income_floor)
    fallbacks: list[str] = []
    steps = _Steps(max_iterations, trust_radius, min_trust_radius, progress)
    start = (initial, initial_grid_step)
    first: _Iterate | _CeIterate
    run: ScpRun[Any]
    if objective == "ce":
        assert val is not None
        first, run = _ce_search(scorer, val, start, solvers, fallbacks, steps)
    else:
        first, run = _success_search(scorer, start, solvers, fallbacks, steps)
    return _result(
        scorer, run, first, holdout, holdout_cash_flows, fallbacks, t_start, val, objective
    )
