"""Hypothesis strategies shared by the test suite.

Each feature adds a clearly named section: graphs (random DAGs, graphs with a
cycle, per-task behaviours for runs with failures, timeouts and retries, bad
registrations for fuzzing), data transport, views, caching and executors.
Reuse these rather than redefining them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hypothesis import strategies as st

__all__ = [
    "FUNCTION_KINDS",
    "FUZZ_IDS",
    "AttemptOutcome",
    "ContainerInput",
    "Dag",
    "DataDag",
    "DataRelation",
    "MapChain",
    "Placement",
    "ResumeCase",
    "TaskBehaviour",
    "ancestors",
    "cache_values",
    "config_kwargs",
    "container_inputs",
    "cyclic_graphs",
    "dag_task_behaviours",
    "dags",
    "data_dags",
    "failing_dags",
    "fuzz_function",
    "map_chains",
    "placements",
    "registration_kwargs",
    "resume_cases",
    "spans",
    "target_lists",
    "task_behaviours",
]

# -- graphs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Dag:
    """A graph as task ids and, for each id, the ids it waits for.

    ``ids`` is listed in an arbitrary order (not necessarily topological);
    ``deps[i]`` are the dependencies of ``ids[i]``.
    """

    ids: tuple[str, ...]
    deps: tuple[tuple[str, ...], ...]

    def deps_of(self) -> dict[str, tuple[str, ...]]:
        return dict(zip(self.ids, self.deps, strict=True))

    def edges(self) -> set[tuple[str, str]]:
        """``(dependency, dependent)`` pairs."""
        return {(dep, task) for task, deps in self.deps_of().items() for dep in deps}


def _name(rank: int) -> str:
    return f"t{rank}"


@st.composite
def dags(draw: st.DrawFn, min_tasks: int = 1, max_tasks: int = 12) -> Dag:
    """A random acyclic graph: each task may wait for any tasks created before it.

    The creation order is hidden by shuffling the listing order, so callers
    cannot rely on the input already being topological.
    """
    n = draw(st.integers(min_tasks, max_tasks))
    deps: list[tuple[str, ...]] = []
    for rank in range(n):
        earlier = [_name(i) for i in range(rank)]
        chosen = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if rank else []
        deps.append(tuple(chosen))
    listing = draw(st.permutations(range(n)))
    return Dag(
        ids=tuple(_name(i) for i in listing),
        deps=tuple(deps[i] for i in listing),
    )


@st.composite
def cyclic_graphs(draw: st.DrawFn, max_tasks: int = 10) -> Dag:
    """A random DAG plus one back edge, so the graph has at least one cycle.

    The back edge makes an earlier-created task wait for a later one that
    (transitively or directly) waits for it, or a task wait for itself.
    """
    dag = draw(dags(min_tasks=1, max_tasks=max_tasks))
    deps = dag.deps_of()
    # Pick a chain upstream -> ... -> downstream by walking dependencies down from a task.
    downstream = draw(st.sampled_from(sorted(dag.ids)))
    upstream = downstream
    for _ in range(draw(st.integers(0, 4))):
        if not deps[upstream]:
            break
        upstream = draw(st.sampled_from(deps[upstream]))
    # upstream is an ancestor of downstream (or the same task); close the loop.
    deps[upstream] = (*deps[upstream], downstream)
    return Dag(ids=dag.ids, deps=tuple(deps[task] for task in dag.ids))


# -- behaviours for runs ----------------------------------------------------------------

AttemptOutcome = str
"""``"ok"`` returns, ``"fail"`` raises ``ValueError``, ``"fatal"`` raises ``KeyError``
(not retried when ``retry_on=(ValueError,)``), ``"hang"`` sleeps past the task's timeout."""


@dataclass(frozen=True)
class TaskBehaviour:
    """What one task's body does on each attempt, and its retry/timeout policy."""

    outcomes: tuple[AttemptOutcome, ...]
    """One entry per attempt; attempts beyond the list succeed."""
    duration: float
    retry: int
    timeout: float | None
    sync: bool

    def outcome(self, attempt: int) -> AttemptOutcome:
        """The outcome of attempt number ``attempt`` (counting from 1)."""
        return self.outcomes[attempt - 1] if attempt <= len(self.outcomes) else "ok"


HANG_SECONDS = 10.0
"""How long a ``"hang"`` attempt sleeps; every generated timeout is far below it."""


