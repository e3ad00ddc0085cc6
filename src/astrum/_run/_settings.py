"""The run-wide settings a scheduler resolves once from its config and hands each run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from astrum.config import ExecutorChoice, FailurePolicy
from astrum.events import Event

if TYPE_CHECKING:
    from astrum.cache import CacheStore

__all__ = ["Listener", "RunSettings"]

Listener = Callable[[Event], Any]


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Run-wide settings taken from the config, resolved once per scheduler."""

    executor: ExecutorChoice = "thread"
    max_workers: int | None = None
    concurrency_limit: int | None = None
    semaphore: asyncio.Semaphore | None = None
    """A semaphore the caller owns and shares between runs (the legacy ``concurrency_context``)."""
    on_failure: FailurePolicy = "fail_fast"
    run_timeout: float | None = None
    listeners: tuple[Listener, ...] = ()
    silence: bool = True
    store: CacheStore | None = None
    """Where cached results are looked up and stored; None when nothing is cached."""
    record_runs: bool = False
    """Record each completed task's value per run, so the run can be resumed."""
    pools: Mapping[str, int] = field(default_factory=dict)
    """Slots per resource tag: at most that many tasks carrying the tag run at once."""
    check_input_types: bool = True
    tracer: Any = None
    """An OpenTelemetry tracer when the config names a tracer provider, else None."""
    shared_threads: bool = True
    """Sync bodies go to the thread pool every run on the loop shares, not one of the run's own."""
