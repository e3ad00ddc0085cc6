"""What crosses a process boundary: a body called in a worker, and what comes back.

Bodies sent to a process pool or a Dask worker go through :func:`run_remote`,
which sends back an :class:`Outcome`: the value or the exception (with the
remote traceback) and where it ran, pickled so that a value that cannot be
pickled becomes a clear error naming the task instead of a broken pool. Both
the run's process pools (:mod:`astrum._run._executors`) and its Dask session
(:mod:`astrum._run._dask`) use this module, so neither imports the other's
machinery for it.
"""

from __future__ import annotations

import os
import pickle
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from astrum._run._report import message
from astrum.executors import SerializationError

__all__ = ["Outcome", "RemoteTraceback", "describe_unpicklable", "run_remote", "unsendable"]


def unsendable(task_id: str, place: str, problem: str) -> SerializationError:
    """The error for a call that cannot be pickled to where it should run."""
    return SerializationError(
        f"Task '{task_id}' cannot be sent to {place}: {problem}. Pass plain data between "
        "such tasks (built-in types, dataclasses, anything pickle takes), define the "
        "function at module level, or run this task with executor='thread'."
    )


def describe_unpicklable(
    function: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    dumps: Callable[[Any], Any],
) -> str | None:
    """Which part of a call ``dumps`` cannot pickle, in words, or None when all of it can."""
    parts: list[tuple[str, Any]] = [(f"its function {_name_of(function)}", function)]
    parts += [(f"positional argument {number}", value) for number, value in enumerate(args, 1)]
    parts += [(f"parameter '{name}'", value) for name, value in kwargs.items()]
    for label, value in parts:
        try:
            dumps(value)
        except Exception as exc:  # noqa: BLE001 - pickling fails with many exception types
            return f"{label} (of type {_type_name(value)}) cannot be pickled: {message(exc)}"
    return None


# -- the remote side -------------------------------------------------------------


class Outcome:
    """What a body run in another process sends back.

    Exactly one of ``value``, ``error`` and ``problem`` matters: the value, the
    exception the body raised, or why either could not be pickled. ``worker``
    says where it ran.
    """

    __slots__ = ("error", "problem", "trace", "value", "worker")

    def __init__(
        self,
        value: Any = None,
        error: BaseException | None = None,
        *,
        trace: str = "",
        worker: str | None = None,
        problem: str | None = None,
    ) -> None:
        self.value = value
        self.error = error
        self.trace = trace
        self.worker = worker
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:
        # The payload is pickled here, by itself, so that a failure is caught and
        # described instead of breaking the pool or the cluster's connection.
        failed = self.error is not None
        try:
            payload = _dumps(self.error if failed else self.value)
        except Exception as exc:  # noqa: BLE001 - pickling fails with many exception types
            culprit = self.error if failed else self.value
            if self.error is not None:
                problem = (
                    f"raised {_type_name(culprit)}: {message(self.error)}; that exception "
                    f"cannot be pickled ({message(exc)})"
                )
            else:
                problem = (
                    f"returned a value of type {_type_name(culprit)} that cannot be pickled "
                    f"({message(exc)})"
                )
            return (_failed_outcome, (problem, self.trace, self.worker))
        return (_load_outcome, (payload, failed, self.trace, self.worker))


def run_remote(
    function: Callable[..., Any],
    args: list[Any],
    kwargs: dict[str, Any],
    where: Literal["dask", "process"],
) -> Outcome:
    """Call ``function`` in a worker; never raises for an ``Exception`` of the body."""
    # Arguments that were Dask futures arrive as the outcome their task stored.
    args = [value.value if type(value) is Outcome else value for value in args]
    kwargs = {
        name: value.value if type(value) is Outcome else value for name, value in kwargs.items()
    }
    if where == "dask":
        from distributed import get_worker

        worker: str = get_worker().address
    else:
        worker = f"pid {os.getpid()}"
    try:
        value = function(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the body's error travels back inside the outcome
        return Outcome(error=exc, trace="".join(traceback.format_exception(exc)), worker=worker)
    return Outcome(value, worker=worker)


class RemoteTraceback(Exception):  # noqa: N818 - not an error: the cause line of one
    """Carries the traceback text of a body that failed in another process."""

    def __init__(self, trace: str) -> None:
        super().__init__(trace)
        self.trace = trace

    def __str__(self) -> str:
        return f'\n"""\n{self.trace}"""'


def _load_outcome(payload: bytes, failed: bool, trace: str, worker: str | None) -> Outcome:
    try:
        # Trusted: the payload is what our own worker pickled a moment ago.
        loaded = pickle.loads(payload)  # noqa: S301
    except Exception as exc:  # noqa: BLE001 - unpickling fails with many exception types
        what = "raised an exception" if failed else "returned a value"
        problem = f"{what} that cannot be unpickled here ({message(exc)})"
        return Outcome(trace=trace, worker=worker, problem=problem)
    if failed:
        return Outcome(error=loaded, trace=trace, worker=worker)
    return Outcome(loaded, trace=trace, worker=worker)


def _failed_outcome(problem: str, trace: str, worker: str | None) -> Outcome:
    return Outcome(trace=trace, worker=worker, problem=problem)


def _dumps(value: Any) -> bytes:
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        try:
            # Dask's workers have cloudpickle, which also takes lambdas and local classes.
            import cloudpickle  # type: ignore[import-untyped]  # it ships no type hints
        except ImportError:
            cloudpickle = None
        if cloudpickle is None:
            raise
        result: bytes = cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        return result


def _name_of(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", None) or type(function).__name__


def _type_name(value: object) -> str:
    return type(value).__qualname__