@st.composite
def task_behaviours(draw: st.DrawFn, *, allow_sync: bool = False) -> TaskBehaviour:
    """One task's behaviour: mostly successes, some failures, timeouts and retries."""
    retry = draw(st.integers(0, 2))
    outcome = st.sampled_from(["ok", "ok", "ok", "fail", "fatal", "hang"])
    outcomes = tuple(draw(st.lists(outcome, max_size=retry + 1)))
    timeout = 1.0 if "hang" in outcomes else draw(st.sampled_from([None, 1.0]))
    return TaskBehaviour(
        outcomes=outcomes,
        duration=draw(st.sampled_from([0.0, 0.01, 0.1, 0.25])),
        retry=retry,
        timeout=timeout,
        sync=allow_sync and "hang" not in outcomes and draw(st.booleans()),
    )


@st.composite
def dag_task_behaviours(
    draw: st.DrawFn, max_tasks: int = 10, *, allow_sync: bool = False
) -> tuple[Dag, dict[str, TaskBehaviour]]:
    """A random DAG with a :class:`TaskBehaviour` for each of its tasks."""
    dag = draw(dags(min_tasks=1, max_tasks=max_tasks))
    behaviours = {task: draw(task_behaviours(allow_sync=allow_sync)) for task in dag.ids}
    return dag, behaviours


def ancestors(deps: Mapping[str, Sequence[str]], task: str) -> set[str]:
    """Every task ``task`` waits for, transitively."""
    seen: set[str] = set()
    stack = list(deps[task])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(deps[node])
    return seen


# -- registrations for fuzzing the build ------------------------------------------------------

FUZZ_IDS = ("a", "b", "c")
"""The task ids fuzzed registrations use (so dependencies and targets can hit them)."""


def _numbers(*good: float) -> st.SearchStrategy[Any]:
    """Numbers for a numeric option: some good ones, and NaN, infinities, bools, strings."""
    return st.one_of(
        st.sampled_from(good),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-3, 3),
        st.booleans(),
        st.sampled_from(["1", None, [1]]),
    )


async def _async_body() -> int:
    return 1


def _sync_body() -> int:
    return 2


def _class_body(cls: type) -> int:
    return 4


def fuzz_function(kind: str) -> Any:
    """A fresh object to decorate, by kind (coroutine objects must be fresh each time)."""
    makers: dict[str, Callable[[], Any]] = {
        "async": lambda: _async_body,
        "sync": lambda: _sync_body,
        "lambda": lambda: lambda: 3,
        "coroutine-object": _async_body,  # called: a coroutine object, the classic mistake
        "int": lambda: 1,
        "none": lambda: None,
        "str": lambda: "a",
        "staticmethod": lambda: staticmethod(_sync_body),
        "classmethod": lambda: classmethod(_class_body),
    }
    return makers[kind]()


FUNCTION_KINDS = (
    "async",
    "sync",
    "lambda",
    "coroutine-object",
    "int",
    "none",
    "str",
    "staticmethod",
    "classmethod",
)

_task_ids = st.one_of(
    st.sampled_from(FUZZ_IDS), st.sampled_from([None, "", 7, b"a", ("a",), ["a"]])
)
_id_lists = st.one_of(
    st.lists(st.sampled_from((*FUZZ_IDS, "ghost")), max_size=3),
    st.sampled_from(["a", 5, None, [None], [1], [["a"]], ("a", "b"), {"a": 1}]),
)


@st.composite
def registration_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments for ``registry.task(...)``, each one good or bad at random.

    ``function_kind`` (a key of :data:`FUNCTION_KINDS`) says what gets decorated.
    """
    options: dict[str, st.SearchStrategy[Any]] = {
        "task_id": _task_ids,
        "depends_on": _id_lists,
        "retry": st.one_of(st.integers(-2, 3), st.sampled_from([True, 1.5, "2", None])),
        "timeout": _numbers(0.5, 1, 30),
        "retry_delay": _numbers(0, 0.1),
        "retry_backoff": _numbers(1, 2.0),
        "retry_max_delay": _numbers(1, 5.0),
        "retry_jitter": _numbers(0, 0.5),
        "retry_on": st.sampled_from(
            [(Exception,), ValueError, (ValueError, KeyError), "ValueError", (1,), (), None, int]
        ),
        "executor": st.sampled_from(["thread", "inline", "bogus", 1, None]),
        "tags": st.sampled_from([(), ("io",), "io", ("",), (1,), None, 5]),
        # misspelt keywords: a TypeError that suggests the right one
        "retries": st.just(2),
        "depend_on": _id_lists,
        "tmeout": st.just(1.0),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(options)), unique=True, max_size=5))
    kwargs = {name: draw(options[name]) for name in chosen}
    kwargs["function_kind"] = draw(st.sampled_from(FUNCTION_KINDS))
    return kwargs


@st.composite
def config_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments for ``AstrumConfig(...)``, each one good or bad at random."""
    options: dict[str, st.SearchStrategy[Any]] = {
        "concurrency_limit": st.sampled_from([None, 1, 4, 0, -1, True, 2.5, "2"]),
        "max_workers": st.sampled_from([None, 2, 0, False, "3"]),
        "on_failure": st.sampled_from(["fail_fast", "continue", "bogus", None]),
        "run_timeout": _numbers(1, 10.0),
        "executor": st.sampled_from(["thread", "inline", "bogus", 1]),
        "ignore_tail_task": st.one_of(_id_lists, st.just([])),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(options)), unique=True, max_size=3))
    return {name: draw(options[name]) for name in chosen}


