"""Failed executions: bounded retries with backoff, and the per-follower circuit breaker."""

from __future__ import annotations

import pytest

from copier.core import (
    BackoffPolicy,
    BreakerState,
    CircuitBreaker,
    GiveUp,
    GiveUpReason,
    Retry,
    decide_retry,
)
from schemas.codes import ExecutionStatus

from .builders import NOW, report


@pytest.mark.parametrize("code", [135, 136, 138, 146])
def test_transient_mt4_errors_are_retried(code: int) -> None:
    decision = decide_retry(
        report("c", ExecutionStatus.REJECTED, error_code=code), retries_done=0, now_ms=NOW
    )
    assert decision == Retry(attempt=1, delay_ms=250, not_before_ms=NOW + 250)


@pytest.mark.parametrize("code", [None, 2, 130, 134, 133, 4109])
def test_other_errors_are_final(code: int | None) -> None:
    decision = decide_retry(
        report("c", ExecutionStatus.REJECTED, error_code=code), retries_done=0, now_ms=NOW
    )
    assert isinstance(decision, GiveUp) and decision.reason is GiveUpReason.NOT_RETRYABLE


@pytest.mark.parametrize(("retries_done", "delay"), [(0, 250), (1, 500), (2, 1000)])
def test_backoff_doubles_per_retry(retries_done: int, delay: int) -> None:
    decision = decide_retry(
        report("c", ExecutionStatus.REJECTED, error_code=138), retries_done=retries_done, now_ms=NOW
    )
    assert isinstance(decision, Retry) and decision.delay_ms == delay


def test_backoff_is_capped() -> None:
    policy = BackoffPolicy(max_retries=10, base_delay_ms=1_000, max_delay_ms=3_000)
    assert [policy.delay_ms(n) for n in (1, 2, 3, 4)] == [1_000, 2_000, 3_000, 3_000]


def test_retries_are_bounded() -> None:
    decision = decide_retry(
        report("c", ExecutionStatus.REJECTED, error_code=146), retries_done=3, now_ms=NOW
    )
    assert isinstance(decision, GiveUp) and decision.reason is GiveUpReason.ATTEMPTS_EXHAUSTED


def test_open_is_not_retried_past_its_expiry() -> None:
    decision = decide_retry(
        report("c", ExecutionStatus.REJECTED, error_code=138),
        retries_done=0,
        now_ms=NOW,
        expires_at=NOW + 100,
    )
    assert isinstance(decision, GiveUp) and decision.reason is GiveUpReason.SIGNAL_EXPIRED


def test_non_rejections_are_not_retried() -> None:
    decision = decide_retry(report("c", ExecutionStatus.EXPIRED), retries_done=0, now_ms=NOW)
    assert isinstance(decision, GiveUp) and decision.reason is GiveUpReason.NOT_A_FAILURE


# -- circuit breaker ----------------------------------------------------------------------


def failures(breaker: CircuitBreaker, count: int, now_ms: int = NOW) -> CircuitBreaker:
    for _ in range(count):
        breaker = breaker.on_failure(now_ms)
    return breaker


def test_breaker_opens_after_n_consecutive_failures() -> None:
    breaker = failures(CircuitBreaker(threshold=3), 2)
    assert breaker.state(NOW) is BreakerState.CLOSED and breaker.allows_open(NOW)
    breaker = breaker.on_failure(NOW)
    assert breaker.state(NOW) is BreakerState.OPEN and not breaker.allows_open(NOW)


def test_a_success_resets_the_failure_count() -> None:
    breaker = failures(CircuitBreaker(threshold=3), 2).on_success()
    assert failures(breaker, 2).state(NOW) is BreakerState.CLOSED


def test_breaker_half_opens_after_the_cooldown_and_lets_one_trial_through() -> None:
    breaker = failures(CircuitBreaker(threshold=1, cooldown_ms=10_000), 1)
    later = NOW + 10_000
    assert breaker.state(later - 1) is BreakerState.OPEN
    assert breaker.state(later) is BreakerState.HALF_OPEN and breaker.allows_open(later)
    trial = breaker.on_open_sent(later)
    assert not trial.allows_open(later)  # only one trial at a time
    assert trial.on_success().state(later) is BreakerState.CLOSED


def test_failed_trial_reopens_the_breaker_for_another_cooldown() -> None:
    breaker = failures(CircuitBreaker(threshold=5, cooldown_ms=10_000), 5).on_open_sent(
        NOW + 10_000
    )
    reopened = breaker.on_failure(NOW + 10_000)
    assert reopened.state(NOW + 19_999) is BreakerState.OPEN
    assert reopened.state(NOW + 20_000) is BreakerState.HALF_OPEN


def test_failures_while_open_do_not_extend_the_cooldown() -> None:
    breaker = failures(CircuitBreaker(threshold=1, cooldown_ms=10_000), 1)
    assert breaker.on_failure(NOW + 5_000).state(NOW + 10_000) is BreakerState.HALF_OPEN


@pytest.mark.parametrize(
    ("status", "expected_failures"),
    [(ExecutionStatus.REJECTED, 2), (ExecutionStatus.EXPIRED, 1), (ExecutionStatus.FILLED, 0)],
)
def test_reports_feed_the_breaker(status: ExecutionStatus, expected_failures: int) -> None:
    breaker = CircuitBreaker().on_failure(NOW).on_report(report("c", status), NOW)
    assert breaker.failures == expected_failures
