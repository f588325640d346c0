"""Dask backend: bit-identical answers with 1 and 2 workers, loopback only, a dying worker."""

from __future__ import annotations

import builtins
import copy
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from backtest.errors import GlidelabError
from glidelab.backends import BackendError, dask_client
from glidelab.sweep import parse_sweep, run_sweep
from tests.glidelab.test_sweep import RAW

pytest.importorskip("distributed")


def _sweep(n_points: int = 4) -> Any:
    raw = copy.deepcopy(RAW)
    amounts = [30_000 + 2_500 * k for k in range(n_points // 2)]
    raw["sweep"]["grid"] = {"equity_share": [0.4, 0.8], "plan.withdrawal.amount": amounts}
    raw["sweep"]["solve"] = {"field": "plan.withdrawal.amount", "lo": 10_000, "hi": 90_000}
    return parse_sweep(raw, "test")


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_sweep(_sweep(), tmp_path_factory.mktemp("here"), progress=False, charts=False)


@pytest.fixture(scope="module")
def two_workers() -> Iterator[Any]:
    with dask_client(workers=2) as client:
        yield client


def test_local_cluster_listens_on_loopback_only(two_workers: Any) -> None:
    info = two_workers.scheduler_info()
    assert info["address"].startswith("tcp://127.0.0.1:")
    assert len(info["workers"]) == 2
    assert all(addr.startswith("tcp://127.0.0.1:") for addr in info["workers"])
    assert all(w["nthreads"] == 1 for w in info["workers"].values())


def _worker_environment() -> dict[str, str | None]:
    import os

    names = ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    return {name: os.environ.get(name) for name in names}


def test_local_workers_keep_glibcs_malloc_defaults_and_one_blas_thread(two_workers: Any) -> None:
    # Dask's MALLOC_TRIM_THRESHOLD_ made a one-worker sweep 10-20 % slower than in
    # process (glidelab.backends._worker_environ); the thread limits must stay
    environs = two_workers.run(_worker_environment).values()
    assert len(environs) == 2
    for environ in environs:
        assert environ == {
            "MALLOC_TRIM_THRESHOLD_": None,
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }


@pytest.mark.parametrize("workers", [1, 2])
def test_results_are_bit_identical_to_in_process(
    workers: int, in_process: Any, two_workers: Any, tmp_path: Path
) -> None:
    if workers == 2:
        res = run_sweep(_sweep(), tmp_path, client=two_workers, progress=False, charts=False)
    else:
        with dask_client(workers=1) as client:
            res = run_sweep(_sweep(), tmp_path, client=client, progress=False, charts=False)
    pd.testing.assert_frame_equal(res.table, in_process.table, check_exact=True)
    pd.testing.assert_frame_equal(res.solve, in_process.solve, check_exact=True)


def test_a_worker_killed_mid_sweep_loses_nothing(tmp_path: Path) -> None:
    sweep = _sweep(n_points=8)
    sweep_no_solve = type(sweep)(**{**sweep.__dict__, "solve": None})
    reference = run_sweep(sweep_no_solve, tmp_path / "ref", progress=False, charts=False)
    with dask_client(workers=2) as client:
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        killed: list[int] = []

        def kill_once(i: int) -> None:
            if not killed:
                os.kill(victim, signal.SIGKILL)  # our own LocalCluster's worker process
                killed.append(i)

        res = run_sweep(
            sweep_no_solve,
            tmp_path / "dask",
            client=client,
            progress=False,
            charts=False,
            on_point=kill_once,
        )
        assert killed, "the worker was never killed"
        # The nanny restarted the worker: a new process id answers.
        assert victim not in client.run(os.getpid).values()
    assert res.n_computed == 8
    pd.testing.assert_frame_equal(res.table, reference.table, check_exact=True)


def test_missing_dask_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_distributed(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError("No module named 'distributed'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    with pytest.raises(BackendError, match=r'pip install -e "\.\[dask\]"'):
        dask_client(workers=2)
    assert issubclass(BackendError, GlidelabError)


def test_bad_scheduler_address_is_a_clear_error() -> None:
    with pytest.raises(BackendError, match="tcp://HOST:PORT"), dask_client(scheduler="localhost"):
        pass


def _design_data() -> Any:
    """A small vintage (300 member-paths on 60 generated market paths) for the design."""
    import numpy as np

    from backtest.population import PopulationSpec, draw_members
    from backtest.population_eval import pair_members_paths
    from backtest.scenarios import Scenarios
    from optimize.fund_design import design_data

    spec = PopulationSpec(end_age=100)
    rng = np.random.default_rng(8)
    n_t, n_paths = spec.n_periods, 60
    returns = np.stack(
        [rng.normal(0.08, 0.18, (n_paths, n_t)), rng.normal(0.035, 0.07, (n_paths, n_t))],
        axis=-1,
    )
    scen = Scenarios(
        returns=returns,
        inflation=rng.normal(0.025, 0.01, (n_paths, n_t)),
        assets=("us_stocks", "tbonds_10y"),
        frequency="annual",
    )
    mi, pi = pair_members_paths(300, n_paths, "paired")
    members = draw_members(spec, 300, 4)
    return spec, design_data(members, scen, scen.assets, mi, pi, expense_ratio=0.002, rng=2)


@pytest.mark.parametrize("workers", [1, 2])
def test_design_frontier_on_dask_equals_in_process(workers: int, two_workers: Any) -> None:
    import numpy as np

    from glidelab.backends import DaskBackend, ordered_map
    from optimize.fund_design import FundConstraints, FundDesigner

    spec, data = _design_data()
    c = FundConstraints(equity_at_target=(0.3, 0.7), max_change_per_year=0.05)
    designer = FundDesigner(data, spec.target_age, c, knot_spacing_years=10)
    here = designer.frontier(n_points=4, max_iterations=3)
    if workers == 2:
        there = designer.frontier(
            n_points=4, max_iterations=3, map_fn=ordered_map(DaskBackend(two_workers))
        )
    else:
        with dask_client(workers=1) as client:
            there = designer.frontier(
                n_points=4, max_iterations=3, map_fn=ordered_map(DaskBackend(client))
            )
    for a, b in zip(here.points, there.points, strict=True):
        np.testing.assert_array_equal(a.knots, b.knots)
        assert (a.bpoe, a.shortfall_cvar, a.ce, a.objective) == (
            b.bpoe,
            b.shortfall_cvar,
            b.ce,
            b.objective,
        )


@pytest.mark.parametrize(("workers", "objective"), [(1, "success"), (2, "success"), (2, "ce")])
def test_glide_path_search_on_dask_equals_in_process(
    workers: int, objective: str, two_workers: Any
) -> None:
    """The SCP's iterates scored in chunks of scenarios on Dask workers (issue 28): knots,
    every iteration's scores and the final success and CE bit for bit as in process."""
    from glidelab.backends import DaskBackend, ordered_map
    from tests.optimize.test_glidepath_backend import assert_identical, search

    here = search(objective)
    if workers == 2:
        there = search(objective, ordered_map(DaskBackend(two_workers)), chunk=100)
    else:
        with dask_client(workers=1) as client:
            there = search(objective, ordered_map(DaskBackend(client)), chunk=100)
    assert_identical(there, here)


def _tiny_design() -> Any:
    """The shipped 2060 vintage at smoke size: 300 member-paths on 40 market paths in
    sample, 60 members on 10 paths held out, two JST countries."""
    import dataclasses

    from glidelab.design import load_design_study, quick

    study = quick(load_design_study("target_date_2060"))
    rep = dataclasses.replace
    return rep(
        study,
        design=rep(
            study.design, member_paths=300, market_paths=40, frontier_points=2, max_iterations=2
        ),
        evaluation=rep(
            study.evaluation,
            members=60,
            bootstrap_paths=10,
            countries=study.evaluation.countries[:2],
            country_members=20,
        ),
    )


def test_design_held_out_scoring_on_dask_equals_in_process(two_workers: Any) -> None:
    """The design's held-out scoring (out of sample, US cohorts, countries, evidence and
    sensitivity) as Dask tasks (issue 28): every table bit for bit as in process."""
    from glidelab.backends import DaskBackend, ordered_map
    from glidelab.design import design

    study = _tiny_design()
    here = design(study)
    there = design(study, map_fn=ordered_map(DaskBackend(two_workers)))
    assert here.evidence is not None and there.evidence is not None
    for name in ("scores", "holdout_gap", "countries", "income"):
        a, b = getattr(here, name), getattr(there, name)
        assert not a.empty, name
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    for name in ("sensitivity", "evidence", "calibration"):
        a, b = getattr(here.evidence, name), getattr(there.evidence, name)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert here.income_rows == there.income_rows
