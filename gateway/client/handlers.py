"""Typed handlers and streams per message type (what `EAClient.on*` registers)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gateway.client.streams import MessageStream
from schemas.envelope import Envelope, OrderCommand
from schemas.messages import ExecutionReportPayload

__all__ = ["CommandHandler", "Handler", "Handlers"]

E = TypeVar("E", bound=Envelope)
#: A handler for one message type; may be sync or async.
Handler = Callable[[E], Awaitable[None] | None]
#: Executes an OrderCommand and returns its report (None: the handler reports itself).
CommandHandler = Callable[[OrderCommand], Awaitable[ExecutionReportPayload | None]]


class Handlers:
    """Registered callbacks and streams; `handle` runs them for one envelope, in order."""

    def __init__(self) -> None:
        self.by_type: dict[type[Envelope], list[Handler[Any]]] = {}  #: callbacks by type
        self.command: CommandHandler | None = None  #: executes OrderCommands
        self.streams: dict[type[Envelope], list[MessageStream[Any]]] = {}  #: streams by type

    def add(self, kind: type[E], handler: Handler[E]) -> Handler[E]:
        """Call `handler` for every new message of `kind` (Envelope = all)."""
        self.by_type.setdefault(kind, []).append(handler)
        return handler

    def stream(self, kind: type[E]) -> MessageStream[E]:
        """A new stream of `kind`."""
        stream = MessageStream(kind)
        self.streams.setdefault(kind, []).append(stream)
        return stream

    async def handle(self, envelope: Envelope) -> ExecutionReportPayload | None:
        """Run the command handler, the callbacks, then feed the streams and wait for them.

        Returns the command handler's report, if any.
        """
        report = None
        if isinstance(envelope, OrderCommand) and self.command is not None:
            report = await self.command(envelope)
        for kind, handlers in self.by_type.items():
            if isinstance(envelope, kind):
                for handler in handlers:
                    result = handler(envelope)
                    if result is not None:
                        await result
        waiting = [
            stream.feed(envelope)
            for kind, streams in self.streams.items()
            if isinstance(envelope, kind)
            for stream in streams
        ]
        if waiting:
            await asyncio.gather(*waiting)
        return report

    def close(self) -> None:
        """Release every stream."""
        for streams in self.streams.values():
            for stream in streams:
                stream.close()
