"""What one browser session shows, as plain data: the study it would save.

A :class:`View` is frozen; every edit on the page makes a new one
(``dataclasses.replace``). :func:`to_raw` turns it into the mapping of a study file, and
:func:`to_study` validates that mapping with the study schema (``glidelab.study``), so
the page, the saved TOML and ``glidelab run`` share one definition of every rule and
every number.

Knots are held by **age** (what the chart shows); the study file stores them in years to
retirement (``[strategies].custom``), as :class:`strategies.GlidePath` does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from backtest.errors import GlidelabError, StudyError
from glidelab.study import Study, parse_study, read_study_toml
from strategies import FixedMix, GlidePath, preset
from strategies.presets import BONDS, CASH, EQUITY, PRESETS
from strategies.target_date import AgeBasedMix

#: Name of the hand-drawn path in tables and in the saved study.
CUSTOM_NAME = "drawn glide path"

ScenarioKind = Literal["historical cohorts", "block bootstrap", "parametric"]
SCENARIO_KINDS: tuple[str, ...] = ("block bootstrap", "historical cohorts", "parametric")

#: Member fields shown as numbers on the page: key in ``[[plans]]`` -> label.
MEMBER_NUMBERS: dict[str, str] = {
    "start_age": "start age",
    "retirement_age": "retirement age",
    "end_age": "end age",
    "initial_balance": "balance today (USD)",
    "salary": "salary (USD a year)",
    "salary_growth_real": "salary growth (real, decimal a year)",
    "contribution_rate": "contribution rate (decimal of salary)",
    "match_rate": "employer match (per dollar)",
    "match_cap": "match cap (decimal of salary)",
    "annual_limit": "contribution limit (USD a year)",
    "catch_up": "catch-up from 50 (USD a year)",
    "expense_ratio": "fees (decimal a year)",
}


@dataclass(frozen=True)
class View:
    """The page's state: the member, the drawn strategy, the scenarios, the comparison.

    A number typed into the page is ``None`` while its field is empty: the view holds it
    as typed and :func:`to_study`'s schema names the field.

    Attributes
    ----------
    template
        The study file the session started from (its ``[data]``, ``[analysis]`` and
        ``[optimize]`` settings are kept); never mutated.
    member
        The member's ``[[plans]]`` table (raw values as typed; validated by the schema).
    ages, equity
        Knots of the drawn path: ages in years, equity shares as decimals in [0, 1].
    cash
        Cash (T-bill) share at each knot, decimals, or empty for an equity/bond path (a
        preset with cash, e.g. Fidelity's, keeps its cash shares while equity is dragged).
    sleeve
        Bitcoin sleeve, decimal of the portfolio (0 for none).
    before_data
        ``[scenarios].crypto_before_data``: ``"cash"`` or ``"proxy"``.
    proxy
        Bitcoin's annual log mean and volatility for ``"proxy"``, and in parametric
        scenarios.
    rebalance, rebalance_every_months, rebalance_band
        The path's rebalancing rule (``strategies.base.RebalanceRule`` fields).
    scenarios
        Which scenario set the headline numbers use.
    n_scenarios, seed
        Bootstrap or parametric count, and the study's seed.
    baseline
        Preset compared on the same scenarios.
    optimised
        Whether the optimised path is overlaid (and the saved study optimises).
    adaptive
        Whether the adaptive policy map is shown (the saved study then solves the
        adaptive glide path of the member, which runs with the optimiser).
    """

    template: dict[str, Any] = field(compare=False, repr=False)
    member: dict[str, Any] = field(compare=False)
    ages: tuple[float, ...]
    equity: tuple[float, ...]
    cash: tuple[float, ...] = ()
    sleeve: float = 0.0
    before_data: str = "cash"
    proxy: tuple[float | None, float | None] = (0.0, 0.6)
    rebalance: str = "calendar"
    rebalance_every_months: int | None = 12
    rebalance_band: float | None = 0.05
    scenarios: ScenarioKind = "block bootstrap"
    n_scenarios: int | None = 5000
    seed: int | None = 0
    baseline: str = "vanguard_target_retirement"
    optimised: bool = False
    adaptive: bool = False

    def with_member(self, key: str, value: Any) -> View:
        """A copy with one member field set (``None`` removes it)."""
        member = copy.deepcopy(self.member)
        if value is None:
            member.pop(key, None)
        else:
            member[key] = value
        return replace(self, member=member)


def read_template(path: str | Path | None = None) -> dict[str, Any]:
    """The raw mapping of a study file or shipped study's name (``None``: the built-in
    default study), read by the one study reader (:func:`glidelab.study.read_study_toml`)."""
    raw, source = read_study_toml(path)
    parse_study(raw, source)  # validate now, so the page starts from a good study
    return raw


def initial_view(template: dict[str, Any]) -> View:
    """The view of a study: its ``[optimize]`` plan (else its first), the plan's own drawn
    path when it has one, else the plan's preset, else Vanguard's path."""
    study = parse_study(template)
    plans = template["plans"]
    wanted = study.optimize.plan or study.plans[0].name
    member = copy.deepcopy(next(p for p in plans if p.get("name") == wanted))
    member.pop("strategy", None)
    member.pop("pension_target", None)
    start = preset_start = study.plan(wanted)
    sc = study.scenarios
    view = View(
        template=copy.deepcopy(template),
        member=member,
        ages=(),
        equity=(),
        before_data=sc.crypto_before_data if sc.crypto_before_data != "exclude" else "cash",
        proxy=sc.crypto_proxy or (0.0, 0.6),
        n_scenarios=sc.bootstrap_n or sc.parametric_n or 5000,
        scenarios="block bootstrap"
        if sc.bootstrap_n > 0
        else "parametric"
        if sc.parametric_n > 0
        else "historical cohorts",
        seed=study.seed,
        baseline=start.strategy or "vanguard_target_retirement",
    )
    drawn = [c for c in study.strategies.custom if c.name == CUSTOM_NAME]
    if drawn:
        c = drawn[0]
        r = preset_start.plan.retirement_age
        return replace(
            view,
            ages=tuple(r - y for y in c.years_to_retirement),
            equity=c.equity,
            cash=c.cash,
            sleeve=c.crypto_sleeve,
            rebalance=c.rebalance,
            rebalance_every_months=c.rebalance_every_months,
            rebalance_band=c.rebalance_band,
            baseline=next(iter(study.strategies.presets), view.baseline),
            optimised=study.optimize.enabled,
        )
    name = start.strategy if start.strategy in drawable_presets() else "vanguard_target_retirement"
    return from_preset(view, name)


def drawable_presets() -> list[str]:
    """Presets the chart can start from: every target-date path and fixed mix (of
    equity and bonds, and cash for a glide path that holds it)."""
    out = []
    for name in PRESETS:
        try:
            s = preset(name)
        except (GlidelabError, ValueError):
            continue
        two = tuple(s.assets) == (EQUITY, BONDS)
        if (isinstance(s, AgeBasedMix | FixedMix) and two) or (
            isinstance(s, GlidePath) and (two or tuple(s.assets) == (EQUITY, BONDS, CASH))
        ):
            out.append(name)
    return out


def preset_knots(
    name: str, start_age: float, retirement_age: float, end_age: float
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Knots (ages, equity shares, cash shares) that reproduce a preset exactly.

    A glide path keeps its own knots (years to retirement turned into ages); an
    "N minus age" rule is linear in age, so its values at the start and end ages (and
    where its clipping starts) reproduce it; a fixed mix is one flat line. The cash shares
    are empty unless the preset holds cash.
    """
    s = preset(name)
    if isinstance(s, GlidePath):
        ages = tuple(retirement_age - float(k) for k in s.knots_years_to_retirement)
        w = np.asarray(s.weights, dtype=np.float64)
        order = np.argsort(ages)
        cash = tuple(float(c) for c in w[order, 2]) if w.shape[1] == 3 else ()
        return tuple(ages[i] for i in order), tuple(float(e) for e in w[order, 0]), cash
    if isinstance(s, AgeBasedMix):
        ages_set = {start_age, end_age}
        for bound in (s.max_equity, s.min_equity):
            a = s.offset - 100 * bound
            if start_age < a < end_age:
                ages_set.add(a)
        ages = tuple(sorted(ages_set))
        eq = tuple(min(max((s.offset - a) / 100, s.min_equity), s.max_equity) for a in ages)
        return ages, eq, ()
    if isinstance(s, FixedMix):
        return (start_age, end_age), (float(s.weights[0]),) * 2, ()
    raise StudyError(f"preset {name!r} is not a glide path or fixed mix; it cannot be drawn")


