"""Strategies: what to hold when. Pure objects, no I/O and no simulation.

Target-date (:class:`GlidePath`, :class:`AgeBasedMix`), target-risk (:class:`FixedMix`,
:class:`VolatilityTarget`, :class:`RiskParity`), overlays (:class:`CryptoSleeve`,
:class:`Smoothed` with :class:`IncomeSmoothing`), rebalancing rules and presets
(:func:`preset`, :func:`list_presets`). The contract with the simulator is in
:mod:`strategies.base`.
"""

from strategies.base import (
    NoStateTable,
    RebalanceRule,
    Schedule,
    SleeveBand,
    Smoothing,
    Strategy,
    validate_weights,
)
from strategies.crypto import CryptoSleeve, LognormalProxy, fill_before_data, periods_with_data
from strategies.presets import PRESETS, describe_preset, list_presets, preset
from strategies.rebalance import band, buy_and_hold, calendar
from strategies.smoothing import IncomeSmoothing, Smoothed
from strategies.target_date import AgeBasedMix, GlidePath
from strategies.target_risk import (
    FixedMix,
    RiskParity,
    VolatilityTarget,
    ewma_volatility,
    window_volatility,
)

__all__ = [
    "PRESETS",
    "AgeBasedMix",
    "CryptoSleeve",
    "FixedMix",
    "GlidePath",
    "IncomeSmoothing",
    "LognormalProxy",
    "NoStateTable",
    "RebalanceRule",
    "RiskParity",
    "Schedule",
    "SleeveBand",
    "Smoothed",
    "Smoothing",
    "Strategy",
    "VolatilityTarget",
    "band",
    "buy_and_hold",
    "calendar",
    "describe_preset",
    "ewma_volatility",
    "fill_before_data",
    "list_presets",
    "periods_with_data",
    "preset",
    "validate_weights",
    "window_volatility",
]
