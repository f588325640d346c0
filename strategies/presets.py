"""Ready-made strategies, each citing its source and stating its knots.

Every preset is a factory taking the asset names as keywords, so the same preset runs on
any scenario set that has those names::

    preset("vanguard_target_retirement")                       # us_stocks / tbonds_10y
    preset("fixed_60_40", equity="world", bonds="tbonds_10y")  # other names
    preset("btc_sleeve_2_5", base=preset("vanguard_target_retirement"))

Keywords every factory accepts: ``equity`` (default ``"us_stocks"``), ``bonds``
(``"tbonds_10y"``, available annual and monthly), ``cash`` (``"tbills"``), ``bitcoin``
(``"btc"``) and ``rebalance`` (a :class:`strategies.base.RebalanceRule`; default annual
calendar for static presets, every period for adaptive ones). Crypto-sleeve presets also
accept ``base`` (a strategy; default ``fixed_60_40``), ``funded_from``, ``band``,
``cap``, ``before_data`` and ``equity_assets`` / ``bond_assets`` (the base's assets a
sleeve funded from equity / bonds is taken from; default ``(equity,)`` and
``(bonds, cash)``).

Published glide paths are described in prose and charts, not as knot tables; where a
preset's exact knots are not published, its docstring says so and states the knots used.
Knots are in years to retirement (25 = 25 years before retirement, -7 = seven years
after); weights are linear between knots and constant beyond the end knots.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strategies.base import RebalanceRule, Strategy
from strategies.crypto import CryptoSleeve
from strategies.errors import StrategyError
from strategies.smoothing import IncomeSmoothing, Smoothed
from strategies.target_date import AgeBasedMix, GlidePath
from strategies.target_risk import FixedMix, RiskParity, VolatilityTarget

EQUITY = "us_stocks"
BONDS = "tbonds_10y"
CASH = "tbills"
BITCOIN = "btc"

#: Sleeve sizes studied in the default study, decimal.
SLEEVE_SIZES: tuple[float, ...] = (0.0, 0.01, 0.025, 0.05)
#: Volatility targets of the target-risk presets, decimal a year.
VOL_TARGETS: tuple[float, ...] = (0.03, 0.06, 0.10)
#: Equity shares of the LifeStrategy-style fixed mixes, decimal.
FIXED_EQUITY_SHARES: tuple[float, ...] = (0.20, 0.40, 0.60, 0.80)

_STATIC = RebalanceRule()  # annual calendar
_EVERY_PERIOD = RebalanceRule(kind="calendar", every_months=1)


def _two_asset_path(
    name: str,
    knots: tuple[float, ...],
    equity_shares: tuple[float, ...],
    equity: str,
    bonds: str,
    rebalance: RebalanceRule | None,
    monotone: bool,
    source: str,
) -> GlidePath:
    return GlidePath(
        name=name,
        assets=(equity, bonds),
        knots_years_to_retirement=knots,
        weights=tuple((e, 1.0 - e) for e in equity_shares),
        rebalance=rebalance or _STATIC,
        monotone_equity=monotone,
        equity_asset=equity,
        source=source,
    )


# ------------------------------------------------------------------------------ glide paths

#: Vanguard-style knots: (years to retirement, equity share).
VANGUARD_KNOTS: tuple[tuple[float, float], ...] = ((25.0, 0.90), (0.0, 0.50), (-7.0, 0.30))


def vanguard_target_retirement(
    *,
    equity: str = EQUITY,
    bonds: str = BONDS,
    cash: str = CASH,
    bitcoin: str = BITCOIN,
    rebalance: RebalanceRule | None = None,
) -> Strategy:
    """Vanguard-style Target Retirement glide path: 90% equity to 25y before, 50% at retirement.

    Source: Vanguard, "Vanguard's approach to target-date funds" and the Target
    Retirement Funds prospectus glide-path chart: about 90 % equity until 25 years before
    retirement, declining to about 50 % at retirement and to about 30 % seven years after
    (the Target Retirement Income allocation), constant thereafter. Vanguard does not
    publish a knot table and splits its fixed income between nominal bonds and
    short-term TIPS; here all fixed income is ``bonds``. Knots used (years to retirement:
    equity): 25: 0.90, 0: 0.50, -7: 0.30; linear in between.
    """
    k, e = zip(*VANGUARD_KNOTS, strict=True)
    return _two_asset_path(
        "Vanguard-style target retirement",
        k,
        e,
        equity,
        bonds,
        rebalance,
        True,
        "Vanguard Target Retirement glide path (approximate knots: 25y 90%, 0y 50%, -7y 30%)",
    )


#: Fidelity-style knots: (years to retirement, equity, bonds, short-term).
FIDELITY_KNOTS: tuple[tuple[float, float, float, float], ...] = (
    (20.0, 0.90, 0.10, 0.00),
    (0.0, 0.57, 0.38, 0.05),
    (-15.0, 0.24, 0.46, 0.30),
)


def fidelity_freedom(
    *,
    equity: str = EQUITY,
    bonds: str = BONDS,
    cash: str = CASH,
    bitcoin: str = BITCOIN,
    rebalance: RebalanceRule | None = None,
) -> Strategy:
    """Fidelity Freedom-style glide path: 90% equity to 20y before, ends 24/46/30 at +15y.

    Source: Fidelity, "How Fidelity Manages Fidelity Freedom Funds" (fidelity.com): the
    funds reach their most conservative allocation 10-19 years after the target date,
    approximately 24 % equity, 46 % bond and 30 % short-term funds. The earlier part of
    the path is shown only as a chart; the knots before retirement are approximate and
    **not** published figures. Knots used (years to retirement: equity/bonds/cash):
    20: 0.90/0.10/0.00, 0: 0.57/0.38/0.05, -15 (midpoint of 10-19): 0.24/0.46/0.30.
    """
    k = tuple(row[0] for row in FIDELITY_KNOTS)
    return GlidePath(
        name="Fidelity Freedom-style",
        assets=(equity, bonds, cash),
        knots_years_to_retirement=k,
        weights=tuple(row[1:] for row in FIDELITY_KNOTS),
        rebalance=rebalance or _STATIC,
        monotone_equity=True,
        equity_asset=equity,
        source="Fidelity Freedom glide path (end point published; earlier knots approximate)",
    )


#: T. Rowe Price Retirement-style knots: (years to target date, equity share).
T_ROWE_PRICE_KNOTS: tuple[tuple[float, float], ...] = ((25.0, 0.98), (0.0, 0.55), (-30.0, 0.30))


def t_rowe_price_retirement(
    *,
    equity: str = EQUITY,
    bonds: str = BONDS,
    cash: str = CASH,
    bitcoin: str = BITCOIN,
    rebalance: RebalanceRule | None = None,
) -> Strategy:
    """T. Rowe Price Retirement-style "through" glide path: 98% equity, 55% at target, 30% at +30y.

    Sources, knot by knot (years to the target date: equity):
    0: 0.55, published: "55% equity at the expected retirement date" (T. Rowe Price,
    "Target Date Glide Path Design", troweprice.com, 2021 Q3);
    -30: 0.30, published: "minimum equity exposure of approximately 30% reached 30 years
    after expected retirement date", the landing point (T. Rowe Price Retirement Funds
    glide-path page, troweprice.com);
    25: 0.98, **approximate**: the 98 % equity of the longest-dated funds since the
    2020-2022 glide-path enhancement, with the decline taken to start 25 years before
    the target date as read from the published chart, not a published figure.
    Linear between knots (the published path is a smooth curve); all fixed income is
    ``bonds`` (T. Rowe Price also holds TIPS, short-term and high-yield bonds).
    """
    k, e = zip(*T_ROWE_PRICE_KNOTS, strict=True)
    return _two_asset_path(
        "T. Rowe Price Retirement-style",
        k,
        e,
        equity,
        bonds,
        rebalance,
        True,
        "T. Rowe Price Retirement glide path (55% at target and 30% at +30y published; "
        "98% start and its age approximate)",
    )


#: BlackRock LifePath Index-style knots: (years to target date, equity share).
BLACKROCK_KNOTS: tuple[tuple[float, float], ...] = ((30.0, 1.00), (0.0, 0.40))


def blackrock_lifepath_index(
    *,
    equity: str = EQUITY,
    bonds: str = BONDS,
    cash: str = CASH,
    bitcoin: str = BITCOIN,
    rebalance: RebalanceRule | None = None,
) -> Strategy:
    """BlackRock LifePath Index-style "to" glide path: 100% equity to 30y before, 40% from target.

    Source: the LifePath Index glide path as announced by BlackRock in June 2014 (reported
    by Pensions & Investments, "BlackRock raises equity allocation in target-date funds",
    2014-06-26): equity held at 100 % until about 30 years before retirement, then
    declining to 40 % at the landing point, the target date ("to" retirement: the
    allocation is static afterwards, the LifePath Index Retirement Fund). Knots (years to
    target: equity): 30: 1.00 and 0: 0.40 are those figures; the straight line between
    them is an **approximation** of the published curve, and all fixed income is
    ``bonds`` (the funds also hold TIPS and REITs).
    """
    k, e = zip(*BLACKROCK_KNOTS, strict=True)
    return _two_asset_path(
        "BlackRock LifePath Index-style",
        k,
        e,
        equity,
        bonds,
        rebalance,
        True,
        "BlackRock LifePath Index glide path (100% to 30y, 40% at and after target; "
        "linear between, approximate)",
    )


def hundred_minus_age(
    *,
    equity: str = EQUITY,
    bonds: str = BONDS,
    cash: str = CASH,
    bitcoin: str = BITCOIN,
    rebalance: RebalanceRule | None = None,
) -> Strategy:
    """ "100 minus age" rule of thumb: equity share (100 - age)%, rest bonds.

    Source: the popular rule of thumb (e.g. as discussed by Malkiel, "A Random Walk Down
    Wall Street"). Exact by construction: 75 % equity at 25, 55 % at 45, 35 % at 65,
    15 % at 85; linear in age, bounded to [0, 1].
    """
    return AgeBasedMix("100 minus age", equity, bonds, 100.0, rebalance=rebalance or _STATIC)


def hundred_ten_minus_age(
    *,
    equity: str = EQUITY,
    bonds: str = BONDS,
    cash: str = CASH,
    bitcoin: str = BITCOIN,
    rebalance: RebalanceRule | None = None,
) -> Strategy:
    """ "110 minus age" rule of thumb: equity share (110 - age)%, rest bonds.

    Source: the updated rule of thumb for longer lives. Exact by construction: 85 %
    equity at 25, 65 % at 45, 45 % at 65, 25 % at 85; linear in age, bounded to [0, 1].
    """
    return AgeBasedMix("110 minus age", equity, bonds, 110.0, rebalance=rebalance or _STATIC)


#: Rising-equity (bond tent) knots: (years to retirement, equity share).
BOND_TENT_KNOTS: tuple[tuple[float, float], ...] = (
    (25.0, 0.90),
    (10.0, 0.60),
    (0.0, 0.30),
    (-30.0, 0.60),
)


def rising_equity_bond_tent(
    *,
    equity: str = EQUITY,
    bonds: str = BONDS,
    cash: str = CASH,
    bitcoin: str = BITCOIN,
    rebalance: RebalanceRule | None = None,
) -> Strategy:
    """Bond tent: equity falls to 30% at retirement, then rises to 60% over 30 years.

    Source: Pfau, W. and Kitces, M. (2014), "Reducing Retirement Risk with a Rising
    Equity Glide Path", Journal of Financial Planning 27(1): equity lowest at retirement
    and rising afterwards (their best paths start around 20-40 % equity and rise by
    1-2 points a year). The pre-retirement leg is this library's assumption (a bond tent
    built up over the last 25 years). Knots used (years to retirement: equity): 25: 0.90,
    10: 0.60, 0: 0.30, -30: 0.60; constant beyond.
    """
    k, e = zip(*BOND_TENT_KNOTS, strict=True)
    return _two_asset_path(
        "Rising equity (bond tent)",
        k,
        e,
        equity,
        bonds,
        rebalance,
        False,
        "Pfau & Kitces (2014) rising equity glide path; knots 25y 90%, 10y 60%, 0y 30%, -30y 60%",
    )


# ------------------------------------------------------------------------------ fixed mixes


def _fixed(equity_share: float) -> Callable[..., Strategy]:
    e_pct = round(equity_share * 100)

    def factory(
        *,
        equity: str = EQUITY,
        bonds: str = BONDS,
        cash: str = CASH,
        bitcoin: str = BITCOIN,
        rebalance: RebalanceRule | None = None,
    ) -> Strategy:
        return FixedMix(
            f"Fixed {e_pct}/{100 - e_pct}",
            (equity, bonds),
            (equity_share, 1.0 - equity_share),
            rebalance=rebalance or _STATIC,
        )

    lifestrategy = " (Vanguard LifeStrategy-style)" if e_pct in (20, 40, 60, 80) else ""
    factory.__doc__ = (
        f"Constant {e_pct}% equity / {100 - e_pct}% bonds{lifestrategy}, rebalanced annually.\n\n"
        "Source: Vanguard LifeStrategy funds hold fixed 20/80, 40/60, 60/40 and 80/20 "
        "equity/bond mixes; the comparison mixes here use one equity and one bond asset."
    )
    factory.__name__ = f"fixed_{e_pct}_{100 - e_pct}"
    return factory


# ------------------------------------------------------------------------------ adaptive


def _vol_target(target: float) -> Callable[..., Strategy]:
    pct = round(target * 100)

    def factory(
        *,
        equity: str = EQUITY,
        bonds: str = BONDS,
        cash: str = CASH,
        bitcoin: str = BITCOIN,
        rebalance: RebalanceRule | None = None,
    ) -> Strategy:
        return VolatilityTarget(
            f"Vol target {pct}%",
            risky_asset=equity,
            safe_asset=cash,
            target_vol_annual=target,
            estimator="ewma",
            halflife_years=1.0,
            rebalance=rebalance or _EVERY_PERIOD,
        )

    factory.__doc__ = (
        f"Volatility target {pct}%/yr: equity scaled by {target:.2f} / EWMA vol, rest T-bills.\n\n"
        "Source: target-risk funds and volatility-managed portfolios (Moreira and Muir "
        "2017, 'Volatility-Managed Portfolios', Journal of Finance). EWMA half-life 1 year, "
        "past returns only, risky share in [0, 1], warm-up share target / 0.19 (0.19 = "
        "the long-run annual S&P 500 volatility), rebalanced every period."
    )
    factory.__name__ = f"vol_target_{pct}"
    return factory


#: Years of past returns the risk-parity preset waits for before leaving equal weights.
RISK_PARITY_WARMUP_YEARS = 2.0


def risk_parity(
    *,
    equity: str = EQUITY,
    bonds: str = BONDS,
    cash: str = CASH,
    bitcoin: str = BITCOIN,
    rebalance: RebalanceRule | None = None,
) -> Strategy:
    """Risk parity (inverse volatility) across equity and bonds, unlevered.

    Source: Qian (2005), "Risk Parity Portfolios"; Maillard, Roncalli and Teiletche
    (2010). Inverse EWMA volatility (half-life 1 year) from past returns only; equal
    weights until two years of history exist (2 periods on annual data, 24 on monthly:
    the warm-up is calendar time, so the preset means the same at either frequency, and
    two years is the least annual data can estimate a volatility from); rebalanced every
    period.
    """
    return RiskParity(
        "Risk parity (equity/bonds)",
        (equity, bonds),
        halflife_years=1.0,
        min_history_years=RISK_PARITY_WARMUP_YEARS,
        rebalance=rebalance or _EVERY_PERIOD,
    )


# ------------------------------------------------------------------------------ crypto


def _sleeve(size: float) -> Callable[..., Strategy]:
    label = f"{size * 100:g}".replace(".", "_")

    def factory(
        *,
        equity: str = EQUITY,
        bonds: str = BONDS,
        cash: str = CASH,
        bitcoin: str = BITCOIN,
        rebalance: RebalanceRule | None = None,
        base: Strategy | None = None,
        funded_from: str = "pro_rata",
        band: Any = "default",
        cap: float | None = 0.10,
        before_data: str = "exclude",
        equity_assets: tuple[str, ...] | None = None,
        bond_assets: tuple[str, ...] | None = None,
    ) -> Strategy:
        b = base if base is not None else _fixed(0.60)(equity=equity, bonds=bonds)
        return CryptoSleeve(
            b,
            size,
            crypto_asset=bitcoin,
            funded_from=funded_from,  # type: ignore[arg-type]
            equity_assets=(equity,) if equity_assets is None else tuple(equity_assets),
            bond_assets=(bonds, cash) if bond_assets is None else tuple(bond_assets),
            band=band,
            cap=cap,
            before_data=before_data,  # type: ignore[arg-type]
            cash_asset=cash,
            rebalance=rebalance if rebalance is not None else b.rebalance,
        )

    factory.__doc__ = (
        f"{size:.1%} Bitcoin sleeve on a base (default fixed 60/40), funded pro rata.\n\n"
        "Sleeve sizes 0, 1, 2.5 and 5 % as in the default study. The sleeve is traded back "
        "to target when it drifts above 1.5x or below 0.5x its target, capped at 10 %. "
        "before_data='exclude': run on periods with Bitcoin data only (2011 on, annual; "
        "2010-08 on, monthly), or pass before_data='cash'/'proxy'."
    )
    factory.__name__ = f"btc_sleeve_{label}"
    return factory


# ------------------------------------------------------------------------------ smoothing

#: Parameters of the smoothed preset: reserve share of excess, real benchmark a year,
#: share of shortfalls paid back.
SMOOTHING_60_40 = IncomeSmoothing(share_above=0.5, benchmark_annual=0.03, payback_share=1.0)


def smoothed_60_40(
    *,
    equity: str = EQUITY,
    bonds: str = BONDS,
    cash: str = CASH,
    bitcoin: str = BITCOIN,
    rebalance: RebalanceRule | None = None,
    smoothing: IncomeSmoothing | None = None,
) -> Strategy:
    """Fixed 60/40 with income smoothing: a reserve banks half of real returns above 3%/yr.

    Source: smoothed pension wealth products (UK with-profits funds, smoothed default
    funds, collective DC schemes) credit members a return steadier than the fund's. The
    rule here is this library's stylised version, not any one product's: the reserve
    takes 50 % of the real return above a 3 %/yr real benchmark and pays back up to
    100 % of shortfalls below it while it holds money (no floor, no cap). Pass
    ``smoothing=IncomeSmoothing(...)`` for other parameters.
    """
    base = _fixed(0.60)(equity=equity, bonds=bonds, rebalance=rebalance)
    return Smoothed(base, smoothing or SMOOTHING_60_40, name="Fixed 60/40 (smoothed)")


# ------------------------------------------------------------------------------ registry

PRESETS: dict[str, Callable[..., Strategy]] = {
    "vanguard_target_retirement": vanguard_target_retirement,
    "fidelity_freedom": fidelity_freedom,
    "t_rowe_price_retirement": t_rowe_price_retirement,
    "blackrock_lifepath_index": blackrock_lifepath_index,
    "100_minus_age": hundred_minus_age,
    "110_minus_age": hundred_ten_minus_age,
    "rising_equity_bond_tent": rising_equity_bond_tent,
    **{f"fixed_{round(e * 100)}_{100 - round(e * 100)}": _fixed(e) for e in FIXED_EQUITY_SHARES},
    "fixed_100_0": _fixed(1.0),
    **{f"vol_target_{round(v * 100)}": _vol_target(v) for v in VOL_TARGETS},
    "risk_parity": risk_parity,
    "smoothed_60_40": smoothed_60_40,
    **{f"btc_sleeve_{s * 100:g}".replace(".", "_"): _sleeve(s) for s in SLEEVE_SIZES},
}


def preset(name: str, **options: Any) -> Strategy:
    """Build the preset ``name``; ``options`` are the factory's keywords (asset names...).

    Raises
    ------
    StrategyError
        For an unknown name (the message lists the valid ones), an unknown keyword or a
        bad option value (a ``GlidelabError`` and a ``ValueError``).
    """
    try:
        factory = PRESETS[name]
    except KeyError:
        raise StrategyError(
            f"unknown strategy preset {name!r}; valid presets: {', '.join(PRESETS)}"
        ) from None
    try:
        return factory(**options)
    except TypeError as exc:
        raise StrategyError(f"preset {name!r}: {exc}") from None


def describe_preset(name: str) -> str:
    """The first line of the preset's docstring."""
    if name not in PRESETS:
        preset(name)  # raises with the list of valid names
    doc = (PRESETS[name].__doc__ or "").strip()
    return doc.splitlines()[0] if doc else name


def list_presets() -> list[tuple[str, str]]:
    """``(name, one-line description)`` for every preset, in registry order."""
    return [(name, describe_preset(name)) for name in PRESETS]
