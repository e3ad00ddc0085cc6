"""A run as one self-contained HTML page: header, DAG, Gantt timeline, task table.

The page is drawn in two steps so a recorded run can be drawn again later
without its report: :func:`~astrum._views._page_data.page_data` turns a report
into plain JSON-ready data (what a store keeps), and :func:`render_page` here
turns that data into HTML with inline SVG, the stylesheet and tooltip script
of :mod:`astrum._views._page_assets`. Nothing is fetched from the network, so
the file works from ``file://``.

Large runs: the timeline draws one bar per task up to :data:`BAR_LIMIT` tasks;
past that it draws one row per level (or per group of mapped instances
``name[i]``) showing how many of its tasks ran at each moment, plus a bar for
every task on the critical path and for up to :data:`FAILED_BARS` tasks that
failed or were cancelled. The DAG is drawn up to :data:`DAG_LIMIT` tasks and
then replaced by one box per level with its counts; the table lists every task
up to :data:`TABLE_LIMIT`, and past that only the unsuccessful and the slowest.
"""

from __future__ import annotations

import html
import math
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from astrum._views._page_assets import CSS, SCRIPT
from astrum._views._page_data import (
    A_END,
    A_ERROR,
    A_START,
    A_STATUS,
    ATTEMPTS,
    END,
    ERROR,
    LEVEL,
    NAME,
    QUEUED,
    START,
    STATUS,
    TRACE,
    WORKER,
    levels_of,
    page_data,
)
from astrum._views._summary import seconds
from astrum._views._trace import assign_lanes

if TYPE_CHECKING:
    from astrum._records import ReportData

__all__ = ["BAR_LIMIT", "DAG_LIMIT", "FAILED_BARS", "TABLE_LIMIT", "render_page", "to_html"]

BAR_LIMIT = 2_500
DAG_LIMIT = 300
TABLE_LIMIT = 2_500
FAILED_BARS = 500
_SLOWEST_ROWS = 200

_MAPPED = re.compile(r"^(.*)\[\d+\]$")


def to_html(report: ReportData, path: str | os.PathLike[str] | None = None) -> str:
    """The page of ``report``; also written to ``path`` (UTF-8) when given."""
    page = render_page(page_data(report))
    if path is not None:
        Path(path).write_text(page, encoding="utf-8")
    return page


def render_page(data: dict[str, Any]) -> str:
    """The HTML page of ``data`` as made by :func:`page_data`."""
    tasks: list[list[Any]] = data["tasks"]
    critical = set(data["critical"])
    title = f"Astrum run {data['run_id'][:8]} {data['state']}".replace("  ", " ")
    parts = [
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        _header(data),
        "<section><h2>Graph</h2>",
        _dag(data, tasks, critical),
        "</section><section><h2>Timeline</h2>",
        _timeline(data, tasks, critical),
        "</section><section><h2>Tasks</h2>",
        _table(tasks, critical),
        "</section><div id='tip' role='tooltip'></div>",
        f"<script>{SCRIPT}</script></body></html>\n",
    ]
    return "".join(parts)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _ms(value: float) -> str:
    return seconds(max(value, 0.0))


def _header(data: dict[str, Any]) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in data["counts"].items() if n) or "no tasks"
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(data["started"]))
    critical = data["critical"]
    path = " → ".join(_e(name) for name in critical) if critical else "none"
    errors = "".join(f"<li>{_e(message)}</li>" for message in data["errors"][:20])
    more = len(data["errors"]) - 20
    if more > 0:
        errors += f"<li>… and {more} more (see the table)</li>"
    return (
        f"<header><h1>Run <span class='state {_e(data['state'])}'>{_e(data['state'])}</span>"
        f" in {_ms(data['duration'])}</h1>"
        f"<dl><dt>Tasks</dt><dd>{data['total_tasks']} ({_e(counts)})</dd>"
        f"<dt>Started</dt><dd>{started}; planning {_ms(data['planning'])}, "
        f"execution {_ms(data['execution'])}</dd>"
        f"<dt>Critical path</dt><dd class='critical-path'>{path}</dd>"
        f"<dt>Run id</dt><dd><code>{_e(data['run_id'] or '-')}</code></dd></dl>"
        + (f"<ul class='errors'>{errors}</ul>" if errors else "")
        + "</header>"
    )


# -- the graph ------------------------------------------------------------------------------

