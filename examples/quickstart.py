"""A small nightly-report workflow: two fetches and a blocking load run side by side.

Each task takes what it needs as parameters: ``Ref[list[int], F(fetch_orders)]``
means "the result of fetch_orders", and ``F(load_exchange_rates, "USD")`` picks
one key of it. Run it with ``make demo`` (or ``python examples/quickstart.py``).
"""

from __future__ import annotations

import asyncio
import time

from astrum import F, Ref, SchedulerRegistry

flow = SchedulerRegistry("quickstart")


@flow.task()
async def fetch_users() -> list[str]:
    await asyncio.sleep(0.3)  # stands in for an HTTP call
    return ["ada", "grace", "linus"]


@flow.task()
async def fetch_orders() -> list[float]:
    await asyncio.sleep(0.2)
    return [120.0, 80.0, 45.0, 300.0]


@flow.task(retry=2)
def load_exchange_rates() -> dict[str, float]:
    time.sleep(0.25)  # a blocking client: runs in a thread, the loop stays free
    return {"EUR": 1.0, "USD": 1.08}


@flow.task()
async def build_report(
    users: Ref[list[str], F(fetch_users)],
    orders: Ref[list[float], F(fetch_orders)],
    usd: Ref[float, F(load_exchange_rates, "USD")],
) -> str:
    await asyncio.sleep(0.1)
    return f"{len(users)} users, {len(orders)} orders, ${sum(orders) * usd:,.2f}"


@flow.task()
async def notify(report: Ref[str, F(build_report)]) -> str:
    await asyncio.sleep(0.05)
    return f"sent: {report}"


async def main() -> None:
    report = await flow.run()
    print(report.summary())
    print("\nWhen each task ran (the first three overlap):")
    first = min(stats.start_time for stats in report.task_statistics)
    for stats in sorted(report.task_statistics, key=lambda s: s.start_time):
        offset = stats.start_time - first
        print(f"  {stats.task_name:<20} +{offset:.2f} s  for {stats.duration:.2f} s")
    # The value of one task; had it failed, this would raise its own exception.
    print(f"\n{report.result('notify')}")


if __name__ == "__main__":
    asyncio.run(main())
