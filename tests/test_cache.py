"""Caching task results: @task(cache=...), CachePolicy, stores as seen by a run, warnings."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import astrum
from astrum import (
    AstrumConfig,
    CachePolicy,
    DynamicScheduler,
    F,
    Input,
    MemoryStore,
    Ref,
    SchedulerRegistry,
    SqliteStore,
    TaskOrder,
)
from astrum._build._plan import Binding, TaskOptions
from astrum.cache import CacheWarning, default_store
from astrum.events import Event


class Clock:
    """A settable clock for stores, so expiry is tested without waiting."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _fed(
    function: Callable[..., Any], source: Callable[[], Any], *, cache: CachePolicy | None
) -> DynamicScheduler:
    """A two-task DAG: ``source`` feeds ``function``'s parameter ``x``; only ``function`` caches."""
    return DynamicScheduler(
        [("source", source), ("work", function)],
        [src := TaskOrder("source"), TaskOrder("work", [src])],
        task_options={"work": TaskOptions(cache=cache)},
        bindings={"work": [Binding("x", source_id="source")]},
        config=AstrumConfig(store=MemoryStore()),
    )


async def test_second_run_takes_the_stored_value(registry: SchedulerRegistry) -> None:
    """A cache=True task runs once; the next run reports it cached and returns the same value."""
    calls: list[str] = []

    @registry.task(cache=True)
    def expensive() -> dict[str, int]:
        calls.append("expensive")
        return {"answer": 42}

    @registry.task(depends_on=["expensive"])
    def after() -> str:
        calls.append("after")
        return "done"

    config = AstrumConfig(store=MemoryStore())
    first = await registry.run(config=config)
    second = await registry.run(config=config)
    assert calls == ["expensive", "after", "after"]
    assert first.statistics_for("expensive").status == "completed"
    cached = second.statistics_for("expensive")
    assert (cached.status, cached.attempt_count) == ("cached", 0)
    assert second.task_return_set == {"expensive": {"answer": 42}, "after": "done"}
    assert second.successful_tasks == 2
    assert second.execution_state == "completed"


async def test_different_inputs_miss_and_equal_inputs_hit() -> None:
    """The key covers the resolved arguments: a new input value recomputes, an old one hits."""
    feed = {"value": [1, 2]}
    calls: list[Any] = []

    def work(x: list[int]) -> int:
        calls.append(x)
        return sum(x)

    scheduler = _fed(work, lambda: feed["value"], cache=CachePolicy())
    assert (await scheduler.execute()).task_return_set["work"] == 3
    feed["value"] = [5, 5]
    assert (await scheduler.execute()).task_return_set["work"] == 10
    feed["value"] = [1, 2]
    report = await scheduler.execute()
    assert report.task_return_set["work"] == 3
    assert report.statistics_for("work").status == "cached"
    assert calls == [[1, 2], [5, 5]]


async def test_changed_code_misses() -> None:
    """Another function under the same task id does not get the first one's value."""
    store = MemoryStore()
    config = AstrumConfig(store=store)
    first, second = SchedulerRegistry("code-a"), SchedulerRegistry("code-b")

    @first.task("price", cache=True)
    def price_v1() -> int:
        return 1

    @second.task("price", cache=True)
    def price_v2() -> int:
        return 2

    assert (await first.run(config=config)).task_return_set["price"] == 1
    report = await second.run(config=config)
    assert report.task_return_set["price"] == 2
    assert report.statistics_for("price").status == "completed"


async def test_same_code_elsewhere_shares_the_entry() -> None:
    """Identical code, task id and inputs hit even from another registry (keys are not per run)."""
    config = AstrumConfig(store=MemoryStore())
    registries = [SchedulerRegistry("same-a"), SchedulerRegistry("same-b")]
    for registry in registries:

        @registry.task("shared", cache=True)
        def shared() -> int:
            return 7

    await registries[0].run(config=config)
    report = await registries[1].run(config=config)
    assert report.statistics_for("shared").status == "cached"


