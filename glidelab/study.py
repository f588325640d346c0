"""Study files: one typed, validated place for every setting of a run.

A study is a TOML file (see ``glidelab/studies/default.toml``, the built-in default)
with these tables; every key is optional unless marked, and unknown keys are errors:

``[study]``      name, seed, description
``[data]``       frequency ("annual" | "monthly"), start, end (years), asset names for
                 the roles equity / bonds / cash / crypto
``[scenarios]``  historical (bool: rolling cohorts), bootstrap_n, block_length
                 ("auto" | number of periods), bootstrap_method ("stationary" |
                 "circular"), crypto_before_data ("exclude" | "cash" | "proxy"),
                 crypto_proxy = { mean_log_annual, vol_log_annual } for "proxy",
                 parametric_n (normal log returns estimated from the history; Bitcoin
                 from crypto_proxy, which it then needs)
``[[plans]]``    (at least one) a member: name, ages, balance, salary, contributions,
                 fees, withdrawal rule, success definition, and optionally the
                 ``strategy`` the member holds today and a ``pension_target``
                 (defined-benefit style: accrual_rate or replacement_rate) whose
                 funded ratio at retirement is reported beside success
``[strategies]`` presets (names from ``glidelab strategies``), crypto_sleeves
                 (decimals, e.g. 0.025), crypto_base (preset the sleeves sit on),
                 custom (glide paths drawn by hand, e.g. in ``glidelab serve``: a list
                 of { name, years_to_retirement, equity, cash, crypto_sleeve, rebalance,
                 rebalance_every_months, rebalance_band }; equity shares are decimals at
                 knots in years to retirement, the rest is in bonds)
``[optimize]``   enabled, plan (a plan name), n_scenarios, holdout_n, max_iterations,
                 constraints (monotone_equity, max_change_per_year, crypto_cap),
                 adaptive (bool: with enabled, also solve the adaptive glide path, by
                 age and wealth, of every plan in adaptive_plans, default every plan)
``[analysis]``   withdrawal_rates and equity_shares for the success heatmap
``[output]``     dir (default "results"), tearsheet (bool), population (bool: a small fund-design
                 section of the shipped target_date_2060 vintage, default true)
``[compute]``    where the scenario evaluation runs (``glidelab run``, ``sweep``): workers
                 (a Dask LocalCluster of N processes on 127.0.0.1), scheduler
                 ("tcp://HOST:PORT", a running cluster), threads_per_worker (default 1);
                 neither: in this process (the default, no service)

Amounts are real USD of the start date per year; rates are decimals (0.04 = 4 %).
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

from backtest.errors import StudyError
from backtest.plan import (
    ConstantReal,
    Contributions,
    FixedPercent,
    FundedRatio,
    GuytonKlinger,
    MoneyLasts,
    Plan,
    RequiredMinimum,
    WithdrawalRule,
)

WITHDRAWAL_RULES = ("constant_real", "fixed_percent", "guyton_klinger", "rmd", "none")
SUCCESS_RULES = ("money_lasts", "funded_ratio")

_FUNDED_RATIO_KEYS = {
    "replacement_rate": None,
    "accrual_rate": None,
    "final_average_years": None,
    "payout_years": None,
    "discount_rate_real": None,
    "threshold": None,
}
#: Every key a study file may hold: name -> None (a value) or the keys of its sub-table
#: (a list of tables, like [[plans]], uses the schema of one table). It is checked first,
#: before any value, so a misspelt key is reported as what it is and never as a missing
#: value it would have set. A key the parser reads must be declared here.
SCHEMA: dict[str, Any] = {
    "study": {"name": None, "seed": None, "description": None},
    "data": dict.fromkeys(("frequency", "start", "end", "equity", "bonds", "cash", "crypto")),
    "scenarios": {
        "historical": None,
        "bootstrap_n": None,
        "parametric_n": None,
        "block_length": None,
        "bootstrap_method": None,
        "crypto_before_data": None,
        "crypto_proxy": {"mean_log_annual": None, "vol_log_annual": None},
    },
    "plans": {
        **dict.fromkeys(
            (
                "name",
                "start_age",
                "retirement_age",
                "end_age",
                "initial_balance",
                "salary",
                "salary_growth_real",
                "contribution_rate",
                "match_rate",
                "match_cap",
                "annual_limit",
                "catch_up",
                "contribution_timing",
                "expense_ratio",
                "transaction_cost_bps",
                "rmd_floor",
                "strategy",
            )
        ),
        "withdrawal": dict.fromkeys(
            (
                "rule",
                "timing",
                "amount",
                "rate",
                "indexed",
                "upper_guard",
                "lower_guard",
                "adjustment",
            )
        ),
        "success": {"kind": None, **_FUNDED_RATIO_KEYS},
        "pension_target": dict(_FUNDED_RATIO_KEYS),
    },
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
    },
    "analysis": {"withdrawal_rates": None, "equity_shares": None},
    "output": {"dir": None, "tearsheet": None, "population": None},
    "compute": {"workers": None, "scheduler": None, "threads_per_worker": None},
}


def _unknown_key(where: str, key: str, allowed: list[str]) -> StudyError:
    """The error for a key nobody reads, with the closest allowed name (difflib)."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return StudyError(
        f"{where}: unknown key {key!r}{hint} (allowed keys: {', '.join(sorted(allowed))})"
    )


