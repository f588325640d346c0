"""Tear sheet: builder, writer (all four files, atomically) and section omission."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.plan import ConstantReal, Contributions, FundedRatio, Plan
from backtest.report import build as build_mod
from backtest.report.build import (
    HistoryInputs,
    MemberInputs,
    PageText,
    SleeveInputs,
    TearsheetInputs,
    build_tearsheet_data,
    rolling_stats,
)
from backtest.report.charts import build_charts
from backtest.report.describe import describe_plan, describe_withdrawal
from backtest.report.html import render_html
from backtest.report.model import TearsheetBook, metrics_views
from backtest.report.tearsheet import TearsheetData, format_value, write_tearsheet
from backtest.scenarios import Scenarios
from tests.backtest.test_historical import AgeGlide, Mix
from tests.browser import CHROMIUM, SKIP_REASON, chromium, render_probe


def small_history(n: int = 30) -> pd.DataFrame:
    idx = pd.date_range("1990-12-31", periods=n, freq="YE")
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "stocks": rng.normal(0.08, 0.18, n),
            "bonds": rng.normal(0.04, 0.07, n),
            "tbills": np.full(n, 0.03),
            "cpi": np.full(n, 0.025),
        },
        index=idx,
    )


def small_scenarios(n: int = 64, t: int = 10, seed: int = 2) -> Scenarios:
    rng = np.random.default_rng(seed)
    r = np.stack([rng.normal(0.07, 0.17, (n, t)), rng.normal(0.03, 0.06, (n, t))], axis=-1)
    return Scenarios(
        returns=r,
        inflation=np.full((n, t), 0.02),
        assets=("stocks", "bonds"),
        frequency="annual",
        labels=tuple(str(1950 + i) for i in range(n)),
        description=f"{n} generated test scenarios",
    )


STRATS = (Mix("60/40", ("stocks", "bonds"), (0.6, 0.4)), AgeGlide())


def full_data() -> TearsheetData:
    h = small_history()
    plan = Plan(
        start_age=55,
        retirement_age=60,
        end_age=65,
        initial_balance=100_000,
        contributions=Contributions(salary=50_000, rate=0.1),
        success=FundedRatio(replacement_rate=0.2, payout_years=5),
    )
    retiree = Plan(60, 60, 70, initial_balance=1e6, withdrawal=ConstantReal(0.05))
    sleeves = {0.0: STRATS[0], 0.05: Mix("s", ("stocks", "bonds"), (0.65, 0.35))}
    return build_tearsheet_data(
        TearsheetInputs(
            STRATS,
            history=HistoryInputs.for_plan(h, plan),
            member=MemberInputs(
                plan,
                scenarios=small_scenarios(),
                cohorts=small_scenarios(20, 10, 3),
                cohort_plan=retiree,
                withdrawal_rates=(0.03, 0.05, 0.07),
            ),
            sleeves=SleeveInputs(sleeves),
            text=PageText(title="Test tear sheet", seed=7),
        )
    )


@pytest.fixture(scope="module")
def data() -> TearsheetData:
    return full_data()


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, data: TearsheetData) -> Path:
    """The full report, written once for the module (drawing is the slow part)."""
    return write_tearsheet(data, tmp_path_factory.mktemp("out") / "results" / "tearsheet")


def test_builder_fills_every_section(data: TearsheetData) -> None:
    assert data.metrics is not None and len(data.metrics) == 4
    assert data.growth is not None and data.growth.iloc[0].tolist() == [1.0, 1.0]
    assert data.growth.index[0] == pd.Timestamp("1989-12-31")
    assert data.glide_paths and data.glide_paths[0].name == "glide"  # the mix is flat
    assert len(data.fans) == 2 and list(data.fans[0].percentiles.columns) == [5, 25, 50, 75, 95]
    assert data.cohorts is not None and data.cohorts.terminal_wealth.shape == (20, 2)
    assert data.success_grid is not None and data.success_grid.probabilities.shape == (2, 3)
    assert data.funded_ratios is not None and set(data.funded_ratios.ratios) == {"60/40", "glide"}
    assert data.sleeve is not None and data.sleeve.table.shape == (2, 3)
    assert ("Seed", "7") in data.settings
    # Success falls (weakly) as the withdrawal rate rises.
    p = data.success_grid.probabilities.to_numpy()
    assert np.all(np.diff(p, axis=1) <= 1e-12)
    # Growth of 1 is the compounded nominal return.
    final = float(data.growth["60/40"].iloc[-1])
    h = small_history()
    np.testing.assert_allclose(final, np.prod(1 + 0.6 * h["stocks"] + 0.4 * h["bonds"]), rtol=1e-12)


def test_fan_percentiles_match_numpy(data: TearsheetData) -> None:
    from backtest.simulate import simulate

    fan = data.fans[0]
    plan = Plan(
        start_age=55,
        retirement_age=60,
        end_age=65,
        initial_balance=100_000,
        contributions=Contributions(salary=50_000, rate=0.1),
        success=FundedRatio(replacement_rate=0.2, payout_years=5),
    )
    res = simulate(small_scenarios(), plan, STRATS[0])
    # Same inputs, same numpy call: equal to round-off.
    np.testing.assert_allclose(
        fan.percentiles[50].to_numpy(), np.median(res.wealth, axis=0), rtol=1e-12
    )


def test_rolling_stats_by_hand() -> None:
    idx = pd.date_range("2000-12-31", periods=4, freq="YE")
    r = pd.DataFrame({"a": [0.1, -0.1, 0.2, 0.0]}, index=idx)
    ret, vol = rolling_stats(r, 3, 1)
    np.testing.assert_allclose(ret["a"].iloc[2], (1.1 * 0.9 * 1.2) ** (1 / 3) - 1, rtol=1e-12)
    np.testing.assert_allclose(vol["a"].iloc[3], np.std([-0.1, 0.2, 0.0], ddof=1), rtol=1e-12)
    assert ret["a"].iloc[:2].isna().all()


def test_every_chart_has_title_caption_and_axis_labels(data: TearsheetData) -> None:
    charts = build_charts(data)
    keys = [c.key for c in charts]
    assert keys == [
        "growth", "drawdown", "rolling", "annual", "glide", "fan", "cohorts", "heatmap",
        "funded", "sleeve",
    ]  # fmt: skip
    for c in charts:
        assert c.title and c.caption.endswith(".")
        for ax in c.figure.axes:
            if ax.get_visible() and ax.get_label() != "<colorbar>":
                assert ax.get_xlabel() and ax.get_ylabel(), (c.key, ax.get_title())


def test_format_value() -> None:
    assert format_value(-0.1234, "pct") == "\u221212.3%"
    assert format_value(0.5, "ratio") == "0.50"
    assert format_value(pd.Timestamp("2008-12-31"), "date", "annual") == "2008"
    assert format_value(pd.Timestamp("2009-02-28"), "date", "monthly") == "Feb 2009"
    assert format_value(float("nan"), "pct") == "\u2014"
    assert format_value(3.0, "periods", "monthly") == "3 mo"


def test_writer_writes_four_files(written: Path, data: TearsheetData) -> None:
    out = written
    assert sorted(p.name for p in out.iterdir()) == [
        "metrics.csv", "metrics.json", "summary.csv", "tearsheet.html", "tearsheet.pdf",
    ]  # fmt: skip
    html = (out / "tearsheet.html").read_text(encoding="utf-8")
    # The answer first: the summary table opens the page, the settings close it.
    assert html.index('id="summary"') < html.index('id="metrics"') < html.index('id="settings"')
    assert html.count("<img ") == 10 and html.count("data:image/png;base64,") == 10
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    assert "Test tear sheet" in html and "Settings" in html and "Seed" in html
    pdf = (out / "tearsheet.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(
        b"/Type /Page " ) >= 1  # fmt: skip
    csv = pd.read_csv(out / "metrics.csv")
    assert list(csv.columns[:4]) == ["strategy", "basis", "cagr", "volatility"]
    assert len(csv) == 4
    payload = json.loads((out / "metrics.json").read_text())
    rec = payload["metrics"][0]
    assert rec["strategy"] == "60/40" and rec["basis"] == "nominal"
    np.testing.assert_allclose(rec["cagr"], data.metrics.iloc[0]["cagr"], rtol=1e-15)
    assert not list(out.parent.glob(".tearsheet*"))  # no temporary folder left


def test_writer_leaves_nothing_on_error(
    tmp_path: Path, data: TearsheetData, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = TearsheetData(title="new", metrics=data.metrics, growth=data.growth)
    target = tmp_path / "ts"
    write_tearsheet(TearsheetData(title="old", metrics=data.metrics), target)
    before = (target / "tearsheet.html").read_text()

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("backtest.report.pdf.render_pdf", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_tearsheet(small, target)
    assert (target / "tearsheet.html").read_text() == before  # old report untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ts"]  # no partial sibling
    fresh = tmp_path / "new"
    with pytest.raises(RuntimeError):
        write_tearsheet(small, fresh)
    assert not fresh.exists()


def test_sections_omitted_cleanly(tmp_path: Path) -> None:
    h = small_history()
    data = build_tearsheet_data(TearsheetInputs((STRATS[0],), history=HistoryInputs(h)))
    charts = build_charts(data)
    assert [c.key for c in charts] == ["growth", "drawdown", "rolling", "annual"]
    html = render_html(data, charts)
    assert "Monte Carlo" not in html and "Glide path" not in html and "<h2>Charts" in html
    # Nothing at all but a title still writes a valid report.
    empty = write_tearsheet(TearsheetData(title="Empty"), tmp_path / "empty")
    assert (empty / "metrics.csv").read_text().startswith("strategy,basis")
    assert "<img" not in (empty / "tearsheet.html").read_text()


def test_builder_rejects_duplicate_names() -> None:
    from backtest.errors import DataError

    with pytest.raises(DataError, match="unique"):
        TearsheetInputs((STRATS[0], STRATS[0]), history=HistoryInputs(small_history()))


def test_report_never_imports_pyplot() -> None:
    src = Path(build_mod.__file__).parent
    for f in src.glob("*.py"):
        text = f.read_text()
        assert "import pyplot" not in text and "matplotlib.pyplot" not in text, f.name


# --------------------------------------------------------------------------- browser


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
def test_html_renders_in_headless_chromium(written: Path, tmp_path: Path) -> None:
    from matplotlib.image import imread

    html = (written / "tearsheet.html").read_text(encoding="utf-8")
    ok, total, remote, _ = render_probe(html, tmp_path)
    assert total == 10 and ok == total, f"{ok} of {total} images loaded"
    assert remote == 0, f"{remote} resources were requested from outside the file"

    shot = tmp_path / "shot.png"
    res = chromium(
        tmp_path, "--window-size=1100,2400", f"--screenshot={shot}", written.joinpath(
            "tearsheet.html").as_uri()
    )  # fmt: skip
    assert shot.exists(), f"no screenshot; stderr: {res.stderr[-2000:]}"
    px = imread(str(shot))[..., :3]
    assert px.shape[0] >= 2000 and px.shape[1] >= 1000
    # Not blank: real text, tables and charts give varied pixels; a blank page has std 0.
    assert float(px.std()) > 0.05
    assert float(np.mean(px.mean(axis=-1) < 0.9)) > 0.02  # at least 2 % non-white ink


# --------------------------------------------------------------------------- one page per plan


def book_data() -> TearsheetBook:
    """Two plans, each a page of its own (as a study with two members gives)."""
    h = small_history()
    saver = Plan(
        start_age=50,
        retirement_age=55,
        end_age=60,
        initial_balance=50_000,
        contributions=Contributions(salary=40_000, rate=0.1),
        withdrawal=ConstantReal(rate=None, amount=35_000.0, indexed=True, timing="start"),
    )
    retiree = Plan(60, 60, 70, initial_balance=1e6, withdrawal=ConstantReal(rate=0.04))
    pages = tuple(
        build_tearsheet_data(TearsheetInputs(
            STRATS, history=HistoryInputs.for_plan(h, plan),
            member=MemberInputs(plan, scenarios=small_scenarios()),
            text=PageText(title=f"Plan {name!r}", subtitle=describe_plan(plan), key=name),
        ))
        for name, plan in (("saver", saver), ("maya", retiree))
    )  # fmt: skip
    return TearsheetBook(
        title="Two plans", settings=(("Seed", "7"),), pages=pages, notes=("A note.",)
    )


@pytest.fixture(scope="module")
def book_written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tearsheet(book_data(), tmp_path_factory.mktemp("book") / "tearsheet")


def test_book_has_an_index_and_a_section_per_plan(book_written: Path) -> None:
    html = (book_written / "tearsheet.html").read_text(encoding="utf-8")
    links = re.findall(r'<a href="#([^"]+)">', html)
    assert links[:2] == ["plan-saver", "plan-maya"]
    for target in links:  # every link of the index lands on an element of the page
        assert f'id="{target}"' in html, target
    # Each plan has its own charts (fan chart included): the second plan is no longer
    # only a row of a table.
    assert 'id="plan-maya-chart-fan"' in html and 'id="plan-saver-chart-fan"' in html
    assert html.count('id="plan-saver-metrics-nominal"') == 1
    ids = re.findall(r'id="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids"
    # The withdrawal rule is written in words, never as a Python repr.
    assert "ConstantReal(" not in html and "timing=" not in html
    assert "35,000 USD a year, raised with inflation" in html
    csv = pd.read_csv(book_written / "metrics.csv")
    assert list(csv.columns[:3]) == ["plan", "strategy", "basis"]
    assert set(csv.plan) == {"saver", "maya"} and len(csv) == 8
    payload = json.loads((book_written / "metrics.json").read_text())
    assert [p["plan"] for p in payload["plans"]] == ["saver", "maya"]
    assert {r["plan"] for r in payload["metrics"]} == {"saver", "maya"}
    # Each plan's section opens with its income table; the figures are in income.csv.
    assert html.index('id="plan-maya-income"') < html.index('id="plan-maya-settings"')
    income = pd.read_csv(book_written / "income.csv")
    assert list(income.plan) == ["saver", "saver", "maya", "maya"]
    assert {"ce_gamma_2", "ce_gamma_5", "ce_gamma_10", "swr_5pct_failure"} <= set(income.columns)
    pdf = (book_written / "tearsheet.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")  # its pages: test_book_pdf_has_a_cover_then_every_page


def test_book_pdf_has_a_cover_then_every_page_of_each_plan(tmp_path: Path) -> None:
    from backtest.report import pdf as pdf_mod

    book = book_data()
    charts = [build_charts(p) for p in book.pages]
    saved: list[object] = []

    class Recorder:
        def __init__(self, *args: object, **kwargs: object) -> None: ...
        def __enter__(self) -> Recorder:
            return self

        def __exit__(self, *exc: object) -> None: ...
        def savefig(self, fig: object) -> None:
            saved.append(fig)

    original = pdf_mod.PdfPages
    pdf_mod.PdfPages = Recorder  # type: ignore[assignment,misc]
    try:
        pdf_mod.render_book_pdf(book, charts, tmp_path / "x.pdf")
    finally:
        pdf_mod.PdfPages = original  # type: ignore[misc]
    # Each plan: its cover, the answer (summary table) when it has one, income, metrics,
    # charts, then its settings; the book closes with its own settings.
    per_plan = [
        1
        + (p.summary is not None)
        + (p.income is not None)
        + len(metrics_views(p))
        + len(c)
        + bool(p.settings)
        for p, c in zip(book.pages, charts, strict=True)
    ]
    assert all(p.income is not None for p in book.pages)  # both plans withdraw
    assert len(saved) == 1 + sum(per_plan) + bool(book.settings)
    cover = " ".join(t.get_text() for t in saved[0].texts)  # type: ignore[attr-defined]
    assert "Plan 'saver'  (page 2)" in cover and f"Plan 'maya'  (page {2 + per_plan[0]})" in cover


def test_withdrawal_rules_in_words() -> None:
    from backtest.plan import FixedPercent, GuytonKlinger, RequiredMinimum

    words = describe_withdrawal(
        ConstantReal(rate=None, amount=35000.0, indexed=True, timing="start")
    )
    assert words == (
        "35,000 USD a year, raised with inflation (constant in real terms), paid at the start "
        "of each year"
    )
    nominal = describe_withdrawal(ConstantReal(rate=0.04, indexed=False, timing="end"))
    assert nominal.startswith("4% of the balance at retirement a year, fixed in dollars")
    assert nominal.endswith("paid at the end of each year")
    assert "half at the start" in describe_withdrawal(FixedPercent(0.05, timing="split"))
    assert "Guyton-Klinger" in describe_withdrawal(GuytonKlinger())
    assert "required minimum" in describe_withdrawal(RequiredMinimum())
    assert describe_withdrawal(None) == "no withdrawals"
    text = describe_plan(Plan(45, 62, 95, initial_balance=180_000, expense_ratio=0.006))
    assert "retires at 62" in text and "180,000 USD" in text and "0.60% a year" in text


def test_report_imports_run_one_way() -> None:
    """model/describe <- build, charts <- html <- pdf <- tearsheet (the writer): no module
    imports one to its right, so there is no import circle."""
    import ast

    order = ["model", "describe", "income", "build", "charts", "html", "pdf", "tearsheet"]
    src = Path(build_mod.__file__).parent
    for i, name in enumerate(order):
        tree = ast.parse((src / f"{name}.py").read_text())
        imported = {
            node.module.rsplit(".", 1)[-1]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("backtest.report")
        } | {
            alias.name.rsplit(".", 1)[-1]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
            if alias.name.startswith("backtest.report.")
        }
        later = imported & set(order[i:])
        assert not later, f"report/{name}.py imports {sorted(later)}"


def test_model_and_words_load_without_matplotlib() -> None:
    code = (
        "import sys, backtest.report.model, backtest.report.describe; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
def test_book_index_links_work_in_headless_chromium(book_written: Path, tmp_path: Path) -> None:
    html = (book_written / "tearsheet.html").read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    script = """<script>
