"""The documentation site's sources, checked without building it (``mkdocs build --strict``
in ``.ci/run`` builds it and executes the notebooks).

Every command has a page whose ``--help`` is generated, every example notebook is in the
nav (and stored without outputs: the build executes it), and the study-file reference,
generated from the schema, covers every key the schema declares.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from glidelab import study as study_module

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _load(path: Path, name: str) -> ModuleType:
    """A module loaded from its file (the docs hook and the generator are not packages)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hook() -> ModuleType:
    return _load(DOCS / "hooks" / "glidelab_docs.py", "glidelab_docs_hook")


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    return _load(ROOT / "tools" / "gen_study_reference.py", "gen_study_reference")


@pytest.fixture(scope="module")
def reads(reference: ModuleType) -> dict:
    """The readers' recorded keys, collected once (it parses every shipped study)."""
    return reference.collect()


def nav_targets() -> list[str]:
    """The files ``mkdocs.yml``'s nav names (``title: path`` or ``- path`` lines)."""
    text = (ROOT / "mkdocs.yml").read_text("utf-8")
    nav = text[text.index("\nnav:") :]
    return re.findall(r"(?:^|:|-)\s*([\w./-]+\.(?:md|ipynb))\s*$", nav, flags=re.M)


def test_every_command_has_a_page_with_its_generated_help(hook: ModuleType) -> None:
    names = hook.command_names()
    assert "run" in names and "sweep" in names  # discovery found the commands
    nav = nav_targets()
    for name in names:
        page = DOCS / "commands" / f"{name}.md"
        assert page.is_file(), f"glidelab {name} has no page: add docs/commands/{name}.md"
        assert f"<!-- glidelab-help: {name} -->" in page.read_text("utf-8")
        assert f"commands/{name}.md" in nav, f"commands/{name}.md is not in mkdocs.yml's nav"


def test_help_marker_becomes_the_commands_help(hook: ModuleType) -> None:
    out = hook.on_page_markdown("a\n<!-- glidelab-help: studies -->\nb", None, None, None)
    assert "usage: glidelab studies" in out
    assert "<!-- glidelab-help" not in out
    assert hook.command_help("").startswith("usage: glidelab")


def test_every_notebook_is_in_the_nav_and_stored_without_outputs() -> None:
    notebooks = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.glob("examples/*.ipynb"))
    assert len(notebooks) >= 5  # default study, glide path, fund design, crypto, Dask sweep
    nav = nav_targets()
    assert [n for n in nav if n.endswith(".ipynb")] == notebooks
    for name in notebooks:
        cells = json.loads((DOCS / name).read_text("utf-8"))["cells"]
        outputs = [c for c in cells if c["cell_type"] == "code" and c.get("outputs")]
        assert not outputs, f"{name} is stored with outputs; the docs build executes it"


def test_every_nav_page_exists_or_is_generated(hook: ModuleType) -> None:
    for target in nav_targets():
        assert (DOCS / target).is_file() or target in hook.GENERATED, target


def _rows_by_table(page: str) -> dict[str, set[str]]:
    """{anchor: keys} of the rendered reference (each table's rows under its heading)."""
    out: dict[str, set[str]] = {}
    anchor = ""
    for line in page.splitlines():
        if m := re.match(r"## .*\{ #(table-[\w-]+) \}$", line):
            anchor = m.group(1)
            out[anchor] = set()
        elif m := re.match(r"\| `([^`]+)` \|", line):
            out[anchor].add(m.group(1))
    return out


def test_study_reference_covers_every_declared_key(reference: ModuleType, reads: dict) -> None:
    rows = _rows_by_table(reference.render(dict(reads)))
    declared = reference.declared_keys()
    assert len(declared) > 100  # SCHEMA, PLAN_KEYS, COMPUTE_KEYS, sections, design tables
    for path, key in declared:
        assert key in rows[reference._anchor(path)], f"{path or 'top level'}.{key} missing"


def test_study_reference_covers_every_key_a_reader_reads(reference: ModuleType, reads: dict):
    rows = _rows_by_table(reference.render(dict(reads)))
    for path, key in reads:
        assert key in rows[reference._anchor(path)], f"{path}.{key} missing"
    # the readers' own defaults and bounds, as written on the dataclasses
    assert reads[("scenarios", "bootstrap_n")].defaults[0] == 5000
    assert reads[("plans.withdrawal", "rule")].allowed.startswith('"constant_real"')
    assert ("crypto.window", "sleeve") in reads and ("population", "birth_year") in reads


def test_study_reference_follows_the_schema(
    reference: ModuleType, reads: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key added to the schema appears in the page without editing the generator."""
    schema = {**study_module.SCHEMA, "output": {**study_module.SCHEMA["output"], "zz_new": None}}
    monkeypatch.setattr(study_module, "SCHEMA", schema)
    rows = _rows_by_table(reference.render(dict(reads)))
    assert "zz_new" in rows["table-output"]
