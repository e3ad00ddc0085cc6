"""``dagather`` from PyPI: dependencies are the names of a function's parameters.

Every task becomes a generated ``async def`` named after the task whose
parameters are named after the tasks it waits for; those receive the results.
Build registers the functions on a new ``Dagather``; run awaits it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from dagather import Dagather

from workloads import Workload, check_results

__all__ = ["build", "check", "prepare", "run", "supports"]


def supports(workload: Workload) -> bool:
    return workload.body != "sync_sleep"  # it awaits every task: plain functions are not tasks


def source_of(workload: Workload, task_id: str) -> str:
    params = workload.deps[task_id]
    if workload.body == "value":
        result = f"{params[0]} + 1" if params else "1"
        return f"async def {task_id}({', '.join(params)}):\n    return {result}\n"
    if workload.body == "sleep":
        seconds = workload.seconds[task_id]
        return f"async def {task_id}({', '.join(params)}):\n    await sleep({seconds})\n"
    return f"async def {task_id}({', '.join(params)}):\n    return None\n"


def prepare(workload: Workload) -> list[Callable[..., Any]]:
    namespace: dict[str, Any] = {"sleep": asyncio.sleep}
    source = "".join(source_of(workload, task_id) for task_id in workload.deps)
    exec(compile(source, "<dagather workload>", "exec"), namespace)
    return [namespace[task_id] for task_id in workload.deps]


def build(functions: list[Callable[..., Any]]) -> Dagather:
    dag = Dagather()
    for function in functions:
        dag.register(function)
    return dag


def run(dag: Dagather) -> Coroutine[Any, Any, Mapping[Any, Any]]:
    result: Coroutine[Any, Any, Mapping[Any, Any]] = dag()
    return result


def check(workload: Workload, result: Mapping[Any, Any]) -> None:
    values = {template.name: value for template, value in result.items()}
    check_results(workload, values, "dagather")
