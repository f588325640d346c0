"""The tear sheet in a real browser: the system's headless Chromium driven by Playwright.

A small study's tear sheet (one plan, a failing volatility target, a Bitcoin sleeve, 100
scenarios) is written once; the page is then opened at 1280 and 1920 px, in the light and
the dark browser theme, and must: never scroll sideways, keep every table cell's text
clear of its neighbours', show every text in tables, captions and marks with readable
contrast and every chart on an opaque white ground (its legend stays dark on white), show
no raw identifier (``us_stocks``, ``None``, a tuple repr, a library name), and print in
its summary table exactly the numbers of the summary.csv beside it.
"""

from __future__ import annotations

import math
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from backtest.report import pdf
from backtest.report.model import summary_text
from backtest.report.units import raw_identifiers
from glidelab.run import study_tearsheet
from glidelab.studyfile.core import parse_study

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium ('chromium') is not installed"),
]
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (the test extra has it)"
)

STUDY = """
[study]
name = "browser"
seed = 11
[data]
start = 2000
[scenarios]
bootstrap_n = 100
[[plans]]
name = "retiree"
start_age = 65
retirement_age = 65
end_age = 85
initial_balance = 600000
withdrawal = { rule = "constant_real", amount = 40000 }
[strategies]
presets = ["fixed_60_40", "vol_target_3"]
crypto_sleeves = [0.025]
[optimize]
enabled = false
"""

#: Minimum contrast ratio of text against its background (WCAG AA for normal text).
MIN_CONTRAST = 4.5

#: File names the page may print (links and provenance), not identifiers.
ALLOWED = ("tearsheet.html",)

_PROBE = """() => {
  const lum = (c) => {
    const m = c.match(/[\\d.]+/g).map(Number);
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return [0.2126 * f(m[0]) + 0.7152 * f(m[1]) + 0.0722 * f(m[2]), m.length > 3 ? m[3] : 1];
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      if (lum(bg)[1] > 0) return bg;
    }
    return getComputedStyle(document.documentElement).backgroundColor || 'rgb(255,255,255)';
  };
  const textBox = (el) => {
    const r = document.createRange(); r.selectNodeContents(el);
    const b = r.getBoundingClientRect();
    return b.width > 0 && b.height > 0 ? b : null;
  };
  const overlaps = [];
  for (const table of document.querySelectorAll('table')) {
    const boxes = [];
    for (const cell of table.querySelectorAll('th, td')) {
      const b = textBox(cell);
      if (b) boxes.push([cell.textContent.trim(), b]);
    }
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i][1], b = boxes[j][1];
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 1) overlaps.push(boxes[i][0] + ' / ' + boxes[j][0]);
      }
    }
  }
  const low = [];
  for (const el of document.querySelectorAll('th, td, figcaption, .notes, .marks, h1, h2, h3')) {
    if (!el.textContent.trim()) continue;
    const [l1] = lum(getComputedStyle(el).color), [l2] = lum(background(el));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < %MIN%) low.push(el.textContent.trim().slice(0, 40) + ' ' + ratio.toFixed(2));
  }
  const grounds = Array.from(document.images).map((img) => {
    const c = document.createElement('canvas'); c.width = 4; c.height = 4;
    const g = c.getContext('2d'); g.drawImage(img, 0, 0, 4, 4, 0, 0, 4, 4);
    return Array.from(g.getImageData(0, 0, 1, 1).data);
  });
  const summary = [];
  for (const row of document.querySelectorAll('table.summary tbody tr')) {
    const th = row.querySelector('th[data-strategy]');
    if (!th) continue;
    const plan = row.closest('section.plan').id;
    for (const td of row.querySelectorAll('td[data-figure]')) {
      summary.push([plan, th.dataset.strategy, td.dataset.figure, td.dataset.set, td.textContent]);
    }
  }
  return {scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth,
          overlaps, low, grounds, summary, text: document.body.innerText};
}""".replace("%MIN%", str(MIN_CONTRAST))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small study's tear sheet folder, written once for every browser check."""
    study = parse_study(tomllib.loads(STUDY), "browser.toml")
    out = tmp_path_factory.mktemp("browser") / "tearsheet"
    with pytest.MonkeyPatch.context() as mp:
        # The browser reads the HTML and the CSVs; the PDF (half the writing time) is
        # checked by the report tests.
        mp.setattr(pdf, "render_book_pdf", lambda *args, **kwargs: None)
        study_tearsheet(study, out, progress=False)
    return out


@pytest.fixture(scope="module")
def probes(folder: Path) -> dict[tuple[int, str], dict[str, Any]]:
    """What the page showed at each width (px) and browser theme."""
    out = {}
    url = (folder / "tearsheet.html").as_uri()
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for width in (1280, 1920):
                for theme in ("light", "dark"):
                    page = browser.new_page(
                        viewport={"width": width, "height": 1000}, color_scheme=theme
                    )
                    page.goto(url)
                    out[width, theme] = page.evaluate(_PROBE)
                    page.close()
        finally:
            browser.close()
    return out


def test_the_page_never_scrolls_sideways(probes: dict[tuple[int, str], dict[str, Any]]) -> None:
    for key, got in probes.items():
        assert got["scroll"] <= got["inner"], f"{key}: {got['scroll']} px wide"


def test_no_table_text_overlaps(probes: dict[tuple[int, str], dict[str, Any]]) -> None:
    for key, got in probes.items():
        assert got["overlaps"] == [], key


def test_text_and_legends_keep_their_contrast(
    probes: dict[tuple[int, str], dict[str, Any]],
) -> None:
    for key, got in probes.items():
        assert got["low"] == [], key
        # Every chart (its legend included) is drawn on an opaque white ground, so it
        # reads the same in a dark browser theme.
        assert got["grounds"] and all(g == [255, 255, 255, 255] for g in got["grounds"]), key


def test_no_raw_identifiers_in_visible_text(
    probes: dict[tuple[int, str], dict[str, Any]],
) -> None:
    text = probes[1280, "light"]["text"]
    assert raw_identifiers(text, ALLOWED) == []
    assert "Success and income by strategy" in text
    # The answer comes first: the summary table before the settings.
    assert text.index("Success and income by strategy") < text.index("Settings")


def test_summary_numbers_equal_the_csv(
    folder: Path, probes: dict[tuple[int, str], dict[str, Any]]
) -> None:
    csv = pd.read_csv(folder / "summary.csv")
    cells = probes[1280, "light"]["summary"]
    assert len(cells) == len(csv)  # one cell per CSV row, none left out
    lookup = {
        (f"plan-{r['plan']}", r["strategy"], r["figure"], r["scenario_set"]): r
        for r in csv.to_dict("records")
    }
    for plan, strategy, figure, set_label, text in cells:
        r = lookup[plan, strategy, figure, set_label]
        se = math.nan if pd.isna(r["se"]) else float(r["se"])
        assert text == summary_text(figure, float(r["value"]), se), (strategy, figure, set_label)
    # The 100 % equity reference and a sentence on why the volatility target fails.
    assert "Fixed 100/0" in set(csv.strategy)
    body = probes[1280, "light"]["text"]
    assert "Holds on average" in body
