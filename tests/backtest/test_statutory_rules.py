"""Statutory plan rules (2025 IRS limits, SECURE 2.0): the super catch-up at 60-63, the
415(c) cap on annual additions, and the first RMD age by year of birth.

Figures: /work/shared/sources/retirement-evidence.md, "Statutory figures (2025)". Every
expected amount is written out by hand; exact equality where the rule is min/max of
round numbers (no float arithmetic beyond products of exactly representable values).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from backtest.cashflows import cash_flow_rules
from backtest.errors import PlanError
from backtest.plan import (
    Contributions,
    FixedPercent,
    Plan,
    contribution_amounts,
    first_rmd_age,
)
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from glidelab.studyfile.plans import read_plans
from tests.backtest.reference_sim import constant_mix

# The 2025 limits, spelled out here rather than imported from the module under test.
LIMITS = {"annual_limit": 23_500.0, "catch_up": 7_500.0, "catch_up_age": 50.0}
MATCH = {"match_rate": 0.5, "match_cap": 0.06}


def _employee(age: float, salary: float = 200_000.0, rate: float = 0.5) -> float:
    e, _ = contribution_amounts(np.array([salary]), rate, np.array([age]), **MATCH, **LIMITS)
    return float(e[0])


# ---------------------------------------------------------------- super catch-up at 60-63


@pytest.mark.parametrize(
    ("age", "cap"),
    [
        (49.0, 23_500.0),  # no catch-up yet
        (50.0, 23_500.0 + 7_500.0),  # 414(v) catch-up
        (59.0, 23_500.0 + 7_500.0),
        (60.0, 23_500.0 + 11_250.0),  # SECURE 2.0 sec. 109: 60, 61, 62, 63
        (61.0, 23_500.0 + 11_250.0),
        (63.0, 23_500.0 + 11_250.0),
        (63.9, 23_500.0 + 11_250.0),  # a monthly age within the year of age 63
        (64.0, 23_500.0 + 7_500.0),  # back to the ordinary catch-up
    ],
)
def test_deferral_cap_by_age(age: float, cap: float) -> None:
    # 50 % of 200,000 = 100,000 is above every cap, so the cap is what is deferred.
    assert _employee(age) == cap


def test_a_61_year_old_defers_34_750_and_the_match_is_unchanged() -> None:
    e, r = contribution_amounts(np.array([200_000.0]), 0.5, np.array([61.0]), **MATCH, **LIMITS)
    assert e[0] == 34_750.0  # 23,500 + 11,250
    assert r[0] == 6_000.0  # 50 % of min(34,750, 6 % x 200,000 = 12,000)


def test_no_super_catch_up_without_a_catch_up() -> None:
    kw = {**LIMITS, "catch_up": 0.0}
    e, _ = contribution_amounts(np.array([200_000.0]), 0.5, np.array([61.0]), **MATCH, **kw)
    assert e[0] == 23_500.0  # a plan without catch-ups offers no super catch-up either


def test_super_catch_up_is_a_keyword_of_the_plan() -> None:
    c = Contributions(200_000.0, 0.5, annual_limit=23_500.0, catch_up=7_500.0)
    e, _ = c.annual_amounts(np.array([59.0, 60.0, 64.0]), 59.0)
    assert e.tolist() == [31_000.0, 34_750.0, 31_000.0]
    off = Contributions(200_000.0, 0.5, annual_limit=23_500.0, catch_up=7_500.0, super_catch_up=0)
    assert off.annual_amounts(np.array([61.0]), 61.0)[0].tolist() == [23_500.0]


# ---------------------------------------------------------------- 415(c) annual additions


def test_a_high_earner_with_a_rich_match_stops_at_70_000() -> None:
    # Age 45, 500,000 salary, 10 % deferral -> 23,500 (402(g)); a 300 % match up to 20 %
    # of pay would add 70,500; 415(c) leaves 70,000 - 23,500 = 46,500 for the employer.
    kw = {"match_rate": 3.0, "match_cap": 0.2, **LIMITS}
    e, r = contribution_amounts(np.array([500_000.0]), 0.1, np.array([45.0]), **kw)
    assert (e[0], r[0]) == (23_500.0, 46_500.0)
    assert e[0] + r[0] == 70_000.0
    # Catch-ups do not count against 415(c): at 55 the total is 70,000 + 7,500, at 61
    # 70,000 + 11,250.
    e, r = contribution_amounts(np.array([500_000.0] * 2), 0.1, np.array([55.0, 61.0]), **kw)
    assert (e + r).tolist() == [77_500.0, 81_250.0]
    # Without the cap the match is paid in full.
    e, r = contribution_amounts(
        np.array([500_000.0]), 0.1, np.array([45.0]), **kw, total_limit=None
    )
    assert r[0] == 70_500.0


def test_415c_also_caps_additions_at_the_salary() -> None:
    # 20,000 salary, all deferred, dollar-for-dollar match on all of it: 40,000 asked,
    # 100 % of compensation (20,000) allowed, all of it the employee's deferral.
    e, r = contribution_amounts(
        np.array([20_000.0]), 1.0, np.array([40.0]), match_rate=1.0, match_cap=1.0, **LIMITS
    )
    assert (e[0], r[0]) == (20_000.0, 0.0)


def test_no_annual_limit_means_no_irs_limit_at_all() -> None:
    e, r = contribution_amounts(
        np.array([1_000_000.0]),
        0.5,
        np.array([61.0]),
        match_rate=1.0,
        match_cap=0.5,
        annual_limit=None,
        catch_up=7_500.0,
        catch_up_age=50.0,
    )
    assert (e[0], r[0]) == (500_000.0, 500_000.0)


def test_the_population_default_match_never_reaches_415c() -> None:
    # A 50 % match of the deferral adds at most 50 % x 23,500 = 11,750: the total stays
    # 35,250 < 70,000, so the cap changes nothing for the population's default plan.
    e, r = contribution_amounts(np.array([1_000_000.0]), 0.5, np.array([45.0]), **MATCH, **LIMITS)
    assert (e[0], r[0]) == (23_500.0, 11_750.0)


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"super_catch_up": -1.0}, "super_catch_up"), ({"total_limit": -1.0}, "total_limit")],
)
def test_bad_limits_are_errors(kw: dict[str, float], match: str) -> None:
    with pytest.raises(PlanError, match=match):
        Contributions(50_000.0, 0.1, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------- first RMD age


@pytest.mark.parametrize(
    ("born", "age"),
    [(1950, 72), (1951, 73), (1955, 73), (1959, 73), (1960, 75), (1965, 75), (1995, 75)],
)
def test_first_rmd_age(born: int, age: int) -> None:
    assert first_rmd_age(born) == age


@pytest.mark.parametrize("born", [1949, 1930, 1955.0, True])
def test_first_rmd_age_rejects_years_it_cannot_decide(born: object) -> None:
    with pytest.raises(PlanError, match="birth_year"):
        first_rmd_age(born)  # type: ignore[arg-type]


def test_plan_takes_the_statutory_rmd_age_from_the_birth_year() -> None:
    assert Plan(60, 65, 95).rmd_start_age == 73.0  # default unchanged
    assert Plan(60, 65, 95, birth_year=1955).rmd_start_age == 73.0
    born_1965 = Plan(60, 65, 95, birth_year=1965)
    assert born_1965.rmd_start_age == 75.0
    assert cash_flow_rules(born_1965, 1).rmd_start_age == 75.0
    assert Plan(60, 65, 95, birth_year=1965, rmd_start_age=75.0).rmd_start_age == 75.0
    with pytest.raises(PlanError, match="contradicts birth_year=1965"):
        Plan(60, 65, 95, birth_year=1965, rmd_start_age=74.0)


def test_the_rmd_floor_starts_at_75_for_a_member_born_in_1965() -> None:
    # Zero returns and inflation; 1 % a year withdrawn unless the RMD floor is higher.
    sc = Scenarios(np.zeros((1, 4, 1)), np.zeros((1, 4)), ("a",), "annual")
    mix = constant_mix(("a",), (1.0,))
    plan = Plan(73, 73, 77, 100.0, withdrawal=FixedPercent(0.01), rmd_floor=True)
    w = simulate(sc, plan, mix).withdrawals[0]
    assert w[0] == pytest.approx(100 / 26.5, rel=1e-14)  # no birth year: floor at 73
    w = simulate(sc, replace(plan, birth_year=1965), mix).withdrawals[0]
    # 73 and 74: 1 % of the balance; 75: balance / 24.6 (Uniform Lifetime Table)
    b2 = 100.0 * 0.99 * 0.99
    np.testing.assert_allclose(w[:3], [1.0, 0.99, b2 / 24.6], rtol=1e-14)  # round-off only


def test_the_study_file_states_the_birth_year() -> None:
    member = {"name": "m", "start_age": 65, "retirement_age": 65, "end_age": 95}
    (cfg,) = read_plans([{**member, "birth_year": 1962}])
    assert cfg.plan.birth_year == 1962
    assert cfg.plan.rmd_start_age == 75.0
    (cfg,) = read_plans([member])
    assert cfg.plan.rmd_start_age == 73.0
