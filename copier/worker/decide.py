"""The worker's decisions for one follower: pure, no I/O, no clock.

This is the sans-I/O half of the worker. The pump (`copier.worker.pump`) loads a
`FollowerRecord`, calls one of the functions below and writes the returned
`FollowerWrite` atomically (with a version check); it never decides anything.

- `decide_signal`: one master intent (live, replayed or synthetic) -> a command,
  a skip or a parked intent, plus the copy record (`decide_signals`: several
  intents of one master in a row, as one write);
- `decide_report` / `decide_reports`: ExecutionReports -> link updates, retries,
  breaker, replays (in `copier.worker.decide_reports`, re-exported here);
- `decide_follower_snapshot`: a follower's SyncSnapshot -> reconciliation.

Every command leaves as an `OutboxItem` (envelope id = command id). Intents
parked behind a link (`WaitForLink`) are kept in the record, in order; any later
intent for the same link is parked behind them without being planned (a parked
partial close still books its remainder ticket as an alias of the link, so the
intents about that ticket find the link and wait behind it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from copier.core import (
    MasterSignal,
    ReconcileNoteKind,
    derive_command_id,
    reconcile_follower,
)
from copier.core.shared_plans import SharedPlans
from copier.worker.decide_reports import decide_report, decide_reports, merge_writes
from copier.worker.draft import (
    Draft,
    FollowerContext,
    FollowerWrite,
    OutboxItem,
    StatusChange,
    attempt_of,
    new_copy,
)
from copier.worker.state import CopyRecord, CopyStatus, FollowerRecord
from schemas.codes import Action
from schemas.messages import SyncSnapshotPayload
from schemas.subscriptions import SubscriptionSettings, SubscriptionStatus

__all__ = [
    "FollowerContext",
    "FollowerWrite",
    "OutboxItem",
    "StatusChange",
    "attempt_of",
    "decide_follower_snapshot",
    "decide_report",
    "decide_reports",
    "decide_signal",
    "decide_signals",
    "merge_writes",
    "snapshot_is_current",
]


def decide_signal(
    signal: MasterSignal,
    settings: SubscriptionSettings,
    follower: FollowerRecord,
    ctx: FollowerContext,
    now_ms: int,
    *,
    grace_ms: int = 2_000,
    shared: SharedPlans | None = None,
) -> FollowerWrite:
    """Decide what one follower does about one master intent.

    Intents for a link that already has parked intents are parked behind them
    (order is kept); otherwise the planner decides, and a `WaitForLink` parks it.

    Args:
        signal: the master's intent.
        settings: the follower's subscription to that master.
        follower: the follower's stored record.
        ctx: the follower's equity and symbols.
        now_ms: the current time.
        grace_ms: how long a sweeper leaves an immediate outbox item to its writer.
        shared: plans shared by the followers decided at `now_ms` (the same result,
            planned once per distinct set of inputs; see `copier.core.shared_plans`).

    Returns:
        The write: new record, copy record, outbox items, status changes.
    """
    return decide_signals(
        (signal,), settings, follower, ctx, now_ms, grace_ms=grace_ms, shared=shared
    )


def decide_signals(
    signals: Sequence[MasterSignal],
    settings: SubscriptionSettings,
    follower: FollowerRecord,
    ctx: FollowerContext,
    now_ms: int,
    *,
    grace_ms: int = 2_000,
    shared: SharedPlans | None = None,
) -> FollowerWrite:
    """`decide_signal` for several intents of one master, in order, as one write.

    Each intent is decided on the record the previous one left: the write is
    `merge_writes` of the `decide_signal` chain, built in one `Draft` instead of
    one per intent.
    """
    draft = Draft(follower, ctx, now_ms, grace_ms, shared)
    for signal in signals:
        _decide_into(draft, signal, settings)
    return draft.finish()


def _decide_into(draft: Draft, signal: MasterSignal, settings: SubscriptionSettings) -> None:
    """Decide one intent on the draft's current record."""
    follower, now_ms = draft.record, draft.now
    link = follower.links.find(signal.master_account_id, signal.intent.ticket)
    if link is not None and follower.parked_for(link.key):
        base = derive_command_id(signal.master_account_id, signal.intent_id, follower.account_id)
        message = "earlier intents for this ticket are waiting for the follower's report"
        draft.copies[base] = replace(
            new_copy(base, signal, now_ms), status=CopyStatus.WAITING, message=message
        )
        draft.park(link.key, signal)
        intent = signal.intent
        if intent.action is Action.CLOSE and intent.new_ticket is not None:
            # the master's remainder ticket: later intents about it wait behind this one
            links = draft.record.links.alias(
                signal.master_account_id, intent.new_ticket, link.root_ticket
            )
            draft.record = draft.record.with_links(links)
        return
    wait_key = draft.plan(signal, settings)
    if wait_key is not None:
        draft.park(wait_key, signal)


