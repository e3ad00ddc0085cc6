"""The cost around the work: registering, running a small workflow often, many runs at once, import.

Each measurement runs its ways side by side in this one process, interleaved
round by round, and reports medians (ratios are medians of per-round ratios):

- ``registration``: µs to register one task with ``@registry.task(...)``, for
  10,000 tasks of their own functions, plain (``depends_on``) and annotated
  (``Ref[int, F(...)]``).
- ``workflow``: one run of a 4-task workflow (two async fetches, a join, a
  tail) through ``await registry.run()`` and through a prebuilt
  ``scheduler.execute()``, against the same four steps written by hand with
  ``asyncio.create_task``; plus a breakdown of the per-run fixed cost.
- ``concurrent``: 1,000 concurrent runs of a 3-task workflow (two plain
  functions sleeping 10 ms, then an async join), wall time and the most
  threads alive, against the same written by hand with ``asyncio.to_thread``.
- ``startup``: ``python -c "import astrum"`` against ``import asyncio`` alone:
  wall time, modules imported, and which optional ones were.

Usage: ``.venv/bin/python bench/bench_often.py [registration|workflow|concurrent|startup]
[--json]``; ``make bench`` runs all four through bench/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import types
from collections.abc import Awaitable, Callable
from typing import Any

from astrum import AstrumConfig, F, Ref, SchedulerRegistry

__all__ = ["concurrent", "main", "registration", "startup", "workflow"]

OPTIONAL = ("rich", "dask", "distributed", "sqlite3", "pydantic", "multiprocessing")
"""Modules ``import astrum`` must not import: each is needed only by a feature in use."""


def _median_ratio(ours: list[float], theirs: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


# -- registration ----------------------------------------------------------------------


async def _noop() -> None:
    return None


async def _next(x: int) -> int:
    return x + 1


def _copy(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    assert isinstance(function, types.FunctionType)
    copy = types.FunctionType(function.__code__, function.__globals__, name)
    copy.__qualname__ = name
    return copy


def registration(tasks: int = 10_000, rounds: int = 5) -> dict[str, Any]:
    """µs per registered task, plain and annotated (medians of ``rounds``)."""
    found: dict[str, list[float]] = {"plain": [], "annotated": []}
    for round_ in range(rounds):
        plain = [(f"t{i}", _copy(_noop, f"f{i}"), [f"t{i - 1}"] if i else []) for i in range(tasks)]
        annotated: list[tuple[str, Callable[..., Any], list[str]]] = []
        for i in range(tasks):
            function = _copy(_next, f"f{i}")
            function.__annotations__ = {"x": Ref[int, F(f"t{i - 1}")], "return": int} if i else {}
            annotated.append((f"t{i}", function, []))
        for kind, batch in (("plain", plain), ("annotated", annotated)):
            registry = SchedulerRegistry(f"registration-{kind}-{round_}")
            gc.collect()
            began = time.process_time()
            for task_id, function, deps in batch:
                registry.task(task_id, depends_on=deps)(function)
            found[kind].append((time.process_time() - began) / tasks * 1e6)
    return {kind: statistics.median(values) for kind, values in found.items()}


# -- a small workflow, run often -----------------------------------------------------


def _four_tasks() -> SchedulerRegistry:
    flow = SchedulerRegistry("bench-often-four")

    @flow.task()
    async def fetch_user() -> dict[str, str]:
        return {"name": "Ada"}

    @flow.task()
    async def fetch_orders() -> list[int]:
        return [3, 4]

    @flow.task()
    async def join(
        user: Ref[dict[str, str], F("fetch_user")], orders: Ref[list[int], F("fetch_orders")]
    ) -> str:
        return f"{user['name']}: {sum(orders)}"

    @flow.task()
    async def tail(line: Ref[str, F("join")]) -> str:
        return line.upper()

    return flow


async def _by_hand() -> dict[str, Any]:
    """The same four steps with asyncio.create_task, each started when its inputs are ready."""

    async def fetch_user() -> dict[str, str]:
        return {"name": "Ada"}

    async def fetch_orders() -> list[int]:
        return [3, 4]

    async def join(user: dict[str, str], orders: list[int]) -> str:
        return f"{user['name']}: {sum(orders)}"

    async def tail(line: str) -> str:
        return line.upper()

    user = asyncio.create_task(fetch_user())
    orders = asyncio.create_task(fetch_orders())
    results: dict[str, Any] = {"fetch_user": await user, "fetch_orders": await orders}
    results["join"] = await asyncio.create_task(
        join(results["fetch_user"], results["fetch_orders"])
    )
    results["tail"] = await asyncio.create_task(tail(results["join"]))
    return results


async def _per_run(run: Callable[[], Awaitable[Any]], runs: int) -> float:
    gc.collect()
    began = time.process_time()
    for _ in range(runs):
        await run()
    return (time.process_time() - began) / runs * 1e6


def workflow(runs: int = 300, rounds: int = 9) -> dict[str, Any]:
    """µs per run of the 4-task workflow, three ways, and the fixed cost per run split up."""
    flow = _four_tasks()
    scheduler = flow.build_scheduler()

    async def registry_run() -> Any:
        return await flow.run()

    async def execute() -> Any:
        return await scheduler.execute()

    async def build() -> Any:
        return flow.build_scheduler()

    async def measure() -> dict[str, list[float]]:
        assert (await flow.run()).task_return_set == await _by_hand()
        ways: dict[str, Callable[[], Awaitable[Any]]] = {
            "by hand": _by_hand,
            "registry.run()": registry_run,
            "scheduler.execute()": execute,
            "build_scheduler()": build,
        }
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(rounds):
            for name, way in ways.items():
                times[name].append(await _per_run(way, runs))
        return times

    times = asyncio.run(measure())
    base = times["by hand"]
    return {
        "us": {name: statistics.median(samples) for name, samples in times.items()},
        "ratio": {name: _median_ratio(samples, base) for name, samples in times.items()},
    }


# -- many concurrent runs ------------------------------------------------------------------


def concurrent(runs: int = 1_000, rounds: int = 3, pause: float = 0.01) -> dict[str, Any]:
    """Wall seconds and the most threads alive for ``runs`` concurrent runs, two ways."""
    peak = [0]

    def work() -> int:
        peak[0] = max(peak[0], threading.active_count())
        time.sleep(pause)
        return 1

    flow = SchedulerRegistry("bench-often-concurrent")
    flow.task("left")(work)
    flow.task("right")(work)

    @flow.task()
    async def join(a: Ref[int, F("left")], b: Ref[int, F("right")]) -> int:
        return a + b

    async def by_hand() -> int:
        left = asyncio.create_task(asyncio.to_thread(work))
        right = asyncio.create_task(asyncio.to_thread(work))
        return await join(await left, await right)

    async def astrum_run(config: AstrumConfig | None) -> int:
        value: int = (await flow.run(config=config)).task_return_set["join"]
        return value

    wider = AstrumConfig(max_workers=40)
    ways: dict[str, Callable[[], Awaitable[int]]] = {
        "asyncio.to_thread by hand": by_hand,
        "astrum, shared pool": lambda: astrum_run(None),
        "astrum, shared pool, max_workers=40": lambda: astrum_run(wider),
        "astrum, thread_pool='per_run'": lambda: astrum_run(AstrumConfig(thread_pool="per_run")),
    }
    found: dict[str, dict[str, list[float]]] = {name: {"wall": [], "threads": []} for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():

            async def many(way: Callable[[], Awaitable[int]] = way) -> list[int]:
                return await asyncio.gather(*(way() for _ in range(runs)))

            peak[0] = 0
            before = threading.active_count()
            began = time.perf_counter()
            assert asyncio.run(many()) == [2] * runs
            found[name]["wall"].append(time.perf_counter() - began)
            found[name]["threads"].append(peak[0] - before + 1)  # the main thread counts once
    return {
        name: {measure: statistics.median(values) for measure, values in samples.items()}
        for name, samples in found.items()
    }


# -- import time ---------------------------------------------------------------------------

_PROBE = (
    "import sys, time; began = time.perf_counter(); import {module}; "
    "spent = time.perf_counter() - began; import json; "
    "print(json.dumps([spent, len(sys.modules), [m for m in {optional!r} if m in sys.modules]]))"
)

# Importing, then running one one-task workflow: what a process pays before its first
# result, modules imported on first use included.
_FIRST_RUN = {
    "asyncio": (
        "import time; began = time.perf_counter(); import asyncio\n"
        "async def one() -> int: return 1\n"
        "asyncio.run(one()); print(time.perf_counter() - began)"
    ),
    "astrum": (
        "import time; began = time.perf_counter(); import asyncio, astrum\n"
        "flow = astrum.SchedulerRegistry('first')\n"
        "@flow.task()\nasync def one() -> int: return 1\n"
        "asyncio.run(flow.run()); print(time.perf_counter() - began)"
    ),
}


def startup(rounds: int = 15) -> dict[str, Any]:
    """``python -c "import X"``: process wall time, import time, module count, optional ones;
    and the time from the import to the first result of a one-task workflow.

    With bytecode caches, as an installed package has them: a first untimed import
    writes them even where ``PYTHONDONTWRITEBYTECODE`` is set (then every import
    would compile astrum's sources, and not the standard library's, which has them).
    """
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    for module in ("asyncio", "astrum"):
        subprocess.run([sys.executable, "-c", f"import {module}"], env=env, check=True)
    found: dict[str, dict[str, list[Any]]] = {}
    for _ in range(rounds):
        for module in ("asyncio", "astrum"):
            code = _PROBE.format(module=module, optional=OPTIONAL)
            began = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
            )
            wall = time.perf_counter() - began
            spent, modules, optional = json.loads(done.stdout)
            entry = found.setdefault(
                module, {"wall": [], "import": [], "modules": [], "optional": []}
            )
            entry["wall"].append(wall)
            entry["import"].append(spent)
            entry["modules"].append(modules)
            entry["optional"] = optional
            done = subprocess.run(
                [sys.executable, "-c", _FIRST_RUN[module]],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            entry.setdefault("first_run", []).append(float(done.stdout))
    return {
        module: {
            "wall_ms": statistics.median(entry["wall"]) * 1e3,
            "import_ms": statistics.median(entry["import"]) * 1e3,
            "first_run_ms": statistics.median(entry["first_run"]) * 1e3,
            "modules": statistics.median(entry["modules"]),
            "optional": entry["optional"],
        }
        for module, entry in found.items()
    }


MEASURES: dict[str, Callable[[], dict[str, Any]]] = {
    "registration": registration,
    "workflow": workflow,
    "concurrent": concurrent,
    "startup": startup,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("measure", nargs="?", choices=list(MEASURES))
    parser.add_argument("--json", action="store_true", help="one line of JSON, for run_all.py")
    args = parser.parse_args()
    names = [args.measure] if args.measure else list(MEASURES)
    results = {name: MEASURES[name]() for name in names}
    if args.json:
        print(json.dumps(results))
    else:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
