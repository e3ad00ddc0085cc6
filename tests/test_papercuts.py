"""What a new user ran into in the first hour (issue 16): one section per item."""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, assert_type

import pytest
from hypothesis import given, settings
from rich.console import Console

from astrum import (
    AstrumConfig,
    F,
    Input,
    InputError,
    MemoryStore,
    Ref,
    SchedulerRegistry,
    SqliteStore,
    TaskNotFoundError,
    TaskRegistrationError,
    run,
    run_sync,
    task,
)
from astrum._build._plan import Plan
from astrum._views._render import report_table
from astrum._views._trace import trace_events
from astrum.models import NoResultError
from strategies import ContainerInput, container_inputs

# -- 1. bare @registry.task ------------------------------------------------------------------


async def test_bare_registry_task_registers_and_keeps_the_function(
    registry: SchedulerRegistry,
) -> None:
    """`@flow.task` without parentheses registers the function and returns it unchanged."""

    @registry.task
    async def fetch() -> int:
        return 1

    @registry.task()
    def double(n: Ref[int, F("fetch")]) -> int:
        return n * 2

    assert_type(fetch, Callable[[], Coroutine[Any, Any, int]])
    assert assert_type(double(2), int) == 4  # the signature survives for type checkers
    assert await fetch() == 1
    assert set(registry.get_all_tasks()) == {"fetch", "double"}
    report = await registry.run()
    assert report.task_return_set == {"fetch": 1, "double": 2}


def test_bare_module_task_and_registry_task_share_their_keywords() -> None:
    """A misspelt keyword of @task or @registry.task is a TypeError that suggests the right one."""
    flow = SchedulerRegistry("keywords")
    with pytest.raises(TypeError, match="'depend_on'; did you mean 'depends_on'"):
        flow.task(depend_on=["a"])  # type: ignore[call-overload]  # the misspelling under test
    with pytest.raises(TypeError, match="'retries'; did you mean 'retry'"):
        task(retries=2)  # type: ignore[call-overload]  # the misspelling under test

    @task(namespace="keywords-module", retry=2, timeout=1.0)
    def load() -> int:
        return 1

    assert_type(load, Callable[[], int])
    assert load() == 1


# -- 2. failures are never silent ------------------------------------------------------------


def _failing_flow(registry: SchedulerRegistry) -> None:
    @registry.task
    async def load() -> int:
        return 1

    @registry.task(depends_on=["load"])
    async def total() -> int:
        raise ValueError("no total today")

    @registry.task(depends_on=["total"])
    async def publish() -> None:
        return None

    @registry.task
    async def audit() -> None:
        raise KeyError("audit")


