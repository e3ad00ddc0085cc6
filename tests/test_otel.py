"""OpenTelemetry spans: AstrumConfig(tracer_provider=...)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
import sys
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from astrum import AstrumConfig, SchedulerRegistry
from sample_workflows import get_token
from strategies import Dag, failing_dags


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """An in-memory exporter; spans end up in it as soon as they end."""
    memory = InMemorySpanExporter()
    yield memory
    memory.clear()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    """A tracer provider feeding ``exporter``."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield tracer_provider
    tracer_provider.shutdown()


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    """Spans grouped by name, in the order they ended."""
    found: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        found.setdefault(span.name, []).append(span)
    return found


def parent_id(span: ReadableSpan) -> int | None:
    """The span id of the parent of ``span``, or None for a root."""
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    """The span id of ``span``."""
    assert span.context is not None
    return int(span.context.span_id)


def test_a_run_is_a_child_of_the_current_span_with_one_span_per_attempt(
    registry: SchedulerRegistry, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """The run's span nests in the caller's; each attempt is a child of the run's span."""

    @registry.task()
    async def load() -> int:
        return 1

    calls = 0

    @registry.task(depends_on=["load"], retry=1)
    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("first try fails")
        return 2

    tracer = provider.get_tracer("caller")

    async def main() -> None:
        with tracer.start_as_current_span("request"):
            await registry.run(config=AstrumConfig(tracer_provider=provider))

    asyncio.run(main())
    spans = by_name(exporter.get_finished_spans())
    (request,) = spans["request"]
    (run,) = spans["astrum.run"]
    assert parent_id(run) == span_id(request)
    assert run.attributes is not None
    assert run.attributes["astrum.status"] == "completed"
    (loaded,) = spans["load"]
    first, second = spans["flaky"]
    for span in (loaded, first, second):
        assert parent_id(span) == span_id(run)
        assert span.attributes is not None
        assert span.attributes["astrum.run_id"] == run.attributes["astrum.run_id"]
    assert first.attributes is not None
    assert second.attributes is not None
    assert (first.attributes["astrum.attempt"], first.attributes["astrum.status"]) == (1, "failed")
    assert first.status.status_code is StatusCode.ERROR
    assert [event.name for event in first.events] == ["exception"]
    assert first.events[0].attributes is not None
    assert first.events[0].attributes["exception.message"] == "first try fails"
    assert (second.attributes["astrum.attempt"], second.attributes["astrum.status"]) == (
        2,
        "completed",
    )
    assert second.status.status_code is StatusCode.OK
    assert loaded.attributes is not None
    assert loaded.attributes["astrum.task_id"] == "load"


def test_a_failed_run_marks_cancelled_and_skipped_tasks(
    registry: SchedulerRegistry, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """The run span is an error; a cancelled attempt and a skipped task carry their status."""

    @registry.task()
    async def broken() -> None:
        raise RuntimeError("boom")

    @registry.task(depends_on=["broken"])
    async def after() -> None:
        return None

    @registry.task()
    async def slow() -> None:
        await asyncio.sleep(30)

    config = AstrumConfig(tracer_provider=provider, on_failure="continue", run_timeout=0.2)
    report = asyncio.run(registry.run(config=config))
    assert report.execution_state == "cancelled"
    spans = by_name(exporter.get_finished_spans())
    statuses = {
        name: [span.attributes["astrum.status"] for span in found if span.attributes]
        for name, found in spans.items()
    }
    assert statuses == {
        "broken": ["failed"],
        "after": ["skipped"],
        "slow": ["cancelled"],
        "astrum.run": ["cancelled"],
    }
    (broken_span,) = spans["broken"]
    assert broken_span.status.status_code is StatusCode.ERROR


def test_fail_fast_run_span_is_an_error(
    registry: SchedulerRegistry, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """A failed run's span has status ERROR with the first failure as its description."""

    @registry.task()
    async def broken() -> None:
        raise RuntimeError("boom")

    asyncio.run(registry.run(config=AstrumConfig(tracer_provider=provider)))
    (run,) = by_name(exporter.get_finished_spans())["astrum.run"]
    assert run.status.status_code is StatusCode.ERROR
    assert run.status.description == "Task 'broken' failed: RuntimeError: boom"


@pytest.mark.parametrize("executor", ["thread", "inline", "own-pool"])
def test_spans_started_in_a_task_body_are_children_of_its_attempt(
    registry: SchedulerRegistry,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    executor: str,
) -> None:
    """Async bodies on the loop and sync bodies in threads or executors nest their spans."""
    tracer = provider.get_tracer("body")

    @registry.task()
    async def on_loop() -> None:
        with tracer.start_as_current_span("inside async"):
            await asyncio.sleep(0)

    @registry.task()
    def in_thread() -> None:
        with tracer.start_as_current_span("inside sync"):
            pass

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        where = pool if executor == "own-pool" else executor
        config = AstrumConfig(tracer_provider=provider, executor=where)  # type: ignore[arg-type]
        asyncio.run(registry.run(config=config))
    spans = by_name(exporter.get_finished_spans())
    assert parent_id(spans["inside async"][0]) == span_id(spans["on_loop"][0])
    assert parent_id(spans["inside sync"][0]) == span_id(spans["in_thread"][0])


def test_a_worker_is_recorded_when_a_task_runs_in_another_process(
    registry: SchedulerRegistry, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """A process-pool attempt names its worker process."""
    registry.task("token")(get_token)
    config = AstrumConfig(tracer_provider=provider, executor="process", max_workers=1)
    report = asyncio.run(registry.run(config=config))
    assert report.execution_state == "completed", report.error_summary
    (span,) = by_name(exporter.get_finished_spans())["token"]
    assert span.attributes is not None
    assert str(span.attributes["astrum.worker"]).startswith("pid ")


def test_a_provider_that_is_not_one_is_refused() -> None:
    """A wrong object for tracer_provider fails at configuration time, naming its type."""
    with pytest.raises(TypeError, match=r"must be an OpenTelemetry TracerProvider.*got int"):
        AstrumConfig(tracer_provider=42)


def test_without_a_provider_nothing_of_opentelemetry_is_imported() -> None:
    """Running a workflow without tracing never imports opentelemetry or astrum._run._otel."""
    code = (
        "import asyncio, sys\n"
        "from astrum import SchedulerRegistry\n"
        "flow = SchedulerRegistry('plain')\n"
        "@flow.task()\n"
        "async def one() -> int:\n"
        "    return 1\n"
        "assert asyncio.run(flow.run()).execution_state == 'completed'\n"
        "names = ('opentelemetry', 'astrum._run._otel')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(names))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(failing_dags())
def test_any_run_has_a_span_per_attempt_and_per_skipped_task(
    case: tuple[Dag, frozenset[str]],
) -> None:
    """Under 'continue', spans match the report: one per attempt, one per skipped task."""
    dag, failing = case
    memory = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    flow = SchedulerRegistry("otel-any")
    for task, deps in dag.deps_of().items():

        async def body(fails: bool = task in failing) -> None:
            if fails:
                raise ValueError("planned failure")

        flow.task(task, depends_on=list(deps), retry=1)(body)
    config = AstrumConfig(on_failure="continue", tracer_provider=tracer_provider)
    report = asyncio.run(flow.run(config=config))
    spans = by_name(memory.get_finished_spans())
    (run,) = spans.pop("astrum.run")
    assert run.attributes is not None
    assert run.attributes["astrum.status"] == report.execution_state
    for stats in report.task_statistics:
        found = spans.pop(stats.task_name)
        statuses = [span.attributes["astrum.status"] for span in found if span.attributes]
        if stats.status == "skipped":
            assert statuses == ["skipped"]
        else:
            assert statuses == [attempt.status for attempt in stats.attempt_statistics]
        assert all(parent_id(span) == span_id(run) for span in found)
    assert spans == {}
    tracer_provider.shutdown()
