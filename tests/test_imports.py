"""Import hygiene: no import circle, imports flow one way, every lazy import says why.

Every module of ``strategies``, ``backtest``, ``optimize`` and ``glidelab`` is parsed with
:mod:`ast` (never imported) into a list of imports, each resolved to the module it loads.

* Import circles: the module-level graph (imports that run when a module is imported;
  ``if TYPE_CHECKING:`` blocks skipped) has no cycle, and neither has the whole graph with
  the imports inside functions added: a lazy import that only dodges a circle hides it, it
  does not break it.
* Layers: ``strategies`` <- ``backtest`` <- ``optimize`` <- ``glidelab``, lazy imports
  included, and only ``glidelab/commands/`` (and ``glidelab.cli``, which discovers the
  subcommands) imports ``glidelab.commands``.
* Lazy imports: an ``import`` inside a function carries ``# lazy: <reason>`` on one of its
  lines, and the reason is checked against the code:

  - ``# lazy: optional extra ...``: the module belongs to an optional extra of
    ``pyproject.toml`` (dask, panel, tomli_w, playwright, ...), absent from a plain install;
  - ``# lazy: heavy ...``: importing it here would load a heavy package (:data:`HEAVY`:
    pandas, matplotlib, cvxpy, scipy, numba, the engines that pull them, ...) that this
    module's own module-level imports do not load (for a command module: that the command
    line's start-up, ``glidelab.cli``, does not load), e.g. to keep ``glidelab --help`` fast.

  The marker may sit on any line of a statement that a formatter wraps. A standard-library
  import is never heavy: it belongs at the top of the module.

* Lazy exports: a package that imports its public names on first use (PEP 562: a
  module-level ``_EXPORTS = {"name": "package.submodule", ...}`` read by ``__getattr__``,
  as ``strategies`` and ``glidelab`` do) loads nothing at import; ``from package import
  name`` loads ``_EXPORTS[name]``, and the checker resolves it so.
"""

from __future__ import annotations

import ast
import itertools
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The project's packages, lowest layer first: each may import only itself and those before it.
LAYERS = ("strategies", "backtest", "optimize", "glidelab")
#: Third-party packages that cost a noticeable part of a second to import: loading one that a
#: module does not already load at import time justifies a ``# lazy: heavy`` import.
HEAVY = frozenset(
    {"arch", "cvxpy", "matplotlib", "numba", "pandas", "pyarrow", "scipy", "yfinance"}
)
#: The subcommands' package, and the one module outside it that may import it (to discover
#: the subcommands): every command module is imported after it, on the start-up path.
COMMANDS = "glidelab.commands"
COMMANDS_DISCOVERY = "glidelab.cli"
MARKER = re.compile(r"#\s*lazy:\s*(.*?)\s*$")
KINDS = ("optional extra", "heavy")


@dataclass(frozen=True)
class Import:
    """One imported module of one ``import`` statement, resolved to its dotted name."""

    importer: str  #: dotted name of the module holding the statement
    target: str  #: dotted name of the module it loads (a project module, or as written)
    line: int  #: first line of the statement (1-based)
    in_function: bool  #: inside a function body (runs on call, not on import)
    marker: str | None  #: the text after ``# lazy:`` on any line of the statement

    @property
    def where(self) -> str:
        return f"{self.importer}:{self.line} imports {self.target}"


def module_name(path: Path, root: Path = ROOT) -> str:
    """Dotted module name of a ``.py`` file under ``root`` (a package is its ``__init__``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names, relative levels resolved."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(
    node: ast.stmt,
    importer: str,
    is_package: bool,
    modules: frozenset[str],
    exports: Mapping[str, Mapping[str, str]],
) -> list[str]:
    """The modules an import statement loads: ``from pkg import sub`` loads ``pkg.sub``
    when that is a module of the project, ``from pkg import name`` the module that
    ``pkg``'s lazy ``_EXPORTS`` names for it, else ``pkg`` itself."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    assert isinstance(node, ast.ImportFrom)
    base = _resolve(importer, is_package, node)
    out = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        out.append(sub if sub in modules else exports.get(base, {}).get(alias.name, base))
    return list(dict.fromkeys(out))


