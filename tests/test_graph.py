"""The graph core (_graph.py and the planner's validation) as plain synchronous code."""

from __future__ import annotations

import copy
import inspect
import itertools
import pickle
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astrum import (
    ExecutionPlanner,
    SchedulerError,
    TaskDependencyError,
    TaskDuplicateExecutionError,
    TaskOrder,
    TaskOrderLoopError,
    TaskOrderNoExitError,
)
from astrum._build._graph import Graph, closure_upstream, find_cycle, make_graph
from strategies import Dag, ancestors, cyclic_graphs, dags

CHAIN = 100_000


def graph_of(dag: Dag) -> Graph:
    return make_graph(dag.ids, dag.deps)


@contextmanager
def shallow_stack(extra: int = 150) -> Iterator[None]:
    """Allow only ``extra`` more frames than the caller has, so any recursion fails."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + extra)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def chain_orders(n: int) -> list[TaskOrder]:
    orders = [TaskOrder("n0")]
    for i in range(1, n):
        orders.append(TaskOrder(f"n{i}", [orders[-1]]))
    return orders


# -- make_graph on acyclic input --------------------------------------------------------


@settings(max_examples=80)
@given(dags(max_tasks=25))
def test_numbering_is_topological(dag: Dag) -> None:
    """Every task is numbered after all the tasks it waits for."""
    graph = graph_of(dag)
    for node, preds in enumerate(graph.preds):
        assert all(pred < node for pred in preds)


@settings(max_examples=80)
@given(dags(max_tasks=25))
def test_graph_keeps_every_task_and_edge(dag: Dag) -> None:
    """The graph has exactly the given tasks and edges, with successors mirroring predecessors."""
    graph = graph_of(dag)
    assert sorted(graph.ids) == sorted(dag.ids)
    assert len(graph) == len(dag.ids)
    assert all(graph.index[task] == node for node, task in enumerate(graph.ids))
    edges = {(graph.ids[p], graph.ids[n]) for n, preds in enumerate(graph.preds) for p in preds}
    assert edges == dag.edges()
    reverse = {(graph.ids[n], graph.ids[s]) for n, succs in enumerate(graph.succs) for s in succs}
    assert reverse == edges
    # Each list ascending, with no task twice; the counts a run starts from agree with them.
    assert all(list(nodes) == sorted(set(nodes)) for nodes in (*graph.preds, *graph.succs))
    assert graph.waiting == tuple(map(len, graph.preds))


@settings(max_examples=80)
@given(dags(max_tasks=25))
def test_levels_are_longest_paths_from_a_root(dag: Dag) -> None:
    """A task's level is 0 for a root, else one more than its deepest dependency."""
    graph = graph_of(dag)
    deps = dag.deps_of()
    level: dict[str, int] = {}
    for task in graph.ids:  # topological, so dependencies come first
        level[task] = max((level[d] + 1 for d in deps[task]), default=0)
    assert {task: graph.levels[graph.index[task]] for task in graph.ids} == level
    groups = graph.level_groups()
    assert sorted(node for group in groups for node in group) == list(range(len(graph)))
    assert all(
        graph.levels[node] == number for number, group in enumerate(groups) for node in group
    )


@settings(max_examples=60)
@given(dags(max_tasks=25))
def test_closure_upstream_is_targets_plus_ancestors(dag: Dag) -> None:
    """closure_upstream returns the targets and all their ancestors, sorted."""
    graph = graph_of(dag)
    deps = dag.deps_of()
    targets = [graph.index[task] for task in dag.ids[:2]]
    expected = {graph.index[t] for task in dag.ids[:2] for t in (task, *ancestors(deps, task))}
    assert closure_upstream(targets, graph.preds) == sorted(expected)


def test_independent_tasks_keep_the_given_order() -> None:
    """Ties in the topological order keep the order the tasks were given in."""
    graph = make_graph(["c", "a", "b", "d"], [[], [], [], ["a"]])
    assert graph.ids == ("c", "a", "b", "d")


def test_repeated_dependency_counts_once() -> None:
    """Naming a dependency twice makes one edge, not two."""
    graph = make_graph(["a", "b"], [[], ["a", "a"]])
    assert graph.preds == ((), (0,))
    assert graph.succs == ((1,), ())
    assert graph.waiting == (0, 1)


