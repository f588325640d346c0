"""Crypto studies: a ``[crypto]`` table beside an ordinary study, and the run behind
``glidelab crypto STUDY.toml``.

The study file is an ordinary study (``[study]``, ``[data]``, ``[scenarios]``,
``[[plans]]``...) plus a ``[crypto]`` table, every key optional:

``plan``                  the plan researched (default: the first)
``base``                  preset the sleeve is funded from, pro rata ("fixed_60_40", or a
                          glide path such as "vanguard_target_retirement")
``sleeves``               sleeve sizes, decimals (0 is the reference)
``n_scenarios``           base scenarios (block bootstrap of the study's history, or
                          parametric: ``base_scenarios``)
``means``, ``vols``       Bitcoin's ARITHMETIC grid: expected simple return a year and its
                          standard deviation, decimals (a log grid, ``means_log``, is
                          refused with the conversion)
``corrs``                 correlations with equities (at least one)
``shocks``, ``dof``       "normal" or "student_t" and its degrees of freedom
``band``                  [lower, upper] sleeve band multiples, or [] for none
``central``               "history" (:func:`resolve_central`: equities' arithmetic mean,
                          Bitcoin's realised volatility and correlation since
                          ``mature_start``), { mean, vol, corr } (arithmetic) or
                          { mean_log, vol_log, corr }: the assumption of the stress test,
                          the rule comparison, the risk table, the vintage, the disclosure
``breakeven_sleeves``, ``breakeven_vols`` (arithmetic, or "central"), ``breakeven_corrs``
``stress_sleeves``, ``stress_age``, ``wealth_age``, ``crash_rho``, ``crash_threshold``
``rules_sleeve``, ``rules_frequency``, ``rules_n``, ``transaction_cost_bps``
``history_n``, ``mature_start``, ``scale``
``survival``              { sex, birth_year, reading }: adds survival-weighted success to
                          the surface (SSA cohort or period table, backtest.mortality)
``[crypto.window]``       portfolio = { asset = weight }, sleeve, start, end, rule
                          ("band" | "monthly" | "quarterly" | "annual" | "none")
``[crypto.vintage]``      population (a fund-design study), preset, sleeves, end_size,
                          shrink_from_years, shrink_to_years, members, market_paths,
                          risk_years: the sleeve inside a target-date vintage (:func:`_vintage`)
``[crypto.disclosure]``   etf_fee, crash_month, stress_year, stress_loss: the committee
                          disclosure table (:func:`_disclosure`)
``[crypto.stresses]``     winter_years, winter_lead, decay_half_life, regime_months,
                          etf_funds, panic_drawdown: the fiduciary stresses (:func:`_fiduciary`)

:func:`run_crypto` writes every table as CSV and JSON, ``settings.json`` and the crypto
tear sheet (HTML and PDF) into ``<output.dir>/<study.name>/``, atomically.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from backtest.crypto.assumptions import (
    BtcAssumption,
    CrnDraws,
    Shocks,
    central_from_history,
    draw_crn,
)
from backtest.crypto.disclosure import (
    ETF_FEE_SOURCE,
    EXECUTIVE_ORDER,
    disclosure_table,
    scaled_year,
)
from backtest.crypto.history import data_caveat, history_variant, yearly_table
from backtest.crypto.result import CryptoResearch
from backtest.crypto.risk import risk_contributions
from backtest.crypto.rules import compare_rules, standard_rules
from backtest.crypto.stresses import (
    WINTERS,
    crypto_winter,
    drawdown_crossings,
    etf_fee,
    impairment_at,
    impairment_random,
    leveraged_equity,
    panic_sale,
    peak_correlation,
    peak_to_trough,
    premium_decay,
)
from backtest.crypto.surface import assumption_grid, run_surface
from backtest.crypto.vintage import score_vintage
from backtest.crypto.window import window_backtest
from backtest.data import load_history
from backtest.data.embedded import asset_label
from backtest.errors import StudyError
from backtest.generators import block_bootstrap
from backtest.io import atomic_directory, write_text_atomic
from backtest.mortality import survival_curve
from backtest.plan import Plan
from backtest.population import draw_members
from backtest.report.describe import plain_words
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from backtest.stress import CorrelationJump, PathShock, PlacedShock, period_at_age, replay
from backtest.stress import stress_table as run_stress_table
from backtest.types import Frequency
from glidelab.backends import Backend, InProcess
from glidelab.context import SEED_SCHEME, SetKind, StudyContext, named_rng
from glidelab.study import (
    ALL_ASSETS,
    CryptoConfig,
    DesignStudy,
    Study,
    StudyFile,
    load_study,
    parse_study_file,
    quick_crypto,
)
from glidelab.studyfile.crypto import CentralConfig
from optimize.crypto_breakeven import break_even_table
from strategies import CryptoSleeve, FixedMix, GlidingSleeve, SleeveBand
from strategies.base import Schedule, Strategy
from strategies.presets import preset
from strategies.rebalance import buy_and_hold, calendar

Log = Callable[[str], None]

#: Bitcoin's worst historical drawdowns replayed by the stress test (calendar windows).
REPLAYS: tuple[tuple[str, str, str], ...] = (
    ("2014-15", "2014-01", "2015-12"),
    ("2018", "2018-01", "2018-12"),
    ("2022", "2022-01", "2022-12"),
)

#: The stream of the study's seed tree the random impairment periods are drawn from.
IMPAIRMENT_STREAM = "crypto: impairment times"
#: Stream of the Bitcoin shocks laid over the vintage's market paths (the study's seed).
VINTAGE_STREAM = "crypto: vintage draws"


@dataclass(frozen=True)
class CryptoStudy:
    """An ordinary study and its ``[crypto]`` table."""

    study: Study
    crypto: CryptoConfig


def parse_crypto_study(raw: dict[str, Any], source: str = "<dict>") -> CryptoStudy:
    """The study and ``[crypto]`` table of a parsed study file (the one reader,
    :func:`glidelab.study.parse_study_file`); a file without ``[crypto]`` is refused."""
    if "crypto" not in raw:
        raise StudyError(
            f"{source} has no [crypto] table; add one (see glidelab/studies/crypto_sleeve.toml)"
        )
    return crypto_study(parse_study_file(raw, source))


def crypto_study(sf: StudyFile) -> CryptoStudy:
    """The crypto research a loaded study file asks for, or a :class:`StudyError`."""
    if sf.crypto is None:
        raise StudyError(
            f"{sf.name} has no [crypto] table; add one (see the shipped crypto_sleeve study)"
        )
    return CryptoStudy(sf.require_study("glidelab crypto"), sf.crypto)


def load_crypto_study(name_or_path: str | Path) -> CryptoStudy:
    """Read and validate a crypto study (an ordinary study plus ``[crypto]``), by path or
    shipped name (:func:`glidelab.study.load_study`)."""
    return crypto_study(load_study(name_or_path))


def quick(cs: CryptoStudy) -> CryptoStudy:
    """A smoke-run version of ``cs`` (:func:`glidelab.study.quick_crypto`; the study is
    left as it is)."""
    return dataclasses.replace(cs, crypto=quick_crypto(cs.crypto))


# --------------------------------------------------------------------------- pieces


def _preset(name: str, study: Study) -> Strategy:
    """The research's base preset on the study's roles (:meth:`StudyContext.strategy`)."""
    try:
        return StudyContext(study).strategy(name)
    except StudyError as exc:
        raise StudyError(f"[crypto].base: {exc}") from None


def _with_all_roles(base: Strategy, study: Study) -> Strategy:
    """The base over exactly the study's equity, bonds and cash (zero weights added), so
    every strategy reads the same scenario columns."""
    roles = (study.data.equity, study.data.bonds, study.data.cash)
    if tuple(base.assets) == roles:
        return base
    if isinstance(base, FixedMix) and set(base.assets) <= set(roles):
        w = dict(zip(base.assets, base.weights, strict=True))
        return dataclasses.replace(base, assets=roles, weights=tuple(w.get(a, 0.0) for a in roles))
    return base


def _sleeve_factory(base: Strategy, cfg: CryptoConfig, crypto: str) -> Callable[[float], Strategy]:
    band = SleeveBand(crypto, cfg.band[0], cfg.band[1]) if cfg.band else None

    def make(size: float) -> Strategy:
        return CryptoSleeve(
            base,
            size,
            crypto_asset=crypto,
            band=band,
            cap=None,
            name=f"{base.name} + {size * 100:g}% {crypto}",
        )

    return make


#: The research's streams in the study's seed tree (:mod:`glidelab.context`).
STREAMS = {
    "base": "crypto: base scenarios",
    "draws": "crypto: assumption draws",
    "rules base": "crypto: rules scenarios",
    "rules draws": "crypto: rules draws",
    "history options": "crypto: history options",
    "impairment": IMPAIRMENT_STREAM,
    "vintage": VINTAGE_STREAM,
}


def _base_scenarios(
    study: Study, cfg: CryptoConfig, plan: Plan, frequency: Frequency, n: int, stream: str
) -> Scenarios:
    """The core assets' scenarios of ``[crypto].base_scenarios`` (bootstrap or
    parametric) at ``frequency``: the study's named set ``STREAMS[stream]``."""
    d = study.data
    kind: SetKind = "parametric" if cfg.base_scenarios == "parametric" else "bootstrap"
    return StudyContext(study).scenarios(
        STREAMS[stream], plan, n, kind, assets=[d.equity, d.bonds, d.cash], frequency=frequency
    )


