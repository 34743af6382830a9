"""Master trade detection: the order-list diff the real EA runs (ea_mql4 Snapshot.mqh).

MT4 has no trade event, so the EA compares two views of its order list:

| change | intent |
|---|---|
| new market ticket / new pending ticket | `open` / `place_pending` |
| pending order became a position (same ticket) | `open` |
| SL/TP (or a pending order's price) moved | `modify` |
| ticket gone, remainder ``from #<old>`` found | `close` of the closed part, `new_ticket` |
| position gone | `close` (price from the history) |
| pending gone (deleted) | `cancel_pending` |
| pending gone, but history says it filled and closed | `open`, then `close` |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal

from gateway.client.sim.orders import ClosedTrade, SimOrder
from schemas.codes import Action, OrderType
from schemas.messages import OrderIntentPayload

__all__ = ["diff_orders", "intent_from"]


def intent_from(
    order: SimOrder, action: Action, *, price: Decimal | None = None, **extra: object
) -> OrderIntentPayload:
    """An OrderIntent describing `order`."""
    return OrderIntentPayload.model_validate(
        {
            "action": action,
            "ticket": order.ticket,
            "symbol": order.symbol,
            "side": order.side,
            "order_type": order.order_type,
            "volume": order.lots,
            "price": order.open_price if price is None else price,
            "sl": order.sl,
            "tp": order.tp,
            "magic": order.magic,
            "comment": order.comment[:64] or None,
            **extra,
        }
    )


def _successor(
    old: SimOrder, before: dict[int, SimOrder], after: Sequence[SimOrder]
) -> SimOrder | None:
    fallback = None
    for row in after:
        if row.ticket in before or row.symbol != old.symbol or row.side != old.side or row.pending:
            continue
        if row.comment == f"from #{old.ticket}":
            return row
        if (
            fallback is None
            and row.magic == old.magic
            and row.open_time_ms == old.open_time_ms
            and row.open_price == old.open_price
            and row.lots < old.lots
        ):
            fallback = row
    return fallback


def diff_orders(
    before: Sequence[SimOrder],
    after: Sequence[SimOrder],
    history: Callable[[int], ClosedTrade | None],
) -> list[OrderIntentPayload]:
    """The intents that turn view `before` into view `after`.

    Args:
        before: the order list last reported.
        after: the order list now.
        history: the history entry of a ticket that left the list (close price).
    """
    old = {o.ticket: o for o in before}
    new = {o.ticket: o for o in after}
    out: list[OrderIntentPayload] = []
    successors: set[int] = set()
    for ticket, order in old.items():  # 1. gone: closes, partial closes, cancels
        if ticket in new:
            continue
        closed = history(ticket)
        if order.pending and (closed is None or closed.reason == "cancel"):
            out.append(intent_from(order, Action.CANCEL_PENDING))
            continue
        if order.pending:  # filled and closed between two views
            filled = replace(order, order_type=OrderType.MARKET)
            out.append(intent_from(filled, Action.OPEN))
            order = filled
        price = closed.close_price if closed else order.open_price
        rest = _successor(order, old, after)
        if rest is None:
            out.append(intent_from(order, Action.CLOSE, price=price))
        else:
            successors.add(rest.ticket)
            out.append(
                intent_from(
                    order,
                    Action.CLOSE,
                    price=price,
                    volume=order.lots - rest.lots,
                    new_ticket=rest.ticket,
                )
            )
    for ticket, order in new.items():  # 2. in both: fills and modifications
        prior = old.get(ticket)
        if prior is None:
            continue
        if prior.pending and not order.pending:
            out.append(intent_from(order, Action.OPEN))
        elif (order.sl, order.tp) != (prior.sl, prior.tp) or (
            order.pending and order.open_price != prior.open_price
        ):
            out.append(intent_from(order, Action.MODIFY))
    for ticket, order in new.items():  # 3. new tickets that are not remainders
        if ticket not in old and ticket not in successors:
            out.append(intent_from(order, Action.PLACE_PENDING if order.pending else Action.OPEN))
    return out
