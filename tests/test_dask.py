"""Sync task bodies on a real Dask cluster: placement, transport, failures, cleanup.

One LocalCluster (two single-threaded worker processes) serves the whole module;
each run connects its own client to it, as a user's runs would to a real cluster.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astrum import AstrumConfig, DaskExecutor, F, Ref, SchedulerRegistry
from astrum.config import ExecutorChoice
from astrum.executors import SerializationError, WorkerLostError
from astrum.models import ExecutionReport
from strategies import DataDag, Placement, data_dags, placements

dask: Any = pytest.importorskip("dask")
distributed: Any = pytest.importorskip("distributed")
# Dask leaves its Client and LocalCluster constructors unannotated: use them as untyped.
Client: Any = distributed.Client
LocalCluster: Any = distributed.LocalCluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes; a dead worker fails its task at once, as Astrum's own clusters do."""
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as local,
    ):
        yield local


@pytest.fixture(scope="module")
def sync_client(cluster: Any) -> Iterator[Any]:
    """A synchronous client of the shared cluster, as a notebook user would hold."""
    with Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture
def remote(cluster: Any) -> DaskExecutor:
    """The shared cluster, by address."""
    return DaskExecutor(address=cluster.scheduler_address)


async def run_on(registry: SchedulerRegistry, executor: Any, **config: Any) -> ExecutionReport:
    """Run the registry with ``executor`` as the default for sync tasks."""
    timeout = config.pop("timeout", None)
    return await registry.run(config=AstrumConfig(executor=executor, **config), timeout=timeout)


def workers_of(client: Any) -> set[str]:
    """The addresses of the cluster's workers now."""
    return set(client.scheduler_info()["workers"])


class Payload:
    """A value that counts how often this process pickles it."""

    pickled_here = 0

    def __init__(self, items: list[int]) -> None:
        self.items = items

    def __reduce__(self) -> tuple[Any, ...]:
        Payload.pickled_here += 1
        return (Payload, (self.items,))


class Holder:
    """A result that cannot leave its worker: it holds a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()


async def test_sync_tasks_run_on_workers_and_async_tasks_on_the_loop(
    registry: SchedulerRegistry, remote: DaskExecutor, sync_client: Any, tmp_path: Path
) -> None:
    """Sync bodies run on the cluster's workers, which the report and its timeline name."""

    @registry.task()
    def square() -> tuple[int, int]:
        return os.getpid(), 7 * 7

    @registry.task()
    async def local() -> int:
        return os.getpid()

    report = await run_on(registry, remote)
    assert report.execution_state == "completed", report.error_summary
    pid, value = report.task_return_set["square"]
    assert value == 49
    assert pid != os.getpid()
    assert report.task_return_set["local"] == os.getpid()
    remote_stats = report.statistics_for("square")
    assert remote_stats.worker in workers_of(sync_client)
    assert remote_stats.attempt_statistics[0].worker == remote_stats.worker
    assert report.statistics_for("local").worker is None
    trace = json.loads(report.to_chrome_trace(tmp_path / "trace.json").read_text())
    slices = {event["name"]: event for event in trace["traceEvents"] if event["ph"] == "X"}
    assert slices["square"]["args"]["worker"] == remote_stats.worker
    assert slices["square #1"]["args"]["worker"] == remote_stats.worker
    assert "worker" not in slices["local"]["args"]


@pytest.mark.parametrize("made_on_cluster", [True, False])
async def test_only_values_made_off_the_cluster_are_sent_to_it(
    registry: SchedulerRegistry, remote: DaskExecutor, made_on_cluster: bool
) -> None:
    """A Dask task's result feeds the next Dask task as a future; a loop-made value goes as data."""
    if made_on_cluster:

        @registry.task("produce")
        def produce_remotely() -> Payload:
            return Payload([1, 2, 3])

    else:

        @registry.task("produce")
        async def produce_locally() -> Payload:
            return Payload([1, 2, 3])

    @registry.task()
    def consume(payload: Ref[Payload, F("produce")]) -> int:
        return sum(payload.items)

    Payload.pickled_here = 0
    report = await run_on(registry, remote)
    assert report.execution_state == "completed", report.error_summary
    assert report.task_return_set["consume"] == 6
    assert report.task_return_set["produce"].items == [1, 2, 3]
    assert (Payload.pickled_here == 0) is made_on_cluster