def _rng(study: Study, stream: str) -> np.random.Generator:
    """The research's stream ``STREAMS[stream]`` of the study's seed tree."""
    return named_rng(study.seed, STREAMS[stream])


def resolve_central(cfg: CryptoConfig, study: Study) -> CryptoConfig:
    """``cfg`` with its central case in numbers and a rationale (``[crypto].central``).

    ``"history"``: :func:`backtest.crypto.assumptions.central_from_history` on the
    study's equity (annual, its data years) and Bitcoin (monthly from
    ``[crypto].mature_start``); a stated case gets a rationale saying it is stated.
    Idempotent."""
    c = cfg.central
    if c.rationale:
        return cfg
    d = study.data
    if c.terms == "history":
        annual = load_history([d.equity], "annual")[d.equity]
        monthly = load_history([d.equity, d.crypto], "monthly")
        case = central_from_history(
            annual,
            monthly[d.equity],
            monthly[d.crypto],
            equity_window=(str(d.start), str(d.end)),
            crypto_since=cfg.mature_start,
            shocks=cfg.shocks,
        )
        a, why = case.assumption, case.rationale
    else:
        a = _stated(c, cfg.shocks)
        why = (
            f"Central case (stated in the study file, {c.terms} terms): expected return "
            f"{a.arithmetic_mean:.1%} a year, volatility {a.arithmetic_vol:.0%}, correlation "
            f"{a.corr_equity:.2f} (log parameters mu {a.mean_log:+.1%}, sigma {a.vol_log:.1%})."
        )
    central = CentralConfig("arithmetic", a.arithmetic_mean, a.arithmetic_vol, a.corr_equity, why)
    return dataclasses.replace(cfg, central=central)


