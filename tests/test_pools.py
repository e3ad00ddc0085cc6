"""Resource pools: per-tag concurrency limits on top of the global one."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astrum import AstrumConfig, SchedulerRegistry, TaskRegistrationError


def _tracked(
    registry: SchedulerRegistry,
    name: str,
    tags: tuple[str, ...],
    peaks: Counter[str],
    live: Counter[str],
    delay: float = 0.01,
) -> None:
    async def body() -> None:
        for tag in tags:
            live[tag] += 1
            peaks[tag] = max(peaks[tag], live[tag])
        live["*"] += 1
        peaks["*"] = max(peaks["*"], live["*"])
        await asyncio.sleep(delay)
        for tag in tags:
            live[tag] -= 1
        live["*"] -= 1

    body.__name__ = name
    registry.task(name, tags=tags)(body)


@pytest.mark.looptime
async def test_pool_limits_tagged_tasks(registry: SchedulerRegistry) -> None:
    """At most `size` tasks carrying a pool's tag run at once; others are not held back."""
    peaks: Counter[str] = Counter()
    live: Counter[str] = Counter()
    for i in range(6):
        _tracked(registry, f"db{i}", ("db",), peaks, live)
    for i in range(4):
        _tracked(registry, f"free{i}", (), peaks, live)
    report = await registry.run(config=AstrumConfig(pools={"db": 2}))
    assert report.execution_state == "completed"
    assert peaks["db"] == 2
    assert peaks["*"] == 6  # two db tasks plus all four untagged ones


@pytest.mark.looptime
async def test_pool_wait_is_reported_as_queued_duration(registry: SchedulerRegistry) -> None:
    """A task that waited for a pool slot reports how long in queued_duration."""
    for i in range(2):

        async def body() -> None:
            await asyncio.sleep(1)

        registry.task(f"t{i}", tags=["api"])(body)
    report = await registry.run(config=AstrumConfig(pools={"api": 1}))
    queued = sorted(s.queued_duration for s in report.task_statistics)
    assert queued == pytest.approx([0.0, 1.0], abs=0.01)


@pytest.mark.looptime
async def test_several_tags_hold_a_slot_in_each_without_deadlock(
    registry: SchedulerRegistry,
) -> None:
    """Tasks with overlapping tag sets, declared in different orders, all finish."""
    peaks: Counter[str] = Counter()
    live: Counter[str] = Counter()
    for i in range(8):
        tags = ("a", "b") if i % 2 else ("b", "a")
        _tracked(registry, f"t{i}", tags, peaks, live)
    config = AstrumConfig(pools={"a": 1, "b": 2}, concurrency_limit=3)
    report = await asyncio.wait_for(registry.run(config=config), timeout=60)
    assert report.successful_tasks == 8
    assert peaks["a"] == 1


def test_unknown_pool_name_is_a_build_error(registry: SchedulerRegistry) -> None:
    """A pool that no task's tags mention is reported with the tags that exist."""

    @registry.task(tags=("db",))
    def query() -> None: ...

    with pytest.raises(TaskRegistrationError, match=r"pools names 'dbb'.*tags here: db"):
        registry.build_scheduler(config=AstrumConfig(pools={"dbb": 1}))


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_pool_size_must_be_a_positive_integer(size: object) -> None:
    """Non-positive or non-integer pool sizes are refused."""
    with pytest.raises(ValueError, match="Pool 'db' must have a positive integer size"):
        AstrumConfig(pools={"db": size})  # type: ignore[dict-item]


def test_tags_must_be_strings(registry: SchedulerRegistry) -> None:
    """A non-string tag is refused when the task is declared."""
    with pytest.raises(TypeError, match="Tags must be non-empty strings"):
        registry.task(tags=[1])  # type: ignore[list-item]


@settings(max_examples=25, deadline=None)
@given(
    tag_sets=st.lists(st.sets(st.sampled_from("xyz"), max_size=3), min_size=1, max_size=12),
    sizes=st.fixed_dictionaries({t: st.integers(1, 3) for t in "xyz"}),
)
def test_pool_sizes_are_never_exceeded(tag_sets: list[set[str]], sizes: dict[str, int]) -> None:
    """With random tags and pool sizes, running tasks per tag never exceed the pool size."""
    registry = SchedulerRegistry("pools-property")
    peaks: Counter[str] = Counter()
    live: Counter[str] = Counter()
    for i, tags in enumerate(tag_sets):
        _tracked(registry, f"t{i}", tuple(sorted(tags)), peaks, live, delay=0)
    used = {tag for tags in tag_sets for tag in tags}
    pools = {tag: size for tag, size in sizes.items() if tag in used}
    report = asyncio.run(registry.run(config=AstrumConfig(pools=pools)))
    assert report.successful_tasks == len(tag_sets)
    for tag, size in pools.items():
        assert peaks[tag] <= size
