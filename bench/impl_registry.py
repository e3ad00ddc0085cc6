"""Astrum through its registry: ``@registry.task(depends_on=...)`` then ``build_scheduler()``.

The same module runs ours and, in its own environment, the public 0.1.2 (the
API is the same). Registration is preparation; build is ``build_scheduler()``.
Every task gets its own function with its own ``__qualname__``, which 0.1.2
requires.
"""

from __future__ import annotations

import itertools
from collections.abc import Coroutine
from typing import Any

from astrum import DynamicScheduler, ExecutionReport, SchedulerRegistry
from impl_astrum012 import renamed
from workloads import Workload, body

__all__ = ["build", "check", "prepare", "run", "supports"]

_names = itertools.count()


def supports(workload: Workload) -> bool:
    return workload.body == "noop"


def prepare(workload: Workload) -> SchedulerRegistry:
    registry = SchedulerRegistry(f"bench{next(_names)}")
    for task_id, deps in workload.deps.items():
        function = renamed(body(workload, task_id), f"body_{task_id}")
        registry.task(task_id, depends_on=deps)(function)
    return registry


def build(registry: SchedulerRegistry) -> DynamicScheduler:
    return registry.build_scheduler()


def run(scheduler: DynamicScheduler) -> Coroutine[Any, Any, ExecutionReport]:
    return scheduler.execute()


def check(workload: Workload, report: ExecutionReport) -> None:
    assert report.execution_state == "completed", report.error_summary
    assert len(report.task_return_set) == workload.size, "the registry lost tasks"
