"""The record of one registered task: what ``@task`` wrote down, and nothing more.

It lives in the build package because every build step reads it; the
registry (:mod:`astrum._registry`) makes these records and hands them to the
build. Public as :class:`astrum.RegisteredTask`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from astrum._build._declared import Declared, declared
from astrum._build._markers import TaskData
from astrum._build._plan import DEFAULT_OPTIONS, TaskOptions

__all__ = ["RegisteredTask"]


@dataclass(frozen=True)
class RegisteredTask:
    """What ``@task`` recorded about one function."""

    task_id: str
    function: Callable[..., Any]
    depends_on: tuple[str, ...]
    retry: int
    data: TaskData | None = None
    options: TaskOptions = DEFAULT_OPTIONS

    @cached_property
    def declared(self) -> Declared:
        """What the function says by itself, read by the first build that needs it.

        Registration stays cheap (a workflow of thousands of tasks registers
        them all at import), and later builds, of this registry or of a copy
        of this record, read it from here. It is a fact about the function
        alone, the same whenever it is read, so keeping it does not change
        the record; a run never reads or writes it.
        """
        return declared(self.task_id, self.function)
