"""Build-time type reasoning for data relations: hints, field types, compatibility, inference.

Everything here answers "as far as annotations can tell"; when a type cannot
be known it is ``Any``, which is compatible with everything, so the checks
never reject what they cannot see.
"""

from __future__ import annotations

import ast
import builtins
import collections.abc
import dataclasses
import functools
import inspect
import logging
import sys
import textwrap
import types
import typing
from collections.abc import Callable, Mapping
from keyword import iskeyword
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

__all__ = [
    "Annotations",
    "Unresolved",
    "compatible",
    "element",
    "evaluate_now",
    "located",
    "name_now",
    "plain_globals",
    "return_type",
    "strip",
    "type_hints",
    "type_name",
]

_NONE = type(None)
_ANNOTATION_BUILTINS = frozenset(
    {
        "bool",
        "bytearray",
        "bytes",
        "complex",
        "dict",
        "float",
        "frozenset",
        "int",
        "list",
        "object",
        "set",
        "str",
        "tuple",
        "type",
    }
)
logger = logging.getLogger("astrum")


class Unresolved:
    """Stands for a name an annotation uses that is not defined where it is evaluated."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __getattr__(self, attr: str) -> Unresolved:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return Unresolved(f"{self.name}.{attr}")

    # ``Annotated[X, ...]`` and ``X | None`` must accept it like a type.
    def __call__(self, *args: object, **kwargs: object) -> Unresolved:
        return self

    def __getitem__(self, item: object) -> Unresolved:
        return self

    def __or__(self, other: object) -> Unresolved:
        return self

    __ror__ = __or__


class _Names(dict[str, Any]):
    """Evaluation locals: globals, task names, builtins, else :class:`Unresolved`.

    With ``names=None`` (registration, before any registry is at hand) only the
    module's names and the builtin types resolve; any other name may be a task
    that only the build knows, or a class defined later in the module, so it
    raises NameError and the build evaluates instead.
    """

    def __init__(self, globalns: Mapping[str, Any], names: Mapping[str, Any] | None) -> None:
        super().__init__()
        self._globalns = globalns
        self._names = names

    def __missing__(self, key: str) -> Any:
        if self._names is None:
            return name_now(self._globalns, key)
        if key in self._globalns:
            return self._globalns[key]
        # A task named like a builtin (filter, sum) shadows it, as a local would,
        # except the builtin types annotations are made of (list, dict, str).
        if key in self._names and key not in _ANNOTATION_BUILTINS:
            return self._names[key]
        return vars(builtins).get(key, Unresolved(key))


def evaluate_now(function: Callable[..., Any], annotation: str) -> Any:
    """A string annotation of ``function`` evaluated now, with its module's names only.

    Raises (NameError or whatever the expression raises) when that is not
    enough; the build then evaluates it with the registry's names at hand.
    """
    if annotation == "None":
        return _NONE  # what eval gives, as below
    globalns = plain_globals(function)
    if (
        globalns is not None
        and annotation.isidentifier()
        and annotation.isascii()  # eval would normalize other names (NFKC)
        and not iskeyword(annotation)
        and annotation != "__debug__"  # a constant to eval, not a name
    ):
        # A bare name, "int" say: looked up as eval would, without compiling it.
        value = name_now(globalns, annotation)
        return _NONE if value is None else value
    return _evaluated(function, annotation, None)


def plain_globals(function: Callable[..., Any]) -> dict[str, Any] | None:
    """The globals ``evaluate_now`` would evaluate ``function``'s annotations in, for a
    plain function; None for one that wraps another (read through :func:`_target`)."""
    if type(function) is not types.FunctionType or hasattr(function, "__wrapped__"):
        return None
    return function.__globals__


def name_now(globalns: Mapping[str, Any], key: str) -> Any:
    """What the name ``key`` means in an annotation evaluated now: the module's name, else
    a builtin type; NameError for any other name (see :class:`_Names`)."""
    if key in globalns:
        return globalns[key]
    if key in _ANNOTATION_BUILTINS:
        return vars(builtins)[key]
    raise NameError(key)


def _evaluated(
    function: Callable[..., Any], annotation: str, names: Mapping[str, Any] | None
) -> Any:
    """``annotation`` evaluated where ``function`` is defined (see :class:`_Names`)."""
    target = inspect.unwrap(_target(function))
    globalns: dict[str, Any] = getattr(target, "__globals__", {})
    value = eval(annotation, globalns, _Names(globalns, names))  # noqa: S307 - annotations are code
    return _NONE if value is None else value


def _target(function: Callable[..., Any]) -> Any:
    """The object whose annotations describe ``function``'s parameters."""
    if type(function) is types.FunctionType:
        return function  # the common case, without the checks below
    while True:
        if isinstance(function, types.MethodType | staticmethod | classmethod):
            function = function.__func__
        elif isinstance(function, functools.partial):
            function = function.func
        else:
            break
    if not inspect.isfunction(function) and not inspect.isbuiltin(function):
        call = vars(type(function)).get("__call__")  # a callable object: its method's annotations
        if inspect.isfunction(call):
            return call
    return function


