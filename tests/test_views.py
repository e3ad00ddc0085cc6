"""The Rich views: DAG tree, data-transport table, report table, summary, progress, events."""

from __future__ import annotations

import asyncio
import io

import pytest
from hypothesis import given, settings
from rich.console import Console, RenderableType

from astrum import AstrumConfig, Event, F, Ref, SchedulerRegistry
from astrum._views._progress import ProgressDisplay
from astrum._views._render import dag_tree, data_table, report_table
from sample_workflows import (
    chain_scheduler,
    completed_report,
    diamond_scheduler,
    failed_report,
    hide_rich,
    scheduler_of,
)
from strategies import Dag, dags


def render(view: RenderableType) -> str:
    """The view as plain text at width 80, trailing spaces of each line removed."""
    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(view)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


@pytest.fixture
def no_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich cannot be imported, as when the viz extra is not installed."""
    hide_rich(monkeypatch)


# -- the DAG tree ---------------------------------------------------------------------


def test_tree_draws_roots_first_and_a_shared_task_once() -> None:
    """Roots come first, fan-in/fan-out are marked, a task reached twice is referenced."""
    assert render(dag_tree(diamond_scheduler().plan)) == (
        "workflow · 5 tasks · 2 roots\n"
        "├── load\n"
        "│   └── clean  fan-in 2\n"
        "│       └── report  fan-in 2\n"
        "└── users  fan-out 2\n"
        "    ├── clean ↑ see above\n"
        "    └── score\n"
        "        └── report ↑ see above\n"
    )


def test_tree_continues_deep_chains_at_the_top() -> None:
    """Past max_depth a branch goes on as a new top entry, so deep chains stay readable."""
    assert render(dag_tree(chain_scheduler(5).plan, title="chain", max_depth=3)) == (
        "chain · 5 tasks · 1 root\n"
        "├── c0\n"
        "│   └── c1\n"
        "│       └── c2\n"
        "│           └── … continues below: c3\n"
        "└── c3  (continued from c2)\n"
        "    └── c4\n"
    )


def drawn_tasks(tree_text: str) -> list[str]:
    """The tasks a rendered tree draws in full (not references or continuation notes)."""
    labels = [line.split("── ", 1)[1] for line in tree_text.splitlines()[1:] if "── " in line]
    return [label.split()[0] for label in labels if "see above" not in label and "…" not in label]


def test_tree_of_a_long_chain_stays_within_the_width_and_the_line_budget() -> None:
    """A 1,500-task chain stays 80 columns wide and stops after 1,000 lines, saying so."""
    lines = render(dag_tree(chain_scheduler(1500).plan)).splitlines()
    assert max(len(line) for line in lines) <= 80
    drawn = drawn_tasks("\n".join(lines))
    assert drawn == [f"c{n}" for n in range(len(drawn))]
    assert (
        lines[-1] == f"└── … {1500 - len(drawn)} more tasks: see to_mermaid() or to_dot() for all"
    )
    assert len(lines) < 1010


@settings(max_examples=40, deadline=None)
@given(dags())
def test_tree_draws_every_task_exactly_once(dag: Dag) -> None:
    """In any DAG each task is drawn once; every other mention is a reference."""
    scheduler = scheduler_of(dag)
    assert sorted(drawn_tasks(render(dag_tree(scheduler.plan, max_depth=4)))) == sorted(dag.ids)


# -- the data-transport table ------------------------------------------------------------


def test_data_table_shows_inputs_with_source_locator_and_type() -> None:
    """Each task lists its inputs (type, source, locator) and where its outputs go."""
    assert render(data_table(diamond_scheduler().plan)) == (
        "Data transport\n"
        "┏━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓\n"
        "┃ task  ┃ inputs (parameter: type ← source) ┃ outputs (→ task.parameter) ┃\n"
        "┡━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩\n"
        "│ load  │ -                                 │ ['rows'] → clean.rows      │\n"
        "├───────┼───────────────────────────────────┼────────────────────────────┤\n"
        "│ users │ -                                 │ → clean.names              │\n"
        "│       │                                   │ [0] → score.first          │\n"
        "├───────┼───────────────────────────────────┼────────────────────────────┤\n"
        "│ clean │ rows: list[int] ← load['rows']    │ -                          │\n"
        "│       │ names: list[str] ← users          │                            │\n"
        "├───────┼───────────────────────────────────┼────────────────────────────┤\n"
        "│ score │ first: str ← users[0]             │ -                          │\n"
        "│       │ token: str ← get_token()          │                            │\n"
        "└───────┴───────────────────────────────────┴────────────────────────────┘\n"
    )


def test_data_table_of_a_registry_reads_ref_annotations(registry: SchedulerRegistry) -> None:
    """Values declared with Ref[T, F(task, locator)] show with their types and locators."""

    @registry.task()
    async def fetch_user() -> dict[str, str]:
        return {"name": "ada"}

    @registry.task()
    async def greet(name: Ref[str, F("fetch_user", "name")]) -> str:
        return f"hello {name}"

    assert render(data_table(registry.build_scheduler().plan)) == (
        "Data transport\n"
        "┏━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓\n"
        "┃ task       ┃ inputs (parameter: type ← source) ┃ outputs (→ task.parameter) ┃\n"
        "┡━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩\n"
        "│ fetch_user │ -                                 │ ['name'] → greet.name      │\n"
        "├────────────┼───────────────────────────────────┼────────────────────────────┤\n"
        "│ greet      │ name: str ← fetch_user['name']    │ -                          │\n"
        "└────────────┴───────────────────────────────────┴────────────────────────────┘\n"
    )
    assert registry.to_mermaid().splitlines()[-1] == "    t0 -->|\"'name' → name\"| t1"


def test_data_table_of_a_large_workflow_says_how_many_tasks_it_left_out() -> None:
    """Past max_rows, the table's caption counts the tasks it does not show."""
    text = render(data_table(diamond_scheduler().plan, max_rows=2))
    assert "│ users │" in text
    assert "│ clean │" not in text
    assert text.endswith("… 2 more tasks pass data: see to_mermaid() for all\n")


