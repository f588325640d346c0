"""backtest_history: a strategy run as a fund over one historical path."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from backtest.errors import DataError
from backtest.historical import backtest_history, infer_frequency
from strategies.base import NoStateTable, RebalanceRule, Schedule, SleeveBand, Smoothing

# Closed-form checks: only float round-off separates the simulator from the hand formula.
TOL = 1e-12


@dataclass(frozen=True)
class Mix(NoStateTable):
    """A constant mix, local to the tests (independent of strategies/)."""

    depends_on_returns = False  # a class attribute (no annotation: not a field)
    name: str
    assets: tuple[str, ...]
    weights: tuple[float, ...]
    rebalance: RebalanceRule = field(default_factory=RebalanceRule)
    sleeve_band: SleeveBand | None = None
    smoothing: Smoothing | None = None

    def target_weights(self, schedule: Schedule, past_returns: np.ndarray) -> np.ndarray:
        return np.tile(np.asarray(self.weights), (1, schedule.n_periods, 1))


@dataclass(frozen=True)
class AgeGlide(NoStateTable):
    """Equity share falls linearly from 90 % at 25 to 30 % at 65, flat after."""

    depends_on_returns = False  # a class attribute (no annotation: not a field)
    name: str = "glide"
    assets: tuple[str, ...] = ("stocks", "bonds")
    rebalance: RebalanceRule = field(default_factory=RebalanceRule)
    sleeve_band: SleeveBand | None = None
    smoothing: Smoothing | None = None

    def target_weights(self, schedule: Schedule, past_returns: np.ndarray) -> np.ndarray:
        eq = np.interp(schedule.age_start, [25, 65], [0.9, 0.3])
        return np.stack([eq, 1 - eq], axis=-1)[None]


def annual_history(n: int = 6) -> pd.DataFrame:
    idx = pd.date_range("2001-12-31", periods=n, freq="YE")
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "stocks": rng.normal(0.07, 0.18, n),
            "bonds": rng.normal(0.03, 0.06, n),
            "tbills": np.full(n, 0.02),
            "cpi": np.full(n, 0.025),
        },
        index=idx,
    )


def test_fixed_mix_matches_hand_computation() -> None:
    h = annual_history()
    bt = backtest_history(h, Mix("60/40", ("stocks", "bonds"), (0.6, 0.4)))
    # Annual rebalancing every period: the fund earns the weighted average each year.
    expected = 0.6 * h["stocks"] + 0.4 * h["bonds"]
    np.testing.assert_allclose(bt.returns_nominal, expected, atol=TOL)
    np.testing.assert_allclose(bt.returns_real, (1 + expected) / 1.025 - 1, atol=TOL)
    assert bt.returns_nominal.index.equals(h.index)
    np.testing.assert_allclose(bt.weights.to_numpy(), [[0.6, 0.4]] * 6, atol=TOL)
    assert bt.frequency == "annual"


def test_fees_and_costs_reduce_returns() -> None:
    h = annual_history()
    mix = Mix("60/40", ("stocks", "bonds"), (0.6, 0.4))
    bt = backtest_history(h, mix, expense_ratio=0.01)
    gross = 0.6 * h["stocks"] + 0.4 * h["bonds"]
    # Fees are 1 % of the balance after returns, once a year.
    np.testing.assert_allclose(bt.returns_nominal, (1 + gross) * 0.99 - 1, atol=TOL)
    np.testing.assert_allclose(bt.fee_rate, (1 + gross) * 0.01 / 1.025, atol=TOL)
    np.testing.assert_allclose(bt.returns_gross, gross, atol=TOL)
    with_costs = backtest_history(h, mix, transaction_cost_bps=50)
    assert (with_costs.turnover.iloc[1:] > 0).all()  # drift is traded back every year
    assert (with_costs.returns_nominal.iloc[1:] < gross.iloc[1:]).all()


def test_vintage_ages_run_through_history() -> None:
    h = annual_history(10)
    bt = backtest_history(h, AgeGlide(), retirement_year=2006)
    # 2001 starts 5 years before 2006: age 60, retiring at 65 at the start of 2006.
    np.testing.assert_allclose(bt.age.to_numpy(), 60 + np.arange(10), atol=TOL)
    eq = np.interp(bt.age.to_numpy(), [25, 65], [0.9, 0.3])
    np.testing.assert_allclose(bt.weights["stocks"], eq, atol=TOL)
    assert bt.retirement_year == pytest.approx(2006)
    default = backtest_history(h, AgeGlide())  # retires at the end of the sample
    assert default.age.iloc[0] == pytest.approx(55)
    assert default.retirement_year == pytest.approx(2011)


def test_monthly_frequency_inferred() -> None:
    idx = pd.date_range("2000-01-31", periods=24, freq="ME")
    h = pd.DataFrame({"stocks": 0.01, "bonds": 0.002, "cpi": 0.0}, index=idx)
    assert infer_frequency(idx) == "monthly"
    bt = backtest_history(h, Mix("s", ("stocks",), (1.0,)), expense_ratio=0.012)
    np.testing.assert_allclose(bt.returns_nominal, 1.01 * (1 - 0.001) - 1, atol=TOL)


def test_real_history_runs() -> None:
    from backtest.data import load_history

    h = load_history(["us_stocks", "tbonds_10y", "tbills", "cpi"], "annual")
    bt = backtest_history(h, Mix("60/40", ("us_stocks", "tbonds_10y"), (0.6, 0.4)))
    expected = 0.6 * h["us_stocks"] + 0.4 * h["tbonds_10y"]
    np.testing.assert_allclose(bt.returns_nominal, expected, atol=1e-10)


def test_errors() -> None:
    h = annual_history()
    with pytest.raises(DataError, match="lacks"):
        backtest_history(h, Mix("g", ("gold",), (1.0,)))
    with pytest.raises(DataError, match="ages must stay"):
        backtest_history(h, AgeGlide(), retirement_year=2100)
    h2 = h.copy()
    h2.iloc[2, 0] = np.nan
    with pytest.raises(DataError, match="no return data"):
        backtest_history(h2, Mix("s", ("stocks",), (1.0,)))
