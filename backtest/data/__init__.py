"""Historical and live return data: embedded history, Yahoo Finance, user CSV files.

Everything returns decimal simple returns (0.10 = +10 %) indexed by period-end
Timestamps, nominal USD unless asked for ``real=True``.

* :func:`load_history` - embedded history (offline), catalog in :data:`CATALOG`.
* :func:`load_btc_daily` - embedded Bitcoin daily USD closes.
* :func:`summary_table` - annualised statistics of every embedded series.
* :func:`asset_role`, :func:`assets_with_role`, :func:`asset_roles` - the one registry of
  asset roles (equity, bond, cash, crypto, real_asset, inflation), on the series
  metadata; ``asset_roles(names, declared={...})`` states roles for yfinance/CSV names.
* :func:`load_yahoo` - Yahoo Finance total returns (adjusted closes), parquet cache.
* :func:`load_csv` - a user's own prices or returns, validated.
* :func:`to_real` / :func:`to_nominal` - deflate / inflate with a CPI series.
"""

from __future__ import annotations

from backtest.data.csv import load_csv
from backtest.data.embedded import (
    CATALOG,
    FREQUENCIES,
    SeriesInfo,
    asset_label,
    asset_role,
    asset_roles,
    assets_with_role,
    get_series,
    list_series,
    load_btc_daily,
    load_history,
    summary_table,
)
from backtest.data.inflation import to_nominal, to_real
from backtest.data.yahoo import load_yahoo

__all__ = [
    "CATALOG",
    "FREQUENCIES",
    "SeriesInfo",
    "asset_label",
    "asset_role",
    "asset_roles",
    "assets_with_role",
    "get_series",
    "list_series",
    "load_btc_daily",
    "load_csv",
    "load_history",
    "load_yahoo",
    "summary_table",
    "to_nominal",
    "to_real",
]
