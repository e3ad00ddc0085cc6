"""Manual DAGs, dynamic scheduling, executors, concurrency limits, tails and the report."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from _support import sleeper
from astrum import (
    AstrumConfig,
    DynamicScheduler,
    Event,
    ExecutionPlanner,
    ExecutionStage,
    SchedulerRegistry,
    TaskDuplicateExecutionError,
    TaskNotFoundError,
    TaskOrder,
    TaskRegistrationError,
)
from astrum._build._plan import Binding


def diamond() -> list[TaskOrder]:
    a = TaskOrder("a")
    b, c = TaskOrder("b", [a]), TaskOrder("c", [a])
    return [a, b, c, TaskOrder("d", [b, c])]


class Gauge:
    """Counts bodies running at once, from the loop or from threads."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self._lock:
            self.now -= 1


# -- TaskOrder --------------------------------------------------------------------------


def test_task_order_depend_accessor() -> None:
    """.depend reads and sets the single dependency."""
    a = TaskOrder("a")
    b = TaskOrder("b")
    assert b.depend is None
    b.depend = a
    assert b.dependencies == [a]
    assert b.depend is a
    b.depend = None
    assert b.dependencies == []


def test_task_order_repr_survives_bad_dependencies() -> None:
    """repr of a TaskOrder never raises, even when its dependencies are not TaskOrders."""
    order = TaskOrder("a")
    order.dependencies = ["b", 3]  # type: ignore[list-item]
    assert repr(order) == "TaskOrder('a', dependencies=['b', 3])"
    order.dependencies = None  # type: ignore[assignment]
    assert repr(order) == "TaskOrder('a', dependencies=None)"


def test_task_order_repr_names_only_and_identity_equality() -> None:
    """repr shows dependency names (never recursing); two orders are equal only if identical."""
    a = TaskOrder("a")
    a.dependencies = [a]  # even a self-loop prints
    assert repr(a) == "TaskOrder('a', dependencies=['a'])"
    assert TaskOrder("x") != TaskOrder("x")


# -- DynamicScheduler construction -------------------------------------------------------------


async def test_manual_dag_runs_and_reports() -> None:
    """A hand-built diamond runs every task once and returns their values."""
    tasks = [(name, sleeper(0, name.upper())) for name in "abcd"]
    report = await DynamicScheduler(tasks, diamond()).execute()
    assert report.execution_state == "completed"
    assert report.task_return_set == {"a": "A", "b": "B", "c": "C", "d": "D"}
    assert report.original_tasks == {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}


async def test_original_positional_signature_still_works() -> None:
    """DynamicScheduler(tasks, order, refs, has_data_path, ignore_tail_task, context) works."""
    orders = diamond()
    tasks = [(name, sleeper(0, name)) for name in "abcd"]
    has_data_path = False
    scheduler = DynamicScheduler(tasks, orders, None, has_data_path, ["d"], asyncio.Semaphore(2))
    report = await scheduler.execute()
    assert await report.tail_tasks["d"] == "d"


def test_coroutine_object_instead_of_function_is_a_type_error() -> None:
    """Passing f() instead of f raises TypeError showing the right call, with no warning."""

    async def load() -> None: ...

    with pytest.raises(TypeError, match=r"Pass the function itself: \('a', load\)"):
        DynamicScheduler([("a", load())], [TaskOrder("a")])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("tasks", "orders", "error", "message"),
    [
        ([("a", print), ("a", print)], ["a"], TaskDuplicateExecutionError, "two functions"),
        ([("a", print)], ["a", "b"], TaskNotFoundError, "No function was given for task 'b'"),
        ([("a", print), ("b", print)], ["a"], TaskNotFoundError, "'b' has a function but no"),
        ([("a", 3)], ["a"], TypeError, "must be a function"),
        (["a"], ["a"], TypeError, r"\(task_id, function\) pairs"),
    ],
    ids=["duplicate", "missing-function", "missing-order", "not-callable", "not-a-pair"],
)
def test_bad_manual_dags_are_refused(
    tasks: list[Any], orders: list[str], error: type[Exception], message: str
) -> None:
    """Construction names what is wrong with the tasks and orders."""
    with pytest.raises(error, match=message):
        DynamicScheduler(tasks, [TaskOrder(name) for name in orders])


