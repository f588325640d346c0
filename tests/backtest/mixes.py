"""A fixed-weight strategy for simulator tests: the same targets every period, and, unlike
``strategies.FixedMix``, no checks or extras, so a test controls every input."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from strategies.base import NoStateTable, RebalanceRule, Schedule, SleeveBand


@dataclass(frozen=True)
class Mix(NoStateTable):
    """Weights ``w`` of ``assets`` (decimal, summing to 1) in every period."""

    depends_on_returns = False  # a class attribute (no annotation: not a field)
    name: str
    assets: tuple[str, ...]
    w: tuple[float, ...]
    rebalance: RebalanceRule = field(default_factory=lambda: RebalanceRule("calendar", 1))
    sleeve_band: SleeveBand | None = None
    smoothing: None = None

    def target_weights(self, schedule: Schedule, past_returns: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.array(self.w), (1, schedule.n_periods, len(self.w)))
