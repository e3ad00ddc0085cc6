"""What a task's function says by itself, read once, by the first build that needs it.

Its parameters, whether it is a coroutine function, its return type and the
relations its ``F``/``T``/``Input`` markers declare depend on the function
alone, not on the rest of the registry. The task's record keeps them
(:attr:`RegisteredTask.declared`), so a registry that builds again does not
read them again, and registering stays a matter of writing a record down.

Only what is certain is kept: string annotations (postponed evaluation) that
need more than their module's names and the builtin types, markers that name
a function instead of a task id, and anything unusual are left for the build
to read with the registry at hand, which is also where every mistake is
reported.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from types import FunctionType
from typing import Annotated, Any, NamedTuple

from astrum._build._edges import Edge, marker_mode
from astrum._build._methods import named_parameters
from astrum._build._plan import is_async_callable
from astrum._build._typecheck import evaluate_now
from astrum._build._markers import From, Input, To

__all__ = ["ANNOTATED", "Declared", "declared", "foreign", "run_input_edges"]

ANNOTATED: type[Any] = type(Annotated[int, 0])  # what Ref[...] makes
_LOCATORS = (str, int)
_OURS = (From, To, Input, tuple, list, dict, str, int)  # markers, and relations written otherwise
_UNUSUAL_PARAMETERS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


class Declared(NamedTuple):
    """The facts of one registered function; see the module's docstring."""

    is_async: bool
    names: tuple[str, ...] | None
    """The parameter names when all are plain named parameters (no ``*``,
    ``/`` or keyword-only); None for any other signature."""
    required: int
    """How many of ``names`` have no default (they come first)."""
    annotations: Mapping[str, Any] | None
    """The annotations the relations below were read from; None when the
    build must read them (strings, unusual markers, not a plain function)."""
    inputs: tuple[Edge, ...] = ()
    """``F("task")`` parameters, in annotation order."""
    sources: tuple[str, ...] = ()
    """The distinct tasks ``inputs`` come from."""
    outputs: tuple[Edge, ...] = ()
    """``T("task")`` markers on the return annotation."""
    run_inputs: tuple[Edge, ...] = ()
    """``Input("name")`` parameters."""
    returns: Any = None
    """The return annotation, evaluated, when read with the others; None: ask at build."""
    maps: bool = False
    """Whether a parameter is marked ``Each(...)``: the task is mapped."""


def declared(task_id: str, function: Callable[..., Any]) -> Declared:
    """What ``function``, registered as ``task_id``, declares by itself."""
    is_async = is_async_callable(function)
    if type(function) is not FunctionType:
        return Declared(is_async, None, 0, None)
    code = function.__code__
    attributes = function.__dict__
    if (
        not code.co_flags & _UNUSUAL_PARAMETERS
        and not code.co_kwonlyargcount
        and not code.co_posonlyargcount
        and "__wrapped__" not in attributes
        and "__signature__" not in attributes
    ):
        # Only plain named parameters, read straight from the code: most tasks.
        names: tuple[str, ...] | None = code.co_varnames[: code.co_argcount]
        required = code.co_argcount - len(function.__defaults__ or ())
    else:
        names, required = named_parameters(function) or (None, 0)
    raw = function.__annotations__
    if not raw:
        return Declared(is_async, names, required, raw)
    unread = Declared(is_async, names, required, None)
    returns = None
    inputs: list[Edge] = []
    outputs: list[Edge] = []
    run_inputs: list[Edge] = []
    for name, written in raw.items():
        hint = written
        if isinstance(written, str):
            # Postponed evaluation: evaluate now what the module's names allow.
            try:
                hint = evaluate_now(function, written)
            except Exception:  # noqa: BLE001 - the build evaluates it, and says what is wrong
                if "(" in written or "," in written:
                    return unread  # a marker (or 0.1.2's tuple) may hide in it
                continue
        if name == "return":
            returns = hint
        if not isinstance(hint, ANNOTATED):
            continue
        for marker in hint.__metadata__:
            if not isinstance(marker, From | To):
                if isinstance(marker, Input) or foreign(marker):
                    continue
                return unread  # a 0.1.2 tuple, or a mistake: the build reads or reports it
            edge = _marker_edge(task_id, name, marker, hint.__origin__)
            if edge is None or any(other.target == name for other in inputs):
                return unread  # a mistake, or one this cannot judge: the build explains it
            (outputs if name == "return" else inputs).append(edge)
        if name != "return":
            run_inputs.extend(run_input_edges(task_id, name, hint))
    return Declared(
        is_async,
        names,
        required,
        raw,
        tuple(inputs),
        tuple(dict.fromkeys(edge.source for edge in inputs if edge.source is not None)),
        tuple(outputs),
        tuple(run_inputs),
        returns,
        bool(inputs) and any(edge.mode is not None and edge.mode.each for edge in inputs),
    )


def run_input_edges(task_id: str, name: str, hint: Any) -> list[Edge]:
    """An edge for each ``Input("name")`` marker in the annotation of parameter ``name``."""
    if not isinstance(hint, ANNOTATED):
        return []
    return [
        Edge(task_id, name, None, None, None, hint.__origin__, None, marker.name)
        for marker in hint.__metadata__
        if isinstance(marker, Input)
    ]


def foreign(meta: object) -> bool:
    """Whether ``Annotated`` metadata belongs to another library (a pydantic ``Field``,
    an ``annotated_types`` constraint) rather than being a relation written wrongly.

    Astrum leaves such metadata alone, as 0.1.2 did; a tuple (0.1.2's form of ``F``),
    a task id, a locator, a function or a container of them is read as a relation.
    """
    return not isinstance(meta, _OURS) and not inspect.isroutine(meta)


def _marker_edge(task_id: str, name: str, marker: From | To, hint: Any) -> Edge | None:
    """The edge of an ``F`` on parameter ``name`` or a ``T`` on the return (``name`` is
    ``"return"``) that names another task by id with valid locators; None for anything
    else. ``hint`` is the annotation without its markers."""
    if not (isinstance(marker.task, str) and marker.task != task_id):
        return None  # a function (the build finds its task), or a mistake
    if isinstance(marker, From):
        if name == "return" or not _locator(marker.locator):
            return None
        mode = marker_mode(marker)
        return Edge(task_id, name, marker.task, None, marker.locator, hint, None, None, mode)
    if name != "return" or not (_locator(marker.local) and _locator(marker.target)):
        return None
    return Edge(marker.task, marker.target, task_id, None, marker.local, None, hint)


def _locator(value: object) -> bool:
    return value is None or type(value) in _LOCATORS
