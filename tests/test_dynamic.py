"""Dynamic workflows: Each fans a task out per element, generators stream, Skip skips."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from astrum import (
    AstrumConfig,
    DynamicScheduler,
    Each,
    ExecutionReport,
    F,
    Input,
    MemoryStore,
    Ref,
    SchedulerRegistry,
    Skip,
    TaskOrder,
    TaskRegistrationError,
)
from astrum.data_transport import DataItem, DTRela, TaskData
from strategies import MapChain, map_chains


def statuses(report: ExecutionReport) -> dict[str, str]:
    return {s.task_name: str(s.status) for s in report.task_statistics}


def _items(registry: SchedulerRegistry, values: list[int]) -> None:
    """Register task 'items', which returns ``values``: the source most maps here run over."""

    async def items() -> list[int]:
        return list(values)

    registry.task("items")(items)


# -- mapping and collecting -------------------------------------------------------------------


async def test_each_runs_one_instance_per_element_and_f_collects_in_input_order(
    registry: SchedulerRegistry,
) -> None:
    """Instances are named task[i]; F(map) and task_return_set hold results in input order."""

    @registry.task()
    async def retrieve() -> list[str]:
        return ["a", "bb", "ccc"]

    @registry.task()
    async def summarize(doc: Ref[str, Each(retrieve)]) -> str:
        await asyncio.sleep(0.001 * (3 - len(doc)))  # the last element finishes first
        return doc.upper()

    @registry.task()
    def best(texts: Ref[list[str], F(summarize)]) -> str:
        return "+".join(texts)

    report = await registry.run()
    assert report.execution_state == "completed"
    assert report.task_return_set["summarize"] == ["A", "BB", "CCC"]
    assert report.task_return_set["best"] == "A+BB+CCC"
    assert [s.task_name for s in report.task_statistics] == [
        "retrieve",
        "summarize",
        "summarize[0]",
        "summarize[1]",
        "summarize[2]",
        "best",
    ]
    assert set(statuses(report).values()) == {"completed"}
    assert report.total_tasks == 3  # the counts are of the workflow's tasks; a map counts once
    assert report.successful_tasks == 3


@pytest.mark.looptime
async def test_mapped_chains_map_element_wise_without_a_barrier(
    registry: SchedulerRegistry,
) -> None:
    """score[i] starts when summarize[i] completes, not when the whole map does."""
    loop = asyncio.get_running_loop()
    started: dict[int, float] = {}

    @registry.task()
    async def retrieve() -> list[int]:
        return [1, 5]

    @registry.task()
    async def summarize(seconds: Ref[int, Each(retrieve)]) -> int:
        await asyncio.sleep(seconds)
        return seconds

    @registry.task()
    async def score(seconds: Ref[int, Each(summarize)]) -> int:
        started[seconds] = loop.time()
        return seconds * 10

    began = loop.time()
    report = await registry.run()
    assert report.task_return_set["score"] == [10, 50]
    assert started[1] - began == pytest.approx(1)
    assert started[5] - began == pytest.approx(5)


async def test_zero_elements_run_no_instance_and_collectors_get_an_empty_list(
    registry: SchedulerRegistry,
) -> None:
    """An empty source: no instance runs, the map completes, collectors receive []."""
    calls: list[int] = []

    @registry.task()
    async def retrieve() -> list[int]:
        return []

    @registry.task()
    async def double(x: Ref[int, Each(retrieve)]) -> int:
        calls.append(x)
        return 2 * x

    @registry.task()
    async def again(x: Ref[int, Each(double)]) -> int:
        return x

    @registry.task()
    def total(xs: Ref[list[int], F(again)]) -> int:
        return len(xs)

    report = await registry.run()
    assert calls == []
    assert report.execution_state == "completed"
    assert statuses(report) == {
        "retrieve": "completed",
        "double": "completed",
        "again": "completed",
        "total": "completed",
    }
    assert report.task_return_set["double"] == []
    assert report.task_return_set["total"] == 0


async def test_each_locator_picks_the_part_to_map_over(registry: SchedulerRegistry) -> None:
    """On a plain task the locator picks the value to iterate; on a map, part of each element."""

    @registry.task()
    async def search() -> dict[str, list[dict[str, int]]]:
        return {"hits": [{"id": 1}, {"id": 2}]}

    @registry.task()
    async def fetch(hit: Ref[dict[str, int], Each(search, "hits")]) -> dict[str, int]:
        return {"id": hit["id"], "size": hit["id"] * 100}

    @registry.task()
    async def size(value: Ref[int, Each(fetch, "size")]) -> int:
        return value

    report = await registry.run()
    assert report.task_return_set["size"] == [100, 200]


async def test_two_each_parameters_pair_elements_and_other_parameters_are_shared(
    registry: SchedulerRegistry,
) -> None:
    """Each over two sources zips them by position; plain F and Input values go to every one."""

    @registry.task()
    async def names() -> list[str]:
        return ["a", "b"]

    @registry.task()
    async def upper(name: Ref[str, Each(names)]) -> str:
        return name.upper()

    @registry.task()
    async def pair(
        low: Ref[str, Each(names)],
        high: Ref[str, Each(upper)],
        sep: Ref[str, Input("sep")],
        every: Ref[list[str], F(names)],
    ) -> str:
        return f"{low}{sep}{high}/{len(every)}"

    report = await registry.run(inputs={"sep": "-"})
    assert report.task_return_set["pair"] == ["a-A/2", "b-B/2"]


async def test_sources_of_different_lengths_fail_the_map_naming_both(
    registry: SchedulerRegistry,
) -> None:
    """Each over sources of different lengths is an error at run time naming both lengths."""

    @registry.task()
    async def three() -> list[int]:
        return [1, 2, 3]

    @registry.task()
    async def two() -> list[int]:
        return [1, 2]

    @registry.task()
    async def add(a: Ref[int, Each(three)], b: Ref[int, Each(two)]) -> int:
        return a + b

    report = await registry.run(config=AstrumConfig(on_failure="continue"))
    assert report.execution_state == "failed"
    message = report.error_summary[0]
    assert "Task 'add' maps over sources of different lengths" in message
    assert "'three' has 3" in message
    assert "'two' has 2" in message


async def test_a_non_iterable_value_at_run_time_fails_the_map(
    registry: SchedulerRegistry,
) -> None:
    """A source whose value turns out not iterable fails the map, naming both tasks."""

    @registry.task()
    async def number() -> Any:
        return 7

    @registry.task()
    async def use(x: Ref[Any, Each(number)]) -> Any:
        return x

    report = await registry.run()
    assert report.execution_state == "failed"
    assert "Task 'use' maps over task 'number'" in report.error_summary[0]
    assert "not iterable" in report.error_summary[0]


async def test_overriding_a_mapped_task_gives_its_elements_downstream(
    registry: SchedulerRegistry,
) -> None:
    """An override of a map is its list: downstream instances run per element, none of it."""
    ran: list[int] = []

    @registry.task()
    async def load() -> list[int]:
        return [1]

    @registry.task()
    async def double(x: Ref[int, Each(load)]) -> int:
        ran.append(x)
        return 2 * x

    @registry.task()
    async def plus(x: Ref[int, Each(double)]) -> int:
        return x + 1

    report = await registry.run(overrides={"double": [10, 20]})
    assert ran == []
    assert report.task_return_set["plus"] == [11, 21]


async def test_overriding_a_generator_streams_the_given_items(
    registry: SchedulerRegistry,
) -> None:
    """An override of a generator task is its list of items; the generator never runs."""

    @registry.task()
    async def stream() -> AsyncIterator[int]:
        raise AssertionError("overridden")
        yield 0

    @registry.task()
    async def double(x: Ref[int, Each(stream)]) -> int:
        return 2 * x

    report = await registry.run(overrides={"stream": [1, 2]})
    assert report.task_return_set["double"] == [2, 4]


# -- build-time checks ---------------------------------------------------------------------


def test_element_type_is_checked_against_the_parameter(registry: SchedulerRegistry) -> None:
    """Each(retrieve) on -> list[int] checks int against the parameter's type."""

    @registry.task()
    async def retrieve() -> list[int]:
        return [1]

    @registry.task()
    async def summarize(doc: Ref[str, Each(retrieve)]) -> str:
        return doc

    with pytest.raises(TaskRegistrationError) as caught:
        registry.build_scheduler()
    message = str(caught.value)
    assert "Task 'summarize' parameter 'doc' expects str" in message
    assert "task 'retrieve' returns list[int], whose elements are int" in message


