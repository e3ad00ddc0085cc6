"""Registration, namespaces, registries and building: the seed API of astrum.decorators."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import threading
import weakref
from collections.abc import Callable
from typing import Any

import pytest

import astrum
import astrum.decorators
from astrum import (
    DEFAULT_NAMESPACE,
    AstrumConfig,
    DynamicScheduler,
    F,
    Ref,
    RegisteredTask,
    SchedulerRegistry,
    TaskOrder,
    TaskOrderLoopError,
    TaskRegistrationError,
    active_namespace,
    build_scheduler,
    build_task_orders,
    clear_registry,
    get_registry,
    run,
    task,
    use_namespace,
)

# -- the public surface -------------------------------------------------------------------

SPEC_CORE_NAMES = {
    "AstrumConfig",
    "DynamicScheduler",
    "ExecutionPlanner",
    "SchedulerRegistry",
    "RegisteredTask",
    "DEFAULT_NAMESPACE",
    "task",
    "use_namespace",
    "get_registry",
    "clear_registry",
    "active_namespace",
    "build_task_orders",
    "build_scheduler",
    "run",
    "ExecutionState",
    "StageStatus",
    "TaskOrder",
    "ExecutionPlan",
    "ExecutionStage",
    "ExecutionReport",
    "TaskStageStatistics",
    "TaskAttemptStatistics",
    "TaskExecutionStatistics",
    "SchedulerError",
    "TaskOrderLoopError",
    "TaskOrderNoExitError",
    "TaskDependencyError",
    "TaskNotFoundError",
    "TaskDuplicateExecutionError",
    "TaskRegistrationError",
}
SPEC_DATA_NAMES = {"Ref", "From", "To", "F", "T"}
SEED_NAMES = {
    "task",
    "run",
    "build_scheduler",
    "build_task_orders",
    "use_namespace",
    "get_registry",
    "clear_registry",
    "active_namespace",
    "SchedulerRegistry",
    "RegisteredTask",
    "DEFAULT_NAMESPACE",
}
DATA_TRANSPORT_MISSING = not hasattr(astrum, "Ref")


def test_root_exports_every_core_name_of_spec_section_1() -> None:
    """Every core name SPEC §1 lists is in astrum.__all__ and importable from astrum."""
    assert set(astrum.__all__) >= SPEC_CORE_NAMES
    for name in SPEC_CORE_NAMES:
        assert getattr(astrum, name) is not None


@pytest.mark.xfail(
    DATA_TRANSPORT_MISSING, reason="data transport (its own issue) is not merged", strict=True
)
def test_root_exports_the_data_transport_names_of_spec_section_1() -> None:
    """Ref, From, To, F and T are exported from astrum too."""
    assert set(astrum.__all__) >= SPEC_DATA_NAMES


def test_root_all_is_sorted_unique_and_resolvable() -> None:
    """astrum.__all__ is sorted (constants, classes, functions), unique, and every name exists."""
    names = list(astrum.__all__)

    # ruff's RUF022 order: SCREAMING_CASE constants, then classes (and F, T), then functions.
    def rank(name: str) -> tuple[bool, bool, str]:
        return (not (name.isupper() and len(name) > 1), not name[0].isupper(), name)

    assert names == sorted(names, key=rank)
    assert len(names) == len(set(names))
    assert all(hasattr(astrum, name) for name in names)


def test_decorators_module_offers_the_seed_api() -> None:
    """astrum.decorators exports everything the seed document lists, the same objects as astrum."""
    assert set(astrum.decorators.__all__) >= SEED_NAMES
    for name in SEED_NAMES:
        assert getattr(astrum.decorators, name) is getattr(astrum, name)
    assert DEFAULT_NAMESPACE == "default"


def test_public_modules_export_their_concepts() -> None:
    """The module paths users import from (scheduler, planner, models, config) work."""
    from astrum.config import AstrumConfig as Config
    from astrum.models import ExecutionReport
    from astrum.models import TaskOrder as Order
    from astrum.planner import ExecutionPlanner
    from astrum.scheduler import DynamicScheduler as Scheduler

    assert Scheduler is DynamicScheduler
    assert Config is AstrumConfig
    assert Order is TaskOrder
    assert ExecutionPlanner is astrum.ExecutionPlanner
    assert ExecutionReport is astrum.ExecutionReport


def test_config_has_the_spec_fields_and_defaults() -> None:
    """AstrumConfig is frozen and has SPEC §1's fields with their defaults."""
    config = AstrumConfig()
    expected: dict[str, object] = {
        "skip_type_check": False,
        "infer_via_ast": False,
        "strict_topology": False,
        "allow_no_dir_definition": True,
        "auto_sync_dependencies": True,
        "visualize": False,
        "silence_warnings": False,
        "silence": True,
        "concurrency_limit": None,
        "ignore_tail_task": [],
        "class_instances": [],
    }
    assert {name: getattr(config, name) for name in expected} == expected
    assert (config.executor, config.on_failure, config.run_timeout) == ("thread", "fail_fast", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.silence = False  # type: ignore[misc]
    assert config.build_semaphore() is None
    semaphore = AstrumConfig(concurrency_limit=2).build_semaphore()
    assert isinstance(semaphore, asyncio.Semaphore)
    assert semaphore is not AstrumConfig(concurrency_limit=2).build_semaphore()


@pytest.mark.parametrize("limit", [0, -1, True, 2.5, "2"], ids=repr)
def test_non_positive_or_non_int_concurrency_limit_is_refused(limit: object) -> None:
    """concurrency_limit must be a positive int (or None)."""
    with pytest.raises(ValueError, match="concurrency_limit must be a positive integer"):
        AstrumConfig(concurrency_limit=limit)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cls", "fields"),
    [
        (
            astrum.ExecutionReport,
            "total_start_time total_end_time total_duration planning_duration "
            "execution_duration total_tasks total_stages max_parallelism successful_tasks "
            "failed_tasks stage_statistics task_statistics execution_state error_summary "
            "original_tasks tail_tasks task_return_set",
        ),
        (
            astrum.TaskExecutionStatistics,
            "task_name stage_id start_time end_time duration status error_message retry "
            "attempt_count attempt_statistics",
        ),
        (
            astrum.ExecutionStage,
            "stage_id parallel_tasks wait_for_tasks start_tasks",
        ),
    ],
    ids=["ExecutionReport", "TaskExecutionStatistics", "ExecutionStage"],
)
def test_report_types_have_the_spec_fields_in_order(cls: type, fields: str) -> None:
    """The report dataclasses start with SPEC §1's fields, in SPEC order."""
    names = [f.name for f in dataclasses.fields(cls)]
    assert names[: len(fields.split())] == fields.split()


