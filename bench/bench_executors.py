"""CPU-bound fan-out on each executor: N independent tasks of pure-Python work.

Threads share one GIL, so they run the tasks one after another; a process pool
and Dask worker processes run them on every core. The process pool and the
embedded Dask cluster are created for the run, so their start-up is part of
the time; "dask (running)" sends the same run to a cluster that is already up.

    python bench/bench_executors.py              # 8 tasks of 0.5 s each
    python bench/bench_executors.py --tasks 4 --seconds 0.25
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import time
from collections.abc import Callable
from typing import Any

from astrum import AstrumConfig, DaskExecutor, DynamicScheduler, TaskOrder

__all__ = ["main"]


def spin(rounds: int) -> int:
    """Pure-Python arithmetic that holds the GIL for the whole call."""
    total = 0
    for number in range(rounds):
        total = (total + number * number) % 1_000_003
    return total


def calibrate(seconds: float) -> int:
    """How many rounds of :func:`spin` take about ``seconds`` on one core here."""
    rounds = 100_000
    while True:
        began = time.perf_counter()
        spin(rounds)
        took = time.perf_counter() - began
        if took > 0.05:
            return max(1, int(rounds * seconds / took))
        rounds *= 4


async def fan_out(executor: Any, tasks: int, rounds: int) -> float:
    """Seconds one run of ``tasks`` independent spins takes on ``executor``."""
    body = functools.partial(spin, rounds)
    scheduler = DynamicScheduler(
        [(f"spin_{number}", body) for number in range(tasks)],
        [TaskOrder(f"spin_{number}") for number in range(tasks)],
        config=AstrumConfig(executor=executor),
    )
    began = time.perf_counter()
    report = await scheduler.execute()
    took = time.perf_counter() - began
    if report.execution_state != "completed":
        raise RuntimeError(f"The run on {executor!r} failed: {report.error_summary}")
    return took


async def measure(tasks: int, seconds: float) -> list[tuple[str, float]]:
    """Wall-clock seconds of the fan-out on each executor."""
    rounds = calibrate(seconds)
    results: list[tuple[str, float]] = []
    runs: list[tuple[str, Callable[[], Any]]] = [
        ("thread", lambda: "thread"),
        ("process", lambda: "process"),
        ("dask (embedded)", DaskExecutor),
    ]
    for name, make in runs:
        results.append((name, await fan_out(make(), tasks, rounds)))
    import distributed

    cluster: Any = await distributed.LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=os.cpu_count() or 1,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        asynchronous=True,
    )
    try:
        running = DaskExecutor(address=cluster.scheduler_address)
        await fan_out(running, tasks, rounds)  # warm the workers' imports once
        results.append(("dask (running)", await fan_out(running, tasks, rounds)))
    finally:
        await cluster.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=0.5, help="work per task on one core")
    options = parser.parse_args()
    results = asyncio.run(measure(options.tasks, options.seconds))
    serial = options.tasks * options.seconds
    baseline = results[0][1]
    print(
        f"{options.tasks} tasks x {options.seconds:g} s of pure-Python work "
        f"({serial:g} s serial) on {os.cpu_count()} cores"
    )
    print(f"{'executor':<16} {'seconds':>8} {'vs thread':>10}")
    for name, took in results:
        print(f"{name:<16} {took:>8.2f} {baseline / took:>9.2f}x")


if __name__ == "__main__":
    main()
