"""The tear sheet as a PDF with the same content as the HTML (matplotlib ``PdfPages``).

Page 1: title, settings and notes; then the retirement income and, with other scenario
sets, the success on each set; then one page per metrics basis (nominal, real); then one
page per chart with its title and caption. Charts stay vector graphics. A
:class:`~backtest.report.model.TearsheetBook` opens with a cover listing its plans and the
page where each begins, then gives each plan the pages above; a research part of the book
(the crypto research, :class:`~backtest.report.model.ResearchPart`) follows the plans:
its answer table, and a link to its full report.

Every page is A4: tables are drawn cell by cell (:func:`table_pages`: the largest font
that fits, headers wrapped, split by columns or rows when they must be), a chart is
scaled onto its page (:func:`chart_page`, portrait when tall) with its title and caption
inside the margins. The fund-design report (``backtest.report.population``) uses the
same pages.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine, TightLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from backtest.report.charts import Chart, style
from backtest.report.html import shown_rows
from backtest.report.model import (
    MetricsView,
    ResearchPart,
    TearsheetBook,
    TearsheetData,
    glide_label_header,
    glide_label_rows,
    income_view,
    metrics_views,
    sets_view,
    summary_view,
)

PAGE = (11.69, 8.27)  # A4 landscape, inches
INK = "#1d2733"
MUTED = "#5b6673"
ACCENT = "#1f4e79"


def _cover(
    data: TearsheetData | TearsheetBook,
    contents: Sequence[tuple[str, str, int]] = (),
    with_settings: bool = False,
    heading: str = "Plans",
) -> Figure:
    """Title, subtitle, the contents of a book (title, description, page) under
    ``heading`` and the notes; the settings too only when ``with_settings`` (they close
    the report instead: :func:`_settings_pages`)."""
    fig = Figure(figsize=PAGE)
    fig.text(0.06, 0.92, data.title, fontsize=22, weight="bold", color=INK)
    y = 0.875
    for line in textwrap.wrap(data.subtitle, 125):
        fig.text(0.06, y, line, fontsize=12, color=MUTED)
        y -= 0.03
    fig.add_artist(Line2D([0.06, 0.94], [y, y], color=ACCENT, lw=2.5))
    y -= 0.06
    rows = [(str(k), str(v)) for k, v in data.settings] if with_settings else []
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
        fig.text(0.06, y, heading, fontsize=14, weight="bold", color=ACCENT)
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


PORTRAIT = (PAGE[1], PAGE[0])  # A4 portrait, inches
MARGIN = 0.45  # inches on every side of a page
#: The smallest share of a chart's own size it is scaled to before its page turns portrait.
_MIN_SCALE = 0.5


def _chart_header(fig: Figure, chart: Chart, page: tuple[float, float]) -> float:
    """The chart's title and caption at the top of ``page``; their height, inches."""
    w_in, h_in = page
    caption = textwrap.fill(chart.caption, int((w_in - 2 * MARGIN) / (8.5 / 72 * _EM)))
    n_lines = caption.count("\n") + 1
    top = h_in - MARGIN
    fig.text(MARGIN / w_in, top / h_in, chart.title, fontsize=13, weight="bold", color=ACCENT,
             va="top")  # fmt: skip
    fig.text(MARGIN / w_in, (top - 0.3) / h_in, caption, fontsize=8.5, color=MUTED, va="top",
             style="italic")  # fmt: skip
    return 0.3 + 0.165 * n_lines + 0.15