def test_a_non_iterable_producer_is_a_build_error_naming_both_tasks(
    registry: SchedulerRegistry,
) -> None:
    """Each over a task that returns a non-iterable type is refused when the workflow builds."""

    @registry.task()
    async def count() -> int:
        return 3

    @registry.task()
    async def use(x: Ref[int, Each(count)]) -> int:
        return x

    with pytest.raises(TaskRegistrationError, match=r"Task 'use' parameter 'x' maps over task "):
        registry.build_scheduler()
    with pytest.raises(TaskRegistrationError, match=r"task 'count' returns int, which is not"):
        registry.build_scheduler()


def test_f_on_a_mapped_task_is_checked_as_a_list(registry: SchedulerRegistry) -> None:
    """F(map) brings list[instance result]; a mismatched collector is a build error."""

    _items(registry, [1])

    @registry.task()
    async def name(x: Ref[int, Each("items")]) -> str:
        return str(x)

    @registry.task()
    def join(names: Ref[list[str], F(name)]) -> str:
        return "".join(names)

    registry.build_scheduler()  # list[str] is what it gets

    @registry.task()
    def wrong(names: Ref[str, F(name)]) -> str:
        return names

    with pytest.raises(TaskRegistrationError, match=r"expects str, but task 'name' returns list"):
        registry.build_scheduler()


