"""Small helpers shared by test modules (hypothesis strategies live in strategies.py)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import looptime

from astrum import F, Ref, SchedulerRegistry, T
from astrum.data_transport import DataItem, DTRela, TaskData
from strategies import DataDag

__all__ = ["register_data_task", "run_in_new_loop", "sleeper"]


def sleeper(seconds: float, value: Any = None) -> Callable[[], Awaitable[Any]]:
    """An async task body that sleeps ``seconds`` and returns ``value``."""

    async def body() -> Any:
        await asyncio.sleep(seconds)
        return value

    return body


def run_in_new_loop(make: Callable[[], Awaitable[Any]], *, virtual: bool = False) -> Any:
    """Run ``make()`` in a fresh loop without debug mode, then check no task is left behind.

    ``virtual=True`` runs on looptime's virtual clock, starting at 0.
    """
    leftovers: list[set[asyncio.Task[Any]]] = []

    async def main() -> Any:
        try:
            return await make()
        finally:
            leftovers.append(asyncio.all_tasks() - {asyncio.current_task()})

    factory = (lambda: looptime.new_event_loop(start=0)) if virtual else asyncio.new_event_loop
    with asyncio.Runner(debug=False, loop_factory=factory) as runner:
        result = runner.run(main())
    assert leftovers == [set()]
    return result


# -- random data DAGs (strategies.data_dags) ------------------------------------------------


class _Payload:
    """A result that answers an attribute locator and index locators."""

    def __init__(self, task: int, received: dict[str, Any]) -> None:
        self.name = f"t{task}"
        self.received = received
        self.task = task

    def __getitem__(self, index: int) -> tuple[str, int, int]:
        return ("item", self.task, index)


def _result(dag: DataDag, task: int, received: dict[str, Any]) -> Any:
    if dag.returns_mapping[task]:
        return {
            "name": f"t{task}",
            0: ("item", task, 0),
            1: ("item", task, 1),
            "received": received,
        }
    return _Payload(task, received)


def _relation(task: str, locator: str | int | None) -> DTRela:
    if locator is None:
        return DTRela(single_item=True, related_task=task)
    if isinstance(locator, int):
        return DTRela(index=locator, related_task=task)
    return DTRela(key=locator, related_task=task)


def register_data_task(registry: SchedulerRegistry, dag: DataDag, task: int) -> None:
    """Register task ``t{task}``, declaring each of its relations in the drawn style."""
    inputs = [r for r in dag.relations if r.receiver == task]
    outputs = [r for r in dag.relations if r.source == task and r.style == "return"]

    def received(kwargs: dict[str, Any]) -> Any:
        return _result(dag, task, kwargs)

    if dag.is_async[task]:

        async def body(**kwargs: Any) -> Any:
            await asyncio.sleep(0)
            return received(kwargs)

    else:

        def body(**kwargs: Any) -> Any:  # type: ignore[misc]
            return received(kwargs)

    annotations: dict[str, Any] = {}
    parameters = []
    for r in inputs:
        hint = Ref[Any, F(f"t{r.source}", r.locator)] if r.style == "param" else Any
        annotations[r.param] = hint
        parameters.append(
            inspect.Parameter(r.param, inspect.Parameter.KEYWORD_ONLY, annotation=hint)
        )
    markers = tuple(T(f"t{r.receiver}", r.locator, r.param) for r in outputs)
    annotations["return"] = Ref[(Any, *markers)] if markers else Any
    body.__annotations__ = annotations
    body.__dict__["__signature__"] = inspect.Signature(
        parameters, return_annotation=annotations["return"]
    )
    explicit = [
        DataItem(
            from_relation=_relation(f"t{r.source}", r.locator), to_relation=DTRela(key=r.param)
        )
        for r in inputs
        if r.style == "explicit"
    ]
    registry.task(f"t{task}", data=TaskData(input_data_item=explicit) if explicit else None)(body)
