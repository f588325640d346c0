"""A compiled twin of the simulator's time loop (numba), for speed on large scenario sets.

``backtest.simulate`` holds the reference implementation: numpy, vectorised over
scenarios, looping over periods. This module runs the *same* events in the same order,
but fused: one compiled pass per block of scenarios (blocks in parallel), so each return
is read once and no (n_scenarios, n_assets) temporaries are made per period. The test
``tests/backtest/test_kernel.py`` checks the two agree to round-off on random plans.

Settings travel as two named structures: the plan's cash-flow rules
(:class:`backtest.cashflows.CashFlowRules`, the one definition every engine reads) and the
strategy's trading rule (:class:`Trading`). The time loop ``_loop`` calls one named step
per event (``_read_slab``, ``_copy_targets`` or ``_state_targets``, ``_start_flows``,
``_decide_withdrawal``, ``_pay``, ``_rebalance_calendar``, ``_rebalance_bands``,
``_trading_costs``, ``_grow``, ``_period_return``), each compiled with
``inline="always"`` so the split costs nothing at run time.

No hand-written SIMD: an LLVM intrinsic, ``growth_tile4``, once copied returns into the
lane-minor slab four assets at a time (vector loads, a transpose in registers). It was
measured against the plain loop, both variants interleaved in one process
(``python -m benchmarks.bench_tile4``, commit f88277c reverted onto this kernel; 100,000
scenarios x 480 months x 4 assets, summary pass): on a quiet 2-core AMD EPYC (load
0.7-1.0, 7 runs) 4.5x the streaming floor with it and 4.95x without, the simulator about
9 % faster with it; under other work (load 5.5-8.6) 8.85x against 8.69x and 8.98x
against 10.23x. The 3x target is missed on this host either way (its floor, 0.059 s, is
2.4x faster than the earlier hosts'; the session's starting kernel, intrinsic included,
read 4.2x in the same quiet hour), while the earlier reference runs met it without the
intrinsic (2.1x at 9a8e679, before it was added; 1.9x with it at df87ed3). It does not
decide the target here, and it cost about 100 lines of LLVM IR that numba's cache
tracks badly, so it and the tiled copy were removed; a faster kernel on fast-memory
hosts has to come from the main loop's arithmetic, not from the slab copy.

It is used when the strategy has no smoothing overlay (a Python object the compiled code
cannot call) and no realised weights are asked for; ``simulate(..., engine="numpy")``
forces the reference. Nothing here validates input: ``simulate`` does that before calling.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from backtest.cashflows import W_CONSTANT, W_GUYTON, W_NONE, W_PERCENT, W_RMD, CashFlowRules

# (The withdrawal codes are globals frozen into the on-disk cache of ``_loop``, which is
# invalidated only when this file changes: change a code's value here too, if ever.)
__all__ = ["W_CONSTANT", "W_GUYTON", "W_NONE", "W_PERCENT", "W_RMD"]

#: Rebalancing codes.
R_NONE, R_CALENDAR, R_BAND_ABS, R_BAND_REL = 0, 1, 2, 3

#: Flow rows of the ``flows`` output, and the columns of ``summary`` (sums of the first
#: seven flows, then the wealth at retirement).
F_CONTRIB, F_PAID, F_WANTED, F_FEE, F_COST, F_GAIN, F_TURN, F_RETURN, F_LEAK = range(9)
N_FLOWS = 9
S_AT_RETIREMENT = 7

#: A withdrawal counts as paid in full when the shortfall is below this share of it
#: (float round-off only; relative, so the rule is the same at every scale of money).
PAID_RTOL = 1e-10


#: Scenarios advanced together, lane by lane: the per-scenario state is (A, BLOCK) and
#: every step is a short loop over lanes, so the long dependency chain of one scenario
#: (withdrawal -> rebalance -> cost -> return -> fee, 480 times) overlaps with the
#: other lanes' and the compiler can use SIMD across scenarios.
BLOCK = 64  # a multiple of 8 (see _fill_slab)
#: Periods of returns turned into lane-minor growth factors at a time (a (SLAB, A, BLOCK)
#: buffer that stays in cache).
SLAB = 120


class Trading(NamedTuple):
    """The strategy's trading rule, as the kernel reads it.

    Attributes
    ----------
    rebalance_code
        ``R_NONE``, ``R_CALENDAR``, ``R_BAND_ABS`` or ``R_BAND_REL``.
    every_periods
        Calendar interval in periods.
    band
        Band tolerance, decimal (absolute or relative to the target weight).
    sleeve_index
        Asset index of the sleeve with its own band, or -1.
    sleeve_lower, sleeve_upper
        The sleeve's band, multiples of its target weight.
    """

    rebalance_code: int
    every_periods: int
    band: float
    sleeve_index: int
    sleeve_lower: float
    sleeve_upper: float


def trading(strategy, periods_per_year: int) -> Trading:
    """The kernel's :class:`Trading` settings of a validated strategy."""
    rb = strategy.rebalance
    code = {"none": R_NONE, "calendar": R_CALENDAR}.get(rb.kind)
    if code is None:
        code = R_BAND_ABS if rb.band_kind == "absolute" else R_BAND_REL
    sleeve = strategy.sleeve_band
    return Trading(
        rebalance_code=int(code),
        every_periods=int(rb.every_periods(periods_per_year)),
        band=float(rb.band),
        sleeve_index=strategy.assets.index(sleeve.asset) if sleeve is not None else -1,
        sleeve_lower=float(sleeve.lower) if sleeve is not None else 0.0,
        sleeve_upper=float(sleeve.upper) if sleeve is not None else 0.0,
    )


