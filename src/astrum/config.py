"""Run-wide settings: :class:`AstrumConfig`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from astrum.cache import CacheStore

from astrum.executors import DaskExecutor, require_dask

__all__ = ["AstrumConfig", "ExecutorChoice", "FailurePolicy", "ThreadPoolChoice"]

ExecutorChoice = (
    Literal["thread", "inline", "process", "dask"] | concurrent.futures.Executor | DaskExecutor
)
"""Where sync task bodies run: a thread pool (see ``AstrumConfig.thread_pool``), on the
loop, a per-run process pool, a Dask cluster (``"dask"`` is the run's DaskExecutor, or
a local cluster), or your own executor."""

FailurePolicy = Literal["fail_fast", "continue"]
ThreadPoolChoice = Literal["shared", "per_run"]

_EXECUTOR_NAMES = ("thread", "inline", "process", "dask")
_EXECUTOR_CHOICES = (
    "'thread', 'inline', 'process', 'dask', a DaskExecutor or a concurrent.futures.Executor"
)
_FAILURE_POLICIES = ("fail_fast", "continue")


@dataclass(frozen=True)
class AstrumConfig:
    """Settings for building and running one workflow.

    The first eleven fields are those of the original API; the rest are added
    with defaults that keep its behaviour.

    >>> AstrumConfig(concurrency_limit=4, on_failure="continue").concurrency_limit
    4
    """

    skip_type_check: bool = False
    infer_via_ast: bool = False
    strict_topology: bool = False
    allow_no_dir_definition: bool = True
    auto_sync_dependencies: bool = True
    visualize: bool = False
    silence_warnings: bool = False
    silence: bool = True
    concurrency_limit: int | None = None
    ignore_tail_task: list[str] = field(default_factory=list)
    class_instances: list[Any] = field(default_factory=list)
    executor: ExecutorChoice = "thread"
    """Where plain ``def`` task bodies run. Async tasks always run on the loop."""
    max_workers: int | None = None
    """Threads in the shared pool (None: the event loop's default executor, ``min(32,
    cores + 4)`` threads), or threads or processes in a per-run pool (None:
    ``concurrency_limit``, else ``min(32, cores + 4)`` threads or one process per core)."""
    on_failure: FailurePolicy = "fail_fast"
    """``fail_fast`` stops the run at the first failure; ``continue`` lets independent
    branches finish and skips what depends on a failed task."""
    run_timeout: float | None = None
    """Seconds the whole run may take; when exceeded the run ends ``cancelled``."""
    on_event: Callable[[Any], Any] | Sequence[Callable[[Any], Any]] | None = None
    """A listener (or a list of them) called with every run and task event."""
    store: CacheStore | None = None
    """Where ``cache=True`` results go, and where every run is recorded so it can be
    resumed (``SqliteStore(path)``, ``MemoryStore()``). None: cached results go to
    a process-wide MemoryStore and runs are not recorded."""
    pools: Mapping[str, int] = field(default_factory=dict)
    """Resource pools: ``{"db": 2}`` lets at most two tasks tagged "db" run at once."""
    progress: bool = False
    """Show a live progress display while a run goes (needs ``astrum[viz]``)."""
    tracer_provider: Any = None
    """An OpenTelemetry ``TracerProvider``: each run is then a span (a child of the caller's
    current span) with a child span per task attempt (needs ``astrum[otel]``)."""
    thread_pool: ThreadPoolChoice = "shared"
    """``"shared"``: plain ``def`` bodies of every run on the event loop share one pool of
    ``max_workers`` threads, shut down when the loop closes; ``"per_run"``: each run starts
    a pool of its own and joins it when the run ends."""

    def __post_init__(self) -> None:
        limit = self.concurrency_limit
        if limit is not None and (type(limit) is not int or limit < 1):
            raise ValueError(
                f"concurrency_limit must be a positive integer or None, got {limit!r}."
            )
        workers = self.max_workers
        if workers is not None and (type(workers) is not int or workers < 1):
            raise ValueError(f"max_workers must be a positive integer or None, got {workers!r}.")
        if self.on_failure not in _FAILURE_POLICIES:
            raise ValueError(
                f"on_failure must be 'fail_fast' or 'continue', got {self.on_failure!r}."
            )
        _check_timeout("run_timeout", self.run_timeout)
        _check_executor(self.executor, "AstrumConfig.executor")
        if self.thread_pool not in ("shared", "per_run"):
            raise ValueError(
                f"thread_pool must be 'shared' or 'per_run', got {self.thread_pool!r}."
            )
        if self.store is not None:
            from astrum.cache import CacheStore

            if not isinstance(self.store, CacheStore):
                raise TypeError(
                    "AstrumConfig.store must be a cache store such as SqliteStore(path) or "
                    f"MemoryStore(), got {type(self.store).__name__}."
                )
        provider = self.tracer_provider
        if provider is not None and not callable(getattr(provider, "get_tracer", None)):
            raise TypeError(
                "AstrumConfig.tracer_provider must be an OpenTelemetry TracerProvider (an "
                f"object with get_tracer()), got {type(provider).__name__}."
            )
        for name, size in self.pools.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"Pool names must be non-empty strings, got {name!r}.")
            if type(size) is not int or size < 1:
                raise ValueError(f"Pool '{name}' must have a positive integer size, got {size!r}.")
        tails = self.ignore_tail_task
        if isinstance(tails, str):
            raise TypeError(
                "ignore_tail_task must be a list of task ids, not a string; "
                f"write ignore_tail_task=[{tails!r}]."
            )
        if not isinstance(tails, list | tuple) or not all(isinstance(t, str) for t in tails):
            raise TypeError(f"ignore_tail_task must be a list of task ids, got {tails!r}.")

    def build_semaphore(self) -> asyncio.Semaphore | None:
        """A new semaphore for ``concurrency_limit``, or None when unlimited."""
        if self.concurrency_limit is None:
            return None
        return asyncio.Semaphore(self.concurrency_limit)


def _check_timeout(name: str, value: float | None) -> None:
    """Reject timeouts that are not positive finite numbers."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; use None for no limit, got {value!r}.")


def _check_executor(value: object, where: str) -> None:
    """Reject executor choices that are neither a known name nor an executor."""
    if isinstance(value, str):
        if value not in _EXECUTOR_NAMES:
            raise ValueError(f"{where} must be {_EXECUTOR_CHOICES}, got {value!r}.")
        if value == "dask":
            require_dask(f"{where}='dask'")
    elif not isinstance(value, concurrent.futures.Executor | DaskExecutor):
        hint = ""
        if type(value).__module__.partition(".")[0] == "distributed":
            hint = "; to use a Dask client, pass DaskExecutor(client=client)"
        raise TypeError(f"{where} must be {_EXECUTOR_CHOICES}, got {type(value).__name__}{hint}.")
