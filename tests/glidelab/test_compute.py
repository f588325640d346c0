"""Loose ends between the app's backends, the study runner and the layers below it:
the study's scenario evaluation on Dask, the optimiser's ``map_fn`` hook, the role
registry in fund design and the engine's error."""

from __future__ import annotations

import pytest

from backtest.errors import GlidelabError
from backtest.plan import ConstantReal, Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from optimize.fund_design import FundConstraints
from strategies import FixedMix


def test_fund_constraints_read_asset_roles_from_the_registry() -> None:
    generic = FundConstraints().generic()
    assets = ["us_stocks", "tbonds_10y", "btc", "gold", "tbills", "world"]
    # equity, real_asset and crypto roles count as equity; only "crypto" as crypto
    assert generic.equity_of(assets) == [0, 2, 3, 5]
    assert generic.crypto_of(assets) == [2]
    # a caller may still name them (series outside the embedded catalog)
    named = FundConstraints(equity_assets=("VTI",), crypto_assets=()).generic()
    assert named.equity_of(["VTI", "BND"]) == [0]
    assert named.crypto_of(["VTI", "BND"]) == []


def test_bad_engine_is_a_glidelab_error_naming_the_engines() -> None:
    import numpy as np

    sc = Scenarios(np.zeros((2, 3, 1)), np.zeros((2, 3)), ("tbills",), "annual")
    plan = Plan(
        start_age=65,
        retirement_age=65,
        end_age=68,
        initial_balance=100.0,
        withdrawal=ConstantReal(rate=None, amount=10.0),
    )
    with pytest.raises(GlidelabError, match="'auto', 'numpy' or 'numba'"):
        simulate(sc, plan, FixedMix("cash", ("tbills",), (1.0,)), engine="fast")


# --------------------------------------------------------------- the [compute] table


def _raw(**compute: object) -> dict:
    """A small study file (one retiree, 30 years) as parsed TOML, with ``[compute]``."""
    raw: dict = {
        "study": {"name": "small", "seed": 11},
        "scenarios": {"historical": True, "bootstrap_n": 120},
        "plans": [
            {
                "name": "retiree",
                "start_age": 65,
                "retirement_age": 65,
                "end_age": 95,
                "initial_balance": 1_000_000,
                "withdrawal": {"rule": "constant_real", "amount": 42_000},
            }
        ],
        "strategies": {
            "presets": ["fixed_60_40", "vanguard_target_retirement"],
            "crypto_sleeves": [0.025],
        },
        "optimize": {"enabled": True, "n_scenarios": 60, "holdout_n": 60, "max_iterations": 1},
        "output": {"tearsheet": False, "population": False},
    }
    if compute:
        raw["compute"] = dict(compute)
    return raw


def test_compute_table_is_read_by_the_one_definition() -> None:
    from glidelab.study import ComputeConfig, parse_compute, parse_study
    from glidelab.sweep import parse_compute as sweep_parse_compute

    assert sweep_parse_compute is parse_compute  # sweeps and studies share it
    assert parse_study(_raw()).compute == ComputeConfig()
    assert not parse_study(_raw()).compute.distributed
    study = parse_study(_raw(workers=2, threads_per_worker=2))
    assert study.compute == ComputeConfig(workers=2, threads_per_worker=2)
    assert study.compute.distributed


@pytest.mark.parametrize(
    ("compute", "message"),
    [
        ({"workers": 0}, "[compute].workers = 0; expected a whole number >= 1"),
        ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"}, "not both"),
        ({"scheduler": 8786}, "expected 'tcp://HOST:PORT'"),
        ({"worker": 2}, "unknown key 'worker'; did you mean 'workers'?"),
    ],
)
def test_bad_compute_table_names_the_key(compute: dict, message: str) -> None:
    from backtest.errors import StudyError
    from glidelab.study import parse_study

    with pytest.raises(StudyError) as err:
        parse_study(_raw(**compute))
    assert message in str(err.value)