target_lists: st.SearchStrategy[Any] = st.one_of(st.none(), _id_lists)
"""``target_tasks`` values, good or bad."""


# -- data transport: DAGs whose edges carry values --------------------------------------

DataStyle = Literal["param", "return", "explicit"]
"""``param``: ``Ref[..., F(...)]``; ``return``: ``T(...)`` on the source; ``explicit``: TaskData."""


@dataclass(frozen=True)
class DataRelation:
    """Task ``receiver`` gets ``source``'s result (or ``locator`` of it) as parameter ``param``."""

    source: int
    receiver: int
    param: str
    locator: str | int | None
    style: DataStyle


@dataclass(frozen=True)
class DataDag:
    """``size`` tasks numbered 0..size-1; relations only go from lower to higher numbers."""

    size: int
    relations: tuple[DataRelation, ...]
    is_async: tuple[bool, ...]
    returns_mapping: tuple[bool, ...]
    """Whether each task returns a dict (str locators read keys) or an object (attributes)."""


@st.composite
def data_dags(draw: st.DrawFn, max_tasks: int = 8) -> DataDag:
    """A random DAG with data relations; each receiver parameter is fed exactly once."""
    size = draw(st.integers(min_value=1, max_value=max_tasks))
    relations = []
    for receiver in range(1, size):
        sources = draw(
            st.lists(st.integers(min_value=0, max_value=receiver - 1), max_size=3, unique=True)
        )
        for n, source in enumerate(sources):
            relations.append(
                DataRelation(
                    source=source,
                    receiver=receiver,
                    param=f"p{n}",
                    locator=draw(st.sampled_from([None, "name", 0, 1])),
                    style=draw(st.sampled_from(["param", "return", "explicit"])),
                )
            )
    return DataDag(
        size=size,
        relations=tuple(relations),
        is_async=tuple(draw(st.lists(st.booleans(), min_size=size, max_size=size))),
        returns_mapping=tuple(draw(st.lists(st.booleans(), min_size=size, max_size=size))),
    )


# -- views: timelines ---------------------------------------------------------------------


def spans(max_size: int = 40) -> st.SearchStrategy[list[tuple[float, float]]]:
    """Lists of ``(start, end)`` time spans with ``start <= end``, touching and overlapping."""
    span = st.tuples(st.integers(0, 50), st.integers(0, 20)).map(
        lambda pair: (pair[0] / 10, (pair[0] + pair[1]) / 10)
    )
    return st.lists(span, max_size=max_size)


@st.composite
def failing_dags(draw: st.DrawFn, max_tasks: int = 12) -> tuple[Dag, frozenset[str]]:
    """A random DAG, some of whose tasks are mapped instances (``name[i]``), and the tasks
    whose body fails, for views of runs that ended in every way."""
    dag = draw(dags(min_tasks=1, max_tasks=max_tasks))
    mapped = draw(st.booleans())
    if mapped:  # rename the tasks so the later half share one mapped name
        half = len(dag.ids) // 2
        names = {task: (f"part[{i}]" if i >= half else task) for i, task in enumerate(dag.ids)}
        dag = Dag(
            ids=tuple(names[task] for task in dag.ids),
            deps=tuple(tuple(names[dep] for dep in deps) for deps in dag.deps),
        )
    failing = draw(st.sets(st.sampled_from(dag.ids), max_size=3))
    return dag, frozenset(failing)


# -- caching and resume --------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=8)
)


def cache_values() -> st.SearchStrategy[object]:
    """Nested values of the kinds task inputs usually are: scalars, lists, dicts, sets."""
    hashable = st.recursive(_scalars, lambda inner: st.tuples(inner, inner), max_leaves=4)
    return st.recursive(
        _scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.tuples(inner, inner)
            | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=4)
            | st.frozensets(hashable, max_size=4)
            | st.sets(hashable, max_size=4)
        ),
        max_leaves=12,
    )


@dataclass(frozen=True)
class ResumeCase:
    """A DAG whose ``failing`` tasks fail in the first run only; ``data`` edges carry values."""

    dag: Dag
    failing: frozenset[str]
    data: frozenset[tuple[str, str]]
    """``(dependency, dependent)`` edges whose value is passed as an argument."""
    cached: frozenset[str]
    """Tasks with ``cache=True``; the others are restored only by resume."""
    on_failure: str


