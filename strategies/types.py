"""The project's shared type vocabulary, on the ground floor so every layer can use it.

Array aliases for numpy arrays of one dtype, and the asset roles (what an asset *is*
for the rules that group assets: which count as equity, which is cash...). The roles
of the embedded series live on their metadata (``backtest.data.embedded``); strategies
never look them up: a caller passes asset names in. ``backtest.types`` re-exports these.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["ASSET_ROLES", "AssetRole", "BoolArray", "FloatArray", "IntArray"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]

AssetRole = Literal["equity", "bond", "cash", "crypto", "real_asset", "inflation"]
#: Every asset role: ``"equity"`` stocks; ``"bond"`` bonds of any issuer and maturity
#: beyond cash; ``"cash"`` bills and money market; ``"crypto"`` crypto-currencies;
#: ``"real_asset"`` gold, property; ``"inflation"`` a price index (CPI), not investable.
ASSET_ROLES: tuple[AssetRole, ...] = ("equity", "bond", "cash", "crypto", "real_asset", "inflation")
