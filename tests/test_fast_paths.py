"""Shortcuts taken on the build and run hot paths give the same answers as the general code."""

from __future__ import annotations

import asyncio
import functools
import inspect
import types
import typing
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any, Generic, Literal, Protocol

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import astrum
from _support import register_data_task
from astrum import AstrumConfig, F, Ref, SchedulerRegistry, TaskRegistrationError
from astrum._build import _declared, _edges, _relations, _typecheck
from astrum._build._bindings import _bind, _bind_plain, _bindings
from astrum._build._declared import declared
from astrum._build._edges import Edge
from astrum._build._methods import parameters
from astrum._build._plan import DEFAULT_OPTIONS, Binding, TaskSpec, is_async_callable
from astrum._build._typecheck import compatible
from strategies import DataDag, data_dags


async def _coroutine_function() -> None:
    return None


def _plain_function() -> None:
    return None


class _AsyncCallable:
    async def __call__(self) -> None:
        return None


class _Methods:
    async def run(self) -> None:
        return None

    def plain(self) -> None:
        return None


@pytest.mark.parametrize(
    "function",
    [
        _coroutine_function,
        _plain_function,
        functools.partial(_coroutine_function),
        functools.partial(_plain_function),
        _AsyncCallable(),
        _Methods().run,
        _Methods().plain,
        lambda: None,
    ],
)
def test_is_async_callable_agrees_with_inspect(function: Any) -> None:
    """Plain functions, partials, bound methods and callables are classified as before."""
    expected = (
        inspect.iscoroutinefunction(function)
        or inspect.iscoroutinefunction(getattr(function, "func", None))
        or inspect.iscoroutinefunction(type(function).__call__)
    )
    assert is_async_callable(function) is expected


def test_task_spec_is_immutable() -> None:
    """A plan's task specs cannot be changed after the build."""
    spec = TaskSpec(task_id="a", function=_plain_function, is_async=False)
    with pytest.raises(AttributeError):
        spec.retry = 3  # type: ignore[misc]
    assert spec.options is DEFAULT_OPTIONS


async def test_registry_shares_default_options_and_keeps_others(
    registry: SchedulerRegistry,
) -> None:
    """Tasks without options share the defaults; a task with options keeps its own."""

    @registry.task()
    async def plain() -> None:
        return None

    @registry.task(timeout=5, tags=["db"])
    async def tuned() -> None:
        return None

    specs = {
        spec.task_id: spec
        for spec in registry.build_scheduler(config=AstrumConfig(pools={"db": 1})).plan.specs
    }
    assert specs["plain"].options is DEFAULT_OPTIONS
    assert specs["tuned"].options.timeout == 5
    assert specs["tuned"].options.tags == ("db",)


# -- relations read at registration, bindings of plain functions ----------------------------


def _plan_bindings(registry: SchedulerRegistry) -> dict[str, tuple[Binding, ...]]:
    plan = registry.build_scheduler().plan
    return {spec.task_id: spec.bindings for spec in plan.specs}


@settings(max_examples=40, deadline=None)
@given(dag=data_dags())
def test_relations_read_at_registration_match_those_read_at_build(dag: DataDag) -> None:
    """A registry builds the same bindings whether registration or the build read them."""
    registry = SchedulerRegistry(f"declared-{uuid.uuid4().hex}")
    for task in range(dag.size):
        register_data_task(registry, dag, task)
    read_at_registration = _plan_bindings(registry)
    for entry in registry.get_all_tasks().values():
        # An equal but new dict: registration's reading no longer applies, the build reads.
        entry.function.__annotations__ = dict(entry.function.__annotations__)
    assert _plan_bindings(registry) == read_at_registration


def test_annotations_replaced_after_registration_are_the_ones_used(
    registry: SchedulerRegistry,
) -> None:
    """Registration reads annotations early, but a build follows annotations replaced since."""

    @registry.task()
    async def first() -> int:
        return 1

    @registry.task()
    async def second() -> int:
        return 2

    @registry.task()
    async def total(x: Ref[int, F("first")]) -> int:
        return x

    total.__annotations__ = {"x": Ref[int, F("second")], "return": int}
    assert asyncio.run(registry.run()).task_return_set["total"] == 2


