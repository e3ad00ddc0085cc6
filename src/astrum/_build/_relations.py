"""How annotations and explicit :class:`TaskData` become the workflow's relation edges.

``Ref[T, F(...)]`` on a parameter is an edge into it, ``T(...)`` on the
return an edge out of the task, ``Input(...)`` an edge from a run-time input;
explicit TaskData items are checked and become edges too. Nothing the user
registered is changed, and no intermediate TaskData is made: a build of
thousands of annotated tasks goes straight from annotations to edges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from types import FunctionType, MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

from astrum._build._declared import (
    ANNOTATED,
    NOT_READ,
    bare_returns,
    fed_inputs,
    foreign,
    run_input_edges,
    sources_of,
)
from astrum._build._edges import Edge, input_edge, marker_mode, output_edge
from astrum._build._elsewhere import registries_holding
from astrum._build._markers import DataItem, Each, F, From, Input, Ref, T, TaskData, To
from astrum._build._methods import plain_function
from astrum._build._plan import GENERATOR_FLAGS
from astrum._build._typecheck import Annotations, Unresolved, strip
from astrum._errors import TaskRegistrationError, closest
from astrum.config import AstrumConfig

if TYPE_CHECKING:
    from astrum._build._plan import TaskSpec
    from astrum._build._task import Tasks

__all__ = [
    "Relations",
    "annotations_for",
    "input_edges",
    "reference_names",
    "relations_for",
    "summary",
]

logger = logging.getLogger("astrum")

Locator = str | int | None
_MARKERS = (From, To)
_NONE = type(None)


def summary(problems: Sequence[str]) -> str:
    """One error message for all the problems a build found, one line each."""
    if len(problems) == 1:
        return problems[0]
    listed = "\n- ".join(problems)
    return f"The workflow's data relations have {len(problems)} problems:\n- {listed}"


class Relations(NamedTuple):
    """A build's data relations, by receiving task."""

    edges: dict[str, Sequence[Edge]]
    """Edges from tasks or ``from_function`` providers, in declaration order."""
    inputs: dict[str, Sequence[Edge]]
    """Edges from run-time inputs (``Input(name)``)."""
    sources: dict[str, Collection[str]]
    """The tasks each task takes data from, which it must therefore wait for."""
    mapped: Collection[str] = frozenset()
    """The tasks with an ``Each(...)`` parameter."""
    returns: Mapping[str, Any] = MappingProxyType({})
    """What a task's function returns, as registration read its annotations (unchanged
    since), for the tasks whose functions are not generators; the type checker asks
    about the others."""
    bare: Collection[str] = frozenset()
    """The tasks whose function is bare (see :func:`bare_returns`): nothing to read or bind."""
    fed: Mapping[str, tuple[Edge, ...]] = MappingProxyType({})
    """The tasks whose parameters are all fed by plain ``F(...)`` (see :func:`fed_inputs`),
    with their edges: while ``edges`` holds this very tuple for such a task, nothing else
    sends it data, and the build may bind it at once (``plain_bindings``)."""


def relations_for(
    tasks: Tasks,
    config: AstrumConfig,
    annotations: Annotations | None = None,
) -> Relations:
    """Every relation the ``tasks`` declare, by annotation or explicit TaskData.

    ``annotations`` is the build's :func:`annotations_for` ``tasks``, shared so
    that each function's annotations are read once. Every problem found is
    raised at once, in one :class:`TaskRegistrationError`.
    """
    if annotations is None:
        annotations = annotations_for(tasks)
    reader = _AnnotationReader(tasks, config, annotations)
    bare_tasks = set()
    # Without auto_sync_dependencies an edge must be checked against depends_on: the
    # general path does that.
    feeding = config.auto_sync_dependencies
    for task_id, entry in tasks.items():
        if entry.data is None:
            function = entry.function
            returned = bare_returns(function)
            if returned is not NOT_READ:
                bare_tasks.add(task_id)
                if returned is not None:  # (most bare tasks: no return type to keep)
                    reader.keep_return(task_id, returned)
                continue
            if feeding:
                fed = fed_inputs(task_id, function)
                if fed is not None and reader.take_fed(task_id, *fed):
                    continue
        if not reader.read_declared(task_id, entry):
            reader.read(task_id, entry.function, entry.data)
    if reader.problems:
        raise TaskRegistrationError(summary(reader.problems))
    return Relations(
        reader.edges,
        reader.inputs,
        reader.sources,
        reader.mapped,
        reader.returns,
        bare_tasks,
        reader.fed,
    )


