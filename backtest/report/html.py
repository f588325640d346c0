"""The tear sheet as one self-contained HTML file.

Images are embedded as base64 PNG ``data:`` URIs, the CSS is inline, there is no script
and no external reference of any kind, so the page renders identically offline. A
:class:`~backtest.report.model.TearsheetBook` opens with an index of its plans, each
linking to that plan's section further down the same file; a research part of the book
(:class:`~backtest.report.model.ResearchPart`, e.g. the crypto research) follows the
plans, with a relative link to its full report beside the book's folder.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from backtest.metrics import METRICS
from backtest.report.charts import Chart, png_bytes
from backtest.report.model import (
    MetricsView,
    ResearchPart,
    TearsheetBook,
    TearsheetData,
    anchor,
    glide_label_header,
    glide_label_rows,
    income_view,
    metrics_views,
    sets_view,
    settings_rows,
    summary_view,
)

CSS = """
:root { --ink:#1d2733; --muted:#5b6673; --rule:#d5dae0; --accent:#1f4e79; --band:#f4f6f9; }
* { box-sizing: border-box; }
html { background: #ffffff; }
body { margin: 0 auto; max-width: 1240px; padding: 36px 40px 60px; color: var(--ink);
  font: 14px/1.5 "Source Sans Pro", "Helvetica Neue", Helvetica, Arial, sans-serif; }
header { border-bottom: 3px solid var(--accent); padding-bottom: 10px; margin-bottom: 22px; }
h1 { font-size: 26px; font-weight: 600; margin: 0 0 4px; letter-spacing: -0.2px; }
.subtitle { color: var(--muted); font-size: 15px; margin: 0; }
h2 { font-size: 18px; font-weight: 600; color: var(--accent); margin: 34px 0 10px;
  border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
h3 { font-size: 15px; font-weight: 600; margin: 26px 0 6px; }
.table-wrap { overflow-x: auto; max-width: 100%; margin: 0 0 6px; }
table { border-collapse: collapse; font-size: 12.5px; line-height: 1.3; }
table.metrics { min-width: 100%; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--rule); }
thead th { border-bottom: 2px solid var(--ink); font-weight: 600; vertical-align: bottom; }
thead th.num { white-space: normal; min-width: 5.2em; max-width: 7.5em; hyphens: manual;
  overflow-wrap: normal; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
th.label { text-align: left; white-space: nowrap; font-weight: 400; }
thead th.group { text-align: center; font-weight: 600; border-bottom: 1px solid var(--rule);
  padding-top: 2px; }
table.metrics .label { position: sticky; left: 0; z-index: 1; background: #ffffff;
  box-shadow: inset -1px 0 0 var(--rule); }
table.metrics tbody tr:nth-child(even) .label { background: var(--band); }
tbody tr:nth-child(even) { background: var(--band); }
tbody tr:hover { background: #e8eef6; }
table.metrics tbody tr:hover .label { background: #e8eef6; }
dl.defs { display: grid; grid-template-columns: max-content 1fr max-content 1fr;
  gap: 1px 14px; margin: 10px 0 0; font-size: 12px; color: var(--muted); }
dl.defs dt { font-weight: 600; color: var(--ink); }
dl.defs dd { margin: 0; }
dl.settings { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px;
  margin: 0; font-size: 13px; }
dl.settings dt { color: var(--muted); }
dl.settings dd { margin: 0; }
figure { margin: 8px 0 4px; page-break-inside: avoid; }
figure img { width: 100%; height: auto; display: block; border: 1px solid #eef0f3; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 6px; }
.notes { color: var(--muted); font-size: 12px; }
.notes li { margin: 2px 0; }
nav.index ol { margin: 4px 0 0; padding-left: 22px; }
nav.index li { margin: 4px 0; }
nav.index a { color: var(--accent); font-weight: 600; text-decoration: none; }
nav.index .what { color: var(--muted); font-size: 13px; }
section.plan { border-top: 3px solid var(--accent); margin-top: 48px; padding-top: 6px; }
section.plan > h2.plan-title { font-size: 22px; color: var(--ink); border: 0; margin: 8px 0 2px; }
.back { font-size: 12px; }
table.summary tr.best th.label, table.summary tr.best td { font-weight: 600; }
table.summary tr.reference th.label { font-style: italic; }
table.summary .marks { display: inline-block; margin-left: 6px; padding: 0 5px;
  border-radius: 3px; background: #e3ebf5; color: var(--accent); font-size: 11px;
  font-weight: 600; font-style: normal; }
table.summary tr.why td { white-space: normal; text-align: left; color: #7a2e2b;
  font-size: 12px; background: #fbf1f0; border-bottom: 1px solid var(--rule); }
td.text { text-align: left; white-space: normal; min-width: 8em; max-width: 30em; }
footer { margin-top: 40px; color: var(--muted); font-size: 11.5px;
  border-top: 1px solid var(--rule); padding-top: 8px; }
"""


def img_tag(chart: Chart) -> str:
    """The chart as an ``<img>`` with its PNG inline (a ``data:`` URI) and its caption as alt text."""
    data = base64.b64encode(png_bytes(chart.figure)).decode("ascii")
    alt = escape(f"{chart.title}: {chart.caption}", quote=True)
    return f'<img alt="{alt}" src="data:image/png;base64,{data}">'


def shown_rows(view: MetricsView, frequency: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """The rows of a metrics view worth printing: for annual data the per-period CVaR is
    the per-year CVaR, so only the latter is shown."""
    drop = {METRICS["cvar_95_period"].label} if frequency == "annual" else set()
    return [row for row in view.rows if row[0] not in drop]


def _metrics_html(data: TearsheetData, prefix: str = "") -> str:
    parts = []
    defs: dict[str, str] = {}
    for view in metrics_views(data):
        head = "".join(f'<th class="num" scope="col">{escape(s)}</th>' for s in view.strategies)
        body = []
        for label, desc, cells in shown_rows(view, data.frequency):
            defs[label] = desc
            tds = "".join(f'<td class="num">{escape(c)}</td>' for c in cells)
            body.append(
                f'<tr><th class="label" scope="row" title="{escape(desc, quote=True)}">'
                f"{escape(label)}</th>{tds}</tr>"
            )
        parts.append(
            f"<h3>{escape(view.basis.capitalize())} returns</h3>"
            f'<div class="table-wrap"><table class="metrics" '
            f'id="{prefix}metrics-{escape(view.basis)}">'
            f'<thead><tr><th class="label" scope="col">Metric</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>"
        )
    if defs:
        items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in defs.items())
        parts.append(
            f'<h3>Definitions</h3><dl class="defs" id="{prefix}metric-definitions">{items}</dl>'
        )
    return "\n".join(parts)


def _income_html(data: TearsheetData, prefix: str = "") -> str:
    """The "Retirement income" table, its caption and footnotes; "" without one."""
    if data.income is None:
        return ""
    view = income_view(data.income)
    head = "".join(f'<th class="num" scope="col">{escape(s)}</th>' for s in view.strategies)
    return _table_section(
        f"{prefix}income",
        "Retirement income",
        f'<thead><tr><th class="label" scope="col">Figure</th>{head}</tr></thead>',
        view.rows,
        view.caption,
        view.notes,
    )


def _table_section(
    ident: str,
    title: str,
    thead: str,
    rows: Sequence[tuple[str, Sequence[str]]],
    caption: str,
    notes: Sequence[str],
) -> str:
    """A titled table section: ``thead``, one row per (label, cells), the caption and the
    footnotes; ids ``<ident>``, ``<ident>-table`` and ``<ident>-caption``."""
    body = "".join(
        f'<tr><th class="label" scope="row">{escape(label)}</th>'
        + "".join(f'<td class="num">{escape(c)}</td>' for c in cells)
        + "</tr>"
        for label, cells in rows
    )
    items = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return (
        f'<section id="{ident}"><h2>{escape(title)}</h2>'
        f'<div class="table-wrap"><table class="metrics" id="{ident}-table">'
        f"{thead}<tbody>{body}</tbody></table></div>"
        f'<p class="notes" id="{ident}-caption">{escape(caption)}</p>'
        + (f'<ul class="notes">{items}</ul>' if items else "")
        + "</section>"
    )


def _sets_html(data: TearsheetData, prefix: str = "") -> str:
    """The "Success by scenario set" table (a heading per set over its columns), its
    caption and footnotes; "" without one."""
    if data.sets is None:
        return ""
    view = sets_view(data.sets)
    groups = "".join(
        f'<th class="group" scope="colgroup" colspan="{span}">{escape(g)}</th>'
        for g, span in view.groups
    )
    heads = "".join(f'<th class="num" scope="col">{escape(c)}</th>' for c in view.columns)
    return _table_section(
        f"{prefix}sets",
        "Success by scenario set",
        f'<thead><tr><th class="label" scope="col" rowspan="2">Strategy</th>{groups}</tr>'
        f"<tr>{heads}</tr></thead>",
        view.rows,
        view.caption,
        view.notes,
    )


def _summary_html(data: TearsheetData, prefix: str = "") -> str:
    """The summary table the page opens with: a heading per role (in sample, held out,
    historical cohorts) over its sets, one row per strategy, best first, a sentence under
    any strategy that fails badly; each cell carries its figure and set
    (``data-figure``, ``data-set``) so it can be checked against summary.csv."""
    if data.summary is None:
        return ""
    view = summary_view(data.summary)
    groups = "".join(
        f'<th class="group" scope="colgroup" colspan="{span}">{escape(g)}</th>'
        for g, span in view.groups
    )
    heads = "".join(f'<th class="num" scope="col">{escape(h)}</th>' for h, _, _ in view.columns)
    body = []
    for name, marks, cells, why in view.rows:
        each = marks.split(", ")
        kind = "reference" if "100 % equity" in each else ("best" if "best" in each else "")
        tag = f' <span class="marks">{escape(marks)}</span>' if marks else ""
        tds = "".join(
            f'<td class="num" data-figure="{f}" data-set="{escape(s, quote=True)}">{escape(c)}</td>'
            for c, (_, f, s) in zip(cells, view.columns, strict=True)
        )
        body.append(
            f'<tr class="{kind}"><th class="label" scope="row" '
            f'data-strategy="{escape(name, quote=True)}">{escape(name)}{tag}</th>{tds}</tr>'
        )
        if why:
            body.append(f'<tr class="why"><td colspan="{len(cells) + 1}">{escape(why)}</td></tr>')
    items = "".join(f"<li>{escape(n)}</li>" for n in view.notes)
    return (
        f'<section id="{prefix}summary"><h2>Success and income by strategy</h2>'
        f'<div class="table-wrap"><table class="metrics summary" id="{prefix}summary-table">'
        f'<thead><tr><th class="label" scope="col" rowspan="2">Strategy</th>{groups}</tr>'
        f"<tr>{heads}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        + (f'<ul class="notes">{items}</ul>' if items else "")
        + f'<p class="notes" id="{prefix}summary-caption">{escape(view.caption)}</p></section>'
    )


def _glide_labels_html(data: TearsheetData, prefix: str = "") -> str:
    """The "to" / "through" table beside the glide paths; "" without labels."""
    if not data.glide_labels:
        return ""
    head = "".join(
        f'<th class="{"label" if i == 0 else "num"}" scope="col">{escape(h)}</th>'
        for i, h in enumerate(glide_label_header(data.glide_labels))
    )
    body = "".join(
        f'<tr><th class="label" scope="row">{escape(r[0])}</th>'
        + "".join(f'<td class="num">{escape(c)}</td>' for c in r[1:])
        + "</tr>"
        for r in glide_label_rows(data.glide_labels)
    )
    return (
        f'<div class="table-wrap"><table id="{prefix}glide-labels"><thead><tr>{head}</tr>'
        f'</thead><tbody>{body}</tbody></table></div><p class="notes">To: equity flat '
        "from the target date (the plan's retirement age) on; through: it keeps falling "
        "after it. Equity from each strategy's own target weights.</p>"
    )


def _page_html(data: TearsheetData, charts: list[Chart], prefix: str = "") -> list[str]:
    """A page's sections (income, success by scenario set, settings, metrics, charts,
    notes); ids start with ``prefix``."""
    tables = (_summary_html(data, prefix), _income_html(data, prefix), _sets_html(data, prefix))
    out = [t for t in tables if t]
    metrics = _metrics_html(data, prefix)
    if metrics:
        out.append(
            f'<section id="{prefix}metrics"><h2>Performance and risk</h2>{metrics}</section>'
        )
    if charts:
        out.append(f'<section id="{prefix}charts"><h2>Charts</h2>')
        for chart in charts:
            out.append(
                f'<figure id="{prefix}chart-{escape(chart.key)}"><h3>{escape(chart.title)}</h3>'
                f"{img_tag(chart)}<figcaption>{escape(chart.caption)}</figcaption></figure>"
            )
            if chart.key == "glide":
                out.append(_glide_labels_html(data, prefix))
        out.append("</section>")
    elif data.glide_labels:
        out.append(f'<section id="{prefix}glide"><h2>Glide paths</h2>')
        out.append(_glide_labels_html(data, prefix) + "</section>")
    if data.notes:
        out.append(f'<section id="{prefix}notes"><h2>Notes</h2><ul class="notes">')
        out.extend(f"<li>{escape(n)}</li>" for n in data.notes)
        out.append("</ul></section>")
    settings = settings_rows(data)
    if settings:  # last: the answer comes first, how it was computed after
        out.append(f'<section id="{prefix}settings"><h2>Settings</h2><dl class="settings">')
        out.extend(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in settings)
        out.append("</dl></section>")
    return out


def page_head(title: str, subtitle: str) -> list[str]:
    """The opening of a self-contained report page: doctype, inline CSS, title header."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # One light page in every browser theme: the charts are drawn on white.
        '<meta name="color-scheme" content="light">',
        f"<title>{escape(title)}</title>",
        f'<style>{CSS}</style></head><body id="top">',
        f"<header><h1>{escape(title)}</h1>",
    ]
    if subtitle:
        out.append(f'<p class="subtitle">{escape(subtitle)}</p>')
    out.append("</header>")
    return out


_FOOTER = (
    "<footer>Generated by glidelab. Past returns do not guarantee future results; "
    "simulated outcomes depend on the scenarios and assumptions listed above.</footer>"
)


def render_html(data: TearsheetData, charts: list[Chart]) -> str:
    """A one-page report as one HTML document (UTF-8 text)."""
    out = page_head(data.title, data.subtitle)
    out += _page_html(data, charts)
    out += [_FOOTER, "</body></html>"]
    return "\n".join(out) + "\n"


def _part_html(part: ResearchPart) -> list[str]:
    """A research part after the plans (``#part-<key>``): its lead, its answer table
    (each cell's data column in ``data-col``, each row's key in ``data-key``), the
    caption and the link to its full report."""
    a = f"part-{part.key}"
    out = [
        f'<section class="plan part" id="{a}"><h2 class="plan-title">{escape(part.title)}</h2>',
        '<p class="back"><a href="#index">\u2191 contents</a></p>',
    ]
    if part.lead:
        out.append(f'<p class="subtitle" id="{a}-lead"><strong>{escape(part.lead)}</strong></p>')
    if part.rows:
        groups = "".join(
            f'<th class="group" scope="colgroup" colspan="{n}">{escape(g)}</th>'
            for g, n in part.groups
        )
        heads = "".join(f'<th class="num" scope="col">{escape(h)}</th>' for _, h in part.columns)
        body = "".join(
            f'<tr data-key="{escape(key, quote=True)}"><th class="label" scope="row">'
            f"{escape(label)}</th>"
            + "".join(
                f'<td class="{"text" if col in part.text_columns else "num"}" '
                f'data-col="{escape(col, quote=True)}">{escape(c)}</td>'
                for c, (col, _) in zip(cells, part.columns, strict=True)
            )
            + "</tr>"
            for key, label, cells in part.rows
        )
        out.append(
            f'<div class="table-wrap"><table class="metrics summary" id="{a}-table">'
            f'<thead><tr><th class="label" scope="col" rowspan="2">Sleeve</th>{groups}</tr>'
            f"<tr>{heads}</tr></thead><tbody>{body}</tbody></table></div>"
        )
    if part.caption:
        out.append(f'<p class="notes" id="{a}-caption">{escape(part.caption)}</p>')
    if part.link:
        out.append(
            f'<p id="{a}-link"><a href="{escape(part.link, quote=True)}">'
            f"{escape(part.link_text or part.link)}</a></p>"
        )
    out.append("</section>")
    return out


def render_book_html(book: TearsheetBook, charts: list[list[Chart]]) -> str:
    """A report of several plans as one HTML document: an index linking one section per
    plan (``#plan-<name>``), each with its own settings, tables and charts, then the
    book's research part (``#part-<key>``: the crypto research) when it has one."""
    out = page_head(book.title, book.subtitle)
    heading = "Contents" if book.crypto is not None else "Plans"
    out.append(f'<nav class="index" id="index"><h2>{heading}</h2><ol>')
    for page in book.pages:
        what = f' <span class="what">{escape(page.subtitle)}</span>' if page.subtitle else ""
        out.append(f'<li><a href="#{anchor(page.key)}">{escape(page.title)}</a>{what}</li>')
    if book.crypto is not None:
        out.append(f'<li><a href="#part-{book.crypto.key}">{escape(book.crypto.title)}</a></li>')
    out.append("</ol></nav>")
    for page, page_charts in zip(book.pages, charts, strict=True):
        a = anchor(page.key)
        out.append(
            f'<section class="plan" id="{a}"><h2 class="plan-title">{escape(page.title)}</h2>'
        )
        if page.subtitle:
            out.append(f'<p class="subtitle">{escape(page.subtitle)}</p>')
        out.append('<p class="back"><a href="#index">\u2191 index of plans</a></p>')
        out += _page_html(page, page_charts, prefix=f"{a}-")
        out.append("</section>")
    if book.crypto is not None:
        out += _part_html(book.crypto)
    if book.notes:
        out.append('<section id="notes"><h2>Notes</h2><ul class="notes">')
        out.extend(f"<li>{escape(n)}</li>" for n in book.notes)
        out.append("</ul></section>")
    if book.settings:  # last: the plans' answers come first
        out.append('<section id="settings"><h2>Settings</h2><dl class="settings">')
        out.extend(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in book.settings)
        out.append("</dl></section>")
    out += [_FOOTER, "</body></html>"]
    return "\n".join(out) + "\n"
