"""A study's tear sheet: one page per plan behind an index, the one report pipeline.

``glidelab run``, ``glidelab tearsheet`` (``--study`` or named strategies, which become a
small study), ``glidelab optimize`` and ``glidelab serve`` all make their tear sheet here:
:func:`study_book` turns a study's history, strategies and scenario sets into a
:class:`~backtest.report.model.TearsheetBook` (each page built from its typed
:class:`~backtest.report.build.TearsheetInputs`, see :func:`page_inputs`), and
``backtest.report.write_tearsheet`` writes it. Each plan gets its own page, because the
numbers depend on the member: the target-date vintages retire at the plan's age, fees
are the plan's, the glide paths are drawn on the plan's own ages, and the fan chart,
cohorts, funded ratios, success heatmap and sleeve results are simulated on the plan's
own scenarios; with more than one Monte Carlo set (e.g. ``[scenarios] international_n``)
the page shows each strategy's success on every set side by side.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import cast

import pandas as pd

from backtest.data import load_history
from backtest.report.build import (
    HistoryInputs,
    MemberInputs,
    PageText,
    SleeveInputs,
    TearsheetInputs,
    build_tearsheet_data,
)
from backtest.report.describe import describe_plan
from backtest.report.model import TearsheetBook, TearsheetData
from backtest.scenarios import Scenarios
from backtest.types import periods_per_year
from glidelab.context import SET_NAMES
from glidelab.study import Study
from strategies import CryptoSleeve, FixedMix
from strategies.base import Strategy

#: Name of the historical-cohort set in a plan's scenario sets (see ``run.scenario_sets``);
#: the first other set is Monte Carlo and drives the fan chart.
COHORTS = "historical cohorts"

#: Name of the study's international set (``glidelab.context.SET_NAMES``) and its heading in
#: the "Success by scenario set" table: the pooled developed-markets view (issue 25).
INTERNATIONAL = SET_NAMES["international"]
SET_LABELS: dict[str, str] = {
    INTERNATIONAL: "developed markets, real local-currency returns (JST)",
}


def _mixes(study: Study) -> dict[str, Strategy]:
    """The constant equity/bond mixes of the success heatmap, from ``[analysis]``."""
    d = study.data
    return {
        f"{100 * e:g}/{100 * (1 - e):g} {d.equity}/{d.bonds}": FixedMix(
            name=f"{100 * e:g}/{100 * (1 - e):g}", assets=(d.equity, d.bonds), weights=(e, 1 - e)
        )
        for e in study.analysis.equity_shares
    }


def _sleeves(strategies: Mapping[str, Strategy]) -> dict[float, Strategy] | None:
    """Sleeve size -> strategy, with the base mix as size 0; None without sleeves."""
    found = [s for s in strategies.values() if isinstance(s, CryptoSleeve)]
    if not found:
        return None
    # One chart, one base mix: the study's sleeves (listed first), not a custom path's.
    found = [s for s in found if s.base.name == found[0].base.name]
    out: dict[float, Strategy] = {0.0: found[0].base}
    out.update({s.sleeve_weight: s for s in found})
    return out


def _crypto_note(study: Study, history: pd.DataFrame, monthly: pd.DataFrame) -> str:
    d = study.data
    # The history is indexed by dates: its first valid label is a Timestamp.
    first = (
        cast(pd.Timestamp | None, history[d.crypto].first_valid_index())
        if d.crypto in history
        else None
    )
    since = f"from {first:%Y}" if first is not None else "only recently"
    return (
        f"{d.crypto} has data {since}; before that the sleeve earns {d.cash} in the historical "
        f"sections and scenarios ({study.scenarios.crypto_before_data!r} rule). Its metrics in "
        f"the sleeve chart use monthly data from {monthly.index[0]:%Y-%m} to "
        f"{monthly.index[-1]:%Y-%m}. Resampled history treats its early years as if they "
        "could recur, which flatters any sleeve."
    )


def page_inputs(
    study: Study,
    plan_name: str,
    history: pd.DataFrame,
    strategies: Mapping[str, Strategy],
    sets: Mapping[str, Scenarios],
    *,
    monthly: pd.DataFrame | None = None,
) -> TearsheetInputs:
    """What one plan's page is made from: the strategies the history covers, run as funds
    on the member's terms, and the member simulated on her own ``sets``: the first Monte
    Carlo set drives the fan chart and the income table, every set (the developed markets
    under :data:`SET_LABELS`) is a column group of the "Success by scenario set" table."""
    p = study.plan(plan_name)
    cohorts = sets.get(COHORTS)
    first = next((name for name in sets if name != COHORTS), None)
    scenarios = sets[first] if first is not None else None
    others = {SET_LABELS.get(n, n): sc for n, sc in sets.items() if n not in (COHORTS, first)}
    columns = set(history.columns)
    shown = tuple(s for s in strategies.values() if set(s.assets) <= columns)
    sleeves = _sleeves(strategies)
    notes: list[str] = []
    if sleeves is not None and monthly is not None:
        notes.append(_crypto_note(study, history, monthly))
    if p.strategy:
        notes.append(f"{p.name} holds {p.strategy} today.")
    member = MemberInputs(
        p.plan,
        periods_per_year=periods_per_year(study.data.frequency),
        scenarios=scenarios,
        cohorts=cohorts,
        other_sets=others,
        scenarios_label=SET_LABELS.get(first, first) if first is not None else "",
        pension_target=p.pension_target,
        withdrawal_rates=study.analysis.withdrawal_rates if sets else (),
        mixes=_mixes(study),
        equity_assets=(study.data.equity,),
    )
    sleeve_history = HistoryInputs.for_plan(monthly, p.plan) if monthly is not None else None
    return TearsheetInputs(
        shown,
        history=HistoryInputs.for_plan(history, p.plan),
        member=member,
        sleeves=SleeveInputs(sleeves, sleeve_history, scenarios) if sleeves else None,
        text=PageText(
            title=f"Plan {p.name!r}",
            subtitle=describe_plan(p.plan),
            notes=tuple(notes),
            key=p.name,
        ),
    )


def study_page(
    study: Study,
    plan_name: str,
    history: pd.DataFrame,
    strategies: Mapping[str, Strategy],
    sets: Mapping[str, Scenarios],
    *,
    monthly: pd.DataFrame | None = None,
) -> TearsheetData:
    """One plan's page: historical backtests run for this member, her glide paths on her
    own ages, and every simulated section on the plan's own ``sets`` (none: the
    historical sections and glide paths only)."""
    inputs = page_inputs(study, plan_name, history, strategies, sets, monthly=monthly)
    page = build_tearsheet_data(inputs)
    # The plan's description heads its page (the subtitle): not repeated in the settings.
    return dataclasses.replace(page, settings=tuple(r for r in page.settings if r[0] != "Plan"))


def study_book(
    study: Study,
    history: pd.DataFrame,
    strategies: Mapping[str, Strategy],
    sets_by_plan: Mapping[str, Mapping[str, Scenarios]],
    *,
    plans: Sequence[str] | None = None,
    title: str | None = None,
) -> TearsheetBook:
    """The study's tear sheet: one page per plan (``plans``, default every plan).

    Parameters
    ----------
    study
        The validated study (data roles, plans, analysis grids, seed).
    history
        Decimal nominal returns by period end holding the study's roles and CPI (see
        ``glidelab.run``), the crypto column NaN before its data begin.
    strategies
        Display name -> strategy: presets, sleeves, custom paths, the optimised path.
    sets_by_plan
        Plan name -> scenario sets (``"historical cohorts"`` and Monte Carlo sets); a
        plan without sets gets the historical sections only.
    """
    d = study.data
    monthly = None
    if any(isinstance(s, CryptoSleeve) for s in strategies.values()):
        monthly = load_history([d.equity, d.bonds, d.cash, d.crypto, "cpi"], "monthly")
    names = list(plans) if plans is not None else [p.name for p in study.plans]
    pages = tuple(
        study_page(study, n, history, strategies, sets_by_plan.get(n, {}), monthly=monthly)
        for n in names
    )
    span = f"{history.index[0]:%b %Y} \u2013 {history.index[-1]:%b %Y}"
    settings = (
        ("Study", study.source),
        ("Seed", str(study.seed)),
        (
            "Data",
            f"{d.frequency} returns {span}: equity {d.equity}, bonds {d.bonds}, cash {d.cash}, "
            f"crypto {d.crypto}, inflation CPI (embedded history, see "
            "backtest/data/embedded/PROVENANCE.md)",
        ),
        ("Plans", ", ".join(names)),
    )
    return TearsheetBook(
        title=title or f"glidelab study: {study.name}",
        subtitle=study.description,
        settings=settings,
        pages=pages,
        notes=(
            "Amounts are real USD of each plan's start date; returns are decimal total "
            "returns, real figures deflated by CPI.",
        ),
    )
