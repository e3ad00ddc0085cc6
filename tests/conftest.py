"""Shared fixtures. Async tests run in asyncio debug mode (set before any loop exists)."""

from __future__ import annotations

import os

os.environ.setdefault("PYTHONASYNCIODEBUG", "1")

from collections.abc import Iterator

import pytest

from astrum import SchedulerRegistry, clear_registry


@pytest.fixture
def registry(request: pytest.FixtureRequest) -> SchedulerRegistry:
    """A fresh registry private to the test."""
    return SchedulerRegistry(f"test:{request.node.name}")


@pytest.fixture(autouse=True)
def _clean_global_registries() -> Iterator[None]:
    """Tests that use the module-level @task leave no tasks behind."""
    yield
    clear_registry()
