"""Stable hashing of code and values for cache keys."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import enum
import functools
import os
import subprocess
import sys
import threading
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings

from astrum._store._keys import KeyMaker, UnstableValueError, lineage_key
from strategies import cache_values


def digest(value: object) -> bytes:
    return KeyMaker().value_digest(value)


@dataclasses.dataclass
class Point:
    x: int
    tags: set[str]


class Colour(enum.Enum):
    RED = 1
    BLUE = 2


@given(cache_values())
@settings(max_examples=100)
def test_equal_values_hash_equally(value: object) -> None:
    """A deep copy (equal, not identical, rebuilt containers) has the same digest."""
    assert digest(value) == digest(copy.deepcopy(value))


@given(cache_values(), cache_values())
@settings(max_examples=100)
def test_equal_digests_mean_equal_values(first: object, second: object) -> None:
    """Two values with one digest are equal and of the same type: never a wrong hit."""
    if digest(first) == digest(second):
        assert first == second
        assert type(first) is type(second)


def test_type_matters() -> None:
    """Values that compare equal across types (1, 1.0, True) get different digests."""
    assert len({digest(1), digest(1.0), digest(value=True), digest("1"), digest(b"1")}) == 5
    assert digest((1, 2)) != digest([1, 2])
    assert digest({1, 2}) != digest(frozenset({1, 2}))


def test_unordered_containers_ignore_order() -> None:
    """Dicts and sets hash the same whatever their insertion order; ordered dicts do not."""
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    assert digest({3, 1, 2}) == digest({2, 3, 1})
    assert digest({1: "x", "k": (2, 3)}) == digest({"k": (2, 3), 1: "x"})
    assert digest(OrderedDict(a=1, b=2)) != digest(OrderedDict(b=2, a=1))


def test_common_value_types_hash_by_value() -> None:
    """Dataclasses, enums, datetimes and decimals hash by what they hold."""
    assert digest(Point(1, {"a", "b"})) == digest(Point(1, {"b", "a"}))
    assert digest(Point(1, {"a"})) != digest(Point(2, {"a"}))
    assert digest(Colour.RED) != digest(Colour.BLUE)
    moment = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC)
    assert digest(moment) == digest(moment.replace())
    assert digest(moment) != digest(moment + datetime.timedelta(microseconds=1))
    assert digest(Decimal("1.10")) != digest(Decimal("1.1"))


def test_cycles_terminate() -> None:
    """A self-referencing list hashes (stably) instead of recursing forever."""
    first: list[Any] = [1]
    first.append(first)
    second: list[Any] = [1]
    second.append(second)
    assert digest(first) == digest(second)
    assert digest(first) != digest([1, [1]])


def test_unpicklable_inputs_are_unstable() -> None:
    """A lock inside an input is refused, naming its type and which argument holds it."""

    def task(conn: object) -> None: ...

    with pytest.raises(UnstableValueError) as caught:
        KeyMaker().task_key("t", task, [], {"conn": {"guard": threading.Lock()}})
    assert caught.value.value_type == "_thread.lock"
    assert caught.value.__notes__ == ["argument 'conn'"]


def _compiled(source: str, name: str, first_line: int = 1) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile("\n" * (first_line - 1) + source, "<test>", "exec"), namespace)
    return namespace[name]


def code_digest(function: object) -> bytes:
    return KeyMaker().callable_digest(function)


def test_code_digest_ignores_position_but_not_content() -> None:
    """Moving a function changes nothing; changing a constant or a nested function does."""
    source = "def f(x):\n    g = lambda y: y * 2\n    return g(x) + 1\n"
    here = code_digest(_compiled(source, "f"))
    assert code_digest(_compiled(source, "f", first_line=40)) == here
    assert code_digest(_compiled(source.replace("+ 1", "+ 2"), "f")) != here
    assert code_digest(_compiled(source.replace("y * 2", "y * 3"), "f")) != here
    assert code_digest(_compiled(source.replace("return", "x += 0\n    return"), "f")) != here


def test_environment_counts_immutable_values_and_types_of_the_rest() -> None:
    """Closed-over numbers change the digest; a mutated list it closes over does not."""

    def make(scale: int, log: list[str]) -> Any:
        def work() -> int:
            log.append("called")
            return scale

        return work

    log: list[str] = []
    assert code_digest(make(2, log)) != code_digest(make(3, log))
    before = code_digest(make(2, log))
    log.extend(["a", "b"])
    assert code_digest(make(2, log)) == before


def test_partials_and_methods() -> None:
    """A partial's bound arguments count; a bound method counts its function."""

    def add(a: int, b: int) -> int:
        return a + b

    assert code_digest(functools.partial(add, 1)) != code_digest(functools.partial(add, 2))
    assert code_digest(functools.partial(add, 1)) == code_digest(functools.partial(add, 1))

    class Service:
        def fetch(self) -> int:
            return 1

        def other(self) -> int:
            return 2

    assert code_digest(Service().fetch) == code_digest(Service().fetch)
    assert code_digest(Service().fetch) != code_digest(Service().other)


def test_recursive_functions_terminate() -> None:
    """A function that calls itself through its globals has a digest."""
    fact = _compiled("def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)\n", "fact")
    assert code_digest(fact) == code_digest(fact)


def test_lineage_depends_on_upstream_keys_not_their_order() -> None:
    """The lineage key changes with any upstream key, not with their listing order."""
    assert lineage_key("k", ["a", "b"]) == lineage_key("k", ["b", "a"])
    assert lineage_key("k", ["a", "b"]) != lineage_key("k", ["a", "c"])
    assert lineage_key("k", []) != lineage_key("j", [])


_PROBE = """
import dataclasses, enum
from astrum._store._keys import KeyMaker

@dataclasses.dataclass
class Point:
    x: int
    tags: set

class Colour(enum.Enum):
    RED = 1

value = {"names": {"zeta", "alpha", "mid"}, "point": Point(3, {"q", "r"}), "c": Colour.RED,
         "nested": frozenset({("a", 1), ("b", 2)}), 1.5: [b"x", None, 2 ** 70]}
print(KeyMaker().value_digest(value).hex())
"""


def test_digests_are_the_same_in_other_processes() -> None:
    """String hashing is salted per process; our digests are not."""
    results = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, check=True
        )
        results.add(result.stdout.strip())
    assert len(results) == 1