def test_nested_fan_out_is_refused_with_a_hint(registry: SchedulerRegistry) -> None:
    """Each over a map whose instances return lists maps element-wise; the error says so."""

    @registry.task()
    async def groups() -> list[int]:
        return [1, 2]

    @registry.task()
    async def members(group: Ref[int, Each(groups)]) -> list[str]:
        return [str(group)]

    @registry.task()
    async def greet(member: Ref[str, Each(members)]) -> str:
        return member

    with pytest.raises(TaskRegistrationError, match="nested fan-out is not supported"):
        registry.build_scheduler()


def test_a_mapped_generator_is_refused(registry: SchedulerRegistry) -> None:
    """A task with an Each parameter cannot itself be a generator."""

    _items(registry, [1])

    @registry.task()
    async def spread(x: Ref[int, Each("items")]) -> AsyncIterator[int]:
        yield x

    with pytest.raises(TaskRegistrationError, match=r"has an Each.*and is a generator"):
        registry.build_scheduler()


def test_maps_and_generators_cannot_be_left_running(registry: SchedulerRegistry) -> None:
    """ignore_tail_task refuses a mapped task or a generator, naming it."""

    @registry.task()
    async def stream() -> AsyncIterator[int]:
        yield 0

    _items(registry, [1])

    @registry.task()
    async def each(x: Ref[int, Each("items")]) -> int:
        return x

    with pytest.raises(TaskRegistrationError, match=r"Task 'stream' is a generator listed in"):
        registry.build_scheduler(config=AstrumConfig(ignore_tail_task=["stream"]))
    with pytest.raises(TaskRegistrationError, match=r"Task 'each' is mapped and listed in"):
        registry.build_scheduler(config=AstrumConfig(ignore_tail_task=["each"]))


def test_each_takes_no_default_or_partial() -> None:
    """Each(..., default=...) is refused: defaults belong on the collecting F(...)."""
    with pytest.raises(TypeError, match="Each\\(\\) takes no default or partial"):
        Each("x", default=None)


def test_partial_on_a_plain_task_is_refused(registry: SchedulerRegistry) -> None:
    """partial=True exists for maps only."""

    @registry.task()
    async def one() -> int:
        return 1

    @registry.task()
    async def use(x: Ref[int, F(one, partial=True)]) -> int:
        return x

    with pytest.raises(TaskRegistrationError, match="not mapped"):
        registry.build_scheduler()


# -- streaming -----------------------------------------------------------------------------


@pytest.mark.looptime
async def test_instances_start_as_an_async_generator_yields(registry: SchedulerRegistry) -> None:
    """Instance i starts when item i is yielded (within 1 ms), not when the generator ends."""
    loop = asyncio.get_running_loop()
    yielded: list[float] = []
    started: list[float] = []

    @registry.task()
    async def stream() -> AsyncIterator[int]:
        for i in range(3):
            await asyncio.sleep(10)
            yielded.append(loop.time())
            yield i

    @registry.task()
    async def handle(item: Ref[int, Each(stream)]) -> int:
        started.append(loop.time())
        return item * 2

    @registry.task()
    def collected(items: Ref[list[int], F(stream)], handled: Ref[list[int], F(handle)]) -> int:
        return sum(items) + sum(handled)

    report = await registry.run()
    assert report.task_return_set["stream"] == [0, 1, 2]
    assert report.task_return_set["handle"] == [0, 2, 4]
    assert report.task_return_set["collected"] == 9
    assert len(started) == 3
    for when_yielded, when_started in zip(yielded, started, strict=True):
        assert when_started - when_yielded <= 0.001
    assert started[0] < yielded[-1]


async def test_a_sync_generator_streams_from_a_thread(registry: SchedulerRegistry) -> None:
    """A sync generator's items are taken off the loop and feed instances one by one."""
    threads: set[str] = set()

    @registry.task()
    def numbers() -> Iterator[int]:
        for i in range(4):
            threads.add(threading.current_thread().name)
            yield i

    @registry.task()
    async def square(x: Ref[int, Each(numbers)]) -> int:
        return x * x

    report = await registry.run()
    assert report.task_return_set["square"] == [0, 1, 4, 9]
    assert threads
    assert threading.main_thread().name not in threads


