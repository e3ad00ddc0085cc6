"""A task's arguments: upstream values, run-time inputs, providers, and the part a locator names.

Methods of :class:`~astrum._run._run.Run`, written as functions of the run and
bound in its class body (a call costs what a method call costs);
:class:`~astrum._run._maprun.DynamicRun` overrides ``_value`` for maps and
defaults.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from astrum._build._plan import Binding, TaskSpec
from astrum._run._state import RunState

__all__ = ["TransportError", "arguments", "located", "provided", "value"]


class TransportError(LookupError):
    """An upstream value lacks the key, attribute or index a binding asks for."""


def arguments(run: RunState, spec: TaskSpec) -> tuple[list[Any], dict[str, Any]] | None:
    """The task's arguments, or None when a provider feeds one (see :func:`provided`).

    Not a coroutine: most tasks take only upstream values and inputs, and
    a coroutine per task would cost them a frame for nothing.
    """
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    values = run.values
    for binding in spec.bindings:
        if binding.provider is not None:
            return None
        source = binding.source
        if source is not None and binding.locator is None and binding.mode is None:
            value = values[source]  # the usual upstream value, as _value would give it
        else:
            value = run._value(spec, binding)
        if binding.positional:
            args.append(value)
        else:
            kwargs[binding.param] = value
    return args, kwargs


async def provided(run: RunState, spec: TaskSpec) -> tuple[list[Any], dict[str, Any]]:
    """The arguments of a task some of whose values come from providers (maybe async)."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for binding in spec.bindings:
        if binding.provider is None:
            value = run._value(spec, binding)
        else:
            value = binding.provider()
            if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
                value = await value
            if binding.locator is not None:
                value = located(spec, binding, value)
        if binding.positional:
            args.append(value)
        else:
            kwargs[binding.param] = value
    return args, kwargs


def value(run: RunState, spec: TaskSpec, binding: Binding) -> Any:
    """The value of a binding from a run-time input or an upstream task."""
    if binding.input_name is not None:
        return run._inputs.get(binding.input_name, binding.default)
    assert binding.source is not None
    value = run.values[binding.source]
    return value if binding.locator is None else located(spec, binding, value)


def located(spec: TaskSpec, binding: Binding, value: Any) -> Any:
    """The key, attribute or index of ``value`` that ``binding.locator`` names."""
    locator = binding.locator
    try:
        if isinstance(locator, int):
            return value[locator]
        if isinstance(value, Mapping):
            return value[locator]
        assert locator is not None
        return getattr(value, locator)
    except (LookupError, AttributeError, TypeError) as exc:
        origin = (
            f"task '{binding.source_id}'"
            if binding.provider is None
            else "its from_function provider"
        )
        what = f"index {locator}" if isinstance(locator, int) else f"key or attribute {locator!r}"
        raise TransportError(
            f"Task '{spec.task_id}' could not get parameter '{binding.param}' from "
            f"{origin}: its value of type {type(value).__name__} has no {what}."
        ) from exc
