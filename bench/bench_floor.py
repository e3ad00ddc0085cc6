"""What the old baseline's timing included that a careful hand-written loop does not.

The old floor (bench/impl_graphlib.py) made a ``graphlib.TopologicalSorter``
per run and kept every asyncio task until the run ended. This runs, in one
process, interleaved round by round, that loop; the same loop dropping each
task when it is done; and the floor bench/impl_baseline.py now uses (successor
lists and dependency counts made once); the last also with the garbage
collector off, to show its share. Figures are medians of process CPU µs per
task, build + run.

Usage: ``.venv/bin/python bench/bench_floor.py [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import graphlib
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import impl_baseline
import impl_graphlib
from workloads import Deps, make

__all__ = ["main", "measure"]


async def _graphlib_dropping(deps: Deps, functions: dict[str, Any]) -> dict[str, Any]:
    """The old loop, but each asyncio task is dropped when it is done."""
    sorter = graphlib.TopologicalSorter(deps)
    sorter.prepare()
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    results: dict[str, Any] = {}
    running: dict[str, asyncio.Task[None]] = {}

    async def run_node(node: str) -> None:
        results[node] = await functions[node]()
        sorter.done(node)
        del running[node]
        launch_ready()

    def launch_ready() -> None:
        for node in sorter.get_ready():
            running[node] = loop.create_task(run_node(node))
        if not sorter.is_active():
            finished.set_result(None)

    launch_ready()
    await finished
    return results


def measure(shape: str, size: int = 10_000, rounds: int = 7) -> dict[str, float]:
    """Median CPU µs per task of each way on one workload."""
    workload = make(shape, size)
    prepared = impl_baseline.prepare(workload)
    deps, functions, _ = prepared

    async def lean() -> Any:
        return await impl_baseline.run_graph(impl_baseline.build(prepared))

    ways: dict[str, Callable[[], Awaitable[Any]]] = {
        "graphlib per run, tasks kept (the old floor)": lambda: impl_graphlib.run(prepared),
        "graphlib per run, tasks dropped": lambda: _graphlib_dropping(deps, functions),
        "counts made once, tasks dropped (the floor)": lean,
        "the floor, garbage collector off": lean,
    }

    async def main() -> dict[str, list[float]]:
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(rounds):
            for name, way in ways.items():
                gc.collect()
                if "off" in name:
                    gc.disable()
                began = time.process_time()
                assert len(await way()) == size
                times[name].append((time.process_time() - began) / size * 1e6)
                gc.enable()
        return times

    return {name: statistics.median(samples) for name, samples in asyncio.run(main()).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    found = {shape: measure(shape) for shape in ("wide", "chain")}
    if args.json:
        print(json.dumps(found))
        return
    for shape, figures in found.items():
        floor = figures["counts made once, tasks dropped (the floor)"]
        for name, figure in figures.items():
            print(f"{shape:6} {name:48} {figure:5.2f} µs/task  {figure / floor:.2f}x")


if __name__ == "__main__":
    main()
