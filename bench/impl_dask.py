"""``dask.delayed`` with the threaded scheduler, for the plain-function workload.

Dependencies become arguments of the delayed calls; build makes the delayed
graph, run is one ``dask.compute(..., scheduler="threads")``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dask.base import compute
from dask.delayed import delayed

from workloads import Workload, body

__all__ = ["build", "check", "prepare", "run", "supports"]


def supports(workload: Workload) -> bool:
    return workload.body == "sync_sleep"


def after(function: Callable[[], Any]) -> Callable[..., Any]:
    """``function`` called once the values it is handed (its dependencies) exist."""

    def call(*upstream: Any) -> Any:
        del upstream
        return function()

    return call


def prepare(workload: Workload) -> Workload:
    return workload


def build(workload: Workload) -> list[Any]:
    nodes: dict[str, Any] = {}
    for task_id, deps in workload.deps.items():
        call = delayed(after(body(workload, task_id)), pure=False)
        nodes[task_id] = call(*(nodes[dep] for dep in deps))
    return list(nodes.values())


def run(nodes: list[Any]) -> tuple[Any, ...]:
    # One thread per task, as ours gets: dask's default (one per core) would halve it here.
    # dask is not annotated: its calls are untyped.
    result: tuple[Any, ...] = compute(  # type: ignore[no-untyped-call]
        *nodes, scheduler="threads", num_workers=len(nodes)
    )
    return result


def check(workload: Workload, result: tuple[Any, ...]) -> None:
    assert len(result) == workload.size, "dask lost tasks"
