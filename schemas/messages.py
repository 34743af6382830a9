"""Payload models of the event catalogue (wire contract v1, section Catalogue).

Inbound payloads ignore unknown fields (the contract allows extra optional
fields); every required field of the contract is required here.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.codes import (
    Action,
    ExecutionStatus,
    OrderType,
    Role,
    SessionState,
    Severity,
    Side,
)
from schemas.types import (
    AccountId,
    EpochMs,
    MessageId,
    NonNegativeDecimal,
    PositiveDecimal,
    Price,
    Seq,
    Symbol,
    Ticket,
    Volume,
)

__all__ = [
    "MAX_ALERT_DETAILS",
    "MAX_SNAPSHOT_PARTS",
    "AccountInfo",
    "ErrorAlertPayload",
    "ErrorDetail",
    "ExecutionReportPayload",
    "InitAckPayload",
    "InitRequestPayload",
    "OrderCommandPayload",
    "OrderIntentPayload",
    "PendingOrder",
    "Position",
    "ReceiptPayload",
    "RetryPolicy",
    "SessionStateChangePayload",
    "ShutdownNoticePayload",
    "StatusHeartbeatPayload",
    "SymbolSpec",
    "SyncSnapshotPayload",
    "SyncSnapshotRequestPayload",
    "WireModel",
]

_TICKETED_ACTIONS = frozenset({Action.MODIFY, Action.CLOSE, Action.CANCEL_PENDING})


class WireModel(BaseModel):
    """Base of every wire model: unknown fields are ignored, values are frozen."""

    model_config = ConfigDict(extra="ignore", frozen=True, use_enum_values=False)


class AccountInfo(WireModel):
    """Trading account figures reported by the EA."""

    balance: NonNegativeDecimal | None = None
    equity: NonNegativeDecimal | None = None
    currency: str | None = Field(default=None, max_length=8)
    leverage: int | None = Field(default=None, ge=0)


class SymbolSpec(WireModel):
    """Broker symbol properties the copier sizes orders with."""

    symbol: Symbol
    digits: int = Field(ge=0, le=10)
    point: PositiveDecimal
    contract_size: PositiveDecimal
    lot_step: PositiveDecimal
    min_lot: PositiveDecimal
    max_lot: PositiveDecimal
    tick_value: PositiveDecimal | None = None
    tick_size: PositiveDecimal | None = None


class InitRequestPayload(WireModel):
    """EA -> server: capabilities and the highest processed `seq`."""

    ack_seq: Seq
    account: AccountInfo | None = None
    symbols: list[SymbolSpec] | None = Field(default=None, max_length=2000)
    #: Opt-in: answer every durably recorded OrderIntent/ExecutionReport on this
    #: connection with a `Receipt` (WebSocket; a poll's 200 already confirms its body).
    receipts: bool | None = None


class InitAckPayload(WireModel):
    """Server -> EA: the session is usable."""

    session_id: str
    #: `master`, `follower`, or `unassigned` until the back-office configures the account.
    role: Role | Literal["unassigned"]
    heartbeat_interval_s: float
    heartbeat_timeout_s: float | None = None
    account_id: AccountId | None = None
    server_time_ms: EpochMs | None = None
    #: The gateway assembles a SyncSnapshot sent in parts (`snapshot_id`, `part`,
    #: `parts`) of at most this many parts; absent: send every snapshot whole.
    max_snapshot_parts: int | None = Field(default=None, ge=1)


class SessionStateChangePayload(WireModel):
    """Server -> EA: the session changed state (e.g. promoted to authenticated)."""

    state: SessionState
    reason: str | None = None


class StatusHeartbeatPayload(WireModel):
    """EA -> server: liveness plus account figures and the highest processed `seq`."""

    ack_seq: Seq
    balance: NonNegativeDecimal | None = None
    equity: NonNegativeDecimal | None = None
    margin_level: NonNegativeDecimal | None = None


class OrderIntentPayload(WireModel):
    """Master EA -> server: a trade event seen on the master account."""

    action: Action
    ticket: Ticket
    symbol: Symbol
    side: Side
    order_type: OrderType
    volume: Volume
    price: Price
    sl: Price | None = None
    tp: Price | None = None
    magic: int | None = None
    comment: str | None = Field(default=None, max_length=64)
    #: After a partial close, the master's ticket of the remaining position.
    new_ticket: Ticket | None = None
    #: When the master saw the event (epoch ms), if different from the envelope ts.
    event_time_ms: EpochMs | None = None


class OrderCommandPayload(WireModel):
    """Server -> follower EA: execute this."""

    command_id: str = Field(min_length=1, max_length=128)
    action: Action
    symbol: Symbol
    side: Side
    order_type: OrderType
    volume: Volume
    master_ticket: Ticket
    ticket: Ticket | None = None
    price: Price | None = None
    sl: Price | None = None
    tp: Price | None = None
    max_slippage_points: int | None = Field(default=None, ge=0)
    expires_at: EpochMs | None = None
    master_account_id: AccountId | None = None
    magic: int | None = None
    comment: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _ticket_for_existing_orders(self) -> Self:
        if self.action in _TICKETED_ACTIONS and self.ticket is None:
            raise ValueError(f"ticket is required for action {self.action.value}")
        return self


class ReceiptPayload(WireModel):
    """Server -> EA (only after `InitRequest.receipts`): these EA envelopes are recorded.

    The ids are the EA's envelope `id`s; the EA may forget (stop resending) them.
    """

    ids: list[MessageId] = Field(min_length=1, max_length=200)


class ExecutionReportPayload(WireModel):
    """Follower EA -> server: the outcome of an OrderCommand."""

    command_id: str = Field(min_length=1, max_length=128)
    status: ExecutionStatus
    ticket: Ticket | None = None
    symbol: Symbol | None = None
    volume: NonNegativeDecimal | None = None
    price: Price | None = None
    error_code: int | None = None
    error_message: str | None = Field(default=None, max_length=512)
    #: After a partial close, the follower's ticket of the remaining position.
    new_ticket: Ticket | None = None
    executed_at_ms: EpochMs | None = None


class Position(WireModel):
    """An open market position in a SyncSnapshot."""

    ticket: Ticket
    symbol: Symbol
    side: Side
    volume: Volume
    open_price: Price
    sl: Price | None = None
    tp: Price | None = None
    magic: int | None = None
    comment: str | None = Field(default=None, max_length=64)


class PendingOrder(WireModel):
    """A pending (limit/stop) order in a SyncSnapshot."""

    ticket: Ticket
    symbol: Symbol
    side: Side
    order_type: OrderType
    volume: Volume
    price: Price
    open_price: Price | None = None
    sl: Price | None = None
    tp: Price | None = None
    magic: int | None = None
    comment: str | None = Field(default=None, max_length=64)


#: Most parts one SyncSnapshot may be split into (announced in InitAck).
MAX_SNAPSHOT_PARTS = 64


class SyncSnapshotPayload(WireModel):
    """EA -> server: everything open on the account right now.

    A snapshot too large for one message is sent in parts: each part carries the
    same `snapshot_id`, its number `part` (1-based) and the count `parts`, and some
    of the positions and orders. The gateway hands the copier one snapshot made of
    all of them once every part arrived. A snapshot without these fields is whole.
    """

    positions: list[Position] = Field(max_length=5000)
    orders: list[PendingOrder] = Field(max_length=5000)
    balance: NonNegativeDecimal | None = None
    equity: NonNegativeDecimal | None = None
    request_id: str | None = Field(default=None, max_length=128)
    #: Identifies one snapshot sent in parts (the same in every part).
    snapshot_id: str | None = Field(default=None, min_length=1, max_length=128)
    #: This part's number, 1 to `parts`.
    part: int | None = Field(default=None, ge=1, le=MAX_SNAPSHOT_PARTS)
    #: How many parts the snapshot has.
    parts: int | None = Field(default=None, ge=1, le=MAX_SNAPSHOT_PARTS)

    @model_validator(mode="after")
    def _parts_come_together(self) -> Self:
        given = (self.snapshot_id is not None, self.part is not None, self.parts is not None)
        if any(given) and not all(given):
            raise ValueError("snapshot_id, part and parts are given together or not at all")
        if self.part is not None and self.parts is not None and self.part > self.parts:
            raise ValueError("part must not exceed parts")
        return self

    @property
    def is_part(self) -> bool:
        """True for one part of a snapshot sent in parts."""
        return self.snapshot_id is not None


class SyncSnapshotRequestPayload(WireModel):
    """Server -> EA: please send a SyncSnapshot."""

    request_id: str = Field(min_length=1, max_length=128)
    reason: str | None = None


class RetryPolicy(WireModel):
    """How the EA should retry after an ErrorAlert."""

    policy: str = Field(max_length=32)
    after_ms: EpochMs | None = None
    max_attempts: int | None = Field(default=None, ge=0)


#: Most `details` entries an ErrorAlert carries (the first ones, in field order).
MAX_ALERT_DETAILS = 20


class ErrorDetail(WireModel):
    """One field that failed validation: where (`loc`), what (`msg`), which rule (`type`).

    The same shape as the REST API's 422 `error.details` entries.
    """

    loc: list[str] = Field(max_length=16)
    msg: str = Field(max_length=512)
    type: str | None = Field(default=None, max_length=64)


class ErrorAlertPayload(WireModel):
    """Either direction: an anomaly or a policy violation.

    `details` (optional, server -> EA) lists the fields of the offending message
    that failed validation, for `validation_error` alerts.
    """

    code: str = Field(min_length=1, max_length=64)
    severity: Severity
    message: str = Field(max_length=1024)
    remediation: str | None = Field(default=None, max_length=1024)
    retry: RetryPolicy | None = None
    ref_id: MessageId | None = None
    details: list[ErrorDetail] | None = Field(default=None, max_length=MAX_ALERT_DETAILS)


class ShutdownNoticePayload(WireModel):
    """Either direction: the session is about to end deliberately."""

    reason: str = Field(min_length=1, max_length=64)
    reconnect_after_s: float | None = Field(default=None, ge=0)
    message: str | None = Field(default=None, max_length=512)
