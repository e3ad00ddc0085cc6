"""How data relations become parameter bindings: the seam the build calls.

Building a workflow reads each task's relations (``_relations``), binds
methods to their instances (``_methods``), checks the relations (structure
always, types unless ``skip_type_check``) and turns them into
:class:`Binding` entries of the plan. A run then resolves each binding from
its own values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from astrum._build._edges import Edge, TypeChecker, agrees, input_edge, output_edge, path
from astrum._build._graph import Graph
from astrum._build._markers import TaskData
from astrum._build._methods import (
    EMPTY,
    POSITIONAL,
    POSITIONAL_ONLY,
    VAR_KEYWORD,
    VARIADIC,
    Param,
    parameters,
)
from astrum._build._plan import Binding, from_fields
from astrum._build._relations import Relations, input_edges, summary
from astrum._build._typecheck import Annotations, strip
from astrum._errors import TaskDependencyError, TaskNotFoundError, TaskRegistrationError
from astrum.config import AstrumConfig

if TYPE_CHECKING:
    from astrum._build._plan import TaskSpec
    from astrum._build._task import Tasks

__all__ = ["bind_relations", "bindings_from_task_data", "describe_relations", "plain_bindings"]


def bind_relations(
    relations: Relations,
    functions: Mapping[str, Callable[..., Any]],
    tasks: Tasks,
    config: AstrumConfig,
    annotations: Annotations,
    index: Mapping[str, int],
) -> dict[str, tuple[Binding, ...]]:
    """The bindings of the selected tasks, after checking their relations.

    ``functions`` are the selected tasks' resolved callables and ``index`` the
    graph's numbering, in which each binding's source is given. Missing
    ``depends_on`` (with ``auto_sync_dependencies`` off) and parameters no
    relation can fill are always problems; types are compared unless
    ``skip_type_check``. Every problem comes in one TaskRegistrationError.
    """
    problems: list[str] = []
    by_receiver, by_input, bare_tasks = relations.edges, relations.inputs, relations.bare
    unbound: set[str] = set()  # tasks whose data comes from outside the selection
    if not config.auto_sync_dependencies:
        for task_id in functions:
            for edge in by_receiver.get(task_id, ()):
                if edge.source is None or _declared_upstream(tasks, task_id, edge.source):
                    continue
                problems.append(
                    f"Task '{task_id}' takes data from task '{edge.source}' but does not depend "
                    f"on it; add depends_on=['{edge.source}'] to task '{task_id}', or turn "
                    "auto_sync_dependencies on."
                )
                unbound.add(task_id)
    types = None
    if not config.skip_type_check:
        types = TypeChecker(
            tasks, config, problems, annotations, relations.mapped, relations.returns
        )
    result = {}
    for task_id, function in functions.items():
        if task_id in unbound:
            continue  # its source may not be in the graph; the problem above says why
        edges: Sequence[Edge] = by_receiver.get(task_id, ())
        if task_id in by_input:
            edges = [*edges, *by_input[task_id]]
        elif not edges and task_id in bare_tasks:
            continue  # no parameter to feed, none fed: most tasks without data
        entry = tasks[task_id]
        declared = tasks.declared(task_id)
        plain = None
        if declared.names is not None and function is entry.function:
            if not edges and not declared.required:
                continue  # nothing to bind and nothing missing: most tasks without data
            plain = _bind_plain(
                task_id, function, declared.names, declared.required, edges, index, types
            )
        if plain is not None:
            if plain:
                result[task_id] = plain
            continue
        params = parameters(function)
        bound = _bind(task_id, params, edges, problems) if edges else []
        if types is not None:
            types.check(task_id, function, params, bound)
        if bound:
            result[task_id] = _bindings(params, bound, index)
    if problems:
        raise TaskRegistrationError(summary(problems))
    return result


def plain_bindings(
    edges: tuple[Edge, ...], relations: Relations, index: Mapping[str, int], check_types: bool
) -> tuple[Binding, ...] | None:
    """The bindings of a task whose parameters are all fed by plain ``F(...)``, from the
    ``edges`` :func:`fed_inputs` read (one per parameter, in order), numbered by ``index``.

    What :func:`bind_relations` would make of them, without matching relations to
    parameters (that is settled) and with the type checker's quick answer alone:
    None means "take the general path", which compares the types in full.
    """
    if check_types:
        returns, mapped = relations.returns, relations.mapped
        for edge in edges:
            source, expected = edge.source, edge.expected
            if type(expected) is not type:
                expected = strip(expected)
            if (
                edge.locator is not None
                or source in mapped
                or not agrees(returns.get(source), expected)  # type: ignore[arg-type]  # F names one
            ):
                return None
    if len(edges) == 1:
        edge = edges[0]
        return (_binding(edge.target, edge, index),)  # type: ignore[arg-type]  # a name
    return tuple([_binding(edge.target, edge, index) for edge in edges])  # type: ignore[arg-type]


def _bind_plain(
    task_id: str,
    function: Callable[..., Any],
    names: tuple[str, ...],
    required: int,
    edges: Sequence[Edge],
    index: Mapping[str, int],
    types: TypeChecker | None,
) -> tuple[Binding, ...] | None:
    """The bindings of a function whose parameters are all plain and named (``names``,
    the first ``required`` without a default), when every relation fits.

    Most tasks are such functions, and this answers for them without making
    parameter records. None means "take the general path": a relation misses
    its parameter or feeds one twice, or a parameter without a default is not
    fed; the general path explains each.
    """
    if not edges:
        return () if not required else None
    if len(edges) == 1:  # the usual case, without the bookkeeping below
        edge = edges[0]
        target = edge.target
        position = 0 if names and target == names[0] else _position(names, target)
        if position is None or required > 1 or (required and position):
            return None
        name = names[position]
        if types is not None:
            types.check_edge(task_id, function, name, edge)
        if position < required:  # no default to look up
            return (_binding(name, edge, index),)
        return (_plain_binding(function, names, required, position, edge, index),)
    fed: dict[int, Edge] = {}
    for edge in edges:
        position = _position(names, edge.target)
        if position is None or position in fed:
            return None
        fed[position] = edge
    if not all(position in fed for position in range(required)):
        return None
    bindings = []
    for position in sorted(fed):
        edge = fed[position]
        if types is not None:
            types.check_edge(task_id, function, names[position], edge)
        bindings.append(_plain_binding(function, names, required, position, edge, index))
    return tuple(bindings)


def _position(names: tuple[str, ...], target: str | int | None) -> int | None:
    """Which of ``names`` a relation's target is: None targets the first parameter."""
    if target is None:
        return 0 if names else None
    if type(target) is int:
        return target if 0 <= target < len(names) else None
    try:
        return names.index(target)  # a name, or no match
    except ValueError:
        return None


