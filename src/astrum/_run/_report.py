"""The statistics of a finished run, built from its raw records when first read.

A run records plain numbers per task on its hot path; turning them into
:class:`TaskExecutionStatistics` objects costs more than running a no-op task,
so the report gets them through :class:`~astrum._records._Deferred` and builds
them only if someone reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from astrum._build._plan import Plan, TaskSpec, instance_spec
from astrum._records import (
    StageStatus,
    TaskAttemptStatistics,
    TaskExecutionStatistics,
    TaskStageStatistics,
    _Deferred,
)

__all__ = ["Attempt", "RunRecord", "describe", "message"]

COMPLETED = StageStatus.COMPLETED
FAILED = StageStatus.FAILED
RUNNING = StageStatus.RUNNING

Attempt = tuple[float, float, str, BaseException | None, bool, str | None]
"""One attempt as the run records it: start, end, outcome, error, whether a retry follows,
and where it ran (a Dask worker, a process; None on the loop or in a thread)."""


@dataclass(slots=True)  # not frozen: that would cost 1 µs a run, for a private record
class RunRecord(_Deferred):
    """A run's per-task records (indexed by node), as they were when its report was made.

    It stands in for the report's deferred fields, which are named as its methods that
    compute them.

    ``status`` is a copy: tail tasks may still finish after the report, and
    the report lists only what had finished or started by then. Everything a
    settled task recorded no longer changes, so the other lists are shared.
    """

    plan: Plan
    status: Sequence[str | None]
    start: Sequence[float]
    end: Sequence[float]
    queued: Sequence[float]
    waits: Mapping[int, list[float]]
    """For tasks that waited for a concurrency slot or pool: the wait of each recorded attempt."""
    attempts: Sequence[list[Attempt] | None]
    errors: Mapping[int, BaseException]
    skip_reasons: Mapping[int, str]
    workers: Mapping[str, str | None]
    """Where each task's latest attempt ran, for tasks that ran outside the process."""
    instances: Sequence[tuple[int, int]] = ()
    """``(map node, element)`` of each instance of a mapped task; instance k is record
    ``len(plan.specs) + k``."""

    def resolve(self, name: str) -> Any:
        compute: Callable[[], Any] = getattr(self, name)
        return compute()

    def total_stages(self) -> int:
        return self.plan.graph.depth

    def max_parallelism(self) -> int:
        return self.plan.graph.width

    def settled(self) -> list[int]:
        """Nodes that finished (in any way) before the report, in plan order; each map's
        instances follow its own entry, in input order."""
        done = [
            node
            for node, status in enumerate(self.status)
            if status is not None and status != RUNNING
        ]
        if not self.instances:
            return done
        count = len(self.plan.specs)
        by_map: dict[int, list[int]] = {}
        for node in done:
            if node >= count:
                by_map.setdefault(self.instances[node - count][0], []).append(node)
        ordered = []
        for node in done:
            if node < count:
                ordered.append(node)
                ordered.extend(sorted(by_map.pop(node, ()), key=self._element))
        for rest in by_map.values():  # instances of a map that had not finished itself
            ordered.extend(rest)
        return ordered

    def _element(self, node: int) -> int:
        return self.instances[node - len(self.plan.specs)][1]

    def _spec(self, node: int) -> tuple[TaskSpec, int]:
        """The spec of a record and the plan node it belongs to (a map, for an instance)."""
        count = len(self.plan.specs)
        if node < count:
            return self.plan.specs[node], node
        owner, index = self.instances[node - count]
        return instance_spec(self.plan.specs[owner], index), owner

    def task_statistics(self) -> list[TaskExecutionStatistics]:
        return [self._task(node) for node in self.settled()]

    def _task(self, node: int) -> TaskExecutionStatistics:
        spec, owner = self._spec(node)
        status = self.status[node]
        assert status is not None
        start, end = self.start[node], self.end[node]
        worker = self.workers.get(spec.task_id)
        raw = self.attempts[node]
        queued = self.queued[node]
        if raw is None:
            # Attempts are recorded only once one fails; a lone successful attempt is implied
            # (made directly: most tasks of a large run take this way).
            attempts = (
                [
                    TaskAttemptStatistics(
                        spec.task_id,
                        1,
                        spec.retry,
                        start + queued,
                        end,
                        max(end - start - queued, 0.0),
                        status,
                        will_retry=False,
                        worker=worker,
                        queued_duration=queued,
                    )
                ]
                if status == COMPLETED
                else []
            )
        else:
            attempts = self._attempts(spec, raw, self.waits.get(node, ()))
        error = self.errors.get(node)
        return TaskExecutionStatistics(
            task_name=spec.task_id,
            stage_id=self.plan.graph.levels[owner],
            start_time=start,
            end_time=end,
            duration=max(end - start - queued, 0.0),
            status=status,
            error_message=message(error) if error is not None else self.skip_reasons.get(node),
            retry=spec.retry,
            attempt_count=len(attempts),
            attempt_statistics=attempts,
            exception=error,
            queued_duration=queued,
            worker=worker,
        )

    @staticmethod
    def _attempts(
        spec: TaskSpec, raw: Sequence[Attempt], waits: Sequence[float]
    ) -> list[TaskAttemptStatistics]:
        """The statistics of recorded attempts; ``waits`` has one per attempt with gates."""
        waits = [*waits, *[0.0] * (len(raw) - len(waits))][: len(raw)]
        return [
            # The body began once the wait was over: start and duration are the body's.
            TaskAttemptStatistics(
                task_name=spec.task_id,
                attempt_number=number,
                max_retries=spec.retry,
                start_time=began + waited,
                end_time=ended,
                duration=max(ended - began - waited, 0.0),
                status=outcome,
                error_message=None if error is None else message(error),
                will_retry=will_retry,
                worker=where,
                queued_duration=waited,
            )
            for number, ((began, ended, outcome, error, will_retry, where), waited) in enumerate(
                zip(raw, waits, strict=True), 1
            )
        ]

    def retry_notes(self) -> list[str]:
        """The run's retries, worded as astrum 0.1.2 put them in ``error_summary``.

        One line per failed attempt that was retried, and one per task that
        failed after using all its retries, in the order they happened.
        """
        notes: list[tuple[float, int, str]] = []
        for node, attempts in enumerate(self.attempts):
            if not attempts:
                continue  # attempts are recorded only once one fails: most tasks skip here
            spec, _ = self._spec(node)  # an instance's own spec names it, as in 'work[3]'
            total = spec.retry + 1
            for number, (_, ended, _, error, will_retry, _) in enumerate(attempts, 1):
                if will_retry and error is not None:
                    notes.append(
                        (
                            ended,
                            node,
                            f"Task '{spec.task_id}' attempt {number}/{total} failed; retrying "
                            f"with {total - number} retries left: {message(error)}",
                        )
                    )
            _, ended, outcome, error, _, _ = attempts[-1]
            if spec.retry and len(attempts) == total and outcome == FAILED and error is not None:
                notes.append(
                    (
                        ended,
                        node,
                        f"Task '{spec.task_id}' exhausted {spec.retry} retries after {total} "
                        f"attempts: {message(error)}",
                    )
                )
        notes.sort(key=lambda note: note[:2])
        return [text for _, _, text in notes]

    def stage_statistics(self) -> list[TaskStageStatistics]:
        """One entry per level of the plan that has a settled task."""
        graph = self.plan.graph
        by_level: dict[int, list[int]] = {}
        owners = {}
        for node in self.settled():
            owner = self._spec(node)[1]
            owners[node] = owner
            by_level.setdefault(graph.levels[owner], []).append(node)
        result = []
        for level, nodes in sorted(by_level.items()):
            names = [self._spec(node)[0].task_id for node in nodes]
            waits = dict.fromkeys(
                graph.ids[pred] for node in nodes for pred in graph.preds[owners[node]]
            )
            start = min(self.start[node] for node in nodes)
            end = max(self.end[node] for node in nodes)
            result.append(
                TaskStageStatistics(
                    stage_id=level,
                    stage_name=f"level {level}",
                    start_time=start,
                    end_time=end,
                    duration=end - start,
                    parallel_task_count=len(names),
                    wait_task_count=len(waits),
                    parallel_tasks=names,
                    wait_tasks=list(waits),
                )
            )
        return result

    def edge_labels(self) -> dict[str, dict[str, str]]:
        """``{task: {upstream task: what the edge carries}}`` for the plan's data edges."""
        from astrum._views._export import data_edges

        labels: dict[str, dict[str, str]] = {}
        ids = self.plan.ids
        for edge in data_edges(self.plan):
            if edge.source is None:
                continue
            into = labels.setdefault(ids[edge.target], {})
            source = ids[edge.source]
            into[source] = f"{into[source]}, {edge.label}" if source in into else edge.label
        return labels

    def original_tasks(self) -> dict[str, list[str]]:
        """``{task: [its dependencies]}`` for every task of the plan."""
        return self.plan.dependencies


def message(error: BaseException) -> str:
    """An error's text, or its type's name when it has none."""
    return str(error) or type(error).__name__


def describe(error: BaseException) -> str:
    """``Type: text``, for summaries and logs."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
