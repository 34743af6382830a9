"""The simulated broker account: fills, triggers, figures, tickets and MT4 errors."""

from __future__ import annotations

import random

import pytest

from gateway.client.sim import ERR, FaultInjector, TradeError
from schemas.codes import OrderType, Side
from tests.gateway.client.simkit import NOW, D, account, tick


def test_market_buy_fills_at_ask_and_sell_at_bid() -> None:
    acc = account()
    buy = acc.open_market("EURUSD", Side.BUY, D("0.10"), now_ms=NOW)
    sell = acc.open_market("EURUSD", Side.SELL, D("0.10"), now_ms=NOW)
    assert (buy.price, sell.price) == (D("1.10012"), D("1.10000"))


def test_tickets_are_increasing_integers_across_operations() -> None:
    acc = account()
    tickets = [acc.open_market("EURUSD", Side.BUY, D("0.01"), now_ms=NOW).ticket for _ in range(3)]
    assert tickets == [1000, 1001, 1002]


@pytest.mark.parametrize("seed", range(5))
def test_slippage_is_adverse_and_within_the_configured_points(seed: int) -> None:
    acc = account(slippage_points=5, seed=seed)
    buy = acc.open_market("EURUSD", Side.BUY, D("0.01"), now_ms=NOW)
    sell = acc.open_market("EURUSD", Side.SELL, D("0.01"), now_ms=NOW)
    assert D("1.10012") <= buy.price <= D("1.10017")
    assert D("1.09995") <= sell.price <= D("1.10000")


def test_fill_beyond_max_slippage_points_is_a_requote() -> None:
    acc = account(slippage_points=10, seed=3)
    with pytest.raises(TradeError) as err:
        for _ in range(20):
            acc.open_market("EURUSD", Side.BUY, D("0.01"), now_ms=NOW, max_slippage_points=0)
    assert err.value.code == ERR.REQUOTE


@pytest.mark.parametrize(
    ("side", "sl", "tp", "bid", "kind"),
    [
        (Side.BUY, "1.09900", "1.10200", "1.09900", "sl"),
        (Side.BUY, "1.09900", "1.10200", "1.10200", "tp"),
        (Side.SELL, "1.10100", "1.09800", "1.10090", "sl"),  # ask = 1.10102 >= sl
        (Side.SELL, "1.10100", "1.09800", "1.09780", "tp"),  # ask = 1.09792 <= tp
    ],
)
def test_sl_and_tp_close_the_position_on_the_tick_that_crosses_them(
    side: Side, sl: str, tp: str, bid: str, kind: str
) -> None:
    acc = account()
    fill = acc.open_market("EURUSD", side, D("0.10"), now_ms=NOW, sl=D(sl), tp=D(tp))
    assert acc.on_ticks([tick("1.10005")]) == []
    events = acc.on_ticks([tick(bid)])
    assert [(e.kind, e.ticket) for e in events] == [(kind, fill.ticket)]
    assert fill.ticket not in acc.orders
    assert acc.history[-1].reason == kind


def test_a_closed_position_realises_its_profit_into_the_balance() -> None:
    acc = account()
    fill = acc.open_market("EURUSD", Side.BUY, D("1"), now_ms=NOW)  # at 1.10012
    acc.on_ticks([tick("1.10112")])
    assert acc.equity == D("10100.00")
    acc.close(fill.ticket, now_ms=NOW)
    assert (acc.balance, acc.equity) == (D("10100.00"), D("10100.00"))


def test_margin_is_notional_over_leverage_and_margin_level_is_equity_over_margin() -> None:
    acc = account()
    acc.open_market("EURUSD", Side.BUY, D("1"), now_ms=NOW)
    assert acc.margin == D("1100.12")  # 100 000 x 1.10012 / 100
    assert acc.margin_level == (acc.equity / acc.margin * 100).quantize(D("0.01"))


def test_usdjpy_profit_converts_to_the_account_currency() -> None:
    acc = account()
    acc.on_ticks([tick("150.000", "150.015", symbol="USDJPY")])
    fill = acc.open_market("USDJPY", Side.BUY, D("1"), now_ms=NOW)
    acc.on_ticks([tick("151.015", "151.030", symbol="USDJPY")])
    acc.close(fill.ticket, now_ms=NOW)
    assert acc.balance == D(10000) + (D(100_000) / D("151.015")).quantize(D("0.01"))


def test_stop_out_closes_the_worst_position_when_margin_level_falls_below_the_level() -> None:
    acc = account(balance="1500")
    fill = acc.open_market("EURUSD", Side.BUY, D("1"), now_ms=NOW)  # margin ~1100
    events = acc.on_ticks([tick("1.09500")])  # equity 1500 - 512 = 988 < 50 % of margin? no
    assert events == []
    events = acc.on_ticks([tick("1.09000")])  # equity ~488: below 50 % of ~1100
    assert [(e.kind, e.ticket) for e in events] == [("stop_out", fill.ticket)]


