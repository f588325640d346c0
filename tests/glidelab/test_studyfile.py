"""The study-file schema package: one module per job, read one way, shown whole by the facade.

``glidelab.studyfile`` holds the schema (table reader, ``[compute]``, ``[[plans]]``, the
ordinary study, ``[crypto]``, ``[sweep]``, fund design, the file reader);
``glidelab.study`` is its public face. These tests keep the two from drifting apart, keep
the modules' imports running one way, and pin the order in which a study's tables are
read (the first error a file with several mistakes reports).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import glidelab.study as facade
import glidelab.studyfile as package
from backtest.errors import StudyError

#: The package's modules, lowest first: each may import only modules before it.
ORDER = ("tables", "compute", "plans", "core", "crypto", "sweep", "design", "files")
MEMBER = {"name": "m", "start_age": 65, "retirement_age": 65, "end_age": 95}


def test_order_names_every_module_of_the_package() -> None:
    assert {m.name for m in pkgutil.iter_modules(package.__path__)} == set(ORDER)


@pytest.mark.parametrize("name", ORDER)
def test_the_facade_reexports_every_public_name_of(name: str) -> None:
    module = importlib.import_module(f"glidelab.studyfile.{name}")
    for attr in module.__all__:
        assert attr in facade.__all__, f"glidelab.study does not re-export {name}.{attr}"
        assert getattr(facade, attr) is getattr(module, attr)


def test_the_facade_exports_nothing_of_its_own() -> None:
    defined = set()
    for name in ORDER:
        defined |= set(importlib.import_module(f"glidelab.studyfile.{name}").__all__)
    assert set(facade.__all__) == defined


@pytest.mark.parametrize("name", ORDER)
def test_modules_import_only_lower_modules_of_the_package(name: str) -> None:
    tree = ast.parse((Path(package.__file__).parent / f"{name}.py").read_text("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith("glidelab") for a in node.names)
        if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("glidelab"):
            continue
        head, _, low = (node.module or "").rpartition(".")
        assert head == "glidelab.studyfile", f"{name} imports {node.module}: the app sits above"
        assert ORDER.index(low) < ORDER.index(name), f"{name} imports {low}, which is not below"


@pytest.mark.parametrize(
    ("mistakes", "first"),
    [
        # [analysis] is read before [study]'s own keys, [optimize] before [analysis], ...
        ({"analysis": {"equity_shares": [2]}, "study": {"seed": -1}}, r"\[analysis\]"),
        ({"optimize": {"plan": "x"}, "analysis": {"equity_shares": [2]}}, r"\[optimize\]"),
        ({"strategies": {"presets": 1}, "optimize": {"plan": "x"}}, r"\[strategies\]"),
        ({"scenarios": {"bootstrap_n": -1}, "data": {"frequency": "daily"}}, r"\[data\]"),
        ({"compute": {"workers": 0}, "data": {"frequency": "daily"}}, r"\[compute\]"),
        ({"output": {"dir": 1}, "study": {"seed": -1}}, r"\[output\]"),
    ],
)
def test_a_study_with_two_mistakes_reports_the_first_table_read(
    mistakes: dict[str, object], first: str
) -> None:
    with pytest.raises(StudyError, match=first):
        facade.parse_study({"plans": [MEMBER], **mistakes})


def test_optimize_preferences_are_read_and_checked(tmp_path) -> None:
    """[optimize] objective, adaptive_objective and [optimize.preferences] (issue 23)."""
    from glidelab.study import load_study

    base = (Path(__file__).parents[2] / "glidelab/studies/default.toml").read_text()
    good = base.replace(
        "[optimize]",
        '[optimize]\nobjective = "ce"\nadaptive_objective = "success"\n',
        1,
    ) + (
        "\n[optimize.preferences]\ngamma = 2\nloss_aversion = 1.5\n"
        "reference_replacement = 0.7\nbequest_weight = 0.5\nincome_floor = 12000\n"
    )
    f = tmp_path / "good.toml"
    f.write_text(good)
    op = load_study(f).study.optimize
    assert (op.objective, op.adaptive_objective, op.income_floor) == ("ce", "success", 12000.0)
    assert op.preferences.gamma == 2.0 and op.preferences.loss_aversion == 1.5
    assert op.preferences.reference_replacement == 0.7 and op.preferences.bequest_weight == 0.5
    bad = base + "\n[optimize.preferences]\nloss_aversion = 1.0\n"
    f.write_text(bad)
    with pytest.raises(StudyError, match=r"\[optimize.preferences\].*reference_replacement"):
        load_study(f)
    f.write_text(base.replace("[optimize]", '[optimize]\nobjective = "utility"\n', 1))
    with pytest.raises(StudyError, match="objective"):
        load_study(f)
