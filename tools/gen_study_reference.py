"""Generate the study-file reference (Markdown) from the schema, never by hand.

The key lists come from the schema's own declarations: :data:`glidelab.study.SCHEMA`
(``[[plans]]`` is ``PLAN_KEYS``, ``[compute]`` is ``COMPUTE_KEYS``), the sections named by
``glidelab.studyfile.files.SECTIONS`` and the fund-design tables of ``DESIGN_TABLES``.
Each key's type, default and allowed values are read off the parsers themselves: the
readers are run over the shipped studies (and a few variants that switch on the optional
sub-tables) while every :class:`glidelab.studyfile.tables.Table` getter call is recorded,
with the default and bounds it was given. A key whose default depends on the rest of the
file (``[optimize].plan`` defaults to the first plan) is shown as such.

Used by the documentation build (``docs/hooks/glidelab_docs.py``) and by
``tests/test_docs.py``; ``python tools/gen_study_reference.py`` prints the page.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from glidelab.studyfile.design import DESIGN_TABLES
from glidelab.studyfile.files import SECTIONS, parse_study_file, read_study_toml, shipped_studies
from glidelab.studyfile.tables import Table

__all__ = ["KeyInfo", "collect", "declared_keys", "render", "schema_paths"]

#: Table getters and the type each one reads, as the reference names it.
GETTERS: dict[str, str] = {
    "number": "number",
    "optional_number": "number (optional)",
    "integer": "whole number",
    "optional_integer": "whole number (optional)",
    "boolean": "true / false",
    "string": "string",
    "choice": "string",
    "strings": "list of strings",
    "numbers": "list of numbers",
    "table": "table",
}

#: Shown for a default that changes with the rest of the file.
VARIES = "depends on the file"
#: The table path of a fund-design file's top level (an ordinary study's is "").
DESIGN_TOP = "fund-design file"
#: The type shown for a key its reader checks by hand (no typed getter).
BY_HAND = "see its table's reader"


@dataclass
class KeyInfo:
    """One key of one table: what its reader asked for (all strings, for the page)."""

    table: str  # dotted path: "scenarios", "plans.withdrawal", "" for the top level
    key: str
    kind: str = ""
    defaults: list[Any] = field(default_factory=list)
    allowed: str = ""


def normalise(where: str, top: str = "") -> str:
    """A reader's ``where`` (``"[[plans]] #2.withdrawal"``) as a dotted table path
    (``"plans.withdrawal"``); the file's top level is ``top``."""
    if where == "study file":
        return top
    path = re.sub(r" #\d+", "", where)
    return path.replace("[", "").replace("]", "")


def _allowed(name: str, args: dict[str, Any]) -> str:
    """The bounds or choices a getter was given, in words."""
    choices = args.get("choices") or ()
    if choices:
        return ", ".join(f'"{c}"' for c in choices)
    lo, hi = args.get("lo"), args.get("hi")
    if lo is not None and hi is not None:
        return f"{_fmt(lo)} to {_fmt(hi)}"
    if lo is not None:
        return f">= {_fmt(lo)}"
    if hi is not None:
        return f"<= {_fmt(hi)}"
    return ""


@contextmanager
def recording(
    reads: dict[tuple[str, str], KeyInfo], tables: list[tuple[str, Table]], top: str = ""
) -> Iterator[None]:
    """Record every :class:`Table` getter call (into ``reads``) and every table made
    (into ``tables``, with ``top``, the path of the file's top level) while inside."""
    originals: dict[str, Callable[..., Any]] = {n: getattr(Table, n) for n in GETTERS}
    original_init = Table.__init__

    def init(self: Table, raw: object, where: str) -> None:
        original_init(self, raw, where)
        tables.append((top, self))

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)

        def recorder(self: Table, *args: Any, **kwargs: Any) -> Any:
            bound = sig.bind(self, *args, **kwargs)
            bound.apply_defaults()
            a = dict(bound.arguments)
            path = normalise(self.where, top)
            info = reads.setdefault((path, a["key"]), KeyInfo(path, a["key"]))
            if not info.kind:  # the outermost getter names the type (optional_number)
                info.kind = GETTERS[name]
                info.allowed = _allowed(name, a)
            if "default" in a:
                info.defaults.append(a["default"])
            return fn(self, *args, **kwargs)

        return recorder

    Table.__init__ = init  # type: ignore[method-assign]
    for name, fn in originals.items():
        setattr(Table, name, wrap(name, fn))
    try:
        yield
    finally:
        Table.__init__ = original_init  # type: ignore[method-assign]
        for name, fn in originals.items():
            setattr(Table, name, fn)


