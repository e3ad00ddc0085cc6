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

from astrum._errors import (
    InputError,
    SchedulerError,
    Skip,
    TaskDependencyError,
    TaskDuplicateExecutionError,
    TaskNotFoundError,
    TaskOrderLoopError,
    TaskOrderNoExitError,
    TaskRegistrationError,
)
from astrum.cache import CachePolicy, MemoryStore
from astrum.config import AstrumConfig
from astrum.data_transport import Each, F, From, Input, Ref, T, To
from astrum.decorators import (
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
from astrum.events import Event
from astrum.executors import DaskExecutor
from astrum.models import (
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
from astrum.planner import ExecutionPlanner
from astrum.scheduler import DynamicScheduler

if TYPE_CHECKING:
    from astrum.cache import SqliteStore


def __getattr__(name: str) -> Any:
    # SqliteStore on first use: sqlite3 is imported only by the programs that use it.
    if name == "SqliteStore":
        from astrum.cache import SqliteStore

        return SqliteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_NAMESPACE",
    "AstrumConfig",
    "CachePolicy",
    "DaskExecutor",
    "DynamicScheduler",
    "Each",
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
    "Skip",
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
