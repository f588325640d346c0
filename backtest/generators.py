"""Return-scenario generators: historical cohorts, block bootstrap, parametric.

Every generator takes decimal simple **nominal** returns per period (a DataFrame indexed
by period-end dates, one column per asset plus an inflation column, as
``backtest.data.load_history`` returns) and produces a :class:`~backtest.scenarios.Scenarios`
whose ``description`` and ``meta`` say exactly how it was made (generator, data span,
block length, seed entropy, rows dropped or filled).

Randomness is an argument (``rng: np.random.Generator | int | None``); the seed entropy
actually used is recorded in ``meta["seed_entropy"]`` so that a run with ``rng=None``
can be repeated.

Memory: a scenario set holds ``8 * n_scenarios * n_periods * (n_assets + 1)`` bytes
(:func:`estimate_bytes`). Sets too large to hold at once are generated in chunks with
:func:`iter_chunks`, each chunk drawn from its own child of one
``numpy.random.SeedSequence`` (independent, reproducible streams), and simulated with
``backtest.simulate.simulate_chunked``.

:func:`panel_block_bootstrap` draws blocks across a panel of countries (e.g. JST, via
``backtest.data.jst.load_jst_panel``), each block from one country's consecutive
complete years, in real local-currency returns with inflation 0; a block never crosses a
gap. :func:`historical_cohorts` never runs a cohort across a period missing from the
index either.

Assets whose data start late (Bitcoin from 2010/2011) follow a named missing-data rule
(``missing=``): ``"exclude"`` keeps only periods/cohorts where every asset has data;
``"cash"`` lets the late asset earn the cash asset's return before its data start (the
filled span is recorded in ``meta["filled_with_cash"]``); ``"proxy"`` draws the missing
returns from a user-stated lognormal :class:`Proxy`. The same three words are used by
``strategies.CryptoSleeve.before_data``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from backtest.errors import CoverageError, DataError
from backtest.scenarios import Scenarios
from backtest.types import FloatArray, Frequency, infer_frequency, periods_per_year

MissingRule = Literal["exclude", "cash", "proxy"]
BootstrapMethod = Literal["stationary", "circular"]
Distribution = Literal["normal", "student_t"]

RngLike = np.random.Generator | int | None


@dataclass(frozen=True)
class Proxy:
    """A stated stand-in for an asset's returns before its data start (``missing="proxy"``).

    Returns are drawn i.i.d. lognormal, independent of every other asset:
    ``log(1 + r) ~ Normal(mean_log_annual / ppy, vol_log_annual**2 / ppy)`` per period.

    Attributes
    ----------
    mean_log_annual
        Mean of the annual log return (nominal), e.g. 0.20.
    vol_log_annual
        Standard deviation of the annual log return, e.g. 0.70 for Bitcoin-like volatility.
    """

    mean_log_annual: float
    vol_log_annual: float

    def __post_init__(self) -> None:
        if not np.isfinite(self.mean_log_annual):
            raise DataError(f"Proxy.mean_log_annual={self.mean_log_annual!r} must be finite")
        if not (np.isfinite(self.vol_log_annual) and self.vol_log_annual >= 0):
            raise DataError(f"Proxy.vol_log_annual={self.vol_log_annual!r} must be >= 0")


# --------------------------------------------------------------------------- helpers


def as_generator(rng: RngLike) -> tuple[np.random.Generator, int | None]:
    """A Generator from ``rng`` and, when we created it, the seed entropy used."""
    if isinstance(rng, np.random.Generator):
        return rng, None
    if rng is not None and not isinstance(rng, int | np.integer):
        raise DataError(f"rng={rng!r} must be a numpy Generator, an int seed or None")
    ss = np.random.SeedSequence(None if rng is None else int(rng))
    entropy = ss.entropy
    return np.random.default_rng(ss), int(entropy) if isinstance(entropy, int) else None


def _period_label(ts: object, frequency: str) -> str:
    t = pd.Timestamp(ts)  # type: ignore[arg-type]
    return f"{t.year}" if frequency == "annual" else f"{t.year}-{t.month:02d}"


def _columns(
    history: pd.DataFrame,
    assets: Sequence[str],
    inflation_column: str,
    extra: Sequence[str] = (),
    allow_missing_inflation: bool = False,
) -> pd.DataFrame:
    if not isinstance(history, pd.DataFrame):
        raise DataError(f"history must be a pandas DataFrame, got {type(history).__name__}")
    assets = list(assets)
    if not assets:
        raise DataError("assets is empty; name at least one column of the history")
    if len(set(assets)) != len(assets):
        raise DataError(f"assets {assets} name a column twice")
    if inflation_column in assets:
        raise DataError(f"inflation column {inflation_column!r} cannot also be an asset")
    wanted = [*assets, inflation_column, *[e for e in extra if e not in assets]]
    missing = [c for c in wanted if c not in history.columns]
    if missing:
        raise DataError(f"history has no column(s) {missing}; available: {list(history.columns)}")
    frame = history[wanted].astype(np.float64)
    if not allow_missing_inflation and frame[inflation_column].isna().any():
        first = frame.index[frame[inflation_column].isna().to_numpy()][0]
        raise DataError(
            f"inflation column {inflation_column!r} has no value at {first}; restrict the "
            "history to periods with inflation data"
        )
    return frame


def _check_missing_args(
    missing: str, frame: pd.DataFrame, assets: Sequence[str], cash_asset: str | None, proxy
) -> None:
    if missing not in ("exclude", "cash", "proxy"):
        raise DataError(f"missing={missing!r}; use 'exclude', 'cash' or 'proxy'")
    gaps = [a for a in assets if frame[a].isna().any()]
    if missing == "cash" and gaps:
        if cash_asset is None or cash_asset not in frame.columns:
            raise DataError(
                f"missing='cash' needs cash_asset= naming a column of the history (e.g. "
                f"'tbills') to stand in for {gaps}; got {cash_asset!r}"
            )
        if frame[cash_asset].isna().any():
            raise DataError(f"cash asset {cash_asset!r} itself has missing values")
    if missing == "proxy" and gaps:
        proxies = proxy or {}
        lacking = [a for a in gaps if a not in proxies]
        if lacking:
            raise DataError(
                f"missing='proxy' needs proxy={{asset: Proxy(mean_log_annual, vol_log_annual)}} "
                f"for {lacking}"
            )


def fill_with_cash(
    frame: pd.DataFrame, assets: Sequence[str], cash_asset: str
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Fill each asset's gaps with the cash asset's return; report what was filled."""
    out = frame.copy()
    filled: dict[str, object] = {}
    freq = infer_frequency(frame.index)
    for a in assets:
        gap = out[a].isna().to_numpy()
        if gap.any():
            idx = out.index[gap]
            filled[a] = {
                "from": _period_label(idx[0], freq),
                "to": _period_label(idx[-1], freq),
                "periods": int(gap.sum()),
                "with": cash_asset,
            }
            out.loc[gap, a] = out.loc[gap, cash_asset]
    return out, filled


