"""Failed executions: a bounded retry policy and a per-follower circuit breaker.

Retry: a ``rejected`` report whose MT4 error is transient (135 price changed,
136 off quotes, 138 requote, 146 trade context busy) is retried up to
``max_retries`` times with exponential backoff; any other error, a missing
error code, or an ``expired`` report is final. An open is never retried past
its ``expires_at``. Backoff has no random jitter so that decisions stay
deterministic.

Circuit breaker (one per follower account)::

    closed --N consecutive failures--> open --cooldown elapsed--> half_open
    half_open --trial open succeeds--> closed
    half_open --trial open fails-----> open (cooldown restarts)

While open it blocks new opens (closes/modifies still flow); half-open lets one
trial open through. Failures are ``rejected`` reports; any other report except
``expired`` (filled, closed, placed, ...) is a success and resets the count.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from copier.core.values import value
from schemas.codes import ExecutionStatus
from schemas.messages import ExecutionReportPayload

__all__ = [
    "RETRYABLE_ERRORS",
    "BackoffPolicy",
    "BreakerState",
    "CircuitBreaker",
    "GiveUp",
    "GiveUpReason",
    "Retry",
    "RetryDecision",
    "decide_retry",
]

#: MT4 errors worth retrying: price changed, off quotes, requote, trade context busy.
RETRYABLE_ERRORS = frozenset({135, 136, 138, 146})


class GiveUpReason(StrEnum):
    """Why a failed command is not retried."""

    NOT_A_FAILURE = "not_a_failure"
    NOT_RETRYABLE = "not_retryable"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    SIGNAL_EXPIRED = "signal_expired"


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Bounded exponential backoff."""

    max_retries: int = 3  # retries after the first attempt
    base_delay_ms: int = 250  # delay before the first retry
    factor: int = 2  # growth per retry
    max_delay_ms: int = 5_000  # ceiling of one delay

    def delay_ms(self, retry: int) -> int:
        """Delay before retry number `retry` (1-based)."""
        delay: int = self.base_delay_ms * self.factor ** max(0, retry - 1)
        return min(self.max_delay_ms, delay)


@dataclass(frozen=True, slots=True)
class Retry:
    """Send the command again, under a new id, after `delay_ms`."""

    attempt: int  # retry number, 1-based (use with `retry_command_id`)
    delay_ms: int  # wait this long before sending
    not_before_ms: int  # now_ms + delay_ms


@dataclass(frozen=True, slots=True)
class GiveUp:
    """The failure is final."""

    reason: GiveUpReason  # machine-readable reason
    message: str  # human readable explanation


#: What to do with a failed execution.
RetryDecision = Retry | GiveUp


def decide_retry(
    report: ExecutionReportPayload,
    *,
    retries_done: int,
    now_ms: int,
    expires_at: int | None = None,
    policy: BackoffPolicy | None = None,
) -> RetryDecision:
    """Decide whether a failed command is retried.

    Args:
        report: the follower's report.
        retries_done: how many retries of this command were already sent.
        now_ms: the current time.
        expires_at: the command's expiry (opens only); no retry would arrive after it.
        policy: backoff policy (default `BackoffPolicy()`).

    Returns:
        `Retry` with the delay, or `GiveUp` with the reason.
    """
    policy = policy or BackoffPolicy()
    if report.status is not ExecutionStatus.REJECTED:
        return GiveUp(GiveUpReason.NOT_A_FAILURE, f"status {report.status} is not retried")
    if report.error_code not in RETRYABLE_ERRORS:
        return GiveUp(
            GiveUpReason.NOT_RETRYABLE,
            f"MT4 error {report.error_code} is final ({report.error_message or 'no message'})",
        )
    if retries_done >= policy.max_retries:
        return GiveUp(
            GiveUpReason.ATTEMPTS_EXHAUSTED,
            f"MT4 error {report.error_code} after {retries_done} retries; giving up",
        )
    attempt = retries_done + 1
    delay = policy.delay_ms(attempt)
    if expires_at is not None and now_ms + delay > expires_at:
        return GiveUp(
            GiveUpReason.SIGNAL_EXPIRED,
            f"a retry in {delay} ms would be after the command expires at {expires_at}",
        )
    return Retry(attempt, delay, now_ms + delay)


class BreakerState(StrEnum):
    """Circuit breaker state."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@value
class CircuitBreaker:
    """Per-follower circuit breaker; immutable, time passed in."""

    threshold: int = 5  # consecutive failures that open the circuit
    cooldown_ms: int = 60_000  # how long the circuit stays open
    failures: int = 0  # consecutive failures so far
    opened_at_ms: int | None = None  # when the circuit (last) opened
    trial_in_flight: bool = False  # a half-open trial open was sent and not yet reported

    def state(self, now_ms: int) -> BreakerState:
        """The state at `now_ms`."""
        if self.opened_at_ms is None:
            return BreakerState.CLOSED
        if now_ms - self.opened_at_ms < self.cooldown_ms:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def allows_open(self, now_ms: int) -> bool:
        """Whether a new open may be sent now (half-open: only one trial at a time)."""
        state = self.state(now_ms)
        if state is BreakerState.CLOSED:
            return True
        return state is BreakerState.HALF_OPEN and not self.trial_in_flight

    def on_open_sent(self, now_ms: int) -> CircuitBreaker:
        """Record that an open was sent; in half-open it becomes the trial."""
        if self.state(now_ms) is BreakerState.HALF_OPEN:
            return replace(self, trial_in_flight=True)
        return self

    def on_success(self) -> CircuitBreaker:
        """A command succeeded: the circuit closes and the count resets."""
        return replace(self, failures=0, opened_at_ms=None, trial_in_flight=False)

    def on_failure(self, now_ms: int) -> CircuitBreaker:
        """A command failed: count it; open (or re-open) the circuit when due.

        Failures while the circuit is already open do not restart the cooldown.
        """
        failures = self.failures + 1
        state = self.state(now_ms)
        if state is BreakerState.HALF_OPEN or (
            state is BreakerState.CLOSED and failures >= self.threshold
        ):
            return replace(self, failures=failures, opened_at_ms=now_ms, trial_in_flight=False)
        return replace(self, failures=failures)

    def on_report(self, report: ExecutionReportPayload, now_ms: int) -> CircuitBreaker:
        """Feed a report: rejected = failure, expired = neutral, anything else = success."""
        if report.status is ExecutionStatus.REJECTED:
            return self.on_failure(now_ms)
        if report.status is ExecutionStatus.EXPIRED:
            return self
        return self.on_success()