def _stated(c: CentralConfig, shocks: Shocks) -> BtcAssumption:
    if c.mean is None or c.vol is None or c.corr is None:
        raise StudyError(
            "the central case is not resolved; call glidelab.crypto.resolve_central(cfg, "
            "study) first (research() does)"
        )
    if c.terms == "log":
        return BtcAssumption(c.mean, c.vol, c.corr, shocks)
    return BtcAssumption.from_arithmetic(c.mean, c.vol, c.corr, shocks)


def _central(cfg: CryptoConfig) -> BtcAssumption:
    """The central assumption of a resolved ``cfg`` (:func:`resolve_central`)."""
    return _stated(cfg.central, cfg.shocks)


def _stress(
    draws: CrnDraws, study: Study, cfg: CryptoConfig, plan: Plan, base: Strategy, make
) -> pd.DataFrame:
    """The stress table on the central case for each stress sleeve: -80 % years, the
    replayed drawdowns, crash correlation and the fiduciary stresses (:func:`_fiduciary`)."""
    crypto = study.data.crypto
    name = asset_label(crypto)
    freq = draws.base.frequency
    central = _central(cfg)
    sc = draws.scenarios(central)
    k_ret = period_at_age(plan, plan.retirement_age, freq)
    shocks: dict[str, PlacedShock] = {
        f"{name} -80% in the retirement year": PlacedShock(
            PathShock(crypto, (-0.8,), "annual", "-80% at retirement"),
            k_ret,
            "A stated one-year fall of 80 % in the first year of retirement.",
        ),
    }
    if plan.start_age <= cfg.stress_age < plan.end_age and cfg.stress_age != plan.retirement_age:
        shocks[f"{name} -80% at age {cfg.stress_age:g}"] = PlacedShock(
            PathShock(crypto, (-0.8,), "annual", f"-80% at {cfg.stress_age:g}"),
            period_at_age(plan, cfg.stress_age, freq),
            f"A stated one-year fall of 80 % in the year from age {cfg.stress_age:g}.",
        )
    monthly = load_history([crypto], "monthly")[crypto]
    for label, start, end in REPLAYS:
        shocks[f"{label} replayed at retirement"] = PlacedShock(
            replay(monthly, start, end, crypto, "monthly", f"{label} replay"),
            k_ret,
            f"Bitcoin's monthly returns {start} to {end} (embedded data) replayed from "
            "retirement, compounded to years.",
        )
    shocks[f"correlation {cfg.crash_rho:g} in crash years from retirement"] = PlacedShock(
        CorrelationJump(crypto, study.data.equity, cfg.crash_rho, cfg.crash_threshold),
        k_ret,
        f"From retirement, in each year {asset_label(study.data.equity)} returns "
        f"{cfg.crash_threshold:.0%} or less, Bitcoin's shock moves with equities' at "
        f"correlation {cfg.crash_rho:g}.",
    )
    shocks.update(_fiduciary(draws, study, cfg, plan, central))
    # A zero sleeve holds the same columns as the others and nothing of Bitcoin.
    strategies = {
        (f"{s * 100:g}% sleeve" if s > 0 else "no sleeve"): make(s) for s in cfg.stress_sleeves
    }
    age = min(cfg.wealth_age, plan.end_age)
    reference = "no sleeve" if "no sleeve" in strategies else None
    return run_stress_table(sc, plan, strategies, shocks, age=age, reference=reference)


def _fiduciary(
    draws: CrnDraws, study: Study, cfg: CryptoConfig, plan: Plan, central: BtcAssumption
) -> dict[str, PlacedShock]:
    """The stresses a fiduciary is asked about (:mod:`backtest.crypto.stresses`), by label:
    impairment, crypto winters, premium decay, Bitcoin as leveraged equity, ETF fees and a
    member who sells after a fall; inputs from ``[crypto.stresses]``."""
    st, d = cfg.stresses, study.data
    freq, ppy = draws.base.frequency, draws.base.periods_per_year
    n_t = plan.n_periods(ppy)
    k_ret = period_at_age(plan, plan.retirement_age, freq)
    at_ret = f"at retirement ({plan.retirement_age:g})"
    monthly = load_history([d.crypto, d.equity], "monthly")
    rng = named_rng(study.seed, IMPAIRMENT_STREAM)
    ages = f"ages {plan.start_age:g}-{plan.end_age - 1 / ppy:g}"
    placed = [
        impairment_random(d.crypto, draws.n_scenarios, 0, n_t, rng, ages),
        impairment_at(d.crypto, k_ret, at_ret),
    ]
    episodes = [peak_to_trough(monthly[d.crypto], *w) for w in WINTERS]
    placed.append(crypto_winter(d.crypto, central, episodes, st.winter_years, k_ret, at_ret))
    lead_age = plan.retirement_age - st.winter_lead
    if st.winter_lead > 0 and lead_age >= plan.start_age:
        k = period_at_age(plan, lead_age, freq)
        where = f"from age {lead_age:g}"
        placed.append(crypto_winter(d.crypto, central, episodes, st.winter_years, k, where))
    (c,) = draws.base.asset_index([d.cash])
    cash = float((1.0 + draws.base.returns[:, :, c].mean()) ** ppy - 1.0)
    what = f"cash ({asset_label(d.cash)}, mean of the base scenarios)"
    years = int(np.ceil(n_t / ppy))
    placed.append(premium_decay(d.crypto, central, cash, what, st.decay_half_life, years))
    rho, first, last = peak_correlation(monthly, d.crypto, d.equity, st.regime_months)
    source = (
        f"the highest {st.regime_months}-month rolling correlation of monthly log returns in "
        f"the embedded data, {first} to {last}"
    )
    placed.append(leveraged_equity(draws, central, rho, source, k_ret, "from retirement"))
    placed += [etf_fee(d.crypto, f, plan.expense_ratio) for f in st.etf_funds]
    crossings = drawdown_crossings(monthly[d.crypto], st.panic_drawdown)
    placed.append(panic_sale(d.crypto, st.panic_drawdown, crossings))
    return {p.label: p for p in placed}


