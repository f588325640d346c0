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
-> "US stocks", ``vanguard_target_retirement`` -> "Vanguard-style target retirement").
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


def format_value(x: object, unit: Unit, digits: int | None = None, sign: bool = False) -> str:
    """``x`` printed in ``unit`` (module table); ``digits`` overrides the unit's default
    decimals, ``sign`` forces a leading + on positive values. A missing or non-finite
    value prints as ``n/a``; ``text`` prints ``x`` as given."""
    if unit == "text":
        return MISSING if x is None else str(x)
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; use one of {', '.join(UNITS)}")
    v = _finite(x)
    if v is None:
        return MISSING
    plus = "+" if sign else ""
    if unit == "count":
        return f"{v:{plus},.{digits or 0}f}"
    if unit == "usd":
        return f"{v:{plus},.{digits or 0}f} USD"
    if unit == "age":
        return f"{v:.{1 if digits is None else digits}f}"
    if unit == "years":
        return f"{v:{plus}.{1 if digits is None else digits}f} y"
    if unit == "months":
        return f"{v:{plus}.{digits or 0}f} mo"
    if unit == "pct":
        return f"{v * 100:{plus}.{1 if digits is None else digits}f} %"
    if unit == "pp":
        return f"{v * 100:+.{1 if digits is None else digits}f} pp"
    if unit == "bps":
        return f"{v * 1e4:{plus}.{digits or 0}f} bps"
    return f"{v:{plus}.{2 if digits is None else digits}f}"


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


#: Visible text that is an identifier, not a word: snake_case names with two or more
#: parts (``us_stocks``, ``vanguard_target_retirement``; not a file name such as
#: ``us_annual.csv``), ``None``, a tuple repr of numbers (``(0.4, 0.6)``; not a count
#: in brackets such as ``(1,852)``), or the name of a library or its internals.
_RAW = re.compile(
    r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+){1,}\b(?!\.\w)"
    r"|\bNone\b"
    r"|\(\s*-?\d+(?:\.\d+)?\s*,\s+-?\d+(?:\.\d+)?\s*\)"
    r"|SeedSequence|\barch\.bootstrap|\bnp\.|numpy\.|pandas\."
)


def raw_identifiers(text: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """The raw identifiers in ``text`` (see ``_RAW``), except those in ``allowed`` (file
    names a page links to, for example)."""
    found = [m.group(0) for m in _RAW.finditer(text)]
    return [f for f in found if f not in allowed and not f.endswith((".csv", ".json"))]
