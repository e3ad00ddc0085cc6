"""How a task body is executed: async bodies on the loop, sync bodies where configured.

A run owns one :class:`BodyRunner`. Sync bodies go by default to the thread
pool that every run on the event loop shares (:mod:`astrum._run._pools`), so
concurrent runs are bounded together. Anything else a run's bodies need (a
per-run thread pool on request, a process pool) is created on first use, or
before the first task for a Dask connection (so starting a cluster counts
against no task's timeout), and closed when the run ends, so no idle worker
of its own outlives the run. A thread cannot
be killed: a sync body that is cancelled or times out keeps its thread until the
function returns, and its result is discarded. Processes the run started are
stopped when it ends, so a cancelled body in a process dies with its pool.

Bodies sent to another process go through :func:`astrum._run._remote.run_remote`
(see there for what comes back).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import logging
import os
import pickle
import threading
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from astrum._build._plan import TaskSpec
from astrum._run._pools import shared_pool
from astrum._run._remote import (
    Outcome,
    RemoteTraceback,
    describe_unpicklable,
    run_remote,
    unsendable,
)
from astrum.config import ExecutorChoice
from astrum.executors import DaskExecutor, SerializationError, WorkerLostError

if TYPE_CHECKING:
    from astrum._run._dask import DaskSession

__all__ = ["ASYNC_ONLY", "BodyRunner", "default_thread_count"]

logger = logging.getLogger("astrum")

# Seconds idle pool processes get to exit by themselves before busy ones are terminated.
_PROCESS_GRACE = 0.5


def default_thread_count() -> int:
    """The same default as the standard library's thread pools."""
    return min(32, (os.cpu_count() or 1) + 4)


