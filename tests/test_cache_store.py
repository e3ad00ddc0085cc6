"""The SQLite store: durability, corruption, concurrency, maintenance."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import multiprocessing
import os
import pickle
import shutil
import sqlite3
import stat
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
    assert path.read_bytes() == b"this is not sqlite" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


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


# -- the store authenticates what it wrote ------------------------------------------------

_UNPICKLED: list[str] = []


def _ran_on_unpickling(note: str) -> str:
    _UNPICKLED.append(note)
    return "forged"


class _Payload:
    """Unpickling this calls a function: what a forged entry would do."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_ran_on_unpickling, ("code ran",))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _key_files(folder: Path) -> list[Path]:
    return list(folder.glob("*.key"))


def _write(path: Path, text: str) -> None:
    path.write_text(text)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_forged_entry_is_never_unpickled(
    registry: SchedulerRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A row written by someone without the key is a miss, logged, and its pickle never loads."""
    path = tmp_path / "cache.db"
    calls: list[str] = []
    _flow(registry, calls, count=1)
    with SqliteStore(path) as store:
        await registry.run(config=AstrumConfig(store=store))
    forged = pickle.dumps(_Payload())
    with sqlite3.connect(path) as raw:
        for (key,) in raw.execute("SELECT key FROM entries").fetchall():
            # What the store accepted before: a checksum anyone can compute.
            digest = hashlib.blake2b(key.encode(), digest_size=16)
            digest.update(forged)
            raw.execute(
                "UPDATE entries SET payload = ?, checksum = ? WHERE key = ?",
                (forged, digest.digest(), key),
            )
    with SqliteStore(path) as store, caplog.at_level(logging.WARNING, logger="astrum"):
        report = await registry.run(config=AstrumConfig(store=store))
    assert _UNPICKLED == []
    assert report.task_return_set == {"t0": {"index": 0}}
    assert calls == ["t0", "t0"]
    assert len(_warnings(caplog)) == 1
    assert "did not sign" in _warnings(caplog)[0]


async def test_a_copy_without_its_key_only_misses(
    registry: SchedulerRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A copied database yields misses (one warning) until its key file is copied with it."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    original = tmp_path / "a" / "cache.db"
    calls: list[str] = []
    _flow(registry, calls)
    with SqliteStore(original) as store:
        await registry.run(config=AstrumConfig(store=store))
        key_file = store.key_path
    assert key_file == tmp_path / "a" / "cache.db.key"
    shutil.copy(original, tmp_path / "b" / "cache.db")
    with (
        SqliteStore(tmp_path / "b" / "cache.db") as copy,
        caplog.at_level(logging.WARNING, logger="astrum"),
    ):
        report = await registry.run(config=AstrumConfig(store=copy))
    assert report.execution_state == "completed"
    assert {s.status for s in report.task_statistics} == {"completed"}
    assert len(_warnings(caplog)) == 1  # three rejected entries, one warning
    shutil.copy(original, tmp_path / "c" / "cache.db")
    shutil.copy(key_file, tmp_path / "c" / "cache.db.key")
    with SqliteStore(tmp_path / "c" / "cache.db") as shared:
        report = await registry.run(config=AstrumConfig(store=shared))
    assert {s.status for s in report.task_statistics} == {"cached"}


async def test_a_given_key_shares_a_store_on_purpose(
    registry: SchedulerRegistry, tmp_path: Path
) -> None:
    """Stores opened with one key= accept each other's entries, and make no key file."""
    secret = "a shared secret of enough length"
    calls: list[str] = []
    _flow(registry, calls)
    with SqliteStore(tmp_path / "here.db", key=secret) as store:
        await registry.run(config=AstrumConfig(store=store))
    shutil.copy(tmp_path / "here.db", tmp_path / "there.db")
    with SqliteStore(tmp_path / "there.db", key=secret.encode()) as store:
        report = await registry.run(config=AstrumConfig(store=store))
    assert {s.status for s in report.task_statistics} == {"cached"}
    with SqliteStore(tmp_path / "there.db", key="another secret, as long") as store:
        report = await registry.run(config=AstrumConfig(store=store))
    assert {s.status for s in report.task_statistics} == {"completed"}
    assert _key_files(tmp_path) == []


async def test_the_database_and_key_are_private_to_their_owner(
    registry: SchedulerRegistry, tmp_path: Path
) -> None:
    """The database, its WAL and the key file are created with mode 0600."""
    path = tmp_path / "private.db"
    _flow(registry, [], count=1)
    with SqliteStore(path) as store:
        await registry.run(config=AstrumConfig(store=store))
        assert _mode(path) == 0o600
        assert _mode(Path(f"{path}-wal")) == 0o600
        assert _mode(store.key_path) == 0o600
    assert len(store.key_path.read_text().strip()) == 64  # 32 random bytes, as hex


def test_a_short_or_odd_key_is_refused(tmp_path: Path) -> None:
    """key= must be bytes or str of at least 16 bytes."""
    with pytest.raises(ValueError, match="at least 16 bytes"):
        SqliteStore(tmp_path / "short.db", key="hunter2")
    with pytest.raises(TypeError, match="takes bytes or str"):
        SqliteStore(tmp_path / "odd.db", key=12345678901234567890)  # type: ignore[arg-type]


async def test_a_damaged_key_file_does_not_fail_the_run(
    registry: SchedulerRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An unreadable key is the store failing: the run completes without it and says why."""
    path = tmp_path / "cache.db"
    calls: list[str] = []
    _flow(registry, calls, count=1)
    _write(Path(f"{path}.key"), "not a key")
    with SqliteStore(path) as store, caplog.at_level(logging.WARNING, logger="astrum"):
        report = await registry.run(config=AstrumConfig(store=store))
    assert report.task_return_set == {"t0": {"index": 0}}
    assert "does not hold a key" in caplog.text
