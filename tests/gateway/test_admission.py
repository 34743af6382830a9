"""Admission of OrderIntents under copier overload: the pure decision."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.admission import (
    EXIT_ACTIONS,
    AdmissionLimits,
    IntentBacklog,
    RefusalReason,
    decide_admission,
)

LIMITS = AdmissionLimits(max_waiting=100, max_waiting_exits=500, max_age_ms=20_000)
ACTIONS = ["open", "close", "modify", "place_pending", "cancel_pending", None]


@pytest.mark.parametrize(
    ("action", "waiting", "oldest_ms", "refused_for"),
    [
        ("open", 0, None, None),
        ("open", 99, 19_999, None),
        ("open", 100, 0, RefusalReason.BACKLOG_FULL),
        ("open", 5, 20_000, RefusalReason.BACKLOG_STALE),
        ("place_pending", 100, 0, RefusalReason.BACKLOG_FULL),
        ("modify", 5, 25_000, RefusalReason.BACKLOG_STALE),
        (None, 100, 0, RefusalReason.BACKLOG_FULL),  # unknown action: like an open
        ("close", 100, 0, None),  # exits flow while new exposure is refused
        ("close", 499, 10**9, None),  # and never for age: closes never expire
        ("close", 500, 0, RefusalReason.BACKLOG_FULL),  # the hard bound
        ("cancel_pending", 499, 10**9, None),
        ("cancel_pending", 500, None, RefusalReason.BACKLOG_FULL),
    ],
)
def test_an_intent_is_admitted_unless_its_kind_of_bound_is_reached(
    action: str | None, waiting: int, oldest_ms: int | None, refused_for: RefusalReason | None
) -> None:
    verdict = decide_admission(action, IntentBacklog(waiting, oldest_ms), LIMITS)
    assert verdict.admitted is (refused_for is None)
    assert verdict.reason is refused_for
    assert verdict.retry_after_ms == (0 if refused_for is None else LIMITS.retry_after_ms)


@pytest.mark.parametrize("action", ACTIONS)
def test_an_unmeasured_backlog_admits_everything(action: str | None) -> None:
    assert decide_admission(action, None, LIMITS).admitted


@pytest.mark.parametrize("action", ACTIONS)
def test_bounds_of_zero_are_off(action: str | None) -> None:
    off = AdmissionLimits(max_waiting=0, max_waiting_exits=0, max_age_ms=0)
    assert decide_admission(action, IntentBacklog(10**9, 10**9), off).admitted


@pytest.mark.parametrize(("retry_ms", "seconds"), [(1, 1), (1_000, 1), (1_001, 2), (2_500, 3)])
def test_the_retry_after_header_rounds_up_to_whole_seconds(retry_ms: int, seconds: int) -> None:
    limits = AdmissionLimits(max_waiting=1, retry_after_ms=retry_ms)
    assert decide_admission("open", IntentBacklog(1, None), limits).retry_after_s == seconds


backlogs = st.builds(
    IntentBacklog, st.integers(0, 10**6), st.one_of(st.none(), st.integers(0, 10**8))
)
limits = st.builds(
    AdmissionLimits,
    max_waiting=st.integers(0, 10**5),
    max_waiting_exits=st.integers(0, 10**6),
    max_age_ms=st.integers(0, 10**6),
    retry_after_ms=st.integers(1, 10**5),
)


@given(backlogs, limits)
def test_an_exit_is_admitted_whenever_an_open_is(
    backlog: IntentBacklog, bound: AdmissionLimits
) -> None:
    exits_bound = AdmissionLimits(
        bound.max_waiting,
        max(bound.max_waiting, bound.max_waiting_exits) if bound.max_waiting else 0,
        bound.max_age_ms,
        bound.retry_after_ms,
    )  # a hard bound at or above the soft one (0: none)
    if decide_admission("open", backlog, exits_bound).admitted:
        for action in EXIT_ACTIONS:
            assert decide_admission(action, backlog, exits_bound).admitted


@given(backlogs, limits, st.sampled_from(ACTIONS))
def test_a_smaller_backlog_is_never_refused_where_a_larger_one_is_admitted(
    backlog: IntentBacklog, bound: AdmissionLimits, action: str | None
) -> None:
    if decide_admission(action, backlog, bound).admitted:
        smaller = IntentBacklog(
            backlog.waiting // 2, None if backlog.oldest_ms is None else backlog.oldest_ms // 2
        )
        assert decide_admission(action, smaller, bound).admitted


@given(backlogs, limits, st.sampled_from(ACTIONS))
def test_a_refusal_always_says_why_and_when_to_retry(
    backlog: IntentBacklog, bound: AdmissionLimits, action: str | None
) -> None:
    verdict = decide_admission(action, backlog, bound)
    if not verdict.admitted:
        assert verdict.reason is not None and verdict.retry_after_ms == bound.retry_after_ms
        assert verdict.retry_after_s >= 1
