"""Control and reliability: timeouts, retries, failure policy, cancellation, run_sync, leftovers."""

from __future__ import annotations

import asyncio
import gc
import itertools
import math
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import astrum
from _support import sleeper
from astrum import (
    AstrumConfig,
    ExecutionReport,
    SchedulerRegistry,
    TaskExecutionStatistics,
    get_registry,
    run,
    run_sync,
    task,
    use_namespace,
)


def stats(report: ExecutionReport) -> dict[str, TaskExecutionStatistics]:
    return {s.task_name: s for s in report.task_statistics}


def statuses(report: ExecutionReport) -> dict[str, str]:
    return {s.task_name: s.status for s in report.task_statistics}


PER_RUN = AstrumConfig(thread_pool="per_run")
"""Sync bodies in a pool of the run's own, whose threads end with the run (see
test_running_often.py for the pool that runs share by default)."""


def new_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before and t.is_alive()]


@contextmanager
def no_leftovers() -> Iterator[None]:
    """Assert that the block leaves no new thread, asyncio task or pending future behind."""
    loop = asyncio.get_running_loop()
    before_threads = set(threading.enumerate())
    before_tasks = asyncio.all_tasks()
    yield
    assert new_threads(before_threads) == []
    assert asyncio.all_tasks() - before_tasks == set()
    tasks = asyncio.all_tasks()
    pending = [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, asyncio.Future)
        and not obj.done()
        and obj.get_loop() is loop
        and obj not in tasks
    ]
    assert pending == []


# -- per-attempt timeouts ---------------------------------------------------------------------


@pytest.mark.looptime
async def test_async_timeout_fails_the_attempt_naming_task_and_limit(
    registry: SchedulerRegistry,
) -> None:
    """An async attempt is cancelled at its deadline and fails with a TimeoutError naming both."""
    finished: list[str] = []

    @registry.task(timeout=1.5)
    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            finished.append("cleanup")

    loop = asyncio.get_running_loop()
    began = loop.time()
    report = await registry.run()
    assert loop.time() - began == pytest.approx(1.5)
    assert finished == ["cleanup"]
    slow_stats = stats(report)["slow"]
    assert slow_stats.status == "failed"
    assert slow_stats.error_message == "Task 'slow' timed out after 1.5 s (attempt 1)."
    assert isinstance(slow_stats.exception, TimeoutError)
    assert [a.status for a in slow_stats.attempt_statistics] == ["failed"]
    assert report.error_summary == [
        "Task 'slow' failed: TimeoutError: Task 'slow' timed out after 1.5 s (attempt 1)."
    ]


@pytest.mark.looptime
async def test_timed_out_attempts_are_retried(registry: SchedulerRegistry) -> None:
    """A timeout counts as a failed attempt; retries get a fresh deadline each."""
    attempts: list[float] = []
    loop = asyncio.get_running_loop()

    @registry.task(timeout=1, retry=2)
    async def flaky() -> str:
        attempts.append(loop.time())
        await asyncio.sleep(5 if len(attempts) < 3 else 0.5)
        return "third time"

    began = loop.time()
    report = await registry.run()
    assert report.task_return_set == {"flaky": "third time"}
    assert [round(t - began, 6) for t in attempts] == [0, 1, 2]
    messages = [a.error_message for a in stats(report)["flaky"].attempt_statistics]
    assert messages == [
        "Task 'flaky' timed out after 1 s (attempt 1).",
        "Task 'flaky' timed out after 1 s (attempt 2).",
        None,
    ]


async def test_timeout_error_raised_by_the_body_keeps_its_message(
    registry: SchedulerRegistry,
) -> None:
    """A TimeoutError the body raises itself (before its deadline) is reported as is."""

    @registry.task(timeout=30)
    async def upstream_call() -> None:
        raise TimeoutError("the API did not answer")

    report = await registry.run()
    assert stats(report)["upstream_call"].error_message == "the API did not answer"


