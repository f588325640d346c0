"""The tear sheet as a PDF with the same content as the HTML (matplotlib ``PdfPages``).

Page 1: title, settings and notes; then the retirement income and, with other scenario
sets, the success on each set; then one page per metrics basis (nominal, real); then one
page per chart with its title and caption. Charts stay vector graphics. A
:class:`~backtest.report.model.TearsheetBook` opens with a cover listing its plans and the
page where each begins, then gives each plan the pages above.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine, TightLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from backtest.report.charts import Chart, style
from backtest.report.html import shown_rows
from backtest.report.model import (
    MetricsView,
    TearsheetBook,
    TearsheetData,
    glide_label_header,
    glide_label_rows,
    income_view,
    metrics_views,
    sets_view,
)

PAGE = (11.69, 8.27)  # A4 landscape, inches
INK = "#1d2733"
MUTED = "#5b6673"
ACCENT = "#1f4e79"


def _cover(
    data: TearsheetData | TearsheetBook, contents: Sequence[tuple[str, str, int]] = ()
) -> Figure:
    """Title, subtitle, settings, the contents of a book (title, description, page) and
    the notes."""
    fig = Figure(figsize=PAGE)
    fig.text(0.06, 0.92, data.title, fontsize=22, weight="bold", color=INK)
    y = 0.875
    for line in textwrap.wrap(data.subtitle, 125):
        fig.text(0.06, y, line, fontsize=12, color=MUTED)
        y -= 0.03
    fig.add_artist(Line2D([0.06, 0.94], [y, y], color=ACCENT, lw=2.5))
    y -= 0.06
    rows = [(str(k), str(v)) for k, v in data.settings]
    if rows:
        fig.text(0.06, y, "Settings", fontsize=14, weight="bold", color=ACCENT)
        y -= 0.045
        for k, v in rows:
            lines = textwrap.wrap(v, 110) or [""]
            fig.text(0.06, y, k, fontsize=9.5, color=MUTED)
            for line in lines:
                fig.text(0.27, y, line, fontsize=9.5, color=INK)
                y -= 0.03
            y -= 0.006
    if contents:
        y -= 0.02
        fig.text(0.06, y, "Plans", fontsize=14, weight="bold", color=ACCENT)
        y -= 0.045
        for title, what, page in contents:
            fig.text(0.06, y, f"{title}  (page {page})", fontsize=10.5, weight="bold", color=INK)
            y -= 0.028
            for line in textwrap.wrap(what, 140):
                fig.text(0.08, y, line, fontsize=9, color=MUTED)
                y -= 0.025
            y -= 0.01
    if data.notes:
        y -= 0.03
        fig.text(0.06, y, "Notes", fontsize=14, weight="bold", color=ACCENT)
        y -= 0.045
        for note in data.notes:
            for i, line in enumerate(textwrap.wrap(note, 150)):
                fig.text(0.06, y, ("\u2022 " if i == 0 else "   ") + line, fontsize=9, color=INK)
                y -= 0.027
    return fig


BAND = "#f4f6f9"
RULE = "#d5dae0"


def _metrics_page(view: MetricsView, frequency: str) -> Figure:
    """One basis of the metrics table drawn cell by cell (rows = metrics, columns =
    strategies) with wrapped strategy names, then the metric definitions below it."""
    w_in, h_in = PAGE
    fig = Figure(figsize=PAGE)
    fig.text(
        0.04,
        0.94,
        f"Performance and risk \u2014 {view.basis} returns",
        fontsize=16,
        weight="bold",
        color=ACCENT,
    )
    rows = shown_rows(view, frequency)
    n = max(len(view.strategies), 1)
    left, right = 0.45, w_in - 0.45  # inches
    label_w = 1.45
    col_w = (right - left - label_w) / n
    size = 8.5 if col_w >= 0.75 else 7.5
    char_w = size / 72 * 0.6  # DejaVu Sans: about 0.6 em a character
    heads = [
        textwrap.wrap(name, max(int(col_w / char_w) - 1, 6), break_long_words=False) or [""]
        for name in view.strategies
    ]
    line_h = size / 72 * 1.3
    head_h = max(len(h) for h in heads) * line_h + 0.08
    row_h = size / 72 * 1.75
    top = h_in - 0.85

    def fx(x: float) -> float:
        return x / w_in

    def fy(y: float) -> float:
        return y / h_in

    y = top - head_h
    for j, lines in enumerate(heads):
        xr = left + label_w + (j + 1) * col_w - 0.06
        fig.text(
            fx(xr), fy(y + 0.05), "\n".join(lines), ha="right", va="bottom", fontsize=size,
            weight="bold", color=INK, linespacing=1.15,
        )  # fmt: skip
    fig.text(fx(left + 0.05), fy(y + 0.05), "Metric", fontsize=size, weight="bold", color=INK)
    fig.add_artist(Line2D([fx(left), fx(right)], [fy(y), fy(y)], color=INK, lw=1.2))
    for i, (label, _desc, cells) in enumerate(rows):
        y0 = y - (i + 1) * row_h
        if i % 2 == 1:
            fig.add_artist(
                Rectangle((fx(left), fy(y0)), fx(right - left), fy(row_h), color=BAND, lw=0)
            )
        fig.add_artist(Line2D([fx(left), fx(right)], [fy(y0), fy(y0)], color=RULE, lw=0.5))
        mid = fy(y0 + row_h / 2)
        fig.text(fx(left + 0.05), mid, label, va="center", fontsize=size, color=INK)
        for j, cell in enumerate(cells):
            xr = left + label_w + (j + 1) * col_w - 0.06
            fig.text(fx(xr), mid, cell, ha="right", va="center", fontsize=size, color=INK)
    # Definitions, two columns below the table.
    y = y - len(rows) * row_h - 0.35
    fig.text(fx(left), fy(y), "Definitions", fontsize=10, weight="bold", color=ACCENT)
    y -= 0.12
    half = math.ceil(len(rows) / 2)
    col_x = (left, left + (right - left) / 2)
    for k, (label, desc, _cells) in enumerate(rows):
        x0 = col_x[k // half]
        yk = y - (k % half + 1) * 0.19
        fig.text(fx(x0), fy(yk), label, fontsize=8, weight="bold", color=INK)
        fig.text(fx(x0 + 1.45), fy(yk), desc, fontsize=8, color=MUTED)
    return fig


def _table(
    fig: Figure, y: float, head: Sequence[str], rows: Sequence[Sequence[str]], size: float
) -> float:
    """Draw a text table from height ``y`` (inches from the bottom) down; return its end."""
    w_in, h_in = PAGE
    left, right, label_w = 0.45, w_in - 0.45, 2.6
    n = max(len(head) - 1, 1)
    col_w = (right - left - label_w) / n
    row_h = size / 72 * 1.75
    char_w = size / 72 * 0.6
    heads = [textwrap.wrap(h, max(int(col_w / char_w) - 1, 6)) or [""] for h in head[1:]]
    head_h = max((len(h) for h in heads), default=1) * size / 72 * 1.3 + 0.08
    y -= head_h
    fig.text(0.05 / w_in + left / w_in, (y + 0.05) / h_in, head[0], fontsize=size,
             weight="bold", color=INK)  # fmt: skip
    for j, lines in enumerate(heads):
        xr = left + label_w + (j + 1) * col_w - 0.06
        fig.text(xr / w_in, (y + 0.05) / h_in, "\n".join(lines), ha="right", va="bottom",
                 fontsize=size, weight="bold", color=INK, linespacing=1.15)  # fmt: skip
    fig.add_artist(Line2D([left / w_in, right / w_in], [y / h_in] * 2, color=INK, lw=1.2))
    for i, row in enumerate(rows):
        y0 = y - (i + 1) * row_h
        if i % 2 == 1:
            fig.add_artist(
                Rectangle(
                    (left / w_in, y0 / h_in), (right - left) / w_in, row_h / h_in, color=BAND, lw=0
                )
            )
        mid = (y0 + row_h / 2) / h_in
        fig.text((left + 0.05) / w_in, mid, row[0], va="center", fontsize=size, color=INK)
        for j, cell in enumerate(row[1:]):
            xr = left + label_w + (j + 1) * col_w - 0.06
            fig.text(xr / w_in, mid, cell, ha="right", va="center", fontsize=size, color=INK)
    return y - len(rows) * row_h


def _income_page(data: TearsheetData) -> Figure | None:
    """The "Retirement income" table with its caption, then the glide paths' to/through
    labels; ``None`` when the page has neither."""
    if data.income is None and not data.glide_labels:
        return None
    w_in, h_in = PAGE
    fig = Figure(figsize=PAGE)
    fig.text(0.04, 0.94, "Retirement income", fontsize=16, weight="bold", color=ACCENT)
    y = h_in - 0.85
    if data.income is not None:
        view = income_view(data.income)
        n = len(view.strategies)
        size = 7.5 if n <= 8 else 6.5
        rows = [(label, *cells) for label, cells in view.rows]
        y = _table(fig, y, ("Figure", *view.strategies), rows, size)
        for line in [*textwrap.wrap(view.caption, 170), *view.notes]:
            y -= 0.16
            fig.text(0.45 / w_in, y / h_in, line, fontsize=7, color=MUTED, style="italic")
    if data.glide_labels:
        y -= 0.35
        fig.text(0.45 / w_in, y / h_in, "Glide paths around the target date", fontsize=10,
                 weight="bold", color=ACCENT)  # fmt: skip
        rows2 = glide_label_rows(data.glide_labels)
        y = _table(fig, y - 0.05, glide_label_header(data.glide_labels), rows2, 7.5)
        y -= 0.16
        fig.text(0.45 / w_in, y / h_in, "To: equity flat from the target date (the plan's "
                 "retirement age) on; through: it keeps falling after it.", fontsize=7,
                 color=MUTED, style="italic")  # fmt: skip
    return fig


def _income_pages(data: TearsheetData) -> list[Figure]:
    page = _income_page(data)
    return [] if page is None else [page]


def _group_heads(fig: Figure, y: float, groups: Sequence[tuple[str, int]], size: float) -> float:
    """Draw each set's heading centred over the columns it spans, laid out as
    :func:`_table` lays out its columns, from height ``y`` (inches) down; return its end."""
    w_in, h_in = PAGE
    left, right, label_w = 0.45, w_in - 0.45, 2.6
    n = max(sum(span for _, span in groups), 1)
    col_w = (right - left - label_w) / n
    char_w = size / 72 * 0.6
    line_h = size / 72 * 1.3
    wrapped = [textwrap.wrap(g, max(int(span * col_w / char_w) - 2, 6)) for g, span in groups]
    y -= max((len(w) for w in wrapped), default=1) * line_h + 0.06
    x = left + label_w
    for (_, span), lines in zip(groups, wrapped, strict=True):
        x1 = x + span * col_w
        text = "\n".join(lines)
        mid = (x + x1) / 2 / w_in
        fig.text(mid, (y + 0.04) / h_in, text, ha="center", va="bottom", fontsize=size,
                 weight="bold", color=ACCENT, linespacing=1.15)  # fmt: skip
        edges = [(x + 0.08) / w_in, (x1 - 0.08) / w_in]
        fig.add_artist(Line2D(edges, [y / h_in] * 2, color=RULE, lw=0.8))
        x = x1
    return y


def _sets_pages(data: TearsheetData) -> list[Figure]:
    """The "Success by scenario set" table with its caption and notes; none without it."""
    if data.sets is None:
        return []
    w_in, h_in = PAGE
    view = sets_view(data.sets)
    fig = Figure(figsize=PAGE)
    fig.text(0.04, 0.94, "Success by scenario set", fontsize=16, weight="bold", color=ACCENT)
    size = 7.5 if len(view.columns) <= 8 else 6.5
    y = _group_heads(fig, h_in - 0.85, view.groups, size)
    rows = [(name, *cells) for name, cells in view.rows]
    y = _table(fig, y, ("Strategy", *view.columns), rows, size)
    for line in [*textwrap.wrap(view.caption, 170), *view.notes]:
        y -= 0.16
        fig.text(0.45 / w_in, y / h_in, line, fontsize=7, color=MUTED, style="italic")
    return [fig]


def _metrics_pages(data: TearsheetData) -> list[Figure]:
    return [_metrics_page(view, data.frequency) for view in metrics_views(data)]


def _chart_page(chart: Chart) -> Figure:
    """The chart's own figure with its title and caption above it (legends sit below)."""
    fig = chart.figure
    w, h = fig.get_size_inches()
    caption = textwrap.fill(chart.caption, 140)
    n_lines = caption.count("\n") + 1
    head = 0.45 + 0.17 * n_lines  # inches for the title and the caption
    total = h + head
    fig.set_size_inches(w, total)
    engine = fig.get_layout_engine()
    if isinstance(engine, (ConstrainedLayoutEngine, TightLayoutEngine)):
        engine.set(rect=(0, 0, 1, 1 - head / total))
    fig.text(
        0.01, 1 - 0.08 / total, chart.title, fontsize=13, weight="bold", color=ACCENT, va="top"
    )
    fig.text(0.01, 1 - 0.38 / total, caption, fontsize=8.5, color=MUTED, va="top", style="italic")
    return fig


