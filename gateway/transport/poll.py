"""The EA's REST endpoints: session creation/closing and the `exchange` poll pump.

`POST /ea-gateway/v1/sessions/{session_id}/exchange` carries the same envelopes
and the same rules as the WebSocket (MT4's `WebRequest` cannot do WebSocket).
It answers at once when something is due, else holds up to `wait_ms` waiting
for a notification on the account's event channel (no polling loop).
"""

from __future__ import annotations

import asyncio
import time

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import FencingError
from gateway.http_errors import ApiError, error_response, json_response, read_body
from gateway.protocol import Send, SessionProtocol
from gateway.sessions import SessionService
from gateway.store.ports import EventSubscription
from gateway.store.records import LogEntry, SessionRecord
from gateway.transport.websocket import bearer_token
from schemas.codes import CloseReason, ErrorCode, SessionState
from schemas.envelope import Envelope, encode_envelope
from schemas.rest import ExchangeRequest, SessionCreateRequest

__all__ = ["SessionRoutes"]

_WAKE_KINDS = frozenset({"deliver", "promoted", "closed", "resync"})


def _closed_response(record: SessionRecord) -> Response:
    reason = record.closed_reason or CloseReason.PREEMPTED.value
    return error_response(410, reason, f"session {record.session_id} is closed ({reason})")


class SessionRoutes:
    """Handlers for the EA's REST endpoints."""

    def __init__(self, service: SessionService) -> None:
        self.service = service  #: session service

    async def create(self, request: Request) -> Response:
        """`POST /ea-gateway/v1/sessions` -> 201."""
        body = await read_body(request, SessionCreateRequest)
        client_addr = request.client.host if request.client else "unknown"
        with self.service.telemetry.tracer.start_as_current_span(
            "ea.session.create",
            attributes={
                "copygate.account_id": body.account_id,
                "copygate.auth_method": body.auth_method,
            },
        ) as span:
            created = await self.service.create(body, client_addr)
            span.set_attribute("copygate.session_state", created.state.value)
        return json_response(created.model_dump(mode="json"), status=201)

    async def _own_session(self, request: Request) -> SessionRecord:
        record = await self.service.resolve_token(bearer_token(request.headers))
        if record.session_id != request.path_params["session_id"]:
            raise ApiError(403, ErrorCode.FORBIDDEN, "the token belongs to another session")
        return record

    async def delete(self, request: Request) -> Response:
        """`DELETE /ea-gateway/v1/sessions/{session_id}`: the EA ends its own session.

        `POST /ea-gateway/v1/sessions/{session_id}/close` is the same operation for
        clients that cannot send DELETE (MT4's `WebRequest` knows GET/POST/HEAD only).
        """
        record = await self._own_session(request)
        if record.state is SessionState.CLOSED:
            return _closed_response(record)
        proto = await self.service.open_protocol(record)
        effects = proto.close(CloseReason.CLIENT_SHUTDOWN, self.service.clock())
        notices = [e.envelope for e in effects if isinstance(e, Send)]
        await self.service.close(record.session_id, CloseReason.CLIENT_SHUTDOWN)
        seq = await self.service.store.delivery.next_seq(record.account_id)
        messages = [
            orjson.loads(encode_envelope(n.model_copy(update={"seq": seq}))) for n in notices
        ]
        return json_response(
            {"session_id": record.session_id, "state": "closed", "messages": messages}
        )

    async def exchange(self, request: Request) -> Response:
        """`POST /ea-gateway/v1/sessions/{session_id}/exchange`."""
        record = await self._own_session(request)
        if record.state is SessionState.CLOSED:
            return _closed_response(record)
        body = await read_body(request, ExchangeRequest)
        proto = await self.service.open_protocol(record)
        events = None
        if body.wait_ms > 0:  # subscribe before reading, so nothing slips in between
            events = self.service.store.bus.subscribe(record.account_id)
            await events.ready()
        try:
            return await self._exchange(proto, body, events)
        except FencingError:
            fresh = await self.service.store.sessions.get_session(record.session_id)
            return _closed_response(fresh or record)
        finally:
            if events is not None:
                await events.aclose()

    async def _exchange(
        self, proto: SessionProtocol, body: ExchangeRequest, events: EventSubscription | None
    ) -> Response:
        replies: list[Envelope] = []
        telemetry = self.service.telemetry
        max_bytes = self.service.settings.max_frame_bytes
        for message in body.messages:
            started_ns = time.time_ns()
            try:
                size = len(orjson.dumps(message))
            except TypeError:  # nested deeper than a JSON encoder goes (the parser allows more)
                effects = proto.reject_object(
                    message,
                    ErrorCode.MALFORMED_JSON,
                    "message nested too deeply",
                    self.service.clock(),
                )
            else:
                if size > max_bytes:
                    effects = proto.reject_too_large(message, max_bytes, self.service.clock())
                else:
                    effects = proto.receive_object(message, self.service.clock())
            with telemetry.message_span(
                "poll", proto.account_id, proto.last_message_type, start_time_ns=started_ns
            ):
                applied = await self.service.apply(proto, effects)
            replies.extend(applied.outgoing)
            if applied.close is not None:
                return await self._respond(proto, replies, body.ack_seq)
        after = await self._acknowledge(proto, body.ack_seq)
        frames = await self.service.outbound(proto, replies, after_seq=after)
        deadline = time.monotonic() + body.wait_ms / 1000
        while not frames and events is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await self._wait(events, remaining):
                break
            record = await self.service.store.sessions.get_session(proto.session_id)
            if record is None or record.state is SessionState.CLOSED:
                return (
                    _closed_response(record)
                    if record
                    else error_response(410, CloseReason.PREEMPTED.value, "session is closed")
                )
            if record.state is SessionState.AUTHENTICATED:
                proto.mark_authenticated()
            frames = await self.service.outbound(proto, [], after_seq=after)
        return self._encode(proto, frames)

    async def _acknowledge(self, proto: SessionProtocol, ack_seq: int) -> int:
        """Apply the body's `ack_seq` (kept until promotion while pending).

        Returns the seq to read after: the store's clamped acknowledgement, so a
        bogus, too large `ack_seq` can neither drop nor hide undelivered messages.
        """
        if ack_seq <= 0:
            return 0
        if proto.state is SessionState.AUTHENTICATED:
            return await self.service.store.delivery.ack(
                proto.account_id, proto.session_id, ack_seq
            )
        if proto.state is SessionState.PENDING:
            await self.service.store.sessions.remember_ack(proto.session_id, ack_seq)
        return 0

    async def _respond(
        self, proto: SessionProtocol, replies: list[Envelope], ack_seq: int
    ) -> Response:
        frames = await self.service.outbound(proto, replies, after_seq=ack_seq)
        return self._encode(proto, frames)

    @staticmethod
    def _encode(proto: SessionProtocol, frames: list[LogEntry]) -> Response:
        """`{"state", "messages"}` with the messages in seq order (spliced, not re-parsed)."""
        body = b'{"state":"%s","messages":[%s]}' % (
            proto.state.value.encode(),
            b",".join(frame.with_seq() for frame in frames),
        )
        return Response(body, media_type="application/json")

    @staticmethod
    async def _wait(events: EventSubscription, seconds: float) -> bool:
        """Wait for a relevant account event; False on timeout or end of stream."""
        try:
            async with asyncio.timeout(seconds):
                async for event in events:
                    if event.get("kind") in _WAKE_KINDS:
                        return True
        except TimeoutError:
            return False
        return False
