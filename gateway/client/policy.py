"""Reconnect policy: close codes, 410 reasons and backoff (sans-I/O).

Every way a connection or a session attempt can end is described by one
`CloseInfo`; `ReconnectPolicy.decide` turns it into a `Decision`: `Stop` (never
fight: preempted, key rejected, bad token, bad configuration) or `Reconnect`
after a delay (exponential backoff with jitter, or the server's
`reconnect_after_s` / `Retry-After`). Randomness is injected, so every rule is
testable without a loop or a clock.

| how it ended | decision |
|---|---|
| 4001 / `preempted` | stop: another terminal owns the account |
| 4003 / `key_rejected`, `key_revoked`, 401, 403 | stop: fix the key |
| 400 / 422 on session creation | stop: fix the request |
| 4004 / `server_shutdown`, `closed_by_operator`, `store_unavailable` | after `reconnect_after_s` |
| 4002 / `heartbeat_timeout`, network errors, unasked 1000/1006, 5xx | reconnect with backoff |
| 429 / 503 (`Retry-After`), 1008 | reconnect after max(Retry-After, backoff) |
| we closed it ourselves | stop (`client_shutdown`) |
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass, replace

from schemas.codes import CloseCode, CloseReason

__all__ = [
    "Backoff",
    "CloseInfo",
    "Decision",
    "Reconnect",
    "ReconnectPolicy",
    "Stop",
]

_STOP_REASONS = frozenset(
    {CloseReason.PREEMPTED, CloseReason.KEY_REJECTED, CloseReason.KEY_REVOKED}
)
_SHUTDOWN_REASONS = frozenset(
    {CloseReason.SERVER_SHUTDOWN, CloseReason.CLOSED_BY_OPERATOR, CloseReason.STORE_UNAVAILABLE}
)
_STOP_HTTP = frozenset({400, 401, 403, 404, 422})


@dataclass(frozen=True)
class CloseInfo:
    """How a connection (or a session attempt) ended.

    Build it with one of the constructors; fields not known are None.
    """

    code: int | None = None  #: WebSocket close code (or the code a 410 reason maps to)
    reason: str | None = None  #: ShutdownNotice reason or REST `error.code`
    http_status: int | None = None  #: HTTP status of a failed REST call
    retry_after_s: float | None = None  #: `reconnect_after_s` or `Retry-After`
    error: str | None = None  #: network error text
    requested: bool = False  #: the client closed it itself

    @classmethod
    def websocket(cls, code: int | None, reason: str | None = None) -> CloseInfo:
        """A WebSocket close frame (or 1006 when there was none)."""
        return cls(code=code if code is not None else 1006, reason=reason or None)

    @classmethod
    def http(cls, status: int, code: str | None, retry_after_s: float | None = None) -> CloseInfo:
        """A REST error answer (410 closed session, 401, 429, 503...)."""
        close_code: int | None = None
        if code is not None and code in CloseReason.__members__.values():
            close_code = int(CloseReason(code).close_code)
        elif status == 401:
            close_code = int(CloseCode.AUTH_FAILED)
        return cls(code=close_code, reason=code, http_status=status, retry_after_s=retry_after_s)

    @classmethod
    def network(cls, error: str) -> CloseInfo:
        """The server could not be reached or the connection broke."""
        return cls(error=error)

    @classmethod
    def by_client(cls) -> CloseInfo:
        """The application closed the client."""
        return cls(code=int(CloseCode.NORMAL), reason=CloseReason.CLIENT_SHUTDOWN, requested=True)

    def with_notice(self, reason: str, reconnect_after_s: float | None) -> CloseInfo:
        """This close, completed by the ShutdownNotice that came before it."""
        return replace(
            self,
            reason=self.reason or reason,
            retry_after_s=self.retry_after_s if reconnect_after_s is None else reconnect_after_s,
        )

    def describe(self) -> str:
        """One line for logs."""
        parts = [
            f"{name}={value}"
            for name, value in (
                ("code", self.code),
                ("reason", self.reason),
                ("http", self.http_status),
                ("error", self.error),
            )
            if value is not None
        ]
        return " ".join(parts) or "closed"


@dataclass(frozen=True)
class Stop:
    """Do not reconnect."""

    reason: str  #: why (close reason, HTTP error code, or `client_shutdown`)
    code: int | None = None  #: the close code when there was one


@dataclass(frozen=True)
class Reconnect:
    """Open a new session after `delay_s` seconds."""

    delay_s: float  #: wait this long first
    reason: str  #: why the previous connection ended


#: What to do after a connection ended.
Decision = Stop | Reconnect


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": half fixed, half random.

    `delay(n)` for the n-th consecutive failure (0-based) is
    ``d/2 + rand * d/2`` with ``d = min(cap_s, base_s * factor**n)``.
    """

    base_s: float = 0.5  #: first delay before jitter
    factor: float = 2.0  #: growth per consecutive failure
    cap_s: float = 30.0  #: largest delay before jitter

    def delay(self, attempt: int, rand: float) -> float:
        """The delay for consecutive failure `attempt`, given a uniform `rand` in [0, 1)."""
        raw = min(self.cap_s, self.base_s * self.factor ** min(attempt, 64))
        return raw / 2 + rand * raw / 2