def _fill_proxy(
    returns: FloatArray,
    assets: Sequence[str],
    proxy: Mapping[str, Proxy],
    ppy: int,
    rng: np.random.Generator,
) -> dict[str, object]:
    """Replace NaN returns of (n, T, A) in place with independent lognormal proxy draws."""
    used: dict[str, object] = {}
    for j, a in enumerate(assets):
        gap = np.isnan(returns[:, :, j])
        if gap.any():
            p = proxy[a]
            z = rng.standard_normal(int(gap.sum()))
            returns[:, :, j][gap] = np.expm1(
                p.mean_log_annual / ppy + p.vol_log_annual / np.sqrt(ppy) * z
            )
            used[a] = {
                "mean_log_annual": p.mean_log_annual,
                "vol_log_annual": p.vol_log_annual,
                "cells": int(gap.sum()),
            }
    return used


def _check_count(name: str, value: object) -> None:
    """Refuse a count (scenarios, periods, chunk size) that is not a positive integer."""
    if not (isinstance(value, int | np.integer) and value >= 1):
        raise DataError(f"{name}={value!r} must be a positive integer")


def _span(frame: pd.DataFrame, freq: str) -> str:
    """First..last period of ``frame``'s index, e.g. ``"1928..2024"``."""
    return f"{_period_label(frame.index[0], freq)}..{_period_label(frame.index[-1], freq)}"


def estimate_bytes(n_scenarios: int, n_periods: int, n_assets: int) -> int:
    """Bytes a :class:`Scenarios` of this size holds (float64 returns plus inflation)."""
    return int(8 * n_scenarios * n_periods * (n_assets + 1))


# --------------------------------------------------------------------------- cohorts


def _rolling_windows(
    frame: pd.DataFrame, n_assets: int, n_periods: int, wrap: bool, freq: str
) -> tuple[FloatArray, FloatArray, range]:
    """Every ``n_periods``-row window of ``frame``: returns, inflation and start rows.

    ``frame`` holds the assets then inflation as columns. Returns are (n_starts, n_periods,
    n_assets), inflation (n_starts, n_periods); with ``wrap`` windows continue from the
    first row (circular history), else those running past the last row are left out.
    """
    n_rows = len(frame)
    if not wrap and n_rows < n_periods:
        raise CoverageError(
            f"the history has {n_rows} {freq} periods ({_span(frame, freq)}), fewer than "
            f"the {n_periods} a cohort needs; shorten the horizon or use wrap=True or a "
            "bootstrap"
        )
    n_starts = n_rows if wrap else n_rows - n_periods + 1
    idx = (np.arange(n_starts)[:, None] + np.arange(n_periods)[None, :]) % n_rows
    windows = frame.to_numpy()[idx]  # (n_starts, n_periods, assets + inflation)
    returns = np.ascontiguousarray(windows[:, :, :n_assets])
    inflation = np.ascontiguousarray(windows[:, :, n_assets])
    return returns, inflation, range(n_starts)


def period_numbers(index: pd.Index, frequency: str) -> np.ndarray:
    """Consecutive integers for consecutive periods: the year (annual) or ``12 * year +
    month`` (monthly) of each period-end date, so a step other than 1 is a gap."""
    t = pd.DatetimeIndex(index)
    years = np.asarray(t.year, dtype=np.int64)
    if frequency == "annual":
        return years
    return 12 * years + np.asarray(t.month, dtype=np.int64) - 1


