"""The on-disk cache store: one SQLite file in WAL mode, shared by runs and processes.

Reads are single indexed lookups and run on the caller's thread (usually the
event loop): they take microseconds, and a thread hop would cost more than
the lookup itself. Writes go to one worker thread per store, which batches
whatever is queued into one transaction, so the loop never waits on a disk
or on another process's write lock. A write is awaited until it is
committed: a task counts as done only once its result is on disk, so a
killed process loses at most the tasks that were running.

WAL with ``synchronous=NORMAL`` keeps every committed transaction through a
crash of the process (the kernel has the data); only a power cut may lose the
last few, which then simply run again.

Entries are pickles, and unpickling runs code: so every entry carries an
HMAC-SHA256 under a key kept outside the database (``key=``, or a random key
in a file beside it), and an entry whose MAC does not verify is never handed
back. Whoever can write the database file, or hands someone a copy, can make
that store miss, never run code in the processes that read it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["DEFAULT_PATH", "CacheStats", "RecordedRun", "SqliteStore"]

logger = logging.getLogger("astrum")

DEFAULT_PATH = ".astrum-cache.db"
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY, created REAL NOT NULL, checksum BLOB NOT NULL, payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, parent TEXT, started REAL NOT NULL);
CREATE TABLE IF NOT EXISTS run_tasks (
    run_id TEXT NOT NULL, task_id TEXT NOT NULL, lineage TEXT NOT NULL, value_ref TEXT NOT NULL,
    PRIMARY KEY (run_id, task_id)
);
CREATE TABLE IF NOT EXISTS run_reports (run_id TEXT PRIMARY KEY, payload BLOB NOT NULL);
"""
# Added after schema version 1 without changing it: created when first needed, so stores
# made before it still open, and a store without it simply holds no reports.
_REPORTS_TABLE = (
    "CREATE TABLE IF NOT EXISTS run_reports (run_id TEXT PRIMARY KEY, payload BLOB NOT NULL)"
)
_READ_TIMEOUT = 0.2
_T = TypeVar("_T")


_KEY_BYTES = 32
_MIN_KEY_BYTES = 16
_PRIVATE = 0o600


def _mac(keyed: hmac.HMAC, key: str, created: float, payload: bytes) -> bytes:
    """An entry's HMAC-SHA256 (``keyed`` holds the secret); it covers the key and time too,
    so a row moved under another key, or made to look fresher, fails like a forged one."""
    name = key.encode("utf-8", "surrogatepass")
    digest = keyed.copy()  # cheaper than keying a new HMAC for every entry
    digest.update(len(name).to_bytes(8, "big"))
    digest.update(name)
    digest.update(struct.pack(">d", created))
    digest.update(payload)
    return digest.digest()


def _secret_of(key: bytes | str) -> bytes:
    secret = key.encode("utf-8") if isinstance(key, str) else key
    if not isinstance(secret, bytes):
        raise TypeError(f"SqliteStore(key=...) takes bytes or str, got {type(key).__name__}.")
    if len(secret) < _MIN_KEY_BYTES:
        raise ValueError(
            f"SqliteStore(key=...) needs at least {_MIN_KEY_BYTES} bytes, got {len(secret)}; "
            "use a long random secret, e.g. secrets.token_hex(32)."
        )
    return secret


def _create_private(path: Path) -> None:
    """Create ``path`` empty and readable by its owner only, unless it exists."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE))
    except FileExistsError:
        pass
    except OSError as exc:
        raise OSError(f"Cannot open the cache store at '{path}': {exc}.") from exc


def _read_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < _MIN_KEY_BYTES:
        raise ValueError(
            f"The key file '{path}' of the cache store does not hold a key (hexadecimal text "
            "of at least 16 bytes); restore it, or delete it to start afresh (what the store "
            "holds then becomes misses)."
        )
    return secret


def _load_or_create_key(path: Path) -> bytes:
    """The key in ``path``; a new random one, written there (mode 0600), if there is none.

    Processes that start at once agree on one key: each writes its own to a
    temporary file and links it into place, which only the first one can do.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    text = secrets.token_bytes(_KEY_BYTES).hex() + "\n"
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use its key
        except OSError:  # no hard links on this file system: an exclusive create instead
            with contextlib.suppress(FileExistsError):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE)
                with os.fdopen(fd, "w", encoding="ascii") as file:
                    file.write(text)
    finally:
        temporary.unlink(missing_ok=True)
    return _read_key(path)