@st.composite
def resume_cases(draw: st.DrawFn, max_tasks: int = 10) -> ResumeCase:
    """A :class:`ResumeCase` with at least one failing task."""
    dag = draw(dags(min_tasks=1, max_tasks=max_tasks))
    ids = sorted(dag.ids)
    failing = draw(st.frozensets(st.sampled_from(ids), min_size=1, max_size=3))
    edges = sorted(
        (dep, task) for task, deps in zip(dag.ids, dag.deps, strict=True) for dep in deps
    )
    data = (
        draw(st.frozensets(st.sampled_from(edges), max_size=len(edges))) if edges else frozenset()
    )
    cached = draw(st.frozensets(st.sampled_from(ids), max_size=len(ids)))
    on_failure = draw(st.sampled_from(["fail_fast", "continue"]))
    return ResumeCase(dag, failing, data, cached, on_failure)


# -- executors: where each task of a DAG runs ----------------------------------------------

Placement = Literal["loop", "inline", "thread", "dask"]
"""``loop``: an async task; the others: a sync task with that executor (``dask``: a cluster)."""


def placements(size: int) -> st.SearchStrategy[tuple[Placement, ...]]:
    """Where each of ``size`` tasks runs."""
    choice: st.SearchStrategy[Placement] = st.sampled_from(["loop", "inline", "thread", "dask"])
    return st.lists(choice, min_size=size, max_size=size).map(tuple)


# -- dynamic workflows: chains of maps whose instances fail or skip -------------------------

Outcome = Literal["ok", "fail", "skip"]


@dataclass(frozen=True)
class MapChain:
    """A source of ``elements`` items, then ``len(outcomes)`` maps chained element-wise.

    ``outcomes[s][i]`` is what instance i of map s does when it runs; ``streaming``
    makes the source an async generator instead of a task returning a list;
    ``zipped`` gives the maps after the first a second ``Each`` over the source.
    """

    elements: int
    outcomes: tuple[tuple[Outcome, ...], ...]
    streaming: bool
    zipped: bool = False

    def reaches(self, stage: int, element: int) -> bool:
        """Whether instance ``element`` of map ``stage`` runs: every one before it was ok."""
        return all(self.outcomes[s][element] == "ok" for s in range(stage))


@st.composite
def map_chains(draw: st.DrawFn, max_elements: int = 6, max_stages: int = 3) -> MapChain:
    elements = draw(st.integers(0, max_elements))
    stages = draw(st.integers(1, max_stages))
    outcome: st.SearchStrategy[Outcome] = st.sampled_from(["ok", "ok", "ok", "fail", "skip"])
    outcomes = tuple(
        tuple(draw(st.lists(outcome, min_size=elements, max_size=elements))) for _ in range(stages)
    )
    return MapChain(elements, outcomes, draw(st.booleans()), draw(st.booleans()))


# -- inputs: container values checked element by element --------------------------------------

_ELEMENTS: dict[type, tuple[st.SearchStrategy[Any], Any]] = {
    int: (st.integers(-5, 5), "7"),
    str: (st.text(max_size=3), 7),
    float: (st.floats(allow_nan=False, allow_infinity=False), "7.0"),
}


@dataclass(frozen=True)
class ContainerInput:
    """A run-time input value for ``annotation``; ``wrong_at`` is where it is wrong, if at all."""

    annotation: Any
    value: Any
    wrong_at: int | None


@st.composite
def container_inputs(draw: st.DrawFn) -> ContainerInput:
    """A ``list``, ``tuple[X, ...]``, ``set`` or ``dict[str, X]`` value, maybe one element wrong.

    The wrong element sits among the first 20, which are always checked.
    """
    element = draw(st.sampled_from(sorted(_ELEMENTS, key=lambda t: t.__name__)))
    good, bad = _ELEMENTS[element]
    items = draw(st.lists(good, max_size=30))
    wrong_at = draw(st.none() | st.integers(0, min(len(items), 19)))
    if wrong_at is not None:
        items.insert(wrong_at, bad)
    kind = draw(st.sampled_from(["list", "tuple", "set", "dict"]))
    if kind == "list":
        return ContainerInput(list[element], items, wrong_at)  # type: ignore[valid-type]  # a runtime type
    if kind == "tuple":
        return ContainerInput(tuple[element, ...], tuple(items), wrong_at)  # type: ignore[valid-type]  # a runtime type
    if kind == "set":
        # A set's order is its own (a str's place changes with the hash seed): only whether
        # something is wrong can be asserted, and only when all its elements are checked.
        return ContainerInput(set[element], set(items[:20]), wrong_at)  # type: ignore[valid-type]  # a runtime type
    value = {f"k{i}": item for i, item in enumerate(items)}
    return ContainerInput(dict[str, element], value, wrong_at)  # type: ignore[valid-type]  # a runtime type
