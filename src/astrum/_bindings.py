"""How data relations become parameter bindings (filled in by the data-transport work)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._errors import TaskRegistrationError
from ._graph import Graph
from ._plan import Binding
from .config import AstrumConfig

if TYPE_CHECKING:
    from .data_transport import TaskData
    from .decorators import RegisteredTask

__all__ = [
    "bindings_from_task_data",
    "data_dependencies",
    "resolve_functions",
    "task_data_for",
]


def task_data_for(tasks: Mapping[str, RegisteredTask], config: AstrumConfig) -> dict[str, TaskData]:
    """Each task's data relations: its explicit TaskData merged with its annotations."""
    del config
    return {task_id: entry.data for task_id, entry in tasks.items() if entry.data is not None}


def data_dependencies(task_data: Mapping[str, TaskData]) -> dict[str, list[str]]:
    """The tasks each task takes data from, which it must therefore wait for."""
    del task_data
    return {}


def resolve_functions(
    tasks: Mapping[str, RegisteredTask], config: AstrumConfig
) -> dict[str, Callable[..., Any]]:
    """The callables to run: methods bound to the instances in ``config.class_instances``."""
    del config
    return {task_id: entry.function for task_id, entry in tasks.items()}


def bindings_from_task_data(
    task_data_refs: Mapping[str, TaskData], graph: Graph
) -> dict[str, tuple[Binding, ...]]:
    """The bindings each task's :class:`TaskData` declares."""
    del graph
    if task_data_refs:
        raise TaskRegistrationError("Data transport is not available yet.")
    return {}
