"""Fund design's income figures, frontier separability and income preferences (issue 23)."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.errors import DataError, StudyError
from backtest.outcomes import (
    IncomePreferences,
    bequest_percentiles,
    max_sustainable_rates,
    preference_certainty_equivalent,
    probability_of_reaching,
    tail_mean,
)
from backtest.population import draw_members
from backtest.population_eval import (
    batch_se,
    cvar_influence,
    evaluate_population,
    pair_members_paths,
    paired_ce,
    reach_probability,
    retirement_withdrawal_rates,
    run_accounts,
)
from glidelab.design import (
    SEPARABILITY_Z,
    frontier_separability,
    load_design_study,
    parse_design_study,
    separable,
)
from optimize.fund_design import FundConstraints, FundDesigner, design_data
from tests.optimize.test_fund_design import ASSETS, SPEC, _scenarios

LOSS = IncomePreferences(gamma=5.0, loss_aversion=2.0, reference_replacement=0.7)


# ------------------------------------------------------------------- study file keys


def test_design_reads_preference_keys_with_the_population_target_as_reference() -> None:
    st = parse_design_study({"design": {"loss_aversion": 1.5}})
    prefs = st.design.preferences(st.population.replacement_rate)
    assert prefs.loss_aversion == 1.5 and prefs.reference_replacement == 0.7
    own = parse_design_study({"design": {"loss_aversion": 1.0, "reference_replacement": 0.6}})
    assert own.design.preferences(0.7).reference_replacement == 0.6
    shipped = load_design_study("target_date_2060").design
    assert shipped.preferences(0.7) == IncomePreferences(gamma=5.0)  # plain CRRA, unchanged


@pytest.mark.parametrize(
    ("design", "match"),
    [
        (
            {"bequest_weight": 1.0},
            r"unknown keys \['bequest_weight'\]",
        ),
        ({"loss_aversion": -1.0}, "loss_aversion"),
        ({"reference_replacement": 5.0}, "reference_replacement"),
    ],
)
def test_bad_preference_keys_are_named(design: dict, match: str) -> None:
    with pytest.raises(StudyError, match=match):
        parse_design_study({"design": design})


# ------------------------------------------------------------- paired CE, loss aversion


def test_paired_ce_with_loss_aversion_is_the_shared_valuation_and_its_se_holds() -> None:
    """The CE is preference_certainty_equivalent's; the paired SE of a difference
    matches its spread over replications."""
    rng = np.random.default_rng(11)
    n = 1_000
    # mild spreads: at gamma 5 heavier tails bias any delta-method SE down (plain CRRA too)
    salary = np.exp(rng.normal(11.0, 0.1, n))
    ref = 0.7 * salary
    diffs, ses = [], []
    for _ in range(400):
        base = salary * np.exp(rng.normal(-0.3, 0.1, n))
        a, b = base * np.exp(rng.normal(0.0, 0.2, n)), base * 1.02
        ce, diff, se = paired_ce(a, b, 5.0, preferences=LOSS, loss_reference=ref)
        diffs.append(diff)
        ses.append(se)
    assert ce == preference_certainty_equivalent(a, LOSS, reference=ref)
    # 400 replications: an SD estimate spreads by about 3.5 %; 10 % allows about 3 of those
    assert np.std(diffs) == pytest.approx(np.mean(ses), rel=0.1)
    # plain preferences are the CRRA formula, bit for bit
    plain = paired_ce(a, b, 5.0, preferences=IncomePreferences(gamma=5.0))
    assert plain == paired_ce(a, b, 5.0)
    with pytest.raises(DataError, match="loss_reference"):
        paired_ce(a, b, 5.0, preferences=LOSS)


# ------------------------------------------------------------------- income figures


def test_reach_probability_counts_market_paths_as_the_independent_draws() -> None:
    rng = np.random.default_rng(2)
    paths = np.repeat(np.arange(40), 50)  # 50 members on each of 40 market paths
    values = 0.7 + rng.normal(0, 0.3, 40)[paths] + rng.normal(0, 0.05, paths.size)
    r = reach_probability(values, 0.7, paths)
    assert r.rate == probability_of_reaching(values, 0.7).rate
    hit = (values >= 0.7).astype(float)
    # the SE is the batch-means SE over market paths, far above the i.i.d. one
    assert r.se == pytest.approx(batch_se(hit, paths), rel=1e-12)
    assert r.se > 3 * probability_of_reaching(values, 0.7).se
    assert reach_probability(values, 0.7).se == probability_of_reaching(values, 0.7).se


def test_bequest_is_wealth_at_death_of_the_drawdown_account() -> None:
    """evaluate_population's bequest percentiles equal outcomes.bequest_percentiles of
    the member-paths' whole wealth paths and survival curves."""
    members = draw_members(SPEC, 150, 4)
    sc = _scenarios(20, 9)
    g = (1.0 + sc.returns) / (1.0 + sc.inflation[:, :, None])
    growth = np.einsum("pta,ta->pt", g, np.tile([0.6, 0.4], (SPEC.n_periods, 1)))
    out = evaluate_population(members, growth, bequest_at=(10, 50, 90))
    acc = run_accounts(
        growth[out.path],
        members.contributions[out.member],
        members.spending[out.member],
        members.leakage_share[out.member],
        0.0,
    )
    want = bequest_percentiles(acc.wealth, members.survival[out.member], (10, 50, 90))
    np.testing.assert_array_equal(out.bequest, want)
    assert out.bequest[0] <= out.bequest[1] <= out.bequest[2] and out.bequest[2] > 0
    assert evaluate_population(members, growth).bequest.size == 0  # only when asked


