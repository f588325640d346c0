"""The fund-design and adaptive reports in a real browser (headless Chromium, Playwright).

A tiny design (the shipped 2060 study shrunk as ``test_design.py``'s ``tiny``) is written
and opened at 1280 and 1920 px: the page must not scroll sideways, no two text boxes in
a table row may overlap, no raw identifier may reach the reader, and every number of the
summary table must equal summary.csv beside it. The adaptive page, rendered from its
Markdown, must show no Markdown syntax.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from backtest.report.population import SUMMARY_COLUMNS
from backtest.report.units import raw_identifiers
from glidelab.adaptive import adaptive_page_html
from glidelab.design import load_design_study, quick, run_design
from tests.browser import OVERLAPS_JS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium ('chromium') is not installed"),
]
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (the test extra has it)"
)

WIDTHS = (1280, 1920)


_SUMMARY = """() => Array.from(document.querySelectorAll('#summary-table tbody tr')).map(
  tr => [tr.dataset.key, Array.from(tr.querySelectorAll('td')).map(td => td.textContent)])"""

#: A number in a formatted cell; thousands separators are part of it.
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")
#: A number in brackets with a thousands separator ("(1,852)", a standard error) is not
#: a tuple repr; a file a page names (``us_annual.csv``) is not an identifier shown.
_NOT_RAW = (re.compile(r"\(\d{1,3}(?:,\d{3})+\)"), re.compile(r"\b\w+\.(?:csv|json|toml|md)\b"))


@pytest.fixture(scope="module")
def design_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny design's report folder (design.html, summary.csv, ...): seconds, not minutes."""
    st = quick(load_design_study("target_date_2060"))
    st = dataclasses.replace(
        st,
        design=dataclasses.replace(st.design, member_paths=300, market_paths=60, max_iterations=3),
        evaluation=dataclasses.replace(
            st.evaluation, members=80, bootstrap_paths=10, countries=("GBR",), country_members=20
        ),
    )
    root = tmp_path_factory.mktemp("design")
    run_design(st, root)
    return root / st.name


def _visible_raw(text: str) -> list[str]:
    for pattern in _NOT_RAW:
        text = pattern.sub(" ", text)
    return raw_identifiers(text)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (the system's, never a downloaded one)."""
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _open(browser, url: str, width: int):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(url)
    return page


def _layout_faults(browser, url: str) -> dict[int, tuple[int, list[list[str]], list[str]]]:
    """Per window width: how far the page scrolls sideways (px), overlapping text boxes
    in table rows and the raw identifiers in the visible text."""
    out = {}
    for width in WIDTHS:
        page = _open(browser, url, width)
        over = int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
        out[width] = (over, page.evaluate(OVERLAPS_JS), _visible_raw(page.inner_text("body")))
        page.close()
    return out


def test_design_report_fits_the_window_and_names_things_as_a_reader_would(
    design_folder: Path, browser
) -> None:
    faults = _layout_faults(browser, (design_folder / "design.html").as_uri())
    for width, (over, overlaps, raw) in faults.items():
        assert over <= 0, f"{width} px: the page scrolls {over} px sideways"
        assert overlaps == [], f"{width} px: overlapping table text {overlaps[:5]}"
        assert raw == [], f"{width} px: raw identifiers shown {sorted(set(raw))}"


def test_design_summary_numbers_equal_the_csv_beside_it(design_folder: Path, browser) -> None:
    csv = pd.read_csv(design_folder / "summary.csv", index_col=0)
    page = _open(browser, (design_folder / "design.html").as_uri(), WIDTHS[0])
    shown = page.evaluate(_SUMMARY)
    first = page.inner_text("h2")
    page.close()
    assert first == "The answer"  # the page opens with it
    cols = [c for c in SUMMARY_COLUMNS if csv[c[0]].notna().any()]
    assert [key for key, _ in shown] == list(csv.index)
    assert len(cols) >= 6  # in sample, held out, cohorts, CE, p10, p50, unpaid years
    for key, cells in shown:
        for (col, se_col, unit, _), cell in zip(cols, cells, strict=True):
            numbers = [float(x.replace(",", "")) for x in _NUMBER.findall(cell)]
            scale = 100.0 if unit == "pct" else 1.0
            expected = [csv.loc[key, col] * scale]
            if se_col is not None:
                expected.append(csv.loc[key, se_col] * scale)
            # printed to 1 decimal (0 for USD): within half the last digit shown
            tol = 0.5 if unit == "usd" else 0.05 + 1e-9
            assert numbers == pytest.approx(expected, abs=tol), (key, col, cell)


#: The adaptive report's Markdown as :func:`glidelab.adaptive.adaptive_markdown` writes
#: it: a title, a paragraph, a section, a list, a table with an alignment row, `code`.
ADAPTIVE_MD = """# Adaptive glide path (dynamic programming): plan 'maya'

Solved on the empirical joint distribution of 98 years 1928-2025, drawn i.i.d.

## The promise against the engine

- DP value: 5,869 USD a year
- engine simulation on 300 fresh i.i.d. scenarios: 5,807 USD a year

## iid: 300 scenarios

| strategy | success | s.e. | adaptive minus this (paired) |
|---|---:|---:|---:|
| adaptive (DP): CE income | 76.00 % | 2.47 % | +0.00 pp |
| vanguard_target_retirement | 57.67 % | 2.85 % | +18.33 pp |

Unpaid years given failure (`-` where none do).
"""


def _adaptive_pages() -> list[str]:
    """The sample above, and every shipped adaptive.md the results folder holds."""
    shipped = sorted((Path(__file__).parents[2] / "results").glob("*/adaptive/*/adaptive.md"))
    return [ADAPTIVE_MD, *(f.read_text(encoding="utf-8") for f in shipped[:2])]


@pytest.mark.parametrize("markdown", _adaptive_pages(), ids=lambda m: m.splitlines()[0][-20:])
def test_adaptive_page_shows_headings_and_tables_not_markdown(
    markdown: str, tmp_path: Path, browser
) -> None:
    page_file = tmp_path / "adaptive.html"
    page_file.write_text(adaptive_page_html("maya", markdown, []), encoding="utf-8")
    page = _open(browser, page_file.as_uri(), WIDTHS[0])
    text = page.inner_text("body")
    n_tables = page.evaluate("document.querySelectorAll('table.metrics').length")
    n_headings = page.evaluate("document.querySelectorAll('h2').length")
    over = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.close()
    assert "|---" not in text and "---:|" not in text
    assert not [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert n_tables == markdown.count("|---|") and n_headings == markdown.count("\n## ")
    assert over <= 0
