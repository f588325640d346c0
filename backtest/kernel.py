"""A compiled twin of the simulator's time loop (numba), for speed on large scenario sets.

``backtest.simulate`` holds the reference implementation: numpy, vectorised over
scenarios, looping over periods. This module runs the *same* events in the same order,
but fused: one compiled pass per scenario (scenarios in parallel), so each return is
read once and no (n_scenarios, n_assets) temporaries are made per period. The test
``tests/backtest/test_kernel.py`` checks the two agree to round-off on random plans.

It is used when numba is installed and the strategy has no smoothing overlay (a Python
object the compiled code cannot call); ``simulate(..., engine="numpy")`` forces the
reference. Nothing here validates input: ``simulate`` does that before calling.
"""

from __future__ import annotations

import numpy as np

try:  # numba is optional: without it the numpy engine runs everything.
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is absent
    numba = None

#: Withdrawal-rule codes shared with ``backtest.simulate``.
W_NONE, W_CONSTANT, W_PERCENT, W_GUYTON, W_RMD = 0, 1, 2, 3, 4
#: Rebalancing codes.
R_NONE, R_CALENDAR, R_BAND_ABS, R_BAND_REL = 0, 1, 2, 3

AVAILABLE = numba is not None


def _loop(
    returns,  # (n, T, A) nominal, NaN where no data
    inflation,  # (n, T)
    target,  # (m, T, A), m == 1 or n
    contrib,  # (T,) real USD per period
    retired,  # (T,) bool
    ages,  # (T,)
    rmd_div,  # (126,) divisor by whole age, NaN where none
    iparams,  # int64: ppy, t_ret, c_start, w_code, r_code, every, sleeve_i, indexed, rmd_floor,
    #         record (0 summary only, 1 + wealth paths, 2 + flow paths)
    fparams,  # float64: init, w_frac, fee_rate, cost_rate, band, s_lower, s_upper,
    #           w_rate, w_amount, gk_upper, gk_lower, gk_adj, gk_off_years, end_age,
    #           rmd_start_age, pre_table_rate
    wealth,  # (n, T+1) out when recording, else (n, 1): terminal wealth only
    flows,  # (8, n, T) out when recording, else (8, n, 1): contributions, withdrawals,
    #         wanted, fees, costs, gains, turnover, portfolio return
    summary,  # (n, 8) out: sums of the first 7 flows + wealth at retirement
    ruin,  # (n,) out
    bad,  # (n,) out: 1 + period where a held asset had no data, or 0
):
    n, n_t, n_a = returns.shape
    ppy, t_ret, c_start, w_code, r_code, every, sleeve_i, indexed, rmd_floor, record = iparams
    (
        init,
        w_frac,
        fee_rate,
        cost_rate,
        band,
        s_lower,
        s_upper,
        w_rate,
        w_amount,
        gk_upper,
        gk_lower,
        gk_adj,
        gk_off,
        end_age,
        rmd_start,
        pre_rate,
    ) = fparams
    m_step = 1 if target.shape[0] > 1 else 0  # per-scenario targets or one shared row
    for s in numba.prange(n):
        m = s * m_step
        h = np.empty(n_a)
        new_h = np.empty(n_a)
        for a in range(n_a):
            h[a] = init * target[m, 0, a]
        if record >= 1:
            wealth[s, 0] = init
        tot = np.zeros(8)
        annual_w = 0.0
        year_growth = 1.0
        year_infl = 1.0
        ret_bal = 0.0
        rmd_annual = 0.0
        price = 1.0
        price_ret = 1.0
        ruin[s] = -1
        bad[s] = 0
        w_end = init
        for t in range(n_t):
            f_contrib = 0.0
            f_paid = 0.0
            f_wanted = 0.0
            f_fee = 0.0
            f_cost = 0.0
            f_turn = 0.0
            if c_start == 1 and contrib[t] > 0:
                for a in range(n_a):
                    h[a] += contrib[t] * target[m, t, a]
                f_contrib += contrib[t]
            # ---- the withdrawal this period asks for
            wanted = 0.0
            if w_code != W_NONE and retired[t]:
                bal = 0.0
                for a in range(n_a):
                    bal += h[a]
                k = t - t_ret
                if k == 0:
                    ret_bal = bal
                    price_ret = price
                year_start = k % ppy == 0
                if w_code == W_CONSTANT:
                    if k == 0:
                        annual_w = w_rate * ret_bal if w_amount < 0 else w_amount
                    wanted = annual_w / ppy
                    if indexed == 0:
                        wanted = wanted * price_ret / price
                elif w_code == W_PERCENT:
                    wanted = w_rate / ppy * bal
                elif w_code == W_GUYTON:
                    if k == 0:
                        annual_w = w_rate * ret_bal
                    elif year_start:
                        rate_now = annual_w / bal if bal > 0 else np.inf
                        if year_growth < 1.0 and rate_now > w_rate:
                            annual_w = annual_w / year_infl
                        rate_now = annual_w / bal if bal > 0 else np.inf
                        years_left = end_age - ages[t]
                        if rate_now > gk_upper * w_rate and years_left > gk_off:
                            annual_w = annual_w * (1 - gk_adj)
                        if rate_now < gk_lower * w_rate:
                            annual_w = annual_w * (1 + gk_adj)
                    wanted = annual_w / ppy
                elif w_code == W_RMD:
                    if year_start:
                        if ages[t] >= 72:
                            annual_w = bal / rmd_div[min(int(np.floor(ages[t])), 125)]
                        else:
                            annual_w = bal * pre_rate
                    wanted = annual_w / ppy
                if rmd_floor == 1 and ages[t] >= rmd_start:
                    if year_start:
                        rmd_annual = bal / rmd_div[min(int(np.floor(ages[t])), 125)]
                    wanted = max(wanted, rmd_annual / ppy)
                if year_start:
                    year_growth = 1.0
                    year_infl = 1.0
            f_wanted = wanted
            if w_frac > 0:
                amount = w_frac * wanted
                bal = 0.0
                for a in range(n_a):
                    bal += h[a]
                paid = min(amount, bal)
                if amount - paid > 1e-10 * max(amount, 1.0) and ruin[s] < 0:
                    ruin[s] = t
                scale = (bal - paid) / bal if bal > 0 else 0.0
                for a in range(n_a):
                    h[a] *= scale
                f_paid += paid
            # ---- rebalancing
            bal = 0.0
            for a in range(n_a):
                bal += h[a]
            safe = bal if bal > 0 else 1.0
            due = False
            if t > 0 and r_code == R_CALENDAR:
                due = t % every == 0
            elif t > 0 and r_code >= R_BAND_ABS:
                worst = 0.0
                for a in range(n_a):
                    tw = target[m, t, a]
                    dev = abs(h[a] / safe - tw)
                    if r_code == R_BAND_REL:
                        if tw > 0:
                            dev = dev / tw
                        elif dev > 0:
                            dev = np.inf
                    worst = max(worst, dev)
                due = worst > band
            for a in range(n_a):
                new_h[a] = bal * target[m, t, a] if due else h[a]
            if sleeve_i >= 0 and not due:
                s_t = target[m, t, sleeve_i]
                s_w = new_h[sleeve_i] / safe
                if s_t > 0 and (s_w < s_lower * s_t or s_w > s_upper * s_t):
                    others = bal - new_h[sleeve_i]
                    scale = bal * (1 - s_t) / others if others > 0 else 1.0
                    for a in range(n_a):
                        new_h[a] *= scale
                    new_h[sleeve_i] = bal * s_t
            traded = 0.0
            for a in range(n_a):
                traded += abs(new_h[a] - h[a])
                h[a] = new_h[a]
            if cost_rate > 0:
                cost = cost_rate * traded
                scale = (bal - cost) / bal if bal > 0 else 0.0
                for a in range(n_a):
                    h[a] *= scale
                f_cost = min(cost, bal)
            f_turn = traded / (2 * bal) if bal > 0 else 0.0
            # ---- returns (the period return uses the weights held; an empty account is
            # credited the target mix's return, as in the reference loop)
            before = 0.0
            for a in range(n_a):
                before += h[a]
            after = 0.0
            real_rate = 0.0
            for a in range(n_a):
                r = returns[s, t, a]
                g = 1.0
                if np.isnan(r):
                    if target[m, t, a] > 0 and bad[s] == 0:
                        bad[s] = t + 1
                else:
                    g = (1.0 + r) / (1.0 + inflation[s, t])
                held = h[a] / before if before > 0 else target[m, t, a]
                real_rate += held * g
                h[a] *= g
                after += h[a]
            real_rate -= 1.0
            infl_t = 1.0 + inflation[s, t]
            port_ret = (1.0 + real_rate) * infl_t - 1.0
            f_gain = after - before
            year_growth *= 1.0 + port_ret
            year_infl *= infl_t
            price *= infl_t
            # ---- fees
            if fee_rate > 0:
                f_fee = after * fee_rate
                for a in range(n_a):
                    h[a] *= 1.0 - fee_rate
            # ---- end-of-period flows
            if c_start == 0 and contrib[t] > 0:
                for a in range(n_a):
                    h[a] += contrib[t] * target[m, t, a]
                f_contrib += contrib[t]
            if w_frac < 1 and wanted != 0:
                amount = (1.0 - w_frac) * wanted
                bal = 0.0
                for a in range(n_a):
                    bal += h[a]
                paid = min(amount, bal)
                if amount - paid > 1e-10 * max(amount, 1.0) and ruin[s] < 0:
                    ruin[s] = t
                scale = (bal - paid) / bal if bal > 0 else 0.0
                for a in range(n_a):
                    h[a] *= scale
                f_paid += paid
            w_end = 0.0
            for a in range(n_a):
                w_end += h[a]
            if record >= 1:
                wealth[s, t + 1] = w_end
            if t + 1 == t_ret:
                tot[7] = w_end
            tot[0] += f_contrib
            tot[1] += f_paid
            tot[2] += f_wanted
            tot[3] += f_fee
            tot[4] += f_cost
            tot[5] += f_gain
            tot[6] += f_turn
            if record == 2:
                flows[0, s, t] = f_contrib
                flows[1, s, t] = f_paid
                flows[2, s, t] = f_wanted
                flows[3, s, t] = f_fee
                flows[4, s, t] = f_cost
                flows[5, s, t] = f_gain
                flows[6, s, t] = f_turn
                flows[7, s, t] = port_ret
        if t_ret == 0:
            tot[7] = init
        if record == 0:
            wealth[s, 0] = w_end
        for j in range(8):
            summary[s, j] = tot[j]


