"""The summary table a tear-sheet page opens with: success by set (in sample, held out,
historical cohorts) with SE and n, CE, real wealth and unpaid years, the 100 % equity
reference, a sentence under a strategy that fails, and summary.csv beside it."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from backtest.outcomes import cohort_effective_n
from backtest.report.build import MemberInputs, SummaryInputs, TearsheetInputs, build_tearsheet_data
from backtest.report.model import (
    COHORTS,
    HELD_OUT,
    IN_SAMPLE,
    SetCell,
    SummarySet,
    TearsheetData,
    summary_csv,
    summary_text,
    summary_view,
)
from backtest.report.units import format_value
from backtest.simulate import simulate
from tests.backtest.test_historical import Mix
from tests.backtest.test_tearsheet_sets import ASSETS, GLIDE, MIX, PLAN, US
from tests.backtest.test_tearsheet_sets import COHORTS as COHORT_SET

#: Mostly bonds (real return about 0 in these scenarios): 60,000 USD a year from 800,000
#: USD for 15 years cannot last, so it fails in most scenarios.
BONDS = Mix("Mostly bonds", ASSETS, (0.1, 0.9))
REFERENCE = Mix("All stocks", ASSETS, (1.0, 0.0))
STRATEGIES = (MIX, GLIDE, BONDS)
IN = SummarySet("optimiser's draws", IN_SAMPLE, 400, 400.0, "test in-sample set")


def build(extra: SummaryInputs) -> TearsheetData:
    member = MemberInputs(
        PLAN, scenarios=US, scenarios_label="US bootstrap", cohorts=COHORT_SET,
        equity_assets=("us_stocks",),
    )  # fmt: skip
    return build_tearsheet_data(TearsheetInputs(STRATEGIES, member=member, summary=extra))


@pytest.fixture(scope="module")
def data() -> TearsheetData:
    cells = {GLIDE.name: SetCell(0.9, 0.015, 400), REFERENCE.name: SetCell(0.905, 0.0147, 400)}
    return build(SummaryInputs(reference=REFERENCE, fitted=GLIDE.name, extra=((IN, cells),)))


def test_columns_are_labelled_in_sample_held_out_and_cohorts(data: TearsheetData) -> None:
    t = data.summary
    assert t is not None
    assert [(s.label, s.role, s.n) for s in t.sets] == [
        ("optimiser's draws", IN_SAMPLE, 400),
        ("US bootstrap", HELD_OUT, 300),
        ("historical cohorts", COHORTS, 25),
    ]
    view = summary_view(t)
    assert [g for g, _ in view.groups][:3] == ["In sample", "Held out", "Historical cohorts"]
    assert view.columns[1][0] == "US bootstrap (n = 300)"
    assert t.wealth_age == PLAN.end_age


def test_success_equals_simulate_with_the_cohorts_effective_n(data: TearsheetData) -> None:
    t = data.summary
    assert t is not None
    for row in t.rows:
        strategy = next(s for s in (*STRATEGIES, REFERENCE) if s.name == row.name)
        us, coh = simulate(US, PLAN, strategy), simulate(COHORT_SET, PLAN, strategy)
        assert row.cells[1] is not None and row.cells[2] is not None
        assert row.cells[1].success == us.success_rate
        p = coh.success_rate
        n_eff = cohort_effective_n(25, coh.schedule.n_periods)
        # binary success: SE = sqrt(p (1 - p) / n_eff) exactly (backtest.outcomes)
        assert row.cells[2].success_se == pytest.approx(math.sqrt(p * (1 - p) / n_eff))
        assert row.wealth_p50 == pytest.approx(float(np.percentile(us.terminal_wealth, 50)))
    # Best first on the held-out set.
    rates = [r.cells[1].success for r in t.rows if r.cells[1] is not None]
    assert rates == sorted(rates, reverse=True)


def test_reference_is_added_to_the_summary_only(data: TearsheetData) -> None:
    t = data.summary
    assert t is not None
    ref = next(r for r in t.rows if r.name == REFERENCE.name)
    assert "100 % equity" in ref.marks
    assert data.income is not None
    assert REFERENCE.name not in {r.name for r in data.income.rows}
    assert REFERENCE.name not in {f.name for f in data.fans}
    assert any("for this table only" in n for n in t.notes)


def test_a_failing_strategy_says_why_from_its_weights(data: TearsheetData) -> None:
    t = data.summary
    assert t is not None
    row = next(r for r in t.rows if r.name == BONDS.name)
    assert row.cells[1] is not None and row.cells[1].success < 0.5
    held = simulate(US, PLAN, BONDS, record_weights=True)
    assert held.weights is not None
    bonds = float(held.weights[..., 1].mean())
    assert row.why.startswith(f"Holds on average {format_value(bonds, 'pct', 0)} in 10-year")
    assert "60,000 USD a year withdrawal" in row.why
    assert all(r.why == "" for r in t.rows if r.cells[1] and r.cells[1].success >= 0.5)


def test_the_fitted_path_is_compared_with_100_percent_equity(data: TearsheetData) -> None:
    t = data.summary
    assert t is not None
    note = next(n for n in t.notes if n.startswith(f"The {GLIDE.name}"))
    glide = next(r for r in t.rows if r.name == GLIDE.name)
    ref = next(r for r in t.rows if r.name == REFERENCE.name)
    same = all(
        a is None
        or b is None
        or abs(a.success - b.success) <= math.hypot(a.success_se, b.success_se)
        for a, b in zip(glide.cells, ref.cells, strict=True)
    )
    assert ("equals 100 % equity" in note) == same
    assert ("\u2248 100 % equity" in glide.marks) == same
    assert "in sample, optimiser's draws: 90.0 % against 90.5 %" in note


def test_summary_csv_holds_every_number_of_the_view(data: TearsheetData) -> None:
    t = data.summary
    assert t is not None
    csv = pd.read_csv(io.StringIO(summary_csv((data,))))
    view = summary_view(t)
    by_col = {(f, s): i for i, (_, f, s) in enumerate(view.columns)}
    shown = {name: cells for name, _, cells, _ in view.rows}
    for r in csv.to_dict("records"):
        se = math.nan if pd.isna(r["se"]) else float(r["se"])
        text = summary_text(str(r["figure"]), float(r["value"]), se)
        assert shown[str(r["strategy"])][by_col[str(r["figure"]), str(r["scenario_set"])]] == text
    # Every cell of the view is in the CSV (none is made up by the renderer).
    filled = sum(c != "\u2014" for cells in shown.values() for c in cells)
    assert filled == len(csv)