@dataclass(frozen=True)
class CacheStats:
    """How much a store holds."""

    entries: int
    """Stored values (cached results and recorded results of runs)."""
    payload_bytes: int
    runs: int
    """Runs recorded for resume."""
    recorded_tasks: int
    path: str | None = None
    file_bytes: int = 0


@dataclass(frozen=True)
class RecordedRun:
    """A run the store recorded: resume it with ``run(..., resume=run_id)``."""

    run_id: str
    started: float
    """Seconds since the epoch."""
    resumed_from: str | None
    completed_tasks: int


class SqliteStore:
    """A cache store in one SQLite file, safe for concurrent runs and processes.

    Entries are signed with ``key`` (bytes or str, at least 16 bytes); without
    one, with a random key kept in the file ``key_path`` (the database's path
    plus ``.key``), made on first use. Both files are created readable by
    their owner only. An entry that does not verify under the key is a miss.

    >>> store = SqliteStore("build/cache.db")  # doctest: +SKIP
    >>> config = AstrumConfig(store=store)  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_PATH,
        *,
        key: bytes | str | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.key_path = Path(f"{self.path}.key")
        """Where the store's key is kept when no ``key=`` is given."""
        # Read on first use, so that inspecting or clearing a store makes no key file.
        self._secret = None if key is None else _secret_of(key)
        self._keyed: hmac.HMAC | None = None
        self._given_key = key is not None
        self._warned = False
        self._timeout = timeout
        self._clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._closed = False
        self._pid = os.getpid()
        _create_private(self.path)
        connection = self._connect()
        try:
            self._set_up(connection)
        finally:
            connection.close()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    # -- connections -----------------------------------------------------------------

    def _connect(self, timeout: float | None = None) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(
                self.path,
                timeout=self._timeout if timeout is None else timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise OSError(f"Cannot open the cache store at '{self.path}': {exc}.") from exc
        try:
            connection.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            connection.close()
            if isinstance(exc, sqlite3.OperationalError):
                raise  # locked or busy: the caller decides whether to wait, retry or miss
            raise OSError(
                f"The file at '{self.path}' is not a usable cache store ({exc}); "
                "delete it or choose another path."
            ) from exc
        return connection

    def _set_up(self, connection: sqlite3.Connection) -> None:
        try:
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _SCHEMA_VERSION):
                raise ValueError(
                    f"The cache store at '{self.path}' has schema version {version}, but this "
                    f"Astrum uses version {_SCHEMA_VERSION}; clear it or use another path."
                )
            if version == 0:
                # One transaction, so processes opening a new file at once agree on it.
                connection.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
                connection.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise OSError(
                f"The file at '{self.path}' is not a usable cache store ({exc}); "
                "delete it or choose another path."
            ) from exc
        if str(mode).lower() != "wal":
            raise OSError(
                f"The cache store at '{self.path}' could not switch to WAL mode (got {mode!r}); "
                "it needs a local file system."
            )

    def _reader(self) -> sqlite3.Connection:
        """This thread's connection: sqlite connections must not be shared between threads.

        Its busy timeout is short: it reads on the event loop, and WAL readers only
        wait in rare cases (another process vacuuming the file); a miss is better.
        """
        if self._pid != os.getpid():
            self._after_fork()
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self._closed:
                raise RuntimeError(f"{self!r} is closed; create a new store to use it again.")
            connection = self._connect(timeout=_READ_TIMEOUT)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _submit(self, job: Callable[[sqlite3.Connection], _T]) -> concurrent.futures.Future[_T]:
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self!r} is closed; create a new store to use it again.")
            if self._worker is None:
                self._worker = _Worker(self._connect, str(self.path))
            return self._worker.submit(job)

    def _after_fork(self) -> None:
        """In a forked child: forget the parent's connections, thread and lock (unusable here)."""
        self._pid = os.getpid()
        self._local = threading.local()
        self._connections = []
        self._worker = None
        self._lock = threading.Lock()

    async def _write(self, job: Callable[[sqlite3.Connection], _T]) -> _T:
        return await asyncio.wrap_future(self._submit(job))

    def close(self) -> None:
        """Finish queued writes and close every connection; safe to call twice."""
        with self._lock:
            self._closed = True
            worker, self._worker = self._worker, None
            connections, self._connections = self._connections, []
        if worker is not None:
            worker.stop()
        for connection in connections:
            connection.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- signatures ---------------------------------------------------------------------

    def _key(self) -> hmac.HMAC:
        keyed = self._keyed
        if keyed is None:
            with self._lock:
                if self._keyed is None:
                    secret = self._secret or _load_or_create_key(self.key_path)
                    self._keyed = hmac.new(secret, digestmod=hashlib.sha256)
                keyed = self._keyed
        return keyed

    def _rejected(self, key: str) -> None:
        """Note an entry that failed verification: a warning the first time, then quietly."""
        if self._warned:
            logger.debug("The cache entry %s in %s does not verify; recomputing.", key, self)
            return
        self._warned = True
        logger.warning(
            "The cache store at '%s' holds entries that its key (%s) did not sign, or that "
            "were damaged; they are ignored and their tasks run again. This is expected once "
            "after the key changed or the file was copied without its key.",
            self.path,
            "given with key=" if self._given_key else f"in '{self.key_path}'",
        )

    # -- the store protocol ------------------------------------------------------------

    async def get(self, key: str, max_age: float | None = None) -> bytes | None:
        """The payload under ``key``, or None when missing, too old or corrupt."""
        try:
            row = (
                self._reader()
                .execute("SELECT created, checksum, payload FROM entries WHERE key = ?", (key,))
                .fetchone()
            )
        except sqlite3.OperationalError:  # locked past the short read timeout: recompute
            return None
        if row is None:
            return None
        created, check, payload = row
        if max_age is not None and self._clock() - created > max_age:
            return None
        if (
            not isinstance(payload, bytes)
            or not isinstance(check, bytes)
            or not isinstance(created, float | int)
            or not hmac.compare_digest(_mac(self._key(), key, float(created), payload), check)
        ):
            self._rejected(key)  # forged, damaged, or signed with another key: never unpickled
            return None
        return payload

    async def put(self, key: str, payload: bytes) -> None:
        """Store ``payload`` under ``key``, replacing what was there."""
        row = self._entry(key, payload)
        await self._write(lambda db: _put(db, row))

    def _entry(self, key: str, payload: bytes) -> tuple[str, float, bytes, bytes]:
        created = float(self._clock())
        return (key, created, _mac(self._key(), key, created, payload), payload)

    async def begin_run(self, run_id: str, parent: str | None) -> None:
        """Note that run ``run_id`` started, resuming ``parent`` (or None)."""
        row = (run_id, parent, self._clock())
        await self._write(lambda db: db.execute("INSERT OR IGNORE INTO runs VALUES (?, ?, ?)", row))

    async def record(
        self, run_id: str, task_id: str, lineage: str, value_ref: str, payload: bytes | None
    ) -> None:
        """Record that ``task_id`` completed in ``run_id``; ``payload`` goes under ``value_ref``."""
        entry = None if payload is None else self._entry(value_ref, payload)
        task = (run_id, task_id, lineage, value_ref)

        def job(db: sqlite3.Connection) -> None:
            if entry is not None:
                _put(db, entry)
            db.execute("INSERT OR REPLACE INTO run_tasks VALUES (?, ?, ?, ?)", task)

        await self._write(job)

    async def recorded(self, run_id: str) -> dict[str, tuple[str, str]] | None:
        """``{task_id: (lineage, value_ref)}`` of the tasks that completed in ``run_id``.

        Includes what the runs it resumed recorded (a resumed run does not copy
        what it took over). None when the store never saw the run.
        """
        return await self._write(lambda db: _recorded(db, run_id))

    async def save_report(self, run_id: str, payload: bytes) -> None:
        """Keep what the HTML page of run ``run_id`` needs (see ``astrum report``)."""
        row = (run_id, payload)

        def job(db: sqlite3.Connection) -> None:
            db.execute(_REPORTS_TABLE)
            db.execute("INSERT OR REPLACE INTO run_reports VALUES (?, ?)", row)

        await self._write(job)

    def load_report(self, run_id: str) -> bytes | None:
        """What :meth:`save_report` kept for ``run_id``, or None."""
        with self._maintenance() as db:
            try:
                row = db.execute(
                    "SELECT payload FROM run_reports WHERE run_id = ?", (run_id,)
                ).fetchone()
            except sqlite3.OperationalError:  # no such table: no run kept a report yet
                return None
        return None if row is None else bytes(row[0])

    # -- maintenance ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _maintenance(self) -> Iterator[sqlite3.Connection]:
        """A connection of its own with the full timeout, for the rare, slower calls below."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed; create a new store to use it again.")
        connection = self._connect()
        try:
            yield connection
        finally:
            connection.close()

    def runs(self) -> list[RecordedRun]:
        """The recorded runs, newest first."""
        with self._maintenance() as db:
            rows = db.execute(
                "SELECT runs.run_id, started, parent, COUNT(task_id) FROM runs "
                "LEFT JOIN run_tasks ON runs.run_id = run_tasks.run_id "
                "GROUP BY runs.run_id ORDER BY started DESC, runs.rowid DESC"
            ).fetchall()
        return [
            RecordedRun(run_id, started, parent, count) for run_id, started, parent, count in rows
        ]

    def stats(self) -> CacheStats:
        """Counts and sizes of what the store holds."""
        with self._maintenance() as db:
            entries, size = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM entries"
            ).fetchone()
            runs = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            tasks = db.execute("SELECT COUNT(*) FROM run_tasks").fetchone()[0]
        file_bytes = sum(
            candidate.stat().st_size
            for candidate in (self.path, Path(f"{self.path}-wal"))
            if candidate.exists()
        )
        return CacheStats(entries, size, runs, tasks, str(self.path), file_bytes)

    def clear(self) -> int:
        """Remove every entry and run record; returns how many entries there were."""
        with self._maintenance() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                count = db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
                db.execute(_REPORTS_TABLE)
                for table in ("entries", "run_tasks", "runs", "run_reports"):
                    db.execute(f"DELETE FROM {table}")  # noqa: S608 - our own table names
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            with contextlib.suppress(sqlite3.OperationalError):
                db.execute("VACUUM")  # give the space back; skipped while others read
        return int(count)


def _put(db: sqlite3.Connection, row: tuple[Any, ...]) -> None:
    db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)", row)


def _recorded(db: sqlite3.Connection, run_id: str) -> dict[str, tuple[str, str]] | None:
    if db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
        return None
    rows = db.execute(
        """
        WITH RECURSIVE chain(run_id, depth) AS (
            SELECT ?, 0
            UNION ALL
            SELECT runs.parent, chain.depth + 1 FROM runs JOIN chain USING (run_id)
            WHERE runs.parent IS NOT NULL AND chain.depth < 10000
        )
        SELECT task_id, lineage, value_ref FROM run_tasks JOIN chain USING (run_id)
        ORDER BY chain.depth DESC
        """,
        (run_id,),
    )
    # Oldest first, so what a later run recorded replaces what it resumed.
    return {task_id: (lineage, value_ref) for task_id, lineage, value_ref in rows}


_Job = tuple[Callable[[sqlite3.Connection], Any], concurrent.futures.Future[Any]]


class _Worker:
    """One thread that runs a store's jobs, each batch of writes in one transaction."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], name: str) -> None:
        self._connect = connect
        self._jobs: list[_Job] = []
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._main, name=f"astrum-store:{name}", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[sqlite3.Connection], _T]) -> concurrent.futures.Future[_T]:
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        # Running from the start: a caller that stops waiting cannot cancel a write,
        # so a result that was computed is still recorded.
        future.set_running_or_notify_cancel()
        with self._wake:
            self._jobs.append((job, future))
            self._wake.notify()
        return future

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join()

    def _main(self) -> None:
        try:
            db: sqlite3.Connection | None = self._connect()
            error: Exception | None = None
        except Exception as exc:  # noqa: BLE001 - every job then fails with it; none hangs
            db, error = None, exc
        try:
            while True:
                with self._wake:
                    while not self._jobs and not self._stopping:
                        self._wake.wait()
                    batch, self._jobs = self._jobs, []
                    if not batch and self._stopping:
                        return
                if db is None:
                    assert error is not None
                    for _, future in batch:
                        future.set_exception(error)
                else:
                    self._run(db, batch)
        finally:
            if db is not None:
                db.close()

    def _run(
        self,
        db: sqlite3.Connection,
        batch: list[_Job],
    ) -> None:
        try:
            db.execute("BEGIN IMMEDIATE")
        except Exception as exc:  # noqa: BLE001 - locked past the timeout, or broken: tell callers
            for _, future in batch:
                future.set_exception(exc)
            return
        try:
            results = [job(db) for job, _ in batch]
            db.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - handed to the caller that awaits the job
            if db.in_transaction:
                db.execute("ROLLBACK")
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
            else:
                # Something in the batch failed: run each job alone so only it fails.
                for job in batch:
                    self._run(db, [job])
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