async def test_a_failing_generator_fails_and_skips_the_rest(registry: SchedulerRegistry) -> None:
    """A generator that raises fails; its map ends skipped after the items it did yield."""
    handled: list[int] = []

    @registry.task()
    async def stream() -> AsyncIterator[int]:
        yield 1
        raise ValueError("feed broke")

    @registry.task()
    async def handle(item: Ref[int, Each(stream)]) -> int:
        handled.append(item)
        return item

    report = await registry.run(config=AstrumConfig(on_failure="continue"))
    assert report.execution_state == "failed"
    assert report.error_summary == ["Task 'stream' failed: ValueError: feed broke"]
    assert statuses(report)["stream"] == "failed"
    assert statuses(report)["handle"] == "skipped"


# -- Skip, defaults and failures -----------------------------------------------------------


async def test_skip_ends_a_task_skipped_and_its_dependents_too(
    registry: SchedulerRegistry,
) -> None:
    """raise Skip: the task and its dependents are skipped, the run still completes."""

    @registry.task()
    async def check() -> int:
        raise Skip("nothing new today")

    @registry.task()
    async def publish(x: Ref[int, F(check)]) -> int:
        return x

    @registry.task()
    async def other() -> int:
        return 1

    report = await registry.run()
    assert report.execution_state == "completed"
    assert statuses(report) == {"check": "skipped", "publish": "skipped", "other": "completed"}
    by_name = {s.task_name: s for s in report.task_statistics}
    assert by_name["check"].error_message == "nothing new today"
    assert by_name["publish"].error_message == "Skipped because upstream task 'check' was skipped."


async def test_skip_is_not_retried(registry: SchedulerRegistry) -> None:
    """A task that raises Skip is not attempted again, whatever its retry count."""
    calls: list[int] = []

    @registry.task(retry=3)
    async def check() -> int:
        calls.append(1)
        raise Skip("no")

    report = await registry.run()
    assert calls == [1]
    assert statuses(report) == {"check": "skipped"}


async def test_a_default_stands_in_for_a_skipped_value(registry: SchedulerRegistry) -> None:
    """F(task, default=...) runs the dependent with the default when the task skipped."""

    @registry.task()
    async def enrich() -> str:
        raise Skip("no enrichment")

    @registry.task()
    async def render(extra: Ref[str | None, F(enrich, default=None)]) -> str:
        return f"extra={extra}"

    @registry.task()
    async def after(text: Ref[str, F(render)]) -> str:
        return text.upper()

    report = await registry.run()
    assert report.execution_state == "completed"
    assert report.task_return_set["render"] == "extra=None"
    assert report.task_return_set["after"] == "EXTRA=NONE"


async def test_skip_in_an_instance_skips_its_element_and_the_collector(
    registry: SchedulerRegistry,
) -> None:
    """A skipped instance skips its element downstream; F(map) is skipped, partial=True is not."""

    _items(registry, [1, 2, 3])

    @registry.task()
    async def keep_odd(x: Ref[int, Each("items")]) -> int:
        if x % 2 == 0:
            raise Skip(f"{x} is even")
        return x

    @registry.task()
    async def times_ten(x: Ref[int, Each(keep_odd)]) -> int:
        return x * 10

    @registry.task()
    def every(xs: Ref[list[int], F(times_ten)]) -> int:
        return sum(xs)

    @registry.task()
    def some(xs: Ref[list[int], F(times_ten, partial=True)]) -> list[int]:
        return xs

    report = await registry.run()
    assert report.execution_state == "completed"
    found = statuses(report)
    assert found["keep_odd[1]"] == "skipped"
    assert found["times_ten[1]"] == "skipped"
    assert found["times_ten[0]"] == found["times_ten[2]"] == "completed"
    assert found["times_ten"] == "skipped"
    assert found["every"] == "skipped"
    assert report.task_return_set["some"] == [10, 30]


async def test_fail_fast_stops_the_run_at_a_failed_instance(registry: SchedulerRegistry) -> None:
    """Under fail_fast a failed instance stops the run, as a failed task does."""

    _items(registry, [0, 1])

    @registry.task()
    async def work(x: Ref[int, Each("items")]) -> int:
        if x == 1:
            raise ValueError("bad element")
        await asyncio.sleep(10)
        return x

    report = await registry.run()
    assert report.execution_state == "failed"
    assert report.error_summary == ["Task 'work[1]' failed: ValueError: bad element"]
    assert statuses(report)["work[0]"] == "cancelled"