def check_keys(raw: object, schema: dict[str, Any] = SCHEMA, where: str = "study file") -> None:
    """Raise a :class:`StudyError` for the first key of ``raw`` that ``schema`` lacks.

    Runs before any value is read, so ``salery = 50000`` is reported as the unknown key
    it is (with ``'salary'`` suggested), not as the missing salary it fails to set.
    """
    if not isinstance(raw, dict):
        return  # a table of the wrong type is reported by the reader, with its field
    for key, value in raw.items():
        if key not in schema:
            raise _unknown_key(where, str(key), list(schema))
        sub = schema[key]
        if sub is None:
            continue
        inner = f"[{key}]" if where == "study file" else f"{where}.{key}"
        if isinstance(value, list):
            label = f"[[{key}]]" if where == "study file" else f"{where}.{key}"
            for i, item in enumerate(value):
                check_keys(item, sub, f"{label} #{i + 1}")
        else:
            check_keys(value, sub, inner)


class _Table:
    """A TOML table being read: typed getters, and an error for keys nobody asked for."""

    def __init__(self, raw: object, where: str) -> None:
        if not isinstance(raw, dict):
            raise StudyError(f"{where} must be a table, got {type(raw).__name__}")
        self.raw: dict[str, Any] = raw
        self.where = where
        self.seen: set[str] = set()
        self.children: dict[str, _Table] = {}

    def _get(self, key: str, default: Any) -> Any:
        self.seen.add(key)
        return self.raw.get(key, default)

    def _fail(self, key: str, value: Any, allowed: str) -> StudyError:
        return StudyError(f"{self.where}.{key} = {value!r} is not allowed; expected {allowed}")

    def number(
        self, key: str, default: float | None, lo: float | None = None, hi: float | None = None
    ) -> float:
        value = self._get(key, default)
        if value is None:
            raise StudyError(f"{self.where}.{key} is required (a number)")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, value, "a number")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise self._fail(key, value, f"a number in [{lo}, {hi}]")
        return float(value)

    def optional_number(self, key: str, lo: float | None = None) -> float | None:
        if self.raw.get(key) is None:
            self.seen.add(key)
            return None
        return self.number(key, None, lo=lo)

    def integer(self, key: str, default: int | None, lo: int | None = None) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, value, "a whole number")
        if lo is not None and value < lo:
            raise self._fail(key, value, f"a whole number >= {lo}")
        return int(value)

    def optional_integer(self, key: str) -> int | None:
        if self.raw.get(key) is None:
            self.seen.add(key)
            return None
        return self.integer(key, None)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, value, "true or false")
        return value

    def string(self, key: str, default: str | None, choices: tuple[str, ...] = ()) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self._fail(key, value, "a string" + (f" in {list(choices)}" if choices else ""))
        if choices and value not in choices:
            raise self._fail(key, value, f"one of {list(choices)}")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, value, "a list of strings")
        return tuple(value)

    def numbers(
        self, key: str, default: tuple[float, ...], lo: float, hi: float
    ) -> tuple[float, ...]:
        value = self._get(key, list(default))
        if not isinstance(value, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and lo <= v <= hi for v in value
        ):
            raise self._fail(key, value, f"a list of numbers in [{lo}, {hi}]")
        return tuple(float(v) for v in value)

    def table(self, key: str) -> _Table:
        if key not in self.children:
            where = f"[{key}]" if self.where == "study file" else f"{self.where}.{key}"
            self.children[key] = _Table(self._get(key, {}), where)
        return self.children[key]

    def done(self) -> None:
        """Raise for keys nobody read, here and in every sub-table read."""
        for child in self.children.values():
            child.done()
        unknown = sorted(set(self.raw) - self.seen)
        if unknown:
            raise _unknown_key(self.where, unknown[0], sorted(self.seen))