def test_report_states_and_statuses() -> None:
    """ExecutionState and StageStatus compare equal to their plain strings."""
    assert isinstance(astrum.ExecutionState.CANCELLED, str)
    assert astrum.ExecutionState("cancelled") is astrum.ExecutionState.CANCELLED
    assert {s.value for s in astrum.StageStatus} >= {
        "completed",
        "failed",
        "cancelled",
        "skipped",
    }


# -- @task ------------------------------------------------------------------------------


def test_task_returns_the_function_unchanged(registry: SchedulerRegistry) -> None:
    """The decorator registers and returns the very same function object."""

    def load() -> int:
        return 1

    assert registry.task()(load) is load
    assert registry.get_task("load").function is load


def test_task_id_defaults_to_the_function_name(registry: SchedulerRegistry) -> None:
    """Without task_id the id is __name__; with it, the given id."""

    @registry.task()
    def fetch() -> None: ...

    @registry.task("custom")
    def other() -> None: ...

    assert list(registry.get_all_tasks()) == ["fetch", "custom"]


def test_bare_module_task_registers_in_the_default_namespace() -> None:
    """@task without parentheses registers under the function's name in 'default'."""

    @task
    def bare() -> None: ...

    assert get_registry(DEFAULT_NAMESPACE).get_task("bare").function is bare


def test_registered_task_records_what_was_declared(registry: SchedulerRegistry) -> None:
    """RegisteredTask holds id, function, depends_on as a tuple, retry and data."""

    @registry.task()
    def a() -> None: ...

    @registry.task(depends_on=["a"], retry=3)
    def b() -> None: ...

    entry = registry.get_task("b")
    assert isinstance(entry, RegisteredTask)
    assert (entry.task_id, entry.function, entry.depends_on, entry.retry, entry.data) == (
        "b",
        b,
        ("a",),
        3,
        None,
    )


