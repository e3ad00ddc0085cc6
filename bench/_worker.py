"""Measure one implementation on one workload, in this process; print JSON.

Run by the harness in a fresh subprocess (often another virtual environment)::

    python bench/_worker.py IMPL[,IMPL...] WORKLOAD SIZE REPEATS [--loop uvloop] [--memory]

Inputs are prepared once, untimed, and each implementation first builds and
runs a 10-task version of the workload, untimed: what a process pays once
(modules an implementation imports on first use, first-call caches) is not a
per-task cost (``bench_often.py`` measures import and a first run apart).
Each repeat then times the build and the run separately, in wall-clock and in
process CPU time. Several implementations (comma-separated) alternate repeat
by repeat in this one process and the JSON maps each to its samples, so that
ratios can pair them. ``--memory`` instead
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


async def warm_up(impl: Any, workload_name: str, size: int) -> None:
    """One untimed build and run of a 10-task version of the workload (sized ones only)."""
    if size:
        small = make(workload_name, min(size, 10))
        impl.check(small, await finish(impl.run(impl.build(impl.prepare(small)))))


async def measure(impl: Any, workload_name: str, size: int, repeats: int, memory: bool) -> Any:
    workload = make(workload_name, size)
    prepared = impl.prepare(workload)
    await warm_up(impl, workload_name, size)
    if memory:
        gc.collect()
        before = current_rss()
        impl.check(workload, await finish(impl.run(impl.build(prepared))))
        return {"rss_growth": peak_rss() - before}
    samples: dict[str, list[float]] = {"build": [], "run": [], "build_cpu": [], "run_cpu": []}
    for _ in range(repeats):
        await repeat(impl, workload, prepared, samples)
    return samples


async def measure_paired(
    impls: dict[str, Any], workload_name: str, size: int, repeats: int
) -> dict[str, dict[str, list[float]]]:
    """Samples per implementation, repeats alternating between them in this one process.

    Each round runs every implementation once, in an order that rotates between
    rounds, so that a spell of load or a warm cache falls on all of them alike;
    sample ``i`` of one implementation pairs with sample ``i`` of another.
    """
    workload = make(workload_name, size)
    prepared = {name: impl.prepare(workload) for name, impl in impls.items()}
    for impl in impls.values():
        await warm_up(impl, workload_name, size)
    samples: dict[str, dict[str, list[float]]] = {
        name: {"build": [], "run": [], "build_cpu": [], "run_cpu": []} for name in impls
    }
    names = list(impls)
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            await repeat(impls[name], workload, prepared[name], samples[name])
    return samples


async def repeat(impl: Any, workload: Any, prepared: Any, samples: dict[str, list[float]]) -> None:
    """One timed build and run of ``impl``, its times appended to ``samples``."""
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
    names = args.impl.split(",")
    impls = {name: importlib.import_module(f"impl_{name}") for name in names}
    with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
        if len(names) > 1:
            samples = runner.run(measure_paired(impls, args.workload, args.size, args.repeats))
        else:
            impl = impls[names[0]]
            samples = runner.run(measure(impl, args.workload, args.size, args.repeats, args.memory))
    print(json.dumps(samples))


if __name__ == "__main__":
    main()
