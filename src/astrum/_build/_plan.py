"""The immutable plan a run executes: the graph plus what each task needs.

Built once, validated once, never written to afterwards; any number of runs,
sequential or concurrent, read the same plan.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter, not_
from types import FunctionType
from typing import Any, NamedTuple, TypeVar

from astrum._build._graph import Graph
from astrum._build._markers import NO_DEFAULT, TaskData
from astrum.cache import CachePolicy
from astrum.config import ExecutorChoice, _check_executor, _check_timeout

__all__ = [
    "ASYNC_PRODUCER",
    "DEFAULT_OPTIONS",
    "GENERATOR_FLAGS",
    "MAPPED",
    "PLAIN",
    "SYNC_PRODUCER",
    "Binding",
    "Dynamic",
    "Mode",
    "Plan",
    "TaskOptions",
    "TaskSpec",
    "from_fields",
    "instance_name",
    "instance_spec",
    "is_async_callable",
    "is_generator",
]

_Tuple = TypeVar("_Tuple", bound=tuple[Any, ...])


class TaskOptions(NamedTuple):
    """Per-task control settings beyond ``retry``; the defaults keep the original behaviour.

    A named tuple, like :class:`TaskSpec`: registering a task makes one, and
    this way costs a third of a frozen dataclass.
    """

    timeout: float | None = None
    retry_delay: float = 0.0
    retry_backoff: float = 1.0
    retry_max_delay: float | None = None
    retry_jitter: float = 0.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    executor: ExecutorChoice | None = None
    tags: tuple[str, ...] = ()
    cache: CachePolicy | None = None

    def validate(self, task_id: str) -> None:
        """Raise ``ValueError``/``TypeError`` naming the task for any bad setting."""
        where = f"Task '{task_id}'"
        _check_timeout(f"{where}: timeout", self.timeout)
        for name in ("retry_delay", "retry_jitter"):
            value = getattr(self, name)
            if not _is_finite_number(value) or value < 0:
                raise ValueError(f"{where}: {name} must be a finite number >= 0, got {value!r}.")
        backoff = self.retry_backoff
        if not _is_finite_number(backoff) or backoff < 1:
            raise ValueError(
                f"{where}: retry_backoff must be a finite number >= 1, got {backoff!r}."
            )
        _check_timeout(f"{where}: retry_max_delay", self.retry_max_delay)
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in self.retry_on):
            raise TypeError(
                f"{where}: retry_on must be a tuple of exception classes, got {self.retry_on!r}."
            )
        if self.executor is not None:
            _check_executor(self.executor, f"{where}: executor")
        if not all(isinstance(tag, str) and tag for tag in self.tags):
            raise TypeError(f"{where}: tags must be non-empty strings, got {self.tags!r}.")
        if self.cache is not None:
            if not isinstance(self.cache, CachePolicy):
                raise TypeError(
                    f"{where}: cache must be a CachePolicy or None, "
                    f"got {type(self.cache).__name__}."
                )
            self.cache.validate(task_id)

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (2 is the first retry)."""
        delay = 0.0
        if self.retry_delay:
            try:
                delay = self.retry_delay * self.retry_backoff ** (attempt - 2)
            except OverflowError:  # after a thousand doublings or so; the cap (if any) applies
                delay = math.inf
        if self.retry_max_delay is not None:
            delay = min(delay, self.retry_max_delay)
        if self.retry_jitter:
            import random  # here: only jittered retries need it, not importing astrum

            delay += random.uniform(0, self.retry_jitter)
        return delay


DEFAULT_OPTIONS = TaskOptions()


def _is_finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Mode(NamedTuple):
    """How a binding that is not a plain ``F(...)`` takes its value.

    See :mod:`astrum._build._dynamic`.
    """

    each: bool = False
    """One element per instance: the receiving task is mapped."""
    default: Any = NO_DEFAULT
    """Passed instead of the value when the source ends skipped."""
    partial: bool = False
    """From a mapped source: the results of the instances that completed."""


class Binding(NamedTuple):
    """How one parameter of a task gets its value at run time.

    The value comes from an upstream task's result (``source``) or from calling
    ``provider``; ``locator`` then picks a key or attribute (str) or an index
    (int) out of it, or None keeps the whole value. A named tuple, like
    :class:`TaskSpec`: a build makes one per data edge.
    """

    param: str
    source: int | None = None
    source_id: str | None = None
    locator: str | int | None = None
    provider: Callable[[], Any] | None = None
    positional: bool = False
    input_name: str | None = None
    """Set when the value is the run-time input of that name."""
    has_default: bool = False
    default: Any = None
    """The parameter's default, used when an input is absent."""
    expected: Any = None
    """For inputs: the parameter's declared type, checked against the given value."""
    mode: Mode | None = None
    """Set for ``Each(...)``, ``F(..., default=...)`` and ``F(..., partial=True)``."""


class TaskSpec(NamedTuple):
    """Everything a run needs to know about one task, and what ``@task`` recorded of it.

    A registry records each task as a spec with no bindings, the function as
    registered and its ``depends_on`` and ``data``; a plan runs that very
    record for a task with nothing to bind (most tasks of a ``depends_on``
    workflow) and a spec of its own for any other. A named tuple rather than a
    frozen dataclass: as immutable, and one costs a third as much to make.
    """

    task_id: str
    function: Callable[..., Any]
    is_async: bool
    retry: int = 0
    options: TaskOptions = DEFAULT_OPTIONS
    bindings: tuple[Binding, ...] = ()
    depends_on: tuple[str, ...] = ()
    data: TaskData | None = None


