"""Run a strategy as a fund over one historical path.

``backtest_history`` treats the strategy as a fund: 1 USD invested at the start, no
contributions, no withdrawals; it goes through :func:`backtest.simulate.simulate` with a
single scenario built from the history frame, so fees, trading costs, rebalancing and
sleeve bands behave exactly as in the Monte Carlo studies. The result is a set of pandas
objects indexed by the period-end dates of the history.

For a target-date strategy the member's age runs through the history: the fund is a
*vintage*, by default the one that retires at the end of the sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.errors import DataError
from backtest.plan import Plan
from backtest.scenarios import Scenarios
from backtest.simulate import SimulationResult, simulate
from backtest.types import FloatArray, Frequency, infer_frequency, periods_per_year
from strategies.base import Strategy

#: Oldest age a plan accepts (``Plan`` validates ``end_age <= 125``).
_MAX_AGE = 125.0


@dataclass(frozen=True)
class HistoricalBacktest:
    """One strategy run as a fund over one historical path.

    Every series is indexed by period-end dates; returns are decimals per period.

    Attributes
    ----------
    name
        The strategy's name.
    frequency
        ``"annual"`` or ``"monthly"``.
    returns_nominal, returns_real
        Fund returns after fees and trading costs (what a holder earned), nominal and
        real (deflated by ``inflation``).
    returns_gross
        Nominal portfolio returns before fees and costs.
    inflation
        CPI change per period used to deflate (zeros when none was given).
    weights
        Realised weights after rebalancing at the start of each period (columns = assets).
    turnover
        One-way turnover per period, decimal of the balance.
    fee_rate
        Fees plus trading costs per period, decimal of the balance at the period start.
    age
        Member's age at the start of each period, years.
    retirement_year
        Calendar year in which the vintage reaches the retirement age.
    result
        The underlying single-scenario :class:`~backtest.simulate.SimulationResult`.
    """

    name: str
    frequency: Frequency
    returns_nominal: pd.Series
    returns_real: pd.Series
    returns_gross: pd.Series
    inflation: pd.Series
    weights: pd.DataFrame
    turnover: pd.Series
    fee_rate: pd.Series
    age: pd.Series
    retirement_year: float
    result: SimulationResult

    @property
    def periods_per_year(self) -> int:
        return periods_per_year(self.frequency)


def _period_start_year(date: pd.Timestamp, ppy: int) -> float:
    """Calendar time (fractional year) at which the period ending at ``date`` starts."""
    return date.year + (date.month - 12 // ppy) / 12.0 if ppy > 1 else float(date.year)


def _inflation(
    history: pd.DataFrame, inflation: pd.Series | None, inflation_column: str
) -> pd.Series:
    """CPI change per period on ``history``'s dates: given, else its column, else zero."""
    if inflation is None:
        if inflation_column in history.columns:
            return history[inflation_column]
        return pd.Series(0.0, index=history.index)
    infl = inflation.reindex(history.index)
    if infl.isna().any():
        raise DataError("inflation does not cover every period of the history")
    return infl


def _start_age(
    years: float,
    first_year: float,
    retirement_age: float,
    retirement_year: float | None,
    start_age: float | None,
) -> float:
    """The vintage's age at the start of a ``years``-long history starting in ``first_year``."""
    if retirement_year is not None and start_age is not None:
        raise DataError("give retirement_year or start_age, not both")
    if start_age is None:
        if retirement_year is None:
            age0 = max(retirement_age - years, 0.0)
        else:
            age0 = retirement_age - (float(retirement_year) - first_year)
    else:
        age0 = float(start_age)
    if age0 < 0 or age0 + years > _MAX_AGE:
        raise DataError(
            f"the vintage puts the member at age {age0:g} to {age0 + years:g} over this "
            f"{years:g}-year history; ages must stay within 0..{_MAX_AGE:g}: choose a "
            "retirement_year closer to the sample or a shorter start/end"
        )
    return age0


def _one_path(
    history: pd.DataFrame, assets: tuple[str, ...], inflation: FloatArray, frequency: Frequency
) -> Scenarios:
    """The history's ``assets`` columns as a single scenario, labelled by its first date."""
    # Gaps (NaN) are allowed where the strategy holds nothing; the simulator refuses the rest.
    return Scenarios(
        returns=history.loc[:, list(assets)].to_numpy(dtype=np.float64)[None, :, :],
        inflation=inflation[None, :],
        assets=assets,
        frequency=frequency,
        labels=(str(history.index[0].date()),),
        description=f"historical path {history.index[0].date()} to {history.index[-1].date()}",
    )


