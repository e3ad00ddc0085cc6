"""What a plan with maps, generators or defaults needs beyond the plain graph.

A task with an ``Each(...)`` parameter is *mapped*: it runs once per element
of that value, each run an *instance* (``summarize[3]``). A generator task
(sync or async) is a *producer*: its items feed ``Each`` consumers as they are
yielded, and ``F(...)`` consumers receive the list of them. Edges along which
elements stream (from a mapped task or a producer into an ``Each`` parameter)
are not waited on: the consumer's instances start element by element.

All of this is found once, when the plan is built; a plan without any of it
has ``Plan.dynamic is None`` and runs the plain way, paying nothing for it.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection, Iterable, Sequence
from types import FunctionType

from astrum._build._graph import Graph
from astrum._build._plan import (
    ASYNC_PRODUCER,
    GENERATOR_FLAGS,
    MAPPED,
    PLAIN,
    SYNC_PRODUCER,
    Dynamic,
    TaskSpec,
    is_generator,
)
from astrum._build._relations import summary
from astrum._errors import TaskRegistrationError

__all__ = ["dynamic_of"]


def dynamic_of(
    graph: Graph,
    specs: Sequence[TaskSpec],
    tails: Collection[int],
    nodes: Iterable[int],
) -> Dynamic | None:
    """The dynamic side of a plan, checked; None when it has no map, generator or default.

    ``nodes`` are the tasks that may be mapped, generators or take defaults: all of them,
    unless the caller knows the others cannot.
    """
    # Plain loops, no generator expressions: this runs for every task of every build.
    kinds = [PLAIN] * len(specs)
    special = False
    for node in nodes:
        spec = specs[node]
        function, bindings = spec.function, spec.bindings
        for binding in bindings:
            mode = binding.mode
            if mode is not None:
                special = True
                if mode.each:
                    kinds[node] = MAPPED
        if type(function) is FunctionType:
            if not function.__code__.co_flags & GENERATOR_FLAGS:
                continue
        elif not is_generator(function):
            continue
        special = True
        if kinds[node] == PLAIN:
            inner = getattr(function, "func", function)
            asynchronous = inspect.isasyncgenfunction(getattr(inner, "__func__", inner))
            kinds[node] = ASYNC_PRODUCER if asynchronous else SYNC_PRODUCER
    if not special:
        return None
    problems: list[str] = []
    eaches: list[tuple[tuple[int, int, bool], ...]] = []
    streams: list[list[tuple[int, int]]] = [[] for _ in specs]
    waiting = list(graph.waiting)
    for node, spec in enumerate(specs):
        found = []
        if kinds[node] == MAPPED:
            _check_mapped(spec, node in tails, problems)
        elif kinds[node] != PLAIN:
            _check_producer(spec, node in tails, problems)
        for position, binding in enumerate(spec.bindings):
            mode, source = binding.mode, binding.source
            if mode is None or source is None:
                continue
            if mode.partial and kinds[source] != MAPPED:
                problems.append(
                    f"Task '{spec.task_id}' parameter '{binding.param}' asks for partial=True "
                    f"from task '{binding.source_id}', which is not mapped; partial results "
                    "exist only for a task with an Each(...) parameter, so drop partial=True."
                )
            if mode.each:
                streamed = kinds[source] != PLAIN
                found.append((position, source, streamed))
                if streamed:
                    streams[source].append((node, len(found) - 1))
        eaches.append(tuple(found))
        # A source whose elements stream in is not waited on, unless a plain F(...) takes it too.
        waited = {
            binding.source
            for binding in spec.bindings
            if binding.mode is None or not binding.mode.each
        }
        streamed_sources = {source for _, source, streamed in found if streamed} - waited
        waiting[node] -= len(streamed_sources)
    if problems:
        raise TaskRegistrationError(summary(problems))
    return Dynamic(
        tuple(kinds), tuple(waiting), tuple(eaches), tuple(tuple(found) for found in streams)
    )


def _check_mapped(spec: TaskSpec, tail: bool, problems: list[str]) -> None:
    where = f"Task '{spec.task_id}'"
    if is_generator(spec.function):
        problems.append(
            f"{where} has an Each(...) parameter and is a generator; a mapped task cannot "
            "stream items of its own (nested fan-out is not supported). Return a list, "
            "collect it with F(...) in a plain task and map over that."
        )
    if tail:
        problems.append(
            f"{where} is mapped and listed in ignore_tail_task; a map cannot be left running "
            "after the run, so remove it from ignore_tail_task."
        )
    for binding in spec.bindings:
        if binding.provider is not None:
            problems.append(
                f"{where} is mapped and parameter '{binding.param}' comes from a "
                "from_function provider; a mapped task takes values from tasks and inputs "
                "only, so make the provider a task."
            )
        elif binding.mode is not None and binding.mode.each and binding.source is None:
            problems.append(
                f"{where} parameter '{binding.param}' is marked Each but has no source task; "
                "Each needs a task to map over."
            )


def _check_producer(spec: TaskSpec, tail: bool, problems: list[str]) -> None:
    where = f"Task '{spec.task_id}' is a generator"
    if tail:
        problems.append(
            f"{where} listed in ignore_tail_task; its items feed the run, so it cannot be "
            "left running after it. Remove it from ignore_tail_task."
        )
    if spec.retry:
        problems.append(
            f"{where} with retry={spec.retry}; a generator cannot be retried, because the "
            "items it yielded have already started their instances. Retry the instances "
            "(the mapped task) instead, or return a list."
        )
    if spec.options.cache is not None:
        problems.append(
            f"{where} with cache=True; a generator's items stream and are not cached. Cache "
            "the mapped task's instances instead, or return a list."
        )