async def test_sync_timeout_discards_the_result_and_the_thread_finishes_alone(
    registry: SchedulerRegistry,
) -> None:
    """A sync body past its timeout fails the task at once; its thread ends when the body does."""
    body_done = threading.Event()
    before = set(threading.enumerate())

    @registry.task(timeout=0.1)
    def blocking() -> str:
        time.sleep(0.5)
        body_done.set()
        return "late"

    began = time.perf_counter()
    report = await registry.run(config=PER_RUN)  # the shared pool's threads stay, idle
    assert time.perf_counter() - began < 0.4
    assert not body_done.is_set()  # the run did not wait for the thread
    assert statuses(report) == {"blocking": "failed"}
    assert report.task_return_set == {}
    assert "timed out after 0.1 s" in report.error_summary[0]
    assert body_done.wait(5)
    for thread in new_threads(before):
        thread.join(5)
    assert new_threads(before) == []


async def test_inline_body_that_overran_its_timeout_fails(registry: SchedulerRegistry) -> None:
    """An inline sync body cannot be interrupted, but overrunning its timeout still fails it."""

    @registry.task(timeout=0.05, executor="inline")
    def blocks_the_loop() -> str:
        time.sleep(0.2)
        return "too late"

    report = await registry.run()
    assert report.task_return_set == {}
    assert stats(report)["blocks_the_loop"].error_message == (
        "Task 'blocks_the_loop' timed out after 0.05 s (attempt 1)."
    )


@pytest.mark.looptime
async def test_timeout_does_not_count_the_wait_for_a_slot(registry: SchedulerRegistry) -> None:
    """The per-attempt timeout measures the body, not the time queued for a concurrency slot."""
    registry.task("first", timeout=1)(sleeper(0.8, 1))
    registry.task("second", timeout=1)(sleeper(0.8, 2))
    report = await registry.run(config=AstrumConfig(concurrency_limit=1))
    assert report.task_return_set == {"first": 1, "second": 2}


@pytest.mark.parametrize(
    "timeout", [0, -1, math.nan, math.inf, True, "1"], ids=["0", "-1", "nan", "inf", "bool", "str"]
)
def test_bad_timeouts_are_refused(registry: SchedulerRegistry, timeout: object) -> None:
    """Timeouts are positive finite numbers of seconds; anything else is refused at registration."""
    with pytest.raises(ValueError, match="Task 't': timeout must be"):
        registry.task("t", timeout=timeout)(lambda: None)  # type: ignore[call-overload]


# -- retry policy -----------------------------------------------------------------------------


async def test_every_attempt_is_recorded(registry: SchedulerRegistry) -> None:
    """retry=2 with two failures then success records three attempts, in order."""
    calls: list[int] = []

    @registry.task(retry=2)
    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError(f"try {len(calls)}")
        return "ok"

    report = await registry.run()
    flaky_stats = stats(report)["flaky"]
    assert report.execution_state == "completed"
    assert (flaky_stats.status, flaky_stats.attempt_count, flaky_stats.retry) == ("completed", 3, 2)
    assert flaky_stats.error_message is None
    attempts = flaky_stats.attempt_statistics
    assert [a.attempt_number for a in attempts] == [1, 2, 3]
    assert [a.status for a in attempts] == ["failed", "failed", "completed"]
    assert [a.error_message for a in attempts] == ["try 1", "try 2", None]
    assert [a.will_retry for a in attempts] == [True, True, False]
    assert all(a.max_retries == 2 and a.task_name == "flaky" for a in attempts)
    assert all(a.start_time <= a.end_time for a in attempts)


async def test_exhausted_retries_fail_with_the_last_error(registry: SchedulerRegistry) -> None:
    """After retry + 1 failed attempts the task fails with the last attempt's error."""
    calls: list[int] = []

    @registry.task(retry=1)
    async def hopeless() -> None:
        calls.append(1)
        raise ValueError(f"attempt {len(calls)}")

    report = await registry.run()
    hopeless_stats = stats(report)["hopeless"]
    assert len(calls) == 2
    assert (hopeless_stats.status, hopeless_stats.attempt_count) == ("failed", 2)
    assert hopeless_stats.error_message == "attempt 2"
    assert [a.will_retry for a in hopeless_stats.attempt_statistics] == [True, False]


