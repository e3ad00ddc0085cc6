"""Resuming a failed run: only what did not complete (or changed) runs again."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import astrum
from astrum import (
    AstrumConfig,
    DynamicScheduler,
    ExecutionReport,
    F,
    Input,
    MemoryStore,
    Ref,
    SchedulerRegistry,
    SqliteStore,
    TaskOrder,
)
from astrum._build._plan import Binding, TaskOptions
from astrum.cache import CachePolicy
from strategies import ResumeCase, resume_cases


def statuses(report: ExecutionReport) -> dict[str, str]:
    return {s.task_name: str(s.status) for s in report.task_statistics}


def _chain(registry: SchedulerRegistry, calls: list[str], failing: set[str]) -> None:
    """load -> clean -> publish, plus an independent audit task."""

    def body(name: str, value: Any) -> Callable[[], Any]:
        def run() -> Any:
            calls.append(name)
            if name in failing:
                raise RuntimeError(f"{name} is down")
            return value

        return run

    registry.task("load")(body("load", [1, 2, 3]))
    registry.task("clean", depends_on=["load"])(body("clean", [2, 4, 6]))
    registry.task("publish", depends_on=["clean"])(body("publish", "published"))
    registry.task("audit")(body("audit", "ok"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    """A fresh SQLite store in the test's directory."""
    with SqliteStore(tmp_path / "runs.db") as opened:
        yield opened


async def test_resume_runs_only_what_did_not_complete(
    registry: SchedulerRegistry, store: SqliteStore
) -> None:
    """Completed tasks come back from the store (reported cached); the failed one runs again."""
    calls: list[str] = []
    failing = {"publish"}
    _chain(registry, calls, failing)
    config = AstrumConfig(store=store)
    first = await registry.run(config=config)
    assert first.execution_state == "failed"
    failing.clear()
    calls.clear()
    resumed = await registry.run(config=config, resume=first)
    assert calls == ["publish"]
    assert statuses(resumed) == {
        "load": "cached",
        "clean": "cached",
        "audit": "cached",
        "publish": "completed",
    }
    assert resumed.execution_state == "completed"
    assert resumed.task_return_set == {
        "load": [1, 2, 3],
        "clean": [2, 4, 6],
        "publish": "published",
        "audit": "ok",
    }
    assert resumed.run_id != first.run_id


async def test_skipped_and_cancelled_tasks_run_again(
    registry: SchedulerRegistry, store: SqliteStore
) -> None:
    """With on_failure='continue' the skipped tasks, and with fail_fast the cancelled, re-run."""
    calls: list[str] = []
    failing = {"load"}
    _chain(registry, calls, failing)
    config = AstrumConfig(store=store, on_failure="continue")
    first = await registry.run(config=config)
    assert statuses(first) == {
        "load": "failed",
        "clean": "skipped",
        "publish": "skipped",
        "audit": "completed",
    }
    failing.clear()
    calls.clear()
    resumed = await registry.run(config=config, resume=first.run_id)
    assert sorted(calls) == ["clean", "load", "publish"]
    assert statuses(resumed)["audit"] == "cached"


async def test_cancelled_tasks_run_again(registry: SchedulerRegistry, store: SqliteStore) -> None:
    """A task cancelled when another failed (fail_fast) runs again on resume."""
    broken = {"boom": True, "slow": True}
    calls: list[str] = []

    @registry.task()
    async def quick() -> int:
        calls.append("quick")
        return 1

    @registry.task(depends_on=["quick"])
    async def boom() -> int:
        calls.append("boom")
        if broken["boom"]:
            raise RuntimeError("boom")
        return 2

    @registry.task()
    async def slow() -> int:
        calls.append("slow")
        if broken["slow"]:
            await asyncio.sleep(60)
        return 3

    config = AstrumConfig(store=store)
    first = await registry.run(config=config)
    assert statuses(first) == {"quick": "completed", "boom": "failed", "slow": "cancelled"}
    broken.update(boom=False, slow=False)
    calls.clear()
    resumed = await registry.run(config=config, resume=first)
    assert statuses(resumed) == {"quick": "cached", "boom": "completed", "slow": "completed"}
    assert sorted(calls) == ["boom", "slow"]


