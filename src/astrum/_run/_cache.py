"""Cache lookups and resume records for one run (used by :mod:`astrum._run._run`).

Each task gets two keys once its arguments are known:

- its *task key*: task id + code + inputs. ``cache=True`` tasks are stored
  and looked up under it.
- its *lineage key*: the task key combined with the lineage keys of the
  tasks it waits for. A run with a configured store records, per run id, the
  lineage key and value of every task as it completes. Resuming a run takes a
  task's value from that record when its lineage key is unchanged and none of
  its upstream tasks had to run again; so a task whose code changed runs
  again together with everything downstream of it, even downstream tasks
  that only wait for it without taking its value.
"""

from __future__ import annotations

import logging
import pickle
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, cast

from astrum._build._plan import Plan, TaskSpec
from astrum._run._singleflight import flights_of
from astrum._store._keys import KeyMaker, UnstableValueError, lineage_key, type_name
from astrum.cache import CacheStore, CacheWarning
from astrum.models import ExecutionReport

__all__ = ["RunCache", "resume_id"]

logger = logging.getLogger("astrum")


def resume_id(resume: ExecutionReport | str) -> str:
    """The run id that ``resume=`` names."""
    if isinstance(resume, ExecutionReport):
        if not resume.run_id:
            raise ValueError("resume= was given a report without a run_id; pass the run's id.")
        return resume.run_id
    if isinstance(resume, str) and resume:
        return resume
    raise TypeError(
        f"resume= takes the report of an earlier run or its run_id, got {type(resume).__name__}."
    )


