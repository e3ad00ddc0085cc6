"""One run's connection to a Dask cluster; imported only when a run uses Dask.

A :class:`DaskSession` connects an asynchronous ``distributed.Client`` on the
run's loop: to a ``LocalCluster`` it starts (and closes after the run), to a
scheduler address, or by reusing the caller's client. Task bodies go through
:func:`astrum._run._remote.run_remote`, so results come back as outcomes that
carry the worker's address.

A value a Dask task returned keeps its Dask future for the rest of the run.
When the very same object is an argument of another Dask task, the future is
sent instead of the data: the consuming worker fetches it from the worker
that holds it, and the value never travels back up to the cluster.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import distributed
from distributed.client import FutureCancelledError
from distributed.scheduler import KilledWorker

from astrum._build._plan import TaskSpec
from astrum._run._remote import Outcome, describe_unpicklable, run_remote, unsendable
from astrum.executors import DaskExecutor, WorkerLostError

__all__ = ["DaskSession"]

logger = logging.getLogger("astrum")

# Dask annotates little of its client and cluster API (constructors, close, cancel),
# so it is used here as the untyped library it is.
_dask: Any = distributed

# Values not worth keeping on the cluster: small, and often shared by identity
# (small ints, None, True), so the identity map below would say nothing useful.
_NOT_HELD = (type(None), bool, int, float, complex)


class DaskSession:
    """The client, and the cluster if the run started one, used by one run."""

    __slots__ = (
        "_cancels",
        "_client",
        "_cluster",
        "_executor",
        "_held",
        "_owns_client",
        "_start",
        "_threads_before",
    )

    def __init__(self, executor: DaskExecutor) -> None:
        self._executor = executor
        self._start: asyncio.Task[Any] | None = None
        self._client: Any = None
        self._cluster: Any = None
        self._threads_before: set[threading.Thread] = set()
        self._owns_client = True
        self._held: dict[int, tuple[Any, Any]] = {}
        self._cancels: set[asyncio.Task[None]] = set()

    @property
    def place(self) -> str:
        """Where bodies go, for messages."""
        if self._executor.owns_cluster:
            return "the run's local Dask cluster"
        return "the Dask cluster"

    async def start(self) -> None:
        """Connect (once); a failure is reported by each task that needed the cluster."""
        if self._start is None:
            self._start = asyncio.get_running_loop().create_task(self._connect())
        # Shielded: a cancelled caller must not leave a half-started cluster behind.
        await asyncio.wait([self._start])

    async def run(self, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Outcome:
        """Run one attempt of a sync body on a worker; errors name the task."""
        client = await self._ready(spec.task_id)
        held = self._held
        send_args = [_sent(held, value) for value in args]
        send_kwargs = {name: _sent(held, value) for name, value in kwargs.items()}
        try:
            future = client.submit(
                run_remote,
                spec.function,
                send_args,
                send_kwargs,
                "dask",
                key=f"{spec.task_id}-{uuid.uuid4().hex}",
                pure=False,
            )
        except Exception as exc:
            # Dask pickles the call while submitting: find which part it choked on.
            from distributed.protocol.pickle import dumps

            problem = describe_unpicklable(spec.function, args, kwargs, dumps)
            if problem is None:
                raise
            raise unsendable(spec.task_id, self.place, problem) from exc
        try:
            outcome = await future
        except asyncio.CancelledError:
            self._cancel(client, future)
            raise
        except KilledWorker as exc:
            worker = exc.last_worker.address
            raise WorkerLostError(
                f"Task '{spec.task_id}' failed because the Dask worker running it ({worker}) "
                "died; the worker's log says why (out of memory, a crash in native code, "
                "os._exit). Add retry= to run it again on another worker.",
                worker,
            ) from exc
        except FutureCancelledError as exc:
            raise RuntimeError(
                f"Task '{spec.task_id}' was cancelled on the Dask cluster, not by Astrum "
                f"({exc}); the scheduler may have restarted or lost this client."
            ) from exc
        assert isinstance(outcome, Outcome)
        if outcome.problem is None and outcome.error is None:
            value = outcome.value
            if not isinstance(value, _NOT_HELD):
                held[id(value)] = (value, future)
        return outcome

    async def close(self) -> None:
        """Release the run's futures; close the client and cluster if the run made them."""
        if self._start is None:
            return
        await asyncio.wait([self._start])
        if self._cancels:
            await asyncio.wait(list(self._cancels))
        for _, future in self._held.values():
            future.release()
        self._held.clear()
        if self._start.cancelled() or self._start.exception() is not None:
            return
        try:
            if self._owns_client and self._client is not None:
                await self._client.close()
            if self._cluster is not None:
                await self._cluster.close()
                await self._helper_threads_gone()
        except Exception:
            logger.exception("Closing the run's Dask %s failed.", self.place)

    async def _helper_threads_gone(self) -> None:
        """Wait (briefly) for the threads Dask started to watch the cluster's processes.

        They end on their own shortly after the cluster closes; waiting for them
        keeps the promise that nothing the run started outlives it.
        """
        for _ in range(100):
            alive = [
                thread
                for thread in set(threading.enumerate()) - self._threads_before
                if thread.name.startswith("AsyncProcess") and thread.is_alive()
            ]
            if not alive:
                return
            await asyncio.sleep(0.02)
        logger.warning("Dask threads %s outlived the run's cluster.", [t.name for t in alive])

    # -- connecting --------------------------------------------------------------

    async def _ready(self, task_id: str) -> Any:
        await self.start()
        assert self._start is not None
        error = self._start.exception()
        if error is not None:
            kind = OSError if isinstance(error, OSError) else RuntimeError
            raise kind(f"Task '{task_id}' could not run: {error}") from error
        return self._start.result()

    async def _connect(self) -> Any:
        executor = self._executor
        loop = asyncio.get_running_loop()
        if executor.client is not None:
            given = executor.client
            if given.asynchronous and given.loop.asyncio_loop is loop:
                self._owns_client = False
                self._client = given
                return given
            # A synchronous client lives on its own loop; talk to its scheduler from ours.
            address = given.scheduler.address
            self._client = await _connect_client(address, security=given.security)
            return self._client
        if executor.address is not None:
            self._client = await _connect_client(executor.address)
            return self._client
        self._threads_before = set(threading.enumerate())
        try:
            self._cluster = await _dask.LocalCluster(
                asynchronous=True, **_cluster_options(executor)
            )
        except Exception as exc:
            raise RuntimeError(
                f"Astrum could not start a local Dask cluster ({type(exc).__name__}: {exc}). "
                "If this is a script, guard its entry point with "
                "`if __name__ == '__main__':` so worker processes can import it."
            ) from exc
        try:
            self._client = await _dask.Client(
                self._cluster, asynchronous=True, set_as_default=False
            )
        except BaseException:
            await self._cluster.close()
            raise
        return self._client

    def _cancel(self, client: Any, future: Any) -> None:
        # Tell the scheduler now; the worker's thread finishes on its own (threads
        # cannot be killed), and an embedded cluster's workers stop when it closes.
        task = asyncio.get_running_loop().create_task(_quietly(client.cancel([future])))
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)