_NODE_W, _NODE_H, _COL_W, _ROW_H = 150, 26, 210, 38


def _dag(data: dict[str, Any], tasks: list[list[Any]], critical: set[str]) -> str:
    dependencies: dict[str, list[str]] = data["dependencies"]
    status = {t[NAME]: t[STATUS] for t in tasks}
    times = {t[NAME]: (t[START], t[END]) for t in tasks if t[START] is not None}
    if not dependencies:
        return "<p class='note'>No tasks.</p>"
    levels = levels_of(dependencies)
    if len(dependencies) > DAG_LIMIT:
        return _level_summary(levels, status)
    columns: dict[int, list[str]] = {}
    for name in dependencies:
        columns.setdefault(levels.get(name, 0), []).append(name)
    # One barycentre sweep: a task sits near the tasks it waits for, which uncrosses most edges.
    row: dict[str, float] = {}
    for level in sorted(columns):
        names = columns[level]
        if level:
            names.sort(
                key=lambda n: (
                    sum(row.get(d, 0.0) for d in dependencies[n]) / max(len(dependencies[n]), 1)
                )
            )
        row.update((name, index) for index, name in enumerate(names))
    height = max(len(names) for names in columns.values())
    where = {
        name: (
            10 + level * _COL_W,
            10 + (row[name] + (height - len(names)) / 2) * _ROW_H,
        )
        for level, names in columns.items()
        for name in names
    }
    width = 20 + len(columns) * _COL_W - (_COL_W - _NODE_W)
    svg_h = 20 + height * _ROW_H
    out = [
        f"<div class='scroll'><svg id='dag' width='{width}' height='{svg_h}' "
        f"viewBox='0 0 {width} {svg_h}' xmlns='http://www.w3.org/2000/svg'>"
    ]
    labels: dict[str, dict[str, str]] = data["edge_labels"]
    for name, deps in dependencies.items():
        x2, y2 = where[name]
        for dep in deps:
            if dep not in where:
                continue
            x1, y1 = where[dep]
            x1, y1, y2c = x1 + _NODE_W, y1 + _NODE_H / 2, y2 + _NODE_H / 2
            mid = (x1 + x2) / 2
            hot = " hot" if dep in critical and name in critical else ""
            out.append(
                f"<path class='edge{hot}' d='M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} "
                f"{mid:.0f},{y2c:.0f} {x2:.0f},{y2c:.0f}'/>"
            )
            label = labels.get(name, {}).get(dep)
            if label:
                out.append(
                    f"<text class='edge-label' x='{mid:.0f}' y='{(y1 + y2c) / 2 - 3:.0f}'>"
                    f"{_e(_short(label, 26))}</text>"
                )
    for name, (x, y) in where.items():
        state = status.get(name, "not started")
        hot = " hot" if name in critical else ""
        tip = f"{name}\n{state}"
        if name in times:
            began, ended = times[name]
            tip += f": {_ms(began)} → {_ms(ended)} ({_ms(ended - began)})"
        out.append(
            f"<g class='node {_css(state)}{hot}' data-tip='{_e(tip)}'>"
            f"<rect x='{x}' y='{y:.0f}' width='{_NODE_W}' height='{_NODE_H}' rx='5'/>"
            f"<text x='{x + 8}' y='{y + 17:.0f}'>{_e(_short(name, 20))}</text></g>"
        )
    out.append("</svg></div>")
    return "".join(out)


def _level_summary(levels: dict[str, int], status: dict[str, str]) -> str:
    by_level: dict[int, dict[str, int]] = {}
    for name, level in levels.items():
        counts = by_level.setdefault(level, {})
        state = status.get(name, "not started")
        counts[state] = counts.get(state, 0) + 1
    cells = []
    for level in sorted(by_level):
        counts = by_level[level]
        total = sum(counts.values())
        bar = "".join(
            f"<span class='{_css(state)}' style='width:{100 * n / total:.2f}%'></span>"
            for state, n in sorted(counts.items())
        )
        text = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        cells.append(
            f"<div class='level' data-tip='{_e(f'level {level}: {text}')}'>"
            f"<b>level {level}</b> {total} tasks<div class='mix'>{bar}</div></div>"
        )
    return (
        f"<p class='note'>{len(levels)} tasks: too many to draw one by one "
        f"(more than {DAG_LIMIT}); one box per level of the graph.</p>"
        f"<div class='levels'>{''.join(cells)}</div>"
    )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _css(status: str) -> str:
    return status.replace(" ", "-")