@pytest.mark.looptime
@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"retry_delay": 1}, [0, 1, 2, 3]),
        ({"retry_delay": 1, "retry_backoff": 2}, [0, 1, 3, 7]),
        ({"retry_delay": 1, "retry_backoff": 2, "retry_max_delay": 1.5}, [0, 1, 2.5, 4]),
        ({"retry_delay": 0.5, "retry_backoff": 3}, [0, 0.5, 2, 6.5]),
    ],
    ids=["fixed", "exponential", "capped", "factor-3"],
)
async def test_retry_delays_follow_the_backoff(
    registry: SchedulerRegistry, policy: dict[str, float], expected: list[float]
) -> None:
    """Retries wait retry_delay * retry_backoff ** n seconds, capped by retry_max_delay."""
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def failing() -> None:
        starts.append(loop.time())
        raise ValueError("again")

    registry.task("failing", retry=3, **policy)(failing)  # type: ignore[call-overload]
    began = loop.time()
    await registry.run()
    assert [round(t - began, 6) for t in starts] == expected


@pytest.mark.looptime
async def test_retry_jitter_adds_at_most_the_jitter(registry: SchedulerRegistry) -> None:
    """retry_jitter adds a random 0..jitter seconds to each computed delay."""
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    @registry.task(retry=20, retry_delay=1, retry_jitter=0.5)
    async def failing() -> None:
        starts.append(loop.time())
        raise ValueError("again")

    await registry.run()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 20
    assert all(1 <= gap <= 1.5 + 1e-6 for gap in gaps)
    assert len({round(gap, 6) for gap in gaps}) > 1  # it is random


@pytest.mark.parametrize(
    "policy",
    [
        {"retry_delay": 1e-9, "retry_backoff": 2.0, "retry_max_delay": 1e-9},
        {"retry_delay": 1e-9, "retry_backoff": 2, "retry_max_delay": 1e-9},
        {"retry_backoff": 2.0},
    ],
    ids=["float-capped", "int-capped", "no-delay"],
)
async def test_many_retries_never_overflow(
    registry: SchedulerRegistry, policy: dict[str, float]
) -> None:
    """A thousand-odd exponential retries wait the cap (or nothing), never overflowing."""
    calls: list[int] = []

    @registry.task(retry=1200, **policy)  # type: ignore[call-overload, untyped-decorator]
    async def stubborn() -> str:
        calls.append(1)
        if len(calls) <= 1200:
            raise ValueError("not yet")
        return "finally"

    report = await registry.run()
    assert len(report.error_summary) == 1200  # one line per retried attempt, no failure
    assert report.task_return_set == {"stubborn": "finally"}


async def test_retry_on_retries_only_the_listed_exceptions(registry: SchedulerRegistry) -> None:
    """retry_on=(ConnectionError,) retries those (and subclasses); other errors fail at once."""
    calls: dict[str, int] = {"network": 0, "bug": 0}

    @registry.task(retry=3, retry_on=(ConnectionError,))
    async def network() -> str:
        calls["network"] += 1
        if calls["network"] < 3:
            raise ConnectionResetError("reset")  # a ConnectionError subclass
        return "ok"

    @registry.task(retry=3, retry_on=ConnectionError)  # a single class is accepted too
    async def bug() -> None:
        calls["bug"] += 1
        raise KeyError("missing")

    report = await registry.run(config=AstrumConfig(on_failure="continue"))
    assert calls == {"network": 3, "bug": 1}
    assert statuses(report) == {"network": "completed", "bug": "failed"}
    assert [a.will_retry for a in stats(report)["bug"].attempt_statistics] == [False]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("retry_delay", -1, "retry_delay must be"),
        ("retry_delay", math.nan, "retry_delay must be"),
        ("retry_delay", math.inf, "retry_delay must be"),
        ("retry_delay", True, "retry_delay must be"),
        ("retry_jitter", -0.1, "retry_jitter must be"),
        ("retry_jitter", math.inf, "retry_jitter must be"),
        ("retry_backoff", 0.5, "retry_backoff must be"),
        ("retry_backoff", math.nan, "retry_backoff must be"),
        ("retry_backoff", math.inf, "retry_backoff must be"),
        ("retry_max_delay", 0, "retry_max_delay must be"),
        ("retry_max_delay", math.nan, "retry_max_delay must be"),
    ],
    ids=repr,
)
def test_bad_retry_policies_are_refused(
    registry: SchedulerRegistry, option: str, value: object, message: str
) -> None:
    """Delays, jitter, backoff and cap must be finite and in range; errors name task and option."""
    with pytest.raises(ValueError, match=f"Task 't': {message}"):
        registry.task("t", retry=1, **{option: value})(lambda: None)  # type: ignore[call-overload]


