"""Plan loans with default at a job end (issue 24): the 72(p) cap, repayment, default."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from backtest.calibration import leakage_calibration, loan_targets
from backtest.errors import PlanError
from backtest.leakage import (
    CashOutCurve,
    HardshipRule,
    PlanLoanRule,
    calibrated_leakage,
    loan_limit,
    projected_balances,
)
from backtest.population import PopulationSpec, draw_members, job_ends

#: No cash-outs above the force-out balance (logistic at -20: about 2e-9), no hardship.
NO_CASH = CashOutCurve(-20.0, 0.0, 0.0)
NO_HARDSHIP = HardshipRule(0.0, 1_000.0, 1.0)
RETURN = 0.03
N, T = 20_000, 10
CONTRIBUTION = 10_000.0


def _run(
    rule: PlanLoanRule, sep_year: int, age_at_sep: float, seed: int = 3
) -> tuple[object, np.ndarray, np.ndarray]:
    """``N`` identical savers (10,000 USD a year, working every year) who all change jobs
    in year ``sep_year`` at age ``age_at_sep``; returns the draw, the projected total
    balance at each year's start and the job ends."""
    rng = np.random.default_rng(seed)
    contributions = np.full((N, T), CONTRIBUTION)
    sep = np.zeros((N, T), dtype=bool)
    sep[:, sep_year] = True
    working = np.ones((N, T), dtype=bool)
    ages = age_at_sep - sep_year + np.arange(T, dtype=np.float64)
    u = rng.random((3, N, T))
    draw = calibrated_leakage(
        contributions,
        sep,
        working,
        ages,
        u[0],
        u[1],
        NO_CASH,
        NO_HARDSHIP,
        RETURN,
        (0.10, 59.5),
        (rule, sep, u[2]),
    )
    plan, rolled = projected_balances(contributions, sep, draw.share, RETURN)
    return draw, (plan + rolled)[:, :-1], sep


def test_loan_limit_is_the_lesser_of_50000_and_half_the_balance() -> None:
    assert loan_limit(np.array([200_000.0, 30_000.0])).tolist() == [50_000.0, 15_000.0]
    # Asking for the whole balance: the cap binds.
    whole = PlanLoanRule(rate=1.0, size_share=1.0, term_years=5.0, default_rate=0.0)
    assert whole.amounts(np.array([200_000.0, 30_000.0])).tolist() == [50_000.0, 15_000.0]
    # 16 % of 30,000 is under the cap.
    assert PlanLoanRule(1.0, 0.16, 5.0, 0.0).amounts(np.array([30_000.0]))[0] == 4_800.0


def test_a_borrower_who_separates_defaults_at_the_stated_rate() -> None:
    rule = PlanLoanRule(rate=1.0, size_share=0.16, term_years=5.0, default_rate=0.86)
    draw, total, _ = _run(rule, sep_year=3, age_at_sep=40.0)
    assert draw.loan_due is not None and draw.loan_default is not None
    # Everyone borrowed in year 1 (the first year with a balance) and owes at year 3.
    assert draw.loan_due[:, 3].all()
    rate = draw.loan_default[:, 3].mean()
    # Binomial sampling sd sqrt(0.86 x 0.14 / 20,000) = 0.0025: 4 sd.
    assert rate == pytest.approx(0.86, abs=0.01)
    # The offset is the loan less the two instalments paid (years 1 and 2): 3/5 of it,
    # taken at the start of year 3 as a share of that year's balance.
    loan = 0.16 * CONTRIBUTION
    offset = draw.share[:, 3] * total[:, 3]
    d = draw.loan_default[:, 3]
    np.testing.assert_allclose(offset[d], 0.6 * loan, rtol=1e-12)  # float rounding only
    assert (offset[~d] == 0.0).all()
    # Before 55: the 10 % additional tax on the default; nothing else leaks.
    assert (draw.penalty_rate[d, 3] == 0.10).all() and (draw.penalty_rate[~d, 3] == 0.0).all()
    assert (draw.share[:, :3] == 0.0).all()


def test_a_default_at_a_separation_from_55_pays_no_additional_tax() -> None:
    rule = PlanLoanRule(rate=1.0, size_share=0.16, term_years=5.0, default_rate=0.86)
    draw, _, _ = _run(rule, sep_year=3, age_at_sep=56.0)
    assert draw.loan_default is not None and draw.loan_default[:, 3].any()
    assert (draw.share[draw.loan_default[:, 3], 3] > 0).all()
    assert (draw.penalty_rate == 0.0).all()  # rule of 55


def test_repayment_while_employed_leaves_the_account_as_without_a_loan() -> None:
    # Borrowed in year 1, five instalments at the ends of years 1-5: nothing is due at the
    # job change of year 6, so the account is as with loans off.
    rule = PlanLoanRule(rate=1.0, size_share=0.16, term_years=5.0, default_rate=1.0)
    draw, _, _ = _run(rule, sep_year=6, age_at_sep=40.0)
    assert draw.loan is not None and draw.loan_due is not None
    assert draw.loan[:, 1:6].all() and not draw.loan[:, 0].any()
    assert not draw.loan_due.any()
    assert (draw.share == 0.0).all()
    # After the job change a new loan starts the year after (year 7).
    assert not draw.loan[:, 6].any() and draw.loan[:, 7].all()


def test_loans_off_leave_the_members_unchanged() -> None:
    spec = PopulationSpec()
    off = draw_members(spec, 2_000, 11)
    assert off.loan is None and off.loan_due is None and off.loan_default is None
    on = draw_members(dataclasses.replace(spec, plan_loans=True), 2_000, 11)
    # The loans' draws are a separate stream: every other draw is unchanged.
    for name in ("contributions", "separation", "survival", "retirement_age", "spending"):
        np.testing.assert_array_equal(getattr(on, name), getattr(off, name))
    # A loan rule that never lends reproduces loans off bit for bit.
    never = draw_members(dataclasses.replace(spec, plan_loans=True, loan_rate=0.0), 2_000, 11)
    np.testing.assert_array_equal(never.leakage_share, off.leakage_share)
    np.testing.assert_array_equal(never.penalty_rate, off.penalty_rate)
    # With loans, defaults add leakage.
    assert on.leakage_share.sum() > off.leakage_share.sum()


def test_job_ends_count_a_break_start() -> None:
    working = np.array([[True, True, False, False, True]])
    in_career = np.array([[True, True, True, True, True]])
    change = np.array([[False, False, False, False, True]])
    assert job_ends(change, working, in_career).tolist() == [[False, False, True, False, True]]
    # Retirement (out of career) is not a job end.
    out = np.array([[True, True, False, False, False]])
    assert not job_ends(np.zeros_like(change), working, out)[0, 2]


def test_calibration_rows_only_with_loans() -> None:
    names = {t.name for t in loan_targets()}
    spec = PopulationSpec()
    off = leakage_calibration(draw_members(spec, 2_000, 5))
    assert not names & set(off.index)
    on = leakage_calibration(draw_members(dataclasses.replace(spec, plan_loans=True), 2_000, 5))
    assert names <= set(on.index)
    # 2,000 members: the default share's sampling sd is about 0.02 on a few hundred job
    # ends with a loan; the outstanding share is set to be near 0.20 (tolerance 0.05).
    assert on.loc[sorted(names), "within"].all(), on.loc[sorted(names)]


def test_plan_loans_need_the_calibrated_leakage() -> None:
    with pytest.raises(PlanError, match="plan_loans"):
        PopulationSpec(plan_loans=True, leakage="heavy")
