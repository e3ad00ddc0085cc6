"""Property-based tests: random DAGs with random failures, timeouts and retries; build fuzzing."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _support import run_in_new_loop
from astrum import (
    AstrumConfig,
    DynamicScheduler,
    ExecutionReport,
    SchedulerError,
    SchedulerRegistry,
    TaskOrder,
)
from strategies import (
    FUZZ_IDS,
    HANG_SECONDS,
    Dag,
    TaskBehaviour,
    ancestors,
    config_kwargs,
    dag_task_behaviours,
    fuzz_function,
    registration_kwargs,
    target_lists,
)

PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# -- a workflow whose bodies record what happened -----------------------------------------------


@dataclass
class Recorder:
    """What the bodies saw: calls per task, order violations, bodies running at once."""

    deps: dict[str, tuple[str, ...]]
    calls: dict[str, int] = field(default_factory=dict)
    succeeded: set[str] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)
    running: set[str] = field(default_factory=set)
    peak: int = 0

    @contextmanager
    def body(self, task: str) -> Iterator[int]:
        attempt = self.calls[task] = self.calls.get(task, 0) + 1
        missing = [dep for dep in self.deps[task] if dep not in self.succeeded]
        if missing:
            self.violations.append(f"{task} started before {missing} completed")
        if task in self.running:
            self.violations.append(f"{task} ran twice at once")
        if task in self.succeeded:
            self.violations.append(f"{task} ran again after completing")
        self.running.add(task)
        self.peak = max(self.peak, len(self.running))
        try:
            yield attempt
        finally:
            self.running.discard(task)
        self.succeeded.add(task)


def make_body(task: str, behaviour: TaskBehaviour, recorder: Recorder) -> Callable[..., Any]:
    def outcome_of(attempt: int) -> None:
        outcome = behaviour.outcome(attempt)
        if outcome == "fail":
            raise ValueError(f"{task} failed attempt {attempt}")
        if outcome == "fatal":
            raise KeyError(f"{task} cannot be retried")

    if behaviour.sync:

        def sync_body() -> str:
            with recorder.body(task) as attempt:
                time.sleep(0)
                outcome_of(attempt)
            return task

        return sync_body

    async def async_body() -> str:
        with recorder.body(task) as attempt:
            if behaviour.outcome(attempt) == "hang":
                await asyncio.sleep(HANG_SECONDS)
            await asyncio.sleep(behaviour.duration)
            outcome_of(attempt)
        return task

    return async_body


def expected_success(behaviour: TaskBehaviour) -> bool:
    """Whether a task's own attempts succeed within its retries (dependencies aside)."""
    for attempt in range(1, behaviour.retry + 2):
        outcome = behaviour.outcome(attempt)
        if outcome == "ok":
            return True
        if outcome == "fatal":
            return False
    return False


def build(dag: Dag, behaviours: dict[str, TaskBehaviour], recorder: Recorder) -> SchedulerRegistry:
    registry = SchedulerRegistry("property")
    for task, deps in dag.deps_of().items():
        behaviour = behaviours[task]
        registry.task(
            task,
            depends_on=list(deps),
            retry=behaviour.retry,
            timeout=behaviour.timeout,
            retry_on=(ValueError, TimeoutError),
        )(make_body(task, behaviour, recorder))
    return registry


