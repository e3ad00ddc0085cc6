"""The reference: a hand-written ``graphlib.TopologicalSorter`` + ``asyncio.create_task`` loop.

No retries, no statistics, no error handling: the least a program can do to
run a DAG of coroutines as soon as each one's dependencies are done. A sorter
is single-use, so it has no separate build: the whole cost is in :func:`run`.
"""

from __future__ import annotations

import asyncio
import graphlib
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from workloads import Deps, Workload, body, check_results

__all__ = ["Prepared", "build", "check", "prepare", "run", "run_graph", "supports"]

Prepared = tuple[Deps, dict[str, Callable[..., Coroutine[Any, Any, Any]]], bool]


def supports(workload: Workload) -> bool:
    del workload
    return True


def prepare(workload: Workload) -> Prepared:
    functions: dict[str, Callable[..., Coroutine[Any, Any, Any]]] = {}
    for task_id in workload.deps:
        function = body(workload, task_id)
        if workload.body == "sync_sleep":
            functions[task_id] = partial(asyncio.to_thread, function)
        else:
            functions[task_id] = function
    return workload.deps, functions, workload.body == "value"


def build(prepared: Prepared) -> Prepared:
    return prepared


async def run_graph(
    deps: Deps, functions: dict[str, Callable[..., Coroutine[Any, Any, Any]]], pass_values: bool
) -> dict[str, Any]:
    """Start each task once its dependencies are done; return every task's result."""
    sorter = graphlib.TopologicalSorter(deps)
    sorter.prepare()
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    results: dict[str, Any] = {}

    def launch_ready() -> None:
        for node in sorter.get_ready():
            args = [results[dep] for dep in deps[node]] if pass_values else ()
            task = loop.create_task(functions[node](*args))
            task.add_done_callback(partial(on_done, node))
        if not sorter.is_active():
            finished.set_result(None)

    def on_done(node: str, task: asyncio.Task[Any]) -> None:
        results[node] = task.result()
        sorter.done(node)
        launch_ready()

    launch_ready()
    await finished
    return results


def run(prepared: Prepared) -> Coroutine[Any, Any, dict[str, Any]]:
    return run_graph(*prepared)


def check(workload: Workload, result: dict[str, Any]) -> None:
    check_results(workload, result, "the baseline")
