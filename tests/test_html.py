"""The run as one self-contained HTML page: report.to_html()."""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astrum import (
    AstrumConfig,
    ExecutionReport,
    F,
    MemoryStore,
    Ref,
    SchedulerRegistry,
    SqliteStore,
)
from astrum._views._html import BAR_LIMIT, DAG_LIMIT, render_page
from astrum._views._page_data import load_page, page_data
from sample_workflows import completed_report, failed_report
from strategies import Dag, failing_dags
from test_cli import GOOD, astrum, write

BAR = re.compile(r"<rect class='bar ([a-z-]+)[^']*' data-task='([^']*)'")


def bars(page: str) -> list[tuple[str, str]]:
    """``(status, task)`` of every task bar of the timeline, in page order."""
    return [(status, html.unescape(task)) for status, task in BAR.findall(page)]


def completed_run() -> ExecutionReport:
    """A small run whose values flow along annotated edges, two tasks at a time."""
    flow = SchedulerRegistry("html-completed")

    @flow.task()
    async def fetch() -> dict[str, list[int]]:
        await asyncio.sleep(0.02)
        return {"rows": [1, 2, 3]}

    @flow.task()
    async def side() -> int:
        await asyncio.sleep(0.03)
        return 1

    @flow.task()
    async def total(rows: Ref[list[int], F("fetch", "rows")]) -> int:
        await asyncio.sleep(0.01)
        return sum(rows)

    @flow.task(depends_on=["side"])
    async def publish(value: Ref[int, F("total")]) -> int:
        return value

    return asyncio.run(flow.run(config=AstrumConfig(concurrency_limit=1)))


def failed_run() -> ExecutionReport:
    """A run where one task fails after a retry and its dependent is skipped."""
    flow = SchedulerRegistry("html-failed")

    @flow.task()
    async def fine() -> int:
        await asyncio.sleep(0.01)
        return 1

    @flow.task(retry=1)
    async def flaky() -> int:
        await asyncio.sleep(0.005)
        raise ValueError("the <upstream> service said no")

    @flow.task(depends_on=["flaky"])
    async def after() -> None:
        return None

    return asyncio.run(flow.run(config=AstrumConfig(on_failure="continue")))


def cancelled_run() -> ExecutionReport:
    """A run cut short by its timeout while one task sleeps and another waits for it."""
    flow = SchedulerRegistry("html-cancelled")

    @flow.task()
    async def quick() -> int:
        return 1

    @flow.task()
    async def slow() -> None:
        await asyncio.sleep(30)

    @flow.task(depends_on=["slow", "quick"])
    async def never() -> None:
        return None

    return asyncio.run(flow.run(config=AstrumConfig(run_timeout=0.05)))


def test_completed_run_draws_every_task_edge_and_the_critical_path() -> None:
    """Each task has a bar and a node; data edges carry their locators; the header says it all."""
    report = completed_run()
    page = report.to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert sorted(bar for bar in bars(page) if bar[0] != "queued") == [
        ("completed", "fetch"),
        ("completed", "publish"),
        ("completed", "side"),
        ("completed", "total"),
    ]
    assert "&#x27;rows&#x27; → rows" in page  # the locator on the fetch -> total edge
    assert report.run_id in page
    assert "4 completed" in page
    assert "class='critical-path'" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page


def test_queued_time_is_drawn_before_the_body() -> None:
    """With one slot, the task that waited shows a queued segment and its wait in the table."""
    report = completed_run()
    waited = [s for s in report.task_statistics if s.queued_duration > 0]
    assert waited
    page = report.to_html()
    assert {task for status, task in bars(page) if status == "queued"} == {
        s.task_name for s in waited
    }
    lone = waited[0].attempt_statistics[0]
    assert lone.queued_duration == waited[0].queued_duration


def test_failed_run_shows_attempts_the_skip_and_an_expandable_traceback() -> None:
    """Two attempts of the failing task, a skipped marker, and the traceback inside <details>."""
    report = failed_run()
    assert report.execution_state == "failed"
    page = report.to_html()
    drawn = bars(page)
    assert drawn.count(("failed", "flaky")) == 2
    assert ("skipped", "after") in drawn
    assert ("completed", "fine") in drawn
    assert "<details><summary>the &lt;upstream&gt; service said no</summary>" in page
    assert "Traceback (most recent call last)" in page
    assert "attempt 1: failed — the &lt;upstream&gt; service said no" in page
    assert "<upstream>" not in page  # escaped everywhere