@dataclass(frozen=True)
class DataConfig:
    """Which embedded history to use, and which asset plays which role."""

    frequency: str = "annual"
    start: int | None = None
    end: int | None = None
    equity: str = "us_stocks"
    bonds: str = "tbonds_10y"
    cash: str = "tbills"
    crypto: str = "btc"


@dataclass(frozen=True)
class ScenarioConfig:
    """How return scenarios are generated from the history."""

    historical: bool = True
    bootstrap_n: int = 5000
    block_length: float | None = None  # None = automatic (arch's optimal_block_length)
    bootstrap_method: str = "stationary"
    crypto_before_data: str = "cash"
    crypto_proxy: tuple[float, float] | None = None  # (mean_log_annual, vol_log_annual)
    parametric_n: int = 0

    def __post_init__(self) -> None:
        # Checked here, not when scenarios are drawn, so that no override (--quick, a
        # notebook's dataclasses.replace) can run, or hide, a study that has no scenarios.
        if not self.historical and self.bootstrap_n <= 0 and self.parametric_n <= 0:
            raise StudyError(
                "[scenarios]: historical = false and bootstrap_n = 0 leave no scenarios; "
                "set historical = true or bootstrap_n > 0"
            )


@dataclass(frozen=True)
class PlanConfig:
    """A member, as written in the study file; ``to_plan`` makes the engine's ``Plan``."""

    name: str
    plan: Plan
    strategy: str | None = None
    pension_target: FundedRatio | None = None


REBALANCE_RULES = ("calendar", "band", "none")


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
    rebalance: str = "calendar"
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
class ComputeConfig:
    """``[compute]``: where tasks run: in this process (both None), a local Dask cluster
    of ``workers`` processes, or the running cluster at ``scheduler``."""

    workers: int | None = None
    scheduler: str | None = None
    threads_per_worker: int = 1

    @property
    def distributed(self) -> bool:
        """True when the work goes to Dask (a local cluster or a scheduler)."""
        return self.workers is not None or self.scheduler is not None


def parse_compute(raw: object, where: str = "[compute]") -> ComputeConfig:
    """Validate a ``[compute]`` table (the one definition, for studies and sweeps)."""
    if raw is not None:
        check_keys(raw, SCHEMA["compute"], where)
    t = _Table(raw if raw is not None else {}, where)
    workers = t.optional_integer("workers")
    scheduler = t.raw.get("scheduler")
    t.seen.add("scheduler")
    if scheduler is not None and not isinstance(scheduler, str):
        raise StudyError(f"{where}.scheduler = {scheduler!r}; expected 'tcp://HOST:PORT'")
    if workers is not None and workers < 1:
        raise StudyError(f"{where}.workers = {workers}; expected a whole number >= 1")
    if workers is not None and scheduler is not None:
        raise StudyError(f"{where}: give workers (a local cluster) or scheduler, not both")
    cfg = ComputeConfig(
        workers=workers,
        scheduler=scheduler,
        threads_per_worker=t.integer("threads_per_worker", 1, lo=1),
    )
    t.done()
    return cfg


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


def _withdrawal(t: _Table) -> WithdrawalRule | None:
    rule = t.string("rule", "constant_real", WITHDRAWAL_RULES)
    timing = t.string("timing", "start", ("start", "end", "split"))
    if rule == "none":
        return None
    if rule == "constant_real":
        amount = t.optional_number("amount", lo=0)
        rate = None if amount is not None else t.number("rate", 0.04, 0, 1)
        return ConstantReal(
            rate=rate, amount=amount, indexed=t.boolean("indexed", True), timing=timing
        )  # type: ignore[arg-type]
    if rule == "fixed_percent":
        return FixedPercent(rate=t.number("rate", 0.04, 0, 1), timing=timing)  # type: ignore[arg-type]
    if rule == "guyton_klinger":
        return GuytonKlinger(
            initial_rate=t.number("rate", 0.05, 0, 1),
            upper_guard=t.number("upper_guard", 1.2, 1, 10),
            lower_guard=t.number("lower_guard", 0.8, 0, 1),
            adjustment=t.number("adjustment", 0.10, 0, 1),
            timing=timing,  # type: ignore[arg-type]
        )
    return RequiredMinimum(pre_table_rate=t.number("rate", 0.04, 0, 1), timing=timing)  # type: ignore[arg-type]


def _success(t: _Table) -> MoneyLasts | FundedRatio:
    kind = t.string("kind", "money_lasts", SUCCESS_RULES)
    if kind == "money_lasts":
        return MoneyLasts()
    return _funded_ratio(t)


