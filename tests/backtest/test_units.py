"""Numbers formatted by their unit, human labels, and the raw-identifier finder."""

from __future__ import annotations

import math

import pytest

from backtest.report.units import (
    format_value,
    format_with_se,
    human_label,
    raw_identifiers,
    readable,
)


@pytest.mark.parametrize(
    ("x", "unit", "text"),
    [
        (2000, "count", "2,000"),
        (38821.4, "usd", "38,821 USD"),
        (64.44, "age", "64.4"),
        (3.42, "years", "3.4 y"),
        (14.0, "months", "14 mo"),
        (0.8796, "pct", "88.0 %"),
        (0.012, "pp", "+1.2 pp"),
        (-0.0189, "pp", "-1.9 pp"),
        (0.0025, "bps", "25 bps"),
        (1.3, "ratio", "1.30"),
        ("Fixed 60/40", "text", "Fixed 60/40"),
    ],
)
def test_each_unit_prints_as_a_reader_expects(x: object, unit: str, text: str) -> None:
    assert format_value(x, unit) == text  # type: ignore[arg-type]


def test_a_share_is_never_printed_as_a_count_times_100() -> None:
    # The design report's old bug: "members 44100.0 %". A count stays a count.
    assert format_value(441, "count") == "441"
    assert "%" not in format_value(48612.854, "usd")


def test_missing_values_and_standard_errors() -> None:
    for bad in (None, math.nan, math.inf, "x"):
        assert format_value(bad, "pct") == "n/a"
    assert format_with_se(0.8796, 0.0071, "pct") == "88.0 % ± 0.7"
    assert format_with_se(0.8796, None, "pct") == "88.0 %"
    assert format_with_se(38821.0, 151.2, "usd") == "38,821 USD ± 151"
    # A small but non-zero error gets the decimals it needs (up to 3), never "± 0.0".
    assert format_with_se(8.34, 0.0185, "years") == "8.3 y ± 0.02"
    assert format_with_se(0.5, 0.0, "pct") == "50.0 % ± 0.0"
    with pytest.raises(ValueError, match="unknown unit"):
        format_value(1.0, "percent")  # type: ignore[arg-type]


def test_registry_names_get_the_names_a_reader_knows() -> None:
    assert human_label("us_stocks") == "US stocks"
    assert human_label("fixed_60_40") == "Fixed 60/40"
    assert human_label("vanguard_target_retirement").startswith("Vanguard")
    assert human_label("not_a_registry_name") == "not_a_registry_name"


def test_raw_identifiers_are_found_and_ordinary_text_is_not() -> None:
    text = "equity us_stocks, crypto cap None, band (0.4, 0.6), SeedSequence((1, 17, 2))"
    assert raw_identifiers(text) == ["us_stocks", "None", "(0.4, 0.6)", "SeedSequence"]
    # A file name a page links to, a count in brackets and plain words are fine.
    assert raw_identifiers("see us_annual.csv; success (n 1,852) of US stocks") == []
    assert raw_identifiers("fixed_60_40", allowed=("fixed_60_40",)) == []


def test_the_separator_between_a_number_and_its_symbol_is_a_setting() -> None:
    # Prose writes "4%", tables "4.0 %", the workbench's HTML a non-breaking space.
    assert format_value(0.04, "pct", 0, sep="") == "4%"
    assert format_value(0.5, "pct", 2, sep="&nbsp;") == "50.00&nbsp;%"
    assert format_value(0.5, "pct", 1) == "50.0 %"


def test_readable_writes_code_names_in_words_inside_a_sentence() -> None:
    assert readable("us_stocks and my_thing (0.4, 0.6) None") == (
        "US stocks and my thing 0.4 to 0.6 none"
    )
    assert raw_identifiers(readable("equity us_stocks, cap None, band (0.4, 0.6)")) == []
