"""``[crypto]``: the crypto-sleeve research's table (``glidelab crypto``, ``glidelab run``).

Bitcoin's assumed arithmetic annual mean (expected simple return a year), volatility (its
standard deviation) and correlation grids (decimals), the central case, the sleeve
sizes (decimal weights), scenario counts, the stress test, the sleeve rules, the history
options, the ``[crypto.window]`` backtest, the ``[crypto.vintage]`` sleeve inside a
target-date vintage and the ``[crypto.disclosure]`` committee table, read into a frozen
:class:`CryptoConfig` whose defaults are its own; :func:`quick_crypto` is the ``--quick``
variant.
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

__all__ = [
    "CentralConfig",
    "CryptoConfig",
    "DisclosureConfig",
    "StressConfig",
    "VintageConfig",
    "WindowConfig",
    "parse_crypto",
    "quick_crypto",
]


@dataclass(frozen=True)
class WindowConfig:
    """``[crypto.window]``: the historical window backtest (weights decimal, months YYYY-MM)."""

    portfolio: tuple[tuple[str, float], ...] = (("us_stocks", 0.6), ("tbonds_10y", 0.4))
    sleeve: float = 0.025
    start: str = "2014-01"
    end: str = "2025-11"
    rule: str = "band"


@dataclass(frozen=True)
class VintageConfig:
    """``[crypto.vintage]``: a sleeve inside a target-date vintage, scored across the
    fund-design study's members (``population``: name or path of a design study).

    ``sleeves`` are decimal weights at the start, each gliding linearly to ``end_size``
    between ``shrink_from_years`` and ``shrink_to_years`` before the target date;
    ``members`` x ``market_paths`` member-paths (every member on every path);
    ``risk_years``: years before the target date at which the risk shares are reported.
    """

    population: str = "target_date_2060"
    preset: str = "vanguard_target_retirement"
    sleeves: tuple[float, ...] = (0.0, 0.01, 0.025, 0.05)
    end_size: float = 0.0
    shrink_from_years: float = 25.0
    shrink_to_years: float = 0.0
    members: int = 2000
    market_paths: int = 100
    risk_years: tuple[float, ...] = (0.0, 20.0)


@dataclass(frozen=True)
class DisclosureConfig:
    """``[crypto.disclosure]``: the committee table's stated inputs (decimals).

    ``etf_fee``: the sleeve vehicle's expense ratio a year (IBIT's sponsor fee, 0.25 %);
    ``crash_month``: the monthly equity return below which a month is a crash;
    ``stress_year``: the calendar year replayed; ``stress_loss``: Bitcoin's loss over the
    scaled stress year.
    """

    etf_fee: float = 0.0025
    crash_month: float = -0.05
    stress_year: str = "2022"
    stress_loss: float = -0.80


#: Spot Bitcoin ETFs whose expense ratios the stress test knows (the keys of
#: ``backtest.crypto.stresses.ETF_FEES``, where their sources are).
ETF_FUNDS = ("IBIT", "GBTC")


@dataclass(frozen=True)
class StressConfig:
    """``[crypto.stresses]``: the fiduciary stresses' stated inputs.

    ``winter_years``: whole years of a crypto winter's negative expected return;
    ``winter_lead``: years before retirement of the second winter (0: none);
    ``decay_half_life``: years in which Bitcoin's premium over cash halves;
    ``regime_months``: window of the rolling correlation whose peak sets the
    leveraged-equity regime; ``etf_funds``: spot ETFs whose fees are tried;
    ``panic_drawdown``: the fall from a peak (decimal) after which the member sells.
    """

    winter_years: int = 3
    winter_lead: float = 5.0
    decay_half_life: float = 10.0
    regime_months: int = 24
    etf_funds: tuple[str, ...] = ETF_FUNDS
    panic_drawdown: float = 0.5


@dataclass(frozen=True)
class CentralConfig:
    """``[crypto].central``: the central Bitcoin assumption (stress, rules, risk, vintage).

    ``terms``: ``"history"`` (derived from the study's data by
    :func:`backtest.crypto.assumptions.central_from_history`; ``glidelab.crypto`` fills
    in the numbers and ``rationale`` before the run), ``"arithmetic"`` (``mean``: the
    expected simple return a year, ``vol``: its standard deviation, decimals) or
    ``"log"`` (``mean``, ``vol``: the annual log mean and log volatility, given under
    their explicit names ``mean_log``/``vol_log``). ``corr``: with equities' log returns.
    """

    terms: str = "history"
    mean: float | None = None
    vol: float | None = None
    corr: float | None = None
    rationale: str = ""


@dataclass(frozen=True)
class CryptoConfig:
    """The ``[crypto]`` table, validated: Bitcoin's arithmetic annual mean, volatility and
    correlation grids (decimals), sleeve sizes (decimal weights), scenario counts."""

    plan: str
    base: str = "fixed_60_40"
    sleeves: tuple[float, ...] = (0.0, 0.01, 0.025, 0.05, 0.10)
    n_scenarios: int = 10_000
    base_scenarios: str = "bootstrap"
    means: tuple[float, ...] = (0.0, 0.04, 0.08, 0.12, 0.16, 0.20, 0.30)
    vols: tuple[float, ...] = (0.30, 0.45, 0.60, 0.75, 0.90, 1.05, 1.20)
    corrs: tuple[float, ...] = (0.0, 0.4)
    shocks: Shocks = "normal"
    dof: float = 4.0
    band: tuple[float, ...] = (0.5, 1.5)
    central: CentralConfig = CentralConfig()
    breakeven_sleeves: tuple[float, ...] = (0.01, 0.025, 0.05)
    breakeven_vols: tuple[float, ...] = ()  # (): the central case's volatility
    breakeven_corrs: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6)
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
    stresses: StressConfig = StressConfig()
    vintage: VintageConfig = VintageConfig()
    disclosure: DisclosureConfig = DisclosureConfig()


def _band(t: Table, d: CryptoConfig) -> tuple[float, ...]:
    band = t.numbers("band", d.band, 0.0, 100.0)
    if band and (len(band) != 2 or not band[0] < 1 < band[1]):
        raise StudyError(
            f"[crypto].band = {list(band)!r}; expected [lower, upper] with lower < 1 < upper, "
            "e.g. [0.5, 1.5], or [] for no band"
        )
    return band


def _central(t: Table) -> CentralConfig:
    """``central = "history"``, ``{ mean, vol, corr }`` (arithmetic) or, named as such,
    ``{ mean_log, vol_log, corr }`` (lognormal parameters)."""
    raw = t.raw.get("central", "history")
    if raw == "history":
        t.seen.add("central")
        return CentralConfig()
    if isinstance(raw, str) or not isinstance(raw, dict):
        raise StudyError(
            f'[crypto].central = {raw!r}; use "history" or a table '
            "{ mean = 0.12, vol = 0.85, corr = 0.2 } (arithmetic: expected simple return a "
            "year and its standard deviation, decimals)"
        )
    c = t.table("central")
    if {"mean_log", "vol_log"} & set(raw):
        if {"mean", "vol"} & set(raw):
            raise StudyError(
                "[crypto].central mixes arithmetic (mean, vol) and log (mean_log, vol_log) "
                "keys; give one pair"
            )
        return CentralConfig(
            "log",
            c.number("mean_log", None, -2, 2),
            c.number("vol_log", None, 0, 3),
            c.number("corr", 0.0, -1, 1),
        )
    return CentralConfig(
        "arithmetic",
        c.number("mean", None, -0.9, 5),
        c.number("vol", None, 0, 5),
        c.number("corr", 0.0, -1, 1),
    )


#: How a log grid converts, for the error that refuses one.
_LOG_GRID = (
    "the grid is stated in arithmetic terms now: give means = [...] (expected simple "
    "return a year, exp(mu + sigma^2/2) - 1) and vols = [...] (its standard deviation, "
    "(1 + mean) * sqrt(exp(sigma^2) - 1)), decimals; e.g. log mean 0.05 at log vol 0.60 "
    "is mean 0.259, vol 0.83"
)


def _breakeven(t: Table, d: CryptoConfig) -> dict[str, tuple[float, ...]]:
    """``breakeven_sleeves``, ``breakeven_vols`` (arithmetic, or "central") and
    ``breakeven_corrs`` (the old single ``breakeven_corr`` is still read)."""
    vols_raw = t.raw.get("breakeven_vols")
    if vols_raw == "central":
        t.seen.add("breakeven_vols")
        vols: tuple[float, ...] = ()
    else:
        vols = t.numbers("breakeven_vols", d.breakeven_vols, 0, 5)
    if "breakeven_corr" in t.raw and "breakeven_corrs" in t.raw:
        raise StudyError(
            "[crypto] has breakeven_corr and breakeven_corrs; keep breakeven_corrs "
            "(a list, e.g. [0, 0.2, 0.4, 0.6])"
        )
    if "breakeven_corr" in t.raw:
        corrs: tuple[float, ...] = (t.number("breakeven_corr", None, -1, 1),)
    else:
        corrs = t.numbers("breakeven_corrs", d.breakeven_corrs, -1, 1)
    if not corrs:
        raise StudyError("[crypto].breakeven_corrs is empty; e.g. [0, 0.2, 0.4, 0.6]")
    return {
        "breakeven_sleeves": t.numbers("breakeven_sleeves", d.breakeven_sleeves, 0, 0.5),
        "breakeven_vols": vols,
        "breakeven_corrs": corrs,
    }


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


def _vintage(t: Table, d: CryptoConfig) -> VintageConfig:
    v, dv = t.table("vintage"), d.vintage
    sleeves = v.numbers("sleeves", dv.sleeves, 0, 0.5)
    if not any(x > 0 for x in sleeves):
        raise StudyError("[crypto.vintage].sleeves needs a size > 0, e.g. [0, 0.01, 0.05]")
    start, to = (
        v.number("shrink_from_years", dv.shrink_from_years, -50, 80),
        v.number("shrink_to_years", dv.shrink_to_years, -50, 80),
    )
    if not start > to:
        raise StudyError(
            f"[crypto.vintage]: shrink_from_years = {start:g} must exceed shrink_to_years = "
            f"{to:g} (years before the target date, e.g. 25 and 0)"
        )
    return VintageConfig(
        population=v.string("population", dv.population),
        preset=v.string("preset", dv.preset),
        sleeves=sleeves,
        end_size=v.number("end_size", dv.end_size, 0, 0.5),
        shrink_from_years=start,
        shrink_to_years=to,
        members=v.integer("members", dv.members, lo=20),
        market_paths=v.integer("market_paths", dv.market_paths, lo=2),
        risk_years=v.numbers("risk_years", dv.risk_years, -50, 80),
    )


def _disclosure(t: Table, d: CryptoConfig) -> DisclosureConfig:
    x, dx = t.table("disclosure"), d.disclosure
    return DisclosureConfig(
        etf_fee=x.number("etf_fee", dx.etf_fee, 0, 0.05),
        crash_month=x.number("crash_month", dx.crash_month, -0.5, -0.001),
        stress_year=x.string("stress_year", dx.stress_year),
        stress_loss=x.number("stress_loss", dx.stress_loss, -0.99, -0.01),
    )


def _stresses(t: Table, d: CryptoConfig) -> StressConfig:
    x, dx = t.table("stresses"), d.stresses
    funds = x.strings("etf_funds", dx.etf_funds)
    unknown = [f for f in funds if f not in ETF_FUNDS]
    if unknown:
        raise StudyError(
            f"[crypto.stresses].etf_funds: no expense ratio for {unknown}; use some of "
            f"{list(ETF_FUNDS)}"
        )
    return StressConfig(
        winter_years=x.integer("winter_years", dx.winter_years, lo=1, hi=10),
        winter_lead=x.number("winter_lead", dx.winter_lead, 0, 40),
        decay_half_life=x.number("decay_half_life", dx.decay_half_life, 0.5, 100),
        regime_months=x.integer("regime_months", dx.regime_months, lo=6, hi=120),
        etf_funds=funds,
        panic_drawdown=x.number("panic_drawdown", dx.panic_drawdown, 0.05, 0.95),
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
    """The assumption grids (corrs; means and vols arithmetic, decimals a year) and the
    sleeve sizes, none empty; a log grid (``means_log``/``vols_log``) is refused."""
    for key in ("means_log", "vols_log"):
        if key in t.raw:
            raise StudyError(f"[crypto].{key}: {_LOG_GRID}")
    grids = {
        "corrs": t.numbers("corrs", d.corrs, -1, 1),
        "means": t.numbers("means", d.means, -0.9, 5),
        "vols": t.numbers("vols", d.vols, 0, 5),
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
    central = _central(t)
    breakeven = _breakeven(t, d)
    window = _window(t, d)
    survival = _survival(t)
    stresses = _stresses(t, d)
    grids = _grids(t, d)
    vintage = _vintage(t, d)
    disclosure = _disclosure(t, d)
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
        breakeven_sleeves=breakeven["breakeven_sleeves"],
        breakeven_vols=breakeven["breakeven_vols"],
        breakeven_corrs=breakeven["breakeven_corrs"],
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
        stresses=stresses,
        vintage=vintage,
        disclosure=disclosure,
    )
    t.done()
    return cfg


def quick_crypto(c: CryptoConfig) -> CryptoConfig:
    """``--quick`` of the crypto research: 400 base scenarios, at most a 3 x 3 grid of
    means and vols, 100 rule and history scenarios, 200 vintage members on 20 market paths,
    break-evens of at most 2 sleeves at 2 correlations (the first and the last); never
    larger than ``c``."""
    return dataclasses.replace(
        c,
        n_scenarios=min(c.n_scenarios, 400),
        means=c.means[:: max(1, len(c.means) // 3)][:3],
        vols=c.vols[:: max(1, len(c.vols) // 3)][:3],
        rules_n=min(c.rules_n, 100),
        history_n=min(c.history_n, 100),
        breakeven_sleeves=c.breakeven_sleeves[:2],
        breakeven_corrs=tuple(dict.fromkeys(c.breakeven_corrs[:1] + c.breakeven_corrs[-1:])),
        vintage=dataclasses.replace(
            c.vintage,
            members=min(c.vintage.members, 200),
            market_paths=min(c.vintage.market_paths, 20),
        ),
    )