window.addEventListener('load', function () {
  var links = Array.from(document.querySelectorAll('nav.index a'));
  var ok = links.filter(function (a) {
    var t = document.getElementById(a.getAttribute('href').slice(1));
    return t && t.querySelectorAll('img').length > 0;
  }).length;
  var imgs = Array.from(document.images);
  var loaded = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var p = document.createElement('p');
  p.id = 'probe';
  p.textContent = 'links ' + ok + '/' + links.length + ' images ' + loaded + '/' + imgs.length;
  document.body.appendChild(p);
});
</script></body>"""
    probe.write_text(html.replace("</body>", script), encoding="utf-8")
    dom = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    match = re.search(r"links (\d+)/(\d+) images (\d+)/(\d+)", dom.stdout)
    assert match, f"probe did not run; stderr: {dom.stderr[-2000:]}"
    ok, links, loaded, total = map(int, match.groups())
    assert links == 2 and ok == 2, "an index link does not reach a plan section with charts"
    assert total > 2 and loaded == total


# --------------------------------------------------------------------------- presentation
# A realistic committee study: twelve strategies with long names, one Bitcoin-like sleeve
# whose outcomes dwarf the rest. Built directly as TearsheetData (no simulation) so the
# checks below are fast; each one guards a defect found by reading a rendered report.

WIDE_NAMES = [
    "Vanguard-style target retirement",
    "Fidelity Freedom-style",
    "110 minus age",
    "Rising equity (bond tent)",
    "Fixed 60/40",
    "Fixed 80/20",
    "Vol target 3%",
    "Vol target 6%",
    "Fixed 60/40 + 1% Bitcoin",
    "Fixed 60/40 + 2.5% Bitcoin",
    "Fixed 60/40 + 5% Bitcoin",
    "optimised glide path",
]


def wide_data() -> TearsheetData:
    from backtest.metrics import metrics_table
    from backtest.report.tearsheet import CohortData, FanData, FundedRatioData, SleeveData

    rng = np.random.default_rng(5)
    n, k = 98, len(WIDE_NAMES)
    idx = pd.date_range("1928-12-31", periods=n, freq="YE")
    r = pd.DataFrame(rng.normal(0.07, 0.15, (n, k)), index=idx, columns=WIDE_NAMES)
    r.iloc[85, 10] = 3.0  # one +300 % sleeve year
    rf = pd.Series(0.03, index=idx)
    growth = (1 + r).cumprod()
    annual = r.copy()
    annual.index = idx.year
    ages = pd.Index(np.arange(25.0, 96.0), name="age")
    fans = []
    for j, name in enumerate(WIDE_NAMES):
        scale = 1e6 * (30 if j == 10 else 1 + j / 10)
        med = scale * np.sin(np.linspace(0, 2.5, len(ages))).clip(0)
        pct = pd.DataFrame(
            {5: 0.3 * med, 25: 0.7 * med, 50: med, 75: 1.5 * med, 95: 3 * med}, index=ages
        )
        fans.append(FanData(name, pct, 65.0, 0.5 + j / 30))
    starts = [str(y) for y in range(1928, 1957)]
    tw = pd.DataFrame(rng.uniform(0, 2e6, (len(starts), k)), index=starts, columns=WIDE_NAMES)
    tw[WIDE_NAMES[10]] *= 15  # the sleeve's $30m cohorts
    tw[WIDE_NAMES[6]] = 0.0
    ok = tw > 0
    ratios = {name: rng.lognormal(0, 0.5 + j / 20, 300) for j, name in enumerate(WIDE_NAMES)}
    sleeve = pd.DataFrame(
        {
            "sharpe": [0.92, 1.05, 1.17, 1.23],
            "max_drawdown": [-0.2117, -0.2159, -0.2221, -0.2356],  # a narrow range
            "success": [0.757, 0.853, 0.90, 0.917],
        },
        index=[0.0, 0.01, 0.025, 0.05],
    )
    return TearsheetData(
        title="Wide tear sheet",
        subtitle="Twelve strategies side by side, " * 6,
        frequency="annual",
        metrics=metrics_table(r, rf, pd.Series(0.02, index=idx), 1),
        growth=growth,
        growth_real=growth / 1.02 ** np.arange(1, n + 1)[:, None],
        drawdown=growth / growth.cummax() - 1,
        rolling_return={"3-year": r.rolling(3).mean()},
        rolling_volatility={"3-year": r.rolling(3).std()},
        annual_returns=annual,
        fans=tuple(fans),
        cohorts=CohortData(tw, ok),
        funded_ratios=FundedRatioData(ratios, 1.0),
        sleeve=SleeveData(sleeve, "Fixed 60/40", "2010-2025"),
    )


@pytest.fixture(scope="module")
def wide() -> TearsheetData:
    return wide_data()


@pytest.fixture(scope="module")
def wide_charts(wide: TearsheetData) -> dict[str, object]:
    from backtest.report.charts import png_bytes

    charts = build_charts(wide)
    for c in charts:
        png_bytes(c.figure, dpi=40)  # lay out and draw as the report does (low dpi: fast)
    return {c.key: c for c in charts}


def test_wide_legends_lie_inside_their_figures(wide_charts: dict[str, object]) -> None:
    for key, c in wide_charts.items():
        fig = c.figure  # type: ignore[attr-defined]
        renderer = _renderer_of(fig)
        for legend in fig.legends:
            box = legend.get_window_extent(renderer)
            assert box.x0 >= -0.5 and box.x1 <= fig.bbox.x1 + 0.5, (key, box, fig.bbox)
            assert box.y0 >= -0.5 and box.y1 <= fig.bbox.y1 + 0.5, (key, box, fig.bbox)


def _tick_texts(axis: object, lo: float, hi: float) -> list[str]:
    ticks = axis.get_majorticklocs()  # type: ignore[attr-defined]
    labels = axis.get_majorticklabels()  # type: ignore[attr-defined]
    a, b = min(lo, hi), max(lo, hi)
    eps = (b - a) * 1e-9
    return [
        t.get_text()
        for v, t in zip(ticks, labels, strict=False)
        if a - eps <= v <= b + eps and t.get_text()
    ]


def test_wide_tick_labels_are_distinct(wide_charts: dict[str, object]) -> None:
    for key, c in wide_charts.items():
        for ax in c.figure.axes:  # type: ignore[attr-defined]
            if not ax.get_visible():
                continue
            for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
                texts = _tick_texts(axis, *lim)
                assert len(texts) == len(set(texts)), (key, ax.get_title(), texts)


def test_sleeve_drawdown_ticks_show_the_narrow_range(wide_charts: dict[str, object]) -> None:
    ax = next(
        a
        for a in wide_charts["sleeve"].figure.axes
        if a.get_title(loc="left") == "Maximum drawdown"
    )  # type: ignore[attr-defined]
    texts = _tick_texts(ax.yaxis, *ax.get_ylim())
    assert len(texts) >= 3 and len(set(texts)) == len(texts)
    assert all("." in t and t.endswith("%") for t in texts), texts  # e.g. "−22.5%"


def test_adaptive_formatters() -> None:
    from backtest.report.charts import pct_formatter, usd_formatter

    pct = pct_formatter()
    assert pct.format_ticks([-0.21, -0.215, -0.22]) == ["\u221221.0%", "\u221221.5%", "\u221222.0%"]
    assert pct.format_ticks([0.0, 0.25, 0.5]) == ["0%", "25%", "50%"]
    usd = usd_formatter()
    # One unit for the whole axis, zero without one.
    assert usd.format_ticks([0, 5e5, 1e6, 1.5e6]) == ["$0", "$0.5m", "$1.0m", "$1.5m"]
    assert usd.format_ticks([0, 2e5, 4e5]) == ["$0", "$200k", "$400k"]


def test_annual_heatmap_scale_is_robust(
    wide: TearsheetData, wide_charts: dict[str, object]
) -> None:
    from backtest.report.charts import heatmap_limit

    c = wide_charts["annual"]
    images = [im for ax in c.figure.axes for im in ax.get_images()]  # type: ignore[attr-defined]
    assert len(images) == 1
    lo, hi = images[0].get_clim()
    lim, clipped = heatmap_limit(wide.annual_returns.to_numpy())
    assert lo == -hi == -lim
    assert 0.2 < lim < 1.0  # set by the bulk of the cells, not the +300 % year
    assert clipped >= 1 and "capped" in c.caption and f"{lim * 100:.0f}%" in c.caption  # type: ignore[attr-defined]
    cbar = images[0].colorbar
    assert cbar is not None and cbar.extend in ("max", "both")


def test_cohort_panels_scale_and_legend(
    wide: TearsheetData, wide_charts: dict[str, object]
) -> None:
    from matplotlib.colors import to_hex

    from backtest.report.charts import LASTED, MAX_SERIES, RAN_OUT

    c = wide_charts["cohorts"]
    axes = [ax for ax in c.figure.axes if ax.get_visible()]  # type: ignore[attr-defined]
    # At most MAX_SERIES panels; the caption names the strategies left to the tables.
    assert len(axes) == MAX_SERIES < len(WIDE_NAMES)
    assert all(n in c.caption for n in WIDE_NAMES[MAX_SERIES:])  # type: ignore[attr-defined]
    assert wide.cohorts is not None
    # Own scale per panel: each axis tops out at its own largest bar (1.2x headroom).
    for ax in axes:
        top = float(wide.cohorts.terminal_wealth[ax.get_title(loc="left")].max())
        assert ax.get_ylim()[1] == pytest.approx(1.2 * top)
    for ax in axes:
        years = _tick_texts(ax.xaxis, *ax.get_xlim())
        assert 3 <= len(years) <= 8 and all(int(y) % 5 == 0 for y in years), years
    # Legend swatches have exactly the bars' colours.
    (legend,) = c.figure.legends  # type: ignore[attr-defined]
    swatches = [h for h in legend.legend_handles]
    colours_ = {to_hex(h.get_facecolor()) for h in swatches if hasattr(h, "get_facecolor")}
    bars = {to_hex(p.get_facecolor()) for ax in axes for p in ax.patches}
    assert colours_ == {LASTED, RAN_OUT} and bars <= colours_
    assert "own wealth scale" in c.caption  # type: ignore[attr-defined]


def test_fan_panels_keep_every_median_in_view(wide_charts: dict[str, object]) -> None:
    c = wide_charts["fan"]
    axes = [ax for ax in c.figure.axes if ax.get_visible()]  # type: ignore[attr-defined]
    for ax in axes:
        median = next(line for line in ax.get_lines() if line.get_label() == "median")
        y = np.asarray(median.get_ydata(), dtype=np.float64)
        lo, hi = ax.get_ylim()
        assert lo <= y.min() and y.max() <= hi, ax.get_title()
        assert y.max() >= 0.3 * hi, ax.get_title()  # not flattened by another panel's scale
    assert "own wealth scale" in c.caption  # type: ignore[attr-defined]


def test_every_strategy_has_its_own_colour() -> None:
    from backtest.report.charts import colours

    assert len(set(colours(WIDE_NAMES).values())) == len(WIDE_NAMES)


def test_html_metrics_table_is_compact(wide: TearsheetData) -> None:
    html = render_html(wide, [])
    table = html[html.index('id="metrics-nominal"') : html.index("</table>")]
    assert "Definition" not in table and 'class="table-wrap"' in html
    assert table.count('<th class="num" scope="col">') == len(WIDE_NAMES)
    # Definitions stay available: a tooltip per metric and a list below the tables.
    assert 'title="compound annual growth rate' in table
    assert 'id="metric-definitions"' in html and "<dt>CAGR</dt>" in html
    # For annual data the per-period CVaR equals the per-year one: shown once.
    assert "CVaR 95% (period)" not in html and "CVaR 95% (year)" in html


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
def test_wide_metrics_table_scrolls_inside_its_box(wide: TearsheetData, tmp_path: Path) -> None:
    probe_js = """<script>
