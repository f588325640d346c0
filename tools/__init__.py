"""Development-only scripts, kept out of the wheel (``[tool.setuptools]`` lists only the four
packages): they rebuild data and documentation from their sources.

``python -m tools.build_jst raw/JSTdatasetR6.xlsx`` derives
``backtest/data/embedded/jst_countries.csv`` (the runtime reads only the CSV).
"""
