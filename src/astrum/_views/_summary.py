"""A plain-text summary of a run's report (:class:`~astrum.models.ExecutionReport`).

What someone reading a log wants first: how the run ended, how many tasks did
what, which chain of tasks decided how long it took, which tasks were slowest
and what went wrong.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from astrum._records import ReportData, TaskExecutionStatistics

__all__ = ["critical_path", "seconds", "status_counts", "summary"]

_STATUSES = ("completed", "failed", "cancelled", "skipped")


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
    Skipped tasks never ran, so they are left out.
    """
    ran = {s.task_name: s for s in report.task_statistics if s.status != "skipped"}
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
    """The report as readable text: state, counts, critical path, slowest tasks, errors."""
    counts = status_counts(report)
    shown = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    headline = f"{report.total_tasks} tasks ({shown or 'none'})"
    if len(report.task_statistics) > report.total_tasks:
        counts = status_counts(report, instances=True)
        if any(counts.values()):
            listed = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
            headline += f", {sum(counts.values())} instances of mapped tasks ({listed})"
    lines = [f"Run {report.execution_state} in {seconds(report.total_duration)}: {headline}."]
    path = critical_path(report)
    if path:
        span = path[-1].end_time - path[0].start_time
        chain = " -> ".join(stats.task_name for stats in path)
        lines.append(f"Critical path ({seconds(span)}): {chain}")
    ranked = sorted(
        (s for s in report.task_statistics if s.status != "skipped"),
        key=lambda s: (-s.duration, s.task_name),
    )[:slowest]
    if ranked:
        width = max(len(s.task_name) for s in ranked)
        lines.append("Slowest tasks:")
        for stats in ranked:
            attempts = f"  ({stats.attempt_count} attempts)" if stats.attempt_count > 1 else ""
            lines.append(
                f"  {stats.task_name:<{width}}  {seconds(stats.duration):>9}  "
                f"{stats.status}{attempts}"
            )
    if report.error_summary:
        lines.append("Errors:")
        lines += [f"  {message}" for message in report.error_summary]
    return "\n".join(lines)
