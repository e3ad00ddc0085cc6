"""The old floor, kept to show what it cost: a ``graphlib.TopologicalSorter`` per run.

A sorter is single-use, so the whole cost is in :func:`run`: making and
preparing the sorter, its pure-Python ``done()``/``get_ready()`` per task, and
every asyncio task kept until the run ends. bench/bench_floor.py measures it
against the floor in bench/impl_baseline.py.
"""

from __future__ import annotations

import asyncio
import graphlib
from collections.abc import Callable, Coroutine
from typing import Any

from impl_baseline import Prepared, prepare, supports
from workloads import Deps, Workload, check_results

__all__ = ["Prepared", "build", "check", "prepare", "run", "run_graph", "supports"]


def build(prepared: Prepared) -> Prepared:
    return prepared


async def run_graph(
    deps: Deps, functions: dict[str, Callable[..., Coroutine[Any, Any, Any]]], pass_values: bool
) -> dict[str, Any]:
    """Start each task once its dependencies are done; return every task's result.

    Each task is one asyncio task that, when its body is done, tells the sorter
    and starts what became ready: cheaper than a done callback per task (~8
    against ~14 us a task here), so the baseline is the faster of the two.
    """
    sorter = graphlib.TopologicalSorter(deps)
    sorter.prepare()
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    results: dict[str, Any] = {}
    tasks: dict[str, asyncio.Task[None]] = {}  # the loop keeps only weak references

    async def run_node(node: str) -> None:
        args = [results[dep] for dep in deps[node]] if pass_values else ()
        results[node] = await functions[node](*args)
        sorter.done(node)
        launch_ready()

    def launch_ready() -> None:
        for node in sorter.get_ready():
            tasks[node] = loop.create_task(run_node(node))
        if not sorter.is_active():
            finished.set_result(None)

    launch_ready()
    await finished
    return results


def run(prepared: Prepared) -> Coroutine[Any, Any, dict[str, Any]]:
    return run_graph(*prepared)


def check(workload: Workload, result: dict[str, Any]) -> None:
    check_results(workload, result, "the graphlib loop")