def _windows_across_gaps(
    frame: pd.DataFrame, n_starts: int, n_periods: int, wrap: bool, freq: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per window start: does it run across a calendar gap (a period missing from the
    index), and does it run past the last row onto the first (the wrap seam, only with
    ``wrap``)? A gap always ends a cohort; the seam is crossed only when asked."""
    n_rows = len(frame)
    pn = period_numbers(frame.index, freq)
    step_is_gap = np.append(np.diff(pn) != 1, False)  # the last entry is the seam
    steps = (np.arange(n_starts)[:, None] + np.arange(n_periods - 1)[None, :]) % n_rows
    crosses_seam = (np.arange(n_starts) + n_periods - 1) >= n_rows
    return step_is_gap[steps].any(axis=1), crosses_seam


def _cohorts_kept(
    frame: pd.DataFrame,
    returns: FloatArray,
    inflation: FloatArray,
    n_periods: int,
    wrap: bool,
    freq: str,
    missing: str,
) -> tuple[np.ndarray, dict[str, int]]:
    """Which rolling windows are cohorts: none across a calendar gap, and under
    ``"exclude"`` none with a missing return or inflation figure; with the counts
    ``dropped_gaps``, ``dropped_missing`` (``"exclude"`` only) and ``wrapped``."""
    across_gap, crosses_seam = _windows_across_gaps(frame, len(returns), n_periods, wrap, freq)
    keep = ~across_gap
    counts = {"dropped_gaps": int(across_gap.sum())}
    if missing == "exclude":
        has_data = ~(np.isnan(returns).any(axis=(1, 2)) | np.isnan(inflation).any(axis=1))
        counts["dropped_missing"] = int((keep & ~has_data).sum())
        keep &= has_data
    counts["wrapped"] = int((crosses_seam & keep).sum())
    return keep, counts


def _check_some_cohort(labels: Sequence[str], n_periods: int, assets: Sequence[str]) -> None:
    """Refuse a cohort set that the ``"exclude"`` rule left empty."""
    if not labels:
        raise CoverageError(
            f"no {n_periods}-period cohort of consecutive periods has data for every asset "
            f"{list(assets)} and inflation; use missing='cash' or 'proxy', or a shorter horizon"
        )


def _cohorts_description(
    labels: Sequence[str],
    n_periods: int,
    freq: str,
    span: str,
    wrap: bool,
    dropped: int,
    n_wrapped: int = 0,
    n_gaps: int = 0,
) -> str:
    """One line on the cohorts for ``Scenarios.description``."""
    return (
        f"historical cohorts: {len(labels)} rolling {n_periods}-period {freq} windows of "
        f"{span}, starts {labels[0]}..{labels[-1]}"
        + (
            f" (wrap-around: {n_wrapped} run past the end onto the start)"
            if wrap
            else f", {dropped} late starts dropped"
        )
        + (f", {n_gaps} across a gap in the calendar dropped" if n_gaps else "")
    )


def historical_cohorts(
    history: pd.DataFrame,
    assets: Sequence[str],
    n_periods: int,
    inflation_column: str = "cpi",
    wrap: bool = False,
    frequency: Frequency | None = None,
    *,
    missing: MissingRule = "exclude",
    cash_asset: str | None = None,
    proxy: Mapping[str, Proxy] | None = None,
    rng: RngLike = None,
) -> Scenarios:
    """Rolling historical windows, one scenario per start period (Trinity, cFIREsim).

    A cohort is ``n_periods`` **consecutive calendar periods**: a window whose index skips
    a period (a history with the incomplete years left out, e.g. ``load_jst(iso)``) runs
    across a gap and is dropped, whatever the ``missing`` rule (counted in
    ``meta["dropped_gaps"]``); only the ``assets`` columns and inflation decide whether a
    period has data, so a column the cohort does not hold never removes one.

    Parameters
    ----------
    history
        Decimal simple nominal returns per period, indexed by period-end dates, with the
        ``assets`` columns and ``inflation_column`` (decimal CPI change per period).
    assets
        Columns to keep, in this order.
    n_periods
        Window length in periods of the history's frequency (30 years = 30 annual or
        360 monthly periods).
    inflation_column
        Column with inflation per period.
    wrap
        If True, windows that run past the last period continue from the first one
        (circular history, only when asked: ``meta["wrapped"]`` counts them and the
        description says so); if False (default) they are dropped and counted in
        ``meta["dropped"]``. A gap inside the history is never wrapped over.
    frequency
        ``"annual"`` or ``"monthly"``; inferred from the index if None.
    missing, cash_asset, proxy
        Missing-data rule for assets with no data in some periods (see module doc).
        ``"exclude"`` drops every cohort that touches a missing asset return or a
        missing inflation figure (counted in ``meta["dropped_missing"]``), so a history
        with NaN rows (``load_jst(iso, complete=False)``) gives exactly the cohorts of
        consecutive years with data; the other rules need inflation in every period.
    rng
        Only used by ``missing="proxy"``.

    Returns
    -------
    Scenarios
        Shape (n_cohorts, n_periods, n_assets); labels = first period of each cohort
        (``"1966"`` or ``"1966-01"``).
    """
    frame = _columns(
        history,
        assets,
        inflation_column,
        [cash_asset] if cash_asset else [],
        allow_missing_inflation=missing == "exclude",
    )
    freq = frequency or infer_frequency(frame.index)
    periods_per_year(freq)
    _check_count("n_periods", n_periods)
    _check_missing_args(missing, frame, assets, cash_asset, proxy)
    meta: dict[str, object] = {"generator": "historical_cohorts", "wrap": bool(wrap)}
    if missing == "cash":
        frame, filled = fill_with_cash(frame, assets, str(cash_asset))
        meta["filled_with_cash"] = filled
    returns, inflation, starts = _rolling_windows(frame, len(assets), n_periods, wrap, freq)
    keep, counts = _cohorts_kept(frame, returns, inflation, n_periods, wrap, freq, missing)
    meta.update(counts)
    meta["dropped"] = dropped = 0 if wrap else len(frame) - len(starts)
    labels = [_period_label(frame.index[i], freq) for i, k in zip(starts, keep, strict=True) if k]
    _check_some_cohort(labels, n_periods, assets)
    returns, inflation = returns[keep], inflation[keep]
    if missing == "proxy":
        gen, entropy = as_generator(rng)
        meta["proxy"] = _fill_proxy(returns, assets, proxy or {}, periods_per_year(freq), gen)
        meta["seed_entropy"] = entropy
    span = _span(frame, freq)
    meta.update(history_span=span, n_periods=int(n_periods), missing=missing)
    desc = _cohorts_description(
        labels, n_periods, freq, span, wrap, dropped, counts["wrapped"], counts["dropped_gaps"]
    )
    return Scenarios(
        returns=returns,
        inflation=inflation,
        assets=tuple(assets),
        frequency=freq,
        labels=tuple(labels),
        description=desc,
        meta=meta,
    )


# --------------------------------------------------------------------------- bootstrap


def default_block_length(values: FloatArray, method: BootstrapMethod = "stationary") -> float:
    """Expected block length for a bootstrap of whole rows of ``values`` (T, k).

    Rule: the **mean over the columns** (assets and inflation) of Politis and White's
    (2004, corrected by Patton, Politis and White 2009) optimal block length for
    ``method``, as estimated by ``arch.bootstrap.optimal_block_length``; at least 1 and
    at most a quarter of the rows.
    """
    from arch.bootstrap import optimal_block_length  # lazy: heavy (arch, about 3 s)

    est = optimal_block_length(np.asarray(values, dtype=np.float64))
    b = float(np.nanmean(est[method].to_numpy()))
    if not np.isfinite(b):
        b = 1.0
    return float(np.clip(b, 1.0, max(1.0, values.shape[0] / 4)))


def bootstrap_indices(
    n_rows: int,
    n_scenarios: int,
    n_periods: int,
    block_length: float,
    method: BootstrapMethod,
    rng: np.random.Generator,
) -> np.ndarray:
    """Row indices (n_scenarios, n_periods) of a stationary or circular block bootstrap.

    Stationary (Politis and Romano 1994): a new block starts each period with probability
    ``1 / block_length`` at a uniform row; otherwise the next row follows (wrapping
    around). Circular: blocks of ``round(block_length)`` consecutive rows (wrapping).
    """
    t = np.arange(n_periods)
    starts = rng.integers(0, n_rows, size=(n_scenarios, n_periods))
    if method == "stationary":
        new = rng.random((n_scenarios, n_periods)) < 1.0 / block_length
        new[:, 0] = True
    elif method == "circular":
        b = max(1, round(block_length))
        new = np.broadcast_to(t % b == 0, (n_scenarios, n_periods))
    else:
        raise DataError(f"method={method!r}; use 'stationary' or 'circular'")
    t_block = np.maximum.accumulate(np.where(new, t, 0), axis=1)
    first = np.take_along_axis(starts, t_block, axis=1)
    return (first + (t - t_block)) % n_rows


def _rows_to_resample(
    frame: pd.DataFrame, assets: Sequence[str], missing: MissingRule, cash_asset: str | None
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The rows a bootstrap draws from under the ``missing`` rule, and what it did (meta)."""
    if missing == "cash":
        filled, with_cash = fill_with_cash(frame, assets, str(cash_asset))
        return filled, {"filled_with_cash": with_cash}
    if missing == "exclude":
        complete = ~frame[list(assets)].isna().any(axis=1).to_numpy()
        return frame.loc[complete], {"dropped_missing": int((~complete).sum())}
    return frame, {}


