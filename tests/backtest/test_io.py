"""Atomic writes: all or nothing, and files readable like any other the user writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from backtest.io import atomic_directory, write_text_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_written_file_has_the_umask_mode_not_mkstemps_0600(tmp_path: Path, umask_022) -> None:
    path = write_text_atomic(tmp_path / "a" / "x.md", "hello")
    assert path.read_text() == "hello"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["x.md"]  # no temporary file left


def test_directory_has_the_umask_mode(tmp_path: Path, umask_022) -> None:
    with atomic_directory(tmp_path / "out") as d:
        (d / "f.txt").write_text("1")
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


def test_failed_directory_leaves_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_directory(target) as d:
        (d / "f.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(target) as d:
        (d / "f.txt").write_text("new")
        raise RuntimeError("half way")
    assert (target / "f.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
