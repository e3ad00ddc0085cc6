"""What a task's function says by itself, read once, by the first build that needs it.

Its parameters, whether it is a coroutine function, its return type and the
relations its ``F``/``T``/``Input`` markers declare depend on the function
alone, not on the rest of the registry. The task's record keeps them
(:meth:`~astrum._build._task.Tasks.declared`), so a registry that builds again does not
read them again, and registering stays a matter of writing a record down.

Only what is certain is kept: string annotations (postponed evaluation) that
need more than their module's names and the builtin types, markers that name
a function instead of a task id, and anything unusual are left for the build
to read with the registry at hand, which is also where every mistake is
reported.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from types import FunctionType
from typing import Annotated, Any, Generic, NamedTuple, Protocol

from astrum._build._edges import Edge, marker_mode
from astrum._build._markers import NO_DEFAULT, From, Input, To
from astrum._build._methods import named_parameters
from astrum._build._plan import GENERATOR_FLAGS, from_fields, is_async_callable
from astrum._build._typecheck import evaluate_now, name_now, plain_globals

__all__ = [
    "ANNOTATED",
    "NOT_READ",
    "Declared",
    "bare_returns",
    "declared",
    "fed_inputs",
    "foreign",
    "run_input_edges",
    "sources_of",
    "written_reference",
    "written_return",
]

ANNOTATED: type[Any] = type(Annotated[int, 0])  # what Ref[...] makes
_LOCATORS = (str, int)
_MARKERS = (From, To)
_OURS = (From, To, Input, tuple, list, dict, str, int)  # markers, and relations written otherwise
_UNUSUAL_PARAMETERS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS
_COROUTINE = inspect.CO_COROUTINE
_NOT_BARE = _UNUSUAL_PARAMETERS | GENERATOR_FLAGS
_ABSENT: Any = object()
NOT_READ: Any = object()
"""What :func:`written_return` and :func:`bare_returns` answer when the build must read the
function in full."""
_NOT_TYPE_ARGUMENTS = (Generic, Protocol)  # classes, but Annotated[...] refuses them


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


_declared = from_fields(Declared)
_edge = from_fields(Edge)
_NOTHING = ((), (), (), (), None, False)
"""The fields of a Declared after ``annotations`` when no relation is declared."""


def declared(task_id: str, function: Callable[..., Any]) -> Declared:
    """What ``function``, registered as ``task_id``, declares by itself."""
    if type(function) is not FunctionType:
        return _declared((is_async_callable(function), None, 0, None, *_NOTHING))
    code = function.__code__
    flags = code.co_flags
    is_async = True if flags & _COROUTINE else is_async_callable(function)  # no bool() call
    if (
        not flags & _UNUSUAL_PARAMETERS
        and not code.co_kwonlyargcount
        and not code.co_posonlyargcount
        and _signature_is_code(function)
    ):
        # Only plain named parameters, read straight from the code: most tasks.
        count = code.co_argcount
        # (co_varnames makes a new tuple on every read.)
        names: tuple[str, ...] | None = code.co_varnames[:count] if count else ()
        required = count - len(function.__defaults__ or ())
    else:
        names, required = named_parameters(function) or (None, 0)
    raw = function.__annotations__
    if not raw:
        return _declared((is_async, names, required, raw, *_NOTHING))
    returns = None
    # Tuples grown by one, not lists made into tuples: most functions have one relation
    # or none, and a tuple of one is a single allocation.
    inputs: tuple[Edge, ...] = ()
    outputs: tuple[Edge, ...] = ()
    run_inputs: tuple[Edge, ...] = ()
    maps = False
    globalns = plain_globals(function)
    for name, written in raw.items():
        if name != "return":
            # The usual relation, a parameter's Ref[T, F("task")]: its edge at once, without
            # the general reading below (or eval), which a build of thousands of such tasks
            # would pay for each.
            plain = _plain_edge(task_id, name, written, globalns)
            if plain is not None:
                inputs += (plain,)
                continue
        hint = written
        if isinstance(written, str):
            # Postponed evaluation: evaluate now what the module's names allow.
            try:
                hint = evaluate_now(function, written)
            except Exception:  # noqa: BLE001 - the build evaluates it, and says what is wrong
                if "(" in written or "," in written:
                    return _unread(is_async, names, required)  # a marker (or 0.1.2's tuple)
                continue
        if name == "return":
            returns = hint
        if not isinstance(hint, ANNOTATED):
            continue
        fed = len(inputs)  # a parameter takes one F(...): a second one is a mistake
        marks_input = False
        for marker in hint.__metadata__:
            if not isinstance(marker, _MARKERS):
                if isinstance(marker, Input):
                    marks_input = True
                    continue
                if foreign(marker):
                    continue
                # A 0.1.2 tuple, or a mistake: the build reads or reports it.
                return _unread(is_async, names, required)
            edge = _marker_edge(task_id, name, marker, hint.__origin__)
            if edge is None or len(inputs) > fed:
                # A mistake, or one this cannot judge: the build explains it.
                return _unread(is_async, names, required)
            if name == "return":
                outputs += (edge,)
            else:
                inputs += (edge,)
                mode = edge.mode
                if mode is not None and mode.each:
                    maps = True
        if marks_input and name != "return":
            run_inputs += tuple(run_input_edges(task_id, name, hint))
    return _declared(
        (
            is_async,
            names,
            required,
            raw,
            inputs,
            sources_of(inputs),
            outputs,
            run_inputs,
            returns,
            maps,
        )
    )


def sources_of(inputs: tuple[Edge, ...]) -> tuple[str, ...]:
    """The distinct tasks that ``inputs``, edges of ``F("task")`` markers, come from, in order."""
    if len(inputs) == 1:
        return (inputs[0].source,)  # type: ignore[return-value]  # F(...) names one
    return tuple(dict.fromkeys([edge.source for edge in inputs]))  # type: ignore[misc]


def bare_returns(function: Callable[..., Any]) -> Any:
    """The return type of a plain function, not a generator, that takes no parameters and
    whose annotations (a return type at most) declare no relation, as :func:`written_return`
    gives it (None: nothing to keep); ``NOT_READ`` for any other function.

    Most tasks of a ``depends_on`` workflow are such *bare* functions. A build
    needs nothing else of them but whether they are coroutine functions, so it
    skips reading them (:func:`declared`), binding them and looking for maps in
    them.
    """
    if type(function) is not FunctionType:
        return NOT_READ
    code = function.__code__
    if code.co_argcount or code.co_kwonlyargcount or code.co_flags & _NOT_BARE:
        return NOT_READ
    raw = function.__annotations__
    returns = None
    if raw:
        if len(raw) > 1:
            return NOT_READ
        returns = raw.get("return", NOT_READ)
        if type(returns) is str and returns == "None":
            returns = None  # what written_return says of the commonest, without a call
        elif returns is not NOT_READ:
            returns = written_return(function, returns)
    return returns if _signature_is_code(function) else NOT_READ


def fed_inputs(task_id: str, function: Callable[..., Any]) -> tuple[tuple[Edge, ...], Any] | None:
    """The edges of a function each of whose parameters is fed by a plain
    ``Ref[T, F("task")]``, in parameter order, when that is all it declares, and its
    return type (None: absent, or left for the type checker to look up); None for
    any other function (a bare one included).

    Value chains and joins are made of such functions. Their relations are
    certain from the annotations alone, so a build takes these edges (the very
    ones :func:`declared` would make) without reading the rest, and binds them
    without the general matching of relations to parameters. Annotations may be
    written as objects or as strings (postponed evaluation); a string return
    annotation must be a name (``"int"``), which is looked up at once.
    """
    if type(function) is not FunctionType:
        return None
    code = function.__code__
    count = code.co_argcount
    if (
        not count
        or code.co_kwonlyargcount
        or code.co_posonlyargcount
        or code.co_flags & _NOT_BARE
        or function.__defaults__
        or not _signature_is_code(function)
    ):
        return None
    names = code.co_varnames  # (a new tuple on every read: read once)
    inputs: tuple[Edge, ...] = ()
    returns = None
    for name, written in function.__annotations__.items():
        if name == "return":
            if type(written) is str:
                written = written_return(function, written)  # noqa: PLW2901 - a name, looked up
            if written is NOT_READ or isinstance(written, ANNOTATED):
                return None  # T(...) markers, or a string that is more than a name: read it all
            returns = written
            continue
        fed = len(inputs)
        # One relation per parameter, in the parameters' order: then the bindings are too.
        if fed == count or name != names[fed]:
            return None
        # (Strings are read in function.__globals__, where evaluate_now would evaluate them:
        # nothing wraps the function.)
        plain = _plain_edge(task_id, name, written, function.__globals__)
        if plain is None:
            return None
        inputs += (plain,)
    if len(inputs) != count:
        return None  # a parameter without a relation: the build says what is missing
    return inputs, returns


def _plain_edge(
    task_id: str, name: str, written: Any, globalns: Mapping[str, Any] | None
) -> Edge | None:
    """The edge of parameter ``name`` when its annotation ``written`` is a plain
    ``Ref[T, F("task")]`` (or ``F("task", locator)``) naming another task: an object, or a
    string that :func:`written_reference` reads in ``globalns`` (None: strings are not
    read); None for any other annotation, which takes the general reading."""
    if type(written) is ANNOTATED:
        metadata = written.__metadata__
        marker = metadata[0]
        if (
            len(metadata) != 1
            or type(marker) is not From
            or marker.default is not NO_DEFAULT
            or marker.partial
        ):
            return None
        source, locator, hint = marker.task, marker.locator, written.__origin__
        if type(source) is not str or not (locator is None or type(locator) in _LOCATORS):
            return None
    elif type(written) is str and globalns is not None:
        reference = written_reference(written, globalns)
        if reference is None:
            return None
        (hint, source), locator = reference, None
    else:
        return None
    if source == task_id:
        return None
    return _edge((task_id, name, source, None, locator, hint, None, None, None))


def written_return(function: Callable[..., Any], written: Any) -> Any:
    """The return annotation ``written`` of a plain ``function``, as :func:`declared` keeps
    it for the type checker, a string that is a name looked up; None when there is nothing
    to keep (``None``, or a name the module lacks, which the type checker looks up among
    the tasks too); ``NOT_READ`` when it may hold markers or is any other string, for the
    build to read in full."""
    if type(written) is str:
        if written == "None":
            return None  # "-> None", the commonest: nothing to keep
        if not written.isidentifier():
            return NOT_READ
        try:
            written = evaluate_now(function, written)  # a name: looked up, not compiled
        except Exception:  # noqa: BLE001 - as declared() does: the type checker evaluates it
            return None
    return NOT_READ if isinstance(written, ANNOTATED) else written


# Ref[T, F("task")] written as a string: an ASCII name (eval normalizes others), and a
# task id in quotes that eval reads as written (no escape, control character or lone
# surrogate); spaces and tabs only where eval allows them.
_WRITTEN_REFERENCE = re.compile(
    r"""Ref\[[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*,[ \t]*F\([ \t]*"""
    r"""(?:"([^"\\\x00-\x1f\x7f\ud800-\udfff]*)"|'([^'\\\x00-\x1f\x7f\ud800-\udfff]*)')"""
    r"""[ \t]*\)[ \t]*\]"""
)


def written_reference(annotation: str, globalns: Mapping[str, Any]) -> tuple[type, str] | None:
    """The type and the task id of ``annotation`` when it is the string ``Ref[T, F("task")]``
    and evaluating it now in ``globalns`` (see :func:`plain_globals`) would give
    ``Annotated[T, From("task")]`` with ``T`` a class; None for any other string, which
    :func:`evaluate_now` evaluates.

    Under postponed evaluation (``from __future__ import annotations``) every
    relation is such a string. Compiling one costs about 8 µs, more than the
    rest of the task's build and run together, so the usual form is read by a
    pattern instead, its names looked up as ``eval`` would look them up.

    >>> written_reference('Ref[list, F("users")]', {"Ref": Annotated, "F": From})
    (<class 'list'>, 'users')
    """
    match = _WRITTEN_REFERENCE.fullmatch(annotation)
    if match is None:
        return None
    # (Neither Ref nor F is a builtin: eval finds them in the module or not at all.)
    if globalns.get("Ref") is not Annotated or globalns.get("F") is not From:
        return None  # other meanings of these names, or none: evaluate it
    hint_name, double_quoted, single_quoted = match.groups()
    try:
        hint = name_now(globalns, hint_name)
    except NameError:
        return None  # evaluating it says which name is missing
    if not isinstance(hint, type) or hint in _NOT_TYPE_ARGUMENTS:
        return None  # not a class, or one Annotated refuses: evaluating it says so
    return hint, double_quoted if double_quoted is not None else single_quoted


def _signature_is_code(function: FunctionType) -> bool:
    """Whether ``inspect.signature`` would read ``function``'s own code: it follows a
    ``__wrapped__`` or a ``__signature__`` instead, which the general path reads."""
    # Looked up, not read from ``function.__dict__``, which would make one per function.
    return (
        getattr(function, "__wrapped__", _ABSENT) is _ABSENT
        and getattr(function, "__signature__", _ABSENT) is _ABSENT
    )


def _unread(is_async: bool, names: tuple[str, ...] | None, required: int) -> Declared:
    """The facts without the relations: the build reads those with the registry at hand."""
    return _declared((is_async, names, required, None, *_NOTHING))


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
    source = marker.task
    if not (isinstance(source, str) and source != task_id):
        return None  # a function (the build finds its task), or a mistake
    if isinstance(marker, From):
        locator = marker.locator
        if name == "return" or not (locator is None or type(locator) in _LOCATORS):
            return None
        if type(marker) is From and marker.default is NO_DEFAULT and not marker.partial:
            mode = None  # a plain F(...): most relations
        else:
            mode = marker_mode(marker)
        return _edge((task_id, name, source, None, locator, hint, None, None, mode))
    if name != "return" or not (_locator(marker.local) and _locator(marker.target)):
        return None
    return _edge((marker.task, marker.target, task_id, None, marker.local, None, hint, None, None))


def _locator(value: object) -> bool:
    return value is None or type(value) in _LOCATORS
