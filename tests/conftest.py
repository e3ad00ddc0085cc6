"""Shared fixtures. Async tests run in asyncio debug mode (asyncio_debug in pyproject.toml)."""

from __future__ import annotations

import asyncio
import inspect
import os

os.environ.setdefault("PYTHONASYNCIODEBUG", "1")  # loops made by asyncio.run() in sync tests

from collections.abc import Iterator

import pytest

from astrum import SchedulerRegistry, clear_registry

# looptime's pytest hook asks the policy for "the" event loop before every test;
# if the session's first test is synchronous, that call would create a loop nobody
# closes (an "unclosed event loop" ResourceWarning, an error under filterwarnings).
# Marking the main thread's loop as explicitly unset makes that call raise instead,
# which looptime handles; pytest-asyncio sets the loop of each async test itself.
asyncio.get_event_loop_policy().set_event_loop(None)


@pytest.fixture
def registry(request: pytest.FixtureRequest) -> SchedulerRegistry:
    """A fresh registry private to the test."""
    return SchedulerRegistry(f"test:{request.node.name}")


@pytest.fixture(autouse=True)
def _clean_global_registries() -> Iterator[None]:
    """Tests that use the module-level @task leave no tasks behind."""
    yield
    clear_registry()


@pytest.fixture(autouse=True)
def _no_implicit_loop_for_sync_tests(request: pytest.FixtureRequest) -> None:
    """Sync tests get no implicit event loop.

    Otherwise looptime asks the policy for the current loop before each test,
    which creates one that nothing closes once the test calls asyncio.run().
    """
    if not inspect.iscoroutinefunction(request.function):
        asyncio.set_event_loop(None)
