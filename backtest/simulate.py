"""The vectorised lifecycle simulator.

``simulate(scenarios, plan, strategy)`` runs a member's account through every scenario at
once. The only Python loop is over periods, because cash flows and withdrawal rules make
each period depend on the last; every step is a few numpy operations on arrays laid out
(n_assets, n_scenarios), so each operation runs along the long scenario axis.

Units: the account is tracked in **real USD of the start date**. Asset returns in the
scenarios are nominal; each period's holdings grow by ``(1 + r) / (1 + inflation)``.
Nominal wealth is ``wealth * price_index``. Every flow in the result is real USD per
period, signed positive (contributions in; withdrawals, fees, costs out).

Order of events inside period ``t`` (length ``1 / periods_per_year`` years):

0. leakage (before retirement, with explicit ``cash_flows``): a share of the balance
   cashed out, sold pro rata;
1. start-of-period contribution (``Contributions.timing="start"``; buys the target mix)
   and the start share of the withdrawal (all of it for ``timing="start"``, half for
   ``"split"``), sold pro rata;
2. rebalancing, if due (calendar: every ``every_months``, counted from the first period;
   band: any weight outside its tolerance), then the sleeve's own band; transaction cost
   ``transaction_cost_bps`` of the value traded (buys + sells), taken pro rata;
3. returns (and the smoothing overlay, if any);
4. fees: ``expense_ratio / periods_per_year`` of the balance after returns;
5. end-of-period contribution and the rest of the withdrawal.

A withdrawal fixed in nominal dollars (``ConstantReal(indexed=False)``) pays the same
dollars at the end of a period as at its start: its end share is deflated by the period's
inflation. Withdrawal rules decide once a year, at each anniversary of retirement, from the balance
at that moment (before that period's withdrawal); monthly periods pay a twelfth of the
annual amount. The initial balance is invested at the first period's target weights at
no cost, and no rebalancing happens in the first period.

Ruin: the first period in which a withdrawal could not be paid in full (relative
shortfall above ``backtest.cashflows.PAID_RTOL``, 1e-10). After ruin the account stays
empty; the portfolio return is still reported (that of the target mix) so return series
remain defined.

Accounting identity, per scenario and period, to round-off:
``wealth[t+1] = wealth[t] + contributions - withdrawals - leakage - fees - costs + gains``.

The cash flows come from one definition, :mod:`backtest.cashflows` (``CashFlowRules``),
which both engines and the optimizer's wealth model read; ``simulate(...,
cash_flows=...)`` takes explicit, possibly per-scenario, schedules (a population of
members, one per scenario).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from backtest import account, kernel
from backtest.cashflows import (
    W_CONSTANT,
    W_GUYTON,
    W_NONE,
    W_PERCENT,
    W_RMD,
    CashFlowRules,
    cash_flow_rules,
)
from backtest.engine_gen import GeneratedScenarios, no_draws
from backtest.errors import DataError, PlanError
from backtest.plan import RMD_FIRST_AGE, FundedRatio, MoneyLasts, Plan, rmd_divisor
from backtest.scenarios import Scenarios
from backtest.types import BoolArray, FloatArray, IntArray, read_only
from strategies.base import Schedule, StateTable, Strategy, check_strategy, validate_weights

Engine = Literal["auto", "numpy", "numba"]


@dataclass(frozen=True)
class SimulationResult:
    """Everything a simulation produced; arrays are read-only.

    Shapes: ``n`` scenarios, ``T`` periods. Amounts are real USD of the start date;
    arrays may be Fortran-ordered read-only views (the simulator fills them time-major).

    Attributes
    ----------
    wealth
        Balance at each period boundary, (n, T + 1); column 0 is the initial balance.
    contributions, withdrawals, withdrawals_wanted, fees, costs, gains, leakage
        Flows per period, (n, T). ``withdrawals`` is what was paid, ``withdrawals_wanted``
        what the rule asked for; ``gains`` is the real investment gain credited;
        ``leakage`` what was cashed out before retirement (``CashFlowRules.leakage``).
    turnover
        One-way turnover from rebalancing, decimal of the balance, (n, T).
    portfolio_returns
        Nominal portfolio return of each period before fees, (n, T), from the weights
        held over the period (the target weights once the account is empty).
    price_index
        Cumulative CPI, 1 at the start, (n, T + 1).
    ruin_period
        First period in which a withdrawal could not be paid in full, or -1, (n,).
    weights
        Realised weights after rebalancing at the start of each period, (n, T, A), when
        ``record_weights=True``; else ``None``.
    reserve
        Smoothing reserve at each period boundary, (n, T + 1), or ``None``.
    """

    wealth: FloatArray
    contributions: FloatArray
    withdrawals: FloatArray
    withdrawals_wanted: FloatArray
    fees: FloatArray
    costs: FloatArray
    gains: FloatArray
    leakage: FloatArray
    turnover: FloatArray
    portfolio_returns: FloatArray
    price_index: FloatArray
    ruin_period: IntArray
    schedule: Schedule
    plan: Plan
    strategy_name: str
    assets: tuple[str, ...]
    frequency: str
    labels: tuple[str, ...] | None = None
    weights: FloatArray | None = None
    reserve: FloatArray | None = None

    @property
    def n_scenarios(self) -> int:
        return int(self.wealth.shape[0])

    @property
    def retirement_period(self) -> int:
        """Index into ``wealth`` of the balance at the retirement age."""
        return min(
            self.plan.retirement_period(self.schedule.periods_per_year),
            len(self.schedule.age_start),
        )

    @property
    def ruin_age(self) -> FloatArray:
        """Age at the start of the period of ruin, or NaN where the money lasted, (n,)."""
        ages = self.schedule.age_start
        r = self.ruin_period
        return np.where(r >= 0, ages[np.clip(r, 0, None)], np.nan)

    @property
    def terminal_wealth(self) -> FloatArray:
        """Balance at the end age, real USD, (n,)."""
        return self.wealth[:, -1]

    @property
    def wealth_nominal(self) -> FloatArray:
        """Balance at each boundary in nominal USD, (n, T + 1)."""
        return self.wealth * self.price_index

    @property
    def wealth_at_retirement(self) -> FloatArray:
        """Balance at the retirement age, real USD, (n,)."""
        return self.wealth[:, self.retirement_period]

    @property
    def funded_ratio(self) -> FloatArray:
        """Balance at retirement / PV of the target income (``FundedRatio`` plans only)."""
        return funded_ratio(self.plan, self.wealth_at_retirement)

    @property
    def success(self) -> BoolArray:
        """Per-scenario success under the plan's success definition, (n,)."""
        return success_of(self.plan, self.ruin_period, self.wealth_at_retirement)

    @property
    def success_rate(self) -> float:
        """Share of scenarios that succeed, decimal."""
        return float(np.mean(self.success))

    # ----------------------------------------------------------------- notebook views

    @property
    def boundary_ages(self) -> FloatArray:
        """Age at each period boundary of ``wealth``, years, (T + 1,)."""
        ages = self.schedule.age_start
        return np.append(ages, ages[-1] + 1.0 / self.schedule.periods_per_year)

    def to_frame(self) -> pd.DataFrame:
        """One row per scenario: its outcome (amounts in real USD of the start date).

        Columns: ``success`` (bool, the plan's definition), ``ruin_age`` (age at the
        start of the period of ruin, NaN where the money lasted), ``wealth_at_retirement``,
        ``terminal_wealth``, ``withdrawals_paid`` (sum over the plan). Index ``scenario``:
        the scenarios' labels (e.g. a cohort's first year) when they have them, else 0..n-1.
        """
        index = pd.Index(
            list(self.labels) if self.labels is not None else range(self.n_scenarios),
            name="scenario",
        )
        return pd.DataFrame(
            {
                "success": self.success,
                "ruin_age": self.ruin_age,
                "wealth_at_retirement": self.wealth_at_retirement,
                "terminal_wealth": self.terminal_wealth,
                "withdrawals_paid": self.withdrawals.sum(axis=1),
            },
            index=index,
        )

    def percentiles_by_age(self, q: Iterable[float] = (5, 25, 50, 75, 95)) -> pd.DataFrame:
        """Percentiles of the real balance across scenarios at each age, real USD.

        Index ``age`` (years, each period boundary, start to end age); one column per
        percentile ``q`` (0..100), named ``p5``, ``p50``, ...
        """
        qs = [float(x) for x in q]
        if not qs or any(not 0 <= x <= 100 for x in qs):
            raise DataError(f"percentiles q={qs} must be numbers from 0 to 100, e.g. (5, 50, 95)")
        values = np.percentile(self.wealth, qs, axis=0).T  # (T + 1, len(q))
        return pd.DataFrame(
            values,
            index=pd.Index(self.boundary_ages, name="age"),
            columns=[f"p{x:g}" for x in qs],
        )

    def _summary_lines(self) -> list[str]:
        """A few lines for a notebook: plan, strategy, scenarios, success with its s.e."""
        p, n = self.success_rate, self.n_scenarios
        se = float(np.sqrt(p * (1.0 - p) / n)) if n > 0 else float("nan")
        plan = self.plan
        return [
            f"SimulationResult: strategy {self.strategy_name!r} on {', '.join(self.assets)}",
            f"plan: ages {plan.start_age:g} -> {plan.retirement_age:g} -> {plan.end_age:g}, "
            f"start balance {plan.initial_balance:,.0f} USD (real)",
            f"{n} {self.frequency} scenarios of {self.withdrawals.shape[1]} periods",
            f"success {100 * p:.1f}% (s.e. {100 * se:.1f} pp if the scenarios are independent); "
            f"median terminal wealth {float(np.median(self.terminal_wealth)):,.0f} USD (real)",
        ]

    def __repr__(self) -> str:
        return "\n".join(self._summary_lines())

    def _repr_html_(self) -> str:
        head, *rest = (html.escape(line) for line in self._summary_lines())
        return f"<p><b>{head}</b></p><ul>" + "".join(f"<li>{x}</li>" for x in rest) + "</ul>"


