"""A pending copy left behind by the master's fill: cancelled after a grace, then opened."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copier.core.conversion import (
    conversion_open,
    is_conversion_cancel,
    schedule_conversion,
    withdraw_conversion,
)
from copier.core.links import InFlight, LinkBook, LinkKind, LinkState, TicketLink
from schemas.codes import Action, ExecutionStatus, OrderType, Side

from .builders import FOLLOWER, MASTER, NOW, D, report, settings

PENDING = TicketLink(
    master_account_id=MASTER,
    root_ticket=100,
    master_ticket=100,
    master_volume=D("1"),
    kind=LinkKind.PENDING_ORDER,
    state=LinkState.OPEN,
    symbol="EURUSD",
    side=Side.BUY,
    order_type=OrderType.LIMIT,
    open_command_id="cmd-place",
    remaining_volume=D("0.5"),
    lot_step=D("0.01"),
    min_lot=D("0.01"),
    follower_ticket=7000,
    from_pending=True,
)


def _schedule(link: TicketLink = PENDING, *, received: int = NOW, **overrides: Any) -> object:
    return schedule_conversion(
        link,
        settings(**overrides),
        intent_id="i-fill",
        follower_account_id=FOLLOWER,
        fill_received_ms=received,
        sl=D("1.09"),
        tp=D("1.12"),
        now_ms=NOW,
    )


@pytest.mark.parametrize(
    ("link", "received", "overrides", "converts"),
    [
        (PENDING, NOW, {}, True),
        (PENDING, NOW, {"pending_fill_grace_ms": None}, False),
        (PENDING, NOW, {"pending_fill_grace_ms": 0}, True),
        (replace(PENDING, kind=LinkKind.POSITION), NOW, {}, False),
        (replace(PENDING, state=LinkState.OPENING, follower_ticket=None), NOW, {}, False),
        (replace(PENDING, state=LinkState.CLOSED), NOW, {}, False),
        (replace(PENDING, in_flight=InFlight("c", Action.MODIFY, D("0.5"))), NOW, {}, False),
        (replace(PENDING, master_volume=D(0)), NOW, {}, False),
        # the age guard of every open: too old by the end of the grace -> left alone
        (PENDING, NOW - 28_000, {"max_signal_age_ms": 30_000}, False),
        (PENDING, NOW - 27_000, {"max_signal_age_ms": 30_000}, True),
        (PENDING, NOW - 10**9, {"max_signal_age_ms": None}, True),
    ],
)
def test_a_pending_copy_is_converted_only_when_idle_placed_and_young_enough(
    link: TicketLink, received: int, overrides: dict[str, Any], converts: bool
) -> None:
    assert isinstance(_schedule(link, received=received, **overrides), tuple) is converts


def test_the_conversion_cancel_is_delayed_by_the_grace_and_blocks_the_link() -> None:
    scheduled = _schedule(pending_fill_grace_ms=3000)
    assert not isinstance(scheduled, str)
    send, link = scheduled
    assert send.not_before_ms == NOW + 3000
    assert send.command.action is Action.CANCEL_PENDING
    assert send.command.ticket == 7000
    assert (send.command.sl, send.command.tp) == (D("1.09"), D("1.12"))
    assert link.in_flight == InFlight(send.command.command_id, Action.CANCEL_PENDING, D("0.5"))
    assert is_conversion_cancel(link, send.command.command_id)
    # a master close books the master side closed: the same cancel is then no conversion
    assert not is_conversion_cancel(replace(link, master_volume=D(0)), send.command.command_id)


def test_a_confirmed_conversion_cancel_opens_the_copys_lots_at_market() -> None:
    scheduled = _schedule()
    assert not isinstance(scheduled, str)
    send, link = scheduled
    opened = conversion_open(
        link, send.command, follower_account_id=FOLLOWER, settings=settings(), now_ms=NOW
    )
    assert opened is not None
    command, position = opened
    assert command.action is Action.OPEN
    assert command.order_type is OrderType.MARKET
    assert (command.volume, command.side, command.symbol) == (D("0.5"), Side.BUY, "EURUSD")
    assert (command.sl, command.tp) == (D("1.09"), D("1.12"))
    assert position.kind is LinkKind.POSITION
    assert position.state is LinkState.OPENING
    assert position.in_flight == InFlight(command.command_id, Action.OPEN, D("0.5"))
    assert position.open_command_id == command.command_id


def test_no_market_open_once_the_master_closed() -> None:
    scheduled = _schedule()
    assert not isinstance(scheduled, str)
    send, link = scheduled
    closed = replace(link, master_volume=D(0))
    assert (
        conversion_open(
            closed, send.command, follower_account_id=FOLLOWER, settings=settings(), now_ms=NOW
        )
        is None
    )


@given(
    grace=st.none() | st.integers(0, 120_000),
    max_age=st.none() | st.integers(1, 120_000),
    age=st.integers(0, 200_000),
)
def test_a_conversion_is_due_exactly_at_the_grace_and_never_past_the_age_limit(
    grace: int | None, max_age: int | None, age: int
) -> None:
    scheduled = _schedule(
        received=NOW - age, pending_fill_grace_ms=grace, max_signal_age_ms=max_age
    )
    expected = grace is not None and (max_age is None or age + grace <= max_age)
    assert isinstance(scheduled, tuple) is expected
    if isinstance(scheduled, tuple):
        assert scheduled[0].not_before_ms == NOW + (grace or 0)
        assert scheduled[0].command.volume == Decimal("0.5")


CANCEL = InFlight("cmd-cancel", Action.CANCEL_PENDING, D("0.5"))
CONVERTING = replace(PENDING, in_flight=CANCEL)
FILLED = replace(CONVERTING, kind=LinkKind.POSITION, order_type=OrderType.MARKET)


@pytest.mark.parametrize(
    ("before", "after", "withdrawn"),
    [
        (CONVERTING, FILLED, True),  # the copy filled in the grace
        (CONVERTING, CONVERTING, False),  # still pending (e.g. a modify's report)
        (replace(CONVERTING, master_volume=D(0)), replace(FILLED, master_volume=D(0)), False),
        (replace(CONVERTING, from_pending=False), replace(FILLED, from_pending=False), False),
        (PENDING, replace(PENDING, kind=LinkKind.POSITION), False),  # nothing scheduled
        (CONVERTING, replace(FILLED, in_flight=None), False),  # the cancel already settled
        (
            replace(CONVERTING, in_flight=InFlight("c", Action.CLOSE, D("0.5"))),
            replace(FILLED, in_flight=InFlight("c", Action.CLOSE, D("0.5"))),
            False,
        ),
    ],
)
def test_a_conversion_cancel_is_withdrawn_only_when_the_converting_copy_filled(
    before: TicketLink, after: TicketLink, withdrawn: bool
) -> None:
    result = withdraw_conversion(before, after)
    assert (result is not None) is withdrawn
    if result is not None:
        assert result == ("cmd-cancel", replace(after, in_flight=None))


@given(
    volume=st.decimals(D("0.01"), D("5"), places=2),
    master_closed=st.booleans(),
    fill_status=st.sampled_from([ExecutionStatus.FILLED, ExecutionStatus.EXPIRED]),
)
def test_a_withdrawn_cancel_leaves_an_idle_position_that_still_knows_the_cancel_id(
    volume: Decimal, master_closed: bool, fill_status: ExecutionStatus
) -> None:
    """Whatever the fill: the link awaits nothing (closes are not held), and a refusal of
    a cancel that was already enqueued still finds the link (it is settled, not lost)."""
    before = replace(CONVERTING, master_volume=D(0) if master_closed else D(1))
    book = LinkBook().track("cmd-place", before).track("cmd-cancel", before)
    fill = report("cmd-place", fill_status, ticket=7000, volume=volume)
    applied = book.apply_report(fill)
    assert applied.link is not None
    result = withdraw_conversion(before, applied.link)
    is_position = fill_status is ExecutionStatus.FILLED
    assert (result is not None) is (not master_closed and is_position)
    if result is not None:
        command_id, link = result
        assert command_id == "cmd-cancel"
        assert link.in_flight is None
        assert (link.kind, link.remaining_volume, link.follower_ticket) == (
            LinkKind.POSITION,
            volume,
            7000,
        )
        assert applied.book.for_command("cmd-cancel") is not None
