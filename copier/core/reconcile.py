"""Reconciliation: compare SyncSnapshots with what the copier believes. Pure.

Follower side (`reconcile_follower`), for every open link without a command in
flight (links still opening, or with a close in flight, wait for their reports):

- the follower ticket is gone at the broker -> the link is marked closed and is
  **never reopened** (SL/TP hit, manual close, stop-out, cancelled order);
- a copied pending order shows up as a position -> it filled at the broker;
- a position's volume differs from the link -> the broker's volume wins;
- the master no longer holds the position (its close arrived while the follower
  was paused, or the close failed) -> a close (or cancel_pending) is planned.

Master side (`reconcile_master`): the positions/orders the copier knew the
master had, against the master's snapshot, produce the intents the master EA
could not send while it was offline: closes (partial when MT4's "from #ticket"
remainder is visible), cancels, fills of pending orders, and SL/TP changes.
They go through the planner like live intents.

Synthetic intent ids and reconciliation command ids are derived from a
caller-chosen `round_id`, so re-running one round is idempotent.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from copier.core.commands import derive_command_id
from copier.core.links import InFlight, LinkBook, LinkKind, LinkState, TicketLink
from schemas.codes import Action, OrderType
from schemas.messages import (
    OrderCommandPayload,
    OrderIntentPayload,
    PendingOrder,
    Position,
    SyncSnapshotPayload,
)

__all__ = [
    "FollowerReconciliation",
    "ReconcileNote",
    "ReconcileNoteKind",
    "SyntheticIntent",
    "exit_command",
    "reconcile_follower",
    "reconcile_master",
]

_ZERO = Decimal(0)


class ReconcileNoteKind(StrEnum):
    """What reconciliation changed on a link."""

    CLOSED_AT_BROKER = "closed_at_broker"
    FILLED_AT_BROKER = "filled_at_broker"
    VOLUME_CORRECTED = "volume_corrected"
    CLOSE_PLANNED = "close_planned"
    CANCEL_PLANNED = "cancel_planned"


@dataclass(frozen=True, slots=True)
class ReconcileNote:
    """One change made by reconciliation, for the audit trail."""

    kind: ReconcileNoteKind  # what happened
    master_account_id: str  # the link's master
    master_ticket: int  # the link's root master ticket
    follower_ticket: int | None  # the follower ticket concerned
    message: str  # human readable explanation


@dataclass(frozen=True, slots=True)
class FollowerReconciliation:
    """Result of `reconcile_follower`."""

    links: LinkBook  # the book after reconciliation
    commands: tuple[OrderCommandPayload, ...]  # closes/cancels to send (already tracked)
    notes: tuple[ReconcileNote, ...]  # what changed
    unlinked_tickets: tuple[int, ...]  # follower positions/orders no link knows (manual trades)


@dataclass(frozen=True, slots=True)
class SyntheticIntent:
    """An intent reconstructed from a master snapshot."""

    intent_id: str  # deterministic id: ``reconcile:<round>:<kind>:<ticket>``
    intent: OrderIntentPayload  # the intent, to be planned like a live one


def exit_command(
    link: TicketLink, follower_account_id: str, round_id: str
) -> tuple[OrderCommandPayload, TicketLink]:
    """The close (or cancel) of an open link's whole remainder, and the link awaiting it."""
    assert link.follower_ticket is not None
    action = Action.CANCEL_PENDING if link.kind is LinkKind.PENDING_ORDER else Action.CLOSE
    command_id = derive_command_id(
        link.master_account_id, f"reconcile:{round_id}:{link.root_ticket}", follower_account_id
    )
    command = OrderCommandPayload(
        command_id=command_id,
        action=action,
        symbol=link.symbol,
        side=link.side,
        order_type=link.order_type,
        volume=link.remaining_volume,
        master_ticket=link.master_ticket,
        ticket=link.follower_ticket,
        master_account_id=link.master_account_id,
    )
    return command, replace(link, in_flight=InFlight(command_id, action, link.remaining_volume))


