"""The adaptive policy's dynamic program on Dask (issue 28): bit-identical to in-process on
1 and 2 local workers (127.0.0.1), for the success and the CE objectives, and the app's
adaptive run on a backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backtest.outcomes import IncomePreferences
from backtest.plan import Plan
from glidelab.backends import DaskBackend, dask_client, ordered_map
from optimize.dynamic import (
    ReturnModel,
    income_ce,
    max_success,
    solve_adaptive,
)
from tests.optimize.backend_checks import (
    assert_adaptive_identical,
    short_retiree_plan,
    two_asset_model,
)

pytest.importorskip("distributed")

N_STATES = 101  # small grids: a solve takes well under a second in-process

OBJECTIVES = {"success": max_success(), "ce": income_ce(IncomePreferences(gamma=5.0))}


@pytest.fixture(scope="module", params=[1, 2], ids=["1 worker", "2 workers"])
def client(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A local cluster of 1, then of 2, single-threaded workers (one cluster at a time:
    two clusters open in one process have stalled a client's ``as_completed`` here)."""
    with dask_client(workers=request.param) as c:
        info = c.scheduler_info()
        assert len(info["workers"]) == request.param
        assert info["address"].startswith("tcp://127.0.0.1:")  # loopback only
        yield c


@pytest.fixture(scope="module")
def model() -> ReturnModel:
    return two_asset_model()


@pytest.fixture(scope="module")
def plan() -> Plan:
    return short_retiree_plan()


@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_dp_on_dask_is_bit_identical_to_in_process(
    objective: str, client: Any, model: ReturnModel, plan: Plan
) -> None:
    obj = OBJECTIVES[objective]
    kw: dict[str, Any] = {"n_states": N_STATES, "n_paths": 300}
    here = solve_adaptive(plan, model, obj, **kw)
    map_fn = ordered_map(DaskBackend(client))
    for chunks in (1, 2, 4):
        on_dask = solve_adaptive(
            plan, model, obj, map_fn=map_fn, chunk_nodes=-(-N_STATES // chunks), **kw
        )
        assert_adaptive_identical(on_dask, here)
    assert_adaptive_identical(solve_adaptive(plan, model, obj, map_fn=map_fn, **kw), here)


def test_adaptive_run_on_dask_is_the_in_process_run(client: Any) -> None:
    """The app's adaptive run (both DP policies, the constant-mix scoring) with the
    backend's ``map_fn``: the same policies, promise and scores as in this process."""
    if len(client.scheduler_info()["workers"]) != 2:
        pytest.skip("the whole run once, on 2 workers (the DP alone is checked on 1 above)")
    from glidelab.adaptive import AdaptiveSettings, run_adaptive
    from glidelab.study import load_study

    study = load_study(None).study
    settings = AdaptiveSettings(
        n_scenarios=300,
        train_n=100,
        n_states=61,
        scp_iterations=1,
        convergence=False,
        frontier=False,
        survival=False,
    )
    kw: dict[str, Any] = {"plan_name": "maya", "log": lambda _m: None}
    here = run_adaptive(study, settings, **kw)
    there = run_adaptive(study, settings, map_fn=ordered_map(DaskBackend(client)), **kw)
    assert_adaptive_identical(there.solved, here.solved)
    assert here.other is not None and there.other is not None
    assert_adaptive_identical(there.other, here.other)
    assert there.best_constant_share == here.best_constant_share
    assert there.promise == here.promise
    for label, ev in here.evaluations.items():
        assert [r.success for r in there.evaluations[label].rows] == [r.success for r in ev.rows]


def test_optimize_command_takes_workers_and_scheduler(capsys: pytest.CaptureFixture[str]) -> None:
    from glidelab.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["optimize", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--workers" in out and "--scheduler" in out
    # a validation run has no tasks to spread: refused, not ignored
    assert main(["optimize", "--validate", "--workers", "2", "--quiet"]) != 0
    assert "--workers and --scheduler go with" in capsys.readouterr().err
