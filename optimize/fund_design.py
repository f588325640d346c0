"""Fund design: one glide path for a whole vintage, traded off between success and shortfall.

Model
-----
Decision: knot weights ``z[k, a]`` at the vintage's knot ages; per-year weights
``w = M z`` (``optimize.scp.interpolation_matrix``), shared by every member.
Scenarios are **member-paths** ``s`` (a member of :mod:`backtest.population` paired with
a market path) with a death year ``d[s]`` drawn from the member's survival curve, so
that "the money lasts as long as the member lives" is one event per member-path whose
frequency estimates the survival-weighted success (the evaluation in
:func:`backtest.population_eval.evaluate_population` uses the exact expectation instead).

With ``G[s, t] = w[t] . g[s, t]`` the real gross return of the mix, ``F = 1 - fee``,
leakage share ``l``, contributions ``c`` and the yearly need ``n`` (paid at the start of
each retirement year), the untruncated balance is::

    W[t+1] = W[t] (1 - l[t]) G[t] F + c[t]           before retirement
    W[t+1] = (W[t] - n) G[t] F                       from retirement

The accumulation (up to ``t_ret``) is the one account recursion,
``backtest.account.run_balances``; the decumulation is summed in closed form below.
Spending up to death is paid in full iff ``W[d] >= 0`` (a negative balance stays
negative), i.e. iff the margin

    x[s] = (W_ret - PV) / scale,   PV = sum_{t_ret <= t < d} n / prod_{t_ret <= u < t} G[u] F

is >= 0; ``scale = max(n, 1,000 USD)``. ``x`` is only the success event's margin: it is
discounted at the path's own returns, so it is **not** the shortfall.

The **shortfall** is the one convention of :func:`backtest.outcomes.shortfall_years`: the
need left unpaid on the member-path's own account (``paid = min(n, balance)``, the
evaluation's recursion), survival-weighted with the member's curve and valued at
retirement at the population's stated real annuity rate (``PopulationSpec.annuity_rate``,
2 % real), in years of need; never at the portfolio's returns, so a member with nothing
is short the same whatever the fund holds. On the same member-paths it equals
``backtest.population_eval.evaluate_population``'s ``unpaid_years``. Gradients ``dx/dz`` and
``dS/dz`` come from forward and reverse passes, vectorised over member-paths (tests check
them against finite differences).

Objectives (SCP: linearise ``x ~ b + J z`` at the current knots, solve a convex
subproblem in a trust region, accept a step only if the exact objective improves on the
same member-paths: the one driver, ``optimize.scp.trust_region_scp``):

* ``"success"``: minimise the buffered probability of failure of ``-x`` (bPOE), the
  homogenised conic program of ``optimize.scp.bpoe_subproblem`` that the glide-path
  search also solves (same constraint groups, same solver fallback), in the simplex
  basis;
* ``"shortfall"``: minimise ``CVaR_beta(S)``, the mean shortfall (years of need, above)
  in the worst ``1 - beta`` of member-paths (Rockafellar and Uryasev 2000; convex in the
  linearised ``S``);
* ``"frontier"``: the epsilon-constraint method between the two: minimise the shortfall
  CVaR subject to ``bPOE(-x) <= p``, which is the convex constraint
  ``CVaR_{1-p}(-x) <= 0`` (Mafusalov and Uryasev 2018), for ``p`` from the best bPOE to
  the bPOE of the shortfall optimum; its end points are the single-objective optima;
* ``"income"``: maximise the mean replacement ratio (linear in ``W_ret``) subject to the
  same success constraint (the median is reported; the mean is what stays convex);
* ``"ce"``: maximise the expected CRRA utility (risk aversion ``gamma``) of real retirement
  income, :func:`retirement_income` (Social Security + the balance at retirement priced as
  a real life annuity), over the member-paths, with the same optional bPOE ceiling; each
  step linearises the mean utility in the knots (``dU/dz = mean u'(c) dW_ret/dz / a``,
  the gradient the income objective uses) and the score is its certainty equivalent
  (:func:`backtest.outcomes.certainty_equivalent`, real USD a year). Utility is measured
  at a ``scale`` near the median income (:func:`utility_scale`) so that ``u`` is not
  flat in float64. The weights after retirement do not move this income (the balance is
  annuitised at retirement): they stay where the start and the constraints put them.
  With :class:`backtest.outcomes.IncomePreferences` (``FundDesigner(preferences=...)``)
  the utility is the project's one valuation, :func:`backtest.outcomes.income_utility`:
  loss aversion ``lambda`` below a reference income ``R = reference_replacement x final
  salary`` per member-path (gradient ``u'(c) (1 + lambda [c < R])``), CE by
  :func:`backtest.outcomes.preference_certainty_equivalent`; plain CRRA takes the code
  path it always took (bit-identical). A bequest term is refused
  (:func:`check_design_preferences`): the annuitised balance leaves nothing at death.

Speed: every step's LP is solved with its hinge sums screened
(``optimize.scp.solve_screened``: only member-paths near the CVaR or bPOE threshold enter
as hinges, and the split is widened until the LP's optimum is the full one's), the knot
Jacobians are one batched product (:func:`knot_jacobian`), and the frontier's searches
(and the constraint costs' re-solves) are independent tasks of a ``map_fn``, so that a
backend (``glidelab.backends.ordered_map``) runs them in parallel with the same result.

Committee constraints (:class:`FundConstraints`): equity at the target date within a
band, monotone de-risking after an age, maximum change per year, a "to" or "through"
landing point (weights constant from the landing age on), crypto cap and per-asset
bounds; the generic ones are ``optimize.scp.KnotConstraints`` groups, and every group is
named when the constraints conflict.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from backtest.account import AccountFlows, run_balances
from backtest.outcomes import (
    IncomePreferences,
    certainty_equivalent,
    crra_utility,
    income_utility,
    preference_certainty_equivalent,
    shortfall_discount,
    shortfall_years,
)
from backtest.plan import Plan
from backtest.population import Members
from backtest.population_eval import cvar
from backtest.scenarios import Scenarios
from backtest.types import FloatArray, IntArray
from optimize.baselines import MapFn, serial_map
from optimize.glidepath import GlidePathConstraints, knot_constraints
from optimize.scp import (
    BPOE_MULTIPLIER_MAX,
    DEFAULT_SOLVERS,
    OptimizationError,
    Projector,
    Proposal,
    TailRows,
    buffered_failure_probability,
    clean_knots,
    flatten,
    interpolation_matrix,
    linear_model,
    simplex_basis,
    solve_screened,
    tail_rows,
    trust_region_scp,
)
from strategies.base import RebalanceRule
from strategies.target_date import GlidePath

#: Smallest need used to scale margins, real USD a year (members who need ~nothing from
#: the fund would otherwise get huge margins).
SCALE_FLOOR = 1_000.0

#: The constraint group that makes knots a portfolio (long only, fully invested): never
#: dropped when pricing the committee's constraints.
PORTFOLIO_GROUP = "weights in [0, 1] summing to 1"

#: Slack below which an inequality binds at the design, decimal weight (0.1 pp).
BINDING_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ConstraintCost:
    """What one committee constraint group costs the design, in sample.

    Attributes
    ----------
    group
        The group's name (``FundDesigner.constraint_groups``).
    binding
        Whether it binds at the designed knots: an equality group always does; an
        inequality group when its smallest slack is below :data:`BINDING_TOLERANCE`.
    slack
        Smallest slack of the group's inequalities at the design, decimal weight (0 for
        an equality group).
    objective
        The design's objective (``"success"``, ``"shortfall"``, ``"income"`` or ``"ce"``).
    value_with, value_without
        The objective at the design, and at the re-solve without this group started from
        the design (same member-paths, same other constraints): success in decimal,
        shortfall CVaR in years of need, mean replacement ratio in decimal of salary, CE
        in real USD a year; NaN
        without for a group that does not bind (not re-solved).
    cost
        How much better the objective is without the group: ``without - with`` (success,
        income, ce) or ``with - without`` (shortfall), >= 0 in the objective's units; 0 for a
        group that does not bind.
    """

    group: str
    binding: bool
    slack: float
    objective: str
    value_with: float
    value_without: float
    cost: float


def objective_value(point: DesignPoint, objective: str) -> float:
    """The number ``objective`` optimises at ``point``: success (decimal), shortfall CVaR
    (years of need), mean replacement ratio (decimal of the base salary) or the certainty
    equivalent of retirement income (real USD a year)."""
    return {
        "success": point.success,
        "shortfall": point.shortfall_cvar,
        "income": point.mean_replacement,
        "ce": point.ce,
    }[objective]


@dataclass(frozen=True)
class FundConstraints:
    """A fund committee's constraints on the shared glide path.

    Attributes
    ----------
    equity_at_target
        ``(low, high)`` band for the equity share at the target age, decimal, or None.
    monotone_after_age
        From this age on the equity share may not rise (de-risking only), or None.
    max_change_per_year
        Largest change of any weight per year of age, decimal (0.05 = 5 pp a year).
    landing
        ``"to"``: weights constant from the target age; ``"through"``: constant from
        ``landing_age``; None: free to the end.
    landing_age
        Age at which a "through" path lands (e.g. target age + 30).
    crypto_cap, lower, upper, equity_assets, crypto_assets
        As ``optimize.glidepath.GlidePathConstraints``: by default the equity assets are
        those whose role is in ``EQUITY_ROLES`` and the crypto assets those whose role is
        ``"crypto"`` (the role registry, ``backtest.data.asset_role``).
    """

    equity_at_target: tuple[float, float] | None = None
    monotone_after_age: float | None = None
    max_change_per_year: float | None = None
    landing: str | None = None
    landing_age: float | None = None
    crypto_cap: float | None = None
    lower: dict[str, float] = field(default_factory=dict)
    upper: dict[str, float] = field(default_factory=dict)
    # None: read from the role registry (``backtest.data.asset_role``), as the generic
    # constraints do; a tuple names them explicitly (e.g. for non-embedded series).
    equity_assets: tuple[str, ...] | None = None
    crypto_assets: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.equity_at_target is not None:
            lo, hi = self.equity_at_target
            if not 0 <= lo <= hi <= 1:
                raise OptimizationError(
                    f"equity_at_target={self.equity_at_target} must be (low, high) with "
                    "0 <= low <= high <= 1"
                )
        if self.landing not in (None, "to", "through"):
            raise OptimizationError(f"landing={self.landing!r}; use 'to', 'through' or None")
        if self.landing == "through" and self.landing_age is None:
            raise OptimizationError("landing='through' needs landing_age (e.g. target age + 30)")

    def generic(self) -> GlidePathConstraints:
        """The generic constraints (``optimize.glidepath.knot_constraints`` writes them)."""
        return GlidePathConstraints(
            lower=dict(self.lower),
            upper=dict(self.upper),
            monotone_equity=False,
            equity_assets=self.equity_assets,
            max_change_per_year=self.max_change_per_year,
            crypto_cap=self.crypto_cap,
            crypto_assets=self.crypto_assets,
        )


@dataclass(frozen=True)
class DesignData:
    """Member-paths the design is scored on (common random numbers for every candidate).

    ``growth`` is (m, T, A) real gross asset returns of each member-path's market path;
    the rest are per member-path flows, (m, T), and (m,) vectors.
    """

    assets: tuple[str, ...]
    ages: FloatArray
    growth: FloatArray
    contributions: FloatArray
    leakage_share: FloatArray
    need: FloatArray
    t_ret: IntArray
    death: IntArray
    social_security: FloatArray
    annuity_factor: FloatArray
    #: The replacement-ratio base, real USD a year (``Members.base_salary``: the average of
    #: the last five working years by default, ``PopulationSpec.need_basis``).
    base_salary: FloatArray
    expense_ratio: float
    #: Probability of being alive at the start of each year, (m, T) (1 before retirement).
    alive: FloatArray | None = None
    #: Real rate the shortfall is valued at, decimal a year (``PopulationSpec.annuity_rate``).
    real_rate: float = 0.02
    #: Market path of each member-path, (m,) (the batches of a paired standard error).
    path: IntArray | None = None

    @property
    def n(self) -> int:
        return int(self.need.size)


def design_data(
    members: Members,
    scenarios: Scenarios,
    assets: Sequence[str],
    member: IntArray,
    path: IntArray,
    *,
    expense_ratio: float = 0.0,
    rng: np.random.Generator | int | None = None,
) -> DesignData:
    """Pair ``members[member]`` with ``scenarios[path]`` and draw each one's death year.

    Member-paths whose member dies before retirement (``members.alive_at_retirement``)
    are dropped, as :func:`backtest.population_eval.evaluate_population` drops them: every
    score is conditional on reaching retirement. The death year ``d`` is the first period
    boundary at which the member is dead: drawn from the survival curve (conditional on
    reaching retirement) with one uniform per member-path from ``rng``; ``d = T`` if alive
    at the end age.
    """
    keep = np.asarray(members.alive_at_retirement)[member]
    member, path = np.asarray(member)[keep], np.asarray(path)[keep]
    if member.size == 0:
        raise OptimizationError("no member of the design reaches retirement; draw more members")
    spec = members.spec
    n_t = spec.n_periods
    sub = scenarios.select(tuple(assets)).head(n_t)
    g = (1.0 + sub.returns) / (1.0 + sub.inflation[:, :, None])
    if not np.all(np.isfinite(g)):
        raise OptimizationError("the design scenarios have missing returns for some asset")
    gen = np.random.default_rng(rng)
    surv = members.survival[member]  # (m, T + 1), non-increasing
    u = gen.random(member.size)
    # first boundary k with S(k) < u: dead by then (S(k) = P(alive at k)).
    dead = surv < u[:, None]
    death = np.where(dead.any(axis=1), dead.argmax(axis=1), n_t)
    t_ret = members.retirement_period[member]
    return DesignData(
        assets=tuple(assets),
        ages=spec.ages,
        growth=g[path],
        contributions=members.contributions[member],
        leakage_share=members.leakage_share[member],
        need=members.need[member],
        t_ret=t_ret,
        death=np.maximum(death, t_ret).astype(np.int64),
        social_security=members.social_security[member],
        annuity_factor=members.annuity_factor[member],
        base_salary=members.base_salary[member],
        expense_ratio=expense_ratio,
        alive=members.survival[member][:, :-1],
        real_rate=spec.annuity_rate,
        path=np.asarray(path, dtype=np.int64),
    )


@dataclass(frozen=True)
class Margins:
    """Margins ``x`` (m,), balances at retirement (m,), shortfalls (m,, years of need,
    :func:`shortfall`), and optionally their sensitivities to each period's real gross
    return of the mix, ``dx_dg``, ``dwret_dg``, ``ds_dg`` (m, T); the Jacobians with
    respect to the per-year weights, (m, T, A), are those times the asset returns
    (``dx_dw`` etc., formed on demand)."""

    x: FloatArray
    wealth_at_retirement: FloatArray
    shortfall: FloatArray
    dx_dg: FloatArray | None = None
    dwret_dg: FloatArray | None = None
    ds_dg: FloatArray | None = None
    growth: FloatArray | None = None

    def _by_weight(self, sens: FloatArray | None) -> FloatArray | None:
        if sens is None or self.growth is None:
            return None
        return sens[:, :, None] * self.growth

    @property
    def dx_dw(self) -> FloatArray | None:
        """``dx / dw``, (m, T, A)."""
        return self._by_weight(self.dx_dg)

    @property
    def dwret_dw(self) -> FloatArray | None:
        """``dW_ret / dw``, real USD per unit weight, (m, T, A)."""
        return self._by_weight(self.dwret_dg)

    @property
    def ds_dw(self) -> FloatArray | None:
        """``dS / dw``, years of need per unit weight, (m, T, A)."""
        return self._by_weight(self.ds_dg)


def knot_jacobian(sens: FloatArray, growth: FloatArray, interp: FloatArray) -> FloatArray:
    """Jacobian with respect to the knot weights, (m, K, A), of a per-member-path quantity
    whose sensitivity to each period's mix return is ``sens`` (m, T): ``sum_t sens[s, t]
    growth[s, t, a] interp[t, k]`` with ``growth`` the decision assets' real gross returns
    (m, T, A) and ``interp`` the interpolation matrix (T, K) (one batched product, no
    (m, T, A) Jacobian kept)."""
    by_asset = (sens[:, :, None] * growth).transpose(0, 2, 1)  # (m, A, T)
    return np.matmul(by_asset, interp).transpose(0, 2, 1)


def _spending(data: DesignData) -> FloatArray:
    """The yearly need from each member-path's retirement year, (m, T) real USD."""
    t = np.arange(data.growth.shape[1])[None, :]
    return np.where(t >= data.t_ret[:, None], data.need[:, None], 0.0)


