"""The worker's decisions for one follower: pure, no I/O, no clock.

This is the sans-I/O half of the worker. The pump (`copier.worker.pump`) loads a
`FollowerRecord`, calls one of the functions below and writes the returned
`FollowerWrite` atomically (with a version check); it never decides anything.

- `decide_signal`: one master intent (live, replayed or synthetic) -> a command,
  a skip or a parked intent, plus the copy record (`decide_signals`: several
  intents of one master in a row, as one write);
- `decide_report`: one ExecutionReport -> link update, retry (a delayed outbox
  entry under ``<id>.rN``) or give-up, breaker update, and the replay of the
  intents parked on the link it unblocked;
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
from decimal import Decimal

from copier.core import (
    BackoffPolicy,
    LinkKind,
    LinkState,
    MasterSignal,
    ReconcileNoteKind,
    Retry,
    decide_retry,
    derive_command_id,
    reconcile_follower,
    retry_command_id,
)
from copier.core.conversion import conversion_open, is_conversion_cancel, withdraw_conversion
from copier.core.links import InFlight, LinkKey, TicketLink
from copier.core.reconcile import exit_command
from copier.core.shared_plans import SharedPlans
from copier.worker.draft import (
    Draft,
    FollowerContext,
    FollowerWrite,
    OutboxItem,
    StatusChange,
    attempt_of,
    new_copy,
)
from copier.worker.state import SIGNAL_EXPIRED, CopyRecord, CopyStatus, FollowerRecord
from schemas.codes import Action, ExecutionStatus
from schemas.messages import (
    ExecutionReportPayload,
    OrderCommandPayload,
    SyncSnapshotPayload,
)
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

_FILL_STATUSES = frozenset({ExecutionStatus.FILLED, ExecutionStatus.CLOSED})
_REFUSALS = frozenset({ExecutionStatus.REJECTED, ExecutionStatus.EXPIRED})


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


def decide_report(
    follower: FollowerRecord,
    report: ExecutionReportPayload,
    copy: CopyRecord | None,
    subscriptions: Mapping[str, SubscriptionSettings],
    ctx: FollowerContext,
    now_ms: int,
    *,
    grace_ms: int = 2_000,
    policy: BackoffPolicy | None = None,
    not_delivered: bool = False,
    signal_expired: bool = False,
) -> FollowerWrite | None:
    """Apply one ExecutionReport of a follower.

    Args:
        follower: the follower's stored record.
        report: the report.
        copy: the copy record of the report's command (base id), if any.
        subscriptions: the follower's subscriptions by master (for parked replays).
        ctx: the follower's equity and symbols.
        now_ms: the current time.
        grace_ms: see `decide_signal`.
        policy: retry backoff.
        not_delivered: the "report" is the copier's own: the delivery log refused
            the command (no retry, no breaker count).
        signal_expired: the "report" is the gateway's delivery check: the open
            expired before it was sent (status expired, reason `signal_expired`, no
            breaker count).

    Returns:
        The write, or None when the report is for no awaited command (a
        duplicate or unknown report changes nothing).
    """
    links = follower.links
    link = links.for_command(report.command_id)
    if link is None:
        return None
    draft = Draft(follower, ctx, now_ms, grace_ms)
    before_state = follower.breaker.state(now_ms)
    if not (not_delivered or signal_expired or _conversion_refused(link, report, copy)):
        draft.record = replace(
            draft.record,
            breaker=follower.breaker.on_report(report, now_ms),
            # the EA's time of the newest report applied: older snapshots are out of date
            as_of_ms=max(follower.as_of_ms, report.executed_at_ms or 0),
        )
    give_up: str | None = None
    if report.status is ExecutionStatus.REJECTED and not not_delivered:
        expires = None if copy is None or copy.command is None else copy.command.get("expires_at")
        decision = decide_retry(
            report,
            retries_done=attempt_of(report.command_id),
            now_ms=now_ms,
            expires_at=expires if isinstance(expires, int) else None,
            policy=policy,
        )
        if isinstance(decision, Retry) and copy is not None and copy.command is not None:
            new_id = retry_command_id(report.command_id, decision.attempt)
            draft.record = replace(draft.record, links=links.reissue(report.command_id, new_id))
            command = OrderCommandPayload.model_validate({**copy.command, "command_id": new_id})
            draft.send(command, due_ms=decision.not_before_ms)
            draft.copies[copy.command_id] = replace(
                copy,
                status=CopyStatus.RETRYING,
                reason=f"mt4_error_{report.error_code}",
                message=f"retry {decision.attempt} in {decision.delay_ms} ms",
                current_command_id=new_id,
                attempts=copy.attempts + 1,
                reported_ms=now_ms,
                decided_ms=now_ms,
            )
            draft.breaker_alert(before_state)
            return draft.finish()
        if not isinstance(decision, Retry):
            give_up = decision.reason.value
    applied = links.apply_report(report)
    draft.record = replace(draft.record, links=applied.book)
    withdrawal = None if applied.link is None else withdraw_conversion(link, applied.link)
    if withdrawal is not None:  # the copy filled in the grace: its cancel is not needed
        cancel_id, settled = withdrawal
        draft.record = replace(draft.record, links=applied.book.put(settled))
        draft.withdrawn.append(cancel_id)
        draft.notes.append(f"{cancel_id}: the copy filled in the grace, its cancel is withdrawn")
        draft.replay(settled.key, subscriptions)  # closes parked behind the cancel
    if copy is not None:
        if signal_expired:
            give_up = SIGNAL_EXPIRED
        draft.copies[copy.command_id] = _reported(copy, report, now_ms, give_up, not_delivered)
    draft.breaker_alert(before_state)
    if _open_converted(draft, link, report, copy, subscriptions):
        return draft.finish()  # parked intents wait for the market open's report
    if applied.unblocked and applied.link is not None:
        draft.replay(applied.link.key, subscriptions)
    _settle_pending_copy(draft, link, applied.link, report, subscriptions)
    return draft.finish()


def _settle_pending_copy(
    draft: Draft,
    before: TicketLink,
    after: TicketLink | None,
    report: ExecutionReportPayload,
    subscriptions: Mapping[str, SubscriptionSettings],
) -> None:
    """After a pending copy's fill or a refused cancel: close an orphan, close an owed share."""
    flight = before.in_flight
    cancel_refused = (
        flight is not None
        and flight.command_id == report.command_id
        and flight.action is Action.CANCEL_PENDING
        and report.status in _REFUSALS
    )
    pending_filled = (
        before.kind is LinkKind.PENDING_ORDER
        and after is not None
        and after.kind is LinkKind.POSITION
    )
    if cancel_refused or pending_filled:
        _close_if_orphaned(draft, before.key, report, subscriptions)
    if pending_filled and after is not None:
        owed = after.remaining_volume - before.remaining_volume
        if owed > 0:
            _close_owed(draft, before.key, owed, report, subscriptions)


