"""Instances of a map: one record per element, started as soon as its element exists.

Methods of :class:`~astrum._run._maprun.DynamicRun`, written as functions of
the run and bound in its class body. An instance is a record of the same
per-run lists as the plan's tasks, numbered after them (see
:mod:`astrum._run._maprun` for the rules); :class:`~astrum._run._mapstate.MapState`
is what a map keeps while its elements arrive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from contextvars import Context, copy_context
from functools import partial
from itertools import repeat
from typing import Any

from astrum._build._plan import Binding, TaskSpec, instance_name, instance_spec
from astrum._errors import Skip
from astrum._run._arguments import located
from astrum._run._mapstate import DynamicState, MapError, MapState
from astrum._run._report import describe
from astrum._run._state import CACHED, CANCELLED, COMPLETED, FAILED, RUNNING, SKIPPED

__all__ = [
    "activate",
    "element",
    "end_of",
    "instance",
    "instance_arguments",
    "instance_ended_badly",
    "instances_of",
    "keyed_by",
    "map_failed",
    "maybe_settle",
    "new_slot",
    "offer",
    "run_instance",
    "settle_instance",
    "withhold",
]

logger = logging.getLogger("astrum")

_MISSING: Any = object()  # an element that has not arrived yet


def activate(run: DynamicState, state: MapState) -> None:
    """Every dependency of the map but its streamed sources completed: instances may start."""
    node, spec = state.node, state.spec
    run.status[node] = RUNNING
    run._start[node] = run._now()
    if run.settings.listeners:
        run._emit("task_started", spec.task_id, attempt=1)
    eaches = run._dynamic.eaches[node]
    each_positions = {position for position, _, _ in eaches}
    try:
        for position, binding in enumerate(spec.bindings):
            if position in each_positions:
                continue
            value = run._value(spec, binding)
            if binding.positional:
                state.args.append(value)
            else:
                state.kwargs[binding.param] = value
        plain = []
        for j, (position, source, streamed) in enumerate(eaches):
            if not streamed:
                plain.append((j, _elements(spec, spec.bindings[position], run.values[source])))
    except Exception as exc:  # noqa: BLE001 - the map fails, as a task would
        state.cut = "it could not start"
        run._fail(node, exc)
        return
    state.active = True
    if len(eaches) == 1:
        binding = spec.bindings[eaches[0][0]]
        if not binding.positional and (binding.locator is None or not eaches[0][2]):
            state.param = binding.param
        if plain and not run._halted:
            run._instances_of(state, plain[0][1])
            run._end_of(state, 0, state.started)
            run._maybe_settle(state)
            return
    for j, items in plain:
        for index, item in enumerate(items):
            run._offer(state, j, index, item)
        run._end_of(state, j, len(items))
    # Elements that streamed in before the map could start.
    sources = len(eaches)
    first = state.elements[0]
    for index, slot in enumerate(state.slots):
        if slot != -1:
            continue
        if sources > 1:
            ready = state.have[index] == sources
        else:
            ready = index < len(first) and first[index] is not _MISSING
        if ready:
            run._instance(state, index)
    run._maybe_settle(state)


def element(run: DynamicState, node: int, index: int, value: Any) -> None:
    """Element ``index`` of ``node`` (a producer's item, an instance's result) exists."""
    for consumer, j in run._dynamic.streams[node]:
        run._offer(run._maps[consumer], j, index, value)


def offer(run: DynamicState, state: MapState, j: int, index: int, value: Any) -> None:
    if run.status[state.node] not in (None, RUNNING) or run._stopping:
        return  # the map ended without this element (skipped, failed, cut short)
    elements = state.elements[j]
    if index >= len(elements):
        missing = index + 1 - len(elements)
        elements.extend([_MISSING] * missing)
        if len(state.slots) <= index:
            grow = index + 1 - len(state.slots)
            state.slots.extend([-1] * grow)
            state.have.extend([0] * grow)
    elements[index] = value
    if state.slots[index] != -1:
        return  # withheld already: another source's element failed
    sources = len(state.elements)
    if sources > 1:
        state.have[index] += 1
        if state.have[index] < sources:
            return
    if state.active:
        run._instance(state, index)


def end_of(run: DynamicState, state: MapState, j: int, length: int) -> None:
    """Source ``j`` of the map has ``length`` elements in all."""
    if run.status[state.node] not in (None, RUNNING):
        return  # the map ended already (skipped, failed): its consumers know
    state.ends[j] = length
    if None in state.ends or state.length is not None:
        return
    lengths = set(state.ends)
    if len(lengths) > 1:
        sources = [
            f"'{run.plan.specs[node].task_id}' has {count}"
            for (_, node, _), count in zip(run._dynamic.eaches[state.node], state.ends, strict=True)
        ]
        state.cut = "its sources differ in length"
        error = MapError(
            f"Task '{state.spec.task_id}' maps over sources of different lengths "
            f"({', '.join(sources)} elements); Each parameters of one task pair their "
            "elements by position, so their sources must have equal lengths."
        )
        run._map_failed(state, error)
        return
    state.length = length
    for consumer, k in run._dynamic.streams[state.node]:
        run._end_of(run._maps[consumer], k, length)
    run._maybe_settle(state)


def map_failed(run: DynamicState, state: MapState, error: BaseException) -> None:
    """The map itself cannot go on: it fails once its running instances are done."""
    node = state.node
    run._errors[node] = error
    run._failures.append(node)
    if run.settings.on_failure == "fail_fast":
        run._settle(node, FAILED)
        run._emit("task_failed", state.spec.task_id, error=error)
        run._fail_fast()
        return
    run._maybe_settle(state)


def instance(run: DynamicState, state: MapState, index: int) -> None:
    """Start the instance of element ``index``."""
    if run._halted:
        return
    slot = run._new_slot(state, index)
    name = instance_name(state.spec.task_id, index)
    run._enqueue(slot, partial(run._run_instance, state, index, slot), name)


def instances_of(run: DynamicState, state: MapState, items: list[Any]) -> None:
    """Start an instance per element of a map's only source, a plain task's ``items``.

    The common case, done in bulk: every record is made at once.
    """
    count = len(items)
    first = len(run.status)
    for records in (run.values, run._attempts, run.status):
        records.extend([None] * count)
    for times in (run._start, run._end, run._queued):
        times.extend([0.0] * count)
    if run._cache is not None:
        for _ in range(count):
            run._cache.add_slot()
    state.elements[0] = items
    state.slots = list(range(first, first + count))
    state.have = [1] * count
    state.started = count
    node = state.node
    run._instances.extend(zip(repeat(node, count), range(count), strict=True))
    if count:
        rest = _Rest(run, state, first, count, copy_context())
        name = f"astrum:{instance_name(state.spec.task_id, 0)}"
        run._ready.append((first, rest.context, rest, name))
        if not run._active and not run._stopping:
            run._spawn()  # (when a worker runs this, it takes the queue itself)


class _Rest:
    """The instances of a map that no worker took yet, queued as one entry.

    The worker that takes the entry gets the coroutine of the first of them and
    puts the rest back at the front of the queue, where it (or the next worker)
    takes them: a map of 100,000 elements queues one object, not 100,000, which
    keeps the garbage collector's passes few and short.
    """

    __slots__ = ("context", "count", "first", "next", "prefix", "queue", "start", "state")

    def __init__(
        self, run: DynamicState, state: MapState, first: int, count: int, context: Context
    ) -> None:
        self.state = state
        self.first = first  # the slot of element 0
        self.next = 0  # the element whose instance starts next
        self.count = count
        self.context = context  # the one they were all made ready in
        # Each instance's asyncio task name, astrum:<instance_name(...)>, is this prefix,
        # its index and "]": made without a call per instance, the hot path of a large map.
        self.prefix = f"astrum:{state.spec.task_id}["
        self.queue = run._ready
        self.start = run._run_instance

    def __call__(self) -> Coroutine[Any, Any, None]:
        index = self.next
        self.next = later = index + 1
        if later < self.count:
            name = f"{self.prefix}{later}]"
            self.queue.appendleft((self.first + later, self.context, self, name))
        return self.start(self.state, index, self.first + index)


def new_slot(run: DynamicState, state: MapState, index: int) -> int:
    slot = len(run.status)
    run.values.append(None)
    run.status.append(None)
    run._start.append(0.0)
    run._end.append(0.0)
    run._queued.append(0.0)
    run._attempts.append(None)
    run._instances.append((state.node, index))
    if run._cache is not None:
        run._cache.add_slot()
    if len(state.slots) <= index:
        grow = index + 1 - len(state.slots)
        state.slots.extend([-1] * grow)
        state.have.extend([0] * grow)
    state.slots[index] = slot
    state.started += 1
    return slot


async def run_instance(run: DynamicState, state: MapState, index: int, slot: int) -> None:
    node, cache, listeners = state.node, run._cache, run.settings.listeners
    # The instance's own spec (its name) is made only where something reads it: most
    # instances of a large map run straight through and never need it.
    spec = instance_spec(state.spec, index) if cache is not None or listeners else None
    run.status[slot] = RUNNING
    run._start[slot] = began = run._clock() + run._epoch  # run._now(), without a call
    if spec is not None and listeners:
        run._emit("task_started", spec.task_id, attempt=1)
    outcome = COMPLETED
    try:
        args, kwargs = run._instance_arguments(state, index)
        hit = False
        if cache is not None:
            assert spec is not None  # made above for the cache
            hit, value = await cache.lookup(
                slot, spec, args, kwargs, key_id=state.spec.task_id, preds=run._keyed_by(state)
            )
        if hit:
            outcome = CACHED
        else:
            try:
                if run._direct_nodes[node] and not run._halted:
                    value = await state.spec.function(*args, **kwargs)  # what _call would do
                else:
                    spec = spec or instance_spec(state.spec, index)
                    value = await run._call(slot, spec, args, kwargs, 1)
            except BaseException as exc:
                spec = spec or instance_spec(state.spec, index)
                if not run._attempt_failed(slot, spec, 1, began, exc):
                    raise
                retry = True
            else:
                retry = False  # a first attempt that succeeds is recorded only after failures
                if run._attempts[slot] is not None:
                    spec = spec or instance_spec(state.spec, index)
                    run._attempt_completed(slot, spec, began)
            if retry:
                assert spec is not None  # made when the attempt failed
                value = await run._retries(slot, spec, args, kwargs)
            if cache is not None:
                assert spec is not None
                await cache.save(slot, spec, value)
    except BaseException as exc:  # noqa: BLE001 - recorded; execute() re-raises fatal ones
        spec = spec or instance_spec(state.spec, index)
        run._instance_ended_badly(state, index, slot, spec, exc)
        return
    run.values[slot] = value
    run._settle_instance(state, index, slot, outcome)
    if spec is not None and listeners:
        run._emit("task_completed" if outcome is COMPLETED else "task_cached", spec.task_id)
    if run._dynamic.streams[node]:  # _element, for the maps that take this one's elements
        run._element(node, index, value)
    if state.settled >= state.started:  # _maybe_settle's first test, without a call
        run._maybe_settle(state)


def keyed_by(run: DynamicState, state: MapState) -> list[int]:
    """What an instance's resume key depends on besides its element: the map's waits.

    A streamed source is left out: the element is in the key already, and a
    generator is never recorded, so its lineage is unknown.
    """
    waited = run._dynamic.waiting[state.node]
    preds = run.plan.graph.preds[state.node]
    if waited == len(preds):
        return list(preds)
    streamed = {source for _, source, is_streamed in run._dynamic.eaches[state.node] if is_streamed}
    return [pred for pred in preds if pred not in streamed or run._also_waits(state.node, pred)]


def instance_arguments(
    run: DynamicState, state: MapState, index: int
) -> tuple[list[Any], dict[str, Any]]:
    """The map's arguments with element ``index`` of each ``Each`` source in its place."""
    if state.param is not None:  # one Each parameter, by name, taken whole: most maps
        kwargs = dict(state.kwargs)
        kwargs[state.param] = state.elements[0][index]
        return state.args, kwargs
    spec = state.spec
    kwargs = dict(state.kwargs)
    elements = {}
    for j, (position, _, streamed) in enumerate(run._dynamic.eaches[state.node]):
        binding = spec.bindings[position]
        value = state.elements[j][index]
        if streamed and binding.locator is not None:
            value = located(spec, binding, value)
        if binding.positional:
            elements[position] = value
        else:
            kwargs[binding.param] = value
    if not elements:
        return state.args, kwargs  # the instance never changes the list: shared
    # Positional arguments go in binding order, each element at its place among the others.
    fixed = iter(state.args)
    args = [
        elements[position] if position in elements else next(fixed)
        for position, binding in enumerate(spec.bindings)
        if binding.positional
    ]
    return args, kwargs