def _alive(data: DesignData) -> FloatArray:
    return np.ones((data.n, data.growth.shape[1])) if data.alive is None else np.asarray(data.alive)


def shortfall(data: DesignData, mix_growth: FloatArray) -> tuple[FloatArray, Any]:
    """Shortfall per member-path, years of need valued at retirement at ``data.real_rate``
    (:func:`backtest.outcomes.shortfall_years` of the evaluation's account recursion), from
    the mix's real gross return ``mix_growth`` (m, T); and the account paths."""
    zero = np.zeros(mix_growth.shape[1])
    flows = AccountFlows(
        zero, data.contributions, _spending(data), zero, data.leakage_share, data.expense_ratio
    )
    acc = run_balances(flows, mix_growth, 0.0)
    s = shortfall_years(acc.wanted, acc.withdrawals, data.real_rate, data.t_ret, 1, _alive(data))
    return s, acc


def margins(data: DesignData, weights: FloatArray, gradients: bool = False) -> Margins:
    """Success margins of a per-year weight table ``weights`` (T, A) (module docstring)."""
    m, n_t, _ = data.growth.shape
    fee = 1.0 - data.expense_ratio
    big_g = np.einsum("mta,ta->mt", data.growth, weights)  # (m, T)
    gf = big_g * fee
    t = np.arange(n_t)[None, :]
    pre = t < data.t_ret[:, None]
    post = (t >= data.t_ret[:, None]) & (t < data.death[:, None])
    keep = 1.0 - data.leakage_share
    # Accumulation: W[t+1] = W[t] keep G F + c, the one account recursion
    # (backtest.account); the balance at the start of each year, read up to t_ret only.
    zero = np.zeros(n_t)
    flows = AccountFlows(
        zero, data.contributions, zero, zero, data.leakage_share, data.expense_ratio
    )
    w_start = run_balances(flows, big_g, 0.0).wealth  # (m, T + 1)
    rows = np.arange(m)
    w_ret = w_start[rows, data.t_ret]
    # Decumulation: Q[t] = prod_{t_ret <= u < t} G F; PV = sum_post n / Q.
    log_gf = np.where((t >= data.t_ret[:, None]), np.log(gf), 0.0)
    cum = np.cumsum(log_gf, axis=1)
    q = np.exp(np.concatenate([np.zeros((m, 1)), cum[:, :-1]], axis=1))  # Q[t] (m, T)
    term = np.where(post, data.need[:, None] / q, 0.0)
    pv = term.sum(axis=1)
    scale = np.maximum(data.need, SCALE_FLOOR)
    x = (w_ret - pv) / scale
    short, acc = shortfall(data, big_g)
    if not gradients:
        return Margins(x=x, wealth_at_retirement=w_ret, shortfall=short)
    # dW_ret/dG[u] = lambda[u+1] W[u] keep[u] F with lambda[t] = prod_{t<=v<t_ret} keep G F.
    fac = np.where(pre, keep * gf, 1.0)
    rev = np.cumprod(fac[:, ::-1], axis=1)[:, ::-1]  # prod_{v >= t} fac
    lam_next = np.concatenate([rev[:, 1:], np.ones((m, 1))], axis=1)  # lambda[u + 1]
    dwret_dg = np.where(pre, lam_next * w_start[:, :-1] * keep * fee, 0.0)
    # dPV/dG[u] = -(1/G[u]) sum_{t > u, post} n / Q[t], for u >= t_ret.
    tail = np.cumsum(term[:, ::-1], axis=1)[:, ::-1]  # sum_{t' >= t}
    tail_next = np.concatenate([tail[:, 1:], np.zeros((m, 1))], axis=1)
    dpv_dg = np.where(t >= data.t_ret[:, None], -tail_next / big_g, 0.0)
    dx_dg = (dwret_dg - dpv_dg) / scale[:, None]
    # Shortfall: only the year of partial payment (0 < paid < need, at most one per
    # member-path: t_r) moves with the returns; before it the need is paid in full and the
    # balance is untruncated, after it nothing is left. S = ... + c (need - B[t_r]) / need
    # with c = alive[t_r] v^(t_r - t_ret), so dS/dG[u] = -c / need dB[t_r]/dG[u]:
    # B[u + 1] Q[t_r] / (Q[u + 1] G[u]) in retirement, dW_ret/dG[u] Q[t_r] before it.
    want, paid = acc.wanted, acc.withdrawals
    partial = (want > 0) & (paid > 0) & (paid < want)
    has = partial.any(axis=1)
    t_r = np.where(has, partial.argmax(axis=1), 0)
    disc = shortfall_discount((m, n_t), data.real_rate, data.t_ret)
    c = np.where(has, _alive(data)[rows, t_r] * disc[rows, t_r], 0.0)
    c = c / np.where(data.need > 0, data.need, 1.0)
    q_r = q[rows, t_r]
    q_next = np.concatenate([q[:, 1:], np.ones((m, 1))], axis=1)
    b_next = acc.wealth[:, 1:]
    in_ret = (t >= data.t_ret[:, None]) & (t < t_r[:, None])
    db_dg = np.where(in_ret, b_next * q_r[:, None] / (q_next * big_g), 0.0)
    db_dg = np.where(pre, dwret_dg * q_r[:, None], db_dg)
    ds_dg = -c[:, None] * db_dg
    return Margins(
        x=x,
        wealth_at_retirement=w_ret,
        shortfall=short,
        dx_dg=dx_dg,
        dwret_dg=dwret_dg,
        ds_dg=ds_dg,
        growth=data.growth,
    )