async def test_failures_are_logged_even_when_silenced(
    registry: SchedulerRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed task (with its traceback), the skips it causes and the failed run are logged."""
    _failing_flow(registry)
    with caplog.at_level(logging.INFO, logger="astrum"):
        report = await registry.run(config=AstrumConfig(silence=True, on_failure="continue"))
    assert report.execution_state == "failed"
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert {r.getMessage() for r in failures} == {
        "Task 'total' failed: ValueError: no total today",
        "Task 'audit' failed: KeyError: 'audit'",
    }
    assert all(r.exc_info is not None for r in failures)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "Skipped 1 task because upstream task 'total' failed: publish" in warnings
    assert any(m.startswith(f"Run {report.run_id} failed: 2 tasks failed") for m in warnings)


async def test_cancelled_run_is_logged(
    registry: SchedulerRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """A run cut short by its timeout logs a warning that says so."""

    @registry.task
    async def slow() -> None:
        await asyncio.sleep(10)

    with caplog.at_level(logging.WARNING, logger="astrum"):
        report = await registry.run(timeout=0.01)
    assert report.execution_state == "cancelled"
    assert any("timed out after 0.01 s" in r.getMessage() for r in caplog.records)
    with pytest.raises(TimeoutError, match=r"timed out after 0\.01 s"):
        report.raise_for_failure()
    with pytest.raises(NoResultError, match="'slow' has no result: it was cancelled"):
        report.result("slow")


async def test_result_returns_value_or_raises_why_not(registry: SchedulerRegistry) -> None:
    """report.result gives the value, re-raises a task's own error, explains a missing one."""
    _failing_flow(registry)
    report = await registry.run(config=AstrumConfig(on_failure="continue"))
    assert report.result("load") == 1
    with pytest.raises(ValueError, match="no total today") as raised:
        report.result("total")
    assert raised.value.__traceback__ is not None
    assert "raise ValueError" in "".join(_frames(raised.value))
    with pytest.raises(NoResultError, match="'publish' has no result: it was skipped"):
        report.result("publish")
    with pytest.raises(NoResultError, match=r"not part of this run.*did you mean 'total'"):
        report.result("totl")


async def test_result_of_a_tail_task_still_running(registry: SchedulerRegistry) -> None:
    """report.result of a tail task that outlives the run says to await it."""
    release = asyncio.Event()

    @registry.task
    async def main_work() -> int:
        return 1

    @registry.task
    async def tail() -> int:
        await release.wait()
        return 2

    report = await registry.run(config=AstrumConfig(ignore_tail_task=["tail"]))
    with pytest.raises(NoResultError, match=r"still running.*report\.tail_tasks\['tail'\]"):
        report.result("tail")
    release.set()
    assert await report.tail_tasks["tail"] == 2


def _frames(error: BaseException) -> list[str]:
    import traceback

    return traceback.format_exception(error)


async def test_raise_for_failure(registry: SchedulerRegistry) -> None:
    """raise_for_failure: nothing when completed, the error for one failure, a group for more."""

    @registry.task
    async def fine() -> int:
        return 1

    (await registry.run()).raise_for_failure()
    flow = SchedulerRegistry("raise-two")
    _failing_flow(flow)
    with pytest.raises(ExceptionGroup) as group:
        (await flow.run(config=AstrumConfig(on_failure="continue"))).raise_for_failure()
    assert sorted(type(e).__name__ for e in group.value.exceptions) == ["KeyError", "ValueError"]
    one = SchedulerRegistry("raise-one")

    @one.task
    async def broken() -> None:
        raise ValueError("just this")

    with pytest.raises(ValueError, match="just this"):
        (await one.run()).raise_for_failure()


# -- 3. a namespace typo or an empty registry is an error ------------------------------------


async def test_namespace_typo_is_an_error_that_suggests_the_name() -> None:
    """run(namespace=typo) raises, listing the namespaces with tasks and the closest one."""

    @task(namespace="shop")
    async def order() -> int:
        return 1

    with pytest.raises(TaskNotFoundError, match=r"'shpo' has no tasks.*did you mean 'shop'\?"):
        await run(namespace="shpo")
    assert (await run(namespace="shop")).result("order") == 1


def test_registry_made_by_name_runs_itself_and_is_not_a_namespace() -> None:
    """SchedulerRegistry(name) has run_sync; namespace=name says it is not a namespace."""
    orders = SchedulerRegistry("orders-by-hand")

    @orders.task
    def count() -> int:
        return 3

    assert orders.run_sync().result("count") == 3
    with pytest.raises(TaskNotFoundError, match=r"SchedulerRegistry\(name\) is not a namespace"):
        run_sync(namespace="orders-by-hand")
    with pytest.raises(TaskNotFoundError, match="nothing to run"):
        SchedulerRegistry("empty").run_sync()


# -- 9. did you mean ----------------------------------------------------------------------------


async def test_unknown_names_suggest_the_closest(registry: SchedulerRegistry) -> None:
    """Unknown task ids, dependencies, targets and inputs name the closest registered one."""

    @registry.task
    async def load_users(limit: Ref[int, Input("limit")]) -> int:
        return limit

    with pytest.raises(TaskRegistrationError, match="did you mean 'load_users'"):
        registry.get_task("load_user")
    with pytest.raises(TaskRegistrationError, match="did you mean 'load_users'"):
        await registry.run(["load_usres"])
    with pytest.raises(InputError, match="did you mean 'limit'"):
        await registry.run(inputs={"limt": 1})
    with pytest.raises(TaskNotFoundError, match="did you mean 'load_users'"):
        await registry.run(overrides={"loadusers": 1})
    registry.task("report", depends_on=["load_user"])(_noop)
    with pytest.raises(TaskRegistrationError, match="did you mean 'load_users'"):
        await registry.run(inputs={"limit": 1})


async def _noop() -> None:
    return None


# -- 4. inputs are drawn as named nodes ----------------------------------------------------------


def _input_flow() -> SchedulerRegistry:
    flow = SchedulerRegistry("search")

    @flow.task
    async def search(q: Ref[str, Input("query")]) -> list[str]:
        return [q]

    @flow.task
    async def rank(q: Ref[str, Input("query")], hits: Ref[list[str], F("search")]) -> str:
        return q

    return flow


def test_inputs_are_one_named_node_in_mermaid_and_dot() -> None:
    """An input is one node named after it, with an edge to each task that takes it."""
    flow = _input_flow()
    mermaid = flow.to_mermaid()
    assert "NoneType" not in mermaid
    assert mermaid.count('[/"query"/]') == 1
    assert '    i0 -->|"q"| t0\n' in mermaid
    assert '    i0 -->|"q"| t1\n' in mermaid
    dot = flow.to_dot()
    assert "NoneType" not in dot
    assert dot.count('i0 [label="query", shape=parallelogram];') == 1
    assert 'i0 -> "rank" [label="q"];' in dot


def test_inputs_are_named_in_the_data_table() -> None:
    """The visualize data table names the input a parameter takes."""
    from astrum._views._render import data_table

    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(data_table(flow_plan(_input_flow())))
    text = console.file.getvalue()  # type: ignore[attr-defined]  # the StringIO given above
    assert "NoneType" not in text
    assert "q: str ← input 'query'" in text


def flow_plan(flow: SchedulerRegistry) -> Plan:
    """The plan a registry builds."""
    return flow.build_scheduler().plan


# -- 5. duration is the body's time; the wait for a slot is queued_duration ---------------------


@pytest.mark.looptime
async def test_duration_is_body_time_and_the_wait_is_queued(registry: SchedulerRegistry) -> None:
    """With one slot, the second 1 s task waited 1 s: duration 1 s, queued_duration 1 s."""
    for name in ("first", "second"):
        registry.task(name)(_sleep_one)
    report = await registry.run(config=AstrumConfig(concurrency_limit=1))
    second = max(report.task_statistics, key=lambda s: s.queued_duration)
    assert (second.duration, second.queued_duration) == (1.0, 1.0)
    (attempt,) = second.attempt_statistics
    assert (attempt.duration, attempt.queued_duration) == (1.0, 1.0)
    assert attempt.start_time == second.start_time + 1.0
    assert report.get_longest_task() is not None
    assert report.get_longest_task().duration == 1.0  # type: ignore[union-attr]  # checked above
    text = report.summary()
    assert "Critical path (2.00 s, 1.00 s of it waiting for slots)" in text
    assert "waited 1.00 s for a slot" in text
    trace = trace_events(report)["traceEvents"]
    queued = [event for event in trace if event.get("cat") == "queued"]
    assert [(event["name"], event["dur"]) for event in queued] == [("second #1 queued", 1e6)]
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(report_table(report))
    rows = console.file.getvalue().splitlines()  # type: ignore[attr-defined]  # a StringIO
    assert "queued" in rows[2]
    assert any(row.startswith("│ second") and "1.00 s │ 1.00 s" in row for row in rows)


@pytest.mark.looptime
async def test_retried_attempts_each_report_their_own_wait(registry: SchedulerRegistry) -> None:
    """Each attempt's duration excludes the wait for its slot before it began."""
    calls: list[int] = []

    async def flaky() -> None:
        calls.append(1)
        await asyncio.sleep(1)
        if len(calls) == 1:
            raise ValueError("first try fails")

    registry.task("hog")(_sleep_one)
    registry.task("flaky", retry=1)(flaky)
    report = await registry.run(config=AstrumConfig(concurrency_limit=1))
    stats = report.statistics_for("flaky")
    assert [(a.duration, a.queued_duration) for a in stats.attempt_statistics] == [
        (1.0, 1.0),
        (1.0, 0.0),
    ]
    assert (stats.duration, stats.queued_duration) == (2.0, 1.0)


async def _sleep_one() -> None:
    await asyncio.sleep(1)


# -- 6. re-running a notebook cell replaces the task ------------------------------------------

CELL = """
from astrum import get_registry

@get_registry("notebook").task
def load() -> int:
    return {value}
"""


def _run_cell(value: int, namespace: dict[str, Any]) -> None:
    exec(compile(CELL.format(value=value), "<cell>", "exec"), namespace)  # a notebook cell


def test_redefined_task_replaces_the_old_one(caplog: pytest.LogCaptureFixture) -> None:
    """A function defined again (same module and name) replaces its task and logs at INFO."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    _run_cell(1, namespace)
    with caplog.at_level(logging.INFO, logger="astrum"):
        _run_cell(2, namespace)
    assert run_sync(namespace="notebook").result("load") == 2
    assert ["defined again" in r.getMessage() for r in caplog.records] == [True]


def test_another_function_under_a_taken_id_names_clear(registry: SchedulerRegistry) -> None:
    """A different function under a taken id is still an error, which says how to start over."""
    registry.task("load")(_sleep_one)
    with pytest.raises(TaskRegistrationError, match=r"call clear\(\) on the registry"):
        registry.task("load")(_noop)


# -- 10. smaller things ---------------------------------------------------------------------------


async def test_async_generator_task_streams_its_items(registry: SchedulerRegistry) -> None:
    """An async generator function is not silently a plain task: F(...) on it gets its items."""

    @registry.task()
    async def items() -> AsyncIterator[int]:
        yield 1
        yield 2

    @registry.task()
    def total(values: Ref[list[int], F(items)]) -> int:
        return sum(values)

    report = await registry.run()
    assert report.result("total") == 3


# -- 8. concurrent runs sharing a store compute a cache key once -------------------------------


def _counted_flow(calls: list[int], *, fail_first: bool = False) -> SchedulerRegistry:
    flow = SchedulerRegistry("single-flight")

    @flow.task(cache=True)
    async def expensive() -> int:
        calls.append(1)
        await asyncio.sleep(0.05)
        if fail_first and len(calls) == 1:
            raise ValueError("the first computation fails")
        return 42

    return flow


async def test_concurrent_runs_compute_one_cache_key_once() -> None:
    """50 concurrent runs of a cache=True task on one store run its body once."""
    calls: list[int] = []
    flow = _counted_flow(calls)
    store = MemoryStore()
    reports = await asyncio.gather(*(flow.run(config=AstrumConfig(store=store)) for _ in range(50)))
    assert len(calls) == 1
    assert {report.result("expensive") for report in reports} == {42}
    assert sorted(r.statistics_for("expensive").status for r in reports).count("cached") == 49


def test_runs_in_several_threads_share_the_flight(tmp_path: Path) -> None:
    """Runs on their own loops in several threads, sharing a SQLite store, compute once."""
    calls: list[int] = []
    flow = _counted_flow(calls)
    with SqliteStore(tmp_path / "cache.db") as store:
        config = AstrumConfig(store=store)
        with ThreadPoolExecutor(8) as pool:
            reports = list(pool.map(lambda _: flow.run_sync(config=config), range(8)))
    assert len(calls) == 1
    assert {report.result("expensive") for report in reports} == {42}


async def test_a_failing_first_computation_does_not_poison_the_waiters() -> None:
    """When the run computing a key fails, the next waiter computes it; the rest reuse that."""
    calls: list[int] = []
    flow = _counted_flow(calls, fail_first=True)
    store = MemoryStore()
    reports = await asyncio.gather(*(flow.run(config=AstrumConfig(store=store)) for _ in range(10)))
    assert len(calls) == 2
    assert sorted(report.execution_state for report in reports) == ["completed"] * 9 + ["failed"]


async def test_a_cancelled_leader_lets_the_waiters_go_on() -> None:
    """A run cut short while computing a key releases it to the runs waiting for it."""
    calls: list[int] = []
    flow = _counted_flow(calls)
    store = MemoryStore()
    short = asyncio.ensure_future(flow.run(config=AstrumConfig(store=store), timeout=0.01))
    await asyncio.sleep(0)  # the short run leads
    patient = await flow.run(config=AstrumConfig(store=store))
    assert (await short).execution_state == "cancelled"
    assert patient.result("expensive") == 42
    assert len(calls) == 2


async def test_container_inputs_have_their_elements_checked(registry: SchedulerRegistry) -> None:
    """list[int] given ["1", "2"] is refused, naming the element; right values pass."""

    @registry.task
    async def total(ids: Ref[list[int], Input("ids")]) -> int:
        return sum(ids)

    with pytest.raises(InputError, match="'ids' is a list holding str at index 0"):
        await registry.run(inputs={"ids": ["1", "2"]})
    assert (await registry.run(inputs={"ids": [1, 2]})).result("total") == 3


async def test_statistics_for_a_task_not_in_the_run(registry: SchedulerRegistry) -> None:
    """statistics_for names a task that is not part of the run as such, not as 'never started'."""

    @registry.task
    async def load() -> None:
        return None

    report = await registry.run()
    with pytest.raises(KeyError, match="'nope' is not part of this run"):
        report.statistics_for("nope")


_USERS = SchedulerRegistry("users")


@_USERS.task
async def load_users() -> list[str]:
    """A task of another registry than the one that refers to it below."""
    return ["ada"]


def test_f_naming_a_function_of_another_registry_says_so() -> None:
    """F(function) where the function is a task of another registry names that registry."""
    reports = SchedulerRegistry("reports")

    @reports.task
    async def count(names: Ref[list[str], F(load_users)]) -> int:
        return len(names)

    with pytest.raises(TaskRegistrationError, match="it is registered in registry 'users'"):
        reports.build_scheduler()


async def test_summary_pluralises_and_abbreviates_long_critical_paths(
    registry: SchedulerRegistry,
) -> None:
    """'1 task', and a 2,000-task chain's critical path is a short line."""

    @registry.task
    async def only() -> None:
        return None

    report = await registry.run()
    assert ": 1 task (1 completed)." in report.summary()
    plan_text = registry.build_scheduler().get_execute_timeline().get_visualization_table()
    assert plan_text.startswith("Execution plan: 1 task in 1 level,")
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(report_table(report))
    assert "1 task: 1 completed" in console.file.getvalue()  # type: ignore[attr-defined]  # a StringIO
    chain = SchedulerRegistry("chain")
    for i in range(2000):
        chain.task(f"step{i}", depends_on=[f"step{i - 1}"] if i else None)(_noop)
    text = (await chain.run()).summary()
    path_line = next(line for line in text.splitlines() if line.startswith("Critical path"))
    assert path_line.endswith(
        "step0 -> step1 -> step2 -> step3 -> ... (1992 more) -> "
        "step1996 -> step1997 -> step1998 -> step1999"
    )
    assert len(path_line) < 200


def test_import_astrum_imports_nothing_optional() -> None:
    """`import astrum` loads no sqlite3, multiprocessing or process pools until they are used."""
    code = (
        "import sys, astrum\n"
        "heavy = ['sqlite3', 'multiprocessing', 'concurrent.futures.process', 'difflib']\n"
        "print([name for name in heavy if name in sys.modules])\n"
        "astrum.SqliteStore\n"
        "print('sqlite3' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.splitlines() == ["[]", "True"]


@settings(max_examples=150, deadline=None)
@given(container_inputs())
def test_container_inputs_pass_exactly_when_their_sampled_elements_fit(
    case: ContainerInput,
) -> None:
    """An input container is refused exactly when one of its first 20 elements has a wrong type."""
    registry = SchedulerRegistry("containers")

    async def take(value: Any) -> None:
        return None

    take.__annotations__["value"] = Ref[case.annotation, Input("value")]
    registry.task("take")(take)
    if case.wrong_at is None:
        registry.run_sync(inputs={"value": case.value})
        return
    where: str | None
    if isinstance(case.value, set):
        where = None  # a set's order is its own: any position may be named
    elif isinstance(case.value, dict):
        where = f"at key 'k{case.wrong_at}'"
    else:
        where = f"at index {case.wrong_at}"
    with pytest.raises(InputError, match=where):
        registry.run_sync(inputs={"value": case.value})