# -- the timeline ---------------------------------------------------------------------------

_LABEL_W, _PLOT_W, _BAR_H, _LANE_H, _AXIS_H = 190, 820, 12, 16, 24


class _Scale:
    def __init__(self, span: float) -> None:
        self.span = span if span > 0 else 1e-3
        self.factor = _PLOT_W / self.span

    def x(self, t: float) -> float:
        return _LABEL_W + max(t, 0.0) * self.factor

    def w(self, start: float, end: float) -> float:
        return max((end - start) * self.factor, 1.0)


def _timeline(data: dict[str, Any], tasks: list[list[Any]], critical: set[str]) -> str:
    ran = [t for t in tasks if t[START] is not None]
    if not ran:
        return "<p class='note'>No task started.</p>"
    scale = _Scale(max(data["execution"], *(t[END] for t in ran)))
    if len(ran) > BAR_LIMIT:
        rows, note = _aggregated_rows(ran, critical, scale)
    else:
        rows, note = _task_rows(ran, critical, scale), ""
    height = _AXIS_H + sum(lanes for lanes, _ in rows) * _LANE_H + 6
    width = _LABEL_W + _PLOT_W + 20
    out = [
        note,
        f"<div class='scroll tall'><svg id='timeline' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' xmlns='http://www.w3.org/2000/svg'>",
        _axis(scale, height),
    ]
    y = _AXIS_H
    for lanes, drawn in rows:
        out.append(f"<g transform='translate(0,{y})'>{drawn}</g>")
        y += lanes * _LANE_H
    out.append("</svg></div>")
    out.append(
        "<p class='legend'>"
        + "".join(
            f"<span class='key {state}'></span>{label} "
            for state, label in (
                ("queued", "queued"),
                ("completed", "completed"),
                ("cached", "cached"),
                ("failed", "failed"),
                ("cancelled", "cancelled"),
                ("skipped", "skipped"),
            )
        )
        + "<span class='key hot'></span>critical path</p>"
    )
    return "".join(out)


def _axis(scale: _Scale, height: float) -> str:
    step = _nice_step(scale.span / 8)
    ticks = []
    count = int(scale.span / step) + 1
    for i in range(count + 1):
        t = i * step
        if t > scale.span * 1.0001:
            break
        x = scale.x(t)
        ticks.append(
            f"<line class='tick' x1='{x:.1f}' y1='{_AXIS_H - 6}' x2='{x:.1f}' y2='{height}'/>"
            f"<text class='tick-label' x='{x + 2:.1f}' y='{_AXIS_H - 9}'>{_ms(t)}</text>"
        )
    return "<g class='axis'>" + "".join(ticks) + "</g>"


def _nice_step(raw: float) -> float:
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1e-3
    for mult in (1, 2, 5, 10):
        if mult * power >= raw:
            return mult * power
    return 10 * power


def _group_of(name: str) -> str | None:
    match = _MAPPED.match(name)
    return match.group(1) if match else None


def _task_rows(ran: list[list[Any]], critical: set[str], scale: _Scale) -> list[tuple[int, str]]:
    """One row per task; mapped instances ``x[i]`` under a header row, packed into lanes."""
    groups: dict[str, list[list[Any]]] = {}
    order: list[tuple[float, str, list[Any] | None]] = []
    for task in ran:
        group = _group_of(task[NAME])
        if group is None:
            order.append((task[START], task[NAME], task))
        else:
            if group not in groups:
                groups[group] = []
                order.append((task[START], group, None))
            groups[group].append(task)
    rows = []
    for _, name, single in sorted(order, key=lambda item: (item[0], item[1])):
        members = [single] if single is not None else groups[name]
        if len(members) == 1:
            rows.append(_task_row(members[0], critical, scale))
            continue
        start = min(t[START] for t in members)
        end = max(t[END] for t in members)
        failed = sum(1 for t in members if t[STATUS] == "failed")
        tip = f"{name}[…]: {len(members)} mapped instances\n{_ms(start)} → {_ms(end)}" + (
            f"\n{failed} failed" if failed else ""
        )
        header = (
            _label(f"{name}[…] ({len(members)})", hot=False)
            + f"<rect class='group' x='{scale.x(start):.1f}' y='3' "
            f"width='{scale.w(start, end):.1f}' height='{_BAR_H - 4}' data-tip='{_e(tip)}'/>"
        )
        rows.append((1, header))
        lanes = assign_lanes((t[START], t[END]) for t in members)
        drawn = "".join(
            _bars(task, critical, scale, lane * _LANE_H)
            for task, lane in zip(members, lanes, strict=True)
        )
        rows.append((max(lanes) + 1, drawn))
    return rows


