"""A live progress display for one run, built on the run's events.

``AstrumConfig(progress=True)`` gives every run its own :class:`ProgressDisplay`
listener. On a terminal it draws a Rich progress bar with the done, running
and failed counts, the elapsed time and the tasks running now; whatever tasks
print appears above it. Anywhere else (a pipe, a CI log, a file) it writes a
plain line when the run starts, when a task fails, at most every ``interval``
seconds while tasks finish, and when the run ends, so output is never garbled.
It writes to stderr by default, keeping stdout for the program's own output.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from astrum._views._render import VIZ_EXTRA_HINT, require_rich
from astrum._views._summary import plural, seconds
from astrum.events import Event

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

__all__ = ["ProgressDisplay", "display_for_run"]

_SHOWN_RUNNING = 5


class ProgressDisplay:
    """An ``on_event`` listener that shows one run's progress; make one per run.

    ``get_time`` is the clock for elapsed times (``time.monotonic`` by default);
    tests pass a fake one together with ``auto_refresh=False``. ``live`` forces
    the live display on or off; by default it is on when the console is a terminal.

    >>> display = ProgressDisplay(total=3)  # doctest: +SKIP
    >>> config = AstrumConfig(on_event=display)  # doctest: +SKIP
    """

    def __init__(
        self,
        total: int,
        console: Console | None = None,
        *,
        get_time: Callable[[], float] | None = None,
        auto_refresh: bool = True,
        interval: float = 5.0,
        live: bool | None = None,
    ) -> None:
        require_rich("The progress display")
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
        )

        self.total = total
        self.console = console or Console(stderr=True)
        self._clock = get_time or time.monotonic
        self._auto_refresh = auto_refresh
        self._interval = interval
        self._wants_live = self.console.is_terminal if live is None else live
        self.done = self.failed = self.cancelled = self.skipped = 0
        self.running: dict[str, float] = {}
        """The tasks running now, with the clock time each started, oldest first."""
        self._retrying: dict[str, int] = {}  # task -> the attempt it is on, once retried
        self.state: str | None = None
        self._started_at: float | None = None
        self._last_line = 0.0
        self._live: Live | None = None
        # The Progress only lays out the bar and keeps time; it is never started
        # itself, so it runs no thread: the Live below (if any) does the drawing.
        self._progress = Progress(
            TextColumn("[bold]run"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}", markup=False),
            TextColumn("{task.fields[elapsed]}", style="yellow", markup=False),
            console=self.console,
            get_time=self._clock,
            auto_refresh=False,
        )
        self._bar = self._progress.add_task("run", total=total, counts="", elapsed="")

    # -- the listener ----------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        kind, name = event.kind, event.task
        if kind == "run_started":
            self._start()
        elif kind == "run_finished":
            self.state = event.state
            if event.state == "completed":
                # Tasks that overrides made unnecessary never start: the run is whole anyway.
                self.total = self.finished + len(self.running)
                self._progress.update(self._bar, total=self.total)
            self.close()
        elif name is not None:
            if kind == "task_started":
                self.running[name] = self._clock()
                if self.finished + len(self.running) > self.total:
                    # The instances of mapped tasks are known only as their elements arrive.
                    self.total = self.finished + len(self.running)
                    self._progress.update(self._bar, total=self.total)
            elif kind == "attempt_failed" and event.will_retry:
                self._retrying[name] = event.attempt + 1
            elif kind in ("task_completed", "task_cached"):
                self.running.pop(name, None)
                self.done += 1
            elif kind == "task_failed":
                self.running.pop(name, None)
                self.failed += 1
                self._say(f"task {name} failed: {_error_text(event.error)}", "red")
            elif kind == "task_cancelled":
                self.running.pop(name, None)
                self.cancelled += 1
            elif kind == "task_skipped":
                self.skipped += 1
            self._update()

    # -- what is shown ---------------------------------------------------------------

    @property
    def finished(self) -> int:
        """Tasks that reached an outcome, whatever it was."""
        return self.done + self.failed + self.cancelled + self.skipped

    def counts_text(self) -> str:
        """``3 done · 2 running · 1 failed``, plus cancelled and skipped when there are some."""
        parts = [f"{self.done} done", f"{len(self.running)} running", f"{self.failed} failed"]
        extra = (("cancelled", self.cancelled), ("skipped", self.skipped))
        parts += [f"{count} {what}" for what, count in extra if count]
        return " · ".join(parts)

    def running_text(self) -> str:
        """The running tasks, longest-running first, each with how long it has run."""
        if not self.running:
            return ""
        now = self._clock()
        oldest = list(self.running.items())[:_SHOWN_RUNNING]
        shown = ", ".join(
            f"{name} ({seconds(now - began)}{self._attempt_note(name)})" for name, began in oldest
        )
        more = len(self.running) - len(oldest)
        return f"running: {shown}" + (f" and {more} more" if more else "")

    def _attempt_note(self, name: str) -> str:
        attempt = self._retrying.get(name)
        return f", attempt {attempt}" if attempt else ""

    def renderable(self) -> RenderableType:
        """What the live display draws now: the bar, counts and time, then the running tasks."""
        from rich.console import Group
        from rich.text import Text

        self._progress.update(
            self._bar,
            completed=self.finished,
            counts=self.counts_text(),
            elapsed=f"{self._elapsed():.1f} s",
        )
        parts: list[RenderableType] = [self._progress.make_tasks_table(self._progress.tasks)]
        running = self.running_text()
        if running:
            parts.append(Text(running, style="dim", no_wrap=True, overflow="ellipsis"))
        return Group(*parts)

    # -- lifecycle ---------------------------------------------------------------------

    def _start(self) -> None:
        self._started_at = self._last_line = self._clock()
        if self._wants_live:
            from rich.errors import LiveError
            from rich.live import Live

            live = Live(
                console=self.console,
                get_renderable=self.renderable,
                auto_refresh=self._auto_refresh,
                refresh_per_second=8,
            )
            try:
                live.start()
            except LiveError:  # another live display (say, a concurrent run) owns the console
                self._wants_live = False
            else:
                self._live = live
                return
        self._say(f"run started: {plural(self.total, 'task')}")

    def _update(self) -> None:
        if self._live is not None:
            if not self._auto_refresh:
                self._live.refresh()
        elif self._clock() - self._last_line >= self._interval:
            self._say(self._status_line())

    def close(self) -> None:
        """Stop the display; safe to call more than once and before the run started."""
        if self._started_at is None:
            return
        live, self._live = self._live, None
        if live is not None:
            live.refresh()
            live.stop()
        else:
            self._say(f"run {self.state or 'ended'}: {self._status_line()}")
        self._started_at = None

    def _elapsed(self) -> float:
        return 0.0 if self._started_at is None else self._clock() - self._started_at

    def _status_line(self) -> str:
        elapsed = seconds(self._elapsed())
        line = f"{self.finished}/{self.total} finished ({self.counts_text()}) in {elapsed}"
        running = self.running_text()
        return f"{line}; {running}" if running else line

    def _say(self, line: str, style: str | None = None) -> None:
        """One plain line, or a line printed above the live display."""
        self._last_line = self._clock()
        self.console.print(
            f"astrum: {line}", style=style, markup=False, highlight=False, soft_wrap=True
        )


def _error_text(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def display_for_run(total: int) -> ProgressDisplay | None:
    """A display for ``progress=True``; without rich, one warning naming the extra and None."""
    try:
        return ProgressDisplay(total)
    except ImportError:
        warnings.warn(
            "progress=True draws with rich, which is not installed; install it with "
            f"{VIZ_EXTRA_HINT}. The run goes on without a progress display.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
