"""What resource pools cost: the same 10,000-task run with and without a pool.

Every task is a no-op coroutine tagged "db"; the pooled run gives the tag a
pool large enough that no task ever waits, so the difference is the pools'
own bookkeeping. Both variants alternate in one process; figures are medians
of process CPU time per task. The issue's target: at most 1.2x.

Usage: ``.venv/bin/python bench/bench_pools.py [--size 10000] [--repeats 7]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from astrum import AstrumConfig, DynamicScheduler, SchedulerRegistry

__all__ = ["main"]


def _scheduler(size: int, *, pools: bool, limit: int | None) -> DynamicScheduler:
    registry = SchedulerRegistry(f"pools-{pools}")

    async def noop() -> None:
        return None

    for i in range(size):
        registry.task(f"t{i}", tags=("db",))(noop)
    config = AstrumConfig(pools={"db": size} if pools else {}, concurrency_limit=limit)
    return registry.build_scheduler(config=config)


def _run_cpu(scheduler: DynamicScheduler) -> float:
    async def once() -> float:
        began = time.process_time()
        await scheduler.execute()
        return time.process_time() - began

    return asyncio.run(once())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print("| variant | µs/task (median) | x without pools |")
    print("| --- | ---: | ---: |")
    # Pools share the gated path with the global limit, so compare like with like too.
    for limit in (None, args.size):
        plain = _scheduler(args.size, pools=False, limit=limit)
        pooled = _scheduler(args.size, pools=True, limit=limit)
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):
            times[False].append(_run_cpu(plain))
            times[True].append(_run_cpu(pooled))
        base = statistics.median(times[False]) / args.size * 1e6
        with_pools = statistics.median(times[True]) / args.size * 1e6
        label = "" if limit is None else f", concurrency_limit={limit:,}"
        print(f"| no pools{label} | {base:.1f} | 1.00 |")
        print(f"| pools{label} | {with_pools:.1f} | {with_pools / base:.2f} |")


if __name__ == "__main__":
    main()
