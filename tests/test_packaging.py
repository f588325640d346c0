"""Packaging: the licence, the types, what ships, and version floors that are true.

The wheel itself is built and installed in ``tests/glidelab/test_wheel.py`` (slow); these
checks read the project files, and run in CI's lowest-versions job too, where the
"API at the floor" tests below meet each dependency at its declared minimum.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
PACKAGES = ("strategies", "backtest", "optimize", "glidelab")
#: Packages only development needs (the test extra): nothing that ships may import them.
DEVELOPMENT_ONLY = {"openpyxl", "pytest", "hypothesis", "playwright", "ruff", "mypy"}


def _floor(name: str) -> tuple[int, ...]:
    """The declared minimum version of the direct dependency ``name``, as integers."""
    for req in PYPROJECT["project"]["dependencies"]:
        m = re.fullmatch(rf"{re.escape(name)}\s*>=\s*([0-9.]+)", req)
        if m:
            return tuple(int(x) for x in m.group(1).split("."))
    raise AssertionError(f"{name} has no '>=' floor in [project].dependencies")


def test_the_licence_ships_in_spdx_form() -> None:
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the glidelab contributors\n")
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    # setuptools reads the SPDX string and license-files from 77 on.
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]


def test_every_package_ships_its_py_typed_marker() -> None:
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").is_file(), f"{package}/py.typed is missing"
        assert "py.typed" in data.get(package, []), f"package-data misses {package}/py.typed"
    assert "Typing :: Typed" in PYPROJECT["project"]["classifiers"]


def test_nothing_that_ships_needs_a_development_package() -> None:
    """A module importing the test extra's packages is a development script: it belongs in
    ``tools/`` (outside the wheel), as ``tools/build_jst.py`` does."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                found += [
                    f"{path.relative_to(ROOT)} imports {n}"
                    for n in names
                    if n.split(".")[0] in DEVELOPMENT_ONLY
                ]
    assert not found, found
    assert not (ROOT / "backtest" / "data" / "build_jst.py").exists()
    assert (ROOT / "tools" / "build_jst.py").is_file()
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not [p for p in include if p.startswith("tools")]


# ------------------------------------------------------------------- floors that are true


def test_floors_cover_the_apis_the_code_uses() -> None:
    """Each floor is at least the first release with an API the code calls; raising a
    floor is fine, lowering one below these fails here before it fails a user."""
    uses = {
        # Axes.boxplot(orientation=...) in the population report: matplotlib 3.10.
        "matplotlib": ((3, 10), ROOT / "backtest/report/population.py", "orientation="),
        # yf.config.debug.hide_exceptions in the Yahoo downloader: yfinance 1.0.
        "yfinance": ((1, 0), ROOT / "backtest/data/yahoo.py", "yf.config.debug"),
        # The "ME"/"YE" period-end aliases: pandas 2.2.
        "pandas": ((2, 2), ROOT / "backtest/data/calendar.py", '"ME"'),
    }
    for name, (floor, path, marker) in uses.items():
        if marker in path.read_text("utf-8"):
            assert _floor(name) >= floor, f"{name} floor {_floor(name)} < {floor} ({marker})"


def test_numpy_floor_is_one_that_numba_cvxpy_and_pandas_floors_accept() -> None:
    """cvxpy 1.8 (the first without a warning on large DPP problems) needs numpy 2.0 and
    scipy 1.13; numpy 2 needs numba 0.60, pandas 2.2.2, pyarrow 16 and arch 7."""
    assert _floor("cvxpy") >= (1, 8)
    assert _floor("numpy") >= (2, 0) and _floor("scipy") >= (1, 13)
    assert _floor("numba") >= (0, 60) and _floor("pandas") >= (2, 2, 2)
    assert _floor("pyarrow") >= (16,) and _floor("arch") >= (7, 0)


def test_matplotlib_draws_the_report_boxplot_at_its_floor() -> None:
    """The keyword the population report passes; on matplotlib < 3.10 this raises."""
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    parts = ax.boxplot([[0.1, 0.2, 0.3], [0.2, 0.4]], orientation="horizontal")
    assert len(parts["boxes"]) == 2


def test_pandas_knows_the_period_end_aliases_at_its_floor() -> None:
    import pandas as pd

    assert len(pd.date_range("2020-01-31", "2020-12-31", freq="ME")) == 12
    assert len(pd.date_range("2020-12-31", "2022-12-31", freq="YE")) == 3


# ------------------------------------------------------------------ CI and the README


def test_ci_runs_the_lowest_versions_job() -> None:
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "--resolution lowest-direct" in ci
    for path in re.findall(r"tests/\S+\.py", ci):
        assert (ROOT / path).is_file(), f".ci/run names {path}, which does not exist"


def test_readme_documents_both_installs() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    first = re.search(r"```bash\n(.*?)\n```", readme, re.S)
    assert first is not None
    assert first.group(1).strip() == 'python3 -m pip install -e ".[test]" && glidelab run'
    assert "python3 -m pip wheel . --no-deps -w dist" in readme
    assert re.search(r"pip install .*dist/glidelab-\S+\.whl", readme)
    for extra in PYPROJECT["project"]["optional-dependencies"]:
        if extra in ("serve", "dask"):
            assert f"[{extra}]" in readme, f"the README does not show the [{extra}] extra"
    assert "### Import names" in readme  # the decision on the top-level names, and why