async def _connect_client(address: str, **options: Any) -> Any:
    try:
        return await _dask.Client(address, asynchronous=True, set_as_default=False, **options)
    except Exception as exc:
        raise OSError(
            f"Astrum could not connect to the Dask scheduler at {address} "
            f"({type(exc).__name__}: {exc}). Check that the scheduler runs and that this "
            "machine can reach it."
        ) from exc


def _cluster_options(executor: DaskExecutor) -> dict[str, Any]:
    options: dict[str, Any] = {
        "n_workers": executor.n_workers or os.cpu_count() or 1,
        "threads_per_worker": executor.threads_per_worker,
        "processes": True,
        # Only this machine may connect, and a dashboard port in use elsewhere is no error.
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
        # A worker that dies fails the attempt at once, so the task's own retry policy
        # decides what happens, as it does for every other failure.
        "scheduler_kwargs": {"allowed_failures": 0},
    }
    options.update(executor.cluster_options)
    return options


def _sent(held: Mapping[int, tuple[Any, Any]], value: Any) -> Any:
    """The Dask future that produced ``value`` in this run, or ``value`` itself."""
    entry = held.get(id(value))
    if entry is not None and entry[0] is value:
        return entry[1]
    return value


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:
        logger.debug("Cancelling a Dask future failed; it is released with the run.", exc_info=True)
