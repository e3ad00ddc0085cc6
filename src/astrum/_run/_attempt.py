"""One attempt of a task: its gates (pools and the concurrency limit), its timeout, its retries.

These are methods of :class:`~astrum._run._run.Run`, written as functions of
the run and bound in its class body: a call costs what a method call costs,
and :class:`~astrum._run._maprun.DynamicRun` runs its instances through them
too. Most tasks never come here: a first attempt with nothing to acquire,
trace or time out is awaited directly in ``Run._task``, and one that succeeds
is not recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from astrum._build._plan import TaskSpec
from astrum._errors import Skip
from astrum._run._report import Attempt
from astrum._run._state import CANCELLED, COMPLETED, FAILED, SKIPPED, RunState

__all__ = [
    "attempt_completed",
    "attempt_failed",
    "body_of",
    "call",
    "gates_of",
    "guarded_call",
    "record_attempt",
    "retries",
    "timed_out",
    "traced_call",
]

_NO_GATES: tuple[asyncio.Semaphore, ...] = ()  # what most attempts hold: nothing


async def retries(
    run: RunState, node: int, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> Any:
    """Attempts 2, 3, ... of a task whose first attempt failed and may be retried."""
    attempt = 2
    while True:
        delay = spec.options.delay_before(attempt)
        if delay:
            await asyncio.sleep(delay)
        began = run._now()
        try:
            value = await run._call(node, spec, args, kwargs, attempt)
        except BaseException as exc:
            if not run._attempt_failed(node, spec, attempt, began, exc):
                raise
            attempt += 1
            continue
        run._attempt_completed(node, spec, began)
        return value


def attempt_failed(
    run: RunState, node: int, spec: TaskSpec, attempt: int, began: float, error: BaseException
) -> bool:
    """Record a failed attempt (and tell listeners); True when another one follows."""
    if isinstance(error, Skip):
        worker = run._body.worker_of(spec.task_id)
        run._record_attempt(node, (began, run._now(), SKIPPED, None, False, worker))
        return False  # skipping is the body's decision, not a failure to retry
    if isinstance(error, Exception):
        ended = run._now()
        will_retry = attempt <= spec.retry and isinstance(error, spec.options.retry_on)
        worker = run._body.worker_of(spec.task_id)
        run._record_attempt(node, (began, ended, FAILED, error, will_retry, worker))
        if run.settings.listeners:
            run._emit(
                "attempt_failed",
                spec.task_id,
                attempt=attempt,
                error=error,
                will_retry=will_retry,
            )
        return will_retry
    if node in run._unstarted:
        return False  # cancelled before it began: not an attempt
    worker = run._body.worker_of(spec.task_id)
    outcome = CANCELLED if run._cancelled_by_run(error) else FAILED
    failure = None if outcome is CANCELLED else error
    run._record_attempt(node, (began, run._now(), outcome, failure, False, worker))
    return False


def attempt_completed(run: RunState, node: int, spec: TaskSpec, began: float) -> None:
    # A lone successful attempt is implied by the report; record it only after failures.
    if run._attempts[node] is not None:
        worker = run._body.worker_of(spec.task_id)
        run._record_attempt(node, (began, run._now(), COMPLETED, None, False, worker))


def call(
    run: RunState,
    node: int,
    spec: TaskSpec,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    attempt: int,
) -> Awaitable[Any]:
    """One attempt: the body itself, or the body behind its gates, checks and timeout."""
    gates = run._gates(spec)
    if not gates and spec.options.timeout is None and not run._halted:
        return run._body_of(spec, args, kwargs)
    return run._guarded_call(node, spec, args, kwargs, attempt, gates)


def traced_call(
    run: RunState,
    node: int,
    spec: TaskSpec,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    attempt: int,
) -> Awaitable[Any]:
    """``call`` inside the attempt's span (replaces ``Run._call`` when the run is traced)."""
    assert run._tracing is not None
    return run._tracing.attempt(
        spec.task_id,
        attempt,
        lambda: call(run, node, spec, args, kwargs, attempt),
        run._body.worker_of,
    )


async def guarded_call(
    run: RunState,
    node: int,
    spec: TaskSpec,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    attempt: int,
    gates: Sequence[asyncio.Semaphore],
) -> Any:
    if gates:
        asked = run._now()
        held = 0
        try:
            for gate in gates:
                await gate.acquire()
                held += 1
        except BaseException as exc:
            for gate in gates[:held]:
                gate.release()
            if isinstance(exc, asyncio.CancelledError):
                run._unstarted.add(node)  # cancelled while queued: it never began
            run._queued[node] += run._now() - asked
            raise
        waited = run._now() - asked
        run._queued[node] += waited
        run._waited[node] = waited
    if run._halted:
        # The run stopped while this attempt waited for a slot or for its first step.
        for gate in gates:
            gate.release()
        run._unstarted.add(node)
        raise asyncio.CancelledError
    try:
        timeout = spec.options.timeout
        if timeout is None:
            return await run._body_of(spec, args, kwargs)
        due = run._loop.time() + timeout
        try:
            async with asyncio.timeout_at(due) as deadline:
                value = await run._body_of(spec, args, kwargs)
        except TimeoutError as exc:
            if not deadline.expired():
                raise  # the body raised TimeoutError itself
            raise timed_out(spec, timeout, attempt) from exc
        if run._loop.time() > due:
            # A body that blocked the loop (an inline sync one) could not be
            # interrupted; it still overran, so its result is discarded.
            raise timed_out(spec, timeout, attempt)
        return value
    finally:
        for gate in gates:
            gate.release()


def gates_of(run: RunState, spec: TaskSpec) -> Sequence[asyncio.Semaphore]:
    """The semaphores one attempt must hold: its pools in name order, then the global limit.

    Every task acquires in this same order, so two tasks can never wait on each other.
    """
    pools = run._pools
    if not pools:
        return [run._limit] if run._limit is not None else _NO_GATES
    gates = [pools[tag] for tag in spec.options.tags if tag in pools]
    if run._limit is not None:
        gates.append(run._limit)
    return gates


def body_of(
    run: RunState, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> Awaitable[Any]:
    if spec.is_async:
        awaitable: Awaitable[Any] = spec.function(*args, **kwargs)
        return awaitable
    return run._body.call_sync(spec, args, kwargs)


def record_attempt(run: RunState, node: int, attempt: Attempt) -> None:
    if run._waited:
        # Every recorded attempt of a task with gates waited for them first.
        waited = run._waited.pop(node, None)
        if waited is not None:
            run._waits.setdefault(node, []).append(waited)
    run._recorded = True
    attempts = run._attempts[node]
    if attempts is None:
        run._attempts[node] = [attempt]
    else:
        attempts.append(attempt)


def timed_out(spec: TaskSpec, timeout: float, attempt: int) -> TimeoutError:
    return TimeoutError(f"Task '{spec.task_id}' timed out after {timeout:g} s (attempt {attempt}).")