def chart_page(chart: Chart) -> Figure:
    """The chart's own figure on an A4 page (landscape, or portrait for a tall chart),
    its title and caption above it inside the margins: a chart larger than the space
    left is scaled down, fonts with it, never stretched; a figure's own suptitle gives
    way to the page's title."""
    fig = chart.figure
    w, h = fig.get_size_inches()
    if fig.get_suptitle():
        fig.suptitle("")
    scales = {}
    for page in (PAGE, PORTRAIT):
        chars = int((page[0] - 2 * MARGIN) / (8.5 / 72 * _EM))
        head = 0.3 + 0.165 * (len(textwrap.wrap(chart.caption, chars)) or 1) + 0.15
        avail = (page[0] - 2 * MARGIN, page[1] - 2 * MARGIN - head)
        scales[page] = min(1.0, avail[0] / w, avail[1] / h)
    page = (
        PAGE
        if scales[PAGE] >= min(scales[PORTRAIT], 1.0) or scales[PAGE] >= _MIN_SCALE
        else PORTRAIT
    )
    s = scales[page]
    if s < 1.0:
        for t in fig.findobj(Text):
            t.set_fontsize(max(t.get_fontproperties().get_size_in_points() * s, 5.0))
    fig.set_size_inches(*page)
    head = _chart_header(fig, chart, page)
    w_in, h_in = page
    box_w, box_h = w * s, h * s
    x0 = (w_in - box_w) / 2
    y1 = h_in - MARGIN - head
    rect = (x0 / w_in, (y1 - box_h) / h_in, box_w / w_in, box_h / h_in)
    engine = fig.get_layout_engine()
    if not isinstance(engine, (ConstrainedLayoutEngine, TightLayoutEngine)):
        engine = ConstrainedLayoutEngine()
        fig.set_layout_engine(engine)
    engine.set(rect=rect)
    for t in fig.texts:  # a self-wrapping text wraps at the box, not the page's edges
        if t.get_wrap():
            size = t.get_fontproperties().get_size_in_points()
            t.set_text(textwrap.fill(t.get_text(), int(box_w / (size / 72 * _EM))))
            t.set_wrap(False)
    # Lay the chart out once in its box, then hold it: a figure legend "outside" the
    # axes and the figure's x label are placed against the whole figure, so they are
    # moved into the box instead.
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    box = Bbox.from_bounds(*rect)
    for legend in fig.legends:
        legend.set_bbox_to_anchor(box, transform=fig.transFigure)
    xlabel = fig.get_supxlabel()
    for t in fig.texts:
        if xlabel and t.get_text() == xlabel:
            t.set_y(rect[1] + 0.04 / h_in)
    return fig


@dataclass(frozen=True)
class PageTable:
    """A table for the PDF as display text: ``head[0]`` heads the row labels, each row
    starts with its label; ``caption`` and ``notes`` print under it."""

    title: str
    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    notes: tuple[str, ...] = ()
    subtitle: str = ""


_SIZES = (8.0, 7.0, 6.2)  # points: the table's font, largest that fits the page's width
_EM = 0.62  # DejaVu Sans: a digit is 0.64 em, most letters less
_HEAD_WORD = 16  # characters: a longer header word is broken over lines
_LABEL_CHARS = 44  # characters: a longer row label wraps


_TEXT_CHARS = 48  # characters: a longer cell (a source, a reason) wraps


@dataclass(frozen=True)
class _Layout:
    """A table laid out at one font size: column widths (inches, labels first), each
    header's lines and each cell's lines (``cells[i][0]``: the row label)."""

    size: float
    widths: list[float]
    heads: list[list[str]]
    cells: list[list[list[str]]]

    def row_height(self, i: int) -> float:
        lines = max(len(c) for c in self.cells[i])
        return lines * self.size / 72 * 1.3 + self.size / 72 * 0.5


def _layout(t: PageTable, size: float, head_lines: int) -> _Layout:
    """``t`` at font ``size``, a column as wide as its header needs to fit in
    ``head_lines`` lines (0: its longest word), never narrower than its widest cell."""
    char = size / 72 * _EM
    cells = [
        [textwrap.wrap(c, _LABEL_CHARS if j == 0 else _TEXT_CHARS) or [""] for j, c in enumerate(r)]
        for r in t.rows
    ]
    n = len(t.head)
    widths, heads = [], []
    for j, h in enumerate(t.head):
        body = max((len(x) for r in cells if j < len(r) for x in r[j]), default=1)
        word = min(max((len(w) for w in h.split()), default=1), _HEAD_WORD)
        want = math.ceil(len(h) / head_lines) + 2 if head_lines and j > 0 else 0
        chars = max(body, word, want, 5)
        heads.append(textwrap.wrap(h, chars) or [""])
        widths.append(chars * char + (0.2 if j == 0 else 0.16))
    for r in cells:
        r.extend([[""]] * (n - len(r)))
    return _Layout(size, widths, heads, cells)


