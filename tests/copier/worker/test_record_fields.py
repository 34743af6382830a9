"""A follower record as hash fields: a commit writes the state and only the links that changed."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from copier.core import CircuitBreaker, derive_command_id
from copier.core.links import LinkBook
from copier.keys import CopierKeys
from copier.worker.codec import (
    STATE_FIELD,
    FieldChanges,
    decode_follower,
    encode_changes,
    encode_copy,
    encode_follower,
    link_field,
)
from copier.worker.decide import FollowerContext, decide_report, decide_signal
from copier.worker.ops import commit_decision, read_netstrings
from copier.worker.state import FollowerRecord
from schemas.codes import Action, ExecutionStatus
from schemas.messages import ExecutionReportPayload
from tests.copier.core.builders import MASTER, NOW, intent, settings, signal, spec

FOLLOWER = "f1"
CTX = FollowerContext(equity=Decimal(10_000), symbols={"EURUSD": spec()})


def _open(record: FollowerRecord, ticket: int) -> FollowerRecord:
    write = decide_signal(
        signal(intent(Action.OPEN, ticket), intent_id=f"i-{ticket}"), settings(), record, CTX, NOW
    )
    return write.after


def _stored(fields: dict[bytes, bytes], changes: FieldChanges) -> dict[bytes, bytes]:
    """What the hash holds after COMMIT_MANY applied `changes` (the script's HSET/HDEL)."""
    after = {**fields, STATE_FIELD.encode(): changes.state}
    after.update((name.encode(), value) for name, value in changes.put)
    for name in changes.drop:
        after.pop(name.encode(), None)
    return after


def test_commit_of_a_new_open_writes_the_state_and_only_the_new_link() -> None:
    before = _open(_open(FollowerRecord(FOLLOWER), 100), 101)
    after = _open(before, 102)
    changes = encode_changes(before, after)
    assert [name for name, _ in changes.put] == [link_field((MASTER, 102))]
    assert changes.drop == ()


def test_commit_of_a_fill_report_rewrites_only_the_reported_link() -> None:
    before = _open(_open(FollowerRecord(FOLLOWER), 100), 101)
    report = ExecutionReportPayload(
        command_id=derive_command_id(MASTER, "i-100", FOLLOWER),
        status=ExecutionStatus.FILLED,
        ticket=7,
        volume=Decimal(1),
    )
    write = decide_report(before, report, None, {}, CTX, NOW)
    assert write is not None
    changes = encode_changes(write.before, write.after)
    assert [name for name, _ in changes.put] == [link_field((MASTER, 100))]


def test_a_link_no_longer_in_the_book_is_deleted_from_the_hash() -> None:
    before = _open(FollowerRecord(FOLLOWER), 100)
    after = replace(before, links=LinkBook())
    changes = encode_changes(before, after)
    assert changes.put == () and changes.drop == (link_field((MASTER, 100)),)


def test_stored_fields_after_each_commit_decode_to_the_record_committed() -> None:
    breaker = CircuitBreaker()
    record = FollowerRecord(FOLLOWER)
    fields: dict[bytes, bytes] = {}
    for ticket in (100, 101, 102):
        after = replace(_open(record, ticket), peak=Decimal("10500.5"))
        fields = _stored(fields, encode_changes(record, after))
        assert decode_follower(FOLLOWER, 0, fields, breaker) == after
        assert fields == encode_follower(after)
        record = after


def test_a_record_with_no_state_field_is_a_new_record() -> None:
    assert decode_follower(FOLLOWER, 0, {}, CircuitBreaker()) == FollowerRecord(FOLLOWER)


def test_a_commit_decision_carries_the_changed_fields_copies_and_outbox_as_netstrings() -> None:
    before = _open(FollowerRecord(FOLLOWER), 100)
    write = decide_signal(
        signal(intent(Action.OPEN, 101), intent_id="i-101"), settings(), before, CTX, NOW
    )
    out: list[bytes] = []
    commit_decision(CopierKeys(), write, {}, NOW, epoch="", out=out)
    values = read_netstrings(b"".join(out))
    (copy,), (item,) = write.copies, write.outbox
    changes = encode_changes(write.before, write.after)
    ((field, link),) = changes.put
    assert values == [
        FOLLOWER.encode(),
        str(before.version).encode(),
        b"",
        changes.state,
        b"1",
        field.encode(),
        link,
        b"0",
        b"1",
        copy.command_id.encode(),
        str(copy.intent_received_ms).encode(),
        encode_copy(copy),
        b"1",
        item.envelope_id.encode(),
        str(item.due_ms).encode(),
        f"{item.due_ms}|".encode() + item.body,
        b"0",
    ]
