"""The graph core: an immutable, index-based DAG and the algorithms on it.

Plain synchronous code, no asyncio. Every algorithm is iterative and
O(tasks + edges), so a 100,000-task chain neither recurses nor rescans.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from astrum._errors import TaskOrderLoopError, TaskOrderNoExitError

__all__ = ["Graph", "closure_upstream", "find_cycle", "make_graph"]


class _Memo:
    """The slot where a graph keeps its levels once they are first read.

    Most runs never read them (only the plan's views and a report's stage
    statistics do), and working them out costs a step per edge. They depend on
    the edges alone and are the same whenever computed, so keeping them does
    not change the graph; two threads that compute them at once store equal
    values.
    """

    __slots__ = ("_levels",)
    _levels: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class Graph(_Memo):
    """Tasks numbered 0..n-1 in a topological order, with edges both ways."""

    ids: tuple[str, ...]
    index: Mapping[str, int]
    preds: tuple[tuple[int, ...], ...]
    succs: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        _set_levels(self, None)  # not computed yet

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def levels(self) -> tuple[int, ...]:
        """Length of the longest path from a root to each task."""
        found = self._levels
        if found is None:
            levels: list[int] = []
            for node_preds in self.preds:  # numbered topologically: predecessors are known
                level = 0
                for pred in node_preds:
                    if levels[pred] >= level:
                        level = levels[pred] + 1
                levels.append(level)
            found = tuple(levels)
            _set_levels(self, found)  # frozen: written past __setattr__, once
        return found

    @property
    def depth(self) -> int:
        """How many levels there are."""
        return max(self.levels, default=-1) + 1  # levels run from 0 without a gap

    @property
    def width(self) -> int:
        """How many tasks the widest level holds."""
        return max(Counter(self.levels).values(), default=0)

    def level_groups(self) -> list[list[int]]:
        groups: list[list[int]] = [[] for _ in range(self.depth)]
        for node, level in enumerate(self.levels):
            groups[level].append(node)
        return groups


_set_levels = _Memo.__dict__["_levels"].__set__


def make_graph(ids: Sequence[str], deps: Sequence[Collection[str]]) -> Graph:
    """Number the tasks topologically; ``deps[i]`` are the ids task ``ids[i]`` waits for.

    Callers check ids are unique and every dependency is known; this raises
    :class:`TaskOrderLoopError` (with the cycle) when the graph is not acyclic.
    Ties keep the given order, so the numbering is deterministic.
    """
    n = len(ids)
    positions = dict(zip(ids, range(n), strict=True))
    position_of = positions.__getitem__
    preds: list[tuple[int, ...]] = []
    # Successors only for tasks that have some (none at all in a wide graph), and a list
    # only for those with more than one.
    later: list[tuple[int] | list[int] | None] = [None] * n
    in_order = True
    for node, node_deps in enumerate(deps):
        if not node_deps:
            preds.append(())
            continue
        if len(node_deps) == 1:  # the usual case, without a map object
            (dep,) = node_deps
            node_preds: tuple[int, ...] = (position_of(dep),)
        else:  # ascending; a task listed twice is rare, so found below rather than by a set
            node_preds = tuple(sorted(map(position_of, node_deps)))
        if node_preds[-1] >= node:  # the last is the greatest
            in_order = False  # the tasks must be numbered anew, below
        for pred in node_preds:
            found = later[pred]
            if found is None:
                later[pred] = (node,)
            elif found[-1] == node:  # listed twice (a TaskOrder may): keep each once
                node_preds = tuple(sorted(set(node_preds)))
            elif type(found) is list:
                found.append(node)
            else:
                later[pred] = [*found, node]
        preds.append(node_preds)
    succs = [() if found is None else tuple(found) for found in later]  # a tuple stays itself
    if in_order:  # usual for registries: registration follows the dependencies
        return Graph(tuple(ids), positions, tuple(preds), tuple(succs))
    waiting = list(map(len, preds))
    order = [node for node in range(n) if not waiting[node]]
    for node in order:  # the list grows while we walk it: Kahn's algorithm
        for succ in succs[node]:
            waiting[succ] -= 1
            if not waiting[succ]:
                order.append(succ)
    if len(order) < n:
        stuck = [node for node in range(n) if waiting[node]]
        cycle = [ids[node] for node in find_cycle(stuck, preds)]
        error = TaskOrderNoExitError if not any(not p for p in preds) else TaskOrderLoopError
        raise error(cycle)
    rank = [0] * n
    for position_in_order, node in enumerate(order):
        rank[node] = position_in_order
    new_preds = tuple(_renumbered(preds[node], rank) for node in order)
    new_succs = tuple(_renumbered(succs[node], rank) for node in order)
    new_ids = tuple(ids[node] for node in order)
    return Graph(new_ids, dict(zip(new_ids, range(n), strict=True)), new_preds, new_succs)


def _renumbered(nodes: Sequence[int], rank: Sequence[int]) -> tuple[int, ...]:
    """``nodes`` in the new numbering, ascending; most lists hold one node or none."""
    if not nodes:
        return ()
    if len(nodes) == 1:
        return (rank[nodes[0]],)
    return tuple(sorted([rank[node] for node in nodes]))


def find_cycle(candidates: Iterable[int], preds: Sequence[Sequence[int]]) -> list[int]:
    """A cycle among ``candidates`` (nodes Kahn's algorithm could not order).

    Every such node has an unordered predecessor, so walking predecessors must
    revisit a node; the walk from there is the cycle, returned in dependency
    order from its lowest-numbered node, repeated at the end (``a -> b -> a``).
    """
    stuck = set(candidates)
    node = next(iter(stuck))
    seen: dict[int, int] = {}
    walk: list[int] = []
    while node not in seen:
        seen[node] = len(walk)
        walk.append(node)
        node = next(p for p in preds[node] if p in stuck)
    loop = walk[seen[node] :]
    loop.reverse()  # we walked against the edges; report in the order tasks run
    # Start at the first-listed task of the cycle, so the message is stable and
    # reads in the order the user declared the tasks.
    first = loop.index(min(loop))
    loop = loop[first:] + loop[:first]
    return [*loop, loop[0]]


def closure_upstream(targets: Iterable[int], preds: Sequence[Sequence[int]]) -> list[int]:
    """The targets and everything they depend on, transitively, in ascending order."""
    seen: set[int] = set()
    stack = list(targets)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(preds[node])
    return sorted(seen)
