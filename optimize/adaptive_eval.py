"""Measuring an adaptive policy against its own promise and against deterministic paths.

Every strategy is simulated with the engine (``backtest.simulate.simulate``, which reads
the policy's state table at each scenario's real wealth) on the same scenarios, so
differences are paired (common random numbers): for strategies ``A`` and ``B`` the
per-scenario difference ``d = ok_A - ok_B`` has mean ``P_A - P_B`` and standard error
``std(d) / sqrt(n)``, much smaller than either success rate's own.

Scenario sets (:func:`scenario_sets`): fresh i.i.d. draws from the solver's own model
(where the DP value is a promise the simulation must keep, within sampling error and the
trading costs the Bellman recursion leaves out), and held-out sets that break the model's
assumptions: a stationary block bootstrap and the historical cohorts (serial dependence
of the history), and parametric lognormal scenarios (a smooth distribution without the
history's fat tails, fitted to the same years).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.errors import DataError
from backtest.generators import block_bootstrap, historical_cohorts, parametric
from backtest.outcomes import (
    RISK_AVERSIONS,
    mean_unpaid_years_given_failure,
    success_rate,
    survival_weighted_success,
)
from backtest.outcomes import unpaid_years as outcome_unpaid_years
from backtest.plan import Plan
from backtest.scenarios import Scenarios
from backtest.simulate import SimulationResult, simulate
from backtest.types import FloatArray
from optimize.dynamic import IncomeValuation, ReturnModel
from strategies.base import Strategy


@dataclass(frozen=True)
class StrategyScore:
    """One strategy on one scenario set.

    Attributes
    ----------
    name
        Strategy label.
    success
        Share of scenarios whose money lasts (survival-weighted when the evaluation has a
        survival curve), decimal.
    success_se
        Its standard error, decimal.
    diff, diff_se
        Paired difference ``reference - this`` in success and its standard error
        (decimal; 0 for the reference itself).
    median_terminal
        Median real terminal wealth, USD of the start date.
    unpaid_years_when_failed
        Mean years of spending left unpaid among the scenarios that fail (NaN if none).
    turnover
        Mean one-way turnover a year, decimal of the balance, over years with money.
    equity_median_path
        Median across scenarios of the equity share held at each age, (n_years,).
    unpaid_years_when_failed_se
        Standard error of ``unpaid_years_when_failed``
        (:func:`backtest.outcomes.mean_unpaid_years_given_failure`; NaN below 2 failures).
    ce
        ``(gamma, CE, s.e.)`` of the certainty-equivalent retirement income at each risk
        aversion (:func:`ce_income`), real USD a year; empty without a valuation.
    """

    name: str
    success: float
    success_se: float
    diff: float
    diff_se: float
    median_terminal: float
    unpaid_years_when_failed: float
    turnover: float
    equity_median_path: FloatArray
    unpaid_years_when_failed_se: float = float("nan")
    ce: tuple[tuple[float, float, float], ...] = ()

    def ce_at(self, gamma: float) -> tuple[float, float]:
        """``(CE, s.e.)`` at risk aversion ``gamma``, real USD a year (NaN if not scored)."""
        for g, c, se in self.ce:
            if abs(g - gamma) < 1e-12:
                return c, se
        return float("nan"), float("nan")


def ce_income(result: SimulationResult, valuation: IncomeValuation) -> tuple[float, float]:
    """Certainty-equivalent retirement income of an annual simulation and its standard
    error, real USD a year, valued as the DP's CE objective values it
    (:class:`optimize.dynamic.IncomeValuation`: floor + withdrawals paid each retirement
    year, the bequest term on the wealth at each year's end)."""
    if result.schedule.periods_per_year != 1:
        raise DataError(
            "ce_income needs an annual simulation (the DP's steps); simulate with "
            "frequency='annual' scenarios"
        )
    paid = np.asarray(result.withdrawals, dtype=np.float64)
    wealth_end = np.maximum(np.asarray(result.wealth, dtype=np.float64)[:, 1:], 0.0)
    return valuation.certainty_equivalent_se(valuation.path_values(paid, wealth_end))


def at_gamma(valuation: IncomeValuation, gamma: float) -> IncomeValuation:
    """The same valuation at another risk aversion (floor, scale, reference kept)."""
    prefs = dataclasses.replace(valuation.preferences, gamma=gamma)
    return dataclasses.replace(valuation, preferences=prefs)


def _ce_scores(
    result: SimulationResult, valuation: IncomeValuation | None
) -> tuple[tuple[float, float, float], ...]:
    """:func:`ce_income` at every risk aversion of the reports and the valuation's own."""
    if valuation is None:
        return ()
    gammas = sorted({*RISK_AVERSIONS, valuation.preferences.gamma})
    return tuple((g, *ce_income(result, at_gamma(valuation, g))) for g in gammas)


@dataclass(frozen=True)
class SetEvaluation:
    """Every strategy on one scenario set; ``rows[0]`` is the reference (the policy)."""

    label: str
    description: str
    n_scenarios: int
    rows: tuple[StrategyScore, ...]
    ages: FloatArray

    def row(self, name: str) -> StrategyScore:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)


