"""What the run page shows, as plain JSON-ready data, and how a store keeps it.

:func:`page_data` turns a report into lists and dicts (times in seconds from
the run's start); :mod:`astrum._views._html` draws the page from that data
alone, so a recorded run can be drawn again without its report.
:func:`stored_page` and :func:`load_page` are the compressed form a cache
store keeps of a recorded run.
"""

from __future__ import annotations

import json
import traceback
import zlib
from typing import TYPE_CHECKING, Any

from astrum._views._summary import critical_path, status_counts

if TYPE_CHECKING:
    from astrum._records import ReportData

__all__ = [
    "ATTEMPTS",
    "A_END",
    "A_ERROR",
    "A_START",
    "A_STATUS",
    "END",
    "ERROR",
    "LEVEL",
    "NAME",
    "QUEUED",
    "START",
    "STATUS",
    "TRACE",
    "WORKER",
    "levels_of",
    "load_page",
    "page_data",
    "stored_page",
]

_TRACEBACK_CHARS = 6_000
_FORMAT = 1

# Columns of one task in the page data, in this order.
NAME, LEVEL, STATUS, START, END, QUEUED, ATTEMPTS, ERROR, TRACE, WORKER = range(10)
# Columns of one attempt: start, end, status, error message.
A_START, A_END, A_STATUS, A_ERROR = range(4)


def page_data(report: ReportData) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data (times in seconds from the run's start)."""
    origin = report.total_start_time + report.planning_duration
    dependencies = report.original_tasks
    stats = report.task_statistics
    known = {s.task_name for s in stats}
    levels = levels_of(dependencies)
    tasks: list[list[Any]] = []
    for s in stats:
        attempts = [
            [_r(a.start_time - origin), _r(a.end_time - origin), a.status, a.error_message]
            for a in s.attempt_statistics
        ]
        tasks.append(
            [
                s.task_name,
                s.stage_id,
                s.status,
                _r(s.start_time - origin),
                _r(s.end_time - origin),
                _r(s.queued_duration),
                attempts,
                s.error_message,
                _traceback(s.exception),
                s.worker,
            ]
        )
    # Tasks the run never reached still belong in the graph and the table.
    tasks += [
        [name, levels.get(name, 0), "not started", None, None, 0.0, [], None, None, None]
        for name in dependencies
        if name not in known
    ]
    return {
        "format": _FORMAT,
        "run_id": report.run_id,
        "state": str(report.execution_state),
        "started": report.total_start_time,
        "duration": report.total_duration,
        "planning": report.planning_duration,
        "execution": report.execution_duration,
        "total_tasks": report.total_tasks,
        "counts": status_counts(report),
        "errors": list(report.error_summary),
        "critical": [s.task_name for s in critical_path(report)],
        "dependencies": dependencies,
        "edge_labels": report.edge_labels,
        "tasks": tasks,
    }


def _r(value: float) -> float:
    return round(value, 6)


def _traceback(error: BaseException | None) -> str | None:
    if error is None:
        return None
    text = "".join(traceback.format_exception(error))
    if len(text) > _TRACEBACK_CHARS:  # the end of a traceback says the most
        text = "…\n" + text[-_TRACEBACK_CHARS:]
    return text


def levels_of(dependencies: dict[str, list[str]]) -> dict[str, int]:
    """The level of each task: the length of the longest path to it from a root."""
    level: dict[str, int] = {}
    for name in _topological(dependencies):
        level[name] = 1 + max((level[d] for d in dependencies[name] if d in level), default=-1)
    return level


def _topological(dependencies: dict[str, list[str]]) -> list[str]:
    waiting = dict.fromkeys(dependencies, 0)
    users: dict[str, list[str]] = {name: [] for name in dependencies}
    for name, deps in dependencies.items():
        for dep in deps:
            if dep in users:
                waiting[name] += 1
                users[dep].append(name)
    ready = [name for name, n in waiting.items() if not n]
    order = []
    while ready:
        name = ready.pop()
        order.append(name)
        for user in users[name]:
            waiting[user] -= 1
            if not waiting[user]:
                ready.append(user)
    return order


def stored_page(report: ReportData) -> bytes:
    """The page data of ``report`` as compressed JSON: what a store keeps of a recorded run."""
    raw = json.dumps(page_data(report), separators=(",", ":"), default=repr)
    return zlib.compress(raw.encode(), 6)


def load_page(payload: bytes) -> dict[str, Any]:
    """The page data that :func:`stored_page` made; ValueError when it is not that."""
    try:
        data: dict[str, Any] = json.loads(zlib.decompress(payload))
    except (zlib.error, ValueError) as exc:
        raise ValueError(f"The stored report cannot be read ({exc}).") from exc
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError("The stored report was written by another version of astrum.")
    return data