def _risk(draws: CrnDraws, cfg: CryptoConfig, plan: Plan, make) -> pd.DataFrame:
    """Euler shares of each sleeve at the retirement mix, at the central case's expected
    return and correlation and each volatility of ``[crypto].vols`` (arithmetic: the
    standard deviation of the annual simple return; the log parameters beside it)."""
    central = _central(cfg)
    m, c = central.arithmetic_mean, central.corr_equity
    ppy = draws.base.periods_per_year
    schedule = Schedule.from_ages(plan.start_age, plan.end_age, plan.retirement_age, ppy)
    k = min(plan.retirement_period(ppy), plan.n_periods(ppy) - 1)
    rows = []
    for vol in cfg.vols:
        a = BtcAssumption.from_arithmetic(m, vol, c, cfg.shocks)
        sc = draws.scenarios(a)
        for size in cfg.sleeves:
            strat = make(size)
            idx = sc.asset_index(tuple(strat.assets))
            r = sc.returns[:, : plan.n_periods(ppy), idx]
            w = np.asarray(strat.target_weights(schedule, r), dtype=np.float64)[0, k]
            rc = risk_contributions(r.reshape(-1, len(idx)), w, tuple(strat.assets))
            vol_share, cvar_share = rc.share(strat.assets[-1])
            rows.append(
                {
                    "sleeve": size,
                    "vol": vol,
                    "mean": m,
                    "corr": c,
                    "vol_log": a.vol_log,
                    "mean_log": a.mean_log,
                    "vol_share": vol_share,
                    "cvar_share": cvar_share,
                    "portfolio_vol": rc.volatility,
                    "portfolio_cvar": rc.cvar,
                    "sleeve_vol_contrib": rc.vol_contrib[-1],
                    "sleeve_cvar_contrib": rc.cvar_contrib[-1],
                }
            )
    return pd.DataFrame(rows)


def _history_options(
    study: Study, cfg: CryptoConfig, plan: Plan, base: Strategy, make
) -> pd.DataFrame:
    d = study.data
    context = StudyContext(study)
    frame = context.history
    n_t = context.n_periods(plan)
    ppy = context.periods_per_year
    rows = []
    # One block length for every option (the first option's, when automatic), so the
    # options resample the same rows and differ only in Bitcoin's column.
    block = study.scenarios.block_length
    for option in ("all", "mature", "scaled"):
        h = history_variant(frame, d.crypto, option, mature_start=cfg.mature_start, scale=cfg.scale)
        x = np.log1p(h[d.crypto].dropna().to_numpy())
        sc = block_bootstrap(
            h,
            [d.equity, d.bonds, d.cash, d.crypto],
            cfg.history_n,
            n_t,
            block_length=block,
            rng=_rng(study, "history options"),
            missing="cash",
            cash_asset=d.cash,
        )
        block = float(cast(float, sc.meta["block_length"]))  # meta holds it as an object
        ref = float(simulate(sc, plan, base).success_rate)
        for size in cfg.sleeves:
            if size <= 0:
                continue
            ok = float(simulate(sc, plan, make(size)).success_rate)
            rows.append(
                {
                    "option": option,
                    "sleeve": size,
                    "btc_mean_log": float(x.mean() * ppy),
                    "btc_vol_log": float(x.std(ddof=1) * np.sqrt(ppy)),
                    "btc_periods": int(x.size),
                    "success_base": ref,
                    "success": ok,
                    "d_success": ok - ref,
                }
            )
    return pd.DataFrame(rows)


def _window(study: Study, cfg: CryptoConfig) -> pd.DataFrame:
    w = cfg.window
    d = study.data
    names = [a for a, _ in w.portfolio]
    history = load_history([*names, d.cash] if d.cash not in names else names, "monthly")
    history = history.join(load_history([d.crypto], "monthly"), how="left")
    rule = {
        "band": calendar("annual"),
        "annual": calendar("annual"),
        "quarterly": calendar("quarterly"),
        "monthly": calendar("monthly"),
        "none": buy_and_hold(),
    }[w.rule]
    base = FixedMix("portfolio", tuple(names), tuple(v for _, v in w.portfolio), rebalance=rule)
    sleeve_band = SleeveBand(d.crypto, *cfg.band) if (w.rule == "band" and cfg.band) else None
    sleeve = CryptoSleeve(
        base,
        w.sleeve,
        crypto_asset=d.crypto,
        band=sleeve_band,
        cap=None,
        name=f"portfolio + {w.sleeve * 100:g}% {d.crypto}",
    )
    return window_backtest(
        history,
        {"portfolio": base, sleeve.name: sleeve},
        w.start,
        w.end,
        riskfree_column=d.cash,
        transaction_cost_bps=cfg.transaction_cost_bps,
    )