_TARGETS = st.one_of(
    st.none(), st.integers(min_value=-1, max_value=4), st.sampled_from(["p0", "p1", "p2", "q"])
)


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(min_value=0, max_value=3),
    defaults=st.integers(min_value=0, max_value=3),
    targets=st.lists(_TARGETS, max_size=3),
)
def test_plain_binding_agrees_with_the_general_path(
    count: int, defaults: int, targets: list[str | int | None]
) -> None:
    """For functions with plain named parameters, the short binding path gives the general
    path's bindings, and steps aside whenever the general path finds a problem."""
    defaults = min(defaults, count)
    names = [f"p{i}" for i in range(count)]
    signature = ", ".join(
        f"{name}={i}" if i >= count - defaults else name for i, name in enumerate(names)
    )
    namespace: dict[str, Any] = {}
    exec(f"def body({signature}): return None", namespace)
    function = namespace["body"]
    edges = [
        Edge("task", target, f"s{i}", None, None, int, None) for i, target in enumerate(targets)
    ]
    index = {f"s{i}": i for i in range(len(targets))}
    problems: list[str] = []
    params = parameters(function)
    general_bound = _bind("task", params, edges, problems)
    missing = [
        p.name
        for p in params or ()
        if p.default is inspect.Parameter.empty and p.name not in dict(general_bound)
    ]
    declared_now = declared("task", function)
    assert declared_now.names == tuple(names)
    plain = _bind_plain(
        "task", function, tuple(names), declared_now.required, edges, index, types=None
    )
    if problems or missing:
        assert plain is None
    else:
        assert plain == (_bindings(params, general_bound, index) if general_bound else ())


@pytest.mark.parametrize("way", ["plain", "task factory", "debug"])
async def test_tasks_are_made_alike_with_or_without_the_loops_create_task(way: str) -> None:
    """Each task runs in an asyncio task named after it, whoever makes it (factory, debug)."""
    loop = asyncio.get_running_loop()
    made: list[Any] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        made.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    seen: dict[str, str] = {}
    registry = SchedulerRegistry(f"made-{way}-{uuid.uuid4().hex}")

    def record(task_id: str) -> Any:
        async def body() -> None:
            task = asyncio.current_task()
            assert task is not None
            seen[task_id] = task.get_name()

        return body

    registry.task("first")(record("first"))
    registry.task("second", depends_on=["first"])(record("second"))
    debug = loop.get_debug()
    if way == "task factory":
        loop.set_task_factory(factory)
    elif way == "debug":
        loop.set_debug(True)
    try:
        report = await registry.run()
    finally:
        loop.set_task_factory(None)
        loop.set_debug(debug)
    assert report.execution_state == "completed"
    assert seen == {"first": "astrum:first", "second": "astrum:second"}
    if way == "task factory":
        assert made  # the factory made the asyncio task (a worker: second runs in first's)


# Annotations written the way users write them: some equal but not identical (list[int]
# twice), some compatible without being equal, some not compatible at all.
_TYPES: list[Any] = [
    int,
    float,
    str,
    list[int],
    list[int],
    list[str],
    Sequence[int],
    int | None,
    typing.Optional[int],  # noqa: UP045 - typing's own union, as older code writes it
    typing.List[int],  # noqa: UP006 - typing's own alias, as older code writes it
    dict[str, int],
    Literal["a", "b"],
    Any,
]


def _produce_and_take(produced: Any, expected: Any, *, generator: bool) -> SchedulerRegistry:
    """A registry of task ``p`` returning ``produced`` and ``c`` taking it as ``expected``."""
    registry = SchedulerRegistry(f"pair-{uuid.uuid4().hex}")

    async def returns() -> None:
        return None

    async def yields() -> AsyncIterator[None]:
        yield None

    async def take(x: Any) -> None:
        return None

    producer = yields if generator else returns
    producer.__annotations__ = {"return": AsyncIterator[produced] if generator else produced}
    take.__annotations__ = {"x": Ref[expected, F("p")], "return": None}
    registry.task("p")(producer)
    registry.task("c")(take)
    return registry


def _build_outcome(registry: SchedulerRegistry) -> str:
    try:
        registry.build_scheduler()
    except TaskRegistrationError as error:
        return str(error)
    return "built"


