"""Graph export as text: Mermaid flowcharts and Graphviz DOT.

Both are built from a :class:`~astrum._build._plan.Plan`, so they show exactly what a
run would execute. Dependency edges are plain arrows; an edge that carries data
is labelled with what it carries (the locator, and the parameter it feeds).

>>> print(to_mermaid(plan))  # doctest: +SKIP
flowchart LR
    t0["load"]
    t1["report"]
    t0 --> t1
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from astrum._build._plan import MAPPED, Binding, Plan

__all__ = [
    "DataEdge",
    "data_edges",
    "locator_text",
    "parameter_type",
    "provider_name",
    "to_dot",
    "to_mermaid",
    "type_name",
]


@dataclass(frozen=True, slots=True)
class DataEdge:
    """One binding seen as an edge: ``source`` (a node, or None for a provider) feeds ``target``."""

    source: int | None
    target: int
    binding: Binding

    @property
    def label(self) -> str:
        """What the edge carries, e.g. ``'users' → names``, ``[0] → first``, ``each → doc``;
        an input's edge names just the parameter."""
        if self.binding.input_name is not None:
            return self.binding.param
        text = f"{locator_text(self.binding.locator)} → {self.binding.param}"
        mode = self.binding.mode
        if mode is not None and mode.each:
            return f"each {text}"  # one element per instance
        if mode is not None and mode.partial:
            return f"{text} (partial)"
        return text


def data_edges(plan: Plan) -> list[DataEdge]:
    """Every binding of the plan as an edge, in task order; empty when no data flows."""
    edges = []
    for target, spec in enumerate(plan.specs):
        for binding in spec.bindings:
            source = binding.source
            if source is None and binding.source_id is not None:
                source = plan.graph.index.get(binding.source_id)
            edges.append(DataEdge(source, target, binding))
    return edges


def locator_text(locator: str | int | None) -> str:
    """How a locator reads in views: ``'key'``, ``[0]``, or ``result`` for the whole value."""
    if locator is None:
        return "result"
    if isinstance(locator, int):
        return f"[{locator}]"
    return repr(locator)


def provider_name(provider: Callable[..., Any] | None) -> str:
    """The name of a ``from_function`` provider, as views show it."""
    name = getattr(provider, "__qualname__", None) or getattr(provider, "__name__", None)
    return f"{name or type(provider).__name__}()"


def type_name(annotation: Any) -> str:
    """A short readable name for a type annotation (``list[str]``, ``int | None``, ``User``)."""
    if annotation is inspect.Parameter.empty:
        return "-"
    if isinstance(annotation, str):
        return _annotation_text(annotation)
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__qualname__
    # Generic aliases and unions print well once the module prefixes are gone.
    return re.sub(r"\b(?:typing|builtins|collections\.abc)\.", "", repr(annotation))


_REF = re.compile(r"^(?:[\w.]+\.)?Ref\[(.*?),\s*(?:F|From|T|To)\(")


def _annotation_text(text: str) -> str:
    """An unevaluated annotation as people would write it: no quotes, no ``Ref[...]`` wrapper."""
    text = text.strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    ref = _REF.match(text)
    return ref.group(1) if ref else text


def parameter_type(function: Callable[..., Any], param: str) -> str:
    """The declared type of ``param`` on ``function`` as text, ``-`` when it has none.

    Annotations are resolved when possible; ``Ref[T, ...]`` shows as ``T``.
    """
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # noqa: BLE001  evaluating annotations runs user code; any failure falls back to the raw text
        hints = {}
    if param in hints:
        return type_name(hints[param])
    try:
        parameter = inspect.signature(function).parameters.get(param)
    except (TypeError, ValueError):  # builtins and some callables have no signature
        return "-"
    if parameter is None:
        return "-"
    return type_name(parameter.annotation)


# -- Mermaid ------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label these characters need entity codes; '#' goes first
    # because the codes themselves start with it.
    for raw, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(raw, code)
    return " ".join(text.split())


