"""The callables tasks run: class-body tasks bound to instances, and their parameters.

A method registered with ``@task`` inside a class runs bound to the one
instance of that class in ``AstrumConfig(class_instances=[...])``; a
classmethod runs bound to its class; a staticmethod runs as it is.
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, Protocol

from astrum._errors import TaskRegistrationError
from astrum.config import AstrumConfig

__all__ = [
    "EMPTY",
    "POSITIONAL",
    "POSITIONAL_ONLY",
    "VARIADIC",
    "VAR_KEYWORD",
    "Param",
    "Registered",
    "named_parameters",
    "outside_class",
    "parameters",
    "plain_function",
    "resolve_functions",
]


class Registered(Protocol):
    """What binding methods needs of a registered task (a registry's record, a TaskSpec, has it).

    A protocol rather than the record itself, because the record's module reads
    functions with this one: the build's modules import downwards only.
    """

    @property
    def function(self) -> Callable[..., Any]: ...


_Kind = Literal["method", "classmethod", "staticmethod"]


def plain_function(function: Any) -> Any:
    """The function underneath static/class methods, bound methods and ``functools.wraps``."""
    while isinstance(function, staticmethod | classmethod | types.MethodType):
        function = function.__func__
    return inspect.unwrap(function) if callable(function) else function


def outside_class(qualname: str) -> bool:
    """Whether a plain function of this ``__qualname__`` runs as it is: defined at the top
    of a module (most tasks) or right inside a function (tasks a factory makes), so in no
    class body and no method; :func:`_class_scope` says the same, at more cost."""
    return "." not in qualname or qualname.rpartition(".")[0].endswith(".<locals>")


def resolve_functions(
    tasks: Mapping[str, Registered], config: AstrumConfig
) -> dict[str, Callable[..., Any]]:
    """The callables to run: methods bound to the instances in ``config.class_instances``.

    Raises one :class:`TaskRegistrationError` naming every method whose
    instance is missing or given more than once.
    """
    instances = list(config.class_instances)
    problems: list[str] = []
    result: dict[str, Callable[..., Any]] = {}
    local_classes = _LocalClasses()
    for task_id, entry in tasks.items():
        function = entry.function
        if type(function) is types.FunctionType and outside_class(function.__qualname__):
            result[task_id] = function
            continue
        scope = _class_scope(function)
        if scope is None:
            result[task_id] = function
            continue
        owner, kind = _owner(function, instances, local_classes)
        first = _first_parameter(function)
        if kind == "staticmethod" or (kind is None and first not in ("self", "cls")):
            result[task_id] = function
        elif kind == "classmethod":
            assert owner is not None
            result[task_id] = types.MethodType(function, owner)
        elif kind is None and first == "cls":
            problems.append(
                f"Task '{task_id}' is a classmethod of {scope}, which cannot be found from its "
                f"module; pass the class itself: AstrumConfig(class_instances=[{scope}])."
            )
        else:
            bound = _bind_instance(task_id, function, owner, scope, instances, problems)
            if bound is not None:
                result[task_id] = bound
    if problems:
        listed = "\n- ".join(problems)
        raise TaskRegistrationError(
            problems[0] if len(problems) == 1 else f"Some tasks cannot be bound:\n- {listed}"
        )
    return result


def _bind_instance(
    task_id: str,
    function: Callable[..., Any],
    owner: type | None,
    scope: str,
    instances: Sequence[Any],
    problems: list[str],
) -> Callable[..., Any] | None:
    name = owner.__qualname__ if owner is not None else scope
    matches = [
        instance
        for instance in instances
        if not isinstance(instance, type) and owner is not None and isinstance(instance, owner)
    ]
    if len(matches) == 1:
        return types.MethodType(function, matches[0])
    if matches:
        problems.append(
            f"Task '{task_id}' is a method of {name}, and AstrumConfig.class_instances holds "
            f"{len(matches)} instances of it; pass exactly one."
        )
    else:
        problems.append(
            f"Task '{task_id}' is a method of {name}, but AstrumConfig.class_instances holds no "
            f"instance of it; pass one: AstrumConfig(class_instances=[{name}(...)])."
        )
    return None


def _class_scope(function: Any) -> str | None:
    """The class part of a qualified name like ``Pipeline.load``, or None outside a class body."""
    qualname = getattr(function, "__qualname__", None)
    if not isinstance(qualname, str) or "." not in qualname or not inspect.isfunction(function):
        return None
    parts = qualname.split(".")
    if len(parts) < 2 or parts[-2] == "<locals>":
        return None
    scope = parts[:-1]
    if "<locals>" in scope:
        scope = scope[len(scope) - scope[::-1].index("<locals>") :]
    return ".".join(scope)


def _owner(
    function: Any, instances: Sequence[Any], local_classes: _LocalClasses
) -> tuple[type | None, _Kind | None]:
    """The class whose body defines ``function``, and how: found via the instances, the
    module, or (for a class defined inside a function) among the live classes."""
    seen: set[type] = set()
    for instance in instances:
        cls = instance if isinstance(instance, type) else type(instance)
        for klass in cls.__mro__:
            if klass not in seen:
                seen.add(klass)
                kind = _kind_in(klass, function)
                if kind is not None:
                    return klass, kind
    named = _class_by_name(function)
    if named is not None:
        kind = _kind_in(named, function)
        if kind is not None:
            return named, kind
    for klass in local_classes.named(function.__module__, function.__qualname__.rpartition(".")[0]):
        kind = _kind_in(klass, function)
        if kind is not None:
            return klass, kind
    return None, None


class _LocalClasses:
    """The live classes defined inside functions, by module and qualified name.

    Their module cannot name them, but every class is listed among its bases'
    subclasses, so a walk over the classes (not the whole heap) finds them. The
    walk is done at most once per build, and only when a task needs it.
    """

    def __init__(self) -> None:
        self._index: dict[tuple[str, str], list[type]] | None = None

    def named(self, module: str, qualname: str) -> list[type]:
        if "<locals>" not in qualname:
            return []
        if self._index is None:
            self._index = {}
            seen: set[type] = {object}
            stack: list[type] = [object]
            while stack:
                subclasses: list[type] = type.__subclasses__(stack.pop())
                for sub in subclasses:
                    if sub not in seen:
                        seen.add(sub)
                        stack.append(sub)
                        name = getattr(sub, "__qualname__", "")
                        if isinstance(name, str) and "<locals>" in name:
                            key = (getattr(sub, "__module__", ""), name)
                            self._index.setdefault(key, []).append(sub)
        return self._index.get((module, qualname), [])


def _kind_in(klass: type, function: Any) -> _Kind | None:
    for value in vars(klass).values():
        if value is function:
            return "method"
        if isinstance(value, staticmethod) and value.__func__ is function:
            return "staticmethod"
        if isinstance(value, classmethod) and value.__func__ is function:
            return "classmethod"
    return None


def _class_by_name(function: Any) -> type | None:
    parts = function.__qualname__.split(".")[:-1]
    if "<locals>" in parts:
        return None
    found: Any = sys.modules.get(function.__module__)
    for part in parts:
        found = getattr(found, part, None)
    return found if isinstance(found, type) else None


def _first_parameter(function: Callable[..., Any]) -> str | None:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return None
    return next(iter(parameters), None)


class Param(NamedTuple):
    """What a build needs of one parameter: :class:`inspect.Parameter`, cheaper to make."""

    name: str
    kind: inspect._ParameterKind
    default: Any = inspect.Parameter.empty


EMPTY = inspect.Parameter.empty
POSITIONAL_ONLY = inspect.Parameter.POSITIONAL_ONLY
_POSITIONAL_OR_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD
POSITIONAL = (POSITIONAL_ONLY, _POSITIONAL_OR_KEYWORD)
VAR_KEYWORD = inspect.Parameter.VAR_KEYWORD
VARIADIC = (inspect.Parameter.VAR_POSITIONAL, VAR_KEYWORD)


def parameters(function: Callable[..., Any]) -> list[Param] | None:
    """The parameters a call must fill, or None when the callable has no signature."""
    fast = _code_parameters(function)
    if fast is not None:
        return fast
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return None
    return [Param(p.name, p.kind, p.default) for p in signature.parameters.values()]


def named_parameters(function: Callable[..., Any]) -> tuple[tuple[str, ...], int] | None:
    """The parameter names of a plain function whose parameters are all plain and named
    (no ``*``, ``/``, keyword-only or ``**``), and how many of them lack a default;
    None for any other callable."""
    params = _code_parameters(function)
    if params is None or isinstance(function, types.MethodType):
        return None
    if any(p.kind is not _POSITIONAL_OR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params), sum(p.default is EMPTY for p in params)


def _code_parameters(function: Any) -> list[Param] | None:
    """The parameters of a plain function read from its code object, as signature() would.

    inspect.signature costs tens of microseconds per function, which adds up
    over thousands of tasks; None means "ask inspect.signature".
    """
    bound = isinstance(function, types.MethodType)
    plain = function.__func__ if bound else function
    if type(plain) is not types.FunctionType or "__wrapped__" in vars(plain):
        return None
    if "__signature__" in vars(plain):
        return None
    code = plain.__code__
    names = code.co_varnames
    positional, keyword_only = code.co_argcount, code.co_kwonlyargcount
    defaults = plain.__defaults__ or ()
    first_default = positional - len(defaults)
    posonly = code.co_posonlyargcount
    result = [
        Param(
            names[i],
            POSITIONAL_ONLY if i < posonly else _POSITIONAL_OR_KEYWORD,
            defaults[i - first_default] if i >= first_default else EMPTY,
        )
        for i in range(positional)
    ]
    extra = positional + keyword_only
    if code.co_flags & inspect.CO_VARARGS:
        result.append(Param(names[extra], inspect.Parameter.VAR_POSITIONAL))
        extra += 1
    if keyword_only:
        keyword_defaults = plain.__kwdefaults__ or {}
        result.extend(
            Param(name, inspect.Parameter.KEYWORD_ONLY, keyword_defaults.get(name, EMPTY))
            for name in names[positional : positional + keyword_only]
        )
    if code.co_flags & inspect.CO_VARKEYWORDS:
        result.append(Param(names[extra], VAR_KEYWORD))
    if bound:
        if not result or result[0].kind not in POSITIONAL:
            return None
        del result[0]
    return result
