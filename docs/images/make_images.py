"""Redraw the pictures of docs/seeing-a-workflow.md: ``python docs/images/make_images.py``.

Rich records what it prints and saves it as SVG, so the pictures are the real
output of the views. The progress picture is drawn mid-run on a fake clock.
The HTML page is a real run's ``to_html()`` photographed by headless Chromium
(``apt-get install chromium``), driven as the browser test drives it.
"""

from __future__ import annotations

import asyncio
import io
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType

from astrum import AstrumConfig, ExecutionReport, F, Ref, SchedulerRegistry
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


def nightly_run() -> ExecutionReport:
    """A run with a bit of everything: a retry, a queue, mapped instances, a failure, a skip."""
    flow = SchedulerRegistry("nightly")
    calls = {"rates": 0}

    @flow.task()
    async def fetch_orders() -> list[float]:
        await asyncio.sleep(0.12)
        return [12.0, 30.5, 7.25]

    @flow.task()
    async def fetch_customers() -> dict[str, int]:
        await asyncio.sleep(0.08)
        return {"count": 3}

    @flow.task(retry=2)
    async def fetch_rates() -> dict[str, float]:
        calls["rates"] += 1
        await asyncio.sleep(0.04)
        if calls["rates"] == 1:
            raise ConnectionError("rates API timed out")
        return {"EUR": 0.92}

    @flow.task()
    async def clean_orders(orders: Ref[list[float], F("fetch_orders")]) -> list[float]:
        await asyncio.sleep(0.05)
        return [order for order in orders if order > 0]

    @flow.task()
    async def convert(
        orders: Ref[list[float], F("clean_orders")],
        rate: Ref[float, F("fetch_rates", "EUR")],
        customers: Ref[int, F("fetch_customers", "count")],
    ) -> float:
        await asyncio.sleep(0.07)
        return sum(orders) * rate / customers

    for index in range(3):

        async def chart(total: Ref[float, F("convert")]) -> str:
            await asyncio.sleep(0.05)
            return f"chart of {total:.2f}"

        flow.task(f"chart[{index}]", tags=["renderer"])(chart)

    @flow.task(depends_on=["chart[0]", "chart[1]", "chart[2]"])
    async def publish_dashboard() -> None:
        await asyncio.sleep(0.03)

    @flow.task()
    async def email_summary(total: Ref[float, F("convert")]) -> None:
        await asyncio.sleep(0.02)
        raise RuntimeError(f"SMTP server refused the message (total {total:.2f})")

    @flow.task(depends_on=["email_summary"])
    async def archive() -> None:
        return None

    config = AstrumConfig(on_failure="continue", pools={"renderer": 1})
    return asyncio.run(flow.run(config=config))


def save_page(name: str) -> None:
    sys.path.insert(0, str(HERE.parent.parent / "tests"))
    from _browser import Browser

    with tempfile.TemporaryDirectory() as folder:
        page_path = Path(folder) / "run.html"
        nightly_run().to_html(page_path)
        with Browser() as browser:
            page = browser.load(page_path)
            assert not page.errors, page.errors
            page.screenshot(HERE / f"{name}.png", width=1180)
    print(f"wrote {name}.png")


def main() -> None:
    save_page("run-page")
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
