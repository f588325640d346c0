"""A Bitcoin sleeve inside a target-date vintage, scored across a small population."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.crypto.assumptions import BtcAssumption, draw_crn
from backtest.crypto.vintage import ratio_influence, risk_shares, score_vintage
from backtest.errors import DataError, StudyError
from backtest.outcomes import IncomePreferences
from backtest.population import PopulationSpec, draw_members
from backtest.population_eval import glide_weights, portfolio_growth
from backtest.scenarios import Scenarios
from glidelab.studyfile.crypto import parse_crypto, quick_crypto
from strategies import GlidingSleeve, preset

ASSETS = ("us_stocks", "tbonds_10y", "tbills")
SPEC = PopulationSpec()


def _scenarios(n: int = 30, seed: int = 0) -> Scenarios:
    """Random annual market paths over the vintage's horizon with a Bitcoin column."""
    t = SPEC.n_periods
    g = np.random.default_rng(seed)
    r = np.empty((n, t, 3))
    r[:, :, 0] = np.expm1(g.normal(0.06, 0.18, (n, t)))
    r[:, :, 1] = np.expm1(g.normal(0.02, 0.08, (n, t)))
    r[:, :, 2] = np.abs(g.normal(0.01, 0.01, (n, t)))
    base = Scenarios(r, np.full((n, t), 0.02), ASSETS, "annual")
    return draw_crn(base, "us_stocks", rng=seed + 1).scenarios(BtcAssumption(0.05, 0.6, 0.2))


@pytest.fixture(scope="module")
def scored():
    members = draw_members(SPEC, 120, 4)
    sc = _scenarios()
    base = preset("vanguard_target_retirement")
    sleeves = [GlidingSleeve(base, s, 0.0) for s in (0.0, 0.05)]
    df = score_vintage(members, sc, base, sleeves, expense_ratio=0.0012)
    return members, sc, base, df


def test_zero_sleeve_growth_is_the_plain_vintage_bit_for_bit(scored):
    members, sc, base, _ = scored
    zero = GlidingSleeve(base, 0.0, 0.0)
    g_plain = portfolio_growth(sc, base.assets, glide_weights(base, members.spec, sc))
    g_zero = portfolio_growth(sc, zero.assets, glide_weights(zero, members.spec, sc))
    assert np.array_equal(g_plain, g_zero)


def test_scores_are_paired_against_the_plain_vintage(scored):
    members, sc, _, df = scored
    ref, zero, five = (df.iloc[i] for i in range(3))
    n = int(members.alive_at_retirement.sum()) * sc.n_scenarios
    assert (df["member_paths"] == n).all()
    assert (df["market_paths"] == sc.n_scenarios).all()
    for col in ("success", "ce", "unpaid_years", "unpaid_given_failure"):
        assert zero[col] == ref[col], col  # bit for bit, so exactly equal
    for col in ("d_success", "d_ce", "d_unpaid_years", "d_unpaid_given_failure"):
        assert zero[col] == 0.0 and ref[col] == 0.0
    assert five["d_success"] == pytest.approx(five["success"] - ref["success"], abs=1e-12)
    assert five["d_success_se"] > 0 and five["d_ce_se"] > 0 and five["d_unpaid_years_se"] > 0
    assert five["ce"] == pytest.approx(ref["ce"] + five["d_ce"], rel=1e-12)
    # the sleeve has shrunk to 0 at the target date; 20 years before it is 4 % (5 x 20/25)
    assert five["weight_0y"] == 0.0 and five["vol_share_0y"] == 0.0
    assert five["weight_20y"] == pytest.approx(0.04, abs=1e-12)
    assert 0 < five["vol_share_20y"] < 1 and five["vol_share_se_20y"] > 0
    assert ref["vol_share_20y"] == 0.0 and ref["portfolio_vol_20y"] > 0


def test_loss_averse_preferences_use_the_member_reference_income(scored):
    members, sc, base, df = scored
    prefs = IncomePreferences(gamma=5.0, loss_aversion=2.0, reference_replacement=0.7)
    sl = [GlidingSleeve(base, 0.05, 0.0)]
    la = score_vintage(members, sc, base, sl, expense_ratio=0.0012, preferences=prefs)
    # loss aversion lowers every CE below the plain CRRA one on the same incomes
    assert (la["ce"] < df.iloc[[0, 2]]["ce"].to_numpy()).all()


def test_ratio_influence_by_hand():
    num, den = np.array([0.0, 2.0, 4.0, 0.0]), np.array([0.0, 1.0, 1.0, 0.0])
    r, inf = ratio_influence(num, den)
    assert r == 3.0  # (2 + 4) / 2 failures
    # influence (num - R den) / mean(den): [0, -1, 1, 0] / 0.5
    np.testing.assert_allclose(inf, [0.0, -2.0, 2.0, 0.0], atol=1e-15)
    assert np.isnan(ratio_influence(num, np.zeros(4))[0])


def test_risk_shares_of_a_missing_asset_and_bad_years(scored):
    members, sc, base, _ = scored
    w = glide_weights(base, members.spec, sc)
    out = risk_shares(sc, base, w[0], "btc")
    assert out["vol_share"] == 0.0 and out["portfolio_vol"] > 0
    with pytest.raises(DataError, match="outside the vintage"):
        score_vintage(members, sc, base, [], risk_years=(90.0,))


# ---------------------------------------------------------------- the [crypto.vintage] keys


def test_vintage_and_disclosure_keys_parse_validate_and_shrink_for_quick_runs():
    cfg = parse_crypto({"vintage": {"sleeves": [0, 0.02], "end_size": 0.01}}, ["p"])
    assert cfg.vintage.sleeves == (0.0, 0.02) and cfg.vintage.end_size == 0.01
    assert cfg.vintage.population == "target_date_2060" and cfg.vintage.members == 2000
    assert cfg.disclosure.etf_fee == 0.0025  # IBIT's sponsor fee, the default
    q = quick_crypto(cfg)
    assert (q.vintage.members, q.vintage.market_paths) == (200, 20)
    for bad, match in (
        ({"vintage": {"sleeves": [0.0]}}, "size > 0"),
        ({"vintage": {"shrink_from_years": 0, "shrink_to_years": 5}}, "must exceed"),
        ({"vintage": {"members": 5}}, "members"),
        ({"vintage": {"colour": 1}}, "colour"),
        ({"disclosure": {"crash_month": 0.05}}, "crash_month"),
    ):
        with pytest.raises(StudyError, match=match):
            parse_crypto(bad, ["p"])
