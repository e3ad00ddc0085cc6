"""How data relations become parameter bindings: the seam the build calls.

Building a workflow merges each task's annotations with its explicit
:class:`TaskData` (``_relations``), binds methods to their instances
(``_methods``), checks the relations (structure always, types unless
``skip_type_check``) and turns them into :class:`Binding` entries of the plan.
A run then resolves each binding from its own values.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import FunctionType
from typing import TYPE_CHECKING, Annotated, Any, get_origin

from ._edges import Edge, TypeChecker, path
from ._errors import TaskDependencyError, TaskNotFoundError, TaskRegistrationError
from ._graph import Graph
from ._methods import parameters, resolve_functions
from ._plan import Binding
from ._relations import annotations_for, summary, task_data_for
from ._typecheck import Annotations, strip
from .config import AstrumConfig
from .data_transport import Input, TaskData

if TYPE_CHECKING:
    from ._registry import RegisteredTask

__all__ = [
    "annotations_for",
    "bind_task_data",
    "bindings_from_task_data",
    "data_dependencies",
    "describe_relations",
    "edges_by_task",
    "resolve_functions",
    "task_data_for",
]

logger = logging.getLogger("astrum")

_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def edges_by_task(task_data: Mapping[str, TaskData]) -> dict[str, list[Edge]]:
    """Each task's relations, by the task whose TaskData declares them.

    A build computes them once for :func:`data_dependencies` and :func:`bind_task_data`.
    """
    return {task_id: _task_edges(task_id, data) for task_id, data in task_data.items()}


def _edges(task_data: Mapping[str, TaskData]) -> list[Edge]:
    return [edge for task_id, data in task_data.items() for edge in _task_edges(task_id, data)]


def _task_edges(task_id: str, data: TaskData) -> list[Edge]:
    edges = []
    for item in data.input_data_item:
        source = item.from_relation
        if source is None or (source.from_function is None and not source.related_task):
            continue
        target = item.to_relation.locator if item.to_relation is not None else None
        edges.append(
            Edge(
                receiver=task_id,
                target=target,
                source=None if source.from_function else source.related_task,
                provider=source.from_function,
                locator=source.locator,
                expected=item.allow_data_model,
                produced=None,
            )
        )
    for item in data.output_data_item:
        target_end = item.to_relation
        if target_end is None or not target_end.related_task:
            continue
        edges.append(
            Edge(
                receiver=target_end.related_task,
                target=target_end.locator,
                source=task_id,
                provider=None,
                locator=item.from_relation.locator if item.from_relation else None,
                expected=None,
                produced=item.allow_data_model,
            )
        )
    return edges


def _input_edges(
    task_id: str, function: Callable[..., Any], annotations: Annotations
) -> list[Edge]:
    """An edge for each parameter annotated ``Ref[T, Input("name")]``."""
    if type(function) is FunctionType and function.__annotations__.keys() <= {"return"}:
        return []  # no parameter annotations: the common case, answered without reading them
    return [
        Edge(
            receiver=task_id,
            target=param,
            source=None,
            provider=None,
            locator=None,
            expected=strip(hint),
            produced=None,
            input_name=marker.name,
        )
        for param, hint in annotations.marked(function)
        if param != "return" and get_origin(hint) is Annotated
        for marker in hint.__metadata__
        if isinstance(marker, Input)
    ]


def data_dependencies(
    task_data: Mapping[str, TaskData], edges: Mapping[str, list[Edge]] | None = None
) -> dict[str, list[str]]:
    """The tasks each task takes data from, which it must therefore wait for.

    ``edges`` is :func:`edges_by_task` of ``task_data``, when already computed.
    """
    deps: dict[str, dict[str, None]] = {}
    for owned in (edges_by_task(task_data) if edges is None else edges).values():
        for edge in owned:
            if edge.source is not None:
                deps.setdefault(edge.receiver, {})[edge.source] = None
    for task_id, data in task_data.items():
        for source in data.from_tasks or ():
            deps.setdefault(task_id, {})[source] = None
        for receiver in data.to_tasks or ():
            deps.setdefault(receiver, {})[task_id] = None
    return {task_id: list(sources) for task_id, sources in deps.items()}


# -- checks at build time -------------------------------------------------------------


def bind_task_data(
    task_data: Mapping[str, TaskData],
    functions: Mapping[str, Callable[..., Any]],
    tasks: Mapping[str, RegisteredTask],
    config: AstrumConfig,
    annotations: Annotations | None = None,
    all_edges: Mapping[str, list[Edge]] | None = None,
) -> dict[str, tuple[Binding, ...]]:
    """The bindings of the selected tasks, after checking their relations.

    ``functions`` are the selected tasks' resolved callables; ``annotations``
    is the build's :func:`annotations_for` ``tasks`` and ``all_edges`` its
    :func:`edges_by_task` (which may cover more tasks than ``task_data``). Missing
    ``depends_on`` (with ``auto_sync_dependencies`` off) and parameters no
    relation can fill are always problems; types are compared unless
    ``skip_type_check``. Every problem comes in one TaskRegistrationError.
    """
    problems: list[str] = []
    if all_edges is None:
        all_edges = edges_by_task(task_data)
    edges = [
        edge for task_id in task_data for edge in all_edges[task_id] if edge.receiver in functions
    ]
    if not config.auto_sync_dependencies:
        problems.extend(
            f"Task '{edge.receiver}' takes data from task '{edge.source}' but does not depend "
            f"on it; add depends_on=['{edge.source}'] to task '{edge.receiver}', or turn "
            "auto_sync_dependencies on."
            for edge in edges
            if edge.source is not None and not _declared_upstream(tasks, edge.receiver, edge.source)
        )
    if annotations is None:
        annotations = annotations_for(tasks)
    for task_id, function in functions.items():
        edges.extend(_input_edges(task_id, function, annotations))
    by_receiver: dict[str, list[Edge]] = {}
    for edge in edges:
        by_receiver.setdefault(edge.receiver, []).append(edge)
    types = None if config.skip_type_check else TypeChecker(tasks, config, problems, annotations)
    result = {}
    for task_id, function in functions.items():
        params = parameters(function)
        bound, found = _bind(task_id, params, by_receiver.get(task_id, ()))
        problems.extend(found)
        if types is not None:
            types.check(task_id, function, params, bound)
        if bound:
            result[task_id] = _bindings(params, bound)
    if problems:
        raise TaskRegistrationError(summary(problems))
    return result


def _declared_upstream(tasks: Mapping[str, RegisteredTask], receiver: str, source: str) -> bool:
    seen = {receiver}
    stack = [receiver]
    while stack:
        for dep in tasks[stack.pop()].depends_on:
            if dep == source:
                return True
            if dep not in seen and dep in tasks:
                seen.add(dep)
                stack.append(dep)
    return False


# -- bindings ------------------------------------------------------------------------


def bindings_from_task_data(
    task_data_refs: Mapping[str, TaskData],
    functions: Mapping[str, Callable[..., Any]],
    graph: Graph,
) -> dict[str, tuple[Binding, ...]]:
    """The bindings each task's :class:`TaskData` declares, checked against the graph."""
    for task_id in task_data_refs:
        if task_id not in graph.index:
            raise TaskNotFoundError(
                f"task_data_refs has data for task '{task_id}', which is not in task_order."
            )
    annotations = Annotations({})
    by_receiver: dict[str, list[Edge]] = {}
    for task_id, function in functions.items():
        for edge in _input_edges(task_id, function, annotations):
            by_receiver.setdefault(task_id, []).append(edge)
    for edge in _edges(task_data_refs):
        if edge.receiver not in graph.index:
            continue  # a T(...) relation to a task outside the selected targets
        if edge.source is not None:
            _check_upstream(graph, edge.receiver, edge.source)
        by_receiver.setdefault(edge.receiver, []).append(edge)
    problems: list[str] = []
    result = {}
    for receiver, edges in by_receiver.items():
        params = parameters(functions[receiver])
        bound, found = _bind(receiver, params, edges)
        problems.extend(found)
        result[receiver] = _bindings(params, bound)
    if problems:
        raise TaskRegistrationError(summary(problems))
    return result


