"""The record of one registered task: what ``@task`` wrote down, and nothing more.

It lives in the build package because every build step reads it; the
registry (:mod:`astrum._registry`) makes these records (:class:`Entry`) and
hands them to the build. Public as :class:`astrum.RegisteredTask`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from astrum._build._declared import Declared, declared
from astrum._build._markers import TaskData
from astrum._build._plan import DEFAULT_OPTIONS, TaskOptions

__all__ = ["Entry", "RegisteredTask"]


class _Room:
    """The slots a record has beyond its fields: what the first build read of its function.

    The facts a function declares by itself are read by the first build that
    needs them and kept here, so that registration stays cheap (a workflow of
    thousands of tasks registers them all at import) and later builds take
    them from the record. They depend on the function alone and are the same
    whenever read, so keeping them does not change the record; a run never
    reads or writes them. Slots, not an instance ``__dict__``: a record is one
    object, which also keeps the garbage collector's work per task down.
    """

    __slots__ = ("__weakref__", "_declared")
    _declared: Declared | None
    task_id: str
    function: Callable[..., Any]

    @property
    def declared(self) -> Declared:
        """What the function says by itself, read once; see :class:`_Room`."""
        try:
            found = self._declared
        except AttributeError:  # unpickled: the slot is empty
            found = None
        if found is None:
            found = declared(self.task_id, self.function)
            _set_declared(self, found)  # a frozen record's is written past __setattr__, once
        return found


_set_declared = _Room.__dict__["_declared"].__set__


@dataclass(frozen=True, slots=True)
class RegisteredTask(_Room):
    """What ``@task`` recorded about one function."""

    task_id: str
    function: Callable[..., Any]
    depends_on: tuple[str, ...]
    retry: int
    data: TaskData | None = None
    options: TaskOptions = DEFAULT_OPTIONS

    def __post_init__(self) -> None:
        _set_declared(self, None)  # not read yet


class Entry(_Room):
    """A registry's own record of a task: the fields of :class:`RegisteredTask`.

    Not frozen, so that making one costs a third as much: registration makes one
    per task, and the registry hands out a :class:`RegisteredTask` only when
    asked (:meth:`public`). Nothing changes an entry once it is registered.
    """

    __slots__ = ("data", "depends_on", "function", "options", "retry", "task_id")

    def __init__(
        self,
        task_id: str,
        function: Callable[..., Any],
        depends_on: tuple[str, ...],
        retry: int,
        data: TaskData | None,
        options: TaskOptions,
    ) -> None:
        self.task_id = task_id
        self.function = function
        self.depends_on = depends_on
        self.retry = retry
        self.data = data
        self.options = options
        self._declared = None

    def public(self) -> RegisteredTask:
        """The entry as the frozen :class:`RegisteredTask`, with what a build read of it."""
        task = RegisteredTask(
            self.task_id, self.function, self.depends_on, self.retry, self.data, self.options
        )
        _set_declared(task, self._declared)
        return task

    @classmethod
    def of(cls, task: RegisteredTask) -> Entry:
        """The entry for ``task`` (``astrum.testing.patch`` puts one in a registry)."""
        entry = cls(
            task.task_id, task.function, task.depends_on, task.retry, task.data, task.options
        )
        entry._declared = getattr(task, "_declared", None)  # an unpickled task has none
        return entry
