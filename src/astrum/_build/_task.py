"""The record of one registered task: what ``@task`` wrote down, and nothing more.

It lives in the build package because every build step reads it; the
registry (:mod:`astrum._registry`) makes these records and hands them to the
build. Public as :class:`astrum.RegisteredTask`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from astrum._build._declared import Declared, declared
from astrum._build._markers import TaskData
from astrum._build._plan import TaskOptions

__all__ = ["RegisteredTask"]


@dataclass(frozen=True)
class RegisteredTask:
    """What ``@task`` recorded about one function."""

    task_id: str
    function: Callable[..., Any]
    depends_on: tuple[str, ...]
    retry: int
    data: TaskData | None = None
    options: TaskOptions = field(default_factory=TaskOptions)
    declared: Declared = field(init=False, repr=False, compare=False)
    """What the function says by itself, read now so that builds need not read it again."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "declared", declared(self.task_id, self.function))
