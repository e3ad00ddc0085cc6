"""What OpenTelemetry tracing costs a run: CPU time per task with and without a provider.

Three settings, interleaved in one process and measured on the same workloads
(no-op async tasks, all independent, and a chain): no ``tracer_provider``
(nothing of OpenTelemetry is imported or called), the API's
``NoOpTracerProvider``, and the SDK's ``TracerProvider`` with no span
processor: every span is made, timed and then dropped, which is the floor of
what a real exporter costs. Figures are medians of process CPU time of
``execute()`` divided by the task count.

Usage: ``.venv/bin/python bench/bench_tracing.py [--tasks 2000] [--repeats 15]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NoOpTracerProvider

from astrum import AstrumConfig, DynamicScheduler, SchedulerRegistry

__all__ = ["main"]


async def noop() -> None:
    return None


def build(shape: str, count: int, provider: Any) -> DynamicScheduler:
    """``count`` no-op tasks, independent (``wide``) or each waiting for the one before."""
    flow = SchedulerRegistry(f"{shape}-{count}")
    for i in range(count):
        after = [f"t{i - 1}"] if shape == "chain" and i else None
        flow.task(f"t{i}", depends_on=after)(noop)
    return flow.build_scheduler(config=AstrumConfig(tracer_provider=provider))


def measure(scheduler: DynamicScheduler, count: int) -> float:
    """CPU µs per task of one run of ``scheduler``."""

    async def go() -> float:
        began = time.process_time()
        report = await scheduler.execute()
        spent = time.process_time() - began
        assert report.execution_state == "completed"
        return spent

    return asyncio.run(go()) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="one JSON line, for make bench")
    args = parser.parse_args()
    settings: dict[str, Any] = {
        "no provider": None,
        "NoOpTracerProvider": NoOpTracerProvider(),
        "SDK TracerProvider, spans dropped": TracerProvider(),
    }
    if not args.json:
        print(f"| workload | tasks | {' | '.join(settings)} |")
        print(f"|---|---:|{'---:|' * len(settings)}")
    found: dict[str, dict[str, float]] = {}
    for shape in ("wide", "chain"):
        schedulers = {name: build(shape, args.tasks, p) for name, p in settings.items()}
        results: dict[str, list[float]] = {name: [] for name in settings}
        for _ in range(args.repeats):
            for name, scheduler in schedulers.items():
                results[name].append(measure(scheduler, args.tasks))
        found[shape] = {name: statistics.median(times) for name, times in results.items()}
        if args.json:
            continue
        base = statistics.median(results["no provider"])
        cells = []
        for name in settings:
            value = statistics.median(results[name])
            cells.append(f"{value:.1f} µs ({value / base:.2f}x)")
        print(f"| {shape} | {args.tasks:,} | {' | '.join(cells)} |")
    if args.json:
        print(json.dumps(found))


if __name__ == "__main__":
    main()