def test_bad_task_retries_are_refused() -> None:
    """task_retries must name known tasks and hold non-negative ints."""
    with pytest.raises(TaskNotFoundError, match="'ghost'"):
        DynamicScheduler([("a", print)], [TaskOrder("a")], task_retries={"ghost": 1})
    with pytest.raises(TaskRegistrationError, match="retry must be a non-negative integer"):
        DynamicScheduler([("a", print)], [TaskOrder("a")], task_retries={"a": True})


def test_bindings_for_an_unknown_task_are_refused() -> None:
    """bindings= naming a task outside task_order is an error, not silently dropped."""
    with pytest.raises(TaskNotFoundError, match="Bindings were given for task 'ghost'"):
        DynamicScheduler(
            [("a", print)], [TaskOrder("a")], bindings={"ghost": [Binding("x", source_id="a")]}
        )


def test_ignore_tail_task_must_be_a_known_tail() -> None:
    """Only tasks nothing depends on can be tails; unknown ones are named."""
    tasks = [(name, print) for name in "abcd"]
    with pytest.raises(TaskRegistrationError, match="other tasks depend on it"):
        DynamicScheduler(tasks, diamond(), ignore_tail_task=["a"])
    with pytest.raises(TaskNotFoundError, match="'ghost'"):
        DynamicScheduler(tasks, diamond(), ignore_tail_task=["ghost"])


def test_scheduler_helpers() -> None:
    """detect_cycle is None for a built scheduler; find_task_by_name finds its order."""
    orders = diamond()
    scheduler = DynamicScheduler([(name, print) for name in "abcd"], orders)
    assert scheduler.detect_cycle() is None
    assert scheduler.find_task_by_name("c") is orders[2]
    assert scheduler.find_task_by_name("zzz") is None


# -- the levels view ------------------------------------------------------------------------


def test_execute_timeline_levels_and_text_views() -> None:
    """get_execute_timeline gives levels and the three text views, exactly."""
    plan = ExecutionPlanner(diamond()).get_execute_timeline()
    assert plan.stages == [
        ExecutionStage(0, ["a"], [], ["a"]),
        ExecutionStage(1, ["b", "c"], ["a"], ["b", "c"]),
        ExecutionStage(2, ["d"], ["b", "c"], ["d"]),
    ]
    assert (plan.total_tasks, plan.max_parallelism) == (4, 2)
    table = (
        "Execution plan: 4 tasks in 3 levels, at most 2 in parallel\n"
        "level  tasks  waits for\n"
        "-----  -----  ---------\n"
        "0      a      -\n"
        "1      b, c   a\n"
        "2      d      b, c"
    )
    info = "Task dependency graph:\n  a <- nothing\n  b <- a\n  c <- a\n  d <- b, c"
    assert plan.get_visualization_table() == table
    assert plan.get_dependency_graph_info() == info
    assert plan.get_full_visualization() == f"{info}\n\n{table}"


def test_scheduler_timeline_matches_the_planner() -> None:
    """DynamicScheduler.get_execute_timeline is the same view as the planner's."""
    orders = diamond()
    scheduler = DynamicScheduler([(name, print) for name in "abcd"], orders)
    assert (
        scheduler.get_execute_timeline().get_full_visualization()
        == ExecutionPlanner(orders).get_execute_timeline().get_full_visualization()
    )


# -- dynamic scheduling on virtual time ----------------------------------------------------------


