"""MkDocs hooks that generate the pages that must never drift from the code.

- ``reference/study-file.md``: the study-file reference, from the schema
  (``tools/gen_study_reference.py``);
- ``api/notebook.md``: one entry per name of ``glidelab.__all__`` (the notebook API);
- each ``commands/NAME.md`` page's ``<!-- glidelab-help: NAME -->`` marker becomes the
  output of ``glidelab NAME --help`` (the parser itself, at a fixed width).

Listed in ``mkdocs.yml`` under ``hooks:``; the folder is excluded from the site.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
import pkgutil
import re
import sys
from pathlib import Path
from typing import Any

#: The repository root: ``tools/`` is not installed, the build runs from a checkout.
ROOT = Path(__file__).resolve().parents[2]

#: The marker a command page holds where its ``--help`` goes (no name: ``glidelab --help``).
HELP_MARKER = re.compile(r"<!-- glidelab-help:([a-z_ ]*)-->")
#: Width of the ``--help`` text (argparse reads COLUMNS).
HELP_COLUMNS = "88"


def command_help(name: str) -> str:
    """The text ``glidelab NAME --help`` prints (``""``: the top-level ``glidelab --help``)."""
    from glidelab.cli import build_parser  # lazy: heavy

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            build_parser().parse_args([name, "--help"] if name else ["--help"])
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    return out.getvalue().rstrip()


def command_names() -> list[str]:
    """Every subcommand of ``glidelab`` (the modules of ``glidelab.commands``)."""
    from glidelab import commands  # lazy: heavy

    return sorted(
        importlib.import_module(f"glidelab.commands.{m.name}").NAME
        for m in pkgutil.iter_modules(commands.__path__)
    )


def notebook_api() -> str:
    """The API page of ``import glidelab as gl``: one mkdocstrings entry per public name,
    at the module that defines it."""
    import glidelab  # lazy: heavy

    lines = [
        "# Notebook API: `import glidelab as gl`",
        "",
        "Every name below is importable from `glidelab` (`gl.load_study`, `gl.simulate`, ...); "
        "each is documented where it is defined. Generated from `glidelab.__all__`.",
        "",
    ]
    for name in glidelab.__all__:
        obj = getattr(glidelab, name)
        module = inspect.getmodule(obj)
        where = module.__name__ if module is not None else "glidelab"
        lines += [f"::: {where}.{name}", ""]
    return "\n".join(lines)


def study_reference() -> str:
    """The study-file reference page (``tools/gen_study_reference.py``)."""
    if str(ROOT) not in sys.path:  # mkdocs restores sys.path after loading the hooks
        sys.path.insert(0, str(ROOT))
    from tools.gen_study_reference import render  # lazy: heavy

    return render()


#: Generated pages: path in the site's sources -> the function that writes it.
GENERATED = {"reference/study-file.md": study_reference, "api/notebook.md": notebook_api}


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages to the site's files."""
    from mkdocs.structure.files import File  # lazy: optional extra

    for src_uri, make in GENERATED.items():
        files.append(File.generated(config, src_uri, content=make()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace each ``--help`` marker with the command's help text."""

    def fenced(match: re.Match[str]) -> str:
        return "```text\n" + command_help(match.group(1).strip()) + "\n```"

    return HELP_MARKER.sub(fenced, markdown)
