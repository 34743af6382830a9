"""The worker's pure decisions (no Redis, no loop): parking, retries, records, codecs."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from copier.core import CircuitBreaker, LinkState, MasterSignal, derive_command_id
from copier.worker.codec import (
    decode_copy,
    decode_follower,
    decode_master_book,
    encode_copy,
    encode_follower,
    encode_master_book,
)
from copier.worker.decide import (
    FollowerContext,
    attempt_of,
    decide_follower_snapshot,
    decide_report,
    decide_signal,
    snapshot_is_current,
)
from copier.worker.state import CopyStatus, FollowerRecord, MasterBook, apply_master_intent
from schemas.codes import Action, ExecutionStatus, OrderType
from schemas.messages import ExecutionReportPayload, SyncSnapshotPayload
from tests.copier.core.builders import MASTER, NOW, intent, settings, signal, spec

FOLLOWER = "f1"
CTX = FollowerContext(equity=Decimal(10_000), symbols={"EURUSD": spec()})


def report(command_id: str, status: ExecutionStatus, **fields: object) -> ExecutionReportPayload:
    return ExecutionReportPayload.model_validate(
        {"command_id": command_id, "status": status, **fields}
    )


def opened(ticket: int = 100, intent_id: str = "i-1") -> tuple[FollowerRecord, str]:
    write = decide_signal(
        signal(intent(Action.OPEN, ticket), intent_id=intent_id),
        settings(),
        FollowerRecord(FOLLOWER),
        CTX,
        NOW,
    )
    return write.after, derive_command_id(MASTER, intent_id, FOLLOWER)


def test_worker_sends_an_open_as_an_immediate_outbox_envelope_keyed_by_command_id() -> None:
    write = decide_signal(signal(), settings(), FollowerRecord(FOLLOWER), CTX, NOW)
    (item,) = write.outbox
    command_id = derive_command_id(MASTER, "i-1", FOLLOWER)
    assert item.envelope_id == command_id and item.immediate
    assert orjson.loads(item.body)["payload"]["command_id"] == command_id
    (record,) = write.copies
    assert (record.status, record.attempts, record.requested_volume) == (
        CopyStatus.QUEUED,
        1,
        Decimal(1),
    )
    assert write.after.recent_for(MASTER, NOW) == ()  # no rate guard: no order times kept


@pytest.mark.parametrize(
    ("limit", "before", "kept"),
    [
        (None, (NOW - 2, NOW - 1), ()),  # no guard: nothing to count
        (3, (), (NOW,)),
        (3, (NOW - 2, NOW - 1), (NOW - 2, NOW - 1, NOW)),
        (2, (NOW - 70_000, NOW - 1), (NOW - 1, NOW)),  # the first is outside the 60 s window
    ],
)
def test_an_open_keeps_only_the_order_times_the_rate_guard_can_count(
    limit: int | None, before: tuple[int, ...], kept: tuple[int, ...]
) -> None:
    sub = settings(risk={"max_orders_per_minute": limit}) if limit else settings()
    record = FollowerRecord(FOLLOWER, recent={MASTER: before, "other": (NOW,)})
    write = decide_signal(signal(), sub, record, CTX, NOW)
    assert write.outbox  # sent
    assert write.after.recent.get(MASTER, ()) == kept
    assert write.after.recent["other"] == (NOW,)  # other masters' times untouched


def test_the_rate_guard_counts_the_orders_made_while_it_is_set() -> None:
    sub = settings(risk={"max_orders_per_minute": 2})
    record = FollowerRecord(FOLLOWER)
    for n in range(3):
        write = decide_signal(
            signal(intent(Action.OPEN, 100 + n), intent_id=f"i-{n}"), sub, record, CTX, NOW + n
        )
        record = write.after
    (copy,) = write.copies
    assert (copy.status, copy.reason) == (CopyStatus.SKIPPED, "max_orders_per_minute")


def test_worker_parks_a_close_behind_an_opening_link_and_a_later_modify_behind_it() -> None:
    record, _ = opened()
    close = decide_signal(
        signal(intent(Action.CLOSE), intent_id="i-2"), settings(), record, CTX, NOW
    )
    assert close.outbox == () and close.copies[0].status == CopyStatus.WAITING
    modify = decide_signal(
        signal(intent(Action.MODIFY, sl=Decimal("1.08")), intent_id="i-3"),
        settings(),
        close.after,
        CTX,
        NOW,
    )
    parked = modify.after.parked_for((MASTER, 100))
    assert [s.intent_id for s in parked] == ["i-2", "i-3"]


def test_worker_replays_parked_intents_in_order_once_the_fill_is_reported() -> None:
    record, open_id = opened()
    for n, payload in ((2, intent(Action.MODIFY, sl=Decimal("1.08"))), (3, intent(Action.CLOSE))):
        record = decide_signal(
            signal(payload, intent_id=f"i-{n}"), settings(), record, CTX, NOW
        ).after
    write = decide_report(
        record,
        report(open_id, ExecutionStatus.FILLED, ticket=9, volume=1),
        None,
        {MASTER: settings()},
        CTX,
        NOW,
    )
    assert write is not None
    actions = [orjson.loads(i.body)["payload"]["action"] for i in write.outbox]
    assert actions == ["modify", "close"]
    assert write.after.parked == {}


def test_a_partial_close_parked_behind_others_still_aliases_the_remainder_ticket() -> None:
    """Found by the fault suite: open, modify, partial close (remainder ticket 101) and
    the close of 101 arrive together (a master replaying after an outage). The partial
    close is parked behind the modify without being planned; the close of 101 must
    find the link through the alias and wait behind it, not be skipped as not copied."""
    record, open_id = opened()
    partial = intent(Action.CLOSE, volume=Decimal("0.5"), new_ticket=101)
    rest = intent(Action.CLOSE, ticket=101, volume=Decimal("0.5"))
    for n, payload in ((2, intent(Action.MODIFY, sl=Decimal("1.08"))), (3, partial), (4, rest)):
        write = decide_signal(signal(payload, intent_id=f"i-{n}"), settings(), record, CTX, NOW)
        assert [c.status for c in write.copies] == [CopyStatus.WAITING]
        record = write.after
    assert [s.intent_id for s in record.parked_for((MASTER, 100))] == ["i-2", "i-3", "i-4"]
    filled = decide_report(
        record,
        report(open_id, ExecutionStatus.FILLED, ticket=9, volume=1),
        None,
        {MASTER: settings()},
        CTX,
        NOW,
    )
    assert filled is not None
    sent = [orjson.loads(i.body)["payload"] for i in filled.outbox]
    assert [(c["action"], c["volume"]) for c in sent] == [("modify", 1.0), ("close", 0.5)]
    assert [s.intent_id for s in filled.after.parked_for((MASTER, 100))] == ["i-4"]
    closed = decide_report(
        filled.after,
        report(sent[1]["command_id"], ExecutionStatus.CLOSED, volume=0.5, new_ticket=10),
        None,
        {MASTER: settings()},
        CTX,
        NOW,
    )
    assert closed is not None
    (last,) = [orjson.loads(i.body)["payload"] for i in closed.outbox]
    assert (last["action"], last["ticket"], last["volume"]) == ("close", 10, 0.5)


@pytest.mark.parametrize("fill_first", [True, False])
def test_a_pending_copy_that_filled_while_its_cancel_was_refused_is_closed(
    fill_first: bool,
) -> None:
    """Found by the fault suite: the master's pending order filled and closed while the
    copier was behind; its cancel reached the follower after the follower's copy had
    filled too ("not a pending order"), leaving an open position the master no longer
    holds. Whichever report comes last, the copier closes it."""
    record = FollowerRecord(FOLLOWER)
    placing = intent(Action.PLACE_PENDING, order_type=OrderType.LIMIT)
    write = decide_signal(
        signal(placing, intent_id="i-1"), settings(pending_fill_grace_ms=None), record, CTX, NOW
    )
    place_id = derive_command_id(MASTER, "i-1", FOLLOWER)
    placed = decide_report(
        write.after,
        report(place_id, ExecutionStatus.PLACED, ticket=7000),
        None,
        {MASTER: settings(pending_fill_grace_ms=None)},
        CTX,
        NOW,
    )
    assert placed is not None
    record = placed.after
    for n, action in ((2, Action.OPEN), (3, Action.CLOSE)):  # filled and closed at the master
        record = decide_signal(
            signal(intent(action), intent_id=f"i-{n}"),
            settings(pending_fill_grace_ms=None),
            record,
            CTX,
            NOW,
        ).after
    cancel_id = derive_command_id(MASTER, "i-3", FOLLOWER)
    fill = report(place_id, ExecutionStatus.FILLED, ticket=7000, volume=1)
    refusal = report(cancel_id, ExecutionStatus.REJECTED, error_code=4108)
    writes = []
    for payload in (fill, refusal) if fill_first else (refusal, fill):
        written = decide_report(
            record, payload, None, {MASTER: settings(pending_fill_grace_ms=None)}, CTX, NOW
        )
        assert written is not None
        writes.append(written)
        record = written.after
    assert writes[0].outbox == ()
    (item,) = writes[1].outbox
    close = orjson.loads(item.body)["payload"]
    assert (close["action"], close["ticket"], close["order_type"], close["volume"]) == (
        "close",
        7000,
        "market",
        1.0,
    )


def test_a_partial_close_skipped_while_the_copy_was_pending_is_closed_at_its_fill() -> None:
    """Found by the fault suite: the follower's pending copy had filled, its fill report
    was late; the master's partial close came first and was skipped ("still a pending
    order"), so the follower kept twice its share. The share is now owed and closed
    when the fill is reported."""
    record = FollowerRecord(FOLLOWER)
    placing = intent(Action.PLACE_PENDING, order_type=OrderType.LIMIT)
    write = decide_signal(
        signal(placing, intent_id="i-1"), settings(pending_fill_grace_ms=None), record, CTX, NOW
    )
    place_id = derive_command_id(MASTER, "i-1", FOLLOWER)
    placed = decide_report(
        write.after,
        report(place_id, ExecutionStatus.PLACED, ticket=7000),
        None,
        {MASTER: settings(pending_fill_grace_ms=None)},
        CTX,
        NOW,
    )
    assert placed is not None
    record = placed.after
    partial = intent(Action.CLOSE, volume=Decimal("0.5"), new_ticket=101)
    for n, payload in ((2, intent(Action.OPEN)), (3, partial)):
        step = decide_signal(
            signal(payload, intent_id=f"i-{n}"),
            settings(pending_fill_grace_ms=None),
            record,
            CTX,
            NOW,
        )
        assert step.outbox == ()
        record = step.after
    filled = decide_report(
        record,
        report(place_id, ExecutionStatus.FILLED, ticket=7000, volume=1),
        None,
        {MASTER: settings(pending_fill_grace_ms=None)},
        CTX,
        NOW,
    )
    assert filled is not None
    (item,) = filled.outbox
    owed = orjson.loads(item.body)["payload"]
    assert (owed["action"], owed["ticket"], owed["volume"]) == ("close", 7000, 0.5)


def test_a_close_the_follower_refuses_for_good_is_not_sent_again() -> None:
    record, open_id = opened()
    filled = decide_report(
        record,
        report(open_id, ExecutionStatus.FILLED, ticket=9, volume=1),
        None,
        {MASTER: settings()},
        CTX,
        NOW,
    )
    assert filled is not None
    closing = decide_signal(
        signal(intent(Action.CLOSE), intent_id="i-2"), settings(), filled.after, CTX, NOW
    )
    close_id = derive_command_id(MASTER, "i-2", FOLLOWER)
    refused = decide_report(
        closing.after,
        report(close_id, ExecutionStatus.REJECTED, error_code=4108),
        None,
        {MASTER: settings()},
        CTX,
        NOW,
    )
    assert refused is not None and refused.outbox == ()


def test_worker_schedules_a_retry_with_backoff_for_a_requote() -> None:
    record, open_id = opened()
    copy = decide_signal(signal(), settings(), FollowerRecord(FOLLOWER), CTX, NOW).copies[0]
    write = decide_report(
        record, report(open_id, ExecutionStatus.REJECTED, error_code=138), copy, {}, CTX, NOW
    )
    assert write is not None
    (item,) = write.outbox
    assert (item.envelope_id, item.due_ms, item.immediate) == (f"{open_id}.r1", NOW + 250, False)
    assert write.after.links.for_command(f"{open_id}.r1") is not None
    assert write.copies[0].status == CopyStatus.RETRYING


@pytest.mark.parametrize(
    ("command_id", "attempt"),
    [("cmd-ab", 0), ("cmd-ab.r1", 1), ("cmd-ab.r12", 12), ("cmd-ab.rx", 0)],
)
def test_attempt_is_read_from_the_retry_suffix(command_id: str, attempt: int) -> None:
    assert attempt_of(command_id) == attempt


def test_worker_ignores_a_report_for_a_command_it_no_longer_awaits() -> None:
    record, open_id = opened()
    filled = report(open_id, ExecutionStatus.FILLED, ticket=9, volume=1)
    write = decide_report(record, filled, None, {}, CTX, NOW)
    assert write is not None
    assert decide_report(write.after, filled, None, {}, CTX, NOW) is None


def test_follower_record_survives_its_json_form() -> None:
    record, _ = opened()
    record = decide_signal(
        signal(intent(Action.CLOSE), intent_id="i-2"), settings(), record, CTX, NOW
    ).after
    record = replace(record, peak=Decimal("10500.5"), version=4)
    decoded = decode_follower(FOLLOWER, 4, encode_follower(record), CircuitBreaker())
    assert decoded == record


def test_a_record_stored_before_as_of_ms_existed_reads_as_knowing_nothing() -> None:
    record, _ = opened()
    fields = encode_follower(replace(record, as_of_ms=NOW))
    state = orjson.loads(fields[b"s"])
    assert state.pop("as_of_ms") == NOW
    fields[b"s"] = orjson.dumps(state)
    assert decode_follower(FOLLOWER, 0, fields, CircuitBreaker()).as_of_ms == 0


@pytest.mark.parametrize(
    ("taken_ms", "as_of_ms", "current"),
    [
        (None, NOW, True),  # time unknown: reconciled as before
        (NOW, 0, True),  # nothing applied yet
        (NOW, NOW, True),  # the same millisecond as the newest report
        (NOW + 1, NOW, True),
        (NOW - 1, NOW, False),  # taken before the newest report applied
        (0, NOW, False),
    ],
)
def test_a_follower_snapshot_is_current_unless_taken_before_the_newest_report(
    taken_ms: int | None, as_of_ms: int, current: bool
) -> None:
    assert snapshot_is_current(taken_ms, as_of_ms) is current


def test_reports_move_the_record_as_of_to_their_newest_execution_time() -> None:
    record, open_id = opened()
    filled = report(open_id, ExecutionStatus.FILLED, ticket=9, volume=1, executed_at_ms=NOW + 5)
    after = decide_report(record, filled, None, {}, CTX, NOW + 50)
    assert after is not None
    assert after.after.as_of_ms == NOW + 5
    record, open_id = opened(101, "i-2")
    untimed = report(open_id, ExecutionStatus.FILLED, ticket=10, volume=1)
    write = decide_report(replace(record, as_of_ms=NOW + 5), untimed, None, {}, CTX, NOW + 60)
    assert write is not None
    assert write.after.as_of_ms == NOW + 5  # a report without a time moves nothing


def test_a_follower_snapshot_older_than_an_applied_report_reconciles_nothing() -> None:
    record, open_id = opened()
    filled = report(open_id, ExecutionStatus.FILLED, ticket=9, volume=1, executed_at_ms=NOW + 10)
    write = decide_report(record, filled, None, {MASTER: settings()}, CTX, NOW + 20)
    assert write is not None
    empty = SyncSnapshotPayload(positions=[], orders=[])
    subs = {MASTER: settings()}
    stale = decide_follower_snapshot(write.after, empty, "r1", subs, CTX, NOW + 30, taken_ms=NOW)
    assert stale is None  # position 9 opened after it was taken: not "gone at the broker"
    fresh = decide_follower_snapshot(
        write.after, empty, "r2", subs, CTX, NOW + 40, taken_ms=NOW + 15
    )
    assert fresh is not None
    (link,) = fresh.after.links.links.values()
    assert link.state is LinkState.CLOSED
    assert fresh.after.as_of_ms == NOW + 15


@settings_hypothesis(max_examples=40, deadline=None)
@given(
    executed=st.lists(st.integers(min_value=0, max_value=1_000), min_size=1, max_size=4),
    taken=st.integers(min_value=0, max_value=1_000),
)
def test_a_follower_snapshot_marks_links_gone_only_when_taken_after_every_report(
    executed: list[int], taken: int
) -> None:
    record = FollowerRecord(FOLLOWER)
    for n, at in enumerate(executed):
        record = decide_signal(
            signal(intent(Action.OPEN, 100 + n), intent_id=f"i-{n}"), settings(), record, CTX, NOW
        ).after
        open_id = derive_command_id(MASTER, f"i-{n}", FOLLOWER)
        filled = report(
            open_id, ExecutionStatus.FILLED, ticket=900 + n, volume=1, executed_at_ms=NOW + at
        )
        write = decide_report(record, filled, None, {}, CTX, NOW + 2_000)
        assert write is not None
        record = write.after
    empty = SyncSnapshotPayload(positions=[], orders=[])
    write = decide_follower_snapshot(
        record, empty, "r", {MASTER: settings()}, CTX, NOW + 3_000, taken_ms=NOW + taken
    )
    if taken < max(executed):
        assert write is None
    else:
        assert write is not None
        assert {link.state for link in write.after.links.links.values()} == {LinkState.CLOSED}


def test_copy_record_survives_its_json_form() -> None:
    (copy,) = decide_signal(signal(), settings(), FollowerRecord(FOLLOWER), CTX, NOW).copies
    assert decode_copy(encode_copy(copy)) == copy


def test_master_book_follows_opens_partial_closes_and_cancels() -> None:
    book = apply_master_intent(MasterBook(), "a", intent(Action.OPEN, 1, volume=Decimal(2)))
    book = apply_master_intent(book, "b", intent(Action.PLACE_PENDING, 2, order_type="limit"))
    book = apply_master_intent(
        book, "c", intent(Action.CLOSE, 1, volume=Decimal("0.5"), new_ticket=3)
    )
    book = apply_master_intent(book, "c", intent(Action.CLOSE, 3, volume=Decimal("0.5")))
    book = apply_master_intent(book, "d", intent(Action.CANCEL_PENDING, 2, order_type="limit"))
    assert {t: p.volume for t, p in book.positions.items()} == {3: Decimal("1.5")}
    assert book.orders == {}
    assert decode_master_book(encode_master_book(book)) == book


def test_signal_parked_in_a_record_keeps_its_receive_time_and_equity() -> None:
    parked = MasterSignal(MASTER, "i-9", intent(Action.CLOSE), 123, Decimal("99.5"))
    record = FollowerRecord(FOLLOWER).with_parked((MASTER, 100), (parked,))
    decoded = decode_follower(FOLLOWER, 0, encode_follower(record), CircuitBreaker())
    assert decoded.parked_for((MASTER, 100)) == (parked,)


@pytest.mark.parametrize("fill_first", [True, False])
def test_a_refused_conversion_cancel_of_a_filled_copy_does_not_count_as_a_failure(
    fill_first: bool,
) -> None:
    """The pending fill grace's cancel is scheduled before the grace; a copy that filled
    in time gets it when it was handed to the delivery log before the fill withdrew it,
    and refuses it. That is expected and must not trip the follower's circuit breaker,
    nor send a market open."""
    subs = {MASTER: settings(pending_fill_grace_ms=3000)}
    placing = intent(Action.PLACE_PENDING, order_type=OrderType.LIMIT)
    write = decide_signal(
        signal(placing, intent_id="i-1"), subs[MASTER], FollowerRecord(FOLLOWER), CTX, NOW
    )
    place_id = derive_command_id(MASTER, "i-1", FOLLOWER)
    placed = decide_report(
        write.after, report(place_id, ExecutionStatus.PLACED, ticket=7000), None, subs, CTX, NOW
    )
    assert placed is not None
    filled_at_master = decide_signal(
        signal(intent(Action.OPEN), intent_id="i-2"), subs[MASTER], placed.after, CTX, NOW
    )
    (scheduled,) = filled_at_master.outbox
    assert scheduled.due_ms == NOW + 3000
    cancel_id = derive_command_id(MASTER, "i-2", FOLLOWER)
    fill = report(place_id, ExecutionStatus.FILLED, ticket=7000, volume=1)
    refusal = report(cancel_id, ExecutionStatus.REJECTED, error_code=65544)
    record = filled_at_master.after
    # the copy record a report is decided with (the pump loads it by command id)
    copies = {copy.command_id: copy for copy in filled_at_master.copies}
    for payload in (fill, refusal) if fill_first else (refusal, fill):
        copy = copies.get(payload.command_id)
        written = decide_report(record, payload, copy, subs, CTX, NOW)
        assert written is not None
        assert written.outbox == ()
        # the fill takes the cancel back (the commit drops it unless a flush claimed it)
        assert written.withdrawn == ((cancel_id,) if payload is fill and fill_first else ())
        record = written.after
    assert record.breaker == placed.after.breaker
    link = record.links.find(MASTER, 100)
    assert link is not None
    assert (link.kind.value, link.follower_ticket, link.in_flight) == ("position", 7000, None)
