"""Running one workflow many times: run() reuses its plan, concurrent runs share a pool."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from astrum import AstrumConfig, F, Input, Ref, SchedulerRegistry, TaskNotFoundError, testing
from astrum._registry import SchedulerRegistry as _Registry
from astrum._run._executors import default_thread_count


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


async def test_a_task_registered_during_a_build_is_in_the_next_run(
    registry: SchedulerRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan built while a task was registered (from another thread, say) is not kept."""
    _two_tasks(registry)
    real = _Registry.build_scheduler

    def registering_meanwhile(self: _Registry, *args: Any, **kwargs: Any) -> Any:
        scheduler = real(self, *args, **kwargs)  # built without "late"
        if "late" not in self.get_all_tasks():
            self.task("late")(lambda: "here")
        return scheduler

    monkeypatch.setattr(_Registry, "build_scheduler", registering_meanwhile)
    first = await registry.run()
    assert "late" not in first.task_return_set
    second = await registry.run()
    assert second.task_return_set["late"] == "here"


async def test_clearing_invalidates_the_plan(registry: SchedulerRegistry) -> None:
    """After clear() a run sees only what was registered since, never the old plan."""
    _two_tasks(registry)
    await registry.run()
    registry.clear()
    with pytest.raises(TaskNotFoundError, match="has no tasks"):
        await registry.run()

    @registry.task()
    async def fresh() -> str:
        return "new"

    report = await registry.run()
    assert report.task_return_set == {"fresh": "new"}


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


# -- concurrent runs share one pool --------------------------------------------------


def _sync_workflow(registry: SchedulerRegistry, seconds: float, peak: list[int]) -> None:
    """Two plain functions that sleep, then an async join; bodies record the thread count."""

    def work() -> int:
        peak[0] = max(peak[0], threading.active_count())
        time.sleep(seconds)
        return 1

    registry.task("left")(work)
    registry.task("right")(work)

    @registry.task()
    async def join(a: Ref[int, F("left")], b: Ref[int, F("right")]) -> int:
        return a + b


def test_a_thousand_concurrent_runs_use_a_bounded_pool(registry: SchedulerRegistry) -> None:
    """1,000 concurrent runs with sync tasks use the loop's pool, and no thread outlives it."""
    peak = [0]
    _sync_workflow(registry, 0.001, peak)
    before = set(threading.enumerate())

    async def main() -> list[Any]:
        return await asyncio.gather(*(registry.run() for _ in range(1_000)))

    reports = asyncio.run(main())
    assert all(report.task_return_set["join"] == 2 for report in reports)
    assert peak[0] - len(before) <= default_thread_count()
    assert [t for t in threading.enumerate() if t not in before] == []


def test_max_workers_sizes_the_shared_pool(registry: SchedulerRegistry) -> None:
    """With max_workers, concurrent runs share a pool of that size, closed with the loop."""
    peak = [0]
    _sync_workflow(registry, 0.001, peak)
    before = set(threading.enumerate())
    config = AstrumConfig(max_workers=3)

    async def main() -> list[Any]:
        return await asyncio.gather(*(registry.run(config=config) for _ in range(50)))

    reports = asyncio.run(main())
    assert all(report.execution_state == "completed" for report in reports)
    assert peak[0] - len(before) <= 3
    assert [t for t in threading.enumerate() if t not in before] == []


@pytest.mark.parametrize("ending", ["fails", "is_cancelled"])
async def test_a_run_that_ends_early_leaves_other_runs_alone(
    registry: SchedulerRegistry, ending: str
) -> None:
    """A failing or cancelled run sharing the pool does not touch another run's tasks."""
    started = threading.Barrier(3, timeout=5)

    def slow() -> str:
        started.wait()  # both runs' sync bodies are in the shared pool at once
        time.sleep(0.05)
        return "done"

    registry.task("slow")(slow)

    @registry.task()
    async def check(fail: Ref[bool, Input("fail")]) -> None:
        await asyncio.sleep(0.01)
        if fail and ending == "fails":
            raise ValueError("this run fails")
        if fail:
            await asyncio.sleep(10)

    doomed = asyncio.create_task(registry.run(inputs={"fail": True}))
    healthy = asyncio.create_task(registry.run(inputs={"fail": False}))
    await asyncio.to_thread(started.wait)
    if ending == "is_cancelled":
        await asyncio.sleep(0.02)
        doomed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await doomed
    else:
        assert (await doomed).execution_state == "failed"
    report = await healthy
    assert report.execution_state == "completed"
    assert report.task_return_set["slow"] == "done"


async def test_a_per_run_pool_on_request(registry: SchedulerRegistry) -> None:
    """thread_pool='per_run' gives the run threads of its own, gone when the run ends."""
    names: list[str] = []
    registry.task("where")(lambda: names.append(threading.current_thread().name))
    before = set(threading.enumerate())
    await registry.run(config=AstrumConfig(thread_pool="per_run"))
    assert names[0].startswith("astrum")
    assert [t for t in threading.enumerate() if t not in before] == []


def test_thread_pool_must_be_a_known_choice() -> None:
    """A misspelt thread_pool is rejected when the config is made."""
    with pytest.raises(ValueError, match="thread_pool must be 'shared' or 'per_run'"):
        AstrumConfig(thread_pool="global")  # type: ignore[arg-type]


OPTIONAL = (
    "rich",
    "dask",
    "distributed",
    "pydantic",
    "opentelemetry",
    "sqlite3",
    "multiprocessing",
)
"""Imported only by the features that use them (extras, stores, process pools)."""
DEFERRED = (
    *OPTIONAL,
    # The run machinery and what only it, a store or a view needs: loaded by the first
    # scheduler, run, store or view, not by ``import astrum``.
    "astrum._run",
    "astrum._store",
    "astrum._views",
    "pickle",
    "hashlib",
    "random",
    "pathlib",
    "importlib.util",
)


def test_import_astrum_leaves_the_run_machinery_and_the_extras_unloaded() -> None:
    """`import astrum` loads no optional extra and nothing that only running needs; a run
    loads the run machinery but still none of the extras."""
    code = (
        "import asyncio, json, sys\n"
        f"deferred = {DEFERRED!r}\n"
        "def loaded():\n"
        "    return sorted({d for d in deferred for m in sys.modules if m == d or "
        "m.startswith(d + '.')})\n"
        "import astrum\n"
        "print(json.dumps(loaded()))\n"
        "flow = astrum.SchedulerRegistry('probe')\n"
        "@flow.task()\n"
        "async def one() -> int:\n"
        "    return 1\n"
        "assert asyncio.run(flow.run()).task_return_set == {'one': 1}\n"
        "print(json.dumps(loaded()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    at_import, after_a_run = (json.loads(line) for line in result.stdout.splitlines())
    assert at_import == []
    assert "astrum._run" in after_a_run  # the probe sees what a run imports
    assert not set(after_a_run) & set(OPTIONAL)
