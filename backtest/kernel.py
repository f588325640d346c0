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
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.core.extending import intrinsic
except ImportError:  # pragma: no cover - exercised only where numba is absent
    numba = None

#: Withdrawal-rule codes shared with ``backtest.simulate``.
W_NONE, W_CONSTANT, W_PERCENT, W_GUYTON, W_RMD = 0, 1, 2, 3, 4
#: Rebalancing codes.
R_NONE, R_CALENDAR, R_BAND_ABS, R_BAND_REL = 0, 1, 2, 3

AVAILABLE = numba is not None

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


# ---------------------------------------------------------------- explicit SIMD
# Scenario returns are stored scenario-major, ``returns[s, t, a]``, while the loop wants
# them lane-minor, ``growth[t, a, lane]``. Written as scalar code that copy is one load,
# one add, one multiply and one store per number, and LLVM does not vectorise it by
# itself. ``growth_tile4`` loads four scenarios' rows of four assets as four vectors,
# transposes them in registers (eight shuffles) and stores four vectors, one per asset.
# It lives in this file because numba's on-disk cache of the loop is invalidated only
# when this file changes, not when a module it calls does.

if numba is not None:
    _V4 = ir.VectorType(ir.DoubleType(), 4)
    _V4_I64 = ir.VectorType(ir.IntType(64), 4)
    _I32 = ir.IntType(32)

    def _mask(*lanes: int) -> ir.Constant:
        return ir.Constant(ir.VectorType(_I32, len(lanes)), list(lanes))

    @intrinsic
    def growth_tile4(typingctx, returns, growth, s0, s1, s2, s3, u, uu, a0, j, v0, v1, v2, v3):
        """``growth[uu, a0 + a, j + k] = (1 + returns[s_k, u, a0 + a]) * v_k`` for ``a, k`` in
        0..3; returns how many of the 16 returns read are NaN (int64).

        ``returns`` is (n, T, A) and ``growth`` (P, A, L), both float64; ``v_k`` are float64
        scalars (the kernel passes ``1 / (1 + inflation)``). The four assets ``a0..a0+3``
        must be contiguous in ``returns`` (``returns.strides[2] == 8``) and the four lanes
        ``j..j+3`` in ``growth``; the caller checks. No bounds are checked.
        """
        sig = types.int64(returns, growth, s0, s1, s2, s3, u, uu, a0, j, v0, v1, v2, v3)

        def codegen(context, builder, signature, args):
            r_ty, g_ty = signature.args[0], signature.args[1]
            r_arr = context.make_array(r_ty)(context, builder, args[0])
            g_arr = context.make_array(g_ty)(context, builder, args[1])

            def index(k: int) -> ir.Value:
                return context.cast(builder, args[k], signature.args[k], types.intp)

            vec_ptr = _V4.as_pointer()
            one = ir.Constant(_V4, [1.0] * 4)
            rows = []
            n_nan = ir.Constant(_V4_I64, [0] * 4)
            for k in range(4):  # row k: the four assets of scenario s_k
                ptr = cgutils.get_item_pointer(
                    context, builder, r_ty, r_arr, [index(2 + k), index(6), index(8)]
                )
                x = builder.load(builder.bitcast(ptr, vec_ptr), align=8)
                is_nan = builder.fcmp_unordered("uno", x, x)
                n_nan = builder.add(n_nan, builder.zext(is_nan, _V4_I64))
                rows.append(builder.fadd(x, one))
            scale = ir.Constant(_V4, ir.Undefined)
            for k in range(4):
                scale = builder.insert_element(scale, args[10 + k], ir.Constant(_I32, k))
            # 4 x 4 transpose: pairs of rows interleaved, then 128-bit halves recombined
            lo01 = builder.shuffle_vector(rows[0], rows[1], _mask(0, 4, 2, 6))
            hi01 = builder.shuffle_vector(rows[0], rows[1], _mask(1, 5, 3, 7))
            lo23 = builder.shuffle_vector(rows[2], rows[3], _mask(0, 4, 2, 6))
            hi23 = builder.shuffle_vector(rows[2], rows[3], _mask(1, 5, 3, 7))
            columns = (
                builder.shuffle_vector(lo01, lo23, _mask(0, 1, 4, 5)),
                builder.shuffle_vector(hi01, hi23, _mask(0, 1, 4, 5)),
                builder.shuffle_vector(lo01, lo23, _mask(2, 3, 6, 7)),
                builder.shuffle_vector(hi01, hi23, _mask(2, 3, 6, 7)),
            )
            uu_i, a0_i, j_i = index(7), index(8), index(9)
            for a, column in enumerate(columns):
                a_i = builder.add(a0_i, ir.Constant(a0_i.type, a))
                ptr = cgutils.get_item_pointer(context, builder, g_ty, g_arr, [uu_i, a_i, j_i])
                builder.store(builder.fmul(column, scale), builder.bitcast(ptr, vec_ptr), align=8)
            total = builder.extract_element(n_nan, ir.Constant(_I32, 0))
            for k in range(1, 4):
                total = builder.add(total, builder.extract_element(n_nan, ir.Constant(_I32, k)))
            return total

        return sig, codegen


