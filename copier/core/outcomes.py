"""What the copier decides: send a command, skip with a reason, or wait for a link.

Every "not copied" outcome is a `Skip` carrying a machine-readable `SkipReason`
and a human message. Side effects the caller must carry out (switch a
subscription to close_only, raise an ErrorAlert) are `Effect` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from copier.core.values import value
from schemas.codes import Severity
from schemas.messages import ErrorAlertPayload, OrderCommandPayload
from schemas.subscriptions import SubscriptionStatus

__all__ = [
    "Adjustment",
    "AdjustmentReason",
    "Alert",
    "Effect",
    "Outcome",
    "Send",
    "Skip",
    "SkipReason",
    "SwitchStatus",
    "WaitForLink",
]


class SkipReason(StrEnum):
    """Why a master event produced no command for a follower."""

    # subscription gates
    PAUSED = "paused"
    CLOSE_ONLY = "close_only"
    PENDING_NOT_COPIED = "pending_not_copied"
    SL_TP_NOT_COPIED = "sl_tp_not_copied"
    SIGNAL_EXPIRED = "signal_expired"
    # sizing
    UNKNOWN_SYMBOL = "unknown_symbol"
    NO_STOP_LOSS = "no_stop_loss"
    ZERO_STOP_DISTANCE = "zero_stop_distance"
    EQUITY_UNKNOWN = "equity_unknown"
    BELOW_MIN_LOT = "below_min_lot"
    # risk guards
    MAX_DRAWDOWN = "max_drawdown"
    MAX_OPEN_POSITIONS = "max_open_positions"
    MAX_LOTS_PER_SYMBOL = "max_lots_per_symbol"
    MAX_TOTAL_LOTS = "max_total_lots"
    MAX_ORDERS_PER_MINUTE = "max_orders_per_minute"
    CIRCUIT_OPEN = "circuit_open"
    # links
    NOT_COPIED = "not_copied"
    ALREADY_COPIED = "already_copied"
    DUPLICATE_INTENT = "duplicate_intent"
    LINK_FAILED = "link_failed"
    LINK_CLOSED = "link_closed"
    FILLS_AT_BROKER = "fills_at_broker"
    PENDING_NOT_FILLED = "pending_not_filled"
    CLOSE_BELOW_MIN_LOT = "close_below_min_lot"


class AdjustmentReason(StrEnum):
    """Why a sent volume is smaller than the allocation asked for."""

    CAPPED_AT_MAX_LOT = "capped_at_max_lot"
    CLIPPED_TO_MAX_LOTS_PER_SYMBOL = "clipped_to_max_lots_per_symbol"
    CLIPPED_TO_MAX_TOTAL_LOTS = "clipped_to_max_total_lots"


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A volume reduction applied on the way to a command (kept for the audit trail)."""

    reason: AdjustmentReason  # which cap applied
    before: Decimal  # volume before the cap
    after: Decimal  # volume after the cap (rounded down to lot_step)


@value
class Send:
    """Send this command to the follower."""

    command: OrderCommandPayload  # the command, ready to be wrapped in an envelope
    adjustments: tuple[Adjustment, ...] = ()  # volume caps that applied, in order
    not_before_ms: int | None = None  # a delayed command: not sent before this time


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing is sent; `reason` says why."""

    reason: SkipReason  # machine-readable reason
    message: str  # human readable explanation naming the numbers involved


@dataclass(frozen=True, slots=True)
class WaitForLink:
    """The follower ticket is not known yet: park the intent and replay it later.

    Replay the parked intents of `master_ticket`, in their original order, after
    the link book has applied the ExecutionReport that resolves the link.
    """

    master_account_id: str  # master whose intent is parked
    master_ticket: int  # master ticket the intent refers to
    message: str  # human readable explanation


#: The one decision the planner makes for one (intent, follower) pair.
Outcome = Send | Skip | WaitForLink


@dataclass(frozen=True, slots=True)
class SwitchStatus:
    """Change the subscription's status (e.g. to close_only after a drawdown breach)."""

    status: SubscriptionStatus  # the new status
    reason: SkipReason  # the guard that tripped
    message: str  # human readable explanation


@dataclass(frozen=True, slots=True)
class Alert:
    """Something an operator (and the follower EA) should hear about: an ErrorAlert."""

    code: str  # stable snake_case code (a SkipReason value or a copier code)
    severity: Severity  # how bad it is
    message: str  # human readable explanation
    remediation: str | None = None  # what to do about it

    def to_payload(self, ref_id: str | None = None) -> ErrorAlertPayload:
        """The ErrorAlert payload for this alert.

        Args:
            ref_id: id of the message the alert refers to, if any.

        Returns:
            A wire payload ready to be enveloped.
        """
        return ErrorAlertPayload(
            code=self.code,
            severity=self.severity,
            message=self.message[:1024],
            remediation=None if self.remediation is None else self.remediation[:1024],
            ref_id=ref_id,
        )


#: Something the caller carries out after a decision.
Effect = SwitchStatus | Alert
