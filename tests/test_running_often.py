"""Running one workflow many times: run() reuses its plan, concurrent runs share a pool."""

from __future__ import annotations

from typing import Any

import pytest

from astrum import AstrumConfig, F, Ref, SchedulerRegistry, testing
from astrum._registry import SchedulerRegistry as _Registry


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every registry build from here on, one entry each."""
    found: list[object] = []
    real = _Registry._build

    def counted(self: _Registry, *args: Any) -> Any:
        found.append(args)
        return real(self, *args)

    monkeypatch.setattr(_Registry, "_build", counted)
    return found


def _two_tasks(registry: SchedulerRegistry) -> None:
    @registry.task()
    async def load() -> int:
        return 1

    @registry.task()
    async def double(x: Ref[int, F("load")]) -> int:
        return 2 * x


# -- the plan is reused --------------------------------------------------------------


async def test_a_second_run_does_not_rebuild(
    registry: SchedulerRegistry, builds: list[object]
) -> None:
    """Two run() calls on an unchanged registry build once; both return the right values."""
    _two_tasks(registry)
    first = await registry.run()
    second = await registry.run()
    assert len(builds) == 1
    assert first.task_return_set == second.task_return_set == {"load": 1, "double": 2}
    assert first.run_id != second.run_id


async def test_an_equal_config_reuses_the_plan(
    registry: SchedulerRegistry, builds: list[object]
) -> None:
    """A new but equal AstrumConfig, and the module-level defaults, reuse the plan."""
    _two_tasks(registry)
    await registry.run(config=AstrumConfig(concurrency_limit=2, pools={}))
    await registry.run(config=AstrumConfig(concurrency_limit=2, pools={}))
    assert len(builds) == 1


async def test_registering_a_task_invalidates_the_plan(registry: SchedulerRegistry) -> None:
    """A task registered after a run is part of the next run."""
    _two_tasks(registry)
    await registry.run()
    registry.task("late", depends_on=["double"])(lambda: "here")
    report = await registry.run()
    assert report.task_return_set["late"] == "here"


async def test_clearing_invalidates_the_plan(registry: SchedulerRegistry) -> None:
    """After clear() a run has no tasks left to run."""
    _two_tasks(registry)
    await registry.run()
    registry.clear()
    report = await registry.run()
    assert report.task_return_set == {}


async def test_patching_invalidates_the_plan(registry: SchedulerRegistry) -> None:
    """testing.patch takes effect on a registry that ran before, and is undone after."""
    _two_tasks(registry)
    await registry.run()
    with testing.patch(registry, "load", lambda: 20):
        patched = await registry.run()
    restored = await registry.run()
    assert patched.task_return_set["double"] == 40
    assert restored.task_return_set["double"] == 2


async def test_another_target_set_gets_its_own_plan(registry: SchedulerRegistry) -> None:
    """Targets select their own tasks, whichever plan was built first."""
    _two_tasks(registry)
    registry.task("other")(lambda: "o")
    assert set((await registry.run()).task_return_set) == {"load", "double", "other"}
    assert set((await registry.run(["double"])).task_return_set) == {"load", "double"}
    assert set((await registry.run(["other"])).task_return_set) == {"other"}


async def test_a_config_that_changes_the_plan_rebuilds(registry: SchedulerRegistry) -> None:
    """class_instances binds methods to the instance given in this run's config."""

    class Counter:
        def __init__(self, start: int) -> None:
            self.start = start

        def count(self) -> int:
            return self.start

    registry.task("count")(Counter.count)
    first = await registry.run(config=AstrumConfig(class_instances=[Counter(1)]))
    second = await registry.run(config=AstrumConfig(class_instances=[Counter(2)]))
    assert first.task_return_set == {"count": 1}
    assert second.task_return_set == {"count": 2}


async def test_a_failed_build_is_not_kept(registry: SchedulerRegistry) -> None:
    """A build error is raised again on the next run, and fixed by registering the task."""
    registry.task("after", depends_on=["missing"])(lambda: None)
    for _ in range(2):
        with pytest.raises(Exception, match="missing"):
            await registry.run()
    registry.task("missing")(lambda: None)
    assert (await registry.run()).execution_state == "completed"