def replacement_ratios(data: DesignData, wealth_at_retirement: FloatArray) -> FloatArray:
    """(Social Security + balance at retirement / annuity factor) / base salary (the need basis), (m,)."""
    return retirement_income(data, wealth_at_retirement) / data.base_salary


def retirement_income(data: DesignData, wealth_at_retirement: FloatArray) -> FloatArray:
    """Real retirement income per member-path, real USD a year, (m,): Social Security plus
    the balance at retirement priced as a real life annuity (``balance / annuity factor``,
    the member's own factor at the population's real annuity rate)."""
    return data.social_security + np.maximum(wealth_at_retirement, 0.0) / data.annuity_factor


def utility_scale(income: FloatArray) -> float:
    """The ``scale`` of :func:`backtest.outcomes.crra_utility` for ``income`` (real USD a
    year): its median, so that ``(c / scale) ** (1 - gamma)`` stays near 1 in float64."""
    return float(max(np.median(income), 1.0))


def reference_income(data: DesignData, prefs: IncomePreferences) -> FloatArray | None:
    """Each member-path's loss-aversion reference income, real USD a year, (m,):
    ``prefs.reference_replacement x base salary``; None without loss aversion."""
    if not prefs.loss_aversion or prefs.reference_replacement is None:
        return None
    return prefs.reference_replacement * np.asarray(data.base_salary, dtype=np.float64)


