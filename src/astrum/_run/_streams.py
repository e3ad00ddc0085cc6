"""Streams from generators: a generator task passes each item on to its maps as it yields it.

Methods of :class:`~astrum._run._maprun.DynamicRun`, written as functions of
the run and bound in its class body. An async generator is iterated on the
loop; each ``next()`` of a sync one runs off the loop, as any sync body does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from astrum._build._plan import ASYNC_PRODUCER, TaskSpec
from astrum._errors import Skip
from astrum._run._attempt import timed_out
from astrum._run._mapstate import DynamicState
from astrum._run._state import CANCELLED, RUNNING

__all__ = ["ended_badly", "fatal_or_error", "produce", "stream", "stream_async", "stream_sync"]

_END: Any = object()  # a sync generator is exhausted


async def produce(run: DynamicState, node: int) -> None:
    """Run a generator task, passing each item on as it is yielded."""
    spec = run.plan.specs[node]
    run.status[node] = RUNNING
    run._start[node] = run._now()
    if run.settings.listeners:
        run._emit("task_started", spec.task_id, attempt=1)
    items: list[Any] = []
    try:
        arguments = run._arguments(spec) if spec.bindings else ((), {})
        args, kwargs = arguments or await run._provided(spec)
        timeout = spec.options.timeout
        if timeout is None:
            await run._stream(node, spec, args, kwargs, items)
        else:
            try:
                async with asyncio.timeout(timeout) as deadline:
                    await run._stream(node, spec, args, kwargs, items)
            except TimeoutError as exc:
                if not deadline.expired():
                    raise  # the generator raised TimeoutError itself
                raise timed_out(spec, timeout, 1) from exc
    except BaseException as exc:  # noqa: BLE001 - sorted out by _ended_badly
        run._ended_badly(node, spec, exc)
        return
    run._complete(node, items)


def stream(
    run: DynamicState,
    node: int,
    spec: TaskSpec,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    items: list[Any],
) -> Awaitable[None]:
    generator = spec.function(*args, **kwargs)
    if run._dynamic.kinds[node] == ASYNC_PRODUCER:
        return run._stream_async(node, generator, items)
    return run._stream_sync(node, spec, generator, items)


async def stream_async(run: DynamicState, node: int, generator: Any, items: list[Any]) -> None:
    try:
        async for item in generator:
            items.append(item)
            run._element(node, len(items) - 1, item)
    finally:
        await generator.aclose()


async def stream_sync(
    run: DynamicState, node: int, spec: TaskSpec, generator: Any, items: list[Any]
) -> None:
    # Each next() runs off the loop, like any sync body; a generator cannot go to a process.
    where = spec.options.executor or run.settings.executor
    options = spec.options._replace(executor="inline" if where == "inline" else "thread")
    stepper = spec._replace(function=_next_item, options=options)
    try:
        while True:
            item = await run._body.call_sync(stepper, (generator,), {})
            if item is _END:
                return
            items.append(item)
            run._element(node, len(items) - 1, item)
    finally:
        # A generator still running in its thread (ValueError) stops at its next yield.
        with contextlib.suppress(ValueError):
            generator.close()


def ended_badly(run: DynamicState, node: int, spec: TaskSpec, exc: BaseException) -> None:
    """A producer raised (or was cancelled): settle it the way ``_task`` settles a task."""
    if isinstance(exc, Skip):
        run._skipped(node, spec.task_id, exc)
    elif isinstance(exc, asyncio.CancelledError) and run._cancelled_by_run(exc):
        run._settle(node, CANCELLED)
        run._emit("task_cancelled", spec.task_id)
    else:
        run._fail(node, run._fatal_or_error(spec, exc))


def fatal_or_error(run: DynamicState, spec: TaskSpec, exc: BaseException) -> BaseException:
    """The error a body's exception fails its task with; notes a fatal one for the run."""
    if isinstance(exc, asyncio.CancelledError):
        return RuntimeError(
            f"Task '{spec.task_id}' raised CancelledError although the run did not "
            "cancel it; raise an ordinary exception to fail a task."
        )
    if not isinstance(exc, Exception) and run._fatal is None:
        run._fatal = exc
    return exc


def _next_item(generator: Any) -> Any:
    return next(generator, _END)