def test_cancelled_run_draws_the_cancelled_task_and_the_one_never_started() -> None:
    """A timeout leaves a cancelled bar, and the unreached task in the graph and table."""
    report = cancelled_run()
    assert report.execution_state == "cancelled"
    page = report.to_html()
    assert ("cancelled", "slow") in bars(page)
    assert "<g class='node not-started" in page
    assert "<span class='pill not-started'>not started</span>" in page


def test_to_html_writes_the_page_to_a_path(tmp_path: Path) -> None:
    """Given a path, the same page is written there in UTF-8."""
    report = completed_report()
    target = tmp_path / "run.html"
    page = report.to_html(target)
    assert target.read_text(encoding="utf-8") == page


def test_hand_made_reports_render() -> None:
    """Reports built by hand (no run id, no edges) still give a page."""
    for report in (completed_report(), failed_report()):
        page = report.to_html()
        assert "<svg id='timeline'" in page


def test_mapped_instances_are_grouped_under_one_row() -> None:
    """Tasks named ``name[i]`` share a header row and pack into lanes."""
    flow = SchedulerRegistry("html-mapped")
    for index in range(6):

        async def body() -> None:
            await asyncio.sleep(0.001)

        flow.task(f"part[{index}]")(body)
    report = asyncio.run(flow.run())
    page = report.to_html()
    assert page.count("part[…] (6)") == 1
    assert len([task for _, task in bars(page) if task.startswith("part[")]) == 6


def test_large_runs_aggregate_the_timeline_and_the_graph() -> None:
    """Past the limits, the timeline draws density rows and the graph one box per level."""
    count = BAR_LIMIT + 10
    assert count > DAG_LIMIT
    flow = SchedulerRegistry("html-large")

    async def noop() -> None:
        return None

    for index in range(count):
        flow.task(f"t{index}", depends_on=[f"t{index - 1}"] if index % 2 else None)(noop)
    report = asyncio.run(flow.run())
    page = report.to_html()
    assert "so each row below is a level of the graph" in page
    assert "one box per level of the graph" in page
    assert page.count("class='density") > 0
    assert len(bars(page)) < 100  # only the critical path is drawn bar by bar


def test_page_data_survives_json_and_renders_the_same() -> None:
    """What a store keeps (JSON) draws the same page as the report itself."""
    report = failed_run()
    data = page_data(report)
    again = json.loads(json.dumps(data))
    assert render_page(again) == render_page(data)


def test_two_thousand_tasks_make_a_page_under_five_megabytes() -> None:
    """The size budget of a 2,000-task report, with every bar drawn."""
    flow = SchedulerRegistry("html-2000")

    async def noop() -> None:
        return None

    for index in range(2000):
        flow.task(f"task_{index:04d}", depends_on=[f"task_{index // 2:04d}"] if index else None)(
            noop
        )
    page = asyncio.run(flow.run()).to_html()
    assert len(bars(page)) == 2000
    assert len(page.encode()) < 5_000_000


# -- in a real browser ----------------------------------------------------------------------


def _browser_or_skip() -> None:
    from _browser import find_chromium

    if find_chromium() is None:
        if os.environ.get("ASTRUM_REQUIRE_BROWSER"):
            pytest.fail("ASTRUM_REQUIRE_BROWSER is set but no Chromium is on PATH.")
        pytest.skip("Chromium is not installed (apt-get install chromium); .ci/run installs it.")


COUNT_BARS = "document.querySelectorAll('#timeline rect.bar').length"
STATUSES = (
    "Array.from(document.querySelectorAll('#timeline rect.bar'))"
    ".map(r => r.dataset.status + ':' + r.dataset.task)"
)
HOVER = """(() => {
  const bar = document.querySelector('#timeline rect.bar.%s');
  const box = bar.getBoundingClientRect();
  bar.dispatchEvent(new MouseEvent('mouseover', {bubbles: true,
      clientX: box.x + 1, clientY: box.y + 1}));
  const tip = document.getElementById('tip');
  return [getComputedStyle(tip).display, tip.textContent, box.width > 0];
})()"""


