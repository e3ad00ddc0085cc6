"""Registering functions as tasks, namespaces of registries, and the module-level entry points.

The registry class itself lives in ``_registry``; this module is the seed
API: ``task``, ``run``, ``build_scheduler``, the namespaces, and the
re-exported :class:`SchedulerRegistry` and :class:`RegisteredTask`.

>>> workflow = SchedulerRegistry("example")
>>> @workflow.task()
... async def fetch() -> int:
...     return 41
>>> @workflow.task(depends_on=["fetch"])
... def report() -> str:
...     return "done"
>>> asyncio.run(workflow.run()).execution_state
'completed'
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar, Unpack, overload

from astrum._build._markers import TaskData
from astrum._build._plan import DEFAULT_OPTIONS
from astrum._build._task import RegisteredTask
from astrum._errors import TaskNotFoundError, did_you_mean
from astrum._registry import (
    DEFAULT_NAMESPACE,
    SchedulerRegistry,
    TaskKeywords,
    _is_function,
    _task_ids,
    _task_options,
    synchronous,
)
from astrum.config import AstrumConfig
from astrum.models import ExecutionReport, TaskOrder
from astrum.scheduler import DynamicScheduler

__all__ = [
    "DEFAULT_NAMESPACE",
    "RegisteredTask",
    "SchedulerRegistry",
    "TaskKeywords",
    "active_namespace",
    "build_scheduler",
    "build_task_orders",
    "clear_registry",
    "get_registry",
    "run",
    "run_sync",
    "task",
    "use_namespace",
]

_F = TypeVar("_F")

# -- namespaces ---------------------------------------------------------------------


class _Hub:
    """The registries by namespace name, and which namespace is active in this context."""

    def __init__(self) -> None:
        self._registries: dict[str, SchedulerRegistry] = {}
        self._lock = threading.Lock()
        self.active: ContextVar[str] = ContextVar("astrum_namespace", default=DEFAULT_NAMESPACE)

    def get(self, namespace: str | None) -> SchedulerRegistry:
        name = self.active.get() if namespace is None else namespace
        if not isinstance(name, str) or not name:
            raise TypeError(f"A namespace must be a non-empty string, got {name!r}.")
        with self._lock:
            registry = self._registries.get(name)
            if registry is None:
                registry = self._registries[name] = SchedulerRegistry(name)
            return registry

    def to_run(self, namespace: str | None) -> SchedulerRegistry:
        """The registry of ``namespace`` for a run: an unknown or empty one is an error."""
        name = self.active.get() if namespace is None else namespace
        with self._lock:
            registry = self._registries.get(name)
            known = sorted(ns for ns, found in self._registries.items() if found._tasks)
        if registry is not None and registry._tasks:
            return registry
        listed = ", ".join(f"'{ns}'" for ns in known) or "none"
        raise TaskNotFoundError(
            f"Namespace '{name}' has no tasks, so there is nothing to run"
            f"{did_you_mean(name, known)} Namespaces with tasks: {listed}. "
            "A registry made with SchedulerRegistry(name) is not a namespace: run it with "
            "its own run() or run_sync()."
        )

    def registries(self) -> list[SchedulerRegistry]:
        """The namespaces' registries made so far (a snapshot)."""
        with self._lock:
            return list(self._registries.values())

    def clear(self, namespace: str | None) -> None:
        with self._lock:
            registries = (
                list(self._registries.values())
                if namespace is None
                else [self._registries[namespace]]
                if namespace in self._registries
                else []
            )
        for registry in registries:
            registry.clear()


_HUB = _Hub()


@contextmanager
def use_namespace(namespace: str) -> Iterator[SchedulerRegistry]:
    """Make ``namespace`` the default of ``@task``, ``run`` and friends inside the block.

    Nests, restores the previous namespace on exit (also on errors), and is
    local to the current thread or asyncio task.

    >>> with use_namespace("analytics") as registry:
    ...     active_namespace()
    'analytics'
    """
    registry = _HUB.get(namespace)
    token = _HUB.active.set(namespace)
    try:
        yield registry
    finally:
        _HUB.active.reset(token)


