"""Validating hand-built task orders and viewing them as levels."""

from __future__ import annotations

from collections.abc import Sequence

from astrum._build._graph import Graph, make_graph
from astrum._errors import TaskDependencyError, TaskDuplicateExecutionError, TaskOrderLoopError
from astrum._records import ExecutionPlan, ExecutionStage, TaskOrder

__all__ = ["ExecutionPlanner", "plan_view"]


class ExecutionPlanner:
    """Checks a list of :class:`TaskOrder` and turns it into a graph.

    >>> load = TaskOrder("load")
    >>> plan = ExecutionPlanner([load, TaskOrder("report", [load])]).get_execute_timeline()
    >>> " -> ".join(", ".join(stage.parallel_tasks) for stage in plan.stages)
    'load -> report'
    """

    def __init__(self, task_order: Sequence[TaskOrder]) -> None:
        self.task_order = list(task_order)
        self._graph: Graph | None = None

    def validate(self) -> Graph:
        """Raise for duplicate names, unknown dependencies or cycles; return the graph."""
        if self._graph is None:
            self._graph = graph_of(self.task_order)
        return self._graph

    def detect_cycle(self) -> list[str] | None:
        """The first cycle found, as ``[a, b, a]``, or None when the orders are acyclic."""
        try:
            self.validate()
        except TaskOrderLoopError as error:
            return list(error.cycle)
        return None

    def get_execute_timeline(self) -> ExecutionPlan:
        return plan_view(self.validate(), self.task_order)


def graph_of(orders: Sequence[TaskOrder]) -> Graph:
    """The graph of ``orders``; every dependency must itself be one of the orders."""
    ids: list[str] = []
    seen: set[str] = set()
    for order in orders:
        if not isinstance(order, TaskOrder):
            raise TypeError(
                f"task_order must contain TaskOrder objects, got {type(order).__name__}."
            )
        if not isinstance(order.task_name, str) or not order.task_name:
            raise TypeError(
                f"A TaskOrder's task name must be a non-empty string, got {order.task_name!r}."
            )
        if order.task_name in seen:
            raise TaskDuplicateExecutionError(
                f"Task '{order.task_name}' appears more than once in task_order; "
                "task names must be unique."
            )
        seen.add(order.task_name)
        ids.append(order.task_name)
    deps: list[list[str]] = []
    for order in orders:
        try:
            names = [dep.task_name for dep in order.dependencies]
        except (AttributeError, TypeError):
            raise TypeError(
                f"The dependencies of task '{order.task_name}' must be a list of TaskOrder "
                f"objects, got {order.dependencies!r}."
            ) from None
        if not seen.issuperset(names):
            unknown = [name for name in names if name not in seen]
            listed = ", ".join(f"'{name}'" for name in unknown)
            raise TaskDependencyError(
                f"Task '{order.task_name}' depends on {listed}, which "
                f"{'is' if len(unknown) == 1 else 'are'} not in task_order; "
                "add the missing TaskOrder to the list."
            )
        deps.append(names)
    return make_graph(ids, deps)


def plan_view(graph: Graph, orders: Sequence[TaskOrder] = ()) -> ExecutionPlan:
    """Levels of ``graph`` for people: each level's tasks and what they wait for."""
    stages = []
    for level, nodes in enumerate(graph.level_groups()):
        names = [graph.ids[node] for node in nodes]
        waits = dict.fromkeys(graph.ids[pred] for node in nodes for pred in graph.preds[node])
        stages.append(ExecutionStage(level, names, list(waits), list(names)))
    plan = ExecutionPlan(
        stages=stages,
        total_tasks=len(graph),
        max_parallelism=graph.width,
    )
    if orders:
        plan.set_original_tasks(list(orders))
    else:
        by_name = {task_id: TaskOrder(task_id) for task_id in graph.ids}
        for node, task_id in enumerate(graph.ids):
            by_name[task_id].dependencies = [by_name[graph.ids[p]] for p in graph.preds[node]]
        plan.set_original_tasks(list(by_name.values()))
    return plan
