"""The session rules of the wire contract (rules 1-5) as a sans-I/O state machine.

`SessionProtocol` takes raw frames (or parsed envelopes), the current time in
epoch milliseconds and session events (promotion, close), and returns
`effects`. It never awaits and never touches Redis or a socket: the WebSocket
endpoint and the poll endpoint are two thin pumps over it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.protocol.effects import (
    Acknowledge,
    BufferSnapshotPart,
    CheckPromotion,
    CloseSession,
    Effect,
    HoldIntent,
    LogAlert,
    PublishEaEvent,
    PublishIntent,
    RecordHeartbeat,
    RecordInit,
    RememberAck,
    Send,
)
from schemas.codes import CloseReason, ErrorCode, Role, SessionState, Severity
from schemas.envelope import (
    ClientEnvelope,
    Envelope,
    ErrorAlert,
    ExecutionReport,
    InitAck,
    InitRequest,
    OrderIntent,
    Receipt,
    SessionStateChange,
    ShutdownNotice,
    StatusHeartbeat,
    SyncSnapshot,
    encode_envelope,
    parse_client_envelope,
)
from schemas.errors import EnvelopeError
from schemas.messages import (
    MAX_ALERT_DETAILS,
    MAX_SNAPSHOT_PARTS,
    ErrorAlertPayload,
    ErrorDetail,
    InitAckPayload,
    ReceiptPayload,
    RetryPolicy,
    SessionStateChangePayload,
    ShutdownNoticePayload,
)

__all__ = ["SessionProtocol", "heartbeat_deadline_ms"]

_ROLE_ONLY: dict[str, Role] = {"OrderIntent": Role.MASTER, "ExecutionReport": Role.FOLLOWER}


def heartbeat_deadline_ms(last_heartbeat_ms: int, timeout_ms: int) -> int:
    """The instant after which a silent session is closed (rule 3).

    A heartbeat missing for *longer* than the timeout closes the session, so a
    session whose last heartbeat was at `t` is still alive at `t + timeout`.
    """
    return last_heartbeat_ms + timeout_ms


class SessionProtocol:
    """One EA session's rules, pure.

    Args:
        session_id: the session.
        account_id: its account.
        state: current state as stored.
        role: the account's configured role, or None if not configured yet.
        heartbeat_interval_s: interval announced in InitAck.
        heartbeat_timeout_s: timeout announced in InitAck and enforced by rule 3.
        last_heartbeat_ms: last heartbeat (creation time before the first).
        new_id: returns a fresh, unique envelope id for server messages.
    """

    def __init__(
        self,
        *,
        session_id: str,
        account_id: str,
        state: SessionState,
        role: Role | None,
        heartbeat_interval_s: float,
        heartbeat_timeout_s: float,
        last_heartbeat_ms: int,
        new_id: Callable[[], str],
    ) -> None:
        self.session_id = session_id  #: the session this protocol speaks for
        self.account_id = account_id  #: the session's account
        self.state = state  #: pending, authenticated or closed
        self.role = role  #: master / follower / None (unassigned)
        self.heartbeat_interval_s = heartbeat_interval_s  #: announced interval
        self.heartbeat_timeout_s = heartbeat_timeout_s  #: enforced timeout
        self.last_heartbeat_ms = last_heartbeat_ms  #: last liveness signal
        self.close_reason: CloseReason | None = None  #: set once closed
        self.last_message_type: str | None = None  #: type of the last valid inbound message
        self._new_id = new_id  #: id factory for server envelopes
        #: the EA asked for a Receipt per recorded intent/report (InitRequest.receipts)
        self.receipts = False

    # ---- inbound -----------------------------------------------------------------
    def receive_frame(self, data: str | bytes, now_ms: int) -> list[Effect]:
        """Handle one raw text frame (or one poll message as JSON text)."""
        self.last_message_type = None
        if self.state is SessionState.CLOSED:
            return []
        try:
            envelope = parse_client_envelope(data)
        except EnvelopeError as exc:
            return self._reject(exc, now_ms)
        return self.receive_envelope(envelope, now_ms)

    def receive_object(self, obj: object, now_ms: int) -> list[Effect]:
        """Handle one already-decoded JSON value (the poll transport's `messages` items)."""
        self.last_message_type = None
        if self.state is SessionState.CLOSED:
            return []
        if not isinstance(obj, dict):
            exc = EnvelopeError(ErrorCode.MALFORMED_JSON, "an envelope must be a JSON object")
            return self._reject(exc, now_ms)
        try:
            envelope = parse_client_envelope(obj)
        except EnvelopeError as exc:
            return self._reject(exc, now_ms)
        return self.receive_envelope(envelope, now_ms)

    def reject_too_large(self, obj: object, limit: int, now_ms: int) -> list[Effect]:
        """A poll message bigger than the frame limit: dropped like a bad frame (rule 5)."""
        return self.reject_object(
            obj, ErrorCode.PAYLOAD_TOO_LARGE, f"message exceeds {limit} bytes", now_ms
        )

    def reject_object(
        self, obj: object, code: ErrorCode, message: str, now_ms: int
    ) -> list[Effect]:
        """A poll message refused before parsing (too large, nested too deep): rule 5."""
        self.last_message_type = None
        if self.state is SessionState.CLOSED:
            return []
        raw_id = obj.get("id") if isinstance(obj, dict) else None
        ref_id = raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= 128 else None
        return self._reject(EnvelopeError(code, message, ref_id=ref_id), now_ms)

    def receive_envelope(self, envelope: ClientEnvelope, now_ms: int) -> list[Effect]:
        """Apply rules 1-2 to one valid envelope."""
        self.last_message_type = envelope.type
        if self.state is SessionState.CLOSED:
            return []
        if self.state is SessionState.PENDING:
            return self._pending(envelope, now_ms)
        return self._authenticated(envelope, now_ms)

    def _pending(self, envelope: ClientEnvelope, now_ms: int) -> list[Effect]:
        # Rule 1: record, hold, withhold; nothing is sent to a pending EA.
        match envelope:
            case InitRequest():
                self.receipts = bool(envelope.payload.receipts)  # holds after promotion
                return [RecordInit(_payload(envelope)), RememberAck(envelope.payload.ack_seq)]
            case StatusHeartbeat():
                self.last_heartbeat_ms = now_ms
                return [
                    RecordHeartbeat(_payload(envelope)),
                    RememberAck(envelope.payload.ack_seq),
                    CheckPromotion(),
                ]
            case OrderIntent():
                return [HoldIntent(_normalised(envelope))]
            case ErrorAlert():
                return [LogAlert(envelope, from_ea=True)]
            case ShutdownNotice():
                return self._client_shutdown()
            case _:
                alert = self._alert(
                    ErrorCode.NOT_ALLOWED_FOR_ROLE,
                    f"{envelope.type} is ignored while the session is pending",
                    envelope.id,
                    now_ms,
                )
                return [LogAlert(alert)]

    def _authenticated(self, envelope: ClientEnvelope, now_ms: int) -> list[Effect]:
        required_role = _ROLE_ONLY.get(envelope.type)
        if required_role is not None and self.role not in (None, required_role):
            return [
                Send(
                    self._alert(
                        ErrorCode.NOT_ALLOWED_FOR_ROLE,
                        f"{envelope.type} is only accepted from a {required_role.value} account",
                        envelope.id,
                        now_ms,
                    )
                )
            ]
        match envelope:
            case InitRequest():
                self.receipts = bool(envelope.payload.receipts)
                return [
                    RecordInit(_payload(envelope)),
                    Acknowledge(envelope.payload.ack_seq),
                    Send(self.init_ack(now_ms)),
                ]
            case StatusHeartbeat():
                self.last_heartbeat_ms = now_ms
                return [RecordHeartbeat(_payload(envelope)), Acknowledge(envelope.payload.ack_seq)]
            case OrderIntent():
                publish = PublishIntent(
                    _normalised(envelope), str(envelope.payload.action), envelope.id
                )
                return [publish, *self._receipt(envelope, now_ms)]
            case ExecutionReport():
                return [PublishEaEvent(_normalised(envelope)), *self._receipt(envelope, now_ms)]
            case SyncSnapshot():
                return [_snapshot_effect(envelope)]
            case ErrorAlert():
                return [LogAlert(envelope, from_ea=True)]
            case ShutdownNotice():
                return self._client_shutdown()

    def _reject(self, exc: EnvelopeError, now_ms: int) -> list[Effect]:
        # Rule 5: drop it, keep the connection; only an authenticated EA is told.
        alert = self._alert(exc.code, exc.message, exc.ref_id, now_ms, exc.details)
        if self.state is SessionState.AUTHENTICATED:
            return [Send(alert)]
        return [LogAlert(alert)]

    def refuse(self, exc: EnvelopeError, now_ms: int) -> list[Effect]:
        """A message found invalid after parsing (e.g. a snapshot assembled from
        parts): dropped and reported like a bad frame (rule 5)."""
        return self._reject(exc, now_ms)

    def refuse_overloaded(
        self, ref_id: str | None, message: str, retry_after_ms: int, now_ms: int
    ) -> list[Effect]:
        """An OrderIntent the copier backlog cannot take: not recorded, no Receipt.

        The EA is told (`overloaded`, with when to send it again) and keeps it; the
        WebSocket pump then closes the connection (1008), so the EA sends its
        unconfirmed intents again, in order, on its next connection.
        """
        payload = ErrorAlertPayload(
            code=ErrorCode.OVERLOADED,
            severity=Severity.WARNING,
            message=message[:1024],
            ref_id=ref_id,
            retry=RetryPolicy(policy="resend_after", after_ms=retry_after_ms),
        )
        return [Send(ErrorAlert(id=self._new_id(), ts=now_ms, payload=payload))]

    def _receipt(self, envelope: ClientEnvelope, now_ms: int) -> list[Effect]:
        # effects apply in order: the Send is written after the publish is durable
        if not self.receipts:
            return []
        receipt = Receipt(id=self._new_id(), ts=now_ms, payload=ReceiptPayload(ids=[envelope.id]))
        return [Send(receipt)]

    def _client_shutdown(self) -> list[Effect]:
        self.state = SessionState.CLOSED
        self.close_reason = CloseReason.CLIENT_SHUTDOWN
        return [CloseSession(CloseReason.CLIENT_SHUTDOWN, CloseReason.CLIENT_SHUTDOWN.close_code)]

    # ---- session events --------------------------------------------------------
    def promote(self, now_ms: int) -> list[Envelope]:
        """Rule 2: the key was approved. Returns the opening messages to log, in order.

        SessionStateChange {authenticated} then InitAck; the store numbers the held
        OrderCommand backlog after them and releases the held OrderIntents.
        """
        self.state = SessionState.AUTHENTICATED
        change = SessionStateChange(
            id=self._new_id(),
            ts=now_ms,
            payload=SessionStateChangePayload(state=SessionState.AUTHENTICATED),
        )
        return [change, self.init_ack(now_ms)]

    def mark_authenticated(self) -> None:
        """Another node promoted this session (seen through the event bus)."""
        if self.state is SessionState.PENDING:
            self.state = SessionState.AUTHENTICATED

    def close(
        self,
        reason: CloseReason,
        now_ms: int,
        *,
        reconnect_after_s: float | None = None,
    ) -> list[Effect]:
        """The session ends for `reason` (rules 3 and 4): ShutdownNotice, then close code.

        A pending EA gets the ShutdownNotice too: it is the close handshake, not an alert.
        """
        if self.state is SessionState.CLOSED:
            return []
        self.state = SessionState.CLOSED
        self.close_reason = reason
        notice = ShutdownNotice(
            id=self._new_id(),
            ts=now_ms,
            payload=ShutdownNoticePayload(reason=reason.value, reconnect_after_s=reconnect_after_s),
        )
        return [Send(notice), CloseSession(reason, reason.close_code)]

    def heartbeat_expired(self, now_ms: int) -> bool:
        """Rule 3: whether the last heartbeat is older than the timeout."""
        deadline = heartbeat_deadline_ms(
            self.last_heartbeat_ms, int(self.heartbeat_timeout_s * 1000)
        )
        return self.state is not SessionState.CLOSED and now_ms > deadline

    # ---- server messages -------------------------------------------------------
    def init_ack(self, now_ms: int) -> InitAck:
        """The InitAck this session gets once authenticated."""
        return InitAck(
            id=self._new_id(),
            ts=now_ms,
            payload=InitAckPayload(
                session_id=self.session_id,
                role=self.role if self.role is not None else "unassigned",
                heartbeat_interval_s=self.heartbeat_interval_s,
                heartbeat_timeout_s=self.heartbeat_timeout_s,
                account_id=self.account_id,
                server_time_ms=now_ms,
                max_snapshot_parts=MAX_SNAPSHOT_PARTS,
            ),
        )

    def _alert(
        self,
        code: str,
        message: str,
        ref_id: str | None,
        now_ms: int,
        details: list[dict[str, Any]] | None = None,
    ) -> ErrorAlert:
        return ErrorAlert(
            id=self._new_id(),
            ts=now_ms,
            payload=ErrorAlertPayload(
                code=code,
                severity=Severity.WARNING,
                message=message[:1024],
                ref_id=ref_id,
                details=_alert_details(details),
            ),
        )


def _alert_details(details: list[dict[str, Any]] | None) -> list[ErrorDetail] | None:
    """Validation errors as ErrorAlert `details`: the first few, each field cut to size."""
    if not details:
        return None
    return [
        ErrorDetail(
            loc=[str(part)[:64] for part in detail.get("loc", [])][:16],
            msg=str(detail.get("msg", ""))[:512],
            type=str(detail["type"])[:64] if detail.get("type") is not None else None,
        )
        for detail in details[:MAX_ALERT_DETAILS]
    ]


def _payload(envelope: ClientEnvelope) -> bytes:
    return envelope.payload.model_dump_json(exclude_none=True).encode()


def _snapshot_effect(envelope: SyncSnapshot) -> PublishEaEvent | BufferSnapshotPart:
    """A whole snapshot goes to the copier; a part waits for the rest of its set."""
    payload = envelope.payload
    if payload.snapshot_id is None or payload.part is None or payload.parts is None:
        return PublishEaEvent(_normalised(envelope))
    return BufferSnapshotPart(
        payload.snapshot_id, payload.part, payload.parts, _normalised(envelope)
    )


def _normalised(envelope: ClientEnvelope) -> bytes:
    """The envelope re-encoded from the validated model (inbound `seq` dropped)."""
    return encode_envelope(envelope, exclude_seq=True)
