"""The markers and records that declare data relations: ``F``/``T``/``Input`` and ``TaskData``.

Users write them (through :mod:`astrum.data_transport`, which re-exports them);
the build reads them and never changes them. They sit at the bottom of the
build so that every build module may read them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated as Ref
from typing import Any

__all__ = [
    "DTRela",
    "DataItem",
    "F",
    "From",
    "Input",
    "Locator",
    "Ref",
    "T",
    "TaskData",
    "To",
]

Locator = str | int | None


@dataclass(frozen=True, slots=True)
class From:
    """Parameter marker: take the value from ``task`` (an id or the decorated function).

    ``locator`` picks a key or attribute (str) or an index (int) of that
    task's result; None passes the whole result.
    """

    task: Any
    locator: Locator = None


@dataclass(frozen=True, slots=True)
class To:
    """Return marker: send ``result[local]`` (or the whole result) to ``task``.

    ``target`` names the receiving parameter (str), its position (int), or
    None for the first parameter.
    """

    task: Any
    local: Locator = None
    target: Locator = None


@dataclass(frozen=True, slots=True)
class Input:
    """Parameter marker: take the value of run-time input ``name``.

    >>> async def search(query: Ref[str, Input("query")], top_k: Ref[int, Input("top_k")] = 5):
    ...     ...

    ``run(..., inputs={"query": "..."})`` supplies it; a parameter with a default
    keeps its default when the input is absent.
    """

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"Input() takes a non-empty input name, got {self.name!r}.")


F = From
T = To


def _check_locator(owner: str, name: str, value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{owner} {name} must be an int or None, got {value!r}.")


@dataclass
class DTRela:
    """One end of a data relation.

    ``related_task`` is the task at that end. ``key`` (a dict key or an
    attribute) or ``index`` picks part of the value; ``single_item=True`` (or
    neither) means the whole value. On the parameter end, ``key`` is the
    parameter's name and ``index`` its position. ``from_function`` (sync or
    async, no arguments) supplies the value at run time instead of a task:
    its whole result, which ``key`` and ``index`` do not select in.
    """

    key: str | None = None
    index: int | None = None
    single_item: bool = False
    related_task: str | None = None
    from_function: Callable[[], Any] | None = None

    def __post_init__(self) -> None:
        if self.key is not None and not isinstance(self.key, str):
            raise TypeError(f"DTRela key must be a str or None, got {self.key!r}.")
        _check_locator("DTRela", "index", self.index)
        if self.key is not None and self.index is not None:
            raise ValueError(
                f"DTRela takes a key or an index, not both (got key={self.key!r}, "
                f"index={self.index!r})."
            )
        if self.single_item and (self.key is not None or self.index is not None):
            raise ValueError(
                "DTRela(single_item=True) means the whole value; drop the key or index, "
                "or set single_item=False."
            )
        if self.related_task is not None and not isinstance(self.related_task, str):
            raise TypeError(
                f"DTRela related_task must be a task id (str), got {self.related_task!r}."
            )
        if self.from_function is not None and not callable(self.from_function):
            raise TypeError(
                f"DTRela from_function must be a callable, got {type(self.from_function).__name__}."
            )

    @property
    def locator(self) -> Locator:
        """The key, the index, or None for the whole value."""
        if self.key is not None:
            return self.key
        return self.index


@dataclass
class DataItem:
    """One value moving between tasks.

    In ``input_data_item`` of a task, ``from_relation`` is the source and
    ``to_relation`` the receiving parameter; in ``output_data_item``,
    ``from_relation`` picks part of this task's result and ``to_relation`` is
    the receiving task and parameter. ``allow_data_model`` is the model of the
    producer's whole value (what the related task or the ``from_function``
    returns), before the key or index picks the parameter's part; the build
    checks it against the producer's return type, and the picked part against
    the parameter's annotation.
    """

    allow_data_model: Any = None
    from_relation: DTRela | None = None
    to_relation: DTRela | None = None

    def __post_init__(self) -> None:
        for name in ("from_relation", "to_relation"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, DTRela):
                raise TypeError(f"DataItem {name} must be a DTRela or None, got {value!r}.")


@dataclass
class TaskData:
    """The data relations of one task, declared explicitly.

    ``from_tasks`` and ``to_tasks`` list the tasks it takes data from and
    sends data to; both imply execution dependencies (with
    ``auto_sync_dependencies``), and ``strict_topology`` requires every item's
    task to be listed there.

    >>> TaskData(
    ...     task_id="rank",
    ...     input_data_item=[
    ...         DataItem(
    ...             allow_data_model=dict,
    ...             from_relation=DTRela(key="hits", related_task="search"),
    ...             to_relation=DTRela(key="hits", related_task="rank"),
    ...         )
    ...     ],
    ...     from_tasks=["search"],
    ... ).from_tasks
    ['search']
    """

    task_id: str = ""
    input_data_item: list[DataItem] = field(default_factory=list)
    output_data_item: list[DataItem] = field(default_factory=list)
    from_tasks: list[str] | None = field(default_factory=list)
    to_tasks: list[str] | None = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.task_id, str):
            raise TypeError(f"TaskData task_id must be a str, got {self.task_id!r}.")
        for name in ("input_data_item", "output_data_item"):
            items = getattr(self, name)
            if isinstance(items, DataItem):
                raise TypeError(f"TaskData {name} must be a list of DataItem; write [item].")
        for name in ("from_tasks", "to_tasks"):
            if isinstance(getattr(self, name), str):
                raise TypeError(f"TaskData {name} must be a list of task ids, not a string.")