async def test_unpicklable_argument_fails_the_task_naming_it(
    registry: SchedulerRegistry, remote: DaskExecutor
) -> None:
    """An argument that cannot be pickled fails the consumer with its name and type."""

    @registry.task()
    async def produce() -> threading.Condition:
        return threading.Condition()

    @registry.task()
    def consume(guard: Ref[threading.Condition, F("produce")]) -> None:
        del guard

    report = await run_on(registry, remote)
    assert report.execution_state == "failed"
    failure = report.statistics_for("consume")
    assert isinstance(failure.exception, SerializationError)
    assert str(failure.exception).startswith(
        "Task 'consume' cannot be sent to the Dask cluster: parameter 'guard' "
        "(of type Condition) cannot be pickled"
    )


async def test_unpicklable_result_fails_the_task_naming_its_type(
    registry: SchedulerRegistry, remote: DaskExecutor
) -> None:
    """A result that cannot be pickled fails its task with the task's name and the type."""

    @registry.task()
    def make() -> Holder:
        return Holder()

    report = await run_on(registry, remote)
    failure = report.statistics_for("make")
    assert isinstance(failure.exception, SerializationError)
    assert str(failure.exception).startswith(
        "Task 'make' returned a value of type Holder that cannot be pickled"
    )
    assert failure.worker is not None


async def test_body_error_keeps_its_type_and_remote_traceback(
    registry: SchedulerRegistry, remote: DaskExecutor
) -> None:
    """An exception raised on a worker reaches the report as itself, with the worker's traceback."""

    @registry.task()
    def explode() -> None:
        raise KeyError("missing")

    report = await run_on(registry, remote)
    failure = report.statistics_for("explode")
    assert isinstance(failure.exception, KeyError)
    assert report.error_summary == ["Task 'explode' failed: KeyError: 'missing'"]
    assert "in explode" in str(failure.exception.__cause__)
    assert failure.worker is not None


async def test_retry_runs_the_body_again(
    registry: SchedulerRegistry, remote: DaskExecutor, tmp_path: Path
) -> None:
    """A failed attempt on the cluster is retried by the task's own policy."""
    marker = tmp_path / "first"

    @registry.task(retry=1, retry_on=ValueError)
    def flaky() -> str:
        if not marker.exists():
            marker.touch()
            raise ValueError("first attempt")
        return "second"

    report = await run_on(registry, remote)
    assert report.task_return_set == {"flaky": "second"}
    attempts = report.statistics_for("flaky").attempt_statistics
    assert [a.status for a in attempts] == ["failed", "completed"]
    assert all(a.worker is not None for a in attempts)


async def test_continue_policy_skips_downstream_of_a_remote_failure(
    registry: SchedulerRegistry, remote: DaskExecutor
) -> None:
    """With on_failure='continue' an independent Dask branch finishes after another fails."""

    @registry.task()
    def bad() -> None:
        raise RuntimeError("no")

    @registry.task(depends_on=["bad"])
    def after_bad() -> None:
        return None

    @registry.task()
    def good() -> int:
        return 1

    report = await run_on(registry, remote, on_failure="continue")
    assert report.task_return_set == {"good": 1}
    assert report.statistics_for("after_bad").status == "skipped"


async def test_timeout_cancels_the_dask_future(
    registry: SchedulerRegistry, remote: DaskExecutor, sync_client: Any
) -> None:
    """A timed-out attempt fails the task and the scheduler drops its future."""

    @registry.task("slow", timeout=0.3)
    def slow_body_for_timeout() -> None:
        time.sleep(1.5)

    report = await run_on(registry, remote)
    assert report.error_summary == [
        "Task 'slow' failed: TimeoutError: Task 'slow' timed out after 0.3 s (attempt 1)."
    ]
    assert not await _scheduler_knows(sync_client, "slow-")


