"""Small builders of copier-core inputs with sensible defaults (fakes, not mocks)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from copier.core import (
    FollowerState,
    LinkBook,
    MasterSignal,
    Plan,
    ReportApplied,
    Send,
    plan_intent,
)
from schemas.codes import Action, ExecutionStatus, OrderType, Side
from schemas.messages import (
    ExecutionReportPayload,
    OrderCommandPayload,
    OrderIntentPayload,
    SymbolSpec,
)
from schemas.subscriptions import SubscriptionSettings

MASTER = "master-1"
FOLLOWER = "follower-1"
NOW = 1_763_800_000_000
MASTER_EQUITY = Decimal(10_000)

D = Decimal


def spec(symbol: str = "EURUSD", **overrides: Any) -> SymbolSpec:
    """A 5-digit FX symbol: 100k contract, lots 0.01..100 in 0.01 steps."""
    fields: dict[str, Any] = {
        "symbol": symbol,
        "digits": 5,
        "point": D("0.00001"),
        "contract_size": D(100_000),
        "lot_step": D("0.01"),
        "min_lot": D("0.01"),
        "max_lot": D(100),
    }
    fields.update(overrides)
    return SymbolSpec.model_validate(fields)


def settings(**overrides: Any) -> SubscriptionSettings:
    """Subscription settings from a JSON-like dict (defaults: mirror x1, active)."""
    return SubscriptionSettings.model_validate(overrides)


def intent(action: Action = Action.OPEN, ticket: int = 100, **overrides: Any) -> OrderIntentPayload:
    """A master intent: buy 1 lot EURUSD at 1.1 with SL 1.09 and TP 1.12."""
    fields: dict[str, Any] = {
        "action": action,
        "ticket": ticket,
        "symbol": "EURUSD",
        "side": Side.BUY,
        "order_type": OrderType.MARKET,
        "volume": D(1),
        "price": D("1.10000"),
        "sl": D("1.09000"),
        "tp": D("1.12000"),
    }
    fields.update(overrides)
    return OrderIntentPayload.model_validate(fields)


def signal(
    payload: OrderIntentPayload | None = None,
    *,
    intent_id: str = "i-1",
    received_ms: int = NOW,
    master_equity: Decimal | None = MASTER_EQUITY,
) -> MasterSignal:
    return MasterSignal(MASTER, intent_id, payload or intent(), received_ms, master_equity)


def follower(**overrides: Any) -> FollowerState:
    """A follower with 10 000 equity (also the peak) and EURUSD + GBPUSD specs."""
    fields: dict[str, Any] = {
        "account_id": FOLLOWER,
        "equity": D(10_000),
        "equity_peak": D(10_000),
        "symbols": {"EURUSD": spec("EURUSD"), "GBPUSD": spec("GBPUSD")},
    }
    fields.update(overrides)
    return FollowerState(**fields)


def report(
    command: OrderCommandPayload | str, status: ExecutionStatus, **overrides: Any
) -> ExecutionReportPayload:
    command_id = command if isinstance(command, str) else command.command_id
    return ExecutionReportPayload.model_validate(
        {"command_id": command_id, "status": status, **overrides}
    )


def sent(plan: Plan) -> OrderCommandPayload:
    """The command of a plan that must be a `Send`."""
    assert isinstance(plan.outcome, Send), plan.outcome
    return plan.outcome.command


class Copier:
    """A tiny in-memory driver over the pure core: plans intents, applies reports.

    It stands in for the future worker in scenario tests.
    """

    def __init__(self, subscription: SubscriptionSettings | None = None, **state: Any) -> None:
        #: the follower's subscription to MASTER
        self.settings = subscription or settings()
        #: the follower's current state (its link book evolves)
        self.follower = follower(**state)
        #: intents counted so far (for unique intent ids)
        self.count = 0

    @property
    def links(self) -> LinkBook:
        """The follower's current link book."""
        return self.follower.links

    def plan(self, payload: OrderIntentPayload, *, now_ms: int = NOW, **kw: Any) -> Plan:
        """Plan an intent and keep the resulting link book."""
        self.count += 1
        kw.setdefault("intent_id", f"i-{self.count}")
        kw.setdefault("received_ms", now_ms)
        result = plan_intent(signal(payload, **kw), self.settings, self.follower, now_ms)
        self.follower = replace(self.follower, links=result.links)
        return result

    def report(
        self, command: OrderCommandPayload, status: ExecutionStatus, **overrides: Any
    ) -> ReportApplied:
        """Apply a follower report and keep the resulting link book."""
        applied = self.links.apply_report(report(command, status, **overrides))
        self.follower = replace(self.follower, links=applied.book)
        return applied