def render_pdf(data: TearsheetData, charts: list[Chart], path: str | os.PathLike[str]) -> None:
    """Write the report to ``path`` as a multi-page PDF."""
    meta = {"Title": data.title, "Creator": "glidelab", "CreationDate": None}
    with style(), PdfPages(path, metadata=meta) as pdf:
        pdf.savefig(_cover(data))
        for page in [*_income_pages(data), *_sets_pages(data), *_metrics_pages(data)]:
            pdf.savefig(page)
        for chart in charts:
            pdf.savefig(_chart_page(chart))


def _page_figures(data: TearsheetData, charts: list[Chart]) -> list[Figure]:
    return [
        _cover(data),
        *_income_pages(data),
        *_sets_pages(data),
        *_metrics_pages(data),
        *(_chart_page(c) for c in charts),
    ]


def render_book_pdf(
    book: TearsheetBook, charts: list[list[Chart]], path: str | os.PathLike[str]
) -> None:
    """Write a report of several plans to ``path``: a contents cover, then each plan's
    cover (its settings and notes), metrics pages and charts."""
    meta = {"Title": book.title, "Creator": "glidelab", "CreationDate": None}
    with style(), PdfPages(path, metadata=meta) as pdf:
        contents, page_no = [], 2
        for page, page_charts in zip(book.pages, charts, strict=True):
            contents.append((page.title, page.subtitle, page_no))
            has_income = page.income is not None or bool(page.glide_labels)
            has_sets = page.sets is not None
            page_no += 1 + has_income + has_sets + len(metrics_views(page)) + len(page_charts)
        pdf.savefig(_cover(book, contents))
        for page, page_charts in zip(book.pages, charts, strict=True):
            for fig in _page_figures(page, page_charts):
                pdf.savefig(fig)
