"""The SQLite store: durability, corruption, concurrency, maintenance."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from astrum import AstrumConfig, SchedulerRegistry, SqliteStore, run_sync, use_namespace
from astrum.cache import CacheStats, clear, stats


def _flow(registry: SchedulerRegistry, calls: list[str], count: int = 3) -> None:
    for index in range(count):

        def body(index: int = index) -> dict[str, int]:
            calls.append(f"t{index}")
            return {"index": index}

        registry.task(f"t{index}", cache=True)(body)


async def test_store_uses_wal_and_survives_reopening(
    registry: SchedulerRegistry, tmp_path: Path
) -> None:
    """Entries written by one store object are hits for a new one on the same file."""
    path = tmp_path / "cache.db"
    calls: list[str] = []
    _flow(registry, calls)
    with SqliteStore(path) as store:
        await registry.run(config=AstrumConfig(store=store))
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with SqliteStore(path) as store:
        report = await registry.run(config=AstrumConfig(store=store))
    assert {s.status for s in report.task_statistics} == {"cached"}
    assert sorted(calls) == ["t0", "t1", "t2"]


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE entries SET payload = substr(payload, 1, length(payload) - 3)",
        "UPDATE entries SET payload = zeroblob(length(payload))",
        "UPDATE entries SET checksum = x'00'",
    ],
    ids=["truncated", "overwritten", "bad-checksum"],
)
async def test_damaged_entries_are_misses(
    registry: SchedulerRegistry, tmp_path: Path, damage: str
) -> None:
    """A truncated or overwritten entry is never returned: the task runs again."""
    path = tmp_path / "cache.db"
    calls: list[str] = []
    _flow(registry, calls, count=1)
    with SqliteStore(path) as store:
        await registry.run(config=AstrumConfig(store=store))
        with sqlite3.connect(path) as raw:
            raw.execute(damage)
        report = await registry.run(config=AstrumConfig(store=store))
    assert report.statistics_for("t0").status == "completed"
    assert report.task_return_set == {"t0": {"index": 0}}
    assert calls == ["t0", "t0"]


async def test_an_entry_copied_under_another_key_is_a_miss(
    registry: SchedulerRegistry, tmp_path: Path
) -> None:
    """The checksum covers the key: one task's stored value never answers for another's."""
    path = tmp_path / "cache.db"
    calls: list[str] = []
    _flow(registry, calls, count=2)
    with SqliteStore(path) as store:
        first = await registry.run(config=AstrumConfig(store=store))
        with sqlite3.connect(path) as raw:
            keys = dict(raw.execute("SELECT task_id, value_ref FROM run_tasks"))
            raw.execute(
                "UPDATE entries SET (checksum, payload) = "
                "(SELECT checksum, payload FROM entries WHERE key = ?) WHERE key = ?",
                (keys["t0"], keys["t1"]),
            )
        report = await registry.run(config=AstrumConfig(store=store))
    assert (
        first.task_return_set == report.task_return_set == {"t0": {"index": 0}, "t1": {"index": 1}}
    )
    assert report.statistics_for("t1").status == "completed"


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    """Opening a non-database file fails with a message naming the path."""
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(OSError, match=r"notes\.txt' is not a usable cache store"):
        SqliteStore(path)


def test_a_store_from_another_schema_version_is_refused(tmp_path: Path) -> None:
    """A file with a newer schema is not silently misread."""
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 99")
    with pytest.raises(ValueError, match="has schema version 99"):
        SqliteStore(path)


async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    """Using a store after close() raises, naming the store."""
    store = SqliteStore(tmp_path / "closed.db")
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match=r"SqliteStore\(.*closed\.db'\) is closed"):
        await store.put("k", b"v")


async def test_writes_wait_off_the_loop(registry: SchedulerRegistry, tmp_path: Path) -> None:
    """While another connection holds the write lock, the event loop keeps running."""
    path = tmp_path / "busy.db"
    calls: list[str] = []
    _flow(registry, calls, count=1)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    with SqliteStore(path) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, blocker.execute, "COMMIT")
        ticking = asyncio.create_task(ticker())
        report = await registry.run(config=AstrumConfig(store=store))
        ticking.cancel()
        blocker.close()
    assert report.execution_state == "completed"
    assert ticks >= 5  # the loop ran while the write waited for the lock


_WORKER = """
import asyncio, sys
from astrum import AstrumConfig, SchedulerRegistry, SqliteStore, run_sync, use_namespace

flow = SchedulerRegistry("shared")
for index in range(30):
    flow.task(f"t{index}", cache=True)(lambda index=index: {"index": index, "blob": "x" * 500})