async def test_continue_runs_the_other_elements_and_skips_the_collector(
    registry: SchedulerRegistry,
) -> None:
    """Under continue a failed instance skips its element downstream; the others run on."""

    _items(registry, [0, 1, 2])

    @registry.task()
    async def work(x: Ref[int, Each("items")]) -> int:
        if x == 1:
            raise ValueError("bad element")
        return x

    @registry.task()
    async def then(x: Ref[int, Each(work)]) -> int:
        return x + 100

    @registry.task()
    def all_of(xs: Ref[list[int], F(then)]) -> int:
        return len(xs)

    @registry.task()
    def what_worked(xs: Ref[list[int], F(then, partial=True)]) -> list[int]:
        return xs

    report = await registry.run(config=AstrumConfig(on_failure="continue"))
    found = statuses(report)
    assert report.execution_state == "failed"
    assert report.error_summary == ["Task 'work[1]' failed: ValueError: bad element"]
    assert found["work"] == "failed"
    assert found["then[1]"] == "skipped"
    assert found["then"] == "skipped"
    assert found["all_of"] == "skipped"
    assert report.task_return_set["what_worked"] == [100, 102]
    by_name = {s.task_name: s for s in report.task_statistics}
    assert by_name["then[1]"].error_message == (
        "Skipped because upstream instance 'work[1]' has no value."
    )


# -- what every instance keeps -------------------------------------------------------------


async def test_each_instance_retries_and_times_out_on_its_own(
    registry: SchedulerRegistry,
) -> None:
    """retry and timeout apply per instance; the report has attempts per instance."""
    attempts: dict[int, int] = {}

    _items(registry, [0, 1])

    @registry.task(retry=2)
    async def flaky(x: Ref[int, Each("items")]) -> int:
        attempts[x] = attempts.get(x, 0) + 1
        if x == 1 and attempts[x] < 3:
            raise ConnectionError("again")
        return x

    report = await registry.run()
    assert report.task_return_set["flaky"] == [0, 1]
    assert attempts == {0: 1, 1: 3}
    by_name = {s.task_name: s for s in report.task_statistics}
    assert by_name["flaky[1]"].attempt_count == 3
    assert by_name["flaky[0]"].attempt_count == 1


@pytest.mark.looptime
async def test_an_instance_timeout_names_the_instance(registry: SchedulerRegistry) -> None:
    """A timed-out instance fails with a message naming task[i]."""

    _items(registry, [0, 5])

    @registry.task(timeout=1)
    async def wait(x: Ref[int, Each("items")]) -> int:
        await asyncio.sleep(x)
        return x

    report = await registry.run(config=AstrumConfig(on_failure="continue"))
    assert report.error_summary == [
        "Task 'wait[1]' failed: TimeoutError: Task 'wait[1]' timed out after 1 s (attempt 1)."
    ]


async def test_events_carry_instance_names(registry: SchedulerRegistry) -> None:
    """on_event sees task_started/task_completed for each instance by its name."""
    seen: list[tuple[str, str | None]] = []

    _items(registry, [0, 1])

    @registry.task()
    async def work(x: Ref[int, Each("items")]) -> int:
        return x

    await registry.run(config=AstrumConfig(on_event=lambda e: seen.append((e.kind, e.task))))
    assert ("task_started", "work[0]") in seen
    assert ("task_completed", "work[1]") in seen
    assert ("task_completed", "work") in seen
    assert seen.index(("task_completed", "work[1]")) < seen.index(("task_completed", "work"))


async def test_concurrency_limit_and_pools_bound_instances(registry: SchedulerRegistry) -> None:
    """At most the pool's size of instances run at once."""
    running = 0
    peak = 0

    _items(registry, list(range(8)))

    @registry.task(tags=["api"])
    async def call(x: Ref[int, Each("items")]) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1
        return x

    report = await registry.run(config=AstrumConfig(pools={"api": 2}))
    assert report.task_return_set["call"] == list(range(8))
    assert peak == 2


async def test_sync_instances_run_in_threads(registry: SchedulerRegistry) -> None:
    """A sync mapped task runs each instance off the loop, as any sync task."""

    _items(registry, [1, 2])

    @registry.task()
    def where(x: Ref[int, Each("items")]) -> bool:
        return threading.current_thread() is not threading.main_thread()

    report = await registry.run()
    assert report.task_return_set["where"] == [True, True]


# -- explicit form -------------------------------------------------------------------------


async def test_dtrela_each_maps_a_hand_built_task() -> None:
    """DTRela(each=True) on an input item makes a hand-built task mapped."""

    async def load() -> list[int]:
        return [1, 2, 3]

    async def double(x: int) -> int:
        return 2 * x

    order_load = TaskOrder("load")
    order_double = TaskOrder("double", dependencies=[order_load])
    data = TaskData(
        task_id="double",
        input_data_item=[
            DataItem(
                allow_data_model=int,
                from_relation=DTRela(related_task="load", each=True),
                to_relation=DTRela(key="x", related_task="double"),
            )
        ],
        from_tasks=["load"],
    )
    scheduler = DynamicScheduler(
        [("load", load), ("double", double)],
        [order_load, order_double],
        task_data_refs={"double": data},
    )
    report = await scheduler.execute()
    assert report.task_return_set["double"] == [2, 4, 6]


