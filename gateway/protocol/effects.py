"""What the session protocol asks its pump to do.

The core never performs I/O. It returns these effects, in order; a transport
(WebSocket or poll) carries them out against the store and the network.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.codes import CloseCode, CloseReason
from schemas.envelope import Envelope, ErrorAlert

__all__ = [
    "Acknowledge",
    "BufferSnapshotPart",
    "CheckPromotion",
    "CloseSession",
    "Effect",
    "HoldIntent",
    "LogAlert",
    "PublishEaEvent",
    "PublishIntent",
    "RecordHeartbeat",
    "RecordInit",
    "RememberAck",
    "Send",
]


@dataclass(frozen=True, slots=True)
class Send:
    """Send this envelope to the EA now (the pump stamps a fresh seq); not kept."""

    envelope: Envelope  #: the message, without seq


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """The EA processed everything up to `ack_seq`: drop it from the delivery log."""

    ack_seq: int  #: highest processed seq reported by the EA


@dataclass(frozen=True, slots=True)
class RememberAck:
    """A pending EA reported `ack_seq`: keep it, it is applied when the session is promoted.

    (Promotion renumbers the unacknowledged backlog after the opening messages, so
    what the EA already processed must be dropped first.)
    """

    ack_seq: int  #: highest processed seq reported by the pending EA


@dataclass(frozen=True, slots=True)
class RecordInit:
    """Keep the InitRequest payload (account figures, symbol specs) for the copier."""

    payload: bytes  #: the payload as JSON


@dataclass(frozen=True, slots=True)
class RecordHeartbeat:
    """A StatusHeartbeat arrived: push the deadline and keep the account figures."""

    payload: bytes  #: the payload as JSON


@dataclass(frozen=True, slots=True)
class CheckPromotion:
    """A pending session heartbeated: promote it if its key was approved meanwhile."""


@dataclass(frozen=True, slots=True)
class HoldIntent:
    """Keep an OrderIntent of a pending session, in order, not acted on (rule 1)."""

    body: bytes  #: the normalised envelope JSON


@dataclass(frozen=True, slots=True)
class PublishIntent:
    """Hand a master's OrderIntent to the copier (unless admission refuses it)."""

    body: bytes  #: the normalised envelope JSON
    action: str | None = None  #: its payload.action (admission lets exits through longer)
    intent_id: str | None = None  #: its envelope id (the refusal's ref_id)


@dataclass(frozen=True, slots=True)
class PublishEaEvent:
    """Hand an ExecutionReport or SyncSnapshot to the copier."""

    body: bytes  #: the normalised envelope JSON


@dataclass(frozen=True, slots=True)
class BufferSnapshotPart:
    """Keep one part of a SyncSnapshot sent in parts; once the account holds every
    part of it, hand the copier the snapshot assembled from them (`assemble_snapshot`)."""

    snapshot_id: str  #: the snapshot the part belongs to
    part: int  #: its number, 1..parts
    parts: int  #: how many parts the snapshot has
    body: bytes  #: the normalised part envelope JSON


@dataclass(frozen=True, slots=True)
class LogAlert:
    """Log an alert server-side only (pending sessions never see ErrorAlerts)."""

    alert: ErrorAlert  #: what would have been sent, or what the EA reported
    from_ea: bool = False  #: True when the EA sent it


@dataclass(frozen=True, slots=True)
class CloseSession:
    """End the session: store it closed and close the transport with `code`."""

    reason: CloseReason  #: why (the ShutdownNotice reason / 410 error code)
    code: CloseCode  #: the WebSocket close code


Effect = (
    Send
    | Acknowledge
    | RememberAck
    | RecordInit
    | RecordHeartbeat
    | CheckPromotion
    | HoldIntent
    | PublishIntent
    | PublishEaEvent
    | BufferSnapshotPart
    | LogAlert
    | CloseSession
)