def _check_upstream(graph: Graph, receiver: str, source: str) -> None:
    if source not in graph.index:
        raise TaskDependencyError(
            f"Task '{receiver}' takes data from task '{source}', which is not part of this "
            "workflow; add it, and make the task depend on it."
        )
    start, goal = graph.index[receiver], graph.index[source]
    # Nodes are numbered topologically, so nothing numbered below the source descends from it.
    seen = {start}
    stack = [start]
    while stack:
        for pred in graph.preds[stack.pop()]:
            if pred == goal:
                return
            if pred > goal and pred not in seen:
                seen.add(pred)
                stack.append(pred)
    raise TaskDependencyError(
        f"Task '{receiver}' takes data from task '{source}' but does not depend on it, so the "
        f"value may not exist yet; add TaskOrder('{source}') to its dependencies."
    )


def _bind(
    receiver: str, params: Sequence[inspect.Parameter] | None, edges: Iterable[Edge]
) -> tuple[list[tuple[str, Edge]], list[str]]:
    """Which parameter each relation feeds, with a problem for each that cannot work."""
    problems: list[str] = []
    slots: dict[str, Edge] = {}
    for edge in edges:
        name = _parameter(receiver, params, edge, problems)
        if name is None:
            continue
        other = slots.get(name)
        if other is None:
            slots[name] = edge
        elif not other.same_value(edge):
            problems.append(
                f"Task '{receiver}' parameter '{name}' is fed twice, by {other.origin()} and by "
                f"{edge.origin()}; keep one of the two relations."
            )
    if params is not None:
        positional_only = [p.name for p in params if p.kind is p.POSITIONAL_ONLY]
        fed = [name in slots for name in positional_only]
        for i, name in enumerate(positional_only):
            if fed[i] and not all(fed[:i]):
                missing = positional_only[fed.index(False)]
                problems.append(
                    f"Task '{receiver}' parameter '{name}' is positional-only and fed by a "
                    f"relation, but the positional-only parameter '{missing}' before it is "
                    "not; feed that one too."
                )
                break
    return list(slots.items()), problems


