"""One run of a plan with maps, generators or defaults (see :mod:`astrum._build._dynamic`).

:class:`DynamicRun` extends :class:`~astrum._run._run.Run`; a plan without any of
these runs on the plain class and pays nothing for them.

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

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from astrum._build._markers import NO_DEFAULT
from astrum._build._plan import ASYNC_PRODUCER, MAPPED, PLAIN, Binding, Dynamic, Plan, TaskSpec
from astrum._errors import Skip
from astrum._run._arguments import located
from astrum._run._attempt import timed_out
from astrum._run._report import describe
from astrum._run._run import CACHED, CANCELLED, COMPLETED, FAILED, RUNNING, SKIPPED, Run, logger
from astrum._run._settings import RunSettings

__all__ = ["DynamicRun", "MapError"]

_MISSING: Any = object()  # an element that has not arrived yet
_END: Any = object()  # a sync generator is exhausted


class MapError(TypeError):
    """A map cannot be formed: its source is not iterable, or two sources differ in length."""


class _Map:
    """The per-run state of one mapped task."""

    __slots__ = (
        "active",
        "args",
        "cut",
        "elements",
        "ends",
        "have",
        "kwargs",
        "length",
        "node",
        "param",
        "settled",
        "slots",
        "spec",
        "started",
    )

    def __init__(self, node: int, spec: TaskSpec, sources: int) -> None:
        self.node = node
        self.spec = spec
        self.active = False  # every dependency but the streamed sources completed
        self.args: list[Any] = []
        self.kwargs: dict[str, Any] = {}
        self.elements: list[list[Any]] = [[] for _ in range(sources)]
        self.have: list[int] = []  # per element: how many sources have it (with 2+ sources)
        self.ends: list[int | None] = [None] * sources
        self.length: int | None = None
        self.slots: list[int] = []  # per element: its instance's record, or -1
        self.started = 0  # instances with a record (running, or settled without running)
        self.settled = 0
        self.cut: str | None = None  # why elements stopped coming before the end
        self.param: str | None = None  # the Each parameter, when it is the only one


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
        self._maps: dict[int, _Map] = {
            node: _Map(node, plan.specs[node], len(dynamic.eaches[node]))
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
                    self._launch(node)
            elif needed[node] and (not waiting[node] or node in overrides):
                self._launch(node)

    def _launch(self, node: int) -> None:
        kind = self._dynamic.kinds[node]
        if kind == PLAIN:
            super()._launch(node)
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

    # -- producers -------------------------------------------------------------------

    async def _produce(self, node: int) -> None:
        """Run a generator task, passing each item on as it is yielded."""
        spec = self.plan.specs[node]
        self.status[node] = RUNNING
        self._start[node] = self._now()
        if self.settings.listeners:
            self._emit("task_started", spec.task_id, attempt=1)
        items: list[Any] = []
        try:
            arguments = self._arguments(spec) if spec.bindings else ((), {})
            args, kwargs = arguments or await self._provided(spec)
            timeout = spec.options.timeout
            if timeout is None:
                await self._stream(node, spec, args, kwargs, items)
            else:
                try:
                    async with asyncio.timeout(timeout) as deadline:
                        await self._stream(node, spec, args, kwargs, items)
                except TimeoutError as exc:
                    if not deadline.expired():
                        raise  # the generator raised TimeoutError itself
                    raise timed_out(spec, timeout, 1) from exc
        except BaseException as exc:  # noqa: BLE001 - sorted out by _ended_badly
            self._ended_badly(node, spec, exc)
            return
        self._complete(node, items)

    def _stream(
        self,
        node: int,
        spec: TaskSpec,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        items: list[Any],
    ) -> Awaitable[None]:
        generator = spec.function(*args, **kwargs)
        if self._dynamic.kinds[node] == ASYNC_PRODUCER:
            return self._stream_async(node, generator, items)
        return self._stream_sync(node, spec, generator, items)

    async def _stream_async(self, node: int, generator: Any, items: list[Any]) -> None:
        try:
            async for item in generator:
                items.append(item)
                self._element(node, len(items) - 1, item)
        finally:
            await generator.aclose()

    async def _stream_sync(
        self, node: int, spec: TaskSpec, generator: Any, items: list[Any]
    ) -> None:
        # Each next() runs off the loop, like any sync body; a generator cannot go to a process.
        where = spec.options.executor or self.settings.executor
        options = spec.options._replace(executor="inline" if where == "inline" else "thread")
        stepper = spec._replace(function=_next_item, options=options)
        try:
            while True:
                item = await self._body.call_sync(stepper, (generator,), {})
                if item is _END:
                    return
                items.append(item)
                self._element(node, len(items) - 1, item)
        finally:
            # A generator still running in its thread (ValueError) stops at its next yield.
            with contextlib.suppress(ValueError):
                generator.close()

    def _ended_badly(self, node: int, spec: TaskSpec, exc: BaseException) -> None:
        """A producer raised (or was cancelled): settle it the way ``_task`` settles a task."""
        if isinstance(exc, Skip):
            self._skipped(node, spec.task_id, exc)
        elif isinstance(exc, asyncio.CancelledError) and self._cancelled_by_run(exc):
            self._settle(node, CANCELLED)
            self._emit("task_cancelled", spec.task_id)
        else:
            self._fail(node, self._fatal_or_error(spec, exc))

    def _fatal_or_error(self, spec: TaskSpec, exc: BaseException) -> BaseException:
        """The error a body's exception fails its task with; notes a fatal one for the run."""
        if isinstance(exc, asyncio.CancelledError):
            return RuntimeError(
                f"Task '{spec.task_id}' raised CancelledError although the run did not "
                "cancel it; raise an ordinary exception to fail a task."
            )
        if not isinstance(exc, Exception) and self._fatal is None:
            self._fatal = exc
        return exc

    # -- maps ------------------------------------------------------------------------

    def _activate(self, state: _Map) -> None:
        """Every dependency of the map but its streamed sources completed: instances may start."""
        node, spec = state.node, state.spec
        self.status[node] = RUNNING
        self._start[node] = self._now()
        if self.settings.listeners:
            self._emit("task_started", spec.task_id, attempt=1)
        eaches = self._dynamic.eaches[node]
        each_positions = {position for position, _, _ in eaches}
        try:
            for position, binding in enumerate(spec.bindings):
                if position in each_positions:
                    continue
                value = self._value(spec, binding)
                if binding.positional:
                    state.args.append(value)
                else:
                    state.kwargs[binding.param] = value
            plain = []
            for j, (position, source, streamed) in enumerate(eaches):
                if not streamed:
                    plain.append((j, _elements(spec, spec.bindings[position], self.values[source])))
        except Exception as exc:  # noqa: BLE001 - the map fails, as a task would
            state.cut = "it could not start"
            self._fail(node, exc)
            return
        state.active = True
        if len(eaches) == 1:
            binding = spec.bindings[eaches[0][0]]
            if not binding.positional and (binding.locator is None or not eaches[0][2]):
                state.param = binding.param
            if plain and not self._halted:
                self._instances_of(state, plain[0][1])
                self._end_of(state, 0, state.started)
                self._maybe_settle(state)
                return
        for j, items in plain:
            for index, item in enumerate(items):
                self._offer(state, j, index, item)
            self._end_of(state, j, len(items))
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
                self._instance(state, index)
        self._maybe_settle(state)

    def _element(self, node: int, index: int, value: Any) -> None:
        """Element ``index`` of ``node`` (a producer's item, an instance's result) exists."""
        for consumer, j in self._dynamic.streams[node]:
            self._offer(self._maps[consumer], j, index, value)

    def _offer(self, state: _Map, j: int, index: int, value: Any) -> None:
        if self.status[state.node] not in (None, RUNNING) or self._stopping:
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
            self._instance(state, index)

    def _end_of(self, state: _Map, j: int, length: int) -> None:
        """Source ``j`` of the map has ``length`` elements in all."""
        if self.status[state.node] not in (None, RUNNING):
            return  # the map ended already (skipped, failed): its consumers know
        state.ends[j] = length
        if None in state.ends or state.length is not None:
            return
        lengths = set(state.ends)
        if len(lengths) > 1:
            sources = [
                f"'{self.plan.specs[node].task_id}' has {count}"
                for (_, node, _), count in zip(
                    self._dynamic.eaches[state.node], state.ends, strict=True
                )
            ]
            state.cut = "its sources differ in length"
            error = MapError(
                f"Task '{state.spec.task_id}' maps over sources of different lengths "
                f"({', '.join(sources)} elements); Each parameters of one task pair their "
                "elements by position, so their sources must have equal lengths."
            )
            self._map_failed(state, error)
            return
        state.length = length
        for consumer, k in self._dynamic.streams[state.node]:
            self._end_of(self._maps[consumer], k, length)
        self._maybe_settle(state)

    def _map_failed(self, state: _Map, error: BaseException) -> None:
        """The map itself cannot go on: it fails once its running instances are done."""
        node = state.node
        self._errors[node] = error
        self._failures.append(node)
        if self.settings.on_failure == "fail_fast":
            self._settle(node, FAILED)
            self._emit("task_failed", state.spec.task_id, error=error)
            self._fail_fast()
            return
        self._maybe_settle(state)

    def _instance(self, state: _Map, index: int) -> None:
        """Start the instance of element ``index``."""
        if self._halted:
            return
        spec = _instance_spec(state.spec, index)
        slot = self._new_slot(state, index, spec)
        task = self._loop.create_task(
            self._run_instance(state, index, slot, spec), name=f"astrum:{spec.task_id}"
        )
        self._running[slot] = task

    def _instances_of(self, state: _Map, items: list[Any]) -> None:
        """Start an instance per element of a map's only source, a plain task's ``items``.

        The common case, done in bulk: every record is made at once.
        """
        count = len(items)
        first = len(self.status)
        for records in (self.values, self._attempts, self.status):
            records.extend([None] * count)
        for times in (self._start, self._end, self._queued):
            times.extend([0.0] * count)
        if self._cache is not None:
            for _ in range(count):
                self._cache.add_slot()
        state.elements[0] = items
        state.slots = list(range(first, first + count))
        state.have = [1] * count
        state.started = count
        node, spec = state.node, state.spec
        task_id, function, is_async, retry, options = spec[:5]
        instances, running = self._instances, self._running
        create, run = self._loop.create_task, self._run_instance
        for index in range(count):
            name = f"{task_id}[{index}]"
            instance = TaskSpec(name, function, is_async, retry, options)
            instances.append((node, index, instance))
            slot = first + index
            running[slot] = create(run(state, index, slot, instance), name=f"astrum:{name}")

    def _new_slot(self, state: _Map, index: int, spec: TaskSpec) -> int:
        slot = len(self.status)
        self.values.append(None)
        self.status.append(None)
        self._start.append(0.0)
        self._end.append(0.0)
        self._queued.append(0.0)
        self._attempts.append(None)
        self._instances.append((state.node, index, spec))
        if self._cache is not None:
            self._cache.add_slot()
        if len(state.slots) <= index:
            grow = index + 1 - len(state.slots)
            state.slots.extend([-1] * grow)
            state.have.extend([0] * grow)
        state.slots[index] = slot
        state.started += 1
        return slot

    async def _run_instance(self, state: _Map, index: int, slot: int, spec: TaskSpec) -> None:
        self.status[slot] = RUNNING
        self._start[slot] = self._now()
        if self.settings.listeners:
            self._emit("task_started", spec.task_id, attempt=1)
        outcome = COMPLETED
        try:
            args, kwargs = self._instance_arguments(state, index)
            cache = self._cache
            hit = False
            if cache is not None:
                hit, value = await cache.lookup(
                    slot, spec, args, kwargs, key_id=state.spec.task_id, preds=self._keyed_by(state)
                )
            if hit:
                outcome = CACHED
            else:
                began = self._start[slot]
                try:
                    value = await self._call(slot, spec, args, kwargs, 1)
                except BaseException as exc:
                    if not self._attempt_failed(slot, spec, 1, began, exc):
                        raise
                    retry = True
                else:
                    retry = False
                    self._attempt_completed(slot, spec, began)
                if retry:
                    value = await self._retries(slot, spec, args, kwargs)
                if cache is not None:
                    await cache.save(slot, spec, value)
        except BaseException as exc:  # noqa: BLE001 - recorded; execute() re-raises fatal ones
            self._instance_ended_badly(state, index, slot, spec, exc)
            return
        self.values[slot] = value
        self._settle_instance(state, index, slot, outcome)
        if self.settings.listeners:
            self._emit("task_completed" if outcome is COMPLETED else "task_cached", spec.task_id)
        self._element(state.node, index, value)
        self._maybe_settle(state)

    def _keyed_by(self, state: _Map) -> list[int]:
        """What an instance's resume key depends on besides its element: the map's waits.

        A streamed source is left out: the element is in the key already, and a
        generator is never recorded, so its lineage is unknown.
        """
        waited = self._dynamic.waiting[state.node]
        preds = self.plan.graph.preds[state.node]
        if waited == len(preds):
            return list(preds)
        streamed = {
            source for _, source, is_streamed in self._dynamic.eaches[state.node] if is_streamed
        }
        return [
            pred for pred in preds if pred not in streamed or self._also_waits(state.node, pred)
        ]

    def _instance_arguments(self, state: _Map, index: int) -> tuple[list[Any], dict[str, Any]]:
        """The map's arguments with element ``index`` of each ``Each`` source in its place."""
        if state.param is not None:  # one Each parameter, by name, taken whole: most maps
            kwargs = dict(state.kwargs)
            kwargs[state.param] = state.elements[0][index]
            return state.args, kwargs
        spec = state.spec
        kwargs = dict(state.kwargs)
        elements = {}
        for j, (position, _, streamed) in enumerate(self._dynamic.eaches[state.node]):
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

    def _instance_ended_badly(
        self, state: _Map, index: int, slot: int, spec: TaskSpec, exc: BaseException
    ) -> None:
        if isinstance(exc, Skip):
            self._skip_reason[slot] = exc.reason or f"Task '{spec.task_id}' raised Skip."
            self._settle_instance(state, index, slot, SKIPPED)
            self._emit("task_skipped", spec.task_id)
        elif isinstance(exc, asyncio.CancelledError) and self._cancelled_by_run(exc):
            self._settle_instance(state, index, slot, CANCELLED)
            self._emit("task_cancelled", spec.task_id)
            return
        else:
            exc = self._fatal_or_error(spec, exc)
            self._errors[slot] = exc
            self._failures.append(slot)
            # Always logged, as a plain task's failure is (see Run._fail).
            logger.error("Task '%s' failed: %s", spec.task_id, describe(exc), exc_info=exc)
            self._settle_instance(state, index, slot, FAILED)
            self._emit("task_failed", spec.task_id, error=exc)
            if self.settings.on_failure == "fail_fast" or self._fatal is not None:
                self._fail_fast()
                return
        self._withhold(state.node, index, spec.task_id)
        self._maybe_settle(state)

    def _settle_instance(self, state: _Map, index: int, slot: int, status: str) -> None:
        del index
        self.status[slot] = status
        self._end[slot] = self._now()
        self._running.pop(slot, None)
        state.settled += 1
        if self._cache is not None:
            self._cache.release(slot)  # other runs waiting for this instance's key go on

    def _withhold(self, node: int, index: int, name: str) -> None:
        """Instance ``name`` has no value: downstream, element ``index`` is skipped."""
        for consumer, _ in self._dynamic.streams[node]:
            state = self._maps[consumer]
            if self.status[consumer] not in (None, RUNNING):
                continue
            if len(state.slots) > index and state.slots[index] != -1:
                continue  # already withheld through another source
            spec = state.spec
            instance = f"{spec.task_id}[{index}]"
            slot = self._new_slot(state, index, _instance_spec(spec, index))
            self._start[slot] = self._now()
            self._skip_reason[slot] = f"Skipped because upstream instance '{name}' has no value."
            self._settle_instance(state, index, slot, SKIPPED)
            self._emit("task_skipped", instance)
            self._withhold(consumer, index, instance)
            self._maybe_settle(state)

    def _maybe_settle(self, state: _Map) -> None:
        """Settle the map once no more instances will start and every started one settled."""
        node = state.node
        if self.status[node] not in (None, RUNNING) or state.settled < state.started:
            return
        failed = node in self._errors
        finished = state.active and state.length is not None and state.started >= state.length
        if not (failed or state.cut is not None or finished) or self._stopping:
            return
        slots = [slot for slot in state.slots if slot != -1]
        statuses = [self.status[slot] for slot in slots]
        if failed or FAILED in statuses:
            status = FAILED
        elif state.cut is not None or SKIPPED in statuses:
            status = SKIPPED
            skipped = statuses.count(SKIPPED)
            self._skip_reason[node] = (
                f"Skipped because {state.cut}."
                if state.cut is not None
                else f"{skipped} of its {len(statuses)} instances "
                f"{'was' if skipped == 1 else 'were'} skipped."
            )
        else:
            status = COMPLETED
        if status is COMPLETED:
            if self._cache is not None:
                self._cache.settle_map(node, slots)
            self._complete(node, [self.values[slot] for slot in slots])
            return
        if not self._start[node]:
            self._start[node] = self._now()  # skipped before it could start
        if status is FAILED:
            failures = [slot for slot in slots if self.status[slot] == FAILED]
            if node not in self._errors and failures:
                self._skip_reason[node] = (
                    f"{len(failures)} of its {len(statuses)} instances failed"
                    + (
                        f", the first '{self._name_of(failures[0])}'."
                        if len(failures) > 1
                        else f": '{self._name_of(failures[0])}'."
                    )
                )
        self._settle(node, status)
        if status is FAILED:
            first = next((slot for slot in slots if self.status[slot] == FAILED), node)
            self._emit("task_failed", state.spec.task_id, error=self._errors.get(first))
        else:
            self._emit("task_skipped", state.spec.task_id)
        self._skip_downstream(node)

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
                self._launch(succ)

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
                        self._launch(succ)
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


def _instance_spec(spec: TaskSpec, index: int) -> TaskSpec:
    """The spec of instance ``index`` of a mapped task: its name, no bindings."""
    return TaskSpec(
        f"{spec.task_id}[{index}]", spec.function, spec.is_async, spec.retry, spec.options
    )


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


def _next_item(generator: Any) -> Any:
    return next(generator, _END)
