"""Sans-I/O session protocol: rules 1-5 of the wire contract as pure code."""

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
from gateway.protocol.session import SessionProtocol, heartbeat_deadline_ms
from gateway.protocol.snapshot_parts import assemble_snapshot

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
    "SessionProtocol",
    "assemble_snapshot",
    "heartbeat_deadline_ms",
]
