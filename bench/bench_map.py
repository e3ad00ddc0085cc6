"""What a mapped instance costs next to a plain task, and how fast streaming starts one.

- run cost: a 100,000-element map of no-op async instances against 100,000
  plain no-op async tasks (a wide graph), both built once and then run,
  alternating in one process; medians of process CPU time per task or
  instance. The issue's target: at most 1.5x.
- memory: one run of each in a fresh process, the peak RSS growth past the
  RSS with the scheduler built, per task or instance. Target: at most 2 KiB
  above a plain task.
- streaming: the wall-clock delay between an async generator's first yield
  and the start of the first instance. Target: at most 1 ms.

Usage: ``.venv/bin/python bench/bench_map.py [--size 100000] [--repeats 5] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator

from astrum import DynamicScheduler, Each, Ref, SchedulerRegistry

__all__ = ["main"]


def plain(size: int) -> DynamicScheduler:
    registry = SchedulerRegistry("plain")

    async def noop() -> None:
        return None

    for i in range(size):
        registry.task(f"t{i}")(noop)
    return registry.build_scheduler()


def mapped(size: int) -> DynamicScheduler:
    registry = SchedulerRegistry("map")

    @registry.task()
    async def source() -> list[int]:
        return list(range(size))

    @registry.task()
    async def noop(x: Ref[int, Each(source)]) -> None:
        return None

    return registry.build_scheduler()


async def cpu_per_item(scheduler: DynamicScheduler, size: int) -> float:
    gc.collect()
    began = time.process_time()
    report = await scheduler.execute()
    spent = time.process_time() - began
    assert report.execution_state == "completed", report.error_summary
    return spent / size * 1e6


async def run_cost(size: int, repeats: int) -> tuple[float, float]:
    schedulers = plain(size), mapped(size)
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for scheduler, found in zip(schedulers, samples, strict=True):
            found.append(await cpu_per_item(scheduler, size))
    return statistics.median(samples[0]), statistics.median(samples[1])


def memory(kind: str, size: int) -> float:
    """KiB of peak RSS growth per task (or instance) in one run, in a fresh process."""
    command = [sys.executable, __file__, "--memory-of", kind, "--size", str(size)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    growth: float = json.loads(done.stdout.splitlines()[-1])
    return growth


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _measure_memory(kind: str, size: int) -> None:
    scheduler = plain(size) if kind == "plain" else mapped(size)
    gc.collect()
    before = _rss()
    report = asyncio.run(scheduler.execute())
    assert report.execution_state == "completed"
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    print(json.dumps(growth / size / 1024))


async def _one_stream() -> float:
    registry = SchedulerRegistry("stream")
    marks: dict[str, float] = {}

    @registry.task()
    async def stream() -> AsyncIterator[int]:
        for i in range(3):
            await asyncio.sleep(0.001)
            marks.setdefault("yield", time.perf_counter())
            yield i

    @registry.task()
    async def handle(item: Ref[int, Each(stream)]) -> int:
        marks.setdefault("start", time.perf_counter())
        return item

    await registry.run()
    return marks["start"] - marks["yield"]


async def first_start_delay(rounds: int) -> float:
    """Median seconds between the first yield and the first instance's start."""
    return statistics.median([await _one_stream() for _ in range(rounds)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-of", choices=["plain", "map"])
    parser.add_argument("--json", action="store_true", help="one JSON line, for make bench")
    args = parser.parse_args()
    if args.memory_of:
        _measure_memory(args.memory_of, args.size)
        return
    plain_us, map_us = asyncio.run(run_cost(args.size, args.repeats))
    plain_kib, map_kib = memory("plain", args.size), memory("map", args.size)
    delay = asyncio.run(first_start_delay(21))
    if args.json:
        figures = {"plain_us": plain_us, "map_us": map_us, "plain_kib": plain_kib}
        print(json.dumps({**figures, "map_kib": map_kib, "delay_ms": delay * 1e3}))
        return
    print(f"| measure | {args.size:,} plain tasks | {args.size:,}-element map | ratio | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    print(
        f"| run only, CPU µs per task / instance | {plain_us:.1f} | {map_us:.1f} | "
        f"{map_us / plain_us:.2f}x | ≤ 1.5x |"
    )
    print(
        f"| peak RSS growth, KiB per task / instance | {plain_kib:.2f} | {map_kib:.2f} | "
        f"+{map_kib - plain_kib:.2f} KiB | ≤ +2 KiB |"
    )
    print(f"| first yield to first instance start, ms | | {delay * 1e3:.3f} | | ≤ 1 ms |")


if __name__ == "__main__":
    main()
