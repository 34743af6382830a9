"""How a simulated follower executes `OrderCommand`s, like the real EA.

Opens fill at market with the command's `max_slippage_points`; `expires_at` is
honoured for open, place_pending and modify (status `expired`); closes and
cancels always run. A partial close reports `new_ticket`. A placed copy that
fills at the broker is reported as `filled` for its `place_pending` command.
Every MT4 error becomes a `rejected` report with its code.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from gateway.client.sim.broker import SimAccount
from gateway.client.sim.faults import ERR, TradeError
from gateway.client.sim.orders import BrokerEvent
from schemas.codes import Action, ExecutionStatus
from schemas.messages import ExecutionReportPayload, OrderCommandPayload

__all__ = ["CopyTag", "FollowerExecutor"]

_EXPIRING = frozenset({Action.OPEN, Action.PLACE_PENDING, Action.MODIFY})


@dataclass(frozen=True)
class CopyTag:
    """Which master order a follower ticket copies."""

    master_account_id: str | None  #: the master account (from the command)
    master_ticket: int  #: the master's current ticket
    command_id: str  #: the command that created (or last resized) it


def _price(value: Decimal | None) -> Decimal | None:
    return None if value is None or value == 0 else value


class FollowerExecutor:
    """Executes commands on a `SimAccount` and reports like the EA."""

    def __init__(self, account: SimAccount, *, magic: int = 20_240) -> None:
        self.account = account  #: the follower's broker account
        self.magic = magic  #: magic number of copied orders
        self.tags: dict[int, CopyTag] = {}  #: follower ticket -> master order
        self.pending_commands: dict[int, str] = {}  #: placed ticket -> place_pending command id
        self.statuses: Counter[str] = Counter()  #: reports by status
        self.errors: Counter[int] = Counter()  #: rejections by MT4 code
        self.broker_closed: list[tuple[CopyTag, str]] = []  #: copies closed by SL/TP/stop-out

    def execute(self, command: OrderCommandPayload, now_ms: int) -> ExecutionReportPayload:
        """Run one command; never raises."""
        base = {
            "command_id": command.command_id,
            "symbol": command.symbol,
            "executed_at_ms": now_ms,
        }
        if (
            command.action in _EXPIRING
            and command.expires_at is not None
            and now_ms > command.expires_at
        ):
            report = ExecutionReportPayload.model_validate(
                {**base, "status": ExecutionStatus.EXPIRED, "error_message": "command expired"}
            )
        else:
            try:
                report = ExecutionReportPayload.model_validate(
                    {**base, **self._run(command, now_ms)}
                )
            except TradeError as exc:
                self.errors[exc.code] += 1
                report = ExecutionReportPayload.model_validate(
                    {
                        **base,
                        "status": ExecutionStatus.REJECTED,
                        "error_code": exc.code,
                        "error_message": exc.message,
                    }
                )
        self.statuses[report.status.value] += 1
        return report

    def _tag(self, command: OrderCommandPayload) -> CopyTag:
        return CopyTag(command.master_account_id, command.master_ticket, command.command_id)

    def _run(self, command: OrderCommandPayload, now_ms: int) -> dict[str, object]:
        account, sl, tp = self.account, _price(command.sl), _price(command.tp)
        comment = f"cg#{command.master_ticket}"
        if command.action is Action.OPEN:
            note = None
            try:
                fill = account.open_market(
                    command.symbol,
                    command.side,
                    command.volume,
                    now_ms=now_ms,
                    sl=sl,
                    tp=tp,
                    max_slippage_points=command.max_slippage_points,
                    magic=self.magic,
                    comment=comment,
                )
            except TradeError as exc:
                if exc.code != ERR.INVALID_STOPS:
                    raise
                fill = account.open_market(
                    command.symbol,
                    command.side,
                    command.volume,
                    now_ms=now_ms,
                    max_slippage_points=command.max_slippage_points,
                    magic=self.magic,
                    comment=comment,
                )
                note = "filled, but SL/TP could not be set"
            self.tags[fill.ticket] = self._tag(command)
            return {
                "status": ExecutionStatus.FILLED,
                "ticket": fill.ticket,
                "volume": fill.volume,
                "price": fill.price,
                "error_message": note,
            }
        if command.action is Action.PLACE_PENDING:
            if command.price is None:
                raise TradeError(ERR.INVALID_PRICE, "pending order without price")
            ticket = account.place_pending(
                command.symbol,
                command.side,
                command.order_type,
                command.volume,
                command.price,
                now_ms=now_ms,
                sl=sl,
                tp=tp,
                magic=self.magic,
                comment=comment,
            )
            self.tags[ticket] = self._tag(command)
            self.pending_commands[ticket] = command.command_id
            return {
                "status": ExecutionStatus.PLACED,
                "ticket": ticket,
                "volume": command.volume,
                "price": account.orders[ticket].open_price,
            }
        assert command.ticket is not None  # validated by the schema for these actions
        if command.action is Action.MODIFY:
            order = account.modify(command.ticket, sl=sl, tp=tp, price=_price(command.price))
            return {
                "status": ExecutionStatus.MODIFIED,
                "ticket": order.ticket,
                "price": order.open_price,
            }
        if command.action is Action.CLOSE:
            fill = account.close(
                command.ticket,
                command.volume,
                now_ms=now_ms,
                max_slippage_points=command.max_slippage_points,
            )
            tag = self.tags.pop(command.ticket, None)
            if fill.new_ticket is not None and tag is not None:
                self.tags[fill.new_ticket] = CopyTag(
                    tag.master_account_id, command.master_ticket, command.command_id
                )
            return {
                "status": ExecutionStatus.CLOSED,
                "ticket": fill.ticket,
                "volume": fill.volume,
                "price": fill.price,
                "new_ticket": fill.new_ticket,
            }
        account.cancel(command.ticket, now_ms=now_ms)
        self.tags.pop(command.ticket, None)
        self.pending_commands.pop(command.ticket, None)
        return {"status": ExecutionStatus.CANCELLED, "ticket": command.ticket}

    def on_events(self, events: list[BrokerEvent], now_ms: int) -> list[ExecutionReportPayload]:
        """Broker events -> reports (fills of placed copies); counts broker closes."""
        reports = []
        for event in events:
            if event.kind == "pending_fill" and event.ticket in self.pending_commands:
                order = self.account.orders.get(event.ticket)
                reports.append(
                    ExecutionReportPayload(
                        command_id=self.pending_commands.pop(event.ticket),
                        status=ExecutionStatus.FILLED,
                        ticket=event.ticket,
                        symbol=order.symbol if order else None,
                        volume=order.lots if order else None,
                        price=event.price,
                        executed_at_ms=now_ms,
                    )
                )
            elif event.kind in ("sl", "tp", "stop_out"):
                tag = self.tags.pop(event.ticket, None)
                if tag is not None:
                    self.broker_closed.append((tag, event.kind))
                self.pending_commands.pop(event.ticket, None)
        return reports
