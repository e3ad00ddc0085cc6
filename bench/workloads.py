"""The workloads every implementation runs: plain data, no scheduler code.

A workload is a DAG given as ``{task id: [ids it waits for]}`` in a topological
order, plus what each task body does. Every implementation turns the same
:class:`Workload` into its own inputs, so they all run exactly the same graph.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "BARRIER_CRITICAL_PATH",
    "Body",
    "Workload",
    "barrier",
    "body",
    "check_results",
    "make",
    "shape",
    "sync_fanout",
]

Body = Literal["noop", "value", "sleep", "sync_sleep"]
"""``noop``: an async function returning None. ``value``: async, returns its input
plus one (a root returns 1). ``sleep``: ``await asyncio.sleep(seconds)``.
``sync_sleep``: a plain function calling ``time.sleep(seconds)``."""

Deps = dict[str, list[str]]

LAYER_WIDTH = 100
BARRIER_CRITICAL_PATH = 0.6


@dataclass(frozen=True)
class Workload:
    """A graph and the body of its tasks."""

    name: str
    deps: Deps
    body: Body = "noop"
    seconds: dict[str, float] = field(default_factory=dict)
    """Per-task duration for the ``sleep`` and ``sync_sleep`` bodies."""

    @property
    def size(self) -> int:
        return len(self.deps)

    def expected_sink_value(self) -> int:
        """What the last task of a ``value`` chain returns: the chain's length."""
        return self.size


def shape(kind: str, n: int) -> Deps:
    """``wide``: n independent tasks; ``chain``: each waits for the one before;
    ``layered``: layers of 100, each task waiting for 1-4 random tasks of the layer above.
    """
    ids = [f"t{i}" for i in range(n)]
    if kind == "wide":
        return {task_id: [] for task_id in ids}
    if kind == "chain":
        return {task_id: [ids[i - 1]] if i else [] for i, task_id in enumerate(ids)}
    if kind == "layered":
        rng = random.Random(20_240_601)  # the same graph in every process
        deps: Deps = {}
        for i, task_id in enumerate(ids):
            layer_start = i - i % LAYER_WIDTH
            above = ids[max(0, layer_start - LAYER_WIDTH) : layer_start]
            deps[task_id] = rng.sample(above, min(len(above), rng.randint(1, 4))) if above else []
        return deps
    raise ValueError(f"Unknown graph shape {kind!r}; use wide, chain or layered.")


def barrier() -> Workload:
    """a1 (0.3 s) -> a2 (0.3 s) beside b1 -> ... -> b6 (0.1 s each): critical path 0.6 s.

    A scheduler with stage barriers makes a2 wait for b2 and so on; a dynamic one
    finishes in the critical path.
    """
    deps: Deps = {"a1": [], "a2": ["a1"]}
    seconds = {"a1": 0.3, "a2": 0.3}
    for i in range(1, 7):
        deps[f"b{i}"] = [f"b{i - 1}"] if i > 1 else []
        seconds[f"b{i}"] = 0.1
    return Workload("barrier", deps, "sleep", seconds)


def sync_fanout() -> Workload:
    """Four independent plain functions, each blocking in ``time.sleep(0.2)``."""
    deps: Deps = {f"s{i}": [] for i in range(4)}
    return Workload("sync_fanout", deps, "sync_sleep", dict.fromkeys(deps, 0.2))


def make(name: str, size: int) -> Workload:
    """The workload called ``name`` (``wide``, ``chain``, ``layered``, ``value_chain``,
    ``value_chain_strings``, ``barrier``, ``sync_fanout``); ``size`` applies to all but the
    last two. ``value_chain_strings`` is ``value_chain`` for every implementation but the
    registry, which writes its annotations as strings, as ``from __future__ import
    annotations`` does."""
    if name == "barrier":
        return barrier()
    if name == "sync_fanout":
        return sync_fanout()
    if name in ("value_chain", "value_chain_strings"):
        return Workload(name, shape("chain", size), "value")
    return Workload(name, shape(name, size))


async def noop() -> None:
    """The body of a no-op task."""


async def step(x: int = 0) -> int:
    """The body of a ``value`` task: its input plus one."""
    return x + 1


def check_results(workload: Workload, results: Mapping[str, Any], who: str) -> None:
    """Every task returned, and a value chain's last task returned the chain's length."""
    assert len(results) == workload.size, f"{who} returned {len(results)} of {workload.size}"
    if workload.body == "value":
        last = results[f"t{workload.size - 1}"]
        assert last == workload.expected_sink_value(), f"{who} ended the chain with {last}"


def body(workload: Workload, task_id: str) -> Callable[..., Any]:
    """The function task ``task_id`` runs; no-op and value tasks share one function."""
    if workload.body == "noop":
        return noop
    if workload.body == "value":
        return step
    seconds = workload.seconds[task_id]
    if workload.body == "sleep":

        async def sleeper() -> None:
            await asyncio.sleep(seconds)

        return sleeper

    def blocker() -> None:
        time.sleep(seconds)

    return blocker