def type_hints(function: Callable[..., Any], names: Mapping[str, Any]) -> dict[str, Any]:
    """Evaluated annotations of ``function`` with their ``Annotated`` extras.

    ``names`` (task ids and function names) resolve references the function's
    module cannot see, such as functions defined inside another function; a
    name nobody knows becomes :class:`Unresolved` instead of an error.
    """
    annotations = Annotations(names)
    return {key: annotations.get(function, key) for key in annotations.raw(function)}


class Annotations:
    """Evaluates the annotations of functions on demand, each at most once.

    One instance serves one build: annotations are read when the workflow is
    built, so names defined after the decorated functions resolve.
    """

    def __init__(self, names: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> None:
        # The names are made on first need: most builds evaluate no string annotation.
        self._names = names
        self._cache: dict[tuple[int, str], Any] = {}
        # Keyed by id(): each entry keeps its function alive so the id cannot be reused.
        self._raw: dict[int, tuple[Callable[..., Any], Mapping[str, Any]]] = {}
        self._marked: dict[int, list[tuple[str, Any]]] = {}

    @property
    def names(self) -> Mapping[str, Any]:
        """What annotations may name beyond their module: task ids and function names."""
        if callable(self._names):
            self._names = self._names()
        return self._names

    def raw(self, function: Callable[..., Any]) -> Mapping[str, Any]:
        """The annotations as written: objects, or strings under postponed evaluation."""
        known = self._raw.get(id(function))
        if known is not None:
            return known[1]
        found = getattr(_target(function), "__annotations__", None)
        result: Mapping[str, Any] = found if isinstance(found, dict) else {}
        self._raw[id(function)] = (function, result)
        return result

    def get(self, function: Callable[..., Any], key: str) -> Any:
        """The evaluated annotation ``key`` (a parameter or ``return``), ``Any`` when absent."""
        cache_key = (id(function), key)
        if cache_key not in self._cache:
            raw = self.raw(function)
            self._cache[cache_key] = self._evaluate(function, raw[key]) if key in raw else Any
        return self._cache[cache_key]

    def marked(self, function: Callable[..., Any]) -> list[tuple[str, Any]]:
        """``(key, annotation)`` for the annotations that may carry ``F``/``T`` markers."""
        found = self._marked.get(id(function))
        if found is None:
            found = [
                (key, self.get(function, key))
                for key, value in self.raw(function).items()
                if (isinstance(value, str) and "(" in value) or get_origin(value) is Annotated
            ]
            self._marked[id(function)] = found  # raw() keeps the function alive
        return found

    def _evaluate(self, function: Callable[..., Any], annotation: Any) -> Any:
        if isinstance(annotation, str):
            try:
                return _evaluated(function, annotation, self.names)
            except Exception:  # noqa: BLE001 - an annotation we cannot evaluate is unknown
                logger.debug("Cannot evaluate annotation %r of %r.", annotation, function)
                return Any
        return _NONE if annotation is None else annotation


def strip(hint: Any) -> Any:
    """``hint`` without ``Annotated`` metadata; a missing hint is ``Any``."""
    if type(hint) is type:
        return hint  # a plain class, the common case
    while get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    return _NONE if hint is None else hint


def type_name(hint: Any) -> str:
    """A short readable name: ``list[Doc]``, ``int | None``, ``Hits``."""
    hint = strip(hint)
    if hint is _NONE:
        return "None"
    if hint is Any:
        return "Any"
    if isinstance(hint, TypeVar | Unresolved):
        return repr(hint).lstrip("~")
    origin, args = get_origin(hint), get_args(hint)
    if _is_union(origin):
        return " | ".join(type_name(arg) for arg in args)
    if origin is Literal:
        return f"Literal[{', '.join(repr(arg) for arg in args)}]"
    if origin is not None and args:
        inner = ", ".join("..." if arg is Ellipsis else type_name(arg) for arg in args)
        return f"{type_name(origin)}[{inner}]"
    if isinstance(hint, type):
        return hint.__qualname__
    return repr(hint).replace("typing.", "")


def _is_union(origin: Any) -> bool:
    return origin is Union or origin is types.UnionType


def compatible(found: Any, expected: Any) -> bool:
    """Whether a value of type ``found`` may go where ``expected`` is declared."""
    if found is expected:
        return True  # the common case (int and int), without unpacking either
    found, expected = strip(found), strip(expected)
    if found is Any or expected is Any or expected is object or found is expected:
        return True
    if isinstance(found, TypeVar | Unresolved) or isinstance(expected, TypeVar | Unresolved):
        return True
    if isinstance(found, typing.NewType):
        return compatible(found.__supertype__, expected)
    if isinstance(expected, typing.NewType):
        return compatible(found, expected.__supertype__)
    f_origin, e_origin = get_origin(found), get_origin(expected)
    if _is_union(f_origin):
        return all(compatible(arg, expected) for arg in get_args(found))
    if _is_union(e_origin):
        return any(compatible(found, arg) for arg in get_args(expected))
    if f_origin is Literal:
        if e_origin is Literal:
            return set(get_args(found)) <= set(get_args(expected))
        return all(compatible(type(value), expected) for value in get_args(found))
    if e_origin is Literal:
        return True  # a plain str may or may not be one of the literals
    f_class, e_class = f_origin or found, e_origin or expected
    if not (isinstance(f_class, type) and isinstance(e_class, type)):
        return True
    if typing.is_typeddict(e_class):
        return issubclass(f_class, dict) or f_class is collections.abc.Mapping
    if _numeric(f_class, e_class):
        return True
    try:
        if not issubclass(f_class, e_class):
            return False
    except TypeError:  # protocols with data members and other forms issubclass refuses
        return True
    return _arguments_compatible(get_args(found), get_args(expected))


def _numeric(found: type, expected: type) -> bool:
    # PEP 484's numeric tower: an int is acceptable where a float (or complex) is expected.
    return (expected is float and found is int) or (expected is complex and found in (int, float))


def _arguments_compatible(found: tuple[Any, ...], expected: tuple[Any, ...]) -> bool:
    if not found or not expected:
        return True
    if len(expected) == 2 and expected[1] is Ellipsis:  # tuple[X, ...]
        items = found[:1] if len(found) == 2 and found[1] is Ellipsis else found
        return all(compatible(item, expected[0]) for item in items)
    if len(found) != len(expected) or Ellipsis in found:
        return True
    return all(
        compatible(f, e)
        for f, e in zip(found, expected, strict=True)
        if not isinstance(f, list) and not isinstance(e, list)  # Callable[[args], ...]
    )


def located(hint: Any, locator: str | int | None) -> tuple[Any, str | None]:
    """The type of ``value[locator]`` (or its attribute) for a value of type ``hint``.

    Returns ``(type, None)``, or ``(Any, problem)`` when the type shows that
    the locator cannot work (``"has no field 'x'"``).
    """
    hint = strip(hint)
    if locator is None or hint is Any or isinstance(hint, TypeVar | Unresolved):
        return hint, None
    origin = get_origin(hint)
    if _is_union(origin):
        results = [located(arm, locator) for arm in get_args(hint) if arm is not _NONE]
        if results and all(problem for _, problem in results):
            return Any, results[0][1]
        if any(problem for _, problem in results) or not results:
            return Any, None
        arms = tuple(dict.fromkeys(found for found, _ in results))
        return (arms[0] if len(arms) == 1 else Union[arms]), None  # noqa: UP007 - built at run time
    if isinstance(locator, str):
        return _field(hint, origin, locator)
    return _item(hint, origin, locator)


def _field(hint: Any, origin: Any, key: str) -> tuple[Any, str | None]:
    container = origin or hint
    if not isinstance(container, type):
        return Any, None
    if typing.is_typeddict(hint):
        fields = _class_hints(hint, extras=False)
        return (fields[key], None) if key in fields else (Any, f"has no key {key!r}")
    if issubclass(container, collections.abc.Mapping):
        args = get_args(hint)
        return (args[1] if len(args) == 2 else Any), None
    declared = _declared_fields(hint)
    if declared is not None:
        if key in declared:
            return declared[key], None
        if hasattr(hint, key):
            return _attribute_type(hint, key), None
        return Any, f"has no field {key!r}"
    if hasattr(hint, key):
        return _attribute_type(hint, key), None
    if hint.__module__ == "builtins":
        return Any, f"has no attribute {key!r}"
    # An ordinary class may set attributes in __init__: only its annotations are known.
    return _class_hints(hint).get(key, Any), None


def _declared_fields(cls: type) -> dict[str, Any] | None:
    """The complete field types of a dataclass, NamedTuple or pydantic model, else None."""
    if dataclasses.is_dataclass(cls):
        hints = _class_hints(cls)
        return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)}
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        hints = _class_hints(cls)
        return {name: hints.get(name, Any) for name in cls._fields}
    # A pydantic model can only exist once pydantic is imported: never import it here.
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and issubclass(cls, pydantic.BaseModel):
        model_fields: Mapping[str, Any] = getattr(cls, "model_fields", {})
        return {name: info.annotation for name, info in model_fields.items()}
    return None


