"""`SimAccount`: an MT4 trading account at a simulated broker (pure).

Market fills at bid/ask with configurable adverse slippage, SL/TP and pending
triggers on every tick, balance/equity/margin, stop-out, MT4-like integer
tickets (a partial close leaves a new ticket with comment ``from #<old>``), and
injectable errors. No clock and no global randomness: times come in as
arguments, randomness from the `random.Random` given.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import ROUND_DOWN, Decimal

from gateway.client.sim.faults import ERR, FaultInjector, TradeError
from gateway.client.sim.market import SymbolInfo, Tick
from gateway.client.sim.orders import BrokerEvent, ClosedTrade, Fill, SimOrder, TicketSource
from schemas.codes import OrderType, Side
from schemas.messages import AccountInfo

__all__ = ["SimAccount"]

ZERO = Decimal(0)


class SimAccount:
    """One MT4 account. Trade operations raise `TradeError` with MT4 codes."""

    def __init__(
        self,
        symbols: Mapping[str, SymbolInfo],
        *,
        balance: Decimal,
        rng: random.Random,
        tickets: TicketSource,
        leverage: int = 100,
        faults: FaultInjector | None = None,
        slippage_points: int = 0,
        stop_out_level: Decimal = Decimal(50),
    ) -> None:
        self.symbols = dict(symbols)  #: broker symbols by name
        self.balance = balance  #: realised balance
        self.rng = rng  #: slippage randomness
        self.tickets = tickets  #: ticket numbers
        self.leverage = leverage  #: account leverage
        self.faults = faults or FaultInjector.none()  #: injected errors
        self.slippage_points = slippage_points  #: worst adverse slippage of a market fill
        self.stop_out_level = stop_out_level  #: margin level (%) that triggers a stop-out
        self.quotes: dict[str, Tick] = {}  #: last tick per feed symbol
        self.orders: dict[int, SimOrder] = {}  #: open positions and pending orders
        self.history: list[ClosedTrade] = []  #: closed trades, oldest first

    # ---- prices and figures ---------------------------------------------------------
    def info(self, name: str) -> SymbolInfo:
        """A broker symbol (raises 4106 for an unknown one)."""
        try:
            return self.symbols[name]
        except KeyError:
            raise TradeError(ERR.UNKNOWN_SYMBOL, f"unknown symbol {name}") from None

    def quote(self, name: str) -> Tick:
        """The current quote of a broker symbol (raises 136 before the first tick)."""
        tick = self.quotes.get(self.info(name).feed_symbol)
        if tick is None:
            raise TradeError(ERR.OFF_QUOTES)
        return tick

    def profit(self, order: SimOrder) -> Decimal:
        """Floating profit of a position in account currency (0 for pending orders)."""
        if order.pending or self.info(order.symbol).feed_symbol not in self.quotes:
            return ZERO
        tick = self.quote(order.symbol)
        close = tick.bid if order.side is Side.BUY else tick.ask
        return self._pnl(order, order.lots, close)

    def _pnl(self, order: SimOrder, lots: Decimal, close: Decimal) -> Decimal:
        info = self.info(order.symbol)
        move = close - order.open_price if order.side is Side.BUY else order.open_price - close
        return info.to_account(move * lots * info.contract_size, close).quantize(Decimal("0.01"))

    @property
    def equity(self) -> Decimal:
        """Balance plus floating profit."""
        return self.balance + sum((self.profit(o) for o in self.orders.values()), ZERO)

    @property
    def margin(self) -> Decimal:
        """Margin used by open positions."""
        return sum((self._margin(o.symbol, o.lots) for o in self.positions()), ZERO)

    def _margin(self, symbol: str, lots: Decimal) -> Decimal:
        info = self.info(symbol)
        tick = self.quotes.get(info.feed_symbol)
        price = tick.ask if tick else info.start_price
        notional = info.to_account(lots * info.contract_size * price, price)
        return (notional / self.leverage).quantize(Decimal("0.01"))

    @property
    def margin_level(self) -> Decimal | None:
        """Equity / margin in percent (None without positions)."""
        margin = self.margin
        return (self.equity / margin * 100).quantize(Decimal("0.01")) if margin else None

    def account_info(self) -> AccountInfo:
        """Figures for InitRequest and heartbeats."""
        return AccountInfo(
            balance=self.balance, equity=self.equity, currency="USD", leverage=self.leverage
        )

    def positions(self) -> list[SimOrder]:
        """Open positions, by ticket."""
        return [o for _, o in sorted(self.orders.items()) if not o.pending]

    def pending_orders(self) -> list[SimOrder]:
        """Pending orders, by ticket."""
        return [o for _, o in sorted(self.orders.items()) if o.pending]

    # ---- ticks ----------------------------------------------------------------------
    def on_ticks(self, ticks: Iterable[Tick]) -> list[BrokerEvent]:
        """Apply quotes; fire pending orders, SL/TP and stop-out, in that order."""
        events: list[BrokerEvent] = []
        for tick in ticks:
            self.quotes[tick.symbol] = tick
            for order in [o for o in self.orders.values() if self._quotes(o, tick.symbol)]:
                events.extend(self._trigger(order, tick))
        events.extend(self._stop_out(max((t.time_ms for t in self.quotes.values()), default=0)))
        return events

    def _quotes(self, order: SimOrder, feed_symbol: str) -> bool:
        return self.info(order.symbol).feed_symbol == feed_symbol

    def _trigger(self, order: SimOrder, tick: Tick) -> list[BrokerEvent]:
        buy = order.side is Side.BUY
        if order.pending:
            market = tick.ask if buy else tick.bid
            at_or_below, at_or_above = market <= order.open_price, market >= order.open_price
            # buy limit / sell stop wait for the market to come down; the others, up
            waits_below = (order.order_type is OrderType.LIMIT) == buy
            if at_or_below if waits_below else at_or_above:
                filled = replace(order, order_type=OrderType.MARKET, open_time_ms=tick.time_ms)
                self.orders[order.ticket] = filled
                return [BrokerEvent("pending_fill", order.ticket, order.open_price)]
            return []
        close = tick.bid if buy else tick.ask
        sl_hit = order.sl is not None and (close <= order.sl if buy else close >= order.sl)
        tp_hit = order.tp is not None and (close >= order.tp if buy else close <= order.tp)
        if sl_hit or tp_hit:
            kind = "sl" if sl_hit else "tp"
            self._book_close(order, order.lots, close, tick.time_ms, kind)
            return [BrokerEvent(kind, order.ticket, close)]
        return []

    def _stop_out(self, now_ms: int) -> list[BrokerEvent]:
        events = []
        while (level := self.margin_level) is not None and level < self.stop_out_level:
            worst = min(self.positions(), key=self.profit)
            price = self._close_price(worst)
            self._book_close(worst, worst.lots, price, now_ms, "stop_out")
            events.append(BrokerEvent("stop_out", worst.ticket, price))
        return events

    # ---- trade operations -----------------------------------------------------------
    def open_market(
        self,
        symbol: str,
        side: Side,
        volume: Decimal,
        *,
        now_ms: int,
        sl: Decimal | None = None,
        tp: Decimal | None = None,
        max_slippage_points: int | None = None,
        magic: int = 0,
        comment: str = "",
    ) -> Fill:
        """OrderSend at market: buy at ask, sell at bid, plus adverse slippage."""
        self.faults.check("open")
        info = self.info(symbol)
        self._check_volume(info, volume)
        tick = self.quote(symbol)
        price = self._slipped(info, tick.ask if side is Side.BUY else tick.bid, side)
        self._check_slippage(
            info, tick.ask if side is Side.BUY else tick.bid, price, max_slippage_points
        )
        self._check_stops(side, tick.bid if side is Side.BUY else tick.ask, sl, tp)
        if self._margin(symbol, volume) > self.equity - self.margin:
            raise TradeError(ERR.NOT_ENOUGH_MONEY)
        order = SimOrder(
            self.tickets(),
            symbol,
            side,
            OrderType.MARKET,
            volume,
            price,
            sl,
            tp,
            magic,
            comment,
            now_ms,
        )
        self.orders[order.ticket] = order
        return Fill(order.ticket, price, volume)

    def place_pending(
        self,
        symbol: str,
        side: Side,
        order_type: OrderType,
        volume: Decimal,
        price: Decimal,
        *,
        now_ms: int,
        sl: Decimal | None = None,
        tp: Decimal | None = None,
        magic: int = 0,
        comment: str = "",
    ) -> int:
        """OrderSend of a limit/stop order; returns its ticket."""
        self.faults.check("place_pending")
        info = self.info(symbol)
        self._check_volume(info, volume)
        tick = self.quote(symbol)
        market = tick.ask if side is Side.BUY else tick.bid
        below = info.quantize(price) < market
        if order_type is OrderType.MARKET or below != (
            (order_type is OrderType.LIMIT) == (side is Side.BUY)
        ):
            raise TradeError(
                ERR.INVALID_PRICE, f"{side} {order_type} at {price} vs market {market}"
            )
        order = SimOrder(
            self.tickets(),
            symbol,
            side,
            order_type,
            volume,
            info.quantize(price),
            sl,
            tp,
            magic,
            comment,
            now_ms,
        )
        self.orders[order.ticket] = order
        return order.ticket

    def modify(
        self, ticket: int, *, sl: Decimal | None, tp: Decimal | None, price: Decimal | None = None
    ) -> SimOrder:
        """OrderModify: new SL/TP (and a pending order's price)."""
        self.faults.check("modify")
        order = self._order(ticket)
        if not order.pending:
            tick = self.quote(order.symbol)
            self._check_stops(order.side, tick.bid if order.side is Side.BUY else tick.ask, sl, tp)
        new_price = order.open_price if price is None or not order.pending else price
        updated = replace(order, sl=sl, tp=tp, open_price=new_price)
        self.orders[ticket] = updated
        return updated

    def close(
        self,
        ticket: int,
        volume: Decimal | None = None,
        *,
        now_ms: int,
        max_slippage_points: int | None = None,
    ) -> Fill:
        """OrderClose of all or part of a position (the remainder gets a new ticket)."""
        self.faults.check("close")
        order = self._order(ticket)
        if order.pending:
            raise TradeError(ERR.INVALID_TICKET, f"#{ticket} is a pending order")
        info = self.info(order.symbol)
        lots = order.lots if volume is None else volume
        self._check_volume(info, lots)
        rest = order.lots - lots
        if rest < 0 or ZERO < rest < info.min_lot:
            raise TradeError(ERR.INVALID_VOLUME, f"cannot close {lots} of {order.lots}")
        market = self._close_price(order)
        price = self._slipped(info, market, order.side.opposite)
        self._check_slippage(info, market, price, max_slippage_points)
        new_ticket = self._book_close(order, lots, price, now_ms, "partial" if rest else "close")
        return Fill(ticket, price, lots, new_ticket)

    def cancel(self, ticket: int, *, now_ms: int) -> None:
        """OrderDelete of a pending order."""
        self.faults.check("cancel_pending")
        order = self._order(ticket)
        if not order.pending:
            raise TradeError(ERR.INVALID_TICKET, f"#{ticket} is not a pending order")
        del self.orders[ticket]
        self.history.append(
            ClosedTrade(
                ticket,
                order.symbol,
                order.side,
                order.lots,
                order.open_price,
                order.open_price,
                ZERO,
                now_ms,
                "cancel",
            )
        )

    # ---- helpers --------------------------------------------------------------------
    def _order(self, ticket: int) -> SimOrder:
        try:
            return self.orders[ticket]
        except KeyError:
            raise TradeError(ERR.INVALID_TICKET, f"no open order #{ticket}") from None

    def _close_price(self, order: SimOrder) -> Decimal:
        tick = self.quote(order.symbol)
        return tick.bid if order.side is Side.BUY else tick.ask

    def _book_close(
        self, order: SimOrder, lots: Decimal, price: Decimal, now_ms: int, reason: str
    ) -> int | None:
        """Realise `lots` of `order` at `price`; returns the remainder's new ticket."""
        profit = self._pnl(order, lots, price)
        self.balance += profit
        del self.orders[order.ticket]
        self.history.append(
            ClosedTrade(
                order.ticket,
                order.symbol,
                order.side,
                lots,
                order.open_price,
                price,
                profit,
                now_ms,
                reason,
                order.comment,
            )
        )
        if lots >= order.lots:
            return None
        rest = replace(
            order, ticket=self.tickets(), lots=order.lots - lots, comment=f"from #{order.ticket}"
        )
        self.orders[rest.ticket] = rest
        return rest.ticket

    def _slipped(self, info: SymbolInfo, price: Decimal, side: Side) -> Decimal:
        points = self.rng.randint(0, self.slippage_points) if self.slippage_points else 0
        sign = 1 if side is Side.BUY else -1
        return info.quantize(price + sign * points * info.point)

    @staticmethod
    def _check_slippage(
        info: SymbolInfo, market: Decimal, price: Decimal, max_points: int | None
    ) -> None:
        if max_points is not None and abs(price - market) > max_points * info.point:
            raise TradeError(ERR.REQUOTE)

    @staticmethod
    def _check_volume(info: SymbolInfo, volume: Decimal) -> None:
        steps = (volume / info.lot_step).to_integral_value(rounding=ROUND_DOWN)
        if not info.min_lot <= volume <= info.max_lot or steps * info.lot_step != volume:
            raise TradeError(ERR.INVALID_VOLUME, f"invalid volume {volume}")

    @staticmethod
    def _check_stops(side: Side, close: Decimal, sl: Decimal | None, tp: Decimal | None) -> None:
        buy = side is Side.BUY
        if sl is not None and (sl >= close if buy else sl <= close):
            raise TradeError(ERR.INVALID_STOPS, f"stop loss {sl} vs price {close}")
        if tp is not None and (tp <= close if buy else tp >= close):
            raise TradeError(ERR.INVALID_STOPS, f"take profit {tp} vs price {close}")
