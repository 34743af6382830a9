"""A pending copy left behind by the master's fill: cancel it, then open at market.

A master pending order that fills reaches the planner as an ``open`` for the same
ticket. The follower's copy is expected to fill at the same level at its own
broker (`SkipReason.FILLS_AT_BROKER`). When the copy reached the follower late
(an outage, a failover, a preemption), the market may have left that level and
the copy stays pending while the master holds a position.

The rule, in two steps, each pure (time passed in):

1. `schedule_conversion`, at the master's fill: when the follower's copy is a
   placed pending order with nothing in flight and the subscription's
   ``pending_fill_grace_ms`` is set, a ``cancel_pending`` of the copy is sent
   *delayed* by the grace (an outbox item due ``now + grace``), so the copy can
   still fill at its own broker in the normal case. The link awaits the cancel
   from now on (closes wait behind it, as behind any cancel). No conversion is
   scheduled when the open would be older than ``max_signal_age_ms`` by the
   time the grace ends (the age guard of every open; the subscription has no
   price-deviation setting): the copy is left to fill at its broker.
2. `conversion_open`, at the cancel's ``cancelled`` report while the master still
   holds the position (``master_volume > 0``: a cancel the master asked for, or an
   orphan cancel, always comes with ``master_volume == 0``): the position is opened
   at market with the copy's lots and stops; the link becomes an opening position.
   A master's full close during the grace is carried by that cancel (the link
   books the master side closed, so no open follows); a partial close waits
   behind it and is replayed on the market copy once it is reported. Exactly
   once: the open follows the *confirmed* cancel; a cancel refused because
   the copy filled meanwhile leaves the filled link (its ``filled`` report made it a
   position) and sends nothing more.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from copier.core.commands import derive_command_id, order_command
from copier.core.links import InFlight, LinkKind, LinkState, TicketLink
from copier.core.outcomes import Send
from schemas.codes import Action, OrderType
from schemas.messages import OrderCommandPayload
from schemas.subscriptions import SubscriptionSettings

__all__ = [
    "conversion_open",
    "is_conversion_cancel",
    "is_converting",
    "schedule_conversion",
    "withdraw_conversion",
]


def schedule_conversion(
    link: TicketLink,
    settings: SubscriptionSettings,
    *,
    intent_id: str,
    follower_account_id: str,
    fill_received_ms: int,
    sl: Decimal | None,
    tp: Decimal | None,
    now_ms: int,
) -> tuple[Send, TicketLink] | str:
    """The delayed cancel of a pending copy whose master order filled, or why there is none.

    Args:
        link: the follower's link (master volume already updated to the fill).
        settings: the subscription.
        intent_id: the master's fill intent (the cancel's command id derives from it).
        follower_account_id: the follower.
        fill_received_ms: when the server received the master's fill.
        sl: the follower's stop loss for the market copy (carried by the cancel).
        tp: the follower's take profit for the market copy (carried by the cancel).
        now_ms: the current time.

    Returns:
        The delayed cancel and the link awaiting it, or a reason (text) to leave the
        copy to fill at its broker.
    """
    grace = settings.pending_fill_grace_ms
    if grace is None:
        return "pending_fill_grace_ms is off"
    if (
        link.kind is not LinkKind.PENDING_ORDER
        or link.state is not LinkState.OPEN
        or link.in_flight is not None
        or link.follower_ticket is None
        or link.master_closed
    ):
        return "the copy is not an idle placed pending order"
    due = now_ms + grace
    max_age = settings.max_signal_age_ms
    if max_age is not None and due - fill_received_ms > max_age:
        return (
            f"the fill would be {due - fill_received_ms} ms old after the grace, "
            f"max_signal_age_ms {max_age}: not opened at market"
        )
    command_id = derive_command_id(link.master_account_id, intent_id, follower_account_id)
    command = order_command(
        command_id,
        action=Action.CANCEL_PENDING,
        symbol=link.symbol,
        side=link.side,
        order_type=link.order_type,
        volume=link.remaining_volume,
        master_ticket=link.master_ticket,
        ticket=link.follower_ticket,
        sl=sl,
        tp=tp,
        master_account_id=link.master_account_id,
    )
    flight = InFlight(command_id, Action.CANCEL_PENDING, link.remaining_volume)
    return Send(command, not_before_ms=due), replace(link, in_flight=flight)


def is_converting(link: TicketLink) -> bool:
    """Whether `link` is a pending copy whose conversion cancel is on its way."""
    flight = link.in_flight
    return (
        flight is not None
        and flight.action is Action.CANCEL_PENDING
        and link.kind is LinkKind.PENDING_ORDER
        and link.from_pending
        and not link.master_closed
    )


def is_conversion_cancel(before: TicketLink, command_id: str) -> bool:
    """Whether `command_id` is a conversion's cancel of `before` (the link before its report)."""
    flight = before.in_flight
    return is_converting(before) and flight is not None and flight.command_id == command_id


def withdraw_conversion(before: TicketLink, after: TicketLink) -> tuple[str, TicketLink] | None:
    """The conversion cancel to withdraw at the copy's fill, and the link without it.

    Args:
        before: the link before the follower's report.
        after: the link after it.

    Returns:
        (the scheduled cancel's command id, `after` no longer awaiting it) when
        `before` was converting and the report made the copy a position; else None.
    """
    flight = before.in_flight
    if flight is None or not is_converting(before) or after.kind is not LinkKind.POSITION:
        return None
    if after.in_flight is None or after.in_flight.command_id != flight.command_id:
        return None
    return flight.command_id, replace(after, in_flight=None)


def conversion_open(
    before: TicketLink,
    cancel: OrderCommandPayload,
    *,
    follower_account_id: str,
    settings: SubscriptionSettings,
    now_ms: int,
) -> tuple[OrderCommandPayload, TicketLink] | None:
    """The market open replacing a pending copy whose conversion cancel was confirmed.

    Args:
        before: the link before the ``cancelled`` report (the pending copy).
        cancel: the conversion's cancel command (it carries the copy's stops).
        follower_account_id: the follower.
        settings: the subscription.
        now_ms: the current time.

    Returns:
        The open and the (opening, position) link awaiting it; None when the master no
        longer holds the position or nothing is left to open.
    """
    volume = before.remaining_volume
    if before.master_closed or volume <= 0:
        return None
    command_id = derive_command_id(
        before.master_account_id, f"convert:{cancel.command_id}", follower_account_id
    )
    max_age = settings.max_signal_age_ms
    command = order_command(
        command_id,
        action=Action.OPEN,
        symbol=before.symbol,
        side=before.side,
        order_type=OrderType.MARKET,
        volume=volume,
        master_ticket=before.master_ticket,
        sl=cancel.sl,
        tp=cancel.tp,
        expires_at=None if max_age is None else now_ms + max_age,
        master_account_id=before.master_account_id,
    )
    link = replace(
        before,
        kind=LinkKind.POSITION,
        state=LinkState.OPENING,
        order_type=OrderType.MARKET,
        open_command_id=command_id,
        follower_ticket=None,
        in_flight=InFlight(command_id, Action.OPEN, volume),
        from_pending=False,
    )
    return command, link
