"""Run-time inputs: parameters marked Ref[T, Input(name)] take values given to run()."""

from __future__ import annotations

import asyncio

import pytest

from astrum import (
    AstrumConfig,
    DynamicScheduler,
    F,
    Input,
    InputError,
    Ref,
    SchedulerRegistry,
    TaskOrder,
    run,
    run_sync,
    task,
)


def _search_flow(registry: SchedulerRegistry, started: list[str] | None = None) -> None:
    @registry.task()
    async def search(
        query: Ref[str, Input("query")], top_k: Ref[int, Input("top_k")] = 3
    ) -> list[str]:
        if started is not None:
            started.append("search")
        await asyncio.sleep(0)
        return [f"{query}-{i}" for i in range(top_k)]

    @registry.task()
    def answer(hits: Ref[list[str], F("search")], style: Ref[str, Input("style")] = "short") -> str:
        return f"{style}:{','.join(hits)}"


async def test_inputs_feed_parameters_and_defaults_fill_the_rest(
    registry: SchedulerRegistry,
) -> None:
    """Given inputs reach their parameters; absent ones leave the defaults in place."""
    _search_flow(registry)
    report = await registry.run(inputs={"query": "cats", "top_k": 2})
    assert report.task_return_set["answer"] == "short:cats-0,cats-1"


async def test_concurrent_runs_with_different_inputs_are_isolated(
    registry: SchedulerRegistry,
) -> None:
    """Each of many concurrent runs of one registry sees only its own inputs."""
    _search_flow(registry)
    reports = await asyncio.gather(
        *(registry.run(inputs={"query": f"q{i}", "top_k": 1}) for i in range(50))
    )
    for i, report in enumerate(reports):
        assert report.task_return_set["answer"] == f"short:q{i}-0"


async def test_missing_required_input_fails_before_any_task_starts(
    registry: SchedulerRegistry,
) -> None:
    """A required input that is absent names the input and the task that wants it."""
    started: list[str] = []
    _search_flow(registry, started)
    with pytest.raises(InputError, match=r"Input 'query' is required by task 'search'"):
        await registry.run(inputs={"top_k": 2})
    assert started == []


async def test_undeclared_input_is_an_error(registry: SchedulerRegistry) -> None:
    """An input no task declares is refused, listing the declared ones."""
    _search_flow(registry)
    with pytest.raises(InputError, match=r"Input 'qeury' is not declared.*'query', 'style'"):
        await registry.run(inputs={"qeury": "x", "query": "y"})


async def test_input_type_is_checked_unless_skipped(registry: SchedulerRegistry) -> None:
    """A value of the wrong type is an error naming the parameter and both types."""
    _search_flow(registry)
    with pytest.raises(InputError, match=r"Input 'top_k' is str.*'top_k' expects int"):
        await registry.run(inputs={"query": "q", "top_k": "2"})
    config = AstrumConfig(skip_type_check=True)
    report = await registry.run(config=config, inputs={"query": "q", "top_k": 1})
    assert report.execution_state == "completed"


async def test_overridden_task_needs_no_input(registry: SchedulerRegistry) -> None:
    """Inputs wanted only by an overridden task are not required."""
    _search_flow(registry)
    report = await registry.run(overrides={"search": ["a"]})
    assert report.task_return_set["answer"] == "short:a"


async def test_module_level_run_and_scheduler_take_inputs() -> None:
    """run(inputs=...) and DynamicScheduler.execute(inputs=...) deliver the values."""

    @task
    async def greet(name: Ref[str, Input("name")]) -> str:
        return f"hi {name}"

    assert (await run(inputs={"name": "Ada"})).task_return_set == {"greet": "hi Ada"}

    async def shout(word: Ref[str, Input("word")]) -> str:
        return word.upper()

    scheduler = DynamicScheduler([("shout", shout)], [TaskOrder("shout")])
    report = await scheduler.execute(inputs={"word": "hey"})
    assert report.task_return_set == {"shout": "HEY"}


def test_run_sync_takes_inputs(registry: SchedulerRegistry) -> None:
    """run_sync passes inputs through to the run."""

    @task(namespace="inputs-sync")
    def double(x: Ref[int, Input("x")]) -> int:
        return 2 * x

    report = run_sync(namespace="inputs-sync", inputs={"x": 21})
    assert report.task_return_set == {"double": 42}


def test_input_name_must_be_a_string() -> None:
    """Input() with an empty or non-string name is refused."""
    with pytest.raises(TypeError, match="non-empty input name"):
        Input("")


async def test_an_input_beside_a_relation_to_a_function(registry: SchedulerRegistry) -> None:
    """Input(...) beside F(function) (which the build, not registration, resolves) is a marker."""

    @registry.task()
    async def topic() -> str:
        return "rag"

    @registry.task()
    async def search(about: Ref[str, F(topic)], query: Ref[str, Input("query")]) -> str:
        return f"{about}:{query}"

    report = await registry.run(inputs={"query": "docs"})
    assert report.task_return_set["search"] == "rag:docs"
