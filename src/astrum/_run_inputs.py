"""What one run is given before it starts: overridden results and run-time inputs.

Both are checked here, before any task starts, against the immutable plan;
nothing here keeps state between runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import InputError, TaskNotFoundError, closest, did_you_mean
from ._plan import Plan
from ._typecheck import compatible, type_name

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
                if binding.expected is not None and not compatible(type(value), binding.expected):
                    raise InputError(
                        f"Input '{name}' is {type(value).__name__}, but task "
                        f"'{ids[node]}' parameter '{binding.param}' expects "
                        f"{type_name(binding.expected)}; pass a value of that type, or "
                        "AstrumConfig(skip_type_check=True) to skip type checks."
                    )