def _task_row(task: list[Any], critical: set[str], scale: _Scale) -> tuple[int, str]:
    name = task[NAME]
    return 1, _label(name, hot=name in critical) + _bars(task, critical, scale, 0)


def _label(name: str, *, hot: bool) -> str:
    css = "row-label hot" if hot else "row-label"
    return f"<text class='{css}' x='{_LABEL_W - 6}' y='12'>{_e(_short(name, 28))}</text>"


def _bars(task: list[Any], critical: set[str], scale: _Scale, dy: float) -> str:
    """The bars of one task at ``dy`` below its row: queued time, then each attempt."""
    name, status, start, end = task[NAME], task[STATUS], task[START], task[END]
    top = f"{2 + dy:g}"
    hot = " hot" if name in critical else ""
    if status == "skipped":
        x = scale.x(start)
        tip = f"{name}: skipped at {_ms(start)}" + (f"\n{task[ERROR]}" if task[ERROR] else "")
        return (
            f"<rect class='bar skipped' data-task='{_e(name)}' data-status='skipped' "
            f"x='{x - 4:.1f}' y='{top}' width='8' height='{_BAR_H}' "
            f"data-tip='{_e(tip)}'/>"
        )
    out = []
    queued = task[QUEUED]
    body_start = start
    if queued > 0:
        out.append(
            f"<rect class='bar queued' data-task='{_e(name)}' data-status='queued' "
            f"x='{scale.x(start):.1f}' y='{top}' "
            f"width='{scale.w(start, start + queued):.1f}' height='{_BAR_H}' "
            f"data-tip='{_e(f'{name}: queued {_ms(queued)}')}'/>"
        )
        body_start = start + queued
    attempts = task[ATTEMPTS] or [[body_start, end, status, task[ERROR]]]
    total = len(attempts)
    for number, attempt in enumerate(attempts, 1):
        a_start = max(attempt[A_START], body_start) if number == 1 else attempt[A_START]
        a_end = max(attempt[A_END], a_start)
        a_status = attempt[A_STATUS]
        lines = [
            f"{name}" + (f" attempt {number}/{total}" if total > 1 else ""),
            f"{a_status}: {_ms(a_start)} → {_ms(a_end)} ({_ms(a_end - a_start)})",
        ]
        if number == 1 and queued > 0:
            lines.append(f"queued {_ms(queued)} before")
        if attempt[A_ERROR]:
            lines.append(_short(str(attempt[A_ERROR]), 300))
        if task[WORKER]:
            lines.append(f"on {task[WORKER]}")
        out.append(
            f"<rect class='bar {_css(a_status)}{hot}' data-task='{_e(name)}' "
            f"data-status='{_e(a_status)}' data-attempt='{number}' x='{scale.x(a_start):.1f}' "
            f"y='{top}' width='{scale.w(a_start, a_end):.1f}' height='{_BAR_H}' "
            f"data-tip='{_e(chr(10).join(lines))}'/>"
        )
    return "".join(out)


