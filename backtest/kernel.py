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
``_trading_costs``, ``_grow``, ``_period_return``, ``_close_period``,
``_add_to_totals``), each compiled with ``inline="always"`` so the split costs nothing at
run time.

How it is fast. Scenarios go ``BLOCK`` (64) at a time as lanes. Every per-lane number
(balance, pro-rata scaling, the period's flows, running totals, holdings, target weights)
is a row of one state array ``st``, so the compiler can see that no two rows overlap and
vectorises each step's lane loop (eight lanes per AVX-512 instruction) without run-time
alias checks. The number of asset rows, ``asset_width(A)`` (8 up to 8 assets, then A
rounded up to a multiple of 8; padding assets hold nothing and add exact zeros), is the
length of a tuple argument, so it is a compile-time constant: the loop over assets inside
a lane loop unrolls, and a step touches each holding once per period instead of once per
asset pass. Against the previous layout (one array per quantity, one lane loop per asset)
this cut the summary pass by about a sixth (0.537 s to 0.443 s, one thread, 100,000
scenarios x 480 months x 4 assets; bit-identical results), measured with both kernels in
one process.

One width, 8, for every study of up to 8 assets (issue 28: the width should not cost a
compile per width; it was 4 for 1 to 4 assets and 8 for 5 to 8). Each width is a
compiled loop of its own: cold (a fresh process, an empty ``NUMBA_CACHE_DIR``, the
first summary pass on 16 stored and 16 drawn scenarios) width 4 took 41.8 s of CPU time
and width 8 38.8 s, and width 8 after width 4 in the same process 35.1 s more (medians
of 3; load 2-8). The wider loop carries padding rows through every step; its cost on
the summary pass (100,000 scenarios x 480 months, chunks of 25,000, widths 8 and 4 back
to back on the same chunks, 13 runs over three invocations) is, median of the runs'
time ratios, 1.10 on stored and 1.13 on drawn scenarios with 4 assets, 1.10 and 1.09
with 2, 1.05 and 1.03 with 3, single runs between 0.74 and 1.50 (loads 1 to 12 on a
shared 2-core machine, so single runs are noisy). Width 8 stays far inside the
3x-of-floor targets (1.2x stored, 1.3x drawn in the run at load 1-2, made with the
slab-fill intrinsics that were deleted after it, see below). ``python -m benchmarks.width
--n 100000 --repeat 5`` measures both.

Reading the returns is the other half of the time: they are stored scenario-major,
``returns[s, t, a]``, and the lanes want them lane-minor, so ``_fill_slab`` transposes
``SLAB`` periods of a block at a time, eight lanes per (period, asset), in plain numba.
Neither a time-major copy of the inputs (Fortran order: 0.43 s against 0.24 s for the
fill alone, one thread), nor a scenario-major fill, nor a separate vectorised pass for
``1 / (1 + inflation)`` was faster.

Hand-written LLVM intrinsics for that fill (an 8 x 4 transpose of returns in registers,
an eight-lane inflation gather with one vector division, a prefetch 16 periods ahead)
were measured and deleted under issue 28's rule (keep them only if a target is missed
without them, compile time counted); the last commit that has them is 72deb41.
``python -m benchmarks.run`` (2-core AMD EPYC; 100,000 scenarios x 480 months x 4 assets,
summary pass, both variants interleaved in one process on the same chunks, 5 runs,
medians; load 1.06 before and 1.04 after; streaming floor 0.108 s): stored scenarios
0.154 s, 1.4x the floor, with them and 0.2 s, 1.9x, without; scenarios drawn in the
engine (i.i.d. bootstrap) 0.13 s, 1.2x, with and 0.177 s, 1.6x, without. Both stay
inside the 3x-of-floor targets without them, and they saved no compile time: cold (a
fresh process, an empty ``NUMBA_CACHE_DIR``, the first summary pass on stored and drawn
scenarios) 37.5 s of CPU time with them, 36.3 s without (an earlier measurement at load
10-11).

