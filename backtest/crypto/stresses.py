"""The stresses a fiduciary is asked about for a Bitcoin sleeve, as placed shocks.

Each builder returns a :class:`backtest.stress.PlacedShock` whose ``note`` states what the
shock does and where its numbers come from; :func:`backtest.stress.stress_table` runs
them. Every figure a reader sees is in arithmetic annual terms (expected simple return a
year, decimal); log parameters appear only as a secondary note. None depends on the
central assumption's numbers except through it: the drift stresses *move* the central
case's expected return, keeping its randomness (common random numbers).

* permanent impairment (-100 %: custody failure, fraud, a ban) at a random period per
  scenario (:func:`impairment_random`) or at a stated one (:func:`impairment_at`);
* a multi-year bear with negative expected return, a "crypto winter"
  (:func:`crypto_winter`), sized by the peak-to-trough falls of the embedded monthly
  closes (:func:`peak_to_trough`, :data:`WINTERS`);
* premium decay with adoption (:func:`premium_decay`): the expected return falls from the
  central case toward cash with a stated half-life;
* Bitcoin as leveraged equity (:func:`leveraged_equity`): from a stated period on, its
  shocks load on equities with the highest rolling correlation seen in the data
  (:func:`peak_correlation`);
* fees (:func:`etf_fee`): the sleeve held through a spot Bitcoin ETF (:data:`ETF_FEES`)
  instead of the plan's index fund;
* behaviour (:func:`panic_sale`): the member sells after a 50 % fall and stays out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.crypto.assumptions import BtcAssumption, CrnDraws
from backtest.data.embedded import asset_label
from backtest.errors import DataError
from backtest.stress import ColumnShock, Drag, DriftShift, Impairment, Panic, PlacedShock

#: Spot Bitcoin ETF expense ratios, decimal a year, with their published sources.
ETF_FEES: dict[str, tuple[float, str]] = {
    "IBIT": (
        0.0025,
        "iShares Bitcoin Trust ETF: Sponsor's Fee 0.25 % a year of net asset value "
        "(10-Q to 30 Sep 2024, note 1, sec.gov; BlackRock's fund page: 0.25 % after the "
        "12-month waiver from 11 Jan 2024)",
    ),
    "GBTC": (
        0.015,
        "Grayscale Bitcoin Trust ETF: expense ratio 1.50 % a year (fund pages of "
        "etfrc.com and ainvest.com, 2025)",
    ),
}

#: The crypto winters measured in the embedded monthly closes: (label, first month,
#: last month) of a window that holds the peak, the trough and no higher peak.
WINTERS: tuple[tuple[str, str, str], ...] = (
    ("2018", "2017-06", "2019-06"),
    ("2022", "2021-06", "2023-06"),
)


@dataclass(frozen=True)
class Episode:
    """A fall from a peak in a monthly price index (months ``YYYY-MM``, fall decimal)."""

    label: str
    peak: str
    trough: str
    fall: float
    months_down: int  # peak to trough
    months_under: int | None  # peak to the first month-end back at the peak, or None

    def describe(self) -> str:
        under = (
            f", back at the peak after {self.months_under} months"
            if self.months_under is not None
            else ", not yet back at the peak"
        )
        return (
            f"{self.label}: {self.fall:.0%} from {self.peak} to {self.trough} "
            f"({self.months_down} months){under}"
        )


def peak_to_trough(monthly: pd.Series, label: str, first: str, last: str) -> Episode:
    """The deepest fall from a running peak of the month-end index of ``monthly``
    (decimal simple returns by month end) inside ``first..last``."""
    r = monthly.dropna()
    if r.loc[first:last].empty:
        raise DataError(f"no monthly returns between {first} and {last} for the {label} winter")
    level = (1.0 + r).cumprod()
    w = level.loc[first:last]
    dd = w / w.cummax() - 1.0
    i = int(np.argmin(dd.to_numpy()))
    trough = pd.Timestamp(w.index[i])  # the index holds month-end dates
    peak = pd.Timestamp(w.index[int(np.argmax(w.to_numpy()[: i + 1]))])
    after = level.loc[peak:]
    back = after.index[1:][after.iloc[1:].to_numpy() >= level.loc[peak]]

    def months(a: pd.Timestamp, b: pd.Timestamp) -> int:
        return (b.year - a.year) * 12 + b.month - a.month

    return Episode(
        label=label,
        peak=f"{peak:%Y-%m}",
        trough=f"{trough:%Y-%m}",
        fall=float(dd.min()),
        months_down=months(peak, trough),
        months_under=months(peak, back[0]) if len(back) else None,
    )


def _pct(x: float) -> str:
    return f"{x * 100:+.1f} %"


def impairment_at(asset: str, period: int, where: str) -> PlacedShock:
    """The sleeve lost for good (-100 %) in ``period`` of every scenario (``where``
    names it, e.g. "at retirement")."""
    return PlacedShock(
        Impairment(asset, (0,), f"{asset_label(asset)} lost {where}"),
        period,
        note=(
            f"Permanent impairment {where}: {asset_label(asset)} returns -100 % in that year (custody "
            "failure, fraud or a ban) and the member holds none of it afterwards, its weight "
            "moved pro rata to the rest of the mix. A stated what-if, not a probability."
        ),
    )


def impairment_random(
    asset: str, n_scenarios: int, first: int, stop: int, rng: np.random.Generator, what: str
) -> PlacedShock:
    """The sleeve lost for good in a period drawn per scenario, uniform over
    ``first .. stop - 1`` (``what`` describes the window, e.g. "ages 25-94")."""
    if not 0 <= first < stop:
        raise DataError(f"impairment window {first}..{stop - 1} is empty; give first < stop")
    delays = rng.integers(0, stop - first, size=n_scenarios)
    return PlacedShock(
        Impairment(
            asset, tuple(int(d) for d in delays), f"{asset_label(asset)} lost at a random time"
        ),
        first,
        note=(
            f"Permanent impairment at a random time: in each scenario {asset_label(asset)} returns -100 % "
            f"in one period drawn uniformly over {what} and is not held afterwards. Every "
            "scenario is impaired once: the cost of a certain loss of unknown timing."
        ),
    )


def crypto_winter(
    asset: str,
    central: BtcAssumption,
    episodes: list[Episode],
    years: int,
    start_period: int,
    where: str,
) -> PlacedShock:
    """``years`` of negative expected return, losing the episodes' typical peak-to-trough
    fall in expectation.

    The fall is the geometric mean of the episodes' falls, ``D``; the winter's expected
    annual simple return is ``A_w = (1 + D) ** (1 / years) - 1`` (so the expected value of
    Bitcoin at the winter's end is ``1 + D`` times its value at the start), and each
    winter year's log return is shifted by ``log((1 + A_w) / (1 + A0))`` from the central
    case's expected return ``A0``: the log volatility and the draws are the central case's.
    """
    if not episodes or years < 1:
        raise DataError("a crypto winter needs at least one measured episode and years >= 1")
    fall = math.expm1(float(np.mean([math.log1p(e.fall) for e in episodes])))
    a_w = (1.0 + fall) ** (1.0 / years) - 1.0
    a0 = central.arithmetic_mean
    shift = math.log1p(a_w) - math.log1p(a0)
    label = f"{asset_label(asset)} {years}-year winter {where}"
    return PlacedShock(
        DriftShift(asset, (shift,) * years, label),
        start_period,
        note=(
            f"Crypto winter {where}: for {years} years Bitcoin's expected return is "
            f"{_pct(a_w)} a year instead of {_pct(a0)} (same log volatility and draws), so its "
            f"expected value falls {-fall:.0%} over the winter, the geometric mean of the "
            "falls in the embedded monthly closes ("
            + "; ".join(e.describe() for e in episodes)
            + "); the price does not recover the loss afterwards."
        ),
    )


def premium_decay(
    asset: str,
    central: BtcAssumption,
    target: float,
    target_name: str,
    half_life: float,
    n_years: int,
) -> PlacedShock:
    """Bitcoin's expected return decays from the central case toward ``target``.

    Year ``i`` (0 at the plan's start) has expected annual simple return
    ``A(i) = T + (A0 - T) * 0.5 ** (i / half_life)``; its log return is shifted by
    ``log((1 + A(i)) / (1 + A0))`` on the central case's draws (volatility unchanged).
    """
    if not half_life > 0 or n_years < 1:
        raise DataError(
            f"premium decay needs half_life > 0 years and n_years >= 1 (got {half_life})"
        )
    a0 = central.arithmetic_mean
    i = np.arange(n_years, dtype=np.float64)
    a = target + (a0 - target) * 0.5 ** (i / half_life)
    shifts = np.log1p(a) - math.log1p(a0)
    return PlacedShock(
        DriftShift(asset, tuple(float(x) for x in shifts), f"{asset_label(asset)} premium decays"),
        0,
        note=(
            f"Premium decay with adoption: Bitcoin's expected return falls from the central "
            f"{_pct(a0)} a year toward {target_name} ({_pct(target)} a year) with a "
            f"{half_life:g}-year half-life, A(t) = T + (A0 - T) 0.5^(t / {half_life:g}) "
            f"with t years from the plan's start: {_pct(float(a[min(10, n_years - 1)]))} "
            f"in year {min(10, n_years - 1)}, {_pct(float(a[-1]))} in the last year; "
            "log volatility and draws are the central case's."
        ),
    )


def peak_correlation(
    history: pd.DataFrame, asset: str, equity: str, months: int
) -> tuple[float, str, str]:
    """The highest correlation of monthly log returns of ``asset`` and ``equity`` over any
    ``months``-month window of ``history`` (months where both have returns), with the
    window's first and last month."""
    both = history[[asset, equity]].dropna()
    if len(both) < months:
        raise DataError(f"{len(both)} months of {asset} and {equity} returns; need {months}")
    x = pd.DataFrame(np.log1p(both.to_numpy()), index=both.index, columns=[asset, equity])
    rolling = x[asset].rolling(months).corr(x[equity])
    j = int(np.nanargmax(rolling.to_numpy()))
    start, end = pd.Timestamp(x.index[j - months + 1]), pd.Timestamp(x.index[j])
    return float(rolling.iloc[j]), f"{start:%Y-%m}", f"{end:%Y-%m}"


def leveraged_equity(
    draws: CrnDraws,
    central: BtcAssumption,
    rho: float,
    source: str,
    start_period: int,
    where: str,
) -> PlacedShock:
    """From ``start_period`` on, Bitcoin behaves like leveraged equity.

    Its log return is ``mu + beta * (x_eq - m_eq) + sigma * sqrt(1 - rho**2) * e`` per
    year, with ``beta = rho * sigma / sigma_eq`` (``x_eq - m_eq``: the equity log return
    less its pooled mean; ``sigma_eq``: its pooled annual log volatility in the base
    scenarios; ``e``: the central case's own draws): the central case's expected return
    and volatility, with correlation ``rho`` with equities. Drawn on the same common random
    numbers (:meth:`CrnDraws.crypto_returns`).
    """
    ppy = draws.base.periods_per_year
    (j,) = draws.base.asset_index([draws.equity_asset])
    sigma_eq = float(np.log1p(draws.base.returns[:, :, j]).std()) * math.sqrt(ppy)
    beta = rho * central.vol_log / sigma_eq
    regime = BtcAssumption(central.mean_log, central.vol_log, rho, central.shocks)
    label = f"{asset_label(draws.crypto_asset)} as {beta:.1f}x equity {where}"
    equity = asset_label(draws.equity_asset)
    return PlacedShock(
        ColumnShock(draws.crypto_asset, draws.crypto_returns(regime), label),
        start_period,
        note=(
            f"Bitcoin as leveraged equity {where}: correlation {rho:.2f} with {equity} "
            f"({source}); its expected return ({_pct(central.arithmetic_mean)} a year) and "
            f"volatility ({central.arithmetic_vol:.0%} a year) are the central case's, only "
            "the co-movement changes. In log terms it loads on the deviation of "
            f"{equity}' return from its mean with beta = rho x sigma / sigma_eq = {rho:.2f} x "
            f"{central.vol_log:.0%} / {sigma_eq:.1%} = {beta:.2f}."
        ),
    )


def etf_fee(asset: str, fund: str, plan_expense_ratio: float) -> PlacedShock:
    """The sleeve held through spot ETF ``fund`` (:data:`ETF_FEES`): its expense ratio
    less the plan's (which every holding, the sleeve included, already pays) as a yearly
    drag on ``asset`` alone, from the plan's start."""
    if fund not in ETF_FEES:
        raise DataError(f"no expense ratio for {fund!r}; known funds: {sorted(ETF_FEES)}")
    fee, source = ETF_FEES[fund]
    extra = max(0.0, fee - plan_expense_ratio)
    return PlacedShock(
        Drag(asset, extra, f"{asset_label(asset)} through {fund} ({fee:.2%} a year)"),
        0,
        note=(
            f"Fees: the sleeve held through {fund} at {fee:.2%} a year ({source}) instead of "
            f"the plan's index funds at {plan_expense_ratio:.2%} (the plan's expense ratio, "
            f"charged on the whole balance): an extra {extra:.2%} a year on the sleeve alone."
        ),
    )


def drawdown_crossings(monthly: pd.Series, drawdown: float) -> list[str]:
    """Months (``YYYY-MM``) in which the month-end index of ``monthly`` (decimal simple
    returns) first fell ``drawdown`` below its running peak, once per peak."""
    level = (1.0 + monthly.dropna()).cumprod()
    peak = level.cummax()
    episode = (level >= peak).cumsum()  # a new running peak starts an episode
    hit = level <= (1.0 - drawdown) * peak
    first = hit[hit].groupby(episode[hit]).head(1)
    return [f"{d:%Y-%m}" for d in first.index]


def panic_sale(asset: str, drawdown: float, crossings: list[str]) -> PlacedShock:
    """The member sells the sleeve after Bitcoin falls ``drawdown`` from its running peak
    (on the path so far, from the plan's start) and never buys back; ``crossings``: the
    months the history crossed that fall (:func:`drawdown_crossings`), for the note."""
    return PlacedShock(
        Panic(asset, drawdown, f"sells {asset_label(asset)} after a {drawdown:.0%} fall"),
        0,
        note=(
            f"Behaviour: the member sells the sleeve once Bitcoin has fallen {drawdown:.0%} "
            "from its running peak (prices at the end of each period seen so far, no look-ahead) "
            "and stays "
            "out; its weight goes pro rata to the rest of the mix. Bitcoin's month-end close "
            f"first fell {drawdown:.0%} below a peak in {', '.join(crossings) or 'no month'} "
            "(embedded monthly data)."
        ),
    )
