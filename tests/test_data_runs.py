"""Values at run time: isolation between runs, transport failures, and random DAGs."""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from typing import Any

from hypothesis import given, settings

from _support import register_data_task
from astrum import AstrumConfig, F, Ref, SchedulerRegistry
from astrum.data_transport import DataItem, DTRela, TaskData
from astrum.testing import patch
from strategies import DataDag, DataRelation, data_dags


def _chain(registry: SchedulerRegistry) -> None:
    @registry.task()
    async def seed() -> int:
        return 0

    @registry.task()
    async def double(value: Ref[int, F("seed")]) -> dict[str, int]:
        await asyncio.sleep(0)  # let the other runs interleave
        return {"value": value * 2}

    @registry.task()
    def label(doubled: Ref[int, F("double", "value")], seed: Ref[int, F("seed")]) -> str:
        return f"{seed}->{doubled}"


async def test_concurrent_runs_never_share_values(registry: SchedulerRegistry) -> None:
    """Many concurrent runs of one scheduler each see only their own upstream values."""
    _chain(registry)
    scheduler = registry.build_scheduler()
    reports = await asyncio.gather(*(scheduler.execute(overrides={"seed": i}) for i in range(40)))
    assert [r.task_return_set["label"] for r in reports] == [f"{i}->{2 * i}" for i in range(40)]


async def test_concurrent_registry_runs_with_run_time_inputs(registry: SchedulerRegistry) -> None:
    """Concurrent registry.run() calls, fed by a from_function reading per-run context, agree."""
    request: contextvars.ContextVar[int] = contextvars.ContextVar("request")

    def current_request() -> int:
        return request.get()

    data = TaskData(
        input_data_item=[
            DataItem(
                from_relation=DTRela(from_function=current_request),
                to_relation=DTRela(key="number"),
            )
        ]
    )

    @registry.task(data=data)
    async def receive(number: int) -> list[int]:
        await asyncio.sleep(0)
        return [number] * 3

    @registry.task()
    async def answer(numbers: Ref[list[int], F("receive")]) -> int:
        return sum(numbers)

    async def one(i: int) -> int:
        request.set(i)
        report = await registry.run()
        result: int = report.task_return_set["answer"]
        return result

    assert await asyncio.gather(*(one(i) for i in range(30))) == [3 * i for i in range(30)]


async def test_runs_twice_in_a_row_with_the_same_result(registry: SchedulerRegistry) -> None:
    """A registry with data relations runs again with the same result, graph and bindings."""
    _chain(registry)
    first = await registry.run()
    second = await registry.run()
    assert first.execution_state == second.execution_state == "completed"
    assert (
        first.task_return_set
        == second.task_return_set
        == {
            "seed": 0,
            "double": {"value": 0},
            "label": "0->0",
        }
    )
    assert first.original_tasks == second.original_tasks
    assert registry.get_task("label").data is None


async def test_missing_key_fails_the_receiving_task(registry: SchedulerRegistry) -> None:
    """A missing key at run time fails the receiver with both task names and the locator."""

    @registry.task()
    async def source() -> dict[str, int]:
        return {"present": 1}

    @registry.task()
    async def sink(value: Ref[int, F("source", "absent")]) -> int:
        return value

    report = await registry.run()
    assert report.execution_state == "failed"
    assert report.error_summary[0].startswith("Task 'sink' failed: TransportError: ")
    message = report.error_summary[0]
    assert "'sink'" in message
    assert "'source'" in message
    assert "'absent'" in message


async def test_index_and_attribute_failures_name_the_locator(registry: SchedulerRegistry) -> None:
    """An index out of range and a missing attribute fail with the locator named."""

    @registry.task()
    async def items() -> list[int]:
        return [1]

    @registry.task()
    async def thing() -> Any:  # unknown to the build-time check, so the run finds out
        return object()

    @registry.task()
    async def by_index(value: Ref[int, F("items", 3)]) -> int:
        return value

    @registry.task()
    async def by_attribute(value: Ref[int, F("thing", "size")]) -> int:
        return value

    report = await registry.run(config=AstrumConfig(on_failure="continue"))
    errors = {s.task_name: s.error_message for s in report.task_statistics if s.error_message}
    assert "index 3" in (errors["by_index"] or "")
    assert "'items'" in (errors["by_index"] or "")
    assert "'size'" in (errors["by_attribute"] or "")
    assert "'thing'" in (errors["by_attribute"] or "")


async def test_patched_tasks_keep_their_data_relations(registry: SchedulerRegistry) -> None:
    """A fake from astrum.testing.patch is fed, and feeds, like the task it replaces."""

    @registry.task()
    async def fetch() -> dict[str, int]:
        return {"n": 1}

    @registry.task()
    async def use(n: Ref[int, F(fetch, "n")]) -> int:
        return n

    with patch(registry, "fetch", lambda: {"n": 5}):
        assert (await registry.run()).task_return_set["use"] == 5
    with patch(registry, "use", lambda n: n * 100):
        assert (await registry.run()).task_return_set["use"] == 100
    assert (await registry.run()).task_return_set["use"] == 1


def _expected(relation: DataRelation, source: Any) -> Any:
    if relation.locator is None:
        return source
    if relation.locator == "name":
        return f"t{relation.source}"
    return ("item", relation.source, relation.locator)


def _received(result: Any) -> dict[str, Any]:
    received: dict[str, Any] = result["received"] if isinstance(result, dict) else result.received
    return received


@settings(max_examples=40, deadline=None)
@given(dag=data_dags())
def test_random_dags_deliver_exactly_the_upstream_values(dag: DataDag) -> None:
    """In random DAGs every parameter receives exactly the located upstream value, by reference."""
    registry = SchedulerRegistry(f"random-{uuid.uuid4().hex}")
    for task in range(dag.size):
        register_data_task(registry, dag, task)
    report = asyncio.run(registry.run())
    assert report.execution_state == "completed"
    results = report.task_return_set
    for task in range(dag.size):
        params = {r.param for r in dag.relations if r.receiver == task}
        assert set(_received(results[f"t{task}"])) == params
    for r in dag.relations:
        got = _received(results[f"t{r.receiver}"])[r.param]
        want = _expected(r, results[f"t{r.source}"])
        if r.locator is None:
            assert got is want
        else:
            assert got == want
        assert f"t{r.source}" in report.original_tasks[f"t{r.receiver}"]