def funded_ratio(plan: Plan, wealth_at_retirement: FloatArray) -> FloatArray:
    """Real balance at retirement / PV of the target income, for ``FundedRatio`` plans."""
    if not isinstance(plan.success, FundedRatio):
        raise PlanError("funded_ratio needs a plan with success=FundedRatio(...)")
    return wealth_at_retirement / (plan.target_income() * plan.annuity_factor())


def success_of(plan: Plan, ruin_period: IntArray, wealth_at_retirement: FloatArray) -> BoolArray:
    """Per-scenario success under ``plan.success``: no ruin, or funded ratio >= threshold."""
    s = plan.success
    if isinstance(s, MoneyLasts):
        return ruin_period < 0
    return funded_ratio(plan, wealth_at_retirement) >= s.threshold


def _resolve_engine(engine: str, strategy: Strategy, record_weights: bool) -> str:
    if engine not in ("auto", "numpy", "numba"):
        raise DataError(f"engine={engine!r} is not an engine; use 'auto', 'numpy' or 'numba'")
    fast_ok = strategy.smoothing is None and not record_weights
    if engine == "numba" and not fast_ok:
        raise DataError(
            "engine='numba' needs no smoothing overlay and record_weights=False; use "
            "engine='numpy' (or 'auto')"
        )
    if engine == "auto":
        return "numba" if fast_ok else "numpy"
    return engine


