"""The outbox sweeper enqueues a follower's due entries in decision order (embedded and real Redis).

An outbox is a hash: it keeps no order of its own. Each entry carries the
decision order (the record version its decision wrote, its index in the
decision), so entries a writer left behind (it died, or Redis restarted under
its flush) reach the follower's delivery log in the order they were decided,
whatever their envelopes or due times sort like.
"""

from __future__ import annotations

from dataclasses import replace

from tests.copier.worker.decisions import decide_opens
from tests.copier.worker.world import World


async def _sweep_after(world: World, due_ms: int) -> list[str]:
    """Let every entry due by `due_ms` be swept; the command ids the follower gets, in order."""
    world.clock.advance(due_ms - world.clock() + 1)
    await world.worker.pump.sweep()
    return [command["command_id"] for command in await world.commands("f1")]


async def test_a_decisions_orphaned_entries_are_enqueued_in_the_order_decided(
    world: World,
) -> None:
    await world.follower("f1")
    store = world.worker.follower_store
    write = await decide_opens(world, 100, 101, 102, 103)
    # decided so that the envelopes sort the other way round (as a hash may give them)
    decided = tuple(sorted(write.outbox, key=lambda item: item.body, reverse=True))
    assert await store.commit([replace(write, outbox=decided)], now_ms=world.clock()) == [True]
    # the writer never flushed: the sweeper takes over once the grace period is over
    sent = await _sweep_after(world, max(item.due_ms for item in decided))
    assert sent == [item.envelope_id for item in decided]


async def test_entries_of_successive_decisions_are_enqueued_in_the_order_decided(
    world: World,
) -> None:
    await world.follower("f1")
    store = world.worker.follower_store
    first = await decide_opens(world, 100)
    # the earlier decision's entry is due later (a retry's backoff) than the later one's
    (item,) = first.outbox
    later_due = replace(item, due_ms=item.due_ms + 50, immediate=False)
    assert await store.commit([replace(first, outbox=(later_due,))], now_ms=world.clock()) == [True]
    second = await decide_opens(world, 101)
    assert await store.commit([second], now_ms=world.clock()) == [True]
    assert (await store.load({"f1": None}))["f1"].record.version == second.before.version + 1
    sent = await _sweep_after(world, later_due.due_ms)
    assert sent == [later_due.envelope_id, second.outbox[0].envelope_id]


async def test_an_entry_stored_without_an_order_key_is_still_enqueued_first(
    world: World,
) -> None:
    await world.follower("f1")
    store = world.worker.follower_store
    old, new = await decide_opens(world, 100), await decide_opens(world, 101)
    assert await store.commit([new], now_ms=world.clock()) == [True]
    (legacy,) = old.outbox  # as a copier before the order key wrote it: "<due>|<envelope>"
    await world.client.hset(
        store.ckeys.outbox("f1"), legacy.envelope_id, b"%d|%s" % (legacy.due_ms, legacy.body)
    )
    sent = await _sweep_after(world, max(legacy.due_ms, new.outbox[0].due_ms))
    assert sent == [legacy.envelope_id, new.outbox[0].envelope_id]
