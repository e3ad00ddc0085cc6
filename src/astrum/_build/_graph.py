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
    """The slots where a graph keeps what it works out when first asked.

    A run needs each task's successors and how many tasks it waits for; the
    lists of what each task waits for, and the levels, are read only by the
    plan's views, reports, caches and target selection. Working them out costs
    a tuple per task and a step per edge, so they are made on first read. They
    depend on the edges alone and are the same whenever computed, so keeping
    them does not change the graph; two threads that compute them at once
    store equal values.
    """

    __slots__ = ("_levels", "_preds")
    _levels: tuple[int, ...] | None
    _preds: tuple[tuple[int, ...], ...] | None


@dataclass(frozen=True, slots=True)
class Graph(_Memo):
    """Tasks numbered 0..n-1 in a topological order, with edges both ways."""

    ids: tuple[str, ...]
    index: Mapping[str, int]
    succs: tuple[tuple[int, ...], ...]
    """The tasks that wait for each task, ascending."""
    waiting: tuple[int, ...]
    """How many tasks each task waits for."""

    def __post_init__(self) -> None:
        _set_levels(self, None)  # not computed yet
        _set_preds(self, None)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def preds(self) -> tuple[tuple[int, ...], ...]:
        """The tasks each task waits for, ascending."""
        try:
            found = self._preds
        except AttributeError:  # a copy or an unpickled graph: the slot is empty
            found = None
        if found is None:
            found = _transposed(self.succs)
            _set_preds(self, found)  # frozen: written past __setattr__, once
        return found

    @property
    def levels(self) -> tuple[int, ...]:
        """Length of the longest path from a root to each task."""
        try:
            found = self._levels
        except AttributeError:  # as for preds
            found = None
        if found is None:
            levels: list[int] = []
            for node_preds in self.preds:  # numbered topologically: predecessors are known
                level = 0
                for pred in node_preds:
                    if levels[pred] >= level:
                        level = levels[pred] + 1
                levels.append(level)
            found = tuple(levels)
            _set_levels(self, found)
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
_set_preds = _Memo.__dict__["_preds"].__set__


def make_graph(ids: Sequence[str], deps: Sequence[Collection[str]]) -> Graph:
    """Number the tasks topologically; ``deps[i]`` are the ids task ``ids[i]`` waits for.

    Callers check ids are unique and every dependency is known; this raises
    :class:`TaskOrderLoopError` (with the cycle) when the graph is not acyclic.
    Ties keep the given order, so the numbering is deterministic. A dependency
    listed twice counts once.
    """
    n = len(ids)
    positions = dict(zip(ids, range(n), strict=True))
    position_of = positions.__getitem__
    # One step per edge, as a hand-written program would take: successors are added in
    # task order, so each task's come out ascending. Most tasks have one successor or none:
    # a tuple of one, made once; a list only for those with more.
    later: list[tuple[int, ...] | list[int]] = [()] * n
    grown: list[int] = []  # the tasks whose successors are in a list
    waiting = list(map(len, deps))
    in_order = True
    for node, node_deps in enumerate(deps):
        for dep in node_deps:
            pred = position_of(dep)
            if pred >= node:
                in_order = False  # the tasks must be numbered anew, below
            found = later[pred]
            if not found:
                later[pred] = (node,)
            elif found[-1] == node:  # listed twice (a TaskOrder may): counted once
                waiting[node] -= 1
            elif type(found) is list:
                found.append(node)
            else:
                later[pred] = [*found, node]
                grown.append(pred)
    for pred in grown:
        later[pred] = tuple(later[pred])
    succs: tuple[tuple[int, ...], ...] = tuple(later)  # type: ignore[arg-type]  # lists gone
    if in_order:  # usual for registries: registration follows the dependencies
        return Graph(tuple(ids), positions, succs, tuple(waiting))
    left = waiting.copy()
    order = [node for node in range(n) if not left[node]]
    for node in order:  # the list grows while we walk it: Kahn's algorithm
        for succ in succs[node]:
            left[succ] -= 1
            if not left[succ]:
                order.append(succ)
    if len(order) < n:
        stuck = [node for node in range(n) if left[node]]
        cycle = [ids[node] for node in find_cycle(stuck, _transposed(succs))]
        error = TaskOrderNoExitError if all(waiting) else TaskOrderLoopError
        raise error(cycle)
    rank = [0] * n
    for position_in_order, node in enumerate(order):
        rank[node] = position_in_order
    new_succs = tuple(_renumbered(succs[node], rank) for node in order)
    new_waiting = tuple(waiting[node] for node in order)
    new_ids = tuple(ids[node] for node in order)
    return Graph(new_ids, dict(zip(new_ids, range(n), strict=True)), new_succs, new_waiting)


def _transposed(succs: Sequence[Sequence[int]]) -> tuple[tuple[int, ...], ...]:
    """The predecessors of each node, ascending, from the successors of each."""
    preds: list[list[int]] = [[] for _ in succs]
    for node, node_succs in enumerate(succs):
        for succ in node_succs:
            preds[succ].append(node)  # nodes in ascending order: each list comes out sorted
    return tuple(map(tuple, preds))


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
