"""The frozen records the stages hand each other: task orders, plan stages, statistics.

They sit below every stage: the build, the run and the views read and write
them, and :mod:`astrum.models` (the public module) re-exports them with the
report class that adds its views on top of :class:`ReportData`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Self, TypeVar

from astrum._errors import NoResultError, did_you_mean

__all__ = [
    "ExecutionPlan",
    "ExecutionStage",
    "ExecutionState",
    "ReportData",
    "StageStatus",
    "TaskAttemptStatistics",
    "TaskExecutionStatistics",
    "TaskOrder",
    "TaskStageStatistics",
]

_C = TypeVar("_C", bound=type)


class ExecutionState(StrEnum):
    """The state of a whole run; a report ends ``completed``, ``failed`` or ``cancelled``."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    PLANNING = "planning"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NONE = "none"


class StageStatus(StrEnum):
    """The outcome of one task (or one attempt) in a run."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    CACHED = "cached"
    """Completed without running: the value came from a cache store or a resumed run."""


@dataclass(eq=False)
class TaskOrder:
    """One node of a hand-built DAG: a task name and the orders it waits for.

    >>> load = TaskOrder("load")
    >>> TaskOrder("clean", dependencies=[load]).depend.task_name
    'load'
    """

    task_name: str
    dependencies: list[TaskOrder] = field(default_factory=list)

    @property
    def depend(self) -> TaskOrder | None:
        """The first (usually the only) dependency, or None."""
        return self.dependencies[0] if self.dependencies else None

    @depend.setter
    def depend(self, order: TaskOrder | None) -> None:
        self.dependencies = [] if order is None else [order]

    def __repr__(self) -> str:
        # Names only: a recursive repr would overflow on long chains and loop on cycles.
        deps = self.dependencies
        names = (
            [getattr(dep, "task_name", dep) for dep in deps]
            if isinstance(deps, list | tuple)
            else deps
        )
        return f"TaskOrder({self.task_name!r}, dependencies={names!r})"


@dataclass(frozen=True)
class ExecutionStage:
    """One level of the DAG: tasks whose longest path from a root has the same length."""

    stage_id: int
    parallel_tasks: list[str]
    wait_for_tasks: list[str]
    start_tasks: list[str]


@dataclass
class ExecutionPlan:
    """A levelled view of the graph for people; execution itself has no stage barriers."""

    stages: list[ExecutionStage]
    total_tasks: int
    max_parallelism: int
    original_tasks: list[TaskOrder] = field(default_factory=list)

    def set_original_tasks(self, tasks: list[TaskOrder]) -> None:
        self.original_tasks = list(tasks)

    def get_dependency_graph_info(self) -> str:
        lines = ["Task dependency graph:"]
        for order in self.original_tasks:
            deps = ", ".join(dep.task_name for dep in order.dependencies) or "nothing"
            lines.append(f"  {order.task_name} <- {deps}")
        return "\n".join(lines)

    def get_visualization_table(self) -> str:
        tasks, levels = self.total_tasks, len(self.stages)
        header = (
            f"Execution plan: {tasks} task{'' if tasks == 1 else 's'} in {levels} "
            f"level{'' if levels == 1 else 's'}, at most {self.max_parallelism} in parallel"
        )
        rows = [("level", "tasks", "waits for")]
        rows += [
            (str(s.stage_id), ", ".join(s.parallel_tasks), ", ".join(s.wait_for_tasks) or "-")
            for s in self.stages
        ]
        widths = [max(len(row[col]) for row in rows) for col in range(3)]
        lines = [header]
        for number, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
            if number == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(line.rstrip() for line in lines)

    def get_full_visualization(self) -> str:
        return f"{self.get_dependency_graph_info()}\n\n{self.get_visualization_table()}"


@dataclass(frozen=True)
class TaskAttemptStatistics:
    """One call of a task's function; ``start_time`` and ``duration`` are its body's."""

    task_name: str
    attempt_number: int
    max_retries: int
    start_time: float
    end_time: float
    duration: float
    status: str
    error_message: str | None = None
    will_retry: bool = False
    worker: str | None = None
    """Where this attempt ran: a Dask worker's address, ``"pid N"`` for a process pool,
    None on the loop or in a thread."""
    queued_duration: float = 0.0
    """Seconds this attempt waited for a concurrency slot or a pool before its body began."""


@dataclass(frozen=True)
class TaskExecutionStatistics:
    """What happened to one task in a run: one per task that started or was skipped.

    ``duration`` is the time the task ran (its attempts, and any delay between
    them); the time it waited for concurrency slots or pools is
    ``queued_duration``, counted from ``start_time`` and not part of ``duration``.
    """

    task_name: str
    stage_id: int
    start_time: float
    end_time: float
    duration: float
    status: str
    error_message: str | None = None
    retry: int = 0
    attempt_count: int = 0
    attempt_statistics: list[TaskAttemptStatistics] = field(default_factory=list)
    exception: BaseException | None = field(default=None, repr=False, compare=False)
    queued_duration: float = 0.0
    worker: str | None = None
    """Where the last attempt ran: a Dask worker's address, ``"pid N"`` for a process
    pool, None on the loop or in a thread."""


@dataclass(frozen=True)
class TaskStageStatistics:
    """Timing of one level of the plan, from its first start to its last end."""

    stage_id: int
    stage_name: str
    start_time: float
    end_time: float
    duration: float
    parallel_task_count: int
    wait_task_count: int
    parallel_tasks: list[str]
    wait_tasks: list[str]


class _Deferred:
    """A stand-in for report fields whose values :meth:`resolve` computes when first read.

    A run with 100,000 tasks would spend more time building its statistics than
    running the tasks; most callers read only the state and the return values.
    One object may stand in for several fields: it is told which one to compute.
    """

    __slots__ = ()

    def resolve(self, name: str) -> Any:
        """The value of the field ``name``."""
        raise NotImplementedError


class _DeferredField:
    """Holds a field's value in the instance; resolves a :class:`_Deferred` one on first read."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            raise AttributeError(self.name)  # no class-level default, as for a plain field
        value = instance.__dict__[self.name]
        if isinstance(value, _Deferred):
            value = value.resolve(self.name)
            instance.__dict__[self.name] = value
        return value

    def __set__(self, instance: object, value: Any) -> None:
        instance.__dict__[self.name] = value


