"""Build and run cost grow linearly with the task count, counted, not timed.

Hooks count every function call (Python and C) and every bytecode instruction
executed in Astrum's own code while building, running and reading a report's
statistics, at three sizes. Linear work adds the same amount per task from
100 to 200 tasks as from 200 to 400; a scan of all tasks per task would double
it. Astrum's steps per task are also held to a budget, so the hot path cannot
quietly grow: a feature should cost nothing while it is unused. (A loop inside
one C call, ``list.remove`` say, counts once; bench/ times the real thing.)
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import astrum
from astrum import DynamicScheduler, F, Ref, SchedulerRegistry, TaskOrder
from astrum._build._plan import Binding

SIZES = (100, 200, 400)
SHAPES = ("wide", "chain", "layered")
PACKAGE = str(Path(astrum.__file__).parent)

# Bytecode steps in astrum's own code per added task, with nothing optional configured:
# about 30% above what Python 3.11 executes today (wide, chain and layered).
BUILD_BUDGET = 470  # 290-384, the plan's derived fields (roots, counts, task names) included
# Registering a task writes a record down: 137 steps with depends_on or a Ref annotation
# (224 when the record was a frozen dataclass filled slot by slot, and depends_on, data
# and retry came in through **options). A function of no parameters that declares nothing
# is not read at all, and its record is its spec: 280 steps, first build or not (253 when
# every successor list was a list, with more objects and more time; 271 when a build made
# a spec of its own for it; 376 when it also made each task's predecessor
# tuple and level, which are now worked out when first read; 420 before that pass, 697
# and 458 before it was not read). A function whose parameters all take a plain F(...)
# has its edges read straight from its annotations and is bound in that pass too (607
# steps a task for a value chain, first build or not; before, 935 for a first build,
# which read what each function declares into its record, and 684 for later ones).
REGISTRATION_BUDGET = 200
REGISTRY_FIRST_BUILD_BUDGET = 360
REGISTRY_VALUE_FIRST_BUILD_BUDGET = 800
REGISTRY_BUILD_BUDGET = 360
REGISTRY_VALUE_BUILD_BUDGET = 800
# The same chain with its annotations written as strings (postponed evaluation): 764 steps,
# the pattern that reads each Ref[...] and the lookup of each name included. Before, each
# string was compiled and evaluated, in C, which these counts do not see: 4x the time.
STRING_VALUE_BUILD_BUDGET = 900
# Objects the garbage collector tracks, left per task: registering keeps the record alone;
# a build adds its share of the graph, and no spec for a task that takes no data (its
# record is its spec; 2 objects when each task had a spec of its own). A value chain's
# build adds its spec and binding, in a tuple (6 objects before its build stopped keeping
# what each function declares in the record, with the relation and its tuple).
REGISTRATION_OBJECTS = 1
BUILD_OBJECTS = 1
VALUE_BUILD_OBJECTS = 3
# 256-301 with the worker's share; passing a value along a chain: 336. A worker runs each
# task's coroutine through a generator of its own (8 steps), which spares the
# StopIteration a coroutine raises when it returns to a send() called from Python: more
# steps here, about 190 ns less a task. Before workers: 185-215, plus an asyncio task, a
# call_soon and a turn of the loop per task (~700 calls).
RUN_BUDGET = 400
# A whole registry.run() of one task, beyond the per-task steps: plan lookup, the run's
# state, its start and wind-down, the report. 1,080 steps: 923 before workers (the
# worker that runs the ready tasks adds ~60 steps and a context copy per run, and saves
# an asyncio task per task); 1,350 before the report was made lazily and the per-run
# work moved into the plan.
RUN_FIXED_BUDGET = 1_120
# 345-480: the first read also works out each task's predecessors and level, which builds
# no longer make (291-400 when they did).
STATISTICS_BUDGET = 600


@dataclass(frozen=True)
class Work:
    calls: int
    """Function calls anywhere, Python and C (a profiler hook)."""
    steps: int
    """Bytecode instructions executed in astrum's own code (a tracing hook)."""