@pytest.mark.parametrize("retry_on", ["ValueError", (ValueError, 1), (int,)], ids=repr)
def test_bad_retry_on_is_refused(registry: SchedulerRegistry, retry_on: object) -> None:
    """retry_on must hold exception classes."""
    with pytest.raises(TypeError, match="retry_on must be a tuple of exception classes"):
        registry.task("t", retry=1, retry_on=retry_on)(lambda: None)  # type: ignore[call-overload]


# -- fail fast --------------------------------------------------------------------------------


async def test_fail_fast_cancels_running_tasks_and_starts_nothing_new(
    registry: SchedulerRegistry,
) -> None:
    """The first failure cancels running tasks (awaited, reported cancelled) and starts nothing."""
    cleaned: list[str] = []
    started: list[str] = []
    slow_running = asyncio.Event()

    @registry.task()
    async def slow() -> None:
        started.append("slow")
        slow_running.set()
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.append("slow")

    @registry.task()
    async def boom() -> None:
        started.append("boom")
        await slow_running.wait()
        raise ValueError("disk full")

    @registry.task(depends_on=["boom"])
    async def after_boom() -> None:
        started.append("after_boom")

    @registry.task(depends_on=["slow"])
    async def after_slow() -> None:
        started.append("after_slow")

    report = await registry.run()
    assert report.execution_state == "failed"
    assert sorted(started) == ["boom", "slow"]
    assert cleaned == ["slow"]
    assert statuses(report) == {"slow": "cancelled", "boom": "failed"}
    assert report.error_summary[0] == "Task 'boom' failed: ValueError: disk full"
    assert (report.successful_tasks, report.failed_tasks) == (0, 1)
    assert [a.status for a in stats(report)["slow"].attempt_statistics] == ["cancelled"]


@pytest.mark.looptime
async def test_task_cancelled_while_waiting_for_a_slot_made_no_attempt(
    registry: SchedulerRegistry,
) -> None:
    """A task stopped while queued for a concurrency slot is cancelled with zero attempts."""
    calls: list[str] = []

    @registry.task()
    async def boom() -> None:
        calls.append("boom")
        await asyncio.sleep(1)
        raise ValueError("stop")

    @registry.task()
    async def queued() -> None:
        calls.append("queued")

    report = await registry.run(config=AstrumConfig(concurrency_limit=1))
    assert calls == ["boom"]
    queued_stats = stats(report)["queued"]
    assert queued_stats.status == "cancelled"
    assert (queued_stats.attempt_count, queued_stats.attempt_statistics) == (0, [])
    assert queued_stats.queued_duration == pytest.approx(1)


async def test_no_body_starts_after_a_fail_fast_failure(registry: SchedulerRegistry) -> None:
    """A task launched in the same loop step as a failure is cancelled before its body runs."""
    calls: list[str] = []

    @registry.task()
    async def quick() -> None:
        calls.append("quick")

    @registry.task()
    async def boom() -> None:
        calls.append("boom")
        raise ValueError("stop")

    @registry.task(depends_on=["quick"])
    async def next_step() -> None:
        calls.append("next_step")

    report = await registry.run()
    assert calls == ["quick", "boom"]
    assert report.execution_state == "failed"
    assert stats(report).get("next_step") is None or stats(report)["next_step"].attempt_count == 0


async def test_fail_fast_does_not_wait_for_a_blocking_thread(
    registry: SchedulerRegistry,
) -> None:
    """A sync body running in a thread is reported cancelled; the run does not wait for it."""
    in_thread = asyncio.Event()
    loop = asyncio.get_running_loop()

    @registry.task()
    def blocking() -> None:
        loop.call_soon_threadsafe(in_thread.set)
        time.sleep(0.5)

    @registry.task()
    async def boom() -> None:
        await in_thread.wait()
        raise ValueError("stop")

    before = set(threading.enumerate())
    began = time.perf_counter()
    report = await registry.run(config=PER_RUN)
    assert time.perf_counter() - began < 0.4
    assert statuses(report) == {"blocking": "cancelled", "boom": "failed"}
    for thread in new_threads(before):  # the body finishes on its own, then its thread ends
        thread.join(5)
    assert new_threads(before) == []