def check_common(
    report: ExecutionReport,
    dag: Dag,
    behaviours: dict[str, TaskBehaviour],
    recorder: Recorder,
    limit: int | None,
) -> dict[str, str]:
    """Invariants every run satisfies whatever its failure policy; returns the statuses."""
    assert recorder.violations == []
    statuses = {s.task_name: s.status for s in report.task_statistics}
    assert len(statuses) == len(report.task_statistics)  # one statistics entry per task
    counts = {kind: list(statuses.values()).count(kind) for kind in set(statuses.values())}
    assert set(counts) <= {"completed", "failed", "cancelled", "skipped"}
    assert report.total_tasks == len(dag.ids)
    assert report.successful_tasks == counts.get("completed", 0)
    assert report.failed_tasks == counts.get("failed", 0)
    assert sum(counts.values()) == len(report.task_statistics)
    assert set(report.task_return_set) == {t for t, s in statuses.items() if s == "completed"}
    assert report.task_return_set == {t: t for t in report.task_return_set}
    if limit is not None:
        assert recorder.peak <= limit
    for stats in report.task_statistics:
        task = stats.task_name
        calls = recorder.calls.get(task, 0)
        assert calls <= behaviours[task].retry + 1
        assert stats.attempt_count == len(stats.attempt_statistics)
        if stats.attempt_count != calls:
            # A sync attempt cancelled while its call still queued for a pool thread is
            # recorded as a cancelled attempt although the function never ran.
            assert behaviours[task].sync
            assert stats.attempt_count == calls + 1
            assert stats.attempt_statistics[-1].status == "cancelled"
        if stats.status == "skipped":
            assert calls == 0
        if stats.status == "completed":
            assert all(statuses.get(dep) == "completed" for dep in dag.deps_of()[task])
            assert expected_success(behaviours[task])
        if stats.status == "failed":
            assert stats.error_message
    never_started = set(dag.ids) - set(recorder.calls)
    # Launched but stopped before its body began (queued for a slot, say): cancelled.
    assert all(statuses.get(task) in (None, "skipped", "cancelled") for task in never_started)
    state = "failed" if counts.get("failed") else "completed"
    assert report.execution_state == state
    return statuses


@PROPERTY_SETTINGS
@given(dag_task_behaviours(allow_sync=True), st.sampled_from([None, 1, 2, 3]))
def test_continue_runs_exactly_the_tasks_it_should(
    case: tuple[Dag, dict[str, TaskBehaviour]], limit: int | None
) -> None:
    """Under 'continue' each task's status follows from its own attempts and its ancestors'."""
    dag, behaviours = case
    recorder = Recorder(dag.deps_of())
    registry = build(dag, behaviours, recorder)
    config = AstrumConfig(on_failure="continue", concurrency_limit=limit)
    report = run_in_new_loop(lambda: registry.run(config=config), virtual=True)
    statuses = check_common(report, dag, behaviours, recorder, limit)
    graph_order = registry.build_scheduler().plan.ids
    expected: dict[str, str] = {}
    for task in graph_order:
        deps = dag.deps_of()[task]
        if any(expected[dep] != "completed" for dep in deps):
            expected[task] = "skipped"
        else:
            expected[task] = "completed" if expected_success(behaviours[task]) else "failed"
    assert statuses == expected
    by_name = {s.task_name: s for s in report.task_statistics}
    for task, status in statuses.items():
        if status == "skipped":
            upstream = by_name[task].error_message or ""
            culprit = upstream.split("'")[1]
            assert statuses[culprit] == "failed"
            assert culprit in ancestors(dag.deps_of(), task)
            assert any(statuses[dep] in ("failed", "skipped") for dep in dag.deps_of()[task])
    failures, retries = (
        report.error_summary[: report.failed_tasks],
        report.error_summary[report.failed_tasks :],
    )
    assert all(re.match(r"Task '\w+' failed: ", line) for line in failures)
    assert all(re.match(r"Task '\w+' (attempt \d+/\d+ failed|exhausted)", line) for line in retries)


@PROPERTY_SETTINGS
@given(dag_task_behaviours(allow_sync=True), st.sampled_from([None, 1, 2]))
def test_fail_fast_stops_at_the_first_failure(
    case: tuple[Dag, dict[str, TaskBehaviour]], limit: int | None
) -> None:
    """Under fail fast nothing starts after the first failure and the rest is cancelled."""
    dag, behaviours = case
    recorder = Recorder(dag.deps_of())
    registry = build(dag, behaviours, recorder)
    config = AstrumConfig(concurrency_limit=limit)
    report = run_in_new_loop(lambda: registry.run(config=config), virtual=True)
    statuses = check_common(report, dag, behaviours, recorder, limit)
    assert "skipped" not in statuses.values()
    if report.execution_state == "completed":
        assert set(statuses) == set(dag.ids)
        assert all(status == "completed" for status in statuses.values())
    else:
        first = report.error_summary[0]
        culprit = first.split("'")[1]
        assert statuses[culprit] == "failed"
        assert not expected_success(behaviours[culprit])
        for task, status in statuses.items():  # listed: it ran, or was stopped while waiting
            assert recorder.calls.get(task) or status == "cancelled"


