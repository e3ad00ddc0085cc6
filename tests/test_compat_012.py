"""Code written for astrum 0.1.2 runs unchanged: each test is written as its users write it."""

from __future__ import annotations

import pytest

from astrum import (
    DynamicScheduler,
    ExecutionPlanner,
    SchedulerRegistry,
    TaskDependencyError,
    TaskDuplicateExecutionError,
    TaskOrder,
)

# -- retries in error_summary --------------------------------------------------------------


def _flaky(registry: SchedulerRegistry, retry: int, failures: int) -> list[int]:
    """Register ``flaky``, which fails its first ``failures`` attempts with ``boom <n>``."""
    calls: list[int] = []

    @registry.task(task_id="flaky", retry=retry)
    async def flaky() -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= failures:
            raise RuntimeError(f"boom {len(calls)}")
        return "ok"

    return calls


async def test_retries_that_run_out_are_listed_in_error_summary(
    registry: SchedulerRegistry,
) -> None:
    """Each retried attempt and the exhaustion get a line, after the failure itself."""
    _flaky(registry, retry=2, failures=3)
    report = await registry.run()
    assert report.execution_state == "failed"
    assert report.error_summary == [
        "Task 'flaky' failed: RuntimeError: boom 3",
        "Task 'flaky' attempt 1/3 failed; retrying with 2 retries left: boom 1",
        "Task 'flaky' attempt 2/3 failed; retrying with 1 retries left: boom 2",
        "Task 'flaky' exhausted 2 retries after 3 attempts: boom 3",
    ]


async def test_a_run_that_recovers_after_a_retry_lists_the_retry(
    registry: SchedulerRegistry,
) -> None:
    """A task that succeeds on its second attempt leaves one retry line in a completed run."""
    calls = _flaky(registry, retry=2, failures=1)
    report = await registry.run()
    assert report.execution_state == "completed"
    assert calls == [1, 2]
    assert report.error_summary == [
        "Task 'flaky' attempt 1/3 failed; retrying with 2 retries left: boom 1"
    ]


async def test_without_retries_nothing_about_exhaustion(registry: SchedulerRegistry) -> None:
    """retry=0: the failure alone, no line about retries."""
    _flaky(registry, retry=0, failures=1)
    report = await registry.run()
    assert report.error_summary == ["Task 'flaky' failed: RuntimeError: boom 1"]


# -- duplicate names ------------------------------------------------------------------------


def test_duplicate_task_orders_are_a_task_dependency_error() -> None:
    """0.1.2 code catches TaskDependencyError for duplicate names in ExecutionPlanner."""
    with pytest.raises(TaskDependencyError, match="'same' appears more than once") as caught:
        ExecutionPlanner([TaskOrder("same"), TaskOrder("same")]).get_execute_timeline()
    assert isinstance(caught.value, TaskDuplicateExecutionError)


def test_duplicate_names_in_a_scheduler_are_a_task_dependency_error() -> None:
    """DynamicScheduler's duplicate ids and duplicate orders are TaskDependencyErrors too."""

    async def same() -> int:
        return 1

    with pytest.raises(TaskDependencyError, match="given two functions"):
        DynamicScheduler(tasks=[("same", same), ("same", same)], task_order=[TaskOrder("same")])
    with pytest.raises(TaskDependencyError, match="appears more than once"):
        DynamicScheduler(tasks=[("same", same)], task_order=[TaskOrder("same"), TaskOrder("same")])