# -- continue ---------------------------------------------------------------------------------


async def test_continue_finishes_independent_branches_and_skips_downstream(
    registry: SchedulerRegistry,
) -> None:
    """on_failure='continue' runs independent branches and skips everything below a failure."""
    started: list[str] = []

    def body(name: str, fail: bool = False) -> Callable[[], Awaitable[str]]:
        async def run_it() -> str:
            started.append(name)
            await asyncio.sleep(0.01)
            if fail:
                raise ValueError(f"{name} broke")
            return name

        return run_it

    registry.task("root")(body("root"))
    registry.task("bad", depends_on=["root"])(body("bad", fail=True))
    registry.task("good", depends_on=["root"])(body("good"))
    registry.task("below_bad", depends_on=["bad"])(body("below_bad"))
    registry.task("join", depends_on=["below_bad", "good"])(body("join"))
    registry.task("below_good", depends_on=["good"])(body("below_good"))
    registry.task("also_bad")(body("also_bad", fail=True))
    report = await registry.run(config=AstrumConfig(on_failure="continue"))
    assert report.execution_state == "failed"
    assert sorted(started) == ["also_bad", "bad", "below_good", "good", "root"]
    assert statuses(report) == {
        "root": "completed",
        "bad": "failed",
        "good": "completed",
        "below_bad": "skipped",
        "join": "skipped",
        "below_good": "completed",
        "also_bad": "failed",
    }
    by_name = stats(report)
    assert by_name["below_bad"].error_message == "Skipped because upstream task 'bad' failed."
    assert by_name["join"].error_message == "Skipped because upstream task 'bad' failed."
    assert (by_name["join"].attempt_count, by_name["join"].attempt_statistics) == (0, [])
    assert sorted(report.error_summary) == [
        "Task 'also_bad' failed: ValueError: also_bad broke",
        "Task 'bad' failed: ValueError: bad broke",
    ]
    assert (report.successful_tasks, report.failed_tasks) == (3, 2)


@pytest.mark.looptime
async def test_error_summary_lists_failures_first_failure_first(
    registry: SchedulerRegistry,
) -> None:
    """Under continue, error_summary is in the order the tasks failed."""
    registry.task("late")(sleeper(2))
    registry.task("early")(sleeper(1))

    @registry.task(depends_on=["late"])
    async def second() -> None:
        raise ValueError("second")

    @registry.task(depends_on=["early"])
    async def first() -> None:
        raise ValueError("first")

    report = await registry.run(config=AstrumConfig(on_failure="continue"))
    assert report.error_summary == [
        "Task 'first' failed: ValueError: first",
        "Task 'second' failed: ValueError: second",
    ]


# -- cancellation by the caller ---------------------------------------------------------------


async def test_cancelling_the_caller_cancels_and_awaits_every_task(
    registry: SchedulerRegistry,
) -> None:
    """Cancelling whatever awaits run() cancels every task, waits for them, then propagates."""
    running = asyncio.Event()
    cleaned: list[str] = []

    @registry.task()
    async def slow() -> None:
        running.set()
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(0.01)  # cleanup that itself awaits
            cleaned.append("slow")

    @registry.task()
    async def other() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.append("other")

    @registry.task(depends_on=["slow"])
    async def never() -> None:
        cleaned.append("never")

    with no_leftovers():
        caller = asyncio.create_task(registry.run())
        await running.wait()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert sorted(cleaned) == ["other", "slow"]


async def test_a_second_cancel_during_cleanup_still_waits_for_every_task(
    registry: SchedulerRegistry,
) -> None:
    """Cancelling again while tasks clean up does not abandon them."""
    running = asyncio.Event()
    cleaned: list[str] = []

    @registry.task()
    async def stubborn() -> None:
        running.set()
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.shield(asyncio.sleep(0.05))
            cleaned.append("stubborn")

    with no_leftovers():
        caller = asyncio.create_task(registry.run())
        await running.wait()
        caller.cancel()
        await asyncio.sleep(0.01)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert cleaned == ["stubborn"]


async def test_caller_timeout_around_run_raises_timeout_error(
    registry: SchedulerRegistry,
) -> None:
    """asyncio.timeout around run() works: the run is cancelled, the caller gets TimeoutError."""
    registry.task("slow")(sleeper(10))
    with no_leftovers(), pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await registry.run()