window.addEventListener('load', function () {
  var page = document.documentElement.scrollWidth - document.documentElement.clientWidth;
  var wrap = document.querySelector('.table-wrap');
  var p = document.createElement('p');
  p.id = 'probe';
  p.textContent = 'overflow ' + page + ' wrap ' + (wrap.scrollWidth > wrap.clientWidth ? 1 : 0);
  document.body.appendChild(p);
});
</script></body>"""
    page = tmp_path / "wide.html"
    page.write_text(render_html(wide, []).replace("</body>", probe_js), encoding="utf-8")
    dom = chromium(tmp_path, "--window-size=700,900", "--dump-dom", page.as_uri())
    match = re.search(r"overflow (-?\d+) wrap (\d)", dom.stdout)
    assert match, f"probe did not run; stderr: {dom.stderr[-2000:]}"
    # A narrow window: the table scrolls inside its box; the page itself never does.
    assert int(match.group(1)) <= 0 and match.group(2) == "1"


def test_pdf_has_definitions_and_the_same_sections(wide: TearsheetData, tmp_path: Path) -> None:
    from backtest.report.pdf import _metrics_pages

    pages = _metrics_pages(wide)
    assert len(pages) == 2
    for fig in pages:
        texts = [t.get_text() for t in fig.texts]
        assert "Definitions" in texts and "compound annual growth rate, % a year" in texts
        assert "CVaR 95% (period)" not in texts
        # Every text of the table page lies inside the page.
        renderer = _renderer_of(fig)
        for t in fig.texts:
            box = t.get_window_extent(renderer)
            assert box.x0 >= 0 and box.x1 <= fig.bbox.x1, t.get_text()


def _renderer_of(fig: object) -> object:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return FigureCanvasAgg(fig).get_renderer()  # type: ignore[arg-type]
