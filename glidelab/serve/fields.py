"""The page's number fields: what each one is called, in which unit it is typed, and
which values it accepts.

People think of fees, contribution and spending rates, the employer match, bands and
Bitcoin's assumptions in percent, so those fields are typed in percent (``0.2`` in the
fees field is 0.2 % a year) and held as decimals in the view and the study file
(0.002). Each field has an allowed range (outside it the page applies nothing and says
so with the field's own label: "Expense ratio must be between 0 % and 5 %") and, for
the percent fields, a usual range: a value outside it is applied but flagged, with the
percent reading of a number that looks like a decimal typed into a percent field
("0.1 %: did you mean 10 %?").

:func:`friendly` rewrites the study schema's messages (file syntax, decimals) into the
fields' labels, for the checks only the schema makes (the ages' order, for example).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from backtest.crypto.assumptions import log_parameters
from backtest.report.units import format_value

Unit = Literal["pct", "usd", "age", "count", "months"]


@dataclass(frozen=True)
class Field:
    """One number field of the page.

    Attributes
    ----------
    key
        The study-file key it sets (``expense_ratio``) or the page's own name.
    label
        What the page calls it ("Expense ratio"); every message uses it.
    unit
        ``"pct"``: typed in percent, held as a decimal; ``"usd"`` (real USD of the start
        date), ``"age"`` (years), ``"count"`` or ``"months"``: typed as held.
    lo, hi
        Allowed range of the held value (decimals for ``"pct"``); ``None``: unbounded.
    usual
        Range of the held value a member or a designer would usually type; a value
        outside it is applied with a warning. ``None``: no warning.
    optional
        Whether an empty field is allowed (the schema's default then applies).
    whole
        Whether the value must be a whole number.
    """

    key: str
    label: str
    unit: Unit
    lo: float | None = None
    hi: float | None = None
    usual: tuple[float, float] | None = None
    optional: bool = False
    whole: bool = False

    @property
    def caption(self) -> str:
        """The widget's caption: the label and the unit it is typed in."""
        suffix = {"pct": " (%)", "usd": " (USD)", "age": "", "count": "", "months": " (months)"}
        return self.label + suffix[self.unit]

    def shown(self, held: float | None) -> float | None:
        """The held value as the field shows it (percent for ``"pct"``)."""
        if held is None or self.unit != "pct":
            return held
        return round(100.0 * float(held), 10)  # 0.002 -> 0.2, not 0.20000000000000004

    def held(self, shown: float | None) -> float | int | None:
        """The typed value as the view holds it (a decimal for ``"pct"``; whole numbers
        as int so the saved study reads naturally)."""
        if shown is None:
            return None
        x = float(shown) / 100.0 if self.unit == "pct" else float(shown)
        x = round(x, 12)  # 0.2 / 100 -> 0.002 exactly as typed
        return int(x) if x.is_integer() and self.unit != "pct" else x

    def fmt(self, held: float) -> str:
        """A held value printed in the field's unit."""
        if self.unit == "pct":
            return f"{100.0 * held:g} %"
        if self.unit in ("usd", "count"):
            return format_value(held, self.unit)
        return f"{held:g}"

    def error(self, held: float | None) -> str:
        """Why the held value cannot be applied, in the field's words ("" when it can)."""
        if held is None or (isinstance(held, float) and not math.isfinite(held)):
            return "" if self.optional else f"{self.label} is empty: type a number"
        if self.whole and not float(held).is_integer():
            return f"{self.label} must be a whole number"
        lo, hi = self.lo, self.hi
        if (lo is not None and held < lo) or (hi is not None and held > hi):
            if lo is not None and hi is not None:
                return f"{self.label} must be between {self.fmt(lo)} and {self.fmt(hi)}"
            if lo is not None:
                return f"{self.label} must be at least {self.fmt(lo)}"
            return f"{self.label} must be at most {self.fmt(hi)}"  # type: ignore[arg-type]
        return ""

    def warning(self, held: float | None) -> str:
        """A note on an allowed but unusual value ("" when usual)."""
        if held is None or self.usual is None or held == 0:
            return ""
        lo, hi = self.usual
        if lo <= held <= hi:
            return ""
        note = (
            f"{self.label} {self.fmt(held)} is unusual (usually {self.fmt(lo)} to {self.fmt(hi)})"
        )
        if self.unit == "pct" and 0 < 100 * held <= 1 and lo <= held * 100 <= hi:
            note += f": this field is in percent; did you mean {self.fmt(100 * held)}?"
        return note


def _pct(key: str, label: str, lo: float, hi: float, usual: tuple[float, float]) -> Field:
    return Field(key, label, "pct", lo, hi, usual)


#: The member's number fields, in page order (key in ``[[plans]]``).
MEMBER: tuple[Field, ...] = (
    Field("start_age", "Start age", "age", 0, 125, whole=False),
    Field("retirement_age", "Retirement age", "age", 0, 125),
    Field("end_age", "End age", "age", 0, 125),
    Field("initial_balance", "Balance today", "usd", 0),
    Field("salary", "Salary a year", "usd", 0),
    _pct("salary_growth_real", "Salary growth, real, a year", -0.5, 0.5, (-0.02, 0.05)),
    _pct("contribution_rate", "Contribution rate, of salary", 0, 1, (0.01, 0.3)),
    _pct("match_rate", "Employer match, per dollar saved", 0, 10, (0.1, 2.0)),
    _pct("match_cap", "Match cap, of salary", 0, 1, (0.01, 0.15)),
    Field("annual_limit", "Contribution limit a year", "usd", 0, optional=True),
    Field("catch_up", "Catch-up from 50 a year", "usd", 0),
    # The schema allows up to 20 %; no fund a member holds charges more than 5 % a year.
    _pct("expense_ratio", "Expense ratio", 0, 0.05, (0.0, 0.015)),
)

#: Every other number field, by the page's name for it.
OTHER: dict[str, Field] = {
    f.key: f
    for f in (
        Field("amount", "Spending a year", "usd", 0),
        _pct("rate", "Spending rate, of the balance", 0, 1, (0.02, 0.1)),
        _pct("replacement_rate", "Target pension, of final salary", 0, 3, (0.2, 1.5)),
        _pct("rebalance_band", "Rebalancing band", 0, 1, (0.01, 0.25)),
        Field("rebalance_every_months", "Rebalance every", "months", 1, 600, whole=True),
        Field("bootstrap_n", "Scenarios", "count", 1, 1_000_000, whole=True),
        Field("seed", "Seed", "count", 0, whole=True),
        # Arithmetic annual terms (issue 26): the expected simple return and its volatility.
        _pct("btc_mean", "Bitcoin expected return, arithmetic, a year", -0.9, 5, (-0.5, 1.0)),
        _pct("btc_vol", "Bitcoin volatility of the annual return", 0, 5, (0.1, 1.5)),
    )
}

FIELDS: dict[str, Field] = {**{f.key: f for f in MEMBER}, **OTHER}


def label_of(key: str) -> str:
    """The label of a field or study key (the key itself when the page has no field)."""
    f = FIELDS.get(key) or FIELDS.get(_SCHEMA_KEYS.get(key, ""))
    return f.label if f is not None else key.replace("_", " ")


#: Study keys the page shows under another field's name.
_SCHEMA_KEYS = {
    "parametric_n": "bootstrap_n",
    "mean_log_annual": "btc_mean",
    "vol_log_annual": "btc_vol",
    "contribution_rate": "contribution_rate",
}


def schema_field(key: str) -> str:
    """The page field a study key belongs to."""
    return _SCHEMA_KEYS.get(key, key)


def friendly(message: str) -> str:
    """A schema message in the page's words: the table path dropped, each known key
    replaced by its field's label (``[[plans]] #1.end_age`` -> "End age")."""
    text = re.sub(r"\[\[?[a-z_]+\]\]?(?:\s*#\d+)?\.(?:[a-z_]+(?:\s*#\d+)?\.)*", "", message)

    def name(m: re.Match[str]) -> str:
        key = m.group(0)
        return label_of(key) if key in FIELDS or key in _SCHEMA_KEYS else key

    text = re.sub(r"\b[a-z]+(?:_[a-z]+)+\b", name, text)
    return text[:1].upper() + text[1:]


def log_from_arithmetic(mean: float, vol: float) -> tuple[float, float]:
    """(log mean, log volatility) a year of a lognormal annual return whose simple return
    has expected value ``mean`` and standard deviation ``vol`` (decimals a year):
    ``s**2 = log(1 + vol**2 / (1 + mean)**2)``, ``mu = log(1 + mean) - s**2 / 2``
    (:func:`backtest.crypto.assumptions.log_parameters`; raises its ``DataError``)."""
    return log_parameters(mean, vol)  # the crypto research's one conversion


def arithmetic_from_log(mean_log: float, vol_log: float) -> tuple[float, float]:
    """(expected simple return, its standard deviation) a year of a lognormal return with
    log mean ``mean_log`` and log volatility ``vol_log`` (decimals a year)."""
    m = math.expm1(mean_log + 0.5 * vol_log**2)
    return m, (1.0 + m) * math.sqrt(math.expm1(vol_log**2))