@pytest.mark.looptime
async def test_makespan_is_the_critical_path(registry: SchedulerRegistry) -> None:
    """a1 (0.3 s) -> a2 (0.3 s) beside a chain b1..b6 (0.1 s each) takes 0.6 s, not 0.8 s."""
    registry.task("a1")(sleeper(0.3))
    registry.task("a2", depends_on=["a1"])(sleeper(0.3))
    for i in range(1, 7):
        registry.task(f"b{i}", depends_on=[f"b{i - 1}"] if i > 1 else None)(sleeper(0.1))
    loop = asyncio.get_running_loop()
    began = loop.time()
    report = await registry.run()
    assert loop.time() - began == pytest.approx(0.6)
    assert report.execution_duration == pytest.approx(0.6, abs=1e-3)
    starts = {s.task_name: s.start_time - report.total_start_time for s in report.task_statistics}
    offset = report.planning_duration
    assert starts["a2"] - offset == pytest.approx(0.3, abs=1e-3)
    assert starts["b4"] - offset == pytest.approx(0.3, abs=1e-3)


@pytest.mark.looptime
async def test_task_starts_when_its_last_dependency_completes(
    registry: SchedulerRegistry,
) -> None:
    """A join starts exactly when its slowest dependency ends, not at a level boundary."""
    started: dict[str, float] = {}
    loop = asyncio.get_running_loop()

    def timed(name: str, seconds: float) -> Callable[[], Awaitable[None]]:
        async def body() -> None:
            started[name] = loop.time()
            await asyncio.sleep(seconds)

        return body

    began = loop.time()
    registry.task("fast")(timed("fast", 0.1))
    registry.task("slow")(timed("slow", 0.5))
    registry.task("after_fast", depends_on=["fast"])(timed("after_fast", 0.1))
    registry.task("join", depends_on=["after_fast", "slow"])(timed("join", 0.1))
    await registry.run()
    assert {k: round(v - began, 6) for k, v in started.items()} == {
        "fast": 0.0,
        "slow": 0.0,
        "after_fast": 0.1,
        "join": 0.5,
    }


# -- executors ----------------------------------------------------------------------------------


async def test_sync_fan_out_runs_in_threads_in_parallel(registry: SchedulerRegistry) -> None:
    """Four independent time.sleep(0.2) tasks finish together, far sooner than 0.8 s."""
    for i in range(4):
        registry.task(f"s{i}")(lambda: time.sleep(0.2))
    began = time.perf_counter()
    report = await registry.run()
    elapsed = time.perf_counter() - began
    assert report.successful_tasks == 4
    assert elapsed < 0.6


async def test_where_sync_bodies_run(registry: SchedulerRegistry) -> None:
    """Sync bodies run in pool threads by default, on the loop thread when inline."""
    loop_thread = threading.get_ident()
    registry.task("pooled")(threading.get_ident)
    registry.task("inline", executor="inline")(threading.get_ident)

    @registry.task()
    async def on_loop() -> int:
        return threading.get_ident()

    values = (await registry.run()).task_return_set
    assert values["pooled"] != loop_thread
    assert values["inline"] == loop_thread
    assert values["on_loop"] == loop_thread
    config = AstrumConfig(executor="inline")
    assert (await registry.run(["pooled"], config)).task_return_set["pooled"] == loop_thread


async def test_a_user_executor_runs_the_sync_bodies(registry: SchedulerRegistry) -> None:
    """AstrumConfig(executor=pool) runs sync bodies in that pool and leaves it open."""
    registry.task("where")(lambda: threading.current_thread().name)
    with concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="mine") as pool:
        report = await registry.run(config=AstrumConfig(executor=pool))
        assert report.task_return_set["where"].startswith("mine")
        assert pool.submit(lambda: 1).result() == 1  # still usable after the run


def square_of_seven() -> int:
    return 7 * 7


async def test_a_process_pool_runs_sync_bodies(registry: SchedulerRegistry) -> None:
    """A ProcessPoolExecutor works as the executor for module-level functions."""
    registry.task("square")(square_of_seven)
    with concurrent.futures.ProcessPoolExecutor(1) as pool:
        report = await registry.run(config=AstrumConfig(executor=pool))
    assert report.task_return_set == {"square": 49}