def _column_chunks(widths: list[float], avail: float) -> list[list[int]]:
    """The data columns (1..n) split into runs that fit ``avail`` inches beside the label
    column, as even in count as the fit allows."""
    greedy: list[list[int]] = [[]]
    used = widths[0]
    for j in range(1, len(widths)):
        if greedy[-1] and used + widths[j] > avail:
            greedy.append([])
            used = widths[0]
        greedy[-1].append(j)
        used += widths[j]
    k = len(greedy)
    per = math.ceil((len(widths) - 1) / k)
    even = [
        list(range(1 + a, min(1 + a + per, len(widths)))) for a in range(0, len(widths) - 1, per)
    ]
    fits = all(widths[0] + sum(widths[j] for j in c) <= avail for c in even)
    return even if fits and len(even) == k else greedy


def table_pages(t: PageTable, page: tuple[float, float] = PAGE) -> list[Figure]:
    """``t`` drawn cell by cell on A4 pages: the largest font of ``_SIZES`` at which its
    columns fit the page's width, else split by columns (the labels repeated); rows
    continue on further pages with the header repeated; headers and long text cells
    wrap; caption and notes wrap inside the margins under the last rows."""
    w_in, h_in = page
    avail = w_in - 2 * MARGIN
    for size, lines in [(z, n) for z in _SIZES for n in (2, 3, 0)]:
        lay = _layout(t, size, lines)
        if sum(lay.widths) <= avail:
            break
    else:  # too wide at any size: split by columns at the largest
        lay = _layout(t, _SIZES[0], 2)
    chunks = _column_chunks(lay.widths, avail)
    chars = int(avail / (7 / 72 * _EM))
    foot = [line for text in (t.caption, *t.notes) for line in textwrap.wrap(text, chars)]
    foot_h = 0.14 * len(foot) + (0.1 if foot else 0.0)
    pages: list[Figure] = []
    for k, cols in enumerate(chunks):
        i = 0
        while i < len(t.rows) or i == 0:
            suffix = ""
            if len(chunks) > 1:
                suffix = f" (columns {cols[0]}-{cols[-1]} of {len(lay.widths) - 1})"
            if i > 0:
                suffix += " (continued)"
            fig = Figure(figsize=page)
            title = textwrap.wrap(t.title + suffix, int(avail / (14 / 72 * _EM)))
            fig.text(MARGIN / w_in, 1 - MARGIN / h_in, "\n".join(title), fontsize=14,
                     weight="bold", color=ACCENT, va="top")  # fmt: skip
            y = h_in - MARGIN - 0.45 - 0.25 * (len(title) - 1)
            if t.subtitle and i == 0 and k == 0:
                for line in textwrap.wrap(t.subtitle, int(avail / (10 / 72 * _EM))):
                    fig.text(MARGIN / w_in, y / h_in, line, fontsize=10, color=MUTED, va="top")
                    y -= 0.2
                y -= 0.1
            i, y = _draw_rows(fig, page, lay, [0, *cols], i, y, foot_h)
            if i >= len(t.rows) and k == len(chunks) - 1:
                for line in foot:
                    y -= 0.14
                    fig.text(MARGIN / w_in, y / h_in, line, fontsize=7, color=MUTED,
                             style="italic", va="top")  # fmt: skip
            pages.append(fig)
            if not t.rows:
                break
    return pages


