"""The thread pools that all runs on one event loop share for their sync bodies.

Without ``max_workers`` the shared pool is the loop's default executor, the
one ``asyncio.to_thread`` uses (``min(32, cores + 4)`` threads), which
``asyncio.run()`` and ``asyncio.Runner`` shut down before they close the loop.
With ``max_workers`` it is a pool of that size kept for the loop, made on first
use and shut down when the loop shuts down its async generators, which
``asyncio.run()``, ``asyncio.Runner`` (so pytest-asyncio) and ``uvloop.run()``
do when they close it. Nothing outlives its loop there; a loop closed by hand
without ``loop.shutdown_asyncgens()`` keeps its sized pool's idle threads until
the interpreter exits (as it would keep its default executor's).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator

__all__ = ["shared_pool"]

_lock = threading.Lock()
_sized: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[int, concurrent.futures.ThreadPoolExecutor]
] = weakref.WeakKeyDictionary()
"""The sized pools of each live loop. Weak keys: an entry never keeps its loop alive
beyond the loop's own shutdown, which removes the entry."""
_closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncIterator[None]] = (
    weakref.WeakKeyDictionary()
)


def shared_pool(
    loop: asyncio.AbstractEventLoop, max_workers: int | None
) -> concurrent.futures.ThreadPoolExecutor | None:
    """The pool sync bodies of runs on ``loop`` share; None means the loop's default executor."""
    if max_workers is None:
        return None
    with _lock:
        pools = _sized.get(loop)
        if pools is None:
            pools = _sized[loop] = {}
            closer = _close_with(loop, pools)
            _closers[loop] = closer
            _start(closer)
        pool = pools.get(max_workers)
        if pool is None:
            pool = pools[max_workers] = concurrent.futures.ThreadPoolExecutor(
                max_workers, thread_name_prefix=f"astrum-shared-{max_workers}"
            )
        return pool


async def _close_with(
    loop: asyncio.AbstractEventLoop, pools: dict[int, concurrent.futures.ThreadPoolExecutor]
) -> AsyncIterator[None]:
    """Suspended for the loop's lifetime; its ``finally`` runs when the loop shuts down."""
    try:
        yield
    finally:
        with _lock:
            _sized.pop(loop, None)
            _closers.pop(loop, None)
            closing = list(pools.values())
            pools.clear()
        for pool in closing:
            # Idle workers exit at once; a body a finished run abandoned is waited for,
            # as asyncio waits for its default executor's.
            pool.shutdown(wait=True)


def _start(closer: AsyncIterator[None]) -> None:
    """Advance the generator to its ``yield``, which registers it with the running loop."""
    step = closer.__anext__()
    with contextlib.suppress(StopIteration):  # what a yield looks like from outside
        step.send(None)  # type: ignore[attr-defined]  # an awaitable that is a generator
