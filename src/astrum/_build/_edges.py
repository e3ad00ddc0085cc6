"""Relation edges and their type checks: one value feeding one parameter.

Every way of declaring a relation (``Ref[T, F(...)]``, ``T(...)`` on a
return, explicit :class:`TaskData`, ``Input(...)``) becomes an :class:`Edge`;
:class:`TypeChecker` compares each edge's declared parameter type with what
its source returns, at build time.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from types import FunctionType, GenericAlias, MappingProxyType, UnionType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, get_origin

from astrum._build._markers import NO_DEFAULT, Each, From
from astrum._build._methods import EMPTY, VARIADIC, Param, Registered
from astrum._build._plan import GENERATOR_FLAGS, Mode, is_generator
from astrum._build._typecheck import (
    Annotations,
    compatible,
    element,
    located,
    return_type,
    strip,
)
from astrum._build._typecheck import type_name as _name
from astrum.config import AstrumConfig

if TYPE_CHECKING:
    from astrum._build._markers import DataItem

__all__ = [
    "SKIP_HINT",
    "Edge",
    "Locator",
    "Producers",
    "TypeChecker",
    "input_edge",
    "marker_mode",
    "output_edge",
    "path",
]

logger = logging.getLogger("astrum")

Locator = str | int | None
SKIP_HINT = "or pass AstrumConfig(skip_type_check=True) to skip type checks"
# Parameterized types, which compare equal when written alike (``list[Doc]`` twice);
# equal types are compatible. Their ``==`` is the standard library's own.
_GENERICS = (
    GenericAlias,
    UnionType,
    type(typing.List[int]),  # noqa: UP006 - the class of typing's aliases
    type(typing.Optional[int]),  # noqa: UP045 - the class of typing's unions
)


def agrees(returned: Any, expected: Any) -> bool:
    """Whether a task that returns ``returned`` (its return annotation, as registration read
    it) surely fits a parameter that expects ``expected`` through a plain ``F("task")``:
    the very type, or an equal generic (a ``list[Doc]`` written at both ends is equal, not
    identical). False means "compare them in full"."""
    return returned is expected or (
        type(returned) in _GENERICS and type(expected) is type(returned) and returned == expected
    )


class Edge(NamedTuple):
    """One relation, whichever way it was declared: a value for one parameter.

    A named tuple: a build makes one per relation, and tuples are cheap to make.
    """

    receiver: str
    target: Locator
    """The parameter's name, its position, or None for the first parameter."""
    source: str | None
    provider: Callable[[], Any] | None
    locator: Locator
    expected: Any
    """The parameter's type as its ``Ref[T, F(...)]`` says; None: the parameter's annotation."""
    produced: Any
    """The type of the source's whole value as the relation declares it (a ``T(...)`` return
    annotation, a DataItem's ``allow_data_model``), or None."""
    input_name: str | None = None
    """Set for a parameter marked ``Input(name)``: the value comes from the run's inputs."""
    mode: Mode | None = None
    """Set for ``Each(...)`` and for ``F(...)`` with a default or ``partial=True``."""

    def origin(self) -> str:
        if self.input_name is not None:
            return f"run-time input '{self.input_name}'"
        if self.provider is not None:
            return f"from_function {getattr(self.provider, '__name__', repr(self.provider))}"
        return path(f"task '{self.source}'", self.locator)

    def same_value(self, other: Edge) -> bool:
        return (self.source, self.provider, self.locator, self.input_name, self.mode) == (
            other.source,
            other.provider,
            other.locator,
            other.input_name,
            other.mode,
        )


def input_edge(task_id: str, item: DataItem) -> Edge | None:
    """The edge an input item of task ``task_id`` declares, or None if it names no source."""
    source = item.from_relation
    if source is None or (source.from_function is None and not source.related_task):
        return None
    target = item.to_relation.locator if item.to_relation is not None else None
    model = item.allow_data_model
    if source.from_function is not None:
        # As in astrum 0.1.2, the function's whole result: a key or index does not select in it.
        return Edge(task_id, target, None, source.from_function, None, None, model)
    mode = Mode(each=True) if source.each else None
    return Edge(task_id, target, source.related_task, None, source.locator, None, model, None, mode)


def marker_mode(marker: From) -> Mode | None:
    """The mode of an ``F``/``Each`` marker: None for a plain ``F(task, locator)``."""
    if type(marker) is From and marker.default is NO_DEFAULT and not marker.partial:
        return None
    return Mode(isinstance(marker, Each), marker.default, marker.partial)


