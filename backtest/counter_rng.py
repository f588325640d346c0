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
  0 or 1 (two independent numbers per period);

``uniform = (draw >> 11) * 2**-53`` is a uniform in [0, 1) with 53 random bits;
``below(draw, n)`` an integer in [0, n) by multiply-shift, and ``(draw >> 11) <
threshold(p)`` the event ``uniform < p`` tested without a float (the kernel's lane loops
stay integer and vectorise). All
arithmetic is on uint64 and wraps modulo 2**64 in both implementations, so the two give
identical bits (``tests/backtest/test_engine_generation.py`` checks it).

The numba functions are compiled into ``backtest.kernel._loop``, whose on-disk cache is
invalidated only when ``backtest/kernel.py`` changes: after changing anything here,
touch that file too.
"""

from __future__ import annotations

import numba
import numpy as np

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
