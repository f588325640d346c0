"""The SCP wealth model (``optimize.glidepath.forward_model``) reads the plan's cash flows
from ``backtest.cashflows`` like the engines do: the cases the engines are tested on."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.plan import ConstantReal, Plan
from backtest.scenarios import Scenarios
from optimize.glidepath import forward_model


@pytest.mark.parametrize("timing", ["start", "end", "split"])
def test_nominal_withdrawal_is_the_same_dollars_whatever_the_timing(timing: str) -> None:
    """Regression: one cash asset at 0 %, 10 % inflation, a nominal 10 % rule for one
    year: she holds 0.90 nominal dollars at the end whatever the timing (0.89 once)."""
    sc = Scenarios(np.zeros((1, 1, 1)), np.full((1, 1), 0.10), ("cash",), "annual")
    rule = ConstantReal(rate=0.10, indexed=False, timing=timing)  # type: ignore[arg-type]
    fp = forward_model(sc, Plan(65, 65, 66, 1.0, withdrawal=rule), np.array([[1.0]]))
    # 0.90 nominal is 0.90 / 1.1 real; 1e-14: round-off of a few operations.
    np.testing.assert_allclose(fp.wealth[0, -1] * 1.1, 0.90, rtol=1e-14)
    np.testing.assert_allclose(fp.wealth_untruncated[0, -1] * 1.1, 0.90, rtol=1e-14)