def _aggregated_rows(
    ran: list[list[Any]], critical: set[str], scale: _Scale
) -> tuple[list[tuple[int, str]], str]:
    """One density row per level (or mapped group), then bars for the tasks that matter most."""
    buckets = 200
    groups: dict[str, list[list[Any]]] = {}
    for task in ran:
        group = _group_of(task[NAME])
        key = f"{group}[…]" if group is not None else f"level {task[LEVEL]}"
        groups.setdefault(key, []).append(task)
    width = scale.span / buckets
    rows: list[tuple[int, str]] = []
    for key, members in sorted(groups.items(), key=lambda kv: min(t[START] for t in kv[1])):
        running = [0.0] * buckets
        for task in members:
            first = min(int(task[START] / width), buckets - 1)
            last = min(int(task[END] / width), buckets - 1)
            for b in range(first, last + 1):
                running[b] += 1
        peak = max(running) or 1.0
        failed = sum(1 for t in members if t[STATUS] in ("failed", "cancelled"))
        kind = "failed" if failed else "completed"
        cells = []
        for b, n in enumerate(running):
            if n:
                h = max(_BAR_H * n / peak, 1.0)
                cells.append(
                    f"<rect class='density {kind}' x='{scale.x(b * width):.1f}' "
                    f"y='{2 + _BAR_H - h:.1f}' width='{scale.w(0, width):.1f}' "
                    f"height='{h:.1f}'/>"
                )
        tip = f"{key}: {len(members)} tasks, at most {peak:.0f} at once" + (
            f"\n{failed} failed or cancelled" if failed else ""
        )
        label = _label(f"{key} ({len(members)})", hot=False)
        hit = (
            f"<rect class='hit' x='{_LABEL_W}' y='0' width='{_PLOT_W}' height='{_LANE_H}' "
            f"data-tip='{_e(tip)}'/>"
        )
        rows.append((1, label + "".join(cells) + hit))
    shown = [t for t in ran if t[NAME] in critical]
    shown += [t for t in ran if t[STATUS] in ("failed", "cancelled") and t[NAME] not in critical][
        :FAILED_BARS
    ]
    rows += [_task_row(task, critical, scale) for task in shown]
    note = (
        f"<p class='note'>{len(ran)} tasks ran: more than {BAR_LIMIT}, so each row below "
        "is a level of the graph (or a group of mapped instances) and its height shows how "
        "many of its tasks ran at each moment; the tasks of the critical path and up to "
        f"{FAILED_BARS} failed or cancelled tasks follow as bars.</p>"
    )
    return rows, note


# -- the table ------------------------------------------------------------------------------


def _table(tasks: list[list[Any]], critical: set[str]) -> str:
    rows = tasks
    note = ""
    if len(tasks) > TABLE_LIMIT:
        unsuccessful = [t for t in tasks if t[STATUS] not in ("completed", "cached")]
        slowest = sorted(
            (t for t in tasks if t[STATUS] in ("completed", "cached")),
            key=lambda t: -(t[END] - t[START]),
        )[:_SLOWEST_ROWS]
        rows = unsuccessful[:TABLE_LIMIT] + slowest
        note = (
            f"<p class='note'>{len(tasks)} tasks: the table lists the "
            f"{min(len(unsuccessful), TABLE_LIMIT)} that did not complete and the "
            f"{len(slowest)} slowest that did.</p>"
        )
    body = "".join(_table_row(t, t[NAME] in critical) for t in rows)
    return (
        f"{note}<div class='scroll tall'><table id='tasks'><thead><tr><th>task</th>"
        "<th>status</th><th>level</th><th>start</th><th>duration</th><th>queued</th>"
        "<th>attempts</th><th>worker</th><th>error</th></tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def _table_row(task: list[Any], hot: bool) -> str:
    start, end = task[START], task[END]
    ran = start is not None
    error = task[ERROR]
    cell = ""
    if error or task[TRACE]:
        first = _short(str(error or "").splitlines()[0] if error else "traceback", 120)
        detail = task[TRACE] or str(error)
        attempts = task[ATTEMPTS]
        earlier = "".join(
            f"attempt {n}: {a[A_STATUS]} — {a[A_ERROR]}\n"
            for n, a in enumerate(attempts, 1)
            if a[A_ERROR] and n < len(attempts)
        )
        cell = (
            f"<details><summary>{_e(first)}</summary><pre>{_e(earlier)}{_e(detail)}</pre></details>"
        )
    return (
        f"<tr class='{_css(task[STATUS])}{' hot' if hot else ''}'>"
        f"<td>{_e(task[NAME])}</td><td><span class='pill {_css(task[STATUS])}'>"
        f"{_e(task[STATUS])}</span></td><td>{task[LEVEL]}</td>"
        f"<td>{_ms(start) if ran else ''}</td><td>{_ms(end - start) if ran else ''}</td>"
        f"<td>{_ms(task[QUEUED]) if task[QUEUED] else ''}</td>"
        f"<td>{len(task[ATTEMPTS]) or (1 if task[STATUS] == 'completed' else '')}</td>"
        f"<td>{_e(task[WORKER] or '')}</td><td>{cell}</td></tr>"
    )