def test_registered_task_is_frozen(registry: SchedulerRegistry) -> None:
    """A RegisteredTask cannot be changed after registration."""
    registry.task("x")(lambda: None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        registry.get_task("x").retry = 5  # type: ignore[misc]


def test_registered_task_constructs_with_seed_fields() -> None:
    """RegisteredTask(task_id, function, depends_on, retry, data=None) as the seed declares."""
    entry = RegisteredTask("t", print, ("a",), 1)
    assert entry.data is None
    assert [f.name for f in dataclasses.fields(RegisteredTask)][:5] == [
        "task_id",
        "function",
        "depends_on",
        "retry",
        "data",
    ]


async def _total(x: Ref[int, F("count")]) -> int:
    return x


def test_registered_task_copies_pickles_and_replaces_as_a_dataclass(
    registry: SchedulerRegistry,
) -> None:
    """A record pickles, copies and is replaced like any frozen dataclass, and each copy
    reads what its function declares."""
    registry.task("total", retry=2)(_total)
    entry = registry.get_task("total")
    assert entry.declared.sources == ("count",)  # read once, kept in the record
    for copy in (pickle.loads(pickle.dumps(entry)), dataclasses.replace(entry)):
        assert copy == entry
        assert copy.declared == entry.declared
    replaced = dataclasses.replace(entry, function=lambda: 1)
    assert replaced.declared.sources == ()
    assert weakref.ref(entry)() is entry


def test_staticmethod_and_classmethod_are_unwrapped(registry: SchedulerRegistry) -> None:
    """Decorating a staticmethod or classmethod registers the function inside it."""

    class Jobs:
        @registry.task()
        @staticmethod
        def clean() -> str:
            return "clean"

        @registry.task()
        @classmethod
        def build(cls) -> str:
            return cls.__name__

    assert registry.get_task("clean").function is Jobs.__dict__["clean"].__func__
    assert registry.get_task("build").function is Jobs.__dict__["build"].__func__
    assert Jobs.clean() == "clean"
    assert Jobs.build() == "Jobs"


async def test_factory_made_functions_are_distinct_tasks(registry: SchedulerRegistry) -> None:
    """Functions from one factory (same __qualname__) register and run as separate tasks."""

    def make(number: int) -> Callable[[], Any]:
        async def step() -> int:
            return number

        return step

    functions = [make(i) for i in range(5)]
    assert len({f.__qualname__ for f in functions}) == 1
    for i, function in enumerate(functions):
        registry.task(f"step{i}")(function)
    report = await registry.run()
    assert report.task_return_set == {f"step{i}": i for i in range(5)}


def test_duplicate_id_is_refused_and_keeps_the_first(registry: SchedulerRegistry) -> None:
    """Registering an id twice raises TaskRegistrationError naming it and the namespace."""

    @registry.task()
    def load() -> int:
        return 1

    with pytest.raises(TaskRegistrationError, match=r"'load' is already registered.*test:"):

        @registry.task("load")
        def other() -> int:
            return 2

    assert registry.get_task("load").function is load


def test_same_id_in_two_namespaces_is_fine() -> None:
    """Ids are unique per namespace, not globally."""
    task("job", namespace="one")(lambda: 1)
    task("job", namespace="two")(lambda: 2)
    assert get_registry("one").get_task("job").function() == 1
    assert get_registry("two").get_task("job").function() == 2


@pytest.mark.parametrize("retry", [-1, 1.5, "2", True, False, None], ids=repr)
def test_bad_retry_is_refused(registry: SchedulerRegistry, retry: object) -> None:
    """retry must be a non-negative int; bools, floats, strings and negatives are refused."""
    with pytest.raises(TaskRegistrationError, match=r"retry must be a non-negative integer"):
        registry.task("t", retry=retry)(lambda: None)  # type: ignore[call-overload]
    assert registry.get_all_tasks() == {}


def test_coroutine_object_is_refused_without_a_warning(registry: SchedulerRegistry) -> None:
    """Decorating a coroutine object raises TypeError saying to decorate the function."""

    async def job() -> None: ...

    with pytest.raises(TypeError, match=r"coroutine object.*decorate the function"):
        _ = registry.task("job")(job())


@pytest.mark.parametrize("thing", [1, None, "job"], ids=repr)
def test_non_callable_is_refused(registry: SchedulerRegistry, thing: object) -> None:
    """Only callables can become tasks."""
    with pytest.raises(TypeError, match="can only decorate functions"):
        registry.task("job")(thing)


@pytest.mark.parametrize("task_id", ["", 1, b"x"], ids=repr)
def test_bad_task_id_is_refused(registry: SchedulerRegistry, task_id: object) -> None:
    """Task ids are non-empty strings."""
    with pytest.raises(TaskRegistrationError, match="non-empty strings"):
        registry.task(task_id)(lambda: None)  # type: ignore[operator]


def test_depends_on_as_a_string_is_refused(registry: SchedulerRegistry) -> None:
    """depends_on='a' (a string, not a list) is a TypeError suggesting ['a']."""
    with pytest.raises(TypeError, match=r"depends_on=\['a'\]"):
        registry.task("b", depends_on="a")(lambda: None)


def test_depends_on_with_a_non_string_is_refused(registry: SchedulerRegistry) -> None:
    """Dependencies are named by id; a function object there is a TypeError."""

    def a() -> None: ...

    with pytest.raises(TypeError, match="must contain task ids"):
        registry.task("b", depends_on=[a])(lambda: None)  # type: ignore[list-item]


@pytest.mark.parametrize("depends_on", [5, 1.5], ids=repr)
def test_depends_on_that_is_not_a_list_is_refused(
    registry: SchedulerRegistry, depends_on: object
) -> None:
    """depends_on must be a list; a number is refused with a sentence, not Python's message."""
    with pytest.raises(TypeError, match=r"depends_on must be a list of task ids, got"):
        registry.task("b", depends_on=depends_on)(lambda: None)  # type: ignore[call-overload]


@pytest.mark.parametrize("tags", [None, 5], ids=repr)
def test_tags_that_are_not_a_list_are_refused(registry: SchedulerRegistry, tags: object) -> None:
    """tags must be a string or a list of strings."""
    with pytest.raises(TypeError, match="tags must be a list of strings, got"):
        registry.task("t", tags=tags)(lambda: None)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("tails", "message"),
    [(None, "got None"), (5, "got 5"), ([["a"]], "got"), ([1], "got")],
    ids=["none", "int", "nested", "int-item"],
)
def test_ignore_tail_task_must_be_a_list_of_ids(tails: object, message: str) -> None:
    """AstrumConfig(ignore_tail_task=...) takes a list of task ids only."""
    with pytest.raises(TypeError, match=f"ignore_tail_task must be a list of task ids, {message}"):
        AstrumConfig(ignore_tail_task=tails)  # type: ignore[arg-type]


