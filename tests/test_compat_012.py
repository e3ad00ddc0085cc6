"""Code written for astrum 0.1.2 runs unchanged: each test is written as its users write it."""

# The strings inside Ref[...] are 0.1.2's relation tuples and descriptions, not forward
# references, which is all ruff can take them for.
# ruff: noqa: F722, F821, UP037

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from astrum import (
    AstrumConfig,
    DynamicScheduler,
    ExecutionPlanner,
    Ref,
    SchedulerRegistry,
    TaskDependencyError,
    TaskDuplicateExecutionError,
    TaskOrder,
    TaskRegistrationError,
)
from astrum.data_transport import DataItem, DTRela, TaskData


class OrderInfo(BaseModel):
    order_id: str
    drink: str


class Receipt(BaseModel):
    total: float


def _problems(registry: SchedulerRegistry, config: AstrumConfig | None = None) -> str:
    with pytest.raises(TaskRegistrationError) as caught:
        registry.build_scheduler(config=config)
    return str(caught.value)


# -- allow_data_model is the producer's model ---------------------------------------------


def _drink_item(model: object = OrderInfo, key: str = "drink") -> DataItem:
    return DataItem(
        allow_data_model=model,
        from_relation=DTRela(key=key, related_task="take_order"),
        to_relation=DTRela(key="drink_type", related_task="grind"),
    )


async def test_allow_data_model_names_the_producers_model(registry: SchedulerRegistry) -> None:
    """A field of a pydantic result feeds a str parameter, declared as 0.1.2's examples do."""

    @registry.task(task_id="take_order", data=TaskData())
    async def take_order() -> OrderInfo:
        return OrderInfo(order_id="A-1", drink="latte")

    @registry.task(task_id="grind", data=TaskData(input_data_item=[_drink_item()]))
    async def grind(drink_type: str) -> str:
        return f"ground for {drink_type}"

    report = await registry.run()
    assert report.task_return_set["grind"] == "ground for latte"


async def test_allow_data_model_without_annotations(registry: SchedulerRegistry) -> None:
    """With no annotations at all the model alone describes the value, and the run works."""

    @registry.task(task_id="take_order", data=TaskData())
    async def take_order():  # type: ignore[no-untyped-def]
        return OrderInfo(order_id="A-1", drink="mocha")

    @registry.task(task_id="grind", data=TaskData(input_data_item=[_drink_item()]))
    async def grind(drink_type):  # type: ignore[no-untyped-def]
        return f"ground for {drink_type}"

    report = await registry.run()
    assert report.task_return_set["grind"] == "ground for mocha"


def test_allow_data_model_is_checked_against_the_producer(registry: SchedulerRegistry) -> None:
    """A model that the producer's return annotation contradicts is a build error."""

    @registry.task(task_id="take_order", data=TaskData())
    async def take_order() -> Receipt:
        return Receipt(total=3.5)

    @registry.task(task_id="grind", data=TaskData(input_data_item=[_drink_item()]))
    async def grind(drink_type: str) -> str:
        return drink_type

    assert (
        "Task 'grind' parameter 'drink_type' takes the value of task 'take_order', declared as "
        "OrderInfo (allow_data_model), but task 'take_order' returns Receipt; make the two "
        "agree" in _problems(registry)
    )


def test_allow_data_model_is_checked_against_an_inferred_return(
    registry: SchedulerRegistry,
) -> None:
    """With infer_via_ast, the producer's inferred return type is what the model must match."""

    @registry.task(task_id="take_order", data=TaskData())
    async def take_order():  # type: ignore[no-untyped-def]
        return Receipt(total=3.5)

    @registry.task(task_id="grind", data=TaskData(input_data_item=[_drink_item()]))
    async def grind(drink_type: str) -> str:
        return drink_type

    registry.build_scheduler()  # the return is unknown without inference: nothing to contradict
    assert "but task 'take_order' returns Receipt" in _problems(
        registry, AstrumConfig(infer_via_ast=True)
    )


def test_the_selected_field_is_checked_against_the_parameter(
    registry: SchedulerRegistry,
) -> None:
    """The model's field that the key selects must suit the parameter's annotation."""

    @registry.task(task_id="take_order", data=TaskData())
    async def take_order() -> OrderInfo:
        return OrderInfo(order_id="A-1", drink="latte")

    @registry.task(task_id="grind", data=TaskData(input_data_item=[_drink_item()]))
    async def grind(drink_type: int) -> int:
        return drink_type

    assert (
        "Task 'grind' parameter 'drink_type' expects int, but task 'take_order' returns "
        "OrderInfo, whose field 'drink' is str" in _problems(registry)
    )


def test_a_key_the_model_lacks_is_a_build_error(registry: SchedulerRegistry) -> None:
    """A key that is not a field of the model is reported even when nothing is annotated."""

    @registry.task(task_id="take_order", data=TaskData())
    async def take_order():  # type: ignore[no-untyped-def]
        return OrderInfo(order_id="A-1", drink="latte")

    @registry.task(task_id="grind", data=TaskData(input_data_item=[_drink_item(key="size")]))
    async def grind(drink_type):  # type: ignore[no-untyped-def]
        return drink_type

    assert "reads field 'size' of task 'take_order'" in _problems(registry)


