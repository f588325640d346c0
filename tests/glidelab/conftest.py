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
