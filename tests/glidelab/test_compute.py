"""Loose ends between the app's backends, the study runner and the layers below it:
the study's scenario evaluation on Dask, the optimiser's ``map_fn`` hook, the role
registry in fund design and the engine's error."""

from __future__ import annotations

import pytest

from backtest.errors import GlidelabError
from backtest.plan import ConstantReal, Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from optimize.fund_design import FundConstraints
from strategies import FixedMix


def test_fund_constraints_read_asset_roles_from_the_registry() -> None:
    generic = FundConstraints().generic()
    assets = ["us_stocks", "tbonds_10y", "btc", "gold", "tbills", "world"]
    # equity, real_asset and crypto roles count as equity; only "crypto" as crypto
    assert generic.equity_of(assets) == [0, 2, 3, 5]
    assert generic.crypto_of(assets) == [2]
    # a caller may still name them (series outside the embedded catalog)
    named = FundConstraints(equity_assets=("VTI",), crypto_assets=()).generic()
    assert named.equity_of(["VTI", "BND"]) == [0]
    assert named.crypto_of(["VTI", "BND"]) == []


def test_bad_engine_is_a_glidelab_error_naming_the_engines() -> None:
    import numpy as np

    sc = Scenarios(np.zeros((2, 3, 1)), np.zeros((2, 3)), ("tbills",), "annual")
    plan = Plan(
        start_age=65,
        retirement_age=65,
        end_age=68,
        initial_balance=100.0,
        withdrawal=ConstantReal(rate=None, amount=10.0),
    )
    with pytest.raises(GlidelabError, match="'auto', 'numpy' or 'numba'"):
        simulate(sc, plan, FixedMix("cash", ("tbills",), (1.0,)), engine="fast")