def _fill_slab(returns, inflation, lane_s, t, t1, growth, infl):
    """Fill ``growth[u - t, a, j]`` (real growth factor) and ``infl[u - t, j]`` (1 +
    inflation) for periods ``t <= u < t1`` of the scenarios ``lane_s``; return how many
    returns were NaN (their growth is left NaN for the caller to fix).

    Lanes go eight at a time, so each (period, asset) writes one whole cache line of
    ``growth``. Assets go four at a time through ``growth_tile4`` (vector loads of each
    scenario's row, a transpose in registers, vector stores) when the asset axis is
    contiguous; the rest one by one. The NaN test is a count, so the copy has no branch.
    It is a function of its own (not inlined) so that its few registers are not spilled
    by the long main loop (the fill alone ran about a fifth faster that way on the 2-core
    benchmark machine).
    """
    n_a = returns.shape[2]
    n_tiled = n_a // 4 * 4 if returns.strides[2] == returns.itemsize else 0
    inv8 = np.empty(8)  # 1 / (1 + inflation) of eight lanes
    n_nan = 0
    for jg in range(0, BLOCK, 8):
        for u in range(t, t1):
            uu = u - t
            for jj in range(8):
                i_t = 1.0 + inflation[lane_s[jg + jj], u]
                infl[uu, jg + jj] = i_t
                inv8[jj] = 1.0 / i_t
            for a0 in range(0, n_tiled, 4):
                for jq in range(jg, jg + 8, 4):
                    v = inv8[jq - jg : jq - jg + 4]
                    n_nan += growth_tile4(
                        returns,
                        growth,
                        lane_s[jq],
                        lane_s[jq + 1],
                        lane_s[jq + 2],
                        lane_s[jq + 3],
                        u,
                        uu,
                        a0,
                        jq,
                        v[0],
                        v[1],
                        v[2],
                        v[3],
                    )
            for a in range(n_tiled, n_a):
                for jj in range(8):
                    r = returns[lane_s[jg + jj], u, a]
                    growth[uu, a, jg + jj] = (1.0 + r) * inv8[jj]
                    n_nan += r != r
    return n_nan


