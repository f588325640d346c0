"""The assumption surface: what a sleeve changes, over a grid of Bitcoin assumptions.

For every sleeve size and every (mean, volatility, correlation) cell the plan is run on
the same base scenarios and the same Bitcoin shocks (:class:`~backtest.crypto.assumptions.CrnDraws`),
and compared with the base strategy without a sleeve on those scenarios. Reported per
cell, as the sleeve's value and its change against no sleeve:

* ``success``: probability of success under the plan's definition;
* ``success_sw`` (when a survival curve is given): survival-weighted success, the
  probability that the money lasts as long as the member lives given alive at
  retirement, ``1 - S(ruin age) / S(retirement age)`` per scenario (1 if never ruined),
  the one definition of :func:`backtest.outcomes.survival_weighted_success`;
* ``median_terminal``: median real terminal wealth (USD of the start date);
* ``es_retirement``: expected shortfall of real wealth at retirement, the mean of its
  worst ``1 - ES_LEVEL`` share of scenarios (USD; higher is better; at the end age the
  worst 5 % are mostly ruined, so terminal wealth would read 0 for every strategy);
* ``max_drawdown``: mean over scenarios of the maximum drawdown of the nominal return
  index of the strategy's target mix, rebalanced every period, before fees (decimal,
  <= 0; cash flows do not count as drawdowns). In an annual simulation with annual
  rebalancing this is the return the member's portfolio earns.

The surface uses the simulator's summary pass (:func:`backtest.simulate.simulate_chunked`,
no paths kept), which is what makes a 490-cell surface of 10,000 scenarios fast.

Standard errors of the changes come from the pairing: for means (success, drawdown) the
standard deviation of the per-scenario differences over ``sqrt(n)``; for the median and
the expected shortfall, batch means: the scenarios are cut into ``n_batches`` equal
batches, the change is computed in each, and the standard error is the standard
deviation of the batch changes over ``sqrt(n_batches)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest import outcomes as outcome_metrics
from backtest.crypto.assumptions import BtcAssumption, CrnDraws, Shocks
from backtest.errors import DataError
from backtest.metrics import max_drawdown
from backtest.plan import Plan
from backtest.scenarios import Scenarios
from backtest.simulate import SimulationResult, simulate_chunked, success_of
from backtest.types import BoolArray, FloatArray, IntArray
from strategies.base import Schedule, Strategy

#: Makes the sleeve strategy of a given size (decimal) from the base.
SleeveFactory = Callable[[float], Strategy]

#: Level of the expected shortfall of terminal wealth (mean of the worst 5 %).
ES_LEVEL = 0.95


@dataclass(frozen=True)
class Outcome:
    """Per-scenario results of one run that the research tables reduce, each (n,).

    Attributes
    ----------
    success
        Success under the plan's definition.
    terminal
        Real terminal wealth, USD of the start date.
    at_retirement
        Real wealth at the retirement age, USD.
    max_drawdown
        Maximum drawdown of a nominal return index before fees, decimal <= 0: of the
        portfolio held (:func:`outcome`) or of the target mix (:func:`summary_outcome`).
    turnover
        Mean one-way turnover a year, decimal of the balance (None from the summary pass).
    costs
        Total trading costs over the plan, real USD (None from the summary pass).
    survival_success
        Survival-weighted success (:func:`survival_weighted_success`), None without a
        survival curve.
    """

    success: BoolArray
    terminal: FloatArray
    at_retirement: FloatArray
    max_drawdown: FloatArray
    turnover: FloatArray | None = None
    costs: FloatArray | None = None
    survival_success: FloatArray | None = None


def outcome(res: SimulationResult) -> Outcome:
    """Reduce a full :class:`SimulationResult` to an :class:`Outcome` (the portfolio held)."""
    years = res.wealth.shape[1] - 1
    years /= res.schedule.periods_per_year
    return Outcome(
        success=np.asarray(res.success),
        terminal=np.asarray(res.terminal_wealth),
        at_retirement=np.asarray(res.wealth_at_retirement),
        max_drawdown=np.asarray(max_drawdown(res.portfolio_returns)),
        turnover=np.asarray(res.turnover).sum(axis=1) / years,
        costs=np.asarray(res.costs).sum(axis=1),
    )


def target_mix_returns(scenarios: Scenarios, plan: Plan, strategy: Strategy) -> FloatArray:
    """Nominal return per period of ``strategy``'s target mix, rebalanced every period,
    before fees, (n_scenarios, n_periods of the plan)."""
    ppy = scenarios.periods_per_year
    n_t = plan.n_periods(ppy)
    r = scenarios.returns[:, :n_t, scenarios.asset_index(tuple(strategy.assets))]
    schedule = Schedule.from_ages(plan.start_age, plan.end_age, plan.retirement_age, ppy)
    w = np.asarray(strategy.target_weights(schedule, r), dtype=np.float64)
    return np.einsum("stA,stA->st", np.broadcast_to(w, r.shape), r)


def survival_weighted_success(
    ruin_period: IntArray, plan: Plan, periods_per_year: int, survival: FloatArray
) -> FloatArray:
    """Per-scenario survival-weighted success: :func:`backtest.outcomes.survival_weighted_success`.

    ``survival[k]`` is the probability of being alive at ``floor(retirement_age) + k``
    years (whole years) given alive at that age, e.g. from
    ``backtest.mortality.survival_curve``; ruin ages (monthly ones too) read it linearly
    between whole ages, and ages beyond the curve read its last value.
    """
    return outcome_metrics.survival_weighted_success(
        outcome_metrics.ruin_ages(ruin_period, plan.start_age, periods_per_year),
        plan.retirement_age,
        survival,
        math.floor(plan.retirement_age),
    )


def summary_outcome(
    scenarios: Scenarios, plan: Plan, strategy: Strategy, survival: FloatArray | None = None
) -> Outcome:
    """An :class:`Outcome` from the simulator's summary pass (no paths kept).

    ``max_drawdown`` is that of the target mix (:func:`target_mix_returns`); turnover and
    costs are not available. ``survival``: see :func:`survival_weighted_success`.
    """
    summ = simulate_chunked([scenarios], plan, strategy)
    ruin = np.asarray(summ.ruin_period)
    ok = success_of(plan, ruin, np.asarray(summ.wealth_at_retirement))
    sw = None
    if survival is not None:
        sw = survival_weighted_success(ruin, plan, scenarios.periods_per_year, survival)
    return Outcome(
        success=np.asarray(ok),
        terminal=np.asarray(summ.terminal_wealth),
        at_retirement=np.asarray(summ.wealth_at_retirement),
        max_drawdown=np.asarray(max_drawdown(target_mix_returns(scenarios, plan, strategy))),
        survival_success=sw,
    )


def expected_shortfall(values: FloatArray, level: float = ES_LEVEL) -> float:
    """Mean of the worst ``ceil(n * (1 - level))`` values (at least one), same units
    (:func:`backtest.outcomes.tail_mean`, lower tail: low wealth is the bad outcome)."""
    return float(outcome_metrics.tail_mean(values, level, "lower"))


def _batch_se(
    a: FloatArray, b: FloatArray, stat: Callable[[FloatArray], float], n_batches: int
) -> float:
    """Batch-means standard error of ``stat(b) - stat(a)`` (paired scenarios)."""
    n = a.size
    size = n // n_batches
    if size < 2:
        return float("nan")
    d = [
        stat(b[i * size : (i + 1) * size]) - stat(a[i * size : (i + 1) * size])
        for i in range(n_batches)
    ]
    return float(np.std(d, ddof=1) / math.sqrt(n_batches))


def _paired_se(a: FloatArray, b: FloatArray) -> float:
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    return float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else float("nan")


def compare(base: Outcome, other: Outcome, n_batches: int = 20) -> dict[str, float]:
    """Values of ``other`` and its changes against ``base`` on the same scenarios.

    Keys: ``success``, ``median_terminal``, ``es_retirement``, ``max_drawdown``, each
    with ``d_`` (change) and ``se_`` (standard error of the change) variants, and
    ``turnover`` (mean a year, decimal) and ``costs`` (mean, real USD) when known.
    """
    s0 = base.success.astype(np.float64)
    s1 = other.success.astype(np.float64)
    out = {
        "success": float(s1.mean()),
        "d_success": float(s1.mean() - s0.mean()),
        "se_success": _paired_se(s0, s1),
        "median_terminal": float(np.median(other.terminal)),
        "d_median_terminal": float(np.median(other.terminal) - np.median(base.terminal)),
        "se_median_terminal": _batch_se(base.terminal, other.terminal, np.median, n_batches),
        "es_retirement": expected_shortfall(other.at_retirement),
        "d_es_retirement": expected_shortfall(other.at_retirement)
        - expected_shortfall(base.at_retirement),
        "se_es_retirement": _batch_se(
            base.at_retirement, other.at_retirement, expected_shortfall, n_batches
        ),
        "max_drawdown": float(other.max_drawdown.mean()),
        "d_max_drawdown": float(other.max_drawdown.mean() - base.max_drawdown.mean()),
        "se_max_drawdown": _paired_se(base.max_drawdown, other.max_drawdown),
    }
    if base.survival_success is not None and other.survival_success is not None:
        out["success_sw"] = float(other.survival_success.mean())
        out["d_success_sw"] = float(other.survival_success.mean() - base.survival_success.mean())
        out["se_success_sw"] = _paired_se(base.survival_success, other.survival_success)
    if other.turnover is not None and other.costs is not None:
        out["turnover"] = float(other.turnover.mean())
        out["costs"] = float(other.costs.mean())
    return out


def assumption_grid(
    means: Sequence[float],
    vols: Sequence[float],
    corrs: Sequence[float],
    shocks: Shocks = "normal",
) -> list[BtcAssumption]:
    """Every (mean, vol, corr) combination, means fastest.

    ``means`` and ``vols`` are ARITHMETIC: the expected annual simple return and its
    standard deviation, decimals (:meth:`BtcAssumption.from_arithmetic`), so at a fixed
    mean more volatility means a lower log mean (more volatility drag), never more reward.
    """
    return [
        BtcAssumption.from_arithmetic(m, v, c, shocks)
        for c, v, m in itertools.product(corrs, vols, means)
    ]


def run_surface(
    draws: CrnDraws,
    plan: Plan,
    base: Strategy,
    sleeve: SleeveFactory,
    sizes: Sequence[float],
    grid: Sequence[BtcAssumption],
    *,
    n_batches: int = 20,
    survival: FloatArray | None = None,
) -> pd.DataFrame:
    """The surface table: one row per (sleeve size > 0, assumption).

    Parameters
    ----------
    draws
        Base scenarios and Bitcoin shocks (common random numbers).
    plan
        The member.
    base
        The strategy without a sleeve (the reference of every change).
    sleeve
        ``sleeve(size)`` builds the strategy with a sleeve of ``size`` (decimal).
    sizes
        Sleeve sizes, decimal; 0 is the reference and gets no rows of its own.
    grid
        Bitcoin assumptions (:func:`assumption_grid`).
    survival
        Survival curve from the retirement age (yearly), to add survival-weighted success
        (:func:`survival_weighted_success`); None to leave it out.

    Returns
    -------
    pandas.DataFrame
        Columns ``sleeve``, ``mean`` and ``vol`` (arithmetic: expected annual simple
        return and its standard deviation, decimals), ``corr``, ``shocks``, ``mean_log``
        and ``vol_log`` (the lognormal parameters) and the keys of :func:`compare`.
    """
    if not grid:
        raise DataError("the assumption grid is empty; give at least one mean, vol and corr")
    ref = summary_outcome(draws.scenarios(grid[0]), plan, base, survival)
    rows = []
    for size in sizes:
        if size <= 0:
            continue
        strategy = sleeve(size)
        for a in grid:
            row = {
                "sleeve": float(size),
                # Rounded off the lognormal round trip, so the grid stays rectangular.
                "mean": round(a.arithmetic_mean, 12) + 0.0,  # + 0.0: no "-0.0"
                "vol": round(a.arithmetic_vol, 12) + 0.0,
                "corr": a.corr_equity,
                "shocks": a.shocks,
                "mean_log": a.mean_log,
                "vol_log": a.vol_log,
            }
            out = summary_outcome(draws.scenarios(a), plan, strategy, survival)
            row.update(compare(ref, out, n_batches))
            rows.append(row)
    return pd.DataFrame(rows)