def check_design_preferences(prefs: IncomePreferences) -> IncomePreferences:
    """``prefs`` if fund design can value income with them, else :class:`OptimizationError`.

    Fund design annuitises the whole balance at retirement (:func:`retirement_income`),
    so nothing is left at death: a bequest term would value a wealth this model never
    holds, and is refused rather than read off a drawdown account the objective does not
    run. Loss aversion below a reference replacement is allowed.
    """
    if prefs.bequest_weight:
        raise OptimizationError(
            f"bequest_weight={prefs.bequest_weight:g}: fund design prices the whole balance "
            "at retirement as a life annuity, so nothing is left at death to bequeath; set "
            "bequest_weight = 0 (the income figures report the drawdown account's bequest)"
        )
    return prefs


def marginal_utility(
    income: FloatArray | float,
    prefs: IncomePreferences,
    scale: float,
    reference: FloatArray | float | None = None,
) -> FloatArray:
    """``v'(c)`` of :func:`backtest.outcomes.income_utility`, per real USD a year:
    ``u'(c) (1 + lambda [c < R])`` with ``u'(c) = (c / scale) ** -gamma / scale``."""
    c = np.asarray(income, dtype=np.float64)
    du = (c / scale) ** (-prefs.gamma) / scale
    if not prefs.loss_aversion or reference is None:
        return du
    return du * np.where(
        c < np.asarray(reference, dtype=np.float64), 1.0 + prefs.loss_aversion, 1.0
    )


def ce_and_se(
    income: FloatArray,
    gamma: float,
    clusters: IntArray | None = None,
    *,
    prefs: IncomePreferences | None = None,
    reference: FloatArray | None = None,
) -> tuple[float, float]:
    """Certainty equivalent of ``income`` (m,) and its standard error, real USD a year:
    the delta method on the mean utility, ``se(CE) = se(mean v) / u'(CE)``, with
    ``se(mean v)`` the batch-means SE over ``clusters`` (e.g. the market path of each
    member-path: members on one path share its returns) or ``std(v) / sqrt(m)`` without.

    ``prefs`` None (or plain CRRA) values income by CRRA at ``gamma``; with loss aversion
    (``prefs.gamma`` is then used) the CE is
    :func:`backtest.outcomes.preference_certainty_equivalent` against the member-paths'
    ``reference`` incomes (real USD a year, (m,): :func:`reference_income`)."""
    c = np.asarray(income, dtype=np.float64)
    if prefs is not None and prefs.loss_aversion:
        ce = preference_certainty_equivalent(c, prefs, reference=reference)
        scale = utility_scale(c)
        v = income_utility(c, prefs, scale, reference)
        # the CE is valued without the loss term (backtest.outcomes): plain u'(CE)
        marginal = (ce / scale) ** (-prefs.gamma) / scale
    else:
        ce = float(certainty_equivalent(c, gamma))
        scale = utility_scale(c)
        v = crra_utility(c, gamma, scale)
        marginal = (ce / scale) ** (-gamma) / scale
    if clusters is not None:
        inv = np.unique(np.asarray(clusters), return_inverse=True)[1]
        v = np.bincount(inv, weights=v) / np.bincount(inv)
    se_v = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan")
    return ce, se_v / marginal


# ----------------------------------------------------------------------------- problem


@dataclass(frozen=True)
class DesignPoint:
    """One glide path and its in-sample scores (decimals; shortfall in years of need)."""

    knots: FloatArray  # (K, A)
    success: float  # share of member-paths with x >= 0 (sampled deaths)
    bpoe: float
    shortfall_cvar: float  # CVaR_beta of the shortfall, years of need (outcomes.shortfall_years)
    mean_replacement: float
    median_replacement: float
    objective: str
    iterations: int
    #: Certainty equivalent of retirement income (:func:`retirement_income`) at the
    #: designer's ``gamma``, real USD a year, and its standard error (:func:`ce_and_se`).
    ce: float = float("nan")
    ce_se: float = float("nan")


@dataclass(frozen=True)
class FrontierResult:
    """The efficient frontier and the single-objective optima, with the knot ages."""

    assets: tuple[str, ...]
    knot_ages: FloatArray
    target_age: float
    points: tuple[DesignPoint, ...]
    max_success: DesignPoint
    min_shortfall: DesignPoint
    seconds: float
    beta: float