def _vintage_market(study: Study, cfg: CryptoConfig) -> tuple[DesignStudy, Scenarios]:
    """The design study ``[crypto.vintage].population`` and its held-out member-paths'
    market paths (the design's streams, so the paths are the design's held-out bootstrap
    when the counts match) with a Bitcoin column at the central assumption."""
    v = cfg.vintage
    ds = load_study(v.population).design
    if ds is None:
        raise StudyError(
            f"[crypto.vintage].population = {v.population!r} is not a fund-design study; "
            "name one with a [population] table, e.g. 'target_date_2060'"
        )
    d = study.data
    if d.equity not in ALL_ASSETS:
        raise StudyError(
            f"[data].equity = {d.equity!r} is not among the vintage's assets {list(ALL_ASSETS)}"
        )
    history = load_history([*ALL_ASSETS, "cpi"], "annual")
    market = block_bootstrap(
        history,
        ALL_ASSETS,
        v.market_paths,
        ds.population.n_periods,
        rng=named_rng(ds.seed, "design: market paths held out"),
    )
    draws = draw_crn(
        market,
        d.equity,
        crypto_asset=d.crypto,
        dof=cfg.dof,
        rng=named_rng(study.seed, VINTAGE_STREAM),
    )
    return ds, draws.scenarios(_central(cfg))


def _vintage(study: Study, cfg: CryptoConfig) -> pd.DataFrame:
    """``[crypto.vintage]``: the preset glide path without a sleeve and with each sleeve
    (gliding to ``end_size``, never up), scored on the design's held-out members x market
    paths (:func:`backtest.crypto.vintage.score_vintage`); one row per sleeve size."""
    v = cfg.vintage
    ds, sc = _vintage_market(study, cfg)
    spec = ds.population
    members = draw_members(spec, v.members, named_rng(ds.seed, "design: members held out"))
    try:
        base = preset(v.preset)
    except ValueError as exc:
        raise StudyError(f"[crypto.vintage].preset: {exc}") from None
    sizes = [s for s in v.sleeves if s > 0]
    sleeves = [
        GlidingSleeve(
            base,
            s,
            min(v.end_size, s),
            v.shrink_from_years,
            v.shrink_to_years,
            asset=study.data.crypto,
        )
        for s in sizes
    ]
    df = score_vintage(
        members,
        sc,
        base,
        sleeves,
        asset=study.data.crypto,
        expense_ratio=ds.design.expense_ratio,
        preferences=ds.design.preferences(spec.replacement_rate),
        risk_years=v.risk_years,
    )
    df.insert(0, "sleeve_end", [0.0, *(min(v.end_size, s) for s in sizes)])
    df.insert(0, "sleeve_start", [0.0, *sizes])
    df["gamma"] = ds.design.gamma
    df["population"] = ds.name
    return df


def _window_sleeves(study: Study, cfg: CryptoConfig) -> dict[float, Strategy]:
    """The ``[crypto.window]`` portfolio with each sleeve of ``[crypto].sleeves`` (0: the
    portfolio alone), rebalanced by the window's rule (as :func:`_window`)."""
    w, d = cfg.window, study.data
    names = tuple(a for a, _ in w.portfolio)
    rule = {
        "band": calendar("annual"),
        "annual": calendar("annual"),
        "quarterly": calendar("quarterly"),
        "monthly": calendar("monthly"),
        "none": buy_and_hold(),
    }[w.rule]
    base = FixedMix("portfolio", names, tuple(x for _, x in w.portfolio), rebalance=rule)
    band = SleeveBand(d.crypto, *cfg.band) if (w.rule == "band" and cfg.band) else None
    return {
        s: CryptoSleeve(base, s, crypto_asset=d.crypto, band=band, cap=None) for s in cfg.sleeves
    }


def _disclosure(draws: CrnDraws, study: Study, cfg: CryptoConfig, plan: Plan, make) -> pd.DataFrame:
    """The committee disclosure table (:func:`backtest.crypto.disclosure.disclosure_table`):
    Euler shares of the research's base at the central assumption with the weights at
    retirement; drawdowns of the window portfolio in the monthly history and in the
    ``[crypto.disclosure]`` stress year, replayed and with Bitcoin scaled to
    ``stress_loss``; fee drag against the plan's expense ratio."""
    dc, w, d = cfg.disclosure, cfg.window, study.data
    ppy = draws.base.periods_per_year
    schedule = Schedule.from_ages(plan.start_age, plan.end_age, plan.retirement_age, ppy)
    k = min(plan.retirement_period(ppy), plan.n_periods(ppy) - 1)
    sc = draws.scenarios(_central(cfg))
    assets = tuple(make(cfg.sleeves[0]).assets)
    r = sc.returns[:, : plan.n_periods(ppy), sc.asset_index(assets)]
    weights = {
        s: np.asarray(make(s).target_weights(schedule, r), np.float64)[0, k] for s in cfg.sleeves
    }
    sleeves = _window_sleeves(study, cfg)
    cols = list(dict.fromkeys([*(a for a, _ in w.portfolio), d.equity, d.crypto]))
    monthly = load_history(cols, "monthly")
    year = monthly.loc[dc.stress_year]
    if len(year) < 12 or year[d.crypto].isna().any():
        raise StudyError(
            f"[crypto.disclosure].stress_year = {dc.stress_year!r} is not a whole year of "
            f"the monthly history with {d.crypto} data; choose one from 2011 to 2024"
        )
    scaled = year.assign(**{d.crypto: scaled_year(year[d.crypto], dc.stress_loss)})
    stress = pd.concat(
        {
            f"{dc.stress_year} replayed": year,
            f"{dc.stress_year} with Bitcoin {dc.stress_loss:.0%} over the year": scaled,
        }
    )
    return disclosure_table(
        sleeves,
        monthly.loc[w.start : w.end],
        stress,
        r.reshape(-1, len(assets)),
        weights,
        assets,
        asset=d.crypto,
        equity=d.equity,
        crash_threshold=dc.crash_month,
        etf_fee=dc.etf_fee,
        base_fee=plan.expense_ratio,
    )