@dataclass(frozen=True)
class _Inputs:
    """What both engines run on, checked."""

    sub: Scenarios  # cut to the plan's periods and the strategy's assets
    schedule: Schedule
    # (1 or n, T, A): validated target weights; for an adaptive strategy 1 where the
    # state table holds an asset in some state (the missing-data check reads it)
    target: FloatArray
    rules: CashFlowRules
    table: StateTable | None  # an adaptive strategy's targets by wealth, or None


def _prepare(
    scenarios: Scenarios,
    plan: Plan,
    strategy: Strategy,
    cash_flows: CashFlowRules | None = None,
) -> _Inputs:
    """Check the plan, the strategy and any explicit cash flows against the scenarios."""
    ppy = scenarios.periods_per_year
    n_periods = plan.check_periods(ppy)
    if scenarios.n_periods < n_periods:
        raise DataError(
            f"the plan spans {n_periods} {scenarios.frequency} periods (age {plan.start_age} to "
            f"{plan.end_age}) but the scenarios hold only {scenarios.n_periods}; generate "
            "longer scenarios or shorten the plan"
        )
    schedule = Schedule.from_ages(plan.start_age, plan.end_age, plan.retirement_age, ppy)
    sub = scenarios
    if tuple(strategy.assets) != scenarios.assets:
        sub = sub.select(strategy.assets)
    if n_periods != sub.n_periods:
        sub = sub.head(n_periods)
    table = _state_table(strategy, schedule)
    if table is not None:
        target = (table.weights.max(axis=1) > 0).astype(np.float64)[None]
    else:
        target = validate_weights(
            strategy.target_weights(schedule, _past_returns(sub, strategy)),
            strategy.assets,
            strategy.name,
        )
    if (
        target.ndim != 3
        or target.shape[1] != n_periods
        or target.shape[0]
        not in (
            1,
            sub.n_scenarios,
        )
    ):
        raise DataError(
            f"strategy {strategy.name!r} returned weights of shape {target.shape}; expected "
            f"(1 or {sub.n_scenarios}, {n_periods}, {len(strategy.assets)})"
        )
    if cash_flows is None:
        rules = cash_flow_rules(plan, ppy)
    else:
        rules = check_cash_flows(cash_flows, plan, sub)
    return _Inputs(sub, schedule, target, rules, table)


def _past_returns(sub: Scenarios, strategy: Strategy) -> FloatArray:
    """The returns a strategy's ``target_weights`` reads: for scenarios drawn in the
    engine and targets that read none, a view of their shape that holds no memory (so
    that the fused kernel never materialises them).

    The view is one row broadcast: NaN on the set's columns without data
    (``GeneratedScenarios.no_data``, e.g. a CMA file's unstated crypto asset) and 0
    elsewhere, which is what the materialised returns tell a strategy whose weights read
    only *whether* a return is missing (a crypto sleeve under ``before_data="cash"``
    moves to cash where it is): missing exactly there. A NaN view of every column made
    such a sleeve wait in cash in every period of a drawn set whose data is complete.
    """
    if isinstance(sub, GeneratedScenarios) and not strategy.depends_on_returns:
        shape = (sub.n_scenarios, sub.n_periods, sub.n_assets)
        row = np.where(sub.no_data_mask(), np.nan, 0.0)
        return np.broadcast_to(row, shape)
    return sub.returns


def _check_no_data(sub: GeneratedScenarios, target: FloatArray, strategy: Strategy) -> None:
    """Raise the stored route's missing-data error (first scenario, period and asset)
    if the targets hold a column of ``sub`` without data, before the kernel draws it."""
    gone = np.flatnonzero(sub.no_data_mask())
    if gone.size == 0:
        return
    held = target[:, : sub.n_periods, gone] > 0
    if held.any():
        s, t, j = np.argwhere(held)[0]
        raise _missing_data_error(strategy, int(s), int(t), int(gone[j]))


def _fused(sub: Scenarios, inputs_table: StateTable | None, strategy: Strategy) -> bool:
    """Whether the kernel draws ``sub``'s scenarios itself (no array is materialised):
    scenarios drawn in the engine, and targets that do not read returns."""
    return isinstance(sub, GeneratedScenarios) and (
        inputs_table is not None or not strategy.depends_on_returns
    )


def _state_table(strategy: Strategy, schedule: Schedule) -> StateTable | None:
    """The strategy's state table (adaptive strategies), checked against the schedule."""
    table = strategy.state_table(schedule)
    if table is None:
        return None
    if not isinstance(table, StateTable):
        raise DataError(
            f"strategy {strategy.name!r}: state_table() returned {type(table).__name__}; "
            "return a strategies.base.StateTable"
        )
    if table.n_periods != schedule.n_periods or table.n_assets != len(strategy.assets):
        raise DataError(
            f"strategy {strategy.name!r}: its state table covers {table.n_periods} periods "
            f"and {table.n_assets} assets; the plan has {schedule.n_periods} periods and "
            f"the strategy {len(strategy.assets)} assets"
        )
    return table


