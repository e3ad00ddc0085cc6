"""What caching and resume cost, and what they save.

1. Resume: a 1,000-task workflow (10 levels of 100 tasks, each taking its
   upstream values and doing ~1 ms of CPU work) whose last task fails. The
   first run records every result in a SqliteStore; resuming re-runs only the
   last task and takes the other 999 from the store.
2. Hit cost: 1,000 independent ``cache=True`` tasks that all hit, against the
   same tasks uncached; the difference per task is what a hit costs (key,
   lookup, unpickle) on top of the run's own per-task work. Also each part of
   a hit alone.

Usage: ``.venv/bin/python bench/bench_cache.py [--tasks 1000] [--work-ms 1.0] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from astrum import AstrumConfig, CachePolicy, DynamicScheduler, MemoryStore, SqliteStore, TaskOrder
from astrum._build._plan import Binding, TaskOptions
from astrum._store._keys import KeyMaker
from astrum.cache import CacheStore

__all__ = ["main"]

WIDTH = 100


def _spin(seconds: float) -> int:
    """CPU work for about ``seconds`` (a stand-in for parsing, scoring, transforming)."""
    end = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < end:
        count += 1
    return count


def _layered(tasks: int, work: float, broken: set[str], store: CacheStore | None) -> Any:
    """``tasks - 1`` tasks in levels of WIDTH, each fed by two of the level above, plus a sink."""
    ids = [f"t{i}" for i in range(tasks - 1)]
    orders = {task: TaskOrder(task) for task in [*ids, "sink"]}
    bindings: dict[str, list[Binding]] = {}
    for index, task in enumerate(ids):
        if index >= WIDTH:
            level_start = (index // WIDTH - 1) * WIDTH
            sources = {f"t{level_start + index % WIDTH}", f"t{level_start + (index + 1) % WIDTH}"}
            orders[task].dependencies = [orders[source] for source in sorted(sources)]
            bindings[task] = [
                Binding(f"p{n}", source_id=source, positional=True)
                for n, source in enumerate(sorted(sources))
            ]
    last_level = ids[-min(WIDTH, len(ids)) :]
    orders["sink"].dependencies = [orders[task] for task in last_level]

    def make(task: str, number: int) -> Callable[..., Any]:
        def body(*inputs: int) -> int:
            _spin(work)
            if task in broken:
                raise RuntimeError(f"{task} failed")
            return (sum(inputs) + number) % 1_000_003

        return body

    functions = [(task, make(task, number)) for number, task in enumerate(ids)]
    functions.append(("sink", make("sink", len(ids))))
    return DynamicScheduler(
        functions,
        list(orders.values()),
        bindings=bindings,
        config=AstrumConfig(store=store),
    )


async def _resume_case(tasks: int, work: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        plain = _layered(tasks, work, {"sink"}, None)
        began = time.perf_counter()
        await plain.execute()
        plain_s = time.perf_counter() - began

        with SqliteStore(Path(directory) / "bench.db") as store:
            broken = {"sink"}
            scheduler = _layered(tasks, work, broken, store)
            began = time.perf_counter()
            first = await scheduler.execute()
            first_s = time.perf_counter() - began
            assert first.execution_state == "failed"
            broken.clear()
            began = time.perf_counter()
            resumed = await scheduler.execute(resume=first)
            resume_s = time.perf_counter() - began
            assert resumed.execution_state == "completed", resumed.error_summary[:3]
            assert sum(s.status == "cached" for s in resumed.task_statistics) == tasks - 1
    return {"plain": plain_s, "first": first_s, "resume": resume_s}


def _independent(tasks: int, store: CacheStore | None) -> DynamicScheduler:
    def make(index: int) -> Callable[[], Awaitable[int]]:
        async def body() -> int:
            return index

        return body

    ids = [f"c{i}" for i in range(tasks)]
    options = {task: TaskOptions(cache=CachePolicy()) for task in ids} if store else None
    return DynamicScheduler(
        [(task, make(i)) for i, task in enumerate(ids)],
        [TaskOrder(task) for task in ids],
        task_options=options,
        config=AstrumConfig(store=store, executor="inline"),
    )


async def _cpu_of(scheduler: DynamicScheduler) -> float:
    began = time.process_time()
    report = await scheduler.execute()
    assert report.execution_state == "completed"
    return time.process_time() - began


async def _hit_cost(tasks: int, repeats: int) -> dict[str, float]:
    """Microseconds per task: uncached run, all-hit runs, and the difference."""
    result: dict[str, float] = {}
    baseline = _independent(tasks, None)
    await baseline.execute()  # warm up imports and caches
    plain = [await _cpu_of(baseline) for _ in range(repeats)]
    result["uncached"] = min(plain) / tasks * 1e6
    with tempfile.TemporaryDirectory() as directory:
        for name, store in (
            ("memory", MemoryStore()),
            ("sqlite", SqliteStore(Path(directory) / "hits.db")),
        ):
            cached = _independent(tasks, store)
            await cached.execute()  # fill the store
            hits = [await _cpu_of(cached) for _ in range(repeats)]
            result[name] = min(hits) / tasks * 1e6
            if isinstance(store, SqliteStore):
                store.close()
    return result


async def _parts(repeats: int) -> dict[str, float]:
    """CPU microseconds for each step of a hit, measured alone on a small value."""

    async def task() -> int:
        return 1

    keys = KeyMaker()
    keys.task_key("t", task, (), {})
    count = 20_000

    def per_call(step: Callable[[], object]) -> float:
        samples = []
        for _ in range(repeats):
            # CPU time, like the runs above: on a shared machine wall time counts other work.
            began = time.process_time()
            for _ in range(count):
                step()
            samples.append((time.process_time() - began) / count * 1e6)
        return min(samples)

    payload = pickle.dumps({"rows": list(range(10))})
    parts = {
        "key (no arguments)": per_call(lambda: keys.task_key("t", task, (), {})),
        "key (3 small arguments)": per_call(
            lambda: keys.task_key("t", task, (1, "abc"), {"rows": [1, 2, 3]})
        ),
        "unpickle a small dict": per_call(lambda: pickle.loads(payload)),
    }
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(Path(directory) / "parts.db")
        await store.put("k", payload)

        def get() -> object:
            coroutine = store.get("k")
            try:
                coroutine.send(None)
            except StopIteration as done:  # the sqlite read finishes without suspending
                return done.value
            raise AssertionError("SqliteStore.get suspended")

        parts["SqliteStore.get (small entry)"] = per_call(get)
        store.close()
    return parts


async def _main(tasks: int, work: float, repeats: int) -> None:
    print(f"## Resume: {tasks:,} tasks of ~{work * 1e3:g} ms CPU each, the last one fails\n")
    runs = [await _resume_case(tasks, work) for _ in range(max(1, repeats // 2))]
    plain = statistics.median(r["plain"] for r in runs)
    first = statistics.median(r["first"] for r in runs)
    resume = statistics.median(r["resume"] for r in runs)
    print("| run | seconds | vs first run |")
    print("| --- | ---: | ---: |")
    print(f"| first run, no store | {plain:.3f} | {plain / first:.2f} |")
    print(f"| first run, recording into SqliteStore | {first:.3f} | 1.00 |")
    print(f"| resume (999 restored, 1 re-run) | {resume:.3f} | {resume / first:.3f} |")

    print(f"\n## Cost of a hit: {tasks:,} independent no-op tasks, CPU µs per task", end="")
    print(f" (best of {repeats})\n")
    hits = await _hit_cost(tasks, repeats)
    print("| run | µs per task | hit cost (vs uncached) |")
    print("| --- | ---: | ---: |")
    print(f"| uncached | {hits['uncached']:.1f} | - |")
    for name in ("memory", "sqlite"):
        extra = hits[name] - hits["uncached"]
        print(f"| all hits, {name} store | {hits[name]:.1f} | {extra:+.1f} |")

    print(f"\n## The parts of a hit, alone (CPU µs, best of {repeats})\n")
    print("| step | µs |")
    print("| --- | ---: |")
    for step, micros in (await _parts(repeats)).items():
        print(f"| {step} | {micros:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1_000)
    parser.add_argument("--work-ms", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(_main(args.tasks, args.work_ms / 1e3, args.repeats))


if __name__ == "__main__":
    main()