# -- fuzzing the build -------------------------------------------------------------------------


def assert_library_error(error: BaseException) -> None:
    """A bad input must end in one of our errors, phrased as a sentence by the library."""
    assert isinstance(error, SchedulerError | TypeError | ValueError), repr(error)
    assert not isinstance(error, AttributeError | KeyError | RecursionError), repr(error)
    message = str(error)
    # A sentence: a statement, or a question such as "did you mean 'load'?"
    assert message.rstrip().endswith((".", "?")), f"not a library message: {error!r}"


def attempt(call: Callable[[], Any]) -> bool:
    """Call; True if it worked, False if it raised an acceptable error (else fail)."""
    try:
        call()
    except Exception as error:
        assert_library_error(error)
        return False
    return True


@settings(max_examples=150, deadline=None)
@given(
    st.lists(registration_kwargs(), min_size=1, max_size=4),
    config_kwargs(),
    target_lists,
)
def test_bad_registrations_end_in_clear_errors(
    registrations: list[dict[str, Any]], config: dict[str, Any], targets: Any
) -> None:
    """Random good and bad registrations, configs and targets never crash from inside."""
    registry = SchedulerRegistry("fuzz")
    for kwargs in registrations:
        options = dict(kwargs)
        kind = options.pop("function_kind")
        # The function is made only once task(...) accepted the options, so a coroutine
        # object is never left unawaited by an error the library raised before seeing it.

        def register(options: dict[str, Any] = options, kind: str = kind) -> None:
            registry.task(**options)(fuzz_function(kind))

        attempt(register)
    before = registry.get_all_tasks()
    built = attempt(lambda: AstrumConfig(**config))
    if built:
        cfg = AstrumConfig(**config)
        attempt(lambda: registry.build_task_orders(targets, cfg))
        attempt(lambda: registry.build_tasks(targets))
        if attempt(lambda: registry.build_scheduler(targets, config=cfg)):
            scheduler = registry.build_scheduler(targets, config=cfg)
            assert set(scheduler.plan.ids) <= set(registry.get_all_tasks())
    assert registry.get_all_tasks() == before


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([*FUZZ_IDS, None, 1, ""]),
            st.one_of(
                st.lists(st.sampled_from([*FUZZ_IDS, "ghost", None, 1]), max_size=3),
                st.sampled_from([None, "a", 5]),
            ),
        ),
        max_size=4,
    ),
    st.lists(st.sampled_from([*FUZZ_IDS, "ghost", None]), max_size=3),
    st.dictionaries(
        st.sampled_from([*FUZZ_IDS, "ghost"]), st.sampled_from([0, 1, -1, True, 1.5]), max_size=2
    ),
)
def test_bad_manual_dags_end_in_clear_errors(
    orders: list[tuple[Any, list[Any]]], function_ids: list[Any], retries: dict[str, Any]
) -> None:
    """Random TaskOrders, task lists and retries never crash DynamicScheduler from inside."""
    by_name: dict[Any, TaskOrder] = {}
    task_orders = []
    for name, deps in orders:
        order = TaskOrder(name)
        by_name.setdefault(name, order)
        task_orders.append((order, deps))
    for order, deps in task_orders:
        # Names of known orders become those orders; anything else is passed through raw.
        order.dependencies = [by_name.get(d, d) for d in deps] if isinstance(deps, list) else deps
    tasks = [(task_id, print) for task_id in function_ids]
    attempt(lambda: DynamicScheduler(tasks, [o for o, _ in task_orders], task_retries=retries))
