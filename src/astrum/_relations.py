"""How annotations and explicit :class:`TaskData` become each task's merged TaskData.

``Ref[T, F(...)]`` on a parameter becomes an input item, ``T(...)`` on the
return an output item; the explicit items are checked and kept. The result
is made of new objects: what the user registered is never changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, get_origin

from ._errors import TaskRegistrationError
from ._methods import plain_function
from ._typecheck import Annotations, Unresolved, strip
from .config import AstrumConfig
from .data_transport import DataItem, DTRela, F, From, Ref, T, TaskData, To

if TYPE_CHECKING:
    from ._registry import RegisteredTask

__all__ = ["annotations_for", "reference_names", "summary", "task_data_for"]

logger = logging.getLogger("astrum")

Locator = str | int | None


def summary(problems: Sequence[str]) -> str:
    """One error message for all the problems a build found, one line each."""
    if len(problems) == 1:
        return problems[0]
    listed = "\n- ".join(problems)
    return f"The workflow's data relations have {len(problems)} problems:\n- {listed}"


def task_data_for(
    tasks: Mapping[str, RegisteredTask],
    config: AstrumConfig,
    annotations: Annotations | None = None,
) -> dict[str, TaskData]:
    """Each task's data relations: its explicit TaskData merged with its annotations.

    ``annotations`` is the build's :func:`annotations_for` ``tasks``, shared so
    that each function's annotations are read once. The result holds new
    objects; every problem found is raised at once.
    """
    if annotations is None:
        annotations = annotations_for(tasks)
    owners: dict[int, list[str]] = {}
    for task_id, entry in tasks.items():
        owners.setdefault(id(plain_function(entry.function)), []).append(task_id)
    problems: list[str] = []
    result: dict[str, TaskData] = {}
    for task_id, entry in tasks.items():
        reader = _AnnotationReader(task_id, tasks, owners, problems)
        inputs, outputs = reader.read(entry.function, annotations)
        if entry.data is None and not inputs and not outputs:
            continue
        result[task_id] = _merge(task_id, entry.data, inputs, outputs, tasks, config, problems)
    if problems:
        raise TaskRegistrationError(summary(problems))
    return result


def annotations_for(tasks: Mapping[str, RegisteredTask]) -> Annotations:
    """One build's reader of annotations, which may name the ``tasks`` by id or function."""
    return Annotations(reference_names(tasks))


def reference_names(tasks: Mapping[str, RegisteredTask]) -> dict[str, Any]:
    """Names an annotation may use for a task: its id, and its function's name if unique."""
    by_name: dict[str, list[Any]] = {}
    for entry in tasks.values():
        name = getattr(entry.function, "__name__", None)
        if isinstance(name, str):
            by_name.setdefault(name, []).append(entry.function)
    names: dict[str, Any] = {"Ref": Ref, "F": F, "T": T, "From": From, "To": To}
    names["Annotated"] = Annotated
    names.update({name: found[0] for name, found in by_name.items() if len(found) == 1})
    names.update({task_id: entry.function for task_id, entry in tasks.items()})
    return names


