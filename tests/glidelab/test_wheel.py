"""The installed wheel: its version, its studies, its files, a shipped study run by name
from an empty folder, and only what a user needs inside it.

A wheel is built from a copy of this checkout's packages (so the build leaves no
``build/`` behind in the checkout), installed with ``pip install --no-deps --no-index``
into a fresh virtual environment that sees this interpreter's site-packages for numpy,
pandas and the rest (no network). The tests check that ``glidelab`` is the venv's copy,
not the editable install of the checkout that the system site-packages also hold, and
that the venv holds every file of the checkout's packages byte for byte and nothing
more. So each shipped study that ``tests/glidelab/test_run.py`` runs end to end with
``--quick`` from the checkout (default, crypto_sleeve, sweep_example, target_date_2060)
runs the same files as from the wheel; from the wheel, ``glidelab run retiree --quick
--quiet`` (the one shipped study the checkout runs only in part) runs from an empty
temporary folder with no ``PYTHONPATH`` and an empty user cache folder, so numba
compiles the kernel cold, as on a fresh install, into the user's cache and not into
site-packages. (Running all five from the wheel took 206 s of the suite, each a repeat
of a checkout run on the same files.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from importlib.util import find_spec
from pathlib import Path

import pytest

from glidelab.study import shipped_studies

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: What the wheel is built from: the project file, its readme and licence, and the packages
#: it lists (``tools/``, development scripts, is copied too, to show it stays out).
SOURCES = (
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "strategies",
    "backtest",
    "optimize",
    "glidelab",
    "tools",
)
PACKAGES = ("strategies", "backtest", "optimize", "glidelab")


def _bdist_wheel_missing() -> str | None:
    """Why this interpreter cannot build a wheel offline, or None when it can."""
    if find_spec("setuptools.command.bdist_wheel") or find_spec("wheel"):
        return None  # setuptools >= 70.1 builds wheels itself; older ones need `wheel`
    return "building a wheel offline needs setuptools >= 77 (the test extra pins it)"


def _clean_env(home: Path) -> dict[str, str]:
    """This process's environment without anything that would put the checkout on the path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTHON") and k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")
    }
    env.update(PYTHONNOUSERSITE="1", MPLBACKEND="Agg", MPLCONFIGDIR=str(home / "mpl"))
    env["XDG_CACHE_HOME"] = str(home / "cache")  # an empty user cache: a cold first run
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built offline from a copy of its sources."""
    why = _bdist_wheel_missing()
    if why:
        pytest.skip(why)
    base = tmp_path_factory.mktemp("wheel")
    src, dist = base / "src", base / "dist"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, src / name)
    env = _clean_env(base)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
        check=True,
        env=env,
        cwd=base,
    )
    (built,) = dist.glob("glidelab-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel of this checkout installed; returns its ``bin`` folder."""
    base = tmp_path_factory.mktemp("venv")
    env, env_dir = _clean_env(base), base / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(env_dir)], check=True, env=env
    )
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
        env=env,
        cwd=base,
    )
    return bin_dir


def test_glidelab_comes_from_the_wheel_not_the_checkout(venv: Path, tmp_path: Path) -> None:
    code = (
        "import glidelab, glidelab.study as s; print(glidelab.__file__); print(s.shipped_studies())"
    )
    out = subprocess.run(
        [str(venv / "python"), "-c", code],
        cwd=tmp_path,
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    where = Path(out[0]).resolve()
    assert where.is_relative_to(venv.parent.resolve()), f"glidelab imported from {where}"
    assert not where.is_relative_to(ROOT), f"the checkout shadows the wheel: {where}"
    assert out[1] == repr(shipped_studies())  # the wheel ships every study


def _site_packages(venv: Path) -> Path:
    """The venv's site-packages folder, where the wheel installed the packages."""
    code = "import glidelab, pathlib; print(pathlib.Path(glidelab.__file__).parents[1])"
    out = subprocess.run(
        [str(venv / "python"), "-c", code],
        cwd=venv,  # not the checkout, whose packages would shadow the wheel's
        env=_clean_env(venv.parent),
        capture_output=True,
        text=True,
        check=True,
    )
    where = Path(out.stdout.strip())
    assert where.is_relative_to(venv.parent.resolve()) or where.is_relative_to(venv.parent)
    return where


def _package_files(root: Path) -> dict[str, bytes]:
    """Every file of the four packages under ``root`` (relative path -> bytes), without
    byte-code and build metadata."""
    files = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            if any(part.endswith(".egg-info") for part in path.parts):
                continue
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def test_the_wheel_installs_every_package_file_of_the_checkout_byte_for_byte(
    wheel: Path, venv: Path
) -> None:
    installed = _package_files(_site_packages(venv))
    checkout = _package_files(wheel.parents[1] / "src")  # the checkout's files, as built
    assert sorted(set(checkout) - set(installed)) == [], "files the wheel leaves out"
    assert sorted(set(installed) - set(checkout)) == [], "files the wheel adds"
    differ = [name for name in checkout if checkout[name] != installed[name]]
    assert differ == [], f"installed files that differ from the checkout's: {differ}"
    # the studies and the embedded data are among them (so the check covers package data)
    assert any(name.startswith("glidelab/studies/") for name in installed)
    assert any(name.startswith("backtest/data/embedded/") for name in installed)


def test_a_shipped_study_runs_by_name_from_an_empty_folder_with_a_cold_cache(
    venv: Path, tmp_path: Path
) -> None:
    name = "retiree"
    cwd, out = tmp_path / "empty", tmp_path / "out"
    cwd.mkdir()
    env = _clean_env(tmp_path)
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(venv / "glidelab"), "run", name, "--quick", "--quiet", "--out", str(out)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    assert done.returncode == 0, f"glidelab run {name}: {done.stderr[-3000:]}"
    for file in ("summary.md", "success.csv", "settings.json", "tearsheet/tearsheet.html"):
        assert (out / name / file).stat().st_size > 0, sorted(p.name for p in out.rglob("*"))
    assert not any(cwd.iterdir()), "glidelab run wrote into the working folder"
    # numba compiled into the user's cache folder, not into the installed package
    cache = Path(env["XDG_CACHE_HOME"]) / "glidelab" / "numba"
    assert list(cache.rglob("kernel.*.nbi")), f"no compiled kernel under {cache}"
    assert not list(_site_packages(venv).rglob("*.nbi")), "numba wrote into site-packages"
    print(f"glidelab run {name} --quick from the wheel, cold cache: {seconds:.0f} s")


def _run(venv: Path, cwd: Path, *args: str) -> str:
    """``glidelab ARGS`` from the venv in ``cwd``; its standard output (it must exit 0)."""
    done = subprocess.run(
        [str(venv / "glidelab"), *args],
        cwd=cwd,
        env=_clean_env(cwd),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"glidelab {' '.join(args)}: {done.stderr[-3000:]}"
    return done.stdout


def test_version_and_studies_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    assert _run(venv, tmp_path, "--version").strip() == f"glidelab {version}"
    listed = _run(venv, tmp_path, "studies")
    for name in shipped_studies():
        assert name in listed, listed


def test_the_wheel_holds_the_packages_their_types_and_licence_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("glidelab-")}
    assert tops == set(PACKAGES), tops  # no tools/, tests/, benchmarks/ or results/
    assert not [n for n in names if "build_jst" in n], "a development script ships"
    for package in PACKAGES:
        assert f"{package}/py.typed" in names, f"{package} ships no py.typed"
    dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert f"{dist_info}/licenses/LICENSE" in names
    metadata = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: MIT" in metadata and "Typing :: Typed" in metadata
