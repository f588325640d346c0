"""Shared fixtures: small real histories from the embedded data, and generated frames."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

# CI runs the same examples every time (a failure there is reproducible and never a
# coin toss); a developer's run explores new random examples, which is how edge cases
# such as subnormal balances get found. Failing examples are replayed from the local
# .hypothesis database either way.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def annual_history() -> pd.DataFrame:
    """Embedded annual nominal returns 1928-2025: us_stocks, corp_aaa, tbills and cpi."""
    from backtest.data import load_history

    return load_history(["us_stocks", "corp_aaa", "tbills", "cpi"], "annual")


@pytest.fixture
def late_asset_history() -> pd.DataFrame:
    """Generated annual frame, 2000-2019: 'late' has data only from 2010 (NaN before)."""
    rng = np.random.default_rng(20240601)
    idx = pd.date_range("2000-12-31", periods=20, freq="YE-DEC")
    frame = pd.DataFrame(
        {
            "stocks": rng.normal(0.07, 0.15, 20),
            "late": rng.normal(0.5, 0.8, 20).clip(-0.8),
            "cash": rng.uniform(0.0, 0.05, 20),
            "cpi": rng.normal(0.02, 0.01, 20),
        },
        index=idx,
    )
    frame.loc[frame.index.year < 2010, "late"] = np.nan
    return frame