def _rows(x: np.ndarray) -> np.ndarray:
    """A schedule as a writable C-contiguous (1 or n, T) array: one compiled type for
    shared and per-scenario schedules (the kernel reads row ``s`` or row 0)."""
    return np.array(np.atleast_2d(x), dtype=np.float64, order="C")


def kernel_rules(rules: CashFlowRules) -> CashFlowRules:
    """``rules`` with every schedule as a (1 or n, T) array, the kernel's argument type."""
    return rules._replace(
        ages=np.array(rules.ages, dtype=np.float64),
        contributions=_rows(rules.contributions),
        leakage=_rows(rules.leakage),
        spending=_rows(rules.spending),
        initial_balance=float(rules.initial_balance),
    )


def _fill_slab(returns, inflation, lane_s, t, t1, growth, infl):
    """Fill ``growth[u - t, a, j]`` (real growth factor) and ``infl[u - t, j]`` (1 +
    inflation) for periods ``t <= u < t1`` of the scenarios ``lane_s``; return how many
    returns were NaN (their growth is left NaN for the caller to fix).

    Scenario returns are stored scenario-major, ``returns[s, t, a]``, while the loop
    wants them lane-minor, ``growth[t, a, lane]``. Lanes go eight at a time, so each
    (period, asset) writes one whole cache line of ``growth``. The NaN test is a count,
    so the copy has no branch. It is a function of its own (not inlined) so that its few
    registers are not spilled by the long main loop (the fill alone ran about a fifth
    faster that way on the 2-core benchmark machine).
    """
    n_a = returns.shape[2]
    inv8 = np.empty(8)  # 1 / (1 + inflation) of eight lanes
    n_nan = 0
    for jg in range(0, BLOCK, 8):
        for u in range(t, t1):
            uu = u - t
            for jj in range(8):
                i_t = 1.0 + inflation[lane_s[jg + jj], u]
                infl[uu, jg + jj] = i_t
                inv8[jj] = 1.0 / i_t
            for a in range(n_a):
                for jj in range(8):
                    r = returns[lane_s[jg + jj], u, a]
                    growth[uu, a, jg + jj] = (1.0 + r) * inv8[jj]
                    n_nan += r != r
    return n_nan


_fill_slab = numba.njit(cache=True, nogil=True, error_model="numpy", inline="never")(_fill_slab)

_step = numba.njit(inline="always", error_model="numpy")


@_step
def _read_slab(returns, inflation, target, lane_s, mj, t, n_t, growth, infl, first_bad):
    """Read the next SLAB periods of the block's returns once (real growth factors,
    lane-minor); the rare slab with a gap is fixed up after: growth 1, and the first
    period where a held asset has no data is noted per lane."""
    n_a = returns.shape[2]
    t1 = min(n_t, t + SLAB)
    n_nan = _fill_slab(returns, inflation, lane_s, t, t1, growth, infl)
    if n_nan > 0:  # rare: some asset has no data in this slab
        for j in range(BLOCK):
            s = lane_s[j]
            for u in range(t, t1):
                for a in range(n_a):
                    if np.isnan(returns[s, u, a]):
                        growth[u - t, a, j] = 1.0
                        if first_bad[j] == 0 and target[mj[j], u, a] > 0:
                            first_bad[j] = u + 1