def get_registry(namespace: str | None = None) -> SchedulerRegistry:
    """The registry of ``namespace`` (default: the active one), created on first use."""
    return _HUB.get(namespace)


def clear_registry(namespace: str | None = None) -> None:
    """Remove every task from ``namespace``, or from every namespace when None."""
    _HUB.clear(namespace)


def active_namespace() -> str:
    """The namespace ``@task`` registers into here and now."""
    return _HUB.active.get()


# -- module-level entry points --------------------------------------------------------


@overload
def task(
    task_id: str | None = None, *, namespace: str | None = None, **options: Unpack[TaskKeywords]
) -> Callable[[_F], _F]: ...
@overload
def task(task_id: _F, /) -> _F: ...
def task(
    task_id: Any = None,
    *,
    namespace: str | None = None,
    depends_on: Sequence[str] | None = None,
    data: TaskData | None = None,
    retry: int = 0,
    **options: Any,
) -> Any:
    """Register a function as a task; it is returned unchanged.

    The registry is ``namespace`` if given, else the active ``use_namespace``,
    else :data:`DEFAULT_NAMESPACE`, decided when the decorator is applied.
    The other keywords are those of :meth:`SchedulerRegistry.task`, listed in
    :class:`TaskKeywords`. Bare ``@task`` (no parentheses) works too.

    >>> @task(depends_on=["load_users"], retry=2, namespace="docs")
    ... async def send_report() -> None: ...
    """
    if _is_function(task_id):
        registry = _HUB.get(namespace)
        return registry.task(depends_on=depends_on, data=data, retry=retry, **options)(task_id)
    # A wrong keyword is an error here, not when the decorator is applied.
    entry_options = _task_options(options) if options else DEFAULT_OPTIONS

    def decorator(function: _F) -> _F:
        # The namespace is resolved here, when the decorator is applied.
        registry = _HUB.get(namespace)
        dependencies = _task_ids(depends_on, "depends_on")
        return registry._register(task_id, dependencies, data, retry, entry_options, function)

    return decorator


async def run(
    target_tasks: Sequence[str] | None = None,
    *,
    namespace: str | None = None,
    config: AstrumConfig | None = None,
    visualize: bool = False,
    timeout: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    resume: ExecutionReport | str | None = None,
) -> ExecutionReport:
    """Build and run the workflow of ``namespace`` (default: the active one).

    See :meth:`SchedulerRegistry.run` for ``timeout``, ``overrides``, ``inputs``
    and ``resume``.
    """
    if config is None:
        config = AstrumConfig(visualize=visualize)
    registry = _HUB.to_run(namespace)
    return await registry.run(
        target_tasks,
        config=config,
        timeout=timeout,
        overrides=overrides,
        inputs=inputs,
        resume=resume,
    )


run_sync = synchronous(run, "astrum.run")


def build_scheduler(
    target_tasks: Sequence[str] | None = None,
    *,
    namespace: str | None = None,
    config: AstrumConfig | None = None,
    ignore_tail_task: Sequence[str] | None = None,
    concurrency_context: asyncio.Semaphore | None = None,
    silence: bool = True,
    visualize: bool = False,
) -> DynamicScheduler:
    """A scheduler for the workflow of ``namespace``.

    See :meth:`SchedulerRegistry.build_scheduler` for the arguments.
    """
    return _HUB.get(namespace).build_scheduler(
        target_tasks,
        config=config,
        ignore_tail_task=ignore_tail_task,
        concurrency_context=concurrency_context,
        silence=silence,
        visualize=visualize,
    )


def build_task_orders(
    target_tasks: Sequence[str] | None = None,
    *,
    namespace: str | None = None,
    config: AstrumConfig | None = None,
    visualize: bool = False,
) -> list[TaskOrder]:
    """Validated task orders for the workflow of ``namespace``."""
    if config is None:
        config = AstrumConfig(visualize=visualize)
    return _HUB.get(namespace).build_task_orders(target_tasks, config=config)