def test_data_table_without_bindings_says_none_are_declared() -> None:
    """A workflow whose tasks pass no values gets one line instead of an empty table."""
    assert render(data_table(chain_scheduler(3).plan)) == (
        "Data transport: none declared; tasks only wait for each other.\n"
    )


def test_visualize_prints_tree_and_table_when_the_scheduler_is_built(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """visualize=True prints the Rich tree and the data-transport view on stdout."""
    registry = SchedulerRegistry("shown")

    @registry.task()
    async def first() -> int:
        return 1

    @registry.task(depends_on=["first"], retry=1, timeout=2)
    async def second() -> int:
        return 2

    registry.build_scheduler(config=AstrumConfig(visualize=True))
    out = capsys.readouterr().out
    assert "workflow 'shown' · 2 tasks · 1 root" in out
    assert "└── second  retry 1, timeout 2 s" in out
    assert "Data transport: none declared" in out


@pytest.mark.parametrize("option", ["visualize", "progress"])
async def test_without_rich_one_warning_names_the_extra_and_the_run_goes_on(
    registry: SchedulerRegistry, no_rich: None, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without rich, visualize=True or progress=True warns once naming astrum[viz]; it runs."""

    @registry.task()
    async def only() -> int:
        return 1

    config = AstrumConfig(visualize=option == "visualize", progress=option == "progress")
    with pytest.warns(RuntimeWarning, match=r"pip install 'astrum\[viz\]'") as warned:
        report = await registry.run(config=config)
    assert len(warned) == 1
    assert report.task_return_set == {"only": 1}
    if option == "visualize":
        assert "only" in capsys.readouterr().out  # the plain-text plan instead


def test_report_helpers_without_rich_name_the_extra(no_rich: None) -> None:
    """Drawing a report without rich raises an ImportError naming the extra."""
    with pytest.raises(ImportError, match=r"pip install 'astrum\[viz\]'"):
        completed_report().__rich__()


# -- the report ----------------------------------------------------------------------------


def test_summary_of_a_completed_run() -> None:
    """The summary gives state, counts, critical path and the slowest tasks."""
    assert completed_report().summary() == (
        "Run completed in 550.0 ms: 5 tasks (5 completed).\n"
        "Critical path (550.0 ms): load -> clean -> report\n"
        "Slowest tasks:\n"
        "  clean    300.0 ms  completed\n"
        "  load     200.0 ms  completed\n"
        "  score    150.0 ms  completed  (2 attempts)\n"
        "  users    100.0 ms  completed\n"
        "  report    50.0 ms  completed"
    )


def test_summary_of_a_failed_run_lists_errors_and_unstarted_tasks() -> None:
    """A failed run's summary counts every outcome and ends with the errors."""
    assert failed_report().summary() == (
        "Run failed in 300.0 ms: 5 tasks (2 completed, 1 failed, 1 cancelled, 1 not started).\n"
        "Critical path (300.0 ms): load -> clean\n"
        "Slowest tasks:\n"
        "  load    200.0 ms  completed\n"
        "  score   200.0 ms  cancelled\n"
        "  users   100.0 ms  completed\n"
        "  clean   100.0 ms  failed\n"
        "Errors:\n"
        "  Task 'clean' failed: ValueError: bad rows"
    )


def test_report_table_marks_the_critical_path_and_shows_errors() -> None:
    """The report table has a row per task in start order, errors included."""
    assert render(report_table(failed_report())) == (
        "Run failed in 300.0 ms\n"
        "┏━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━┳━━━━━━━━━━┓\n"
        "┃ task    ┃ status    ┃     start ┃ duration ┃ tries ┃ error    ┃\n"
        "┡━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━┩\n"
        "│ load *  │ completed │      +0 s │ 200.0 ms │     1 │          │\n"
        "│ users   │ completed │      +0 s │ 100.0 ms │     1 │          │\n"
        "│ score   │ cancelled │ +100.0 ms │ 200.0 ms │     1 │          │\n"
        "│ clean * │ failed    │ +200.0 ms │ 100.0 ms │     1 │ bad rows │\n"
        "└─────────┴───────────┴───────────┴──────────┴───────┴──────────┘\n"
        "5 tasks: 2 completed, 1 failed, 1 cancelled, 1 not started; * on\n"
        "the critical path\n"
    )


def test_report_table_of_a_large_run_keeps_failures_first() -> None:
    """Past max_rows, tasks that did not complete are kept and the caption counts the rest."""
    text = render(report_table(failed_report(), max_rows=2))
    assert [line.split()[1] for line in text.splitlines() if line.startswith("│")] == [
        "score",
        "clean",
    ]
    assert "2 completed tasks not shown" in text.replace("\n", " ")


def test_rich_print_of_a_report_draws_its_table() -> None:
    """A report is a Rich renderable: printing it draws the report table."""
    assert render(completed_report()) == render(report_table(completed_report()))


# -- events ---------------------------------------------------------------------------


@pytest.mark.looptime
async def test_events_arrive_in_dependency_order(registry: SchedulerRegistry) -> None:
    """Run events bracket the task events; a task starts only after its dependencies completed."""
    seen: list[Event] = []

    @registry.task()
    async def fetch() -> None:
        await asyncio.sleep(1)

    @registry.task()
    async def other() -> None:
        await asyncio.sleep(2)

    @registry.task(depends_on=["fetch", "other"])
    async def merge() -> None:
        await asyncio.sleep(1)

    report = await registry.run(config=AstrumConfig(on_event=seen.append))
    assert report.summary().splitlines()[1] == "Critical path (3.00 s): other -> merge"
    kinds = [(event.kind, event.task) for event in seen]
    assert kinds == [
        ("run_started", None),
        ("task_started", "fetch"),
        ("task_started", "other"),
        ("task_completed", "fetch"),
        ("task_completed", "other"),
        ("task_started", "merge"),
        ("task_completed", "merge"),
        ("run_finished", None),
    ]
    times = [event.time - seen[0].time for event in seen]
    assert times == pytest.approx([0, 0, 0, 1, 2, 2, 3, 3], abs=1e-3)
    assert seen[-1].state == "completed"
    assert len({event.run_id for event in seen}) == 1


@pytest.mark.looptime
async def test_retries_failures_and_skips_arrive_as_events(registry: SchedulerRegistry) -> None:
    """A retried attempt says it will retry, the last one does not, downstream is skipped."""
    seen: list[Event] = []

    @registry.task(retry=1, retry_delay=1)
    async def flaky() -> None:
        await asyncio.sleep(1)
        raise ValueError("nope")

    @registry.task(depends_on=["flaky"])
    async def after() -> None:
        return None

    config = AstrumConfig(on_event=seen.append, on_failure="continue")
    report = await registry.run(config=config)
    assert report.execution_state == "failed"
    assert [(e.kind, e.task, e.attempt, e.will_retry) for e in seen] == [
        ("run_started", None, 0, False),
        ("task_started", "flaky", 1, False),
        ("attempt_failed", "flaky", 1, True),
        ("attempt_failed", "flaky", 2, False),
        ("task_failed", "flaky", 0, False),
        ("task_skipped", "after", 0, False),
        ("run_finished", None, 0, False),
    ]
    assert isinstance(seen[2].error, ValueError)
    assert seen[-1].state == "failed"


# -- progress -------------------------------------------------------------------------


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def event(kind: str, task: str | None = None, **extra: object) -> Event:
    return Event(kind, task, 0.0, "run", **extra)  # type: ignore[arg-type]


def text_console() -> Console:
    return Console(file=io.StringIO(), width=80, color_system=None)


def test_progress_off_a_terminal_writes_occasional_plain_lines() -> None:
    """Off a terminal: a line at start, at failures, at most every interval, and at the end."""
    clock = FakeClock()
    console = text_console()
    display = ProgressDisplay(4, console, get_time=clock, interval=5.0)
    display(event("run_started"))
    for name in ("a", "b", "c"):
        display(event("task_started", name, attempt=1))
    clock.now += 1
    display(event("task_completed", "a"))  # too soon for a line
    clock.now += 5
    display(event("task_failed", "b", error=ValueError("boom")))
    display(event("task_cancelled", "c"))
    display(event("task_skipped", "d"))
    clock.now += 0.5
    display(event("run_finished", state="failed"))
    display.close()  # closing twice writes nothing more
    assert console.file.getvalue() == (  # type: ignore[attr-defined]
        "astrum: run started: 4 tasks\n"
        "astrum: task b failed: ValueError: boom\n"
        "astrum: run failed: 4/4 finished (1 done · 0 running · 1 failed · 1 cancelled · "
        "1 skipped) in 6.50 s\n"
    )


def test_progress_line_names_running_tasks_longest_first() -> None:
    """Status lines name the running tasks, longest-running first, with their times."""
    clock = FakeClock()
    console = text_console()
    display = ProgressDisplay(9, console, get_time=clock, interval=1.0)
    display(event("run_started"))
    for number in range(8):
        display(event("task_started", f"t{number}", attempt=1))
        clock.now += 0.25
        if number == 1:
            display(event("attempt_failed", "t1", attempt=1, will_retry=True))
    display(event("task_completed", "t7"))
    last = console.file.getvalue().splitlines()[-1]  # type: ignore[attr-defined]
    assert last == (
        "astrum: 1/9 finished (1 done · 7 running · 0 failed) in 2.00 s; running: t0 (2.00 s), "
        "t1 (1.75 s, attempt 2), t2 (1.50 s), t3 (1.25 s), t4 (1.00 s) and 2 more"
    )


def test_live_progress_shows_counts_elapsed_time_and_running_tasks() -> None:
    """The live display draws the bar, done/running/failed counts, elapsed time, running tasks."""
    clock = FakeClock()
    display = ProgressDisplay(3, text_console(), get_time=clock, auto_refresh=False, live=True)
    display(event("run_started"))
    display(event("task_started", "fetch", attempt=1))
    display(event("task_started", "parse", attempt=1))
    clock.now += 1.5
    display(event("task_completed", "fetch"))
    assert render(display.renderable()) == (
        "run ━━━━━━╸              1/3 1 done · 1 running · 0 failed 1.5 s\n"
        "running: parse (1.50 s)\n"
    )
    display(event("run_finished", state="completed"))


def test_live_progress_on_a_terminal_starts_and_stops_cleanly() -> None:
    """On a terminal console the live display draws while running and stops at run_finished."""
    clock = FakeClock()
    console = Console(
        file=io.StringIO(), width=80, color_system=None, force_terminal=True, legacy_windows=False
    )
    display = ProgressDisplay(1, console, get_time=clock, auto_refresh=False)
    display(event("run_started"))
    display(event("task_started", "only", attempt=1))
    display(event("task_failed", "only", error=RuntimeError("down")))
    clock.now += 2
    display(event("run_finished", state="failed"))
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "astrum: task only failed: RuntimeError: down" in output
    assert "1/1 0 done · 0 running · 1 failed 2.0 s" in output
    assert not console.is_alt_screen
    display.close()


async def test_progress_config_reports_on_stderr_and_keeps_stdout_clean(
    registry: SchedulerRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    """progress=True off a terminal writes plain lines to stderr, nothing to stdout."""

    @registry.task()
    async def only() -> int:
        return 1

    report = await registry.run(config=AstrumConfig(progress=True))
    captured = capsys.readouterr()
    assert report.execution_state == "completed"
    assert captured.out == ""
    assert captured.err.splitlines()[0] == "astrum: run started: 1 task"
    assert captured.err.splitlines()[-1].startswith("astrum: run completed: 1/1 finished")