def test_sweep_takes_the_studys_compute_table() -> None:
    from glidelab.sweep import parse_sweep

    raw = _raw(workers=3)
    raw["sweep"] = {"grid": {"equity_share": [0.4, 0.6]}}
    assert parse_sweep(raw, "t").compute.workers == 3


def test_run_command_validates_workers_like_the_table(tmp_path, capsys) -> None:
    from glidelab.cli import main

    assert main(["run", "--workers", "0", "--quiet", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "workers = 0; expected a whole number >= 1" in err[0]
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------- the optimiser's hook


def test_optimiser_scores_candidates_through_map_fn() -> None:
    from backtest.generators import block_bootstrap
    from glidelab.run import study_history
    from glidelab.study import parse_study
    from optimize.baselines import constant_mix_grid, evaluate_presets, serial_map

    study = parse_study(_raw())
    plan = study.plans[0].plan
    sc = block_bootstrap(
        study_history(study), ["us_stocks", "tbonds_10y"], 80, plan.n_periods(1), rng=3
    )
    calls: list[int] = []

    def counting(fn, tasks, shared):  # type: ignore[no-untyped-def]
        calls.append(len(tasks))
        return list(reversed(serial_map(fn, list(reversed(tasks)), shared)))

    assert evaluate_presets(sc, plan, map_fn=counting) == evaluate_presets(sc, plan)
    grid = constant_mix_grid(sc, plan, "us_stocks", "tbonds_10y", step=0.25, map_fn=counting)
    plain = constant_mix_grid(sc, plan, "us_stocks", "tbonds_10y", step=0.25)
    assert grid.success.tolist() == plain.success.tolist()
    assert calls[-1] == 5 and len(calls) == 2  # one map per batch of candidates


# --------------------------------------------------------------- the study on Dask


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from glidelab.run import run_study
    from glidelab.study import parse_study

    return run_study(parse_study(_raw()), tmp_path_factory.mktemp("here"), progress=False)


# Two workers only: a one-worker cluster runs the same code with less to get wrong (no
# tasks split between processes, no order to restore), and each cluster costs seconds.
@pytest.mark.parametrize("workers", [2])
def test_study_on_a_local_cluster_is_bit_identical(workers: int, in_process, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("distributed")
    import pandas as pd

    from glidelab.run import run_study
    from glidelab.study import parse_study

    # The [compute] table starts the cluster (loopback, single-threaded workers).
    res = run_study(parse_study(_raw(workers=workers)), tmp_path, progress=False)
    pd.testing.assert_frame_equal(res.success, in_process.success, check_exact=True)
    here = (in_process.out_dir / "success.csv").read_bytes()
    assert (res.out_dir / "success.csv").read_bytes() == here
    # The optimiser's comparison (presets and constant mixes) ran on the cluster too.
    pd.testing.assert_frame_equal(
        res.search.comparison, in_process.search.comparison, check_exact=True
    )
    assert len(res.success) == 2 * 4  # 2 scenario sets x (2 presets, 1 sleeve, optimised)


def test_dask_backend_really_runs_the_tasks(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """evaluate_study hands its tasks to the backend it is given (not a silent local loop)."""
    from glidelab.backends import InProcess
    from glidelab.run import evaluate_study, scenario_sets, strategies_for, study_history
    from glidelab.study import parse_study

    study = parse_study(_raw())
    strategies = strategies_for(study)
    sets = {p.name: scenario_sets(study, study_history(study), p.plan) for p in study.plans}
    seen: list[int] = []

    class Recording(InProcess):
        def map_unordered(self, fn, tasks, shared):  # type: ignore[no-untyped-def]
            seen.append(len(tasks))
            yield from reversed(list(super().map_unordered(fn, tasks, shared)))

    table = evaluate_study(study, strategies, sets, Recording())
    assert seen == [len(strategies) * 2]
    assert table.equals(evaluate_study(study, strategies, sets))  # order restored
