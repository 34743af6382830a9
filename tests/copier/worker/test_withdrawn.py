"""The copy record of a withdrawn pending fill cancel is marked skipped (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from copier.worker.draft import FollowerWrite
from copier.worker.state import CopyRecord, CopyStatus, FollowerRecord
from copier.worker.withdrawn import WITHDRAWN_MESSAGE, mark_withdrawn
from schemas.codes import Action

NOW = 1_700_000_000_000
QUEUED = CopyRecord(
    command_id="cmd-cancel",
    master_id="m1",
    intent_id="i-fill",
    action=Action.OPEN,
    master_ticket=100,
    symbol="EURUSD",
    status=CopyStatus.QUEUED,
    intent_received_ms=NOW - 20,
    decided_ms=NOW - 10,
)


@pytest.mark.parametrize(
    ("stored", "withdrawn", "marked"),
    [
        (QUEUED, ("cmd-cancel",), True),
        (QUEUED, (), False),  # nothing withdrawn
        (replace(QUEUED, status="rejected"), ("cmd-cancel",), False),  # already reported
        (None, ("cmd-cancel",), False),  # the record is gone (trimmed)
    ],
)
def test_only_a_queued_copy_record_of_a_withdrawn_cancel_is_marked_skipped(
    stored: CopyRecord | None, withdrawn: tuple[str, ...], marked: bool
) -> None:
    record = FollowerRecord("f1")
    write = FollowerWrite(record, record, withdrawn=withdrawn)
    records = {} if stored is None else {stored.command_id: stored}
    result = mark_withdrawn(write, records, NOW)
    assert result.withdrawn == withdrawn
    if marked:
        (copy,) = result.copies
        assert (copy.status, copy.reason, copy.message, copy.decided_ms) == (
            CopyStatus.SKIPPED,
            "fills_at_broker",
            WITHDRAWN_MESSAGE,
            NOW,
        )
    else:
        assert result.copies == ()