@settings(max_examples=80)
@given(dags(max_tasks=25), st.randoms(use_true_random=False))
def test_dependencies_listed_twice_make_the_graph_of_each_listed_once(
    dag: Dag, rng: random.Random
) -> None:
    """Any dependencies named twice, in any order, give the same graph as each named once."""
    doubled = []
    for deps in dag.deps:
        listed = [*deps, *(dep for dep in deps if rng.random() < 0.5)]
        rng.shuffle(listed)
        doubled.append(listed)
    assert make_graph(dag.ids, doubled) == graph_of(dag)


def test_empty_graph() -> None:
    """An empty graph is valid and has no levels."""
    graph = make_graph([], [])
    assert len(graph) == 0
    assert graph.level_groups() == []


# -- cycles -----------------------------------------------------------------------------


def test_three_task_cycle_message_shows_the_path() -> None:
    """A cycle a -> b -> c -> a is reported with its path, starting at the first task listed."""
    with pytest.raises(TaskOrderLoopError) as caught:
        make_graph(["root", "a", "b", "c"], [[], ["c", "root"], ["a"], ["b"]])
    assert caught.value.cycle == ("a", "b", "c", "a")
    assert "a -> b -> c -> a" in str(caught.value)
    assert "Remove one of these dependencies" in str(caught.value)


def test_cycle_without_any_root_is_a_no_exit_error() -> None:
    """When every task waits for another, the error is TaskOrderNoExitError (a loop error)."""
    with pytest.raises(TaskOrderNoExitError, match="a -> b -> a"):
        make_graph(["a", "b"], [["b"], ["a"]])


def test_cycle_beside_a_root_is_a_plain_loop_error() -> None:
    """A cycle in a graph that has a root is a TaskOrderLoopError, not a no-exit error."""
    with pytest.raises(TaskOrderLoopError) as caught:
        make_graph(["r", "a", "b"], [[], ["b"], ["a"]])
    assert not isinstance(caught.value, TaskOrderNoExitError)


def test_self_dependency_is_a_cycle() -> None:
    """A task that waits for itself is the cycle 'a -> a'."""
    with pytest.raises(TaskOrderLoopError, match="a -> a"):
        make_graph(["a"], [["a"]])


def test_loop_errors_are_scheduler_and_value_errors() -> None:
    """Cycle errors can be caught as SchedulerError or ValueError."""
    with pytest.raises(SchedulerError):
        make_graph(["a"], [["a"]])
    with pytest.raises(ValueError, match="cycle"):
        make_graph(["a"], [["a"]])


@settings(max_examples=80)
@given(cyclic_graphs())
def test_reported_cycle_is_a_real_cycle(dag: Dag) -> None:
    """The reported cycle is closed and each step follows a real dependency edge."""
    with pytest.raises(TaskOrderLoopError) as caught:
        graph_of(dag)
    cycle = caught.value.cycle
    assert len(cycle) >= 2
    assert cycle[0] == cycle[-1]
    assert len(set(cycle[:-1])) == len(cycle) - 1
    edges = dag.edges()
    assert all(pair in edges for pair in itertools.pairwise(cycle))
    assert " -> ".join(cycle) in str(caught.value)


@settings(max_examples=30)
@given(cyclic_graphs())
def test_cycle_report_is_deterministic(dag: Dag) -> None:
    """The same graph always reports the same cycle."""
    with pytest.raises(TaskOrderLoopError) as first:
        graph_of(dag)
    with pytest.raises(TaskOrderLoopError) as second:
        graph_of(dag)
    assert first.value.cycle == second.value.cycle


def test_find_cycle_follows_predecessors() -> None:
    """find_cycle returns a cycle among stuck nodes in run order, first node repeated."""
    preds = [[2], [0], [1], [0]]  # 0 <- 2 <- 1 <- 0, and 3 waits for 0
    cycle = find_cycle([0, 1, 2, 3], preds)
    assert cycle == [0, 1, 2, 0]


# -- scale: no recursion ------------------------------------------------------------------


def test_hundred_thousand_chain_builds_without_recursion() -> None:
    """A 100,000-task chain listed backwards is ordered with a shallow stack."""
    ids = [f"n{i}" for i in reversed(range(CHAIN))]
    deps = [[f"n{i - 1}"] if i else [] for i in reversed(range(CHAIN))]
    with shallow_stack():
        graph = make_graph(ids, deps)
        closure = closure_upstream([graph.index[f"n{CHAIN - 1}"]], graph.preds)
    assert graph.ids[0] == "n0"
    assert graph.ids[-1] == f"n{CHAIN - 1}"
    assert graph.levels[-1] == CHAIN - 1
    assert len(closure) == CHAIN


