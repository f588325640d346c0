"""Named constructors for the rebalancing rules a strategy can carry.

Thin, readable wrappers around :class:`strategies.base.RebalanceRule`::

    buy_and_hold()              # never trade back; new money still buys the target mix
    calendar("quarterly")       # every 3 months (every period in an annual simulation)
    band(0.05)                  # when any weight is more than 5 percentage points off
    band(0.20, "relative")      # when any weight is more than 20 % of its target off

A sleeve's own band (e.g. Bitcoin trimmed at 1.5x and topped up at 0.5x its target) is a
:class:`strategies.base.SleeveBand`, set by :class:`strategies.crypto.CryptoSleeve`.
"""

from __future__ import annotations

from typing import Literal

from strategies.base import RebalanceRule, check_numbers
from strategies.errors import StrategyError

CalendarName = Literal["monthly", "quarterly", "semiannual", "annual"]

#: Months between calendar rebalances, by name.
CALENDAR_MONTHS: dict[str, int] = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}


def buy_and_hold() -> RebalanceRule:
    """Never rebalance: holdings drift; contributions buy the target mix."""
    return RebalanceRule(kind="none")


def calendar(every: CalendarName | int = "annual") -> RebalanceRule:
    """Rebalance to target on a fixed calendar.

    Parameters
    ----------
    every
        ``"monthly"``, ``"quarterly"``, ``"semiannual"``, ``"annual"``, or a number of
        months. In an annual simulation anything shorter than a year means every period.
    """
    if isinstance(every, str):
        if every not in CALENDAR_MONTHS:
            raise StrategyError(
                f"calendar(every={every!r}) is not a known interval; use one of "
                f"{sorted(CALENDAR_MONTHS)} or a number of months"
            )
        months = CALENDAR_MONTHS[every]
    else:
        check_numbers("calendar()", every=every)
        months = int(every)
    return RebalanceRule(kind="calendar", every_months=months)


def band(width: float = 0.05, kind: Literal["absolute", "relative"] = "absolute") -> RebalanceRule:
    """Rebalance whenever any weight leaves a tolerance band around its target.

    Parameters
    ----------
    width
        Decimal band: 0.05 means 5 percentage points (``"absolute"``) or 5 % of the
        target weight (``"relative"``). Checked at the start of every period.
    kind
        ``"absolute"`` (``|w - target| > width``) or ``"relative"``
        (``|w / target - 1| > width``).
    """
    check_numbers("band()", width=width)
    return RebalanceRule(kind="band", band=float(width), band_kind=kind)


def describe(rule: RebalanceRule) -> str:
    """A short human-readable label, e.g. ``"annual"``, ``"band 5pp"``, ``"buy and hold"``."""
    if rule.kind == "none":
        return "buy and hold"
    if rule.kind == "calendar":
        names = {v: k for k, v in CALENDAR_MONTHS.items()}
        return names.get(rule.every_months, f"every {rule.every_months} months")
    if rule.band_kind == "absolute":
        return f"band {rule.band * 100:g}pp"
    return f"band {rule.band * 100:g}% relative"
