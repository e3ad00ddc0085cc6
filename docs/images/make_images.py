"""Redraw the pictures of docs/seeing-a-workflow.md: ``python docs/images/make_images.py``.

Rich records what it prints and saves it as SVG, so the pictures are the real
output of the views. The progress picture is drawn mid-run on a fake clock.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType

from astrum import F, Ref, SchedulerRegistry
from astrum._demo import build_demo
from astrum._views._progress import ProgressDisplay
from astrum._views._render import plan_views, report_table
from astrum.events import Event

HERE = Path(__file__).resolve().parent
WIDTH = 92


def save(name: str, title: str, *views: RenderableType) -> None:
    console = Console(record=True, width=WIDTH, file=io.StringIO())
    for view in views:
        console.print(view)
    console.save_svg(str(HERE / f"{name}.svg"), title=title)
    print(f"wrote {name}.svg")


def rag_workflow() -> SchedulerRegistry:
    """A retrieval pipeline whose tasks pass values to each other through annotations."""
    flow = SchedulerRegistry("rag")

    @flow.task()
    async def fetch_user() -> dict[str, Any]:
        return {"name": "ada", "locale": "en"}

    @flow.task()
    async def search_docs() -> list[str]:
        return ["scheduling.md", "reports.md"]

    @flow.task()
    async def search_web() -> list[str]:
        return ["https://example.org"]

    @flow.task()
    async def rerank(
        docs: Ref[list[str], F("search_docs")], web: Ref[list[str], F("search_web")]
    ) -> list[str]:
        return docs + web

    @flow.task(retry=2, timeout=30)
    async def answer(
        name: Ref[str, F("fetch_user", "name")],
        best: Ref[str, F("rerank", 0)],
    ) -> str:
        return f"{name}: {best}"

    return flow


def main() -> None:
    rag = rag_workflow()
    save("tree-and-data", "visualize=True", *plan_views(rag.build_scheduler().plan, "rag"))

    report = asyncio.run(build_demo(scale=0.2).run())
    save("report-table", "rich.print(report)", report_table(report))

    now = [0.0]
    quiet = Console(file=io.StringIO())
    display = ProgressDisplay(11, quiet, get_time=lambda: now[0], auto_refresh=False, live=False)

    def emit(kind: str, task: str | None = None) -> None:
        display(Event(kind, task, 0.0, "demo"))  # type: ignore[arg-type]

    emit("run_started")
    for name in ("read_question", "load_user_profile"):
        emit("task_started", name)
    now[0] = 0.05
    emit("task_completed", "read_question")
    emit("task_started", "embed_question")
    now[0] = 0.15
    emit("task_completed", "embed_question")
    for name in ("search_docs", "search_web", "search_tickets"):
        emit("task_started", name)
    now[0] = 0.31
    emit("task_completed", "search_tickets")
    save("progress", "progress=True", display.renderable())


if __name__ == "__main__":
    main()
