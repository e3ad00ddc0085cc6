"""Stable hashing of task code and input values, for cache keys.

A key must be the same in every process that runs the same code on equal
inputs, and must differ whenever either differs. So nothing here uses
``hash()`` (salted per process for strings), ``id()`` or ``repr()`` of
arbitrary objects. Every value is written as a self-delimiting token stream
(type tag, length, content) into a BLAKE2b hash: two different values can
never produce the same stream, so the worst an unusual value can cause is a
miss, never a wrong hit. Containers without an order (dicts, sets) are
written in a sorted order so equal ones hash equally.

Inputs we cannot write faithfully (a lock, a socket, a generator: anything
``pickle`` refuses) raise :class:`UnstableValueError`. A function's
*environment* (closed-over values, defaults, the instance of a bound method,
module constants it reads) counts where it is stable: immutable values in
full, mutable objects by their type only. A list the task appends to, a
client or a cache dict is state, not configuration; hashing its contents
would make a task that mutates what it closes over never hit.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import inspect
import pickle
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

__all__ = ["KeyMaker", "UnstableValueError", "lineage_key", "type_name"]

_PREFIX = b"astrum-cache/1\x00" + sys.implementation.cache_tag.encode() + b"\x00"
_MAX_DEPTH = 200
# Immutable leaves a function may read from its module's globals; their values join its hash.
_CONSTANT_TYPES = (type(None), bool, int, float, complex, str, bytes, frozenset, tuple)


class UnstableValueError(TypeError):
    """A value has no stable hash; ``value_type`` names the offending type."""

    def __init__(self, value_type: str, reason: str) -> None:
        super().__init__(f"a value of type '{value_type}' {reason}")
        self.value_type = value_type


def type_name(obj: object) -> str:
    """``module.QualName`` of an object's type (builtins without the module)."""
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def lineage_key(task_key: str, upstream: Sequence[str]) -> str:
    """A task's key combined with its upstream tasks' lineage keys (a Merkle chain)."""
    digest = hashlib.blake2b(task_key.encode(), digest_size=20)
    for key in sorted(upstream):
        digest.update(b"|" + key.encode())
    return digest.hexdigest()


