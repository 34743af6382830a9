"""Planning new exposure: ``open`` (market) and ``place_pending``.

Checks, in order (the first that fails decides the skip reason):

1. subscription status: ``paused`` and ``close_only`` copy no entries;
2. ``copy_pending`` (place_pending only);
3. the link of the master ticket: a duplicate intent, an already copied ticket,
   or the fill of a master pending order (see below);
4. signal age: ``now - received > max_signal_age_ms`` -> not sent;
5. risk guards that do not depend on volume (drawdown, positions, rate);
6. the follower's circuit breaker;
7. the follower's symbol (``symbol_map``, then the InitRequest symbol specs);
8. allocation and symbol fitting, then the lot caps.

A master pending order that fills reaches us as an ``open`` for the same ticket.
If the follower holds a copied pending order for it, that order fills on its own
at the follower's broker: nothing is sent (`FILLS_AT_BROKER`). If the follower has
none (``copy_pending`` was off, the placement was skipped or rejected), the fill
is copied as a fresh market open, sized and guarded like any other open, with
its age counted from the fill. A copy still pending ``pending_fill_grace_ms``
after the fill is cancelled and opened at market (`copier.core.conversion`).
"""

from __future__ import annotations

from dataclasses import replace

from copier.core.allocation import Sized, SizingInput, size_order
from copier.core.commands import (
    derive_command_id,
    follower_order_type,
    follower_side,
    follower_stops,
    follower_symbol,
    losing_stop,
    order_command,
)
from copier.core.conversion import schedule_conversion
from copier.core.inputs import FollowerState, MasterSignal, Plan
from copier.core.links import InFlight, LinkKind, LinkState, TicketLink
from copier.core.outcomes import Send, Skip, SkipReason, WaitForLink
from copier.core.risk import Exposure, check_entry, clip_to_lot_caps, uses_exposure
from schemas.codes import Action, OrderType
from schemas.messages import SymbolSpec
from schemas.subscriptions import SubscriptionSettings, SubscriptionStatus

__all__ = ["plan_entry"]


def _gate(signal: MasterSignal, settings: SubscriptionSettings) -> Skip | None:
    if settings.status is SubscriptionStatus.PAUSED:
        return Skip(SkipReason.PAUSED, "the subscription is paused: nothing is copied")
    if settings.status is SubscriptionStatus.CLOSE_ONLY:
        return Skip(SkipReason.CLOSE_ONLY, "the subscription is close_only: no new entries")
    if signal.intent.action is Action.PLACE_PENDING and not settings.copy_pending:
        return Skip(SkipReason.PENDING_NOT_COPIED, "copy_pending is off")
    return None


def _existing(
    signal: MasterSignal,
    link: TicketLink,
    settings: SubscriptionSettings,
    follower: FollowerState,
    now_ms: int,
) -> Plan:
    """An entry for a master ticket that already has a (non-failed) link."""
    book = follower.links
    intent = signal.intent
    if signal.intent_id in link.intent_ids:
        return Plan(
            Skip(SkipReason.DUPLICATE_INTENT, f"intent {signal.intent_id} was applied"), book
        )
    if intent.action is not Action.OPEN or not link.from_pending:
        return Plan(
            Skip(SkipReason.ALREADY_COPIED, f"master ticket {intent.ticket} is already copied"),
            book,
        )
    if link.state is LinkState.OPENING:
        message = f"the copy of master pending order {intent.ticket} is not placed yet"
        return Plan(WaitForLink(signal.master_account_id, intent.ticket, message), book)
    if link.state is LinkState.CLOSED:
        return Plan(
            Skip(SkipReason.LINK_CLOSED, f"the copy of master ticket {intent.ticket} is gone"),
            book,
        )
    filled = replace(link, master_volume=intent.volume).with_intent(signal.intent_id)
    sl, tp = follower_stops(settings, intent.sl, intent.tp)
    scheduled = schedule_conversion(
        filled,
        settings,
        intent_id=signal.intent_id,
        follower_account_id=follower.account_id,
        fill_received_ms=signal.received_ms,
        sl=sl,
        tp=tp,
        now_ms=now_ms,
    )
    if not isinstance(scheduled, str):
        send, converting = scheduled
        return Plan(send, book.track(send.command.command_id, converting))
    skip = Skip(
        SkipReason.FILLS_AT_BROKER,
        f"master pending order {intent.ticket} filled; the follower's copy "
        f"(ticket {link.follower_ticket}) fills at its own broker ({scheduled})",
    )
    return Plan(skip, book.put(filled))


