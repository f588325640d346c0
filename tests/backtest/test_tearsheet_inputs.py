"""A tear-sheet page from typed inputs: glide paths on the plan's own ages, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.errors import DataError
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.report.build import (
    HistoryInputs,
    MemberInputs,
    PageText,
    TearsheetInputs,
    build_tearsheet_data,
    glide_path_of,
    plan_schedule,
)
from backtest.report.charts import glide_path_chart
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from strategies.base import Schedule
from strategies.presets import preset
from tests.backtest.test_historical import AgeGlide, Mix

ASSETS = ("us_stocks", "tbonds_10y")
#: A member from 45 to 90, retiring at 67: not the old chart's 25-95 grid, nor 65.
PLAN = Plan(
    start_age=45,
    retirement_age=67,
    end_age=90,
    initial_balance=200_000,
    contributions=Contributions(salary=60_000, rate=0.1),
    withdrawal=ConstantReal(rate=0.04),
)


def scenarios(n_periods: int, frequency: str = "annual", n: int = 8) -> Scenarios:
    rng = np.random.default_rng(4)
    return Scenarios(
        returns=rng.normal(0.005, 0.03, (n, n_periods, 2)),
        inflation=np.full((n, n_periods), 0.002),
        assets=ASSETS,
        frequency=frequency,  # type: ignore[arg-type]
    )


def test_glide_path_is_the_strategy_on_the_plan_s_own_ages() -> None:
    vanguard = preset("vanguard_target_retirement")
    page = build_tearsheet_data(
        TearsheetInputs((vanguard, Mix("60/40", ASSETS, (0.6, 0.4))), member=MemberInputs(PLAN))
    )
    (g,) = page.glide_paths  # the fixed mix has no glide path
    ages = np.arange(45.0, 90.0)  # the start of each of the plan's 45 annual periods
    np.testing.assert_array_equal(g.weights.index.to_numpy(), ages)
    assert (g.retirement_age, g.end_age) == (67.0, 90.0)
    # The strategy's own weights at those ages, asked directly: equal, not resampled.
    sched = Schedule(age_start=ages, retirement_age=67.0, periods_per_year=1)
    direct = vanguard.target_weights(sched, np.zeros((1, 45, 2)))[0]
    cols = [ASSETS.index(a) for a in g.weights.columns]
    np.testing.assert_array_equal(g.weights.to_numpy(), direct[:, cols])
    assert g.weights.to_numpy()[0, 0] > g.weights.to_numpy()[-1, 0]  # it does glide

    chart = glide_path_chart(page)
    assert chart is not None
    (ax,) = [a for a in chart.figure.axes if a.get_visible()]
    assert ax.get_xlim() == (45.0, 90.0)  # the chart spans the plan, 45 to 90
    assert "45\u201390" in chart.caption


def test_glide_path_ages_are_the_simulator_s_periods() -> None:
    """The glide path's rows are the periods the fan chart simulates (same schedule)."""
    res = simulate(scenarios(45), PLAN, AgeGlide(assets=ASSETS))
    np.testing.assert_array_equal(plan_schedule(PLAN, 1).age_start, res.schedule.age_start)
    page = build_tearsheet_data(
        TearsheetInputs(
            (AgeGlide(assets=ASSETS),), member=MemberInputs(PLAN, scenarios=scenarios(45))
        )
    )
    fan_ages = page.fans[0].percentiles.index.to_numpy()
    np.testing.assert_array_equal(page.glide_paths[0].weights.index.to_numpy(), fan_ages[:-1])
    assert fan_ages[-1] == PLAN.end_age


def test_monthly_study_draws_monthly_ages() -> None:
    g = glide_path_of(AgeGlide(assets=ASSETS), PLAN, periods_per_year=12)
    assert g is not None and len(g.weights) == 45 * 12
    np.testing.assert_allclose(g.weights.index.to_numpy(), 45 + np.arange(540) / 12, rtol=1e-15)
    # AgeGlide: equity falls linearly from 90 % at 25 to 30 % at 65, flat after.
    expect = np.interp(45 + np.arange(540) / 12, [25, 65], [0.9, 0.3])
    np.testing.assert_allclose(g.weights["us_stocks"].to_numpy(), expect, rtol=1e-15)


def test_a_path_flat_over_the_plan_is_not_a_glide_path() -> None:
    """AgeGlide is flat after 65: on a retiree's ages 65-95 it is a constant mix."""
    retiree = Plan(65, 65, 95, initial_balance=1e6, withdrawal=ConstantReal(rate=0.04))
    assert glide_path_of(AgeGlide(assets=ASSETS), retiree) is None
    assert glide_path_of(AgeGlide(assets=ASSETS), PLAN) is not None


def test_history_only_page_has_no_glide_path() -> None:
    """Without a member there are no ages to draw a glide path on."""
    idx = pd.date_range("1990-12-31", periods=12, freq="YE")
    h = pd.DataFrame(
        {"us_stocks": 0.07, "tbonds_10y": 0.03, "tbills": 0.02, "cpi": 0.02}, index=idx
    )
    page = build_tearsheet_data(TearsheetInputs((AgeGlide(assets=ASSETS),), HistoryInputs(h)))
    assert page.glide_paths == () and page.metrics is not None


def test_history_for_plan_takes_the_member_s_terms() -> None:
    plan = Plan(40, 62, 90, initial_balance=1.0, expense_ratio=0.004, transaction_cost_bps=7)
    h = HistoryInputs.for_plan(pd.DataFrame(), plan)
    assert (h.retirement_age, h.expense_ratio, h.transaction_cost_bps) == (62, 0.004, 7)


def test_inputs_are_validated() -> None:
    with pytest.raises(DataError, match="at least one strategy"):
        TearsheetInputs(())
    with pytest.raises(DataError, match="unique"):
        TearsheetInputs((Mix("a", ASSETS, (1, 0)), Mix("a", ASSETS, (0, 1))))
    with pytest.raises(DataError, match="use 1 \\(annual\\) or 12"):
        MemberInputs(PLAN, periods_per_year=4)
    with pytest.raises(DataError, match="scenarios has 12 periods a year but the page is for 1"):
        MemberInputs(PLAN, scenarios=scenarios(540, "monthly"))
    rates = MemberInputs(PLAN, withdrawal_rates=[0.03, 0.04]).withdrawal_rates  # type: ignore[arg-type]
    assert rates == (0.03, 0.04)


def test_settings_and_notes_keep_their_order() -> None:
    text = PageText(title="t", settings=(("Study", "x"),), notes=("first",), seed=3, key="k")
    mix = Mix("bonds only", ("tbonds_10y",), (1.0,))
    other = Mix("needs gold", ("gold",), (1.0,))
    page = build_tearsheet_data(
        TearsheetInputs((mix, other), member=MemberInputs(PLAN, scenarios=scenarios(45)), text=text)
    )
    labels = [k for k, _ in page.settings]
    assert labels == ["Study", "Plan", "Scenarios", "Seed"] and page.settings[-1] == ("Seed", "3")
    assert page.notes[0] == "first" and "needs gold: not simulated" in page.notes[1]
    assert page.key == "k" and [f.name for f in page.fans] == ["bonds only"]