async def test_a_binding_with_an_each_mode_maps_a_hand_built_task() -> None:
    """DynamicScheduler(bindings=...) maps with Binding(mode=Mode(each=True))."""
    from astrum._build._plan import Binding, Mode

    async def load() -> list[int]:
        return [1, 2]

    async def inc(x: int) -> int:
        return x + 1

    order_load = TaskOrder("load")
    order_inc = TaskOrder("inc", dependencies=[order_load])
    scheduler = DynamicScheduler(
        [("load", load), ("inc", inc)],
        [order_load, order_inc],
        bindings={"inc": [Binding("x", source_id="load", mode=Mode(each=True))]},
    )
    report = await scheduler.execute()
    assert report.task_return_set["inc"] == [2, 3]


# -- random maps -----------------------------------------------------------------------------


def _register_chain(
    registry: SchedulerRegistry, case: MapChain, calls: list[tuple[int, int]]
) -> None:
    if case.streaming:

        async def source() -> AsyncIterator[int]:
            for i in range(case.elements):
                await asyncio.sleep(0)
                yield i

    else:

        async def source() -> list[int]:  # type: ignore[misc]  # one of two shapes
            return list(range(case.elements))

    registry.task("source")(source)
    upstream = "source"
    for stage, outcomes in enumerate(case.outcomes):

        async def body(
            x: int, y: int | None = None, stage: int = stage, outcomes: tuple[str, ...] = outcomes
        ) -> int:
            assert y is None or y == x  # zipped sources pair elements by position
            calls.append((stage, x))
            await asyncio.sleep(0)
            if outcomes[x] == "fail":
                raise ValueError(f"stage {stage} element {x}")
            if outcomes[x] == "skip":
                raise Skip(f"skip {stage}/{x}")
            return x

        body.__annotations__ = {"x": Ref[int, Each(upstream)], "return": int}
        if case.zipped and stage:
            body.__annotations__["y"] = Ref[int, Each("source")]
        registry.task(f"m{stage}")(body)
        upstream = f"m{stage}"

    def strict(xs: list[int]) -> list[int]:
        return xs

    def partial(xs: list[int]) -> list[int]:
        return xs

    strict.__annotations__ = {"xs": Ref[list[int], F(upstream)], "return": list[int]}
    partial.__annotations__ = {"xs": Ref[list[int], F(upstream, partial=True)]}
    registry.task("strict")(strict)
    registry.task("partial")(partial)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=map_chains())
def test_every_element_is_processed_once_or_reported_why_not(case: MapChain) -> None:
    """Random maps with random failures: each instance runs at most once, exactly when its
    element reached it, and the report says for every one what happened and why."""
    registry = SchedulerRegistry("random-maps")
    calls: list[tuple[int, int]] = []
    _register_chain(registry, case, calls)
    report = asyncio.run(registry.run(config=AstrumConfig(on_failure="continue")))
    assert len(calls) == len(set(calls))
    last = len(case.outcomes) - 1
    by_name = {s.task_name: s for s in report.task_statistics}
    for stage, outcomes in enumerate(case.outcomes):
        for element in range(case.elements):
            row = by_name[f"m{stage}[{element}]"]
            if case.reaches(stage, element):
                assert (stage, element) in calls
                expected = {"ok": "completed", "fail": "failed", "skip": "skipped"}
                assert row.status == expected[outcomes[element]]
            else:
                assert (stage, element) not in calls
                assert row.status == "skipped"
                assert row.error_message == (
                    f"Skipped because upstream instance 'm{stage - 1}[{element}]' has no value."
                )
    survivors = [i for i in range(case.elements) if case.reaches(last + 1, i)]
    assert report.task_return_set["partial"] == survivors
    complete = len(survivors) == case.elements
    assert by_name["strict"].status == ("completed" if complete else "skipped")
    failed = any(
        case.reaches(s, i) and case.outcomes[s][i] == "fail"
        for s in range(last + 1)
        for i in range(case.elements)
    )
    assert report.execution_state == ("failed" if failed else "completed")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=map_chains())
def test_under_fail_fast_no_instance_runs_twice_or_unreached(case: MapChain) -> None:
    """Under fail_fast, instances run at most once and only once reached; a failure is named."""
    registry = SchedulerRegistry("random-maps-fail-fast")
    calls: list[tuple[int, int]] = []
    _register_chain(registry, case, calls)
    report = asyncio.run(registry.run())
    assert len(calls) == len(set(calls))
    assert all(case.reaches(stage, element) for stage, element in calls)
    by_name = {s.task_name: s for s in report.task_statistics}
    failures = [name for name, row in by_name.items() if row.status == "failed" and "[" in name]
    for name in failures:
        found = re.fullmatch(r"m(\d+)\[(\d+)\]", name)
        assert found is not None
        assert case.outcomes[int(found[1])][int(found[2])] == "fail"
        assert any(line.startswith(f"Task '{name}' failed") for line in report.error_summary)
    if failures:
        assert report.execution_state == "failed"
    for row in by_name.values():
        assert row.status in {"completed", "failed", "skipped", "cancelled"}


