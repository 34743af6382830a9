"""Enumerations shared by the gateway, the copier, the SDK and the EA.

Close codes and error codes live here so that every package (and the generated
JSON Schema the EA is tested against) agrees on one spelling.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = [
    "Action",
    "AdminRole",
    "CloseCode",
    "CloseReason",
    "ErrorCode",
    "ExecutionStatus",
    "KeyStatus",
    "OrderType",
    "Role",
    "SessionState",
    "Severity",
    "Side",
]


class SessionState(StrEnum):
    """Life-cycle state of an EA session."""

    PENDING = "pending"
    AUTHENTICATED = "authenticated"
    CLOSED = "closed"


class Role(StrEnum):
    """What an account does in copy trading."""

    MASTER = "master"
    FOLLOWER = "follower"


class AdminRole(StrEnum):
    """Role carried by an admin bearer token."""

    BACKOFFICE = "backoffice"
    TENANT_ADMIN = "tenant_admin"


class KeyStatus(StrEnum):
    """Status of an account session key."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


class CloseCode(IntEnum):
    """WebSocket close codes. 4001 and 4003 are terminal: clients must not reconnect."""

    NORMAL = 1000
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    PREEMPTED = 4001
    HEARTBEAT_TIMEOUT = 4002
    AUTH_FAILED = 4003
    SERVER_SHUTDOWN = 4004

    @property
    def reconnect(self) -> bool:
        """Whether a well-behaved client reconnects after this close."""
        return self not in (CloseCode.PREEMPTED, CloseCode.AUTH_FAILED)


class CloseReason(StrEnum):
    """Why a session ended; the `reason` of ShutdownNotice and the 410 `error.code`."""

    PREEMPTED = "preempted"
    HEARTBEAT_TIMEOUT = "heartbeat_timeout"
    KEY_REJECTED = "key_rejected"
    KEY_REVOKED = "key_revoked"
    SERVER_SHUTDOWN = "server_shutdown"
    CLIENT_SHUTDOWN = "client_shutdown"
    CLOSED_BY_OPERATOR = "closed_by_operator"
    STORE_UNAVAILABLE = "store_unavailable"

    @property
    def close_code(self) -> CloseCode:
        """The WebSocket close code that carries this reason."""
        return _CLOSE_CODE_BY_REASON[self]


_CLOSE_CODE_BY_REASON: dict[CloseReason, CloseCode] = {
    CloseReason.PREEMPTED: CloseCode.PREEMPTED,
    CloseReason.HEARTBEAT_TIMEOUT: CloseCode.HEARTBEAT_TIMEOUT,
    CloseReason.KEY_REJECTED: CloseCode.AUTH_FAILED,
    CloseReason.KEY_REVOKED: CloseCode.AUTH_FAILED,
    CloseReason.SERVER_SHUTDOWN: CloseCode.SERVER_SHUTDOWN,
    CloseReason.CLIENT_SHUTDOWN: CloseCode.NORMAL,
    CloseReason.CLOSED_BY_OPERATOR: CloseCode.SERVER_SHUTDOWN,
    CloseReason.STORE_UNAVAILABLE: CloseCode.SERVER_SHUTDOWN,
}


class ErrorCode(StrEnum):
    """Stable `error.code` values of REST errors and `ErrorAlert.code` values."""

    # bad input
    MALFORMED_JSON = "malformed_json"
    VALIDATION_ERROR = "validation_error"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_AUTH_METHOD = "unsupported_auth_method"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    # credentials and rights
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_TOKEN = "invalid_token"
    FORBIDDEN = "forbidden"
    NOT_ALLOWED_FOR_ROLE = "not_allowed_for_role"
    # resources
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    # limits
    RATE_LIMITED = "rate_limited"
    TOO_MANY_PENDING_SESSIONS = "too_many_pending_sessions"
    TOO_MANY_PENDING_KEYS = "too_many_pending_keys"
    OVERLOADED = "overloaded"  # an OrderIntent refused: the copier backlog is over its bound
    # delivery
    SIGNAL_EXPIRED = "signal_expired"  # an open not sent: older than max_signal_age_ms
    # server side
    STORE_UNAVAILABLE = "store_unavailable"
    INTERNAL_ERROR = "internal_error"


class Severity(StrEnum):
    """ErrorAlert severity."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class Action(StrEnum):
    """What an OrderIntent or OrderCommand does."""

    OPEN = "open"
    MODIFY = "modify"
    CLOSE = "close"
    PLACE_PENDING = "place_pending"
    CANCEL_PENDING = "cancel_pending"


class Side(StrEnum):
    """Trade direction."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        """The other side (used by `reverse` subscriptions)."""
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    """MT4 order kind."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class ExecutionStatus(StrEnum):
    """Outcome of an OrderCommand, reported by the follower EA."""

    FILLED = "filled"
    CLOSED = "closed"
    MODIFIED = "modified"
    PLACED = "placed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
