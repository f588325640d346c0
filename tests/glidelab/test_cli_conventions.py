"""Command-line conventions (issues 28 and 29): a light start-up, ``--version``, ``--quiet``
everywhere, progress only on a terminal, Ctrl-C exits 130 with one line, no silent
overwrite of a result file, numba's cache in the user's cache folder, a first-run notice.

Conventions about the process (imports, exit status on SIGINT, stderr of a pipe) run the
command in a child process; the rest run in-process.
"""

from __future__ import annotations

import importlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import pytest

import glidelab
from glidelab import progress
from glidelab.cli import EXIT_INTERRUPTED, build_parser, main
from tests.test_imports import Project

ROOT = Path(__file__).resolve().parents[2]
#: Packages that take a noticeable part of a second to import: none may load for --help.
HEAVY = ("numba", "scipy", "matplotlib", "pandas", "cvxpy", "arch", "pyarrow", "yfinance")


def _env(**extra: str) -> dict[str, str]:
    """This environment with the checkout first on the path (a child runs this tree)."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, **extra}


def _child(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(**env), timeout=600
    )


def _subcommands() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


# ------------------------------------------------------------------- a light start-up


def test_help_of_every_command_imports_nothing_heavy() -> None:
    """``glidelab --help`` and each ``glidelab COMMAND --help`` in one child: afterwards
    none of the heavy packages is in ``sys.modules`` (which is what keeps --help fast)."""
    code = f"""
import contextlib, io, sys
from glidelab.cli import main
for argv in [["--help"]] + [[c, "--help"] for c in {_subcommands()!r}]:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit as exc:
            assert exc.code == 0, (argv, exc.code)
