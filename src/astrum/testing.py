"""Helpers for testing workflows: swap a task's function for a fake.

>>> import asyncio
>>> from astrum import SchedulerRegistry
>>> flow = SchedulerRegistry("testing-doc")
>>> @flow.task()
... async def fetch_user() -> dict[str, str]:
...     raise ConnectionError("no network in tests")
>>> with patch(flow, "fetch_user", lambda: {"name": "Alice"}):
...     asyncio.run(flow.run()).task_return_set
{'fetch_user': {'name': 'Alice'}}
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from astrum._build._plan import is_async_callable
from astrum._errors import TaskRegistrationError
from astrum.decorators import SchedulerRegistry, get_registry

__all__ = ["patch"]


@contextmanager
def patch(
    registry: SchedulerRegistry | str, task_id: str, fake: Callable[..., Any]
) -> Iterator[SchedulerRegistry]:
    """Run ``fake`` instead of task ``task_id`` inside the block; restore it on exit.

    ``registry`` is a :class:`SchedulerRegistry` or a namespace name. The fake
    (sync or async) must accept the same parameters as the task, so data
    relations keep feeding it. Only this registry changes: runs of other
    registries, concurrent or not, are unaffected.
    """
    target = get_registry(registry) if isinstance(registry, str) else registry
    original = target.get_task(task_id)
    if not callable(fake) or inspect.iscoroutine(fake):
        raise TypeError(
            f"patch() needs a function to run instead of task '{task_id}', "
            f"got {type(fake).__name__}."
        )
    _check_parameters(task_id, original.function, fake)
    target._swap(replace(original, function=_stand_in(original.function, fake)))
    try:
        yield target
    finally:
        target._swap(original)


def _stand_in(real: Callable[..., Any], fake: Callable[..., Any]) -> Callable[..., Any]:
    """``fake`` dressed as ``real``: its annotations keep the data relations, and
    ``F(real)`` elsewhere still finds the task (``__wrapped__``)."""
    if is_async_callable(fake):

        @functools.wraps(real)
        async def run_fake(*args: Any, **kwargs: Any) -> Any:
            return await fake(*args, **kwargs)

        return run_fake

    @functools.wraps(real)
    def call_fake(*args: Any, **kwargs: Any) -> Any:
        return fake(*args, **kwargs)

    return call_fake


def _check_parameters(task_id: str, real: Callable[..., Any], fake: Callable[..., Any]) -> None:
    try:
        wanted = list(inspect.signature(real).parameters)
        given = inspect.signature(fake).parameters
    except (TypeError, ValueError):
        return  # builtins and some C callables have no signature to compare
    if any(p.kind is p.VAR_KEYWORD for p in given.values()):
        return
    missing = [name for name in wanted if name not in given]
    if missing:
        raise TaskRegistrationError(
            f"The fake for task '{task_id}' lacks parameter(s) {', '.join(missing)}; "
            "give it the same parameters as the task it replaces."
        )
