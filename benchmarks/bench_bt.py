"""Against a peer: the same fixed mix with ``bt`` and with ``backtest.simulate``.

Portfolio: 60 % ``us_stocks`` / 40 % ``tbills`` (embedded monthly data, whole years of
their common period), rebalanced to target every month, no flows, no fees, no costs,
initial capital 1,000,000. The simulator works in real terms, so the scenario's inflation
is set to zero to make its wealth nominal, like bt's.

bt is driven on prices: each series' price is the cumulative product of ``1 + r`` from 1
on the month-end before the first return (bt then prepends its own empty row one day
earlier). ``RunMonthly`` fires on every row (each is a new month) including the first,
``WeighSpecified`` + ``Rebalance`` trade back to 60/40 at that row's close, and
``integer_positions=False`` lets bt hold fractional units, so nothing is left in cash.
bt's value on row ``t`` is then the simulator's ``wealth[:, t]``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

WEIGHTS = {"us_stocks": 0.6, "tbills": 0.4}
CAPITAL = 1_000_000.0


def _returns() -> pd.DataFrame:
    from backtest.data import load_history

    df = load_history(list(WEIGHTS), frequency="monthly")
    n = (len(df) // 12) * 12
    return df.iloc[:n]


def _prices(returns: pd.DataFrame) -> pd.DataFrame:
    first = returns.index[0] - pd.offsets.MonthEnd(1)
    growth = (1.0 + returns).cumprod()
    start = pd.DataFrame([[1.0] * returns.shape[1]], index=[first], columns=returns.columns)
    return pd.concat([start, growth])


def run_bt(prices: pd.DataFrame) -> np.ndarray:
    """bt's portfolio value on every row of ``prices``."""
    import bt

    strategy = bt.Strategy(
        "fixed 60/40",
        [
            bt.algos.RunMonthly(),
            bt.algos.SelectAll(),
            bt.algos.WeighSpecified(**WEIGHTS),
            bt.algos.Rebalance(),
        ],
    )
    test = bt.Backtest(
        strategy, prices, initial_capital=CAPITAL, integer_positions=False, progress_bar=False
    )
    res = bt.run(test)
    values = res.backtests[test.name].strategy.values
    return values.loc[prices.index].to_numpy(dtype=np.float64)


def run_glidelab(returns: pd.DataFrame) -> np.ndarray:
    """``backtest.simulate`` wealth (nominal, inflation set to 0), shape (T + 1,)."""
    from backtest.plan import Plan
    from backtest.scenarios import Scenarios
    from backtest.simulate import simulate
    from benchmarks.workload import fixed_mix

    r = returns.to_numpy(dtype=np.float64)[None]
    sc = Scenarios(
        returns=r,
        inflation=np.zeros(r.shape[:2]),
        assets=tuple(returns.columns),
        frequency="monthly",
    )
    years = r.shape[1] // 12
    plan = Plan(
        start_age=0.0, retirement_age=float(years), end_age=float(years), initial_balance=CAPITAL
    )
    strategy, _ = fixed_mix("fixed 60/40", tuple(WEIGHTS), tuple(WEIGHTS.values()))
    return np.asarray(simulate(sc, plan, strategy).wealth[0])


def _time(fn: Any, arg: Any, repeat: int) -> tuple[list[float], np.ndarray]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(arg)
        times.append(time.perf_counter() - t0)
    return times, out


def run(repeat: int) -> dict[str, object]:
    """Both wealth paths, their largest relative difference, and the timings."""
    try:
        import bt
    except ImportError:
        return {"skipped": 'bt is not installed; install it with `pip install -e ".[bench]"`'}
    from benchmarks.workload import fixed_mix

    _, strategy_note = fixed_mix("x", tuple(WEIGHTS), tuple(WEIGHTS.values()))
    returns = _returns()
    prices = _prices(returns)
    run_glidelab(returns)  # warm-up: first-call imports are not simulator time
    t_bt, w_bt = _time(run_bt, prices, repeat)
    t_gl, w_gl = _time(run_glidelab, returns, repeat)
    rel = np.abs(w_gl - w_bt) / np.abs(w_bt)
    worst = int(np.argmax(rel))
    # How far a wrong rebalancing rule would be: the same 60/40 bought and never traded.
    growth = np.vstack([np.ones(2), (1.0 + returns.to_numpy()).cumprod(axis=0)])
    hold = CAPITAL * growth @ np.array(list(WEIGHTS.values()))
    hold_rel = float(np.max(np.abs(hold - w_bt) / np.abs(w_bt)))
    return {
        "bt_version": getattr(bt, "__version__", "?"),
        "period": f"{returns.index[0]:%Y-%m} .. {returns.index[-1]:%Y-%m}",
        "n_periods": len(returns),
        "max_rel_diff": float(rel.max()),
        "worst_date": f"{prices.index[worst]:%Y-%m}",
        "buy_and_hold_rel_diff": hold_rel,
        "terminal_glidelab": float(w_gl[-1]),
        "terminal_bt": float(w_bt[-1]),
        "bt_s": t_bt,
        "glidelab_s": t_gl,
        "strategy": strategy_note,
    }
