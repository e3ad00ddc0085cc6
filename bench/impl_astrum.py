"""Astrum (this repository): ``DynamicScheduler`` built from ``TaskOrder`` objects.

Build is the scheduler's construction (validation and the immutable plan);
run is one ``await scheduler.execute()``, report included.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from astrum import DynamicScheduler, ExecutionReport, TaskOrder
from astrum._build._plan import Binding
from workloads import Workload, body, check_results

__all__ = ["Prepared", "build", "check", "prepare", "run", "supports"]

Prepared = tuple[
    list[tuple[str, Callable[..., Any]]], list[TaskOrder], dict[str, list[Binding]] | None
]


def supports(workload: Workload) -> bool:
    del workload
    return True


def task_orders(workload: Workload) -> list[TaskOrder]:
    orders = {task_id: TaskOrder(task_id) for task_id in workload.deps}
    for task_id, deps in workload.deps.items():
        orders[task_id].dependencies = [orders[dep] for dep in deps]
    return list(orders.values())


def prepare(workload: Workload) -> Prepared:
    tasks = [(task_id, body(workload, task_id)) for task_id in workload.deps]
    bindings = None
    if workload.body == "value":
        # Until the public data-transport API lands, values travel through the plan's bindings.
        bindings = {
            task_id: [Binding(param="x", source_id=dep) for dep in deps]
            for task_id, deps in workload.deps.items()
        }
    return tasks, task_orders(workload), bindings


def build(prepared: Prepared) -> DynamicScheduler:
    tasks, orders, bindings = prepared
    return DynamicScheduler(tasks, orders, bindings=bindings)


def run(scheduler: DynamicScheduler) -> Coroutine[Any, Any, ExecutionReport]:
    return scheduler.execute()


def check(workload: Workload, report: ExecutionReport) -> None:
    assert report.execution_state == "completed", report.error_summary
    check_results(workload, report.task_return_set, "astrum")
