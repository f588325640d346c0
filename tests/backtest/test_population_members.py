"""Members of a vintage (issue 24): deaths before retirement, income shocks, the need's
salary basis and payable Social Security."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from backtest import mortality
from backtest.errors import PlanError, StudyError
from backtest.population import (
    CGM_SHOCK_VARIANCES,
    CHETTY_LE_GAP_40,
    PopulationSpec,
    cgm_log_income,
    draw_members,
    earnings_mortality_multiplier,
    log_income_shocks,
)
from backtest.population_eval import CONDITIONING, evaluate_population
from glidelab.studyfile.design import parse_design_study

SPEC = PopulationSpec()


def test_deaths_before_retirement_match_the_ssa_cohort_table() -> None:
    m = draw_members(SPEC, 20_000, 5)
    died = ~m.alive_at_retirement
    sexes: tuple[mortality.Sex, ...] = ("male", "female")
    for sex in sexes:
        rows = m.female == (sex == "female")
        # 1 - l(retirement age) / l(first age) of the member's own cohort table.
        l_ret = {
            int(r): mortality.survival_curve(sex, SPEC.birth_year, SPEC.first_age, int(r) - 22)[-1]
            for r in np.unique(m.retirement_age)
        }
        want = np.mean([1.0 - l_ret[int(r)] for r in m.retirement_age[rows]])
        got = died[rows].mean()
        # Binomial sampling error of a share over ~10,000 members: 4 standard errors.
        se = np.sqrt(want * (1.0 - want) / rows.sum())
        assert abs(got - want) < 4.0 * se, (sex, got, want)
    assert 0.05 < died.mean() < 0.2  # of the order of the 9-14 % by 65
    # Death ages are whole ages between the first age and the retirement age.
    age = m.death_age[died]
    assert ((age >= SPEC.first_age) & (age < m.retirement_age[died])).all()
    assert np.isnan(m.death_age[~died]).all()


def test_dead_members_contribute_nothing_after_death_and_are_not_scored() -> None:
    m = draw_members(SPEC, 3_000, 8)
    died = np.flatnonzero(~m.alive_at_retirement)
    assert died.size > 100
    t = np.arange(SPEC.n_periods)[None, :]
    after = t >= (m.death_age[died] - SPEC.first_age)[:, None]
    assert (m.contributions[died][after] == 0).all()
    assert (m.leakage_share[died][after] == 0).all()
    assert (m.spending[died] == 0).all() and (m.ss_by_year[died] == 0).all()
    assert m.contributions[died].sum() > 0  # those who die late did contribute before
    # Scores condition on reaching retirement: the dead are left out and counted.
    g = np.full((4, SPEC.n_periods), 1.02)
    out = evaluate_population(m, g)
    assert m.alive_at_retirement[out.member].all()
    assert out.n == 4 * (m.n_members - died.size)
    assert out.died_before_retirement == pytest.approx(died.size / m.n_members, abs=1e-15)
    assert out.conditioning == CONDITIONING
    assert out.summary()["share_died_before_retirement"] == out.died_before_retirement


def test_payable_ratio_applies_from_the_depletion_year_only() -> None:
    # Born 1995: retiring at 62 is 2057, at 67 2062; depletion in 2062 falls between.
    full = dataclasses.replace(SPEC, ss_depletion_year=2062)
    cut = dataclasses.replace(full, ss_payable_ratio=0.81)
    a, b = draw_members(full, 2_000, 3), draw_members(cut, 2_000, 3)
    np.testing.assert_array_equal(a.ss_scheduled, b.ss_scheduled)  # same draws
    years = SPEC.birth_year + SPEC.ages
    t_ret = b.retirement_period
    retired = (np.arange(SPEC.n_periods)[None, :] >= t_ret[:, None]) & (
        b.alive_at_retirement[:, None]
    )
    share = np.where(years >= 2062, 0.81, 1.0)[None, :]
    np.testing.assert_allclose(b.ss_by_year, np.where(retired, b.ss_scheduled[:, None] * share, 0))
    early = b.alive_at_retirement & (b.retirement_age == 62) & (b.ss_scheduled > 0)
    late = b.alive_at_retirement & (b.retirement_age >= 67) & (b.ss_scheduled > 0)
    assert early.any() and late.any()
    # Claiming before the depletion year: the scheduled benefit in the first year.
    np.testing.assert_array_equal(b.ss_by_year[early, t_ret[early]], b.ss_scheduled[early])
    # Claiming from it on: 81 % throughout, so the level benefit is 81 % (round-off).
    np.testing.assert_allclose(b.social_security[late], 0.81 * b.ss_scheduled[late], rtol=1e-12)
    assert (b.social_security[early] > 0.81 * b.ss_scheduled[early]).all()
    # The need rises by the benefit cut wherever it was not already 0.
    gap = b.spending - a.spending
    np.testing.assert_array_less(-1e-9, gap)
    pos = retired & (a.spending > 0) & (years[None, :] >= 2062)
    np.testing.assert_allclose(gap[pos], (0.19 * b.ss_scheduled[:, None] * np.ones_like(gap))[pos])
    assert (gap[retired & (years[None, :] < 2062)] == 0).all()


def test_log_income_variance_grows_at_the_permanent_shock_rate() -> None:
    n, n_t = 20_000, 40
    since = np.broadcast_to(np.arange(n_t, dtype=np.float64), (n, n_t))
    for college, key in ((False, "high_school"), (True, "college")):
        shock = log_income_shocks(np.full(n, college), since, np.random.default_rng(1))
        var_p, var_t = CGM_SHOCK_VARIANCES[key]
        v = shock.var(axis=0)
        slope, intercept = np.polyfit(np.arange(n_t), v, 1)
        # Sampling error of a variance over 20,000 draws is ~1 % of it; the fitted slope
        # over 40 years is within ~2 % (4 standard errors: 8 %), the intercept within 10 %.
        assert slope == pytest.approx(var_p, rel=0.08)
        assert intercept == pytest.approx(var_t, rel=0.1)
        assert abs(shock.mean()) < 0.01  # mean zero in logs: the median follows the profile


def test_drawn_salary_dispersion_at_retirement_is_start_plus_shocks() -> None:
    spec = dataclasses.replace(
        SPEC,
        college_share=0.0,
        salary_log_sd=0.0,
        start_age_max=22,
        retirement_ages=((62, 1.0),),
        need_basis="final",
    )
    m = draw_members(spec, 8_000, 2)
    var_p, var_t = CGM_SHOCK_VARIANCES["high_school"]
    want = var_p * (61 - 22) + var_t  # 39 permanent steps to the last working year
    # Variance of 8,000 normal draws: relative SE sqrt(2 / 8000) = 1.6 %; 4 SE.
    assert np.log(m.final_salary).var() == pytest.approx(want, rel=0.065)
    off = draw_members(dataclasses.replace(spec, income_shocks=False), 50, 2)
    assert np.ptp(np.log(off.final_salary)) < 1e-12


@pytest.mark.parametrize(
    ("basis", "years"), [("final", 1), ("average_5y", 5), ("career_average", 99)]
)
def test_need_is_the_replacement_rate_of_the_stated_salary_basis(basis: str, years: int) -> None:
    spec = dataclasses.replace(SPEC, income_shocks=False, need_basis=basis)
    m = draw_members(spec, 200, 4).survivors()
    growth = 1.0 + spec.wage_growth_real
    for i in range(0, m.n_members, 17):
        start, ret = int(m.start_age[i]), int(m.retirement_age[i])
        ages = np.arange(max(ret - years, start), ret, dtype=np.float64)
        prof = "college" if m.college[i] else "high_school"
        salary = (
            m.starting_salary[i]
            * np.exp(cgm_log_income(ages, prof) - cgm_log_income(np.array([start]), prof))
            * growth ** (ages - start)
        )
        assert m.base_salary[i] == pytest.approx(salary.mean(), rel=1e-12)
        need = max(spec.replacement_rate * salary.mean() - m.social_security[i], 0.0)
        # Scheduled benefits (payable ratio 1): the need is the same every retirement year.
        assert m.need[i] == pytest.approx(need, rel=1e-12, abs=1e-9)
        t_ret = ret - spec.first_age
        np.testing.assert_allclose(m.spending[i, t_ret:], need, rtol=1e-12, atol=1e-9)


def test_earnings_linked_mortality_reproduces_the_chetty_gap_and_is_off_by_default() -> None:
    sexes: tuple[mortality.Sex, ...] = ("male", "female")
    on = dataclasses.replace(SPEC, earnings_mortality=True)
    for sex in sexes:
        q = mortality.death_probability(sex, 2018, np.arange(40, 120))
        female = np.full(2, sex == "female")
        # 100 members: the poorest and richest sit at percentiles 0.5 and 99.5, the
        # bottom and top 1 % of the source; their gap is the published one, to the
        # bisection's precision (60 halvings of [0, 10]).
        mult = earnings_mortality_multiplier(on, np.full(100, sex == "female"), np.arange(100.0))
        lo, hi = (
            float(np.cumprod(1.0 - np.minimum(k * q, 1.0)).sum() + 0.5) for k in mult[[0, -1]]
        )
        assert hi - lo == pytest.approx(CHETTY_LE_GAP_40[sex], abs=1e-9)
        assert mult.mean() == pytest.approx(1.0, abs=1e-3)  # a 100-point grid of a mean-1 curve
        assert earnings_mortality_multiplier(SPEC, female, np.ones(2)).tolist() == [1.0, 1.0]
    a, b = draw_members(SPEC, 20_000, 6), draw_members(on, 20_000, 6)
    both = a.alive_at_retirement & b.alive_at_retirement
    np.testing.assert_array_equal(a.contributions[both], b.contributions[both])  # same draws
    # Higher earners die less before retirement and live longer after it; off, no gradient
    # beyond sampling error (two shares of ~10,000 members: 4 SE of the difference 0.018).
    for m, gradient in ((a, False), (b, True)):
        rich = m.base_salary > np.median(m.base_salary)
        d = (~m.alive_at_retirement[~rich]).mean() - (~m.alive_at_retirement[rich]).mean()
        assert (d > 0.03) if gradient else (abs(d) < 0.018), d
    rich = b.alive_at_retirement & (b.base_salary > np.median(b.base_salary))
    poor = b.alive_at_retirement & ~rich
    assert b.annuity_factor[rich].mean() > b.annuity_factor[poor].mean() + 1.0


def test_new_fields_are_checked_and_read_from_a_study_file() -> None:
    with pytest.raises(PlanError, match="need_basis"):
        PopulationSpec(need_basis="peak")
    with pytest.raises(PlanError, match="ss_depletion_year"):
        PopulationSpec(ss_depletion_year=1990)
    with pytest.raises(PlanError, match="ss_payable_ratio"):
        PopulationSpec(ss_payable_ratio=1.2)
    study = parse_design_study(
        {
            "population": {
                "income_shocks": False,
                "need_basis": "career_average",
                "ss_payable_ratio": 0.81,
                "ss_depletion_year": 2033,
                "earnings_mortality": True,
            }
        }
    )
    pop = study.population
    assert (pop.income_shocks, pop.need_basis) == (False, "career_average")
    assert (pop.ss_payable_ratio, pop.ss_depletion_year) == (0.81, 2033)
    assert pop.earnings_mortality
    with pytest.raises(StudyError, match="need_basis"):
        parse_design_study({"population": {"need_basis": "peak"}})
    with pytest.raises(StudyError, match="income_shocks"):
        parse_design_study({"population": {"income_shocks": 1}})
