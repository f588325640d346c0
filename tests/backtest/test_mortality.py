"""Survival probabilities against the embedded SSA period life tables."""

from __future__ import annotations

import importlib.resources
import io

import numpy as np
import pandas as pd
import pytest

from backtest import mortality
from backtest.errors import PlanError


def _raw(sex: str) -> pd.DataFrame:
    name = {"male": "PerLifeTables_M_Alt2_TR2020.csv", "female": "PerLifeTables_F_Alt2_TR2020.csv"}
    text = (
        importlib.resources.files("backtest.data")
        .joinpath("embedded", "mortality", name[sex])
        .read_text()
    )
    return pd.read_csv(io.StringIO(text), skiprows=4)


@pytest.mark.parametrize("sex", ["male", "female"])
def test_period_survival_equals_the_table_l_x_ratio(sex: str) -> None:
    # l(x) is rounded to whole lives of 100,000, so the ratio matches to about 1e-5.
    df = _raw(sex)
    year = df[df["Year"] == 2030].set_index("x")
    s = mortality.survival_curve(sex, 2030 - 65, 65, 20, reading="period")  # type: ignore[arg-type]
    expected = year.loc[65:85, "l(x)"].to_numpy() / year.loc[65, "l(x)"]
    np.testing.assert_allclose(s, expected, atol=2e-5)


def test_cohort_survival_reads_the_diagonal() -> None:
    df = _raw("female").set_index(["Year", "x"])
    s = mortality.survival_curve("female", 1995, 62, 3, reading="cohort")
    q = [df.loc[(2057, 62), "q(x)"], df.loc[(2058, 63), "q(x)"], df.loc[(2059, 64), "q(x)"]]
    expected = np.concatenate([[1.0], np.cumprod(1 - np.array(q))])
    np.testing.assert_allclose(s, expected, rtol=0, atol=1e-15)


def test_life_expectancy_matches_the_table_e_x() -> None:
    # e(x) is printed to 2 decimals.
    df = _raw("male")
    e65 = float(df[(df["Year"] == 2018) & (df["x"] == 65)]["e(x)"].iloc[0])
    assert mortality.life_expectancy("male", 1953, 65, reading="period") == pytest.approx(
        e65, abs=0.006
    )


def test_years_beyond_the_table_use_its_last_year() -> None:
    assert mortality.death_probability("male", 2150, 90) == mortality.death_probability(
        "male", 2095, 90
    )
    assert mortality.death_probability("male", 2050, 125) == 1.0


def test_survival_matrix_matches_one_curve_per_member() -> None:
    sexes = np.array(["male", "female", "male"])
    ages = np.array([62, 67, 70])
    mat = mortality.survival_matrix(sexes, 1995, ages, 30)
    for i in range(3):
        one = mortality.survival_curve(sexes[i], 1995, int(ages[i]), 30)
        np.testing.assert_array_equal(mat[i], one)


def test_unknown_sex_is_a_clear_error() -> None:
    with pytest.raises(PlanError, match="'male' or 'female'"):
        mortality.survival_curve("other", 1995, 65, 3)  # type: ignore[arg-type]