async def test_contextvars_reach_sync_bodies_in_threads(registry: SchedulerRegistry) -> None:
    """A context variable set by the caller is visible inside a threaded sync body."""
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
    registry.task("read")(request_id.get)
    request_id.set("r-42")
    assert (await registry.run()).task_return_set == {"read": "r-42"}


# -- concurrency limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3])
async def test_concurrency_limit_bounds_async_and_sync_bodies(
    registry: SchedulerRegistry, limit: int
) -> None:
    """With concurrency_limit=N never more than N bodies run at once, threads included."""
    gauge = Gauge()

    def sync_body() -> None:
        gauge.enter()
        time.sleep(0.02)
        gauge.leave()

    async def async_body() -> None:
        gauge.enter()
        await asyncio.sleep(0.02)
        gauge.leave()

    for i in range(12):
        registry.task(f"t{i}")(sync_body if i % 2 else async_body)
    report = await registry.run(config=AstrumConfig(concurrency_limit=limit))
    assert report.successful_tasks == 12
    assert 1 <= gauge.peak <= limit


@pytest.mark.looptime
async def test_concurrency_limit_runs_exactly_n_at_once(registry: SchedulerRegistry) -> None:
    """Six 1 s tasks under concurrency_limit=3 take exactly 2 s: three at a time, no fewer."""
    for i in range(6):
        registry.task(f"t{i}")(sleeper(1))
    loop = asyncio.get_running_loop()
    began = loop.time()
    await registry.run(config=AstrumConfig(concurrency_limit=3))
    assert loop.time() - began == pytest.approx(2)


async def test_shared_concurrency_context_bounds_concurrent_runs(
    registry: SchedulerRegistry,
) -> None:
    """One user semaphore passed to two concurrent runs bounds their bodies together."""
    gauge = Gauge()

    async def body() -> None:
        gauge.enter()
        await asyncio.sleep(0.01)
        gauge.leave()

    for i in range(6):
        registry.task(f"t{i}")(body)
    shared = asyncio.Semaphore(2)
    schedulers = [registry.build_scheduler(concurrency_context=shared) for _ in range(2)]
    reports = await asyncio.gather(*(s.execute() for s in schedulers))
    assert [r.successful_tasks for r in reports] == [6, 6]
    assert gauge.peak == 2


async def test_limit_wait_is_reported_as_queued_time(registry: SchedulerRegistry) -> None:
    """A task that waited for a free slot reports that wait as queued_duration."""
    registry.task("first")(sleeper(0.05))
    registry.task("second")(sleeper(0.05))
    report = await registry.run(config=AstrumConfig(concurrency_limit=1))
    queued = sorted(s.queued_duration for s in report.task_statistics)
    assert queued[0] < 0.01
    assert queued[1] >= 0.04


# -- ignore_tail_task ----------------------------------------------------------------------------


async def test_tail_task_starts_but_is_not_awaited(registry: SchedulerRegistry) -> None:
    """A listed tail starts, the run returns without waiting, and its task is in the report."""
    release = asyncio.Event()
    registry.task("main")(sleeper(0, "main"))

    @registry.task(depends_on=["main"])
    async def notify() -> str:
        await release.wait()
        return "sent"

    report = await registry.run(config=AstrumConfig(ignore_tail_task=["notify"]))
    tail = report.tail_tasks["notify"]
    assert report.execution_state == "completed"
    assert report.task_return_set == {"main": "main"}
    assert not tail.done()
    release.set()
    assert await tail == "sent"


async def test_failing_tail_task_raises_to_whoever_awaits_it(
    registry: SchedulerRegistry,
) -> None:
    """A tail that fails after the report raises its error when awaited."""

    @registry.task()
    async def audit() -> None:
        await asyncio.sleep(0.01)
        raise ValueError("audit failed")

    report = await registry.run(config=AstrumConfig(ignore_tail_task=["audit"]))
    assert report.execution_state == "completed"
    with pytest.raises(ValueError, match="audit failed"):
        await report.tail_tasks["audit"]