if numba is not None:
    run_loop = numba.njit(parallel=True, cache=True, fastmath=False, nogil=True)(_loop)
else:  # pragma: no cover
    run_loop = None


def rmd_divisors() -> np.ndarray:
    """Uniform Lifetime Table divisors indexed by whole age 0..125 (NaN below 72)."""
    from backtest.plan import UNIFORM_LIFETIME_TABLE

    out = np.full(126, np.nan)
    for age in range(72, 126):
        out[age] = UNIFORM_LIFETIME_TABLE[min(age, 120)]
    return out


def pack(plan, strategy, schedule, t_ret: int, c_start: bool, w_frac: float, record: int):
    """Translate a validated plan and strategy into the kernel's integer and float params."""
    from backtest.plan import ConstantReal, FixedPercent, GuytonKlinger, RequiredMinimum

    w = plan.withdrawal
    code, rate, amount, indexed = W_NONE, 0.0, -1.0, 1
    gk = (0.0, 0.0, 0.0, 0.0)
    pre_rate = 0.0
    if isinstance(w, ConstantReal):
        code = W_CONSTANT
        rate = w.rate if w.rate is not None else 0.0
        amount = float(w.amount) if w.amount is not None else -1.0
        indexed = int(w.indexed)
    elif isinstance(w, FixedPercent):
        code, rate = W_PERCENT, w.rate
    elif isinstance(w, GuytonKlinger):
        code, rate = W_GUYTON, w.initial_rate
        gk = (w.upper_guard, w.lower_guard, w.adjustment, w.preservation_off_years)
    elif isinstance(w, RequiredMinimum):
        code, pre_rate = W_RMD, w.pre_table_rate
    rb = strategy.rebalance
    r_code = {"none": R_NONE, "calendar": R_CALENDAR}.get(rb.kind)
    if r_code is None:
        r_code = R_BAND_ABS if rb.band_kind == "absolute" else R_BAND_REL
    sleeve = strategy.sleeve_band
    ppy = schedule.periods_per_year
    iparams = np.array(
        [
            ppy,
            t_ret,
            int(plan.contributions is not None and plan.contributions.timing == "start"),
            code,
            r_code,
            rb.every_periods(ppy),
            strategy.assets.index(sleeve.asset) if sleeve is not None else -1,
            indexed,
            int(plan.rmd_floor),
            record,
        ],
        dtype=np.int64,
    )
    fparams = np.array(
        [
            plan.initial_balance,
            w_frac,
            plan.expense_ratio / ppy,
            plan.transaction_cost_bps / 1e4,
            rb.band,
            sleeve.lower if sleeve else 0.0,
            sleeve.upper if sleeve else 0.0,
            rate,
            amount,
            *gk,
            plan.end_age,
            plan.rmd_start_age,
            pre_rate,
        ],
        dtype=np.float64,
    )
    return iparams, fparams