async def test_closed_over_values_and_defaults_are_part_of_the_key() -> None:
    """Functions made by one factory differ by their closure and defaults, and so do their keys."""
    config = AstrumConfig(store=MemoryStore())

    def make(factor: int, offset: int) -> Callable[[], int]:
        def scaled(base: int = offset) -> int:
            return base * factor

        return scaled

    results = []
    for factor, offset in [(2, 1), (3, 1), (2, 5), (2, 1)]:
        registry = SchedulerRegistry(f"factory-{factor}-{offset}")
        registry.task("scaled", cache=True)(make(factor, offset))
        report = await registry.run(config=config)
        results.append((report.task_return_set["scaled"], report.statistics_for("scaled").status))
    assert results == [(2, "completed"), (3, "completed"), (10, "completed"), (2, "cached")]


async def test_a_changed_helper_function_misses() -> None:
    """Editing a module-level helper the task calls changes the task's key."""
    config = AstrumConfig(store=MemoryStore())
    namespace: dict[str, Any] = {}
    exec("def helper():\n    return 1\n\ndef task():\n    return helper()\n", namespace)
    registry = SchedulerRegistry("helper")
    registry.task("task", cache=True)(namespace["task"])
    assert (await registry.run(config=config)).task_return_set["task"] == 1
    exec("def helper():\n    return 2\n", namespace)
    report = await registry.run(config=config)
    assert (report.task_return_set["task"], report.statistics_for("task").status) == (
        2,
        "completed",
    )


async def test_policy_key_chooses_what_counts() -> None:
    """CachePolicy(key=...) builds the key from its result: other input changes still hit."""
    feed: dict[str, Any] = {"value": {"user": "ada", "request_id": 1}}
    calls: list[int] = []

    def work(x: dict[str, Any]) -> str:
        calls.append(x["request_id"])
        return str(x["user"]).upper()

    scheduler = _fed(work, lambda: feed["value"], cache=CachePolicy(key=lambda x: x["user"]))
    await scheduler.execute()
    feed["value"] = {"user": "ada", "request_id": 2}
    report = await scheduler.execute()
    assert (report.task_return_set["work"], report.statistics_for("work").status) == (
        "ADA",
        "cached",
    )
    feed["value"] = {"user": "grace", "request_id": 3}
    assert (await scheduler.execute()).task_return_set["work"] == "GRACE"
    assert calls == [1, 3]


async def test_a_failing_key_function_fails_the_task_with_a_note() -> None:
    """An error in CachePolicy.key fails the task, and says where it came from."""
    scheduler = _fed(lambda x: x, dict, cache=CachePolicy(key=lambda x: x["missing"]))
    report = await scheduler.execute()
    error = report.statistics_for("work").exception
    assert isinstance(error, KeyError)
    assert "cache key function of task 'work'" in "".join(error.__notes__)


async def test_ttl_expires_entries(registry: SchedulerRegistry) -> None:
    """An entry older than the policy's ttl is a miss; the task runs and the entry is renewed."""
    clock = Clock()
    calls: list[float] = []

    @registry.task(cache=CachePolicy(ttl=60))
    def rates() -> float:
        calls.append(clock.now)
        return clock.now

    config = AstrumConfig(store=MemoryStore(clock=clock))
    await registry.run(config=config)
    clock.now += 59
    assert (await registry.run(config=config)).task_return_set["rates"] == 1_000.0
    clock.now += 2
    assert (await registry.run(config=config)).task_return_set["rates"] == 1_061.0
    assert calls == [1_000.0, 1_061.0]


async def test_unhashable_input_runs_uncached_with_one_warning() -> None:
    """An input without a stable hash: one CacheWarning naming the task and type; never a hit."""
    calls: list[int] = []

    def work(x: Any) -> int:
        calls.append(1)
        return 1

    lock = threading.Lock()
    scheduler = _fed(work, lambda: {"guard": lock}, cache=CachePolicy())
    for _ in range(2):
        with pytest.warns(CacheWarning) as caught:
            report = await scheduler.execute()
        assert report.statistics_for("work").status == "completed"
        assert len(caught) == 1
        message = str(caught[0].message)
        assert "Task 'work'" in message
        assert "'_thread.lock'" in message
        assert "argument 'x'" in message
    assert len(calls) == 2


