"""The envelope and the two discriminated unions (EA -> server, server -> EA).

``{"type": ..., "id": ..., "ts": ..., "seq": ..., "payload": {...}}``
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, TypeAdapter, ValidationError

from schemas.codes import ErrorCode
from schemas.errors import EnvelopeError
from schemas.messages import (
    ErrorAlertPayload,
    ExecutionReportPayload,
    InitAckPayload,
    InitRequestPayload,
    OrderCommandPayload,
    OrderIntentPayload,
    ReceiptPayload,
    SessionStateChangePayload,
    ShutdownNoticePayload,
    StatusHeartbeatPayload,
    SyncSnapshotPayload,
    SyncSnapshotRequestPayload,
    WireModel,
)
from schemas.types import EpochMs, MessageId, Seq, decimal_to_plain_text

__all__ = [
    "INBOUND_TYPES",
    "OUTBOUND_TYPES",
    "ClientEnvelope",
    "Envelope",
    "ErrorAlert",
    "ExecutionReport",
    "InitAck",
    "InitRequest",
    "OrderCommand",
    "OrderIntent",
    "Receipt",
    "ServerEnvelope",
    "SessionStateChange",
    "ShutdownNotice",
    "StatusHeartbeat",
    "SyncSnapshot",
    "SyncSnapshotRequest",
    "encode_envelope",
    "parse_client_envelope",
    "parse_server_envelope",
]


class Envelope(WireModel):
    """Fields common to every message."""

    type: str
    id: MessageId
    ts: EpochMs
    seq: Seq | None = None


class InitRequest(Envelope):
    type: Literal["InitRequest"] = "InitRequest"
    payload: InitRequestPayload


class InitAck(Envelope):
    type: Literal["InitAck"] = "InitAck"
    payload: InitAckPayload


class SessionStateChange(Envelope):
    type: Literal["SessionStateChange"] = "SessionStateChange"
    payload: SessionStateChangePayload


class StatusHeartbeat(Envelope):
    type: Literal["StatusHeartbeat"] = "StatusHeartbeat"
    payload: StatusHeartbeatPayload


class OrderIntent(Envelope):
    type: Literal["OrderIntent"] = "OrderIntent"
    payload: OrderIntentPayload


class OrderCommand(Envelope):
    type: Literal["OrderCommand"] = "OrderCommand"
    payload: OrderCommandPayload


class ExecutionReport(Envelope):
    type: Literal["ExecutionReport"] = "ExecutionReport"
    payload: ExecutionReportPayload


class SyncSnapshot(Envelope):
    """EA -> server: the account's open positions and orders."""

    type: Literal["SyncSnapshot"] = "SyncSnapshot"
    payload: SyncSnapshotPayload


class SyncSnapshotRequest(Envelope):
    """Server -> EA: a request for a SyncSnapshot (same wire `type`)."""

    type: Literal["SyncSnapshot"] = "SyncSnapshot"
    payload: SyncSnapshotRequestPayload


class ErrorAlert(Envelope):
    type: Literal["ErrorAlert"] = "ErrorAlert"
    payload: ErrorAlertPayload


class Receipt(Envelope):
    """Server -> EA: the EA envelopes named in `ids` are durably recorded."""

    type: Literal["Receipt"] = "Receipt"
    payload: ReceiptPayload


class ShutdownNotice(Envelope):
    type: Literal["ShutdownNotice"] = "ShutdownNotice"
    payload: ShutdownNoticePayload


#: Anything an EA may send.
ClientEnvelope = Annotated[
    InitRequest
    | StatusHeartbeat
    | OrderIntent
    | ExecutionReport
    | SyncSnapshot
    | ErrorAlert
    | ShutdownNotice,
    Field(discriminator="type"),
]

#: Anything the server sends.
ServerEnvelope = Annotated[
    InitAck
    | SessionStateChange
    | OrderCommand
    | SyncSnapshotRequest
    | ErrorAlert
    | ShutdownNotice
    | Receipt,
    Field(discriminator="type"),
]

