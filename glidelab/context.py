"""The study context: what every section of a study needs, built in one place.

A :class:`StudyContext` is made from a validated :class:`glidelab.study.Study` and owns

* ``history``: the study's return history at its frequency (decimal simple nominal
  returns per period of the equity, bonds and cash roles, CPI, and the crypto column,
  NaN before its data), one definition for every section;
* ``periods_per_year``: 1 (annual) or 12 (monthly), from the frequency's one table;
* ``missing``: the crypto before-data rule (``[scenarios].crypto_before_data`` and its
  proxy), checked once and handed to every generator as keywords;
* ``strategy(name, sleeve=None)``: the one route from a preset name, a
  ``[strategies].custom`` glide path or a crypto sleeve to a ``Strategy`` on the study's
  asset roles; ``strategies()`` builds the study's own list with it;
* ``scenarios(name, horizon, n, kind)``: a named scenario set; kind ``"international"``
  is the developed-markets view beside the US sets: the JST countries' histories
  (``backtest.data.jst``), each block from one country (:attr:`international_panel`).

Seeds: one tree
---------------
Every random stream of a study is a child of ``SeedSequence(study.seed)`` keyed by a
stable id of its name, ``SeedSequence(seed, spawn_key=(crc32(name),))``
(:func:`set_seed`). A set's draws therefore depend on the seed and the set's name (and
its size, horizon and generator), never on which other sets were drawn before or in
what order, nor on which section asks: the runner's "block bootstrap" and the sweep's
are the same scenarios. How a set is drawn from its child seed depends on its route:

* **in the engine** (kind ``"bootstrap"`` with ``bootstrap_method = "stationary"`` under
  the ``"cash"`` or ``"exclude"`` before-data rule): the set is a
  :class:`backtest.engine_gen.BootstrapScenarios`, a recipe (the history rows it
  resamples, the block length, a 64-bit seed) that ``backtest.simulate`` draws inside its
  compiled loop and never stores. The 64-bit seed is the child's first 64-bit word
  (:func:`engine_seed`); row ``t`` of scenario ``s`` comes from counter-based draws keyed
  by (that seed, ``s``, ``t``) (``backtest.counter_rng``), so a scenario's numbers
  depend on its key only, and a chunk (``rows=``) is a lazy slice of the whole set. The
  parametric (lognormal) set is drawn in the engine the same way
  (:class:`backtest.engine_gen.ParametricScenarios`: counter-based normals keyed by the
  same (seed, scenario, period)), and so is a capital-market set
  (:class:`backtest.engine_gen.CmaScenarios`, ``backtest.cma.cma_in_engine``: the same
  normals, and a moment-matching map fitted once over the whole set in a pre-pass, which
  the recipe carries; a column the file does not state, such as the crypto asset, has no
  data: NaN in the materialised returns, a zero map in the kernel);
* **stored** (every other random set: the circular bootstrap, the ``"proxy"`` rule,
  which draws random proxy returns per scenario, a capital-market set of Student-t
  shocks with a non-integer dof (``backtest.cma.engine_route``; with a column its file
  does not state, NaN, each seed block moment-matched on its own), and the
  international panel bootstrap): drawn in numpy in blocks of :data:`BLOCK` scenarios, block ``b``
  from the set's child ``b`` (``spawn_key=(crc32(name), b)``), so a section that works
  in chunks (the sweep, on Dask) draws exactly the rows the whole set holds.

``meta["route"]`` says which (``"engine"`` or ``"stored"``), :data:`SEED_SCHEME` says all
this in words. Streams that are not scenario sets (a model's training paths, draws of
members) take :func:`named_rng` with their own names the same way.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from backtest.cma import (
    EXAMPLE_PATH,
    CapitalMarketAssumptions,
    cma_in_engine,
    cma_scenarios,
    engine_route,
    load_cma,
)
from backtest.data import list_series, load_history, load_yahoo
from backtest.data.jst import load_jst_panel
from backtest.engine_gen import (
    BootstrapScenarios,
    CmaScenarios,
    from_table,
    parametric_in_engine,
)
from backtest.errors import DataError, StudyError
from backtest.generators import (
    BootstrapMethod,
    MissingRule,
    Proxy,
    block_bootstrap,
    default_block_length,
    estimate_log_moments,
    fill_with_cash,
    historical_cohorts,
    panel_block_bootstrap,
)
from backtest.plan import Plan
from backtest.scenarios import Scenarios
from backtest.types import FloatArray, Frequency, infer_frequency, periods_per_year
from glidelab.study import CustomGlidePath, DataConfig, Study
from strategies import CryptoSleeve, GlidePath
from strategies.base import RebalanceRule, Strategy
from strategies.presets import preset

SetKind = Literal["historical", "bootstrap", "parametric", "cma", "international"]

#: Scenarios per seed block of a random set (see the module docstring).
BLOCK = 1000

#: The seeding scheme in words: written to settings files, hashed into the sweep's resume
#: keys (a point drawn under another scheme is not reused) and shown to readers.
SEED_SCHEME = (
    "each scenario set and random stream draws from its own child of the study's seed "
    "(numpy seed sequences keyed by a CRC-32 of its name), so its draws do not depend on "
    "which other sets run or in what order; the stationary block bootstrap (before-data "
    "rule cash or exclude), the parametric set and a capital-market set (but one of "
    "Student-t shocks with a non-integer dof) are drawn inside the simulation engine "
    "by a counter-based generator keyed by (the child's first 64-bit word, scenario, "
    "period), the same in any chunk; the other random sets are drawn in numpy in blocks "
    f"of {BLOCK:,} scenarios, each block from its own child of the set's seed"
)

#: The study's own scenario sets: generator kind -> set name (success.csv, the sweep).
SET_NAMES: dict[str, str] = {
    "historical": "historical cohorts",
    "bootstrap": "block bootstrap",
    "parametric": "parametric",
    "cma": "capital-market assumptions",
    "international": "international bootstrap (JST)",
}

#: The JST columns the study's equity, bonds and cash roles take in the international set
#: (the crypto role has none: NaN there; a sleeve under the "cash" before-data rule earns
#: the country's bills, one that needs the data is refused).
JST_ROLES: tuple[str, str, str] = ("equity_tr", "bond_tr", "bill_rate")


def name_key(name: str) -> int:
    """The stable id of a stream's name: CRC-32 of its UTF-8 bytes (same on every run,
    platform and Python, unlike ``hash``)."""
    return zlib.crc32(name.encode("utf-8"))


def set_seed(seed: int, name: str, block: int | None = None) -> np.random.SeedSequence:
    """The seed of stream ``name`` of a study seeded ``seed`` (block ``block`` of it).

    ``SeedSequence(seed, spawn_key=(crc32(name),))``, or ``(crc32(name), block)`` for a
    block of a random set: children of one root, independent of each other.
    """
    key = (name_key(name),) if block is None else (name_key(name), int(block))
    return np.random.SeedSequence(int(seed), spawn_key=key)


def named_rng(seed: int, name: str) -> np.random.Generator:
    """A generator on stream ``name`` of the seed tree of ``seed`` (:func:`set_seed`)."""
    return np.random.default_rng(set_seed(seed, name))


def engine_seed(seed: int, name: str) -> int:
    """The 64-bit seed (an int in [0, 2**64)) of set ``name`` drawn in the engine: the
    first 64-bit word of its child seed, ``set_seed(seed, name).generate_state(1,
    np.uint64)[0]``; the engine keys its draws by (this, scenario, period)."""
    return int(set_seed(seed, name).generate_state(1, np.uint64)[0])


def bootstrap_rows(
    history: pd.DataFrame,
    cols: Sequence[str],
    rule: MissingRule = "exclude",
    cash_asset: str | None = None,
    inflation_column: str = "cpi",
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The rows a bootstrap of ``cols`` resamples (columns ``[*cols, inflation_column]``,
    decimal returns per period) under the before-data ``rule``, and what the rule did:

    * ``"cash"``: every row, each gap filled with ``cash_asset``'s return of that row
      (``backtest.generators.fill_with_cash``; meta ``filled_with_cash``);
    * ``"exclude"``: only the rows where every column of ``cols`` has data (meta
      ``dropped_missing``);
    * ``"proxy"``: every row, gaps left NaN (the stored route draws them per scenario).
    """
    wanted = [*cols, inflation_column]
    if rule == "cash":
        if cash_asset is None:
            raise StudyError("the 'cash' before-data rule needs the cash asset's column")
        extra = [] if cash_asset in wanted else [cash_asset]
        filled, with_cash = fill_with_cash(history[wanted + extra], cols, cash_asset)
        return filled[wanted], {"filled_with_cash": with_cash}
    frame = history[wanted]
    if rule == "exclude":
        complete = frame[list(cols)].notna().all(axis=1).to_numpy()
        return frame.loc[complete], {"dropped_missing": int((~complete).sum())}
    return frame, {}


