"""Counter-based random numbers keyed by (seed, scenario, period), twice: numba and numpy.

A draw is a pure function of its key, never of a stream position, so a scenario's
numbers are the same whatever chunk, thread, process or backend computes them, and
whether they are drawn inside the compiled loop (``backtest.kernel``) or materialised
in numpy (``backtest.engine_gen``). The construction is SplitMix64's (Steele, Lea and
Flood 2014): its finaliser ``mix64`` is a bijection of 64-bit words with full
avalanche, applied to

* ``seed_key(seed) = mix64(seed ^ SEED_SALT)``;
* ``scenario_key(k, s) = mix64(k + (s + 1) * GOLDEN)`` (distinct for distinct ``s``);
* ``draw(key, t, stream) = mix64(key + (2 t + stream + 1) * PERIOD_STEP)``, ``stream``
  0 or 1 (two independent numbers per period; the bootstraps);
* ``draw_wide(key, t, stream, width)``, the same with ``width`` numbers per period,
  ``stream`` 0 to ``width - 1`` (counter ``width t + stream + 1``; ``draw`` is
  ``width = 2``): the parametric generator reads one per normal it needs (``k`` =
  assets + inflation), so no counter is read twice;

``uniform = (draw >> 11) * 2**-53`` is a uniform in [0, 1) with 53 random bits;
``below(draw, n)`` an integer in [0, n) by multiply-shift, and ``(draw >> 11) <
threshold(p)`` the event ``uniform < p`` tested without a float (the kernel's lane loops
stay integer and vectorise). All
arithmetic is on uint64 and wraps modulo 2**64 in both implementations, so the two give
identical bits (``tests/backtest/test_engine_generation.py`` checks it).

Standard normals (``normal``): Wichura's (1988) algorithm AS241 (the inverse normal CDF
to about 1e-16, as in Python's ``statistics.NormalDist.inv_cdf``) of the midpoint
uniform ``((draw >> 12) + 0.5) * 2**-52`` (52 bits, so the sum is exact; in (0, 1),
never 0 or 1; ``|z| <= 8.3``), so each normal costs one counter. Its tails need a
logarithm, and the lognormal an exponential: the math libraries' ``log`` and ``exp``
differ in the last bit between numba (glibc, scalar) and numpy (its own SIMD loops), in
about 0.3 % and 5 % of the arguments tried here, so ``log_core`` and ``exp_core`` are
fdlibm's algorithms (Sun Microsystems 1993: ``e_log.c``, ``e_exp.c``; under 1 ulp)
written with ``floor``, ``sqrt``, the four operations and bit moves (``frexp`` and
``ldexp`` as exponent-field arithmetic) only, each of them exact or correctly rounded,
in the same order in both implementations, and numba compiles them without fast-math
(no fused multiply-add contraction). The numba and numpy normals and exponentials
therefore have the same bits (``tests/backtest/test_engine_generation.py`` checks it).
Nothing jumps: the tail's ``sqrt(-log p)`` is computed for every number and each
region's coefficients are picked per number, so the kernel's lane loops of normals
vectorise (one normal costs about a division, a square root and fifty other
operations: it dominates the lognormal's time in the engine).

The numba functions are compiled into ``backtest.kernel._loop``, whose on-disk cache is
invalidated only when ``backtest/kernel.py`` changes: after changing anything here,
touch that file too.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core.extending import intrinsic

from backtest.errors import DataError
from backtest.types import FloatArray

#: SplitMix64's increment (2**64 / golden ratio, odd).
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
#: Step between the counters of successive draws of one scenario (odd).
PERIOD_STEP = np.uint64(0xD1B54A32D192ED03)
#: XORed into the user's seed before mixing (so seed 0 is not the all-zero word).
SEED_SALT = np.uint64(0x5851F42D4C957F2D)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_S32 = np.uint64(32)
_ONE, _TWO = np.uint64(1), np.uint64(2)
#: 2**-53: the spacing of the uniforms.
UNIT = 1.0 / 9007199254740992.0
_S12, _S52 = np.uint64(12), np.uint64(52)
_MANT = np.uint64((1 << 52) - 1)  # a float64's 52 fraction bits
_HALF_EXP = np.uint64(1022 << 52)  # the exponent bits of [0.5, 1)
#: 2**-52: the spacing of the normals' midpoint uniforms (52 bits, so ``m + 0.5`` is exact).
UNIT52 = 1.0 / 4503599627370496.0

# fdlibm (e_log.c, e_exp.c): ln 2 split in two, and the polynomial coefficients
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_SQRT_HALF = 0.70710678118654752440
_LG = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)
_P = (
    1.66666666666666019037e-01,
    -2.77777777770155933842e-03,
    6.61375632143793436117e-05,
    -1.65339022054652515390e-06,
    4.13813679705723846039e-08,
)
# Wichura's AS241 (PPND16), highest power first: |q| <= 0.425, then r <= 5, then r > 5
_A = (2509.0809287301226727, 33430.575583588128105, 67265.770927008700853,
      45921.953931549871457, 13731.693765509461125, 1971.5909503065514427,
      133.14166789178437745, 3.387132872796366608)  # fmt: skip
_B = (5226.495278852854561, 28729.085735721942674, 39307.89580009271061,
      21213.794301586595867, 5394.1960214247511077, 687.1870074920579083,
      42.313330701600911252, 1.0)  # fmt: skip
_C = (7.7454501427834140764e-4, 0.0227238449892691845833, 0.24178072517745061177,
      1.27045825245236838258, 3.64784832476320460504, 5.7694972214606914055,
      4.6303378461565452959, 1.42343711074968357734)  # fmt: skip
_D = (1.05075007164441684324e-9, 5.475938084995344946e-4, 0.0151986665636164571966,
      0.14810397642748007459, 0.68976733498510000455, 1.6763848301838038494,
      2.05319162663775882187, 1.0)  # fmt: skip
_E = (2.01033439929228813265e-7, 2.71155556874348757815e-5, 0.0012426609473880784386,
      0.026532189526576123093, 0.29656057182850489123, 1.7848265399172913358,
      5.4637849111641143699, 6.6579046435011037772)  # fmt: skip
_F = (2.04426310338993978564e-15, 1.4215117583164458887e-7, 1.8463183175100546818e-5,
      7.868691311456132591e-4, 0.0148753612908506148525, 0.13692988092273580531,
      0.59983220655588793769, 1.0)  # fmt: skip

UIntArray = np.ndarray


# ------------------------------------------------------------------------ numba (scalars)


@numba.njit(inline="always", cache=False)
def mix64(z):
    """SplitMix64's finaliser of a uint64 word."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(inline="always", cache=False)