def _deferrable(*names: str) -> Callable[[_C], _C]:
    """Let the dataclass fields ``names`` be given as :class:`_Deferred` values."""

    def install(cls: _C) -> _C:
        for name in names:
            setattr(cls, name, _DeferredField(name))
        return cls

    return install


@_deferrable(
    "total_stages",
    "max_parallelism",
    "stage_statistics",
    "task_statistics",
    "original_tasks",
    "edge_labels",
)
@dataclass(frozen=True, repr=False)
class ReportData:
    """The data of one run's report; :class:`astrum.models.ExecutionReport` adds its views.

    Times are seconds since the epoch; durations are seconds. The statistics are
    computed from the run's records the first time they are read; they are the same
    whenever that happens.
    """

    total_start_time: float
    total_end_time: float
    total_duration: float
    planning_duration: float
    execution_duration: float
    total_tasks: int
    total_stages: int
    max_parallelism: int
    successful_tasks: int
    failed_tasks: int
    stage_statistics: list[TaskStageStatistics]
    task_statistics: list[TaskExecutionStatistics]
    execution_state: str
    error_summary: list[str] = field(default_factory=list)
    original_tasks: dict[str, list[str]] = field(default_factory=dict)
    tail_tasks: dict[str, asyncio.Task[Any]] = field(default_factory=dict)
    task_return_set: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""
    edge_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    """What each data edge carries: ``{task: {upstream task: "'key' → param"}}``."""

    def __repr__(self) -> str:
        # A summary, not every field: the full repr of a 100,000-task report is tens
        # of megabytes, and asyncio.run() (3.11) formats its main task's result.
        return (
            f"{type(self).__name__}(execution_state={str(self.execution_state)!r}, "
            f"total_tasks={self.total_tasks}, successful_tasks={self.successful_tasks}, "
            f"failed_tasks={self.failed_tasks}, total_duration={self.total_duration:.6f}, "
            f"run_id={self.run_id!r})"
        )

    @classmethod
    def _of(cls, values: dict[str, Any]) -> Self:
        """The report whose fields are ``values`` (every field by name; deferred ones allowed).

        The instance the constructor would make, for a tenth of the cost: a frozen
        dataclass's ``__init__`` sets each field through ``object.__setattr__``, 2.5 µs
        for a report, as much as running a small workflow's task or two.
        """
        report = cls.__new__(cls)
        report.__dict__.update(values)
        return report

    def __getstate__(self) -> dict[str, Any]:
        # Pickling and copying see the values, never a deferred computation.
        return {item.name: getattr(self, item.name) for item in fields(self)}

    def get_task_statistics_by_stage(self, stage_id: int) -> list[TaskExecutionStatistics]:
        return [s for s in self.task_statistics if s.stage_id == stage_id]

    def get_longest_task(self) -> TaskExecutionStatistics | None:
        return max(self.task_statistics, key=lambda s: s.duration, default=None)

    def get_average_task_duration(self) -> float:
        return _mean(s.duration for s in self.task_statistics)

    def statistics_for(self, task_id: str) -> TaskExecutionStatistics:
        """The statistics of one task; a ``KeyError`` says whether it did not start or is
        not part of this run at all."""
        for stats in self.task_statistics:
            if stats.task_name == task_id:
                return stats
        if task_id in self.original_tasks:
            raise KeyError(f"Task '{task_id}' has no statistics in this report: it never started.")
        raise KeyError(
            f"Task '{task_id}' is not part of this run{did_you_mean(task_id, self.original_tasks)}"
        )

    def result(self, task_id: str) -> Any:
        """The value task ``task_id`` returned in this run.

        If the task failed, its own exception is raised again (with its
        traceback); if it has no value for another reason (skipped, cancelled,
        not started, not part of the run) a :class:`NoResultError` says why.

        >>> report.result("total")  # doctest: +SKIP
        42
        """
        returns = self.task_return_set
        if task_id in returns:
            return returns[task_id]
        if task_id not in self.original_tasks:
            raise NoResultError(
                f"Task '{task_id}' is not part of this run, so it has no result"
                f"{did_you_mean(task_id, self.original_tasks)}"
            )
        stats = next((s for s in self.task_statistics if s.task_name == task_id), None)
        if stats is None and task_id in self.tail_tasks:
            raise NoResultError(
                f"Task '{task_id}' has no result in the report: it was still running when the "
                f"run ended (ignore_tail_task); await report.tail_tasks['{task_id}'] for it."
            )
        if stats is None:
            raise NoResultError(
                f"Task '{task_id}' has no result: the run ended {self.execution_state} before "
                "it started. See report.error_summary for what went wrong."
            )
        if stats.exception is not None:
            raise stats.exception
        reason = f" {stats.error_message}" if stats.error_message else ""
        raise NoResultError(f"Task '{task_id}' has no result: it was {stats.status}.{reason}")

    def raise_for_failure(self) -> None:
        """Raise if the run did not complete; return None if it did.

        One failed task: its own exception. Several: an ``ExceptionGroup`` of
        them, first failure first. A run cancelled (e.g. by its timeout)
        without failures raises ``TimeoutError``.
        """
        if self.execution_state == ExecutionState.COMPLETED:
            return
        failed = sorted(
            (s for s in self.task_statistics if s.exception is not None),
            key=lambda s: s.end_time,
        )
        errors = [s.exception for s in failed if s.exception is not None]
        if len(errors) == 1:
            raise errors[0]
        if errors:
            names = ", ".join(f"'{s.task_name}'" for s in failed)
            # An ExceptionGroup when every error is an Exception, as it is unless one was fatal.
            message = f"{len(errors)} tasks failed in run {self.run_id}: {names}"
            raise BaseExceptionGroup(message, errors)
        detail = self.error_summary[-1] if self.error_summary else "no task failed"
        raise TimeoutError(f"Run {self.run_id} ended {self.execution_state}: {detail}")


def _mean(values: Iterable[float]) -> float:
    total = count = 0.0
    for value in values:
        total += value
        count += 1
    return total / count if count else 0.0
