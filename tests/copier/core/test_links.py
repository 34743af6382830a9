"""Ticket links: ExecutionReports resolve, reduce, close and fail links."""

from __future__ import annotations

import pytest

from copier.core import LinkBook, LinkChange, LinkKind, LinkState, retry_command_id
from schemas.codes import Action, ExecutionStatus, OrderType

from .builders import MASTER, Copier, D, intent, report, sent


def test_fill_links_the_master_ticket_to_the_follower_ticket_and_volume() -> None:
    copier = Copier()
    command = sent(copier.plan(intent()))
    applied = copier.report(command, ExecutionStatus.FILLED, ticket=5000, volume=D("0.98"))
    assert applied.change is LinkChange.LINKED
    link = copier.links.find(MASTER, 100)
    assert link is not None
    assert (link.state, link.follower_ticket) == (LinkState.OPEN, 5000)
    assert (link.opened_volume, link.remaining_volume) == (D("0.98"), D("0.98"))
    assert copier.links.for_command(command.command_id) is None  # no longer awaited


def test_fill_without_volume_takes_the_requested_volume() -> None:
    copier = Copier()
    command = sent(copier.plan(intent(volume=D("0.7"))))
    copier.report(command, ExecutionStatus.FILLED, ticket=5000)
    link = copier.links.find(MASTER, 100)
    assert link is not None and link.remaining_volume == D("0.7")


def test_fill_without_a_ticket_is_ignored_and_the_link_keeps_waiting() -> None:
    copier = Copier()
    command = sent(copier.plan(intent()))
    applied = copier.report(command, ExecutionStatus.FILLED)
    assert applied.change is LinkChange.IGNORED and not applied.unblocked
    link = copier.links.find(MASTER, 100)
    assert link is not None and link.state is LinkState.OPENING


@pytest.mark.parametrize("status", [ExecutionStatus.REJECTED, ExecutionStatus.EXPIRED])
def test_rejected_or_expired_open_fails_the_link(status: ExecutionStatus) -> None:
    copier = Copier()
    command = sent(copier.plan(intent()))
    applied = copier.report(command, status, error_code=134, error_message="not enough money")
    assert applied.change is LinkChange.FAILED
    assert applied.link is not None and applied.link.state is LinkState.FAILED
    assert applied.link.error == f"{status}: error 134: not enough money"
    assert applied.link.remaining_volume == 0


def test_report_for_an_unknown_command_is_ignored() -> None:
    applied = LinkBook().apply_report(report("cmd-nope", ExecutionStatus.FILLED, ticket=1))
    assert (applied.change, applied.link, applied.book) == (LinkChange.IGNORED, None, LinkBook())


def test_duplicate_report_is_ignored() -> None:
    copier = Copier()
    command = sent(copier.plan(intent()))
    copier.report(command, ExecutionStatus.FILLED, ticket=5000)
    assert copier.report(command, ExecutionStatus.FILLED, ticket=5000).change is LinkChange.IGNORED


def test_partial_close_report_reduces_the_remaining_volume_and_moves_to_the_new_ticket() -> None:
    copier = Copier()
    copier.report(sent(copier.plan(intent())), ExecutionStatus.FILLED, ticket=5000)
    close = sent(copier.plan(intent(Action.CLOSE, volume=D("0.25"), new_ticket=101)))
    applied = copier.report(close, ExecutionStatus.CLOSED, volume=D("0.25"), new_ticket=5001)
    assert applied.change is LinkChange.REDUCED
    link = copier.links.find(MASTER, 101)  # found by the master's new ticket too
    assert link is not None and link == copier.links.find(MASTER, 100)
    assert (link.follower_ticket, link.remaining_volume, link.opened_volume) == (
        5001,
        D("0.75"),
        D(1),
    )
    assert (link.master_ticket, link.master_volume) == (101, D("0.75"))


def test_rejected_close_leaves_the_link_open_and_unblocked() -> None:
    copier = Copier()
    copier.report(sent(copier.plan(intent())), ExecutionStatus.FILLED, ticket=5000)
    close = sent(copier.plan(intent(Action.CLOSE)))
    applied = copier.report(close, ExecutionStatus.REJECTED, error_code=133)
    assert applied.change is LinkChange.UNCHANGED and applied.unblocked
    assert applied.link is not None
    assert (applied.link.state, applied.link.in_flight) == (LinkState.OPEN, None)


def test_placed_pending_order_later_reports_its_fill() -> None:
    copier = Copier()
    place = sent(copier.plan(intent(Action.PLACE_PENDING, order_type=OrderType.STOP)))
    assert copier.report(place, ExecutionStatus.PLACED, ticket=7000).change is LinkChange.LINKED
    applied = copier.report(place, ExecutionStatus.FILLED, ticket=7000, volume=D(1))
    assert applied.change is LinkChange.FILLED_AT_BROKER
    assert applied.link is not None
    assert (applied.link.kind, applied.link.order_type) == (LinkKind.POSITION, OrderType.MARKET)


def test_placed_pending_order_that_expires_at_the_broker_closes_the_link() -> None:
    copier = Copier()
    place = sent(copier.plan(intent(Action.PLACE_PENDING, order_type=OrderType.STOP)))
    copier.report(place, ExecutionStatus.PLACED, ticket=7000)
    applied = copier.report(place, ExecutionStatus.EXPIRED)
    assert applied.change is LinkChange.CLOSED


def test_modify_report_does_not_unblock_anything() -> None:
    copier = Copier()
    copier.report(sent(copier.plan(intent())), ExecutionStatus.FILLED, ticket=5000)
    modify = sent(copier.plan(intent(Action.MODIFY, sl=D("1.095"))))
    applied = copier.report(modify, ExecutionStatus.MODIFIED)
    assert applied.change is LinkChange.MODIFIED and not applied.unblocked


def test_retry_is_tracked_under_its_new_command_id() -> None:
    copier = Copier()
    command = sent(copier.plan(intent()))
    retry_id = retry_command_id(command.command_id, 1)
    book = copier.links.reissue(command.command_id, retry_id)
    assert book.for_command(command.command_id) is None
    applied = book.apply_report(report(retry_id, ExecutionStatus.FILLED, ticket=5000))
    assert applied.change is LinkChange.LINKED
    assert applied.link is not None and applied.link.open_command_id == retry_id


def test_retry_command_ids_are_derived_from_the_original() -> None:
    assert retry_command_id("cmd-abc", 0) == "cmd-abc"
    assert retry_command_id("cmd-abc", 2) == "cmd-abc.r2"
    assert retry_command_id("cmd-abc.r2", 3) == "cmd-abc.r3"
