"""Shortcuts taken on the build and run hot paths give the same answers as the general code."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

from astrum import AstrumConfig, SchedulerRegistry
from astrum._plan import DEFAULT_OPTIONS, TaskSpec, is_async_callable


async def _coroutine_function() -> None:
    return None


def _plain_function() -> None:
    return None


class _AsyncCallable:
    async def __call__(self) -> None:
        return None


class _Methods:
    async def run(self) -> None:
        return None

    def plain(self) -> None:
        return None


@pytest.mark.parametrize(
    "function",
    [
        _coroutine_function,
        _plain_function,
        functools.partial(_coroutine_function),
        functools.partial(_plain_function),
        _AsyncCallable(),
        _Methods().run,
        _Methods().plain,
        lambda: None,
    ],
)
def test_is_async_callable_agrees_with_inspect(function: Any) -> None:
    """Plain functions, partials, bound methods and callables are classified as before."""
    expected = (
        inspect.iscoroutinefunction(function)
        or inspect.iscoroutinefunction(getattr(function, "func", None))
        or inspect.iscoroutinefunction(type(function).__call__)
    )
    assert is_async_callable(function) is expected


def test_task_spec_is_immutable() -> None:
    """A plan's task specs cannot be changed after the build."""
    spec = TaskSpec(task_id="a", function=_plain_function, is_async=False)
    with pytest.raises(AttributeError):
        spec.retry = 3  # type: ignore[misc]
    assert spec.options is DEFAULT_OPTIONS


async def test_registry_shares_default_options_and_keeps_others(
    registry: SchedulerRegistry,
) -> None:
    """Tasks without options share the defaults; a task with options keeps its own."""

    @registry.task()
    async def plain() -> None:
        return None

    @registry.task(timeout=5, tags=["db"])
    async def tuned() -> None:
        return None

    specs = {
        spec.task_id: spec
        for spec in registry.build_scheduler(config=AstrumConfig(pools={"db": 1})).plan.specs
    }
    assert specs["plain"].options is DEFAULT_OPTIONS
    assert specs["tuned"].options.timeout == 5
    assert specs["tuned"].options.tags == ("db",)
