"""What a run of a plan with maps or generators keeps beyond a plain run's state.

:class:`MapState` is the per-run state of one mapped task; :class:`DynamicState`
is the :class:`~astrum._run._maprun.DynamicRun` as the modules of its methods
(``_instances``, ``_streams``) see it, so neither imports ``_maprun`` back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from astrum._build._plan import Dynamic, TaskSpec
from astrum._run._state import RunState

if TYPE_CHECKING:
    from astrum._run._cache import RunCache

__all__ = ["DynamicState", "MapError", "MapState"]


class MapError(TypeError):
    """A map cannot be formed: its source is not iterable, or two sources differ in length."""


class MapState:
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


class DynamicState(RunState, Protocol):
    """The fields and methods of a dynamic run that its method modules use."""

    _dynamic: Dynamic
    _maps: dict[int, MapState]
    _waiting: list[int]
    _overrides: dict[int, Any]
    _cache: RunCache | None

    def _also_waits(self, consumer: int, source: int) -> bool: ...

    def _complete(self, node: int, value: list[Any]) -> None: ...

    def _element(self, node: int, index: int, value: Any) -> None: ...

    def _end_of(self, state: MapState, j: int, length: int) -> None: ...

    def _ended_badly(self, node: int, spec: TaskSpec, exc: BaseException) -> None: ...

    def _fail_fast(self) -> None: ...

    def _fatal_or_error(self, spec: TaskSpec, exc: BaseException) -> BaseException: ...

    def _instance(self, state: MapState, index: int) -> None: ...

    def _instance_arguments(
        self, state: MapState, index: int
    ) -> tuple[list[Any], dict[str, Any]]: ...

    def _instance_ended_badly(
        self, state: MapState, index: int, slot: int, spec: TaskSpec, exc: BaseException
    ) -> None: ...

    def _instances_of(self, state: MapState, items: list[Any]) -> None: ...

    def _keyed_by(self, state: MapState) -> list[int]: ...

    def _map_failed(self, state: MapState, error: BaseException) -> None: ...

    def _maybe_settle(self, state: MapState) -> None: ...

    def _new_slot(self, state: MapState, index: int) -> int: ...

    def _offer(self, state: MapState, j: int, index: int, value: Any) -> None: ...

    def _run_instance(
        self, state: MapState, index: int, slot: int
    ) -> Coroutine[Any, Any, None]: ...

    def _settle_instance(self, state: MapState, index: int, slot: int, status: str) -> None: ...

    def _stream(
        self,
        node: int,
        spec: TaskSpec,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        items: list[Any],
    ) -> Awaitable[None]: ...

    def _stream_async(self, node: int, generator: Any, items: list[Any]) -> Awaitable[None]: ...

    def _stream_sync(
        self, node: int, spec: TaskSpec, generator: Any, items: list[Any]
    ) -> Awaitable[None]: ...

    def _withhold(self, node: int, index: int, name: str) -> None: ...