Scenarios drawn in the engine. With ``gen.kind != 0`` (``backtest.engine_gen.Draws``,
from a ``GeneratedScenarios``) no scenario array exists. For a bootstrap (kind 1), at
each slab every lane draws its history rows (a stationary or i.i.d. bootstrap on
counter-based random numbers keyed by (seed, scenario, period), ``backtest.counter_rng``;
integer arithmetic that vectorises) and ``_fill_rows`` fills the slab from those rows of
the history table (a few tens of KB, in cache) as ``_fill_slab`` fills it from stored
scenarios. For the lognormal (kind 2), ``_fill_normal`` draws each lane's standard
normals from the same counters (an inverse normal CDF), multiplies them by the fixed
covariance root and exponentiates, in pure arithmetic (``counter_rng``'s own log and
exp). For capital-market assumptions (kind 3), ``_fill_cma`` draws ``K + dof`` normals
(a Student-t's chi-square as the sum of ``dof`` squared normals), exponentiates, applies
the moment-matching affine map fitted once over the whole set
(``backtest.engine_gen.CmaScenarios``) and compounds the constant inflation. The
lognormal is bound by arithmetic, not memory: five normals and five exponentials a
scenario-month for 4 assets and inflation. Measured (``python -m
benchmarks.bench_simulator --end-to-end --n 20000 --chunk 10000 --repeat 1``, 7 December,
load about 2): drawn and simulated in the engine 6.0x the read floor, while numpy alone
(``default_rng().standard_normal``, its ziggurat, then ``np.exp``, no simulation) takes
19.3x to make the same count of numbers: the engine's whole run is 0.31x of numpy's
generation alone. The draws depend on the key only, so results are the same in any chunking, thread
count or backend, and the numpy twins (``engine_gen.row_indices``,
``engine_gen.lognormal_returns``) materialise the same numbers bit for bit. ``returns``
and ``inflation`` are then (1, 1, A) / (1, 1) placeholders of the stored route's types,
and ``gen``'s fields a kind does not read hold placeholders, so one compiled loop serves
every route.

It is used when the strategy has no smoothing overlay (a Python object the compiled code
cannot call) and no realised weights are asked for; ``simulate(..., engine="numpy")``
forces the reference. Nothing here validates input: ``simulate`` does that before calling.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from backtest.cashflows import (
    PAID_RTOL,
    W_CONSTANT,
    W_GUYTON,
    W_NONE,
    W_PERCENT,
    W_RMD,
    CashFlowRules,
)
from backtest.counter_rng import below, draw, draw_wide, exp_core, normal, scenario_key, threshold
from backtest.plan import RMD_LAST_AGE, UNIFORM_LIFETIME_TABLE

# (The withdrawal codes and PAID_RTOL are globals frozen into the on-disk cache of
# ``_loop``, which is invalidated only when this file changes: after changing one in
# ``backtest.cashflows``, touch this file too. The RMD table is not frozen: it travels as
# the ``rmd_div`` argument, see :func:`rmd_divisors`.)
__all__ = ["PAID_RTOL", "W_CONSTANT", "W_GUYTON", "W_NONE", "W_PERCENT", "W_RMD"]

#: Rebalancing codes.
R_NONE, R_CALENDAR, R_BAND_ABS, R_BAND_REL = 0, 1, 2, 3

#: Flow rows of the ``flows`` output, and the columns of ``summary`` (sums of the first
#: seven flows, then the wealth at retirement).
F_CONTRIB, F_PAID, F_WANTED, F_FEE, F_COST, F_GAIN, F_TURN, F_RETURN, F_LEAK = range(9)
N_FLOWS = 9
S_AT_RETIREMENT = 7


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


# ---------------------------------------------------------------- the lane transpose


def _fill_slab(returns, inflation, lane_s, t, t1, growth, infl):
    """Fill ``growth[u - t, a, j]`` (real growth factor) and ``infl[u - t, j]`` (1 +
    inflation) for periods ``t <= u < t1`` of the scenarios ``lane_s``; return how many
    returns were NaN (their growth is left NaN for the caller to fix).

    Scenario returns are stored scenario-major, ``returns[s, t, a]``, and the lanes want
    them lane-minor, ``growth[t, a, lane]``. Lanes go eight at a time, so each (period,
    asset) writes one whole cache line of ``growth``. It is a function of its own (not
    inlined) so that its registers are not spilled by the long main loop.
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


def _fill_drawn(gen, row_j, key_j, rows, lane_s, t, t1, growth, infl):
    """The slab fill of scenarios drawn in the engine (``gen.kind == DRAW_BOOTSTRAP``,
    ``backtest.engine_gen``): for periods ``t <= u < t1`` each lane draws its history row
    (a stationary bootstrap on counter-based draws keyed by (seed, scenario, period),
    ``backtest.counter_rng``), then the slab is filled from those rows of the table as
    ``_fill_slab`` fills it from stored scenarios (the same expression, so the numbers
    are those of the materialised twin, ``backtest.engine_gen.row_indices``, bit for bit).
    ``row_j`` carries each lane's row from one slab to the next; ``rows[u - t, j]`` holds
    the slab's rows.

    The draws are integer arithmetic only (multiply-shift for the row, an integer
    threshold for the block decision, a select for the wrap), so each lane loop
    vectorises; the table (a few tens of KB) stays in cache.
    """
    n_rows = gen.inflation.shape[0]
    n_u = np.uint64(n_rows)
    thr = threshold(gen.p_new)
    iid = gen.p_new >= 1.0
    s11 = np.uint64(11)
    for j in range(BLOCK):
        key_j[j] = scenario_key(gen.key, gen.offset + lane_s[j])
    for u in range(t, t1):
        uu = u - t
        if iid or u == 0:
            for j in range(BLOCK):
                row_j[j] = np.int64(below(draw(key_j[j], u, 1), n_u))
        else:
            for j in range(BLOCK):
                start = np.int64(below(draw(key_j[j], u, 1), n_u))
                nxt = row_j[j] + 1
                nxt = nxt if nxt < n_rows else 0
                row_j[j] = start if (draw(key_j[j], u, 0) >> s11) < thr else nxt
        for j in range(BLOCK):
            rows[uu, j] = np.uint64(row_j[j])
    return _fill_rows(gen.returns, gen.inflation, rows, t1 - t, growth, infl)


def _fill_rows(table_r, table_i, rows, n_u, growth, infl):
    """``_fill_slab`` of the table rows ``rows[uu, j]`` (``table_r`` (H, 1, A),
    ``table_i`` (H, 1)) for slab periods ``uu < n_u``: the same expression, each period's
    rows standing for the lanes' scenarios."""
    n_a = table_r.shape[2]
    inv8 = np.empty(8)
    for jg in range(0, BLOCK, 8):
        for uu in range(n_u):
            r_u = rows[uu]
            for jj in range(8):
                i_t = 1.0 + table_i[r_u[jg + jj], 0]
                infl[uu, jg + jj] = i_t
                inv8[jj] = 1.0 / i_t
            for a in range(n_a):
                for jj in range(8):
                    growth[uu, a, jg + jj] = (1.0 + table_r[r_u[jg + jj], 0, a]) * inv8[jj]
    return 0


def _lane_keys(gen, key_j, lane_s):
    """Each lane's scenario key (``counter_rng.scenario_key`` of its absolute scenario)."""
    for j in range(BLOCK):
        key_j[j] = scenario_key(gen.key, gen.offset + lane_s[j])


def _lane_normals(key_j, u, z):
    """Period ``u``'s standard normals of every lane into ``z`` (K, BLOCK): stream ``b``
    of ``K`` (``counter_rng.normal`` of ``draw_wide(key, u, b, K)``)."""
    n_z = z.shape[0]
    for b in range(n_z):
        for j in range(BLOCK):
            z[b, j] = normal(draw_wide(key_j[j], u, b, n_z))


def _lane_affine(x, c, coef, z, n):
    """``x[j] = c + sum_{b < n} coef[b] z[b, j]`` for every lane, summed left to right
    (the numpy twins' order, so the bits agree)."""
    for j in range(BLOCK):
        x[j] = c
    for b in range(n):
        k_b = coef[b]
        for j in range(BLOCK):
            x[j] = x[j] + k_b * z[b, j]


_lane_keys = numba.njit(inline="always", error_model="numpy")(_lane_keys)
_lane_normals = numba.njit(inline="always", error_model="numpy")(_lane_normals)
_lane_affine = numba.njit(inline="always", error_model="numpy")(_lane_affine)


def _fill_normal(gen, key_j, lane_s, t, t1, growth, infl):
    """The slab fill of lognormal scenarios drawn in the engine (``gen.kind ==
    DRAW_PARAMETRIC``, ``backtest.engine_gen.ParametricScenarios``): for periods ``t <= u
    < t1`` each lane draws ``k = gen.root.shape[1]`` standard normals (``counter_rng.normal``
    of streams ``0 .. k - 1``), forms each variable's log return ``gen.mean[a] + sum_b
    gen.root[a, b] z_b`` (left to right), its return ``exp_core(x) - 1``, and fills the slab
    as ``_fill_slab`` does from stored returns (inflation is the last row). The same
    operations in the same order as the numpy twin, ``engine_gen.lognormal_returns``, in
    arithmetic that is exact or correctly rounded, so the numbers agree bit for bit."""
    n_a = gen.root.shape[0] - 1
    n_z = gen.root.shape[1]
    z = np.empty((n_z, BLOCK))
    x = np.empty(BLOCK)
    inv = np.empty(BLOCK)
    _lane_keys(gen, key_j, lane_s)
    for u in range(t, t1):
        uu = u - t
        _lane_normals(key_j, u, z)
        for a in range(n_a, -1, -1):  # inflation (the last row) first
            _lane_affine(x, gen.mean[a], gen.root[a], z, n_z)
            if a == n_a:
                for j in range(BLOCK):
                    i_t = 1.0 + (exp_core(x[j]) - 1.0)
                    infl[uu, j] = i_t
                    inv[j] = 1.0 / i_t
            else:
                for j in range(BLOCK):
                    growth[uu, a, j] = (1.0 + (exp_core(x[j]) - 1.0)) * inv[j]
    return 0


def _fill_cma(gen, key_j, lane_s, t, t1, growth, infl):
    """The slab fill of capital-market-assumption scenarios drawn in the engine
    (``gen.kind == DRAW_CMA``, ``backtest.engine_gen.CmaScenarios``): for periods ``t <=
    u < t1`` each lane draws ``K + dof`` standard normals (streams of that width; with
    ``dof > 0`` the first K are scaled by ``sqrt((dof - 2) / q)``, ``q`` the sum of the
    last ``dof`` squared), forms each of the K raw real returns ``exp_core(gen.mean[b] +
    sum gen.root[b, :] z) - 1``, moment-matches them (``y_a = gen.shift[a] + sum_b raw_b
    gen.post[b, a]``), compounds the constant inflation ``gen.level`` into the nominal
    return and fills the slab as ``_fill_slab`` does from stored returns. The same
    operations in the same order as the numpy twin (``engine_gen.cma_raw_returns``,
    ``engine_gen.cma_matched``, ``CmaScenarios._draw_array``), so the bits agree."""
    n_k = gen.root.shape[0]
    n_a = gen.shift.shape[0]
    n_chi = gen.dof
    n_z = n_k + n_chi
    z = np.empty((n_z, BLOCK))
    raw = np.empty((n_k, BLOCK))
    x = np.empty(BLOCK)
    g_i = 1.0 + gen.level
    inv_i = 1.0 / g_i
    scale = np.float64(n_chi) - 2.0
    _lane_keys(gen, key_j, lane_s)
    for u in range(t, t1):
        uu = u - t
        _lane_normals(key_j, u, z)
        if n_chi > 0:
            for j in range(BLOCK):
                x[j] = 0.0
            for b in range(n_k, n_z):
                for j in range(BLOCK):
                    x[j] = x[j] + z[b, j] * z[b, j]
            for j in range(BLOCK):
                x[j] = np.sqrt(scale / x[j])
            for b in range(n_k):
                for j in range(BLOCK):
                    z[b, j] = z[b, j] * x[j]
        for a in range(n_k):
            _lane_affine(x, gen.mean[a], gen.root[a], z, n_k)
            for j in range(BLOCK):
                raw[a, j] = exp_core(x[j]) - 1.0
        for j in range(BLOCK):
            infl[uu, j] = g_i
        for a in range(n_a):
            _lane_affine(x, gen.shift[a], gen.post[:, a], raw, n_k)
            for j in range(BLOCK):
                growth[uu, a, j] = (1.0 + ((1.0 + x[j]) * g_i - 1.0)) * inv_i
    return 0


_fill_rows = numba.njit(cache=True, nogil=True, error_model="numpy", inline="never")(_fill_rows)
_fill_drawn = numba.njit(cache=True, nogil=True, error_model="numpy", inline="never")(_fill_drawn)
_fill_normal = numba.njit(cache=True, nogil=True, error_model="numpy", inline="never")(_fill_normal)
_fill_cma = numba.njit(cache=True, nogil=True, error_model="numpy", inline="never")(_fill_cma)

_step = numba.njit(inline="always", error_model="numpy")

#: Rows of the lane state ``st``, one (N_ROWS + 3 n_w, BLOCK) array per thread. Every
#: per-lane number lives in this one array, so the compiler sees that two rows never
#: overlap and vectorises the fused lane loops across scenarios without run-time alias
#: checks (with one array per quantity it could not, and each step cost a pass of loads
#: and stores per asset). After the fixed rows come the holdings (``n_w`` rows from
#: ``N_ROWS``), the target weights and the band rebalancing's new holdings.
(
    BAL,  # balance during the period, real USD
    WS,  # pro-rata scaling of the holdings not yet applied
    W_END,  # balance at the end of the period (the start of the next), real USD
    W_RULE,  # the rule's withdrawal, real USD at the period's start
    W_FLOOR,  # the RMD floor, real USD (0 without one)
    TRADED,  # value traded by this period's rebalancing, real USD
    BEFORE,  # holdings before this period's returns
    AFTER,  # holdings after them
    CT,  # this period's contribution, real USD
    LK,  # this period's leakage share, decimal
    C_END,  # end-of-period contribution, real USD
    F_J,  # adaptive targets: interpolation fraction
    ANNUAL_W,  # guardrails / RMD rule: this year's withdrawal, real USD a year
    YEAR_GROWTH,  # guardrails: growth of the portfolio since the year started
    YEAR_INFL,  # guardrails: inflation since the year started
    RET_BAL,  # balance at retirement, real USD
    RMD_ANNUAL,  # RMD floor: this year's minimum, real USD a year
    PRICE,  # price level since the start (1 + cumulative inflation)
    PRICE_RET,  # price level at retirement
) = range(19)
#: The period's flows, rows ``FL + F_*`` (``F_CONTRIB`` .. ``F_LEAK``).
FL = PRICE_RET + 1
#: Running totals, rows ``TOT + k``: the first seven flows, then wealth at retirement.
TOT = FL + N_FLOWS
N_ROWS = TOT + 8


def asset_width(n_assets: int) -> int:
    """Asset rows the loop is compiled for: 8 for 1 to 8 assets, then ``n_assets``
    rounded up to a multiple of 8 (16 for 9 to 16, ...).

    The width is a compile-time constant (the length of a tuple argument), so each lane
    loop's inner loop over assets unrolls and the lane loop vectorises. Padding assets
    hold nothing, weigh nothing and grow by 1, so they add exact zeros: results do not
    depend on the width. One width for every study of up to 8 assets means one compiled
    loop, so a user never compiles twice (issue 28): a second width cost 35 s of CPU
    time to compile, and width 8 instead of 4 costs about a tenth more run time on 2 to
    4 assets (figures, command and load in the module docstring).
    """
    return max(8, -(-n_assets // 8) * 8)


@_step
def _read_slab(
    returns,
    inflation,
    gen,
    target,
    lane_s,
    mj,
    t,
    n_t,
    growth,
    infl,
    first_bad,
    row_j,
    key_j,
    rows,
):
    """Read the next SLAB periods of the block's returns once (real growth factors,
    lane-minor); the rare slab with a gap is fixed up after: growth 1, and the first
    period where a held asset has no data is noted per lane. Scenarios drawn in the
    engine (``gen.kind != 0``) are drawn instead (``_fill_drawn``, ``_fill_normal``; they
    have no gap)."""
    t1 = min(n_t, t + SLAB)
    if gen.kind == 2:  # engine_gen.DRAW_PARAMETRIC
        _fill_normal(gen, key_j, lane_s, t, t1, growth, infl)
        return
    if gen.kind == 3:  # engine_gen.DRAW_CMA
        _fill_cma(gen, key_j, lane_s, t, t1, growth, infl)
        return
    if gen.kind != 0:
        _fill_drawn(gen, row_j, key_j, rows, lane_s, t, t1, growth, infl)
        return
    n_a = returns.shape[2]
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
def _copy_targets(target, mj, shared, t, st, tw0):
    """This period's target weights per lane (rows ``tw0 + a``); one shared row is
    copied only when it changes."""
    n_a = target.shape[2]
    if shared:
        same = t > 0
        for a in range(n_a):
            same = same and target[0, t, a] == target[0, t - 1, a]
        if not same:
            for a in range(n_a):
                w_t = target[0, t, a]
                for j in range(BLOCK):
                    st[tw0 + a, j] = w_t
    else:
        for a in range(n_a):
            for j in range(BLOCK):
                st[tw0 + a, j] = target[mj[j], t, a]


@_step
def _state_targets(grid, by_state, t, st, k_j, tw0):
    """Adaptive targets: ``by_state[t]`` interpolated linearly over ``grid[t]`` at each
    lane's real wealth (row ``W_END``), clamped to the grid's ends, as
    ``backtest.simulate.state_weights`` (the same expression, so both engines agree).

    The node below each lane's wealth (``k_j``: the last ``k`` with ``grid[t, k] <=
    wealth``, 0 below the grid) is found by a binary search whose steps do not depend on
    the data: each step halves the same interval length for every lane and moves a lane's
    base by a select, not a branch. So the lanes run in lock step, one short lane loop per
    step (gather, compare, select) that LLVM vectorises, and nothing mispredicts. (A
    branching search per lane cost about 80 ns a lookup on the benchmark's 401-node table,
    4.4x the whole deterministic kernel: ``benchmarks/bench_adaptive.py``.) Row ``F_J``
    holds each lane's interpolation fraction.
    """
    n_s = grid.shape[1]
    n_a = by_state.shape[2]
    g = grid[t]
    for j in range(BLOCK):
        k_j[j] = 0
    n = np.uint64(n_s)
    one = np.uint64(1)
    while n > one:  # the answer lies in [k_j, k_j + n)
        half = n >> one
        for j in range(BLOCK):
            b = k_j[j]
            k_j[j] = b + half if g[b + half] <= st[W_END, j] else b
        n -= half
    top = np.uint64(n_s - 2)
    for j in range(BLOCK):
        k = min(k_j[j], top)
        k_j[j] = k
        g0 = g[k]
        f = (st[W_END, j] - g0) / (g[k + one] - g0)
        st[F_J, j] = min(max(f, 0.0), 1.0)
    w = by_state[t]
    for a in range(n_a):
        for j in range(BLOCK):
            k = k_j[j]
            w0 = w[k, a]
            st[tw0 + a, j] = w0 + st[F_J, j] * (w[k + one, a] - w0)


@_step
def _start_flows(st, n_w, c_start, any_ct, any_lk, clear_fee, clear_cost, clear_turn, has_leak):
    """The period's flows start at zero; then leakage (a share of the balance cashed
    out), then the start-of-period contribution (buying the target mix). Holdings are
    ``h * ws`` (``ws``: pro-rata scalings not yet applied); ``BAL`` is their sum, carried
    from the previous period's ``W_END``."""
    h0 = N_ROWS
    tw0 = h0 + n_w
    for j in range(BLOCK):
        st[BAL, j] = st[W_END, j]
        st[FL + F_CONTRIB, j] = 0.0
        st[FL + F_PAID, j] = 0.0
        st[FL + F_WANTED, j] = 0.0
        st[C_END, j] = 0.0
        if clear_fee:
            st[FL + F_FEE, j] = 0.0
        if clear_cost:
            st[FL + F_COST, j] = 0.0
        if clear_turn:
            st[FL + F_TURN, j] = 0.0
        if has_leak:
            st[FL + F_LEAK, j] = 0.0
    if any_lk:
        for j in range(BLOCK):
            keep = 1.0 - st[LK, j]
            st[FL + F_LEAK, j] = st[BAL, j] * st[LK, j]
            st[WS, j] *= keep
            st[BAL, j] *= keep
    if c_start and any_ct:
        for j in range(BLOCK):
            w = st[WS, j]
            c = st[CT, j]
            b = 0.0
            for a in range(n_w):
                v = st[h0 + a, j] * w + c * st[tw0 + a, j]
                st[h0 + a, j] = v
                b += v
            st[BAL, j] = b
            st[WS, j] = 1.0
            st[FL + F_CONTRIB, j] += c


@_step
def _decide_withdrawal(rules, rmd_div, t, lane_s, s_step, st):
    """What the rule asks for this period, real USD at the period's start (row
    ``W_RULE``), and the RMD floor (``W_FLOOR``, 0 without one). Decisions shared by all
    lanes are taken outside the lane loops."""
    ppy = rules.periods_per_year
    w_code = rules.withdrawal_code
    k = t - rules.retirement_period
    year_start = k % ppy == 0
    age = rules.ages[t]
    if k == 0:
        for j in range(BLOCK):
            st[RET_BAL, j] = st[BAL, j]
            st[PRICE_RET, j] = st[PRICE, j]
    if w_code == W_CONSTANT:
        if s_step == 0:  # one schedule for every lane
            sp = rules.spending[0, t]
            if rules.spending_per_unit_of_balance:
                for j in range(BLOCK):
                    st[W_RULE, j] = sp * st[RET_BAL, j]
            else:
                for j in range(BLOCK):
                    st[W_RULE, j] = sp
        elif rules.spending_per_unit_of_balance:
            for j in range(BLOCK):
                st[W_RULE, j] = rules.spending[lane_s[j], t] * st[RET_BAL, j]
        else:
            for j in range(BLOCK):
                st[W_RULE, j] = rules.spending[lane_s[j], t]
        if not rules.spending_indexed:
            for j in range(BLOCK):
                st[W_RULE, j] = st[W_RULE, j] * st[PRICE_RET, j] / st[PRICE, j]
    elif w_code == W_PERCENT:
        for j in range(BLOCK):
            st[W_RULE, j] = rules.rate / ppy * st[BAL, j]
    elif w_code == W_GUYTON:
        w_rate = rules.rate
        for j in range(BLOCK):
            b_j = st[BAL, j]
            aw = st[ANNUAL_W, j]
            if k == 0:
                aw = w_rate * st[RET_BAL, j]
            elif year_start:
                rate_now = aw / b_j if b_j > 0 else np.inf
                if st[YEAR_GROWTH, j] < 1.0 and rate_now > w_rate:
                    aw = aw / st[YEAR_INFL, j]
                rate_now = aw / b_j if b_j > 0 else np.inf
                years_left = rules.end_age - age
                if (
                    rate_now > rules.gk_upper_guard * w_rate
                    and years_left > rules.gk_preservation_off_years
                ):
                    aw = aw * (1 - rules.gk_adjustment)
                if rate_now < rules.gk_lower_guard * w_rate:
                    aw = aw * (1 + rules.gk_adjustment)
            st[ANNUAL_W, j] = aw
            st[W_RULE, j] = aw / ppy
    elif w_code == W_RMD:
        if year_start:
            div = rmd_div[min(int(np.floor(age)), 125)]
            if div == div:  # the table has a divisor from its first age (NaN before)
                for j in range(BLOCK):
                    st[ANNUAL_W, j] = st[BAL, j] / div
            else:
                for j in range(BLOCK):
                    st[ANNUAL_W, j] = st[BAL, j] * rules.pre_table_rate
        for j in range(BLOCK):
            st[W_RULE, j] = st[ANNUAL_W, j] / ppy
    if rules.rmd_floor and age >= rules.rmd_start_age:
        if year_start:
            div = rmd_div[min(int(np.floor(age)), 125)]
            for j in range(BLOCK):
                st[RMD_ANNUAL, j] = st[BAL, j] / div
        for j in range(BLOCK):
            st[W_FLOOR, j] = st[RMD_ANNUAL, j] / ppy
    else:
        for j in range(BLOCK):
            st[W_FLOOR, j] = 0.0
    if year_start:
        for j in range(BLOCK):
            st[YEAR_GROWTH, j] = 1.0
            st[YEAR_INFL, j] = 1.0


@_step
def _pay(frac, t, deflate, i_t, st, bal_row, ruin_j):
    """Pay ``frac`` of the period's withdrawal (at least its RMD floor share) from the
    balance in row ``bal_row``, sold pro rata (scaling ``WS``); a shortfall is ruin.
    With ``deflate`` (a nominal amount paid at the period's end) the rule's amount is
    worth ``1 / i_t`` (1 + inflation) of its value at the start. (Written without
    branches around a division, the denominator made safe first and the result selected
    after, so that LLVM vectorises it.)"""
    for j in range(BLOCK):
        b_j = st[bal_row, j]
        w_j = st[W_RULE, j] / i_t[j] if deflate else st[W_RULE, j]
        amount = frac * max(w_j, st[W_FLOOR, j])
        paid = amount if amount < b_j else b_j
        short = amount - paid > PAID_RTOL * amount
        ruin_j[j] = t if short & (ruin_j[j] < 0) else ruin_j[j]
        live = b_j > 0
        left = b_j - paid
        scale = left / (b_j if live else 1.0)
        st[WS, j] *= scale if live else 0.0
        st[bal_row, j] = left if live else 0.0
        st[FL + F_PAID, j] += paid
        st[FL + F_WANTED, j] += amount


@_step
def _rebalance_calendar(st, n_w):
    """Every lane trades back to the target mix (the sleeve band only applies between
    rebalancing dates)."""
    h0 = N_ROWS
    tw0 = h0 + n_w
    for j in range(BLOCK):
        b = st[BAL, j]
        w = st[WS, j]
        traded = 0.0
        for a in range(n_w):
            nh = b * st[tw0 + a, j]
            traded += abs(nh - st[h0 + a, j] * w)
            st[h0 + a, j] = nh
        st[TRADED, j] = traded
        st[WS, j] = 1.0


@_step
def _rebalance_bands(trade, banded, st, n_w, due):
    """Band rebalancing (any weight outside its tolerance trades the lane back to
    target), then the sleeve's own band for lanes that did not trade."""
    h0 = N_ROWS
    tw0 = h0 + n_w
    nh0 = tw0 + n_w
    sleeve_i = trade.sleeve_index
    for j in range(BLOCK):
        w = st[WS, j]
        b = 0.0
        for a in range(n_w):
            v = st[h0 + a, j] * w
            st[h0 + a, j] = v
            b += v
        st[BAL, j] = b
        st[WS, j] = 1.0
        due[j] = False
    if banded:
        relative = trade.rebalance_code == R_BAND_REL
        for j in range(BLOCK):
            safe = st[BAL, j] if st[BAL, j] > 0 else 1.0
            worst = 0.0
            for a in range(n_w):
                w_t = st[tw0 + a, j]
                dev = abs(st[h0 + a, j] / safe - w_t)
                if relative:
                    if w_t > 0:
                        dev = dev / w_t
                    elif dev > 0:
                        dev = np.inf
                worst = max(worst, dev)
            due[j] = worst > trade.band
    for j in range(BLOCK):
        for a in range(n_w):
            st[nh0 + a, j] = st[BAL, j] * st[tw0 + a, j] if due[j] else st[h0 + a, j]
    if sleeve_i >= 0:
        for j in range(BLOCK):
            if due[j]:
                continue
            b = st[BAL, j]
            safe = b if b > 0 else 1.0
            s_t = st[tw0 + sleeve_i, j]
            s_w = st[nh0 + sleeve_i, j] / safe
            if s_t > 0 and (s_w < trade.sleeve_lower * s_t or s_w > trade.sleeve_upper * s_t):
                others = b - st[nh0 + sleeve_i, j]
                sc = b * (1 - s_t) / others if others > 0 else 1.0
                for a in range(n_w):
                    st[nh0 + a, j] *= sc
                st[nh0 + sleeve_i, j] = b * s_t
    for j in range(BLOCK):
        traded = 0.0
        for a in range(n_w):
            traded += abs(st[nh0 + a, j] - st[h0 + a, j])
            st[h0 + a, j] = st[nh0 + a, j]
        st[TRADED, j] = traded


@_step
def _trading_costs(cost_rate, st):
    """Transaction cost on the value traded, taken pro rata; one-way turnover."""
    if cost_rate > 0:
        for j in range(BLOCK):
            b_j = st[BAL, j]
            cost = cost_rate * st[TRADED, j]
            live = b_j > 0
            safe = b_j if live else 1.0
            scale = (b_j - cost) / safe
            turn = st[TRADED, j] / (2 * safe)
            st[WS, j] = scale if live else 0.0
            st[FL + F_COST, j] = cost if cost < b_j else b_j
            st[FL + F_TURN, j] = turn if live else 0.0
    else:
        for j in range(BLOCK):
            b_j = st[BAL, j]
            live = b_j > 0
            turn = st[TRADED, j] / (2 * (b_j if live else 1.0))
            st[FL + F_TURN, j] = turn if live else 0.0


@_step
def _grow(st, n_w, g_t, keep):
    """Returns, fees and end-of-period contributions in one pass over the holdings."""
    h0 = N_ROWS
    tw0 = h0 + n_w
    for j in range(BLOCK):
        w = st[WS, j]
        c = st[C_END, j]
        before = 0.0
        after = 0.0
        w_end = 0.0
        for a in range(n_w):
            v = st[h0 + a, j] * w
            before += v
            v *= g_t[a, j]
            after += v
            v = v * keep + c * st[tw0 + a, j]
            st[h0 + a, j] = v
            w_end += v
        st[BEFORE, j] = before
        st[AFTER, j] = after
        st[W_END, j] = w_end
        st[WS, j] = 1.0


@_step
def _period_return(st, n_w, g_t, i_t):
    """The period's nominal portfolio return: growth of what was held, or of the target
    mix when the account is empty (as in the reference loop)."""
    tw0 = N_ROWS + n_w
    for j in range(BLOCK):
        live = st[BEFORE, j] > 0
        r_j = st[AFTER, j] / (st[BEFORE, j] if live else 1.0)
        if not live:  # rare: an empty account
            r_j = 0.0
            for a in range(n_w):
                r_j += st[tw0 + a, j] * g_t[a, j]
        p_r = r_j * i_t[j] - 1.0
        st[FL + F_RETURN, j] = p_r
        st[YEAR_GROWTH, j] *= 1.0 + p_r
        st[YEAR_INFL, j] *= i_t[j]


@_step
def _close_period(st, i_t, fee_rate):
    """Gains, the price level, end-of-period contributions and fees of the period."""
    for j in range(BLOCK):
        st[FL + F_GAIN, j] = st[AFTER, j] - st[BEFORE, j]
        st[PRICE, j] *= i_t[j]
        st[FL + F_CONTRIB, j] += st[C_END, j]
        if fee_rate > 0:
            st[FL + F_FEE, j] = st[AFTER, j] * fee_rate


@_step
def _add_to_totals(st):
    """Running totals of the first seven flows."""
    for j in range(BLOCK):
        for k in range(7):
            st[TOT + k, j] += st[FL + k, j]


def _loop(
    returns,  # (n, T, A) nominal, NaN where no data (a placeholder when gen draws)
    inflation,  # (n, T)
    gen,  # backtest.engine_gen.Draws: kind 0 reads returns/inflation, else draws
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
    width,  # a tuple of asset_width(A) zeros: its length is the compiled asset width
):
    n, n_t, n_a = summary.shape[0], target.shape[1], target.shape[2]
    n_w = len(width)  # a compile-time constant
    h0 = N_ROWS
    tw0 = h0 + n_w
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
        st = np.zeros((N_ROWS + 3 * n_w, BLOCK))  # the lane state (padding rows stay 0)
        growth = np.ones((SLAB, n_w, BLOCK))  # real growth factor (padding rows stay 1)
        infl = np.empty((SLAB, BLOCK))  # 1 + inflation
        mj = np.empty(BLOCK, dtype=np.int64)  # target row of each lane
        k_j = np.empty(BLOCK, dtype=np.uint64)  # adaptive: state-table node of each lane
        lane_s = np.empty(BLOCK, dtype=np.uint64)  # scenario of each lane
        first_bad = np.empty(BLOCK, dtype=np.int64)
        row_j = np.zeros(BLOCK, dtype=np.int64)  # drawn scenarios: each lane's history row
        key_j = np.empty(BLOCK, dtype=np.uint64)  # drawn scenarios: each lane's key
        rows = np.empty((SLAB, BLOCK), dtype=np.uint64)  # drawn scenarios: the slab's rows
        due = np.empty(BLOCK, dtype=np.bool_)
        ruin_j = np.empty(BLOCK, dtype=np.int64)
        for blk in range(b_lo, b_hi):
            s0 = blk * BLOCK
            nb = min(BLOCK, n - s0)  # lanes past the end repeat the block's first scenario
            for j in range(BLOCK):
                s_j = s0 + j if j < nb else s0
                lane_s[j] = s_j
                mj[j] = s_j * m_step
                first_bad[j] = 0
                ruin_j[j] = -1
                for k in range(8):
                    st[TOT + k, j] = 0.0
                st[ANNUAL_W, j] = 0.0
                st[YEAR_GROWTH, j] = 1.0
                st[YEAR_INFL, j] = 1.0
                st[RET_BAL, j] = 0.0
                st[RMD_ANNUAL, j] = 0.0
                st[PRICE, j] = 1.0
                st[PRICE_RET, j] = 1.0
                st[W_END, j] = init
                st[FL + F_LEAK, j] = 0.0
                if record >= 1 and j < nb:
                    wealth[s0 + j, 0] = init
            if n_t > 0:
                if adaptive:  # period 0's targets at the initial balance (W_END)
                    _state_targets(grid, by_state, 0, st, k_j, tw0)
                else:
                    for a in range(n_a):
                        for j in range(BLOCK):
                            st[tw0 + a, j] = target[mj[j], 0, a]
                for j in range(BLOCK):
                    w_end = 0.0
                    for a in range(n_w):
                        v = init * st[tw0 + a, j]
                        st[h0 + a, j] = v
                        w_end += v
                    st[W_END, j] = w_end
                    st[WS, j] = 1.0
            for t in range(n_t):
                tt = t % SLAB
                if tt == 0:
                    _read_slab(
                        returns,
                        inflation,
                        gen,
                        target,
                        lane_s,
                        mj,
                        t,
                        n_t,
                        growth,
                        infl,
                        first_bad,
                        row_j,
                        key_j,
                        rows,
                    )
                if not adaptive:
                    _copy_targets(target, mj, m_step == 0, t, st, tw0)
                elif t > 0:  # by the real wealth at the start of period t, before its flows
                    _state_targets(grid, by_state, t, st, k_j, tw0)
                working = t < t_ret
                any_ct = False
                any_lk = False
                if working:
                    if c_step == 0:
                        c_t = rules.contributions[0, t]
                        for j in range(BLOCK):
                            st[CT, j] = c_t
                        any_ct = c_t > 0
                    else:
                        for j in range(BLOCK):
                            c_j = rules.contributions[lane_s[j], t]
                            st[CT, j] = c_j
                            any_ct |= c_j > 0
                    if has_leak:
                        for j in range(BLOCK):
                            l_j = rules.leakage[lane_s[j] * l_step, t]
                            st[LK, j] = l_j
                            any_lk |= l_j > 0
                paying = withdraws and not working
                calendar = t > 0 and r_code == R_CALENDAR and t % trade.every_periods == 0
                banded = t > 0 and r_code >= R_BAND_ABS
                trades = calendar or banded or sleeve_i >= 0
                _start_flows(
                    st,
                    n_w,
                    c_start,
                    any_ct,
                    any_lk,
                    not fee_rate > 0,
                    not (trades and cost_rate > 0),
                    not trades,
                    has_leak,
                )
                # ---- the withdrawal this period asks for, and its start share (with
                # nothing wanted a payment is the identity: skipped before retirement)
                if paying:
                    _decide_withdrawal(rules, rmd_div, t, lane_s, s_step, st)
                    if rules.start_fraction > 0:
                        _pay(rules.start_fraction, t, False, infl[tt], st, BAL, ruin_j)
                # ---- rebalancing (a period without trades leaves everything as is)
                if calendar:
                    _rebalance_calendar(st, n_w)
                elif banded or sleeve_i >= 0:
                    _rebalance_bands(trade, banded, st, n_w, due)
                if trades:
                    _trading_costs(cost_rate, st)
                # ---- returns, fees and end-of-period contributions in one pass
                if working and any_ct and not c_start:
                    for j in range(BLOCK):
                        st[C_END, j] = st[CT, j]
                _grow(st, n_w, growth[tt], 1.0 - fee_rate)
                if need_rr:
                    _period_return(st, n_w, growth[tt], infl[tt])
                _close_period(st, infl[tt], fee_rate)
                # ---- end-of-period withdrawal
                if paying and rules.start_fraction < 1:
                    _pay(1.0 - rules.start_fraction, t, nominal, infl[tt], st, W_END, ruin_j)
                _add_to_totals(st)
                if t + 1 == t_ret:
                    for j in range(BLOCK):
                        st[TOT + S_AT_RETIREMENT, j] = st[W_END, j]
                if record >= 1:
                    for j in range(nb):
                        wealth[s0 + j, t + 1] = st[W_END, j]
                if record == 2:
                    for k in range(N_FLOWS):
                        for j in range(nb):
                            flows[k, s0 + j, t] = st[FL + k, j]
            for j in range(nb):
                s = s0 + j
                bad[s] = first_bad[j]
                if t_ret == 0:
                    st[TOT + S_AT_RETIREMENT, j] = init
                if record == 0:
                    wealth[s, 0] = st[W_END, j]
                ruin[s] = ruin_j[j]
                for k in range(8):
                    summary[s, k] = st[TOT + k, j]


_compiled = numba.njit(parallel=True, cache=True, fastmath=False, nogil=True, error_model="numpy")(
    _loop
)


def run_loop(*args) -> None:
    """Run the compiled loop; arguments as in ``_loop`` up to ``bad`` (outputs filled in
    place; the asset width is the target's, ``args[3]``).

    The work is split into 16 chunks per thread, handed out one at a time (chunk size
    1), so a thread slowed by other work on a shared machine does not hold the rest up
    as it would with a static split.
    """
    width = (0,) * asset_width(args[3].shape[2])
    previous = numba.set_parallel_chunksize(1)
    try:
        _compiled(*args, 16 * numba.get_num_threads(), width)
    finally:
        numba.set_parallel_chunksize(previous)


def rmd_divisors() -> np.ndarray:
    """Uniform Lifetime Table divisors indexed by whole age 0..125, years (NaN before the
    table's first age, ``backtest.plan.RMD_FIRST_AGE``; ages past its last age use the
    last divisor). The kernel reads the first RMD age from the NaNs, so the table is
    its only definition."""
    out = np.full(126, np.nan)
    for age, divisor in UNIFORM_LIFETIME_TABLE.items():
        out[age] = divisor
    out[RMD_LAST_AGE + 1 :] = UNIFORM_LIFETIME_TABLE[RMD_LAST_AGE]
    return out
