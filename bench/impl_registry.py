"""Astrum through its registry, as the README writes it: ``@registry.task(...)``, then a build.

This is the headline column of every workload. Build is registering every task
in a new registry plus ``build_scheduler()``; run is ``await scheduler.execute()``.
Preparation (untimed) only makes the functions: each task gets a function of
its own, as in a real workflow (its declarations are read once, by the first
build), with its own ``__qualname__`` (which 0.1.2 requires). No-op and sleeping
tasks name their dependencies in ``depends_on``; in a value chain each task's
parameter is annotated ``Ref[int, F("t<previous>")]``, which is what orders them (written
as a string in ``value_chain_strings``, as under ``from __future__ import annotations``).
The same module runs the public 0.1.2 in its own environment (the API is the same).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Coroutine
from typing import Any

from astrum import DynamicScheduler, ExecutionReport, F, Ref, SchedulerRegistry
from impl_astrum012 import renamed
from workloads import Workload, body, check_results

__all__ = ["Prepared", "build", "check", "prepare", "run", "supports"]

Prepared = list[tuple[str, Callable[..., Any], list[str]]]
"""Per task: its id, its function and its ``depends_on``."""

_names = itertools.count()


def supports(workload: Workload) -> bool:
    del workload
    return True


async def _first() -> int:
    return 1


async def _next(x: int) -> int:
    return x + 1


def prepare(workload: Workload) -> Prepared:
    tasks: Prepared = []
    for task_id, deps in workload.deps.items():
        if workload.body != "value":
            tasks.append((task_id, renamed(body(workload, task_id), f"body_{task_id}"), deps))
            continue
        function = renamed(_next if deps else _first, f"body_{task_id}")
        if deps and workload.name == "value_chain_strings":  # postponed evaluation
            function.__annotations__ = {"x": f"Ref[int, F({deps[0]!r})]", "return": "int"}
        elif deps:
            function.__annotations__ = {"x": Ref[int, F(deps[0])], "return": int}
        tasks.append((task_id, function, []))
    return tasks


def build(tasks: Prepared) -> DynamicScheduler:
    registry = SchedulerRegistry(f"bench{next(_names)}")
    for task_id, function, deps in tasks:
        registry.task(task_id, depends_on=deps)(function)
    return registry.build_scheduler()


def run(scheduler: DynamicScheduler) -> Coroutine[Any, Any, ExecutionReport]:
    return scheduler.execute()


def check(workload: Workload, report: ExecutionReport) -> None:
    assert report.execution_state == "completed", report.error_summary
    check_results(workload, report.task_return_set, "the registry")
