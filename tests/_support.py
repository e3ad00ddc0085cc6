"""Small helpers shared by test modules (hypothesis strategies live in strategies.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import looptime

__all__ = ["run_in_new_loop", "sleeper"]


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
