"""Class-based workflows: tasks declared in a class body run bound to a configured instance."""

from __future__ import annotations

import pytest

from astrum import AstrumConfig, F, Ref, SchedulerRegistry, TaskRegistrationError

flow = SchedulerRegistry("test_data_methods")


class Report:
    """A module-level class whose methods are tasks of ``flow``."""

    prefix = "report"

    def __init__(self, rows: list[int]) -> None:
        self.rows = rows

    @flow.task()
    async def load(self) -> list[int]:
        return self.rows

    @flow.task()
    def total(self, rows: Ref[list[int], F(load)]) -> int:
        return sum(rows)

    @flow.task()
    @classmethod
    def title(cls) -> str:
        return cls.prefix

    @staticmethod
    @flow.task()
    def render(title: Ref[str, F("title")], total: Ref[int, F("total")]) -> str:
        return f"{title}: {total}"


async def test_methods_run_bound_to_the_configured_instance() -> None:
    """Each run binds the methods to the instance its config names."""
    first = await flow.run(config=AstrumConfig(class_instances=[Report([1, 2])]))
    second = await flow.run(config=AstrumConfig(class_instances=[Report([10])]))
    assert first.task_return_set["render"] == "report: 3"
    assert second.task_return_set["render"] == "report: 10"
    assert first.original_tasks["total"] == ["load"]


def test_a_missing_instance_is_named() -> None:
    """Without an instance of the class, the build says which class to pass."""
    with pytest.raises(TaskRegistrationError) as caught:
        flow.build_scheduler()
    assert (
        "Task 'load' is a method of Report, but AstrumConfig.class_instances holds no "
        "instance of it; pass one: AstrumConfig(class_instances=[Report(...)])."
        in str(caught.value)
    )


def test_two_instances_of_one_class_are_refused() -> None:
    """Two instances of the same class leave the binding ambiguous, which is an error."""
    config = AstrumConfig(class_instances=[Report([1]), Report([2])])
    with pytest.raises(TaskRegistrationError, match="holds 2 instances of it; pass exactly one"):
        flow.build_scheduler(config=config)


async def test_a_class_defined_in_a_function_works(registry: SchedulerRegistry) -> None:
    """Methods of a local class bind to its instance; a subclass instance serves too."""

    class Counter:
        def __init__(self, start: int) -> None:
            self.start = start

        @registry.task()
        async def begin(self) -> int:
            return self.start

        @registry.task()
        async def step(self, value: Ref[int, F("begin")]) -> int:
            return value + 1

    class FastCounter(Counter):
        pass

    report = await registry.run(config=AstrumConfig(class_instances=[FastCounter(41)]))
    assert report.task_return_set["step"] == 42


async def test_only_selected_tasks_need_instances(registry: SchedulerRegistry) -> None:
    """A target selection without method tasks builds without any instance."""

    class Service:
        @registry.task()
        async def ping(self) -> str:
            return "pong"

    @registry.task()
    async def plain() -> int:
        return 1

    report = await registry.run(["plain"])
    assert report.task_return_set == {"plain": 1}
