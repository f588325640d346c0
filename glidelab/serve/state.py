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
from glidelab.serve.fields import FIELDS, MEMBER, arithmetic_from_log, log_from_arithmetic
from glidelab.study import Study, parse_study, read_study_toml
from strategies import FixedMix, GlidePath, preset
from strategies.presets import BONDS, CASH, EQUITY, PRESETS
from strategies.target_date import AgeBasedMix

#: Name of the hand-drawn path in tables and in the saved study.
CUSTOM_NAME = "drawn glide path"
#: Name of a drawn path pinned as the baseline (compared on the same scenarios).
PINNED_NAME = "pinned drawn path"
#: Name of the optimiser's path once it is scored on the page's scenarios.
OPTIMISED_NAME = "optimised path"

ScenarioKind = Literal["historical cohorts", "block bootstrap", "parametric"]
SCENARIO_KINDS: tuple[str, ...] = ("block bootstrap", "historical cohorts", "parametric")

#: Member fields shown as numbers on the page: key in ``[[plans]]`` -> label.
MEMBER_NUMBERS: dict[str, str] = {f.key: f.label for f in MEMBER}


@dataclass(frozen=True)
class DrawnPath:
    """A drawn path and its rule, as the page holds it (to pin it as the baseline).

    Ages in years, equity and cash shares and the sleeve as decimals; the rebalancing
    rule's fields as ``strategies.base.RebalanceRule``'s.
    """

    ages: tuple[float, ...]
    equity: tuple[float, ...]
    cash: tuple[float, ...] = ()
    sleeve: float = 0.0
    rebalance: str = "calendar"
    rebalance_every_months: int | None = 12
    rebalance_band: float | None = 0.05


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
        Bitcoin's expected annual simple return and its volatility (arithmetic terms,
        decimals a year) for ``"proxy"`` and in parametric scenarios; the study file
        holds the lognormal's log mean and log volatility
        (:func:`glidelab.serve.fields.log_from_arithmetic`).
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
    pinned
        A drawn path pinned for comparison (``baseline`` is then :data:`PINNED_NAME`).
    shown
        Presets drawn on the chart and scored on the same scenarios.
    optimised_path
        The optimiser's path (years to retirement, equity shares) once it has run: scored
        on the page's scenarios and saved as a custom path.
    """

    template: dict[str, Any] = field(compare=False, repr=False)
    member: dict[str, Any] = field(compare=False)
    ages: tuple[float, ...]
    equity: tuple[float, ...]
    cash: tuple[float, ...] = ()
    sleeve: float = 0.0
    before_data: str = "cash"
    proxy: tuple[float | None, float | None] = arithmetic_from_log(0.0, 0.6)
    rebalance: str = "calendar"
    rebalance_every_months: int | None = 12
    rebalance_band: float | None = 0.05
    scenarios: ScenarioKind = "block bootstrap"
    n_scenarios: int | None = 5000
    seed: int | None = 0
    baseline: str = "vanguard_target_retirement"
    optimised: bool = False
    adaptive: bool = False
    pinned: DrawnPath | None = None
    shown: tuple[str, ...] = ()
    optimised_path: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    @property
    def drawn(self) -> DrawnPath:
        """The drawn path and its rule."""
        return DrawnPath(
            self.ages,
            self.equity,
            self.cash,
            self.sleeve,
            self.rebalance,
            self.rebalance_every_months,
            self.rebalance_band,
        )

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
        proxy=arithmetic_from_log(*(sc.crypto_proxy or (0.0, 0.6))),
        n_scenarios=sc.bootstrap_n or sc.parametric_n or 5000,
        scenarios="block bootstrap"
        if sc.bootstrap_n > 0
        else "parametric"
        if sc.parametric_n > 0
        else "historical cohorts",
        seed=study.seed,
        baseline=start.strategy or "vanguard_target_retirement",
    )
    customs = {c.name: c for c in study.strategies.custom}
    if CUSTOM_NAME in customs:  # a study saved from the page: its view again
        r = preset_start.plan.retirement_age

        def path(c: Any) -> DrawnPath:
            return DrawnPath(
                tuple(r - y for y in c.years_to_retirement),
                c.equity,
                c.cash,
                c.crypto_sleeve,
                c.rebalance,
                c.rebalance_every_months,
                c.rebalance_band,
            )

        d = path(customs[CUSTOM_NAME])
        presets = study.strategies.presets
        pinned = path(customs[PINNED_NAME]) if PINNED_NAME in customs else None
        opt = customs.get(OPTIMISED_NAME)
        return replace(
            view,
            ages=d.ages,
            equity=d.equity,
            cash=d.cash,
            sleeve=d.sleeve,
            rebalance=d.rebalance,
            rebalance_every_months=d.rebalance_every_months,
            rebalance_band=d.rebalance_band,
            # a pinned path was the baseline when it was saved (a preset baseline beside a
            # pinned path opens as one more preset drawn beside it)
            baseline=PINNED_NAME if pinned else presets[0] if presets else view.baseline,
            shown=tuple(presets) if pinned else tuple(presets[1:]),
            pinned=pinned,
            optimised=study.optimize.enabled,
            optimised_path=None if opt is None else (opt.years_to_retirement, opt.equity),
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
        mean, vol = _held(view.proxy[0]), _held(view.proxy[1])
        log_params: tuple[float | None, float | None] = (mean, vol)
        if mean is not None and vol is not None and mean > -1 and vol >= 0:
            log_params = log_from_arithmetic(mean, vol)
        # an emptied field (None) goes to the schema, which names it
        sc["crypto_proxy"] = {"mean_log_annual": log_params[0], "vol_log_annual": log_params[1]}
    else:
        sc.pop("crypto_proxy", None)
    custom = [_custom(CUSTOM_NAME, view.drawn, retirement)]
    if view.pinned is not None:
        custom.append(_custom(PINNED_NAME, view.pinned, retirement))
    if view.optimised_path is not None:
        # the optimiser's knots, young to old, shares clipped into [0, 1] (its solver
        # leaves round-off like 1.0000000002)
        rows = sorted(zip(*view.optimised_path, strict=True), reverse=True)
        custom.append(
            {
                "name": OPTIMISED_NAME,
                "years_to_retirement": [_num(y) for y, _ in rows],
                "equity": [_num(min(max(float(e), 0.0), 1.0)) for _, e in rows],
            }
        )
    presets = [] if view.baseline == PINNED_NAME else [view.baseline]
    raw["strategies"] = {
        "presets": presets + [s for s in view.shown if s not in presets],
        "crypto_sleeves": [],
        "crypto_base": raw.get("strategies", {}).get("crypto_base", "fixed_60_40"),
        "custom": custom,
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


def _custom(name: str, path: DrawnPath, retirement: Any) -> dict[str, Any]:
    """A ``[strategies].custom`` table of a drawn path (knots in years to retirement)."""
    cash = path.cash or (0.0,) * len(path.ages)
    rows = sorted(zip(path.ages, path.equity, cash, strict=True))
    ytr = [_num(retirement - a) if _is_num(retirement) else a for a, _, _ in rows]
    return {
        "name": name,
        "years_to_retirement": ytr,
        "equity": [_num(e) for _, e, _ in rows],
        **({"cash": [_num(c) for _, _, c in rows]} if path.cash else {}),
        "crypto_sleeve": _num(path.sleeve),
        "rebalance": path.rebalance,
        "rebalance_every_months": _num(path.rebalance_every_months),
        "rebalance_band": _num(path.rebalance_band),
    }


def to_study(view: View) -> Study:
    """The validated study of the view; raises the schema's ``StudyError`` or the plan's
    ``PlanError`` (both ``GlidelabError``) naming the field and the allowed range."""
    return parse_study(to_raw(view), "glidelab serve")


def to_toml(view: View) -> str:
    """The study file of the view, as TOML text."""
    head = (
        "# Saved from `glidelab serve`: run it with `glidelab run THIS_FILE.toml`.\n"
        "# Amounts are real USD of the start date per year; rates are decimals (the page's\n"
        "# percent fields divided by 100: fees 0.2 % on the page is 0.002 here).\n\n"
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


def _held(x: Any) -> float | None:
    return float(x) if _is_num(x) else None


def check(view: View) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The page's own checks of a view, made before the schema's: ``(errors, warnings)``,
    each a list of (field key, message in the field's words and units). An error keeps
    the view from being applied; a warning is shown beside an applied value. Key
    ``"ages"`` is the order of the three ages."""
    errors: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []

    def field(key: str, value: Any) -> None:
        f = FIELDS[key]
        if message := f.error(_held(value)):
            errors.append((key, message))
        elif message := f.warning(_held(value)):
            warnings.append((key, message))

    m = view.member
    for f in MEMBER:
        field(f.key, m.get(f.key))
    ages = [_held(m.get(k)) for k in ("start_age", "retirement_age", "end_age")]
    s, r, e = ages
    if s is not None and r is not None and e is not None and not s <= r <= e:
        errors.append(
            (
                "ages",
                f"Ages must run start <= retirement <= end; got start {s:g}, retirement "
                f"{r:g}, end {e:g}",
            )
        )
    wd = m.get("withdrawal", {})
    if wd.get("rule") == "constant_real":
        field("amount", wd.get("amount"))
    elif wd.get("rule") not in (None, "none"):
        field("rate", wd.get("rate"))
    if m.get("success", {}).get("kind") == "funded_ratio":
        field("replacement_rate", m["success"].get("replacement_rate"))
    # the schema reads both numbers of the rule: each is checked when its rule uses it
    # or when it is given
    if view.rebalance == "calendar" or view.rebalance_every_months is not None:
        field("rebalance_every_months", view.rebalance_every_months)
    if view.rebalance == "band" or view.rebalance_band is not None:
        field("rebalance_band", view.rebalance_band)
    if view.scenarios != "historical cohorts":
        field("bootstrap_n", view.n_scenarios)
    field("seed", view.seed)
    if view.before_data == "proxy" or view.scenarios == "parametric":
        field("btc_mean", view.proxy[0])
        field("btc_vol", view.proxy[1])
    return errors, warnings