def scenario_key(k, s):
    """The key of scenario ``s`` (int) under the seed key ``k`` (uint64)."""
    return mix64(k + (np.uint64(s) + _ONE) * GOLDEN)


@numba.njit(inline="always", cache=False)
def draw(key, t, stream):
    """The 64 random bits (uint64) of period ``t`` (int), ``stream`` 0 or 1, of a
    scenario key."""
    return mix64(key + (_TWO * np.uint64(t) + np.uint64(stream) + _ONE) * PERIOD_STEP)


@numba.njit(inline="always", cache=False)
def uniform(key, t, stream):
    """The uniform in [0, 1) of period ``t`` (int), ``stream`` 0 or 1, of a scenario key:
    the draw's top 53 bits times 2**-53."""
    return np.float64(draw(key, t, stream) >> _S11) * UNIT


@numba.njit(inline="always", cache=False)
def below(h, n):
    """An integer in [0, n) from a draw ``h``: ``((h >> 32) * n) >> 32`` (Lemire's
    multiply-shift on the top 32 bits, exact integer arithmetic; ``n`` < 2**32 as uint64;
    each value's probability is within ``1 / 2**32`` of ``1 / n``)."""
    return ((h >> _S32) * n) >> _S32


@numba.njit(inline="always", cache=False)
def threshold(p):
    """The integer ``c`` with ``uniform < p`` exactly when ``(h >> 11) < c``:
    ``ceil(p * 2**53)`` (0 <= p <= 1), so a draw is compared without a float."""
    return np.uint64(np.ceil(p * 9007199254740992.0))


@numba.njit(inline="always", cache=False)
def draw_wide(key, t, stream, width):
    """The 64 random bits of period ``t``, ``stream`` 0 to ``width - 1``, of a scenario
    key, with ``width`` numbers per period (``draw`` is ``width = 2``)."""
    return mix64(key + (np.uint64(width) * np.uint64(t) + np.uint64(stream) + _ONE) * PERIOD_STEP)


@numba.njit(inline="always", cache=False)
def pick(central, near, a, c, e):
    """``a`` in AS241's central region, else ``c`` in the near tail, else ``e``."""
    return a if central else (c if near else e)


