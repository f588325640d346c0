"""Execution backends: run many independent tasks in this process or on a Dask cluster.

A backend maps a top-level function over tasks and yields ``(task index, result)`` as
results arrive, in any order; callers put them back in task order, so the answer never
depends on the backend or the number of workers. Every task gets the same ``shared``
object (e.g. the return history), sent to each Dask worker once.

* :class:`InProcess` (the default): tasks run one after another in this process; each may
  use every core itself (the numba kernel is parallel over scenarios).
* :class:`DaskBackend`: tasks are submitted to a ``distributed.Client``. Pass your own
  client (``DaskBackend(client)``), or let :func:`backend_for` start a ``LocalCluster`` on
  127.0.0.1 (``workers=N``) or connect to ``scheduler="tcp://HOST:PORT"``. A task lost with
  a dying worker is resubmitted by Dask (``retries``).

Dask is optional: ``pip install "glidelab[dask]"`` (in a checkout: ``pip install -e ".[dask]"``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from threadpoolctl import threadpool_limits

from backtest.errors import GlidelabError

if TYPE_CHECKING:
    from glidelab.studyfile.compute import ComputeConfig

T = TypeVar("T")
R = TypeVar("R")

INSTALL_DASK = 'pip install "glidelab[dask]"  (in a checkout: pip install -e ".[dask]")'

#: One numba-parallel simulation at a time per process: numba's default threading layer
#: may not be entered from two threads at once, and one task already uses every thread
#: it is given (so a many-threaded Dask worker loses nothing by running tasks in turn).
_KERNEL_LOCK = threading.Lock()


class BackendError(GlidelabError, RuntimeError):
    """A compute backend cannot start: Dask missing, bad scheduler address, bad settings."""


class Backend(Protocol):
    """Runs ``fn(task, shared)`` for every task; yields ``(index, result)`` as they finish."""

    @property
    def name(self) -> str:
        """A short label for logs and result files (read-only: frozen backends match)."""
        ...

    def map_unordered(
        self, fn: Callable[[T, Any], R], tasks: Sequence[T], shared: Any
    ) -> Iterator[tuple[int, R]]: ...


def single_threaded_blas() -> AbstractContextManager[Any]:
    """A context in which numpy's BLAS (OpenBLAS, MKL) runs on one thread.

    The optimisers' answers must not depend on where they run, and a multi-threaded BLAS
    splits some products differently by its thread count, so their last bits do: the
    shipped fund design's frontier moved in the sixth significant figure between two BLAS
    threads and one (the thread count a Dask worker gets: its nanny starts it with
    ``OMP_NUM_THREADS=1``). The parallel work is the numba kernel's, so one BLAS thread
    costs nothing measurable (the shipped design: 153 s with two, 156 s with one).
    """
    return cast(AbstractContextManager[Any], threadpool_limits(limits=1, user_api="blas"))


def call_with_threads(fn: Callable[[T, Any], R], task: T, shared: Any, threads: int | None) -> R:
    """Run one task with ``threads`` numba threads (None: all) and one BLAS thread
    (:func:`single_threaded_blas`), one task at a time per process."""
    import numba  # lazy: heavy (numba)

    with _KERNEL_LOCK, single_threaded_blas():
        if threads is None:
            return fn(task, shared)
        previous = numba.get_num_threads()
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
        try:
            return fn(task, shared)
        finally:
            numba.set_num_threads(previous)


@dataclass(frozen=True)
class InProcess:
    """Run tasks here, in order.

    Parameters
    ----------
    threads
        numba threads per task; None uses every core.
    """

    threads: int | None = None
    name: str = "in-process"

    def map_unordered(
        self, fn: Callable[[T, Any], R], tasks: Sequence[T], shared: Any
    ) -> Iterator[tuple[int, R]]:
        for i, task in enumerate(tasks):
            yield i, call_with_threads(fn, task, shared, self.threads)


def _worker_threads() -> int | None:
    """Threads of the Dask worker running this task (None outside a worker)."""
    try:
        from distributed import get_worker  # lazy: optional extra (dask)

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    n = getattr(worker, "nthreads", None)
    if n is None:
        n = getattr(getattr(worker, "state", None), "nthreads", None)
    return int(n) if n else None


def _on_worker(fn: Callable[[T, Any], R], task: T, shared: Any, threads: int | None) -> R:
    """The function Dask runs: the task with its worker's threads (or ``threads``)."""
    return call_with_threads(fn, task, shared, threads or _worker_threads())


