"""OpenTelemetry spans for a run: one for the run, one per task attempt.

Used only when ``AstrumConfig(tracer_provider=...)`` is set; this module (and
``opentelemetry``) is imported only then. The run's span is a child of
whatever span is current where the run is awaited. Each attempt's span is a
child of the run's span and is the current span while the body runs, so
spans the body starts (on the loop, or in a thread: the run copies the
context into its threads) are children of it.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["OTEL_EXTRA_HINT", "RunTracing", "make_tracer"]

OTEL_EXTRA_HINT = "pip install 'astrum[otel]'"


def make_tracer(provider: Any) -> Any:
    """The tracer astrum's spans come from, taken from ``provider``."""
    try:
        from opentelemetry import trace  # noqa: F401 - only to fail early and clearly
    except ImportError:
        raise ImportError(
            "AstrumConfig(tracer_provider=...) needs the OpenTelemetry API, which is not "
            f"installed; install it with {OTEL_EXTRA_HINT}."
        ) from None
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("astrum")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        ours = None
    return provider.get_tracer("astrum", ours)


class RunTracing:
    """The spans of one run."""

    __slots__ = ("_attach", "_context", "_detach", "_in_context", "_run_id", "_span", "_tracer")

    def __init__(self, tracer: Any, run_id: str) -> None:
        from opentelemetry import context, trace

        self._tracer = tracer
        self._run_id = run_id
        self._span: Any = None
        self._context: Any = None
        # Looked up once per run rather than once per attempt.
        self._attach = context.attach
        self._detach = context.detach
        self._in_context = trace.set_span_in_context

    def start_run(self, tasks: int) -> None:
        """Open the run's span as a child of the caller's current span."""
        self._span = self._tracer.start_span(
            "astrum.run", attributes={"astrum.run_id": self._run_id, "astrum.tasks": tasks}
        )
        self._context = self._in_context(self._span)

    def end_run(self, state: str, errors: list[str]) -> None:
        span = self._span
        span.set_attribute("astrum.status", state)
        if state == "failed":
            span.set_status(_status(error=errors[0] if errors else "failed"))
        span.end()

    async def attempt(self, task_id: str, attempt: int, call: Any, worker: Any) -> Any:
        """Await ``call()`` (one attempt) inside its span, made current for the body."""
        span = self._tracer.start_span(
            task_id,
            context=self._context,
            attributes={
                "astrum.run_id": self._run_id,
                "astrum.task_id": task_id,
                "astrum.attempt": attempt,
            },
        )
        token = self._attach(self._in_context(span))
        try:
            value = await call()
        except asyncio.CancelledError:
            span.set_attribute("astrum.status", "cancelled")
            span.add_event("cancelled")
            raise
        except BaseException as exc:
            span.set_attribute("astrum.status", "failed")
            span.record_exception(exc)
            span.set_status(_status(error=f"{type(exc).__name__}: {exc}"))
            raise
        else:
            span.set_attribute("astrum.status", "completed")
            span.set_status(_status())
        finally:
            where = worker(task_id)
            if where is not None:
                span.set_attribute("astrum.worker", where)
            self._detach(token)
            span.end()
        return value

    def skipped(self, task_id: str, reason: str, at: float) -> None:
        """A zero-length span for a task that never ran because an upstream one failed."""
        stamp = int(at * 1e9)
        span = self._tracer.start_span(
            task_id,
            context=self._context,
            start_time=stamp,
            attributes={
                "astrum.run_id": self._run_id,
                "astrum.task_id": task_id,
                "astrum.attempt": 0,
                "astrum.status": "skipped",
                "astrum.skip_reason": reason,
            },
        )
        span.end(end_time=stamp)


def _status(error: str | None = None) -> Any:
    """An OK span status, or an ERROR one described by ``error``."""
    from opentelemetry.trace import Status, StatusCode

    return Status(StatusCode.OK) if error is None else Status(StatusCode.ERROR, error)