@_step
def _copy_targets(target, mj, shared, t, tw):
    """This period's target weights per lane; one shared row is copied only when it
    changes."""
    n_a = tw.shape[0]
    if shared:
        same = t > 0
        for a in range(n_a):
            same = same and target[0, t, a] == target[0, t - 1, a]
        if not same:
            for a in range(n_a):
                w_t = target[0, t, a]
                for j in range(BLOCK):
                    tw[a, j] = w_t
    else:
        for a in range(n_a):
            for j in range(BLOCK):
                tw[a, j] = target[mj[j], t, a]


@_step
def _state_targets(grid, by_state, t, wealth, k_j, f_j, tw):
    """Adaptive targets: ``by_state[t]`` interpolated linearly over ``grid[t]`` at each
    lane's real ``wealth``, clamped to the grid's ends, as
    ``backtest.simulate.state_weights`` (the same expression, so both engines agree).

    The node below each lane's wealth (``k_j``: the last ``k`` with ``grid[t, k] <=
    wealth``, 0 below the grid) is found by a binary search whose steps do not depend on
    the data: each step halves the same interval length for every lane and moves a lane's
    base by a select, not a branch. So the lanes run in lock step, one short lane loop per
    step (gather, compare, select) that LLVM vectorises, and nothing mispredicts. (A
    branching search per lane cost about 80 ns a lookup on the benchmark's 401-node table,
    4.4x the whole deterministic kernel: ``benchmarks/bench_adaptive.py``.) ``f_j`` holds
    each lane's interpolation fraction.
    """
    n_s = grid.shape[1]
    n_a = tw.shape[0]
    g = grid[t]
    for j in range(BLOCK):
        k_j[j] = 0
    n = np.uint64(n_s)
    one = np.uint64(1)
    while n > one:  # the answer lies in [k_j, k_j + n)
        half = n >> one
        for j in range(BLOCK):
            b = k_j[j]
            k_j[j] = b + half if g[b + half] <= wealth[j] else b
        n -= half
    top = np.uint64(n_s - 2)
    for j in range(BLOCK):
        k = min(k_j[j], top)
        k_j[j] = k
        g0 = g[k]
        f = (wealth[j] - g0) / (g[k + one] - g0)
        f_j[j] = min(max(f, 0.0), 1.0)
    w = by_state[t]
    for a in range(n_a):
        for j in range(BLOCK):
            k = k_j[j]
            w0 = w[k, a]
            tw[a, j] = w0 + f_j[j] * (w[k + one, a] - w0)


@_step
def _start_flows(c_start, any_ct, any_lk, ct, lk, h, ws, tw, w_end, bal, f_contrib, f_leak):
    """Leakage (a share of the balance cashed out), then the start-of-period
    contribution (buying the target mix). Holdings are ``h * ws`` (``ws``: pro-rata
    scalings not yet applied); ``bal`` is their sum, carried from the previous period."""
    n_a = h.shape[0]
    for j in range(BLOCK):
        bal[j] = w_end[j]
    if any_lk:
        for j in range(BLOCK):
            keep = 1.0 - lk[j]
            f_leak[j] = bal[j] * lk[j]
            ws[j] *= keep
            bal[j] *= keep
    if c_start and any_ct:
        for j in range(BLOCK):
            bal[j] = 0.0
        for a in range(n_a):
            for j in range(BLOCK):
                h[a, j] = h[a, j] * ws[j] + ct[j] * tw[a, j]
                bal[j] += h[a, j]
        for j in range(BLOCK):
            ws[j] = 1.0
            f_contrib[j] += ct[j]