if numba is not None:
    _fill_slab = numba.njit(cache=True, nogil=True, error_model="numpy", inline="never")(_fill_slab)


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
    n_chunks,  # scenario blocks are shared out in this many chunks (a few per thread)
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
    withdraws = w_code != W_NONE
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
        lane_s = np.empty(BLOCK, dtype=np.uint64)  # scenario of each lane
        first_bad = np.empty(BLOCK, dtype=np.int64)
        bal = np.empty(BLOCK)
        wanted = np.empty(BLOCK)
        ws = np.empty(BLOCK)  # pro-rata scaling of h not yet applied
        due = np.empty(BLOCK, dtype=np.bool_)
        traded = np.empty(BLOCK)
        before = np.empty(BLOCK)
        after = np.empty(BLOCK)
        rr = np.empty(BLOCK)
        f_contrib = np.empty(BLOCK)
        f_paid = np.empty(BLOCK)
        f_fee = np.empty(BLOCK)
        f_cost = np.empty(BLOCK)
        f_turn = np.empty(BLOCK)
        f_gain = np.empty(BLOCK)
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
                if record >= 1 and j < nb:
                    wealth[s0 + j, 0] = init
            if n_t > 0:
                for j in range(BLOCK):
                    w_end[j] = 0.0
                    ws[j] = 1.0
                for a in range(n_a):
                    for j in range(BLOCK):
                        h[a, j] = init * target[mj[j], 0, a]
                        w_end[j] += h[a, j]
            for t in range(n_t):
                tt = t % SLAB
                if tt == 0:
                    # ---- read the next SLAB periods of this block's returns once (real
                    # growth factors, lane-minor); the rare slab with a gap is fixed up
                    # after: growth 1, and the first period where a held asset has no data
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
                if m_step == 0:
                    # one target row for every lane: copied only when it changes
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
                ct = contrib[t]
                paying = withdraws and retired[t]
                calendar = t > 0 and r_code == R_CALENDAR and t % every == 0
                banded = t > 0 and r_code >= R_BAND_ABS
                trades = calendar or banded or sleeve_i >= 0
                # flows this period (those that are set below in any case are not zeroed)
                for j in range(BLOCK):
                    f_contrib[j] = 0.0
                    f_paid[j] = 0.0
                if not fee_rate > 0:
                    for j in range(BLOCK):
                        f_fee[j] = 0.0
                if not (trades and cost_rate > 0):
                    for j in range(BLOCK):
                        f_cost[j] = 0.0
                if not trades:
                    for j in range(BLOCK):
                        f_turn[j] = 0.0
                if not paying:
                    for j in range(BLOCK):
                        wanted[j] = 0.0
                # Holdings are h * ws (ws: pro-rata scalings not yet applied), and
                # bal is their sum, carried from the end of the previous period.
                if c_start == 1 and ct > 0:
                    for j in range(BLOCK):
                        bal[j] = 0.0
                    for a in range(n_a):
                        for j in range(BLOCK):
                            h[a, j] = h[a, j] * ws[j] + ct * tw[a, j]
                            bal[j] += h[a, j]
                    for j in range(BLOCK):
                        ws[j] = 1.0
                        f_contrib[j] += ct
                else:
                    for j in range(BLOCK):
                        bal[j] = w_end[j]
                # ---- the withdrawal this period asks for (decisions shared by all
                # lanes are taken outside the lane loops)
                if paying:
                    k = t - t_ret
                    year_start = k % ppy == 0
                    age = ages[t]
                    if k == 0:
                        for j in range(BLOCK):
                            ret_bal[j] = bal[j]
                            price_ret[j] = price[j]
                    if w_code == W_CONSTANT:
                        if k == 0:
                            for j in range(BLOCK):
                                annual_w[j] = w_rate * ret_bal[j] if w_amount < 0 else w_amount
                        if indexed == 0:
                            for j in range(BLOCK):
                                wanted[j] = annual_w[j] / ppy * price_ret[j] / price[j]
                        else:
                            for j in range(BLOCK):
                                wanted[j] = annual_w[j] / ppy
                    elif w_code == W_PERCENT:
                        for j in range(BLOCK):
                            wanted[j] = w_rate / ppy * bal[j]
                    elif w_code == W_GUYTON:
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
                                years_left = end_age - age
                                if rate_now > gk_upper * w_rate and years_left > gk_off:
                                    aw = aw * (1 - gk_adj)
                                if rate_now < gk_lower * w_rate:
                                    aw = aw * (1 + gk_adj)
                            annual_w[j] = aw
                            wanted[j] = aw / ppy
                    elif w_code == W_RMD:
                        if year_start:
                            if age >= 72:
                                div = rmd_div[min(int(np.floor(age)), 125)]
                                for j in range(BLOCK):
                                    annual_w[j] = bal[j] / div
                            else:
                                for j in range(BLOCK):
                                    annual_w[j] = bal[j] * pre_rate
                        for j in range(BLOCK):
                            wanted[j] = annual_w[j] / ppy
                    if rmd_floor == 1 and age >= rmd_start:
                        if year_start:
                            div = rmd_div[min(int(np.floor(age)), 125)]
                            for j in range(BLOCK):
                                rmd_annual[j] = bal[j] / div
                        for j in range(BLOCK):
                            wanted[j] = max(wanted[j], rmd_annual[j] / ppy)
                    if year_start:
                        for j in range(BLOCK):
                            year_growth[j] = 1.0
                            year_infl[j] = 1.0
                    # (With nothing wanted a payment is the identity: skipped before
                    # retirement.)
                    # (Lane loops are written without branches around a division, the
                    # denominator made safe first and the result selected after, so
                    # that LLVM vectorises them.)
                    if w_frac > 0:
                        for j in range(BLOCK):
                            b_j = bal[j]
                            amount = w_frac * wanted[j]
                            paid = amount if amount < b_j else b_j
                            short = amount - paid > PAID_RTOL * amount
                            ruin_j[j] = t if short & (ruin_j[j] < 0) else ruin_j[j]
                            live = b_j > 0
                            left = b_j - paid
                            scale = left / (b_j if live else 1.0)
                            ws[j] *= scale if live else 0.0
                            bal[j] = left if live else 0.0
                            f_paid[j] += paid
                # ---- rebalancing (a period without trades leaves everything as is)
                if calendar:
                    # Every lane trades back to the target mix (the sleeve band only
                    # applies between rebalancing dates).
                    for j in range(BLOCK):
                        traded[j] = 0.0
                    for a in range(n_a):
                        for j in range(BLOCK):
                            nh = bal[j] * tw[a, j]
                            traded[j] += abs(nh - h[a, j] * ws[j])
                            h[a, j] = nh
                    for j in range(BLOCK):
                        ws[j] = 1.0
                elif banded or sleeve_i >= 0:
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
                        for j in range(BLOCK):
                            safe = bal[j] if bal[j] > 0 else 1.0
                            worst = 0.0
                            for a in range(n_a):
                                w_t = tw[a, j]
                                dev = abs(h[a, j] / safe - w_t)
                                if r_code == R_BAND_REL:
                                    if w_t > 0:
                                        dev = dev / w_t
                                    elif dev > 0:
                                        dev = np.inf
                                worst = max(worst, dev)
                            due[j] = worst > band
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
                            if s_t > 0 and (s_w < s_lower * s_t or s_w > s_upper * s_t):
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
                if trades:
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
                # ---- returns, fees and end-of-period contributions in one pass (the
                # period return uses the weights held; an empty account is credited the
                # target mix's return, as in the reference loop)
                c_end = ct if c_start == 0 and ct > 0 else 0.0
                keep = 1.0 - fee_rate
                for j in range(BLOCK):
                    before[j] = 0.0
                    after[j] = 0.0
                    w_end[j] = 0.0
                for a in range(n_a):
                    for j in range(BLOCK):
                        v = h[a, j] * ws[j]
                        before[j] += v
                        v *= growth[tt, a, j]
                        after[j] += v
                        v = v * keep + c_end * tw[a, j]
                        h[a, j] = v
                        w_end[j] += v
                for j in range(BLOCK):
                    ws[j] = 1.0
                if need_rr:
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
                                    r_j += tw[a, j] * growth[tt, a, j]
                                rr[j] = r_j
                    for j in range(BLOCK):
                        i_t = infl[tt, j]
                        p_r = rr[j] * i_t - 1.0
                        port_ret[j] = p_r
                        year_growth[j] *= 1.0 + p_r
                        year_infl[j] *= i_t
                for j in range(BLOCK):
                    f_gain[j] = after[j] - before[j]
                    price[j] *= infl[tt, j]
                    f_contrib[j] += c_end
                if fee_rate > 0:
                    for j in range(BLOCK):
                        f_fee[j] = after[j] * fee_rate
                # ---- end-of-period withdrawal
                if paying and w_frac < 1:
                    for j in range(BLOCK):
                        # nothing wanted: scale 1, nothing paid (the reference skips it)
                        b_j = w_end[j]
                        amount = (1.0 - w_frac) * wanted[j]
                        paid = amount if amount < b_j else b_j
                        short = amount - paid > PAID_RTOL * amount
                        ruin_j[j] = t if short & (ruin_j[j] < 0) else ruin_j[j]
                        live = b_j > 0
                        left = b_j - paid
                        scale = left / (b_j if live else 1.0)
                        ws[j] = scale if live else 0.0
                        w_end[j] = left if live else 0.0
                        f_paid[j] += paid
                for j in range(BLOCK):
                    tot[0, j] += f_contrib[j]
                    tot[1, j] += f_paid[j]
                    tot[2, j] += wanted[j]
                    tot[3, j] += f_fee[j]
                    tot[4, j] += f_cost[j]
                    tot[5, j] += f_gain[j]
                    tot[6, j] += f_turn[j]
                if t + 1 == t_ret:
                    for j in range(BLOCK):
                        tot[7, j] = w_end[j]
                if record >= 1:
                    for j in range(nb):
                        wealth[s0 + j, t + 1] = w_end[j]
                if record == 2:
                    for j in range(nb):
                        s = s0 + j
                        flows[0, s, t] = f_contrib[j]
                        flows[1, s, t] = f_paid[j]
                        flows[2, s, t] = wanted[j]
                        flows[3, s, t] = f_fee[j]
                        flows[4, s, t] = f_cost[j]
                        flows[5, s, t] = f_gain[j]
                        flows[6, s, t] = f_turn[j]
                        flows[7, s, t] = port_ret[j]
            for j in range(nb):
                s = s0 + j
                bad[s] = first_bad[j]
                if t_ret == 0:
                    tot[7, j] = init
                if record == 0:
                    wealth[s, 0] = w_end[j]
                ruin[s] = ruin_j[j]
                for k in range(8):
                    summary[s, k] = tot[k, j]


if numba is not None:
    _compiled = numba.njit(
        parallel=True, cache=True, fastmath=False, nogil=True, error_model="numpy"
    )(_loop)

    def run_loop(*args: np.ndarray) -> None:
        """Run the compiled loop; arguments as in ``_loop`` (outputs filled in place).

        The work is split into 16 chunks per thread, handed out one at a time (chunk size
        1), so a thread slowed by other work on a shared machine does not hold the rest
        up as it would with a static split.
        """
        previous = numba.set_parallel_chunksize(1)
        try:
            _compiled(*args, 16 * numba.get_num_threads())
        finally:
            numba.set_parallel_chunksize(previous)

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
