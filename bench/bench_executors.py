"""CPU-bound fan-out on each executor: N independent tasks of pure-Python work.

Threads share one GIL, so they run the tasks one after another; a process pool
and Dask worker processes run them on every core. The process pool and the
embedded Dask cluster are created for the run, so their start-up is part of
the time; "dask (running)" sends the same run to a cluster that is already up.

The executors take turns, several rounds; the table shows the best and the
median wall-clock time of each, since other work on a shared machine only
ever makes a round slower. The work per task is calibrated in CPU time.

    python bench/bench_executors.py              # 8 tasks of 0.5 s each, 3 rounds
    python bench/bench_executors.py --tasks 4 --seconds 0.25 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
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
    """How many rounds of :func:`spin` take about ``seconds`` of CPU time here."""
    rounds = 100_000
    while True:
        began = time.process_time()
        spin(rounds)
        took = time.process_time() - began
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


async def measure(tasks: int, seconds: float, rounds: int) -> dict[str, list[float]]:
    """Wall-clock seconds of each round of the fan-out, per executor."""
    work = calibrate(seconds)
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
        await fan_out(running, tasks, work)  # the workers import what the tasks need once
        executors: list[tuple[str, Callable[[], Any]]] = [
            ("thread", lambda: "thread"),
            ("process", lambda: "process"),
            ("dask (embedded)", DaskExecutor),
            ("dask (running)", lambda: running),
        ]
        times: dict[str, list[float]] = {name: [] for name, _ in executors}
        for _ in range(rounds):
            for name, make in executors:
                times[name].append(await fan_out(make(), tasks, work))
    finally:
        await cluster.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=0.5, help="CPU time of one task")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    times = asyncio.run(measure(options.tasks, options.seconds, options.rounds))
    cores = os.cpu_count() or 1
    serial = options.tasks * options.seconds
    baseline = min(times["thread"])
    print(
        f"{options.tasks} tasks x {options.seconds:g} s of pure-Python work: {serial:g} s "
        f"serial, {serial / min(cores, options.tasks):g} s at best on {cores} cores; "
        f"{options.rounds} rounds"
    )
    print(f"{'executor':<16} {'best s':>7} {'median s':>9} {'best vs thread':>15}")
    for name, runs in times.items():
        best = min(runs)
        print(f"{name:<16} {best:>7.2f} {statistics.median(runs):>9.2f} {baseline / best:>14.2f}x")


if __name__ == "__main__":
    main()
