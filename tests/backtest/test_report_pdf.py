"""The PDF writer's pages: A4 throughout, tables that fit (split by columns or rows when
they must), charts scaled onto the page with their title and caption inside the margins."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from backtest.report.charts import Chart, style
from backtest.report.pdf import MARGIN, PAGE, PORTRAIT, PageTable, chart_page, table_pages

A4 = {PAGE, PORTRAIT}


def _boxes(fig: Figure) -> list[tuple[str, Bbox]]:
    """Every visible text of ``fig`` with its box on the rendered page (pixels)."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    texts = [t for t in fig.findobj(Text) if isinstance(t, Text)]
    return [
        (t.get_text(), t.get_window_extent(renderer))
        for t in texts
        if t.get_visible() and t.get_text()
    ]


def _inside(fig: Figure, slack_in: float = 0.0) -> list[str]:
    """The texts of ``fig`` that reach outside the page less ``slack_in`` inches."""
    dpi = fig.dpi
    w, h = fig.bbox.width, fig.bbox.height
    m = slack_in * dpi
    return [
        text
        for text, b in _boxes(fig)
        if b.x0 < m - 0.5 or b.y0 < m - 0.5 or b.x1 > w - m + 0.5 or b.y1 > h - m + 0.5
    ]


def _size(fig: Figure) -> tuple[float, float]:
    w, h = fig.get_size_inches()
    return (round(float(w), 2), round(float(h), 2))


def _wide_table(n_cols: int, n_rows: int = 7) -> PageTable:
    head = ("", *(f"bootstrap: CVaR95 unpaid years, set {j}" for j in range(n_cols)))
    rows = tuple(
        (f"strategy {i}", *(f"{100 * (i + j) / 97:.1f} %" for j in range(n_cols)))
        for i in range(n_rows)
    )
    return PageTable("Out of sample", head, rows, "success = survival-weighted. " * 30)


def test_a_thirteen_column_table_fits_one_a4_page_inside_its_margins() -> None:
    with style():
        pages = table_pages(_wide_table(13))
    assert len(pages) == 1 and _size(pages[0]) == PAGE
    # every text inside the margins, less a quarter of the margin for glyph overhang
    assert _inside(pages[0], MARGIN * 0.75) == []


def test_header_texts_never_overlap() -> None:
    with style():
        (page,) = table_pages(_wide_table(13))
    heads = [b for text, b in _boxes(page) if text.startswith("bootstrap") or "\n" in text]
    assert len(heads) >= 13
    for a, b in itertools.combinations(heads, 2):
        overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
        overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
        assert overlap_x <= 0.5 or overlap_y <= 0.5  # half a pixel: anti-aliasing


def test_a_table_too_wide_for_a_page_is_split_by_columns_with_its_labels_repeated() -> None:
    t = _wide_table(40)
    with style():
        pages = table_pages(t)
    assert len(pages) > 1 and all(_size(p) == PAGE for p in pages)
    texts = [[x.get_text() for x in p.texts] for p in pages]
    for page_texts in texts:
        assert "strategy 0" in page_texts  # the row labels on every page
    cells = [c for page_texts in texts for c in page_texts if c.endswith(" %")]
    assert sorted(cells) == sorted(c for r in t.rows for c in r[1:])  # each cell once
    assert all(_inside(p, MARGIN * 0.75) == [] for p in pages)


def test_a_long_table_continues_on_the_next_page_with_its_header() -> None:
    with style():
        pages = table_pages(_wide_table(3, n_rows=120))
    assert len(pages) > 1 and all(_size(p) == PAGE for p in pages)
    assert any("(continued)" in x.get_text() for x in pages[1].texts)
    labels = [x.get_text() for p in pages for x in p.texts if x.get_text().startswith("strategy")]
    assert labels == [f"strategy {i}" for i in range(120)]
    assert all(_inside(p, MARGIN * 0.75) == [] for p in pages)


@pytest.mark.parametrize("height", [3.4, 6.0, 18.4])
def test_a_chart_of_any_height_is_put_on_an_a4_page_with_its_caption_inside(
    height: float,
) -> None:
    with style():
        fig = Figure(figsize=(9.0, height), layout="constrained")
        axes = fig.subplots(max(1, int(height // 3)), 1, squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.plot(np.arange(10), np.arange(10) * i, label=f"series {i}")
        fig.legend(loc="outside lower center", ncol=4)
        chart = Chart("k", "A chart", "a caption that is long enough to wrap " * 12, fig)
        page = chart_page(chart)
        assert _size(page) in A4
        assert _inside(page, MARGIN * 0.5) == []
        # the legend sits below the lowest axes, not over it
        renderer = FigureCanvasAgg(page).get_renderer()
        page.draw(renderer)
        legend = page.legends[0].get_window_extent(renderer)
        lowest = min(ax.get_window_extent(renderer).y0 for ax in page.axes)
        assert legend.y1 <= lowest + 1.0  # a pixel: rounding of the layout
