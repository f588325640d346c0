"""CryptoSleeve: funding, band and cap behaviour in the simulator, before-data rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.generators import Proxy
from backtest.plan import Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from strategies import (
    CryptoSleeve,
    FixedMix,
    GlidePath,
    LognormalProxy,
    Schedule,
    SleeveBand,
    VolatilityTarget,
    buy_and_hold,
    calendar,
    fill_before_data,
    periods_with_data,
    validate_weights,
)

# Weights in these tests are a few multiplications of round numbers: round-off only.
TOL = 1e-12


def scenarios(btc: list[float], n_periods: int | None = None) -> Scenarios:
    """One annual scenario: flat stocks and bonds, the given Bitcoin returns, no inflation."""
    t = len(btc) if n_periods is None else n_periods
    r = np.zeros((1, t, 4))
    r[0, : len(btc), 2] = btc
    r[0, :, 3] = 0.01  # tbills
    return Scenarios(r, np.zeros((1, t)), ("eq", "bd", "btc", "tbills"), "annual")


def run(strategy, sc: Scenarios):
    end = 60.0 + sc.n_periods
    plan = Plan(start_age=60.0, retirement_age=end, end_age=end, initial_balance=100.0)
    return simulate(sc, plan, strategy, record_weights=True)


def base(rebalance=None) -> FixedMix:
    return FixedMix("60/40", ("eq", "bd"), (0.6, 0.4), rebalance=rebalance or buy_and_hold())


def test_weights_and_assets_pro_rata():
    s = CryptoSleeve(base(), 0.05)
    assert s.assets == ("eq", "bd", "btc")
    assert s.name == "60/40 + 5% btc"
    w = s.target_weights(Schedule(np.arange(3.0), 65.0, 1), np.zeros((1, 3, 3)))
    np.testing.assert_allclose(w[0, 0], [0.57, 0.38, 0.05], atol=TOL)
    assert s.sleeve_band == SleeveBand("btc", 0.5, 1.5)


@pytest.mark.parametrize(
    ("funded_from", "expected"),
    [("equity", [0.55, 0.40, 0.05]), ("bonds", [0.60, 0.35, 0.05])],
)
def test_funded_from_a_group(funded_from, expected):
    s = CryptoSleeve(
        base(), 0.05, funded_from=funded_from, equity_assets=("eq",), bond_assets=("bd",)
    )
    w = s.target_weights(Schedule(np.arange(2.0), 65.0, 1), np.zeros((1, 2, 3)))
    np.testing.assert_allclose(w[0, 0], expected, atol=TOL)


def test_group_shortfall_comes_pro_rata_from_the_rest():
    # A glide path whose equity falls to 2 %: a 5 % sleeve takes all 2 %, then 3 % from bonds/cash.
    gp = GlidePath("g", ("eq", "bd", "cash"), (10.0, 0.0), ((0.5, 0.5, 0.0), (0.02, 0.49, 0.49)))
    s = CryptoSleeve(gp, 0.05, funded_from="equity", equity_assets=("eq",))
    w = s.target_weights(Schedule(np.array([55.0, 65.0]), 65.0, 1), np.zeros((1, 2, 4)))
    np.testing.assert_allclose(w[0, 0], [0.45, 0.5, 0.0, 0.05], atol=TOL)
    np.testing.assert_allclose(w[0, 1], [0.0, 0.475, 0.475, 0.05], atol=TOL)


@settings(max_examples=50, deadline=None)
@given(
    eq=st.floats(0.0, 1.0),
    sleeve=st.floats(0.0, 0.1),
    funded=st.sampled_from(["equity", "bonds", "pro_rata"]),
    ages=st.lists(st.floats(20.0, 100.0), min_size=1, max_size=10),
)
def test_sleeve_weights_sum_to_one_within_bounds(eq, sleeve, funded, ages):
    gp = GlidePath("g", ("us_stocks", "tbonds_10y"), (30.0, -10.0), ((eq, 1 - eq), (0.2, 0.8)))
    s = CryptoSleeve(
        gp, sleeve, funded_from=funded, equity_assets=("us_stocks",), bond_assets=("tbonds_10y",)
    )
    sch = Schedule(np.asarray(ages), 65.0, 1)
    w = s.target_weights(sch, np.zeros((1, len(ages), 3)))
    validate_weights(w, s.assets, "sleeve")
    np.testing.assert_allclose(w[..., 2], sleeve, atol=TOL)


@pytest.mark.parametrize(
    ("btc_ret", "rebalanced", "weight_next"),
    [
        (1.00, True, 0.05),  # doubles: 0.10 / 1.05 = 9.5 % > 1.5 x 5 % -> trimmed
        (0.20, False, 0.06 / 1.01),  # 5.9 % inside [2.5 %, 7.5 %] -> left alone
        (-0.60, True, 0.05),  # 2.1 % < 0.5 x 5 % -> topped up
    ],
)
def test_band_rebalances_only_the_sleeve(btc_ret, rebalanced, weight_next):
    s = CryptoSleeve(base(), 0.05, cap=None)
    res = run(s, scenarios([btc_ret, 0.0]))
    w1 = res.weights[0, 1]
    np.testing.assert_allclose(w1[2], weight_next, atol=TOL)
    # the other holdings keep their 60:40 proportion either way
    np.testing.assert_allclose(w1[0] / w1[1], 1.5, atol=TOL)
    assert (res.turnover[0, 1] > 0) == rebalanced


def test_cap_trims_inside_the_band():
    s = CryptoSleeve(base(), 0.05, cap=0.06)  # band upper becomes 1.2 x
    assert s.sleeve_band.upper == pytest.approx(1.2)
    res = run(s, scenarios([0.30, 0.0]))  # 6.5 / 101.5 = 6.4 % > 6 %
    np.testing.assert_allclose(res.weights[0, 1, 2], 0.05, atol=TOL)


def test_without_band_or_cap_the_sleeve_drifts_under_buy_and_hold():
    s = CryptoSleeve(base(), 0.05, band=None, cap=None)
    assert s.sleeve_band is None
    res = run(s, scenarios([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(res.weights[0, 2, 2], 0.20 / 1.15, atol=TOL)  # 5 -> 20 of 115


def test_cap_alone_trims_but_never_tops_up():
    s = CryptoSleeve(base(), 0.05, band=None, cap=0.10)
    assert s.sleeve_band == SleeveBand("btc", 0.0, 2.0)
    low = run(s, scenarios([-0.9, 0.0]))
    np.testing.assert_allclose(low.weights[0, 1, 2], 0.005 / 0.955, atol=TOL)
    high = run(s, scenarios([2.0, 0.0]))  # 15 / 110 = 13.6 % > 10 % -> back to 5 %
    np.testing.assert_allclose(high.weights[0, 1, 2], 0.05, atol=TOL)


def test_base_calendar_rule_rebalances_everything():
    s = CryptoSleeve(base(calendar("annual")), 0.05)
    assert s.rebalance == calendar("annual")
    res = run(s, scenarios([0.2, 0.0, 0.0]))
    np.testing.assert_allclose(res.weights[0, 1], [0.57, 0.38, 0.05], atol=TOL)


def test_zero_sleeve_is_the_base():
    s = CryptoSleeve(base(), 0.0)
    assert s.sleeve_band is None
    res = run(s, scenarios([0.5, 0.5]))
    np.testing.assert_allclose(res.weights[0, :, 2], 0.0, atol=TOL)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"sleeve_weight": 0.15}, "cap"),
        ({"sleeve_weight": -0.01}, "sleeve_weight"),
        ({"funded_from": "gold"}, "funded_from"),
        ({"funded_from": "equity"}, "equity_assets"),
        ({"before_data": "zero"}, "before_data"),
        ({"band": SleeveBand("eth", 0.5, 1.5)}, "eth"),
    ],
)
def test_validation(kw, match):
    args = {"base": base(), "sleeve_weight": 0.05}
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        CryptoSleeve(**args)


def test_base_already_holding_crypto_is_refused():
    with pytest.raises(ValueError, match="already holds"):
        CryptoSleeve(FixedMix("x", ("eq", "btc"), (0.9, 0.1)), 0.05)


# ------------------------------------------------------------------ before Bitcoin data


def test_before_data_cash_holds_the_sleeve_in_cash():
    s = CryptoSleeve(base(), 0.05, before_data="cash")
    assert s.assets == ("eq", "bd", "btc", "tbills")
    sc = scenarios([np.nan, np.nan, 0.5, 0.0])
    w = s.target_weights(Schedule(np.arange(4.0), 65.0, 1), sc.returns)
    np.testing.assert_allclose(w[0, :2, 2], 0.0, atol=TOL)
    np.testing.assert_allclose(w[0, :2, 3], 0.05, atol=TOL)
    np.testing.assert_allclose(w[0, 2:], [[0.57, 0.38, 0.05, 0.0]] * 2, atol=TOL)
    res = run(s, sc)  # runs: the simulator never sees Bitcoin held without data
    assert np.isfinite(res.terminal_wealth).all()


def test_before_data_exclude_refuses_missing_periods():
    s = CryptoSleeve(base(), 0.05, before_data="exclude")
    sc = scenarios([np.nan, 0.5])
    with pytest.raises(ValueError, match="periods_with_data"):
        s.target_weights(Schedule(np.arange(2.0), 65.0, 1), sc.returns[..., :3])
    mask = periods_with_data(sc.returns, 2)
    np.testing.assert_array_equal(mask, [[False, True]])


def test_before_data_proxy_needs_filled_returns():
    s = CryptoSleeve(base(), 0.05, before_data="proxy")
    sc = scenarios([np.nan, np.nan, 0.1])
    with pytest.raises(ValueError, match="fill_before_data"):
        s.target_weights(Schedule(np.arange(3.0), 65.0, 1), sc.returns[..., :3])
    filled = fill_before_data(
        sc.returns, 2, "proxy", proxy=LognormalProxy(0.2, 0.7), periods_per_year=1, rng=5
    )
    assert np.isfinite(filled).all() and filled[0, 2, 2] == 0.1  # real data untouched
    assert np.isnan(sc.returns[0, 0, 2])  # input not modified
    w = s.target_weights(Schedule(np.arange(3.0), 65.0, 1), filled[..., :3])
    validate_weights(w, s.assets, "proxy")


def test_fill_before_data_rules():
    r = np.array([[[np.nan, 0.01], [np.nan, 0.02], [0.5, 0.03]]])
    cash = fill_before_data(r, 0, "cash", cash_index=1)
    np.testing.assert_allclose(cash[0, :, 0], [0.01, 0.02, 0.5], atol=0)
    series = fill_before_data(r, 0, "proxy", proxy=np.array([0.1, 0.2, 0.3]))
    np.testing.assert_allclose(series[0, :, 0], [0.1, 0.2, 0.5], atol=0)
    same_as_backtest = fill_before_data(
        r, 0, "proxy", proxy=Proxy(0.2, 0.7), periods_per_year=1, rng=1
    )
    mine = fill_before_data(
        r, 0, "proxy", proxy=LognormalProxy(0.2, 0.7), periods_per_year=1, rng=1
    )
    np.testing.assert_array_equal(same_as_backtest, mine)
    with pytest.raises(ValueError, match="cash_index"):
        fill_before_data(r, 0, "cash")
    with pytest.raises(ValueError, match="periods_per_year"):
        fill_before_data(r, 0, "proxy", proxy=LognormalProxy(0.2, 0.7))
    with pytest.raises(ValueError, match="not a fill"):
        fill_before_data(r, 0, "exclude")  # type: ignore[arg-type]


def test_lognormal_proxy_moments():
    p = LognormalProxy(mean_log_annual=0.2, vol_log_annual=0.6)
    x = np.log1p(p.sample((200_000,), periods_per_year=12, rng=0))
    # 200k draws: standard errors ~0.04 % of the monthly moments; 1 % tolerance is ample
    np.testing.assert_allclose(x.mean() * 12, 0.2, rtol=0.05)
    np.testing.assert_allclose(x.std() * np.sqrt(12), 0.6, rtol=0.01)


def test_sleeve_over_an_adaptive_base_passes_only_base_columns():
    vt = VolatilityTarget("vt", "eq", "tbills", 0.10, halflife_periods=2)
    s = CryptoSleeve(vt, 0.025, funded_from="bonds", bond_assets=("tbills",))
    assert s.depends_on_returns
    rng = np.random.default_rng(0)
    r = rng.normal(0.01, 0.1, (4, 12, 3))
    w = s.target_weights(Schedule(np.arange(12.0), 65.0, 1), r)
    assert w.shape == (4, 12, 3)
    validate_weights(w, s.assets, "sleeve")
