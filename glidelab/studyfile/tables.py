"""The typed reader under every study-file schema: tables, key checks, declared defaults.

:class:`Table` reads one TOML table with typed getters (number, integer, string, lists,
sub-tables) and, when :meth:`Table.done` is called, raises for every key nobody asked
for; :func:`check_keys` checks a whole file against a declared key schema before any
value is read; :func:`defaults` reads a dataclass's declared defaults, so each default is
written once, on its dataclass. Every error is a :class:`~backtest.errors.StudyError`
naming the table and key, with the closest allowed name when a key is misspelt.
"""

from __future__ import annotations

import difflib
from dataclasses import MISSING, fields
from typing import Any, TypeVar, cast

from backtest.errors import StudyError

S = TypeVar("S", bound=str)

__all__ = ["Table", "check_keys", "defaults", "not_allowed", "unknown_key"]


def unknown_key(where: str, key: str, allowed: list[str]) -> StudyError:
    """The error for a key nobody reads, with the closest allowed name (difflib)."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return StudyError(
        f"{where}: unknown key {key!r}{hint} (allowed keys: {', '.join(sorted(allowed))})"
    )


def not_allowed(where: str, key: str, value: object, allowed: str) -> StudyError:
    """The error for a value out of its range: ``where.key = value``, then what is allowed."""
    return StudyError(f"{where}.{key} = {value!r} is not allowed; expected {allowed}")


def check_keys(raw: object, schema: dict[str, Any], where: str = "study file") -> None:
    """Raise a :class:`StudyError` for the first key of ``raw`` that ``schema`` lacks.

    ``schema`` maps each allowed key to ``None`` (a value) or the schema of its sub-table
    (a list of tables, like ``[[plans]]``, uses the schema of one table). Runs before any
    value is read, so ``salery = 50000`` is reported as the unknown key it is (with
    ``'salary'`` suggested), not as the missing salary it fails to set.
    """
    if not isinstance(raw, dict):
        return  # a table of the wrong type is reported by the reader, with its field
    for key, value in raw.items():
        if key not in schema:
            raise unknown_key(where, str(key), list(schema))
        sub = schema[key]
        if sub is None:
            continue
        inner = f"[{key}]" if where == "study file" else f"{where}.{key}"
        if isinstance(value, list):
            label = f"[[{key}]]" if where == "study file" else f"{where}.{key}"
            for i, item in enumerate(value):
                check_keys(item, sub, f"{label} #{i + 1}")
        else:
            check_keys(value, sub, inner)


def defaults(cls: type) -> dict[str, Any]:
    """The declared default of every field of dataclass ``cls`` that has one.

    The parsers read their defaults here, so a default is written once, on the dataclass
    (``default_factory`` fields are built fresh).
    """
    out: dict[str, Any] = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


class Table:
    """A TOML table being read: typed getters, and an error for keys nobody asked for.

    ``where`` names the table in errors (``"[scenarios]"``, ``"[[plans]] #2"``; the file's
    top level is ``"study file"``). Every getter marks its key as read; :meth:`done`
    raises for the keys left unread, here and in every sub-table read.
    """

    def __init__(self, raw: object, where: str) -> None:
        if not isinstance(raw, dict):
            raise StudyError(f"{where} must be a table, got {type(raw).__name__}")
        self.raw: dict[str, Any] = raw
        self.where = where
        self.seen: set[str] = set()
        self.children: dict[str, Table] = {}

    def _get(self, key: str, default: Any) -> Any:
        self.seen.add(key)
        return self.raw.get(key, default)

    def _fail(self, key: str, value: Any, allowed: str) -> StudyError:
        return not_allowed(self.where, key, value, allowed)

    def number(
        self, key: str, default: float | None, lo: float | None = None, hi: float | None = None
    ) -> float:
        """A number in ``[lo, hi]`` (``default`` None: required)."""
        value = self._get(key, default)
        if value is None:
            raise StudyError(f"{self.where}.{key} is required (a number)")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, value, "a number")
        if (lo is not None and not value >= lo) or (hi is not None and not value <= hi):
            raise self._fail(key, value, f"a number in [{lo}, {hi}]")  # NaN fails too
        return float(value)

    def optional_number(self, key: str, lo: float | None = None) -> float | None:
        """A number ``>= lo``, or None when the key is absent."""
        if self.raw.get(key) is None:
            self.seen.add(key)
            return None
        return self.number(key, None, lo=lo)

    def integer(
        self, key: str, default: int | None, lo: int | None = None, hi: int | None = None
    ) -> int:
        """A whole number ``>= lo`` (and ``<= hi`` when given)."""
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, value, "a whole number")
        if hi is not None and ((lo is not None and value < lo) or value > hi):
            raise self._fail(key, value, f"a whole number in [{lo}, {hi}]")
        if lo is not None and value < lo:
            raise self._fail(key, value, f"a whole number >= {lo}")
        return int(value)

    def optional_integer(self, key: str) -> int | None:
        """A whole number, or None when the key is absent."""
        if self.raw.get(key) is None:
            self.seen.add(key)
            return None
        return self.integer(key, None)

    def boolean(self, key: str, default: bool) -> bool:
        """``true`` or ``false``."""
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, value, "true or false")
        return value

    def string(self, key: str, default: str | None, choices: tuple[str, ...] = ()) -> str:
        """A string, one of ``choices`` when given (``default`` None: required)."""
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self._fail(key, value, "a string" + (f" in {list(choices)}" if choices else ""))
        if choices and value not in choices:
            raise self._fail(key, value, f"one of {list(choices)}")
        return value

    def choice(self, key: str, default: S | None, choices: tuple[S, ...]) -> S:
        """One of ``choices`` (``default`` None: required), typed as the ``Literal`` the
        caller expects (a field or argument type), against which the choices are checked."""
        return cast(S, self.string(key, default, choices))  # string() checked the choice

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """A list of strings."""
        value = self._get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, value, "a list of strings")
        return tuple(value)

    def numbers(
        self, key: str, default: tuple[float, ...], lo: float, hi: float
    ) -> tuple[float, ...]:
        """A list of numbers, each in ``[lo, hi]``."""
        value = self._get(key, list(default))
        if not isinstance(value, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and lo <= v <= hi for v in value
        ):
            raise self._fail(key, value, f"a list of numbers in [{lo}, {hi}]")
        return tuple(float(v) for v in value)

    def table(self, key: str) -> Table:
        """The sub-table ``key`` (empty when absent), read once and checked by :meth:`done`."""
        if key not in self.children:
            where = f"[{key}]" if self.where == "study file" else f"{self.where}.{key}"
            self.children[key] = Table(self._get(key, {}), where)
        return self.children[key]

    def done(self) -> None:
        """Raise for keys nobody read, here and in every sub-table read."""
        for child in self.children.values():
            child.done()
        unknown = sorted(set(self.raw) - self.seen)
        if unknown:
            raise unknown_key(self.where, unknown[0], sorted(self.seen))
