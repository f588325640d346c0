"""The shipped SSA life tables read with the csv module, for hand computations in tests.

Deliberately not via ``backtest.mortality``, so a test that checks it against these rows is
independent of the code under test.
"""

from __future__ import annotations

import csv
import importlib.resources
import io


def ssa_rows(sex_file: str) -> dict[tuple[int, int], list[str]]:
    """Rows of ``backtest/data/embedded/mortality/<sex_file>`` by (calendar year, age)."""
    raw = (
        importlib.resources.files("backtest.data")
        .joinpath("embedded", "mortality", sex_file)
        .read_text(encoding="utf-8")
    )
    rows = list(csv.reader(io.StringIO(raw)))
    header = next(i for i, r in enumerate(rows) if r[:3] == ["Year", "x", "q(x)"])
    return {(int(r[0]), int(r[1])): r for r in rows[header + 1 :] if len(r) > 2 and r[0]}