async def main() -> None:
    with SqliteStore(sys.argv[1]) as store:
        for _ in range(3):
            report = await flow.run(config=AstrumConfig(store=store))
            assert report.execution_state == "completed", report.error_summary
            assert report.task_return_set["t7"]["index"] == 7
        if sys.argv[2:] == ["check"]:
            assert {s.status for s in report.task_statistics} == {"cached"}

asyncio.run(main())
"""


async def test_several_processes_share_one_file(tmp_path: Path) -> None:
    """Processes running workflows on the same store at once all succeed; entries stay whole."""
    path = tmp_path / "shared.db"
    SqliteStore(path).close()
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(_WORKER))
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, str(script), str(path), stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    for worker in workers:
        _, error = await worker.communicate()
        assert worker.returncode == 0, error.decode()
    summary = stats(path)
    assert (summary.entries, summary.runs) == (30, 9)
    assert 30 <= summary.recorded_tasks <= 90  # hits are not recorded again
    check = await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(path), "check", stderr=subprocess.PIPE
    )
    _, error = await check.communicate()
    assert check.returncode == 0, error.decode()


async def test_clear_and_stats(registry: SchedulerRegistry, tmp_path: Path) -> None:
    """stats() counts entries and runs; clear() empties the store and says how much it held."""
    path = tmp_path / "cache.db"
    calls: list[str] = []
    _flow(registry, calls)
    with SqliteStore(path) as store:
        await registry.run(config=AstrumConfig(store=store))
    summary = stats(path)
    assert isinstance(summary, CacheStats)
    assert (summary.entries, summary.runs, summary.recorded_tasks) == (3, 1, 3)
    assert summary.payload_bytes > 0
    assert summary.path == str(path)
    assert clear(path) == 3
    assert stats(path).entries == 0


def test_maintenance_of_a_missing_store_fails_clearly(tmp_path: Path) -> None:
    """clear/stats on a path without a store raise FileNotFoundError naming it, creating nothing."""
    missing = tmp_path / "nothing.db"
    with pytest.raises(FileNotFoundError, match=r"There is no cache store at '.*nothing\.db'"):
        stats(missing)
    with pytest.raises(FileNotFoundError):
        clear(missing)
    assert not missing.exists()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
async def test_a_forked_child_gets_its_own_connections(tmp_path: Path) -> None:
    """A store used before fork works in the child, which must not touch the parent's handles."""
    path = tmp_path / "fork.db"
    with SqliteStore(path) as store:
        await store.put("parent", b"p")  # starts the writer thread and opens connections
        assert await store.get("parent") == b"p"
        context = multiprocessing.get_context("fork")
        child = context.Process(target=_write_in_child, args=(store,), daemon=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, on purpose
            child.start()
        child.join(30)
        if child.is_alive():  # it hung on the parent's writer thread, which it does not have
            child.kill()
            child.join()
        assert child.exitcode == 0
        assert await store.get("child") == b"c"


def _write_in_child(store: SqliteStore) -> None:
    async def write() -> None:
        assert await store.get("parent") == b"p"
        await store.put("child", b"c")

    asyncio.run(write())


def test_runs_in_several_threads_share_a_store(tmp_path: Path) -> None:
    """Event loops in different threads use one SqliteStore at once; all get right values."""
    with use_namespace("threads") as registry, SqliteStore(tmp_path / "threads.db") as store:
        for index in range(20):
            registry.task(f"t{index}", cache=True)(lambda index=index: index * 3)
        config = AstrumConfig(store=store)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            reports = list(
                pool.map(lambda _: run_sync(namespace="threads", config=config), range(8))
            )
    expected = {f"t{index}": index * 3 for index in range(20)}
    assert all(report.task_return_set == expected for report in reports)
    assert all(report.execution_state == "completed" for report in reports)


async def test_a_locked_file_is_a_quick_miss_not_a_stalled_loop(tmp_path: Path) -> None:
    """While another process holds the file exclusively, a lookup gives up fast and misses."""
    path = tmp_path / "locked.db"
    with SqliteStore(path) as writer:
        await writer.put("k", b"value")
    with SqliteStore(path) as store:  # opened, but no connection of its own is held yet
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("PRAGMA locking_mode=EXCLUSIVE")
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            began = time.monotonic()
            assert await store.get("k") is None
            assert time.monotonic() - began < 5  # the loop was never held for long
        finally:
            blocker.execute("COMMIT")
            blocker.close()
        assert await store.get("k") == b"value"