class FundDesigner:
    """Builds the constraint set once and runs SCP for each objective on ``data``."""

    def __init__(
        self,
        data: DesignData,
        target_age: float,
        constraints: FundConstraints | None = None,
        *,
        knot_ages: Sequence[float] | None = None,
        knot_spacing_years: float = 5.0,
        beta: float = 0.95,
        solvers: Sequence[str] = DEFAULT_SOLVERS,
        assets: Sequence[str] | None = None,
        gamma: float = 5.0,
        preferences: IncomePreferences | None = None,
    ) -> None:
        self.data = data
        if not (np.isfinite(gamma) and gamma >= 0):
            raise OptimizationError(f"gamma={gamma!r}; use a risk aversion >= 0 (e.g. 5)")
        #: How the ``"ce"`` objective and every point's ``ce`` value income
        #: (``preferences``, else plain CRRA at ``gamma``); no bequest term
        #: (:func:`check_design_preferences`).
        self.preferences = check_design_preferences(
            preferences if preferences is not None else IncomePreferences(gamma=float(gamma))
        )
        #: Relative risk aversion of the ``"ce"`` objective (``preferences.gamma``).
        self.gamma = float(self.preferences.gamma)
        #: Loss-aversion reference income per member-path, real USD a year, or None.
        self.reference = reference_income(data, self.preferences)
        #: The decision assets (a subset of the data's, e.g. to leave cash out of the search
        #: while presets that hold it are still scored on the same member-paths).
        self.assets = tuple(assets) if assets is not None else data.assets
        missing = [a for a in self.assets if a not in data.assets]
        if missing:
            raise OptimizationError(f"assets {missing} are not in the design data {data.assets}")
        self.cols = [data.assets.index(a) for a in self.assets]
        if len(self.assets) < 2:
            raise OptimizationError("a glide path needs at least two assets to allocate between")
        self.target_age = float(target_age)
        self.c = constraints or FundConstraints()
        self.beta = beta
        self.solvers = tuple(solvers)
        first, last = float(data.ages[0]), float(data.ages[-1])
        if knot_ages is None:
            ages = set(np.arange(first, last, knot_spacing_years).tolist())
            ages |= {last, self.target_age}
            if self.c.landing_age is not None:
                ages.add(float(self.c.landing_age))
            if self.c.monotone_after_age is not None:
                ages.add(float(self.c.monotone_after_age))
            # Weights are flat beyond the last knot, so a path that lands ("to": at the
            # target age, "through": at landing_age) needs no knot after its landing age.
            land = {"to": self.target_age, "through": self.c.landing_age}.get(self.c.landing or "")
            stop = last if land is None else min(float(land), last)
            knot_ages = sorted(a for a in ages if first <= a <= stop)
        self.knot_ages = np.asarray(knot_ages, dtype=np.float64)
        self.M = interpolation_matrix(data.ages, self.knot_ages)
        #: The decision assets' real gross returns per member-path, (m, T, A) (the
        #: Jacobians' factor, :func:`knot_jacobian`).
        self.growth = np.ascontiguousarray(data.growth[:, :, self.cols])
        plan = Plan(start_age=first, retirement_age=self.target_age, end_age=last + 1)
        n_t = data.growth.shape[1]
        g = data.growth[:, :n_t][:, :, self.cols].reshape(-1, len(self.assets))
        sigma = np.atleast_2d(np.cov(g.T))
        self.setup = knot_constraints(self.assets, self.knot_ages, plan, self.c.generic(), sigma)
        self.fallbacks: list[str] = []
        #: Constraint groups left out (to price them: :meth:`constraint_costs`).
        self.excluded: frozenset[str] = frozenset()
        self._projector: Projector | None = None

    # -------------------------------------------------------------- constraints
    def constraint_groups(self, z: Any, a: Any) -> dict[str, list[Any]]:
        """Generic groups (``KnotConstraints.groups``) plus the committee's own, by name,
        on knots ``z`` (K, A) homogenised by ``a`` (1.0 for plain knots)."""
        import cvxpy as cp  # lazy: heavy (cvxpy)

        groups = self.setup.groups(z, a)
        eq = list(self.setup.equity)
        ka = self.knot_ages
        if self.c.equity_at_target is not None and eq:
            k = int(np.argmin(np.abs(ka - self.target_age)))
            lo, hi = self.c.equity_at_target
            e = cp.sum(z[k, eq])
            groups["equity_at_target"] = [e >= a * lo, e <= a * hi]
        if self.c.monotone_after_age is not None and eq:
            idx = [k for k in range(ka.size - 1) if ka[k] >= self.c.monotone_after_age - 1e-9]
            if idx:
                e = cp.sum(z[:, eq], axis=1)
                groups["monotone_after_age"] = [e[np.array(idx) + 1] <= e[np.array(idx)]]
        land = {"to": self.target_age, "through": self.c.landing_age}.get(self.c.landing or "")
        if land is not None:
            after = [k for k in range(ka.size) if ka[k] > land + 1e-9]
            k0 = int(np.argmin(np.abs(ka - land)))
            if after:
                groups[f"landing ({self.c.landing})"] = [z[k] == z[k0] for k in after]
        return {n: g for n, g in groups.items() if n not in self.excluded}

    def without(self, group: str) -> FundDesigner:
        """This designer on the same member-paths, without constraint group ``group``."""
        d = copy.copy(self)
        d.excluded = self.excluded | {group}
        d.fallbacks = []
        d._projector = None
        return d

    def slacks(self, knots: FloatArray) -> dict[str, float]:
        """Smallest slack of each constraint group at ``knots`` (K, A), decimal weight
        (0 for equality groups; negative where violated)."""
        import cvxpy as cp  # lazy: heavy (cvxpy)
        from cvxpy.constraints.zero import Equality  # lazy: heavy (cvxpy)

        out: dict[str, float] = {}
        for name, group in self.constraint_groups(cp.Constant(np.asarray(knots)), 1.0).items():
            worst = np.inf
            for con in group:
                if isinstance(con, Equality):
                    worst = min(worst, 0.0)
                    continue
                worst = min(worst, float(-np.max(np.asarray(con.expr.value))))
            out[name] = float(worst)
        return out

    def constraint_costs(
        self,
        point: DesignPoint,
        objective: str,
        *,
        success_floor_bpoe: float | None = None,
        max_iterations: int = 8,
        trust_radius: float = 0.2,
        map_fn: MapFn | None = None,
    ) -> tuple[ConstraintCost, ...]:
        """Which committee constraint groups bind at ``point`` and what each costs.

        Each binding group (every group but :data:`PORTFOLIO_GROUP`) is priced by a
        re-solve of ``objective`` without it, started from the design's knots on the same
        member-paths (so the re-solve is at least as good as the design: SCP accepts only
        improving steps), with the design's bPOE ceiling ``success_floor_bpoe`` kept. The
        re-solves are independent tasks of ``map_fn`` (default: here, in order).
        """
        value = objective_value(point, objective)
        sign = -1.0 if objective == "shortfall" else 1.0
        slacks = {n: v for n, v in self.slacks(point.knots).items() if n != PORTFOLIO_GROUP}
        binding = [n for n, v in slacks.items() if v < BINDING_TOLERANCE]
        tasks = [
            FrontierTask(objective, point.knots, success_floor_bpoe, trust_radius, max_iterations)
        ] * len(binding)
        freed = (map_fn or serial_map)(_without_task, list(zip(binding, tasks, strict=True)), self)
        without = {n: objective_value(pt, objective) for n, pt in zip(binding, freed, strict=True)}
        rows = []
        for name, slack in slacks.items():
            binds = name in without
            w = without.get(name, np.nan)
            cost = sign * (w - value) if binds else 0.0
            rows.append(ConstraintCost(name, binds, max(slack, 0.0), objective, value, w, cost))
        return tuple(rows)

    def constraints(self, z: Any, a: Any) -> list[Any]:
        """Every constraint of :meth:`constraint_groups`, as one list."""
        return flatten(self.constraint_groups(z, a))

    def weights(self, knots: FloatArray) -> FloatArray:
        """Per-year weights over all the data's assets, (T, A_data), from decision knots."""
        w = np.zeros((self.M.shape[0], len(self.data.assets)))
        w[:, self.cols] = self.M @ knots
        return w

    def evaluate(self, knots: FloatArray, objective: str = "") -> DesignPoint:
        """In-sample scores of the knots (on this designer's member-paths)."""
        return self.evaluate_weights(self.weights(knots), objective, knots)

    def evaluate_weights(
        self, weights: FloatArray, objective: str = "", knots: FloatArray | None = None
    ) -> DesignPoint:
        """In-sample scores of any per-year weight table (T, A), e.g. a preset's."""
        mg = margins(self.data, weights)
        rr = replacement_ratios(self.data, mg.wealth_at_retirement)
        income = retirement_income(self.data, mg.wealth_at_retirement)
        ce, ce_se = ce_and_se(
            income, self.gamma, self.data.path, prefs=self.preferences, reference=self.reference
        )
        return DesignPoint(
            knots=knots if knots is not None else np.empty((0, weights.shape[1])),
            success=float((mg.x >= 0).mean()),
            bpoe=buffered_failure_probability(mg.x),
            shortfall_cvar=cvar(mg.shortfall, self.beta),
            mean_replacement=float(rr.mean()),
            median_replacement=float(np.median(rr)),
            objective=objective,
            iterations=0,
            ce=ce,
            ce_se=ce_se,
        )

    def project(self, knots: FloatArray) -> FloatArray:
        """The feasible knots closest to ``knots`` (least squares), clipped to [0, 1].

        Raises
        ------
        OptimizationError
            The constraints conflict; the message names the groups and which one,
            dropped, makes the rest feasible.
        """
        if self._projector is None:
            self._projector = Projector(knots.shape, self.constraint_groups, self.solvers)
        z = self._projector(knots, self.fallbacks, "projection onto the fund constraints")
        return np.clip(z, 0.0, 1.0)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the built projection problem (rebuilt where it is needed)."""
        return {**self.__dict__, "_projector": None}

    def constant_start(self, equity: float = 0.6) -> FloatArray:
        n_a = len(self.assets)
        mix = np.zeros(n_a)
        eq = list(self.setup.equity)
        rest = [i for i in range(n_a) if i not in eq]
        mix[eq] = equity / max(len(eq), 1)
        if rest:
            mix[rest] = (1 - equity) / len(rest)
        return self.project(np.tile(mix, (self.knot_ages.size, 1)))

    # -------------------------------------------------------------------- SCP
    def _subproblem(
        self, objective: str, p_level: float | None
    ) -> _SuccessSubproblem | _ShortfallSubproblem:
        """The convex subproblem of ``objective``, built once, in the simplex basis (the
        weights sum to one at every knot, so the dense Jacobian block, which dominates
        the solve, carries A - 1 columns per knot instead of A)."""
        k, n_a = self.knot_ages.size, len(self.assets)
        if objective == "success":
            return _SuccessSubproblem(self.data.n, self.constraints, simplex_basis(n_a))
        return _shortfall_subproblem(
            self.data.n, k, n_a, self.constraints, self.beta, p_level, objective in ("income", "ce")
        )

    def _scp(
        self,
        objective: str,
        z0: FloatArray,
        p_level: float | None,
        max_iterations: int,
        trust_radius: float,
        min_trust_radius: float = 2e-3,
    ) -> DesignPoint:
        """``optimize.scp.trust_region_scp`` on this designer's member-paths."""
        m = self.data.n
        sub = self._subproblem(objective, p_level)

        def propose(cur: DesignPoint, rho: float, it: int) -> Proposal:
            mg = margins(self.data, self.weights(cur.knots), gradients=True)
            assert mg.dx_dg is not None and mg.dwret_dg is not None
            j = knot_jacobian(mg.dx_dg, self.growth, self.M)  # (m, K, A)
            sub.linearise(mg.x, j, cur.knots, rho)
            if isinstance(sub, _ShortfallSubproblem) and not sub.income:
                assert mg.ds_dg is not None
                js = knot_jacobian(mg.ds_dg, self.growth, self.M)
                sub.linearise_shortfall(mg.shortfall, js, cur.knots)
            if isinstance(sub, _ShortfallSubproblem) and sub.income:
                jw = knot_jacobian(mg.dwret_dg, self.growth, self.M)
                value, per = self._income_model(objective, mg.wealth_at_retirement)
                g_rr = np.einsum("mka,m->ka", jw, per) / m  # d mean / dz, (K, A)
                sub.linearise_income(value, g_rr, cur.knots)
            t_solve = time.perf_counter()
            try:
                solver = sub.solve(self.solvers, self.fallbacks, f"fund design ({objective})")
                solve_s = time.perf_counter() - t_solve
                z = sub.knots()
                cand = None if z is None else self.project(np.clip(z, 0.0, 1.0))
            except OptimizationError:
                # a failed step is a rejected one: the trust radius halves
                return Proposal(None, "", time.perf_counter() - t_solve)
            return Proposal(cand, solver, solve_s)

        def score(pt: DesignPoint) -> tuple[float, ...]:
            """Larger is better; feasibility of the success floor first."""
            if objective == "success":
                return (pt.success, -pt.bpoe)
            feas = 0.0 if p_level is None else -max(pt.bpoe - p_level, 0.0)
            if objective == "income":
                return (feas, pt.mean_replacement)
            if objective == "ce":
                return (feas, pt.ce)
            return (feas, -pt.shortfall_cvar)

        run = trust_region_scp(
            self.evaluate(z0, objective),
            propose,
            lambda knots: self.evaluate(knots, objective),
            lambda new, cur: score(new) > score(cur),
            scores=score,
            max_iterations=max_iterations,
            trust_radius=trust_radius,
            min_trust_radius=min_trust_radius,
        )
        return replace(run.best, objective=objective, iterations=len(run.iterations))

    def _income_model(self, objective: str, w_ret: FloatArray) -> tuple[float, FloatArray]:
        """The linearised objective of ``"income"`` / ``"ce"`` at balances ``w_ret``: its
        value (mean replacement ratio, or mean CRRA utility at :func:`utility_scale`) and
        its derivative per member-path with respect to that path's balance, (m,) (times
        ``m``: the caller averages)."""
        d = self.data
        if objective == "income":
            rr = replacement_ratios(d, w_ret)
            return float(rr.mean()), 1.0 / (d.annuity_factor * d.base_salary)
        c = retirement_income(d, w_ret)
        scale = utility_scale(c)
        if self.reference is not None:  # loss aversion: v = u + lambda min(0, u - u(R))
            v = income_utility(c, self.preferences, scale, self.reference)
            dv = marginal_utility(c, self.preferences, scale, self.reference)
            return float(v.mean()), dv / d.annuity_factor
        u = crra_utility(c, self.gamma, scale)
        marginal = (c / scale) ** (-self.gamma) / scale  # u'(c), per real USD a year
        return float(u.mean()), marginal / d.annuity_factor

    def optimise(
        self,
        objective: str,
        *,
        start: FloatArray | None = None,
        success_floor_bpoe: float | None = None,
        max_iterations: int = 25,
        trust_radius: float = 0.2,
    ) -> DesignPoint:
        """One objective: ``"success"``, ``"shortfall"``, ``"income"`` or ``"ce"`` (all but
        the first take a bPOE ceiling ``success_floor_bpoe``: at most that buffered failure
        probability; ``"income"`` needs one, ``"ce"`` (at the designer's ``gamma``) does
        not)."""
        if objective not in ("success", "shortfall", "income", "ce"):
            raise OptimizationError(
                f"objective={objective!r}; use success, shortfall, income or ce"
            )
        if objective == "income" and success_floor_bpoe is None:
            raise OptimizationError("objective='income' needs success_floor_bpoe")
        z0 = start if start is not None else self.constant_start()
        return self._scp(objective, z0, success_floor_bpoe, max_iterations, trust_radius)

    def frontier(
        self,
        n_points: int = 6,
        *,
        max_iterations: int = 25,
        trust_radius: float = 0.2,
        map_fn: MapFn | None = None,
    ) -> FrontierResult:
        """The efficient frontier (epsilon-constraint on bPOE) and its two end points.

        Two rounds of independent SCP searches, each round one ``map_fn`` call (default:
        here, in order; ``glidelab.backends.ordered_map`` runs them on a backend, with
        the same result whatever the backend or its number of workers): the two end
        points, then every interior point, warm-started from the end points: from the
        better (:func:`_frontier_score`) of the max-success knots and the knots
        interpolated between the end points at its bPOE level, within a trust radius of
        the largest knot difference between the end points over the number of intervals
        (clipped to ``[FRONTIER_MIN_RADIUS, trust_radius]``).
        """
        t0 = time.perf_counter()
        run = map_fn or serial_map
        ends = [
            FrontierTask("success", None, None, trust_radius, max_iterations),
            FrontierTask("shortfall", None, None, trust_radius, max_iterations),
        ]
        best_s, best_e = run(frontier_task, ends, self)
        levels = np.linspace(best_s.bpoe, best_e.bpoe, n_points)[1:-1]
        # neighbouring points lie about this far apart (the largest knot change between
        # the end points, shared by the intervals): the trust region a chained search
        # would carry from one point to the next
        gap = float(np.max(np.abs(best_e.knots - best_s.knots))) / max(n_points - 1, 1)
        radius = float(np.clip(gap, FRONTIER_MIN_RADIUS, trust_radius))
        tasks = []
        for i, p in enumerate(levels, start=1):
            level = float(max(p, 1e-6))
            share = i / (n_points - 1)
            between = self.project((1 - share) * best_s.knots + share * best_e.knots)
            starts = [best_s, self.evaluate(between, "shortfall")]
            start = max(starts, key=lambda pt: _frontier_score(pt, level))
            tasks.append(FrontierTask("shortfall", start.knots, level, radius, max_iterations))
        interior = run(frontier_task, tasks, self)
        points = [best_s]
        for p, pt in zip(levels, interior, strict=True):
            points.append(replace(pt, objective=f"frontier bPOE<={p:.3f}"))
        points.append(best_e)
        return FrontierResult(
            assets=self.assets,
            knot_ages=self.knot_ages,
            target_age=self.target_age,
            points=tuple(points),
            max_success=best_s,
            min_shortfall=best_e,
            seconds=time.perf_counter() - t0,
            beta=self.beta,
        )


