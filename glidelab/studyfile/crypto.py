"""``[crypto]``: the crypto-sleeve research's table (``glidelab crypto``, ``glidelab run``).

Bitcoin's assumed annual log mean, volatility and correlation grids (decimals), the sleeve
sizes (decimal weights), scenario counts, the stress test, the sleeve rules, the history
options and the ``[crypto.window]`` backtest, read into a frozen :class:`CryptoConfig`
whose defaults are its own; :func:`quick_crypto` is the ``--quick`` variant.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backtest.errors import StudyError
from glidelab.studyfile.plans import Mortality
from glidelab.studyfile.tables import Table

if TYPE_CHECKING:
    from backtest.crypto.assumptions import Shocks
    from backtest.mortality import Reading, Sex
    from backtest.types import Frequency

__all__ = ["CryptoConfig", "WindowConfig", "parse_crypto", "quick_crypto"]


@dataclass(frozen=True)
class WindowConfig:
    """``[crypto.window]``: the historical window backtest (weights decimal, months YYYY-MM)."""

    portfolio: tuple[tuple[str, float], ...] = (("us_stocks", 0.6), ("tbonds_10y", 0.4))
    sleeve: float = 0.025
    start: str = "2014-01"
    end: str = "2025-11"
    rule: str = "band"


@dataclass(frozen=True)
class CryptoConfig:
    """The ``[crypto]`` table, validated: Bitcoin's annual log mean, volatility and
    correlation grids (decimals), sleeve sizes (decimal weights), scenario counts."""

    plan: str
    base: str = "fixed_60_40"
    sleeves: tuple[float, ...] = (0.0, 0.01, 0.025, 0.05, 0.10)
    n_scenarios: int = 10_000
    base_scenarios: str = "bootstrap"
    means: tuple[float, ...] = (-0.20, -0.10, 0.0, 0.05, 0.10, 0.20, 0.30)
    vols: tuple[float, ...] = (0.30, 0.45, 0.60, 0.75, 0.90, 1.05, 1.20)
    corrs: tuple[float, ...] = (0.0, 0.4)
    shocks: Shocks = "normal"
    dof: float = 4.0
    band: tuple[float, ...] = (0.5, 1.5)
    central: tuple[float, float, float] = (0.05, 0.60, 0.2)
    breakeven_sleeves: tuple[float, ...] = (0.01, 0.025, 0.05)
    breakeven_vols: tuple[float, ...] = (0.60, 0.90)
    breakeven_corr: float = 0.0
    stress_sleeves: tuple[float, ...] = (0.0, 0.01, 0.025, 0.05)
    stress_age: float = 75.0
    wealth_age: float = 95.0
    crash_rho: float = 0.9
    crash_threshold: float = -0.15
    rules_sleeve: float = 0.025
    rules_frequency: Frequency = "monthly"
    rules_n: int = 2000
    transaction_cost_bps: float = 10.0
    history_n: int = 5000
    mature_start: str = "2015"
    scale: float = 0.5
    window: WindowConfig = WindowConfig()
    survival: tuple[Sex, int, Reading] | None = None  # (sex, birth_year, reading)


def _band(t: Table, d: CryptoConfig) -> tuple[float, ...]:
    band = t.numbers("band", d.band, 0.0, 100.0)
    if band and (len(band) != 2 or not band[0] < 1 < band[1]):
        raise StudyError(
            f"[crypto].band = {list(band)!r}; expected [lower, upper] with lower < 1 < upper, "
            "e.g. [0.5, 1.5], or [] for no band"
        )
    return band


def _central(t: Table, d: CryptoConfig) -> tuple[float, float, float]:
    c = t.table("central")
    return (
        c.number("mean_log", d.central[0], -2, 2),
        c.number("vol_log", d.central[1], 0, 3),
        c.number("corr", d.central[2], -1, 1),
    )


def _window(t: Table, d: CryptoConfig) -> WindowConfig:
    w = t.table("window")
    portfolio_raw = w.raw.get("portfolio", dict(d.window.portfolio))
    w.seen.add("portfolio")
    if not isinstance(portfolio_raw, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in portfolio_raw.values()
    ):
        raise StudyError(
            "[crypto.window].portfolio must be a table of asset = weight, e.g. "
            "{ us_stocks = 0.6, tbonds_10y = 0.4 }"
        )
    if abs(sum(portfolio_raw.values()) - 1.0) > 1e-9:
        raise StudyError(
            f"[crypto.window].portfolio weights sum to {sum(portfolio_raw.values()):g}; "
            "they must sum to 1"
        )
    return WindowConfig(
        portfolio=tuple((str(k), float(v)) for k, v in portfolio_raw.items()),
        sleeve=w.number("sleeve", d.window.sleeve, 0, 0.5),
        start=w.string("start", d.window.start),
        end=w.string("end", d.window.end),
        rule=w.string("rule", d.window.rule, ("band", "monthly", "quarterly", "annual", "none")),
    )


def _survival(t: Table) -> tuple[Sex, int, Reading] | None:
    if "survival" not in t.raw:
        t.seen.add("survival")
        return None
    sv = t.table("survival")
    return (
        sv.choice("sex", None, ("male", "female")),
        sv.integer("birth_year", None, lo=1900),
        sv.choice("reading", Mortality.reading, ("cohort", "period")),
    )


def _grids(t: Table, d: CryptoConfig) -> dict[str, tuple[float, ...]]:
    """The assumption grids (corrs, means, vols) and the sleeve sizes, none empty."""
    grids = {
        "corrs": t.numbers("corrs", d.corrs, -1, 1),
        "means": t.numbers("means", d.means, -2, 2),
        "vols": t.numbers("vols", d.vols, 0, 3),
        "sleeves": t.numbers("sleeves", d.sleeves, 0, 0.5),
    }
    for key in ("corrs", "means", "vols"):
        if not grids[key]:
            raise StudyError(f"[crypto].{key} is empty; give at least one value")
    if not any(s > 0 for s in grids["sleeves"]):
        raise StudyError("[crypto].sleeves needs at least one size > 0, e.g. [0, 0.01, 0.05]")
    return grids


def parse_crypto(raw: object, plans: list[str]) -> CryptoConfig:
    """Validate a ``[crypto]`` table for a study whose plans are ``plans``."""
    t = Table(raw, "[crypto]")
    d = CryptoConfig(plan=plans[0])
    plan = t.string("plan", plans[0])
    if plan not in plans:
        raise StudyError(f"[crypto].plan = {plan!r} is not a plan; plans are {plans}")
    band = _band(t, d)
    central = _central(t, d)
    window = _window(t, d)
    survival = _survival(t)
    grids = _grids(t, d)
    cfg = CryptoConfig(
        plan=plan,
        base=t.string("base", d.base),
        sleeves=grids["sleeves"],
        n_scenarios=t.integer("n_scenarios", d.n_scenarios, lo=20),
        base_scenarios=t.string("base_scenarios", d.base_scenarios, ("bootstrap", "parametric")),
        means=grids["means"],
        vols=grids["vols"],
        corrs=grids["corrs"],
        shocks=t.choice("shocks", d.shocks, ("normal", "student_t")),
        dof=t.number("dof", d.dof, 2.01, 1000),
        band=band,
        central=central,
        breakeven_sleeves=t.numbers("breakeven_sleeves", d.breakeven_sleeves, 0, 0.5),
        breakeven_vols=t.numbers("breakeven_vols", d.breakeven_vols, 0, 3),
        breakeven_corr=t.number("breakeven_corr", d.breakeven_corr, -1, 1),
        stress_sleeves=t.numbers("stress_sleeves", d.stress_sleeves, 0, 0.5),
        stress_age=t.number("stress_age", d.stress_age, 0, 125),
        wealth_age=t.number("wealth_age", d.wealth_age, 0, 125),
        crash_rho=t.number("crash_rho", d.crash_rho, -1, 1),
        crash_threshold=t.number("crash_threshold", d.crash_threshold, -0.99, -0.01),
        rules_sleeve=t.number("rules_sleeve", d.rules_sleeve, 0.001, 0.5),
        rules_frequency=t.choice("rules_frequency", d.rules_frequency, ("annual", "monthly")),
        rules_n=t.integer("rules_n", d.rules_n, lo=20),
        transaction_cost_bps=t.number("transaction_cost_bps", d.transaction_cost_bps, 0, 1000),
        history_n=t.integer("history_n", d.history_n, lo=20),
        mature_start=t.string("mature_start", d.mature_start),
        scale=t.number("scale", d.scale, 0.01, 1.0),
        window=window,
        survival=survival,
    )
    t.done()
    return cfg


def quick_crypto(c: CryptoConfig) -> CryptoConfig:
    """``--quick`` of the crypto research: 400 base scenarios, at most a 3 x 3 grid of
    means and vols, 100 rule and history scenarios; never larger than ``c``."""
    return dataclasses.replace(
        c,
        n_scenarios=min(c.n_scenarios, 400),
        means=c.means[:: max(1, len(c.means) // 3)][:3],
        vols=c.vols[:: max(1, len(c.vols) // 3)][:3],
        rules_n=min(c.rules_n, 100),
        history_n=min(c.history_n, 100),
    )
