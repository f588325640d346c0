"""Irlam's "Asset Allocation Showdown" reproduction (issue 25): the pieces and the bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.data import load_history
from backtest.errors import StudyError
from glidelab.cli import main
from optimize.irlam import (
    PUBLISHED,
    SCENARIOS,
    TARGET_DATE_STOCKS,
    IrlamSettings,
    annual_history,
    block_indices,
    failure_stats,
    fit_sdp,
    reproduce_irlam,
    stock_share,
)


def test_blocks_run_consecutive_years_and_wrap_and_the_first_is_1_to_20_long() -> None:
    rng = np.random.default_rng(7)
    idx = block_indices(4000, 95, 86, 20, rng)
    assert idx.shape == (4000, 95) and idx.min() >= 0 and idx.max() <= 85
    jumps = np.diff(idx, axis=1) % 86 != 1  # a new block (one starting a year on is hidden)
    # each path's first-block length: block_indices draws it first from the generator
    first_len = np.random.default_rng(7).integers(1, 21, size=(4000, 1))
    t = np.arange(1, 95)[None, :]
    on_boundary = (t - first_len) % 20 == 0
    # jumps fall only where a block starts: at the first length, then every 20 years
    assert jumps.any() and not (jumps & ~on_boundary).any()
    # and nearly every such boundary shows one (hidden with probability 1/86)
    assert (jumps & on_boundary).sum() > 0.95 * on_boundary.sum()
    # the first year is any of the 86 with equal chance (4000 draws: 46.5 each, sd ~6.8)
    counts = np.bincount(idx[:, 0], minlength=86)
    assert counts.min() > 15 and counts.max() < 80
    # the wrap from 2012 (row 85) to 1927 (row 0) happens inside blocks
    assert ((idx[:, :-1] == 85) & (idx[:, 1:] == 0) & ~jumps).any()


def test_fixed_schemes_follow_irlam_generate_aa() -> None:
    ages = np.array([25.0, 27.5, 65.0, 72.5, 90.0, 101.0])
    assert stock_share("age_in_bonds", ages, 65) == pytest.approx(
        [0.75, 0.725, 0.35, 0.275, 0.1, 0]
    )
    assert stock_share("age_minus_10_in_bonds", ages, 65)[2] == pytest.approx(0.45)
    td = stock_share("target_date", ages, 65)
    # 37.5+ years to retirement: the last knot; at retirement halfway between knots 1 and 2;
    # 7.5+ years after it: the first knot
    assert td[0] == td[1] == TARGET_DATE_STOCKS[-1]
    assert td[2] == pytest.approx((TARGET_DATE_STOCKS[1] + TARGET_DATE_STOCKS[2]) / 2)
    assert td[3] == td[4] == TARGET_DATE_STOCKS[0]
    with pytest.raises(StudyError, match="no fixed rule"):
        stock_share("sdp", ages, 65)


def test_failure_is_weighted_by_being_alive_when_the_withdrawal_falls_due() -> None:
    surv = np.array([1.0, 0.5, 0.25, 0.0])
    # path 0 never fails; path 1 fails at the end of year 0 (due at 1, S = 0.5), path 2 at
    # the end of year 1 (due at 2, S = 0.25)
    st = failure_stats(np.array([-1, 0, 1]), surv)
    assert st.chance == pytest.approx(0.75 / 3)
    # withdrawals missed (failed one whole): path 1 (0.5 + 0.25) / 0.5 = 1.5, path 2 1.0;
    # weighted (0.75 + 0.25) / 0.75, minus half a year for deaths within the year
    assert st.length == pytest.approx(1.0 / 0.75 - 0.5)
    assert st.length_whole == pytest.approx(1.0 / 0.75)


def test_annual_returns_compound_the_monthly_shiller_series() -> None:
    settings = IrlamSettings()
    annual = annual_history(settings, 1872, 1926)
    assert list(annual.index[[0, -1]]) == [1872, 1926] and len(annual) == 55
    m = load_history(["sp500_shiller"], "monthly", start="1900-01", end="1900-12")
    # the same twelve numbers multiplied in another order: float rounding only
    assert annual.loc[1900, "sp500_shiller"] == pytest.approx(
        np.prod(1 + m.to_numpy()) - 1, abs=1e-12
    )


def test_the_dp_is_fitted_on_1872_1926_only() -> None:
    res = fit_sdp(SCENARIOS[1], IrlamSettings(dp_states=101, dp_weight_step=0.05))
    assert "55 years 1872-1926" in res.model_description
    assert res.n_outcomes == 55 and res.survival


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    # 20,000 sequences (not 100,000) keep the test to seconds; the DP on its full grid
    return reproduce_irlam(IrlamSettings(n_sequences=20_000))


def test_age_rules_match_the_published_cells(table: pd.DataFrame) -> None:
    rules = table[table.scheme.isin(["age_in_bonds", "age_minus_10_in_bonds"])]
    assert len(rules) == 4
    for r in rules.itertuples(index=False):
        # issue 25: within 2 pp; plus two standard errors of our 20,000-sequence estimate
        # (se about 0.15 pp) for sampling error against the 100,000-sequence target
        assert abs(r.diff_pp) <= 2.0 + 2.0 * r.se_pp, r
        # issue 25: within 0.5 years (lengths are averages over thousands of failures)
        assert abs(r.diff_length_y) <= 0.5, r


def test_the_out_of_sample_dp_cuts_failure_by_45_percent(table: pd.DataFrame) -> None:
    sdp = table[table.scheme == "sdp"].set_index("scenario")
    # issue 25: at least 45 % below age minus 10 in both scenarios (published 61 % and 47 %)
    assert (sdp["cut_vs_age_minus_10_pct"] >= 45.0).all(), sdp
    assert set(sdp.index) == {"age25", "age65"}
    assert all((s, "sdp") in PUBLISHED for s in sdp.index)


def test_validate_irlam_writes_the_table_and_report(tmp_path, capsys) -> None:
    args = ["validate", "irlam", "--sequences", "500", "--out", str(tmp_path)]
    assert main(args) == 0
    csv = pd.read_csv(tmp_path / "irlam.csv")
    assert len(csv) == 8 and set(csv.scenario) == {"age25", "age65"}
    md = (tmp_path / "irlam.md").read_text()
    assert "Irlam" in md and "## Acceptance (issue 25)" in md
    assert "wrote" in capsys.readouterr().out
