"""Caching task results, and the stores that keep them.

``@task(cache=True)`` stores a task's result under a key made of the task id,
a hash of its code and a stable hash of its inputs; a later run with the
same key takes the stored value instead of calling the function, and the
report marks the task ``cached``. ``CachePolicy(key=..., ttl=...)`` chooses
what the key is built from and how long an entry is good for.

Stores: :class:`MemoryStore` (the process-wide default when a task asks for
caching and no store is configured) and :class:`SqliteStore` (one file,
shared by runs and processes). Pass one with ``AstrumConfig(store=...)``; a
configured store also records every run, so a failed run can be resumed with
``run(..., resume=report_or_run_id)``.

>>> @task(cache=CachePolicy(ttl=3600))  # doctest: +SKIP
... def load_prices(day: str) -> list[float]: ...
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from astrum._store._sqlite import DEFAULT_PATH, CacheStats, RecordedRun, SqliteStore

# The SQLite store and its records come from _store._sqlite on first use (see __getattr__
# below): importing sqlite3 is for the runs that use it, not for every 'import astrum'.
_FROM_SQLITE = frozenset({"DEFAULT_PATH", "CacheStats", "RecordedRun", "SqliteStore"})


def __getattr__(name: str) -> Any:
    if name in _FROM_SQLITE:
        from astrum._store import _sqlite

        return getattr(_sqlite, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_PATH",
    "CachePolicy",
    "CacheStats",
    "CacheStore",
    "CacheWarning",
    "MemoryStore",
    "RecordedRun",
    "SqliteStore",
    "clear",
    "default_store",
    "stats",
]


class CacheWarning(UserWarning):
    """A task asked for caching but its inputs or result cannot be stored safely."""


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How one task is cached. ``@task(cache=True)`` means ``CachePolicy()``.

    ``key`` is called with the task's arguments; its return value replaces
    them in the cache key (the task id and code still count). Use it to leave
    out arguments that do not change the result, or that have no stable hash.
    ``ttl`` is how many seconds an entry stays good; None means forever.

    >>> CachePolicy(key=lambda user, session: user, ttl=600).ttl
    600
    """

    key: Callable[..., Any] | None = None
    ttl: float | None = None

    def validate(self, task_id: str) -> None:
        """Raise ``TypeError``/``ValueError`` naming the task for a bad setting."""
        if self.key is not None and not callable(self.key):
            raise TypeError(
                f"Task '{task_id}': CachePolicy.key must be a function of the task's "
                f"arguments, got {type(self.key).__name__}."
            )
        ttl = self.ttl
        if ttl is not None and (
            isinstance(ttl, bool)
            or not isinstance(ttl, int | float)
            or not ttl > 0
            or not math.isfinite(ttl)
        ):
            raise ValueError(
                f"Task '{task_id}': CachePolicy.ttl must be a positive number of seconds "
                f"or None, got {ttl!r}."
            )


