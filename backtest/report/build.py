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
from backtest.outcomes import success_rate
from backtest.plan import ConstantReal, FundedRatio, MoneyLasts, Plan
from backtest.report.describe import describe_plan
from backtest.report.income import (
    FLOOR_SHARE,
    age_only,
    annual_income,
    glide_label,
    income_ce,
    income_floor,
    income_row,
)
from backtest.report.model import (
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
    TearsheetData,
)
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
    from ``scenarios`` with the page's plan when they hold the sleeve's assets (else NaN).
    """

    strategies: Mapping[float, Strategy]
    history: HistoryInputs | None = None
    scenarios: Scenarios | None = None


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
    """

    strategies: tuple[Strategy, ...]
    history: HistoryInputs | None = None
    member: MemberInputs | None = None
    sleeves: SleeveInputs | None = None
    text: PageText = field(default_factory=PageText)

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
    what = scenarios.description or "Monte Carlo scenarios"
    caption = (
        f"On {what} ({scenarios.n_scenarios} scenarios, {'monthly' if ppy == 12 else 'annual'} "
        f"periods); standard errors in parentheses. Income is the real withdrawals actually "
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
    settings += (("Scenarios", scenarios.description or f"{scenarios.n_scenarios} scenarios"),)
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
        fields["funded_ratios"] = FundedRatioData(ratios, target.threshold)
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
        pd.DataFrame(tw, index=labels), pd.DataFrame(ok, index=labels), cohorts.description
    )
    settings: tuple[Setting, ...] = (
        ("Cohorts", cohorts.description or f"{cohorts.n_scenarios} cohorts"),
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
    desc = scen.description or f"{scen.n_scenarios} scenarios"
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
    return _Part({"sleeve": SleeveData(table, base_name, period)})


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
        parts += [
            _glide_paths(strategies, member),
            _monte_carlo(strategies, member, runs),
            _cohorts(strategies, member, cohort_runs),
            _sets(strategies, member, runs, cohort_runs),
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
    "TearsheetInputs",
    "build_tearsheet_data",
    "glide_path_of",
    "plan_schedule",
    "rolling_stats",
    "rolling_windows",
]
