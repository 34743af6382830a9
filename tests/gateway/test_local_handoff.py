"""The local handoff: entries just logged go to this process's connection without a read.

A connection takes an offer only when the offered seqs are exactly the next ones
it would write and it is idle; a claim in the store (active session only) comes
before any write. Everything else falls back to reading the log, so a seq is
never written twice nor skipped. The outbound side is the fake log of
`test_flush`; the claims are a fake store (and, once, the real one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.store.records import Handoff
from gateway.transport.flush import Outlet
from gateway.transport.handoff import LocalConnections, covers, takes
from tests.gateway.test_flush import Socket, World


class Claims:
    """A fake `HandoffClaims`: the active session of each account; records every call."""

    def __init__(self) -> None:
        self.active: dict[str, str] = {}
        self.calls: list[list[tuple[str, str, int]]] = []
        self.read_seq: dict[str, int] = {}

    async def mark_handed(self, marks: Sequence[tuple[str, str, int]]) -> list[bool]:
        self.calls.append(list(marks))
        out = []
        for account, session_id, last in marks:
            ok = self.active.get(account) == session_id
            if ok:
                self.read_seq[account] = max(self.read_seq.get(account, 0), last)
            out.append(ok)
        return out


class HandoffWorld(World):
    """The flush world plus this process's connections by account and a fake store."""

    def __init__(self) -> None:
        super().__init__()
        self.claims = Claims()
        self.local = LocalConnections(lambda: self.claims, self.batcher)
        self.handed: list[list[Handoff]] = []

    async def connected(self, account: str) -> tuple[Outlet, Socket]:
        """A ready connection whose backlog was written (idle, nothing stale)."""
        outlet, socket = self.outlet(account)
        self.claims.active[account] = outlet.proto.session_id
        self.local.add(outlet)
        await outlet.deliver(reported=True)
        return outlet, socket

    def logged(self, account: str, count: int) -> Handoff:
        """`count` entries appended to the account's log, as an offer."""
        seqs = [self.log.append(account, f"cmd-{n}") for n in range(count)]
        entries = {e.seq: e for e in self.log.entries[account]}
        return Handoff(account, tuple(entries[s] for s in seqs))

    def offer(self, *offers: Handoff, hold: object = ()) -> None:
        self.local.hand(hold, offers, self.handed.append)

    async def settle(self) -> None:
        await self.local.aclose()
        await super().settle()

    def reads(self) -> int:
        return len(self.log.calls)


@pytest.fixture
def world() -> HandoffWorld:
    return HandoffWorld()


async def test_handed_off_commands_arrive_once_and_in_order_without_a_log_read(
    world: HandoffWorld,
) -> None:
    outlet, socket = await world.connected("acc")
    reads = world.reads()

    first, second = world.logged("acc", 3), world.logged("acc", 2)
    world.offer(first)
    await world.settle()
    world.offer(second)
    await world.settle()

    assert socket.seqs == [1, 2, 3, 4, 5]
    assert world.reads() == reads
    assert world.handed == [[first], [second]]
    assert world.claims.read_seq == {"acc": 5}  # the ceiling of acknowledgements
    assert outlet.sent_upto == 5 and not outlet.busy


async def test_the_deliver_event_of_handed_entries_costs_no_read(world: HandoffWorld) -> None:
    outlet, socket = await world.connected("acc")
    world.offer(world.logged("acc", 2))
    reads = world.reads()

    assert covers(2, sent_upto=outlet.sent_upto, handing=outlet.handing)  # while claiming
    await world.settle()
    assert covers(2, sent_upto=outlet.sent_upto, handing=outlet.handing)  # once written
    assert socket.seqs == [1, 2] and world.reads() == reads


async def test_a_deliver_event_that_beats_the_handoff_costs_no_read(world: HandoffWorld) -> None:
    outlet, socket = await world.connected("acc")
    reads = world.reads()
    hold = world.local.expect(["acc"])  # the writer, just before its enqueue
    offer = world.logged("acc", 2)
    outlet.request(announced=2)  # the event, before the script's reply
    await world.settle()
    assert world.reads() == reads and socket.seqs == []

    world.offer(offer, hold=hold)
    await world.settle()

    assert socket.seqs == [1, 2] and world.reads() == reads and outlet.expecting == 0


async def test_a_refused_handoff_releases_the_read_its_event_announced(
    world: HandoffWorld,
) -> None:
    outlet, socket = await world.connected("acc")
    hold = world.local.expect(["acc"])
    world.log.append("acc", "from-another-writer")  # seq 1: the offer has a gap
    offer = world.logged("acc", 1)
    outlet.request(announced=2)
    await world.settle()
    assert socket.seqs == []

    world.offer(offer, hold=hold)
    await world.settle()

    assert socket.seqs == [1, 2] and world.handed == []


async def test_a_failed_enqueue_releases_the_held_reads(world: HandoffWorld) -> None:
    outlet, socket = await world.connected("acc")
    hold = world.local.expect(["acc"])
    world.log.append("acc", "logged-by-another-writer")
    outlet.request(announced=1)

    world.offer(hold=hold)  # nothing to offer: the enqueue raised
    await world.settle()

    assert socket.seqs == [1] and outlet.expecting == 0


async def test_a_gap_falls_back_to_the_log(world: HandoffWorld) -> None:
    outlet, socket = await world.connected("acc")
    world.log.append("acc", "from-another-writer")  # seq 1, not offered here
    offer = world.logged("acc", 2)  # seqs 2 and 3

    world.offer(offer)
    await world.settle()
    assert socket.seqs == [] and world.claims.calls == [] and world.handed == []

    outlet.request(wake=True)  # the deliver event: seq 3 is not covered
    await world.settle()
    assert socket.seqs == [1, 2, 3]


