"""Build-time type checks of data relations, and the switches that tune them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypedDict

import pydantic
import pytest

from astrum import AstrumConfig, F, Ref, SchedulerRegistry, T, TaskRegistrationError
from astrum.data_transport import DataItem, DTRela, TaskData


class Scores(TypedDict):
    best: float
    label: str


@dataclass
class Hits:
    docs: list[str]
    count: int


class Point(NamedTuple):
    x: int
    name: str


class Account(pydantic.BaseModel):
    owner: str
    balance: float


class SpecialHits(Hits):
    pass


def _problems(registry: SchedulerRegistry, config: AstrumConfig | None = None) -> list[str]:
    with pytest.raises(TaskRegistrationError) as caught:
        registry.build_scheduler(config=config)
    lines = str(caught.value).splitlines()
    return lines[1:] if len(lines) > 1 else lines


def test_whole_value_mismatch_names_everything(registry: SchedulerRegistry) -> None:
    """A mismatch names the task, parameter, expected and found types, the fix and the opt-out."""

    @registry.task()
    async def count() -> str:
        return "3"

    @registry.task()
    async def double(n: Ref[int, F("count")]) -> int:
        return n * 2

    assert _problems(registry) == [
        "Task 'double' parameter 'n' expects int, but task 'count' returns str; change one of "
        "the annotations, or pass AstrumConfig(skip_type_check=True) to skip type checks."
    ]
    registry.build_scheduler(config=AstrumConfig(skip_type_check=True))


def _structured_sources(registry: SchedulerRegistry) -> None:
    """Tasks returning a TypedDict, a dataclass, a NamedTuple, a tuple, a model and an int."""

    @registry.task()
    async def scores() -> Scores:
        return {"best": 1.0, "label": "x"}

    @registry.task()
    async def hits() -> Hits:
        return Hits([], 0)

    @registry.task()
    async def point() -> Point:
        return Point(1, "p")

    @registry.task()
    async def pair() -> tuple[int, str]:
        return (1, "a")

    @registry.task()
    async def account() -> Account:
        return Account(owner="o", balance=1.0)

    @registry.task()
    async def number() -> int:
        return 1


def test_field_types_are_looked_up_through_locators(registry: SchedulerRegistry) -> None:
    """TypedDict keys, dataclass and pydantic fields, NamedTuple and tuple items are looked up."""
    _structured_sources(registry)

    @registry.task()
    async def consume(
        a: Ref[int, F("scores", "label")],
        b: Ref[str, F("hits", "count")],
        c: Ref[str, F("point", "x")],
        d: Ref[int, F("point", 1)],
        e: Ref[int, F("pair", 1)],
        f: Ref[int, F("account", "owner")],
    ) -> None:
        return None

    assert [line.split(";")[0] for line in _problems(registry)] == [
        "- Task 'consume' parameter 'a' expects int, but task 'scores' returns Scores, "
        "whose key 'label' is str",
        "- Task 'consume' parameter 'b' expects str, but task 'hits' returns Hits, "
        "whose field 'count' is int",
        "- Task 'consume' parameter 'c' expects str, but task 'point' returns Point, "
        "whose field 'x' is int",
        "- Task 'consume' parameter 'd' expects int, but task 'point' returns Point, "
        "whose item 1 is str",
        "- Task 'consume' parameter 'e' expects int, but task 'pair' returns tuple[int, str], "
        "whose item 1 is str",
        "- Task 'consume' parameter 'f' expects int, but task 'account' returns Account, "
        "whose field 'owner' is str",
    ]


def test_locators_that_cannot_work_are_reported(registry: SchedulerRegistry) -> None:
    """A missing key, field or item, or indexing an int, is a build error."""
    _structured_sources(registry)

    @registry.task()
    async def consume(
        a: Ref[float, F("scores", "worst")],
        b: Ref[int, F("hits", "total")],
        c: Ref[int, F("pair", 2)],
        d: Ref[int, F("number", 0)],
        e: Ref[int, F("account", "owner")],
    ) -> None:
        return None

    problems = _problems(registry)
    assert (
        "reads key 'worst' of task 'scores', but task 'scores' returns Scores, which has "
        "no key 'worst'; fix the locator or the annotation" in problems[0]
    )
    assert "returns Hits, which has no field 'total'" in problems[1]
    assert "returns tuple[int, str], which has no item 2 (it has 2)" in problems[2]
    assert "returns int, which cannot be indexed" in problems[3]
    assert "returns Account, whose field 'owner' is str" in problems[4]


def test_compatible_types_pass(registry: SchedulerRegistry) -> None:
    """Subclasses, int for float, containers of compatible items, unions and Any all pass."""

    @registry.task()
    async def many() -> list[int]:
        return [1]

    @registry.task()
    async def special() -> SpecialHits:
        return SpecialHits([], 0)

    @registry.task()
    async def maybe() -> int | None:
        return None

    @registry.task()
    async def anything() -> Any:
        return 1

    @registry.task()
    async def unannotated():  # type: ignore[no-untyped-def]
        return "not checked"

    @registry.task()
    async def consume(
        a: Ref[Sequence[float], F("many")],
        b: Ref[Hits, F("special")],
        c: Ref[int | None, F("maybe")],
        d: Ref[str, F("anything")],
        e: Ref[int, F("unannotated")],
        f: Ref[float, F("many", 0)],
        g: Ref[list[str], F("special", "docs")],
    ) -> None:
        return None

    registry.build_scheduler()


def test_mismatched_container_items(registry: SchedulerRegistry) -> None:
    """list[str] does not go where list[int] is expected, nor int | None where int is."""

    @registry.task()
    async def words() -> list[str]:
        return []

    @registry.task()
    async def maybe() -> int | None:
        return None

    @registry.task()
    async def consume(a: Ref[list[int], F("words")], b: Ref[int, F("maybe")]) -> None:
        return None

    problems = _problems(registry)
    assert "expects list[int], but task 'words' returns list[str]" in problems[0]
    assert "expects int, but task 'maybe' returns int | None" in problems[1]


def test_return_side_relations_are_checked(registry: SchedulerRegistry) -> None:
    """A T(...) relation compares the sent part with the receiving parameter's type."""

    @registry.task()
    async def source() -> Ref[Hits, T("sink", "docs", "count")]:
        return Hits([], 0)

    @registry.task()
    async def sink(count: int) -> int:
        return count

    assert (
        "parameter 'count' expects int, but task 'source' returns Hits, whose field "
        "'docs' is list[str]" in _problems(registry)[0]
    )


