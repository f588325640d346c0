"""glidelab, the app: the ``glidelab`` command, study files and their schema, the study
runner and the shipped studies (``glidelab/studies/*.toml``).

It sits at the top of the import stack (``strategies`` <- ``backtest`` <- ``optimize`` <-
``glidelab``); nothing below imports it. From a notebook::

    import glidelab as gl

    gl.shipped_studies()                     # ('crypto_sleeve', 'default', 'retiree', ...)
    study = gl.load_study("default").study   # a study file by shipped name or path
    result = gl.run_study(study)             # writes results/default/
    sc = gl.block_bootstrap(gl.load_history(["us_stocks", "tbonds_10y", "cpi"]),
                            ["us_stocks", "tbonds_10y"], 1000, 70, rng=1)
    res = gl.simulate(sc, study.plan("lifecycle").plan, gl.preset("fixed_60_40"))

Names are imported on first use, so ``import glidelab`` (and the command's start-up)
stays fast. ``glidelab.__version__`` is the installed distribution's version
(``importlib.metadata``), ``"0+unknown"`` when run from a source tree that is not installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any

# Before any numba import under this package (glidelab.serve.compute, glidelab.backends):
# ``backtest`` points numba's on-disk cache at the user's cache folder (it is light).
import backtest  # noqa: F401

#: Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    # the app
    "load_study": "glidelab.study",
    "parse_study": "glidelab.study",
    "parse_study_file": "glidelab.study",
    "shipped_studies": "glidelab.study",
    "Study": "glidelab.study",
    "StudyFile": "glidelab.study",
    "run_study": "glidelab.run",
    "StudyResult": "glidelab.run",
    "study_tearsheet": "glidelab.run",
    "describe_plan": "backtest.report.describe",
    "load_sweep": "glidelab.sweep",
    "run_sweep": "glidelab.sweep",
    "dask_client": "glidelab.backends",
    "bisect_on_crn": "optimize.solve_for",
    # data and scenarios
    "load_history": "backtest.data",
    "load_yahoo": "backtest.data",
    "load_csv": "backtest.data",
    "Scenarios": "backtest.scenarios",
    "historical_cohorts": "backtest.generators",
    "block_bootstrap": "backtest.generators",
    "parametric": "backtest.generators",
    # the member and the simulator
    "Plan": "backtest.plan",
    "Contributions": "backtest.plan",
    "ConstantReal": "backtest.plan",
    "FixedPercent": "backtest.plan",
    "GuytonKlinger": "backtest.plan",
    "MoneyLasts": "backtest.plan",
    "FundedRatio": "backtest.plan",
    "simulate": "backtest.simulate",
    "SimulationResult": "backtest.simulate",
    "GlidelabError": "backtest.errors",
    # strategies
    "preset": "strategies",
    "list_presets": "strategies",
    "GlidePath": "strategies",
    "FixedMix": "strategies",
    "VolatilityTarget": "strategies",
    "CryptoSleeve": "strategies",
    # the optimiser
    "optimize_glide_path": "optimize.glidepath",
    "GlidePathConstraints": "optimize.glidepath",
}

__all__ = sorted(_EXPORTS)


def _version() -> str:
    """The installed distribution's version, or ``"0+unknown"`` when not installed."""
    try:
        return importlib.metadata.version("glidelab")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = version = _version()
        return version
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'glidelab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