async def test_run_timeout_cancels_running_dask_tasks(
    registry: SchedulerRegistry, remote: DaskExecutor, sync_client: Any
) -> None:
    """A run that times out reports its Dask task cancelled and leaves no future behind."""

    @registry.task("lingering")
    def slow_body_for_run_timeout() -> None:
        time.sleep(2.5)

    # A second for the run to connect and start the task, even on a loaded machine.
    report = await run_on(registry, remote, timeout=1.0)
    assert report.execution_state == "cancelled"
    assert report.statistics_for("lingering").status == "cancelled"
    assert not await _scheduler_knows(sync_client, "lingering-")


async def test_given_client_is_used_and_left_running(
    registry: SchedulerRegistry, sync_client: Any
) -> None:
    """DaskExecutor(client=...) runs on that client's cluster and does not close it."""

    @registry.task()
    def where() -> int:
        return os.getpid()

    report = await run_on(registry, DaskExecutor(client=sync_client))
    assert report.task_return_set["where"] != os.getpid()
    assert report.statistics_for("where").worker in workers_of(sync_client)
    assert sync_client.status == "running"


async def test_async_client_on_the_run_loop_is_reused(
    registry: SchedulerRegistry, cluster: Any
) -> None:
    """An asynchronous client on the run's own loop is used as it is and stays open."""

    @registry.task()
    def one() -> int:
        return 1

    async with Client(cluster.scheduler_address, asynchronous=True) as client:
        report = await run_on(registry, DaskExecutor(client=client))
        assert report.task_return_set == {"one": 1}
        assert client.status == "running"
        assert await client.submit(int, "2") == 2


async def test_unreachable_scheduler_fails_the_tasks_clearly(registry: SchedulerRegistry) -> None:
    """A scheduler that cannot be reached fails its tasks with the address in the message."""

    @registry.task()
    def never() -> None:
        return None

    with dask.config.set({"distributed.comm.timeouts.connect": "0.5s"}):
        report = await run_on(registry, DaskExecutor(address="tcp://127.0.0.1:9"))
    message = report.statistics_for("never").error_message or ""
    assert message.startswith(
        "Task 'never' could not run: Astrum could not connect to the Dask scheduler at "
        "tcp://127.0.0.1:9"
    )


async def test_embedded_cluster_is_created_per_run_and_stopped(registry: SchedulerRegistry) -> None:
    """executor='dask' on one task starts a local cluster for the run; nothing of it survives."""
    children = set(multiprocessing.active_children())
    threads = set(threading.enumerate())

    @registry.task(executor="dask")
    def remote_pid() -> int:
        return os.getpid()

    @registry.task()
    def thread_pid() -> int:
        return os.getpid()

    report = await registry.run(config=AstrumConfig(thread_pool="per_run"))
    assert report.execution_state == "completed", report.error_summary
    assert report.task_return_set["remote_pid"] != os.getpid()
    assert report.task_return_set["thread_pid"] == os.getpid()
    assert (report.statistics_for("remote_pid").worker or "").startswith("tcp://127.0.0.1:")
    assert set(multiprocessing.active_children()) == children
    # Dask keeps one process-wide offload thread for all its clients; it belongs to no run.
    new_threads = {t.name for t in set(threading.enumerate()) - threads if t.is_alive()}
    assert {name for name in new_threads if not name.startswith("Dask-Offload")} == set()


async def test_run_cancelled_while_its_cluster_starts_leaves_nothing(
    registry: SchedulerRegistry,
) -> None:
    """A run that times out while its local cluster starts still closes the cluster."""
    children = set(multiprocessing.active_children())

    @registry.task()
    def never_started() -> None:
        return None

    report = await run_on(registry, DaskExecutor(n_workers=1), timeout=0.05)
    assert report.execution_state == "cancelled"
    assert report.task_statistics == []
    assert set(multiprocessing.active_children()) == children


