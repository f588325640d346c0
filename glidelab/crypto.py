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
``means``, ``vols``       Bitcoin's annual log mean and log volatility grid
``corrs``                 correlations with equities (at least one)
``shocks``, ``dof``       "normal" or "student_t" and its degrees of freedom
``band``                  [lower, upper] sleeve band multiples, or [] for none
``central``               { mean_log, vol_log, corr }: the assumption of the stress test,
                          the rule comparison and the risk table
``breakeven_sleeves``, ``breakeven_vols``, ``breakeven_corr``
``stress_sleeves``, ``stress_age``, ``wealth_age``, ``crash_rho``, ``crash_threshold``
``rules_sleeve``, ``rules_frequency``, ``rules_n``, ``transaction_cost_bps``
``history_n``, ``mature_start``, ``scale``
``survival``              { sex, birth_year, reading }: adds survival-weighted success to
                          the surface (SSA cohort or period table, backtest.mortality)
``[crypto.window]``       portfolio = { asset = weight }, sleeve, start, end, rule
                          ("band" | "monthly" | "quarterly" | "annual" | "none")

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

from backtest.crypto.assumptions import BtcAssumption, CrnDraws, draw_crn
from backtest.crypto.history import data_caveat, history_variant, yearly_table
from backtest.crypto.result import CryptoResearch
from backtest.crypto.risk import risk_contributions
from backtest.crypto.rules import compare_rules, standard_rules
from backtest.crypto.surface import assumption_grid, run_surface
from backtest.crypto.window import window_backtest
from backtest.data import load_history
from backtest.errors import StudyError
from backtest.generators import block_bootstrap
from backtest.io import atomic_directory, write_text_atomic
from backtest.mortality import survival_curve
from backtest.plan import Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from backtest.stress import CorrelationJump, PathShock, PlacedShock, period_at_age, replay
from backtest.stress import stress_table as run_stress_table
from backtest.types import Frequency
from glidelab.backends import Backend, InProcess
from glidelab.context import SEED_SCHEME, SetKind, StudyContext, named_rng
from glidelab.study import (
    CryptoConfig,
    Study,
    StudyFile,
    load_study,
    parse_study_file,
    quick_crypto,
)
from optimize.crypto_breakeven import break_even_table
from strategies import CryptoSleeve, FixedMix, SleeveBand
from strategies.base import Schedule, Strategy
from strategies.rebalance import buy_and_hold, calendar

Log = Callable[[str], None]

#: Bitcoin's worst historical drawdowns replayed by the stress test (calendar windows).
REPLAYS: tuple[tuple[str, str, str], ...] = (
    ("2014-15", "2014-01", "2015-12"),
    ("2018", "2018-01", "2018-12"),
    ("2022", "2022-01", "2022-12"),
)


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


def _central(cfg: CryptoConfig) -> BtcAssumption:
    m, v, c = cfg.central
    return BtcAssumption(m, v, c, cfg.shocks)


def _stress(
    draws: CrnDraws, study: Study, cfg: CryptoConfig, plan: Plan, base: Strategy, make
) -> pd.DataFrame:
    crypto = study.data.crypto
    freq = draws.base.frequency
    sc = draws.scenarios(_central(cfg))
    k_ret = period_at_age(plan, plan.retirement_age, freq)
    shocks: dict[str, PlacedShock] = {
        f"{crypto} -80% in the retirement year": PlacedShock(
            PathShock(crypto, (-0.8,), "annual", "-80% at retirement"), k_ret
        ),
    }
    if plan.start_age <= cfg.stress_age < plan.end_age and cfg.stress_age != plan.retirement_age:
        shocks[f"{crypto} -80% at age {cfg.stress_age:g}"] = PlacedShock(
            PathShock(crypto, (-0.8,), "annual", f"-80% at {cfg.stress_age:g}"),
            period_at_age(plan, cfg.stress_age, freq),
        )
    monthly = load_history([crypto], "monthly")[crypto]
    for label, start, end in REPLAYS:
        shocks[f"{label} replayed at retirement"] = PlacedShock(
            replay(monthly, start, end, crypto, "monthly", f"{label} replay"), k_ret
        )
    shocks[f"correlation {cfg.crash_rho:g} in crash years from retirement"] = PlacedShock(
        CorrelationJump(crypto, study.data.equity, cfg.crash_rho, cfg.crash_threshold), k_ret
    )
    # A zero sleeve holds the same columns as the others and nothing of Bitcoin.
    strategies = {
        (f"{s * 100:g}% sleeve" if s > 0 else "no sleeve"): make(s) for s in cfg.stress_sleeves
    }
    age = min(cfg.wealth_age, plan.end_age)
    return run_stress_table(sc, plan, strategies, shocks, age=age)


def _risk(draws: CrnDraws, cfg: CryptoConfig, plan: Plan, make) -> pd.DataFrame:
    m, _, c = cfg.central
    ppy = draws.base.periods_per_year
    schedule = Schedule.from_ages(plan.start_age, plan.end_age, plan.retirement_age, ppy)
    k = min(plan.retirement_period(ppy), plan.n_periods(ppy) - 1)
    rows = []
    for vol in cfg.vols:
        sc = draws.scenarios(BtcAssumption(m, vol, c, cfg.shocks))
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
                    "vol_log": vol,
                    "mean_log": m,
                    "corr": c,
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
            reference_vol=cfg.central[1],
        ),
    )


def _notes(study: Study, cfg: CryptoConfig) -> tuple[str, ...]:
    """The research's notes: the assumptions, the metrics' definitions, the data caveat."""
    d = study.data
    m, v, c = cfg.central
    return (
        "Bitcoin's returns are stated assumptions, not estimates: annual log mean mu and "
        "log volatility sigma (lognormal arithmetic mean exp(mu + sigma^2/2) - 1), "
        f"correlated with {d.equity} through its standardised log return, "
        f"{cfg.shocks} shocks"
        + (f" ({cfg.dof:g} degrees of freedom)" if cfg.shocks == "student_t" else "")
        + "; every cell reuses the same base scenarios and shocks (common random numbers).",
        f"Central assumption (stress, rules, risk): mu {m:.0%}, sigma {v:.0%}, correlation {c:g}.",
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
        ("base scenarios", base_sc.description),
        ("seed", f"{study.seed} (streams {', '.join(STREAMS.values())}: {SEED_SCHEME})"),
        ("grid", f"{len(cfg.means)} means x {len(cfg.vols)} vols x {len(cfg.corrs)} corrs"),
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
        cfg.breakeven_vols,
        corr=cfg.breakeven_corr,
        shocks=cfg.shocks,
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
        notes=_notes(study, cfg),
        settings=_settings(cs, base, base_sc, marks),
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


def summary(result: CryptoResearch) -> str:
    """A few lines for the terminal: break-even, worst stress, best rule per turnover."""
    lines = [result.title]
    be = result.breakeven
    for _, r in be.iterrows():
        if np.isfinite(r["mean_log"]):
            lines.append(
                f"  break-even {r['sleeve'] * 100:g}% sleeve, vol {r['vol_log']:.0%}: log mean "
                f"{r['mean_log']:+.1%} (95% {r['ci_low']:+.1%}..{r['ci_high']:+.1%}), "
                f"arithmetic {r['arithmetic_mean']:+.1%} a year"
            )
        else:
            lines.append(f"  break-even {r['sleeve'] * 100:g}% sleeve: {r['note']}")
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