class _AnnotationReader:
    """Turns one task's ``F``/``T`` annotations into data items, noting every mistake."""

    def __init__(
        self,
        task_id: str,
        tasks: Mapping[str, RegisteredTask],
        owners: Mapping[int, list[str]],
        problems: list[str],
    ) -> None:
        self.task_id = task_id
        self.tasks = tasks
        self.owners = owners
        self.problems = problems

    def read(
        self, function: Callable[..., Any], annotations: Annotations
    ) -> tuple[list[DataItem], list[DataItem]]:
        inputs: list[DataItem] = []
        outputs: list[DataItem] = []
        for name, hint in annotations.marked(function):
            markers = _markers(hint)
            if name == "return":
                outputs.extend(item for m in markers if (item := self._output(m, hint)))
            elif markers and (item := self._input(name, markers, hint)):
                inputs.append(item)
        return inputs, outputs

    def _input(self, name: str, markers: list[From | To], hint: Any) -> DataItem | None:
        where = f"Task '{self.task_id}' parameter '{name}'"
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
            source = self._task(where, "F", marker.task)
            if self._locator(where, "F(...) locator", marker.locator) and source is not None:
                return DataItem(
                    allow_data_model=strip(hint),
                    from_relation=_relation(source, marker.locator),
                    to_relation=DTRela(key=name, related_task=self.task_id),
                )
        return None

    def _output(self, marker: From | To, hint: Any) -> DataItem | None:
        where = f"Task '{self.task_id}' return annotation"
        if isinstance(marker, From):
            self.problems.append(
                f"{where} has F(...), which belongs on parameters; use T(...) to send the "
                "result to a downstream task."
            )
            return None
        target = self._task(where, "T", marker.task)
        local_ok = self._locator(where, "T(...) local locator", marker.local)
        if self._locator(where, "T(...) target parameter", marker.target) and local_ok and target:
            return DataItem(
                allow_data_model=strip(hint),
                from_relation=_relation(self.task_id, marker.local),
                to_relation=_relation(target, marker.target),
            )
        return None

    def _task(self, where: str, marker: str, ref: object) -> str | None:
        """The task id ``ref`` names (an id or a registered function), or None after a problem."""
        if isinstance(ref, str):
            if ref in self.tasks and ref != self.task_id:
                return ref
            if ref == self.task_id:
                self.problems.append(f"{where} names its own task in {marker}(...).")
            else:
                self.problems.append(
                    f"{where} names task '{ref}' in {marker}(...), but no task has that id; "
                    "fix the name or register the task."
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
        ids = self.owners.get(id(plain_function(ref)), [])
        label = getattr(ref, "__qualname__", repr(ref))
        if len(ids) == 1:
            return self._task(where, marker, ids[0])
        if ids:
            choices = " or ".join(f"{marker}('{task_id}')" for task_id in ids)
            self.problems.append(
                f"{where} names function {label} in {marker}(...), but it is registered as "
                f"several tasks ({', '.join(ids)}); name one by its id: {choices}."
            )
        else:
            self.problems.append(
                f"{where} names function {label} in {marker}(...), which is not a registered "
                "task; register it with @task or name a task id."
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


def _markers(hint: Any) -> list[From | To]:
    if get_origin(hint) is not Annotated:
        return []
    return [meta for meta in hint.__metadata__ if isinstance(meta, From | To)]


def _relation(task_id: str, locator: Locator) -> DTRela:
    if locator is None:
        return DTRela(single_item=True, related_task=task_id)
    if isinstance(locator, int):
        return DTRela(index=locator, related_task=task_id)
    return DTRela(key=locator, related_task=task_id)


def _merge(
    task_id: str,
    explicit: TaskData | None,
    inputs: list[DataItem],
    outputs: list[DataItem],
    tasks: Mapping[str, RegisteredTask],
    config: AstrumConfig,
    problems: list[str],
) -> TaskData:
    """A new TaskData: the explicit items (checked) plus the annotation-derived ones."""
    declared: dict[str, list[str]] = {"from_tasks": [], "to_tasks": []}
    kept: dict[str, list[DataItem]] = {"input_data_item": [], "output_data_item": []}
    if explicit is not None and not isinstance(explicit, TaskData):
        problems.append(
            f"Task '{task_id}' was given data={type(explicit).__name__}; pass a TaskData "
            "from astrum.data_transport."
        )
    elif explicit is not None:
        if explicit.task_id and explicit.task_id != task_id:
            problems.append(
                f"Task '{task_id}' was given TaskData(task_id='{explicit.task_id}'); use "
                f"task_id='{task_id}' or leave it empty."
            )
        for field_name, listed in declared.items():
            for other in getattr(explicit, field_name) or ():
                if other not in tasks:
                    problems.append(
                        f"Task '{task_id}' lists '{other}' in its TaskData {field_name}, but no "
                        "task has that id; fix the name or register the task."
                    )
                listed.append(other)
        checker = _ExplicitItems(task_id, tasks, config, problems, declared)
        kept["input_data_item"] = checker.inputs(explicit.input_data_item)
        kept["output_data_item"] = checker.outputs(explicit.output_data_item)
    for item in inputs:
        assert item.from_relation is not None
        declared["from_tasks"].append(item.from_relation.related_task or "")
    for item in outputs:
        assert item.to_relation is not None
        declared["to_tasks"].append(item.to_relation.related_task or "")
    return TaskData(
        task_id=task_id,
        input_data_item=[*kept["input_data_item"], *inputs],
        output_data_item=[*kept["output_data_item"], *outputs],
        from_tasks=list(dict.fromkeys(declared["from_tasks"])),
        to_tasks=list(dict.fromkeys(declared["to_tasks"])),
    )


class _ExplicitItems:
    """Checks the items of one explicit TaskData; undeclared tasks are declared unless strict."""

    def __init__(
        self,
        task_id: str,
        tasks: Mapping[str, RegisteredTask],
        config: AstrumConfig,
        problems: list[str],
        declared: dict[str, list[str]],
    ) -> None:
        self.task_id = task_id
        self.tasks = tasks
        self.config = config
        self.problems = problems
        self.declared = declared
        self.listed = {name: set(ids) for name, ids in declared.items()}

    def _items(self, field_name: str, items: Iterable[Any]) -> Iterator[tuple[str, DataItem]]:
        for i, item in enumerate(items):
            where = f"Task '{self.task_id}' TaskData {field_name}[{i}]"
            if isinstance(item, DataItem):
                yield where, item
            else:
                self.problems.append(f"{where} is a {type(item).__name__}, not a DataItem.")

    def inputs(self, items: Iterable[Any]) -> list[DataItem]:
        kept = []
        for where, item in self._items("input_data_item", items):
            source = item.from_relation
            if source is not None and source.from_function is not None:
                kept.append(item)
                continue
            if source is None or not source.related_task:
                self._no_direction(where, "no source: give its from_relation a related_task")
                continue
            if self._known(where, source.related_task, "from_tasks", "takes data from"):
                kept.append(item)
            end = item.to_relation
            if end is not None and end.related_task not in (None, "", self.task_id):
                self._warn(
                    "%s: its to_relation names task '%s', but an input item always feeds "
                    "this task, so that name is ignored.",
                    where,
                    end.related_task,
                )
        return kept

    def outputs(self, items: Iterable[Any]) -> list[DataItem]:
        kept = []
        for where, item in self._items("output_data_item", items):
            end = item.to_relation
            if end is None or not end.related_task:
                self._no_direction(where, "no target: give its to_relation a related_task")
                continue
            if item.from_relation is not None and item.from_relation.from_function is not None:
                self.problems.append(
                    f"{where} has a from_function in its from_relation; an output sends this "
                    "task's result, so put the from_function on the receiver's input item."
                )
                continue
            if self._known(where, end.related_task, "to_tasks", "sends data to"):
                kept.append(item)
        return kept

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