def _vintage_notes(cfg: CryptoConfig, plan: Plan) -> tuple[str, ...]:
    """Notes on the vintage and disclosure tables: what was scored, against what, how."""
    v, dc = cfg.vintage, cfg.disclosure
    return (
        f"Sleeve inside a target-date vintage (vintage.csv): the {v.preset} preset with a "
        f"Bitcoin sleeve funded pro rata, constant until {v.shrink_from_years:g} years "
        f"before the target date and linear to {v.end_size:.1%} (never more than the "
        f"starting size) at {v.shrink_to_years:g} years before it, rebalanced every year "
        f"with the glide path; scored on the {v.population} study's held-out streams "
        f"({v.members} members x {v.market_paths} block-bootstrap market paths; members who "
        "die before retirement are not scored) with Bitcoin at the central assumption. "
        "Every difference is paired against the same glide path without a sleeve on the "
        "same member-paths; SEs are batch means over market paths.",
        f"Disclosure table (disclosure.csv): risk shares of the research's base at the "
        f"central assumption (weights at retirement, annual returns); drawdowns and months "
        f"from the trough back to the old peak of the [crypto.window] portfolio in the "
        f"monthly history {cfg.window.start}..{cfg.window.end} and in {dc.stress_year} "
        f"(replayed, and with Bitcoin's months scaled to {dc.stress_loss:.0%} over the year); "
        f"crash correlation over months with equities below {dc.crash_month:.0%}; fee drag "
        f"= sleeve x ({dc.etf_fee:.2%} - the plan's {plan.expense_ratio:.2%}). "
        f"{ETF_FEE_SOURCE}. {EXECUTIVE_ORDER}.",
    )


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class _SurfaceShared:
    """What every surface task needs (sent to each Dask worker once)."""

    draws: CrnDraws
    plan: Plan
    base: Strategy
    cfg: CryptoConfig
    crypto: str
    grid: tuple[BtcAssumption, ...]
    survival: np.ndarray | None


def _surface_task(size: float, shared: _SurfaceShared) -> pd.DataFrame:
    """The surface rows of one sleeve size (a top-level function, so Dask can send it)."""
    make = _sleeve_factory(shared.base, shared.cfg, shared.crypto)
    return run_surface(
        shared.draws,
        shared.plan,
        shared.base,
        make,
        [size],
        list(shared.grid),
        survival=shared.survival,
    )


def surface_on(backend: Backend, shared: _SurfaceShared, sizes: tuple[float, ...]) -> pd.DataFrame:
    """:func:`backtest.crypto.surface.run_surface` with one task per sleeve size on
    ``backend``; rows in the order of ``sizes`` whatever the order tasks finish in, so the
    table is the same in-process and on Dask."""
    tasks = [s for s in sizes if s > 0]
    parts: dict[int, pd.DataFrame] = dict(backend.map_unordered(_surface_task, tasks, shared))
    return pd.concat([parts[i] for i in range(len(tasks))], ignore_index=True)


def _survival(cfg: CryptoConfig, plan: Plan) -> np.ndarray | None:
    """The member's SSA survival from the retirement age (``[crypto].survival``), or
    None without one."""
    if cfg.survival is None:
        return None
    sex, born, reading = cfg.survival
    return survival_curve(
        sex,
        born,
        int(plan.retirement_age),
        int(np.ceil(plan.end_age - plan.retirement_age)),
        reading,
    )


def _rules(study: Study, cfg: CryptoConfig, plan: Plan, base: Strategy) -> pd.DataFrame:
    """The sleeve rules compared on their own draws (``rules_frequency``, ``rules_n``
    scenarios), with the trading cost of ``[crypto].transaction_cost_bps``."""
    d = study.data
    rules_sc = _base_scenarios(study, cfg, plan, cfg.rules_frequency, cfg.rules_n, "rules base")
    rules_draws = draw_crn(
        rules_sc, d.equity, crypto_asset=d.crypto, dof=cfg.dof, rng=_rng(study, "rules draws")
    )
    costly = dataclasses.replace(plan, transaction_cost_bps=cfg.transaction_cost_bps)
    return compare_rules(
        rules_draws.scenarios(_central(cfg)),
        costly,
        standard_rules(
            base,
            cfg.rules_sleeve,
            crypto_asset=d.crypto,
            reference_vol=_central(cfg).vol_log,
        ),
    )


