"""Every live registry, so that an error can say where else a function is a task.

Registries add themselves when they are made; the set holds them weakly, so a
registry nobody uses any more is forgotten. Typed against a Protocol so the
build stage, which reads this, need not import the registry.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from astrum._build._methods import plain_function

__all__ = ["registries_holding", "remember"]


class _Entry(Protocol):
    @property
    def function(self) -> Callable[..., Any]: ...


class _Registry(Protocol):
    name: str

    def get_all_tasks(self) -> Mapping[str, _Entry]: ...


_LIVE: weakref.WeakSet[Any] = weakref.WeakSet()


def remember(registry: _Registry) -> None:
    """Note a new registry."""
    _LIVE.add(registry)


def registries_holding(function: object) -> str:
    """``"registry 'orders'"`` for the registries that hold ``function`` as a task, or ``""``."""
    target = plain_function(function)
    registries: list[_Registry] = list(_LIVE)
    names = sorted(
        {
            registry.name
            for registry in registries
            for entry in registry.get_all_tasks().values()
            if plain_function(entry.function) is target
        }
    )
    if not names:
        return ""
    listed = ", ".join(f"'{name}'" for name in names)
    return f"registry {listed}" if len(names) == 1 else f"registries {listed}"
