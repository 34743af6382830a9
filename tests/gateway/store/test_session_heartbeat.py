"""Contract of `SessionStore.heartbeat`: touch + StatusHeartbeat payload + ack in one
atomic call, for the account's active session only."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from gateway.errors import FencingError
from gateway.store.keys import RedisKeys
from tests.gateway.store.world import Node, envelope

STATUS = b'{"ack_seq":0,"equity":1000.5}'


async def beat(node: Node, session_id: str, *, now_ms: int = 4_000, ack_seq: int = 0) -> int:
    return await node.sessions.heartbeat(
        "demo-1",
        session_id,
        now_ms=now_ms,
        heartbeat_timeout_ms=3_000,
        status=STATUS,
        ack_seq=ack_seq,
    )


async def test_heartbeat_pushes_the_deadline_and_records_it(node: Node) -> None:
    await node.open("a1", now_ms=1_000)

    await beat(node, "a1", now_ms=4_000)

    assert await node.sessions.next_deadline_ms() == 7_000
    record = await node.sessions.get_session("a1")
    assert record is not None and record.last_heartbeat_ms == 4_000


async def test_heartbeat_keeps_the_status_payload_like_record_ea_state(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("a1")

    await beat(node, "a1", now_ms=4_000)

    state = await redis_client.hgetall(keys.ea_state("demo-1"))
    assert state == {b"status": STATUS, b"status_ms": b"4000"}


async def test_heartbeat_acknowledges_clamped_to_what_was_read(node: Node) -> None:
    await node.open("a1")
    for n in range(3):
        await node.log.enqueue("demo-1", f"m{n}", envelope(f"m{n}"))
    [first, *_] = await node.log.read("demo-1", "a1", after_seq=0, limit=1)

    acked = await beat(node, "a1", ack_seq=10**9)

    assert acked == first.seq
    assert [e.seq for e in await node.log.read("demo-1", "a1", after_seq=0)] == [
        first.seq + 1,
        first.seq + 2,
    ]


async def test_heartbeat_of_a_session_that_is_not_active_is_fenced_and_changes_nothing(
    node: Node, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    await node.open("a1", now_ms=1_000)
    await node.open("a2", now_ms=1_000)  # preempts a1
    await node.open("p1", authenticated=False, now_ms=1_000)

    with pytest.raises(FencingError) as info:
        await beat(node, "a1")
    assert (info.value.session_id, info.value.reason) == ("a1", "preempted")
    with pytest.raises(FencingError) as pending:
        await beat(node, "p1")
    assert pending.value.reason is None

    assert await redis_client.hgetall(keys.ea_state("demo-1")) == {}
    record = await node.sessions.get_session("p1")
    assert record is not None and record.last_heartbeat_ms == 1_000