def _notes(study: Study, cfg: CryptoConfig) -> tuple[str, ...]:
    """The research's notes: the assumptions, the metrics' definitions, the data caveat."""
    d = study.data
    return (
        cfg.central.rationale + " It is the assumption of the stress tests, the sleeve "
        "rules, the risk contributions, the vintage and the disclosure table.",
        "Bitcoin's returns are stated assumptions, not estimates, in arithmetic annual "
        "terms: the expected simple return a year m and its standard deviation v "
        "(nominal, decimals), laid on as a lognormal with log volatility "
        "sigma^2 = log(1 + v^2 / (1 + m)^2) and log mean mu = log(1 + m) - sigma^2 / 2 "
        "(so at a fixed m more volatility lowers mu: more volatility drag, never more "
        f"reward), correlated with {d.equity} through its standardised log return, "
        f"{cfg.shocks} shocks"
        + (f" ({cfg.dof:g} degrees of freedom)" if cfg.shocks == "student_t" else "")
        + "; every cell reuses the same base scenarios and shocks (common random numbers).",
        "Break-even (breakeven.csv): the arithmetic expected return of Bitcoin at which the "
        "sleeve neither helps nor hurts, by bisection over m at fixed v on common random "
        "numbers, on success, certainty-equivalent income (CRRA gamma 5 utility of the "
        "floor plus the real withdrawals paid, the tear sheet's definition), expected "
        "shortfall of real wealth at retirement (95 % interval from batch means over 20 "
        "batches) and the target mix's log growth; intervals are 95 % test inversion on "
        "the paired differences. Premiums are over the cash asset's and over the base "
        "mix's arithmetic annual mean on the same scenarios. approx_mean is the "
        "rebalancing approximation m_P - V_P + C + s/2 (V_P + V_B - 2C) with the base "
        "mix's pooled annual mean m_P and variance V_P, V_B = v^2 and C the pooled "
        "covariance of Bitcoin's annual return with the base mix's: it should match the "
        "log-growth break-even, and the others only roughly.",
        "Changes are against the base without a sleeve on the same scenarios; standard "
        "errors are paired (success, drawdown) or batch means over 20 batches (median, "
        "expected shortfall).",
        "Expected shortfall: mean real wealth at retirement of the worst 5 % of "
        "scenarios. Maximum drawdown: mean over scenarios of the target mix's nominal "
        "return index, rebalanced every period, before fees.",
        "Data caveat: " + data_caveat(),
        (
            "Survival-weighted success (success_sw in surface.csv): the money lasts as long "
            f"as a {cfg.survival[0]} member born {cfg.survival[1]} lives, given alive at "
            "retirement: 1 - S(ruin age) / S(retirement age) with S from the SSA 2020 "
            f"Trustees {cfg.survival[2]} table, linear between whole ages."
            if cfg.survival is not None
            else "Survival-weighted success is not reported: add [crypto].survival = "
            "{ sex, birth_year } to the study."
        ),
    )


def _timings(marks: dict[str, float]) -> str:
    """Seconds per step from ``marks`` (step name -> clock when it ended, "start" first)."""
    names = list(marks)
    return ", ".join(f"{k} {marks[k] - marks[prev]:.1f}" for prev, k in itertools.pairwise(names))


def _settings(
    cs: CryptoStudy, base: Strategy, base_sc: Scenarios, marks: dict[str, float]
) -> tuple[tuple[str, str], ...]:
    """The research's (label, value) settings rows."""
    study, cfg = cs.study, cs.crypto
    pc = study.plan(cfg.plan)
    plan = pc.plan
    return (
        ("study", f"{study.name} ({study.source})"),
        ("plan", f"{pc.name}: ages {plan.start_age:g}-{plan.retirement_age:g}-{plan.end_age:g}"),
        ("base", f"{base.name}, sleeves funded pro rata"),
        (
            "sleeve band",
            f"{cfg.band[0]:g}x-{cfg.band[1]:g}x of target" if cfg.band else "none",
        ),
        ("base scenarios", plain_words(base_sc.description)),
        ("seed", f"{study.seed}: {SEED_SCHEME} (sets: {', '.join(STREAMS.values())})"),
        ("central case", _central(cfg).label()),
        (
            "grid",
            f"{len(cfg.means)} arithmetic means ({min(cfg.means):.0%}..{max(cfg.means):.0%} a "
            f"year) x {len(cfg.vols)} arithmetic vols ({min(cfg.vols):.0%}..{max(cfg.vols):.0%})"
            f" x {len(cfg.corrs)} corrs",
        ),
        (
            "break-even",
            "sleeves "
            + ", ".join(f"{s:.1%}" for s in cfg.breakeven_sleeves)
            + "; vols "
            + (", ".join(f"{v:.0%}" for v in cfg.breakeven_vols) or "the central case's")
            + "; corrs "
            + ", ".join(f"{c:g}" for c in cfg.breakeven_corrs),
        ),
        ("trading cost (rules)", f"{cfg.transaction_cost_bps:g} bps of turnover"),
        ("timings (s)", _timings(marks)),
    )