def output_edge(task_id: str, item: DataItem) -> Edge | None:
    """The edge an output item of task ``task_id`` declares, or None if it names no target."""
    end = item.to_relation
    if end is None or not end.related_task:
        return None
    local = item.from_relation.locator if item.from_relation is not None else None
    return Edge(end.related_task, end.locator, task_id, None, local, None, item.allow_data_model)


def path(source: str, locator: Locator) -> str:
    if locator is None:
        return source
    return f"{source}[{locator!r}]"


class _ReadAtRegistration(Protocol):
    @property
    def annotations(self) -> Mapping[str, Any] | None: ...
    @property
    def returns(self) -> Any: ...


class Producers(Protocol):
    """What the type checker reads of the producing tasks (a build's
    :class:`~astrum._build._task.Tasks` has it)."""

    def __getitem__(self, task_id: str, /) -> Registered: ...
    def declared(self, task_id: str) -> _ReadAtRegistration: ...


class TypeChecker:
    """Compares each bound parameter's declared type with what its source provides."""

    def __init__(
        self,
        tasks: Producers,
        config: AstrumConfig,
        problems: list[str],
        annotations: Annotations,
        mapped: Collection[str] = (),
        returns: Mapping[str, Any] = MappingProxyType({}),
    ) -> None:
        self.tasks = tasks
        self.annotations = annotations
        self.infer = config.infer_via_ast
        self.silence = config.silence_warnings
        self.problems = problems
        # What each producer returns, by id(producer): many tasks read the same one.
        self._returns: dict[int, Any] = {}
        self.mapped = mapped
        # What producers return, where a build read it already (Relations.returns).
        self.returns = returns
        self._verdicts: dict[tuple[Any, Any], bool] = {}

    def check(
        self,
        task_id: str,
        function: Callable[..., Any],
        params: Sequence[Param] | None,
        bound: Sequence[tuple[str, Edge]],
    ) -> None:
        for param, edge in bound:
            self.check_edge(task_id, function, param, edge)
        for parameter in params or ():
            if parameter.default is not EMPTY or parameter.kind in VARIADIC:
                continue
            if not any(name == parameter.name for name, _ in bound):
                self.problems.append(
                    f"Task '{task_id}' parameter '{parameter.name}' gets no value: no data "
                    "relation feeds it and it has no default; feed it with "
                    f"Ref[..., F('task')] or give it a default, {SKIP_HINT}."
                )

    def check_edge(
        self, task_id: str, function: Callable[..., Any], param: str, edge: Edge
    ) -> None:
        """Compare the type ``param`` of ``function`` declares with what ``edge`` brings."""
        _, _, source, provider, locator, expected, model, input_name, mode = edge
        if input_name is not None:
            return  # checked against the given value when a run starts
        if expected is None:
            expected = self.annotations.get(function, param)
        if type(expected) is not type:
            expected = strip(expected)
        if provider is None and model is None and mode is None and locator is None:
            # A plain F("task"): most relations. When the task's function returns the very
            # type the parameter expects (as registration read it; a list[Doc] written at
            # both ends is equal, not identical) and is not mapped, the types agree: settled
            # here, without the general comparison.
            returned = self.returns.get(source)  # type: ignore[arg-type]  # F names a task
            if source not in self.mapped and agrees(returned, expected):
                return
        self._edge(task_id, param, edge, expected)

    def _edge(self, task_id: str, param: str, edge: Edge, expected: Any) -> None:
        _, _, source, producer, _, _, model, _, mode = edge  # one step, not one per field
        if expected is Any and model is None and mode is None:
            return
        returned = None
        if producer is None:
            assert source is not None
            producer = self.tasks[source].function
            declared = self.tasks.declared(source)
            if declared.annotations is getattr(producer, "__annotations__", 0):
                returned = declared.returns  # read at registration, when it could be
        if returned is None:
            returned = self._returned(producer)
        whole = returned
        if model is not None and model is not returned:
            # The relation names the producer's whole value (a DataItem's allow_data_model):
            # it must agree with what the producer returns, where that is known.
            model, returned = strip(model), strip(returned)
            if returned is Any:
                whole = model
            elif not compatible(returned, model):
                where, what = _where(task_id, param), _what(edge, producer)
                self.problems.append(
                    f"{where} takes the value of {what}, declared as {_name(model)} "
                    f"(allow_data_model), but {what} returns {_name(returned)}; make the two "
                    f"agree, {SKIP_HINT}."
                )
                return
        each = mode is not None and mode.each
        if type(producer) is FunctionType:  # the common case, without a call
            streams = source in self.mapped or bool(producer.__code__.co_flags & GENERATOR_FLAGS)
        else:
            streams = source in self.mapped or is_generator(producer)
        if streams:
            if source not in self.mapped:
                whole = element(whole)[0]  # what the generator yields
            if not each:
                whole = list[whole]  # type: ignore[valid-type]  # collected in input order
        elif each:
            found, problem = located(strip(whole), edge.locator)
            if problem is None and not element(found)[1]:
                where, what = _where(task_id, param), _what(edge, producer)
                self.problems.append(
                    f"{where} maps over {what} with Each(...), but "
                    f"{what} returns {_name(whole)}{_part_of(whole, edge.locator)}, which is not "
                    "iterable; return a list (or another iterable) from it, or take the whole "
                    f"value with F(...), {SKIP_HINT}."
                )
                return
        if expected is Any and model is None:
            return  # nothing to compare the value with, and no model whose fields to check
        if whole is expected and edge.locator is None:
            return  # the same type at both ends (int and int): the common case, in short
        where, what = _where(task_id, param), _what(edge, producer)
        whole = strip(whole)
        if whole is Any:
            if self.infer and not self.silence:
                logger.warning(
                    "Task '%s' parameter '%s': the type %s returns is unknown, so it is not "
                    "checked; annotate its return type.",
                    task_id,
                    param,
                    what,
                )
            return
        found, problem = located(whole, edge.locator)
        if each and not streams and problem is None:
            found = element(found)[0]  # one element of the located value
        if problem is not None:
            self.problems.append(
                f"{where} reads {_part(whole, edge.locator)} of {what}, but {what} returns "
                f"{_name(whole)}, which {problem}; fix the locator or the annotation, {SKIP_HINT}."
            )
        elif not self._compatible(found, expected):
            if edge.locator is None:
                gives = f"{what} returns {_name(found)}"
            else:
                gives = (
                    f"{what} returns {_name(whole)}, whose {_part(whole, edge.locator)} is "
                    f"{_name(found)}"
                )
            if each and not streams:
                gives = (
                    f"{what} returns {_name(whole)}{_part_of(whole, edge.locator)}, whose "
                    f"elements are {_name(found)}"
                )
            elif each and element(found)[1] and compatible(element(found)[0], expected):
                gives += (
                    " (Each on a mapped task or a generator maps element-wise; nested "
                    "fan-out is not supported: collect it with F(...) in a plain task and "
                    "map over that)"
                )
            self.problems.append(
                f"{where} expects {_name(expected)}, but {gives}; change one of the "
                f"annotations{' or the locator' if edge.locator is not None else ''}, {SKIP_HINT}."
            )

    def _compatible(self, found: Any, expected: Any) -> bool:
        """``compatible(found, expected)``, worked out once per distinct pair in a build:
        a workflow passes a few types along many edges, and comparing generic types
        (``list[Doc]`` into ``Sequence[Doc]``) unpacks both every time."""
        pair = (found, expected)
        try:
            verdict = self._verdicts.get(pair)
        except TypeError:  # an unhashable annotation (a Literal of a list, say): not kept
            return compatible(found, expected)
        if verdict is None:
            verdict = self._verdicts[pair] = compatible(found, expected)
        return verdict

    def _returned(self, producer: Callable[..., Any]) -> Any:
        """The type ``producer`` returns, as far as its annotation (or source) tells."""
        whole = self._returns.get(id(producer))
        if whole is None:
            annotation = self.annotations.get(producer, "return")
            whole = return_type(producer, annotation, infer_via_ast=self.infer)
            self._returns[id(producer)] = whole  # producers are the build's tasks: alive
        return whole


def _where(task_id: str, param: str) -> str:
    return f"Task '{task_id}' parameter '{param}'"


def _what(edge: Edge, producer: Callable[..., Any]) -> str:
    if edge.provider is None:
        return f"task '{edge.source}'"
    return f"from_function {getattr(producer, '__name__', repr(producer))}"


def _part_of(whole: Any, locator: Locator) -> str:
    return "" if locator is None else f" (its {_part(whole, locator)} is the value mapped over)"


def _part(whole: Any, locator: Locator) -> str:
    if isinstance(locator, int):
        return f"item {locator}"
    origin = get_origin(whole) or whole
    mapping = isinstance(origin, type) and issubclass(origin, Mapping)
    return f"{'key' if mapping else 'field'} {locator!r}"
