"""Where sync task bodies can run besides the loop and the run's threads.

:class:`DaskExecutor` sends plain ``def`` task bodies to a Dask distributed
cluster: an embedded ``LocalCluster`` created for the run and closed after it,
or a cluster that already runs (``address=`` or ``client=``), which Astrum
leaves running. Importing this module never imports Dask; it is needed only
when a run starts (``pip install 'astrum[dask]'``).

>>> from astrum import AstrumConfig
>>> from astrum.executors import DaskExecutor
>>> config = AstrumConfig(executor=DaskExecutor())  # doctest: +SKIP
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from astrum._errors import SchedulerError

__all__ = ["DaskExecutor", "SerializationError", "WorkerLostError"]

_INSTALL_HINT = "pip install 'astrum[dask]'"


class WorkerLostError(SchedulerError, RuntimeError):
    """The process running a task died (a Dask worker, or a process of the run's pool).

    It is an ordinary failure of that attempt: the task's ``retry`` policy applies,
    so ``retry_on=WorkerLostError`` retries only lost workers. ``worker`` is the
    lost worker's address when it is known.
    """

    def __init__(self, message: str, worker: str | None = None) -> None:
        super().__init__(message)
        self.worker = worker


class SerializationError(SchedulerError, TypeError):
    """An argument, result or exception of a task could not be pickled to or from its worker."""


@dataclass(frozen=True, eq=False)
class DaskExecutor:
    """Run sync task bodies on a Dask distributed cluster.

    With no arguments each run starts a ``LocalCluster`` on this machine (one
    single-threaded worker process per core unless ``n_workers`` and
    ``threads_per_worker`` say otherwise; ``cluster_options`` go to
    ``LocalCluster``) and closes it when the run ends. ``address`` connects to
    a running scheduler and ``client`` reuses a connected ``distributed.Client``;
    in both cases the cluster stays up after the run.

    >>> DaskExecutor(address="tcp://scheduler:8786").address
    'tcp://scheduler:8786'
    """

    address: str | None = None
    client: Any = field(default=None, kw_only=True)
    n_workers: int | None = field(default=None, kw_only=True)
    threads_per_worker: int = field(default=1, kw_only=True)
    cluster_options: Mapping[str, Any] = field(default_factory=dict, kw_only=True)

    def __post_init__(self) -> None:
        if self.address is not None and self.client is not None:
            raise ValueError(
                "DaskExecutor takes address= or client=, not both; the client already "
                "knows its scheduler's address."
            )
        if self.address is not None and not isinstance(self.address, str):
            raise TypeError(
                "DaskExecutor(address=...) must be the scheduler's address as a string, "
                f"such as 'tcp://127.0.0.1:8786', got {type(self.address).__name__}."
            )
        for name in ("n_workers", "threads_per_worker"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value < 1):
                raise ValueError(
                    f"DaskExecutor({name}=...) must be a positive integer, got {value!r}."
                )
        if self.client is None:
            require_dask("DaskExecutor")
        elif not _looks_like_client(self.client):
            raise TypeError(
                "DaskExecutor(client=...) must be a distributed.Client, "
                f"got {type(self.client).__name__}."
            )

    @property
    def owns_cluster(self) -> bool:
        """True when each run starts and stops its own local cluster."""
        return self.address is None and self.client is None

    def __repr__(self) -> str:
        if self.client is not None:
            return f"DaskExecutor(client={self.client!r})"
        if self.address is not None:
            return f"DaskExecutor(address={self.address!r})"
        return "DaskExecutor()"


def require_dask(what: str) -> None:
    """Raise ``ImportError`` naming the extra when Dask distributed is not installed."""
    if sys.modules.get("distributed") is not None:
        return
    import importlib.util  # here: importing astrum does without it

    if "distributed" not in sys.modules and importlib.util.find_spec("distributed") is not None:
        return
    raise ImportError(
        f"{what} needs Dask distributed, which is not installed; install it with {_INSTALL_HINT}."
    )


def _looks_like_client(value: object) -> bool:
    # Checked without importing Dask: whoever holds a Client has imported it already.
    module = sys.modules.get("distributed")
    return module is not None and isinstance(value, module.Client)
