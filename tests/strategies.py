"""Hypothesis strategies shared by the test suite. Extend this file; don't duplicate it.

Graphs: :func:`dags` draws random DAGs. Caching and resume:
:func:`cache_values` draws values a cache key must hash, and
:func:`resume_cases` draws a DAG with tasks that fail in a first run.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

__all__ = ["Dag", "ResumeCase", "cache_values", "dags", "resume_cases"]

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
    edges = sorted(dag.edges())
    data = (
        draw(st.frozensets(st.sampled_from(edges), max_size=len(edges))) if edges else frozenset()
    )
    cached = draw(st.frozensets(st.sampled_from(ids), max_size=len(ids)))
    on_failure = draw(st.sampled_from(["fail_fast", "continue"]))
    return ResumeCase(dag, failing, data, cached, on_failure)
