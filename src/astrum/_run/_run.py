"""One run of a plan: the only place that touches asyncio.

All mutable state of a run lives in one :class:`Run` object: values, statuses,
timings, attempts. Each task is one asyncio task that starts the moment its
last dependency completes (no stage barriers) and, when it finishes, starts
the dependents it was the last one to wait for. Nothing here writes to the
plan, the registry or module globals.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from astrum._build._plan import Binding, Plan, TaskSpec
from astrum._errors import Skip
from astrum._records import ExecutionState, StageStatus
from astrum._run._cache import RunCache
from astrum._run._executors import ASYNC_ONLY, BodyRunner
from astrum._run._inputs import check_inputs, needed_with_overrides
from astrum._run._report import Attempt, RunRecord, describe
from astrum._views._summary import abbreviated, plural
from astrum.config import ExecutorChoice, FailurePolicy
from astrum.events import Event, EventKind
from astrum.executors import DaskExecutor
from astrum.models import ExecutionReport

if TYPE_CHECKING:
    from astrum._run._otel import RunTracing
    from astrum.cache import CacheStore

__all__ = ["Run", "RunSettings", "TransportError"]

logger = logging.getLogger("astrum")

COMPLETED = StageStatus.COMPLETED
FAILED = StageStatus.FAILED
CANCELLED = StageStatus.CANCELLED
SKIPPED = StageStatus.SKIPPED
RUNNING = StageStatus.RUNNING
CACHED = StageStatus.CACHED
RUN_COMPLETED = ExecutionState.COMPLETED
RUN_FAILED = ExecutionState.FAILED
RUN_CANCELLED = ExecutionState.CANCELLED

Listener = Callable[[Event], Any]
_NO_GATES: tuple[asyncio.Semaphore, ...] = ()  # what most attempts hold: nothing
_NO_POOLS: dict[str, asyncio.Semaphore] = {}  # what most runs have; never written to
_NO_CLUSTERS: frozenset[DaskExecutor] = frozenset()


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Run-wide settings taken from the config, resolved once per scheduler."""

    executor: ExecutorChoice = "thread"
    max_workers: int | None = None
    concurrency_limit: int | None = None
    semaphore: asyncio.Semaphore | None = None
    """A semaphore the caller owns and shares between runs (the legacy ``concurrency_context``)."""
    on_failure: FailurePolicy = "fail_fast"
    run_timeout: float | None = None
    listeners: tuple[Listener, ...] = ()
    silence: bool = True
    store: CacheStore | None = None
    """Where cached results are looked up and stored; None when nothing is cached."""
    record_runs: bool = False
    """Record each completed task's value per run, so the run can be resumed."""
    pools: Mapping[str, int] = field(default_factory=dict)
    """Slots per resource tag: at most that many tasks carrying the tag run at once."""
    check_input_types: bool = True
    tracer: Any = None
    """An OpenTelemetry tracer when the config names a tracer provider, else None."""
    shared_threads: bool = True
    """Sync bodies go to the thread pool every run on the loop shares, not one of the run's own."""