@numba.njit(inline="always", cache=False)
def horner3(a, c, e, central, near, x):
    """``k[0] x**7 + ... + k[7]`` by Horner's rule with the coefficients ``k`` (tuples of
    eight floats) picked per number (:func:`pick`): one polynomial for AS241's three
    regions, so a lane loop evaluates one instead of all three."""
    acc = pick(central, near, a[0], c[0], e[0])
    acc = acc * x + pick(central, near, a[1], c[1], e[1])
    acc = acc * x + pick(central, near, a[2], c[2], e[2])
    acc = acc * x + pick(central, near, a[3], c[3], e[3])
    acc = acc * x + pick(central, near, a[4], c[4], e[4])
    acc = acc * x + pick(central, near, a[5], c[5], e[5])
    acc = acc * x + pick(central, near, a[6], c[6], e[6])
    return acc * x + pick(central, near, a[7], c[7], e[7])


@intrinsic
def f64_bits(typingctx, x):
    """The IEEE 754 bits of a float64 as a uint64 (a free bitcast, which vectorises)."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


@intrinsic
def bits_f64(typingctx, u):
    """The float64 whose IEEE 754 bits are the uint64 ``u`` (a free bitcast)."""
    if not isinstance(u, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.uint64), codegen


@numba.njit(inline="always", cache=False)
def log_core(x):
    """Natural log of a positive normal float: fdlibm's ``e_log.c`` in exact or correctly
    rounded operations only (the same bits as :func:`log_np`); no branch or library
    call, so a lane loop of it vectorises."""
    b = f64_bits(x)
    m = bits_f64((b & _MANT) | _HALF_EXP)  # x = m 2**e, 0.5 <= m < 1 (frexp, exactly)
    e = np.float64(np.int64(b >> _S52)) - 1022.0
    low = m < _SQRT_HALF
    m = m * 2.0 if low else m
    dk = e - 1.0 if low else e
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (_LG[0] + w * (_LG[2] + w * (_LG[4] + w * _LG[6]))) + w * (
        _LG[1] + w * (_LG[3] + w * _LG[5])
    )
    hfsq = 0.5 * f * f
    return dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)


@numba.njit(inline="always", cache=False)
def exp_core(x):
    """``exp(x)`` for ``|x| < 700``: fdlibm's ``e_exp.c`` in exact or correctly rounded
    operations only (the same bits as :func:`exp_np`); the final ``ldexp`` is a product
    by the power of two built from its bits (exact in that range)."""
    k = np.floor(x * _INV_LN2 + 0.5)
    hi = x - k * _LN2_HI
    lo = k * _LN2_LO
    y = hi - lo
    t = y * y
    c = y - t * (_P[0] + t * (_P[1] + t * (_P[2] + t * (_P[3] + t * _P[4]))))
    scale = bits_f64(np.uint64(np.int64(k) + 1023) << _S52)  # 2**k
    return (1.0 - ((lo - (y * c) / (2.0 - c)) - hi)) * scale


@numba.njit(inline="always", cache=False)
def normal(h):
    """A standard normal from a draw ``h``: AS241 of the midpoint uniform
    ``((h >> 12) + 0.5) 2**-52`` (the same bits as :func:`normals_np`). The tail's
    ``sqrt(-log)`` is computed for every number and each region's coefficients picked
    (no jump; one numerator, one denominator, one division), so a lane loop of it
    vectorises."""
    p = (np.float64(h >> _S12) + 0.5) * UNIT52
    q = p - 0.5
    r = 0.180625 - q * q
    rt = math.sqrt(-log_core(p if q <= 0.0 else 1.0 - p))
    central = abs(q) <= 0.425
    near = rt <= 5.0
    x = pick(central, near, r, rt - 1.6, rt - 5.0)
    num = horner3(_A, _C, _E, central, near, x)
    num = num * q if central else (-num if q < 0.0 else num)
    return num / horner3(_B, _D, _F, central, near, x)


# ------------------------------------------------------------------- numpy (vectorised)


def seed_key(seed: int) -> np.uint64:
    """The 64-bit key of a seed (an int in [0, 2**64)); shared by both implementations."""
    if not 0 <= int(seed) < 2**64:
        raise DataError(f"seed={seed!r} must be an integer in [0, 2**64)")
    return np.uint64(mix64_np(np.array([np.uint64(seed) ^ SEED_SALT]))[0])


def mix64_np(z: UIntArray) -> UIntArray:
    """:func:`mix64` of every element of a uint64 array."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def scenario_keys_np(key: np.uint64, scenarios: np.ndarray) -> UIntArray:
    """:func:`scenario_key` of each scenario index (ints >= 0), uint64."""
    s = np.asarray(scenarios).astype(np.uint64)
    return mix64_np(np.uint64(key) + (s + _ONE) * GOLDEN)