def _call_body(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call a sync body; a StopIteration becomes a RuntimeError.

    asyncio cannot put a StopIteration into a future: the result would never
    arrive and the run would hang. Module-level so process pools can pickle it.
    """
    try:
        return function(*args, **kwargs)
    except StopIteration as exc:
        name = getattr(function, "__qualname__", type(function).__name__)
        raise RuntimeError(
            f"{name}() raised StopIteration, which asyncio cannot pass on; catch it in the "
            "task or use next(iterator, default)."
        ) from exc


class BodyRunner:
    """Calls task functions for one run and owns the threads, processes and clusters it starts."""

    __slots__ = (
        "_busy",
        "_closed",
        "_dask",
        "_default",
        "_implicit_dask",
        "_lock",
        "_loop",
        "_max_workers",
        "_pool",
        "_processes",
        "_shared",
        "_shared_size",
        "_workers",
    )

    def __init__(
        self,
        default: ExecutorChoice,
        max_workers: int | None,
        concurrency_limit: int | None = None,
        *,
        shared: bool = True,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._default = default
        # The shared pool's size is max_workers alone (concurrency_limit bounds each run
        # with a semaphore); a pool of the run's own defaults to that limit, as before.
        self._shared = shared
        self._shared_size = max_workers
        self._max_workers = max_workers or concurrency_limit
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._processes: concurrent.futures.ProcessPoolExecutor | None = None
        self._dask: dict[DaskExecutor, DaskSession] = {}
        self._implicit_dask: DaskExecutor | None = None
        self._workers: dict[str, str | None] = {}
        self._loop = asyncio.get_running_loop() if loop is None else loop
        self._lock = threading.Lock()
        self._busy = 0  # bodies running in the pool's threads right now
        self._closed = False

    def clusters(self, specs: Sequence[TaskSpec]) -> set[DaskExecutor]:
        """The Dask clusters the sync tasks of the plan will use."""
        return {
            where
            for spec in specs
            if not spec.is_async
            and isinstance(where := self._resolve(spec.options.executor), DaskExecutor)
        }

    async def start(self, clusters: AbstractSet[DaskExecutor]) -> None:
        """Connect to every cluster of ``clusters`` (see :meth:`clusters`)."""
        if clusters:
            await asyncio.gather(*(self._session(executor).start() for executor in clusters))

    async def call_sync(
        self, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> Any:
        """Run a task's plain function where its options (or the run's default) say."""
        where = self._resolve(spec.options.executor)
        function = spec.function
        if where == "inline":
            value = _call_body(function, *args, **kwargs)
        elif where == "thread" and self._shared:
            call = functools.partial(
                contextvars.copy_context().run, _call_body, function, *args, **kwargs
            )
            pool = shared_pool(self._loop, self._shared_size)
            value = await self._loop.run_in_executor(pool, call)
        elif where == "thread":
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    self._max_workers or default_thread_count(), thread_name_prefix="astrum"
                )
            # Copy the context so contextvars set by the caller are visible in the thread.
            call = functools.partial(
                contextvars.copy_context().run, self._in_thread, function, *args, **kwargs
            )
            value = await self._loop.run_in_executor(self._pool, call)
        elif where == "process":
            value = await self._in_process(spec, args, kwargs, self._process_pool(), owned=True)
        elif isinstance(where, DaskExecutor):
            session = self._session(where)
            self._workers.pop(spec.task_id, None)
            try:
                outcome = await session.run(spec, args, kwargs)
            except WorkerLostError as exc:
                self._workers[spec.task_id] = exc.worker
                raise
            value = self._unpack(spec, session.place, outcome)
        elif isinstance(where, concurrent.futures.ProcessPoolExecutor):
            value = await self._in_process(spec, args, kwargs, where, owned=False)
        elif isinstance(where, concurrent.futures.ThreadPoolExecutor):
            # As for the run's own threads: the body sees the caller's contextvars (and
            # so the task's tracing span).
            call = functools.partial(
                contextvars.copy_context().run, _call_body, function, *args, **kwargs
            )
            value = await self._loop.run_in_executor(where, call)
        else:
            assert isinstance(where, concurrent.futures.Executor)
            value = await self._loop.run_in_executor(
                where, functools.partial(_call_body, function, *args, **kwargs)
            )
        if inspect.isawaitable(value):
            # A plain function that returns an awaitable (a lambda around a coroutine
            # function, say) is finished only when that awaitable is.
            value = await value
        return value

    def worker_of(self, task_id: str) -> str | None:
        """Where the task's latest attempt ran: a Dask worker's address, a pid, or None."""
        return self._workers.get(task_id)

    def workers(self) -> dict[str, str | None]:
        """A copy of where each task's latest attempt ran, for those that ran elsewhere."""
        return dict(self._workers)

    def _in_thread(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._closed:
                return None  # the run is over; nobody awaits this call any more
            self._busy += 1
        try:
            return _call_body(function, *args, **kwargs)
        finally:
            with self._lock:
                self._busy -= 1

    @property
    def started_nothing(self) -> bool:
        """True when no thread pool, process pool or Dask session was started: nothing to close."""
        return self._pool is None and self._processes is None and not self._dask

    async def close(self) -> None:
        """Stop what the run started: queued calls are dropped, the run's processes stopped.

        When no body is running in the thread pool, every worker is idle and
        exits at once, so we wait for them: no thread of a finished run is left.
        A body still running keeps its thread until it returns (threads cannot
        be killed).
        """
        pool = self._pool
        if pool is not None:
            self._pool = None
            with self._lock:
                self._closed = True
                idle = not self._busy
            pool.shutdown(wait=idle, cancel_futures=True)
        if self._processes is not None:
            processes, self._processes = self._processes, None
            await _stop_process_pool(processes)
        sessions = list(self._dask.values())
        self._dask.clear()
        for session in sessions:
            await session.close()

    # -- where -------------------------------------------------------------------

    def _resolve(self, choice: ExecutorChoice | None) -> ExecutorChoice:
        where = self._default if choice is None else choice
        if where != "dask":
            return where
        # "dask" means the run's DaskExecutor, or else one local cluster for the run.
        if isinstance(self._default, DaskExecutor):
            return self._default
        if self._implicit_dask is None:
            self._implicit_dask = DaskExecutor()
        return self._implicit_dask

    def _session(self, executor: DaskExecutor) -> DaskSession:
        session = self._dask.get(executor)
        if session is None:
            from astrum._run._dask import DaskSession

            session = self._dask[executor] = DaskSession(executor)
        return session

    # -- processes ---------------------------------------------------------------

    def _process_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._processes is None:
            import multiprocessing

            # Spawned, not forked: forking a process that runs threads (ours, the
            # loop's, a Dask client's) can deadlock the child.
            self._processes = concurrent.futures.ProcessPoolExecutor(
                self._max_workers or os.cpu_count() or 1,
                mp_context=multiprocessing.get_context("spawn"),
            )
        return self._processes

    async def _in_process(
        self,
        spec: TaskSpec,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        pool: concurrent.futures.ProcessPoolExecutor,
        *,
        owned: bool,
    ) -> Any:
        # Imported here: it imports multiprocessing, which runs without processes never need.
        from concurrent.futures.process import BrokenProcessPool

        place = "a worker process"
        self._workers.pop(spec.task_id, None)
        try:
            future = pool.submit(run_remote, spec.function, list(args), dict(kwargs), "process")
            outcome: Outcome = await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            if owned and pool is self._processes:
                # The pool is unusable now; the next attempt gets a fresh one.
                self._processes = None
                await _stop_process_pool(pool)
            raise WorkerLostError(
                f"Task '{spec.task_id}' failed because a process of the pool running it died "
                "abruptly (killed, out of memory, os._exit or a crash in native code). "
                "Add retry= to run it again in a new process."
            ) from exc
        except Exception as exc:
            # Bodies report their own errors inside the outcome, so this is about the call.
            problem = describe_unpicklable(spec.function, args, kwargs, pickle.dumps)
            if problem is None:
                raise
            raise unsendable(spec.task_id, place, problem) from exc
        return self._unpack(spec, place, outcome)

    # -- outcomes ----------------------------------------------------------------

    def _unpack(self, spec: TaskSpec, place: str, outcome: Outcome) -> Any:
        self._workers[spec.task_id] = outcome.worker
        if outcome.problem is not None:
            raise SerializationError(
                f"Task '{spec.task_id}' {outcome.problem}, so it cannot come back from "
                f"{place}. Return plain data (built-in types, dataclasses, anything pickle "
                "takes), or run this task with executor='thread'."
            )
        error = outcome.error
        if error is not None:
            if outcome.trace:
                error.__cause__ = RemoteTraceback(outcome.trace)
            raise error
        return outcome.value


class _AsyncOnly(BodyRunner):
    """The runner of a run whose bodies are all async: it has nothing to start or stop.

    Async bodies run on the loop, so such a run needs no pool, process or cluster, and
    one stateless instance (:data:`ASYNC_ONLY`) serves every such run.
    """

    __slots__ = ()

    def __init__(self) -> None:  # no state: none of BodyRunner's is set up
        pass

    def clusters(self, specs: Sequence[TaskSpec]) -> set[DaskExecutor]:
        return set()

    async def start(self, clusters: AbstractSet[DaskExecutor]) -> None:
        return None

    async def call_sync(
        self, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> Any:
        raise AssertionError(f"Task '{spec.task_id}' is not async, yet its run has no runner.")

    def worker_of(self, task_id: str) -> str | None:
        return None

    def workers(self) -> dict[str, str | None]:
        return {}

    @property
    def started_nothing(self) -> bool:
        return True

    async def close(self) -> None:
        return None


ASYNC_ONLY: BodyRunner = _AsyncOnly()
"""The runner of every run whose plan has no sync task (see :class:`_AsyncOnly`)."""


async def _stop_process_pool(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Shut the pool down and make sure none of its processes outlives it."""
    # The pool keeps its processes private and offers no way to stop a busy one.
    processes = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    step = 0.01
    waited = 0.0
    while any(process.is_alive() for process in processes):
        if waited >= _PROCESS_GRACE * 10:
            logger.warning("Processes of the run's pool did not stop: %s", processes)
            return
        if waited >= _PROCESS_GRACE:
            # Idle processes left on the shutdown signal; these still run a cancelled body.
            for process in processes:
                if process.is_alive():
                    process.terminate()
        await asyncio.sleep(step)
        waited += step
