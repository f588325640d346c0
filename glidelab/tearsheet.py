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
the page shows each strategy's success on every set side by side. Each page opens with
its summary table: success on every set, labelled in sample (the optimiser's own
scenarios, given ``search``), held out or historical cohorts, with 100 % equity
(:data:`REFERENCE`) always beside the study's strategies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import cast

import numpy as np
import pandas as pd

from backtest.crypto.history import data_caveat
from backtest.data import load_history
from backtest.outcomes import success_rate
from backtest.report.build import (
    HistoryInputs,
    MemberInputs,
    PageText,
    SleeveInputs,
    SummaryInputs,
    TearsheetInputs,
    build_tearsheet_data,
)
from backtest.report.describe import describe_plan, plain_words
from backtest.report.model import (
    HELD_OUT,
    IN_SAMPLE,
    SetCell,
    SummarySet,
    TearsheetBook,
    TearsheetData,
)
from backtest.report.units import human_label
from backtest.scenarios import Scenarios
from backtest.types import periods_per_year
from glidelab.context import SET_NAMES, StudyContext
from glidelab.search import SearchRun
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
    roles = f"{human_label(d.equity)}/{human_label(d.bonds)}"
    return {
        f"{100 * e:g}/{100 * (1 - e):g} {roles}": FixedMix(
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


#: Bitcoin's years before this one are coarse or Mt.Gox prices (``data_caveat``).
BTC_RELIABLE_FROM = 2014

#: The warning beside a Bitcoin sleeve whose scenarios resample its early years.
EARLY_BTC = "\u26a0 early Bitcoin years"

#: The key of the optimised glide path among a study's strategies (as
#: ``glidelab.sections.OPTIMISED`` names it; that module imports this one).
OPTIMISED = "optimised glide path"

#: The 100 % equity reference every summary table shows (``strategies.presets``).
REFERENCE = "fixed_100_0"


def _crypto_first(study: Study, history: pd.DataFrame) -> pd.Timestamp | None:
    d = study.data
    # The history is indexed by dates: its first valid label is a Timestamp.
    return (
        cast(pd.Timestamp | None, history[d.crypto].first_valid_index())
        if d.crypto in history
        else None
    )


def _crypto_note(study: Study, history: pd.DataFrame, monthly: pd.DataFrame) -> str:
    d = study.data
    first = _crypto_first(study, history)
    since = f"from {first:%Y}" if first is not None else "only recently"
    rule = {
        "cash": f"earns {human_label(d.cash)}",
        "exclude": "is left out",
        "proxy": "earns its proxy's returns",
    }.get(study.scenarios.crypto_before_data, "follows the study's rule")
    return (
        f"{human_label(d.crypto)} has data {since}; before that the sleeve {rule} in the "
        "historical sections and scenarios. Its metrics in the sleeve chart use monthly data "
        f"from {monthly.index[0]:%b %Y} to {monthly.index[-1]:%b %Y}. Resampled history "
        "treats its early years as if they could recur, which flatters any sleeve."
    )


def _sleeve_window(
    study: Study, history: pd.DataFrame, scenarios: Scenarios | None
) -> tuple[str, str]:
    """What the sleeve chart's success panel resamples, and the warning when its scenarios
    resample Bitcoin's early years (before :data:`BTC_RELIABLE_FROM`)."""
    if scenarios is None:
        return "", ""
    span = f"{history.index[0]:%Y}\u2013{history.index[-1]:%Y}"
    first = _crypto_first(study, history)
    on = f"{scenarios.n_scenarios:,} scenarios resampling the study's {span} history"
    if first is None or first.year >= BTC_RELIABLE_FROM:
        return on, ""
    warn = (
        f"the Monte Carlo scenarios behind the Bitcoin sleeves' figures resample Bitcoin's "
        f"early years ({first:%Y}\u2013{BTC_RELIABLE_FROM - 1}) as if they could recur. "
        f"{data_caveat()}"
    )
    return on, warn


def _binomial(p: float, n: int) -> SetCell:
    """Success ``p`` (decimal) on ``n`` independent scenarios with its binomial standard
    error, as :func:`backtest.outcomes.success_rate` gives it for ``round(p * n)`` of them."""
    return SetCell(p, success_rate(np.arange(n) < round(p * n)).se, n)


def _optimiser_sets(
    search: SearchRun, strategies: Mapping[str, Strategy], reference: Strategy
) -> tuple[tuple[SummarySet, dict[str, SetCell]], ...]:
    """The optimiser's own figures (in sample, held out) for the optimised path and each
    shown strategy it compared, by display name."""
    names = {k: s.name for k, s in strategies.items()} | {REFERENCE: reference.name}
    fitted = next((s.name for s in strategies.values() if s is search.result.glide_path), "")
    cmp = search.comparison.set_index("strategy")
    out = []
    for col, scen, role, what in (
        ("success_in_sample", search.in_sample, IN_SAMPLE, "optimiser's bootstrap draws"),
        ("success_held_out", search.holdout, HELD_OUT, "optimiser's parametric draws"),
    ):
        n = scen.n_scenarios
        cells = {names[k]: _binomial(float(cmp.loc[k, col]), n) for k in cmp.index if k in names}
        res = search.result
        p = res.success_in_sample if role == IN_SAMPLE else res.success_out_of_sample
        if fitted and p is not None:
            cells[fitted] = _binomial(float(p), n)
        desc = plain_words(scen.description)
        out.append((SummarySet(what, role, n, float(n), desc), cells))
    return tuple(out)


def _fitted_note(
    study: Study, optimised: str, search: SearchRun | None, here: bool
) -> tuple[str, ...]:
    """Where the optimised path was fitted, so every page says which figure is in sample."""
    if not optimised:
        return ()
    plan = study.optimize.plan or study.plans[0].name
    where = (
        f" on the optimiser's {search.in_sample.n_scenarios:,} bootstrap scenarios"
        if search is not None
        else ""
    )
    if here and search is not None:
        return (
            f"The {optimised} was fitted for this plan{where}: only the in-sample column is "
            "in sample for it; every other figure is held out.",
        )
    return (
        f"The {optimised} was fitted for plan {plan!r}{where}; every figure on this page is "
        "held out for it.",
    )


def _summary_inputs(
    study: Study,
    plan_name: str,
    history: pd.DataFrame,
    strategies: Mapping[str, Strategy],
    search: SearchRun | None,
    warn: str,
) -> SummaryInputs:
    """What one plan's summary table adds: 100 % equity, the optimised path and, on the
    optimised plan's page, its in-sample and held-out figures, the member's strategy
    today, and the early-Bitcoin warning beside every sleeve."""
    p = study.plan(plan_name)
    reference = StudyContext.of(study, history).strategy(REFERENCE)
    fitted = search is not None and search.plan == p.plan
    found: Strategy | None = next(
        (s for s in strategies.values() if search and s is search.result.glide_path), None
    )
    found = found or strategies.get(OPTIMISED)
    optimised = found.name if found is not None else ""
    today = strategies.get(p.strategy) if p.strategy else None
    sleeves = _sleeves(strategies) or {}
    return SummaryInputs(
        reference=reference,
        fitted=optimised,
        extra=_optimiser_sets(search, strategies, reference) if search and fitted else (),
        held_today=today.name if today is not None else "",
        notes=_fitted_note(study, optimised, search, fitted)
        + ((f"{EARLY_BTC}: {warn}",) if warn else ()),
        flags={s.name: EARLY_BTC for k, s in sleeves.items() if k > 0} if warn else {},
    )


def page_inputs(
    study: Study,
    plan_name: str,
    history: pd.DataFrame,
    strategies: Mapping[str, Strategy],
    sets: Mapping[str, Scenarios],
    *,
    monthly: pd.DataFrame | None = None,
    search: SearchRun | None = None,
) -> TearsheetInputs:
    """What one plan's page is made from: the strategies the history covers, run as funds
    on the member's terms, and the member simulated on her own ``sets``: the first Monte
    Carlo set drives the fan chart and the income table, every set (the developed markets
    under :data:`SET_LABELS`) is a column group of the "Success by scenario set" table.
    The summary table adds 100 % equity (:data:`REFERENCE`) and, on the optimised plan's
    page, the optimiser's own in-sample and held-out figures from ``search``."""
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
    today = strategies.get(p.strategy) if p.strategy else None
    if p.strategy:
        notes.append(f"{p.name} holds {today.name if today else human_label(p.strategy)} today.")
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
    on, warn = _sleeve_window(study, history, scenarios)
    summary = _summary_inputs(study, plan_name, history, strategies, search, warn)
    return TearsheetInputs(
        shown,
        history=dataclasses.replace(
            HistoryInputs.for_plan(history, p.plan), riskfree_column=study.data.cash
        ),
        member=member,
        sleeves=(
            SleeveInputs(
                sleeves, sleeve_history, scenarios, on, f"{EARLY_BTC}: {warn}" if warn else ""
            )
            if sleeves
            else None
        ),
        text=PageText(
            title=f"Plan {p.name!r}",
            subtitle=describe_plan(p.plan),
            notes=tuple(notes),
            key=p.name,
        ),
        summary=summary,
    )


def study_page(
    study: Study,
    plan_name: str,
    history: pd.DataFrame,
    strategies: Mapping[str, Strategy],
    sets: Mapping[str, Scenarios],
    *,
    monthly: pd.DataFrame | None = None,
    search: SearchRun | None = None,
) -> TearsheetData:
    """One plan's page: historical backtests run for this member, her glide paths on her
    own ages, and every simulated section on the plan's own ``sets`` (none: the
    historical sections and glide paths only)."""
    inputs = page_inputs(
        study, plan_name, history, strategies, sets, monthly=monthly, search=search
    )
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
    search: SearchRun | None = None,
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
    search
        The optimiser's run, when the study has one: its in-sample and held-out figures
        join the optimised plan's summary table.
    """
    d = study.data
    monthly = None
    if any(isinstance(s, CryptoSleeve) for s in strategies.values()):
        monthly = load_history([d.equity, d.bonds, d.cash, d.crypto, "cpi"], "monthly")
    names = list(plans) if plans is not None else [p.name for p in study.plans]
    pages = tuple(
        study_page(
            study, n, history, strategies, sets_by_plan.get(n, {}), monthly=monthly, search=search
        )
        for n in names
    )
    span = f"{history.index[0]:%b %Y} \u2013 {history.index[-1]:%b %Y}"
    settings = (
        ("Study", study.source),
        (
            "Seed",
            f"{study.seed}: every scenario set draws from its own random stream, derived from "
            "this seed and the set's name, so adding or removing a set leaves the others "
            "unchanged",
        ),
        (
            "Data",
            f"{d.frequency} returns {span}: equity {human_label(d.equity)}, bonds "
            f"{human_label(d.bonds)}, cash {human_label(d.cash)}, crypto "
            f"{human_label(d.crypto)}, inflation CPI (embedded history, see "
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