#: Smallest initial trust radius of an interior frontier point, decimal weight.
FRONTIER_MIN_RADIUS = 0.02


@dataclass(frozen=True)
class FrontierTask:
    """One SCP search of the frontier: ``objective`` from ``start`` knots (None: the
    constant start) under the bPOE ceiling ``p_level`` (None: none), with the initial
    trust radius (decimal weight) and an iteration cap."""

    objective: str
    start: FloatArray | None
    p_level: float | None
    trust_radius: float
    max_iterations: int


def frontier_task(task: FrontierTask, designer: FundDesigner) -> DesignPoint:
    """Run one :class:`FrontierTask` on ``designer`` (a top-level function: a backend can
    ship it to a worker, with the designer sent once as the shared object)."""
    z0 = task.start if task.start is not None else designer.constant_start()
    return designer._scp(task.objective, z0, task.p_level, task.max_iterations, task.trust_radius)


def _without_task(task: tuple[str, FrontierTask], designer: FundDesigner) -> DesignPoint:
    """One constraint cost's re-solve: ``task = (group, search)`` run by ``designer``
    without that group (a top-level function, for a backend)."""
    group, search = task
    return frontier_task(search, designer.without(group))


def _frontier_score(point: DesignPoint, p_level: float) -> tuple[float, float]:
    """Larger is better for a frontier point at bPOE ceiling ``p_level``: feasibility
    first, then the shortfall CVaR (the score the SCP accepts steps by)."""
    return (-max(point.bpoe - p_level, 0.0), -point.shortfall_cvar)


