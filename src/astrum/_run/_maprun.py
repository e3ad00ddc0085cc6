"""One run of a plan with maps, generators or defaults (see :mod:`astrum._build._dynamic`).

:class:`DynamicRun` extends :class:`~astrum._run._run.Run`; a plan without any of
these runs on the plain class and pays nothing for them. This module holds
how it starts and completes tasks and resolves defaults; instances of a map
are in :mod:`astrum._run._instances`, streams from generators in
:mod:`astrum._run._streams`.

A mapped task's instances are records of the same per-run lists as the
plan's tasks, numbered after them, so retries, timeouts, pools, the cache,
events and the report treat an instance like a task. The map's own record
(its node) is running from the moment its instances may start until every
instance settled; then it holds the list of their results.

Rules (drawn in docs/dynamic-workflows.md):

- instance i starts when element i of every ``Each`` source exists and every
  other dependency of the map completed; along mapped chains that is as soon
  as the upstream instance i completed (no barrier);
- an instance that fails or is skipped skips the instances of its element
  downstream; the map ends ``completed`` only when all its instances did,
  ``failed`` when one failed, else ``skipped``;
- a task without a value (failed or skipped) skips its dependents, except one
  taking it with ``F(..., default=...)`` (when it was skipped) or
  ``F(map, partial=True)`` (the results of the instances that completed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from astrum._build._markers import NO_DEFAULT
from astrum._build._plan import MAPPED, PLAIN, Binding, Dynamic, Plan, TaskSpec
from astrum._run import _instances as instances
from astrum._run import _streams as streams
from astrum._run._arguments import located
from astrum._run._mapstate import MapError, MapState
from astrum._run._run import Run
from astrum._run._settings import RunSettings
from astrum._run._state import CACHED, CANCELLED, COMPLETED, RUNNING, SKIPPED

__all__ = ["DynamicRun", "MapError"]


class DynamicRun(Run):
    """A :class:`Run` that also runs maps, generators and defaults."""

    def __init__(
        self,
        plan: Plan,
        settings: RunSettings,
        overrides: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        resume: str | None = None,
    ) -> None:
        super().__init__(plan, settings, overrides, inputs, resume=resume)
        dynamic = plan.dynamic
        assert dynamic is not None
        self._dynamic: Dynamic = dynamic
        self._waiting = list(dynamic.waiting)
        self._maps: dict[int, MapState] = {
            node: MapState(node, plan.specs[node], len(dynamic.eaches[node]))
            for node, kind in enumerate(dynamic.kinds)
            if kind == MAPPED
        }

    async def _wind_down(self) -> bool:
        interrupted = await super()._wind_down()
        # A map still running when the run stopped ends cancelled with its instances.
        for node in self._maps:
            if self.status[node] == RUNNING:
                self.status[node] = CANCELLED
                self._end[node] = self._now()
        return interrupted

    # -- starting --------------------------------------------------------------------

    def _launch_roots(self) -> None:
        needed, waiting, overrides = self._needed, self._waiting, self._overrides
        for node in range(len(self.plan.specs)):
            if needed is None:
                if not waiting[node]:
                    self._make_ready(node)
            elif needed[node] and (not waiting[node] or node in overrides):
                self._make_ready(node)

    def _make_ready(self, node: int) -> None:
        kind = self._dynamic.kinds[node]
        if kind == PLAIN:
            super()._make_ready(node)
        elif node in self._overrides:
            self._given(node, self._overrides[node])
        elif kind == MAPPED:
            self._activate(self._maps[node])
        else:
            task = self._loop.create_task(self._produce(node), name=f"astrum:{self.plan.ids[node]}")
            self._running[node] = task

    def _given(self, node: int, value: Any) -> None:
        """A map or producer whose value ``overrides`` gives: its elements, all at once."""
        spec = self.plan.specs[node]
        self.status[node] = RUNNING
        self._start[node] = self._now()
        self._attempts[node] = []  # it was never called
        try:
            items = list(value)
        except TypeError:
            error = MapError(
                f"Task '{spec.task_id}' is overridden with a {type(value).__name__}, but it "
                "is mapped or a generator, so its value is a list; override it with a list."
            )
            self._fail(node, error)
            return
        for index, item in enumerate(items):
            self._element(node, index, item)
        if self._dynamic.kinds[node] == MAPPED:
            self._maps[node].cut = "its value was given"  # no instance will run
        self._complete(node, items)

    # -- completion and its absence ----------------------------------------------------

    def _complete(self, node: int, value: list[Any]) -> None:
        """A map or producer completed with ``value``: streamed consumers learn its length
        (a map's learnt it earlier), the others start as plain dependents do."""
        self.values[node] = value
        self._settle(node, COMPLETED)
        self._emit("task_completed", self.plan.ids[node])
        state = self._maps.get(node)
        if state is None or state.cut is not None:
            for consumer, j in self._dynamic.streams[node]:
                self._end_of(self._maps[consumer], j, len(value))
        if self._stopping:
            return
        streamed = {consumer for consumer, _ in self._dynamic.streams[node]}
        waiting, status = self._waiting, self.status
        for succ in self.plan.graph.succs[node]:
            if succ in streamed and not self._also_waits(succ, node):
                continue
            waiting[succ] -= 1
            if not waiting[succ] and status[succ] is None:
                self._make_ready(succ)

    def _also_waits(self, consumer: int, source: int) -> bool:
        """Whether ``consumer`` takes ``source`` by a plain binding as well as by ``Each``."""
        return any(
            binding.source == source and (binding.mode is None or not binding.mode.each)
            for binding in self.plan.specs[consumer].bindings
        )

    def _skip_downstream(self, failed: int) -> None:
        """``failed`` ended without a value: each dependent is skipped, unless it can do
        without (a default for a skipped task, ``partial=True`` for a map)."""
        if self._stopping:
            return
        ids, specs = self.plan.ids, self.plan.specs
        stack = [failed]
        while stack:
            node = stack.pop()
            skipped = self.status[node] == SKIPPED
            verb = "was skipped" if skipped else "failed"
            streams = dict(self._dynamic.streams[node])
            for succ in self.plan.graph.succs[node]:
                if self.status[succ] not in (None, RUNNING):
                    continue
                if succ in streams and not self._also_waits(succ, node):
                    state = self._maps[succ]
                    if state.cut is None and state.length is None:
                        state.cut = f"upstream task '{ids[node]}' {verb}"
                    self._maybe_settle(state)
                    continue
                if self.status[succ] == RUNNING:
                    continue  # a running map whose barrier source this cannot be
                if _tolerates(specs[succ], node, skipped=skipped):
                    self._waiting[succ] -= 1
                    if not self._waiting[succ]:
                        self._make_ready(succ)
                    continue
                self._start[succ] = self._now()
                self._skip_reason[succ] = f"Skipped because upstream task '{ids[node]}' {verb}."
                if succ in self._maps:
                    self._maps[succ].cut = f"upstream task '{ids[node]}' {verb}"
                self._settle(succ, SKIPPED)
                self._emit("task_skipped", ids[succ])
                stack.append(succ)

    def _fail_fast(self) -> None:
        self._stopping = self._halted = True
        if not self._finished.done():
            self._finished.set_result(None)

    # -- values ----------------------------------------------------------------------

    def _value(self, spec: TaskSpec, binding: Binding) -> Any:
        mode = binding.mode
        if mode is None or binding.source is None:
            return super()._value(spec, binding)
        source = binding.source
        status = self.status[source]
        if status in (COMPLETED, CACHED):
            return super()._value(spec, binding)
        if mode.partial:
            state = self._maps[source]
            done = [
                self.values[slot]
                for slot in state.slots
                if slot != -1 and self.status[slot] in (COMPLETED, CACHED)
            ]
            return done if binding.locator is None else located(spec, binding, done)
        return mode.default  # a skipped source with a default: the only other way here

    # -- methods that live in the modules of their concern ---------------------------
    # Bound here as Run binds its own (see there); they see the run as a DynamicState.

    # Streams from generators (_streams.py).
    _produce = streams.produce
    _stream = streams.stream
    _stream_async = streams.stream_async
    _stream_sync = streams.stream_sync
    _ended_badly = streams.ended_badly
    _fatal_or_error = streams.fatal_or_error

    # Instances of a map (_instances.py).
    _activate = instances.activate
    _element = instances.element
    _offer = instances.offer
    _end_of = instances.end_of
    _map_failed = instances.map_failed
    _instance = instances.instance
    _instances_of = instances.instances_of
    _new_slot = instances.new_slot
    _run_instance = instances.run_instance
    _keyed_by = instances.keyed_by
    _instance_arguments = instances.instance_arguments
    _instance_ended_badly = instances.instance_ended_badly
    _settle_instance = instances.settle_instance
    _withhold = instances.withhold
    _maybe_settle = instances.maybe_settle


def _tolerates(spec: TaskSpec, source: int, *, skipped: bool) -> bool:
    """Whether the task can run although ``source`` has no value: every binding from it
    has a default (and ``source`` was skipped) or asks for partial results."""
    found = False
    for binding in spec.bindings:
        if binding.source != source:
            continue
        mode = binding.mode
        if mode is None or mode.each:
            return False
        if not (mode.partial or (skipped and mode.default is not NO_DEFAULT)):
            return False
        found = True
    return found