# -- namespaces -------------------------------------------------------------------------


def test_namespace_resolution_order() -> None:
    """Explicit namespace= beats use_namespace, which beats the default."""
    with use_namespace("outer"):
        task("ctx")(lambda: None)
        task("explicit", namespace="named")(lambda: None)
    task("plain")(lambda: None)
    assert list(get_registry("outer").get_all_tasks()) == ["ctx"]
    assert list(get_registry("named").get_all_tasks()) == ["explicit"]
    assert list(get_registry(DEFAULT_NAMESPACE).get_all_tasks()) == ["plain"]


def test_use_namespace_nests_and_restores() -> None:
    """Nested use_namespace blocks stack and unwind in order."""
    assert active_namespace() == DEFAULT_NAMESPACE
    with use_namespace("a") as outer:
        assert active_namespace() == "a"
        assert outer is get_registry("a")
        with use_namespace("b") as inner:
            assert active_namespace() == "b"
            assert inner is get_registry()
        assert active_namespace() == "a"
    assert active_namespace() == DEFAULT_NAMESPACE


def test_use_namespace_restores_after_an_exception() -> None:
    """An exception inside the block still restores the previous namespace."""
    with use_namespace("a"):
        with pytest.raises(ZeroDivisionError), use_namespace("b"):
            _ = 1 / 0
        assert active_namespace() == "a"
    assert active_namespace() == DEFAULT_NAMESPACE


