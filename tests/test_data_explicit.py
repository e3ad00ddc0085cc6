"""Data transport declared explicitly with TaskData, DataItem and DTRela."""

from __future__ import annotations

import asyncio
import copy
import io
import logging

import pytest

from astrum import (
    AstrumConfig,
    DynamicScheduler,
    F,
    Ref,
    SchedulerRegistry,
    TaskDependencyError,
    TaskOrder,
    TaskRegistrationError,
)
from astrum.data_transport import DataItem, DTRela, TaskData, visualize_data_transport


def _input(
    source: str, param: str, *, key: str | None = None, index: int | None = None
) -> DataItem:
    whole = key is None and index is None
    return DataItem(
        from_relation=DTRela(key=key, index=index, single_item=whole, related_task=source),
        to_relation=DTRela(key=param),
    )


def _sources_a_and_b(registry: SchedulerRegistry) -> None:
    """Two source tasks: ``a`` returns 1 and ``b`` returns 2."""

    @registry.task()
    async def a() -> int:
        return 1

    @registry.task()
    async def b() -> int:
        return 2


async def test_input_items_feed_keys_indexes_and_whole_values(
    registry: SchedulerRegistry,
) -> None:
    """Input items read a key, an index or the whole value into the named parameter."""

    @registry.task()
    async def source() -> dict[str, list[int]]:
        return {"values": [3, 4]}

    @registry.task()
    async def values() -> list[int]:
        return [10, 20]

    data = TaskData(
        task_id="sink",
        input_data_item=[
            _input("source", "found", key="values"),
            _input("values", "second", index=1),
            _input("source", "everything"),
        ],
        from_tasks=["source", "values"],
    )

    @registry.task(data=data)
    def sink(found: list[int], second: int, everything: dict[str, list[int]]) -> int:
        return sum(found) + second + len(everything)

    report = await registry.run()
    assert report.task_return_set["sink"] == 28
    assert report.original_tasks["sink"] == ["source", "values"]


async def test_to_relation_index_and_none_feed_positions(registry: SchedulerRegistry) -> None:
    """A to_relation index feeds that positional parameter; no to_relation feeds the first."""

    @registry.task()
    async def word() -> str:
        return "tick"

    @registry.task()
    async def count() -> int:
        return 3

    data = TaskData(
        input_data_item=[
            DataItem(from_relation=DTRela(related_task="count"), to_relation=DTRela(index=1)),
            DataItem(from_relation=DTRela(related_task="word")),
        ]
    )

    @registry.task(data=data)
    def repeat(text: str, times: int, /) -> str:
        return " ".join([text] * times)

    assert (await registry.run()).task_return_set["repeat"] == "tick tick tick"


async def test_output_items_send_to_downstream_parameters(registry: SchedulerRegistry) -> None:
    """An output item sends part of the result to another task's parameter and orders them."""
    data = TaskData(
        output_data_item=[
            DataItem(
                from_relation=DTRela(key="total", related_task="tally"),
                to_relation=DTRela(key="amount", related_task="publish"),
            )
        ],
        to_tasks=["publish"],
    )

    @registry.task(data=data)
    async def tally() -> dict[str, int]:
        return {"total": 99}

    @registry.task()
    async def publish(amount: int) -> str:
        return f"total={amount}"

    report = await registry.run()
    assert report.task_return_set["publish"] == "total=99"
    assert report.original_tasks["publish"] == ["tally"]


async def test_from_function_is_called_at_run_time_each_run(registry: SchedulerRegistry) -> None:
    """A sync or async from_function supplies a fresh value in every run."""
    calls: list[str] = []

    def current_user() -> str:
        calls.append("sync")
        return f"user{len(calls)}"

    async def current_limit() -> int:
        calls.append("async")
        await asyncio.sleep(0)
        return 5

    data = TaskData(
        input_data_item=[
            DataItem(
                from_relation=DTRela(from_function=current_user),
                to_relation=DTRela(key="who"),
            ),
            DataItem(
                from_relation=DTRela(from_function=current_limit), to_relation=DTRela(key="limit")
            ),
        ]
    )

    @registry.task(data=data)
    async def describe(who: str, limit: int) -> str:
        return f"{who}:{limit}"

    scheduler = registry.build_scheduler()
    assert calls == []
    first = await scheduler.execute()
    second = await scheduler.execute()
    assert first.task_return_set["describe"] == "user1:5"
    assert second.task_return_set["describe"] == "user3:5"
    assert first.original_tasks == {"describe": []}


async def test_explicit_data_merges_with_annotations(registry: SchedulerRegistry) -> None:
    """A task with both TaskData and Ref annotations gets the parameters of both."""

    _sources_a_and_b(registry)

    data = TaskData(input_data_item=[_input("b", "right")])

    @registry.task(data=data)
    async def add(left: Ref[int, F("a")], right: int) -> int:
        return left * 10 + right

    report = await registry.run()
    assert report.task_return_set["add"] == 12
    assert sorted(report.original_tasks["add"]) == ["a", "b"]


def test_conflicting_explicit_and_annotated_relations(registry: SchedulerRegistry) -> None:
    """One parameter fed by an annotation and by a different explicit relation is an error."""

    _sources_a_and_b(registry)

    @registry.task(data=TaskData(input_data_item=[_input("b", "value")]))
    async def use(value: Ref[int, F("a")]) -> int:
        return value

    with pytest.raises(TaskRegistrationError, match=r"'value' is fed twice, by task 'b' and by"):
        registry.build_scheduler()


async def test_identical_explicit_and_annotated_relations_are_one(
    registry: SchedulerRegistry,
) -> None:
    """The same relation declared both ways is used once."""

    @registry.task()
    async def a() -> int:
        return 1

    @registry.task(data=TaskData(input_data_item=[_input("a", "value")]))
    async def use(value: Ref[int, F("a")]) -> int:
        return value

    assert (await registry.run()).task_return_set["use"] == 1