def test_resume_through_run_sync_and_module_run(store: SqliteStore) -> None:
    """run_sync and the module-level run take resume= too."""
    calls: list[str] = []
    failing = {"clean"}
    with astrum.use_namespace("resume-sync") as registry:
        _chain(registry, calls, failing)
        config = AstrumConfig(store=store)
        first = astrum.run_sync(namespace="resume-sync", config=config)
        failing.clear()
        second = astrum.run_sync(namespace="resume-sync", config=config, resume=first)
        assert statuses(second)["load"] == "cached"
        third = asyncio.run(astrum.run(namespace="resume-sync", config=config, resume=second))
    assert set(statuses(third).values()) == {"cached"}
    assert calls.count("load") == 1


async def test_changed_code_reruns_with_everything_downstream(store: SqliteStore) -> None:
    """Editing a task re-runs it and what depends on it, even through depends_on only."""
    config = AstrumConfig(store=store)
    calls: list[str] = []
    failing = {"publish"}
    before = SchedulerRegistry("before-edit")
    _chain(before, calls, failing)
    first = await before.run(config=config)
    failing.clear()
    calls.clear()

    after = SchedulerRegistry("after-edit")
    edited_calls: list[str] = []

    @after.task("load")
    def load_v2() -> list[int]:
        edited_calls.append("load")
        return [10, 20]

    for name, deps in (("clean", ["load"]), ("publish", ["clean"]), ("audit", [])):
        after.task(name, depends_on=deps)(before.get_task(name).function)
    resumed = await after.run(config=config, resume=first)
    assert edited_calls == ["load"]
    assert sorted(calls) == ["clean", "publish"]  # clean only waits for load, yet it re-runs
    assert statuses(resumed)["audit"] == "cached"


def _fed_chain(
    feed: dict[str, int], calls: list[str], store: SqliteStore, failing: Collection[str]
) -> DynamicScheduler:
    """``double`` takes a run-time input; ``report`` only waits for it; ``other`` is separate."""

    def double(x: int) -> int:
        calls.append("double")
        return 2 * x

    def report() -> str:
        calls.append("report")
        if "report" in failing:
            raise RuntimeError("report failed")
        return "sent"

    def other() -> str:
        calls.append("other")
        return "other"

    orders = [dbl := TaskOrder("double"), TaskOrder("report", [dbl]), TaskOrder("other")]
    return DynamicScheduler(
        [("double", double), ("report", report), ("other", other)],
        orders,
        bindings={"double": [Binding("x", provider=lambda: feed["value"])]},
        config=AstrumConfig(store=store, on_failure="continue"),
    )


async def test_changed_inputs_rerun(store: SqliteStore) -> None:
    """A task whose input differs from the resumed run's re-runs, and so does its downstream."""
    feed = {"value": 1}
    failing = {"report"}
    calls: list[str] = []
    first = await _fed_chain(feed, calls, store, failing).execute()
    assert first.task_return_set == {"double": 2, "other": "other"}
    feed["value"] = 5
    failing.clear()
    calls.clear()
    resumed = await _fed_chain(feed, calls, store, failing).execute(resume=first)
    assert calls == ["double", "report"]
    assert resumed.task_return_set == {"double": 10, "report": "sent", "other": "other"}


async def test_resuming_a_resumed_run_uses_the_latest_results(
    registry: SchedulerRegistry, store: SqliteStore
) -> None:
    """Run 3 resumes run 2, which resumed run 1: each task's newest completed value wins."""
    calls: list[str] = []
    failing = {"clean", "audit"}
    _chain(registry, calls, failing)
    config = AstrumConfig(store=store, on_failure="continue")
    first = await registry.run(config=config)
    failing.discard("clean")
    second = await registry.run(config=config, resume=first)
    assert statuses(second)["audit"] == "failed"
    assert statuses(second)["publish"] == "completed"
    failing.clear()
    calls.clear()
    third = await registry.run(config=config, resume=second)
    assert calls == ["audit"]
    assert statuses(third) == {
        "load": "cached",
        "clean": "cached",
        "publish": "cached",
        "audit": "completed",
    }