def draws_np(keys: UIntArray, periods: np.ndarray, stream: int) -> UIntArray:
    """:func:`draw` for scenario keys (n,) and periods (T,): an (n, T) uint64 array."""
    t = np.asarray(periods).astype(np.uint64)
    c = (_TWO * t + np.uint64(stream) + _ONE) * PERIOD_STEP
    return mix64_np(np.asarray(keys, dtype=np.uint64)[:, None] + c[None, :])


def uniforms_np(keys: UIntArray, periods: np.ndarray, stream: int) -> FloatArray:
    """:func:`uniform` for scenario keys (n,) and periods (T,): an (n, T) array in [0, 1)."""
    return (draws_np(keys, periods, stream) >> _S11).astype(np.float64) * UNIT


def below_np(h: UIntArray, n: int) -> np.ndarray:
    """:func:`below` of every draw: integers in [0, n), int64."""
    if not 0 < n < 2**32:
        raise DataError(f"cannot draw among {n} values; need 1 to 2**32 - 1")
    return (((h >> _S32) * np.uint64(n)) >> _S32).astype(np.int64)


def threshold_np(p: float) -> np.uint64:
    """:func:`threshold` of a probability ``p`` in [0, 1]."""
    return np.uint64(np.ceil(p * 9007199254740992.0))


def draws_wide_np(keys: UIntArray, periods: np.ndarray, stream: int, width: int) -> UIntArray:
    """:func:`draw_wide` for scenario keys (n,) and periods (T,): an (n, T) uint64 array."""
    t = np.asarray(periods).astype(np.uint64)
    c = (np.uint64(width) * t + np.uint64(stream) + _ONE) * PERIOD_STEP
    return mix64_np(np.asarray(keys, dtype=np.uint64)[:, None] + c[None, :])


def horner3_np(
    a: tuple[float, ...],
    c: tuple[float, ...],
    e: tuple[float, ...],
    central: np.ndarray,
    near: np.ndarray,
    x: FloatArray,
) -> FloatArray:
    """:func:`horner3` of every element (the same operations in the same order)."""

    def pick_np(i: int) -> FloatArray:
        return np.where(central, a[i], np.where(near, c[i], e[i]))

    acc = pick_np(0)
    for i in range(1, 8):
        acc = acc * x + pick_np(i)
    return acc


def log_np(x: FloatArray) -> FloatArray:
    """:func:`log_core` of every element (positive normal floats): the same bits."""
    b = np.asarray(x, dtype=np.float64).view(np.uint64)
    m = ((b & _MANT) | _HALF_EXP).view(np.float64)
    e = (b >> _S52).astype(np.int64).astype(np.float64) - 1022.0
    low = m < _SQRT_HALF
    m = np.where(low, m * 2.0, m)
    dk = np.where(low, e - 1.0, e)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (_LG[0] + w * (_LG[2] + w * (_LG[4] + w * _LG[6]))) + w * (
        _LG[1] + w * (_LG[3] + w * _LG[5])
    )
    hfsq = 0.5 * f * f
    return dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)


def exp_np(x: FloatArray) -> FloatArray:
    """:func:`exp_core` of every element (``|x| < 700``): the same bits."""
    x = np.asarray(x, dtype=np.float64)
    k = np.floor(x * _INV_LN2 + 0.5)
    hi = x - k * _LN2_HI
    lo = k * _LN2_LO
    y = hi - lo
    t = y * y
    c = y - t * (_P[0] + t * (_P[1] + t * (_P[2] + t * (_P[3] + t * _P[4]))))
    scale = ((k.astype(np.int64) + 1023).astype(np.uint64) << _S52).view(np.float64)
    return (1.0 - ((lo - (y * c) / (2.0 - c)) - hi)) * scale


def normals_np(h: UIntArray) -> FloatArray:
    """:func:`normal` of every draw (uint64 array): standard normals, the same bits."""
    p = ((h >> _S12).astype(np.float64) + 0.5) * UNIT52
    q = p - 0.5
    r = 0.180625 - q * q
    rt = np.sqrt(-log_np(np.where(q <= 0.0, p, 1.0 - p)))
    central = np.abs(q) <= 0.425
    near = rt <= 5.0
    x = np.where(central, r, np.where(near, rt - 1.6, rt - 5.0))
    num = horner3_np(_A, _C, _E, central, near, x)
    num = np.where(central, num * q, np.where(q < 0.0, -num, num))
    return num / horner3_np(_B, _D, _F, central, near, x)
