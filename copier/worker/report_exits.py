"""What the worker sends on its own after a follower's report: pure, no I/O, no clock.

Part of `decide_report` (`copier.worker.decide_reports`); each helper adds to the
report's `Draft`:

- `open_converted`: the market open that follows a confirmed conversion cancel
  (`copier.core.conversion`);
- `settle_pending_copy`: after a pending copy's fill or a refused cancel, the
  close of a position the master no longer holds (orphan) and the close of the
  share of a partial close made while the copy was pending (owed).

Each such command gets a copy record of its own (reason ``reconcile``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from copier.core import LinkKind, LinkState
from copier.core.conversion import conversion_open, is_conversion_cancel
from copier.core.links import InFlight, LinkKey, TicketLink
from copier.core.reconcile import exit_command
from copier.worker.draft import Draft
from copier.worker.state import CopyRecord, CopyStatus
from schemas.codes import Action, ExecutionStatus
from schemas.messages import ExecutionReportPayload, OrderCommandPayload
from schemas.subscriptions import SubscriptionSettings, SubscriptionStatus

__all__ = ["open_converted", "settle_pending_copy"]

_REFUSALS = frozenset({ExecutionStatus.REJECTED, ExecutionStatus.EXPIRED})


def open_converted(
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


def settle_pending_copy(
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
    link = _idle_open_link(draft, key, subscriptions)
    if link is None:
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
    link = _idle_open_link(draft, key, subscriptions)
    if (
        link is None
        or link.kind is not LinkKind.POSITION
        or not link.master_closed
        or draft.record.parked_for(key)
    ):
        return
    round_id = f"orphan:{report.command_id}"
    command, link = exit_command(link, draft.record.account_id, round_id)
    draft.record = replace(draft.record, links=draft.record.links.track(command.command_id, link))
    _send_reconcile_exit(draft, command, link, round_id, "the master no longer holds this position")


def _idle_open_link(
    draft: Draft, key: LinkKey, subscriptions: Mapping[str, SubscriptionSettings]
) -> TicketLink | None:
    """The follower's open link at `key` the copier may close on its own: its
    subscription not paused, nothing in flight, a follower ticket known; else None."""
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
        return None
    return link


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
