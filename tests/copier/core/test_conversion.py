"""A pending copy left behind by the master's fill: cancelled after a grace, then opened."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copier.core.conversion import conversion_open, is_conversion_cancel, schedule_conversion
from copier.core.links import InFlight, LinkKind, LinkState, TicketLink
from schemas.codes import Action, OrderType, Side

from .builders import FOLLOWER, MASTER, NOW, D, settings

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