def _block_length(
    values: FloatArray, block_length: float | None, method: BootstrapMethod
) -> tuple[float, str]:
    """The block length in periods (given, else :func:`default_block_length`) and its rule."""
    if block_length is None:
        complete_rows = values[~np.isnan(values).any(axis=1)]
        block_length = default_block_length(complete_rows, method)
        rule = "mean over columns of arch.bootstrap.optimal_block_length"
    else:
        rule = "given"
    if not (np.isfinite(block_length) and block_length >= 1):
        raise DataError(f"block_length={block_length!r} must be >= 1 period")
    return float(block_length), rule


def block_bootstrap(
    history: pd.DataFrame,
    assets: Sequence[str],
    n_scenarios: int,
    n_periods: int,
    block_length: float | None = None,
    method: BootstrapMethod = "stationary",
    rng: RngLike = None,
    *,
    inflation_column: str = "cpi",
    frequency: Frequency | None = None,
    missing: MissingRule = "exclude",
    cash_asset: str | None = None,
    proxy: Mapping[str, Proxy] | None = None,
) -> Scenarios:
    """Block bootstrap of whole history rows (all assets and inflation together).

    Parameters
    ----------
    history
        Decimal simple nominal returns per period with ``assets`` and ``inflation_column``.
    n_scenarios, n_periods
        Output shape; periods have the history's frequency.
    block_length
        Expected (stationary) or fixed (circular) block length in periods; None picks it
        with :func:`default_block_length` (recorded in ``meta["block_length"]``).
    method
        ``"stationary"`` (default, geometric block lengths) or ``"circular"``.
    rng
        Generator, int seed or None (fresh entropy, recorded in ``meta``).
    missing, cash_asset, proxy
        Missing-data rule: ``"exclude"`` resamples only rows where every asset has data
        (the dropped rows are counted in ``meta["dropped_missing"]``); ``"cash"`` fills
        gaps with the cash asset's return before resampling; ``"proxy"`` resamples all
        rows and draws the gaps from the proxy.
    """
    frame = _columns(history, assets, inflation_column, [cash_asset] if cash_asset else [])
    freq = frequency or infer_frequency(frame.index)
    ppy = periods_per_year(freq)
    _check_missing_args(missing, frame, assets, cash_asset, proxy)
    _check_count("n_scenarios", n_scenarios)
    _check_count("n_periods", n_periods)
    gen, entropy = as_generator(rng)
    meta: dict[str, object] = {"generator": "block_bootstrap", "method": method}
    frame, meta_missing = _rows_to_resample(frame, assets, missing, cash_asset)
    meta.update(meta_missing)
    values = frame[[*assets, inflation_column]].to_numpy()
    n_rows = len(values)
    if n_rows < 2:
        raise CoverageError(f"only {n_rows} complete rows to bootstrap from")
    block_length, rule = _block_length(values, block_length, method)
    idx = bootstrap_indices(n_rows, n_scenarios, n_periods, block_length, method, gen)
    sample = values[idx]
    a = len(assets)
    returns = np.ascontiguousarray(sample[:, :, :a])
    inflation = sample[:, :, a]
    if missing == "proxy":
        meta["proxy"] = _fill_proxy(returns, assets, proxy or {}, ppy, gen)
    span = _span(frame, freq)
    meta.update(
        block_length=float(block_length),
        block_length_rule=rule,
        seed_entropy=entropy,
        history_span=span,
        history_rows=n_rows,
        missing=missing,
    )
    desc = (
        f"{method} block bootstrap of {span} ({n_rows} {freq} rows), block length "
        f"{float(block_length):.2f} ({rule}), {n_scenarios} x {n_periods} periods"
    )
    return Scenarios(
        returns=returns,
        inflation=inflation,
        assets=tuple(assets),
        frequency=freq,
        description=desc,
        meta=meta,
    )


