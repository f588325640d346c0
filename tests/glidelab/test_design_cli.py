"""``glidelab design --seed``: the seed reaches the draws and is recorded, as with run;
the report it writes opens with the answer, formats every figure by its unit and prints
on A4 pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

#: A4 in PDF points (1/72 inch), landscape or portrait; matplotlib writes 842 x 595.
A4_POINTS = {(842, 595), (595, 842)}


def _media_boxes(pdf: bytes) -> list[tuple[int, int]]:
    """Every page's size in points, from the PDF's /MediaBox entries."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*([-\d.\s]+)\]", pdf)
    return [tuple(round(float(v)) for v in b.split()[2:4]) for b in boxes]  # type: ignore[misc]


def test_design_seed_overrides_the_studys_and_is_recorded(design_quick_run: Path) -> None:
    # `glidelab design target_date_2060 --quick --quiet --seed 7` (the session fixture)
    folder = design_quick_run / "target_date_2060"
    settings = json.loads((folder / "settings.json").read_text())
    assert settings["study"]["seed"] == 7  # the shipped study says 2060
    # the report: the answer first, the settings last
    html = (folder / "design.html").read_text()
    assert html.index('id="summary-table"') < html.index("<h2>Efficient frontier")
    assert html.index("<h2>Notes</h2>") < html.index('<section id="settings">')
    summary = pd.read_csv(folder / "summary.csv", index_col=0)
    placed = pd.read_csv(folder / "placed.csv", index_col=0)
    assert list(summary.index) == list(placed.index)
    assert (summary["in sample: success"] == placed["success"]).all()
    # the failing members' traits in their units: a count, USD, an age, a share
    failing = html[html.index("Members who fail: their traits") :]
    row = {
        key: re.findall(r'<td class="num">([^<]*)</td>', rest.split("</tr>", 1)[0])
        for key, rest in re.findall(r'<tr data-key="([^"]+)">(.*?</tr>)', failing)
    }
    members = row["members (count)"]
    assert all(re.fullmatch(r"[\d,]+", c) for c in members), members
    assert all(c.endswith(" USD") for c in row["starting salary (USD)"])
    assert all(re.fullmatch(r"\d{2}\.\d", c) for c in row["retirement age (mean age)"])
    assert all(c.endswith(" %") for c in row["college share"])
    # the held-out gap is in percentage points, as stored (pp): 1.2 pp, never 124 %
    scores = pd.read_csv(folder / "scores.csv", index_col=0)
    gap = scores["gap in - out (pp)"].iloc[0]
    assert f"{gap:+.1f} pp" in html
    # every page of the PDF is A4
    boxes = _media_boxes((folder / "design.pdf").read_bytes())
    assert len(boxes) > 5 and set(boxes) <= A4_POINTS, set(boxes)
