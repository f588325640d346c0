"""Crypto research: CRN assumptions, surface, risk contributions, rules, history, window."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.crypto.assumptions import BtcAssumption, draw_crn, mean_log_for_arithmetic
from backtest.crypto.history import data_caveat, history_variant, yearly_table
from backtest.crypto.risk import risk_contributions
from backtest.crypto.rules import compare_rules, standard_rules
from backtest.crypto.surface import (
    assumption_grid,
    expected_shortfall,
    run_surface,
    summary_outcome,
)
from backtest.crypto.window import window_backtest
from backtest.errors import DataError
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from strategies import CryptoSleeve, FixedMix
from strategies.base import RebalanceRule
from strategies.sleeve_rules import VolScaledSleeve, cap_after_drift

ASSETS = ("us_stocks", "tbonds_10y", "tbills")


def _base_scenarios(n: int = 400, t: int = 40, tbill: float | None = None, seed: int = 0):
    """Random annual stocks and bonds; T-bills random or constant; inflation 2 %."""
    g = np.random.default_rng(seed)
    r = np.empty((n, t, 3))
    r[:, :, 0] = np.expm1(g.normal(0.07, 0.18, (n, t)))
    r[:, :, 1] = np.expm1(g.normal(0.02, 0.08, (n, t)))
    r[:, :, 2] = tbill if tbill is not None else np.abs(g.normal(0.02, 0.01, (n, t)))
    return Scenarios(r, np.full((n, t), 0.02), ASSETS, "annual")


def _plan() -> Plan:
    return Plan(
        start_age=35,
        retirement_age=55,
        end_age=75,
        initial_balance=50_000,
        contributions=Contributions(salary=60_000, rate=0.10),
        withdrawal=ConstantReal(rate=None, amount=30_000),
        expense_ratio=0.002,
        transaction_cost_bps=10,
    )


def _sixty_forty() -> FixedMix:
    return FixedMix("60/40", ASSETS, (0.6, 0.4, 0.0))


def _sleeve(base, size):
    # band None and no cap: the whole-portfolio annual calendar keeps the sleeve on target.
    return CryptoSleeve(base, size, band=None, cap=None)


# --------------------------------------------------------------------------- identities


def test_tbill_sleeve_with_zero_vol_is_the_base_with_that_much_cash():
    base_sc = _base_scenarios(tbill=0.03)
    draws = draw_crn(base_sc, "us_stocks", rng=1)
    a = BtcAssumption(mean_log=math.log1p(0.03), vol_log=0.0)
    sc = draws.scenarios(a)
    # The sleeve's return is the T-bill return in every period (to round-off).
    np.testing.assert_allclose(sc.returns[:, :, 3], 0.03, rtol=0, atol=1e-15)
    plan = _plan()
    with_sleeve = simulate(sc, plan, _sleeve(_sixty_forty(), 0.05))
    cash_mix = FixedMix("57/38/5", ASSETS, (0.57, 0.38, 0.05))
    plain = simulate(sc, plan, cash_mix)
    # Same holdings, same trades; only float round-off in the weight arithmetic differs.
    np.testing.assert_allclose(with_sleeve.wealth, plain.wealth, rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(with_sleeve.success, plain.success)


def test_sleeve_equal_to_equities_is_a_heavier_equity_mix():
    base_sc = _base_scenarios()
    draws = draw_crn(base_sc, "us_stocks", rng=2)
    x = np.log1p(base_sc.returns[:, :, 0])
    # Correlation 1 with the equities' own log mean and volatility: Bitcoin = equities.
    a = BtcAssumption(mean_log=float(x.mean()), vol_log=float(x.std()), corr_equity=1.0)
    sc = draws.scenarios(a)
    np.testing.assert_allclose(sc.returns[:, :, 3], sc.returns[:, :, 0], rtol=1e-12, atol=1e-14)
    plan = _plan()
    res = simulate(sc, plan, _sleeve(_sixty_forty(), 0.10))
    heavier = simulate(sc, plan, FixedMix("64/36", ASSETS, (0.64, 0.36, 0.0)))
    # Round-off of 1e-12 in the equal returns compounds over 40 years; 1e-8 is far below
    # any real difference (a 1-point equity change moves wealth by percents).
    np.testing.assert_allclose(res.wealth, heavier.wealth, rtol=1e-8, atol=1e-4)


def test_zero_weight_sleeve_changes_nothing_in_the_surface():
    draws = draw_crn(_base_scenarios(n=200), "us_stocks", rng=3)
    base = _sixty_forty()
    grid = assumption_grid([-0.2, 0.1], [0.5], [0.0, 0.5])
    df = run_surface(draws, _plan(), base, lambda s: _sleeve(base, s), [0.0, 1e-12], grid)
    assert len(df) == 4
    np.testing.assert_allclose(df["d_success"], 0.0, atol=0)
    np.testing.assert_allclose(df["d_median_terminal"], 0.0, atol=1e-3)


# --------------------------------------------------------------------------- assumptions


def test_crn_draws_are_monotone_in_the_mean_and_hit_the_stated_moments():
    draws = draw_crn(_base_scenarios(n=2000, t=50), "us_stocks", rng=4)
    lo = draws.crypto_returns(BtcAssumption(0.0, 0.6, 0.3))
    hi = draws.crypto_returns(BtcAssumption(0.1, 0.6, 0.3))
    assert np.all(hi > lo)  # common random numbers: a higher mean lifts every period
    x = np.log1p(hi)
    # 100,000 draws: the sample mean is within 4 standard errors (0.6 / sqrt(1e5) * 4).
    assert abs(x.mean() - 0.1) < 4 * 0.6 / math.sqrt(x.size)
    assert abs(x.std() - 0.6) < 0.01
    eq = np.log1p(draws.base.returns[:, :, 0])
    assert abs(np.corrcoef(x.ravel(), eq.ravel())[0, 1] - 0.3) < 0.02
    t = np.log1p(draws.crypto_returns(BtcAssumption(0.1, 0.6, 0.0, "student_t")))
    # Fat tails: same variance (to sampling error), higher kurtosis than the normal's 3.
    z = (t - t.mean()) / t.std()
    assert abs(t.std() - 0.6) < 0.03
    assert float(np.mean(z**4)) > 4.0


def test_assumption_validation_and_arithmetic_mean():
    a = BtcAssumption(-0.10, 0.80)
    assert a.arithmetic_mean == pytest.approx(math.expm1(-0.10 + 0.32))  # README's +24.6 %
    assert a.arithmetic_mean == pytest.approx(0.246, abs=1e-3)
    assert mean_log_for_arithmetic(a.arithmetic_mean, 0.8) == pytest.approx(-0.10)
    with pytest.raises(DataError, match="corr_equity"):
        BtcAssumption(0.0, 0.5, 1.5)
    with pytest.raises(DataError, match="already hold"):
        draw_crn(draws_with_btc(), "us_stocks")


def draws_with_btc() -> Scenarios:
    sc = _base_scenarios(n=5, t=3)
    r = np.concatenate([sc.returns, sc.returns[:, :, :1]], axis=2)
    return Scenarios(r, sc.inflation, (*ASSETS, "btc"), "annual")


def test_expected_shortfall_is_the_mean_of_the_worst_tail():
    v = np.arange(100, dtype=float)
    assert expected_shortfall(v, 0.95) == pytest.approx(2.0)  # mean of 0..4


def test_summary_outcome_matches_the_full_simulation():
    draws = draw_crn(_base_scenarios(n=300), "us_stocks", rng=5)
    sc = draws.scenarios(BtcAssumption(0.05, 0.7))
    s = _sleeve(_sixty_forty(), 0.025)
    fast = summary_outcome(sc, _plan(), s)
    full = simulate(sc, _plan(), s)
    np.testing.assert_array_equal(fast.success, full.success)
    np.testing.assert_allclose(fast.terminal, full.terminal_wealth, rtol=1e-9)
    # Annual periods, annual calendar, no band: the target mix is the mix held.
    from backtest.metrics import max_drawdown

    np.testing.assert_allclose(fast.max_drawdown, max_drawdown(full.portfolio_returns), atol=1e-12)


# --------------------------------------------------------------------------- risk


@settings(max_examples=40, deadline=None)
@given(
    w=st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4).filter(lambda v: sum(v) > 0.1),
    seed=st.integers(0, 1000),
)
def test_risk_contributions_add_up(w, seed):
    g = np.random.default_rng(seed)
    r = g.standard_t(5, size=(500, 4)) * np.array([0.15, 0.06, 0.01, 0.7])
    weights = np.asarray(w) / sum(w)
    rc = risk_contributions(r, weights, ("a", "b", "c", "btc"))
    port = r @ weights
    var = float(np.var(port, ddof=1))
    # Sums of four floats against a direct computation: round-off only.
    assert rc.variance_contrib.sum() == pytest.approx(var, rel=1e-9)
    assert rc.vol_contrib.sum() == pytest.approx(math.sqrt(var), rel=1e-9)
    worst = np.sort(port)[:25]  # ceil(500 * 0.05)
    assert rc.cvar == pytest.approx(-worst.mean(), rel=1e-9, abs=1e-12)
    assert rc.cvar_contrib.sum() == pytest.approx(rc.cvar, rel=1e-12, abs=1e-15)


def test_risk_share_of_a_zero_sleeve_is_zero_and_grows_with_size():
    g = np.random.default_rng(0)
    r = g.normal(0, 1, (2000, 3)) * np.array([0.16, 0.06, 0.7])
    shares = []
    for s in (0.0, 0.01, 0.05):
        w = np.array([0.6 * (1 - s), 0.4 * (1 - s), s])
        shares.append(risk_contributions(r, w, ("eq", "bd", "btc")).share("btc")[0])
    assert shares[0] == 0.0
    assert shares[0] < shares[1] < shares[2]


# --------------------------------------------------------------------------- rules


def test_rules_compare_every_rule_against_its_own_reference():
    draws = draw_crn(_base_scenarios(n=200), "us_stocks", rng=6)
    sc = draws.scenarios(BtcAssumption(0.05, 0.7))
    rules = standard_rules(_sixty_forty(), 0.025)
    names = [r.name for r in rules]
    for expected in ("calendar annual", "band 0.5x-1.5x", "none", "volatility-scaled"):
        assert expected in names
    assert "cap after drift" in names
    df = compare_rules(sc, _plan(), rules)
    assert len(df) == len(rules)
    assert np.all(df["turnover"] >= 0) and np.all(df["costs"] >= 0)
    # Buy and hold trades nothing; costs follow turnover at 10 bps.
    none = df.set_index("rule").loc["none"]
    assert none["turnover"] == 0.0 and none["costs"] == 0.0
    assert df.set_index("rule").loc["band 0.75x-1.25x", "turnover"] > 0


def test_vol_scaled_sleeve_uses_past_returns_only_and_shrinks_in_volatile_times():
    base = _sixty_forty()
    s = VolScaledSleeve(base, 0.05, reference_vol=0.5, window_years=2)
    from strategies.base import Schedule

    sched = Schedule.from_ages(30, 40, 65, 1)
    g = np.random.default_rng(1)
    r = np.concatenate([g.normal(0.05, 0.1, (3, 10, 3)), np.zeros((3, 10, 1))], axis=2)
    swing = np.where(np.arange(10) % 2 == 0, 1.0, -1.0)
    r[:, :, 3] = np.where(np.arange(10) < 5, 0.2, 0.9) * swing  # volatile from period 5
    w = s.target_weights(sched, r)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0)
    assert np.all(w[:, :2, 3] == 0.05)  # fewer than two past observations
    # Calm: vol of (+0.2, -0.2) = 0.283 -> 0.05 * 0.5 / 0.283; volatile: (+-0.9) -> 1.27.
    np.testing.assert_allclose(w[:, 2:6, 3], 0.05 * 0.5 / (0.4 / math.sqrt(2)), rtol=1e-12)
    np.testing.assert_allclose(w[:, 7:, 3], 0.05 * 0.5 / (1.8 / math.sqrt(2)), rtol=1e-12)
    perturbed = r.copy()
    perturbed[:, 7:] = 0.3  # the future must not move the weights up to period 7
    np.testing.assert_array_equal(s.target_weights(sched, perturbed)[:, :8], w[:, :8])


def test_cap_after_drift_trims_only_above_the_cap():
    s = cap_after_drift(_sixty_forty(), 0.025, 0.05)
    assert s.rebalance == RebalanceRule(kind="none")
    assert s.sleeve_band is not None and s.sleeve_band.lower == 0.0
    assert s.sleeve_band.upper == pytest.approx(2.0)


# --------------------------------------------------------------------------- history


def test_yearly_table_from_embedded_daily_closes():
    t = yearly_table()
    # Calendar-year returns from daily closes equal the embedded annual series
    # (backtest/data/embedded/btc_monthly.csv is derived from the same closes).
    from backtest.data import load_history

    annual = load_history(["btc"], "annual")["btc"]
    for year in (2014, 2018, 2022):
        assert t.loc[year, "return"] == pytest.approx(annual.loc[str(year)].iloc[0], abs=1e-6)
        assert -1 < t.loc[year, "max_drawdown"] < 0
        assert t.loc[year, "realised_vol"] > 0.3
    assert t.loc[2013, "data_caveat"] and not t.loc[2015, "data_caveat"]


def test_history_variants_and_caveat():
    idx = pd.date_range("2012-12-31", periods=5, freq="YE")
    h = pd.DataFrame({"btc": [1.0, 3.0, -0.5, 0.2, 0.0], "x": 0.0}, index=idx)
    assert history_variant(h, "btc", "all").equals(h)
    mature = history_variant(h, "btc", "mature", mature_start="2015")
    assert mature["btc"].isna().sum() == 3  # 2012, 2013, 2014
    scaled = history_variant(h, "btc", "scaled", scale=0.5)
    np.testing.assert_allclose(scaled["btc"], np.sqrt(1 + h["btc"]) - 1)
    with pytest.raises(DataError, match="scale"):
        history_variant(h, "btc", "scaled", scale=2.0)
    assert "Mt.Gox" in data_caveat() and "PROVENANCE" in data_caveat()


def test_window_backtest_with_and_without_the_sleeve():
    from backtest.data import load_history

    h = load_history(["us_stocks", "tbonds_10y", "tbills", "cpi"], "monthly").join(
        load_history(["btc"], "monthly"), how="left"
    )
    base = FixedMix("60/40", ("us_stocks", "tbonds_10y"), (0.6, 0.4))
    df = window_backtest(
        h, {"60/40": base, "+0%": CryptoSleeve(base, 0.0)}, "2014-01", "2025-11"
    ).set_index("strategy")
    # A zero sleeve is the base, period by period.
    for col in ("cumulative_return", "annualised_return", "volatility", "sharpe", "max_drawdown"):
        assert df.loc["+0%", col] == pytest.approx(df.loc["60/40", col], rel=1e-12)
    assert df.loc["60/40", "max_drawdown"] < 0
    with pytest.raises(DataError, match="gaps"):
        window_backtest(h, {"s": CryptoSleeve(base, 0.02)}, "2009-01", "2012-12")


def test_survival_weighted_success_by_hand():
    from backtest.crypto.surface import survival_weighted_success

    plan = Plan(55, 65, 95, 100_000, withdrawal=ConstantReal(rate=None, amount=10_000))
    s = np.linspace(1.0, 0.0, 31)  # alive at 65 + k with probability 1 - k / 30
    ruin = np.array([-1, 15, 10, 40])  # never; age 70; age 65; age 95 (beyond: last value)
    got = survival_weighted_success(ruin, plan, 1, s)
    np.testing.assert_allclose(got, [1.0, 1 - s[5], 1 - s[0], 1 - s[30]])
    # Monthly: period 186 starts at 55 + 15.5 years = 70.5, halfway between S(70) and S(71).
    np.testing.assert_allclose(
        survival_weighted_success(np.array([186]), plan, 12, s), 1 - (s[5] + s[6]) / 2
    )