@settings(max_examples=150, deadline=None)
@given(
    produced=st.sampled_from(_TYPES),
    expected=st.sampled_from(_TYPES),
    generator=st.booleans(),
)
def test_type_check_shortcuts_agree_with_the_general_comparison(
    produced: Any, expected: Any, generator: bool
) -> None:
    """A producer's return type as registration read it settles the check exactly as the
    general comparison, which a build uses when the annotations were replaced since."""
    registry = _produce_and_take(produced, expected, generator=generator)
    with_shortcuts = _build_outcome(registry)
    for entry in registry.get_all_tasks().values():
        # An equal but new dict: registration's reading no longer applies, the build reads.
        entry.function.__annotations__ = dict(entry.function.__annotations__)
    assert _build_outcome(registry) == with_shortcuts
    if with_shortcuts == "built" and not generator:
        assert compatible(produced, expected)


def test_a_build_compares_each_pair_of_types_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A chain passing list[int] into Sequence[int] compares that pair once per build, and
    still reports a mismatch on every edge it occurs."""
    calls: list[tuple[Any, Any]] = []

    def counted(found: Any, expected: Any) -> bool:
        calls.append((found, expected))
        return compatible(found, expected)

    monkeypatch.setattr(_edges, "compatible", counted)

    def chain(produced: Any, expected: Any) -> SchedulerRegistry:
        registry = SchedulerRegistry(f"pairs-{uuid.uuid4().hex}")
        for i in range(30):

            async def step(x: Any = None) -> None:
                return None

            step.__annotations__ = {"return": produced}
            if i:
                step.__annotations__["x"] = Ref[expected, F(f"s{i - 1}")]
            registry.task(f"s{i}")(step)
        return registry

    chain(list[int], Sequence[int]).build_scheduler()
    assert len(calls) == 1
    calls.clear()
    with pytest.raises(TaskRegistrationError) as caught:
        chain(list[str], Sequence[int]).build_scheduler()
    assert len(calls) == 1
    assert str(caught.value).count("expects Sequence[int], but task 's") == 29


# A task of no parameters whose annotations declare no relation is "bare": the build
# skips reading it. These pin down that such a shortcut never hides a relation or a
# type mismatch, whether annotations are objects or strings (postponed evaluation).

Sent = typing.Annotated[int, astrum.T("receiver", target="x")]


def _bare_registry() -> SchedulerRegistry:
    return SchedulerRegistry(f"bare-{uuid.uuid4().hex}")


def test_a_return_annotation_naming_an_alias_of_a_marker_is_read() -> None:
    """-> "Sent", where Sent is Annotated[int, T(...)], still sends the value."""
    registry = _bare_registry()

    async def sender() -> int:
        return 41

    sender.__annotations__ = {"return": "Sent"}
    registry.task("sender")(sender)

    @registry.task("receiver")
    async def receiver(x: int) -> int:
        return x + 1

    report = registry.run_sync()
    assert report.task_return_set == {"sender": 41, "receiver": 42}


@pytest.mark.parametrize("returns", [int, "int"])
def test_a_bare_producer_of_the_wrong_type_is_reported(returns: Any) -> None:
    """A bare producer's return type is checked against its consumer, written as an object
    or as a string."""
    registry = _bare_registry()

    async def produce() -> int:
        return 1

    produce.__annotations__ = {"return": returns}
    registry.task("produce")(produce)

    @registry.task("consume")
    async def consume(x: Ref[str, F("produce")]) -> str:
        return x

    with pytest.raises(TaskRegistrationError, match="expects str"):
        registry.build_scheduler()


@pytest.mark.parametrize("returns", [None, "None", "int", "list[int]", "Unknown"])
def test_bare_tasks_run_whatever_their_return_annotation(returns: Any) -> None:
    """Tasks of no parameters run alike with any return annotation, object or string."""
    registry = _bare_registry()

    async def first() -> None:
        return None

    def second() -> None:
        return None

    first.__annotations__ = second.__annotations__ = {"return": returns}
    registry.task("first")(first)
    registry.task("second", depends_on=["first"])(second)
    assert registry.run_sync().execution_state == "completed"


# A bare or fed task defined at the top of a module gets its spec in the build's first pass,
# without resolve_functions and bind_relations; any other task takes that general path.


def _made_in_a_factory() -> Any:
    async def made() -> None:
        return None

    return made


class _Holder:
    @staticmethod
    async def static() -> None:
        return None


async def _takes(x: int = 0) -> int:
    return x


_KINDS: dict[str, Any] = {
    "async": _coroutine_function,
    "sync": _plain_function,
    "lambda": lambda: None,
    "factory": _made_in_a_factory(),
    "static": _Holder.static,
    "parameter": _takes,
    "callable": _AsyncCallable(),
}


@settings(max_examples=60, deadline=None)
@given(
    tasks=st.lists(
        st.tuples(st.sampled_from(sorted(_KINDS)), st.booleans(), st.booleans()),
        min_size=1,
        max_size=8,
    )
)
def test_first_pass_specs_agree_with_the_general_path(
    tasks: list[tuple[str, bool, bool]],
) -> None:
    """Every spec the build's first pass makes is the one the general path makes."""
    registry = SchedulerRegistry(f"first-pass-{uuid.uuid4().hex}")
    for i, (kind, with_options, depends) in enumerate(tasks):
        options: dict[str, Any] = {"retry": 2, "timeout": 5.0} if with_options else {}
        depends_on = [f"t{i - 1}"] if depends and i else []
        registry.task(f"t{i}", depends_on=depends_on, **options)(_KINDS[kind])
    build = registry._build(None, AstrumConfig())
    planned = build.scheduler(None).plan
    general: list[TaskSpec | None] = [None] * len(planned.specs)
    build._general_specs(planned.graph, general, range(len(general)))
    assert general == list(planned.specs)
    # The pass itself, whether or not this build took it (it does for mostly bare tasks).
    made, _, _ = build._simple_specs(planned.graph)
    assert [spec for spec in made if spec is not None] == [
        spec for spec, mine in zip(general, made, strict=True) if mine is not None
    ]


