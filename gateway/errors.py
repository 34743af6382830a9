"""Exceptions of the `gateway` package.

Tree::

    GatewayError
     ├── StoreError
     │    ├── StoreUnavailable        Redis (or the embedded store) cannot be reached
     │    ├── UnsupportedStore        the configured Redis is a kind copygate cannot run on
     │    ├── FencingError            a write by a session that is no longer the active one
     │    └── LimitExceeded           a per-account or per-address limit was hit
     │         ├── TooManyPendingSessions
     │         ├── TooManyPendingKeys
     │         ├── RateLimited
     │         ├── DeliveryLogFull    an account's delivery log is at its size limit
     │         └── CopierOverloaded   an OrderIntent refused: the copier backlog is full
     ├── AuthError
     │    ├── UnsupportedAuthMethod
     │    ├── InvalidCredentials       malformed credentials, or a rejected/revoked key
     │    └── InvalidToken             bad or unknown bearer token
     ├── NotFound                      an admin resource does not exist
     └── Conflict                      an admin change contradicts the stored state
"""

from __future__ import annotations

from typing import Any, ClassVar

from schemas.codes import ErrorCode

__all__ = [
    "AuthError",
    "Conflict",
    "CopierOverloaded",
    "DeliveryLogFull",
    "FencingError",
    "GatewayError",
    "InvalidCredentials",
    "InvalidToken",
    "LimitExceeded",
    "NotFound",
    "RateLimited",
    "StoreError",
    "StoreUnavailable",
    "TooManyPendingKeys",
    "TooManyPendingSessions",
    "UnsupportedAuthMethod",
    "UnsupportedStore",
]


class GatewayError(Exception):
    """Root of every exception raised by `gateway`."""


class StoreError(GatewayError):
    """Root of store failures."""


class StoreUnavailable(StoreError):
    """The store could not be reached; the operation may be retried later."""


class UnsupportedStore(StoreError):
    """The configured Redis cannot hold copygate's data (a Redis Cluster node)."""


class FencingError(StoreError):
    """The session is not (or no longer) the account's active session."""

    def __init__(self, session_id: str, reason: str | None = None) -> None:
        super().__init__(f"session {session_id} is not active ({reason or 'unknown'})")
        #: the session that tried to write
        self.session_id = session_id
        #: its close reason, when it is closed
        self.reason = reason


class LimitExceeded(StoreError):
    """A limit was hit; `retry_after_s` says when trying again makes sense."""

    #: the stable REST `error.code` (HTTP 429) of this limit
    error_code: ClassVar[ErrorCode] = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        #: seconds until a retry may succeed (the `Retry-After` header)
        self.retry_after_s = retry_after_s


class TooManyPendingSessions(LimitExceeded):
    """The account already has the maximum number of pending sessions."""

    error_code = ErrorCode.TOO_MANY_PENDING_SESSIONS


class TooManyPendingKeys(LimitExceeded):
    """The account already has the maximum number of pending keys."""

    error_code = ErrorCode.TOO_MANY_PENDING_KEYS


class RateLimited(LimitExceeded):
    """Too many requests from one client address."""


class DeliveryLogFull(LimitExceeded):
    """The account's delivery log holds its maximum of numbered + held messages."""


class CopierOverloaded(LimitExceeded):
    """An OrderIntent was refused: the copier's backlog is over its bound.

    Nothing was recorded; the EA keeps the intent and sends it again after
    `retry_after_ms` (no Receipt, a poll answers 429, a WebSocket closes 1008).
    """

    error_code = ErrorCode.OVERLOADED

    def __init__(self, message: str, retry_after_ms: int, ref_id: str | None) -> None:
        super().__init__(message, retry_after_s=max(1, -(-retry_after_ms // 1000)))
        #: when a resend makes sense (ms)
        self.retry_after_ms = retry_after_ms
        #: the refused envelope's id
        self.ref_id = ref_id
        #: what the same batch of effects applied before the refusal (its Receipts
        #: are still owed to the EA); set by `SessionService.apply`
        self.applied: Any = None


class AuthError(GatewayError):
    """Root of authentication failures."""


class UnsupportedAuthMethod(AuthError):
    """No strategy is registered for the requested `auth_method`."""


class InvalidCredentials(AuthError):
    """Credentials are malformed, or the key was rejected or revoked."""


class InvalidToken(AuthError):
    """A bearer token is malformed or unknown."""


class NotFound(GatewayError):
    """An admin resource does not exist."""


class Conflict(GatewayError):
    """An admin change contradicts the stored state (-> 409), e.g. rejecting an approved key."""
