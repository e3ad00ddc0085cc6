"""The floor: a careful hand-written asyncio program that runs a DAG of coroutines.

Build turns ``{task: [what it waits for]}`` into successor lists and counts of
unfinished dependencies, once; a run copies the counts, starts every task
without dependencies as one asyncio task, and each task, when its body is
done, counts down its successors and starts those it was the last one to wait
for. A finished task is dropped at once, as astrum drops its own. No retries,
statistics or error handling: the least a program can do.

This floor used to be a ``graphlib.TopologicalSorter`` made per run, which
kept every asyncio task until the run ended; that cost ~1.4x this loop (see
bench/RESULTS.md, "What the old baseline included").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, NamedTuple

from workloads import Deps, Workload, body, check_results

__all__ = ["Graph", "Prepared", "build", "check", "prepare", "run", "run_graph", "supports"]

Body = Callable[..., Coroutine[Any, Any, Any]]
Prepared = tuple[Deps, dict[str, Body], bool]


class Graph(NamedTuple):
    """What a run needs, made once: successors, dependency counts, roots, bodies."""

    deps: Deps
    succs: dict[str, list[str]]
    counts: dict[str, int]
    roots: list[str]
    functions: dict[str, Body]
    pass_values: bool


def supports(workload: Workload) -> bool:
    del workload
    return True


def prepare(workload: Workload) -> Prepared:
    functions: dict[str, Body] = {}
    for task_id in workload.deps:
        function = body(workload, task_id)
        if workload.body == "sync_sleep":
            functions[task_id] = partial(asyncio.to_thread, function)
        else:
            functions[task_id] = function
    return workload.deps, functions, workload.body == "value"


def build(prepared: Prepared) -> Graph:
    deps, functions, pass_values = prepared
    succs: dict[str, list[str]] = {task_id: [] for task_id in deps}
    for task_id, waits_for in deps.items():
        for dep in waits_for:
            succs[dep].append(task_id)
    counts = {task_id: len(waits_for) for task_id, waits_for in deps.items()}
    roots = [task_id for task_id, count in counts.items() if not count]
    return Graph(deps, succs, counts, roots, functions, pass_values)


async def run_graph(graph: Graph) -> dict[str, Any]:
    """Start each task once its dependencies are done; return every task's result."""
    deps, succs, _, roots, functions, pass_values = graph
    waiting = dict(graph.counts)
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    results: dict[str, Any] = {}
    running: dict[str, asyncio.Task[None]] = {}  # the loop keeps only weak references
    left = len(waiting)

    async def run_node(node: str) -> None:
        nonlocal left
        if pass_values:
            results[node] = await functions[node](*[results[dep] for dep in deps[node]])
        else:
            results[node] = await functions[node]()
        for succ in succs[node]:
            waiting[succ] -= 1
            if not waiting[succ]:
                start(succ)
        del running[node]
        left -= 1
        if not left:
            finished.set_result(None)

    def start(node: str) -> None:
        running[node] = loop.create_task(run_node(node))

    for node in roots:
        start(node)
    if left:
        await finished
    return results


def run(graph: Graph) -> Coroutine[Any, Any, dict[str, Any]]:
    return run_graph(graph)


def check(workload: Workload, result: dict[str, Any]) -> None:
    check_results(workload, result, "the baseline")
