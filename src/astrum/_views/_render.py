"""Rich views of a plan and of a report: the DAG tree, the data-transport table, the run table.

Rich is optional (``pip install 'astrum[viz]'``); it is imported only inside
the functions that draw. Every view takes the immutable plan or the frozen
report, so drawing never touches a run.
"""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING, TextIO

from astrum._build._plan import Plan
from astrum._views._export import data_edges, parameter_type, provider_name
from astrum._views._summary import critical_path, plural, seconds, status_counts

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    from astrum._records import ReportData

__all__ = [
    "VIZ_EXTRA_HINT",
    "dag_tree",
    "data_table",
    "plan_views",
    "report_table",
    "require_rich",
    "show_plan",
]

VIZ_EXTRA_HINT = "pip install 'astrum[viz]'"

_STATUS_STYLES = {
    "completed": "green",
    "cached": "cyan",
    "failed": "bold red",
    "cancelled": "yellow",
    "skipped": "dim",
}


def require_rich(what: str) -> None:
    """Raise an ImportError naming the ``viz`` extra when rich is not installed."""
    try:
        import rich  # noqa: F401
    except ImportError:
        raise ImportError(
            f"{what} needs the rich package; install it with {VIZ_EXTRA_HINT}."
        ) from None


def dag_tree(
    plan: Plan, title: str = "workflow", max_depth: int = 12, max_lines: int = 1000
) -> Tree:
    """The DAG as a tree: roots first, each task drawn once and referenced after.

    A task that waits for several others is marked ``fan-in N``, one that
    several others wait for ``fan-out N``. Past ``max_depth`` levels the
    branch continues as a new entry at the top, so deep chains stay readable;
    past ``max_lines`` lines the tree stops and says how many tasks it left out.
    """
    require_rich("The workflow tree")
    from rich.text import Text
    from rich.tree import Tree

    graph = plan.graph
    roots = [node for node, preds in enumerate(graph.preds) if not preds]
    tree = Tree(
        Text.assemble(
            (title, "bold"), f" · {plural(len(graph), 'task')} · {plural(len(roots), 'root')}"
        ),
        guide_style="dim",
    )
    drawn: set[int] = set()
    lines = 0
    # Top-level entries: the roots, then branches continued from beyond max_depth.
    entries: list[tuple[int, int | None]] = [(node, None) for node in roots]
    for node, continued_from in entries:
        if continued_from is not None and node in drawn:
            continue  # drawn elsewhere meanwhile; the "continues below" note named it
        stack: list[tuple[int, Tree, int]] = [(node, tree, 0)]
        while stack and lines < max_lines:
            current, parent, depth = stack.pop()
            lines += 1
            if current in drawn:
                parent.add(Text.assemble((graph.ids[current], "dim"), (" ↑ see above", "dim")))
                continue
            drawn.add(current)
            label = _node_label(plan, current)
            if depth == 0 and continued_from is not None:
                label.append(f"  (continued from {graph.ids[continued_from]})", "dim italic")
            branch = parent.add(label)
            succs = graph.succs[current]
            if succs and depth + 1 >= max_depth:
                names = _some([graph.ids[succ] for succ in succs])
                branch.add(Text(f"… continues below: {names}", "dim italic"))
                lines += 1
                entries.extend((succ, current) for succ in succs)
                continue
            stack.extend((succ, branch, depth + 1) for succ in reversed(succs))
        if lines >= max_lines:
            left = len(graph) - len(drawn)
            if left:
                note = f"… {left} more task{_s(left)}: see to_mermaid() or to_dot() for all"
                tree.add(Text(note, "dim italic"))
            break
    return tree


def _node_label(plan: Plan, node: int) -> Text:
    from rich.text import Text

    graph = plan.graph
    spec = plan.specs[node]
    label = Text(graph.ids[node], "bold")
    fan_in, fan_out = len(graph.preds[node]), len(graph.succs[node])
    if fan_in > 1:
        label.append(f"  fan-in {fan_in}", "cyan")
    if fan_out > 1:
        label.append(f"  fan-out {fan_out}", "magenta")
    notes = []
    if spec.retry:
        notes.append(f"retry {spec.retry}")
    if spec.options.timeout is not None:
        notes.append(f"timeout {spec.options.timeout:g} s")
    if notes:
        label.append("  " + ", ".join(notes), "dim")
    return label


