"""How a task body is executed: async bodies on the loop, sync bodies where configured.

A run owns one :class:`BodyRunner`. Its thread pool is created on the first
sync call and shut down when the run closes it, so no idle worker outlives
the run. A thread cannot be killed: a sync body that is cancelled or times out
keeps its thread until the function returns, and its result is discarded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .config import ExecutorChoice

__all__ = ["BodyRunner"]


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
    """Calls task functions for one run and owns the threads it starts."""

    __slots__ = ("_busy", "_closed", "_default", "_lock", "_loop", "_max_workers", "_pool")

    def __init__(self, default: ExecutorChoice, max_workers: int | None) -> None:
        self._default = default
        self._max_workers = max_workers or default_thread_count()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._busy = 0  # bodies running in the pool's threads right now
        self._closed = False

    async def call_sync(
        self,
        function: Callable[..., Any],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        choice: ExecutorChoice | None,
    ) -> Any:
        """Run a plain function where ``choice`` (or the run's default) says."""
        where = self._default if choice is None else choice
        if where == "inline":
            value = _call_body(function, *args, **kwargs)
        elif where == "thread":
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    self._max_workers, thread_name_prefix="astrum"
                )
            # Copy the context so contextvars set by the caller are visible in the thread.
            call = functools.partial(
                contextvars.copy_context().run, self._in_thread, function, *args, **kwargs
            )
            value = await self._loop.run_in_executor(self._pool, call)
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

    def close(self) -> None:
        """Stop the run's pool: queued calls are dropped, running threads finish alone.

        When no body is running, every worker is idle and exits at once, so we
        wait for them: no thread of a finished run is left behind.
        """
        pool = self._pool
        if pool is None:
            return
        self._pool = None
        with self._lock:
            self._closed = True
            idle = not self._busy
        pool.shutdown(wait=idle, cancel_futures=True)