def input_edges(task_id: str, function: Callable[..., Any], annotations: Annotations) -> list[Edge]:
    """An edge for each parameter of ``function`` annotated ``Ref[T, Input("name")]``."""
    if type(function) is FunctionType and function.__annotations__.keys() <= {"return"}:
        return []  # no parameter annotations: the common case, answered without reading them
    return [
        edge
        for name, hint in annotations.marked(function)
        if name != "return"
        for edge in run_input_edges(task_id, name, hint)
    ]


def annotations_for(tasks: Mapping[str, TaskSpec]) -> Annotations:
    """One build's reader of annotations, which may name the ``tasks`` by id or function."""
    return Annotations(lambda: reference_names(tasks))


def reference_names(tasks: Mapping[str, TaskSpec]) -> dict[str, Any]:
    """Names an annotation may use for a task: its id, and its function's name if unique."""
    by_name: dict[str, list[Any]] = {}
    for entry in tasks.values():
        name = getattr(entry.function, "__name__", None)
        if isinstance(name, str):
            by_name.setdefault(name, []).append(entry.function)
    names: dict[str, Any] = {"Ref": Ref, "F": F, "T": T, "From": From, "To": To, "Each": Each}
    names["Annotated"] = Annotated
    names.update({name: found[0] for name, found in by_name.items() if len(found) == 1})
    names.update({task_id: entry.function for task_id, entry in tasks.items()})
    return names


