"""Domain errors: builtins underneath, messages that name the problem and the fix."""

from __future__ import annotations


class GlidelabError(Exception):
    """Base class for glidelab's own errors."""


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