class RunCache:
    """The cache side of one run: keys, lookups, and writes of completed results."""

    __slots__ = (
        "_flights",
        "_fresh",
        "_keys",
        "_leading",
        "_lineage",
        "_plan",
        "_previous",
        "_record",
        "_resume",
        "_run_id",
        "_store",
        "_store_broken",
        "_task_keys",
    )

    def __init__(
        self, plan: Plan, store: CacheStore, *, record: bool, run_id: str, resume: str | None
    ) -> None:
        count = len(plan.specs)
        self._plan = plan
        self._store = store
        self._record = record
        self._run_id = run_id
        self._resume = resume
        self._keys = KeyMaker()
        self._task_keys: list[str | None] = [None] * count
        self._lineage: list[str | None] = [None] * count
        self._fresh = [False] * count
        self._previous: dict[str, tuple[str, str]] = {}
        self._store_broken = False
        self._flights = flights_of(store)
        self._leading: dict[int, str] = {}  # node -> the key whose flight this run leads

    async def start(self) -> None:
        """Load what the resumed run recorded, and note this run in the store."""
        if self._resume is not None:
            previous = await self._store.recorded(self._resume)
            if previous is None:
                raise LookupError(
                    f"Cannot resume run '{self._resume}': {self._store!r} has no record of it. "
                    "Resume with the store that run used (AstrumConfig(store=...))."
                )
            self._previous = previous
        if self._record:
            try:
                await self._store.begin_run(self._run_id, self._resume)
            except Exception as exc:  # noqa: BLE001 - a failing store must not fail the run
                self._broken(exc)
                self._record = False

    def add_slot(self) -> None:
        """Make room for one more instance of a mapped task (numbered after the plan's nodes)."""
        self._task_keys.append(None)
        self._lineage.append(None)
        self._fresh.append(False)

    def settle_map(self, node: int, slots: Sequence[int]) -> None:
        """A map completed: its lineage is that of its instances, in input order."""
        if self._record or self._previous:
            found = [self._lineage[slot] for slot in slots]
            if None not in found:
                self._lineage[node] = lineage_key("map", cast("list[str]", found))
            self._fresh[node] = any(self._fresh[slot] for slot in slots)

    async def lookup(
        self,
        node: int,
        spec: TaskSpec,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        *,
        key_id: str | None = None,
        preds: Sequence[int] | None = None,
    ) -> tuple[bool, Any]:
        """``(True, value)`` when the task's value can be taken from the store.

        For an instance of a mapped task, ``key_id`` is the map's id (the key is
        made of it, the code and the element, not of the instance's position)
        and ``preds`` what the map waits for.
        """
        policy = spec.options.cache
        tracking = self._record or bool(self._previous)
        if policy is None and not tracking:
            return False, None
        try:
            task_key = self._keys.task_key(
                key_id or spec.task_id,
                spec.function,
                args,
                kwargs,
                None if policy is None else policy.key,
            )
        except UnstableValueError as exc:
            where = "; ".join(getattr(exc, "__notes__", ())) or "an input"
            self._not_stored(spec, f"{where} holds {exc}")
            return False, None
        self._task_keys[node] = task_key
        if preds is None:
            preds = self._plan.graph.preds[node]
        if tracking:
            upstream = [self._lineage[pred] for pred in preds]
            if None not in upstream:
                lineage = lineage_key(task_key, cast("list[str]", upstream))
                self._lineage[node] = lineage
                previous = self._previous.get(spec.task_id)
                if (
                    previous is not None
                    and previous[0] == lineage
                    and not any(self._fresh[pred] for pred in preds)
                ):
                    found = await self._load(previous[1], None)
                    if found[0]:
                        return found
        if policy is not None:
            return await self._cached(node, task_key, policy.ttl)
        return False, None

    async def _cached(self, node: int, key: str, max_age: float | None) -> tuple[bool, Any]:
        """The stored value of ``key``; on a miss, wait while another run computes it.

        Returns a miss when this run is to compute the value itself: it then
        leads the key's flight until :meth:`release`.
        """
        flights = self._flights
        landings = -1 if flights is None else flights.landings
        found = await self._load(key, max_age)
        if found[0] or flights is None:
            return found
        while True:
            waiter = flights.lead_or_follow(key)
            if waiter is None:
                if flights.landings != landings:
                    # A flight landed while we looked: perhaps this one, stored just now.
                    found = await self._load(key, max_age)
                    if found[0]:
                        flights.land(key)
                        return found
                self._leading[node] = key
                return False, None
            await waiter
            landings = flights.landings
            found = await self._load(key, max_age)
            if found[0]:
                return found
            # The leader stored nothing (it failed, was cancelled, or its value cannot be
            # pickled): take the next flight, or follow whoever took it first.

    def release(self, node: int) -> None:
        """The task settled: land the flight it led, if any, so other runs go on."""
        if self._leading:
            key = self._leading.pop(node, None)
            if key is not None and self._flights is not None:
                self._flights.land(key)

    async def save(self, node: int, spec: TaskSpec, value: Any) -> None:
        """Store a freshly computed value; returns once the store has it."""
        self._fresh[node] = True
        task_key = self._task_keys[node]
        policy = spec.options.cache
        lineage = self._lineage[node] if self._record else None
        if task_key is None or (policy is None and lineage is None):
            return
        try:
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - pickle raises many types; all mean "not storable"
            self._not_stored(
                spec, f"its result of type '{type_name(value)}' cannot be pickled ({exc})"
            )
            return
        try:
            if lineage is not None:
                ref = task_key if policy is not None else f"{self._run_id}/{spec.task_id}"
                await self._store.record(self._run_id, spec.task_id, lineage, ref, payload)
            else:
                await self._store.put(task_key, payload)
        except Exception as exc:  # noqa: BLE001 - a failing store must not fail the run
            self._broken(exc)
        finally:
            self.release(node)  # stored (or not storable): followers look again now

    async def _load(self, key: str, max_age: float | None) -> tuple[bool, Any]:
        try:
            payload = await self._store.get(key, max_age)
        except Exception as exc:  # noqa: BLE001 - a failing store must not fail the run
            self._broken(exc)
            return False, None
        if payload is None:
            return False, None
        try:
            return True, pickle.loads(payload)  # noqa: S301 - the store holds our own pickles
        except Exception:  # noqa: BLE001 - an entry that does not load is a miss
            logger.debug("A stored value under %s could not be unpickled; recomputing.", key)
            return False, None

    async def save_report(self, report: ExecutionReport) -> None:
        """Keep what the run's HTML page needs, so ``astrum report RUN_ID`` can draw it later."""
        save = getattr(self._store, "save_report", None)  # optional for a store
        if not self._record or save is None:
            return
        from astrum._views._page_data import stored_page

        try:
            await save(self._run_id, stored_page(report))
        except Exception as exc:  # noqa: BLE001 - a failing store must not fail the run
            self._broken(exc)

    def _not_stored(self, spec: TaskSpec, why: str) -> None:
        if spec.options.cache is not None:
            warnings.warn(
                CacheWarning(
                    f"Task '{spec.task_id}' is not cached in this run: {why}. Pass "
                    "CachePolicy(key=...) to build its key from other values, or drop cache=True."
                ),
                stacklevel=1,
            )
        else:
            logger.info("Task '%s' cannot be resumed from this run: %s.", spec.task_id, why)

    def _broken(self, error: Exception) -> None:
        if not self._store_broken:
            self._store_broken = True
            logger.warning(
                "The cache store %r failed (%s: %s); this run goes on without it where needed.",
                self._store,
                type(error).__name__,
                error,
            )
