"""Numbers formatted by their unit, and human labels for assets and presets.

Every report (tear sheet, fund design, adaptive, crypto, workbench) formats a number
from the unit its data model states, never by guessing from a column's name:

=========  ===========================================  ==============
unit       the value is                                 printed as
=========  ===========================================  ==============
count      a number of members, scenarios, periods      ``2,000``
usd        an amount, real or nominal USD                ``38,821 USD``
age        an age in years                               ``65.0``
years      a duration in years                           ``3.4 y``
months     a duration in months                          ``14 mo``
pct        a decimal share or rate (0.879)               ``87.9 %``
pp         a decimal difference of two shares (0.012)    ``+1.2 pp``
bps        a decimal rate shown in basis points (0.0025) ``25 bps``
ratio      a plain ratio (1.3)                           ``1.30``
text       anything else                                 as given
=========  ===========================================  ==============

:func:`human_label` turns registry names into the names a reader knows (``us_stocks``
-> "US stocks", ``vanguard_target_retirement`` -> "Vanguard-style target retirement");
:func:`readable` does it inside a sentence, with other code names in words.
:func:`raw_identifiers` finds what must never reach a reader (snake_case registry
names, ``None``, tuple reprs, library names); the browser tests use it.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Literal, get_args

from backtest.data.embedded import asset_label
from strategies.presets import PRESETS

Unit = Literal["count", "usd", "age", "years", "months", "pct", "pp", "bps", "ratio", "text"]
UNITS: tuple[str, ...] = get_args(Unit)

#: Printed for a missing or non-finite value.
MISSING = "n/a"


def _finite(x: object) -> float | None:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


#: Per unit: default decimals, the factor a decimal value is shown at, the symbol after
#: the number ("" for none) and whether thousands are grouped with commas.
_STYLE: dict[str, tuple[int, float, str, bool]] = {
    "count": (0, 1.0, "", True),
    "usd": (0, 1.0, "USD", True),
    "age": (1, 1.0, "", False),
    "years": (1, 1.0, "y", False),
    "months": (0, 1.0, "mo", False),
    "pct": (1, 100.0, "%", False),
    "pp": (1, 100.0, "pp", False),
    "bps": (0, 1e4, "bps", False),
    "ratio": (2, 1.0, "", False),
}


def format_value(
    x: object, unit: Unit, digits: int | None = None, sign: bool = False, sep: str = " "
) -> str:
    """``x`` printed in ``unit`` (module table); ``digits`` overrides the unit's default
    decimals, ``sign`` forces a leading + on positive values (``pp`` always has one; an
    ``age`` never does), ``sep`` goes between the number and its symbol (``""`` for prose
    such as "4%", ``"&nbsp;"`` in HTML). A missing or non-finite value prints as ``n/a``;
    ``text`` prints ``x`` as given."""
    if unit == "text":
        return MISSING if x is None else str(x)
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; use one of {', '.join(UNITS)}")
    v = _finite(x)
    if v is None:
        return MISSING
    default, scale, symbol, commas = _STYLE[unit]
    plus = "+" if unit == "pp" or (sign and unit != "age") else ""
    number = f"{v * scale:{plus}{',' if commas else ''}.{default if digits is None else digits}f}"
    return f"{number}{sep}{symbol}" if symbol else number


def format_with_se(x: object, se: object, unit: Unit, digits: int | None = None) -> str:
    """``x ± se`` in ``unit`` (``87.9 % ± 0.7``): the standard error in the same unit
    without repeating it; a missing standard error prints the value alone."""
    value = format_value(x, unit, digits)
    s = _finite(se)
    if s is None or value == MISSING:
        return value
    scale = 100.0 if unit in ("pct", "pp") else 1.0
    d = (1 if unit in ("pct", "pp", "age", "years") else 0) if digits is None else digits
    err = abs(s) * scale
    while 0 < err < 0.5 * 10.0**-d and d < 3:  # a non-zero error never prints as 0
        d += 1
    return f"{value} ± {err:,.{d}f}"


@cache
def _preset_labels() -> dict[str, str]:
    out: dict[str, str] = {}
    for key, factory in PRESETS.items():
        try:
            out[key] = str(factory().name)
        except (TypeError, ValueError):  # a preset needing arguments keeps its key
            continue
    return out


def human_label(name: str) -> str:
    """The reader's name for a registry name: an embedded asset (``"us_stocks"`` -> "US
    stocks"), a strategy preset (its display name), else ``name`` unchanged."""
    label = asset_label(name)
    if label != name:
        return label
    return _preset_labels().get(name, name)


#: A snake_case name with two or more parts (``us_stocks``, ``vanguard_target_retirement``;
#: not a file name such as ``us_annual.csv``).
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b(?!\.\w)")
_PAIR = re.compile(r"\((-?\d+(?:\.\d+)?),\s+(-?\d+(?:\.\d+)?)\)")


def readable(text: str) -> str:
    """``text`` with registry names as their human labels (``us_stocks`` -> "US
    stocks"), other snake_case names in words, ``None`` as "none" and a pair ``(a, b)``
    as "a to b"; file names (``name.csv``) stay as they are."""

    def name(m: re.Match[str]) -> str:
        label = human_label(m.group(0))
        return label if label != m.group(0) else m.group(0).replace("_", " ")

    text = _SNAKE.sub(name, text)
    text = re.sub(r"\bNone\b", "none", text)
    return _PAIR.sub(r"\1 to \2", text)


#: Visible text that is an identifier, not a word: a snake_case name (``_SNAKE``),
#: ``None``, a tuple repr of numbers (``(0.4, 0.6)``; not a count in brackets such as
#: ``(1,852)``), or the name of a library or its internals.
_RAW = re.compile(
    _SNAKE.pattern + r"|\bNone\b"
    r"|\(\s*-?\d+(?:\.\d+)?\s*,\s+-?\d+(?:\.\d+)?\s*\)"
    r"|SeedSequence|\barch\.bootstrap|\bnp\.|numpy\.|pandas\."
)


def raw_identifiers(text: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """The raw identifiers in ``text`` (see ``_RAW``), except those in ``allowed`` (file
    names a page links to, for example)."""
    found = [m.group(0) for m in _RAW.finditer(text)]
    return [f for f in found if f not in allowed and not f.endswith((".csv", ".json"))]
