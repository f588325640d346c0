"""Backtesting: the data loaders (:mod:`backtest.data`: embedded history, yfinance, CSV),
return scenarios (:mod:`backtest.scenarios`, :mod:`backtest.generators`,
:mod:`backtest.historical`), the member's plan (:mod:`backtest.plan`), the vectorised
lifecycle simulator (:mod:`backtest.simulate` with its compiled kernel
:mod:`backtest.kernel`), metrics (:mod:`backtest.metrics`) and tear sheets
(:mod:`backtest.report`).

Data flow: data -> scenarios -> strategy weights (from ``strategies``) -> simulated
accounts -> metrics -> report. It imports ``strategies`` only, never ``optimize`` or the app.
"""