INBOUND_TYPES = frozenset(
    {
        "InitRequest",
        "StatusHeartbeat",
        "OrderIntent",
        "ExecutionReport",
        "SyncSnapshot",
        "ErrorAlert",
        "ShutdownNotice",
    }
)
OUTBOUND_TYPES = frozenset(
    {
        "InitAck",
        "SessionStateChange",
        "OrderCommand",
        "SyncSnapshot",
        "ErrorAlert",
        "ShutdownNotice",
        "Receipt",
    }
)

_CLIENT_ADAPTER: TypeAdapter[ClientEnvelope] = TypeAdapter(ClientEnvelope)
_SERVER_ADAPTER: TypeAdapter[ServerEnvelope] = TypeAdapter(ServerEnvelope)


def _error_details(exc: ValidationError, tag: object = None) -> list[dict[str, Any]]:
    """pydantic's errors as ``{"loc", "msg", "type"}``; the union's `tag` (the message
    type) is dropped from the front of `loc`, so it reads ``["payload", "volume"]``."""
    details = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = list(err["loc"])
        if loc and loc[0] == tag:
            loc = loc[1:]
        details.append({"loc": [str(part) for part in loc], "msg": err["msg"], "type": err["type"]})
    return details


def _read_ref_id(obj: dict[str, Any]) -> str | None:
    raw_id = obj.get("id")
    return raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= 128 else None


def _decode(data: str | bytes | dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    if isinstance(data, dict):
        obj: Any = data
    else:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise EnvelopeError(ErrorCode.MALFORMED_JSON, f"not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise EnvelopeError(ErrorCode.MALFORMED_JSON, "an envelope must be a JSON object")
    ref_id = _read_ref_id(obj)
    msg_type = obj.get("type")
    if not isinstance(msg_type, str) or msg_type not in allowed:
        raise EnvelopeError(
            ErrorCode.UNKNOWN_TYPE, f"unknown message type {msg_type!r}", ref_id=ref_id
        )
    return obj


def parse_client_envelope(data: str | bytes | dict[str, Any]) -> ClientEnvelope:
    """Parse one EA -> server frame.

    Raises:
        EnvelopeError: malformed JSON, unknown type, or a payload failing validation;
            `ref_id` carries the envelope's `id` when one could be read.
    """
    obj = _decode(data, INBOUND_TYPES)
    try:
        return _CLIENT_ADAPTER.validate_python(obj)
    except ValidationError as exc:
        raise EnvelopeError(
            ErrorCode.VALIDATION_ERROR,
            f"{obj['type']} failed validation",
            ref_id=_read_ref_id(obj),
            details=_error_details(exc, obj["type"]),
        ) from exc


def parse_server_envelope(data: str | bytes | dict[str, Any]) -> ServerEnvelope:
    """Parse one server -> EA frame (used by the SDK and tests)."""
    obj = _decode(data, OUTBOUND_TYPES)
    try:
        return _SERVER_ADAPTER.validate_python(obj)
    except ValidationError as exc:
        raise EnvelopeError(
            ErrorCode.VALIDATION_ERROR,
            f"{obj['type']} failed validation",
            details=_error_details(exc, obj["type"]),
        ) from exc


def _plain_decimal(value: object) -> orjson.Fragment:
    if isinstance(value, Decimal):
        return orjson.Fragment(decimal_to_plain_text(value))
    raise TypeError(f"{type(value).__name__} is not a wire type")


def encode_envelope(envelope: Envelope, *, exclude_seq: bool = False) -> bytes:
    """Serialise an envelope to compact JSON; absent optional fields are omitted.

    Prices and volumes (Decimals) are written in plain notation, never with an
    exponent (``0.0000001``, not ``1e-7``), so every EA number parser reads them.
    With `exclude_seq`, the ``seq`` is left out (what the gateway records of an
    inbound envelope; cheaper than a copy of the model without it).
    """
    exclude = _SEQ if exclude_seq else None
    return orjson.dumps(
        envelope.model_dump(exclude_none=True, exclude=exclude), default=_plain_decimal
    )


_SEQ: set[str] = {"seq"}
