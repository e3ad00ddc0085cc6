"""Task registries: :class:`SchedulerRegistry`, which records tasks and builds them into runs.

Registration only records plain entries. Building turns a registry's entries
into a fresh, validated :class:`DynamicScheduler` without changing them, so a
registry builds and runs any number of times. The public names are exported
from :mod:`astrum.decorators` and :mod:`astrum`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import logging
import threading
import time
from collections.abc import Callable, Collection, Coroutine, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from inspect import CO_COROUTINE
from types import FunctionType
from typing import TYPE_CHECKING, Any, ParamSpec, TypedDict, TypeVar, Unpack, overload

from astrum._build._bindings import bind_relations, plain_bindings
from astrum._build._elsewhere import remember
from astrum._build._graph import Graph, make_graph
from astrum._build._methods import outside_class, resolve_functions
from astrum._build._plan import (
    DEFAULT_OPTIONS,
    TaskOptions,
    TaskSpec,
    is_async_callable,
)
from astrum._build._relations import Relations, annotations_for, relations_for
from astrum._build._task import Facts, RegisteredTask, Tasks, bound, public, record, recorded
from astrum._errors import TaskNotFoundError, TaskRegistrationError, did_you_mean
from astrum.cache import CachePolicy, _policy_of
from astrum.config import AstrumConfig, ExecutorChoice
from astrum.models import ExecutionReport, TaskOrder
from astrum.scheduler import DynamicScheduler

if TYPE_CHECKING:
    from astrum._build._markers import TaskData
    from astrum._build._typecheck import Annotations

__all__ = [
    "DEFAULT_NAMESPACE",
    "SchedulerRegistry",
    "TaskKeywords",
    "refuse_running_loop",
    "synchronous",
]

DEFAULT_NAMESPACE = "default"

logger = logging.getLogger("astrum")

_F = TypeVar("_F")
_P = ParamSpec("_P")
_R = TypeVar("_R")


class TaskKeywords(TypedDict, total=False):
    """The keywords of ``@task(...)`` and ``@registry.task(...)``, all optional.

    ``timeout`` limits each attempt; ``retry`` more attempts follow a failure
    whose exception is one of ``retry_on``, after ``retry_delay`` seconds
    growing by ``retry_backoff`` per attempt (at most ``retry_max_delay``,
    plus up to ``retry_jitter`` at random). ``executor`` overrides where a
    sync body runs; ``tags`` name the pools the task draws a slot from.
    ``cache=True`` (or a :class:`~astrum.cache.CachePolicy`) reuses stored
    results for the same code and inputs. Defaults: no ``depends_on`` or
    ``data``, ``retry=0``, no ``timeout``, retries at once (``retry_delay=0``,
    ``retry_backoff=1``, no cap, no jitter) on any ``Exception``, the run's
    executor, no tags, no cache.
    """

    depends_on: Sequence[str] | None
    data: TaskData | None
    retry: int
    timeout: float | None
    retry_delay: float
    retry_backoff: float
    retry_max_delay: float | None
    retry_jitter: float
    retry_on: type[BaseException] | tuple[type[BaseException], ...]
    executor: ExecutorChoice | None
    tags: Sequence[str]
    cache: bool | CachePolicy


_KEYWORDS = frozenset(TaskKeywords.__annotations__)
_OPTION_NAMES = _KEYWORDS - {"depends_on", "data", "retry"}


def _task_options(given: Mapping[str, Any]) -> TaskOptions:
    """The options that ``given``, the keywords besides ``depends_on``, ``data`` and
    ``retry``, ask for; unknown keywords are errors."""
    unknown = given.keys() - _OPTION_NAMES
    if unknown:
        name = min(unknown)
        raise TypeError(
            f"@task got an unexpected keyword argument '{name}'{did_you_mean(name, _KEYWORDS)}"
        )
    values = dict(given)
    if "retry_on" in values and not isinstance(values["retry_on"], tuple):
        values["retry_on"] = (values["retry_on"],)
    if "tags" in values:
        values["tags"] = _tag_names(values["tags"])
    if "cache" in values:
        values["cache"] = _policy_of(values["cache"])
    options = TaskOptions(**values)
    if options == DEFAULT_OPTIONS:
        options = DEFAULT_OPTIONS  # shared: a build then knows it is valid without checking
    return options


def _is_function(value: object) -> bool:
    """Whether ``@task`` was applied bare, to the function itself, rather than called."""
    return callable(value) or isinstance(value, staticmethod | classmethod)


def synchronous(run: Callable[_P, Coroutine[Any, Any, _R]], instead: str) -> Callable[_P, _R]:
    """``run`` for synchronous code: the same arguments, run in a new event loop.

    ``instead`` names what to await when a loop is already running.
    """

    @functools.wraps(run)
    def run_sync(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        refuse_running_loop(instead)
        return asyncio.run(run(*args, **kwargs))

    run_sync.__name__ = "run_sync"
    run_sync.__qualname__ = run.__qualname__.replace("run", "run_sync")
    run_sync.__doc__ = (
        f"Like ``{instead}()``, from synchronous code: the same arguments, run in a new "
        "event loop.\n\n>>> report = run_sync()  # doctest: +SKIP\n"
    )
    return run_sync


def refuse_running_loop(instead: str) -> None:
    """Raise if an event loop runs in this thread: ``run_sync`` would deadlock it."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "run_sync() was called while an event loop is running in this thread; "
        f"use 'await {instead}(...)' there instead."
    )


