"""Planning changes to copied exposure: ``modify``, ``close`` and ``cancel_pending``.

These are never blocked by risk guards, the circuit breaker, ``close_only`` or
signal age; only ``paused`` stops them. They always target the follower ticket
the link learnt from an ExecutionReport: while the link is still opening (or a
close/cancel of it is in flight) the answer is `WaitForLink`.

Partial closes are proportional to the follower's copied volume::

    follower_close = round_down(follower_remaining x closed_master / master_before, lot_step)

A partial close names the master's remainder ticket (``new_ticket``); one that
finds the link already on that ticket was applied before under another intent id
(a reconciled SyncSnapshot and the EA's replay can both tell it) and is skipped.

A close of the master's whole remainder closes the follower's whole remainder,
so the follower's closes always add up exactly to what it opened. When the share
is below min_lot nothing is sent (`CLOSE_BELOW_MIN_LOT`, the next close catches
up); when the follower would keep less than min_lot, it closes everything.

The master side is booked even when nothing is sent (paused, below min lot):
the link's master volume drops and the master's ``new_ticket`` becomes an alias,
so later intents still find the link and a later reconciliation can close what
the master no longer holds.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from copier.core.allocation import round_down
from copier.core.commands import derive_command_id, follower_stops
from copier.core.conversion import is_converting
from copier.core.inputs import FollowerState, MasterSignal, Plan
from copier.core.links import InFlight, LinkKind, LinkState, TicketLink
from copier.core.outcomes import Send, Skip, SkipReason, WaitForLink
from schemas.codes import Action, OrderType
from schemas.messages import OrderCommandPayload
from schemas.subscriptions import SubscriptionSettings, SubscriptionStatus

__all__ = ["close_volume", "plan_exit", "plan_modify"]

_ZERO = Decimal(0)


def close_volume(
    link: TicketLink, master_closed: Decimal, *, lot_step: Decimal, min_lot: Decimal
) -> Decimal:
    """Follower lots to close when the master closes `master_closed` lots.

    Args:
        link: the link, with the master's volume *before* this close.
        master_closed: lots the master closed.
        lot_step: the follower symbol's lot_step.
        min_lot: the follower symbol's min_lot.

    Returns:
        Lots to close: the whole remainder for a full close, else the proportional
        share rounded down to lot_step; 0 when the share is below min_lot.
    """
    remaining = link.remaining_volume
    if master_closed >= link.master_volume:
        return remaining
    share = round_down(remaining * master_closed / link.master_volume, lot_step)
    if share < min_lot or share <= _ZERO:
        return _ZERO
    if share >= remaining or remaining - share < min_lot:
        return remaining
    return share


def _blocked(signal: MasterSignal, link: TicketLink | None, follower: FollowerState) -> Plan | None:
    """The plan when `link` cannot take a command now (missing, duplicate, busy)."""
    book = follower.links
    ticket = signal.intent.ticket
    if link is None:
        return Plan(
            Skip(SkipReason.NOT_COPIED, f"master ticket {ticket} was not copied to this follower"),
            book,
        )
    if signal.intent_id in link.intent_ids:
        return Plan(
            Skip(SkipReason.DUPLICATE_INTENT, f"intent {signal.intent_id} was applied"), book
        )
    return None


def _waiting(signal: MasterSignal, link: TicketLink) -> str | None:
    if link.state is LinkState.OPENING:
        return f"the copy of master ticket {signal.intent.ticket} has no follower ticket yet"
    if link.in_flight is not None:
        return f"{link.in_flight.action} {link.in_flight.command_id} is awaiting its report"
    return None


def _not_open(link: TicketLink, ticket: int) -> Skip | None:
    if link.state is LinkState.FAILED:
        return Skip(SkipReason.LINK_FAILED, f"the copy of master ticket {ticket} failed")
    if link.state is LinkState.CLOSED:
        return Skip(SkipReason.LINK_CLOSED, f"the copy of master ticket {ticket} is closed")
    return None


def plan_modify(
    signal: MasterSignal, settings: SubscriptionSettings, follower: FollowerState, now_ms: int
) -> Plan:
    """Plan a ``modify`` (SL/TP, or a pending order's price) for one follower.

    Args:
        signal: the master's intent.
        settings: the subscription.
        follower: the follower's state.
        now_ms: the current time (modifies never expire; kept for symmetry).

    Returns:
        A modify command to the linked follower ticket, a skip, or a wait.
    """
    intent = signal.intent
    link = follower.links.find(signal.master_account_id, intent.ticket)
    blocked = _blocked(signal, link, follower)
    if blocked is not None:
        return blocked
    assert link is not None
    book = follower.links
    not_open = _not_open(link, intent.ticket)
    if not_open is not None:
        return Plan(not_open, book)
    wait = _waiting(signal, link)
    if wait is not None or link.follower_ticket is None:
        message = wait or "no follower ticket"
        return Plan(WaitForLink(signal.master_account_id, intent.ticket, message), book)
    if settings.status is SubscriptionStatus.PAUSED:
        return Plan(Skip(SkipReason.PAUSED, "the subscription is paused: nothing is copied"), book)
    is_pending = link.kind is LinkKind.PENDING_ORDER and intent.order_type is not OrderType.MARKET
    price = intent.price if is_pending else None
    if not settings.copy_sl_tp and price is None:
        return Plan(Skip(SkipReason.SL_TP_NOT_COPIED, "copy_sl_tp is off"), book)
    sl, tp = follower_stops(settings, intent.sl, intent.tp)
    command_id = derive_command_id(signal.master_account_id, signal.intent_id, follower.account_id)
    command = OrderCommandPayload(
        command_id=command_id,
        action=Action.MODIFY,
        symbol=link.symbol,
        side=link.side,
        order_type=link.order_type,
        volume=link.remaining_volume,
        master_ticket=intent.ticket,
        ticket=link.follower_ticket,
        price=price,
        sl=sl,
        tp=tp,
        master_account_id=signal.master_account_id,
    )
    return Plan(Send(command), book.track(command_id, link.with_intent(signal.intent_id)))


def _book_master_side(signal: MasterSignal, link: TicketLink) -> tuple[TicketLink, bool]:
    """The link after the master's close/cancel, and whether the master closed it all."""
    intent = signal.intent
    full = intent.action is Action.CANCEL_PENDING or intent.volume >= link.master_volume
    if full:
        updated = replace(link, master_volume=_ZERO)
    else:
        updated = replace(
            link,
            master_volume=link.master_volume - intent.volume,
            master_ticket=intent.new_ticket if intent.new_ticket is not None else intent.ticket,
        )
    return updated.with_intent(signal.intent_id), full


def plan_exit(
    signal: MasterSignal, settings: SubscriptionSettings, follower: FollowerState, now_ms: int
) -> Plan:
    """Plan a ``close`` (full or partial) or ``cancel_pending`` for one follower.

    Args:
        signal: the master's intent.
        settings: the subscription.
        follower: the follower's state.
        now_ms: the current time (closes never expire; kept for symmetry).

    Returns:
        A close or cancel_pending command to the linked follower ticket, a skip
        (with the master side booked), or a wait (with the master's new ticket
        aliased, so later intents for it wait too).
    """
    intent = signal.intent
    link = follower.links.find(signal.master_account_id, intent.ticket)
    blocked = _blocked(signal, link, follower)
    if blocked is not None:
        return blocked
    assert link is not None
    book = follower.links
    if intent.action is Action.CLOSE and intent.new_ticket is not None:
        if link.master_ticket == intent.new_ticket:
            # the link already moved to the remainder: this partial close was applied,
            # told again under another id (a reconciled snapshot, and the EA's replay)
            message = f"master ticket {intent.ticket} already became {intent.new_ticket}"
            return Plan(Skip(SkipReason.DUPLICATE_INTENT, message), book)
        book = book.alias(signal.master_account_id, intent.new_ticket, link.root_ticket)
    full_close = intent.action is Action.CANCEL_PENDING or (
        intent.new_ticket is None and intent.volume >= link.master_volume
    )
    if full_close and is_converting(link):
        # the conversion's cancel (copier.core.conversion) removes the copy; with the
        # master side booked closed, no market open follows it
        link, _ = _book_master_side(signal, link)
        message = "the follower's pending copy is being cancelled (pending fill grace over)"
        return Plan(Skip(SkipReason.PENDING_NOT_FILLED, message), book.put(link))
    wait = _waiting(signal, link)
    if wait is not None:
        return Plan(WaitForLink(signal.master_account_id, intent.ticket, wait), book)
    before = link
    link, full = _book_master_side(signal, link)
    book = book.put(link)
    not_open = _not_open(link, intent.ticket)
    if not_open is not None:
        return Plan(not_open, book)
    if settings.status is SubscriptionStatus.PAUSED:
        return Plan(Skip(SkipReason.PAUSED, "the subscription is paused: nothing is copied"), book)
    if link.kind is LinkKind.PENDING_ORDER:
        if not full:
            # the share the follower owes once its copy fills (it may have filled already,
            # its report on the way): the copy's remaining lots drop by it, and the fill
            # report closes the excess (copier.worker.decide)
            spec = follower.symbols.get(link.symbol)
            owed = close_volume(
                before,
                intent.volume,
                lot_step=link.lot_step if spec is None else spec.lot_step,
                min_lot=link.min_lot if spec is None else spec.min_lot,
            )
            book = book.put(replace(link, remaining_volume=link.remaining_volume - owed))
            message = (
                "the follower's copy is still a pending order; "
                f"{owed} lots are closed when it fills"
            )
            return Plan(Skip(SkipReason.PENDING_NOT_FILLED, message), book)
        action, volume = Action.CANCEL_PENDING, link.remaining_volume
    else:
        spec = follower.symbols.get(link.symbol)
        volume = close_volume(
            before,
            intent.volume if not full else before.master_volume,
            lot_step=link.lot_step if spec is None else spec.lot_step,
            min_lot=link.min_lot if spec is None else spec.min_lot,
        )
        if volume <= _ZERO:
            message = (
                f"master closed {intent.volume} of {before.master_volume} lots; the follower's "
                f"share of {before.remaining_volume} lots is below min_lot"
            )
            return Plan(Skip(SkipReason.CLOSE_BELOW_MIN_LOT, message), book)
        action = Action.CLOSE
    assert link.follower_ticket is not None  # an open link always has one
    command_id = derive_command_id(signal.master_account_id, signal.intent_id, follower.account_id)
    command = OrderCommandPayload(
        command_id=command_id,
        action=action,
        symbol=link.symbol,
        side=link.side,
        order_type=link.order_type,
        volume=volume,
        master_ticket=intent.ticket,
        ticket=link.follower_ticket,
        master_account_id=signal.master_account_id,
    )
    link = replace(link, in_flight=InFlight(command_id, action, volume))
    return Plan(Send(command), book.track(command_id, link))
