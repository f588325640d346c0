"""The benchmark workload: a lifecycle plan, a four-asset monthly mix and chunked scenarios.

Scenarios are an i.i.d. monthly bootstrap of whole historical rows (the four assets and
CPI of the same month, so cross-correlations are kept) from the embedded US monthly data,
1926-07 .. 2025-11. Chunk ``k`` of a run seeded ``seed`` is drawn from
``np.random.default_rng([seed, k])``, so any chunk is reproducible on its own and a run
of ``n`` scenarios is the same whatever else is measured in the process.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from backtest.engine_gen import GeneratedScenarios, from_table
from backtest.plan import ConstantReal, Contributions, Plan
from backtest.scenarios import Scenarios
from strategies.base import NoStateTable, RebalanceRule, Schedule

#: Monthly series of the workload (``backtest.data.load_history`` names).
ASSETS: tuple[str, ...] = ("us_stocks", "us_small", "tbonds_10y", "tbills")
#: Fixed-mix weights, decimal, in the order of ``ASSETS``.
WEIGHTS: tuple[float, ...] = (0.45, 0.05, 0.40, 0.10)
#: 40 years of monthly periods.
N_PERIODS = 480


def benchmark_plan() -> Plan:
    """Age 55 to 95 (480 months): 10 years of saving, 30 of withdrawing, fees and costs.

    Amounts are real USD a year; rates decimal a year.
    """
    return Plan(
        start_age=55.0,
        retirement_age=65.0,
        end_age=95.0,
        initial_balance=400_000.0,
        contributions=Contributions(
            salary=90_000.0, rate=0.10, match_rate=0.5, match_cap=0.06, timing="end"
        ),
        withdrawal=ConstantReal(rate=0.04, timing="start"),
        expense_ratio=0.004,
        transaction_cost_bps=5.0,
    )


@dataclass(frozen=True)
class _StaticMix(NoStateTable):
    """Stand-in fixed mix (used only while ``strategies.FixedMix`` is not available)."""

    depends_on_returns = False  # a class attribute (no annotation: not a field)
    name: str
    assets: tuple[str, ...]
    weights: tuple[float, ...]
    rebalance: RebalanceRule = field(
        default_factory=lambda: RebalanceRule(kind="calendar", every_months=1)
    )
    sleeve_band: None = None
    smoothing: None = None

    def target_weights(self, schedule: Schedule, past_returns: np.ndarray) -> np.ndarray:
        w = np.asarray(self.weights, dtype=np.float64)
        return np.broadcast_to(w, (1, schedule.n_periods, w.size))


def fixed_mix(name: str, assets: tuple[str, ...], weights: tuple[float, ...]) -> tuple[object, str]:
    """A monthly-rebalanced fixed mix and a note saying which implementation it is.

    Uses ``strategies.FixedMix`` when it exists, else a local stand-in with the same
    semantics (constant target weights, calendar rebalancing every month).
    """
    monthly = RebalanceRule(kind="calendar", every_months=1)
    try:
        from strategies import FixedMix  # type: ignore[attr-defined]
    except ImportError:
        return _StaticMix(name, assets, weights, monthly), (
            "local stand-in (strategies.FixedMix not available yet)"
        )
    return FixedMix(name, assets, weights, rebalance=monthly), "strategies.FixedMix"


def benchmark_strategy() -> tuple[object, str]:
    """The four-asset mix of ``ASSETS`` / ``WEIGHTS``, rebalanced monthly."""
    return fixed_mix("bench 45/5/40/10", ASSETS, WEIGHTS)


@lru_cache(maxsize=1)
def history() -> tuple[np.ndarray, np.ndarray, str]:
    """Monthly nominal returns (H, 4) and CPI change (H,), decimal, and the period."""
    from backtest.data import load_history

    df = load_history([*ASSETS, "cpi"], frequency="monthly")
    returns = np.ascontiguousarray(df[list(ASSETS)].to_numpy(dtype=np.float64))
    inflation = np.ascontiguousarray(df["cpi"].to_numpy(dtype=np.float64))
    period = f"{df.index[0]:%Y-%m} .. {df.index[-1]:%Y-%m} ({len(df)} months)"
    return returns, inflation, period


def chunk_sizes(n_scenarios: int, chunk: int) -> list[int]:
    """Split ``n_scenarios`` into chunks of at most ``chunk``."""
    full, rest = divmod(n_scenarios, chunk)
    return [chunk] * full + ([rest] if rest else [])


def make_chunk(n: int, seed: int, index: int, n_periods: int = N_PERIODS) -> Scenarios:
    """Chunk ``index`` of ``n`` bootstrapped scenarios of ``n_periods`` months."""
    hist_r, hist_i, _ = history()
    rng = np.random.default_rng([seed, index])
    rows = rng.integers(0, hist_r.shape[0], size=(n, n_periods))
    return Scenarios(
        returns=hist_r[rows],
        inflation=hist_i[rows],
        assets=ASSETS,
        frequency="monthly",
        description=f"iid monthly bootstrap, seed [{seed}, {index}]",
    )


def generated(
    n: int, seed: int, block_length: float = 1.0, n_periods: int = N_PERIODS
) -> GeneratedScenarios:
    """``n`` scenarios of ``n_periods`` months drawn in the engine
    (``backtest.engine_gen.from_table``) from the same history rows as :func:`make_chunk`:
    i.i.d. (``block_length`` 1) or a stationary block bootstrap. Other draws than
    :func:`make_chunk`'s (counter-based, keyed by seed, scenario and month)."""
    hist_r, hist_i, _ = history()
    return from_table(
        hist_r, hist_i, ASSETS, "monthly", n, n_periods, block_length=block_length, seed=seed
    )


def iter_chunks(n_scenarios: int, chunk: int, seed: int) -> Iterator[Scenarios]:
    """Reproducible chunks covering ``n_scenarios`` scenarios (generated lazily)."""
    for k, m in enumerate(chunk_sizes(n_scenarios, chunk)):
        yield make_chunk(m, seed, k)