class _AnnotationReader:
    """Turns each task's markers and TaskData into edges, noting every mistake."""

    def __init__(self, tasks: Tasks, config: AstrumConfig, annotations: Annotations) -> None:
        self.tasks = tasks
        self.config = config
        self.annotations = annotations
        self.problems: list[str] = []
        # A value is a list this build made, or a tuple from registration (shared, read-only).
        self.edges: dict[str, Sequence[Edge]] = {}
        self.inputs: dict[str, Sequence[Edge]] = {}
        self.sources: dict[str, Collection[str]] = {}
        self.mapped: set[str] = set()
        self.returns: dict[str, Any] = {}
        self._owners: dict[int, list[str]] | None = None
        self.fed: dict[str, tuple[Edge, ...]] = {}

    def read_declared(self, task_id: str, entry: TaskSpec) -> bool:
        """Take the task's relations from what registration read, if it read them all.

        False means "read them": there is explicit TaskData, an annotation
        registration could not judge, a task it names is missing, or the
        annotations were replaced since.
        """
        _, _, _, raw, inputs, sources, outputs, run_inputs, returns, maps = self.tasks.declared(
            task_id
        )
        if raw is None or entry.data is not None:
            return False
        function = entry.function
        if raw is not getattr(function, "__annotations__", None):
            return False
        if not raw:
            return True  # no annotations, so no relations
        if not function.__code__.co_flags & GENERATOR_FLAGS:
            self.keep_return(task_id, returns)
        if not (inputs or outputs or run_inputs):
            return True  # a return annotation alone: no relations
        tasks = self.tasks
        for source in sources:
            if source not in tasks:
                return False
        for edge in outputs:
            if edge.receiver not in tasks:
                return False
        if inputs:
            if task_id in self.edges:  # a T(...) of a task read before sends it data too
                for edge in inputs:
                    self._add(edge)
            else:  # its first edges: registration's tuples, shared, not copied
                self.edges[task_id] = inputs
                self.sources[task_id] = sources
            if maps:
                self.mapped.add(task_id)
        if run_inputs:
            self.inputs[task_id] = run_inputs
        for edge in outputs:
            self._add(edge)
        return True

    def take_fed(self, task_id: str, inputs: tuple[Edge, ...], returns: Any) -> bool:
        """Take the edges and return type :func:`fed_inputs` found, as :meth:`read_declared`
        would take the same from registration's reading; False: read the task that way
        instead (a task it names is missing, or a task read before sends it data)."""
        if task_id in self.edges:
            return False
        tasks = self.tasks
        for edge in inputs:
            if edge.source not in tasks:
                return False
        self.edges[task_id] = self.fed[task_id] = inputs
        self.sources[task_id] = sources_of(inputs)
        self.keep_return(task_id, returns)
        return True

    def keep_return(self, task_id: str, returns: Any) -> None:
        """Keep what the task's function returns (as registration read its annotations) for
        the type checker, which compares it with what each consumer expects; nothing for
        None (unknown) or "-> None" (a task whose value nothing takes, usually)."""
        if returns is not None and returns is not _NONE:
            self.returns[task_id] = returns

    def read(self, task_id: str, function: Callable[..., Any], data: TaskData | None) -> None:
        """Note the edges of one task, in the order its merged TaskData used to list them."""
        # Annotations as written; a plain function's are read without the general lookup.
        raw: Mapping[str, Any]
        if type(function) is FunctionType:
            raw = function.__annotations__
        else:
            raw = self.annotations.raw(function)
        inputs: list[Edge] = []
        outputs: list[Edge] = []
        run_inputs: list[Edge] = []
        for name, hint in raw.items():
            if type(hint) is str:
                if "(" not in hint and "," not in hint:
                    continue  # no marker (nor 0.1.2's tuple) hides in it: no call, no Ref[T, x]
                hint = self.annotations.get(function, name)  # noqa: PLW2901
            if not isinstance(hint, ANNOTATED):
                continue
            markers = self._markers(task_id, name, hint.__metadata__)
            if name == "return":
                outputs.extend(edge for m in markers if (edge := self._output(task_id, m, hint)))
                continue
            if markers and (edge := self._input(task_id, name, markers, hint)):
                inputs.append(edge)
            if len(markers) < len(hint.__metadata__):  # something else, maybe Input(...)
                run_inputs.extend(run_input_edges(task_id, name, hint))
        if run_inputs:
            self.inputs[task_id] = run_inputs
        if data is None:
            for edge in (*inputs, *outputs):
                self._add(edge)
            return
        explicit = _ExplicitItems(task_id, self.tasks, self.config, self.problems)
        explicit.read(data)
        for edge in (*explicit.input_edges, *inputs, *explicit.output_edges, *outputs):
            self._add(edge)
        for source in explicit.declared["from_tasks"]:
            self.depend(task_id, source)
        for receiver in explicit.declared["to_tasks"]:
            self.depend(receiver, task_id)

    def _markers(self, task_id: str, name: str, metadata: Sequence[Any]) -> list[From | To]:
        """The F/T markers among ``metadata``, with 0.1.2's ``(task, locator)`` tuples read as F.

        Metadata that looks like a relation written some other way (a task id, a
        locator, a function) is a problem; another library's (a pydantic ``Field``)
        is left alone, as 0.1.2 left it.
        """
        markers: list[From | To] = []
        where = (
            f"Task '{task_id}' return annotation"
            if name == "return"
            else f"Task '{task_id}' parameter '{name}'"
        )
        for meta in metadata:
            if isinstance(meta, _MARKERS):
                markers.append(meta)
            elif type(meta) is Input:
                continue  # a run-time input: run_input_edges reads it
            elif type(meta) is tuple:
                marker = self._legacy(where, name, meta)
                if marker is not None:
                    markers.append(marker)
            elif isinstance(meta, str) and meta not in self.tasks:
                continue  # a description, as some tools write them: not a relation
            elif not foreign(meta):
                self.problems.append(
                    f"{where} has {meta!r} in its Ref[...], which is not a relation Astrum "
                    f"reads; write {_suggestion(name, meta)}, or remove it."
                )
        return markers

    def _legacy(self, where: str, name: str, meta: tuple[Any, ...]) -> From | None:
        """0.1.2's ``(task, locator)`` (or ``(task,)``) as ``F(task, locator)``."""
        if name != "return" and len(meta) in (1, 2):
            task = meta[0]
            if isinstance(task, str) or callable(task):
                return From(task, meta[1] if len(meta) == 2 else None)
        self.problems.append(
            f"{where} has the tuple {meta!r} in its Ref[...]; Astrum reads a tuple as "
            f"(task, locator) on a parameter only; write {_suggestion(name, meta)}."
        )
        return None

    def _add(self, edge: Edge) -> None:
        receiver = edge.receiver
        if edge.mode is not None and edge.mode.each:
            self.mapped.add(receiver)
        edges = self.edges.get(receiver)
        if edges is None:
            self.edges[receiver] = [edge]
        elif isinstance(edges, list):
            edges.append(edge)
        else:
            self.edges[receiver] = [*edges, edge]  # a registration's tuple: never changed
        if edge.source is not None:
            self.depend(receiver, edge.source)

    def depend(self, receiver: str, source: str) -> None:
        """Note that ``receiver`` takes data from ``source``."""
        sources = self.sources.get(receiver)
        if sources is None:
            self.sources[receiver] = {source: None}
        elif isinstance(sources, dict):
            sources[source] = None
        elif source not in sources:
            self.sources[receiver] = {**dict.fromkeys(sources), source: None}

    def _input(self, task_id: str, name: str, markers: list[From | To], hint: Any) -> Edge | None:
        where = f"Task '{task_id}' parameter '{name}'"
        froms = [marker for marker in markers if isinstance(marker, From)]
        if len(froms) < len(markers):
            self.problems.append(
                f"{where} is annotated with T(...), which belongs on the return annotation; "
                "use F(...) to take a value from an upstream task."
            )
        elif len(froms) > 1:
            self.problems.append(
                f"{where} has {len(froms)} F(...) markers; a parameter takes its value from "
                "one place, so keep one."
            )
        else:
            marker = froms[0]
            source = self._task(task_id, where, "F", marker.task)
            if self._locator(where, "F(...) locator", marker.locator) and source is not None:
                mode = marker_mode(marker)
                expected = strip(hint)
                return Edge(task_id, name, source, None, marker.locator, expected, None, None, mode)
        return None

    def _output(self, task_id: str, marker: From | To, hint: Any) -> Edge | None:
        where = f"Task '{task_id}' return annotation"
        if isinstance(marker, From):
            self.problems.append(
                f"{where} has F(...), which belongs on parameters; use T(...) to send the "
                "result to a downstream task."
            )
            return None
        target = self._task(task_id, where, "T", marker.task)
        local_ok = self._locator(where, "T(...) local locator", marker.local)
        if self._locator(where, "T(...) target parameter", marker.target) and local_ok and target:
            return Edge(target, marker.target, task_id, None, marker.local, None, strip(hint))
        return None

    def _owners_of(self, function: object) -> list[str]:
        """The ids of the tasks registered with ``function``."""
        if self._owners is None:
            self._owners = {}
            for task_id, entry in self.tasks.items():
                self._owners.setdefault(id(plain_function(entry.function)), []).append(task_id)
        return self._owners.get(id(plain_function(function)), [])

    def _task(self, task_id: str, where: str, marker: str, ref: object) -> str | None:
        """The task id ``ref`` names (an id or a registered function), or None after a problem."""
        if isinstance(ref, str):
            if ref in self.tasks and ref != task_id:
                return ref
            if ref == task_id:
                self.problems.append(f"{where} names its own task in {marker}(...).")
            else:
                match = closest(ref, self.tasks)
                fix = f"did you mean '{match}'?" if match else "fix the name or register the task."
                self.problems.append(
                    f"{where} names task '{ref}' in {marker}(...), but no task has that id; {fix}"
                )
            return None
        if isinstance(ref, Unresolved):
            self.problems.append(
                f"{where} names {ref.name} in {marker}(...), which is not defined where the "
                f"annotation is evaluated; write the task id instead: {marker}('{ref.name}')."
            )
            return None
        if not callable(ref):
            self.problems.append(
                f"{where}: {marker}(...) needs a task id (str) or a registered function, "
                f"got {type(ref).__name__} {ref!r}."
            )
            return None
        ids = self._owners_of(ref)
        label = getattr(ref, "__qualname__", repr(ref))
        if len(ids) == 1:
            return self._task(task_id, where, marker, ids[0])
        if ids:
            choices = " or ".join(f"{marker}('{other}')" for other in ids)
            self.problems.append(
                f"{where} names function {label} in {marker}(...), but it is registered as "
                f"several tasks ({', '.join(ids)}); name one by its id: {choices}."
            )
        else:
            elsewhere = registries_holding(ref)
            self.problems.append(
                f"{where} names function {label} in {marker}(...), which is not a task of "
                f"this registry; it is registered in {elsewhere}: register the two tasks "
                "in one registry."
                if elsewhere
                else f"{where} names function {label} in {marker}(...), which is not a "
                "registered task; register it with @task or name a task id."
            )
        return None

    def _locator(self, where: str, what: str, value: object) -> bool:
        if value is None or isinstance(value, str):
            return True
        if isinstance(value, int) and not isinstance(value, bool):
            return True
        self.problems.append(
            f"{where}: the {what} must be a str (a key or attribute), an int (an index) or "
            f"None, got {type(value).__name__} {value!r}."
        )
        return False


