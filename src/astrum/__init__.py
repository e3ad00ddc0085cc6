"""Astrum: run a DAG of plain Python functions, each the moment what it needs is ready.

>>> import asyncio
>>> from astrum import SchedulerRegistry
>>> flow = SchedulerRegistry("readme")
>>> @flow.task()
... async def load() -> list[int]:
...     return [1, 2, 3]
>>> @flow.task(depends_on=["load"])
... def total() -> str:
...     return "summed"
>>> asyncio.run(flow.run()).successful_tasks
2
"""

from typing import TYPE_CHECKING, Any

from ._errors import (
    InputError,
    SchedulerError,
    TaskDependencyError,
    TaskDuplicateExecutionError,
    TaskNotFoundError,
    TaskOrderLoopError,
    TaskOrderNoExitError,
    TaskRegistrationError,
)
from .cache import CachePolicy, MemoryStore
from .config import AstrumConfig
from .data_transport import F, From, Input, Ref, T, To
from .decorators import (
    DEFAULT_NAMESPACE,
    RegisteredTask,
    SchedulerRegistry,
    active_namespace,
    build_scheduler,
    build_task_orders,
    clear_registry,
    get_registry,
    run,
    run_sync,
    task,
    use_namespace,
)
from .events import Event
from .executors import DaskExecutor
from .models import (
    ExecutionPlan,
    ExecutionReport,
    ExecutionStage,
    ExecutionState,
    StageStatus,
    TaskAttemptStatistics,
    TaskExecutionStatistics,
    TaskOrder,
    TaskStageStatistics,
)
from .planner import ExecutionPlanner
from .scheduler import DynamicScheduler

if TYPE_CHECKING:
    from .cache import SqliteStore


def __getattr__(name: str) -> Any:
    # SqliteStore on first use: sqlite3 is imported only by the programs that use it.
    if name == "SqliteStore":
        from .cache import SqliteStore

        return SqliteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_NAMESPACE",
    "AstrumConfig",
    "CachePolicy",
    "DaskExecutor",
    "DynamicScheduler",
    "Event",
    "ExecutionPlan",
    "ExecutionPlanner",
    "ExecutionReport",
    "ExecutionStage",
    "ExecutionState",
    "F",
    "From",
    "Input",
    "InputError",
    "MemoryStore",
    "Ref",
    "RegisteredTask",
    "SchedulerError",
    "SchedulerRegistry",
    "SqliteStore",
    "StageStatus",
    "T",
    "TaskAttemptStatistics",
    "TaskDependencyError",
    "TaskDuplicateExecutionError",
    "TaskExecutionStatistics",
    "TaskNotFoundError",
    "TaskOrder",
    "TaskOrderLoopError",
    "TaskOrderNoExitError",
    "TaskRegistrationError",
    "TaskStageStatistics",
    "To",
    "active_namespace",
    "build_scheduler",
    "build_task_orders",
    "clear_registry",
    "get_registry",
    "run",
    "run_sync",
    "task",
    "use_namespace",
]