def research(
    cs: CryptoStudy, log: Log = lambda _: None, backend: Backend | None = None
) -> CryptoResearch:
    """Every table of the crypto study (numbers only; :func:`run_crypto` writes them).

    ``backend``: where the surface's tasks (one per sleeve size) run; default in this
    process (:class:`glidelab.backends.InProcess`).
    """
    cs = dataclasses.replace(cs, crypto=resolve_central(cs.crypto, cs.study))
    study, cfg = cs.study, cs.crypto
    pc = study.plan(cfg.plan)
    plan = pc.plan
    d = study.data
    base = _with_all_roles(_preset(cfg.base, study), study)
    make = _sleeve_factory(base, cfg, d.crypto)
    marks = {"start": time.perf_counter()}
    base_sc = _base_scenarios(study, cfg, plan, d.frequency, cfg.n_scenarios, "base")
    draws = draw_crn(
        base_sc, d.equity, crypto_asset=d.crypto, dof=cfg.dof, rng=_rng(study, "draws")
    )
    grid = assumption_grid(cfg.means, cfg.vols, cfg.corrs, cfg.shocks)
    n_cells = len(grid) * sum(1 for s in cfg.sleeves if s > 0)
    log(f"surface: {n_cells} cells x {cfg.n_scenarios} scenarios ...")
    shared = _SurfaceShared(draws, plan, base, cfg, d.crypto, tuple(grid), _survival(cfg, plan))
    surface = surface_on(backend or InProcess(), shared, cfg.sleeves)
    marks["surface"] = time.perf_counter()
    log("break-even returns (bisection on common random numbers) ...")
    breakeven = break_even_table(
        draws,
        plan,
        base,
        make,
        cfg.breakeven_sleeves,
        cfg.breakeven_vols or (_central(cfg).arithmetic_vol,),
        corrs=cfg.breakeven_corrs,
        shocks=cfg.shocks,
        cash_asset=d.cash,
    )
    marks["breakeven"] = time.perf_counter()
    log("stress tests ...")
    stress = _stress(draws, study, cfg, plan, base, make)
    marks["stress"] = time.perf_counter()
    log("risk contributions ...")
    risk = _risk(draws, cfg, plan, make)
    marks["risk"] = time.perf_counter()
    log(f"sleeve rules ({cfg.rules_frequency}, {cfg.rules_n} scenarios) ...")
    rules = _rules(study, cfg, plan, base)
    marks["rules"] = time.perf_counter()
    log("history options and the window backtest ...")
    history_options = _history_options(study, cfg, plan, base, make)
    window = _window(study, cfg)
    marks["history"] = time.perf_counter()
    log(
        f"sleeve inside the {cfg.vintage.population} vintage ({cfg.vintage.members} members x "
        f"{cfg.vintage.market_paths} market paths) and the disclosure table ..."
    )
    vintage = _vintage(study, cfg)
    disclosure = _disclosure(draws, study, cfg, plan, make)
    marks["vintage"] = time.perf_counter()
    return CryptoResearch(
        title=f"Crypto sleeve research: {study.name}",
        subtitle=(
            f"{pc.name}, {base.name} base, sleeves "
            + ", ".join(f"{s * 100:g}%" for s in cfg.sleeves if s > 0)
        ),
        surface=surface,
        breakeven=breakeven,
        stress=stress,
        rules=rules,
        risk=risk,
        history_options=history_options,
        btc_yearly=yearly_table(),
        window=window,
        notes=_notes(study, cfg) + _vintage_notes(cfg, plan),
        settings=_settings(cs, base, base_sc, marks),
        central=cfg.central.rationale,
        vintage=vintage,
        disclosure=disclosure,
    )


def write_research(result: CryptoResearch, folder: Path, tearsheet: bool = True) -> None:
    """Write every table (CSV and JSON), ``settings.json`` and the tear sheet into ``folder``."""
    from backtest.report.crypto import write_crypto_report  # lazy: heavy (matplotlib)

    for stem, table in result.tables().items():
        frame = table.reset_index() if stem == "btc_yearly" else table
        write_text_atomic(folder / f"{stem}.csv", frame.to_csv(index=False))
        write_text_atomic(
            folder / f"{stem}.json", frame.to_json(orient="records", indent=1, double_precision=10)
        )
    payload = {
        "title": result.title,
        "notes": list(result.notes),
        "settings": dict(result.settings),
    }
    write_text_atomic(folder / "settings.json", json.dumps(payload, indent=1))
    if tearsheet:
        write_crypto_report(result, folder / "tearsheet")


def run_crypto(
    cs: CryptoStudy,
    out: str | Path | None = None,
    log: Log = lambda _: None,
    backend: Backend | None = None,
) -> tuple[CryptoResearch, Path]:
    """Run the crypto study and write ``<out or output.dir>/<name>/`` atomically."""
    result = research(cs, log, backend)
    root = Path(out if out is not None else cs.study.output.dir)
    target = root / cs.study.name
    with atomic_directory(target) as tmp:
        write_research(result, tmp, cs.study.output.tearsheet)
    return result, target


def _breakeven_lines(be: pd.DataFrame) -> list[str]:
    """One line per sleeve, volatility and metric (success, CE income): the arithmetic
    break-even at each correlation, beside the rebalancing approximation."""
    lines = []
    for _, g in be.groupby(["sleeve", "vol", "metric"], sort=False):
        size, vol, metric = g["sleeve"].iloc[0], g["vol"].iloc[0], g["metric"].iloc[0]
        if metric not in ("success", "ce_income"):
            continue
        cells = [
            (f"{m:+.1%}" if np.isfinite(m) else "n/a") + f" at corr {c:g} (approx {a:+.1%})"
            for m, c, a in zip(g["breakeven_mean"], g["corr"], g["approx_mean"], strict=True)
        ]
        lines.append(
            f"  break-even {size * 100:g}% sleeve, vol {vol:.0%}, {metric}: expected return "
            + ", ".join(cells)
            + " a year"
        )
    return lines


def summary(result: CryptoResearch) -> str:
    """A few lines for the terminal: break-even, worst stress, best rule per turnover."""
    lines = [result.title]
    if result.central:
        lines.append(f"  {result.central}")
    lines += _breakeven_lines(result.breakeven)
    st = result.stress[result.stress["d_success"].notna()]
    if len(st):
        worst = st.iloc[int(st["d_success"].to_numpy().argmin())]  # the first smallest
        lines.append(
            f"  worst stress: {worst['shock']} on the {worst['strategy']}: success "
            f"{worst['success']:.1%} -> {worst['success_shocked']:.1%}, median wealth at "
            f"{worst['wealth_age']:g} {worst['median_wealth']:,.0f} -> "
            f"{worst['median_wealth_shocked']:,.0f} USD"
        )
    ru = result.rules
    finite = ru[np.isfinite(ru["success_per_turnover"])]
    if len(finite):
        best = finite.loc[finite["success_per_turnover"].idxmax()]
        lines.append(
            f"  best success per unit of turnover (trading rules): {best['rule']} "
            f"({best['success']:.1%} success, {best['turnover']:.1%} a year turnover)"
        )
    return "\n".join(lines)
