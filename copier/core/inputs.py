"""Inputs and output of the planner: a master signal, a follower's state, a plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from copier.core.links import LinkBook
from copier.core.outcomes import Effect, Outcome, Send
from copier.core.retry import CircuitBreaker
from copier.core.values import value
from schemas.messages import OrderCommandPayload, OrderIntentPayload, SymbolSpec

__all__ = ["FollowerState", "MasterSignal", "Plan"]


@dataclass(frozen=True, slots=True)
class MasterSignal:
    """One OrderIntent of a master, as the server received it."""

    master_account_id: str  # the master account
    intent_id: str  # the intent envelope's `id` (sender-unique)
    intent: OrderIntentPayload  # what the master did
    received_ms: int  # when the server received it (server clock; signal age counts from here)
    master_equity: Decimal | None = None  # the master's latest equity (proportional sizing)
    trace_parent: str | None = None  # W3C traceparent of the copier span that read it (opaque)


@value
class FollowerState:
    """What the planner knows about one follower account."""

    account_id: str  # the follower account
    equity: Decimal | None = None  # latest equity (heartbeat, InitRequest or snapshot)
    equity_peak: Decimal | None = None  # highest equity seen (see `risk.update_peak`)
    symbols: Mapping[str, SymbolSpec] = field(default_factory=dict)  # from InitRequest
    links: LinkBook = field(default_factory=LinkBook)  # the follower's ticket links
    recent_order_ms: tuple[int, ...] = ()  # times of this subscription's recent new orders
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)  # per-follower breaker


@value
class Plan:
    """The planner's decision for one (signal, follower) pair."""

    outcome: Outcome  # send, skip or wait for link
    links: LinkBook  # the follower's link book after the decision (store it with the command)
    effects: tuple[Effect, ...] = ()  # what the caller must also do

    @property
    def command(self) -> OrderCommandPayload | None:
        """The command to send, if the outcome is `Send`."""
        return self.outcome.command if isinstance(self.outcome, Send) else None