def _margin_model(
    x: FloatArray, jac_knots: FloatArray, knots: FloatArray, basis: FloatArray, rho: float
) -> tuple[tuple[FloatArray, FloatArray, FloatArray], FloatArray, float]:
    """A design step's linear margin model: ``(jac, offset, x)`` of margins ``x`` (m,) with
    ``dx/dz`` (m, K, A) at ``knots`` in the simplex ``basis``, the knots and the trust
    radius."""
    jac, offset = linear_model(x, jac_knots, knots, basis)
    return (jac, offset, x), np.asarray(knots, dtype=np.float64), float(rho)


class _ShortfallSubproblem:
    """The convexified shortfall (or income) problem of one design SCP step.

    With ``z = 1 / A + U N'`` (``N`` a :func:`optimize.scp.simplex_basis`), the margins
    linearised as ``x ~ b + J u`` and the shortfalls as ``S ~ b_S + J_S u``, ``u = vec(U)``:
    minimise ``CVaR_beta(pos(S))`` (or maximise the linearised mean replacement ratio or
    utility, ``income``) subject to the constraints, the trust region ``|z - z0| <= rho``
    and, with a ceiling ``p``, ``CVaR_{1-p}(-x) <= 0`` (bPOE <= p).

    Both tail sums are screened (:func:`optimize.scp.solve_screened`): only the
    member-paths near each threshold enter as hinges, the rest as one linear term or not
    at all, and the split is widened until it is exact, so the step solves the same LP
    with a fraction of its rows (the CVaR's VaR ``c >= 0``: ``S >= 0`` makes
    ``pos(pos(S) - c) = pos(S - c)``). The linear models are set by :meth:`linearise`,
    :meth:`linearise_shortfall` and :meth:`linearise_income`; :meth:`solve` writes and
    solves the problem, :meth:`knots` reads the solution.
    """

    def __init__(
        self,
        m: int,
        constraints: Callable[[Any, Any], list[Any]],
        beta: float,
        p_level: float | None,
        income: bool,
        basis: FloatArray,
    ) -> None:
        self.m, self.constraints, self.beta, self.p_level = m, constraints, beta, p_level
        self.income = income
        self.basis = basis
        self.margin: tuple[FloatArray, FloatArray, FloatArray] | None = None  # jac, off, x
        self.short: tuple[FloatArray, FloatArray, FloatArray] | None = None  # jac, off, S
        self.gain: tuple[FloatArray, float] | None = None  # d objective / du, constant
        self.z0: FloatArray | None = None
        self.rho = 0.0
        self.solution: FloatArray | None = None
        self._z: Any = None
        #: Solves per step (screening rounds), for diagnostics.
        self.rounds: list[int] = []

    def linearise(
        self, x: FloatArray, jac_knots: FloatArray, knots: FloatArray, trust_radius: float
    ) -> None:
        """Set the margin model: margins ``x`` (m,) and ``dx/dz`` (m, K, A) at ``knots``."""
        self.margin, self.z0, self.rho = _margin_model(
            x, jac_knots, knots, self.basis, trust_radius
        )

    def linearise_shortfall(self, s: FloatArray, jac_knots: FloatArray, knots: FloatArray) -> None:
        """Set the shortfall model ``S ~ b_S + J_S u`` (years of need) at ``knots``."""
        jac, offset = linear_model(s, jac_knots, knots, self.basis)
        self.short = (jac, offset, s)

    def linearise_income(self, mean_rr: float, grad_rr: FloatArray, knots: FloatArray) -> None:
        """Set the linearised objective (mean replacement ratio or mean utility): its value
        ``mean_rr`` and gradient ``grad_rr`` (K, A) at ``knots``."""
        centre = np.full(knots.shape, 1.0 / knots.shape[1])
        const = float(mean_rr + grad_rr.ravel() @ (centre - knots).ravel())
        self.gain = ((grad_rr @ self.basis).ravel(), const)

    def _rows(self) -> list[TailRows]:
        """The initial split of each tail sum (bPOE ceiling's, then the CVaR's)."""
        rows = []
        if self.p_level is not None:
            assert self.margin is not None, "linearise first"
            jac, off, x = self.margin
            rows.append(tail_rows(-off, -jac, -x, 1.0 - self.p_level))
        if not self.income:
            assert self.short is not None, "linearise_shortfall first"
            jac, off, s = self.short
            rows.append(tail_rows(off, jac, s, self.beta))
        return rows

    def _build(self, rows: Sequence[TailRows]) -> tuple[Any, Any, list[Any]]:
        import cvxpy as cp  # lazy: heavy (cvxpy)

        assert self.z0 is not None, "linearise first"
        k, n_a = self.z0.shape
        u = cp.Variable((k, n_a - 1))
        uv = cp.vec(u, order="C")
        z = np.full((k, n_a), 1.0 / n_a) + u @ self.basis.T
        cons = [*self.constraints(z, 1.0), cp.abs(z - self.z0) <= self.rho]
        thresholds: list[Any] = []
        it = iter(rows)
        if self.p_level is not None:
            c2 = cp.Variable()
            cons.append(c2 + next(it).expression(uv, c2) / (self.m * self.p_level) <= 0)
            thresholds.append(c2)
        goal: cp.Maximize | cp.Minimize
        if self.income:
            assert self.gain is not None, "linearise_income first"
            goal = cp.Maximize(self.gain[1] + self.gain[0] @ uv)
        else:
            c_var = cp.Variable(nonneg=True)
            goal = cp.Minimize(c_var + next(it).expression(uv, c_var) / (self.m * (1 - self.beta)))
            thresholds.append(c_var)
        self._z = z
        return cp.Problem(goal, cons), u, thresholds

    def solve(self, solvers: Sequence[str], fallbacks: list[str], what: str) -> str:
        """Solve exactly with screened rows (:func:`optimize.scp.solve_screened`)."""
        solver, rounds = solve_screened(self._build, self._rows(), solvers, fallbacks, what)
        self.rounds.append(rounds)
        self.solution = np.asarray(self._z.value, dtype=np.float64)
        return solver

    def knots(self) -> FloatArray | None:
        """The solved knots (K, A)."""
        return self.solution


