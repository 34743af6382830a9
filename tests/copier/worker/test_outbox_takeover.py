"""A writer enqueues the older pending outbox entries of an account ahead of its own
(embedded store, real Redis and Redis Cluster).

A writer that dies between its commit and its flush leaves its entries in the
outbox until the sweeper takes them, ``OUTBOX_GRACE_MS`` later. A later decision
of the same follower must not pass them: its writer first claims the account's
older entries (in decision order) and enqueues them ahead of its own. Every flush
claims what it enqueues in one atomic step, so an entry taken over is not
enqueued again by its own (slow, not dead) writer nor by the sweeper.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from copier.worker.decide import FollowerWrite
from tests.copier.worker.decisions import decide_opens
from tests.copier.worker.world import World


async def _decided(world: World, *tickets: int) -> FollowerWrite:
    """One committed decision copying master opens of `tickets` (nothing flushed yet)."""
    write = await decide_opens(world, *tickets)
    assert await world.worker.follower_store.commit([write], now_ms=world.clock()) == [True]
    return write


def _ids(write: FollowerWrite) -> list[str]:
    return [item.envelope_id for item in write.outbox]


async def _sent(world: World) -> list[str]:
    return [command["command_id"] for command in await world.commands("f1")]


async def test_a_writer_enqueues_the_entries_a_dead_writer_left_ahead_of_its_own(
    world: World,
) -> None:
    await world.follower("f1")
    store = world.worker.follower_store
    orphaned = await _decided(world, 100, 101)  # its writer died before its flush
    world.clock.advance(10)
    later = await _decided(world, 102)
    await world.worker.pump.flush(("f1", item) for item in later.outbox)
    assert await _sent(world) == _ids(orphaned) + _ids(later)
    assert await world.client.hlen(store.ckeys.outbox("f1")) == 0


async def test_an_entry_taken_over_is_not_enqueued_again_by_its_slow_writer_nor_the_sweeper(
    world: World,
) -> None:
    await world.follower("f1")
    store = world.worker.follower_store
    slow = await _decided(world, 100)  # its writer is alive but not flushed yet
    later = await _decided(world, 101)
    taken = await store.outbox.flush([("f1", item) for item in later.outbox], now_ms=world.clock())
    assert taken["f1"].queued == (*_ids(slow), *_ids(later))
    again = await store.outbox.flush([("f1", item) for item in slow.outbox], now_ms=world.clock())
    assert again == {}
    world.clock.advance(max(item.due_ms for item in slow.outbox) - world.clock() + 1)
    assert await world.worker.pump.sweep() == 0
    assert await _sent(world) == _ids(slow) + _ids(later)


async def test_a_flush_claims_nothing_a_concurrent_flush_has_claimed(world: World) -> None:
    await world.follower("f1")
    store = world.worker.follower_store
    first = await _decided(world, 100)
    # a sweeper read the entries as due, then their writer flushed them first
    world.clock.advance(max(item.due_ms for item in first.outbox) - world.clock() + 1)
    due = await store.outbox.due_outbox(world.clock())
    assert [item.envelope_id for _, item in due] == _ids(first)
    mine = await store.outbox.claim_outbox(
        [("f1", item) for item in first.outbox], now_ms=world.clock()
    )
    assert [item.envelope_id for _, item in mine] == _ids(first)
    assert await store.outbox.claim_outbox(due, now_ms=world.clock()) == []


async def test_an_older_retry_that_is_not_due_yet_is_left_to_its_backoff(world: World) -> None:
    await world.follower("f1")
    store = world.worker.follower_store
    first = await decide_opens(world, 100)
    (item,) = first.outbox
    retry = replace(item, due_ms=world.clock() + 3_000, immediate=False)
    assert await store.commit([replace(first, outbox=(retry,))], now_ms=world.clock()) == [True]
    later = await _decided(world, 101)
    await world.worker.pump.flush(("f1", item) for item in later.outbox)
    assert await _sent(world) == _ids(later)
    world.clock.advance(3_001)
    await world.worker.pump.sweep()
    assert await _sent(world) == [retry.envelope_id]  # (the session acked the others)


@pytest.mark.parametrize("claimed", [False, True])
async def test_a_withdrawal_drops_a_scheduled_entry_only_while_no_flush_has_claimed_it(
    world: World, claimed: bool
) -> None:
    await world.follower("f1")
    store = world.worker.follower_store
    first = await decide_opens(world, 100)
    (item,) = first.outbox
    scheduled = replace(item, due_ms=world.clock() + 1_000, immediate=False)
    assert await store.commit([replace(first, outbox=(scheduled,))], now_ms=world.clock()) == [True]
    if claimed:  # due, and a flush is handing it to the delivery log right now
        world.clock.advance(1_001)
        assert await store.outbox.claim_outbox([("f1", scheduled)], now_ms=world.clock()) == [
            ("f1", scheduled)
        ]
    later = await decide_opens(world, 101)
    withdrawing = replace(later, withdrawn=(scheduled.envelope_id,))
    assert await store.commit([withdrawing], now_ms=world.clock()) == [True]
    kept = await world.client.hexists(store.ckeys.outbox("f1"), scheduled.envelope_id)
    assert bool(kept) is claimed
