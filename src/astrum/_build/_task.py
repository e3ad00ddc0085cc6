"""The record of one registered task: what ``@task`` wrote down, and nothing more.

It lives in the build package because every build step reads it; the
registry (:mod:`astrum._registry`) makes these records and hands them to the
build. Public as :class:`astrum.RegisteredTask`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from astrum._build._declared import Declared, declared
from astrum._build._markers import TaskData
from astrum._build._plan import DEFAULT_OPTIONS, TaskOptions

__all__ = ["RegisteredTask"]


class _ReadOnce:
    """``RegisteredTask.declared``: what the function says by itself, read by the first
    build that needs it and kept in the record.

    Registration stays cheap (a workflow of thousands of tasks registers them
    all at import), and later builds read the facts from here. They depend on
    the function alone and are the same whenever read, so keeping them does not
    change the record; a run never reads or writes them. A non-data descriptor:
    once read, the value in the instance's ``__dict__`` is found first, so
    later reads cost an attribute lookup (``functools.cached_property`` takes
    a lock on every first read).
    """

    def __get__(self, record: RegisteredTask | None, owner: type) -> Any:
        if record is None:
            return self
        found = declared(record.task_id, record.function)
        record.__dict__["declared"] = found  # frozen: written past __setattr__, once
        return found


@dataclass(frozen=True)
class RegisteredTask:
    """What ``@task`` recorded about one function."""

    task_id: str
    function: Callable[..., Any]
    depends_on: tuple[str, ...]
    retry: int
    data: TaskData | None = None
    options: TaskOptions = DEFAULT_OPTIONS

    if TYPE_CHECKING:

        @property
        def declared(self) -> Declared:
            """What the function says by itself; see :class:`_ReadOnce`."""
            ...

    else:
        declared = _ReadOnce()