class ReconnectPolicy:
    """Decides what follows a close; counts consecutive failures for the backoff."""

    def __init__(
        self,
        backoff: Backoff | None = None,
        *,
        shutdown_jitter: float = 0.25,
        default_shutdown_delay_s: float = 1.0,
        max_attempts: int | None = None,
        rand: Callable[[], float] = _random.random,
    ) -> None:
        self.backoff = backoff or Backoff()  #: delays of unplanned reconnects
        self.shutdown_jitter = shutdown_jitter  #: extra random fraction after `reconnect_after_s`
        self.default_shutdown_delay_s = default_shutdown_delay_s  #: 4004 without reconnect_after_s
        self.max_attempts = max_attempts  #: consecutive failures before giving up (None: never)
        self.rand = rand  #: uniform [0, 1) source
        self.failures = 0  #: consecutive failures since the last established session

    def established(self) -> None:
        """A session reached InitAck: the next failure starts the backoff afresh."""
        self.failures = 0

    def decide(self, info: CloseInfo) -> Decision:
        """What to do after `info`. Counts the failure when the answer is a reconnect."""
        stop = self._terminal(info)
        if stop is not None:
            return stop
        if self.max_attempts is not None and self.failures >= self.max_attempts:
            return Stop("gave_up", info.code)
        backoff = self.backoff.delay(self.failures, self.rand())
        self.failures += 1
        reason = info.reason or info.error or (f"close {info.code}" if info.code else "closed")
        if info.code == CloseCode.SERVER_SHUTDOWN or info.reason in _SHUTDOWN_REASONS:
            after = (
                info.retry_after_s
                if info.retry_after_s is not None
                else self.default_shutdown_delay_s
            )
            self.failures = 0  # a planned restart is not a failure of ours
            return Reconnect(after * (1 + self.shutdown_jitter * self.rand()), reason)
        if info.retry_after_s is not None:
            return Reconnect(max(info.retry_after_s, backoff), reason)
        if info.code == CloseCode.POLICY_VIOLATION:
            return Reconnect(max(1.0, backoff), reason)
        return Reconnect(backoff, reason)

    @staticmethod
    def _terminal(info: CloseInfo) -> Stop | None:
        if info.requested:
            return Stop(CloseReason.CLIENT_SHUTDOWN.value, info.code)
        if info.reason in _STOP_REASONS:
            return Stop(str(info.reason), info.code)
        if info.code in (CloseCode.PREEMPTED, CloseCode.AUTH_FAILED):
            default = "preempted" if info.code == CloseCode.PREEMPTED else "auth_failed"
            return Stop(info.reason or default, info.code)
        if info.http_status in _STOP_HTTP:
            return Stop(info.reason or f"http_{info.http_status}", info.code)
        return None
