"""The run as the modules of its methods see it: a Protocol of :class:`~astrum._run._run.Run`.

``Run``'s methods live in the modules of their concern (``_attempt``,
``_arguments``, ``_failures``, ``_ending``) as functions taking the run, and
are bound in its class body. They type the run against :class:`RunState`, so
none of them imports ``_run`` back. The fields are documented on ``Run``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from contextvars import Context
from typing import TYPE_CHECKING, Any, Protocol

from astrum._build._plan import Binding, Plan, TaskSpec
from astrum._errors import Skip
from astrum._records import StageStatus
from astrum._run._executors import BodyRunner
from astrum._run._report import Attempt
from astrum._run._settings import RunSettings
from astrum.events import EventKind

if TYPE_CHECKING:
    from astrum._run._otel import RunTracing

__all__ = [
    "CACHED",
    "CANCELLED",
    "COMPLETED",
    "FAILED",
    "RUNNING",
    "SKIPPED",
    "Maker",
    "RunState",
]

Maker = Callable[[], Coroutine[Any, Any, Any]]
"""Makes the coroutine that runs a queued instance of a map (see ``Run._enqueue``)."""

# Shorthands of the statuses a run writes, one global load each.
COMPLETED = StageStatus.COMPLETED
FAILED = StageStatus.FAILED
CANCELLED = StageStatus.CANCELLED
SKIPPED = StageStatus.SKIPPED
RUNNING = StageStatus.RUNNING
CACHED = StageStatus.CACHED


class RunState(Protocol):
    """The fields and methods of a run that its method modules use."""

    plan: Plan
    settings: RunSettings
    run_id: str
    values: list[Any]
    status: list[str | None]
    _start: list[float]
    _end: list[float]
    _queued: list[float]
    _waited: dict[int, float]
    _waits: dict[int, list[float]]
    _unstarted: set[int]
    _attempts: list[list[Attempt] | None]
    _recorded: bool
    _errors: dict[int, BaseException]
    _skip_reason: dict[int, str]
    _running: dict[int, asyncio.Task[Any]]
    _instances: list[tuple[int, int]]
    _tails: dict[str, asyncio.Task[Any]]
    _failures: list[int]
    _to_settle: int
    _stopping: bool
    _halted: bool
    _fatal: BaseException | None
    _timed_out: bool
    _limit: asyncio.Semaphore | None
    _pools: dict[str, asyncio.Semaphore]
    _inputs: Mapping[str, Any]
    _loop: asyncio.AbstractEventLoop
    _new_task: Callable[..., asyncio.Task[Any]]
    """Makes a task's asyncio task (``coro, *, loop, name``); see ``Run``."""
    _ready: deque[tuple[int, Context, Maker | None, str | None]]
    """Tasks waiting for a worker; see ``Run._work``."""
    _active: int
    _direct_nodes: Sequence[bool]
    _clock: Callable[[], float]
    _epoch: float
    _finished: asyncio.Future[None]
    _body: BodyRunner
    _closing: asyncio.Task[None] | None
    _tracing: RunTracing | None

    def _now(self) -> float: ...

    def _emit(
        self,
        kind: EventKind,
        task: str | None,
        *,
        attempt: int = 0,
        error: BaseException | None = None,
        will_retry: bool = False,
        state: str | None = None,
    ) -> None: ...

    def _settle(self, node: int, status: str) -> None: ...

    def _spawn(self) -> None: ...

    def _enqueue(self, slot: int, make: Maker | None, name: str | None) -> None: ...

    def _name_of(self, node: int) -> str: ...

    def _skip_downstream(self, failed: int) -> None: ...

    def _cancelled_by_run(self, error: BaseException) -> bool: ...

    def _value(self, spec: TaskSpec, binding: Binding) -> Any: ...

    def _call(
        self,
        node: int,
        spec: TaskSpec,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        attempt: int,
    ) -> Awaitable[Any]: ...

    def _guarded_call(
        self,
        node: int,
        spec: TaskSpec,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        attempt: int,
        gates: Sequence[asyncio.Semaphore],
    ) -> Awaitable[Any]: ...

    def _gates(self, spec: TaskSpec) -> Sequence[asyncio.Semaphore]: ...

    def _body_of(
        self, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> Awaitable[Any]: ...

    def _attempt_failed(
        self, node: int, spec: TaskSpec, attempt: int, began: float, error: BaseException
    ) -> bool: ...

    def _attempt_completed(self, node: int, spec: TaskSpec, began: float) -> None: ...

    def _record_attempt(self, node: int, attempt: Attempt) -> None: ...

    def _arguments(self, spec: TaskSpec) -> tuple[list[Any], dict[str, Any]] | None: ...

    def _provided(self, spec: TaskSpec) -> Awaitable[tuple[list[Any], dict[str, Any]]]: ...

    def _retries(
        self, node: int, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> Awaitable[Any]: ...

    def _fail(self, node: int, error: BaseException) -> None: ...

    def _skipped(self, node: int, name: str, skip: Skip) -> None: ...
