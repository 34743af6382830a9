"""Async iterators over one message type, with "processed when you ask for the next"."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from schemas.envelope import Envelope

__all__ = ["MessageStream"]

E = TypeVar("E", bound=Envelope)


class MessageStream(Generic[E]):
    """Messages of one type, in order. Obtain it with `EAClient.messages(kind)`.

    A message counts as processed (and may be acknowledged) when the consumer asks
    for the next one, calls `done()`, or leaves the `async for`. The client hands
    out one message at a time, so a consumer that stops iterating holds back
    every later message of the session: consume, or `close()` the stream.
    """

    def __init__(self, kind: type[E]) -> None:
        self.kind = kind  #: the envelope class streamed
        self._queue: asyncio.Queue[tuple[E, asyncio.Future[None]]] = asyncio.Queue()  #: handed out
        self._current: asyncio.Future[None] | None = None  #: completion of the last item
        self.closed = False  #: no longer fed by the client

    def __aiter__(self) -> MessageStream[E]:
        return self

    async def __anext__(self) -> E:
        self.done()
        if self.closed:
            raise StopAsyncIteration
        envelope, future = await self._queue.get()
        self._current = future
        return envelope

    def done(self) -> None:
        """Mark the message last returned as processed."""
        if self._current is not None and not self._current.done():
            self._current.set_result(None)
        self._current = None

    def close(self) -> None:
        """Stop receiving; everything queued is released as processed."""
        self.closed = True
        self.done()
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_result(None)

    def feed(self, envelope: E) -> asyncio.Future[None]:
        """Client side: queue `envelope`; the future completes once it is processed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.closed:
            future.set_result(None)
        else:
            self._queue.put_nowait((envelope, future))
        return future