def _draw_rows(
    fig: Figure,
    page: tuple[float, float],
    lay: _Layout,
    cols: list[int],
    start: int,
    y: float,
    foot_h: float,
) -> tuple[int, float]:
    """The header, then rows from ``start`` while they fit above the footer; the next
    row and the height (inches) where the table ends."""
    w_in, h_in = page
    size = lay.size
    head_h = max(len(lay.heads[j]) for j in cols) * size / 72 * 1.3 + 0.08
    xs = [MARGIN]
    for j in cols:
        xs.append(xs[-1] + lay.widths[j])
    y -= head_h
    for n, j in enumerate(cols):
        x = (xs[n] + 0.06) if n == 0 else (xs[n + 1] - 0.08)
        fig.text(x / w_in, (y + 0.04) / h_in, "\n".join(lay.heads[j]), ha="left" if n == 0
                 else "right", va="bottom", fontsize=size, weight="bold", color=INK,
                 linespacing=1.15)  # fmt: skip
    fig.add_artist(Line2D([xs[0] / w_in, xs[-1] / w_in], [y / h_in] * 2, color=INK, lw=1.0))
    i = start
    while i < len(lay.cells):
        row_h = lay.row_height(i)
        if y - row_h < MARGIN + foot_h and i > start:
            break
        y0 = y - row_h
        if (i - start) % 2 == 1:
            fig.add_artist(Rectangle((xs[0] / w_in, y0 / h_in), (xs[-1] - xs[0]) / w_in,
                                     row_h / h_in, color=BAND, lw=0))  # fmt: skip
        fig.add_artist(Line2D([xs[0] / w_in, xs[-1] / w_in], [y0 / h_in] * 2, color=RULE, lw=0.4))
        mid = (y0 + row_h / 2) / h_in
        for n, j in enumerate(cols):
            lines = lay.cells[i][j]
            left = n == 0 or len(lines) > 1
            x = (xs[n] + 0.06) if left else (xs[n + 1] - 0.08)
            fig.text(x / w_in, mid, "\n".join(lines), ha="left" if left else "right",
                     va="center", fontsize=size, color=INK, linespacing=1.15)  # fmt: skip
        y = y0
        i += 1
    return i, y


def text_page(
    title: str, items: Sequence[tuple[str, str]] | Sequence[str], page: tuple[float, float] = PAGE
) -> list[Figure]:
    """Labelled rows (``(label, text)``) or bullet sentences under ``title``, wrapped
    inside the margins, on as many A4 pages as they need."""
    w_in, h_in = page
    pages: list[Figure] = []
    fig, y = None, 0.0
    for item in items:
        label, text = item if isinstance(item, tuple) else ("\u2022", item)
        lines = textwrap.wrap(text, 125 if len(label) > 2 else 150) or [""]
        need = 0.2 * len(lines) + 0.06
        if fig is None or y - need < MARGIN:
            fig = Figure(figsize=page)
            pages.append(fig)
            cont = " (continued)" if len(pages) > 1 else ""
            fig.text(MARGIN / w_in, 1 - MARGIN / h_in, title + cont, fontsize=14,
                     weight="bold", color=ACCENT, va="top")  # fmt: skip
            y = h_in - MARGIN - 0.6
        x_text = MARGIN + (2.3 if len(label) > 2 else 0.2)
        fig.text(MARGIN / w_in, y / h_in, label, fontsize=9, color=MUTED, va="top")
        for line in lines:
            fig.text(x_text / w_in, y / h_in, line, fontsize=9, color=INK, va="top")
            y -= 0.2
        y -= 0.06
    return pages