def snapshot_is_current(taken_ms: int | None, as_of_ms: int) -> bool:
    """Whether a follower snapshot taken at `taken_ms` (None: unknown) may reconcile a
    record that reflects the EA's state up to `as_of_ms` (0: nothing known).

    Both are the EA's clock, in milliseconds. A snapshot of the very millisecond
    of the newest report is trusted, as on the master side (the EA sends a report
    after executing, so one in the same millisecond as a later snapshot is
    normally in it; and a snapshot sent again is still current).
    """
    return taken_ms is None or taken_ms >= as_of_ms


def decide_follower_snapshot(
    follower: FollowerRecord,
    snapshot: SyncSnapshotPayload,
    round_id: str,
    subscriptions: Mapping[str, SubscriptionSettings],
    ctx: FollowerContext,
    now_ms: int,
    *,
    grace_ms: int = 2_000,
    taken_ms: int | None = None,
) -> FollowerWrite | None:
    """Reconcile a follower's links with its SyncSnapshot (see `reconcile_follower`).

    Closes planned for positions the master no longer holds become commands
    with copy records keyed by their (round-derived) command ids; every other
    change (closed, filled or resized at the broker) gets a copy record with
    that status under the same kind of key, so operators see it.

    `taken_ms` is when the EA took the snapshot (its envelope `ts`). A snapshot
    taken before the newest ExecutionReport (`executed_at_ms`) or snapshot the
    record reflects (`FollowerRecord.as_of_ms`) is out of date and reconciles
    nothing (returns None): the streams are read independently and a killed
    worker's entries are claimed late, and such a snapshot lacks what that
    report did (a position opened after it would be marked gone at the broker,
    a partial close undone by the older volume). The record does not tell which
    links changed after the snapshot, so none of it is trusted; the next
    snapshot reconciles.
    """
    if not snapshot_is_current(taken_ms, follower.as_of_ms):
        return None
    paused = {m for m, s in subscriptions.items() if s.status is SubscriptionStatus.PAUSED}
    result = reconcile_follower(
        follower.account_id, follower.links, snapshot, round_id=round_id, paused_masters=paused
    )
    draft = Draft(follower, ctx, now_ms, grace_ms)
    as_of_ms = follower.as_of_ms if taken_ms is None else max(follower.as_of_ms, taken_ms)
    draft.record = replace(draft.record, links=result.links, as_of_ms=as_of_ms)
    for command in result.commands:
        json_form = draft.send(command)
        draft.copies[command.command_id] = CopyRecord(
            command_id=command.command_id,
            master_id=command.master_account_id or "",
            intent_id=f"reconcile:{round_id}:{command.master_ticket}",
            action=command.action,
            master_ticket=command.master_ticket,
            symbol=command.symbol,
            status=CopyStatus.QUEUED,
            intent_received_ms=now_ms,
            decided_ms=now_ms,
            reason="reconcile",
            message="the master no longer holds this position",
            requested_volume=command.volume,
            current_command_id=command.command_id,
            attempts=1,
            command=json_form,
        )
    for note in result.notes:
        draft.notes.append(f"{note.kind.value}: {note.message}")
        key = derive_command_id(
            note.master_account_id,
            f"reconcile:{round_id}:{note.master_ticket}",
            follower.account_id,
        )
        link = result.links.find(note.master_account_id, note.master_ticket)
        if key in draft.copies or link is None:
            continue  # a planned close: its record is above
        draft.copies[key] = CopyRecord(
            command_id=key,
            master_id=note.master_account_id,
            intent_id=f"reconcile:{round_id}:{note.master_ticket}",
            action=Action.CLOSE
            if note.kind is ReconcileNoteKind.CLOSED_AT_BROKER
            else (Action.MODIFY),
            master_ticket=note.master_ticket,
            symbol=link.symbol,
            status=note.kind.value,
            intent_received_ms=now_ms,
            decided_ms=now_ms,
            reason="reconcile",
            message=note.message,
            follower_ticket=note.follower_ticket,
        )
    return draft.finish()
