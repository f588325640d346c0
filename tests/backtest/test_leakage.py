"""Leakage before retirement (issue 24): the calibrated rules, the rule of 55, the old
"heavy" model kept bit for bit, and the calibration table against published figures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from backtest.calibration import (
    fit_cash_out_curve,
    leakage_calibration,
    leakage_events,
    leakage_sensitivity,
    usd_2025,
)
from backtest.errors import PlanError, StudyError
from backtest.leakage import (
    FORCE_OUT_CASH_USD,
    CashOutCurve,
    HardshipRule,
    calibrated_leakage,
    projected_balances,
    separation_hazard,
)
from backtest.population import PopulationSpec, draw_members
from glidelab.studyfile.design import parse_design_study

CURVE = CashOutCurve(intercept=2.0, balance_slope=1.5, age_slope=0.1)
NO_HARDSHIP = HardshipRule(rate=0.0, median=1_900.0, log_sd=1.0)


def _one_separation(contribution: float, age: float, u_cash: float, n_years: int = 4):
    """One member contributing ``contribution`` a year, separating in the last year at
    ``age``, at a zero real return (the plan balance is the sum of contributions)."""
    contrib = np.full((1, n_years), contribution)
    sep = np.zeros((1, n_years), dtype=bool)
    sep[0, -1] = True
    ages = np.arange(age - n_years + 1, age + 1, dtype=np.float64)
    u = np.full((1, n_years), u_cash)
    draw = calibrated_leakage(
        contrib, sep, ~sep, ages, u, np.ones((1, n_years)), CURVE, NO_HARDSHIP, 0.0, (0.1, 59.5)
    )
    return draw, contrib, sep


def test_small_plan_balances_are_forced_out_in_cash_whatever_the_draw() -> None:
    # 3 years of 300 USD: a plan balance of 900 <= 1,000 USD; u_cash = 0.999 would keep
    # any balance the curve leaves a choice on.
    draw, _, _ = _one_separation(300.0, 40.0, 0.999)
    assert draw.cashed_out[0, -1] and draw.share[0, -1] == pytest.approx(1.0)
    assert CURVE.probability(np.array([FORCE_OUT_CASH_USD]), 30.0)[0] == 1.0


def test_large_balances_roll_over_and_stay_invested() -> None:
    # 3 x 100,000 USD: the curve gives a small probability, below u_cash = 0.9.
    p = CURVE.probability(np.array([300_000.0]), 40.0)[0]
    assert p < 0.9
    draw, contrib, sep = _one_separation(100_000.0, 40.0, 0.9)
    assert not draw.cashed_out.any() and (draw.share == 0).all()
    plan, rolled = projected_balances(contrib, sep, draw.share, 0.0)
    assert plan[0, -1] == contrib[0, -1]  # the new plan holds the last contribution only
    assert rolled[0, -1] == 300_000.0  # the rolled-over balance is preserved


def test_cash_out_probability_falls_with_balance_and_age() -> None:
    b = np.array([2_000.0, 7_000.0, 30_000.0, 300_000.0])
    young, old = CURVE.probability(b, 30.0), CURVE.probability(b, 60.0)
    assert (np.diff(young) < 0).all() and (old < young).all()


def test_separation_hazard_reads_bls_median_tenure() -> None:
    # Median tenure m <-> yearly probability 1 - 2^(-1/m) at the bands' mid-ages.
    h = separation_hazard(np.array([29.5, 59.5, 22.0, 70.0]))
    np.testing.assert_allclose(h[:2], 1.0 - 2.0 ** (-1.0 / np.array([2.7, 9.6])), rtol=1e-12)
    assert h[2] == h[0] and h[3] == h[1]  # held flat outside the bands


def test_hardship_withdrawals_are_dollar_amounts_with_the_stated_median() -> None:
    rule = HardshipRule(rate=0.02, median=1_900.0, log_sd=1.0)
    u = np.random.default_rng(3).random(1_000_000)
    amounts = rule.amounts(u)
    hit = amounts > 0
    # 20,000 withdrawals: the median's standard error is about 1.25 x 1.0 / sqrt(20,000)
    # = 0.9 % in logs; 4 % is over 4 standard errors.
    assert hit.mean() == pytest.approx(0.02, rel=0.03)  # binomial sd 0.7 % of 0.02
    assert np.median(amounts[hit]) == pytest.approx(1_900.0, rel=0.04)
    assert np.std(np.log(amounts[hit])) == pytest.approx(1.0, rel=0.03)  # sd's se 0.5 %


def test_drawn_hardship_amounts_do_not_scale_with_the_balance() -> None:
    m = draw_members(PopulationSpec(), 2_000, 5)
    ev = leakage_events(m)
    hard = ev.hardship[m.hardship]
    assert hard.size > 500 and (hard <= ev.plan[m.hardship] + 1e-6).all()
    # Capped lognormal with median 1,900: under the cap half lie below 1,900 USD.
    assert np.median(hard) == pytest.approx(1_900.0, rel=0.15)  # ~1,200 draws: se ~3.6 %


def test_rule_of_55_no_additional_tax_on_a_cash_out_from_55() -> None:
    n_years = 3
    for age, taxed in ((54.0, True), (55.0, False), (57.0, False), (60.0, False)):
        draw, _, _ = _one_separation(200.0, age, 0.0, n_years)  # 600 USD: forced out
        assert draw.cashed_out[0, -1]
        assert bool(draw.penalty_rate[0, -1] == 0.1) == taxed, age
    # A hardship withdrawal before 59.5 pays it at any age (no separation from service).
    contrib = np.full((1, 3), 10_000.0)
    never = np.zeros((1, 3), dtype=bool)
    ages = np.array([56.0, 57.0, 60.0])
    always = HardshipRule(rate=1.0, median=1_000.0, log_sd=0.0)
    d = calibrated_leakage(
        contrib,
        never,
        ~never,
        ages,
        np.ones((1, 3)),
        np.full((1, 3), 0.5),
        CURVE,
        always,
        0.0,
        (0.1, 59.5),
    )
    assert d.hardship[0, 1:].all() and not d.hardship[0, 0]  # no balance in the first year
    np.testing.assert_array_equal(d.penalty_rate[0], [0.0, 0.1, 0.0])


def test_drawn_members_follow_the_rule_of_55() -> None:
    m = draw_members(PopulationSpec(), 3_000, 9)
    ages = np.broadcast_to(m.spec.ages, m.cashed_out.shape)
    assert (m.penalty_rate[m.cashed_out & (ages >= 55)] == 0).all()
    assert (m.penalty_rate[m.cashed_out & (ages < 55)] == 0.1).all()
    assert (m.cashed_out & (ages >= 55)).any()  # the rule is exercised


#: ``draw_members(PopulationSpec(), 40, 11)`` before issue 24 (commit b02d30d): every
#: non-zero ``leakage_share`` as (member, period, share).
HEAVY_BEFORE_ISSUE_24 = (
    (1, 22, 0.25),
    (2, 18, 1.0),
    (2, 39, 0.25),
    (3, 9, 0.25),
    (4, 8, 0.25),
    (5, 40, 1.0),
    (8, 38, 0.25),
    (9, 14, 1.0),
    (9, 17, 1.0),
    (9, 35, 1.0),
    (10, 26, 0.25),
    (11, 11, 1.0),
    (14, 17, 1.0),
    (14, 37, 0.25),
    (15, 23, 0.25),
    (15, 42, 1.0),
    (16, 12, 1.0),
    (17, 23, 1.0),
    (18, 19, 0.25),
    (18, 24, 1.0),
    (19, 14, 1.0),
    (19, 19, 0.25),
    (19, 22, 1.0),
    (19, 23, 0.25),
    (20, 13, 0.25),
    (20, 30, 1.0),
    (21, 6, 1.0),
    (23, 15, 0.25),
    (23, 34, 1.0),
    (25, 29, 0.25),
    (26, 11, 1.0),
    (27, 2, 0.25),
    (27, 8, 1.0),
    (28, 17, 0.25),
    (28, 22, 0.25),
    (28, 34, 1.0),
    (28, 37, 0.25),
    (30, 29, 0.25),
    (31, 19, 0.25),
    (32, 19, 1.0),
    (32, 26, 0.25),
    (33, 11, 1.0),
    (33, 37, 1.0),
    (35, 11, 1.0),
    (35, 22, 1.0),
    (37, 15, 1.0),
    (37, 42, 1.0),
    (37, 44, 1.0),
    (38, 24, 0.25),
    (38, 40, 0.25),
    (39, 15, 1.0),
)


def test_heavy_reproduces_the_model_before_issue_24_bit_for_bit() -> None:
    spec = PopulationSpec(leakage="heavy", income_shocks=False)
    m = draw_members(spec, 40, 11)
    before = np.zeros_like(m.leakage_share)
    for i, t, s in HEAVY_BEFORE_ISSUE_24:
        before[i, t] = s
    # Members who die before retirement (drawn since) stop leaking from the year of death;
    # the others leak exactly as before, the additional tax on all leakage before 59.5.
    alive = m.alive_at_retirement
    assert alive.sum() >= 30
    np.testing.assert_array_equal(m.leakage_share[alive], before[alive])
    early = (before > 0) & (spec.ages[None, :] < 59.5)
    np.testing.assert_array_equal(m.penalty_rate[alive], np.where(early, 0.1, 0.0)[alive])
    assert (m.leakage_share[~alive] <= before[~alive]).all()


def test_none_has_the_calibrated_careers_without_leakage() -> None:
    cal = draw_members(PopulationSpec(), 500, 4)
    none = draw_members(PopulationSpec(leakage="none"), 500, 4)
    np.testing.assert_array_equal(cal.separation, none.separation)
    np.testing.assert_array_equal(cal.contributions, none.contributions)
    assert (none.leakage_share == 0).all() and (cal.leakage_share > 0).any()


def test_leakage_choice_is_checked_and_read_from_study_files() -> None:
    with pytest.raises(PlanError, match="leakage"):
        PopulationSpec(leakage="some")
    study = parse_design_study({"population": {"leakage": "heavy"}})
    assert study.population.leakage == "heavy"
    with pytest.raises(StudyError, match="leakage"):
        parse_design_study({"population": {"leakage": "light"}})


def test_published_dollars_are_moved_to_2025_by_cpi() -> None:
    # Annual-average CPI-U 2025 / 2006 from the embedded monthly CPI: about 1.6.
    assert usd_2025(10_000.0, 2006) == pytest.approx(15_980.0, rel=0.01)  # rounding only
    assert usd_2025(1.0, 2025) == 1.0


@pytest.fixture(scope="module")
def calibrated_table():
    # A seed other than the fit's (2060): the defaults must hold out of sample.
    return leakage_calibration(draw_members(PopulationSpec(), 5_000, 17))


#: The one published figure the calibrated default does not meet: a secondary report of
#: one employer's records (41.4 % of separating employees cash out) against the model's
#: about 0.71, the price of meeting the checked figures above it (EBRI's median, Vanguard's
#: 60+ decisions, Munnell and Webb's 25 %) with one curve; reported, not hidden.
NOT_MET = "share of separations cashed out, all ages"


def test_calibration_table_is_within_tolerance_for_the_default(calibrated_table) -> None:
    table = calibrated_table
    assert list(table.columns) == [
        "model",
        "published",
        "tolerance",
        "source",
        "why",
        "secondary",
        "role",
        "within",
    ]
    met = table.drop(index=NOT_MET)
    assert met["within"].all(), met.loc[~met["within"], ["model", "published"]]
    assert not table.loc[NOT_MET, "within"] and table.loc[NOT_MET, "secondary"]


def test_calibration_table_flags_the_heavy_model() -> None:
    spec = dataclasses.replace(PopulationSpec(), leakage="heavy")
    table = leakage_calibration(draw_members(spec, 5_000, 17))
    assert not table.loc["median cash-out at separation, USD", "within"]
    assert not table.loc["median hardship withdrawal, USD", "within"]
    assert not table["within"].all()


def test_the_cash_out_curve_is_fitted_not_set_by_hand() -> None:
    # From a poor curve, the fit on 1,000 members brings every fitted figure within its
    # tolerance (loss: the farthest figure's distance in tolerances) and lands near the
    # defaults, which the same function gave at 20,000 members, seed 2060 (PROVENANCE,
    # "Member behaviour calibration").
    poor = dataclasses.replace(
        PopulationSpec(), cash_out_intercept=0.0, cash_out_balance_slope=1.0, cash_out_age_slope=0.0
    )
    _, start = fit_cash_out_curve(poor, 1_000, 3, max_evaluations=2)
    curve, loss = fit_cash_out_curve(poor, 1_000, 3, max_evaluations=200)
    assert start > 1.5 and loss < 1.0
    assert curve.balance_slope > 2.0 and curve.age_slope >= 0


def test_leakage_sensitivity_compares_the_models_on_the_same_members() -> None:
    spec = PopulationSpec()
    growth = np.full((7, spec.n_periods), 1.04)  # 4 % real a year on every path
    sens = leakage_sensitivity(spec, 300, 5, growth)
    assert list(sens.index) == ["none", "calibrated", "heavy"]
    assert sens.loc["none", "aggregate leakage"] == 0.0
    # Same careers, contributions and paths: leakage can only lower each member's wealth.
    assert sens.loc["calibrated", "aggregate leakage"] > 0.0
    success = sens["success (survival-weighted)"]
    assert success["none"] >= success["calibrated"]
