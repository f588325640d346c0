"""The crypto report in a real browser (headless Chromium, Playwright).

The quick crypto run (``conftest.crypto_quick_run``, shared with ``test_crypto_cli.py``)
is opened at 1280 and 1920 px: the page must not scroll sideways, no two text boxes in
a table row may overlap, no raw identifier may reach the reader, the answer (central
case and summary table) must be on the first screen, and every number of the summary
table must equal summary.csv beside it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from backtest.report.crypto import SUMMARY_COLUMNS, words
from backtest.report.units import raw_identifiers
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
FIRST_SCREEN = 900  # px: the viewport's height, what a reader sees before scrolling


_SUMMARY = """() => Array.from(document.querySelectorAll('#summary-table tbody tr')).map(
  tr => [tr.dataset.key, Array.from(tr.querySelectorAll('td')).map(
    td => [td.dataset.col, td.textContent])])"""

#: A number in a formatted cell; thousands separators are part of it.
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")
#: A count in brackets ("(1,852)") is not a tuple repr; a file a page names
#: (``surface.csv``, ``PROVENANCE.md``, the study's ``.toml``) is not an identifier shown.
_NOT_RAW = (re.compile(r"\(\d{1,3}(?:,\d{3})+\)"), re.compile(r"\b[\w/]+\.(?:csv|json|toml|md)\b"))


@pytest.fixture(scope="module")
def report(crypto_quick_run: tuple[Path, str]) -> Path:
    """The quick run's report folder (crypto.html, summary.csv)."""
    return crypto_quick_run[0] / "tearsheet"


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (the system's, never a downloaded one)."""
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _visible_raw(text: str) -> list[str]:
    for pattern in _NOT_RAW:
        text = pattern.sub(" ", text)
    return raw_identifiers(text)


def test_crypto_report_fits_the_window_and_names_things_as_a_reader_would(
    report: Path, browser
) -> None:
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": FIRST_SCREEN})
        page.goto((report / "crypto.html").as_uri())
        over = int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
        overlaps = page.evaluate(OVERLAPS_JS)
        raw = _visible_raw(page.inner_text("body"))
        first_h2 = page.inner_text("h2")
        central_top = page.evaluate("document.getElementById('central').offsetTop")
        table_top = page.evaluate("document.getElementById('summary-table').offsetTop")
        page.close()
        assert over <= 0, f"{width} px: the page scrolls {over} px sideways"
        assert overlaps == [], f"{width} px: overlapping table text {overlaps[:5]}"
        assert raw == [], f"{width} px: raw identifiers shown {sorted(set(raw))}"
        assert first_h2 == "The answer"
        # the central case and the summary table start on the first screen
        assert central_top < table_top < FIRST_SCREEN, (central_top, table_top)


def test_crypto_summary_numbers_equal_the_csv_beside_it(report: Path, browser) -> None:
    csv = pd.read_csv(report / "summary.csv", index_col="sleeve")
    page = browser.new_page(viewport={"width": WIDTHS[0], "height": FIRST_SCREEN})
    page.goto((report / "crypto.html").as_uri())
    shown = page.evaluate(_SUMMARY)
    page.close()
    assert [float(key) for key, _ in shown] == list(csv.index)
    columns = {col: (se, unit) for col, se, unit, _ in SUMMARY_COLUMNS}
    checked = 0
    for key, cells in shown:
        row = csv.loc[float(key)]
        for col, text in cells:
            se, unit = columns[col]
            if unit == "text":
                assert text == words(row[col]), (key, col)
                continue
            numbers = [float(x.replace(",", "")) for x in _NUMBER.findall(text)]
            scale = 100.0 if unit in ("pct", "pp") else 1.0
            expected = [row[col] * scale]
            if se is not None and pd.notna(row[se]):
                expected.append(row[se] * scale)
            # printed to 1 decimal (0 for USD): within half the last digit shown
            tol = 0.5 + 1e-9 if unit == "usd" else 0.05 + 1e-9
            assert numbers == pytest.approx(expected, abs=tol), (key, col, text)
            checked += 1
    # every sleeve shows success, its change, wealth, the worst stress and the vintage
    assert checked >= 8 * len(shown)
