"""How a run ends: the wind-down of what still runs, and the report.

Methods of :class:`~astrum._run._run.Run`, written as functions of the run and
bound in its class body; :class:`~astrum._run._maprun.DynamicRun` extends
``_wind_down`` for the maps still running. Both run once per run, from
``Run.execute``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from astrum._records import ExecutionState
from astrum._run._report import RunRecord, describe
from astrum._run._state import CACHED, CANCELLED, COMPLETED, FAILED, RunState
from astrum._views._summary import plural
from astrum.models import ExecutionReport

__all__ = ["report", "wind_down"]

logger = logging.getLogger("astrum")

RUN_COMPLETED = ExecutionState.COMPLETED
RUN_FAILED = ExecutionState.FAILED
RUN_CANCELLED = ExecutionState.CANCELLED


async def wind_down(run: RunState) -> bool:
    """Cancel what still runs (unless every task settled), wait for it, free threads.

    Returns whether the caller cancelled us while we waited.
    """
    run._stopping = True
    interrupted = False
    # Tail tasks outlive a finished run; anything else still running is stopped.
    stop_all = bool(run._to_settle) or run._fatal is not None
    run._halted |= stop_all
    pending = list(run._running.values()) if stop_all else []
    for task in pending:
        task.cancel()
    while pending:
        try:
            await asyncio.wait(pending)
        except asyncio.CancelledError:
            interrupted = True  # finish cleaning up first; the caller gets it after
        pending = [task for task in pending if not task.done()]
    live_tails = [task for task in run._running.values() if not task.done()]
    if live_tails:
        # Tail tasks keep running after the report; the pool goes when they are done.
        remaining = len(live_tails)

        def release(_: asyncio.Task[Any]) -> None:
            nonlocal remaining
            remaining -= 1
            if not remaining:
                run._closing = run._loop.create_task(run._body.close())

        for task in live_tails:
            task.add_done_callback(release)
    elif not run._body.started_nothing:  # async-only runs skip a task and a loop turn
        closing = run._loop.create_task(run._body.close())
        while not closing.done():
            try:
                await asyncio.wait([closing])
            except asyncio.CancelledError:
                interrupted = True  # processes and clusters must stop all the same
    return interrupted


def report(run: RunState, started: float) -> ExecutionReport:
    """The run's report: its state, error summary and returns, statistics read lazily."""
    plan = run.plan
    graph = plan.graph
    ended = run._clock() + run._epoch
    record = RunRecord(
        plan,
        list(run.status),  # a copy: tail tasks may still finish
        run._start,
        run._end,
        run._queued,
        run._waits,
        run._attempts,
        run._errors,
        run._skip_reason,
        run._body.workers(),
        run._instances,
    )
    count = len(graph)
    # The counts are of the workflow's tasks; a map counts once, its instances not.
    statuses = record.status[:count] if run._instances else record.status
    if statuses.count(COMPLETED) == count:  # every task returned: no filtering
        returns = dict(zip(plan.ids, run.values))  # noqa: B905 - values may be longer
    else:
        values = run.values
        returns = {
            task_id: values[node]
            for node, (task_id, status) in enumerate(zip(plan.ids, statuses, strict=False))
            if status in (COMPLETED, CACHED)
        }
    failures = run._failures
    if run._timed_out:  # cut short, even if a task failed before (under "continue")
        state = RUN_CANCELLED
    elif failures:
        state = RUN_FAILED
    elif run._to_settle:
        state = RUN_CANCELLED
    else:
        state = RUN_COMPLETED
    summary = (
        [f"Task '{run._name_of(node)}' failed: {describe(run._errors[node])}" for node in failures]
        if failures
        else []
    )
    if run._recorded:  # only failed attempts (and those after them) are recorded
        summary += record.retry_notes()
    if run._timed_out:
        summary.append(
            f"The run timed out after {run.settings.run_timeout:g} s; "
            "the tasks still running were cancelled."
        )
    if state is not RUN_COMPLETED:
        unfinished = record.status.count(CANCELLED) + record.status.count(None)
        logger.warning(
            "Run %s %s: %s failed, %s cancelled or not started.%s",
            run.run_id,
            state,
            plural(len(failures), "task"),
            plural(unfinished, "task"),
            f" {summary[-1]}" if run._timed_out else "",
        )
    elif not run.settings.silence:
        logger.info("Run %s completed: %s.", run.run_id, plural(count, "task"))
    planning = plan.planning_duration
    # The record stands in for the statistics, computed from it when first read.
    return ExecutionReport._of(
        {
            "total_start_time": started - planning,
            "total_end_time": ended,
            "total_duration": ended - started + planning,
            "planning_duration": planning,
            "execution_duration": ended - started,
            "total_tasks": count,
            "total_stages": record,
            "max_parallelism": record,
            "successful_tasks": len(returns),
            "failed_tasks": statuses.count(FAILED),
            "stage_statistics": record,
            "task_statistics": record,
            "execution_state": state,
            "error_summary": summary,
            "original_tasks": record,
            "tail_tasks": dict(run._tails),
            "task_return_set": returns,
            "run_id": run.run_id,
            "edge_labels": record,
        }
    )
