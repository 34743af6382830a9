"""Contract of `RedisIntentSink` for SyncSnapshots sent in parts: kept per account
until the set is complete, handed on once, superseded or expired when incomplete."""

from __future__ import annotations

import asyncio
import dataclasses

import orjson
import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from gateway.errors import FencingError
from gateway.store.intent_sink import RedisIntentSink
from gateway.store.keys import RedisKeys
from gateway.store.records import SnapshotPartResult
from tests.gateway.store.world import Node

ACCOUNT = "demo-1"


def part(snapshot_id: str, n: int, parts: int) -> bytes:
    payload = {"positions": [], "orders": [], "snapshot_id": snapshot_id, "part": n, "parts": parts}
    return orjson.dumps(
        {"type": "SyncSnapshot", "id": f"{snapshot_id}-{n}", "ts": 1, "payload": payload}
    )


async def keep(
    sink: RedisIntentSink, snapshot_id: str, n: int, parts: int, sid: str = "a1"
) -> SnapshotPartResult:
    return await sink.buffer_snapshot_part(
        ACCOUNT,
        sid,
        snapshot_id=snapshot_id,
        part=n,
        parts=parts,
        body=part(snapshot_id, n, parts),
        now_ms=5_000,
    )


async def events(redis_client: aioredis.Redis, keys: RedisKeys) -> list[bytes]:
    stream = keys.ea_inbox_stream(keys.partition_of(ACCOUNT))  # the account's partition's
    return [fields[b"body"] for _, fields in await redis_client.xrange(stream)]


@pytest.mark.parametrize("order", [(1, 2, 3), (3, 1, 2), (2, 3, 1)])
async def test_a_set_is_complete_when_every_part_arrived_in_any_order(
    node: Node, order: tuple[int, ...]
) -> None:
    await node.open("a1")
    results = [await keep(node.sink, "s1", n, 3) for n in order]

    assert [r.status for r in results] == ["partial", "partial", "complete"]
    assert [r.have for r in results] == [1, 2, 3]
    assert results[-1].bodies == tuple(part("s1", n, 3) for n in (1, 2, 3))


async def test_a_duplicate_part_is_kept_once(node: Node) -> None:
    await node.open("a1")
    await keep(node.sink, "s1", 1, 2)
    again = await keep(node.sink, "s1", 1, 2)
    assert (again.status, again.have) == ("partial", 1)
    done = await keep(node.sink, "s1", 2, 2)
    assert done.status == "complete" and len(done.bodies) == 2


async def test_the_published_snapshot_is_appended_once_and_its_parts_forgotten(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("a1")
    await keep(node.sink, "s1", 1, 2)
    await keep(node.sink, "s1", 2, 2)

    stream_id = await node.sink.publish_snapshot(ACCOUNT, "a1", snapshot_id="s1", body=b"whole")
    again = await node.sink.publish_snapshot(ACCOUNT, "a1", snapshot_id="s1", body=b"whole")

    assert stream_id is not None and again is None
    assert await events(redis_client, keys) == [b"whole"]
    assert await redis_client.hkeys(keys.snapshot_parts(ACCOUNT)) == [b"done"]


async def test_parts_of_a_snapshot_already_handed_on_are_duplicates(node: Node) -> None:
    await node.open("a1")
    await keep(node.sink, "s1", 1, 1)
    await node.sink.publish_snapshot(ACCOUNT, "a1", snapshot_id="s1", body=b"whole")

    assert (await keep(node.sink, "s1", 1, 1)).status == "duplicate"


async def test_a_part_of_a_newer_snapshot_supersedes_an_incomplete_one(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("a1")
    await keep(node.sink, "old", 1, 3)
    await keep(node.sink, "old", 2, 3)

    first = await keep(node.sink, "new", 1, 2)
    done = await keep(node.sink, "new", 2, 2)

    assert (first.status, first.have, first.superseded) == ("partial", 1, "old")
    assert done.status == "complete" and done.bodies == (part("new", 1, 2), part("new", 2, 2))
    stale = await node.sink.publish_snapshot(ACCOUNT, "a1", snapshot_id="old", body=b"x")
    assert stale is None and await events(redis_client, keys) == []


async def test_an_incomplete_set_expires_after_its_last_part(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    sink = RedisIntentSink(redis_client, keys, snapshot_parts_ttl_ms=150)
    node = dataclasses.replace(Node.over(redis_client, keys), sink=sink)
    await node.open("a1")
    await keep(node.sink, "s1", 1, 2)
    assert 0 < await redis_client.pttl(keys.snapshot_parts(ACCOUNT)) <= 150

    await asyncio.sleep(0.4)

    assert not await redis_client.exists(keys.snapshot_parts(ACCOUNT))
    late = await keep(node.sink, "s1", 2, 2)
    assert (late.status, late.have) == ("partial", 1)  # part 1 is gone with the set


@pytest.mark.parametrize("situation", ["preempted", "closed", "pending"])
async def test_only_the_active_session_may_keep_or_publish_parts(
    node: Node, situation: str
) -> None:
    await node.open("a1")
    await keep(node.sink, "s1", 1, 2)
    if situation == "preempted":
        await node.open("a2")
    elif situation == "closed":
        await node.sessions.close_session("a1", reason="client_shutdown", now_ms=2_000)
    sid = "p1" if situation == "pending" else "a1"
    if situation == "pending":
        await node.open("p1", authenticated=False)

    with pytest.raises(FencingError):
        await keep(node.sink, "s1", 2, 2, sid=sid)
    with pytest.raises(FencingError):
        await node.sink.publish_snapshot(ACCOUNT, sid, snapshot_id="s1", body=b"x")


async def test_the_parts_key_is_in_the_slot_of_the_account_and_of_its_stream_on_a_cluster(
    keys: RedisKeys,
) -> None:
    parts = key_slot(keys.snapshot_parts(ACCOUNT).encode())
    assert parts == key_slot(keys.account(ACCOUNT).encode())
    if keys.cluster:  # publish_snapshot appends to the partition's stream in the same script
        assert parts == key_slot(keys.ea_inbox_stream(keys.partition_of(ACCOUNT)).encode())
    else:
        assert keys.snapshot_parts(ACCOUNT) == f"{keys.prefix}:{{{ACCOUNT}}}:snapshot-parts"
