"""Planner, entries: open (market) and place_pending."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copier.core import (
    CircuitBreaker,
    LinkKind,
    LinkState,
    Send,
    Skip,
    SkipReason,
    SwitchStatus,
    WaitForLink,
    derive_command_id,
    plan_intent,
)
from schemas.codes import Action, ExecutionStatus, OrderType, Side
from schemas.subscriptions import SubscriptionStatus

from .builders import FOLLOWER, MASTER, NOW, Copier, D, follower, intent, sent, settings, signal


def skip_reason(plan_outcome: object) -> SkipReason:
    assert isinstance(plan_outcome, Skip), plan_outcome
    return plan_outcome.reason


def test_follower_receives_open_with_derived_command_id_and_expiry() -> None:
    plan = plan_intent(signal(intent_id="i-7"), settings(), follower(), NOW + 100)
    command = sent(plan)
    assert command.command_id == derive_command_id(MASTER, "i-7", FOLLOWER)
    assert command.action is Action.OPEN
    assert (command.symbol, command.side, command.order_type) == (
        "EURUSD",
        Side.BUY,
        OrderType.MARKET,
    )
    assert command.volume == D(1)
    assert (command.sl, command.tp) == (D("1.09"), D("1.12"))
    assert command.master_ticket == 100
    assert command.expires_at == NOW + 30_000  # received + max_signal_age_ms
    assert command.master_account_id == MASTER


def test_open_creates_an_opening_link_awaiting_the_command() -> None:
    plan = plan_intent(signal(), settings(), follower(), NOW)
    link = plan.links.find(MASTER, 100)
    assert link is not None
    assert (link.state, link.kind, link.follower_ticket) == (
        LinkState.OPENING,
        LinkKind.POSITION,
        None,
    )
    assert plan.links.for_command(sent(plan).command_id) == link


def test_command_id_differs_per_follower_and_per_intent() -> None:
    ids = {
        derive_command_id(MASTER, "i-1", FOLLOWER),
        derive_command_id(MASTER, "i-2", FOLLOWER),
        derive_command_id(MASTER, "i-1", "follower-2"),
        derive_command_id("master-2", "i-1", FOLLOWER),
    }
    assert len(ids) == 4


def test_reverse_flips_side_and_swaps_sl_and_tp() -> None:
    command = sent(plan_intent(signal(), settings(reverse=True), follower(), NOW))
    assert command.side is Side.SELL
    assert (command.sl, command.tp) == (D("1.12"), D("1.09"))


@pytest.mark.parametrize(
    ("master_type", "follower_type"),
    [(OrderType.LIMIT, OrderType.STOP), (OrderType.STOP, OrderType.LIMIT)],
)
def test_reverse_turns_a_limit_into_a_stop_and_back(
    master_type: OrderType, follower_type: OrderType
) -> None:
    payload = intent(Action.PLACE_PENDING, order_type=master_type, price=D("1.09500"))
    command = sent(plan_intent(signal(payload), settings(reverse=True), follower(), NOW))
    assert (command.side, command.order_type, command.price) == (
        Side.SELL,
        follower_type,
        D("1.095"),
    )


def test_symbol_map_renames_the_follower_symbol() -> None:
    symbols = {"EURUSD.m": follower().symbols["EURUSD"].model_copy(update={"symbol": "EURUSD.m"})}
    plan = plan_intent(
        signal(), settings(symbol_map={"EURUSD": "EURUSD.m"}), follower(symbols=symbols), NOW
    )
    assert sent(plan).symbol == "EURUSD.m"


def test_unknown_follower_symbol_is_skipped_with_reason() -> None:
    plan = plan_intent(signal(intent(symbol="XAUUSD")), settings(), follower(), NOW)
    assert skip_reason(plan.outcome) is SkipReason.UNKNOWN_SYMBOL


def test_copy_sl_tp_off_sends_no_stops() -> None:
    command = sent(plan_intent(signal(), settings(copy_sl_tp=False), follower(), NOW))
    assert (command.sl, command.tp) == (None, None)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (SubscriptionStatus.PAUSED, SkipReason.PAUSED),
        (SubscriptionStatus.CLOSE_ONLY, SkipReason.CLOSE_ONLY),
    ],
)
@pytest.mark.parametrize("action", [Action.OPEN, Action.PLACE_PENDING])
def test_no_entries_unless_active(
    status: SubscriptionStatus, reason: SkipReason, action: Action
) -> None:
    payload = intent(
        action, order_type=OrderType.MARKET if action is Action.OPEN else OrderType.LIMIT
    )
    plan = plan_intent(signal(payload), settings(status=status), follower(), NOW)
    assert skip_reason(plan.outcome) is reason
    assert plan.links == follower().links


@pytest.mark.parametrize(
    ("age_ms", "max_age", "expired"),
    [(30_000, 30_000, False), (30_001, 30_000, True), (10**9, None, False)],
)
def test_open_older_than_max_signal_age_is_not_sent(
    age_ms: int, max_age: int | None, expired: bool
) -> None:
    plan = plan_intent(
        signal(received_ms=NOW - age_ms), settings(max_signal_age_ms=max_age), follower(), NOW
    )
    if expired:
        assert skip_reason(plan.outcome) is SkipReason.SIGNAL_EXPIRED
    else:
        command = sent(plan)
        assert command.expires_at == (None if max_age is None else NOW - age_ms + max_age)


def test_pending_order_is_not_copied_when_copy_pending_is_off() -> None:
    payload = intent(Action.PLACE_PENDING, order_type=OrderType.LIMIT)
    plan = plan_intent(signal(payload), settings(copy_pending=False), follower(), NOW)
    assert skip_reason(plan.outcome) is SkipReason.PENDING_NOT_COPIED


def test_place_pending_sends_entry_price_and_expiry() -> None:
    payload = intent(Action.PLACE_PENDING, order_type=OrderType.LIMIT, price=D("1.095"))
    plan = plan_intent(signal(payload), settings(), follower(), NOW)
    command = sent(plan)
    assert (command.action, command.order_type, command.price) == (
        Action.PLACE_PENDING,
        OrderType.LIMIT,
        D("1.095"),
    )
    assert command.expires_at == NOW + 30_000
    link = plan.links.find(MASTER, 100)
    assert link is not None and link.kind is LinkKind.PENDING_ORDER and link.from_pending


def test_drawdown_breach_skips_the_open_and_switches_to_close_only() -> None:
    plan = plan_intent(
        signal(),
        settings(risk={"max_drawdown_pct": 10}),
        follower(equity=D(8_000), equity_peak=D(10_000)),
        NOW,
    )
    assert skip_reason(plan.outcome) is SkipReason.MAX_DRAWDOWN
    assert any(
        isinstance(e, SwitchStatus) and e.status is SubscriptionStatus.CLOSE_ONLY
        for e in plan.effects
    )


def test_open_circuit_breaker_blocks_new_opens() -> None:
    breaker = CircuitBreaker(threshold=1).on_failure(NOW - 1_000)
    plan = plan_intent(signal(), settings(), follower(breaker=breaker), NOW)
    assert skip_reason(plan.outcome) is SkipReason.CIRCUIT_OPEN


def test_lot_cap_clips_the_open_and_records_the_adjustment() -> None:
    copier = Copier(settings(risk={"max_total_lots": "1.5"}))
    first = sent(copier.plan(intent(ticket=1)))
    second = copier.plan(intent(ticket=2))
    assert first.volume == D(1)
    assert isinstance(second.outcome, Send) and second.outcome.command.volume == D("0.5")
    assert [a.after for a in second.outcome.adjustments] == [D("0.5")]
    third = copier.plan(intent(ticket=3))
    assert skip_reason(third.outcome) is SkipReason.MAX_TOTAL_LOTS


def test_max_open_positions_counts_copies_still_opening() -> None:
    copier = Copier(settings(risk={"max_open_positions": 1}))
    sent(copier.plan(intent(ticket=1)))
    assert skip_reason(copier.plan(intent(ticket=2)).outcome) is SkipReason.MAX_OPEN_POSITIONS


def test_failed_copies_do_not_count_as_exposure() -> None:
    copier = Copier(settings(risk={"max_open_positions": 1}))
    copier.report(sent(copier.plan(intent(ticket=1))), ExecutionStatus.REJECTED, error_code=134)
    sent(copier.plan(intent(ticket=2)))


def test_second_open_for_the_same_master_ticket_is_not_copied_twice() -> None:
    copier = Copier()
    sent(copier.plan(intent(), intent_id="i-1"))
    assert (
        skip_reason(copier.plan(intent(), intent_id="i-1").outcome) is SkipReason.DUPLICATE_INTENT
    )
    assert skip_reason(copier.plan(intent(), intent_id="i-9").outcome) is SkipReason.ALREADY_COPIED


# -- a master pending order that fills ----------------------------------------------


def _placed_pending(copier: Copier) -> None:
    placed = sent(copier.plan(intent(Action.PLACE_PENDING, order_type=OrderType.LIMIT)))
    copier.report(placed, ExecutionStatus.PLACED, ticket=9001)


def test_master_pending_fill_leaves_the_follower_order_to_fill_at_its_broker() -> None:
    copier = Copier(settings(pending_fill_grace_ms=None))
    _placed_pending(copier)
    plan = copier.plan(intent(Action.OPEN))
    assert skip_reason(plan.outcome) is SkipReason.FILLS_AT_BROKER


def test_master_pending_fill_schedules_the_cancel_of_the_copy_after_the_grace() -> None:
    copier = Copier(settings(pending_fill_grace_ms=3000))
    _placed_pending(copier)
    plan = copier.plan(intent(Action.OPEN))
    assert isinstance(plan.outcome, Send)
    assert plan.outcome.command.action is Action.CANCEL_PENDING
    assert plan.outcome.command.ticket == 9001
    assert plan.outcome.not_before_ms == NOW + 3000


def test_master_pending_fill_waits_while_the_follower_order_is_being_placed() -> None:
    copier = Copier()
    sent(copier.plan(intent(Action.PLACE_PENDING, order_type=OrderType.LIMIT)))
    assert isinstance(copier.plan(intent(Action.OPEN)).outcome, WaitForLink)


def test_master_pending_fill_opens_at_market_when_the_follower_has_no_order() -> None:
    copier = Copier(settings(copy_pending=False))
    skip_reason(copier.plan(intent(Action.PLACE_PENDING, order_type=OrderType.LIMIT)).outcome)
    command = sent(copier.plan(intent(Action.OPEN, order_type=OrderType.LIMIT)))
    assert (command.action, command.order_type) == (Action.OPEN, OrderType.MARKET)


def test_master_pending_fill_opens_at_market_when_the_follower_order_was_rejected() -> None:
    copier = Copier()
    placed = sent(copier.plan(intent(Action.PLACE_PENDING, order_type=OrderType.LIMIT)))
    copier.report(placed, ExecutionStatus.REJECTED, error_code=130)
    command = sent(copier.plan(intent(Action.OPEN)))
    assert command.action is Action.OPEN
    link = copier.links.find(MASTER, 100)
    assert link is not None and link.state is LinkState.OPENING and not link.from_pending


# -- determinism ----------------------------------------------------------------------

_actions = st.sampled_from([Action.OPEN, Action.PLACE_PENDING])


@given(
    action=_actions,
    volume=st.decimals(min_value="0.01", max_value=50, places=2),
    reverse=st.booleans(),
    mode=st.sampled_from(["mirror", "proportional", "fixed_fractional", "fixed_lot"]),
    age=st.integers(0, 60_000),
    intent_id=st.text(min_size=1, max_size=20),
)
def test_planner_is_deterministic(
    action: Action, volume: Any, reverse: bool, mode: str, age: int, intent_id: str
) -> None:
    allocation: dict[str, object] = {"mode": mode}
    if mode == "fixed_fractional":
        allocation["risk_fraction"] = "0.02"
    if mode == "fixed_lot":
        allocation["lots"] = "0.3"
    order_type = OrderType.MARKET if action is Action.OPEN else OrderType.STOP
    sig = signal(
        intent(action, order_type=order_type, volume=volume),
        intent_id=intent_id,
        received_ms=NOW - age,
    )
    subscription = settings(allocation=allocation, reverse=reverse)
    state = follower()
    first = plan_intent(sig, subscription, state, NOW)
    second = plan_intent(replace(sig), subscription, replace(state), NOW)
    assert first == second
    assert state == follower()  # inputs are never mutated
