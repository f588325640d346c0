"""Scenarios drawn inside the compiled engine: bootstraps and a lognormal, never stored.

A :class:`GeneratedScenarios` is a :class:`backtest.scenarios.Scenarios` that holds the
*recipe* instead of the arrays, with the seed and the number of scenarios and periods:
a history table (decimal simple nominal returns per period of each asset, and
inflation, of whole historical rows) and a block length (:class:`BootstrapScenarios`),
or per-period log means and a covariance root (:class:`ParametricScenarios`). Period
``t`` of scenario ``s`` is drawn from counter-based random numbers keyed by (seed, s, t)
(``backtest.counter_rng``), so

* ``backtest.simulate`` runs the fused kernel on it when the strategy's targets do not
  read returns (fixed mixes, glide paths, state tables) and no realised weights are
  asked for: each block of 64 scenarios draws its rows and reads the table (a few tens
  of KB, in cache), or draws its normals, inside the compiled loop, and no scenario
  array is ever made;
* everything else reads ``.returns`` / ``.inflation``, which this module materialises
  with the numpy twin of the same draws (:func:`row_indices`,
  :func:`lognormal_returns`), bit for bit;
* a scenario is the same in any chunk (``take``), at any horizon (``head``) and on any
  thread or worker: its numbers depend on its key only.

The bootstrap is Politis and Romano's (1994) stationary bootstrap of whole rows (all
assets and inflation of one period): the first period starts a block at a uniform row;
each later period starts a new block with probability ``1 / block_length``, else takes
the next row (wrapping to the first). ``block_length = 1`` is the i.i.d. bootstrap.
Its draws differ from ``backtest.generators.block_bootstrap`` (another random source),
so results made with one are not reproduced by the other.

The lognormal (:func:`parametric_in_engine`) is ``generators.parametric``'s normal model:
``log(1 + r)`` of the assets and inflation is ``mean + root @ z`` per period with ``k``
standard normals ``z`` (``counter_rng.normal``, one counter each), so a period's
returns are jointly lognormal with the given annual log moments divided by the periods
a year. Its normals, log and exponential are pure arithmetic (``counter_rng``), so the
kernel and the numpy twin (:func:`lognormal_returns`) agree bit for bit here too; again
other draws than ``generators.parametric``'s.

Capital-market-assumption scenarios (:class:`CmaScenarios`, built by
``backtest.cma.cma_in_engine``) are moment-matched over the whole set: each
scenario-year's raw real returns (the same counter-based normals, Student-t scaled by a
chi-square of an integer number of further squared normals, exponentiated:
:func:`cma_raw_returns`) go through one affine map ``real = c + raw W``
(:func:`cma_matched`) that makes the whole set's sample mean and covariance the stated
ones. The map depends on every draw, so ``cma_in_engine`` fits it once in a pre-pass
over all ``n x T`` raw draws (numpy, fixed-size chunks) and the recipe carries ``W`` and
``c``: the kernel then draws a scenario from its own key and the fixed map (an affine
step after the exponential, square root included: correctly rounded, so bit for bit
again), and a ``take``, ``head`` or worker keeps the same numbers. Inflation is the
stated constant. A column the file does not state (a study's crypto asset;
:meth:`CmaScenarios.with_columns`) has no data, as on the stored route: NaN in the
materialised returns, and in the kernel a zero map (a finite return that a zero holding
multiplies); ``backtest.simulate`` refuses a strategy that holds it
(:attr:`GeneratedScenarios.no_data`). A Student-t of non-integer degrees of freedom
stays stored (``backtest.cma.engine_route``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from backtest.counter_rng import (
    below_np,
    draws_np,
    draws_wide_np,
    exp_np,
    normals_np,
    scenario_keys_np,
    seed_key,
    threshold_np,
)
from backtest.errors import DataError
from backtest.scenarios import Scenarios
from backtest.types import FloatArray, Frequency, infer_frequency, periods_per_year, read_only


class Draws(NamedTuple):
    """What the kernel draws from (``backtest.kernel._loop``'s ``gen`` argument).

    One compiled type serves every route: the fields a kind does not read hold small
    placeholders of the same types.

    Attributes
    ----------
    kind
        ``DRAW_ARRAYS`` (0): read the given return arrays; ``DRAW_BOOTSTRAP`` (1): draw
        rows of the table; ``DRAW_PARAMETRIC`` (2): draw lognormal returns; ``DRAW_CMA``
        (3): draw lognormal (or Student-t) returns and moment-match them.
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
    mean
        (A + 1,) per-period mean of the log returns of the assets, then inflation.
    root
        (A + 1, k) per-period covariance root: log returns are ``mean + root @ z`` for
        ``k`` standard normals ``z`` (``k`` is the model's assets + 1). For a CMA set
        (``DRAW_CMA``) ``mean`` (K,) and ``root`` (K, K) are the model's K assets' log
        moments, without an inflation row.
    post
        ``DRAW_CMA``: (K, A) the moment-matching map ``W``: real return of asset ``a`` is
        ``shift[a] + sum_b raw_b post[b, a]`` of the K raw lognormal returns.
    shift
        ``DRAW_CMA``: (A,) the map's constant ``c``, decimal real return.
    level
        ``DRAW_CMA``: the constant inflation, decimal a period.
    dof
        ``DRAW_CMA``: 0 for normal shocks, else the Student-t's (integer) degrees of
        freedom: ``dof`` more normals a period give its chi-square.
    """

    kind: int
    returns: FloatArray
    inflation: FloatArray
    key: np.uint64
    p_new: float
    offset: np.uint64
    mean: FloatArray
    root: FloatArray
    post: FloatArray
    shift: FloatArray
    level: float
    dof: int


DRAW_ARRAYS, DRAW_BOOTSTRAP, DRAW_PARAMETRIC, DRAW_CMA = 0, 1, 2, 3


def _draws(kind: int, key: np.uint64, offset: int, **arrays: object) -> Draws:
    """A :class:`Draws` with placeholders for the fields ``arrays`` does not give; every
    array a writable C-contiguous float64 copy (a read-only view would compile another
    loop)."""
    spec: dict[str, object] = {
        "returns": np.zeros((1, 1, 1)),
        "inflation": np.zeros((1, 1)),
        "p_new": 1.0,
        "mean": np.zeros(1),
        "root": np.zeros((1, 1)),
        "post": np.zeros((1, 1)),
        "shift": np.zeros(1),
        "level": 0.0,
        "dof": 0,
    }
    spec.update(arrays)
    # one compiled type: level a float, dof an int, whatever the caller passed
    spec["level"] = float(spec["level"])  # type: ignore[arg-type]
    spec["dof"] = int(spec["dof"])  # type: ignore[call-overload]
    for name in ("returns", "inflation", "mean", "root", "post", "shift"):
        spec[name] = np.array(spec[name], dtype=np.float64, order="C")
    return Draws(kind=kind, key=np.uint64(key), offset=np.uint64(offset), **spec)  # type: ignore[arg-type]


def no_draws(n_assets: int) -> Draws:
    """The placeholder :class:`Draws` of stored scenarios (one compiled type for both)."""
    return _draws(DRAW_ARRAYS, np.uint64(0), 0, returns=np.zeros((1, 1, n_assets)))


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


def lognormal_returns(
    key: np.uint64, mean: FloatArray, root: FloatArray, scenarios: np.ndarray, n_periods: int
) -> FloatArray:
    """Decimal simple returns (n, T, R) of the given absolute scenario indices, one per
    row of ``mean`` (R,) and ``root`` (R, k) (the assets, then inflation): the numpy twin of the kernel's parametric draws (``backtest.kernel._fill_normal``), the
    same bits.

    Normal ``z_b`` is ``counter_rng.normal`` of stream ``b`` of ``k = root.shape[1]``
    per period; row ``a``'s log return is ``mean[a] + root[a, 0] z_0 + ... + root[a, k-1]
    z_(k-1)`` summed left to right, and its return ``exp_core(x) - 1``.
    """
    keys = scenario_keys_np(key, scenarios)
    t = np.arange(n_periods)
    k = root.shape[1]
    z = [normals_np(draws_wide_np(keys, t, b, k)) for b in range(k)]
    out = np.empty((len(keys), n_periods, root.shape[0]))
    for a in range(root.shape[0]):
        x = np.full((len(keys), n_periods), mean[a])
        for b in range(k):
            x = x + root[a, b] * z[b]
        out[:, :, a] = exp_np(x) - 1.0
    return out


def cma_raw_returns(
    key: np.uint64, mean: FloatArray, root: FloatArray, dof: int, scenarios: np.ndarray,
    n_periods: int,
) -> FloatArray:  # fmt: skip
    """Raw (not yet moment-matched) decimal simple real returns (n, T, K) of a CMA set's
    K assets for the given absolute scenario indices: the numpy twin of the kernel's
    ``_fill_cma`` before its affine step, the same bits.

    Per period ``K + dof`` normals (streams ``0 .. K + dof - 1`` of that width): with
    ``dof > 0`` the first K are scaled by ``sqrt((dof - 2) / q)``, ``q`` the sum of the
    last ``dof`` squared (left to right): a chi-square of ``dof`` degrees of freedom, so
    the shocks are a multivariate Student-t of unit variance. Asset ``a``'s log return is
    ``mean[a] + root[a, 0] z_0 + ... + root[a, K-1] z_(K-1)`` and its return
    ``exp_core(x) - 1``.
    """
    keys = scenario_keys_np(key, scenarios)
    t = np.arange(n_periods)
    k = root.shape[0]
    width = k + dof
    z = [normals_np(draws_wide_np(keys, t, b, width)) for b in range(width)]
    if dof > 0:
        q = np.zeros((len(keys), n_periods))
        for b in range(k, width):
            q = q + z[b] * z[b]
        scale = np.sqrt((float(dof) - 2.0) / q)
        z = [z[b] * scale for b in range(k)]
    out = np.empty((len(keys), n_periods, k))
    for a in range(k):
        x = np.full((len(keys), n_periods), mean[a])
        for b in range(k):
            x = x + root[a, b] * z[b]
        out[:, :, a] = exp_np(x) - 1.0
    return out


def cma_matched(raw: FloatArray, post: FloatArray, shift: FloatArray) -> FloatArray:
    """The moment-matched decimal real returns (n, T, A) of raw ones (n, T, K): asset
    ``a`` is ``shift[a] + raw_0 post[0, a] + ... + raw_(K-1) post[K-1, a]``, left to
    right, as the kernel's ``_fill_cma`` forms it."""
    out = np.empty((*raw.shape[:2], post.shape[1]))
    for a in range(post.shape[1]):
        y = np.full(raw.shape[:2], shift[a])
        for b in range(post.shape[0]):
            y = y + raw[:, :, b] * post[b, a]
        out[:, :, a] = y
    return out


class GeneratedScenarios(Scenarios):
    """Scenarios described, not stored (a recipe drawn in the engine); see the module
    docstring. The subclasses hold the recipe: :class:`BootstrapScenarios` (a history
    table), :class:`ParametricScenarios` (lognormal moments) and :class:`CmaScenarios`
    (lognormal moments and a moment-matching map).

    ``returns`` and ``inflation`` are materialised on first access (and kept) by the
    numpy twin of the kernel's draws; :meth:`materialise` gives a plain
    :class:`Scenarios`; a contiguous ``take`` and any ``head`` keep the same draws.
    """

    seed: int
    offset: int
    count: int
    length: int
    _cache: dict[str, np.ndarray]

    def _set_common(
        self,
        assets: tuple[str, ...],
        frequency: Frequency,
        n_scenarios: int,
        n_periods: int,
        seed: int,
        offset: int,
        description: str,
        meta: dict[str, object] | None,
    ) -> None:
        periods_per_year(frequency)  # validates the name
        seed_key(seed)  # validates the seed
        if len(set(assets)) != len(assets):
            raise DataError(f"assets {assets} must name each column once")
        if n_scenarios < 0 or n_periods < 1 or offset < 0:
            raise DataError(
                f"n_scenarios={n_scenarios}, n_periods={n_periods}, offset={offset}: need "
                "n_scenarios >= 0, n_periods >= 1 and offset >= 0"
            )
        for name, value in (
            ("assets", tuple(assets)),
            ("frequency", frequency),
            ("labels", None),
            ("description", description),
            ("meta", dict(meta or {})),
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

    # ---- what a recipe defines
    def draws(self, names: Sequence[str] | None = None) -> Draws:
        """The kernel's :class:`Draws` for the assets ``names`` (default: all, in order)."""
        raise NotImplementedError

    def _draw_columns(self, names: Sequence[str] | None) -> list[int]:
        """Column positions of ``names`` for :meth:`draws` (default: every column)."""
        return self.asset_index(tuple(names)) if names is not None else list(range(self.n_assets))

    def _draw_array(self, name: str) -> FloatArray:
        """The numpy twin's (n, T, A) ``"returns"`` or (n, T) ``"inflation"``."""
        raise NotImplementedError

    def _spec(self) -> dict[str, object]:
        """The constructor's arguments that rebuild this recipe."""
        raise NotImplementedError

    def _select(self, idx: list[int], names: tuple[str, ...]) -> GeneratedScenarios:
        """This recipe restricted to the assets ``idx`` (named ``names``)."""
        raise NotImplementedError

    # ---- the Scenarios interface, lazily
    def _materialised(self, name: str) -> FloatArray:
        if name not in self._cache:
            self._cache[name] = read_only(self._draw_array(name))
        return self._cache[name]

    @property
    def returns(self) -> FloatArray:
        """Decimal simple nominal returns, (n, T, A), materialised on first access."""
        return self._materialised("returns")

    @property
    def inflation(self) -> FloatArray:
        """Decimal inflation, (n, T), materialised on first access."""
        return self._materialised("inflation")

    @property
    def returns_materialised(self) -> bool:
        """Whether ``returns`` has been materialised (the fused kernel never does)."""
        return "returns" in self._cache

    @property
    def no_data(self) -> tuple[str, ...]:
        """Columns without data: NaN in every period of ``returns`` (as a stored set marks
        no data), drawn by the kernel as a finite return that a zero holding multiplies.
        ``backtest.simulate`` refuses a strategy that holds one, as on the stored route.
        Default: none (a bootstrap's or a lognormal's columns all have data)."""
        return ()

    def no_data_mask(self) -> np.ndarray:
        """``no_data`` as a boolean (A,) mask over ``assets``."""
        gone = set(self.no_data)
        return np.array([a in gone for a in self.assets], dtype=bool)

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
        """Bytes the materialised arrays would hold (the recipe itself holds far less)."""
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
            **self._spec(),
            "assets": self.assets,
            "frequency": self.frequency,
            "n_scenarios": self.count,
            "n_periods": self.length,
            "seed": self.seed,
            "offset": self.offset,
            "description": self.description,
            "meta": dict(self.meta),
        }
        spec.update(changes)
        return type(self)(**spec)  # type: ignore[arg-type]

    def select(self, names: tuple[str, ...] | list[str]) -> GeneratedScenarios:
        """The same scenarios restricted to (and ordered as) ``names`` (same draws)."""
        return self._select(self.asset_index(names), tuple(names))

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


class BootstrapScenarios(GeneratedScenarios):
    """Stationary or i.i.d. bootstrap of a history table, drawn in the engine.

    Build with :func:`bootstrap_in_engine` (a history DataFrame) or :func:`from_table`
    (arrays).
    """

    table_returns: FloatArray  # (H, A) decimal simple nominal returns per period
    table_inflation: FloatArray  # (H,) decimal inflation per period
    block_length: float

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
        _check_table(r, i, tuple(assets), block_length)
        self._set_common(
            tuple(assets), frequency, n_scenarios, n_periods, seed, offset, description, meta
        )
        object.__setattr__(self, "table_returns", r)
        object.__setattr__(self, "table_inflation", i)
        object.__setattr__(self, "block_length", float(block_length))

    def __repr__(self) -> str:
        return (
            f"BootstrapScenarios({self.count} x {self.length} {self.frequency} periods, "
            f"assets={self.assets}, block_length={self.block_length}, seed={self.seed}, "
            f"offset={self.offset}, {self.table_returns.shape[0]} history rows)"
        )

    def draws(self, names: Sequence[str] | None = None) -> Draws:
        """The kernel's :class:`Draws` for the assets ``names`` (default: all, in order)."""
        idx = self._draw_columns(names)
        return _draws(
            DRAW_BOOTSTRAP,
            seed_key(self.seed),
            self.offset,
            returns=self.table_returns[:, None, idx],
            inflation=self.table_inflation[:, None],
            p_new=1.0 / self.block_length,
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

    def _draw_array(self, name: str) -> FloatArray:
        table = self.table_returns if name == "returns" else self.table_inflation
        return table[self.rows()]

    def _spec(self) -> dict[str, object]:
        return {
            "table_returns": self.table_returns,
            "table_inflation": self.table_inflation,
            "block_length": self.block_length,
        }

    def _select(self, idx: list[int], names: tuple[str, ...]) -> GeneratedScenarios:
        return self._with(table_returns=self.table_returns[:, idx], assets=names)


class ParametricScenarios(GeneratedScenarios):
    """Multivariate lognormal scenarios drawn in the engine (:func:`parametric_in_engine`).

    ``mean`` (A + 1,) and ``root`` (A + 1, k) are the **per-period** log moments of the
    assets, then inflation: ``log(1 + r) = mean + root @ z`` with ``k`` standard normals
    ``z`` per period (``k`` the model's assets + 1, kept by :meth:`select` so that a
    selection keeps the draws).
    """

    mean: FloatArray
    root: FloatArray

    def __init__(
        self,
        mean: FloatArray,
        root: FloatArray,
        assets: Sequence[str],
        frequency: Frequency,
        n_scenarios: int,
        n_periods: int,
        seed: int = 0,
        offset: int = 0,
        description: str = "",
        meta: dict[str, object] | None = None,
    ) -> None:
        m = read_only(np.array(mean, dtype=np.float64).reshape(-1))
        r = read_only(np.array(root, dtype=np.float64, order="C", ndmin=2))
        if r.shape[0] != m.size or m.size != len(assets) + 1:
            raise DataError(
                f"mean {m.shape} and root {r.shape} must have one row per asset of {assets} "
                "and one for inflation"
            )
        if not (np.all(np.isfinite(m)) and np.all(np.isfinite(r))):
            raise DataError("the lognormal model's mean and root must be finite")
        self._set_common(
            tuple(assets), frequency, n_scenarios, n_periods, seed, offset, description, meta
        )
        object.__setattr__(self, "mean", m)
        object.__setattr__(self, "root", r)

    def __repr__(self) -> str:
        return (
            f"ParametricScenarios({self.count} x {self.length} {self.frequency} periods, "
            f"assets={self.assets}, lognormal, {self.root.shape[1]} normals a period, "
            f"seed={self.seed}, offset={self.offset})"
        )

    def draws(self, names: Sequence[str] | None = None) -> Draws:
        """The kernel's :class:`Draws` for the assets ``names`` (default: all, in order)."""
        idx = self._draw_columns(names)
        rows = [*idx, self.n_assets]  # inflation last
        return _draws(
            DRAW_PARAMETRIC,
            seed_key(self.seed),
            self.offset,
            returns=np.zeros((1, 1, len(idx))),
            mean=self.mean[rows],
            root=self.root[rows],
        )

    def _draw_array(self, name: str) -> FloatArray:
        rows = list(range(self.n_assets)) if name == "returns" else [self.n_assets]
        r = lognormal_returns(
            seed_key(self.seed),
            self.mean[rows],
            self.root[rows],
            np.arange(self.offset, self.offset + self.count),
            self.length,
        )
        return r if name == "returns" else r[:, :, 0]

    def _spec(self) -> dict[str, object]:
        return {"mean": self.mean, "root": self.root}

    def _select(self, idx: list[int], names: tuple[str, ...]) -> GeneratedScenarios:
        rows = [*idx, self.n_assets]
        return self._with(mean=self.mean[rows], root=self.root[rows], assets=names)


class CmaScenarios(GeneratedScenarios):
    """Moment-matched capital-market-assumption scenarios drawn in the engine.

    Build with ``backtest.cma.cma_in_engine``, which computes the map once over the
    whole set. The recipe: ``mean`` (K,) and ``root`` (K, K), the **per-period** log
    moments of the K assets' gross real returns (:func:`cma_raw_returns`); ``dof`` (0:
    normal shocks; else the Student-t's integer degrees of freedom); the affine map
    ``post`` (K, A) and ``shift`` (A,) that moment-matches the raw real returns
    (:func:`cma_matched`); ``level``, the constant inflation (decimal a period). Nominal
    returns are ``(1 + real) (1 + level) - 1``. The map travels with the recipe, so
    ``take``, ``head``, ``select`` and pickling keep a scenario's numbers (the sample
    moments are exact over the whole set the map was fitted on, not over a part).

    ``unstated`` names columns the CMA file does not state (e.g. the crypto asset of a
    study's four roles; :meth:`with_columns` adds them): no data, as a stored set marks
    it. ``returns`` holds NaN there (``no_data``); the kernel's recipe has ``post[:, a] =
    0`` and ``shift[a] = 0``, a finite real return of 0 that a zero holding multiplies,
    and ``backtest.simulate`` refuses a strategy holding such a column before it runs.
    """

    mean: FloatArray
    root: FloatArray
    dof: int
    post: FloatArray
    shift: FloatArray
    level: float
    unstated: tuple[str, ...]

    def __init__(
        self,
        mean: FloatArray,
        root: FloatArray,
        post: FloatArray,
        shift: FloatArray,
        level: float,
        assets: Sequence[str],
        n_scenarios: int,
        n_periods: int,
        dof: int = 0,
        frequency: Frequency = "annual",
        seed: int = 0,
        offset: int = 0,
        description: str = "",
        meta: dict[str, object] | None = None,
        unstated: Sequence[str] = (),
    ) -> None:
        m = read_only(np.array(mean, dtype=np.float64).reshape(-1))
        r = read_only(np.array(root, dtype=np.float64, order="C", ndmin=2))
        w = read_only(np.array(post, dtype=np.float64, order="C", ndmin=2))
        c = read_only(np.array(shift, dtype=np.float64).reshape(-1))
        if r.shape != (m.size, m.size) or w.shape != (m.size, c.size) or c.size != len(assets):
            raise DataError(
                f"mean {m.shape}, root {r.shape}, post {w.shape} and shift {c.shape} must be "
                f"(K,), (K, K), (K, A) and (A,) with A = {len(assets)} assets {tuple(assets)}"
            )
        arrays_finite = all(np.all(np.isfinite(x)) for x in (m, r, w, c))
        if not (arrays_finite and np.isfinite(level) and level > -1.0):
            raise DataError("the CMA recipe's moments, map and inflation must be finite")
        if int(dof) != dof or not (dof == 0 or dof > 2):
            raise DataError(f"dof={dof!r} must be 0 (normal) or an integer > 2 (Student-t)")
        _check_unstated(tuple(unstated), tuple(assets), w, c)
        self._set_common(
            tuple(assets), frequency, n_scenarios, n_periods, seed, offset, description, meta
        )
        for name, value in (("mean", m), ("root", r), ("post", w), ("shift", c)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "level", float(level))
        object.__setattr__(self, "dof", int(dof))
        object.__setattr__(self, "unstated", tuple(unstated))

    def __repr__(self) -> str:
        shocks = "normal" if self.dof == 0 else f"Student-t ({self.dof} dof)"
        gaps = f", no data: {self.unstated}" if self.unstated else ""
        return (
            f"CmaScenarios({self.count} x {self.length} {self.frequency} periods, "
            f"assets={self.assets}{gaps}, {shocks}, moment-matched, seed={self.seed}, "
            f"offset={self.offset})"
        )

    @property
    def no_data(self) -> tuple[str, ...]:
        """The columns the CMA file does not state (``unstated``): NaN in ``returns``."""
        return self.unstated

    def with_columns(self, columns: Sequence[str]) -> CmaScenarios:
        """The same scenarios with the columns ``columns``, in that order: a stated one
        keeps its draws (as :meth:`select`), any other has no data (``unstated``: NaN in
        ``returns``, a zero map in the kernel). The map is not refitted: the stated
        columns keep the whole set's exact moments."""
        cols = tuple(columns)
        if len(set(cols)) != len(cols):
            raise DataError(f"columns {cols} must name each column once")
        k = self.post.shape[0]
        post, shift = np.zeros((k, len(cols))), np.zeros(len(cols))
        for j, name in enumerate(cols):
            if name in self.assets:
                a = self.assets.index(name)
                post[:, j], shift[j] = self.post[:, a], self.shift[a]
        gone = tuple(c for c in cols if c not in self.assets or c in self.unstated)
        out = self._with(post=post, shift=shift, assets=cols, unstated=gone)
        assert isinstance(out, CmaScenarios)
        return out

    def draws(self, names: Sequence[str] | None = None) -> Draws:
        """The kernel's :class:`Draws` for the assets ``names`` (default: all, in order)."""
        idx = self._draw_columns(names)
        return _draws(
            DRAW_CMA,
            seed_key(self.seed),
            self.offset,
            returns=np.zeros((1, 1, len(idx))),
            mean=self.mean,
            root=self.root,
            post=self.post[:, idx],
            shift=self.shift[idx],
            level=self.level,
            dof=self.dof,
        )

    def real_returns(self, scenarios: np.ndarray | None = None) -> FloatArray:
        """Moment-matched decimal real returns (n, T, A) of the absolute scenario indices
        ``scenarios`` (default: this set's)."""
        if scenarios is None:
            scenarios = np.arange(self.offset, self.offset + self.count)
        raw = cma_raw_returns(
            seed_key(self.seed), self.mean, self.root, self.dof, scenarios, self.length
        )
        real = cma_matched(raw, self.post, self.shift)
        real[:, :, self.no_data_mask()] = np.nan  # no data (the kernel draws 0 there)
        return real

    def _draw_array(self, name: str) -> FloatArray:
        if name == "inflation":
            return np.full((self.count, self.length), self.level)
        return (1.0 + self.real_returns()) * (1.0 + self.level) - 1.0

    def _spec(self) -> dict[str, object]:
        return {
            "mean": self.mean,
            "root": self.root,
            "post": self.post,
            "shift": self.shift,
            "level": self.level,
            "dof": self.dof,
            "unstated": self.unstated,
        }

    def _select(self, idx: list[int], names: tuple[str, ...]) -> GeneratedScenarios:
        gone = tuple(n for n in names if n in self.unstated)
        return self._with(
            post=self.post[:, idx], shift=self.shift[idx], assets=names, unstated=gone
        )


def _check_unstated(
    unstated: tuple[str, ...], assets: tuple[str, ...], post: FloatArray, shift: FloatArray
) -> None:
    """Refuse ``unstated`` names that are not distinct columns of ``assets``, or a
    column without data whose map (``post[:, a]``, ``shift[a]``) is not zero."""
    if len(set(unstated)) != len(unstated) or not set(unstated) <= set(assets):
        raise DataError(f"unstated {unstated} must name distinct columns of the assets {assets}")
    for name in unstated:
        a = assets.index(name)
        if np.any(post[:, a] != 0.0) or shift[a] != 0.0:
            raise DataError(
                f"column {name!r} has no data but a non-zero map; build the set with "
                "CmaScenarios.with_columns, which zeroes it"
            )


def _check_table(
    r: FloatArray, i: FloatArray, assets: tuple[str, ...], block_length: float
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
    description: str | None = None,
    meta: Mapping[str, object] | None = None,
) -> BootstrapScenarios:
    """Stationary (``block_length > 1``) or i.i.d. (``1``) bootstrap of a history table.

    ``returns`` (H, A) and ``inflation`` (H,) are decimal simple nominal returns and CPI
    change per period of ``frequency``; block length in periods; ``seed`` an int in
    [0, 2**64). ``description`` replaces the default one; ``meta`` adds to (or overrides)
    the default ``meta`` keys.
    """
    kind = "i.i.d." if block_length == 1.0 else f"stationary block (length {block_length:g})"
    desc = (
        f"{kind} bootstrap drawn in the engine of {len(inflation)} {frequency} rows, seed "
        f"{seed}, {n_scenarios} x {n_periods} periods"
    )
    info: dict[str, object] = {
        "generator": "bootstrap_in_engine",
        "block_length": float(block_length),
        "seed": int(seed),
        "history_rows": len(inflation),
        **(meta or {}),
    }
    return BootstrapScenarios(
        returns,
        inflation,
        assets,
        frequency,
        n_scenarios,
        n_periods,
        block_length=block_length,
        seed=seed,
        description=description or desc,
        meta=info,
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
) -> BootstrapScenarios:
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


def parametric_in_engine(
    assets: Sequence[str],
    mean_log_annual: FloatArray | Sequence[float] | Mapping[str, float],
    cov_log_annual: FloatArray | Sequence[Sequence[float]],
    frequency: Frequency,
    n_scenarios: int,
    n_periods: int,
    *,
    seed: int = 0,
    description: str | None = None,
    meta: Mapping[str, object] | None = None,
) -> ParametricScenarios:
    """Multivariate lognormal scenarios of ``assets`` and inflation, drawn in the engine.

    ``log(1 + r)`` of ``[*assets, "cpi"]`` is drawn i.i.d. over periods with mean
    ``mean_log_annual / ppy`` and covariance ``cov_log_annual / ppy`` (decimal **annual**
    log moments, ordered ``[*assets, "cpi"]``; the mean may also be a mapping by those
    names), as ``backtest.generators.parametric(distribution="normal")`` draws them but
    from counter-based normals keyed by (seed, scenario, period), so that the kernel
    draws them itself. The covariance root is ``eigh``'s (a singular covariance is
    fine). Normal only: a Student-t needs a chi-square per period, which this generator
    does not draw (use ``generators.parametric(distribution="student_t")``).
    ``description`` replaces the default one; ``meta`` adds to (or overrides) the default
    ``meta`` keys.
    """
    names = [*assets, "cpi"]
    mu, cov = _lognormal_moments(names, mean_log_annual, cov_log_annual)
    vals, vecs = np.linalg.eigh(cov)
    ppy = periods_per_year(frequency)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None) / ppy)
    info: dict[str, object] = {
        "generator": "parametric_in_engine",
        "distribution": "normal",
        "names": names,
        "mean_log_annual": mu.tolist(),
        "cov_log_annual": cov.tolist(),
        "seed": int(seed),
        **(meta or {}),
    }
    desc = (
        f"parametric normal in log returns of {names} drawn in the engine, seed {seed}, "
        f"{n_scenarios} x {n_periods} {frequency} periods"
    )
    return ParametricScenarios(
        mu / ppy,
        root,
        assets,
        frequency,
        n_scenarios,
        n_periods,
        seed=seed,
        description=description or desc,
        meta=info,
    )


def _lognormal_moments(
    names: list[str],
    mean_log_annual: FloatArray | Sequence[float] | Mapping[str, float],
    cov_log_annual: FloatArray | Sequence[Sequence[float]],
) -> tuple[FloatArray, FloatArray]:
    """The annual log mean (k,) and covariance (k, k) of ``names`` (assets, then "cpi"),
    checked: distinct names, the right shapes, finite, symmetric, positive semi-definite
    and plausibly decimal."""
    if len(names) < 2 or len(set(names)) != len(names):
        raise DataError(
            f"assets {names[:-1]} must be one or more distinct names other than 'cpi' "
            "(inflation is the last variable)"
        )
    if isinstance(mean_log_annual, Mapping):
        missing = [n for n in names if n not in mean_log_annual]
        if missing:
            raise DataError(f"mean_log_annual has no value for {missing}; give all of {names}")
        mu = np.array([float(mean_log_annual[n]) for n in names])
    else:
        mu = np.asarray(mean_log_annual, dtype=np.float64)
    cov = np.asarray(cov_log_annual, dtype=np.float64)
    k = len(names)
    if mu.shape != (k,) or cov.shape != (k, k):
        raise DataError(
            f"mean_log_annual {mu.shape} and cov_log_annual {cov.shape} must be ({k},) and "
            f"({k}, {k}), ordered {names}"
        )
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(cov)) and np.allclose(cov, cov.T)):
        raise DataError(
            "mean_log_annual and cov_log_annual must be finite and the covariance symmetric"
        )
    low = float(np.linalg.eigvalsh(cov).min())
    if low < -1e-12 * max(1.0, float(np.abs(cov).max())):
        raise DataError(
            f"cov_log_annual is not positive semi-definite (eigenvalue {low:.3g}); repair it "
            "(e.g. clip negative eigenvalues) before drawing"
        )
    # a log mean or a volatility over 300 % a year is a percent where a decimal belongs
    # (the bound also keeps every draw far from exp's overflow: |z| <= 8.3)
    if np.max(np.abs(mu)) > 3.0 or np.max(np.diag(cov)) > 9.0:
        raise DataError(
            "mean_log_annual or cov_log_annual is implausibly large (a log mean or volatility "
            "above 3, i.e. 300 % a year); give decimal annual log moments, e.g. 0.05 for 5 % "
            "and a variance of 0.04 for a 20 % volatility"
        )
    return mu, cov