def _conversion_refused(
    link: TicketLink, report: ExecutionReportPayload, copy: CopyRecord | None
) -> bool:
    """A conversion cancel refused because the copy filled: expected, not a broker failure.

    The cancel is scheduled before the grace; a copy that filled in time (the normal
    case) gets it only when it was already handed to the delivery log (else its fill
    withdrew it: `withdraw_conversion`). Either way it must not feed the breaker:
    awaited (the cancel's report came first), or a ``cancel_pending`` of a link that
    is a position by now (the fill's report came first and withdrew it too late).
    """
    if report.status is not ExecutionStatus.REJECTED or not link.from_pending:
        return False
    flight = link.in_flight
    if flight is not None and flight.command_id == report.command_id:
        return flight.action is Action.CANCEL_PENDING and not link.master_closed
    command = None if copy is None else copy.command
    return (
        link.kind is LinkKind.POSITION
        and command is not None
        and command.get("action") == Action.CANCEL_PENDING.value
    )


def _open_converted(
    draft: Draft,
    before: TicketLink,
    report: ExecutionReportPayload,
    copy: CopyRecord | None,
    subscriptions: Mapping[str, SubscriptionSettings],
) -> bool:
    """Open at market the position whose pending copy a conversion cancel just removed.

    See `copier.core.conversion`: sent once, only after the confirmed cancel.
    """
    if report.status is not ExecutionStatus.CANCELLED or not is_conversion_cancel(
        before, report.command_id
    ):
        return False
    link = draft.record.links.links.get(before.key)
    settings = None if link is None else subscriptions.get(link.master_account_id)
    if (
        link is None
        or settings is None
        or settings.status is not SubscriptionStatus.ACTIVE
        or copy is None
        or copy.command is None
    ):
        return False
    cancel = OrderCommandPayload.model_validate(copy.command)
    opened = conversion_open(
        before,
        cancel,
        follower_account_id=draft.record.account_id,
        settings=settings,
        now_ms=draft.now,
    )
    if opened is None:
        return False
    command, link = opened
    draft.record = replace(draft.record, links=draft.record.links.track(command.command_id, link))
    _send_reconcile_exit(
        draft,
        command,
        link,
        f"convert:{cancel.command_id}",
        "the master's pending order filled and the follower's copy stayed pending "
        f"{settings.pending_fill_grace_ms} ms: cancelled and opened at market",
    )
    return True


