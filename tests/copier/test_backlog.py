"""The copier backlog reader: unread and pending entries, and the oldest one's age (embedded
store, real Redis and a real Redis Cluster, whose partitions' streams it sums)."""

from __future__ import annotations

import redis.asyncio as aioredis

from copier.backlog import read_backlog, trim_finished
from copier.keys import CONSUMER_GROUP
from gateway.store.keys import RedisKeys
from tests.copier.worker.world import World
from tests.gateway.store.conftest import keys, redis_client

__all__ = ["keys", "redis_client"]  # the store suite's fixtures (embedded, redis, cluster)


async def test_backlog_is_empty_when_the_streams_do_not_exist_yet(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    backlog = await read_backlog(redis_client, keys, now_ms=1_000)
    assert backlog.waiting == 0
    assert backlog.as_dict()["intents"] == {
        "length": 0,
        "unread": 0,
        "pending": 0,
        "oldest_ms": None,
        "waiting": 0,
    }


async def test_backlog_counts_unread_then_pending_entries_until_the_worker_finishes_them(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    world = await World.create(redis_client, keys)
    await world.follower("f1")
    for ticket in (100, 101, 102):
        await world.intent("open", ticket)
    now = world.clock() + 500
    unread = await read_backlog(redis_client, keys, now_ms=now)
    assert (unread.intents.unread, unread.intents.pending, unread.waiting) == (3, 0, 3)
    assert unread.intents.oldest_ms is not None and unread.intents.oldest_ms >= 500
    read = await world.worker.streams.read(1)  # handed out, not processed
    assert len(read) == 3
    pending = await read_backlog(redis_client, keys, now_ms=now)
    assert (pending.intents.unread, pending.intents.pending) == (0, 3)
    assert pending.intents.oldest_ms == unread.intents.oldest_ms
    for entry in read:
        await world.worker.streams.process(entry)
    await world.run()
    done = await read_backlog(redis_client, keys, now_ms=now)
    assert done.waiting == 0 and done.intents.oldest_ms is None
    assert done.intents.length == 3


async def test_backlog_counts_a_big_masters_shard_entries_until_they_are_planned(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    world = await World.create(redis_client, keys, fan_out_shard_followers=2)
    for follower in ("f1", "f2", "f3"):
        await world.follower(follower)
    await world.intent("open", 100)
    await world.worker.process_batch(1)  # the intent is split into shard entries
    split = await read_backlog(redis_client, keys, now_ms=world.clock())
    assert split.intents.waiting == 0 and split.fan_out.waiting > 0
    assert split.waiting == split.fan_out.waiting
    await world.run()
    done = await read_backlog(redis_client, keys, now_ms=world.clock())
    assert done.waiting == 0 and done.as_dict()["fan_out"]["length"] > 0


async def filled(redis_client: aioredis.Redis, stream: str, count: int) -> list[bytes]:
    """`count` entries appended to `stream`; their ids in order."""
    return [await redis_client.xadd(stream, {"n": str(n)}) for n in range(count)]


async def test_trimming_keeps_every_unread_and_pending_entry_and_drops_finished_ones(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    stream = keys.intent_stream(0)
    ids = await filled(redis_client, stream, 400)
    await redis_client.xgroup_create(stream, CONSUMER_GROUP, id="0")
    await redis_client.xreadgroup(CONSUMER_GROUP, "c1", {stream: ">"}, count=300)
    await redis_client.xack(stream, CONSUMER_GROUP, *ids[:250])  # 250-299 stay pending
    trimmed = await trim_finished(redis_client, stream)
    left = [entry_id for entry_id, _ in await redis_client.xrange(stream)]
    assert set(ids[250:]) <= set(left)  # 50 pending, 100 unread: all there
    assert trimmed == 400 - len(left) and len(left) < 400 - 99  # whole macro nodes went


async def test_trimming_without_pending_entries_keeps_the_unread_ones(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    stream = keys.ea_inbox_stream(0)
    ids = await filled(redis_client, stream, 300)
    await redis_client.xgroup_create(stream, CONSUMER_GROUP, id="0")
    await redis_client.xreadgroup(CONSUMER_GROUP, "c1", {stream: ">"}, count=150)
    await redis_client.xack(stream, CONSUMER_GROUP, *ids[:150])
    await trim_finished(redis_client, stream)
    left = [entry_id for entry_id, _ in await redis_client.xrange(stream)]
    assert set(ids[150:]) <= set(left) and len(left) < 300


async def test_trimming_a_stream_the_copier_never_read_drops_nothing(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    stream = keys.intent_stream(0)
    await filled(redis_client, stream, 250)
    assert await trim_finished(redis_client, stream) == 0  # no group yet
    await redis_client.xgroup_create(stream, CONSUMER_GROUP, id="0")
    assert await trim_finished(redis_client, stream) == 0  # nothing read
    assert await redis_client.xlen(stream) == 250
    assert await trim_finished(redis_client, keys.ea_inbox_stream(0)) == 0  # no stream