def _item(hint: Any, origin: Any, index: int) -> tuple[Any, str | None]:
    container = origin or hint
    if not isinstance(container, type):
        return Any, None
    args = get_args(hint)
    if container is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0], None
        if args == ((),):
            args = ()
        if -len(args) <= index < len(args):
            return args[index], None
        return Any, f"has no item {index} (it has {len(args)})"
    if issubclass(container, tuple) and hasattr(container, "_fields"):
        names = container._fields
        if -len(names) <= index < len(names):
            return _class_hints(container).get(names[index], Any), None
        return Any, f"has no item {index} (it has {len(names)})"
    if container in (str, bytes):
        return (str if container is str else int), None
    if issubclass(container, collections.abc.Mapping):
        return (args[1] if len(args) == 2 else Any), None
    if issubclass(container, collections.abc.Sequence):
        return (args[0] if len(args) == 1 else Any), None
    if not hasattr(container, "__getitem__"):
        return Any, "cannot be indexed"
    return Any, None


def element(hint: Any) -> tuple[Any, bool]:
    """``(type of one element, True)`` for an iterable type, ``(Any, False)`` for another.

    Iterating gives a list's items, a dict's keys, a generator's yielded
    values; what cannot be known is ``Any``.
    """
    hint = strip(hint)
    if hint is Any or isinstance(hint, TypeVar | Unresolved):
        return Any, True
    origin, args = get_origin(hint), get_args(hint)
    if _is_union(origin):
        arms = [element(arm) for arm in args]
        if not all(iterable for _, iterable in arms):
            return Any, False
        found = tuple(dict.fromkeys(item for item, _ in arms))
        return (found[0] if len(found) == 1 else Union[found]), True  # noqa: UP007 - at run time
    container = origin or hint
    if not isinstance(container, type):
        return Any, True
    if container is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0], True
        items = tuple(dict.fromkeys(args))
        return (items[0] if len(items) == 1 else Union[items]), True  # noqa: UP007 - at run time
    if container in (str, bytes):
        return (str if container is str else int), True
    if not (hasattr(container, "__iter__") or hasattr(container, "__aiter__")):
        return Any, False
    if typing.is_typeddict(hint):
        return str, True
    return (args[0] if args else Any), True


