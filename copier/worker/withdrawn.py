"""The copy records of scheduled cancels that a decision withdrew.

A pending fill grace's cancel (`copier.core.conversion`) is a command of the
master fill intent's copy record, scheduled in the outbox. When the copy fills
in the grace, the fill report's decision withdraws it (`FollowerWrite.withdrawn`)
but is made on the report's own copy record only; `mark_withdrawn` then records
on the fill intent's copy record that its cancel was taken back. Pure: the
records are read by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from copier.core import SkipReason, retry_command_id
from copier.worker.draft import FollowerWrite
from copier.worker.state import CopyRecord, CopyStatus

__all__ = ["mark_withdrawn"]

WITHDRAWN_MESSAGE = (
    "the copy filled at its broker within the pending fill grace: the scheduled cancel "
    "is withdrawn (the EA refuses it if it was already sent)"
)


def mark_withdrawn(
    write: FollowerWrite, records: Mapping[str, CopyRecord], now_ms: int
) -> FollowerWrite:
    """`write` with the copy record of each withdrawn cancel marked skipped.

    Args:
        write: a decision whose `withdrawn` ids are cancels taken back.
        records: stored copy records by base command id (those of the withdrawn ids).
        now_ms: the current time.

    Returns:
        `write` with those copy records (status ``skipped``, reason
        ``fills_at_broker``) among its copies; copy records that are not a queued
        command of that id are left as they are.
    """
    copies = {copy.command_id: copy for copy in write.copies}
    for envelope_id in write.withdrawn:
        base = retry_command_id(envelope_id, 0)
        copy = copies.get(base) or records.get(base)
        if copy is None or copy.status != CopyStatus.QUEUED:
            continue
        copies[base] = replace(
            copy,
            status=CopyStatus.SKIPPED,
            reason=SkipReason.FILLS_AT_BROKER.value,
            message=WITHDRAWN_MESSAGE,
            decided_ms=now_ms,
        )
    return replace(write, copies=tuple(copies.values()))
