"""The tear sheet's "Retirement income" table and the glide paths' to/through labels."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.outcomes import RISK_AVERSIONS, certainty_equivalent
from backtest.plan import ConstantReal, Contributions, FundedRatio, Plan
from backtest.report.build import MemberInputs, TearsheetInputs, build_tearsheet_data
from backtest.report.html import render_html
from backtest.report.income import annual_income, glide_label, income_row
from backtest.report.model import TearsheetData, income_csv, income_view
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from strategies.base import Strategy
from strategies.presets import preset
from tests.backtest.test_historical import AgeGlide, Mix

ASSETS = ("us_stocks", "tbonds_10y")
RETIREE = Plan(60, 60, 75, initial_balance=1_000_000, withdrawal=ConstantReal(rate=0.06))


def scenarios(n: int = 200, t: int = 15, seed: int = 5, vol: float = 0.18) -> Scenarios:
    rng = np.random.default_rng(seed)
    r = np.stack([rng.normal(0.05, vol, (n, t)), rng.normal(0.02, vol / 3, (n, t))], axis=-1)
    return Scenarios(
        returns=r,
        inflation=np.full((n, t), 0.02),
        assets=ASSETS,
        frequency="annual",
        description=f"block bootstrap test set, {n} paths",
    )


def page(
    strategies: tuple[Strategy, ...], plan: Plan = RETIREE, scen: Scenarios | None = None
) -> TearsheetData:
    member = MemberInputs(
        plan, scenarios=scen if scen is not None else scenarios(), equity_assets=("us_stocks",)
    )
    return build_tearsheet_data(TearsheetInputs(strategies, member=member))


MIX = Mix("60/40", ASSETS, (0.6, 0.4))


def test_ce_at_each_gamma_is_certainty_equivalent_of_the_paid_withdrawals() -> None:
    scen = scenarios()
    data = page((MIX,), scen=scen)
    assert data.income is not None
    (row,) = data.income.rows
    res = simulate(scen, RETIREE, MIX)
    assert res.success_rate < 1.0  # some paths are ruined: the floor matters
    # the floor is other income added to every year's withdrawals (one CE definition with
    # the glide-path search and the DP), so a ruined year pays the floor alone
    paid = np.asarray(res.withdrawals)[:, res.retirement_period :] + data.income.floor
    for g in RISK_AVERSIONS:
        assert row.ce[g] == pytest.approx(certainty_equivalent(paid, g), rel=1e-12)
    assert row.ce[2.0] > row.ce[5.0] > row.ce[10.0]  # more risk aversion, lower CE
    assert row.success == pytest.approx(res.success_rate)
    assert row.n == 200 and 0 < row.success_se < 0.05
    assert np.isfinite(row.unpaid_given_failure) and row.unpaid_given_failure > 0
    # The floor is stated in the caption with the set and its size.
    cap = data.income.caption
    assert f"{data.income.floor:,.0f} USD a year" in cap and "200 scenarios" in cap
    assert "block bootstrap test set" in cap


def test_a_certain_withdrawal_stream_has_ce_equal_to_the_withdrawal() -> None:
    """A plan that never fails (riskless returns) pays 60,000 USD every year, plus the
    6,000 USD floor: CE = 66,000."""
    n, t = 50, 15
    calm = Scenarios(
        returns=np.full((n, t, 2), 0.03),
        inflation=np.full((n, t), 0.0),
        assets=ASSETS,
        frequency="annual",
    )
    res = simulate(calm, RETIREE, MIX)
    assert res.success.all()
    row = income_row(res, MIX, floor=6_000.0)
    np.testing.assert_allclose(annual_income(res), 60_000.0, rtol=1e-12)
    for g in RISK_AVERSIONS:
        assert row.ce[g] == pytest.approx(66_000.0, rel=1e-12)
    assert np.isnan(row.unpaid_given_failure) and row.n_failed == 0


def test_to_and_through_labels() -> None:
    through = glide_label(preset("fidelity_freedom"), 65.0, ("us_stocks",))
    assert through is not None and through.label == "through"
    assert list(through.equity) == [40.0, 65.0, 90.0]
    assert through.equity[40.0] > through.equity[65.0] > through.equity[90.0]
    to = glide_label(preset("blackrock_lifepath_index"), 65.0, ("us_stocks",))
    assert to is not None and to.label == "to"
    assert to.equity[65.0] == pytest.approx(to.equity[90.0]) and to.equity[40.0] > to.equity[65.0]
    # The equity share is the strategy's own weight at that age.
    from strategies.base import Schedule

    sched = Schedule.from_ages(40.0, 91.0, 65.0, 1)
    w = preset("fidelity_freedom").target_weights(sched, np.zeros((1, 51, 3)))[0]
    assert through.equity[90.0] == pytest.approx(w[50, 0])
    # A fixed mix is no glide path; a state-dependent strategy has no age-only path.
    assert glide_label(preset("fixed_60_40"), 65.0, ("us_stocks",)) is None
    assert glide_label(preset("vol_target_6"), 65.0, ("us_stocks",)) is None


def test_safe_withdrawal_rate_na_for_a_state_dependent_strategy() -> None:
    vol = preset("risk_parity")
    data = page((MIX, vol))
    assert data.income is not None
    mix_row, vol_row = data.income.rows
    assert vol_row.safe_withdrawal == {} and set(mix_row.safe_withdrawal) == {0.05, 0.10}
    assert 0 < mix_row.safe_withdrawal[0.05] <= mix_row.safe_withdrawal[0.10] < 0.2
    view = income_view(data.income)
    swr = [cells for label, cells in view.rows if label.startswith("Safe withdrawal")]
    assert swr and all(c[1] == "n/a\u00b9" and c[0] != "n/a\u00b9" for c in swr)
    assert view.notes and "n/a" in view.notes[0]


def test_safe_withdrawal_rate_fails_in_at_most_its_share() -> None:
    """Withdrawing the 5 %-failure rate from the simulator itself fails in <= 5 % of paths."""
    scen = scenarios()
    row = page((MIX,), scen=scen).income.rows[0]  # type: ignore[union-attr]
    for p, rate in row.safe_withdrawal.items():
        plan = Plan(60, 60, 75, initial_balance=1e6, withdrawal=ConstantReal(rate=rate * 0.999))
        assert 1 - simulate(scen, plan, MIX).success_rate <= p + 1e-12


def test_pension_target_gives_replacement_percentiles_and_html_and_csv() -> None:
    saver = Plan(
        50,
        60,
        75,
        initial_balance=300_000,
        contributions=Contributions(salary=60_000, rate=0.1),
        withdrawal=ConstantReal(rate=0.05),
    )
    target = FundedRatio(replacement_rate=0.3)
    member = MemberInputs(
        saver, scenarios=scenarios(t=25), pension_target=target, equity_assets=("us_stocks",)
    )
    data = build_tearsheet_data(TearsheetInputs((MIX, AgeGlide(assets=ASSETS)), member=member))
    assert data.income is not None and data.funded_ratios is not None
    for row in data.income.rows:
        q = [row.replacement[k] for k in (10, 25, 50, 75, 90)]
        assert q == sorted(q)
        # Reaching the target replacement is a funded ratio >= 1 on the same balances.
        ratios = data.funded_ratios.ratios[row.name]
        assert row.reach_target == pytest.approx(np.mean(ratios >= 1.0 - 1e-9))
    assert [g.name for g in data.glide_labels] == ["glide"]
    html = render_html(data, [])
    assert html.index('id="income"') < html.index("Settings")  # the answer first
    assert "Retirement income" in html and "CE income, \u03b3 = 5" in html
    assert 'id="glide-labels"' in html
    csv = income_csv((data,))
    head = csv.splitlines()[0].split(",")
    assert {"ce_gamma_2", "ce_gamma_5", "ce_gamma_10", "replacement_p50", "glide_label"} <= set(
        head
    )
