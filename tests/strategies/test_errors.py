"""Every error a strategy raises on bad input is a GlidelabError (and a ValueError).

The ``glidelab`` command catches ``GlidelabError`` only, so anything else would reach a
user as a traceback. Each case below is a constructor call a user could write; the test
fails if it is accepted or raises anything but a :class:`StrategyError`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import backtest.errors
import backtest.types
import strategies.types
from strategies import (
    AgeBasedMix,
    CryptoSleeve,
    FixedMix,
    GlidePath,
    IncomeSmoothing,
    LognormalProxy,
    RebalanceRule,
    RiskParity,
    SleeveBand,
    Smoothed,
    VolatilityTarget,
    band,
    calendar,
    fill_before_data,
    preset,
    validate_weights,
)
from strategies.errors import GlidelabError, StrategyError


def _mix() -> FixedMix:
    return FixedMix("60/40", ("eq", "bd"), (0.6, 0.4))


def _path(**kw: object) -> GlidePath:
    args: dict[str, object] = {
        "name": "p",
        "assets": ("eq", "bd"),
        "knots_years_to_retirement": (20.0, 0.0),
        "weights": ((0.9, 0.1), (0.5, 0.5)),
    }
    args.update(kw)
    return GlidePath(**args)  # type: ignore[arg-type]


BAD_INPUTS: dict[str, Callable[[], object]] = {
    # rebalancing rules
    "rebalance kind": lambda: RebalanceRule(kind="weekly"),  # type: ignore[arg-type]
    "rebalance months 0": lambda: RebalanceRule(every_months=0),
    "rebalance months text": lambda: RebalanceRule(every_months="12"),  # type: ignore[arg-type]
    "rebalance band 1.5": lambda: RebalanceRule(kind="band", band=1.5),
    "rebalance band None": lambda: RebalanceRule(kind="band", band=None),  # type: ignore[arg-type]
    "rebalance band kind": lambda: RebalanceRule(band_kind="percent"),  # type: ignore[arg-type]
    "calendar name": lambda: calendar("weekly"),  # type: ignore[arg-type]
    "calendar None": lambda: calendar(None),  # type: ignore[arg-type]
    "band text": lambda: band("5%"),  # type: ignore[arg-type]
    "sleeve band inverted": lambda: SleeveBand("btc", 1.2, 0.8),
    "sleeve band text": lambda: SleeveBand("btc", "low"),  # type: ignore[arg-type]
    # glide paths
    "path no assets": lambda: _path(assets=()),
    "path assets as string": lambda: _path(assets="eq,bd"),
    "path repeated asset": lambda: _path(assets=("eq", "eq")),
    "path weights over 1": lambda: _path(weights=((1.2, -0.2), (0.5, 0.5))),
    "path weights not summing": lambda: _path(weights=((0.9, 0.2), (0.5, 0.5))),
    "path weights text": lambda: _path(weights=(("a", "b"), (0.5, 0.5))),
    "path weights ragged": lambda: _path(weights=((0.9, 0.1), (1.0,))),
    "path weights NaN": lambda: _path(weights=((np.nan, 0.1), (0.5, 0.5))),
    "path one row for two knots": lambda: _path(weights=((0.5, 0.5),)),
    "path repeated knot": lambda: _path(knots_years_to_retirement=(0.0, 0.0)),
    "path knots text": lambda: _path(knots_years_to_retirement=("twenty", 0.0)),
    "path no knots": lambda: _path(knots_years_to_retirement=(), weights=()),
    "path unknown equity": lambda: _path(equity_asset="btc"),
    "path rising equity": lambda: _path(weights=((0.5, 0.5), (0.9, 0.1)), monotone_equity=True),
    "path rebalance text": lambda: _path(rebalance="annual"),
    "age mix same assets": lambda: AgeBasedMix("m", "eq", "eq"),
    "age mix bounds": lambda: AgeBasedMix("m", min_equity=0.8, max_equity=0.2),
    "age mix offset text": lambda: AgeBasedMix("m", offset="100"),  # type: ignore[arg-type]
    "age mix offset inf": lambda: AgeBasedMix("m", offset=float("inf")),
    # target risk
    "mix short weights": lambda: FixedMix("m", ("eq", "bd"), (1.0,)),
    "mix two rows": lambda: FixedMix("m", ("eq", "bd"), ((0.5, 0.5), (0.5, 0.5))),  # type: ignore[arg-type]
    "mix no assets": lambda: FixedMix("m", (), ()),
    "mix weights None": lambda: FixedMix("m", ("eq", "bd"), None),  # type: ignore[arg-type]
    "vol target same assets": lambda: VolatilityTarget("v", "eq", "eq"),
    "vol target 0": lambda: VolatilityTarget("v", target_vol_annual=0.0),
    "vol target percent text": lambda: VolatilityTarget("v", target_vol_annual="10%"),  # type: ignore[arg-type]
    "vol target bounds": lambda: VolatilityTarget("v", min_risky=0.9, max_risky=0.1),
    "vol target warm-up": lambda: VolatilityTarget("v", warmup_risky=2.0),
    "vol target estimator": lambda: VolatilityTarget("v", estimator="garch"),  # type: ignore[arg-type]
    "vol target window with ewma": lambda: VolatilityTarget("v", window_periods=12),
    "vol target half-life twice": lambda: VolatilityTarget(
        "v", halflife_periods=12, halflife_years=1.0
    ),
    "vol target half-life 0": lambda: VolatilityTarget("v", halflife_years=0.0),
    "vol target half-life text": lambda: VolatilityTarget("v", halflife_years="1y"),  # type: ignore[arg-type]
    "vol target window 1": lambda: VolatilityTarget("v", estimator="window", window_periods=1),
    "vol target min history 1": lambda: VolatilityTarget("v", min_history_periods=1),
    "risk parity one asset": lambda: RiskParity("r", ("eq",)),
    "risk parity warm-up": lambda: RiskParity("r", ("eq", "bd"), warmup_weights=(0.9, 0.9)),
    "risk parity warm-up years 0": lambda: RiskParity("r", ("eq", "bd"), min_history_years=0.0),
    "risk parity warm-up twice": lambda: RiskParity(
        "r", ("eq", "bd"), min_history_periods=24, min_history_years=2.0
    ),
    # crypto
    "sleeve base None": lambda: CryptoSleeve(None, 0.05),  # type: ignore[arg-type]
    "sleeve weight 1": lambda: CryptoSleeve(_mix(), 1.0),
    "sleeve weight text": lambda: CryptoSleeve(_mix(), "5%"),  # type: ignore[arg-type]
    "sleeve over cap": lambda: CryptoSleeve(_mix(), 0.2, cap=0.1),
    "sleeve cap 0": lambda: CryptoSleeve(_mix(), 0.05, cap=0.0),
    "sleeve funded from": lambda: CryptoSleeve(_mix(), 0.05, funded_from="gold"),  # type: ignore[arg-type]
    "sleeve funded from equity, none named": lambda: CryptoSleeve(
        _mix(), 0.05, funded_from="equity", equity_assets=("us_stocks",)
    ),
    "sleeve before data": lambda: CryptoSleeve(_mix(), 0.05, before_data="zero"),  # type: ignore[arg-type]
    "sleeve cash is crypto": lambda: CryptoSleeve(
        _mix(), 0.05, before_data="cash", cash_asset="btc"
    ),
    "sleeve band wrong type": lambda: CryptoSleeve(_mix(), 0.05, band="wide"),  # type: ignore[arg-type]
    "sleeve band other asset": lambda: CryptoSleeve(_mix(), 0.05, band=SleeveBand("eth")),
    "sleeve base holds crypto": lambda: CryptoSleeve(
        FixedMix("m", ("eq", "btc"), (0.9, 0.1)), 0.05
    ),
    "sleeve on sleeve": lambda: CryptoSleeve(CryptoSleeve(_mix(), 0.05), 0.05, crypto_asset="eth"),
    "proxy mean": lambda: LognormalProxy(50.0, 0.7),
    "proxy vol negative": lambda: LognormalProxy(0.2, -0.1),
    "proxy text": lambda: LognormalProxy("0.2", 0.7),  # type: ignore[arg-type]
    "fill cash without index": lambda: fill_before_data(np.zeros((3, 2)), 0, "cash"),
    "fill proxy without proxy": lambda: fill_before_data(np.zeros((3, 2)), 0, "proxy"),
    "fill exclude": lambda: fill_before_data(np.zeros((3, 2)), 0, "exclude"),  # type: ignore[arg-type]
    "fill unknown rule": lambda: fill_before_data(np.zeros((3, 2)), 0, "zero"),  # type: ignore[arg-type]
    # smoothing
    "smoothing share": lambda: IncomeSmoothing(share_above=1.5),
    "smoothing benchmark": lambda: IncomeSmoothing(benchmark_annual=3.0),
    "smoothing floor": lambda: IncomeSmoothing(reserve_floor=-0.1),
    "smoothing cap": lambda: IncomeSmoothing(reserve_floor=0.2, reserve_cap=0.1),
    "smoothing text": lambda: IncomeSmoothing(share_above="half"),  # type: ignore[arg-type]
    "smoothed twice": lambda: Smoothed(Smoothed(_mix(), IncomeSmoothing()), IncomeSmoothing()),
    "smoothed base None": lambda: Smoothed(None, IncomeSmoothing()),  # type: ignore[arg-type]
    "smoothed rule None": lambda: Smoothed(_mix(), None),  # type: ignore[arg-type]
    # presets and weight checks
    "preset unknown": lambda: preset("fixed_61_39"),
    "preset unknown keyword": lambda: preset("fixed_60_40", stocks="us_stocks"),
    "preset bad sleeve option": lambda: preset("btc_sleeve_5", cap=0.01),
    "preset bad rebalance": lambda: preset("fixed_60_40", rebalance=RebalanceRule(band=2.0)),
    "weights wrong width": lambda: validate_weights(np.ones((2, 3)) / 3, ("a", "b"), "t"),
    "weights not summing": lambda: validate_weights(np.ones((2, 2)), ("a", "b"), "t"),
}


@pytest.mark.parametrize("make", list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_raises_a_glidelab_error(make: Callable[[], object]) -> None:
    with pytest.raises(GlidelabError) as info:
        make()
    assert isinstance(info.value, StrategyError)
    assert isinstance(info.value, ValueError)  # ``except ValueError`` callers keep working
    message = str(info.value)
    assert message and "\n" not in message  # one line for the command to print


def test_failing_target_weights_raise_a_glidelab_error() -> None:
    from strategies import Schedule

    sleeve = CryptoSleeve(_mix(), 0.05)  # before_data="exclude"
    schedule = Schedule.from_ages(60, 62, 65, 1)
    returns = np.array([[[0.05, 0.02, np.nan], [0.05, 0.02, 0.5]]])
    with pytest.raises(StrategyError, match="periods_with_data"):
        sleeve.target_weights(schedule, returns)


def test_one_definition_of_the_vocabulary() -> None:
    # backtest re-exports the ground floor's classes and aliases, it does not redefine them
    assert backtest.errors.GlidelabError is GlidelabError
    assert backtest.errors.StrategyError is StrategyError
    assert issubclass(backtest.errors.DataError, GlidelabError)
    assert backtest.types.FloatArray is strategies.types.FloatArray
    assert backtest.types.BoolArray is strategies.types.BoolArray
    assert backtest.types.IntArray is strategies.types.IntArray
    assert backtest.types.ASSET_ROLES is strategies.types.ASSET_ROLES
