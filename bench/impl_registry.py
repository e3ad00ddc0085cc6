"""Astrum through its registry: ``@registry.task(...)`` then ``build_scheduler()``.

The same module runs ours and, in its own environment, the public 0.1.2 (the
API is the same). Registration is preparation; build is ``build_scheduler()``.
No-op tasks name their dependencies in ``depends_on``; in a value chain each
task's parameter is annotated ``Ref[int, F("t<previous>")]``, which is what
orders them. Every task gets its own function with its own ``__qualname__``,
which 0.1.2 requires.
"""

from __future__ import annotations

import itertools
from collections.abc import Coroutine
from typing import Any

from astrum import DynamicScheduler, ExecutionReport, F, Ref, SchedulerRegistry
from impl_astrum012 import renamed
from workloads import Workload, body, check_results

__all__ = ["build", "check", "prepare", "run", "supports"]

_names = itertools.count()


def supports(workload: Workload) -> bool:
    return workload.body in ("noop", "value")


async def _first() -> int:
    return 1


async def _next(x: int) -> int:
    return x + 1


def prepare(workload: Workload) -> SchedulerRegistry:
    registry = SchedulerRegistry(f"bench{next(_names)}")
    for task_id, deps in workload.deps.items():
        if workload.body != "value":
            function = renamed(body(workload, task_id), f"body_{task_id}")
            registry.task(task_id, depends_on=deps)(function)
            continue
        function = renamed(_next if deps else _first, f"body_{task_id}")
        if deps:
            function.__annotations__ = {"x": Ref[int, F(deps[0])], "return": int}
        registry.task(task_id)(function)
    return registry


def build(registry: SchedulerRegistry) -> DynamicScheduler:
    return registry.build_scheduler()


def run(scheduler: DynamicScheduler) -> Coroutine[Any, Any, ExecutionReport]:
    return scheduler.execute()


def check(workload: Workload, report: ExecutionReport) -> None:
    assert report.execution_state == "completed", report.error_summary
    check_results(workload, report.task_return_set, "the registry")
