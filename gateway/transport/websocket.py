"""`GET /ea-gateway/v1/stream`: the WebSocket pump.

It moves frames between the socket, the session protocol and the store, and
nothing else: every rule lives in `gateway.protocol`. Oversized frames are
refused by the server itself (close 1009, `ws_max_size`), and
permessage-deflate is disabled at the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from gateway.errors import InvalidToken, StoreUnavailable
from gateway.protocol import Send, SessionProtocol
from gateway.sessions import SessionService
from schemas.codes import CloseCode, CloseReason, SessionState
from schemas.envelope import Envelope, encode_envelope

__all__ = ["WebSocketPump", "bearer_token"]

_log = logging.getLogger("copygate.ws")

#: `reconnect_after_s` announced when the store is unreachable.
STORE_RETRY_AFTER_S = 5.0
#: How long a new connection waits for the EA to report its ack_seq (InitRequest or
#: StatusHeartbeat) before it writes the backlog anyway.
READY_GRACE_S = 0.5


def bearer_token(headers: Any) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class _Connection:
    """One accepted socket and its session (the pump's per-connection state).

    Every write goes through `deliver`, under one lock, in strictly increasing seq
    order: replies are numbered first, then the log is read, then both are written
    merged by seq. A new connection holds the backlog until the EA has said what it
    already processed (its first InitRequest or StatusHeartbeat, or a promotion
    while connected), so a reconnecting EA is re-sent exactly what it has not
    processed; it waits at most `READY_GRACE_S`, and a reply that must go out
    earlier (an ErrorAlert, a close) flushes the backlog ahead of it, in order.
    """

    def __init__(
        self, websocket: WebSocket, proto: SessionProtocol, service: SessionService
    ) -> None:
        self.websocket = websocket  #: the socket
        self.proto = proto  #: the session rules
        self.service = service  #: store access
        self.sent_upto = 0  #: highest seq this connection need not send (written or acked)
        self.ready = False  #: the EA has reported its ack_seq (or was promoted here)
        self.waiting: list[Envelope] = []  #: replies held until `ready`
        #: the log may hold something not written yet (set by `deliver`/`resync`/promotion
        #: events and at first; a heartbeat's ack alone never needs a log read)
        self.stale = True
        self.lock = asyncio.Lock()  #: one writer at a time
        self.closed = asyncio.Event()  #: set once the socket is closed by us or the peer

    async def deliver(
        self,
        replies: list[Envelope],
        *,
        acked: int | None = None,
        reported: bool = False,
        force: bool = False,
        wake: bool = False,
    ) -> None:
        """Write replies and every due logged message, in seq order.

        `acked` is the store's clamped acknowledged seq; `reported` says the EA has
        told what it processed (the connection is ready); `wake` says the log may
        have new entries (an event). With no reply to write and nothing announced
        since the last read, the log is not read again.
        """
        async with self.lock:
            if acked is not None:
                self.sent_upto = max(self.sent_upto, acked)
            self.stale = self.stale or wake
            self.ready = self.ready or reported
            self.waiting.extend(replies)
            if self.closed.is_set() or not (self.ready or force or self.waiting):
                return
            if not (self.stale or self.waiting or force):
                return
            self.ready, self.stale = True, False
            replies, self.waiting = self.waiting, []
            try:
                frames = await self.service.outbound(self.proto, replies, after_seq=self.sent_upto)
            except BaseException:
                self.stale = True  # not read after all
                raise
            for frame in frames:
                await self.websocket.send_text(frame.with_seq().decode())
                self.sent_upto = max(self.sent_upto, frame.seq)

    async def close(self, code: int) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        async with self.lock:
            if self.websocket.application_state is WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await self.websocket.close(code)


class WebSocketPump:
    """The ASGI WebSocket endpoint."""

    def __init__(self, service: SessionService, registry: set[Any]) -> None:
        self.service = service  #: session service
        self.registry = registry  #: live connections of this node (for shutdown)

    async def __call__(self, websocket: WebSocket) -> None:
        try:
            record = await self.service.resolve_token(bearer_token(websocket.headers))
        except InvalidToken:
            await websocket.accept()
            await websocket.close(int(CloseCode.AUTH_FAILED))
            return
        except StoreUnavailable:
            await websocket.accept()
            await websocket.close(int(CloseCode.SERVER_SHUTDOWN))
            return
        await websocket.accept()
        if record.state is SessionState.CLOSED:
            reason = CloseReason(record.closed_reason or CloseReason.PREEMPTED)
            await websocket.close(int(reason.close_code))
            return
        proto = await self.service.open_protocol(record)
        conn = _Connection(websocket, proto, self.service)
        self.registry.add(conn)
        try:
            await self._run(conn)
        finally:
            self.registry.discard(conn)

    async def _run(self, conn: _Connection) -> None:
        events = self.service.store.bus.subscribe(conn.proto.account_id)
        await events.ready()
        grace = asyncio.create_task(self._after_grace(conn))
        try:
            reader = asyncio.create_task(self._read(conn))
            watcher = asyncio.create_task(self._watch(conn, events))
            done, pending = await asyncio.wait(
                {reader, watcher}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for task in done:
                exc = task.exception()
                if exc is not None and not isinstance(exc, WebSocketDisconnect):
                    _log.error("connection task failed", exc_info=exc)
        finally:
            grace.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await grace
            await events.aclose()
            await conn.close(int(CloseCode.NORMAL))

    async def _after_grace(self, conn: _Connection) -> None:
        """Write the backlog if the EA has not reported its ack_seq in time."""
        await asyncio.sleep(READY_GRACE_S)
        try:
            await conn.deliver([], force=True)
        except StoreUnavailable as exc:
            await self._close_store_unavailable(conn, exc)

    async def _read(self, conn: _Connection) -> None:
        telemetry = self.service.telemetry
        while not conn.closed.is_set():
            try:
                message = await conn.websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                conn.closed.set()
                return
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            with telemetry.message_span("websocket", conn.proto.account_id) as span:
                effects = conn.proto.receive_frame(data, self.service.clock())
                telemetry.message_seen(span, conn.proto.last_message_type)
                if await self._apply(conn, effects):
                    return

    async def _apply(self, conn: _Connection, effects: list[Any]) -> bool:
        """Run effects; True when the connection is finished."""
        try:
            applied = await self.service.apply(conn.proto, effects)
            if applied.promoted:
                conn.ready = True
            closing = applied.close is not None
            await conn.deliver(
                applied.outgoing,
                acked=applied.acked,
                reported=applied.reported,
                force=closing,
                wake=applied.promoted,
            )
        except StoreUnavailable as exc:
            await self._close_store_unavailable(conn, exc)
            return True
        if applied.close is None:
            return False
        await conn.close(int(applied.close.code))
        return True

    async def _close_store_unavailable(self, conn: _Connection, exc: StoreUnavailable) -> None:
        """The store is down: tell the EA clearly and let it reconnect later.

        The ShutdownNotice carries no seq (none can be handed out without the store);
        it is the one server message that may lack one.
        """
        _log.warning("store unavailable, closing %s: %s", conn.proto.session_id, exc)
        effects = conn.proto.close(
            CloseReason.STORE_UNAVAILABLE,
            self.service.clock(),
            reconnect_after_s=STORE_RETRY_AFTER_S,
        )
        frames = [encode_envelope(e.envelope) for e in effects if isinstance(e, Send)]
        with contextlib.suppress(Exception):
            async with conn.lock:
                for frame in frames:
                    await conn.websocket.send_text(frame.decode())
        await conn.close(int(CloseReason.STORE_UNAVAILABLE.close_code))

    async def _watch(self, conn: _Connection, events: Any) -> None:
        async for event in events:
            kind = event.get("kind")
            if kind == "closed" and event.get("session_id") == conn.proto.session_id:
                reason = CloseReason(event.get("reason", CloseReason.PREEMPTED))
                effects = conn.proto.close(reason, self.service.clock())
                if await self._apply(conn, effects):
                    return
            elif kind == "promoted" and event.get("session_id") == conn.proto.session_id:
                conn.proto.mark_authenticated()
                conn.ready = True
                await conn.deliver([], wake=True)
            elif kind in ("deliver", "resync", "promoted"):
                await conn.deliver([], wake=True)
            if conn.closed.is_set():
                return

    async def shutdown(self, reconnect_after_s: float) -> None:
        """Server shutdown: ShutdownNotice + 4004 to every connection of this node."""
        for conn in list(self.registry):
            effects = conn.proto.close(
                CloseReason.SERVER_SHUTDOWN,
                self.service.clock(),
                reconnect_after_s=reconnect_after_s,
            )
            with contextlib.suppress(Exception):
                await self._apply(conn, effects)
