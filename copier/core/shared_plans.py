"""Plan once for followers with identical inputs, then stamp each follower's ids. Pure.

The followers of one master intent mostly share everything the planner reads for
a new entry: the subscription settings, the symbol spec, the equity, the
breaker's verdict. `SharedPlans` plans such an entry once per distinct set of
those inputs and gives every other follower of the set the same plan with its
own command id, opening link and link book: exactly what `plan_intent` would
return for it (a test checks the equality over varied followers).

Only new entries (``open``/``place_pending`` for a master ticket the follower has
no link for) that are sent without effects are shared, and only while no guard
reads the follower's exposure or order rate; anything else is planned in full.
Inputs are compared by identity where the caller shares objects (the signal,
the settings, the symbol spec: the worker hands identical ones out as one
object) and by value otherwise, so unshared objects only cost a miss.

One `SharedPlans` serves one decision round (one `now_ms`, signals that stay alive).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from copier.core.commands import derive_command_id, follower_symbol, with_command_id
from copier.core.inputs import FollowerState, MasterSignal, Plan
from copier.core.links import InFlight, TicketLink
from copier.core.outcomes import Send
from copier.core.planner import plan_intent
from copier.core.risk import uses_exposure
from schemas.codes import Action
from schemas.subscriptions import SubscriptionSettings

__all__ = ["SharedPlans"]

_ENTRIES = frozenset({Action.OPEN, Action.PLACE_PENDING})


@dataclass(slots=True)
class SharedPlans:
    """`plan_intent` for many followers at one time, planning shared inputs once."""

    now_ms: int  #: the decision time of the round
    planned: int = 0  #: plans computed in full
    stamped: int = 0  #: plans given from a shared one
    _plans: dict[Hashable, tuple[Send, TicketLink]] = field(default_factory=dict)
    #: the objects whose ids are in the keys, kept alive so that no other object
    #: can take one of those ids during the round
    _pinned: list[object] = field(default_factory=list)

    def plan(
        self, signal: MasterSignal, settings: SubscriptionSettings, follower: FollowerState
    ) -> Plan:
        """The plan `plan_intent(signal, settings, follower, now_ms)` returns."""
        key = _shared_inputs(signal, settings, follower, self.now_ms)
        hit = None if key is None else self._plans.get(key)
        if hit is None:
            self.planned += 1
            plan = plan_intent(signal, settings, follower, self.now_ms)
            if key is not None and isinstance(plan.outcome, Send) and not plan.effects:
                command_id = plan.outcome.command.command_id
                link = plan.links.for_command(command_id)
                if link is not None:
                    self._plans[key] = (plan.outcome, link)
                    self._pinned.append((signal, settings, follower.symbols))
            return plan
        self.stamped += 1
        send, link = hit
        command_id = derive_command_id(
            signal.master_account_id, signal.intent_id, follower.account_id
        )
        flight = link.in_flight
        own = TicketLink(
            master_account_id=link.master_account_id,
            root_ticket=link.root_ticket,
            master_ticket=link.master_ticket,
            master_volume=link.master_volume,
            kind=link.kind,
            state=link.state,
            symbol=link.symbol,
            side=link.side,
            order_type=link.order_type,
            open_command_id=command_id,
            remaining_volume=link.remaining_volume,
            lot_step=link.lot_step,
            min_lot=link.min_lot,
            follower_ticket=link.follower_ticket,
            opened_volume=link.opened_volume,
            in_flight=None
            if flight is None
            else InFlight(command_id, flight.action, flight.volume),
            intent_ids=link.intent_ids,
            error=link.error,
            from_pending=link.from_pending,
        )
        command = with_command_id(send.command, command_id)
        return Plan(Send(command, send.adjustments), follower.links.track(command_id, own))


def _shared_inputs(
    signal: MasterSignal, settings: SubscriptionSettings, follower: FollowerState, now_ms: int
) -> Hashable | None:
    """Everything `plan_entry` reads for this follower, or None when it is not shared."""
    intent = signal.intent
    if intent.action not in _ENTRIES:
        return None
    risk = settings.risk
    if uses_exposure(risk) or risk.max_orders_per_minute is not None:
        return None
    if follower.links.find(signal.master_account_id, intent.ticket) is not None:
        return None
    spec = follower.symbols.get(follower_symbol(settings, intent.symbol))
    equity = follower.equity
    peak = follower.equity_peak if risk.max_drawdown_pct is not None else None
    return (
        id(signal),
        id(settings),
        id(spec),
        None if equity is None else str(equity),
        None if peak is None else str(peak),
        follower.breaker.allows_open(now_ms),
    )
