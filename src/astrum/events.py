"""Events a run emits, for progress displays, traces, metrics and your own hooks.

Pass a listener with ``AstrumConfig(on_event=listener)``; it is called with
every :class:`Event`. Sync listeners run inline; async ones are awaited before
the run returns. A listener that raises is logged and never breaks the run.

>>> seen = []
>>> config = AstrumConfig(on_event=lambda event: seen.append(event.kind))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Event", "EventKind"]

EventKind = Literal[
    "run_started",
    "task_started",
    "attempt_failed",
    "task_completed",
    "task_cached",
    "task_failed",
    "task_cancelled",
    "task_skipped",
    "run_finished",
]


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in a run. ``task`` is None for run events."""

    kind: EventKind
    task: str | None
    time: float
    """Seconds since the epoch."""
    run_id: str
    attempt: int = 0
    """The attempt number for task events, counting from 1."""
    error: BaseException | None = None
    will_retry: bool = False
    """For ``attempt_failed``: whether another attempt follows."""
    state: str | None = None
    """For ``run_finished``: the run's final state."""
