"""``[compute]``: where a study's or a sweep's scenario evaluation runs (one definition).

In this process (the default, no service), on a Dask ``LocalCluster`` of ``workers``
processes on 127.0.0.1, or on the running cluster at ``scheduler`` ("tcp://HOST:PORT");
``threads_per_worker`` (default 1) for a local cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backtest.errors import StudyError
from glidelab.studyfile.tables import Table, check_keys

__all__ = ["COMPUTE_KEYS", "ComputeConfig", "parse_compute"]

#: The keys of a ``[compute]`` table (its part of the study schema).
COMPUTE_KEYS: dict[str, Any] = dict.fromkeys(("workers", "scheduler", "threads_per_worker"))


@dataclass(frozen=True)
class ComputeConfig:
    """``[compute]``: where tasks run: in this process (both None), a local Dask cluster
    of ``workers`` processes, or the running cluster at ``scheduler``."""

    workers: int | None = None
    scheduler: str | None = None
    threads_per_worker: int = 1

    @property
    def distributed(self) -> bool:
        """True when the work goes to Dask (a local cluster or a scheduler)."""
        return self.workers is not None or self.scheduler is not None


def parse_compute(raw: object, where: str = "[compute]") -> ComputeConfig:
    """Validate a ``[compute]`` table (the one definition, for studies and sweeps)."""
    if raw is not None:
        check_keys(raw, COMPUTE_KEYS, where)
    t = Table(raw if raw is not None else {}, where)
    workers = t.optional_integer("workers")
    scheduler = t.raw.get("scheduler")
    t.seen.add("scheduler")
    if scheduler is not None and not isinstance(scheduler, str):
        raise StudyError(f"{where}.scheduler = {scheduler!r}; expected 'tcp://HOST:PORT'")
    if workers is not None and workers < 1:
        raise StudyError(f"{where}.workers = {workers}; expected a whole number >= 1")
    if workers is not None and scheduler is not None:
        raise StudyError(f"{where}: give workers (a local cluster) or scheduler, not both")
    cfg = ComputeConfig(
        workers=workers,
        scheduler=scheduler,
        threads_per_worker=t.integer("threads_per_worker", ComputeConfig.threads_per_worker, lo=1),
    )
    t.done()
    return cfg
