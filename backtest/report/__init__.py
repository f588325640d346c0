"""Tear sheets: the data model, charts, HTML and PDF renderers and the builder.

``build_tearsheet_data`` (in :mod:`backtest.report.build`) computes every number;
``write_tearsheet`` (in :mod:`backtest.report.tearsheet`) writes the folder atomically.
"""

from backtest.report.tearsheet import TearsheetData, write_tearsheet

__all__ = ["TearsheetData", "write_tearsheet"]
