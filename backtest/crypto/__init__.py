"""Crypto-allocation research: should a small Bitcoin sleeve sit in a retirement portfolio?

One job per module, all on the public simulator API (:func:`backtest.simulate.simulate`):

* :mod:`backtest.crypto.assumptions`: stated forward Bitcoin assumptions (arithmetic
  annual expected return and volatility, correlation with equities, normal or Student-t;
  the central case from history) laid over one set of base scenarios with common random
  numbers (:class:`CrnDraws`);
* :mod:`backtest.crypto.surface`: change against no sleeve over a grid of assumptions, with
  paired standard errors;
* :mod:`backtest.crypto.rules`: sleeve rebalancing rules compared, turnover and costs;
* :mod:`backtest.crypto.risk`: Euler risk contributions to volatility and CVaR;
* :mod:`backtest.crypto.history`: how Bitcoin's own history is used, yearly statistics and
  the data-quality caveat from PROVENANCE;
* :mod:`backtest.crypto.window`: a sleeve added to a portfolio over a historical window;
* :mod:`backtest.crypto.stresses`: the stresses a fiduciary is asked about (impairment,
  crypto winter, premium decay, Bitcoin as leveraged equity, ETF fees, a member who sells
  after a 50 % fall);
* :mod:`backtest.crypto.vintage`: a sleeve that shrinks inside a target-date vintage,
  scored across the fund-design population, paired against the plain vintage;
* :mod:`backtest.crypto.disclosure`: the committee disclosure table (risk shares,
  drawdown and recovery, crash correlation, fee drag, liquidity).

Deterministic stress shocks are generic and live in :mod:`backtest.stress`. The
break-even search (a bisection) sits at the optimisation layer,
``optimize.crypto_breakeven``.
"""