class TransportError(LookupError):
    """An upstream value lacks the key, attribute or index a binding asks for."""


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
        # (map node, element, spec) of each instance of a map, numbered after the plan's nodes.
        self._instances: list[tuple[int, int, TaskSpec]] = []
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
        # Whether attempts of tasks with ``plan.direct`` set are awaited as they are, without
        # ``_call``: nothing to acquire, trace or time out. Set when the run starts.
        self._direct = False

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
        self._epoch = time.time() - clock()
        self._finished = loop.create_future()
        if self._cache is not None:
            await self._cache.start()
        settings = self.settings
        if self._limit is None and settings.concurrency_limit is not None:
            self._limit = asyncio.Semaphore(settings.concurrency_limit)
        if settings.pools:
            self._pools = {tag: asyncio.Semaphore(size) for tag, size in settings.pools.items()}
        self._direct = not self._pools and self._limit is None and self._tracing is None
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

    async def _wind_down(self) -> bool:
        """Cancel what still runs (unless every task settled), wait for it, free threads.

        Returns whether the caller cancelled us while we waited.
        """
        self._stopping = True
        interrupted = False
        # Tail tasks outlive a finished run; anything else still running is stopped.
        stop_all = bool(self._to_settle) or self._fatal is not None
        self._halted |= stop_all
        pending = list(self._running.values()) if stop_all else []
        for task in pending:
            task.cancel()
        while pending:
            try:
                await asyncio.wait(pending)
            except asyncio.CancelledError:
                interrupted = True  # finish cleaning up first; the caller gets it after
            pending = [task for task in pending if not task.done()]
        live_tails = [task for task in self._running.values() if not task.done()]
        if live_tails:
            # Tail tasks keep running after the report; the pool goes when they are done.
            remaining = len(live_tails)

            def release(_: asyncio.Task[Any]) -> None:
                nonlocal remaining
                remaining -= 1
                if not remaining:
                    self._closing = self._loop.create_task(self._body.close())

            for task in live_tails:
                task.add_done_callback(release)
        elif not self._body.started_nothing:  # async-only runs skip a task and a loop turn
            closing = self._loop.create_task(self._body.close())
            while not closing.done():
                try:
                    await asyncio.wait([closing])
                except asyncio.CancelledError:
                    interrupted = True  # processes and clusters must stop all the same
        return interrupted

    def _launch_roots(self) -> None:
        """Start every task that waits for nothing (or whose value is given)."""
        needed = self._needed
        if needed is None:
            for node in self.plan.roots:
                self._launch(node)
            return
        for node, preds in enumerate(self.plan.graph.preds):
            if needed[node] and (not preds or node in self._overrides):
                self._launch(node)

    def _launch(self, node: int) -> None:
        task = self._loop.create_task(self._task(node), name=self.plan.names[node])
        self._running[node] = task
        if node in self._tail_nodes:
            self._tails[self.plan.ids[node]] = task

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
                    args, kwargs = (), {}
                cache = self._cache
                hit = False
                if cache is not None:
                    # After the arguments are known (they are part of the key), before any attempt.
                    hit, value = await cache.lookup(node, spec, args, kwargs)
                if hit:
                    outcome = CACHED
                else:
                    # The first attempt is awaited here, not in a coroutine of its own:
                    # most tasks make no other, and a coroutine each adds up.
                    try:
                        if self._direct and self.plan.direct[node] and not self._halted:
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
            for succ in self._succs[node]:
                waiting[succ] -= 1
                if not waiting[succ] and status[succ] is None:
                    self._launch(succ)
        return value

    async def _retries(
        self, node: int, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> Any:
        """Attempts 2, 3, ... of a task whose first attempt failed and may be retried."""
        attempt = 2
        while True:
            delay = spec.options.delay_before(attempt)
            if delay:
                await asyncio.sleep(delay)
            began = self._now()
            try:
                value = await self._call(node, spec, args, kwargs, attempt)
            except BaseException as exc:
                if not self._attempt_failed(node, spec, attempt, began, exc):
                    raise
                attempt += 1
                continue
            self._attempt_completed(node, spec, began)
            return value

    def _attempt_failed(
        self, node: int, spec: TaskSpec, attempt: int, began: float, error: BaseException
    ) -> bool:
        """Record a failed attempt (and tell listeners); True when another one follows."""
        if isinstance(error, Skip):
            worker = self._body.worker_of(spec.task_id)
            self._record_attempt(node, (began, self._now(), SKIPPED, None, False, worker))
            return False  # skipping is the body's decision, not a failure to retry
        if isinstance(error, Exception):
            ended = self._now()
            will_retry = attempt <= spec.retry and isinstance(error, spec.options.retry_on)
            worker = self._body.worker_of(spec.task_id)
            self._record_attempt(node, (began, ended, FAILED, error, will_retry, worker))
            if self.settings.listeners:
                self._emit(
                    "attempt_failed",
                    spec.task_id,
                    attempt=attempt,
                    error=error,
                    will_retry=will_retry,
                )
            return will_retry
        if node in self._unstarted:
            return False  # cancelled before it began: not an attempt
        worker = self._body.worker_of(spec.task_id)
        outcome = CANCELLED if self._cancelled_by_run(error) else FAILED
        failure = None if outcome is CANCELLED else error
        self._record_attempt(node, (began, self._now(), outcome, failure, False, worker))
        return False

    def _attempt_completed(self, node: int, spec: TaskSpec, began: float) -> None:
        # A lone successful attempt is implied by the report; record it only after failures.
        if self._attempts[node] is not None:
            worker = self._body.worker_of(spec.task_id)
            self._record_attempt(node, (began, self._now(), COMPLETED, None, False, worker))

    def _call(
        self,
        node: int,
        spec: TaskSpec,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        attempt: int,
    ) -> Awaitable[Any]:
        """One attempt: the body itself, or the body behind its gates, checks and timeout."""
        gates = self._gates(spec)
        if not gates and spec.options.timeout is None and not self._halted:
            return self._body_of(spec, args, kwargs)
        return self._guarded_call(node, spec, args, kwargs, attempt, gates)

    def _traced_call(
        self,
        node: int,
        spec: TaskSpec,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        attempt: int,
    ) -> Awaitable[Any]:
        """``_call`` inside the attempt's span (replaces ``_call`` when the run is traced)."""
        assert self._tracing is not None
        return self._tracing.attempt(
            spec.task_id,
            attempt,
            lambda: Run._call(self, node, spec, args, kwargs, attempt),
            self._body.worker_of,
        )

    async def _guarded_call(
        self,
        node: int,
        spec: TaskSpec,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        attempt: int,
        gates: Sequence[asyncio.Semaphore],
    ) -> Any:
        if gates:
            asked = self._now()
            held = 0
            try:
                for gate in gates:
                    await gate.acquire()
                    held += 1
            except BaseException as exc:
                for gate in gates[:held]:
                    gate.release()
                if isinstance(exc, asyncio.CancelledError):
                    self._unstarted.add(node)  # cancelled while queued: it never began
                self._queued[node] += self._now() - asked
                raise
            waited = self._now() - asked
            self._queued[node] += waited
            self._waited[node] = waited
        if self._halted:
            # The run stopped while this attempt waited for a slot or for its first step.
            for gate in gates:
                gate.release()
            self._unstarted.add(node)
            raise asyncio.CancelledError
        try:
            timeout = spec.options.timeout
            if timeout is None:
                return await self._body_of(spec, args, kwargs)
            due = self._loop.time() + timeout
            try:
                async with asyncio.timeout_at(due) as deadline:
                    value = await self._body_of(spec, args, kwargs)
            except TimeoutError as exc:
                if not deadline.expired():
                    raise  # the body raised TimeoutError itself
                raise _timed_out(spec, timeout, attempt) from exc
            if self._loop.time() > due:
                # A body that blocked the loop (an inline sync one) could not be
                # interrupted; it still overran, so its result is discarded.
                raise _timed_out(spec, timeout, attempt)
            return value
        finally:
            for gate in gates:
                gate.release()

    def _gates(self, spec: TaskSpec) -> Sequence[asyncio.Semaphore]:
        """The semaphores one attempt must hold: its pools in name order, then the global limit.

        Every task acquires in this same order, so two tasks can never wait on each other.
        """
        pools = self._pools
        if not pools:
            return [self._limit] if self._limit is not None else _NO_GATES
        gates = [pools[tag] for tag in spec.options.tags if tag in pools]
        if self._limit is not None:
            gates.append(self._limit)
        return gates

    def _body_of(
        self, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> Awaitable[Any]:
        if spec.is_async:
            awaitable: Awaitable[Any] = spec.function(*args, **kwargs)
            return awaitable
        return self._body.call_sync(spec, args, kwargs)

    def _arguments(self, spec: TaskSpec) -> tuple[list[Any], dict[str, Any]] | None:
        """The task's arguments, or None when a provider feeds one (see ``_provided``).

        Not a coroutine: most tasks take only upstream values and inputs, and
        a coroutine per task would cost them a frame for nothing.
        """
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        values = self.values
        for binding in spec.bindings:
            if binding.provider is not None:
                return None
            source = binding.source
            if source is not None and binding.locator is None and binding.mode is None:
                value = values[source]  # the usual upstream value, as _value would give it
            else:
                value = self._value(spec, binding)
            if binding.positional:
                args.append(value)
            else:
                kwargs[binding.param] = value
        return args, kwargs

    async def _provided(self, spec: TaskSpec) -> tuple[list[Any], dict[str, Any]]:
        """The arguments of a task some of whose values come from providers (maybe async)."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for binding in spec.bindings:
            if binding.provider is None:
                value = self._value(spec, binding)
            else:
                value = binding.provider()
                if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
                    value = await value
                if binding.locator is not None:
                    value = _located(spec, binding, value)
            if binding.positional:
                args.append(value)
            else:
                kwargs[binding.param] = value
        return args, kwargs

    def _value(self, spec: TaskSpec, binding: Binding) -> Any:
        """The value of a binding from a run-time input or an upstream task."""
        if binding.input_name is not None:
            return self._inputs.get(binding.input_name, binding.default)
        assert binding.source is not None
        value = self.values[binding.source]
        return value if binding.locator is None else _located(spec, binding, value)

    # -- outcomes ----------------------------------------------------------------

    def _cancelled_by_run(self, error: BaseException) -> bool:
        """Whether ``error`` is the run (or its caller) cancelling us, not a body raising it."""
        if not isinstance(error, asyncio.CancelledError):
            return False
        task = asyncio.current_task()
        return self._stopping or (task is not None and task.cancelling() > 0)

    def _record_attempt(self, node: int, attempt: Attempt) -> None:
        if self._waited:
            # Every recorded attempt of a task with gates waited for them first.
            waited = self._waited.pop(node, None)
            if waited is not None:
                self._waits.setdefault(node, []).append(waited)
        self._recorded = True
        attempts = self._attempts[node]
        if attempts is None:
            self._attempts[node] = [attempt]
        else:
            attempts.append(attempt)

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

    def _fail(self, node: int, error: BaseException) -> None:
        spec = self.plan.specs[node]
        self._errors[node] = error
        self._failures.append(node)
        # Always logged, whatever ``silence`` says: a library logs its failures and the
        # application decides where they go (without a handler, stderr shows them).
        logger.error("Task '%s' failed: %s", spec.task_id, describe(error), exc_info=error)
        self._settle(node, FAILED)
        if self.settings.listeners:
            self._emit("task_failed", spec.task_id, error=error)
        if node in self.plan.tails and self._fatal is None:
            return
        if self.settings.on_failure == "fail_fast" or self._fatal is not None:
            self._stopping = self._halted = True
            if not self._finished.done():
                self._finished.set_result(None)
            return
        self._skip_downstream(node)

    def _skipped(self, node: int, name: str, skip: Skip) -> None:
        """``node`` raised :class:`Skip`: it ends skipped, and so do its dependents."""
        self._skip_reason[node] = skip.reason or f"Task '{name}' raised Skip."
        self._settle(node, SKIPPED)
        if self.settings.listeners:
            self._emit("task_skipped", name)
        if not self._stopping:
            self._skip_downstream(node)

    def _skip_downstream(self, failed: int) -> None:
        """Skip everything downstream of ``failed``, which failed or was skipped."""
        succs = self.plan.graph.succs
        ids = self.plan.ids
        verb = "failed" if self.status[failed] == FAILED else "was skipped"
        reason = f"Skipped because upstream task '{ids[failed]}' {verb}."
        stack = list(succs[failed])
        skipped = []
        while stack:
            node = stack.pop()
            if self.status[node] is None:
                self._start[node] = self._now()
                self._skip_reason[node] = reason
                self._settle(node, SKIPPED)
                skipped.append(ids[node])
                if self._tracing is not None:
                    self._tracing.skipped(ids[node], reason, self._start[node])
                if self.settings.listeners:
                    self._emit("task_skipped", ids[node])
                stack.extend(succs[node])
        if skipped:
            logger.warning(
                "Skipped %s because upstream task '%s' failed: %s",
                plural(len(skipped), "task"),
                ids[failed],
                abbreviated(skipped),
            )

    def _name_of(self, node: int) -> str:
        """The name of a task of the plan, or of an instance of a mapped one."""
        ids = self.plan.ids
        return ids[node] if node < len(ids) else self._instances[node - len(ids)][2].task_id

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

    # -- report ------------------------------------------------------------------

    def _report(self, started: float) -> ExecutionReport:
        plan = self.plan
        graph = plan.graph
        ended = self._clock() + self._epoch
        record = RunRecord(
            plan,
            list(self.status),  # a copy: tail tasks may still finish
            self._start,
            self._end,
            self._queued,
            self._waits,
            self._attempts,
            self._errors,
            self._skip_reason,
            self._body.workers(),
            self._instances,
        )
        count = len(graph)
        # The counts are of the workflow's tasks; a map counts once, its instances not.
        statuses = record.status[:count] if self._instances else record.status
        if statuses.count(COMPLETED) == count:  # every task returned: no filtering
            returns = dict(zip(plan.ids, self.values))  # noqa: B905 - values may be longer
        else:
            values = self.values
            returns = {
                task_id: values[node]
                for node, (task_id, status) in enumerate(zip(plan.ids, statuses, strict=False))
                if status in (COMPLETED, CACHED)
            }
        failures = self._failures
        if self._timed_out:  # cut short, even if a task failed before (under "continue")
            state = RUN_CANCELLED
        elif failures:
            state = RUN_FAILED
        elif self._to_settle:
            state = RUN_CANCELLED
        else:
            state = RUN_COMPLETED
        summary = (
            [
                f"Task '{self._name_of(node)}' failed: {describe(self._errors[node])}"
                for node in failures
            ]
            if failures
            else []
        )
        if self._recorded:  # only failed attempts (and those after them) are recorded
            summary += record.retry_notes()
        if self._timed_out:
            summary.append(
                f"The run timed out after {self.settings.run_timeout:g} s; "
                "the tasks still running were cancelled."
            )
        if state is not RUN_COMPLETED:
            unfinished = record.status.count(CANCELLED) + record.status.count(None)
            logger.warning(
                "Run %s %s: %s failed, %s cancelled or not started.%s",
                self.run_id,
                state,
                plural(len(failures), "task"),
                plural(unfinished, "task"),
                f" {summary[-1]}" if self._timed_out else "",
            )
        elif not self.settings.silence:
            logger.info("Run %s completed: %s.", self.run_id, plural(count, "task"))
        planning = plan.planning_duration
        # The record stands in for the statistics, computed from it when first read.
        return ExecutionReport._of(
            {
                "total_start_time": started - planning,
                "total_end_time": ended,
                "total_duration": ended - started + planning,
                "planning_duration": planning,
                "execution_duration": ended - started,
                "total_tasks": count,
                "total_stages": graph.depth,
                "max_parallelism": graph.width,
                "successful_tasks": len(returns),
                "failed_tasks": statuses.count(FAILED),
                "stage_statistics": record,
                "task_statistics": record,
                "execution_state": state,
                "error_summary": summary,
                "original_tasks": record,
                "tail_tasks": dict(self._tails),
                "task_return_set": returns,
                "run_id": self.run_id,
                "edge_labels": record,
            }
        )


def _clock_of(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """The loop's ``time()``: ``time.monotonic`` itself when that is all the method does,
    which saves a Python call per timestamp (a loop on virtual time has its own)."""
    clock = loop.time
    if getattr(clock, "__func__", None) is asyncio.BaseEventLoop.time:
        return time.monotonic
    return clock


def _located(spec: TaskSpec, binding: Binding, value: Any) -> Any:
    """The key, attribute or index of ``value`` that ``binding.locator`` names."""
    locator = binding.locator
    try:
        if isinstance(locator, int):
            return value[locator]
        if isinstance(value, Mapping):
            return value[locator]
        assert locator is not None
        return getattr(value, locator)
    except (LookupError, AttributeError, TypeError) as exc:
        origin = (
            f"task '{binding.source_id}'"
            if binding.provider is None
            else "its from_function provider"
        )
        what = f"index {locator}" if isinstance(locator, int) else f"key or attribute {locator!r}"
        raise TransportError(
            f"Task '{spec.task_id}' could not get parameter '{binding.param}' from "
            f"{origin}: its value of type {type(value).__name__} has no {what}."
        ) from exc


async def _guarded(result: Awaitable[Any], listener: Listener) -> None:
    try:
        await result
    except Exception:
        logger.exception("Event listener %r failed; the run goes on.", listener)


def _timed_out(spec: TaskSpec, timeout: float, attempt: int) -> TimeoutError:
    return TimeoutError(f"Task '{spec.task_id}' timed out after {timeout:g} s (attempt {attempt}).")
