"""The worker's pure decisions (no Redis, no loop): parking, retries, records, codecs."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import orjson
import pytest

from copier.core import CircuitBreaker, MasterSignal, derive_command_id
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
    decide_report,
    decide_signal,
)
from copier.worker.state import CopyStatus, FollowerRecord, MasterBook, apply_master_intent
from schemas.codes import Action, ExecutionStatus
from schemas.messages import ExecutionReportPayload
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