@pytest.mark.looptime
async def test_tail_failing_during_the_run_does_not_stop_it(registry: SchedulerRegistry) -> None:
    """A tail that fails while the run goes on stops nothing, and the report lists its failure."""

    @registry.task()
    async def audit() -> None:
        await asyncio.sleep(1)
        raise ValueError("audit failed")

    registry.task("main")(sleeper(2, "main"))
    report = await registry.run(config=AstrumConfig(ignore_tail_task=["audit"]))
    assert report.task_return_set == {"main": "main"}
    assert report.execution_state == "failed"
    assert report.error_summary == ["Task 'audit' failed: ValueError: audit failed"]
    with pytest.raises(ValueError, match="audit failed"):
        await report.tail_tasks["audit"]


async def test_sync_tail_task_releases_its_thread_when_done(registry: SchedulerRegistry) -> None:
    """A sync tail keeps its thread until it returns; then no astrum thread is left."""
    registry.task("log")(lambda: time.sleep(0.05))
    report = await registry.run(config=AstrumConfig(ignore_tail_task=["log"]))
    await report.tail_tasks["log"]
    await asyncio.sleep(0.01)
    for thread in threading.enumerate():
        if thread.name.startswith("astrum"):
            thread.join(1)
    assert not [t for t in threading.enumerate() if t.name.startswith("astrum")]


# -- the report ------------------------------------------------------------------------------------


@pytest.mark.looptime
async def test_report_fields_add_up(registry: SchedulerRegistry) -> None:
    """The report's totals, per-task and per-level statistics agree with each other."""
    registry.task("a")(sleeper(0.1, 1))
    registry.task("b", depends_on=["a"])(sleeper(0.2, 2))
    registry.task("c", depends_on=["a"])(sleeper(0.3, 3))
    registry.task("d", depends_on=["b", "c"])(sleeper(0.1, 4))
    report = await registry.run()
    assert report.execution_state == "completed"
    assert (report.total_tasks, report.total_stages, report.max_parallelism) == (4, 3, 2)
    assert (report.successful_tasks, report.failed_tasks, report.error_summary) == (4, 0, [])
    assert report.task_return_set == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert report.total_duration == pytest.approx(
        report.planning_duration + report.execution_duration
    )
    assert report.execution_duration == pytest.approx(0.5, abs=1e-3)
    assert len(report.run_id) == 32
    by_name = {s.task_name: s for s in report.task_statistics}
    assert [by_name[n].stage_id for n in "abcd"] == [0, 1, 1, 2]
    for stats in report.task_statistics:
        assert stats.status == "completed"
        assert stats.duration == pytest.approx(stats.end_time - stats.start_time)
        assert report.total_start_time <= stats.start_time <= stats.end_time
        assert stats.end_time <= report.total_end_time
        assert (stats.attempt_count, stats.retry, stats.error_message) == (1, 0, None)
        assert [a.status for a in stats.attempt_statistics] == ["completed"]
    assert [s.task_name for s in report.get_task_statistics_by_stage(1)] == ["b", "c"]
    longest = report.get_longest_task()
    assert longest is not None
    assert longest.task_name == "c"
    assert report.get_average_task_duration() == pytest.approx(0.7 / 4, abs=1e-3)
    levels = report.stage_statistics
    assert [(s.stage_id, s.parallel_tasks, s.wait_tasks) for s in levels] == [
        (0, ["a"], []),
        (1, ["b", "c"], ["a"]),
        (2, ["d"], ["b", "c"]),
    ]
    assert levels[1].duration == pytest.approx(0.3, abs=1e-3)
    assert levels[1].parallel_task_count == 2
    assert report.statistics_for("d").start_time == pytest.approx(by_name["c"].end_time)


