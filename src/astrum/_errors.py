"""The exception hierarchy.

Every error is a :class:`SchedulerError`; each also subclasses the built-in
it resembles, so ``except ValueError`` or ``except LookupError`` works too.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "InputError",
    "SchedulerError",
    "Skip",
    "TaskDependencyError",
    "TaskDuplicateExecutionError",
    "TaskNotFoundError",
    "TaskOrderLoopError",
    "TaskOrderNoExitError",
    "TaskRegistrationError",
]


class SchedulerError(Exception):
    """Base class of every error Astrum raises on purpose."""


class Skip(Exception):  # noqa: N818 - raised on purpose, not an error
    """Raise in a task body to end that task (or instance) as ``skipped``, not failed.

    Its dependents are skipped too, unless they take its value with a
    default (``F(task, default=...)``); the run can still complete.

    >>> def fetch(url: str) -> str:
    ...     raise Skip(f"{url} is not reachable today")
    """

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class InputError(SchedulerError, ValueError):
    """The run-time inputs of a run are missing, unknown or of the wrong type."""


class TaskRegistrationError(SchedulerError, ValueError):
    """A task, its options or its data relations were declared wrongly."""


class TaskDependencyError(SchedulerError, ValueError):
    """A task depends on a task that is not part of the graph."""


class TaskNotFoundError(SchedulerError, LookupError):
    """A task is named somewhere but has no function to run, or vice versa."""


class TaskDuplicateExecutionError(TaskDependencyError):
    """The same task id appears twice in one graph.

    A :class:`TaskDependencyError` too, which is what astrum 0.1.2 raised for it.
    """


class TaskOrderLoopError(SchedulerError, ValueError):
    """The dependencies form a cycle; ``cycle`` holds it, first task repeated last."""

    def __init__(self, cycle: Sequence[str], message: str | None = None) -> None:
        self.cycle: tuple[str, ...] = tuple(cycle)
        path = " -> ".join(self.cycle)
        super().__init__(
            message
            or f"The task dependencies form a cycle: {path}. Remove one of these dependencies."
        )


class TaskOrderNoExitError(TaskOrderLoopError):
    """No task can start because every task waits for another one."""