def _parameter(
    receiver: str, params: Sequence[inspect.Parameter] | None, edge: Edge, problems: list[str]
) -> str | None:
    """The name of the parameter ``edge`` feeds, or None after noting why it cannot."""
    target = edge.target
    if params is None:
        return target if isinstance(target, str) else f"#{target or 0}"
    if target is None:
        if params and params[0].kind not in _VARIADIC:
            return params[0].name
        problem = (
            "for its first parameter, but it has no named parameters; name the receiving "
            "parameter (T(task, locator, 'param') or the to_relation key)."
        )
    elif isinstance(target, int):
        positional = [p for p in params if p.kind in _POSITIONAL]
        if 0 <= target < len(positional):
            return positional[target].name
        problem = (
            f"for positional parameter {target}, but it has {len(positional)} positional "
            "parameters; fix the index."
        )
    else:
        found = next((p for p in params if p.name == target), None)
        if found is not None and found.kind not in _VARIADIC:
            return target
        if found is None and any(p.kind is p.VAR_KEYWORD for p in params):
            return target
        if found is None:
            names = ", ".join(p.name for p in params) or "none"
            problem = (
                f"for parameter '{target}', but it has no such parameter (it has: {names}); "
                "fix the name."
            )
        else:
            problem = f"for '{target}', but that is *args or **kwargs; name another parameter."
    problems.append(f"Task '{receiver}' gets {edge.origin()} {problem}")
    return None


def _bindings(
    params: Sequence[inspect.Parameter] | None, bound: Sequence[tuple[str, Edge]]
) -> tuple[Binding, ...]:
    defaults: dict[str, Any] = {}
    if params is None:
        positional = {name for name, _ in bound if name.startswith("#")}
        order = {name: int(name[1:]) if name in positional else 0 for name, _ in bound}
    else:
        positional = {p.name for p in params if p.kind is p.POSITIONAL_ONLY}
        order = {p.name: i for i, p in enumerate(params)}
        defaults = {p.name: p.default for p in params if p.default is not p.empty}
    result = [
        Binding(
            param=name,
            source_id=edge.source,
            locator=edge.locator,
            provider=edge.provider,
            positional=name in positional,
            input_name=edge.input_name,
            has_default=name in defaults,
            default=defaults.get(name),
            expected=edge.expected if edge.input_name is not None else None,
        )
        for name, edge in bound
    ]
    # Positional arguments are passed in binding order, so they go first, by position.
    result.sort(key=lambda b: (not b.positional, order.get(b.param, len(order))))
    return tuple(result)


def describe_relations(task_data: Mapping[str, TaskData]) -> list[tuple[str | None, str, str]]:
    """``(source, receiver, text)`` for each relation, as ``search['hits'] -> rank(hits)``."""
    lines = []
    for edge in _edges(task_data):
        target = "first parameter" if edge.target is None else edge.target
        if edge.provider is not None:
            label = getattr(edge.provider, "__name__", repr(edge.provider))
            source = f"{label}()" if edge.locator is None else f"{label}()[{edge.locator!r}]"
        else:
            source = path(edge.source or "", edge.locator)
        lines.append((edge.source, edge.receiver, f"{source} -> {edge.receiver}({target})"))
    return lines
