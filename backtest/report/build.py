"""Compute a tear sheet's numbers from a page's typed inputs.

A page is described by one :class:`TearsheetInputs`: the strategies shown side by side
and three optional groups, each of which adds its sections when it is given:

* :class:`HistoryInputs` (a historical path and how each strategy is run on it as a fund):
  the metrics table, growth, drawdown, rolling and calendar-year charts;
* :class:`MemberInputs` (a plan and the scenarios she is simulated on): the glide paths on
  the plan's own ages, the Monte Carlo fan chart (and the funded-ratio distribution when
  the plan's success is a ``FundedRatio`` or a pension target is given), the
  historical-cohort chart, the success heatmap and, with other sets, the "Success by
  scenario set" table;
* :class:`SleeveInputs`: the crypto-sleeve chart.

:func:`build_tearsheet_data` turns them into the page's data model,
:class:`~backtest.report.model.TearsheetData`: the one place where the report's numbers
are made; the renderers only draw them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd

from backtest.errors import DataError
from backtest.historical import HistoricalBacktest, backtest_history, riskfree_series
from backtest.metrics import (
    WEALTH_PERCENTILES,
    calendar_year_returns,
    drawdowns,
    max_drawdown,
    metrics_table,
    sharpe_ratio,
    wealth_percentiles,
)
from backtest.outcomes import cohort_effective_n, success_rate
from backtest.plan import ConstantReal, FundedRatio, MoneyLasts, Plan
from backtest.report.describe import describe_pension_target, describe_plan, plain_words
from backtest.report.income import (
    FLOOR_SHARE,
    age_only,
    annual_income,
    glide_label,
    income_ce,
    income_floor,
    income_row,
    planned_income,
)
from backtest.report.model import (
    COHORTS,
    HELD_OUT,
    IN_SAMPLE,
    CohortData,
    FanData,
    FundedRatioData,
    GlidePathData,
    IncomeTable,
    SetCell,
    SetColumn,
    SetsTable,
    SleeveData,
    SuccessGrid,
    SummaryRow,
    SummarySet,
    SummaryTable,
    TearsheetData,
)
from backtest.report.units import format_value, human_label
from backtest.scenarios import Scenarios
from backtest.simulate import SimulationResult, funded_ratio, simulate
from strategies.base import Schedule, Strategy

#: Percentile levels of the fan chart.
FAN_PERCENTILES: tuple[int, ...] = WEALTH_PERCENTILES

#: One settings row of a page: (label, value), both display text.
Setting = tuple[str, str]

#: Risk aversion of the CE in the "Success by scenario set" table (one of
#: ``backtest.outcomes.RISK_AVERSIONS``, the income table's).
SETS_GAMMA = 5.0

#: Heading of the historical cohorts in the "Success by scenario set" table.
COHORTS_LABEL = "historical cohorts"

# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, eq=False)
class HistoryInputs:
    """A historical path and how each strategy is run on it as a fund (no flows).

    Attributes
    ----------
    returns
        Decimal nominal returns per period indexed by period-end dates, holding every
        strategy's assets plus ``riskfree_column`` (T-bills) and ``inflation_column`` (CPI),
        over one common period.
    retirement_age, retirement_year
        Target-date vintages retire at this age (years) in this calendar year (default:
        chosen by ``backtest.historical.backtest_history``).
    expense_ratio
        Fund fees, decimal a year of the balance.
    transaction_cost_bps
        Trading cost, basis points of the value traded.
    riskfree_column, inflation_column
        Names of the T-bill and CPI columns of ``returns``.
    """

    returns: pd.DataFrame
    retirement_age: float = 65.0
    retirement_year: float | None = None
    expense_ratio: float = 0.0
    transaction_cost_bps: float = 0.0
    riskfree_column: str = "tbills"
    inflation_column: str = "cpi"

    @classmethod
    def for_plan(cls, returns: pd.DataFrame, plan: Plan) -> HistoryInputs:
        """The fund a member of ``plan`` holds: her retirement age, fees and trading cost."""
        return cls(
            returns,
            retirement_age=plan.retirement_age,
            expense_ratio=plan.expense_ratio,
            transaction_cost_bps=plan.transaction_cost_bps,
        )

    def backtest(self, strategy: Strategy) -> HistoricalBacktest:
        """``strategy`` run as a fund over ``returns`` on these terms."""
        return backtest_history(
            self.returns,
            strategy,
            retirement_age=self.retirement_age,
            retirement_year=self.retirement_year,
            expense_ratio=self.expense_ratio,
            transaction_cost_bps=self.transaction_cost_bps,
            inflation_column=self.inflation_column,
        )


@dataclass(frozen=True, eq=False)
class MemberInputs:
    """A member (plan) and the scenarios the page simulates her on.

    Attributes
    ----------
    plan
        The member: glide paths are drawn on her period ages (``start_age`` to
        ``end_age``, ``periods_per_year`` a year), the fan chart and funded ratios are
        simulated with her on ``scenarios``.
    periods_per_year
        The study's frequency: 1 (annual) or 12 (monthly); every scenario set given must
        have it.
    scenarios, scenarios_label
        Monte Carlo scenarios (fan chart, funded ratios, sleeve success) and their
        heading in the "Success by scenario set" table (default "Monte Carlo scenarios").
    other_sets
        Heading -> further scenario sets (e.g. other generators, the developed markets):
        each strategy's success and CE on each, beside ``scenarios`` and ``cohorts``, in
        the "Success by scenario set" table; empty: no such table.
    cohorts, cohort_plan
        Historical cohorts (``backtest.generators.historical_cohorts``) and the plan run on
        them (default ``plan``): terminal wealth and success by start year.
    pension_target
        A defined-benefit style target for the funded-ratio chart when ``plan.success`` is
        not itself a ``FundedRatio``: the ratio only needs each scenario's balance at
        retirement, so nothing is simulated twice.
    withdrawal_rates, mixes
        Initial withdrawal rates (decimal a year of the balance at retirement, held
        constant in real terms) and mixes (label -> strategy; default the page's
        strategies) of the success heatmap, run with ``cohort_plan`` (else ``plan``) on
        ``cohorts`` (else ``scenarios``).
    equity_assets
        The assets that count as equity for the "to" / "through" labels of the glide
        paths (e.g. the study's equity role); empty: no labels.
    """

    plan: Plan
    periods_per_year: int = 1
    scenarios: Scenarios | None = None
    cohorts: Scenarios | None = None
    other_sets: Mapping[str, Scenarios] = field(default_factory=dict)
    scenarios_label: str = ""
    cohort_plan: Plan | None = None
    pension_target: FundedRatio | None = None
    withdrawal_rates: tuple[float, ...] = ()
    mixes: Mapping[str, Strategy] | None = None
    equity_assets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.periods_per_year not in (1, 12):
            raise DataError(
                f"MemberInputs.periods_per_year={self.periods_per_year!r}: use 1 (annual) or "
                "12 (monthly), the study's frequency"
            )
        given = {"scenarios": self.scenarios, "cohorts": self.cohorts}
        given.update({f"other_sets[{k!r}]": v for k, v in self.other_sets.items()})
        for name, scen in given.items():
            if scen is not None and scen.periods_per_year != self.periods_per_year:
                raise DataError(
                    f"MemberInputs.{name} has {scen.periods_per_year} periods a year but the "
                    f"page is for {self.periods_per_year}; give scenarios of the study's "
                    "frequency"
                )
        object.__setattr__(self, "withdrawal_rates", tuple(float(r) for r in self.withdrawal_rates))
        object.__setattr__(self, "other_sets", dict(self.other_sets))
        if self.other_sets and self.scenarios is None:
            raise DataError(
                "MemberInputs.other_sets needs scenarios too: the page's Monte Carlo set, "
                "whose strategies' income floor the other sets' CE shares"
            )

    @property
    def grid_plan(self) -> Plan:
        """The plan the cohorts and the success heatmap use."""
        return self.cohort_plan if self.cohort_plan is not None else self.plan


@dataclass(frozen=True, eq=False)
class SleeveInputs:
    """Crypto sleeves: size (decimal weight) -> strategy, the base mix at size 0.

    Sharpe ratio and maximum drawdown come from ``history`` (default: the page's), success
    from ``scenarios`` with the page's plan when they hold the sleeve's assets (else NaN);
    ``success_on`` says what those scenarios resample (e.g. "2,000 scenarios resampling
    the study's 1928-2025 history") and ``caveat`` warns when they resample unreliable
    early years of the sleeve's asset.
    """

    strategies: Mapping[float, Strategy]
    history: HistoryInputs | None = None
    scenarios: Scenarios | None = None
    success_on: str = ""
    caveat: str = ""


@dataclass(frozen=True, eq=False)
class SummaryInputs:
    """What the summary table adds to the page's own simulations.

    Attributes
    ----------
    reference
        The 100 % equity strategy (e.g. the ``fixed_100_0`` preset on the study's assets):
        when it is not among the page's strategies it is simulated on the page's sets for
        the summary table only, so no other table or chart of the page changes.
    fitted
        Name of the strategy fitted on an in-sample set (the optimised glide path), "" if
        none.
    extra
        Figures computed elsewhere on sets the page does not simulate (the optimiser's
        in-sample and held-out sets): ``(SummarySet, strategy name -> SetCell)``.
    held_today
        Name of the strategy the member holds today ("" if none).
    best
        How many of the best strategies (by success on the page's Monte Carlo set) to mark.
    fails_below
        Success (decimal) below which a strategy gets a sentence on why it fails.
    notes
        Notes printed under the table (e.g. where the optimised path was fitted).
    flags
        Strategy name -> a short warning shown beside its name (e.g. a Bitcoin sleeve whose
        scenarios resample Bitcoin's unreliable early years).
    """

    reference: Strategy | None = None
    fitted: str = ""
    extra: tuple[tuple[SummarySet, Mapping[str, SetCell]], ...] = ()
    held_today: str = ""
    best: int = 3
    fails_below: float = 0.5
    notes: tuple[str, ...] = ()
    flags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PageText:
    """A page's words: headline, settings rows, footnotes, the seed and its key.

    ``key`` is the page's short name in a :class:`~backtest.report.model.TearsheetBook`
    (the plan's name); ``seed`` is added to the settings when given.
    """

    title: str = "Strategy tear sheet"
    subtitle: str = ""
    settings: tuple[Setting, ...] = ()
    notes: tuple[str, ...] = ()
    seed: int | None = None
    key: str = ""


@dataclass(frozen=True, eq=False)
class TearsheetInputs:
    """Everything one tear-sheet page is made from; a ``None`` group leaves its sections out.

    Attributes
    ----------
    strategies
        The strategies shown side by side (``strategies.base.Strategy``), unique names.
    history, member, sleeves
        See :class:`HistoryInputs`, :class:`MemberInputs`, :class:`SleeveInputs`.
    text
        Headline, settings, notes, seed and key (:class:`PageText`).
    summary
        What the opening summary table adds (:class:`SummaryInputs`); ``None``: a summary
        of the page's own strategies and sets (with a member and her scenarios).
    """

    strategies: tuple[Strategy, ...]
    history: HistoryInputs | None = None
    member: MemberInputs | None = None
    sleeves: SleeveInputs | None = None
    text: PageText = field(default_factory=PageText)
    summary: SummaryInputs | None = None

    def __post_init__(self) -> None:
        strategies = tuple(self.strategies)
        if not strategies:
            raise DataError("TearsheetInputs needs at least one strategy to show")
        names = [s.name for s in strategies]
        if len(set(names)) != len(names):
            raise DataError(
                f"strategy names must be unique in a tear sheet; got {names}: rename the "
                "duplicates (e.g. dataclasses.replace(strategy, name=...))"
            )
        object.__setattr__(self, "strategies", strategies)


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Part:
    """Some fields of a page, with the settings rows and notes that explain them."""

    fields: Mapping[str, object] = field(default_factory=dict)
    settings: tuple[Setting, ...] = ()
    notes: tuple[str, ...] = ()


def _start_date(index: pd.DatetimeIndex, ppy: int) -> pd.Timestamp:
    """End of the period before the first row: where growth of 1 starts."""
    return pd.Timestamp(index[0]) - pd.offsets.MonthEnd(12 // ppy)


def _with_start(frame: pd.DataFrame, start: pd.Timestamp, value: float) -> pd.DataFrame:
    head = pd.DataFrame([[value] * frame.shape[1]], index=[start], columns=frame.columns)
    out = pd.concat([head, frame])
    out.index = pd.DatetimeIndex(out.index, name=frame.index.name)
    return out


def _covers(scen: Scenarios, strategy: Strategy) -> bool:
    return all(a in scen.assets for a in strategy.assets)


def _retirement_plan(plan: Plan, rate: float) -> Plan:
    timing = plan.withdrawal.timing if plan.withdrawal is not None else "start"
    return dataclasses.replace(
        plan, withdrawal=ConstantReal(rate=rate, timing=timing), success=MoneyLasts()
    )


def rolling_windows(frequency: str) -> dict[str, int]:
    """Trailing windows (label -> periods): 1 and 3 years for monthly data; 3 and 5 years
    for annual data, where a 1-year window holds a single return and has no volatility."""
    if frequency == "monthly":
        return {"1-year": 12, "3-year": 36}
    return {"3-year": 3, "5-year": 5}


def rolling_stats(
    returns: pd.DataFrame, window: int, periods_per_year: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trailing annualised return and volatility over ``window`` periods (decimal a year).

    Return: ``exp(sum log(1 + r) * ppy / window) - 1``; volatility:
    ``std(r, ddof=1) * sqrt(ppy)``. NaN until a full window is available.
    """
    # numpy's stubs type a ufunc of a DataFrame as an ndarray; pandas returns a DataFrame.
    logs = cast(pd.DataFrame, np.log1p(returns)).rolling(window, min_periods=window).sum()
    ret = cast(pd.DataFrame, np.expm1(logs * periods_per_year / window))
    vol = returns.rolling(window, min_periods=window).std(ddof=1) * np.sqrt(periods_per_year)
    return ret, vol


def plan_schedule(plan: Plan, periods_per_year: int) -> Schedule:
    """The plan's periods: ages (years) at the start of each period from ``start_age`` to
    ``end_age``, ``periods_per_year`` a year; the schedule ``backtest.simulate`` uses."""
    return Schedule.from_ages(plan.start_age, plan.end_age, plan.retirement_age, periods_per_year)


def glide_path_of(
    strategy: Strategy, plan: Plan, periods_per_year: int = 1
) -> GlidePathData | None:
    """Target weights on the plan's own period ages when they depend on age only; else ``None``.

    Rows are the ages at the start of each of the plan's periods (:func:`plan_schedule`),
    so the chart spans the member's ages, ``start_age`` to ``end_age``. Strategies whose
    weights react to returns (volatility targets) or do not change over the plan (fixed
    mixes, or a target-date path already flat at these ages) have no glide path to draw.
    """
    if strategy.depends_on_returns:
        return None
    sched = plan_schedule(plan, periods_per_year)
    zeros = np.zeros((1, sched.n_periods, len(strategy.assets)))
    try:
        w = np.asarray(strategy.target_weights(sched, zeros), dtype=np.float64)
    except (ValueError, DataError):
        return None
    if w.ndim != 3 or w.shape[0] != 1:
        return None
    w = w[0]
    if np.max(np.abs(w - w[0])) < 1e-9:
        return None
    frame = pd.DataFrame(w, index=pd.Index(sched.age_start, name="age"), columns=strategy.assets)
    frame = frame.loc[:, (frame > 1e-12).any()]
    return GlidePathData(strategy.name, frame, float(plan.retirement_age), float(plan.end_age))


# --------------------------------------------------------------------------- sections


def _historical(strategies: tuple[Strategy, ...], hist: HistoryInputs) -> _Part:
    """Metrics, growth, drawdown, rolling and calendar-year returns of each strategy's fund."""
    runs = {s.name: hist.backtest(s) for s in strategies}
    first = next(iter(runs.values()))
    ppy = first.periods_per_year
    nominal = pd.DataFrame({n: r.returns_nominal for n, r in runs.items()})
    real = pd.DataFrame({n: r.returns_real for n, r in runs.items()})
    rf = riskfree_series(hist.returns, hist.riskfree_column)
    metrics = metrics_table(
        nominal,
        rf,
        first.inflation,
        ppy,
        turnover={n: r.turnover for n, r in runs.items()},
        fee_rate={n: r.fee_rate for n, r in runs.items()},
    )
    start = _start_date(cast(pd.DatetimeIndex, nominal.index), ppy)
    dd = pd.DataFrame(drawdowns(nominal).T, index=nominal.index, columns=nominal.columns)
    rr, rv = {}, {}
    for label, window in rolling_windows(first.frequency).items():
        if len(nominal) >= window + 1:
            rr[label], rv[label] = rolling_stats(nominal, window, ppy)
    fields = {
        "frequency": first.frequency,
        "metrics": metrics,
        "growth": _with_start((1 + nominal).cumprod(), start, 1.0),
        "growth_real": _with_start((1 + real).cumprod(), start, 1.0),
        "drawdown": _with_start(dd, start, 0.0),
        "rolling_return": rr,
        "rolling_volatility": rv,
        "annual_returns": calendar_year_returns(nominal, ppy),
    }
    return _Part(fields, _historical_settings(hist, cast(pd.DatetimeIndex, nominal.index), first))


def _historical_settings(
    hist: HistoryInputs, index: pd.DatetimeIndex, first: HistoricalBacktest
) -> tuple[Setting, ...]:
    span = f"{index[0]:%b %Y} \u2013 {index[-1]:%b %Y}"
    return (
        ("Historical period", f"{span}, {len(index)} {first.frequency} periods"),
        (
            "Historical backtest",
            f"each strategy run as a fund from $1, fees {hist.expense_ratio:.2%}/yr, trading "
            f"cost {hist.transaction_cost_bps:g} bps; target-date vintages retire at "
            f"{hist.retirement_age:g} in {first.retirement_year:.0f}",
        ),
        ("Risk-free rate", f"T-bills ({hist.riskfree_column}); inflation: {hist.inflation_column}"),
    )


def _glide_paths(strategies: tuple[Strategy, ...], member: MemberInputs) -> _Part:
    """Each strategy's target weights on the member's own ages (age-only paths)."""
    glides = [
        g
        for s in strategies
        if (g := glide_path_of(s, member.plan, member.periods_per_year)) is not None
    ]
    target = float(member.plan.retirement_age)
    labels = [
        lab for s in strategies if (lab := glide_label(s, target, member.equity_assets)) is not None
    ]
    return _Part({"glide_paths": tuple(glides), "glide_labels": tuple(labels)})


def _income(
    strategies: tuple[Strategy, ...],
    runs: Mapping[str, SimulationResult],
    member: MemberInputs,
    target: FundedRatio | None,
) -> IncomeTable | None:
    """The "Retirement income" table from each strategy's simulation on the page's set."""
    plan, scenarios = member.plan, member.scenarios
    if scenarios is None or not runs or plan.withdrawal is None:
        return None
    floor = income_floor(runs.values())
    by_name = {s.name: s for s in strategies}
    rows = tuple(income_row(r, by_name[n], floor, target) for n, r in runs.items())
    ppy = member.periods_per_year
    what = plain_words(scenarios.description) or "Monte Carlo scenarios"
    caption = (
        f"On {what} ({scenarios.n_scenarios} scenarios, {'monthly' if ppy == 12 else 'annual'} "
        f"periods); one standard error after \u00b1. Income is the real withdrawals actually "
        f"paid in each retirement year, {plan.retirement_age:g} to {plan.end_age:g}. The plan "
        f"states no other income, so the certainty equivalent (CE) adds a floor of "
        f"{floor:,.0f} USD a year ({FLOOR_SHARE:.0%} of the median planned first-year "
        "withdrawal, standing for Social Security or a pension) to every year's withdrawals: "
        "a year after ruin pays the floor alone; every scenario and year weighs alike (no "
        "mortality). Bequest: real wealth "
        f"at {plan.end_age:g}. Safe withdrawal rate: the highest constant real withdrawal, "
        "decimal of the balance at retirement a year, that fails in at most 5 % / 10 % of "
        "the scenarios' retirement returns (after fees, before trading costs)."
    )
    if target is not None:
        caption += (
            " Replacement ratio: balance at retirement over the target's annuity factor, "
            "over final salary; target reached when it covers the target income."
        )
    notes: tuple[str, ...] = ()
    if any(not age_only(by_name[n]) for n in runs):
        notes = (
            "Safe withdrawal rate n/a: the strategy's weights depend on past returns or "
            "wealth, not on age only, so no one return path per scenario is defined "
            "before the withdrawals are chosen.",
        )
    return IncomeTable(rows, caption, floor, notes)


def _simulate_each(
    strategies: tuple[Strategy, ...], scen: Scenarios | None, plan: Plan
) -> dict[str, SimulationResult]:
    """Each strategy whose assets ``scen`` holds, simulated with ``plan`` on it (name ->
    result); empty without a set."""
    if scen is None:
        return {}
    return {s.name: simulate(scen, plan, s) for s in strategies if _covers(scen, s)}


def _monte_carlo(
    strategies: tuple[Strategy, ...],
    member: MemberInputs,
    runs: Mapping[str, SimulationResult],
) -> _Part:
    """Fan chart of wealth percentiles by age and, with a target, funded ratios, from
    ``runs`` (each strategy on ``member.scenarios``, :func:`_simulate_each`)."""
    plan, scenarios = member.plan, member.scenarios
    settings: tuple[Setting, ...] = (("Plan", describe_plan(plan)),)
    if scenarios is None:
        return _Part(settings=settings)
    desc = plain_words(scenarios.description) or f"{scenarios.n_scenarios} scenarios"
    settings += (("Scenarios", desc),)
    target = plan.success if isinstance(plan.success, FundedRatio) else member.pension_target
    target_plan = dataclasses.replace(plan, success=target) if target is not None else None
    fans, ratios, notes = [], {}, []
    for s in strategies:
        if s.name not in runs:
            notes.append(f"{s.name}: not simulated (scenarios lack {s.assets}).")
            continue
        res = runs[s.name]
        ages = np.append(res.schedule.age_start, plan.end_age)
        pct = wealth_percentiles(res.wealth, FAN_PERCENTILES).T
        frame = pd.DataFrame(pct, index=pd.Index(ages, name="age"), columns=list(FAN_PERCENTILES))
        fans.append(FanData(s.name, frame, plan.retirement_age, res.success_rate))
        if target_plan is not None:
            ratios[s.name] = funded_ratio(target_plan, res.wealth_at_retirement)
    fields: dict[str, object] = {"fans": tuple(fans)}
    income = _income(strategies, runs, member, target)
    if income is not None:
        fields["income"] = income
    if target is not None and ratios:
        fields["funded_ratios"] = FundedRatioData(
            ratios, target.threshold, describe_pension_target(target)
        )
    return _Part(fields, settings, tuple(notes))


def _cohorts(
    strategies: tuple[Strategy, ...],
    member: MemberInputs,
    runs: Mapping[str, SimulationResult],
) -> _Part:
    """Terminal wealth and success of each historical cohort (start year), from ``runs``
    (each strategy with ``member.grid_plan`` on ``member.cohorts``)."""
    cohorts = member.cohorts
    if cohorts is None:
        return _Part()
    labels = list(cohorts.labels or [str(i) for i in range(cohorts.n_scenarios)])
    tw = {s.name: runs[s.name].terminal_wealth for s in strategies if s.name in runs}
    ok = {s.name: runs[s.name].success for s in strategies if s.name in runs}
    if not tw:
        return _Part()
    data = CohortData(
        pd.DataFrame(tw, index=labels),
        pd.DataFrame(ok, index=labels),
        plain_words(cohorts.description),
    )
    settings: tuple[Setting, ...] = (
        ("Cohorts", plain_words(cohorts.description) or f"{cohorts.n_scenarios} cohorts"),
    )
    if member.cohort_plan is not None:
        settings += (("Cohort plan", describe_plan(member.cohort_plan)),)
    return _Part({"cohorts": data}, settings)


def _set_cell(res: SimulationResult, floor: float) -> SetCell:
    """Success with its SE and n, and the CE at :data:`SETS_GAMMA` of the real income
    paid plus ``floor`` (real USD a year; NaN when the plan withdraws nothing)."""
    ok = success_rate(res.success)
    ce = math.nan
    if res.plan.withdrawal is not None:
        ce = income_ce(annual_income(res), floor)[SETS_GAMMA]
    return SetCell(ok.rate, ok.se, ok.n, ce)


def _set_column(label: str, scen: Scenarios, overlapping: bool = False) -> SetColumn:
    desc = plain_words(scen.description) or f"{scen.n_scenarios} scenarios"
    return SetColumn(label, desc, scen.n_scenarios, overlapping)


def _sets(
    strategies: tuple[Strategy, ...],
    member: MemberInputs,
    runs: Mapping[str, SimulationResult],
    cohort_runs: Mapping[str, SimulationResult],
) -> _Part:
    """The "Success by scenario set" table: each strategy on ``member.scenarios``
    (``runs``, reused), on each of ``member.other_sets`` (one simulation per strategy and
    set, summarised at once) and on the cohorts (``cohort_runs`` when they are run with
    ``member.plan``), the CE on every set with the income table's floor."""
    plan, main = member.plan, member.scenarios
    if not member.other_sets or main is None:
        return _Part()
    floor = income_floor(runs.values())
    columns = [_set_column(member.scenarios_label or "Monte Carlo scenarios", main)]
    cells: list[dict[str, SetCell]] = [{n: _set_cell(r, floor) for n, r in runs.items()}]
    for label, scen in member.other_sets.items():
        columns.append(_set_column(label, scen))
        cells.append({n: _set_cell(r, floor) for n, r in _each(strategies, scen, plan)})
    if member.cohorts is not None:
        columns.append(_set_column(COHORTS_LABEL, member.cohorts, overlapping=True))
        own = member.cohort_plan is None
        on = cohort_runs.items() if own else _each(strategies, member.cohorts, plan)
        cells.append({n: _set_cell(r, floor) for n, r in on})
    rows = tuple((s.name, tuple(c.get(s.name) for c in cells)) for s in strategies)
    notes = tuple(
        f"{s.name}: not simulated on {col.label} (the set lacks {s.assets})."
        for s in strategies
        for col, c in zip(columns, cells, strict=True)
        if s.name not in c
    )
    sets_text = "; ".join(
        c.description if c.description.startswith(c.label) else f"{c.label}: {c.description}"
        for c in columns
    )
    caption = (
        f"Each strategy simulated for this member on every scenario set: success under the "
        f"plan's definition in percent (SE in percentage points) and, when the plan pays "
        f"income, the certainty equivalent of real retirement income at \u03b3 = "
        f"{SETS_GAMMA:g} with the income table's floor of {floor:,.0f} USD a year on every "
        f"set. Sets: {sets_text}."
    )
    return _Part({"sets": SetsTable(tuple(columns), rows, caption, SETS_GAMMA, floor, notes)})


def _each(
    strategies: tuple[Strategy, ...], scen: Scenarios, plan: Plan
) -> Iterator[tuple[str, SimulationResult]]:
    """(name, result) of each strategy ``scen`` covers, one at a time: a set's paths are
    summarised and dropped before the next strategy runs."""
    for s in strategies:
        if _covers(scen, s):
            yield s.name, simulate(scen, plan, s)


def _success_grid(strategies: tuple[Strategy, ...], member: MemberInputs) -> _Part:
    """Success probability by mix and initial withdrawal rate (constant real withdrawals)."""
    scen = member.cohorts if member.cohorts is not None else member.scenarios
    if not member.withdrawal_rates or scen is None:
        return _Part()
    plan = member.grid_plan
    mixes = dict(member.mixes) if member.mixes is not None else {s.name: s for s in strategies}
    rows = {
        label: [
            simulate(scen, _retirement_plan(plan, r), s).success_rate
            for r in member.withdrawal_rates
        ]
        for label, s in mixes.items()
        if _covers(scen, s)
    }
    if not rows:
        return _Part()
    probs = pd.DataFrame(rows, index=list(member.withdrawal_rates)).T
    which = "historical cohorts" if member.cohorts is not None else "Monte Carlo scenarios"
    desc = (
        f"{scen.n_scenarios} {which}, withdrawals constant in real terms from age "
        f"{plan.retirement_age:g} to {plan.end_age:g}"
    )
    return _Part({"success_grid": SuccessGrid(probs, desc)})


def _sleeve_row(
    strategy: Strategy, hist: HistoryInputs | None, scen: Scenarios | None, plan: Plan | None
) -> dict[str, float]:
    """Sharpe ratio and maximum drawdown on ``hist``, success on ``scen`` (NaN when absent)."""
    row = {"sharpe": np.nan, "max_drawdown": np.nan, "success": np.nan}
    if hist is not None:
        bt = hist.backtest(strategy)
        rf = riskfree_series(hist.returns, hist.riskfree_column)
        rf = rf.reindex(bt.returns_nominal.index)
        row["sharpe"] = float(sharpe_ratio(bt.returns_nominal, rf.to_numpy(), bt.periods_per_year))
        row["max_drawdown"] = float(max_drawdown(bt.returns_nominal))
    if scen is not None and plan is not None and _covers(scen, strategy):
        row["success"] = simulate(scen, plan, strategy).success_rate
    return row


def _sleeves(sleeves: SleeveInputs, page_history: HistoryInputs | None, plan: Plan | None) -> _Part:
    """Sharpe ratio, maximum drawdown and success by sleeve size."""
    hist = sleeves.history if sleeves.history is not None else page_history
    rows: dict[float, dict[str, float]] = {}
    base_name = ""
    for size, s in sorted(sleeves.strategies.items()):
        rows[float(size)] = _sleeve_row(s, hist, sleeves.scenarios, plan)
        base = getattr(s, "base", None)
        base_name = getattr(base, "name", base_name) if base is not None else base_name
    period = ""
    if hist is not None:
        period = f"{hist.returns.index[0]:%b %Y}\u2013{hist.returns.index[-1]:%b %Y}"
    table = pd.DataFrame.from_dict(rows, orient="index")
    on = sleeves.success_on or (
        plain_words(sleeves.scenarios.description) if sleeves.scenarios is not None else ""
    )
    return _Part({"sleeve": SleeveData(table, base_name, period, on, sleeves.caveat)})


# --------------------------------------------------------------------------- summary

#: Scenarios of the page's Monte Carlo set re-run with recorded weights to explain a
#: failing strategy (its mean weights); the first ones of the set, enough for a mean.
WHY_SCENARIOS = 500


def _cohort_cell(res: SimulationResult) -> SetCell:
    """Success on overlapping historical cohorts, its SE counting only the independent
    windows (as success.csv, :func:`backtest.outcomes.cohort_effective_n`)."""
    n_eff = cohort_effective_n(res.n_scenarios, res.schedule.n_periods)
    ok = success_rate(res.success, n_eff)
    return SetCell(ok.rate, ok.se, ok.n)


def _why_fails(
    strategy: Strategy, scen: Scenarios, res: SimulationResult, member: MemberInputs
) -> str:
    """One sentence, from the data, on why ``strategy`` fails: its mean weights (over
    the first :data:`WHY_SCENARIOS` scenarios and every period), its mean real portfolio
    return before fees, and the planned withdrawal against its median balance at
    retirement."""
    few = scen.take(slice(0, min(WHY_SCENARIOS, scen.n_scenarios)))
    held = simulate(few, member.plan, strategy, record_weights=True)
    assert held.weights is not None  # record_weights=True
    mean_w = dict(zip(held.assets, np.nanmean(held.weights, axis=(0, 1)), strict=True))
    eq = [a for a in mean_w if a in member.equity_assets]
    other = [a for a in mean_w if a not in eq and mean_w[a] > 0.005]
    if not other:
        return ""
    growth = (1 + np.asarray(res.portfolio_returns)) * (
        np.asarray(res.price_index)[:, :-1] / np.asarray(res.price_index)[:, 1:]
    )
    ppy = res.schedule.periods_per_year
    real = float(np.expm1(np.mean(np.log(np.clip(growth, 1e-12, None))) * ppy))
    share = sum(mean_w[a] for a in other)
    names = " and ".join(human_label(a) for a in other)
    eq_text = (
        f" ({format_value(sum(mean_w[a] for a in eq), 'pct', 0)} in "
        f"{' and '.join(human_label(a) for a in eq)})"
        if eq
        else ""
    )
    text = (
        f"Holds on average {format_value(share, 'pct', 0)} in {names}{eq_text}; its "
        f"portfolio earned {format_value(real, 'pct')} a year after inflation (before fees)"
    )
    want, at_ret = planned_income(res), float(np.median(res.wealth_at_retirement))
    if math.isfinite(want) and want > 0 and at_ret > 0:
        text += (
            f": too little to fund a {format_value(want, 'usd')} a year withdrawal, "
            f"{format_value(want / at_ret, 'pct')} of its median balance at retirement "
            f"({format_value(at_ret, 'usd')})"
        )
    return text + "."


def _summary_sets(
    member: MemberInputs, sets: SetsTable | None, extra: SummaryInputs, cohort_n_eff: float
) -> list[SummarySet]:
    """The summary's columns: the optimiser's in-sample sets, the page's Monte Carlo set,
    the other held-out sets (the optimiser's, then the page's), the cohorts."""
    assert member.scenarios is not None
    main = member.scenarios
    label = member.scenarios_label or "Monte Carlo scenarios"
    out = [s for s, _ in extra.extra if s.role == IN_SAMPLE]
    out.append(SummarySet(label, HELD_OUT, main.n_scenarios, float(main.n_scenarios),
                          plain_words(main.description)))  # fmt: skip
    out += [s for s, _ in extra.extra if s.role != IN_SAMPLE]
    for col in sets.sets[1:] if sets is not None else ():
        if not col.overlapping:
            out.append(SummarySet(col.label, HELD_OUT, col.n, float(col.n), col.description))
    if member.cohorts is not None and member.cohort_plan is None:
        c = member.cohorts
        out.append(
            SummarySet(
                COHORTS_LABEL, COHORTS, c.n_scenarios, cohort_n_eff, plain_words(c.description)
            )
        )
    return out


@dataclass(frozen=True)
class _Runs:
    """A page's simulations the summary reads: on the Monte Carlo set, on the cohorts and
    the cells of the "Success by scenario set" table (other sets), by strategy name."""

    main: Mapping[str, SimulationResult]
    cohorts: Mapping[str, SimulationResult]
    others: Mapping[str, Mapping[str, SetCell]]  # set label -> name -> cell


def _reference_runs(ref: Strategy, member: MemberInputs) -> _Runs:
    """The 100 % equity reference simulated on the page's sets, for the summary only."""
    assert member.scenarios is not None
    main = {ref.name: simulate(member.scenarios, member.plan, ref)}
    cohorts = dict(_simulate_each((ref,), member.cohorts, member.grid_plan))
    others: dict[str, dict[str, SetCell]] = {}
    for label, scen in member.other_sets.items():
        others[label] = {n: SetCell(*_success(r)) for n, r in _each((ref,), scen, member.plan)}
    return _Runs(main, cohorts, others)


def _page_runs(runs: _Runs, sets: SetsTable | None) -> _Runs:
    """The page's own runs with the other sets' cells read from its sets table."""
    others: dict[str, dict[str, SetCell]] = {}
    if sets is not None:
        for k, col in enumerate(sets.sets):
            others[col.label] = {n: c[k] for n, c in sets.rows if c[k] is not None}  # type: ignore[misc]
    return _Runs(runs.main, runs.cohorts, others)


def _cell(
    col: SummarySet, name: str, runs: _Runs, extra: SummaryInputs, main: str
) -> SetCell | None:
    """One strategy's success on one summary column (``None``: not simulated there)."""
    for s, cells in extra.extra:
        if s is col:
            return cells.get(name)
    if col.role == COHORTS:
        res = runs.cohorts.get(name)
        return _cohort_cell(res) if res is not None else None
    if col.label == main:
        res = runs.main.get(name)
        return SetCell(*_success(res)) if res is not None else None
    return runs.others.get(col.label, {}).get(name)


def _success(res: SimulationResult) -> tuple[float, float, int]:
    ok = success_rate(res.success)
    return ok.rate, ok.se, ok.n


def _income_figures(
    res: SimulationResult, strategy: Strategy, income: IncomeTable | None, floor: float
) -> tuple[float, float, float, float]:
    """CE at :data:`SETS_GAMMA` (real USD a year), real wealth p10 and p50 at the end age
    (USD) and mean unpaid years given failure: the income table's row when it has one."""
    row = next((r for r in income.rows if r.name == strategy.name), None) if income else None
    if row is None and res.plan.withdrawal is not None:
        row = income_row(res, strategy, floor)
    if row is None:
        p10, p50 = np.percentile(res.terminal_wealth, (10, 50))
        return math.nan, float(p10), float(p50), math.nan
    return (
        row.ce.get(SETS_GAMMA, math.nan),
        row.bequest.get(10, math.nan),
        row.bequest.get(50, math.nan),
        row.unpaid_given_failure,
    )


def _marks(name: str, rank: int, extra: SummaryInputs, ref: str) -> tuple[str, ...]:
    marks = []
    if name == extra.fitted:
        marks.append("optimised")
    if rank < extra.best and name != ref:
        marks.append("best")
    if name == ref:
        marks.append("100 % equity")
    if name == extra.held_today:
        marks.append("held today")
    if name in extra.flags:
        marks.append(extra.flags[name])
    return tuple(marks)


def _versus_reference(rows: list[SummaryRow], cols: list[SummarySet], fitted: str, ref: str) -> str:
    """A note comparing the fitted path with 100 % equity on every column."""
    by = {r.name: r for r in rows}
    if fitted not in by or ref not in by:
        return ""
    parts, same = [], True
    for k, col in enumerate(cols):
        a, b = by[fitted].cells[k], by[ref].cells[k]
        if a is None or b is None:
            continue
        same &= abs(a.success - b.success) <= math.hypot(a.success_se, b.success_se)
        where = col.label if col.label == col.role else f"{col.role}, {col.label}"
        parts.append(
            f"{where}: {format_value(a.success, 'pct')} against {format_value(b.success, 'pct')}"
        )
    if not parts:
        return ""
    verdict = (
        "equals 100 % equity within one standard error on every set"
        if same
        else "differs from 100 % equity by more than one standard error on some set"
    )
    return f"The {fitted} {verdict} ({'; '.join(parts)})."


def _summary(
    strategies: tuple[Strategy, ...],
    member: MemberInputs,
    runs: _Runs,
    sets: SetsTable | None,
    income: IncomeTable | None,
    extra: SummaryInputs,
) -> _Part:
    """The summary table the page opens with (:class:`SummaryTable`)."""
    main = member.scenarios
    if main is None or not runs.main:
        return _Part()
    own = _page_runs(runs, sets)
    shown = [s for s in strategies if s.name in runs.main]
    ref = extra.reference
    ref_runs: _Runs | None = None
    notes: list[str] = list(extra.notes)
    if ref is not None and all(s.name != ref.name for s in strategies) and _covers(main, ref):
        ref_runs = _reference_runs(ref, member)
        shown.append(ref)
        notes.append(
            f"{ref.name} (100 % equity) is not among the study's strategies: it is simulated "
            "on this page's scenario sets for this table only, and no other table or chart "
            "of the page includes it."
        )
    n_eff = float("nan")
    if runs.cohorts:
        first = next(iter(runs.cohorts.values()))
        n_eff = cohort_effective_n(first.n_scenarios, first.schedule.n_periods)
    cols = _summary_sets(member, sets, extra, n_eff)
    label = cols[[c.role for c in cols].index(HELD_OUT)].label
    floor = income.floor if income is not None else income_floor(runs.main.values())
    ranked = sorted(
        shown,
        key=lambda s: -(runs.main.get(s.name) or ref_runs.main[s.name]).success_rate,  # type: ignore[union-attr]
    )
    ref_name = ref.name if ref is not None else ""
    rows = []
    for rank, s in enumerate(ranked):
        src = ref_runs if ref_runs is not None and s is ref else own
        res = src.main[s.name]
        cells = tuple(_cell(c, s.name, src, extra, label) for c in cols)
        why = ""
        if res.success_rate < extra.fails_below:
            why = _why_fails(s, main, res, member)
        rows.append(
            SummaryRow(
                s.name, cells, *_income_figures(res, s, income, floor),
                marks=_marks(s.name, rank, extra, ref_name), why=why,
            )
        )  # fmt: skip
    versus = _versus_reference(rows, cols, extra.fitted, ref_name)
    if versus:
        notes.insert(0, versus)
        if "equals" in versus:
            for i, r in enumerate(rows):
                if r.name == extra.fitted:
                    rows[i] = dataclasses.replace(r, marks=(*r.marks, "\u2248 100 % equity"))
    caption = _summary_caption(cols, member, floor, label)
    table = SummaryTable(tuple(cols), tuple(rows), float(member.plan.end_age), SETS_GAMMA, floor,
                         caption, tuple(notes))  # fmt: skip
    return _Part({"summary": table})


def _summary_caption(cols: list[SummarySet], member: MemberInputs, floor: float, main: str) -> str:
    roles = {c.role for c in cols}
    text = (
        "Success: the share of scenarios in which the plan succeeds (after \u00b1, one "
        "standard error in percentage points; n scenarios in each heading), best first. "
    )
    if IN_SAMPLE in roles:
        text += "In sample: the scenarios the optimised path was fitted to. "
    text += "Held out: scenarios no strategy was fitted to. "
    cohort = next((c for c in cols if c.role == COHORTS), None)
    if cohort is not None:
        text += (
            f"Historical cohorts: the {cohort.n} overlapping windows of the actual history; "
            f"their standard error counts them as {cohort.n_effective:.1f} independent "
            "windows. "
        )
    plan = member.plan
    text += (
        f"On {main}: the certainty equivalent (CE) of real retirement income at "
        f"\u03b3 = {SETS_GAMMA:g} with an income floor of {format_value(floor, 'usd')} a "
        f"year, the 10th and 50th percentiles of real wealth at age {plan.end_age:g} (USD of "
        "the plan's start), and the mean years of withdrawals left unpaid in the scenarios "
        "that fail."
    )
    return text


# --------------------------------------------------------------------------- the page


def build_tearsheet_data(inputs: TearsheetInputs) -> TearsheetData:
    """Compute every number of one tear-sheet page from its typed inputs.

    Each group of ``inputs`` adds its sections (see the module docstring); the page's
    settings list the text's own rows, then what each section was computed from, then the
    seed; its notes are the text's, then any strategy a scenario set could not simulate.

    Parameters
    ----------
    inputs
        The strategies, the history, the member and her scenarios, the sleeves and the
        page's text (:class:`TearsheetInputs`).

    Returns
    -------
    TearsheetData
        The page's data model, drawn by :mod:`backtest.report.charts` and the renderers.
    """
    strategies, member = inputs.strategies, inputs.member
    parts: list[_Part] = []
    if inputs.history is not None:
        parts.append(_historical(strategies, inputs.history))
    if member is not None:
        runs = _simulate_each(strategies, member.scenarios, member.plan)
        cohort_runs = _simulate_each(strategies, member.cohorts, member.grid_plan)
        monte_carlo = _monte_carlo(strategies, member, runs)
        sets = _sets(strategies, member, runs, cohort_runs)
        summary = _summary(
            strategies,
            member,
            _Runs(runs, cohort_runs if member.cohort_plan is None else {}, {}),
            cast(SetsTable | None, sets.fields.get("sets")),
            cast(IncomeTable | None, monte_carlo.fields.get("income")),
            inputs.summary or SummaryInputs(),
        )
        parts += [
            summary,
            _glide_paths(strategies, member),
            monte_carlo,
            _cohorts(strategies, member, cohort_runs),
            sets,
            _success_grid(strategies, member),
        ]
    if inputs.sleeves is not None and inputs.sleeves.strategies:
        plan = member.plan if member is not None else None
        parts.append(_sleeves(inputs.sleeves, inputs.history, plan))
    text = inputs.text
    seed: tuple[Setting, ...] = (("Seed", str(text.seed)),) if text.seed is not None else ()
    fields: dict[str, object] = {k: v for p in parts for k, v in p.fields.items()}
    return TearsheetData(
        title=text.title,
        subtitle=text.subtitle,
        settings=text.settings + tuple(r for p in parts for r in p.settings) + seed,
        notes=text.notes + tuple(n for p in parts for n in p.notes),
        key=text.key,
        **fields,  # type: ignore[arg-type]
    )


__all__ = [
    "COHORTS_LABEL",
    "FAN_PERCENTILES",
    "SETS_GAMMA",
    "HistoryInputs",
    "MemberInputs",
    "PageText",
    "SleeveInputs",
    "SummaryInputs",
    "TearsheetInputs",
    "build_tearsheet_data",
    "glide_path_of",
    "plan_schedule",
    "rolling_stats",
    "rolling_windows",
]
