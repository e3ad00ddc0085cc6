"""The exception hierarchy.

Every error is a :class:`SchedulerError`; each also subclasses the built-in
it resembles, so ``except ValueError`` or ``except LookupError`` works too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "InputError",
    "NoResultError",
    "SchedulerError",
    "Skip",
    "TaskDependencyError",
    "TaskDuplicateExecutionError",
    "TaskNotFoundError",
    "TaskOrderLoopError",
    "TaskOrderNoExitError",
    "TaskRegistrationError",
    "closest",
    "did_you_mean",
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


class NoResultError(SchedulerError, LookupError):
    """A report has no result for a task: it was skipped, cancelled, never started or not in
    the run."""


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


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The choice most like ``name`` (a likely typo of it), or None when none is close."""
    import difflib  # only when something went wrong: it costs 5 ms to import

    found = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """The end of a sentence about ``name``: ``"; did you mean 'x'?"``, or ``"."`` if none is
    close."""
    match = closest(name, choices)
    return f"; did you mean '{match}'?" if match is not None else "."
