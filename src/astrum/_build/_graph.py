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


@dataclass(frozen=True, slots=True)
class Graph:
    """Tasks numbered 0..n-1 in a topological order, with edges both ways."""

    ids: tuple[str, ...]
    index: Mapping[str, int]
    preds: tuple[tuple[int, ...], ...]
    succs: tuple[tuple[int, ...], ...]
    levels: tuple[int, ...]
    """Length of the longest path from a root to each task."""
    depth: int = 0
    """How many levels there are."""
    width: int = 0
    """How many tasks the widest level holds."""

    def __len__(self) -> int:
        return len(self.ids)

    def level_groups(self) -> list[list[int]]:
        groups: list[list[int]] = [[] for _ in range(self.depth)]
        for node, level in enumerate(self.levels):
            groups[level].append(node)
        return groups


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
    levels: list[int] = []
    in_order = True
    for node, node_deps in enumerate(deps):
        if not node_deps:
            preds.append(())
            levels.append(0)
            continue
        if len(node_deps) == 1:  # the usual case, without a map object
            (dep,) = node_deps
            node_preds: tuple[int, ...] = (position_of(dep),)
        else:  # ascending; a task listed twice is rare, so found below rather than by a set
            node_preds = tuple(sorted(map(position_of, node_deps)))
        # The level of each task, while every task comes after what it waits for.
        level = 0
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
            if not in_order:
                continue
            if pred >= node:
                in_order = False  # the tasks must be numbered anew, below
            elif levels[pred] >= level:
                level = levels[pred] + 1
        preds.append(node_preds)
        levels.append(level)
    succs = [() if found is None else tuple(found) for found in later]  # a tuple stays itself
    if in_order:  # usual for registries: registration follows the dependencies
        return _graph(tuple(ids), tuple(preds), tuple(succs), levels, positions)
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
    levels = []
    for node_preds in new_preds:  # predecessors come first, so their levels are known
        level = 0
        for pred in node_preds:
            if levels[pred] >= level:
                level = levels[pred] + 1
        levels.append(level)
    new_ids = tuple(ids[node] for node in order)
    return _graph(new_ids, new_preds, new_succs, levels, dict(zip(new_ids, range(n), strict=True)))


def _graph(
    ids: tuple[str, ...],
    preds: tuple[tuple[int, ...], ...],
    succs: tuple[tuple[int, ...], ...],
    levels: list[int],
    index: dict[str, int],
) -> Graph:
    per_level = Counter(levels)  # tasks per level, for the plan's depth and width
    return Graph(
        ids=ids,
        index=index,
        preds=preds,
        succs=succs,
        levels=tuple(levels),
        depth=len(per_level),  # levels run from 0 without a gap
        width=max(per_level.values(), default=0),
    )


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