class DaskBackend:
    """Run tasks on a Dask cluster through ``client``.

    Parameters
    ----------
    client
        A connected ``distributed.Client``.
    threads
        numba threads per task; None uses the running worker's thread count (tasks on one
        worker then run in turn, each with all of the worker's threads).
    retries
        Times a task is resubmitted after failing (e.g. its worker died).
    """

    name = "dask"

    def __init__(self, client: Any, *, threads: int | None = None, retries: int = 3) -> None:
        self.client = client
        self.threads = threads
        self.retries = retries

    def map_unordered(
        self, fn: Callable[[T, Any], R], tasks: Sequence[T], shared: Any
    ) -> Iterator[tuple[int, R]]:
        from distributed import as_completed  # lazy: optional extra (dask)

        if not tasks:
            return
        shared_future = self.client.scatter(shared, broadcast=True, hash=False)
        futures = [
            self.client.submit(
                _on_worker, fn, task, shared_future, self.threads, pure=False, retries=self.retries
            )
            for task in tasks
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future, result in as_completed(futures, with_results=True):
                yield index[future.key], result
                future.release()
        finally:
            # An interrupted sweep cancels what is still queued; finished work is kept.
            self.client.cancel([f for f in futures if not f.done()])
            del shared_future


def _worker_environ() -> dict[str, Any]:
    """Dask's environment for a new worker process without ``MALLOC_TRIM_THRESHOLD_``.

    Dask sets it (65,536) so that a worker gives freed memory back to the system sooner;
    but setting it also fixes glibc's mmap threshold at 128 KiB, so every array a task
    allocates above that is a fresh mapping, faulted in page by page and unmapped on
    free. The simulator allocates its chunk-sized arrays anew in every task, and a sweep
    on one worker ran 10-20 % slower than in-process with it and at par without it
    (``benchmarks.bench_sweep.run_case("dask_1", 25, 40_000, 10_000, 5)``, 20 tasks, 7
    December, load about 1: 2.77 and 2.89 s with it, 2.35 and 2.53 s without, 2.21-2.61 s
    in-process on one thread). The thread settings stay
    (one OpenMP, MKL and OpenBLAS thread). Workers that a user starts on a cluster of
    their own keep their own settings: set ``distributed.nanny.pre-spawn-environ`` there.
    """
    import dask  # lazy: optional extra (dask)

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return environ


def dask_client(
    workers: int | None = None,
    scheduler: str | None = None,
    threads_per_worker: int = 1,
    memory_limit: str | None = None,
) -> AbstractContextManager[Any]:
    """A context manager giving a ``distributed.Client``.

    ``scheduler``: connect to an existing cluster (``tcp://HOST:PORT``); else start a
    ``LocalCluster`` of ``workers`` processes with ``threads_per_worker`` threads each,
    listening on 127.0.0.1 only (its HTTP/dashboard port too), closed on exit.

    Raises
    ------
    BackendError
        If Dask is not installed (the message says how to install it) or the settings
        are inconsistent.
    """
    try:
        import dask  # lazy: optional extra (dask)
        from distributed import Client, LocalCluster  # lazy: optional extra (dask)
    except ImportError:
        raise BackendError(
            f"Dask is not installed; --workers and --scheduler need it: {INSTALL_DASK}"
        ) from None
    if scheduler is not None and workers is not None:
        raise BackendError("give either workers (a local cluster) or scheduler (an existing one)")

    @contextmanager
    def _ctx() -> Iterator[Any]:
        if scheduler is not None:
            if not scheduler.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
                raise BackendError(
                    f"scheduler = {scheduler!r} is not an address; expected tcp://HOST:PORT"
                )
            try:
                client = Client(scheduler, timeout="20s")
            except OSError as exc:
                raise BackendError(
                    f"cannot reach the Dask scheduler at {scheduler}: {exc}"
                ) from None
            with client:
                yield client
            return
        n = 1 if workers is None else int(workers)
        if n < 1 or threads_per_worker < 1:
            raise BackendError(
                f"workers = {workers}, threads_per_worker = {threads_per_worker}; both must be >= 1"
            )
        kwargs: dict[str, Any] = {}
        if memory_limit is not None:
            kwargs["memory_limit"] = memory_limit
        with (
            dask.config.set({"distributed.nanny.pre-spawn-environ": _worker_environ()}),
            LocalCluster(
                n_workers=n,
                threads_per_worker=threads_per_worker,
                processes=True,
                host="127.0.0.1",  # loopback only: nothing listens on another interface
                # The scheduler always serves HTTP (health, and the dashboard when bokeh is
                # installed): on loopback too, on a free port (8787 may be taken).
                dashboard_address="127.0.0.1:0",
                **kwargs,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client

    return _ctx()


def backend_for(client: Any | None = None, *, threads: int | None = None) -> Backend:
    """The backend for an optional Dask ``client``: :class:`DaskBackend` or :class:`InProcess`."""
    if client is None:
        return InProcess(threads=threads)
    return DaskBackend(client, threads=threads)


def ordered_map(backend: Backend) -> Callable[[Callable[[T, Any], R], Sequence[T], Any], list[R]]:
    """``backend`` as a plain ``map_fn(fn, tasks, shared) -> [fn(task, shared), ...]``
    in task order: the hook the optimiser takes (``optimize.baselines.MapFn``), so that
    ``optimize/`` runs on a backend without importing the app."""

    def map_fn(fn: Callable[[T, Any], R], tasks: Sequence[T], shared: Any) -> list[R]:
        items = list(tasks)
        out: dict[int, R] = dict(backend.map_unordered(fn, items, shared))
        return [out[i] for i in range(len(items))]

    return map_fn


def compute_backend(
    config: ComputeConfig, *, threads: int | None = None
) -> AbstractContextManager[Backend]:
    """The backend of a ``[compute]`` table (:class:`glidelab.study.ComputeConfig`), as a
    context manager: :class:`InProcess` when it names no cluster (nothing is started),
    else a :class:`DaskBackend` on a local cluster (``workers``) or on ``scheduler``,
    closed on exit."""
    if config.workers is None and config.scheduler is None:
        return nullcontext(InProcess(threads=threads))

    @contextmanager
    def _ctx() -> Iterator[Backend]:
        with dask_client(config.workers, config.scheduler, config.threads_per_worker) as client:
            yield DaskBackend(client, threads=threads)

    return _ctx()
