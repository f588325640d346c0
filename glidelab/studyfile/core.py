"""The ordinary study: its tables, their dataclasses and :func:`parse_study`.

``[study]``, ``[data]``, ``[scenarios]``, ``[[plans]]`` (:mod:`.plans`), ``[strategies]``,
``[optimize]``, ``[analysis]``, ``[output]`` and ``[compute]`` (:mod:`.compute`), read into
a frozen :class:`Study`; every default is written once, on its dataclass, and read from
there (:func:`~glidelab.studyfile.tables.defaults`). :data:`SCHEMA` declares every key,
checked before any value. :func:`quick_study` is the ``--quick`` variant.
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass, field, fields
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

from backtest.errors import PlanError, StudyError
from backtest.outcomes import IncomePreferences
from glidelab.studyfile.compute import COMPUTE_KEYS, ComputeConfig, parse_compute
from glidelab.studyfile.plans import PLAN_KEYS, PlanConfig, read_plans
from glidelab.studyfile.tables import Table, check_keys, defaults

#: What an optimiser maximises: the probability of success or the CE of real income.
SearchObjective = Literal["success", "ce"]

if TYPE_CHECKING:
    from backtest.generators import BootstrapMethod
    from backtest.types import Frequency

__all__ = [
    "REBALANCE_RULES",
    "SCHEMA",
    "SEARCH_OBJECTIVES",
    "AnalysisConfig",
    "CustomGlidePath",
    "DataConfig",
    "OptimizeConfig",
    "OutputConfig",
    "ScenarioConfig",
    "SearchObjective",
    "StrategyConfig",
    "Study",
    "parse_study",
    "quick_study",
]

#: Every key a study file may hold: name -> None (a value) or the keys of its sub-table
#: (a list of tables, like [[plans]], uses the schema of one table). It is checked first,
#: before any value, so a misspelt key is reported as what it is and never as a missing
#: value it would have set. A key the parser reads must be declared here.
SCHEMA: dict[str, Any] = {
    "study": {"name": None, "seed": None, "description": None},
    "data": dict.fromkeys(
        ("source", "frequency", "start", "end", "equity", "bonds", "cash", "crypto")
    ),
    "scenarios": {
        "historical": None,
        "bootstrap_n": None,
        "parametric_n": None,
        "block_length": None,
        "bootstrap_method": None,
        "crypto_before_data": None,
        "crypto_proxy": {"mean_log_annual": None, "vol_log_annual": None},
        "cma": None,
        "cma_n": None,
        "international_n": None,
    },
    "plans": PLAN_KEYS,
    "strategies": {
        "presets": None,
        "crypto_sleeves": None,
        "crypto_base": None,
        "custom": dict.fromkeys(
            (
                "name",
                "years_to_retirement",
                "equity",
                "cash",
                "crypto_sleeve",
                "rebalance",
                "rebalance_every_months",
                "rebalance_band",
            )
        ),
    },
    "optimize": {
        "enabled": None,
        "plan": None,
        "n_scenarios": None,
        "holdout_n": None,
        "max_iterations": None,
        "constraints": dict.fromkeys(("monotone_equity", "max_change_per_year", "crypto_cap")),
        "adaptive": None,
        "adaptive_plans": None,
        "objective": None,
        "adaptive_objective": None,
        "preferences": dict.fromkeys(
            (
                "gamma",
                "loss_aversion",
                "reference_replacement",
                "bequest_weight",
                "bequest_shifter",
                "discount_rate",
                "income_floor",
            )
        ),
    },
    "analysis": {"withdrawal_rates": None, "equity_shares": None},
    "output": {"dir": None, "tearsheet": None, "population": None},
    "compute": COMPUTE_KEYS,
}


#: Where a study's returns come from: the embedded series, or Yahoo Finance tickers.
DataSource = Literal["embedded", "yahoo"]
DATA_SOURCES: tuple[DataSource, ...] = ("embedded", "yahoo")


@dataclass(frozen=True)
class DataConfig:
    """Which history to use, and which asset plays which role.

    ``source = "embedded"`` (default): the roles name embedded series (``glidelab data``).
    ``source = "yahoo"``: ``equity``, ``bonds`` and ``cash`` name Yahoo Finance tickers
    (e.g. ``"SPY"``, ``"AGG"``, ``"BIL"``), total returns from adjusted closes, fetched and
    cached on disk by :func:`backtest.data.load_yahoo`, deflated by the embedded CPI;
    ``start`` (a year) is required then; ``crypto`` stays an embedded series unless it
    names a ticker.
    """

    frequency: Frequency = "annual"
    start: int | None = None
    end: int | None = None
    equity: str = "us_stocks"
    bonds: str = "tbonds_10y"
    cash: str = "tbills"
    crypto: str = "btc"
    source: DataSource = "embedded"


@dataclass(frozen=True)
class ScenarioConfig:
    """How return scenarios are generated from the history."""

    historical: bool = True
    bootstrap_n: int = 5000
    block_length: float | None = None  # None = automatic (arch's optimal_block_length)
    bootstrap_method: BootstrapMethod = "stationary"
    crypto_before_data: str = "cash"
    crypto_proxy: tuple[float, float] | None = None  # (mean_log_annual, vol_log_annual)
    parametric_n: int = 0
    #: A capital-market assumptions file (``backtest.cma``; ``"example"`` = the shipped
    #: example), or None. Its set, ``cma_n`` scenarios, is moment-matched to the file.
    cma: str | None = None
    cma_n: int = 0
    #: Scenarios of the international bootstrap (JST developed countries, real local
    #: currency, each block from one country; annual studies only), 0 = none.
    international_n: int = 0

    def __post_init__(self) -> None:
        # Checked here, not when scenarios are drawn, so that no override (--quick, a
        # notebook's dataclasses.replace) can run, or hide, a study that has no scenarios.
        if (
            not self.historical
            and self.bootstrap_n <= 0
            and self.parametric_n <= 0
            and self.cma_n <= 0
            and self.international_n <= 0
        ):
            raise StudyError(
                "[scenarios]: historical = false and bootstrap_n = 0 leave no scenarios; "
                "set historical = true or bootstrap_n > 0"
            )
        if self.cma_n > 0 and self.cma is None:
            raise StudyError(
                "[scenarios].cma_n > 0 needs [scenarios].cma, a capital-market assumptions "
                'file (or "example" for the shipped one; format in backtest.cma)'
            )


#: A custom path's rebalancing rule: a ``strategies.base.RebalanceRule`` kind.
RebalanceKind = Literal["calendar", "band", "none"]
REBALANCE_RULES: tuple[RebalanceKind, ...] = ("calendar", "band", "none")


@dataclass(frozen=True)
class CustomGlidePath:
    """A glide path drawn by hand: equity share at knots, the rest in bonds (and cash).

    Knots are in years to retirement (25 = 25 years before, -10 = ten years after),
    strictly decreasing (from young to old); ``equity`` holds one decimal share in
    [0, 1] per knot, and the optional ``cash`` one share per knot too (equity + cash
    <= 1; empty: no cash asset). ``crypto_sleeve`` (decimal, 0 for none) is laid over the
    path like the study's ``crypto_sleeves``; ``rebalance`` is a ``RebalanceRule`` kind.
    """

    name: str
    years_to_retirement: tuple[float, ...]
    equity: tuple[float, ...]
    cash: tuple[float, ...] = ()
    crypto_sleeve: float = 0.0
    rebalance: RebalanceKind = "calendar"
    rebalance_every_months: int = 12
    rebalance_band: float = 0.05


@dataclass(frozen=True)
class StrategyConfig:
    """Which strategies the study compares."""

    presets: tuple[str, ...] = ()
    crypto_sleeves: tuple[float, ...] = ()
    crypto_base: str = "fixed_60_40"
    custom: tuple[CustomGlidePath, ...] = ()


@dataclass(frozen=True)
class OptimizeConfig:
    """Settings of the glide-path search."""

    enabled: bool = True
    plan: str | None = None
    n_scenarios: int = 2000
    holdout_n: int = 5000
    max_iterations: int = 30
    monotone_equity: bool = False
    max_change_per_year: float | None = None
    crypto_cap: float | None = None
    adaptive: bool = False
    adaptive_plans: tuple[str, ...] = ()
    #: What the glide-path search maximises: ``"success"`` (the plan's probability of
    #: success, via bPOE) or ``"ce"`` (certainty-equivalent real retirement income under
    #: ``preferences``).
    objective: SearchObjective = "success"
    #: What the adaptive (DP) policy maximises: ``"ce"`` (the default, issue 23) or
    #: ``"success"`` (the probability of success, which gambles when behind).
    adaptive_objective: SearchObjective = "ce"
    #: How income is valued by the ``"ce"`` objectives (``[optimize.preferences]``).
    preferences: IncomePreferences = field(default_factory=IncomePreferences)
    #: Real USD a year the member keeps when the account pays nothing (Social Security, a
    #: pension): the CE's income floor. ``None``: 10 % of the plan's planned first-year
    #: withdrawal, the tear sheet's rule (``backtest.report.income.FLOOR_SHARE``).
    income_floor: float | None = None


#: The objectives of ``[optimize].objective`` and ``adaptive_objective``.
SEARCH_OBJECTIVES: tuple[SearchObjective, ...] = ("success", "ce")


@dataclass(frozen=True)
class AnalysisConfig:
    """Grids for the success-probability heatmap."""

    withdrawal_rates: tuple[float, ...] = (0.03, 0.035, 0.04, 0.045, 0.05, 0.06)
    equity_shares: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class OutputConfig:
    """Where results go."""

    dir: str = "results"
    tearsheet: bool = True
    population: bool = True


@dataclass(frozen=True)
class Study:
    """A whole study, validated."""

    name: str
    seed: int
    description: str
    data: DataConfig
    scenarios: ScenarioConfig
    plans: tuple[PlanConfig, ...]
    strategies: StrategyConfig
    optimize: OptimizeConfig
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    source: str = "<built-in>"
    compute: ComputeConfig = field(default_factory=ComputeConfig)

    def plan(self, name: str) -> PlanConfig:
        for p in self.plans:
            if p.name == name:
                return p
        raise StudyError(f"no plan named {name!r}; plans are {[p.name for p in self.plans]}")

    def settings(self) -> dict[str, Any]:
        """Every setting as plain data, to be written beside the results."""

        def plain(obj: Any) -> Any:
            if hasattr(obj, "__dataclass_fields__"):
                out = {f.name: plain(getattr(obj, f.name)) for f in fields(obj)}
                out["type"] = type(obj).__name__
                return out
            if isinstance(obj, tuple | list):
                return [plain(v) for v in obj]
            return obj

        return plain(self)

    def summary_lines(self) -> list[str]:
        """A few lines for a notebook: data, scenarios, plans, strategies, optimiser."""
        d, sc = self.data, self.scenarios
        years = f"{d.start or 'first'}-{d.end or 'last'}" if d.start or d.end else "all years"
        sets = [
            *(["historical cohorts"] if sc.historical else []),
            *([f"{sc.bootstrap_n} bootstrap"] if sc.bootstrap_n else []),
            *([f"{sc.parametric_n} parametric"] if sc.parametric_n else []),
            *([f"{sc.cma_n} CMA"] if sc.cma_n else []),
            *([f"{sc.international_n} international"] if sc.international_n else []),
        ]
        st = self.strategies
        n_strategies = len(st.presets) + len(st.custom) + len(st.crypto_sleeves)
        opt = self.optimize
        search = f"on plan {opt.plan!r}" if opt.enabled else "off"
        return [
            f"Study {self.name!r}: {self.description}",
            f"data: {d.frequency} {years}, equity {d.equity}, bonds {d.bonds}, cash {d.cash}",
            f"scenarios: {', '.join(sets) or 'none'} (seed {self.seed})",
            f"plans: {', '.join(p.name for p in self.plans)}",
            f"strategies: {n_strategies}" + _first_names(st.presets, n_strategies),
            f"optimiser: {search}; results under {self.output.dir}/{self.name}/",
        ]

    def __repr__(self) -> str:
        return "\n".join(self.summary_lines())

    def _repr_html_(self) -> str:
        head, *rest = (html.escape(line) for line in self.summary_lines())
        return f"<p><b>{head}</b></p><ul>" + "".join(f"<li>{x}</li>" for x in rest) + "</ul>"


def _first_names(names: tuple[str, ...], total: int, shown: int = 3) -> str:
    """`` (a, b, c, ...)`` for a summary line: the first names of ``total``; '' for none."""
    if not names:
        return ""
    more = ", ..." if total > shown else ""
    return f" ({', '.join(names[:shown])}{more})"


# ------------------------------------------------------------ one reader per table


def _data(d: Table) -> DataConfig:
    dd = defaults(DataConfig)
    source = d.choice("source", dd["source"], DATA_SOURCES)
    if source == "yahoo":
        return _yahoo_data(d, dd)
    return DataConfig(
        frequency=d.choice("frequency", dd["frequency"], ("annual", "monthly")),
        start=d.optional_integer("start"),
        end=d.optional_integer("end"),
        equity=d.string("equity", dd["equity"]),
        bonds=d.string("bonds", dd["bonds"]),
        cash=d.string("cash", dd["cash"]),
        crypto=d.string("crypto", dd["crypto"]),
    )


def _yahoo_data(d: Table, dd: dict[str, Any]) -> DataConfig:
    """``[data] source = "yahoo"``: tickers for the equity, bonds and cash roles, a start."""
    roles = ("equity", "bonds", "cash")
    missing = [k for k in (*roles, "start") if d.raw.get(k) is None]
    if missing:
        raise StudyError(
            f"[data] source = 'yahoo' needs {', '.join(missing)}: Yahoo tickers for the roles "
            "and a first year, e.g. equity = 'SPY', bonds = 'AGG', cash = 'BIL', start = 2008"
        )
    equity, bonds, cash = (d.string(role, None).strip().upper() for role in roles)
    if len({equity, bonds, cash}) < 3:
        raise StudyError(
            f"[data] equity, bonds and cash tickers {[equity, bonds, cash]} repeat one; give "
            "each role its own ticker"
        )
    return DataConfig(
        frequency=d.choice("frequency", dd["frequency"], ("annual", "monthly")),
        start=d.optional_integer("start"),
        end=d.optional_integer("end"),
        equity=equity,
        bonds=bonds,
        cash=cash,
        crypto=d.string("crypto", dd["crypto"]),
        source="yahoo",
    )


def _proxy(sc: Table) -> tuple[float, float] | None:
    if "crypto_proxy" not in sc.raw:
        sc.seen.add("crypto_proxy")
        return None
    t = sc.table("crypto_proxy")
    return (t.number("mean_log_annual", None, -1, 2), t.number("vol_log_annual", None, 0, 5))


def _scenarios(sc: Table) -> ScenarioConfig:
    block = sc.raw.get("block_length", "auto")
    sc.seen.add("block_length")
    if not (
        block == "auto"
        or (isinstance(block, int | float) and not isinstance(block, bool) and block >= 1)
    ):
        raise StudyError(
            f'[scenarios].block_length = {block!r}; expected "auto" or a number of periods >= 1'
        )
    ds = defaults(ScenarioConfig)
    return ScenarioConfig(
        historical=sc.boolean("historical", ds["historical"]),
        bootstrap_n=sc.integer("bootstrap_n", ds["bootstrap_n"], lo=0),
        block_length=None if block == "auto" else float(block),
        bootstrap_method=sc.choice(
            "bootstrap_method", ds["bootstrap_method"], ("stationary", "circular")
        ),
        crypto_before_data=sc.string(
            "crypto_before_data", ds["crypto_before_data"], ("exclude", "cash", "proxy")
        ),
        crypto_proxy=_proxy(sc),
        parametric_n=sc.integer("parametric_n", ds["parametric_n"], lo=0),
        cma=None if sc.raw.get("cma") is None else sc.string("cma", None),
        cma_n=sc.integer("cma_n", ds["cma_n"], lo=0),
        international_n=sc.integer("international_n", ds["international_n"], lo=0),
    )


def _custom(raw: object, where: str) -> CustomGlidePath:
    t = Table(raw, where)
    ytr = t.numbers("years_to_retirement", (), -125, 125)
    equity = t.numbers("equity", (), 0, 1)
    if not ytr or len(ytr) != len(equity):
        raise StudyError(
            f"{where}: years_to_retirement and equity need one value per knot (at least one); "
            f"got {len(ytr)} and {len(equity)}"
        )
    if any(b >= a for a, b in pairwise(ytr)):
        raise StudyError(
            f"{where}.years_to_retirement = {list(ytr)} must be strictly decreasing "
            "(young to old, one knot per age)"
        )
    cash = t.numbers("cash", (), 0, 1)
    if cash and len(cash) != len(equity):
        raise StudyError(f"{where}.cash needs one share per knot ({len(equity)}); got {len(cash)}")
    if any(e + c > 1 + 1e-9 for e, c in zip(equity, cash, strict=False)):
        raise StudyError(f"{where}: equity + cash exceeds 1 at a knot; lower one of them")
    d = defaults(CustomGlidePath)
    custom = CustomGlidePath(
        name=t.string("name", None),
        years_to_retirement=ytr,
        equity=equity,
        cash=cash,
        crypto_sleeve=t.number("crypto_sleeve", d["crypto_sleeve"], 0, 0.1),
        rebalance=t.choice("rebalance", d["rebalance"], REBALANCE_RULES),
        rebalance_every_months=t.integer(
            "rebalance_every_months", d["rebalance_every_months"], lo=1
        ),
        rebalance_band=t.number("rebalance_band", d["rebalance_band"], 0.001, 0.999),
    )
    t.done()
    return custom


def _strategies(st: Table) -> StrategyConfig:
    custom_raw = st.raw.get("custom", [])
    st.seen.add("custom")
    if not isinstance(custom_raw, list):
        raise StudyError("[strategies].custom must be a list of tables ([[strategies.custom]])")
    dst = defaults(StrategyConfig)
    return StrategyConfig(
        presets=st.strings("presets", dst["presets"]),
        crypto_sleeves=st.numbers("crypto_sleeves", dst["crypto_sleeves"], 0.0, 0.5),
        crypto_base=st.string("crypto_base", dst["crypto_base"]),
        custom=tuple(_custom(c, f"[strategies].custom #{i + 1}") for i, c in enumerate(custom_raw)),
    )


def _optimize(op: Table, names: list[str]) -> OptimizeConfig:
    constraints = op.table("constraints")
    do = defaults(OptimizeConfig)
    optimize = OptimizeConfig(
        enabled=op.boolean("enabled", do["enabled"]),
        plan=op.string("plan", names[0]),
        n_scenarios=op.integer("n_scenarios", do["n_scenarios"], lo=50),
        holdout_n=op.integer("holdout_n", do["holdout_n"], lo=50),
        max_iterations=op.integer("max_iterations", do["max_iterations"], lo=1),
        monotone_equity=constraints.boolean("monotone_equity", do["monotone_equity"]),
        max_change_per_year=constraints.optional_number("max_change_per_year", lo=0),
        crypto_cap=constraints.optional_number("crypto_cap", lo=0),
        adaptive=op.boolean("adaptive", do["adaptive"]),
        adaptive_plans=op.strings("adaptive_plans", do["adaptive_plans"]),
        objective=op.choice("objective", do["objective"], SEARCH_OBJECTIVES),
        adaptive_objective=op.choice(
            "adaptive_objective", do["adaptive_objective"], SEARCH_OBJECTIVES
        ),
        preferences=_preferences(op.table("preferences")),
        income_floor=op.table("preferences").optional_number("income_floor", lo=0.0),
    )
    if optimize.plan not in names:
        raise StudyError(f"[optimize].plan = {optimize.plan!r} is not a plan; plans are {names}")
    for a in optimize.adaptive_plans:
        if a not in names:
            raise StudyError(
                f"[optimize].adaptive_plans names {a!r}, which is not a plan; plans are {names}"
            )
    return optimize


def _preferences(pr: Table) -> IncomePreferences:
    """``[optimize.preferences]`` into :class:`backtest.outcomes.IncomePreferences`."""
    d = defaults(IncomePreferences)
    ref = pr.optional_number("reference_replacement", lo=0.0)
    try:
        return IncomePreferences(
            gamma=pr.number("gamma", d["gamma"], 0.0, 30.0),
            loss_aversion=pr.number("loss_aversion", d["loss_aversion"], 0.0, 20.0),
            reference_replacement=ref,
            bequest_weight=pr.number("bequest_weight", d["bequest_weight"], 0.0, 100.0),
            bequest_shifter=pr.number("bequest_shifter", d["bequest_shifter"], 1.0),
            discount_rate=pr.number("discount_rate", d["discount_rate"], -0.05, 0.2),
        )
    except PlanError as exc:
        raise StudyError(f"[optimize.preferences]: {exc}") from exc


def _analysis(an: Table) -> AnalysisConfig:
    return AnalysisConfig(
        withdrawal_rates=an.numbers("withdrawal_rates", AnalysisConfig.withdrawal_rates, 0, 1),
        equity_shares=an.numbers("equity_shares", AnalysisConfig.equity_shares, 0, 1),
    )


def _output(out: Table) -> OutputConfig:
    dout = defaults(OutputConfig)
    return OutputConfig(
        dir=out.string("dir", dout["dir"]),
        tearsheet=out.boolean("tearsheet", dout["tearsheet"]),
        population=out.boolean("population", dout["population"]),
    )


def parse_study(raw: dict[str, Any], source: str = "<dict>") -> Study:
    """Validate a parsed TOML mapping into a :class:`Study`; errors name the field.

    Every key is checked against :data:`SCHEMA` first, before any value; then each table
    is read by its own reader, and keys nobody read are errors (``Table.done``).
    """
    check_keys(raw, SCHEMA)
    top = Table(raw, "study file")
    s, d, sc, st, op, an, out = (
        top.table(k)
        for k in ("study", "data", "scenarios", "strategies", "optimize", "analysis", "output")
    )
    top.seen.update(("plans", "compute"))
    compute = parse_compute(raw.get("compute"))
    plans_raw = raw.get("plans")
    if not isinstance(plans_raw, list) or not plans_raw:
        raise StudyError("study file: needs at least one [[plans]] table (a member to simulate)")
    data = _data(d)
    scenarios = _scenarios(sc)
    plans = read_plans(plans_raw)
    names = [p.name for p in plans]
    strategies = _strategies(st)
    optimize = _optimize(op, names)
    analysis, output = _analysis(an), _output(out)
    study = Study(
        name=s.string("name", "study"),
        seed=s.integer("seed", 0, lo=0),
        description=s.string("description", ""),
        data=data,
        scenarios=scenarios,
        plans=plans,
        strategies=strategies,
        optimize=optimize,
        analysis=analysis,
        output=output,
        source=source,
        compute=compute,
    )
    top.done()
    return study


def quick_study(study: Study) -> Study:
    """A smoke-run version of ``study`` (``--quick``): few scenarios and iterations.

    Smaller, never switched on: a study with no bootstrap keeps none, so ``--quick`` runs
    (or refuses) exactly the study it was given.
    """
    return dataclasses.replace(
        study,
        scenarios=dataclasses.replace(
            study.scenarios,
            bootstrap_n=min(study.scenarios.bootstrap_n, 300),
            parametric_n=min(study.scenarios.parametric_n, 300),
            cma_n=min(study.scenarios.cma_n, 300),
            international_n=min(study.scenarios.international_n, 300),
        ),
        optimize=dataclasses.replace(
            study.optimize,
            n_scenarios=min(study.optimize.n_scenarios, 300),
            holdout_n=min(study.optimize.holdout_n, 500),
            max_iterations=min(study.optimize.max_iterations, 4),
        ),
    )
