"""Hypothesis strategies shared by the test suite.

Each feature adds a clearly named section; reuse these rather than redefining them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hypothesis import strategies as st

__all__ = [
    "Dag",
    "DataDag",
    "DataRelation",
    "Placement",
    "ResumeCase",
    "cache_values",
    "dags",
    "data_dags",
    "placements",
    "resume_cases",
    "spans",
]

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


# -- graphs: random DAGs -----------------------------------------------------------------


@dataclass(frozen=True)
class Dag:
    """A graph as task ids and, for each id, the ids it waits for (``deps[i]`` of ``ids[i]``)."""

    ids: tuple[str, ...]
    deps: tuple[tuple[str, ...], ...]


@st.composite
def dags(draw: st.DrawFn, min_tasks: int = 1, max_tasks: int = 12) -> Dag:
    """A random acyclic graph: each task may wait for tasks created before it, listed shuffled."""
    count = draw(st.integers(min_tasks, max_tasks))
    deps: list[tuple[str, ...]] = []
    for rank in range(count):
        earlier = [f"t{i}" for i in range(rank)]
        chosen = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if rank else []
        deps.append(tuple(chosen))
    listing = draw(st.permutations(range(count)))
    return Dag(ids=tuple(f"t{i}" for i in listing), deps=tuple(deps[i] for i in listing))


# -- views: timelines ---------------------------------------------------------------------


def spans(max_size: int = 40) -> st.SearchStrategy[list[tuple[float, float]]]:
    """Lists of ``(start, end)`` time spans with ``start <= end``, touching and overlapping."""
    span = st.tuples(st.integers(0, 50), st.integers(0, 20)).map(
        lambda pair: (pair[0] / 10, (pair[0] + pair[1]) / 10)
    )
    return st.lists(span, max_size=max_size)


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
