"""The master's order-list diff, row by row (mirrors ea_mql4 Snapshot.mqh)."""

from __future__ import annotations

from gateway.client.sim import SimTerminal
from schemas.codes import Action, OrderType, Role, Side
from tests.gateway.client.simkit import NOW, D, account, tick


def master() -> SimTerminal:
    return SimTerminal("m", account(), role=Role.MASTER)


def actions(terminal: SimTerminal) -> list[tuple[str, int, str]]:
    return [(i.action.value, i.ticket, str(i.volume)) for i in terminal.detect()]


def test_master_reports_open_for_a_new_position_with_its_fill_price_and_stops() -> None:
    m = master()
    fill = m.account.open_market(
        "EURUSD", Side.BUY, D("0.3"), now_ms=NOW, sl=D("1.09"), tp=D("1.12")
    )
    [intent] = m.detect()
    assert (intent.action, intent.ticket, intent.side, intent.order_type) == (
        Action.OPEN,
        fill.ticket,
        Side.BUY,
        OrderType.MARKET,
    )
    assert (intent.volume, intent.price, intent.sl, intent.tp) == (
        D("0.3"),
        fill.price,
        D("1.09"),
        D("1.12"),
    )
    assert m.detect() == []


def test_master_reports_place_pending_then_open_when_it_fills() -> None:
    m = master()
    ticket = m.account.place_pending(
        "EURUSD", Side.BUY, OrderType.LIMIT, D("0.2"), D("1.09900"), now_ms=NOW
    )
    assert actions(m) == [("place_pending", ticket, "0.2")]
    m.account.on_ticks([tick("1.09880")])
    [fill] = m.detect()
    assert (fill.action, fill.ticket, fill.order_type) == (Action.OPEN, ticket, OrderType.MARKET)


def test_master_reports_modify_when_sl_or_tp_moves() -> None:
    m = master()
    fill = m.account.open_market("EURUSD", Side.SELL, D("0.1"), now_ms=NOW, sl=D("1.11"))
    m.detect()
    m.account.modify(fill.ticket, sl=D("1.105"), tp=D("1.09"))
    [intent] = m.detect()
    assert (intent.action, intent.sl, intent.tp) == (Action.MODIFY, D("1.105"), D("1.09"))


def test_master_reports_modify_when_a_pending_price_moves() -> None:
    m = master()
    ticket = m.account.place_pending(
        "EURUSD", Side.SELL, OrderType.LIMIT, D("0.1"), D("1.102"), now_ms=NOW
    )
    m.detect()
    m.account.modify(ticket, sl=None, tp=None, price=D("1.103"))
    [intent] = m.detect()
    assert (intent.action, intent.price) == (Action.MODIFY, D("1.103"))


def test_master_reports_a_partial_close_with_the_closed_volume_and_new_ticket() -> None:
    m = master()
    fill = m.account.open_market("EURUSD", Side.BUY, D("1.0"), now_ms=NOW)
    m.detect()
    m.account.on_ticks([tick("1.10100")])
    closed = m.account.close(fill.ticket, D("0.4"), now_ms=NOW)
    [intent] = m.detect()
    assert (intent.action, intent.ticket, intent.volume, intent.new_ticket, intent.price) == (
        Action.CLOSE,
        fill.ticket,
        D("0.4"),
        closed.new_ticket,
        D("1.10100"),
    )


def test_master_reports_close_with_the_history_price_when_sl_hits() -> None:
    m = master()
    fill = m.account.open_market("EURUSD", Side.BUY, D("0.1"), now_ms=NOW, sl=D("1.09950"))
    m.detect()
    m.account.on_ticks([tick("1.09940")])
    [intent] = m.detect()
    assert (intent.action, intent.ticket, intent.price, intent.new_ticket) == (
        Action.CLOSE,
        fill.ticket,
        D("1.09940"),
        None,
    )


def test_master_reports_cancel_pending_when_a_pending_order_is_deleted() -> None:
    m = master()
    ticket = m.account.place_pending(
        "EURUSD", Side.BUY, OrderType.STOP, D("0.1"), D("1.102"), now_ms=NOW
    )
    m.detect()
    m.account.cancel(ticket, now_ms=NOW)
    assert actions(m) == [("cancel_pending", ticket, "0.1")]


def test_master_reports_open_then_close_when_a_pending_fills_and_stops_out_unseen() -> None:
    m = master()
    ticket = m.account.place_pending(
        "EURUSD", Side.BUY, OrderType.STOP, D("0.1"), D("1.10100"), now_ms=NOW, sl=D("1.10050")
    )
    m.detect()
    m.account.on_ticks([tick("1.10100")])  # fills
    m.account.on_ticks([tick("1.10040")])  # SL
    assert [(a, t) for a, t, _ in actions(m)] == [("open", ticket), ("close", ticket)]


def test_master_reports_closes_before_opens_in_one_diff() -> None:
    m = master()
    old = m.account.open_market("EURUSD", Side.BUY, D("0.1"), now_ms=NOW)
    m.detect()
    m.account.close(old.ticket, now_ms=NOW)
    new = m.account.open_market("EURUSD", Side.SELL, D("0.1"), now_ms=NOW)
    assert [(a, t) for a, t, _ in actions(m)] == [("close", old.ticket), ("open", new.ticket)]