@_step
def _decide_withdrawal(
    rules,
    rmd_div,
    t,
    lane_s,
    s_step,
    bal,
    price,
    annual_w,
    ret_bal,
    price_ret,
    year_growth,
    year_infl,
    rmd_annual,
    w_rule,
    w_floor,
):
    """What the rule asks for this period, real USD at the period's start (``w_rule``),
    and the RMD floor (``w_floor``, 0 without one). Decisions shared by all lanes are
    taken outside the lane loops."""
    ppy = rules.periods_per_year
    w_code = rules.withdrawal_code
    k = t - rules.retirement_period
    year_start = k % ppy == 0
    age = rules.ages[t]
    if k == 0:
        for j in range(BLOCK):
            ret_bal[j] = bal[j]
            price_ret[j] = price[j]
    if w_code == W_CONSTANT:
        if rules.spending_per_unit_of_balance:
            for j in range(BLOCK):
                w_rule[j] = rules.spending[lane_s[j] * s_step, t] * ret_bal[j]
        else:
            for j in range(BLOCK):
                w_rule[j] = rules.spending[lane_s[j] * s_step, t]
        if not rules.spending_indexed:
            for j in range(BLOCK):
                w_rule[j] = w_rule[j] * price_ret[j] / price[j]
    elif w_code == W_PERCENT:
        for j in range(BLOCK):
            w_rule[j] = rules.rate / ppy * bal[j]
    elif w_code == W_GUYTON:
        w_rate = rules.rate
        for j in range(BLOCK):
            b_j = bal[j]
            aw = annual_w[j]
            if k == 0:
                aw = w_rate * ret_bal[j]
            elif year_start:
                rate_now = aw / b_j if b_j > 0 else np.inf
                if year_growth[j] < 1.0 and rate_now > w_rate:
                    aw = aw / year_infl[j]
                rate_now = aw / b_j if b_j > 0 else np.inf
                years_left = rules.end_age - age
                if (
                    rate_now > rules.gk_upper_guard * w_rate
                    and years_left > rules.gk_preservation_off_years
                ):
                    aw = aw * (1 - rules.gk_adjustment)
                if rate_now < rules.gk_lower_guard * w_rate:
                    aw = aw * (1 + rules.gk_adjustment)
            annual_w[j] = aw
            w_rule[j] = aw / ppy
    elif w_code == W_RMD:
        if year_start:
            if age >= 72:
                div = rmd_div[min(int(np.floor(age)), 125)]
                for j in range(BLOCK):
                    annual_w[j] = bal[j] / div
            else:
                for j in range(BLOCK):
                    annual_w[j] = bal[j] * rules.pre_table_rate
        for j in range(BLOCK):
            w_rule[j] = annual_w[j] / ppy
    if rules.rmd_floor and age >= rules.rmd_start_age:
        if year_start:
            div = rmd_div[min(int(np.floor(age)), 125)]
            for j in range(BLOCK):
                rmd_annual[j] = bal[j] / div
        for j in range(BLOCK):
            w_floor[j] = rmd_annual[j] / ppy
    else:
        for j in range(BLOCK):
            w_floor[j] = 0.0
    if year_start:
        for j in range(BLOCK):
            year_growth[j] = 1.0
            year_infl[j] = 1.0


@_step
def _pay(frac, t, w_rule, w_floor, deflate, i_t, bal, ws, f_paid, f_wanted, ruin_j):
    """Pay ``frac`` of the period's withdrawal (at least its RMD floor share) from the
    balance ``bal``, sold pro rata (scaling ``ws``); a shortfall is ruin. With
    ``deflate`` (a nominal amount paid at the period's end) the rule's amount is worth
    ``1 / i_t`` (1 + inflation) of its value at the start. (Written without branches
    around a division, the denominator made safe first and the result selected after,
    so that LLVM vectorises it.)"""
    for j in range(BLOCK):
        b_j = bal[j]
        w_j = w_rule[j] / i_t[j] if deflate else w_rule[j]
        amount = frac * max(w_j, w_floor[j])
        paid = amount if amount < b_j else b_j
        short = amount - paid > PAID_RTOL * amount
        ruin_j[j] = t if short & (ruin_j[j] < 0) else ruin_j[j]
        live = b_j > 0
        left = b_j - paid
        scale = left / (b_j if live else 1.0)
        ws[j] *= scale if live else 0.0
        bal[j] = left if live else 0.0
        f_paid[j] += paid
        f_wanted[j] += amount


@_step
def _rebalance_calendar(bal, tw, h, ws, traded):
    """Every lane trades back to the target mix (the sleeve band only applies between
    rebalancing dates)."""
    n_a = h.shape[0]
    for j in range(BLOCK):
        traded[j] = 0.0
    for a in range(n_a):
        for j in range(BLOCK):
            nh = bal[j] * tw[a, j]
            traded[j] += abs(nh - h[a, j] * ws[j])
            h[a, j] = nh
    for j in range(BLOCK):
        ws[j] = 1.0


