"""`ReplicaWait`: WAIT after every pipeline, skipped for a while after it fell short."""

from __future__ import annotations

import logging

import pytest

from gateway.store.replica_wait import ReplicaWait


@pytest.mark.parametrize(
    ("observed", "later", "due"),
    [
        (1, 0.0, True),  # confirmed: the next pipeline waits again at once
        (2, 0.0, True),  # more than asked is fine
        (0, 0.0, False),  # fell short: skipped right after
        (0, 0.999, False),  # ... for retry_s
        (0, 1.0, True),  # ... then tried again
        (ValueError("ERR"), 0.5, False),  # an error reply counts as short
    ],
)
def test_wait_is_skipped_for_retry_s_after_it_fell_short(
    observed: object, later: float, due: bool
) -> None:
    wait = ReplicaWait(replicas=1, timeout_ms=200, retry_s=1.0)
    assert wait.due(100.0)
    wait.observe(observed, 100.0)
    assert wait.due(100.0 + later) is due


def test_a_short_spell_warns_once_and_says_when_replicas_are_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wait = ReplicaWait(replicas=1, timeout_ms=200, retry_s=1.0)
    with caplog.at_level(logging.INFO, logger="copygate.store.scripts"):
        for now in (0.0, 1.0, 2.0):
            wait.observe(0, now)
        wait.observe(1, 3.0)
        wait.observe(1, 3.1)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "only 0 replica(s) confirmed" in messages[0]
    assert "confirm again" in messages[1]
