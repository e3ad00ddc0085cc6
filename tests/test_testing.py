"""Test doubles: run-time overrides and astrum.testing.patch."""

from __future__ import annotations

import asyncio

import pytest

from astrum import DynamicScheduler, SchedulerRegistry, TaskNotFoundError, TaskOrder, run, task
from astrum.testing import patch


def _pipeline(registry: SchedulerRegistry, calls: list[str]) -> None:
    @registry.task()
    async def connect() -> str:
        calls.append("connect")
        return "conn"

    @registry.task(depends_on=["connect"])
    async def fetch_user() -> dict[str, str]:
        calls.append("fetch_user")
        return {"name": "Real"}

    @registry.task()
    async def load_config() -> str:
        calls.append("load_config")
        return "cfg"

    @registry.task(depends_on=["fetch_user", "load_config"])
    async def greet() -> str:
        calls.append("greet")
        return "hello"


async def test_override_replaces_a_task_and_skips_what_only_it_needed(
    registry: SchedulerRegistry,
) -> None:
    """An overridden task is not called, nor is an upstream task only it needed."""
    calls: list[str] = []
    _pipeline(registry, calls)
    report = await registry.run(overrides={"fetch_user": {"name": "Alice"}})
    assert report.execution_state == "completed"
    assert sorted(calls) == ["greet", "load_config"]
    assert report.task_return_set["fetch_user"] == {"name": "Alice"}
    assert "connect" not in report.task_return_set
    stats = report.statistics_for("fetch_user")
    assert (stats.status, stats.attempt_count) == ("completed", 0)


async def test_overrides_do_not_leak_between_concurrent_runs(registry: SchedulerRegistry) -> None:
    """Concurrent runs with different overrides each see only their own."""
    calls: list[str] = []
    _pipeline(registry, calls)
    reports = await asyncio.gather(
        *(registry.run(overrides={"fetch_user": {"name": str(i)}}) for i in range(20)),
        registry.run(),
    )
    for i, report in enumerate(reports[:-1]):
        assert report.task_return_set["fetch_user"] == {"name": str(i)}
    assert reports[-1].task_return_set["fetch_user"] == {"name": "Real"}


async def test_override_of_unknown_task_is_an_error(registry: SchedulerRegistry) -> None:
    """Overriding a task that does not exist names it."""
    _pipeline(registry, [])
    with pytest.raises(TaskNotFoundError, match="overrides names 'nope'"):
        await registry.run(overrides={"nope": 1})


async def test_module_level_run_and_scheduler_take_overrides() -> None:
    """run(overrides=...) and DynamicScheduler.execute(overrides=...) behave alike."""

    @task
    async def source() -> int:
        raise AssertionError("must not run")

    report = await run(overrides={"source": 7})
    assert report.task_return_set == {"source": 7}

    async def never() -> int:
        raise AssertionError("must not run")

    scheduler = DynamicScheduler([("a", never)], [TaskOrder("a")])
    assert (await scheduler.execute(overrides={"a": 1})).task_return_set == {"a": 1}


@pytest.mark.parametrize("asynchronous", [True, False])
async def test_patch_swaps_the_function_and_restores_it(
    registry: SchedulerRegistry, *, asynchronous: bool
) -> None:
    """patch() runs the fake (sync or async) inside the block and the real task after."""
    calls: list[str] = []
    _pipeline(registry, calls)
    original = registry.get_task("fetch_user")

    async def async_fake() -> dict[str, str]:
        return {"name": "Fake"}

    def sync_fake() -> dict[str, str]:
        return {"name": "Fake"}

    with patch(registry, "fetch_user", async_fake if asynchronous else sync_fake):
        report = await registry.run()
    assert report.task_return_set["fetch_user"] == {"name": "Fake"}
    assert registry.get_task("fetch_user") == original
    assert (await registry.run()).task_return_set["fetch_user"] == {"name": "Real"}


async def test_patch_restores_on_error_and_accepts_a_namespace() -> None:
    """patch() by namespace name restores the task even when the block raises."""

    @task(namespace="patch-ns")
    async def compute() -> int:
        return 1

    with pytest.raises(RuntimeError), patch("patch-ns", "compute", lambda: 2):
        raise RuntimeError
    assert (await run(namespace="patch-ns")).task_return_set == {"compute": 1}


async def test_patch_leaves_other_registries_alone(registry: SchedulerRegistry) -> None:
    """A concurrent run of another registry keeps the real function."""
    other = SchedulerRegistry("other")
    for target in (registry, other):

        @target.task("value")
        async def value() -> str:
            await asyncio.sleep(0)
            return "real"

    with patch(registry, "value", lambda: "fake"):
        mine, theirs = await asyncio.gather(registry.run(), other.run())
    assert mine.task_return_set == {"value": "fake"}
    assert theirs.task_return_set == {"value": "real"}


def test_patch_checks_the_fake(registry: SchedulerRegistry) -> None:
    """A fake missing the task's parameters, or not callable, is refused."""

    @registry.task()
    def scale(factor: int = 2) -> int:
        return factor

    with pytest.raises(ValueError, match="lacks parameter"), patch(registry, "scale", lambda: 1):
        pass
    with pytest.raises(TypeError, match="needs a function"), patch(registry, "scale", 3):  # type: ignore[arg-type]
        pass
    with pytest.raises(ValueError, match="not registered"), patch(registry, "nope", lambda: 1):
        pass
