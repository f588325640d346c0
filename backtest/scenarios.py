"""Return scenarios: the container every generator produces and the simulator consumes.

A :class:`Scenarios` holds decimal simple **nominal** returns per period for every asset,
shape (n_scenarios, n_periods, n_assets), and the inflation (CPI change) of the same
periods, shape (n_scenarios, n_periods). The period length is explicit in ``frequency``.
Generators (historical cohorts, block bootstrap, parametric) live in
``backtest.generators``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backtest.errors import DataError
from backtest.types import FloatArray, Frequency, periods_per_year, read_only


@dataclass(frozen=True)
class Scenarios:
    """A set of equally likely return paths.

    Attributes
    ----------
    returns
        Decimal simple nominal returns per period, (n_scenarios, n_periods, n_assets).
        NaN marks a period where an asset has no data (e.g. Bitcoin before 2010); the
        simulator refuses NaN where a strategy holds that asset.
    inflation
        Decimal CPI change per period, (n_scenarios, n_periods).
    assets
        Asset names, one per last-axis column.
    frequency
        ``"annual"`` or ``"monthly"``: the length of one period.
    labels
        Optional label per scenario (a cohort's first period, e.g. ``"1966"``).
    description
        How the scenarios were made (generator, data, seed); goes into reports.
    """

    returns: FloatArray
    inflation: FloatArray
    assets: tuple[str, ...]
    frequency: Frequency
    labels: tuple[str, ...] | None = None
    description: str = ""
    meta: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        r = np.asarray(self.returns, dtype=np.float64)
        i = np.asarray(self.inflation, dtype=np.float64)
        periods_per_year(self.frequency)  # validates the name
        if r.ndim != 3:
            raise DataError(
                f"Scenarios.returns must be 3-D (n_scenarios, n_periods, n_assets); got shape "
                f"{r.shape}"
            )
        if i.shape != r.shape[:2]:
            raise DataError(
                f"Scenarios.inflation must have shape {r.shape[:2]} (n_scenarios, n_periods); "
                f"got {i.shape}"
            )
        if len(self.assets) != r.shape[2] or len(set(self.assets)) != len(self.assets):
            raise DataError(
                f"Scenarios.assets {self.assets} must name each of the {r.shape[2]} asset "
                "columns once"
            )
        if not np.all(np.isfinite(i)):
            raise DataError("Scenarios.inflation contains NaN or infinity")
        finite = r[np.isfinite(r)]
        if finite.size and finite.min() <= -1.0:
            raise DataError(
                f"Scenarios.returns has a return of {finite.min():.4f} <= -100 %; returns are "
                "decimal simple returns per period (0.05 = +5 %)"
            )
        if np.any(np.isinf(r)):
            raise DataError("Scenarios.returns contains infinity")
        if self.labels is not None and len(self.labels) != r.shape[0]:
            raise DataError(
                f"Scenarios.labels has {len(self.labels)} entries for {r.shape[0]} scenarios"
            )
        object.__setattr__(self, "returns", read_only(r))
        object.__setattr__(self, "inflation", read_only(i))
        object.__setattr__(self, "assets", tuple(self.assets))

    @property
    def n_scenarios(self) -> int:
        return int(self.returns.shape[0])

    @property
    def n_periods(self) -> int:
        return int(self.returns.shape[1])

    @property
    def n_assets(self) -> int:
        return int(self.returns.shape[2])

    @property
    def periods_per_year(self) -> int:
        return periods_per_year(self.frequency)

    @property
    def nbytes(self) -> int:
        """Memory held by the return and inflation arrays, in bytes."""
        return int(self.returns.nbytes + self.inflation.nbytes)

    def real_returns(self) -> FloatArray:
        """Decimal real returns per period: ``(1 + r) / (1 + inflation) - 1``."""
        return (1.0 + self.returns) / (1.0 + self.inflation[:, :, None]) - 1.0

    def asset_index(self, names: tuple[str, ...] | list[str]) -> list[int]:
        """Column positions of ``names``; a clear error names any that are missing."""
        missing = [a for a in names if a not in self.assets]
        if missing:
            raise DataError(
                f"assets {missing} are not in these scenarios; available: {list(self.assets)}"
            )
        return [self.assets.index(a) for a in names]

    def select(self, names: tuple[str, ...] | list[str]) -> Scenarios:
        """The same scenarios restricted to (and ordered as) ``names``."""
        idx = self.asset_index(names)
        return Scenarios(
            returns=self.returns[:, :, idx],
            inflation=self.inflation,
            assets=tuple(names),
            frequency=self.frequency,
            labels=self.labels,
            description=self.description,
            meta=dict(self.meta),
        )

    def take(self, index: slice | np.ndarray) -> Scenarios:
        """A subset of scenarios (rows), e.g. a chunk ``slice(0, 10_000)``."""
        labels = None
        if self.labels is not None:
            labels = tuple(np.asarray(self.labels, dtype=object)[index].tolist())
        return Scenarios(
            returns=self.returns[index],
            inflation=self.inflation[index],
            assets=self.assets,
            frequency=self.frequency,
            labels=labels,
            description=self.description,
            meta=dict(self.meta),
        )

    def head(self, n_periods: int) -> Scenarios:
        """The first ``n_periods`` periods of every scenario."""
        if not 0 < n_periods <= self.n_periods:
            raise DataError(
                f"cannot take {n_periods} periods from scenarios of {self.n_periods} periods"
            )
        return Scenarios(
            returns=self.returns[:, :n_periods],
            inflation=self.inflation[:, :n_periods],
            assets=self.assets,
            frequency=self.frequency,
            labels=self.labels,
            description=self.description,
            meta=dict(self.meta),
        )
