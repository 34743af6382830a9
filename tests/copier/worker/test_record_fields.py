"""A follower record as hash fields: a commit writes the state and only the links that changed."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from types import MappingProxyType

import orjson
import pytest

from copier.core import CircuitBreaker, derive_command_id
from copier.core.links import InFlight, LinkBook, LinkKind, LinkState, TicketLink
from copier.keys import CopierKeys
from copier.worker.codec import (
    STATE_FIELD,
    FieldChanges,
    decode_copy,
    decode_follower,
    encode_changes,
    encode_copy,
    encode_follower,
    encode_link,
    encode_state,
    link_field,
    parked_field,
)
from copier.worker.decide import FollowerContext, decide_report, decide_signal
from copier.worker.ops import commit_decision, read_netstrings
from copier.worker.state import CopyRecord, FollowerRecord
from schemas.codes import Action, ExecutionStatus, OrderType, Side
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


def _close(record: FollowerRecord, ticket: int) -> FollowerRecord:
    """A close decided before the open's fill was reported: parked on the link."""
    close = signal(intent(Action.CLOSE, ticket), intent_id=f"c-{ticket}")
    return decide_signal(close, settings(), record, CTX, NOW).after


def test_commit_writes_parked_intents_only_for_the_link_whose_parked_intents_changed() -> None:
    parked = _close(_close(_open(_open(FollowerRecord(FOLLOWER), 100), 101), 100), 101)
    assert set(parked.parked) == {(MASTER, 100), (MASTER, 101)}
    changes = encode_changes(parked, _open(parked, 102))
    assert [name for name, _ in changes.put] == [link_field((MASTER, 102))]
    assert b"c-100" not in changes.state  # not re-encoded in the state field either
    report = ExecutionReportPayload(
        command_id=derive_command_id(MASTER, "i-100", FOLLOWER),
        status=ExecutionStatus.FILLED,
        ticket=7,
        volume=Decimal(1),
    )
    write = decide_report(parked, report, None, {MASTER: settings()}, CTX, NOW)
    assert write is not None and (MASTER, 100) not in write.after.parked
    released = encode_changes(write.before, write.after)
    assert parked_field((MASTER, 100)) in released.drop
    assert parked_field((MASTER, 101)) not in [name for name, _ in released.put]


def test_stored_parked_fields_decode_to_the_record_committed() -> None:
    record = _open(_open(FollowerRecord(FOLLOWER), 100), 101)
    fields = _stored({}, encode_changes(FollowerRecord(FOLLOWER), record))
    for after in (_close(record, 100), _close(_close(record, 100), 101)):
        fields = _stored(fields, encode_changes(record, after))
        assert decode_follower(FOLLOWER, 0, fields, CircuitBreaker()) == after
        assert fields == encode_follower(after)
        record = after


def test_parked_intents_stored_in_the_state_field_move_to_their_fields_at_the_next_commit() -> None:
    parked = _close(_open(FollowerRecord(FOLLOWER), 100), 100)
    fields = encode_follower(parked)
    legacy_state = orjson.loads(fields.pop(parked_field((MASTER, 100)).encode()))
    state = orjson.loads(fields[STATE_FIELD.encode()])
    fields[STATE_FIELD.encode()] = orjson.dumps({**state, "parked": [legacy_state]})
    loaded = decode_follower(FOLLOWER, 0, fields, CircuitBreaker())
    assert loaded.parked == parked.parked and loaded.parked_in_state
    after = _open(loaded, 101)
    stored = _stored(fields, encode_changes(loaded, after))
    assert decode_follower(FOLLOWER, 0, stored, CircuitBreaker()).parked == parked.parked
    assert orjson.loads(stored[STATE_FIELD.encode()])["parked"] == []


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
        f"{item.due_ms}|{before.version + 1}.0|".encode() + item.body,
        b"0",
    ]


def test_a_copy_record_is_stored_as_the_json_object_of_its_fields() -> None:
    write = decide_signal(
        signal(intent(Action.OPEN, 100)), settings(), FollowerRecord("f1"), CTX, NOW
    )
    (copy,) = write.copies
    assert copy.command is not None
    viewed = replace(copy, command=MappingProxyType(dict(copy.command)))
    expected = {name: getattr(copy, name) for name in CopyRecord.__dataclass_fields__}
    expected["action"] = copy.action.value
    expected["requested_volume"] = str(copy.requested_volume)
    expected["requested_price"] = str(copy.requested_price)
    assert orjson.loads(encode_copy(viewed)) == expected
    assert encode_copy(viewed) == encode_copy(copy)
    assert decode_copy(encode_copy(copy)) == copy


def _opening_link(command_id: str, volume: str) -> TicketLink:
    return TicketLink(
        master_account_id=MASTER,
        root_ticket=100,
        master_ticket=100,
        master_volume=Decimal(volume),
        kind=LinkKind.POSITION,
        state=LinkState.OPENING,
        symbol="EURUSD",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        open_command_id=command_id,
        remaining_volume=Decimal(volume),
        lot_step=Decimal("0.01"),
        min_lot=Decimal("0.01"),
        in_flight=InFlight(command_id, Action.OPEN, Decimal(volume)),
        intent_ids=("i-1",),
    )


@pytest.mark.parametrize(
    ("command_id", "volume"),
    [
        ("cmd-aaaa", "1"),
        ("cmd-bbbb", "1"),  # same shape, another id
        ("cmd-bbbb", "1.00"),  # numerically equal volume, other text
        ('cmd-"quoted"', "0.5"),  # an id JSON escapes
        ("cmd-\u00e9", "0.5"),  # a non-ASCII id
    ],
)
def test_an_opening_link_is_stored_as_its_json_whatever_its_id_and_volume_text(
    command_id: str, volume: str
) -> None:
    link = _opening_link(command_id, volume)
    encoded = encode_link(link)
    data = orjson.loads(encoded)
    assert (data["open"], data["fl"][0]) == (command_id, command_id)
    assert (data["mv"], data["rem"], data["fl"][2]) == (volume, volume, volume)
    record = decode_follower(
        FOLLOWER,
        1,
        {
            STATE_FIELD.encode(): encode_state(FollowerRecord(FOLLOWER)),
            link_field(link.key).encode(): encoded,
        },
        CircuitBreaker(),
    )
    assert list(record.links.links.values()) == [link]
