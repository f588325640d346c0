"""A sleeve added to a portfolio over a historical window, with and without it.

The portfolio is run as a fund (1 USD, no flows) through
:func:`backtest.historical.backtest_history`, so fees, trading costs, rebalancing and the
sleeve's band behave as in every simulation. The history is any frame of decimal simple
nominal returns by period end: the embedded monthly data (``load_history``) or
``load_yahoo`` output.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from backtest.errors import DataError
from backtest.historical import backtest_history, riskfree_series
from backtest.metrics import annualised_volatility, cagr, max_drawdown, sharpe_ratio
from backtest.types import infer_frequency, periods_per_year
from strategies.base import Strategy


def window_stats(returns: pd.Series, riskfree: pd.Series, ppy: int) -> dict[str, float]:
    """Cumulative and annualised return, volatility, Sharpe and maximum drawdown.

    All decimal; annualised with ``ppy`` periods a year; Sharpe against ``riskfree``
    (T-bill return of the same periods).
    """
    r = returns.to_numpy(dtype=np.float64)
    return {
        "cumulative_return": float(np.prod(1.0 + r) - 1.0),
        "annualised_return": float(cagr(r, ppy)),
        "volatility": float(annualised_volatility(r, ppy)),
        "sharpe": float(sharpe_ratio(r, riskfree.to_numpy(dtype=np.float64), ppy)),
        "max_drawdown": float(max_drawdown(r)),
    }


def window_backtest(
    history: pd.DataFrame,
    strategies: Mapping[str, Strategy],
    start: str,
    end: str,
    *,
    riskfree_column: str = "tbills",
    transaction_cost_bps: float = 0.0,
    expense_ratio: float = 0.0,
) -> pd.DataFrame:
    """Run each strategy over ``start..end`` of ``history`` and tabulate the statistics.

    Parameters
    ----------
    history
        Decimal simple nominal returns by period end, holding every strategy's assets
        and ``riskfree_column``.
    strategies
        By display name, e.g. ``{"60/40": base, "60/40 + 2.5% btc": sleeve}``.
    start, end
        Window, inclusive (``"2014-01"``, ``"2025-11"``).
    riskfree_column
        T-bill column for the Sharpe ratio.
    transaction_cost_bps, expense_ratio
        As in :func:`backtest.historical.backtest_history`.

    Returns
    -------
    pandas.DataFrame
        One row per strategy: the keys of :func:`window_stats`, ``turnover`` (mean one-way
        a year, decimal), ``first`` and ``last`` period.
    """
    frame = history.loc[start:end]
    if len(frame) < 2:
        raise DataError(
            f"the window {start}..{end} holds {len(frame)} periods of the history "
            f"({history.index[0]:%Y-%m}..{history.index[-1]:%Y-%m}); choose a window inside it"
        )
    freq = infer_frequency(frame.index)
    ppy = periods_per_year(freq)
    rf = riskfree_series(frame, riskfree_column)
    rows = []
    for name, strategy in strategies.items():
        held = frame[list(strategy.assets)]
        if held.isna().any().any():
            col = held.columns[held.isna().any()].tolist()
            raise DataError(
                f"{name!r}: {col} have gaps in {start}..{end}; start the window when every "
                "held asset has data"
            )
        bt = backtest_history(
            frame,
            strategy,
            frequency=freq,
            transaction_cost_bps=transaction_cost_bps,
            expense_ratio=expense_ratio,
        )
        row: dict[str, object] = {"strategy": name}
        row.update(window_stats(bt.returns_nominal, rf, ppy))
        row["turnover"] = float(bt.turnover.sum() / (len(frame) / ppy))
        row["first"] = f"{frame.index[0]:%Y-%m}"
        row["last"] = f"{frame.index[-1]:%Y-%m}"
        rows.append(row)
    return pd.DataFrame(rows)