@pytest.mark.parametrize(
    ("side", "order_type", "offset", "trigger_bid"),
    [
        (Side.BUY, OrderType.LIMIT, "-0.00100", "1.09880"),  # ask 1.09892 <= 1.09912
        (Side.BUY, OrderType.STOP, "0.00100", "1.10100"),  # ask 1.10112 >= 1.10112
        (Side.SELL, OrderType.LIMIT, "0.00100", "1.10100"),  # bid >= 1.10100
        (Side.SELL, OrderType.STOP, "-0.00100", "1.09900"),  # bid <= 1.09900
    ],
)
def test_pending_orders_fill_when_the_market_reaches_their_price(
    side: Side, order_type: OrderType, offset: str, trigger_bid: str
) -> None:
    acc = account()
    market = D("1.10012") if side is Side.BUY else D("1.10000")
    ticket = acc.place_pending("EURUSD", side, order_type, D("0.1"), market + D(offset), now_ms=NOW)
    assert acc.on_ticks([tick("1.10000")]) == []
    events = acc.on_ticks([tick(trigger_bid)])
    assert [(e.kind, e.ticket) for e in events] == [("pending_fill", ticket)]
    assert acc.orders[ticket].order_type is OrderType.MARKET


def test_pending_order_on_the_wrong_side_of_the_market_is_refused() -> None:
    acc = account()
    with pytest.raises(TradeError) as err:
        acc.place_pending("EURUSD", Side.BUY, OrderType.LIMIT, D("0.1"), D("1.10100"), now_ms=NOW)
    assert err.value.code == ERR.INVALID_PRICE


def test_partial_close_leaves_the_remainder_under_a_new_ticket_from_the_old_one() -> None:
    acc = account()
    fill = acc.open_market("EURUSD", Side.BUY, D("0.50"), now_ms=NOW, sl=D("1.09"))
    result = acc.close(fill.ticket, D("0.20"), now_ms=NOW)
    assert result.new_ticket is not None and fill.ticket not in acc.orders
    rest = acc.orders[result.new_ticket]
    assert (rest.lots, rest.comment, rest.sl, rest.open_price) == (
        D("0.30"),
        f"from #{fill.ticket}",
        D("1.09"),
        fill.price,
    )
    assert (acc.history[-1].lots, acc.history[-1].reason) == (D("0.20"), "partial")


@pytest.mark.parametrize("volume", ["0.005", "0.015", "0.45", "200"])
def test_volumes_off_the_lot_grid_or_limits_are_invalid(volume: str) -> None:
    acc = account()
    fill = acc.open_market("EURUSD", Side.BUY, D("0.5"), now_ms=NOW)
    with pytest.raises(TradeError) as err:
        if volume == "0.45":
            acc.close(fill.ticket, D("0.495"), now_ms=NOW)  # would leave 0.005 < min_lot
        else:
            acc.open_market("EURUSD", Side.BUY, D(volume), now_ms=NOW)
    assert err.value.code == ERR.INVALID_VOLUME


def test_stops_on_the_wrong_side_are_invalid() -> None:
    acc = account()
    with pytest.raises(TradeError) as err:
        acc.open_market("EURUSD", Side.BUY, D("0.1"), now_ms=NOW, sl=D("1.10050"))
    assert err.value.code == ERR.INVALID_STOPS


def test_not_enough_free_margin_is_refused() -> None:
    with pytest.raises(TradeError) as err:
        account(balance="100").open_market("EURUSD", Side.BUY, D("1"), now_ms=NOW)
    assert err.value.code == ERR.NOT_ENOUGH_MONEY


def test_unknown_ticket_and_unknown_symbol_have_their_mt4_codes() -> None:
    acc = account()
    with pytest.raises(TradeError) as ticket_err:
        acc.close(424242, now_ms=NOW)
    with pytest.raises(TradeError) as symbol_err:
        acc.open_market("NOPE", Side.BUY, D("0.1"), now_ms=NOW)
    assert (ticket_err.value.code, symbol_err.value.code) == (
        ERR.INVALID_TICKET,
        ERR.UNKNOWN_SYMBOL,
    )


def test_scripted_faults_fail_the_next_operations_in_order() -> None:
    faults = FaultInjector(random.Random(0), script=[ERR.REQUOTE, 0, ERR.TRADE_CONTEXT_BUSY])
    acc = account(faults=faults)
    codes = []
    for _ in range(4):
        try:
            acc.open_market("EURUSD", Side.BUY, D("0.01"), now_ms=NOW)
            codes.append(0)
        except TradeError as exc:
            codes.append(exc.code)
    assert codes == [ERR.REQUOTE, 0, ERR.TRADE_CONTEXT_BUSY, 0]
    assert faults.injected == {ERR.REQUOTE: 1, ERR.TRADE_CONTEXT_BUSY: 1}


@pytest.mark.parametrize("code", [ERR.REQUOTE, ERR.OFF_QUOTES, ERR.TRADE_CONTEXT_BUSY, ERR.TIMEOUT])
def test_random_faults_inject_each_configured_code_at_about_its_rate(code: int) -> None:
    faults = FaultInjector(random.Random(7), {code: 0.2})
    failures = 0
    for _ in range(2000):
        try:
            faults.check("open")
        except TradeError as exc:
            assert exc.code == code
            failures += 1
    assert 320 < failures < 480


def test_faults_only_hit_the_configured_operations() -> None:
    faults = FaultInjector(random.Random(1), {ERR.TIMEOUT: 1.0}, frozenset({"open"}))
    acc = account(faults=faults)
    acc.faults = FaultInjector.none()
    fill = acc.open_market("EURUSD", Side.BUY, D("0.1"), now_ms=NOW)
    acc.faults = faults
    acc.close(fill.ticket, now_ms=NOW)  # closes are not subject to injection
    with pytest.raises(TradeError):
        acc.open_market("EURUSD", Side.BUY, D("0.1"), now_ms=NOW)