class _SuccessSubproblem:
    """The bPOE problem of one design SCP step (``optimize.scp.BpoeSubproblem``'s, in the
    simplex basis) with its hinge sum screened (:func:`optimize.scp.solve_screened`)::

        minimise   mean_s pos(1 - a b[s] - J[s] . u)
        subject to constraints(y, a),  |y - a z0| <= a rho,  0 <= a <= a_max

    with ``y = a / A + U N'``, ``u = vec(U)``: the hinges are linear in ``(a, u)``, and only
    member-paths near the buffered tail (by their current margin) enter as hinges.
    """

    def __init__(
        self, m: int, constraints: Callable[[Any, Any], list[Any]], basis: FloatArray
    ) -> None:
        self.m, self.constraints, self.basis = m, constraints, basis
        self.margin: tuple[FloatArray, FloatArray, FloatArray] | None = None
        self.z0: FloatArray | None = None
        self.rho = 0.0
        self.solution: FloatArray | None = None
        self._y: Any = None
        self._a: Any = None
        self.rounds: list[int] = []

    def linearise(
        self, x: FloatArray, jac_knots: FloatArray, knots: FloatArray, trust_radius: float
    ) -> None:
        """The shortfall step's margin model (:func:`_margin_model`)."""
        self.margin, self.z0, self.rho = _margin_model(
            x, jac_knots, knots, self.basis, trust_radius
        )

    def _build(self, rows: Sequence[TailRows]) -> tuple[Any, Any, list[Any]]:
        import cvxpy as cp  # lazy: heavy (cvxpy)

        assert self.z0 is not None, "linearise first"
        k, n_a = self.z0.shape
        a = cp.Variable(nonneg=True)
        v = cp.Variable((k, n_a - 1))
        y = a * np.full((k, n_a), 1.0 / n_a) + v @ self.basis.T
        w = cp.hstack([cp.reshape(a, (1,), order="C"), cp.vec(v, order="C")])
        cons = [
            *self.constraints(y, a),
            cp.abs(y - a * self.z0) <= self.rho * a,
            a <= BPOE_MULTIPLIER_MAX,
        ]
        zero = cp.Constant(0.0)
        self._y, self._a = y, a
        problem = cp.Problem(cp.Minimize(rows[0].expression(w, 0.0) / self.m), cons)
        return problem, w, [zero]

    def solve(self, solvers: Sequence[str], fallbacks: list[str], what: str) -> str:
        """Solve exactly with screened rows (:func:`optimize.scp.solve_screened`)."""
        assert self.margin is not None, "linearise first"
        jac, off, x = self.margin
        # hinge 1 - a x_lin = 1 + (-b) a + (-J) u in w = (a, u); ordered like the loss -x
        rows = tail_rows(
            np.ones_like(off),
            np.column_stack([-off, -jac]),
            -x,
            1.0 - buffered_failure_probability(x),
        )
        solver, rounds = solve_screened(self._build, [rows], solvers, fallbacks, what)
        self.rounds.append(rounds)
        a_val = float(self._a.value) if self._a.value is not None else 0.0
        self.solution = None if a_val <= 1e-9 else np.asarray(self._y.value) / a_val
        return solver

    def knots(self) -> FloatArray | None:
        """The solved knots ``y / a`` (K, A), or None when ``a`` is ~0."""
        return self.solution


def _shortfall_subproblem(
    m: int,
    k: int,
    n_a: int,
    constraints: Callable[[Any, Any], list[Any]],
    beta: float,
    p_level: float | None,
    income: bool,
) -> _ShortfallSubproblem:
    del k  # the knots' shape comes with the linear model
    return _ShortfallSubproblem(m, constraints, beta, p_level, income, simplex_basis(n_a))


def glide_path_from_knots(
    name: str, assets: tuple[str, ...], knot_ages: FloatArray, knots: FloatArray, target_age: float
) -> GlidePath:
    """The designed knots as a ``GlidePath`` read against the target age, rebalanced yearly."""
    w = clean_knots(knots)
    return GlidePath(
        name=name,
        assets=assets,
        knots_years_to_retirement=tuple(float(target_age - a) for a in knot_ages),
        weights=tuple(tuple(float(v) for v in row) for row in w),
        rebalance=RebalanceRule(kind="calendar", every_months=12),
        source="optimize.fund_design (population SCP)",
    )