async def test_use_namespace_is_private_to_each_asyncio_task() -> None:
    """Two asyncio tasks in different namespaces never see each other's namespace."""
    seen: dict[str, list[str]] = {"x": [], "y": []}
    both_inside = asyncio.Barrier(2)

    async def worker(name: str) -> None:
        with use_namespace(name):
            await both_inside.wait()
            task(f"job_{name}")(lambda: None)
            for _ in range(3):
                seen[name].append(active_namespace())
                await asyncio.sleep(0)

    await asyncio.gather(worker("x"), worker("y"))
    assert seen == {"x": ["x"] * 3, "y": ["y"] * 3}
    assert list(get_registry("x").get_all_tasks()) == ["job_x"]
    assert list(get_registry("y").get_all_tasks()) == ["job_y"]
    assert active_namespace() == DEFAULT_NAMESPACE


def test_use_namespace_is_private_to_each_thread() -> None:
    """A namespace entered in one thread is not active in another."""
    entered = threading.Event()
    checked = threading.Event()
    seen: list[str] = []

    def other_thread() -> None:
        entered.wait(5)
        seen.append(active_namespace())
        checked.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with use_namespace("main-only"):
        entered.set()
        checked.wait(5)
        assert active_namespace() == "main-only"
    thread.join(5)
    assert seen == [DEFAULT_NAMESPACE]


