"""Relations in string annotations (``from __future__ import annotations``) and forward refs."""

from __future__ import annotations

import asyncio

from astrum import F, Ref, SchedulerRegistry, T

module_flow = SchedulerRegistry("test_data_forward_refs")


@module_flow.task()
async def consumer(text: Ref[str, F(producer, "body")]) -> str:
    return text.upper()


@module_flow.task()
async def producer() -> Ref[Message, T("audit", "body", "line")]:
    return Message("hello")


@module_flow.task()
def audit(line: str) -> str:
    return f"audit: {line}"


class Message:
    """Defined after the tasks that name it, as forward references allow."""

    def __init__(self, body: str) -> None:
        self.body = body


async def test_module_level_forward_references_resolve() -> None:
    """Functions and classes defined later in the module are found when the workflow builds."""
    report = await module_flow.run()
    assert report.task_return_set["consumer"] == "HELLO"
    assert report.task_return_set["audit"] == "audit: hello"


async def test_local_functions_are_found_by_name(registry: SchedulerRegistry) -> None:
    """F(local_function) in a string annotation resolves through the registered tasks' names."""

    @registry.task()
    async def fetch() -> dict[str, int]:
        return {"n": 2}

    @registry.task()
    async def use(n: Ref[int, F(fetch, "n")], later: Ref[int, F(defined_later)]) -> int:
        return n + later

    @registry.task()
    async def defined_later() -> int:
        return 40

    assert (await registry.run()).task_return_set["use"] == 42


async def test_local_types_in_string_annotations_are_unknown(registry: SchedulerRegistry) -> None:
    """A type local to a function is unknown when the annotation is evaluated, so not checked."""

    class Local:
        value = 3

    @registry.task()
    async def make() -> Local:
        return Local()

    @registry.task()
    async def use(value: Ref[int, F("make", "value")]) -> int:
        return value

    assert (await registry.run()).task_return_set["use"] == 3


async def test_tasks_named_like_builtins(registry: SchedulerRegistry) -> None:
    """F(local function named like a builtin) finds the task; builtin types still mean types."""

    @registry.task("list")
    async def produce() -> list[int]:
        return [1, 2]

    @registry.task()
    async def filter() -> list[int]:
        return [3]

    @registry.task()
    async def use(a: Ref[list[int], F("list")], b: Ref[list[int], F(filter)]) -> int:
        return sum(a) + sum(b)

    report = await registry.run()
    assert report.task_return_set["use"] == 6
    assert sorted(report.original_tasks["use"]) == ["filter", "list"]


module_checked = SchedulerRegistry("test_data_forward_refs_checked")


@module_checked.task()
async def early() -> dict[str, int]:
    return {"n": 2}


@module_checked.task()
async def doubled(n: Ref[int, F("early", "n")]) -> Later:
    return Later(n * 2)


@module_checked.task()
async def reported(result: Ref[Later, F("doubled")]) -> int:
    return result.value


class Later:
    """Named by annotations above it: only a build after the module ran can evaluate them."""

    def __init__(self, value: int) -> None:
        self.value = value


def test_string_annotations_read_early_or_at_build_give_the_same_plan() -> None:
    """The first build reads string annotations into each task's record (Later exists by
    then); the plan is the one a build reading every annotation itself makes."""
    early_plan = [spec.bindings for spec in module_checked.build_scheduler().plan.specs]
    assert module_checked.get_task("doubled").declared.annotations is not None
    assert module_checked.get_task("reported").declared.annotations is not None
    for entry in module_checked.get_all_tasks().values():
        entry.function.__annotations__ = dict(entry.function.__annotations__)
    assert [spec.bindings for spec in module_checked.build_scheduler().plan.specs] == early_plan
    assert asyncio.run(module_checked.run()).task_return_set["reported"] == 4
