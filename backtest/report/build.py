"""Compute a tear sheet's numbers from strategies, history, a plan and scenarios.

:func:`build_tearsheet_data` is the one place where the report's numbers are made; the
renderers only draw them. Every section is optional and appears only when its inputs are
given: a history gives the metrics table, growth, drawdown, rolling and annual charts;
``plan`` + ``scenarios`` the Monte Carlo fan chart (and the funded-ratio distribution
when the plan's success is a ``FundedRatio``); ``cohorts`` the historical-cohort chart;
``withdrawal_rates`` the success heatmap; ``sleeves`` the crypto-sleeve chart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from backtest.errors import DataError
from backtest.historical import HistoricalBacktest, backtest_history, riskfree_series
from backtest.metrics import (
    calendar_year_returns,
    drawdowns,
    max_drawdown,
    metrics_table,
    sharpe_ratio,
)
from backtest.plan import ConstantReal, FundedRatio, MoneyLasts, Plan
from backtest.report.describe import describe_plan
from backtest.report.model import (
    CohortData,
    FanData,
    FundedRatioData,
    GlidePathData,
    SleeveData,
    SuccessGrid,
    TearsheetData,
)
from backtest.scenarios import Scenarios
from backtest.simulate import funded_ratio, simulate
from strategies.base import Schedule, Strategy

#: Percentile levels of the fan chart.
FAN_PERCENTILES: tuple[int, ...] = (5, 25, 50, 75, 95)


def _start_date(index: pd.DatetimeIndex, ppy: int) -> pd.Timestamp:
    """End of the period before the first row: where growth of 1 starts."""
    return pd.Timestamp(index[0]) - pd.offsets.MonthEnd(12 // ppy)


def _with_start(frame: pd.DataFrame, start: pd.Timestamp, value: float) -> pd.DataFrame:
    head = pd.DataFrame([[value] * frame.shape[1]], index=[start], columns=frame.columns)
    out = pd.concat([head, frame])
    out.index = pd.DatetimeIndex(out.index, name=frame.index.name)
    return out


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
    logs = np.log1p(returns).rolling(window, min_periods=window).sum()
    ret = np.expm1(logs * periods_per_year / window)
    vol = returns.rolling(window, min_periods=window).std(ddof=1) * np.sqrt(periods_per_year)
    return ret, vol


def glide_path_of(
    strategy: Strategy, retirement_age: float, ages: tuple[float, float] = (25.0, 95.0)
) -> GlidePathData | None:
    """Target weights by age (yearly) when they depend on age only; else ``None``.

    Strategies whose weights react to returns (volatility targets) or never change (fixed
    mixes) have no glide path to draw.
    """
    if getattr(strategy, "depends_on_returns", False):
        return None
    sched = Schedule.from_ages(ages[0], ages[1], retirement_age, 1)
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
    return GlidePathData(strategy.name, frame, float(retirement_age))


def _covers(scen: Scenarios, strategy: Strategy) -> bool:
    return all(a in scen.assets for a in strategy.assets)


def _retirement_plan(plan: Plan, rate: float) -> Plan:
    timing = plan.withdrawal.timing if plan.withdrawal is not None else "start"
    return dataclasses.replace(
        plan, withdrawal=ConstantReal(rate=rate, timing=timing), success=MoneyLasts()
    )


def build_tearsheet_data(
    strategies: Sequence[Strategy],
    history: pd.DataFrame | None,
    *,
    plan: Plan | None = None,
    scenarios: Scenarios | None = None,
    cohorts: Scenarios | None = None,
    cohort_plan: Plan | None = None,
    withdrawal_rates: Sequence[float] = (),
    mixes: Mapping[str, Strategy] | None = None,
    sleeves: Mapping[float, Strategy] | None = None,
    sleeve_history: pd.DataFrame | None = None,
    sleeve_scenarios: Scenarios | None = None,
    pension_target: FundedRatio | None = None,
    title: str = "Strategy tear sheet",
    subtitle: str = "",
    settings: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    seed: int | None = None,
    retirement_age: float | None = None,
    retirement_year: float | None = None,
    expense_ratio: float = 0.0,
    transaction_cost_bps: float = 0.0,
    riskfree_column: str = "tbills",
    inflation_column: str = "cpi",
    notes: Sequence[str] = (),
    key: str = "",
) -> TearsheetData:
    """Compute every number of a tear sheet.

    Parameters
    ----------
    strategies
        The strategies shown side by side (``strategies.base.Strategy``).
    history
        Decimal nominal returns per period indexed by period-end dates, holding every
        strategy's assets plus ``riskfree_column`` (T-bills) and ``inflation_column`` (CPI),
        over one common period; ``None`` leaves out the historical sections.
    plan, scenarios
        The member and Monte Carlo scenarios: fan chart (and funded ratios when
        ``plan.success`` is a ``FundedRatio``).
    cohorts, cohort_plan
        Historical cohorts (``backtest.generators.historical_cohorts``) and the plan run on
        them (default ``plan``): terminal wealth and success by start year.
    withdrawal_rates, mixes
        Initial withdrawal rates (decimal a year of the balance at retirement, held
        constant in real terms) and mixes (default: ``strategies``) for the success
        heatmap, run with ``cohort_plan`` (else ``plan``) on ``cohorts`` (else
        ``scenarios``).
    sleeves, sleeve_history, sleeve_scenarios
        Crypto sleeve size (decimal) -> strategy; Sharpe and maximum drawdown come from
        ``sleeve_history`` (default ``history``), success from ``sleeve_scenarios`` when it
        holds the crypto asset (else NaN).
    pension_target
        A defined-benefit style target (``backtest.plan.FundedRatio``) for the funded-ratio
        chart when ``plan.success`` is not itself a ``FundedRatio``: the ratio only needs
        each scenario's balance at retirement, so nothing is simulated twice.
    title, subtitle, settings, seed, notes
        Report text; ``seed`` and the plan and scenario descriptions are added to the
        settings.
    key
        The page's short name in a :class:`~backtest.report.model.TearsheetBook` (the
        plan's name).
    retirement_age, retirement_year, expense_ratio, transaction_cost_bps
        For the historical backtests (``backtest.historical.backtest_history``); the
        retirement age defaults to the plan's, else 65.

    Returns
    -------
    TearsheetData
    """
    if not strategies:
        raise DataError("build_tearsheet_data needs at least one strategy")
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise DataError(f"strategy names must be unique in a tear sheet; got {names}")
    ret_age = (
        retirement_age
        if retirement_age is not None
        else (plan.retirement_age if plan is not None else 65.0)
    )
    info: list[tuple[str, str]] = list(
        settings.items() if isinstance(settings, Mapping) else settings
    )
    fields: dict[str, object] = {}
    out_notes = list(notes)
    frequency = "annual"

    # ---- historical backtests
    if history is not None:
        runs: dict[str, HistoricalBacktest] = {
            s.name: backtest_history(
                history,
                s,
                retirement_age=ret_age,
                retirement_year=retirement_year,
                expense_ratio=expense_ratio,
                transaction_cost_bps=transaction_cost_bps,
                inflation_column=inflation_column,
            )
            for s in strategies
        }
        first = next(iter(runs.values()))
        frequency = first.frequency
        ppy = first.periods_per_year
        nominal = pd.DataFrame({n: r.returns_nominal for n, r in runs.items()})
        real = pd.DataFrame({n: r.returns_real for n, r in runs.items()})
        rf = riskfree_series(history, riskfree_column)
        fields["metrics"] = metrics_table(
            nominal,
            rf,
            first.inflation,
            ppy,
            turnover={n: r.turnover for n, r in runs.items()},
            fee_rate={n: r.fee_rate for n, r in runs.items()},
        )
        start = _start_date(nominal.index, ppy)
        fields["growth"] = _with_start((1 + nominal).cumprod(), start, 1.0)
        fields["growth_real"] = _with_start((1 + real).cumprod(), start, 1.0)
        fields["drawdown"] = _with_start(
            pd.DataFrame(drawdowns(nominal).T, index=nominal.index, columns=nominal.columns),
            start,
            0.0,
        )
        rr, rv = {}, {}
        for label, window in rolling_windows(frequency).items():
            if len(nominal) >= window + 1:
                rr[label], rv[label] = rolling_stats(nominal, window, ppy)
        fields["rolling_return"], fields["rolling_volatility"] = rr, rv
        fields["annual_returns"] = calendar_year_returns(nominal, ppy)
        span = f"{nominal.index[0]:%b %Y} \u2013 {nominal.index[-1]:%b %Y}"
        info.append(("Historical period", f"{span}, {len(nominal)} {frequency} periods"))
        info.append(
            (
                "Historical backtest",
                f"each strategy run as a fund from $1, fees "
                f"{expense_ratio:.2%}/yr, trading cost {transaction_cost_bps:g} bps; target-date "
                f"vintages retire at {ret_age:g} in {first.retirement_year:.0f}",
            )
        )
        info.append(
            ("Risk-free rate", f"T-bills ({riskfree_column}); inflation: {inflation_column}")
        )

    # ---- glide paths
    glides = [g for s in strategies if (g := glide_path_of(s, ret_age)) is not None]
    fields["glide_paths"] = tuple(glides)

    # ---- Monte Carlo
    if plan is not None:
        info.append(("Plan", describe_plan(plan)))
    if plan is not None and scenarios is not None:
        info.append(("Scenarios", scenarios.description or f"{scenarios.n_scenarios} scenarios"))
        fans, ratios = [], {}
        target = plan.success if isinstance(plan.success, FundedRatio) else pension_target
        target_plan = dataclasses.replace(plan, success=target) if target is not None else None
        for s in strategies:
            if not _covers(scenarios, s):
                out_notes.append(f"{s.name}: not simulated (scenarios lack {s.assets}).")
                continue
            res = simulate(scenarios, plan, s)
            ages = np.append(res.schedule.age_start, plan.end_age)
            pct = np.percentile(res.wealth, FAN_PERCENTILES, axis=0).T
            frame = pd.DataFrame(
                pct, index=pd.Index(ages, name="age"), columns=list(FAN_PERCENTILES)
            )
            fans.append(FanData(s.name, frame, plan.retirement_age, res.success_rate))
            if target_plan is not None:
                ratios[s.name] = funded_ratio(target_plan, res.wealth_at_retirement)
        fields["fans"] = tuple(fans)
        if ratios:
            assert target is not None
            fields["funded_ratios"] = FundedRatioData(ratios, target.threshold)

    # ---- historical cohorts
    c_plan = cohort_plan if cohort_plan is not None else plan
    if c_plan is not None and cohorts is not None:
        tw, ok = {}, {}
        labels = list(cohorts.labels or [str(i) for i in range(cohorts.n_scenarios)])
        for s in strategies:
            if not _covers(cohorts, s):
                continue
            res = simulate(cohorts, c_plan, s)
            tw[s.name] = res.terminal_wealth
            ok[s.name] = res.success
        if tw:
            fields["cohorts"] = CohortData(
                pd.DataFrame(tw, index=labels),
                pd.DataFrame(ok, index=labels),
                cohorts.description,
            )
            info.append(("Cohorts", cohorts.description or f"{cohorts.n_scenarios} cohorts"))
            if cohort_plan is not None:
                info.append(("Cohort plan", describe_plan(cohort_plan)))

    # ---- success heatmap
    grid_scen = cohorts if cohorts is not None else scenarios
    if withdrawal_rates and c_plan is not None and grid_scen is not None:
        mix_map = dict(mixes) if mixes is not None else {s.name: s for s in strategies}
        rows = {}
        for label, s in mix_map.items():
            if not _covers(grid_scen, s):
                continue
            rows[label] = [
                simulate(grid_scen, _retirement_plan(c_plan, float(r)), s).success_rate
                for r in withdrawal_rates
            ]
        if rows:
            probs = pd.DataFrame(rows, index=[float(r) for r in withdrawal_rates]).T
            which = "historical cohorts" if cohorts is not None else "Monte Carlo scenarios"
            desc = (
                f"{grid_scen.n_scenarios} {which}, withdrawals constant in real terms from age "
                f"{c_plan.retirement_age:g} to {c_plan.end_age:g}"
            )
            fields["success_grid"] = SuccessGrid(probs, desc)

    # ---- crypto sleeve sweep
    if sleeves:
        sh = sleeve_history if sleeve_history is not None else history
        rows_s: dict[float, dict[str, float]] = {}
        period = ""
        base_name = ""
        for size, s in sorted(sleeves.items()):
            row = {"sharpe": np.nan, "max_drawdown": np.nan, "success": np.nan}
            if sh is not None:
                bt = backtest_history(
                    sh,
                    s,
                    retirement_age=ret_age,
                    expense_ratio=expense_ratio,
                    transaction_cost_bps=transaction_cost_bps,
                    inflation_column=inflation_column,
                )
                rf = riskfree_series(sh, riskfree_column).reindex(bt.returns_nominal.index)
                row["sharpe"] = float(
                    sharpe_ratio(bt.returns_nominal, rf.to_numpy(), bt.periods_per_year)
                )
                row["max_drawdown"] = float(max_drawdown(bt.returns_nominal))
                period = f"{sh.index[0]:%b %Y}\u2013{sh.index[-1]:%b %Y}"
            scen = sleeve_scenarios
            if scen is not None and plan is not None and _covers(scen, s):
                row["success"] = simulate(scen, plan, s).success_rate
            rows_s[float(size)] = row
            base = getattr(s, "base", None)
            base_name = getattr(base, "name", base_name) if base is not None else base_name
        fields["sleeve"] = SleeveData(
            pd.DataFrame.from_dict(rows_s, orient="index"), base_name, period
        )

    if seed is not None:
        info.append(("Seed", str(seed)))
    return TearsheetData(
        title=title,
        subtitle=subtitle,
        settings=tuple(info),
        frequency=frequency,
        notes=tuple(out_notes),
        key=key,
        **fields,  # type: ignore[arg-type]
    )
