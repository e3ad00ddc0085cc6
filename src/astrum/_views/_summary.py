"""A plain-text summary of a run's report (:class:`~astrum.models.ExecutionReport`).

What someone reading a log wants first: how the run ended, how many tasks did
what, which chain of tasks decided how long it took, which tasks were slowest
and what went wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from astrum._records import ReportData, TaskExecutionStatistics

__all__ = [
    "abbreviated",
    "abbreviated_chain",
    "critical_path",
    "plural",
    "seconds",
    "status_counts",
    "summary",
]

_STATUSES = ("completed", "failed", "cancelled", "skipped")


def plural(count: int, noun: str) -> str:
    """``1 task``, ``2 tasks``: a count with its noun."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def abbreviated(names: Sequence[str], limit: int = 10) -> str:
    """Names joined with commas, the ones beyond ``limit`` counted instead of listed."""
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def abbreviated_chain(names: Sequence[str], ends: int = 4) -> str:
    """A chain ``a -> b -> c``; a long one keeps ``ends`` names at each end and counts the rest.

    >>> abbreviated_chain([f"t{i}" for i in range(100)], ends=2)
    't0 -> t1 -> ... (96 more) -> t98 -> t99'
    """
    if len(names) <= 2 * ends + 1:
        return " -> ".join(names)
    hidden = len(names) - 2 * ends
    return " -> ".join([*names[:ends], f"... ({hidden} more)", *names[-ends:]])


def seconds(value: float) -> str:
    """A duration for people: ``850 µs``, ``12.3 ms``, ``1.25 s``, ``2 min 5.0 s``."""
    if value == 0:
        return "0 s"
    if value < 0.001:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    if value < 60:
        return f"{value:.2f} s"
    minutes, rest = divmod(value, 60)
    return f"{minutes:.0f} min {rest:.1f} s"


def status_counts(report: ReportData, *, instances: bool = False) -> dict[str, int]:
    """Tasks per outcome, with ``not started`` for those the run never reached.

    ``instances=True`` counts the instances of mapped tasks instead (a map's own
    entry is one of the tasks).
    """
    rows = report.task_statistics
    if instances or len(rows) > report.total_tasks:
        tasks = report.original_tasks
        rows = [stats for stats in rows if (stats.task_name in tasks) != instances]
    counts = Counter(stats.status for stats in rows)
    result = {status: counts.get(status, 0) for status in _STATUSES}
    result.update({status: n for status, n in counts.items() if status not in result})
    if not instances:
        result["not started"] = max(report.total_tasks - len(rows), 0)
    return result


def critical_path(report: ReportData) -> list[TaskExecutionStatistics]:
    """The chain of tasks that decided when the run ended, first task first.

    Starts from the task that ended last and walks back, each time to the
    dependency that finished last (the one the task was really waiting for).
    Skipped tasks never ran, so they are left out; a mapped task some of whose
    instances ran counts as run even when the map as a whole ended skipped.
    """
    rows = report.task_statistics
    tasks = report.original_tasks
    # An instance is a row that is not a task of the workflow (as status_counts tells them
    # apart); its map's id is its name without the last "[i]", whatever brackets the id has.
    mapped = {
        s.task_name.rpartition("[")[0]
        for s in rows
        if s.task_name not in tasks and s.status != "skipped"
    }
    ran = {s.task_name: s for s in rows if s.status != "skipped" or s.task_name in mapped}
    if not ran:
        return []
    current = max(ran.values(), key=lambda s: (s.end_time, s.start_time))
    path = [current]
    seen = {current.task_name}
    while True:
        deps = [ran[d] for d in report.original_tasks.get(current.task_name, ()) if d in ran]
        deps = [d for d in deps if d.task_name not in seen]
        if not deps:
            break
        current = max(deps, key=lambda s: s.end_time)
        seen.add(current.task_name)
        path.append(current)
    path.reverse()
    return path


def summary(report: ReportData, slowest: int = 5) -> str:
    """The report as readable text: state, counts, critical path, slowest tasks, errors.

    Durations are the time bodies ran; time spent waiting for a concurrency slot
    or pool is shown apart.
    """
    counts = status_counts(report)
    shown = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    headline = f"{plural(report.total_tasks, 'task')} ({shown or 'none'})"
    if len(report.task_statistics) > report.total_tasks:
        counts = status_counts(report, instances=True)
        if any(counts.values()):
            listed = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
            instances = plural(sum(counts.values()), "instance")
            headline += f", {instances} of mapped tasks ({listed})"
    lines = [f"Run {report.execution_state} in {seconds(report.total_duration)}: {headline}."]
    path = critical_path(report)
    if path:
        span = path[-1].end_time - path[0].start_time
        chain = abbreviated_chain([stats.task_name for stats in path])
        waited = sum(stats.queued_duration for stats in path)
        wait = f", {seconds(waited)} of it waiting for slots" if waited else ""
        lines.append(f"Critical path ({seconds(span)}{wait}): {chain}")
    ranked = sorted(
        (s for s in report.task_statistics if s.status != "skipped"),
        key=lambda s: (-s.duration, s.task_name),
    )[:slowest]
    if ranked:
        width = max(len(s.task_name) for s in ranked)
        lines.append("Slowest tasks:")
        for stats in ranked:
            notes = []
            if stats.attempt_count > 1:
                notes.append(f"{stats.attempt_count} attempts")
            if stats.queued_duration:
                notes.append(f"waited {seconds(stats.queued_duration)} for a slot")
            extra = f"  ({', '.join(notes)})" if notes else ""
            lines.append(
                f"  {stats.task_name:<{width}}  {seconds(stats.duration):>9}  {stats.status}{extra}"
            )
    if report.error_summary:
        lines.append("Errors:")
        lines += [f"  {message}" for message in report.error_summary]
    return "\n".join(lines)
