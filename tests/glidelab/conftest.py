"""Fixtures shared by the glidelab tests: one quick crypto run for the CLI and browser
tests of the crypto report (minutes on a loaded machine, so made once a session)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from glidelab.cli import main


@pytest.fixture(scope="session")
def crypto_quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One quick run of the shipped crypto study (400 scenarios, a 3 x 3 x 2 grid):
    its folder and what it printed."""
    out = tmp_path_factory.mktemp("crypto")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["crypto", "--quick", "--quiet", "--out", str(out)]) == 0
    return out / "crypto_sleeve", buf.getvalue()


@pytest.fixture(scope="session")
def design_quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``glidelab design target_date_2060 --quick --quiet --seed 7`` once a session (a
    minute or more on a loaded machine): the --out folder, holding target_date_2060/.
    Read it, never write into it: other tests compare their runs with it."""
    out = tmp_path_factory.mktemp("design")
    args = ["design", "target_date_2060", "--quick", "--quiet", "--seed", "7"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*args, "--out", str(out)]) == 0
    return out
