"""uvicorn's sans-I/O WebSocket protocol, holding less per idle connection.

`copygate serve` keeps thousands of mostly idle EA sockets open. uvicorn's
`WebSocketsSansIOProtocol` keeps, for each, an `asyncio.Queue` for inbound events
(four deques, ≈ 3 KiB, for a queue that never holds more than a message or two:
reading pauses after each message), an `asyncio.Event` for write back-pressure
(one more deque) and the parsed handshake request and response (their headers,
≈ 3 KiB) for the life of the connection. `LeanWebSocketProtocol` replaces the two
synchronisation objects with slotted equivalents of the same behaviour and drops
the handshake once the connection is accepted; the frames on the wire are
uvicorn's and websockets' own (same handshake, same limits, same close codes).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["Inbox", "LeanWebSocketProtocol", "Writable", "received_waiting"]


class Inbox:
    """A FIFO of ASGI receive events with one reader (what uvicorn uses of `asyncio.Queue`)."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []  #: events not read yet, oldest first
        self._waiter: asyncio.Future[None] | None = None  #: the reader waiting, if any

    def put_nowait(self, item: Any) -> None:
        """Append an event and wake the reader."""
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        """Whether no event is waiting to be read."""
        return not self._items

    async def get(self) -> Any:
        """The oldest event, waiting for one if there is none (one reader at a time)."""
        while not self._items:
            if self._waiter is not None:
                raise RuntimeError("Inbox.get is already awaited by another reader")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class Writable:
    """Write back-pressure: set while the transport accepts data (an `asyncio.Event`)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True  #: whether writers may go on
        self._waiters: list[asyncio.Future[None]] = []  #: writers waiting for `set`

    def is_set(self) -> bool:
        """Whether writers may go on."""
        return self._set

    def set(self) -> None:
        """Let writers go on, waking the waiting ones."""
        self._set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        """Make writers wait (the transport's buffer is full)."""
        self._set = False

    async def wait(self) -> bool:
        """Return at once when set, else when `set` is called."""
        if self._set:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """`WebSocketsSansIOProtocol` with a lean inbox and back-pressure flag, no kept handshake."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Writable()  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        """uvicorn's `send`; once the handshake response is written, forget the handshake."""
        await super().send(message)
        if self.handshake_complete and getattr(self, "response", None) is not None:
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]


def received_waiting(websocket: Any) -> bool:
    """Whether a Starlette `WebSocket` served by uvicorn's sans-I/O protocol (ours or
    uvicorn's own) has another event received and waiting, so `receive()` answers
    without waiting (False under any other server, e.g. a test client: frames are
    then read one at a time)."""
    protocol = getattr(getattr(websocket, "_receive", None), "__self__", None)
    return isinstance(protocol, WebSocketsSansIOProtocol) and not protocol.queue.empty()
