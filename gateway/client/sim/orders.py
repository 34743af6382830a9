"""Orders, fills, history entries and broker events of the simulated terminal."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from schemas.codes import OrderType, Side

__all__ = ["BrokerEvent", "ClosedTrade", "Fill", "SimOrder", "TicketSource"]


class TicketSource:
    """MT4 tickets: one increasing integer sequence per trade server."""

    def __init__(self, start: int = 10_000_000) -> None:
        self._next = itertools.count(start)  #: the sequence

    def __call__(self) -> int:
        return next(self._next)


@dataclass(frozen=True)
class SimOrder:
    """An open position (`order_type` market) or a pending order."""

    ticket: int  #: MT4 ticket
    symbol: str  #: broker symbol
    side: Side  #: buy or sell
    order_type: OrderType  #: market (a position), limit or stop
    lots: Decimal  #: volume
    open_price: Decimal  #: fill price, or the pending order's price
    sl: Decimal | None  #: stop loss
    tp: Decimal | None  #: take profit
    magic: int  #: EA magic number
    comment: str  #: order comment
    open_time_ms: int  #: when it opened (or was placed)

    @property
    def pending(self) -> bool:
        """A limit/stop order not yet filled."""
        return self.order_type is not OrderType.MARKET


@dataclass(frozen=True)
class ClosedTrade:
    """A history entry: a (partly) closed position or a deleted pending order."""

    ticket: int  #: the ticket
    symbol: str  #: broker symbol
    side: Side  #: buy or sell
    lots: Decimal  #: the volume closed
    open_price: Decimal  #: open price
    close_price: Decimal  #: close price (the order price for a deleted order)
    profit: Decimal  #: realised, in account currency
    close_time_ms: int  #: when
    reason: str  #: close, partial, sl, tp, stop_out, cancel
    comment: str = ""  #: the order's comment (``from #<n>`` links partial-close chains)


@dataclass(frozen=True)
class Fill:
    """The outcome of a market open or a close."""

    ticket: int  #: the ticket traded
    price: Decimal  #: the execution price
    volume: Decimal  #: the volume traded
    new_ticket: int | None = None  #: the remainder's ticket after a partial close


@dataclass(frozen=True)
class BrokerEvent:
    """Something the broker did on a tick: `sl`, `tp`, `stop_out` or `pending_fill`."""

    kind: str  #: what happened
    ticket: int  #: to which ticket
    price: Decimal  #: at which price
