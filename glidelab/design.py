"""Fund-design studies: read a ``[population]`` study file, design the vintage's glide path,
score it against the presets in and out of sample, and write the report.

A design study (e.g. ``glidelab/studies/target_date_2060.toml``) has four tables, every key
optional and checked (an unknown key is an error naming the allowed ones):

* top level: ``name``, ``description``, ``seed``;
* ``[population]``: any field of :class:`backtest.population.PopulationSpec`;
* ``[design]``: assets, member-paths and market paths in sample, fees, knots, CVaR level,
  frontier size, the objective that picks the designed path, and ``[design.constraints]``
  (any field of :class:`optimize.fund_design.FundConstraints`);
* ``[evaluation]``: presets, members and paths out of sample, JST countries.

:func:`run_design` writes ``<out>/<name>/``: ``design.html``, ``design.pdf``, CSV tables
(``frontier.csv``, ``placed.csv``, ``scores.csv``, ``countries.csv``, ``failing.csv``,
``designed_path.csv``) and ``settings.json``, atomically.
"""

from __future__ import annotations

import dataclasses
import json
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtest.data import load_history
from backtest.data.jst import jst_countries, load_jst
from backtest.errors import GlidelabError, StudyError
from backtest.generators import block_bootstrap, historical_cohorts
from backtest.io import atomic_directory, write_text_atomic
from backtest.population import (
    Members,
    PopulationOutcome,
    PopulationSpec,
    draw_members,
    evaluate_population,
    glide_weights,
    pair_members_paths,
    per_member,
)
from backtest.scenarios import Scenarios
from optimize.fund_design import (
    DesignPoint,
    FundConstraints,
    FundDesigner,
    design_data,
    glide_path_from_knots,
)
from strategies.base import Strategy
from strategies.presets import preset

ALL_ASSETS: tuple[str, ...] = ("us_stocks", "tbonds_10y", "tbills")
DEFAULT_PRESETS: tuple[str, ...] = (
    "vanguard_target_retirement",
    "fidelity_freedom",
    "t_rowe_price_retirement",
    "blackrock_lifepath_index",
    "fixed_60_40",
)


@dataclass(frozen=True)
class DesignSettings:
    """``[design]``: how the glide path is searched (in sample)."""

    assets: tuple[str, ...] = ("us_stocks", "tbonds_10y")
    member_paths: int = 20_000
    market_paths: int = 1_000
    expense_ratio: float = 0.0012
    knot_spacing_years: float = 5.0
    beta: float = 0.95
    frontier_points: int = 5
    objective: str = "income"
    bpoe_slack: float = 0.02
    max_iterations: int = 20
    constraints: FundConstraints = field(default_factory=FundConstraints)


@dataclass(frozen=True)
class EvaluationSettings:
    """``[evaluation]``: what the designed path is compared with, out of sample."""

    presets: tuple[str, ...] = DEFAULT_PRESETS
    members: int = 2_000
    bootstrap_paths: int = 100
    countries: tuple[str, ...] = tuple(i for i in jst_countries() if i not in ("USA", "CAN"))
    country_members: int = 300


@dataclass(frozen=True)
class DesignStudy:
    """A whole design study, validated."""

    name: str = "target_date_2060"
    description: str = ""
    seed: int = 2060
    population: PopulationSpec = field(default_factory=PopulationSpec)
    design: DesignSettings = field(default_factory=DesignSettings)
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)