def _command(
    signal: MasterSignal,
    settings: SubscriptionSettings,
    follower: FollowerState,
    spec: SymbolSpec,
    sized: Sized,
) -> Plan:
    intent = signal.intent
    action = intent.action
    command_id = derive_command_id(signal.master_account_id, signal.intent_id, follower.account_id)
    side = follower_side(settings, intent.side)
    order_type = (
        OrderType.MARKET
        if action is Action.OPEN
        else follower_order_type(settings, intent.order_type)
    )
    sl, tp = follower_stops(settings, intent.sl, intent.tp)
    max_age = settings.max_signal_age_ms
    command = order_command(
        command_id,
        action=action,
        symbol=spec.symbol,
        side=side,
        order_type=order_type,
        volume=sized.volume,
        master_ticket=intent.ticket,
        price=intent.price,
        sl=sl,
        tp=tp,
        expires_at=None if max_age is None else signal.received_ms + max_age,
        master_account_id=signal.master_account_id,
    )
    link = TicketLink(
        master_account_id=signal.master_account_id,
        root_ticket=intent.ticket,
        master_ticket=intent.ticket,
        master_volume=intent.volume,
        kind=LinkKind.POSITION if action is Action.OPEN else LinkKind.PENDING_ORDER,
        state=LinkState.OPENING,
        symbol=spec.symbol,
        side=side,
        order_type=order_type,
        open_command_id=command_id,
        remaining_volume=sized.volume,
        lot_step=spec.lot_step,
        min_lot=spec.min_lot,
        in_flight=InFlight(command_id, action, sized.volume),
        intent_ids=(signal.intent_id,),
        from_pending=action is Action.PLACE_PENDING,
    )
    return Plan(Send(command, sized.adjustments), follower.links.track(command_id, link))


def plan_entry(
    signal: MasterSignal, settings: SubscriptionSettings, follower: FollowerState, now_ms: int
) -> Plan:
    """Plan an ``open`` or ``place_pending`` intent for one follower.

    Args:
        signal: the master's intent.
        settings: the subscription of the follower to the master.
        follower: the follower's state.
        now_ms: the current time.

    Returns:
        The plan: a command with its new (opening) link, a skip, or a wait.
    """
    book = follower.links
    intent = signal.intent
    gate = _gate(signal, settings)
    if gate is not None:
        return Plan(gate, book)
    existing = book.find(signal.master_account_id, intent.ticket)
    if existing is not None and existing.state is not LinkState.FAILED:
        return _existing(signal, existing, settings, follower, now_ms)
    max_age = settings.max_signal_age_ms
    age = now_ms - signal.received_ms
    if max_age is not None and age > max_age:
        return Plan(
            Skip(SkipReason.SIGNAL_EXPIRED, f"signal is {age} ms old, max_signal_age_ms {max_age}"),
            book,
        )
    master = signal.master_account_id
    exposure = (
        Exposure.from_links(link for key, link in book.links.items() if key[0] == master)
        if uses_exposure(settings.risk)
        else Exposure()  # no guard reads it
    )
    blocked = check_entry(
        settings.risk,
        exposure,
        equity=follower.equity,
        equity_peak=follower.equity_peak,
        recent_order_ms=follower.recent_order_ms,
        now_ms=now_ms,
    )
    if blocked is not None:
        return Plan(blocked.skip, book, blocked.effects)
    if not follower.breaker.allows_open(now_ms):
        return Plan(
            Skip(SkipReason.CIRCUIT_OPEN, "too many failed executions: new opens are paused"),
            book,
        )
    symbol = follower_symbol(settings, intent.symbol)
    spec = follower.symbols.get(symbol)
    if spec is None:
        return Plan(
            Skip(SkipReason.UNKNOWN_SYMBOL, f"the follower reported no symbol {symbol!r}"), book
        )
    sizing = SizingInput(
        master_volume=intent.volume,
        entry_price=intent.price,
        stop_price=losing_stop(settings, intent.sl, intent.tp),
        follower_equity=follower.equity,
        master_equity=signal.master_equity,
        spec=spec,
    )
    sized = size_order(settings.allocation, sizing)
    if isinstance(sized, Skip):
        return Plan(sized, book)
    clipped = clip_to_lot_caps(settings.risk, exposure, sized, spec)
    if isinstance(clipped, Skip):
        return Plan(clipped, book)
    return _command(signal, settings, follower, spec, clipped)