def _note(kind: ReconcileNoteKind, link: TicketLink, message: str) -> ReconcileNote:
    return ReconcileNote(
        kind, link.master_account_id, link.root_ticket, link.follower_ticket, message
    )


def _observe(
    link: TicketLink, positions: dict[int, Position], orders: dict[int, PendingOrder]
) -> tuple[TicketLink, tuple[ReconcileNote, ...]]:
    """The link as the snapshot shows it (gone, filled, volume)."""
    ticket = link.follower_ticket
    assert ticket is not None
    position = positions.get(ticket)
    if link.kind is LinkKind.PENDING_ORDER and position is not None:
        filled = replace(
            link,
            kind=LinkKind.POSITION,
            order_type=OrderType.MARKET,
            opened_volume=position.volume,
            remaining_volume=position.volume,
        )
        note = _note(ReconcileNoteKind.FILLED_AT_BROKER, link, f"pending order {ticket} filled")
        return filled, (note,)
    if link.kind is LinkKind.PENDING_ORDER:
        if ticket in orders:
            return link, ()
    elif position is not None:
        if position.volume == link.remaining_volume:
            return link, ()
        corrected = replace(link, remaining_volume=position.volume)
        message = f"ticket {ticket} holds {position.volume} lots, link had {link.remaining_volume}"
        return corrected, (_note(ReconcileNoteKind.VOLUME_CORRECTED, link, message),)
    gone = replace(link, state=LinkState.CLOSED, remaining_volume=_ZERO)
    message = f"follower ticket {ticket} is gone at the broker; it is not reopened"
    return gone, (_note(ReconcileNoteKind.CLOSED_AT_BROKER, link, message),)


def reconcile_follower(
    follower_account_id: str,
    book: LinkBook,
    snapshot: SyncSnapshotPayload,
    *,
    round_id: str,
    paused_masters: Collection[str] = (),
) -> FollowerReconciliation:
    """Reconcile a follower's links with its SyncSnapshot.

    Args:
        follower_account_id: the follower account.
        book: the follower's links.
        snapshot: the follower's snapshot.
        round_id: id of this reconciliation round (e.g. the snapshot request id).
        paused_masters: masters whose subscription is paused: their links are
            updated, but no command is planned for them.

    Returns:
        The new book, the commands to send and what changed.
    """
    positions = {p.ticket: p for p in snapshot.positions}
    orders = {o.ticket: o for o in snapshot.orders}
    linked: set[int] = set()
    commands: list[OrderCommandPayload] = []
    notes: list[ReconcileNote] = []
    for _key, link in sorted(book.links.items()):
        if link.follower_ticket is not None and link.is_live:
            linked.add(link.follower_ticket)
        if (
            link.state is not LinkState.OPEN
            or link.in_flight is not None
            or link.follower_ticket is None
        ):
            continue
        was_pending = link.kind is LinkKind.PENDING_ORDER
        link, observed = _observe(link, positions, orders)
        notes.extend(observed)
        book = book.put(link)
        if was_pending and (link.kind is LinkKind.POSITION or link.state is LinkState.CLOSED):
            book = book.forget(link.open_command_id)  # no later fill report to wait for
        if (
            link.state is LinkState.OPEN
            and link.master_closed
            and link.master_account_id not in paused_masters
        ):
            command, link = exit_command(link, follower_account_id, round_id)
            commands.append(command)
            kind = (
                ReconcileNoteKind.CLOSE_PLANNED
                if command.action is Action.CLOSE
                else ReconcileNoteKind.CANCEL_PLANNED
            )
            message = f"the master no longer holds ticket {link.master_ticket}"
            notes.append(_note(kind, link, message))
            book = book.track(command.command_id, link)
    unlinked = tuple(sorted((positions.keys() | orders.keys()) - linked))
    return FollowerReconciliation(book, tuple(commands), tuple(notes), unlinked)


