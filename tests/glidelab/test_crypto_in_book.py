"""The crypto research as a part of the study's one report book (issue #26): ``glidelab
run`` of a study with a ``[crypto]`` table puts the crypto answer (central case and
summary table) after the plans' pages of tearsheet/tearsheet.html and .pdf, linked to
the full crypto report crypto/tearsheet/crypto.html."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from glidelab.run import run_study
from glidelab.study import load_study, quick_crypto

PART = "part-crypto"


@pytest.fixture(scope="module")
def study_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped crypto_sleeve study run small (the sizes of test_run.py's crypto run,
    tear sheets on): about 20 s."""
    path = resources.files("glidelab").joinpath("studies", "crypto_sleeve.toml")
    sf = load_study(str(path)).quick()
    study = dataclasses.replace(
        sf.study,
        scenarios=dataclasses.replace(sf.study.scenarios, bootstrap_n=100),
        optimize=dataclasses.replace(sf.study.optimize, enabled=False, adaptive=False),
        output=dataclasses.replace(sf.study.output, tearsheet=True, population=False),
    )
    small = quick_crypto(sf.crypto)  # the smoke-run break-even, stresses and vintage
    crypto = dataclasses.replace(
        small,
        n_scenarios=60,
        rules_n=40,
        history_n=40,
        means=(0.0,),
        vols=(0.6,),
        vintage=dataclasses.replace(small.vintage, members=100, market_paths=5),
    )
    out = tmp_path_factory.mktemp("crypto_in_book")
    run_study(study, out, progress=False, crypto=crypto)
    return out / "crypto_sleeve"


class _Cells(HTMLParser):
    """The cells of one table (by id): ``(data-key, data-col) -> text``."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.key, self.col = table_id, False, "", ""
        self.cells: dict[tuple[str, str], str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.inside = a.get("id") == self.table_id
        elif self.inside and tag == "tr":
            self.key = a.get("data-key") or ""
        elif self.inside and tag == "td":
            self.col = a.get("data-col") or ""
            self.cells[(self.key, self.col)] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif tag == "td":
            self.col = ""

    def handle_data(self, data: str) -> None:
        if self.inside and self.col:
            self.cells[(self.key, self.col)] += data


def _cells(html: str, table_id: str) -> dict[tuple[str, str], str]:
    parser = _Cells(table_id)
    parser.feed(html)
    return parser.cells


_NUMBER = re.compile(r"[-+]?[\d,]+(?:\.\d+)?")


def _figures(text: str) -> tuple[float, float | None, str]:
    """A cell's value, its standard error (after ``±``; ``None`` without one) and unit."""
    found = [float(x.replace(",", "")) for x in _NUMBER.findall(text)]
    unit = "USD" if "USD" in text else ("pp" if "pp" in text else "%")
    return found[0], (found[1] if "\u00b1" in text else None), unit


def test_the_book_carries_the_crypto_answer_of_summary_csv(study_folder: Path) -> None:
    html = (study_folder / "tearsheet" / "tearsheet.html").read_text(encoding="utf-8")
    # A part of the one book, after the plans' pages, listed in its contents.
    assert html.index('id="plan-lifecycle"') < html.index(f'id="{PART}"')
    contents = html[html.index('<nav class="index"') : html.index("</nav>")]
    assert f'href="#{PART}"' in contents and "Crypto sleeve research" in contents
    assert "Central case: expected return" in html[html.index(f'id="{PART}-lead"') :]
    cells = _cells(html, f"{PART}-table")
    summary = pd.read_csv(study_folder / "crypto" / "tearsheet" / "summary.csv", index_col=0)
    assert {k for k, _ in cells} == {f"{s:g}" for s in summary.index}  # one row per sleeve
    checked = 0
    for (key, col), text in cells.items():
        value = summary.loc[float(key), col]
        if col == "worst stress":
            assert text == value, (key, col)
            continue
        shown, se, unit = _figures(text)
        # Display rounding: 0.1 of a percent or pp (hence 0.05 pp = 5e-4 as a decimal),
        # 1 USD (half of it either way); a small SE may print with more decimals.
        scale, tol = (1.0, 0.5) if unit == "USD" else (100.0, 0.05)
        assert abs(shown - value * scale) <= tol + 1e-9, (key, col, text, value)
        if se is not None:
            assert abs(se - summary.loc[float(key), f"{col} SE"] * scale) <= tol + 1e-9
        checked += 1
    assert checked >= 8 * len(summary)  # every numeric column of every sleeve was read


def test_the_books_link_opens_the_full_crypto_report_with_the_same_table(
    study_folder: Path,
) -> None:
    book = study_folder / "tearsheet"
    html = (book / "tearsheet.html").read_text(encoding="utf-8")
    part = html[html.index(f'id="{PART}-link"') :]
    href = re.search(r'<a href="([^"]+)"', part)
    assert href is not None and not href.group(1).startswith(("/", "http"))  # relative
    target = (book / href.group(1)).resolve()
    assert target == (study_folder / "crypto" / "tearsheet" / "crypto.html").resolve()
    full = target.read_text(encoding="utf-8")
    # Built by the same function: the full report's answer shows the very same cells.
    book_cells = _cells(html, f"{PART}-table")
    assert _cells(full, "summary-table") == book_cells and book_cells


def test_the_books_pdf_has_the_crypto_page(study_folder: Path) -> None:
    pdf = (study_folder / "tearsheet" / "tearsheet.pdf").read_bytes()
    # The part's page carries the one link annotation of the book, to the full report.
    assert re.findall(rb"/URI \(([^)]*)\)", pdf) == [b"../crypto/tearsheet/crypto.html"]
    assert pdf.count(b"/Type /Page ") + pdf.count(b"/Type /Page\n") >= 3  # cover, plan, part