async def test_an_offer_during_a_read_is_refused_and_the_read_writes_it_once(
    world: HandoffWorld,
) -> None:
    outlet, socket = await world.connected("acc")
    world.log.gate = asyncio.Event()
    outlet.request(wake=True)  # a read in progress (held at the store)
    await asyncio.sleep(0)
    offer = world.logged("acc", 2)

    world.offer(offer)
    world.log.gate.set()
    await world.settle()

    assert socket.seqs == [1, 2]
    assert world.handed == [] and world.claims.calls == []


async def test_a_read_requested_during_a_claim_runs_after_it_and_repeats_nothing(
    world: HandoffWorld,
) -> None:
    outlet, socket = await world.connected("acc")
    world.offer(world.logged("acc", 2))
    world.log.append("acc", "later")  # seq 3, announced while seqs 1-2 are claimed
    outlet.request(wake=True)

    await world.settle()

    assert socket.seqs == [1, 2, 3]


async def test_a_connection_preempted_between_enqueue_and_handoff_gets_nothing_from_it(
    world: HandoffWorld,
) -> None:
    outlet, socket = await world.connected("acc")
    world.claims.active["acc"] = "s-elsewhere"  # promoted on another node meanwhile
    reads = world.reads()

    world.log.gate = asyncio.Event()  # hold the fallback read to look at the handoff alone

    world.offer(world.logged("acc", 2))
    await world.local.aclose()
    await asyncio.sleep(0)

    assert socket.seqs == [] and world.handed == []
    assert "acc" not in world.claims.read_seq
    assert world.reads() == reads + 1  # the log decides instead (the store fences it)
    assert outlet.handing == 0
    world.log.gate.set()


async def test_a_closed_or_unready_connection_takes_nothing(world: HandoffWorld) -> None:
    closed, closed_socket = await world.connected("a")
    closed.closed = True
    unready, unready_socket = world.outlet("b")
    world.local.add(unready)

    world.offer(world.logged("a", 1), world.logged("b", 1))
    await world.settle()

    assert closed_socket.seqs == [] and unready_socket.seqs == []
    assert world.claims.calls == []


async def test_an_account_without_a_connection_here_is_left_to_the_event_bus(
    world: HandoffWorld,
) -> None:
    outlet, socket = await world.connected("acc")
    world.local.discard(outlet)

    world.offer(world.logged("acc", 1), world.logged("remote", 1))
    await world.settle()

    assert socket.seqs == [] and world.claims.calls == [] and world.local.offered == 2


async def test_a_failed_claim_falls_back_to_the_log(world: HandoffWorld) -> None:
    _, socket = await world.connected("acc")

    async def down(marks: Sequence[tuple[str, str, int]]) -> list[bool]:
        raise ConnectionError("redis is down")

    world.claims.mark_handed = down  # type: ignore[method-assign]
    world.offer(world.logged("acc", 1))
    await world.settle()

    assert socket.seqs == [1] and world.handed == []


async def test_a_cancelled_claim_releases_the_connection(world: HandoffWorld) -> None:
    outlet, _ = await world.connected("acc")
    stuck = asyncio.Event()

    async def hangs(marks: Sequence[tuple[str, str, int]]) -> list[bool]:
        await stuck.wait()
        return [True]

    world.claims.mark_handed = hangs  # type: ignore[method-assign]
    world.offer(world.logged("acc", 1))
    await asyncio.sleep(0)
    assert outlet.busy
    for task in list(world.local._claims):
        task.cancel()
    await asyncio.sleep(0)

    assert not outlet.busy and outlet.handing == 0


@pytest.mark.parametrize(
    ("idle", "active", "sent_upto", "seqs", "taken"),
    [
        (True, True, 0, [1, 2, 3], True),
        (True, True, 4, [5], True),
        (True, True, 4, [6], False),  # a gap
        (True, True, 4, [4, 5], False),  # already written
        (True, True, 4, [5, 7], False),  # not consecutive
        (True, True, 4, [], False),
        (False, True, 0, [1], False),  # a flush is due or running
        (True, False, 0, [1], False),  # not ready, or not authenticated
    ],
)
def test_a_connection_takes_only_its_next_consecutive_seqs_when_idle_and_active(
    idle: bool, active: bool, sent_upto: int, seqs: list[int], taken: bool
) -> None:
    assert takes(idle=idle, active=active, sent_upto=sent_upto, seqs=seqs) is taken


@given(st.integers(0, 1000), st.lists(st.integers(1, 1100), max_size=6))
def test_what_a_connection_takes_is_exactly_the_seqs_after_sent_upto(
    sent_upto: int, seqs: list[int]
) -> None:
    if takes(idle=True, active=True, sent_upto=sent_upto, seqs=seqs):
        assert seqs == list(range(sent_upto + 1, sent_upto + 1 + len(seqs)))


@pytest.mark.parametrize(
    ("event_seq", "sent_upto", "handing", "covered"),
    [
        (5, 5, 0, True),
        (5, 4, 5, True),
        (6, 5, 0, False),
        (None, 9, 0, False),  # an event without a seq (enqueue, promote, resync)
        (True, 9, 0, False),
        ("5", 9, 0, False),
    ],
)
def test_a_deliver_event_needs_no_read_only_when_its_seq_is_written_or_being_claimed(
    event_seq: object, sent_upto: int, handing: int, covered: bool
) -> None:
    assert covers(event_seq, sent_upto=sent_upto, handing=handing) is covered
