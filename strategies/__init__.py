"""Strategies: what to hold when. Pure objects, no I/O and no simulation.

Target-date (:class:`GlidePath`, :class:`AgeBasedMix`), target-risk (:class:`FixedMix`,
:class:`VolatilityTarget`, :class:`RiskParity`), overlays (:class:`CryptoSleeve`,
:class:`Smoothed` with :class:`IncomeSmoothing`), rebalancing rules and presets
(:func:`preset`, :func:`list_presets`). The contract with the simulator is in
:mod:`strategies.base`.

Names are imported on first use (PEP 562), so importing a light submodule such as
:mod:`strategies.errors` does not load the volatility targets and with them
``scipy.signal`` (about 0.5-2 s): ``glidelab --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, typed, for type checkers and editors
    from strategies.base import (
        NoStateTable,
        RebalanceRule,
        Schedule,
        SleeveBand,
        Smoothing,
        Strategy,
        validate_weights,
    )
    from strategies.crypto import (
        CryptoSleeve,
        LognormalProxy,
        fill_before_data,
        periods_with_data,
    )
    from strategies.presets import PRESETS, describe_preset, list_presets, preset
    from strategies.rebalance import band, buy_and_hold, calendar
    from strategies.sleeve_exit import ExitSleeve, SellAfterDrawdown
    from strategies.smoothing import IncomeSmoothing, Smoothed
    from strategies.target_date import AgeBasedMix, GlidePath
    from strategies.target_risk import (
        FixedMix,
        RiskParity,
        VolatilityTarget,
        ewma_volatility,
        window_volatility,
    )
    from strategies.vintage_sleeve import GlidingSleeve

#: Public name -> submodule that defines it.
_EXPORTS: dict[str, str] = {
    "NoStateTable": "strategies.base",
    "RebalanceRule": "strategies.base",
    "Schedule": "strategies.base",
    "SleeveBand": "strategies.base",
    "Smoothing": "strategies.base",
    "Strategy": "strategies.base",
    "validate_weights": "strategies.base",
    "CryptoSleeve": "strategies.crypto",
    "LognormalProxy": "strategies.crypto",
    "fill_before_data": "strategies.crypto",
    "periods_with_data": "strategies.crypto",
    "PRESETS": "strategies.presets",
    "describe_preset": "strategies.presets",
    "list_presets": "strategies.presets",
    "preset": "strategies.presets",
    "band": "strategies.rebalance",
    "buy_and_hold": "strategies.rebalance",
    "calendar": "strategies.rebalance",
    "ExitSleeve": "strategies.sleeve_exit",
    "SellAfterDrawdown": "strategies.sleeve_exit",
    "IncomeSmoothing": "strategies.smoothing",
    "Smoothed": "strategies.smoothing",
    "AgeBasedMix": "strategies.target_date",
    "GlidePath": "strategies.target_date",
    "FixedMix": "strategies.target_risk",
    "RiskParity": "strategies.target_risk",
    "VolatilityTarget": "strategies.target_risk",
    "ewma_volatility": "strategies.target_risk",
    "window_volatility": "strategies.target_risk",
    "GlidingSleeve": "strategies.vintage_sleeve",
}

__all__ = [
    "PRESETS",
    "AgeBasedMix",
    "CryptoSleeve",
    "ExitSleeve",
    "FixedMix",
    "GlidePath",
    "GlidingSleeve",
    "IncomeSmoothing",
    "LognormalProxy",
    "NoStateTable",
    "RebalanceRule",
    "RiskParity",
    "Schedule",
    "SellAfterDrawdown",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'strategies' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