def data_table(plan: Plan, max_rows: int = 500) -> Table | Text:
    """Per task, the values it takes (parameter, type, source task and locator) and sends.

    Before data transport is declared anywhere it says so in one line. Past
    ``max_rows`` tasks the caption says how many were left out.
    """
    require_rich("The data-transport table")
    from rich.table import Table
    from rich.text import Text

    edges = data_edges(plan)
    if not edges:
        return Text("Data transport: none declared; tasks only wait for each other.", "dim")
    inputs: dict[int, list[str]] = {}
    outputs: dict[int, list[str]] = {}
    ids = plan.ids
    for edge in edges:
        binding = edge.binding
        target = ids[edge.target]
        declared = parameter_type(plan.specs[edge.target].function, binding.param)
        locator = "" if binding.locator is None else f"[{binding.locator!r}]"
        if binding.input_name is not None:
            origin = f"input '{binding.input_name}'"
        elif edge.source is None:
            origin = f"{provider_name(binding.provider)}{locator}"
        else:
            origin = f"{ids[edge.source]}{locator}"
            part = f"{locator} " if locator else ""
            outputs.setdefault(edge.source, []).append(f"{part}→ {target}.{binding.param}")
        inputs.setdefault(edge.target, []).append(f"{binding.param}: {declared} ← {origin}")
    table = Table(title="Data transport", title_justify="left", show_lines=True)
    table.add_column("task", style="bold", no_wrap=True)
    table.add_column("inputs (parameter: type ← source)")
    table.add_column("outputs (→ task.parameter)")
    rows = [node for node in range(len(ids)) if node in inputs or node in outputs]
    for node in rows[:max_rows]:
        table.add_row(
            Text(ids[node]),
            Text("\n".join(inputs.get(node, ["-"]))),
            Text("\n".join(outputs.get(node, ["-"]))),
        )
    left = len(rows) - max_rows
    if left > 0:
        table.caption = f"… {left} more task{_s(left)} pass data: see to_mermaid() for all"
    return table


def plan_views(plan: Plan, title: str = "workflow") -> list[RenderableType]:
    """What ``visualize=True`` prints: the tree, then the data-transport table."""
    return [dag_tree(plan, title), data_table(plan)]


def show_plan(plan: Plan, title: str = "workflow", file: TextIO | None = None) -> None:
    """Print the plan's views to ``file`` (stdout by default).

    Without rich: one warning naming the extra, and the plain-text plan instead.
    """
    try:
        from rich.console import Console
    except ImportError:
        warnings.warn(
            f"visualize=True draws the workflow with rich, which is not installed; "
            f"install it with {VIZ_EXTRA_HINT}. Showing the plain-text plan instead.",
            RuntimeWarning,
            stacklevel=3,
        )
        from astrum.planner import plan_view

        print(plan_view(plan.graph).get_full_visualization(), file=file or sys.stdout)
        return
    console = Console(file=file)
    for view in plan_views(plan, title):
        console.print(view)


def report_table(report: ReportData, max_rows: int = 100) -> Table:
    """The report as a table: a row per task in start order, the run in title and caption.

    Past ``max_rows`` tasks it keeps the ones that did not complete, the
    critical path and the slowest, and the caption says how many it left out.
    """
    require_rich("The report table")
    from rich.table import Table
    from rich.text import Text

    origin = report.total_start_time + report.planning_duration
    on_path = {stats.task_name for stats in critical_path(report)}
    counts = ", ".join(f"{n} {status}" for status, n in status_counts(report).items() if n)
    rows = report.task_statistics
    caption = f"{plural(report.total_tasks, 'task')}: {counts or 'none'}; * on the critical path"
    if len(rows) > max_rows:
        ranked = sorted(
            rows,
            key=lambda s: (s.status == "completed", s.task_name not in on_path, -s.duration),
        )
        rows = ranked[:max_rows]
        caption += f"; {plural(len(ranked) - max_rows, 'completed task')} not shown"
    table = Table(
        title=f"Run {report.execution_state} in {seconds(report.total_duration)}",
        caption=caption,
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("task", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("start", justify="right", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    queued = any(stats.queued_duration for stats in rows)
    if queued:  # only runs with slots or pools waited; the others keep their columns
        table.add_column("queued", justify="right", no_wrap=True)
    table.add_column("tries", justify="right")
    table.add_column("error", overflow="fold")
    for stats in sorted(rows, key=lambda s: (s.start_time, s.task_name)):
        marker = " *" if stats.task_name in on_path else ""
        cells: list[str | Text] = [
            Text(stats.task_name + marker),  # Text: names and errors are not markup
            Text(stats.status, _STATUS_STYLES.get(stats.status, "")),
            f"+{seconds(max(stats.start_time - origin, 0.0))}",
            seconds(stats.duration) if stats.status != "skipped" else "-",
        ]
        if queued:
            cells.append(seconds(stats.queued_duration) if stats.queued_duration else "-")
        cells += [
            str(stats.attempt_count) if stats.attempt_count else "-",
            Text(stats.error_message or ""),
        ]
        table.add_row(*cells)
    return table


def _some(names: list[str], shown: int = 5) -> str:
    """Up to ``shown`` names, then how many more."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def _s(count: int) -> str:
    return "" if count == 1 else "s"
