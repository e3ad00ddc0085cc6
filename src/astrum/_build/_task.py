"""The record of one registered task: what ``@task`` wrote down, and nothing more.

It lives in the build package because every build step reads it; the
registry (:mod:`astrum._registry`) makes these records and hands them to the
build. Public as :class:`astrum.RegisteredTask`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from astrum._build._declared import Declared, declared
from astrum._build._markers import TaskData
from astrum._build._plan import DEFAULT_OPTIONS, TaskOptions

__all__ = ["RegisteredTask", "record"]


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

    @property
    def declared(self) -> Declared:
        """What the function says by itself, read once; see :class:`_Room`."""
        try:
            found = self._declared
        except AttributeError:  # unpickled: the slot is empty
            found = None
        if found is None:
            found = declared(self.task_id, self.function)
            _set_declared(self, found)  # frozen: written past __setattr__, once
        return found


_new = object.__new__
_set_declared = _Room.__dict__["_declared"].__set__
_set_fields = [RegisteredTask.__dict__[field.name].__set__ for field in fields(RegisteredTask)]


def record(
    task_id: str,
    function: Callable[..., Any],
    depends_on: tuple[str, ...],
    retry: int,
    data: TaskData | None,
    options: TaskOptions,
) -> RegisteredTask:
    """``RegisteredTask(...)`` for a registry that checked the values already, at half the
    cost: the dataclass's own ``__init__`` sets each field through ``object.__setattr__``."""
    entry: RegisteredTask = _new(RegisteredTask)
    set_id, set_function, set_depends_on, set_retry, set_data, set_options = _set_fields
    set_id(entry, task_id)
    set_function(entry, function)
    set_depends_on(entry, depends_on)
    set_retry(entry, retry)
    set_data(entry, data)
    set_options(entry, options)
    _set_declared(entry, None)
    return entry