@contextmanager
def _counting() -> Iterator[list[int]]:
    counts = [0, 0]

    def profile(frame: FrameType, event: str, arg: object) -> None:
        del frame, arg
        if event in ("call", "c_call"):
            counts[0] += 1

    def count_step(frame: FrameType, event: str, arg: object) -> Any:
        del frame, arg
        if event == "opcode":
            counts[1] += 1
        return count_step

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        del event, arg
        if not frame.f_code.co_filename.startswith(PACKAGE):
            return None
        frame.f_trace_opcodes = True
        return count_step

    previous = sys.gettrace()
    gc.disable()  # a collection would add calls at sizes of its own choosing
    sys.setprofile(profile)
    sys.settrace(trace)
    try:
        yield counts
    finally:
        sys.settrace(previous)
        sys.setprofile(None)
        gc.enable()


def _work(action: Callable[[], object]) -> Work:
    with _counting() as counts:
        action()
    return Work(*counts)


async def _async_work(action: Callable[[], Coroutine[Any, Any, object]]) -> Work:
    with _counting() as counts:
        await action()
    return Work(*counts)


async def _noop() -> None:
    return None


def _new_noop() -> Callable[[], Coroutine[Any, Any, None]]:
    """A new function each call, as each task of a real workflow has its own."""

    async def noop() -> None:
        return None

    return noop


def _value_step() -> Callable[[int], Coroutine[Any, Any, int]]:
    """A new function each call, so that each task carries annotations of its own."""

    async def step(x: int) -> int:
        return x + 1

    return step


async def _step(x: int = 0) -> int:
    return x + 1


