"""The planner: one master intent + one follower's state -> one decision. Pure.

`plan_intent` never awaits, never reads a clock and never mutates its inputs:
the same inputs always give the same `Plan` (same command id, same volume, same
link book). The caller (a worker, later) stores ``plan.links`` together with the
command, carries out ``plan.effects``, and parks intents answered with
`WaitForLink` until `LinkBook.apply_report` unblocks the link.

Dispatch by action:

- ``open`` / ``place_pending``: see `copier.core.entries`;
- ``modify`` / ``close`` / ``cancel_pending``: see `copier.core.exits`.
"""

from __future__ import annotations

from copier.core.entries import plan_entry
from copier.core.exits import plan_exit, plan_modify
from copier.core.inputs import FollowerState, MasterSignal, Plan
from schemas.codes import Action
from schemas.subscriptions import SubscriptionSettings

__all__ = ["plan_intent"]


def plan_intent(
    signal: MasterSignal, settings: SubscriptionSettings, follower: FollowerState, now_ms: int
) -> Plan:
    """Decide what one follower does about one master intent.

    Args:
        signal: the master's intent with its id, receive time and the master's equity.
        settings: the follower's subscription to that master.
        follower: the follower's equity, symbols, links, recent orders and breaker.
        now_ms: the current time (epoch ms).

    Returns:
        The outcome (`Send`, `Skip` or `WaitForLink`), the follower's link book
        after the decision, and any effects (e.g. switch to close_only).
    """
    action = signal.intent.action
    if action in (Action.OPEN, Action.PLACE_PENDING):
        return plan_entry(signal, settings, follower, now_ms)
    if action is Action.MODIFY:
        return plan_modify(signal, settings, follower, now_ms)
    return plan_exit(signal, settings, follower, now_ms)
