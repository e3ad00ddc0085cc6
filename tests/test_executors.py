"""Choosing where sync bodies run: config checks, the per-run process pool, Dask stays optional.

Functions run in a process pool are defined at module level: the pool pickles
them by reference, and its spawned processes import this module to find them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from astrum import AstrumConfig, DaskExecutor, F, Ref, SchedulerRegistry
from astrum.executors import SerializationError
from astrum.models import ExecutionReport


async def run_on(registry: SchedulerRegistry, executor: Any, **config: Any) -> ExecutionReport:
    """Run the registry with ``executor`` as the default for sync tasks."""
    return await registry.run(config=AstrumConfig(executor=executor, **config))


# -- bodies for the process pool ---------------------------------------------------


def pid_and_square(number: int = 7) -> tuple[int, int]:
    """Where it ran, and a result."""
    return os.getpid(), number * number


def make_lock_holder() -> LockHolder:
    """A result that cannot be pickled."""
    return LockHolder()


def take_anything(value: Ref[LockHolder, F("produce")]) -> None:
    """Takes the result of the task 'produce'."""
    del value


def raise_lookup() -> None:
    """Fails with a KeyError."""
    raise KeyError("absent")


def exit_on_first_call(marker: str) -> str:
    """Kills its own process the first time, succeeds the second."""
    path = Path(marker)
    if not path.exists():
        path.touch()
        os._exit(3)
    return "recovered"


def sleep_long() -> None:
    """Outlasts any timeout the tests set."""
    time.sleep(30)


class LockHolder:
    """Holds a lock, so pickle refuses it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()


# -- choosing an executor ----------------------------------------------------------


