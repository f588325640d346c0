"""The adaptive report's page: its Markdown rendered as headings, lists and tables in the
report style, every figure carried over unchanged."""

from __future__ import annotations

import re

from glidelab.adaptive import adaptive_page_html, markdown_html

MARKDOWN = """# Adaptive glide path (dynamic programming): plan 'maya'

Solved on the empirical joint distribution of 98 years 1928-2025,
drawn i.i.d.; 2.7 s.

## The promise against the engine

- DP value: 5,869 USD a year
- engine simulation: 5,807 USD a year (s.e. 201 USD a year) -> within 2 standard errors

| strategy | success | s.e. | adaptive minus this (paired) |
|---|---:|---:|---:|
| adaptive (DP): CE income | 76.00 % | 2.47 % | +0.00 pp |
| vanguard_target_retirement | 57.67 % | 2.85 % | +18.33 pp |

Unpaid years given failure (`-` where none do) & more <than> that.
"""


def test_markdown_becomes_headings_lists_and_a_report_table() -> None:
    page = markdown_html(MARKDOWN)
    assert "<h2>The promise against the engine</h2>" in page
    assert "# Adaptive" not in page  # the title is the page's header
    assert page.count("<li>") == 2 and page.count("<table") == 1
    assert '<table class="metrics">' in page and "|---" not in page and "---:" not in page
    # a right-aligned Markdown column is a number column; the first one the row labels
    assert '<th class="num" scope="col">success</th>' in page
    assert '<th class="label" scope="row">Vanguard-style target retirement</th>' in page
    # a paragraph's lines join; code and HTML characters are escaped, not interpreted
    assert "1928-2025, drawn i.i.d.; 2.7 s." in page
    assert "<code>-</code>" in page and "&amp; more &lt;than&gt; that" in page


def test_every_figure_of_the_markdown_reaches_the_page_unchanged() -> None:
    page = adaptive_page_html("maya", MARKDOWN, [("policy map: maya, by wealth", b"\x89PNG")])
    numbers = re.findall(r"[-+]?\d[\d,]*\.?\d*", MARKDOWN.split("\n", 1)[1])
    text = re.sub(r"<[^>]+>", " ", page)
    for n in numbers:
        assert n in text, n
    assert "<h1>Adaptive glide path: maya</h1>" in page
    assert page.index("The promise against the engine") < page.index("Policy maps")
    assert 'src="data:image/png;base64,' in page