def instance_ended_badly(
    run: DynamicState, state: MapState, index: int, slot: int, spec: TaskSpec, exc: BaseException
) -> None:
    if isinstance(exc, Skip):
        run._skip_reason[slot] = exc.reason or f"Task '{spec.task_id}' raised Skip."
        run._settle_instance(state, index, slot, SKIPPED)
        run._emit("task_skipped", spec.task_id)
    elif isinstance(exc, asyncio.CancelledError) and run._cancelled_by_run(exc):
        run._settle_instance(state, index, slot, CANCELLED)
        run._emit("task_cancelled", spec.task_id)
        return
    else:
        exc = run._fatal_or_error(spec, exc)
        run._errors[slot] = exc
        run._failures.append(slot)
        # Always logged, as a plain task's failure is (see Run._fail).
        logger.error("Task '%s' failed: %s", spec.task_id, describe(exc), exc_info=exc)
        run._settle_instance(state, index, slot, FAILED)
        run._emit("task_failed", spec.task_id, error=exc)
        if run.settings.on_failure == "fail_fast" or run._fatal is not None:
            run._fail_fast()
            return
    run._withhold(state.node, index, spec.task_id)
    run._maybe_settle(state)


def settle_instance(run: DynamicState, state: MapState, index: int, slot: int, status: str) -> None:
    del index
    run.status[slot] = status
    run._end[slot] = run._clock() + run._epoch
    run._running.pop(slot, None)
    state.settled += 1
    if run._cache is not None:
        run._cache.release(slot)  # other runs waiting for this instance's key go on


