"""Presets: stated knots, registry behaviour, and every preset through the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.data import load_history
from backtest.generators import historical_cohorts
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from strategies import (
    PRESETS,
    CryptoSleeve,
    Schedule,
    Strategy,
    calendar,
    list_presets,
    preset,
    validate_weights,
)
from strategies import presets as P

# Knot values are typed-in decimals interpolated linearly: round-off only.
TOL = 1e-12
AGES = np.array([25.0, 45.0, 65.0, 85.0])


def weights_at_ages(s: Strategy, ages=AGES, retirement=65.0) -> np.ndarray:
    sch = Schedule(np.asarray(ages, dtype=float), retirement, 1)
    return s.target_weights(sch, np.zeros((1, len(ages), len(s.assets))))[0]


def test_vanguard_matches_stated_knots():
    s = preset("vanguard_target_retirement")
    assert s.knots_years_to_retirement == (-7.0, 0.0, 25.0)
    eq = s.weights_at(np.array([40.0, 25.0, 0.0, -7.0, -20.0]))[:, 0]
    np.testing.assert_allclose(eq, [0.90, 0.90, 0.50, 0.30, 0.30], atol=TOL)
    assert s.monotone_equity and "Vanguard" in (P.vanguard_target_retirement.__doc__ or "")
    # ages 25/45/65/85 at retirement 65: 90 %, 90 - 40 * 5/25 = 82 %, 50 %, 30 %
    np.testing.assert_allclose(weights_at_ages(s)[:, 0], [0.90, 0.82, 0.50, 0.30], atol=TOL)


def test_fidelity_matches_stated_knots():
    s = preset("fidelity_freedom")
    w = s.weights_at(np.array([20.0, 0.0, -15.0, -30.0]))
    np.testing.assert_allclose(
        w,
        [[0.90, 0.10, 0.0], [0.57, 0.38, 0.05], [0.24, 0.46, 0.30], [0.24, 0.46, 0.30]],
        atol=TOL,
    )
    assert s.assets == ("us_stocks", "tbonds_10y", "tbills")


def test_bond_tent_rises_after_retirement():
    s = preset("rising_equity_bond_tent")
    eq = s.weights_at(np.array([25.0, 10.0, 0.0, -15.0, -30.0, -40.0]))[:, 0]
    np.testing.assert_allclose(eq, [0.90, 0.60, 0.30, 0.45, 0.60, 0.60], atol=TOL)
    assert not s.monotone_equity


@pytest.mark.parametrize(
    ("name", "equity"),
    [("100_minus_age", [0.75, 0.55, 0.35, 0.15]), ("110_minus_age", [0.85, 0.65, 0.45, 0.25])],
)
def test_age_rules_match(name, equity):
    np.testing.assert_allclose(weights_at_ages(preset(name))[:, 0], equity, atol=TOL)


@pytest.mark.parametrize(
    ("name", "equity"),
    [
        ("fixed_20_80", 0.2),
        ("fixed_40_60", 0.4),
        ("fixed_60_40", 0.6),
        ("fixed_80_20", 0.8),
        ("fixed_100_0", 1.0),
    ],
)
def test_fixed_mixes(name, equity):
    np.testing.assert_allclose(weights_at_ages(preset(name))[:, 0], equity, atol=TOL)


def test_vol_targets_and_sleeves_as_stated():
    for pct in (3, 6, 10):
        s = preset(f"vol_target_{pct}")
        assert s.target_vol_annual == pytest.approx(pct / 100)
        assert s.assets == ("us_stocks", "tbills") and s.depends_on_returns
    for name, size in [
        ("btc_sleeve_0", 0.0),
        ("btc_sleeve_1", 0.01),
        ("btc_sleeve_2_5", 0.025),
        ("btc_sleeve_5", 0.05),
    ]:
        s = preset(name)
        assert isinstance(s, CryptoSleeve) and s.sleeve_weight == size
        np.testing.assert_allclose(weights_at_ages(s)[:, 2], size, atol=TOL)


def test_asset_names_are_parameters():
    s = preset("vanguard_target_retirement", equity="world", bonds="agg")
    assert s.assets == ("world", "agg")
    s = preset(
        "btc_sleeve_5", bitcoin="xbt", base=preset("110_minus_age"), rebalance=calendar("quarterly")
    )
    assert s.assets == ("us_stocks", "tbonds_10y", "xbt")
    assert s.rebalance == calendar("quarterly")


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ValueError, match="vanguard_target_retirement"):
        preset("vangard")
    with pytest.raises(ValueError, match="unexpected keyword"):
        preset("fixed_60_40", stocks="x")


def test_list_presets_one_line_each():
    items = list_presets()
    assert [n for n, _ in items] == list(PRESETS)
    assert all(d and "\n" not in d for _, d in items)
    assert len(items) >= 18


# ---------------------------------------------------------------- through the simulator


@pytest.fixture(scope="module")
def annual_history():
    return load_history(["us_stocks", "tbonds_10y", "tbills", "btc", "cpi"], "annual")


@pytest.fixture(scope="module")
def annual_long():
    return load_history(["us_stocks", "tbonds_10y", "tbills", "cpi"], "annual")


LIFECYCLE = Plan(
    start_age=25.0,
    retirement_age=65.0,
    end_age=95.0,
    contributions=Contributions(salary=60_000, rate=0.10),
    withdrawal=ConstantReal(rate=0.04),
)


@pytest.mark.parametrize("name", [n for n in PRESETS if not n.startswith("btc_")])
def test_every_preset_runs_on_embedded_annual_data(name, annual_long):
    s = preset(name)
    sc = historical_cohorts(annual_long, list(s.assets), LIFECYCLE.n_periods(1), wrap=True)
    res = simulate(sc, LIFECYCLE, s, record_weights=True)
    assert res.n_scenarios == 98  # 1928-2025, wrapped
    assert np.isfinite(res.wealth).all() and (res.wealth >= 0).all()
    validate_weights(res.weights, s.assets, name)
    assert 0.0 <= res.success_rate <= 1.0


@pytest.mark.parametrize("name", [n for n in PRESETS if n.startswith("btc_")])
def test_crypto_presets_run_on_the_bitcoin_era(name, annual_history):
    # before_data="exclude": only periods with Bitcoin data (2011-2025), a 10-year retirement
    s = preset(name)
    plan = Plan(
        start_age=65.0,
        retirement_age=65.0,
        end_age=75.0,
        initial_balance=1e6,
        withdrawal=ConstantReal(rate=0.04),
    )
    sc = historical_cohorts(annual_history, list(s.assets), 10)
    assert sc.labels[0] == "2011" and sc.n_scenarios == 6
    res = simulate(sc, plan, s, record_weights=True)
    assert np.isfinite(res.wealth).all()
    validate_weights(res.weights, s.assets, name)


def test_crypto_preset_with_cash_rule_runs_where_bitcoin_data_start_late(annual_long):
    # The last 70 years (1956-2025) with Bitcoin missing (NaN) before 2011: under
    # before_data="cash" the strategy holds the sleeve in T-bills until the data start.
    s = preset("btc_sleeve_2_5", before_data="cash", base=preset("vanguard_target_retirement"))
    frame = annual_long.join(load_history(["btc"], "annual")).iloc[-70:]
    assert frame["btc"].isna().sum() == 55 and frame.index[0].year == 1956
    returns = frame[list(s.assets)].to_numpy()[None]
    sc = Scenarios(returns, frame["cpi"].to_numpy()[None], s.assets, "annual")
    res = simulate(sc, LIFECYCLE, s, record_weights=True)
    assert np.isfinite(res.wealth).all()
    btc = s.assets.index("btc")
    assert (res.weights[0, :55, btc] == 0).all() and (res.weights[0, 55:, btc] > 0).all()


@pytest.fixture(scope="module")
def monthly_long():
    return load_history(["us_stocks", "tbonds_10y", "tbills", "cpi"], "monthly")


@pytest.mark.parametrize(
    "name",
    [
        "vanguard_target_retirement",
        "fidelity_freedom",
        "110_minus_age",
        "vol_target_6",
        "risk_parity",
        "fixed_60_40",
    ],
)
def test_presets_run_on_embedded_monthly_data(name, monthly_long):
    s = preset(name)
    plan = Plan(
        start_age=45.0,
        retirement_age=65.0,
        end_age=65.0,
        contributions=Contributions(salary=60_000, rate=0.10),
    )
    sc = historical_cohorts(monthly_long, list(s.assets), plan.n_periods(12))
    sc = sc.take(slice(None, None, 12))  # one cohort a year keeps the test fast
    res = simulate(sc, plan, s, record_weights=True)
    assert np.isfinite(res.wealth).all() and res.n_scenarios > 70
    validate_weights(res.weights, s.assets, name)


@pytest.mark.parametrize("pct", [3, 6, 10])
def test_vol_targets_on_a_century_of_monthly_stocks(pct, monthly_long):
    # Not i.i.d.: volatility clusters, so the EWMA forecast lags. Measured realised vol
    # 1928-07..2025-11 (after a 24-month warm-up): 3.22 %, 6.32 %, 10.44 %; allow 10 %.
    s = preset(f"vol_target_{pct}")
    r = monthly_long[list(s.assets)].to_numpy()[None]
    w = s.target_weights(Schedule(25 + np.arange(r.shape[1]) / 12, 65.0, 12), r)
    realised = (w * r).sum(-1)[0, 24:].std(ddof=1) * np.sqrt(12)
    assert abs(realised / (pct / 100) - 1) < 0.10, realised


def test_smoothed_preset_carries_its_overlay(annual_long):
    s = preset("smoothed_60_40")
    assert s.smoothing.share_above == 0.5 and s.smoothing.benchmark_annual == 0.03
    sc = historical_cohorts(annual_long, list(s.assets), 30)
    plan = Plan(start_age=35.0, retirement_age=65.0, end_age=65.0, initial_balance=100.0)
    res = simulate(sc, plan, s)
    raw = simulate(sc, plan, preset("fixed_60_40"))
    assert res.reserve is not None and (res.reserve >= 0).all()
    # money is moved between account and reserve, never created or lost (round-off only)
    np.testing.assert_allclose(res.wealth + res.reserve, raw.wealth, rtol=1e-10)


@pytest.mark.parametrize("ppy", [1, 12])
def test_risk_parity_waits_two_years_at_either_frequency(ppy):
    # The docstring promises equal weights until two years of history exist. With
    # volatilities 3:1 the weights leave 50/50 for 25/75 as soon as the forecast is used.
    n = 6 * ppy
    rng = np.random.default_rng(3)
    r = np.stack([0.03 * rng.standard_normal(n), 0.01 * rng.standard_normal(n)], axis=-1)
    s = preset("risk_parity", equity="a", bonds="b")
    w = s.target_weights(Schedule(40 + np.arange(n) / ppy, 65.0, ppy), r[None])[0]
    warm = 2 * ppy  # periods in two years: 2 annual, 24 monthly
    np.testing.assert_array_equal(w[:warm], 0.5)  # exactly the equal-weight warm-up
    assert np.all(np.abs(w[warm:, 0] - 0.5) > 0.05)  # then inverse volatility, far from 50/50
    assert "two years" in P.risk_parity.__doc__


@pytest.mark.parametrize(
    ("name", "ages_equity"),
    [
        # T. Rowe Price: 98 % to 25y before (approximate), 55 % at target, 30 % at +30y.
        ("t_rowe_price_retirement", [(30, 0.98), (40, 0.98), (65, 0.55), (95, 0.30), (100, 0.30)]),
        # BlackRock LifePath Index: 100 % to 30y before, 40 % at target and after ("to").
        ("blackrock_lifepath_index", [(30, 1.00), (35, 1.00), (65, 0.40), (90, 0.40)]),
    ],
)
def test_industry_glide_paths_hit_their_cited_knots(
    name: str, ages_equity: list[tuple[int, float]]
) -> None:
    s = preset(name)
    assert s.monotone_equity and s.source
    sched = Schedule.from_ages(25, 101, 65, 1)
    w = s.target_weights(sched, np.zeros((1, 76, 2)))[0]
    for age, equity in ages_equity:
        assert w[age - 25, 0] == pytest.approx(equity, abs=1e-12)


def test_sleeve_presets_name_the_groups_they_fund_from():
    # The sleeve knows no asset names of its own: the preset passes its equity and its
    # bonds and cash, so funding works on any names the preset is built with.
    s = preset("btc_sleeve_5", equity="eq", bonds="bd", funded_from="equity")
    assert (s.equity_assets, s.bond_assets) == (("eq",), ("bd", "tbills"))
    w = s.target_weights(Schedule(np.array([40.0]), 65.0, 1), np.zeros((1, 1, 3)))
    np.testing.assert_allclose(w[0, 0], [0.55, 0.40, 0.05], atol=TOL)
    fid = preset("fidelity_freedom")  # 24/46/30 equity/bonds/cash at +15 years
    s = preset("btc_sleeve_5", base=fid, funded_from="bonds")
    w = s.target_weights(Schedule(np.array([85.0]), 65.0, 1), np.zeros((1, 1, 4)))
    # 5 points taken from bonds and cash pro rata to 46:30
    np.testing.assert_allclose(
        w[0, 0], [0.24, 0.46 - 0.05 * 46 / 76, 0.30 - 0.05 * 30 / 76, 0.05], atol=TOL
    )