# -- run timeout ------------------------------------------------------------------------------


@pytest.mark.looptime
@pytest.mark.parametrize("how", ["registry", "module", "config"])
async def test_run_timeout_ends_cancelled_with_a_full_report(
    registry: SchedulerRegistry, how: str
) -> None:
    """A run timeout cancels what runs and returns state 'cancelled' with every started task."""
    flow = get_registry("run-timeout") if how == "module" else registry
    flow.task("quick")(sleeper(1, "quick"))
    flow.task("slow")(sleeper(10))
    flow.task("after_slow", depends_on=["slow"])(sleeper(1))
    loop = asyncio.get_running_loop()
    began = loop.time()
    if how == "registry":
        report = await registry.run(timeout=3)
    elif how == "module":
        report = await run(namespace="run-timeout", timeout=3)
    else:
        report = await registry.run(config=AstrumConfig(run_timeout=3))
    assert loop.time() - began == pytest.approx(3)
    assert report.execution_state == "cancelled"
    assert statuses(report) == {"quick": "completed", "slow": "cancelled"}
    assert report.task_return_set == {"quick": "quick"}
    assert report.error_summary == [
        "The run timed out after 3 s; the tasks still running were cancelled."
    ]


@pytest.mark.looptime
async def test_run_timeout_argument_overrides_the_config(registry: SchedulerRegistry) -> None:
    """run(timeout=...) takes precedence over AstrumConfig(run_timeout=...)."""
    registry.task("slow")(sleeper(10))
    loop = asyncio.get_running_loop()
    began = loop.time()
    report = await registry.run(config=AstrumConfig(run_timeout=5), timeout=1)
    assert loop.time() - began == pytest.approx(1)
    assert report.execution_state == "cancelled"


@pytest.mark.looptime
async def test_run_timeout_wins_over_earlier_failures(registry: SchedulerRegistry) -> None:
    """Under continue, a run that fails a task and then times out ends 'cancelled', listing both."""

    @registry.task()
    async def broken() -> None:
        raise ValueError("bad")

    registry.task("slow")(sleeper(10))
    report = await registry.run(config=AstrumConfig(on_failure="continue"), timeout=2)
    assert report.execution_state == "cancelled"
    assert statuses(report) == {"broken": "failed", "slow": "cancelled"}
    assert report.failed_tasks == 1
    assert report.error_summary == [
        "Task 'broken' failed: ValueError: bad",
        "The run timed out after 2 s; the tasks still running were cancelled.",
    ]


@pytest.mark.looptime
async def test_run_timeout_that_does_not_expire_changes_nothing(
    registry: SchedulerRegistry,
) -> None:
    """A run that finishes within its timeout completes normally."""
    registry.task("quick")(sleeper(1, 1))
    report = await registry.run(timeout=5)
    assert report.execution_state == "completed"
    assert report.error_summary == []


async def _noop() -> None:
    return None


@pytest.mark.parametrize("timeout", [0, -1, math.nan, True], ids=repr)
async def test_bad_run_timeouts_are_refused(registry: SchedulerRegistry, timeout: Any) -> None:
    """run(timeout=...) and AstrumConfig(run_timeout=...) take positive finite seconds."""
    registry.task("noop")(_noop)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        await registry.run(timeout=timeout)
    with pytest.raises(ValueError, match="run_timeout must be a positive number"):
        AstrumConfig(run_timeout=timeout)


# -- BaseException from task bodies -----------------------------------------------------------


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("kind", ["async", "sync-thread", "sync-inline"])
@pytest.mark.parametrize("policy", ["fail_fast", "continue"])
def test_keyboard_interrupt_and_system_exit_stop_the_run_and_propagate(
    registry: SchedulerRegistry, error: type[BaseException], kind: str, policy: str
) -> None:
    """KeyboardInterrupt/SystemExit from a body cancel and await the rest, then propagate."""
    cleaned: list[str] = []
    before = set(threading.enumerate())

    async def other() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.append("other")

    def sync_body() -> None:
        time.sleep(0.01)
        raise error("stop now")

    async def async_body() -> None:
        await asyncio.sleep(0.01)
        raise error("stop now")

    registry.task("other")(other)
    if kind == "async":
        registry.task("interrupt")(async_body)
    else:
        registry.task("interrupt", executor="inline" if kind == "sync-inline" else "thread")(
            sync_body
        )
    registry.task("after", depends_on=["interrupt"])(lambda: cleaned.append("after"))
    leftover_tasks: list[set[asyncio.Task[Any]]] = []

    async def main() -> None:
        try:
            await registry.run(config=AstrumConfig(on_failure=policy))  # type: ignore[arg-type]
        finally:
            leftover_tasks.append(asyncio.all_tasks() - {asyncio.current_task()})

    with pytest.raises(error, match="stop now"):
        asyncio.run(main())
    assert cleaned == ["other"]
    assert leftover_tasks == [set()]
    assert new_threads(before) == []


