"""A shared glide path's outcomes over a population's member-paths.

A target-date fund holds one glide path for everyone born in the same years:
:func:`glide_weights` reads it by the vintage's age against the target date,
:func:`run_accounts` runs every member-path's account (a member of
:mod:`backtest.population` paired with a market path) and :func:`evaluate_population`
scores them (:class:`PopulationOutcome`); :func:`paired_ce` compares two paths'
certainty-equivalent incomes on the same member-paths (CRRA, or
:class:`backtest.outcomes.IncomePreferences` with loss aversion). For the income figures
(issue 23): the drawdown account's bequest (``evaluate_population(bequest_at=...)``),
:func:`reach_probability` of a target replacement and :func:`retirement_withdrawal_rates`;
for paired comparisons on the same member-paths, :func:`batch_se` (batch means over market
paths) and :func:`cvar_influence`. The account model and the scores' definitions are
stated in :mod:`backtest.population`'s docstring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backtest.account import AccountFlows, AccountPaths, run_balances
from backtest.errors import DataError, PlanError
from backtest.outcomes import (
    LOG_UTILITY_BAND,
    IncomePreferences,
    SuccessRate,
    bequest_percentiles,
    income_utility,
    max_sustainable_rates,
    preference_certainty_equivalent,
    probability_of_reaching,
    ruin_ages,
    shortfall_discount,
    shortfall_years,
    survival_weighted_success,
    tail_mean,
)
from backtest.population import Members, PopulationSpec
from backtest.scenarios import Scenarios
from backtest.types import FloatArray, IntArray
from strategies.base import Schedule, Strategy, validate_weights


def glide_weights(strategy: Strategy, spec: PopulationSpec, scenarios: Scenarios) -> FloatArray:
    """The shared glide path's target weights by the vintage's age, (T, A).

    The strategy is read against the **target date** (``spec.target_age``), the same for
    every member. Only static strategies (weights independent of returns) can be shared.
    """
    if strategy.depends_on_returns:
        raise PlanError(
            f"strategy {strategy.name!r} adapts to returns; a fund's shared glide path must be "
            "static (a GlidePath, a fixed mix or an age rule)"
        )
    schedule = Schedule.from_ages(spec.first_age, spec.end_age, spec.target_age, 1)
    sub = scenarios.select(tuple(strategy.assets)).head(spec.n_periods)
    w = validate_weights(
        strategy.target_weights(schedule, sub.returns), strategy.assets, strategy.name
    )
    return np.asarray(w[0], dtype=np.float64)


def portfolio_growth(
    scenarios: Scenarios, assets: tuple[str, ...], weights: FloatArray
) -> FloatArray:
    """Real gross return of the target mix, rebalanced every year, per path, (P, T).

    ``G[p, t] = sum_a w[t, a] (1 + r[p, t, a]) / (1 + inflation[p, t])``. Raises if a held
    asset has no data in some period.
    """
    if scenarios.periods_per_year != 1:
        raise DataError("the population model is annual; generate annual scenarios")
    n_t = weights.shape[0]
    if scenarios.n_periods < n_t:
        raise DataError(
            f"the vintage spans {n_t} years but the scenarios hold {scenarios.n_periods}; "
            "generate longer scenarios or lower end_age"
        )
    sub = scenarios.select(assets).head(n_t)
    r = sub.returns
    held = np.broadcast_to(weights[None] > 0, r.shape)
    if (np.isnan(r) & held).any():
        raise DataError("a held asset has no return data in some period; restrict the scenarios")
    nominal = np.einsum("pta,ta->pt", np.nan_to_num(r), weights)
    return (1.0 + nominal) / (1.0 + sub.inflation)


def run_accounts(
    growth: FloatArray,
    contributions: FloatArray,
    spending: FloatArray,
    leakage_share: FloatArray,
    expense_ratio: float,
    initial_balance: FloatArray | float = 0.0,
) -> AccountPaths:
    """The account recursion over member-paths; every input (m, T) real USD a year.

    Per year: leakage ``share x W`` and then the spending (``min(need, balance)``) leave
    at the start; the rest grows by ``growth`` and pays ``expense_ratio`` of the balance
    after returns; contributions arrive at the end. Ruin: the first year spending falls
    short (by more than ``backtest.cashflows.PAID_RTOL`` of it, as ``backtest.simulate``).
    The recursion is :func:`backtest.account.run_balances`.
    """
    zero = np.zeros(growth.shape[1])
    flows = AccountFlows(
        contributions_start=zero,
        contributions_end=contributions,
        withdrawal_start=spending,
        withdrawal_end=zero,
        leakage=leakage_share,
        fee_per_period=expense_ratio,
    )
    return run_balances(flows, growth, initial_balance)


#: What a :class:`PopulationOutcome`'s scores condition on.
CONDITIONING = "members alive at their retirement age"


@dataclass(frozen=True)
class PopulationOutcome:
    """How one shared glide path served each member-path. Arrays (m,), read-only.

    Every score is **conditional on reaching retirement** (:attr:`conditioning`): the
    member-paths are those of the members alive at their retirement age; the share of
    the drawn members who die before it is :attr:`died_before_retirement`.

    Attributes
    ----------
    member, path
        Index of the member and of the market path of each member-path.
    success
        Survival-weighted success: probability the money outlasts the member.
    success_fixed
        The money lasts to ``spec.horizon_age`` (1.0 / 0.0).
    unpaid_years
        Expected years of spending need left unpaid, survival-weighted, valued at the
        retirement age at ``spec.annuity_rate`` (:func:`backtest.outcomes.shortfall_years`).
    unpaid_usd
        The same in real USD (valued at the retirement age).
    replacement_ratio
        (Social Security + balance at retirement / annuity factor) / the salary the need
        is based on (``Members.base_salary``, ``PopulationSpec.need_basis``).
    wealth_at_retirement
        Balance at the member's retirement age, real USD.
    income
        Real retirement income, real USD a year: Social Security + the balance at
        retirement priced as a real life annuity (``balance / annuity_factor``, the
        member's own factor at ``spec.annuity_rate``); what :func:`paired_ce` scores.
    leakage, penalty
        Total leaked before retirement and the 10 % additional tax on it, real USD.
    died_before_retirement
        Share of the drawn members who die before their retirement age (excluded from
        every score), decimal.
    conditioning
        What the scores condition on, for reports to print.
    """

    name: str
    member: IntArray
    path: IntArray
    success: FloatArray
    success_fixed: FloatArray
    unpaid_years: FloatArray
    unpaid_usd: FloatArray
    replacement_ratio: FloatArray
    wealth_at_retirement: FloatArray
    income: FloatArray
    leakage: FloatArray
    penalty: FloatArray
    #: Percentiles (``bequest_percentiles``, percent) of real wealth left at death in the
    #: drawdown account, real USD, over member-paths and death years weighted by the
    #: member's survival curve (:func:`backtest.outcomes.bequest_percentiles`); empty
    #: unless asked for.
    bequest: FloatArray = field(default_factory=lambda: np.empty(0))
    died_before_retirement: float = 0.0
    conditioning: str = CONDITIONING

    @property
    def n(self) -> int:
        return int(self.member.size)

    @property
    def mean_success(self) -> float:
        """Average survival-weighted success over member-paths, decimal."""
        return float(self.success.mean())

    @property
    def fixed_horizon_success(self) -> float:
        """Share of member-paths whose money lasts to the fixed horizon age, decimal."""
        return float(self.success_fixed.mean())

    @property
    def mean_unpaid_years(self) -> float:
        return float(self.unpaid_years.mean())

    @property
    def median_replacement_ratio(self) -> float:
        return float(np.median(self.replacement_ratio))

    def cvar_unpaid_years(self, level: float = 0.95) -> float:
        """CVaR at ``level`` of unpaid years: mean of the worst ``1 - level`` share."""
        return cvar(self.unpaid_years, level)

    def summary(self) -> dict[str, float]:
        """The headline numbers, floats (decimals and years)."""
        return {
            "member_paths": float(self.n),
            "share_died_before_retirement": self.died_before_retirement,
            "success_survival_weighted": self.mean_success,
            "success_fixed_horizon": self.fixed_horizon_success,
            "median_replacement_ratio": self.median_replacement_ratio,
            "mean_unpaid_years": self.mean_unpaid_years,
            "cvar95_unpaid_years": self.cvar_unpaid_years(0.95),
        }


def cvar(loss: FloatArray, level: float = 0.95) -> float:
    """Conditional value at risk of a loss (e.g. unpaid years): the mean of the worst
    ``1 - level`` share, by the one tail convention (:func:`backtest.outcomes.tail_mean`,
    upper tail)."""
    if not 0 <= level < 1:
        raise PlanError(f"CVaR level={level} must be in [0, 1)")
    if level == 0:
        return float(np.mean(np.asarray(loss, dtype=np.float64)))
    return float(tail_mean(np.asarray(loss, dtype=np.float64).ravel(), level, "upper"))


def _ce_influence(income: FloatArray, gamma: float, scale: float) -> tuple[float, FloatArray]:
    """Certainty equivalent of ``income`` (n,) at ``gamma`` (real USD a year) and each
    member-path's influence on it, (n,): ``CE (v_i - mean v) / ((1 - gamma) mean v)`` with
    ``v = (c / scale) ** (1 - gamma)`` (``CE (log c_i - mean log c)`` at ``gamma = 1``)."""
    c = np.asarray(income, dtype=np.float64) / scale
    if abs(gamma - 1.0) <= LOG_UTILITY_BAND:
        lc = np.log(c)
        ce = float(np.exp(lc.mean()))
        return ce * scale, ce * scale * (lc - lc.mean())
    v = c ** (1.0 - gamma)
    mv = float(v.mean())
    ce = mv ** (1.0 / (1.0 - gamma)) * scale
    return ce, ce * (v - mv) / ((1.0 - gamma) * mv)


def _pref_influence(
    income: FloatArray, prefs: IncomePreferences, scale: float, loss_reference: FloatArray | None
) -> tuple[float, FloatArray]:
    """CE of ``income`` (n,) under ``prefs`` (real USD a year,
    :func:`backtest.outcomes.preference_certainty_equivalent`) and each member-path's
    influence on it, ``(v_i - mean v) / u'(CE)``, with ``v`` :func:`income_utility` and
    ``u'`` the plain CRRA slope."""
    ce = preference_certainty_equivalent(income, prefs, reference=loss_reference)
    v = income_utility(income, prefs, scale, loss_reference)
    du = (ce / scale) ** (-prefs.gamma) / scale  # the CE is valued without the loss term
    return ce, (v - v.mean()) / du


def paired_ce(
    income: FloatArray,
    reference: FloatArray,
    gamma: float,
    clusters: IntArray | None = None,
    *,
    preferences: IncomePreferences | None = None,
    loss_reference: FloatArray | None = None,
) -> tuple[float, float, float]:
    """CE of ``income``, its difference to the CE of ``reference`` and the **paired**
    standard error of that difference, real USD a year.

    ``income`` and ``reference`` (n,) are two strategies' real retirement incomes on the
    same member-paths. The SE is the delta method on the pair (direct formula): the
    difference of the two CEs' influence functions (:func:`_ce_influence`) per
    member-path, averaged within each cluster (``clusters``, e.g. the market path: the
    members of one path share its returns, so they are not independent draws) and
    ``std / sqrt(number of clusters)`` of the cluster means (batch means); ``clusters``
    None treats every member-path as independent.

    ``preferences`` with loss aversion (its ``gamma`` replaces ``gamma``) values income by
    :func:`backtest.outcomes.income_utility` against each member-path's reference income
    ``loss_reference`` (real USD a year, (n,)); None or plain CRRA is the CRRA formula.

    Raises
    ------
    DataError
        The arrays differ in shape or an income is <= 0.
    """
    a = np.asarray(income, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise DataError(
            f"paired CE needs two incomes on the same member-paths; shapes {a.shape} and "
            f"{b.shape} differ: score both strategies on the same members and paths"
        )
    if not (np.all(a > 0) and np.all(b > 0)):
        raise DataError("paired CE needs incomes > 0 real USD a year; add Social Security")
    g = float(gamma)
    scale = float(np.median(np.concatenate([a, b])))
    if preferences is not None and preferences.loss_aversion:
        if loss_reference is None or np.shape(loss_reference) != a.shape:
            raise DataError("loss aversion needs loss_reference: one reference income a path")
        ref = np.asarray(loss_reference, dtype=np.float64)
        ce_a, inf_a = _pref_influence(a, preferences, scale, ref)
        ce_b, inf_b = _pref_influence(b, preferences, scale, ref)
    else:
        ce_a, inf_a = _ce_influence(a, g, scale)
        ce_b, inf_b = _ce_influence(b, g, scale)
    d = inf_a - inf_b
    if clusters is not None:
        inv = np.unique(np.asarray(clusters), return_inverse=True)[1]
        d = np.bincount(inv, weights=d) / np.bincount(inv)
    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan")
    return ce_a, ce_a - ce_b, se


def pair_members_paths(
    n_members: int, n_paths: int, mode: str = "cross"
) -> tuple[IntArray, IntArray]:
    """Indices (member, path) of the member-paths: every member on every path (``"cross"``,
    n_members x n_paths) or member ``i`` on path ``i mod n_paths`` (``"paired"``)."""
    if mode == "cross":
        return np.repeat(np.arange(n_members), n_paths), np.tile(np.arange(n_paths), n_members)
    if mode == "paired":
        return np.arange(n_members), np.arange(n_members) % n_paths
    raise PlanError(f"pairing={mode!r}; use 'cross' or 'paired'")


def score_paths(members: Members, member: IntArray, acc: AccountPaths) -> dict[str, FloatArray]:
    """Scores of member-paths from their account flows (see the module docstring)."""
    spec = members.spec
    surv = members.survival[member]  # (m, T + 1)
    t_ret = members.retirement_period[member]
    rows = np.arange(acc.withdrawals.shape[0])
    ruined = acc.ruin_period >= 0
    # ``surv`` is each member's survival from the retirement age at whole ages (1 before).
    success = survival_weighted_success(
        ruin_ages(acc.ruin_period, spec.first_age, 1),
        members.retirement_age[member],
        surv,
        spec.first_age,
    )
    horizon = spec.horizon_age - spec.first_age
    success_fixed = (~ruined | (acc.ruin_period >= horizon)).astype(np.float64)
    # Survival to the start of each year (alive at its start to need its spending).
    alive = surv[:, :-1]
    rate = spec.annuity_rate
    disc = shortfall_discount(acc.wanted.shape, rate, t_ret)
    unpaid_usd = (alive * disc * (acc.wanted - acc.withdrawals)).sum(axis=1)
    unpaid = shortfall_years(acc.wanted, acc.withdrawals, rate, t_ret, 1, alive)
    w_ret = acc.wealth[rows, t_ret]
    income = members.social_security[member] + w_ret / members.annuity_factor[member]
    rr = income / members.base_salary[member]
    leak = acc.leakage.sum(axis=1)
    pen = (acc.leakage * members.penalty_rate[member]).sum(axis=1)
    return {
        "success": success,
        "success_fixed": success_fixed,
        "unpaid_years": unpaid,
        "unpaid_usd": unpaid_usd,
        "replacement_ratio": rr,
        "wealth_at_retirement": w_ret,
        "income": income,
        "leakage": leak,
        "penalty": pen,
    }


def evaluate_population(
    members: Members,
    growth: FloatArray,
    *,
    expense_ratio: float = 0.0,
    pairing: str = "cross",
    name: str = "",
    chunk_size: int = 50_000,
    bequest_at: Sequence[float] = (),
) -> PopulationOutcome:
    """Score a shared glide path over member-paths, in chunks of bounded memory.

    Only the members who reach retirement are scored (the scores are conditional on it;
    :attr:`PopulationOutcome.died_before_retirement` is the share who do not).

    Parameters
    ----------
    members
        The vintage (:func:`draw_members`).
    growth
        Real gross return of the shared glide path per market path and year, (P, T), from
        :func:`portfolio_growth`.
    expense_ratio
        Fund fees, decimal of the balance a year.
    pairing
        ``"cross"`` (every member on every path) or ``"paired"`` (member i on path i mod P).
    chunk_size
        Member-paths simulated at once; memory is about ``chunk_size x T x 80`` bytes.
    bequest_at
        Percentiles (percent) of the bequest to report (``PopulationOutcome.bequest``);
        empty: none (keeps no wealth paths; with them, about ``m x years from the first
        retirement age x 16`` bytes more).
    """
    n_t = members.spec.n_periods
    if growth.ndim != 2 or growth.shape[1] != n_t:
        raise DataError(f"growth must be (n_paths, {n_t}); got {growth.shape}")
    if not 0 <= expense_ratio <= 0.2:
        raise PlanError(f"expense_ratio={expense_ratio} must be a decimal in [0, 0.2]")
    member, path = pair_members_paths(members.n_members, growth.shape[0], pairing)
    # Conditional on reaching retirement: members who die before it are not scored.
    keep = members.alive_at_retirement[member]
    member, path = member[keep], path[keep]
    if member.size == 0:
        raise PlanError("no member reaches retirement; draw more members")
    parts: dict[str, list[FloatArray]] = {}
    k0 = int(members.retirement_period.min())  # alive is 1 up to every retirement
    wealth: list[FloatArray] = []
    for lo in range(0, member.size, chunk_size):
        mi, pi = member[lo : lo + chunk_size], path[lo : lo + chunk_size]
        acc = run_accounts(
            growth[pi],
            members.contributions[mi],
            members.spending[mi],
            members.leakage_share[mi],
            expense_ratio,
        )
        for k, v in score_paths(members, mi, acc).items():
            parts.setdefault(k, []).append(v)
        if len(bequest_at):
            wealth.append(acc.wealth[:, k0:])
    cols: dict[str, Any] = {k: np.concatenate(v) for k, v in parts.items()}
    beq = np.empty(0)
    if len(bequest_at):
        alive = members.survival[member][:, k0:]
        beq = bequest_percentiles(np.concatenate(wealth), alive, bequest_at)
    for arr in (*cols.values(), member, path, beq):
        arr.flags.writeable = False
    return PopulationOutcome(
        name=name,
        member=member,
        path=path,
        bequest=beq,
        died_before_retirement=members.share_died_before_retirement,
        **cols,
    )


@dataclass(frozen=True)
class MemberSummary:
    """Per-member averages over market paths, (n_members,) each."""

    success: FloatArray
    unpaid_years: FloatArray
    replacement_ratio: FloatArray = field(repr=False)


def per_member(outcome: PopulationOutcome, n_members: int) -> MemberSummary:
    """Average each member's scores over the market paths it was paired with."""
    count = np.bincount(outcome.member, minlength=n_members).astype(np.float64)
    safe = np.where(count > 0, count, 1.0)

    def avg(x: FloatArray) -> FloatArray:
        return np.bincount(outcome.member, weights=x, minlength=n_members) / safe

    return MemberSummary(
        success=avg(outcome.success),
        unpaid_years=avg(outcome.unpaid_years),
        replacement_ratio=avg(outcome.replacement_ratio),
    )


# ------------------------------------------------------------------ paired comparisons


def cluster_means(values: FloatArray, clusters: IntArray | None) -> FloatArray:
    """Means of ``values`` (n,) within each cluster (e.g. market path), (k,); ``values``
    themselves when ``clusters`` is None (the batches of a batch-means SE)."""
    v = np.asarray(values, dtype=np.float64)
    if clusters is None:
        return v
    inv = np.unique(np.asarray(clusters), return_inverse=True)[1]
    return np.bincount(inv, weights=v) / np.bincount(inv)


def batch_se(values: FloatArray, clusters: IntArray | None = None) -> float:
    """Standard error of the mean of ``values`` (n,) by batch means over ``clusters``:
    ``std(cluster means, ddof=1) / sqrt(number of clusters)``; NaN below two batches."""
    b = cluster_means(values, clusters)
    return float(b.std(ddof=1) / np.sqrt(b.size)) if b.size > 1 else float("nan")


def reach_probability(
    values: FloatArray, target: float, clusters: IntArray | None = None
) -> SuccessRate:
    """:func:`backtest.outcomes.probability_of_reaching` ``target`` (e.g. a replacement
    ratio, decimal), its standard error by batch means over ``clusters``: the member-paths
    of one market path share its returns, so ``n_effective = p (1 - p) / se_batch ** 2``
    (at most ``n``) instead of ``n``."""
    v = np.asarray(values, dtype=np.float64)
    hit = (v >= target).astype(np.float64)
    p = float(hit.mean())
    se = batch_se(hit, clusters)
    n_eff = None
    if clusters is not None and np.isfinite(se) and se > 0 and 0 < p < 1:
        n_eff = float(min(v.size, p * (1.0 - p) / se**2))
    return probability_of_reaching(v, target, n_eff)


def cvar_influence(loss: FloatArray, level: float = 0.95) -> tuple[float, FloatArray]:
    """:func:`cvar` of ``loss`` (n,) and each value's influence on it,
    ``c + pos(x_i - c) / (1 - level) - CVaR`` with ``c`` the ``level`` quantile (the
    Rockafellar-Uryasev form), for the paired SE of a CVaR difference."""
    x = np.asarray(loss, dtype=np.float64)
    value = cvar(x, level)
    c = float(np.quantile(x, level))
    return value, c + np.maximum(x - c, 0.0) / (1.0 - level) - value


def retirement_withdrawal_rates(
    growth: FloatArray, first: int, last: int, expense_ratio: float = 0.0
) -> FloatArray:
    """:func:`backtest.outcomes.max_sustainable_rates` of a shared glide path per market
    path, decimal of the balance at period ``first`` a year: the constant real withdrawal
    (at the start of each year) that lasts exactly to period ``last`` on the path's real
    gross returns ``growth`` (P, T) after the fund's fee (``G (1 - fee)``)."""
    g = np.asarray(growth, dtype=np.float64)[:, first:last]
    if g.shape[1] == 0:
        raise PlanError(f"no retirement years between periods {first} and {last}")
    return max_sustainable_rates(g * (1.0 - expense_ratio) - 1.0, 1)
