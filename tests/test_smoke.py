"""End-to-end smoke tests of the public entry points."""

from __future__ import annotations

import asyncio

import pytest

import astrum
from astrum import AstrumConfig, SchedulerRegistry, run, task


async def test_registry_runs_async_and_sync_tasks(registry: SchedulerRegistry) -> None:
    """A registry with an async and a dependent sync task completes both."""

    @registry.task()
    async def fetch() -> int:
        await asyncio.sleep(0)
        return 1

    @registry.task(depends_on=["fetch"])
    def publish() -> str:
        return "ok"

    report = await registry.run()
    assert report.execution_state == "completed"
    assert report.task_return_set == {"fetch": 1, "publish": "ok"}
    assert report.original_tasks == {"fetch": [], "publish": ["fetch"]}


async def test_module_level_task_uses_default_namespace() -> None:
    """Bare @task registers into the default namespace and run() finds it."""

    @task
    async def hello() -> str:
        return "hi"

    report = await run()
    assert report.task_return_set == {"hello": "hi"}


def test_run_sync_inside_loop_is_refused() -> None:
    """run_sync() inside a running loop says to await run() instead."""

    async def inner() -> None:
        astrum.run_sync()

    with pytest.raises(RuntimeError, match=r"await astrum\.run"):
        asyncio.run(inner())


def test_config_rejects_bad_limit() -> None:
    """A non-positive concurrency limit is refused with its value."""
    with pytest.raises(ValueError, match="concurrency_limit must be a positive integer"):
        AstrumConfig(concurrency_limit=0)
