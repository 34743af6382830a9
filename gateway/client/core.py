"""The client's session rules as pure code: no awaits, no sockets, no clock.

`ClientCore` is what `EAClient` pumps, the way `gateway.protocol` is what the
server's transports pump. Frames go in through `receive(data, now_ms)`; what the
application must see comes out as `Deliver` / `Replay` / `Drop` events;
outgoing envelopes come from the builders (`init_request`, `heartbeat`,
`envelope`). The application reports `processed(envelope)`, which moves
`ack_seq`. The close policy is asked through `closed(info)`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from gateway.client.policy import CloseInfo, Decision, ReconnectPolicy
from gateway.client.tracking import AckTracker, Inbox, JournalState, Verdict
from schemas.codes import Role, SessionState
from schemas.envelope import (
    Envelope,
    ExecutionReport,
    InitAck,
    InitRequest,
    SessionStateChange,
    ShutdownNotice,
    StatusHeartbeat,
    parse_server_envelope,
)
from schemas.errors import EnvelopeError
from schemas.messages import (
    AccountInfo,
    InitRequestPayload,
    StatusHeartbeatPayload,
    SymbolSpec,
    WireModel,
)
from schemas.rest import SessionCreated

__all__ = ["ClientCore", "Deliver", "Drop", "Event", "Replay"]

E = TypeVar("E", bound=Envelope)


@dataclass(frozen=True)
class Deliver:
    """A new message for the application; call `ClientCore.processed` once handled."""

    envelope: Envelope  #: the parsed server envelope


@dataclass(frozen=True)
class Replay:
    """A command executed before came again: re-send `report`, do not execute."""

    envelope: Envelope  #: the re-delivered OrderCommand
    report: ExecutionReport  #: the report sent the first time


@dataclass(frozen=True)
class Drop:
    """Nothing for the application (duplicate or unreadable frame)."""

    reason: str  #: `duplicate`, `in_flight` or the EnvelopeError code
    envelope: Envelope | None = None  #: the envelope when it could be parsed


#: What `receive` returns.
Event = Deliver | Replay | Drop


class ClientCore:
    """Per-client protocol state, carried across reconnects and sessions."""

    def __init__(
        self,
        account_id: str,
        *,
        id_prefix: str,
        policy: ReconnectPolicy | None = None,
        journal: JournalState | None = None,
        memory: int = 5000,
    ) -> None:
        self.account_id = account_id  #: the account this client speaks for
        self.policy = policy or ReconnectPolicy()  #: close-code / backoff rules
        self.acks = AckTracker(journal.ack_seq if journal else 0)  #: processed seqs
        self.inbox = Inbox(memory, journal)  #: duplicate detection
        self._prefix = id_prefix  #: makes envelope ids unique per client instance
        self._counter = itertools.count(1)  #: envelope id sequence
        self.session: SessionCreated | None = None  #: the current session
        self.state: SessionState = SessionState.CLOSED  #: its state as last told
        self.role: Role | str | None = None  #: from InitAck
        self.heartbeat_interval_s = 5.0  #: as announced
        self.last_heartbeat_ms: int | None = None  #: when the last heartbeat was built
        self.notice: ShutdownNotice | None = None  #: the last ShutdownNotice received
        self.init_acked = False  #: InitAck received on the current session

    # ---- session life cycle ---------------------------------------------------------
    def begin(self, session: SessionCreated, now_ms: int) -> None:
        """A session was created: reset what is per session."""
        self.session = session
        self.state = session.state
        self.heartbeat_interval_s = session.heartbeat_interval_s
        self.last_heartbeat_ms = now_ms
        self.notice = None
        self.init_acked = False

    def closed(self, info: CloseInfo) -> Decision:
        """The connection ended: stop or reconnect (completing `info` with the last notice)."""
        if self.notice is not None:
            info = info.with_notice(
                self.notice.payload.reason, self.notice.payload.reconnect_after_s
            )
        self.state = SessionState.CLOSED
        self.acks.forget_open()
        return self.policy.decide(info)

    # ---- outgoing -------------------------------------------------------------------
    def next_id(self) -> str:
        """A fresh envelope id."""
        return f"{self._prefix}-{next(self._counter)}"

    def envelope(self, kind: type[E], payload: WireModel, now_ms: int) -> E:
        """An outgoing envelope of `kind` with a fresh id and `ts`."""
        return kind.model_validate({"id": self.next_id(), "ts": now_ms, "payload": payload})

    def init_request(
        self,
        now_ms: int,
        account: AccountInfo | None,
        symbols: Sequence[SymbolSpec] | None,
        *,
        receipts: bool = False,
    ) -> InitRequest:
        """The InitRequest opening a connection, carrying the current ack_seq.

        `receipts` asks the gateway to confirm each recorded intent/report (WebSocket).
        """
        payload = InitRequestPayload(
            ack_seq=self.acks.ack_seq,
            account=account,
            symbols=list(symbols) if symbols is not None else None,
            receipts=receipts or None,
        )
        self.last_heartbeat_ms = now_ms
        return self.envelope(InitRequest, payload, now_ms)

    def heartbeat(
        self, now_ms: int, account: AccountInfo | None = None, **extra: Any
    ) -> StatusHeartbeat:
        """A StatusHeartbeat with the current ack_seq (and account figures if given)."""
        payload = StatusHeartbeatPayload(
            ack_seq=self.acks.ack_seq,
            balance=account.balance if account else None,
            equity=account.equity if account else None,
            **extra,
        )
        self.last_heartbeat_ms = now_ms
        return self.envelope(StatusHeartbeat, payload, now_ms)

    def next_heartbeat_ms(self) -> int:
        """When the next heartbeat is due (epoch ms)."""
        last = self.last_heartbeat_ms or 0
        return last + int(self.heartbeat_interval_s * 1000)

    def heartbeat_due(self, now_ms: int) -> bool:
        """Whether a heartbeat should go out now."""
        return now_ms >= self.next_heartbeat_ms()

    # ---- incoming -------------------------------------------------------------------
    def receive(self, data: str | bytes | dict[str, Any], now_ms: int) -> Event:
        """One server frame in, one event out (session bookkeeping done here)."""
        try:
            envelope = parse_server_envelope(data)
        except EnvelopeError as exc:
            return Drop(str(exc.code))
        self._observe(envelope)
        admission = self.inbox.admit(envelope)
        if admission.verdict is Verdict.NEW:
            if envelope.seq is not None:
                self.acks.delivered(envelope.seq)
            return Deliver(envelope)
        if admission.verdict is Verdict.IN_FLIGHT:
            return Drop("in_flight", envelope)
        if envelope.seq is not None:
            self.acks.processed(envelope.seq)
        if admission.verdict is Verdict.REPLAY and admission.report is not None:
            return Replay(envelope, admission.report)
        return Drop("duplicate", envelope)

    def processed(self, envelope: Envelope) -> None:
        """The application has handled `envelope`: it may be acknowledged."""
        self.inbox.handled(envelope)
        if envelope.seq is not None:
            self.acks.processed(envelope.seq)

    def failed(self, envelope: Envelope) -> None:
        """Handling raised before any effect: leave it unacknowledged to be re-sent."""
        self.inbox.abandoned(envelope)

    def reported(self, report: ExecutionReport) -> None:
        """A report is going out: remember it for re-delivered commands."""
        self.inbox.remember_report(report)

    def journal(self) -> JournalState:
        """What to persist to survive a restart."""
        return self.inbox.journal(self.acks.ack_seq)

    def _observe(self, envelope: Envelope) -> None:
        if isinstance(envelope, InitAck):
            self.role = envelope.payload.role
            self.heartbeat_interval_s = envelope.payload.heartbeat_interval_s
            self.state = SessionState.AUTHENTICATED
            self.init_acked = True
            self.policy.established()
        elif isinstance(envelope, SessionStateChange):
            self.state = envelope.payload.state
        elif isinstance(envelope, ShutdownNotice):
            self.notice = envelope