def lazy_exports(source: str) -> dict[str, str]:
    """A package's PEP 562 exports: its module-level ``_EXPORTS`` dict literal of
    ``name -> module`` strings (empty when it has none)."""
    for node in ast.parse(source).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id == "_EXPORTS" and isinstance(value, ast.Dict):
            return {
                str(k.value): str(v.value)
                for k, v in zip(value.keys, value.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
            }
    return {}


def imports_of(
    source: str,
    importer: str,
    modules: Iterable[str] = (),
    *,
    is_package: bool = False,
    exports: Mapping[str, Mapping[str, str]] | None = None,
) -> list[Import]:
    """Every import of one module's source, ``if TYPE_CHECKING:`` blocks left out.

    ``modules`` is the set of the project's dotted module names, used to tell
    ``from pkg import submodule`` from ``from pkg import name``; ``exports`` maps a
    package with lazy exports to them (:func:`lazy_exports`).
    """
    known = frozenset(modules)
    lines = source.splitlines()
    out: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child, in_function)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            span = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
            found = [m.group(1) for m in map(MARKER.search, span) if m]
            for target in _targets(node, importer, is_package, known, exports or {}):
                out.append(Import(importer, target, node.lineno, in_function, (found or [None])[0]))
            return
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(source), False)
    return out


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One import circle of ``graph`` (module -> modules it imports) as ``[a, b, ..., a]``,
    or ``None`` when the graph has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt, path)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [])):
            return cycle
    return None


def _graph(
    imports: Iterable[Import], modules: frozenset[str], *, external: bool = False
) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        if (external or imp.target in modules) and imp.target != imp.importer:
            graph[imp.importer].add(imp.target)
    return graph


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def loads(module: str, graph: Mapping[str, Iterable[str]], modules: frozenset[str]) -> set[str]:
    """Top-level third-party and project packages loaded by importing ``module``: its
    module-level imports, theirs, and so on, with the parent packages each one runs."""
    seen, todo, top = set(), [module], set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        top.add(node.split(".")[0])
        if node in modules:
            todo.extend(graph.get(node, ()))
            todo.extend(p for p in _parents(node) if p in modules)
    return top


def optional_extras(pyproject: Path = ROOT / "pyproject.toml") -> frozenset[str]:
    """Import names of the packages only an optional extra of ``pyproject.toml`` installs."""
    project = tomllib.loads(pyproject.read_text("utf-8"))["project"]

    def names(reqs: Iterable[str]) -> set[str]:
        out = set()
        for req in reqs:
            m = re.match(r"([A-Za-z0-9_.-]+)(?:\[([^\]]*)\])?", req)
            assert m, req
            out.add(m.group(1).lower().replace("-", "_"))
            out.update(e.strip().lower().replace("-", "_") for e in (m.group(2) or "").split(","))
        return out - {""}

    extras = set().union(*(names(r) for r in project["optional-dependencies"].values()))
    return frozenset(extras - names(project["dependencies"]))


def marker_problem(
    imp: Import,
    module_graph: Mapping[str, Iterable[str]],
    modules: frozenset[str],
    extras: frozenset[str],
) -> str | None:
    """Why an in-function import is not a deliberate, marked lazy import (None: it is)."""
    top = imp.target.split(".")[0]
    fix = "move it to the top of the module"
    if top in sys.stdlib_module_names:
        return f"{imp.where}: a standard-library import inside a function: {fix}"
    if imp.marker is None:
        return (
            f"{imp.where} inside a function with no '# lazy: <reason>' marker: {fix}, or "
            f"mark it '# lazy: optional extra ...' / '# lazy: heavy ...'"
        )
    kind = next((k for k in KINDS if imp.marker.startswith(k)), None)
    if kind is None:
        return f"{imp.where}: marker '# lazy: {imp.marker}' names none of {KINDS}"
    before = loads(imp.importer, module_graph, modules)
    if imp.importer.startswith(f"{COMMANDS}."):  # only ever imported by the command line
        before |= loads(COMMANDS_DISCOVERY, module_graph, modules)
    new = loads(imp.target, module_graph, modules) - before
    wanted = extras if kind == "optional extra" else HEAVY
    if not new & wanted:
        return (
            f"{imp.where}: marked '{kind}' but loads none of {sorted(wanted)} that is "
            f"not loaded already (by {imp.importer}'s own imports, or for a command module "
            f"by {COMMANDS_DISCOVERY}): {fix}"
        )
    return None


