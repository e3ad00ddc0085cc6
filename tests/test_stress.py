"""Stress, bounded in time: many concurrent runs of one registry, and one very large DAG.

These run with asyncio debug mode off (it costs several times the run itself at
this scale) and check correctness, not speed: speed belongs in bench/.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from _support import run_in_new_loop
from astrum import DynamicScheduler, ExecutionReport, SchedulerRegistry, TaskOrder

BIG_DAG = 100_000
CONCURRENT_RUNS = 1_000


def test_a_thousand_concurrent_runs_of_one_registry(registry: SchedulerRegistry) -> None:
    """1,000 overlapping runs of one registry all complete, each with its own statistics."""
    calls = {"fetch": 0, "parse": 0}
    lock = threading.Lock()

    @registry.task()
    async def fetch() -> int:
        calls["fetch"] += 1
        await asyncio.sleep(0.01)
        return 1

    @registry.task(depends_on=["fetch"])
    def parse() -> int:  # a sync body: every run goes through its thread pool
        with lock:
            calls["parse"] += 1
        return 2

    @registry.task(depends_on=["fetch"])
    async def enrich() -> int:
        await asyncio.sleep(0)
        return 3

    @registry.task(depends_on=["parse", "enrich"])
    async def store() -> int:
        return 4

    before = set(threading.enumerate())

    async def main() -> list[ExecutionReport]:
        return list(await asyncio.gather(*(registry.run() for _ in range(CONCURRENT_RUNS))))

    reports = run_in_new_loop(main)
    assert calls == {"fetch": CONCURRENT_RUNS, "parse": CONCURRENT_RUNS}
    assert len({report.run_id for report in reports}) == CONCURRENT_RUNS
    for report in reports:
        assert report.execution_state == "completed"
        assert report.task_return_set == {"fetch": 1, "parse": 2, "enrich": 3, "store": 4}
        assert [s.attempt_count for s in report.task_statistics] == [1, 1, 1, 1]
    assert [t for t in threading.enumerate() if t not in before] == []


def test_a_hundred_thousand_task_random_dag() -> None:
    """A random 100,000-task DAG runs every task exactly once, each after all its dependencies."""
    rng = random.Random(2024)
    deps: list[list[int]] = [[]]
    deps += [
        sorted({rng.randrange(node) for _ in range(rng.randint(0, 3))})
        for node in range(1, BIG_DAG)
    ]
    done = bytearray(BIG_DAG)
    runs = [0] * BIG_DAG
    early: list[int] = []

    def body(node: int) -> Callable[[], Coroutine[Any, Any, int]]:
        mine = deps[node]

        async def run_node() -> int:
            runs[node] += 1
            if not all(done[d] for d in mine):
                early.append(node)
            done[node] = 1
            return node

        return run_node

    orders: list[TaskOrder] = []
    for node in range(BIG_DAG):
        orders.append(TaskOrder(f"n{node}", [orders[d] for d in deps[node]]))
    listing = list(range(BIG_DAG))
    rng.shuffle(listing)  # the scheduler must not rely on a topological input order
    scheduler = DynamicScheduler(
        [(f"n{node}", body(node)) for node in listing], [orders[node] for node in listing]
    )
    report = run_in_new_loop(scheduler.execute)
    assert report.execution_state == "completed"
    assert report.successful_tasks == BIG_DAG
    assert early == []
    assert runs == [1] * BIG_DAG
    assert report.task_return_set["n99999"] == 99_999
