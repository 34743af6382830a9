"""`SimTerminal`: one simulated MT4 terminal (account + master policy or follower executor).

Pure: `on_ticks(ticks, now_ms)` returns what the EA would send (intents from the
order-list diff for a master; fill reports of placed copies and "snapshot due"
for a follower); `execute(command, now_ms)` runs one OrderCommand. The I/O
binding to an `EAClient` is `gateway.client.sim.runner.SimEA`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from gateway.client.sim.broker import SimAccount
from gateway.client.sim.diff import diff_orders
from gateway.client.sim.follower import FollowerExecutor
from gateway.client.sim.market import Tick
from gateway.client.sim.master import MasterPolicy
from gateway.client.sim.orders import ClosedTrade, SimOrder
from schemas.codes import Role
from schemas.messages import (
    AccountInfo,
    ExecutionReportPayload,
    OrderCommandPayload,
    OrderIntentPayload,
    PendingOrder,
    Position,
    SymbolSpec,
    SyncSnapshotPayload,
)

__all__ = ["SimTerminal", "TerminalOutput"]


@dataclass
class TerminalOutput:
    """What one step produced for the EA to send."""

    intents: list[OrderIntentPayload] = field(default_factory=list)  #: master trade events
    reports: list[ExecutionReportPayload] = field(default_factory=list)  #: unsolicited reports
    snapshot: bool = False  #: the account changed at the broker: send a SyncSnapshot


class SimTerminal:
    """A master (with a policy) or a follower (with an executor) over one `SimAccount`."""

    def __init__(
        self,
        account_id: str,
        account: SimAccount,
        *,
        role: Role,
        policy: MasterPolicy | None = None,
        magic: int = 20_240,
    ) -> None:
        self.account_id = account_id  #: the trading account id
        self.account = account  #: the broker account
        self.role = role  #: master or follower
        self.policy = policy  #: a master's trading policy (None: trades only by hand)
        self.executor = FollowerExecutor(account, magic=magic)  #: a follower's command runner
        self.view: list[SimOrder] = []  #: the order list last reported (master)
        self.intents_sent = 0  #: intents produced so far
        self.trading = True  #: the master's policy may act

    def on_ticks(self, ticks: Iterable[Tick], now_ms: int) -> TerminalOutput:
        """Apply quotes (and the master's policy); return what the EA would send."""
        events = self.account.on_ticks(ticks)
        if self.role is Role.MASTER:
            if self.policy is not None and self.trading:
                self.policy.act(self.account, now_ms)
            return TerminalOutput(intents=self.detect())
        reports = self.executor.on_events(events, now_ms)
        closed = any(e.kind in ("sl", "tp", "stop_out") for e in events)
        return TerminalOutput(reports=reports, snapshot=closed)

    def detect(self) -> list[OrderIntentPayload]:
        """Intents for everything that changed since the last call (the EA's diff)."""
        now = sorted(self.account.orders.values(), key=lambda o: o.ticket)
        intents = diff_orders(self.view, now, self._history)
        self.view = now
        self.intents_sent += len(intents)
        return intents

    def _history(self, ticket: int) -> ClosedTrade | None:
        return next((t for t in reversed(self.account.history) if t.ticket == ticket), None)

    def execute(self, command: OrderCommandPayload, now_ms: int) -> ExecutionReportPayload:
        """Run one OrderCommand (follower)."""
        return self.executor.execute(command, now_ms)

    # ---- what the EA reports ----------------------------------------------------------
    def account_info(self) -> AccountInfo:
        """Balance, equity, currency, leverage."""
        return self.account.account_info()

    def margin_level(self) -> Decimal | None:
        """Equity / margin in percent."""
        return self.account.margin_level

    def symbol_specs(self) -> list[SymbolSpec]:
        """Specs for InitRequest, at current prices."""
        specs = []
        for info in self.account.symbols.values():
            tick = self.account.quotes.get(info.feed_symbol)
            specs.append(info.spec(tick.bid if tick else None))
        return specs

    def snapshot(self) -> SyncSnapshotPayload:
        """Open positions and pending orders."""
        positions = [
            Position(
                ticket=o.ticket,
                symbol=o.symbol,
                side=o.side,
                volume=o.lots,
                open_price=o.open_price,
                sl=o.sl,
                tp=o.tp,
                magic=o.magic,
                comment=o.comment[:64] or None,
            )
            for o in self.account.positions()
        ]
        orders = [
            PendingOrder(
                ticket=o.ticket,
                symbol=o.symbol,
                side=o.side,
                order_type=o.order_type,
                volume=o.lots,
                price=o.open_price,
                sl=o.sl,
                tp=o.tp,
                magic=o.magic,
                comment=o.comment[:64] or None,
            )
            for o in self.account.pending_orders()
        ]
        return SyncSnapshotPayload(
            positions=positions,
            orders=orders,
            balance=self.account.balance,
            equity=self.account.equity,
        )