@dataclass(frozen=True)
class Project:
    """The parsed imports of a tree of packages."""

    modules: frozenset[str]
    imports: tuple[Import, ...]

    @classmethod
    def parse(cls, sources: Mapping[str, tuple[str, bool]]) -> Project:
        """From ``{module: (source, is_package)}``."""
        modules = frozenset(sources)
        exports = {
            name: found
            for name, (src, is_package) in sources.items()
            if is_package and (found := lazy_exports(src))
        }
        imports = tuple(
            imp
            for name, (src, is_package) in sorted(sources.items())
            for imp in imports_of(src, name, modules, is_package=is_package, exports=exports)
        )
        return cls(modules, imports)

    @classmethod
    def read(cls, root: Path = ROOT, packages: Iterable[str] = LAYERS) -> Project:
        return cls.parse(
            {
                module_name(p, root): (p.read_text("utf-8"), p.name == "__init__.py")
                for package in packages
                for p in sorted((root / package).rglob("*.py"))
            }
        )

    def graph(self, *, lazy: bool, external: bool = False) -> dict[str, set[str]]:
        """Module -> project modules it imports (in-function imports too when ``lazy``;
        third-party and standard-library modules too when ``external``)."""
        chosen = (i for i in self.imports if lazy or not i.in_function)
        return _graph(chosen, self.modules, external=external)

    def marker_problems(self, extras: frozenset[str]) -> dict[Import, str]:
        """Each in-function import that is not a deliberate, marked lazy import: why."""
        module_graph = self.graph(lazy=False, external=True)
        problems = {
            i: marker_problem(i, module_graph, self.modules, extras)
            for i in self.imports
            if i.in_function
        }
        return {i: why for i, why in problems.items() if why}


def circle_text(cycle: list[str], module_graph: Mapping[str, Iterable[str]]) -> str:
    """``a -> b -> a``, each step that only an import inside a function takes marked so."""
    steps = [cycle[0]]
    for a, b in itertools.pairwise(cycle):
        steps.append(b if b in module_graph.get(a, ()) else f"{b} (in a function of {a})")
    return " -> ".join(steps)


@pytest.fixture(scope="module")
def project() -> Project:
    return Project.read()


def test_no_import_circle_lazy_imports_included(project: Project) -> None:
    """A circle at module level breaks an import; one closed by an import inside a
    function only waits for the call: both are circles."""
    cycle = find_cycle(project.graph(lazy=True))
    assert cycle is None, "import circle: " + circle_text(cycle, project.graph(lazy=False))


def test_imports_flow_one_way(project: Project) -> None:
    bad = [
        f"{i.where}: {i.importer.split('.')[0]} may import only {LAYERS[: LAYERS.index(p) + 1]}"
        for i in project.imports
        if (p := i.importer.split(".")[0]) in LAYERS
        and i.target.split(".")[0] in LAYERS
        and LAYERS.index(i.target.split(".")[0]) > LAYERS.index(p)
    ]
    assert not bad, "imports that run back up the stack:\n" + "\n".join(bad)


def test_only_the_command_line_imports_commands(project: Project) -> None:
    bad = [
        f"{i.where}: only glidelab/commands/ and {COMMANDS_DISCOVERY} may; move what it "
        "needs out of commands/"
        for i in project.imports
        if (i.target == COMMANDS or i.target.startswith(f"{COMMANDS}."))
        and not (i.importer == COMMANDS or i.importer.startswith(f"{COMMANDS}."))
        and i.importer != COMMANDS_DISCOVERY
    ]
    assert not bad, "\n".join(bad)


def test_every_import_inside_a_function_is_a_marked_lazy_import(project: Project) -> None:
    problems = project.marker_problems(optional_extras())
    assert not problems, "\n".join(problems.values())


# The checker checks: synthetic sources it must flag.

_SYNTHETIC = {
    "pkg": ("", True),
    "pkg.light": ("import json\n", False),
    "pkg.engine": ("import numpy as np\nimport pandas as pd\n", False),
    "pkg.a": ("from pkg import b\n", False),
    "pkg.b": ("from . import c\n", False),
    "pkg.c": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import X\n"
        "def f():\n    from pkg.a import Y  # lazy: circle\n",
        False,
    ),
    "pkg.cmd": (
        "import json\n"
        "def run():\n"
        "    from pkg.engine import go  # lazy: heavy, pandas off the start-up path\n"
        "    from pkg.light import x  # lazy: heavy, but it is not\n"
        "    import csv  # lazy: heavy\n"
        "    import panel  # lazy: optional extra serve\n"
        "    import numpy  # lazy: optional extra, but it is not\n"
        "    import cvxpy as cp\n"
        "    from pkg import (  # lazy: heavy, the marker on any line of the statement\n"
        "        engine,\n"
        "    )\n",
        False,
    ),
}