def test_importing_astrum_does_not_import_dask() -> None:
    """`import astrum` and `import astrum.executors` load no Dask module."""
    code = (
        "import sys, astrum, astrum.executors; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_missing_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Dask installed, DaskExecutor() and executor='dask' say which extra to install."""
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'astrum\[dask\]'"):
        DaskExecutor()
    with pytest.raises(ImportError, match=r"AstrumConfig\.executor='dask' needs Dask"):
        AstrumConfig(executor="dask")


def test_config_accepts_every_kind_of_executor() -> None:
    """Names, a DaskExecutor and any concurrent.futures.Executor are valid executors."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        for choice in ("thread", "inline", "process", DaskExecutor(), pool):
            assert AstrumConfig(executor=choice).executor is choice


def test_config_rejects_unknown_executor_listing_the_choices() -> None:
    """An unknown executor name is refused with the list of valid ones."""
    with pytest.raises(ValueError, match="must be 'thread', 'inline', 'process', 'dask', a Dask"):
        AstrumConfig(executor="gpu")  # type: ignore[arg-type]


def test_config_points_a_dask_client_to_dask_executor() -> None:
    """Passing a Dask client itself says to wrap it in DaskExecutor(client=...)."""

    class Client:
        """Stands in for distributed.Client, by module name only."""

    Client.__module__ = "distributed.client"
    with pytest.raises(TypeError, match=r"pass DaskExecutor\(client=client\)"):
        AstrumConfig(executor=Client())  # type: ignore[arg-type]


def test_task_executor_is_checked_with_the_task_name(registry: SchedulerRegistry) -> None:
    """A bad per-task executor is refused at registration, naming the task."""
    with pytest.raises(ValueError, match="Task 'body': executor must be 'thread'"):

        @registry.task(executor="cluster")  # type: ignore[call-overload, untyped-decorator]
        def body() -> None:
            return None


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"address": "tcp://a:1", "client": object()}, ValueError, "address= or client=, not both"),
        ({"address": 8786}, TypeError, "address as a string"),
        ({"n_workers": 0}, ValueError, r"n_workers=...\) must be a positive integer, got 0"),
        ({"client": object()}, TypeError, "must be a distributed.Client, got object"),
    ],
)
def test_dask_executor_rejects_bad_settings(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """DaskExecutor validates its settings when it is made."""
    with pytest.raises(error, match=message):
        DaskExecutor(**kwargs)


def test_dask_executor_repr_says_where() -> None:
    """The repr names the address, or shows that the run makes its own cluster."""
    assert repr(DaskExecutor(address="tcp://h:8786")) == "DaskExecutor(address='tcp://h:8786')"
    assert repr(DaskExecutor()) == "DaskExecutor()"
    assert DaskExecutor().owns_cluster
    assert not DaskExecutor(address="tcp://h:8786").owns_cluster


# -- the per-run process pool ------------------------------------------------------


async def test_process_executor_runs_sync_bodies_in_other_processes(
    registry: SchedulerRegistry,
) -> None:
    """executor='process' runs sync bodies in a pool and records the pid; async stays local."""
    registry.task("square")(pid_and_square)

    @registry.task()
    async def local() -> int:
        return os.getpid()

    report = await run_on(registry, "process")
    assert report.execution_state == "completed", report.error_summary
    pid, value = report.task_return_set["square"]
    assert value == 49
    assert pid != os.getpid()
    assert report.statistics_for("square").worker == f"pid {pid}"
    assert report.statistics_for("local").worker is None
    assert multiprocessing.active_children() == []


async def test_thread_executor_records_no_worker(registry: SchedulerRegistry) -> None:
    """Bodies in the run's threads record no worker."""
    registry.task("square")(pid_and_square)
    report = await run_on(registry, "thread")
    assert report.task_return_set["square"] == (os.getpid(), 49)
    assert report.statistics_for("square").worker is None


async def test_process_pickling_failures_name_the_task_and_type(
    registry: SchedulerRegistry,
) -> None:
    """An argument, result or function pickle refuses fails its task, naming what and why."""

    @registry.task()
    async def produce() -> LockHolder:
        return LockHolder()

    registry.task("consume")(take_anything)
    registry.task("make")(make_lock_holder)

    @registry.task()
    def nested() -> int:
        return 1

    report = await run_on(registry, "process", on_failure="continue")
    consume, make, local = (report.statistics_for(name) for name in ("consume", "make", "nested"))
    assert all(isinstance(s.exception, SerializationError) for s in (consume, make, local))
    assert str(consume.exception).startswith(
        "Task 'consume' cannot be sent to a worker process: parameter 'value' "
        "(of type LockHolder) cannot be pickled"
    )
    assert str(make.exception).startswith(
        "Task 'make' returned a value of type LockHolder that cannot be pickled"
    )
    assert str(local.exception).startswith(
        "Task 'nested' cannot be sent to a worker process: its function "
        "test_process_pickling_failures_name_the_task_and_type.<locals>.nested"
    )
    assert "define the function at module level" in str(local.exception)


async def test_process_body_error_keeps_type_and_traceback(registry: SchedulerRegistry) -> None:
    """An exception from a process keeps its type and carries the child's traceback."""
    registry.task("fail")(raise_lookup)
    report = await run_on(registry, "process")
    failure = report.statistics_for("fail")
    assert isinstance(failure.exception, KeyError)
    assert "in raise_lookup" in str(failure.exception.__cause__)


async def test_dead_process_is_retried_in_a_new_pool(
    registry: SchedulerRegistry, tmp_path: Path
) -> None:
    """A pool process that dies fails the attempt with WorkerLostError; the retry succeeds."""
    registry.task("fragile", retry=1)(functools.partial(exit_on_first_call, str(tmp_path / "died")))
    report = await run_on(registry, "process")
    assert report.task_return_set == {"fragile": "recovered"}, report.error_summary
    first, second = report.statistics_for("fragile").attempt_statistics
    assert (first.error_message or "").startswith(
        "Task 'fragile' failed because a process of the pool running it died abruptly"
    )
    assert second.status == "completed"


async def test_process_timeout_leaves_no_process_running(registry: SchedulerRegistry) -> None:
    """A timed-out body in the run's pool is stopped with the pool when the run ends."""
    registry.task("slow", timeout=0.5)(sleep_long)
    report = await run_on(registry, "process")
    assert report.error_summary == [
        "Task 'slow' failed: TimeoutError: Task 'slow' timed out after 0.5 s (attempt 1)."
    ]
    assert multiprocessing.active_children() == []


async def test_caller_process_pool_is_used_and_left_open(registry: SchedulerRegistry) -> None:
    """A ProcessPoolExecutor you pass runs the bodies and stays usable after the run."""
    registry.task("square")(pid_and_square)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        report = await run_on(registry, pool)
        pid, _ = report.task_return_set["square"]
        assert report.statistics_for("square").worker == f"pid {pid}"
        assert await asyncio.wrap_future(pool.submit(pid_and_square, 3)) == (pid, 9)
