"""A run's timeline as Chrome / Perfetto trace-event JSON.

Open the file in https://ui.perfetto.dev or chrome://tracing. Track ``run``
holds one slice for the whole run and a mark for every skipped task; every
other track is one concurrent slot. Each task that ran is a slice on the
first slot free when it started, with one nested slice per attempt carrying
its status and error, and the worker that ran it when that was a Dask worker
or a pool process; an attempt that waited for a concurrency slot or pool has
a ``queued`` slice before it. Times are microseconds from the start of the run.
"""

from __future__ import annotations

import heapq
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from astrum._records import ReportData, TaskExecutionStatistics

__all__ = ["assign_lanes", "trace_events", "write_chrome_trace"]

_PID = 1
_RUN_TID = 0


def assign_lanes(spans: Iterable[tuple[float, float]]) -> list[int]:
    """Give each ``(start, end)`` span the lowest-numbered lane free at its start.

    Greedy interval partitioning: as many lanes as spans ever overlap, in
    O(n log n). A span may start where another ends; a zero-length span holds
    its lane for its instant, so it never sits on the start of another slice.
    Lanes count from 0; the result follows the input order.
    """
    items = sorted(enumerate(spans), key=lambda item: (item[1][0], item[1][1], item[0]))
    busy: list[tuple[float, bool, int]] = []  # (end, zero-length?, lane) of spans still open
    free: list[int] = []
    lanes = [0] * len(items)
    used = 0
    for position, (start, end) in items:
        while busy and (busy[0][0] < start or (busy[0][0] == start and not busy[0][1])):
            heapq.heappush(free, heapq.heappop(busy)[2])
        if free:
            lane = heapq.heappop(free)
        else:
            lane, used = used, used + 1
        lanes[position] = lane
        heapq.heappush(busy, (end, start == end, lane))
    return lanes


def trace_events(report: ReportData) -> dict[str, Any]:
    """The trace-event JSON object of ``report`` (``traceEvents`` plus metadata)."""
    origin = report.total_start_time + report.planning_duration  # when the run started

    def micros(epoch: float) -> float:
        return round((epoch - origin) * 1e6, 3)

    ran = [s for s in report.task_statistics if s.status != "skipped"]
    skipped = [s for s in report.task_statistics if s.status == "skipped"]
    lanes = assign_lanes((s.start_time, s.end_time) for s in ran)
    events: list[dict[str, Any]] = [
        _metadata("process_name", _RUN_TID, f"astrum run {report.run_id[:8]}".strip()),
        _metadata("thread_name", _RUN_TID, "run"),
    ]
    events += [
        _metadata("thread_name", lane + 1, f"slot {lane + 1}")
        for lane in range(max(lanes, default=-1) + 1)
    ]
    events.append(
        {
            "name": f"run {report.execution_state}",
            "cat": "run",
            "ph": "X",
            "ts": 0,
            "dur": round(report.execution_duration * 1e6, 3),
            "pid": _PID,
            "tid": _RUN_TID,
            "args": {"state": report.execution_state, "errors": list(report.error_summary)},
        }
    )
    for stats in skipped:
        events.append(
            {
                "name": f"{stats.task_name} skipped",
                "cat": "task",
                "ph": "i",
                "s": "t",
                "ts": micros(stats.start_time),
                "pid": _PID,
                "tid": _RUN_TID,
                "args": {"task": stats.task_name, "reason": stats.error_message},
            }
        )
    for stats, lane in zip(ran, lanes, strict=True):
        events += _task_slices(stats, lane + 1, micros)
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "run_id": report.run_id,
            "state": report.execution_state,
            "planning_ms": round(report.planning_duration * 1e3, 3),
        },
    }


def write_chrome_trace(report: ReportData, path: str | os.PathLike[str]) -> Path:
    """Write the trace of ``report`` to ``path`` and return the path written."""
    target = Path(path)
    trace = trace_events(report)
    events = trace.pop("traceEvents")
    # One event per line: compact for big runs, still readable and diffable.
    body = ",\n".join(json.dumps(event, default=str) for event in events)
    parts = [f'"traceEvents": [\n{body}\n]']
    parts += [
        f"{json.dumps(key)}: {json.dumps(value, default=str)}" for key, value in trace.items()
    ]
    target.write_text("{" + ",\n".join(parts) + "}\n", encoding="utf-8")
    return target


def _metadata(kind: str, tid: int, name: str) -> dict[str, Any]:
    return {"name": kind, "ph": "M", "ts": 0, "pid": _PID, "tid": tid, "args": {"name": name}}


def _task_slices(
    stats: TaskExecutionStatistics, tid: int, micros: Callable[[float], float]
) -> list[dict[str, Any]]:
    """The task's slice and, nested inside it, one slice per attempt."""
    start, end = micros(stats.start_time), micros(stats.end_time)
    task_args: dict[str, Any] = {
        "status": stats.status,
        "error": stats.error_message,
        "attempts": stats.attempt_count,
        "queued_ms": round(stats.queued_duration * 1e3, 3),
    }
    if stats.worker is not None:
        task_args["worker"] = stats.worker
    slices: list[dict[str, Any]] = [
        {
            "name": stats.task_name,
            "cat": "task",
            "ph": "X",
            "ts": start,
            "dur": round(end - start, 3),
            "pid": _PID,
            "tid": tid,
            "args": task_args,
        }
    ]
    for attempt in stats.attempt_statistics:
        # Clamped so rounding can never push a child outside its parent.
        began = min(max(micros(attempt.start_time), start), end)
        ended = min(max(micros(attempt.end_time), began), end)
        if attempt.queued_duration:
            asked = min(max(micros(attempt.start_time - attempt.queued_duration), start), began)
            slices.append(
                {
                    "name": f"{stats.task_name} #{attempt.attempt_number} queued",
                    "cat": "queued",
                    "ph": "X",
                    "ts": asked,
                    "dur": round(began - asked, 3),
                    "pid": _PID,
                    "tid": tid,
                    "args": {"task": stats.task_name, "attempt": attempt.attempt_number},
                }
            )
        attempt_args: dict[str, Any] = {
            "task": stats.task_name,
            "attempt": attempt.attempt_number,
            "status": attempt.status,
            "error": attempt.error_message,
            "will_retry": attempt.will_retry,
        }
        if attempt.worker is not None:
            # Where a Dask worker or a pool process ran it; absent on the loop and in threads.
            attempt_args["worker"] = attempt.worker
        slices.append(
            {
                "name": f"{stats.task_name} #{attempt.attempt_number}",
                "cat": "attempt",
                "ph": "X",
                "ts": began,
                "dur": round(ended - began, 3),
                "pid": _PID,
                "tid": tid,
                "args": attempt_args,
            }
        )
    return slices
