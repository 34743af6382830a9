"""A commit finds the links it must write from the keys put since the book was read,
not by comparing every link of the follower (who keeps all it ever had)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from copier.core import CircuitBreaker, derive_command_id
from copier.core.links import LinkBook, LinkKey, TicketLink
from copier.worker.codec import decode_follower, encode_changes, encode_follower, link_field
from copier.worker.decide import FollowerContext, decide_report, decide_signal
from copier.worker.state import FollowerRecord
from schemas.codes import Action, ExecutionStatus
from schemas.messages import ExecutionReportPayload
from tests.copier.core.builders import MASTER, NOW, intent, settings, signal, spec

FOLLOWER = "f1"
CTX = FollowerContext(equity=Decimal(10_000), symbols={"EURUSD": spec()})


class _CountedLinks(Mapping[LinkKey, TicketLink]):
    """A stored link book that counts how often it is listed whole."""

    def __init__(self, links: Mapping[LinkKey, TicketLink]) -> None:
        self._links = dict(links)
        self.listed = 0

    def __getitem__(self, key: LinkKey) -> TicketLink:
        return self._links[key]

    def __len__(self) -> int:
        return len(self._links)

    def __iter__(self) -> Iterator[LinkKey]:
        self.listed += 1
        return iter(self._links)


def _open(record: FollowerRecord, ticket: int) -> FollowerRecord:
    write = decide_signal(
        signal(intent(Action.OPEN, ticket), intent_id=f"i-{ticket}"), settings(), record, CTX, NOW
    )
    return write.after


def _read(record: FollowerRecord) -> FollowerRecord:
    """The record as the store loads it."""
    return decode_follower(FOLLOWER, 1, encode_follower(record), CircuitBreaker())


def _untracked(record: FollowerRecord) -> FollowerRecord:
    """The same record with a book that does not know what was put since it was read."""
    book = record.links
    return replace(record, links=LinkBook(book.links, book.aliases, book.commands))


def _fill(ticket: int) -> ExecutionReportPayload:
    return ExecutionReportPayload(
        command_id=derive_command_id(MASTER, f"i-{ticket}", FOLLOWER),
        status=ExecutionStatus.FILLED,
        ticket=ticket + 9_000,
        volume=Decimal(1),
    )


def _many_links(count: int) -> FollowerRecord:
    record = FollowerRecord(FOLLOWER)
    for ticket in range(100, 100 + count):
        record = _open(record, ticket)
    return record


def test_a_commit_over_a_stored_book_does_not_list_the_links_it_did_not_touch() -> None:
    loaded = _read(_many_links(50))
    stored = _CountedLinks(loaded.links.links)
    book = LinkBook(stored, loaded.links.aliases, loaded.links.commands).as_read()
    before = replace(loaded, links=book)
    write = decide_report(before, _fill(120), None, {MASTER: settings()}, CTX, NOW)
    assert write is not None
    stored.listed = 0
    changes = encode_changes(write.before, write.after)
    assert stored.listed == 0
    assert [name for name, _ in changes.put] == [link_field((MASTER, 120))]
    assert changes.drop == ()


def test_the_links_written_are_those_a_whole_book_comparison_finds() -> None:
    before = _read(_many_links(5))
    after = _open(before, 200)
    write = decide_report(after, _fill(101), None, {MASTER: settings()}, CTX, NOW)
    assert write is not None
    after = _open(write.after, 201)
    tracked = encode_changes(before, after)
    whole = encode_changes(_untracked(before), _untracked(after))
    assert sorted(tracked.put) == sorted(whole.put)
    assert [name for name, _ in tracked.put] == [
        link_field((MASTER, 101)),
        link_field((MASTER, 200)),
        link_field((MASTER, 201)),
    ]
    assert tracked.drop == whole.drop == ()


def test_two_decisions_on_one_read_differ_at_the_links_either_of_them_put() -> None:
    loaded = _read(_many_links(3))
    one, other = _open(loaded, 300), _open(loaded, 301)
    changes = encode_changes(one, other)
    assert [name for name, _ in changes.put] == [link_field((MASTER, 301))]
    assert changes.drop == (link_field((MASTER, 300)),)


def test_a_record_as_committed_is_its_book_as_read() -> None:
    after = _open(_read(_many_links(2)), 400)
    assert after.links.put_since == ((MASTER, 400),)
    stored = after.with_version(after.version + 1)
    assert stored.links.read_as is stored.links.links
    assert stored.links.put_since == ()
    assert encode_changes(stored, _open(stored, 401)).put[0][0] == link_field((MASTER, 401))


_STEPS = st.lists(st.tuples(st.sampled_from(["open", "fill"]), st.integers(0, 7)), max_size=12)


@given(first=_STEPS, second=_STEPS)
def test_any_two_decision_chains_on_one_read_write_what_a_whole_book_comparison_writes(
    first: list[tuple[str, int]], second: list[tuple[str, int]]
) -> None:
    loaded = _read(_many_links(4))

    def run(steps: list[tuple[str, int]]) -> FollowerRecord:
        record = loaded
        for kind, n in steps:
            if kind == "open":
                record = _open(record, 500 + n)
                continue
            ticket = 100 + n if n < 4 else 500 + n  # a loaded link's open, or a new one's
            write = decide_report(record, _fill(ticket), None, {MASTER: settings()}, CTX, NOW)
            if write is not None:
                record = write.after
        return record

    for before, after in ((loaded, run(first)), (run(first), run(second))):
        tracked = encode_changes(before, after)
        whole = encode_changes(_untracked(before), _untracked(after))
        assert sorted(tracked.put) == sorted(whole.put)
        assert sorted(tracked.drop) == sorted(whole.drop)
