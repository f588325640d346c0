"""Nominal <-> real conversion of decimal simple returns.

``real = (1 + nominal) / (1 + inflation) - 1`` and back, period by period. Both inputs
must have the same frequency (annual returns with annual Dec/Dec CPI, monthly with
monthly CPI); this module cannot check units, so it checks alignment instead.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd

from backtest.errors import DataError

__all__ = ["to_nominal", "to_real"]

R = TypeVar("R", pd.DataFrame, pd.Series, np.ndarray)


def _aligned_inflation(returns: R, inflation: pd.Series | np.ndarray) -> np.ndarray:
    """Inflation as an array shaped to broadcast against ``returns`` row by row."""
    if isinstance(returns, (pd.DataFrame, pd.Series)):
        if not isinstance(inflation, pd.Series):
            raise DataError(
                "inflation must be a pandas Series indexed like returns when returns is a "
                f"pandas object; got {type(inflation).__name__}"
            )
        missing = returns.index.difference(inflation.index)
        if len(missing):
            shown = ", ".join(str(d.date() if hasattr(d, "date") else d) for d in missing[:5])
            raise DataError(
                f"inflation has no value for {len(missing)} period(s) of returns "
                f"(first: {shown}); use an inflation series covering "
                f"{returns.index.min()}..{returns.index.max()} at the same frequency"
            )
        infl = inflation.reindex(returns.index).to_numpy(dtype=np.float64)
    else:
        infl = np.asarray(inflation, dtype=np.float64)
        r = np.asarray(returns)
        if infl.ndim != 1 or r.ndim == 0 or infl.shape[0] != r.shape[0]:
            raise DataError(
                f"inflation must be 1-D with one value per period (row) of returns; got "
                f"inflation shape {infl.shape} for returns shape {r.shape}"
            )
    if np.isnan(infl).any():
        raise DataError("inflation contains NaN; drop or fill those periods first")
    if (infl <= -1.0).any():
        raise DataError(
            f"inflation must be > -1 (decimal, 0.03 = 3 %); got minimum {infl.min():.4g}"
        )
    if isinstance(returns, pd.DataFrame) or (isinstance(returns, np.ndarray) and returns.ndim > 1):
        return infl.reshape((-1,) + (1,) * (np.ndim(returns) - 1))
    return infl


def _wrap(returns: R, values: np.ndarray) -> R:
    if isinstance(returns, pd.DataFrame):
        out = pd.DataFrame(values, index=returns.index, columns=returns.columns)
        out.attrs = dict(returns.attrs)
        return out
    if isinstance(returns, pd.Series):
        out_s = pd.Series(values, index=returns.index, name=returns.name)
        out_s.attrs = dict(returns.attrs)
        return out_s
    return values


def to_real(returns: R, inflation: pd.Series | np.ndarray) -> R:
    """Deflate nominal returns: ``(1 + r) / (1 + inflation) - 1``.

    Parameters
    ----------
    returns
        Decimal simple nominal returns per period (DataFrame, Series or array; rows =
        periods).
    inflation
        Decimal CPI change per period at the same frequency (e.g. ``load_history(["cpi"])``).
        For pandas inputs it must cover every row of ``returns`` (aligned by index).

    Returns
    -------
    Same type as ``returns``: decimal simple real returns.
    """
    infl = _aligned_inflation(returns, inflation)
    r = np.asarray(returns, dtype=np.float64)
    return _wrap(returns, (1.0 + r) / (1.0 + infl) - 1.0)


def to_nominal(returns: R, inflation: pd.Series | np.ndarray) -> R:
    """Inverse of :func:`to_real`: ``(1 + real) * (1 + inflation) - 1`` (decimal, per period)."""
    infl = _aligned_inflation(returns, inflation)
    r = np.asarray(returns, dtype=np.float64)
    return _wrap(returns, (1.0 + r) * (1.0 + infl) - 1.0)