def _policy_of(cache: bool | CachePolicy | None) -> CachePolicy | None:
    """The policy meant by ``@task(cache=...)``."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return CachePolicy()
    if isinstance(cache, CachePolicy):
        return cache
    raise TypeError(f"cache must be True, False or a CachePolicy, got {type(cache).__name__}.")


@runtime_checkable
class CacheStore(Protocol):
    """What a run needs from a store. Payloads are pickled results.

    Methods are coroutines so a store may do I/O; ``get`` is on every task's
    path, so it should answer quickly. A write returns once it is durable:
    the run treats a task as done only then.
    """

    async def get(self, key: str, max_age: float | None = None) -> bytes | None:
        """The payload under ``key``; None when missing, older than ``max_age`` or corrupt."""
        ...

    async def put(self, key: str, payload: bytes) -> None:
        """Store ``payload`` under ``key``."""
        ...

    async def begin_run(self, run_id: str, parent: str | None) -> None:
        """Note that run ``run_id`` started, resuming run ``parent`` (or None)."""
        ...

    async def record(
        self, run_id: str, task_id: str, lineage: str, value_ref: str, payload: bytes | None
    ) -> None:
        """Record that ``task_id`` completed in ``run_id``, its value under ``value_ref``.

        ``payload``, when given, is stored under ``value_ref`` in the same write.
        """
        ...

    async def recorded(self, run_id: str) -> dict[str, tuple[str, str]] | None:
        """``{task_id: (lineage, value_ref)}`` for ``run_id`` and the runs it resumed.

        None when the store has no record of ``run_id``.
        """
        ...


class MemoryStore:
    """A store in this process's memory; ``max_entries`` bounds it (least recently used go).

    Values are kept pickled, so a caller that mutates a value it got from the
    cache cannot change what the next hit returns.

    >>> store = MemoryStore(max_entries=1000)
    """

    def __init__(
        self, *, max_entries: int | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        if max_entries is not None and (type(max_entries) is not int or max_entries < 1):
            raise ValueError(
                f"max_entries must be a positive integer or None, got {max_entries!r}."
            )
        self.max_entries = max_entries
        self._clock = clock
        # Runs in several threads may share a store; each operation holds this briefly.
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, bytes]] = {}
        self._runs: dict[str, tuple[str | None, float]] = {}
        self._records: dict[str, dict[str, tuple[str, str]]] = {}
        self._reports: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"MemoryStore(entries={len(self._entries)})"

    async def get(self, key: str, max_age: float | None = None) -> bytes | None:
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is None:
                return None
            self._entries[key] = entry  # most recently used goes last
        created, payload = entry
        if max_age is not None and self._clock() - created > max_age:
            return None
        return payload

    async def put(self, key: str, payload: bytes) -> None:
        self._put(key, payload)

    def _put(self, key: str, payload: bytes) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (self._clock(), payload)
            if self.max_entries is not None:
                while len(self._entries) > self.max_entries:
                    del self._entries[next(iter(self._entries))]

    async def begin_run(self, run_id: str, parent: str | None) -> None:
        with self._lock:
            self._runs.setdefault(run_id, (parent, self._clock()))

    async def record(
        self, run_id: str, task_id: str, lineage: str, value_ref: str, payload: bytes | None
    ) -> None:
        if payload is not None:
            self._put(value_ref, payload)
        with self._lock:
            self._records.setdefault(run_id, {})[task_id] = (lineage, value_ref)

    async def recorded(self, run_id: str) -> dict[str, tuple[str, str]] | None:
        with self._lock:
            if run_id not in self._runs:
                return None
            chain: list[str] = []
            current: str | None = run_id
            while current is not None and current in self._runs and len(chain) < 10_000:
                chain.append(current)
                current = self._runs[current][0]
            result: dict[str, tuple[str, str]] = {}
            for ancestor in reversed(chain):  # later runs replace what they resumed
                result.update(self._records.get(ancestor, {}))
            return result

    async def save_report(self, run_id: str, payload: bytes) -> None:
        """Keep what the HTML page of run ``run_id`` needs."""
        with self._lock:
            self._reports[run_id] = payload

    def load_report(self, run_id: str) -> bytes | None:
        """What :meth:`save_report` kept for ``run_id``, or None."""
        with self._lock:
            return self._reports.get(run_id)

    def runs(self) -> list[RecordedRun]:
        """The recorded runs, newest first."""
        from astrum._store._sqlite import RecordedRun

        with self._lock:
            items = list(self._runs.items())
            counts = {run_id: len(tasks) for run_id, tasks in self._records.items()}
        return [
            RecordedRun(run_id, started, parent, counts.get(run_id, 0))
            for run_id, (parent, started) in reversed(items)
        ]

    def stats(self) -> CacheStats:
        """Counts and sizes of what the store holds."""
        from astrum._store._sqlite import CacheStats

        with self._lock:
            size = sum(len(payload) for _, payload in self._entries.values())
            tasks = sum(len(tasks) for tasks in self._records.values())
            return CacheStats(len(self._entries), size, len(self._runs), tasks)

    def clear(self) -> int:
        """Remove every entry and run record; returns how many entries there were."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self._runs.clear()
            self._records.clear()
            self._reports.clear()
        return count


_DEFAULT_STORE = MemoryStore()


def default_store() -> MemoryStore:
    """The process-wide store of ``cache=True`` tasks when ``AstrumConfig.store`` is None."""
    return _DEFAULT_STORE


def _existing(path: str | os.PathLike[str] | None) -> SqliteStore:
    from astrum._store._sqlite import DEFAULT_PATH, SqliteStore

    if path is None:
        path = DEFAULT_PATH
    from pathlib import Path  # here: importing astrum does without pathlib

    if not Path(path).is_file():
        raise FileNotFoundError(
            f"There is no cache store at '{path}'; pass the path a run used "
            "(AstrumConfig(store=SqliteStore(path)))."
        )
    return SqliteStore(path)


def clear(path: str | os.PathLike[str] | None = None) -> int:
    """Empty the SQLite store at ``path`` (default :data:`DEFAULT_PATH`); returns how many
    entries it held."""
    with _existing(path) as store:
        return store.clear()


def stats(path: str | os.PathLike[str] | None = None) -> CacheStats:
    """Counts and sizes of the SQLite store at ``path`` (default :data:`DEFAULT_PATH`)."""
    with _existing(path) as store:
        return store.stats()
