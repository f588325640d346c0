"""The tear sheet as a PDF with the same content as the HTML (matplotlib ``PdfPages``).

Page 1: title, settings and notes; then one page per metrics basis (nominal, real); then
one page per chart with its title and caption. Charts stay vector graphics.
"""

from __future__ import annotations

import os
import textwrap

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from backtest.report.charts import Chart, style
from backtest.report.tearsheet import TearsheetData, metrics_views, settings_rows

PAGE = (11.69, 8.27)  # A4 landscape, inches
INK = "#1d2733"
MUTED = "#5b6673"
ACCENT = "#1f4e79"


def _cover(data: TearsheetData) -> Figure:
    fig = Figure(figsize=PAGE)
    fig.text(0.06, 0.92, data.title, fontsize=22, weight="bold", color=INK)
    y = 0.875
    if data.subtitle:
        fig.text(0.06, y, data.subtitle, fontsize=12, color=MUTED)
        y -= 0.03
    fig.add_artist(Line2D([0.06, 0.94], [y, y], color=ACCENT, lw=2.5))
    y -= 0.06
    rows = settings_rows(data)
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
    if data.notes:
        y -= 0.03
        fig.text(0.06, y, "Notes", fontsize=14, weight="bold", color=ACCENT)
        y -= 0.045
        for note in data.notes:
            for i, line in enumerate(textwrap.wrap(note, 150)):
                fig.text(0.06, y, ("\u2022 " if i == 0 else "   ") + line, fontsize=9, color=INK)
                y -= 0.027
    return fig


def _metrics_pages(data: TearsheetData) -> list[Figure]:
    pages = []
    for view in metrics_views(data):
        fig = Figure(figsize=PAGE)
        fig.text(
            0.06,
            0.92,
            f"Performance and risk \u2014 {view.basis} returns",
            fontsize=16,
            weight="bold",
            color=ACCENT,
        )
        ax = fig.add_axes((0.06, 0.06, 0.88, 0.82))
        ax.axis("off")
        cells = [[label, *c] for label, _desc, c in view.rows]
        heads = [textwrap.fill(n, 16) for n in view.strategies]
        first = 0.2
        widths = [first] + [(1 - first) / max(len(heads), 1)] * len(heads)
        table = ax.table(
            cellText=cells,
            colLabels=["Metric", *heads],
            colWidths=widths,
            loc="upper center",
            cellLoc="right",
            colLoc="right",
            edges="horizontal",
        )
        table.auto_set_font_size(False)
        table.set_fontsize(8.5)
        table.scale(1.0, 1.35)
        for (r, c), cell in table.get_celld().items():
            cell.set_edgecolor("#d5dae0")
            if c == 0:
                cell.set_text_props(ha="left")
                cell._loc = "left"
            if r == 0:
                cell.set_text_props(weight="bold")
                cell.set_edgecolor(INK)
            elif r % 2 == 0:
                cell.set_facecolor("#f4f6f9")
        pages.append(fig)
    return pages


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
    if engine is not None:
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
        for page in _metrics_pages(data):
            pdf.savefig(page)
        for chart in charts:
            pdf.savefig(_chart_page(chart))
