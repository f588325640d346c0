"""Backtesting: the data loaders (:mod:`backtest.data`: embedded history, yfinance, CSV),
return scenarios (:mod:`backtest.scenarios`, :mod:`backtest.generators`,
:mod:`backtest.historical`), the member's plan (:mod:`backtest.plan`), the vectorised
lifecycle simulator (:mod:`backtest.simulate` with its compiled kernel
:mod:`backtest.kernel`), metrics (:mod:`backtest.metrics`) and tear sheets
(:mod:`backtest.report`).

Data flow: data -> scenarios -> strategy weights (from ``strategies``) -> simulated
accounts -> metrics -> report. It imports ``strategies`` only, never ``optimize`` or the app.
"""

from __future__ import annotations

import os
import sys

import platformdirs


def _numba_cache_in_user_cache() -> None:
    """Point numba's on-disk cache (the compiled kernel, minutes to build) at the user's
    cache folder, ``<user cache dir>/glidelab/numba``, instead of ``__pycache__`` inside
    site-packages: an installed package stays read-only, and ``pip uninstall`` leaves no
    ``backtest/`` folder behind. An existing ``NUMBA_CACHE_DIR`` is kept. It must run before
    numba's compiled functions are declared: ``optimize`` and ``glidelab`` import this
    package first for that reason. numba imported earlier (a notebook) is told to read it
    again."""
    if "NUMBA_CACHE_DIR" not in os.environ:
        os.environ["NUMBA_CACHE_DIR"] = os.path.join(
            platformdirs.user_cache_dir("glidelab", appauthor=False), "numba"
        )
        numba = sys.modules.get("numba")
        if numba is not None and hasattr(numba, "core"):
            numba.core.config.reload_config()


_numba_cache_in_user_cache()