def success_weights(result: SimulationResult, survival: FloatArray | None) -> FloatArray:
    """Per-scenario success (1/0), or, with one-year ``survival`` probabilities, the
    survival-weighted success of :func:`backtest.outcomes.survival_weighted_success`.

    ``survival[t]`` is the probability of living through plan year ``t`` (from the start
    age, one per year, as :func:`optimize.dynamic.solve_adaptive` takes it); only the
    years from the retirement age on matter, since the weighting is conditional on being
    alive at retirement.
    """
    ruin = result.ruin_period
    if survival is None:
        return (ruin < 0).astype(np.float64)
    lx = np.concatenate([[1.0], np.cumprod(np.asarray(survival, dtype=np.float64))])
    plan = result.plan
    return survival_weighted_success(result.ruin_age, plan.retirement_age, lx, plan.start_age)


def unpaid_years(result: SimulationResult) -> FloatArray:
    """Years of spending need left unpaid to the end age, (n,).

    :func:`backtest.outcomes.unpaid_years` of the withdrawals asked for and paid: a year
    of ruin paid in part counts its unpaid share (real years of the need, every year to
    the end age counted, not survival-weighted).
    """
    return outcome_unpaid_years(
        result.withdrawals_wanted, result.withdrawals, result.schedule.periods_per_year
    )


def _equity_path(result: SimulationResult, equity_assets: Sequence[str]) -> FloatArray:
    assert result.weights is not None
    idx = [i for i, a in enumerate(result.assets) if a in equity_assets]
    eq = result.weights[:, :, idx].sum(axis=2)
    return np.median(eq, axis=0)


def _turnover(result: SimulationResult) -> float:
    alive = result.wealth[:, :-1] > 0
    t = np.asarray(result.turnover)[alive]
    return float(t.mean() * result.schedule.periods_per_year) if t.size else 0.0


def evaluate_set(
    label: str,
    scenarios: Scenarios,
    plan: Plan,
    strategies: Mapping[str, Strategy],
    *,
    equity_assets: Sequence[str],
    survival: FloatArray | None = None,
    valuation: IncomeValuation | None = None,
) -> SetEvaluation:
    """Simulate every strategy on ``scenarios``; the first one is the paired reference.
    With ``valuation`` (a CE objective's) every row also scores the CE income at the
    report's risk aversions (:func:`ce_income`)."""
    oks: dict[str, FloatArray] = {}
    rows: list[StrategyScore] = []
    ages: FloatArray = np.empty(0)
    for name, strat in strategies.items():
        res = simulate(scenarios, plan, strat, record_weights=True, engine="numpy")
        ages = res.schedule.age_start
        ok = success_weights(res, survival)
        oks[name] = ok
        ref = next(iter(oks.values()))
        d = ref - ok
        n = ok.size
        sr = success_rate(ok)
        lost = mean_unpaid_years_given_failure(unpaid_years(res), res.ruin_period >= 0)
        rows.append(
            StrategyScore(
                name=name,
                success=sr.rate,
                success_se=sr.se if n > 1 else float("nan"),
                diff=float(d.mean()),
                diff_se=float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"),
                median_terminal=float(np.median(res.terminal_wealth)),
                unpaid_years_when_failed=lost.years,
                turnover=_turnover(res),
                equity_median_path=_equity_path(res, equity_assets),
                unpaid_years_when_failed_se=lost.se,
                ce=_ce_scores(res, valuation),
            )
        )
    return SetEvaluation(
        label=label,
        description=scenarios.description,
        n_scenarios=scenarios.n_scenarios,
        rows=tuple(rows),
        ages=ages,
    )


