"""The report's statistics, which are built from the run's records on first read."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import pickle

import pytest

from astrum import (
    AstrumConfig,
    DynamicScheduler,
    ExecutionReport,
    F,
    Ref,
    SchedulerRegistry,
    TaskOrder,
)


async def _failing_report(registry: SchedulerRegistry) -> ExecutionReport:
    @registry.task()
    async def load() -> int:
        return 1

    @registry.task(depends_on=["load"], retry=1)
    async def parse() -> int:
        raise ValueError("bad row")

    @registry.task()
    async def side() -> str:
        return "ok"

    @registry.task(depends_on=["parse"])
    async def publish() -> None:
        return None

    return await registry.run(config=AstrumConfig(on_failure="continue"))


async def test_statistics_describe_every_settled_task(registry: SchedulerRegistry) -> None:
    """Completed, failed (with each attempt) and skipped tasks all have statistics."""
    report = await _failing_report(registry)
    by_name = {stats.task_name: stats for stats in report.task_statistics}
    assert {name: stats.status for name, stats in by_name.items()} == {
        "load": "completed",
        "parse": "failed",
        "side": "completed",
        "publish": "skipped",
    }
    assert [a.status for a in by_name["parse"].attempt_statistics] == ["failed", "failed"]
    assert by_name["parse"].error_message == "bad row"
    assert by_name["publish"].error_message == "Skipped because upstream task 'parse' failed."
    assert (report.successful_tasks, report.failed_tasks) == (2, 1)
    assert [stage.parallel_tasks for stage in report.stage_statistics] == [
        ["load", "side"],
        ["parse"],
        ["publish"],
    ]
    assert report.stage_statistics[1].wait_tasks == ["load"]


async def test_statistics_are_built_once(registry: SchedulerRegistry) -> None:
    """Reading the statistics twice gives the very same objects."""
    report = await _failing_report(registry)
    assert report.task_statistics is report.task_statistics
    assert report.stage_statistics is report.stage_statistics
    assert report.original_tasks is report.original_tasks


async def test_report_stays_frozen(registry: SchedulerRegistry) -> None:
    """Assigning to a report's statistics raises, as for any other field."""
    report = await _failing_report(registry)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.task_statistics = []  # type: ignore[misc]


async def test_report_copies_and_pickles_with_its_statistics(registry: SchedulerRegistry) -> None:
    """Pickled, copied and replaced reports carry the same statistics."""
    report = await _failing_report(registry)
    for other in (
        pickle.loads(pickle.dumps(report)),
        copy.deepcopy(report),
        dataclasses.replace(report, run_id="other"),
    ):
        assert other.task_statistics == report.task_statistics
        assert other.original_tasks == report.original_tasks
    assert dataclasses.asdict(report)["stage_statistics"][0]["parallel_tasks"] == ["load", "side"]


async def test_late_tail_task_stays_out_of_the_report(registry: SchedulerRegistry) -> None:
    """A tail task that finishes after the run returned is not added to its statistics."""
    release = asyncio.Event()

    @registry.task()
    async def main() -> int:
        return 1

    @registry.task()
    async def background() -> str:
        await release.wait()
        return "late"

    report = await registry.run(config=AstrumConfig(ignore_tail_task=["background"]))
    release.set()
    assert await report.tail_tasks["background"] == "late"
    assert [stats.task_name for stats in report.task_statistics] == ["main"]
    assert report.successful_tasks == 1
    assert report.task_return_set == {"main": 1}


def test_a_report_can_still_be_built_by_hand() -> None:
    """ExecutionReport takes plain lists for its statistics, positionally as before."""
    report = ExecutionReport(0.0, 1.0, 1.0, 0.0, 1.0, 0, 0, 0, 0, 0, [], [], "completed")
    assert report.task_statistics == []
    assert report.original_tasks == {}
    assert report == ExecutionReport(0.0, 1.0, 1.0, 0.0, 1.0, 0, 0, 0, 0, 0, [], [], "completed")


async def test_a_run_report_is_the_report_its_constructor_makes() -> None:
    """A run's report holds every field of ExecutionReport and equals one built from them."""
    registry = SchedulerRegistry("report-fields")

    @registry.task()
    async def first() -> int:
        return 1

    @registry.task()
    async def second(x: Ref[int, F("first")]) -> int:
        return x + 1

    report = await registry.run()
    names = [item.name for item in dataclasses.fields(ExecutionReport)]
    assert sorted(vars(report)) == sorted(names)
    again = ExecutionReport(**{name: getattr(report, name) for name in names})
    assert again == report
    assert report.task_return_set == {"first": 1, "second": 2}
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.run_id = "other"  # type: ignore[misc]


async def test_repr_is_a_short_summary() -> None:
    """A report's repr names its state and counts and stays short however many tasks ran."""
    orders = [TaskOrder(f"t{i}") for i in range(2_000)]

    async def noop() -> None:
        return None

    report = await DynamicScheduler([(o.task_name, noop) for o in orders], orders).execute()
    text = repr(report)
    assert text.startswith("ExecutionReport(execution_state='completed', total_tasks=2000, ")
    assert "successful_tasks=2000, failed_tasks=0" in text
    assert len(text) < 300