def test_keyboard_interrupt_in_a_tail_during_the_run_stops_it_at_once(
    registry: SchedulerRegistry,
) -> None:
    """A tail raising KeyboardInterrupt while the run goes on stops the run and propagates."""

    @registry.task()
    async def tail() -> None:
        await asyncio.sleep(0.01)
        raise KeyboardInterrupt

    registry.task("main")(sleeper(30))
    config = AstrumConfig(ignore_tail_task=["tail"])
    began = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(registry.run(config=config))
    assert time.perf_counter() - began < 10


def test_keyboard_interrupt_in_a_tail_after_the_run_is_not_swallowed(
    registry: SchedulerRegistry,
) -> None:
    """A tail raising KeyboardInterrupt after run() returned propagates like any asyncio task's."""

    @registry.task()
    async def tail() -> None:
        await asyncio.sleep(0.05)
        raise KeyboardInterrupt

    async def main() -> None:
        report = await registry.run(config=AstrumConfig(ignore_tail_task=["tail"]))
        assert report.execution_state == "completed"
        await asyncio.sleep(5)

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(main())


async def test_cancelled_error_raised_by_a_body_fails_that_task(
    registry: SchedulerRegistry,
) -> None:
    """A body that raises CancelledError itself fails with a RuntimeError saying so."""

    @registry.task()
    async def confused() -> None:
        raise asyncio.CancelledError

    @registry.task()
    def confused_sync() -> None:
        raise asyncio.CancelledError

    report = await registry.run(config=AstrumConfig(on_failure="continue"))
    assert report.execution_state == "failed"
    assert statuses(report) == {"confused": "failed", "confused_sync": "failed"}
    for name in ("confused", "confused_sync"):
        message = stats(report)[name].error_message
        assert message == (
            f"Task '{name}' raised CancelledError although the run did not cancel it; "
            "raise an ordinary exception to fail a task."
        )


@pytest.mark.parametrize("executor", ["thread", "inline"])
async def test_stop_iteration_from_a_sync_body_fails_the_task(
    registry: SchedulerRegistry, executor: str
) -> None:
    """A sync body raising StopIteration fails its task instead of hanging the run."""

    @registry.task(executor=executor)  # type: ignore[call-overload, untyped-decorator]
    def exhausted() -> int:
        return next(iter([]))

    report = await asyncio.wait_for(registry.run(), 5)
    assert statuses(report) == {"exhausted": "failed"}
    assert "exhausted() raised StopIteration" in report.error_summary[0]


