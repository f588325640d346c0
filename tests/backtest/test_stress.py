"""Deterministic stress shocks on scenario sets."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.data import load_history
from backtest.errors import DataError
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from backtest.stress import (
    CorrelationJump,
    PathShock,
    PlacedShock,
    period_at_age,
    replay,
    resample_path,
    stress_table,
)
from strategies import CryptoSleeve, FixedMix

ASSETS = ("us_stocks", "tbonds_10y", "btc")


def _scenarios(n: int = 300, t: int = 40, frequency: str = "annual", seed: int = 0) -> Scenarios:
    g = np.random.default_rng(seed)
    ppy = 1 if frequency == "annual" else 12
    r = np.empty((n, t, 3))
    r[:, :, 0] = np.expm1(g.normal(0.07 / ppy, 0.18 / np.sqrt(ppy), (n, t)))
    r[:, :, 1] = np.expm1(g.normal(0.02 / ppy, 0.07 / np.sqrt(ppy), (n, t)))
    r[:, :, 2] = np.expm1(g.normal(0.05 / ppy, 0.7 / np.sqrt(ppy), (n, t)))
    return Scenarios(r, np.full((n, t), 0.02 / ppy), ASSETS, frequency)


def _plan() -> Plan:
    return Plan(
        start_age=35,
        retirement_age=55,
        end_age=75,
        initial_balance=100_000,
        contributions=Contributions(salary=60_000, rate=0.10),
        withdrawal=ConstantReal(rate=None, amount=30_000),
    )


BASE = FixedMix("60/40", ASSETS[:2], (0.6, 0.4))


def test_path_shock_places_the_path_and_touches_nothing_else():
    sc = _scenarios()
    k = period_at_age(_plan(), 55, "annual")
    assert k == 20
    hit = PathShock("btc", (-0.8,), label="btc -80 %").apply(sc, k)
    np.testing.assert_array_equal(hit.returns[:, k, 2], -0.8)
    changed = hit.returns != sc.returns
    assert changed[:, :, :2].sum() == 0 and changed[:, k + 1 :, 2].sum() == 0
    assert not sc.returns.flags.writeable  # the input stays as it was


def test_a_shock_on_a_zero_weight_sleeve_changes_nothing():
    sc = _scenarios()
    plan = _plan()
    k = period_at_age(plan, 55, "annual")
    shocks = {
        "-80 %": PlacedShock(PathShock("btc", (-0.8,)), k),
        "2018": PlacedShock(PathShock("btc", (-0.73, 0.94)), k),
        "jump": PlacedShock(CorrelationJump("btc", "us_stocks", rho=1.0), k),
    }
    zero = CryptoSleeve(BASE, 0.0, crypto_asset="btc")
    df = stress_table(sc, plan, {"0 %": zero, "5 %": CryptoSleeve(BASE, 0.05)}, shocks)
    z = df[df.strategy == "0 %"]
    np.testing.assert_array_equal(z["d_success"], 0.0)
    np.testing.assert_array_equal(z["d_median_wealth"], 0.0)
    five = df[df.strategy == "5 %"].set_index("shock")
    assert five.loc["-80 %", "d_median_wealth"] < 0  # the same shock hurts a real sleeve
    # Paths too, not only the medians.
    a = simulate(sc, plan, zero)
    b = simulate(shocks["-80 %"].shock.apply(sc, k), plan, zero)
    np.testing.assert_array_equal(a.wealth, b.wealth)


def test_replay_of_2018_compounds_to_the_embedded_annual_return():
    monthly = load_history(["btc"], "monthly")["btc"]
    annual = load_history(["btc"], "annual")["btc"]
    shock = replay(monthly, "2018-01", "2018-12", "btc", "monthly")
    assert len(shock.returns) == 12
    yearly = resample_path(np.asarray(shock.returns), "monthly", "annual")
    # Both come from the same month-end closes; the CSV stores monthly returns rounded
    # (differences of ~1e-7 after compounding twelve of them).
    assert yearly[0] == pytest.approx(float(annual.loc["2018"].iloc[0]), abs=1e-6)
    sc = _scenarios()
    hit = shock.apply(sc, 20)
    assert hit.returns[0, 20, 2] == pytest.approx(yearly[0])
    two = replay(monthly, "2014-01", "2015-12", "btc", "monthly")
    assert resample_path(np.asarray(two.returns), "monthly", "annual").size == 2
    with pytest.raises(DataError, match="no 'btc' returns"):
        replay(monthly, "1990-01", "1990-12", "btc", "monthly")


def test_annual_shock_spreads_evenly_over_months():
    m = resample_path(np.array([-0.8]), "annual", "monthly")
    assert m.size == 12
    assert np.prod(1 + m) - 1 == pytest.approx(-0.8, abs=1e-12)
    sc = _scenarios(t=480, frequency="monthly")
    hit = PathShock("btc", (-0.8,)).apply(sc, 240)
    assert np.prod(1 + hit.returns[0, 240:252, 2]) - 1 == pytest.approx(-0.8, abs=1e-12)


def test_correlation_jump_moves_only_the_asset_in_crash_years():
    sc = _scenarios(n=2000)
    jump = CorrelationJump("btc", "us_stocks", rho=1.0, crash_threshold=-0.15)
    mask = jump.crash_years(sc)
    eq = sc.returns[:, :, 0]
    np.testing.assert_array_equal(mask, eq <= -0.15)  # annual: a year is one period
    hit = jump.apply(sc)
    np.testing.assert_array_equal(hit.returns[~mask], sc.returns[~mask])
    np.testing.assert_array_equal(hit.returns[:, :, :2], sc.returns[:, :, :2])
    # rho = 1: Bitcoin's z-score equals the equity's in every crash year.
    xb, xe = np.log1p(sc.returns[:, :, 2]), np.log1p(eq)
    zb = (np.log1p(hit.returns[:, :, 2]) - xb.mean()) / xb.std()
    ze = (xe - xe.mean()) / xe.std()
    np.testing.assert_allclose(zb[mask], ze[mask], atol=1e-9)
    assert np.all(hit.returns[:, :, 2][mask] < sc.returns[:, :, 2][mask].max())


def test_bad_inputs_are_named():
    with pytest.raises(DataError, match="returns must be"):
        PathShock("btc", (-1.2,))
    with pytest.raises(DataError, match="age 20"):
        period_at_age(_plan(), 20, "annual")
    with pytest.raises(DataError, match="rho"):
        CorrelationJump("btc", "us_stocks", rho=2.0)


def test_the_change_against_a_reference_has_its_paired_standard_error():
    sc = _scenarios()
    plan = _plan()
    k = period_at_age(plan, 55, "annual")
    shocks = {"-80 %": PlacedShock(PathShock("btc", (-0.8,)), k)}
    zero, five = CryptoSleeve(BASE, 0.0, crypto_asset="btc"), CryptoSleeve(BASE, 0.05)
    df = stress_table(sc, plan, {"none": zero, "5 %": five}, shocks, reference="none")
    by = df.set_index("strategy")["se_success_vs_reference"]
    assert by["none"] == 0.0  # the reference against itself
    d = simulate(sc, plan, five).success.astype(float) - simulate(sc, plan, zero).success
    # The same paired formula as se_d_success: sd of per-scenario differences / sqrt(n).
    assert by["5 %"] == pytest.approx(d.std(ddof=1) / np.sqrt(d.size), rel=1e-12)
    assert by["5 %"] > 0  # the sleeve changes some scenarios' outcome here
    with pytest.raises(DataError, match="reference 'x'"):
        stress_table(sc, plan, {"none": zero}, shocks, reference="x")