def state_weights(table: StateTable, t: int, wealth: FloatArray) -> FloatArray:
    """Target weights of period ``t`` at real ``wealth`` (USD, (n,)), (A, n).

    Linear interpolation of ``table.weights[t]`` over ``table.wealth_grid[t]``, clamped
    to the grid's ends: ``w = W[k] + f (W[k+1] - W[k])`` with ``f`` in [0, 1], so a table
    that is constant in wealth gives its weights exactly. The kernel's
    ``_state_targets`` computes the same expression.
    """
    g = table.wealth_grid[t]
    w = table.weights[t]
    k = np.clip(np.searchsorted(g, wealth, side="right") - 1, 0, g.size - 2)
    g0 = g[k]
    f = np.clip((wealth - g0) / (g[k + 1] - g0), 0.0, 1.0)
    w0 = w[k]  # (n, A)
    return np.ascontiguousarray((w0 + f[:, None] * (w[k + 1] - w0)).T)


def check_cash_flows(rules: CashFlowRules, plan: Plan, scenarios: Scenarios) -> CashFlowRules:
    """Check explicit cash-flow rules against the plan and the scenarios they run on.

    Raises
    ------
    PlanError
        Another frequency, horizon or retirement period than the plan's, or per-scenario
        schedules with another number of rows than ``scenarios`` has scenarios.
    """
    ppy = scenarios.periods_per_year
    if rules.periods_per_year != ppy:
        raise PlanError(
            f"cash_flows are for {rules.periods_per_year} periods a year but the scenarios "
            f"have {ppy}; build them with cash_flow_rules(plan, {ppy})"
        )
    n_t = plan.check_periods(ppy)
    if (rules.n_periods, rules.retirement_period) != (n_t, min(plan.retirement_period(ppy), n_t)):
        raise PlanError(
            f"cash_flows span {rules.n_periods} periods retiring at period "
            f"{rules.retirement_period}, the plan {n_t} retiring at "
            f"{plan.retirement_period(ppy)}; build them with cash_flow_rules(plan, {ppy})"
        )
    rows = rules.n_members
    if rows is not None and rows != scenarios.n_scenarios:
        raise PlanError(
            f"cash_flows hold schedules for {rows} members but there are "
            f"{scenarios.n_scenarios} scenarios; give one row per scenario or a shared (T,) "
            "schedule"
        )
    return rules


def _missing_data_error(strategy: Strategy, s: int, t: int, a: int) -> DataError:
    return DataError(
        f"strategy {strategy.name!r} holds {strategy.assets[a]!r} in period {t} of "
        f"scenario {s}, where that asset has no return data; restrict the scenarios to "
        "periods with data or apply a missing-data rule (cash or proxy) first"
    )


def _kernel_pass(
    strategy: Strategy, inputs: _Inputs, record: int
) -> tuple[FloatArray, FloatArray, FloatArray, IntArray]:
    """Run ``backtest.kernel`` (record: 0 summary only, 2 every path)."""
    sub, target, table = inputs.sub, inputs.target, inputs.table
    n, n_t, n_a = sub.n_scenarios, sub.n_periods, sub.n_assets
    if _fused(sub, table, strategy):
        assert isinstance(sub, GeneratedScenarios)
        _check_no_data(sub, target, strategy)
        gen = sub.draws()
        # placeholders of the stored route's types (one compiled loop for both routes)
        returns, inflation = read_only(np.zeros((1, 1, n_a))), read_only(np.zeros((1, 1)))
    else:
        gen, returns, inflation = no_draws(n_a), sub.returns, sub.inflation
    if table is None:  # (placeholders of the kernel's one compiled type)
        grid, by_state = np.zeros((1, 2)), np.zeros((1, 2, n_a))
    else:
        grid, by_state = table.wealth_grid, table.weights
    wealth = np.empty((n, n_t + 1 if record else 1))
    flows = np.empty((kernel.N_FLOWS, n, n_t if record == 2 else 1))
    summary = np.empty((n, 8))
    ruin = np.empty(n, dtype=np.int64)
    bad = np.empty(n, dtype=np.int64)
    kernel.run_loop(
        returns,
        inflation,
        gen,
        # writable and C-ordered: a read-only target would compile a second loop
        np.require(target, np.float64, ["C", "W"]),
        kernel.kernel_rules(inputs.rules),
        kernel.trading(strategy, inputs.schedule.periods_per_year),
        kernel.rmd_divisors(),
        table is not None,
        np.array(grid, dtype=np.float64, order="C"),
        np.array(by_state, dtype=np.float64, order="C"),
        record,
        wealth,
        flows,
        summary,
        ruin,
        bad,
    )
    if bad.any():
        s = int(np.argmax(bad > 0))
        t = int(bad[s]) - 1
        held = np.broadcast_to(target, sub.returns.shape)[s, t] > 0
        a = int(np.argmax(np.isnan(sub.returns[s, t]) & held))
        raise _missing_data_error(strategy, s, t, a)
    return wealth, flows, summary, ruin


def _price_index(sub: Scenarios) -> FloatArray:
    """Cumulative CPI at each period boundary, 1 at the start, (n, T + 1)."""
    ones = np.ones((sub.n_scenarios, 1))
    return np.concatenate([ones, np.cumprod(1.0 + sub.inflation, axis=1)], axis=1)


