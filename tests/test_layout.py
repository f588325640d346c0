"""The architecture holds: imports flow strategies <- backtest <- optimize <- glidelab.

Every module of each package is parsed (not imported) and every ``import`` / ``from ...
import`` of a project package is checked against the floor it may reach. Lazy imports
inside functions count too: a lower floor must not reach the app even at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Each package and the project packages it may import (itself included).
FLOORS = {
    "strategies": {"strategies"},
    "backtest": {"strategies", "backtest"},
    "optimize": {"strategies", "backtest", "optimize"},
    "glidelab": {"strategies", "backtest", "optimize", "glidelab"},
}


def _project_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        out += [(node.lineno, n) for n in names if n.split(".")[0] in FLOORS]
    return out


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_no_import_runs_back_up(package: str) -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, name in _project_imports(path)
        if name.split(".")[0] not in FLOORS[package]
    ]
    assert not bad, "imports that run back up the stack:\n" + "\n".join(bad)


def test_each_package_says_what_it_holds() -> None:
    for package in FLOORS:
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text("utf-8")))
        assert doc and len(doc) > 80, f"{package}/__init__.py needs an opening docstring"


def test_report_has_no_import_circle() -> None:
    """Imports inside backtest.report form no cycle, lazy (in-function) ones included: the
    data model sits apart from the builders and writers."""
    pkg = ROOT / "backtest" / "report"
    graph: dict[str, set[str]] = {}
    for path in pkg.glob("*.py"):
        mod = f"backtest.report.{path.stem}".removesuffix(".__init__")
        tree = ast.parse(path.read_text("utf-8"))
        deps = set()
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").startswith("backtest.report")
            ):
                deps.add(str(node.module))
        graph[mod] = deps - {mod}
    seen: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        if seen.get(m) == 1:
            raise AssertionError("import circle: " + " -> ".join([*stack, m]))
        if seen.get(m) == 2:
            return
        seen[m] = 1
        for d in sorted(graph.get(m, ())):
            visit(d, [*stack, m])
        seen[m] = 2

    for m in sorted(graph):
        visit(m, [])
