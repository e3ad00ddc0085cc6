"""The data Astrum hands to users: task orders, plans, statistics and the report.

Everything here is plain data. Reports are frozen once a run has produced them;
the text views are computed from the data on demand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from astrum._errors import (
    NoResultError,
    SchedulerError,
    TaskDependencyError,
    TaskDuplicateExecutionError,
    TaskNotFoundError,
    TaskOrderLoopError,
    TaskOrderNoExitError,
    TaskRegistrationError,
)
from astrum._records import (
    ExecutionPlan,
    ExecutionStage,
    ExecutionState,
    ReportData,
    StageStatus,
    TaskAttemptStatistics,
    TaskExecutionStatistics,
    TaskOrder,
    TaskStageStatistics,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "ExecutionPlan",
    "ExecutionReport",
    "ExecutionStage",
    "ExecutionState",
    "NoResultError",
    "SchedulerError",
    "StageStatus",
    "TaskAttemptStatistics",
    "TaskDependencyError",
    "TaskDuplicateExecutionError",
    "TaskExecutionStatistics",
    "TaskNotFoundError",
    "TaskOrder",
    "TaskOrderLoopError",
    "TaskOrderNoExitError",
    "TaskRegistrationError",
    "TaskStageStatistics",
]


@dataclass(frozen=True, repr=False)
class ExecutionReport(ReportData):
    """The outcome of one run: its data and the views of it.

    Times are seconds since the epoch; durations are seconds. The statistics
    are computed from the run's records the first time they are read; they are
    the same whenever that happens.
    """

    def summary(self) -> str:
        """A readable text summary: state, counts, critical path, slowest tasks, errors."""
        from astrum._views._summary import summary

        return summary(self)

    def to_chrome_trace(self, path: str | os.PathLike[str]) -> Path:
        """Write the run's timeline as Chrome/Perfetto trace-event JSON; returns the path.

        Open it in https://ui.perfetto.dev or chrome://tracing.
        """
        from astrum._views._trace import write_chrome_trace

        return write_chrome_trace(self, path)

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """The run as one self-contained HTML page (graph, timeline, tasks); also written
        to ``path`` when given. It needs no network and opens from a file.
        """
        from astrum._views._html import to_html

        return to_html(self, path)

    def __rich__(self) -> Any:
        """A Rich table of the run, so ``rich.print(report)`` draws it (needs ``astrum[viz]``)."""
        from astrum._views._render import report_table

        return report_table(self)