async def test_unpicklable_result_is_returned_but_not_cached(registry: SchedulerRegistry) -> None:
    """A result pickle refuses is still the task's value; one warning names its type."""

    @registry.task(cache=True)
    def make_lock() -> Any:
        return threading.Lock()

    config = AstrumConfig(store=MemoryStore())
    for _ in range(2):
        with pytest.warns(CacheWarning, match=r"Task 'make_lock'.*'_thread\.lock'") as caught:
            report = await registry.run(config=config)
        assert len(caught) == 1
        assert report.statistics_for("make_lock").status == "completed"
        assert type(report.task_return_set["make_lock"]) is type(threading.Lock())


async def test_failed_tasks_are_not_cached(registry: SchedulerRegistry) -> None:
    """Only a successful result is stored: a task that failed runs again next time."""
    outcomes: list[int | Exception] = [RuntimeError("flaky"), 5]

    @registry.task(cache=True)
    def flaky() -> int:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    config = AstrumConfig(store=MemoryStore())
    assert (await registry.run(config=config)).execution_state == "failed"
    assert (await registry.run(config=config)).task_return_set["flaky"] == 5
    assert (await registry.run(config=config)).statistics_for("flaky").status == "cached"


async def test_hits_are_copies(registry: SchedulerRegistry) -> None:
    """Mutating a value a hit returned does not change what the next hit returns."""

    @registry.task(cache=True)
    def rows() -> list[int]:
        return [1, 2]

    @registry.task(depends_on=["rows"])
    def noop() -> None:
        return None

    config = AstrumConfig(store=MemoryStore())
    await registry.run(config=config)
    (await registry.run(config=config)).task_return_set["rows"].append(3)
    assert (await registry.run(config=config)).task_return_set["rows"] == [1, 2]


async def test_default_store_is_shared_by_the_process() -> None:
    """Without AstrumConfig.store, cache=True uses the process-wide MemoryStore across runs."""
    calls: list[str] = []

    @astrum.task("default_store_probe", cache=True)
    async def probe() -> str:
        calls.append("probe")
        return "value"

    try:
        await astrum.run()
        report = await astrum.run()
        assert report.statistics_for("default_store_probe").status == "cached"
        assert calls == ["probe"]
        assert default_store().stats().entries >= 1
    finally:
        default_store().clear()


async def test_no_store_and_no_cached_task_means_no_cache_work(registry: SchedulerRegistry) -> None:
    """A workflow without cache=True and without a store never touches a store."""

    @registry.task()
    def plain() -> int:
        return 1

    before = default_store().stats()
    await registry.run()
    assert default_store().stats() == before


async def test_cached_tasks_emit_task_cached(registry: SchedulerRegistry) -> None:
    """A hit emits task_started then task_cached, not task_completed."""

    @registry.task(cache=True)
    def value() -> int:
        return 1

    seen: list[str] = []

    def listen(event: Event) -> None:
        if event.task == "value":
            seen.append(event.kind)

    store = MemoryStore()
    await registry.run(config=AstrumConfig(store=store))
    await registry.run(config=AstrumConfig(store=store, on_event=listen))
    assert seen == ["task_started", "task_cached"]


async def test_concurrent_runs_share_a_sqlite_store(
    registry: SchedulerRegistry, tmp_path: Path
) -> None:
    """Many concurrent runs in one process on one SqliteStore all get the right values."""
    for index in range(10):

        @registry.task(f"square_{index}", cache=True)
        async def square(index: int = index) -> int:
            await asyncio.sleep(0)
            return index * index

    with SqliteStore(tmp_path / "cache.db") as store:
        config = AstrumConfig(store=store)
        reports = await asyncio.gather(*(registry.run(config=config) for _ in range(8)))
        again = await registry.run(config=config)
    expected = {f"square_{i}": i * i for i in range(10)}
    assert all(report.task_return_set == expected for report in reports)
    assert again.task_return_set == expected
    assert {s.status for s in again.task_statistics} == {"cached"}


class _BrokenStore(MemoryStore):
    async def get(self, key: str, max_age: float | None = None) -> bytes | None:
        raise OSError("disk on fire")

    async def put(self, key: str, payload: bytes) -> None:
        raise OSError("disk on fire")


class _GarbageStore(MemoryStore):
    async def get(self, key: str, max_age: float | None = None) -> bytes | None:
        return b"\x80\x05this is not a pickle"


async def test_an_entry_that_does_not_unpickle_is_a_miss(registry: SchedulerRegistry) -> None:
    """A stored payload that fails to load (a renamed class, say) means: run the task."""
    registry.task("value", cache=True)(lambda: 41)
    report = await registry.run(config=AstrumConfig(store=_GarbageStore()))
    assert report.statistics_for("value").status == "completed"
    assert report.task_return_set == {"value": 41}


