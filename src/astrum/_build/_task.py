"""The record of one registered task: what ``@task`` wrote down, and nothing more.

It lives in the build package because every build step reads it. A registry
(:mod:`astrum._registry`) keeps each task as a :class:`TaskSpec` (see
:func:`record`) and hands a build a snapshot of them (:class:`Tasks`); it gives
them out as :class:`RegisteredTask`, public as :class:`astrum.RegisteredTask`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from astrum._build._declared import Declared, declared
from astrum._build._markers import TaskData
from astrum._build._plan import (
    DEFAULT_OPTIONS,
    Binding,
    TaskOptions,
    TaskSpec,
    from_fields,
    is_async_callable,
)

__all__ = ["Facts", "RegisteredTask", "Tasks", "bound", "public", "record", "recorded"]


class _Room:
    """The slots a record has beyond its fields: what was read of its function.

    Slots, not an instance ``__dict__``: a record is one object, which also
    keeps the garbage collector's work per task down.
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
        """What the function says by itself, read once."""
        try:
            found = self._declared
        except AttributeError:  # unpickled: the slot is empty
            found = None
        if found is None:
            found = declared(self.task_id, self.function)
            _set_declared(self, found)  # frozen: written past __setattr__, once
        return found


_set_declared = _Room.__dict__["_declared"].__set__


record = from_fields(TaskSpec)
"""A registry's record of a task, from all of its fields: ``(task_id, function, is_async,
retry, options, (), depends_on, data)``. It is the task's spec with nothing bound, which a
plan runs as it is when the task needs nothing bound."""


def public(spec: TaskSpec) -> RegisteredTask:
    """A registry's record of a task as the frozen :class:`RegisteredTask`."""
    return RegisteredTask(
        spec.task_id, spec.function, spec.depends_on, spec.retry, spec.data, spec.options
    )


def recorded(task: RegisteredTask) -> TaskSpec:
    """The registry's record of ``task``, the other way round from :func:`public`
    (``astrum.testing.patch`` puts one in a registry)."""
    function = task.function
    return record(
        (
            task.task_id,
            function,
            is_async_callable(function),
            task.retry,
            task.options,
            (),
            task.depends_on,
            task.data,
        )
    )


def bound(
    entry: TaskSpec,
    function: Callable[..., Any],
    is_async: bool,
    bindings: tuple[Binding, ...],
) -> TaskSpec:
    """The spec a plan runs for the registered task ``entry`` whose callable is ``function``
    (a method bound to its instance, say, or the function itself) and whose arguments
    ``bindings`` bring."""
    return record(
        (
            entry.task_id,
            function,
            is_async,
            entry.retry,
            entry.options,
            bindings,
            entry.depends_on,
            entry.data,
        )
    )


Facts = dict[str, tuple[Callable[..., Any], Declared]]
"""What builds read of each task's function (see :meth:`Tasks.declared`), by task id, with
the function read: a registry's own, kept from build to build."""


class Tasks(dict[str, TaskSpec]):
    """One build's snapshot of a registry's records, by task id, with what builds read of
    their functions.

    The facts a function declares by itself are read by the first build that
    needs them and kept in the registry's :data:`Facts`, so that registration
    stays cheap (a workflow of thousands of tasks registers them all at import)
    and later builds take them from there. They depend on the function alone
    and are the same whenever read, so keeping them changes no record; a run
    never reads or writes them.
    """

    __slots__ = ("_facts",)

    def __init__(self, records: Mapping[str, TaskSpec], facts: Facts) -> None:
        super().__init__(records)
        self._facts = facts

    def declared(self, task_id: str) -> Declared:
        """What the function of task ``task_id`` says by itself, read once per function."""
        function = self[task_id].function
        found = self._facts.get(task_id)
        if found is not None and found[0] is function:
            return found[1]
        facts = declared(task_id, function)
        self._facts[task_id] = (function, facts)
        return facts
