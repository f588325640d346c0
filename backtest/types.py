"""Shared vocabulary of the backtest layer: frequencies and array aliases."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]

Frequency = Literal["annual", "monthly"]
PERIODS_PER_YEAR: dict[str, int] = {"annual": 1, "monthly": 12}


def periods_per_year(frequency: str) -> int:
    """Number of periods in a year for ``frequency`` ('annual' -> 1, 'monthly' -> 12)."""
    try:
        return PERIODS_PER_YEAR[frequency]
    except KeyError:
        raise ValueError(f"unknown frequency {frequency!r}; use 'annual' or 'monthly'") from None


def read_only(a: FloatArray) -> FloatArray:
    """Return ``a`` (C-contiguous float64) flagged read-only so no stage can mutate it."""
    out = np.ascontiguousarray(a, dtype=np.float64)
    if out is a:
        out = out.view()
    out.flags.writeable = False
    return out
