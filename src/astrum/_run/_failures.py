"""How a task ends badly: the failure policy, skips and what they skip downstream.

Methods of :class:`~astrum._run._run.Run`, written as functions of the run and
bound in its class body; :class:`~astrum._run._maprun.DynamicRun` overrides
``_skip_downstream`` for maps and defaults. A task that returns never comes
here.
"""

from __future__ import annotations

import asyncio
import logging

from astrum._errors import Skip
from astrum._run._report import describe
from astrum._run._state import FAILED, SKIPPED, RunState
from astrum._views._summary import abbreviated, plural

__all__ = ["cancelled_by_run", "fail", "raised_skip", "skip_downstream"]

logger = logging.getLogger("astrum")


def cancelled_by_run(run: RunState, error: BaseException) -> bool:
    """Whether ``error`` is the run (or its caller) cancelling us, not a body raising it."""
    if not isinstance(error, asyncio.CancelledError):
        return False
    task = asyncio.current_task()
    return run._stopping or (task is not None and task.cancelling() > 0)


def fail(run: RunState, node: int, error: BaseException) -> None:
    spec = run.plan.specs[node]
    run._errors[node] = error
    run._failures.append(node)
    # Always logged, whatever ``silence`` says: a library logs its failures and the
    # application decides where they go (without a handler, stderr shows them).
    logger.error("Task '%s' failed: %s", spec.task_id, describe(error), exc_info=error)
    run._settle(node, FAILED)
    if run.settings.listeners:
        run._emit("task_failed", spec.task_id, error=error)
    if node in run.plan.tails and run._fatal is None:
        return
    if run.settings.on_failure == "fail_fast" or run._fatal is not None:
        run._stopping = run._halted = True
        if not run._finished.done():
            run._finished.set_result(None)
        return
    run._skip_downstream(node)


def raised_skip(run: RunState, node: int, name: str, skip: Skip) -> None:
    """``node`` raised :class:`Skip`: it ends skipped, and so do its dependents."""
    run._skip_reason[node] = skip.reason or f"Task '{name}' raised Skip."
    run._settle(node, SKIPPED)
    if run.settings.listeners:
        run._emit("task_skipped", name)
    if not run._stopping:
        run._skip_downstream(node)


def skip_downstream(run: RunState, failed: int) -> None:
    """Skip everything downstream of ``failed``, which failed or was skipped."""
    succs = run.plan.graph.succs
    ids = run.plan.ids
    verb = "failed" if run.status[failed] == FAILED else "was skipped"
    reason = f"Skipped because upstream task '{ids[failed]}' {verb}."
    stack = list(succs[failed])
    skipped = []
    while stack:
        node = stack.pop()
        if run.status[node] is None:
            run._start[node] = run._now()
            run._skip_reason[node] = reason
            run._settle(node, SKIPPED)
            skipped.append(ids[node])
            if run._tracing is not None:
                run._tracing.skipped(ids[node], reason, run._start[node])
            if run.settings.listeners:
                run._emit("task_skipped", ids[node])
            stack.extend(succs[node])
    if skipped:
        logger.warning(
            "Skipped %s because upstream task '%s' failed: %s",
            plural(len(skipped), "task"),
            ids[failed],
            abbreviated(skipped),
        )