def _class_hints(cls: type, *, extras: bool = True) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=extras)
    except Exception:  # noqa: BLE001 - unresolvable class annotations are unknown
        return {}


def _attribute_type(cls: type, name: str) -> Any:
    attribute = inspect.getattr_static(cls, name, None)
    if isinstance(attribute, property) and attribute.fget is not None:
        return strip(type_hints(attribute.fget, {}).get("return", Any))
    return _class_hints(cls).get(name, Any)


def return_type(function: Callable[..., Any], annotation: Any, *, infer_via_ast: bool) -> Any:
    """The type ``function`` returns: its ``annotation``, else (optionally) inferred from source."""
    if annotation is not Any:
        return strip(annotation)
    if infer_via_ast:
        return _inferred(function)
    return Any


def _inferred(function: Callable[..., Any]) -> Any:
    """The return type the source code shows, from ``return`` statements; ``Any`` if unsure."""
    target = _target(function)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(target)))
    except (OSError, TypeError, SyntaxError):
        return Any
    name = getattr(target, "__name__", "")
    node = next(
        (
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
        ),
        None,
    )
    if node is None:
        lambdas = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda)]
        if name != "<lambda>" or len(lambdas) != 1:
            return Any
        return _Inference(target).guess(lambdas[0].body) or Any
    return _Inference(target).returns(node)