def test_concurrent_registration_from_threads_keeps_every_task(
    registry: SchedulerRegistry,
) -> None:
    """Tasks registered from many threads at once all end up in the registry."""

    def register(start: int) -> None:
        for i in range(start, start + 50):
            registry.task(f"t{i}")(lambda: None)

    threads = [threading.Thread(target=register, args=(n * 50,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(registry.get_all_tasks()) == 400


def test_get_registry_creates_on_demand_and_returns_the_same_registry() -> None:
    """get_registry makes a namespace's registry once and returns it afterwards."""
    first = get_registry("fresh-ns")
    assert isinstance(first, SchedulerRegistry)
    assert first.name == "fresh-ns"
    assert get_registry("fresh-ns") is first
    assert get_registry() is get_registry(DEFAULT_NAMESPACE)


def test_clear_registry_one_or_all() -> None:
    """clear_registry(ns) empties one namespace; clear_registry() empties them all."""
    task("a", namespace="one")(lambda: None)
    task("b", namespace="two")(lambda: None)
    clear_registry("one")
    assert get_registry("one").get_all_tasks() == {}
    assert list(get_registry("two").get_all_tasks()) == ["b"]
    clear_registry("never-created")  # no error
    clear_registry()
    assert get_registry("two").get_all_tasks() == {}


@pytest.mark.parametrize("namespace", ["", 3], ids=repr)
def test_bad_namespace_is_refused(namespace: object) -> None:
    """Namespaces are non-empty strings."""
    with pytest.raises(TypeError, match="namespace must be a non-empty string"):
        get_registry(namespace)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="namespace must be a non-empty string"):
        task("x", namespace=namespace)(lambda: None)  # type: ignore[call-overload]


async def test_module_level_run_uses_the_active_or_given_namespace() -> None:
    """run() runs the active namespace; run(namespace=...) the named one."""
    task("in_a", namespace="a")(lambda: "a")
    task("in_b", namespace="b")(lambda: "b")
    with use_namespace("a"):
        report = await run()
    assert report.task_return_set == {"in_a": "a"}
    report = await run(namespace="b")
    assert report.task_return_set == {"in_b": "b"}


# -- SchedulerRegistry methods --------------------------------------------------------------


def test_registry_basics(registry: SchedulerRegistry) -> None:
    """A registry has a name, defaults to 'default', and reports unknown ids clearly."""
    assert SchedulerRegistry().name == "default"
    with pytest.raises(TaskRegistrationError, match=r"Task 'nope' is not registered"):
        registry.get_task("nope")
    assert "SchedulerRegistry(" in repr(registry)


def test_get_all_tasks_is_a_copy(registry: SchedulerRegistry) -> None:
    """Changing the dict get_all_tasks returns does not change the registry."""
    registry.task("a")(lambda: None)
    tasks = registry.get_all_tasks()
    tasks.clear()
    assert list(registry.get_all_tasks()) == ["a"]


def test_clear_empties_the_registry(registry: SchedulerRegistry) -> None:
    """clear() forgets every task; the same ids can be registered again."""
    registry.task("a")(lambda: None)
    registry.clear()
    assert registry.get_all_tasks() == {}
    registry.task("a")(lambda: None)


def test_build_tasks_returns_uncalled_functions(registry: SchedulerRegistry) -> None:
    """build_tasks gives (task_id, function) pairs with the registered functions, not calls."""
    calls: list[str] = []

    @registry.task()
    async def a() -> None:
        calls.append("a")

    @registry.task(depends_on=["a"])
    def b() -> None:
        calls.append("b")

    assert registry.build_tasks() == [("a", a), ("b", b)]
    assert calls == []


def test_build_task_orders_links_dependencies(registry: SchedulerRegistry) -> None:
    """build_task_orders returns one TaskOrder per task whose dependencies are the orders."""
    registry.task("a")(lambda: None)
    registry.task("b", depends_on=["a"])(lambda: None)
    registry.task("c", depends_on=["a", "b"])(lambda: None)
    orders = {order.task_name: order for order in registry.build_task_orders()}
    assert [dep.task_name for dep in orders["c"].dependencies] == ["a", "b"]
    assert orders["c"].dependencies[0] is orders["a"]
    assert orders["b"].depend is orders["a"]


def test_built_scheduler_lists_the_registry_task_orders(registry: SchedulerRegistry) -> None:
    """A registry's scheduler exposes task_order as build_task_orders would give it,
    data dependencies included, in registration order."""

    @registry.task("c", depends_on=["b"])
    def c(value: Ref[int, F("a")]) -> int:
        return value

    registry.task("a")(lambda: 1)
    registry.task("b")(lambda: None)
    orders = registry.build_scheduler().task_order
    assert [order.task_name for order in orders] == ["c", "a", "b"]
    assert [dep.task_name for dep in orders[0].dependencies] == ["b", "a"]
    assert orders[0].dependencies[1] is orders[1]
    assert repr(orders) == repr(registry.build_task_orders())


def test_build_task_orders_reports_cycles(registry: SchedulerRegistry) -> None:
    """A cycle among registered tasks fails build_task_orders with the cycle path."""
    registry.task("a", depends_on=["c"])(lambda: None)
    registry.task("b", depends_on=["a"])(lambda: None)
    registry.task("c", depends_on=["b"])(lambda: None)
    with pytest.raises(TaskOrderLoopError, match="a -> b -> c -> a"):
        registry.build_task_orders()
    with pytest.raises(TaskOrderLoopError, match="a -> b -> c -> a"):
        registry.build_scheduler()


def test_module_level_builders_delegate_to_the_namespace() -> None:
    """build_task_orders and build_scheduler take namespace= and build that registry."""
    task("only", namespace="mod")(lambda: None)
    assert [o.task_name for o in build_task_orders(namespace="mod")] == ["only"]
    scheduler = build_scheduler(namespace="mod")
    assert isinstance(scheduler, DynamicScheduler)
    assert scheduler.plan.ids == ("only",)


async def test_build_scheduler_legacy_keywords(registry: SchedulerRegistry) -> None:
    """Without config, ignore_tail_task and concurrency_context keywords take effect."""
    registry.task("a")(lambda: None)

    @registry.task(depends_on=["a"])
    async def tail() -> str:
        await asyncio.sleep(0)
        return "tail"

    limit = asyncio.Semaphore(1)
    scheduler = registry.build_scheduler(ignore_tail_task=["tail"], concurrency_context=limit)
    report = await scheduler.execute()
    assert await report.tail_tasks["tail"] == "tail"


# -- target_tasks and bad references ----------------------------------------------------------


async def test_target_tasks_select_targets_and_everything_upstream(
    registry: SchedulerRegistry,
) -> None:
    """target_tasks runs the targets plus their transitive dependencies, nothing else."""
    ran: list[str] = []

    def job(name: str) -> Callable[[], None]:
        return lambda: ran.append(name)

    registry.task("root")(job("root"))
    registry.task("left", depends_on=["root"])(job("left"))
    registry.task("right", depends_on=["root"])(job("right"))
    registry.task("join", depends_on=["left"])(job("join"))
    registry.task("other")(job("other"))
    report = await registry.run(["join"])
    assert sorted(report.task_return_set) == ["join", "left", "root"]
    assert sorted(ran) == ["join", "left", "root"]
    assert [o.task_name for o in registry.build_task_orders(["left", "other"])] == [
        "root",
        "left",
        "other",
    ]


def test_target_tasks_as_a_string_is_refused(registry: SchedulerRegistry) -> None:
    """target_tasks='a' is a TypeError suggesting ['a']."""
    registry.task("a")(lambda: None)
    with pytest.raises(TypeError, match=r"target_tasks=\['a'\]"):
        registry.build_scheduler("a")


@pytest.mark.parametrize(
    ("targets", "message"),
    [(5, "must be a list of task ids, got int"), ([["a"]], "must contain task ids")],
    ids=["int", "nested-list"],
)
def test_target_tasks_of_the_wrong_type_are_refused(
    registry: SchedulerRegistry, targets: object, message: str
) -> None:
    """target_tasks must be a list of ids; other values are a TypeError naming the argument."""
    registry.task("a")(lambda: None)
    with pytest.raises(TypeError, match=f"target_tasks {message}"):
        registry.build_task_orders(targets)  # type: ignore[arg-type]


def test_unknown_target_is_named(registry: SchedulerRegistry) -> None:
    """An unknown target is a TaskRegistrationError naming it."""
    registry.task("a")(lambda: None)
    with pytest.raises(TaskRegistrationError, match="Target task 'ghost' is not registered"):
        registry.build_task_orders(["ghost"])


def test_unknown_dependency_is_named(registry: SchedulerRegistry) -> None:
    """A dependency on an unregistered task names both tasks at build time."""
    registry.task("a", depends_on=["ghost"])(lambda: None)
    with pytest.raises(TaskRegistrationError, match="Task 'a' depends on 'ghost'"):
        registry.build_scheduler()


async def test_building_and_running_never_change_the_registry(
    registry: SchedulerRegistry,
) -> None:
    """Build and run leave the registered entries untouched; building twice gives equal plans."""

    @registry.task(retry=1)
    async def a() -> int:
        return 1

    registry.task("b", depends_on=["a"])(lambda: 2)
    before = registry.get_all_tasks()
    first = registry.build_task_orders()
    first[0].dependencies.append(first[1])  # tampering with a build must not leak
    second = registry.build_task_orders()
    assert [(o.task_name, [d.task_name for d in o.dependencies]) for o in second] == [
        ("a", []),
        ("b", ["a"]),
    ]
    assert second[0] is not first[0]
    reports = [await registry.run(), await registry.run()]
    after = registry.get_all_tasks()
    assert after == before
    assert all(after[k].function is before[k].function for k in before)
    assert [r.task_return_set for r in reports] == [{"a": 1, "b": 2}] * 2
    assert vars(a) == {}  # nothing was attached to the function


_USE_CELL = """
@registry.task("use")
async def use({name}: Ref[int, F("{source}")], scale: int = {scale}) -> int:
    return {name} * scale
"""


def test_a_task_defined_again_is_read_anew_by_the_next_build(
    registry: SchedulerRegistry,
) -> None:
    """What a build read of a task's function (kept for later builds) is not applied to the
    function that replaces it, as re-running a notebook cell does."""

    @registry.task()
    async def one() -> int:
        return 1

    @registry.task()
    async def two() -> int:
        return 2

    namespace: dict[str, Any] = {"__name__": "cells", "registry": registry, "Ref": Ref, "F": F}
    exec(_USE_CELL.format(name="x", source="one", scale=1), namespace)  # a notebook cell
    assert registry.build_scheduler().plan.dependencies["use"] == ["one"]
    assert registry.run_sync().result("use") == 1
    exec(_USE_CELL.format(name="y", source="two", scale=3), namespace)  # the cell run again
    assert registry.build_scheduler().plan.dependencies["use"] == ["two"]
    assert registry.run_sync().result("use") == 6
