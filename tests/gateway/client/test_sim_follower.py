"""Follower mode: OrderCommands in, ExecutionReports out (like the real EA)."""

from __future__ import annotations

import random
from typing import Any

from gateway.client.sim import ERR, FaultInjector, SimTerminal
from schemas.codes import ExecutionStatus, Role
from schemas.messages import OrderCommandPayload
from tests.gateway.client.simkit import NOW, D, account, tick


def follower(faults: FaultInjector | None = None) -> SimTerminal:
    return SimTerminal("f", account(faults=faults), role=Role.FOLLOWER)


def cmd(action: str = "open", command_id: str = "c1", **fields: Any) -> OrderCommandPayload:
    body = {
        "command_id": command_id,
        "action": action,
        "symbol": "EURUSD",
        "side": "buy",
        "order_type": "market",
        "volume": 0.2,
        "master_ticket": 77,
        "master_account_id": "m1",
        **fields,
    }
    return OrderCommandPayload.model_validate(body)


def test_follower_fills_an_open_at_market_and_reports_ticket_volume_and_price() -> None:
    f = follower()
    report = f.execute(cmd(sl=1.09, tp=1.12), NOW)
    assert (report.status, report.volume, report.price) == (
        ExecutionStatus.FILLED,
        D("0.2"),
        D("1.10012"),
    )
    order = f.account.orders[report.ticket or 0]
    assert (order.sl, order.tp, order.comment) == (D("1.09"), D("1.12"), "cg#77")
    assert f.executor.tags[order.ticket].master_ticket == 77


def test_follower_fills_without_stops_when_the_stops_are_invalid_and_says_so() -> None:
    report = follower().execute(cmd(sl=1.1005), NOW)
    assert report.status is ExecutionStatus.FILLED
    assert report.error_message == "filled, but SL/TP could not be set"


def test_follower_rejects_with_the_mt4_code_of_an_injected_error() -> None:
    f = follower(FaultInjector(random.Random(0), script=[ERR.REQUOTE]))
    report = f.execute(cmd(), NOW)
    assert (report.status, report.error_code, report.error_message) == (
        ExecutionStatus.REJECTED,
        ERR.REQUOTE,
        "requote",
    )
    assert f.executor.errors == {ERR.REQUOTE: 1}


def test_follower_reports_expired_for_an_open_past_expires_at_but_still_closes() -> None:
    f = follower()
    assert f.execute(cmd(expires_at=NOW - 1), NOW).status is ExecutionStatus.EXPIRED
    opened = f.execute(cmd(command_id="c2"), NOW)
    closed = f.execute(cmd("close", "c3", ticket=opened.ticket, expires_at=NOW - 1), NOW)
    assert closed.status is ExecutionStatus.CLOSED


def test_follower_partial_close_reports_new_ticket_and_moves_the_copy_tag() -> None:
    f = follower()
    opened = f.execute(cmd(volume=0.5), NOW)
    report = f.execute(cmd("close", "c2", ticket=opened.ticket, volume=0.2, master_ticket=78), NOW)
    assert (report.status, report.volume) == (ExecutionStatus.CLOSED, D("0.2"))
    assert report.new_ticket is not None
    assert f.executor.tags[report.new_ticket].master_ticket == 78
    assert f.account.orders[report.new_ticket].lots == D("0.3")


def test_follower_places_modifies_and_cancels_a_pending_order() -> None:
    f = follower()
    placed = f.execute(cmd("place_pending", order_type="limit", price=1.099), NOW)
    assert (placed.status, placed.price) == (ExecutionStatus.PLACED, D("1.09900"))
    modified = f.execute(cmd("modify", "c2", ticket=placed.ticket, price=1.0985, sl=1.09), NOW)
    assert modified.status is ExecutionStatus.MODIFIED
    assert f.account.orders[placed.ticket or 0].open_price == D("1.0985")
    cancelled = f.execute(cmd("cancel_pending", "c3", ticket=placed.ticket), NOW)
    assert cancelled.status is ExecutionStatus.CANCELLED and not f.account.orders


def test_follower_reports_the_fill_of_a_placed_copy_for_its_place_pending_command() -> None:
    f = follower()
    placed = f.execute(cmd("place_pending", "place-1", order_type="limit", price=1.099), NOW)
    out = f.on_ticks([tick("1.09880")], NOW + 5)
    [report] = out.reports
    assert (report.command_id, report.status, report.ticket, report.price) == (
        "place-1",
        ExecutionStatus.FILLED,
        placed.ticket,
        D("1.099"),
    )
    assert not out.snapshot


def test_follower_asks_for_a_snapshot_when_its_broker_closes_a_copy() -> None:
    f = follower()
    f.execute(cmd(sl=1.0995), NOW)
    out = f.on_ticks([tick("1.09940")], NOW + 5)
    assert out.snapshot
    assert [(tag.master_ticket, kind) for tag, kind in f.executor.broker_closed] == [(77, "sl")]


def test_follower_rejects_a_close_of_an_unknown_ticket_with_4108() -> None:
    report = follower().execute(cmd("close", ticket=999), NOW)
    assert (report.status, report.error_code) == (ExecutionStatus.REJECTED, ERR.INVALID_TICKET)


def test_follower_snapshot_lists_positions_and_pending_orders() -> None:
    f = follower()
    opened = f.execute(cmd(), NOW)
    placed = f.execute(cmd("place_pending", "c2", order_type="stop", price=1.102), NOW)
    snap = f.snapshot()
    assert [p.ticket for p in snap.positions] == [opened.ticket]
    assert [(o.ticket, o.order_type.value) for o in snap.orders] == [(placed.ticket, "stop")]
    assert snap.balance == D(10000)