@_step
def _rebalance_bands(trade, banded, bal, tw, h, new_h, ws, due, traded):
    """Band rebalancing (any weight outside its tolerance trades the lane back to
    target), then the sleeve's own band for lanes that did not trade."""
    n_a = h.shape[0]
    sleeve_i = trade.sleeve_index
    for j in range(BLOCK):
        bal[j] = 0.0
    for a in range(n_a):
        for j in range(BLOCK):
            h[a, j] *= ws[j]
            bal[j] += h[a, j]
    for j in range(BLOCK):
        ws[j] = 1.0
        due[j] = False
    if banded:
        relative = trade.rebalance_code == R_BAND_REL
        for j in range(BLOCK):
            safe = bal[j] if bal[j] > 0 else 1.0
            worst = 0.0
            for a in range(n_a):
                w_t = tw[a, j]
                dev = abs(h[a, j] / safe - w_t)
                if relative:
                    if w_t > 0:
                        dev = dev / w_t
                    elif dev > 0:
                        dev = np.inf
                worst = max(worst, dev)
            due[j] = worst > trade.band
    for a in range(n_a):
        for j in range(BLOCK):
            new_h[a, j] = bal[j] * tw[a, j] if due[j] else h[a, j]
    if sleeve_i >= 0:
        for j in range(BLOCK):
            if due[j]:
                continue
            safe = bal[j] if bal[j] > 0 else 1.0
            s_t = tw[sleeve_i, j]
            s_w = new_h[sleeve_i, j] / safe
            if s_t > 0 and (s_w < trade.sleeve_lower * s_t or s_w > trade.sleeve_upper * s_t):
                others = bal[j] - new_h[sleeve_i, j]
                sc = bal[j] * (1 - s_t) / others if others > 0 else 1.0
                for a in range(n_a):
                    new_h[a, j] *= sc
                new_h[sleeve_i, j] = bal[j] * s_t
    for j in range(BLOCK):
        traded[j] = 0.0
    for a in range(n_a):
        for j in range(BLOCK):
            traded[j] += abs(new_h[a, j] - h[a, j])
            h[a, j] = new_h[a, j]


@_step
def _trading_costs(cost_rate, bal, traded, ws, f_cost, f_turn):
    """Transaction cost on the value traded, taken pro rata; one-way turnover."""
    if cost_rate > 0:
        for j in range(BLOCK):
            b_j = bal[j]
            cost = cost_rate * traded[j]
            live = b_j > 0
            safe = b_j if live else 1.0
            scale = (b_j - cost) / safe
            turn = traded[j] / (2 * safe)
            ws[j] = scale if live else 0.0
            f_cost[j] = cost if cost < b_j else b_j
            f_turn[j] = turn if live else 0.0
    else:
        for j in range(BLOCK):
            b_j = bal[j]
            live = b_j > 0
            turn = traded[j] / (2 * (b_j if live else 1.0))
            f_turn[j] = turn if live else 0.0


@_step
def _grow(h, ws, g_t, tw, keep, c_end, before, after, w_end):
    """Returns, fees and end-of-period contributions in one pass over the holdings."""
    n_a = h.shape[0]
    for j in range(BLOCK):
        before[j] = 0.0
        after[j] = 0.0
        w_end[j] = 0.0
    for a in range(n_a):
        for j in range(BLOCK):
            v = h[a, j] * ws[j]
            before[j] += v
            v *= g_t[a, j]
            after[j] += v
            v = v * keep + c_end[j] * tw[a, j]
            h[a, j] = v
            w_end[j] += v
    for j in range(BLOCK):
        ws[j] = 1.0


@_step
def _period_return(before, after, tw, g_t, i_t, rr, port_ret, year_growth, year_infl):
    """The period's nominal portfolio return: growth of what was held, or of the target
    mix when the account is empty (as in the reference loop)."""
    n_a = tw.shape[0]
    n_empty = 0
    for j in range(BLOCK):
        live = before[j] > 0
        r_j = after[j] / (before[j] if live else 1.0)
        rr[j] = r_j
        n_empty += not live
    if n_empty > 0:  # rare: lanes whose account is empty
        for j in range(BLOCK):
            if not before[j] > 0:
                r_j = 0.0
                for a in range(n_a):
                    r_j += tw[a, j] * g_t[a, j]
                rr[j] = r_j
    for j in range(BLOCK):
        p_r = rr[j] * i_t[j] - 1.0
        port_ret[j] = p_r
        year_growth[j] *= 1.0 + p_r
        year_infl[j] *= i_t[j]