def _result(
    sub: Scenarios,
    plan: Plan,
    strategy: Strategy,
    schedule: Schedule,
    price: FloatArray,
    ruin: IntArray,
    **paths: FloatArray | None,
) -> SimulationResult:
    """Package either engine's arrays as a :class:`SimulationResult` of read-only views
    (no copies: the numpy engine hands transposed, time-major buffers)."""
    frozen = {k: _frozen(v) if v is not None else None for k, v in paths.items()}
    return SimulationResult(
        price_index=read_only(price),
        ruin_period=ruin,
        schedule=schedule,
        plan=plan,
        strategy_name=strategy.name,
        assets=tuple(strategy.assets),
        frequency=sub.frequency,
        labels=sub.labels,
        **frozen,  # type: ignore[arg-type]
    )


def _run_kernel(plan: Plan, strategy: Strategy, inputs: _Inputs) -> SimulationResult:
    wealth, flows, _, ruin = _kernel_pass(strategy, inputs, 2)
    sub = inputs.sub
    price = _price_index(sub)
    k = kernel
    return _result(
        sub,
        plan,
        strategy,
        inputs.schedule,
        price,
        ruin,
        wealth=wealth,
        contributions=flows[k.F_CONTRIB],
        withdrawals=flows[k.F_PAID],
        withdrawals_wanted=flows[k.F_WANTED],
        fees=flows[k.F_FEE],
        costs=flows[k.F_COST],
        gains=flows[k.F_GAIN],
        leakage=flows[k.F_LEAK],
        turnover=flows[k.F_TURN],
        portfolio_returns=flows[k.F_RETURN],
    )


