"""Workers: asyncio tasks that run ready tasks one after another (Run._work).

A task whose body never waits then costs no asyncio task of its own. These
tests pin down what must not change for a body (the name of the asyncio task
it runs in, its context, cancellation, when it starts) and the bounds that
keep the event loop free for other work.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import time
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _support import run_in_new_loop
from astrum import AstrumConfig, Each, Ref, SchedulerRegistry
from astrum._run import _run
from strategies import Dag, ancestors, dags

_seen: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("seen", default=())


def _registry() -> SchedulerRegistry:
    return SchedulerRegistry(f"handoff-{uuid.uuid4().hex}")


def _chain(registry: SchedulerRegistry, n: int, body: Any) -> None:
    for i in range(n):
        registry.task(f"t{i}", depends_on=[f"t{i - 1}"] if i else [])(body(f"t{i}"))


async def _tasks_made(registry: SchedulerRegistry) -> int:
    """How many asyncio tasks a completed run of ``registry`` made."""
    loop = asyncio.get_running_loop()
    made = 0

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        nonlocal made
        made += 1
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(factory)
    try:
        report = await registry.run()
    finally:
        loop.set_task_factory(None)
    assert report.execution_state == "completed"
    return made


def _marking(seen: dict[str, tuple[str, ...]]) -> Any:
    """Makes bodies that note the context they found in ``seen``, then add their own id."""

    def marking(task_id: str) -> Any:
        async def body() -> None:
            seen[task_id] = _seen.get()
            _seen.set((*_seen.get(), task_id))

        return body

    return marking


def _noop(task_id: str) -> Any:
    async def body() -> None:
        return None

    return body


@pytest.mark.looptime
async def test_a_chain_runs_in_one_asyncio_task_per_hundred_links() -> None:
    """A chain of quick tasks makes one asyncio task per _IN_A_ROW links, not one a link."""
    registry = _registry()
    _chain(registry, 250, _noop)
    assert await _tasks_made(registry) == 3


async def test_a_slow_task_gives_each_successor_a_new_asyncio_task() -> None:
    """After a body that kept the loop busy longer than _QUICK, a new worker takes over."""
    registry = _registry()

    def blocking(task_id: str) -> Any:
        async def body() -> None:
            until = time.perf_counter() + 2 * _run._QUICK
            while time.perf_counter() < until:  # CPU-bound work: holds the event loop
                pass

        return body

    _chain(registry, 5, blocking)
    assert await _tasks_made(registry) == 5


async def test_other_work_runs_while_a_long_chain_runs() -> None:
    """The event loop runs other coroutines at least every _IN_A_ROW links of a chain."""
    registry = _registry()
    _chain(registry, 1_000, _noop)
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    report = await registry.run()
    stop = True
    await ticking
    assert report.execution_state == "completed"
    assert ticks >= 1_000 // _run._IN_A_ROW


async def test_each_body_runs_in_a_task_named_after_it() -> None:
    """current_task() inside a body is named astrum:<task id>, also when it went on."""
    registry = _registry()
    names: dict[str, str] = {}

    def naming(task_id: str) -> Any:
        async def body() -> None:
            task = asyncio.current_task()
            assert task is not None
            names[task_id] = task.get_name()

        return body

    _chain(registry, 4, naming)
    report = await registry.run()
    assert report.execution_state == "completed"
    assert names == {f"t{i}": f"astrum:t{i}" for i in range(4)}


async def test_context_flows_down_the_chain_and_not_across() -> None:
    """A context variable set by a task is seen by its successors and not by its siblings,
    whichever worker runs them."""
    registry = _registry()
    seen: dict[str, tuple[str, ...]] = {}
    marking = _marking(seen)
    registry.task("root")(marking("root"))
    registry.task("left", depends_on=["root"])(marking("left"))
    registry.task("right", depends_on=["root"])(marking("right"))
    registry.task("after_left", depends_on=["left"])(marking("after_left"))
    registry.task("after_right", depends_on=["right"])(marking("after_right"))
    report = await registry.run()
    assert report.execution_state == "completed"
    assert seen == {
        "root": (),
        "left": ("root",),
        "right": ("root",),
        "after_left": ("root", "left"),
        "after_right": ("root", "right"),
    }


@pytest.mark.looptime
async def test_a_task_that_went_on_is_cancelled_with_the_run() -> None:
    """A run timeout cancels a body running in its predecessor's asyncio task."""
    registry = _registry()

    @registry.task()
    async def first() -> int:
        return 1

    @registry.task(depends_on=["first"])
    async def second() -> None:
        await asyncio.sleep(10)

    report = await registry.run(config=AstrumConfig(run_timeout=1))
    statuses = {s.task_name: s.status for s in report.task_statistics}
    assert report.execution_state == "cancelled"
    assert statuses == {"first": "completed", "second": "cancelled"}
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.looptime
async def test_independent_quick_tasks_share_workers() -> None:
    """250 quick tasks without dependencies run in three asyncio tasks, not 250."""
    registry = _registry()
    for i in range(250):
        registry.task(f"t{i}")(_noop(f"t{i}"))
    assert await _tasks_made(registry) == 3


