"""Capital-market assumptions: stated moments in, moment-matched scenarios out (issue 25)."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.cma import (
    EXAMPLE_PATH,
    CapitalMarketAssumptions,
    cma_scenarios,
    example_text,
    load_cma,
    parse_cma,
)
from backtest.errors import DataError
from backtest.generators import parametric

CMA = CapitalMarketAssumptions(
    name="test",
    source="made up for a test",
    assets=("stocks", "bonds"),
    arithmetic_real_return=(0.05, 0.015),
    volatility=(0.18, 0.07),
    correlation=((1.0, 0.2), (0.2, 1.0)),
    inflation=0.02,
)


def _real(s) -> np.ndarray:
    return ((1.0 + s.returns) / (1.0 + s.inflation[..., None]) - 1.0).reshape(-1, len(s.assets))


@pytest.mark.parametrize("distribution", ["lognormal", "student_t"])
def test_scenarios_reproduce_the_stated_moments(distribution: str) -> None:
    cma = CapitalMarketAssumptions(**{**CMA.__dict__, "distribution": distribution})
    s = cma_scenarios(cma, 2_000, 30, rng=7)
    real = _real(s)
    # the set is moment-matched: exact up to float64 round-off of a 60,000-row covariance
    np.testing.assert_allclose(real.mean(axis=0), cma.mean, atol=1e-12)
    np.testing.assert_allclose(np.cov(real, rowvar=False), cma.covariance, atol=1e-12)
    assert np.allclose(s.inflation, 0.02) and s.frequency == "annual"


def test_moments_hold_on_each_half_within_sampling_error() -> None:
    """Matching is global, not a per-path trick: each half of the set has the stated
    moments within sampling error (30,000 draws: s.e. of the mean 0.18/sqrt(30000))."""
    real = _real(cma_scenarios(CMA, 2_000, 30, rng=3))
    for half in (real[: len(real) // 2], real[len(real) // 2 :]):
        se = 0.18 / np.sqrt(len(half))
        assert abs(half[:, 0].mean() - 0.05) < 4 * se
        assert half[:, 0].std() == pytest.approx(0.18, rel=0.03)  # 4 s.e. of a s.d. is ~1.6 %
        assert np.corrcoef(half, rowvar=False)[0, 1] == pytest.approx(0.2, abs=0.03)


def test_the_parametric_generator_inflates_what_the_cma_keeps() -> None:
    """The issue's finding, reproduced: a Student-t parametric set fitted to the same log
    moments has a larger arithmetic volatility than stated; the CMA set does not."""
    log_mean = np.log1p(CMA.mean) - 0.5 * np.log1p((np.array(CMA.volatility) / 1.05) ** 2)
    cov = np.diag(np.log1p((np.array([0.18, 0.07]) / np.array([1.05, 1.015])) ** 2))
    p = parametric(
        None, ["stocks", "bonds"], 2_000, 30, "student_t", 5.0,
        mean_log_annual={"stocks": log_mean[0], "bonds": log_mean[1], "cpi": 0.0},
        cov_log_annual=np.pad(cov, ((0, 1), (0, 1))), rng=1,
    )  # fmt: skip
    # inflated past the 18 % the logs were fit to (0.190 at this seed; the margin of 0.005
    # is several standard errors of a 60,000-draw s.d.)
    assert p.returns[..., 0].std() > 0.185
    c = cma_scenarios(CapitalMarketAssumptions(**{**CMA.__dict__, "distribution": "student_t"}),
                      2_000, 30, rng=1)  # fmt: skip
    assert _real(c)[:, 0].std(ddof=1) == pytest.approx(0.18, rel=1e-9)


def test_seed_reproduces_and_differs() -> None:
    a, b, c = (cma_scenarios(CMA, 50, 10, rng=r) for r in (5, 5, 6))
    assert np.array_equal(a.returns, b.returns) and not np.array_equal(a.returns, c.returns)


def test_shipped_example_is_generated_from_the_history_not_typed() -> None:
    assert EXAMPLE_PATH.read_text() == example_text()
    cma = load_cma(EXAMPLE_PATH)
    assert cma.example and "not a forecast" in cma.name
    assert cma.assets == ("us_stocks", "tbonds_10y", "tbills")


BASE = {
    "name": "x",
    "source": "y",
    "assets": {
        "a": {"arithmetic_real_return": 0.05, "volatility": 0.2},
        "b": {"arithmetic_real_return": 0.01, "volatility": 0.05},
    },
    "correlations": {"a:b": 0.1},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"correlations": {}}, "missing"),
        ({"correlations": {"a:c": 0.1}}, "two different assets"),
        ({"assets": {"a": {"arithmetic_real_return": 0.05}}}, "volatility is required"),
        (
            {
                "assets": {"a": {"arithmetic_real_return": -2, "volatility": 0.1}},
                "correlations": {},
            },
            "> -1",
        ),
        ({"correlations": {"a:b": 1.5}}, "in \\[-1, 1\\]"),
        ({"distribution": "cauchy"}, "lognormal"),
        ({"colour": "red"}, "unknown keys"),
        ({"source": ""}, "source is required"),
    ],
)
def test_bad_files_name_the_problem(change: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_cma({**BASE, **change})


def test_impossible_correlations_are_refused() -> None:
    three = {
        **BASE,
        "assets": {k: {"arithmetic_real_return": 0.0, "volatility": 0.1} for k in "abc"},
        "correlations": {"a:b": 0.9, "a:c": 0.9, "b:c": -0.9},
    }
    with pytest.raises(DataError, match="not jointly possible"):
        parse_cma(three)


def test_missing_file_points_at_the_example(tmp_path) -> None:
    with pytest.raises(DataError, match=r"cma_example\.toml"):
        load_cma(tmp_path / "nope.toml")