async def test_an_edit_after_a_partial_resume_still_reruns_downstream(
    store: SqliteStore,
) -> None:
    """A task recorded before its upstream changed is not taken back, even two resumes later."""
    config = AstrumConfig(store=store)
    calls: list[str] = []
    version = {"load": 1}
    failing = {"publish"}

    def build(name: str) -> SchedulerRegistry:
        registry = SchedulerRegistry(name)
        code = {1: "lambda: [1]", 2: "lambda: [2]"}[version["load"]]
        registry.task("load")(eval(code))  # a different code object per version
        for task, deps in (("clean", ["load"]), ("publish", ["clean"])):

            def body(task: str = task) -> str:
                calls.append(task)
                if task in failing:
                    raise RuntimeError(task)
                return task

            registry.task(task, depends_on=deps)(body)
        return registry

    first = await build("v1").run(config=config)  # load, clean complete; publish fails
    version["load"] = 2
    failing = {"clean"}  # the edit makes clean re-run, and this time it fails
    second = await build("v2").run(config=config, resume=first)
    assert statuses(second) == {"load": "completed", "clean": "failed"}
    failing = set()
    calls.clear()
    third = await build("v2b").run(config=config, resume=second)
    # clean's only record is from before load changed: it must run, not be restored.
    assert calls == ["clean", "publish"]
    assert statuses(third)["load"] == "cached"


