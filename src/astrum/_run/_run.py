"""One run of a plan: the only place that touches asyncio.

All mutable state of a run lives in one :class:`Run` object: values, statuses,
timings, attempts. A task is ready the moment its last dependency completes
(no stage barriers); workers, asyncio tasks that run ready tasks one after
another, run it at once (see ``Run._work``), and when it finishes it makes
ready the dependents it was the last one to wait for. Nothing here writes to
the plan, the registry or module globals.

This module holds the state, the start, the per-task coroutine and settling;
the rest of ``Run``'s methods live with their concern and are bound in its
class body: a task's arguments (``_arguments``), one attempt with its gates,
timeout and retries (``_attempt``), failing and skipping (``_failures``), the
wind-down and the report (``_ending``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping, Sequence
from contextvars import Context, copy_context
from typing import TYPE_CHECKING, Any, Protocol

from astrum._build._plan import Plan, instance_name
from astrum._errors import Skip
from astrum._run import _arguments as arguing
from astrum._run import _attempt as attempting
from astrum._run import _ending as ending
from astrum._run import _failures as failing
from astrum._run._cache import RunCache
from astrum._run._executors import ASYNC_ONLY, BodyRunner
from astrum._run._inputs import check_inputs, needed_with_overrides
from astrum._run._report import Attempt
from astrum._run._settings import Listener, RunSettings
from astrum._run._state import CACHED, CANCELLED, COMPLETED, RUNNING, Maker
from astrum.events import Event, EventKind
from astrum.executors import DaskExecutor
from astrum.models import ExecutionReport

if TYPE_CHECKING:
    from astrum._run._otel import RunTracing

# RunSettings is re-exported so a scheduler imports the run machinery in one statement.
__all__ = ["Run", "RunSettings"]

logger = logging.getLogger("astrum")

_NO_POOLS: dict[str, asyncio.Semaphore] = {}  # what most runs have; never written to
_NO_CLUSTERS: frozenset[DaskExecutor] = frozenset()
# A worker (Run._work) goes on with the next ready task while it has run fewer than
# _IN_A_ROW tasks and the one that just ended took less than _QUICK seconds, so that it
# keeps the event loop at most about _IN_A_ROW * _QUICK seconds (25 ms) before the loop
# runs anything else.
_IN_A_ROW = 100
_QUICK = 0.00025
# The keyword arguments of most tasks: one empty dict, only ever read (typed so).
_NO_KWARGS: Mapping[str, Any] = {}


class Run:
    """The state and driver of one execution of a :class:`Plan`."""

    def __init__(
        self,
        plan: Plan,
        settings: RunSettings,
        overrides: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        resume: str | None = None,
    ) -> None:
        self.plan = plan
        self.settings = settings
        self.run_id = os.urandom(16).hex()  # as unique as uuid4().hex, in a third of the time
        self._cache: RunCache | None = None
        if settings.store is not None:
            self._cache = RunCache(
                plan, settings.store, record=settings.record_runs, run_id=self.run_id, resume=resume
            )
        n = len(plan.specs)
        self._specs = plan.specs
        self._succs = plan.graph.succs
        self._tail_nodes = plan.tails
        self._waiting = list(plan.waiting)
        self.values: list[Any] = [None] * n
        self.status: list[str | None] = [None] * n
        self._start = [0.0] * n
        self._end = [0.0] * n
        self._queued = [0.0] * n
        self._waited: dict[int, float] = {}  # the current attempt's wait for its gates
        self._waits: dict[int, list[float]] = {}  # per recorded attempt, of the tasks with gates
        self._unstarted: set[int] = set()
        self._attempts: list[list[Attempt] | None] = [None] * n
        self._recorded = False  # whether any attempt was recorded (only failures make one)
        self._errors: dict[int, BaseException] = {}
        self._skip_reason: dict[int, str] = {}
        self._running: dict[int, asyncio.Task[Any]] = {}
        # Tasks ready to run, with the context they were made ready in (see _work).
        self._ready: deque[tuple[int, Context, Maker | None, str | None]] = deque()
        self._active = 0
        # (map node, element) of each instance of a map, numbered after the plan's nodes.
        self._instances: list[tuple[int, int]] = []
        self._tails: dict[str, asyncio.Task[Any]] = {}
        self._failures: list[int] = []
        self._to_settle = n - len(plan.tails)
        self._stopping = False
        self._halted = False  # stopped early: no body may begin any more
        self._fatal: BaseException | None = None
        self._reported = False
        self._timed_out = False
        self._listening = bool(settings.listeners)
        self._listener_tasks: set[asyncio.Task[Any]] = set()
        self._limit: asyncio.Semaphore | None = settings.semaphore
        self._pools: dict[str, asyncio.Semaphore] = _NO_POOLS
        self._overrides: dict[int, Any] = {}
        self._needed: list[bool] | None = None
        if overrides:
            self._overrides, self._needed = needed_with_overrides(plan, overrides)
            self._to_settle = sum(
                1 for node, want in enumerate(self._needed) if want and node not in plan.tails
            )
        self._inputs: Mapping[str, Any] = inputs or {}
        if inputs or plan.inputs:
            check_inputs(
                plan,
                self._inputs,
                self._overrides,
                self._needed,
                check_types=settings.check_input_types,
            )
        self._loop: asyncio.AbstractEventLoop
        # Makes a task's asyncio task: asyncio.Task itself, or the loop's create_task (see
        # _task_maker). Chosen when the run starts.
        self._new_task: _TaskMaker
        self._clock: Callable[[], float]  # the loop's time() (see _clock_of)
        self._finished: asyncio.Future[None]
        self._body: BodyRunner
        self._closing: asyncio.Task[None] | None = None
        self._epoch = 0.0
        self._tracing: RunTracing | None = None
        if settings.tracer is not None:
            from astrum._run._otel import RunTracing

            self._tracing = RunTracing(settings.tracer, self.run_id)
            # Chosen once here, so a run without tracing does no work for it per task.
            self._call = self._traced_call  # type: ignore[method-assign]
        # Whether the successor loop of _task may queue tasks as Run._make_ready does,
        # itself: not when a subclass (DynamicRun) starts some kinds of task its own way.
        self._queue_inline = type(self)._make_ready is Run._make_ready
        # Which tasks' first attempts are awaited as they are, without ``_call``: those
        # with ``plan.direct`` set when the run has nothing to acquire or trace (set when the
        # run starts), else none.
        self._direct_nodes: Sequence[bool]

    # -- clock -------------------------------------------------------------------

    def _now(self) -> float:
        # The loop's clock, so tests on virtual time see virtual timestamps;
        # shifted to the epoch once per run so reports carry wall-clock times.
        return self._clock() + self._epoch

    # -- driver ------------------------------------------------------------------

    async def execute(self) -> ExecutionReport:
        """Run every task once its dependencies completed; return the report."""
        loop = self._loop = asyncio.get_running_loop()
        clock = self._clock = _clock_of(loop)
        self._new_task = _task_maker(loop)
        self._epoch = time.time() - clock()
        self._finished = loop.create_future()
        if self._cache is not None:
            await self._cache.start()
        settings = self.settings
        if self._limit is None and settings.concurrency_limit is not None:
            self._limit = asyncio.Semaphore(settings.concurrency_limit)
        if settings.pools:
            self._pools = {tag: asyncio.Semaphore(size) for tag, size in settings.pools.items()}
        direct = not self._pools and self._limit is None and self._tracing is None
        self._direct_nodes = self.plan.direct if direct else (False,) * len(self.plan.direct)
        sync_specs = self.plan.sync_specs
        self._body = (
            BodyRunner(
                settings.executor,
                settings.max_workers,
                settings.concurrency_limit,
                shared=settings.shared_threads,
                loop=loop,
            )
            if sync_specs
            else ASYNC_ONLY
        )
        started = clock() + self._epoch
        if self._tracing is not None:
            self._tracing.start_run(len(self.plan.specs))
        if self._listening:
            self._emit("run_started", None)
        if not self._to_settle:
            self._finished.set_result(None)
        cancelled_by_caller = False
        try:
            # Connecting to (or starting) a Dask cluster happens before any task starts:
            # it counts against the run's timeout, and against no task's.
            clusters = self._body.clusters(sync_specs) if sync_specs else _NO_CLUSTERS
            due = None
            if clusters or settings.run_timeout is not None:  # most runs skip a context
                async with asyncio.timeout(settings.run_timeout) as deadline:
                    await self._body.start(clusters)
                due = deadline.when()
            self._launch_roots()
            if settings.run_timeout is None:
                await self._finished
            else:
                async with asyncio.timeout_at(due):
                    await self._finished
        except TimeoutError:
            self._timed_out = True
        except asyncio.CancelledError:
            cancelled_by_caller = True
        finally:
            if (
                self._to_settle
                or self._running
                or self._fatal is not None
                or not self._body.started_nothing
            ):
                cancelled_by_caller |= await self._wind_down()
            else:  # every task settled and no pool or cluster was started: nothing to stop
                self._stopping = True
        report = self._report(started)
        self._reported = True
        if self._tracing is not None:
            self._tracing.end_run(report.execution_state, report.error_summary)
        if self._cache is not None:
            await self._cache.save_report(report)
        if self._listening:
            self._emit("run_finished", None, state=report.execution_state)
        if self._listener_tasks:
            await self._await_listeners()
        if self._fatal is not None:
            raise self._fatal
        if cancelled_by_caller:
            raise asyncio.CancelledError
        return report

    def _launch_roots(self) -> None:
        """Start every task that waits for nothing (or whose value is given)."""
        needed = self._needed
        if needed is None:
            roots: Sequence[int] = self.plan.roots
        else:
            waiting = self.plan.graph.waiting
            roots = [
                node
                for node in range(len(waiting))
                if needed[node] and (not waiting[node] or node in self._overrides)
            ]
        ready, tails, context = self._ready, self._tail_nodes, copy_context()
        for node in roots:
            if node in tails:
                self._launch(node)
            else:
                ready.append((node, context, None, None))
        if ready:
            self._spawn()

    def _make_ready(self, node: int) -> None:
        """``node`` may start: a worker runs it (a tail task gets an asyncio task of its own)."""
        if node in self._tail_nodes:
            self._launch(node)
        else:
            self._enqueue(node, None, None)

    def _launch(self, node: int) -> None:
        """Start ``node`` in an asyncio task of its own (a tail task, which outlives the run)."""
        task = self._new_task(self._task(node), loop=self._loop, name=self.plan.names[node])
        self._running[node] = task
        if node in self._tail_nodes:
            self._tails[self.plan.ids[node]] = task

    # -- workers -----------------------------------------------------------------
    # A ready task waits in self._ready, with the context it was made ready in, until a
    # worker runs it: an asyncio task that runs ready tasks one after another, each in a
    # copy of that context, named after the one it runs. The body of a task that never
    # waits (most steps of a pipeline, every no-op) then costs no asyncio task and no turn
    # of the event loop. When a task does wait, its worker stays with it to its end, as an
    # asyncio task of its own would, and if no other worker is about to take the queue, a
    # new one does, so no ready task waits for another's body. A worker hands the queue
    # on (see _QUICK) after _IN_A_ROW tasks or a slow one, so that the loop can run other
    # work, and at once if a cancellation of it is still owed when a task ends (a body
    # may cancel the asyncio task it runs in): that cancellation then ends the worker, not
    # the next task. self._active counts the workers not waiting in a body.

    def _enqueue(self, slot: int, make: Maker | None, name: str | None) -> None:
        """Queue ``slot`` for a worker, which runs ``make()`` (``_task(slot)`` if None) in
        an asyncio task named ``astrum:<name>`` (the plan's name for the task if None); start
        a worker if none is about to take the queue."""
        self._ready.append((slot, copy_context(), make, None if name is None else f"astrum:{name}"))
        if not self._active and not self._stopping:
            self._spawn()

    def _spawn(self) -> None:
        """Start a worker on the first ready task."""
        slot, context, make, name = self._ready.popleft()
        task = self._new_task(
            self._work(slot, context, make),
            loop=self._loop,
            name=self.plan.names[slot] if name is None else name,
        )
        self._running[slot] = task
        self._active += 1

    async def _work(self, slot: int, parent: Context, make: Maker | None) -> None:
        """A worker: run ``slot``, then ready tasks from the queue, as the block above says."""
        ready, running, names = self._ready, self._running, self.plan.names
        me = running[slot]  # this worker: _spawn put it there
        in_a_row = 1
        driver = _driver()
        start = driver.send
        start(None)  # to its first yield
        try:
            while True:
                context = parent.copy()  # what an asyncio task of its own would have had
                task = self._task(slot) if make is None else make()
                try:
                    waits_for = context.run(start, task)
                except BaseException as exc:  # a task records what its body raises: a bug
                    self._stop_on(exc)
                    raise
                if waits_for is not _DONE:  # it waits; most tasks are done at once
                    self._active -= 1
                    if ready and not self._active and not self._stopping:
                        self._spawn()  # the queue must not wait for this body
                    try:
                        await _go_on(driver, context, waits_for)
                    finally:
                        self._active += 1
                if not ready or self._stopping:
                    return
                if (
                    in_a_row == _IN_A_ROW
                    or self._end[slot] - self._start[slot] >= _QUICK
                    # A cancellation someone asked of this asyncio task while it ran that
                    # task, and still owed: it must not land in the next one.
                    or me.cancelling()
                ):
                    self._spawn()
                    return
                in_a_row += 1
                slot, parent, make, name = ready.popleft()
                running[slot] = me
                me.set_name(names[slot] if name is None else name)
        finally:
            self._active -= 1

    def _stop_on(self, exc: BaseException) -> None:
        """End the run with ``exc``, raised where nothing should raise: nothing may hang."""
        if self._fatal is None:
            self._fatal = exc
        if not self._finished.done():
            self._finished.set_result(None)

    # -- one task ----------------------------------------------------------------

    async def _task(self, node: int) -> Any:
        spec = self._specs[node]
        self.status[node] = RUNNING
        self._start[node] = began = self._clock() + self._epoch
        if self._listening:
            self._emit("task_started", spec.task_id, attempt=1)
        outcome = COMPLETED
        try:
            if node in self._overrides:
                value = self._overrides[node]
                self._attempts[node] = []  # it was never called
            else:
                args: Sequence[Any]
                kwargs: Mapping[str, Any]
                if spec.bindings:
                    args, kwargs = self._arguments(spec) or await self._provided(spec)
                else:
                    args, kwargs = (), _NO_KWARGS
                cache = self._cache
                if cache is not None:
                    # After the arguments are known (they are part of the key), before
                    # any attempt.
                    hit, value = await cache.lookup(node, spec, args, kwargs)
                    if hit:
                        outcome = CACHED
                if outcome is COMPLETED:  # not found in the cache
                    # The first attempt is awaited here, not in a coroutine of its own:
                    # most tasks make no other, and a coroutine each adds up.
                    try:
                        if self._direct_nodes[node] and not self._halted:
                            value = await spec.function(*args, **kwargs)  # what _call would do
                        else:
                            value = await self._call(node, spec, args, kwargs, 1)
                    except BaseException as exc:
                        if not self._attempt_failed(node, spec, 1, began, exc):
                            raise
                        retry = True
                    else:
                        retry = False  # a first attempt that succeeds is never recorded
                    if retry:  # awaited outside the except block: no implicit chaining
                        value = await self._retries(node, spec, args, kwargs)
                    if cache is not None:
                        await cache.save(node, spec, value)
        except asyncio.CancelledError as exc:
            if self._cancelled_by_run(exc):
                self._settle(node, CANCELLED)
                if self._listening:
                    self._emit("task_cancelled", spec.task_id)
                return None
            error: BaseException = RuntimeError(
                f"Task '{spec.task_id}' raised CancelledError although the run did not cancel "
                "it; raise an ordinary exception to fail a task."
            )
            self._fail(node, error)
            return None
        except BaseException as exc:  # recorded; execute() re-raises fatal ones
            if isinstance(exc, Skip):
                self._skipped(node, spec.task_id, exc)
                return None
            if not isinstance(exc, Exception) and self._fatal is None:
                self._fatal = exc
            self._fail(node, exc)
            if node in self._tail_nodes and (isinstance(exc, Exception) or self._reported):
                # Whoever awaits the tail task sees its error; a KeyboardInterrupt after
                # the report has no run left to stop, so asyncio's own handling applies.
                raise
            return None
        self.values[node] = value
        status = self.status
        # _settle(node, outcome), inlined: this is the path every task that returns takes.
        status[node] = outcome
        self._end[node] = self._clock() + self._epoch
        self._running.pop(node, None)
        if self._cache is not None:
            self._cache.release(node)
        if node not in self._tail_nodes:
            self._to_settle -= 1
            if not self._to_settle and not self._finished.done():
                self._finished.set_result(None)
        if self._listening:
            self._emit("task_completed" if outcome is COMPLETED else "task_cached", spec.task_id)
        if not self._stopping:
            waiting = self._waiting
            context = None  # this task's, copied once for all it makes ready (see _work)
            for succ in self._succs[node]:
                waiting[succ] -= 1
                if not waiting[succ] and status[succ] is None:
                    if self._queue_inline and succ not in self._tail_nodes:
                        # _make_ready(succ), inlined: this runs in a worker, which will
                        # take it from the queue.
                        if context is None:
                            context = copy_context()
                        self._ready.append((succ, context, None, None))
                    else:  # a tail task, or a subclass's kind of task
                        self._make_ready(succ)
        return value

    # -- outcomes ----------------------------------------------------------------

    def _settle(self, node: int, status: str) -> None:
        self.status[node] = status
        self._end[node] = self._clock() + self._epoch
        self._running.pop(node, None)
        if self._cache is not None:
            self._cache.release(node)  # other runs waiting for this task's cache key go on
        if node not in self._tail_nodes:
            self._to_settle -= 1
            if not self._to_settle and not self._finished.done():
                self._finished.set_result(None)

    def _name_of(self, node: int) -> str:
        """The name of a task of the plan, or of an instance of a mapped one."""
        ids = self.plan.ids
        if node < len(ids):
            return ids[node]
        owner, index = self._instances[node - len(ids)]
        return instance_name(ids[owner], index)

    # -- events ------------------------------------------------------------------

    def _emit(
        self,
        kind: EventKind,
        task: str | None,
        *,
        attempt: int = 0,
        error: BaseException | None = None,
        will_retry: bool = False,
        state: str | None = None,
    ) -> None:
        if not self.settings.listeners:
            return
        event = Event(kind, task, self._now(), self.run_id, attempt, error, will_retry, state)
        for listener in self.settings.listeners:
            try:
                result = listener(event)
                if asyncio.iscoroutine(result):
                    listener_task = self._loop.create_task(_guarded(result, listener))
                    self._listener_tasks.add(listener_task)
                    listener_task.add_done_callback(self._listener_tasks.discard)
            except Exception:
                logger.exception("Event listener %r failed on %s; the run goes on.", listener, kind)

    async def _await_listeners(self) -> None:
        while self._listener_tasks:
            await asyncio.wait(list(self._listener_tasks))

    # -- methods that live in the modules of their concern ---------------------------
    # Functions of the run, bound here: a call costs what a method call costs (the
    # per-task path is counted in steps, tests/test_scaling.py), and DynamicRun can
    # override them. They see the run as a RunState (_run/_state.py).

    # A task's arguments (_arguments.py).
    _arguments = arguing.arguments
    _provided = arguing.provided
    _value = arguing.value

    # One attempt: gates, timeout, retries, its record (_attempt.py).
    _retries = attempting.retries
    _attempt_failed = attempting.attempt_failed
    _attempt_completed = attempting.attempt_completed
    _call = attempting.call
    _traced_call = attempting.traced_call
    _guarded_call = attempting.guarded_call
    _gates = attempting.gates_of
    _body_of = attempting.body_of
    _record_attempt = attempting.record_attempt

    # A task that fails, is skipped or is cancelled (_failures.py).
    _cancelled_by_run = failing.cancelled_by_run
    _fail = failing.fail
    _skipped = failing.raised_skip
    _skip_downstream = failing.skip_downstream

    # The end of the run (_ending.py).
    _wind_down = ending.wind_down
    _report = ending.report


def _clock_of(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """The loop's ``time()``: ``time.monotonic`` itself when that is all the method does,
    which saves a Python call per timestamp (a loop on virtual time has its own)."""
    clock = loop.time
    if getattr(clock, "__func__", None) is asyncio.BaseEventLoop.time:
        return time.monotonic
    return clock


class _TaskMaker(Protocol):
    def __call__(
        self, coro: Coroutine[Any, Any, Any], *, loop: asyncio.AbstractEventLoop, name: str
    ) -> asyncio.Task[Any]: ...


def _task_maker(loop: asyncio.AbstractEventLoop) -> _TaskMaker:
    """``asyncio.Task`` itself when that is all the loop's ``create_task`` would make: no
    task factory, no debug mode, the method asyncio's own. That saves two Python calls a
    task. Any other loop (uvloop, one with a task factory) makes its tasks itself; a task
    factory set while a run is going applies from the next run."""
    create = getattr(loop.create_task, "__func__", None)
    if (
        create is asyncio.BaseEventLoop.create_task
        and loop.get_task_factory() is None
        and not loop.get_debug()
    ):
        return asyncio.Task
    return _created_by_loop


def _created_by_loop(
    coro: Coroutine[Any, Any, Any], *, loop: asyncio.AbstractEventLoop, name: str
) -> asyncio.Task[Any]:
    return loop.create_task(coro, name=name)


_DONE = object()
"""What :func:`_driver` yields when the coroutine it was given has returned."""


@types.coroutine
def _driver() -> Generator[Any, Any, None]:
    """Run each coroutine sent in to its end, passing up what it yields (the futures it
    waits for) and throws; yield ``_DONE`` when it has returned.

    A worker drives its tasks' coroutines through one such generator instead of
    calling each one's ``send`` itself. A coroutine that returns to a ``send``
    called from Python raises ``StopIteration``, which costs as much as a no-op
    task's body; one awaited here returns without an exception. Each ``send``
    runs in the context the worker passes to ``Context.run``, so tasks stay as
    separate as before.
    """
    coro = yield None
    while True:
        yield from coro
        coro = yield _DONE


@types.coroutine
def _go_on(
    driver: Generator[Any, Any, None], context: Context, waits_for: Any
) -> Generator[Any, None, None]:
    """Await the coroutine ``driver`` runs, whose first step ran already and yielded
    ``waits_for``, running each later step in ``context`` (what the event loop would do
    for an asyncio task of its own); return when ``driver`` yields ``_DONE``.

    The asyncio task awaiting this sees what the coroutine yields, and throws into it
    what it would throw into the coroutine (a cancellation).
    """
    send, throw = driver.send, driver.throw
    while True:
        try:
            yield waits_for
        except GeneratorExit:
            driver.close()  # and with it the coroutine
            raise
        except BaseException as exc:  # noqa: BLE001 - passed on to the coroutine
            waits_for = context.run(throw, exc)
        else:
            waits_for = context.run(send, None)
        if waits_for is _DONE:
            return


async def _guarded(result: Awaitable[Any], listener: Listener) -> None:
    try:
        await result
    except Exception:
        logger.exception("Event listener %r failed; the run goes on.", listener)
