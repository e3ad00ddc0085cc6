"""What one run is given before it starts: overridden results and run-time inputs.

Both are checked here, before any task starts, against the immutable plan;
nothing here keeps state between runs.
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Union, get_args, get_origin

from astrum._build._plan import Plan
from astrum._build._typecheck import compatible, type_name
from astrum._errors import InputError, TaskNotFoundError, closest, did_you_mean

__all__ = ["check_inputs", "needed_with_overrides"]


def needed_with_overrides(
    plan: Plan, overrides: Mapping[str, Any]
) -> tuple[dict[int, Any], list[bool]]:
    """The overridden values by node, and which nodes still need to run.

    A task is needed when some path from it to a final task avoids every
    overridden task; the others never start and are not in the report.
    """
    graph = plan.graph
    by_node: dict[int, Any] = {}
    for task_id, value in overrides.items():
        if task_id not in graph.index:
            raise TaskNotFoundError(
                f"overrides names '{task_id}', which is not a task of this workflow"
                f"{did_you_mean(task_id, graph.index)}"
            )
        by_node[graph.index[task_id]] = value
    needed = [False] * len(graph)
    stack = [node for node, succs in enumerate(graph.succs) if not succs]
    while stack:
        node = stack.pop()
        if not needed[node]:
            needed[node] = True
            if node not in by_node:
                stack.extend(graph.preds[node])
    return by_node, needed


def check_inputs(
    plan: Plan,
    inputs: Mapping[str, Any],
    overridden: Mapping[int, Any],
    needed: list[bool] | None,
    *,
    check_types: bool,
) -> None:
    """Raise :class:`InputError` for an unknown, missing or mistyped run-time input."""
    uses = plan.inputs
    ids = plan.ids
    unknown = [name for name in inputs if name not in uses]
    if unknown:
        declared = ", ".join(f"'{name}'" for name in sorted(uses)) or "none"
        match = closest(unknown[0], uses)
        advice = (
            f"did you mean '{match}'?"
            if match is not None
            else f"mark a parameter Ref[..., Input('{unknown[0]}')] or drop the input."
        )
        raise InputError(
            f"Input '{unknown[0]}' is not declared by any task of this workflow "
            f"(declared inputs: {declared}); {advice}"
        )
    for name, found in uses.items():
        if name not in inputs:
            wanting = [
                ids[node]
                for node, binding in found
                if not binding.has_default
                and node not in overridden
                and (needed is None or needed[node])
            ]
            if wanting:
                tasks = ", ".join(f"'{task_id}'" for task_id in wanting)
                raise InputError(
                    f"Input '{name}' is required by task {tasks} but was not given; "
                    f"pass inputs={{'{name}': ...}} to run()."
                )
        elif check_types:
            value = inputs[name]
            for node, binding in found:
                if binding.expected is None:
                    continue
                problem = _mismatch(value, binding.expected)
                if problem is not None:
                    raise InputError(
                        f"Input '{name}' is {problem}, but task "
                        f"'{ids[node]}' parameter '{binding.param}' expects "
                        f"{type_name(binding.expected)}; pass a value of that type, or "
                        "AstrumConfig(skip_type_check=True) to skip type checks."
                    )


_SAMPLE = 20
"""Elements of a container input checked against its element type: a sample, not all."""


def _mismatch(value: Any, expected: Any, depth: int = 0) -> str | None:
    """What is wrong with ``value`` as an ``expected``, or None when it fits.

    Beyond the value's own type, a sample of the elements of a ``list[int]``,
    ``tuple[str, ...]``, ``set[...]`` or ``dict[K, V]`` are checked, two levels deep.
    """
    if not compatible(type(value), expected):
        return type(value).__name__
    if depth >= 2:
        return None
    origin, args = get_origin(expected), get_args(expected)
    if origin is Union or origin is types.UnionType:
        problems = [_mismatch(value, arm, depth) for arm in args]
        return None if None in problems else next(p for p in problems if p is not None)
    if not args or not isinstance(origin, type):
        return None
    if issubclass(origin, Mapping) and isinstance(value, Mapping) and len(args) == 2:
        for key, item in itertools.islice(value.items(), _SAMPLE):
            wrong = _mismatch(key, args[0], depth + 1) or _mismatch(item, args[1], depth + 1)
            if wrong is not None:
                return f"a {type(value).__name__} holding {wrong} at key {key!r}"
        return None
    items: Iterable[tuple[int, Any, Any]]
    if issubclass(origin, tuple) and not (len(args) == 2 and args[1] is Ellipsis):
        items = zip(range(len(args)), value, args, strict=False)  # fixed-length tuple[A, B]
    elif issubclass(origin, Collection) and isinstance(value, Collection):
        # list[X], set[X], tuple[X, ...]; iterators are never consumed to check them
        items = ((i, item, args[0]) for i, item in enumerate(value))
    else:
        return None
    for index, item, wanted in itertools.islice(items, _SAMPLE):
        wrong = _mismatch(item, wanted, depth + 1)
        if wrong is not None:
            return f"a {type(value).__name__} holding {wrong} at index {index}"
    return None
