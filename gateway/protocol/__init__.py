"""Sans-I/O session protocol: rules 1-5 of the wire contract as pure code."""

from gateway.protocol.effects import (
    Acknowledge,
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

__all__ = [
    "Acknowledge",
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
    "heartbeat_deadline_ms",
]
