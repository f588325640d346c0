"""One account at balance level: the recursion every balance-level model runs.

``backtest.simulate`` (and its compiled twin ``backtest.kernel``) follow an account asset
by asset, with drift, rebalancing bands and trading costs. Models that only need the
balance (a population of members whose shared glide path is rebalanced every period, the
dynamic programme's forward check) run this recursion instead: one balance per account,
vectorised over accounts (members x paths), one loop over periods, with the events of
``backtest.simulate`` in the same order. Per period ``t``, with the balance ``W`` real USD::

    leak  = leakage[t] x W                      (cashed out at the very start)
    B     = W - leak + cs[t]                    (start contributions)
    paid  = min(ws[t], B)                       (start share of the withdrawal)
    B     = B - paid
    W'    = B x G[t] x (1 - fee) + ce[t]        (returns, fees on the balance after them,
                                                 end contributions)
    W'    = W' - min(we[t], W')                 (end share of the withdrawal)

``G[t]`` is the real gross return of the period's mix before fees (an array, or a rule
that reads the balance at the period's start, e.g. an adaptive policy). Ruin: the first
period a withdrawal share falls short by more than ``PAID_RTOL`` of it (the engines' one
tolerance); the account stays empty after it unless money comes in. ``ws, we`` are USD,
or, for ConstantReal's ``rate=`` rule, per USD of the balance at the start of the
retirement period. With ``truncate=False`` every withdrawal is paid in full and the
balance may go negative: the *untruncated* recursion the optimiser differentiates, whose
balance after retirement is negative exactly when the truncated one records ruin.

The flows come from the plan's one definition, ``backtest.cashflows.CashFlowRules``
(:meth:`AccountFlows.from_rules`), or from explicit per-account schedules (a population).
Units: real USD of the simulation's start date per period; ``fee_per_period`` decimal per
period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from backtest.cashflows import PAID_RTOL, W_CONSTANT, W_NONE, CashFlowRules
from backtest.errors import DataError, PlanError
from backtest.types import BoolArray, FloatArray, IntArray

#: The real gross return of period ``t`` for each account, (n,), from the balance at the
#: period's start (real USD, (n,), before any of its flows).
GrowthRule = Callable[[int, FloatArray], FloatArray]


class AccountFlows(NamedTuple):
    """An account's flows per period, real USD per period, each (T,) or (n, T).

    Attributes
    ----------
    contributions_start, contributions_end
        Money paid in at the start / the end of each period (after the start
        withdrawal / after returns and fees).
    withdrawal_start, withdrawal_end
        What the member asks to take out at the start / the end of each period.
    leakage
        Share of the balance cashed out at the very start of each period, decimal.
    fee_per_period
        Fees, decimal of the balance after the period's returns.
    per_unit_of_balance
        True: the withdrawals are per USD of the balance at the start of
        ``retirement_period`` (ConstantReal's ``rate=`` rule); False: real USD.
    retirement_period
        First period of retirement (read with ``per_unit_of_balance``).
    """

    contributions_start: FloatArray
    contributions_end: FloatArray
    withdrawal_start: FloatArray
    withdrawal_end: FloatArray
    leakage: FloatArray
    fee_per_period: float
    per_unit_of_balance: bool = False
    retirement_period: int = 0

    @classmethod
    def from_rules(cls, rules: CashFlowRules, inflation: FloatArray | None = None) -> AccountFlows:
        """The flows of ``rules``, split by timing as ``backtest.simulate`` pays them.

        Parameters
        ----------
        rules
            The plan's cash-flow rules (``backtest.cashflows.cash_flow_rules``).
        inflation
            Decimal inflation per period, (n, T), needed only for a withdrawal fixed in
            nominal dollars (``ConstantReal(indexed=False)``): its real value at a
            payment at the start of period ``t`` is ``price[t_ret] / price[t]``, at the
            end ``price[t_ret] / price[t + 1]``, as in ``backtest.cashflows``.

        Raises
        ------
        PlanError
            A withdrawal rule whose amount depends on the path (FixedPercent,
            GuytonKlinger, RequiredMinimum), an RMD floor, or a nominal amount without
            ``inflation``; simulate those with ``backtest.simulate``.
        """
        code = rules.withdrawal_code
        if code not in (W_NONE, W_CONSTANT):
            raise PlanError(
                "the balance-level account model pays ConstantReal withdrawals (or none); "
                "simulate FixedPercent, GuytonKlinger and RequiredMinimum with "
                "backtest.simulate"
            )
        if rules.rmd_floor:
            raise PlanError(
                "the balance-level account model has no RMD floor; set rmd_floor=False or "
                "simulate with backtest.simulate"
            )
        contrib = np.asarray(rules.contributions, dtype=np.float64)
        spend = np.asarray(rules.spending, dtype=np.float64)
        n_t = rules.n_periods
        zero = np.zeros(n_t)
        frac = float(rules.start_fraction)
        start, end = frac * spend, (1.0 - frac) * spend
        if rules.nominal_spending:
            if inflation is None:
                raise PlanError(
                    "a ConstantReal(indexed=False) withdrawal is fixed in nominal dollars: "
                    "pass inflation= (n, T) to size it in real terms"
                )
            infl = np.asarray(inflation, dtype=np.float64)[:, :n_t]
            price = np.cumprod(np.concatenate([np.ones((infl.shape[0], 1)), 1.0 + infl], 1), 1)
            t_ret = min(rules.retirement_period, n_t)
            start = np.broadcast_to(start, infl.shape).copy()
            end = np.broadcast_to(end, infl.shape).copy()
            start[:, t_ret:] *= price[:, t_ret : t_ret + 1] / price[:, t_ret:n_t]
            end[:, t_ret:] *= price[:, t_ret : t_ret + 1] / price[:, t_ret + 1 : n_t + 1]
        at_start = rules.contributions_at_start
        return cls(
            contributions_start=contrib if at_start else zero,
            contributions_end=zero if at_start else contrib,
            withdrawal_start=start,
            withdrawal_end=end,
            leakage=np.asarray(rules.leakage, dtype=np.float64),
            fee_per_period=float(rules.fee_per_period),
            per_unit_of_balance=code == W_CONSTANT and rules.spending_per_unit_of_balance,
            retirement_period=int(rules.retirement_period),
        )


@dataclass(frozen=True)
class AccountPaths:
    """Per-account flows of :func:`run_balances`, real USD, (n, T) unless stated.

    Attributes
    ----------
    wealth
        Balance at each period boundary, (n, T + 1).
    contributions
        Paid in during the period (start and end).
    withdrawals, wanted
        Paid out and asked for by the withdrawal rule (start and end shares).
    leakage
        Cashed out at the start of the period.
    fees, gains
        Fees, and real investment gains (``invested x (G - 1)``).
    invested
        The balance that earns the period's return (after the start flows).
    ruin_period
        First period a withdrawal fell short, or -1, (n,).
    """

    wealth: FloatArray
    contributions: FloatArray
    withdrawals: FloatArray
    wanted: FloatArray
    leakage: FloatArray
    fees: FloatArray
    gains: FloatArray
    invested: FloatArray
    ruin_period: IntArray


def pay(balance: FloatArray, wanted: FloatArray | float) -> tuple[FloatArray, BoolArray]:
    """Pay ``wanted`` from ``balance`` as far as it goes: ``(paid, short)``.

    ``paid = min(wanted, balance)``; ``short`` is True where the shortfall exceeds
    ``PAID_RTOL`` of the amount (ruin). Real USD, arrays broadcast.
    """
    paid = np.minimum(wanted, balance)
    return paid, wanted - paid > PAID_RTOL * np.asarray(wanted)


def _by_period(x: FloatArray, n: int, n_t: int, name: str) -> FloatArray:
    """A (T,) or (n, T) schedule indexed by period first: row ``t`` is a scalar or (n,)."""
    a = np.asarray(x, dtype=np.float64)
    if a.shape not in ((n_t,), (n, n_t)):
        raise DataError(f"{name} has shape {a.shape}; expected ({n_t},) or ({n}, {n_t})")
    return a if a.ndim == 1 else np.ascontiguousarray(a.T)


def _total(start: FloatArray, end: FloatArray, n: int, n_t: int) -> FloatArray:
    """``start + end`` as (n, T), read-only; an input as it is when the other is zero
    (no copy of a population's schedule)."""
    a, b = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
    total = a if not b.any() else b if not a.any() else a + b
    return np.broadcast_to(total, (n, n_t))


def run_balances(
    flows: AccountFlows,
    growth: FloatArray | GrowthRule,
    initial_balance: FloatArray | float,
    *,
    n_accounts: int | None = None,
    n_periods: int | None = None,
    truncate: bool = True,
) -> AccountPaths:
    """Run the balance recursion of the module docstring over ``n`` accounts at once.

    Parameters
    ----------
    flows
        Per-period flows, real USD per period, each (T,) or (n, T).
    growth
        Real gross return of each period's mix before fees, (n, T); or a
        :data:`GrowthRule` called once per period with the balances at its start (then
        give ``n_accounts`` and ``n_periods``).
    initial_balance
        Balance at the start, real USD, scalar or (n,).
    n_accounts, n_periods
        Sizes when ``growth`` is a rule.
    truncate
        True: a withdrawal takes at most the balance (the engines' account). False: it is
        paid in full and the balance may go negative (the optimiser's smooth model).

    Returns
    -------
    AccountPaths
        Balances and flows per account and period.
    """
    if callable(growth):
        if n_accounts is None or n_periods is None:
            raise DataError("a growth rule needs n_accounts= and n_periods=")
        n, n_t = int(n_accounts), int(n_periods)
        g_rows = None
    else:
        g = np.asarray(growth, dtype=np.float64)
        if g.ndim != 2:
            raise DataError(f"growth has shape {g.shape}; expected (n_accounts, n_periods)")
        n, n_t = g.shape
        g_rows = np.ascontiguousarray(g.T)
    cs, ce, ws, we, lk = (
        _by_period(x, n, n_t, name)
        for x, name in zip(flows[:5], AccountFlows._fields[:5], strict=True)
    )
    any_cs, any_ce, any_ws, any_we, any_lk = (bool(np.any(x)) for x in (cs, ce, ws, we, lk))
    fee = float(flows.fee_per_period)
    keep = 1.0 - fee
    per_unit = bool(flows.per_unit_of_balance)
    t_ret = int(flows.retirement_period)
    base: FloatArray | float = 1.0  # the rate rule's balance at retirement, else 1
    names = ("paid", "leak", "fee", "gain", "invested") + (("wanted",) if per_unit else ())
    out = {k: np.zeros((n_t, n)) for k in names}
    wealth = np.empty((n_t + 1, n))
    wealth[0] = initial_balance
    ruin = np.full(n, -1, dtype=np.int64)
    bal = wealth[0].copy()

    def withdraw(t: int, bal: FloatArray, share: FloatArray) -> FloatArray:
        """Pay period ``t``'s withdrawal ``share`` (start or end) from ``bal``: record
        it, and ruin where it falls short; the balance after it."""
        wanted = base * share if per_unit else share
        paid, short = pay(bal, wanted)
        ruin[short & (ruin < 0)] = t
        taken = paid if truncate else wanted
        out["paid"][t] += taken
        if per_unit:
            out["wanted"][t] += wanted
        return bal - taken

    for t in range(n_t):
        g_t = g_rows[t] if g_rows is not None else growth(t, bal)  # type: ignore[operator]
        if per_unit and t == t_ret:
            base = bal.copy()
        if any_lk:
            leak = lk[t] * bal
            bal = bal - leak
            out["leak"][t] = leak
        if any_cs:
            bal = bal + cs[t]
        if any_ws:
            bal = withdraw(t, bal, ws[t])
        out["invested"][t] = bal
        after = bal * g_t
        out["gain"][t] = after - bal
        out["fee"][t] = after * fee
        bal = after * keep
        if any_ce:
            bal = bal + ce[t]
        if any_we:
            bal = withdraw(t, bal, we[t])
        wealth[t + 1] = bal
    return AccountPaths(
        wealth=wealth.T,
        contributions=_total(flows.contributions_start, flows.contributions_end, n, n_t),
        withdrawals=out["paid"].T,
        wanted=(
            out["wanted"].T
            if per_unit
            else _total(flows.withdrawal_start, flows.withdrawal_end, n, n_t)
        ),
        leakage=out["leak"].T,
        fees=out["fee"].T,
        gains=out["gain"].T,
        invested=out["invested"].T,
        ruin_period=ruin,
    )