def _close_owed(
    draft: Draft,
    key: LinkKey,
    owed: Decimal,
    report: ExecutionReportPayload,
    subscriptions: Mapping[str, SubscriptionSettings],
) -> None:
    """Close the share of a master's partial close that came while the copy was pending.

    `plan_exit` lowered the pending copy's remaining lots by that share; the fill
    report set them to what actually filled: the excess is owed.
    """
    link = draft.record.links.links.get(key)
    settings = None if link is None else subscriptions.get(link.master_account_id)
    if (
        link is None
        or settings is None
        or settings.status is SubscriptionStatus.PAUSED
        or link.state is not LinkState.OPEN
        or link.in_flight is not None
        or link.follower_ticket is None
    ):
        return
    round_id = f"owed:{report.command_id}"
    command, _ = exit_command(
        replace(link, remaining_volume=owed), draft.record.account_id, round_id
    )
    link = replace(link, in_flight=InFlight(command.command_id, Action.CLOSE, owed))
    draft.record = replace(draft.record, links=draft.record.links.track(command.command_id, link))
    _send_reconcile_exit(
        draft,
        command,
        link,
        round_id,
        "the share of a partial close made while the copy was pending",
    )


def _close_if_orphaned(
    draft: Draft,
    key: LinkKey,
    report: ExecutionReportPayload,
    subscriptions: Mapping[str, SubscriptionSettings],
) -> None:
    """Close a copied position the master no longer holds once nothing is in flight.

    A master pending order that fills and closes while the copier is behind sends a
    cancel; if the follower's copy filled meanwhile, the cancel is refused ("not a
    pending order") and the position stays. Whichever comes last, the fill report
    or the refusal, leaves the link open, idle and closed on the master side: close it
    (once: only a pending copy's fill or a refused cancel lead here, never a refused
    close, so a close the broker keeps refusing is not sent again and again).
    """
    link = draft.record.links.links.get(key)
    settings = None if link is None else subscriptions.get(link.master_account_id)
    if (
        link is None
        or settings is None
        or settings.status is SubscriptionStatus.PAUSED
        or link.state is not LinkState.OPEN
        or link.kind is not LinkKind.POSITION
        or link.in_flight is not None
        or link.follower_ticket is None
        or not link.master_closed
        or draft.record.parked_for(key)
    ):
        return
    round_id = f"orphan:{report.command_id}"
    command, link = exit_command(link, draft.record.account_id, round_id)
    draft.record = replace(draft.record, links=draft.record.links.track(command.command_id, link))
    _send_reconcile_exit(draft, command, link, round_id, "the master no longer holds this position")