def simulate(
    scenarios: Scenarios,
    plan: Plan,
    strategy: Strategy,
    *,
    cash_flows: CashFlowRules | None = None,
    record_weights: bool = False,
    engine: Engine = "auto",
) -> SimulationResult:
    """Simulate ``plan`` invested by ``strategy`` over every scenario at once.

    Parameters
    ----------
    scenarios
        Nominal asset returns and inflation; must contain the strategy's assets and at
        least as many periods as the plan spans (extra periods are ignored).
    plan
        The member: ages, balance, contributions, withdrawal rule, fees, success.
    strategy
        Target weights per period and rebalancing rules (``strategies.base.Strategy``).
    cash_flows
        Explicit cash-flow schedules, e.g. a member per scenario (a population):
        ``cash_flow_rules(plan, ppy).with_schedules(contributions=..., spending=...,
        leakage=...)`` with (n_scenarios, n_periods) arrays; contributions and
        ConstantReal spending in real USD per period (spending per USD of the balance at
        retirement for a ``rate=`` rule), leakage a decimal share of the balance cashed
        out at the start of a working period. ``None``: the plan's own (one member).
    record_weights
        Keep the realised weights, (n, T, A); costs memory.
    engine
        ``"numpy"``: the vectorised reference loop below; ``"numba"``: its compiled twin
        in ``backtest.kernel`` (same events, same order, agrees to round-off; several
        times faster on large sets); ``"auto"``: numba when it is installed and the run
        needs neither a smoothing overlay nor realised weights, else numpy.

    Returns
    -------
    SimulationResult
        Paths of wealth and flows, in real USD of the start date.

    Raises
    ------
    StrategyError
        ``strategy`` lacks a member of the ``Strategy`` protocol.
    """
    check_strategy("simulate", strategy)
    use = _resolve_engine(engine, strategy, record_weights)
    inputs = _prepare(scenarios, plan, strategy, cash_flows)
    if use == "numba":
        return _run_kernel(plan, strategy, inputs)
    sub, target = inputs.sub, inputs.target
    nominal = sub.returns
    missing = np.isnan(nominal)
    if missing.any():
        held = np.broadcast_to(target, nominal.shape) > 0
        bad = missing & held
        if bad.any():
            s, t, a = np.argwhere(bad)[0]
            raise _missing_data_error(strategy, int(s), int(t), int(a))
    # Real growth factors, laid out (T, A, n): each step reads one contiguous (A, n) block
    # and every operation runs along the long scenario axis (numpy is slow on (n, 2)
    # arrays whose short last axis is the inner loop). An asset without data (not held,
    # checked above) grows by 1.
    nominal_tan = nominal.transpose(1, 2, 0)
    growth = np.where(
        missing.transpose(1, 2, 0),
        1.0,
        (1.0 + np.nan_to_num(nominal_tan)) / (1.0 + sub.inflation.T[:, None, :]),
    )
    target_tan = np.ascontiguousarray(target.transpose(1, 2, 0))  # (T, A, 1 or n)
    return _run(plan, strategy, inputs, target_tan, growth, record_weights)


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only view (no copy; the layout may be Fortran-ordered)."""
    v = a.view()
    v.flags.writeable = False
    return v


def _time_major(x: FloatArray, n: int) -> FloatArray:
    """A (T,) or (n, T) schedule as (T, 1) or (T, n): row ``t`` broadcasts over scenarios."""
    return x[:, None] if x.ndim == 1 else np.ascontiguousarray(x.T)


def _run(
    plan: Plan,
    strategy: Strategy,
    inputs: _Inputs,
    target: FloatArray,
    growth: FloatArray,
    record_weights: bool,
) -> SimulationResult:
    """The time loop. ``target`` is (T, A, 1 or n), ``growth`` (T, A, n): asset-major."""
    sub, schedule, rules, table = inputs.sub, inputs.schedule, inputs.rules, inputs.table
    n_t, n_a, n = growth.shape
    ppy = rules.periods_per_year
    ages = rules.ages
    t_ret = rules.retirement_period
    contrib = _time_major(rules.contributions, n)  # (T, 1 or n), real USD per period
    leak = _time_major(rules.leakage, n)
    spend = _time_major(rules.spending, n)
    c_start = rules.contributions_at_start
    w_code = rules.withdrawal_code
    w_frac = rules.start_fraction
    price = _price_index(sub)
    price_tm = np.ascontiguousarray(price.T)
    infl_tm = np.ascontiguousarray(sub.inflation.T)  # (T, n)
    fee_rate = rules.fee_per_period
    cost_rate = rules.cost_per_traded
    rebalance = strategy.rebalance
    every = rebalance.every_periods(ppy)
    sleeve = strategy.sleeve_band
    sleeve_i = strategy.assets.index(sleeve.asset) if sleeve is not None else -1
    smoothing = strategy.smoothing

    # Outputs are filled time-major (one contiguous row per period) and handed out as
    # read-only transposed views of shape (n, T).
    out_w = np.empty((n_t + 1, n))
    names = ("contributions", "withdrawals", "wanted", "fees", "costs", "gains", "turnover")
    flows = {k: np.zeros((n_t, n)) for k in (*names, "leakage", "port_ret")}
    ruin = np.full(n, -1, dtype=np.int64)
    weights_out = np.empty((n_t, n_a, n)) if record_weights else None
    reserve = np.zeros(n) if smoothing is not None else None
    reserve_out = np.zeros((n_t + 1, n)) if smoothing is not None else None

    out_w[0] = rules.initial_balance
    # adaptive: the targets of period t by the wealth at its start
    tw = state_weights(table, 0, out_w[0]) if table is not None else target[0]
    holdings = rules.initial_balance * np.broadcast_to(tw, (n_a, n)).copy()  # (A, n)
    annual_w = np.zeros(n)  # current annual withdrawal (real USD), for yearly rules
    year_growth = np.ones(n)  # portfolio nominal growth over the last 12 months
    year_infl = np.ones(n)
    ret_balance = np.zeros(n)
    rmd_annual = np.zeros(n)  # this year's required minimum distribution (real USD)
    w_floor = np.zeros(n)

    def total() -> FloatArray:
        return holdings.sum(axis=0)

    def pay(amount: FloatArray, t: int) -> None:
        """Sell ``amount`` pro rata; record shortfalls as ruin (the account model's rule)."""
        bal = total()
        paid, short = account.pay(bal, amount)
        ruin[short & (ruin < 0)] = t
        holdings[:] *= np.divide(bal - paid, bal, out=np.zeros_like(bal), where=bal > 0)
        flows["withdrawals"][t] += paid
        flows["wanted"][t] += amount

    def buy(amount: FloatArray, tw: FloatArray, t: int) -> None:
        holdings[:] += amount * tw
        flows["contributions"][t] += amount

    for t in range(n_t):
        if table is None:
            tw = target[t]  # (A, 1) or (A, n)
        elif t > 0:
            tw = state_weights(table, t, out_w[t])  # (A, n)
        working = t < t_ret
        if working and leak[t].any():
            out = total() * leak[t]
            holdings[:] *= 1.0 - leak[t]
            flows["leakage"][t] = out
        if working and c_start and contrib[t].any():
            buy(contrib[t], tw, t)

        # ---- the withdrawal this period asks for (real USD at the period's start)
        w_rule = np.zeros(n)
        paying = w_code != W_NONE and not working
        if paying:
            bal = total()
            k = t - t_ret
            if k == 0:
                ret_balance = bal.copy()
            year_start = k % ppy == 0
            if w_code == W_CONSTANT:
                base = ret_balance if rules.spending_per_unit_of_balance else 1.0
                w_rule = np.broadcast_to(spend[t] * base, (n,))
                if not rules.spending_indexed:
                    w_rule = w_rule * price_tm[t_ret] / price_tm[t]
            elif w_code == W_PERCENT:
                w_rule = rules.rate / ppy * bal
            elif w_code == W_GUYTON:
                if k == 0:
                    annual_w = rules.rate * ret_balance
                elif year_start:
                    rate_now = np.divide(annual_w, bal, out=np.full(n, np.inf), where=bal > 0)
                    # Inflation rule: no raise after a losing year while above the
                    # initial rate (the real amount falls by the year's inflation).
                    skip = (year_growth < 1.0) & (rate_now > rules.rate)
                    annual_w = np.where(skip, annual_w / year_infl, annual_w)
                    rate_now = np.divide(annual_w, bal, out=np.full(n, np.inf), where=bal > 0)
                    years_left = rules.end_age - ages[t]
                    cut = (rate_now > rules.gk_upper_guard * rules.rate) & (
                        years_left > rules.gk_preservation_off_years
                    )
                    rise = rate_now < rules.gk_lower_guard * rules.rate
                    annual_w = np.where(cut, annual_w * (1 - rules.gk_adjustment), annual_w)
                    annual_w = np.where(rise, annual_w * (1 + rules.gk_adjustment), annual_w)
                w_rule = annual_w / ppy
            elif w_code == W_RMD:
                if year_start:
                    if ages[t] >= RMD_FIRST_AGE:
                        annual_w = bal / rmd_divisor(ages[t])
                    else:
                        annual_w = bal * rules.pre_table_rate
                w_rule = annual_w / ppy
            w_floor = np.zeros(n)
            if rules.rmd_floor and ages[t] >= rules.rmd_start_age:
                if year_start:
                    rmd_annual = bal / rmd_divisor(ages[t])
                w_floor = rmd_annual / ppy
            if year_start:
                year_growth = np.ones(n)
                year_infl = np.ones(n)
            if w_frac > 0:
                pay(w_frac * np.maximum(w_rule, w_floor), t)

        # ---- rebalancing (no trade in the first period: the balance was just invested)
        bal = total()
        safe = np.where(bal > 0, bal, 1.0)
        if t == 0 or rebalance.kind == "none":
            due = np.zeros(n, dtype=bool)
        elif rebalance.kind == "calendar":
            due = np.full(n, t % every == 0)
        else:
            dev = np.abs(holdings / safe - tw)
            if rebalance.band_kind == "relative":
                tw_full = np.broadcast_to(tw, dev.shape)
                dev = np.divide(dev, tw_full, out=np.where(dev > 0, np.inf, 0.0), where=tw_full > 0)
            due = dev.max(axis=0) > rebalance.band
        new_h = np.where(due, bal * tw, holdings)
        if sleeve is not None:
            s_t = np.broadcast_to(tw[sleeve_i], (n,))
            s_w = new_h[sleeve_i] / safe
            out = (s_t > 0) & ((s_w < sleeve.lower * s_t) | (s_w > sleeve.upper * s_t))
            out &= ~due
            if out.any():
                others = bal - new_h[sleeve_i]
                scale = np.divide(bal * (1 - s_t), others, out=np.ones(n), where=others > 0)
                adj = new_h * scale
                adj[sleeve_i] = bal * s_t
                new_h = np.where(out, adj, new_h)
        traded = np.abs(new_h - holdings).sum(axis=0)
        holdings[:] = new_h
        if cost_rate > 0:
            cost = cost_rate * traded
            holdings *= np.divide(bal - cost, bal, out=np.zeros(n), where=bal > 0)
            flows["costs"][t] = np.minimum(cost, bal)
        flows["turnover"][t] = np.divide(traded, 2 * bal, out=np.zeros(n), where=bal > 0)
        if weights_out is not None:
            bal2 = total()
            weights_out[t] = np.where(bal2 > 0, holdings / np.where(bal2 > 0, bal2, 1.0), tw)

        # ---- returns
        before = total()
        g_t = growth[t]
        holdings *= g_t
        after = total()
        # The period's return: growth of what was held (after / before), or of the target
        # mix when the account is empty, so the return series stays defined after ruin.
        held_growth = np.divide(after, before, out=np.zeros(n), where=before > 0)
        real_rate = np.where(before > 0, held_growth, (tw * g_t).sum(axis=0)) - 1.0
        infl_t = 1.0 + infl_tm[t]
        flows["port_ret"][t] = (1.0 + real_rate) * infl_t - 1.0
        if smoothing is not None:
            assert reserve is not None and reserve_out is not None
            credited, reserve = smoothing.credit(real_rate, reserve, before, ppy)
            holdings *= np.divide(1.0 + credited, 1.0 + real_rate, out=np.ones(n), where=before > 0)
            after = total()
            reserve_out[t + 1] = reserve
        flows["gains"][t] = after - before
        year_growth = year_growth * (1.0 + flows["port_ret"][t])
        year_infl = year_infl * infl_t

        # ---- fees
        if fee_rate > 0:
            flows["fees"][t] = after * fee_rate
            holdings *= 1.0 - fee_rate

        # ---- end-of-period flows
        if working and not c_start and contrib[t].any():
            buy(contrib[t], tw, t)
        if paying and w_frac < 1:
            # A nominal amount is the same number of dollars at the end of the period as
            # at its start: worth 1 / (1 + inflation) of it in real terms.
            w_end = w_rule / infl_t if rules.nominal_spending else w_rule
            pay((1.0 - w_frac) * np.maximum(w_end, w_floor), t)
        out_w[t + 1] = total()

    return _result(
        sub,
        plan,
        strategy,
        schedule,
        price,
        ruin,
        wealth=out_w.T,
        contributions=flows["contributions"].T,
        withdrawals=flows["withdrawals"].T,
        withdrawals_wanted=flows["wanted"].T,
        fees=flows["fees"].T,
        costs=flows["costs"].T,
        gains=flows["gains"].T,
        leakage=flows["leakage"].T,
        turnover=flows["turnover"].T,
        portfolio_returns=flows["port_ret"].T,
        weights=weights_out.transpose(2, 0, 1) if weights_out is not None else None,
        reserve=reserve_out.T if reserve_out is not None else None,
    )


#: Percentiles reported by default (of real terminal wealth), in percent.
DEFAULT_PERCENTILES: tuple[float, ...] = (5.0, 25.0, 50.0, 75.0, 95.0)


@dataclass(frozen=True)
class ChunkedSummary:
    """Aggregate of a simulation run chunk by chunk (:func:`simulate_chunked`).

    Only per-scenario scalars are kept (8 bytes each per field), never the paths.

    Attributes
    ----------
    n_scenarios
        Scenarios simulated over all chunks.
    n_success
        Scenarios that succeeded under the plan's success definition.
    terminal_wealth
        Real terminal wealth per scenario (USD of the start date), (n,), in chunk order.
    wealth_at_retirement
        Real balance at the retirement age per scenario, (n,).
    ruin_period
        First period of ruin or -1, (n,).
    n_chunks
        Number of chunks consumed.
    """

    n_scenarios: int
    n_success: int
    terminal_wealth: FloatArray
    wealth_at_retirement: FloatArray
    ruin_period: IntArray
    n_chunks: int

    @property
    def success_rate(self) -> float:
        """Share of scenarios that succeeded, decimal."""
        return self.n_success / self.n_scenarios if self.n_scenarios else float("nan")

    def terminal_percentiles(
        self, percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
    ) -> dict[float, float]:
        """Percentiles (in percent, e.g. 5.0) of real terminal wealth, exact over all chunks."""
        values = np.percentile(self.terminal_wealth, percentiles)
        return {float(p): float(v) for p, v in zip(percentiles, values, strict=True)}


def _summary_pass(
    chunk: Scenarios, plan: Plan, strategy: Strategy, flows: CashFlowRules | None
) -> tuple[int, int, FloatArray, FloatArray, IntArray]:
    """One chunk through the compiled loop, which keeps no paths at all.

    Returns the number of scenarios, of successes, and per scenario the real terminal
    wealth, the real wealth at retirement and the ruin period.
    """
    inputs = _prepare(chunk, plan, strategy, flows)
    wealth, _, summary, ruin = _kernel_pass(strategy, inputs, 0)
    at_ret = summary[:, kernel.S_AT_RETIREMENT].copy()
    n_ok = int(success_of(plan, ruin, at_ret).sum())
    return inputs.sub.n_scenarios, n_ok, wealth[:, 0].copy(), at_ret, ruin


def simulate_chunked(
    chunks: Iterable[Scenarios],
    plan: Plan,
    strategy: Strategy,
    summarise: Callable[[SimulationResult], None] | None = None,
    *,
    cash_flows: CashFlowRules | Iterable[CashFlowRules] | None = None,
    engine: Engine = "auto",
) -> ChunkedSummary:
    """Simulate chunk after chunk, keeping only per-scenario scalars.

    Parameters
    ----------
    chunks
        Scenario chunks, e.g. ``backtest.generators.iter_chunks(...)``; each is simulated
        and dropped before the next is drawn.
    plan, strategy
        As in :func:`simulate`.
    summarise
        Optional callback given each chunk's :class:`SimulationResult` (to accumulate
        anything else, e.g. histograms), before the chunk is released.
    cash_flows
        Explicit cash flows as in :func:`simulate`: one ``CashFlowRules`` for every chunk
        (shared schedules), or an iterable of them, one per chunk in step with
        ``chunks`` (per-scenario schedules of each chunk's members).
    engine
        As in :func:`simulate`. Without ``summarise``, the numba engine runs a summary
        pass that never materialises a path, so memory is bounded by one chunk's returns.

    Returns
    -------
    ChunkedSummary
        Success count and real terminal wealth / wealth at retirement of every scenario.
    """
    check_strategy("simulate_chunked", strategy)
    n = 0
    n_ok = 0
    n_chunks = 0
    terminal: list[FloatArray] = []
    at_ret: list[FloatArray] = []
    ruin: list[IntArray] = []
    per_chunk = (
        None if cash_flows is None or isinstance(cash_flows, CashFlowRules) else iter(cash_flows)
    )
    for chunk in chunks:
        n_chunks += 1
        flows = cash_flows if per_chunk is None else next(per_chunk, None)
        if per_chunk is not None and flows is None:
            raise PlanError(
                f"simulate_chunked: cash_flows ran out at chunk {n_chunks}; give one "
                "CashFlowRules per chunk"
            )
        assert flows is None or isinstance(flows, CashFlowRules)
        if summarise is None and _resolve_engine(engine, strategy, False) == "numba":
            n_c, ok_c, terminal_c, at_ret_c, ruin_c = _summary_pass(chunk, plan, strategy, flows)
            n += n_c
            n_ok += ok_c
            terminal.append(terminal_c)
            at_ret.append(at_ret_c)
            ruin.append(ruin_c)
            continue
        res = simulate(chunk, plan, strategy, cash_flows=flows, engine=engine)
        n += res.n_scenarios
        n_ok += int(res.success.sum())
        terminal.append(np.array(res.terminal_wealth))
        at_ret.append(np.array(res.wealth_at_retirement))
        ruin.append(np.array(res.ruin_period))
        if summarise is not None:
            summarise(res)
    if n_chunks == 0:
        raise DataError("simulate_chunked got no chunks")
    return ChunkedSummary(
        n_scenarios=n,
        n_success=n_ok,
        terminal_wealth=read_only(np.concatenate(terminal)),
        wealth_at_retirement=read_only(np.concatenate(at_ret)),
        ruin_period=np.concatenate(ruin),
        n_chunks=n_chunks,
    )


def result_bytes(n_scenarios: int, n_periods: int, n_assets: int, record_weights: bool) -> int:
    """Approximate bytes of a :class:`SimulationResult` (float64 paths and flows)."""
    per = 8 * n_scenarios
    total = per * ((n_periods + 1) * 2 + n_periods * 9) + per  # wealth, price, 9 flows, ruin
    if record_weights:
        total += per * n_periods * n_assets
    return int(total)