async def test_killed_worker_is_retried_by_the_task_policy(
    registry: SchedulerRegistry, remote: DaskExecutor, sync_client: Any, tmp_path: Path
) -> None:
    """A worker process killed mid-task fails that attempt; the retry runs on a live worker."""
    marker = tmp_path / "killed"

    @registry.task(retry=1)
    def fragile() -> str:
        if not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return "survived"

    report = await run_on(registry, remote)
    assert report.task_return_set == {"fragile": "survived"}, report.error_summary
    first, second = report.statistics_for("fragile").attempt_statistics
    assert first.status == "failed"
    assert (first.error_message or "").startswith(
        f"Task 'fragile' failed because the Dask worker running it ({first.worker}) died"
    )
    assert second.worker != first.worker
    await asyncio.to_thread(sync_client.wait_for_workers, 2, timeout=30)


async def test_killed_worker_without_retry_fails_the_run(
    registry: SchedulerRegistry, remote: DaskExecutor
) -> None:
    """Without retries a killed worker fails the task with a WorkerLostError."""

    @registry.task()
    def doomed() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    report = await run_on(registry, remote)
    assert report.execution_state == "failed"
    assert isinstance(report.statistics_for("doomed").exception, WorkerLostError)


def _placed(dag: DataDag, placement: Sequence[Placement], dask: DaskExecutor) -> SchedulerRegistry:
    """The DAG's tasks, each returning what it received, each run where ``placement`` says."""
    registry = SchedulerRegistry(f"placed-{uuid.uuid4().hex}")
    executors: dict[Placement, ExecutorChoice | None] = {
        "loop": None,
        "inline": "inline",
        "thread": "thread",
        "dask": dask,
    }
    for task in range(dag.size):
        where = placement[task]

        def result(received: dict[str, Any], task: int = task) -> dict[Any, Any]:
            return {"name": f"t{task}", 0: ("item", task, 0), 1: [task], "received": received}

        if where == "loop":

            async def body(**kwargs: Any) -> Any:
                return result(kwargs)

        else:

            def body(**kwargs: Any) -> Any:  # type: ignore[misc]
                return result(kwargs)

        inputs = [r for r in dag.relations if r.receiver == task]
        hints = {r.param: Ref[Any, F(f"t{r.source}", r.locator)] for r in inputs}
        body.__annotations__ = {**hints, "return": Any}
        body.__dict__["__signature__"] = inspect.Signature(
            [
                inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, annotation=h)
                for p, h in hints.items()
            ],
            return_annotation=Any,
        )
        registry.task(f"t{task}", executor=executors[where])(body)
    return registry


# ``remote`` is function-scoped but immutable, so sharing it between examples is safe.
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(dag=data_dags(max_tasks=6), data=st.data())
def test_random_dags_get_the_same_values_wherever_tasks_run(
    remote: DaskExecutor, dag: DataDag, data: st.DataObject
) -> None:
    """In random DAGs, sending some sync tasks to Dask changes no value any task receives."""
    placement = data.draw(placements(dag.size))
    local = asyncio.run(_placed(dag, ["inline"] * dag.size, remote).run())
    placed = asyncio.run(_placed(dag, placement, remote).run())
    assert placed.execution_state == "completed", placed.error_summary
    assert placed.task_return_set == local.task_return_set
    for task, where in enumerate(placement):
        worker = placed.statistics_for(f"t{task}").worker
        assert (worker is not None) is (where == "dask")


async def _scheduler_knows(client: Any, prefix: str) -> bool:
    """Whether the scheduler still tracks a key starting with ``prefix`` after a short while."""
    deadline = time.monotonic() + 10
    while True:
        keys = await asyncio.to_thread(client.run_on_scheduler, _scheduler_keys)
        if not any(str(key).startswith(prefix) for key in keys):
            return False
        if time.monotonic() > deadline:
            return True
        await asyncio.sleep(0.05)


def _scheduler_keys(dask_scheduler: Any) -> list[str]:
    return [str(key) for key in dask_scheduler.tasks]