#: How :func:`automatic_block_length` chooses (``meta["block_length_rule"]``, the words of
#: ``backtest.generators.block_bootstrap``, which ``backtest.report.describe.plain_words``
#: rewrites for a reader).
AUTOMATIC_RULE = "mean over columns of arch.bootstrap.optimal_block_length"


def automatic_block_length(rows: pd.DataFrame, method: BootstrapMethod = "stationary") -> float:
    """The bootstrap's automatic block length (periods) on ``rows`` (:func:`bootstrap_rows`):
    ``backtest.generators.default_block_length`` on its complete rows, the number the
    stored route (``block_bootstrap(block_length=None)``) reports."""
    values = rows.to_numpy(dtype=np.float64)
    return default_block_length(values[~np.isnan(values).any(axis=1)], method)


def engine_bootstrap(
    rows: pd.DataFrame,
    n: int,
    n_t: int,
    *,
    seed: int,
    block_length: float | None = None,
    rule: str = "given",
    frequency: Frequency | None = None,
    inflation_column: str = "cpi",
) -> BootstrapScenarios:
    """``n`` stationary-bootstrap scenarios of ``n_t`` periods of the table ``rows``
    (:func:`bootstrap_rows`: decimal simple nominal returns per period, complete rows,
    ``inflation_column`` the inflation), drawn in the engine with the 64-bit ``seed``
    (``backtest.engine_gen.from_table``, with this module's description and ``meta``).
    ``block_length`` in periods, ``rule`` saying how it was chosen; None:
    :func:`automatic_block_length` (:data:`AUTOMATIC_RULE`)."""
    if block_length is None:
        block_length, rule = automatic_block_length(rows), AUTOMATIC_RULE
    assets = [c for c in rows.columns if c != inflation_column]
    freq = frequency or infer_frequency(rows.index)
    span = f"{_period(rows.index[0], freq)}..{_period(rows.index[-1], freq)}"
    meta: dict[str, object] = {
        "generator": "bootstrap_in_engine",
        "method": "stationary",
        "route": "engine",
        "block_length": float(block_length),
        "block_length_rule": rule,
        "history_span": span,
        "history_rows": len(rows),
        "engine_seed": int(seed),
    }
    return from_table(
        rows[assets].to_numpy(dtype=np.float64),
        rows[inflation_column].to_numpy(dtype=np.float64),
        assets,
        freq,
        n,
        n_t,
        block_length=block_length,
        seed=seed,
        description=(
            f"stationary block bootstrap of {span} ({len(rows)} {freq} rows), drawn in the "
            f"engine, block length {block_length:.2f} ({rule}), {n} x {n_t} periods"
        ),
        meta=meta,
    )


