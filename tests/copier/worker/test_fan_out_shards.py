"""A big master's fan-out in follower shards that any worker plans (embedded store, real
Redis and a real Redis Cluster).

Order per follower and exactly one command per (intent, follower) hold as on the
direct path: a follower always falls in the same shard, a master's intents are
split in order, one shard's entries are planned in order under its lock, and a
master goes back to the direct path only once all its shard entries are finished.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from copier.worker import CopierWorker
from copier.worker.shards import FAN_OUT_SHARDS, FanOutShards, partition_of, shard_of
from copier.worker.stream_entry import StreamEntry
from gateway.store.keys import RedisKeys
from tests.copier.worker.world import MASTER, World

FOLLOWERS = [f"f{n:02d}" for n in range(12)]


@pytest.fixture
async def world(redis_client: aioredis.Redis, keys: RedisKeys) -> World:
    """One master; masters with 4 followers or more are fanned out in shards."""
    return await World.create(redis_client, keys, fan_out_shard_followers=4)


async def _followers(world: World, followers: list[str] = FOLLOWERS) -> None:
    for follower in followers:
        await world.follower(follower)


async def _opened_tickets(world: World, follower: str) -> list[int]:
    """Master tickets of the commands delivered to `follower` since the last call."""
    return [c["master_ticket"] for c in await world.commands(follower)]


async def test_a_big_master_is_split_and_each_follower_gets_each_intent_once_in_order(
    world: World,
) -> None:
    await _followers(world)
    for ticket in (100, 101, 102):
        await world.intent("open", ticket)
    await world.run()
    assert world.worker.pump.counters.splits >= 1
    ckeys = world.worker.follower_store.ckeys
    assert await world.client.xlen(ckeys.fan_out_stream(ckeys.partition_of(MASTER))) > 0
    for follower in FOLLOWERS:
        assert await _opened_tickets(world, follower) == [100, 101, 102]


async def test_two_workers_share_one_masters_shards(world: World) -> None:
    await _followers(world)
    for ticket in (100, 101):
        await world.intent("open", ticket)
    second = world.another_worker("w2", fan_out_shard_followers=4)
    await world.worker.process_batch(1)  # reads the intents and splits them
    while await second.process_batch(1) + await world.worker.process_batch(1):
        pass
    await world.run()
    assert second.pump.counters.decisions > 0 and world.worker.pump.counters.decisions > 0
    for follower in FOLLOWERS:
        assert await _opened_tickets(world, follower) == [100, 101]


async def test_a_master_below_the_threshold_goes_through_shards_while_earlier_ones_are_unfinished(
    world: World,
) -> None:
    await _followers(world, FOLLOWERS[:5])
    await world.intent("open", 100)
    assert await world.worker.process_batch(1) == 1  # split; no shard planned yet
    for follower in FOLLOWERS[2:5]:
        await world.subscriptions.delete(follower, MASTER, actor="test", now_ms=world.clock())
    shards = world.worker.shards
    assert await shards.unfinished(MASTER)
    await world.intent("open", 101)  # 2 followers now: below the threshold
    await world.run()
    assert not await shards.unfinished(MASTER)
    for follower in FOLLOWERS[:2]:
        assert await _opened_tickets(world, follower) == [100, 101]
    await world.intent("open", 102)  # every shard finished: the direct path again
    splits = world.worker.pump.counters.splits
    await world.run()
    assert world.worker.pump.counters.splits == splits
    for follower in FOLLOWERS[:2]:
        assert await _opened_tickets(world, follower) == [102]


async def test_a_split_repeated_after_a_crash_decides_nothing_twice(world: World) -> None:
    await _followers(world)
    await world.intent("open", 100)
    stream = world.keys.intent_stream(world.keys.partition_of(MASTER))
    (entry_id, fields), *_ = await world.client.xrange(stream)
    entry = StreamEntry(stream, entry_id.decode(), fields)
    await world.worker.pump.on_intent_entries({MASTER: [entry]})  # split, then "died"
    await world.run()  # the entry is processed again: split a second time
    assert world.worker.pump.counters.splits == 2 * len({shard_of(f) for f in FOLLOWERS})
    for follower in FOLLOWERS:
        assert await _opened_tickets(world, follower) == [100]


@pytest.mark.parametrize(
    ("min_followers", "followers", "unfinished", "split"),
    [
        (500, 499, False, False),
        (500, 500, False, True),
        (500, 1, True, True),
        (0, 10_000, False, False),
        (0, 1, True, True),
    ],
)
def test_a_master_is_split_from_the_threshold_or_while_its_shards_are_unfinished(
    world: World, min_followers: int, followers: int, unfinished: bool, split: bool
) -> None:
    shards = FanOutShards(
        world.client, world.worker.follower_store.ckeys, min_followers=min_followers
    )
    assert shards.wanted(followers, unfinished) is split


def test_a_follower_always_falls_in_the_same_shard() -> None:
    assert {shard_of("f1") for _ in range(3)} == {shard_of("f1")}
    assert {shard_of(f"f{n}") for n in range(200)} == set(range(FAN_OUT_SHARDS))
    assert partition_of("m-1:x", 3) == "m-1:x#3"


async def test_a_busy_shard_is_tried_again_later_while_the_other_shards_are_planned(
    world: World,
) -> None:
    await _followers(world)
    await world.intent("open", 100)
    await world.worker.process_batch(1)  # split
    ckeys = world.worker.follower_store.ckeys
    (first, *_rest) = await world.client.xrange(ckeys.fan_out_stream(ckeys.partition_of(MASTER)))
    busy = first[1][b"account_id"].decode()
    await world.client.set(ckeys.partition_lock(busy), "another worker", px=60_000)
    second: CopierWorker = world.another_worker("w2", fan_out_shard_followers=4)
    for _ in range(2 * FAN_OUT_SHARDS):  # never waits for the busy lock
        await second.process_batch(1)
    for follower in FOLLOWERS:
        waiting = partition_of(MASTER, shard_of(follower)) == busy
        assert await _opened_tickets(world, follower) == ([] if waiting else [100])
    await world.client.delete(ckeys.partition_lock(busy))
    for _ in range(3):
        await second.process_batch(1)
    for follower in FOLLOWERS:
        waiting = partition_of(MASTER, shard_of(follower)) == busy
        assert await _opened_tickets(world, follower) == ([100] if waiting else [])


async def test_a_master_snapshot_while_shards_are_unfinished_is_split_behind_them(
    world: World,
) -> None:
    await _followers(world)
    await world.intent("open", 100)
    await world.worker.process_batch(1)  # split; the master book knows ticket 100
    await world.snapshot(MASTER, positions=[])  # ... which the master closed meanwhile
    splits = world.worker.pump.counters.splits
    await world.run()
    assert world.worker.pump.counters.splits > splits  # the synthetic close went to shards
    for n, follower in enumerate(FOLLOWERS):
        (opened,) = await world.commands(follower)
        await world.report(follower, opened["command_id"], "filled", ticket=500 + n, volume=1.0)
    await world.run()
    for n, follower in enumerate(FOLLOWERS):
        (closed,) = await world.commands(follower)
        assert (closed["action"], closed["ticket"]) == ("close", 500 + n)


async def test_shard_entries_of_a_worker_that_died_are_claimed_and_planned_once(
    world: World,
) -> None:
    await _followers(world)
    await world.intent("open", 100)
    dead = world.another_worker("dead", fan_out_shard_followers=4)
    await dead.process_batch(1)  # split
    while await dead.streams.read(1):  # read every shard entry, then "died"
        pass
    assert await world.worker.process_batch(1) == 0  # nothing new for anyone
    await asyncio.sleep(0.08)  # longer than claim_idle_ms
    assert await world.worker.recover() > 0
    await world.run()
    for follower in FOLLOWERS:
        assert await _opened_tickets(world, follower) == [100]
