"""`GET /ea-gateway/v1/stream`: the WebSocket pump.

It moves frames between the socket, the session protocol and the store, and
nothing else: every rule lives in `gateway.protocol`. Oversized frames are
refused by the server itself (close 1009, `ws_max_size`), and
permessage-deflate is disabled at the server.

A connection costs one task: the ASGI task that reads its frames. Account events
reach it through a callback (`EventBus.listen`) that only requests a flush; the
grace period is a `loop.call_later` handle; flushes are done in batches by the
process's `FlushBatcher` (`gateway.transport.flush`). A close announced by the
store (preemption, timeout) runs in a short-lived task of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from gateway.errors import CopierOverloaded, InvalidToken, StoreUnavailable
from gateway.protocol import Send, SessionProtocol
from gateway.sessions import Applied, SessionService
from gateway.transport.flush import FlushBatcher, Outlet
from gateway.transport.handoff import LocalConnections, covers
from gateway.uvicorn_ws import received_waiting
from schemas.codes import CloseCode, CloseReason, SessionState
from schemas.envelope import Envelope, encode_envelope

__all__ = ["SHUTDOWN_CHUNK", "WebSocketPump", "bearer_token"]

_log = logging.getLogger("copygate.ws")

#: `reconnect_after_s` announced when the store is unreachable.
STORE_RETRY_AFTER_S = 5.0
#: How long a new connection waits for the EA to report its ack_seq (InitRequest or
#: StatusHeartbeat) before it writes the backlog anyway.
READY_GRACE_S = 0.5

#: Effects of the frames one connection has already received that are applied at
#: once at most (a master's burst: each intent is two, its append and its Receipt).
MAX_EFFECTS_PER_APPLY = 512
#: Sockets `WebSocketPump.shutdown` closes concurrently.
SHUTDOWN_CHUNK = 500


def bearer_token(headers: Any) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class _Connection(Outlet):
    """One accepted socket and its session (the pump's per-connection state).

    Every write goes through a flush of the `FlushBatcher`, one flush at a time,
    in strictly increasing seq order: replies are numbered first, then the log is
    read, then both are written merged by seq. A new connection holds the backlog
    until the EA has said what it already processed (its first InitRequest or
    StatusHeartbeat, or a promotion while connected), so a reconnecting EA is
    re-sent exactly what it has not processed; it waits at most `READY_GRACE_S`,
    and a reply that must go out earlier (an ErrorAlert, a close) flushes the
    backlog ahead of it, in order.
    """

    __slots__ = ("grace", "pump")

    def __init__(self, websocket: WebSocket, proto: SessionProtocol, pump: WebSocketPump) -> None:
        super().__init__(websocket, proto, pump.batcher)
        self.pump = pump  #: the endpoint (store access, close tasks)
        self.grace: asyncio.TimerHandle | None = None  #: ends the ready grace period

    @property
    def websocket(self) -> WebSocket:
        """The Starlette socket."""
        socket: WebSocket = self.socket  # type: ignore[assignment]
        return socket

    def on_event(self, event: dict[str, Any]) -> None:
        """An event of the account (called by the event bus, synchronously)."""
        if self.closed:
            return
        kind = event.get("kind")
        mine = event.get("session_id") == self.proto.session_id
        if kind == "closed":
            if mine and self.proto.state is not SessionState.CLOSED:  # else: closed here
                self.pump.spawn(self.pump.closed_by_store(self, event.get("reason")))
        elif kind == "promoted" and mine:
            self.proto.mark_authenticated()
            self.request(reported=True, wake=True)
        elif kind == "deliver":
            seq = event.get("seq")
            if covers(seq, sent_upto=self.sent_upto, handing=self.handing):
                return  # written already, or being claimed (a local handoff)
            if isinstance(seq, int) and not isinstance(seq, bool):
                self.request(announced=seq)  # no read if a handoff writes it first
            else:
                self.request(wake=True)
        elif kind in ("resync", "promoted"):
            self.request(wake=True)

    def on_grace(self) -> None:
        """The grace period ended: write the backlog even if the EA has not reported."""
        self.grace = None
        self.request(force=True)

    def stop_grace(self) -> None:
        """Cancel the grace timer, if it is still pending."""
        if self.grace is not None:
            self.grace.cancel()
            self.grace = None

    async def close(self, code: int, notice: Sequence[bytes] = ()) -> None:
        """Close once: wait for the flush in progress, write `notice` frames, close."""
        if self.closed:
            return
        self.closed = True
        self.stop_grace()
        with contextlib.suppress(Exception):
            await self.settled()
        if self.websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                for frame in notice:
                    await self.websocket.send_text(frame.decode())
                await self.websocket.close(code)


class WebSocketPump:
    """The ASGI WebSocket endpoint."""

    def __init__(self, service: SessionService, registry: set[Any]) -> None:
        self.service = service  #: session service
        self.registry = registry  #: live connections of this node (for shutdown)
        self.batcher = FlushBatcher(service, self._flush_failed)  #: batched flushes
        #: this node's connections by account: the `LocalDelivery` of the local handoff
        self.local = LocalConnections(lambda: service.store.delivery, self.batcher)
        self._tasks: set[asyncio.Task[None]] = set()  #: close tasks started by events

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
        conn = _Connection(websocket, proto, self)
        self.registry.add(conn)
        try:
            await self._run(conn)
        finally:
            self.registry.discard(conn)

    def spawn(self, coro: Any) -> None:
        """Run `coro` in a task the pump keeps until it ends (event-driven closes)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, conn: _Connection) -> None:
        listener = self.service.store.bus.listen(conn.proto.account_id, conn.on_event)
        try:
            await listener.ready()
            self.local.add(conn)
            conn.grace = asyncio.get_running_loop().call_later(READY_GRACE_S, conn.on_grace)
            await self._read(conn)
        except WebSocketDisconnect:
            pass
        except Exception:
            _log.exception("connection %s failed", conn.proto.session_id)
        finally:
            self.local.discard(conn)
            listener.close()
            conn.stop_grace()
            await conn.close(int(CloseCode.NORMAL))

    async def _read(self, conn: _Connection) -> None:
        telemetry = self.service.telemetry
        proto = conn.proto
        while not conn.closed:
            try:
                message = await conn.websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                conn.closed = True
                return
            data = _frame(message)
            if telemetry.spans:  # one span per message, current while it is applied
                started_ns = time.time_ns()
                effects = proto.receive_frame(data, self.service.clock())
                with telemetry.message_span(
                    "websocket",
                    proto.account_id,
                    proto.last_message_type,
                    start_time_ns=started_ns,
                ):
                    if await self._apply(conn, effects):
                        return
                continue
            # every frame already received, applied together: one connection's
            # consecutive intents and reports are appended in one round trip
            now = self.service.clock()
            effects = proto.receive_frame(data, now)
            telemetry.count_message(proto.last_message_type)
            while received_waiting(conn.websocket) and len(effects) < MAX_EFFECTS_PER_APPLY:
                try:
                    message = await conn.websocket.receive()
                except (WebSocketDisconnect, RuntimeError):
                    message = {"type": "websocket.disconnect"}
                if message["type"] == "websocket.disconnect":
                    conn.closed = True
                    break
                effects += proto.receive_frame(_frame(message), now)
                telemetry.count_message(proto.last_message_type)
            if await self._apply(conn, effects) or conn.closed:
                return

    async def _apply(self, conn: _Connection, effects: list[Any]) -> bool:
        """Run effects; True when the connection is finished."""
        try:
            applied = await self.service.apply(conn.proto, effects)
            closing = applied.close is not None
            await conn.deliver(
                applied.outgoing,
                acked=applied.acked,
                reported=applied.reported or applied.promoted,
                force=closing,
                wake=applied.promoted,
            )
        except StoreUnavailable as exc:
            await self._close_store_unavailable(conn, exc)
            return True
        except CopierOverloaded as exc:
            await self._refuse_overloaded(conn, exc)
            return True
        if applied.close is None:
            return False
        await conn.close(int(applied.close.code))
        return True

    async def _refuse_overloaded(self, conn: _Connection, exc: CopierOverloaded) -> None:
        """An OrderIntent was refused (copier backlog full): tell the EA, then close 1008.

        No Receipt was written, so the EA still holds the intent; it reconnects after
        backing off (1008: rate limit) and sends its unconfirmed intents again first,
        in order. Nothing after the refused intent is read on this connection.
        """
        effects = conn.proto.refuse_overloaded(
            exc.ref_id, str(exc), exc.retry_after_ms, self.service.clock()
        )
        before = exc.applied.outgoing if isinstance(exc.applied, Applied) else []
        applied = await self.service.apply(conn.proto, effects)
        await conn.deliver([*before, *applied.outgoing], force=True)
        await conn.close(int(CloseCode.POLICY_VIOLATION))

    async def closed_by_store(self, conn: _Connection, reason: str | None) -> None:
        """The store closed the session (preempted, timed out, ...): notice + close code."""
        effects = conn.proto.close(
            CloseReason(reason or CloseReason.PREEMPTED), self.service.clock()
        )
        with contextlib.suppress(Exception):
            await self._apply(conn, effects)

    def _flush_failed(self, outlet: Outlet, exc: BaseException) -> None:
        """A flush nobody awaited failed (an event's or the grace timer's)."""
        assert isinstance(outlet, _Connection)
        if isinstance(exc, StoreUnavailable):
            self.spawn(self._close_store_unavailable(outlet, exc))
        else:
            _log.error("flush of %s failed", outlet.proto.session_id, exc_info=exc)
            self.spawn(outlet.close(int(CloseCode.NORMAL)))

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
        await conn.close(int(CloseReason.STORE_UNAVAILABLE.close_code), frames)

    async def shutdown(self, reconnect_after_s: float) -> None:
        """Server shutdown: one ShutdownNotice (with a seq) + 4004 to every connection.

        In batches, not one connection at a time: every session is closed by the
        protocol first (so the store's own `closed` event for it finds it closed and
        sends nothing: exactly one notice each), then in the store with `close_many`
        (one script call per `CLOSE_MANY_CHUNK`), then every notice is numbered in
        one flush round (`outbound_many`), and the sockets are closed concurrently,
        `SHUTDOWN_CHUNK` at a time. If the store is unreachable, each EA gets its
        notice without a seq (the one case, with the store-unavailable notice,
        where a server message has none).
        """
        now = self.service.clock()
        closing: list[tuple[_Connection, list[Envelope]]] = []
        for conn in list(self.registry):
            effects = conn.proto.close(
                CloseReason.SERVER_SHUTDOWN, now, reconnect_after_s=reconnect_after_s
            )
            if effects:
                closing.append((conn, [e.envelope for e in effects if isinstance(e, Send)]))
        if not closing:
            return
        try:
            await self.service.close_many(
                [conn.proto.session_id for conn, _ in closing], CloseReason.SERVER_SHUTDOWN
            )
        except StoreUnavailable as exc:  # the sockets are closed all the same
            _log.warning("store unavailable at shutdown: %s", exc)
        for conn, notices in closing:
            conn.stop_grace()
            conn.request(notices, force=True)  # numbered and written by one flush round
        # registered before that round runs, so its failure comes back here
        flushes = [conn.flushed() for conn, _ in closing]
        code = int(CloseReason.SERVER_SHUTDOWN.close_code)
        for start in range(0, len(closing), SHUTDOWN_CHUNK):
            await asyncio.gather(
                *(
                    _notice_then_close(conn, code, notices, flushed)
                    for (conn, notices), flushed in zip(
                        closing[start : start + SHUTDOWN_CHUNK],
                        flushes[start : start + SHUTDOWN_CHUNK],
                        strict=True,
                    )
                )
            )


async def _notice_then_close(
    conn: _Connection,
    code: int,
    notices: list[Envelope],
    flushed: asyncio.Future[None] | None,
) -> None:
    """Wait for the flush that writes the notice (`close` would cancel it), then close.

    If the store could not number the notice, it goes out without a seq (like the
    store-unavailable notice: none can be handed out without the store).
    """
    try:
        if flushed is not None:
            await flushed
    except StoreUnavailable:
        await conn.close(code, [encode_envelope(notice) for notice in notices])
        return
    except Exception:  # the socket is closed all the same
        _log.debug("shutdown flush of %s failed", conn.proto.session_id, exc_info=True)
    await conn.close(code)


def _frame(message: Any) -> str | bytes:
    """The data of an ASGI ``websocket.receive`` event."""
    data = message.get("text")
    return data if data is not None else message.get("bytes") or b""