def _suggestion(name: str, meta: object) -> str:
    """The marker to write instead of ``meta`` on parameter ``name`` (or ``"return"``)."""
    if name == "return":
        return "T(task, local_locator, target_param) to send the result downstream"
    if isinstance(meta, str):
        return f"F({meta!r}) to take the result of task {meta!r}"
    return "F(task, locator) to take (part of) a task's result"


class _ExplicitItems:
    """Checks one explicit TaskData; undeclared tasks are declared unless strict.

    After :meth:`read`, ``input_edges`` and ``output_edges`` hold the edges of
    the items that passed, and ``declared`` the tasks it takes data from and
    sends data to.
    """

    def __init__(
        self,
        task_id: str,
        tasks: Mapping[str, TaskSpec],
        config: AstrumConfig,
        problems: list[str],
    ) -> None:
        self.task_id = task_id
        self.tasks = tasks
        self.config = config
        self.problems = problems
        self.declared: dict[str, list[str]] = {"from_tasks": [], "to_tasks": []}
        self.listed: dict[str, set[str]] = {"from_tasks": set(), "to_tasks": set()}
        self.input_edges: list[Edge] = []
        self.output_edges: list[Edge] = []

    def read(self, explicit: object) -> None:
        task_id = self.task_id
        if not isinstance(explicit, TaskData):
            self.problems.append(
                f"Task '{task_id}' was given data={type(explicit).__name__}; pass a TaskData "
                "from astrum.data_transport."
            )
            return
        if explicit.task_id and explicit.task_id != task_id:
            self.problems.append(
                f"Task '{task_id}' was given TaskData(task_id='{explicit.task_id}'); use "
                f"task_id='{task_id}' or leave it empty."
            )
        for field_name, listed in self.declared.items():
            for other in getattr(explicit, field_name) or ():
                if other not in self.tasks:
                    self.problems.append(
                        f"Task '{task_id}' lists '{other}' in its TaskData {field_name}, but no "
                        "task has that id; fix the name or register the task."
                    )
                listed.append(other)
                self.listed[field_name].add(other)
        self._inputs(explicit.input_data_item)
        self._outputs(explicit.output_data_item)

    def _items(self, field_name: str, items: Iterable[Any]) -> Iterator[tuple[str, DataItem]]:
        for i, item in enumerate(items):
            where = f"Task '{self.task_id}' TaskData {field_name}[{i}]"
            if isinstance(item, DataItem):
                yield where, item
            else:
                self.problems.append(f"{where} is a {type(item).__name__}, not a DataItem.")

    def _inputs(self, items: Iterable[Any]) -> None:
        for where, item in self._items("input_data_item", items):
            edge = input_edge(self.task_id, item)
            if edge is None:
                self._no_direction(where, "no source: give its from_relation a related_task")
                continue
            if edge.source is None:  # a from_function supplies it: no task to check
                self.input_edges.append(edge)
                continue
            if self._known(where, edge.source, "from_tasks", "takes data from"):
                self.input_edges.append(edge)
            end = item.to_relation
            if end is not None and end.related_task not in (None, "", self.task_id):
                self._warn(
                    "%s: its to_relation names task '%s', but an input item always feeds "
                    "this task, so that name is ignored.",
                    where,
                    end.related_task,
                )

    def _outputs(self, items: Iterable[Any]) -> None:
        for where, item in self._items("output_data_item", items):
            edge = output_edge(self.task_id, item)
            if edge is None:
                self._no_direction(where, "no target: give its to_relation a related_task")
                continue
            if item.from_relation is not None and item.from_relation.from_function is not None:
                self.problems.append(
                    f"{where} has a from_function in its from_relation; an output sends this "
                    "task's result, so put the from_function on the receiver's input item."
                )
                continue
            if self._known(where, edge.receiver, "to_tasks", "sends data to"):
                self.output_edges.append(edge)

    def _known(self, where: str, other: str, field_name: str, verb: str) -> bool:
        if other not in self.tasks:
            self.problems.append(
                f"{where} {verb} task '{other}', but no task has that id; fix the name or "
                "register the task."
            )
            return False
        if other == self.task_id:
            self.problems.append(f"{where} {verb} its own task.")
            return False
        if other not in self.listed[field_name]:
            if self.config.strict_topology:
                self.problems.append(
                    f"{where} {verb} task '{other}', which its {field_name} does not list; "
                    f"add '{other}' to {field_name}, or turn strict_topology off."
                )
                return False
            logger.debug("%s %s task '%s'; declared it in %s.", where, verb, other, field_name)
            self.listed[field_name].add(other)
            self.declared[field_name].append(other)
        return True

    def _no_direction(self, where: str, what: str) -> None:
        if self.config.allow_no_dir_definition:
            self._warn("%s has %s. It is ignored.", where, what)
        else:
            self.problems.append(
                f"{where} has {what}, or remove it (allow_no_dir_definition=True would "
                "ignore it with a warning)."
            )

    def _warn(self, message: str, *args: object) -> None:
        if not self.config.silence_warnings:
            logger.warning(message, *args)
