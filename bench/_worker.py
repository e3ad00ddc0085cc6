"""Measure one implementation on one workload, in this process; print JSON.

Run by the harness in a fresh subprocess (often another virtual environment)::

    python bench/_worker.py IMPL WORKLOAD SIZE REPEATS [--loop uvloop] [--memory]

Inputs are prepared once, untimed. Each repeat then times the build and the
run separately, in wall-clock and in process CPU time; ``--memory`` instead
does one build and run and reports how much the peak RSS grew past the RSS
with the inputs ready.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import inspect
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from workloads import make

__all__ = ["main"]


def current_rss() -> int:
    """Bytes resident now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """Bytes resident at the peak so far (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def finish(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


async def measure(impl: Any, workload_name: str, size: int, repeats: int, memory: bool) -> Any:
    workload = make(workload_name, size)
    prepared = impl.prepare(workload)
    if memory:
        gc.collect()
        before = current_rss()
        impl.check(workload, await finish(impl.run(impl.build(prepared))))
        return {"rss_growth": peak_rss() - before}
    samples: dict[str, list[float]] = {"build": [], "run": [], "build_cpu": [], "run_cpu": []}
    for _ in range(repeats):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        built = impl.build(prepared)
        built_wall, built_cpu = time.perf_counter(), time.process_time()
        result = await finish(impl.run(built))
        ran_wall, ran_cpu = time.perf_counter(), time.process_time()
        impl.check(workload, result)
        samples["build"].append(built_wall - wall)
        samples["build_cpu"].append(built_cpu - cpu)
        samples["run"].append(ran_wall - built_wall)
        samples["run_cpu"].append(ran_cpu - built_cpu)
        del built, result
    return samples


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    return asyncio.new_event_loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("impl")
    parser.add_argument("workload")
    parser.add_argument("size", type=int)
    parser.add_argument("repeats", type=int)
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()
    sys.setrecursionlimit(10_000)  # some peers recurse along long chains
    impl = importlib.import_module(f"impl_{args.impl}")
    with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
        samples = runner.run(measure(impl, args.workload, args.size, args.repeats, args.memory))
    print(json.dumps(samples))


if __name__ == "__main__":
    main()