def withhold(run: DynamicState, node: int, index: int, name: str) -> None:
    """Instance ``name`` has no value: downstream, element ``index`` is skipped."""
    for consumer, _ in run._dynamic.streams[node]:
        state = run._maps[consumer]
        if run.status[consumer] not in (None, RUNNING):
            continue
        if len(state.slots) > index and state.slots[index] != -1:
            continue  # already withheld through another source
        spec = state.spec
        instance = instance_name(spec.task_id, index)
        slot = run._new_slot(state, index)
        run._start[slot] = run._now()
        run._skip_reason[slot] = f"Skipped because upstream instance '{name}' has no value."
        run._settle_instance(state, index, slot, SKIPPED)
        run._emit("task_skipped", instance)
        run._withhold(consumer, index, instance)
        run._maybe_settle(state)


def maybe_settle(run: DynamicState, state: MapState) -> None:
    """Settle the map once no more instances will start and every started one settled."""
    node = state.node
    if run.status[node] not in (None, RUNNING) or state.settled < state.started:
        return
    failed = node in run._errors
    finished = state.active and state.length is not None and state.started >= state.length
    if not (failed or state.cut is not None or finished) or run._stopping:
        return
    slots = [slot for slot in state.slots if slot != -1]
    statuses = [run.status[slot] for slot in slots]
    if failed or FAILED in statuses:
        status = FAILED
    elif state.cut is not None or SKIPPED in statuses:
        status = SKIPPED
        skipped = statuses.count(SKIPPED)
        run._skip_reason[node] = (
            f"Skipped because {state.cut}."
            if state.cut is not None
            else f"{skipped} of its {len(statuses)} instances "
            f"{'was' if skipped == 1 else 'were'} skipped."
        )
    else:
        status = COMPLETED
    if status is COMPLETED:
        if run._cache is not None:
            run._cache.settle_map(node, slots)
        run._complete(node, [run.values[slot] for slot in slots])
        return
    if not run._start[node]:
        run._start[node] = run._now()  # skipped before it could start
    if status is FAILED:
        failures = [slot for slot in slots if run.status[slot] == FAILED]
        if node not in run._errors and failures:
            run._skip_reason[node] = f"{len(failures)} of its {len(statuses)} instances failed" + (
                f", the first '{run._name_of(failures[0])}'."
                if len(failures) > 1
                else f": '{run._name_of(failures[0])}'."
            )
    run._settle(node, status)
    if status is FAILED:
        first = next((slot for slot in slots if run.status[slot] == FAILED), node)
        run._emit("task_failed", state.spec.task_id, error=run._errors.get(first))
    else:
        run._emit("task_skipped", state.spec.task_id)
    run._skip_downstream(node)


def _elements(spec: TaskSpec, binding: Binding, value: Any) -> list[Any]:
    """The elements of a plain task's value (after the locator) that a map runs over."""
    if binding.locator is not None:
        value = located(spec, binding, value)
    try:
        return list(value)
    except TypeError:
        raise MapError(
            f"Task '{spec.task_id}' maps over task '{binding.source_id}' with Each(...), but "
            f"its value is a {type(value).__name__}, which is not iterable; return a list "
            "from it, or take the whole value with F(...)."
        ) from None
