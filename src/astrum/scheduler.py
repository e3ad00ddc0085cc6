"""The scheduler of a hand-built or registry-built DAG: :class:`DynamicScheduler`."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from astrum._build._dynamic import dynamic_of
from astrum._build._graph import Graph
from astrum._build._plan import (
    DEFAULT_OPTIONS,
    Binding,
    Plan,
    TaskOptions,
    TaskSpec,
    is_async_callable,
)
from astrum._errors import (
    TaskDependencyError,
    TaskDuplicateExecutionError,
    TaskNotFoundError,
    TaskRegistrationError,
)
from astrum.cache import default_store
from astrum.config import AstrumConfig, _check_timeout
from astrum.models import ExecutionPlan, ExecutionReport, TaskOrder
from astrum.planner import graph_of, plan_view

if TYPE_CHECKING:
    from astrum._build._markers import TaskData
    from astrum._run._run import Run

__all__ = ["DynamicScheduler"]

TaskCallable = Callable[..., Any]


class DynamicScheduler:
    """Runs a DAG of tasks, each the moment its last dependency completes.

    Construction validates everything (unknown or duplicate tasks, cycles,
    bad options) and builds an immutable plan; :meth:`execute` may then be
    awaited any number of times, also concurrently, each run on its own state.

    >>> async def load() -> int: return 1
    >>> order = TaskOrder("load")
    >>> report = asyncio.run(DynamicScheduler([("load", load)], [order]).execute())
    >>> report.task_return_set
    {'load': 1}
    """

    def __init__(
        self,
        tasks: Sequence[tuple[str, TaskCallable]],
        task_order: Sequence[TaskOrder],
        task_data_refs: Mapping[str, TaskData] | None = None,
        has_data_path: bool = False,  # positional in the original API
        ignore_tail_task: Sequence[str] | None = None,
        concurrency_context: asyncio.Semaphore | None = None,
        *,
        task_retries: Mapping[str, int] | None = None,
        silence: bool = True,
        task_options: Mapping[str, TaskOptions] | None = None,
        config: AstrumConfig | None = None,
        bindings: Mapping[str, Sequence[Binding]] | None = None,
    ) -> None:
        began = time.perf_counter()
        del has_data_path  # kept for the original signature; data paths come from task_data_refs
        if config is None:
            config = AstrumConfig(silence=silence)
        orders = list(task_order)
        self._task_order: list[TaskOrder] | Callable[[], list[TaskOrder]] = orders
        functions = _check_tasks(tasks)
        graph = graph_of(orders)
        _check_coverage(functions, graph.ids)
        retries = dict(task_retries or {})
        options = dict(task_options or {})
        for task_id in (*retries, *options):
            if task_id not in graph.index:
                raise TaskNotFoundError(
                    f"Options were given for task '{task_id}', which is not in task_order."
                )
        bound = {}
        for task_id, items in (bindings or {}).items():
            if task_id not in graph.index:
                raise TaskNotFoundError(
                    f"Bindings were given for task '{task_id}', which is not in task_order."
                )
            bound[task_id] = _with_sources(task_id, tuple(items), graph.index)
        if task_data_refs or bindings is None:
            # A hand-built DAG: its data comes from task_data_refs and Input annotations.
            from astrum._build._bindings import bindings_from_task_data

            found = bindings_from_task_data(task_data_refs or {}, functions, graph)
            for task_id, items in found.items():
                bound[task_id] = (*bound.get(task_id, ()), *items)
        specs = []
        for task_id in graph.ids:
            function = functions[task_id]
            retry = retries.get(task_id, 0)
            _check_retry(task_id, retry)
            task_options_ = options.get(task_id, DEFAULT_OPTIONS)
            if task_options_ is not DEFAULT_OPTIONS and task_options_ != DEFAULT_OPTIONS:
                # anything but the defaults (known to be valid) is checked
                task_options_.validate(task_id)
            specs.append(
                TaskSpec(
                    task_id,
                    function,
                    is_async_callable(function),
                    retry,
                    task_options_,
                    bound.get(task_id, ()),
                )
            )
        self._finish(graph, specs, config, ignore_tail_task, concurrency_context, began)

    @classmethod
    def _planned(
        cls,
        graph: Graph,
        specs: Sequence[TaskSpec],
        config: AstrumConfig,
        concurrency_context: asyncio.Semaphore | None,
        task_order: Callable[[], list[TaskOrder]],
        began: float,
        unusual: Sequence[int],
    ) -> DynamicScheduler:
        """A scheduler for a graph and specs that a registry built and checked itself.

        ``task_order`` makes the :attr:`task_order` list when someone first asks
        for it: a registry's build has no use for TaskOrder objects. ``unusual``
        are the only tasks that may take run-time inputs, use a cache or make the
        plan dynamic (the others are bare functions with the default options).
        """
        scheduler = cls.__new__(cls)
        scheduler._task_order = task_order
        scheduler._finish(graph, specs, config, None, concurrency_context, began, unusual)
        return scheduler

    def _finish(
        self,
        graph: Graph,
        specs: Sequence[TaskSpec],
        config: AstrumConfig,
        ignore_tail_task: Sequence[str] | None,
        concurrency_context: asyncio.Semaphore | None,
        began: float,
        unusual: Sequence[int] | None = None,
    ) -> None:
        """The checks and settings common to every way of making a scheduler.

        ``unusual`` (see :meth:`_planned`) spares looking at every task; None: look.
        """
        self.config = config
        _check_pools(config.pools, specs)
        tail_ids = list(config.ignore_tail_task if ignore_tail_task is None else ignore_tail_task)
        tails = frozenset(_check_tail(task_id, graph.index, graph.succs) for task_id in tail_ids)
        nodes = range(len(specs)) if unusual is None else unusual  # those to look at
        dynamic = dynamic_of(graph, specs, tails, nodes)
        self._plan = Plan(
            graph=graph,
            specs=tuple(specs),
            tails=tails,
            planning_duration=time.perf_counter() - began,
            inputs=_input_uses(specs, nodes),
            dynamic=dynamic,
        )
        # The run machinery is imported by the first scheduler, not by ``import astrum``
        # (one import statement: each one costs every scheduler built).
        from astrum._run._run import Run, RunSettings

        self._run_class: type[Run] = Run
        if dynamic is not None:
            from astrum._run._maprun import DynamicRun

            self._run_class = DynamicRun
        store = config.store
        if store is None and any(specs[node].options.cache is not None for node in nodes):
            store = default_store()
        listeners = config.on_event
        if listeners is None:
            listeners = ()
        elif callable(listeners):
            listeners = (listeners,)
        self._settings = RunSettings(
            executor=config.executor,
            max_workers=config.max_workers,
            concurrency_limit=config.concurrency_limit,
            semaphore=concurrency_context,
            on_failure=config.on_failure,
            run_timeout=config.run_timeout,
            listeners=tuple(listeners),
            silence=config.silence,
            store=store,
            record_runs=config.store is not None,
            pools=dict(config.pools),
            check_input_types=not config.skip_type_check,
            tracer=_tracer(config.tracer_provider),
            shared_threads=config.thread_pool == "shared",
        )

    @property
    def task_order(self) -> list[TaskOrder]:
        """The task orders this scheduler was built from."""
        if callable(self._task_order):
            self._task_order = self._task_order()
        return self._task_order

    @property
    def plan(self) -> Plan:
        """The validated, immutable plan that every run of this scheduler executes."""
        return self._plan

    async def execute(
        self,
        *,
        timeout: float | None = None,
        overrides: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        resume: ExecutionReport | str | None = None,
    ) -> ExecutionReport:
        """Run the DAG once and return its report.

        ``timeout`` (seconds) overrides ``AstrumConfig.run_timeout`` for this run;
        when it expires the running tasks are cancelled and the report's state
        is ``cancelled``. ``overrides`` maps task ids to values used as their
        results without calling them; tasks only they needed do not run.
        ``inputs`` gives the values of parameters marked ``Ref[T, Input(name)]``.
        ``resume`` (an earlier run's report or run id) takes the results that
        run completed from ``AstrumConfig.store`` and runs the rest.
        """
        return await self._execution(timeout, overrides, inputs, resume)

    def _execution(
        self,
        timeout: float | None,
        overrides: Mapping[str, Any] | None,
        inputs: Mapping[str, Any] | None,
        resume: ExecutionReport | str | None,
    ) -> Coroutine[Any, Any, ExecutionReport]:
        """The coroutine of one run (see :meth:`execute`): the run's own when no option
        needs handling around it, as for most runs, so a caller awaits one frame less."""
        if timeout is None and resume is None and not self.config.progress:
            return self._run_class(self._plan, self._settings, overrides, inputs).execute()
        return self._execute_with_options(timeout, overrides, inputs, resume)

    async def _execute_with_options(
        self,
        timeout: float | None,
        overrides: Mapping[str, Any] | None,
        inputs: Mapping[str, Any] | None,
        resume: ExecutionReport | str | None,
    ) -> ExecutionReport:
        settings = self._settings
        if timeout is not None:
            _check_timeout("timeout", timeout)
            settings = replace(settings, run_timeout=timeout)
        run_id = None
        if resume is not None:
            from astrum._run._cache import resume_id

            run_id = resume_id(resume)
            if not settings.record_runs:
                raise ValueError(
                    f"Cannot resume run '{run_id}': no store recorded it. Configure one, e.g. "
                    "AstrumConfig(store=SqliteStore('.astrum-cache.db')), for the run and "
                    "for its resume."
                )
        display = None
        if self.config.progress:
            from astrum._views._progress import display_for_run

            display = display_for_run(len(self._plan.specs))  # one per run: runs may overlap
        if display is not None:
            settings = replace(settings, listeners=(*settings.listeners, display))
        try:
            run = self._run_class(self._plan, settings, overrides, inputs, resume=run_id)
            return await run.execute()
        finally:
            if display is not None:
                display.close()  # also when the run raised before run_finished

    def get_execute_timeline(self) -> ExecutionPlan:
        """The plan as levels, with text views for people."""
        return plan_view(self._plan.graph, self.task_order)

    def to_mermaid(self) -> str:
        """The DAG as a Mermaid ``flowchart``; data edges are labelled with their locator."""
        from astrum._views._export import to_mermaid

        return to_mermaid(self._plan)

    def to_dot(self) -> str:
        """The DAG as a Graphviz ``digraph``; data edges are labelled with their locator."""
        from astrum._views._export import to_dot

        return to_dot(self._plan)

    def detect_cycle(self) -> list[str] | None:
        """Always None: a scheduler that exists was built from an acyclic graph."""
        return None

    def find_task_by_name(self, name: str) -> TaskOrder | None:
        return next((order for order in self.task_order if order.task_name == name), None)


def _check_tasks(tasks: Sequence[tuple[str, TaskCallable]]) -> dict[str, TaskCallable]:
    functions: dict[str, TaskCallable] = {}
    for entry in tasks:
        if not (isinstance(entry, tuple) and len(entry) == 2):
            raise TypeError(f"tasks must be (task_id, function) pairs, got {entry!r}.")
        task_id, function = entry
        if inspect.iscoroutine(function):
            name = getattr(function, "__name__", "f")
            function.close()  # it will never run; closing avoids a "never awaited" warning
            raise TypeError(
                f"Task '{task_id}' was given a coroutine object, not a function. "
                f"Pass the function itself: ('{task_id}', {name}) instead of "
                f"('{task_id}', {name}())."
            )
        if not callable(function):
            raise TypeError(f"Task '{task_id}' must be a function, got {type(function).__name__}.")
        if task_id in functions:
            raise TaskDuplicateExecutionError(
                f"Task '{task_id}' is given two functions; task ids must be unique."
            )
        functions[task_id] = function
    return functions


def _check_coverage(functions: Mapping[str, TaskCallable], ids: Sequence[str]) -> None:
    missing = [task_id for task_id in ids if task_id not in functions]
    if missing:
        raise TaskNotFoundError(
            f"No function was given for task '{missing[0]}', which is in task_order; "
            "add it to tasks as (task_id, function)."
        )
    known = set(ids)
    extra = [task_id for task_id in functions if task_id not in known]
    if extra:
        raise TaskNotFoundError(
            f"Task '{extra[0]}' has a function but no TaskOrder; add TaskOrder('{extra[0]}') "
            "to task_order."
        )


def _check_retry(task_id: str, retry: object) -> None:
    if type(retry) is not int or retry < 0:
        raise TaskRegistrationError(
            f"Task '{task_id}': retry must be a non-negative integer, got {retry!r}."
        )


def _input_uses(
    specs: Sequence[TaskSpec], nodes: Iterable[int]
) -> dict[str, tuple[tuple[int, Binding], ...]]:
    uses: dict[str, list[tuple[int, Binding]]] = {}
    for node in nodes:
        for binding in specs[node].bindings:
            if binding.input_name is not None:
                uses.setdefault(binding.input_name, []).append((node, binding))
    return {name: tuple(found) for name, found in uses.items()}


def _check_pools(pools: Mapping[str, int], specs: Sequence[TaskSpec]) -> None:
    if not pools:
        return
    tags = {tag for spec in specs for tag in spec.options.tags}
    for name in pools:
        if name not in tags:
            known = ", ".join(sorted(tags)) or "none"
            raise TaskRegistrationError(
                f"AstrumConfig.pools names '{name}', but no task of this workflow has that tag "
                f"(tags here: {known}); fix the name or add tags=('{name}',) to a task."
            )


def _check_tail(task_id: str, index: Mapping[str, int], succs: Sequence[Sequence[int]]) -> int:
    node = index.get(task_id)
    if node is None:
        raise TaskNotFoundError(
            f"ignore_tail_task names '{task_id}', which is not a task of this workflow."
        )
    if succs[node]:
        raise TaskRegistrationError(
            f"ignore_tail_task names '{task_id}', but other tasks depend on it; only tasks "
            "that nothing depends on can be left running."
        )
    return node


def _with_sources(
    task_id: str, bindings: tuple[Binding, ...], index: Mapping[str, int]
) -> tuple[Binding, ...]:
    """Fill in each binding's source index from its source id, in this graph's numbering."""
    result = []
    for binding in bindings:
        if binding.source_id is not None:
            if binding.source_id not in index:
                raise TaskDependencyError(
                    f"Task '{task_id}' takes parameter '{binding.param}' from task "
                    f"'{binding.source_id}', which is not part of this workflow."
                )
            binding = binding._replace(source=index[binding.source_id])  # noqa: PLW2901
        result.append(binding)
    return tuple(result)


def _tracer(provider: Any) -> Any:
    """The OpenTelemetry tracer of ``provider``; None (and nothing imported) without one."""
    if provider is None:
        return None
    from astrum._run._otel import make_tracer

    return make_tracer(provider)