class SchedulerRegistry:
    """A named set of tasks that build into one workflow."""

    def __init__(self, name: str = DEFAULT_NAMESPACE) -> None:
        self.name = name
        self._tasks: dict[str, TaskSpec] = {}
        self._facts: Facts = {}
        """What builds read of the tasks' functions (see :class:`Tasks`)."""
        self._lock = threading.Lock()
        remember(self)
        self._plans: dict[Hashable, DynamicScheduler] = {}
        """Schedulers ``run()`` built from the current tasks, by targets and config; emptied
        by every change to the tasks. Build output only: a run never writes here."""
        self._changes = itertools.count()
        self._version = next(self._changes)
        """Changes with every change to the tasks; a plan is kept only if it did not change
        while the plan was built."""

    def __repr__(self) -> str:
        return f"SchedulerRegistry({self.name!r}, tasks={len(self._tasks)})"

    # -- registration ------------------------------------------------------------

    @overload
    def task(
        self, task_id: str | None = None, **options: Unpack[TaskKeywords]
    ) -> Callable[[_F], _F]: ...
    @overload
    def task(self, task_id: _F, /) -> _F: ...
    def task(
        self,
        task_id: Any = None,
        *,
        depends_on: Sequence[str] | None = None,
        data: TaskData | None = None,
        retry: int = 0,
        **options: Any,
    ) -> Any:
        """Register a function as a task of this registry; the function is returned unchanged.

        Bare ``@registry.task`` works as well as ``@registry.task(...)``. The
        keywords are those of :class:`TaskKeywords`.
        """
        # The usual keywords are parameters of their own, so that a call passing only those
        # makes no dictionary of them to look through.
        if type(task_id) is not str and task_id is not None and _is_function(task_id):
            return self.task(depends_on=depends_on, data=data, retry=retry, **options)(task_id)
        entry_options = _task_options(options) if options else DEFAULT_OPTIONS
        # A partial of the plain function, not a closure: one object to make rather than a
        # function, its cells and a bound method, for every task of a workflow.
        return functools.partial(
            _record,
            self,
            task_id,
            _task_ids(depends_on, "depends_on"),
            data,
            retry,
            entry_options,
        )

    def _register(
        self,
        task_id: str | None,
        depends_on: tuple[str, ...],
        data: TaskData | None,
        retry: int,
        options: TaskOptions,
        obj: _F,
    ) -> _F:
        """Record ``obj`` as a task (the decorator's work); ``obj`` is returned unchanged."""
        if type(obj) is FunctionType:  # most tasks: none of the checks below can fail
            function: Any = obj
            is_async = bool(function.__code__.co_flags & CO_COROUTINE) or is_async_callable(
                function
            )
        else:
            function = obj.__func__ if isinstance(obj, staticmethod | classmethod) else obj
            if inspect.iscoroutine(function):
                function.close()  # it will never run; closing avoids a "never awaited" warning
                raise TypeError(
                    "@task decorates a function, but was given a coroutine object; "
                    "decorate the function definition instead."
                )
            if not callable(function):
                raise TypeError(f"@task can only decorate functions, got {type(obj).__name__}.")
            is_async = is_async_callable(function)
        name = task_id if task_id is not None else getattr(function, "__name__", None)
        if not isinstance(name, str) or not name:
            raise TaskRegistrationError(
                f"Task ids must be non-empty strings, got {name!r}; pass task_id='...'."
            )
        if type(retry) is not int or retry < 0:
            raise TaskRegistrationError(
                f"Task '{name}': retry must be a non-negative integer, got {retry!r}."
            )
        if options is not DEFAULT_OPTIONS:  # the defaults are valid
            options.validate(name)
        entry = record((name, function, is_async, retry, options, (), depends_on, data))
        # setdefault is one atomic step, so concurrent registrations need no lock unless the
        # id is taken; the version tells a build running meanwhile that its plan is stale.
        known = self._tasks.setdefault(name, entry)
        if known is not entry:
            self._replace(entry, known)
        self._version = next(self._changes)
        if self._plans:
            self._plans = {}
        return obj

    def _replace(self, entry: TaskSpec, known: TaskSpec) -> None:
        """Put ``entry`` in place of ``known``, the task registered with its id before, if it is
        the same function defined again; two different functions under one id are an error."""
        name = entry.task_id
        with self._lock:
            if not _redefines(entry.function, known.function):
                raise TaskRegistrationError(
                    f"Task '{name}' is already registered in namespace '{self.name}'; "
                    "give one of them another task_id, or call clear() on the registry "
                    "(clear_registry() for a namespace) to start again."
                )
            self._tasks[name] = entry
        logger.info(
            "Task '%s' in namespace '%s' was defined again; the new definition replaces "
            "the old one.",
            name,
            self.name,
        )

    def _swap(self, task: RegisteredTask) -> None:
        """Put ``task`` in place of the task with its id (for ``astrum.testing.patch``)."""
        entry = recorded(task)
        with self._lock:
            self._tasks[entry.task_id] = entry
            self._version = next(self._changes)
            self._plans = {}

    def get_task(self, task_id: str) -> RegisteredTask:
        try:
            return public(self._tasks[task_id])
        except KeyError:
            raise TaskRegistrationError(
                f"Task '{task_id}' is not registered in namespace '{self.name}'"
                f"{did_you_mean(task_id, self._tasks)}"
            ) from None

    def get_all_tasks(self) -> dict[str, RegisteredTask]:
        """A copy of the registered tasks, by id."""
        tasks = dict(self._tasks)  # a snapshot: registration may go on in other threads
        return {task_id: public(entry) for task_id, entry in tasks.items()}

    def clear(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._facts.clear()
            self._version = next(self._changes)
            self._plans = {}

    # -- building ----------------------------------------------------------------

    def build_task_orders(
        self, target_tasks: Sequence[str] | None = None, config: AstrumConfig | None = None
    ) -> list[TaskOrder]:
        """Fresh, validated task orders for the targets and everything upstream of them."""
        build = self._build(target_tasks, config or AstrumConfig())
        build.graph()  # validates: a cycle raises here, as on every build
        return build.task_orders()

    def build_tasks(
        self, target_tasks: Sequence[str] | None = None
    ) -> list[tuple[str, Callable[..., Any]]]:
        """``(task_id, function)`` pairs for the selected tasks; the functions are not called."""
        build = self._build(target_tasks, AstrumConfig(skip_type_check=True))
        if target_tasks is None:
            self._check_dependencies(build.tasks)  # (a build of a scheduler leaves it to the graph)
        return list(build.functions().items())

    def build_scheduler(
        self,
        target_tasks: Sequence[str] | None = None,
        *,
        config: AstrumConfig | None = None,
        ignore_tail_task: Sequence[str] | None = None,
        concurrency_context: asyncio.Semaphore | None = None,
        silence: bool = True,
        visualize: bool = False,
    ) -> DynamicScheduler:
        """A scheduler for the targets and everything upstream of them.

        The loose keywords are the original API's; they are used only when
        ``config`` is None (``concurrency_context`` always applies).
        """
        if config is None:
            config = AstrumConfig(
                visualize=visualize, silence=silence, ignore_tail_task=list(ignore_tail_task or [])
            )
        build = self._build(target_tasks, config)
        scheduler = build.scheduler(concurrency_context)
        if config.visualize:
            from astrum._views._render import show_plan

            show_plan(scheduler.plan, title=f"workflow '{self.name}'")
        return scheduler

    def to_mermaid(
        self, target_tasks: Sequence[str] | None = None, *, config: AstrumConfig | None = None
    ) -> str:
        """The workflow (targets and what they need) as a Mermaid ``flowchart``.

        ``config`` matters only for building, e.g. ``class_instances``.
        """
        return self._export_scheduler(target_tasks, config).to_mermaid()

    def to_dot(
        self, target_tasks: Sequence[str] | None = None, *, config: AstrumConfig | None = None
    ) -> str:
        """The workflow as a Graphviz ``digraph`` named after the registry."""
        from astrum._views._export import to_dot

        return to_dot(self._export_scheduler(target_tasks, config).plan, name=self.name)

    def _export_scheduler(
        self, target_tasks: Sequence[str] | None, config: AstrumConfig | None
    ) -> DynamicScheduler:
        # Drawing must not print the plan or show progress, whatever the caller's config says.
        config = replace(config or AstrumConfig(), visualize=False, progress=False)
        return self.build_scheduler(target_tasks, config=config)

    async def run(
        self,
        target_tasks: Sequence[str] | None = None,
        config: AstrumConfig | None = None,
        *,
        timeout: float | None = None,
        overrides: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        resume: ExecutionReport | str | None = None,
    ) -> ExecutionReport:
        """Build and run the workflow.

        ``timeout`` bounds the whole run in seconds. ``overrides`` maps task ids
        to values used as their results without running them (nor anything
        upstream that only they needed), e.g. to stub a task in a test.
        ``inputs`` gives the values of parameters marked ``Ref[T, Input(name)]``.
        ``resume`` (an earlier run's report or run id) takes what that run
        completed from ``config.store`` and runs only the rest.

        The plan is built on the first call and reused by later calls with the
        same targets and an equal config until a task is registered, patched
        or cleared.
        """
        if not self._tasks:
            raise TaskNotFoundError(
                f"Registry '{self.name}' has no tasks, so there is nothing to run; register "
                "functions with @registry.task before running it."
            )
        scheduler = self._scheduler_for(target_tasks, config)
        # What scheduler.execute() awaits, awaited here: one coroutine fewer per run.
        return await scheduler._execution(timeout, overrides, inputs, resume)

    run_sync = synchronous(run, "registry.run")

    def _scheduler_for(
        self, target_tasks: Sequence[str] | None, config: AstrumConfig | None
    ) -> DynamicScheduler:
        """The scheduler for these targets and config: the cached one, or a new build."""
        key = _plan_key(target_tasks, config)
        version = self._version
        plans = self._plans
        if key is not None:
            scheduler = plans.get(key)
            if scheduler is not None:
                return scheduler
        scheduler = self.build_scheduler(target_tasks, config=config)
        if key is not None:
            with self._lock:
                # Kept only if no task changed since the version was read: the build may
                # have seen the change or not.
                if self._version == version and self._plans is plans:
                    if len(plans) >= _MAX_PLANS:
                        plans.clear()  # many configs in turn: start over rather than grow
                    plans[key] = scheduler
        return scheduler

    def _build(self, target_tasks: Sequence[str] | None, config: AstrumConfig) -> _Build:
        began = time.perf_counter()
        tasks = Tasks(self._tasks, self._facts)  # a snapshot: registration may go on
        annotations = annotations_for(tasks)  # one reader, so each function is read once
        relations = relations_for(tasks, config, annotations)
        data_deps = relations.sources if config.auto_sync_dependencies else {}
        if target_tasks is not None:
            # Every task is checked, selected or not; a build of all of them has the graph
            # check the dependencies as it numbers them (see _Build.graph).
            self._check_dependencies(tasks)
        ids = self._select(tasks, target_tasks, data_deps)
        deps: list[Collection[str]]
        if not data_deps and target_tasks is None:  # a depends_on workflow: the records say it
            deps = [entry.depends_on for entry in tasks.values()]
        else:
            deps = []
            for task_id in ids:
                depends_on, sources = tasks[task_id].depends_on, data_deps.get(task_id)
                deps.append(_dependencies(depends_on, sources) if sources else depends_on)
        return _Build(self, tasks, ids, deps, config, annotations, relations, began)

    def _check_dependencies(self, tasks: Mapping[str, TaskSpec]) -> None:
        """Raise for the first ``depends_on`` that names no task of ``tasks``."""
        for entry in tasks.values():
            for dep in entry.depends_on:
                if dep not in tasks:
                    raise TaskRegistrationError(
                        f"Task '{entry.task_id}' depends on '{dep}', which is not registered "
                        f"in namespace '{self.name}'{did_you_mean(dep, tasks)}"
                    )

    def _select(
        self,
        tasks: Mapping[str, TaskSpec],
        target_tasks: Sequence[str] | None,
        data_deps: Mapping[str, Collection[str]],
    ) -> list[str]:
        if target_tasks is None:
            return list(tasks)
        seen: set[str] = set()
        stack = list(_task_ids(target_tasks, "target_tasks"))
        for target in stack:
            if target not in tasks:
                raise TaskRegistrationError(
                    f"Target task '{target}' is not registered in namespace '{self.name}'"
                    f"{did_you_mean(target, tasks)}"
                )
        while stack:
            task_id = stack.pop()
            if task_id not in seen:
                seen.add(task_id)
                stack.extend(tasks[task_id].depends_on)
                stack.extend(data_deps.get(task_id, ()))
        return [task_id for task_id in tasks if task_id in seen]  # registration order


@dataclass(frozen=True)
class _Build:
    """One build of a registry: the selected tasks in registration order, and their needs.

    The selection is closed upstream, so every dependency of a selected task is selected.
    """

    registry: SchedulerRegistry
    tasks: Tasks
    ids: list[str]
    deps: list[Collection[str]]
    config: AstrumConfig
    annotations: Annotations
    relations: Relations
    began: float

    def graph(self) -> Graph:
        """The selected tasks, numbered; an unknown dependency is reported by name."""
        try:
            return make_graph(self.ids, self.deps)
        except KeyError:  # a dependency that is not a task
            self.registry._check_dependencies(self.tasks)
            raise

    def functions(self) -> dict[str, Callable[..., Any]]:
        """The callables the selected tasks run, methods bound to their instances."""
        tasks: Mapping[str, TaskSpec] = self.tasks
        ids = self.ids
        if len(ids) < len(tasks):
            tasks = {task_id: tasks[task_id] for task_id in ids}
        return resolve_functions(tasks, self.config)

    def task_orders(self) -> list[TaskOrder]:
        return _task_orders(self.ids, self.deps)

    def scheduler(self, concurrency_context: asyncio.Semaphore | None) -> DynamicScheduler:
        """The scheduler, straight from the registry's entries: no TaskOrder objects on the way.

        Registration checked each entry's options and retry count already.
        """
        graph = self.graph()
        relations = self.relations
        if (len(relations.bare) + len(relations.fed)) * 2 >= len(graph):  # see _simple_specs
            specs, others, unusual = self._simple_specs(graph)
        else:  # mostly other tasks: all take the general path at once
            specs, others = [None] * len(graph), list(range(len(graph)))
            unusual = others
        if others:
            self._general_specs(graph, specs, others)
            if unusual is not others:  # both ascending and disjoint: one merge
                unusual = sorted(unusual + others) if unusual else others
        ids, deps = self.ids, self.deps  # only these: the scheduler must not keep the build
        return DynamicScheduler._planned(
            graph,
            specs,  # type: ignore[arg-type]  # every None was filled in
            self.config,
            concurrency_context,
            lambda: _task_orders(ids, deps),
            self.began,
            unusual,
        )

    def _simple_specs(self, graph: Graph) -> tuple[list[TaskSpec | None], list[int], list[int]]:
        """The specs of the simple tasks defined outside a class (None for the other tasks);
        the other nodes; the simple ones with options.

        Most tasks are simple: bare (no parameter, nothing to bind) or fed (every
        parameter takes a plain ``F(...)`` whose types agree at a glance), with no
        instance to bind them to and nothing else sending them data. For them
        resolve_functions would give the function itself and bind_relations the
        bindings of :func:`plain_bindings`, after two more passes over every task.
        One pass makes their specs instead; the general path agrees
        (tests/test_fast_paths.py).
        """
        tasks, relations, index = self.tasks, self.relations, graph.index
        bare, fed, edges, inputs = relations.bare, relations.fed, relations.edges, relations.inputs
        check_types = not self.config.skip_type_check
        specs: list[TaskSpec | None] = []
        others: list[int] = []
        with_options = []
        sent_nothing = not edges and not inputs  # a depends_on workflow
        for node, task_id in enumerate(graph.ids):
            if task_id in bare:
                own = None
                simple = sent_nothing or (task_id not in edges and task_id not in inputs)
            else:
                own = fed.get(task_id)
                simple = own is not None and edges[task_id] is own
            if simple:
                entry = tasks[task_id]
                function = entry.function
                qualname = function.__qualname__  # bare and fed functions are plain functions
                if "." not in qualname or outside_class(qualname):  # (most: the first test)
                    bindings = (
                        () if own is None else plain_bindings(own, relations, index, check_types)
                    )
                    if bindings is not None:
                        options = entry.options
                        if options is not DEFAULT_OPTIONS:
                            with_options.append(node)
                        # A bare task runs as registered: its record is its spec.
                        specs.append(
                            bound(entry, function, entry.is_async, bindings) if bindings else entry
                        )
                        continue
            others.append(node)
            specs.append(None)
        return specs, others, with_options

    def _general_specs(
        self, graph: Graph, specs: list[TaskSpec | None], nodes: Sequence[int]
    ) -> None:
        """Fill in the specs of ``nodes``: their functions resolved, their relations bound."""
        tasks, config, ids = self.tasks, self.config, graph.ids
        if len(nodes) == len(ids):  # every task (a value chain's, say): no subset to make
            functions = self.functions()
        else:  # in registration order, in which the problems found are listed
            chosen = {ids[node] for node in nodes}
            selected = {task_id: tasks[task_id] for task_id in self.ids if task_id in chosen}
            functions = resolve_functions(selected, config)
        bindings = bind_relations(
            self.relations, functions, tasks, config, self.annotations, graph.index
        )
        binding_of = bindings.get
        for node in nodes:
            task_id = ids[node]
            function, entry = functions[task_id], tasks[task_id]
            is_async = entry.is_async if function is entry.function else is_async_callable(function)
            specs[node] = bound(entry, function, is_async, binding_of(task_id, ()))


def _redefines(new: Callable[..., Any], old: Callable[..., Any]) -> bool:
    """Whether ``new`` is ``old`` defined again, as re-running a notebook cell does.

    Same module and qualified name, and defined at the top of a module or class:
    functions a factory makes in a loop share a ``<locals>`` name but are distinct.
    """
    name = getattr(new, "__qualname__", None)
    return (
        isinstance(name, str)
        and "<locals>" not in name
        and name == getattr(old, "__qualname__", None)
        and getattr(new, "__module__", None) == getattr(old, "__module__", None)
    )


_record = SchedulerRegistry._register
"""What ``@registry.task(...)`` returns is a partial of this, with the registry first."""

_MAX_PLANS = 16
"""Plans a registry keeps for run(): one per target set and config in use."""


def _plan_key(target_tasks: Sequence[str] | None, config: AstrumConfig | None) -> Hashable:
    """What decides a plan, as a hashable key; None when it cannot be cached.

    Lists become tuples; ``class_instances`` are compared by identity (a method
    is bound to that very instance), which is safe because the cached scheduler
    keeps them alive. A config that prints the plan on every build is not cached.
    """
    try:
        targets = None if target_tasks is None else tuple(target_tasks)
        if config is None:
            key: Hashable = (targets, None)
        else:
            if config.visualize:
                return None
            values = []
            for name, value in vars(config).items():  # the fields, in order
                if type(value) is list or type(value) is tuple:
                    if name == "class_instances":
                        values.append(tuple([id(instance) for instance in value]))
                    else:
                        values.append(tuple(value))
                elif name == "pools":
                    values.append(tuple(value.items()))
                else:
                    values.append(value)
            key = (targets, tuple(values))
        hash(key)
    except TypeError:  # an unhashable value somewhere: build every time, as before
        return None
    return key


def _task_orders(ids: Sequence[str], deps: Sequence[Collection[str]]) -> list[TaskOrder]:
    orders = {task_id: TaskOrder(task_id) for task_id in ids}
    for order, names in zip(orders.values(), deps, strict=True):
        order.dependencies = [orders[name] for name in names]
    return list(orders.values())


def _dependencies(depends_on: tuple[str, ...], sources: Collection[str] | None) -> Collection[str]:
    """A task's dependencies: its ``depends_on``, then the tasks it takes data from."""
    if not sources:
        return depends_on
    if not depends_on:
        return sources
    return list(dict.fromkeys((*depends_on, *sources)))


def _tag_names(tags: Sequence[str]) -> tuple[str, ...]:
    """Tags as a sorted tuple: pools are acquired in this order, which rules out deadlock."""
    if tags == ():
        return ()
    if isinstance(tags, str):
        names: tuple[object, ...] = (tags,)
    else:
        try:
            names = tuple(tags)
        except TypeError:
            raise TypeError(
                f"tags must be a list of strings, got {type(tags).__name__}: {tags!r}."
            ) from None
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Tags must be non-empty strings, got {name!r}.")
    return tuple(sorted(set(names)))  # type: ignore[arg-type]  # all checked to be str


def _task_ids(value: Sequence[str] | None, what: str) -> tuple[str, ...]:
    """``value`` as a tuple of task ids; ``what`` names the argument in errors."""
    if value is None:
        return ()
    if isinstance(value, str):
        raise TypeError(
            f"{what} must be a list of task ids, not a string; write {what}=[{value!r}]."
        )
    try:
        ids = tuple(value)
    except TypeError:
        raise TypeError(
            f"{what} must be a list of task ids, got {type(value).__name__}: {value!r}."
        ) from None
    try:
        "".join(ids)  # fails unless each is a string: the check, without a loop in Python
    except TypeError:
        for task_id in ids:
            if not isinstance(task_id, str):
                raise TypeError(
                    f"{what} must contain task ids (strings), got "
                    f"{type(task_id).__name__}: {task_id!r}."
                ) from None
        raise
    return ids