async def test_an_output_item_reads_allow_data_model_the_same_way(
    registry: SchedulerRegistry,
) -> None:
    """On an output item too, allow_data_model is the sending task's whole result."""
    item = DataItem(
        allow_data_model=OrderInfo,
        from_relation=DTRela(key="drink"),
        to_relation=DTRela(key="drink_type", related_task="grind"),
    )

    @registry.task(task_id="take_order", data=TaskData(output_data_item=[item]))
    async def take_order() -> OrderInfo:
        return OrderInfo(order_id="A-1", drink="flat white")

    @registry.task(task_id="grind")
    async def grind(drink_type: str) -> str:
        return f"ground for {drink_type}"

    report = await registry.run()
    assert report.task_return_set["grind"] == "ground for flat white"

    other = SchedulerRegistry("compat:output-item-mismatch")

    @other.task(task_id="take_order", data=TaskData(output_data_item=[item]))
    async def take_receipt() -> Receipt:
        return Receipt(total=1.0)

    other.task(task_id="grind")(grind)
    assert "declared as OrderInfo (allow_data_model)" in _problems(other)


# -- from_function injects its whole result -------------------------------------------------


async def test_from_function_with_a_key_injects_the_whole_result(
    registry: SchedulerRegistry,
) -> None:
    """The key of a from_function relation does not select inside the function's result."""

    def get_store_name() -> str:
        return "Blue Bottle"

    async def get_store() -> dict[str, str]:
        return {"store_name": "Ritual", "city": "SF"}

    data = TaskData(
        input_data_item=[
            DataItem(
                from_relation=DTRela(
                    key="store_name", related_task="serve", from_function=get_store_name
                ),
                to_relation=DTRela(key="store_name", related_task="serve"),
            ),
            DataItem(
                from_relation=DTRela(key="city", related_task="serve", from_function=get_store),
                to_relation=DTRela(key="store", related_task="serve"),
            ),
        ]
    )

    @registry.task(task_id="serve", data=data)
    async def serve(store_name: str, store: dict[str, str]) -> str:
        return f"{store_name} / {store['city']}"

    report = await registry.run()
    assert report.task_return_set["serve"] == "Blue Bottle / SF"


def test_from_function_result_is_checked_against_allow_data_model(
    registry: SchedulerRegistry,
) -> None:
    """allow_data_model on a from_function relation is that function's result type."""

    def get_store() -> dict[str, str]:
        return {"store_name": "Ritual"}

    data = TaskData(
        input_data_item=[
            DataItem(
                allow_data_model=OrderInfo,
                from_relation=DTRela(related_task="serve", from_function=get_store),
                to_relation=DTRela(key="store", related_task="serve"),
            )
        ]
    )

    @registry.task(task_id="serve", data=data)
    async def serve(store):  # type: ignore[no-untyped-def]
        return store

    assert "but from_function get_store returns dict[str, str]" in _problems(registry)


# -- retries in error_summary --------------------------------------------------------------


def _flaky(registry: SchedulerRegistry, retry: int, failures: int) -> list[int]:
    """Register ``flaky``, which fails its first ``failures`` attempts with ``boom <n>``."""
    calls: list[int] = []

    @registry.task(task_id="flaky", retry=retry)
    async def flaky() -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= failures:
            raise RuntimeError(f"boom {len(calls)}")
        return "ok"

    return calls


async def test_retries_that_run_out_are_listed_in_error_summary(
    registry: SchedulerRegistry,
) -> None:
    """Each retried attempt and the exhaustion get a line, after the failure itself."""
    _flaky(registry, retry=2, failures=3)
    report = await registry.run()
    assert report.execution_state == "failed"
    assert report.error_summary == [
        "Task 'flaky' failed: RuntimeError: boom 3",
        "Task 'flaky' attempt 1/3 failed; retrying with 2 retries left: boom 1",
        "Task 'flaky' attempt 2/3 failed; retrying with 1 retries left: boom 2",
        "Task 'flaky' exhausted 2 retries after 3 attempts: boom 3",
    ]


async def test_a_run_that_recovers_after_a_retry_lists_the_retry(
    registry: SchedulerRegistry,
) -> None:
    """A task that succeeds on its second attempt leaves one retry line in a completed run."""
    calls = _flaky(registry, retry=2, failures=1)
    report = await registry.run()
    assert report.execution_state == "completed"
    assert calls == [1, 2]
    assert report.error_summary == [
        "Task 'flaky' attempt 1/3 failed; retrying with 2 retries left: boom 1"
    ]


async def test_without_retries_nothing_about_exhaustion(registry: SchedulerRegistry) -> None:
    """retry=0: the failure alone, no line about retries."""
    _flaky(registry, retry=0, failures=1)
    report = await registry.run()
    assert report.error_summary == ["Task 'flaky' failed: RuntimeError: boom 1"]


# -- duplicate names ------------------------------------------------------------------------


