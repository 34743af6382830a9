"""Do the followers hold what their masters hold, under each allocation? (pure)

For every follower and every master it subscribes to, each open master order
(position or pending) must either have exactly one copy on the follower, or a
recorded reason why not (a skip or final rejection in the copier's copy
records, or the copy's own SL/TP/stop-out at the follower's broker). Every copy
must belong to an order its master still holds. A copy must have the mapped
symbol, the (reversed) side, and:

* opened volume = the allocation of the master's opened volume: exact for
  `mirror` and `fixed_lot` (cap at max_lot, round down to lot_step); within
  ±25 % (+ one lot_step) of master lots x follower/master equity for
  `proportional`, which sizes on the equities the copier last read from
  heartbeats; `fixed_fractional` sizes on the stop at open time (later modifies
  move it), so only its remainder is checked; at most the allocation when a lot
  cap guard clips;
* current volume = the opened volume replayed through the master's partial
  closes with the copier's documented rule (share rounded down; below min_lot →
  nothing; a remainder below min_lot → everything).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from gateway.client.sim import CopyTag, SimAccount
from schemas.subscriptions import (
    FixedLotAllocation,
    MirrorAllocation,
    ProportionalAllocation,
    SubscriptionSettings,
)

__all__ = ["Holding", "Mismatch", "holdings", "replay_closes", "verify_follower"]

ZERO = Decimal(0)
#: Relative band for equity-based allocations.
EQUITY_BAND = Decimal("0.25")


@dataclass(frozen=True)
class Holding:
    """An open order with the history of its ticket chain (partial closes)."""

    ticket: int  #: current ticket
    symbol: str  #: broker symbol
    side: str  #: buy / sell
    pending: bool  #: a pending order
    volume: Decimal  #: lots now
    opened: Decimal  #: lots when the chain opened
    closes: tuple[Decimal, ...]  #: partial closes, oldest first
    chain: frozenset[int]  #: every ticket the chain had
    tag: CopyTag | None = None  #: for a follower copy: the master order

    def to_json(self) -> dict[str, Any]:
        """For the summary."""
        return {
            "ticket": self.ticket,
            "symbol": self.symbol,
            "side": self.side,
            "pending": self.pending,
            "volume": float(self.volume),
            "opened": float(self.opened),
            "closes": [float(c) for c in self.closes],
            "chain": sorted(self.chain),
            "master": (
                {"account": self.tag.master_account_id, "ticket": self.tag.master_ticket}
                if self.tag
                else None
            ),
        }


@dataclass(frozen=True)
class Mismatch:
    """One way a follower differs from its master."""

    master: str  #: master account
    master_ticket: int | None  #: the master order concerned
    problem: str  #: what is wrong
    detail: str = ""  #: the numbers


def holdings(account: SimAccount, tags: dict[int, CopyTag] | None = None) -> list[Holding]:
    """Every open order of `account`, with its chain rebuilt from ``from #`` comments."""
    partials = {t.ticket: t for t in account.history if t.reason == "partial"}
    out = []
    for order in sorted(account.orders.values(), key=lambda o: o.ticket):
        chain, closes, comment = {order.ticket}, [], order.comment
        while comment.startswith("from #"):
            previous = partials.get(int(comment.removeprefix("from #")))
            if previous is None:
                break
            chain.add(previous.ticket)
            closes.append(previous.lots)
            comment = previous.comment
        closes.reverse()
        out.append(
            Holding(
                ticket=order.ticket,
                symbol=order.symbol,
                side=order.side.value,
                pending=order.pending,
                volume=order.lots,
                opened=order.lots + sum(closes, ZERO),
                closes=tuple(closes),
                chain=frozenset(chain),
                tag=(tags or {}).get(order.ticket),
            )
        )
    return out


def _round_down(volume: Decimal, step: Decimal) -> Decimal:
    return (volume / step).to_integral_value(rounding=ROUND_DOWN) * step


def replay_closes(
    follower_opened: Decimal,
    master_opened: Decimal,
    closes: tuple[Decimal, ...],
    step: Decimal,
    min_lot: Decimal,
) -> Decimal:
    """The follower's remaining lots after the master's partial closes (copier rule)."""
    remaining, master = follower_opened, master_opened
    for closed in closes:
        if closed >= master:
            share = remaining
        else:
            share = _round_down(remaining * closed / master, step)
            if share < min_lot or share <= 0:
                share = ZERO
            elif share >= remaining or remaining - share < min_lot:
                share = remaining
        remaining -= share
        master -= closed
    return remaining


