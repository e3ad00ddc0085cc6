"""The run timeline as Chrome / Perfetto trace-event JSON."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from astrum import AstrumConfig, ExecutionReport, SchedulerRegistry
from astrum._views._trace import assign_lanes, trace_events
from sample_workflows import completed_report, failed_report
from strategies import spans

REQUIRED = {
    "X": {"name", "ph", "ts", "dur", "pid", "tid"},
    "i": {"name", "ph", "ts", "pid", "tid", "s"},
}


def check_format(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """Assert the trace-event format's required keys and proper nesting; return the slices."""
    events = trace["traceEvents"]
    for event in events:
        assert event["ph"] in {"X", "i", "M"}
        if event["ph"] == "M":
            assert {"name", "ph", "pid", "tid", "args"} <= event.keys()
        else:
            assert REQUIRED[event["ph"]] <= event.keys(), event
            assert event["ts"] >= 0
    slices = [event for event in events if event["ph"] == "X"]
    for tid in {event["tid"] for event in slices}:
        # On one track, slices must be disjoint or nested: a stack of open slices.
        track = sorted((e for e in slices if e["tid"] == tid), key=lambda e: (e["ts"], -e["dur"]))
        open_ends: list[float] = []
        for event in track:
            assert event["dur"] >= 0
            while open_ends and open_ends[-1] <= event["ts"] + 1e-6:
                open_ends.pop()
            if open_ends:
                assert event["ts"] + event["dur"] <= open_ends[-1] + 1e-6, f"{event} overlaps"
            open_ends.append(event["ts"] + event["dur"])
    return slices


@pytest.mark.looptime
async def test_trace_of_a_run_has_a_slot_per_concurrent_task_and_a_slice_per_attempt(
    registry: SchedulerRegistry, tmp_path: Path
) -> None:
    """Concurrent tasks go on separate slots; a retried task nests one slice per attempt."""
    calls: list[int] = []

    @registry.task()
    async def short() -> None:
        await asyncio.sleep(1)

    @registry.task(retry=1, retry_delay=0.5)
    async def flaky() -> None:
        calls.append(1)
        await asyncio.sleep(1)
        if len(calls) == 1:
            raise ConnectionError("reset by peer")

    @registry.task(depends_on=["short"])
    async def follow() -> None:
        await asyncio.sleep(1)

    @registry.task()
    async def broken() -> None:
        await asyncio.sleep(3)
        raise ValueError("bad input")

    @registry.task(depends_on=["broken"])
    async def never() -> None:
        return None

    report = await registry.run(config=AstrumConfig(on_failure="continue"))
    path = report.to_chrome_trace(tmp_path / "run.json")
    trace = json.loads(path.read_text(encoding="utf-8"))
    slices = check_format(trace)

    by_name = {event["name"]: event for event in slices}
    # short [0, 1] and follow [1, 2] share a slot; flaky [0, 2.5] and broken [0, 3] get their own.
    assert by_name["short"]["tid"] == by_name["follow"]["tid"]
    assert len({by_name[name]["tid"] for name in ("short", "flaky", "broken")}) == 3
    assert by_name["follow"]["ts"] == pytest.approx(1e6, abs=1)
    assert by_name["flaky"]["dur"] == pytest.approx(2.5e6, abs=1)
    first, second = by_name["flaky #1"], by_name["flaky #2"]
    assert first["tid"] == second["tid"] == by_name["flaky"]["tid"]
    assert first["args"] == {
        "task": "flaky",
        "attempt": 1,
        "status": "failed",
        "error": "reset by peer",
        "will_retry": True,
    }
    assert second["ts"] == pytest.approx(1.5e6, abs=1)
    assert second["args"]["status"] == "completed"
    assert by_name["broken #1"]["args"]["error"] == "bad input"
    assert by_name["broken"]["args"]["status"] == "failed"
    run = next(event for event in slices if event["cat"] == "run")
    assert run["tid"] == 0
    assert run["args"]["state"] == "failed"
    marks = [event for event in trace["traceEvents"] if event["ph"] == "i"]
    assert [mark["name"] for mark in marks] == ["never skipped"]
    names = {
        event["tid"]: event["args"]["name"]
        for event in trace["traceEvents"]
        if event["name"] == "thread_name"
    }
    assert names == {0: "run", 1: "slot 1", 2: "slot 2", 3: "slot 3"}


def test_trace_of_a_hand_made_report_has_exact_times() -> None:
    """Times are microseconds from the start of the run; a task slice holds its attempts."""
    trace = trace_events(completed_report())
    slices = check_format(trace)
    score = [event for event in slices if event["name"].startswith("score")]
    assert [(e["name"], e["ts"], e["dur"]) for e in score] == [
        ("score", pytest.approx(100_000, abs=1), pytest.approx(150_000, abs=1)),
        ("score #1", pytest.approx(100_000, abs=1), pytest.approx(50_000, abs=1)),
        ("score #2", pytest.approx(150_000, abs=1), pytest.approx(100_000, abs=1)),
    ]
    assert trace["otherData"] == {
        "run_id": "0123456789abcdef",
        "state": "completed",
        "planning_ms": 0.0,
    }


def test_cancelled_and_failed_tasks_carry_their_status() -> None:
    """Cancelled and failed tasks are slices whose args say so, with the error."""
    slices = check_format(trace_events(failed_report()))
    statuses = {
        e["name"]: (e["args"]["status"], e["args"]["error"]) for e in slices if e["cat"] == "task"
    }
    assert statuses == {
        "load": ("completed", None),
        "users": ("completed", None),
        "score": ("cancelled", None),
        "clean": ("failed", "bad rows"),
    }


def test_an_empty_report_gives_a_loadable_trace() -> None:
    """A run with no tasks still writes valid JSON with its run slice."""
    report = ExecutionReport(0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0, 0, [], [], "completed")
    trace = trace_events(report)
    check_format(trace)
    assert [e["cat"] for e in trace["traceEvents"] if e["ph"] == "X"] == ["run"]


def conflict(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two spans share a moment: [start, end), or the instant itself when zero-length."""
    if a[0] == a[1] and b[0] == b[1]:
        return a[0] == b[0]
    if a[0] == a[1]:
        return b[0] <= a[0] < b[1]
    if b[0] == b[1]:
        return a[0] <= b[0] < a[1]
    return a[0] < b[1] and b[0] < a[1]


@settings(max_examples=60, deadline=None)
@given(spans())
def test_lanes_never_overlap_and_are_as_few_as_possible(items: list[tuple[float, float]]) -> None:
    """Greedy lanes: spans in one lane never overlap, and no more lanes than spans ever overlap."""
    lanes = assign_lanes(items)
    for i, a in enumerate(items):
        for j, b in enumerate(items[:i]):
            assert lanes[i] != lanes[j] or not conflict(a, b), (a, b)

    def coverage(point: float) -> int:
        return sum(s <= point < e or s == e == point for s, e in items)

    deepest = max((coverage(start) for start, _ in items), default=0)
    assert max(lanes, default=-1) + 1 == deepest