def _as_fund(
    res: SimulationResult,
    name: str,
    idx: pd.Index,
    inflation: FloatArray,
    frequency: Frequency,
    age0: float,
    retirement_year: float,
) -> HistoricalBacktest:
    """The single-scenario ``res`` as fund series on the history's period-end dates ``idx``."""
    wealth = res.wealth[0]
    real = pd.Series(wealth[1:] / wealth[:-1] - 1.0, index=idx, name=name)
    nominal = pd.Series((1.0 + real.to_numpy()) * (1.0 + inflation) - 1.0, index=idx)
    nominal.name = name
    fee_rate = (res.fees[0] + res.costs[0]) / wealth[:-1]
    assert res.weights is not None
    ages = age0 + np.arange(len(idx)) / periods_per_year(frequency)
    return HistoricalBacktest(
        name=name,
        frequency=frequency,
        returns_nominal=nominal,
        returns_real=real,
        returns_gross=pd.Series(res.portfolio_returns[0], index=idx, name=name),
        inflation=pd.Series(inflation, index=idx, name="inflation"),
        weights=pd.DataFrame(res.weights[0], index=idx, columns=list(res.assets)),
        turnover=pd.Series(res.turnover[0], index=idx, name=name),
        fee_rate=pd.Series(fee_rate, index=idx, name=name),
        age=pd.Series(ages, index=idx, name="age"),
        retirement_year=retirement_year,
        result=res,
    )


def backtest_history(
    history: pd.DataFrame,
    strategy: Strategy,
    *,
    inflation: pd.Series | None = None,
    frequency: Frequency | None = None,
    retirement_age: float = 65.0,
    retirement_year: float | None = None,
    start_age: float | None = None,
    transaction_cost_bps: float = 0.0,
    expense_ratio: float = 0.0,
    inflation_column: str = "cpi",
) -> HistoricalBacktest:
    """Run ``strategy`` as a fund (no flows) over the historical path in ``history``.

    Parameters
    ----------
    history
        Decimal simple **nominal** returns per period, indexed by period-end dates, one
        column per asset (as from ``backtest.data.load_history``); must hold the strategy's
        assets; NaN is allowed only where the strategy holds no weight (e.g. a Bitcoin sleeve
        waiting in cash before 2011). A ``"cpi"`` column is used as inflation when ``inflation`` is
        not given.
    strategy
        Any ``strategies.base.Strategy``.
    inflation
        CPI change per period (decimal); default ``history[inflation_column]`` if present,
        else zero (real returns then equal nominal returns).
    frequency
        ``"annual"`` or ``"monthly"``; inferred from the dates when omitted.
    retirement_age
        Age (years) at which the vintage retires.
    retirement_year, start_age
        The vintage, at most one of them: the calendar year in which the member reaches
        ``retirement_age`` (e.g. 2026 = retires at the start of 2026), or the member's age
        at the start of the sample. Default: retirement at the end of the sample; when the
        sample is longer than ``retirement_age`` years the member starts it aged 0.
    transaction_cost_bps
        Cost of trading, basis points of the value traded.
    expense_ratio
        Fees, decimal of the balance a year.

    Returns
    -------
    HistoricalBacktest
    """
    if not isinstance(history, pd.DataFrame) or history.empty:
        raise DataError("history must be a non-empty DataFrame of returns (rows = periods)")
    freq: Frequency = frequency if frequency is not None else infer_frequency(history.index)
    ppy = periods_per_year(freq)
    missing = [a for a in strategy.assets if a not in history.columns]
    if missing:
        raise DataError(
            f"strategy {strategy.name!r} holds {missing}, which the history lacks; history has "
            f"{list(history.columns)}"
        )
    infl = _inflation(history, inflation, inflation_column).to_numpy(dtype=np.float64)
    assets = tuple(strategy.assets)
    years = len(history) / ppy
    first_year = _period_start_year(history.index[0], ppy)
    age0 = _start_age(years, first_year, retirement_age, retirement_year, start_age)
    plan = Plan(
        start_age=age0,
        retirement_age=min(max(retirement_age, age0), age0 + years),
        end_age=age0 + years,
        initial_balance=1.0,
        expense_ratio=expense_ratio,
        transaction_cost_bps=transaction_cost_bps,
    )
    res = simulate(_one_path(history, assets, infl, freq), plan, strategy, record_weights=True)
    retires = first_year + (retirement_age - age0)
    return _as_fund(res, strategy.name, history.index, infl, freq, age0, retires)


def riskfree_series(history: pd.DataFrame, column: str = "tbills") -> pd.Series:
    """The T-bill return column of ``history`` (decimal per period), with a clear error."""
    if column not in history.columns:
        raise DataError(
            f"history has no {column!r} column for the risk-free rate; load it with the "
            f"assets (columns: {list(history.columns)})"
        )
    rf = history[column]
    if rf.isna().any():
        raise DataError(f"the risk-free column {column!r} has gaps")
    return rf


__all__ = ["HistoricalBacktest", "backtest_history", "infer_frequency", "riskfree_series"]
