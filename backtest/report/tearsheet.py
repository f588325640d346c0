"""Write a tear sheet folder: the one writer of every report glidelab makes.

:func:`write_tearsheet` takes the numbers (a one-page :class:`TearsheetData` or a
:class:`TearsheetBook` of one page per plan, see :mod:`backtest.report.model`) and writes,
atomically, a folder with ``tearsheet.html`` (self-contained: images embedded as base64
PNG, CSS inline, no external requests; a book opens with an index linking each plan's
section), ``tearsheet.pdf`` (the same content), ``metrics.csv`` and ``metrics.json``.

The data model lives in :mod:`backtest.report.model`; the renderers import it, this
module imports the renderers, and nothing imports this module back: no import circle.
"""

from __future__ import annotations

import os
from pathlib import Path

import backtest.report.html as html
import backtest.report.pdf as pdf
from backtest.io import atomic_directory
from backtest.report.charts import build_charts
from backtest.report.model import (
    CohortData,
    FanData,
    FundedRatioData,
    GlidePathData,
    MetricsView,
    SleeveData,
    SuccessGrid,
    TearsheetBook,
    TearsheetData,
    book_metrics_csv,
    book_metrics_json,
    format_value,
    income_csv,
    metrics_csv,
    metrics_json,
    metrics_views,
    sets_csv,
    summary_csv,
)


def write_tearsheet(report: TearsheetData | TearsheetBook, out_dir: str | os.PathLike[str]) -> Path:
    """Write the tear sheet folder atomically and return its path.

    The folder holds ``tearsheet.html``, ``tearsheet.pdf``, ``metrics.csv`` and
    ``metrics.json``, ``income.csv`` when a page has income figures and ``sets.csv`` (success
    and CE of each strategy on every scenario set) when a page has more than one set; for a :class:`TearsheetBook` the metrics files have a leading
    ``plan`` column (field). It is built in a temporary sibling and swapped into place
    only when every file is written: on any error no partial folder is left and an
    existing folder at ``out_dir`` is untouched.
    """
    target = Path(out_dir)
    with atomic_directory(target) as tmp:
        if isinstance(report, TearsheetBook):
            charts = [build_charts(page) for page in report.pages]
            text = html.render_book_html(report, charts)
            pdf.render_book_pdf(report, charts, tmp / "tearsheet.pdf")
            table, payload = book_metrics_csv(report), book_metrics_json(report)
            income = income_csv(report.pages)
            sets = sets_csv(report.pages)
            summary = summary_csv(report.pages)
        else:
            one = build_charts(report)
            text = html.render_html(report, one)
            pdf.render_pdf(report, one, tmp / "tearsheet.pdf")
            table, payload = metrics_csv(report), metrics_json(report)
            income = income_csv((report,))
            sets = sets_csv((report,))
            summary = summary_csv((report,))
        (tmp / "tearsheet.html").write_text(text, encoding="utf-8")
        (tmp / "metrics.csv").write_text(table, encoding="utf-8")
        (tmp / "metrics.json").write_text(payload, encoding="utf-8")
        if income.count("\n") > 1:
            (tmp / "income.csv").write_text(income, encoding="utf-8")
        if sets.count("\n") > 1:  # a header and at least one row
            (tmp / "sets.csv").write_text(sets, encoding="utf-8")
        if summary.count("\n") > 1:
            (tmp / "summary.csv").write_text(summary, encoding="utf-8")
    return target


__all__ = [
    "CohortData",
    "FanData",
    "FundedRatioData",
    "GlidePathData",
    "MetricsView",
    "SleeveData",
    "SuccessGrid",
    "TearsheetBook",
    "TearsheetData",
    "format_value",
    "metrics_csv",
    "metrics_json",
    "metrics_views",
    "write_tearsheet",
]
