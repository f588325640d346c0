"""The optimizer groups assets by their role (backtest.data), never by a list of its own."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.errors import DataError
from backtest.plan import ConstantReal, Plan
from backtest.scenarios import Scenarios
from optimize.glidepath import GlidePathConstraints, optimize_glide_path


def test_optimizer_groups_assets_by_role() -> None:
    c = GlidePathConstraints()
    assets = ("us_stocks", "tbonds_10y", "btc", "tbills")
    assert c.equity_of(assets) == [0, 2]  # risky growth assets: equity, crypto, real assets
    assert c.crypto_of(assets) == [2]
    named = GlidePathConstraints(equity_assets=("us_stocks",), crypto_assets=())
    assert named.equity_of(assets) == [0] and named.crypto_of(assets) == []
    tickers = ("VTI", "BND")
    with pytest.raises(DataError, match="declare"):
        c.equity_of(tickers)
    declared = GlidePathConstraints(roles={"VTI": "equity", "BND": "bond"})
    assert declared.equity_of(tickers) == [0] and declared.crypto_of(tickers) == []


def test_optimizer_on_undeclared_tickers_says_how_to_declare() -> None:
    sc = Scenarios(np.full((4, 3, 2), 0.01), np.zeros((4, 3)), ("VTI", "BND"), "annual")
    plan = Plan(
        start_age=60, retirement_age=60, end_age=63, initial_balance=1.0, withdrawal=ConstantReal()
    )
    with pytest.raises(DataError, match=r"no role known for 'VTI', 'BND'"):
        optimize_glide_path(sc, plan, progress=False)