# A task each of whose parameters takes a plain Ref[T, F("task")] is "fed": the build takes
# its edges without reading the function in full and binds them in its first pass. These
# pin down that the shortcut gives what the general path gives, problems included.


async def _fed_one(p0: Any) -> Any:
    return p0


def _fed_two(p0: Any, p1: Any) -> Any:
    return (p0, p1)


async def _fed_default(p0: Any, p1: Any = 0) -> Any:
    return p0


class _FedHolder:
    @staticmethod
    async def fed(p0: Any) -> Any:
        return p0


_FED_TEMPLATES = {
    "one": _fed_one,
    "two": _fed_two,
    "default": _fed_default,
    "static": _FedHolder.fed,
}
_HINTS = [int, list[int], Sequence[int], Any, object, str]
_RETURNS = [int, list[int], Any, None, "int", str, "None", "list[int]", "Later", "Any", "_Sent"]
# How each hint is written under postponed evaluation (from __future__ import annotations).
_WRITTEN = {int: "int", list[int]: "list[int]", Sequence[int]: "Sequence[int]", Any: "Any"}
_WRITTEN |= {object: "object", str: "str"}


@st.composite
def _fed_workflows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Tasks ``t0``... of every kind: bare, fed from earlier tasks with types that agree or
    not, with locators, and tasks whose ``T(...)`` sends data into another task."""
    tasks: list[dict[str, Any]] = []
    for i in range(draw(st.integers(min_value=1, max_value=7))):
        kind = draw(st.sampled_from(["bare", "sender", *_FED_TEMPLATES]) if i else st.just("bare"))
        task: dict[str, Any] = {
            "kind": kind,
            "returns": draw(st.sampled_from(_RETURNS)),
            "options": draw(st.booleans()),
            "depends": draw(st.booleans()) and i > 0,
        }
        if kind == "sender":
            task["to"] = draw(st.integers(min_value=0, max_value=7))
        elif kind != "bare":
            task["params"] = [
                (
                    draw(st.integers(min_value=0, max_value=i - 1)),
                    draw(st.sampled_from(_HINTS)),
                    draw(st.sampled_from([None, None, 0])),
                )
                for _ in range(2 if kind == "two" else 1)
            ]
            # Annotations written in another order than the parameters (a dict set by hand).
            task["reversed"] = draw(st.booleans())
            task["strings"] = draw(st.booleans())  # as postponed evaluation writes them
        tasks.append(task)
    return tasks


def _fed_registry(tasks: list[dict[str, Any]]) -> SchedulerRegistry:
    registry = SchedulerRegistry(f"fed-{uuid.uuid4().hex}")
    for i, task in enumerate(tasks):
        kind = task["kind"]
        template = _FED_TEMPLATES.get(kind, _coroutine_function)
        function = types.FunctionType(template.__code__, globals(), f"t{i}", template.__defaults__)
        annotations: dict[str, Any] = {}
        for n, (source, hint, locator) in enumerate(task.get("params", [])):
            if task["strings"]:
                reference = f"F('t{source}')" if locator is None else f'F("t{source}", {locator})'
                annotations[f"p{n}"] = f"Ref[{_WRITTEN[hint]}, {reference}]"
            else:
                annotations[f"p{n}"] = Ref[hint, F(f"t{source}", locator)]
        if task.get("reversed"):
            annotations = dict(reversed(annotations.items()))
        returns = task["returns"]
        if kind == "sender":
            returns = Ref[int, astrum.T(f"t{task['to']}", target="p0")]
        if returns is not None:
            annotations["return"] = returns
        function.__annotations__ = annotations
        options: dict[str, Any] = {"retry": 1, "timeout": 5.0} if task["options"] else {}
        depends_on = [f"t{i - 1}"] if task["depends"] else []
        registry.task(f"t{i}", depends_on=depends_on, **options)(function)
    return registry


def _outcome(registry: SchedulerRegistry, config: AstrumConfig, target: str | None) -> Any:
    try:
        targets = None if target is None else [target]
        return list(registry.build_scheduler(targets, config=config).plan.specs)
    except Exception as error:  # a cycle, a missing task, a mismatch: compared as said
        return f"{type(error).__name__}: {error}"


@settings(max_examples=150, deadline=None)
@given(
    tasks=_fed_workflows(),
    skip_type_check=st.booleans(),
    auto_sync=st.sampled_from([True, True, False]),
    target=st.none() | st.integers(min_value=0, max_value=6),
)
def test_fed_tasks_build_as_the_general_path_builds_them(
    tasks: list[dict[str, Any]], skip_type_check: bool, auto_sync: bool, target: int | None
) -> None:
    """A build with the bare and fed shortcuts makes the same specs, or reports the same
    problems, as one that reads every task in full and evaluates every string annotation,
    for the whole registry or one target."""
    config = AstrumConfig(skip_type_check=skip_type_check, auto_sync_dependencies=auto_sync)
    target_id = None if target is None else f"t{min(target, len(tasks) - 1)}"
    with_shortcut = _outcome(_fed_registry(tasks), config, target_id)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_relations, "fed_inputs", lambda task_id, function: None)
        patch.setattr(_relations, "bare_returns", lambda function: _declared.NOT_READ)
        # and every string annotation compiled and evaluated, none read by pattern
        patch.setattr(_declared, "plain_globals", lambda function: None)
        patch.setattr(_typecheck, "plain_globals", lambda function: None)
        without = _outcome(_fed_registry(tasks), config, target_id)
    # Functions are made anew for each registry: compare everything else.
    if isinstance(with_shortcut, list) and isinstance(without, list):
        with_shortcut = [spec._replace(function=spec.function.__code__) for spec in with_shortcut]
        without = [spec._replace(function=spec.function.__code__) for spec in without]
    assert with_shortcut == without


@pytest.mark.parametrize("written_as", ["objects", "strings"])
def test_a_value_chain_takes_the_first_pass(written_as: str) -> None:
    """Tasks fed by plain F(...) whose types agree get their specs in the build's first pass,
    whether their annotations are objects or strings (this module postpones evaluation);
    one whose producer returns another type takes the general path, which reports it."""
    registry = SchedulerRegistry(f"fed-chain-{uuid.uuid4().hex}")

    async def first() -> int:
        return 1

    async def add(x: Ref[int, F("first")], y: Ref[int, F("first")]) -> int:
        return x + y

    async def twice(x: Ref[int, F("add")]) -> int:
        return 2 * x

    if written_as == "objects":
        first.__annotations__ = {"return": int}
        add.__annotations__ = {"x": Ref[int, F("first")], "y": Ref[int, F("first")], "return": int}
        twice.__annotations__ = {"x": Ref[int, F("add")], "return": int}
    else:
        assert twice.__annotations__ == {"x": "Ref[int, F('add')]", "return": "int"}
    for function in (first, add, twice):
        registry.task()(function)
    build = registry._build(None, AstrumConfig())
    made, others, _ = build._simple_specs(build.graph())
    assert others == []
    assert all(spec is not None for spec in made)
    assert registry.run_sync().task_return_set["twice"] == 4

    twice.__annotations__ = {"x": Ref[str, F("add")], "return": int}
    with pytest.raises(TaskRegistrationError, match="expects str"):
        registry.build_scheduler()


# Names the string annotations below may use, beside this module's imports: a marker alias
# (a T(...) hides behind a name), a value that is no type; and "int" in full-width letters,
# which eval reads as int.
_Sent = Ref[int, astrum.T("t1", target="p0")]
_five = 5
_NAMES = ["int", "str", "list", "Any", "Sequence", "typing", "Generic", "Protocol", "None"]
_NAMES += ["True", "__debug__", "Later", "print", "\uff49\uff4e\uff54", "_Sent", "_five"]
_NAMES += ["Ref", "F"]


def _annotated_here() -> None:
    """A function of this module, whose annotations are evaluated in its globals."""


def _as_eval_gives(annotation: str) -> Any:
    """What evaluating ``annotation`` now gives (a value, or the type of the error)."""
    try:
        return _typecheck._evaluated(_annotated_here, annotation, None)
    except Exception as error:  # compared with the shortcut's
        return type(error)


@settings(max_examples=500, deadline=None)
@given(
    # Mostly the usual form, so that its variations are tried often.
    ref=st.sampled_from(["Ref"] * 6 + ["Annotated", "F", "Later"]),
    hint=st.sampled_from(["int"] * len(_NAMES) + _NAMES),
    marker=st.sampled_from(["F"] * 6 + ["From", "T", "Ref", "Later"]),
    quote=st.sampled_from(['"', "'"]),
    task=st.sampled_from(["t1", "a b", "é", "", "a\x00", "a\nb", "\ud800", "a\\b"])
    | st.text(max_size=4),
    spaces=st.lists(st.sampled_from(["", "", " ", "\t", "\n", "\u3000"]), min_size=6, max_size=6),
)
def test_a_reference_written_as_a_string_reads_as_eval_reads_it(
    ref: str, hint: str, marker: str, quote: str, task: str, spaces: list[str]
) -> None:
    """``Ref[T, F("task")]`` as a string is read without eval only when eval would give
    ``Annotated[T, From("task")]`` for exactly that T and task."""
    a, b, c, d, e, f = spaces
    annotation = f"{ref}[{a}{hint}{b},{c}{marker}({d}{quote}{task}{quote}{e}){f}]"
    read = _declared.written_reference(annotation, globals())
    if read is not None:
        evaluated = _as_eval_gives(annotation)
        assert typing.get_origin(evaluated) is typing.Annotated
        assert (evaluated.__origin__, evaluated.__metadata__) == (read[0], (F(read[1]),))
        assert evaluated.__origin__ is read[0]


@pytest.mark.parametrize("annotation", [*_NAMES, "list[int]", "int | None", "nothing here"])
def test_a_name_written_as_a_string_is_looked_up_as_eval_would(annotation: str) -> None:
    try:
        looked_up = _typecheck.evaluate_now(_annotated_here, annotation)
    except Exception as error:  # compared with eval's
        looked_up = type(error)
    assert looked_up == _as_eval_gives(annotation)


def test_the_usual_references_are_read_without_eval() -> None:
    def read(annotation: str) -> tuple[type, str] | None:
        return _declared.written_reference(annotation, globals())

    assert read('Ref[int, F("load")]') == (int, "load")
    assert read("Ref[list, F('load users')]") == (list, "load users")
    assert read("Ref[ Sequence ,F( 'x' ) ]") == (Sequence, "x")
    assert read('Ref[int, F("load", "users")]') is None  # a locator: eval
    # Classes Annotated refuses (as the names this module gives them): eval says why.
    assert (Generic, Protocol) == (typing.Generic, typing.Protocol)
    assert read('Ref[Generic, F("load")]') is None
    assert read('Ref[Protocol, F("load")]') is None
