"""Historical and live return data: embedded history, Yahoo Finance, user CSV files.

Everything returns decimal simple returns (0.10 = +10 %) indexed by period-end
Timestamps, nominal USD unless asked for ``real=True``.

* :func:`load_history` - embedded history (offline), catalog in :data:`CATALOG`.
* :func:`load_btc_daily` - embedded Bitcoin daily USD closes.
* :func:`to_real` / :func:`to_nominal` - deflate / inflate with a CPI series.
"""

from __future__ import annotations

from backtest.data.embedded import (
    CATALOG,
    FREQUENCIES,
    SeriesInfo,
    get_series,
    list_series,
    load_btc_daily,
    load_history,
)
from backtest.data.inflation import to_nominal, to_real

__all__ = [
    "CATALOG",
    "FREQUENCIES",
    "SeriesInfo",
    "get_series",
    "list_series",
    "load_btc_daily",
    "load_history",
    "to_nominal",
    "to_real",
]
