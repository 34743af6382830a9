"""How a simulated master trades: a seeded random policy or a script.

A policy only calls the `SimAccount` trade API; the intents are *derived* from
the order-list diff afterwards (`diff.py`), exactly as the real EA does. Errors
the master's own broker raises are swallowed (the trade simply did not happen).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from gateway.client.sim.broker import SimAccount
from gateway.client.sim.faults import ERR, TradeError
from gateway.client.sim.orders import SimOrder
from schemas.codes import Action, OrderType, Side

__all__ = ["MasterPolicy", "RandomPolicy", "ScriptStep", "ScriptedPolicy"]


class MasterPolicy(Protocol):
    """Decides the master's trades."""

    def act(self, account: SimAccount, now_ms: int) -> None:
        """Trade on `account` (or not) at `now_ms`."""


def _stops(
    account: SimAccount,
    symbol: str,
    side: Side,
    entry: Decimal,
    sl_points: int | None,
    tp_points: int | None,
) -> tuple[Decimal | None, Decimal | None]:
    point = account.info(symbol).point
    sign = 1 if side is Side.BUY else -1
    sl = entry - sign * sl_points * point if sl_points else None
    tp = entry + sign * tp_points * point if tp_points else None
    return sl, tp


@dataclass(frozen=True)
class ScriptStep:
    """One scripted trade. `ref` names an order chain: the n-th order the script opened.

    `open` / `place_pending` create chain `ref`; `modify`, `close` (with `volume`
    for a partial close) and `cancel_pending` act on that chain's current ticket
    (a partial close moves the chain to the remainder's ticket).
    """

    at_ms: int  #: when, relative to the policy's start
    action: Action  #: what to do
    ref: int  #: the order chain
    symbol: str = "EURUSD"  #: symbol (opens)
    side: Side = Side.BUY  #: side (opens)
    volume: Decimal | None = None  #: lots (opens; partial close volume)
    order_type: OrderType = OrderType.MARKET  #: pending kind for place_pending
    offset_points: int = 0  #: pending price distance from the market (+ above)
    sl_points: int | None = None  #: SL distance from the entry
    tp_points: int | None = None  #: TP distance from the entry


class ScriptedPolicy:
    """Plays `ScriptStep`s in order once their time has come."""

    def __init__(
        self, steps: Sequence[ScriptStep], start_ms: int, *, then: MasterPolicy | None = None
    ) -> None:
        self.steps = sorted(steps, key=lambda s: s.at_ms)  #: the script
        self.then = then  #: the policy that takes over once the script is played
        self.start_ms = start_ms  #: time origin of `at_ms`
        self.position = 0  #: next step
        self.chains: dict[int, int] = {}  #: ref -> current ticket
        self.failed: list[tuple[ScriptStep, int]] = []  #: steps the broker refused, with code

    def act(self, account: SimAccount, now_ms: int) -> None:
        """Play every due step (then hand over to `then`)."""
        if self.position >= len(self.steps) and self.then is not None:
            self.then.act(account, now_ms)
            return
        while (
            self.position < len(self.steps)
            and self.steps[self.position].at_ms <= now_ms - self.start_ms
        ):
            step = self.steps[self.position]
            self.position += 1
            try:
                self._play(account, step, now_ms)
            except TradeError as exc:
                self.failed.append((step, exc.code))

    def _ticket(self, account: SimAccount, ref: int) -> int:
        ticket = self.chains[ref]
        while ticket not in account.orders:  # follow "from #" remainders
            rest = next(
                (o for o in account.orders.values() if o.comment == f"from #{ticket}"), None
            )
            if rest is None:
                return ticket
            ticket = rest.ticket
        self.chains[ref] = ticket
        return ticket

    def _play(self, account: SimAccount, step: ScriptStep, now_ms: int) -> None:
        if step.action is Action.OPEN:
            tick = account.quote(step.symbol)
            entry = tick.ask if step.side is Side.BUY else tick.bid
            sl, tp = _stops(account, step.symbol, step.side, entry, step.sl_points, step.tp_points)
            fill = account.open_market(
                step.symbol, step.side, step.volume or Decimal("0.1"), now_ms=now_ms, sl=sl, tp=tp
            )
            self.chains[step.ref] = fill.ticket
        elif step.action is Action.PLACE_PENDING:
            tick = account.quote(step.symbol)
            info = account.info(step.symbol)
            price = (
                tick.ask if step.side is Side.BUY else tick.bid
            ) + step.offset_points * info.point
            sl, tp = _stops(account, step.symbol, step.side, price, step.sl_points, step.tp_points)
            self.chains[step.ref] = account.place_pending(
                step.symbol,
                step.side,
                step.order_type,
                step.volume or Decimal("0.1"),
                price,
                now_ms=now_ms,
                sl=sl,
                tp=tp,
            )
        elif step.action is Action.MODIFY:
            order = account.orders.get(self._ticket(account, step.ref))
            if order is None:  # closed meanwhile (SL/TP): the broker refuses, as MT4's does
                raise TradeError(ERR.INVALID_TICKET, f"order of step {step.ref} is gone")
            sl, tp = _stops(
                account, order.symbol, order.side, order.open_price, step.sl_points, step.tp_points
            )
            account.modify(order.ticket, sl=sl, tp=tp)
        elif step.action is Action.CLOSE:
            account.close(self._ticket(account, step.ref), step.volume, now_ms=now_ms)
        else:
            account.cancel(self._ticket(account, step.ref), now_ms=now_ms)