def _ages(view: View) -> tuple[float, float, float]:
    m = view.member
    return (
        float(m.get("start_age", 25)),
        float(m.get("retirement_age", 65)),
        float(m.get("end_age", 95)),
    )


def from_preset(view: View, name: str) -> View:
    """The view with its knots replaced by the preset's."""
    ages, eq, cash = preset_knots(name, *_ages(view))
    rule = preset(name).rebalance
    return replace(
        view,
        ages=ages,
        equity=eq,
        cash=cash,
        rebalance=rule.kind,
        rebalance_every_months=rule.every_months,
        rebalance_band=rule.band,
    )


def to_raw(view: View) -> dict[str, Any]:
    """The study-file mapping that reproduces the view (``glidelab run`` on it gives the
    page's numbers: same plan, path, scenarios and seed)."""
    raw = copy.deepcopy(view.template)
    raw.setdefault("study", {})
    raw["study"]["seed"] = _num(view.seed)
    raw["study"]["description"] = "Saved from glidelab serve: the drawn glide path."
    member = copy.deepcopy(view.member)
    raw["plans"] = [member]
    name = member.get("name", "member")
    retirement = member.get("retirement_age", 65)
    sc = raw.setdefault("scenarios", {})
    sc["historical"] = True
    sc["bootstrap_n"] = _num(view.n_scenarios) if view.scenarios == "block bootstrap" else 0
    sc["parametric_n"] = _num(view.n_scenarios) if view.scenarios == "parametric" else 0
    sc["crypto_before_data"] = view.before_data
    if view.before_data == "proxy" or view.scenarios == "parametric":
        sc["crypto_proxy"] = {"mean_log_annual": view.proxy[0], "vol_log_annual": view.proxy[1]}
    else:
        sc.pop("crypto_proxy", None)
    cash = view.cash or (0.0,) * len(view.ages)
    rows = sorted(zip(view.ages, view.equity, cash, strict=True))
    ytr = [_num(retirement - a) if _is_num(retirement) else a for a, _, _ in rows]
    custom: dict[str, Any] = {
        "name": CUSTOM_NAME,
        "years_to_retirement": ytr,
        "equity": [_num(e) for _, e, _ in rows],
        **({"cash": [_num(c) for _, _, c in rows]} if view.cash else {}),
        "crypto_sleeve": _num(view.sleeve),
        "rebalance": view.rebalance,
        "rebalance_every_months": _num(view.rebalance_every_months),
        "rebalance_band": _num(view.rebalance_band),
    }
    raw["strategies"] = {
        "presets": [view.baseline],
        "crypto_sleeves": [],
        "crypto_base": raw.get("strategies", {}).get("crypto_base", "fixed_60_40"),
        "custom": [custom],
    }
    op = raw.setdefault("optimize", {})
    op["enabled"] = bool(view.optimised or view.adaptive)
    op["plan"] = name
    # The page shows one member: the saved study solves its adaptive policy, or none.
    op["adaptive"] = bool(view.adaptive)
    op.pop("adaptive_plans", None)
    if view.adaptive:
        op["adaptive_plans"] = [name]
    raw.setdefault("output", {})["tearsheet"] = False
    return raw


def to_study(view: View) -> Study:
    """The validated study of the view; raises the schema's ``StudyError`` or the plan's
    ``PlanError`` (both ``GlidelabError``) naming the field and the allowed range."""
    return parse_study(to_raw(view), "glidelab serve")


def to_toml(view: View) -> str:
    """The study file of the view, as TOML text."""
    head = (
        "# Saved from `glidelab serve`: run it with `glidelab run THIS_FILE.toml`.\n"
        "# Amounts are real USD of the start date per year; rates are decimals.\n\n"
    )
    import tomli_w  # lazy: optional extra (serve)

    return head + tomli_w.dumps(to_raw(view))


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _num(v: Any) -> Any:
    """Whole numbers as int, other numbers as float (so the TOML reads naturally);
    anything else (an emptied field's None) unchanged, for the schema to name."""
    if not _is_num(v) or not np.isfinite(v):
        return v
    f = float(v)
    return int(f) if f.is_integer() else f