def _variants(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Copies of an ordinary study that switch on its optional readers: each withdrawal
    rule, a funded-ratio success and pension target, a crypto proxy, a custom path, an
    empty ``[crypto]`` and a ``[sweep]`` with solve-for and mortality. The values are
    placeholders to steer the readers (a page shows defaults, never these)."""
    out: list[dict[str, Any]] = []
    for rule in ("constant_real", "fixed_percent", "guyton_klinger", "rmd", "none"):
        v = copy.deepcopy(raw)
        plan = {**v["plans"][0], "name": "variant", "salary": 1.0}
        plan["withdrawal"] = {"rule": rule}
        plan["success"] = {"kind": "funded_ratio", "replacement_rate": 0.5}
        plan["pension_target"] = {"accrual_rate": 0.01}
        v["plans"] = [plan]
        v.setdefault("optimize", {})["plan"] = "variant"
        v["optimize"].pop("adaptive_plans", None)
        v.setdefault("scenarios", {})["crypto_proxy"] = {
            "mean_log_annual": 0.1,
            "vol_log_annual": 0.5,
        }
        v["scenarios"]["bootstrap_n"] = 10 + len(out)
        v["strategies"] = {
            "custom": [{"name": "c", "years_to_retirement": [1.0, 0.0], "equity": [0.5, 0.4]}]
        }
        v["crypto"] = {"survival": {"sex": "female", "birth_year": 1960}}
        v["sweep"] = {
            "grid": {"equity_share": [0.5]},
            "solve": {"field": "plan.initial_balance", "lo": 0, "hi": 1},
            "mortality": {"sex": "female", "birth_year": 1960},
        }
        v.pop("compute", None)
        out.append(v)
    return out


def collect() -> dict[tuple[str, str], KeyInfo]:
    """Every key each reader asks for, over the shipped studies and their variants, keyed
    by (table path, key); tables' hand-read keys (``Table.seen``) are included."""
    raws = [read_study_toml(name)[0] for name in shipped_studies()]
    design = [r for r in raws if any(t in r for t in DESIGN_TABLES)]
    ordinary = [r for r in raws if r not in design]
    reads: dict[tuple[str, str], KeyInfo] = {}
    tables: list[tuple[str, Table]] = []
    with recording(reads, tables):
        for raw in [*ordinary, *_variants(ordinary[0])]:
            parse_study_file(raw, "<reference>")
    with recording(reads, tables, DESIGN_TOP):
        for raw in design:
            parse_study_file(raw, "<reference>")
    for top, t in tables:
        path = normalise(t.where, top)
        for key in t.seen:
            reads.setdefault((path, key), KeyInfo(path, key))
    return reads


def schema_paths(schema: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """(table path, key) of every key a declared key schema holds, sub-tables included."""
    out = []
    for key, sub in schema.items():
        out.append((prefix, key))
        if isinstance(sub, dict):
            out.extend(schema_paths(sub, f"{prefix}.{key}" if prefix else key))
    return out


def declared_keys() -> list[tuple[str, str]]:
    """The keys the schema declares: ``SCHEMA`` (with ``PLAN_KEYS`` and ``COMPUTE_KEYS``),
    the sections (``SECTIONS``) and the fund-design tables (``DESIGN_TABLES``)."""
    from glidelab.study import SCHEMA  # lazy: heavy

    keys = schema_paths(SCHEMA)
    keys += [("", s) for s in SECTIONS] + [(DESIGN_TOP, t) for t in DESIGN_TABLES]
    return keys


def _fmt(value: Any) -> str:
    """A value as TOML would write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
        return str(int(value))
    return str(value)


def _default(info: KeyInfo) -> str:
    """The default in words: the value, required, none, or that it depends on the file."""
    if "optional" in info.kind:
        return "none"
    if not info.defaults:
        return ""
    shown = {_fmt(d) for d in info.defaults}
    if len(shown) > 1:
        return VARIES
    (value,) = shown
    if value == "None":
        return "required"
    return f"`{value}`"


#: Tables written as lists of tables (``[[plans]]``).
ARRAYS = ("plans", "strategies.custom")


def _heading(path: str) -> str:
    """The table's TOML header: ``[[plans]]``, ``[plans.withdrawal]``, ``[crypto]``."""
    if path == "":
        return "top level of a study file"
    if path == DESIGN_TOP:
        return "top level of a fund-design file"
    return f"[[{path}]]" if path in ARRAYS else f"[{path}]"


def _groups(reads: dict[tuple[str, str], KeyInfo]) -> dict[str, list[KeyInfo]]:
    """The keys of each table path."""
    out: dict[str, list[KeyInfo]] = {}
    for (path, _), info in reads.items():
        out.setdefault(path, []).append(info)
    return out


def _rows(infos: list[KeyInfo], tables: set[str], path: str) -> list[str]:
    """One table's rows: key, type, default, allowed values (a sub-table links to its own)."""
    lines = ["| key | type | default | allowed |", "| --- | --- | --- | --- |"]
    for info in sorted(infos, key=lambda i: i.key):
        sub = f"{path}.{info.key}" if path not in ("", DESIGN_TOP) else info.key
        kind = "table" if sub in tables else (info.kind or BY_HAND)
        allowed = f"see [`{_heading(sub)}`](#{_anchor(sub)})" if sub in tables else info.allowed
        lines.append(f"| `{info.key}` | {kind} | {_default(info)} | {allowed} |")
    return lines


def _anchor(path: str) -> str:
    """The page anchor of a table's heading (``table-plans-withdrawal``)."""
    return "table-" + (re.sub(r"[^a-z0-9_]+", "-", path) or "top")


#: The order of the tables in the page: the ordinary study's, its sections, fund design.
ORDER = (
    *("", "study", "data", "scenarios", "plans", "strategies"),
    *("optimize", "analysis", "output", "compute"),
    *SECTIONS,
    *(DESIGN_TOP, *DESIGN_TABLES),
)


def render(reads: dict[tuple[str, str], KeyInfo] | None = None) -> str:
    """The reference page (Markdown): one table of keys per study-file table."""
    reads = collect() if reads is None else reads
    for path, key in declared_keys():
        reads.setdefault((path, key), KeyInfo(path, key))
    groups = _groups(reads)
    tables = set(groups) - {"", DESIGN_TOP}
    out = [
        "# Study-file reference",
        "",
        "Generated from the schema in `glidelab/studyfile/` when this site is built "
        "(`tools/gen_study_reference.py`): every key the readers accept, its type, its "
        "default and the values allowed. Unknown keys are errors that name the closest "
        "allowed key. Amounts are real USD of the start date per year; rates, shares and "
        "weights are decimals (0.04 = 4 %). A fund-design file has `[population]`, "
        "`[design]` and `[evaluation]` instead of `[[plans]]` (its own top level is "
        f'below). A key whose type reads "{BY_HAND}" is checked by hand in '
        "`glidelab.studyfile` (see the API reference).",
        "",
    ]
    for path in sorted(groups, key=_order):
        title = _heading(path) if path in ("", DESIGN_TOP) else f"`{_heading(path)}`"
        out += [f"## {title} {{ #{_anchor(path)} }}", ""]
        out += _rows(groups[path], tables, path)
        out.append("")
    return "\n".join(out)


def _order(path: str) -> tuple[int, str]:
    """Sort key of a table path: its top table's place in :data:`ORDER`, then the path."""
    head = path.partition(".")[0]
    return (ORDER.index(head) if head in ORDER else len(ORDER), path)


if __name__ == "__main__":
    print(render())
