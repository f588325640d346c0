"""Mortality from the SSA period life tables: survival curves by sex, cohort or period.

The numbers are the Social Security Administration's period life tables of the 2020
Trustees Report, intermediate ("Alternative 2") projections for calendar years 2018-2095,
ages 0-119, by sex, embedded verbatim in ``backtest/data/embedded/mortality/``
(provenance in ``embedded/PROVENANCE.md``). Only ``q(x)`` is read: the probability that a
person aged exactly ``x`` at the start of calendar year ``y`` dies within the year.

Two readings of the table:

* **period** (calendar year ``y`` fixed): ``q(x)`` down one year's column, the usual
  "life expectancy in year y";
* **cohort** (birth year ``b``): the diagonal ``q(x)`` of year ``b + x``, which carries the
  projected mortality improvements. Years beyond 2095 use the 2095 rates (the last
  projected year; stated, not extrapolated), years before 2018 use the 2018 rates (the
  historical tables are not embedded).

Survival ``S(k) = prod_{j < k} (1 - q(x0 + j))`` is the probability that a person alive at
age ``x0`` is alive at age ``x0 + k`` (whole years). Age 119's ``q`` is the table's last;
every person is taken to die by age 120.
"""

from __future__ import annotations

import functools
import importlib.resources
import io
from typing import Literal

import numpy as np
import pandas as pd

from backtest.errors import DataError, PlanError
from backtest.types import FloatArray, IntArray

Sex = Literal["male", "female"]
Reading = Literal["cohort", "period"]

#: Calendar years and ages the embedded tables cover.
FIRST_YEAR, LAST_YEAR = 2018, 2095
MAX_AGE = 119

_FILES: dict[str, str] = {
    "male": "PerLifeTables_M_Alt2_TR2020.csv",
    "female": "PerLifeTables_F_Alt2_TR2020.csv",
}


@functools.cache
def _q_table(sex: str) -> FloatArray:
    """q(x) as an array (n_years, 120): row ``year - FIRST_YEAR``, column age. Read-only."""
    if sex not in _FILES:
        raise PlanError(f"sex={sex!r}; use 'male' or 'female'")
    raw = (
        importlib.resources.files("backtest.data")
        .joinpath("embedded", "mortality", _FILES[sex])
        .read_text(encoding="utf-8")
    )
    # The SSA files start with three title lines and a line of column marks; the header
    # row ("Year,x,q(x),...") is the fifth line.
    df = pd.read_csv(io.StringIO(raw), skiprows=4)
    df = df.rename(columns=lambda c: str(c).strip())
    years = np.arange(FIRST_YEAR, LAST_YEAR + 1)
    table = df.pivot(index="Year", columns="x", values="q(x)").reindex(
        index=years, columns=np.arange(MAX_AGE + 1)
    )
    q = table.to_numpy(dtype=np.float64)
    if np.isnan(q).any() or (q < 0).any() or (q > 1).any():
        raise DataError(f"embedded life table {_FILES[sex]} has missing or invalid q(x)")
    q.flags.writeable = False
    return q


def death_probability(sex: Sex, year: IntArray | int, age: IntArray | int) -> FloatArray:
    """The table's ``q(x)``: probability of dying within calendar ``year`` at age ``age``.

    Years outside 2018-2095 use the nearest table year; ages above 119 have ``q = 1``.
    Broadcasts ``year`` and ``age`` (whole numbers).
    """
    q = _q_table(sex)
    y = np.clip(np.asarray(year, dtype=np.int64), FIRST_YEAR, LAST_YEAR) - FIRST_YEAR
    a = np.asarray(age, dtype=np.int64)
    if (a < 0).any():
        raise PlanError("ages in a life table must be >= 0")
    return np.where(a > MAX_AGE, 1.0, q[y, np.minimum(a, MAX_AGE)])


def survival_curve(
    sex: Sex,
    birth_year: int,
    from_age: int,
    n_years: int,
    reading: Reading = "cohort",
) -> FloatArray:
    """Probability of being alive at ``from_age + k``, k = 0..n_years, given alive at ``from_age``.

    Parameters
    ----------
    sex
        ``"male"`` or ``"female"``.
    birth_year
        Calendar year of birth; with ``reading="period"`` the table year used is the one in
        which the person is ``from_age``.
    from_age, n_years
        Whole years.
    reading
        ``"cohort"`` (the diagonal: age x in year birth_year + x) or ``"period"``.

    Returns
    -------
    numpy.ndarray
        (n_years + 1,), starting at 1.0, non-increasing.
    """
    if reading not in ("cohort", "period"):
        raise PlanError(f"reading={reading!r}; use 'cohort' or 'period'")
    if n_years < 0 or from_age < 0:
        raise PlanError("survival_curve needs from_age >= 0 and n_years >= 0")
    ages = from_age + np.arange(n_years)
    years = birth_year + ages if reading == "cohort" else np.full(n_years, birth_year + from_age)
    q = death_probability(sex, years, ages)
    return np.concatenate([[1.0], np.cumprod(1.0 - q)])


def survival_matrix(
    sex: np.ndarray,
    birth_year: int,
    from_age: IntArray,
    n_years: int,
    reading: Reading = "cohort",
) -> FloatArray:
    """Survival curves of many members at once, (n_members, n_years + 1).

    ``sex`` is an array of ``"male"``/``"female"``, ``from_age`` the whole age at which each
    member's curve starts (1.0 there). Vectorised over members.
    """
    from_age = np.asarray(from_age, dtype=np.int64)
    ages = from_age[:, None] + np.arange(n_years)[None, :]
    if reading == "cohort":
        years = birth_year + ages
    else:
        years = np.broadcast_to((birth_year + from_age)[:, None], ages.shape)
    out = np.empty((from_age.size, n_years + 1))
    out[:, 0] = 1.0
    q = np.empty(ages.shape)
    for s in ("male", "female"):
        m = np.asarray(sex) == s
        if m.any():
            q[m] = death_probability(s, years[m], ages[m])
    out[:, 1:] = np.cumprod(1.0 - q, axis=1)
    return out


def life_expectancy(sex: Sex, birth_year: int, age: int, reading: Reading = "cohort") -> float:
    """Complete life expectancy at ``age``, years: ``sum_{k>=1} S(k) + 0.5``.

    Deaths are spread evenly within each year, the convention of the table's ``e(x)``.
    """
    s = survival_curve(sex, birth_year, age, MAX_AGE + 1 - age, reading)
    return float(s[1:].sum() + 0.5)
