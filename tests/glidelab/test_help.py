"""Every command's ``--help`` has an example, and every example parses: its flags exist."""

from __future__ import annotations

import importlib
import pkgutil
import re
import shlex

import pytest

from glidelab import commands
from glidelab.cli import build_parser

MODULES = [
    importlib.import_module(f"glidelab.commands.{m.name}")
    for m in pkgutil.iter_modules(commands.__path__)
]


def _examples(description: str) -> list[str]:
    """The example command lines of a help text (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", description.split("example", 1)[1])
    lines = [line.strip() for line in text.splitlines()]
    # A two-space gap separates a command from its comment ("glidelab run   the default").
    return [line.split("  ")[0] for line in lines if line.startswith("glidelab ")]


@pytest.mark.parametrize("mod", MODULES, ids=[m.NAME for m in MODULES])
def test_help_has_examples_that_parse(mod: object) -> None:
    description = mod.DESCRIPTION  # type: ignore[attr-defined]
    assert "example" in description, f"glidelab {mod.NAME} --help has no example"  # type: ignore[attr-defined]
    examples = _examples(description)
    assert examples, description
    parser = build_parser()
    for line in examples:
        argv = shlex.split(line)[1:]
        assert argv[0] == mod.NAME  # type: ignore[attr-defined]
        try:
            parser.parse_args(argv)
        except SystemExit as exc:  # argparse exits on an unknown flag or a bad value
            pytest.fail(f"example {line!r} does not parse (exit {exc.code})")
