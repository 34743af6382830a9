"""Replication health from copy records: a pure summary over the last minute."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.console.health import WINDOW_MS, health_summary, percentile

NOW = 1_000_000_000


def copy(
    status: str = "filled",
    reported: int | None = NOW - 1_000,
    total: int | None = 40,
    reason: str | None = None,
) -> dict[str, Any]:
    return {
        "status": status,
        "reason": reason,
        "times": {"execution_reported_ms": reported},
        "latency_ms": {"total": total},
    }


@pytest.mark.parametrize(
    ("copies", "per_minute", "p50", "p99"),
    [
        ([], 0, None, None),
        ([copy(total=10), copy(total=30), copy(total=20)], 3, 20, 30),
        ([copy(status="closed"), copy(status="placed"), copy(status="cancelled")], 3, 40, 40),
        ([copy(reported=NOW - WINDOW_MS - 1)], 0, None, None),  # older than the window
        ([copy(status="queued", reported=None, total=None)], 0, None, None),  # not reported yet
        ([copy(status="rejected", total=90, reason="mt4_error_134")], 0, 90, 90),
    ],
)
def test_summary_counts_executed_copies_and_latency_of_the_last_minute(
    copies: list[dict[str, Any]], per_minute: int, p50: int | None, p99: int | None
) -> None:
    summary = health_summary(copies, now_ms=NOW, backlog=0)
    assert (summary["copies_per_minute"], summary["latency_p50_ms"], summary["latency_p99_ms"]) == (
        per_minute,
        p50,
        p99,
    )


def test_summary_groups_rejections_by_mt4_code_with_their_meaning_most_frequent_first() -> None:
    copies = [
        copy(status="rejected", reason="mt4_error_138"),
        copy(status="rejected", reason="mt4_error_134"),
        copy(status="rejected", reason="mt4_error_134"),
        copy(status="rejected", reason="mt4_error_9999"),
        copy(status="skipped", reason="max_open_positions"),  # a guard, not an MT4 rejection
    ]
    summary = health_summary(copies, now_ms=NOW, backlog=7)
    assert summary["rejections"] == [
        {"code": "134", "meaning": "not enough money", "count": 2},
        {"code": "138", "meaning": "requote", "count": 1},
        {"code": "9999", "meaning": "unknown MT4 error", "count": 1},
    ]
    assert summary["backlog"] == 7


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1))
def test_percentiles_are_observed_values_in_order(values: list[int]) -> None:
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    assert p50 in values and p99 in values
    assert min(values) <= p50 <= p99 <= max(values)  # type: ignore[operator]