def test_pages_load_in_chromium_without_errors_and_draw_the_timeline(tmp_path: Path) -> None:
    """Headless Chromium opens a completed, a failed and a cancelled run from file://."""
    _browser_or_skip()
    from _browser import Browser

    runs = {"completed": completed_run(), "failed": failed_run(), "cancelled": cancelled_run()}
    with Browser() as browser:
        for state, report in runs.items():
            assert report.execution_state == state
            path = tmp_path / f"{state}.html"
            report.to_html(path)
            page = browser.load(path)
            assert page.errors == [], state
            assert page.evaluate(f"document.querySelector('header .state.{state}') !== null")
            drawn = page.evaluate(STATUSES)
            expected = {
                "completed": {"completed:fetch", "completed:side", "completed:total"},
                "failed": {"failed:flaky", "skipped:after", "completed:fine"},
                "cancelled": {"cancelled:slow", "completed:quick"},
            }[state]
            assert expected <= set(drawn), drawn
            assert page.evaluate(COUNT_BARS) == len(bars(path.read_text(encoding="utf-8")))
            display, text, visible = page.evaluate(HOVER % state)
            assert visible
            assert display == "block"
            assert " → " in text


# -- from the command line ------------------------------------------------------------------


def test_cli_run_writes_the_page(tmp_path: Path) -> None:
    """``astrum run FILE --html OUT`` writes the run's page beside the summary."""
    out = tmp_path / "out.html"
    result = astrum("run", write(tmp_path, "good.py", GOOD), "--html", out)
    assert result.returncode == 0, result.stderr
    assert f"page written to {out}" in result.stderr
    assert "<svg id='timeline'" in out.read_text(encoding="utf-8")


def test_cli_report_draws_a_run_recorded_in_a_store(tmp_path: Path) -> None:
    """A run recorded in a SqliteStore is drawn again by id (or a prefix), without the report."""
    path = tmp_path / "runs.db"
    with SqliteStore(path) as store:
        report = asyncio.run(_failing_flow().run(config=AstrumConfig(store=store)))
    out = tmp_path / "run.html"
    result = astrum("report", report.run_id[:10], "--store", path, "-o", out)
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert page == render_page(page_data(report))
    assert "Traceback (most recent call last)" in page
    missing = astrum("report", "nope", "--store", path)
    assert missing.returncode == 2
    assert "has no single run 'nope' (no run has it)" in missing.stderr
    assert report.run_id in missing.stderr
    no_store = astrum("report", "x", "--store", tmp_path / "none.db")
    assert no_store.returncode == 2
    assert "there is no store at" in no_store.stderr


def test_memory_store_keeps_the_page_data_of_recorded_runs() -> None:
    """MemoryStore keeps a recorded run's page data too; clearing it drops it."""
    store = MemoryStore()
    report = asyncio.run(_failing_flow().run(config=AstrumConfig(store=store)))
    payload = store.load_report(report.run_id)
    assert payload is not None
    assert load_page(payload) == json.loads(json.dumps(page_data(report)))
    store.clear()
    assert store.load_report(report.run_id) is None


def _failing_flow() -> SchedulerRegistry:
    """A two-task workflow whose second task fails."""
    flow = SchedulerRegistry("html-stored")

    @flow.task()
    async def first() -> int:
        return 1

    @flow.task()
    async def second(value: Ref[int, F("first")]) -> int:
        raise KeyError(value)

    return flow


# -- any run --------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(failing_dags(), st.sampled_from(["fail_fast", "continue"]))
def test_every_task_of_any_run_is_drawn_with_its_outcome(
    case: tuple[Dag, frozenset[str]], policy: str
) -> None:
    """Each task that ran has a bar of its status, each skipped one a mark; the SVGs close."""
    dag, failing = case
    flow = SchedulerRegistry("html-any")
    for task, deps in dag.deps_of().items():

        async def body(fails: bool = task in failing) -> None:
            if fails:
                raise ValueError("planned failure")

        flow.task(task, depends_on=list(deps))(body)
    config = AstrumConfig(on_failure=policy)  # type: ignore[arg-type]
    report = asyncio.run(flow.run(config=config))
    page = report.to_html()
    drawn = set(bars(page))
    for stats in report.task_statistics:
        assert (stats.status, stats.task_name) in drawn
    assert page.count("<svg") == page.count("</svg>") == 2
    assert page.count("<g class='node") == len(dag.ids)
