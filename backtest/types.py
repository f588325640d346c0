"""Shared vocabulary of the backtest layer: frequencies, array aliases and asset roles.

The array aliases and asset roles are defined once in :mod:`strategies.types` (the ground
floor) and re-exported here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from backtest.errors import DataError
from strategies.types import ASSET_ROLES, AssetRole, BoolArray, FloatArray, IntArray

__all__ = [
    "ASSET_ROLES",
    "PERIODS_PER_YEAR",
    "AssetRole",
    "BoolArray",
    "FloatArray",
    "Frequency",
    "IntArray",
    "infer_frequency",
    "periods_per_year",
    "read_only",
]

Frequency = Literal["annual", "monthly"]
PERIODS_PER_YEAR: dict[str, int] = {"annual": 1, "monthly": 12}


def periods_per_year(frequency: str) -> int:
    """Number of periods in a year for ``frequency`` ('annual' -> 1, 'monthly' -> 12)."""
    try:
        return PERIODS_PER_YEAR[frequency]
    except KeyError:
        raise DataError(f"unknown frequency {frequency!r}; use 'annual' or 'monthly'") from None


def read_only(a: FloatArray) -> FloatArray:
    """Return ``a`` (C-contiguous float64) flagged read-only so no stage can mutate it."""
    out = np.ascontiguousarray(a, dtype=np.float64)
    if out is a:
        out = out.view()
    out.flags.writeable = False
    return out


def infer_frequency(index: pd.Index) -> Frequency:
    """``"annual"`` or ``"monthly"`` from the spacing of period-end dates (median gap)."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        raise DataError(
            "cannot infer the frequency: the history needs a DatetimeIndex of at least two "
            "period-end dates; pass frequency='annual' or 'monthly'"
        )
    days = float(np.median(np.diff(index.values).astype("timedelta64[D]").astype(np.float64)))
    if 360 <= days <= 370:
        return "annual"
    if 27 <= days <= 32:
        return "monthly"
    raise DataError(
        f"history rows are {days:.0f} days apart: neither annual (365) nor monthly (~30); "
        "pass frequency='annual' or 'monthly'"
    )
