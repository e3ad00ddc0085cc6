"""Mermaid and Graphviz DOT export of workflows."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings

from astrum import SchedulerRegistry, TaskRegistrationError
from astrum._views._export import parameter_type, type_name
from sample_workflows import diamond_scheduler, scheduler_of
from strategies import Dag, dags


def test_mermaid_labels_data_edges_with_their_locator() -> None:
    """Mermaid: one node per task, plain arrows for dependencies, labelled ones for data."""
    assert diamond_scheduler().to_mermaid() == (
        "flowchart LR\n"
        '    t0["load"]\n'
        '    t1["users"]\n'
        '    t2["clean"]\n'
        '    t3["score"]\n'
        '    t4["report"]\n'
        '    p0(["get_token()"])\n'
        "    t0 -->|\"'rows' → rows\"| t2\n"
        '    t1 -->|"result → names"| t2\n'
        '    t1 -->|"[0] → first"| t3\n'
        "    t2 --> t4\n"
        "    t3 --> t4\n"
        '    p0 -->|"result → token"| t3\n'
    )


def test_dot_labels_data_edges_with_their_locator() -> None:
    """DOT: a digraph with quoted task ids and labelled data edges."""
    assert diamond_scheduler().to_dot() == (
        'digraph "workflow" {\n'
        "    rankdir=LR;\n"
        "    node [shape=box];\n"
        '    "load";\n'
        '    "users";\n'
        '    "clean";\n'
        '    "score";\n'
        '    "report";\n'
        '    p0 [label="get_token()", shape=ellipse];\n'
        '    "load" -> "clean" [label="\'rows\' → rows"];\n'
        '    "users" -> "clean" [label="result → names"];\n'
        '    "users" -> "score" [label="[0] → first"];\n'
        '    "clean" -> "report";\n'
        '    "score" -> "report";\n'
        '    p0 -> "score" [label="result → token"];\n'
        "}\n"
    )


def test_awkward_task_ids_are_quoted_and_escaped() -> None:
    """Quotes, backslashes, '#', angle brackets and newlines cannot break either format."""
    first, second = 'say "hi" #1', "a\\b <c>\nd"
    scheduler = scheduler_of(Dag((first, second), ((), (first,))))
    mermaid = scheduler.to_mermaid().splitlines()
    assert mermaid[1] == '    t0["say #quot;hi#quot; #35;1"]'
    assert mermaid[2] == '    t1["a\\b #lt;c#gt; d"]'
    dot = scheduler.to_dot().splitlines()
    assert dot[3] == '    "say \\"hi\\" #1";'
    assert dot[4] == '    "a\\\\b <c>\\nd";'
    assert dot[5] == '    "say \\"hi\\" #1" -> "a\\\\b <c>\\nd";'


def test_registry_export_selects_targets_and_what_they_need(registry: SchedulerRegistry) -> None:
    """Registry export with target_tasks draws the targets and their upstream only."""

    @registry.task()
    async def extract() -> None:
        return None

    @registry.task(depends_on=["extract"])
    async def transform() -> None:
        return None

    @registry.task(depends_on=["extract"])
    async def audit() -> None:
        return None

    assert registry.to_mermaid(target_tasks=["transform"]) == (
        'flowchart LR\n    t0["extract"]\n    t1["transform"]\n    t0 --> t1\n'
    )
    dot = registry.to_dot()
    assert dot.startswith(f'digraph "{registry.name}" {{\n')
    assert '"extract" -> "audit";' in dot
    with pytest.raises(TaskRegistrationError, match="'missing'"):
        registry.to_dot(["missing"])


@settings(max_examples=40, deadline=None)
@given(dags(max_tasks=15))
def test_every_dependency_is_exactly_one_edge(dag: Dag) -> None:
    """Both formats hold each task once and each dependency as exactly one edge."""
    scheduler = scheduler_of(dag)
    ids = scheduler.plan.ids
    expected = sorted(
        (dep, task) for task, deps in zip(dag.ids, dag.deps, strict=True) for dep in deps
    )
    mermaid = scheduler.to_mermaid()
    assert mermaid.startswith("flowchart ")
    edges = re.findall(r"^    t(\d+) --> t(\d+)$", mermaid, re.MULTILINE)
    assert sorted((ids[int(a)], ids[int(b)]) for a, b in edges) == expected
    dot = scheduler.to_dot()
    assert dot.startswith("digraph ")
    dot_edges = re.findall(r'^    "([^"]+)" -> "([^"]+)";$', dot, re.MULTILINE)
    assert sorted(dot_edges) == expected
    assert len(re.findall(r"^    \"[^\"]+\";$", dot, re.MULTILINE)) == len(dag.ids)


def test_type_names_read_like_annotations() -> None:
    """Types show as written: builtins, generics, unions, and '-' when undeclared."""

    def f(a: int, b: list[str], c: int | None, d: dict[str, float], e, g: Missing) -> None:  # type: ignore[no-untyped-def, name-defined]  # noqa: F821
        return None

    assert [parameter_type(f, name) for name in "abcdeg"] == [
        "int",
        "list[str]",
        "int | None",
        "dict[str, float]",
        "-",
        "Missing",
    ]
    assert parameter_type(f, "absent") == "-"
    assert type_name("Ref[dict[str, int], F('load', 'rows')]") == "dict[str, int]"
    assert type_name(type(None)) == "NoneType"
