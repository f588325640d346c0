"""Fixtures the dynamic-programming tests share: an i.i.d. two-asset lognormal model
(real annual returns 5 % and 1.5 % log mean, volatilities 18 % and 7 %, correlation 0.1)
and a retiree (1,000,000 USD, 45,000 USD a year real, 65 to 95)."""

from __future__ import annotations

import pytest

from backtest.plan import ConstantReal, Plan
from optimize.dynamic import ReturnModel
from tests.optimize.backend_checks import two_asset_model


@pytest.fixture(scope="module")
def iid_model() -> ReturnModel:
    return two_asset_model()


@pytest.fixture(scope="module")
def retiree() -> Plan:
    return Plan(
        start_age=65,
        retirement_age=65,
        end_age=95,
        initial_balance=1_000_000,
        withdrawal=ConstantReal(rate=None, amount=45_000, timing="start"),
        expense_ratio=0.002,
    )
