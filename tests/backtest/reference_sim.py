"""A plain scalar reference simulator: one scenario, Python floats, no numpy in the loop.

It restates the order of events documented in ``backtest.simulate`` as directly as
possible, so the vectorised simulator can be checked against it period by period.
Smoothing overlays are not covered (tested separately by their owners).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from backtest.plan import (
    ConstantReal,
    FixedPercent,
    GuytonKlinger,
    Plan,
    RequiredMinimum,
    rmd_divisor,
)
from strategies.base import NoStateTable, RebalanceRule, SleeveBand


@dataclass
class RefResult:
    wealth: list[float]
    contributions: list[float] = field(default_factory=list)
    withdrawals: list[float] = field(default_factory=list)
    wanted: list[float] = field(default_factory=list)
    fees: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    gains: list[float] = field(default_factory=list)
    turnover: list[float] = field(default_factory=list)
    port_ret: list[float] = field(default_factory=list)
    ruin_period: int = -1


def _contribution(plan: Plan, age: float, ppy: int) -> float:
    c = plan.contributions
    if c is None:
        return 0.0
    years = math.floor(age - plan.start_age + 1e-9)
    salary = c.salary * (1.0 + c.salary_growth_real) ** years
    employee = c.rate * salary
    if c.annual_limit is None:
        return (employee + c.match_rate * min(employee, c.match_cap * salary)) / ppy
    catch = c.catch_up if age >= c.catch_up_age else 0.0
    if c.catch_up > 0 and 60 <= math.floor(age + 1e-9) <= 63:
        catch = c.super_catch_up  # SECURE 2.0 super catch-up at 60-63
    employee = min(employee, c.annual_limit + catch)
    employer = c.match_rate * min(employee, c.match_cap * salary)
    if c.total_limit is not None:  # 415(c): catch-ups excluded; the employer's part cut
        cap = min(c.total_limit, salary)
        counted = min(employee, c.annual_limit)
        over = max(counted - cap, 0.0)
        employee -= over
        employer = min(employer, max(cap - (counted - over), 0.0))
    return (employee + employer) / ppy


def reference_simulate(
    nominal: list[list[float]],
    inflation: list[float],
    weights: list[list[float]],
    plan: Plan,
    rebalance: RebalanceRule,
    ppy: int,
    sleeve: SleeveBand | None = None,
    sleeve_index: int = -1,
    state_grid: list[list[float]] | None = None,
    state_weights: list[list[list[float]]] | None = None,
) -> RefResult:
    """Simulate one scenario; ``nominal`` is (T, A), ``weights`` the target (T, A).

    With ``state_grid`` (T, S) and ``state_weights`` (T, S, A) the targets of period t
    are read instead by the real wealth at its start: linear between the two grid points
    around it, the end rows beyond the grid (an adaptive policy).
    """
    n_t = round((plan.end_age - plan.start_age) * ppy)
    n_a = len(weights[0])
    t_ret = min(round((plan.retirement_age - plan.start_age) * ppy), n_t)

    def target(t: int, wealth: float) -> list[float]:
        if state_grid is None or state_weights is None:
            return weights[t]
        grid, rows = state_grid[t], state_weights[t]
        k = 0  # the last grid interval that starts at or below the wealth
        while k + 2 < len(grid) and grid[k + 1] <= wealth:
            k += 1
        f = min(max((wealth - grid[k]) / (grid[k + 1] - grid[k]), 0.0), 1.0)
        return [rows[k][a] + f * (rows[k + 1][a] - rows[k][a]) for a in range(n_a)]

    h = [plan.initial_balance * w for w in target(0, plan.initial_balance)]
    res = RefResult(wealth=[plan.initial_balance])
    rule = plan.withdrawal
    frac = {"start": 1.0, "end": 0.0, "split": 0.5}[rule.timing] if rule else 0.0
    c_start = plan.contributions is not None and plan.contributions.timing == "start"
    price = [1.0]
    for i in inflation[:n_t]:
        price.append(price[-1] * (1.0 + i))
    annual_w = 0.0
    ret_bal = 0.0
    year_growth = 1.0
    year_infl = 1.0
    rmd_annual = 0.0
    every = rebalance.every_periods(ppy)
    cost_rate = plan.transaction_cost_bps / 1e4
    fee_rate = plan.expense_ratio / ppy

    for t in range(n_t):
        age = plan.start_age + t / ppy
        tw = target(t, res.wealth[t])
        contrib = _contribution(plan, age, ppy) if t < t_ret else 0.0
        c_in = w_out = fee = cost = 0.0

        def pay(amount: float, t: int = t) -> float:
            bal = sum(h)
            paid = min(amount, bal)
            if amount - paid > 1e-10 * amount and res.ruin_period < 0:
                res.ruin_period = t
            scale = (bal - paid) / bal if bal > 0 else 0.0
            for j in range(n_a):
                h[j] *= scale
            return paid

        if c_start and contrib > 0:
            for j in range(n_a):
                h[j] += contrib * tw[j]
            c_in += contrib

        wanted = 0.0
        floor = 0.0  # the RMD floor of this period, real USD
        nominal_rule = isinstance(rule, ConstantReal) and not rule.indexed
        if rule is not None and t >= t_ret:
            bal = sum(h)
            k = t - t_ret
            if k == 0:
                ret_bal = bal
            year_start = k % ppy == 0
            if isinstance(rule, ConstantReal):
                if k == 0:
                    annual_w = rule.rate * ret_bal if rule.rate is not None else rule.amount
                wanted = annual_w / ppy
                if not rule.indexed:
                    wanted = wanted * price[t_ret] / price[t]
            elif isinstance(rule, FixedPercent):
                wanted = rule.rate / ppy * bal
            elif isinstance(rule, GuytonKlinger):
                if k == 0:
                    annual_w = rule.initial_rate * ret_bal
                elif year_start:
                    rate_now = annual_w / bal if bal > 0 else math.inf
                    if year_growth < 1.0 and rate_now > rule.initial_rate:
                        annual_w = annual_w / year_infl
                    rate_now = annual_w / bal if bal > 0 else math.inf
                    years_left = plan.end_age - age
                    if (
                        rate_now > rule.upper_guard * rule.initial_rate
                        and years_left > rule.preservation_off_years
                    ):
                        annual_w *= 1 - rule.adjustment
                    if rate_now < rule.lower_guard * rule.initial_rate:
                        annual_w *= 1 + rule.adjustment
                wanted = annual_w / ppy
            elif isinstance(rule, RequiredMinimum):
                if year_start:
                    div = rmd_divisor(age) if age >= 72 else 1.0 / rule.pre_table_rate
                    annual_w = bal / div
                wanted = annual_w / ppy
            if plan.rmd_floor and age >= plan.rmd_start_age:
                if year_start:
                    rmd_annual = bal / rmd_divisor(age)
                floor = rmd_annual / ppy
            if year_start:
                year_growth = 1.0
                year_infl = 1.0
        # ``wanted`` is the rule's amount in real USD at the period's start. A nominal
        # amount paid at the end is the same number of dollars, so it is worth
        # price[t] / price[t + 1] of that in real terms.
        wanted_end = wanted * price[t] / price[t + 1] if nominal_rule else wanted
        want_start = frac * max(wanted, floor)
        want_end = (1.0 - frac) * max(wanted_end, floor)
        if frac > 0:
            w_out += pay(want_start)

        # rebalancing
        bal = sum(h)
        w_now = [x / bal if bal > 0 else 0.0 for x in h]
        if t == 0 or rebalance.kind == "none":
            due = False
        elif rebalance.kind == "calendar":
            due = t % every == 0
        else:
            dev = 0.0
            for j in range(n_a):
                d = abs(w_now[j] - tw[j])
                if rebalance.band_kind == "relative":
                    d = d / tw[j] if tw[j] > 0 else (math.inf if d > 0 else 0.0)
                dev = max(dev, d)
            due = dev > rebalance.band
        new_h = [bal * tw[j] for j in range(n_a)] if due else list(h)
        if sleeve is not None and not due:
            s_t = tw[sleeve_index]
            s_w = new_h[sleeve_index] / (bal if bal > 0 else 1.0)
            if s_t > 0 and (s_w < sleeve.lower * s_t or s_w > sleeve.upper * s_t):
                others = bal - new_h[sleeve_index]
                scale = bal * (1 - s_t) / others if others > 0 else 1.0
                new_h = [x * scale for x in new_h]
                new_h[sleeve_index] = bal * s_t
        traded = sum(abs(a - b) for a, b in zip(new_h, h, strict=True))
        h[:] = new_h
        if cost_rate > 0:
            cost = cost_rate * traded
            scale = (bal - cost) / bal if bal > 0 else 0.0
            for j in range(n_a):
                h[j] *= scale
            cost = min(cost, bal)
        turnover = traded / (2 * bal) if bal > 0 else 0.0

        # returns
        before = sum(h)
        g = [(1.0 + nominal[t][j]) / (1.0 + inflation[t]) for j in range(n_a)]
        for j in range(n_a):
            h[j] *= g[j]
        after = sum(h)
        # The period's return: growth of what was held, or of the target mix when the
        # account is empty (so the series stays defined after ruin).
        if before > 0:
            real_rate = after / before - 1.0
        else:
            real_rate = sum(tw[j] * g[j] for j in range(n_a)) - 1.0
        port = (1.0 + real_rate) * (1.0 + inflation[t]) - 1.0
        gain = after - before
        year_growth *= 1.0 + port
        year_infl *= 1.0 + inflation[t]

        if fee_rate > 0:
            fee = after * fee_rate
            for j in range(n_a):
                h[j] *= 1.0 - fee_rate

        if not c_start and contrib > 0:
            for j in range(n_a):
                h[j] += contrib * tw[j]
            c_in += contrib
        if frac < 1 and want_end != 0:
            w_out += pay(want_end)

        res.contributions.append(c_in)
        res.withdrawals.append(w_out)
        res.wanted.append((want_start if frac > 0 else 0.0) + want_end)
        res.fees.append(fee)
        res.costs.append(cost)
        res.gains.append(gain)
        res.turnover.append(turnover)
        res.port_ret.append(port)
        res.wealth.append(sum(h))
    return res


@dataclass(frozen=True)
class TableMix(NoStateTable):
    """Test strategy: the same target weights table (T, A) for every scenario."""

    depends_on_returns = False  # a class attribute (no annotation: not a field)
    name: str
    assets: tuple[str, ...]
    table: tuple[tuple[float, ...], ...]
    rebalance: RebalanceRule = field(default_factory=RebalanceRule)
    sleeve_band: SleeveBand | None = None
    smoothing: None = None

    def target_weights(self, schedule, past_returns):
        import numpy as np

        w = np.asarray(self.table, dtype=np.float64)
        if w.shape[0] == 1:
            w = np.repeat(w, schedule.n_periods, axis=0)
        return w[None, : schedule.n_periods]


def constant_mix(
    assets: tuple[str, ...], weights: tuple[float, ...], rebalance: RebalanceRule | None = None
) -> TableMix:
    """A constant mix (one row broadcast over every period)."""
    return TableMix("mix", assets, (tuple(weights),), rebalance or RebalanceRule())