def _deps(shape: str, size: int) -> dict[str, list[str]]:
    """Task ids and their dependencies; ``layered`` has layers of 10 with two edges each."""
    deps: dict[str, list[str]] = {}
    for i in range(size):
        if shape == "chain" and i:
            deps[f"t{i}"] = [f"t{i - 1}"]
        elif shape == "layered" and i >= 10:
            above = (i // 10 - 1) * 10
            deps[f"t{i}"] = [f"t{i - 10}", f"t{above + (7 * i + 3) % 10}"]  # two different ones
        else:
            deps[f"t{i}"] = []
    return deps


def _scheduler_inputs(
    shape: str, size: int
) -> tuple[list[tuple[str, Callable[..., Any]]], list[TaskOrder]]:
    deps = _deps(shape, size)
    orders = {task_id: TaskOrder(task_id) for task_id in deps}
    for task_id, names in deps.items():
        orders[task_id].dependencies = [orders[name] for name in names]
    return [(task_id, _noop) for task_id in deps], list(orders.values())


@pytest.fixture(autouse=True)
def _hand_off_whatever_the_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tracing slows every body down; a body counts as quick however long it takes here, so
    that which tasks go on in their predecessor's asyncio task does not depend on the load."""
    monkeypatch.setattr("astrum._run._run._QUICK", float("inf"))


@pytest.fixture(autouse=True, scope="module")
def _first_use_imports_done() -> None:
    """One workflow built and run before any count: what the first scheduler imports (the
    run machinery, on first use) is done once per process, not per task."""
    report = asyncio.run(DynamicScheduler(*_scheduler_inputs("chain", 2)).execute())
    assert report.execution_state == "completed"


def _per_task_growth(counts: list[int]) -> tuple[float, float]:
    """Work added per task from the first size to the second, and from the second to the third."""
    (a, b, c), (n1, n2, n3) = counts, SIZES
    return (b - a) / (n2 - n1), (c - b) / (n3 - n2)


def _assert_linear(found: list[Work], budget: int, what: str) -> None:
    for field in ("calls", "steps"):
        first, second = _per_task_growth([getattr(work, field) for work in found])
        assert second == pytest.approx(first, rel=0.02), (
            f"{what}: each added task cost {first:.1f} {field} between {SIZES[0]} and "
            f"{SIZES[1]} tasks but {second:.1f} between {SIZES[1]} and {SIZES[2]}: "
            "the cost grows faster than the task count."
        )
    steps = _per_task_growth([work.steps for work in found])[1]
    assert steps <= budget, (
        f"{what} executes {steps:.0f} bytecode steps of astrum per task, over the budget "
        f"of {budget}; make the new work free when unused, or raise the budget knowingly."
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_build_grows_linearly(shape: str) -> None:
    """Constructing a DynamicScheduler costs the same per task at every size."""
    found = []
    for size in SIZES:
        tasks, orders = _scheduler_inputs(shape, size)
        found.append(_work(lambda: DynamicScheduler(tasks, orders)))  # noqa: B023
    _assert_linear(found, BUILD_BUDGET, f"Building a {shape} DAG")


def _registry_work(
    name: str, tasks: list[tuple[str, Callable[..., Any], list[str]]]
) -> tuple[Work, Work, Work]:
    """The work of registering ``tasks``, of the first build and of a second one."""
    registry = SchedulerRegistry(name)

    def register() -> None:
        for task_id, function, deps in tasks:
            registry.task(task_id, depends_on=deps)(function)

    return _work(register), _work(registry.build_scheduler), _work(registry.build_scheduler)


def test_registry_build_grows_linearly() -> None:
    """Registering, a first build_scheduler() and a second one cost the same per task at
    every size; registering only writes records down."""
    found = []
    for size in SIZES:
        # A function per task, as in a real workflow: each one's declarations are read once.
        tasks = [(task_id, _new_noop(), deps) for task_id, deps in _deps("layered", size).items()]
        found.append(_registry_work(f"scaling-{size}", tasks))
    registering, first, again = zip(*found, strict=True)
    _assert_linear(list(registering), REGISTRATION_BUDGET, "Registering a task")
    _assert_linear(list(first), REGISTRY_FIRST_BUILD_BUDGET, "A registry's first build")
    _assert_linear(list(again), REGISTRY_BUILD_BUDGET, "Building from a registry again")


@pytest.mark.parametrize("written_as", ["objects", "strings"])
def test_registry_build_of_a_value_chain_grows_linearly(written_as: str) -> None:
    """Registering and building a chain passing values through Ref annotations: each
    relation is read, checked and bound at the same cost per task at every size, whether
    its annotations are objects or strings (postponed evaluation)."""
    found = []
    for size in SIZES:
        tasks: list[tuple[str, Callable[..., Any], list[str]]] = [("t0", _step, [])]
        for i in range(1, size):
            step = _value_step()
            if written_as == "objects":
                step.__annotations__ = {"x": Ref[int, F(f"t{i - 1}")], "return": int}
            else:  # read by pattern, not compiled (which these counts would not see)
                step.__annotations__ = {"x": f"Ref[int, F('t{i - 1}')]", "return": "int"}
            tasks.append((f"t{i}", step, []))
        found.append(_registry_work(f"scaling-values-{size}", tasks))
    registering, first, again = zip(*found, strict=True)
    strings = written_as == "strings"
    first_budget = STRING_VALUE_BUILD_BUDGET if strings else REGISTRY_VALUE_FIRST_BUILD_BUDGET
    budget = STRING_VALUE_BUILD_BUDGET if strings else REGISTRY_VALUE_BUILD_BUDGET
    _assert_linear(list(registering), REGISTRATION_BUDGET, "Registering an annotated task")
    _assert_linear(list(first), first_budget, "A value chain's first build")
    _assert_linear(list(again), budget, "Building a value chain again")


def _tracked_per_task(action: Callable[[int], object]) -> float:
    """Objects the garbage collector tracks that ``action(size)`` leaves, per added task."""
    found = []
    for size in SIZES[1:]:
        gc.collect()
        before = len(gc.get_objects())
        kept = action(size)
        gc.collect()
        found.append(len(gc.get_objects()) - before)
        del kept
    return (found[1] - found[0]) / (SIZES[2] - SIZES[1])


@pytest.mark.parametrize("values", [False, True])
def test_registering_and_building_leave_few_objects_to_collect(values: bool) -> None:
    """Registering leaves one tracked object per task and a build a few more, so the
    garbage collector's passes during a large build and its run stay few and short."""
    prepared: dict[int, list[tuple[str, Callable[..., Any], list[str]]]] = {}
    for size in SIZES[1:]:
        if values:
            prepared[size] = [("t0", _step, [])]
            for i in range(1, size):
                step = _value_step()
                step.__annotations__ = {"x": Ref[int, F(f"t{i - 1}")], "return": int}
                prepared[size].append((f"t{i}", step, []))
        else:
            prepared[size] = [(t, _new_noop(), deps) for t, deps in _deps("layered", size).items()]
    registries: dict[int, SchedulerRegistry] = {}

    def register(size: int) -> SchedulerRegistry:
        registry = registries[size] = SchedulerRegistry(f"objects-{values}-{size}")
        for task_id, function, deps in prepared[size]:
            registry.task(task_id, depends_on=deps)(function)
        return registry

    assert _tracked_per_task(register) <= REGISTRATION_OBJECTS
    built = _tracked_per_task(lambda size: registries[size].build_scheduler())
    assert built <= (VALUE_BUILD_OBJECTS if values else BUILD_OBJECTS)


@pytest.mark.parametrize("shape", SHAPES)
async def test_run_grows_linearly(shape: str) -> None:
    """One run (report included) costs the same per task at every size."""
    found = []
    for size in SIZES:
        scheduler = DynamicScheduler(*_scheduler_inputs(shape, size))
        found.append(await _async_work(scheduler.execute))
    _assert_linear(found, RUN_BUDGET, f"Running a {shape} DAG")


async def test_run_passing_values_grows_linearly() -> None:
    """A chain whose tasks take their input from the previous one costs the same per task."""
    found = []
    for size in SIZES:
        deps = _deps("chain", size)
        tasks, orders = _scheduler_inputs("chain", size)
        bindings = {
            task_id: [Binding(param="x", source_id=name) for name in names]
            for task_id, names in deps.items()
        }
        scheduler = DynamicScheduler(
            [(task_id, _step) for task_id, _ in tasks], orders, bindings=bindings
        )
        report = await scheduler.execute()
        assert report.task_return_set[f"t{size - 1}"] == size
        found.append(await _async_work(scheduler.execute))
    _assert_linear(found, RUN_BUDGET, "Running a chain that passes values")


async def test_a_repeated_run_has_a_small_fixed_cost() -> None:
    """A registry.run() of one task, plan already built, stays within its step budget."""
    registry = SchedulerRegistry("fixed-cost")
    registry.task("only")(_noop)
    await registry.run()  # builds the plan, which later runs reuse
    work = await _async_work(registry.run)
    assert work.steps <= RUN_FIXED_BUDGET, (
        f"A one-task registry.run() executes {work.steps} bytecode steps of astrum, over the "
        f"budget of {RUN_FIXED_BUDGET}; make the new work free when unused, or raise the "
        "budget knowingly."
    )


@pytest.mark.parametrize("shape", SHAPES)
async def test_report_statistics_grow_linearly(shape: str) -> None:
    """Reading a report's task and stage statistics costs the same per task at every size."""
    found = []
    for size in SIZES:
        report = await DynamicScheduler(*_scheduler_inputs(shape, size)).execute()
        found.append(_work(lambda: (report.task_statistics, report.stage_statistics)))  # noqa: B023
        assert len(report.task_statistics) == size
    _assert_linear(found, STATISTICS_BUDGET, f"Reading the statistics of a {shape} DAG")


async def test_a_run_creates_at_most_one_asyncio_task_per_task() -> None:
    """A run starts at most one asyncio task per task and a fixed few of its own: no
    polling (a task may go on in its predecessor's, see test_handoff.py)."""
    loop = asyncio.get_running_loop()
    created: dict[int, int] = {}

    def factory(loop: asyncio.AbstractEventLoop, coro: Any) -> asyncio.Task[Any]:
        created[size] += 1
        return asyncio.Task(coro, loop=loop)

    for size in (100, 400):
        created[size] = 0
        scheduler = DynamicScheduler(*_scheduler_inputs("layered", size))
        loop.set_task_factory(factory)
        try:
            report = await scheduler.execute()
        finally:
            loop.set_task_factory(None)
        assert report.execution_state == "completed"
    assert 0 < created[400] - created[100] <= 300
    assert created[100] - 100 <= 2  # closing the run's executors, say
