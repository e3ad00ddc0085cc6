"""Small workflows and hand-made reports shared by the tests of the views."""

from __future__ import annotations

import sys

import pytest

from astrum import (
    DynamicScheduler,
    ExecutionReport,
    TaskAttemptStatistics,
    TaskExecutionStatistics,
    TaskOrder,
)
from astrum._build._plan import Binding
from strategies import Dag

__all__ = [
    "ORIGIN",
    "chain_scheduler",
    "completed_report",
    "diamond_scheduler",
    "failed_report",
    "hide_rich",
    "scheduler_of",
    "stats",
]

ORIGIN = 1_700_000_000.0
"""The epoch time at which the hand-made runs start."""


async def load() -> dict[str, list[int]]:
    return {"rows": [1, 2, 3]}


async def users() -> list[str]:
    return ["ada", "grace"]


async def clean(rows: list[int], names: list[str]) -> int:
    return len(rows) + len(names)


async def score(first: str, token: str) -> float:
    return float(len(first + token))


async def report() -> str:
    return "done"


def get_token() -> str:
    return "secret"


def diamond_scheduler() -> DynamicScheduler:
    """load, users -> clean; users -> score -> report <- clean; with data bindings."""
    o_load, o_users = TaskOrder("load"), TaskOrder("users")
    o_clean = TaskOrder("clean", [o_load, o_users])
    o_score = TaskOrder("score", [o_users])
    o_report = TaskOrder("report", [o_clean, o_score])
    return DynamicScheduler(
        [("load", load), ("users", users), ("clean", clean), ("score", score), ("report", report)],
        [o_load, o_users, o_clean, o_score, o_report],
        bindings={
            "clean": [
                Binding("rows", source_id="load", locator="rows"),
                Binding("names", source_id="users"),
            ],
            "score": [
                Binding("first", source_id="users", locator=0),
                Binding("token", provider=get_token),
            ],
        },
    )


def hide_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every ``import rich...`` fail, as when the viz extra is not installed."""
    for name in [name for name in sys.modules if name == "rich" or name.startswith("rich.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "rich", None)


async def noop() -> None:
    return None


def scheduler_of(dag: Dag) -> DynamicScheduler:
    """A scheduler running ``noop`` for every task of ``dag``."""
    orders = {task_id: TaskOrder(task_id) for task_id in dag.ids}
    for task_id, deps in zip(dag.ids, dag.deps, strict=True):
        orders[task_id].dependencies = [orders[dep] for dep in deps]
    return DynamicScheduler([(task_id, noop) for task_id in dag.ids], list(orders.values()))


def chain_scheduler(length: int) -> DynamicScheduler:
    """c0 -> c1 -> ... -> c{length-1}."""
    ids = tuple(f"c{n}" for n in range(length))
    return scheduler_of(Dag(ids, tuple((ids[n - 1],) if n else () for n in range(length))))


def stats(
    name: str,
    start: float,
    end: float,
    status: str = "completed",
    *,
    failed_attempts: tuple[tuple[float, float, str], ...] = (),
    error: str | None = None,
    level: int = 0,
) -> TaskExecutionStatistics:
    """Statistics of one task; times are seconds after :data:`ORIGIN`.

    ``failed_attempts`` are ``(start, end, error)`` of attempts before the last one.
    """
    attempts = [
        TaskAttemptStatistics(
            name, n, 2, ORIGIN + s, ORIGIN + e, e - s, "failed", message, will_retry=True
        )
        for n, (s, e, message) in enumerate(failed_attempts, 1)
    ]
    if status != "skipped":
        began = failed_attempts[-1][1] if failed_attempts else start
        attempts.append(
            TaskAttemptStatistics(
                name, len(attempts) + 1, 2, ORIGIN + began, ORIGIN + end, end - began, status, error
            )
        )
    return TaskExecutionStatistics(
        task_name=name,
        stage_id=level,
        start_time=ORIGIN + start,
        end_time=ORIGIN + end,
        duration=end - start,
        status=status,
        error_message=error,
        retry=2 if failed_attempts else 0,
        attempt_count=len(attempts),
        attempt_statistics=attempts,
    )


_DEPENDENCIES = {
    "load": [],
    "users": [],
    "clean": ["load", "users"],
    "score": ["users"],
    "report": ["clean", "score"],
}


def _report(
    state: str, tasks: list[TaskExecutionStatistics], errors: list[str], end: float
) -> ExecutionReport:
    return ExecutionReport(
        total_start_time=ORIGIN,
        total_end_time=ORIGIN + end,
        total_duration=end,
        planning_duration=0.0,
        execution_duration=end,
        total_tasks=5,
        total_stages=3,
        max_parallelism=2,
        successful_tasks=sum(t.status == "completed" for t in tasks),
        failed_tasks=sum(t.status == "failed" for t in tasks),
        stage_statistics=[],
        task_statistics=tasks,
        execution_state=state,
        error_summary=errors,
        original_tasks=_DEPENDENCIES,
        run_id="0123456789abcdef",
    )


def completed_report() -> ExecutionReport:
    """The diamond completed in 0.55 s; score needed a second attempt."""
    tasks = [
        stats("load", 0.0, 0.2),
        stats("users", 0.0, 0.1),
        stats("score", 0.1, 0.25, failed_attempts=((0.1, 0.15, "flaky"),), level=1),
        stats("clean", 0.2, 0.5, level=1),
        stats("report", 0.5, 0.55, level=2),
    ]
    return _report("completed", tasks, [], 0.55)


def failed_report() -> ExecutionReport:
    """The diamond failed: clean raised, score was cancelled, report never started."""
    tasks = [
        stats("load", 0.0, 0.2),
        stats("users", 0.0, 0.1),
        stats("score", 0.1, 0.3, "cancelled", level=1),
        stats("clean", 0.2, 0.3, "failed", error="bad rows", level=1),
    ]
    return _report("failed", tasks, ["Task 'clean' failed: ValueError: bad rows"], 0.3)
