"""Crypto sleeve: a small Bitcoin allocation laid over any base strategy.

:class:`CryptoSleeve` takes ``sleeve_weight`` of the portfolio for the crypto asset,
funded from the base's equities, from its bonds, or pro rata from everything. The sleeve
carries its own band (:class:`strategies.base.SleeveBand`: by default it is traded back
to target when it drifts above 1.5x or below 0.5x of it) on top of the base's
rebalancing rule, and a ``cap`` above which it is always trimmed.

Bitcoin data start in 2010 (monthly) / 2011 (annual). What happens before is an explicit
choice, ``before_data``:

``"exclude"``
    Use only periods with Bitcoin data: build the scenarios from that window (see
    :func:`periods_with_data`). A scenario with missing Bitcoin returns is an error.
``"cash"``
    In periods without Bitcoin data the sleeve is held in ``cash_asset`` instead. This
    looks at whether period ``t``'s return *exists*, never at its value.
``"proxy"``
    Fill the missing returns with a stated proxy before simulating, with
    :func:`fill_before_data` (a parametric :class:`LognormalProxy` or a user series).

Missing returns are never treated as zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from strategies.base import (
    FloatArray,
    NoStateTable,
    RebalanceRule,
    Schedule,
    SleeveBand,
    Smoothing,
    Strategy,
    check_numbers,
    check_strategy,
)
from strategies.errors import StrategyError

FundedFrom = Literal["equity", "bonds", "pro_rata"]
BeforeData = Literal["exclude", "cash", "proxy"]


@dataclass(frozen=True)
class CryptoSleeve(NoStateTable):
    """A fixed crypto sleeve on top of any base strategy.

    Parameters
    ----------
    base
        The strategy the sleeve is laid over (glide path, fixed mix, volatility target...).
    sleeve_weight
        Target weight of the crypto asset, decimal (0.025 = 2.5 %); 0 is allowed (a
        control with the same assets and periods).
    crypto_asset
        Asset name of the sleeve (default ``"btc"``).
    funded_from
        ``"equity"``: taken from ``equity_assets`` pro rata to their base weights;
        ``"bonds"``: from ``bond_assets``; ``"pro_rata"``: from every base asset. When
        the chosen group holds less than the sleeve in some period, the rest comes pro
        rata from the other assets.
    equity_assets, bond_assets
        Which base assets count as equities / bonds (intersected with the base's); needed
        for ``funded_from="equity"`` / ``"bonds"``. Strategies do not know asset roles:
        the caller passes the names, e.g. from ``backtest.data.asset_roles``.
    band
        The sleeve's own band; ``"default"`` means ``SleeveBand(crypto_asset, 0.5, 1.5)``;
        ``None`` for none (the sleeve is then rebalanced only by the base's rule, and by
        ``cap``).
    cap
        Maximum crypto weight, decimal: ``sleeve_weight`` may not exceed it and a sleeve
        that drifts above it is trimmed at the next period start (the band's upper
        multiple becomes ``min(upper, cap / sleeve_weight)``). ``None``: no cap.
    before_data
        Rule for periods without crypto data: ``"exclude"``, ``"cash"`` or ``"proxy"``
        (see the module docstring).
    cash_asset
        Where the sleeve waits under ``before_data="cash"``.
    rebalance
        Whole-portfolio rule; default (``None``) the base's.
    name
        Label; default ``"<base name> + 2.5% btc"``.
    """

    base: Strategy
    sleeve_weight: float
    crypto_asset: str = "btc"
    funded_from: FundedFrom = "pro_rata"
    equity_assets: tuple[str, ...] = ()
    bond_assets: tuple[str, ...] = ()
    band: SleeveBand | Literal["default"] | None = "default"
    cap: float | None = 0.10
    before_data: BeforeData = "exclude"
    cash_asset: str = "tbills"
    # Typed as the rule it always is after __post_init__ (the Strategy protocol's);
    # the default None is replaced there by the base's rule.
    rebalance: RebalanceRule = None  # type: ignore[assignment]
    name: str = ""

    def __post_init__(self) -> None:
        who = f"CryptoSleeve({self.name or getattr(self.base, 'name', '?')!r})"
        check_strategy(who, self.base)
        check_numbers(who, ("cap",), sleeve_weight=self.sleeve_weight, cap=self.cap)
        base_assets = tuple(self.base.assets)
        if self.crypto_asset in base_assets:
            raise StrategyError(
                f"{who}: the base strategy already holds {self.crypto_asset!r}; lay the sleeve "
                "over a base without it"
            )
        if not 0.0 <= self.sleeve_weight < 1.0:
            raise StrategyError(
                f"{who}: sleeve_weight={self.sleeve_weight!r} must be a decimal in [0, 1), "
                "e.g. 0.025 for 2.5 %"
            )
        if self.cap is not None:
            if not 0.0 < self.cap <= 1.0:
                raise StrategyError(f"{who}: cap={self.cap!r} must be a decimal in (0, 1] or None")
            if self.sleeve_weight > self.cap:
                raise StrategyError(
                    f"{who}: sleeve_weight={self.sleeve_weight} exceeds cap={self.cap}; lower "
                    "the sleeve or raise the cap"
                )
        if self.funded_from not in ("equity", "bonds", "pro_rata"):
            raise StrategyError(
                f"{who}: funded_from={self.funded_from!r}; use 'equity', 'bonds' or 'pro_rata'"
            )
        if self.funded_from != "pro_rata" and not self._group_index():
            group = self.equity_assets if self.funded_from == "equity" else self.bond_assets
            arg = "equity_assets" if self.funded_from == "equity" else "bond_assets"
            raise StrategyError(
                f"{who}: funded_from={self.funded_from!r} but none of {arg}={group} is among "
                f"the base's assets {base_assets}; pass {arg}=(...) naming them"
            )
        if self.before_data not in ("exclude", "cash", "proxy"):
            raise StrategyError(
                f"{who}: before_data={self.before_data!r}; use 'exclude', 'cash' or 'proxy'"
            )
        if self.before_data == "cash" and self.cash_asset == self.crypto_asset:
            raise StrategyError(f"{who}: cash_asset must differ from crypto_asset")
        if self.band == "default":
            object.__setattr__(self, "band", SleeveBand(self.crypto_asset, 0.5, 1.5))
        elif self.band is not None:
            if not isinstance(self.band, SleeveBand):
                raise StrategyError(f"{who}: band must be a SleeveBand, 'default' or None")
            if self.band.asset != self.crypto_asset:
                raise StrategyError(
                    f"{who}: band is for {self.band.asset!r} but the sleeve holds "
                    f"{self.crypto_asset!r}"
                )
        if self.base.sleeve_band is not None:
            raise StrategyError(f"{who}: the base strategy already has a sleeve band")
        if not self.name:
            label = f"{self.base.name} + {self.sleeve_weight * 100:g}% {self.crypto_asset}"
            object.__setattr__(self, "name", label)
        if self.rebalance is None:
            object.__setattr__(self, "rebalance", self.base.rebalance)

    # -- the Strategy protocol -------------------------------------------------------

    @property
    def depends_on_returns(self) -> bool:
        """The base's: the sleeve's own weight is fixed."""
        return self.base.depends_on_returns

    @property
    def assets(self) -> tuple[str, ...]:
        extra: tuple[str, ...] = (self.crypto_asset,)
        if self.before_data == "cash" and self.cash_asset not in self.base.assets:
            extra += (self.cash_asset,)
        return tuple(self.base.assets) + extra

    @property
    def smoothing(self) -> Smoothing | None:
        return self.base.smoothing

    @property
    def sleeve_band(self) -> SleeveBand | None:
        """The band the simulator applies to the sleeve alone (band and cap combined)."""
        s = self.sleeve_weight
        if s <= 0:
            return None
        band = self.band if isinstance(self.band, SleeveBand) else None
        cap_mult = self.cap / s if self.cap is not None else np.inf
        if band is None:
            if not np.isfinite(cap_mult):
                return None
            # Only the cap: trim above it, never top up.
            return SleeveBand(self.crypto_asset, 0.0, max(cap_mult, 1.0 + 1e-9))
        upper = min(band.upper, max(cap_mult, 1.0 + 1e-9))
        return SleeveBand(self.crypto_asset, band.lower, upper)

    def describe(self) -> str:
        """One line: sleeve size, funding, band, cap and the before-data rule."""
        b = self.sleeve_band
        band = f"band {b.lower:g}x-{b.upper:g}x" if b is not None else "no band"
        return (
            f"{self.sleeve_weight:.1%} {self.crypto_asset} funded from {self.funded_from}, "
            f"{band}, before data: {self.before_data}"
        )

    def _group_index(self) -> list[int]:
        base_assets = tuple(self.base.assets)
        group = self.equity_assets if self.funded_from == "equity" else self.bond_assets
        return [i for i, a in enumerate(base_assets) if a in group]

    def target_weights(self, schedule: Schedule, past_returns: FloatArray) -> FloatArray:
        """Base weights with the sleeve carved out, (1 or n_scenarios, n_periods, n_assets).

        ``past_returns`` is in the order of :attr:`assets`.
        """
        r = np.asarray(past_returns, dtype=np.float64)
        n_base = len(self.base.assets)
        base_w = np.asarray(self.base.target_weights(schedule, r[..., :n_base]), np.float64)
        s = float(self.sleeve_weight)
        if self.funded_from == "pro_rata":
            funded = base_w * (1.0 - s)
        else:
            g = np.zeros(n_base, dtype=bool)
            g[self._group_index()] = True
            in_g = base_w * g
            w_g = in_g.sum(axis=-1, keepdims=True)
            take = np.minimum(s, w_g)  # from the group
            rest = s - take  # shortfall, pro rata from the others
            w_o = 1.0 - w_g
            scale_g = np.divide(w_g - take, w_g, out=np.zeros_like(w_g), where=w_g > 0)
            scale_o = np.divide(w_o - rest, w_o, out=np.zeros_like(w_o), where=w_o > 0)
            funded = np.where(g, base_w * scale_g, base_w * scale_o)
        crypto = np.full((*funded.shape[:-1], 1), s)
        w = np.concatenate([funded, crypto], axis=-1)
        c_idx = n_base
        if s > 0 and r.shape[-1] > c_idx:
            missing = ~np.isfinite(r[..., c_idx])
            if missing.any():
                if self.before_data == "cash":
                    return self._sleeve_to_cash(w, missing)
                hint = (
                    "build the scenarios from periods with data (periods_with_data)"
                    if self.before_data == "exclude"
                    else "fill the gaps first with strategies.crypto.fill_before_data(...)"
                )
                s_i, t_i = np.argwhere(missing)[0]
                raise StrategyError(
                    f"{self.name!r}: {self.crypto_asset!r} has no return in period {t_i} of "
                    f"scenario {s_i} and before_data={self.before_data!r}; {hint}, or use "
                    "before_data='cash'"
                )
        if self.before_data == "cash" and self.cash_asset not in self.base.assets:
            w = np.concatenate([w, np.zeros((*w.shape[:-1], 1))], axis=-1)
        return w

    def _sleeve_to_cash(self, w: FloatArray, missing: NDArray[np.bool_]) -> FloatArray:
        """Move the sleeve into the cash asset where the crypto return is missing."""
        n, t = missing.shape
        w = np.broadcast_to(w, (n, t, w.shape[-1]))
        all_assets = self.assets
        cash_i = all_assets.index(self.cash_asset)
        c_idx = len(self.base.assets)
        if w.shape[-1] < len(all_assets):
            w = np.concatenate([w, np.zeros((n, t, 1))], axis=-1)
        else:
            w = w.copy()
        moved = np.where(missing, w[..., c_idx], 0.0)
        w[..., c_idx] -= moved
        w[..., cash_i] += moved
        return w


# --------------------------------------------------------------------- before-data helpers


def periods_with_data(returns: FloatArray, asset_index: int) -> NDArray[np.bool_]:
    """Boolean mask (n_scenarios, n_periods): where asset ``asset_index`` has a return."""
    r = np.asarray(returns, dtype=np.float64)
    return np.isfinite(r[..., asset_index])


@dataclass(frozen=True)
class LognormalProxy:
    """A stated parametric stand-in for an asset's returns before its data begin.

    Log returns are i.i.d. normal, independent of every other asset:
    ``log(1 + r) ~ Normal(mean_log_annual / ppy, vol_log_annual**2 / ppy)`` per period
    of ``1 / ppy`` years -- the same parameterisation as ``backtest.generators.Proxy``
    (which :func:`fill_before_data` also accepts). Returns are decimal simple nominal
    returns per period, always > -100 %. The numbers are the user's assumption; nothing
    here is estimated from data.

    Attributes
    ----------
    mean_log_annual
        Mean of the annual log return, e.g. 0.20.
    vol_log_annual
        Standard deviation of the annual log return, e.g. 0.70.
    """

    mean_log_annual: float
    vol_log_annual: float

    def __post_init__(self) -> None:
        check_numbers(
            "LognormalProxy",
            mean_log_annual=self.mean_log_annual,
            vol_log_annual=self.vol_log_annual,
        )
        if not -5.0 < self.mean_log_annual < 5.0:
            raise StrategyError(
                f"LognormalProxy.mean_log_annual={self.mean_log_annual!r} must be a log return "
                "a year in (-5, 5), e.g. 0.20"
            )
        if not 0.0 <= self.vol_log_annual < 10.0:
            raise StrategyError(
                f"LognormalProxy.vol_log_annual={self.vol_log_annual!r} must be in [0, 10), "
                "e.g. 0.70"
            )

    def sample(
        self,
        shape: tuple[int, ...],
        periods_per_year: int,
        rng: np.random.Generator | int | None = None,
    ) -> FloatArray:
        """Draw decimal simple returns per period of the given shape."""
        return _lognormal(self.mean_log_annual, self.vol_log_annual, shape, periods_per_year, rng)


def _lognormal(
    mean_log_annual: float,
    vol_log_annual: float,
    shape: tuple[int, ...],
    periods_per_year: int,
    rng: np.random.Generator | int | None,
) -> FloatArray:
    gen = np.random.default_rng(rng)
    z = gen.standard_normal(shape)
    ppy = float(periods_per_year)
    return np.expm1(mean_log_annual / ppy + vol_log_annual / np.sqrt(ppy) * z)


def fill_before_data(
    returns: FloatArray,
    asset_index: int,
    rule: Literal["cash", "proxy"],
    *,
    cash_index: int | None = None,
    proxy: LognormalProxy | FloatArray | None = None,
    periods_per_year: int | None = None,
    rng: np.random.Generator | int | None = None,
) -> FloatArray:
    """Return a copy of ``returns`` with the missing returns of one asset filled.

    Pure: no I/O, the input is not modified. Use it when building scenarios for a
    strategy that holds the asset in periods before its data begin.

    Parameters
    ----------
    returns
        Decimal simple returns per period, (n_scenarios, n_periods, n_assets) or
        (n_periods, n_assets); NaN = no data.
    asset_index
        Column to fill (e.g. Bitcoin's).
    rule
        ``"cash"``: copy the return of column ``cash_index`` (the asset behaves like
        cash before its data); ``"proxy"``: take it from ``proxy``, either a
        :class:`LognormalProxy` or ``backtest.generators.Proxy`` (needs
        ``periods_per_year``; randomness from ``rng``) or
        an array of returns broadcastable to ``returns[..., asset_index]``.
        (``"exclude"`` is not a fill: restrict the periods with :func:`periods_with_data`.)
    cash_index, proxy, periods_per_year, rng
        As required by ``rule``.
    """
    r = np.array(returns, dtype=np.float64, copy=True)
    col = r[..., asset_index]
    missing = ~np.isfinite(col)
    if rule == "cash":
        if cash_index is None:
            raise StrategyError("fill_before_data(rule='cash') needs cash_index=")
        src = r[..., cash_index]
        if np.any(missing & ~np.isfinite(src)):
            raise StrategyError(
                "fill_before_data(rule='cash'): the cash column has no return in some period "
                "where the asset is missing too"
            )
    elif rule == "proxy":
        if hasattr(proxy, "mean_log_annual") and hasattr(proxy, "vol_log_annual"):
            if periods_per_year is None:
                raise StrategyError(
                    "fill_before_data(rule='proxy') with a parametric proxy needs "
                    "periods_per_year= (1 annual, 12 monthly)"
                )
            src = _lognormal(
                float(proxy.mean_log_annual),  # type: ignore[union-attr]
                float(proxy.vol_log_annual),  # type: ignore[union-attr]
                col.shape,
                periods_per_year,
                rng,
            )
        elif proxy is not None:
            src = np.broadcast_to(np.asarray(proxy, dtype=np.float64), col.shape)
            if np.any(missing & ~(np.isfinite(src) & (src > -1.0))):
                raise StrategyError(
                    "fill_before_data(rule='proxy'): the proxy series has NaN or returns <= "
                    "-100 % in periods it must fill"
                )
        else:
            raise StrategyError(
                "fill_before_data(rule='proxy') needs proxy=LognormalProxy(mean_log_annual, "
                "vol_log_annual) or an array of proxy returns"
            )
    elif rule == "exclude":
        raise StrategyError(
            "before_data='exclude' is not a fill: keep only the periods where "
            "periods_with_data(returns, asset_index) is true"
        )
    else:
        raise StrategyError(f"fill_before_data: rule={rule!r}; use 'cash' or 'proxy'")
    col[missing] = src[missing]
    return r
