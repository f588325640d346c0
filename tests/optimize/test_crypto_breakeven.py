"""Break-even Bitcoin return by bisection on common random numbers: a known root."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtest.crypto.assumptions import draw_crn
from backtest.plan import ConstantReal, Plan
from backtest.scenarios import Scenarios
from optimize.crypto_breakeven import break_even, break_even_table
from strategies import CryptoSleeve, FixedMix


def test_break_even_finds_the_known_root_of_a_deterministic_case():
    # Every asset earns a constant 4 % and Bitcoin has zero volatility, so every scenario
    # is the same. The withdrawal exhausts 1,000,000 in exactly 30 years at 3 % a year:
    # the base (4 %) succeeds; the sleeve succeeds iff its portfolio earns >= 3 %, i.e.
    # 0.9 * 4 % + 0.1 * r_btc >= 3 %, r_btc >= -6 %, mean_log >= log(0.94).
    n, t, c, g = 8, 30, 0.04, 0.03
    r = np.full((n, t, 2), c)
    draws = draw_crn(
        Scenarios(
            np.concatenate([r[:, :, :1] + np.linspace(0, 1e-9, t)[None, :, None], r[:, :, 1:]], 2),
            np.zeros((n, t)),
            ("us_stocks", "tbills"),
            "annual",
        ),
        "us_stocks",
        rng=0,
    )
    amount = 1_000_000 / sum((1 + g) ** -k for k in range(t))
    plan = Plan(65, 65, 95, 1_000_000, withdrawal=ConstantReal(rate=None, amount=amount))
    base = FixedMix("cash", ("us_stocks", "tbills"), (0.0, 1.0))
    sleeve = CryptoSleeve(base, 0.10, band=None, cap=None)
    b = break_even(draws, plan, base, sleeve, 0.10, 0.0, bracket=(-1.0, 0.5), xtol=1e-6)
    root = math.log(0.94)
    # Bisection to 1e-6 on a step function whose step sits at the root (the 1e-9 equity
    # wiggle only makes the equities vary; the plan holds none).
    assert b.mean_log == pytest.approx(root, abs=2e-6)
    assert b.ci_low <= b.mean_log <= b.ci_high
    assert b.arithmetic_mean == pytest.approx(-0.06, abs=3e-6)  # zero vol: exp(mu) - 1


def test_break_even_table_rows_and_a_bracket_without_a_root():
    g = np.random.default_rng(0)
    n, t = 300, 40
    r = np.empty((n, t, 3))
    r[:, :, 0] = np.expm1(g.normal(0.06, 0.18, (n, t)))
    r[:, :, 1] = np.expm1(g.normal(0.02, 0.07, (n, t)))
    r[:, :, 2] = 0.02
    sc = Scenarios(r, np.full((n, t), 0.02), ("us_stocks", "tbonds_10y", "tbills"), "annual")
    draws = draw_crn(sc, "us_stocks", rng=1)
    plan = Plan(55, 65, 95, 400_000, withdrawal=ConstantReal(rate=None, amount=28_000))
    base = FixedMix("60/40", ("us_stocks", "tbonds_10y", "tbills"), (0.6, 0.4, 0.0))
    df = break_even_table(
        draws, plan, base, lambda s: CryptoSleeve(base, s, cap=None), [0.0, 0.05], [0.4, 0.8]
    )
    assert list(df["sleeve"]) == [0.05, 0.05]
    ok = df.dropna(subset=["mean_log"])
    assert len(ok) >= 1
    assert np.all((ok["ci_low"] <= ok["mean_log"]) & (ok["mean_log"] <= ok["ci_high"]))
    # A bracket that cannot hold the root gives NaN and says why, not an exception.
    none = break_even_table(
        draws,
        plan,
        base,
        lambda s: CryptoSleeve(base, s, cap=None),
        [0.05],
        [0.8],
        bracket=(1.0, 2.0),
    )
    assert np.isnan(none.loc[0, "mean_log"]) and "straddle" in none.loc[0, "note"]