print(sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r})))
"""
    done = _child(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"--help imported {done.stdout.strip()}"


def test_every_numba_import_comes_after_the_cache_folder_is_set() -> None:
    """numba reads ``NUMBA_CACHE_DIR`` when imported and picks a compiled function's cache
    folder when it is declared, so every module importing numba at module level must lie
    in a package whose ``__init__`` imports ``backtest`` (which sets it) first."""
    project = Project.read()
    importers = {i.importer for i in project.imports if not i.in_function and i.target == "numba"}
    assert "backtest.kernel" in importers, "the check must see the kernel"
    at_import = {(i.importer, i.target) for i in project.imports if not i.in_function}
    for module in sorted(importers):
        package = module.split(".")[0]
        assert package == "backtest" or (package, "backtest") in at_import, (
            f"{module} imports numba, but {package}/__init__.py does not import backtest first"
        )


# ------------------------------------------------------------------------ --version


def test_version_prints_the_installed_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "glidelab.cli", "--version"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"glidelab {glidelab.__version__}\n"
    assert glidelab.__version__ != "", "a version string, installed or 0+unknown"


def test_version_falls_back_when_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    monkeypatch.delitem(vars(glidelab), "__version__", raising=False)
    assert glidelab.__version__ == "0+unknown"
    monkeypatch.delitem(vars(glidelab), "__version__")  # the next reader asks again


# -------------------------------------------------------------------------- --quiet


@pytest.mark.parametrize("command", _subcommands())
def test_every_command_takes_quiet(command: str) -> None:
    positional = {"sweep": ["x.toml"], "validate": ["trinity"]}.get(command, [])
    args = build_parser().parse_args([command, *positional, "--quiet"])
    assert args.quiet is True


def test_optimize_keeps_no_progress_as_an_alias() -> None:
    args = build_parser().parse_args(["optimize", "--no-progress"])
    assert args.no_progress and not args.quiet


def test_listing_commands_print_names_only_when_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["studies", "--quiet"]) == 0
    names = capsys.readouterr().out.split()
    assert "default" in names and "retiree" in names
    assert all(" " not in n for n in names)


# ------------------------------------------------------------------------- progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_not_when_quiet() -> None:
    assert progress.show_progress(False, _Terminal()) is True
    assert progress.show_progress(True, _Terminal()) is False
    assert progress.show_progress(False, io.StringIO()) is False  # a log file, a pipe


#: A sweep of two grid points on the historical cohorts: small, but with a progress bar.
TINY_SWEEP = """
[study]
name = "tiny"
seed = 1
[data]
frequency = "annual"
[scenarios]
historical = true
bootstrap_n = 0
[[plans]]
name = "retiree"
start_age = 65
retirement_age = 65
end_age = 85
initial_balance = 1000000
withdrawal = { rule = "constant_real", amount = 40000 }
[optimize]
enabled = false
[sweep]
plan = "retiree"
scenarios = ["historical"]
[sweep.grid]
equity_share = [0.4, 0.6]
"""


def test_no_carriage_returns_in_a_piped_stderr(tmp_path: Path) -> None:
    """A real command with a progress bar (the sweep's tqdm bar), stderr to a pipe: no bar
    frame (carriage return or not) reaches the log; the command still runs and logs."""
    study = tmp_path / "tiny.toml"
    study.write_text(TINY_SWEEP)
    argv = ["sweep", str(study), "--no-charts", "--out", str(tmp_path / "out")]
    code = f"import sys; from glidelab.cli import main; sys.exit(main({argv!r}))"
    # Bytes, not text: text mode would turn each carriage return into a newline.
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=_env(), timeout=600
    )
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert (tmp_path / "out" / "tiny" / "sweep.csv").exists()
    assert "glidelab sweep" in err  # its log line: stderr was captured
    assert "\r" not in err
    assert not re.search(r"\d+%\|", err), err  # no tqdm frame at all


# -------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_in_a_command_exits_130_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from glidelab.commands import data

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "run", interrupted)
    assert main(["data"]) == EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err == "glidelab data: interrupted\n"


def _sigint_as_on_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint_to_a_running_simulation_exits_130_without_traceback(tmp_path: Path) -> None:
    """SIGINT, as Ctrl-C sends it, to a child simulating far more scenarios than it can
    finish: exit status 130, one line, no traceback, nothing written."""
    argv = ["simulate", "--strategy", "btc_sleeve_2_5", "--n", "100000000", "--chunk-size"]
    argv += ["2000", "--quiet", "--out", str(tmp_path)]
    code = f"import sys; from glidelab.cli import main; sys.exit(main({argv!r}))"
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        # A shell's background job starts with SIGINT ignored, and Python keeps an ignored
        # SIGINT ignored: restore the default so the child is what a terminal would start.
        preexec_fn=_sigint_as_on_a_terminal,
    ) as child:
        assert child.stderr is not None
        try:
            # Its short-history warning comes after the history is loaded, before simulating.
            first = child.stderr.readline()
            assert "warning" in first, first
            time.sleep(0.5)
            child.send_signal(signal.SIGINT)
            _, rest = child.communicate(timeout=180)  # never hangs the suite
            assert child.returncode == 130
        finally:
            child.kill()
    assert "Traceback" not in rest
    assert rest.splitlines()[-1] == "glidelab simulate: interrupted"
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- no silent overwrite


def test_simulate_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "simulation.csv"
    old.write_text("an earlier result\n")
    argv = ["simulate", "--n", "10", "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "--force" in err
    assert old.read_text() == "an earlier result\n"
    assert not (tmp_path / "simulation.json").exists()  # refused before computing
    assert main([*argv, "--force"]) == 0
    assert old.read_text().startswith("statistic,value")


def test_data_csv_and_validate_refuse_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "series.csv"
    csv.write_text("mine\n")
    assert main(["data", "--csv", str(csv), "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err and csv.read_text() == "mine\n"
    assert main(["data", "--csv", str(csv), "--quiet", "--force"]) == 0
    assert csv.read_text().startswith("name,")
    (tmp_path / "trinity.md").write_text("mine\n")
    assert main(["validate", "trinity", "--out", str(tmp_path)]) == 2
    assert "trinity.md' already exists" in capsys.readouterr().err


#: Commands that write results, and how their --help says an existing result is met:
#: refused without --force (single files), replaced whole (the command's own folder,
#: atomically), or resumed from (a sweep's finished points).
WRITERS = {
    "crypto": "replaced whole",
    "data": "--force",
    "design": "replaced whole",
    "optimize": "--force",
    "run": "replaced whole",
    "simulate": "--force",
    "sweep": "resumes",
    "tearsheet": "replaced whole",
    "validate": "--force",
}


@pytest.mark.parametrize(("command", "policy"), sorted(WRITERS.items()))
def test_every_writing_command_says_whether_it_refuses_or_replaces(
    command: str, policy: str
) -> None:
    mod = importlib.import_module(f"glidelab.commands.{command}")
    assert policy in " ".join(mod.DESCRIPTION.split()), f"glidelab {command} --help"
    if policy == "--force":
        positional = ["trinity"] if command == "validate" else []
        assert build_parser().parse_args([command, *positional, "--force"]).force is True


# ------------------------------------------------------------ numba cache, first run


def test_numba_cache_goes_to_the_user_cache_folder(tmp_path: Path) -> None:
    """A compiled function outside ``backtest`` (the DP kernel), imported first in a fresh
    process, caches under ``<user cache>/glidelab/numba``, not in site-packages."""
    code = "import os, optimize.dp_kernel as k, numba; print(os.environ['NUMBA_CACHE_DIR']); "
    code += "print(numba.config.CACHE_DIR); print(k.expected_values._cache._cache_path)"
    env = {k: v for k, v in _env(XDG_CACHE_HOME=str(tmp_path)).items() if k != "NUMBA_CACHE_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    if sys.platform.startswith("linux"):  # platformdirs honours XDG_CACHE_HOME on Linux
        want = str(tmp_path / "glidelab" / "numba")
        env_dir, config_dir, function_dir = done.stdout.split()
        assert env_dir == config_dir == want
        assert Path(function_dir).parent == Path(want)  # numba's <folder>_<hash> under it
    # A cache folder the user chose is kept.
    done = _child("import os, backtest; print(os.environ['NUMBA_CACHE_DIR'])", NUMBA_CACHE_DIR="x")
    assert done.stdout.strip() == "x"


def test_cold_cache_is_detected_and_announced_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert progress.kernel_cache_is_cold()
    out = io.StringIO()
    assert progress.first_run_notice("run", out)
    assert out.getvalue().count("\n") == 1 and "first run only" in out.getvalue()
    spec = find_spec("backtest.kernel")
    assert spec is not None and spec.origin is not None
    kernel = Path(spec.origin)
    folder = progress.kernel_cache_folder(kernel)
    folder.mkdir(parents=True)
    index = folder / "kernel._loop-1.py311.nbi"
    index.write_bytes(b"")
    assert not progress.kernel_cache_is_cold()  # newer than the source: warm
    assert not progress.first_run_notice("run", io.StringIO())
    old = kernel.stat().st_mtime - 60
    os.utime(index, (old, old))
    assert progress.kernel_cache_is_cold()  # older than the source: numba recompiles