async def test_unpicklable_results_run_again(
    registry: SchedulerRegistry, store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A result that cannot be stored is recomputed on resume, with what depends on it."""
    calls: list[str] = []
    failing = {"use"}

    @registry.task()
    def open_lock() -> Any:
        calls.append("open_lock")
        return threading.Lock()

    @registry.task(depends_on=["open_lock"])
    def use() -> str:
        calls.append("use")
        if "use" in failing:
            raise RuntimeError("use")
        return "used"

    config = AstrumConfig(store=store)
    with caplog.at_level(logging.INFO, logger="astrum"):
        first = await registry.run(config=config)
    assert any("open_lock" in r.getMessage() for r in caplog.records)
    failing.clear()
    calls.clear()
    await registry.run(config=config, resume=first)
    assert calls == ["open_lock", "use"]


async def test_cache_entries_and_run_records_work_together(
    registry: SchedulerRegistry, store: SqliteStore
) -> None:
    """A cache=True task is stored once: a hit for later runs, and restored for resume."""
    calls: list[str] = []

    @registry.task(cache=CachePolicy())
    def embed() -> list[float]:
        calls.append("embed")
        return [0.5]

    @registry.task(depends_on=["embed"])
    def index() -> str:
        calls.append("index")
        raise RuntimeError("index")

    config = AstrumConfig(store=store)
    first = await registry.run(config=config)
    second = await registry.run(config=config)  # a fresh run: embed is a cache hit
    assert statuses(second)["embed"] == "cached"
    assert calls == ["embed", "index", "index"]
    assert store.stats().entries == 1
    assert statuses(await registry.run(config=config, resume=first))["embed"] == "cached"


async def test_resume_errors_say_what_to_do(
    registry: SchedulerRegistry, store: SqliteStore
) -> None:
    """Resuming without a store, an unknown run, or a wrong type is refused clearly."""
    registry.task("only")(lambda: 1)
    report = await registry.run()
    with pytest.raises(ValueError, match=r"Cannot resume run '.*': no store recorded it"):
        await registry.run(resume=report)
    with pytest.raises(LookupError, match="has no record of it"):
        await registry.run(config=AstrumConfig(store=store), resume="no-such-run")
    with pytest.raises(TypeError, match="resume= takes the report of an earlier run"):
        await registry.run(config=AstrumConfig(store=store), resume=42)  # type: ignore[arg-type]


async def test_runs_are_listed_newest_first(registry: SchedulerRegistry) -> None:
    """The store lists recorded runs, so a crashed run's id can be found."""
    registry.task("one")(lambda: 1)
    store = MemoryStore()
    first = await registry.run(config=AstrumConfig(store=store))
    second = await registry.run(config=AstrumConfig(store=store), resume=first)
    runs = store.runs()
    assert [r.run_id for r in runs] == [second.run_id, first.run_id]
    assert (runs[0].resumed_from, runs[1].completed_tasks) == (first.run_id, 1)


# -- property: a resumed run ends where a clean run ends ---------------------------------------


def _scheduler(
    case: ResumeCase, config: AstrumConfig, failing: set[str], calls: list[str]
) -> DynamicScheduler:
    deps = dict(zip(case.dag.ids, case.dag.deps, strict=True))
    orders = {task: TaskOrder(task) for task in case.dag.ids}
    for task, order in orders.items():
        order.dependencies = [orders[dep] for dep in deps[task]]

    def make(task: str) -> Callable[..., Any]:
        async def body(*inputs: Any) -> list[Any]:
            calls.append(task)
            if task in failing:
                raise RuntimeError(f"{task} failed")
            return [task, *inputs]

        return body

    return DynamicScheduler(
        [(task, make(task)) for task in case.dag.ids],
        list(orders.values()),
        bindings={
            task: [
                Binding(f"p{n}", source_id=dep, positional=True)
                for n, dep in enumerate(d for d in deps[task] if (d, task) in case.data)
            ]
            for task in case.dag.ids
        },
        task_options={task: TaskOptions(cache=CachePolicy()) for task in case.cached},
        config=config,
    )


@given(resume_cases())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_resumed_run_equals_clean_run(case: ResumeCase) -> None:
    """Fail some tasks, then resume: the values equal a clean run's; nothing finished re-runs."""

    async def scenario(path: Path) -> None:
        calls: list[str] = []
        clean = await _scheduler(case, AstrumConfig(store=MemoryStore()), set(), calls).execute()
        failing = set(case.failing)
        with SqliteStore(path) as store:
            config = AstrumConfig(store=store, on_failure=case.on_failure)  # type: ignore[arg-type]
            scheduler = _scheduler(case, config, failing, calls)
            first = await scheduler.execute()
            assert first.execution_state == "failed"
            failing.clear()
            calls.clear()
            resumed = await scheduler.execute(resume=first)
        assert resumed.execution_state == "completed"
        assert resumed.task_return_set == clean.task_return_set
        finished = {t for t, status in statuses(first).items() if status == "completed"}
        # A task cancelled while its result was being written may be restored too.
        assert len(calls) == len(set(calls))
        assert set(calls) <= set(case.dag.ids) - finished
        restored = {t for t, s in statuses(resumed).items() if s == "cached"}
        assert finished <= restored
        assert restored | set(calls) == set(case.dag.ids)

    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(scenario(Path(directory) / "runs.db"))


async def test_resume_with_other_inputs_reruns_what_reads_them(
    registry: SchedulerRegistry, store: SqliteStore
) -> None:
    """Run-time inputs count as inputs: tasks reading a changed one re-run, with downstream."""
    calls: list[str] = []
    failing = {"send"}

    @registry.task()
    def catalogue() -> list[str]:
        calls.append("catalogue")
        return ["a", "b"]

    @registry.task()
    def pick(items: Ref[list[str], F("catalogue")], count: Ref[int, Input("count")]) -> list[str]:
        calls.append("pick")
        return items[:count]

    @registry.task()
    def send(picked: Ref[list[str], F("pick")]) -> str:
        calls.append("send")
        if "send" in failing:
            raise RuntimeError("send")
        return ",".join(picked)

    config = AstrumConfig(store=store)
    first = await registry.run(config=config, inputs={"count": 1})
    failing.clear()
    calls.clear()
    resumed = await registry.run(config=config, inputs={"count": 2}, resume=first)
    assert calls == ["pick", "send"]
    assert resumed.task_return_set["send"] == "a,b"
