"""Plan validation: every bad field is named in a PlanError."""

from __future__ import annotations

import pytest

from backtest.errors import PlanError
from backtest.plan import (
    ConstantReal,
    Contributions,
    FixedPercent,
    FundedRatio,
    GuytonKlinger,
    Plan,
    RequiredMinimum,
    rmd_divisor,
)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: Plan(65, 60, 90), "start_age <= retirement_age"),
        (lambda: Plan(30, 30, 30), "no periods"),
        (lambda: Plan(30, 65, 130), "125"),
        (lambda: Plan(30, 65, 90, initial_balance=-1), "initial_balance"),
        (lambda: Plan(30, 65, 90, expense_ratio=0.5), "expense_ratio"),
        (lambda: Plan(30, 65, 90, transaction_cost_bps=-1), "transaction_cost_bps"),
        (lambda: Plan(30, 65, 90, rmd_start_age=60), "rmd_start_age"),
        (lambda: Plan(30, 65, 90, success=FundedRatio(replacement_rate=0.7)), "contributions"),
        (lambda: Contributions(salary=-1, rate=0.1), "salary"),
        (lambda: Contributions(salary=1, rate=1.5), "Contributions.rate"),
        (lambda: Contributions(salary=1, rate=0.1, annual_limit=-5), "annual_limit"),
        (lambda: Contributions(salary=1, rate=0.1, timing="middle"), "timing"),
        (lambda: ConstantReal(rate=None, amount=None), "exactly one"),
        (lambda: ConstantReal(rate=0.04, amount=40_000), "exactly one"),
        (lambda: ConstantReal(rate=0.04, timing="monthly"), "timing"),
        (lambda: FixedPercent(rate=2.0), "FixedPercent.rate"),
        (lambda: GuytonKlinger(lower_guard=1.1), "guards"),
        (lambda: GuytonKlinger(preservation_off_years=-1), "preservation_off_years"),
        (lambda: RequiredMinimum(pre_table_rate=0.0), "pre_table_rate"),
        (lambda: FundedRatio(), "exactly one"),
        (lambda: FundedRatio(replacement_rate=0.7, accrual_rate=0.01), "exactly one"),
        (lambda: FundedRatio(replacement_rate=0.7, payout_years=0), "payout_years"),
        (lambda: FundedRatio(accrual_rate=0.01, final_average_years=0), "final_average_years"),
        (lambda: FundedRatio(replacement_rate=0.7, threshold=0), "threshold"),
    ],
)
def test_invalid_plans_name_the_field(make, needle: str) -> None:
    with pytest.raises(PlanError, match=needle):
        make()


def test_periods_and_rmd_table() -> None:
    plan = Plan(30, 65, 95)
    assert plan.n_periods(1) == 65 and plan.n_periods(12) == 780
    assert plan.retirement_period(12) == 420
    with pytest.raises(PlanError, match="whole number"):
        Plan(30, 65, 95.5).n_periods(1)
    assert rmd_divisor(73) == 26.5 and rmd_divisor(130) == 2.0
    with pytest.raises(PlanError, match="72"):
        rmd_divisor(70)


def test_salary_raises_on_anniversaries() -> None:
    c = Contributions(salary=100.0, rate=0.1, salary_growth_real=0.1)
    # 1 - 1e-12 (a float age just short of the anniversary) still counts as one year.
    assert c.salary_at([0.0, 0.5, 1 - 1e-12, 2.0]).tolist() == pytest.approx(
        [100.0, 100.0, 110.0, 121.0]
    )