class RandomPolicy:
    """A seeded random trader: opens, pendings, SL/TP moves, partial and full closes."""

    def __init__(
        self,
        rng: random.Random,
        symbols: Sequence[str],
        *,
        act_probability: float = 0.3,
        max_orders: int = 4,
        volumes: Sequence[Decimal] = (Decimal("0.1"), Decimal("0.2"), Decimal("0.5"), Decimal("1")),
        stop_points: tuple[int, int] = (60, 250),
        no_stop_probability: float = 0.1,
    ) -> None:
        self.rng = rng  #: the only randomness
        self.symbols = list(symbols)  #: what it trades
        self.act_probability = act_probability  #: chance of a trade per `act`
        self.max_orders = max_orders  #: open positions + pending orders at most
        self.volumes = list(volumes)  #: lot sizes picked from
        self.stop_points = stop_points  #: SL/TP distance range in points
        self.no_stop_probability = no_stop_probability  #: chance of an order without SL

    def act(self, account: SimAccount, now_ms: int) -> None:
        """Maybe trade once."""
        if self.rng.random() >= self.act_probability:
            return
        orders = list(account.orders.values())
        positions = [o for o in orders if not o.pending]
        pendings = [o for o in orders if o.pending]
        choices: list[tuple[str, float]] = []
        if len(orders) < self.max_orders:
            choices += [("open", 4.0), ("pending", 1.0)]
        if positions:
            choices += [("modify", 1.5), ("partial", 1.5), ("close", 2.5)]
        if pendings:
            choices += [("cancel", 1.0)]
        kinds, weights = zip(*choices, strict=True)
        kind = self.rng.choices(kinds, weights)[0]
        with contextlib.suppress(TradeError):  # the master's broker refused: no trade
            self._do(kind, account, positions, pendings, now_ms)

    def _distance(self) -> int:
        return self.rng.randint(*self.stop_points)

    def _do(
        self,
        kind: str,
        account: SimAccount,
        positions: list[SimOrder],
        pendings: list[SimOrder],
        now_ms: int,
    ) -> None:
        if kind in ("open", "pending"):
            symbol = self.rng.choice(self.symbols)
            side = self.rng.choice([Side.BUY, Side.SELL])
            volume = self.rng.choice(self.volumes)
            tick = account.quote(symbol)
            entry = tick.ask if side is Side.BUY else tick.bid
            sl_points = None if self.rng.random() < self.no_stop_probability else self._distance()
            if kind == "open":
                sl, tp = _stops(account, symbol, side, entry, sl_points, self._distance())
                account.open_market(symbol, side, volume, now_ms=now_ms, sl=sl, tp=tp, magic=7)
                return
            order_type = self.rng.choice([OrderType.LIMIT, OrderType.STOP])
            below = (order_type is OrderType.LIMIT) == (side is Side.BUY)
            offset = self.rng.randint(5, 40) * (-1 if below else 1)
            price = entry + offset * account.info(symbol).point
            sl, tp = _stops(account, symbol, side, price, sl_points, self._distance())
            account.place_pending(
                symbol, side, order_type, volume, price, now_ms=now_ms, sl=sl, tp=tp, magic=7
            )
        elif kind == "modify":
            order = self.rng.choice(positions)
            sl, tp = _stops(
                account,
                order.symbol,
                order.side,
                order.open_price,
                self._distance(),
                self._distance(),
            )
            account.modify(order.ticket, sl=sl, tp=tp)
        elif kind == "partial":
            order = self.rng.choice(positions)
            info = account.info(order.symbol)
            half = (order.lots / 2 / info.lot_step).to_integral_value(ROUND_DOWN) * info.lot_step
            if half >= info.min_lot and order.lots - half >= info.min_lot:
                account.close(order.ticket, half, now_ms=now_ms)
        elif kind == "close":
            account.close(self.rng.choice(positions).ticket, now_ms=now_ms)
        else:
            account.cancel(self.rng.choice(pendings).ticket, now_ms=now_ms)
