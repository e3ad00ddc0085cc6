"""Send CPU-bound sync tasks to Dask worker processes; Astrum still orchestrates here.

Needs the dask extra: pip install 'astrum[dask]'. The run starts a local
cluster (one worker process per core) and closes it when it ends; pass
DaskExecutor(address="tcp://scheduler:8786") to use a cluster that runs already.
"""

import asyncio
import functools

from astrum import AstrumConfig, DaskExecutor, SchedulerRegistry

flow = SchedulerRegistry("scale-out")


def count_primes(limit: int) -> int:
    """Pure-Python work that holds the GIL: threads would take turns, processes do not."""
    return sum(all(n % d for d in range(2, int(n**0.5) + 1)) for n in range(2, limit))


for part in range(4):
    flow.task(f"primes_{part}")(functools.partial(count_primes, 10_000 * (part + 1)))


@flow.task(depends_on=[f"primes_{part}" for part in range(4)])
async def summary() -> str:
    return "counted"


async def main() -> None:
    report = await flow.run(config=AstrumConfig(executor=DaskExecutor()))
    print(f"Run {report.execution_state} in {report.execution_duration:.2f} s")
    for stats in sorted(report.task_statistics, key=lambda s: s.task_name):
        result = report.task_return_set.get(stats.task_name)
        print(f"  {stats.task_name:<10} {result!s:<8} ran on {stats.worker or 'the loop'}")


# Worker processes are spawned and import this module: the guard keeps them
# from starting a run of their own.
if __name__ == "__main__":
    asyncio.run(main())
