"""Single-flight for cache keys: concurrent runs compute one key once.

The flights of a store live on the store object itself (see :func:`flights_of`),
so two runs share them exactly when they share the store, and nothing global
keeps them. Runs may be on different event loops in different threads, so a
flight is a :class:`concurrent.futures.Future` and each waiter gets a future
of its own loop.

A flight lands when its leader settles, whatever the outcome; waiters then
look in the store again. A leader that failed or was cancelled stored
nothing, so the next waiter in line leads a flight of its own: one failure
never becomes every run's failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading

__all__ = ["SingleFlight", "flights_of"]

_ATTRIBUTE = "_astrum_flights"


class SingleFlight:
    """The keys being computed right now, each with the future that lands when it is done."""

    __slots__ = ("_flights", "_lock", "landings")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, concurrent.futures.Future[None]] = {}
        self.landings = 0
        """How many flights have landed: a leader that looked in the store before the last
        landing must look again, the value may have arrived in between."""

    def lead_or_follow(self, key: str) -> asyncio.Future[None] | None:
        """None when the caller now leads the flight of ``key`` (and must :meth:`land` it);
        otherwise a future of the running loop that is done when the leader lands."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is None:
                self._flights[key] = concurrent.futures.Future()
                return None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def landed(_: concurrent.futures.Future[None]) -> None:
            # RuntimeError: that run's loop is closed, so nobody waits any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_wake, waiter)

        flight.add_done_callback(landed)
        return waiter

    def land(self, key: str) -> None:
        """End the flight of ``key``: its followers look in the store again."""
        with self._lock:
            flight = self._flights.pop(key, None)
            self.landings += 1
        if flight is not None:
            flight.set_result(None)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # a follower whose task was cancelled stopped waiting
        waiter.set_result(None)


def flights_of(store: object) -> SingleFlight | None:
    """The flights of ``store``, kept on the store object; None if it cannot hold them."""
    try:
        attributes = vars(store)
    except TypeError:  # a store with __slots__: its runs compute concurrently, as before
        return None
    flights = attributes.get(_ATTRIBUTE)
    if flights is None:
        # setdefault is atomic, so two runs starting at once still share one.
        flights = attributes.setdefault(_ATTRIBUTE, SingleFlight())
    return flights if isinstance(flights, SingleFlight) else None
