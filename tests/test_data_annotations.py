"""Data transport declared with annotations: Ref[T, F(...)] on parameters, T(...) on returns.

This module deliberately has no ``from __future__ import annotations``, so
the annotations are real objects here; test_data_forward_refs.py covers
string annotations.
"""

import asyncio
from dataclasses import dataclass
from typing import Any

import pydantic
import pytest

from astrum import (
    AstrumConfig,
    F,
    From,
    Ref,
    SchedulerRegistry,
    T,
    TaskRegistrationError,
    To,
)


@dataclass
class Page:
    title: str
    words: int


class User(pydantic.BaseModel):
    name: str
    age: int


async def test_key_attribute_index_and_whole_value(registry: SchedulerRegistry) -> None:
    """A key of a dict, an attribute, an index and the whole value each reach their parameter."""

    @registry.task()
    async def config() -> dict[str, int]:
        return {"limit": 3}

    @registry.task()
    async def page() -> Page:
        return Page("Astrum", 120)

    @registry.task()
    async def ids() -> list[int]:
        return [7, 8, 9]

    @registry.task()
    async def summary(
        limit: Ref[int, F("config", "limit")],
        title: Ref[str, F("page", "title")],
        second: Ref[int, F("ids", 1)],
        last: Ref[int, F("ids", -1)],
        whole: Ref[Page, F("page")],
    ) -> tuple[Any, ...]:
        return (limit, title, second, last, whole.words)

    report = await registry.run()
    assert report.execution_state == "completed"
    assert report.task_return_set["summary"] == (3, "Astrum", 8, 9, 120)


async def test_pydantic_model_attribute(registry: SchedulerRegistry) -> None:
    """A str locator reads a field of a pydantic model."""

    @registry.task()
    async def load_user() -> User:
        return User(name="Ada", age=36)

    @registry.task()
    async def greet(name: Ref[str, F("load_user", "name")]) -> str:
        return f"hi {name}"

    assert (await registry.run()).task_return_set["greet"] == "hi Ada"


async def test_whole_value_is_passed_by_reference(registry: SchedulerRegistry) -> None:
    """The downstream task receives the very object the upstream task returned, not a copy."""

    @registry.task()
    async def produce() -> list[int]:
        return [1, 2]

    @registry.task()
    async def consume(items: Ref[list[int], F("produce")]) -> list[int]:
        return items

    results = (await registry.run()).task_return_set
    assert results["consume"] is results["produce"]


async def test_function_object_names_the_task(registry: SchedulerRegistry) -> None:
    """F(function) refers to the task registered with that function, whatever its id."""

    @registry.task("numbers")
    async def make_numbers() -> list[int]:
        return [4, 5]

    @registry.task()
    async def total(values: Ref[list[int], From(make_numbers)]) -> int:
        return sum(values)

    report = await registry.run()
    assert report.task_return_set["total"] == 9
    assert report.original_tasks["total"] == ["numbers"]


def test_function_registered_twice_is_ambiguous(registry: SchedulerRegistry) -> None:
    """F(function) with the function registered under two ids asks for the string id."""

    async def fetch() -> int:
        return 1

    registry.task("fetch_a")(fetch)
    registry.task("fetch_b")(fetch)

    @registry.task()
    async def use(value: Ref[int, F(fetch)]) -> int:
        return value

    with pytest.raises(TaskRegistrationError, match=r"F\('fetch_a'\) or F\('fetch_b'\)"):
        registry.build_scheduler()


async def test_many_parameters_positional_and_keyword_sync_and_async(
    registry: SchedulerRegistry,
) -> None:
    """Positional-only, ordinary and keyword-only parameters of sync and async tasks are fed."""

    @registry.task()
    def left() -> int:
        return 1

    @registry.task()
    async def right() -> int:
        return 2

    @registry.task()
    def combine(
        a: Ref[int, F("left")],
        b: Ref[int, F("right")],
        /,
        c: Ref[int, F("left")],
        *,
        d: Ref[int, F("right")],
        e: int = 10,
    ) -> list[int]:
        return [a, b, c, d, e]

    @registry.task()
    async def finish(values: Ref[list[int], F("combine")], first: Ref[int, F("left")]) -> int:
        return sum(values) + first

    report = await registry.run()
    assert report.task_return_set["combine"] == [1, 2, 1, 2, 10]
    assert report.task_return_set["finish"] == 17


async def test_return_side_sends_part_of_the_result(registry: SchedulerRegistry) -> None:
    """T(target, local, param) sends result[local] to param; T(target) sends all to the first."""

    @registry.task()
    async def split() -> Ref[dict[str, int], T("double", "x", "value"), T("echo")]:
        return {"x": 21, "y": 1}

    @registry.task()
    async def double(value: int) -> int:
        return value * 2

    @registry.task()
    def echo(payload: dict[str, int], other: int = 0) -> dict[str, int]:
        return payload

    @registry.task()
    async def second() -> Ref[tuple[int, int], To("pick", 1, 1)]:
        return (5, 6)

    @registry.task()
    async def pick(unused: int = 0, chosen: int = -1) -> int:
        return chosen

    report = await registry.run()
    assert report.task_return_set["double"] == 42
    assert report.task_return_set["echo"] is report.task_return_set["split"]
    assert report.task_return_set["pick"] == 6
    assert report.original_tasks["double"] == ["split"]