def instance_spec(spec: TaskSpec, index: int) -> TaskSpec:
    """The spec of instance ``index`` of the mapped task ``spec``: its name, no bindings.

    Made when needed (an instance starting, a report row), not kept for every instance.
    """
    return TaskSpec(
        instance_name(spec.task_id, index), spec.function, spec.is_async, spec.retry, spec.options
    )


def instance_name(task_id: str, index: int) -> str:
    """The name of instance ``index`` of the mapped task ``task_id``: ``task_id[index]``, in
    the report, events, logs and the name of its asyncio task."""
    return f"{task_id}[{index}]"


# The kinds of node in a plan with maps or generators (see astrum._build._dynamic).
PLAIN, MAPPED, ASYNC_PRODUCER, SYNC_PRODUCER = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Dynamic:
    """Per node of the plan: its kind, what it waits for, where its elements go."""

    kinds: tuple[int, ...]
    waiting: tuple[int, ...]
    """How many predecessors must complete before the task (or a map's instances) may start;
    sources it takes elements from as they come are not counted."""
    eaches: tuple[tuple[tuple[int, int, bool], ...], ...]
    """For a mapped task: ``(binding position, source node, streamed)`` per ``Each`` binding."""
    streams: tuple[tuple[tuple[int, int], ...], ...]
    """For a mapped task or a producer: ``(consumer, j)`` for each ``Each`` binding (the j-th
    of that consumer) that takes its elements as they come."""


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated graph with one :class:`TaskSpec` per node, in the graph's numbering."""

    graph: Graph
    specs: tuple[TaskSpec, ...]
    tails: frozenset[int] = frozenset()
    planning_duration: float = 0.0
    inputs: Mapping[str, tuple[tuple[int, Binding], ...]] = field(default_factory=dict)
    """For each run-time input name, the (task, binding) pairs that take it."""
    dynamic: Dynamic | None = None
    """Maps, generators and defaults; None for a plan with none, which runs the plain way."""
    # Derived once here, so that each run copies or reads them instead of working them out.
    waiting: tuple[int, ...] = field(init=False)
    """How many predecessors each task waits for."""
    roots: tuple[int, ...] = field(init=False)
    """The tasks that wait for nothing, in plan order."""
    names: tuple[str, ...] = field(init=False)
    """The name of each task's asyncio task: ``astrum:<task id>``."""
    direct: tuple[bool, ...] = field(init=False)
    """Per task: an async body without a timeout, which a run without gates awaits as is."""
    sync_specs: tuple[TaskSpec, ...] = field(init=False)
    """The specs of the tasks with a plain (sync) function."""

    def __post_init__(self) -> None:
        # In C, by map and compress: these run once per task of every build.
        specs = self.specs
        waiting = self.graph.waiting
        is_async = list(map(_IS_ASYNC, specs))
        direct = is_async
        if set(map(_TIMEOUT, specs)) - {None}:  # a timeout needs the general call, to apply it
            direct = [spec.is_async and spec.options.timeout is None for spec in specs]
        set_ = object.__setattr__  # frozen: each derived field is set once, as __init__ does
        set_(self, "waiting", waiting)
        set_(self, "roots", tuple(compress(range(len(waiting)), map(not_, waiting))))
        set_(self, "names", tuple(map("astrum:".__add__, self.graph.ids)))
        set_(self, "direct", tuple(direct))
        set_(self, "sync_specs", tuple(compress(specs, map(not_, is_async))))

    @property
    def ids(self) -> tuple[str, ...]:
        return self.graph.ids

    @property
    def dependencies(self) -> dict[str, list[str]]:
        """``{task: [the tasks it waits for]}`` in plan order; new lists on every call."""
        ids = self.graph.ids
        return {
            task_id: [ids[pred] for pred in preds]
            for task_id, preds in zip(ids, self.graph.preds, strict=True)
        }


_IS_ASYNC = attrgetter("is_async")
_TIMEOUT = attrgetter("options.timeout")


def from_fields(cls: type[_Tuple]) -> Callable[[tuple[Any, ...]], _Tuple]:
    """A maker of the named tuple ``cls`` from a tuple of all its fields, in order.

    It skips the generated ``__new__`` and its defaults, which costs twice as
    much: a build makes one spec per task and one binding per data edge.
    """
    return functools.partial(tuple.__new__, cls)


def is_async_callable(function: Callable[..., Any]) -> bool:
    """True for coroutine functions, including partials and objects with ``async __call__``."""
    if type(function) is FunctionType and function.__code__.co_flags & inspect.CO_COROUTINE:
        return True  # the common case, answered without inspect's general unwrapping
    if inspect.iscoroutinefunction(function):
        return True
    inner = getattr(function, "func", None)  # functools.partial
    if inner is not None and inspect.iscoroutinefunction(inner):
        return True
    # An instance with ``async def __call__``: look on the type, as calling does.
    return inspect.iscoroutinefunction(type(function).__call__)


GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR
"""The code flags of a generator function, sync or async."""


def is_generator(function: Callable[..., Any]) -> bool:
    """True for generator functions, sync or async: tasks whose items stream to ``Each``."""
    if type(function) is FunctionType:
        return bool(function.__code__.co_flags & GENERATOR_FLAGS)
    inner = getattr(function, "func", function)  # functools.partial
    inner = getattr(inner, "__func__", inner)  # a bound method
    return inspect.isasyncgenfunction(inner) or inspect.isgeneratorfunction(inner)
