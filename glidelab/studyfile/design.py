"""A fund-design file: ``[population]``, ``[design]`` and ``[evaluation]`` (``glidelab design``).

A fund-design file has no ``[[plans]]``: top-level name, description, seed, and
``[population]`` (fields of ``backtest.population.PopulationSpec``), ``[design]``
(:class:`DesignSettings`, with ``[design.constraints]`` from
``optimize.fund_design.FundConstraints``) and ``[evaluation]`` (:class:`EvaluationSettings`),
read into a frozen :class:`DesignStudy`; each table's keys are its dataclass's fields, with
the dataclass's defaults. Every value is read by a typed getter of
:class:`~glidelab.studyfile.tables.Table` within the bounds its dataclass declares
(``backtest.population.SPEC_RANGES`` and the age limits, :data:`DESIGN_COUNTS`,
:data:`DESIGN_RANGES`, :data:`EVALUATION_COUNTS`) or checks (``FundConstraints`` and its
generic constraints, run at load), so a wrong type or range is a ``StudyError`` naming
``[table].key``, the value and what is allowed when the file loads, not a ``TypeError``
when it runs. :func:`quick_design` is the ``--quick`` variant.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from backtest.cma import EXAMPLE_PATH, CapitalMarketAssumptions, load_cma
from backtest.data.jst import jst_countries
from backtest.errors import GlidelabError, StudyError
from backtest.outcomes import IncomePreferences
from backtest.population import (
    AGE_LIMITS,
    BIRTH_YEARS,
    LEAKAGE_CHOICES,
    MORTALITY_READINGS,
    NEED_BASES,
    SPEC_RANGES,
    SS_DEPLETION_YEARS,
    TARGET_AGES,
    PopulationSpec,
)
from glidelab.studyfile.tables import Table, defaults, not_allowed
from optimize.fund_design import FundConstraints
from strategies.presets import preset

__all__ = [
    "ALL_ASSETS",
    "DEFAULT_PRESETS",
    "DESIGN_TABLES",
    "DesignSettings",
    "DesignStudy",
    "EvaluationSettings",
    "parse_design_study",
    "quick_design",
]

#: Tables of a fund-design file; they never sit beside [[plans]].
DESIGN_TABLES = ("population", "design", "evaluation")
ALL_ASSETS: tuple[str, ...] = ("us_stocks", "tbonds_10y", "tbills")
DEFAULT_PRESETS: tuple[str, ...] = (
    "vanguard_target_retirement",
    "fidelity_freedom",
    "t_rowe_price_retirement",
    "blackrock_lifepath_index",
    "fixed_60_40",
)
#: What picks the designed path on the frontier (``optimize.fund_design``).
OBJECTIVES: tuple[str, ...] = ("income", "success", "shortfall", "ce")
#: Smallest allowed value of each count of :class:`DesignSettings` (a frontier needs two
#: points) and of :class:`EvaluationSettings`.
DESIGN_COUNTS: dict[str, int] = {
    "member_paths": 1,
    "market_paths": 1,
    "frontier_points": 2,
    "max_iterations": 1,
}
EVALUATION_COUNTS: dict[str, int] = {"members": 1, "bootstrap_paths": 1, "country_members": 1}
#: ``[low, high]`` of each number of :class:`DesignSettings`: the fee (decimal a year), the
#: knot spacing (years of age), the CVaR/bPOE level ``beta`` (below 1: the tail mean divides
#: by ``1 - beta``), the income search's bPOE slack (decimal) and the ``"ce"`` objective's
#: relative risk aversion ``gamma`` (0 risk-neutral, 1 log utility; reports use 2, 5, 10).
DESIGN_RANGES: dict[str, tuple[float, float]] = {
    "expense_ratio": (0.0, 0.1),
    "knot_spacing_years": (1.0, 40.0),
    "beta": (0.0, 0.999),
    "bpoe_slack": (0.0, 1.0),
    "gamma": (0.0, 30.0),
    "loss_aversion": (0.0, 20.0),
}


def _other_countries() -> tuple[str, ...]:
    """The JST countries scored out of sample: all but the USA (in sample) and Canada."""
    return tuple(i for i in jst_countries() if i not in ("USA", "CAN"))


@dataclass(frozen=True)
class DesignSettings:
    """``[design]``: how the glide path is searched (in sample; fees decimal a year).

    Bounds: :data:`DESIGN_COUNTS`, :data:`DESIGN_RANGES`, :data:`OBJECTIVES`, and at least
    two distinct assets of :data:`ALL_ASSETS`.
    """

    assets: tuple[str, ...] = ("us_stocks", "tbonds_10y")
    member_paths: int = 20_000
    market_paths: int = 1_000
    expense_ratio: float = 0.0012
    knot_spacing_years: float = 5.0
    beta: float = 0.95
    frontier_points: int = 5
    objective: str = "income"
    bpoe_slack: float = 0.02
    #: Risk aversion of the ``"ce"`` objective (CRRA utility of real retirement income).
    gamma: float = 5.0
    #: Loss aversion ``lambda`` of the ``"ce"`` objective below the reference replacement
    #: (``backtest.outcomes.IncomePreferences``; 0: plain CRRA).
    loss_aversion: float = 0.0
    #: The reference income as a replacement ratio of final salary, decimal; None: the
    #: population's ``replacement_rate`` (:meth:`preferences`).
    reference_replacement: float | None = None
    max_iterations: int = 20
    constraints: FundConstraints = field(default_factory=FundConstraints)

    def __post_init__(self) -> None:
        for key, least in DESIGN_COUNTS.items():
            if getattr(self, key) < least:
                raise not_allowed("[design]", key, getattr(self, key), f"a whole number >= {least}")
        for key, (lo, hi) in DESIGN_RANGES.items():
            if not lo <= getattr(self, key) <= hi:
                raise not_allowed("[design]", key, getattr(self, key), f"a number in [{lo}, {hi}]")
        if self.objective not in OBJECTIVES:
            raise StudyError(
                f"[design].objective={self.objective!r} is not allowed; expected one of "
                f"{list(OBJECTIVES)}"
            )
        bad = [a for a in self.assets if a not in ALL_ASSETS]
        if bad or len(set(self.assets)) < 2 or len(set(self.assets)) < len(self.assets):
            why = f"{bad} are not available" if bad else "a glide path allocates between assets"
            raise not_allowed(
                "[design]",
                "assets",
                list(self.assets),
                f"at least two of {list(ALL_ASSETS)}, each once ({why})",
            )

    def preferences(self, replacement_rate: float) -> IncomePreferences:
        """How the ``"ce"`` objective values income: CRRA at ``gamma``, loss aversion below
        ``reference_replacement`` (default ``replacement_rate``, the population's target
        replacement, decimal of final salary)."""
        ref = self.reference_replacement
        if ref is None and self.loss_aversion:
            ref = replacement_rate
        try:
            return IncomePreferences(
                gamma=self.gamma, loss_aversion=self.loss_aversion, reference_replacement=ref
            )
        except GlidelabError as exc:
            raise StudyError(f"[design]: {exc}") from None


@dataclass(frozen=True)
class EvaluationSettings:
    """``[evaluation]``: what the designed path is compared with, out of sample.

    Bounds: :data:`EVALUATION_COUNTS`; presets of ``strategies.presets``; countries JST ISO
    codes (``backtest.data.jst``); ``cma``: the capital-market assumptions file the
    designed path is also scored on (a path, or ``"example"``: the shipped
    :data:`backtest.cma.EXAMPLE_PATH`, US history's moments, an example, not a forecast).
    """

    presets: tuple[str, ...] = DEFAULT_PRESETS
    members: int = 2_000
    bootstrap_paths: int = 100
    countries: tuple[str, ...] = field(default_factory=_other_countries)
    country_members: int = 300
    cma: str = "example"

    def __post_init__(self) -> None:
        for key, lo in EVALUATION_COUNTS.items():
            if getattr(self, key) < lo:
                raise not_allowed(
                    "[evaluation]", key, getattr(self, key), f"a whole number >= {lo}"
                )
        for p in self.presets:
            try:
                preset(p)
            except (GlidelabError, ValueError) as exc:
                raise StudyError(f"[evaluation].presets: {exc}") from None
        known = jst_countries()
        bad = [c for c in self.countries if c not in known]
        if bad:
            raise not_allowed(
                "[evaluation]",
                "countries",
                list(self.countries),
                f"ISO codes of {sorted(known)} ({bad} unknown)",
            )
        self.capital_market_assumptions()  # a missing or malformed file fails at load time

    def capital_market_assumptions(self) -> CapitalMarketAssumptions:
        """The ``cma`` file, read (:func:`backtest.cma.load_cma`); a StudyError if it
        cannot be."""
        path = EXAMPLE_PATH if self.cma == "example" else self.cma
        try:
            return load_cma(path)
        except (GlidelabError, OSError) as exc:
            raise not_allowed(
                "[evaluation]",
                "cma",
                self.cma,
                f'"example" or the path of a capital-market assumptions file ({exc})',
            ) from None


@dataclass(frozen=True)
class DesignStudy:
    """A whole fund-design study, validated."""

    name: str = "target_date_2060"
    description: str = ""
    seed: int = 2060
    population: PopulationSpec = field(default_factory=PopulationSpec)
    design: DesignSettings = field(default_factory=DesignSettings)
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)


def _table(raw: object, where: str, allowed: list[str]) -> Table:
    """A :class:`Table` of ``raw`` whose keys are all in ``allowed`` (else a StudyError
    listing the unknown keys, the closest allowed name and the allowed keys)."""
    t = Table(raw, where)
    unknown = sorted(str(k) for k in set(t.raw) - set(allowed))
    if unknown:
        close = difflib.get_close_matches(unknown[0], allowed, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise StudyError(f"{where} has unknown keys {unknown}{hint}; allowed: {sorted(allowed)}")
    return t


def _build(cls: type, kw: Mapping[str, Any], where: str) -> Any:
    """``cls(**kw)``, its validation errors as :class:`StudyError` naming ``where``."""
    try:
        return cls(**kw)
    except StudyError:
        raise
    except (GlidelabError, TypeError, ValueError) as exc:
        raise StudyError(f"{where}: {exc}") from None


def _names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def _as_written(t: Table, key: str, lo: float, hi: float) -> float | None:
    """An optional number in ``[lo, hi]``, kept as written (an age of 40 stays ``40``, so
    reports print it as the file does); None when absent."""
    if t.raw.get(key) is None:
        t.seen.add(key)
        return None
    t.number(key, None, lo, hi)
    value: float = t.raw[key]
    return value


def _optional_strings(t: Table, key: str, choices: tuple[str, ...]) -> tuple[str, ...] | None:
    """A list of names from ``choices``, or None when absent."""
    if t.raw.get(key) is None:
        t.seen.add(key)
        return None
    names = t.strings(key, ())
    bad = [n for n in names if n not in choices]
    if bad:
        raise not_allowed(t.where, key, list(names), f"names from {list(choices)} ({bad})")
    return names


def _weights(t: Table, key: str, assets: tuple[str, ...]) -> dict[str, float]:
    """A sub-table ``asset = weight`` over ``assets`` (the weights' range: the dataclass)."""
    t.seen.add(key)
    raw = t.raw.get(key, {})
    if not isinstance(raw, dict):
        raise not_allowed(t.where, key, raw, "a table of asset = weight")
    sub = Table(raw, f"{t.where}.{key}")
    bad = sorted(str(a) for a in sub.raw if a not in assets)
    if bad:
        raise not_allowed(t.where, key, sub.raw, f"weights of the design's assets {list(assets)}")
    return {a: sub.number(a, None) for a in list(sub.raw)}


def _retirement_ages(
    t: Table, default: tuple[tuple[int, float], ...]
) -> tuple[tuple[int, float], ...]:
    """``[[age, probability], ...]``: whole ages, probabilities in [0, 1] (the spec checks
    the ages' range and that they sum to 1)."""
    value = t.raw.get("retirement_ages", [list(p) for p in default])
    t.seen.add("retirement_ages")
    ok = isinstance(value, list) and all(
        isinstance(p, list)
        and len(p) == 2
        and isinstance(p[0], int)
        and not isinstance(p[0], bool)
        and isinstance(p[1], int | float)
        and not isinstance(p[1], bool)
        and 0.0 <= p[1] <= 1.0
        for p in value
    )
    if not ok:
        raise not_allowed(
            t.where,
            "retirement_ages",
            value,
            "a list of [age, probability] pairs: whole ages, probabilities in [0, 1]",
        )
    return tuple((int(a), float(p)) for a, p in value)


def _population(raw: object) -> PopulationSpec:
    """``[population]``: each field of ``PopulationSpec``, typed and within the bounds the
    spec declares (``backtest.population``); the spec checks how the ages relate."""
    t = _table(raw, "[population]", _names(PopulationSpec))
    d = defaults(PopulationSpec)
    birth = t.integer("birth_year", d["birth_year"], *BIRTH_YEARS)
    kw: dict[str, Any] = {
        "birth_year": birth,
        "target_year": t.integer(
            "target_year", d["target_year"], birth + TARGET_AGES[0], birth + TARGET_AGES[1]
        ),
        "retirement_ages": _retirement_ages(t, d["retirement_ages"]),
        "mortality_reading": t.string(
            "mortality_reading", d["mortality_reading"], MORTALITY_READINGS
        ),
        "income_shocks": t.boolean("income_shocks", d["income_shocks"]),
        "earnings_mortality": t.boolean("earnings_mortality", d["earnings_mortality"]),
        "plan_loans": t.boolean("plan_loans", d["plan_loans"]),
        "need_basis": t.string("need_basis", d["need_basis"], NEED_BASES),
        "leakage": t.string("leakage", d["leakage"], LEAKAGE_CHOICES),
        "ss_depletion_year": t.integer(
            "ss_depletion_year", d["ss_depletion_year"], *SS_DEPLETION_YEARS
        ),
    }
    for key in ("first_age", "end_age", "horizon_age", "start_age_min", "start_age_max"):
        kw[key] = t.integer(key, d[key], *AGE_LIMITS)
    for key, (lo, hi) in SPEC_RANGES.items():
        kw[key] = t.number(key, d[key], lo, hi)
    t.done()
    return _build(PopulationSpec, kw, "[population]")


def _constraints(raw: object, pop: PopulationSpec, assets: tuple[str, ...]) -> FundConstraints:
    """``[design.constraints]``: types here, ages within the population's span; the
    weight ranges and landing rules are checked by ``FundConstraints`` and its generic
    constraints (``optimize.glidepath.GlidePathConstraints``), at load time."""
    t = _table(raw, "[design.constraints]", _names(FundConstraints))
    band = None
    if t.raw.get("equity_at_target") is not None:
        band = t.numbers("equity_at_target", (), -math.inf, math.inf)
        if len(band) != 2:
            raise not_allowed(
                t.where, "equity_at_target", list(band), "a [low, high] pair of equity shares"
            )
    t.seen.add("equity_at_target")
    landing = None if t.raw.get("landing") is None else t.string("landing", None)
    t.seen.add("landing")
    kw: dict[str, Any] = {
        "equity_at_target": band,
        "monotone_after_age": _as_written(t, "monotone_after_age", pop.first_age, pop.end_age),
        "max_change_per_year": t.optional_number("max_change_per_year"),
        "landing": landing,
        "landing_age": _as_written(t, "landing_age", pop.first_age, pop.end_age),
        "crypto_cap": t.optional_number("crypto_cap"),
        "lower": _weights(t, "lower", assets),
        "upper": _weights(t, "upper", assets),
        "equity_assets": _optional_strings(t, "equity_assets", ALL_ASSETS),
        "crypto_assets": _optional_strings(t, "crypto_assets", ALL_ASSETS),
    }
    t.done()
    cons: FundConstraints = _build(FundConstraints, kw, t.where)
    try:
        cons.generic()  # the generic constraints check the weights and rates, now
    except GlidelabError as exc:
        raise StudyError(f"{t.where}: {exc}") from None
    return cons


def _design(raw: object, pop: PopulationSpec) -> DesignSettings:
    """``[design]``: counts and numbers within :data:`DESIGN_COUNTS` and
    :data:`DESIGN_RANGES`; the assets and objective are checked by :class:`DesignSettings`."""
    t = _table(raw, "[design]", _names(DesignSettings))
    d = defaults(DesignSettings)
    kw: dict[str, Any] = {
        "assets": t.strings("assets", d["assets"]),
        "objective": t.string("objective", d["objective"]),
    }
    for key, least in DESIGN_COUNTS.items():
        kw[key] = t.integer(key, d[key], least)
    for key, (lo, hi) in DESIGN_RANGES.items():
        kw[key] = t.number(key, d[key], lo, hi)
    kw["reference_replacement"] = _as_written(t, "reference_replacement", 0.01, 3.0)
    t.seen.add("constraints")
    t.done()
    settings: DesignSettings = _build(DesignSettings, kw, "[design]")
    cons = _constraints(t.raw.get("constraints", {}), pop, settings.assets)
    return dataclasses.replace(settings, constraints=cons)


def _evaluation(raw: object) -> EvaluationSettings:
    """``[evaluation]``: counts within :data:`EVALUATION_COUNTS`; preset names and ISO
    country codes (any case) checked by :class:`EvaluationSettings`."""
    t = _table(raw, "[evaluation]", _names(EvaluationSettings))
    d = defaults(EvaluationSettings)
    kw: dict[str, Any] = {
        "presets": t.strings("presets", d["presets"]),
        "countries": tuple(c.upper() for c in t.strings("countries", d["countries"])),
        "cma": t.string("cma", d["cma"]),
    }
    for key, lo in EVALUATION_COUNTS.items():
        kw[key] = t.integer(key, d[key], lo)
    t.done()
    return _build(EvaluationSettings, kw, "[evaluation]")


def parse_design_study(data: Mapping[str, Any]) -> DesignStudy:
    """A :class:`DesignStudy` from a parsed TOML mapping, every value typed and bounded.

    Any wrong type or out-of-range value is a :class:`StudyError` naming ``[table].key``,
    the value and what is allowed, raised here (at load time), never at run time.
    """
    top = _table(dict(data), "study file", [*_names(DesignStudy)])
    d = defaults(DesignStudy)
    pop = _population(data.get("population", {}))
    return DesignStudy(
        name=top.string("name", d["name"]),
        description=top.string("description", d["description"]),
        seed=top.integer("seed", d["seed"], 0),
        population=pop,
        design=_design(data.get("design", {}), pop),
        evaluation=_evaluation(data.get("evaluation", {})),
    )


def quick_design(study: DesignStudy) -> DesignStudy:
    """``--quick`` of a fund design: small populations, short searches."""
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