def test_hundred_thousand_ring_reports_its_cycle_without_recursion() -> None:
    """A 100,000-task ring is reported as a cycle through every task, with a shallow stack."""
    ids = [f"n{i}" for i in range(CHAIN)]
    deps = [[f"n{(i - 1) % CHAIN}"] for i in range(CHAIN)]
    with shallow_stack(), pytest.raises(TaskOrderNoExitError) as caught:
        make_graph(ids, deps)
    assert len(caught.value.cycle) == CHAIN + 1
    assert caught.value.cycle[:3] == ("n0", "n1", "n2")


def test_planner_validates_a_hundred_thousand_task_orders_without_recursion() -> None:
    """ExecutionPlanner validates a 100,000-TaskOrder chain, and reprs it, with a shallow stack."""
    orders = chain_orders(CHAIN)
    with shallow_stack():
        graph = ExecutionPlanner(orders).validate()
        text = repr(orders[-1])
    assert len(graph) == CHAIN
    assert graph.levels[-1] == CHAIN - 1
    assert text == f"TaskOrder('n{CHAIN - 1}', dependencies=['n{CHAIN - 2}'])"


# -- the planner's validation of TaskOrder lists -----------------------------------------


def test_planner_rejects_duplicate_names() -> None:
    """Two TaskOrders with one name are a TaskDuplicateExecutionError naming it."""
    with pytest.raises(TaskDuplicateExecutionError, match="'a' appears more than once"):
        ExecutionPlanner([TaskOrder("a"), TaskOrder("a")]).validate()


def test_planner_rejects_unknown_dependency() -> None:
    """A dependency that is not in the list is a TaskDependencyError naming both tasks."""
    ghost = TaskOrder("ghost")
    with pytest.raises(TaskDependencyError, match=r"Task 'a' depends on 'ghost'"):
        ExecutionPlanner([TaskOrder("a", [ghost])]).validate()


def test_planner_reports_cycles_with_their_path() -> None:
    """ExecutionPlanner.validate raises the cycle path; detect_cycle returns it."""
    a, b, c = TaskOrder("a"), TaskOrder("b"), TaskOrder("c")
    a.dependencies, b.dependencies, c.dependencies = [c], [a], [b]
    with pytest.raises(TaskOrderLoopError, match="a -> b -> c -> a"):
        ExecutionPlanner([a, b, c]).validate()
    assert ExecutionPlanner([a, b, c]).detect_cycle() == ["a", "b", "c", "a"]
    assert ExecutionPlanner([TaskOrder("x")]).detect_cycle() is None


@pytest.mark.parametrize(
    "dependencies",
    [["b"], [None], [1], "b", None, 5],
    ids=["str", "none-item", "int-item", "string", "none", "int"],
)
def test_planner_rejects_dependencies_that_are_not_task_orders(dependencies: object) -> None:
    """Dependencies must be TaskOrder objects; anything else is a TypeError saying so."""
    order = TaskOrder("a")
    order.dependencies = dependencies  # type: ignore[assignment]
    with pytest.raises(TypeError, match="TaskOrder"):
        ExecutionPlanner([TaskOrder("b"), order]).validate()


@pytest.mark.parametrize("name", [None, 1, b"a", ""], ids=["none", "int", "bytes", "empty"])
def test_planner_rejects_bad_task_names(name: object) -> None:
    """A TaskOrder name must be a non-empty string; anything else is refused with its value."""
    with pytest.raises((TypeError, ValueError), match="task name"):
        ExecutionPlanner([TaskOrder(name)]).validate()  # type: ignore[arg-type]


def test_planner_rejects_non_task_order_entries() -> None:
    """The list itself must hold TaskOrder objects."""
    with pytest.raises(TypeError, match="TaskOrder objects"):
        ExecutionPlanner(["a"]).validate()  # type: ignore[list-item]


def test_a_copied_or_unpickled_graph_works_out_what_it_did_not_keep() -> None:
    """What a graph computes on first read is not part of its state: a copy computes it."""
    graph = make_graph(["a", "b", "c"], [[], ["a"], ["a", "b"]])
    for other in (copy.copy(graph), pickle.loads(pickle.dumps(graph))):
        assert other == graph
        assert other.preds == ((), (0,), (0, 1))
        assert other.levels == (0, 1, 2)