def scenario_sets(
    history: pd.DataFrame,
    model: ReturnModel,
    assets: Sequence[str],
    n_years: int,
    n_scenarios: int,
    seed: int,
) -> dict[str, Scenarios]:
    """The four sets: fresh i.i.d. draws from ``model`` and three held-out generators.

    Seeds: ``seed`` (i.i.d.), ``seed + 1`` (block bootstrap), ``seed + 2`` (parametric);
    the cohorts are every rolling window of ``n_years`` of ``history``.
    """
    names = list(assets)
    out = {
        "iid": model.select(names).sample(n_scenarios, n_years, seed),
        "block bootstrap": block_bootstrap(history, names, n_scenarios, n_years, rng=seed + 1),
        "parametric": parametric(history, names, n_scenarios, n_years, rng=seed + 2),
    }
    if len(history) >= n_years:
        out["historical cohorts"] = historical_cohorts(history, names, n_years)
    return out


@dataclass(frozen=True)
class PromiseCheck:
    """The DP's promise against the engine's forward simulation on fresh i.i.d. scenarios.

    ``unit``: ``"probability"`` (decimal, the success objectives) or ``"USD a year"`` (a
    CE income, the CE objective); ``gap_pp`` is meaningful for probabilities only.
    """

    promised: float
    simulated: float
    se: float
    n_scenarios: int
    unit: str = "probability"

    @property
    def gap_pp(self) -> float:
        return 100.0 * (self.simulated - self.promised)

    @property
    def within_two_se(self) -> bool:
        return abs(self.simulated - self.promised) <= 2.0 * self.se


def promise_check(
    promised: float, evaluation: SetEvaluation, valuation: IncomeValuation | None = None
) -> PromiseCheck:
    """Compare ``promised`` with the reference row of ``evaluation`` (the policy): its
    success, or with a CE objective's ``valuation`` its CE income at that valuation's
    risk aversion (``promised`` then the DP's CE, USD a year)."""
    r = evaluation.rows[0]
    if valuation is None:
        return PromiseCheck(promised, r.success, r.success_se, evaluation.n_scenarios)
    ce, se = r.ce_at(valuation.preferences.gamma)
    return PromiseCheck(promised, ce, se, evaluation.n_scenarios, unit="USD a year")


__all__ = [
    "PromiseCheck",
    "SetEvaluation",
    "StrategyScore",
    "at_gamma",
    "block_length_sweep",
    "ce_income",
    "evaluate_set",
    "promise_check",
    "scenario_sets",
    "success_weights",
    "unpaid_years",
]


def block_length_sweep(
    history: pd.DataFrame,
    plan: Plan,
    strategy: Strategy,
    assets: Sequence[str],
    block_lengths: Sequence[float],
    n_scenarios: int,
    seed: int,
) -> dict[float, tuple[float, float]]:
    """Success (and its s.e.) on stationary block bootstraps of each mean block length.

    Block length 1 resamples single years, the i.i.d. model the DP solves; longer blocks
    keep more of the history's serial dependence, so the trend says how much of a gap to
    the promise serial dependence explains. Same seed for every length.
    """
    n_t = plan.n_periods(1)
    out: dict[float, tuple[float, float]] = {}
    for b in block_lengths:
        sc = block_bootstrap(history, list(assets), n_scenarios, n_t, block_length=b, rng=seed)
        sr = success_rate(simulate(sc, plan, strategy).ruin_period < 0)
        out[float(b)] = (sr.rate, sr.se)
    return out