# -- views, trace, cache and resume ------------------------------------------------------------


def _small_map(registry: SchedulerRegistry, calls: list[int], *, cache: bool = False) -> None:
    @registry.task()
    async def items(count: Ref[int, Input("count")]) -> list[int]:
        return list(range(count))

    @registry.task(cache=cache)
    async def work(x: Ref[int, Each("items")]) -> int:
        calls.append(x)
        if x < 0:
            raise ValueError("negative")
        return x * 10

    @registry.task()
    def total(xs: Ref[list[int], F(work)]) -> int:
        return sum(xs)


def test_mermaid_and_dot_draw_a_mapped_task_as_a_stack(registry: SchedulerRegistry) -> None:
    """A mapped node is drawn as task[i] (a subroutine box in Mermaid, box3d in DOT)."""
    _small_map(registry, [])
    mermaid = registry.to_mermaid()
    assert '[["work[i]"]]' in mermaid
    assert '-->|"each result → x"|' in mermaid
    dot = registry.to_dot()
    assert '"work" [label="work[i]", shape=box3d];' in dot


async def test_the_trace_has_a_slice_per_instance(registry: SchedulerRegistry) -> None:
    """The Perfetto trace shows each instance as its own slice."""
    from astrum._views._trace import trace_events

    _small_map(registry, [])
    report = await registry.run(inputs={"count": 3})
    names = {event.get("name") for event in trace_events(report)["traceEvents"]}
    assert {"work[0]", "work[1]", "work[2]"} <= names


async def test_cache_runs_only_new_elements(registry: SchedulerRegistry) -> None:
    """With cache=True an instance's key is its element and the code: one new element, one run."""
    from astrum import MemoryStore

    calls: list[int] = []
    _small_map(registry, calls, cache=True)
    config = AstrumConfig(store=MemoryStore())
    await registry.run(config=config, inputs={"count": 2})
    assert calls == [0, 1]
    report = await registry.run(config=config, inputs={"count": 3})
    assert calls == [0, 1, 2]
    assert statuses(report)["work[0]"] == "cached"
    assert report.task_return_set["total"] == 30


async def test_resume_reruns_only_the_failed_instances(registry: SchedulerRegistry) -> None:
    """Resuming a run reruns the instances that failed, not those that completed."""
    from astrum import MemoryStore

    calls: list[int] = []
    broken = {1}

    _items(registry, [0, 1, 2])

    @registry.task()
    async def work(x: Ref[int, Each("items")]) -> int:
        calls.append(x)
        if x in broken:
            raise ValueError("flaky")
        return x * 10

    @registry.task()
    def total(xs: Ref[list[int], F(work)]) -> int:
        return sum(xs)

    config = AstrumConfig(store=MemoryStore(), on_failure="continue")
    first = await registry.run(config=config)
    assert first.execution_state == "failed"
    assert sorted(calls) == [0, 1, 2]
    broken.clear()
    calls.clear()
    second = await registry.run(config=config, resume=first)
    assert second.execution_state == "completed"
    assert calls == [1]
    assert second.task_return_set["total"] == 30
    found = statuses(second)
    assert found["work[0]"] == found["work[2]"] == "cached"
    assert found["work[1]"] == "completed"


async def test_summary_counts_tasks_and_instances_apart(registry: SchedulerRegistry) -> None:
    """report.summary() counts the workflow's tasks, then the instances of its maps."""
    _small_map(registry, [])
    report = await registry.run(inputs={"count": 2})
    assert (
        report.summary()
        .splitlines()[0]
        .endswith(": 3 tasks (3 completed), 2 instances of mapped tasks (2 completed).")
    )


async def test_progress_total_grows_as_instances_start(registry: SchedulerRegistry) -> None:
    """The progress display's total counts instances as they start."""
    import io

    from rich.console import Console

    from astrum._views._progress import ProgressDisplay

    _small_map(registry, [])
    console = Console(file=io.StringIO(), width=80, color_system=None)
    display = ProgressDisplay(total=3, console=console, auto_refresh=False)
    await registry.run(config=AstrumConfig(on_event=display), inputs={"count": 4})
    display.close()
    assert display.total == 7
    assert display.finished == 7


def _triple(x: Ref[int, Each("items")]) -> int:
    return 3 * x


async def test_instances_run_in_a_process_pool(registry: SchedulerRegistry) -> None:
    """A mapped sync task with executor='process' runs each instance in a worker process."""

    _items(registry, [1, 2])

    registry.task("triple", executor="process")(_triple)
    report = await registry.run()
    assert report.task_return_set["triple"] == [3, 6]