async def test_a_failing_store_does_not_fail_the_run(
    registry: SchedulerRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """Store errors are logged once and the run computes everything itself."""
    for index in range(3):
        registry.task(f"t{index}", cache=True)(lambda index=index: index)
    with caplog.at_level(logging.WARNING, logger="astrum"):
        report = await registry.run(config=AstrumConfig(store=_BrokenStore()))
    assert report.task_return_set == {"t0": 0, "t1": 1, "t2": 2}
    failures = [r for r in caplog.records if "disk on fire" in r.getMessage()]
    assert len(failures) == 1


def test_cache_option_is_validated(registry: SchedulerRegistry) -> None:
    """Bad cache options are refused at registration, naming the task."""
    with pytest.raises(TypeError, match="cache must be True, False or a CachePolicy"):
        registry.task(cache="yes")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match=r"Task 'bad_ttl': CachePolicy\.ttl must be a positive"):
        registry.task("bad_ttl", cache=CachePolicy(ttl=0))(lambda: 1)
    with pytest.raises(TypeError, match=r"Task 'bad_key': CachePolicy\.key must be a function"):
        registry.task("bad_key", cache=CachePolicy(key="user"))(lambda: 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"AstrumConfig\.store must be a cache store"):
        AstrumConfig(store=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_entries must be a positive integer"):
        MemoryStore(max_entries=0)


async def test_memory_store_evicts_least_recently_used() -> None:
    """With max_entries, the entry unused for longest goes first."""
    store = MemoryStore(max_entries=2)
    await store.put("a", b"1")
    await store.put("b", b"2")
    assert await store.get("a") == b"1"
    await store.put("c", b"3")
    assert (await store.get("a"), await store.get("b"), await store.get("c")) == (b"1", None, b"3")


async def test_progress_counts_cached_tasks_as_done(registry: SchedulerRegistry) -> None:
    """The progress display ends with every cached task done, none left running."""
    from rich.console import Console

    from astrum._views._progress import ProgressDisplay

    for index in range(3):
        registry.task(f"t{index}", cache=True)(lambda index=index: index)
    store = MemoryStore()
    await registry.run(config=AstrumConfig(store=store))
    console = Console(file=io.StringIO(), width=80, color_system=None)
    display = ProgressDisplay(3, console, live=False)
    await registry.run(config=AstrumConfig(store=store, on_event=display))
    assert (display.done, len(display.running)) == (3, 0)
    assert "3/3 finished" in console.file.getvalue()  # type: ignore[attr-defined]


async def test_values_fed_by_annotations_are_part_of_the_key(
    registry: SchedulerRegistry,
) -> None:
    """A cache=True task fed through Ref[..., F(...)] hits only for an equal upstream value."""
    feed = {"rows": [1, 2]}
    calls: list[list[int]] = []

    @registry.task()
    def load() -> list[int]:
        return list(feed["rows"])

    @registry.task(cache=True)
    def total(rows: Ref[list[int], F("load")]) -> int:
        calls.append(rows)
        return sum(rows)

    config = AstrumConfig(store=MemoryStore())
    assert (await registry.run(config=config)).task_return_set["total"] == 3
    feed["rows"] = [4, 5]
    assert (await registry.run(config=config)).task_return_set["total"] == 9
    feed["rows"] = [1, 2]
    report = await registry.run(config=config)
    assert (report.task_return_set["total"], report.statistics_for("total").status) == (
        3,
        "cached",
    )
    assert calls == [[1, 2], [4, 5]]


async def test_run_inputs_are_part_of_the_key(registry: SchedulerRegistry) -> None:
    """Each run-time input value gets its own entry; a repeated one is a hit."""
    calls: list[str] = []

    @registry.task(cache=True)
    async def search(query: Ref[str, Input("query")]) -> str:
        calls.append(query)
        return query.upper()

    config = AstrumConfig(store=MemoryStore())
    for query in ("cats", "dogs", "cats"):
        report = await registry.run(config=config, inputs={"query": query})
        assert report.task_return_set["search"] == query.upper()
    assert calls == ["cats", "dogs"]
