"""Reconciliation: follower snapshots against links, master snapshots against known tickets."""

from __future__ import annotations

from typing import Any

from copier.core import LinkKind, LinkState, ReconcileNoteKind, reconcile_follower, reconcile_master
from schemas.codes import Action, ExecutionStatus, OrderType, Side
from schemas.messages import PendingOrder, Position, SyncSnapshotPayload
from schemas.subscriptions import SubscriptionStatus

from .builders import FOLLOWER, MASTER, Copier, D, intent, sent, settings


def position(ticket: int, volume: str = "1", **overrides: Any) -> Position:
    fields: dict[str, Any] = {
        "ticket": ticket,
        "symbol": "EURUSD",
        "side": Side.BUY,
        "volume": D(volume),
        "open_price": D("1.1"),
        "sl": D("1.09"),
        "tp": D("1.12"),
    }
    fields.update(overrides)
    return Position.model_validate(fields)


def order(ticket: int, **overrides: Any) -> PendingOrder:
    fields: dict[str, Any] = {
        "ticket": ticket,
        "symbol": "EURUSD",
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "volume": D(1),
        "price": D("1.095"),
    }
    fields.update(overrides)
    return PendingOrder.model_validate(fields)


def snapshot(
    positions: list[Position] | None = None, orders: list[PendingOrder] | None = None
) -> SyncSnapshotPayload:
    return SyncSnapshotPayload(positions=positions or [], orders=orders or [])


def copied(copier: Copier, ticket: int = 100, follower_ticket: int = 5000) -> None:
    command = sent(copier.plan(intent(ticket=ticket)))
    copier.report(command, ExecutionStatus.FILLED, ticket=follower_ticket)


# -- follower --------------------------------------------------------------------------


def test_position_gone_at_the_broker_marks_the_link_closed_and_is_never_reopened() -> None:
    copier = Copier()
    copied(copier)
    result = reconcile_follower(FOLLOWER, copier.links, snapshot(), round_id="r1")
    link = result.links.find(MASTER, 100)
    assert link is not None and link.state is LinkState.CLOSED
    assert result.commands == ()
    assert [n.kind for n in result.notes] == [ReconcileNoteKind.CLOSED_AT_BROKER]


def test_position_whose_master_closed_meanwhile_is_closed() -> None:
    copier = Copier()
    copied(copier)
    copier.settings = settings(status=SubscriptionStatus.PAUSED)
    copier.plan(intent(Action.CLOSE))  # master closed while the subscription was paused
    result = reconcile_follower(FOLLOWER, copier.links, snapshot([position(5000)]), round_id="r1")
    (command,) = result.commands
    assert (command.action, command.ticket, command.volume) == (Action.CLOSE, 5000, D(1))
    link = result.links.find(MASTER, 100)
    assert link is not None and link.in_flight is not None
    assert result.links.for_command(command.command_id) == link


def test_reconcile_commands_are_idempotent_per_round() -> None:
    copier = Copier()
    copied(copier)
    copier.settings = settings(status=SubscriptionStatus.PAUSED)
    copier.plan(intent(Action.CLOSE))
    snap = snapshot([position(5000)])
    first = reconcile_follower(FOLLOWER, copier.links, snap, round_id="r1")
    again = reconcile_follower(FOLLOWER, copier.links, snap, round_id="r1")
    other = reconcile_follower(FOLLOWER, copier.links, snap, round_id="r2")
    assert first == again
    assert first.commands[0].command_id != other.commands[0].command_id


def test_paused_masters_get_no_reconcile_commands() -> None:
    copier = Copier()
    copied(copier)
    copier.settings = settings(status=SubscriptionStatus.PAUSED)
    copier.plan(intent(Action.CLOSE))
    result = reconcile_follower(
        FOLLOWER, copier.links, snapshot([position(5000)]), round_id="r1", paused_masters={MASTER}
    )
    assert result.commands == ()


def test_broker_volume_wins_over_the_link() -> None:
    copier = Copier()
    copied(copier)
    result = reconcile_follower(
        FOLLOWER, copier.links, snapshot([position(5000, "0.4")]), round_id="r"
    )
    link = result.links.find(MASTER, 100)
    assert link is not None and link.remaining_volume == D("0.4")
    assert [n.kind for n in result.notes] == [ReconcileNoteKind.VOLUME_CORRECTED]


def test_pending_copy_seen_as_a_position_filled_at_the_broker() -> None:
    copier = Copier()
    place = sent(copier.plan(intent(Action.PLACE_PENDING, order_type=OrderType.LIMIT)))
    copier.report(place, ExecutionStatus.PLACED, ticket=7000)
    result = reconcile_follower(FOLLOWER, copier.links, snapshot([position(7000)]), round_id="r")
    link = result.links.find(MASTER, 100)
    assert link is not None and link.kind is LinkKind.POSITION
    assert result.links.for_command(place.command_id) is None


def test_links_waiting_for_a_report_are_left_alone_and_manual_trades_are_listed() -> None:
    copier = Copier()
    sent(copier.plan(intent()))
    result = reconcile_follower(FOLLOWER, copier.links, snapshot([position(42)]), round_id="r")
    assert result.links == copier.links
    assert result.unlinked_tickets == (42,)


# -- master ---------------------------------------------------------------------------


def test_master_position_closed_while_offline_becomes_a_close_intent() -> None:
    (synthetic,) = reconcile_master([position(100)], [], snapshot(), round_id="r")
    assert synthetic.intent_id == "reconcile:r:close:100"
    assert (synthetic.intent.action, synthetic.intent.ticket, synthetic.intent.volume) == (
        Action.CLOSE,
        100,
        D(1),
    )


def test_master_partial_close_while_offline_is_found_by_the_from_comment() -> None:
    remainder = position(101, "0.4", comment="from #100")
    (synthetic,) = reconcile_master([position(100)], [], snapshot([remainder]), round_id="r")
    assert (synthetic.intent.action, synthetic.intent.volume, synthetic.intent.new_ticket) == (
        Action.CLOSE,
        D("0.6"),
        101,
    )


def test_master_pending_order_filled_or_cancelled_while_offline() -> None:
    intents = reconcile_master(
        [], [order(200), order(201)], snapshot([position(200)]), round_id="r"
    )
    assert [(i.intent.action, i.intent.ticket) for i in intents] == [
        (Action.OPEN, 200),
        (Action.CANCEL_PENDING, 201),
    ]
    assert intents[0].intent.order_type is OrderType.MARKET


def test_master_sl_tp_change_while_offline_becomes_a_modify() -> None:
    moved = position(100, sl=D("1.1"))
    (synthetic,) = reconcile_master([position(100)], [], snapshot([moved]), round_id="r")
    assert (synthetic.intent.action, synthetic.intent.sl) == (Action.MODIFY, D("1.1"))


def test_unchanged_master_snapshot_produces_nothing() -> None:
    assert (
        reconcile_master(
            [position(100)], [order(200)], snapshot([position(100)], [order(200)]), round_id="r"
        )
        == ()
    )


def test_master_close_intents_flow_through_the_planner_to_the_follower() -> None:
    copier = Copier()
    copied(copier)
    (synthetic,) = reconcile_master([position(100)], [], snapshot(), round_id="r")
    command = sent(copier.plan(synthetic.intent, intent_id=synthetic.intent_id))
    assert (command.action, command.ticket) == (Action.CLOSE, 5000)
