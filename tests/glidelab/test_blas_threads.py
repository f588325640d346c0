"""BLAS runs on one thread wherever the optimisers' answers are computed.

A multi-threaded BLAS splits some products by its thread count, so their last bits depend
on it: the shipped fund design's frontier moved in the sixth significant figure between
two BLAS threads (in process on two cores) and one (a Dask worker, whose nanny sets
``OMP_NUM_THREADS=1``). ``glidelab.backends.single_threaded_blas`` pins it to one in every
backend task and in the whole design, so the answer does not depend on where it runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import glidelab.design as design_module
from glidelab.backends import InProcess, call_with_threads, single_threaded_blas


def _blas_threads(*_: Any) -> list[int]:
    np.ones((4, 4)) @ np.ones((4, 4))  # BLAS is loaded
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_the_context_pins_blas_to_one_thread_and_restores_it() -> None:
    before = _blas_threads()
    assert before, "numpy's BLAS should be visible to threadpoolctl"
    with single_threaded_blas():
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before


def test_backend_tasks_run_on_one_blas_thread() -> None:
    # every BLAS loaded (numpy's, and scipy's own where it has one) is on one thread
    assert set(call_with_threads(_blas_threads, None, None, None)) == {1}
    out = dict(InProcess().map_unordered(_blas_threads, [0, 1], None))
    assert {i: set(v) for i, v in out.items()} == {0: {1}, 1: {1}}


def test_the_design_runs_on_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[int]] = []

    def fake(*args: Any) -> str:
        seen.append(_blas_threads())
        return "designed"

    monkeypatch.setattr(design_module, "_design", fake)
    assert design_module.design(None) == "designed"  # type: ignore[arg-type]
    assert len(seen) == 1 and set(seen[0]) == {1}
