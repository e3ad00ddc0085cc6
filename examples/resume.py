"""A nightly ETL whose upload fails once: resuming re-runs only the upload.

The first run records every finished task in a SQLite file; the upload fails
(the "server" is down). The resumed run takes the expensive extract and
transform results from the file and runs only what did not finish.
``embed`` is also ``cache=True``: a later, fresh run with the same code and
input reuses it without resuming anything.

Run it with ``python examples/resume.py``.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from astrum import AstrumConfig, SchedulerRegistry, SqliteStore

flow = SchedulerRegistry("nightly-etl")
server = {"up": False}  # the upload target; down during the first run


@flow.task()
def extract() -> list[str]:
    time.sleep(0.3)  # a slow query
    return ["ada lovelace", "grace hopper", "alan turing"]


@flow.task(depends_on=["extract"])
def transform() -> list[str]:
    time.sleep(0.3)
    return [name.title() for name in ["ada lovelace", "grace hopper", "alan turing"]]


@flow.task(depends_on=["transform"], cache=True)
async def embed() -> list[float]:
    await asyncio.sleep(0.2)  # an expensive model call
    return [0.12, 0.57, 0.91]


@flow.task(depends_on=["embed"])
async def upload() -> str:
    if not server["up"]:
        raise ConnectionError("upload server unavailable")
    return "uploaded 3 rows"


def show(title: str, statuses: dict[str, str], seconds: float) -> None:
    print(f"{title} ({seconds:.2f} s):")
    for task, status in statuses.items():
        print(f"  {task:<10} {status}")


async def main() -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        SqliteStore(Path(directory) / "nightly.db") as store,
    ):
        config = AstrumConfig(store=store)

        first = await flow.run(config=config)
        show(
            f"First run: {first.execution_state}",
            {s.task_name: s.status for s in first.task_statistics},
            first.execution_duration,
        )
        print(f"  error: {first.error_summary[0]}\n")

        server["up"] = True  # fixed; now resume instead of starting over
        resumed = await flow.run(config=config, resume=first)
        show(
            f"Resumed run {resumed.run_id[:8]}: {resumed.execution_state}",
            {s.task_name: s.status for s in resumed.task_statistics},
            resumed.execution_duration,
        )
        print(f"  result: {resumed.task_return_set['upload']}")
        assert resumed.execution_state == "completed"
        assert resumed.statistics_for("extract").status == "cached"
        assert resumed.statistics_for("upload").status == "completed"
        assert resumed.execution_duration < first.execution_duration


if __name__ == "__main__":
    asyncio.run(main())
