"""Break-even by correlation and metric, checked against the rebalancing approximation."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.crypto.assumptions import draw_crn
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.scenarios import Scenarios
from optimize.crypto_breakeven import (
    approximate_break_even,
    base_moments,
    break_even,
    break_even_table,
    rebalancing_approximation,
)
from strategies import CryptoSleeve, FixedMix

ASSETS = ("us_stocks", "tbonds_10y", "tbills")


@pytest.fixture(scope="module")
def setup():
    g = np.random.default_rng(11)
    n, t = 1500, 40
    r = np.empty((n, t, 3))
    r[:, :, 0] = np.expm1(g.normal(0.07, 0.17, (n, t)))
    r[:, :, 1] = np.expm1(g.normal(0.025, 0.07, (n, t)))
    r[:, :, 2] = 0.02
    sc = Scenarios(r, np.full((n, t), 0.02), ASSETS, "annual")
    draws = draw_crn(sc, "us_stocks", rng=12)
    plan = Plan(
        35,
        55,
        75,
        50_000,
        contributions=Contributions(salary=60_000, rate=0.10),
        withdrawal=ConstantReal(rate=None, amount=30_000),
    )
    base = FixedMix("60/40", ASSETS, (0.6, 0.4, 0.0))
    return draws, plan, base


def test_rebalancing_approximation_by_hand():
    # m_P 9 %, V_P 0.0144 (12 % vol), V_B 0.36 (60 %), C 0: 9 - 1.44 + s/2 * 37.44 %.
    for s, want in ((0.01, 0.077472), (0.025, 0.08028), (0.05, 0.08496)):
        assert rebalancing_approximation(0.09, 0.0144, 0.36, 0.0, s) == pytest.approx(want)
    # Covariance raises the hurdle one for one, less the sleeve's share of it.
    lift = rebalancing_approximation(0.09, 0.0144, 0.36, 0.02, 0.05) - 0.08496
    assert lift == pytest.approx(0.02 * (1 - 0.05))


@pytest.mark.parametrize(("size", "drag"), [(0.01, False), (0.05, True)])
def test_log_growth_break_even_at_corr_0_agrees_with_the_approximation(setup, size, drag):
    draws, plan, base = setup
    sleeve = CryptoSleeve(base, size, cap=None)
    b = break_even(draws, plan, base, sleeve, size, 0.6, corr=0.0, metric="log_growth")
    moments = base_moments(draws, plan, base, "tbills")
    approx = approximate_break_even(draws, plan, moments, size, 0.6, 0.0)
    # The approximation's own metric (log growth of the rebalanced mix, no cash flows):
    # at correlation 0 its third-order terms are far below the interval's half-width, so
    # it must fall inside the simulated 95 % interval.
    assert b.ci_low <= approx <= b.ci_high
    # So that this can fail: the interval is under 2 points wide, and it excludes a cruder
    # hurdle: the displaced mix's mean m_P (no diversification, no drag) for the small
    # sleeve, m_P - V_P (no volatility drag of the sleeve) for the 5 % one.
    assert b.ci_high - b.ci_low < 0.02
    crude = moments.mix_mean - (moments.mix_var if drag else 0.0)
    assert not b.ci_low <= crude <= b.ci_high


def test_break_even_rises_with_correlation_on_the_continuous_metrics(setup):
    draws, plan, base = setup
    df = break_even_table(
        draws,
        plan,
        base,
        lambda s: CryptoSleeve(base, s, cap=None),
        [0.05],
        [0.6],
        corrs=[0.0, 0.6],
        cash_asset="tbills",
    )
    assert len(df) == 2 * 4 and df["breakeven_mean"].notna().all()
    wide = df.pivot(index="metric", columns="corr", values="breakeven_mean")
    # Correlation 0.6 adds C ~ 0.6 * 0.6 * 0.11 ~ 4 points to the hurdle (the approximation):
    # beyond the intervals of the continuous metrics, so their break-evens must rise.
    # Success (a 0/1 flag) is left out: on 1,500 scenarios its interval is some 5 points
    # wide and its break-even need not move the same way.
    smooth = ["ce_income", "es_retirement", "log_growth"]
    assert (wide.loc[smooth, 0.6] > wide.loc[smooth, 0.0]).all()
    approx = df.groupby("corr")["approx_mean"].first()
    assert approx[0.6] - approx[0.0] > 0.02
