"""Data relations between tasks: which upstream value feeds which parameter.

Annotations are the short way. ``Ref`` is :data:`typing.Annotated`; a
parameter marked ``F(task, locator)`` receives the result of ``task``, or the
part of it that ``locator`` picks (a str reads a dict key or an attribute, an
int reads an index); a return marked ``T(task, local_locator, target_param)``
sends (part of) the result to a parameter of a downstream task.

>>> import asyncio
>>> from astrum import SchedulerRegistry
>>> flow = SchedulerRegistry("data-transport-doc")
>>> @flow.task()
... async def search() -> dict[str, list[str]]:
...     return {"hits": ["a", "b"]}
>>> @flow.task()
... async def rank(hits: Ref[list[str], F("search", "hits")]) -> str:
...     return hits[0]
>>> asyncio.run(flow.run()).task_return_set["rank"]
'a'

:class:`TaskData` says the same explicitly, and can also inject a value
computed by a ``from_function`` at run time. These classes are plain records:
building a workflow reads them and never changes them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import IO, TYPE_CHECKING

from astrum._build._markers import DataItem, DTRela, F, From, Input, Ref, T, TaskData, To

if TYPE_CHECKING:
    from astrum._records import TaskOrder

__all__ = [
    "DTRela",
    "DataItem",
    "F",
    "From",
    "Input",
    "Ref",
    "T",
    "TaskData",
    "To",
    "visualize_data_transport",
]


def visualize_data_transport(
    task_transports: Mapping[str, TaskData] | Iterable[TaskData],
    task_orders: Iterable[TaskOrder] | None = None,
    *,
    file: IO[str] | None = None,
) -> None:
    """Print each data relation as ``source[locator] -> receiver(parameter)``.

    ``task_orders``, when given, adds the tasks that exchange no data.
    """
    from astrum._build._bindings import describe_relations

    if isinstance(task_transports, Mapping):
        data = dict(task_transports)
    else:
        data = {item.task_id: item for item in task_transports}
    relations = describe_relations(data)
    count = len(relations)
    text = [f"Data transport: {count} relation{'s' if count != 1 else ''}"]
    text.extend(f"  {line}" for _, _, line in relations)
    if task_orders is not None:
        involved = {task for source, receiver, _ in relations for task in (source, receiver)}
        quiet = [order.task_name for order in task_orders if order.task_name not in involved]
        if quiet:
            text.append(f"  (no data relations: {', '.join(quiet)})")
    print("\n".join(text), file=file or sys.stdout)