# --------------------------------------------------------------------------- panel bootstrap

PanelWeights = Literal["countries", "years"]


@dataclass(frozen=True)
class PanelRows:
    """A panel's complete periods, country after country, as real returns.

    Attributes
    ----------
    real
        Decimal simple **real** returns per period, ``(1 + r) / (1 + inflation) - 1``,
        (n_rows, n_assets).
    country
        Index into ``countries`` of each row.
    period
        Period number of each row (the year for annual data; :func:`period_numbers`).
    run_end
        True where the next period of the same country is missing (a gap, or its end):
        a block stops there.
    countries
        The panel's keys that have at least one complete period, in order.
    first_row, n_rows
        Per country, its first row and its number of complete periods.
    """

    real: FloatArray
    country: np.ndarray
    period: np.ndarray
    run_end: np.ndarray
    countries: tuple[str, ...]
    first_row: np.ndarray
    n_rows: np.ndarray


def panel_rows(
    panel: Mapping[str, pd.DataFrame],
    assets: Sequence[str],
    inflation_column: str = "cpi",
    frequency: Frequency = "annual",
) -> PanelRows:
    """The complete periods (every asset and inflation present) of each country of
    ``panel`` (key -> nominal returns and inflation, decimal per period), in real terms.

    A country with no complete period raises :class:`DataError` (leave it out of the
    panel, e.g. Canada, which JST gives no bond or bill series).
    """
    if not panel:
        raise DataError("the panel is empty; give at least one country's history")
    parts, empty = [], []
    for key, history in panel.items():
        frame = _columns(history, assets, inflation_column, allow_missing_inflation=True)
        frame = frame[frame.notna().all(axis=1).to_numpy()]
        if frame.empty:
            empty.append(key)
            continue
        values = frame.to_numpy()
        real = (1.0 + values[:, :-1]) / (1.0 + values[:, -1:]) - 1.0
        parts.append((key, real, period_numbers(frame.index, frequency)))
    if empty:
        raise DataError(
            f"{empty} have no period with every asset {list(assets)} and inflation; "
            "leave them out of the panel"
        )
    periods = [pn for _, _, pn in parts]
    n_rows = np.array([len(pn) for pn in periods])
    return PanelRows(
        real=np.concatenate([r for _, r, _ in parts]),
        country=np.repeat(np.arange(len(parts)), n_rows),
        period=np.concatenate(periods),
        run_end=np.concatenate([np.append(np.diff(pn) != 1, True) for pn in periods]),
        countries=tuple(k for k, _, _ in parts),
        first_row=np.concatenate([[0], np.cumsum(n_rows)[:-1]]),
        n_rows=n_rows,
    )


