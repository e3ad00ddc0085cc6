"""What ``report.to_html()`` costs: Python time and page size for 10, 2,000 and 100,000 tasks.

Each workload is a binary tree of no-op tasks (task ``i`` waits for task
``i // 2``), one in five of them failing under ``on_failure="continue"`` so
errors, tracebacks and skips are part of the page. The time is the median of
process CPU time of ``to_html()`` on a fresh report (so it includes building
the report's statistics, which a report does only when first read).

Usage: ``.venv/bin/python bench/bench_html.py [--sizes 10 2000 100000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from astrum import AstrumConfig, ExecutionReport, SchedulerRegistry

__all__ = ["main"]


def run_tree(size: int) -> ExecutionReport:
    """A run of ``size`` tasks in a binary tree; every fifth leaf-ward task fails."""
    flow = SchedulerRegistry(f"html-{size}")

    async def noop() -> None:
        return None

    async def broken() -> None:
        raise ValueError("this task fails on purpose")

    for index in range(size):
        body = broken if index % 5 == 4 else noop
        flow.task(f"task_{index}", depends_on=[f"task_{index // 2}"] if index else None)(body)
    return asyncio.run(flow.run(config=AstrumConfig(on_failure="continue")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 2_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="one JSON line, for make bench")
    args = parser.parse_args()
    if not args.json:
        print("| tasks | to_html() CPU time (median) | page size |")
        print("|------:|---------------------------:|----------:|")
    found: dict[str, dict[str, float]] = {}
    for size in args.sizes:
        times = []
        page = ""
        for _ in range(args.repeats):
            report = run_tree(size)
            began = time.process_time()
            page = report.to_html()
            times.append(time.process_time() - began)
        megabytes = len(page.encode()) / 1e6
        found[str(size)] = {"ms": statistics.median(times) * 1e3, "mb": megabytes}
        if not args.json:
            print(f"| {size:,} | {found[str(size)]['ms']:,.1f} ms | {megabytes:.2f} MB |")
    if args.json:
        print(json.dumps(found))


if __name__ == "__main__":
    main()
