"""Compiled twin of the DP's expectation step (``optimize.dynamic.backward_induction``).

For one year ``t``, every wealth node ``i`` and every candidate weight vector ``c``::

    ev[i, c] = sum_k p[k] * v(y),   y = b[i] * port[c, k] + ce_we
    v(y) = fail_t                        if y < 0      (ruin in year t)
         = reward(y)                     in the last year
         = q * a(x) + (1 - q) * reward(y) otherwise, x = y + cs_ws_next
    a(x) = fail_t1                       if x < grid_next[0]   (ruin at the next start)
         = U[t + 1] interpolated linearly at x, held at its last value above the grid
    reward(y) = success + wealth_w * log1p(y / scale)

the same expression as the numpy path (``np.interp`` with ``left=fail_t1``), without the
(nodes x candidates x outcomes) temporaries, parallel over candidates. The CRRA objective (the
Merton check) and the CE income objective (``optimize.dynamic.income_ce``, whose
period utilities and certainty-equivalent interpolation go through
``backtest.outcomes``) stay on the numpy path. Tests compare the two to round-off.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from backtest.types import FloatArray


@nb.njit(cache=True, parallel=True)
def expected_values(
    b: FloatArray,
    port: FloatArray,
    p: FloatArray,
    ce_we: float,
    cs_ws_next: float,
    grid_next: FloatArray,
    u_next: FloatArray,
    fail_t: float,
    fail_t1: float,
    last: bool,
    q: float,
    success: float,
    wealth_w: float,
    scale: float,
    out: FloatArray,
) -> None:
    """Fill ``out`` (n_nodes, n_candidates) with the expected values (module doc).

    ``b`` must increase: for a fixed candidate and outcome ``x`` then increases with the
    node, so the interpolation interval is found by walking forward from the last one
    (amortised O(1), no binary search), parallel over candidates.
    """
    n_b = b.shape[0]
    n_c, n_r = port.shape
    n_g = grid_next.shape[0]
    for c in nb.prange(n_c):
        acc = np.zeros(n_b)
        for k in range(n_r):
            g = port[c, k]
            pk = p[k]
            j = 0  # grid_next[j] <= x < grid_next[j + 1] once x is inside the grid
            for i in range(n_b):
                y = b[i] * g + ce_we
                if y < 0.0:
                    acc[i] += pk * fail_t
                    continue
                r = success
                if wealth_w != 0.0:
                    r += wealth_w * math.log1p(y / scale)
                if last:
                    acc[i] += pk * r
                    continue
                x = y + cs_ws_next
                if x < grid_next[0]:
                    a = fail_t1
                elif x >= grid_next[n_g - 1]:
                    a = u_next[n_g - 1]
                else:
                    while grid_next[j + 1] <= x:
                        j += 1
                    lo = grid_next[j]
                    slope = (u_next[j + 1] - u_next[j]) / (grid_next[j + 1] - lo)
                    a = slope * (x - lo) + u_next[j]
                if q != 1.0:
                    a = q * a + (1.0 - q) * r
                acc[i] += pk * a
        for i in range(n_b):
            out[i, c] = acc[i]


def warm() -> None:
    """Compile once on tiny inputs (numba caches the machine code on disk)."""
    out = np.empty((1, 1))
    g = np.array([0.0, 1.0])
    expected_values(
        np.ones(1),
        np.ones((1, 1)),
        np.ones(1),
        0.0,
        0.0,
        g,
        g,
        0.0,
        0.0,
        False,
        1.0,
        1.0,
        0.0,
        1.0,
        out,
    )
