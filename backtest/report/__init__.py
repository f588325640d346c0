"""Tear sheets: the data model, the builder, the renderers and the writer.

* :mod:`~backtest.report.model`: the frozen data classes (every number, no drawing);
* :mod:`~backtest.report.describe`: a plan and its rules in words, for every report;
* :mod:`~backtest.report.build`: ``build_tearsheet_data`` computes one page's numbers;
* :mod:`~backtest.report.charts`, :mod:`~backtest.report.html`, :mod:`~backtest.report.pdf`:
  render the model only;
* :mod:`~backtest.report.tearsheet`: ``write_tearsheet`` writes the folder atomically.

Imports run one way (model <- renderers <- writer), so importing the model or the words
does not load matplotlib.
"""

from __future__ import annotations

from typing import Any

from backtest.report.model import TearsheetBook, TearsheetData

__all__ = ["TearsheetBook", "TearsheetData", "write_tearsheet"]


def __getattr__(name: str) -> Any:
    if name == "write_tearsheet":
        from backtest.report.tearsheet import write_tearsheet  # lazy: heavy (matplotlib)

        return write_tearsheet
    raise AttributeError(f"module 'backtest.report' has no attribute {name!r}")