def _expected_open(
    settings: SubscriptionSettings, master: Holding, limits: tuple[Decimal, Decimal, Decimal]
) -> tuple[Decimal, Decimal] | None:
    """(low, high) for the copy's opened lots; None when the mode is equity-based."""
    step, min_lot, max_lot = limits
    allocation = settings.allocation
    if isinstance(allocation, MirrorAllocation):
        raw = master.opened * allocation.multiplier
    elif isinstance(allocation, FixedLotAllocation):
        raw = allocation.lots
    else:
        return None
    exact = _round_down(min(raw, max_lot), step)
    risk = settings.risk
    clipped = risk.max_total_lots is not None or risk.max_lots_per_symbol is not None
    return (min_lot if clipped else exact), exact


def verify_follower(
    master_id: str,
    settings: SubscriptionSettings,
    master_orders: list[Holding],
    copies: list[Holding],
    limits: dict[str, tuple[Decimal, Decimal, Decimal]],
    *,
    equity_ratio: Decimal | None,
    explained: dict[int, str],
    closed_at_broker: set[int],
) -> list[Mismatch]:
    """Mismatches between one master's open orders and one follower's copies of them.

    Args:
        master_id: the master account.
        settings: the subscription.
        master_orders: the master's open orders.
        copies: the follower's orders tagged with this master.
        limits: follower symbol -> (lot_step, min_lot, max_lot).
        equity_ratio: follower / master equity (for equity-based modes), if known.
        explained: master ticket -> why the copier did not copy it (copy records).
        closed_at_broker: master tickets whose copy the follower's broker closed.
    """
    problems: list[Mismatch] = []
    by_master: dict[int, list[Holding]] = {}
    for copy in copies:
        if copy.tag is not None:
            by_master.setdefault(copy.tag.master_ticket, []).append(copy)
    held = {t for m in master_orders for t in m.chain}
    for copy in copies:
        if copy.tag is not None and copy.tag.master_ticket not in held:
            problems.append(
                Mismatch(
                    master_id,
                    copy.tag.master_ticket,
                    "orphan_copy",
                    f"follower #{copy.ticket} copies a closed master order",
                )
            )
    for order in master_orders:
        found = [c for t, group in by_master.items() if t in order.chain for c in group]
        if not found:
            if not (order.chain & closed_at_broker) and not any(
                t in explained for t in order.chain
            ):
                problems.append(
                    Mismatch(master_id, order.ticket, "missing_copy", "no copy, no reason")
                )
            continue
        if len(found) > 1:
            problems.append(
                Mismatch(master_id, order.ticket, "duplicate_copy", str([c.ticket for c in found]))
            )
        problems.extend(_compare(master_id, settings, order, found[0], limits, equity_ratio))
    return problems


def _compare(
    master_id: str,
    settings: SubscriptionSettings,
    order: Holding,
    copy: Holding,
    limits: dict[str, tuple[Decimal, Decimal, Decimal]],
    equity_ratio: Decimal | None,
) -> list[Mismatch]:
    out: list[Mismatch] = []

    def bad(problem: str, detail: str) -> None:
        out.append(Mismatch(master_id, order.ticket, problem, detail))

    symbol = settings.symbol_map.get(order.symbol, order.symbol)
    side = ({"buy": "sell", "sell": "buy"}[order.side]) if settings.reverse else order.side
    if (copy.symbol, copy.side, copy.pending) != (symbol, side, order.pending):
        bad(
            "different_order",
            f"{copy.symbol} {copy.side} pending={copy.pending} "
            f"vs {symbol} {side} pending={order.pending}",
        )
        return out
    step, min_lot, max_lot = limits[copy.symbol]
    expected = _expected_open(settings, order, (step, min_lot, max_lot))
    if expected is not None and not expected[0] <= copy.opened <= expected[1]:
        bad("wrong_size", f"opened {copy.opened}, allocation says {expected[0]}..{expected[1]}")
    allocation = settings.allocation
    if isinstance(allocation, ProportionalAllocation) and equity_ratio is not None:
        estimate = order.opened * equity_ratio * allocation.multiplier
        low, high = estimate * (1 - EQUITY_BAND) - step, estimate * (1 + EQUITY_BAND) + step
        if not low <= copy.opened <= high:
            bad("wrong_size", f"opened {copy.opened}, proportional estimate {estimate:.3f}")
    remaining = replay_closes(copy.opened, order.opened, order.closes, step, min_lot)
    if copy.volume != remaining:
        bad("wrong_remainder", f"holds {copy.volume}, partial closes leave {remaining}")
    return out
