"""The project's error vocabulary, on the ground floor so every layer can raise it.

Every error glidelab raises on bad input is a :class:`GlidelabError`; the ``glidelab``
command catches that one class and prints its one-line message. Each subclass also
derives from the builtin a caller would expect (``ValueError`` for bad values), so
``except ValueError`` keeps working. ``backtest.errors`` re-exports these and adds the
backtest layer's own subclasses (``DataError``, ``PlanError``, ``StudyError``...).
Messages name the problem, the bad value and the fix.
"""

from __future__ import annotations

__all__ = ["GlidelabError", "StrategyError"]


class GlidelabError(Exception):
    """Base class for glidelab's own errors."""


class StrategyError(GlidelabError, ValueError):
    """A strategy is misconfigured or asked an impossible question (weights, assets, rules)."""