class KeyMaker:
    """Computes cache keys; one per run, memoising code digests within it.

    Memoising per run (not per process) matters: a function's defaults,
    closed-over values and globals may change between runs.
    """

    __slots__ = ("_codes", "_functions", "_global_names")

    def __init__(self) -> None:
        # By id, holding the code object: hashing a code object rehashes its bytecode.
        self._codes: dict[int, tuple[types.CodeType, bytes]] = {}
        self._global_names: dict[int, tuple[types.CodeType, tuple[str, ...]]] = {}
        self._functions: dict[int, tuple[object, bytes]] = {}

    def task_key(
        self,
        task_id: str,
        function: Callable[..., Any],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        key_function: Callable[..., Any] | None = None,
    ) -> str:
        """The cache key of calling ``function(*args, **kwargs)`` as task ``task_id``.

        Raises :class:`UnstableValueError` (with a note naming the argument)
        when an input has no stable hash.
        """
        digest = hashlib.blake2b(_PREFIX, digest_size=20)
        encoded = task_id.encode("utf-8", "surrogatepass")
        digest.update(b"s%d:" % len(encoded) + encoded + self.callable_digest(function))
        if key_function is None and not args and not kwargs:
            digest.update(b"a0:k0:")  # the common case of a task without parameters, kept cheap
            return digest.hexdigest()
        if key_function is not None:
            try:
                args, kwargs = (key_function(*args, **kwargs),), {}
            except Exception as exc:
                exc.add_note(f"This was raised by the cache key function of task '{task_id}'.")
                raise
        writer = _Writer(digest.update, self, soft=False)
        where: int | str = 0  # the argument being written, for the error note
        try:
            digest.update(b"a%d:" % len(args))
            for where, value in enumerate(args):  # noqa: B007 - named in the note below
                writer.write(value)
            digest.update(b"k%d:" % len(kwargs))
            for where in sorted(kwargs):
                writer.write(where)
                writer.write(kwargs[where])
        except UnstableValueError as exc:
            if key_function is not None:
                exc.add_note("the value of its cache key function")
            elif isinstance(where, int):
                exc.add_note(f"positional argument {where}")
            else:
                exc.add_note(f"argument '{where}'")
            raise
        return digest.hexdigest()

    def value_digest(self, value: object, *, soft: bool = False) -> bytes:
        """A digest of ``value``; ``soft`` writes unstable parts as their type only."""
        digest = hashlib.blake2b(digest_size=20)
        _Writer(digest.update, self, soft=soft).write(value)
        return digest.digest()

    # -- code ------------------------------------------------------------------------

    def callable_digest(self, function: object) -> bytes:
        """A digest of what calling ``function`` does: its code and its environment."""
        memo = self._functions.get(id(function))
        if memo is not None and memo[0] is function:
            return memo[1]
        # A placeholder first, so a function that refers to itself (recursion) terminates.
        self._functions[id(function)] = (function, b"<recursive:" + _qualname(function) + b">")
        digest = hashlib.blake2b(digest_size=20)
        self._write_callable(digest.update, function)
        result = digest.digest()
        self._functions[id(function)] = (function, result)
        return result

    def _write_callable(self, out: Callable[[bytes], object], function: object) -> None:
        env = _Writer(out, self, soft=True)
        if isinstance(function, types.FunctionType):
            out(b"F" + self._code_digest(function.__code__))
            env.environment(function.__defaults__)
            for name, value in sorted((function.__kwdefaults__ or {}).items()):
                env.write(name)
                env.environment(value)
            for cell in function.__closure__ or ():
                try:
                    env.environment(cell.cell_contents)
                except ValueError:  # an empty cell: the name is not bound yet
                    out(b"<empty>")
            namespace = function.__globals__
            for name in self._names_of(function.__code__):
                value = namespace.get(name, _MISSING)
                if isinstance(value, types.FunctionType):
                    out(b"G" + name.encode() + b"\x00" + self.callable_digest(value))
                elif isinstance(value, _CONSTANT_TYPES):
                    out(b"C" + name.encode() + b"\x00")
                    env.environment(value)
        elif isinstance(function, types.MethodType):
            out(b"M" + self.callable_digest(function.__func__))
            env.environment(function.__self__)
        elif isinstance(function, functools.partial):
            # Arguments bound on purpose are data, not state: written in full.
            out(b"P" + self.callable_digest(function.func))
            env.write(function.args)
            env.write(function.keywords)
        elif isinstance(function, type | types.BuiltinFunctionType | types.BuiltinMethodType):
            owner = getattr(function, "__self__", None)
            out(b"B" + _qualname(function) + b"\x00")
            if owner is not None and not isinstance(owner, types.ModuleType):
                env.environment(owner)
        else:
            # A callable instance (or a C-level callable): its type's __call__, then its state.
            call = inspect.getattr_static(type(function), "__call__", None)
            if isinstance(call, types.FunctionType):
                out(b"I" + self.callable_digest(call))
            else:
                out(b"b" + _qualname(type(function)) + b"\x00")
            env.environment(function)

    def _code_digest(self, code: types.CodeType) -> bytes:
        cached = self._codes.get(id(code))
        if cached is not None:
            return cached[1]
        digest = hashlib.blake2b(digest_size=20)
        update = digest.update
        # Line numbers and file names are left out: moving a function is not changing it.
        update(b"%d,%d,%d,%d;" % (code.co_argcount, code.co_posonlyargcount,
                                   code.co_kwonlyargcount, code.co_flags))  # fmt: skip
        update(code.co_code)
        update(b"|" + code.co_exceptiontable)
        for names in (code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars):
            update(b"|" + "\x00".join(names).encode("utf-8", "surrogatepass"))
        constants = _Writer(update, self, soft=True)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                update(b"c" + self._code_digest(const))
            else:
                constants.write(const)
        result = digest.digest()
        self._codes[id(code)] = (code, result)
        return result

    def _names_of(self, code: types.CodeType) -> tuple[str, ...]:
        """Global names ``code`` and the code nested in it may read."""
        cached = self._global_names.get(id(code))
        if cached is not None:
            return cached[1]
        found = dict.fromkeys(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found.update(dict.fromkeys(self._names_of(const)))
        names = tuple(found)
        self._global_names[id(code)] = (code, names)
        return names


_MISSING = object()
_FUNCTION_TYPES = (
    types.FunctionType,
    types.MethodType,
    functools.partial,
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
)


def _qualname(obj: object) -> bytes:
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type_name(obj)
    return f"{module}.{name}".encode("utf-8", "surrogatepass")


_SCALARS = frozenset({type(None), bool, int, float, complex, str, bytes})
_NAMED_TYPES = (type, types.ModuleType, enum.Enum, *_FUNCTION_TYPES)


def _is_value(obj: object) -> bool:
    """Whether ``obj`` is immutable data: a scalar, a function, or a hashable type with ``==``."""
    cls = type(obj)
    if cls in _SCALARS or isinstance(obj, _NAMED_TYPES):
        return True
    # Hashable and compared by value (frozen dataclasses, NamedTuples, datetimes, paths...).
    return cls.__hash__ is not None and cls.__eq__ is not object.__eq__


class _Writer:
    """Writes one value as a token stream; see the module docstring for the rules."""

    __slots__ = ("_keys", "_out", "_path", "_soft")

    def __init__(self, out: Callable[[bytes], object], keys: KeyMaker, *, soft: bool) -> None:
        self._out = out
        self._keys = keys
        self._soft = soft
        self._path: dict[int, int] = {}  # id -> depth of the containers being written

    def write(self, obj: Any) -> None:
        out = self._out
        cls = type(obj)
        # Exact built-in types first: the common case, and cheap.
        if obj is None:
            out(b"N")
        elif cls is bool:
            out(b"T" if obj else b"F")
        elif cls is int:
            out(b"i%d;" % obj)
        elif cls is float:
            out(b"f" + obj.hex().encode() + b";")
        elif cls is str:
            data = obj.encode("utf-8", "surrogatepass")
            out(b"s%d:" % len(data) + data)
        elif cls is bytes:
            out(b"b%d:" % len(obj) + obj)
        elif cls is tuple or cls is list:
            self._sequence(b"t" if cls is tuple else b"l", obj)
        elif cls is dict:
            self._mapping(obj)
        elif cls is set or cls is frozenset:
            self._set(b"S" if cls is set else b"Z", obj)
        elif cls is complex:
            out(b"j" + obj.real.hex().encode() + b"," + obj.imag.hex().encode() + b";")
        elif cls is bytearray or cls is memoryview or cls is pickle.PickleBuffer:
            data = memoryview(obj).tobytes()
            out(b"B%d:" % len(data) + data)
        elif isinstance(obj, type):
            out(b"y" + _qualname(obj) + b"\x00")
        elif isinstance(obj, types.ModuleType):
            out(b"m" + obj.__name__.encode() + b"\x00")
        elif isinstance(obj, _FUNCTION_TYPES):
            out(b"x" + self._keys.callable_digest(obj))
        else:
            self._reduced(obj)

    def environment(self, obj: Any) -> None:
        """Write a value a function reads without taking it as an argument.

        Immutable values are written in full; mutable ones by their type only
        (see the module docstring for why).
        """
        cls = type(obj)
        if cls is tuple or cls is frozenset:
            if not self._enter(obj):
                return
            self._out(b"e%d:" % len(obj))
            for item in obj if cls is tuple else self._ordered(obj, by_key=False):
                self.environment(item)
            del self._path[id(obj)]
        elif _is_value(obj):
            self.write(obj)
        else:
            self._out(b"?" + type_name(obj).encode() + b"\x00")

    def _enter(self, obj: object) -> bool:
        """Mark a container as being written; False (after a back-reference) on a cycle."""
        depth = self._path.get(id(obj))
        if depth is not None:
            self._out(b"R%d;" % depth)
            return False
        if len(self._path) >= _MAX_DEPTH:
            raise UnstableValueError(
                type_name(obj), f"that is nested more than {_MAX_DEPTH} levels deep"
            )
        self._path[id(obj)] = len(self._path)
        return True

    def _sequence(self, tag: bytes, items: Sequence[Any]) -> None:
        if not self._enter(items):
            return
        self._out(tag + b"%d:" % len(items))
        for item in items:
            self.write(item)
        del self._path[id(items)]

    def _mapping(self, mapping: Mapping[Any, Any]) -> None:
        if not self._enter(mapping):
            return
        self._out(b"d%d:" % len(mapping))
        for key, value in self._ordered(mapping.items(), by_key=True):
            self.write(key)
            self.write(value)
        del self._path[id(mapping)]

    def _set(self, tag: bytes, items: set[Any] | frozenset[Any]) -> None:
        if not self._enter(items):
            return
        self._out(tag + b"%d:" % len(items))
        for item in self._ordered(items, by_key=False):
            self.write(item)
        del self._path[id(items)]

    def _ordered(self, items: Any, *, by_key: bool) -> list[Any]:
        """Items in an order that depends only on their values.

        Plain sorting works for keys of one ordinary type (str, int, ...); anything
        else is sorted by each item's own digest. Either way the order only affects
        whether equal containers hash equally, never whether different ones collide.
        """
        items = list(items)
        try:
            kinds = {type(item[0] if by_key else item) for item in items}
            if len(kinds) <= 1 and kinds <= {str, int, bytes}:
                return sorted(items, key=itemgetter(0)) if by_key else sorted(items)
        except TypeError:
            pass
        digests = []
        for item in items:
            digest = hashlib.blake2b(digest_size=16)
            writer = _Writer(digest.update, self._keys, soft=self._soft)
            writer._path = self._path
            writer.write(item)
            digests.append((digest.digest(), item))
        digests.sort(key=itemgetter(0))
        return [item for _, item in digests]

    def _reduced(self, obj: object) -> None:
        """Any other object: as ``pickle`` would take it apart, but written stably."""
        try:
            reduced = obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - any error means pickle cannot take it either
            if self._soft:
                self._out(b"?" + type_name(obj).encode() + b"\x00")
                return
            raise UnstableValueError(type_name(obj), f"that cannot be pickled ({exc})") from None
        self._out(b"o" + type_name(obj).encode() + b"\x00")
        if isinstance(reduced, str):  # a global singleton, pickled by name
            self.write(reduced)
            return
        if not isinstance(reduced, tuple):
            if self._soft:
                self._out(b"?")
                return
            raise UnstableValueError(type_name(obj), "whose __reduce_ex__ returns no tuple")
        if not self._enter(obj):
            return
        parts = list(reduced)
        for index in (3, 4):  # list and dict items come as one-shot iterators
            if len(parts) > index and isinstance(parts[index], Iterator):
                parts[index] = list(parts[index])
        self.write(tuple(parts))
        del self._path[id(obj)]
