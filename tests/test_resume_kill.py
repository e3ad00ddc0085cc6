"""A process killed mid-run loses at most the tasks that were running."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

_WORKFLOW = """
import asyncio, json, sys
from pathlib import Path
from astrum import AstrumConfig, SchedulerRegistry, SqliteStore

store_path, log_path, ready_path, mode = sys.argv[1:5]
flow = SchedulerRegistry("killed")


def note(name):
    with open(log_path, "a") as log:
        log.write(name + "\\n")


for index in range(6):

    def part(index=index):
        note(f"part{index}")
        return {"part": index, "rows": list(range(index))}

    flow.task(f"part{index}")(part)


@flow.task(depends_on=[f"part{index}" for index in range(6)])
async def gate():
    note("gate")
    if mode == "hang":
        Path(ready_path).write_text("ready")
        await asyncio.sleep(120)  # killed here
    return "open"


@flow.task(depends_on=["gate"])
def final():
    note("final")
    return "done"


async def main():
    with SqliteStore(store_path) as store:
        config = AstrumConfig(store=store)
        if mode == "hang":
            await flow.run(config=config)
            return
        crashed = store.runs()[0].run_id
        report = await flow.run(config=config, resume=crashed)
    statuses = {s.task_name: str(s.status) for s in report.task_statistics}
    print(json.dumps({"statuses": statuses, "values": report.task_return_set}))


asyncio.run(main())
"""


def test_a_killed_run_resumes_with_the_right_results(tmp_path: Path) -> None:
    """SIGKILL while a task runs; resuming takes every finished task from the store."""
    script = tmp_path / "workflow.py"
    script.write_text(textwrap.dedent(_WORKFLOW))
    store, log, ready = tmp_path / "runs.db", tmp_path / "calls.log", tmp_path / "ready"
    paths = [str(store), str(log), str(ready)]
    doomed = subprocess.Popen([sys.executable, str(script), *paths, "hang"])
    try:
        deadline = time.monotonic() + 50
        while not ready.exists():
            assert doomed.poll() is None, "the workflow exited before it could be killed"
            assert time.monotonic() < deadline, "the workflow never reached its gate"
            time.sleep(0.05)
    finally:
        doomed.kill()  # SIGKILL: no cleanup, no flush, no atexit
        doomed.wait()
    resumed = subprocess.run(
        [sys.executable, str(script), *paths, "resume"],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads(resumed.stdout)
    parts = [f"part{index}" for index in range(6)]
    assert outcome["statuses"] == {
        **dict.fromkeys(parts, "cached"),
        "gate": "completed",
        "final": "completed",
    }
    assert outcome["values"] == {
        **{f"part{i}": {"part": i, "rows": list(range(i))} for i in range(6)},
        "gate": "open",
        "final": "done",
    }
    calls = log.read_text().split()
    assert sorted(calls) == sorted([*parts, "gate", "gate", "final"])