def _period(ts: object, frequency: Frequency) -> str:
    """A period's label: its year (annual) or ``YYYY-MM`` (monthly)."""
    stamp = pd.Timestamp(cast(Any, ts))
    return str(stamp.year) if frequency == "annual" else f"{stamp.year}-{stamp.month:02d}"


def _concat(parts: list[Scenarios]) -> Scenarios:
    """Blocks of one set, stacked along the scenario axis."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    n_total = sum(p.returns.shape[0] for p in parts)
    # the generators describe one block ("... 1000 x 70 periods"): say the whole set's size
    block = f"{first.returns.shape[0]} x {first.returns.shape[1]}"
    whole = f"{n_total} x {first.returns.shape[1]}"
    description = (
        first.description.replace(block, whole, 1)
        if block in first.description
        else f"{first.description} ({n_total} scenarios)"
    )
    return dataclasses.replace(
        first,
        returns=np.concatenate([p.returns for p in parts]),
        inflation=np.concatenate([p.inflation for p in parts]),
        labels=None,
        description=description,
        meta=dict(first.meta),
    )


def yahoo_history(data: DataConfig, frequency: Frequency) -> pd.DataFrame:
    """``[data] source = "yahoo"``: the role tickers' total returns and the embedded CPI.

    Decimal simple nominal USD returns per period from Yahoo's adjusted closes
    (:func:`backtest.data.load_yahoo`: fetched once, then read from the disk cache; with
    no network the cache serves, or an ``OfflineError`` says there is none), over
    ``[data].start``-``end`` (calendar years; ``end`` default: the last complete period),
    joined with the embedded ``cpi`` of the same frequency on the periods both cover.
    """
    if data.start is None:
        raise StudyError("[data] source = 'yahoo' needs start = YEAR (e.g. start = 2008)")
    end = f"{data.end}-12-31" if data.end is not None else pd.Timestamp.today().normalize()
    tickers = [data.equity, data.bonds, data.cash]
    prices = load_yahoo(tickers, f"{data.start}-01-01", end, frequency)
    cpi = load_history(["cpi"], frequency)
    unit = pd.DatetimeIndex(prices.index).unit  # the loaders' units differ by pandas version
    cpi = cpi.set_axis(pd.DatetimeIndex(cpi.index).as_unit(unit))  # a copy: never the cache
    frame = prices.join(cpi, how="inner")
    if frame.empty:
        raise DataError(
            f"the Yahoo returns of {', '.join(tickers)} ({prices.index[0].date()}.."
            f"{prices.index[-1].date()}) share no period with the embedded CPI "
            f"({cpi.attrs['coverage']['cpi']}); choose [data] start/end inside both"
        )
    frame.attrs = {
        **prices.attrs,
        "sources": {**prices.attrs["sources"], **cpi.attrs["sources"]},
        "coverage": {c: f"{frame.index[0].date()}..{frame.index[-1].date()}" for c in frame},
    }
    return frame


@dataclass(frozen=True)
class StudyContext:
    """What every section of one study shares: history, roles, strategies, scenario sets.

    Cheap to make; ``history`` is loaded once, on first use, and kept. Picklable, so a
    backend ships one context to each worker.
    """

    study: Study

    @classmethod
    def of(cls, study: Study, history: pd.DataFrame | None = None) -> StudyContext:
        """The context of ``study``; ``history``, when given, must be its
        :attr:`history` (a caller that loaded it already saves the second load)."""
        ctx = cls(study)
        if history is not None:
            ctx.__dict__["history"] = history  # cached_property's slot
        return ctx

    # ------------------------------------------------------------------ data

    @cached_property
    def history(self) -> pd.DataFrame:
        """The study's return history at ``[data].frequency`` (see :meth:`history_at`)."""
        return self.history_at(self.study.data.frequency)

    def history_at(self, frequency: Frequency) -> pd.DataFrame:
        """Decimal simple nominal returns per period at ``frequency``: equity, bonds and
        cash roles and CPI over their common period (``[data].start``-``end`` when
        ``frequency`` is the study's own; the whole common history otherwise), with the
        crypto column joined on (NaN before its data; the generators apply the before-data
        rule, :attr:`missing`)."""
        d = self.study.data
        own = frequency == d.frequency
        if d.source == "yahoo":
            core = yahoo_history(d, frequency)
        else:
            core = load_history(
                [d.equity, d.bonds, d.cash, "cpi"],
                frequency,
                start=d.start if own else None,
                end=d.end if own else None,
            )
        if d.source == "yahoo" and d.crypto not in {s.name for s in list_series(frequency)}:
            crypto = load_yahoo([d.crypto], core.index[0], core.index[-1], frequency)
        else:
            crypto = load_history([d.crypto], frequency)
        frame = core.join(crypto, how="left")
        frame.attrs = {**core.attrs, "crypto_coverage": crypto.attrs.get("coverage")}
        return frame

    @property
    def periods_per_year(self) -> int:
        """Periods in a year at the study's frequency: 1 (annual) or 12 (monthly)."""
        return periods_per_year(self.study.data.frequency)

    @property
    def assets(self) -> tuple[str, str, str, str]:
        """The study's asset roles: (equity, bonds, cash, crypto) column names."""
        d = self.study.data
        return (d.equity, d.bonds, d.cash, d.crypto)

    @cached_property
    def missing(self) -> dict[str, Any]:
        """The crypto before-data rule as generator keywords (``missing``, ``cash_asset``,
        ``proxy``), checked once for every section."""
        d, sc = self.study.data, self.study.scenarios
        rule = sc.crypto_before_data
        if rule == "exclude":
            raise StudyError(
                "[scenarios].crypto_before_data = 'exclude' leaves no cohort of a lifetime plan "
                "with Bitcoin data (it starts in 2010); use 'cash' or 'proxy'"
            )
        proxy = None
        if rule == "proxy":
            if sc.crypto_proxy is None:
                raise StudyError(
                    "[scenarios].crypto_before_data = 'proxy' needs [scenarios].crypto_proxy = "
                    "{ mean_log_annual = ..., vol_log_annual = ... }"
                )
            proxy = {d.crypto: Proxy(*sc.crypto_proxy)}
        return {"missing": rule, "cash_asset": d.cash, "proxy": proxy}

    def n_periods(self, horizon: Plan | int) -> int:
        """Periods of ``horizon`` (a plan, or a count of periods) at the study's frequency."""
        if isinstance(horizon, Plan):
            return horizon.n_periods(self.periods_per_year)
        return int(horizon)

    # ------------------------------------------------------------------ strategies

    def strategy(self, name: str, sleeve: float | None = None) -> Strategy:
        """The strategy ``name`` on the study's roles: a ``[strategies].custom`` glide path
        or a preset; with ``sleeve`` (decimal, > 0), a Bitcoin sleeve of that size over the
        preset under the study's before-data rule.

        Raises ``StudyError`` naming the bad name or combination.
        """
        custom = {c.name: c for c in self.study.strategies.custom}
        if name in custom:
            if sleeve is not None:
                raise StudyError(
                    f"crypto_sleeve sits on a preset; {name!r} is a custom glide path (give it a "
                    "sleeve in [strategies].custom instead)"
                )
            return self.custom(custom[name])
        base = self._preset(name)
        if sleeve is None:
            return base
        return self._sleeve(base, float(sleeve))

    def strategies(self) -> dict[str, Strategy]:
        """The study's presets, crypto sleeves and custom paths, keyed by display name.

        A study that names no strategy at all (no presets, sleeves or custom paths, no
        plan's ``strategy``; e.g. a crypto or sweep file) gets ``[strategies].crypto_base``,
        so its tables are never empty.
        """
        st = self.study.strategies
        wanted = list(st.presets)
        for p in self.study.plans:
            if p.strategy and p.strategy not in wanted:
                wanted.append(p.strategy)
        if not (wanted or st.crypto_sleeves or st.custom):
            wanted = [st.crypto_base]
        out: dict[str, Strategy] = {n: self._preset(n) for n in wanted}
        if st.crypto_sleeves:
            base = self._preset(st.crypto_base)
            for size in st.crypto_sleeves:
                label = f"{st.crypto_base} + {100 * size:g}% {self.study.data.crypto}"
                out[label] = self._sleeve(base, size)
        for c in st.custom:
            if c.name in out:
                raise StudyError(
                    f"[strategies].custom name {c.name!r} is already a strategy's name"
                )
            out[c.name] = self.custom(c)
        return out

    def _preset(self, name: str) -> Strategy:
        """The preset ``name`` on the study's roles (every preset takes the three)."""
        d = self.study.data
        try:
            return preset(name, equity=d.equity, bonds=d.bonds, cash=d.cash)
        except ValueError as exc:
            raise StudyError(f"[strategies]: {exc}") from None

    def _sleeve(self, base: Strategy, size: float, name: str | None = None) -> CryptoSleeve:
        """A Bitcoin sleeve of ``size`` (decimal) over ``base``, under the before-data
        rule (proxy years are filled in the scenarios, so the sleeve sees data there)."""
        d = self.study.data
        return CryptoSleeve(
            base=base,
            sleeve_weight=size,
            crypto_asset=d.crypto,
            equity_assets=(d.equity,),
            bond_assets=(d.bonds,),
            before_data=(
                "cash" if self.study.scenarios.crypto_before_data != "exclude" else "exclude"
            ),
            cash_asset=d.cash,
            name=name or f"{base.name} + {100 * size:g}% Bitcoin",
        )

    def custom(self, c: CustomGlidePath) -> Strategy:
        """A hand-drawn glide path: equity/bonds (and cash, when the path has a cash
        share) at the knots, linear between, with its sleeve and rebalancing rule."""
        d = self.study.data
        try:
            rule = RebalanceRule(
                kind=c.rebalance,
                every_months=c.rebalance_every_months,
                band=c.rebalance_band,
            )
            cash = c.cash or (0.0,) * len(c.equity)
            path = GlidePath(
                name=c.name,
                assets=(d.equity, d.bonds, d.cash) if c.cash else (d.equity, d.bonds),
                knots_years_to_retirement=c.years_to_retirement,
                weights=tuple(
                    (e, 1.0 - e - k, k) if c.cash else (e, 1.0 - e)
                    for e, k in zip(c.equity, cash, strict=True)
                ),
                rebalance=rule,
                equity_asset=d.equity,
                source="drawn by hand ([strategies].custom)",
            )
            if c.crypto_sleeve == 0:
                return path
            return self._sleeve(path, c.crypto_sleeve, c.name)
        except ValueError as exc:
            raise StudyError(f"[strategies].custom {c.name!r}: {exc}") from None

    # ------------------------------------------------------------------ scenario sets

    def rng(self, name: str) -> np.random.Generator:
        """The generator of stream ``name`` of the study's seed tree (:func:`named_rng`)."""
        return named_rng(self.study.seed, name)

    def scenarios(
        self,
        name: str,
        horizon: Plan | int,
        n: int = 0,
        kind: SetKind = "bootstrap",
        *,
        assets: Sequence[str] | None = None,
        frequency: Frequency | None = None,
        rows: tuple[int, int] | None = None,
        block_length: float | None = None,
    ) -> Scenarios:
        """The scenario set ``name``: ``n`` paths of ``horizon`` periods drawn by ``kind``.

        Parameters
        ----------
        name
            The set's name: it keys the set's seed (module docstring), so the same name,
            size, horizon and kind give the same scenarios in every section.
        horizon
            A plan (its periods at the set's frequency) or a number of periods.
        n
            Scenarios of a random set; ignored for ``"historical"`` (every cohort).
        kind
            ``"historical"`` (rolling cohorts), ``"bootstrap"`` (``[scenarios]``
            block length and method; the stationary method under the ``"cash"`` or
            ``"exclude"`` rule is drawn in the engine, a ``BootstrapScenarios``; the
            circular method and the ``"proxy"`` rule are stored), ``"parametric"``
            (lognormal; the crypto asset at ``[scenarios].crypto_proxy``, uncorrelated,
            when it is among ``assets``) or
            ``"cma"`` (annual, moment-matched to the ``[scenarios].cma`` file over the
            whole set; drawn in the engine, a ``CmaScenarios``, whenever
            ``backtest.cma.engine_route`` allows; an asset the file does not state has no
            data, NaN; a Student-t of non-integer dof is stored) or
            ``"international"`` (annual: :meth:`international_set`).
        assets
            Columns, default the four roles (equity, bonds, cash, crypto).
        frequency
            Default the study's; another frequency draws from :meth:`history_at` (the
            study's block length applies only at its own frequency).
        rows
            Only scenarios ``rows[0]:rows[1]`` of the set (a chunk): the same rows as the
            whole set holds (drawn in the engine: a lazy slice of the whole set; stored:
            drawing only the seed blocks they fall in).
        block_length
            Overrides ``[scenarios].block_length`` for the bootstrap (decimal periods).
        """
        freq = frequency or self.study.data.frequency
        own = freq == self.study.data.frequency
        cols = list(assets) if assets is not None else list(self.assets)
        n_t = (
            horizon.n_periods(periods_per_year(freq)) if isinstance(horizon, Plan) else int(horizon)
        )
        history = self.history if own else self.history_at(freq)
        if kind == "historical":
            return self._historical_set(name, history, cols, n_t, rows)
        if kind not in ("bootstrap", "parametric", "cma", "international"):
            raise StudyError(
                f"scenario set {name!r}: kind {kind!r}; use 'historical', 'bootstrap', "
                "'parametric', 'cma' or 'international'"
            )
        if kind in ("cma", "international") and periods_per_year(freq) != 1:
            what = "capital-market assumptions" if kind == "cma" else "JST country histories"
            raise StudyError(
                f"scenario set {name!r}: {what} are annual; use an annual "
                'study ([data].frequency = "annual")'
            )
        if n < 1:
            raise StudyError(f"scenario set {name!r}: n = {n}; a random set needs n >= 1")
        lo, hi = rows if rows is not None else (0, n)
        if not 0 <= lo < hi <= n:
            raise StudyError(f"scenario set {name!r}: rows {lo}:{hi} outside 0:{n}")
        if block_length is None and own:
            block_length = self.study.scenarios.block_length
        if kind == "bootstrap" and self._in_engine(cols):
            whole = self._engine_set(name, history, cols, n, n_t, freq, block_length)
            return whole if (lo, hi) == (0, n) else whole.take(slice(lo, hi))
        if kind == "parametric":
            model = self._parametric_set(name, history, cols, n, n_t, freq)
            return model if (lo, hi) == (0, n) else model.take(slice(lo, hi))
        if kind == "cma" and (
            engine_route(self.cma)[0] == "engine" or set(cols) <= set(self.cma.assets)
        ):
            market = self._cma_engine_set(name, cols, n, n_t)
            return market if (lo, hi) == (0, n) else market.take(slice(lo, hi))
        return self._random_set(name, kind, history, cols, n, n_t, freq, (lo, hi), block_length)

    def _missing_for(self, cols: list[str]) -> dict[str, Any]:
        """The before-data rule's arguments when ``cols`` hold the crypto asset, else none."""
        return self.missing if self.study.data.crypto in cols else {}

    def _rule_for(self, cols: Sequence[str]) -> MissingRule:
        """The before-data rule a bootstrap of ``cols`` applies: the study's when ``cols``
        hold the crypto asset, else ``"exclude"`` (complete rows, as ``block_bootstrap``)."""
        return cast(MissingRule, self._missing_for(list(cols)).get("missing", "exclude"))

    def _in_engine(self, cols: Sequence[str]) -> bool:
        """Whether a bootstrap of ``cols`` is drawn in the engine: a stationary bootstrap
        under the ``"cash"`` or ``"exclude"`` rule (module docstring). The circular
        bootstrap and the ``"proxy"`` rule (random proxy returns per scenario) are stored."""
        method = self.study.scenarios.bootstrap_method
        return method == "stationary" and self._rule_for(cols) != "proxy"

    def bootstrap_rows(
        self, history: pd.DataFrame, cols: Sequence[str]
    ) -> tuple[pd.DataFrame, dict[str, object]]:
        """The rows a bootstrap of ``cols`` of ``history`` resamples under the study's
        before-data rule (module :func:`bootstrap_rows`) and its ``meta`` (the rule, and
        what it filled or dropped)."""
        rule = self._rule_for(cols)
        rows, what = bootstrap_rows(history, cols, rule, self.study.data.cash)
        return rows, {"missing": rule, **what}

    def _engine_set(
        self,
        name: str,
        history: pd.DataFrame,
        cols: list[str],
        n: int,
        n_t: int,
        frequency: Frequency,
        block_length: float | None,
    ) -> BootstrapScenarios:
        """The whole stationary bootstrap ``name`` drawn in the engine: the rows of
        :meth:`bootstrap_rows`, the given block length or the automatic one
        (:meth:`block_length_at`), the 64-bit seed :func:`engine_seed`."""
        rows, what = self.bootstrap_rows(history, cols)
        if block_length is None:
            block_length = self.block_length_at(frequency, tuple(cols))
            rule = AUTOMATIC_RULE
        else:
            rule = "given"
        seed = engine_seed(self.study.seed, name)
        out = engine_bootstrap(
            rows, n, n_t, block_length=block_length, rule=rule, seed=seed, frequency=frequency
        )
        out.meta.update(what, set_name=name, seed=self.study.seed, seeding=SEED_SCHEME)
        return out

    def _historical_set(
        self,
        name: str,
        history: pd.DataFrame,
        cols: list[str],
        n_t: int,
        rows: tuple[int, int] | None,
    ) -> Scenarios:
        """Every rolling cohort of ``n_t`` periods (rows ``rows`` of them when given); the
        set's seed only drives the crypto before-data rule, if it draws."""
        rng = np.random.default_rng(set_seed(self.study.seed, name))
        sc = historical_cohorts(history, cols, n_t, **self._missing_for(cols), rng=rng)
        return sc if rows is None else sc.take(slice(*rows))

    def _random_set(
        self,
        name: str,
        kind: SetKind,
        history: pd.DataFrame,
        cols: list[str],
        n: int,
        n_t: int,
        frequency: Frequency,
        rows: tuple[int, int],
        block_length: float | None,
    ) -> Scenarios:
        """Rows ``rows`` of the random set ``name`` of ``n`` scenarios: each seed block of
        :data:`BLOCK` scenarios they fall in is drawn whole from its own seed, then cut."""
        lo, hi = rows
        missing = self._missing_for(cols)
        parts = []
        for b in range(lo // BLOCK, -(-hi // BLOCK)):
            size = min(BLOCK, n - b * BLOCK)
            rng = np.random.default_rng(set_seed(self.study.seed, name, b))
            if kind == "bootstrap":
                part = block_bootstrap(
                    history,
                    cols,
                    size,
                    n_t,
                    block_length=block_length,
                    method=self.study.scenarios.bootstrap_method,
                    rng=rng,
                    **missing,
                )
            elif kind == "cma":
                part = self._cma_set(cols, size, n_t, rng)
            elif kind == "international":
                part = self.international_set(cols, size, n_t, block_length, rng)
            else:
                raise StudyError(f"scenario set {name!r}: kind {kind!r} is not stored")
            a = max(lo - b * BLOCK, 0)
            z = min(hi - b * BLOCK, size)
            parts.append(part if (a, z) == (0, size) else part.take(slice(a, z)))
        out = _concat(parts)
        out.meta.update(set_name=name, seed=self.study.seed, seeding=SEED_SCHEME, route="stored")
        return out

    def _parametric_moments(
        self, history: pd.DataFrame, cols: list[str]
    ) -> tuple[list[str], FloatArray, FloatArray]:
        """The lognormal model of the parametric set: names ``[*assets, "cpi"]``, decimal
        annual log means and covariance. The core columns' moments are estimated on the
        history (``estimate_log_moments``); the crypto asset, when asked for, is at the
        stated ``[scenarios].crypto_proxy`` mean and volatility, uncorrelated, for the
        whole horizon (its years since 2010 cannot set a lifetime's assumption)."""
        crypto = self.study.data.crypto
        core = [c for c in cols if c != crypto]
        mu, cov, _ = estimate_log_moments(history, core)
        names = [*core, "cpi"]
        if crypto in cols:
            if self.study.scenarios.crypto_proxy is None:
                raise StudyError(
                    "parametric scenarios with the crypto asset need [scenarios].crypto_proxy "
                    "= { mean_log_annual = ..., vol_log_annual = ... }: Bitcoin's assumption"
                )
            mean, vol = self.study.scenarios.crypto_proxy
            k = len(core)  # the crypto asset goes in after the core assets, before CPI
            mu = np.insert(mu, k, mean)
            cov = np.insert(np.insert(cov, k, 0.0, axis=0), k, 0.0, axis=1)
            cov[k, k] = vol**2
            names = [*core, crypto, "cpi"]
        return names, mu, cov

    def _parametric_set(
        self,
        name: str,
        history: pd.DataFrame,
        cols: list[str],
        n: int,
        n_t: int,
        frequency: Frequency,
    ) -> Scenarios:
        """The whole parametric set ``name``: lognormal scenarios of
        :meth:`_parametric_moments`, drawn in the engine (``backtest.engine_gen.
        parametric_in_engine``: counter-based normals keyed by (:func:`engine_seed`,
        scenario, period)), never stored; the columns ``cols`` in order."""
        names, mu, cov = self._parametric_moments(history, cols)
        seed = engine_seed(self.study.seed, name)
        span = f"{history.index[0]:%Y}..{history.index[-1]:%Y}"
        crypto = (
            f"; {self.study.data.crypto} at the stated proxy"
            if self.study.data.crypto in cols
            else ""
        )
        whole = parametric_in_engine(
            names[:-1],
            dict(zip(names, mu.tolist(), strict=True)),
            cov,
            frequency,
            n,
            n_t,
            seed=seed,
            description=(
                f"parametric normal in log returns of {names} (annual log moments estimated "
                f"on {span}{crypto}), drawn in the engine, {n} x {n_t} {frequency} periods"
            ),
            meta={
                "source": f"annual log moments estimated on {span}{crypto}",
                "route": "engine",
                "engine_seed": seed,
                "set_name": name,
                "seed": self.study.seed,
                "seeding": SEED_SCHEME,
            },
        )
        return whole.select(cols) if list(whole.assets) != cols else whole

    @cached_property
    def cma(self) -> CapitalMarketAssumptions:
        """The study's capital-market assumptions (``[scenarios].cma``; ``"example"`` is the
        shipped example file)."""
        path = self.study.scenarios.cma
        if path is None:
            raise StudyError("this study states no [scenarios].cma file")
        try:
            return load_cma(EXAMPLE_PATH if path == "example" else Path(path))
        except DataError as exc:
            raise StudyError(f"[scenarios].cma: {exc}") from exc

    def _cma_engine_set(self, name: str, cols: list[str], n: int, n_t: int) -> Scenarios:
        """The whole CMA set ``name``: ``backtest.cma.cma_in_engine`` on all the file's
        assets (moment-matched over the whole set, drawn in the engine with the 64-bit
        seed :func:`engine_seed`), then ``cols`` (``CmaScenarios.with_columns``: a
        column the file does not state has no data). On the stored route (a Student-t of
        non-integer dof, ``meta["route"]`` says) only when the file states every column
        of ``cols``; else :meth:`_cma_set` draws per seed block."""
        seed = engine_seed(self.study.seed, name)
        whole = cma_in_engine(
            self.cma,
            n,
            n_t,
            seed=seed,
            meta={"engine_seed": seed, "set_name": name, "seed": self.study.seed,
                  "seeding": SEED_SCHEME},
        )  # fmt: skip
        if list(whole.assets) == cols:
            return whole
        if isinstance(whole, CmaScenarios):
            return whole.with_columns(cols)
        return whole.select(cols)

    def _cma_set(self, cols: list[str], n: int, n_t: int, rng: np.random.Generator) -> Scenarios:
        """``n`` scenarios moment-matched to :attr:`cma`, with the columns ``cols`` (one the
        file does not state is NaN: no data), stored: only for the stored route (a
        Student-t of non-integer dof, ``backtest.cma.engine_route``) with a column the
        file does not state; each seed block (``rng``) is a set of its own, matched on
        its own and materialised (``meta["route_reason"]``)."""
        sc = cma_scenarios(self.cma, n, n_t, rng)
        r = np.full((n, n_t, len(cols)), np.nan)
        for j, c in enumerate(cols):
            if c in sc.assets:
                r[:, :, j] = sc.returns[:, :, sc.assets.index(c)]
        unstated = [c for c in cols if c not in sc.assets]
        why = (
            f"{sc.meta['route_reason']}; the CMA file states no {unstated} (no data, NaN), "
            f"so each seed block of {BLOCK} scenarios is moment-matched on its own"
        )
        return Scenarios(r, sc.inflation, tuple(cols), "annual", description=sc.description,
                         meta={**sc.meta, "route_reason": why})  # fmt: skip

    @cached_property
    def international_panel(self) -> dict[str, pd.DataFrame]:
        """JST country -> its annual nominal local-currency returns under the study's role
        names (equity <- ``equity_tr``, bonds <- ``bond_tr``, cash <- ``bill_rate``,
        ``cpi`` <- inflation), every calendar year, NaN where JST has no value."""
        d = self.study.data
        names = dict(zip(JST_ROLES, (d.equity, d.bonds, d.cash), strict=True))
        return load_jst_panel(names={**names, "inflation": "cpi"})

    def international_set(
        self,
        cols: Sequence[str],
        n: int,
        n_t: int,
        block_length: float | None,
        rng: np.random.Generator,
    ) -> Scenarios:
        """``n`` annual scenarios of ``n_t`` years drawn by ``panel_block_bootstrap`` over
        the JST countries that have a complete year of the non-crypto ``cols`` and CPI
        (so Canada, without bonds or bills in JST, is left out), each block from one
        country chosen with equal weight, never across a gap: **real** local-currency
        returns, inflation 0. The crypto column is NaN (no data; a sleeve under the "cash"
        before-data rule earns the country's bills). Block length: the given one, else
        the US bootstrap's automatic one (:meth:`us_block_length`)."""
        crypto = self.study.data.crypto
        core = [c for c in cols if c != crypto]
        if not core:
            raise StudyError("the international set needs an equity, bonds or cash column")
        panel = {
            iso: frame
            for iso, frame in self.international_panel.items()
            if frame[[*core, "cpi"]].notna().all(axis=1).any()
        }
        if block_length is None:
            block_length = self.us_block_length(tuple(cols))
        sc = panel_block_bootstrap(panel, core, n, n_t, block_length, rng, weights="countries")
        r = np.full((n, n_t, len(cols)), np.nan)
        for j, c in enumerate(cols):
            if c in core:
                r[:, :, j] = sc.returns[:, :, core.index(c)]
        left_out = sorted(set(self.international_panel) - set(panel))
        meta = {**sc.meta, "countries": tuple(panel), "left_out": tuple(left_out)}
        return Scenarios(r, sc.inflation, tuple(cols), "annual", description=sc.description,
                         meta=meta)  # fmt: skip

    def us_block_length(self, cols: tuple[str, ...]) -> float:
        """The US block bootstrap's automatic block length (periods) for ``cols`` on the
        study's history (:meth:`block_length_at` at the study's frequency)."""
        return self.block_length_at(self.study.data.frequency, cols)

    def block_length_at(self, frequency: Frequency, cols: tuple[str, ...]) -> float:
        """The bootstrap's automatic block length (periods) for ``cols`` at ``frequency``:
        :func:`automatic_block_length` on :meth:`bootstrap_rows` under the study's
        ``bootstrap_method``, the number ``block_bootstrap`` reports (the before-data fill
        of the crypto column included); computed once per context, frequency and columns."""
        key = (frequency, cols)
        if key not in self._block_lengths:
            own = frequency == self.study.data.frequency
            history = self.history if own else self.history_at(frequency)
            rows, _ = self.bootstrap_rows(history, cols)
            method = self.study.scenarios.bootstrap_method
            self._block_lengths[key] = automatic_block_length(rows, method)
        return self._block_lengths[key]

    @cached_property
    def _block_lengths(self) -> dict[tuple[str, tuple[str, ...]], float]:
        """(frequency, columns) -> :meth:`block_length_at`, computed once per context."""
        return {}

    def study_sets(self, plan: Plan) -> dict[str, Scenarios]:
        """The study's own sets for ``plan``'s horizon (``[scenarios]``): historical
        cohorts, block bootstrap, parametric, capital-market assumptions and the
        international bootstrap, each under its name in :data:`SET_NAMES`."""
        sc = self.study.scenarios
        if sc.parametric_n > 0 and sc.crypto_proxy is None:
            raise StudyError(
                "[scenarios].parametric_n needs [scenarios].crypto_proxy = { mean_log_annual = "
                "..., vol_log_annual = ... }: Bitcoin's assumption in parametric scenarios"
            )
        out: dict[str, Scenarios] = {}
        if sc.historical:
            out[SET_NAMES["historical"]] = self.scenarios(
                SET_NAMES["historical"], plan, kind="historical"
            )
        if sc.bootstrap_n > 0:
            out[SET_NAMES["bootstrap"]] = self.scenarios(
                SET_NAMES["bootstrap"], plan, sc.bootstrap_n, "bootstrap"
            )
        if sc.parametric_n > 0:
            out[SET_NAMES["parametric"]] = self.scenarios(
                SET_NAMES["parametric"], plan, sc.parametric_n, "parametric"
            )
        if sc.cma_n > 0:
            out[SET_NAMES["cma"]] = self.scenarios(SET_NAMES["cma"], plan, sc.cma_n, "cma")
        if sc.international_n > 0:
            out[SET_NAMES["international"]] = self.scenarios(
                SET_NAMES["international"], plan, sc.international_n, "international"
            )
        if not out:
            raise StudyError("[scenarios]: enable historical = true or set bootstrap_n > 0")
        return out
