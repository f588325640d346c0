"""The tear sheet's "Success by scenario set" table: each strategy on every set (issue 25)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from backtest.errors import DataError
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.report import pdf as pdf_mod
from backtest.report.build import (
    COHORTS_LABEL,
    SETS_GAMMA,
    MemberInputs,
    TearsheetInputs,
    build_tearsheet_data,
)
from backtest.report.describe import plain_words
from backtest.report.html import render_html
from backtest.report.income import annual_income, income_ce
from backtest.report.model import OVERLAP_MARK, TearsheetData, sets_csv, sets_view
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from glidelab.studyfile.files import load_study
from glidelab.tearsheet import SET_LABELS, page_inputs
from tests.backtest.test_historical import AgeGlide, Mix
from tests.browser import CHROMIUM, SKIP_REASON, render_probe

ASSETS = ("us_stocks", "tbonds_10y")
#: Saves from 55, retires at 60 on 60,000 USD a year, to 75: fails in some scenarios.
PLAN = Plan(
    55,
    60,
    75,
    initial_balance=800_000,
    contributions=Contributions(salary=80_000, rate=0.1),
    withdrawal=ConstantReal(rate=None, amount=60_000),
)
MIX = Mix("60/40", ASSETS, (0.6, 0.4))
GLIDE = AgeGlide(assets=ASSETS)
STRATEGIES = (MIX, GLIDE)


def scenarios(n: int, mean: float, seed: int, desc: str, t: int = 20) -> Scenarios:
    """Generated annual returns: equity N(mean, 0.18), bonds N(0.02, 0.06), CPI 2 %."""
    rng = np.random.default_rng(seed)
    r = np.stack([rng.normal(mean, 0.18, (n, t)), rng.normal(0.02, 0.06, (n, t))], axis=-1)
    labels = tuple(str(1930 + i) for i in range(n))
    return Scenarios(r, np.full((n, t), 0.02), ASSETS, "annual", labels=labels, description=desc)


US = scenarios(300, 0.06, 1, "US test bootstrap, 300 x 20 years")
#: A poorer world: lower equity returns, so success differs from the US set's.
DEVELOPED = scenarios(200, 0.02, 2, "developed-markets test bootstrap, 200 x 20 years")
COHORTS = scenarios(25, 0.06, 3, "test cohorts, 25 windows")


def pdf_texts(data: TearsheetData, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> list[str]:
    """Every text drawn on each page ``render_pdf`` would save (one string a page)."""
    saved: list[list[str]] = []

    class Recorder:
        def __init__(self, *args: object, **kwargs: object) -> None: ...
        def __enter__(self) -> Recorder:
            return self

        def __exit__(self, *exc: object) -> None: ...
        def savefig(self, fig: Figure) -> None:
            saved.append([t.get_text() for t in fig.texts])

    monkeypatch.setattr(pdf_mod, "PdfPages", Recorder)
    pdf_mod.render_pdf(data, [], tmp / "x.pdf")
    return [" ".join(texts) for texts in saved]


def page(other: dict[str, Scenarios] | None = None, cohorts: bool = True) -> TearsheetData:
    member = MemberInputs(
        PLAN,
        scenarios=US,
        scenarios_label="US bootstrap",
        cohorts=COHORTS if cohorts else None,
        other_sets=other or {},
        equity_assets=("us_stocks",),
    )
    return build_tearsheet_data(TearsheetInputs(STRATEGIES, member=member))


@pytest.fixture(scope="module")
def data() -> TearsheetData:
    return page({"developed markets": DEVELOPED})


def test_the_table_has_a_column_group_per_set_with_se_and_n(data: TearsheetData) -> None:
    t = data.sets
    assert t is not None
    assert [s.label for s in t.sets] == ["US bootstrap", "developed markets", COHORTS_LABEL]
    assert [s.n for s in t.sets] == [300, 200, 25]
    assert [s.overlapping for s in t.sets] == [False, False, True]
    view = sets_view(t)
    assert [g for g, _ in view.groups] == [
        "US bootstrap (n = 300)",
        "developed markets (n = 200)",
        f"historical cohorts (n = 25){OVERLAP_MARK}",
    ]
    assert all(span == 2 for _, span in view.groups)
    assert view.columns == ("Success (\u00b1 SE, pp)", f"CE \u03b3 = {SETS_GAMMA:g}, a year") * 3
    assert [name for name, _ in view.rows] == ["60/40", GLIDE.name]
    for (_, cells), (_, texts) in zip(t.rows, view.rows, strict=True):
        for c, text in zip(cells, texts[::2], strict=True):
            assert c is not None
            # binary success: SE = sqrt(p (1 - p) / n) exactly (backtest.outcomes)
            assert c.success_se == pytest.approx(math.sqrt(c.success * (1 - c.success) / c.n))
            # formatted by its unit: percent, SE in percentage points (backtest.report.units)
            assert text == f"{c.success * 100:.1f} % \u00b1 {c.success_se * 100:.1f}"
    # Each set is described (generator, size) in the caption; the cohorts' SE is flagged.
    for s in (US, DEVELOPED, COHORTS):
        assert plain_words(s.description) in t.caption
    assert any("optimistic" in n for n in view.notes)


def test_success_on_a_set_equals_simulate_on_that_set(data: TearsheetData) -> None:
    t = data.sets
    assert t is not None
    on = {"US bootstrap": US, "developed markets": DEVELOPED, COHORTS_LABEL: COHORTS}
    for name, cells in t.rows:
        strategy = next(s for s in STRATEGIES if s.name == name)
        for col, cell in zip(t.sets, cells, strict=True):
            res = simulate(on[col.label], PLAN, strategy)
            assert cell is not None
            # the same engine on the same scenarios: equal up to float round-off only
            assert cell.success == pytest.approx(res.success_rate, abs=1e-15)
            assert cell.n == res.n_scenarios
            ce = income_ce(annual_income(res), t.floor)[SETS_GAMMA]
            assert cell.ce == pytest.approx(ce, rel=1e-12)  # round-off only
    # The sets differ: the poorer world fails more often (the table is not one set thrice).
    us, dev, _ = t.rows[0][1]
    assert us is not None and dev is not None
    assert 0 < dev.success < us.success < 1


def test_the_main_set_is_the_income_table_s_runs_and_floor(data: TearsheetData) -> None:
    t, income = data.sets, data.income
    assert t is not None and income is not None
    assert t.floor == income.floor
    for (name, cells), row in zip(t.rows, income.rows, strict=True):
        assert name == row.name and cells[0] is not None
        assert (cells[0].success, cells[0].success_se, cells[0].n) == (
            row.success,
            row.success_se,
            row.n,
        )
        assert cells[0].ce == row.ce[SETS_GAMMA]
    assert data.cohorts is not None  # and the cohorts column is the cohort chart's success
    for name, cells in t.rows:
        assert cells[2] is not None
        assert cells[2].success == data.cohorts.success[name].mean()


def test_a_page_without_other_sets_has_no_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plain = page()
    assert plain.sets is None
    assert plain.income is not None and plain.cohorts is not None  # the rest as before
    html = render_html(plain, [])
    assert "Success by scenario set" not in html and 'id="sets' not in html
    pages = pdf_texts(plain, monkeypatch, tmp_path)
    # the cover, the answer, the income page and the settings: no sets page
    assert len(pages) == 2 + (plain.summary is not None) + bool(plain.settings)
    assert not any("Success by scenario set" in p for p in pages)
    assert sets_csv((plain,)) == "plan,strategy,scenario_set\n"


def test_a_strategy_a_set_lacks_is_a_dash_and_a_note() -> None:
    bonds_only = Scenarios(
        DEVELOPED.returns[:, :, 1:], DEVELOPED.inflation, ("tbonds_10y",), "annual"
    )
    data = page({"bonds only": bonds_only}, cohorts=False)
    assert data.sets is not None
    assert all(cells[1] is None for _, cells in data.sets.rows)
    view = sets_view(data.sets)
    assert view.rows[0][1][2:] == ("\u2014", "\u2014")
    assert any("not simulated on bonds only" in n for n in view.notes)


def test_other_sets_are_checked() -> None:
    monthly = Scenarios(np.zeros((4, 12, 2)), np.zeros((4, 12)), ASSETS, "monthly")
    with pytest.raises(DataError, match=r"other_sets\['m'\] has 12 periods a year"):
        MemberInputs(PLAN, scenarios=US, other_sets={"m": monthly})
    with pytest.raises(DataError, match="other_sets needs scenarios too"):
        MemberInputs(PLAN, other_sets={"d": DEVELOPED})


def test_sets_csv_has_a_row_per_plan_strategy_and_set(data: TearsheetData) -> None:
    keyed = TearsheetData(title="t", key="saver", sets=data.sets)
    frame = pd.read_csv(io.StringIO(sets_csv((keyed,))))
    assert len(frame) == 2 * 3
    assert list(frame.scenario_set[:3]) == ["US bootstrap", "developed markets", COHORTS_LABEL]
    assert set(frame.plan) == {"saver"} and list(frame.n[:3]) == [300, 200, 25]
    assert data.sets is not None
    cell = data.sets.rows[0][1][1]
    assert cell is not None
    # written with %.10g: 10 significant digits
    assert frame.success[1] == pytest.approx(cell.success, rel=1e-9)
    assert frame.success_se[1] == pytest.approx(cell.success_se, rel=1e-9)
    assert (frame.ce_gamma == SETS_GAMMA).all() and frame.overlapping[2]


def test_page_inputs_passes_every_set_beside_the_first() -> None:
    study = load_study("default").require_study("test")
    sets = {
        "historical cohorts": COHORTS,
        "block bootstrap": US,
        "parametric": US,
        "international bootstrap (JST)": DEVELOPED,
    }
    index = pd.date_range("2000-12-31", periods=3, freq="YE")
    history = pd.DataFrame(0.01, index=index, columns=[*ASSETS, "tbills", "cpi"])
    member = page_inputs(study, "lifecycle", history, {"60/40": MIX}, sets).member
    assert member is not None
    assert member.scenarios is US and member.cohorts is COHORTS
    assert member.scenarios_label == "block bootstrap"
    assert list(member.other_sets) == [
        "parametric",
        "developed markets, real local-currency returns (JST)",
    ]
    assert member.other_sets[SET_LABELS["international bootstrap (JST)"]] is DEVELOPED


def test_pdf_has_a_page_with_each_set_s_heading(
    data: TearsheetData, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pages = pdf_texts(data, monkeypatch, tmp_path)
    # cover, the answer (summary table), income, the sets page, settings last
    assert len(pages) == 5
    assert "the answer" in pages[1] and pages[-1].startswith("Settings")
    assert pages[3].startswith("Success by scenario set")
    assert data.sets is not None
    view = sets_view(data.sets)
    for g, _ in view.groups:
        assert g in pages[3].replace("\n", " ")  # a long heading wraps over lines
    assert view.rows[1][1][2] in pages[3]  # a cell of the developed-markets column


@pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
def test_html_shows_the_table_offline(data: TearsheetData, tmp_path: Path) -> None:
    probe = render_probe(render_html(data, []), tmp_path)
    assert probe.remote == 0
    assert 'id="sets-table"' in probe.dom and "developed markets (n = 200)" in probe.dom