async def test_empty_workflow_is_an_error(registry: SchedulerRegistry) -> None:
    """Running a registry with no tasks is an error, not an empty completed report."""
    with pytest.raises(TaskNotFoundError, match="has no tasks, so there is nothing to run"):
        await registry.run()


async def test_same_scheduler_runs_again_with_fresh_state(registry: SchedulerRegistry) -> None:
    """Executing one scheduler twice gives two independent, equal reports."""
    calls: list[int] = []

    @registry.task()
    def count() -> int:
        calls.append(1)
        return len(calls)

    scheduler = registry.build_scheduler()
    first, second = await scheduler.execute(), await scheduler.execute()
    assert (first.task_return_set, second.task_return_set) == ({"count": 1}, {"count": 2})
    assert first.run_id != second.run_id


# -- isolation of concurrent runs ----------------------------------------------------------------

RUN_NUMBER: contextvars.ContextVar[int] = contextvars.ContextVar("run_number")


async def test_hundred_concurrent_runs_of_one_registry_are_isolated(
    registry: SchedulerRegistry,
) -> None:
    """100 overlapping runs each see only their own values, failures and statistics."""
    everyone_started = asyncio.Barrier(100)

    @registry.task()
    async def fetch() -> int:
        await everyone_started.wait()  # all 100 runs are inside fetch at once
        return RUN_NUMBER.get()

    @registry.task()
    def compute() -> int:
        return RUN_NUMBER.get() * 10

    @registry.task(depends_on=["fetch", "compute"])
    async def publish() -> int:
        number = RUN_NUMBER.get()
        if number % 7 == 0:
            raise ValueError(f"run {number} refuses to publish")
        return number * 100

    async def one_run(number: int) -> Any:
        RUN_NUMBER.set(number)
        return await registry.run()

    reports = await asyncio.gather(*(one_run(n) for n in range(100)))
    assert len({r.run_id for r in reports}) == 100
    for number, report in enumerate(reports):
        if number % 7 == 0:
            assert report.execution_state == "failed"
            assert report.error_summary == [
                f"Task 'publish' failed: ValueError: run {number} refuses to publish"
            ]
            assert report.task_return_set == {"fetch": number, "compute": number * 10}
        else:
            assert report.execution_state == "completed"
            assert report.task_return_set == {
                "fetch": number,
                "compute": number * 10,
                "publish": number * 100,
            }


# -- logging and events ---------------------------------------------------------------------------


async def test_silence_keeps_the_run_quiet(
    registry: SchedulerRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """silence=True (the default) logs no chatter; silence=False logs how a run ended."""

    @registry.task()
    async def fine() -> None:
        return None

    with caplog.at_level(logging.DEBUG, logger="astrum"):
        await registry.run()
        assert caplog.records == []
        await registry.run(config=AstrumConfig(silence=False))
    assert [(r.name, r.levelno) for r in caplog.records] == [("astrum", logging.INFO)]
    assert "completed: 1 task" in caplog.records[0].getMessage()


async def test_listeners_see_every_event_in_order(registry: SchedulerRegistry) -> None:
    """Sync and async listeners get run and task events in order; a raising one is ignored."""
    seen: list[tuple[str, str | None]] = []
    async_seen: list[str] = []

    def listener(event: Event) -> None:
        seen.append((event.kind, event.task))

    async def async_listener(event: Event) -> None:
        await asyncio.sleep(0)
        async_seen.append(event.kind)

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    registry.task("a")(sleeper(0))
    registry.task("b", depends_on=["a"])(sleeper(0))
    config = AstrumConfig(on_event=[listener, async_listener, broken])
    logging.getLogger("astrum").disabled = True
    try:
        report = await registry.run(config=config)
    finally:
        logging.getLogger("astrum").disabled = False
    assert report.execution_state == "completed"
    assert seen == [
        ("run_started", None),
        ("task_started", "a"),
        ("task_completed", "a"),
        ("task_started", "b"),
        ("task_completed", "b"),
        ("run_finished", None),
    ]
    assert sorted(async_seen) == sorted(kind for kind, _ in seen)
