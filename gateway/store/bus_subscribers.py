"""The two kinds of event-bus subscriber: a `Listener` (a callback) and a `Subscription`
(an async iterator over its own queue). See `gateway.store.event_bus`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.store.event_bus import RedisEventBus

__all__ = ["RESYNC", "Listener", "Subscription"]

logger = logging.getLogger("copygate.store.event_bus")  #: the bus's logger

#: Kind of the synthetic event that tells a subscriber to re-read its state.
RESYNC = "resync"


class Listener:
    """The events of one account, handed to a callback as they arrive; close it when done.

    Created by `RedisEventBus.listen`. The callback runs synchronously in the bus's
    reader: it must not block (set a flag, schedule work). An exception it raises
    is logged and does not reach other subscribers.
    """

    __slots__ = ("_bus", "_callback", "_channel", "_closed", "account_id")

    def __init__(
        self,
        bus: RedisEventBus,
        account_id: str,
        channel: bytes,
        callback: Callable[[dict[str, Any]], None],
    ) -> None:
        self.account_id = account_id  #: the account whose events these are
        self._bus = bus  #: the bus that feeds this listener
        self._channel = channel  #: the Redis channel
        self._callback = callback  #: called with each event
        self._closed = False  #: whether close() was called

    async def ready(self) -> None:
        """Wait until Redis confirmed the channel subscription (see `Subscription.ready`)."""
        await self._bus._wait_ready(self._channel)

    def close(self) -> None:
        """Stop receiving; the callback is not called any more."""
        if not self._closed:
            self._closed = True
            self._bus._remove(self)

    def _deliver(self, event: dict[str, Any], limit: int) -> None:
        if self._closed:
            return
        try:
            self._callback(event)
        except Exception:
            logger.exception("event listener of %s failed", self.account_id)


class Subscription:
    """The events of one account, as an async iterator; close it when done.

    Created by `RedisEventBus.subscribe`. Iteration ends after `close` (or when the
    bus closes). Use ``async with bus.subscribe(a) as events:`` to close it surely.
    """

    def __init__(self, bus: RedisEventBus, account_id: str, channel: bytes) -> None:
        #: the account whose events these are
        self.account_id = account_id
        #: the bus that feeds this subscription
        self._bus = bus
        #: the Redis channel
        self._channel = channel
        #: events not yet consumed; None marks the end
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        #: whether close() was called
        self._closed = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return event

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def ready(self) -> None:
        """Wait until Redis confirmed the channel subscription.

        Events published after this returns are delivered. Subscribe, await
        `ready`, then read the state: nothing published in between is missed.
        """
        await self._bus._wait_ready(self._channel)

    def close(self) -> None:
        """Stop receiving; a pending or later `__anext__` ends the iteration."""
        if not self._closed:
            self._closed = True
            self._bus._remove(self)
            self._queue.put_nowait(None)

    async def aclose(self) -> None:
        """Same as `close` (for `contextlib.aclosing`)."""
        self.close()

    def _deliver(self, event: dict[str, Any], limit: int) -> None:
        if self._closed:
            return
        if self._queue.qsize() >= limit:
            while not self._queue.empty():
                self._queue.get_nowait()
            event = {"kind": RESYNC}
        self._queue.put_nowait(event)