def to_mermaid(plan: Plan, direction: str = "LR") -> str:
    """The plan as a Mermaid ``flowchart``; node ids are generated, names are labels."""
    lines = [f"flowchart {direction}"]
    mapped = _mapped(plan)
    lines += [
        f'    t{node}[["{_mermaid_text(task_id)}[i]"]]'
        if node in mapped
        else f'    t{node}["{_mermaid_text(task_id)}"]'
        for node, task_id in enumerate(plan.ids)
    ]
    labels, sources = _edge_labels(plan)
    for node, (name, is_input) in sources.items():
        shape = '[/"{}"/]' if is_input else '(["{}"])'
        lines.append(f"    {node}{shape.format(_mermaid_text(name))}")
    for (source, target), label in labels.items():
        start = f"t{source}" if isinstance(source, int) else source
        arrow = f'-->|"{_mermaid_text(label)}"|' if label else "-->"
        lines.append(f"    {start} {arrow} t{target}")
    return "\n".join(lines) + "\n"


# -- DOT ----------------------------------------------------------------------------


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_dot(plan: Plan, name: str = "workflow", direction: str = "LR") -> str:
    """The plan as a Graphviz ``digraph``; ids and labels are quoted and escaped."""
    lines = [
        f"digraph {_dot_quote(name)} {{",
        f"    rankdir={direction};",
        "    node [shape=box];",
    ]
    mapped = _mapped(plan)
    lines += [
        f"    {_dot_quote(task_id)} [label={_dot_quote(task_id + '[i]')}, shape=box3d];"
        if node in mapped
        else f"    {_dot_quote(task_id)};"
        for node, task_id in enumerate(plan.ids)
    ]
    labels, sources = _edge_labels(plan)
    for node, (label, is_input) in sources.items():
        shape = "parallelogram" if is_input else "ellipse"
        lines.append(f"    {node} [label={_dot_quote(label)}, shape={shape}];")
    for (source, target), label in labels.items():
        start = _dot_quote(plan.ids[source]) if isinstance(source, int) else source
        attributes = f" [label={_dot_quote(label)}]" if label else ""
        lines.append(f"    {start} -> {_dot_quote(plan.ids[target])}{attributes};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mapped(plan: Plan) -> set[int]:
    """The mapped tasks, drawn as a stack of instances labelled ``task[i]``."""
    if plan.dynamic is None:
        return set()
    return {node for node, kind in enumerate(plan.dynamic.kinds) if kind == MAPPED}


def _edge_labels(
    plan: Plan,
) -> tuple[dict[tuple[int | str, int], str], dict[str, tuple[str, bool]]]:
    """Each edge with its label ('' for a pure dependency), and the nodes that are not tasks.

    Edges are keyed ``(source, target)``; a source that is not a task is a
    node name: ``p0``, ``p1`` ... one per provider use, ``i0``, ``i1`` ... one
    per run-time input however many tasks take it. The second value maps
    those names to their label and whether they are inputs.
    """
    carried: dict[tuple[int | str, int], list[str]] = {}
    sources: dict[str, tuple[str, bool]] = {}
    input_nodes: dict[str, str] = {}
    providers = 0
    for edge in data_edges(plan):
        source: int | str | None = edge.source
        name = edge.binding.input_name
        if source is None and name is not None:
            source = input_nodes.get(name)
            if source is None:
                source = input_nodes[name] = f"i{len(input_nodes)}"
                sources[source] = (name, True)
        elif source is None:
            source = f"p{providers}"
            providers += 1
            sources[source] = (provider_name(edge.binding.provider), False)
        carried.setdefault((source, edge.target), []).append(edge.label)
    labels: dict[tuple[int | str, int], str] = {}
    for node, preds in enumerate(plan.graph.preds):
        for pred in preds:
            labels[(pred, node)] = ", ".join(carried.pop((pred, node), []))
    # Data from a task that is not also a dependency edge (or from providers).
    for key, texts in carried.items():
        labels[key] = ", ".join(texts)
    return labels, sources
