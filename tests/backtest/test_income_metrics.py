"""Income metrics (issue 23): CE income under CRRA, the life annuity factor, and the
income figures of a report, each against a hand computation or a stated invariant."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest import population
from backtest.errors import DataError, GlidelabError, PlanError
from backtest.metrics import (
    LOG_UTILITY_BAND,
    REPLACEMENT_PERCENTILES,
    RISK_AVERSIONS,
    SAFE_WITHDRAWAL_FAILURE,
    bequest_percentiles,
    certainty_equivalent,
    crra_utility,
    life_annuity_factor,
    lifetime_weights,
    max_sustainable_rates,
    mean_unpaid_years_given_failure,
    probability_of_reaching,
    replacement_percentiles,
    safe_withdrawal_rate,
    ssa_life_annuity_factor,
)
from backtest.mortality import survival_curve
from tests.backtest.ssa_csv import ssa_rows


def _ssa_rows(sex_file: str) -> dict[tuple[int, int], list[str]]:
    """Rows of the shipped SSA file by (calendar year, age) (``tests.backtest.ssa_csv``)."""
    return ssa_rows(sex_file)


@pytest.fixture(scope="module")
def female_rows() -> dict[tuple[int, int], list[str]]:
    return _ssa_rows("PerLifeTables_F_Alt2_TR2020.csv")


# --------------------------------------------------------------------------- utility, CE

INCOMES = np.array([12_000.0, 25_000.0, 40_000.0, 55_000.0, 90_000.0])


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 1.0 + 1e-12, 2.0, 5.0, 10.0, 30.0])
def test_ce_of_a_certain_income_is_that_income(gamma: float) -> None:
    assert certainty_equivalent(np.full(7, 41_500.0), gamma) == pytest.approx(41_500.0, rel=1e-12)
    # A path paid the same every year alive: the same, whatever the survival weights.
    paths = np.full((3, 30), 41_500.0)
    w = lifetime_weights(np.linspace(1.0, 0.1, 30), real_discount_rate=0.02)
    assert certainty_equivalent(paths, gamma, w) == pytest.approx(41_500.0, rel=1e-12)
    np.testing.assert_allclose(certainty_equivalent(paths, gamma, w, axis=-1), 41_500.0, 1e-12)


def test_ce_by_hand_at_gamma_2_and_1() -> None:
    c = np.array([20_000.0, 80_000.0])
    # gamma = 2: harmonic mean, 2 / (1/20k + 1/80k) = 32,000; gamma = 1: geometric, 40,000.
    assert certainty_equivalent(c, 2.0) == pytest.approx(32_000.0, rel=1e-13)
    assert certainty_equivalent(c, 1.0) == pytest.approx(40_000.0, rel=1e-13)
    assert certainty_equivalent(c, 0.0) == pytest.approx(50_000.0, rel=1e-13)
    # Weights 3:1 at gamma = 2: 4 / (3/20k + 1/80k) = 24,615.38...
    assert certainty_equivalent(c, 2.0, np.array([3.0, 1.0])) == pytest.approx(
        4.0 / (3.0 / 20_000 + 1.0 / 80_000), rel=1e-13
    )


def test_crra_utility_by_hand_and_gamma_to_one_is_log() -> None:
    c = INCOMES
    np.testing.assert_allclose(crra_utility(c, 2.0), 1.0 - 1.0 / c, rtol=1e-15)
    np.testing.assert_allclose(crra_utility(c, 0.0), c - 1.0, rtol=1e-15)
    np.testing.assert_array_equal(crra_utility(c, 1.0), np.log(c))
    np.testing.assert_array_equal(crra_utility(c, 1.0 + LOG_UTILITY_BAND / 2), np.log(c))
    # Just outside the band the power formula is used, and it is continuous with log:
    # u = log c (1 - (gamma - 1) log c / 2 + ...), so the gap is about 1e-6 (log c)^2 / 2.
    for g in (1.0 - 1e-6, 1.0 + 1e-6):
        u = crra_utility(c, g)
        assert not np.array_equal(u, np.log(c))
        np.testing.assert_allclose(u, np.log(c), rtol=1e-5)
        np.testing.assert_allclose(u - np.log(c), (1.0 - g) * np.log(c) ** 2 / 2, rtol=1e-4)
    for g in (1.0 - 1e-6, 1.0 + 1e-6):
        ce, ce1 = certainty_equivalent(c, g), certainty_equivalent(c, 1.0)
        assert ce != ce1 and ce == pytest.approx(ce1, rel=1e-5)
    # scale changes no ranking: u(c / s) = s^(g - 1) u(c) + (s^(g - 1) - 1) / (1 - g).
    s, g = 40_000.0, 2.0
    np.testing.assert_allclose(
        crra_utility(c, g, scale=s),
        s ** (g - 1) * crra_utility(c, g) + (s ** (g - 1) - 1) / (1 - g),
    )
    # ... but it keeps the utilities apart in float64 (stated in the docstring): at gamma 5
    # and scale 1, c^-4 of these incomes is below the resolution beside the "- 1".
    assert np.all(np.diff(crra_utility(c, 5.0, scale=s)) > 0)
    assert np.all(np.diff(crra_utility(c, 5.0)) == 0)


def test_ce_needs_no_scale_at_high_risk_aversion() -> None:
    # c ** -29 under- or overflows without the log-sum-exp; the CE stays between min and max.
    c = np.array([1e-3, 1e6, 1e9])
    ce = certainty_equivalent(c, 30.0)
    assert c.min() <= ce < 1.05e-3
    assert certainty_equivalent(np.array([1e300, 2e300]), 10.0) > 1e300


risky = st.lists(
    st.floats(min_value=1_000.0, max_value=500_000.0, allow_nan=False), min_size=2, max_size=40
)


@settings(max_examples=80, deadline=None)
@given(
    c=risky,
    g1=st.floats(min_value=0.0, max_value=15.0),
    dg=st.floats(min_value=0.05, max_value=10.0),
)
def test_ce_below_the_mean_and_decreasing_in_gamma(c: list[float], g1: float, dg: float) -> None:
    x = np.array(c)
    ce1, ce2 = certainty_equivalent(x, g1), certainty_equivalent(x, g1 + dg)
    assert x.min() * (1 - 1e-12) <= ce2 <= ce1 * (1 + 1e-12)  # non-increasing in gamma
    assert ce1 <= x.mean() * (1 + 1e-12)  # Jensen
    if x.max() > x.min() * 1.01:  # a risky income: strictly below the mean when gamma > 0
        assert ce2 < x.mean()


def test_paths_use_the_survival_and_discount_weights() -> None:
    # Two years; alive 1 then 0.5, no discount: weights 1, 0.5 -> CE at gamma 1 is the
    # weighted geometric mean exp((log 20k + 0.5 log 80k) / 1.5).
    paths = np.array([[20_000.0, 80_000.0]])
    w = lifetime_weights(np.array([1.0, 0.5]))
    want = math.exp((math.log(20_000) + 0.5 * math.log(80_000)) / 1.5)
    assert certainty_equivalent(paths, 1.0, w) == pytest.approx(want, rel=1e-13)
    # A year with weight 0 (dead) may pay nothing; the same year alive may not.
    w0 = lifetime_weights(np.array([1.0, 0.0]))
    assert certainty_equivalent(np.array([[30_000.0, 0.0]]), 5.0, w0) == pytest.approx(30_000.0)
    np.testing.assert_allclose(lifetime_weights(np.ones(3), 0.05), [1.0, 1 / 1.05, 1 / 1.05**2])
    np.testing.assert_allclose(
        lifetime_weights(np.ones(13), 0.05, periods_per_year=12)[[0, 12]], [1.0, 1 / 1.05]
    )


def test_bad_incomes_and_preferences_raise_named_errors() -> None:
    with pytest.raises(DataError, match="Social Security"):
        certainty_equivalent(np.array([30_000.0, 0.0]), 5.0)
    with pytest.raises(DataError, match="floor"):
        crra_utility(np.array([-1.0]), 2.0)
    with pytest.raises(DataError, match="> 0"):
        certainty_equivalent(np.array([30_000.0, np.nan]), 1.0)
    with pytest.raises(PlanError, match="gamma"):
        certainty_equivalent(INCOMES, -1.0)
    with pytest.raises(PlanError, match="gamma"):
        crra_utility(INCOMES, math.inf)
    with pytest.raises(PlanError, match="scale"):
        crra_utility(INCOMES, 2.0, scale=0.0)
    with pytest.raises(DataError, match="broadcast"):
        certainty_equivalent(INCOMES, 2.0, np.ones(3))
    with pytest.raises(DataError, match=">= 0"):
        certainty_equivalent(INCOMES, 2.0, -np.ones(5))
    with pytest.raises(DataError, match="sum to 0"):
        certainty_equivalent(INCOMES, 2.0, np.zeros(5))
    with pytest.raises(DataError, match="alive"):
        lifetime_weights(np.array([1.0, 1.5]))
    with pytest.raises(PlanError, match="real_discount_rate"):
        lifetime_weights(np.ones(3), -1.0)


# --------------------------------------------------------------------------- annuity


def test_life_annuity_factor_by_hand_from_the_ssa_csv(female_rows) -> None:
    # A woman born 1960, annuitising at 65 at a 2 % real rate, cohort reading: the
    # diagonal q(x) of year 1960 + x, x = 65..119 (years 2025..2079, inside the table).
    rate, l_x, want = 0.02, 1.0, 0.0
    for x in range(65, 120):
        want += l_x / (1.0 + rate) ** (x - 65)
        l_x *= 1.0 - float(female_rows[(1960 + x, x)][2])
    assert ssa_life_annuity_factor("female", 1960, 65, rate) == pytest.approx(want, rel=1e-12)
    curve = survival_curve("female", 1960, 65, 55)
    assert life_annuity_factor(curve, 65, rate) == pytest.approx(want, rel=1e-12)
    # In arrears: the same years, one year later.
    imm = ssa_life_annuity_factor("female", 1960, 65, rate, "immediate")
    assert imm == pytest.approx(want - 1.0 + l_x / (1.0 + rate) ** 55, rel=1e-12)


@pytest.mark.parametrize(("year", "age"), [(2018, 65), (2050, 70), (2030, 80)])
def test_period_factor_matches_the_tables_own_annuity_column(female_rows, year, age) -> None:
    # The SSA file prints a(x), the annuity-due at 2.3 % (its title line), to 4 decimals.
    a_x = float(female_rows[(year, age)][12])
    got = ssa_life_annuity_factor("female", year - age, age, 0.023, reading="period")
    assert got == pytest.approx(a_x, abs=6e-5)


def test_annuity_factor_of_certain_survival_is_the_annuity_certain() -> None:
    v = 1 / 1.03
    curve = np.ones(21)  # alive for sure to the curve's end, 20 years on
    assert life_annuity_factor(curve, 0, 0.03) == pytest.approx((1 - v**20) / (1 - v), rel=1e-13)
    assert life_annuity_factor(curve, 0, 0.03, "immediate") == pytest.approx(
        v * (1 - v**20) / (1 - v), rel=1e-13
    )
    # An age inside the curve, and one age per curve.
    assert life_annuity_factor(curve, 70, 0.0, first_age=65) == 15.0
    two = np.vstack([curve, curve])
    ages = np.array([0, 10])
    np.testing.assert_allclose(life_annuity_factor(two, ages, 0.0, first_age=0), [20.0, 10.0])
    # Without first_age each curve starts at its own age.
    np.testing.assert_allclose(life_annuity_factor(two, ages, 0.0), [20.0, 20.0])


def test_population_annuity_factor_is_the_one_definition() -> None:
    spec = population.PopulationSpec()
    m = population.draw_members(spec, 500, 5)
    t_ret = m.retirement_age - spec.first_age
    # The formula population used before it called life_annuity_factor, bit for bit.
    k = np.arange(m.survival.shape[1])[None, :] - t_ret[:, None]
    disc = np.where(k >= 0, (1.0 + spec.annuity_rate) ** -np.maximum(k, 0).astype(float), 0.0)
    np.testing.assert_array_equal(m.annuity_factor, (m.survival[:, :-1] * disc[:, :-1]).sum(1))
    one = life_annuity_factor(m.survival[0], float(m.retirement_age[0]), spec.annuity_rate,
                              first_age=float(spec.first_age))  # fmt: skip
    assert one == pytest.approx(m.annuity_factor[0], rel=1e-14)


def test_annuity_bad_inputs_raise() -> None:
    curve = survival_curve("male", 1960, 65, 55)
    with pytest.raises(PlanError, match="timing"):
        life_annuity_factor(curve, 65, 0.02, "monthly")  # type: ignore[arg-type]
    with pytest.raises(PlanError, match="real_rate"):
        life_annuity_factor(curve, 65, -1.0)
    with pytest.raises(PlanError, match="whole number"):
        life_annuity_factor(curve, 65.5, 0.02, first_age=65)
    with pytest.raises(PlanError, match="whole number"):
        life_annuity_factor(curve, 60, 0.02, first_age=65)
    with pytest.raises(DataError, match="non-increasing"):
        life_annuity_factor(np.array([1.0, 0.5, 0.7]), 0, 0.02)
    with pytest.raises(DataError, match="one per survival curve"):
        life_annuity_factor(np.ones((2, 5)), np.array([0, 1, 2]), 0.02, first_age=0)
    with pytest.raises(PlanError, match="alive"):
        life_annuity_factor(np.array([1.0, 0.0, 0.0]), 1, 0.02, first_age=0)


# --------------------------------------------------------------------------- figures


def test_replacement_percentiles_and_probability_on_a_hand_made_array() -> None:
    r = np.array([0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.3, 1.5])  # 11, sorted
    assert REPLACEMENT_PERCENTILES == (10, 25, 50, 75, 90)
    # numpy linear: position q/100 * 10, so p10 = 0.4, p25 = between 0.5 and 0.6, ...
    np.testing.assert_allclose(replacement_percentiles(r), [0.4, 0.55, 0.8, 1.05, 1.3])
    p = probability_of_reaching(r, 0.7)
    assert p.rate == pytest.approx(7 / 11) and p.n == 11
    assert p.se == pytest.approx(math.sqrt(7 / 11 * 4 / 11 / 11))
    assert probability_of_reaching(r, 0.7, n_effective=4.0).se == pytest.approx(
        math.sqrt(7 / 11 * 4 / 11 / 4)
    )
    assert probability_of_reaching(r, 2.0).rate == 0.0
    with pytest.raises(DataError, match="finite"):
        replacement_percentiles(np.array([0.5, np.nan]))
    with pytest.raises(DataError, match="percent"):
        replacement_percentiles(r, (50, 150))
    with pytest.raises(DataError, match="target"):
        probability_of_reaching(r, math.nan)


def test_mean_unpaid_years_given_failure_by_hand() -> None:
    u = np.array([0.0, 0.0, 2.0, 0.0, 6.0, 4.0])
    s = mean_unpaid_years_given_failure(u)
    assert (s.years, s.n_failed, s.n) == (4.0, 3, 6)
    assert s.se == pytest.approx(math.sqrt(8 / 3) / math.sqrt(3))
    assert u.mean() == pytest.approx(s.n_failed / s.n * s.years)  # unconditional = rate x depth
    marked = mean_unpaid_years_given_failure(u, np.array([0, 0, 0, 0, 1, 0], dtype=bool))
    assert (marked.years, marked.n_failed) == (6.0, 1) and math.isnan(marked.se)
    none = mean_unpaid_years_given_failure(np.zeros(4))
    assert none.n_failed == 0 and math.isnan(none.years)
    with pytest.raises(DataError, match=">= 0"):
        mean_unpaid_years_given_failure(np.array([1.0, -1.0]))
    with pytest.raises(DataError, match="shape"):
        mean_unpaid_years_given_failure(u, np.ones(3, dtype=bool))


def test_bequest_percentiles_by_hand() -> None:
    # Given deaths: plain percentiles of wealth at death.
    at_death = np.array([0.0, 100.0, 200.0, 300.0, 400.0])
    np.testing.assert_allclose(bequest_percentiles(at_death, percentiles=(50, 25)), [200, 100])
    # Paths: one scenario, wealth 1000 -> 600 -> 300 at the boundaries; alive 1, 0.5, 0.2.
    # Dies in period 0 (p 0.5) leaving 600, in period 1 (p 0.3) leaving 300, alive at the
    # end (p 0.2) leaving 300: bequest 300 w.p. 0.5, 600 w.p. 0.5.
    w = np.array([[1000.0, 600.0, 300.0]])
    alive = np.array([1.0, 0.5, 0.2])
    np.testing.assert_allclose(
        bequest_percentiles(w, alive, (10, 50, 51, 90)), [300, 300, 600, 600]
    )
    # Two scenarios, equally likely, everyone dies in the first period: wealth at boundary 1.
    w2 = np.array([[1.0, 10.0, 0.0], [1.0, 20.0, 0.0]])
    np.testing.assert_allclose(
        bequest_percentiles(w2, np.array([1.0, 0.0, 0.0]), (25, 75)), [10, 20]
    )
    with pytest.raises(DataError, match="alive"):
        bequest_percentiles(w)
    with pytest.raises(DataError, match="non-increasing"):
        bequest_percentiles(w, np.array([1.0, 0.5, 0.7]))


def test_max_sustainable_rate_empties_the_account_exactly() -> None:
    rng = np.random.default_rng(3)
    r = rng.normal(0.04, 0.12, size=(200, 30))
    rates = max_sustainable_rates(r)
    # Zero returns: 30 years of 1/30; a constant 3 %: 1 / annuity-due of 30 years.
    assert max_sustainable_rates(np.zeros((1, 30)))[0] == pytest.approx(1 / 30)
    v = 1 / 1.03
    assert max_sustainable_rates(np.full((1, 30), 0.03))[0] == pytest.approx((1 - v) / (1 - v**30))
    # Simulate the withdrawals at the start of each year: the balance ends at 0 exactly,
    # never dips below it before, and a rate 1 % higher runs dry.
    w = np.ones(200)
    for t in range(30):
        w = (w - rates) * (1 + r[:, t])
        assert (w > -1e-12).all()
    np.testing.assert_allclose(w, 0.0, atol=1e-12)
    monthly = max_sustainable_rates(np.zeros((1, 360)), periods_per_year=12)
    assert monthly[0] == pytest.approx(1 / 30)


def test_safe_withdrawal_rate_at_5_and_10_percent() -> None:
    m = np.arange(1, 101) / 1000.0  # 0.001 .. 0.100, shuffled below
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(m)
    assert SAFE_WITHDRAWAL_FAILURE == (0.05, 0.10)
    # At 0.006 the five scenarios with 0.001..0.005 fail (5 %); any higher rate fails six.
    assert safe_withdrawal_rate(shuffled, 0.05) == 0.006
    assert safe_withdrawal_rate(shuffled, 0.10) == 0.011
    assert safe_withdrawal_rate(shuffled, 0.0) == 0.001
    assert safe_withdrawal_rate(m[:10], 0.29) == 0.003  # floor(2.9) = 2: fails 2 of 10
    for p in SAFE_WITHDRAWAL_FAILURE:
        swr = safe_withdrawal_rate(shuffled, p)
        assert np.mean(shuffled < swr) <= p
        assert np.mean(shuffled < swr + 1e-9) > p
    with pytest.raises(DataError, match="failure_probability"):
        safe_withdrawal_rate(m, 1.0)
    with pytest.raises(DataError, match="finite"):
        safe_withdrawal_rate(np.array([0.04, np.nan]))


def test_errors_are_the_projects_family() -> None:
    assert issubclass(DataError, GlidelabError) and issubclass(PlanError, GlidelabError)
    assert RISK_AVERSIONS == (2.0, 5.0, 10.0)