def _country_probabilities(
    rows: PanelRows, weights: PanelWeights | Mapping[str, float]
) -> FloatArray:
    """Probability of drawing each country for a new block."""
    if weights == "countries":
        w = np.ones(len(rows.countries))
    elif weights == "years":
        w = rows.n_rows.astype(np.float64)
    elif isinstance(weights, Mapping):
        unknown = [k for k in weights if k not in rows.countries]
        if unknown:
            raise DataError(f"weights name {unknown}, not in the panel {list(rows.countries)}")
        w = np.array([float(weights.get(k, 0.0)) for k in rows.countries])
    else:
        raise DataError(f"weights={weights!r}; use 'countries', 'years' or {{country: weight}}")
    if not (np.all(np.isfinite(w)) and np.all(w >= 0) and w.sum() > 0):
        raise DataError(f"country weights {w.tolist()} must be >= 0 with a positive sum")
    return w / w.sum()


def panel_bootstrap_indices(
    rows: PanelRows,
    probabilities: FloatArray,
    n_scenarios: int,
    n_periods: int,
    block_length: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices into ``rows`` (n_scenarios, n_periods) and where a block starts.

    Stationary (Politis and Romano 1994) within one country: a new block starts each
    period with probability ``1 / block_length``, and always after a country's last
    period before a gap or its end (a block never crosses a gap and never wraps); it
    picks a country with ``probabilities`` and a uniform complete period of it.
    """
    n = int(n_scenarios)
    idx = np.empty((n, int(n_periods)), dtype=np.int64)
    new = np.empty((n, int(n_periods)), dtype=bool)
    for t in range(int(n_periods)):  # each step continues the previous one's block
        c = rng.choice(len(probabilities), size=n, p=probabilities)
        start = rows.first_row[c] + (rng.random(n) * rows.n_rows[c]).astype(np.int64)
        if t == 0:
            new[:, 0], idx[:, 0] = True, start
            continue
        new[:, t] = (rng.random(n) < 1.0 / block_length) | rows.run_end[idx[:, t - 1]]
        idx[:, t] = np.where(new[:, t], start, idx[:, t - 1] + 1)
    return idx, new


def panel_block_bootstrap(
    panel: Mapping[str, pd.DataFrame],
    assets: Sequence[str],
    n_scenarios: int,
    n_periods: int,
    block_length: float,
    rng: RngLike = None,
    *,
    weights: PanelWeights | Mapping[str, float] = "countries",
    inflation_column: str = "cpi",
    frequency: Frequency = "annual",
) -> Scenarios:
    """Block bootstrap across a panel of countries, each block from one country.

    Parameters
    ----------
    panel
        Country -> decimal simple nominal local-currency returns per period with the
        ``assets`` columns and ``inflation_column``, NaN (or a missing date) where a value
        is missing (``backtest.data.jst.load_jst_panel``).
    assets
        Columns to draw, in this order.
    n_scenarios, n_periods
        Output shape.
    block_length
        Expected block length in periods (stationary bootstrap); a block also ends at the
        country's last period before a gap or the end of its data.
    rng
        Generator, int seed or None (fresh entropy, recorded in ``meta``).
    weights
        How a block's country is chosen: ``"countries"`` (uniform, default), ``"years"``
        (in proportion to its complete periods: the pooled panel), or
        ``{country: weight}``.

    Returns
    -------
    Scenarios
        Returns are **real local-currency** returns, ``(1 + r) / (1 + inflation) - 1``
        of the same country and period, and inflation is 0, so the engine (which deflates
        by inflation) sees exactly those real returns; amounts are in real units of each
        country's currency.
    """
    _check_count("n_scenarios", n_scenarios)
    _check_count("n_periods", n_periods)
    if not (np.isfinite(block_length) and block_length >= 1):
        raise DataError(f"block_length={block_length!r} must be >= 1 period")
    rows = panel_rows(panel, assets, inflation_column, frequency)
    p = _country_probabilities(rows, weights)
    gen, entropy = as_generator(rng)
    idx, _ = panel_bootstrap_indices(rows, p, n_scenarios, n_periods, block_length, gen)
    per_country = dict(zip(rows.countries, rows.n_rows.tolist(), strict=True))
    meta: dict[str, object] = {
        "generator": "panel_block_bootstrap",
        "block_length": float(block_length),
        "weights": weights if isinstance(weights, str) else dict(weights),
        "probabilities": dict(zip(rows.countries, p.tolist(), strict=True)),
        "complete_periods": per_country,
        "seed_entropy": entropy,
        "real": True,
    }
    desc = (
        f"panel stationary block bootstrap of {len(rows.countries)} countries "
        f"({int(rows.n_rows.sum())} complete {frequency} periods), one country per block, "
        f"blocks never across a gap, expected length {float(block_length):.2f}, "
        f"countries weighted by {weights if isinstance(weights, str) else 'given weights'}; "
        f"real local-currency returns, inflation 0; {n_scenarios} x {n_periods} periods"
    )
    return Scenarios(
        returns=np.ascontiguousarray(rows.real[idx]),
        inflation=np.zeros((int(n_scenarios), int(n_periods))),
        assets=tuple(assets),
        frequency=frequency,
        description=desc,
        meta=meta,
    )


# --------------------------------------------------------------------------- parametric


def estimate_log_moments(
    history: pd.DataFrame,
    assets: Sequence[str],
    inflation_column: str = "cpi",
    frequency: Frequency | None = None,
) -> tuple[FloatArray, FloatArray, int]:
    """Annualised mean vector and covariance of log(1 + r) of ``assets`` and inflation.

    Rows with any missing value are dropped. Per-period moments are scaled to annual by
    ``periods_per_year`` (i.i.d. assumption). Returns ``(mean_log_annual,
    cov_log_annual, n_rows_used)``, ordered as ``[*assets, inflation]``.
    """
    frame = _columns(history, assets, inflation_column).dropna()
    freq = frequency or infer_frequency(frame.index)
    ppy = periods_per_year(freq)
    if len(frame) < len(assets) + 3:
        raise CoverageError(
            f"only {len(frame)} complete rows to estimate {len(assets) + 1} means and their "
            "covariance; give mean_log_annual= and cov_log_annual= instead"
        )
    logs = np.log1p(frame.to_numpy())
    return logs.mean(axis=0) * ppy, np.cov(logs, rowvar=False, ddof=1) * ppy, len(frame)


def _base_moments(
    history: pd.DataFrame | None,
    assets: Sequence[str],
    inflation_column: str,
    frequency: Frequency | None,
    mean_log_annual: Mapping[str, float] | None,
    cov_log_annual: FloatArray | None,
) -> tuple[FloatArray, FloatArray, str, Frequency]:
    """Annual log moments estimated from ``history`` (NaN without one), their source, and
    the output frequency (the history's unless given, else annual)."""
    if history is not None:
        freq = frequency or infer_frequency(history.index)
        mu, cov, used = estimate_log_moments(history, assets, inflation_column)
        return mu, cov, f"estimated from {used} complete history rows", freq
    if mean_log_annual is None or cov_log_annual is None:
        raise DataError(
            "parametric(history=None, ...) needs both mean_log_annual= and cov_log_annual="
        )
    k = len(assets) + 1
    return (
        np.full(k, np.nan),
        np.full((k, k), np.nan),
        "user means/covariance",
        frequency or "annual",
    )


def _given_moments(
    mu: FloatArray,
    cov: FloatArray,
    source: str,
    names: list[str],
    estimated: bool,
    mean_log_annual: Mapping[str, float] | None,
    cov_log_annual: FloatArray | None,
    vol_log_annual: Mapping[str, float] | None,
) -> tuple[FloatArray, FloatArray, str]:
    """``mu`` and ``cov`` with the user's means, covariance and volatilities put in.

    Volatilities rescale their row and column of the covariance, keeping correlations.
    """
    if mean_log_annual is not None:
        unknown = [n for n in mean_log_annual if n not in names]
        if unknown:
            raise DataError(f"mean_log_annual names {unknown} not among {names}")
        for n, v in mean_log_annual.items():
            mu[names.index(n)] = float(v)
        if estimated:
            source += f"; means of {list(mean_log_annual)} given"
    if cov_log_annual is not None:
        c = np.asarray(cov_log_annual, dtype=np.float64)
        k = len(names)
        if c.shape != (k, k):
            raise DataError(
                f"cov_log_annual has shape {c.shape}; expected ({k}, {k}) ordered as {names}"
            )
        cov = c.copy()
        if estimated:
            source += "; covariance given"
    if vol_log_annual is not None:
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        corr = cov / np.outer(np.where(sd > 0, sd, 1), np.where(sd > 0, sd, 1))
        for n, v in vol_log_annual.items():
            if n not in names or not v >= 0:
                raise DataError(f"vol_log_annual[{n!r}]={v!r}: name must be in {names}, >= 0")
            sd[names.index(n)] = float(v)
        np.fill_diagonal(corr, 1.0)
        cov = corr * np.outer(sd, sd)
        source += f"; vols of {list(vol_log_annual)} given"
    return mu, cov, source


def _check_model(
    mu: FloatArray, cov: FloatArray, names: list[str], distribution: str, dof: float
) -> None:
    """Refuse missing means, a covariance that is not finite, symmetric and PSD, and an
    unknown distribution or a Student-t without a covariance."""
    if not np.all(np.isfinite(mu)):
        raise DataError(f"mean_log_annual must give every name in {names} without a history")
    if not (np.allclose(cov, cov.T) and np.all(np.isfinite(cov))):
        raise DataError("cov_log_annual must be a finite symmetric matrix")
    if np.linalg.eigvalsh(cov).min() < -1e-12 * max(1.0, float(np.abs(cov).max())):
        raise DataError("cov_log_annual is not positive semi-definite")
    if distribution not in ("normal", "student_t"):
        raise DataError(f"distribution={distribution!r}; use 'normal' or 'student_t'")
    if distribution == "student_t" and not dof > 2:
        raise DataError(f"dof={dof!r} must be > 2 so the Student-t has a covariance")


def _draw_log_returns(
    mean: FloatArray,
    cov: FloatArray,
    shape: tuple[int, int],
    distribution: Distribution,
    dof: float,
    gen: np.random.Generator,
) -> FloatArray:
    """I.i.d. draws of shape ``(*shape, k)`` with per-period ``mean`` and covariance ``cov``.

    Normal, or Student-t with ``dof`` scaled to the same covariance (one chi-square draw
    per scenario and period, shared by all k variables).
    """
    # Cholesky of a PSD matrix via eigh (robust to singular covariances).
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.clip(vals, 0, None))
    z = gen.standard_normal((*shape, len(mean))) @ root.T
    if distribution == "student_t":
        w = gen.chisquare(dof, size=(*shape, 1))
        z *= np.sqrt((dof - 2.0) / w)
    return z + mean


def parametric(
    history: pd.DataFrame | None,
    assets: Sequence[str],
    n_scenarios: int,
    n_periods: int,
    distribution: Distribution = "normal",
    dof: float = 5.0,
    *,
    mean_log_annual: Mapping[str, float] | None = None,
    cov_log_annual: FloatArray | None = None,
    vol_log_annual: Mapping[str, float] | None = None,
    frequency: Frequency | None = None,
    inflation_column: str = "cpi",
    rng: RngLike = None,
) -> Scenarios:
    """Multivariate normal or Student-t scenarios in log returns of assets and inflation.

    ``x = log(1 + r)`` per period, jointly for ``[*assets, inflation]``, is drawn i.i.d.
    over periods with mean ``mu / ppy`` and covariance ``Sigma / ppy``, where ``mu`` and
    ``Sigma`` are **annual** log moments. The Student-t is scaled so that its covariance
    equals ``Sigma / ppy`` (needs ``dof > 2``).

    Parameters
    ----------
    history
        History to estimate ``mu`` and ``Sigma`` from (:func:`estimate_log_moments`), or
        None when both ``mean_log_annual`` and ``cov_log_annual`` are given.
    assets
        Asset names (the inflation variable is named ``inflation_column``).
    n_scenarios, n_periods
        Output shape; periods have length given by ``frequency``.
    distribution, dof
        ``"normal"`` or ``"student_t"`` with ``dof`` degrees of freedom.
    mean_log_annual
        Annual mean log return per name (assets and/or ``inflation_column``); with a
        history, only the names given override the estimates (e.g. a forward-looking
        Bitcoin assumption); without one, every name is required.
    cov_log_annual
        Full annual covariance of log returns, ordered ``[*assets, inflation]``.
    vol_log_annual
        Annual log volatility per name; rescales that row/column of the covariance,
        keeping the correlations.
    frequency
        Period length of the output; defaults to the history's, else ``"annual"``.
    rng
        Generator, int seed or None (fresh entropy, recorded in ``meta``).
    """
    names = [*assets, inflation_column]
    mu, cov, source, freq = _base_moments(
        history, assets, inflation_column, frequency, mean_log_annual, cov_log_annual
    )
    ppy = periods_per_year(freq)
    mu, cov, source = _given_moments(
        mu, cov, source, names, history is not None, mean_log_annual, cov_log_annual,
        vol_log_annual,
    )  # fmt: skip
    _check_model(mu, cov, names, distribution, dof)
    _check_count("n_scenarios", n_scenarios)
    _check_count("n_periods", n_periods)
    gen, entropy = as_generator(rng)
    shape = (int(n_scenarios), int(n_periods))
    sim = np.expm1(_draw_log_returns(mu / ppy, cov / ppy, shape, distribution, dof, gen))
    meta: dict[str, object] = {
        "generator": "parametric",
        "distribution": distribution,
        "dof": float(dof) if distribution == "student_t" else None,
        "names": names,
        "mean_log_annual": mu.tolist(),
        "cov_log_annual": cov.tolist(),
        "source": source,
        "seed_entropy": entropy,
    }
    tail = f", dof {dof:g}" if distribution == "student_t" else ""
    return Scenarios(
        returns=np.ascontiguousarray(sim[:, :, :-1]),
        inflation=np.ascontiguousarray(sim[:, :, -1]),
        assets=tuple(assets),
        frequency=freq,
        description=f"parametric {distribution}{tail} in log returns of {names} ({source}), "
        f"{n_scenarios} x {n_periods} {freq} periods",
        meta=meta,
    )


# --------------------------------------------------------------------------- chunks


def iter_chunks(
    generator_fn: Callable[..., Scenarios],
    n_scenarios: int,
    chunk_size: int,
    *args: object,
    rng: RngLike = None,
    **kwargs: object,
) -> Iterator[Scenarios]:
    """Yield ``n_scenarios`` scenarios in chunks of at most ``chunk_size``.

    Chunk ``i`` calls ``generator_fn(*args, n_scenarios=size_i, rng=Generator(child_i),
    **kwargs)`` where ``child_i`` is the ``i``-th ``SeedSequence.spawn`` child of the seed:
    streams are independent and the whole sequence is reproducible from ``rng`` and
    ``chunk_size`` (a different ``chunk_size`` gives different, equally valid draws).
    Each chunk's ``meta`` records ``chunk``, ``n_chunks`` and ``seed_entropy``.
    """
    _check_count("n_scenarios", n_scenarios)
    _check_count("chunk_size", chunk_size)
    if isinstance(rng, np.random.Generator):
        root = np.random.SeedSequence(int(rng.integers(0, 2**63)))
    else:
        root = np.random.SeedSequence(None if rng is None else int(rng))
    n_chunks = -(-int(n_scenarios) // int(chunk_size))
    for i, child in enumerate(root.spawn(n_chunks)):
        size = min(int(chunk_size), int(n_scenarios) - i * int(chunk_size))
        sc = generator_fn(*args, n_scenarios=size, rng=np.random.default_rng(child), **kwargs)
        sc.meta.update(chunk=i, n_chunks=n_chunks, seed_entropy=root.entropy)
        yield sc