def _funded_ratio(t: _Table) -> FundedRatio:
    return FundedRatio(
        replacement_rate=t.optional_number("replacement_rate", lo=0),
        accrual_rate=t.optional_number("accrual_rate", lo=0),
        final_average_years=t.integer("final_average_years", 3, lo=1),
        payout_years=t.optional_number("payout_years", lo=1),
        discount_rate_real=t.number("discount_rate_real", 0.02, -0.05, 0.2),
        threshold=t.number("threshold", 1.0, 0, 10),
    )


def _plan(t: _Table) -> PlanConfig:
    name = t.string("name", None)
    salary = t.number("salary", 0.0, lo=0)
    saving = {
        "salary_growth_real": t.number("salary_growth_real", 0.0, -0.5, 0.5),
        "rate": t.number("contribution_rate", 0.0, 0, 1),
        "match_rate": t.number("match_rate", 0.0, 0, 10),
        "match_cap": t.number("match_cap", 0.0, 0, 1),
        "annual_limit": t.optional_number("annual_limit", lo=0),
        "catch_up": t.number("catch_up", 0.0, lo=0),
        "timing": t.string("contribution_timing", "end", ("start", "end")),
    }
    contributions = Contributions(salary=salary, **saving) if salary > 0 else None
    plan = Plan(
        start_age=t.number("start_age", None, 0, 125),
        retirement_age=t.number("retirement_age", None, 0, 125),
        end_age=t.number("end_age", None, 0, 125),
        initial_balance=t.number("initial_balance", 0.0, lo=0),
        contributions=contributions,
        withdrawal=_withdrawal(t.table("withdrawal")),
        expense_ratio=t.number("expense_ratio", 0.0, 0, 0.2),
        transaction_cost_bps=t.number("transaction_cost_bps", 0.0, 0, 1000),
        rmd_floor=t.boolean("rmd_floor", False),
        success=_success(t.table("success")),
    )
    pension = None
    if "pension_target" in t.raw:
        pension = _funded_ratio(t.table("pension_target"))
        if contributions is None:
            raise StudyError(f"{t.where}.pension_target needs a salary (it is a share of it)")
    strategy = t.raw.get("strategy")
    t.seen.add("strategy")
    if strategy is not None and not isinstance(strategy, str):
        raise StudyError(f"{t.where}.strategy = {strategy!r}; expected a preset name")
    return PlanConfig(name=name, plan=plan, strategy=strategy, pension_target=pension)


def _custom(raw: object, where: str) -> CustomGlidePath:
    t = _Table(raw, where)
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
    custom = CustomGlidePath(
        name=t.string("name", None),
        years_to_retirement=ytr,
        equity=equity,
        cash=cash,
        crypto_sleeve=t.number("crypto_sleeve", 0.0, 0, 0.1),
        rebalance=t.string("rebalance", "calendar", REBALANCE_RULES),
        rebalance_every_months=t.integer("rebalance_every_months", 12, lo=1),
        rebalance_band=t.number("rebalance_band", 0.05, 0.001, 0.999),
    )
    t.done()
    return custom


def _proxy(sc: _Table) -> tuple[float, float] | None:
    if "crypto_proxy" not in sc.raw:
        sc.seen.add("crypto_proxy")
        return None
    t = sc.table("crypto_proxy")
    return (t.number("mean_log_annual", None, -1, 2), t.number("vol_log_annual", None, 0, 5))