async def test_relation_implies_dependency_and_target_selection(
    registry: SchedulerRegistry,
) -> None:
    """A data relation orders the tasks and pulls the source into a target selection."""
    order: list[str] = []

    @registry.task()
    async def slow_source() -> int:
        await asyncio.sleep(0.01)
        order.append("slow_source")
        return 1

    @registry.task()
    async def sink(value: Ref[int, F("slow_source")]) -> int:
        order.append("sink")
        return value

    @registry.task()
    async def unrelated() -> None:
        order.append("unrelated")

    report = await registry.run(["sink"])
    assert order == ["slow_source", "sink"]
    assert set(report.task_return_set) == {"slow_source", "sink"}


def test_without_auto_sync_a_missing_depends_on_is_named(registry: SchedulerRegistry) -> None:
    """auto_sync_dependencies=False makes a relation without depends_on a build error."""

    @registry.task()
    async def source() -> int:
        return 1

    @registry.task()
    async def sink(value: Ref[int, F("source")]) -> int:
        return value

    config = AstrumConfig(auto_sync_dependencies=False)
    with pytest.raises(TaskRegistrationError, match=r"add depends_on=\['source'\] to task 'sink'"):
        registry.build_scheduler(config=config)
    # Targeting the sink leaves the source out of the selection: the same error, not a crash.
    with pytest.raises(TaskRegistrationError, match=r"add depends_on=\['source'\] to task 'sink'"):
        registry.build_scheduler(["sink"], config=config)


def test_without_auto_sync_a_result_sent_to_a_target_is_named(
    registry: SchedulerRegistry,
) -> None:
    """A T(...) relation into a targeted task whose sender is not upstream is a build error."""

    @registry.task()
    def sender() -> Ref[int, T("receiver", None, "value")]:
        return 1

    @registry.task()
    def receiver(value: int) -> int:
        return value

    config = AstrumConfig(auto_sync_dependencies=False)
    with pytest.raises(TaskRegistrationError, match=r"add depends_on=\['sender'\]"):
        registry.build_scheduler(["receiver"], config=config)


async def test_without_auto_sync_declared_dependencies_run(registry: SchedulerRegistry) -> None:
    """With auto_sync_dependencies off, a relation whose source is upstream via depends_on runs."""

    @registry.task()
    async def source() -> int:
        return 1

    @registry.task(depends_on=["source"])
    async def middle() -> None:
        return None

    @registry.task(depends_on=["middle"])
    async def sink(value: Ref[int, F("source")]) -> int:
        return value + 1

    report = await registry.run(config=AstrumConfig(auto_sync_dependencies=False))
    assert report.task_return_set["sink"] == 2
    assert report.original_tasks["sink"] == ["middle"]


def test_structural_mistakes_are_reported_together(registry: SchedulerRegistry) -> None:
    """Unknown tasks, misplaced markers and bad locators all appear in one error, one per line."""

    @registry.task()
    async def source() -> dict[str, int]:
        return {}

    @registry.task()
    async def broken(
        a: Ref[int, F("nowhere")],
        b: Ref[int, T("source")],
        c: Ref[int, F("source", 1.5)],
        d: Ref[int, F("source"), F("source")],
    ) -> Ref[int, F("source"), T("missing_target")]:
        return 0

    with pytest.raises(TaskRegistrationError) as caught:
        registry.build_task_orders()
    lines = str(caught.value).splitlines()
    assert lines[0] == "The workflow's data relations have 6 problems:"
    assert "parameter 'a' names task 'nowhere' in F(...), but no task has that id" in lines[1]
    assert "parameter 'b' is annotated with T(...), which belongs on the return" in lines[2]
    assert "F(...) locator must be a str (a key or attribute), an int" in lines[3]
    assert "parameter 'd' has 2 F(...) markers" in lines[4]
    assert "return annotation has F(...), which belongs on parameters" in lines[5]
    assert "names task 'missing_target' in T(...)" in lines[6]


def test_unknown_function_object_and_self_reference(registry: SchedulerRegistry) -> None:
    """F(unregistered function) and a task naming itself are build errors."""

    async def helper() -> int:
        return 1

    @registry.task()
    async def loop(value: Ref[int, F("loop")], other: Ref[int, F(helper)]) -> int:
        return value

    with pytest.raises(TaskRegistrationError) as caught:
        registry.build_scheduler()
    assert "names its own task" in str(caught.value)
    assert "names function" in str(caught.value)
    assert "which is not a registered task" in str(caught.value)


async def test_plain_annotated_metadata_is_not_a_relation(registry: SchedulerRegistry) -> None:
    """Annotated metadata other than F/T (a pydantic constraint) leaves the parameter alone."""

    @registry.task()
    async def alone(value: Ref[int, pydantic.Field(gt=0)] = 5) -> int:
        return value

    assert (await registry.run()).task_return_set["alone"] == 5
