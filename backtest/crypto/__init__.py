"""Crypto-allocation research: should a small Bitcoin sleeve sit in a retirement portfolio?

One job per module, all on the public simulator API (:func:`backtest.simulate.simulate`):

* :mod:`backtest.crypto.assumptions`: stated forward Bitcoin assumptions (annual log mean,
  volatility, correlation with equities, normal or Student-t) laid over one set of base
  scenarios with common random numbers (:class:`CrnDraws`);
* :mod:`backtest.crypto.surface`: change against no sleeve over a grid of assumptions, with
  paired standard errors;
* :mod:`backtest.crypto.rules`: sleeve rebalancing rules compared, turnover and costs;
* :mod:`backtest.crypto.risk`: Euler risk contributions to volatility and CVaR;
* :mod:`backtest.crypto.history`: how Bitcoin's own history is used, yearly statistics and
  the data-quality caveat from PROVENANCE;
* :mod:`backtest.crypto.window`: a sleeve added to a portfolio over a historical window.

Deterministic stress shocks are generic and live in :mod:`backtest.stress`. The
break-even search (a bisection) sits at the optimisation layer,
``optimize.crypto_breakeven``.
"""
