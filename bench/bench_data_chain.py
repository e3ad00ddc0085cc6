"""Passing a value down a 1,000-task chain (each task adds 1), against hand-written asyncio.

Three ways run side by side in one process, interleaved, several repeats each;
the table shows medians of process CPU time and the ratio to the baseline:

- baseline: a hand-written loop that starts each coroutine once its
  predecessor is done and passes it the predecessor's result;
- astrum, run: ``await scheduler.execute()`` on a scheduler built once, the
  value travelling through ``Ref[int, F(previous)]`` bindings;
- astrum, build + run: ``build_scheduler()`` then ``execute()``, which also
  type-checks the 999 relations and builds the plan (the annotations are read
  by the first build only).

A fourth row runs the same chain with ``depends_on`` only (no values), to
show what the data transport itself costs.

Usage: ``.venv/bin/python bench/bench_data_chain.py [--tasks 1000] [--repeats 7]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from astrum import F, Ref, SchedulerRegistry

__all__ = ["main"]

Step = Callable[[int], Coroutine[Any, Any, int]]


async def _start() -> int:
    return 0


async def _add_one(value: int) -> int:
    return value + 1


def _with_values(size: int) -> SchedulerRegistry:
    registry = SchedulerRegistry("bench-data-chain")
    registry.task("t0")(_start)
    for i in range(1, size):

        async def step(value: int) -> int:
            return value + 1

        step.__annotations__ = {"value": Ref[int, F(f"t{i - 1}")], "return": int}
        registry.task(f"t{i}")(step)
    return registry


def _without_values(size: int) -> SchedulerRegistry:
    registry = SchedulerRegistry("bench-order-chain")
    registry.task("t0")(_start)
    for i in range(1, size):

        async def step() -> int:
            return 1

        registry.task(f"t{i}", depends_on=[f"t{i - 1}"])(step)
    return registry


async def baseline(size: int) -> int:
    """Start each step when its predecessor finishes, passing the result along."""
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[int] = loop.create_future()
    successors = {i: [i + 1] if i + 1 < size else [] for i in range(size)}
    results: dict[int, int] = {}

    def on_done(node: int, task: asyncio.Task[int]) -> None:
        results[node] = task.result()
        if not successors[node]:
            finished.set_result(results[node])
        for succ in successors[node]:
            launch(succ, _add_one(results[node]))

    def launch(node: int, coroutine: Coroutine[Any, Any, int]) -> None:
        task = loop.create_task(coroutine)
        task.add_done_callback(lambda done: on_done(node, done))

    launch(0, _start())
    return await finished


def _cpu(run: Callable[[], Awaitable[int]], expected: int) -> float:
    async def measured() -> float:
        began = time.process_time()
        value = await run()
        spent = time.process_time() - began
        assert value == expected, f"the chain ended with {value}, expected {expected}"
        return spent

    return asyncio.run(measured())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    size = args.tasks
    last = size - 1
    flow = _with_values(size)
    scheduler = flow.build_scheduler()
    plain = _without_values(size).build_scheduler()

    async def astrum_run() -> int:
        value: int = (await scheduler.execute()).task_return_set[f"t{last}"]
        return value

    async def astrum_build_and_run() -> int:
        # build_scheduler(), not run(): run() would reuse the plan its first call built.
        value: int = (await flow.build_scheduler().execute()).task_return_set[f"t{last}"]
        return value

    async def order_only() -> int:
        report = await plain.execute()
        return last if report.successful_tasks == size else -1

    ways: dict[str, Callable[[], Awaitable[int]]] = {
        "baseline (hand-written asyncio)": lambda: baseline(size),
        "astrum, run (Ref/F bindings)": astrum_run,
        "astrum, build + run": astrum_build_and_run,
        "astrum, run, depends_on only": order_only,
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, run in ways.items():  # interleaved, so drift in machine load hits all alike
            times[name].append(_cpu(run, last))
    base = statistics.median(times["baseline (hand-written asyncio)"])
    print(f"{size:,}-task chain passing a value (each task adds 1); medians of {args.repeats}")
    print("| way | ms (CPU) | µs/task | x baseline |")
    print("| --- | ---: | ---: | ---: |")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"| {name} | {median * 1e3:.1f} | {median / size * 1e6:.1f} | {median / base:.2f} |")


if __name__ == "__main__":
    main()
