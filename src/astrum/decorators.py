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
from typing import TYPE_CHECKING, Any, TypeVar, overload

from astrum._build._task import RegisteredTask
from astrum._registry import DEFAULT_NAMESPACE, SchedulerRegistry
from astrum.cache import CachePolicy
from astrum.config import AstrumConfig, ExecutorChoice
from astrum.models import ExecutionReport, TaskOrder
from astrum.scheduler import DynamicScheduler

if TYPE_CHECKING:
    from astrum._build._markers import TaskData

__all__ = [
    "DEFAULT_NAMESPACE",
    "RegisteredTask",
    "SchedulerRegistry",
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
    task_id: str | None = None,
    *,
    depends_on: Sequence[str] | None = None,
    data: TaskData | None = None,
    namespace: str | None = None,
    retry: int = 0,
    timeout: float | None = None,
    retry_delay: float = 0.0,
    retry_backoff: float = 1.0,
    retry_max_delay: float | None = None,
    retry_jitter: float = 0.0,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
    executor: ExecutorChoice | None = None,
    tags: Sequence[str] = (),
    cache: bool | CachePolicy = False,
) -> Callable[[_F], _F]: ...
@overload
def task(task_id: _F) -> _F: ...
def task(
    task_id: Any = None,
    *,
    depends_on: Sequence[str] | None = None,
    data: TaskData | None = None,
    namespace: str | None = None,
    retry: int = 0,
    timeout: float | None = None,
    retry_delay: float = 0.0,
    retry_backoff: float = 1.0,
    retry_max_delay: float | None = None,
    retry_jitter: float = 0.0,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
    executor: ExecutorChoice | None = None,
    tags: Sequence[str] = (),
    cache: bool | CachePolicy = False,
) -> Any:
    """Register a function as a task; it is returned unchanged.

    The registry is ``namespace`` if given, else the active ``use_namespace``,
    else :data:`DEFAULT_NAMESPACE`, decided when the decorator is applied.
    The other arguments are those of :meth:`SchedulerRegistry.task`. Bare
    ``@task`` (no parentheses) works too.

    >>> @task(depends_on=["load_users"], retry=2, namespace="docs")
    ... async def send_report() -> None: ...
    """

    def decorator(function: _F) -> _F:
        # The namespace is resolved here, when the decorator is applied.
        registry = _HUB.get(namespace)
        return registry.task(
            depends_on=depends_on,
            data=data,
            retry=retry,
            timeout=timeout,
            retry_delay=retry_delay,
            retry_backoff=retry_backoff,
            retry_max_delay=retry_max_delay,
            retry_jitter=retry_jitter,
            retry_on=retry_on,
            executor=executor,
            tags=tags,
            cache=cache,
            task_id=task_id,
        )(function)

    if callable(task_id) or isinstance(task_id, staticmethod | classmethod):
        function, task_id = task_id, None
        return decorator(function)
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
    registry = _HUB.get(namespace)
    return await registry.run(
        target_tasks,
        config=config,
        timeout=timeout,
        overrides=overrides,
        inputs=inputs,
        resume=resume,
    )


def run_sync(
    target_tasks: Sequence[str] | None = None,
    *,
    namespace: str | None = None,
    config: AstrumConfig | None = None,
    timeout: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    resume: ExecutionReport | str | None = None,
) -> ExecutionReport:
    """Run a workflow from synchronous code, in a new event loop.

    >>> report = run_sync(namespace="docs")  # doctest: +SKIP
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            "run_sync() was called while an event loop is running in this thread; "
            "use 'await astrum.run(...)' there instead."
        )
    registry = _HUB.get(namespace)  # resolve the namespace here, not inside the new loop
    return asyncio.run(
        registry.run(
            target_tasks,
            config,
            timeout=timeout,
            overrides=overrides,
            inputs=inputs,
            resume=resume,
        )
    )


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