@pytest.mark.looptime
async def test_a_run_timeout_cancels_a_running_map(registry: SchedulerRegistry) -> None:
    """When the run times out, running instances and their map end cancelled."""

    _items(registry, [1, 100])

    @registry.task()
    async def wait(x: Ref[int, Each("items")]) -> int:
        await asyncio.sleep(x)
        return x

    report = await registry.run(timeout=10)
    assert report.execution_state == "cancelled"
    found = statuses(report)
    assert found["wait"] == "cancelled"
    assert found["wait[0]"] == "completed"
    assert found["wait[1]"] == "cancelled"


async def test_resume_after_a_generator_reruns_only_failed_instances(
    registry: SchedulerRegistry,
) -> None:
    """A generator runs again on resume; its items' instances resume from the record."""
    from astrum import MemoryStore

    calls: list[int] = []
    broken = {2}

    @registry.task()
    async def stream() -> AsyncIterator[int]:
        for i in range(3):
            yield i

    @registry.task()
    async def work(x: Ref[int, Each(stream)]) -> int:
        calls.append(x)
        if x in broken:
            raise ValueError("flaky")
        return x

    config = AstrumConfig(store=MemoryStore(), on_failure="continue")
    first = await registry.run(config=config)
    broken.clear()
    calls.clear()
    second = await registry.run(config=config, resume=first)
    assert second.execution_state == "completed"
    assert calls == [2]
    assert second.task_return_set["work"] == [0, 1, 2]


def test_a_fatal_error_in_an_instance_stops_the_run_and_leaves_nothing() -> None:
    """KeyboardInterrupt in an instance stops the run and propagates; no task is left."""
    from _support import run_in_new_loop

    registry = SchedulerRegistry("fatal-instance")

    _items(registry, [0, 1])

    @registry.task()
    async def work(x: Ref[int, Each("items")]) -> int:
        if x == 1:
            raise KeyboardInterrupt
        await asyncio.sleep(10)
        return x

    with pytest.raises(KeyboardInterrupt):
        run_in_new_loop(registry.run)


async def test_a_failed_cached_instance_hands_its_key_to_the_next_run() -> None:
    """A cache=True instance that fails lets a concurrent run waiting on the same key go on."""
    flow = SchedulerRegistry("instance-flight")
    calls: list[int] = []

    @flow.task()
    def items() -> list[int]:
        return [1, 2]

    @flow.task(cache=True)
    async def work(item: Ref[int, Each(items)]) -> int:
        calls.append(item)
        await asyncio.sleep(0.01)
        if item == 2:
            raise ValueError("element 2 cannot be worked")
        return item * 10

    config = AstrumConfig(store=MemoryStore(), on_failure="continue")
    reports = await asyncio.wait_for(
        asyncio.gather(flow.run(config=config), flow.run(config=config)), timeout=20
    )
    assert [report.execution_state for report in reports] == ["failed", "failed"]
    assert sorted(calls) == [1, 2, 2]  # element 1 once (then cached), element 2 by each run


async def test_a_partly_skipped_map_stays_on_the_critical_path() -> None:
    """A map that ended skipped but whose instances ran is part of the critical path."""
    flow = SchedulerRegistry("partial-path")

    @flow.task()
    async def docs() -> list[str]:
        return ["a", "bb", "ccc"]

    @flow.task()
    async def size(doc: Ref[str, Each(docs)]) -> int:
        if doc == "bb":
            raise Skip("too short")
        return len(doc)

    @flow.task()
    async def largest(sizes: Ref[list[int], F(size, partial=True)]) -> int:
        return max(sizes)

    report = await flow.run()
    assert report.result("largest") == 3
    assert "Critical path" in report.summary()
    assert "docs -> size -> largest" in report.summary()
    assert report.statistics_for("size").error_message == "1 of its 3 instances was skipped."


async def test_a_bracketed_task_id_does_not_confuse_the_critical_path() -> None:
    """A task whose own id has brackets is not taken for an instance of another task."""
    flow = SchedulerRegistry("brackets")

    @flow.task(task_id="load[raw]")
    async def load() -> list[int]:
        return [1, 2]

    @flow.task(task_id="load")
    async def late_skip() -> int:
        await asyncio.sleep(0.01)  # ends after load[raw]: the later dependency
        raise Skip("not today")

    @flow.task()
    async def total(
        values: Ref[list[int], F("load[raw]")], extra: Ref[int, F("load", default=0)]
    ) -> int:
        return sum(values) + extra

    report = await flow.run()
    assert report.result("total") == 3
    path = next(line for line in report.summary().splitlines() if "Critical path" in line)
    assert path.endswith("load[raw] -> total")  # the skipped 'load' never ran