def test_ctrl_c_during_asyncio_run_leaves_nothing_running() -> None:
    """SIGINT during asyncio.run(workflow) raises KeyboardInterrupt with no task or thread left."""
    script = textwrap.dedent(
        """
        import asyncio, os, signal, threading, time
        from astrum import SchedulerRegistry

        flow = SchedulerRegistry("ctrl-c")
        cleaned = []

        @flow.task()
        async def waits() -> None:
            try:
                await asyncio.sleep(30)
            finally:
                cleaned.append("waits")

        @flow.task()
        def blocks() -> None:
            time.sleep(0.2)

        @flow.task()
        async def presses_ctrl_c() -> None:
            await asyncio.sleep(0.05)
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.sleep(30)

        try:
            asyncio.run(flow.run())
        except KeyboardInterrupt:
            print("KeyboardInterrupt")
        print("cleaned", sorted(cleaned))
        for thread in threading.enumerate():
            if thread is not threading.main_thread():
                thread.join(5)
        print("threads", [t.name for t in threading.enumerate()])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.stdout.splitlines() == [
        "KeyboardInterrupt",
        "cleaned ['waits']",
        "threads ['MainThread']",
    ], result.stderr


# -- run_sync ---------------------------------------------------------------------------------


def test_run_sync_runs_a_workflow_from_sync_code() -> None:
    """run_sync builds and runs a namespace in a new loop and returns the report."""
    task("first", namespace="sync-flow")(lambda: 1)
    task("second", namespace="sync-flow", depends_on=["first"])(sleeper(0, 2))
    report = run_sync(namespace="sync-flow")
    assert report.task_return_set == {"first": 1, "second": 2}
    with use_namespace("sync-flow"):
        assert run_sync(["first"]).task_return_set == {"first": 1}


def test_run_sync_passes_config_and_timeout() -> None:
    """run_sync honours config and timeout like run()."""
    task("slow", namespace="sync-timeout")(sleeper(10))
    report = run_sync(namespace="sync-timeout", timeout=0.05)
    assert report.execution_state == "cancelled"
    config = AstrumConfig(run_timeout=0.05)
    assert run_sync(namespace="sync-timeout", config=config).execution_state == "cancelled"


async def test_run_sync_inside_a_running_loop_says_what_to_do() -> None:
    """Calling run_sync inside a running loop raises RuntimeError naming 'await astrum.run'."""
    with pytest.raises(RuntimeError, match=r"use 'await astrum\.run\(\.\.\.\)' there instead"):
        astrum.run_sync()


# -- nothing survives a run -------------------------------------------------------------------

OUTCOMES = [
    "completed",
    "fail_fast",
    "continue",
    "task_timeout",
    "sync_task_timeout",
    "run_timeout",
    "caller_cancel",
    "user_cancelled_error",
]


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_no_task_thread_or_future_survives_a_run(
    registry: SchedulerRegistry, outcome: str
) -> None:
    """Whatever the outcome, a finished run leaves no asyncio task, thread or pending future.

    Sync bodies have returned before the run stops here; one still running when
    the run stops keeps its thread until it returns (see the sync-timeout case).
    """
    blocker = threading.Event()
    syncs_done = asyncio.Event()

    def sync_work() -> str:
        time.sleep(0.01)
        return "sync"

    registry.task("a")(sleeper(0.01, "async"))
    registry.task("s1")(sync_work)
    registry.task("s2", depends_on=["a"])(sync_work)

    @registry.task(depends_on=["s1", "s2"])
    async def syncs_finished() -> None:
        syncs_done.set()

    if outcome in ("fail_fast", "continue", "user_cancelled_error"):

        @registry.task(depends_on=["syncs_finished"])
        async def bad() -> None:
            if outcome == "user_cancelled_error":
                raise asyncio.CancelledError
            raise ValueError("bad")

    if outcome in ("task_timeout", "run_timeout", "caller_cancel", "fail_fast"):
        registry.task("slow", timeout=0.05 if outcome == "task_timeout" else None)(sleeper(10))
    if outcome == "sync_task_timeout":
        registry.task("stuck", timeout=0.05)(lambda: blocker.wait(5))
    config = AstrumConfig(
        on_failure="continue" if outcome == "continue" else "fail_fast",
        run_timeout=0.5 if outcome == "run_timeout" else None,
        thread_pool="per_run",  # the shared pool's threads live as long as the loop
    )
    if outcome == "sync_task_timeout":
        # The one documented exception: a thread cannot be killed, so it finishes on its own.
        before = set(threading.enumerate())
        report = await registry.run(config=config)
        assert report.execution_state == "failed"
        assert new_threads(before) != []
        blocker.set()
        for thread in new_threads(before):
            thread.join(5)
        assert new_threads(before) == []
        return
    with no_leftovers():
        caller = asyncio.create_task(registry.run(config=config))
        if outcome == "caller_cancel":
            await syncs_done.wait()
            caller.cancel()
            with pytest.raises(asyncio.CancelledError):
                await caller
            return
        report = await caller
    expected = {
        "completed": "completed",
        "fail_fast": "failed",
        "continue": "failed",
        "task_timeout": "failed",
        "run_timeout": "cancelled",
        "user_cancelled_error": "failed",
    }[outcome]
    assert report.execution_state == expected
