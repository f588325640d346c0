"""Scenarios drawn inside the compiled engine: bootstraps of a history table, never stored.

A :class:`GeneratedScenarios` is a :class:`backtest.scenarios.Scenarios` that holds the
*recipe* instead of the arrays: a history table (decimal simple nominal returns per
period of each asset, and inflation, of whole historical rows), the block length, the
seed, the number of scenarios and periods. Row ``t`` of scenario ``s`` is drawn from
counter-based uniforms keyed by (seed, s, t) (``backtest.counter_rng``), so

* ``backtest.simulate`` runs the fused kernel on it when the strategy's targets do not
  read returns (fixed mixes, glide paths, state tables) and no realised weights are
  asked for: each block of 64 scenarios draws its rows and reads the table (a few tens
  of KB, in cache) inside the compiled loop, and no scenario array is ever made;
* everything else reads ``.returns`` / ``.inflation``, which this module materialises
  with the numpy twin of the same draws (:func:`row_indices`), bit for bit;
* a scenario is the same in any chunk (``take``), at any horizon (``head``) and on any
  thread or worker: its numbers depend on its key only.

The bootstrap is Politis and Romano's (1994) stationary bootstrap of whole rows (all
assets and inflation of one period): the first period starts a block at a uniform row;
each later period starts a new block with probability ``1 / block_length``, else takes
the next row (wrapping to the first). ``block_length = 1`` is the i.i.d. bootstrap.
Its draws differ from ``backtest.generators.block_bootstrap`` (another random source),
so results made with one are not reproduced by the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from backtest.counter_rng import below_np, draws_np, scenario_keys_np, seed_key, threshold_np
from backtest.errors import DataError
from backtest.scenarios import Scenarios
from backtest.types import FloatArray, Frequency, infer_frequency, periods_per_year, read_only


class Draws(NamedTuple):
    """What the kernel draws from (``backtest.kernel._loop``'s ``gen`` argument).

    Attributes
    ----------
    kind
        ``DRAW_ARRAYS`` (0): read the given return arrays; ``DRAW_BOOTSTRAP`` (1): draw.
    returns
        (H, 1, A) the table's decimal simple nominal returns, one row per history period.
    inflation
        (H, 1) the table's decimal inflation.
    key
        The seed's 64-bit key (``counter_rng.seed_key``).
    p_new
        Probability that a period starts a new block, ``1 / block_length``.
    offset
        Index of the first scenario (a chunk's place in the whole set), uint64.
    """

    kind: int
    returns: FloatArray
    inflation: FloatArray
    key: np.uint64
    p_new: float
    offset: np.uint64


DRAW_ARRAYS, DRAW_BOOTSTRAP = 0, 1


def no_draws(n_assets: int) -> Draws:
    """The placeholder :class:`Draws` of stored scenarios (one compiled type for both)."""
    return Draws(
        DRAW_ARRAYS, np.zeros((1, 1, n_assets)), np.zeros((1, 1)), np.uint64(0), 1.0, np.uint64(0)
    )


def row_indices(
    key: np.uint64, p_new: float, n_rows: int, scenarios: np.ndarray, n_periods: int
) -> np.ndarray:
    """History rows (n, T) of the given absolute scenario indices: the numpy twin of the
    kernel's draws (``backtest.kernel._fill_drawn``), int64.

    Stream 1 of period ``t`` picks the row a block would start at (``below``); stream 0
    decides whether one starts, ``uniform < p_new`` (always at ``t = 0``; never read when
    ``p_new >= 1``).
    """
    keys = scenario_keys_np(key, scenarios)
    t = np.arange(n_periods)
    start = below_np(draws_np(keys, t, 1), n_rows)
    if p_new >= 1.0:
        return start
    new = (draws_np(keys, t, 0) >> np.uint64(11)) < threshold_np(p_new)  # uniform < p_new
    new[:, 0] = True
    t_block = np.maximum.accumulate(np.where(new, t, 0), axis=1)
    first = np.take_along_axis(start, t_block, axis=1)
    return (first + (t - t_block)) % n_rows


class GeneratedScenarios(Scenarios):
    """Bootstrap scenarios described, not stored; see the module docstring.

    Build with :func:`bootstrap_in_engine` (a history DataFrame) or
    :func:`from_table` (arrays). ``returns`` and ``inflation`` are materialised on first
    access (and kept); :meth:`materialise` gives a plain :class:`Scenarios`.
    """

    table_returns: FloatArray  # (H, A) decimal simple nominal returns per period
    table_inflation: FloatArray  # (H,) decimal inflation per period
    block_length: float
    seed: int
    offset: int
    count: int
    length: int
    _cache: dict[str, np.ndarray]

    def __init__(
        self,
        table_returns: FloatArray,
        table_inflation: FloatArray,
        assets: Sequence[str],
        frequency: Frequency,
        n_scenarios: int,
        n_periods: int,
        block_length: float = 1.0,
        seed: int = 0,
        offset: int = 0,
        description: str = "",
        meta: dict[str, object] | None = None,
    ) -> None:
        r = read_only(np.array(table_returns, dtype=np.float64, order="C", ndmin=2))
        i = read_only(np.array(table_inflation, dtype=np.float64).reshape(-1))
        _check_table(r, i, tuple(assets), block_length, n_scenarios, n_periods, offset)
        periods_per_year(frequency)  # validates the name
        seed_key(seed)  # validates the seed
        for name, value in (
            ("table_returns", r),
            ("table_inflation", i),
            ("assets", tuple(assets)),
            ("frequency", frequency),
            ("labels", None),
            ("description", description),
            ("meta", dict(meta or {})),
            ("block_length", float(block_length)),
            ("seed", int(seed)),
            ("offset", int(offset)),
            ("count", int(n_scenarios)),
            ("length", int(n_periods)),
            ("_cache", {}),
        ):
            object.__setattr__(self, name, value)

    def __getstate__(self) -> dict[str, object]:
        """Pickled (e.g. to a Dask worker) as its recipe: materialised arrays stay behind."""
        return {**self.__dict__, "_cache": {}}

    def __repr__(self) -> str:
        return (
            f"GeneratedScenarios({self.count} x {self.length} {self.frequency} periods, "
            f"assets={self.assets}, block_length={self.block_length}, seed={self.seed}, "
            f"offset={self.offset}, {self.table_returns.shape[0]} history rows)"
        )

    # ---- the recipe, as the kernel reads it
    def draws(self, names: Sequence[str] | None = None) -> Draws:
        """The kernel's :class:`Draws` for the assets ``names`` (default: all, in order)."""
        idx = self.asset_index(tuple(names)) if names is not None else list(range(self.n_assets))
        # writable C-contiguous copies: the placeholder's types (``no_draws``), so one
        # compiled loop serves both routes (a read-only view would compile another)
        return Draws(
            DRAW_BOOTSTRAP,
            np.array(self.table_returns[:, None, idx], dtype=np.float64, order="C"),
            np.array(self.table_inflation[:, None], dtype=np.float64, order="C"),
            seed_key(self.seed),
            1.0 / self.block_length,
            np.uint64(self.offset),
        )

    def rows(self) -> np.ndarray:
        """History rows drawn for every scenario and period, (n, T) int64."""
        if "rows" not in self._cache:
            self._cache["rows"] = row_indices(
                seed_key(self.seed),
                1.0 / self.block_length,
                self.table_returns.shape[0],
                np.arange(self.offset, self.offset + self.count),
                self.length,
            )
        return self._cache["rows"]

    # ---- the Scenarios interface, lazily
    @property
    def returns(self) -> FloatArray:
        """Decimal simple nominal returns, (n, T, A), materialised on first access."""
        if "returns" not in self._cache:
            self._cache["returns"] = read_only(self.table_returns[self.rows()])
        return self._cache["returns"]

    @property
    def inflation(self) -> FloatArray:
        """Decimal inflation, (n, T), materialised on first access."""
        if "inflation" not in self._cache:
            self._cache["inflation"] = read_only(self.table_inflation[self.rows()])
        return self._cache["inflation"]

    @property
    def returns_materialised(self) -> bool:
        """Whether ``returns`` has been materialised (the fused kernel never does)."""
        return "returns" in self._cache

    @property
    def n_scenarios(self) -> int:
        return self.count

    @property
    def n_periods(self) -> int:
        return self.length

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    @property
    def nbytes(self) -> int:
        """Bytes the materialised arrays would hold (the recipe itself holds the table)."""
        return 8 * self.count * self.length * (self.n_assets + 1)

    def materialise(self) -> Scenarios:
        """The same scenarios as a plain :class:`Scenarios` (arrays in memory)."""
        return Scenarios(
            returns=self.returns,
            inflation=self.inflation,
            assets=self.assets,
            frequency=self.frequency,
            description=self.description,
            meta=dict(self.meta),
        )

    def _with(self, **changes: object) -> GeneratedScenarios:
        spec: dict[str, object] = {
            "table_returns": self.table_returns,
            "table_inflation": self.table_inflation,
            "assets": self.assets,
            "frequency": self.frequency,
            "n_scenarios": self.count,
            "n_periods": self.length,
            "block_length": self.block_length,
            "seed": self.seed,
            "offset": self.offset,
            "description": self.description,
            "meta": dict(self.meta),
        }
        spec.update(changes)
        return GeneratedScenarios(**spec)  # type: ignore[arg-type]

    def select(self, names: tuple[str, ...] | list[str]) -> GeneratedScenarios:
        """The same scenarios restricted to (and ordered as) ``names`` (same draws)."""
        idx = self.asset_index(names)
        return self._with(table_returns=self.table_returns[:, idx], assets=tuple(names))

    def take(self, index: slice | np.ndarray) -> Scenarios:
        """A subset of scenarios; a contiguous slice stays generated (same draws), any
        other index materialises."""
        if isinstance(index, slice) and index.step in (None, 1):
            lo, hi, _ = index.indices(self.count)
            return self._with(n_scenarios=max(0, hi - lo), offset=self.offset + lo)
        return self.materialise().take(index)

    def head(self, n_periods: int) -> GeneratedScenarios:
        """The first ``n_periods`` periods of every scenario (same draws)."""
        if not 0 < n_periods <= self.length:
            raise DataError(
                f"cannot take {n_periods} periods from scenarios of {self.length} periods"
            )
        return self._with(n_periods=n_periods)


def _check_table(
    r: FloatArray,
    i: FloatArray,
    assets: tuple[str, ...],
    block_length: float,
    n_scenarios: int,
    n_periods: int,
    offset: int,
) -> None:
    """Refuse a table or recipe the kernel could not draw from, saying what to fix."""
    if r.ndim != 2 or r.shape[0] != i.shape[0] or r.shape[0] < 2:
        raise DataError(
            f"the history table must be (H, A) returns and (H,) inflation with H >= 2 rows; "
            f"got {r.shape} and {i.shape}"
        )
    if len(assets) != r.shape[1] or len(set(assets)) != len(assets):
        raise DataError(f"assets {assets} must name each of the {r.shape[1]} table columns once")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(i))):
        raise DataError(
            "the history table has NaN or infinite values; keep only rows where every asset "
            "and inflation have data (e.g. frame.dropna())"
        )
    if r.min() <= -1.0 or i.min() <= -1.0:
        raise DataError("the history table has a return <= -100 %; returns are decimal")
    if not (np.isfinite(block_length) and block_length >= 1.0):
        raise DataError(f"block_length={block_length!r} must be >= 1 period (1: i.i.d.)")
    if n_scenarios < 0 or n_periods < 1 or offset < 0:
        raise DataError(
            f"n_scenarios={n_scenarios}, n_periods={n_periods}, offset={offset}: need "
            "n_scenarios >= 0, n_periods >= 1 and offset >= 0"
        )