@pytest.mark.looptime
async def test_a_waiting_task_does_not_hold_up_the_others() -> None:
    """Tasks ready at once all start at once, even behind one that waits (virtual time)."""
    registry = _registry()
    loop = asyncio.get_running_loop()
    started: dict[str, float] = {}

    def waiting(task_id: str) -> Any:
        async def body() -> None:
            started[task_id] = loop.time()
            await asyncio.sleep(5)

        return body

    registry.task("root")(_noop("root"))
    for name in ("a", "b", "c"):
        registry.task(name, depends_on=["root"])(waiting(name))
    registry.task("end", depends_on=["a", "b", "c"])(_noop("end"))
    report = await registry.run()
    assert report.execution_state == "completed"
    assert started["a"] == started["b"] == started["c"]
    assert report.total_duration == pytest.approx(5, abs=0.01)


async def test_independent_tasks_do_not_see_each_others_context() -> None:
    """A context variable set by one task is not seen by a task that merely ran after it in
    the same worker."""
    registry = _registry()
    seen: dict[str, tuple[str, ...]] = {}
    marking = _marking(seen)
    for name in ("first", "second", "third"):
        registry.task(name)(marking(name))
    report = await registry.run()
    assert report.execution_state == "completed"
    assert seen == {"first": (), "second": (), "third": ()}


async def test_a_task_that_waits_keeps_its_context_across_waits() -> None:
    """A body that sets a context variable, waits and reads it back finds its own value,
    while other tasks run in the same worker meanwhile."""
    registry = _registry()
    found: dict[str, tuple[str, ...]] = {}

    def setting(task_id: str) -> Any:
        async def body() -> None:
            _seen.set((task_id,))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            found[task_id] = _seen.get()

        return body

    for name in ("a", "b", "c"):
        registry.task(name)(setting(name))
    report = await registry.run()
    assert report.execution_state == "completed"
    assert found == {"a": ("a",), "b": ("b",), "c": ("c",)}


@pytest.mark.looptime
async def test_a_body_that_cleans_up_after_cancellation_is_waited_for() -> None:
    """A body that awaits in its cleanup when the run cancels it finishes that cleanup."""
    registry = _registry()
    cleaned: list[str] = []

    @registry.task()
    async def first() -> None:
        return None

    @registry.task(depends_on=["first"])
    async def careful() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(0.5)
            cleaned.append("careful")

    report = await registry.run(config=AstrumConfig(run_timeout=1))
    assert report.execution_state == "cancelled"
    assert cleaned == ["careful"]
    assert asyncio.all_tasks() == {asyncio.current_task()}


def _map_registry(size: int, body: Any) -> SchedulerRegistry:
    registry = _registry()

    @registry.task()
    async def source() -> list[int]:
        return list(range(size))

    body.__annotations__["x"] = Ref[int, Each("source")]
    registry.task("each")(body)
    return registry