def _build(cls: type, table: Mapping[str, Any], where: str, convert: Mapping[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - names)
    if unknown:
        raise StudyError(f"[{where}] has unknown keys {unknown}; allowed: {sorted(names)}")
    kw = {k: convert.get(k, lambda v: v)(v) for k, v in table.items()}
    try:
        return cls(**kw)
    except GlidelabError as exc:
        raise StudyError(f"[{where}]: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise StudyError(f"[{where}]: {exc}") from None


def _tuple(v: Any) -> tuple[Any, ...]:
    return tuple(v)


def parse_design_study(data: Mapping[str, Any]) -> DesignStudy:
    """A :class:`DesignStudy` from a parsed TOML mapping; errors name the table and key."""
    top = {k: v for k, v in data.items() if k not in ("population", "design", "evaluation")}
    pop = _build(
        PopulationSpec,
        data.get("population", {}),
        "population",
        {"retirement_ages": lambda v: tuple((int(a), float(p)) for a, p in v)},
    )
    d = dict(data.get("design", {}))
    cons = _build(
        FundConstraints,
        d.pop("constraints", {}),
        "design.constraints",
        {
            "equity_at_target": lambda v: (float(v[0]), float(v[1])),
            "equity_assets": _tuple,
            "crypto_assets": _tuple,
        },
    )
    design = _build(DesignSettings, {**d, "constraints": cons}, "design", {"assets": _tuple})
    bad = [a for a in design.assets if a not in ALL_ASSETS]
    if bad:
        raise StudyError(f"[design] assets {bad} are not available; use some of {list(ALL_ASSETS)}")
    if design.objective not in ("income", "success", "shortfall"):
        raise StudyError(
            f"[design] objective={design.objective!r}; use income, success or shortfall"
        )
    for key in ("member_paths", "market_paths", "frontier_points", "max_iterations"):
        if int(getattr(design, key)) < 1 or (
            key == "frontier_points" and design.frontier_points < 2
        ):
            raise StudyError(f"[design] {key}={getattr(design, key)} is too small")
    ev = _build(
        EvaluationSettings,
        data.get("evaluation", {}),
        "evaluation",
        {"presets": _tuple, "countries": lambda v: tuple(str(x).upper() for x in v)},
    )
    for p in ev.presets:
        try:
            preset(p)
        except ValueError as exc:
            raise StudyError(f"[evaluation] presets: {exc}") from None
    known = jst_countries()
    bad = [c for c in ev.countries if c not in known]
    if bad:
        raise StudyError(f"[evaluation] countries {bad} unknown; use ISO codes of {sorted(known)}")
    return _build(
        DesignStudy,
        {**top, "population": pop, "design": design, "evaluation": ev},
        "study",
        {},
    )


def load_design_study(path: str | Path) -> DesignStudy:
    """Read and validate a design study file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudyError(f"no study file at {p}") from None
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{p} is not valid TOML: {exc}") from None
    return parse_design_study(data)


def quick(study: DesignStudy) -> DesignStudy:
    """A smoke-run version of ``study``: small populations, short searches."""
    return dataclasses.replace(
        study,
        design=dataclasses.replace(
            study.design,
            member_paths=min(study.design.member_paths, 2_000),
            market_paths=min(study.design.market_paths, 200),
            frontier_points=min(study.design.frontier_points, 3),
            max_iterations=min(study.design.max_iterations, 6),
            knot_spacing_years=max(study.design.knot_spacing_years, 10.0),
        ),
        evaluation=dataclasses.replace(
            study.evaluation,
            members=min(study.evaluation.members, 300),
            bootstrap_paths=min(study.evaluation.bootstrap_paths, 30),
            countries=study.evaluation.countries[:4],
            country_members=min(study.evaluation.country_members, 60),
        ),
    )


# ------------------------------------------------------------------------------- running


@dataclass(frozen=True)
class DesignOutcome:
    """What :func:`run_design` computed (numbers), and where it wrote them."""

    study: DesignStudy
    frontier: tuple[DesignPoint, ...]
    designed: Strategy
    placed: pd.DataFrame
    scores: pd.DataFrame
    countries: pd.DataFrame
    failing: pd.DataFrame
    holdout_gap: pd.DataFrame
    seconds: dict[str, float]
    out_dir: Path | None = None


def _weights3(strategy: Strategy, spec: PopulationSpec, scen: Scenarios) -> np.ndarray:
    """A strategy's per-year weights laid out over ``ALL_ASSETS`` (zeros elsewhere)."""
    w = glide_weights(strategy, spec, scen)
    out = np.zeros((w.shape[0], len(ALL_ASSETS)))
    for j, a in enumerate(strategy.assets):
        out[:, ALL_ASSETS.index(a)] = w[:, j]
    return out


def _outcome(
    members: Members, scen: Scenarios, w3: np.ndarray, fee: float, name: str
) -> PopulationOutcome:
    g = (1.0 + scen.select(ALL_ASSETS).returns) / (1.0 + scen.inflation[:, :, None])
    growth = np.einsum("pta,ta->pt", g[:, : w3.shape[0]], w3)
    return evaluate_population(members, growth, expense_ratio=fee, pairing="cross", name=name)


def run_design(
    study: DesignStudy,
    out_root: str | Path | None = "results",
    *,
    progress: bool = False,
    extra: Mapping[str, Strategy] | None = None,
) -> DesignOutcome:
    """Design the vintage's glide path, score it with the presets (and ``extra``
    strategies, e.g. the workbench's drawn path, read against the target date), write the
    report."""
    from backtest.report.population import (
        PopulationReport,
        build_population_charts,
        render_population_html,
        render_population_pdf,
    )

    clock: dict[str, float] = {}
    t0 = time.perf_counter()
    spec, ds, ev = study.population, study.design, study.evaluation
    seeds = np.random.SeedSequence(study.seed).spawn(8)
    n_t = spec.n_periods
    hist = load_history([*ALL_ASSETS, "cpi"], "annual")

    def boot(n: int, seed: np.random.SeedSequence) -> Scenarios:
        return block_bootstrap(hist, ALL_ASSETS, n, n_t, rng=np.random.default_rng(seed))

    # ---- in sample: member-paths for the search
    m_in = draw_members(spec, ds.member_paths, np.random.default_rng(seeds[0]))
    sc_in = boot(ds.market_paths, seeds[1])
    mi, pi = pair_members_paths(ds.member_paths, ds.market_paths, "paired")
    data = design_data(
        m_in,
        sc_in,
        ALL_ASSETS,
        mi,
        pi,
        expense_ratio=ds.expense_ratio,
        rng=np.random.default_rng(seeds[2]),
    )
    cons = ds.constraints
    designer = FundDesigner(
        data,
        spec.target_age,
        cons,
        knot_spacing_years=ds.knot_spacing_years,
        beta=ds.beta,
        assets=ds.assets,
    )
    clock["setup"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    fr = designer.frontier(ds.frontier_points, max_iterations=ds.max_iterations)
    clock["frontier"] = time.perf_counter() - t1
    if ds.objective == "success":
        chosen = fr.max_success
    elif ds.objective == "shortfall":
        chosen = fr.min_shortfall
    else:
        t2 = time.perf_counter()
        chosen = designer.optimise(
            "income",
            start=fr.max_success.knots,
            success_floor_bpoe=min(fr.max_success.bpoe + ds.bpoe_slack, 1.0),
            max_iterations=ds.max_iterations,
        )
        clock["income"] = time.perf_counter() - t2
    designed_name = "designed (this study)"
    designed = glide_path_from_knots(
        designed_name, ds.assets, designer.knot_ages, chosen.knots, spec.target_age
    )
    strategies: dict[str, Strategy] = {designed_name: designed}
    strategies.update({p: preset(p) for p in ev.presets})
    strategies.update(extra or {})

    # ---- presets on the frontier's member-paths (in sample)
    rows = {}
    w3 = {n: _weights3(s, spec, sc_in) for n, s in strategies.items()}
    for n in strategies:
        pt = designer.evaluate_weights(w3[n])
        rows[n] = pt
    cols = ["success", "bpoe", "shortfall", "median_replacement"]

    def frame(points: Mapping[str, DesignPoint]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                k: [p.success, p.bpoe, p.shortfall_cvar, p.median_replacement]
                for k, p in points.items()
            },
            index=cols,
        ).T

    frontier_df = frame({f"{i + 1}: {p.objective}": p for i, p in enumerate(fr.points)})
    placed = frame(rows)

    # ---- held out: fresh members and fresh-seed bootstrap, same sampled-death metric
    t3 = time.perf_counter()
    m_out = draw_members(spec, ev.members, np.random.default_rng(seeds[3]))
    sc_out = boot(ev.bootstrap_paths, seeds[4])
    mo, po = pair_members_paths(ev.members, ev.bootstrap_paths, "cross")
    data_out = design_data(
        m_out,
        sc_out,
        ALL_ASSETS,
        mo,
        po,
        expense_ratio=ds.expense_ratio,
        rng=np.random.default_rng(seeds[5]),
    )
    out_designer = FundDesigner(
        data_out,
        spec.target_age,
        cons,
        knot_ages=designer.knot_ages,
        beta=ds.beta,
        assets=ds.assets,
    )
    gap = _gap(rows, out_designer, w3)

    # ---- out of sample, exact survival weighting: bootstrap and US cohorts
    cohorts = historical_cohorts(hist, ALL_ASSETS, n_t, wrap=True)
    score_rows: dict[str, dict[str, float]] = {}
    outcomes: dict[str, PopulationOutcome] = {}
    for n in strategies:
        o_boot = _outcome(m_out, sc_out, w3[n], ds.expense_ratio, n)
        o_hist = _outcome(
            m_out, cohorts, _weights3(strategies[n], spec, cohorts), ds.expense_ratio, n
        )
        outcomes[n] = o_boot
        row: dict[str, float] = {}
        for label, o in (("bootstrap", o_boot), ("US cohorts", o_hist)):
            s = o.summary()
            row[f"{label}: success"] = s["success_survival_weighted"]
            row[f"{label}: success_fixed"] = s["success_fixed_horizon"]
            row[f"{label}: median_replacement"] = s["median_replacement_ratio"]
            row[f"{label}: mean unpaid years"] = s["mean_unpaid_years"]
            row[f"{label}: CVaR95 unpaid years"] = s["cvar95_unpaid_years"]
        score_rows[n] = row
    scores = pd.DataFrame(score_rows).T
    clock["out_of_sample"] = time.perf_counter() - t3

    # ---- countries (JST, real local currency), wrapped cohorts of the complete years
    t4 = time.perf_counter()
    m_c = draw_members(spec, ev.country_members, np.random.default_rng(seeds[6]))
    country: dict[str, dict[str, float]] = {}
    pooled: dict[str, list[np.ndarray]] = {n: [] for n in strategies}
    n_cohorts: dict[str, int] = {}
    for iso in ev.countries:
        h = load_jst(iso)
        if len(h) < 10:
            continue
        sc = historical_cohorts(h, ALL_ASSETS, n_t, wrap=True)
        n_cohorts[iso] = sc.n_scenarios
        country[iso] = {}
        for n, s in strategies.items():
            o = _outcome(m_c, sc, _weights3(s, spec, sc), ds.expense_ratio, n)
            country[iso][n] = o.mean_success
            pooled[n].append(o.success)
    countries = pd.DataFrame(country).T
    if country:
        countries.loc["pooled"] = {n: float(np.concatenate(v).mean()) for n, v in pooled.items()}
    clock["countries"] = time.perf_counter() - t4

    # ---- who fails (designed path, bootstrap)
    pm = per_member(outcomes[designed_name], m_out.n_members)
    failing = _failing_traits(m_out, pm.success < 0.5)

    report = PopulationReport(
        title=f"Fund design: {study.name}",
        subtitle=study.description
        or f"one glide path for members born {spec.birth_year}, target date {spec.target_year}",
        settings=_settings_rows(study, designer, n_cohorts, cohorts.n_scenarios),
        frontier=frontier_df,
        placed=placed,
        weights=pd.DataFrame(
            {n: w3[n][:, 0] for n in strategies}, index=pd.Index(spec.ages.astype(int), name="age")
        ),
        scores=pd.concat([scores, gap], axis=1),
        member_success={n: per_member(outcomes[n], m_out.n_members).success for n in strategies},
        member_replacement={
            n: per_member(outcomes[n], m_out.n_members).replacement_ratio for n in strategies
        },
        member_unpaid={
            n: per_member(outcomes[n], m_out.n_members).unpaid_years for n in strategies
        },
        failing=failing,
        countries=countries,
        notes=_notes(spec, ds),
    )
    clock["total"] = time.perf_counter() - t0
    outcome = DesignOutcome(
        study=study,
        frontier=fr.points,
        designed=designed,
        placed=placed,
        scores=report.scores,
        countries=countries,
        failing=failing,
        holdout_gap=gap,
        seconds=clock,
    )
    if out_root is None:
        return outcome
    target = Path(out_root) / study.name
    with atomic_directory(target) as tmp:
        charts = build_population_charts(report)
        write_text_atomic(tmp / "design.html", render_population_html(report, charts))
        render_population_pdf(report, charts, str(tmp / "design.pdf"))
        for fname, df in (
            ("frontier.csv", frontier_df),
            ("placed.csv", placed),
            ("scores.csv", report.scores),
            ("countries.csv", countries),
            ("failing.csv", failing),
        ):
            write_text_atomic(tmp / fname, df.to_csv(float_format="%.6g"))
        knots = pd.DataFrame(chosen.knots, columns=list(ds.assets), index=designer.knot_ages)
        knots.index.name = "age"
        write_text_atomic(tmp / "designed_path.csv", knots.to_csv(float_format="%.6g"))
        write_text_atomic(
            tmp / "settings.json",
            json.dumps({"study": _jsonable(dataclasses.asdict(study)), "seconds": clock}, indent=2),
        )
    return dataclasses.replace(outcome, out_dir=target)


def _gap(
    rows: Mapping[str, DesignPoint], out_designer: FundDesigner, w3: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """In-sample against held-out success on the same sampled-death metric."""
    out = {}
    for n, pt in rows.items():
        o = out_designer.evaluate_weights(w3[n])
        out[n] = {
            "held-out: success (sampled deaths)": o.success,
            "in-sample: success (sampled deaths)": pt.success,
            "gap in - out (pp)": 100.0 * (pt.success - o.success),
        }
    return pd.DataFrame(out).T


def _failing_traits(m: Members, fail: np.ndarray) -> pd.DataFrame:
    traits = {
        "members (count)": lambda x: float(x.sum()),
        "college share": lambda x: float(m.college[x].mean()),
        "female share": lambda x: float(m.female[x].mean()),
        "starting salary (USD)": lambda x: float(np.median(m.starting_salary[x])),
        "final salary (USD)": lambda x: float(np.median(m.final_salary[x])),
        "retirement age (mean age)": lambda x: float(m.retirement_age[x].mean()),
        "start age (mean age)": lambda x: float(m.start_age[x].mean()),
        "cash-outs (mean count)": lambda x: float(m.cash_outs[x].mean()),
        "hardship withdrawals (mean count)": lambda x: float(m.hardships[x].mean()),
        "career-break years (mean years)": lambda x: float(m.break_years[x].mean()),
        "Social Security / final salary": lambda x: float(
            np.median(m.social_security[x] / m.final_salary[x])
        ),
        "need / final salary": lambda x: float(np.median(m.need[x] / m.final_salary[x])),
    }
    rows = {}
    for k, f in traits.items():
        rows[k] = {
            "failing": f(fail) if fail.any() else float("nan"),
            "others": f(~fail) if (~fail).any() else float("nan"),
        }
    return pd.DataFrame(rows).T


def _settings_rows(
    study: DesignStudy, designer: FundDesigner, n_cohorts: Mapping[str, int], us_cohorts: int
) -> list[tuple[str, str]]:
    spec, ds, ev = study.population, study.design, study.evaluation
    c = ds.constraints
    return [
        (
            "vintage",
            f"born {spec.birth_year}, target date {spec.target_year} (age {spec.target_age})",
        ),
        ("ages", f"{spec.first_age} to {spec.end_age}; fixed horizon {spec.horizon_age}"),
        (
            "in sample",
            f"{ds.member_paths:,} member-paths (one member each, paired with {ds.market_paths:,} "
            f"block-bootstrap paths of US 1928-2025), seed {study.seed}",
        ),
        ("assets", ", ".join(ds.assets) + f"; fees {100 * ds.expense_ratio:.2f} % a year"),
        ("knots (ages)", ", ".join(f"{a:g}" for a in designer.knot_ages)),
        (
            "committee constraints",
            f"equity at target {c.equity_at_target}, monotone after {c.monotone_after_age}, "
            f"max change {c.max_change_per_year}/yr, landing {c.landing} {c.landing_age or ''}, "
            f"crypto cap {c.crypto_cap}",
        ),
        (
            "designed path",
            f"objective {ds.objective}"
            + (f" with bPOE <= best + {ds.bpoe_slack:g}" if ds.objective == "income" else ""),
        ),
        (
            "out of sample",
            f"{ev.members:,} fresh members x {ev.bootstrap_paths} fresh-seed bootstrap paths; "
            f"x {us_cohorts} US historical cohorts (wrapped)",
        ),
        (
            "countries",
            ", ".join(f"{k} ({v} cohorts)" for k, v in n_cohorts.items())
            + f"; {ev.country_members} members each",
        ),
    ]


def _notes(spec: PopulationSpec, ds: DesignSettings) -> list[str]:
    return [
        "Success (frontier) counts member-paths whose money outlives a death age drawn from the "
        "SSA 2020 Trustees cohort table; out-of-sample success is the exact survival-weighted "
        "probability 1 - S(ruin age).",
        "Shortfall on the frontier is the CVaR95 of the unfunded present value at retirement in "
        "years of need; out of sample, unpaid years are survival-weighted years of need not paid.",
        f"Members: salary profile Cocco-Gomes-Maenhout (2005), real wage growth "
        f"{100 * spec.wage_growth_real:.1f} %/yr, auto-enrolment {100 * spec.default_rate:.0f} % "
        f"rising {100 * spec.escalation:.0f} pt/yr to {100 * spec.escalation_cap:.0f} %, match "
        f"{spec.match_rate:g} up to {100 * spec.match_cap:.0f} % of salary, job changes "
        f"{100 * spec.job_change_rate:.0f} %/yr with cash-out probability "
        f"{100 * spec.cash_out_probability:.0f} %, hardship withdrawals "
        f"{100 * spec.hardship_rate:.0f} %/yr of {100 * spec.hardship_share:.0f} % of the balance "
        f"(10 % additional tax before 59.5), spending need {100 * spec.replacement_rate:.0f} % of "
        "final salary net of Social Security. These are stated assumptions, not estimates.",
        "Country results use JST R6 (1870-2020), real local currency, cohorts of the complete "
        "years wrapped around; years JST lacks (wars, hyperinflations) are skipped, which "
        "flatters those countries. JST's US equity departs from the S&P 500 after about 2015.",
        "Bootstrap scenarios resample US history 1928-2025 in blocks; the bond is the 10-year "
        "Treasury, cash the 3-month bill.",
    ]


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def small(study: DesignStudy) -> DesignStudy:
    """A few-second version of ``study`` for the population section of ``glidelab run``."""
    q = quick(study)
    return dataclasses.replace(
        q,
        design=dataclasses.replace(
            q.design, member_paths=600, market_paths=100, max_iterations=3, frontier_points=2
        ),
        evaluation=dataclasses.replace(
            q.evaluation,
            members=200,
            bootstrap_paths=20,
            countries=q.evaluation.countries[:3],
            country_members=40,
        ),
    )


def population_section(parent: str | Path, seed: int) -> DesignOutcome:
    """The shipped vintage study at a small scale, written to ``parent/population``."""
    from glidelab.commands.design import shipped_study_path

    study = dataclasses.replace(
        small(load_design_study(shipped_study_path())), name="population", seed=int(seed)
    )
    return run_design(study, parent)