async def test_building_never_changes_the_users_task_data(registry: SchedulerRegistry) -> None:
    """Building and running leave the registered TaskData exactly as the user wrote it."""

    @registry.task()
    async def a() -> dict[str, int]:
        return {"k": 1}

    data = TaskData(input_data_item=[_input("a", "value", key="k")])
    before = copy.deepcopy(data)

    @registry.task(data=data)
    async def use(value: int) -> int:
        return value

    await registry.run()
    await registry.run()
    assert data == before
    assert data.from_tasks == []
    assert registry.get_task("use").data is data


def test_strict_topology_requires_declared_tasks(registry: SchedulerRegistry) -> None:
    """strict_topology makes an item whose task is missing from from_tasks/to_tasks an error."""

    @registry.task()
    async def a() -> int:
        return 1

    out = DataItem(
        from_relation=DTRela(related_task="b"), to_relation=DTRela(key="x", related_task="c")
    )

    @registry.task(data=TaskData(input_data_item=[_input("a", "value")], output_data_item=[out]))
    async def b(value: int) -> int:
        return value

    @registry.task()
    async def c(x: int) -> int:
        return x

    registry.build_scheduler()  # undeclared tasks are declared automatically by default
    with pytest.raises(TaskRegistrationError) as caught:
        registry.build_scheduler(config=AstrumConfig(strict_topology=True))
    message = str(caught.value)
    assert "takes data from task 'a', which its from_tasks does not list" in message
    assert "sends data to task 'c', which its to_tasks does not list" in message
    assert "turn strict_topology off" in message


def test_items_without_direction(
    registry: SchedulerRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """An item with no source is ignored with a warning, or an error without allow_no_dir."""

    @registry.task(data=TaskData(input_data_item=[DataItem(to_relation=DTRela(key="x"))]))
    async def lonely(x: int = 1) -> int:
        return x

    with caplog.at_level(logging.WARNING, logger="astrum"):
        registry.build_scheduler()
    assert "input_data_item[0] has no source" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="astrum"):
        registry.build_scheduler(config=AstrumConfig(silence_warnings=True))
    assert caplog.text == ""

    with pytest.raises(TaskRegistrationError, match=r"has no source: give its from_relation"):
        registry.build_scheduler(config=AstrumConfig(allow_no_dir_definition=False))


def test_explicit_data_mistakes(registry: SchedulerRegistry) -> None:
    """A wrong task_id, an unknown related task and unknown from_tasks are named together."""

    @registry.task(
        data=TaskData(
            task_id="other",
            input_data_item=[_input("ghost", "x")],
            from_tasks=["phantom"],
        )
    )
    async def real(x: int) -> int:
        return x

    with pytest.raises(TaskRegistrationError) as caught:
        registry.build_scheduler()
    message = str(caught.value)
    assert "was given TaskData(task_id='other'); use task_id='real'" in message
    assert "takes data from task 'ghost', but no task has that id" in message
    assert "lists 'phantom' in its TaskData from_tasks" in message


def test_records_reject_contradictions() -> None:
    """DTRela rejects a key with an index, locators with single_item, and bad types."""
    with pytest.raises(ValueError, match="a key or an index, not both"):
        DTRela(key="a", index=1, related_task="t")
    with pytest.raises(ValueError, match="single_item=True"):
        DTRela(key="a", single_item=True, related_task="t")
    with pytest.raises(TypeError, match="index must be an int"):
        DTRela(index=True, related_task="t")
    with pytest.raises(TypeError, match="from_function must be a callable"):
        DTRela(from_function=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a DTRela"):
        DataItem(from_relation="a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="write \\[item\\]"):
        TaskData(input_data_item=DataItem())  # type: ignore[arg-type]


async def test_manual_scheduler_uses_task_data_refs() -> None:
    """A hand-built DAG passes values through task_data_refs."""

    async def load() -> dict[str, int]:
        return {"n": 4}

    def square(n: int) -> int:
        return n * n

    load_order = TaskOrder("load")
    data = {"square": TaskData(input_data_item=[_input("load", "n", key="n")])}
    scheduler = DynamicScheduler(
        [("load", load), ("square", square)],
        [load_order, TaskOrder("square", [load_order])],
        data,
    )
    assert (await scheduler.execute()).task_return_set["square"] == 16


def test_manual_scheduler_needs_the_dependency() -> None:
    """task_data_refs from a task that is not upstream says which dependency to add."""

    async def load() -> int:
        return 1

    async def use(n: int) -> int:
        return n

    data = {"use": TaskData(input_data_item=[_input("load", "n")])}
    with pytest.raises(TaskDependencyError, match=r"add TaskOrder\('load'\) to its dependencies"):
        DynamicScheduler(
            [("load", load), ("use", use)], [TaskOrder("load"), TaskOrder("use")], data
        )


def test_visualize_lists_every_relation(registry: SchedulerRegistry) -> None:
    """visualize_data_transport prints one line per relation and the tasks without any."""

    def now() -> int:
        return 0

    data = {
        "rank": TaskData(
            input_data_item=[
                _input("search", "hits", key="hits"),
                DataItem(from_relation=DTRela(from_function=now), to_relation=DTRela(key="t")),
            ]
        )
    }
    out = io.StringIO()
    orders = [TaskOrder("search"), TaskOrder("rank"), TaskOrder("log")]
    visualize_data_transport(data, orders, file=out)
    assert out.getvalue() == (
        "Data transport: 2 relations\n"
        "  search['hits'] -> rank(hits)\n"
        "  now() -> rank(t)\n"
        "  (no data relations: log)\n"
    )