def _intent(
    action: Action, known: Position | PendingOrder, **overrides: object
) -> OrderIntentPayload:
    order_type = known.order_type if isinstance(known, PendingOrder) else OrderType.MARKET
    price = known.price if isinstance(known, PendingOrder) else known.open_price
    fields: dict[str, object] = {
        "action": action,
        "ticket": known.ticket,
        "symbol": known.symbol,
        "side": known.side,
        "order_type": order_type,
        "volume": known.volume,
        "price": price,
        "sl": known.sl,
        "tp": known.tp,
        "magic": known.magic,
    }
    fields.update(overrides)
    return OrderIntentPayload.model_validate(fields)


def _remainder_of(ticket: int, positions: Sequence[Position]) -> Position | None:
    """MT4 comments the remainder of a partially closed position ``from #<ticket>``."""
    marker = f"from #{ticket}"
    for position in positions:
        if position.comment is not None and marker in position.comment:
            return position
    return None


def _position_intents(
    known: Position, now: dict[int, Position], snapshot: SyncSnapshotPayload, round_id: str
) -> list[SyntheticIntent]:
    prefix = f"reconcile:{round_id}"
    current = now.get(known.ticket)
    if current is None:
        rest = _remainder_of(known.ticket, snapshot.positions)
        if rest is not None and rest.volume < known.volume:
            intent = _intent(
                Action.CLOSE, known, volume=known.volume - rest.volume, new_ticket=rest.ticket
            )
            return [SyntheticIntent(f"{prefix}:partial_close:{known.ticket}", intent)]
        return [SyntheticIntent(f"{prefix}:close:{known.ticket}", _intent(Action.CLOSE, known))]
    found: list[SyntheticIntent] = []
    if current.volume < known.volume:
        intent = _intent(Action.CLOSE, known, volume=known.volume - current.volume)
        found.append(SyntheticIntent(f"{prefix}:partial_close:{known.ticket}", intent))
    if (current.sl, current.tp) != (known.sl, known.tp):
        intent = _intent(Action.MODIFY, known, sl=current.sl, tp=current.tp)
        found.append(SyntheticIntent(f"{prefix}:modify:{known.ticket}", intent))
    return found


def reconcile_master(
    known_positions: Sequence[Position],
    known_orders: Sequence[PendingOrder],
    snapshot: SyncSnapshotPayload,
    *,
    round_id: str,
) -> tuple[SyntheticIntent, ...]:
    """Intents for what the master did while the copier could not hear it.

    Opens of new positions are *not* reconstructed: a signal that old would be
    expired anyway. Pending orders that filled are, as ``open`` intents, so that
    followers without a copied pending order can still decide (they are subject
    to ``max_signal_age_ms`` like any open).

    Args:
        known_positions: master positions the copier believed open.
        known_orders: master pending orders the copier believed live.
        snapshot: the master's snapshot.
        round_id: id of this reconciliation round.

    Returns:
        Synthetic intents ordered by ticket (positions first, then orders).
    """
    prefix = f"reconcile:{round_id}"
    now_positions = {p.ticket: p for p in snapshot.positions}
    now_orders = {o.ticket: o for o in snapshot.orders}
    found: list[SyntheticIntent] = []
    for known in sorted(known_positions, key=lambda p: p.ticket):
        found.extend(_position_intents(known, now_positions, snapshot, round_id))
    for order in sorted(known_orders, key=lambda o: o.ticket):
        filled = now_positions.get(order.ticket)
        if filled is not None:
            intent = _intent(
                Action.OPEN,
                order,
                order_type=OrderType.MARKET,
                volume=filled.volume,
                price=filled.open_price,
                sl=filled.sl,
                tp=filled.tp,
            )
            found.append(SyntheticIntent(f"{prefix}:fill:{order.ticket}", intent))
        elif order.ticket not in now_orders:
            intent = _intent(Action.CANCEL_PENDING, order)
            found.append(SyntheticIntent(f"{prefix}:cancel:{order.ticket}", intent))
    return tuple(found)