def parse_study(raw: dict[str, Any], source: str = "<dict>") -> Study:
    """Validate a parsed TOML mapping into a :class:`Study`; errors name the field."""
    check_keys(raw)
    top = _Table(raw, "study file")
    s = top.table("study")
    d = top.table("data")
    sc = top.table("scenarios")
    st = top.table("strategies")
    op = top.table("optimize")
    an = top.table("analysis")
    out = top.table("output")
    top.seen.add("plans")
    top.seen.add("compute")
    compute = parse_compute(raw.get("compute"))
    plans_raw = raw.get("plans")
    if not isinstance(plans_raw, list) or not plans_raw:
        raise StudyError("study file: needs at least one [[plans]] table (a member to simulate)")

    data = DataConfig(
        frequency=d.string("frequency", "annual", ("annual", "monthly")),
        start=d.optional_integer("start"),
        end=d.optional_integer("end"),
        equity=d.string("equity", "us_stocks"),
        bonds=d.string("bonds", "tbonds_10y"),
        cash=d.string("cash", "tbills"),
        crypto=d.string("crypto", "btc"),
    )
    block = sc.raw.get("block_length", "auto")
    sc.seen.add("block_length")
    if not (
        block == "auto"
        or (isinstance(block, int | float) and not isinstance(block, bool) and block >= 1)
    ):
        raise StudyError(
            f'[scenarios].block_length = {block!r}; expected "auto" or a number of periods >= 1'
        )
    scenarios = ScenarioConfig(
        historical=sc.boolean("historical", True),
        bootstrap_n=sc.integer("bootstrap_n", 5000, lo=0),
        block_length=None if block == "auto" else float(block),
        bootstrap_method=sc.string("bootstrap_method", "stationary", ("stationary", "circular")),
        crypto_before_data=sc.string("crypto_before_data", "cash", ("exclude", "cash", "proxy")),
        crypto_proxy=_proxy(sc),
        parametric_n=sc.integer("parametric_n", 0, lo=0),
    )
    plans = []
    for i, p in enumerate(plans_raw):
        t = _Table(p, f"[[plans]] #{i + 1}")
        cfg = _plan(t)
        t.done()
        plans.append(cfg)
    names = [p.name for p in plans]
    if len(set(names)) != len(names):
        raise StudyError(f"[[plans]] names must be unique; got {names}")
    custom_raw = st.raw.get("custom", [])
    st.seen.add("custom")
    if not isinstance(custom_raw, list):
        raise StudyError("[strategies].custom must be a list of tables ([[strategies.custom]])")
    strategies = StrategyConfig(
        presets=st.strings("presets", ()),
        crypto_sleeves=st.numbers("crypto_sleeves", (), 0.0, 0.5),
        crypto_base=st.string("crypto_base", "fixed_60_40"),
        custom=tuple(_custom(c, f"[strategies].custom #{i + 1}") for i, c in enumerate(custom_raw)),
    )
    constraints = op.table("constraints")
    optimize = OptimizeConfig(
        enabled=op.boolean("enabled", True),
        plan=op.string("plan", names[0]),
        n_scenarios=op.integer("n_scenarios", 2000, lo=50),
        holdout_n=op.integer("holdout_n", 5000, lo=50),
        max_iterations=op.integer("max_iterations", 30, lo=1),
        monotone_equity=constraints.boolean("monotone_equity", False),
        max_change_per_year=constraints.optional_number("max_change_per_year", lo=0),
        crypto_cap=constraints.optional_number("crypto_cap", lo=0),
        adaptive=op.boolean("adaptive", False),
        adaptive_plans=op.strings("adaptive_plans", ()),
    )
    if optimize.plan not in names:
        raise StudyError(f"[optimize].plan = {optimize.plan!r} is not a plan; plans are {names}")
    for a in optimize.adaptive_plans:
        if a not in names:
            raise StudyError(
                f"[optimize].adaptive_plans names {a!r}, which is not a plan; plans are {names}"
            )
    analysis = AnalysisConfig(
        withdrawal_rates=an.numbers("withdrawal_rates", AnalysisConfig.withdrawal_rates, 0, 1),
        equity_shares=an.numbers("equity_shares", AnalysisConfig.equity_shares, 0, 1),
    )
    output = OutputConfig(
        dir=out.string("dir", "results"),
        tearsheet=out.boolean("tearsheet", True),
        population=out.boolean("population", True),
    )
    study = Study(
        name=s.string("name", "study"),
        seed=s.integer("seed", 0, lo=0),
        description=s.string("description", ""),
        data=data,
        scenarios=scenarios,
        plans=tuple(plans),
        strategies=strategies,
        optimize=optimize,
        analysis=analysis,
        output=output,
        source=source,
        compute=compute,
    )
    top.done()
    return study


def load_study(path: str | Path | None = None) -> Study:
    """Read and validate a study file; ``None`` loads the built-in default study."""
    raw, source = read_study_toml(path)
    return parse_study(raw, source)


def read_study_toml(path: str | Path | None = None) -> tuple[dict[str, Any], str]:
    """The parsed TOML of a study file (``None``: the built-in default) and its source
    label, before validation; an unreadable file is a :class:`StudyError`."""
    if path is None:
        text = resources.files("glidelab").joinpath("studies/default.toml").read_text("utf-8")
        source = "built-in default study (glidelab/studies/default.toml)"
    else:
        p = Path(path)
        if not p.is_file():
            raise StudyError(f"study file {str(p)!r} does not exist")
        text = p.read_text("utf-8")
        source = str(p)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{source} is not valid TOML: {exc}") from None
    return raw, source