def test_retirement_withdrawal_rates_last_exactly_to_the_horizon() -> None:
    rng = np.random.default_rng(5)
    growth = 1.0 + rng.normal(0.04, 0.1, (30, 60))
    fee = 0.002
    rates = retirement_withdrawal_rates(growth, 20, 50, fee)
    np.testing.assert_array_equal(
        rates, max_sustainable_rates(growth[:, 20:50] * (1 - fee) - 1.0, 1)
    )
    # withdrawing the rate at the start of each year leaves nothing after 30 years
    w = np.ones(30)
    for t in range(20, 50):
        w = (w - rates) * growth[:, t] * (1 - fee)
    np.testing.assert_allclose(w, 0.0, atol=1e-12)  # float round-off of 30 steps


def test_cvar_influence_gives_the_spread_of_a_cvar_difference() -> None:
    rng = np.random.default_rng(3)
    diffs, ses = [], []
    for _ in range(200):
        base = rng.exponential(2.0, 2_000)
        a, b = base + rng.normal(0, 0.5, base.size), base * 1.05
        ca, ia = cvar_influence(a, 0.9)
        cb, ib = cvar_influence(b, 0.9)
        diffs.append(ca - cb)
        ses.append(batch_se(ia - ib))
    assert ca == pytest.approx(float(tail_mean(a, 0.9, "upper")), rel=1e-12)
    # 200 replications: see the paired CE test; the CVaR's influence is asymptotic
    assert np.std(diffs) == pytest.approx(np.mean(ses), rel=0.15)


# --------------------------------------------------------------------- separability


def test_separable_is_a_two_sided_test_at_1_96_standard_errors() -> None:
    assert SEPARABILITY_Z == 1.96
    assert separable(2.0, 1.0) and separable(-2.0, 1.0)
    assert not separable(1.9, 1.0) and not separable(0.0, 0.0)
    assert separable(0.1, 0.0)  # no noise at all: any difference is real
    assert not separable(5.0, float("nan"))


@pytest.fixture(scope="module")
def designer() -> FundDesigner:
    members = draw_members(SPEC, 300, 21)
    mi, pi = pair_members_paths(300, 60, "paired")
    data = design_data(members, _scenarios(60, 3), ASSETS, mi, pi, rng=5)
    cons = FundConstraints(max_change_per_year=0.1)
    return FundDesigner(data, SPEC.target_age, cons, knot_spacing_years=20)


def test_frontier_separability_tells_far_points_apart_and_equal_ones_not(
    designer: FundDesigner,
) -> None:
    safe = designer.evaluate(designer.constant_start(0.1))
    bold = designer.evaluate(designer.constant_start(0.9))
    near = designer.evaluate(designer.constant_start(0.1))
    table = frontier_separability(designer, [safe, near, bold])
    assert list(table["pair"].unique()) == ["1 vs 2", "2 vs 3", "1 vs 3"]
    same = table[table["pair"] == "1 vs 2"]
    assert (same["difference"] == 0).all() and (same["verdict"] == "cannot be told apart").all()
    far = table[(table["pair"] == "1 vs 3")].set_index("metric")
    assert far.loc["CE (USD/yr)", "verdict"] == "apart"  # 10 % against 90 % equity
    assert far.loc["success", "difference"] == pytest.approx(bold.success - safe.success)
    assert far.loc["shortfall CVaR (years)", "difference"] == pytest.approx(
        bold.shortfall_cvar - safe.shortfall_cvar, rel=1e-12
    )
    for _, row in table.iterrows():
        assert (row["verdict"] == "apart") == separable(row["difference"], row["paired SE"])
