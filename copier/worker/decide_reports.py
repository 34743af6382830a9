"""The worker's decisions about a follower's ExecutionReports: pure, no I/O, no clock.

- `decide_report`: one ExecutionReport -> link update, retry (a delayed outbox
  entry under ``<id>.rN``) or give-up, breaker update, and the replay of the
  intents parked on the link it unblocked (the commands the copier then sends on
  its own: `copier.worker.report_exits`);
- `decide_reports`: a follower's reports in order, as one write (`merge_writes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from copier.core import BackoffPolicy, LinkKind, Retry, decide_retry, retry_command_id
from copier.core.conversion import withdraw_conversion
from copier.core.links import TicketLink
from copier.worker.draft import Draft, FollowerContext, FollowerWrite, attempt_of
from copier.worker.report_exits import open_converted, settle_pending_copy
from copier.worker.state import SIGNAL_EXPIRED, CopyRecord, CopyStatus, FollowerRecord
from schemas.codes import Action, ExecutionStatus
from schemas.messages import ExecutionReportPayload, OrderCommandPayload
from schemas.subscriptions import SubscriptionSettings

__all__ = ["decide_report", "decide_reports", "merge_writes"]

_FILL_STATUSES = frozenset({ExecutionStatus.FILLED, ExecutionStatus.CLOSED})


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
    if open_converted(draft, link, report, copy, subscriptions):
        return draft.finish()  # parked intents wait for the market open's report
    if applied.unblocked and applied.link is not None:
        draft.replay(applied.link.key, subscriptions)
    settle_pending_copy(draft, link, applied.link, report, subscriptions)
    return draft.finish()


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