def from_table(
    returns: FloatArray,
    inflation: FloatArray,
    assets: Sequence[str],
    frequency: Frequency,
    n_scenarios: int,
    n_periods: int,
    *,
    block_length: float = 1.0,
    seed: int = 0,
) -> GeneratedScenarios:
    """Stationary (``block_length > 1``) or i.i.d. (``1``) bootstrap of a history table.

    ``returns`` (H, A) and ``inflation`` (H,) are decimal simple nominal returns and CPI
    change per period of ``frequency``; block length in periods; ``seed`` an int in
    [0, 2**64).
    """
    kind = "i.i.d." if block_length == 1.0 else f"stationary block (length {block_length:g})"
    desc = (
        f"{kind} bootstrap drawn in the engine of {len(inflation)} {frequency} rows, seed "
        f"{seed}, {n_scenarios} x {n_periods} periods"
    )
    meta: dict[str, object] = {
        "generator": "bootstrap_in_engine",
        "block_length": float(block_length),
        "seed": int(seed),
        "history_rows": len(inflation),
    }
    return GeneratedScenarios(
        returns,
        inflation,
        assets,
        frequency,
        n_scenarios,
        n_periods,
        block_length=block_length,
        seed=seed,
        description=desc,
        meta=meta,
    )


def bootstrap_in_engine(
    history: pd.DataFrame,
    assets: Sequence[str],
    n_scenarios: int,
    n_periods: int,
    *,
    block_length: float = 1.0,
    seed: int = 0,
    inflation_column: str = "cpi",
    frequency: Frequency | None = None,
) -> GeneratedScenarios:
    """:func:`from_table` on the rows of ``history`` where every asset and inflation have
    data (decimal simple nominal returns per period; rows with a gap are dropped)."""
    missing = [c for c in (*assets, inflation_column) if c not in history.columns]
    if missing:
        raise DataError(f"history has no column {missing}; available: {list(history.columns)}")
    frame = history[[*assets, inflation_column]].dropna()
    freq = frequency or infer_frequency(frame.index)
    out = from_table(
        frame[list(assets)].to_numpy(dtype=np.float64),
        frame[inflation_column].to_numpy(dtype=np.float64),
        assets,
        freq,
        n_scenarios,
        n_periods,
        block_length=block_length,
        seed=seed,
    )
    out.meta["dropped_missing"] = int(len(history) - len(frame))
    return out
