"""Break-even Bitcoin return by bisection on common random numbers: a known root."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtest.crypto.assumptions import draw_crn
from backtest.errors import DataError
from backtest.plan import ConstantReal, Plan
from backtest.scenarios import Scenarios
from optimize.crypto_breakeven import break_even, break_even_table
from strategies import CryptoSleeve, FixedMix


def _deterministic():
    # Every asset earns a constant 4 % and Bitcoin has zero volatility, so every scenario
    # is the same. The withdrawal exhausts 1,000,000 in exactly 30 years at 3 % a year:
    # the base (4 %) succeeds; the sleeve succeeds iff its portfolio earns >= 3 %, i.e.
    # 0.9 * 4 % + 0.1 * r_btc >= 3 %, r_btc >= -6 %: the arithmetic mean at zero vol.
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
    return draws, plan, base, CryptoSleeve(base, 0.10, band=None, cap=None)


@pytest.mark.parametrize("metric", ["success", "ce_income"])
def test_break_even_finds_the_known_root_of_a_deterministic_case(metric):
    draws, plan, base, sleeve = _deterministic()
    # CE income: every year is paid in full (same utility as the base) iff the sleeve's
    # portfolio earns >= 3 %, and the last years fall short below it: the same root.
    b = break_even(
        draws, plan, base, sleeve, 0.10, 0.0, metric=metric, bracket=(-0.5, 0.5), xtol=1e-6
    )
    # Bisection to 1e-6 on a step function whose step sits at the root (the 1e-9 equity
    # wiggle only makes the equities vary; the plan holds none).
    assert b.mean == pytest.approx(-0.06, abs=2e-6)
    assert b.ci_low <= b.mean <= b.ci_high
    assert b.mean_log == pytest.approx(math.log(0.94), abs=3e-6)  # zero vol: log(1 + m)
    assert b.vol_log == 0.0


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
        draws,
        plan,
        base,
        lambda s: CryptoSleeve(base, s, cap=None),
        [0.0, 0.05],
        [0.5, 0.9],
        corrs=[0.0],
        metrics=["success", "es_retirement"],
        cash_asset="tbills",
    )
    assert (
        list(df["sleeve"]) == [0.05] * 4 and list(df["metric"]) == ["success", "es_retirement"] * 2
    )
    ok = df.dropna(subset=["breakeven_mean"])
    assert len(ok) >= 1
    assert np.all((ok["ci_low"] <= ok["breakeven_mean"]) & (ok["breakeven_mean"] <= ok["ci_high"]))
    # Premiums are differences from the scenarios' own means (T-bills earn exactly 2 %).
    np.testing.assert_allclose(df["cash_mean"], 0.02, atol=1e-12)  # constant input
    np.testing.assert_allclose(df["premium_over_cash"], df["breakeven_mean"] - 0.02, atol=1e-12)
    np.testing.assert_allclose(
        df["premium_over_displaced"], df["breakeven_mean"] - df["mix_mean"], atol=1e-12
    )
    # A bracket that cannot hold the root gives NaN and says why, not an exception.
    none = break_even_table(
        draws,
        plan,
        base,
        lambda s: CryptoSleeve(base, s, cap=None),
        [0.05],
        [0.8],
        corrs=[0.0],
        metrics=["success"],
        bracket=(1.5, 2.0),
    )
    assert np.isnan(none.loc[0, "breakeven_mean"]) and "straddle" in none.loc[0, "note"]
    with pytest.raises(DataError, match="unknown break-even metrics"):
        break_even_table(draws, plan, base, lambda s: base, [0.05], [0.8], metrics=["sharpe"])