def test_duplicate_task_orders_are_a_task_dependency_error() -> None:
    """0.1.2 code catches TaskDependencyError for duplicate names in ExecutionPlanner."""
    with pytest.raises(TaskDependencyError, match="'same' appears more than once") as caught:
        ExecutionPlanner([TaskOrder("same"), TaskOrder("same")]).get_execute_timeline()
    assert isinstance(caught.value, TaskDuplicateExecutionError)


def test_duplicate_names_in_a_scheduler_are_a_task_dependency_error() -> None:
    """DynamicScheduler's duplicate ids and duplicate orders are TaskDependencyErrors too."""

    async def same() -> int:
        return 1

    with pytest.raises(TaskDependencyError, match="given two functions"):
        DynamicScheduler(tasks=[("same", same), ("same", same)], task_order=[TaskOrder("same")])
    with pytest.raises(TaskDependencyError, match="appears more than once"):
        DynamicScheduler(tasks=[("same", same)], task_order=[TaskOrder("same"), TaskOrder("same")])


# -- the tuple form of a relation -------------------------------------------------------------


async def test_a_tuple_names_the_task_and_locator(registry: SchedulerRegistry) -> None:
    """Ref[T, ("task", locator)] and Ref[T, (function, locator)] read like F(...)."""

    @registry.task()
    async def source() -> dict[str, bool]:
        return {"beans_ready": True}

    @registry.task()
    async def source_function() -> dict[str, int]:
        return {"value": 3}

    @registry.task()
    async def target(
        beans: Ref[bool, ("source", "beans_ready")],
        value: Ref[int, (source_function, "value")],
        everything: Ref[dict[str, bool], ("source",)],
    ) -> str:
        return f"{beans} {value} {everything}"

    report = await registry.run()
    assert report.task_return_set["target"] == "True 3 {'beans_ready': True}"
    assert report.original_tasks["target"] == ["source", "source_function"]


@pytest.mark.parametrize(
    ("metadata", "found", "advice"),
    [
        ('"source"', "'source'", "write F('source') to take the result of task 'source'"),
        ("42", "42", "write F(task, locator)"),
        ('("source", "ready", "x")', "the tuple ('source', 'ready', 'x')", "write F(task"),
        ("[source]", "[<function", "write F(task, locator)"),
    ],
    ids=["task-id", "int", "long-tuple", "list"],
)
def test_other_relation_like_metadata_is_a_build_error(
    registry: SchedulerRegistry, metadata: str, found: str, advice: str
) -> None:
    """Metadata that looks like a relation but is none is an error naming task and parameter."""

    @registry.task()
    async def source() -> dict[str, bool]:
        return {"ready": True}

    namespace = {"Ref": Ref, "source": source}
    exec(  # the annotation under test, written as a user would
        f"async def target(beans: Ref[bool, {metadata}] = False) -> bool:\n    return beans",
        namespace,
    )
    registry.task()(namespace["target"])
    problems = _problems(registry)
    assert f"Task 'target' parameter 'beans' has {found}" in problems
    assert advice in problems


def test_a_tuple_on_the_return_annotation_is_a_build_error(registry: SchedulerRegistry) -> None:
    """A tuple cannot say where a result goes: the error asks for T(...)."""

    @registry.task()
    async def sender() -> Ref[dict[str, int], ("receiver", "a")]:
        return {"a": 1}

    @registry.task()
    async def receiver(a: int = 0) -> int:
        return a

    assert "write T(task, local_locator, target_param)" in _problems(registry)


async def test_other_libraries_metadata_is_left_alone(registry: SchedulerRegistry) -> None:
    """A pydantic constraint or a description string stays what it is, as in 0.1.2."""

    @registry.task()
    async def alone(value: Ref[int, Field(gt=0), "how many"] = 5) -> int:
        return value

    assert (await registry.run()).task_return_set["alone"] == 5


# -- classmethods of classes defined in a function ---------------------------------------------


def _labels(registry: SchedulerRegistry, prefix: str) -> type:
    """A factory that defines its class inside, as tests and factories do."""

    class Labels:
        @registry.task(task_id="cm_task")
        @classmethod
        async def cm_task(cls) -> str:
            return f"{prefix}-{cls.__name__}"

        @registry.task(task_id="sm_task", depends_on=["cm_task"])
        @staticmethod
        def sm_task() -> str:
            return "static"

    return Labels


async def test_a_classmethod_of_a_local_class_runs_bound_to_it(
    registry: SchedulerRegistry,
) -> None:
    """The class is found without class_instances, even though its module cannot name it."""
    _labels(registry, "L")
    report = await registry.run()
    assert report.task_return_set == {"cm_task": "L-Labels", "sm_task": "static"}


async def test_classes_of_one_factory_each_bind_their_own_classmethod() -> None:
    """Two classes with one qualified name are told apart: each task gets its own class."""
    first, second = SchedulerRegistry("compat:labels-1"), SchedulerRegistry("compat:labels-2")
    kept = (_labels(first, "one"), _labels(second, "two"))
    assert kept[0] is not kept[1]
    assert (await first.run()).task_return_set["cm_task"] == "one-Labels"
    assert (await second.run()).task_return_set["cm_task"] == "two-Labels"