def test_checker_resolves_imports_and_skips_type_checking() -> None:
    p = Project.parse(_SYNTHETIC)
    graph = p.graph(lazy=False)
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.c"}
    assert graph["pkg.c"] == set(), "an 'if TYPE_CHECKING:' import runs at no time"
    assert p.graph(lazy=True)["pkg.c"] == {"pkg.a"}
    graph = p.graph(lazy=False, external=True)
    assert loads("pkg.cmd", graph, p.modules) == {"pkg", "json"}
    assert loads("pkg.engine", graph, p.modules) == {"pkg", "numpy", "pandas"}


def test_checker_finds_a_circle_and_names_it() -> None:
    p = Project.parse(_SYNTHETIC)
    assert find_cycle(p.graph(lazy=False)) is None
    cycle = find_cycle(p.graph(lazy=True))
    assert cycle == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    assert circle_text(cycle, p.graph(lazy=False)) == (
        "pkg.a -> pkg.b -> pkg.c -> pkg.a (in a function of pkg.c)"
    )
    assert find_cycle({"x": {"y"}, "y": {"z"}, "z": set()}) is None
    assert find_cycle({"x": {"x"}}) == ["x", "x"]


def test_checker_flags_unmarked_and_unjustified_lazy_imports() -> None:
    problems = Project.parse(_SYNTHETIC).marker_problems(frozenset({"panel"}))
    flagged = sorted(i.where for i in problems)
    assert flagged == [
        "pkg.c:5 imports pkg.a",  # 'circle' is no reason: the circle test reports it
        "pkg.cmd:4 imports pkg.light",  # heavy, but loads nothing heavy
        "pkg.cmd:5 imports csv",  # the standard library, marker or not
        "pkg.cmd:7 imports numpy",  # not an optional extra
        "pkg.cmd:8 imports cvxpy",  # no marker
    ], problems


def test_checker_follows_lazy_exports() -> None:
    """``from pkg.lazy import go`` loads what ``pkg.lazy``'s ``_EXPORTS`` names for ``go``
    (a PEP 562 package loads nothing itself), so a heavy export is seen as heavy."""
    sources = {
        "pkg": ("", True),
        "pkg.engine": ("import pandas\ndef go():\n    pass\n", False),
        "pkg.lazy": ('_EXPORTS: dict[str, str] = {"go": "pkg.engine"}\n', True),
        "pkg.user": ("from pkg.lazy import go, other\n", False),
        "pkg.cmd": ("def run():\n    from pkg.lazy import go  # lazy: heavy\n", False),
    }
    p = Project.parse(sources)
    assert p.graph(lazy=False)["pkg.user"] == {"pkg.engine", "pkg.lazy"}
    assert "pandas" in loads("pkg.user", p.graph(lazy=False, external=True), p.modules)
    assert p.marker_problems(frozenset()) == {}, "the export is heavy: the marker is justified"
    assert lazy_exports("_EXPORTS = {'a': 'm'}\nx = 1\n") == {"a": "m"}


def test_checker_counts_what_the_command_line_loads_first() -> None:
    """A command module is imported by ``glidelab.cli``: what that loads is not heavy."""
    sources = {
        "glidelab": ("", True),
        "glidelab.cli": ("from glidelab import commands\nimport scipy\n", False),
        "glidelab.commands": ("", True),
        "glidelab.commands.x": (
            "def run():\n    import scipy  # lazy: heavy\n    import cvxpy  # lazy: heavy\n",
            False,
        ),
    }
    problems = Project.parse(sources).marker_problems(frozenset())
    assert [i.where for i in problems] == ["glidelab.commands.x:2 imports scipy"]


def test_optional_extras_come_from_pyproject() -> None:
    extras = optional_extras()
    assert {"distributed", "panel", "tomli_w", "playwright"} <= extras
    assert not extras & {"numpy", "pandas", "cvxpy", "yfinance"}, "core dependencies"