@pytest.mark.looptime
async def test_the_instances_of_a_map_share_workers() -> None:
    """250 quick instances run in a few asyncio tasks, each named after its instance."""
    names: list[str] = []

    async def each(x: int) -> int:
        task = asyncio.current_task()
        assert task is not None
        names.append(task.get_name())
        return x

    registry = _map_registry(250, each)
    assert await _tasks_made(registry) <= 4
    assert names == [f"astrum:each[{i}]" for i in range(250)]


@pytest.mark.looptime
async def test_a_waiting_instance_does_not_hold_up_the_others() -> None:
    """Instances that each wait a second all wait at once (virtual time)."""

    async def each(x: int) -> int:
        await asyncio.sleep(1)
        return x

    report = await _map_registry(50, each).run()
    assert report.task_return_set["each"] == list(range(50))
    assert report.total_duration == pytest.approx(1, abs=0.01)


def test_a_large_map_does_not_queue_an_object_per_instance() -> None:
    """When a map's first instance starts, its elements have cost at most about one tracked
    object each (its (map, element) record), not a spec, a closure and a queue entry."""
    found: dict[int, int] = {}

    def counting(size: int) -> Any:
        async def each(x: int) -> None:
            if not x:
                found[size] = len(gc.get_objects())

        return each

    for size in (1_000, 3_000):
        gc.collect()
        gc.disable()
        try:
            report = _map_registry(size, counting(size)).run_sync()
        finally:
            gc.enable()
        assert report.execution_state == "completed"
    assert (found[3_000] - found[1_000]) / 2_000 <= 1.5


@settings(max_examples=60, deadline=None)
@given(dags(max_tasks=12), st.data())
def test_any_dag_runs_each_task_once_after_its_dependencies_seeing_only_its_ancestors(
    dag: Dag, data: st.DataObject
) -> None:
    """Whatever mix of tasks that never wait, wait a turn of the loop or wait a while: each
    task runs once, after every task it depends on ended, and the context it finds holds
    marks of its ancestors only (virtual time)."""
    deps = dag.deps_of()
    waits = {task: data.draw(st.sampled_from([None, 0.0, 0.5]), label=task) for task in deps}
    events: list[tuple[str, str]] = []
    seen: dict[str, tuple[str, ...]] = {}

    def body(task_id: str) -> Any:
        async def run() -> None:
            events.append(("start", task_id))
            seen[task_id] = _seen.get()
            _seen.set((*_seen.get(), task_id))
            wait = waits[task_id]
            if wait is not None:
                await asyncio.sleep(wait)
            events.append(("end", task_id))

        return run

    registry = _registry()
    for task_id in dag.ids:
        registry.task(task_id, depends_on=list(deps[task_id]))(body(task_id))
    report = run_in_new_loop(registry.run, virtual=True)
    assert report.execution_state == "completed"
    assert sorted(task for kind, task in events if kind == "start") == sorted(deps)
    position = {event: index for index, event in enumerate(events)}
    for task, waited_for in deps.items():
        for dep in waited_for:
            assert position[("end", dep)] < position[("start", task)]
        assert set(seen[task]) <= ancestors(deps, task)


@pytest.mark.looptime
async def test_a_cancel_left_behind_by_a_task_does_not_reach_the_next_one() -> None:
    """A body that asks for its own asyncio task to be cancelled and returns (a library
    keeping current_task() to cancel later does the same) ends as it did alone: the task
    that runs after it is not cancelled."""
    registry = _registry()

    @registry.task()
    async def leaves_a_cancel() -> int:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        return 1

    @registry.task(depends_on=["leaves_a_cancel"])
    async def waits() -> int:
        await asyncio.sleep(1)
        return 2

    report = await registry.run()
    assert report.execution_state == "completed"
    assert report.task_return_set == {"leaves_a_cancel": 1, "waits": 2}