def _send_reconcile_exit(
    draft: Draft, command: OrderCommandPayload, link: TicketLink, round_id: str, why: str
) -> None:
    """Send a command the copier decided on its own (not a master intent), with its copy record."""
    json_form = draft.send(command)
    draft.copies[command.command_id] = CopyRecord(
        command_id=command.command_id,
        master_id=link.master_account_id,
        intent_id=f"reconcile:{round_id}:{link.root_ticket}",
        action=command.action,
        master_ticket=command.master_ticket,
        symbol=command.symbol,
        status=CopyStatus.QUEUED,
        intent_received_ms=draft.now,
        decided_ms=draft.now,
        reason="reconcile",
        message=why,
        requested_volume=command.volume,
        current_command_id=command.command_id,
        attempts=1,
        command=json_form,
    )


def decide_reports(
    follower: FollowerRecord,
    reports: Sequence[ExecutionReportPayload],
    copies: Mapping[str, CopyRecord],
    subscriptions: Mapping[str, SubscriptionSettings],
    ctx: FollowerContext,
    now_ms: int,
    *,
    grace_ms: int = 2_000,
) -> FollowerWrite | None:
    """Apply a follower's reports, in order, as one write.

    The result is what applying them one at a time with `decide_report` would
    have written, merged into one commit: each report is decided on the record
    the previous one produced, so a close parked behind an open's fill is
    released (sent) in the same write as that fill.

    Args:
        follower: the follower's stored record.
        reports: its reports, oldest first.
        copies: the copy records by base command id (those of the reports' commands).
        subscriptions: see `decide_report`.
        ctx: the follower's equity and symbols.
        now_ms: the current time.
        grace_ms: see `decide_signal`.

    Returns:
        The merged write, or None when no report changes anything.
    """
    record = follower
    known = dict(copies)
    parts: list[FollowerWrite] = []
    for report in reports:
        write = decide_report(
            record,
            report,
            known.get(retry_command_id(report.command_id, 0)),
            subscriptions,
            ctx,
            now_ms,
            grace_ms=grace_ms,
        )
        if write is None:
            continue
        parts.append(write)
        record = write.after
        known.update((copy.command_id, copy) for copy in write.copies)
    return merge_writes(parts) if parts else None


def merge_writes(parts: Sequence[FollowerWrite]) -> FollowerWrite:
    """Consecutive writes of one follower (each made on the previous one's `after`) as one."""
    copies: dict[str, CopyRecord] = {}
    for part in parts:
        copies.update((copy.command_id, copy) for copy in part.copies)
    return FollowerWrite(
        parts[0].before,
        parts[-1].after,
        tuple(copies.values()),
        tuple(item for part in parts for item in part.outbox),
        tuple(change for part in parts for change in part.status_changes),
        tuple(note for part in parts for note in part.notes),
        tuple(envelope_id for part in parts for envelope_id in part.withdrawn),
    )


def _reported(
    copy: CopyRecord,
    report: ExecutionReportPayload,
    now_ms: int,
    give_up: str | None,
    not_delivered: bool,
) -> CopyRecord:
    status = CopyStatus.NOT_DELIVERED if not_delivered else report.status.value
    reason = copy.reason
    if report.status in (ExecutionStatus.REJECTED, ExecutionStatus.EXPIRED):
        reason = give_up or (
            f"mt4_error_{report.error_code}" if report.error_code else report.status.value
        )
    filled = report.status in _FILL_STATUSES or report.status is ExecutionStatus.PLACED
    return replace(
        copy,
        status=status,
        reason=reason,
        message=report.error_message or copy.message,
        follower_ticket=report.ticket if report.ticket is not None else copy.follower_ticket,
        filled_volume=report.volume if filled and report.volume else copy.filled_volume,
        filled_price=report.price if filled and report.price else copy.filled_price,
        reported_ms=now_ms,
        decided_ms=now_ms,
    )


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
