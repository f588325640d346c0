"""Scenario generators: shapes, labels, reproducibility, block structure, moments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.errors import CoverageError, DataError
from backtest.generators import (
    Proxy,
    block_bootstrap,
    bootstrap_indices,
    default_block_length,
    estimate_bytes,
    historical_cohorts,
    iter_chunks,
    parametric,
)

ASSETS = ["us_stocks", "corp_aaa"]


def test_cohorts_are_the_rolling_windows(annual_history: pd.DataFrame) -> None:
    sc = historical_cohorts(annual_history, ASSETS, 30)
    n_rows = len(annual_history)
    assert sc.returns.shape == (n_rows - 29, 30, 2)
    assert sc.meta["dropped"] == 29
    assert sc.labels is not None and sc.labels[0] == "1928" and sc.labels[-1] == "1996"
    i = sc.labels.index("1966")
    window = annual_history.loc["1966":"1995"]
    np.testing.assert_array_equal(sc.returns[i], window[ASSETS].to_numpy())
    np.testing.assert_array_equal(sc.inflation[i], window["cpi"].to_numpy())
    assert sc.frequency == "annual" and "1928..2025" in sc.description


def test_cohorts_wrap_around(annual_history: pd.DataFrame) -> None:
    sc = historical_cohorts(annual_history, ASSETS, 30, wrap=True)
    assert sc.n_scenarios == len(annual_history) and sc.meta["dropped"] == 0
    last = sc.returns[-1]
    np.testing.assert_array_equal(last[0], annual_history[ASSETS].to_numpy()[-1])
    np.testing.assert_array_equal(last[1], annual_history[ASSETS].to_numpy()[0])


def test_cohorts_too_long_and_bad_columns(annual_history: pd.DataFrame) -> None:
    with pytest.raises(CoverageError, match="fewer than"):
        historical_cohorts(annual_history, ASSETS, 200)
    with pytest.raises(DataError, match="no column"):
        historical_cohorts(annual_history, ["nope"], 10)


def test_missing_rules(late_asset_history: pd.DataFrame) -> None:
    h = late_asset_history
    ex = historical_cohorts(h, ["stocks", "late"], 5, missing="exclude")
    assert ex.labels[0] == "2010" and ex.n_scenarios == 6  # 2010..2015
    assert ex.meta["dropped_missing"] == 10 and ex.meta["dropped"] == 4
    cash = historical_cohorts(h, ["stocks", "late"], 5, missing="cash", cash_asset="cash")
    assert cash.n_scenarios == 16
    np.testing.assert_array_equal(cash.returns[0, :, 1], h["cash"].to_numpy()[:5])
    assert cash.meta["filled_with_cash"]["late"] == {
        "from": "2000",
        "to": "2009",
        "periods": 10,
        "with": "cash",
    }
    with pytest.raises(DataError, match="cash_asset"):
        historical_cohorts(h, ["stocks", "late"], 5, missing="cash")
    proxy = {"late": Proxy(mean_log_annual=0.3, vol_log_annual=0.0)}
    px = historical_cohorts(h, ["stocks", "late"], 5, missing="proxy", proxy=proxy, rng=1)
    np.testing.assert_allclose(px.returns[0, :, 1], np.expm1(0.3))  # zero-vol proxy
    assert not np.isnan(px.returns).any() and px.meta["proxy"]["late"]["cells"] > 0
    with pytest.raises(DataError, match="proxy="):
        historical_cohorts(h, ["stocks", "late"], 5, missing="proxy")
    boot = block_bootstrap(h, ["stocks", "late"], 50, 8, rng=3, block_length=2)
    assert boot.meta["dropped_missing"] == 10 and not np.isnan(boot.returns).any()


def test_bootstrap_reproducible_and_made_of_whole_rows(annual_history: pd.DataFrame) -> None:
    a = block_bootstrap(annual_history, ASSETS, 200, 30, rng=42)
    b = block_bootstrap(annual_history, ASSETS, 200, 30, rng=42)
    c = block_bootstrap(annual_history, ASSETS, 200, 30, rng=43)
    np.testing.assert_array_equal(a.returns, b.returns)
    assert not np.array_equal(a.returns, c.returns)
    rows = {tuple(r) for r in annual_history[[*ASSETS, "cpi"]].to_numpy()}
    drawn = np.concatenate([a.returns, a.inflation[:, :, None]], axis=2).reshape(-1, 3)
    assert all(tuple(r) in rows for r in drawn)  # assets and inflation moved together
    assert a.meta["block_length"] == pytest.approx(
        default_block_length(annual_history[[*ASSETS, "cpi"]].to_numpy())
    )
    assert a.meta["seed_entropy"] == 42


def test_block_structure() -> None:
    rng = np.random.default_rng(0)
    idx = bootstrap_indices(50, 2000, 40, 5.0, "circular", rng)
    step = (np.diff(idx, axis=1) % 50) == 1
    # Circular blocks of 5: consecutive rows inside a block (4 of every 5 steps at least).
    assert step[:, np.arange(39) % 5 != 4].all()
    idx = bootstrap_indices(1000, 4000, 60, 4.0, "stationary", rng)
    cont = (np.diff(idx, axis=1) % 1000) == 1
    # A new block starts with probability 1/4 (plus 1/1000 chance a random start
    # continues): the share of continuing steps is 0.75 +- a few standard errors
    # (n = 236,000 steps, s.e. 0.0009).
    assert abs(cont.mean() - 0.75) < 0.005


def test_parametric_recovers_its_moments() -> None:
    names = ["x", "y", "cpi"]
    mean = {"x": 0.06, "y": 0.02, "cpi": 0.03}
    cov = np.array([[0.04, 0.006, 0.0], [0.006, 0.01, 0.001], [0.0, 0.001, 0.0004]])
    for dist, dof in [("normal", 5.0), ("student_t", 8.0)]:
        sc = parametric(
            None,
            ["x", "y"],
            20_000,
            12,
            distribution=dist,
            dof=dof,
            mean_log_annual=mean,
            cov_log_annual=cov,
            frequency="monthly",
            rng=11,
        )
        x = np.log1p(np.concatenate([sc.returns, sc.inflation[:, :, None]], axis=2))
        x = x.reshape(-1, 3)
        mu = np.array([mean[n] for n in names])
        se = np.sqrt(np.diag(cov) / 12 / x.shape[0])
        # Per-period mean = annual / 12 within 5 standard errors (240,000 draws).
        assert np.all(np.abs(x.mean(axis=0) - mu / 12) < 5 * se + 1e-12)
        # Covariance = annual / 12 within 4 % (t with 8 dof has fat but finite 4th moment).
        np.testing.assert_allclose(np.cov(x, rowvar=False) * 12, cov, rtol=0.04, atol=2e-4)
        assert sc.meta["distribution"] == dist


def test_parametric_from_history_with_override(annual_history: pd.DataFrame) -> None:
    sc = parametric(annual_history, ASSETS, 10, 5, mean_log_annual={"us_stocks": 0.01}, rng=0)
    est = np.log1p(annual_history[[*ASSETS, "cpi"]].to_numpy())
    assert sc.meta["mean_log_annual"][0] == 0.01
    assert sc.meta["mean_log_annual"][1] == pytest.approx(est[:, 1].mean())
    np.testing.assert_allclose(sc.meta["cov_log_annual"], np.cov(est, rowvar=False))
    vol = parametric(annual_history, ASSETS, 10, 5, vol_log_annual={"corp_aaa": 0.5}, rng=0)
    assert np.sqrt(vol.meta["cov_log_annual"][1][1]) == pytest.approx(0.5)
    with pytest.raises(DataError, match="positive semi-definite"):
        parametric(
            None,
            ["a"],
            5,
            5,
            mean_log_annual={"a": 0, "cpi": 0},
            cov_log_annual=np.array([[1.0, 2.0], [2.0, 1.0]]),
        )
    with pytest.raises(DataError, match="dof"):
        parametric(annual_history, ASSETS, 5, 5, distribution="student_t", dof=2)


def test_chunks_are_reproducible_independent_and_sized(annual_history: pd.DataFrame) -> None:
    def make(**kw):
        return list(
            iter_chunks(block_bootstrap, 25, 10, annual_history, ASSETS, n_periods=6, rng=5, **kw)
        )

    a, b = make(), make()
    assert [c.n_scenarios for c in a] == [10, 10, 5]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.returns, y.returns)
    assert not np.array_equal(a[0].returns, a[1].returns[:10])
    assert a[2].meta["chunk"] == 2 and a[2].meta["n_chunks"] == 3


def test_memory_estimate_matches_nbytes(annual_history: pd.DataFrame) -> None:
    sc = block_bootstrap(annual_history, ASSETS, 37, 11, rng=1)
    assert sc.nbytes == estimate_bytes(37, 11, 2)
