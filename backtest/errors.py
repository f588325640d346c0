"""Domain errors: builtins underneath, messages that name the problem and the fix.

:class:`GlidelabError` and :class:`StrategyError` are defined once, on the ground floor
(:mod:`strategies.errors`), and re-exported here; this module adds the backtest layer's
own subclasses. The ``glidelab`` command catches :class:`GlidelabError` only.
"""

from __future__ import annotations

from strategies.errors import GlidelabError, StrategyError

__all__ = [
    "CoverageError",
    "DataError",
    "GlidelabError",
    "OfflineError",
    "PlanError",
    "StrategyError",
    "StudyError",
]


class DataError(GlidelabError, ValueError):
    """Input data is unusable: wrong shape, gaps, NaNs, bad dates, unknown series."""


class CoverageError(DataError):
    """A requested period lies outside what a series covers."""


class OfflineError(GlidelabError, ConnectionError):
    """A live download was needed but the network could not be reached."""


class PlanError(GlidelabError, ValueError):
    """A member's plan is inconsistent (ages, rates, amounts)."""


class StudyError(GlidelabError, ValueError):
    """A study file is invalid; the message names the field and the allowed values."""
