"""Shortcuts taken on the build and run hot paths give the same answers as the general code."""

from __future__ import annotations

import asyncio
import functools
import inspect
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _support import register_data_task
from astrum import AstrumConfig, F, Ref, SchedulerRegistry
from astrum._build._bindings import _bind, _bind_plain, _bindings
from astrum._build._declared import declared
from astrum._build._edges import Edge
from astrum._build._methods import parameters
from astrum._build._plan import DEFAULT_OPTIONS, Binding, TaskSpec, is_async_callable
from strategies import DataDag, data_dags


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


# -- relations read at registration, bindings of plain functions ----------------------------


def _plan_bindings(registry: SchedulerRegistry) -> dict[str, tuple[Binding, ...]]:
    plan = registry.build_scheduler().plan
    return {spec.task_id: spec.bindings for spec in plan.specs}


@settings(max_examples=40, deadline=None)
@given(dag=data_dags())
def test_relations_read_at_registration_match_those_read_at_build(dag: DataDag) -> None:
    """A registry builds the same bindings whether registration or the build read them."""
    registry = SchedulerRegistry(f"declared-{uuid.uuid4().hex}")
    for task in range(dag.size):
        register_data_task(registry, dag, task)
    read_at_registration = _plan_bindings(registry)
    for entry in registry.get_all_tasks().values():
        # An equal but new dict: registration's reading no longer applies, the build reads.
        entry.function.__annotations__ = dict(entry.function.__annotations__)
    assert _plan_bindings(registry) == read_at_registration


def test_annotations_replaced_after_registration_are_the_ones_used(
    registry: SchedulerRegistry,
) -> None:
    """Registration reads annotations early, but a build follows annotations replaced since."""

    @registry.task()
    async def first() -> int:
        return 1

    @registry.task()
    async def second() -> int:
        return 2

    @registry.task()
    async def total(x: Ref[int, F("first")]) -> int:
        return x

    total.__annotations__ = {"x": Ref[int, F("second")], "return": int}
    assert asyncio.run(registry.run()).task_return_set["total"] == 2


_TARGETS = st.one_of(
    st.none(), st.integers(min_value=-1, max_value=4), st.sampled_from(["p0", "p1", "p2", "q"])
)


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(min_value=0, max_value=3),
    defaults=st.integers(min_value=0, max_value=3),
    targets=st.lists(_TARGETS, max_size=3),
)
def test_plain_binding_agrees_with_the_general_path(
    count: int, defaults: int, targets: list[str | int | None]
) -> None:
    """For functions with plain named parameters, the short binding path gives the general
    path's bindings, and steps aside whenever the general path finds a problem."""
    defaults = min(defaults, count)
    names = [f"p{i}" for i in range(count)]
    signature = ", ".join(
        f"{name}={i}" if i >= count - defaults else name for i, name in enumerate(names)
    )
    namespace: dict[str, Any] = {}
    exec(f"def body({signature}): return None", namespace)
    function = namespace["body"]
    edges = [
        Edge("task", target, f"s{i}", None, None, int, None) for i, target in enumerate(targets)
    ]
    index = {f"s{i}": i for i in range(len(targets))}
    problems: list[str] = []
    params = parameters(function)
    general_bound = _bind("task", params, edges, problems)
    missing = [
        p.name
        for p in params or ()
        if p.default is inspect.Parameter.empty and p.name not in dict(general_bound)
    ]
    declared_now = declared("task", function)
    assert declared_now.names == tuple(names)
    plain = _bind_plain(
        "task", function, tuple(names), declared_now.required, edges, index, types=None
    )
    if problems or missing:
        assert plain is None
    else:
        assert plain == (_bindings(params, general_bound, index) if general_bound else ())


@pytest.mark.parametrize("way", ["plain", "task factory", "debug"])
async def test_tasks_are_made_alike_with_or_without_the_loops_create_task(way: str) -> None:
    """Each task runs in an asyncio task named after it, whoever makes it (factory, debug)."""
    loop = asyncio.get_running_loop()
    made: list[Any] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        made.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    seen: dict[str, str] = {}
    registry = SchedulerRegistry(f"made-{way}-{uuid.uuid4().hex}")

    def record(task_id: str) -> Any:
        async def body() -> None:
            task = asyncio.current_task()
            assert task is not None
            seen[task_id] = task.get_name()

        return body

    registry.task("first")(record("first"))
    registry.task("second", depends_on=["first"])(record("second"))
    debug = loop.get_debug()
    if way == "task factory":
        loop.set_task_factory(factory)
    elif way == "debug":
        loop.set_debug(True)
    try:
        report = await registry.run()
    finally:
        loop.set_task_factory(None)
        loop.set_debug(debug)
    assert report.execution_state == "completed"
    assert seen == {"first": "astrum:first", "second": "astrum:second"}
    if way == "task factory":
        assert made  # the factory made the asyncio task (one: second goes on in first's)