class _Inference:
    """Guesses the types of expressions in one function body."""

    def __init__(self, function: Any) -> None:
        self.globalns: dict[str, Any] = getattr(function, "__globals__", {})
        self.annotated: dict[str, ast.expr] = {}
        self.assigned: dict[str, ast.expr] = {}

    def returns(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> Any:
        returns: list[ast.expr | None] = []
        for child in _own_nodes(node):
            if isinstance(child, ast.Yield | ast.YieldFrom):
                return Any
            if isinstance(child, ast.Return):
                returns.append(child.value)
            elif isinstance(child, ast.AnnAssign) and isinstance(child.target, ast.Name):
                self.annotated[child.target.id] = child.annotation
            elif isinstance(child, ast.Assign):
                for target in child.targets:
                    if isinstance(target, ast.Name):
                        self.assigned[target.id] = child.value
        for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
            if arg.annotation is not None:
                self.annotated.setdefault(arg.arg, arg.annotation)
        if not returns:
            return _NONE
        found = [self.guess(value) if value is not None else _NONE for value in returns]
        if any(item is None for item in found):
            return Any
        unique = tuple(dict.fromkeys(found))
        return unique[0] if len(unique) == 1 else Union[unique]  # noqa: UP007 - built at run time

    def guess(self, node: ast.expr, depth: int = 0) -> Any:
        literal: dict[type[ast.AST], type] = {
            ast.Dict: dict,
            ast.DictComp: dict,
            ast.List: list,
            ast.ListComp: list,
            ast.Set: set,
            ast.SetComp: set,
            ast.Tuple: tuple,
            ast.JoinedStr: str,
            ast.Compare: bool,
        }
        if type(node) in literal:
            return literal[type(node)]
        if isinstance(node, ast.Constant):
            return type(node.value)
        if isinstance(node, ast.Call):
            called = self._resolve(node.func)
            return called if isinstance(called, type) else None
        if isinstance(node, ast.Name) and depth < 10:
            if node.id in self.annotated:
                return self._annotation(self.annotated[node.id])
            if node.id in self.assigned:
                return self.guess(self.assigned[node.id], depth + 1)
        return None

    def _resolve(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            return _Names(self.globalns, {})[node.id]
        if isinstance(node, ast.Attribute):
            owner = self._resolve(node.value)
            return None if owner is None else getattr(owner, node.attr, None)
        return None

    def _annotation(self, node: ast.expr) -> Any:
        try:
            names = _Names(self.globalns, {})
            return eval(ast.unparse(node), self.globalns, names)  # noqa: S307
        except Exception:  # noqa: BLE001 - an annotation we cannot evaluate tells us nothing
            return None


def _own_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """The nodes of ``function``'s body, not those of functions or classes nested in it."""
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    result: list[ast.AST] = []
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        result.append(node)
        stack.extend(child for child in ast.iter_child_nodes(node) if not isinstance(child, nested))
    return result
