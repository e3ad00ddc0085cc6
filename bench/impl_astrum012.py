"""The public ``astrum`` 0.1.2 from PyPI, run in its own virtual environment.

It refuses two tasks whose functions share a ``__qualname__``, so every task
gets its own copy of the body under its own name. Its scheduler plans inside
``execute()``, so nearly all of its cost shows up as run time.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Coroutine
from typing import Any

from astrum import DynamicScheduler, ExecutionReport, TaskOrder
from workloads import Workload, body

__all__ = ["Prepared", "build", "check", "prepare", "run", "supports"]

Prepared = tuple[list[tuple[str, Callable[..., Any]]], list[TaskOrder]]


def supports(workload: Workload) -> bool:
    # Its data transport needs registry-level annotations; the value chain is not expressed.
    return workload.body != "value"


def renamed(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A copy of ``function`` whose ``__name__`` and ``__qualname__`` are ``name``, with the
    same annotations (as written: strings, since this module postpones evaluation)."""
    assert isinstance(function, types.FunctionType)
    copy = types.FunctionType(
        function.__code__, function.__globals__, name, function.__defaults__, function.__closure__
    )
    copy.__qualname__ = name
    copy.__annotations__ = dict(function.__annotations__)
    return copy


def prepare(workload: Workload) -> Prepared:
    tasks = [
        (task_id, renamed(body(workload, task_id), f"body_{task_id}")) for task_id in workload.deps
    ]
    orders = {task_id: TaskOrder(task_id) for task_id in workload.deps}
    for task_id, deps in workload.deps.items():
        orders[task_id].dependencies = [orders[dep] for dep in deps]
    return tasks, list(orders.values())


def build(prepared: Prepared) -> DynamicScheduler:
    tasks, orders = prepared
    return DynamicScheduler(tasks, orders)


def run(scheduler: DynamicScheduler) -> Coroutine[Any, Any, ExecutionReport]:
    return scheduler.execute()


def check(workload: Workload, report: ExecutionReport) -> None:
    assert report.execution_state == "completed", report.error_summary
    assert len(report.task_statistics) == workload.size, "astrum 0.1.2 lost tasks"