def _loop(
    returns,  # (n, T, A) nominal, NaN where no data
    inflation,  # (n, T)
    target,  # (m, T, A), m == 1 or n
    rules,  # CashFlowRules, schedules as (1 or n, T) arrays (kernel_rules)
    trade,  # Trading
    rmd_div,  # (126,) divisor by whole age, NaN where none
    adaptive,  # True: targets from the state table (grid, by_state), not from target
    grid,  # (T, S) real wealth grid of the state table (placeholder when not adaptive)
    by_state,  # (T, S, A) target weights by state
    record,  # 0 summary only, 1 + wealth paths, 2 + flow paths
    wealth,  # (n, T+1) out when recording, else (n, 1): terminal wealth only
    flows,  # (N_FLOWS, n, T) out when recording, else (N_FLOWS, n, 1)
    summary,  # (n, 8) out: sums of the first 7 flows + wealth at retirement
    ruin,  # (n,) out
    bad,  # (n,) out: 1 + period where a held asset had no data, or 0
    n_chunks,  # scenario blocks are shared out in this many chunks (a few per thread)
):
    n, n_t, n_a = returns.shape
    init = rules.initial_balance
    t_ret = rules.retirement_period
    c_start = rules.contributions_at_start
    fee_rate = rules.fee_per_period
    cost_rate = rules.cost_per_traded
    r_code = trade.rebalance_code
    sleeve_i = trade.sleeve_index
    w_code = rules.withdrawal_code
    m_step = 1 if target.shape[0] > 1 else 0  # per-scenario targets or one shared row
    c_step = 1 if rules.contributions.shape[0] > 1 else 0  # per-scenario schedules
    l_step = 1 if rules.leakage.shape[0] > 1 else 0
    s_step = 1 if rules.spending.shape[0] > 1 else 0
    has_leak = np.any(rules.leakage > 0)
    withdraws = w_code != W_NONE
    nominal = w_code == W_CONSTANT and not rules.spending_indexed
    # the period return of the whole portfolio: recorded, or needed by the guardrails
    need_rr = record == 2 or w_code == W_GUYTON
    n_blocks = (n + BLOCK - 1) // BLOCK
    n_chunks = max(1, min(n_blocks, n_chunks))
    for c in numba.prange(n_chunks):
        b_lo = c * n_blocks // n_chunks
        b_hi = (c + 1) * n_blocks // n_chunks
        growth = np.empty((SLAB, n_a, BLOCK))  # real growth factor (1 where no data)
        infl = np.empty((SLAB, BLOCK))  # 1 + inflation
        tw = np.empty((n_a, BLOCK))  # this period's target weights
        h = np.empty((n_a, BLOCK))  # holdings, real USD
        new_h = np.empty((n_a, BLOCK))
        mj = np.empty(BLOCK, dtype=np.int64)  # target row of each lane
        k_j = np.empty(BLOCK, dtype=np.uint64)  # adaptive: state-table node of each lane
        f_j = np.empty(BLOCK)  # adaptive: interpolation fraction of each lane
        lane_s = np.empty(BLOCK, dtype=np.uint64)  # scenario of each lane
        first_bad = np.empty(BLOCK, dtype=np.int64)
        bal = np.empty(BLOCK)
        w_rule = np.empty(BLOCK)  # the rule's withdrawal, real USD at the period start
        w_floor = np.empty(BLOCK)  # the RMD floor, real USD
        ws = np.empty(BLOCK)  # pro-rata scaling of h not yet applied
        due = np.empty(BLOCK, dtype=np.bool_)
        traded = np.empty(BLOCK)
        before = np.empty(BLOCK)
        after = np.empty(BLOCK)
        rr = np.empty(BLOCK)
        ct = np.empty(BLOCK)  # this period's contribution
        lk = np.empty(BLOCK)  # this period's leakage share
        c_end = np.empty(BLOCK)  # end-of-period contribution
        f_contrib = np.empty(BLOCK)
        f_paid = np.empty(BLOCK)
        f_wanted = np.empty(BLOCK)
        f_fee = np.empty(BLOCK)
        f_cost = np.empty(BLOCK)
        f_turn = np.empty(BLOCK)
        f_gain = np.empty(BLOCK)
        f_leak = np.empty(BLOCK)
        port_ret = np.empty(BLOCK)
        w_end = np.empty(BLOCK)
        tot = np.empty((8, BLOCK))
        annual_w = np.empty(BLOCK)
        year_growth = np.empty(BLOCK)
        year_infl = np.empty(BLOCK)
        ret_bal = np.empty(BLOCK)
        rmd_annual = np.empty(BLOCK)
        price = np.empty(BLOCK)
        price_ret = np.empty(BLOCK)
        ruin_j = np.empty(BLOCK, dtype=np.int64)
        for blk in range(b_lo, b_hi):
            s0 = blk * BLOCK
            nb = min(BLOCK, n - s0)  # lanes past the end repeat the block's first scenario
            for j in range(BLOCK):
                s_j = s0 + j if j < nb else s0
                lane_s[j] = s_j
                mj[j] = s_j * m_step
                first_bad[j] = 0
                for k in range(8):
                    tot[k, j] = 0.0
                annual_w[j] = 0.0
                year_growth[j] = 1.0
                year_infl[j] = 1.0
                ret_bal[j] = 0.0
                rmd_annual[j] = 0.0
                price[j] = 1.0
                price_ret[j] = 1.0
                ruin_j[j] = -1
                w_end[j] = init
                f_leak[j] = 0.0
                if record >= 1 and j < nb:
                    wealth[s0 + j, 0] = init
            if n_t > 0:
                if adaptive:  # period 0's targets at the initial balance (w_end)
                    _state_targets(grid, by_state, 0, w_end, k_j, f_j, tw)
                else:
                    for a in range(n_a):
                        for j in range(BLOCK):
                            tw[a, j] = target[mj[j], 0, a]
                for j in range(BLOCK):
                    w_end[j] = 0.0
                    ws[j] = 1.0
                for a in range(n_a):
                    for j in range(BLOCK):
                        h[a, j] = init * tw[a, j]
                        w_end[j] += h[a, j]
            for t in range(n_t):
                tt = t % SLAB
                if tt == 0:
                    _read_slab(
                        returns,
                        inflation,
                        target,
                        lane_s,
                        mj,
                        t,
                        n_t,
                        growth,
                        infl,
                        first_bad,
                    )
                if not adaptive:
                    _copy_targets(target, mj, m_step == 0, t, tw)
                elif t > 0:  # by the real wealth at the start of period t, before its flows
                    _state_targets(grid, by_state, t, w_end, k_j, f_j, tw)
                working = t < t_ret
                any_ct = False
                any_lk = False
                if working:
                    for j in range(BLOCK):
                        c_j = rules.contributions[lane_s[j] * c_step, t]
                        ct[j] = c_j
                        any_ct |= c_j > 0
                    if has_leak:
                        for j in range(BLOCK):
                            l_j = rules.leakage[lane_s[j] * l_step, t]
                            lk[j] = l_j
                            any_lk |= l_j > 0
                paying = withdraws and not working
                calendar = t > 0 and r_code == R_CALENDAR and t % trade.every_periods == 0
                banded = t > 0 and r_code >= R_BAND_ABS
                trades = calendar or banded or sleeve_i >= 0
                # flows this period (those that are set below in any case are not zeroed)
                for j in range(BLOCK):
                    f_contrib[j] = 0.0
                    f_paid[j] = 0.0
                    f_wanted[j] = 0.0
                    c_end[j] = 0.0
                if not fee_rate > 0:
                    for j in range(BLOCK):
                        f_fee[j] = 0.0
                if not (trades and cost_rate > 0):
                    for j in range(BLOCK):
                        f_cost[j] = 0.0
                if not trades:
                    for j in range(BLOCK):
                        f_turn[j] = 0.0
                if has_leak:
                    for j in range(BLOCK):
                        f_leak[j] = 0.0
                _start_flows(
                    c_start, any_ct, any_lk, ct, lk, h, ws, tw, w_end, bal, f_contrib, f_leak
                )
                # ---- the withdrawal this period asks for, and its start share (with
                # nothing wanted a payment is the identity: skipped before retirement)
                if paying:
                    _decide_withdrawal(
                        rules,
                        rmd_div,
                        t,
                        lane_s,
                        s_step,
                        bal,
                        price,
                        annual_w,
                        ret_bal,
                        price_ret,
                        year_growth,
                        year_infl,
                        rmd_annual,
                        w_rule,
                        w_floor,
                    )
                    if rules.start_fraction > 0:
                        _pay(
                            rules.start_fraction,
                            t,
                            w_rule,
                            w_floor,
                            False,
                            price,
                            bal,
                            ws,
                            f_paid,
                            f_wanted,
                            ruin_j,
                        )
                # ---- rebalancing (a period without trades leaves everything as is)
                if calendar:
                    _rebalance_calendar(bal, tw, h, ws, traded)
                elif banded or sleeve_i >= 0:
                    _rebalance_bands(trade, banded, bal, tw, h, new_h, ws, due, traded)
                if trades:
                    _trading_costs(cost_rate, bal, traded, ws, f_cost, f_turn)
                # ---- returns, fees and end-of-period contributions in one pass
                if working and any_ct and not c_start:
                    for j in range(BLOCK):
                        c_end[j] = ct[j]
                _grow(h, ws, growth[tt], tw, 1.0 - fee_rate, c_end, before, after, w_end)
                if need_rr:
                    _period_return(
                        before,
                        after,
                        tw,
                        growth[tt],
                        infl[tt],
                        rr,
                        port_ret,
                        year_growth,
                        year_infl,
                    )
                for j in range(BLOCK):
                    f_gain[j] = after[j] - before[j]
                    price[j] *= infl[tt, j]
                    f_contrib[j] += c_end[j]
                if fee_rate > 0:
                    for j in range(BLOCK):
                        f_fee[j] = after[j] * fee_rate
                # ---- end-of-period withdrawal
                if paying and rules.start_fraction < 1:
                    _pay(
                        1.0 - rules.start_fraction,
                        t,
                        w_rule,
                        w_floor,
                        nominal,
                        infl[tt],
                        w_end,
                        ws,
                        f_paid,
                        f_wanted,
                        ruin_j,
                    )
                for j in range(BLOCK):
                    tot[0, j] += f_contrib[j]
                    tot[1, j] += f_paid[j]
                    tot[2, j] += f_wanted[j]
                    tot[3, j] += f_fee[j]
                    tot[4, j] += f_cost[j]
                    tot[5, j] += f_gain[j]
                    tot[6, j] += f_turn[j]
                if t + 1 == t_ret:
                    for j in range(BLOCK):
                        tot[S_AT_RETIREMENT, j] = w_end[j]
                if record >= 1:
                    for j in range(nb):
                        wealth[s0 + j, t + 1] = w_end[j]
                if record == 2:
                    for j in range(nb):
                        s = s0 + j
                        flows[F_CONTRIB, s, t] = f_contrib[j]
                        flows[F_PAID, s, t] = f_paid[j]
                        flows[F_WANTED, s, t] = f_wanted[j]
                        flows[F_FEE, s, t] = f_fee[j]
                        flows[F_COST, s, t] = f_cost[j]
                        flows[F_GAIN, s, t] = f_gain[j]
                        flows[F_TURN, s, t] = f_turn[j]
                        flows[F_RETURN, s, t] = port_ret[j]
                        flows[F_LEAK, s, t] = f_leak[j]
            for j in range(nb):
                s = s0 + j
                bad[s] = first_bad[j]
                if t_ret == 0:
                    tot[S_AT_RETIREMENT, j] = init
                if record == 0:
                    wealth[s, 0] = w_end[j]
                ruin[s] = ruin_j[j]
                for k in range(8):
                    summary[s, k] = tot[k, j]


_compiled = numba.njit(parallel=True, cache=True, fastmath=False, nogil=True, error_model="numpy")(
    _loop
)


def run_loop(*args) -> None:
    """Run the compiled loop; arguments as in ``_loop`` (outputs filled in place).

    The work is split into 16 chunks per thread, handed out one at a time (chunk size
    1), so a thread slowed by other work on a shared machine does not hold the rest up
    as it would with a static split.
    """
    previous = numba.set_parallel_chunksize(1)
    try:
        _compiled(*args, 16 * numba.get_num_threads())
    finally:
        numba.set_parallel_chunksize(previous)


def rmd_divisors() -> np.ndarray:
    """Uniform Lifetime Table divisors indexed by whole age 0..125 (NaN below 72)."""
    from backtest.plan import UNIFORM_LIFETIME_TABLE

    out = np.full(126, np.nan)
    for age in range(72, 126):
        out[age] = UNIFORM_LIFETIME_TABLE[min(age, 120)]
    return out