def _summary_pages(data: TearsheetData) -> list[Figure]:
    """The answer first: the page's summary table (success with its standard error and
    n on each scenario set, CE income, wealth, unpaid years), right after the cover."""
    if data.summary is None:
        return []
    view = summary_view(data.summary)
    sets = dict.fromkeys(label for _, _, label in view.columns if label)
    head = ("Strategy", *(h for h, _, _ in view.columns))
    rows = tuple(
        (name + (f" [{marks}]" if marks else ""), *cells) for name, marks, cells, _ in view.rows
    )
    why = tuple(f"{name}: {reason}" for name, _, _, reason in view.rows if reason)
    title = f"{data.title}: the answer" if data.title else "The answer"
    return table_pages(
        PageTable(
            title=title,
            head=head,
            rows=rows,
            caption=view.caption,
            notes=(*why, *view.notes),
            subtitle="Scenario sets: " + "; ".join(sets) if sets else "",
        )
    )


def _settings_pages(data: TearsheetData | TearsheetBook) -> list[Figure]:
    """The settings, at the end of the report (a reader wants the answer first)."""
    rows = [(str(k), str(v)) for k, v in data.settings]
    return text_page(f"Settings: {data.title}", rows) if rows else []


def render_pdf(data: TearsheetData, charts: list[Chart], path: str | os.PathLike[str]) -> None:
    """Write the report to ``path`` as a multi-page PDF."""
    meta = {"Title": data.title, "Creator": "glidelab", "CreationDate": None}
    with style(), PdfPages(path, metadata=meta) as pdf:
        for page in _page_figures(data, charts):
            pdf.savefig(page)


def _page_figures(data: TearsheetData, charts: list[Chart]) -> list[Figure]:
    """One plan's pages: cover, the answer, income, scenario sets, metrics, charts,
    settings."""
    return [
        _cover(data),
        *_summary_pages(data),
        *_income_pages(data),
        *_sets_pages(data),
        *_metrics_pages(data),
        *(chart_page(c) for c in charts),
        *_settings_pages(data),
    ]


def _part_pages(part: ResearchPart) -> list[Figure]:
    """A research part's pages: its answer table under its lead (each group of columns
    named in the notes), the caption, and the link to its full report at the foot of the
    last page (a live link in the PDF)."""
    spans, first = [], 1
    for g, n in part.groups:
        spans.append(f"Columns {first}-{first + n - 1}: {g}" if n > 1 else f"Column {first}: {g}")
        first += n
    table = PageTable(
        title=part.title,
        head=("Sleeve", *(h for _, h in part.columns)),
        rows=tuple((label, *cells) for _, label, cells in part.rows),
        caption=part.caption,
        notes=tuple(spans),
        subtitle=part.lead,
    )
    pages = table_pages(table)
    if part.link:
        fig = pages[-1]
        w_in, h_in = fig.get_size_inches()
        text = f"{part.link_text or 'Full report'}: {part.link}"
        fig.text(MARGIN / w_in, 0.3 / h_in, text, fontsize=8, color=ACCENT, url=part.link)
    return pages


def render_book_pdf(
    book: TearsheetBook, charts: list[list[Chart]], path: str | os.PathLike[str]
) -> None:
    """Write a report of several plans to ``path``: a contents cover, then each plan's
    pages (:func:`_page_figures`: the answer first, settings last), then the book's
    research part (:func:`_part_pages`: the crypto research) when it has one, then the
    book's settings."""
    meta = {"Title": book.title, "Creator": "glidelab", "CreationDate": None}
    with style(), PdfPages(path, metadata=meta) as pdf:
        plans = [_page_figures(p, c) for p, c in zip(book.pages, charts, strict=True)]
        contents, page_no = [], 2
        for page, figures in zip(book.pages, plans, strict=True):
            contents.append((page.title, page.subtitle, page_no))
            page_no += len(figures)
        part = _part_pages(book.crypto) if book.crypto is not None else []
        if book.crypto is not None:
            contents.append((book.crypto.title, book.crypto.link_text, page_no))
        heading = "Contents" if book.crypto is not None else "Plans"
        pdf.savefig(_cover(book, contents, heading=heading))
        for fig in [*(f for figures in plans for f in figures), *part]:
            pdf.savefig(fig)
        for fig in _settings_pages(book):
            pdf.savefig(fig)