def test_explicit_allow_data_model_is_checked(registry: SchedulerRegistry) -> None:
    """An input item's allow_data_model is what its source returns; a from_function too."""

    def now() -> str:
        return "noon"

    @registry.task()
    async def count() -> int:
        return 1

    data = TaskData(
        input_data_item=[
            DataItem(
                allow_data_model=str,
                from_relation=DTRela(related_task="count"),
                to_relation=DTRela(key="a"),
            ),
            DataItem(from_relation=DTRela(from_function=now), to_relation=DTRela(key="b")),
        ]
    )

    @registry.task(data=data)
    async def use(a: Any, b: int) -> None:
        return None

    problems = _problems(registry)
    assert (
        "parameter 'a' takes the value of task 'count', declared as str (allow_data_model), "
        "but task 'count' returns int" in problems[0]
    )
    assert "parameter 'b' expects int, but from_function now returns str" in problems[1]


def test_infer_via_ast_reads_unannotated_returns(
    registry: SchedulerRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """infer_via_ast infers unannotated returns from the source; unknown ones log a warning."""

    @registry.task()
    def build():  # type: ignore[no-untyped-def]
        result = {"a": 1}
        return result  # noqa: RET504 - the inference follows the variable back

    @registry.task()
    def opaque():  # type: ignore[no-untyped-def]
        return sorted([3, 1])

    @registry.task()
    async def use(a: Ref[int, F("build")], b: Ref[int, F("opaque")]) -> None:
        return None

    registry.build_scheduler()  # without inference the returns are unknown, so not checked
    with caplog.at_level(logging.WARNING, logger="astrum"):
        problems = _problems(registry, AstrumConfig(infer_via_ast=True))
    assert problems == [
        "Task 'use' parameter 'a' expects int, but task 'build' returns dict; change one of the "
        "annotations, or pass AstrumConfig(skip_type_check=True) to skip type checks."
    ]
    assert "the type task 'opaque' returns is unknown" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="astrum"):
        _problems(registry, AstrumConfig(infer_via_ast=True, silence_warnings=True))
    assert caplog.text == ""


def test_a_parameter_nothing_feeds_is_reported(registry: SchedulerRegistry) -> None:
    """A required parameter with no relation and no default is a build error."""

    @registry.task()
    async def lonely(value: int) -> int:
        return value

    assert "parameter 'value' gets no value" in _problems(registry)[0]


def test_unknown_names_in_annotations_do_not_break_the_build(
    registry: SchedulerRegistry,
) -> None:
    """An annotation naming an undefined type is treated as unknown, not as an error."""

    @registry.task()
    async def source() -> Undefined:  # type: ignore[name-defined]  # noqa: F821
        return 1

    @registry.task()
    async def sink(value: Ref[AlsoUndefined, F("source")]) -> None:  # type: ignore[name-defined]  # noqa: F821
        return None

    registry.build_scheduler()
