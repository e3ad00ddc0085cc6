"""A small nightly-report workflow: two fetches and a blocking load run side by side.

Run it with ``make demo`` (or ``python examples/quickstart.py``).
"""

from __future__ import annotations

import asyncio
import time

from astrum import SchedulerRegistry

flow = SchedulerRegistry("quickstart")


@flow.task()
async def fetch_users() -> list[str]:
    await asyncio.sleep(0.3)  # stands in for an HTTP call
    return ["ada", "grace", "linus"]


@flow.task()
async def fetch_orders() -> list[int]:
    await asyncio.sleep(0.2)
    return [120, 80, 45, 300]


@flow.task(retry=2)
def load_exchange_rates() -> dict[str, float]:
    time.sleep(0.25)  # a blocking client: runs in a thread, the loop stays free
    return {"EUR": 1.0, "USD": 1.08}


@flow.task(depends_on=["fetch_users", "fetch_orders", "load_exchange_rates"])
async def build_report() -> str:
    await asyncio.sleep(0.1)
    return "report.pdf"


@flow.task(depends_on=["build_report"])
async def notify() -> str:
    await asyncio.sleep(0.05)
    return "sent"


async def main() -> None:
    report = await flow.run()
    print(f"Run {report.execution_state} in {report.execution_duration:.2f} s")
    print("(the three first tasks overlap: critical path 0.30 + 0.10 + 0.05 = 0.45 s)\n")
    for stats in sorted(report.task_statistics, key=lambda s: s.start_time):
        offset = stats.start_time - report.task_statistics[0].start_time
        print(f"  {stats.task_name:<20} {stats.status:<10} +{offset:.2f} s  {stats.duration:.2f} s")
    print(f"\nResults: {report.task_return_set}")


if __name__ == "__main__":
    asyncio.run(main())