def _plain_binding(
    function: Callable[..., Any],
    names: tuple[str, ...],
    required: int,
    position: int,
    edge: Edge,
    index: Mapping[str, int],
) -> Binding:
    if position < required:
        return _binding(names[position], edge, index)
    default = (getattr(function, "__defaults__", None) or ())[position - required]
    return _binding(names[position], edge, index, default=default)


def _binding(
    param: str,
    edge: Edge,
    index: Mapping[str, int],
    *,
    positional: bool = False,
    default: Any = EMPTY,
) -> Binding:
    """The binding of ``param`` to what ``edge`` brings, its source numbered by ``index``;
    ``default`` is the parameter's, or EMPTY when it has none."""
    _, _, source, provider, locator, expected, _, input_name, mode = edge  # one step, not six
    has_default = default is not EMPTY
    return _new_binding(
        (
            param,
            None if source is None else index[source],
            source,
            locator,
            provider,
            positional,
            input_name,
            has_default,
            default if has_default else None,
            expected if input_name is not None else None,
            mode,
        )
    )


_new_binding = from_fields(Binding)


def _declared_upstream(tasks: Mapping[str, TaskSpec], receiver: str, source: str) -> bool:
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
        found = input_edges(task_id, function, annotations)
        if found:
            by_receiver[task_id] = found
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
        bound = _bind(receiver, params, edges, problems)
        result[receiver] = _bindings(params, bound, graph.index)
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
    receiver: str, params: Sequence[Param] | None, edges: Sequence[Edge], problems: list[str]
) -> list[tuple[str, Edge]]:
    """Which parameter each relation feeds; a problem is noted for each that cannot work."""
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
    if params is not None and any(p.kind is POSITIONAL_ONLY for p in params):
        positional_only = [p.name for p in params if p.kind is POSITIONAL_ONLY]
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
    return list(slots.items())


def _parameter(
    receiver: str, params: Sequence[Param] | None, edge: Edge, problems: list[str]
) -> str | None:
    """The name of the parameter ``edge`` feeds, or None after noting why it cannot."""
    target = edge.target
    if params is None:
        return target if isinstance(target, str) else f"#{target or 0}"
    if isinstance(target, str):
        for param in params:
            if param.name == target:
                if param.kind not in VARIADIC:
                    return target
                problems.append(
                    f"Task '{receiver}' gets {edge.origin()} for '{target}', but that is *args "
                    "or **kwargs; name another parameter."
                )
                return None
        if any(p.kind is VAR_KEYWORD for p in params):
            return target
        names = ", ".join(p.name for p in params) or "none"
        problem = (
            f"for parameter '{target}', but it has no such parameter (it has: {names}); "
            "fix the name."
        )
    elif target is None:
        if params and params[0].kind not in VARIADIC:
            return params[0].name
        problem = (
            "for its first parameter, but it has no named parameters; name the receiving "
            "parameter (T(task, locator, 'param') or the to_relation key)."
        )
    else:
        positional = [p for p in params if p.kind in POSITIONAL]
        if 0 <= target < len(positional):
            return positional[target].name
        problem = (
            f"for positional parameter {target}, but it has {len(positional)} positional "
            "parameters; fix the index."
        )
    problems.append(f"Task '{receiver}' gets {edge.origin()} {problem}")
    return None


def _bindings(
    params: Sequence[Param] | None, bound: Sequence[tuple[str, Edge]], index: Mapping[str, int]
) -> tuple[Binding, ...]:
    """The bindings, sources numbered by ``index``; positional ones first, by position."""
    result = []
    for name, edge in bound:
        position, positional, default = 0, False, EMPTY
        if params is None:
            positional = name.startswith("#")
            position = int(name[1:]) if positional else 0
        else:
            for position, param in enumerate(params):  # noqa: B007 - the position is the point
                if param.name == name:
                    positional = param.kind is POSITIONAL_ONLY
                    default = param.default
                    break
            else:
                position = len(params)  # into **kwargs: after every named parameter
        binding = _binding(name, edge, index, positional=positional, default=default)
        result.append((not positional, position, binding))
    if len(result) > 1:
        # Positional arguments are passed in binding order, so they go first, by position.
        result.sort(key=lambda entry: entry[:2])
    return tuple(binding for _, _, binding in result)


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


def _edges(task_data: Mapping[str, TaskData]) -> list[Edge]:
    """The edges explicit TaskData declare, unchecked (for hand-built DAGs and views)."""
    edges: list[Edge] = []
    for task_id, data in task_data.items():
        edges.extend(e for item in data.input_data_item if (e := input_edge(task_id, item)))
        edges.extend(e for item in data.output_data_item if (e := output_edge(task_id, item)))
    return edges
